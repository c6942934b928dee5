#include "util/common.h"
#include "sandbox/nsfs.h"
#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif

#include "util/err.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef RESOLVE_NO_SYMLINKS
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

/* Our own copies of the mount_setattr ABI (not every libc has them). */
#define SBX_ATTR_RDONLY 0x1ull
#define SBX_ATTR_NOSUID 0x2ull
#define SBX_ATTR_NODEV 0x4ull
#define SBX_ATTR_NOEXEC 0x8ull
struct sbx_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};
struct sbx_open_how {
    uint64_t flags, mode, resolve;
};

#define NS_ALL                                                                                                     \
    (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWCGROUP)

/* ---------------------------------------------------------------- clone */

unsigned long sbx_ns_flags(const sandbox_policy *p)
{
    if (!p)
        return 0;
    unsigned long f = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
    if (geteuid() != 0)
        f |= CLONE_NEWUSER;
    if (!p->net)
        f |= CLONE_NEWNET;
    return f;
}

/* clone(2) without a new stack: the child returns here like fork's does.
 * The parent-tid argument (where CLONE_PIDFD stores the pidfd) is the third
 * on every architecture but s390, which swaps the first two. */
static long raw_clone(unsigned long flags, int *ptid)
{
#if defined(__s390__) || defined(__CRIS__)
    return syscall(SYS_clone, 0L, flags, ptid, NULL, 0L);
#else
    return syscall(SYS_clone, flags, 0L, ptid, NULL, 0L);
#endif
}

static const char *clone_hint(int e, unsigned long flags)
{
    if ((flags & CLONE_NEWUSER) && (e == EPERM || e == ENOSPC || e == EUSERS))
        return "user namespaces are disabled or exhausted here (see 'venom doctor' for the sysctl to change)";
    if (e == EPERM)
        return "creating namespaces needs root or a user namespace (see 'venom doctor')";
    if (e == ENOSPC || e == EUSERS)
        return "a namespace limit is reached (/proc/sys/user/max_*_namespaces)";
    if (e == EAGAIN)
        return "the process limit is reached (RLIMIT_NPROC or pids.max)";
    return "see 'venom doctor' for what this machine supports";
}

pid_t sbx_clone(unsigned long flags, int *pidfd, char **err)
{
    if (flags & ~(unsigned long)NS_ALL)
        return err_set(err, -EINVAL,
                       "sbx_clone: flags 0x%lx contain 0x%lx, which are not CLONE_NEW* namespace flags: pass only "
                       "the flags of sbx_ns_flags()",
                       flags, flags & ~(unsigned long)NS_ALL);
    int fd = -1;
    long r;
    if (pidfd) {
        r = raw_clone(flags | CLONE_PIDFD | SIGCHLD, &fd);
        if (r < 0 && errno == EINVAL) /* before Linux 5.2: no CLONE_PIDFD */
            r = raw_clone(flags | SIGCHLD, NULL);
    } else {
        r = raw_clone(flags | SIGCHLD, NULL);
    }
    if (r < 0) {
        int e = errno;
        return err_set(err, -e, "sbx_clone: clone(flags 0x%lx) failed: %s; %s", flags, strerror(e),
                       clone_hint(e, flags));
    }
    if (r > 0 && pidfd)
        *pidfd = fd;
    return (pid_t)r;
}

/* ------------------------------------------------------------- id maps */

/* Write s to path (an existing file); 0 or -errno. Only system calls. */
static int write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(s);
    ssize_t w = write(fd, s, len);
    int e = w < 0 ? errno : EIO;
    close(fd);
    return w == (ssize_t)len ? 0 : -e;
}

int sbx_ns_setup_ids(uid_t outer_uid, gid_t outer_gid, bool userns, char **err)
{
    if (!userns)
        return 0;
    char map[64];
    const char *file = "/proc/self/setgroups";
    int rc = write_file(file, "deny");
    if (rc == -ENOENT) /* before Linux 3.19 there is no setgroups file */
        rc = 0;
    if (rc == 0) {
        file = "/proc/self/uid_map";
        snprintf(map, sizeof map, "%u %u 1\n", (unsigned)outer_uid, (unsigned)outer_uid);
        rc = write_file(file, map);
    }
    if (rc == 0) {
        file = "/proc/self/gid_map";
        snprintf(map, sizeof map, "%u %u 1\n", (unsigned)outer_gid, (unsigned)outer_gid);
        rc = write_file(file, map);
    }
    if (rc < 0)
        return err_set(err, rc,
                       "sandbox: cannot write %s (uid %u, gid %u): %s; call it once, in a child created with "
                       "CLONE_NEWUSER, before it execs",
                       file, (unsigned)outer_uid, (unsigned)outer_gid, strerror(-rc));
    return 0;
}

