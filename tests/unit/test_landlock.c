/* test_landlock.c — the landlock layer (core/sandbox/landlock.h). Each case
 * forks a child that applies the rules to itself, probes (open, execve,
 * connect, kill…) and sends the exact errno of each probe back through a
 * pipe; the parent asserts. Runs as root and as an unprivileged user (the
 * child sets no_new_privs first, as the worker does). Cases that need a
 * newer landlock ABI than the kernel's are skipped, saying so. */
#include "testsupport.h"
#include "util/common.h"
#include "sandbox/landlock.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/capability.h>

#define NVAL 24

/* What a child reports: rc of sbx_landlock_apply, its message, the ABI,
 * and one errno (0 = success) per probe. */
typedef struct report {
    int rc;
    int abi;
    int v[NVAL];
    char msg[512];
} report;

static char *root;      /* temp dir holding ro/, rw/, other/, tmp/ */
static char ro[4096], rw[4096], other[4096], tmpd[4096];
static int kabi;         /* the kernel's landlock ABI */

static const char *const sys_dirs[] = {"/usr", "/lib", "/lib64", "/lib32", "/bin", "/etc"};

/* Copy /bin/true to dst with mode 0755. */
static void copy_true(const char *dst)
{
    char *data = NULL;
    int in = open("/bin/true", O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    struct stat st;
    assert_int_equal(fstat(in, &st), 0);
    data = malloc((size_t)st.st_size);
    assert_non_null(data);
    assert_int_equal(read(in, data, (size_t)st.st_size), st.st_size);
    close(in);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    assert_true(out >= 0);
    assert_int_equal(write(out, data, (size_t)st.st_size), st.st_size);
    close(out);
    free(data);
}

static int setup(void **state)
{
    (void)state;
    kabi = sbx_landlock_abi();
    root = ts_mkdtemp();
    if (!root)
        return -1;
    snprintf(ro, sizeof ro, "%s/ro", root);
    snprintf(rw, sizeof rw, "%s/rw", root);
    snprintf(other, sizeof other, "%s/other", root);
    snprintf(tmpd, sizeof tmpd, "%s/tmp", root);
    free(ts_write(ro, "file.txt", "hello"));
    free(ts_write(rw, "old.txt", "old"));
    free(ts_write(other, "secret.txt", "secret"));
    free(ts_write(tmpd, ".keep", ""));
    char p[4200];
    snprintf(p, sizeof p, "%s/true", ro);
    copy_true(p);
    snprintf(p, sizeof p, "%s/true", other);
    copy_true(p);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(root);
    free(root);
    return 0;
}

static int skip_without(int need, const char *what)
{
    if (kabi >= need)
        return 0;
    print_message("skipped: %s needs landlock ABI %d, this kernel has %d\n", what, need, kabi);
    return 1;
}

/* A policy over the given lists (plain data, as policy.c would build it). */
typedef struct pol {
    sandbox_policy p;
    char *ro_v[16];
    char *rw_v[16];
} pol;

static void pol_init(pol *x, bool with_sys)
{
    memset(x, 0, sizeof *x);
    x->p.ro.v = x->ro_v;
    x->p.rw.v = x->rw_v;
    if (with_sys)
        for (size_t i = 0; i < ARRAY_SIZE(sys_dirs); i++)
            x->ro_v[x->p.ro.n++] = (char *)sys_dirs[i];
}

static void pol_ro(pol *x, const char *path) { x->ro_v[x->p.ro.n++] = (char *)path; }
static void pol_rw(pol *x, const char *path) { x->rw_v[x->p.rw.n++] = (char *)path; }

/* errno of open(path, flags) (0 if it opened). */
static int try_open(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

static int try_open_at(const char *dir, const char *name, int flags)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return try_open(p, flags);
}

/* errno of execve(path) in a grandchild, or 1000 + its exit status when the
 * exec succeeded. */
static int try_exec(const char *path)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)path, NULL};
        char *envp[] = {NULL};
        execve(path, argv, envp);
        int e = errno;
        (void)!write(pfd[1], &e, sizeof e);
        _exit(127);
    }
    close(pfd[1]);
    int e = 0, st = 0;
    ssize_t n = read(pfd[0], &e, sizeof e);
    close(pfd[0]);
    waitpid(pid, &st, 0);
    if (n == (ssize_t)sizeof e)
        return e;
    return 1000 + (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

typedef void (*probe_fn)(report *r, void *arg);

/* Fork; in the child: no_new_privs (unless nnp is false), apply p, and when
 * that succeeded run probe(r, arg); send r to the parent. */
static report run_child(const sandbox_policy *p, const char *tmp, bool nnp, probe_fn probe, probe_fn before,
                        void *arg)
{
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        report r;
        memset(&r, 0, sizeof r);
        for (int i = 0; i < NVAL; i++)
            r.v[i] = -1;
        if (before)
            before(&r, arg);
        if (nnp)
            prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        char *err = NULL;
        r.rc = sbx_landlock_apply(p, tmp, &r.abi, &err);
        if (err)
            snprintf(r.msg, sizeof r.msg, "%s", err);
        if (r.rc == 0 && probe)
            probe(&r, arg);
        (void)!write(pfd[1], &r, sizeof r);
        _exit(0);
    }
    close(pfd[1]);
    report r;
    memset(&r, 0, sizeof r);
    ssize_t n = read(pfd[0], &r, sizeof r);
    close(pfd[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(n, (ssize_t)sizeof r);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return r;
}

/* ------------------------------------------------------------ ABI */

static void test_abi(void **state)
{
    (void)state;
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);
    assert_int_equal(kabi, v > 0 ? (int)v : 0);
    if (!kabi) {
        print_message("skipped: landlock unavailable on this kernel (%s)\n", strerror(errno));
        skip();
    }
    pol x;
    pol_init(&x, false);
    report r = run_child(&x.p, NULL, true, NULL, NULL, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.abi, kabi > 7 ? 7 : kabi);
}

/* ------------------------------------------------------------ files */

static void probe_files(report *r, void *arg)
{
    (void)arg;
    char p[4200];
    r->v[0] = try_open_at(ro, "file.txt", O_RDONLY);
    r->v[1] = try_open_at(other, "secret.txt", O_RDONLY);
    r->v[2] = try_open(other, O_RDONLY | O_DIRECTORY);
    r->v[3] = try_open("/etc/hostname", O_RDONLY);
    r->v[4] = try_open_at(rw, "new.txt", O_WRONLY | O_CREAT);
    r->v[5] = try_open_at(ro, "file.txt", O_WRONLY);
    r->v[6] = try_open_at(ro, "new.txt", O_WRONLY | O_CREAT);
    snprintf(p, sizeof p, "%s/d", rw);
    r->v[7] = mkdir(p, 0755) < 0 ? errno : 0;
    snprintf(p, sizeof p, "%s/d", ro);
    r->v[8] = mkdir(p, 0755) < 0 ? errno : 0;
    snprintf(p, sizeof p, "%s/old.txt", rw);
    r->v[9] = unlink(p) < 0 ? errno : 0;
    snprintf(p, sizeof p, "%s/file.txt", ro);
    r->v[10] = unlink(p) < 0 ? errno : 0;
    /* Hard link of an outside file into a writable dir. */
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/secret.txt", other);
    snprintf(dst, sizeof dst, "%s/link", rw);
    r->v[11] = link(src, dst) < 0 ? errno : 0;
    /* Symlink in rw pointing outside: may be made, but not followed. */
    snprintf(dst, sizeof dst, "%s/sym", rw);
    r->v[12] = symlink(src, dst) < 0 ? errno : 0;
    r->v[13] = try_open(dst, O_RDONLY);
    r->v[14] = try_open("/dev/null", O_WRONLY | O_TRUNC);
    r->v[15] = try_open("/dev/urandom", O_RDONLY);
    r->v[16] = try_open("/dev/urandom", O_WRONLY);
    r->v[17] = try_open_at(tmpd, "scratch", O_RDWR | O_CREAT);
    snprintf(p, sizeof p, "%s/file.txt", ro);
    r->v[18] = truncate(p, 0) < 0 ? errno : 0;
    snprintf(p, sizeof p, "%s/new.txt", rw);
    r->v[19] = truncate(p, 0) < 0 ? errno : 0;
    /* Rename a writable file into the read-only dir. */
    char to[4200];
    snprintf(to, sizeof to, "%s/moved.txt", ro);
    r->v[20] = rename(p, to) < 0 ? errno : 0;
    /* /proc: our own entry is readable, the parent's is not, and the
     * binary behind /proc/self/exe is checked on its own path. */
    r->v[21] = try_open("/proc/self/status", O_RDONLY);
    snprintf(p, sizeof p, "/proc/%d/environ", (int)getppid());
    r->v[22] = try_open(p, O_RDONLY);
    r->v[23] = try_open("/proc/self/exe", O_RDONLY);
}

static void test_files(void **state)
{
    (void)state;
    if (!kabi) {
        print_message("skipped: landlock unavailable on this kernel\n");
        skip();
    }
    pol x;
    pol_init(&x, false);
    pol_ro(&x, ro);
    pol_rw(&x, rw);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/does-not-exist", root);
    pol_ro(&x, missing); /* skipped, not an error */
    report r = run_child(&x.p, tmpd, true, probe_files, NULL, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v[0], 0);       /* read under ro */
    assert_int_equal(r.v[1], EACCES);  /* read elsewhere */
    assert_int_equal(r.v[2], EACCES);  /* list elsewhere */
    assert_int_equal(r.v[3], EACCES);  /* /etc not in the policy */
    assert_int_equal(r.v[4], 0);       /* create under rw */
    assert_int_equal(r.v[5], EACCES);  /* write under ro */
    assert_int_equal(r.v[6], EACCES);  /* create under ro */
    assert_int_equal(r.v[7], 0);       /* mkdir under rw */
    assert_int_equal(r.v[8], EACCES);  /* mkdir under ro */
    assert_int_equal(r.v[9], 0);       /* unlink under rw */
    assert_int_equal(r.v[10], EACCES); /* unlink under ro */
    /* Linking an outside file in: the cross-directory (REFER) check
     * answers first, with EXDEV (ABI 1 forbids every cross-dir link). */
    assert_int_equal(r.v[11], EXDEV);
    assert_int_equal(r.v[12], 0);      /* symlink itself is allowed (MAKE_SYM) */
    assert_int_equal(r.v[13], EACCES); /* ...but following it outside is not */
    assert_int_equal(r.v[14], 0);      /* > /dev/null */
    assert_int_equal(r.v[15], 0);
    assert_int_equal(r.v[16], EACCES); /* /dev/urandom is read-only */
    assert_int_equal(r.v[17], 0);      /* private tmp is writable */
    if (kabi >= 3) {
        assert_int_equal(r.v[18], EACCES); /* truncate under ro */
        assert_int_equal(r.v[19], 0);      /* truncate under rw */
    }
    /* Rename into ro: no MAKE_REG there. */
    assert_int_equal(r.v[20], EACCES);
    assert_int_equal(r.v[21], 0);
    assert_int_equal(r.v[22], EACCES);
    assert_int_equal(r.v[23], EACCES); /* the test binary is not in the policy */
    /* Nothing was changed outside the rw paths. */
    char *s = NULL;
    char p[4200];
    snprintf(p, sizeof p, "%s/file.txt", ro);
    s = ts_read(p);
    assert_string_equal(s, "hello");
    free(s);
    snprintf(p, sizeof p, "%s/new.txt", ro);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/new.txt", rw);
    assert_int_equal(access(p, F_OK), 0); /* created, and the rename failed */
    unlink(p);
    snprintf(p, sizeof p, "%s/moved.txt", ro);
    assert_int_equal(access(p, F_OK), -1);
    /* clean up rw for the next cases */
    snprintf(p, sizeof p, "%s/link", rw);
    unlink(p);
    snprintf(p, sizeof p, "%s/sym", rw);
    unlink(p);
    snprintf(p, sizeof p, "%s/d", rw);
    rmdir(p);
    free(ts_write(rw, "old.txt", "old"));
}

/* ------------------------------------------------------------ exec */

static void probe_exec(report *r, void *arg)
{
    (void)arg;
    char p[4200];
    snprintf(p, sizeof p, "%s/true", ro);
    r->v[0] = try_exec(p);
    r->v[1] = try_exec("/bin/true");
    snprintf(p, sizeof p, "%s/true", other);
    r->v[2] = try_exec(p);
}

static void test_exec_denied_without_exec(void **state)
{
    (void)state;
    if (!kabi) {
        print_message("skipped: landlock unavailable on this kernel\n");
        skip();
    }
    pol x;
    pol_init(&x, true);
    pol_ro(&x, ro);
    report r = run_child(&x.p, NULL, true, probe_exec, NULL, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v[0], EACCES); /* a binary under a read-only dir */
    assert_int_equal(r.v[1], EACCES); /* a system binary */
    assert_int_equal(r.v[2], EACCES); /* outside the policy */
}

static void test_exec_allowed_with_exec(void **state)
{
    (void)state;
    if (!kabi) {
        print_message("skipped: landlock unavailable on this kernel\n");
        skip();
    }
    pol x;
    pol_init(&x, true);
    pol_ro(&x, ro);
    x.p.exec = true;
    report r = run_child(&x.p, NULL, true, probe_exec, NULL, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v[0], 1000); /* ran, exit 0 */
    assert_int_equal(r.v[1], 1000);
    assert_int_equal(r.v[2], EACCES); /* still nothing outside */
}

/* The worker's case: no exec permission, but the worker binary is listed on
 * its own and the ELF interpreter lives in a library dir. */
static void test_exec_listed_file(void **state)
{
    (void)state;
    if (!kabi) {
        print_message("skipped: landlock unavailable on this kernel\n");
        skip();
    }
    char file[4200];
    snprintf(file, sizeof file, "%s/true", ro);
    pol x;
    pol_init(&x, true);
    pol_ro(&x, file);
    report r = run_child(&x.p, NULL, true, probe_exec, NULL, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v[0], 1000);   /* the listed file runs */
    assert_int_equal(r.v[1], EACCES); /* /bin is not a library dir */
}

/* ------------------------------------------------------------ network */

typedef struct net_arg {
    struct sockaddr_in in;
    struct sockaddr_un un;
    socklen_t un_len;
} net_arg;

static int try_connect_tcp(const struct sockaddr_in *a)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return errno;
    int e = connect(s, (const struct sockaddr *)a, sizeof *a) < 0 ? errno : 0;
    close(s);
    return e;
}

