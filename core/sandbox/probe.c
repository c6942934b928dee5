#include "util/common.h"
#include "sandbox/probe.h"
#include "sandbox/cgroup.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <yaml.h>

#if __has_include(<linux/landlock.h>)
#include <linux/landlock.h>
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define PROBE_HAVE_OPEN_HOW 1
#endif

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/* ---------------------------------------------------------------- helpers */

/* Copy src into dst[n], truncating; dst is always NUL-terminated. */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; i + 1 < n && src[i]; i++)
        dst[i] = src[i];
    dst[i] = '\0';
}

/* Read the first line of a small file (e.g. a sysctl) into out; -1 if absent. */
static int read_line(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int rc = fgets(out, (int)n, f) ? 0 : -1;
    fclose(f);
    if (rc == 0)
        out[strcspn(out, "\n")] = '\0';
    return rc;
}

/* 1 if the sysctl file holds exactly `value`, 0 otherwise (or if absent). */
static int sysctl_is(const char *path, const char *value)
{
    char line[64];
    return read_line(path, line, sizeof line) == 0 && strcmp(line, value) == 0;
}

/* Async-signal-safe write of a whole string to a file (used in children). */
static int write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(s);
    ssize_t w = write(fd, s, len);
    int e = errno;
    close(fd);
    return w == (ssize_t)len ? 0 : -(w < 0 ? e : EIO);
}

/*
 * Run fn(arg, out) in a forked child that sends `n` bytes of out back over a
 * pipe and exits. Returns 0 when all bytes arrived, else a negative errno.
 * The child only makes system calls (safe after fork in a threaded process).
 */
