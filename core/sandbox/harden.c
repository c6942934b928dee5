#include "util/common.h"
#include "sandbox/harden.h"
#include "util/err.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/securebits.h>
#include <sys/capability.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SECBIT_NO_CAP_AMBIENT_RAISE
#define SECBIT_NO_CAP_AMBIENT_RAISE (1 << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED (1 << 7)
#endif

/* The securebits a root worker ends with: root is not special on execve, no
 * capability fix-up on setuid, no keep-caps, no ambient raise, all locked. */
#define SBX_SECBITS                                                                                      \
    (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |     \
     SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

/* Highest fd number the last-resort close loop goes to. */
#define SBX_FD_SCAN_MIN 1024
#define SBX_FD_SCAN_MAX 65536

/* ---------------------------------------------------------------- rlimits */

static int set_limit(int res, const char *name, uint64_t want, char **err)
{
    struct rlimit cur;
    if (getrlimit(res, &cur) < 0)
        return err_set(err, -errno, "getrlimit %s: %s", name, strerror(errno));
    rlim_t v = want >= (uint64_t)RLIM_INFINITY ? RLIM_INFINITY : (rlim_t)want;
    /* Only CAP_SYS_RESOURCE raises a hard limit: stay at or below it. */
    if (cur.rlim_max != RLIM_INFINITY && (v == RLIM_INFINITY || v > cur.rlim_max))
        v = cur.rlim_max;
    struct rlimit nl = {.rlim_cur = v, .rlim_max = v};
    if (setrlimit(res, &nl) < 0)
        return err_set(err, -errno, "setrlimit %s to %" PRIu64 ": %s", name, (uint64_t)v, strerror(errno));
    return 0;
}

/* AddressSanitizer reserves terabytes of address space for its shadow, so a
 * sanitizer build cannot live under RLIMIT_AS: there the memory limit is
 * the cgroup's alone (documented in docs/internals/harden.md). */
#if defined(__SANITIZE_ADDRESS__)
#define VENOM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VENOM_ASAN 1
#endif
#endif

static uint64_t as_limit(const sandbox_policy *p)
{
#ifdef VENOM_ASAN
    (void)p;
    return RLIM_INFINITY;
#else
    return p->memory_bytes ? p->memory_bytes : SANDBOX_DEFAULT_MEMORY;
#endif
}

int sbx_rlimits(const sandbox_policy *p, char **err)
{
    int rc;
    if (!p)
        return err_set(err, -EINVAL, "rlimits: no policy given");
    if ((rc = set_limit(RLIMIT_CPU, "RLIMIT_CPU", p->cpu_s ? p->cpu_s : SANDBOX_DEFAULT_CPU_S, err)) < 0 ||
        (rc = set_limit(RLIMIT_AS, "RLIMIT_AS", as_limit(p), err)) < 0 ||
        (rc = set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", p->nofile ? p->nofile : SANDBOX_DEFAULT_NOFILE, err)) <
            0 ||
        (rc = set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", p->fsize_bytes ? p->fsize_bytes : SANDBOX_DEFAULT_FSIZE,
                        err)) < 0 ||
        (rc = set_limit(RLIMIT_NPROC, "RLIMIT_NPROC", p->processes ? p->processes : SANDBOX_DEFAULT_PROCESSES,
                        err)) < 0 ||
        (rc = set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, err)) < 0)
        return rc;
    return 0;
}

/* ---------------------------------------------------------------- session */

