/*
 * The worker's seccomp filter (core/sandbox/seccomp). Loading a filter is
 * irreversible, so every case runs in a forked child that sets
 * PR_SET_NO_NEW_PRIVS, loads the filter, makes the call and sends the result
 * (return value, errno) back through a pipe; the parent asserts. Results that
 * depend on the kernel rather than the filter are compared with the same call
 * made in an unfiltered child.
 */
#include "testsupport.h"
#include "util/common.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#ifdef __x86_64__
#include <asm/unistd.h>
#endif

#include "sandbox/seccomp.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif
#ifndef AF_PACKET
#define AF_PACKET 17
#endif

/* ---- running a probe in a filtered child ------------------------------- */

typedef struct msg {
    long rc;  /* the call's return value (or the failing step of a multi-step probe) */
    int err;  /* errno when rc == -1 (or at the failing step) */
} msg;

typedef struct outcome {
    bool reported; /* the child sent a msg (else it exited or was killed first) */
    msg m;
    int status;    /* wait status */
} outcome;

typedef void (*probe_fn)(const void *arg, msg *m);

typedef void (*pre_fn)(const void *arg);

/* Fork; in the child call pre (unfiltered), set no_new_privs (when nnp),
 * load f (NULL: no filter), run fn and send its msg back. The child never
 * returns to cmocka (_exit), so no atexit handler (LeakSanitizer) runs
 * under the filter. */
static outcome run_probe_ex(const sbx_filter *f, bool nnp, pre_fn pre, probe_fn fn, const void *arg)
{
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        /* cmocka's handlers would longjmp back into the test runner */
        static const int sigs[] = {SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGSYS, SIGABRT};
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
            signal(sigs[i], SIG_DFL);
        alarm(20); /* a probe that hangs is killed by SIGALRM */
        if (pre)
            pre(arg);
        if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            _exit(120);
        if (f && sbx_seccomp_load(f) != 0)
            _exit(121);
        msg m = {0};
        fn(arg, &m);
        if (write(pfd[1], &m, sizeof m) != (ssize_t)sizeof m)
            _exit(122);
        _exit(0);
    }
    close(pfd[1]);
    outcome o = {0};
    size_t got = 0;
    while (got < sizeof o.m) {
        ssize_t r = read(pfd[0], (char *)&o.m + got, sizeof o.m - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    o.reported = got == sizeof o.m;
    close(pfd[0]);
    while (waitpid(pid, &o.status, 0) < 0)
        assert_int_equal(errno, EINTR);
    return o;
}

static outcome run_probe(const sbx_filter *f, probe_fn fn, const void *arg)
{
    return run_probe_ex(f, true, NULL, fn, arg);
}

static const char *describe(const outcome *o, char *buf, size_t n)
{
    if (o->reported && o->m.rc == -1)
        snprintf(buf, n, "failed with %s (%d)", strerror(o->m.err), o->m.err);
    else if (o->reported)
        snprintf(buf, n, "succeeded (returned %ld)", o->m.rc);
    else if (WIFSIGNALED(o->status))
        snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(o->status), strsignal(WTERMSIG(o->status)));
    else
        snprintf(buf, n, "exited with status %d before reporting", WEXITSTATUS(o->status));
    return buf;
}

/* Same observable result: both succeeded, both failed with one errno, or
 * neither reported and both ended the same way. */
static bool same_result(const outcome *a, const outcome *b)
{
    if (a->reported != b->reported)
        return false;
    if (!a->reported)
        return a->status == b->status;
    if ((a->m.rc == -1) != (b->m.rc == -1))
        return false;
    return a->m.rc != -1 || a->m.err == b->m.err;
}

static sbx_filter *build(bool net, bool exec)
{
    sandbox_policy p = {.net = net, .exec = exec};
    sbx_filter *f = NULL;
    char *err = NULL;
    int rc = sbx_seccomp_build(&p, &f, &err);
    if (rc)
        print_error("sbx_seccomp_build: %s\n", err);
    assert_int_equal(rc, 0);
    assert_null(err);
    assert_non_null(f);
    return f;
}

/* ---- the golden list --------------------------------------------------- */

enum expect {
    SAME,   /* allowed: the same result as without the filter */
    PERM,   /* EPERM from the filter */
    NOSYS,  /* ENOSYS from the filter (unknown, clone3) */
    NOTTY,  /* ENOTTY from the filter (unlisted ioctl) */
    KILLED, /* the process is killed with SIGSYS */
};

typedef struct golden {
    const char *name; /* the system call, as docs/internals/seccomp.md names it */
    const char *what; /* the variant probed ("" = every argument -1) */
    long nr;
    long a[6];
    uint8_t plain;   /* expected without permissions */
    uint8_t granted; /* expected with net and exec */
    bool forks;      /* a successful call returns 0 in a new child */
} golden;

#define M (-1L)
#define ALL_M {M, M, M, M, M, M}
#define HI (1L << 32) /* high bits the kernel ignores for int arguments */
/* Every argument -1: harmless if the filter let the call through. */
#define R(n, p, g) {#n, "", SYS_##n, ALL_M, p, g, false}
#define RA(n, w, p, g, ...) {#n, w, SYS_##n, {__VA_ARGS__}, p, g, false}