static int try_bind_tcp(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int e = bind(s, (struct sockaddr *)&a, sizeof a) < 0 ? errno : 0;
    close(s);
    return e;
}

static int try_connect_unix(const net_arg *n)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return errno;
    int e = connect(s, (const struct sockaddr *)&n->un, n->un_len) < 0 ? errno : 0;
    close(s);
    return e;
}

static void net_before(report *r, void *arg)
{
    net_arg *n = arg;
    r->v[10] = try_connect_tcp(&n->in);
    r->v[11] = try_connect_unix(n);
    r->v[12] = kill(getppid(), 0) < 0 ? errno : 0;
}

static void net_probe(report *r, void *arg)
{
    net_arg *n = arg;
    r->v[0] = try_connect_tcp(&n->in);
    r->v[1] = try_bind_tcp();
    r->v[2] = try_connect_unix(n);
    r->v[3] = kill(getppid(), 0) < 0 ? errno : 0;
    /* Scoping is outward only: the child's own children can be signalled. */
    pid_t c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    r->v[4] = c > 0 && kill(c, SIGKILL) < 0 ? errno : 0;
    if (c > 0)
        waitpid(c, NULL, 0);
}

/* Listening TCP and abstract unix sockets of the parent (the "host"). */
static void listeners(net_arg *n, int *tcp, int *un)
{
    memset(n, 0, sizeof *n);
    *tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(*tcp >= 0);
    n->in.sin_family = AF_INET;
    n->in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof n->in;
    assert_int_equal(bind(*tcp, (struct sockaddr *)&n->in, sizeof n->in), 0);
    assert_int_equal(getsockname(*tcp, (struct sockaddr *)&n->in, &len), 0);
    assert_int_equal(listen(*tcp, 8), 0);

    *un = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(*un >= 0);
    n->un.sun_family = AF_UNIX;
    int nl = snprintf(n->un.sun_path + 1, sizeof n->un.sun_path - 1, "venom-test-landlock-%d", (int)getpid());
    n->un_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)nl);
    assert_int_equal(bind(*un, (struct sockaddr *)&n->un, n->un_len), 0);
    assert_int_equal(listen(*un, 8), 0);
}