static int in_child(void (*fn)(const void *arg, void *out), const void *arg, void *out, size_t n)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return -e;
    }
    if (pid == 0) {
        close(p[0]);
        fn(arg, out);
        const char *c = out;
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(p[1], c + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(p[1]);
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(p[0], (char *)out + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return got == n ? 0 : -ECHILD;
}

/* ------------------------------------------------------------- namespaces */

static const struct {
    int flag;
    const char *name;
} ns_types[] = {
    {CLONE_NEWNS, "mount"}, {CLONE_NEWPID, "pid"}, {CLONE_NEWNET, "net"},
    {CLONE_NEWIPC, "ipc"},  {CLONE_NEWUTS, "uts"}, {CLONE_NEWCGROUP, "cgroup"},
};
#define NS_COUNT 6
enum { NS_MOUNT = 0 };

typedef struct ns_arg {
    bool with_user;
    char uid_map[64];
    char gid_map[64];
} ns_arg;

typedef struct ns_result {
    int user_err;           /* errno of unshare(CLONE_NEWUSER), 0 = ok */
    int map_err;            /* errno writing the id maps */
    int err[NS_COUNT];      /* errno of unshare(each type), 0 = ok */
} ns_result;

static void ns_child(const void *varg, void *vout)
{
    const ns_arg *a = varg;
    ns_result *r = vout;
    memset(r, 0, sizeof *r);
    if (a->with_user) {
        if (unshare(CLONE_NEWUSER) < 0) {
            r->user_err = errno;
            for (int i = 0; i < NS_COUNT; i++)
                r->err[i] = errno;
            return;
        }
        int e = write_file("/proc/self/setgroups", "deny");
        if (e == -ENOENT) /* before Linux 3.19 */
            e = 0;
        if (!e)
            e = write_file("/proc/self/uid_map", a->uid_map);
        if (!e)
            e = write_file("/proc/self/gid_map", a->gid_map);
        r->map_err = -e;
    }
    for (int i = 0; i < NS_COUNT; i++)
        r->err[i] = unshare(ns_types[i].flag) < 0 ? errno : 0;
}

static int ns_test(bool with_user, ns_result *r)
{
    ns_arg a = {.with_user = with_user};
    snprintf(a.uid_map, sizeof a.uid_map, "%u %u 1\n", (unsigned)geteuid(), (unsigned)geteuid());
    snprintf(a.gid_map, sizeof a.gid_map, "%u %u 1\n", (unsigned)getegid(), (unsigned)getegid());
    return in_child(ns_child, &a, r, sizeof *r);
}

static bool ns_all_ok(const ns_result *r)
{
    for (int i = 0; i < NS_COUNT; i++)
        if (r->err[i])
            return false;
    return true;
}

static void userns_why(probe_report *r, int e)
{
    const char *why = NULL;
    if (sysctl_is("/proc/sys/kernel/unprivileged_userns_clone", "0") && !r->is_root)
        why = "kernel.unprivileged_userns_clone=0 (sysctl -w kernel.unprivileged_userns_clone=1 to allow)";
    else if (sysctl_is("/proc/sys/user/max_user_namespaces", "0"))
        why = "user.max_user_namespaces=0 (sysctl -w user.max_user_namespaces=15000 to allow)";
    else if (e == ENOSPC)
        why = "the user namespace limit is reached (user.max_user_namespaces)";
    else if (e == EINVAL)
        why = "the kernel is built without CONFIG_USER_NS";
    else if (e == EPERM)
        why = "unshare(CLONE_NEWUSER) is not permitted (blocked by a seccomp profile or container runtime?)";
    if (why)
        snprintf(r->userns_reason, sizeof r->userns_reason, "%s", why);
    else
        snprintf(r->userns_reason, sizeof r->userns_reason, "unshare(CLONE_NEWUSER): %s", strerror(e));
}

static void set_ns(probe_report *r, const ns_result *n, bool need_userns)
{
    bool *dst[NS_COUNT] = {&r->mountns, &r->pidns, &r->netns, &r->ipcns, &r->utsns, &r->cgroupns};
    r->ns_reason[0] = '\0';
    for (int i = 0; i < NS_COUNT; i++) {
        *dst[i] = n->err[i] == 0;
        if (n->err[i] && !r->ns_reason[0])
            snprintf(r->ns_reason, sizeof r->ns_reason, "cannot unshare the %s namespace%s: %s",
                     ns_types[i].name, need_userns ? " in a user namespace" : "", strerror(n->err[i]));
    }
    r->ns_need_userns = need_userns;
}

static void probe_namespaces(probe_report *r)
{
    ns_result u = {0};
    int rc = ns_test(true, &u);
    if (rc < 0) {
        r->userns = 0;
        snprintf(r->userns_reason, sizeof r->userns_reason, "could not run the probe child: %s", strerror(-rc));
    } else if (u.user_err) {
        r->userns = 0;
        userns_why(r, u.user_err);
    } else if (u.map_err) {
        r->userns = 0;
        snprintf(r->userns_reason, sizeof r->userns_reason,
                 "a user namespace was created but its uid/gid maps could not be written: %s", strerror(u.map_err));
    } else if (u.err[NS_MOUNT] == EPERM || u.err[NS_MOUNT] == EACCES) {
        r->userns = 0;
        if (sysctl_is("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"))
            snprintf(r->userns_reason, sizeof r->userns_reason,
                     "apparmor_restrict_unprivileged_userns=1: user namespaces get no capabilities "
                     "(sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile)");
        else
            snprintf(r->userns_reason, sizeof r->userns_reason,
                     "a user namespace was created but grants no capabilities (an LSM denies them)");
    } else {
        r->userns = 1;
    }

    if (r->is_root) {
        ns_result d = {0};
        rc = ns_test(false, &d);
        if (rc == 0 && (ns_all_ok(&d) || !r->userns)) {
            set_ns(r, &d, false);
            return;
        }
        if (rc < 0 && !r->userns) {
            snprintf(r->ns_reason, sizeof r->ns_reason, "could not run the probe child: %s", strerror(-rc));
            return;
        }
        /* root without CAP_SYS_ADMIN (e.g. in a container): a user ns helps */
    }
    if (r->userns) {
        set_ns(r, &u, true);
        return;
    }
    r->ns_need_userns = true;
    snprintf(r->ns_reason, sizeof r->ns_reason, "no user namespace to own them");
}

/* ---------------------------------------------------------------- landlock */

static void probe_landlock(probe_report *r)
{
#ifdef SYS_landlock_create_ruleset
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (v > 0) {
        r->landlock_abi = (int)v;
        return;
    }
    int e = errno;
    r->landlock_abi = 0;
    if (e == ENOSYS)
        snprintf(r->landlock_reason, sizeof r->landlock_reason,
                 "the kernel has no landlock (needs Linux 5.13+ with CONFIG_SECURITY_LANDLOCK)");
    else if (e == EOPNOTSUPP)
        snprintf(r->landlock_reason, sizeof r->landlock_reason,
                 "landlock is built in but disabled: add 'landlock' to the lsm= kernel boot parameter");
    else
        snprintf(r->landlock_reason, sizeof r->landlock_reason, "landlock_create_ruleset: %s", strerror(e));
#else
    r->landlock_abi = 0;
    snprintf(r->landlock_reason, sizeof r->landlock_reason, "built without the landlock system call number");
#endif
}

/* ----------------------------------------------------------------- seccomp */

static void probe_seccomp(probe_report *r)
{
    const struct scmp_version *v = seccomp_version();
    if (v)
        snprintf(r->seccomp_lib, sizeof r->seccomp_lib, "%u.%u.%u", v->major, v->minor, v->micro);

    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
        snprintf(r->seccomp_reason, sizeof r->seccomp_reason, "the kernel is built without CONFIG_SECCOMP");
        return;
    }
#ifdef SYS_seccomp
    uint32_t action = SECCOMP_RET_ERRNO;
    if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0) {
        r->seccomp = true;
        return;
    }
#endif
    /* Before Linux 4.14: a NULL filter program is rejected with EFAULT when
     * filter mode exists and EINVAL when it does not (nothing is installed). */
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL, 0, 0) < 0 && errno == EFAULT) {
        r->seccomp = true;
        return;
    }
    snprintf(r->seccomp_reason, sizeof r->seccomp_reason,
             "seccomp filter mode is unavailable (kernel without CONFIG_SECCOMP_FILTER?)");
}

