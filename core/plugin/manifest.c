#include "util/common.h"
#include "plugin/manifest.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "util/buf.h"
#include "util/doc.h"
#include "util/err.h"
#include "util/jsonx.h"
#include "util/suggest.h"

#define MANIFEST_MAX_SKILLS 1024
#define MANIFEST_MAX_NAME 64
#define NAME_RULE "lowercase letters, digits, '-' and '_', starting with a letter or digit, at most 64 characters"

/* Where the checker is: the doc for lines, the path for messages. */
typedef struct mctx {
    const doc *d;
    const char *file;
    char **err;
    const char *dir;  /* the pack dir (absolute), once known */
    bool check_files; /* manifest_load: a ${triplet} library must exist for this host */
} mctx;

/* A node being checked: its JSON Pointer (for the line) and how a user
 * would name it in a message ("skills[1].function"). */
typedef struct loc {
    char ptr[160];
    char name[160];
} loc;

static loc loc_root(void) { return (loc){.ptr = "", .name = ""}; }

/* dst = a + b + c, cut to size n; a cut location is harmless. */
static void cat_into(char *dst, size_t n, const char *a, const char *b, const char *c)
{
    size_t len = 0;
    const char *parts[] = {a, b, c};
    for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
        size_t k = strlen(parts[i]);
        if (k > n - 1 - len)
            k = n - 1 - len;
        memcpy(dst + len, parts[i], k);
        len += k;
    }
    dst[len] = '\0';
}

static loc loc_key(const loc *p, const char *key)
{
    loc l;
    cat_into(l.ptr, sizeof l.ptr, p->ptr, "/", key);
    cat_into(l.name, sizeof l.name, p->name, p->name[0] ? "." : "", key);
    return l;
}

static loc loc_index(const loc *p, size_t i)
{
    loc l;
    char num[24];
    size_t n = sizeof num;
    num[--n] = '\0';
    num[--n] = ']';
    do
        num[--n] = (char)('0' + i % 10);
    while ((i /= 10) != 0);
    num[--n] = '[';
    cat_into(l.name, sizeof l.name, p->name, num + n, "");
    num[sizeof num - 2] = '\0'; /* drop ']' */
    cat_into(l.ptr, sizeof l.ptr, p->ptr, "/", num + n + 1);
    return l;
}

static const char *where(const loc *l) { return l->name[0] ? l->name : "the top level"; }

static int bad_line(const mctx *c, int line, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int bad_line(const mctx *c, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mem_vprintf(fmt, ap);
    va_end(ap);
    if (line > 0)
        err_set(c->err, -EINVAL, "%s:%d: %s", c->file, line, msg ? msg : "invalid manifest");
    else
        err_set(c->err, -EINVAL, "%s: %s", c->file, msg ? msg : "invalid manifest");
    mem_free(msg);
    if (c->err) /* one line, whatever the path holds */
        jsonx_oneline(*c->err);
    return -EINVAL;
}

#define bad(c, l, ...) bad_line((c), doc_line((c)->d, (l)->ptr), __VA_ARGS__)

/* Unknown keys are errors naming the allowed ones and the closest match. */
static int check_keys(const mctx *c, json_t *obj, const loc *l, const char *const *allowed, size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (size_t i = 0; i < n && !ok; i++)
            ok = !strcmp(key, allowed[i]);
        if (ok)
            continue;
        buf list = BUF_INIT, kp = BUF_INIT;
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = buf_printf(&list, "%s%s", i ? ", " : "", allowed[i]);
        /* the key's own pointer, escaped, for its line */
        rc = rc ? rc : buf_printf(&kp, "%s/", l->ptr);
        for (const char *k = key; *k && rc == 0; k++)
            rc = *k == '~' ? buf_puts(&kp, "~0") : *k == '/' ? buf_puts(&kp, "~1") : buf_putc(&kp, *k);
        if (rc < 0) {
            buf_release(&list);
            buf_release(&kp);
            return -ENOMEM;
        }
        const char *best = NULL;
        /* a suggestion must share something with the key: "xy" is not a typo of "fs" */
        if (suggest_closest(key, allowed, n, &best, 1) && suggest_distance(key, best) >= strlen(key) &&
            !strstr(best, key))
            best = NULL;
        int line = doc_line(c->d, buf_str(&kp));
        bad_line(c, line ? line : doc_line(c->d, l->ptr), "unknown key '%s' in %s (allowed: %s); %s%s%s",
                 jsonx_clipped(key).s, where(l), buf_str(&list),
                 best ? "did you mean '" : "remove it or fix its spelling", best ? best : "", best ? "'?" : "");
        buf_release(&list);
        buf_release(&kp);
        return -EINVAL;
    }
    return 0;
}

static int missing(const mctx *c, const loc *l, const char *key, const char *hint)
{
    return bad(c, l, "missing required key '%s' in %s; %s", key, where(l), hint);
}

static int want_type(const mctx *c, const loc *l, json_t *v, const char *type, const char *hint)
{
    return bad(c, l, "'%s' must be %s, got %s; %s", l->name, type, jsonx_kind(v), hint);
}

/* obj[key] as a string: *out borrowed, NULL when absent and optional. */
static int get_str(const mctx *c, json_t *obj, const loc *l, const char *key, bool required, const char **out)
{
    json_t *v = json_object_get(obj, key);
    loc k = loc_key(l, key);
    *out = NULL;
    if (!v)
        return required ? missing(c, l, key, "add it as a string") : 0;
    if (!json_is_string(v))
        return want_type(c, &k, v, "a string", "write it in quotes");
    if (json_string_length(v) == 0)
        return bad(c, &k, "'%s' must not be empty; write a value or remove the key", k.name);
    *out = json_string_value(v);
    return 0;
}

