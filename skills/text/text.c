/*
 * text — the first-party text skill pack: count, replace, match, head,
 * tail. Each skill works on a "text" argument or on a file ("path", opened
 * through the host's fs_open); replace with a path writes the file back
 * atomically. Regular expressions are POSIX extended (regcomp) with
 * REG_NEWLINE: "^" and "$" match at line boundaries. Offsets are in
 * characters (Unicode code points). Reference: docs/skills.md.
 */
#include <locale.h>
#include <regex.h>

#include "../common/skill_io.h"

#define TEXT_MAX_OUT (64u * 1024 * 1024) /* largest text replace may produce */
#define TEXT_MAX_GROUPS 10

/* Regexes run in a UTF-8 locale (per thread, with uselocale) so that "."
 * and bracket expressions match whole characters; (locale_t)0 if the
 * system has none, and then matching is bytewise. */
static locale_t utf8_locale;

static locale_t enter_utf8(void)
{
    return utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
}

static void leave_utf8(locale_t old)
{
    if (utf8_locale)
        uselocale(old);
}

static int32_t compile(venom_ctx *call, regex_t *re, const char *pattern, bool icase, bool nosub)
{
    int e = regcomp(re, pattern, REG_EXTENDED | REG_NEWLINE | (icase ? REG_ICASE : 0) | (nosub ? REG_NOSUB : 0));
    if (e == 0)
        return VENOM_OK;
    char msg[256];
    regerror(e, re, msg, sizeof msg);
    return sk_fail(call, VENOM_E_INVAL, "pattern '%s' is not a valid POSIX extended regex: %s", pattern, msg);
}

/* Flags for regexec at byte offset off of s. */
static int exec_flags(const char *s, size_t off)
{
    return off > 0 && s[off - 1] != '\n' ? REG_NOTBOL : 0;
}

/* Length of the UTF-8 character at s (1 for the terminating NUL). */
static size_t char_len(const char *s)
{
    unsigned c = (unsigned char)*s;
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    for (size_t i = 1; i < n; i++)
        if (!s[i])
            return i;
    return n;
}

/* ------------------------------------------------------------ count */

static int32_t text_count(venom_ctx *call, json_t *args)
{
    char *text = NULL;
    size_t len = 0;
    const char *path = NULL;
    int32_t rc = sk_text_or_path(call, args, &text, &len, &path);
    if (rc != VENOM_OK)
        goto out;
    size_t lines = 0, words = 0;
    bool in_word = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n')
            lines++;
        bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
        if (!space && !in_word)
            words++;
        in_word = !space;
    }
    if (len > 0 && text[len - 1] != '\n')
        lines++; /* a last line without its newline still counts */
    rc = sk_result(call, json_pack("{s:I,s:I,s:I,s:I}", "lines", (json_int_t)lines, "words", (json_int_t)words,
                                   "bytes", (json_int_t)len, "chars", (json_int_t)sk_utf8_count(text, len)));
out:
    free(text);
    return rc;
}

/* ------------------------------------------------------------ replace */

typedef struct out_buf {
    char *p;
    size_t len, cap;
} out_buf;

static bool ob_put(out_buf *o, const char *s, size_t n)
{
    if (o->len + n > TEXT_MAX_OUT)
        return false;
    if (o->len + n + 1 > o->cap) {
        size_t nc = o->cap ? o->cap : 256;
        while (nc < o->len + n + 1)
            nc *= 2;
        char *np = realloc(o->p, nc);
        if (!np)
            return false;
        o->p = np, o->cap = nc;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
    return true;
}

/* Append the replacement, expanding \0..\9 (groups) and \\ (a backslash). */
static bool put_replacement(out_buf *o, const char *rep, const char *subject, const regmatch_t *m, size_t nm)
{
    for (const char *r = rep; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '9' && m) {
            size_t g = (size_t)(r[1] - '0');
            if (g < nm && m[g].rm_so >= 0 &&
                !ob_put(o, subject + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so)))
                return false;
            r++;
        } else if (r[0] == '\\' && r[1] == '\\' && m) {
            if (!ob_put(o, "\\", 1))
                return false;
            r++;
        } else if (!ob_put(o, r, 1)) {
            return false;
        }
    }
    return true;
}

