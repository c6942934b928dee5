/*
 * fs — the first-party file-system skill pack: read, write, list, stat,
 * search. Every path goes through the host's fs_open, so the pack reaches
 * only what its manifest permits (the run's workdir by default); below a
 * directory fd the host returned, it uses openat with O_NOFOLLOW and never
 * follows a symlink. Reference: docs/skills.md.
 */
#include <dirent.h>
#include <regex.h>

#include "../common/skill_io.h"

#define FS_READ_DEFAULT (1024 * 1024)
#define FS_READ_MAX (16 * 1024 * 1024)
#define FS_MAX_DEPTH 64
#define FS_SEARCH_MAX_FILES 100000
#define FS_LINE_MAX 1000 /* bytes of a matching line returned by search */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64(const unsigned char *s, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        *o++ = B64[v >> 18 & 63];
        *o++ = B64[v >> 12 & 63];
        *o++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? B64[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static const char *type_name(mode_t m)
{
    return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" : "other";
}

/* ------------------------------------------------------------ fs.read */

static int32_t fs_read(venom_ctx *call, json_t *args)
{
    const char *path, *enc;
    long long offset, limit;
    char *buf = NULL;
    int32_t fd = -1;
    int32_t rc = sk_req_str(call, args, "path", &path);
    if (rc == VENOM_OK)
        rc = sk_opt_int(call, args, "offset", 0, 0, INT64_MAX, &offset);
    if (rc == VENOM_OK)
        rc = sk_opt_int(call, args, "limit", FS_READ_DEFAULT, 1, FS_READ_MAX, &limit);
    if (rc == VENOM_OK)
        rc = sk_opt_str(call, args, "encoding", &enc);
    if (rc != VENOM_OK)
        goto out;
    bool b64 = enc && strcmp(enc, "base64") == 0;
    if (enc && !b64 && strcmp(enc, "utf-8") != 0) {
        rc = sk_fail(call, VENOM_E_INVAL, "argument 'encoding' must be \"utf-8\" or \"base64\", got \"%s\"", enc);
        goto out;
    }
    struct stat st;
    fd = sk_open_file(call, path, &st);
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    buf = malloc((size_t)limit + 1);
    if (!buf) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        goto out;
    }
    /* Read one byte more than asked to learn whether the end was reached. */
    size_t n = 0, want = (size_t)limit + 1;
    while (n < want) {
        ssize_t r = pread(fd, buf + n, want - n, (off_t)offset + (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sk_fail(call, sk_errno_code(errno), "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    bool eof = n <= (size_t)limit;
    if (!eof)
        n = (size_t)limit;
    json_t *content;
    if (b64) {
        char *e = base64((const unsigned char *)buf, n);
        content = e ? json_string(e) : NULL;
        free(e);
    } else {
        if (!eof) {
            n = sk_utf8_trim(buf, n);
            if (n == 0) {
                rc = sk_fail(call, VENOM_E_INVAL, "limit %lld is too small to hold one character of '%s'", limit,
                             path);
                goto out;
            }
        }
        size_t bad = 0;
        const char *nul = memchr(buf, '\0', n);
        if (nul || !sk_utf8_valid(buf, n, &bad)) {
            rc = sk_fail(call, VENOM_E_FAILED,
                         "file '%s' is not text (%s at byte %zu); read it with encoding=base64", path,
                         nul ? "a NUL byte" : "invalid UTF-8", nul ? (size_t)(nul - buf) + (size_t)offset
                                                                   : bad + (size_t)offset);
            goto out;
        }
        content = json_stringn(buf, n);
    }
    rc = sk_result(call, json_pack("{s:o,s:I,s:b,s:I,s:I}", "content", content, "bytes", (json_int_t)n, "eof",
                                   eof, "offset", (json_int_t)offset, "size", (json_int_t)st.st_size));
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ fs.write */

static int32_t fs_write(venom_ctx *call, json_t *args)
{
    const char *path, *content;
    bool append, mkdirs;
    int32_t rc = sk_req_str(call, args, "path", &path);
    if (rc == VENOM_OK)
        rc = sk_req_str(call, args, "content", &content);
    if (rc == VENOM_OK)
        rc = sk_opt_bool(call, args, "append", false, &append);
    if (rc == VENOM_OK)
        rc = sk_opt_bool(call, args, "create_dirs", false, &mkdirs);
    if (rc != VENOM_OK)
        goto out;
    size_t len = json_string_length(json_object_get(args, "content"));
    rc = sk_write_file(call, path, content, len, append, mkdirs);
    if (rc == VENOM_OK)
        rc = sk_result(call, json_pack("{s:s,s:I}", "path", path, "bytes", (json_int_t)len));
out:
    return rc;
}

/* ------------------------------------------------------------ walking */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in the directory dfd (not "." or ".."). */
static int32_t dir_names(venom_ctx *call, int dfd, const char *shown, char ***names, size_t *count)
{
    int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        int e = errno;
        if (dup_fd >= 0)
            close(dup_fd);
        return sk_fail(call, sk_errno_code(e), "cannot list '%s': %s", shown, strerror(e));
    }
    rewinddir(d);
    char **v = NULL;
    size_t n = 0, cap = 0;
    int32_t rc = VENOM_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = VENOM_E_NOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[n] = strdup(de->d_name))) {
            rc = VENOM_E_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != VENOM_OK) {
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return sk_fail(call, rc, "out of memory listing '%s'", shown);
    }
    if (n)
        qsort(v, n, sizeof *v, cmp_names);
    *names = v;
    *count = n;
    return VENOM_OK;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static char *join_rel(const char *prefix, const char *name)
{
    size_t a = strlen(prefix), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s)
        return NULL;
    if (a) {
        memcpy(s, prefix, a);
        s[a++] = '/';
    }
    memcpy(s + a, name, b + 1);
    return s;
}

/* A directory walk (fs.list, fs.search): walk_dir visits the entries of a
 * directory fd in name order, never following a symlink. */
typedef struct walker walker;
struct walker {
    venom_ctx *call;
    bool stop;            /* set to end the whole walk */
    bool skip_unreadable; /* an unlistable subdirectory is skipped, not an error */
    /* Before each entry: VENOM_OK (or set stop), or an error that ends the walk. */
    int32_t (*next)(walker *w);
    /* One entry: its name in dfd, its path for results, its lstat. */
    int32_t (*visit)(walker *w, int dfd, const char *name, const char *rel, const struct stat *st, int depth);
};

static int32_t walk_dir(walker *w, int dfd, const char *prefix, const char *shown, int depth)
{
    char **names = NULL;
    size_t n = 0;
    int32_t rc = dir_names(w->call, dfd, shown, &names, &n);
    if (rc != VENOM_OK)
        return depth > 0 && w->skip_unreadable ? VENOM_OK : rc;
    for (size_t i = 0; i < n && rc == VENOM_OK && !w->stop; i++) {
        if ((rc = w->next(w)) != VENOM_OK || w->stop)
            break;
        struct stat st;
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* vanished meanwhile */
        char *rel = join_rel(prefix, names[i]);
        rc = rel ? w->visit(w, dfd, names[i], rel, &st, depth) : sk_fail(w->call, VENOM_E_NOMEM, "out of memory");
        free(rel);
    }
    free_names(names, n);
    return rc;
}

/* ------------------------------------------------------------ fs.list */

typedef struct list_state {
    walker w; /* first: a walker * is a list_state * */
    json_t *entries;
    size_t max;
    bool recursive;
    bool truncated;
} list_state;

static int32_t list_next(walker *w)
{
    list_state *ls = (list_state *)w;
    if (json_array_size(ls->entries) >= ls->max)
        ls->truncated = w->stop = true;
    else if (SK_HOST->cancelled(w->call))
        return sk_fail(w->call, VENOM_E_CANCELLED, "fs.list was cancelled");
    return VENOM_OK;
}

static int32_t list_visit(walker *w, int dfd, const char *name, const char *rel, const struct stat *st, int depth)
{
    list_state *ls = (list_state *)w;
    json_t *e =
        json_pack("{s:s,s:s,s:I}", "name", rel, "type", type_name(st->st_mode), "size", (json_int_t)st->st_size);
    if (!e || json_array_append_new(ls->entries, e) != 0)
        return sk_fail(w->call, VENOM_E_NOMEM, "out of memory");
    if (!ls->recursive || !S_ISDIR(st->st_mode) || depth >= FS_MAX_DEPTH)
        return VENOM_OK;
    int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return VENOM_OK;
    int32_t rc = walk_dir(w, sub, rel, rel, depth + 1);
    close(sub);
    return rc;
}

static int32_t fs_list(venom_ctx *call, json_t *args)
{
    const char *path;
    bool recursive;
    long long max;
    int32_t fd = -1;
    list_state ls = {.w = {.call = call, .next = list_next, .visit = list_visit}};
    int32_t rc = sk_opt_str(call, args, "path", &path);
    if (rc == VENOM_OK)
        rc = sk_opt_bool(call, args, "recursive", false, &recursive);
    if (rc == VENOM_OK)
        rc = sk_opt_int(call, args, "max_entries", 1000, 1, 100000, &max);
    if (rc != VENOM_OK)
        goto out;
    if (!path)
        path = ".";
    fd = SK_HOST->fs_open(call, path, VENOM_FS_DIRECTORY, 0);
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    ls.entries = json_array();
    ls.max = (size_t)max;
    ls.recursive = recursive;
    if (!ls.entries) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        goto out;
    }
    rc = walk_dir(&ls.w, fd, "", path, 0);
    if (rc == VENOM_OK) {
        rc = sk_result(call, json_pack("{s:O,s:b}", "entries", ls.entries, "truncated", ls.truncated));
    }
out:
    json_decref(ls.entries);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ------------------------------------------------------------ fs.stat */

static int32_t fs_stat(venom_ctx *call, json_t *args)
{
    const char *path;
    char *dir = NULL, *base = NULL;
    int32_t dfd = -1;
    int32_t rc = sk_req_str(call, args, "path", &path);
    if (rc != VENOM_OK)
        goto out;
    if (!*path) {
        rc = sk_fail(call, VENOM_E_INVAL, "argument 'path' is empty");
        goto out;
    }
    if (!sk_split(path, &dir, &base)) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        goto out;
    }
    /* stat the name inside its directory, so a symlink reports itself */
    bool self = strcmp(base, ".") == 0;
    dfd = SK_HOST->fs_open(call, self ? path : dir, VENOM_FS_DIRECTORY, 0);
    if (dfd < 0) {
        rc = dfd;
        if (rc == VENOM_E_NOTFOUND)
            rc = sk_fail(call, rc, "path '%s' does not exist", path);
        goto out;
    }
    struct stat st;
    if ((self ? fstat(dfd, &st) : fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW)) != 0) {
        int e = errno;
        rc = e == ENOENT ? sk_fail(call, VENOM_E_NOTFOUND, "path '%s' does not exist", path)
                         : sk_fail(call, sk_errno_code(e), "cannot stat '%s': %s", path, strerror(e));
        goto out;
    }
    char mode[8], mtime[32];
    snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
    struct tm tm;
    time_t t = st.st_mtim.tv_sec;
    gmtime_r(&t, &tm);
    strftime(mtime, sizeof mtime, "%Y-%m-%dT%H:%M:%SZ", &tm);
    rc = sk_result(call, json_pack("{s:s,s:I,s:s,s:s}", "type", type_name(st.st_mode), "size",
                                   (json_int_t)st.st_size, "mode", mode, "mtime", mtime));
out:
    if (dfd >= 0)
        close(dfd);
    free(dir);
    free(base);
    return rc;
}

