/*
 * seccomp.c — the worker's allowlist, built with libseccomp and exported as
 * classic BPF (libseccomp 2.5 has no export to memory: the program is written
 * to a memfd and read back). See docs/internals/seccomp.md for every entry and
 * the reason behind each errno.
 */
#include "util/common.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox/seccomp.h"
#include "util/err.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC
#define SECCOMP_FILTER_FLAG_TSYNC 1
#endif

struct sbx_filter {
    struct sock_fprog prog; /* points at insns */
    struct sock_filter insns[];
};

/* What the filter does with one system call. */
enum rule_kind {
    K_ALLOW,      /* always allowed */
    K_EPERM,      /* known-dangerous: EPERM */
    K_EXEC,       /* allowed with p->exec, else EPERM */
    K_NET,        /* allowed with p->net, else EPERM */
    K_CLONE,      /* allowed without CLONE_NEW* flags, else EPERM */
    K_IOCTL,      /* a few requests allowed; TIOCSTI/TIOCLINUX EPERM; others ENOTTY */
    K_PRLIMIT,    /* allowed when new_limit (arg 2) is NULL, else EPERM */
    K_PRCTL,      /* read-only options (and PR_SET_NAME) allowed, others EPERM */
    K_SOCKET,     /* without net EPERM; with net AF_UNIX/INET/INET6 allowed, others EPERM */
    K_SOCKETPAIR, /* AF_UNIX allowed, others EPERM */
    K_MODE,       /* allowed unless the mode argument (rule.arg) has S_ISUID or S_ISGID: EPERM */
};

#define F_OPT 1u /* may be absent on this architecture (or unknown to libseccomp) */

typedef struct rule {
    const char *name;
    uint8_t kind;
    uint8_t flags;
    uint8_t arg; /* K_MODE: which argument is the mode */
} rule;

/* The list. Keep docs/internals/seccomp.md and the golden table of
 * tests/unit/test_seccomp.c in step with it. Anything not here gets ENOSYS
 * (the default action), clone3 included. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers" /* .arg only matters for K_MODE */
