#include "util/common.h"
#include "util/schema.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/jsonx.h"
#include "util/suggest.h"

/*
 * Layout of this file:
 *   1. small helpers (buffers, names, numbers, rendering values)
 *   2. regular expressions: ECMA-262 -> POSIX ERE translation and a cache
 *   3. schema_check: the keyword table and the schema walker
 *   4. validation: error lists, one function per group of keywords
 *   5. the public functions
 * docs/internals/schema.md explains the design.
 */

#define MAX_PATTERN_COST 10000.0 /* rough size of a compiled regex, see re_translate */
#define MAX_REPEAT 1000          /* largest {n,m} bound accepted in a pattern */
#define MAX_REF_NAME 256
#define MAX_LISTED 10            /* enum values / alternatives shown in a message */
#define MAX_ALLOWED 20           /* property names shown after "allowed:" */
#define SHOWN_CHARS 40           /* code points of a string value shown in a message */
#define MAX_NESTED_LINE 300      /* bytes of an alternative's problem quoted by anyOf/oneOf */

/* ------------------------------------------------------------------ */
/* 1. helpers                                                          */

/* Truncate b back to len (an earlier length). */
static void buf_cut(buf *b, size_t len)
{
    if (b->data && len <= b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

/* Append s (n bytes) with control characters, quotes and backslashes
 * escaped JSON-style, so that a message stays on one line. */
static int put_text(buf *b, const char *s, size_t n, bool quoted)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int rc;
        if (quoted && (ch == '"' || ch == '\\'))
            rc = buf_printf(b, "\\%c", ch);
        else if (ch == '\n')
            rc = buf_puts(b, "\\n");
        else if (ch == '\t')
            rc = buf_puts(b, "\\t");
        else if (ch < 0x20 || ch == 0x7f)
            rc = buf_printf(b, "\\u%04x", ch);
        else
            rc = buf_putc(b, (char)ch);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int put_escaped(buf *b, const char *s, size_t n) { return put_text(b, s, n, true); }

/* Length of a UTF-8 string in code points (continuation bytes not counted). */
static size_t utf8_len(const char *s, size_t n)
{
    size_t cp = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cp++;
    return cp;
}

/* Byte offset just past the first `cps` code points of s. */
static size_t utf8_prefix(const char *s, size_t n, size_t cps)
{
    size_t i = 0, seen = 0;
    while (i < n) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (seen == cps)
                break;
            seen++;
        }
        i++;
    }
    return i;
}

/* Does a property name need the ["..."] form in a path? */
static bool name_needs_quotes(const char *k)
{
    if (!*k)
        return true;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p <= ' ' || *p == '.' || *p == '[' || *p == ']' || *p == '\'' || *p == '"' || *p == '\\' ||
            *p == 0x7f)
            return true;
    return false;
}

static bool is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

/* -1, 0, 1 as the integer i is below, equal to, above the real d. Exact. */
static int cmp_int_real(json_int_t i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    double f = floor(d);
    json_int_t fi = (json_int_t)f;
    if (i < fi)
        return -1;
    if (i > fi)
        return 1;
    return d > f ? -1 : 0;
}

/* Compare two JSON numbers by value: integers exactly, reals as double. */
static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_integer(a))
        return cmp_int_real(json_integer_value(a), json_real_value(b));
    if (json_is_integer(b))
        return -cmp_int_real(json_integer_value(b), json_real_value(a));
    double x = json_real_value(a), y = json_real_value(b);
    return x < y ? -1 : x > y;
}

/* JSON Schema equality: numbers by value (1 == 1.0), objects unordered. */
static bool json_same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!json_same(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            const json_t *w = json_object_get(b, k);
            if (!w || !json_same(v, w))
                return false;
        }
        return true;
    }
    default:
        return true; /* true, false, null */
    }
}

/* Shortest %g that reads back as the same double. */
static int put_real(buf *b, double d)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", d);
    if (strtod(tmp, NULL) != d)
        snprintf(tmp, sizeof tmp, "%.17g", d);
    return buf_puts(b, tmp);
}

static int put_number(buf *b, const json_t *n)
{
    if (json_is_integer(n))
        return buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(n));
    return put_real(b, json_real_value(n));
}

/* A value as shown after "got": scalars literally (long strings cut),
 * containers by size. */
static int put_value(buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return buf_puts(b, "null");
    case JSON_TRUE:
        return buf_puts(b, "true");
    case JSON_FALSE:
        return buf_puts(b, "false");
    case JSON_INTEGER:
    case JSON_REAL:
        return put_number(b, v);
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), cps = utf8_len(s, n);
        size_t shown = cps > SHOWN_CHARS ? utf8_prefix(s, n, SHOWN_CHARS) : n;
        if (buf_putc(b, '"') < 0 || put_escaped(b, s, shown) < 0)
            return -ENOMEM;
        if (cps > SHOWN_CHARS)
            return buf_printf(b, "...\" (%zu characters)", cps);
        return buf_putc(b, '"');
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0)
            return buf_puts(b, "an empty array");
        return buf_printf(b, "an array of %zu item%s", n, n == 1 ? "" : "s");
    }
    case JSON_OBJECT:
        return buf_puts(b, json_object_size(v) ? "an object" : "an empty object");
    }
    return 0;
}

static char *value_str(const json_t *v)
{
    buf b = BUF_INIT;
    if (put_value(&b, v) < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b);
}

/* Non-negative integer keyword value (minLength etc.), clamped to UINT64_MAX. */
static uint64_t count_of(const json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        return i < 0 ? 0 : (uint64_t)i;
    }
    double d = json_real_value(v);
    if (!(d > 0))
        return 0;
    return d >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)d;
}

/* ------------------------------------------------------------------ */
/* 2. regular expressions                                              */

/*
 * JSON Schema patterns are ECMA-262; venom matches them with POSIX extended
 * regular expressions (regcomp, in the C.UTF-8 locale so that "." and
 * brackets see characters, not bytes). re_translate rewrites what ECMA
 * spells differently: \d \D, \n \t \r \f \v, \xHH and \uXXXX escapes,
 * escaped punctuation and class escapes inside [...], (?:...) groups.
 * Escapes POSIX would read differently (\p{..}, \1, \k, ...) are refused
 * rather than silently matching something else. So are patterns whose
 * bounded repetitions would compile to a huge automaton: the "cost" is the
 * size of the pattern with every {n,m} multiplying what it repeats.
 */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Read \xHH or \uXXXX at p (p[0] == '\\'); *len gets the escape's length. -1 if malformed. */
static long hex_escape(const char *p, size_t *len)
{
    int n = p[1] == 'x' ? 2 : 4;
    long cp = 0;
    for (int i = 0; i < n; i++) {
        int v = hexval(p[2 + i]);
        if (v < 0)
            return -1;
        cp = cp * 16 + v;
    }
    *len = 2 + (size_t)n;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return -1; /* surrogates: write the character itself instead */
    return cp;
}

/* The character an ECMA escape stands for (\n, \x41, \. ...), or -1 when the
 * escape is not a single literal character. */
static long escape_char(const char *p, size_t *len)
{
    *len = 2;
    switch (p[1]) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'v': return '\v';
    case 'x':
    case 'u': return hex_escape(p, len);
    default:
        if ((unsigned char)p[1] >= 0x80 || ((p[1] < 'a' || p[1] > 'z') && (p[1] < 'A' || p[1] > 'Z') &&
                                            (p[1] < '0' || p[1] > '9') && p[1] != '\0'))
            return (unsigned char)p[1]; /* escaped punctuation is itself */
        return -1;
    }
}

/* A literal character outside brackets: escaped when ERE gives it a meaning. */
static int put_literal(buf *b, long cp)
{
    if (cp < 0x80 && strchr(".[]()*+?{}|^$\\", (int)cp) && cp != 0)
        return buf_printf(b, "\\%c", (char)cp);
    if (cp == 0)
        return -EINVAL;
    return jsonx_put_utf8(b, (uint32_t)cp);
}

/* Translate an ECMA character class starting at *pp ('['); POSIX wants ']'
 * first, '-' last and no escapes inside brackets. */
