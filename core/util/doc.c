#include "util/common.h"
#include "util/doc.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/jsonx.h"

/*
 * The line map: every node's JSON Pointer is stored NUL-terminated in one
 * arena; ents[] holds (offset, hash, line) in document order and slots[] is
 * an open-addressing hash table of 1-based indexes into ents[] (a power of
 * two, at most half full). Built in O(n), looked up in O(1).
 */
typedef struct line_ent {
    size_t off;
    uint32_t hash;
    int line;
} line_ent;

struct doc {
    char *file;
    json_t *root;
    char *arena;
    line_ent *ents;
    uint32_t *slots;
    size_t mask; /* number of slots - 1 */
};

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* State shared by both parsers while a doc is being built. */
typedef struct builder {
    const char *file;
    char **err;
    buf path;  /* JSON Pointer of the current node */
    buf arena; /* recorded pointers */
    line_ent *ents;
    size_t n, cap;
} builder;

static int fail_at(builder *b, int rc, size_t line, size_t col, const char *fmt, ...) PRINTF_LIKE(5, 6);

/* A message is one line: control characters (from keys, values, the file
 * name) become '?'. */
static int fail_at(builder *b, int rc, size_t line, size_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mem_vprintf(fmt, ap);
    va_end(ap);
    err_set(b->err, rc, "%s:%zu:%zu: %s", b->file, line, col ? col : 1, msg ? msg : "out of memory");
    mem_free(msg);
    if (b->err)
        jsonx_oneline(*b->err);
    return rc;
}

static int record(builder *b, size_t line)
{
    if (b->n >= DOC_MAX_NODES)
        return fail_at(b, -E2BIG, line, 0, "more than %d values in one document; split the file",
                       DOC_MAX_NODES);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        line_ent *e = mem_realloc(b->ents, cap * sizeof *e);
        if (!e)
            return -ENOMEM;
        b->ents = e;
        b->cap = cap;
    }
    size_t off = b->arena.len;
    if (buf_append(&b->arena, buf_str(&b->path), b->path.len + 1) < 0)
        return -ENOMEM;
    b->ents[b->n++] = (line_ent){.off = off,
                                 .hash = hash_str(buf_str(&b->path), b->path.len),
                                 .line = line > INT_MAX ? INT_MAX : (int)line};
    return 0;
}

static void path_truncate(builder *b, size_t len)
{
    if (b->path.data && len <= b->path.len) {
        b->path.len = len;
        b->path.data[len] = '\0';
    }
}

/* Append "/" + key with '~' -> "~0" and '/' -> "~1". */
static int path_push_key(builder *b, const char *key, size_t len)
{
    if (buf_putc(&b->path, '/') < 0)
        return -ENOMEM;
    while (len > 0) {
        size_t run = 0;
        while (run < len && key[run] != '~' && key[run] != '/')
            run++;
        if (buf_append(&b->path, key, run) < 0)
            return -ENOMEM;
        if (run < len && buf_append(&b->path, key[run] == '~' ? "~0" : "~1", 2) < 0)
            return -ENOMEM;
        if (run < len)
            run++;
        key += run;
        len -= run;
    }
    return 0;
}

static int path_push_index(builder *b, size_t i)
{
    char num[24];
    size_t n = sizeof num;
    do
        num[--n] = (char)('0' + i % 10);
    while ((i /= 10) != 0);
    num[--n] = '/';
    return buf_append(&b->path, num + n, sizeof num - n) < 0 ? -ENOMEM : 0;
}


static void builder_release(builder *b)
{
    buf_release(&b->path);
    buf_release(&b->arena);
    mem_free(b->ents);
}

/* ------------------------------------------------------------------ JSON */

/* A recursive-descent JSON parser (RFC 8259) that builds the jansson tree
 * and records lines in the same pass; recursion is bounded by
 * DOC_MAX_DEPTH. Its own parser rather than json_loadb: jansson reports a
 * failed allocation as a syntax error, and its positions are token ends. */