static int32_t text_replace(venom_ctx *call, json_t *args)
{
    char *text = NULL;
    size_t len = 0;
    const char *path = NULL, *find, *rep;
    bool use_regex, all, icase, compiled = false;
    regex_t re;
    out_buf o = {0};
    size_t count = 0;
    locale_t old = enter_utf8();
    int32_t rc = sk_req_str(call, args, "find", &find);
    if (rc == VENOM_OK)
        rc = sk_req_str(call, args, "replace", &rep);
    if (rc == VENOM_OK)
        rc = sk_opt_bool(call, args, "regex", false, &use_regex);
    if (rc == VENOM_OK)
        rc = sk_opt_bool(call, args, "all", true, &all);
    if (rc == VENOM_OK)
        rc = sk_opt_bool(call, args, "ignore_case", false, &icase);
    if (rc != VENOM_OK)
        goto out;
    if (!*find) {
        rc = sk_fail(call, VENOM_E_INVAL, "argument 'find' is empty; give the text to replace");
        goto out;
    }
    if (use_regex) {
        if ((rc = compile(call, &re, find, icase, false)) != VENOM_OK)
            goto out;
        compiled = true;
    }
    if ((rc = sk_text_or_path(call, args, &text, &len, &path)) != VENOM_OK)
        goto out;
    if (!ob_put(&o, "", 0)) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        goto out;
    }
    size_t pos = 0, flen = strlen(find);
    bool ok = true;
    while (pos <= len && ok && (all || count == 0)) {
        size_t ms, me;
        regmatch_t m[TEXT_MAX_GROUPS];
        if (use_regex) {
            if (regexec(&re, text + pos, TEXT_MAX_GROUPS, m, exec_flags(text, pos)) != 0)
                break;
            ms = pos + (size_t)m[0].rm_so;
            me = pos + (size_t)m[0].rm_eo;
        } else {
            const char *hit = icase ? strcasestr(text + pos, find) : strstr(text + pos, find);
            if (!hit)
                break;
            ms = (size_t)(hit - text);
            me = ms + flen;
        }
        ok = ob_put(&o, text + pos, ms - pos) &&
             put_replacement(&o, rep, text + pos, use_regex ? m : NULL, TEXT_MAX_GROUPS);
        count++;
        if (me == ms) { /* an empty match: keep one character and move on */
            if (ms >= len)
                break;
            size_t cl = char_len(text + ms);
            ok = ok && ob_put(&o, text + ms, cl);
            me = ms + cl;
        }
        pos = me;
    }
    if (ok && pos < len)
        ok = ob_put(&o, text + pos, len - pos);
    if (!ok) {
        rc = sk_fail(call, o.len + 1024 > TEXT_MAX_OUT ? VENOM_E_TOOBIG : VENOM_E_NOMEM,
                     "the replaced text would exceed %u bytes", TEXT_MAX_OUT);
        goto out;
    }
    if (!sk_utf8_valid(o.p, o.len, NULL)) {
        rc = sk_fail(call, VENOM_E_FAILED, "the replaced text is not valid UTF-8 (the pattern split a multi-byte "
                                           "character); match whole characters");
        goto out;
    }
    if (path) {
        if (count > 0 && (rc = sk_write_file(call, path, o.p, o.len, false, false)) != VENOM_OK)
            goto out;
        rc = sk_result(call, json_pack("{s:s,s:I,s:I}", "path", path, "replacements", (json_int_t)count, "bytes",
                                       (json_int_t)o.len));
    } else {
        rc = sk_result(call, json_pack("{s:s%,s:I}", "text", o.p, o.len, "replacements", (json_int_t)count));
    }
out:
    if (compiled)
        regfree(&re);
    free(o.p);
    free(text);
    leave_utf8(old);
    return rc;
}

/* ------------------------------------------------------------ match */

