/* test_harden.c — the process-hardening steps (core/sandbox/harden.h). Each
 * case forks a child that applies steps to itself and reads its own state
 * back with independent calls (getrlimit, capget, prctl, /proc/self/fd,
 * environ), sending the findings to the parent through a pipe; the parent
 * asserts. Runs as root and as an unprivileged user: capability cases that
 * need privilege use a user namespace when there is one and skip, saying
 * why, when there is none. */
#include "testsupport.h"
#include "util/common.h"
#include "sandbox/harden.h"
#include "sandbox/landlock.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/securebits.h>
#include <seccomp.h>
#include <sys/capability.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_RAISE 2
#endif
#ifndef SECBIT_NO_CAP_AMBIENT_RAISE
#define SECBIT_NO_CAP_AMBIENT_RAISE (1 << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED (1 << 7)
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

extern char **environ;

#define NVAL 64

typedef struct report {
    int rc;
    char msg[640];
    int64_t v[NVAL];
    char text[32768];
} report;

/* Run fn(r, arg) in a forked child; fn may close any fd but `out`, whose
 * number it gets in r->v[NVAL-1] (-1 when it must not touch fds). */
typedef void (*child_fn)(report *r, int out, void *arg);

static report run_child(child_fn fn, void *arg)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    /* The report channel at a fixed high number, like the worker's IPC fd. */
    int out = fcntl(pfd[1], F_DUPFD, 100);
    assert_true(out >= 100);
    close(pfd[1]);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        report r;
        memset(&r, 0, sizeof r);
        fn(&r, out, arg);
        (void)!write(out, &r, sizeof r);
        _exit(0);
    }
    close(out);
    report r;
    memset(&r, 0, sizeof r);
    size_t got = 0;
    ssize_t n;
    while (got < sizeof r && (n = read(pfd[0], (char *)&r + got, sizeof r - got)) > 0)
        got += (size_t)n;
    close(pfd[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("child died: status 0x%x", st);
    assert_int_equal(got, sizeof r);
    return r;
}

static void keep_err(report *r, int rc, char *err)
{
    r->rc = rc;
    if (err)
        snprintf(r->msg, sizeof r->msg, "%s", err);
    mem_free(err);
}

/* 1 if this process can create a user namespace (tested in a child). */
static int userns_works(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* 1 if we hold CAP_SETPCAP (root with its capabilities). */
static int have_setpcap(void)
{
    cap_t c = cap_get_proc();
    cap_flag_value_t v = CAP_CLEAR;
    if (c)
        cap_get_flag(c, CAP_SETPCAP, CAP_EFFECTIVE, &v);
    cap_free(c);
    return v == CAP_SET;
}

static int last_cap(void)
{
    int c = 0;
    while (c < 63 && prctl(PR_CAPBSET_READ, c + 1, 0, 0, 0) >= 0)
        c++;
    return c;
}

/* Hide /proc (and every file but /dev/null) with a raw landlock ruleset, to
 * exercise the fallbacks that work without /proc. 0 or errno. */
static int hide_proc(void)
{
    struct {
        uint64_t fs;
    } attr = {.fs = (1ULL << 1) | (1ULL << 2) | (1ULL << 3)}; /* WRITE_FILE, READ_FILE, READ_DIR */
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rs < 0)
        return errno;
    struct {
        uint64_t allowed;
        int32_t fd;
    } __attribute__((packed)) pb = {.allowed = (1ULL << 1) | (1ULL << 2), .fd = open("/dev/null", O_PATH | O_CLOEXEC)};
    int e = 0;
    if (syscall(SYS_landlock_add_rule, rs, 1, &pb, 0) < 0 || syscall(SYS_landlock_restrict_self, rs, 0) < 0)
        e = errno;
    close(pb.fd);
    close(rs);
    return e;
}

/* ------------------------------------------------------------ rlimits */

static const int res_ids[] = {RLIMIT_CPU, RLIMIT_AS, RLIMIT_NOFILE, RLIMIT_FSIZE, RLIMIT_NPROC, RLIMIT_CORE};

/* v[0..5] hard limits before, v[10..15] soft after, v[20..25] hard after. */
static void rl_child(report *r, int out, void *arg)
{
    (void)out;
    const sandbox_policy *p = arg;
    struct rlimit l;
    for (int i = 0; i < 6; i++) {
        getrlimit(res_ids[i], &l);
        r->v[i] = (int64_t)l.rlim_max;
    }
    if (p->cpu_s == 1) { /* the "already lower" case: hard NOFILE 50 */
        struct rlimit nf = {50, 50};
        setrlimit(RLIMIT_NOFILE, &nf);
        r->v[2] = 50;
    }
    char *err = NULL;
    int krc = sbx_rlimits(p, &err);
    keep_err(r, krc, err);
    for (int i = 0; i < 6; i++) {
        getrlimit(res_ids[i], &l);
        r->v[10 + i] = (int64_t)l.rlim_cur;
        r->v[20 + i] = (int64_t)l.rlim_max;
    }
}

static void check_rl(const report *r, const uint64_t want[6])
{
    assert_int_equal(r->rc, 0);
    for (int i = 0; i < 6; i++) {
        uint64_t prior = (uint64_t)r->v[i];
        uint64_t exp = want[i];
#if defined(__SANITIZE_ADDRESS__)
        if (res_ids[i] == RLIMIT_AS)
            exp = (uint64_t)RLIM_INFINITY; /* harden.c: ASan builds cannot live under RLIMIT_AS */
#endif
        if (prior != (uint64_t)RLIM_INFINITY && exp > prior)
            exp = prior;
        assert_int_equal((uint64_t)r->v[10 + i], exp);
        assert_int_equal((uint64_t)r->v[20 + i], exp); /* soft = hard */
    }
}

static void test_rlimits(void **state)
{
    (void)state;
    sandbox_policy p = {.cpu_s = 7, .memory_bytes = 512ull << 20, .nofile = 100, .fsize_bytes = 1 << 20,
                        .processes = 50};
    report r = run_child(rl_child, &p);
    uint64_t want[6] = {7, 512ull << 20, 100, 1 << 20, 50, 0};
    check_rl(&r, want);
}

static void test_rlimits_defaults(void **state)
{
    (void)state;
    sandbox_policy p = {0};
    report r = run_child(rl_child, &p);
    uint64_t want[6] = {SANDBOX_DEFAULT_CPU_S, SANDBOX_DEFAULT_MEMORY, SANDBOX_DEFAULT_NOFILE,
                        SANDBOX_DEFAULT_FSIZE, SANDBOX_DEFAULT_PROCESSES, 0};
    check_rl(&r, want);
}

/* A hard limit already below the policy is kept, not raised (EPERM). */
static void test_rlimits_never_raise(void **state)
{
    (void)state;
    sandbox_policy p = {.cpu_s = 1, .nofile = 100};
    report r = run_child(rl_child, &p);
    assert_int_equal(r.v[12], 50);
    assert_int_equal(r.v[22], 50);
    uint64_t want[6] = {1, SANDBOX_DEFAULT_MEMORY, 100, SANDBOX_DEFAULT_FSIZE, SANDBOX_DEFAULT_PROCESSES, 0};
    check_rl(&r, want);
}

static void test_rlimits_null(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(sbx_rlimits(NULL, &err), -EINVAL);
    assert_non_null(strstr(err, "no policy"));
    mem_free(err);
}

/* ------------------------------------------------------------ session */

static void session_child(report *r, int out, void *arg)
{
    (void)out;
    (void)arg;
    char *err = NULL;
    int krc = sbx_session(&err);
    keep_err(r, krc, err);
    r->v[0] = getsid(0) == getpid();
    r->v[1] = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    int sig = -1;
    prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
    r->v[2] = sig;
    r->v[3] = open("/dev/tty", O_RDWR | O_CLOEXEC) < 0 ? errno : 0; /* no controlling tty */
}

static void test_session(void **state)
{
    (void)state;
    report r = run_child(session_child, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v[0], 1);
    assert_int_equal(r.v[1], 0);
    assert_int_equal(r.v[2], SIGKILL);
    assert_int_equal(r.v[3], ENXIO);
}

static void session_leader_child(report *r, int out, void *arg)
{
    (void)out;
    (void)arg;
    setpgid(0, 0); /* a group leader that is not a session leader */
    char *err = NULL;
    int krc = sbx_session(&err);
    keep_err(r, krc, err);
}

static void test_session_group_leader(void **state)
{
    (void)state;
    report r = run_child(session_leader_child, NULL);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "setsid"));
    assert_non_null(strstr(r.msg, "process group leader"));
}

