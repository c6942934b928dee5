/*
 * sandbox_call.c — the cost of one sandboxed no-op skill call (issue 3,
 * "Benchmark"), side by side with baselines measured in the same run.
 *
 *     sandbox_call [-n N] [-p PACK_DIR] [--no-breakdown] [--only-cold]
 *
 * Copies the no-op pack (bench/noop, built into BUILD/bench/packs/noop) into
 * a throw-away directory, where it is an untrusted pack, and times N calls
 * (default 1000) of each case, interleaved (one of each per round, after a
 * warm-up), per call with CLOCK_MONOTONIC:
 *
 *   fork+exec /bin/true   posix_spawn + waitpid: the baseline of every ratio
 *   bwrap /bin/true       bubblewrap --unshare-all (skipped when not installed)
 *   in-process call       registry_call of the same skill, trusted pack
 *   sandbox_call (cold)   a fresh worker per call: what this measures
 *   registry_call, untrusted   the same through the registry (policy per call)
 *
 * Then, unless --no-breakdown, where the cold call's time goes: the child's
 * set-up cut short after each stage (clone with the namespaces, the view,
 * the hardening, the exec of venom-worker), the cgroup alone, and the
 * worker's in-process part. Prints p50/p99 and ratios to fork+exec; the
 * issue's targets are printed as met or not, never asserted (exit 0). Exits
 * 1 only when a call does not return its arguments, 2 on bad usage.
 */
#include "util/common.h"

#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <sched.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "plugin/manifest.h"
#include "plugin/registry.h"
#include "sandbox/cgroup.h"
#include "sandbox/harden.h"
#include "sandbox/landlock.h"
#include "sandbox/nsfs.h"
#include "sandbox/policy.h"
#include "sandbox/sandbox.h"
#include "util/err.h"

#ifndef VENOM_BENCH_NOOP_DIR
#define VENOM_BENCH_NOOP_DIR ""
#endif
#ifndef VENOM_BENCH_WORKER
#define VENOM_BENCH_WORKER ""
#endif

#define WARMUP 20
#define SKILL "noop.echo"

extern char **environ;

static char tmp_root[PATH_MAX];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static __attribute__((noreturn)) void die(const char *fmt, ...) PRINTF_LIKE(1, 2);
static __attribute__((noreturn)) void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sandbox_call: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ------------------------------------------------------------ temp tree */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void)
{
    if (tmp_root[0])
        nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        die("cannot open %s: %s (build the bench first: ninja bench_sandbox_call)", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0)
        die("cannot create %s: %s", to, strerror(errno));
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            die("cannot write %s: %s", to, strerror(errno));
    if (n < 0)
        die("cannot read %s: %s", from, strerror(errno));
    close(in);
    close(out);
}

/* ------------------------------------------------------------ statistics */

typedef struct series {
    const char *name;
    uint64_t *ns;
    size_t n;
    bool skipped;
    const char *note;
} series;

static void series_init(series *s, const char *name, size_t cap)
{
    *s = (series){.name = name, .ns = mem_calloc(cap ? cap : 1, sizeof *s->ns)};
    if (!s->ns)
        die("out of memory");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in µs (sorts the series). */
static double pct_us(series *s, double p)
{
    if (s->n == 0)
        return 0;
    qsort(s->ns, s->n, sizeof *s->ns, cmp_u64);
    size_t k = (size_t)(p * (double)s->n + 0.999999);
    k = k == 0 ? 0 : k - 1;
    return (double)s->ns[k < s->n ? k : s->n - 1] / 1000.0;
}

static void print_row(series *s, double base_p50)
{
    if (s->skipped) {
        printf("%-38s %10s %10s %9s   %s\n", s->name, "-", "-", "-", s->note ? s->note : "skipped");
        return;
    }
    double p50 = pct_us(s, 0.50), p99 = pct_us(s, 0.99);
    printf("%-38s %10.1f %10.1f %9.2f\n", s->name, p50, p99, base_p50 > 0 ? p50 / base_p50 : 0);
}

/* ------------------------------------------------------------ processes */

static int spawn_wait(const char *path, char *const argv[], bool quiet)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -rc;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    char *copy = mem_strdup(path), *save = NULL;
    for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
        char *full = mem_printf("%s/%s", d, name);
        if (full && access(full, X_OK) == 0) {
            mem_free(copy);
            return full;
        }
        mem_free(full);
    }
    mem_free(copy);
    return NULL;
}

