/*
 * skill_io.h — helpers shared by the first-party skill packs fs, text and
 * json (header-only: every function is static, so each plugin still exports
 * nothing but venom_plugin_entry). Built only on <venom/venom.h>, libc and
 * jansson, like any third-party pack.
 *
 * Files are opened only through the host's fs_open (which confines them to
 * the manifest's permitted paths); the one exception is openat()/renameat()
 * relative to a directory fd that fs_open returned. Every helper that fails
 * has already set the call's error (by sk_fail, or by the host inside
 * fs_open) and returns a negative VENOM_E_* code.
 *
 * The including file sets SK_HOST in its init before any skill runs.
 */
#ifndef VENOM_SKILLS_SKILL_IO_H
#define VENOM_SKILLS_SKILL_IO_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <venom/venom.h>

#define SK_UNUSED __attribute__((unused))
#define SK_MAX_FILE (16u * 1024 * 1024) /* whole-file reads (text, json) */

static const venom_host_api *SK_HOST;

/* Set the call's error (one line) and return code. */
SK_UNUSED __attribute__((format(printf, 3, 4))) static int32_t
sk_fail(venom_ctx *call, int32_t code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    SK_HOST->set_error(call, msg);
    return code;
}

SK_UNUSED static int32_t sk_errno_code(int e)
{
    switch (e) {
    case ENOENT: return VENOM_E_NOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS: return VENOM_E_PERM;
    case EEXIST: return VENOM_E_EXISTS;
    case ENOMEM: return VENOM_E_NOMEM;
    case EINVAL:
    case ENAMETOOLONG:
    case EISDIR:
    case ENOTDIR: return VENOM_E_INVAL;
    case EFBIG:
    case ENOSPC:
    case EDQUOT: return VENOM_E_TOOBIG;
    default: return VENOM_E_IO;
    }
}

/* Parse the arguments (the host validated them; this guards the plugin). */
SK_UNUSED static int32_t sk_args(venom_ctx *call, const char *args_json, json_t **out)
{
    json_error_t e;
    json_t *a = json_loads(args_json ? args_json : "", 0, &e);
    if (!a || !json_is_object(a)) {
        json_decref(a);
        *out = NULL;
        return sk_fail(call, VENOM_E_INVAL, "arguments must be a JSON object%s%s", a ? "" : ": ",
                       a ? "" : e.text);
    }
    *out = a;
    return VENOM_OK;
}

/* ------------------------------------------------------------ plugin */

/* A skill of the pack: args is the call's argument object (parsed by
 * sk_call, borrowed). Returns a VENOM_* code, with the error set on failure. */
typedef int32_t (*sk_fn)(venom_ctx *call, json_t *args);

typedef struct sk_skill {
    const char *name;
    sk_fn fn;
} sk_skill;

/* The venom_skill_fn of every skill (data is its sk_skill): parse the
 * arguments, run the skill, free them. */
SK_UNUSED static int32_t sk_call(venom_ctx *call, const char *args_json, void *data)
{
    const sk_skill *skill = data;
    json_t *args = NULL;
    int32_t rc = sk_args(call, args_json, &args);
    if (rc == VENOM_OK)
        rc = skill->fn(call, args);
    json_decref(args);
    return rc;
}

/* The body of a pack's init: refuse a host without what the pack needs
 * (usable false: VENOM_E_UNSUPPORTED with the message `needs`), remember
 * the host in SK_HOST and register the n skills (static storage). */
SK_UNUSED static int32_t sk_init(const venom_host_api *host, venom_ctx *ctx, bool usable, const char *needs,
                                 const sk_skill *skills, size_t n)
{
    if (!usable) {
        if (VENOM_HOST_HAS(host, set_error))
            host->set_error(ctx, needs);
        return VENOM_E_UNSUPPORTED;
    }
    SK_HOST = host;
    for (size_t i = 0; i < n; i++) {
        venom_skill_desc d = {
            .struct_size = sizeof d, .name = skills[i].name, .call = sk_call, .data = (void *)&skills[i]};
        int32_t rc = host->register_skill(ctx, &d);
        if (rc != VENOM_OK)
            return rc;
    }
    return VENOM_OK;
}

