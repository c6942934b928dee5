#include "util/common.h"
#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

#define CG_MAX_DIRS 2

struct sbx_cgroup {
    int version;
    char *dir[CG_MAX_DIRS]; /* v2: [0]; v1: [0] memory, [1] pids */
    size_t ndir;
};

static atomic_uint cg_counter;

/* ------------------------------------------------------------- files */

static int read_small(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fd);
    return 0;
}

static int write_at(const char *dir, const char *file, const char *val)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(val);
    ssize_t w = write(fd, val, len);
    int e = w < 0 ? errno : EIO;
    close(fd);
    return w == (ssize_t)len ? 0 : -e;
}

static int read_at(const char *dir, const char *file, char *buf, size_t n)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return -ENAMETOOLONG;
    return read_small(path, buf, n);
}

/* True when the space-separated list holds word. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *s = list; (s = strstr(s, word)) != NULL; s += n)
        if ((s == list || s[-1] == ' ' || s[-1] == ',') && (s[n] == '\0' || s[n] == ' ' || s[n] == '\n' ||
                                                             s[n] == ','))
            return true;
    return false;
}

/* "key N" in a flat-keyed file (memory.events, memory.oom_control); -1 if absent. */
static long long keyed(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
        if (strncmp(s, key, n) == 0 && s[n] == ' ')
            return strtoll(s + n + 1, NULL, 10);
    return -1;
}

/* ------------------------------------------------------- where we are */

static const char *const v1_ctrl[CG_MAX_DIRS] = {"memory", "pids"};

/* mountpoint + (path relative to the mount's root); false if not below it. */
static bool join_mount(const char *mroot, const char *mdir, const char *path, char *out, size_t n)
{
    const char *rel = path;
    size_t rl = strlen(mroot);
    if (strcmp(mroot, "/") != 0) {
        if (strncmp(path, mroot, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
            return false;
        rel = path + rl;
    }
    if (strcmp(rel, "/") == 0)
        rel = "";
    return snprintf(out, n, "%s%s", mdir, rel) < (int)n;
}

void sbx_cgroup_locate(sbx_cgroup_dirs *w)
{
    memset(w, 0, sizeof *w);
    char *v1dir[CG_MAX_DIRS] = {w->v1_memory, w->v1_pids};
    char v2path[PATH_MAX] = "", v1path[CG_MAX_DIRS][PATH_MAX] = {"", ""};
    char line[4096];
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (!c2)
                continue;
            *c1 = *c2 = '\0';
            if (strcmp(line, "0") == 0 && c1[1] == '\0')
                snprintf(v2path, sizeof v2path, "%s", c2 + 1);
            for (size_t i = 0; i < CG_MAX_DIRS; i++)
                if (has_word(c1 + 1, v1_ctrl[i]))
                    snprintf(v1path[i], sizeof v1path[i], "%s", c2 + 1);
        }
        fclose(f);
    }
    f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char root[PATH_MAX], dir[PATH_MAX], fstype[32], opts[512];
        const char *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", root, dir) != 2 ||
            sscanf(sep + 3, "%31s %*s %511s", fstype, opts) != 2)
            continue;
        if (strcmp(fstype, "cgroup2") == 0 && v2path[0] && !w->v2[0])
            join_mount(root, dir, v2path, w->v2, sizeof w->v2);
        else if (strcmp(fstype, "cgroup") == 0)
            for (size_t i = 0; i < CG_MAX_DIRS; i++)
                if (v1path[i][0] && !v1dir[i][0] && has_word(opts, v1_ctrl[i]))
                    join_mount(root, dir, v1path[i], v1dir[i], PATH_MAX);
    }
    fclose(f);
}

/* -------------------------------------------------------------- create */

static void remove_dirs(sbx_cgroup *c)
{
    for (size_t i = 0; i < c->ndir; i++)
        if (c->dir[i])
            rmdir(c->dir[i]);
}

static void cg_release(sbx_cgroup *c)
{
    for (size_t i = 0; i < CG_MAX_DIRS; i++)
        mem_free(c->dir[i]);
    mem_free(c);
}

/* mkdir parent/name into c->dir[c->ndir]. */
static int make_dir(sbx_cgroup *c, const char *parent, const char *name, char **err)
{
    char *d = mem_printf("%s/%s", parent, name);
    if (!d)
        return err_set(err, -ENOMEM, "out of memory");
    if (mkdir(d, 0755) < 0) {
        int e = errno;
        mem_free(d);
        if (e == EACCES || e == EPERM || e == EROFS)
            return err_set(err, -ENOTSUP,
                           "cgroup %s is not writable by uid %u (%s): limits fall back to rlimits; run venom as "
                           "root or in a delegated cgroup (systemd-run --user -p Delegate=yes)",
                           parent, (unsigned)geteuid(), strerror(e));
        return err_set(err, -e, "cannot create a cgroup in %s: %s", parent, strerror(e));
    }
    c->dir[c->ndir++] = d;
    return 0;
}

