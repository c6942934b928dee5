#include "util/common.h"
#include "security/confine.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <venom/venom.h>

#include "util/buf.h"
#include "util/err.h"

/* One permitted root. A directory root holds an O_PATH fd of the directory;
 * a file root (a manifest may permit one file) holds an O_PATH fd of the
 * file's parent and the file's name, and matches only that exact path. */
typedef struct root {
    char *path; /* absolute, resolved */
    char *file; /* file root: base name; NULL for a directory root */
    int fd;
    bool read;
    bool write;
} root;

struct confine {
    char *workdir;
    root *roots;
    size_t n;
};

/* Set once when the kernel says openat2 does not exist. */
static atomic_int openat2_missing;

#define ALL_FLAGS                                                                            \
    (VENOM_FS_READ | VENOM_FS_WRITE | VENOM_FS_CREATE | VENOM_FS_TRUNC | VENOM_FS_DIRECTORY | \
     VENOM_FS_EXCL)

/* ------------------------------------------------------------ helpers */

static const char *errstr(int e, char *b, size_t n)
{
    return strerror_r(e, b, n);
}

/* A path fit for a one-line message: control characters become '?', long
 * paths are shortened. */
static const char *show(const char *p, char out[160])
{
    size_t i = 0, len = strlen(p);
    for (; p[i] && i < 150; i++)
        out[i] = ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) ? '?' : p[i];
    out[i] = '\0';
    if (i < len)
        snprintf(out + i, 160 - i, "...");
    return out;
}

/* "/x/y (read, write), /z (read)" or, with write_only, "/x/y"; "none" if empty. */
static char *describe_roots(const confine *c, bool write_only)
{
    buf b = BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        const root *r = &c->roots[i];
        if (write_only && !r->write)
            continue;
        if (b.len)
            rc = buf_puts(&b, ", ");
        if (rc == 0 && write_only)
            rc = buf_puts(&b, r->path);
        else if (rc == 0)
            rc = buf_printf(&b, "%s (%s)", r->path,
                            r->read && r->write ? "read, write" : r->write ? "write" : "read");
    }
    if (rc == 0 && b.len == 0)
        rc = buf_puts(&b, "none");
    if (rc) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b);
}

/* Lexically normalize an absolute path: collapse "//", drop ".", resolve
 * ".." against the preceding component ("/.." is "/"). New string. */
static char *normalize(const char *abs)
{
    size_t n = strlen(abs);
    char *out = mem_alloc(n + 2);
    if (!out)
        return NULL;
    size_t len = 0;
    const char *p = abs;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t cl = (size_t)(p - s);
        if (cl == 1 && s[0] == '.')
            continue;
        if (cl == 2 && s[0] == '.' && s[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, s, cl);
        len += cl;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return out;
}

/* If abs (normalized) lies under r, return the part relative to r's fd
 * ("." for the root itself), else NULL. */
static const char *beneath(const root *r, const char *abs)
{
    if (r->file)
        return strcmp(abs, r->path) == 0 ? r->file : NULL;
    size_t rl = strlen(r->path);
    if (rl == 1) /* "/" */
        return abs[1] ? abs + 1 : ".";
    if (strncmp(abs, r->path, rl) != 0)
        return NULL;
    if (abs[rl] == '\0')
        return ".";
    return abs[rl] == '/' ? abs + rl + 1 : NULL;
}

/* The longest root containing abs that permits the mode; *any_match is set
 * when some root contains it at all. */
static const root *find_root(const confine *c, const char *abs, bool write, const char **rest,
                             bool *any_match)
{
    const root *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < c->n; i++) {
        const char *r = beneath(&c->roots[i], abs);
        if (!r)
            continue;
        if (any_match)
            *any_match = true;
        if (write && !c->roots[i].write)
            continue;
        size_t l = strlen(c->roots[i].path);
        if (!best || l > best_len) {
            best = &c->roots[i];
            best_len = l;
            *rest = r;
        }
    }
    return best;
}

