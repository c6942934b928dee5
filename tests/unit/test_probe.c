/* test_probe.c — the machine-capability probe (core/sandbox/probe.h):
 * each field is checked against an independent look at the same fact. */
#include "testsupport.h"
#include "util/common.h"
#include "sandbox/probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <curl/curl.h>
#include <jansson.h>
#include <seccomp.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/capability.h>
#include <yaml.h>

static probe_report rep; /* one real probe shared by the tests */

static int setup(void **state)
{
    (void)state;
    return probe_run(&rep);
}

static size_t count_fds(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Run `flags` unshare in a child (after a user ns when with_user); 0 = ok. */
static int child_unshare(bool with_user, int flags)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (with_user && unshare(CLONE_NEWUSER) < 0)
            _exit(2);
        _exit(flags && unshare(flags) < 0 ? 1 : 0);
    }
    int st = 0;
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static void test_kernel_and_arch_match_uname(void **state)
{
    (void)state;
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    assert_string_equal(rep.kernel, u.release);
    assert_string_equal(rep.arch, u.machine);
    assert_int_equal(rep.is_root, geteuid() == 0);
}

static void test_null_arguments(void **state)
{
    (void)state;
    assert_int_equal(probe_run(NULL), -EINVAL);
    assert_int_equal(strncmp(probe_summary(NULL), "none:", 5), 0);
    assert_int_equal(probe_sandbox_level(NULL), PROBE_NONE);
    assert_int_equal(probe_libs(NULL, 5), 0);
}

static void test_landlock_matches_syscall(void **state)
{
    (void)state;
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U /* LANDLOCK_CREATE_RULESET_VERSION */);
    if (v > 0) {
        assert_int_equal(rep.landlock_abi, v);
        assert_string_equal(rep.landlock_reason, "");
    } else {
        assert_int_equal(rep.landlock_abi, 0);
        assert_true(strlen(rep.landlock_reason) > 10);
    }
}

static void test_userns_matches_direct_unshare(void **state)
{
    (void)state;
    int direct = child_unshare(true, 0);
    if (direct != 0) {
        assert_int_equal(rep.userns, 0);
        assert_true(strlen(rep.userns_reason) > 10);
    } else if (rep.userns == 0) {
        /* created but useless (AppArmor restriction): the reason says so */
        assert_non_null(strstr(rep.userns_reason, "capabilities"));
    } else {
        assert_int_equal(rep.userns, 1);
        assert_string_equal(rep.userns_reason, "");
    }
    if (!rep.is_root && rep.userns != 1) {
        assert_true(rep.ns_need_userns);
        assert_false(rep.mountns);
        assert_true(strlen(rep.ns_reason) > 0);
    }
}

static void test_namespaces_match_direct_unshare(void **state)
{
    (void)state;
    const struct {
        bool got;
        int flag;
    } ns[] = {{rep.mountns, CLONE_NEWNS}, {rep.pidns, CLONE_NEWPID}, {rep.netns, CLONE_NEWNET},
              {rep.ipcns, CLONE_NEWIPC},  {rep.utsns, CLONE_NEWUTS}, {rep.cgroupns, CLONE_NEWCGROUP}};
    bool all = true;
    for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
        all = all && ns[i].got;
        if (ns[i].got)
            assert_int_equal(child_unshare(rep.ns_need_userns, ns[i].flag), 0);
        else if (rep.is_root && !rep.ns_need_userns)
            assert_int_not_equal(child_unshare(false, ns[i].flag), 0);
    }
    if (all)
        assert_string_equal(rep.ns_reason, "");
    else
        assert_non_null(strstr(rep.ns_reason, "namespace"));
    if (!rep.is_root)
        assert_true(rep.ns_need_userns);
}