static int dup_str(const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return 0;
    return (*out = mem_strdup(s)) ? 0 : -ENOMEM;
}

bool manifest_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MANIFEST_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && (i == 0 || (ch != '-' && ch != '_')))
            return false;
    }
    return true;
}

static bool ident_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return true;
}

static bool secret_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* Has a path component "..". */
static bool has_dotdot(const char *p)
{
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return true;
        s += n;
        while (*s == '/')
            s++;
    }
    return false;
}

/* "host", "*.host", with an optional ":port"; letters, digits, '-', '.'. */
static bool host_ok(const char *h)
{
    if (!strncmp(h, "*.", 2))
        h += 2;
    size_t label = 0, total = 0;
    const char *s = h;
    for (; *s && *s != ':'; s++, total++) {
        char ch = *s;
        if (ch == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    if (label == 0 || total > 253)
        return false;
    if (*s == ':') {
        char *end;
        errno = 0;
        long port = strtol(s + 1, &end, 10);
        if (!s[1] || *end || errno || port < 1 || port > 65535 || s[1] < '0' || s[1] > '9')
            return false;
    }
    return true;
}

/* Join path components, dropping empty and "." ones (".." is kept). */
static int normalize(buf *out, const char *p)
{
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && !(n == 1 && p[0] == '.')) {
            if (buf_putc(out, '/') < 0 || buf_append(out, p, n) < 0)
                return -ENOMEM;
        }
        p += n;
    }
    return 0;
}

/* The absolute directory of path. */
static int abs_dir(const char *path, char **out)
{
    buf b = BUF_INIT;
    char cwd[PATH_MAX];
    char *dir = NULL;
    int rc = 0;
    const char *slash = strrchr(path, '/');
    if (!(dir = slash ? mem_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : mem_strdup("."))) {
        rc = -ENOMEM;
        goto out;
    }
    if (dir[0] != '/') {
        if (!getcwd(cwd, sizeof cwd)) {
            rc = -errno;
            goto out;
        }
        if ((rc = normalize(&b, cwd)) < 0)
            goto out;
    }
    if ((rc = normalize(&b, dir)) < 0)
        goto out;
    if (b.len == 0 && buf_putc(&b, '/') < 0) {
        rc = -ENOMEM;
        goto out;
    }
    if (!(*out = buf_detach(&b)))
        rc = -ENOMEM;
out:
    mem_free(dir);
    buf_release(&b);
    return rc;
}

static void strv_free(manifest_strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        mem_free(v->v[i]);
    mem_free(v->v);
    *v = (manifest_strv){0};
}

enum { STR_PATH, STR_HOST, STR_ENV, STR_SECRET };