/* ------------------------------------------------------------ fs.search */

typedef struct search_state {
    walker w; /* first: a walker * is a search_state * */
    const char *pattern;
    bool use_regex;
    bool icase;
    regex_t re;
    size_t max_results;
    size_t max_file_bytes;
    size_t files;
    json_t *matches;
    bool truncated;
} search_state;

static bool line_matches(search_state *ss, const char *line)
{
    if (ss->use_regex)
        return regexec(&ss->re, line, 0, NULL, 0) == 0;
    return (ss->icase ? strcasestr(line, ss->pattern) : strstr(line, ss->pattern)) != NULL;
}

/* Search one open regular file; binary and non-UTF-8 files are skipped. */
static int32_t search_fd(search_state *ss, int fd, const char *shown)
{
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > ss->max_file_bytes)
        return VENOM_OK;
    if (sk_read_fd(ss->w.call, fd, shown, ss->max_file_bytes, &text, &len) != VENOM_OK)
        return VENOM_OK; /* unreadable or grew past the limit: skipped */
    ss->files++;
    if (memchr(text, '\0', len) || !sk_utf8_valid(text, len, NULL)) {
        free(text);
        return VENOM_OK;
    }
    int32_t rc = VENOM_OK;
    size_t lineno = 0;
    for (char *p = text; p < text + len && !ss->w.stop;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        char *end = nl ? nl : text + len;
        *end = '\0';
        lineno++;
        if (line_matches(ss, p)) {
            if (json_array_size(ss->matches) >= ss->max_results) {
                ss->truncated = true;
                ss->w.stop = true;
                break;
            }
            size_t l = (size_t)(end - p);
            if (l && p[l - 1] == '\r')
                l--;
            if (l > FS_LINE_MAX)
                l = sk_utf8_trim(p, FS_LINE_MAX);
            json_t *m = json_pack("{s:s,s:I,s:s%}", "file", shown, "line", (json_int_t)lineno, "text", p, l);
            if (!m || json_array_append_new(ss->matches, m) != 0) {
                rc = sk_fail(ss->w.call, VENOM_E_NOMEM, "out of memory");
                break;
            }
        }
        p = end + 1;
    }
    free(text);
    return rc;
}