typedef struct jparse {
    builder *b;
    const char *p, *end, *line_start;
    size_t line;
    int depth;
    buf tmp; /* the last string or number read */
} jparse;

static int jerr(jparse *s, const char *fmt, ...) PRINTF_LIKE(2, 3);

static int jerr(jparse *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mem_vprintf(fmt, ap);
    va_end(ap);
    int rc = fail_at(s->b, -EINVAL, s->line, (size_t)(s->p - s->line_start) + 1, "%s",
                     msg ? msg : "JSON syntax error");
    mem_free(msg);
    return rc;
}

static void jskip_ws(jparse *s)
{
    while (s->p < s->end) {
        char c = *s->p;
        if (c == '\n') {
            s->line++;
            s->line_start = s->p + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            break;
        }
        s->p++;
    }
}

/* The character at p, printable, for messages. */
static const char *jchar(const jparse *s, char out[8])
{
    unsigned char c = (unsigned char)*s->p;
    if (c >= 0x21 && c < 0x7f)
        snprintf(out, 8, "'%c'", c);
    else
        snprintf(out, 8, "0x%02x", c);
    return out;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Read the string at s->p ('"') into s->tmp (valid UTF-8, no NUL). */
static int jstring(jparse *s)
{
    buf_reset(&s->tmp);
    s->p++;
    for (;;) {
        const char *run = s->p;
        while (s->p < s->end && (unsigned char)*s->p >= 0x20 && (unsigned char)*s->p < 0x80 && *s->p != '"' &&
               *s->p != '\\')
            s->p++;
        if (s->p > run && buf_append(&s->tmp, run, (size_t)(s->p - run)) < 0)
            return -ENOMEM;
        if (s->p >= s->end)
            return jerr(s, "unterminated string; close it with '\"'");
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return jerr(s, "control character 0x%02x in a string; write it as an escape such as \\n or \\u%04x", c,
                        c);
        if (c >= 0x80) {
            size_t k = jsonx_utf8_seq(s->p, (size_t)(s->end - s->p));
            if (!k)
                return jerr(s, "invalid UTF-8 in a string; save the file as UTF-8");
            if (buf_append(&s->tmp, s->p, k) < 0)
                return -ENOMEM;
            s->p += k;
            continue;
        }
        /* a backslash */
        if (s->end - s->p < 2)
            return jerr(s, "unterminated string; close it with '\"'");
        char e = s->p[1], out;
        switch (e) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(s->p + 2, s->end, &cp) < 0)
                return jerr(s, "invalid \\u escape; write four hex digits, e.g. \\u00e9");
            if (cp >= 0xDC00 && cp < 0xE000)
                return jerr(s, "invalid \\u escape: unpaired low surrogate \\u%04x", cp);
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (s->end - s->p < 12 || s->p[6] != '\\' || s->p[7] != 'u' || hex4(s->p + 8, s->end, &lo) < 0 ||
                    lo < 0xDC00 || lo >= 0xE000)
                    return jerr(s, "invalid \\u escape: high surrogate \\u%04x without a low one", cp);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                s->p += 6;
            }
            if (cp == 0)
                return jerr(s, "\\u0000 (NUL) is not allowed in strings; remove it");
            int rc = jsonx_put_utf8(&s->tmp, cp);
            if (rc < 0)
                return rc;
            s->p += 6;
            continue;
        }
        default:
            return jerr(s, "invalid escape '\\%c' in a string; use \\\\ for a backslash",
                        (unsigned char)e >= 0x20 && (unsigned char)e < 0x7f ? e : '?');
        }
        if (buf_putc(&s->tmp, out) < 0)
            return -ENOMEM;
        s->p += 2;
    }
}

static bool jdigit(const jparse *s) { return s->p < s->end && *s->p >= '0' && *s->p <= '9'; }