/* obj[key], when present, as an array of strings of one kind. */
static int get_strv(const mctx *c, json_t *obj, const loc *l, const char *key, int kind, manifest_strv *out)
{
    json_t *arr = json_object_get(obj, key);
    loc k = loc_key(l, key);
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return want_type(c, &k, arr, "an array of strings", "write a list, e.g. [\"a\", \"b\"]");
    size_t n = json_array_size(arr);
    if (n && !(out->v = mem_calloc(n, sizeof *out->v)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        loc e = loc_index(&k, i);
        if (!json_is_string(v))
            return want_type(c, &e, v, "a string", "write it in quotes");
        const char *s = json_string_value(v);
        switch (kind) {
        case STR_PATH:
            if (!*s)
                return bad(c, &e, "'%s' is an empty path; use \".\" for the run's workdir", e.name);
            if (has_dotdot(s))
                return bad(c, &e, "'%s' (\"%s\") contains '..'; name the directory without '..'", e.name,
                           jsonx_clipped(s).s);
            break;
        case STR_HOST:
            if (!host_ok(s))
                return bad(c, &e,
                           "'%s' (\"%s\") is not a host name; write e.g. \"api.example.com\", "
                           "\"*.example.org\" or \"example.com:8443\"",
                           e.name, jsonx_clipped(s).s);
            break;
        case STR_ENV:
            if (!ident_ok(s, 128))
                return bad(c, &e,
                           "'%s' (\"%s\") is not an environment variable name; use letters, digits and '_'",
                           e.name, jsonx_clipped(s).s);
            break;
        default:
            if (!secret_ok(s))
                return bad(c, &e, "'%s' (\"%s\") is not a secret name; use letters, digits, '_', '-' and '.'",
                           e.name, jsonx_clipped(s).s);
            break;
        }
        if (!(out->v[i] = mem_strdup(s)))
            return -ENOMEM;
        out->n = i + 1;
        if (kind == STR_HOST)
            for (char *p = out->v[i]; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
    }
    return 0;
}

static int check_permissions(const mctx *c, json_t *root, manifest *m)
{
    static const char *const keys[] = {"fs", "network", "env", "secrets", "exec"};
    static const char *const fs_keys[] = {"read", "write"};
    static const char *const net_keys[] = {"hosts"};
    loc top = loc_root(), l = loc_key(&top, "permissions");
    json_t *p = json_object_get(root, "permissions");
    int rc;
    if (!p)
        return 0;
    if (!json_is_object(p))
        return want_type(c, &l, p, "an object", "write e.g. {\"fs\": {\"read\": [\".\"]}}");
    if ((rc = check_keys(c, p, &l, keys, ARRAY_SIZE(keys))) < 0)
        return rc;
    json_t *fs = json_object_get(p, "fs");
    loc lf = loc_key(&l, "fs");
    if (fs) {
        if (!json_is_object(fs))
            return want_type(c, &lf, fs, "an object", "write e.g. {\"read\": [\".\"], \"write\": [\".\"]}");
        if ((rc = check_keys(c, fs, &lf, fs_keys, ARRAY_SIZE(fs_keys))) < 0 ||
            (rc = get_strv(c, fs, &lf, "read", STR_PATH, &m->perms.fs_read)) < 0 ||
            (rc = get_strv(c, fs, &lf, "write", STR_PATH, &m->perms.fs_write)) < 0)
            return rc;
    }
    json_t *net = json_object_get(p, "network");
    loc ln = loc_key(&l, "network");
    m->perms.network = MANIFEST_NET_NONE;
    if (json_is_string(net) && !strcmp(json_string_value(net), "none")) {
        m->perms.network = MANIFEST_NET_NONE;
    } else if (json_is_string(net) && !strcmp(json_string_value(net), "full")) {
        m->perms.network = MANIFEST_NET_FULL;
    } else if (json_is_object(net)) {
        if ((rc = check_keys(c, net, &ln, net_keys, ARRAY_SIZE(net_keys))) < 0)
            return rc;
        json_t *hosts = json_object_get(net, "hosts");
        if (!hosts)
            return missing(c, &ln, "hosts", "list the hosts the pack may reach, e.g. [\"api.example.com\"]");
        if ((rc = get_strv(c, net, &ln, "hosts", STR_HOST, &m->perms.net_hosts)) < 0)
            return rc;
        if (m->perms.net_hosts.n == 0) {
            loc lh = loc_key(&ln, "hosts");
            return bad(c, &lh, "'%s' is empty; list at least one host, or write \"network\": \"none\"", lh.name);
        }
        m->perms.network = MANIFEST_NET_HOSTS;
    } else if (net) {
        return bad(c, &ln,
                   "'%s' must be \"none\", \"full\" or {\"hosts\": [...]}, got %s%s%s%s; pick one of those",
                   ln.name, jsonx_kind(net), json_is_string(net) ? " \"" : "",
                   json_is_string(net) ? jsonx_clipped(json_string_value(net)).s : "", json_is_string(net) ? "\"" : "");
    }
    if ((rc = get_strv(c, p, &l, "env", STR_ENV, &m->perms.env)) < 0 ||
        (rc = get_strv(c, p, &l, "secrets", STR_SECRET, &m->perms.secrets)) < 0)
        return rc;
    json_t *ex = json_object_get(p, "exec");
    if (ex) {
        loc le = loc_key(&l, "exec");
        if (!json_is_boolean(ex))
            return want_type(c, &le, ex, "a boolean", "write true or false");
        m->perms.exec = json_is_true(ex);
    }
    return 0;
}

static int get_limit(const mctx *c, json_t *obj, const loc *l, const char *key, uint64_t cap, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    loc k = loc_key(l, key);
    *out = 0;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || (uint64_t)json_integer_value(v) > cap) {
        char got[64];
        if (json_is_integer(v))
            snprintf(got, sizeof got, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else
            snprintf(got, sizeof got, "%s", jsonx_kind(v));
        return bad(c, &k, "'%s' must be a whole number from 1 to %" PRIu64 ", got %s; fix the value or remove the "
                          "key for the default",
                   k.name, cap, got);
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int check_limits(const mctx *c, json_t *root, manifest *m)
{
    static const char *const keys[] = {"time_ms", "memory_mb", "processes", "output_bytes"};
    loc top = loc_root(), l = loc_key(&top, "limits");
    json_t *o = json_object_get(root, "limits");
    uint64_t v;
    int rc;
    if (!o)
        return 0;
    if (!json_is_object(o))
        return want_type(c, &l, o, "an object", "write e.g. {\"time_ms\": 30000}");
    if ((rc = check_keys(c, o, &l, keys, ARRAY_SIZE(keys))) < 0)
        return rc;
    if ((rc = get_limit(c, o, &l, "time_ms", MANIFEST_MAX_TIME_MS, &v)) < 0)
        return rc;
    m->limits.time_ms = (uint32_t)v;
    if ((rc = get_limit(c, o, &l, "memory_mb", MANIFEST_MAX_MEMORY_MB, &v)) < 0)
        return rc;
    m->limits.memory_mb = (uint32_t)v;
    if ((rc = get_limit(c, o, &l, "processes", MANIFEST_MAX_PROCESSES, &v)) < 0)
        return rc;
    m->limits.processes = (uint32_t)v;
    if ((rc = get_limit(c, o, &l, "output_bytes", MANIFEST_MAX_OUTPUT_BYTES, &v)) < 0)
        return rc;
    m->limits.output_bytes = v;
    return 0;
}

static const char *const ffi_types[] = {"int8",   "int16",  "int32", "int64",  "uint8", "uint16", "uint32",
                                        "uint64", "float",  "double", "bool", "string", "void"};
#define FFI_TYPES_LIST "int8, int16, int32, int64, uint8, uint16, uint32, uint64, float, double, bool, string"

static bool ffi_type_ok(const char *t, bool allow_void)
{
    for (size_t i = 0; i < ARRAY_SIZE(ffi_types); i++)
        if (!strcmp(t, ffi_types[i]))
            return allow_void || strcmp(t, "void") != 0;
    return false;
}


/* ------------------------------------------------------------ ${triplet} */

#define TRIPLET_VAR "${triplet}"

const char *manifest_host_triplet(void)
{
#if defined(__gnu_linux__)
#define TRIPLET_LIBC "gnu"
#else
#define TRIPLET_LIBC "musl"
#endif
#if defined(__x86_64__) && defined(__ILP32__)
    return "x86_64-linux-" TRIPLET_LIBC "x32";
#elif defined(__x86_64__)
    return "x86_64-linux-" TRIPLET_LIBC;
#elif defined(__i386__)
    return "i386-linux-" TRIPLET_LIBC;
#elif defined(__aarch64__) && defined(__AARCH64EB__)
    return "aarch64_be-linux-" TRIPLET_LIBC;
#elif defined(__aarch64__)
    return "aarch64-linux-" TRIPLET_LIBC;
#elif defined(__arm__) && defined(__ARM_PCS_VFP)
    return "arm-linux-" TRIPLET_LIBC "eabihf";
#elif defined(__arm__)
    return "arm-linux-" TRIPLET_LIBC "eabi";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64-linux-" TRIPLET_LIBC;
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
    return "powerpc64le-linux-" TRIPLET_LIBC;
#elif defined(__powerpc64__)
    return "powerpc64-linux-" TRIPLET_LIBC;
#elif defined(__s390x__)
    return "s390x-linux-" TRIPLET_LIBC;
#elif defined(__loongarch64)
    return "loongarch64-linux-" TRIPLET_LIBC;
#elif defined(__mips64) && defined(__MIPSEL__)
    return "mips64el-linux-" TRIPLET_LIBC "abi64";
#else
    return "unknown-linux-" TRIPLET_LIBC;
#endif
}

/* A "library" value: at most one ${triplet}, no other ${...}. *out is s
 * with ${triplet} replaced by the host's triplet (mem_alloc'd), or NULL
 * when s has none. */
static int expand_triplet(const mctx *c, const loc *l, const char *s, char **out)
{
    *out = NULL;
    const char *v = strstr(s, TRIPLET_VAR);
    const char *other = strstr(s, "${");
    if (other && (other != v || strstr(v + strlen(TRIPLET_VAR), "${")))
        return bad(c, l,
                   "'%s' (\"%s\") has a placeholder other than a single " TRIPLET_VAR "; the only one is "
                   TRIPLET_VAR " (this machine: %s), e.g. \"lib/" TRIPLET_VAR "/x.so\"",
                   l->name, jsonx_clipped(s).s, manifest_host_triplet());
    if (!v)
        return 0;
    *out = mem_printf("%.*s%s%s", (int)(v - s), s, manifest_host_triplet(), v + strlen(TRIPLET_VAR));
    return *out ? 0 : -ENOMEM;
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The triplets the pack has a library for: every T such that pattern with
 * ${triplet} = T names an existing file under dir. Joined by ", "
 * (mem_alloc'd; "none" when there is none). */
static char *triplets_present(const char *dir, const char *pattern)
{
    const char *v = strstr(pattern, TRIPLET_VAR);
    const char *post = v + strlen(TRIPLET_VAR);
    const char *slash = NULL;
    for (const char *q = pattern; q < v; q++)
        if (*q == '/')
            slash = q;
    char *scan = slash ? mem_printf("%s/%.*s", dir, (int)(slash - pattern), pattern) : mem_strdup(dir);
    const char *name_pre = slash ? slash + 1 : pattern;
    size_t pre_len = (size_t)(v - name_pre);
    size_t suf_len = strcspn(post, "/"); /* the rest of the component after ${triplet} */
    char **found = NULL;
    size_t n = 0;
    buf b = BUF_INIT;
    DIR *d = scan ? opendir(scan) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= pre_len + suf_len || strncmp(e->d_name, name_pre, pre_len) ||
            strncmp(e->d_name + len - suf_len, post, suf_len))
            continue;
        char *t = mem_strndup(e->d_name + pre_len, len - pre_len - suf_len);
        char *full = t ? mem_printf("%s/%s%s", scan, e->d_name, post + suf_len) : NULL;
        struct stat st;
        char **nv = full && stat(full, &st) == 0 && S_ISREG(st.st_mode) ? mem_realloc(found, (n + 1) * sizeof *nv)
                                                                          : NULL;
        mem_free(full);
        if (!nv) {
            mem_free(t);
            continue;
        }
        found = nv;
        found[n++] = t;
    }
    if (d)
        closedir(d);
    if (n)
        qsort(found, n, sizeof *found, cmp_cstr);
    int ok = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            ok |= buf_puts(&b, ", ");
        ok |= buf_puts(&b, found[i]);
        mem_free(found[i]);
    }
    if (!n)
        ok |= buf_puts(&b, "none");
    if (ok < 0)
        buf_release(&b); /* out of memory: the caller says "none" */
    mem_free(found);
    mem_free(scan);
    return buf_detach(&b);
}

/* With check_files: the expanded library must be a file of the pack. */
static int check_host_library(const mctx *c, const loc *l, const char *pattern, const char *expanded)
{
    if (!c->check_files || !c->dir)
        return 0;
    char *full = mem_printf("%s/%s", c->dir, expanded);
    if (!full)
        return -ENOMEM;
    struct stat st;
    int found = stat(full, &st) == 0;
    mem_free(full);
    if (found)
        return 0;
    char *have = triplets_present(c->dir, pattern);
    int rc = bad(c, l,
                 "'%s' (\"%s\"): the pack has no library for this machine (%s): %s does not exist; the pack has "
                 "libraries for: %s; build the skill for %s or get the pack built for it",
                 l->name, jsonx_clipped(pattern).s, manifest_host_triplet(), expanded, have ? have : "none",
                 manifest_host_triplet());
    mem_free(have);
    return rc;
}

static int check_function(const mctx *c, json_t *fn, const loc *l)
{
    static const char *const keys[] = {"library", "symbol", "params", "returns"};
    static const char *const pkeys[] = {"name", "type", "description"};
    const char *s;
    int rc;
    if (!json_is_object(fn))
        return want_type(c, l, fn, "an object",
                         "write e.g. {\"symbol\": \"pow\", \"params\": [...], \"returns\": \"double\"}");
    if ((rc = check_keys(c, fn, l, keys, ARRAY_SIZE(keys))) < 0)
        return rc;
    loc ll = loc_key(l, "library");
    if ((rc = get_str(c, fn, l, "library", false, &s)) < 0)
        return rc;
    if (s && (s[0] == '/' || has_dotdot(s)))
        return bad(c, &ll,
                   "'%s' (\"%s\") must stay inside the pack dir; name a file in the pack (\"lib/x.so\") or a "
                   "system library by its file name (\"libm.so.6\")",
                   ll.name, jsonx_clipped(s).s);
    if (s) {
        char *x = NULL;
        if ((rc = expand_triplet(c, &ll, s, &x)) < 0)
            return rc;
        if (x) {
            rc = check_host_library(c, &ll, s, x);
            /* the function keeps the expanded name: ffi.c opens it as is */
            if (rc == 0 && json_object_set_new(fn, "library", json_string(x)) < 0)
                rc = -ENOMEM;
            mem_free(x);
            if (rc < 0)
                return rc;
        }
    }
    loc ls = loc_key(l, "symbol");
    if ((rc = get_str(c, fn, l, "symbol", true, &s)) < 0)
        return rc;
    if (!ident_ok(s, 255))
        return bad(c, &ls, "'%s' (\"%s\") is not a C identifier; name the exported C function", ls.name,
                   jsonx_clipped(s).s);
    loc lr = loc_key(l, "returns");
    if ((rc = get_str(c, fn, l, "returns", true, &s)) < 0)
        return rc;
    if (!ffi_type_ok(s, true))
        return bad(c, &lr, "'%s' has unknown type '%s'; use one of " FFI_TYPES_LIST ", void", lr.name,
                   jsonx_clipped(s).s);
    json_t *params = json_object_get(fn, "params");
    loc lp = loc_key(l, "params");
    if (!params)
        return 0;
    if (!json_is_array(params))
        return want_type(c, &lp, params, "an array", "write e.g. [{\"name\": \"x\", \"type\": \"double\"}]");
    if (json_array_size(params) > MANIFEST_MAX_PARAMS)
        return bad(c, &lp, "'%s' has %zu entries, more than %d; pass a struct as a JSON string instead", lp.name,
                   json_array_size(params), MANIFEST_MAX_PARAMS);
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p) {
        loc e = loc_index(&lp, i);
        if (!json_is_object(p))
            return want_type(c, &e, p, "an object", "write e.g. {\"name\": \"x\", \"type\": \"double\"}");
        if ((rc = check_keys(c, p, &e, pkeys, ARRAY_SIZE(pkeys))) < 0)
            return rc;
        loc en = loc_key(&e, "name"), et = loc_key(&e, "type");
        if ((rc = get_str(c, p, &e, "name", true, &s)) < 0)
            return rc;
        if (!ident_ok(s, 64))
            return bad(c, &en, "'%s' (\"%s\") is not an identifier; use letters, digits and '_'", en.name,
                       jsonx_clipped(s).s);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s, json_string_value(json_object_get(json_array_get(params, j), "name"))))
                return bad(c, &en, "duplicate parameter name '%s' (also %s[%zu]); give each parameter its own name",
                           s, lp.name, j);
        if ((rc = get_str(c, p, &e, "type", true, &s)) < 0)
            return rc;
        if (!ffi_type_ok(s, false))
            return bad(c, &et, "'%s' has unknown type '%s'; use one of " FFI_TYPES_LIST, et.name, jsonx_clipped(s).s);
        loc ed = loc_key(&e, "description");
        json_t *d = json_object_get(p, "description");
        if (d && !json_is_string(d))
            return want_type(c, &ed, d, "a string", "describe the parameter for the model");
    }
    return 0;
}