/* ---------------------------------------------------------------- plan */

typedef struct plan_bind {
    char *path;  /* resolved; the same path on the host and in the view */
    bool rw;     /* read-write, else read-only */
    bool exec;   /* exec allowed, else noexec */
    bool is_dir; /* a directory, else a file */
    bool weak;   /* the workdir: only bound when no other entry covers it */
    bool pinned; /* the pack dir: never read-write */
} plan_bind;

typedef struct plan_link {
    char *path;   /* where the symlink is created in the view */
    char *target; /* its content, as on the host */
} plan_link;

/* Device nodes bound from the host into the minimal /dev. */
static const char *const dev_nodes[] = {"null", "zero", "full", "urandom"};
#define N_DEV ARRAY_SIZE(dev_nodes)
static const char *const dev_links[][2] = {
    {"random", "urandom"},         {"fd", "/proc/self/fd"},         {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
};

struct sbx_fs_plan {
    plan_bind *b;
    size_t nb;
    plan_link *l;
    size_t nl;
    int *fds; /* nb + N_DEV source descriptors, opened in the child */
    char *workdir;
    char base[32];  /* host directory the new root is built on */
    char tmp_opts[96];
    unsigned long tmp_flags;
    char err[4096];
};

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The venom-worker binary, bound on its own, must stay executable. */
static bool is_worker(const char *real)
{
    char w[PATH_MAX];
    return realpath(sandbox_worker_path(), w) && !strcmp(w, real);
}

static bool is_system(const char *declared)
{
    for (size_t i = 0; sandbox_system_ro[i]; i++)
        if (under(declared, sandbox_system_ro[i]))
            return true;
    return false;
}

static int plan_grow(sbx_fs_plan *pl, size_t *cap_b, size_t *cap_l, bool link)
{
    if (link && pl->nl == *cap_l) {
        size_t n = *cap_l ? *cap_l * 2 : 8;
        plan_link *l = mem_realloc(pl->l, n * sizeof *l);
        if (!l)
            return -ENOMEM;
        pl->l = l;
        *cap_l = n;
    }
    if (!link && pl->nb == *cap_b) {
        size_t n = *cap_b ? *cap_b * 2 : 16;
        plan_bind *b = mem_realloc(pl->b, n * sizeof *b);
        if (!b)
            return -ENOMEM;
        pl->b = b;
        *cap_b = n;
    }
    return 0;
}

typedef struct plan_ctx {
    sbx_fs_plan *pl;
    size_t cap_b, cap_l;
    const char *pack_real; /* realpath of the pack dir, or NULL */
    bool exec_all;
} plan_ctx;

/* Add one declared path: validated, resolved, as a bind (+ a symlink when the
 * declared path itself is one, e.g. /lib -> usr/lib). */
static int plan_add(plan_ctx *c, const char *declared, const char *what, bool rw, bool weak, bool pinned,
                    char **err)
{
    char real[PATH_MAX], link[PATH_MAX];
    struct stat st;
    if (!declared || declared[0] != '/')
        return err_set(err, -EINVAL, "sandbox: %s path '%s' is not absolute: the policy must hold resolved paths",
                       what, declared ? declared : "(null)");
    if (lstat(declared, &st) < 0 || !realpath(declared, real)) {
        int e = errno;
        return err_set(err, -e, "sandbox: %s path %s cannot be resolved: %s; create it or remove it from the "
                       "manifest's permissions", what, declared, strerror(e));
    }
    if (strcmp(real, "/") == 0)
        return err_set(err, -EINVAL, "sandbox: %s path %s is the host's root '/': binding it would expose every "
                       "file; declare narrower paths", what, declared);
    if (under(real, "/proc") || under(real, "/dev"))
        return err_set(err, -EINVAL, "sandbox: %s path %s (%s) is under /proc or /dev, which the sandbox builds "
                       "itself; remove it from the policy", what, declared, real);
    struct stat rst;
    if (stat(real, &rst) < 0) {
        int e = errno;
        return err_set(err, -e, "sandbox: %s path %s: %s", what, real, strerror(e));
    }
    if (!S_ISDIR(rst.st_mode) && !S_ISREG(rst.st_mode))
        return err_set(err, -EINVAL, "sandbox: %s path %s is neither a directory nor a regular file", what, real);
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(declared, link, sizeof link - 1);
        if (n < 0) {
            int e = errno;
            return err_set(err, -e, "sandbox: cannot read the symlink %s: %s", declared, strerror(e));
        }
        link[n] = '\0';
        if (plan_grow(c->pl, &c->cap_b, &c->cap_l, true) < 0)
            return err_set(err, -ENOMEM, "out of memory");
        plan_link *l = &c->pl->l[c->pl->nl];
        l->path = mem_strdup(declared);
        l->target = mem_strdup(link);
        if (!l->path || !l->target) {
            mem_free(l->path);
            mem_free(l->target);
            return err_set(err, -ENOMEM, "out of memory");
        }
        c->pl->nl++;
    }
    if (plan_grow(c->pl, &c->cap_b, &c->cap_l, false) < 0)
        return err_set(err, -ENOMEM, "out of memory");
    plan_bind *b = &c->pl->b[c->pl->nb];
    *b = (plan_bind){.rw = rw && !pinned, .is_dir = S_ISDIR(rst.st_mode), .weak = weak, .pinned = pinned};
    b->exec = c->exec_all || is_system(declared) || (c->pack_real && under(real, c->pack_real)) ||
              (!S_ISDIR(rst.st_mode) && is_worker(real));
    b->path = mem_strdup(real);
    if (!b->path)
        return err_set(err, -ENOMEM, "out of memory");
    c->pl->nb++;
    return 0;
}

