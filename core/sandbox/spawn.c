/*
 * spawn.c — sandbox_spawn(): a long-lived command (an MCP server) under a
 * sandbox_policy, with pipes for its stdin, stdout and stderr.
 *
 * The layers are those of a worker (sandbox.c), applied in the same order
 * in the cloned child: uid/gid maps and the mount view (nsfs), rlimits,
 * session, no_new_privs, landlock, capabilities dropped. Unlike a worker the
 * child then loads the seccomp program itself (compiled once, in the parent,
 * with execve allowed) and execs the command directly: there is no
 * venom-worker in between. Set-up errors travel back over a close-on-exec
 * status pipe: EOF without a message means the exec succeeded.
 */
#include "util/common.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "sandbox/harden.h"
#include "sandbox/landlock.h"
#include "sandbox/nsfs.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "util/err.h"

#define SPAWN_SETUP_TIMEOUT_MS 10000
#define STATUS_FD 3
#define GO_FD 4

/* One compiled program per network setting (exec is always allowed here). */
static sbx_filter *spawn_filters[2];
static pthread_mutex_t spawn_filters_lock = PTHREAD_MUTEX_INITIALIZER;

static int spawn_filter(const sandbox_policy *p, const sbx_filter **out, char **err)
{
    int k = p->net ? 1 : 0, rc = 0;
    pthread_mutex_lock(&spawn_filters_lock);
    if (!spawn_filters[k])
        rc = sbx_seccomp_build(p, &spawn_filters[k], err);
    *out = spawn_filters[k];
    pthread_mutex_unlock(&spawn_filters_lock);
    return rc;
}

/* In the child: report "layer: message" on the status pipe and die. Only
 * system calls (and snprintf). */
static __attribute__((noreturn)) void spawn_fail(int fd, const char *layer, const char *msg)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s: %s", layer, msg ? msg : "failed");
    if (n > 0)
        (void)!write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    _exit(121);
}

typedef struct child_args {
    const sandbox_policy *p;
    sbx_fs_plan *plan;
    const sbx_filter *filter;
    const char *const *argv;
    int in_r, out_w, err_w, status_w, go_r;
    bool userns, ns;
    uid_t uid;
    gid_t gid;
} child_args;

static __attribute__((noreturn)) void spawn_child(const child_args *a)
{
    char *err = NULL;
    int abi = 0;
    int sfd = a->status_w;
    mem_child_arena(); /* no malloc from here on: see mem.h */
    if (a->ns) {
        if (sbx_ns_setup_ids(a->uid, a->gid, a->userns, &err) < 0)
            spawn_fail(sfd, "user namespace", err);
        if (sbx_fs_plan_apply(a->plan, &err) < 0)
            spawn_fail(sfd, "filesystem view", err);
    } else if (chdir(a->p->workdir) < 0) {
        spawn_fail(sfd, "workdir", strerror(errno));
    }
    if (sbx_rlimits(a->p, &err) < 0)
        spawn_fail(sfd, "rlimits", err);
    if (sbx_session(&err) < 0)
        spawn_fail(sfd, "session", err);
    if (sbx_no_new_privs(&err) < 0)
        spawn_fail(sfd, "no_new_privs", err);
    int lrc = sbx_landlock_apply(a->p, a->ns ? "/tmp" : NULL, &abi, &err);
    if (lrc < 0 && (!a->ns || (lrc != -ENOSYS && lrc != -EOPNOTSUPP)))
        spawn_fail(sfd, "landlock", err);
    if (sbx_drop_caps(&err) < 0)
        spawn_fail(sfd, "capabilities", err);
    /* stdin/stdout/stderr from the pipes; the status pipe at 3, go at 4;
     * everything else closed. */
    int fds[5] = {a->in_r, a->out_w, a->err_w, sfd, a->go_r};
    for (int i = 0; i < 5; i++) {
        /* move every source above 4 first so that dup2 never clobbers one */
        int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
        if (d < 0)
            spawn_fail(sfd, "descriptors", strerror(errno));
        fds[i] = d;
    }
    sfd = fds[3];
    for (int i = 0; i < 5; i++)
        if (dup3(fds[i], i, i >= 3 ? O_CLOEXEC : 0) < 0)
            spawn_fail(sfd, "descriptors", strerror(errno));
    sfd = STATUS_FD;
    if (syscall(SYS_close_range, 5u, ~0u, 0u) < 0) {
        for (int fd = 5; fd < 1024; fd++)
            close(fd);
    }
    char go = 0;
    if (read(GO_FD, &go, 1) != 1 || go != 'G')
        _exit(122);
    close(GO_FD);
    int src = sbx_seccomp_load(a->filter);
    if (src < 0)
        spawn_fail(sfd, "seccomp", strerror(-src));
    char *const *envp = a->p->env.v ? a->p->env.v : (char *[]){NULL};
    execve(a->argv[0], (char *const *)a->argv, envp);
    char msg[600];
    snprintf(msg, sizeof msg, "cannot execute %s: %s", a->argv[0], strerror(errno));
    spawn_fail(sfd, "exec", msg);
}

static void close_pair(int *v)
{
    for (int i = 0; i < 2; i++)
        if (v[i] >= 0) {
            close(v[i]);
            v[i] = -1;
        }
}