static void test_net_and_scope(void **state)
{
    (void)state;
    if (!kabi) {
        print_message("skipped: landlock unavailable on this kernel\n");
        skip();
    }
    net_arg n;
    int tcp, un;
    listeners(&n, &tcp, &un);
    pol x;
    pol_init(&x, false);
    report r = run_child(&x.p, NULL, true, net_probe, net_before, &n);
    close(tcp);
    close(un);
    assert_int_equal(r.rc, 0);
    /* Before landlock everything reaches the host. */
    assert_int_equal(r.v[10], 0);
    assert_int_equal(r.v[11], 0);
    assert_int_equal(r.v[12], 0);
    if (!skip_without(4, "denying TCP connect/bind")) {
        assert_int_equal(r.v[0], EACCES);
        assert_int_equal(r.v[1], EACCES);
    }
    if (!skip_without(6, "scoping abstract unix sockets and signals")) {
        assert_int_equal(r.v[2], EPERM);
        assert_int_equal(r.v[3], EPERM);
    }
    assert_int_equal(r.v[4], 0);
}

static void test_net_allowed(void **state)
{
    (void)state;
    if (!kabi) {
        print_message("skipped: landlock unavailable on this kernel\n");
        skip();
    }
    net_arg n;
    int tcp, un;
    listeners(&n, &tcp, &un);
    pol x;
    pol_init(&x, false);
    x.p.net = true;
    report r = run_child(&x.p, NULL, true, net_probe, NULL, &n);
    close(tcp);
    close(un);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v[0], 0); /* p->net: TCP untouched */
    assert_int_equal(r.v[1], 0);
    if (!skip_without(6, "scoping abstract unix sockets")) {
        assert_int_equal(r.v[2], EPERM); /* scoping applies even with net */
        assert_int_equal(r.v[3], EPERM);
    }
}