static void test_seccomp_and_syscalls(void **state)
{
    (void)state;
    int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    if (mode == 2) /* already filtered: filter mode obviously exists */
        assert_true(rep.seccomp);
    if (rep.seccomp)
        assert_string_equal(rep.seccomp_reason, "");
    else
        assert_true(strlen(rep.seccomp_reason) > 10);
    const struct scmp_version *v = seccomp_version();
    char want[32];
    snprintf(want, sizeof want, "%u.%u.%u", v->major, v->minor, v->micro);
    assert_string_equal(rep.seccomp_lib, want);

    long fd = syscall(SYS_pidfd_open, (long)getpid(), 0L);
    assert_int_equal(rep.pidfd, fd >= 0);
    if (fd >= 0)
        close((int)fd);

    /* no_new_privs must not have leaked into this process */
    assert_int_equal(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
    if (strncmp(rep.kernel, "2.", 2) != 0 && strncmp(rep.kernel, "3.", 2) != 0)
        assert_true(rep.no_new_privs);
}

static void test_cgroup_consistent_and_nothing_left_behind(void **state)
{
    (void)state;
    char *cg = ts_read("/proc/self/cgroup");
    assert_non_null(cg);
    bool v1mem = strstr(cg, "memory:") != NULL;
    bool v2 = strncmp(cg, "0::", 3) == 0 || strstr(cg, "\n0::") != NULL;
    free(cg);
    if (rep.cgroup_version == 1)
        assert_true(v1mem);
    else if (rep.cgroup_version == 2)
        assert_true(v2);
    else
        assert_true(strlen(rep.cgroup_reason) > 0);

    if (rep.cgroup_path[0]) {
        struct stat st;
        assert_int_equal(stat(rep.cgroup_path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        DIR *d = opendir(rep.cgroup_path);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d)))
            assert_null(strstr(e->d_name, "venom-probe-"));
        closedir(d);
        /* writable means a child cgroup can really be created here */
        char p[512];
        snprintf(p, sizeof p, "%s/venom-test-probe-%ld", rep.cgroup_path, (long)getpid());
        bool made = mkdir(p, 0755) == 0;
        if (made)
            rmdir(p);
        assert_int_equal(made, rep.cgroup_writable);
    }
    if (!rep.cgroup_writable)
        assert_true(strlen(rep.cgroup_reason) > 0);
}

static void test_probe_leaves_no_children_or_fds(void **state)
{
    (void)state;
    size_t before = count_fds();
    probe_report r2;
    assert_int_equal(probe_run(&r2), 0);
    assert_int_equal(count_fds(), before);
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    /* and a second run sees the same machine */
    assert_int_equal(r2.userns, rep.userns);
    assert_int_equal(r2.landlock_abi, rep.landlock_abi);
    assert_int_equal(r2.mountns, rep.mountns);
    assert_int_equal(r2.cgroup_writable, rep.cgroup_writable);
}

static const char *lib_version(const probe_lib *libs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(libs[i].name, name) == 0)
            return libs[i].version;
    fail_msg("library %s missing from probe_libs", name);
    return NULL;
}

static void test_libs_match_headers(void **state)
{
    (void)state;
    probe_lib libs[PROBE_MAX_LIBS + 2];
    size_t n = probe_libs(libs, ARRAY_SIZE(libs));
    assert_int_equal(n, PROBE_MAX_LIBS);
    char want[64];

    assert_string_equal(lib_version(libs, n, "curl"), curl_version_info(CURLVERSION_NOW)->version);
    assert_string_equal(lib_version(libs, n, "jansson"), JANSSON_VERSION);
    assert_string_equal(lib_version(libs, n, "sqlite3"), sqlite3_libversion());
    snprintf(want, sizeof want, "%d.%d.%d", SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO);
    assert_string_equal(lib_version(libs, n, "libseccomp"), want);
    snprintf(want, sizeof want, "%d.%d", LIBCAP_MAJOR, LIBCAP_MINOR);
    assert_string_equal(lib_version(libs, n, "libcap"), want);
    assert_string_equal(lib_version(libs, n, "libarchive"), ARCHIVE_VERSION_ONLY_STRING);
    assert_string_equal(lib_version(libs, n, "libsodium"), SODIUM_VERSION_STRING);
    int ma = 0, mi = 0, pa = 0;
    yaml_get_version(&ma, &mi, &pa);
    snprintf(want, sizeof want, "%d.%d.%d", ma, mi, pa);
    assert_string_equal(lib_version(libs, n, "libyaml"), want);
    const char *ffi = lib_version(libs, n, "libffi");
    assert_true(strcmp(ffi, "present") == 0 || (ffi[0] >= '0' && ffi[0] <= '9'));

    /* a short array gets the first entries only */
    probe_lib two[2];
    assert_int_equal(probe_libs(two, 2), 2);
    assert_string_equal(two[0].name, libs[0].name);
    assert_string_equal(two[1].version, libs[1].version);
}