int sandbox_spawn(const sandbox_policy *p, const char *const *argv, sandbox_proc **out, char **err)
{
    int rc = 0;
    int in[2] = {-1, -1}, so[2] = {-1, -1}, se[2] = {-1, -1}, st[2] = {-1, -1}, go[2] = {-1, -1};
    sbx_fs_plan *plan = NULL;
    sandbox_proc *sp = NULL;
    if (!out || !p || !argv || !argv[0] || argv[0][0] != '/')
        return err_set(err, -EINVAL, "sandbox_spawn: needs a policy and an absolute command path");
    *out = NULL;
    if (!p->exec)
        return err_set(err, -EINVAL, "sandbox_spawn: the policy must allow exec");
    const sbx_filter *filter = NULL;
    if ((rc = spawn_filter(p, &filter, err)) < 0)
        return err_prefix(err, rc, "sandbox: seccomp");
    if (sbx_caps_prepare() < 0)
        return err_set(err, -ENOMEM, "out of memory");
    sp = mem_calloc(1, sizeof *sp);
    if (!sp)
        return err_set(err, -ENOMEM, "out of memory");
    *sp = (sandbox_proc){.pid = 0, .in_fd = -1, .out_fd = -1, .err_fd = -1};
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(so, O_CLOEXEC) < 0 || pipe2(se, O_CLOEXEC) < 0 ||
        pipe2(st, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
        rc = err_set(err, -errno, "sandbox: pipe: %s", strerror(errno));
        goto fail;
    }
    unsigned long flags = sbx_ns_flags(p);
    child_args a = {.p = p,
                    .filter = filter,
                    .argv = argv,
                    .in_r = in[0],
                    .out_w = so[1],
                    .err_w = se[1],
                    .status_w = st[1],
                    .go_r = go[0],
                    .userns = (flags & CLONE_NEWUSER) != 0,
                    .ns = true,
                    .uid = getuid(),
                    .gid = getgid()};
    if ((rc = sbx_fs_plan_new(p, &plan, err)) < 0) {
        err_prefix(err, rc, "sandbox: filesystem view");
        goto fail;
    }
    a.plan = plan;
    char *cerr = NULL;
    pid_t pid = sbx_clone(flags, NULL, &cerr);
    if (pid < 0 && (pid == -EPERM || pid == -EINVAL || pid == -ENOSPC)) {
        /* No namespaces here: landlock + seccomp + limits alone. */
        mem_free(cerr);
        cerr = NULL;
        a.ns = false;
        pid = sbx_clone(0, NULL, &cerr);
    }
    if (pid < 0) {
        rc = err_set(err, pid, "sandbox: cannot create the process: %s", cerr ? cerr : strerror(-pid));
        mem_free(cerr);
        goto fail;
    }
    if (pid == 0)
        spawn_child(&a);
    sp->pid = pid;
    sp->ns = a.ns;
    close(in[0]);
    close(so[1]);
    close(se[1]);
    close(st[1]);
    close(go[0]);
    in[0] = so[1] = se[1] = st[1] = go[0] = -1;
    sp->in_fd = in[1];
    sp->out_fd = so[0];
    sp->err_fd = se[0];
    in[1] = so[0] = se[0] = -1;
    sbx_cgroup *cg = NULL;
    char *gerr = NULL;
    if (sbx_cgroup_new(p, &cg, &gerr) == 0 && sbx_cgroup_add(cg, pid, &gerr) < 0) {
        sbx_cgroup_free(cg);
        cg = NULL;
    }
    mem_free(gerr);
    sp->cg = cg;
    if (write(go[1], "G", 1) != 1) {
        /* the child is gone already: the status pipe says why */
    }
    close_pair(go);
    /* Read the status pipe to EOF: empty means the exec happened. */
    char msg[1024];
    size_t got = 0;
    struct pollfd pfd = {.fd = st[0], .events = POLLIN};
    for (;;) {
        int pr = poll(&pfd, 1, SPAWN_SETUP_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            rc = err_set(err, -ETIMEDOUT, "sandbox: the process did not start within %d ms", SPAWN_SETUP_TIMEOUT_MS);
            goto fail;
        }
        ssize_t r = read(st[0], msg + got, sizeof msg - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == sizeof msg - 1)
            break;
    }
    close_pair(st);
    if (got > 0) {
        msg[got] = '\0';
        int status = 0;
        (void)sandbox_proc_wait(sp, 2000, &status);
        rc = err_set(err, strncmp(msg, "exec:", 5) ? -EPERM : -ENOEXEC, "sandbox: %s", msg);
        goto fail;
    }
    sbx_fs_plan_free(plan);
    *out = sp;
    return 0;
fail:
    sbx_fs_plan_free(plan);
    close_pair(in);
    close_pair(so);
    close_pair(se);
    close_pair(st);
    close_pair(go);
    sandbox_proc_free(sp);
    return rc;
}

int sandbox_proc_wait(sandbox_proc *sp, unsigned timeout_ms, int *status)
{
    if (!sp || sp->pid <= 0)
        return 1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st = 0;
        pid_t r = waitpid(sp->pid, &st, WNOHANG);
        if (r == sp->pid || (r < 0 && errno == ECHILD)) {
            if (status)
                *status = st;
            sp->pid = 0;
            return 1;
        }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= (long)timeout_ms)
            return 0;
        usleep(2000);
    }
}

void sandbox_proc_signal(sandbox_proc *sp, int sig)
{
    if (!sp || sp->pid <= 0)
        return;
    /* pid 1 of a pid namespace ignores signals it has no handler for, except
     * SIGKILL; without one the process leads its own session and group. */
    if (!sp->ns)
        kill(-sp->pid, sig);
    kill(sp->pid, sig);
}

void sandbox_proc_free(sandbox_proc *sp)
{
    if (!sp)
        return;
    if (sp->in_fd >= 0)
        close(sp->in_fd);
    if (sp->out_fd >= 0)
        close(sp->out_fd);
    if (sp->err_fd >= 0)
        close(sp->err_fd);
    if (sp->pid > 0) {
        sandbox_proc_signal(sp, SIGKILL);
        waitpid(sp->pid, NULL, 0);
    }
    sbx_cgroup_free(sp->cg);
    mem_free(sp);
}