/* The pack's info block and venom_plugin_entry, its one export (version
 * 1.0.0, MIT; shutdown may be NULL). Use once, at file scope. */
#define SK_PLUGIN(name_, init_, shutdown_)                                                                         \
    static const venom_plugin_info SK_INFO = {                                                                     \
        VENOM_PLUGIN_INFO_INIT,                                                                                    \
        .min_host_minor = 0,                                                                                       \
        .kinds = VENOM_KIND_SKILLS,                                                                                \
        .name = (name_),                                                                                           \
        .version = "1.0.0",                                                                                        \
        .license = "MIT",                                                                                          \
        .init = (init_),                                                                                           \
        .shutdown = (shutdown_),                                                                                   \
    };                                                                                                             \
    VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void) { return &SK_INFO; }

/* Serialize res (a reference is stolen) as the call's result. */
SK_UNUSED static int32_t sk_result(venom_ctx *call, json_t *res)
{
    if (!res)
        return sk_fail(call, VENOM_E_NOMEM, "out of memory while building the result");
    int32_t rc;
    size_t n = json_dumpb(res, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    char *s = n ? malloc(n) : NULL;
    if (!s) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory while serializing the result");
    } else {
        json_dumpb(res, s, n, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = SK_HOST->set_result(call, s, n);
        if (rc == VENOM_E_TOOBIG)
            rc = sk_fail(call, rc, "the result is too big (%zu bytes); ask for less (a smaller limit)", n);
        else if (rc != VENOM_OK)
            rc = sk_fail(call, rc, "the host refused the result");
    }
    free(s);
    json_decref(res);
    return rc;
}

/* Typed argument getters: absent -> default; wrong type -> VENOM_E_INVAL. */
SK_UNUSED static int32_t sk_opt_str(venom_ctx *call, const json_t *args, const char *key, const char **out)
{
    const json_t *v = json_object_get(args, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return VENOM_OK;
    if (!json_is_string(v))
        return sk_fail(call, VENOM_E_INVAL, "argument '%s' must be a string", key);
    *out = json_string_value(v);
    return VENOM_OK;
}

SK_UNUSED static int32_t sk_req_str(venom_ctx *call, const json_t *args, const char *key, const char **out)
{
    int32_t rc = sk_opt_str(call, args, key, out);
    if (rc == VENOM_OK && !*out)
        rc = sk_fail(call, VENOM_E_INVAL, "argument '%s' is required", key);
    return rc;
}

SK_UNUSED static int32_t sk_opt_bool(venom_ctx *call, const json_t *args, const char *key, bool def, bool *out)
{
    const json_t *v = json_object_get(args, key);
    *out = def;
    if (!v || json_is_null(v))
        return VENOM_OK;
    if (!json_is_boolean(v))
        return sk_fail(call, VENOM_E_INVAL, "argument '%s' must be true or false", key);
    *out = json_is_true(v);
    return VENOM_OK;
}

SK_UNUSED static int32_t sk_opt_int(venom_ctx *call, const json_t *args, const char *key, long long def,
                                    long long min, long long max, long long *out)
{
    const json_t *v = json_object_get(args, key);
    *out = def;
    if (!v || json_is_null(v))
        return VENOM_OK;
    if (!json_is_integer(v))
        return sk_fail(call, VENOM_E_INVAL, "argument '%s' must be an integer", key);
    long long x = json_integer_value(v);
    if (x < min || x > max)
        return sk_fail(call, VENOM_E_INVAL, "argument '%s' must be between %lld and %lld, got %lld", key, min,
                       max, x);
    *out = x;
    return VENOM_OK;
}

/* ------------------------------------------------------------ text */

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF). Otherwise *bad is the offset of the first bad byte. */
SK_UNUSED static bool sk_utf8_valid(const char *str, size_t n, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, cp = c & 0x07;
        } else {
            goto fail;
        }
        if (i + len > n)
            goto fail;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                goto fail;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            goto fail;
        i += len;
    }
    return true;
fail:
    if (bad)
        *bad = i;
    return false;
}