static int cmp_bind(const void *a, const void *b)
{
    return strcmp(((const plan_bind *)a)->path, ((const plan_bind *)b)->path);
}

/* Sort, merge duplicates, and drop binds that an enclosing bind already
 * provides with the same flags (e.g. /usr/lib, reached through /lib, under
 * /usr): each directory is bound once. */
static void plan_reduce(sbx_fs_plan *pl)
{
    if (pl->nb == 0)
        return;
    qsort(pl->b, pl->nb, sizeof *pl->b, cmp_bind);
    size_t k = 0;
    for (size_t i = 0; i < pl->nb; i++) {
        plan_bind *e = &pl->b[i];
        if (k > 0 && strcmp(pl->b[k - 1].path, e->path) == 0) {
            plan_bind *m = &pl->b[k - 1];
            bool pinned = m->pinned || e->pinned;
            if (m->weak)
                m->rw = e->rw;
            else if (!e->weak)
                m->rw = (m->rw || e->rw) && !pinned;
            m->exec = m->exec || e->exec;
            m->pinned = pinned;
            m->weak = m->weak && e->weak;
            mem_free(e->path);
            continue;
        }
        const plan_bind *anc = NULL;
        for (size_t j = k; j-- > 0;)
            if (under(e->path, pl->b[j].path)) {
                anc = &pl->b[j];
                break;
            }
        if (anc && (e->weak || (anc->rw == e->rw && anc->exec == e->exec && !e->pinned))) {
            mem_free(e->path);
            continue;
        }
        pl->b[k++] = *e;
    }
    pl->nb = k;
}

/* True when path is dir or lies below it. */
static bool at_or_below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* The host directory to build the new root on: the mount placed there is
 * only seen by the child's private mount namespace. It must not be (or lie
 * below) a path the plan binds: a recursive bind of that path would carry
 * the new root along and hide what is really there (a workdir /tmp with a
 * pack under /tmp/...). */
static const char *pick_base(const sbx_fs_plan *pl)
{
    static const char *const cand[] = {"/tmp", "/mnt", "/run", "/var/tmp", "/opt", "/srv", "/media"};
    struct stat st;
    for (size_t i = 0; i < ARRAY_SIZE(cand); i++) {
        bool clash = false;
        for (size_t j = 0; j < pl->nb && !clash; j++)
            clash = at_or_below(cand[i], pl->b[j].path);
        if (!clash && lstat(cand[i], &st) == 0 && S_ISDIR(st.st_mode))
            return cand[i];
    }
    return NULL;
}

