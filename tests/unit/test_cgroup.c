/*
 * Per-worker cgroups (core/sandbox/cgroup): real limits on real children.
 * As root on a v1 machine the v1 path is exercised; a v2 delegated subtree
 * only where the machine has one. Unprivileged without delegation: -ENOTSUP.
 */
#include "testsupport.h"
#include "util/common.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "sandbox/policy.h"
#include "sandbox/probe.h"

static sandbox_policy policy(uint64_t mem, uint32_t procs)
{
    return (sandbox_policy){.memory_bytes = mem, .processes = procs};
}

/* Create a cgroup, or skip (saying why) where this user cannot have one. */
static sbx_cgroup *new_or_skip(const sandbox_policy *p)
{
    sbx_cgroup *c = NULL;
    char *err = NULL;
    int rc = sbx_cgroup_new(p, &c, &err);
    if (rc == -ENOTSUP && geteuid() != 0) {
        print_message("skipped: no writable cgroup for uid %u: %s\n", (unsigned)geteuid(), err);
        mem_free(err);
        skip();
    }
    if (rc)
        fail_msg("sbx_cgroup_new: %d %s", rc, err ? err : "");
    assert_null(err);
    assert_non_null(c);
    return c;
}

/* Fork a child that waits for a byte on a pipe, then runs fn. */
typedef struct kid {
    pid_t pid;
    int go;   /* write end: start */
    int back; /* read end: what the child reports */
} kid;