static const golden goldens[] = {
    /* descriptors */
    R(read, SAME, SAME),
    R(write, SAME, SAME),
    R(readv, SAME, SAME),
    R(writev, SAME, SAME),
    R(pread64, SAME, SAME),
    R(pwrite64, SAME, SAME),
    R(preadv, SAME, SAME),
    R(pwritev, SAME, SAME),
    R(preadv2, SAME, SAME),
    R(pwritev2, SAME, SAME),
    R(lseek, SAME, SAME),
    R(close, SAME, SAME),
    RA(close_range, "empty range", SAME, SAME, ~0L & 0xffffffffL, ~0L & 0xffffffffL, 0),
    R(fcntl, SAME, SAME),
    R(dup, SAME, SAME),
#ifdef SYS_dup2
    R(dup2, SAME, SAME),
#endif
    R(dup3, SAME, SAME),
#ifdef SYS_pipe
    R(pipe, SAME, SAME),
#endif
    R(pipe2, SAME, SAME),
    R(ftruncate, SAME, SAME),
    R(fsync, SAME, SAME),
    R(fdatasync, SAME, SAME),
    RA(fchmod, "mode 0644", SAME, SAME, M, 0644, M, M, M, M),
    RA(fchmod, "setuid mode", PERM, PERM, M, 04755, M, M, M, M),
    RA(fchmod, "setgid mode", PERM, PERM, M, 02755, M, M, M, M),
    RA(fchmodat, "mode 0644", SAME, SAME, M, M, 0644, M, M, M),
    RA(fchmodat, "setuid mode", PERM, PERM, M, M, 04755, M, M, M),
    RA(fchmodat, "setgid mode", PERM, PERM, M, M, 02755, M, M, M),
    R(statfs, SAME, SAME),
    R(fstatfs, SAME, SAME),
#ifdef SYS_creat
    RA(creat, "mode 0644", SAME, SAME, M, 0644, M, M, M, M),
    RA(creat, "setuid mode", PERM, PERM, M, 04755, M, M, M, M),
    RA(creat, "setgid mode", PERM, PERM, M, 02755, M, M, M, M),
#endif
    R(getresuid, SAME, SAME),
    R(getresgid, SAME, SAME),
    R(getgroups, SAME, SAME),
    R(setpgid, SAME, SAME),
    R(getpgid, SAME, SAME),
    R(setsid, SAME, SAME),
    R(getsid, SAME, SAME),
    /* file system */
    RA(openat, "mode 0644", SAME, SAME, M, M, M, 0644, M, M),
    RA(openat, "setuid mode", PERM, PERM, M, M, M, 04755, M, M),
    RA(openat, "setgid mode", PERM, PERM, M, M, M, 02755, M, M),
#ifdef SYS_open
    RA(open, "mode 0644", SAME, SAME, M, M, 0644, M, M, M),
    RA(open, "setuid mode", PERM, PERM, M, M, 04755, M, M, M),
    RA(open, "setgid mode", PERM, PERM, M, M, 02755, M, M, M),
#endif
    R(fstat, SAME, SAME),
#ifdef SYS_newfstatat
    R(newfstatat, SAME, SAME),
#endif
#ifdef SYS_stat
    R(stat, SAME, SAME),
#endif
#ifdef SYS_lstat
    R(lstat, SAME, SAME),
#endif
    R(statx, SAME, SAME),
#ifdef SYS_access
    R(access, SAME, SAME),
#endif
    R(faccessat, SAME, SAME),
    R(faccessat2, SAME, SAME),
    R(getdents64, SAME, SAME),
#ifdef SYS_readlink
    R(readlink, SAME, SAME),
#endif
    R(readlinkat, SAME, SAME),
    R(getcwd, SAME, SAME),
    R(chdir, SAME, SAME),
    R(fchdir, SAME, SAME),
    R(umask, SAME, SAME),
    RA(mkdirat, "mode 0644", SAME, SAME, M, M, 0644, M, M, M),
    RA(mkdirat, "setuid mode", PERM, PERM, M, M, 04755, M, M, M),
    RA(mkdirat, "setgid mode", PERM, PERM, M, M, 02755, M, M, M),
#ifdef SYS_mkdir
    RA(mkdir, "mode 0644", SAME, SAME, M, 0644, M, M, M, M),
    RA(mkdir, "setuid mode", PERM, PERM, M, 04755, M, M, M, M),
    RA(mkdir, "setgid mode", PERM, PERM, M, 02755, M, M, M, M),
#endif
#ifdef SYS_rmdir
    R(rmdir, SAME, SAME),
#endif
    R(unlinkat, SAME, SAME),
#ifdef SYS_unlink
    R(unlink, SAME, SAME),
#endif
#ifdef SYS_renameat
    R(renameat, SAME, SAME),
#endif
    R(renameat2, SAME, SAME),
#ifdef SYS_rename
    R(rename, SAME, SAME),
#endif
    R(utimensat, SAME, SAME),
    R(symlinkat, SAME, SAME),
    R(linkat, SAME, SAME),
    /* memory */
    R(mmap, SAME, SAME),
    R(munmap, SAME, SAME),
    R(mprotect, SAME, SAME),
    R(madvise, SAME, SAME),
    R(mremap, SAME, SAME),
    R(msync, SAME, SAME),
    R(brk, SAME, SAME),
    /* signals, threads, time, identity */
    R(rt_sigaction, SAME, SAME),
    R(rt_sigprocmask, SAME, SAME),
    R(rt_sigsuspend, SAME, SAME),
    R(rt_sigtimedwait, SAME, SAME),
    R(rt_sigpending, SAME, SAME),
    R(sigaltstack, SAME, SAME),
    R(restart_syscall, SAME, SAME),
    R(exit, SAME, SAME),
    R(exit_group, SAME, SAME),
    R(getpid, SAME, SAME),
    R(gettid, SAME, SAME),
    R(getppid, SAME, SAME),
#ifdef SYS_getpgrp
    R(getpgrp, SAME, SAME),
#endif
    R(getuid, SAME, SAME),
    R(geteuid, SAME, SAME),
    R(getgid, SAME, SAME),
    R(getegid, SAME, SAME),
    R(capget, SAME, SAME),
    R(getrandom, SAME, SAME),
    R(clock_gettime, SAME, SAME),
    R(clock_getres, SAME, SAME),
    R(clock_nanosleep, SAME, SAME),
    R(nanosleep, SAME, SAME),
    R(gettimeofday, SAME, SAME),
#ifdef SYS_time
    R(time, SAME, SAME),
#endif
    RA(futex, "FUTEX_WAKE_PRIVATE", SAME, SAME, 0, 1 | 128, 1),
    R(set_robust_list, SAME, SAME),
    R(rseq, SAME, SAME),
    R(set_tid_address, SAME, SAME),
#ifdef SYS_arch_prctl
    R(arch_prctl, SAME, SAME),
#endif
    R(sched_yield, SAME, SAME),
    R(sched_getaffinity, SAME, SAME),
    R(uname, SAME, SAME),
#ifdef SYS_getrlimit
    R(getrlimit, SAME, SAME),
#endif
    R(getrusage, SAME, SAME),
    RA(prlimit64, "get (new_limit NULL)", SAME, SAME, 0, RLIMIT_NOFILE, 0, 0),
    RA(prlimit64, "set", PERM, PERM, 0, RLIMIT_NOFILE, M, 0),
    RA(prctl, "PR_GET_NO_NEW_PRIVS", SAME, SAME, PR_GET_NO_NEW_PRIVS),
    RA(prctl, "PR_CAPBSET_READ", SAME, SAME, PR_CAPBSET_READ, 0),
    RA(prctl, "PR_GET_NAME", SAME, SAME, PR_GET_NAME, M),
    RA(prctl, "PR_CAP_AMBIENT_IS_SET", SAME, SAME, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 0),
    RA(prctl, "PR_CAP_AMBIENT_RAISE", PERM, PERM, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 0),
    RA(prctl, "PR_CAP_AMBIENT_CLEAR_ALL", PERM, PERM, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL),
    RA(prctl, "PR_SET_DUMPABLE", PERM, PERM, PR_SET_DUMPABLE, 1),
    RA(prctl, "PR_SET_SECCOMP", PERM, PERM, PR_SET_SECCOMP, M),
    RA(prctl, "PR_SET_MM", PERM, PERM, PR_SET_MM, M, M),
    RA(prctl, "PR_SET_PTRACER", PERM, PERM, PR_SET_PTRACER, M),
    RA(prctl, "option -1", PERM, PERM, M),
    /* waiting */
#ifdef SYS_poll
    R(poll, SAME, SAME),
#endif
    R(ppoll, SAME, SAME),
#ifdef SYS_select
    R(select, SAME, SAME),
#endif
    R(pselect6, SAME, SAME),
#ifdef SYS_epoll_create
    R(epoll_create, SAME, SAME),
#endif
    R(epoll_create1, SAME, SAME),
    R(epoll_ctl, SAME, SAME),
#ifdef SYS_epoll_wait
    R(epoll_wait, SAME, SAME),
#endif
    R(epoll_pwait, SAME, SAME),
    R(epoll_pwait2, SAME, SAME),
    R(eventfd2, SAME, SAME),
    /* sockets */
    R(sendmsg, SAME, SAME),
    R(recvmsg, SAME, SAME),
    R(sendmmsg, SAME, SAME),
    R(recvmmsg, SAME, SAME),
    R(sendto, SAME, SAME),
    R(recvfrom, SAME, SAME),
    R(shutdown, SAME, SAME),
    RA(socketpair, "AF_UNIX", SAME, SAME, AF_UNIX, SOCK_STREAM, 0, M),
    RA(socketpair, "AF_UNIX, high bits set", SAME, SAME, HI | AF_UNIX, SOCK_STREAM, 0, M),
    RA(socketpair, "AF_INET", PERM, PERM, AF_INET, SOCK_STREAM, 0, M),
    RA(socket, "AF_UNIX", PERM, SAME, AF_UNIX, SOCK_STREAM, 0),
    RA(socket, "AF_INET", PERM, SAME, AF_INET, SOCK_STREAM, 0),
    RA(socket, "AF_INET, high bits set", PERM, SAME, HI | AF_INET, SOCK_DGRAM, 0),
    RA(socket, "AF_INET6", PERM, SAME, AF_INET6, SOCK_STREAM, 0),
    RA(socket, "AF_NETLINK", PERM, PERM, AF_NETLINK, SOCK_RAW, 0),
    RA(socket, "AF_PACKET", PERM, PERM, AF_PACKET, SOCK_RAW, 0),
    RA(socket, "family -1", PERM, PERM, M, M, M),
    R(connect, PERM, SAME),
    R(bind, PERM, SAME),
    R(listen, PERM, SAME),
#ifdef SYS_accept
    R(accept, PERM, SAME),
#endif
    R(accept4, PERM, SAME),
    R(getsockopt, PERM, SAME),
    R(setsockopt, PERM, SAME),
    R(getsockname, PERM, SAME),
    R(getpeername, PERM, SAME),
    /* processes */
    {"clone", "fork-like (SIGCHLD)", SYS_clone, {SIGCHLD, 0, 0, 0, 0, 0}, SAME, SAME, true},
    RA(clone, "CLONE_NEWNS", PERM, PERM, CLONE_NEWNS | SIGCHLD),
    RA(clone, "CLONE_NEWUSER", PERM, PERM, CLONE_NEWUSER | SIGCHLD),
    RA(clone, "CLONE_NEWPID", PERM, PERM, CLONE_NEWPID | SIGCHLD),
    RA(clone, "CLONE_NEWNET", PERM, PERM, CLONE_NEWNET | SIGCHLD),
    RA(clone, "CLONE_NEWIPC", PERM, PERM, CLONE_NEWIPC | SIGCHLD),
    RA(clone, "CLONE_NEWUTS", PERM, PERM, CLONE_NEWUTS | SIGCHLD),
    RA(clone, "CLONE_NEWCGROUP", PERM, PERM, CLONE_NEWCGROUP | SIGCHLD),
    RA(clone, "CLONE_NEWTIME", PERM, PERM, CLONE_NEWTIME | SIGCHLD),
    RA(clone, "CLONE_NEWUSER, high bits set", PERM, PERM, HI | CLONE_NEWUSER | SIGCHLD),
    RA(clone3, "", NOSYS, NOSYS, M, M),
    RA(clone3, "args with CLONE_NEWUSER", NOSYS, NOSYS, 0, 88),
#ifdef SYS_fork
    {"fork", "", SYS_fork, ALL_M, SAME, SAME, true},
#endif
    R(wait4, SAME, SAME),
    R(waitid, SAME, SAME),
    R(kill, SAME, SAME),
    R(tgkill, SAME, SAME),
    R(tkill, SAME, SAME),
    R(execve, PERM, SAME),
    R(execveat, PERM, SAME),
    /* ioctl: the request number's low 32 bits decide */
    RA(ioctl, "FIONREAD", SAME, SAME, M, FIONREAD),
    RA(ioctl, "FIONREAD, high bits set", SAME, SAME, M, HI | FIONREAD),
    RA(ioctl, "FIONBIO", SAME, SAME, M, FIONBIO),
    RA(ioctl, "TCGETS", SAME, SAME, M, TCGETS),
    RA(ioctl, "FIOCLEX", SAME, SAME, M, FIOCLEX),
    RA(ioctl, "FIONCLEX", SAME, SAME, M, FIONCLEX),
    RA(ioctl, "TIOCSTI", PERM, PERM, 0, TIOCSTI, M),
    RA(ioctl, "TIOCSTI, high bits set", PERM, PERM, 0, HI | TIOCSTI, M),
    RA(ioctl, "TIOCLINUX", PERM, PERM, 0, TIOCLINUX, M),
    RA(ioctl, "TIOCLINUX, high bits set", PERM, PERM, 0, (long)0xffffffff00000000UL | TIOCLINUX, M),
    RA(ioctl, "TIOCGWINSZ", NOTTY, NOTTY, M, TIOCGWINSZ),
    RA(ioctl, "TIOCSCTTY", NOTTY, NOTTY, 0, TIOCSCTTY, 1),
    RA(ioctl, "0x12345678", NOTTY, NOTTY, M, 0x12345678),
    /* known-dangerous: EPERM */
    R(ptrace, PERM, PERM),
    R(process_vm_readv, PERM, PERM),
    R(process_vm_writev, PERM, PERM),
    R(process_madvise, PERM, PERM),
    R(kcmp, PERM, PERM),
    R(pidfd_open, PERM, PERM),
    R(pidfd_getfd, PERM, PERM),
    R(mount, PERM, PERM),
    R(umount2, PERM, PERM),
    R(pivot_root, PERM, PERM),
    R(chroot, PERM, PERM),
    R(open_tree, PERM, PERM),
    R(move_mount, PERM, PERM),
    R(fsopen, PERM, PERM),
    R(fsconfig, PERM, PERM),
    R(fsmount, PERM, PERM),
    R(fspick, PERM, PERM),
    R(mount_setattr, PERM, PERM),
    R(unshare, PERM, PERM),
    R(setns, PERM, PERM),
    R(name_to_handle_at, PERM, PERM),
    R(open_by_handle_at, PERM, PERM),
    R(bpf, PERM, PERM),
    R(perf_event_open, PERM, PERM),
    R(keyctl, PERM, PERM),
    R(add_key, PERM, PERM),
    R(request_key, PERM, PERM),
    R(userfaultfd, PERM, PERM),
    R(io_uring_setup, PERM, PERM),
    R(io_uring_enter, PERM, PERM),
    R(io_uring_register, PERM, PERM),
    R(personality, PERM, PERM),
    RA(personality, "query (0xffffffff)", PERM, PERM, 0xffffffffL),
    R(seccomp, PERM, PERM),
    R(fanotify_init, PERM, PERM),
#ifdef SYS_lookup_dcookie
    R(lookup_dcookie, PERM, PERM),
#endif
    R(mbind, PERM, PERM),
    R(migrate_pages, PERM, PERM),
    R(move_pages, PERM, PERM),
    R(kexec_load, PERM, PERM),
#ifdef SYS_kexec_file_load
    R(kexec_file_load, PERM, PERM),
#endif
    R(init_module, PERM, PERM),
    R(finit_module, PERM, PERM),
    R(delete_module, PERM, PERM),
    R(reboot, PERM, PERM),
    R(syslog, PERM, PERM),
    R(acct, PERM, PERM),
    R(swapon, PERM, PERM),
    R(swapoff, PERM, PERM),
    R(quotactl, PERM, PERM),
    R(quotactl_fd, PERM, PERM),
    R(vhangup, PERM, PERM),
#ifdef SYS_iopl
    R(iopl, PERM, PERM),
#endif
#ifdef SYS_ioperm
    R(ioperm, PERM, PERM),
#endif
    R(settimeofday, PERM, PERM),
    R(clock_settime, PERM, PERM),
    R(clock_adjtime, PERM, PERM),
    R(adjtimex, PERM, PERM),
    R(sethostname, PERM, PERM),
    R(setdomainname, PERM, PERM),
    R(setuid, PERM, PERM),
    R(setgid, PERM, PERM),
    R(setreuid, PERM, PERM),
    R(setregid, PERM, PERM),
    R(setresuid, PERM, PERM),
    R(setresgid, PERM, PERM),
    R(setgroups, PERM, PERM),
    R(setfsuid, PERM, PERM),
    R(setfsgid, PERM, PERM),
    R(capset, PERM, PERM),
#ifdef SYS_setrlimit
    R(setrlimit, PERM, PERM),
#endif
    /* not on the list: ENOSYS (a sample; test_sweep checks every number) */
    R(memfd_create, NOSYS, NOSYS),
    R(mknodat, NOSYS, NOSYS),
    R(fchown, NOSYS, NOSYS),
    R(landlock_create_ruleset, NOSYS, NOSYS),
    R(pidfd_send_signal, NOSYS, NOSYS),
    {"(number 1000)", "", 1000, ALL_M, NOSYS, NOSYS, false},
    {"(number 0x3fffffff)", "", 0x3fffffff, ALL_M, NOSYS, NOSYS, false},
#ifdef __x86_64__
    {"(x32 getpid)", "", __X32_SYSCALL_BIT | __NR_getpid, ALL_M, KILLED, KILLED, false},
    {"(x32 socket)", "", __X32_SYSCALL_BIT | __NR_socket, {AF_INET, SOCK_STREAM, 0}, KILLED, KILLED, false},
#endif
};

