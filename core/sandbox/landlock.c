#include "util/common.h"
#include "sandbox/landlock.h"
#include "util/err.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The build machine's <linux/landlock.h> (linux-libc-dev) may predate the
 * running kernel, so every constant past ABI 1 is defined here when missing,
 * and the structures are our own copies of the kernel's (the kernel accepts
 * a shorter ruleset_attr from an older caller: we pass the size of the ABI
 * we use).
 */
#if __has_include(<linux/landlock.h>)
#include <linux/landlock.h>
#endif

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef LANDLOCK_RULE_PATH_BENEATH
#define LANDLOCK_RULE_PATH_BENEATH 1
#endif
#ifndef LANDLOCK_RULE_NET_PORT
#define LANDLOCK_RULE_NET_PORT 2
#endif
/* ABI 1 */
#ifndef LANDLOCK_ACCESS_FS_EXECUTE
#define LANDLOCK_ACCESS_FS_EXECUTE (1ULL << 0)
#define LANDLOCK_ACCESS_FS_WRITE_FILE (1ULL << 1)
#define LANDLOCK_ACCESS_FS_READ_FILE (1ULL << 2)
#define LANDLOCK_ACCESS_FS_READ_DIR (1ULL << 3)
#define LANDLOCK_ACCESS_FS_REMOVE_DIR (1ULL << 4)
#define LANDLOCK_ACCESS_FS_REMOVE_FILE (1ULL << 5)
#define LANDLOCK_ACCESS_FS_MAKE_CHAR (1ULL << 6)
#define LANDLOCK_ACCESS_FS_MAKE_DIR (1ULL << 7)
#define LANDLOCK_ACCESS_FS_MAKE_REG (1ULL << 8)
#define LANDLOCK_ACCESS_FS_MAKE_SOCK (1ULL << 9)
#define LANDLOCK_ACCESS_FS_MAKE_FIFO (1ULL << 10)
#define LANDLOCK_ACCESS_FS_MAKE_BLOCK (1ULL << 11)
#define LANDLOCK_ACCESS_FS_MAKE_SYM (1ULL << 12)
#endif
/* ABI 2 */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
/* ABI 3 */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
/* ABI 4 */
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
/* ABI 5 */
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
/* ABI 6 */
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* The newest ABI whose rights this file knows (ABI 7 only adds audit logging
 * flags, which we leave at their defaults). */
#define SBX_LANDLOCK_ABI_KNOWN 7

/* struct landlock_ruleset_attr as of ABI 6. */
struct sbx_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
};

/* struct landlock_path_beneath_attr (packed in the kernel's UAPI). */
struct sbx_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE                                                                                          \
    (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |     \
     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_SYM |             \
     LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
/* The rights that make sense on a file (not a directory) rule. */
#define FS_FILE_RIGHTS                                                                                    \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |          \
     LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* Every file-system right an ABI version can handle. */
static uint64_t fs_rights_of_abi(int abi)
{
    uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
    if (abi >= 2)
        r |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        r |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return r;
}

/* The system library dirs (where the ELF interpreter lives): execute rights
 * there without p->exec. */
static const char *const lib_dirs[] = {"/lib",     "/lib64",     "/lib32",      "/libx32",
                                       "/usr/lib", "/usr/lib64", "/usr/lib32",  "/usr/libx32", NULL};

static bool is_lib_dir(const char *path)
{
    for (size_t l = 0; lib_dirs[l]; l++)
        if (!strcmp(path, lib_dirs[l]))
            return true;
    return false;
}

/* True when `dir` is an entry of p->ro or lies under one. */
static bool ro_covers(const sandbox_policy *p, const char *dir)
{
    size_t dl = strlen(dir);
    for (size_t i = 0; i < p->ro.n; i++) {
        const char *r = p->ro.v[i];
        size_t rl = strlen(r);
        while (rl > 1 && r[rl - 1] == '/')
            rl--;
        if (rl == 1 && r[0] == '/')
            return true;
        if (rl <= dl && !strncmp(r, dir, rl) && (dir[rl] == '\0' || dir[rl] == '/'))
            return true;
    }
    return false;
}

int sbx_landlock_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v > 0 ? (int)v : 0;
}

/* Add a path-beneath rule for `path` (skipped when it does not exist):
 * dir_rights if it is a directory, file_rights otherwise, both masked to
 * what the ruleset handles. The kernel refuses directory rights on a file
 * with EINVAL, which is how a file is told from a directory without one
 * more system call (each costs 1-3 us in the worker). */
static int add_path(int ruleset, const char *path, uint64_t dir_rights, uint64_t file_rights, uint64_t handled,
                    char **err)
{
    if (!path || !*path)
        return 0;
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return 0;
        return err_set(err, -e, "landlock: cannot open %s for a rule: %s (fix the policy path or its permissions)",
                       path, strerror(e));
    }
    int rc = 0;
    dir_rights &= handled;
    file_rights &= handled & FS_FILE_RIGHTS;
    struct sbx_path_beneath_attr pb = {.allowed_access = dir_rights, .parent_fd = fd};
    long r = dir_rights ? syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) : -1;
    if (r < 0 && (!dir_rights || errno == EINVAL) && file_rights != dir_rights) {
        pb.allowed_access = file_rights;
        r = file_rights ? syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) : 0;
    }
    if (r < 0) {
        rc = -errno;
        err_set(err, rc, "landlock_add_rule %s: %s", path, strerror(-rc));
    }
    close(fd);
    return rc;
}