static int set_limit(const char *dir, const char *file, const char *val, bool optional, char **err)
{
    int rc = write_at(dir, file, val);
    if (rc == -ENOENT && optional)
        return 0;
    if (rc < 0)
        return err_set(err, rc, "cannot set %s/%s to %s: %s", dir, file, val, strerror(-rc));
    return 0;
}

static int new_v2(sbx_cgroup *c, const char *our, const char *name, uint64_t mem, uint32_t pids, char **err)
{
    char ctrls[512], sub[512], v[64];
    int rc = read_at(our, "cgroup.controllers", ctrls, sizeof ctrls);
    if (rc < 0)
        return err_set(err, -ENOTSUP, "cannot read %s/cgroup.controllers: %s", our, strerror(-rc));
    if (!has_word(ctrls, "memory") || !has_word(ctrls, "pids"))
        return err_set(err, -ENOTSUP,
                       "cgroup v2: the memory and pids controllers are not available in %s (it has: %.100s): "
                       "limits fall back to rlimits; delegate them (systemd-run -p Delegate=memory pids)",
                       our, ctrls[0] ? ctrls : "none");
    bool cpu = has_word(ctrls, "cpu");
    if (read_at(our, "cgroup.subtree_control", sub, sizeof sub) < 0)
        sub[0] = '\0';
    if (!has_word(sub, "memory") || !has_word(sub, "pids") || (cpu && !has_word(sub, "cpu"))) {
        rc = write_at(our, "cgroup.subtree_control", cpu ? "+memory +pids +cpu" : "+memory +pids");
        if (rc < 0)
            return err_set(err, -ENOTSUP,
                           "cgroup v2: cannot enable memory and pids in %s/cgroup.subtree_control (%s): run venom "
                           "in a delegated cgroup whose processes sit in a leaf below it",
                           our, strerror(-rc));
    }
    if ((rc = make_dir(c, our, name, err)) < 0)
        return rc;
    snprintf(v, sizeof v, "%" PRIu64, mem);
    if ((rc = set_limit(c->dir[0], "memory.max", v, false, err)) < 0 ||
        (rc = set_limit(c->dir[0], "memory.swap.max", "0", true, err)) < 0)
        return rc;
    snprintf(v, sizeof v, "%" PRIu32, pids);
    if ((rc = set_limit(c->dir[0], "pids.max", v, false, err)) < 0)
        return rc;
    if (cpu && (rc = set_limit(c->dir[0], "cpu.max", "100000 100000", true, err)) < 0)
        return rc;
    return 0;
}

static int new_v1(sbx_cgroup *c, const sbx_cgroup_dirs *w, const char *name, uint64_t mem, uint32_t pids, char **err)
{
    char v[64];
    int rc;
    const char *v1dir[CG_MAX_DIRS] = {w->v1_memory, w->v1_pids};
    for (size_t i = 0; i < CG_MAX_DIRS; i++)
        if ((rc = make_dir(c, v1dir[i], name, err)) < 0)
            return rc;
    snprintf(v, sizeof v, "%" PRIu64, mem);
    if ((rc = set_limit(c->dir[0], "memory.limit_in_bytes", v, false, err)) < 0)
        return rc;
    /* memsw (memory + swap) exists only with swap accounting; it must not
     * be below limit_in_bytes, which was just set. */
    rc = write_at(c->dir[0], "memory.memsw.limit_in_bytes", v);
    if (rc < 0 && rc != -ENOENT)
        return err_set(err, rc, "cannot set %s/memory.memsw.limit_in_bytes: %s", c->dir[0], strerror(-rc));
    snprintf(v, sizeof v, "%" PRIu32, pids);
    return set_limit(c->dir[1], "pids.max", v, false, err);
}