/* The death signal really kills: a subreaper child forks a middle process
 * whose child calls sbx_session; the middle exits; the grandchild must die
 * of SIGKILL. v[0] = its wait status. */
static void pdeath_child(report *r, int out, void *arg)
{
    (void)out;
    (void)arg;
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    int ready[2];
    if (pipe(ready) < 0)
        return;
    pid_t mid = fork();
    if (mid == 0) {
        pid_t gc = fork();
        if (gc == 0) {
            char *err = NULL;
            int rc = sbx_session(&err);
            (void)!write(ready[1], &rc, sizeof rc);
            for (int i = 0; i < 500; i++)
                usleep(10000); /* killed long before 5 s */
            _exit(0);
        }
        int rc = -1;
        (void)!read(ready[0], &rc, sizeof rc);
        (void)!write(ready[1], &gc, sizeof gc);
        _exit(rc == 0 ? 0 : 1);
    }
    int ms = 0;
    waitpid(mid, &ms, 0);
    pid_t gc = 0;
    (void)!read(ready[0], &gc, sizeof gc);
    int st = 0;
    r->rc = WIFEXITED(ms) ? WEXITSTATUS(ms) : -1;
    r->v[0] = waitpid(gc, &st, 0) == gc ? st : -1;
}

static void test_session_pdeathsig(void **state)
{
    (void)state;
    report r = run_child(pdeath_child, NULL);
    assert_int_equal(r.rc, 0);
    assert_true(WIFSIGNALED((int)r.v[0]));
    assert_int_equal(WTERMSIG((int)r.v[0]), SIGKILL);
}