int sbx_session(char **err)
{
    if (setsid() < 0) {
        int e = errno;
        if (e != EPERM || getsid(0) != getpid())
            return err_set(err, -e, "setsid: %s (the worker must not be a process group leader: fork first)",
                           strerror(e));
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        return err_set(err, -errno, "prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return err_set(err, -errno, "prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
    return 0;
}

int sbx_no_new_privs(char **err)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return err_set(err, -errno, "prctl(PR_SET_NO_NEW_PRIVS): %s (needs Linux 3.5+)", strerror(errno));
    return 0;
}

/* ---------------------------------------------------------------- capabilities */

/* The highest capability number the kernel knows, without /proc if need be:
 * PR_CAPBSET_READ fails with EINVAL past the last one. */
static int last_cap(void)
{
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char b[16];
        ssize_t n = read(fd, b, sizeof b - 1);
        close(fd);
        if (n > 0) {
            b[n] = '\0';
            char *end;
            long v = strtol(b, &end, 10);
            if (end != b && v >= 0 && v < 64)
                return (int)v;
        }
    }
    int n = (int)cap_max_bits();
    if (n > 0 && n <= 64)
        return n - 1;
    int c = 0;
    while (c < 63 && prctl(PR_CAPBSET_READ, c + 1, 0, 0, 0) >= 0)
        c++;
    return c;
}

/* Raw capget: effective, permitted, inheritable as 64-bit masks. */
static int read_caps(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (capget(&h, d) < 0)
        return -errno;
    *eff = (uint64_t)d[1].effective << 32 | d[0].effective;
    *prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
    *inh = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
    return 0;
}

static cap_t prepared_empty;
static pthread_once_t prepared_once = PTHREAD_ONCE_INIT;

static void make_prepared(void) { prepared_empty = cap_init(); }

int sbx_caps_prepare(void)
{
    pthread_once(&prepared_once, make_prepared);
    return prepared_empty ? 0 : -ENOMEM;
}

int sbx_drop_caps(char **err)
{
    int rc = 0;
    cap_t empty = NULL, mine = NULL;
    uint64_t eff, prm, inh;
    if ((rc = read_caps(&eff, &prm, &inh)) < 0)
        return err_set(err, rc, "capget: %s", strerror(-rc));

    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return err_set(err, -errno, "prctl(PR_CAP_AMBIENT_CLEAR_ALL): %s", strerror(errno));

    /* Securebits and the bounding set need CAP_SETPCAP: before the
     * effective set is cleared. */
    if (eff & (1ULL << CAP_SETPCAP)) {
        unsigned cur = cap_get_secbits();
        if ((cur & SBX_SECBITS) != SBX_SECBITS && cap_set_secbits(cur | SBX_SECBITS) < 0) {
            rc = -errno;
            err_set(err, rc, "locking securebits (0x%x): %s", (unsigned)SBX_SECBITS, strerror(-rc));
            goto out;
        }
        int last = last_cap();
        for (int c = 0; c <= last; c++) {
            if (cap_drop_bound((cap_value_t)c) < 0) { /* no-op for a cap not in the set */
                rc = -errno;
                err_set(err, rc, "dropping capability %d from the bounding set: %s", c, strerror(-rc));
                goto out;
            }
        }
    } else if (geteuid() == 0) {
        rc = err_set(err, -EPERM,
                     "running as uid 0 without CAP_SETPCAP: securebits and the bounding set cannot be locked "
                     "(start the worker with its capabilities or in a user namespace)");
        goto out;
    }

    /* all three sets clear; prepared by the parent, or made here */
    empty = prepared_empty ? prepared_empty : (mine = cap_init());
    if (!empty) {
        rc = err_set(err, -ENOMEM, "cap_init: out of memory");
        goto out;
    }
    if (cap_set_proc(empty) < 0) {
        rc = -errno;
        err_set(err, rc, "cap_set_proc (clearing every capability): %s", strerror(-rc));
        goto out;
    }
out:
    if (mine)
        cap_free(mine);
    return rc;
}

/* ---------------------------------------------------------------- descriptors */

struct sbx_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Call fn(fd, arg) for each open fd listed in /proc/self/fd (the directory's
 * own fd excluded); -errno if /proc cannot be read. No allocation. */
static int each_proc_fd(void (*fn)(int fd, void *arg), void *arg)
{
    int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    char buf[4096] __attribute__((aligned(8)));
    int rc = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct sbx_dirent64 *d = (struct sbx_dirent64 *)(void *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] < '0' || d->d_name[0] > '9')
                continue;
            char *end;
            long fd = strtol(d->d_name, &end, 10);
            if (*end || fd < 0 || fd > INT_MAX || fd == dfd)
                continue;
            fn((int)fd, arg);
        }
    }
    close(dfd);
    return rc;
}