/* Length of a prefix of s[0..n) that does not end inside a UTF-8 sequence. */
SK_UNUSED static size_t sk_utf8_trim(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t back = 0;
    while (back < 4 && back < n && (s[n - 1 - back] & 0xc0) == 0x80)
        back++;
    if (back == n)
        return n;
    unsigned lead = s[n - 1 - back];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    return need > back + 1 ? n - 1 - back : n;
}

/* Number of code points in valid UTF-8. */
SK_UNUSED static size_t sk_utf8_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* Refuse data that is not text: NUL bytes or malformed UTF-8. */
SK_UNUSED static int32_t sk_require_text(venom_ctx *call, const char *what, const char *data, size_t len)
{
    const char *nul = memchr(data, '\0', len);
    if (nul)
        return sk_fail(call, VENOM_E_FAILED, "%s looks binary (NUL byte at offset %zu); only text is supported",
                       what, (size_t)(nul - data));
    size_t bad = 0;
    if (!sk_utf8_valid(data, len, &bad))
        return sk_fail(call, VENOM_E_FAILED, "%s is not valid UTF-8 text (bad byte at offset %zu)", what, bad);
    return VENOM_OK;
}

/* ------------------------------------------------------------ paths */

/* Lexically normalize path and split it into its directory and last name.
 * "a/b/../c.txt" -> "a", "c.txt"; "x" -> ".", "x"; "/x" -> "/", "x";
 * "." and "/" -> themselves, "."; a path of only ".." -> itself, ".".
 * Leading ".." stay (the host refuses them). Returns false when out of memory. */
SK_UNUSED static bool sk_split(const char *path, char **dir, char **base)
{
    size_t n = strlen(path);
    bool abs = path[0] == '/';
    char *copy = strdup(path);
    const char **comp = calloc(n / 2 + 2, sizeof *comp);
    char *d = malloc(n + 3);
    if (!copy || !comp || !d) {
        free(copy), free(comp), free(d);
        return false;
    }
    size_t k = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0)
            continue;
        if (strcmp(t, "..") == 0) {
            if (k > 0 && strcmp(comp[k - 1], "..") != 0) {
                k--;
                continue;
            }
            if (abs)
                continue;
        }
        comp[k++] = t;
    }
    const char *last = ".";
    size_t ndir = k;
    if (k > 0 && strcmp(comp[k - 1], "..") != 0) {
        last = comp[k - 1];
        ndir = k - 1;
    }
    size_t len = 0;
    if (abs)
        d[len++] = '/';
    for (size_t i = 0; i < ndir; i++) {
        if (i > 0)
            d[len++] = '/';
        size_t cl = strlen(comp[i]);
        memcpy(d + len, comp[i], cl);
        len += cl;
    }
    if (len == 0)
        d[len++] = '.';
    d[len] = '\0';
    *base = strdup(last);
    free(comp);
    free(copy);
    if (!*base) {
        free(d);
        return false;
    }
    *dir = d;
    return true;
}

/* ------------------------------------------------------------ reading */

/* Read all of fd (at most max bytes; more is VENOM_E_TOOBIG) into a new
 * NUL-terminated buffer. what names the file in messages. */