int sbx_fs_plan_new(const sandbox_policy *p, sbx_fs_plan **out, char **err)
{
    int rc = 0;
    if (!out)
        return err_set(err, -EINVAL, "sbx_fs_plan_new: out is NULL");
    *out = NULL;
    if (!p)
        return err_set(err, -EINVAL, "sbx_fs_plan_new: no policy");
    if (!p->workdir || p->workdir[0] != '/')
        return err_set(err, -EINVAL, "sandbox: the workdir '%s' is not an absolute path",
                       p->workdir ? p->workdir : "(null)");
    sbx_fs_plan *pl = mem_calloc(1, sizeof *pl);
    if (!pl)
        return err_set(err, -ENOMEM, "out of memory");
    char pack_real[PATH_MAX];
    plan_ctx c = {.pl = pl, .exec_all = p->exec};
    if (p->pack_dir) {
        if (!realpath(p->pack_dir, pack_real)) {
            int e = errno;
            rc = err_set(err, -e, "sandbox: the pack dir %s cannot be resolved: %s", p->pack_dir, strerror(e));
            goto fail;
        }
        c.pack_real = pack_real;
    }
    for (size_t i = 0; i < p->ro.n; i++)
        if ((rc = plan_add(&c, p->ro.v[i], "read-only", false, false, false, err)) < 0)
            goto fail;
    for (size_t i = 0; i < p->rw.n; i++)
        if ((rc = plan_add(&c, p->rw.v[i], "read-write", true, false, false, err)) < 0)
            goto fail;
    if (p->pack_dir && (rc = plan_add(&c, p->pack_dir, "pack", false, false, true, err)) < 0)
        goto fail;
    if ((rc = plan_add(&c, p->workdir, "workdir", false, true, false, err)) < 0)
        goto fail;
    if (!pl->b[pl->nb - 1].is_dir) {
        rc = err_set(err, -ENOTDIR, "sandbox: the workdir %s is not a directory", p->workdir);
        goto fail;
    }
    pl->workdir = mem_strdup(pl->b[pl->nb - 1].path);
    if (!pl->workdir) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    plan_reduce(pl);
    pl->fds = mem_alloc((pl->nb + N_DEV) * sizeof *pl->fds);
    if (!pl->fds) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < pl->nb + N_DEV; i++)
        pl->fds[i] = -1;
    const char *base = pick_base(pl);
    if (!base) {
        rc = err_set(err, -ENOENT, "sandbox: none of /tmp, /mnt, /run, /var/tmp, /opt, /srv, /media exists outside "
                     "the paths the pack may reach, to build the new root on; run it from a narrower workdir");
        goto fail;
    }
    snprintf(pl->base, sizeof pl->base, "%s", base);
    uint64_t tmp = p->tmp_bytes ? p->tmp_bytes : SANDBOX_DEFAULT_TMP;
    uint64_t inodes = tmp / 4096;
    if (inodes < 1024)
        inodes = 1024;
    if (inodes > (1u << 20))
        inodes = 1u << 20;
    snprintf(pl->tmp_opts, sizeof pl->tmp_opts, "size=%" PRIu64 ",nr_inodes=%" PRIu64 ",mode=1777", tmp, inodes);
    pl->tmp_flags = MS_NOSUID | MS_NODEV | (p->exec ? 0 : MS_NOEXEC);
    *out = pl;
    return 0;
fail:
    sbx_fs_plan_free(pl);
    return rc;
}

void sbx_fs_plan_free(sbx_fs_plan *pl)
{
    if (!pl)
        return;
    for (size_t i = 0; i < pl->nb; i++)
        mem_free(pl->b[i].path);
    for (size_t i = 0; i < pl->nl; i++) {
        mem_free(pl->l[i].path);
        mem_free(pl->l[i].target);
    }
    mem_free(pl->b);
    mem_free(pl->l);
    mem_free(pl->fds);
    mem_free(pl->workdir);
    mem_free(pl);
}

const char *sbx_fs_plan_error(const sbx_fs_plan *pl)
{
    return pl ? pl->err : "";
}

const char *sbx_fs_tmp_path(void)
{
    return "/tmp";
}

/* ------------------------------------------------------- apply (child) */
/* Everything below makes only system calls (and snprintf on failure). */

static int fail_at(sbx_fs_plan *pl, int e, const char *what, const char *path)
{
    snprintf(pl->err, sizeof pl->err, "sandbox: %.120s %.3800s: %.100s", what, path, strerror(e));
    return -e;
}

static void fd_path(char *buf, size_t n, int fd)
{
    snprintf(buf, n, "/proc/self/fd/%d", fd);
}