static void close_unless_kept(int fd, void *arg)
{
    int keep = *(int *)arg;
    if (fd > 2 && fd != keep)
        close(fd);
}

/* The upper bound of an fd scan without /proc. */
static int fd_scan_limit(void)
{
    struct rlimit rl;
    long lim = SBX_FD_SCAN_MIN;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur > lim)
        lim = (long)rl.rlim_cur;
    return lim > SBX_FD_SCAN_MAX ? SBX_FD_SCAN_MAX : (int)lim;
}

/* Call fn(fd, arg) for each open fd in 3..fd_scan_limit() without /proc:
 * poll(2) with events 0 and no timeout flags each closed fd POLLNVAL, so a
 * chunk of fds costs one system call (nfds may not exceed RLIMIT_NOFILE);
 * fcntl(F_GETFD) per fd where poll fails. */
static void scan_fds(void (*fn)(int fd, void *arg), void *arg)
{
    struct pollfd pf[512];
    int lim = fd_scan_limit();
    long chunk = (long)ARRAY_SIZE(pf);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)chunk)
        chunk = (long)rl.rlim_cur;
    for (int base = 3; base < lim; base += (int)(chunk > 0 ? chunk : 1)) {
        int n = chunk > 0 ? (int)(lim - base < chunk ? lim - base : chunk) : 0;
        for (int i = 0; i < n; i++)
            pf[i] = (struct pollfd){.fd = base + i, .events = 0};
        if (n > 0 && poll(pf, (nfds_t)n, 0) >= 0) {
            for (int i = 0; i < n; i++)
                if (!(pf[i].revents & POLLNVAL))
                    fn(base + i, arg);
            continue;
        }
        int end = base + (n > 0 ? n : 1);
        for (int fd = base; fd < end; fd++)
            if (fcntl(fd, F_GETFD) >= 0)
                fn(fd, arg);
    }
}

static int close_above(int from, unsigned to)
{
    if ((unsigned)from > to)
        return 0;
    return syscall(SYS_close_range, (unsigned)from, to, 0) < 0 ? -errno : 0;
}

/* Move a fresh /dev/null fd onto target (0, 1 or 2) without O_CLOEXEC. */
static int null_onto(int target, int flags, char **err)
{
    int fd = open("/dev/null", flags | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, -errno, "opening /dev/null for fd %d: %s (the sandbox's /dev must have it)", target,
                       strerror(errno));
    int rc = 0;
    if (fd == target) {
        if (fcntl(fd, F_SETFD, 0) < 0)
            rc = -errno;
        return rc < 0 ? err_set(err, rc, "fcntl fd %d: %s", target, strerror(-rc)) : 0;
    }
    if (dup2(fd, target) < 0)
        rc = err_set(err, -errno, "dup2 /dev/null onto fd %d: %s", target, strerror(errno));
    close(fd);
    return rc;
}

int sbx_close_fds(int keep_fd, char **err)
{
    int rc = 0;
    if (keep_fd >= 0 && keep_fd <= 2)
        return err_set(err, -EINVAL, "close_fds: the kept fd %d is a standard stream (pass an fd above 2)", keep_fd);
    if (keep_fd >= 0 && fcntl(keep_fd, F_GETFD) < 0)
        return err_set(err, -EBADF, "close_fds: the kept fd %d is not open", keep_fd);

    if (keep_fd < 0)
        rc = close_above(3, ~0U);
    else if ((rc = close_above(3, (unsigned)keep_fd - 1)) == 0)
        rc = close_above(keep_fd + 1, ~0U);
    if (rc < 0) {
        /* No close_range (Linux < 5.9, or filtered): walk /proc, else scan. */
        if (each_proc_fd(close_unless_kept, &keep_fd) < 0)
            scan_fds(close_unless_kept, &keep_fd);
        rc = 0;
    }

    /* Standard streams: never the caller's terminal or pipes. In order 0, 1,
     * 2: a fresh fd is the lowest free one, so it is either the target or
     * is moved onto it and closed before the next target is handled. */
    if ((rc = null_onto(0, O_RDONLY, err)) < 0 || (rc = null_onto(1, O_WRONLY, err)) < 0 ||
        (rc = null_onto(2, O_WRONLY, err)) < 0)
        return rc;
    return 0;
}