/* realpath of abs, or of its parent + its last name when abs does not exist. */
static int real_of(const char *abs, char out[PATH_MAX])
{
    if (realpath(abs, out))
        return 0;
    if (errno != ENOENT)
        return -errno;
    const char *slash = strrchr(abs, '/');
    if (!slash || slash[1] == '\0')
        return -ENOENT;
    char parent[PATH_MAX];
    size_t pl = slash == abs ? 1 : (size_t)(slash - abs);
    if (pl >= sizeof parent)
        return -ENAMETOOLONG;
    memcpy(parent, abs, pl);
    parent[pl] = '\0';
    char rp[PATH_MAX];
    if (!realpath(parent, rp))
        return -errno;
    int w = snprintf(out, PATH_MAX, "%s/%s", strcmp(rp, "/") == 0 ? "" : rp, slash + 1);
    return w < 0 || w >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* ------------------------------------------------------------ opening */

static int sys_openat2(int dirfd, const char *rest, int oflags, mode_t mode)
{
#ifdef SYS_openat2
    struct open_how how = {
        .flags = (uint64_t)oflags,
        .mode = (oflags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    for (int i = 0; i < 16; i++) { /* EAGAIN: a concurrent rename; retry */
        long fd = syscall(SYS_openat2, dirfd, rest, &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN)
            return -errno;
    }
    return -EAGAIN;
#else
    (void)dirfd, (void)rest, (void)oflags, (void)mode;
    return -ENOSYS;
#endif
}

static bool is_symlink_at(int dirfd, const char *name)
{
    struct stat st;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* Open rest (normalized, relative, no "." or ".." components unless it is
 * exactly ".") under dirfd one component at a time, refusing every symlink.
 * Returns an fd or a negative errno; -ELOOP means a symlink was met. */
static int walk_open(int dirfd, const char *rest, int oflags, mode_t mode)
{
    if (strcmp(rest, ".") == 0) {
        int fd = openat(dirfd, ".", oflags, mode);
        return fd >= 0 ? fd : -errno;
    }
    size_t n = strlen(rest);
    char *copy = mem_strndup(rest, n);
    if (!copy)
        return -ENOMEM;
    int cur = dirfd, rc;
    char *comp = copy;
    for (;;) {
        char *slash = strchr(comp, '/');
        if (!slash)
            break;
        *slash = '\0';
        int next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            rc = (errno == ENOTDIR || errno == ELOOP) && is_symlink_at(cur, comp) ? -ELOOP : -errno;
            goto out;
        }
        if (cur != dirfd)
            close(cur);
        cur = next;
        comp = slash + 1;
    }
    rc = openat(cur, comp, oflags | O_NOFOLLOW, mode);
    if (rc < 0)
        rc = (errno == ELOOP || errno == ENOTDIR) && is_symlink_at(cur, comp)
                 ? -ELOOP
                 : -errno;
out:
    if (cur != dirfd)
        close(cur);
    mem_free(copy);
    return rc;
}

static int open_beneath(const root *r, const char *rest, int oflags, mode_t mode, bool walk)
{
    if (!walk && !atomic_load(&openat2_missing)) {
        int fd = sys_openat2(r->fd, rest, oflags, mode);
        if (fd != -ENOSYS)
            return fd;
        atomic_store(&openat2_missing, 1);
    }
    int fd = walk_open(r->fd, rest, oflags, mode);
    return fd == -ELOOP ? -EMLINK : fd; /* EMLINK: internal marker for "symlink refused" */
}

static int to_oflags(uint32_t flags, bool *write)
{
    *write = (flags & VENOM_FS_WRITE) != 0;
    int o = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (flags & VENOM_FS_DIRECTORY)
        o |= O_RDONLY | O_DIRECTORY; /* a directory fd is read-only; WRITE asks for permission */
    else if ((flags & VENOM_FS_READ) && *write)
        o |= O_RDWR;
    else if (*write)
        o |= O_WRONLY;
    else
        o |= O_RDONLY;
    if (flags & VENOM_FS_CREATE)
        o |= O_CREAT;
    if (flags & VENOM_FS_TRUNC)
        o |= O_TRUNC;
    if (flags & VENOM_FS_EXCL)
        o |= O_EXCL;
    return o;
}

static int check_flags(uint32_t flags, char **err)
{
    if (flags & ~ALL_FLAGS)
        return err_set(err, -EINVAL, "fs_open: unknown flag bits 0x%x; use the VENOM_FS_* flags",
                       flags & ~ALL_FLAGS);
    if (!(flags & (VENOM_FS_READ | VENOM_FS_WRITE | VENOM_FS_DIRECTORY)))
        return err_set(err, -EINVAL,
                       "fs_open: flags need VENOM_FS_READ, VENOM_FS_WRITE or VENOM_FS_DIRECTORY");
    if ((flags & (VENOM_FS_CREATE | VENOM_FS_TRUNC | VENOM_FS_EXCL)) && !(flags & VENOM_FS_WRITE))
        return err_set(err, -EINVAL,
                       "fs_open: VENOM_FS_CREATE, VENOM_FS_TRUNC and VENOM_FS_EXCL need VENOM_FS_WRITE");
    if ((flags & VENOM_FS_EXCL) && !(flags & VENOM_FS_CREATE))
        return err_set(err, -EINVAL, "fs_open: VENOM_FS_EXCL needs VENOM_FS_CREATE");
    if ((flags & VENOM_FS_DIRECTORY) && (flags & (VENOM_FS_CREATE | VENOM_FS_TRUNC)))
        return err_set(err, -EINVAL,
                       "fs_open: VENOM_FS_DIRECTORY cannot be combined with VENOM_FS_CREATE or VENOM_FS_TRUNC");
    return 0;
}

static int confine_open_impl(const confine *c, const char *path, uint32_t flags, uint32_t mode,
                             bool walk, char **err)
{
    char shown[160], eb[128];
    char *abs = NULL, *norm = NULL, *perm = NULL;
    char real[PATH_MAX];
    int rc = 0;

    if (!c)
        return err_set(err, -EINVAL, "fs_open: no confinement (internal error)");
    if (!path || !*path)
        return err_set(err, -EINVAL, "fs_open: empty path; give a file name relative to the workdir %s",
                       c->workdir);
    size_t plen = strnlen(path, PATH_MAX);
    if (plen >= PATH_MAX)
        return err_set(err, -ENAMETOOLONG, "path '%s' is too long (the limit is %d bytes)",
                       show(path, shown), PATH_MAX - 1);
    rc = check_flags(flags, err);
    if (rc)
        return rc;
    bool write;
    int oflags = to_oflags(flags, &write);

    abs = path[0] == '/' ? mem_strdup(path) : mem_printf("%s/%s", c->workdir, path);
    norm = abs ? normalize(abs) : NULL;
    if (!norm) {
        rc = err_set(err, -ENOMEM, "fs_open: out of memory");
        goto out;
    }
    if (strlen(norm) >= PATH_MAX) {
        rc = err_set(err, -ENAMETOOLONG, "path '%s' is too long once joined to the workdir %s",
                     show(path, shown), c->workdir);
        goto out;
    }

    const char *rest = NULL;
    bool any = false;
    const root *r = find_root(c, norm, write, &rest, &any);
    bool via_real = false;
    if (!r) {
        /* Perhaps the path is spelled through a symlinked prefix (/tmp -> /private/tmp). */
        if (real_of(norm, real) == 0) {
            const char *rest2 = NULL;
            r = find_root(c, real, write, &rest2, &any);
            rest = rest2;
            via_real = r != NULL;
        }
    }
    if (!r) {
        perm = describe_roots(c, write && any);
        if (write && any)
            rc = err_set(err, -EACCES, "path '%s': writing is not permitted here (permitted for writing: %s)",
                         show(path, shown), perm ? perm : "?");
        else if (path[0] != '/')
            rc = err_set(err, -EACCES, "path '%s' escapes the workdir %s; permitted: %s",
                         show(path, shown), c->workdir, perm ? perm : "?");
        else
            rc = err_set(err, -EACCES, "path '%s' is outside the permitted directories; permitted: %s",
                         show(path, shown), perm ? perm : "?");
        goto out;
    }

    rc = open_beneath(r, rest, oflags, (mode_t)mode, walk);
    if (rc == -EXDEV && !via_real && real_of(norm, real) == 0) {
        /* A symlink leads elsewhere: allowed only if its target is itself permitted. */
        const char *rest2 = NULL;
        const root *r2 = find_root(c, real, write, &rest2, NULL);
        if (r2)
            rc = open_beneath(r2, rest2, oflags, (mode_t)mode, walk);
    }
    if (rc == -EXDEV) {
        rc = err_set(err, -EACCES, "path '%s' resolves outside the permitted directories (symlink)",
                     show(path, shown));
    } else if (rc == -EMLINK) {
        rc = err_set(err, -EACCES,
                     "path '%s' goes through a symlink, and symlinks are refused where openat2 is "
                     "unavailable; use the target's path",
                     show(path, shown));
    } else if (rc == -ELOOP) {
        rc = err_set(err, -EACCES,
                     "path '%s': too many levels of symlinks, or a /proc magic link (refused)",
                     show(path, shown));
    } else if (rc < 0) {
        rc = err_set(err, rc, "path '%s': %s (%s)", show(path, shown), errstr(-rc, eb, sizeof eb),
                     norm);
    } else {
        int fd = rc;
        struct stat st;
        if (fstat(fd, &st) != 0) {
            rc = err_set(err, -errno, "path '%s': fstat: %s", show(path, shown),
                         errstr(errno, eb, sizeof eb));
            close(fd);
        } else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
            close(fd);
            rc = err_set(err, -EACCES, "path '%s' is a %s; only files and directories can be opened",
                         show(path, shown), S_ISFIFO(st.st_mode) ? "FIFO" : "socket");
        } else {
            int fl = fcntl(fd, F_GETFL);
            if (fl >= 0)
                (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
            rc = fd;
        }
    }
out:
    mem_free(perm);
    mem_free(norm);
    mem_free(abs);
    return rc;
}

int confine_open(const confine *c, const char *path, uint32_t flags, uint32_t mode, char **err)
{
    return confine_open_impl(c, path, flags, mode, false, err);
}

int confine_open_nofollow_walk(const confine *c, const char *path, uint32_t flags, uint32_t mode,
                               char **err)
{
    return confine_open_impl(c, path, flags, mode, true, err);
}

/* ------------------------------------------------------------ lifetime */

static int add_root(confine *c, const char *spec, bool write, char **err)
{
    char eb[128], shown[160];
    char real[PATH_MAX];
    char *abs = NULL;
    int rc = 0, fd = -1;

    if (!spec || !*spec)
        return err_set(err, -EINVAL, "a permitted path is empty; use \".\" for the workdir");
    if (strcmp(spec, ".") == 0)
        abs = mem_strdup(c->workdir);
    else if (spec[0] == '/')
        abs = mem_strdup(spec);
    else
        abs = mem_printf("%s/%s", c->workdir, spec);
    if (!abs)
        return err_set(err, -ENOMEM, "out of memory");
    if (!realpath(abs, real)) {
        rc = errno == ENOENT ? 0 : err_set(err, -errno, "permitted path '%s': %s", show(spec, shown),
                                           errstr(errno, eb, sizeof eb));
        goto out;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->roots[i].path, real) == 0) {
            c->roots[i].read = c->roots[i].read || !write;
            c->roots[i].write = c->roots[i].write || write;
            goto out;
        }
    }
    root nr = {.read = !write, .write = write, .fd = -1};
    fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOTDIR) {
        const char *slash = strrchr(real, '/');
        char parent[PATH_MAX];
        size_t pl = slash == real ? 1 : (size_t)(slash - real);
        memcpy(parent, real, pl);
        parent[pl] = '\0';
        fd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
        nr.file = mem_strdup(slash + 1);
        if (!nr.file) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
    }
    if (fd < 0) {
        rc = err_set(err, -errno, "permitted path '%s' (%s): %s", show(spec, shown), real,
                     errstr(errno, eb, sizeof eb));
        mem_free(nr.file);
        goto out;
    }
    nr.path = mem_strdup(real);
    root *grown = nr.path ? mem_realloc(c->roots, (c->n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        mem_free(nr.path);
        mem_free(nr.file);
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    nr.fd = fd;
    fd = -1;
    c->roots = grown;
    c->roots[c->n++] = nr;
out:
    if (fd >= 0)
        close(fd);
    mem_free(abs);
    return rc;
}

int confine_new(const char *workdir, const char *const *read, size_t n_read,
                const char *const *write, size_t n_write, confine **out, char **err)
{
    char eb[128], shown[160];
    char real[PATH_MAX];
    int rc = 0;
    confine *c = NULL;

    if (!out)
        return err_set(err, -EINVAL, "confine_new: out is NULL");
    *out = NULL;
    if (!workdir || !*workdir)
        return err_set(err, -EINVAL, "workdir is empty; give a directory");
    if ((n_read && !read) || (n_write && !write))
        return err_set(err, -EINVAL, "confine_new: permitted path list is NULL");
    if (!realpath(workdir, real))
        return err_set(err, -errno, "workdir '%s': %s", show(workdir, shown),
                       errstr(errno, eb, sizeof eb));
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(err, -ENOTDIR, "workdir '%s' is not a directory", show(workdir, shown));
    c = mem_calloc(1, sizeof *c);
    if (!c || !(c->workdir = mem_strdup(real))) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_read && rc == 0; i++)
        rc = add_root(c, read[i], false, err);
    for (size_t i = 0; i < n_write && rc == 0; i++)
        rc = add_root(c, write[i], true, err);
    if (rc)
        goto fail;
    *out = c;
    return 0;
fail:
    confine_free(c);
    return rc;
}

const char *confine_workdir(const confine *c)
{
    return c ? c->workdir : NULL;
}

void confine_free(confine *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        if (c->roots[i].fd >= 0)
            close(c->roots[i].fd);
        mem_free(c->roots[i].path);
        mem_free(c->roots[i].file);
    }
    mem_free(c->roots);
    mem_free(c->workdir);
    mem_free(c);
}