/* Entries covered by dedicated tests below rather than by a raw call with
 * junk arguments: rt_sigreturn (test_works), vfork (test_processes). */
static const char *const dedicated[] = {"rt_sigreturn", "vfork"};

static void probe_raw(const void *arg, msg *m)
{
    const golden *g = arg;
    errno = 0;
    long r = syscall(g->nr, g->a[0], g->a[1], g->a[2], g->a[3], g->a[4], g->a[5]);
    if (r == 0 && g->forks)
        _exit(0); /* the new child of fork/clone */
    m->rc = r;
    m->err = r == -1 ? errno : 0;
}

static bool check_row(const golden *g, int want, const outcome *got, const outcome *ref, const char *policy)
{
    char b1[128], b2[128];
    bool ok;
    switch (want) {
    case SAME:
        /* the row must tell the filter apart from the kernel */
        if (ref->reported && ref->m.rc == -1 && (ref->m.err == EPERM || ref->m.err == ENOSYS))
            print_error("golden row %s %s: without the filter the call fails with %s; "
                        "choose arguments that give another result\n",
                        g->name, g->what, strerror(ref->m.err));
        ok = same_result(got, ref) && !(ref->reported && ref->m.rc == -1 &&
                                        (ref->m.err == EPERM || ref->m.err == ENOSYS));
        if (!ok)
            print_error("%s %s (%s): allowed call %s under the filter but %s without it\n", g->name, g->what, policy,
                        describe(got, b1, sizeof b1), describe(ref, b2, sizeof b2));
        return ok;
    case PERM:
    case NOSYS:
    case NOTTY: {
        int e = want == PERM ? EPERM : want == NOSYS ? ENOSYS : ENOTTY;
        ok = got->reported && got->m.rc == -1 && got->m.err == e;
        if (!ok)
            print_error("%s %s (%s): expected %s from the filter, the call %s\n", g->name, g->what, policy,
                        strerror(e), describe(got, b1, sizeof b1));
        return ok;
    }
    default:
        ok = !got->reported && WIFSIGNALED(got->status) && WTERMSIG(got->status) == SIGSYS;
        if (!ok)
            print_error("%s %s (%s): expected the process to be killed by SIGSYS, the call %s\n", g->name, g->what,
                        policy, describe(got, b1, sizeof b1));
        return ok;
    }
}