/* ---------------------------------------------------------------- environment */

#define SBX_ENV_NAME_MAX 256

int sbx_clean_env(const sandbox_policy *p, char **err)
{
    if (!p)
        return err_set(err, -EINVAL, "clean_env: no policy given");
    for (size_t i = 0; i < p->env.n; i++) {
        const char *s = p->env.v[i];
        const char *eq = s ? strchr(s, '=') : NULL;
        if (!s || !eq || eq == s)
            return err_set(err, -EINVAL, "env entry %zu \"%s\" is not NAME=value (give it as NAME=value)", i,
                           s ? s : "(null)");
        if ((size_t)(eq - s) >= SBX_ENV_NAME_MAX)
            return err_set(err, -ENAMETOOLONG, "env entry %zu: the name is longer than %d bytes", i,
                           SBX_ENV_NAME_MAX - 1);
    }
    if (clearenv() != 0)
        return err_set(err, -ENOMEM, "clearenv failed");
    for (size_t i = 0; i < p->env.n; i++) {
        const char *s = p->env.v[i];
        const char *eq = strchr(s, '=');
        char name[SBX_ENV_NAME_MAX];
        memcpy(name, s, (size_t)(eq - s));
        name[eq - s] = '\0';
        if (setenv(name, eq + 1, 1) < 0)
            return err_set(err, -errno, "setenv %s: %s", name, strerror(errno));
    }
    return 0;
}

/* ---------------------------------------------------------------- self-check */

/* A fixed buffer the findings of sbx_verify are appended to. */
typedef struct findings {
    char s[768];
    size_t n;
    int count;
} findings;

PRINTF_LIKE(2, 3) static void note(findings *f, const char *fmt, ...)
{
    if (f->n + 2 >= sizeof f->s)
        return;
    if (f->count++)
        f->n += (size_t)snprintf(f->s + f->n, sizeof f->s - f->n, "; ");
    if (f->n >= sizeof f->s)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(f->s + f->n, sizeof f->s - f->n, fmt, ap);
    va_end(ap);
    if (w > 0)
        f->n += (size_t)w;
    if (f->n >= sizeof f->s)
        f->n = sizeof f->s - 1;
}

/* What /proc/self/status says about our privileges. */
typedef struct proc_status {
    uint64_t inh, prm, eff, bnd, amb;
    int nnp, seccomp; /* -1 when absent */
    int found;        /* number of fields read */
} proc_status;

static uint64_t hex64(const char *s)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    unsigned long long v = strtoull(s, &end, 16);
    return end == s ? UINT64_MAX : (uint64_t)v;
}

/* Read /proc/self/status (one open, one or two reads, no allocation);
 * -errno when it cannot be read (no /proc, or landlock hides it). */