static int check_examples(const mctx *c, json_t *ex, const loc *l)
{
    static const char *const keys[] = {"args", "result", "description"};
    size_t i;
    json_t *e;
    int rc;
    if (!json_is_array(ex))
        return want_type(c, l, ex, "an array", "write e.g. [{\"args\": {...}, \"result\": ...}]");
    json_array_foreach(ex, i, e) {
        loc le = loc_index(l, i);
        const char *s;
        if (!json_is_object(e))
            return want_type(c, &le, e, "an object", "write e.g. {\"args\": {...}, \"result\": ...}");
        if ((rc = check_keys(c, e, &le, keys, ARRAY_SIZE(keys))) < 0)
            return rc;
        json_t *args = json_object_get(e, "args");
        loc la = loc_key(&le, "args");
        if (!args)
            return missing(c, &le, "args", "add the example's arguments as an object ({} for none)");
        if (!json_is_object(args))
            return want_type(c, &la, args, "an object", "write the arguments as {\"name\": value}");
        if ((rc = get_str(c, e, &le, "description", false, &s)) < 0)
            return rc;
    }
    return 0;
}

static int check_skill(const mctx *c, json_t *sk, const loc *l, manifest_skill *out)
{
    static const char *const keys[] = {"name", "description", "args", "result", "examples", "function"};
    const char *s;
    int rc;
    out->line = doc_line(c->d, l->ptr);
    if (!json_is_object(sk))
        return want_type(c, l, sk, "an object", "write e.g. {\"name\": \"read\", \"description\": \"...\"}");
    if ((rc = check_keys(c, sk, l, keys, ARRAY_SIZE(keys))) < 0)
        return rc;
    loc ln = loc_key(l, "name");
    if ((rc = get_str(c, sk, l, "name", true, &s)) < 0)
        return rc;
    if (!manifest_name_ok(s))
        return bad(c, &ln, "skill name \"%s\" is not valid; use " NAME_RULE, jsonx_clipped(s).s);
    if ((rc = dup_str(s, &out->name)) < 0)
        return rc;
    if ((rc = get_str(c, sk, l, "description", true, &s)) < 0)
        return rc;
    if ((rc = dup_str(s, &out->description)) < 0)
        return rc;

    json_t *args = json_object_get(sk, "args");
    loc la = loc_key(l, "args");
    if (args) {
        json_t *t = json_is_object(args) ? json_object_get(args, "type") : NULL;
        if (!json_is_object(args))
            return want_type(c, &la, args, "a JSON Schema object", "write e.g. {\"type\": \"object\", ...}");
        if (!json_is_string(t) || strcmp(json_string_value(t), "object") != 0) {
            loc lt = loc_key(&la, "type");
            return bad_line(c, doc_line(c->d, t ? lt.ptr : la.ptr),
                            "'%s' must be a schema with \"type\": \"object\" at the top (arguments are always an "
                            "object); add \"type\": \"object\" and put the arguments under \"properties\"",
                            la.name);
        }
        out->args_schema = json_incref(args);
    } else {
        /* json_object_set_new takes the string even when it fails */
        if (!(out->args_schema = json_object()) ||
            json_object_set_new(out->args_schema, "type", json_string("object")) < 0)
            return -ENOMEM;
    }
    json_t *res = json_object_get(sk, "result");
    if (res) {
        loc lr = loc_key(l, "result");
        if (!json_is_object(res) && !json_is_boolean(res))
            return want_type(c, &lr, res, "a JSON Schema (an object or a boolean)", "write e.g. {\"type\": \"string\"}");
        out->result_schema = json_incref(res);
    }
    json_t *ex = json_object_get(sk, "examples");
    if (ex) {
        loc le = loc_key(l, "examples");
        if ((rc = check_examples(c, ex, &le)) < 0)
            return rc;
        out->examples = json_incref(ex);
    }
    json_t *fn = json_object_get(sk, "function");
    if (fn) {
        loc lf = loc_key(l, "function");
        if ((rc = check_function(c, fn, &lf)) < 0)
            return rc;
        out->function = json_incref(fn);
    }
    return 0;
}