static int32_t text_match(venom_ctx *call, json_t *args)
{
    json_t *matches = NULL;
    char *text = NULL;
    size_t len = 0;
    const char *path = NULL, *pattern;
    bool all, icase, compiled = false;
    long long max;
    regex_t re;
    locale_t old = enter_utf8();
    int32_t rc = sk_req_str(call, args, "pattern", &pattern);
    if (rc == VENOM_OK)
        rc = sk_opt_bool(call, args, "all", true, &all);
    if (rc == VENOM_OK)
        rc = sk_opt_bool(call, args, "ignore_case", false, &icase);
    if (rc == VENOM_OK)
        rc = sk_opt_int(call, args, "max_matches", 1000, 1, 100000, &max);
    if (rc != VENOM_OK)
        goto out;
    if ((rc = compile(call, &re, pattern, icase, false)) != VENOM_OK)
        goto out;
    compiled = true;
    if ((rc = sk_text_or_path(call, args, &text, &len, &path)) != VENOM_OK)
        goto out;
    if (!(matches = json_array())) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        goto out;
    }
    size_t ngroups = re.re_nsub < TEXT_MAX_GROUPS - 1 ? re.re_nsub : TEXT_MAX_GROUPS - 1;
    size_t pos = 0, chars = 0; /* chars = code points in text[0..pos) */
    bool truncated = false;
    while (pos <= len) {
        regmatch_t m[TEXT_MAX_GROUPS];
        if (regexec(&re, text + pos, TEXT_MAX_GROUPS, m, exec_flags(text, pos)) != 0)
            break;
        if (json_array_size(matches) >= (size_t)max) {
            truncated = true;
            break;
        }
        size_t ms = pos + (size_t)m[0].rm_so, me = pos + (size_t)m[0].rm_eo;
        size_t start = chars + sk_utf8_count(text + pos, ms - pos);
        size_t end = start + sk_utf8_count(text + ms, me - ms);
        bool utf8 = sk_utf8_valid(text + ms, me - ms, NULL);
        json_t *groups = json_array();
        for (size_t g = 1; groups && g <= ngroups; g++) {
            const char *gs = text + pos + m[g].rm_so;
            size_t gl = m[g].rm_so < 0 ? 0 : (size_t)(m[g].rm_eo - m[g].rm_so);
            utf8 = utf8 && (m[g].rm_so < 0 || sk_utf8_valid(gs, gl, NULL));
            if (json_array_append_new(groups, m[g].rm_so < 0 ? json_null() : json_stringn(gs, gl)) != 0) {
                json_decref(groups);
                groups = NULL;
            }
        }
        if (!utf8) {
            json_decref(groups);
            rc = sk_fail(call, VENOM_E_FAILED, "a match at character %zu splits a multi-byte character; match whole "
                                               "characters", start);
            goto out;
        }
        json_t *e = json_pack("{s:s%,s:I,s:I,s:o}", "match", text + ms, me - ms, "start", (json_int_t)start, "end",
                              (json_int_t)end, "groups", groups);
        if (!e || json_array_append_new(matches, e) != 0) {
            rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
            goto out;
        }
        if (!all)
            break;
        if (me == ms) {
            if (ms >= len)
                break;
            me = ms + char_len(text + ms);
        }
        chars = start + sk_utf8_count(text + ms, me - ms);
        pos = me;
    }
    rc = sk_result(call, json_pack("{s:O,s:b}", "matches", matches, "truncated", truncated));
out:
    if (compiled)
        regfree(&re);
    json_decref(matches);
    free(text);
    leave_utf8(old);
    return rc;
}

/* ------------------------------------------------------------ head / tail */

/* Append the lines of text[0..len) to arr: the first n (head) or last n. A
 * final newline does not start another line; "\r\n" endings are trimmed. */
static int32_t pick_lines(venom_ctx *call, const char *text, size_t len, size_t n, bool head, json_t *arr)
{
    size_t total = 0;
    for (size_t i = 0; i < len; i++)
        total += text[i] == '\n';
    if (len > 0 && text[len - 1] != '\n')
        total++;
    size_t first = head || total <= n ? 0 : total - n;
    size_t idx = 0;
    const char *p = text, *end = text + len;
    while (p < end && json_array_size(arr) < n) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (idx >= first) {
            size_t l = (size_t)(le - p);
            if (l && p[l - 1] == '\r')
                l--;
            if (json_array_append_new(arr, json_stringn(p, l)) != 0)
                return sk_fail(call, VENOM_E_NOMEM, "out of memory");
        }
        idx++;
        p = nl ? nl + 1 : end;
    }
    return VENOM_OK;
}

/* The last part of a file: at most SK_MAX_FILE bytes from its end, starting
 * after a newline when the file is longer. */