static int read_status(proc_status *st)
{
    *st = (proc_status){.nnp = -1, .seccomp = -1};
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    static const struct {
        const char *key;
        size_t off;
    } caps[] = {
        {"CapInh:", offsetof(proc_status, inh)}, {"CapPrm:", offsetof(proc_status, prm)},
        {"CapEff:", offsetof(proc_status, eff)}, {"CapBnd:", offsetof(proc_status, bnd)},
        {"CapAmb:", offsetof(proc_status, amb)},
    };
    for (char *line = buf; line && *line;) {
        for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
            if (!strncmp(line, caps[i].key, 7)) {
                *(uint64_t *)(void *)((char *)st + caps[i].off) = hex64(line + 7);
                st->found++;
            }
        if (!strncmp(line, "NoNewPrivs:", 11)) {
            st->nnp = (int)strtol(line + 11, NULL, 10);
            st->found++;
        } else if (!strncmp(line, "Seccomp:", 8)) {
            st->seccomp = (int)strtol(line + 8, NULL, 10);
            st->found++;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

typedef struct fd_check {
    int keep;
    int extra[8];
    int n_extra;
    bool keep_seen;
} fd_check;

static void check_fd(int fd, void *arg)
{
    fd_check *c = arg;
    if (fd <= 2)
        return;
    if (fd == c->keep) {
        c->keep_seen = true;
        return;
    }
    if (c->n_extra < (int)ARRAY_SIZE(c->extra))
        c->extra[c->n_extra] = fd;
    c->n_extra++;
}

int sbx_verify(int keep_fd, int expect_seccomp, char **err)
{
    findings f = {.n = 0};
    proc_status ps;
    uint64_t eff = 0, prm = 0, inh = 0, amb = 0, bnd = 0;
    int nnp, mode;
    if (read_status(&ps) == 0 && ps.found == 7) {
        eff = ps.eff, prm = ps.prm, inh = ps.inh, amb = ps.amb, bnd = ps.bnd;
        nnp = ps.nnp;
        mode = ps.seccomp;
    } else {
        /* No /proc: ask the kernel one capability at a time. */
        int rc = read_caps(&eff, &prm, &inh);
        if (rc < 0)
            note(&f, "capget failed: %s", strerror(-rc));
        int last = 0;
        while (last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0)
            last++;
        for (int c = 0; c <= last; c++) {
            if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0)
                bnd |= 1ULL << c;
            if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) > 0)
                amb |= 1ULL << c;
        }
        nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
        /* PR_GET_SECCOMP may itself be filtered: then it fails, and we
         * refuse below rather than guess. */
        mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
        if (mode < 0 && errno == EINVAL)
            mode = 0; /* kernel without seccomp */
    }
    if (eff)
        note(&f, "effective capabilities 0x%" PRIx64 " left", eff);
    if (prm)
        note(&f, "permitted capabilities 0x%" PRIx64 " left", prm);
    if (inh)
        note(&f, "inheritable capabilities 0x%" PRIx64 " left", inh);
    if (amb)
        note(&f, "ambient capabilities 0x%" PRIx64 " left", amb);
    if (nnp != 1)
        note(&f, "no_new_privs is %d, not 1", nnp);
    /* An unprivileged process cannot empty its bounding set; without any
     * capability and under no_new_privs it can never use it either. */
    bool bnd_harmless = geteuid() != 0 && !eff && !prm && !inh && !amb && nnp == 1;
    if (bnd && !bnd_harmless)
        note(&f, "bounding set 0x%" PRIx64 " not empty", bnd);
    if (geteuid() == 0 && (cap_get_secbits() & SBX_SECBITS) != SBX_SECBITS)
        note(&f, "securebits 0x%x not locked while uid 0", cap_get_secbits());
    if (mode < 0)
        note(&f, "seccomp mode unreadable (no /proc/self/status, PR_GET_SECCOMP refused), expected %d",
             expect_seccomp);
    else if (mode != expect_seccomp)
        note(&f, "seccomp mode %d, expected %d", mode, expect_seccomp);

    fd_check fc = {.keep = keep_fd};
    if (each_proc_fd(check_fd, &fc) < 0)
        scan_fds(check_fd, &fc);
    if (fc.n_extra) {
        char list[96] = "";
        size_t ln = 0;
        for (int i = 0; i < fc.n_extra && i < (int)ARRAY_SIZE(fc.extra) && ln < sizeof list; i++)
            ln += (size_t)snprintf(list + ln, sizeof list - ln, "%s%d", i ? "," : "", fc.extra[i]);
        note(&f, "%d extra fd%s open (%s%s)", fc.n_extra, fc.n_extra > 1 ? "s" : "", list,
             fc.n_extra > (int)ARRAY_SIZE(fc.extra) ? ",..." : "");
    }
    if (keep_fd >= 0 && !fc.keep_seen)
        note(&f, "the kept fd %d is not open", keep_fd);

    int dump = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (dump != 0)
        note(&f, "dumpable is %d, not 0", dump);

    if (f.count)
        return err_set(err, -EPERM, "sandbox self-check failed, refusing to run the skill: %s", f.s);
    return 0;
}