static int re_bracket(const char **pp, buf *out, const char **why)
{
    const char *p = *pp + 1;
    bool neg = false, rbracket = false, dash = false, caret = false;
    buf body = BUF_INIT;
    int rc = 0;
    if (*p == '^') {
        neg = true;
        p++;
    }
    while (rc == 0 && *p && *p != ']') {
        long lo;
        size_t len = 1;
        if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            char close = p[1];
            const char *end = p + 2;
            while (*end && !(end[0] == close && end[1] == ']'))
                end++;
            if (!*end) {
                *why = "a class [: ... :] is not closed";
                rc = -EINVAL;
                break;
            }
            rc = buf_append(&body, p, (size_t)(end + 2 - p));
            p = end + 2;
            continue;
        }
        if (p[0] == '\\') {
            const char *cls = p[1] == 'd' ? "0-9" : p[1] == 'w' ? "[:alnum:]_" : p[1] == 's' ? "[:space:]" : NULL;
            if (cls) {
                rc = buf_puts(&body, cls);
                p += 2;
                continue;
            }
            lo = escape_char(p, &len);
            if (lo < 0) {
                *why = "this escape inside [...] is not supported (\\D, \\W, \\S, \\p, \\b ... have no POSIX form)";
                rc = -EINVAL;
                break;
            }
        } else {
            lo = (unsigned char)p[0];
            if (lo >= 0x80) { /* copy a whole UTF-8 sequence */
                len = 1;
                while (((unsigned char)p[len] & 0xC0) == 0x80)
                    len++;
                if (p[len] == '-' && p[len + 1] && p[len + 1] != ']') {
                    *why = "ranges of non-ASCII characters inside [...] are not supported";
                    rc = -EINVAL;
                    break;
                }
                rc = buf_append(&body, p, len);
                p += len;
                continue;
            }
        }
        p += len;
        if (p[0] == '-' && p[1] && p[1] != ']') { /* a range lo-hi */
            long hi;
            size_t hlen = 1;
            if (p[1] == '\\')
                hi = escape_char(p + 1, &hlen);
            else
                hi = (unsigned char)p[1];
            if (hi < 0 || hi >= 0x80 || lo == 0 || hi == 0 || lo > hi || strchr("[]-^", (int)lo) ||
                strchr("[]-^", (int)hi)) {
                *why = "a range inside [...] is not supported (use plain ASCII characters, low-high)";
                rc = -EINVAL;
                break;
            }
            rc = buf_printf(&body, "%c-%c", (char)lo, (char)hi);
            p += 1 + hlen;
            continue;
        }
        if (lo == ']')
            rbracket = true;
        else if (lo == '-')
            dash = true;
        else if (lo == '^')
            caret = true;
        else if (lo == 0) {
            *why = "a NUL character cannot be matched";
            rc = -EINVAL;
        } else
            rc = jsonx_put_utf8(&body, (uint32_t)lo);
    }
    if (rc == 0 && *p != ']') {
        *why = "a [ is not closed";
        rc = -EINVAL;
    }
    if (rc == 0 && !body.len && !rbracket && !dash && !caret) {
        *why = "an empty class [] or [^] is not supported";
        rc = -EINVAL;
    }
    if (rc == 0) {
        if (!neg && caret && !body.len && !rbracket && !dash)
            rc = buf_puts(out, "\\^");
        else if (buf_putc(out, '[') < 0 || (neg && buf_putc(out, '^') < 0) || (rbracket && buf_putc(out, ']') < 0) ||
                 buf_append(out, body.data ? body.data : "", body.len) < 0 || (caret && buf_putc(out, '^') < 0) ||
                 (dash && buf_putc(out, '-') < 0) || buf_putc(out, ']') < 0)
            rc = -ENOMEM;
    }
    buf_release(&body);
    *pp = p + (*p == ']');
    return rc;
}

static int re_translate(const char *p, buf *out, const char **why)
{
    double stack[33];
    int sp = 0;
    double last = 0;
    bool can_repeat = false; /* the previous token is an atom a quantifier may follow */
    stack[0] = 0;
    *why = NULL;
#define ATOM(c)                                                                                                    \
    do {                                                                                                           \
        last = (c);                                                                                                \
        stack[sp] += last;                                                                                         \
        can_repeat = true;                                                                                         \
    } while (0)
    while (*p) {
        int rc = 0;
        char c = *p;
        bool quant = c == '*' || c == '+' || c == '?' || (c == '{' && p[1] >= '0' && p[1] <= '9');
        if (quant && !can_repeat) {
            /* ECMA: "nothing to repeat"; glibc would copy the operand for
             * each stacked quantifier (exponential size) */
            *why = "a quantifier (* + ? {n}) follows nothing or another quantifier";
            return -EINVAL;
        }
        if (c == '\\') {
            char e = p[1];
            size_t len;
            long lit;
            if (!e) {
                *why = "it ends with a lone backslash";
                return -EINVAL;
            }
            if (e == 'd' || e == 'D') {
                rc = buf_puts(out, e == 'd' ? "[0-9]" : "[^0-9]");
                p += 2;
            } else if (strchr("wWsSbB", e)) {
                rc = buf_append(out, p, 2); /* GNU regex knows these */
                p += 2;
            } else if ((lit = escape_char(p, &len)) > 0) {
                rc = put_literal(out, lit);
                p += len;
            } else {
                *why = e >= '0' && e <= '9' ? "backreferences and \\0 are not supported"
                                            : "this escape is not supported (see docs/schema.md)";
                return -EINVAL;
            }
            if (rc == -EINVAL) {
                *why = "a NUL character cannot be matched";
                return rc;
            }
            ATOM(1);
        } else if (c == '[') {
            rc = re_bracket(&p, out, why);
            ATOM(1);
        } else if (c == '(') {
            if (sp == 32) {
                *why = "groups are nested more than 32 deep";
                return -EINVAL;
            }
            if (p[1] == '?' && p[2] != ':') {
                *why = "lookaround and named groups (?=, (?!, (?<...) are not supported";
                return -EINVAL;
            }
            rc = buf_putc(out, '(');
            p += (p[1] == '?' && p[2] == ':') ? 3 : 1;
            stack[++sp] = 0;
            last = 0;
            can_repeat = false;
        } else if (c == ')' && sp > 0) {
            rc = buf_putc(out, ')');
            p++;
            double g = stack[sp] > 1 ? stack[sp] : 1;
            sp--;
            ATOM(g);
        } else if (c == '{' && p[1] >= '0' && p[1] <= '9') {
            char *end;
            unsigned long n = strtoul(p + 1, &end, 10), m = n;
            bool ok = true;
            if (*end == ',') {
                if (end[1] >= '0' && end[1] <= '9')
                    m = strtoul(end + 1, &end, 10);
                else {
                    m = n + 1;
                    end++;
                }
            }
            if (*end != '}')
                ok = false;
            if (ok && (n > MAX_REPEAT || m > MAX_REPEAT)) {
                *why = "a repetition count is over 1000";
                return -EINVAL;
            }
            if (ok) {
                double mult = (double)(m > n ? m : n);
                stack[sp] += last * (mult > 1 ? mult - 1 : 0);
                last *= mult;
                rc = buf_append(out, p, (size_t)(end + 1 - p));
                p = end + 1;
                can_repeat = false;
                if (*p == '?') /* lazy: the same yes/no answer */
                    p++;
            } else {
                rc = buf_puts(out, "\\{"); /* ECMA reads a { that starts no count as itself */
                p++;
                ATOM(1);
            }
        } else if (c == '{' || c == '}') {
            rc = buf_printf(out, "\\%c", c);
            p++;
            ATOM(1);
        } else if (quant) {
            rc = buf_putc(out, *p++);
            if (c == '+') { /* glibc compiles E+ as EE* */
                stack[sp] += last;
                last *= 2;
            }
            can_repeat = false;
            if (*p == '?') /* lazy: the same yes/no answer */
                p++;
        } else if (c == '|') {
            rc = buf_putc(out, *p++);
            can_repeat = false;
        } else {
            rc = buf_putc(out, *p++);
            ATOM(1);
        }
        if (rc < 0)
            return rc;
        for (int i = 0; i <= sp; i++)
            if (stack[i] > MAX_PATTERN_COST || last > MAX_PATTERN_COST) {
                *why = "its repetitions make it too large (nested {n,m} counts multiply)";
                return -EINVAL;
            }
    }
#undef ATOM
    return 0;
}

/* regcomp/regexec run in C.UTF-8 (per thread, uselocale) so that "." and
 * [...] match characters; if that locale is missing, the current one. */
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale;

static void utf8_init(void) { utf8_locale = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0); }

static locale_t utf8_enter(void)
{
    pthread_once(&utf8_once, utf8_init);
    return utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
}

static void utf8_leave(locale_t old)
{
    if (old)
        uselocale(old);
}

typedef struct re_entry {
    const void *key; /* the pattern's json_t, or a patternProperties key */
    regex_t re;
} re_entry;

typedef struct re_cache {
    re_entry *v;
    size_t n, cap;
} re_cache;

static void re_cache_release(re_cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        regfree(&c->v[i].re);
    mem_free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The compiled form of `pattern`, cached under `key`. 0 and *out, -EINVAL
 * with *why (mem_free it; NULL if that allocation failed), or -ENOMEM. */
static int re_get(re_cache *c, const void *key, const char *pattern, const regex_t **out, char **why)
{
    *why = NULL;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].key == key) {
            *out = &c->v[i].re;
            return 0;
        }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        re_entry *v = mem_realloc(c->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    buf t = BUF_INIT;
    const char *reason = NULL;
    int rc = re_translate(pattern, &t, &reason);
    if (rc == -EINVAL) {
        *why = mem_strdup(reason);
        goto out;
    }
    if (rc < 0)
        goto out;
    locale_t old = utf8_enter();
    int e = regcomp(&c->v[c->n].re, buf_str(&t), REG_EXTENDED | REG_NOSUB);
    utf8_leave(old);
    if (e != 0) {
        char msg[128];
        regerror(e, &c->v[c->n].re, msg, sizeof msg);
        *why = mem_printf("it is not a valid POSIX extended regular expression (%s)", msg);
        rc = e == REG_ESPACE ? -ENOMEM : -EINVAL;
        goto out;
    }
    c->v[c->n].key = key;
    *out = &c->v[c->n].re;
    c->n++;
out:
    buf_release(&t);
    return rc;
}