static void test_golden(void **state)
{
    (void)state;
    sbx_filter *plain = build(false, false);
    sbx_filter *granted = build(true, true);
    int bad = 0;
    for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
        const golden *g = &goldens[i];
        /* the table's numbers are the ones libseccomp filters on */
        if (g->name[0] != '(') {
            int nr = seccomp_syscall_resolve_name(g->name);
            if (nr != g->nr) {
                print_error("%s: <sys/syscall.h> says %ld, libseccomp %d\n", g->name, g->nr, nr);
                bad++;
            }
        }
        outcome ref = {0};
        if (g->plain == SAME || g->granted == SAME)
            ref = run_probe(NULL, probe_raw, g);
        outcome a = run_probe(plain, probe_raw, g);
        outcome b = run_probe(granted, probe_raw, g);
        bad += !check_row(g, g->plain, &a, &ref, "no permissions");
        bad += !check_row(g, g->granted, &b, &ref, "net + exec");
    }
    sbx_seccomp_free(plain);
    sbx_seccomp_free(granted);
    assert_int_equal(bad, 0);
}

static bool in_golden(long nr)
{
    for (size_t i = 0; i < ARRAY_SIZE(goldens); i++)
        if (goldens[i].nr == nr)
            return true;
    for (size_t i = 0; i < ARRAY_SIZE(dedicated); i++)
        if (seccomp_syscall_resolve_name(dedicated[i]) == nr)
            return true;
    return false;
}