/* ------------------------------------------------------------ no_new_privs */

static void nnp_child(report *r, int out, void *arg)
{
    (void)out;
    (void)arg;
    r->v[0] = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    char *err = NULL;
    int krc = sbx_no_new_privs(&err);
    keep_err(r, krc, err);
    r->v[1] = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
}

static void test_no_new_privs(void **state)
{
    (void)state;
    report r = run_child(nnp_child, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v[0], 0);
    assert_int_equal(r.v[1], 1);
}

/* ------------------------------------------------------------ capabilities */

/* v[0..2] eff/prm/inh, v[3] bounding, v[4] ambient, v[5] securebits, v[6]
 * ambient before, v[7] errno of regaining CAP_SYS_ADMIN, v[8] euid. */
static void read_state(report *r)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    capget(&h, d);
    r->v[0] = (int64_t)((uint64_t)d[1].effective << 32 | d[0].effective);
    r->v[1] = (int64_t)((uint64_t)d[1].permitted << 32 | d[0].permitted);
    r->v[2] = (int64_t)((uint64_t)d[1].inheritable << 32 | d[0].inheritable);
    uint64_t bnd = 0, amb = 0;
    for (int c = 0; c <= last_cap(); c++) {
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
            bnd |= 1ULL << c;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
            amb |= 1ULL << c;
    }
    r->v[3] = (int64_t)bnd;
    r->v[4] = (int64_t)amb;
    r->v[5] = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    r->v[8] = geteuid();
}