static const rule rules[] = {
    /* I/O on descriptors the worker already holds or opens within its view. */
    {"read", K_ALLOW, 0},
    {"write", K_ALLOW, 0},
    {"readv", K_ALLOW, 0},
    {"writev", K_ALLOW, 0},
    {"pread64", K_ALLOW, 0},
    {"pwrite64", K_ALLOW, 0},
    {"preadv", K_ALLOW, 0},
    {"pwritev", K_ALLOW, 0},
    {"preadv2", K_ALLOW, 0},
    {"pwritev2", K_ALLOW, 0},
    {"lseek", K_ALLOW, 0},
    {"close", K_ALLOW, 0},
    {"close_range", K_ALLOW, 0},
    {"fcntl", K_ALLOW, 0},
    {"dup", K_ALLOW, 0},
    {"dup2", K_ALLOW, F_OPT},
    {"dup3", K_ALLOW, 0},
    {"pipe", K_ALLOW, F_OPT},
    {"pipe2", K_ALLOW, 0},
    {"ftruncate", K_ALLOW, 0},
    {"fsync", K_ALLOW, 0},
    {"fdatasync", K_ALLOW, 0},
    {"fchmod", K_MODE, 0, 1},
    /* Ordinary tools (chmod, df, tar, shells' job control) need these; the
     * mount view and landlock decide what they may touch. */
    {"fchmodat", K_MODE, 0, 2},
    {"statfs", K_ALLOW, 0},
    {"fstatfs", K_ALLOW, 0},
    {"creat", K_MODE, F_OPT, 1},
    {"getresuid", K_ALLOW, 0},
    {"getresgid", K_ALLOW, 0},
    {"getgroups", K_ALLOW, 0},
    {"setpgid", K_ALLOW, 0},
    {"getpgid", K_ALLOW, 0},
    {"setsid", K_ALLOW, 0},
    {"getsid", K_ALLOW, 0},
    /* File system (landlock and the mount view decide which paths). */
    {"openat", K_MODE, 0, 3},
    {"open", K_MODE, F_OPT, 2},
    {"fstat", K_ALLOW, 0},
    {"newfstatat", K_ALLOW, F_OPT},
    {"stat", K_ALLOW, F_OPT},
    {"lstat", K_ALLOW, F_OPT},
    {"statx", K_ALLOW, 0},
    {"access", K_ALLOW, F_OPT},
    {"faccessat", K_ALLOW, 0},
    {"faccessat2", K_ALLOW, 0},
    {"getdents64", K_ALLOW, 0},
    {"readlink", K_ALLOW, F_OPT},
    {"readlinkat", K_ALLOW, 0},
    {"getcwd", K_ALLOW, 0},
    {"chdir", K_ALLOW, 0},
    {"fchdir", K_ALLOW, 0},
    {"umask", K_ALLOW, 0},
    {"mkdirat", K_MODE, 0, 2},
    {"mkdir", K_MODE, F_OPT, 1},
    {"rmdir", K_ALLOW, F_OPT},
    {"unlinkat", K_ALLOW, 0},
    {"unlink", K_ALLOW, F_OPT},
    {"renameat", K_ALLOW, F_OPT},
    {"renameat2", K_ALLOW, 0},
    {"rename", K_ALLOW, F_OPT},
    {"utimensat", K_ALLOW, 0},
    {"symlinkat", K_ALLOW, 0},
    {"linkat", K_ALLOW, 0},
    /* Memory (PROT_EXEC allowed: the loader maps the skill's code). */
    {"mmap", K_ALLOW, 0},
    {"munmap", K_ALLOW, 0},
    {"mprotect", K_ALLOW, 0},
    {"madvise", K_ALLOW, 0},
    {"mremap", K_ALLOW, 0},
    {"msync", K_ALLOW, 0},
    {"brk", K_ALLOW, 0},
    /* Signals, threads, time, identity. */
    {"rt_sigaction", K_ALLOW, 0},
    {"rt_sigprocmask", K_ALLOW, 0},
    {"rt_sigreturn", K_ALLOW, 0},
    {"rt_sigsuspend", K_ALLOW, 0},
    {"rt_sigtimedwait", K_ALLOW, 0},
    {"rt_sigpending", K_ALLOW, 0},
    {"sigaltstack", K_ALLOW, 0},
    {"restart_syscall", K_ALLOW, 0},
    {"exit", K_ALLOW, 0},
    {"exit_group", K_ALLOW, 0},
    {"getpid", K_ALLOW, 0},
    {"gettid", K_ALLOW, 0},
    {"getppid", K_ALLOW, 0},
    {"getpgrp", K_ALLOW, F_OPT},
    {"getuid", K_ALLOW, 0},
    {"geteuid", K_ALLOW, 0},
    {"getgid", K_ALLOW, 0},
    {"getegid", K_ALLOW, 0},
    {"capget", K_ALLOW, 0},
    {"getrandom", K_ALLOW, 0},
    {"clock_gettime", K_ALLOW, 0},
    {"clock_getres", K_ALLOW, 0},
    {"clock_nanosleep", K_ALLOW, 0},
    {"nanosleep", K_ALLOW, 0},
    {"gettimeofday", K_ALLOW, 0},
    {"time", K_ALLOW, F_OPT},
    {"futex", K_ALLOW, 0},
    {"set_robust_list", K_ALLOW, 0},
    {"rseq", K_ALLOW, 0},
    {"set_tid_address", K_ALLOW, 0},
    {"arch_prctl", K_ALLOW, F_OPT},
    {"sched_yield", K_ALLOW, 0},
    {"sched_getaffinity", K_ALLOW, 0},
    {"uname", K_ALLOW, 0},
    {"getrlimit", K_ALLOW, F_OPT},
    {"getrusage", K_ALLOW, 0},
    {"prlimit64", K_PRLIMIT, 0},
    {"prctl", K_PRCTL, 0},
    /* Waiting for events. */
    {"poll", K_ALLOW, F_OPT},
    {"ppoll", K_ALLOW, 0},
    {"select", K_ALLOW, F_OPT},
    {"pselect6", K_ALLOW, 0},
    {"epoll_create", K_ALLOW, F_OPT},
    {"epoll_create1", K_ALLOW, 0},
    {"epoll_ctl", K_ALLOW, 0},
    {"epoll_wait", K_ALLOW, F_OPT},
    {"epoll_pwait", K_ALLOW, 0},
    {"epoll_pwait2", K_ALLOW, 0},
    {"eventfd2", K_ALLOW, 0},
    /* Sockets the worker already holds (the IPC socket). */
    {"sendmsg", K_ALLOW, 0},
    {"recvmsg", K_ALLOW, 0},
    {"sendmmsg", K_ALLOW, 0},
    {"recvmmsg", K_ALLOW, 0},
    {"sendto", K_ALLOW, 0},
    {"recvfrom", K_ALLOW, 0},
    {"shutdown", K_ALLOW, 0},
    {"socketpair", K_SOCKETPAIR, 0},
    {"socket", K_SOCKET, 0},
    {"connect", K_NET, 0},
    {"bind", K_NET, 0},
    {"listen", K_NET, 0},
    {"accept", K_NET, F_OPT},
    {"accept4", K_NET, 0},
    {"getsockopt", K_NET, 0},
    {"setsockopt", K_NET, 0},
    {"getsockname", K_NET, 0},
    {"getpeername", K_NET, 0},
    /* Processes (RLIMIT_NPROC and the pid namespace confine them). */
    {"clone", K_CLONE, 0},
    {"fork", K_ALLOW, F_OPT},
    {"vfork", K_ALLOW, F_OPT},
    {"wait4", K_ALLOW, 0},
    {"waitid", K_ALLOW, 0},
    {"kill", K_ALLOW, 0},
    {"tgkill", K_ALLOW, 0},
    {"tkill", K_ALLOW, 0},
    {"execve", K_EXEC, 0},
    {"execveat", K_EXEC, 0},
    {"ioctl", K_IOCTL, 0},
    /* Known-dangerous: EPERM. Debugging and other processes' memory. */
    {"ptrace", K_EPERM, 0},
    {"process_vm_readv", K_EPERM, 0},
    {"process_vm_writev", K_EPERM, 0},
    {"process_madvise", K_EPERM, 0},
    {"kcmp", K_EPERM, 0},
    {"pidfd_open", K_EPERM, 0},
    {"pidfd_getfd", K_EPERM, 0},
    /* Mounts and namespaces (the new mount API too: issue 3 §4). */
    {"mount", K_EPERM, 0},
    {"umount2", K_EPERM, 0},
    {"pivot_root", K_EPERM, 0},
    {"chroot", K_EPERM, 0},
    {"open_tree", K_EPERM, 0},
    {"move_mount", K_EPERM, 0},
    {"fsopen", K_EPERM, 0},
    {"fsconfig", K_EPERM, 0},
    {"fsmount", K_EPERM, 0},
    {"fspick", K_EPERM, 0},
    {"mount_setattr", K_EPERM, 0},
    {"unshare", K_EPERM, 0},
    {"setns", K_EPERM, 0},
    {"name_to_handle_at", K_EPERM, 0},
    {"open_by_handle_at", K_EPERM, 0},
    /* Kernel attack surface. */
    {"bpf", K_EPERM, 0},
    {"perf_event_open", K_EPERM, 0},
    {"keyctl", K_EPERM, 0},
    {"add_key", K_EPERM, 0},
    {"request_key", K_EPERM, 0},
    {"userfaultfd", K_EPERM, 0},
    {"io_uring_setup", K_EPERM, 0},
    {"io_uring_enter", K_EPERM, 0},
    {"io_uring_register", K_EPERM, 0},
    {"personality", K_EPERM, 0},
    {"seccomp", K_EPERM, 0},
    {"fanotify_init", K_EPERM, 0},
    {"lookup_dcookie", K_EPERM, F_OPT},
    {"mbind", K_EPERM, 0},
    {"migrate_pages", K_EPERM, 0},
    {"move_pages", K_EPERM, 0},
    /* The machine: boot, modules, time, names, accounting, devices. */
    {"kexec_load", K_EPERM, 0},
    {"kexec_file_load", K_EPERM, F_OPT},
    {"init_module", K_EPERM, 0},
    {"finit_module", K_EPERM, 0},
    {"delete_module", K_EPERM, 0},
    {"reboot", K_EPERM, 0},
    {"syslog", K_EPERM, 0},
    {"acct", K_EPERM, 0},
    {"swapon", K_EPERM, 0},
    {"swapoff", K_EPERM, 0},
    {"quotactl", K_EPERM, 0},
    {"quotactl_fd", K_EPERM, 0},
    {"vhangup", K_EPERM, 0},
    {"iopl", K_EPERM, F_OPT},
    {"ioperm", K_EPERM, F_OPT},
    {"settimeofday", K_EPERM, 0},
    {"clock_settime", K_EPERM, 0},
    {"clock_adjtime", K_EPERM, 0},
    {"adjtimex", K_EPERM, 0},
    {"sethostname", K_EPERM, 0},
    {"setdomainname", K_EPERM, 0},
    /* Credentials and limits. */
    {"setuid", K_EPERM, 0},
    {"setgid", K_EPERM, 0},
    {"setreuid", K_EPERM, 0},
    {"setregid", K_EPERM, 0},
    {"setresuid", K_EPERM, 0},
    {"setresgid", K_EPERM, 0},
    {"setgroups", K_EPERM, 0},
    {"setfsuid", K_EPERM, 0},
    {"setfsgid", K_EPERM, 0},
    {"capset", K_EPERM, 0},
    {"setrlimit", K_EPERM, F_OPT},
};
#pragma GCC diagnostic pop