/* ------------------------------------------------------------------ cgroups */

static void probe_cgroup(probe_report *r)
{
    sbx_cgroup_dirs d;
    sbx_cgroup_locate(&d);
    /* the v1 memory hierarchy where there is one, else v2 */
    const char *dir = d.v1_memory[0] ? d.v1_memory : d.v2;
    r->cgroup_version = d.v1_memory[0] ? 1 : d.v2[0] ? 2 : 0;
    if (!r->cgroup_version) {
        snprintf(r->cgroup_reason, sizeof r->cgroup_reason,
                 "no cgroup of ours is visible (no cgroup file system mounted, or ours is outside its root)");
        return;
    }
    struct stat st;
    if (snprintf(r->cgroup_path, sizeof r->cgroup_path, "%s", dir) >= (int)sizeof r->cgroup_path ||
        stat(r->cgroup_path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(r->cgroup_reason, sizeof r->cgroup_reason, "our cgroup %.120s is not a visible directory", dir);
        r->cgroup_path[0] = '\0';
        return;
    }

    char probe[sizeof r->cgroup_path + 64];
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(probe, sizeof probe, "%s/venom-probe-%ld-%ld", r->cgroup_path, (long)getpid(), (long)ts.tv_nsec);
    if (mkdir(probe, 0755) == 0) {
        r->cgroup_writable = rmdir(probe) == 0;
        if (!r->cgroup_writable)
            snprintf(r->cgroup_reason, sizeof r->cgroup_reason, "could not remove the test cgroup %.100s: %s",
                     probe, strerror(errno));
        return;
    }
    int e = errno;
    if (e == EACCES || e == EPERM)
        snprintf(r->cgroup_reason, sizeof r->cgroup_reason,
                 "cgroup not delegated to uid %u (run under 'systemd-run --user -p Delegate=yes' or as root)",
                 (unsigned)geteuid());
    else if (e == EROFS)
        snprintf(r->cgroup_reason, sizeof r->cgroup_reason, "the cgroup file system is mounted read-only");
    else
        snprintf(r->cgroup_reason, sizeof r->cgroup_reason, "cannot create a child cgroup: %s", strerror(e));
}

/* -------------------------------------------------------- small syscalls */

static void nnp_child(const void *arg, void *out)
{
    (void)arg;
    int ok = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
    memcpy(out, &ok, sizeof ok);
}

static void probe_syscalls(probe_report *r)
{
    int ok = 0;
    r->no_new_privs = in_child(nnp_child, NULL, &ok, sizeof ok) == 0 && ok;

#ifdef SYS_openat2
#ifdef PROBE_HAVE_OPEN_HOW
    struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
#else
    struct { uint64_t flags, mode, resolve; } how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC};
#endif
    long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    r->openat2 = fd >= 0;
    if (fd >= 0)
        close((int)fd);
#endif
#ifdef SYS_pidfd_open
    long pfd = syscall(SYS_pidfd_open, (long)getpid(), 0L);
    r->pidfd = pfd >= 0;
    if (pfd >= 0)
        close((int)pfd);
#endif
#ifdef SYS_close_range
    /* An empty range at the very top: closes nothing. */
    r->close_range = syscall(SYS_close_range, ~0U, ~0U, 0U) == 0;
#endif
}

/* -------------------------------------------------------------- public API */

int probe_run(probe_report *r)
{
    if (!r)
        return -EINVAL;
    memset(r, 0, sizeof *r);
    struct utsname u;
    if (uname(&u) == 0) {
        copy_str(r->kernel, sizeof r->kernel, u.release);
        copy_str(r->arch, sizeof r->arch, u.machine);
    }
    r->is_root = geteuid() == 0;
    probe_namespaces(r);
    probe_landlock(r);
    probe_seccomp(r);
    probe_cgroup(r);
    probe_syscalls(r);
    return 0;
}

static void set_version(probe_lib *l, const char *name, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void set_version(probe_lib *l, const char *name, const char *fmt, ...)
{
    l->name = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->version, sizeof l->version, fmt, ap);
    va_end(ap);
}