SK_UNUSED static int32_t sk_read_fd(venom_ctx *call, int fd, const char *what, size_t max, char **data,
                                    size_t *len)
{
    size_t cap = 64 * 1024, n = 0;
    char *b = malloc(cap + 1);
    if (!b)
        return sk_fail(call, VENOM_E_NOMEM, "out of memory reading '%s'", what);
    for (;;) {
        if (n == cap) {
            if (cap > max)
                break;
            size_t nc = cap * 2;
            char *nb = realloc(b, nc + 1);
            if (!nb) {
                free(b);
                return sk_fail(call, VENOM_E_NOMEM, "out of memory reading '%s'", what);
            }
            b = nb, cap = nc;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(b);
            return sk_fail(call, sk_errno_code(e), "cannot read '%s': %s", what, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max)
            break;
    }
    if (n > max) {
        free(b);
        return sk_fail(call, VENOM_E_TOOBIG, "'%s' is larger than the limit of %zu bytes", what, max);
    }
    b[n] = '\0';
    *data = b;
    *len = n;
    return VENOM_OK;
}

/* Open path (through the host) for reading, check it is a regular file and
 * fill *st. Returns the fd (the caller closes it). */
SK_UNUSED static int32_t sk_open_file(venom_ctx *call, const char *path, struct stat *st)
{
    int32_t fd = SK_HOST->fs_open(call, path, VENOM_FS_READ, 0);
    if (fd < 0)
        return fd;
    int32_t rc = VENOM_OK;
    if (fstat(fd, st) != 0)
        rc = sk_fail(call, VENOM_E_IO, "cannot stat '%s': %s", path, strerror(errno));
    else if (!S_ISREG(st->st_mode))
        rc = sk_fail(call, VENOM_E_INVAL, "path '%s' is %s", path,
                     S_ISDIR(st->st_mode) ? "a directory, not a file" : "not a regular file");
    if (rc != VENOM_OK) {
        close(fd);
        return rc;
    }
    return fd;
}

/* Read a whole text file (UTF-8, no NUL, at most max bytes). */
SK_UNUSED static int32_t sk_read_text(venom_ctx *call, const char *path, size_t max, char **data, size_t *len)
{
    struct stat st;
    int32_t fd = sk_open_file(call, path, &st);
    if (fd < 0)
        return fd;
    int32_t rc = sk_read_fd(call, fd, path, max, data, len);
    close(fd);
    if (rc == VENOM_OK) {
        char what[600];
        snprintf(what, sizeof what, "file '%s'", path);
        rc = sk_require_text(call, what, *data, *len);
        if (rc != VENOM_OK) {
            free(*data);
            *data = NULL;
        }
    }
    return rc;
}

/* ------------------------------------------------------------ writing */

/* Open dir for writing (a directory fd), creating it and its missing
 * parents when create is set. */
SK_UNUSED static int32_t sk_open_dir_w(venom_ctx *call, const char *dir, bool create, int depth)
{
    int32_t fd = SK_HOST->fs_open(call, dir, VENOM_FS_DIRECTORY | VENOM_FS_WRITE, 0);
    if (fd >= 0 || fd != VENOM_E_NOTFOUND || !create || depth > 64)
        return fd;
    char *parent = NULL, *name = NULL;
    if (!sk_split(dir, &parent, &name))
        return sk_fail(call, VENOM_E_NOMEM, "out of memory");
    if (strcmp(name, ".") == 0 || strcmp(parent, dir) == 0) {
        free(parent), free(name);
        return fd;
    }
    int32_t pfd = sk_open_dir_w(call, parent, true, depth + 1);
    if (pfd >= 0) {
        if (mkdirat(pfd, name, 0777) != 0 && errno != EEXIST)
            fd = sk_fail(call, sk_errno_code(errno), "cannot create directory '%s': %s", dir, strerror(errno));
        else
            fd = SK_HOST->fs_open(call, dir, VENOM_FS_DIRECTORY | VENOM_FS_WRITE, 0);
        close(pfd);
    } else {
        fd = pfd;
    }
    free(parent), free(name);
    return fd;
}

SK_UNUSED static int32_t sk_write_all(venom_ctx *call, int fd, const char *path, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return sk_fail(call, sk_errno_code(errno), "cannot write '%s': %s", path, strerror(errno));
        data += w;
        len -= (size_t)w;
    }
    return VENOM_OK;
}

/*
 * Write data to path. Replacing is atomic: a temp file next to the target
 * (created O_EXCL in the directory fd the host opened for writing) is
 * written, fsynced and renamed over the target, so a reader sees the old or
 * the new content, never a mix; the target keeps its permission bits. With
 * append, data is added to the end of the file (created if missing). A
 * target that is a symlink is written through (the host checks where it
 * points) without the temp-file step.
 */