#define CLONE_NS_FLAGS                                                                                 \
    (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |          \
     CLONE_NEWCGROUP | CLONE_NEWTIME)

static const uint64_t clone_ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET,
                                          CLONE_NEWIPC, CLONE_NEWUTS,  CLONE_NEWCGROUP, CLONE_NEWTIME};
static const uint64_t ioctl_allowed[] = {FIONREAD, FIONBIO, TCGETS, FIOCLEX, FIONCLEX};
static const uint64_t ioctl_denied[] = {TIOCSTI, TIOCLINUX};
static const uint64_t prctl_allowed[] = {PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP,   PR_GET_DUMPABLE,
                                         PR_CAPBSET_READ,     PR_GET_SECUREBITS, PR_GET_KEEPCAPS,
                                         PR_GET_PDEATHSIG,    PR_SET_NAME,       PR_GET_NAME};
static const uint64_t net_families[] = {AF_UNIX, AF_INET, AF_INET6};

#define LOW32 0xffffffffull

/* One argument comparison (for MASKED_EQ: a = mask, b = value). */
static struct scmp_arg_cmp cmp(unsigned arg, enum scmp_compare op, uint64_t a, uint64_t b)
{
    return (struct scmp_arg_cmp){.arg = arg, .op = op, .datum_a = a, .datum_b = b};
}