static int jnumber(jparse *s, json_t **out)
{
    const char *start = s->p;
    bool is_int = true;
    if (*s->p == '-')
        s->p++;
    if (!jdigit(s))
        return jerr(s, "invalid number: expected a digit");
    if (*s->p == '0') {
        s->p++;
        if (jdigit(s))
            return jerr(s, "invalid number: leading zeros are not allowed in JSON");
    } else {
        while (jdigit(s))
            s->p++;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        is_int = false;
        if (!jdigit(s))
            return jerr(s, "invalid number: expected a digit after '.'");
        while (jdigit(s))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        is_int = false;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!jdigit(s))
            return jerr(s, "invalid number: expected a digit in the exponent");
        while (jdigit(s))
            s->p++;
    }
    buf_reset(&s->tmp);
    if (buf_append(&s->tmp, start, (size_t)(s->p - start)) < 0)
        return -ENOMEM;
    const char *num = buf_str(&s->tmp);
    errno = 0;
    if (is_int) {
        long long v = strtoll(num, NULL, 10);
        if (errno == ERANGE) {
            const char *save = s->p;
            s->p = start;
            int rc = jerr(s,
                          "integer %.40s%s does not fit in 64 bits (%" PRId64 "..%" PRId64
                          "); quote it to keep it as a string",
                          num, s->tmp.len > 40 ? "..." : "", (int64_t)INT64_MIN, (int64_t)INT64_MAX);
            s->p = save;
            return rc;
        }
        *out = json_integer((json_int_t)v);
    } else {
        double v = strtod(num, NULL);
        if (errno == ERANGE && (v > 1.0 || v < -1.0)) {
            s->p = start;
            return jerr(s, "number %.40s%s is out of range; quote it to keep it as a string", num,
                        s->tmp.len > 40 ? "..." : "");
        }
        *out = json_real(v);
    }
    return *out ? 0 : -ENOMEM;
}

static int jvalue(jparse *s, json_t **out);

static int jcontainer(jparse *s, bool obj, json_t **out)
{
    builder *b = s->b;
    if (++s->depth > DOC_MAX_DEPTH) {
        s->depth--;
        return fail_at(b, -E2BIG, s->line, (size_t)(s->p - s->line_start) + 1,
                       "nesting deeper than %d levels; flatten the document", DOC_MAX_DEPTH);
    }
    char close = obj ? '}' : ']';
    size_t base = b->path.len, index = 0;
    char *key = NULL;
    json_t *v = NULL, *node = obj ? json_object() : json_array();
    int rc = 0;
    if (!node) {
        rc = -ENOMEM;
        goto out;
    }
    s->p++;
    jskip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        goto out;
    }
    for (;;) {
        jskip_ws(s);
        if (obj) {
            if (s->p >= s->end || *s->p != '"') {
                rc = s->p >= s->end ? jerr(s, "unexpected end of input; close the object with '}'")
                                    : jerr(s, "expected a key in double quotes%s",
                                           *s->p == '}' ? " (no comma before '}')" : "");
                goto out;
            }
            size_t line = s->line, col = (size_t)(s->p - s->line_start) + 1;
            if ((rc = jstring(s)) < 0)
                goto out;
            if (json_object_get(node, buf_str(&s->tmp))) {
                rc = fail_at(b, -EINVAL, line, col, "duplicate key \"%s\"; each key may appear only once in an object",
                             jsonx_clipped(buf_str(&s->tmp)).s);
                goto out;
            }
            if (!(key = mem_strndup(buf_str(&s->tmp), s->tmp.len)) || (rc = path_push_key(b, key, s->tmp.len)) < 0 ||
                (rc = record(b, line)) < 0) {
                rc = rc ? rc : -ENOMEM;
                goto out;
            }
            jskip_ws(s);
            if (s->p >= s->end || *s->p != ':') {
                rc = jerr(s, "expected ':' after the key \"%s\"", jsonx_clipped(key).s);
                goto out;
            }
            s->p++;
        } else {
            jskip_ws(s);
            if ((rc = path_push_index(b, index++)) < 0 || (rc = record(b, s->line)) < 0)
                goto out;
        }
        if ((rc = jvalue(s, &v)) < 0)
            goto out;
        rc = obj ? json_object_set_new_nocheck(node, key, v) : json_array_append_new(node, v);
        v = NULL;
        mem_free(key);
        key = NULL;
        if (rc < 0) {
            rc = -ENOMEM;
            goto out;
        }
        path_truncate(b, base);
        jskip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            break;
        }
        rc = s->p >= s->end ? jerr(s, "unexpected end of input; close the %s with '%c'", obj ? "object" : "array",
                                   close)
                            : jerr(s, "expected ',' or '%c'", close);
        goto out;
    }