/* Open a source on the host, refusing any symlink on the way. */
static int open_source(const char *path)
{
#ifdef SYS_openat2
    struct sbx_open_how how = {.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
                               .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS)
        return fd >= 0 ? (int)fd : -errno;
#endif
    int f = open(path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
    return f >= 0 ? f : -errno;
}

/* Walk rel (no leading '/') below dirfd one component at a time, never
 * following a symlink, creating what is missing when create is set (the
 * last component as a directory or an empty file). Returns an O_PATH fd of
 * the last component, or -errno. */
static int walk(int dirfd, const char *rel, bool create, bool is_dir)
{
    char comp[NAME_MAX + 1];
    int cur = dirfd;
    const char *s = rel;
    int rc = 0;
    for (;;) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        if (n == 0 || n > NAME_MAX) {
            rc = -EINVAL;
            break;
        }
        memcpy(comp, s, n);
        comp[n] = '\0';
        s += n;
        while (*s == '/')
            s++;
        bool last = *s == '\0';
        int mk = 0;
        if (create && (!last || is_dir)) {
            if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
                mk = -errno;
        } else if (create) {
            int f = openat(cur, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (f >= 0)
                close(f);
            else if (errno != EEXIST)
                mk = -errno;
        }
        int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC | (last && !is_dir ? 0 : O_DIRECTORY);
        int next = openat(cur, comp, flags);
        if (next < 0)
            rc = mk ? mk : -errno;
        if (cur != dirfd)
            close(cur);
        if (next < 0)
            break;
        cur = next;
        if (last)
            return cur;
    }
    if (cur != dirfd)
        close(cur);
    return rc;
}

/* Set mount attributes on the mount whose root is fd (and, recursive, on
 * every mount below it). Only adds restrictions, so locked flags (in a user
 * namespace) never get in the way. Falls back to a remount before 5.12. */
static int set_attrs(int fd, uint64_t attrs, bool recursive)
{
#ifdef SYS_mount_setattr
    struct sbx_mount_attr a = {.attr_set = attrs};
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof a) == 0)
        return 0;
    if (errno != ENOSYS)
        return -errno;
#endif
    char p[32];
    fd_path(p, sizeof p, fd);
    struct statvfs sv;
    if (statvfs(p, &sv) < 0)
        return -errno;
    unsigned long f = MS_REMOUNT | MS_BIND;
    f |= (sv.f_flag & ST_NOATIME ? MS_NOATIME : 0) | (sv.f_flag & ST_NODIRATIME ? MS_NODIRATIME : 0) |
         (sv.f_flag & ST_RELATIME ? MS_RELATIME : 0) | (sv.f_flag & ST_RDONLY ? MS_RDONLY : 0) |
         (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
         (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0);
    f |= (attrs & SBX_ATTR_RDONLY ? MS_RDONLY : 0) | (attrs & SBX_ATTR_NOSUID ? MS_NOSUID : 0) |
         (attrs & SBX_ATTR_NODEV ? MS_NODEV : 0) | (attrs & SBX_ATTR_NOEXEC ? MS_NOEXEC : 0);
    return mount(NULL, p, NULL, f, NULL) == 0 ? 0 : -errno;
}

/* Bind the source fd src at rel below rootfd, then restrict it. */
static int bind_at(sbx_fs_plan *pl, int rootfd, int src, const char *rel, const char *shown, bool is_dir,
                   uint64_t attrs)
{
    char sp[32], dp[32];
    int dst = walk(rootfd, rel, true, is_dir);
    if (dst < 0)
        return fail_at(pl, -dst, "cannot create the mount point for", shown);
    fd_path(sp, sizeof sp, src);
    fd_path(dp, sizeof dp, dst);
    int rc = mount(sp, dp, NULL, MS_BIND | MS_REC, NULL) == 0 ? 0 : -errno;
    close(dst);
    if (rc < 0)
        return fail_at(pl, -rc, "cannot bind", shown);
    dst = walk(rootfd, rel, false, is_dir); /* now the root of the new mount */
    if (dst < 0)
        return fail_at(pl, -dst, "cannot reopen the bind of", shown);
    rc = set_attrs(dst, attrs, true);
    close(dst);
    if (rc < 0)
        return fail_at(pl, -rc, "cannot restrict the bind of", shown);
    return 0;
}