static kid spawn(void (*fn)(int out))
{
    int a[2], b[2];
    assert_int_equal(pipe2(a, O_CLOEXEC), 0);
    assert_int_equal(pipe2(b, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        close(a[1]);
        close(b[0]);
        if (read(a[0], &c, 1) != 1)
            _exit(2);
        fn(b[1]);
        _exit(0);
    }
    close(a[0]);
    close(b[1]);
    return (kid){.pid = pid, .go = a[1], .back = b[0]};
}

static void start(kid *k)
{
    assert_int_equal(write(k->go, "x", 1), 1);
    close(k->go);
}

static int reap(kid *k)
{
    int st = 0;
    assert_int_equal(waitpid(k->pid, &st, 0), k->pid);
    close(k->back);
    return st;
}

static bool gone(const char *dir)
{
    struct stat st;
    return stat(dir, &st) < 0 && errno == ENOENT;
}

/* ---------------------------------------------------------------- cases */

static void test_bad_args(void **state)
{
    (void)state;
    sbx_cgroup *c = (sbx_cgroup *)1;
    char *err = NULL;
    assert_int_equal(sbx_cgroup_new(NULL, &c, &err), -EINVAL);
    assert_null(c);
    assert_non_null(strstr(err, "no policy"));
    mem_free(err);
    err = NULL;
    sandbox_policy p = policy(0, 0);
    assert_int_equal(sbx_cgroup_new(&p, NULL, &err), -EINVAL);
    assert_non_null(strstr(err, "out is NULL"));
    mem_free(err);
    err = NULL;
    assert_int_equal(sbx_cgroup_add(NULL, 1, &err), -EINVAL);
    assert_non_null(strstr(err, "bad pid"));
    mem_free(err);
    assert_int_equal(sbx_cgroup_kill(NULL), -EINVAL);
    assert_false(sbx_cgroup_oom(NULL));
    assert_null(sbx_cgroup_dir(NULL));
    sbx_cgroup_free(NULL);
}

static void test_version_matches_machine(void **state)
{
    (void)state;
    probe_report r;
    assert_int_equal(probe_run(&r), 0);
    sandbox_policy p = policy(0, 0);
    sbx_cgroup *c = new_or_skip(&p);
    char *dir = mem_strdup(sbx_cgroup_dir(c));
    const char *name = strrchr(dir, '/');
    char want[64];
    snprintf(want, sizeof want, "/venom-%ld-", (long)getpid());
    assert_non_null(name);
    assert_memory_equal(name, want, strlen(want));
    char lim[64] = "";
    char *path = mem_printf("%s/%s", dir, sbx_cgroup_version(c) == 2 ? "memory.max" : "memory.limit_in_bytes");
    char *text = ts_read(path);
    assert_non_null(text);
    snprintf(lim, sizeof lim, "%llu\n", (unsigned long long)SANDBOX_DEFAULT_MEMORY); /* 0 = the default */
    assert_string_equal(text, lim);
    free(text);
    mem_free(path);
    if (r.cgroup_version == 1)
        assert_int_equal(sbx_cgroup_version(c), 1);
    int v = sbx_cgroup_version(c);
    sbx_cgroup_free(c);
    assert_true(gone(dir));
    mem_free(dir);
    print_message("cgroup v%d used here; the v%d path is not available on this machine (%s)\n", v, v == 1 ? 2 : 1,
                  v == 1 ? "no delegated v2 subtree with memory+pids" : "v1 hierarchies absent or not writable");
}

static void eat_memory(int out)
{
    size_t n = 100u << 20;
    char *p = malloc(n);
    if (p)
        for (size_t i = 0; i < n; i += 4096)
            p[i] = 1;
    (void)!write(out, "survived", 8);
    free(p);
}

static void test_memory_limit_oom(void **state)
{
    (void)state;
    sandbox_policy p = policy(32u << 20, 0);
    sbx_cgroup *c = new_or_skip(&p);
    char *dir = mem_strdup(sbx_cgroup_dir(c));
    assert_false(sbx_cgroup_oom(c));
    kid k = spawn(eat_memory);
    char *err = NULL;
    assert_int_equal(sbx_cgroup_add(c, k.pid, &err), 0);
    start(&k);
    int st = reap(&k);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    assert_true(sbx_cgroup_oom(c));
    sbx_cgroup_free(c);
    assert_true(gone(dir));
    mem_free(dir);
}

static void fork_loop(int out)
{
    int made = 0, e = 0;
    for (int i = 0; i < 64; i++) {
        pid_t c = fork();
        if (c == 0) {
            pause();
            _exit(0);
        }
        if (c < 0) {
            e = errno;
            break;
        }
        made++;
    }
    int r[2] = {made, e};
    (void)!write(out, r, sizeof r);
    pause(); /* until the cgroup is killed */
}

static void test_pids_limit_and_kill(void **state)
{
    (void)state;
    sandbox_policy p = policy(0, 8);
    sbx_cgroup *c = new_or_skip(&p);
    char *dir = mem_strdup(sbx_cgroup_dir(c));
    kid k = spawn(fork_loop);
    char *err = NULL;
    assert_int_equal(sbx_cgroup_add(c, k.pid, &err), 0);
    start(&k);
    int r[2] = {-1, -1};
    assert_int_equal(read(k.back, r, sizeof r), (ssize_t)sizeof r);
    assert_int_equal(r[0], 7); /* 8 processes: the child and 7 forks */
    assert_int_equal(r[1], EAGAIN);
    assert_int_equal(sbx_cgroup_kill(c), 0);
    int st = reap(&k);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    assert_false(sbx_cgroup_oom(c));
    sbx_cgroup_free(c); /* waits until the 7 orphans are gone, removes the dirs */
    assert_true(gone(dir));
    mem_free(dir);
}

static void test_add_bad_pid(void **state)
{
    (void)state;
    sandbox_policy p = policy(0, 0);
    sbx_cgroup *c = new_or_skip(&p);
    char *err = NULL;
    int rc = sbx_cgroup_add(c, 0x3ffffff0, &err); /* no such process */
    assert_int_equal(rc, -ESRCH);
    assert_non_null(strstr(err, "cannot move pid 1073741808 into"));
    mem_free(err);
    sbx_cgroup_free(c);
}

static void test_unprivileged_not_supported(void **state)
{
    (void)state;
    if (geteuid() == 0)
        skip(); /* root may write cgroups: covered by the cases above */
    sandbox_policy p = policy(0, 0);
    sbx_cgroup *c = NULL;
    char *err = NULL;
    int rc = sbx_cgroup_new(&p, &c, &err);
    if (rc == 0) { /* a delegated v2 subtree: only v2 can be delegated */
        assert_int_equal(sbx_cgroup_version(c), 2);
        sbx_cgroup_free(c);
        return;
    }
    assert_int_equal(rc, -ENOTSUP);
    assert_null(c);
    assert_non_null(strstr(err, "rlimits"));
    mem_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_version_matches_machine),
        cmocka_unit_test(test_memory_limit_oom),
        cmocka_unit_test(test_pids_limit_and_kill),
        cmocka_unit_test(test_add_bad_pid),
        cmocka_unit_test(test_unprivileged_not_supported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