out:
    mem_free(key);
    s->depth--;
    if (rc < 0) {
        json_decref(node);
        return rc;
    }
    *out = node;
    return 0;
}

static int jvalue(jparse *s, json_t **out)
{
    char ch[8];
    *out = NULL;
    jskip_ws(s);
    if (s->p >= s->end)
        return jerr(s, "unexpected end of input; a value is missing");
    switch (*s->p) {
    case '{':
        return jcontainer(s, true, out);
    case '[':
        return jcontainer(s, false, out);
    case '"': {
        int rc = jstring(s);
        if (rc < 0)
            return rc;
        *out = json_stringn_nocheck(buf_str(&s->tmp), s->tmp.len);
        return *out ? 0 : -ENOMEM;
    }
    case 't':
    case 'f':
    case 'n': {
        static const char *const lit[] = {"true", "false", "null"};
        for (size_t i = 0; i < ARRAY_SIZE(lit); i++) {
            size_t n = strlen(lit[i]);
            if ((size_t)(s->end - s->p) >= n && !memcmp(s->p, lit[i], n)) {
                s->p += n;
                *out = i == 0 ? json_true() : i == 1 ? json_false() : json_null();
                return 0;
            }
        }
        return jerr(s, "invalid literal; write true, false or null, or quote a string");
    }
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return jnumber(s, out);
        return jerr(s, "unexpected character %s; expected a value (a string needs double quotes)", jchar(s, ch));
    }
}

static int parse_json(builder *b, const char *text, size_t len, json_t **root)
{
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 byte order mark */
        text += 3;
        len -= 3;
    }
    jparse s = {.b = b, .p = text, .end = text + len, .line_start = text, .line = 1};
    char ch[8];
    json_t *v = NULL;
    jskip_ws(&s);
    int rc = record(b, s.line);
    if (rc == 0 && s.p >= s.end)
        rc = jerr(&s, "the document is empty; write {} for an empty object");
    if (rc == 0)
        rc = jvalue(&s, &v);
    if (rc == 0) {
        jskip_ws(&s);
        if (s.p < s.end)
            rc = jerr(&s, "unexpected %s after the JSON value; a file holds exactly one value", jchar(&s, ch));
    }
    buf_release(&s.tmp);
    if (rc < 0) {
        json_decref(v);
        return rc;
    }
    *root = v;
    return 0;
}

/* ------------------------------------------------------------------ YAML */

/* One open container while YAML events are turned into a tree. */
typedef struct yframe {
    json_t *node;
    bool is_map;
    char *key;      /* a mapping's key whose value is pending */
    size_t base;    /* path length of the container itself */
    size_t index;   /* next sequence index */
} yframe;

typedef struct yparse {
    builder *b;
    yframe st[DOC_MAX_DEPTH];
    int top; /* number of open frames */
    json_t *root;
} yparse;

static bool all_digits(const char *s, const char *digits)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr(digits, *s))
            return false;
    return true;
}

static bool is_yaml_float(const char *s)
{
    /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
    if (*s == '-' || *s == '+')
        s++;
    bool mant = false;
    while (*s >= '0' && *s <= '9')
        s++, mant = true;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9')
            s++, mant = true;
    }
    if (!mant)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

enum { YT_ANY, YT_STR, YT_INT, YT_FLOAT, YT_BOOL, YT_NULL };

/* Resolve a plain scalar (YAML 1.2 core schema). want != YT_ANY forces a
 * type from an explicit !!tag. Returns 0, -EINVAL (*why set) or -ENOMEM. */