SK_UNUSED static int32_t sk_write_file(venom_ctx *call, const char *path, const char *data, size_t len,
                                       bool append, bool create_dirs)
{
    static atomic_uint counter;
    char *dir = NULL, *base = NULL, tmp[300];
    int32_t rc = VENOM_OK, dfd = -1, fd = -1;
    bool tmp_made = false;

    if (!*path)
        return sk_fail(call, VENOM_E_INVAL, "argument 'path' is empty; give a file name");
    if (!sk_split(path, &dir, &base))
        return sk_fail(call, VENOM_E_NOMEM, "out of memory");
    if (strcmp(base, ".") == 0 || path[strlen(path) - 1] == '/') {
        rc = sk_fail(call, VENOM_E_INVAL, "path '%s' names a directory; give a file name", path);
        goto out;
    }
    dfd = sk_open_dir_w(call, dir, create_dirs, 0);
    if (dfd < 0) {
        rc = dfd;
        if (rc == VENOM_E_NOTFOUND)
            rc = sk_fail(call, rc, "directory '%s' does not exist; pass create_dirs=true to create it", dir);
        goto out;
    }
    struct stat st;
    bool exists = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        rc = sk_fail(call, VENOM_E_INVAL, "path '%s' is a directory; give a file name", path);
        goto out;
    }
    if (append || (exists && S_ISLNK(st.st_mode))) {
        fd = SK_HOST->fs_open(call, path, VENOM_FS_WRITE | VENOM_FS_CREATE | (append ? 0 : VENOM_FS_TRUNC), 0666);
        if (fd < 0) {
            rc = fd;
            goto out;
        }
        if (append && lseek(fd, 0, SEEK_END) < 0) {
            rc = sk_fail(call, VENOM_E_IO, "cannot append to '%s': %s", path, strerror(errno));
            goto out;
        }
        rc = sk_write_all(call, fd, path, data, len);
        if (rc == VENOM_OK && fsync(fd) != 0 && errno != EINVAL)
            rc = sk_fail(call, sk_errno_code(errno), "cannot sync '%s': %s", path, strerror(errno));
        goto out;
    }
    for (int tries = 0; tries < 100; tries++) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(tmp, sizeof tmp, ".%.200s.%ld.%u.%lx.tmp", base, (long)getpid(), atomic_fetch_add(&counter, 1),
                 (unsigned long)ts.tv_nsec);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        rc = sk_fail(call, sk_errno_code(errno), "cannot create a temporary file in '%s': %s", dir, strerror(errno));
        goto out;
    }
    tmp_made = true;
    if (exists)
        (void)fchmod(fd, st.st_mode & 07777);
    rc = sk_write_all(call, fd, path, data, len);
    if (rc == VENOM_OK && fsync(fd) != 0)
        rc = sk_fail(call, sk_errno_code(errno), "cannot sync '%s': %s", path, strerror(errno));
    if (close(fd) != 0 && rc == VENOM_OK)
        rc = sk_fail(call, sk_errno_code(errno), "cannot write '%s': %s", path, strerror(errno));
    fd = -1;
    if (rc != VENOM_OK)
        goto out;
    if (renameat(dfd, tmp, dfd, base) != 0) {
        rc = sk_fail(call, sk_errno_code(errno), "cannot replace '%s': %s", path, strerror(errno));
        goto out;
    }
    tmp_made = false;
    (void)fsync(dfd);
out:
    if (tmp_made)
        unlinkat(dfd, tmp, 0);
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    free(dir);
    free(base);
    return rc;
}

/* ------------------------------------------------------------ input */

/* The "text" or "path" argument of a text skill: exactly one of them.
 * *data is set to a malloc'd copy; *from_path says which one was given. */
SK_UNUSED static int32_t sk_text_or_path(venom_ctx *call, const json_t *args, char **data, size_t *len,
                                         const char **path)
{
    const char *text = NULL;
    int32_t rc = sk_opt_str(call, args, "text", &text);
    if (rc == VENOM_OK)
        rc = sk_opt_str(call, args, "path", path);
    if (rc != VENOM_OK)
        return rc;
    if ((text != NULL) == (*path != NULL))
        return sk_fail(call, VENOM_E_INVAL, "give either 'text' or 'path' (exactly one of them)");
    if (*path)
        return sk_read_text(call, *path, SK_MAX_FILE, data, len);
    size_t n = json_string_length(json_object_get(args, "text"));
    if (memchr(text, '\0', n))
        return sk_fail(call, VENOM_E_INVAL, "argument 'text' contains a NUL character");
    *data = malloc(n + 1);
    if (!*data)
        return sk_fail(call, VENOM_E_NOMEM, "out of memory");
    memcpy(*data, text, n + 1);
    *len = n;
    return VENOM_OK;
}

#endif