static int mount_fs_at(sbx_fs_plan *pl, int rootfd, const char *rel, const char *type, unsigned long flags,
                       const char *opts)
{
    char dp[32];
    int dst = walk(rootfd, rel, true, true);
    if (dst < 0)
        return fail_at(pl, -dst, "cannot create the mount point for", rel);
    fd_path(dp, sizeof dp, dst);
    int rc = mount(type, dp, type, flags, opts) == 0 ? 0 : -errno;
    close(dst);
    return rc < 0 ? fail_at(pl, -rc, type[0] == 'p' ? "cannot mount a fresh proc on" : "cannot mount a tmpfs on",
                            rel)
                  : 0;
}

/* Make an existing path inside the view (e.g. proc/sys) a read-only bind of itself. */
static int protect(sbx_fs_plan *pl, int rootfd, const char *rel, bool is_dir)
{
    int fd = walk(rootfd, rel, false, is_dir);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fail_at(pl, -fd, "cannot open", rel);
    int rc = bind_at(pl, rootfd, fd, rel, rel, is_dir, SBX_ATTR_RDONLY | SBX_ATTR_NOSUID | SBX_ATTR_NODEV |
                                                           SBX_ATTR_NOEXEC);
    close(fd);
    return rc;
}

static int setup_dev(sbx_fs_plan *pl, int rootfd)
{
    int rc = mount_fs_at(pl, rootfd, "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64");
    if (rc < 0)
        return rc;
    char rel[64], shown[64];
    for (size_t i = 0; i < N_DEV; i++) {
        snprintf(rel, sizeof rel, "dev/%s", dev_nodes[i]);
        snprintf(shown, sizeof shown, "/dev/%s", dev_nodes[i]);
        rc = bind_at(pl, rootfd, pl->fds[pl->nb + i], rel, shown, false,
                     SBX_ATTR_RDONLY | SBX_ATTR_NOSUID | SBX_ATTR_NOEXEC);
        if (rc < 0)
            return rc;
    }
    int dev = walk(rootfd, "dev", false, true);
    if (dev < 0)
        return fail_at(pl, -dev, "cannot open", "/dev");
    for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++)
        if (symlinkat(dev_links[i][1], dev, dev_links[i][0]) < 0) {
            rc = fail_at(pl, errno, "cannot create the symlink /dev/", dev_links[i][0]);
            break;
        }
    if (rc == 0 && (rc = set_attrs(dev, SBX_ATTR_RDONLY | SBX_ATTR_NOSUID | SBX_ATTR_NOEXEC, false)) < 0)
        rc = fail_at(pl, -rc, "cannot make read-only", "/dev");
    close(dev);
    return rc;
}

static int make_link(sbx_fs_plan *pl, int rootfd, const plan_link *l)
{
    const char *rel = l->path + 1;
    const char *slash = strrchr(rel, '/');
    int parent = rootfd;
    if (slash) {
        char dir[PATH_MAX];
        size_t n = (size_t)(slash - rel);
        if (n >= sizeof dir)
            return fail_at(pl, ENAMETOOLONG, "cannot create the symlink", l->path);
        memcpy(dir, rel, n);
        dir[n] = '\0';
        parent = walk(rootfd, dir, true, true);
        if (parent < 0)
            return fail_at(pl, -parent, "cannot create the parent of the symlink", l->path);
    }
    const char *name = slash ? slash + 1 : rel;
    struct stat st;
    int rc = 0;
    /* Already there: the link lies inside a bound directory. */
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && symlinkat(l->target, parent, name) < 0)
        rc = fail_at(pl, errno, "cannot create the symlink", l->path);
    if (parent != rootfd)
        close(parent);
    return rc;
}

static void close_fds(sbx_fs_plan *pl)
{
    for (size_t i = 0; i < pl->nb + N_DEV; i++)
        if (pl->fds[i] >= 0) {
            close(pl->fds[i]);
            pl->fds[i] = -1;
        }
}