static int32_t read_tail(venom_ctx *call, const char *path, char **data, size_t *len)
{
    struct stat st;
    int32_t fd = sk_open_file(call, path, &st);
    if (fd < 0)
        return fd;
    int32_t rc = VENOM_OK;
    off_t start = st.st_size > (off_t)SK_MAX_FILE ? st.st_size - (off_t)SK_MAX_FILE : 0;
    if (lseek(fd, start, SEEK_SET) < 0) {
        rc = sk_fail(call, VENOM_E_IO, "cannot seek in '%s': %s", path, strerror(errno));
        goto out;
    }
    if ((rc = sk_read_fd(call, fd, path, SK_MAX_FILE, data, len)) != VENOM_OK)
        goto out;
    if (start > 0) {
        char *nl = memchr(*data, '\n', *len);
        size_t skip = nl ? (size_t)(nl - *data) + 1 : *len;
        memmove(*data, *data + skip, *len - skip + 1);
        *len -= skip;
    }
    char what[600];
    snprintf(what, sizeof what, "file '%s'", path);
    if ((rc = sk_require_text(call, what, *data, *len)) != VENOM_OK) {
        free(*data);
        *data = NULL;
    }
out:
    close(fd);
    return rc;
}

/* The first lines of a file, read only as far as needed. */
static int32_t read_head(venom_ctx *call, const char *path, size_t n, char **data, size_t *len)
{
    struct stat st;
    int32_t fd = sk_open_file(call, path, &st);
    if (fd < 0)
        return fd;
    size_t cap = 64 * 1024, used = 0, lines = 0;
    char *b = malloc(cap + 1);
    int32_t rc = VENOM_OK;
    if (!b) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        goto out;
    }
    while (lines < n && used < SK_MAX_FILE) {
        if (used == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
                goto out;
            }
            b = nb, cap *= 2;
        }
        ssize_t r = read(fd, b + used, cap - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sk_fail(call, sk_errno_code(errno), "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            lines += b[used + (size_t)i] == '\n';
        used += (size_t)r;
    }
    /* keep whole lines only, unless the file ended */
    size_t keep = used;
    if (lines >= n) {
        size_t seen = 0;
        for (size_t i = 0; i < used; i++)
            if (b[i] == '\n' && ++seen == n) {
                keep = i + 1;
                break;
            }
    }
    char what[600];
    snprintf(what, sizeof what, "file '%s'", path);
    if ((rc = sk_require_text(call, what, b, keep)) != VENOM_OK)
        goto out;
    b[keep] = '\0';
    *data = b;
    *len = keep;
    b = NULL;
out:
    free(b);
    close(fd);
    return rc;
}

static int32_t head_tail(venom_ctx *call, json_t *args, bool head)
{
    json_t *arr = NULL;
    char *text = NULL;
    size_t len = 0;
    const char *path = NULL, *t = NULL;
    long long n;
    int32_t rc = sk_opt_int(call, args, "lines", 10, 0, 100000, &n);
    if (rc == VENOM_OK)
        rc = sk_opt_str(call, args, "path", &path);
    if (rc == VENOM_OK)
        rc = sk_opt_str(call, args, "text", &t);
    if (rc != VENOM_OK)
        goto out;
    if (path && !t)
        rc = head ? read_head(call, path, (size_t)n, &text, &len) : read_tail(call, path, &text, &len);
    else
        rc = sk_text_or_path(call, args, &text, &len, &path);
    if (rc != VENOM_OK)
        goto out;
    if (!(arr = json_array())) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = pick_lines(call, text, len, (size_t)n, head, arr)) == VENOM_OK)
        rc = sk_result(call, json_pack("{s:O}", "lines", arr));
out:
    json_decref(arr);
    free(text);
    return rc;
}

static int32_t text_head(venom_ctx *call, json_t *args)
{
    return head_tail(call, args, true);
}

static int32_t text_tail(venom_ctx *call, json_t *args)
{
    return head_tail(call, args, false);
}

/* ------------------------------------------------------------ plugin */

static int32_t text_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    static const sk_skill skills[] = {
        {"count", text_count}, {"replace", text_replace}, {"match", text_match},
        {"head", text_head},   {"tail", text_tail},
    };
    (void)state;
    int32_t rc = sk_init(host, ctx, VENOM_HOST_HAS(host, fs_open),
                         "the text pack needs a host with fs_open (venom ABI 1.0)", skills,
                         sizeof skills / sizeof skills[0]);
    if (rc != VENOM_OK)
        return rc;
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!utf8_locale)
        utf8_locale = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
    return VENOM_OK;
}

static void text_shutdown(void *state)
{
    (void)state;
    if (utf8_locale)
        freelocale(utf8_locale);
    utf8_locale = (locale_t)0;
}

SK_PLUGIN("text", text_init, text_shutdown)