/* Does the string value s match? Embedded NULs are part of the subject. */
static bool re_search_str(const regex_t *re, const char *s, size_t n)
{
    regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)n}};
    locale_t old = utf8_enter();
    bool ok = regexec(re, s, 1, m, REG_STARTEND) == 0;
    utf8_leave(old);
    return ok;
}

/* ------------------------------------------------------------------ */
/* 3. schema_check                                                     */

enum kw_kind {
    KW_STRING,      /* annotation: a string */
    KW_BOOL_ANNOT,  /* annotation: a boolean */
    KW_ARRAY_ANNOT, /* annotation: an array */
    KW_ANY,         /* any JSON value */
    KW_TYPE,
    KW_ENUM,
    KW_SCHEMA,
    KW_SCHEMA_MAP,
    KW_SCHEMA_LIST,
    KW_ITEMS,
    KW_COUNT,
    KW_NUMBER,
    KW_POSITIVE,
    KW_BOOL,
    KW_REQUIRED,
    KW_PATTERN,
    KW_PATTERN_MAP,
    KW_REF,
};

static const struct keyword {
    const char *name;
    enum kw_kind kind;
} keywords[] = {
    {"title", KW_STRING},
    {"description", KW_STRING},
    {"$comment", KW_STRING},
    {"$schema", KW_STRING},
    {"$id", KW_STRING},
    {"format", KW_STRING},
    {"default", KW_ANY},
    {"examples", KW_ARRAY_ANNOT},
    {"deprecated", KW_BOOL_ANNOT},
    {"readOnly", KW_BOOL_ANNOT},
    {"writeOnly", KW_BOOL_ANNOT},
    {"type", KW_TYPE},
    {"enum", KW_ENUM},
    {"const", KW_ANY},
    {"properties", KW_SCHEMA_MAP},
    {"required", KW_REQUIRED},
    {"additionalProperties", KW_SCHEMA},
    {"patternProperties", KW_PATTERN_MAP},
    {"minProperties", KW_COUNT},
    {"maxProperties", KW_COUNT},
    {"items", KW_ITEMS},
    {"prefixItems", KW_SCHEMA_LIST},
    {"additionalItems", KW_SCHEMA},
    {"minItems", KW_COUNT},
    {"maxItems", KW_COUNT},
    {"uniqueItems", KW_BOOL},
    {"minLength", KW_COUNT},
    {"maxLength", KW_COUNT},
    {"pattern", KW_PATTERN},
    {"minimum", KW_NUMBER},
    {"maximum", KW_NUMBER},
    {"exclusiveMinimum", KW_NUMBER},
    {"exclusiveMaximum", KW_NUMBER},
    {"multipleOf", KW_POSITIVE},
    {"anyOf", KW_SCHEMA_LIST},
    {"oneOf", KW_SCHEMA_LIST},
    {"allOf", KW_SCHEMA_LIST},
    {"not", KW_SCHEMA},
    {"$ref", KW_REF},
    {"$defs", KW_SCHEMA_MAP},
    {"definitions", KW_SCHEMA_MAP},
};

/* Standard JSON Schema keywords venom does not implement: named as such. */
static const char *const unsupported[] = {
    "if", "then", "else", "dependentRequired", "dependentSchemas", "dependencies", "propertyNames",
    "contains", "minContains", "maxContains", "unevaluatedItems", "unevaluatedProperties", "$anchor",
    "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor", "$vocabulary", "contentEncoding",
    "contentMediaType", "contentSchema",
};

static const struct type_name {
    const char *name;
    const char *noun;
    unsigned bit;
} type_names[] = {
    {"null", "null", 1u << 0},      {"boolean", "a boolean", 1u << 1}, {"integer", "an integer", 1u << 2},
    {"number", "a number", 1u << 3}, {"string", "a string", 1u << 4},   {"array", "an array", 1u << 5},
    {"object", "an object", 1u << 6},
};
enum { T_NULL = 1u << 0, T_BOOL = 1u << 1, T_INT = 1u << 2, T_NUM = 1u << 3, T_STR = 1u << 4, T_ARR = 1u << 5,
       T_OBJ = 1u << 6 };

static unsigned type_bit(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
        if (strcmp(type_names[i].name, name) == 0)
            return type_names[i].bit;
    return 0;
}

/* The type bits of a schema's "type" (all bits if absent or malformed). */
static unsigned type_mask(const json_t *t)
{
    if (json_is_string(t))
        return type_bit(json_string_value(t));
    if (!json_is_array(t))
        return ~0u;
    unsigned m = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(t, i, v) m |= json_is_string(v) ? type_bit(json_string_value(v)) : 0;
    return m;
}

static unsigned value_bits(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return T_NULL;
    case JSON_TRUE:
    case JSON_FALSE:
        return T_BOOL;
    case JSON_INTEGER:
        return T_INT | T_NUM;
    case JSON_REAL:
        return T_NUM | (is_integral(v) ? T_INT : 0);
    case JSON_STRING:
        return T_STR;
    case JSON_ARRAY:
        return T_ARR;
    case JSON_OBJECT:
        return T_OBJ;
    }
    return 0;
}

/*
 * Resolve a local $ref against the root: "#", "#/$defs/name" or
 * "#/definitions/name" (name with JSON Pointer escapes ~0 ~1). NULL if the
 * form is not supported (*bad_form = true) or nothing is there.
 */
static const json_t *ref_resolve(const json_t *root, const char *ref, bool *bad_form)
{
    *bad_form = false;
    if (strcmp(ref, "#") == 0)
        return root;
    const char *name, *container;
    if (strncmp(ref, "#/$defs/", 8) == 0) {
        name = ref + 8;
        container = "$defs";
    } else if (strncmp(ref, "#/definitions/", 14) == 0) {
        name = ref + 14;
        container = "definitions";
    } else {
        *bad_form = true;
        return NULL;
    }
    char key[MAX_REF_NAME + 1];
    size_t n = 0;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (ch == '/' || n == MAX_REF_NAME) {
            *bad_form = true;
            return NULL;
        }
        if (ch == '~') {
            if (p[1] == '0')
                ch = '~';
            else if (p[1] == '1')
                ch = '/';
            else {
                *bad_form = true;
                return NULL;
            }
            p++;
        }
        key[n++] = ch;
    }
    key[n] = '\0';
    return json_object_get(json_object_get(root, container), key);
}

typedef struct chk {
    const json_t *root;
    buf ptr; /* JSON Pointer of the schema being checked */
    re_cache *re;
    char **err;
} chk;