/* Raise CAP_NET_BIND_SERVICE into the ambient set (needs it permitted). */
static void raise_ambient(void)
{
    cap_t c = cap_get_proc();
    cap_value_t v[] = {CAP_NET_BIND_SERVICE};
    cap_set_flag(c, CAP_INHERITABLE, 1, v, CAP_SET);
    cap_set_proc(c);
    cap_free(c);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0);
}

static void caps_child(report *r, int out, void *arg)
{
    (void)out;
    if (arg && unshare(CLONE_NEWUSER) < 0) {
        r->rc = -9999;
        return;
    }
    raise_ambient();
    r->v[6] = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0);
    char *err = NULL;
    int krc = sbx_drop_caps(&err);
    keep_err(r, krc, err);
    read_state(r);
    /* Try to get a capability back. */
    cap_t c = cap_get_proc();
    cap_value_t v[] = {CAP_SYS_ADMIN};
    cap_set_flag(c, CAP_EFFECTIVE, 1, v, CAP_SET);
    cap_set_flag(c, CAP_PERMITTED, 1, v, CAP_SET);
    r->v[7] = cap_set_proc(c) < 0 ? errno : 0;
    cap_free(c);
}

static const int64_t want_secbits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                    SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                    SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

static void check_all_dropped(const report *r)
{
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->v[6], 1); /* the ambient cap was really raised first */
    assert_int_equal(r->v[0], 0);
    assert_int_equal(r->v[1], 0);
    assert_int_equal(r->v[2], 0);
    assert_int_equal(r->v[3], 0); /* bounding set empty */
    assert_int_equal(r->v[4], 0); /* ambient empty */
    assert_int_equal(r->v[5], want_secbits);
    assert_int_equal(r->v[7], EPERM);
}

/* As root (with CAP_SETPCAP): everything dropped, securebits locked. */
static void test_drop_caps_privileged(void **state)
{
    (void)state;
    if (!have_setpcap()) {
        print_message("skipped: not root with CAP_SETPCAP (the user namespace case covers a privileged drop)\n");
        skip();
    }
    report r = run_child(caps_child, NULL);
    check_all_dropped(&r);
}

/* As the owner of a new user namespace (the unprivileged worker's case). */
static void test_drop_caps_userns(void **state)
{
    (void)state;
    if (!userns_works()) {
        print_message("skipped: this machine refuses user namespaces to this user\n");
        skip();
    }
    report r = run_child(caps_child, (void *)1);
    assert_int_not_equal(r.rc, -9999);
    check_all_dropped(&r);
}

/* Without any capability: a no-op that succeeds, and the bounding set (which
 * cannot be changed) stays. */
static void test_drop_caps_unprivileged(void **state)
{
    (void)state;
    if (have_setpcap()) {
        print_message("skipped: running with capabilities (the unprivileged run covers this)\n");
        skip();
    }
    report r = run_child(caps_child, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v[0], 0);
    assert_int_equal(r.v[1], 0);
    assert_int_equal(r.v[2], 0);
    assert_int_equal(r.v[4], 0);
    assert_int_equal(r.v[7], EPERM);
}

/* ------------------------------------------------------------ fds */

/* v[0] n fds, v[1..] fd numbers (from /proc/self/fd, or fcntl on 0..2047
 * where landlock hides /proc), text = what 0,1,2 are; v[40..42] fd flags,
 * v[43..45] access modes of 0..2. */
static void list_fds(report *r)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = (int)strtol(e->d_name, NULL, 10);
        if (fd == dirfd(d))
            continue;
        if (n < 30)
            r->v[1 + n] = fd;
        n++;
    }
    if (d)
        closedir(d);
    else
        for (int fd = 0; fd < 2048; fd++)
            if (fcntl(fd, F_GETFD) >= 0) {
                if (n < 30)
                    r->v[1 + n] = fd;
                n++;
            }
    r->v[0] = n;
    struct stat null, st;
    size_t off = 0;
    stat("/dev/null", &null);
    for (int fd = 0; fd < 3; fd++) {
        bool is_null = fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == null.st_rdev;
        off += (size_t)snprintf(r->text + off, sizeof r->text - off, "%s%s", fd ? "|" : "",
                                is_null ? "/dev/null" : "other");
        r->v[40 + fd] = fcntl(fd, F_GETFD);
        r->v[43 + fd] = fcntl(fd, F_GETFL) & O_ACCMODE;
    }
}