/* System calls the kernel runs without consulting seccomp at all (x86_64,
 * Linux 6.11+: uretprobe, 6.16+: uprobe). Outside a uprobe trampoline they
 * only kill the caller (SIGILL) or fail (ENXIO); the sweep checks that the
 * filter changes nothing for them, i.e. that they behave as without it. */
static bool kernel_bypass(long nr)
{
#ifdef __x86_64__
    return nr == 335 || nr == 336;
#else
    (void)nr;
    return false;
#endif
}

/* Nothing outside the golden list is reachable: every other number up to
 * 600 gets ENOSYS, with or without permissions. */
static void test_sweep(void **state)
{
    (void)state;
    sbx_filter *fs[2] = {build(false, false), build(true, true)};
    int bad = 0, swept = 0;
    for (long nr = 0; nr < 600; nr++) {
        if (in_golden(nr))
            continue;
        golden g = {"(sweep)", "", nr, ALL_M, NOSYS, NOSYS, false};
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);
        outcome ref = {0};
        if (kernel_bypass(nr))
            ref = run_probe(NULL, probe_raw, &g);
        for (int k = 0; k < 2; k++) {
            outcome o = run_probe(fs[k], probe_raw, &g);
            bool ok = kernel_bypass(nr) ? same_result(&o, &ref) : o.reported && o.m.rc == -1 && o.m.err == ENOSYS;
            if (!ok) {
                char b[128];
                print_error("system call %ld (%s) is not on the golden list but %s under the filter\n", nr,
                            name ? name : "unknown to libseccomp", describe(&o, b, sizeof b));
                bad++;
            }
        }
        free(name);
        swept++;
    }
    sbx_seccomp_free(fs[0]);
    sbx_seccomp_free(fs[1]);
    assert_true(swept > 100);
    assert_int_equal(bad, 0);
}

/* The source tree: $VENOM_SRC (set by CTest), else two levels above this file. */
static char *src_path(const char *rel)
{
    const char *src = getenv("VENOM_SRC");
    if (src)
        return mem_printf("%s/%s", src, rel);
    const char *f = __FILE__;
    const char *t = strstr(f, "tests/unit/");
    return mem_printf("%.*s%s", t ? (int)(t - f) : 0, f, rel);
}

/* Every golden and dedicated name appears in docs/internals/seccomp.md as `name`. */
static void test_documented(void **state)
{
    (void)state;
    char *path = src_path("docs/internals/seccomp.md");
    char *doc = ts_read(path);
    if (!doc)
        print_error("cannot read %s\n", path);
    assert_non_null(doc);
    int bad = 0;
    for (size_t i = 0; i < ARRAY_SIZE(goldens) + ARRAY_SIZE(dedicated); i++) {
        const char *name = i < ARRAY_SIZE(goldens) ? goldens[i].name : dedicated[i - ARRAY_SIZE(goldens)];
        if (name[0] == '(')
            continue;
        char *tick = mem_printf("`%s`", name);
        if (!strstr(doc, tick)) {
            print_error("%s does not document %s\n", path, tick);
            bad++;
        }
        mem_free(tick);
    }
    free(doc);
    mem_free(path);
    assert_int_equal(bad, 0);
}

/* ---- dedicated cases ---------------------------------------------------- */

/* Multi-step probes report the first failing step in m->rc (0 = all passed)
 * and errno at that step in m->err. */
#define STEP(n, cond)                                                                                      \
    do {                                                                                                   \
        errno = 0;                                                                                         \
        if (!(cond)) {                                                                                     \
            m->rc = (n);                                                                                   \
            m->err = errno;                                                                                \
            return;                                                                                        \
        }                                                                                                  \
    } while (0)

static void assert_steps_passed(const outcome *o, const char *what)
{
    char b[128];
    if (!o->reported || o->m.rc != 0)
        print_error("%s: %s%s step %ld (errno %s)\n", what, o->reported ? "" : "the child ",
                    o->reported ? "failed at" : describe(o, b, sizeof b), o->m.rc, strerror(o->m.err));
    assert_true(o->reported);
    assert_int_equal(o->m.rc, 0);
}

static void test_args(void **state)
{
    (void)state;
    sandbox_policy p = {0};
    sbx_filter *f = NULL;
    char *err = NULL;
    assert_int_equal(sbx_seccomp_build(NULL, &f, &err), -EINVAL);
    assert_null(f);
    assert_string_equal(err, "seccomp: sbx_seccomp_build needs a policy and an output pointer");
    mem_free(err);
    err = NULL;
    assert_int_equal(sbx_seccomp_build(&p, NULL, &err), -EINVAL);
    assert_non_null(err);
    mem_free(err);
    assert_int_equal(sbx_seccomp_load(NULL), -EINVAL);
    assert_int_equal(sbx_seccomp_insns(NULL), 0);
    sbx_seccomp_free(NULL);
    /* out of memory for the program: a clean error, nothing returned */
    err = NULL;
    mem_fail_after(0);
    int rc = sbx_seccomp_build(&p, &f, &err);
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    assert_null(f);
    if (err) /* the message itself may not fit in memory either */
        assert_non_null(strstr(err, "out of memory"));
    mem_free(err);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void test_length(void **state)
{
    (void)state;
    long t[21];
    sbx_filter *plain = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
        sbx_seccomp_free(plain);
        long t0 = now_ns();
        plain = build(false, false);
        t[i] = now_ns() - t0;
    }
    qsort(t, ARRAY_SIZE(t), sizeof t[0], cmp_long);
    sbx_filter *net = build(true, false);
    sbx_filter *exec = build(false, true);
    size_t n = sbx_seccomp_insns(plain);
    print_message("seccomp filter: %zu BPF instructions (net: %zu, exec: %zu); build median %.3f ms\n", n,
                  sbx_seccomp_insns(net), sbx_seccomp_insns(exec), (double)t[ARRAY_SIZE(t) / 2] / 1e6);
    assert_true(n > 100 && n <= BPF_MAXINSNS);
    /* socket() gains family checks with net; exec only flips an action */
    assert_true(sbx_seccomp_insns(net) > n);
    assert_int_equal(sbx_seccomp_insns(exec), n);
    sbx_seccomp_free(plain);
    sbx_seccomp_free(net);
    sbx_seccomp_free(exec);
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig)
{
    (void)sig;
    got_usr1 = 1;
}