static int32_t search_next(walker *w)
{
    search_state *ss = (search_state *)w;
    if (SK_HOST->cancelled(w->call))
        return sk_fail(w->call, VENOM_E_CANCELLED, "fs.search was cancelled");
    if (ss->files >= FS_SEARCH_MAX_FILES)
        ss->truncated = w->stop = true;
    return VENOM_OK;
}

static int32_t search_visit(walker *w, int dfd, const char *name, const char *rel, const struct stat *st, int depth)
{
    search_state *ss = (search_state *)w;
    bool dir = S_ISDIR(st->st_mode);
    if (dir && strcmp(name, ".git") == 0)
        return VENOM_OK;
    if (!dir && !S_ISREG(st->st_mode))
        return VENOM_OK; /* symlinks, devices, FIFOs: never followed or opened */
    if (!dir && (size_t)st->st_size > ss->max_file_bytes)
        return VENOM_OK;
    int fd = openat(dfd, name, (dir ? O_DIRECTORY : O_NONBLOCK) | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return VENOM_OK;
    int32_t rc = VENOM_OK;
    if (!dir)
        rc = search_fd(ss, fd, rel);
    else if (depth < FS_MAX_DEPTH)
        rc = walk_dir(w, fd, rel, rel, depth + 1);
    close(fd);
    return rc;
}

static int32_t fs_search(venom_ctx *call, json_t *args)
{
    const char *path;
    long long max_results, max_file_bytes;
    int32_t fd = -1;
    bool compiled = false;
    search_state ss = {.w = {.call = call, .skip_unreadable = true, .next = search_next, .visit = search_visit}};
    int32_t rc = sk_opt_str(call, args, "path", &path);
    if (rc == VENOM_OK)
        rc = sk_req_str(call, args, "pattern", &ss.pattern);
    if (rc == VENOM_OK)
        rc = sk_opt_bool(call, args, "regex", false, &ss.use_regex);
    if (rc == VENOM_OK)
        rc = sk_opt_bool(call, args, "ignore_case", false, &ss.icase);
    if (rc == VENOM_OK)
        rc = sk_opt_int(call, args, "max_results", 100, 1, 10000, &max_results);
    if (rc == VENOM_OK)
        rc = sk_opt_int(call, args, "max_file_bytes", 1024 * 1024, 1, 64 * 1024 * 1024, &max_file_bytes);
    if (rc != VENOM_OK)
        goto out;
    if (!path)
        path = ".";
    if (!*ss.pattern) {
        rc = sk_fail(call, VENOM_E_INVAL, "argument 'pattern' is empty; give the text to search for");
        goto out;
    }
    if (ss.use_regex) {
        int e = regcomp(&ss.re, ss.pattern, REG_EXTENDED | REG_NOSUB | (ss.icase ? REG_ICASE : 0));
        if (e != 0) {
            char msg[256];
            regerror(e, &ss.re, msg, sizeof msg);
            rc = sk_fail(call, VENOM_E_INVAL, "argument 'pattern' is not a valid POSIX extended regex: %s", msg);
            goto out;
        }
        compiled = true;
    }
    ss.max_results = (size_t)max_results;
    ss.max_file_bytes = (size_t)max_file_bytes;
    ss.matches = json_array();
    if (!ss.matches) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        goto out;
    }
    fd = SK_HOST->fs_open(call, path, VENOM_FS_READ, 0);
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = sk_fail(call, VENOM_E_IO, "cannot stat '%s': %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        char *dir = NULL, *base = NULL;
        if (!sk_split(path, &dir, &base)) {
            rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
            goto out;
        }
        /* results name files as the caller would: "src/a.c", or "a.c" for "." */
        char *prefix = strcmp(base, ".") == 0 && strcmp(dir, ".") == 0 ? strdup("") : strdup(path);
        free(dir);
        free(base);
        if (prefix && *prefix && prefix[strlen(prefix) - 1] == '/')
            prefix[strlen(prefix) - 1] = '\0';
        rc = prefix ? walk_dir(&ss.w, fd, prefix, *prefix ? prefix : ".", 0)
                    : sk_fail(call, VENOM_E_NOMEM, "out of memory");
        free(prefix);
    } else {
        if (st.st_size > max_file_bytes) {
            rc = sk_fail(call, VENOM_E_TOOBIG, "file '%s' is %lld bytes, above max_file_bytes (%lld)", path,
                         (long long)st.st_size, max_file_bytes);
            goto out;
        }
        rc = search_fd(&ss, fd, path);
    }
    if (rc == VENOM_OK)
        rc = sk_result(call, json_pack("{s:O,s:b,s:I}", "matches", ss.matches, "truncated", ss.truncated,
                                       "files_searched", (json_int_t)ss.files));
out:
    if (compiled)
        regfree(&ss.re);
    json_decref(ss.matches);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ------------------------------------------------------------ plugin */

static int32_t fs_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    static const sk_skill skills[] = {
        {"read", fs_read}, {"write", fs_write}, {"list", fs_list}, {"stat", fs_stat}, {"search", fs_search},
    };
    (void)state;
    return sk_init(host, ctx, VENOM_HOST_HAS(host, fs_open) && VENOM_HOST_HAS(host, cancelled),
                   "the fs pack needs a host with fs_open (venom ABI 1.0)", skills, sizeof skills / sizeof skills[0]);
}

SK_PLUGIN("fs", fs_init, NULL)