/* Leak 20 descriptors of all kinds, a directory at 42 and one at 1000. */
static void leak_fds(void)
{
    for (int i = 0; i < 8; i++)
        (void)!open("/dev/null", O_RDONLY);
    int p[2];
    for (int i = 0; i < 4; i++)
        (void)!pipe(p);
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    dup2(dir, 42);
    dup2(dir, 1000);
    (void)!open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

enum { STD_CLOSED = 1, NO_CLOSE_RANGE = 2, NO_PROC = 4 };

static void close_child(report *r, int out, void *arg)
{
    int flags = (int)(intptr_t)arg;
    leak_fds();
    if (flags & STD_CLOSED) { /* standard streams closed by the caller */
        close(0);
        close(1);
        close(2);
    }
    if (flags & NO_PROC) {
        r->v[51] = hide_proc();
        r->v[52] = open("/proc/self/fd", O_RDONLY | O_DIRECTORY) < 0 ? errno : 0;
    }
    if (flags & NO_CLOSE_RANGE) { /* an old kernel: close_range is ENOSYS */
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(close_range), 0);
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
        r->v[53] = seccomp_load(ctx);
        seccomp_release(ctx);
        r->v[54] = syscall(SYS_close_range, ~0U, ~0U, 0) < 0 ? errno : 0;
    }
    char *err = NULL;
    int krc = sbx_close_fds(out, &err);
    keep_err(r, krc, err);
    list_fds(r);
    r->v[50] = out;
}

static void check_closed(const report *r)
{
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->v[0], 4);
    assert_int_equal(r->v[1], 0);
    assert_int_equal(r->v[2], 1);
    assert_int_equal(r->v[3], 2);
    assert_int_equal(r->v[4], r->v[50]);
    assert_string_equal(r->text, "/dev/null|/dev/null|/dev/null");
    for (int fd = 0; fd < 3; fd++)
        assert_int_equal(r->v[40 + fd], 0); /* not close-on-exec */
    assert_int_equal(r->v[43], O_RDONLY);
    assert_int_equal(r->v[44], O_WRONLY);
    assert_int_equal(r->v[45], O_WRONLY);
}

static void test_close_fds(void **state)
{
    (void)state;
    report r = run_child(close_child, NULL);
    check_closed(&r);
}

static void test_close_fds_std_closed(void **state)
{
    (void)state;
    report r = run_child(close_child, (void *)STD_CLOSED);
    check_closed(&r);
}

/* Without close_range: the /proc/self/fd walk. */
static void test_close_fds_no_close_range(void **state)
{
    (void)state;
    report r = run_child(close_child, (void *)NO_CLOSE_RANGE);
    assert_int_equal(r.v[53], 0);
    assert_int_equal(r.v[54], ENOSYS);
    check_closed(&r);
}

/* Without close_range and without /proc: the fcntl scan. */
static void test_close_fds_no_proc(void **state)
{
    (void)state;
    if (sbx_landlock_abi() == 0) {
        print_message("skipped: hiding /proc needs landlock, unavailable on this kernel\n");
        skip();
    }
    report r = run_child(close_child, (void *)(NO_CLOSE_RANGE | NO_PROC));
    assert_int_equal(r.v[51], 0);
    assert_int_equal(r.v[52], EACCES);
    assert_int_equal(r.v[54], ENOSYS);
    check_closed(&r);
}