/* What the worker itself needs: I/O, memory, signals, time, files. */
static void probe_works(const void *arg, msg *m)
{
    (void)arg;
    int p[2];
    char buf[16] = {0};
    STEP(1, pipe2(p, O_CLOEXEC) == 0);
    STEP(2, write(p[1], "hello", 5) == 5);
    STEP(3, read(p[0], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
    char *mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    STEP(4, mem != MAP_FAILED);
    memset(mem, 0xc3, 1 << 20); /* ret instructions */
    STEP(5, mprotect(mem, 1 << 20, PROT_READ | PROT_EXEC) == 0);
    STEP(6, munmap(mem, 1 << 20) == 0);
    char *big = malloc(32u << 20);
    STEP(7, big != NULL);
    memset(big, 1, 32u << 20);
    free(big);
    struct sigaction sa = {.sa_handler = on_usr1};
    STEP(8, sigaction(SIGUSR1, &sa, NULL) == 0);
    STEP(9, raise(SIGUSR1) == 0 && got_usr1); /* the handler returned: rt_sigreturn */
    struct timespec ts = {0, 1000000};
    STEP(10, nanosleep(&ts, NULL) == 0);
    STEP(11, clock_gettime(CLOCK_REALTIME, &ts) == 0 && ts.tv_sec > 0);
    STEP(12, getrandom(buf, sizeof buf, 0) == (ssize_t)sizeof buf);
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    STEP(13, fd >= 0);
    struct stat st;
    STEP(14, fstat(fd, &st) == 0);
    STEP(15, read(fd, buf, sizeof buf) > 0 && close(fd) == 0);
    STEP(16, getpid() > 0 && getuid() == geteuid());
    char cwd[PATH_MAX];
    STEP(17, getcwd(cwd, sizeof cwd) != NULL);
}

static void test_works(void **state)
{
    (void)state;
    sbx_filter *f = build(false, false);
    outcome o = run_probe(f, probe_works, NULL);
    assert_steps_passed(&o, "basic calls under the filter");
    sbx_seccomp_free(f);
}

/* dlopen after the filter: the loader's openat/read/fstat/mmap/mprotect. */
static const char *const dl_libs[] = {"libm.so.6", "libanl.so.1", "libutil.so.1", "libdl.so.2"};

static void probe_dlopen(const void *arg, msg *m)
{
    (void)arg;
    size_t i = 0;
    /* a library this process has not loaded yet, so the loader must work */
    while (i < ARRAY_SIZE(dl_libs) && dlopen(dl_libs[i], RTLD_NOW | RTLD_NOLOAD))
        i++;
    m->err = (int)i;
    STEP(1, i < ARRAY_SIZE(dl_libs));
    void *h = dlopen(dl_libs[i], RTLD_NOW | RTLD_LOCAL);
    STEP(2, h != NULL);
    if (i == 0) {
        double (*c)(double) = (double (*)(double))dlsym(h, "cos");
        STEP(3, c && c(0.0) == 1.0);
    }
    STEP(4, dlclose(h) == 0);
    m->rc = 0;
    m->err = (int)i;
}

static void test_dlopen(void **state)
{
    (void)state;
    sbx_filter *f = build(false, false);
    outcome o = run_probe(f, probe_dlopen, NULL);
    assert_steps_passed(&o, "dlopen under the filter");
    print_message("dlopen of %s under the filter works\n", dl_libs[o.m.err]);
    sbx_seccomp_free(f);
}

static void *thread_main(void *arg)
{
    return (char *)arg + 1;
}

static void probe_processes(const void *arg, msg *m)
{
    (void)arg;
    pthread_t t;
    void *ret = NULL;
    char x;
    /* glibc tries clone3 (ENOSYS), then clone without namespace flags */
    STEP(1, pthread_create(&t, NULL, thread_main, &x) == 0);
    STEP(2, pthread_join(t, &ret) == 0 && ret == &x + 1);
    int st = 0;
    pid_t pid = fork();
    if (pid == 0)
        _exit(7);
    STEP(3, pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7);
    pid = vfork();
    if (pid == 0)
        _exit(8);
    STEP(4, pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 8);
    STEP(5, unshare(CLONE_NEWUSER) == -1 && errno == EPERM);
    STEP(6, syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS);
    STEP(7, kill(getpid(), 0) == 0);
}

static void test_processes(void **state)
{
    (void)state;
    sbx_filter *f = build(false, false);
    outcome o = run_probe(f, probe_processes, NULL);
    assert_steps_passed(&o, "threads, fork and vfork under the filter");
    sbx_seccomp_free(f);
}

/* TSYNC: a thread that exists before the load is filtered too. */
static int tsync_pipe[2];
static int tsync_errno;
static void *tsync_thread(void *arg)
{
    (void)arg;
    char c;
    if (read(tsync_pipe[0], &c, 1) != 1)
        return NULL;
    tsync_errno = socket(AF_INET, SOCK_STREAM, 0) < 0 ? errno : 0;
    return NULL;
}

static pthread_t tsync_t;
static void pre_tsync(const void *arg)
{
    (void)arg;
    if (pipe(tsync_pipe) != 0 || pthread_create(&tsync_t, NULL, tsync_thread, NULL) != 0)
        _exit(123);
}

static void probe_tsync(const void *arg, msg *m)
{
    (void)arg;
    STEP(1, write(tsync_pipe[1], "g", 1) == 1);
    STEP(2, pthread_join(tsync_t, NULL) == 0);
    errno = tsync_errno;
    STEP(3, tsync_errno == EPERM);
}

static void test_tsync(void **state)
{
    (void)state;
    sbx_filter *f = build(false, false);
    outcome o = run_probe_ex(f, true, pre_tsync, probe_tsync, NULL);
    assert_steps_passed(&o, "a thread started before the filter");
    sbx_seccomp_free(f);
}

static void probe_ioctl(const void *arg, msg *m)
{
    (void)arg;
    int p[2], n = 0, one = 1;
    STEP(1, pipe(p) == 0 && write(p[1], "12345", 5) == 5);
    STEP(2, ioctl(p[0], FIONREAD, &n) == 0 && n == 5);
    STEP(3, ioctl(p[0], FIONBIO, &one) == 0 && (fcntl(p[0], F_GETFL) & O_NONBLOCK));
    STEP(4, ioctl(p[0], FIOCLEX) == 0 && (fcntl(p[0], F_GETFD) & FD_CLOEXEC));
    STEP(5, ioctl(p[0], FIONCLEX) == 0 && !(fcntl(p[0], F_GETFD) & FD_CLOEXEC));
    STEP(6, !isatty(p[0]) && errno == ENOTTY); /* TCGETS reaches the kernel */
    struct winsize ws;
    STEP(7, ioctl(p[0], TIOCGWINSZ, &ws) == -1 && errno == ENOTTY);
}

static void test_ioctl(void **state)
{
    (void)state;
    sbx_filter *f = build(false, false);
    outcome o = run_probe(f, probe_ioctl, NULL);
    assert_steps_passed(&o, "ioctl under the filter");
    sbx_seccomp_free(f);
}

/* TIOCSTI on a real terminal (a pty opened before the filter). */
static int pty_fd = -1;
static void pre_pty(const void *arg)
{
    (void)arg;
    int mfd = posix_openpt(O_RDWR | O_NOCTTY);
    if (mfd < 0 || grantpt(mfd) != 0 || unlockpt(mfd) != 0)
        return;
    const char *name = ptsname(mfd);
    pty_fd = name ? open(name, O_RDWR | O_NOCTTY) : -1;
}

static void probe_tiocsti(const void *arg, msg *m)
{
    (void)arg;
    char c = 'x';
    m->err = -1;
    if (pty_fd < 0) {
        m->rc = -2; /* no pty on this machine */
        return;
    }
    STEP(1, isatty(pty_fd)); /* TCGETS allowed: it is a terminal */
    STEP(2, ioctl(pty_fd, TIOCSTI, &c) == -1 && errno == EPERM);
    STEP(3, syscall(SYS_ioctl, pty_fd, HI | TIOCSTI, &c) == -1 && errno == EPERM);
    STEP(4, syscall(SYS_ioctl, pty_fd, (long)0xffffffff00000000UL | TIOCLINUX, &c) == -1 && errno == EPERM);
}

static void test_tiocsti_pty(void **state)
{
    (void)state;
    sbx_filter *f = build(false, false);
    outcome o = run_probe_ex(f, true, pre_pty, probe_tiocsti, NULL);
    sbx_seccomp_free(f);
    if (o.reported && o.m.rc == -2) {
        print_message("no pseudo-terminal can be opened here (/dev/ptmx): TIOCSTI on a pty not tested\n");
        skip();
    }
    assert_steps_passed(&o, "TIOCSTI on a pseudo-terminal");
}

static void probe_sockets_plain(const void *arg, msg *m)
{
    (void)arg;
    int sv[2];
    char c = 'x', r = 0;
    STEP(1, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    struct iovec iov = {&c, 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    STEP(2, sendmsg(sv[0], &mh, 0) == 1);
    iov.iov_base = &r;
    STEP(3, recvmsg(sv[1], &mh, 0) == 1 && r == 'x');
    STEP(4, socket(AF_INET, SOCK_STREAM, 0) == -1 && errno == EPERM);
    STEP(5, socket(AF_UNIX, SOCK_STREAM, 0) == -1 && errno == EPERM);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    STEP(6, connect(sv[0], (struct sockaddr *)&sin, sizeof sin) == -1 && errno == EPERM);
    STEP(7, shutdown(sv[0], SHUT_RDWR) == 0);
}

static void probe_sockets_net(const void *arg, msg *m)
{
    (void)arg;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    int one = 1;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    STEP(1, l >= 0);
    STEP(2, setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    STEP(3, bind(l, (struct sockaddr *)&sin, sizeof sin) == 0 && listen(l, 1) == 0);
    STEP(4, getsockname(l, (struct sockaddr *)&sin, &len) == 0 && sin.sin_port != 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    STEP(5, c >= 0 && connect(c, (struct sockaddr *)&sin, sizeof sin) == 0);
    int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    STEP(6, a >= 0 && write(c, "ping", 4) == 4);
    char buf[8] = {0};
    STEP(7, read(a, buf, sizeof buf) == 4 && memcmp(buf, "ping", 4) == 0);
    STEP(8, socket(AF_NETLINK, SOCK_RAW, 0) == -1 && errno == EPERM);
    STEP(9, socket(AF_PACKET, SOCK_RAW, 0) == -1 && errno == EPERM);
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    STEP(10, u >= 0 && close(u) == 0);
}

static void test_sockets(void **state)
{
    (void)state;
    sbx_filter *plain = build(false, false);
    sbx_filter *net = build(true, false);
    outcome o = run_probe(plain, probe_sockets_plain, NULL);
    assert_steps_passed(&o, "sockets without net");
    o = run_probe(net, probe_sockets_net, NULL);
    assert_steps_passed(&o, "sockets with net (TCP over 127.0.0.1)");
    sbx_seccomp_free(plain);
    sbx_seccomp_free(net);
}

static void probe_exec(const void *arg, msg *m)
{
    char *const *argv = arg;
    char *const envp[] = {NULL};
    execve(argv[0], argv, envp);
    m->rc = -1;
    m->err = errno;
}

static void test_exec(void **state)
{
    (void)state;
    char *const tru[] = {"/bin/true", NULL};
    char *const sh[] = {"/bin/sh", "-c", "echo ok >/dev/null; exit 3", NULL};
    sbx_filter *plain = build(false, false);
    sbx_filter *exec = build(false, true);
    outcome o = run_probe(plain, probe_exec, tru);
    assert_true(o.reported);
    assert_int_equal(o.m.rc, -1);
    assert_int_equal(o.m.err, EPERM);
    /* with exec the program runs, and runs under the filter */
    o = run_probe(exec, probe_exec, tru);
    char b[128];
    if (o.reported || !WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
        print_error("/bin/true under the exec filter %s\n", describe(&o, b, sizeof b));
    assert_false(o.reported);
    assert_true(WIFEXITED(o.status));
    assert_int_equal(WEXITSTATUS(o.status), 0);
    o = run_probe(exec, probe_exec, sh);
    if (o.reported || !WIFEXITED(o.status) || WEXITSTATUS(o.status) != 3)
        print_error("/bin/sh -c 'exit 3' under the exec filter %s\n", describe(&o, b, sizeof b));
    assert_true(WIFEXITED(o.status));
    assert_int_equal(WEXITSTATUS(o.status), 3);
    sbx_seccomp_free(plain);
    sbx_seccomp_free(exec);
}

static void probe_limits(const void *arg, msg *m)
{
    const struct rlimit *want = arg;
    struct rlimit got;
    STEP(1, prlimit(0, RLIMIT_NOFILE, NULL, &got) == 0);
    STEP(2, got.rlim_cur == want->rlim_cur && got.rlim_max == want->rlim_max);
    STEP(3, getrlimit(RLIMIT_NOFILE, &got) == 0 && got.rlim_cur == want->rlim_cur);
    struct rlimit lower = {0, 0};
    STEP(4, prlimit(0, RLIMIT_CORE, &lower, NULL) == -1 && errno == EPERM);
    STEP(5, setrlimit(RLIMIT_NOFILE, want) == -1 && errno == EPERM);
    STEP(6, prlimit(0, RLIMIT_NOFILE, want, &got) == -1 && errno == EPERM);
}

static void test_limits(void **state)
{
    (void)state;
    struct rlimit want;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &want), 0);
    sbx_filter *f = build(false, false);
    outcome o = run_probe(f, probe_limits, &want);
    assert_steps_passed(&o, "prlimit64 get and set");
    sbx_seccomp_free(f);
}

static void probe_prctl(const void *arg, msg *m)
{
    char name[16] = {0};
    STEP(1, prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2);
    STEP(2, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
    STEP(3, prctl(PR_SET_NAME, "venom-probe", 0, 0, 0) == 0);
    STEP(4, prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && strcmp(name, "venom-probe") == 0);
    STEP(5, prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1 && errno == EPERM);
    /* code in the sandbox cannot stack filters (not even ours) */
    int rc = sbx_seccomp_load(arg);
    errno = -rc;
    STEP(6, rc == -EPERM);
}

static void test_prctl_and_reload(void **state)
{
    (void)state;
    sbx_filter *f = build(false, false);
    outcome o = run_probe(f, probe_prctl, f);
    assert_steps_passed(&o, "prctl and a second load");
    sbx_seccomp_free(f);
}

static bool has_cap_sys_admin(void)
{
    char *s = ts_read("/proc/self/status");
    assert_non_null(s);
    const char *p = strstr(s, "\nCapEff:");
    assert_non_null(p);
    unsigned long long caps = strtoull(p + 8, NULL, 16);
    free(s);
    return (caps >> 21) & 1; /* CAP_SYS_ADMIN */
}

static void probe_load(const void *arg, msg *m)
{
    long t0 = now_ns();
    int rc = sbx_seccomp_load(arg);
    long t1 = now_ns();
    m->rc = rc;
    m->err = (int)(t1 - t0 > INT_MAX ? INT_MAX : t1 - t0); /* ns */
}

/* The program as bytes (what a worker that exec'd receives) loads the same. */
typedef struct bytes_arg {
    const void *insns;
    size_t n;
} bytes_arg;

static void probe_bytes(const void *arg, msg *m)
{
    const bytes_arg *b = arg;
    STEP(1, sbx_seccomp_load_bytes(b->insns, b->n) == 0);
    STEP(2, socket(AF_INET, SOCK_STREAM, 0) == -1 && errno == EPERM);
    STEP(3, syscall(1000) == -1 && errno == ENOSYS);
    STEP(4, prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2);
}

static void test_load_bytes(void **state)
{
    (void)state;
    sbx_filter *f = build(false, false);
    const void *insns = NULL;
    size_t n = 0;
    sbx_seccomp_prog(f, &insns, &n);
    assert_non_null(insns);
    assert_int_equal(n, sbx_seccomp_insns(f) * sizeof(struct sock_filter));
    sbx_seccomp_prog(NULL, &insns, &n);
    assert_null(insns);
    assert_int_equal(n, 0);
    sbx_seccomp_prog(f, &insns, &n);
    /* a copy, as if received over the IPC socket; the original is freed */
    void *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, insns, n);
    sbx_seccomp_free(f);
    bytes_arg b = {copy, n};
    outcome o = run_probe_ex(NULL, true, NULL, probe_bytes, &b);
    assert_steps_passed(&o, "sbx_seccomp_load_bytes");
    /* malformed programs are refused before the kernel sees them */
    assert_int_equal(sbx_seccomp_load_bytes(NULL, n), -EINVAL);
    assert_int_equal(sbx_seccomp_load_bytes(copy, 0), -EINVAL);
    assert_int_equal(sbx_seccomp_load_bytes(copy, n - 1), -EINVAL);
    assert_int_equal(sbx_seccomp_load_bytes(copy, (BPF_MAXINSNS + 1) * sizeof(struct sock_filter)), -EINVAL);
    free(copy);
}

/* Without no_new_privs only CAP_SYS_ADMIN may load a filter. */
static void test_load_privilege(void **state)
{
    (void)state;
    sbx_filter *f = build(false, false);
    outcome o = run_probe_ex(NULL, false, NULL, probe_load, f);
    assert_true(o.reported);
    assert_int_equal(o.m.rc, has_cap_sys_admin() ? 0 : -EACCES);
    sbx_seccomp_free(f);
}

/* Build once, load in many children; the load is one system call. */
static void test_load_many(void **state)
{
    (void)state;
    sbx_filter *f = build(false, false);
    long ns[200];
    for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
        outcome o = run_probe_ex(NULL, true, NULL, probe_load, f);
        assert_true(o.reported);
        assert_int_equal(o.m.rc, 0);
        ns[i] = o.m.err;
    }
    qsort(ns, ARRAY_SIZE(ns), sizeof ns[0], cmp_long);
    print_message("seccomp load (%zu instructions): median %.1f us, p90 %.1f us over %zu children\n",
                  sbx_seccomp_insns(f), (double)ns[ARRAY_SIZE(ns) / 2] / 1e3,
                  (double)ns[ARRAY_SIZE(ns) * 9 / 10] / 1e3, ARRAY_SIZE(ns));
    assert_true(ns[ARRAY_SIZE(ns) / 2] < 5000000); /* a worker must not pay milliseconds for it */
    sbx_seccomp_free(f);
}

#ifdef __x86_64__
static void probe_int80(const void *arg, msg *m)
{
    (void)arg;
    long r;
    /* i386 getpid (20) through the 32-bit entry: AUDIT_ARCH_I386 */
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
    m->rc = r;
    m->err = (int)getpid();
}
#endif

/* A foreign architecture's system call kills the process. */
static void test_foreign_arch(void **state)
{
    (void)state;
#ifdef __x86_64__
    outcome ref = run_probe(NULL, probe_int80, NULL);
    if (!(ref.reported && ref.m.rc == ref.m.err)) {
        print_message("this kernel has no IA32 emulation (int 0x80 does not work): foreign arch not tested\n");
        skip();
    }
    sbx_filter *f = build(false, false);
    outcome o = run_probe(f, probe_int80, NULL);
    char b[128];
    if (o.reported || !WIFSIGNALED(o.status) || WTERMSIG(o.status) != SIGSYS)
        print_error("an i386 system call under the filter %s\n", describe(&o, b, sizeof b));
    assert_false(o.reported);
    assert_true(WIFSIGNALED(o.status));
    assert_int_equal(WTERMSIG(o.status), SIGSYS);
    sbx_seccomp_free(f);
#else
    print_message("the foreign-architecture probe is written for x86_64 (int 0x80)\n");
    skip();
#endif
}

int main(void)
{
    mem_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_documented),
        cmocka_unit_test(test_works),
        cmocka_unit_test(test_dlopen),
        cmocka_unit_test(test_processes),
        cmocka_unit_test(test_tsync),
        cmocka_unit_test(test_ioctl),
        cmocka_unit_test(test_tiocsti_pty),
        cmocka_unit_test(test_sockets),
        cmocka_unit_test(test_exec),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_prctl_and_reload),
        cmocka_unit_test(test_load_bytes),
        cmocka_unit_test(test_load_privilege),
        cmocka_unit_test(test_load_many),
        cmocka_unit_test(test_foreign_arch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