static int resolve_scalar(const char *s, size_t len, int want, json_t **out, const char **why)
{
    *out = NULL;
    if (want == YT_STR)
        goto string;
    /* most scalars are plain words: only a few first characters can start a non-string */
    if (want == YT_ANY && !strchr("~nNtTfF0123456789+-.", s[0]) && s[0])
        goto string;
    if (!strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL")) {
        if (want != YT_ANY && want != YT_NULL)
            goto mismatch;
        *out = json_null();
        return 0;
    }
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "false") ||
        !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        if (want != YT_ANY && want != YT_BOOL)
            goto mismatch;
        *out = json_boolean(s[0] == 't' || s[0] == 'T');
        return 0;
    }
    if (want == YT_NULL || want == YT_BOOL)
        goto mismatch;
    const char *digits = s[0] == '-' || s[0] == '+' ? s + 1 : s;
    int base = 0;
    if (all_digits(digits, "0123456789"))
        base = 10;
    else if (!strncmp(s, "0o", 2) && all_digits(s + 2, "01234567"))
        base = 8;
    else if (!strncmp(s, "0x", 2) && all_digits(s + 2, "0123456789abcdefABCDEF"))
        base = 16;
    if (base) {
        errno = 0;
        char *end;
        long long v = strtoll(base == 10 ? s : s + 2, &end, base);
        if (errno == ERANGE || *end) {
            *why = "integer out of range (-9223372036854775808..9223372036854775807); quote it to keep it as "
                   "a string";
            return -EINVAL;
        }
        *out = want == YT_FLOAT ? json_real((double)v) : json_integer((json_int_t)v);
        return *out ? 0 : -ENOMEM;
    }
    if (want == YT_INT)
        goto mismatch;
    bool special = !strcmp(s + (s[0] == '-' || s[0] == '+'), ".inf") ||
                   !strcmp(s + (s[0] == '-' || s[0] == '+'), ".Inf") ||
                   !strcmp(s + (s[0] == '-' || s[0] == '+'), ".INF") || !strcmp(s, ".nan") || !strcmp(s, ".NaN") ||
                   !strcmp(s, ".NAN");
    if (special) {
        *why = "infinity and NaN cannot be represented in JSON; quote the value to keep it as a string";
        return -EINVAL;
    }
    if (is_yaml_float(s)) {
        errno = 0;
        double v = strtod(s, NULL);
        if (errno == ERANGE && (v > 1.0 || v < -1.0)) {
            *why = "number out of range; quote it to keep it as a string";
            return -EINVAL;
        }
        *out = json_real(v);
        return *out ? 0 : -ENOMEM;
    }
    if (want == YT_FLOAT)
        goto mismatch;
string:
    *out = json_stringn_nocheck(s, len);
    return *out ? 0 : -ENOMEM;
mismatch:
    *why = "the value does not match its tag; remove the tag or fix the value";
    return -EINVAL;
}

static int tag_type(const char *tag, bool *ok, bool container)
{
    *ok = true;
    if (!tag || !strcmp(tag, "!"))
        return container ? YT_ANY : YT_STR;
    static const struct {
        const char *tag;
        int type;
    } known[] = {
        {"tag:yaml.org,2002:str", YT_STR},     {"tag:yaml.org,2002:int", YT_INT},
        {"tag:yaml.org,2002:float", YT_FLOAT}, {"tag:yaml.org,2002:bool", YT_BOOL},
        {"tag:yaml.org,2002:null", YT_NULL},   {"tag:yaml.org,2002:seq", -1},
        {"tag:yaml.org,2002:map", -2},
    };
    for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
        if (!strcmp(tag, known[i].tag)) {
            if (container ? known[i].type >= 0 : known[i].type < 0)
                break;
            return known[i].type < 0 ? YT_ANY : known[i].type;
        }
    }
    *ok = false;
    return YT_ANY;
}

/* A value starts at line: record its pointer (in a sequence, push its index). */
static int ybegin(yparse *y, size_t line)
{
    if (y->top == 0)
        return record(y->b, line);
    yframe *f = &y->st[y->top - 1];
    if (f->is_map)
        return 0; /* recorded at its key */
    int rc = path_push_index(y->b, f->index++);
    return rc < 0 ? rc : record(y->b, line);
}