/* "arg low 32 bits == v" (the kernel truncates int/unsigned int arguments). */
static struct scmp_arg_cmp low32_eq(unsigned arg, uint64_t v)
{
    return cmp(arg, SCMP_CMP_MASKED_EQ, LOW32, v & LOW32);
}

/* "any other value" of arg: always true. libseccomp orders the nodes of one
 * argument level by operator, equality tests first, so this catch-all is
 * evaluated after every MASKED_EQ test on the same argument (the tests of
 * test_seccomp.c check the resulting behaviour, not this ordering). */
static struct scmp_arg_cmp any_value(unsigned arg)
{
    return cmp(arg, SCMP_CMP_GE, 0, 0);
}

/* Allow or deny (EPERM) `nr` when the low 32 bits of `arg` are one of
 * vals[0..n); every other value gets `other`. */
static int add_set(scmp_filter_ctx ctx, int nr, unsigned arg, const uint64_t *vals, size_t n, uint32_t act,
                   uint32_t other)
{
    for (size_t i = 0; i < n; i++) {
        int rc = seccomp_rule_add(ctx, act, nr, 1, low32_eq(arg, vals[i]));
        if (rc < 0)
            return rc;
    }
    return seccomp_rule_add(ctx, other, nr, 1, any_value(arg));
}