static void test_close_fds_bad_keep(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(sbx_close_fds(1, &err), -EINVAL);
    assert_non_null(strstr(err, "fd 1 is a standard stream"));
    mem_free(err);
    err = NULL;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sbx_close_fds(fd, &err), -EBADF);
    char want[64];
    snprintf(want, sizeof want, "fd %d is not open", fd);
    assert_non_null(strstr(err, want));
    mem_free(err);
    /* Nothing was closed by the refused calls. */
    assert_true(fcntl(0, F_GETFD) >= 0);
}

/* ------------------------------------------------------------ environment */

static void env_child(report *r, int out, void *arg)
{
    (void)out;
    setenv("VENOM_TEST_SECRET", "planted", 1);
    char *err = NULL;
    int krc = sbx_clean_env(arg, &err);
    keep_err(r, krc, err);
    size_t off = 0;
    for (char **e = environ; e && *e && off < sizeof r->text; e++)
        off += (size_t)snprintf(r->text + off, sizeof r->text - off, "%s\n", *e);
}

static void test_clean_env(void **state)
{
    (void)state;
    char *env[] = {"A=1", "B=x=y", "EMPTY=", "A=2"};
    sandbox_policy p = {.env = {.v = env, .n = 4}};
    report r = run_child(env_child, &p);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.text, "A=2\nB=x=y\nEMPTY=\n");
}

static void test_clean_env_empty(void **state)
{
    (void)state;
    sandbox_policy p = {0};
    report r = run_child(env_child, &p);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.text, "");
}

static void test_clean_env_bad(void **state)
{
    (void)state;
    struct {
        char *entry;
        const char *want;
    } cases[] = {
        {"NOEQUALS", "env entry 1 \"NOEQUALS\" is not NAME=value"},
        {"=value", "env entry 1 \"=value\" is not NAME=value"},
        {NULL, "env entry 1 \"(null)\" is not NAME=value"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *env[] = {"OK=1", cases[i].entry};
        sandbox_policy p = {.env = {.v = env, .n = 2}};
        report r = run_child(env_child, &p);
        assert_int_equal(r.rc, -EINVAL);
        assert_non_null(strstr(r.msg, cases[i].want));
        assert_non_null(strstr(r.text, "VENOM_TEST_SECRET=planted")); /* untouched */
        assert_null(strstr(r.text, "OK=1"));
    }
    char longname[400];
    memset(longname, 'N', 300);
    snprintf(longname + 300, sizeof longname - 300, "=v");
    char *env[] = {longname};
    sandbox_policy p = {.env = {.v = env, .n = 1}};
    report r = run_child(env_child, &p);
    assert_int_equal(r.rc, -ENAMETOOLONG);
    assert_non_null(strstr(r.msg, "env entry 0"));
    char *err = NULL;
    assert_int_equal(sbx_clean_env(NULL, &err), -EINVAL);
    assert_non_null(strstr(err, "no policy"));
    mem_free(err);
}

/* ------------------------------------------------------------ verify */

enum {
    SKIP_NONE = 0,
    SKIP_CAPS = 1 << 0,
    SKIP_NNP = 1 << 1,
    SKIP_SESSION = 1 << 2,
    EXTRA_FD = 1 << 3,
    WITH_SECCOMP = 1 << 4,
    WITH_LANDLOCK = 1 << 5,
    HIDE_PROC = 1 << 9,
    IN_USERNS = 1 << 6,
    KEEP_CLOSED = 1 << 7,
    EXPECT_SECCOMP = 1 << 8,
};

/* The worker's whole sequence, minus what `flags` skips; then sbx_verify.
 * v[0] = the failing step (1..8, 0 = none), rc/msg = sbx_verify's. */
static void seq_child(report *r, int out, void *arg)
{
    int flags = (int)(intptr_t)arg;
    char *err = NULL;
    int rc = 0;
    leak_fds();
    if ((flags & IN_USERNS) && unshare(CLONE_NEWUSER) < 0) {
        r->v[0] = 1;
        return;
    }
    sandbox_policy p = {0};
    char *env[] = {"PATH=/usr/bin"};
    p.env.v = env;
    p.env.n = 1;
#ifdef UNDER_ASAN
    p.memory_bytes = UINT64_MAX; /* ASan reserves terabytes of address space */
#endif
    if (flags & WITH_LANDLOCK) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if ((rc = sbx_landlock_apply(&p, NULL, NULL, &err)) < 0) {
            r->v[0] = 2;
            goto out;
        }
    }
    if ((flags & HIDE_PROC) && (r->v[1] = hide_proc()) != 0) {
        r->v[0] = 2;
        goto out;
    }
    if ((rc = sbx_rlimits(&p, &err)) < 0) {
        r->v[0] = 3;
        goto out;
    }
    if (!(flags & SKIP_SESSION) && (rc = sbx_session(&err)) < 0) {
        r->v[0] = 4;
        goto out;
    }
    if (!(flags & SKIP_NNP) && (rc = sbx_no_new_privs(&err)) < 0) {
        r->v[0] = 5;
        goto out;
    }
    if (!(flags & SKIP_CAPS) && (rc = sbx_drop_caps(&err)) < 0) {
        r->v[0] = 6;
        goto out;
    }
    if ((rc = sbx_close_fds(out, &err)) < 0) {
        r->v[0] = 7;
        goto out;
    }
    if ((rc = sbx_clean_env(&p, &err)) < 0) {
        r->v[0] = 8;
        goto out;
    }
    if (flags & WITH_SECCOMP) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        rc = seccomp_load(ctx);
        seccomp_release(ctx);
        if (rc < 0) {
            r->v[0] = 9;
            goto out;
        }
    }
    if (flags & EXTRA_FD)
        dup2(out, 9);
    rc = sbx_verify((flags & KEEP_CLOSED) ? 77 : out, (flags & EXPECT_SECCOMP) ? 2 : 0, &err);