/* A value is complete: attach it to its parent (stealing v). */
static int yend(yparse *y, json_t *v)
{
    if (y->top == 0) {
        y->root = v;
        return 0;
    }
    yframe *f = &y->st[y->top - 1];
    int rc;
    if (f->is_map) {
        rc = json_object_set_new_nocheck(f->node, f->key, v);
        mem_free(f->key);
        f->key = NULL;
    } else {
        rc = json_array_append_new(f->node, v);
    }
    path_truncate(y->b, f->base);
    return rc < 0 ? -ENOMEM : 0;
}

static int yscalar(yparse *y, yaml_event_t *ev)
{
    builder *b = y->b;
    size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (!jsonx_utf8_valid(s, len))
        return fail_at(b, -EINVAL, line, col, "a string contains a NUL character or invalid UTF-8; remove it");
    bool tag_ok;
    int want = tag_type((const char *)ev->data.scalar.tag, &tag_ok, false);
    if (!tag_ok)
        return fail_at(b, -EINVAL, line, col, "tag '%s' is not supported; remove it",
                       jsonx_clipped((const char *)ev->data.scalar.tag).s);
    yframe *f = y->top ? &y->st[y->top - 1] : NULL;
    if (f && f->is_map && !f->key) { /* a key */
        if (json_object_get(f->node, s))
            return fail_at(b, -EINVAL, line, col, "duplicate key '%s'; each key may appear only once in a mapping",
                           jsonx_clipped(s).s);
        if (!(f->key = mem_strndup(s, len)))
            return -ENOMEM;
        int rc = path_push_key(b, s, len);
        return rc < 0 ? rc : record(b, line);
    }
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag)
        want = YT_ANY;
    json_t *v;
    const char *why = NULL;
    int rc = resolve_scalar(s, len, want, &v, &why);
    if (rc == -EINVAL)
        return fail_at(b, rc, line, col, "'%s': %s", jsonx_clipped(s).s, why);
    if (rc < 0)
        return rc;
    if ((rc = ybegin(y, line)) < 0) {
        json_decref(v);
        return rc;
    }
    return yend(y, v);
}

static int ystart(yparse *y, yaml_event_t *ev, bool is_map)
{
    builder *b = y->b;
    size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
    const char *tag = is_map ? (const char *)ev->data.mapping_start.tag : (const char *)ev->data.sequence_start.tag;
    bool tag_ok;
    tag_type(tag, &tag_ok, true);
    if (!tag_ok)
        return fail_at(b, -EINVAL, line, col, "tag '%s' is not supported; remove it", jsonx_clipped(tag).s);
    yframe *f = y->top ? &y->st[y->top - 1] : NULL;
    if (f && f->is_map && !f->key)
        return fail_at(b, -EINVAL, line, col, "a mapping key must be a plain string, not a %s; use a string key",
                       is_map ? "mapping" : "sequence");
    if (y->top >= DOC_MAX_DEPTH)
        return fail_at(b, -E2BIG, line, col, "nesting deeper than %d levels; flatten the document", DOC_MAX_DEPTH);
    int rc = ybegin(y, line);
    if (rc < 0)
        return rc;
    json_t *node = is_map ? json_object() : json_array();
    if (!node)
        return -ENOMEM;
    y->st[y->top++] = (yframe){.node = node, .is_map = is_map, .base = b->path.len};
    return 0;
}