static void test_summary_matches_real_report(void **state)
{
    (void)state;
    const char *s = probe_summary(&rep);
    probe_level l = probe_sandbox_level(&rep);
    const char *prefix = l == PROBE_FULL ? "full:" : l == PROBE_DEGRADED ? "degraded:" : "none:";
    assert_int_equal(strncmp(s, prefix, strlen(prefix)), 0);
    bool ns = (rep.is_root || rep.userns == 1) && rep.mountns && rep.pidns && rep.netns && rep.ipcns &&
              rep.utsns && rep.cgroupns;
    if (l == PROBE_FULL) {
        assert_true(ns && rep.landlock_abi > 0 && rep.seccomp);
    }
    if (l != PROBE_NONE && !ns)
        assert_non_null(strstr(s, "landlock + seccomp"));
    if (!rep.seccomp)
        assert_int_equal(l, PROBE_NONE);
}

static probe_report fake_full(void)
{
    probe_report r = {.userns = 1, .mountns = true, .pidns = true, .netns = true, .ipcns = true,
                      .utsns = true, .cgroupns = true, .landlock_abi = 3, .seccomp = true,
                      .no_new_privs = true};
    return r;
}

static void test_summary_branches(void **state)
{
    (void)state;
    probe_report r = fake_full();
    assert_string_equal(probe_summary(&r), "full: namespaces + landlock + seccomp + limits");
    assert_int_equal(probe_sandbox_level(&r), PROBE_FULL);

    r = fake_full();
    r.userns = 0;
    assert_int_equal(probe_sandbox_level(&r), PROBE_DEGRADED);
    assert_string_equal(probe_summary(&r), "degraded: no user namespaces — landlock + seccomp + limits only");
    r.is_root = true; /* root needs no user ns: namespaces are back */
    assert_int_equal(probe_sandbox_level(&r), PROBE_FULL);

    r = fake_full();
    r.netns = false;
    assert_int_equal(probe_sandbox_level(&r), PROBE_DEGRADED);
    assert_non_null(strstr(probe_summary(&r), "namespaces unavailable"));

    r = fake_full();
    r.landlock_abi = 0;
    assert_int_equal(probe_sandbox_level(&r), PROBE_DEGRADED);
    assert_string_equal(probe_summary(&r), "degraded: no landlock — namespaces + seccomp + limits only");

    r = fake_full();
    r.landlock_abi = 0;
    r.userns = 0;
    assert_int_equal(probe_sandbox_level(&r), PROBE_NONE);
    assert_non_null(strstr(probe_summary(&r), "neither namespaces nor landlock"));

    r = fake_full();
    r.seccomp = false;
    assert_int_equal(probe_sandbox_level(&r), PROBE_NONE);
    assert_non_null(strstr(probe_summary(&r), "no seccomp"));

    r = fake_full();
    r.no_new_privs = false; /* unprivileged seccomp needs no_new_privs */
    assert_int_equal(probe_sandbox_level(&r), PROBE_NONE);
    assert_non_null(strstr(probe_summary(&r), "no_new_privs"));
    r.is_root = true;
    assert_int_equal(probe_sandbox_level(&r), PROBE_FULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_and_arch_match_uname),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_landlock_matches_syscall),
        cmocka_unit_test(test_userns_matches_direct_unshare),
        cmocka_unit_test(test_namespaces_match_direct_unshare),
        cmocka_unit_test(test_seccomp_and_syscalls),
        cmocka_unit_test(test_cgroup_consistent_and_nothing_left_behind),
        cmocka_unit_test(test_probe_leaves_no_children_or_fds),
        cmocka_unit_test(test_libs_match_headers),
        cmocka_unit_test(test_summary_matches_real_report),
        cmocka_unit_test(test_summary_branches),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