static int apply(sbx_fs_plan *pl)
{
    int rc = 0, rootfd = -1;
    char path[PATH_MAX];

    /* 1. Open every source before anything is mounted over the host view. */
    for (size_t i = 0; i < pl->nb; i++) {
        int fd = open_source(pl->b[i].path);
        if (fd < 0) {
            rc = fail_at(pl, -fd, fd == -ELOOP ? "refusing a path that became a symlink:" : "cannot open",
                         pl->b[i].path);
            goto out;
        }
        pl->fds[i] = fd;
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) { /* O_NOFOLLOW opened the link itself */
            rc = fail_at(pl, ELOOP, "refusing a path that became a symlink:", pl->b[i].path);
            goto out;
        }
        if (fstat(fd, &st) < 0 || (S_ISDIR(st.st_mode) != pl->b[i].is_dir)) {
            rc = fail_at(pl, ESTALE, "the path changed type since the policy was built:", pl->b[i].path);
            goto out;
        }
    }
    for (size_t i = 0; i < N_DEV; i++) {
        snprintf(path, sizeof path, "/dev/%s", dev_nodes[i]);
        int fd = open_source(path);
        if (fd < 0) {
            rc = fail_at(pl, -fd, "cannot open the host's", path);
            goto out;
        }
        pl->fds[pl->nb + i] = fd;
    }

    /* 2. Nothing we mount may propagate back to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        rc = fail_at(pl, errno, "cannot make the mounts private (is this a new mount namespace?) on", "/");
        goto out;
    }
    /* 3. The new root: a small tmpfs, read-only once built. */
    if (mount("tmpfs", pl->base, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096") < 0) {
        rc = fail_at(pl, errno, "cannot mount the new root tmpfs on", pl->base);
        goto out;
    }
    rootfd = open(pl->base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        rc = fail_at(pl, errno, "cannot open the new root", pl->base);
        goto out;
    }
    /* 4. What every worker gets. Declared paths come after, so that one
     * under /tmp lands inside the private /tmp. */
    if ((rc = mount_fs_at(pl, rootfd, "tmp", "tmpfs", pl->tmp_flags, pl->tmp_opts)) < 0)
        goto out;
    if ((rc = mount_fs_at(pl, rootfd, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) < 0)
        goto out;
    if ((rc = protect(pl, rootfd, "proc/sys", true)) < 0 || (rc = protect(pl, rootfd, "proc/sysrq-trigger", false)) < 0)
        goto out;
    if ((rc = setup_dev(pl, rootfd)) < 0)
        goto out;
    /* 5. The declared paths, parents first (the plan is sorted). */
    for (size_t i = 0; i < pl->nb; i++) {
        const plan_bind *b = &pl->b[i];
        uint64_t a = SBX_ATTR_NOSUID | SBX_ATTR_NODEV | (b->rw ? 0 : SBX_ATTR_RDONLY) | (b->exec ? 0 : SBX_ATTR_NOEXEC);
        if ((rc = bind_at(pl, rootfd, pl->fds[i], b->path + 1, b->path, b->is_dir, a)) < 0)
            goto out;
    }
    for (size_t i = 0; i < pl->nl; i++)
        if ((rc = make_link(pl, rootfd, &pl->l[i])) < 0)
            goto out;
    rc = set_attrs(rootfd, SBX_ATTR_RDONLY | SBX_ATTR_NOSUID | SBX_ATTR_NODEV, false);
    if (rc < 0) {
        rc = fail_at(pl, -rc, "cannot make the new root read-only:", pl->base);
        goto out;
    }
    close_fds(pl);
    /* 6. Swap roots: the old one ends up stacked on ".", then detached. */
    if (fchdir(rootfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0) {
        rc = fail_at(pl, errno, "pivot_root failed into", pl->base);
        goto out;
    }
    if (umount2(".", MNT_DETACH) < 0) {
        rc = fail_at(pl, errno, "cannot detach the old root", "/");
        goto out;
    }
    if (chdir("/") < 0 || chdir(pl->workdir) < 0) {
        rc = fail_at(pl, errno, "cannot enter the workdir", pl->workdir);
        goto out;
    }
out:
    close_fds(pl);
    if (rootfd >= 0)
        close(rootfd);
    return rc;
}

int sbx_fs_plan_apply(sbx_fs_plan *pl, char **err)
{
    if (!pl)
        return err_set(err, -EINVAL, "sbx_fs_plan_apply: no plan");
    pl->err[0] = '\0';
    int rc = apply(pl);
    if (rc < 0 && err)
        err_set(err, rc, "%s", pl->err);
    return rc;
}

int sbx_fs_setup(const sandbox_policy *p, char **err)
{
    sbx_fs_plan *pl = NULL;
    int rc = sbx_fs_plan_new(p, &pl, err);
    if (rc == 0)
        rc = sbx_fs_plan_apply(pl, err);
    sbx_fs_plan_free(pl);
    return rc;
}