/* Version of a shared library found by soname: fn() returns a string,
 * optionally starting with prefix (dropped), the version up to a space. */
static void lib_version(probe_lib *l, const char *name, const char *soname, const char *fn, const char *prefix)
{
    l->name = name;
    snprintf(l->version, sizeof l->version, "not found (%s)", soname);
    /* Never unloaded: some of these allocate in constructors and keep it in
     * globals, which must stay reachable (and unloading them is not cheap). */
    void *h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
    if (!h)
        return;
    const char *(*get)(void) = NULL;
    void *sym = dlsym(h, fn);
    if (sym)
        memcpy(&get, &sym, sizeof get);
    const char *v = get ? get() : NULL;
    if (v && prefix && !strncmp(v, prefix, strlen(prefix)))
        v += strlen(prefix);
    if (v)
        snprintf(l->version, sizeof l->version, "%.*s", (int)strcspn(v, " "), v);
    else
        snprintf(l->version, sizeof l->version, "present");
}

size_t probe_libs(probe_lib *out, size_t max)
{
    probe_lib all[PROBE_MAX_LIBS];
    size_t n = 0;

    /* Libraries the CLI does not link until a feature needs them (start-up
     * cost: libcurl alone pulls in ~30 objects) are asked through dlopen. */
    lib_version(&all[n++], "curl", "libcurl.so.4", "curl_version", "libcurl/");
#if JANSSON_VERSION_HEX >= 0x020d00
    set_version(&all[n++], "jansson", "%s", jansson_version_str());
#else
    set_version(&all[n++], "jansson", "%s", JANSSON_VERSION);
#endif
    lib_version(&all[n++], "sqlite3", "libsqlite3.so.0", "sqlite3_libversion", NULL);

    /* libffi >= 3.4.5 has ffi_get_version(); older ones cannot tell. */
    const char *(*ffi_ver)(void) = NULL;
    void *sym = dlsym(RTLD_DEFAULT, "ffi_get_version");
    if (sym)
        memcpy(&ffi_ver, &sym, sizeof ffi_ver);
    const char *fv = ffi_ver ? ffi_ver() : NULL;
    set_version(&all[n++], "libffi", "%s", fv && *fv ? fv : "present");

    const struct scmp_version *sv = seccomp_version();
    if (sv)
        set_version(&all[n++], "libseccomp", "%u.%u.%u", sv->major, sv->minor, sv->micro);
    else
        set_version(&all[n++], "libseccomp", "present");
#if defined(LIBCAP_MAJOR) && defined(LIBCAP_MINOR)
    set_version(&all[n++], "libcap", "%d.%d", LIBCAP_MAJOR, LIBCAP_MINOR);
#else
    set_version(&all[n++], "libcap", "present");
#endif
    lib_version(&all[n++], "libarchive", "libarchive.so.13", "archive_version_string", "libarchive ");
    lib_version(&all[n++], "libsodium", "libsodium.so.23", "sodium_version_string", NULL);
    set_version(&all[n++], "libyaml", "%s", yaml_get_version_string());

    if (!out)
        return 0;
    size_t k = n < max ? n : max;
    memcpy(out, all, k * sizeof *out);
    return k;
}

static bool have_namespaces(const probe_report *r)
{
    return (r->is_root || r->userns == 1) && r->mountns && r->pidns && r->netns && r->ipcns && r->utsns &&
           r->cgroupns;
}

static bool have_seccomp(const probe_report *r)
{
    return r->seccomp && (r->no_new_privs || r->is_root);
}

probe_level probe_sandbox_level(const probe_report *r)
{
    if (!r)
        return PROBE_NONE;
    bool ns = have_namespaces(r), ll = r->landlock_abi > 0;
    if (!have_seccomp(r) || !(ns || ll))
        return PROBE_NONE;
    return ns && ll ? PROBE_FULL : PROBE_DEGRADED;
}

const char *probe_summary(const probe_report *r)
{
    if (!r)
        return "none: no probe report";
    bool ns = have_namespaces(r), ll = r->landlock_abi > 0;
    if (!have_seccomp(r))
        return r->seccomp ? "none: no_new_privs unavailable, seccomp filters cannot be installed — "
                            "untrusted skills cannot run"
                          : "none: no seccomp filter support — untrusted skills cannot run";
    if (!ns && !ll)
        return "none: neither namespaces nor landlock — untrusted skills cannot run";
    if (ns && ll)
        return "full: namespaces + landlock + seccomp + limits";
    if (ns)
        return "degraded: no landlock — namespaces + seccomp + limits only";
    if (!r->is_root && r->userns != 1)
        return "degraded: no user namespaces — landlock + seccomp + limits only";
    return "degraded: namespaces unavailable — landlock + seccomp + limits only";
}