static int parse_yaml(builder *b, const char *text, size_t len, json_t **root)
{
    yaml_parser_t p;
    yparse y = {.b = b};
    int rc = 0, docs = 0;
    bool done = false;
    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            if (p.error == YAML_MEMORY_ERROR) {
                rc = -ENOMEM;
            } else {
                yaml_mark_t m = p.problem_mark;
                if (p.error == YAML_READER_ERROR) { /* encoding problems report a byte offset only */
                    size_t off = p.problem_offset < len ? p.problem_offset : len, line = 1, col = 1;
                    for (size_t i = 0; i < off; i++, col++)
                        if (text[i] == '\n')
                            line++, col = 0;
                    rc = fail_at(b, -EINVAL, line, col, "%s (byte %zu); save the file as UTF-8 text",
                                 p.problem ? p.problem : "cannot read", p.problem_offset);
                } else {
                    rc = fail_at(b, -EINVAL, m.line + 1, m.column + 1, "%s%s%s%s",
                                 p.problem ? p.problem : "syntax error", p.context ? " (" : "",
                                 p.context ? p.context : "", p.context ? ")" : "");
                }
            }
            break;
        }
        size_t line = ev.start_mark.line + 1, col = ev.start_mark.column + 1;
        const char *anchor = NULL;
        switch (ev.type) {
        case YAML_SCALAR_EVENT:
            anchor = (const char *)ev.data.scalar.anchor;
            break;
        case YAML_SEQUENCE_START_EVENT:
            anchor = (const char *)ev.data.sequence_start.anchor;
            break;
        case YAML_MAPPING_START_EVENT:
            anchor = (const char *)ev.data.mapping_start.anchor;
            break;
        default:
            break;
        }
        if (anchor) {
            rc = fail_at(b, -EINVAL, line, col, "anchors (&%s) are not supported; write the value out in full",
                         jsonx_clipped(anchor).s);
            yaml_event_delete(&ev);
            break;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                rc = fail_at(b, -EINVAL, line, col, "more than one document ('---'); keep one document per file");
            break;
        case YAML_ALIAS_EVENT:
            rc = fail_at(b, -EINVAL, line, col, "aliases (*%s) are not supported; write the value out in full",
                         jsonx_clipped((const char *)ev.data.alias.anchor).s);
            break;
        case YAML_SCALAR_EVENT:
            rc = yscalar(&y, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = ystart(&y, &ev, false);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = ystart(&y, &ev, true);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (y.top > 0) {
                json_t *node = y.st[--y.top].node;
                rc = yend(&y, node);
            }
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    while (y.top > 0) {
        yframe *f = &y.st[--y.top];
        json_decref(f->node);
        mem_free(f->key);
    }
    if (rc < 0) {
        json_decref(y.root);
        return rc;
    }
    if (!y.root) { /* an empty stream */
        if ((rc = record(b, 1)) < 0)
            return rc;
        y.root = json_null();
    }
    *root = y.root;
    return 0;
}

/* ---------------------------------------------------------------- public */

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static int pick_format(const char *text, size_t len, const char *filename, int format)
{
    if (format == DOC_JSON || format == DOC_YAML)
        return format;
    if (filename && has_suffix(filename, ".json"))
        return DOC_JSON;
    if (filename && (has_suffix(filename, ".yaml") || has_suffix(filename, ".yml")))
        return DOC_YAML;
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    return i < len && (text[i] == '{' || text[i] == '[') ? DOC_JSON : DOC_YAML;
}

int doc_parse(const char *text, size_t len, const char *filename, int format, doc **out, char **err)
{
    builder b = {.file = filename ? filename : "<input>", .err = err};
    doc *d = NULL;
    json_t *root = NULL;
    int rc;
    if (!out || (!text && len) || format < DOC_AUTO || format > DOC_YAML)
        return err_set(err, -EINVAL, "doc_parse: invalid arguments");
    *out = NULL;
    if (!text)
        text = "";
    if (len > DOC_MAX_BYTES) {
        rc = err_set(err, -E2BIG, "%s: %zu bytes is larger than the limit of %u bytes; split the file", b.file,
                     len, DOC_MAX_BYTES);
        goto out;
    }
    if (!(d = mem_calloc(1, sizeof *d)) || !(d->file = mem_strdup(b.file))) {
        rc = -ENOMEM;
        goto out;
    }
    if (pick_format(text, len, filename, format) == DOC_JSON)
        rc = parse_json(&b, text, len, &root);
    else
        rc = parse_yaml(&b, text, len, &root);
    if (rc < 0)
        goto out;
    d->root = root;
    root = NULL;
    d->arena = buf_detach(&b.arena);
    if (!d->arena) {
        rc = -ENOMEM;
        goto out;
    }
    size_t nslots = 16;
    while (nslots < 2 * b.n)
        nslots *= 2;
    if (!(d->slots = mem_calloc(nslots, sizeof *d->slots))) {
        rc = -ENOMEM;
        goto out;
    }
    d->mask = nslots - 1;
    for (size_t i = 0; i < b.n; i++) { /* pointers are unique: duplicate keys are errors */
        size_t k = b.ents[i].hash & d->mask;
        while (d->slots[k])
            k = (k + 1) & d->mask;
        d->slots[k] = (uint32_t)(i + 1);
    }
    d->ents = b.ents;
    b.ents = NULL;
    *out = d;
    d = NULL;
out:
    if (rc == -ENOMEM)
        err_set(err, rc, "%s: out of memory", b.file);
    builder_release(&b);
    json_decref(root);
    doc_free(d);
    return rc;
}

int doc_load(const char *path, int format, doc **out, char **err)
{
    int fd = -1, rc;
    char *text = NULL;
    size_t len = 0, cap = 0;
    if (!path || !out)
        return err_set(err, -EINVAL, "doc_load: invalid arguments");
    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = -errno;
        err_set(err, rc, "%s: cannot open: %s; check the path and its permissions", path, strerror(-rc));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        err_set(err, rc, "%s: cannot stat: %s", path, strerror(-rc));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = err_set(err, -EISDIR, "%s: is a directory; name a file", path);
        goto out;
    }
    if (S_ISREG(st.st_mode) && st.st_size > (off_t)DOC_MAX_BYTES) {
        rc = err_set(err, -E2BIG, "%s: %jd bytes is larger than the limit of %u bytes; split the file", path,
                     (intmax_t)st.st_size, DOC_MAX_BYTES);
        goto out;
    }
    cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
    if (!(text = mem_alloc(cap))) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        if (len == cap) {
            if (cap > DOC_MAX_BYTES) {
                rc = err_set(err, -E2BIG, "%s: larger than the limit of %u bytes; split the file", path,
                             DOC_MAX_BYTES);
                goto out;
            }
            size_t ncap = cap * 2 > DOC_MAX_BYTES + 1 ? DOC_MAX_BYTES + 1 : cap * 2;
            char *t = mem_realloc(text, ncap);
            if (!t) {
                rc = -ENOMEM;
                goto out;
            }
            text = t;
            cap = ncap;
        }
        ssize_t n = read(fd, text + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            err_set(err, rc, "%s: cannot read: %s", path, strerror(-rc));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > DOC_MAX_BYTES) {
        rc = err_set(err, -E2BIG, "%s: larger than the limit of %u bytes; split the file", path, DOC_MAX_BYTES);
        goto out;
    }
    rc = doc_parse(text, len, path, format, out, err);
out:
    if (rc == -ENOMEM)
        err_set(err, rc, "%s: out of memory", path);
    if (fd >= 0)
        close(fd);
    mem_free(text);
    return rc;
}

json_t *doc_root(const doc *d) { return d ? d->root : NULL; }

const char *doc_file(const doc *d) { return d ? d->file : NULL; }

int doc_line(const doc *d, const char *pointer)
{
    if (!d || !pointer)
        return 0;
    if (!d->slots)
        return 0;
    uint32_t h = hash_str(pointer, strlen(pointer));
    for (size_t k = h & d->mask; d->slots[k]; k = (k + 1) & d->mask) {
        const line_ent *e = &d->ents[d->slots[k] - 1];
        if (e->hash == h && !strcmp(pointer, d->arena + e->off))
            return e->line;
    }
    return 0;
}

void doc_free(doc *d)
{
    if (!d)
        return;
    json_decref(d->root);
    mem_free(d->file);
    mem_free(d->arena);
    mem_free(d->ents);
    mem_free(d->slots);
    mem_free(d);
}