/* ------------------------------------------------------------ breakdown */

/* How far the child's set-up goes before it _exits (cumulative stages). */
enum stage { ST_CLONE, ST_VIEW, ST_HARDEN, ST_EXEC, ST_COUNT };

static const char *const stage_names[ST_COUNT] = {
    "clone(namespaces) + exit + reap",
    "  + uid map + filesystem view",
    "  + rlimits/landlock/caps/fds",
    "  + exec venom-worker (exits at once)",
};

/* One child cut short after stage st; the time from clone to reaped. */
static int64_t run_stage(const sandbox_policy *p, enum stage st, unsigned long flags)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    int pidfd = -1;
    char *err = NULL;
    uint64_t t0 = now_ns();
    pid_t pid = sbx_clone(flags, &pidfd, &err);
    if (pid < 0) {
        mem_free(err);
        return pid;
    }
    if (pid == 0) {
        if (sbx_ns_setup_ids(uid, gid, (flags & CLONE_NEWUSER) != 0, NULL) < 0 || sbx_fs_setup(p, NULL) < 0)
            _exit(3);
        if (st == ST_CLONE || st == ST_VIEW)
            _exit(0);
        int abi = 0;
        if (sbx_rlimits(p, NULL) < 0 || sbx_session(NULL) < 0 || sbx_no_new_privs(NULL) < 0)
            _exit(4);
        int lrc = sbx_landlock_apply(p, "/tmp", &abi, NULL);
        if (lrc < 0 && lrc != -ENOSYS && lrc != -EOPNOTSUPP)
            _exit(5);
        if (sbx_drop_caps(NULL) < 0 || sbx_close_fds(-1, NULL) < 0)
            _exit(5);
        if (st == ST_HARDEN)
            _exit(0);
        /* venom-worker without arguments prints its usage (to /dev/null
         * now) and exits 2: exec + dynamic linking + start-up, no call. */
        char *argv[] = {"venom-worker", NULL};
        execve(sandbox_worker_path(), argv, (char *[]){NULL});
        _exit(6);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    uint64_t t1 = now_ns();
    if (pidfd >= 0)
        close(pidfd);
    int want = st == ST_EXEC ? 2 : 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != want)
        return -ECHILD;
    return (int64_t)(t1 - t0);
}

/* Clone-only stage must not do the view: a separate child body. */
static int64_t run_clone_only(unsigned long flags)
{
    int pidfd = -1;
    char *err = NULL;
    uint64_t t0 = now_ns();
    pid_t pid = sbx_clone(flags, &pidfd, &err);
    if (pid < 0) {
        mem_free(err);
        return pid;
    }
    if (pid == 0)
        _exit(0);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    uint64_t t1 = now_ns();
    if (pidfd >= 0)
        close(pidfd);
    return (int64_t)(t1 - t0);
}

/* cgroup create + add a (waiting) child + remove, the child's own cost
 * excluded. -ENOTSUP when no cgroup is writable here. */
static int64_t run_cgroup(const sandbox_policy *p)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(pipefd[1]);
        (void)!read(pipefd[0], &c, 1);
        _exit(0);
    }
    close(pipefd[0]);
    sbx_cgroup *cg = NULL;
    char *err = NULL;
    uint64_t t0 = now_ns();
    int rc = sbx_cgroup_new(p, &cg, &err);
    if (rc == 0)
        rc = sbx_cgroup_add(cg, pid, &err);
    uint64_t t1 = now_ns();
    close(pipefd[1]);
    int status;
    waitpid(pid, &status, 0);
    uint64_t t2 = now_ns();
    sbx_cgroup_free(cg);
    uint64_t t3 = now_ns();
    mem_free(err);
    if (rc < 0)
        return rc;
    return (int64_t)((t1 - t0) + (t3 - t2));
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
    fputs("usage: sandbox_call [-n N] [-p PACK_DIR] [--no-breakdown]\n"
          "  -n N          calls per case (default 1000, at least 1)\n"
          "  -p PACK_DIR   the built no-op pack (default: this build's bench/packs/noop)\n"
          "  --no-breakdown  skip the per-stage breakdown of the cold call\n"
          "  --only-cold   time sandbox_call alone (for perf record/trace, strace)\n"
          "  --only-warm   time sbx_pool_call alone (2 ms apart)\n",
          stderr);
    exit(2);
}