static int add_rule(scmp_filter_ctx ctx, const rule *r, int nr, const sandbox_policy *p)
{
    const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
    int rc = 0;
    switch (r->kind) {
    case K_ALLOW:
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    case K_EPERM:
        return seccomp_rule_add(ctx, eperm, nr, 0);
    case K_EXEC:
        return seccomp_rule_add(ctx, p->exec ? SCMP_ACT_ALLOW : eperm, nr, 0);
    case K_NET:
        return seccomp_rule_add(ctx, p->net ? SCMP_ACT_ALLOW : eperm, nr, 0);
    case K_SOCKET:
        if (!p->net)
            return seccomp_rule_add(ctx, eperm, nr, 0);
        return add_set(ctx, nr, 0, net_families, ARRAY_SIZE(net_families), SCMP_ACT_ALLOW, eperm);
    case K_SOCKETPAIR: {
        static const uint64_t unix_only[] = {AF_UNIX};
        return add_set(ctx, nr, 0, unix_only, 1, SCMP_ACT_ALLOW, eperm);
    }
    case K_IOCTL:
        rc = add_set(ctx, nr, 1, ioctl_allowed, ARRAY_SIZE(ioctl_allowed), SCMP_ACT_ALLOW, SCMP_ACT_ERRNO(ENOTTY));
        for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(ioctl_denied); i++)
            rc = seccomp_rule_add(ctx, eperm, nr, 1, low32_eq(1, ioctl_denied[i]));
        return rc;
    case K_PRCTL:
        rc = add_set(ctx, nr, 0, prctl_allowed, ARRAY_SIZE(prctl_allowed), SCMP_ACT_ALLOW, eperm);
        /* reading the ambient set: PR_CAP_AMBIENT with PR_CAP_AMBIENT_IS_SET only */
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 2, low32_eq(0, PR_CAP_AMBIENT),
                                  low32_eq(1, PR_CAP_AMBIENT_IS_SET));
        return rc;
    case K_PRLIMIT:
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, cmp(2, SCMP_CMP_EQ, 0, 0));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, eperm, nr, 1, cmp(2, SCMP_CMP_NE, 0, 0));
        return rc;
    case K_MODE:
        /* No set-id file or directory may be made: a sandbox running as root
         * would otherwise plant setuid-root programs in a declared path. */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, cmp(r->arg, SCMP_CMP_MASKED_EQ, S_ISUID | S_ISGID, 0));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, eperm, nr, 1, cmp(r->arg, SCMP_CMP_MASKED_EQ, S_ISUID, S_ISUID));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, eperm, nr, 1, cmp(r->arg, SCMP_CMP_MASKED_EQ, S_ISGID, S_ISGID));
        return rc;
    case K_CLONE:
        /* Disjoint rules: no namespace flag → allow; any one of them → EPERM. */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, cmp(0, SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0));
        for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(clone_ns_flags); i++)
            rc = seccomp_rule_add(ctx, eperm, nr, 1,
                                  cmp(0, SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]));
        return rc;
    default:
        return -EINVAL;
    }
}