/* ------------------------------------------------------------ errors */

/* Drop the given capabilities from the effective set (root only). */
static void drop_eff(const cap_value_t *caps, int n)
{
    cap_t c = cap_get_proc();
    if (!c)
        return;
    cap_set_flag(c, CAP_EFFECTIVE, n, caps, CAP_CLEAR);
    cap_set_proc(c);
    cap_free(c);
}

static void no_sys_admin(report *r, void *arg)
{
    (void)r;
    (void)arg;
    cap_value_t v[] = {CAP_SYS_ADMIN};
    drop_eff(v, 1);
}

static void test_needs_nnp(void **state)
{
    (void)state;
    if (!kabi) {
        print_message("skipped: landlock unavailable on this kernel\n");
        skip();
    }
    pol x;
    pol_init(&x, false);
    pol_ro(&x, ro);
    report r = run_child(&x.p, NULL, false, NULL, no_sys_admin, NULL);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "no_new_privs"));
    assert_non_null(strstr(r.msg, "sbx_no_new_privs"));
}

static void no_dac(report *r, void *arg)
{
    (void)r;
    (void)arg;
    cap_value_t v[] = {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH};
    drop_eff(v, 2);
}

static void test_unreachable_path(void **state)
{
    (void)state;
    if (!kabi) {
        print_message("skipped: landlock unavailable on this kernel\n");
        skip();
    }
    char locked[4200], inner[4300];
    snprintf(locked, sizeof locked, "%s/locked", root);
    snprintf(inner, sizeof inner, "%s/inner", locked);
    assert_int_equal(mkdir(locked, 0700), 0);
    assert_int_equal(mkdir(inner, 0700), 0);
    assert_int_equal(chmod(locked, 0), 0);
    pol x;
    pol_init(&x, false);
    pol_ro(&x, inner);
    report r = run_child(&x.p, NULL, true, NULL, no_dac, NULL);
    chmod(locked, 0700);
    rmdir(inner);
    rmdir(locked);
    assert_int_equal(r.rc, -EACCES);
    assert_non_null(strstr(r.msg, inner));
    assert_non_null(strstr(r.msg, "Permission denied"));
}

static void test_null_policy(void **state)
{
    (void)state;
    char *err = NULL;
    int abi = -1;
    assert_int_equal(sbx_landlock_apply(NULL, NULL, &abi, &err), -EINVAL);
    assert_non_null(strstr(err, "no policy"));
    assert_int_equal(abi, -1);
    mem_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_exec_denied_without_exec),
        cmocka_unit_test(test_exec_allowed_with_exec),
        cmocka_unit_test(test_exec_listed_file),
        cmocka_unit_test(test_net_and_scope),
        cmocka_unit_test(test_net_allowed),
        cmocka_unit_test(test_needs_nnp),
        cmocka_unit_test(test_unreachable_path),
        cmocka_unit_test(test_null_policy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