static int check_skills(const mctx *c, json_t *root, manifest *m)
{
    loc top = loc_root(), l = loc_key(&top, "skills");
    json_t *arr = json_object_get(root, "skills");
    int rc;
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return want_type(c, &l, arr, "an array", "write e.g. [{\"name\": \"read\", \"description\": \"...\"}]");
    size_t n = json_array_size(arr);
    if (n > MANIFEST_MAX_SKILLS)
        return bad(c, &l, "%zu skills is more than the limit of %d; split the pack", n, MANIFEST_MAX_SKILLS);
    if (n && !(m->skills = mem_calloc(n, sizeof *m->skills)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        loc ls = loc_index(&l, i);
        m->n_skills = i + 1;
        if ((rc = check_skill(c, json_array_get(arr, i), &ls, &m->skills[i])) < 0)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(m->skills[j].name, m->skills[i].name)) {
                loc lname = loc_key(&ls, "name");
                return bad(c, &lname, "duplicate skill name '%s' (first at line %d); give each skill its own name",
                           m->skills[i].name, m->skills[j].line);
            }
        }
    }
    return 0;
}

static int check_providers(const mctx *c, json_t *root, manifest *m)
{
    static const char *const keys[] = {"name", "description"};
    loc top = loc_root(), l = loc_key(&top, "providers");
    json_t *arr = json_object_get(root, "providers");
    const char *s;
    int rc;
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return want_type(c, &l, arr, "an array", "write e.g. [{\"name\": \"openai\"}]");
    size_t n = json_array_size(arr);
    if (n > MANIFEST_MAX_SKILLS)
        return bad(c, &l, "%zu providers is more than the limit of %d; split the pack", n, MANIFEST_MAX_SKILLS);
    if (n && !(m->providers = mem_calloc(n, sizeof *m->providers)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(arr, i);
        loc lp = loc_index(&l, i), ln = loc_key(&lp, "name");
        manifest_provider *out = &m->providers[i];
        m->n_providers = i + 1;
        out->line = doc_line(c->d, lp.ptr);
        if (!json_is_object(p))
            return want_type(c, &lp, p, "an object", "write e.g. {\"name\": \"openai\", \"description\": \"...\"}");
        if ((rc = check_keys(c, p, &lp, keys, ARRAY_SIZE(keys))) < 0)
            return rc;
        if ((rc = get_str(c, p, &lp, "name", true, &s)) < 0)
            return rc;
        if (!manifest_name_ok(s))
            return bad(c, &ln, "provider name \"%s\" is not valid; use " NAME_RULE, jsonx_clipped(s).s);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(m->providers[j].name, s))
                return bad(c, &ln, "duplicate provider name '%s' (first at line %d); give each provider its own name",
                           s, m->providers[j].line);
        if ((rc = dup_str(s, &out->name)) < 0)
            return rc;
        if ((rc = get_str(c, p, &lp, "description", false, &s)) < 0 || (rc = dup_str(s, &out->description)) < 0)
            return rc;
    }
    return 0;
}