out:
    keep_err(r, rc, err);
}

static report run_seq(int flags)
{
    return run_child(seq_child, (void *)(intptr_t)flags);
}

/* Privileged variant of a case: root as is, else inside a user namespace;
 * 0 = impossible here. */
static int priv_flags(void)
{
    if (have_setpcap())
        return SKIP_NONE;
    return userns_works() ? IN_USERNS : -1;
}

static void test_verify_passes(void **state)
{
    (void)state;
    report r = run_seq(SKIP_NONE);
    assert_int_equal(r.v[0], 0);
    if (r.rc != 0)
        fail_msg("verify refused: %s", r.msg);
    int pf = priv_flags();
    if (pf > 0) {
        r = run_seq(pf);
        assert_int_equal(r.v[0], 0);
        if (r.rc != 0)
            fail_msg("verify refused in a user namespace: %s", r.msg);
    }
}

static void test_verify_seccomp(void **state)
{
    (void)state;
    report r = run_seq(WITH_SECCOMP | EXPECT_SECCOMP);
    assert_int_equal(r.v[0], 0);
    if (r.rc != 0)
        fail_msg("verify refused: %s", r.msg);
    r = run_seq(WITH_SECCOMP);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "seccomp mode 2, expected 0"));
    r = run_seq(EXPECT_SECCOMP);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "seccomp mode 0, expected 2"));
}

static void test_verify_extra_fd(void **state)
{
    (void)state;
    report r = run_seq(EXTRA_FD);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "refusing to run the skill"));
    assert_non_null(strstr(r.msg, "1 extra fd open (9)"));
    r = run_seq(KEEP_CLOSED);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "the kept fd 77 is not open"));
    /* fd 100 (the real report channel) is extra when 77 is the kept one */
    assert_non_null(strstr(r.msg, "extra fd open (100)"));
}

static void test_verify_nnp_unset(void **state)
{
    (void)state;
    report r = run_seq(SKIP_NNP);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "no_new_privs is 0, not 1"));
}

static void test_verify_dumpable(void **state)
{
    (void)state;
    report r = run_seq(SKIP_SESSION);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "dumpable is 1, not 0"));
}