int sbx_landlock_apply(const sandbox_policy *p, const char *tmp_path, int *abi_out, char **err)
{
    int rc = 0, ruleset = -1;
    if (!p)
        return err_set(err, -EINVAL, "landlock: no policy given");

    long kabi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (kabi <= 0) {
        int e = kabi < 0 ? errno : ENOSYS;
        if (e == EOPNOTSUPP)
            return err_set(err, -EOPNOTSUPP,
                           "landlock is disabled on this kernel: add 'landlock' to the lsm= boot parameter");
        if (e == ENOSYS)
            return err_set(err, -ENOSYS, "this kernel has no landlock (needs Linux 5.13+ with CONFIG_SECURITY_LANDLOCK)");
        return err_set(err, -e, "landlock_create_ruleset (version): %s", strerror(e));
    }
    int abi = kabi > SBX_LANDLOCK_ABI_KNOWN ? SBX_LANDLOCK_ABI_KNOWN : (int)kabi;

    uint64_t handled = fs_rights_of_abi(abi);
    struct sbx_ruleset_attr attr = {.handled_access_fs = handled};
    size_t attr_size = offsetof(struct sbx_ruleset_attr, handled_access_net);
    if (abi >= 4) {
        /* Handled with no rule: every TCP bind and connect is denied. */
        if (!p->net)
            attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
        attr_size = offsetof(struct sbx_ruleset_attr, scoped);
    }
    if (abi >= 6) {
        attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
        attr_size = sizeof attr;
    }

    ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (ruleset < 0) {
        rc = -errno;
        err_set(err, rc, "landlock_create_ruleset (ABI %d): %s", abi, strerror(-rc));
        goto out;
    }

    const uint64_t X = LANDLOCK_ACCESS_FS_EXECUTE;
    uint64_t exec = p->exec ? X : 0;
    for (size_t i = 0; i < p->ro.n; i++) {
        const char *r = p->ro.v[i];
        uint64_t x = exec;
        if ((p->pack_dir && !strcmp(r, p->pack_dir)) || is_lib_dir(r))
            x = X;
        /* A file named on its own (the venom-worker binary) may be run. */
        if ((rc = add_path(ruleset, r, FS_READ | x, LANDLOCK_ACCESS_FS_READ_FILE | X, handled, err)) < 0)
            goto out;
    }
    /* Library dirs under a read-only entry (/usr/lib under /usr): the ELF
     * interpreter is opened for execution by execve(2) of a dynamic binary. */
    for (size_t l = 0; !exec && lib_dirs[l]; l++) {
        bool listed = false;
        for (size_t i = 0; i < p->ro.n && !listed; i++)
            listed = !strcmp(p->ro.v[i], lib_dirs[l]);
        if (!listed && ro_covers(p, lib_dirs[l]) &&
            (rc = add_path(ruleset, lib_dirs[l], FS_READ | X, FS_READ | X, handled, err)) < 0)
            goto out;
    }
    for (size_t i = 0; i < p->rw.n; i++)
        if ((rc = add_path(ruleset, p->rw.v[i], FS_READ | FS_WRITE | exec, FS_READ | FS_WRITE | exec, handled,
                           err)) < 0)
            goto out;
    if ((rc = add_path(ruleset, tmp_path, FS_READ | FS_WRITE | exec, 0, handled, err)) < 0)
        goto out;
    /* TRUNCATE so that a shell's `> /dev/null` (O_TRUNC) works. */
    uint64_t dev_rw = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
    uint64_t dev_ro = LANDLOCK_ACCESS_FS_READ_FILE;
    if ((rc = add_path(ruleset, "/dev/null", dev_rw, dev_rw, handled, err)) < 0 ||
        (rc = add_path(ruleset, "/dev/zero", dev_rw, dev_rw, handled, err)) < 0 ||
        (rc = add_path(ruleset, "/dev/urandom", dev_ro, dev_ro, handled, err)) < 0)
        goto out;
    /* The process's own /proc entry, read-only, so that it (and sbx_verify)
     * can read /proc/self: status, fd, maps. Magic links there (exe, fd/N,
     * cwd, root) resolve to their targets, which landlock checks on their
     * own paths; other processes' entries stay hidden. */
    char self[32];
    snprintf(self, sizeof self, "/proc/%d", (int)getpid());
    if ((rc = add_path(ruleset, self, FS_READ, LANDLOCK_ACCESS_FS_READ_FILE, handled, err)) < 0)
        goto out;

    if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
        rc = -errno;
        if (rc == -EPERM)
            err_set(err, rc,
                    "landlock_restrict_self: not permitted without no_new_privs or CAP_SYS_ADMIN: "
                    "call sbx_no_new_privs() first");
        else
            err_set(err, rc, "landlock_restrict_self: %s", strerror(-rc));
        goto out;
    }
    if (abi_out)
        *abi_out = abi;
out:
    if (ruleset >= 0)
        close(ruleset);
    return rc;
}