/* "agents": {NAME: {role, skills, model, budget, kinds}}: checked as
 * config.yaml's agents: are (config_agents_check), names as pack names. */
static int check_agents(const mctx *c, json_t *root, manifest *m)
{
    loc top = loc_root(), l = loc_key(&top, "agents");
    json_t *obj = json_object_get(root, "agents"), *a;
    const char *name;
    int rc;
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return want_type(c, &l, obj, "an object",
                         "write e.g. {\"counter\": {\"role\": \"You count things.\", \"skills\": [\"text\"]}}");
    size_t n = json_object_size(obj);
    if (n > MANIFEST_MAX_SKILLS)
        return bad(c, &l, "%zu agents is more than the limit of %d; split the pack", n, MANIFEST_MAX_SKILLS);
    json_object_foreach(obj, name, a) {
        if (!manifest_name_ok(name)) {
            loc ln = loc_key(&l, name);
            int line = doc_line(c->d, ln.ptr);
            return bad_line(c, line ? line : doc_line(c->d, l.ptr),
                            "agent name \"%s\" is not valid; use " NAME_RULE " (plans name it %s.NAME)",
                            jsonx_clipped(name).s, m->name);
        }
    }
    if ((rc = config_agents_check(c->d, obj, c->err)) < 0)
        return rc;
    if (n && !(m->agents = mem_calloc(n, sizeof *m->agents)))
        return -ENOMEM;
    json_object_foreach(obj, name, a) {
        manifest_agent *out = &m->agents[m->n_agents++];
        loc la = loc_key(&l, name), lsk = loc_key(&la, "skills");
        out->line = doc_line(c->d, la.ptr);
        out->skills_line = json_object_get(a, "skills") ? doc_line(c->d, lsk.ptr) : out->line;
        if ((rc = dup_str(name, &out->name)) < 0 || !(out->def = json_deep_copy(a)))
            return -ENOMEM;
        if (!json_object_get(out->def, "skills") &&
            json_object_set_new(out->def, "skills", json_pack("[s]", m->name)) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int from_doc(const doc *d, const char *path, bool check_files, manifest **out, char **err)
{
    static const char *const keys[] = {"name",      "version",     "description", "license", "library",
                                       "isolation", "permissions", "limits",      "skills",  "providers",
                                       "agents"};
    mctx c = {.d = d, .file = path, .err = err, .check_files = check_files};
    loc top = loc_root();
    json_t *root = doc_root(d);
    manifest *m = NULL;
    const char *s;
    int rc;
    if (!(m = mem_calloc(1, sizeof *m)) || !(m->path = mem_strdup(path))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = abs_dir(path, &m->dir)) < 0) {
        if (rc != -ENOMEM)
            err_set(err, rc, "%s: cannot find the current directory: %s", path, strerror(-rc));
        goto out;
    }
    c.dir = m->dir;
    if (!json_is_object(root)) {
        rc = bad(&c, &top, "a manifest must be an object (a mapping) at the top level, got %s; see docs/manifest.md",
                 jsonx_kind(root));
        goto out;
    }
    if ((rc = check_keys(&c, root, &top, keys, ARRAY_SIZE(keys))) < 0)
        goto out;

    loc ln = loc_key(&top, "name");
    if ((rc = get_str(&c, root, &top, "name", true, &s)) < 0)
        goto out;
    if (!manifest_name_ok(s)) {
        rc = bad(&c, &ln, "pack name \"%s\" is not valid; use " NAME_RULE, jsonx_clipped(s).s);
        goto out;
    }
    if ((rc = dup_str(s, &m->name)) < 0)
        goto out;
    if ((rc = get_str(&c, root, &top, "version", true, &s)) < 0 || (rc = dup_str(s, &m->version)) < 0)
        goto out;
    if ((rc = get_str(&c, root, &top, "description", true, &s)) < 0 || (rc = dup_str(s, &m->description)) < 0)
        goto out;
    if ((rc = get_str(&c, root, &top, "license", false, &s)) < 0 || (rc = dup_str(s, &m->license)) < 0)
        goto out;

    loc llib = loc_key(&top, "library");
    if ((rc = get_str(&c, root, &top, "library", false, &s)) < 0)
        goto out;
    if (s) {
        if (s[0] == '/' || has_dotdot(s)) {
            rc = bad(&c, &llib, "'library' (\"%s\") must be a path inside the pack dir; write it relative to the "
                                "pack, e.g. \"%s.so\", without '..'",
                     jsonx_clipped(s).s, m->name);
            goto out;
        }
        char *x = NULL;
        if ((rc = expand_triplet(&c, &llib, s, &x)) < 0 || (x && (rc = check_host_library(&c, &llib, s, x)) < 0)) {
            mem_free(x);
            goto out;
        }
        buf b = BUF_INIT;
        rc = buf_puts(&b, m->dir) < 0 || normalize(&b, x ? x : s) < 0 || !(m->library = buf_detach(&b)) ? -ENOMEM : 0;
        mem_free(x);
        if (rc < 0) {
            buf_release(&b);
            goto out;
        }
        if (!strcmp(m->library, m->dir)) {
            rc = bad(&c, &llib, "'library' (\"%s\") names the pack dir itself; name the shared object, e.g. \"%s.so\"",
                     jsonx_clipped(s).s, m->name);
            goto out;
        }
    }

    json_t *iso = json_object_get(root, "isolation");
    loc liso = loc_key(&top, "isolation");
    if (iso) {
        if (json_is_string(iso) && !strcmp(json_string_value(iso), "sandbox")) {
            m->isolation = MANIFEST_ISO_SANDBOX;
        } else if (json_is_string(iso) && !strcmp(json_string_value(iso), "in-process")) {
            m->isolation = MANIFEST_ISO_INPROCESS;
        } else {
            rc = bad(&c, &liso, "'isolation' must be \"sandbox\" or \"in-process\", got %s%s%s%s; pick one of those",
                     jsonx_kind(iso), json_is_string(iso) ? " \"" : "",
                     json_is_string(iso) ? jsonx_clipped(json_string_value(iso)).s : "",
                     json_is_string(iso) ? "\"" : "");
            goto out;
        }
    }
    if ((rc = check_permissions(&c, root, m)) < 0 || (rc = check_limits(&c, root, m)) < 0 ||
        (rc = check_skills(&c, root, m)) < 0 || (rc = check_providers(&c, root, m)) < 0 ||
        (rc = check_agents(&c, root, m)) < 0)
        goto out;

    loc lsk = loc_key(&top, "skills");
    if (m->n_providers == 0 && !json_object_get(root, "skills")) {
        rc = missing(&c, &top, "skills", "list the pack's skills, e.g. \"skills\": [{\"name\": ..., \"description\": ...}]");
        goto out;
    }
    if (m->n_providers == 0 && m->n_skills == 0) {
        rc = bad(&c, &lsk, "'skills' is empty; a pack must offer at least one skill or provider");
        goto out;
    }
    if (!m->library) {
        for (size_t i = 0; i < m->n_skills; i++) {
            const manifest_skill *sk = &m->skills[i];
            if (!sk->function) {
                rc = bad_line(&c, sk->line,
                              "skill '%s' has no \"function\", so the pack needs a plugin: add \"library\": "
                              "\"%s.so\" at the top level, or give the skill a \"function\"",
                              sk->name, m->name);
                goto out;
            }
            if (!json_object_get(sk->function, "library")) {
                rc = bad_line(&c, sk->line,
                              "skill '%s' has a \"function\" without \"library\" and the pack has no \"library\"; "
                              "name the shared object in the function (e.g. \"library\": \"libm.so.6\") or at the "
                              "top level",
                              sk->name);
                goto out;
            }
        }
        if (m->n_providers) {
            loc lp = loc_key(&top, "providers");
            rc = bad(&c, &lp, "the pack declares providers, so it needs a plugin; add \"library\": \"%s.so\" at the "
                              "top level",
                     m->name);
            goto out;
        }
    }
    *out = m;
    m = NULL;
    rc = 0;
out:
    if (rc == -ENOMEM)
        err_set(err, rc, "%s: out of memory", path);
    manifest_free(m);
    return rc;
}

int manifest_parse(const char *text, size_t len, const char *path, manifest **out, char **err)
{
    doc *d = NULL;
    int rc;
    if (!out || !path || (!text && len))
        return err_set(err, -EINVAL, "manifest_parse: invalid arguments");
    *out = NULL;
    if ((rc = doc_parse(text, len, path, DOC_AUTO, &d, err)) < 0)
        goto out;
    rc = from_doc(d, path, false, out, err);
out:
    doc_free(d);
    return rc;
}

int manifest_load(const char *path, manifest **out, char **err)
{
    doc *d = NULL;
    int rc;
    if (!out || !path)
        return err_set(err, -EINVAL, "manifest_load: invalid arguments");
    *out = NULL;
    if ((rc = doc_load(path, DOC_AUTO, &d, err)) < 0)
        goto out;
    rc = from_doc(d, path, true, out, err);
out:
    doc_free(d);
    return rc;
}

int manifest_find(const char *dir, char **path_out, char **err)
{
    char *json = NULL, *yaml = NULL;
    struct stat st;
    int rc;
    if (!dir || !path_out)
        return err_set(err, -EINVAL, "manifest_find: invalid arguments");
    *path_out = NULL;
    if (!(json = mem_printf("%s/venom.json", dir)) || !(yaml = mem_printf("%s/venom.yaml", dir))) {
        rc = err_set(err, -ENOMEM, "%s: out of memory", dir);
        goto out;
    }
    bool has_json = stat(json, &st) == 0, has_yaml = stat(yaml, &st) == 0;
    if (has_json && has_yaml) {
        rc = err_set(err, -EINVAL, "%s: has both venom.json and venom.yaml; keep one manifest", dir);
        goto out;
    }
    if (!has_json && !has_yaml) {
        if (stat(dir, &st) != 0)
            rc = err_set(err, -ENOENT, "%s: no such directory; check the pack path", dir);
        else
            rc = err_set(err, -ENOENT, "%s: no venom.json or venom.yaml; a skill pack needs a manifest "
                                       "(see docs/manifest.md)", dir);
        goto out;
    }
    if (has_json) {
        *path_out = json;
        json = NULL;
    } else {
        *path_out = yaml;
        yaml = NULL;
    }
    rc = 0;
out:
    mem_free(json);
    mem_free(yaml);
    return rc;
}

const manifest_skill *manifest_skill_find(const manifest *m, const char *name)
{
    if (!m || !name)
        return NULL;
    for (size_t i = 0; i < m->n_skills; i++)
        if (m->skills[i].name && !strcmp(m->skills[i].name, name))
            return &m->skills[i];
    return NULL;
}

void manifest_free(manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_skills; i++) {
        manifest_skill *s = &m->skills[i];
        mem_free(s->name);
        mem_free(s->description);
        json_decref(s->args_schema);
        json_decref(s->result_schema);
        json_decref(s->examples);
        json_decref(s->function);
    }
    mem_free(m->skills);
    for (size_t i = 0; i < m->n_providers; i++) {
        mem_free(m->providers[i].name);
        mem_free(m->providers[i].description);
    }
    mem_free(m->providers);
    for (size_t i = 0; i < m->n_agents; i++) {
        mem_free(m->agents[i].name);
        json_decref(m->agents[i].def);
    }
    mem_free(m->agents);
    strv_free(&m->perms.fs_read);
    strv_free(&m->perms.fs_write);
    strv_free(&m->perms.net_hosts);
    strv_free(&m->perms.env);
    strv_free(&m->perms.secrets);
    mem_free(m->path);
    mem_free(m->dir);
    mem_free(m->name);
    mem_free(m->version);
    mem_free(m->description);
    mem_free(m->license);
    mem_free(m->library);
    mem_free(m);
}