/* Write the compiled program of ctx into a new sbx_filter. */
static int export_filter(scmp_filter_ctx ctx, sbx_filter **out, char **err)
{
    sbx_filter *f = NULL;
    struct stat st;
    int rc = 0;
    int fd = memfd_create("venom-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        err_set(err, rc, "seccomp: memfd_create failed: %s; the kernel must be 3.17 or newer", strerror(-rc));
        goto out;
    }
    rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) {
        err_set(err, rc, "seccomp: libseccomp could not export the filter: %s", strerror(-rc));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        err_set(err, rc, "seccomp: fstat of the exported filter failed: %s", strerror(-rc));
        goto out;
    }
    size_t size = (size_t)st.st_size;
    size_t n = size / sizeof(struct sock_filter);
    if (size == 0 || size % sizeof(struct sock_filter) != 0 || n > BPF_MAXINSNS) {
        rc = err_set(err, -EINVAL,
                     "seccomp: libseccomp exported %zu bytes, not a BPF program of 1..%d instructions; "
                     "check the libseccomp installation",
                     size, BPF_MAXINSNS);
        goto out;
    }
    f = mem_alloc(sizeof *f + size);
    if (!f) {
        rc = err_set(err, -ENOMEM, "seccomp: out of memory for a %zu-instruction filter", n);
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, (char *)f->insns + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            err_set(err, rc, "seccomp: reading the exported filter back failed: %s", strerror(-rc));
            goto out;
        }
        got += (size_t)r;
    }
    f->prog.len = (unsigned short)n;
    f->prog.filter = f->insns;
    *out = f;
    f = NULL;
out:
    mem_free(f);
    if (fd >= 0)
        close(fd);
    return rc;
}

int sbx_seccomp_build(const sandbox_policy *p, sbx_filter **out, char **err)
{
    scmp_filter_ctx ctx = NULL;
    int rc = 0;
    if (out)
        *out = NULL;
    if (!out || !p)
        return err_set(err, -EINVAL, "seccomp: sbx_seccomp_build needs a policy and an output pointer");
    ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
    if (!ctx) {
        rc = err_set(err, -ENOMEM, "seccomp: libseccomp could not create a filter (out of memory)");
        goto out;
    }
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (rc < 0) {
        err_set(err, rc, "seccomp: the kernel or libseccomp lacks SECCOMP_RET_KILL_PROCESS (%s); "
                         "Linux 4.14 and libseccomp 2.4 or newer are needed",
                strerror(-rc));
        goto out;
    }
    /* A binary search over syscall numbers: ~8 comparisons instead of ~150. */
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
        const rule *r = &rules[i];
        int nr = seccomp_syscall_resolve_name(r->name);
        if (nr < 0) {
            if (r->flags & F_OPT)
                continue;
            rc = err_set(err, -ENOSYS,
                         "seccomp: libseccomp %u.%u.%u does not know the system call %s; "
                         "install libseccomp 2.5.4 or newer",
                         seccomp_version()->major, seccomp_version()->minor, seccomp_version()->micro, r->name);
            goto out;
        }
        rc = add_rule(ctx, r, nr, p);
        if (rc < 0) {
            err_set(err, rc, "seccomp: libseccomp refused the rule for %s: %s", r->name, strerror(-rc));
            goto out;
        }
    }
    rc = export_filter(ctx, out, err);
out:
    seccomp_release(ctx);
    return rc;
}

static int load_prog(const struct sock_fprog *prog)
{
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, prog);
    if (r == 0)
        return 0;
    if (r > 0) /* TSYNC: thread r has a diverging filter stack */
        return -EBUSY;
    if (errno != ENOSYS)
        return -errno;
    /* Before Linux 3.17 (no seccomp(2), no TSYNC): the prctl interface. */
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) == 0)
        return 0;
    return -errno;
}

int sbx_seccomp_load(const sbx_filter *f)
{
    if (!f)
        return -EINVAL;
    return load_prog(&f->prog);
}

int sbx_seccomp_load_bytes(const void *insns, size_t bytes)
{
    if (!insns || bytes == 0 || bytes % sizeof(struct sock_filter) != 0 ||
        bytes / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return -EINVAL;
    struct sock_fprog prog = {.len = (unsigned short)(bytes / sizeof(struct sock_filter)),
                              .filter = (struct sock_filter *)(uintptr_t)insns};
    return load_prog(&prog);
}

void sbx_seccomp_prog(const sbx_filter *f, const void **insns, size_t *bytes)
{
    if (insns)
        *insns = f ? f->insns : NULL;
    if (bytes)
        *bytes = f ? f->prog.len * sizeof(struct sock_filter) : 0;
}

size_t sbx_seccomp_insns(const sbx_filter *f)
{
    return f ? f->prog.len : 0;
}

void sbx_seccomp_free(sbx_filter *f)
{
    mem_free(f);
}