static void check_echo(const json_t *got, const json_t *want, const char *what, const char *error)
{
    if (!got || !json_equal(got, want))
        die("%s did not return its arguments%s%s", what, error ? ": " : "", error ? error : "");
}

/* One timed, checked sbx_pool_call; recorded in s when keep. */
static void time_pool_call(sbx_pool *pool, const json_t *args, series *s, bool keep)
{
    sandbox_result sr;
    char *err = NULL;
    uint64_t t0 = now_ns();
    int rc = sbx_pool_call(pool, SKILL, args, NULL, &sr, &err);
    uint64_t t1 = now_ns();
    if (rc < 0)
        die("%s", err ? err : "sbx_pool_call failed");
    check_echo(sr.code == 0 ? sr.value : NULL, args, "sbx_pool_call", sr.error);
    sandbox_result_release(&sr);
    if (keep)
        s->ns[s->n++] = t1 - t0;
}


int main(int argc, char **argv)
{
    mem_install();
    long n = 1000;
    const char *pack_src = VENOM_BENCH_NOOP_DIR;
    bool breakdown = true;
    bool only_cold = false, only_warm = false;
    static const struct option opts[] = {
        {"no-breakdown", no_argument, NULL, 'B'}, {"only-cold", no_argument, NULL, 'C'},
        {"only-warm", no_argument, NULL, 'W'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:p:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'n':
            errno = 0;
            n = strtol(optarg, &end, 10);
            if (errno || !end || *end || n < 1 || n > 10000000) {
                fprintf(stderr, "sandbox_call: -n %s: expected a whole number from 1 to 10000000\n", optarg);
                exit(2);
            }
            break;
        case 'p':
            pack_src = optarg;
            break;
        case 'B':
            breakdown = false;
            break;
        case 'C':
            only_cold = true;
            breakdown = false;
            break;
        case 'W':
            only_warm = true;
            breakdown = false;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || !*pack_src)
        usage();
    if (!getenv("VENOM_WORKER") && *VENOM_BENCH_WORKER)
        setenv("VENOM_WORKER", VENOM_BENCH_WORKER, 1);
    if (access(sandbox_worker_path(), X_OK) != 0)
        die("venom-worker not found at %s; build it (ninja venom-worker) or set VENOM_WORKER", sandbox_worker_path());

    /* 1. the untrusted pack in a throw-away directory */
    const char *tmpdir = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/venom-bench-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(tmp_root))
        die("mkdtemp %s: %s", tmp_root, strerror(errno));
    atexit(cleanup);
    char *packs = mem_printf("%s/packs", tmp_root), *pack = mem_printf("%s/packs/noop", tmp_root);
    char *work = mem_printf("%s/work", tmp_root);
    char *src_so = mem_printf("%s/noop.so", pack_src), *src_json = mem_printf("%s/venom.json", pack_src);
    char *dst_so = mem_printf("%s/noop.so", pack), *mpath = mem_printf("%s/venom.json", pack);
    if (!packs || !pack || !work || !src_so || !src_json || !dst_so || !mpath)
        die("out of memory");
    if (mkdir(packs, 0755) < 0 || mkdir(pack, 0755) < 0 || mkdir(work, 0755) < 0)
        die("mkdir under %s: %s", tmp_root, strerror(errno));
    copy_file(src_so, dst_so);
    copy_file(src_json, mpath);

    char *err = NULL;
    manifest *m = NULL;
    sandbox_policy *pol = NULL;
    if (manifest_load(mpath, &m, &err) < 0 || sandbox_policy_new(m, work, &pol, &err) < 0)
        die("%s", err ? err : "cannot build the policy");
    char *real_mpath = mem_printf("%s/venom.json", pol->pack_dir); /* the view binds the real path */

    /* trusted (first-party directory) and untrusted registries of the pack */
    const char *dirs[] = {packs};
    registry_opts to = {.dirs = dirs, .n_dirs = 1, .first_party = packs};
    registry_opts uo = {.dirs = dirs, .n_dirs = 1};
    registry *rt = NULL, *ru = NULL;
    if (registry_new(&to, &rt, &err) < 0 || registry_new(&uo, &ru, &err) < 0)
        die("%s", err ? err : "registry_new failed");
    const reg_skill *st = registry_find(rt, SKILL), *su = registry_find(ru, SKILL);
    if (!st || !su)
        die("%s not found in %s (%s)", SKILL, packs,
            registry_problem_count(ru) ? registry_problem(ru, 0) : "no problem recorded");
    if (reg_skill_sandboxed(rt, st) || !reg_skill_sandboxed(ru, su))
        die("trust set-up is wrong: the trusted pack must run in-process and the other one sandboxed");

    json_t *args = json_pack("{s:i}", "n", 7);
    registry_call_opts co = {.workdir = work};

    /* bubblewrap, when installed and working here */
    char *bwrap = getenv("VENOM_BENCH_BWRAP") && *getenv("VENOM_BENCH_BWRAP")
                      ? mem_strdup(getenv("VENOM_BENCH_BWRAP"))
                      : find_in_path("bwrap");
    char *bargv[32];
    size_t bn = 0;
    bargv[bn++] = "bwrap";
    bargv[bn++] = "--unshare-all";
    bargv[bn++] = "--die-with-parent";
    static const char *const binds[] = {"/usr", "/lib", "/lib64", "/bin"};
    for (size_t i = 0; i < ARRAY_SIZE(binds); i++) {
        if (access(binds[i], F_OK) == 0) {
            bargv[bn++] = "--ro-bind";
            bargv[bn++] = (char *)binds[i];
            bargv[bn++] = (char *)binds[i];
        }
    }
    bargv[bn++] = "/bin/true";
    bargv[bn] = NULL;
    const char *bwrap_note = NULL;
    if (!bwrap) {
        bwrap_note = "skipped: bwrap not installed (bench/sandbox_call.sh installs it as root)";
    } else {
        int brc = spawn_wait(bwrap, bargv, true);
        if (brc != 0) {
            static char note[256];
            snprintf(note, sizeof note, "skipped: %s ... /bin/true exited with status %d here", bwrap, brc);
            bwrap_note = note;
        }
    }

    char *true_argv[] = {"true", NULL};
    series base, bw, inproc, cold, reg, warm, zfork, reuse;
    series_init(&base, "fork+exec /bin/true (baseline)", (size_t)n);
    series_init(&bw, "bwrap --unshare-all /bin/true", (size_t)n);
    series_init(&inproc, "in-process call (trusted, registry)", (size_t)n);
    series_init(&cold, "sandbox_call, cold (fresh worker)", (size_t)n);
    series_init(&reg, "registry_call, untrusted (policy+cold)", (size_t)n);
    series_init(&warm, "sandbox call, warm pool (ready worker)", (size_t)n);
    series_init(&zfork, "pool, none ready (zygote forks)", (size_t)n);
    series_init(&reuse, "pool, reused worker (opt-in)", (size_t)n);
    /* The warm pool: a zygote and 2 ready workers; the refill thread makes
     * the next one while the other cases of a round run. */
    sbx_pool *pool = NULL;
    if ((!only_cold || only_warm) && sbx_pool_new(pol, real_mpath, &(sbx_pool_opts){.warm = 2}, &pool, &err) < 0)
        die("warm pool: %s", err ? err : "failed");
    /* Two more pools: one that keeps no worker ready (each call waits for
     * the zygote's fork: the pool's cold call), one whose worker is reused. */
    sbx_pool *zpool = NULL, *rpool = NULL;
    if (!only_cold && !only_warm &&
        (sbx_pool_new(pol, real_mpath, &(sbx_pool_opts){.warm = 0}, &zpool, &err) < 0 ||
         sbx_pool_new(pol, real_mpath, &(sbx_pool_opts){.warm = 1, .reuse = true}, &rpool, &err) < 0))
        die("pool: %s", err ? err : "failed");
    if (bwrap_note) {
        bw.skipped = true;
        bw.note = bwrap_note;
    }

    /* 2. warm-up, then N interleaved rounds */
    for (long i = -WARMUP; i < n; i++) {
        uint64_t t0, t1;
        bool keep = i >= 0;

        if (only_warm) { /* 2 ms apart: the refill thread gets its turn, as in a real run */
            usleep(2000);
            time_pool_call(pool, args, &warm, keep);
            continue;
        }
        if (only_cold) {
            sandbox_result sr;
            t0 = now_ns();
            int rc = sandbox_call(pol, real_mpath, SKILL, args, NULL, &sr, &err);
            t1 = now_ns();
            if (rc < 0)
                die("%s", err ? err : "sandbox_call failed");
            check_echo(sr.code == 0 ? sr.value : NULL, args, "sandbox_call", sr.error);
            sandbox_result_release(&sr);
            if (keep)
                cold.ns[cold.n++] = t1 - t0;
            continue;
        }

        t0 = now_ns();
        int trc = spawn_wait("/bin/true", true_argv, false);
        t1 = now_ns();
        if (trc != 0)
            die("/bin/true exited with status %d", trc);
        if (keep)
            base.ns[base.n++] = t1 - t0;

        if (!bw.skipped) {
            t0 = now_ns();
            int brc = spawn_wait(bwrap, bargv, true);
            t1 = now_ns();
            if (brc != 0)
                die("bwrap exited with status %d in round %ld", brc, i);
            if (keep)
                bw.ns[bw.n++] = t1 - t0;
        }

        registry_result rr = {0};
        t0 = now_ns();
        int rc = registry_call(rt, st, args, &co, &rr, &err);
        t1 = now_ns();
        if (rc < 0)
            die("in-process call: %s", err ? err : "failed");
        check_echo(rr.value, args, "the in-process call", NULL);
        json_decref(rr.value);
        if (keep)
            inproc.ns[inproc.n++] = t1 - t0;

        sandbox_result sr;
        t0 = now_ns();
        rc = sandbox_call(pol, real_mpath, SKILL, args, NULL, &sr, &err);
        t1 = now_ns();
        if (rc < 0)
            die("%s", err ? err : "sandbox_call failed");
        check_echo(sr.code == 0 ? sr.value : NULL, args, "sandbox_call", sr.error);
        sandbox_result_release(&sr);
        if (keep)
            cold.ns[cold.n++] = t1 - t0;

        time_pool_call(pool, args, &warm, keep);
        time_pool_call(zpool, args, &zfork, keep);
        time_pool_call(rpool, args, &reuse, keep);

        rr = (registry_result){0};
        t0 = now_ns();
        rc = registry_call(ru, su, args, &co, &rr, &err);
        t1 = now_ns();
        if (rc < 0)
            die("untrusted registry_call: %s", err ? err : "failed");
        check_echo(rr.value, args, "the untrusted registry_call", NULL);
        json_decref(rr.value);
        if (keep)
            reg.ns[reg.n++] = t1 - t0;
    }

    if (only_warm) {
        printf("sbx_pool_call, warm: %ld calls, p50 %.1f µs, p99 %.1f µs\n", n, pct_us(&warm, 0.5), pct_us(&warm, 0.99));
        sbx_pool_free(pool);
        goto done;
    }
    if (only_cold) { /* for profilers: perf record/trace, strace */
        printf("sandbox_call, cold: %ld calls, p50 %.1f µs, p99 %.1f µs\n", n, pct_us(&cold, 0.5), pct_us(&cold, 0.99));
        breakdown = false;
        goto done;
    }

    /* 3. the table */
    char load[64] = "?";
    FILE *lf = fopen("/proc/loadavg", "re");
    if (lf) {
        if (fgets(load, sizeof load, lf))
            load[strcspn(load, " ")] = '\0'; /* the 1-minute figure */
        fclose(lf);
    }
    printf("sandboxed no-op call (%s): %ld calls per case, interleaved, after %d warm-up rounds; uid %u, %ld CPUs, "
           "load %s\n",
           SKILL, n, WARMUP, (unsigned)getuid(), sysconf(_SC_NPROCESSORS_ONLN), load);
    unsigned long flags = sbx_ns_flags(pol);
    printf("worker namespaces: %s%s%s%s%s%s%s\n", flags & CLONE_NEWUSER ? "user " : "", flags & CLONE_NEWNS ? "mnt " : "",
           flags & CLONE_NEWPID ? "pid " : "", flags & CLONE_NEWNET ? "net " : "", flags & CLONE_NEWIPC ? "ipc " : "",
           flags & CLONE_NEWUTS ? "uts " : "", flags & CLONE_NEWCGROUP ? "cgroup" : "");
    if (!bw.skipped) {
        printf("bwrap: %s", bwrap);
        for (size_t i = 1; bargv[i]; i++)
            printf(" %s", bargv[i]);
        putchar('\n');
    }
    putchar('\n');
    double b50 = pct_us(&base, 0.5);
    printf("%-38s %10s %10s %9s\n", "case", "p50 µs", "p99 µs", "ratio");
    print_row(&base, b50);
    print_row(&bw, b50);
    print_row(&inproc, b50);
    print_row(&cold, b50);
    print_row(&reg, b50);
    print_row(&warm, b50);
    print_row(&zfork, b50);
    print_row(&reuse, b50);
    printf("(ratio = p50 of the case / p50 of fork+exec /bin/true)\n\n");

    double c50 = pct_us(&cold, 0.5), c99 = pct_us(&cold, 0.99);
    printf("target: cold call p50 <= 1500 µs — %s (p50 %.1f µs, p99 %.1f µs)\n", c50 <= 1500 ? "met" : "NOT met",
           c50, c99);
    if (bw.skipped) {
        printf("target: cold call >= 3x faster than bubblewrap — not judged (%s)\n", bw.note);
    } else {
        double speed = pct_us(&bw, 0.5) / c50;
        printf("target: cold call >= 3x faster than bubblewrap — %s (%.2fx)\n", speed >= 3 ? "met" : "NOT met", speed);
    }
    double w50 = pct_us(&warm, 0.5);
    printf("target: warm pooled call p50 <= 50 µs — %s (p50 %.1f µs, p99 %.1f µs; %.0fx faster than bubblewrap)\n",
           w50 <= 50 ? "met" : "NOT met", w50, pct_us(&warm, 0.99), bw.skipped ? 0.0 : pct_us(&bw, 0.5) / w50);
    if (!bw.skipped)
        printf("pool cold call (zygote forks): %.1fx faster than bubblewrap; reused worker: %.0fx\n",
               pct_us(&bw, 0.5) / pct_us(&zfork, 0.5), pct_us(&bw, 0.5) / pct_us(&reuse, 0.5));
    sbx_pool_free(pool);
    sbx_pool_free(zpool);
    sbx_pool_free(rpool);
    printf("(targets are judged on this machine only; a sanitizer build is slower)\n");

    /* 4. where the cold call's time goes (the stages need the namespaces) */
    int64_t probe = breakdown ? run_clone_only(flags) : 0;
    if (probe < 0) {
        printf("\nbreakdown: skipped (clone with the worker's namespaces: %s; the sandbox runs without them)\n",
               strerror((int)-probe));
        breakdown = false;
    }
    if (breakdown) {
        series stg[ST_COUNT], cgs, wk;
        for (int s = 0; s < ST_COUNT; s++)
            series_init(&stg[s], stage_names[s], (size_t)n);
        series_init(&cgs, "cgroup create + add + remove", (size_t)n);
        series_init(&wk, "worker-side registry+dlopen+call", (size_t)n);
        const char *cg_note = NULL;
        for (long i = -WARMUP; i < n; i++) {
            bool keep = i >= 0;
            for (int s = 0; s < ST_COUNT; s++) {
                int64_t t = s == ST_CLONE ? run_clone_only(flags) : run_stage(pol, (enum stage)s, flags);
                if (t < 0)
                    die("breakdown stage '%s' failed: %s", stage_names[s], strerror((int)-t));
                if (keep)
                    stg[s].ns[stg[s].n++] = (uint64_t)t;
            }
            if (!cgs.skipped) {
                int64_t t = run_cgroup(pol);
                if (t < 0) {
                    cgs.skipped = true;
                    cg_note = "skipped: no writable cgroup here (the sandbox then uses none either)";
                    cgs.note = cg_note;
                } else if (keep) {
                    cgs.ns[cgs.n++] = (uint64_t)t;
                }
            }
            /* What venom-worker does after exec, minus IPC and seccomp: a
             * registry of the one pack, dlopen, the call, dlclose. */
            registry_opts wo = {.dirs = (const char *[]){pack}, .n_dirs = 1, .in_worker = true, .dirs_are_packs = true};
            registry *rw = NULL;
            registry_result rr = {0};
            uint64_t t0 = now_ns();
            if (registry_new(&wo, &rw, &err) < 0)
                die("%s", err ? err : "registry_new failed");
            const reg_skill *sw = registry_find(rw, SKILL);
            if (!sw || registry_call(rw, sw, args, &co, &rr, &err) < 0)
                die("worker-like call: %s", err ? err : SKILL " not found");
            json_decref(rr.value);
            registry_free(rw);
            uint64_t t1 = now_ns();
            if (keep)
                wk.ns[wk.n++] = t1 - t0;
        }
        printf("\nbreakdown of the cold call (each row a separate child cut short; same N):\n");
        printf("%-38s %10s %10s %9s\n", "stage (cumulative)", "p50 µs", "p99 µs", "ratio");
        for (int s = 0; s < ST_COUNT; s++)
            print_row(&stg[s], b50);
        print_row(&cgs, b50);
        print_row(&wk, b50);
        double h50 = pct_us(&stg[ST_HARDEN], 0.5), e50 = pct_us(&stg[ST_EXEC], 0.5);
        if (c50 > e50)
            printf("%-38s %10.1f\n", "cold call minus the \"+ exec\" row", c50 - e50);
        else
            printf("%-38s %10s   (noise: rerun with a larger -n)\n", "cold call minus the \"+ exec\" row", "n/a");
        printf("(rows are separate children, so differences are estimates: before exec ≈ the \"+ rlimits\"\n"
               " row (%.0f µs); exec + start-up of venom-worker ≈ \"+ exec\" minus it (%.0f µs); the last line is\n"
               " what runs after exec — IPC, seccomp load, self-check, registry + dlopen, result — plus the\n"
               " supervisor's cgroup and reap)\n",
               h50, e50 - h50);
        for (int s = 0; s < ST_COUNT; s++)
            mem_free(stg[s].ns);
        mem_free(cgs.ns);
        mem_free(wk.ns);
    }

done:
    json_decref(args);
    registry_free(rt);
    registry_free(ru);
    sandbox_policy_free(pol);
    manifest_free(m);
    mem_free(base.ns);
    mem_free(bw.ns);
    mem_free(inproc.ns);
    mem_free(cold.ns);
    mem_free(reg.ns);
    mem_free(warm.ns);
    mem_free(zfork.ns);
    mem_free(reuse.ns);
    mem_free(bwrap);
    mem_free(real_mpath);
    mem_free(packs);
    mem_free(pack);
    mem_free(work);
    mem_free(src_so);
    mem_free(src_json);
    mem_free(dst_so);
    mem_free(mpath);
    mem_free(err);
    return 0;
}