int sbx_cgroup_new(const sandbox_policy *p, sbx_cgroup **out, char **err)
{
    if (!out)
        return err_set(err, -EINVAL, "sbx_cgroup_new: out is NULL");
    *out = NULL;
    if (!p)
        return err_set(err, -EINVAL, "sbx_cgroup_new: no policy");
    uint64_t mem = p->memory_bytes ? p->memory_bytes : SANDBOX_DEFAULT_MEMORY;
    uint32_t pids = p->processes ? p->processes : SANDBOX_DEFAULT_PROCESSES;

    sbx_cgroup_dirs *w = mem_calloc(1, sizeof *w);
    sbx_cgroup *c = mem_calloc(1, sizeof *c);
    int rc = 0;
    if (!w || !c) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    sbx_cgroup_locate(w);
    char name[64];
    snprintf(name, sizeof name, "venom-%ld-%u", (long)getpid(), atomic_fetch_add(&cg_counter, 1));

    /* v2 first: it is the only one a non-root user can be delegated. */
    char ctrls[512] = "";
    if (w->v2[0] && read_at(w->v2, "cgroup.controllers", ctrls, sizeof ctrls) == 0 && has_word(ctrls, "memory") &&
        has_word(ctrls, "pids")) {
        c->version = 2;
        rc = new_v2(c, w->v2, name, mem, pids, err);
    } else if (w->v1_memory[0] && w->v1_pids[0]) {
        c->version = 1;
        rc = new_v1(c, w, name, mem, pids, err);
    } else if (w->v2[0]) {
        c->version = 2;
        rc = new_v2(c, w->v2, name, mem, pids, err); /* explains what is missing */
    } else {
        rc = err_set(err, -ENOTSUP, "no cgroup hierarchy with the memory and pids controllers is mounted: limits "
                     "fall back to rlimits");
    }
out:
    mem_free(w);
    if (rc < 0) {
        if (c) {
            remove_dirs(c);
            cg_release(c);
        }
        return rc;
    }
    *out = c;
    return 0;
}

/* ------------------------------------------------------------ use it */

int sbx_cgroup_add(sbx_cgroup *c, pid_t pid, char **err)
{
    if (!c || pid <= 0)
        return err_set(err, -EINVAL, "sbx_cgroup_add: no cgroup or bad pid %ld", (long)pid);
    char v[32];
    snprintf(v, sizeof v, "%ld", (long)pid);
    for (size_t i = 0; i < c->ndir; i++) {
        int rc = write_at(c->dir[i], "cgroup.procs", v);
        if (rc < 0)
            return err_set(err, rc, "cannot move pid %ld into %s: %s", (long)pid, c->dir[i], strerror(-rc));
    }
    return 0;
}

/* SIGKILL each pid in dir/cgroup.procs; returns how many were listed, or -errno. */
static int kill_listed(const char *dir)
{
    char buf[8192];
    int rc = read_at(dir, "cgroup.procs", buf, sizeof buf);
    if (rc < 0)
        return rc;
    int n = 0;
    for (char *s = buf; *s;) {
        char *end;
        long pid = strtol(s, &end, 10);
        if (end == s)
            break;
        if (pid > 0) {
            kill((pid_t)pid, SIGKILL);
            n++;
        }
        s = end;
        while (*s == '\n')
            s++;
    }
    return n;
}

int sbx_cgroup_kill(sbx_cgroup *c)
{
    if (!c)
        return -EINVAL;
    if (c->version == 2) {
        int rc = write_at(c->dir[0], "cgroup.kill", "1");
        if (rc != -ENOENT)
            return rc;
    }
    /* v1 (or v2 before 5.14): kill what is listed until nothing is; the pids
     * hierarchy is last, as its list also catches children forked meanwhile. */
    for (int round = 0; round < 100; round++) {
        int total = 0;
        for (size_t i = 0; i < c->ndir; i++) {
            int n = kill_listed(c->dir[i]);
            if (n < 0)
                return n;
            total += n;
        }
        if (total == 0)
            return 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return -EBUSY;
}

bool sbx_cgroup_oom(const sbx_cgroup *c)
{
    char buf[1024];
    if (!c)
        return false;
    if (c->version == 2)
        return read_at(c->dir[0], "memory.events", buf, sizeof buf) == 0 && keyed(buf, "oom_kill") > 0;
    if (read_at(c->dir[0], "memory.oom_control", buf, sizeof buf) == 0 && keyed(buf, "oom_kill") >= 0)
        return keyed(buf, "oom_kill") > 0;
    return read_at(c->dir[0], "memory.failcnt", buf, sizeof buf) == 0 && strtoll(buf, NULL, 10) > 0;
}

int sbx_cgroup_version(const sbx_cgroup *c)
{
    return c ? c->version : 0;
}

const char *sbx_cgroup_dir(const sbx_cgroup *c)
{
    return c ? c->dir[0] : NULL;
}

static bool is_empty(const sbx_cgroup *c)
{
    char buf[64];
    for (size_t i = 0; i < c->ndir; i++)
        if (read_at(c->dir[i], "cgroup.procs", buf, sizeof buf) == 0 && buf[0])
            return false;
    return true;
}

void sbx_cgroup_free(sbx_cgroup *c)
{
    if (!c)
        return;
    for (int i = 0; i < 2000; i++) { /* ~2 s */
        if (is_empty(c))
            break;
        if (i % 50 == 0)
            sbx_cgroup_kill(c);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < c->ndir; i++)
        for (int t = 0; t < 100 && rmdir(c->dir[i]) < 0 && errno == EBUSY; t++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    cg_release(c);
}