static int c_fail(chk *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int c_fail(chk *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = mem_vprintf(fmt, ap);
    va_end(ap);
    if (!m)
        return err_set(c->err, -ENOMEM, "out of memory checking a schema");
    buf where = BUF_INIT; /* the pointer, with control characters of names escaped */
    if (put_text(&where, c->ptr.data ? c->ptr.data : "", c->ptr.len, false) < 0) {
        mem_free(m);
        return err_set(c->err, -ENOMEM, "out of memory checking a schema");
    }
    if (c->ptr.len)
        err_set(c->err, -EINVAL, "schema at %s: %s", buf_str(&where), m);
    else
        err_set(c->err, -EINVAL, "schema at the top level: %s", m);
    buf_release(&where);
    mem_free(m);
    if (c->err && !*c->err) /* the message itself could not be allocated */
        return -ENOMEM;
    return -EINVAL;
}

/* Append "/seg" (JSON Pointer escaped) to the pointer; *old gets the length to cut back to. */
static int ptr_push(buf *p, const char *seg, size_t *old)
{
    *old = p->len;
    if (buf_putc(p, '/') < 0)
        return -ENOMEM;
    for (const char *s = seg; *s; s++) {
        int rc = *s == '~' ? buf_puts(p, "~0") : *s == '/' ? buf_puts(p, "~1") : buf_putc(p, *s);
        if (rc < 0) {
            buf_cut(p, *old);
            return -ENOMEM;
        }
    }
    return 0;
}

static int ptr_push_index(buf *p, size_t i, size_t *old)
{
    *old = p->len;
    return buf_printf(p, "/%zu", i);
}

static int c_node(chk *c, const json_t *s, int depth);

/* Check a subschema found under keyword `kw` (and `sub` when not NULL). */
static int c_sub(chk *c, const json_t *s, const char *kw, const char *sub, int depth)
{
    size_t old, old2 = 0;
    if (ptr_push(&c->ptr, kw, &old) < 0)
        return err_set(c->err, -ENOMEM, "out of memory checking a schema");
    int rc = 0;
    if (sub && ptr_push(&c->ptr, sub, &old2) < 0)
        rc = err_set(c->err, -ENOMEM, "out of memory checking a schema");
    if (rc == 0)
        rc = c_node(c, s, depth + 1);
    buf_cut(&c->ptr, old);
    return rc;
}

static int c_sub_index(chk *c, const json_t *s, const char *kw, size_t i, int depth)
{
    size_t old, old2;
    int rc = 0;
    if (ptr_push(&c->ptr, kw, &old) < 0 || ptr_push_index(&c->ptr, i, &old2) < 0)
        rc = err_set(c->err, -ENOMEM, "out of memory checking a schema");
    else
        rc = c_node(c, s, depth + 1);
    buf_cut(&c->ptr, old);
    return rc;
}

/* "'kw' must be X, got Y" */
static int c_type_fail(chk *c, const char *kw, const char *expected, const json_t *v)
{
    char *got = value_str(v);
    int rc = got ? c_fail(c, "'%s' must be %s, got %s", kw, expected, got)
                 : err_set(c->err, -ENOMEM, "out of memory checking a schema");
    mem_free(got);
    return rc;
}

static int c_pattern(chk *c, const char *kw, const void *key, const char *pattern)
{
    const regex_t *re;
    char *why = NULL;
    int rc = re_get(c->re, key, pattern, &re, &why);
    if (rc == -EINVAL) {
        buf b = BUF_INIT;
        if (put_escaped(&b, pattern, strlen(pattern)) < 0 || !why)
            rc = err_set(c->err, -ENOMEM, "out of memory checking a schema");
        else
            rc = c_fail(c, "'%s' \"%s\" is not usable: %s (venom uses POSIX extended regular expressions, "
                           "see docs/schema.md)",
                        kw, buf_str(&b), why);
        buf_release(&b);
    } else if (rc < 0) {
        rc = err_set(c->err, -ENOMEM, "out of memory compiling a pattern of a schema");
    }
    mem_free(why);
    return rc;
}

static int c_keyword(chk *c, const json_t *s, const struct keyword *kw, const json_t *v, int depth)
{
    const char *name = kw->name;
    switch (kw->kind) {
    case KW_STRING:
        return json_is_string(v) ? 0 : c_type_fail(c, name, "a string", v);
    case KW_BOOL_ANNOT:
    case KW_BOOL:
        return json_is_boolean(v) ? 0 : c_type_fail(c, name, "a boolean", v);
    case KW_ARRAY_ANNOT:
        return json_is_array(v) ? 0 : c_type_fail(c, name, "an array", v);
    case KW_ANY:
        return 0;
    case KW_TYPE: {
        if (json_is_string(v)) {
            if (type_bit(json_string_value(v)))
                return 0;
        } else if (json_is_array(v) && json_array_size(v) > 0) {
            size_t i;
            const json_t *t;
            unsigned seen = 0;
            json_array_foreach(v, i, t) {
                unsigned bit = json_is_string(t) ? type_bit(json_string_value(t)) : 0;
                if (!bit || (seen & bit))
                    break;
                seen |= bit;
            }
            if (i == json_array_size(v))
                return 0;
        }
        return c_type_fail(c, name,
                           "one of \"null\", \"boolean\", \"integer\", \"number\", \"string\", \"array\", "
                           "\"object\", or a non-empty array of distinct ones",
                           v);
    }
    case KW_ENUM:
        return json_is_array(v) && json_array_size(v) > 0 ? 0 : c_type_fail(c, name, "a non-empty array", v);
    case KW_SCHEMA:
        return c_sub(c, v, name, NULL, depth);
    case KW_SCHEMA_MAP:
    case KW_PATTERN_MAP: {
        bool patterns = kw->kind == KW_PATTERN_MAP; /* the names are regular expressions */
        if (!json_is_object(v))
            return c_type_fail(c, name,
                               patterns ? "an object mapping regular expressions to schemas" : "an object of schemas",
                               v);
        const char *k;
        const json_t *sub;
        json_object_foreach((json_t *)v, k, sub) {
            int rc = patterns ? c_pattern(c, name, k, k) : 0;
            if (rc == 0)
                rc = c_sub(c, sub, name, k, depth);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case KW_ITEMS:
        if (!json_is_array(v))
            return c_sub(c, v, name, NULL, depth);
        if (json_object_get(s, "prefixItems"))
            return c_fail(c, "'items' is an array (the draft-07 tuple form) and 'prefixItems' is also given: use "
                             "'prefixItems' for the tuple and 'items' for the rest");
        __attribute__((fallthrough)); /* the tuple form is checked like prefixItems */
    case KW_SCHEMA_LIST: {
        if (!json_is_array(v) || json_array_size(v) == 0)
            return c_type_fail(c, name, "a non-empty array of schemas", v);
        size_t i;
        const json_t *sub;
        json_array_foreach(v, i, sub) {
            int rc = c_sub_index(c, sub, name, i, depth);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case KW_COUNT:
        if (!(json_is_integer(v) || is_integral(v)) || json_number_value(v) < 0)
            return c_type_fail(c, name, "a non-negative integer", v);
        return 0;
    case KW_NUMBER:
        if (json_is_boolean(v) && (strcmp(name, "exclusiveMinimum") == 0 || strcmp(name, "exclusiveMaximum") == 0))
            return c_fail(c, "'%s' must be a number (draft 2020-12); the draft-04 boolean form is not supported: "
                             "write \"%s\": <limit> instead of \"%s\" with \"%s\"",
                          name, name, strcmp(name, "exclusiveMinimum") == 0 ? "minimum" : "maximum", name);
        return json_is_number(v) ? 0 : c_type_fail(c, name, "a number", v);
    case KW_POSITIVE:
        return json_is_number(v) && json_number_value(v) > 0 ? 0 : c_type_fail(c, name, "a number > 0", v);
    case KW_REQUIRED: {
        if (!json_is_array(v))
            return c_type_fail(c, name, "an array of property names", v);
        size_t i, j;
        const json_t *a;
        json_array_foreach(v, i, a) {
            if (!json_is_string(a))
                return c_type_fail(c, name, "an array of property names (strings)", v);
            for (j = 0; j < i; j++)
                if (json_same(a, json_array_get(v, j))) {
                    char *got = value_str(a);
                    int rc = got ? c_fail(c, "'required' lists %s twice", got)
                                 : err_set(c->err, -ENOMEM, "out of memory checking a schema");
                    mem_free(got);
                    return rc;
                }
        }
        return 0;
    }
    case KW_PATTERN:
        if (!json_is_string(v))
            return c_type_fail(c, name, "a string (a regular expression)", v);
        return c_pattern(c, name, v, json_string_value(v));
    case KW_REF: {
        if (!json_is_string(v))
            return c_type_fail(c, name, "a string such as \"#/$defs/name\"", v);
        bool bad_form;
        const json_t *target = ref_resolve(c->root, json_string_value(v), &bad_form);
        if (target)
            return 0;
        char *got = value_str(v);
        int rc = !got ? err_set(c->err, -ENOMEM, "out of memory checking a schema")
                 : bad_form ? c_fail(c, "'$ref' %s is not supported: only local references \"#\", "
                                        "\"#/$defs/name\" and \"#/definitions/name\" are",
                                     got)
                            : c_fail(c, "'$ref' %s points to nothing: define it under \"$defs\" at the top level",
                                     got);
        mem_free(got);
        return rc;
    }
    }
    return 0;
}

/* Pairs of bounds that no value could satisfy are mistakes worth naming. */
static int c_bounds(chk *c, const json_t *s)
{
    static const char *const pairs[][2] = {
        {"minLength", "maxLength"}, {"minItems", "maxItems"}, {"minProperties", "maxProperties"},
        {"minimum", "maximum"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
        const json_t *lo = json_object_get(s, pairs[i][0]), *hi = json_object_get(s, pairs[i][1]);
        if (json_is_number(lo) && json_is_number(hi) && num_cmp(lo, hi) > 0) {
            buf a = BUF_INIT, b = BUF_INIT;
            int rc = put_number(&a, lo) < 0 || put_number(&b, hi) < 0
                         ? err_set(c->err, -ENOMEM, "out of memory checking a schema")
                         : c_fail(c, "'%s' (%s) is greater than '%s' (%s): no value can match", pairs[i][0],
                                  buf_str(&a), pairs[i][1], buf_str(&b));
            buf_release(&a);
            buf_release(&b);
            return rc;
        }
    }
    return 0;
}

static int c_node(chk *c, const json_t *s, int depth)
{
    if (depth > SCHEMA_MAX_DEPTH)
        return c_fail(c, "schemas are nested deeper than %d levels", SCHEMA_MAX_DEPTH);
    if (json_is_boolean(s))
        return 0;
    if (!json_is_object(s)) {
        char *got = value_str(s);
        int rc = got ? c_fail(c, "a schema must be an object or a boolean, got %s", got)
                     : err_set(c->err, -ENOMEM, "out of memory checking a schema");
        mem_free(got);
        return rc;
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)s, k, v) {
        const struct keyword *kw = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
            if (strcmp(keywords[i].name, k) == 0)
                kw = &keywords[i];
        if (kw) {
            int rc = c_keyword(c, s, kw, v, depth);
            if (rc < 0)
                return rc;
            continue;
        }
        buf name = BUF_INIT;
        int rc;
        if (put_escaped(&name, k, strlen(k)) < 0) {
            rc = err_set(c->err, -ENOMEM, "out of memory checking a schema");
            goto unknown_out;
        }
        for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++)
            if (strcmp(unsupported[i], k) == 0) {
                rc = c_fail(c, "keyword '%s' is not supported by venom (docs/schema.md lists what is)", k);
                goto unknown_out;
            }
        const char *names[ARRAY_SIZE(keywords)];
        for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
            names[i] = keywords[i].name;
        const char *best = suggest_typo(k, names, ARRAY_SIZE(names));
        if (best)
            rc = c_fail(c, "unknown keyword '%s'; did you mean '%s'?", buf_str(&name), best);
        else
            rc = c_fail(c, "unknown keyword '%s' (docs/schema.md lists the supported keywords)", buf_str(&name));
    unknown_out:
        buf_release(&name);
        return rc;
    }
    return c_bounds(c, s);
}

static int check_with(const json_t *schema, re_cache *re, char **err)
{
    if (!schema)
        return err_set(err, -EINVAL, "schema: no schema given (NULL)");
    chk c = {.root = schema, .ptr = BUF_INIT, .re = re, .err = err};
    int rc = c_node(&c, schema, 0);
    buf_release(&c.ptr);
    return rc;
}

int schema_check(const json_t *schema, char **err)
{
    re_cache re = {0};
    int rc = check_with(schema, &re, err);
    re_cache_release(&re);
    return rc;
}

/* ------------------------------------------------------------------ */
/* 4. validation                                                       */

typedef enum {
    VE_EXPECT, /* "<what> 'path': expected A, got B" */
    VE_TYPE,   /* the same, from a type mismatch (anyOf may merge these) */
    VE_MSG,    /* "<what> 'path': A" */
    VE_LINE,   /* A is the whole line */
} ve_kind;

typedef struct verr {
    ve_kind kind;
    char *path;
    char *a, *b;
} verr;

/* The problems found by one validation (or by one anyOf/oneOf/not branch). */
typedef struct elist {
    verr *v;
    size_t n, cap;
    size_t keep;  /* how many to store; the rest are only counted */
    size_t total; /* how many were found */
    bool stop;    /* stop at the first (branches only need yes/no) */
} elist;

static void elist_release(elist *e)
{
    for (size_t i = 0; i < e->n; i++) {
        mem_free(e->v[i].path);
        mem_free(e->v[i].a);
        mem_free(e->v[i].b);
    }
    mem_free(e->v);
    e->v = NULL;
    e->n = e->cap = e->total = 0;
}

#define STOPPED(e) ((e)->stop && (e)->total > 0)

typedef struct vrun {
    const json_t *root;
    const char *what;
    re_cache *re;
    long steps, max_steps; /* SCHEMA_MAX_STEPS + 8 per value in the instance */
    buf path;    /* display path of the value being validated */
    char *fatal; /* message when a limit stopped the validation */
} vrun;

/* *hit: does s[0..n) match the (checked) pattern cached under key? 0, or
 * -ENOMEM (a pattern schema_check accepted compiles again). */
static int v_search(vrun *r, const void *key, const char *pattern, const char *s, size_t n, bool *hit)
{
    const regex_t *re = NULL;
    char *why = NULL;
    int rc = re_get(r->re, key, pattern, &re, &why);
    mem_free(why);
    *hit = rc == 0 && re_search_str(re, s, n);
    return rc < 0 ? rc : 0;
}

/* Values in v, counted down to the depth validation can reach. */
static long count_values(const json_t *v, int depth)
{
    long n = 1;
    if (depth > SCHEMA_MAX_DEPTH)
        return n;
    size_t i;
    const char *k;
    json_t *c;
    if (json_is_array(v))
        json_array_foreach(v, i, c) n += count_values(c, depth + 1);
    else if (json_is_object(v))
        json_object_foreach((json_t *)v, k, c) n += count_values(c, depth + 1);
    return n;
}

/* Record a problem at the current path; takes a and b (NULL a means an
 * allocation failed). */
static int add_err(vrun *r, elist *e, ve_kind kind, char *a, char *b)
{
    int rc = 0;
    if (!a || (kind <= VE_TYPE && !b)) {
        rc = -ENOMEM;
        goto fail;
    }
    if (e->n < e->keep) {
        if (e->n == e->cap) {
            size_t cap = e->cap ? e->cap * 2 : 4;
            if (cap > e->keep)
                cap = e->keep;
            verr *v = mem_realloc(e->v, cap * sizeof *v);
            if (!v) {
                rc = -ENOMEM;
                goto fail;
            }
            e->v = v;
            e->cap = cap;
        }
        char *path = mem_strdup(buf_str(&r->path));
        if (!path) {
            rc = -ENOMEM;
            goto fail;
        }
        e->v[e->n++] = (verr){.kind = kind, .path = path, .a = a, .b = b};
        e->total++;
        return 0;
    }
    e->total++;
fail:
    mem_free(a);
    mem_free(b);
    return rc;
}

static int add_expect(vrun *r, elist *e, ve_kind kind, buf *expect, const json_t *got)
{
    char *a = buf_detach(expect);
    return add_err(r, e, kind, a, a ? value_str(got) : NULL);
}

/* Stop the whole validation because a limit was hit. */
static int v_fatal(vrun *r, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int v_fatal(vrun *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = mem_vprintf(fmt, ap);
    va_end(ap);
    if (!m)
        return -ENOMEM;
    mem_free(r->fatal);
    if (r->path.len)
        r->fatal = mem_printf("%s '%s': %s", r->what, buf_str(&r->path), m);
    else
        r->fatal = mem_printf("%s: %s", r->what, m);
    mem_free(m);
    return r->fatal ? code : -ENOMEM;
}

static int format_line(const vrun *r, const verr *v, buf *out)
{
    const char *w = r->what;
    bool at = v->path[0] != '\0';
    switch (v->kind) {
    case VE_EXPECT:
    case VE_TYPE:
        return at ? buf_printf(out, "%s '%s': expected %s, got %s", w, v->path, v->a, v->b)
                  : buf_printf(out, "%s: expected %s, got %s", w, v->a, v->b);
    case VE_MSG:
        return at ? buf_printf(out, "%s '%s': %s", w, v->path, v->a) : buf_printf(out, "%s: %s", w, v->a);
    case VE_LINE:
        return buf_puts(out, v->a);
    }
    return 0;
}

static int path_push_key(buf *p, const char *key, size_t *old)
{
    *old = p->len;
    int rc;
    if (name_needs_quotes(key)) {
        rc = buf_puts(p, "[\"");
        if (rc == 0)
            rc = put_escaped(p, key, strlen(key));
        if (rc == 0)
            rc = buf_puts(p, "\"]");
    } else {
        rc = p->len ? buf_printf(p, ".%s", key) : buf_puts(p, key);
    }
    if (rc < 0)
        buf_cut(p, *old);
    return rc;
}

static int v_node(vrun *r, elist *e, const json_t *s, const json_t *x, int frames, int idepth);

/* Validate a member (key) or an item (key NULL, index i): push its name on
 * the path, descend. */
static int v_child(vrun *r, elist *e, const json_t *s, const json_t *x, const char *key, size_t i, int frames,
                   int idepth)
{
    size_t old = r->path.len;
    if ((key ? path_push_key(&r->path, key, &old) : buf_printf(&r->path, "[%zu]", i)) < 0)
        return -ENOMEM;
    int rc = idepth + 1 > SCHEMA_MAX_DEPTH
                 ? v_fatal(r, -ELOOP, "values are nested deeper than %d levels", SCHEMA_MAX_DEPTH)
                 : v_node(r, e, s, x, frames + 1, idepth + 1);
    buf_cut(&r->path, old);
    return rc;
}

static int v_child_key(vrun *r, elist *e, const json_t *s, const json_t *x, const char *key, int frames, int idepth)
{
    return v_child(r, e, s, x, key, 0, frames, idepth);
}

static int v_child_index(vrun *r, elist *e, const json_t *s, const json_t *x, size_t i, int frames, int idepth)
{
    return v_child(r, e, s, x, NULL, i, frames, idepth);
}

static const char *number_noun(const json_t *s)
{
    unsigned m = type_mask(json_object_get(s, "type"));
    return (m & (T_INT | T_NUM)) == T_INT ? "an integer" : "a number";
}

static int v_number(vrun *r, elist *e, const json_t *s, const json_t *x)
{
    static const struct {
        const char *kw, *op;
        int bad; /* the failing result of num_cmp(x, limit) */
        bool or_equal;
    } bounds[] = {
        {"minimum", ">=", -1, false},
        {"exclusiveMinimum", ">", -1, true},
        {"maximum", "<=", 1, false},
        {"exclusiveMaximum", "<", 1, true},
    };
    bool failed = false;
    for (size_t i = 0; i < ARRAY_SIZE(bounds); i++) {
        const json_t *lim = json_object_get(s, bounds[i].kw);
        if (!json_is_number(lim))
            continue;
        int cmp = num_cmp(x, lim);
        if (cmp == bounds[i].bad || (bounds[i].or_equal && cmp == 0))
            failed = true;
    }
    int rc = 0;
    buf b = BUF_INIT;
    if (failed) {
        rc = buf_puts(&b, number_noun(s));
        bool first = true;
        for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(bounds); i++) {
            const json_t *lim = json_object_get(s, bounds[i].kw);
            if (!json_is_number(lim))
                continue;
            rc = buf_printf(&b, "%s %s ", first ? "" : " and", bounds[i].op);
            if (rc == 0)
                rc = put_number(&b, lim);
            first = false;
        }
        if (rc == 0)
            rc = add_expect(r, e, VE_EXPECT, &b, x);
        if (rc < 0 || STOPPED(e))
            goto out;
    }
    const json_t *m = json_object_get(s, "multipleOf");
    if (json_is_number(m) && json_number_value(m) > 0) {
        bool ok;
        if (json_is_integer(x) && is_integral(m) && json_number_value(m) < 9.2e18) {
            json_int_t d = json_is_integer(m) ? json_integer_value(m) : (json_int_t)json_real_value(m);
            ok = json_integer_value(x) % d == 0;
        } else {
            double q = json_number_value(x) / json_number_value(m);
            ok = isfinite(q) && fabs(q - nearbyint(q)) <= 1e-9 * fmax(1.0, fabs(q));
        }
        if (!ok) {
            buf_reset(&b);
            rc = buf_printf(&b, "%s that is a multiple of ", number_noun(s));
            if (rc == 0)
                rc = put_number(&b, m);
            if (rc == 0)
                rc = add_expect(r, e, VE_EXPECT, &b, x);
        }
    }
out:
    buf_release(&b);
    return rc;
}

/* "a string of at least 3 characters" and the like. */
static int put_count_range(buf *b, const char *noun, const json_t *lo, const json_t *hi, const char *one,
                           const char *many)
{
    uint64_t l = lo ? count_of(lo) : 0, h = hi ? count_of(hi) : 0;
    if (lo && hi && l == h)
        return buf_printf(b, "%s of exactly %" PRIu64 " %s", noun, l, l == 1 ? one : many);
    if (lo && hi)
        return buf_printf(b, "%s of %" PRIu64 " to %" PRIu64 " %s", noun, l, h, many);
    if (lo)
        return buf_printf(b, "%s of at least %" PRIu64 " %s", noun, l, l == 1 ? one : many);
    return buf_printf(b, "%s of at most %" PRIu64 " %s", noun, h, h == 1 ? one : many);
}

/* A count limit: the keywords and how the message names what is counted. */
typedef struct count_kw {
    const char *min, *max;
    const char *noun, *one, *many;
    const char *nonempty; /* the expectation for a minimum of 1 alone, or NULL */
} count_kw;

/* When the count n of x (characters, items, properties) is outside the
 * bounds s sets with k's keywords, add "expected <noun> of at least N
 * <units>, got ...". 0, or -ENOMEM. */
static int v_count(vrun *r, elist *e, const json_t *s, const json_t *x, size_t n, const count_kw *k)
{
    const json_t *lo = json_object_get(s, k->min), *hi = json_object_get(s, k->max);
    lo = json_is_number(lo) ? lo : NULL;
    hi = json_is_number(hi) ? hi : NULL;
    if (!((lo && n < count_of(lo)) || (hi && n > count_of(hi))))
        return 0;
    buf b = BUF_INIT;
    int rc;
    if (k->nonempty && lo && !hi && count_of(lo) == 1)
        rc = buf_puts(&b, k->nonempty);
    else
        rc = put_count_range(&b, k->noun, lo, hi, k->one, k->many);
    if (rc < 0) {
        buf_release(&b);
        return rc;
    }
    if (!json_is_object(x))
        return add_expect(r, e, VE_EXPECT, &b, x);
    char *a = buf_detach(&b); /* an object: its size, not "an object" */
    return add_err(r, e, VE_EXPECT, a, a ? mem_printf("%s with %zu %s", k->noun, n, n == 1 ? k->one : k->many) : NULL);
}

static int v_string(vrun *r, elist *e, const json_t *s, const json_t *x)
{
    const char *str = json_string_value(x);
    size_t n = json_string_length(x), cps = utf8_len(str, n);
    static const count_kw length = {"minLength", "maxLength", "a string", "character", "characters",
                                    "a non-empty string"};
    buf b = BUF_INIT;
    int rc = v_count(r, e, s, x, cps, &length);
    if (rc < 0 || STOPPED(e))
        goto out;
    const json_t *pat = json_object_get(s, "pattern");
    if (json_is_string(pat)) {
        bool hit;
        rc = v_search(r, pat, json_string_value(pat), str, n, &hit);
        if (rc < 0)
            goto out;
        if (!hit) {
            rc = buf_puts(&b, "a string matching the pattern ");
            if (rc == 0)
                rc = put_text(&b, json_string_value(pat), json_string_length(pat), false);
            if (rc == 0)
                rc = add_expect(r, e, VE_EXPECT, &b, x);
        }
    }
out:
    buf_release(&b);
    return rc;
}

/* A hash that agrees with json_same: equal values hash alike (1 and 1.0,
 * objects in any key order). Deeper than SCHEMA_MAX_DEPTH it gives up (a
 * constant, still consistent). */
static uint64_t value_hash(const json_t *v, int depth)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)json_typeof(v);
    if (depth > SCHEMA_MAX_DEPTH)
        return h;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL: {
        double d = json_is_real(v) ? json_real_value(v) : 0;
        uint64_t bits;
        if (json_is_integer(v))
            bits = (uint64_t)json_integer_value(v);
        else if (is_integral(v) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            bits = (uint64_t)(json_int_t)d;
        else
            memcpy(&bits, &d, sizeof bits);
        return (bits ^ 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;
    }
    case JSON_STRING: {
        const unsigned char *p = (const unsigned char *)json_string_value(v);
        for (size_t i = 0, n = json_string_length(v); i < n; i++)
            h = (h ^ p[i]) * 1099511628211ull;
        return h;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) h = (h ^ value_hash(c, depth + 1)) * 1099511628211ull;
        return h;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *c;
        uint64_t sum = 0;
        json_object_foreach((json_t *)v, k, c) {
            uint64_t kh = 1469598103934665603ull;
            for (const unsigned char *p = (const unsigned char *)k; *p; p++)
                kh = (kh ^ *p) * 1099511628211ull;
            sum += (kh * 31 + value_hash(c, depth + 1)) * 0xc4ceb9fe1a85ec53ull;
        }
        return h ^ sum;
    }
    default:
        return h;
    }
}

typedef struct hashed {
    uint64_t h;
    size_t i;
} hashed;

static int cmp_hashed(const void *a, const void *b)
{
    const hashed *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* uniqueItems in O(n log n): 0 if all differ, 1 with the first repeat
 * ([*j] equals an earlier [*i], smallest j), or a negative code. */
static int find_duplicate(vrun *r, const json_t *x, size_t *pi, size_t *pj)
{
    size_t n = json_array_size(x), bi = 0, bj = SIZE_MAX;
    hashed *v = mem_calloc(n, sizeof *v);
    if (!v)
        return -ENOMEM;
    int rc = 0;
    for (size_t k = 0; k < n; k++)
        v[k] = (hashed){.h = value_hash(json_array_get(x, k), 0), .i = k};
    r->steps += (long)n;
    qsort(v, n, sizeof *v, cmp_hashed);
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n && v[b].h == v[a].h; b++) {
            if (++r->steps > r->max_steps) {
                rc = v_fatal(r, -E2BIG, "checking uniqueItems took over %ld steps", r->max_steps);
                goto out;
            }
            if (v[b].i < bj && json_same(json_array_get(x, v[a].i), json_array_get(x, v[b].i))) {
                bi = v[a].i; /* v[a].i < v[b].i: sorted by index within a hash */
                bj = v[b].i;
            }
        }
    if (bj != SIZE_MAX) {
        *pi = bi;
        *pj = bj;
        rc = 1;
    }
out:
    mem_free(v);
    return rc;
}

static int v_array(vrun *r, elist *e, const json_t *s, const json_t *x, int frames, int idepth)
{
    size_t n = json_array_size(x);
    int rc = 0;
    buf b = BUF_INIT;
    static const count_kw items_kw = {"minItems", "maxItems", "an array", "item", "items", NULL};
    rc = v_count(r, e, s, x, n, &items_kw);
    if (rc < 0 || STOPPED(e))
        goto out;
    const json_t *items = json_object_get(s, "items");
    const json_t *prefix = json_object_get(s, "prefixItems");
    const json_t *rest = items;
    if (json_is_array(items)) { /* draft-07 tuple form */
        prefix = items;
        rest = json_object_get(s, "additionalItems");
    }
    size_t np = json_is_array(prefix) ? json_array_size(prefix) : 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *sub = i < np ? json_array_get(prefix, i) : rest;
        if (!sub)
            continue;
        if (json_is_false(sub)) {
            /* no more items allowed: one message for the whole array */
            rc = i == 0 ? buf_puts(&b, "an empty array")
                        : buf_printf(&b, "an array of at most %zu item%s", i, i == 1 ? "" : "s");
            if (rc == 0)
                rc = add_expect(r, e, VE_EXPECT, &b, x);
            goto out;
        }
        rc = v_child_index(r, e, sub, json_array_get(x, i), i, frames, idepth);
        if (rc < 0 || STOPPED(e))
            goto out;
    }
    if (json_is_true(json_object_get(s, "uniqueItems")) && n > 1) {
        size_t i = 0, j = 0;
        rc = find_duplicate(r, x, &i, &j);
        if (rc == 1)
            rc = add_err(r, e, VE_MSG, mem_printf("expected unique items, but [%zu] repeats [%zu]", j, i), NULL);
    }
out:
    buf_release(&b);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* "unexpected argument 'x' (allowed: a, b); did you mean 'a'?" */
static int v_unexpected(vrun *r, elist *e, const json_t *s, const json_t *x, const char *key)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *pprops = json_object_get(s, "patternProperties");
    size_t np = json_is_object(props) ? json_object_size(props) : 0;
    const char **names = mem_calloc(np ? np : 1, sizeof *names);
    buf b = BUF_INIT;
    size_t old = r->path.len;
    int rc = -ENOMEM;
    if (!names)
        goto out;
    size_t k = 0;
    const char *name;
    const json_t *v;
    if (np)
        json_object_foreach((json_t *)props, name, v) names[k++] = name;
    qsort(names, k, sizeof *names, cmp_str);
    if (path_push_key(&r->path, key, &old) < 0)
        goto out;
    if (buf_printf(&b, "unexpected %s '%s' (", r->what, buf_str(&r->path)) < 0)
        goto out;
    if (k == 0 && !json_object_size(pprops)) {
        if (buf_puts(&b, "none are allowed here)") < 0)
            goto out;
    } else {
        if (buf_puts(&b, "allowed: ") < 0)
            goto out;
        for (size_t i = 0; i < k && i < MAX_ALLOWED; i++)
            if ((i && buf_puts(&b, ", ") < 0) || put_escaped(&b, names[i], strlen(names[i])) < 0)
                goto out;
        if (k > MAX_ALLOWED && buf_printf(&b, ", ... (%zu in all)", k) < 0)
            goto out;
        if (json_is_object(pprops)) {
            bool first = true;
            json_object_foreach((json_t *)pprops, name, v) {
                if (buf_puts(&b, k || !first ? ", or names matching " : "names matching ") < 0 ||
                    put_text(&b, name, strlen(name), false) < 0)
                    goto out;
                first = false;
            }
        }
        if (buf_putc(&b, ')') < 0)
            goto out;
    }
    size_t nc = 0;
    for (size_t i = 0; i < k; i++)
        if (!json_object_get(x, names[i])) /* one already given is not what was meant */
            names[nc++] = names[i];
    const char *best = suggest_typo(key, (const char *const *)names, nc);
    if (best &&
        (buf_puts(&b, "; did you mean '") < 0 || put_escaped(&b, best, strlen(best)) < 0 || buf_puts(&b, "'?") < 0))
        goto out;
    buf_cut(&r->path, old);
    rc = add_err(r, e, VE_LINE, buf_detach(&b), NULL);
out:
    buf_cut(&r->path, old);
    buf_release(&b);
    mem_free(names);
    return rc;
}

static int v_object(vrun *r, elist *e, const json_t *s, const json_t *x, int frames, int idepth)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *pprops = json_object_get(s, "patternProperties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    const char *key;
    const json_t *val;
    int rc = 0;

    /* Unknown members first: a typo also explains a "missing" one. */
    if (json_is_false(addl)) {
        json_object_foreach((json_t *)x, key, val) {
            if (json_object_get(props, key))
                continue;
            bool matched = false;
            const char *pk;
            const json_t *ps;
            json_object_foreach((json_t *)pprops, pk, ps) {
                if ((rc = v_search(r, pk, pk, key, strlen(key), &matched)) < 0)
                    return rc;
                if (matched)
                    break;
            }
            if (matched)
                continue;
            rc = v_unexpected(r, e, s, x, key);
            if (rc < 0 || STOPPED(e))
                return rc;
        }
    }

    const json_t *req = json_object_get(s, "required");
    size_t i;
    const json_t *name;
    json_array_foreach(req, i, name) {
        if (!json_is_string(name) || json_object_get(x, json_string_value(name)))
            continue;
        size_t old;
        if (path_push_key(&r->path, json_string_value(name), &old) < 0)
            return -ENOMEM;
        rc = add_err(r, e, VE_MSG, mem_strdup("required but missing"), NULL);
        buf_cut(&r->path, old);
        if (rc < 0 || STOPPED(e))
            return rc;
    }

    json_object_foreach((json_t *)x, key, val) {
        bool covered = false;
        const json_t *ps = json_object_get(props, key);
        if (ps) {
            covered = true;
            rc = v_child_key(r, e, ps, val, key, frames, idepth);
            if (rc < 0 || STOPPED(e))
                return rc;
        }
        const char *pk;
        json_object_foreach((json_t *)pprops, pk, ps) {
            bool hit;
            if ((rc = v_search(r, pk, pk, key, strlen(key), &hit)) < 0)
                return rc;
            if (!hit)
                continue;
            covered = true;
            rc = v_child_key(r, e, ps, val, key, frames, idepth);
            if (rc < 0 || STOPPED(e))
                return rc;
        }
        if (!covered && addl && !json_is_boolean(addl)) {
            rc = v_child_key(r, e, addl, val, key, frames, idepth);
            if (rc < 0 || STOPPED(e))
                return rc;
        }
    }

    static const count_kw props_kw = {"minProperties", "maxProperties", "an object", "property", "properties",
                                      NULL};
    return v_count(r, e, s, x, json_object_size(x), &props_kw);
}

/* Did the branch fail only because of its "type", right here? */
static bool shallow_type_miss(const vrun *r, const elist *b)
{
    return b->n == 1 && b->v[0].kind == VE_TYPE && strcmp(b->v[0].path, buf_str(&r->path)) == 0;
}

/* anyOf / oneOf with no matching alternative: explain as precisely as possible. */
static int v_no_match(vrun *r, elist *e, const json_t *alts, elist *subs, const char *kw, const json_t *x, int frames,
                      int idepth)
{
    size_t n = json_array_size(alts), deep = 0, which = 0;
    for (size_t i = 0; i < n; i++)
        if (!shallow_type_miss(r, &subs[i])) {
            deep++;
            which = i;
        }
    if (deep == 1) /* the one alternative of the right type: show its problems */
        return v_node(r, e, json_array_get(alts, which), x, frames + 1, idepth);
    buf b = BUF_INIT;
    int rc = 0;
    if (deep == 0) { /* "expected a string or an integer, got true" */
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = buf_printf(&b, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", subs[i].v[0].a);
        if (rc == 0)
            rc = add_expect(r, e, VE_TYPE, &b, x);
        goto out;
    }
    rc = buf_printf(&b, "matches none of the %zu alternatives of %s: ", n, kw);
    size_t shown = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (shallow_type_miss(r, &subs[i]) || subs[i].n == 0)
            continue;
        if (shown == 3) {
            rc = buf_puts(&b, "; ...");
            break;
        }
        rc = buf_printf(&b, "%s(%zu) ", shown ? "; " : "", i + 1);
        size_t start = b.len;
        if (rc == 0)
            rc = format_line(r, &subs[i].v[0], &b);
        if (rc == 0 && b.len - start > MAX_NESTED_LINE) { /* nested alternatives would grow without end */
            size_t cut = start + MAX_NESTED_LINE;
            while (cut > start && ((unsigned char)b.data[cut] & 0xC0) == 0x80)
                cut--;
            buf_cut(&b, cut);
            rc = buf_puts(&b, "...");
        }
        shown++;
    }
    if (rc == 0)
        rc = add_err(r, e, VE_MSG, buf_detach(&b), NULL);
out:
    buf_release(&b);
    return rc;
}

static int v_combinators(vrun *r, elist *e, const json_t *s, const json_t *x, int frames, int idepth)
{
    int rc = 0;
    const json_t *all = json_object_get(s, "allOf");
    size_t i;
    const json_t *sub;
    json_array_foreach(all, i, sub) {
        rc = v_node(r, e, sub, x, frames + 1, idepth);
        if (rc < 0 || STOPPED(e))
            return rc;
    }
    static const char *const kws[] = {"anyOf", "oneOf"};
    for (size_t k = 0; k < ARRAY_SIZE(kws); k++) {
        const json_t *alts = json_object_get(s, kws[k]);
        size_t n = json_array_size(alts);
        if (!json_is_array(alts) || n == 0)
            continue;
        bool one = k == 1;
        elist *subs = mem_calloc(n, sizeof *subs);
        if (!subs)
            return -ENOMEM;
        size_t matched = 0, m1 = 0, m2 = 0;
        for (i = 0; i < n; i++) {
            subs[i] = (elist){.keep = 1, .stop = true};
            rc = v_node(r, &subs[i], json_array_get(alts, i), x, frames + 1, idepth);
            if (rc < 0)
                goto next;
            if (subs[i].total == 0) {
                if (matched == 0)
                    m1 = i;
                else
                    m2 = i;
                if (++matched == (one ? 2u : 1u))
                    break;
            }
        }
        if (matched == 0)
            rc = v_no_match(r, e, alts, subs, kws[k], x, frames, idepth);
        else if (one && matched > 1)
            rc = add_err(r, e, VE_MSG,
                         mem_printf("matches alternatives %zu and %zu of oneOf, but must match exactly one", m1 + 1,
                                    m2 + 1),
                         NULL);
    next:
        for (i = 0; i < n; i++)
            elist_release(&subs[i]);
        mem_free(subs);
        if (rc < 0 || STOPPED(e))
            return rc;
    }
    const json_t *not = json_object_get(s, "not");
    if (not) {
        elist sube = {.keep = 1, .stop = true};
        rc = v_node(r, &sube, not, x, frames + 1, idepth);
        bool matched = rc == 0 && sube.total == 0;
        elist_release(&sube);
        if (matched) {
            buf b = BUF_INIT;
            rc = buf_puts(&b, "a value that does not match the schema under 'not'");
            if (rc == 0)
                rc = add_expect(r, e, VE_EXPECT, &b, x);
            buf_release(&b);
        }
    }
    return rc;
}

static int v_node(vrun *r, elist *e, const json_t *s, const json_t *x, int frames, int idepth)
{
    if (++r->steps > r->max_steps)
        return v_fatal(r, -E2BIG, "validation took over %ld steps; simplify the schema (nested anyOf/oneOf/$ref)",
                       r->max_steps);
    if (frames > SCHEMA_MAX_FRAMES)
        return v_fatal(r, -ELOOP, "schemas apply more than %d levels deep (a $ref cycle?)", SCHEMA_MAX_FRAMES);
    if (json_is_false(s))
        return add_err(r, e, VE_MSG, mem_strdup("not allowed here"), NULL);
    if (!json_is_object(s))
        return 0; /* true */
    int rc = 0;
    buf b = BUF_INIT;

    const json_t *ref = json_object_get(s, "$ref");
    if (json_is_string(ref)) {
        bool bad_form;
        const json_t *target = ref_resolve(r->root, json_string_value(ref), &bad_form);
        if (target) {
            rc = v_node(r, e, target, x, frames + 1, idepth);
            if (rc < 0 || STOPPED(e))
                goto out;
        }
    }

    const json_t *type = json_object_get(s, "type");
    if (type && !(type_mask(type) & value_bits(x))) {
        /* the types in the schema's order; "integer or number" says no more than "number" */
        unsigned m = type_mask(type);
        size_t n = json_is_array(type) ? json_array_size(type) : 1, nt = 0, cnt = 0;
        const char *nouns[ARRAY_SIZE(type_names)];
        for (size_t i = 0; i < n && nt < ARRAY_SIZE(nouns); i++) {
            const json_t *t = json_is_array(type) ? json_array_get(type, i) : type;
            unsigned bit = json_is_string(t) ? type_bit(json_string_value(t)) : 0;
            if (!bit || (bit == T_INT && (m & T_NUM)))
                continue;
            for (size_t k = 0; k < ARRAY_SIZE(type_names); k++)
                if (type_names[k].bit == bit)
                    nouns[nt++] = type_names[k].noun;
        }
        for (size_t i = 0; rc == 0 && i < nt; i++, cnt++)
            rc = buf_printf(&b, "%s%s", cnt == 0 ? "" : cnt + 1 == nt ? " or " : ", ", nouns[i]);
        if (rc == 0)
            rc = add_expect(r, e, VE_TYPE, &b, x);
        goto out; /* nothing else says anything useful about a value of the wrong type */
    }

    const json_t *en = json_object_get(s, "enum");
    if (json_is_array(en)) {
        size_t i, n = json_array_size(en);
        const json_t *v;
        bool found = false;
        json_array_foreach(en, i, v) if (json_same(v, x)) found = true;
        if (!found && n > 0) {
            rc = n == 1 ? 0 : buf_puts(&b, "one of ");
            for (i = 0; rc == 0 && i < n && i < MAX_LISTED; i++) {
                rc = i ? buf_puts(&b, ", ") : 0;
                if (rc == 0)
                    rc = put_value(&b, json_array_get(en, i));
            }
            if (rc == 0 && n > MAX_LISTED)
                rc = buf_printf(&b, ", ... (%zu values)", n);
            if (rc == 0)
                rc = add_expect(r, e, VE_EXPECT, &b, x);
            if (rc < 0 || STOPPED(e))
                goto out;
        }
    }
    const json_t *cst = json_object_get(s, "const");
    if (cst && !json_same(cst, x)) {
        buf_reset(&b);
        rc = put_value(&b, cst);
        if (rc == 0)
            rc = add_expect(r, e, VE_EXPECT, &b, x);
        if (rc < 0 || STOPPED(e))
            goto out;
    }

    if (json_is_number(x))
        rc = v_number(r, e, s, x);
    else if (json_is_string(x))
        rc = v_string(r, e, s, x);
    else if (json_is_array(x))
        rc = v_array(r, e, s, x, frames, idepth);
    else if (json_is_object(x))
        rc = v_object(r, e, s, x, frames, idepth);
    if (rc < 0 || STOPPED(e))
        goto out;

    rc = v_combinators(r, e, s, x, frames, idepth);
out:
    buf_release(&b);
    return rc;
}

/* ------------------------------------------------------------------ */
/* 5. public functions                                                 */

static int validate(const json_t *schema, const json_t *instance, const char *what, char **err, bool all)
{
    re_cache re = {0};
    vrun r = {.root = schema, .what = what ? what : "value", .re = &re, .path = BUF_INIT};
    elist e = {.keep = all ? SCHEMA_MAX_LINES : 1};
    buf out = BUF_INIT;
    int rc;
    if (!instance) {
        rc = err_set(err, -EINVAL, "%s: no value given (NULL)", r.what);
        goto out;
    }
    rc = check_with(schema, &re, err);
    if (rc < 0)
        goto out;
    r.max_steps = SCHEMA_MAX_STEPS + 8 * count_values(instance, 0);
    rc = v_node(&r, &e, schema, instance, 0, 0);
    if (rc == -ENOMEM)
        goto out;
    if (rc < 0) { /* a limit was hit: r.fatal says which */
        rc = err_set(err, -EINVAL, "%s", r.fatal);
        goto out;
    }
    if (e.total == 0)
        goto out;
    for (size_t i = 0; i < e.n; i++) {
        if ((i && buf_putc(&out, '\n') < 0) || format_line(&r, &e.v[i], &out) < 0) {
            rc = -ENOMEM;
            goto out;
        }
    }
    size_t more = e.total - e.n;
    if (more && buf_printf(&out, all ? "\n... and %zu more problem%s" : "; and %zu more problem%s", more,
                           more == 1 ? "" : "s") < 0) {
        rc = -ENOMEM;
        goto out;
    }
    rc = err_set(err, -EINVAL, "%s", buf_str(&out));
out:
    if (rc == -EINVAL && err && !*err) /* the message itself could not be allocated */
        rc = -ENOMEM;
    if (rc == -ENOMEM)
        err_set(err, -ENOMEM, "out of memory validating a %s", r.what);
    buf_release(&out);
    elist_release(&e);
    buf_release(&r.path);
    mem_free(r.fatal);
    re_cache_release(&re);
    return rc;
}

int schema_validate(const json_t *schema, const json_t *instance, const char *what, char **err)
{
    return validate(schema, instance, what, err, false);
}

int schema_validate_all(const json_t *schema, const json_t *instance, const char *what, char **errors)
{
    return validate(schema, instance, what, errors, true);
}