static void test_verify_caps_kept(void **state)
{
    (void)state;
    int pf = priv_flags();
    if (pf < 0) {
        print_message("skipped: no capabilities to keep (not root, no user namespaces)\n");
        skip();
    }
    report r = run_seq(pf | SKIP_CAPS);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "effective capabilities 0x"));
    assert_non_null(strstr(r.msg, "permitted capabilities 0x"));
    assert_non_null(strstr(r.msg, "bounding set 0x"));
}

/* Under the worker's landlock rules (its own /proc entry readable). */
static void test_verify_under_landlock(void **state)
{
    (void)state;
    if (sbx_landlock_abi() == 0) {
        print_message("skipped: landlock unavailable on this kernel\n");
        skip();
    }
    report r = run_seq(WITH_LANDLOCK | WITH_SECCOMP | EXPECT_SECCOMP);
    assert_int_equal(r.v[0], 0);
    if (r.rc != 0)
        fail_msg("verify refused under landlock: %s", r.msg);
    r = run_seq(WITH_LANDLOCK | EXTRA_FD | WITH_SECCOMP);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "1 extra fd open (9)"));
    assert_non_null(strstr(r.msg, "seccomp mode 2, expected 0"));
}

/* Without /proc: prctl, capget and poll/fcntl see the same things. */
static void test_verify_without_proc(void **state)
{
    (void)state;
    if (sbx_landlock_abi() == 0) {
        print_message("skipped: hiding /proc needs landlock, unavailable on this kernel\n");
        skip();
    }
    report r = run_seq(HIDE_PROC | WITH_SECCOMP | EXPECT_SECCOMP);
    assert_int_equal(r.v[0], 0);
    if (r.rc != 0)
        fail_msg("verify refused without /proc: %s", r.msg);
    r = run_seq(HIDE_PROC | EXTRA_FD | WITH_SECCOMP);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "1 extra fd open (9)"));
    assert_non_null(strstr(r.msg, "seccomp mode 2, expected 0"));
    r = run_seq(HIDE_PROC | SKIP_SESSION | KEEP_CLOSED);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "dumpable is 1, not 0"));
    assert_non_null(strstr(r.msg, "the kept fd 77 is not open"));
    assert_non_null(strstr(r.msg, "extra fd open (100)"));
    int pf = priv_flags();
    if (pf >= 0) {
        r = run_seq(pf | HIDE_PROC | SKIP_CAPS);
        assert_int_equal(r.rc, -EPERM);
        assert_non_null(strstr(r.msg, "effective capabilities 0x"));
        assert_non_null(strstr(r.msg, "bounding set 0x"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rlimits),
        cmocka_unit_test(test_rlimits_defaults),
        cmocka_unit_test(test_rlimits_never_raise),
        cmocka_unit_test(test_rlimits_null),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_session_group_leader),
        cmocka_unit_test(test_session_pdeathsig),
        cmocka_unit_test(test_no_new_privs),
        cmocka_unit_test(test_drop_caps_privileged),
        cmocka_unit_test(test_drop_caps_userns),
        cmocka_unit_test(test_drop_caps_unprivileged),
        cmocka_unit_test(test_close_fds),
        cmocka_unit_test(test_close_fds_std_closed),
        cmocka_unit_test(test_close_fds_no_close_range),
        cmocka_unit_test(test_close_fds_no_proc),
        cmocka_unit_test(test_close_fds_bad_keep),
        cmocka_unit_test(test_clean_env),
        cmocka_unit_test(test_clean_env_empty),
        cmocka_unit_test(test_clean_env_bad),
        cmocka_unit_test(test_verify_passes),
        cmocka_unit_test(test_verify_seccomp),
        cmocka_unit_test(test_verify_extra_fd),
        cmocka_unit_test(test_verify_nnp_unset),
        cmocka_unit_test(test_verify_dumpable),
        cmocka_unit_test(test_verify_caps_kept),
        cmocka_unit_test(test_verify_under_landlock),
        cmocka_unit_test(test_verify_without_proc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
