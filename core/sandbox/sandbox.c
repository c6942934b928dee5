#include "util/common.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include <venom/venom.h>

#include "plugin/host.h"
#include "plugin/registry.h"
#include "sandbox/cgroup.h"
#include "sandbox/harden.h"
#include "sandbox/ipc.h"
#include "sandbox/landlock.h"
#include "sandbox/nsfs.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "util/err.h"

#define WORKER_FD 3
#define SETUP_TIMEOUT_MS 5000

/* ------------------------------------------------------------ worker path */

static char worker_path[4096];
static pthread_once_t worker_once = PTHREAD_ONCE_INIT;

static void find_worker(void)
{
    const char *env = getenv("VENOM_WORKER");
    if (env && *env) {
        snprintf(worker_path, sizeof worker_path, "%s", env);
        return;
    }
    char exe[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(worker_path, sizeof worker_path, "venom-worker");
        return;
    }
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
    }
    snprintf(worker_path, sizeof worker_path, "%s/%s/venom-worker", exe, VENOM_PLUGIN_RELDIR);
}

const char *sandbox_worker_path(void)
{
    pthread_once(&worker_once, find_worker);
    return worker_path;
}

/* ------------------------------------------------------------ filters */

/* One compiled program per (net, exec) pair, built once per process. */
static sbx_filter *filters[4];
static pthread_mutex_t filters_lock = PTHREAD_MUTEX_INITIALIZER;

static int get_filter(const sandbox_policy *p, const sbx_filter **out, char **err)
{
    int k = (p->net ? 1 : 0) | (p->exec ? 2 : 0), rc = 0;
    pthread_mutex_lock(&filters_lock);
    if (!filters[k])
        rc = sbx_seccomp_build(p, &filters[k], err);
    *out = filters[k];
    pthread_mutex_unlock(&filters_lock);
    return rc;
}

/* ------------------------------------------------------------ the child */

/* Report a set-up failure to the supervisor and die: nothing of the skill
 * has run, the supervisor refuses the call (fail closed). */
static __attribute__((noreturn)) void child_fail(int sock, const char *layer, const char *msg)
{
    json_t *h = json_pack("{s:s, s:s, s:s}", "op", "setup_error", "layer", layer, "error", msg ? msg : "failed");
    if (h)
        (void)ipc_send(sock, h, NULL, 0, NULL);
    _exit(121);
}

static __attribute__((noreturn)) void child_main(const sandbox_policy *p, sbx_fs_plan *plan, int sock, bool userns,
                                                 bool ns, uid_t uid, gid_t gid, const char *mode)
{
    char *err = NULL;
    int abi = 0;
    mem_child_arena(); /* from here on no malloc: see mem.h */
    if (ns) {
        if (sbx_ns_setup_ids(uid, gid, userns, &err) < 0)
            child_fail(sock, "user namespace", err);
        if (sbx_fs_plan_apply(plan, &err) < 0)
            child_fail(sock, "filesystem view", err);
    } else if (chdir(p->workdir) < 0) {
        child_fail(sock, "workdir", strerror(errno));
    }
    if (sbx_rlimits(p, &err) < 0)
        child_fail(sock, "rlimits", err);
    if (sbx_session(&err) < 0)
        child_fail(sock, "session", err);
    if (sbx_no_new_privs(&err) < 0)
        child_fail(sock, "no_new_privs", err);
    /* The private /tmp exists only in the mount view; without it the host's
     * /tmp must not become writable. */
    int lrc = sbx_landlock_apply(p, ns ? "/tmp" : NULL, &abi, &err);
    if (lrc < 0 && (!ns || (lrc != -ENOSYS && lrc != -EOPNOTSUPP)))
        child_fail(sock, "landlock", err); /* without a mount namespace landlock is the filesystem layer */
    if (sbx_drop_caps(&err) < 0)
        child_fail(sock, "capabilities", err);
    if (sock != WORKER_FD) {
        if (dup2(sock, WORKER_FD) < 0)
            child_fail(sock, "ipc", strerror(errno));
        close(sock);
        sock = WORKER_FD;
    }
    if (sbx_close_fds(WORKER_FD, &err) < 0)
        child_fail(sock, "descriptors", err);
    /* Wait until the supervisor has put us into our cgroup (if any). */
    char go = 0;
    if (read(WORKER_FD, &go, 1) != 1 || go != 'G')
        _exit(122);
    char *argv[] = {"venom-worker", "3", (char *)mode, NULL};
    char **envp = p->env.v ? p->env.v : (char *[]){NULL};
    execve(sandbox_worker_path(), argv, envp);
    char msg[512];
    snprintf(msg, sizeof msg, "cannot exec %s: %s", sandbox_worker_path(), strerror(errno));
    child_fail(sock, "exec", msg);
}

/* ------------------------------------------------------------ supervisor */

static void set_error(sandbox_result *res, int32_t code, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void set_error(sandbox_result *res, int32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mem_free(res->error);
    res->error = mem_vprintf(fmt, ap);
    va_end(ap);
    res->code = code;
    json_decref(res->value);
    res->value = NULL;
}

static void describe_exit(sandbox_result *res, int status, const char *skill)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *name = sigabbrev_np(sig);
        if (sig == SIGSYS)
            set_error(res, VENOM_E_PERM, "%s: killed by the sandbox (SIGSYS: a forbidden system call)", skill);
        else if (sig == SIGXCPU)
            set_error(res, VENOM_E_TIMEOUT, "%s: CPU time limit exceeded", skill);
        else if (sig == SIGXFSZ)
            set_error(res, VENOM_E_TOOBIG, "%s: file size limit exceeded", skill);
        else
            set_error(res, VENOM_E_FAILED, "%s: the skill crashed (SIG%s)", skill, name ? name : "?");
    } else if (WIFEXITED(status)) {
        set_error(res, VENOM_E_FAILED, "%s: the worker exited with status %d without a result", skill,
                  WEXITSTATUS(status));
    } else {
        set_error(res, VENOM_E_FAILED, "%s: the worker ended without a result", skill);
    }
}

/* A worker process created by the supervisor (a one-call worker or a zygote). */
typedef struct spawned {
    pid_t pid;
    int sock;
    int pidfd;
    bool ns;         /* in its own namespaces (pid 1 of a pid namespace) */
    sbx_cgroup *cg;  /* its cgroup, or NULL */
} spawned;

static void spawned_kill(const spawned *w)
{
    /* pid 1 of a pid namespace takes every process of it along; without a
     * pid namespace the worker is a session (and group) leader. */
    if (!w->ns)
        kill(-w->pid, SIGKILL);
    kill(w->pid, SIGKILL);
}

/* Wait for the worker (grace_ms, then SIGKILL); returns its wait status. */
static int spawned_reap(spawned *w, unsigned grace_ms)
{
    int status = 0;
    uint64_t until = ipc_now_ms() + grace_ms;
    pid_t r;
    while ((r = waitpid(w->pid, &status, WNOHANG)) == 0 && ipc_now_ms() < until)
        usleep(200);
    if (r == 0) {
        spawned_kill(w);
        waitpid(w->pid, &status, 0);
    }
    return status;
}

static void spawned_release(spawned *w)
{
    sbx_cgroup_free(w->cg);
    if (w->pidfd >= 0)
        close(w->pidfd);
    if (w->sock >= 0)
        close(w->sock);
    *w = (spawned){.pid = 0, .sock = -1, .pidfd = -1};
}

/* Clone and set up a worker, put it in its cgroup, let it exec venom-worker
 * in `mode` ("call" or "zygote") and send it the seccomp program. */
static int spawn_worker(const sandbox_policy *p, const char *mode, spawned *w, char **err)
{
    *w = (spawned){.pid = 0, .sock = -1, .pidfd = -1};
    const sbx_filter *filter = NULL;
    int rc = get_filter(p, &filter, err);
    if (rc < 0)
        return err_prefix(err, rc, "sandbox: seccomp");
    if (sbx_caps_prepare() < 0)
        return err_set(err, -ENOMEM, "out of memory");
    (void)sandbox_worker_path(); /* resolved here: the child only reads it */
    json_t *setup = json_pack("{s:s}", "op", "setup");
    if (!setup)
        return err_set(err, -ENOMEM, "out of memory");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        json_decref(setup);
        return err_set(err, -errno, "sandbox: socketpair: %s", strerror(errno));
    }
    uid_t uid = getuid();
    gid_t gid = getgid();
    unsigned long flags = sbx_ns_flags(p);
    bool userns = (flags & CLONE_NEWUSER) != 0;
    w->ns = true;
    /* The view is planned here (paths resolved, allocations done) and only
     * applied in the child. */
    sbx_fs_plan *plan = NULL;
    rc = sbx_fs_plan_new(p, &plan, err);
    if (rc < 0) {
        close(sv[0]);
        close(sv[1]);
        json_decref(setup);
        return err_prefix(err, rc, "sandbox: filesystem view");
    }
    char *cerr = NULL;
    pid_t pid = sbx_clone(flags, &w->pidfd, &cerr);
    if (pid < 0 && (pid == -EPERM || pid == -EINVAL || pid == -ENOSPC)) {
        /* No namespaces here: landlock + seccomp + limits alone. */
        mem_free(cerr);
        cerr = NULL;
        w->ns = false;
        pid = sbx_clone(0, &w->pidfd, &cerr);
    }
    if (pid < 0) {
        sbx_fs_plan_free(plan);
        close(sv[0]);
        close(sv[1]);
        json_decref(setup);
        rc = err_set(err, pid, "sandbox: cannot create the worker: %s", cerr ? cerr : strerror(-pid));
        mem_free(cerr);
        return rc;
    }
    if (pid == 0) {
        close(sv[0]);
        child_main(p, plan, sv[1], userns, w->ns, uid, gid, mode);
    }
    sbx_fs_plan_free(plan);
    close(sv[1]);
    w->pid = pid;
    w->sock = sv[0];
    /* cgroup limits where writable (v2 delegated, v1 as root); rlimits always. */
    char *gerr = NULL;
    if (sbx_cgroup_new(p, &w->cg, &gerr) == 0 && sbx_cgroup_add(w->cg, pid, &gerr) < 0) {
        sbx_cgroup_free(w->cg);
        w->cg = NULL;
    }
    mem_free(gerr);
    if (send(w->sock, "G", 1, MSG_NOSIGNAL) != 1) {
        /* the child died already: its setup_error or status tells why (never SIGPIPE) */
    }
    const void *prog = NULL;
    size_t prog_len = 0;
    sbx_seccomp_prog(filter, &prog, &prog_len);
    char *serr = NULL;
    if (ipc_send_until(w->sock, ipc_now_ms() + SETUP_TIMEOUT_MS, setup, prog, prog_len, &serr) < 0)
        mem_free(serr); /* a child that failed set-up says why in its setup_error frame */
    json_decref(setup);
    return 0;
}

typedef void (*kill_fn)(void *arg);

/* Send the call and converse until the result. Returns 0 with res set, 1
 * when the worker closed the channel without a result (the caller asks the
 * exit status), or a negative errno when a layer could not be set up. */
static int converse(int sock, const sandbox_policy *p, const char *manifest_path, const char *skill,
                    const json_t *args, atomic_int *cancel, kill_fn kill_worker, void *karg, sandbox_result *res,
                    char **err)
{
    int rc = 0;
    json_t *call = json_pack("{s:s, s:s, s:s, s:s}", "op", "call", "manifest", manifest_path, "skill", skill,
                             "workdir", p->workdir);
    char *args_text = json_dumps(args, JSON_COMPACT);
    if (!call || !args_text) {
        rc = err_set(err, -ENOMEM, "out of memory");
        kill_worker(karg);
        goto out;
    }
    char *serr = NULL;
    if (ipc_send_until(sock, ipc_now_ms() + SETUP_TIMEOUT_MS, call, args_text, strlen(args_text), &serr) < 0)
        mem_free(serr); /* read what the worker has to say, then its status */
    uint64_t deadline = ipc_now_ms() + (p->time_ms ? p->time_ms : SANDBOX_DEFAULT_TIME_MS);
    size_t max = p->output_bytes ? p->output_bytes : SANDBOX_DEFAULT_OUTPUT;
    for (;;) {
        /* Wait in short steps (cancellation), but receive with the real
         * deadline so that a step never ends inside a frame. */
        uint64_t step = ipc_now_ms() + 100;
        char *rerr = NULL;
        ipc_frame f = {0};
        int r = ipc_wait(sock, step < deadline ? step : deadline);
        if (r == 0)
            r = ipc_recv(sock, deadline, max, &f, &rerr);
        if (r == -ETIMEDOUT) {
            mem_free(rerr);
            if (ipc_now_ms() >= deadline) {
                kill_worker(karg);
                set_error(res, VENOM_E_TIMEOUT, "%s: timed out after %u ms (limits.time_ms); the worker was killed",
                          skill, p->time_ms ? p->time_ms : SANDBOX_DEFAULT_TIME_MS);
                break;
            }
            if (cancel && atomic_load(cancel)) {
                kill_worker(karg);
                set_error(res, VENOM_E_CANCELLED, "%s: cancelled", skill);
                break;
            }
            continue;
        }
        if (r < 0) {
            if (r == -EPIPE) {
                rc = 1; /* closed without a result: the exit status decides */
            } else {
                kill_worker(karg);
                set_error(res, VENOM_E_FAILED, "%s: the worker sent a bad frame (%s); it was killed", skill,
                          rerr ? rerr : "protocol error");
            }
            mem_free(rerr);
            break;
        }
        const char *op = ipc_op(&f);
        bool done = true;
        if (!strcmp(op, "log")) {
            const char *msg = json_string_value(json_object_get(f.hdr, "msg"));
            json_int_t level = json_integer_value(json_object_get(f.hdr, "level"));
            if (msg)
                host_log_forward(p->pack_name ? p->pack_name : skill, (int)level, msg);
            done = false;
        } else if (!strcmp(op, "broker")) {
            /* a host service for the skill: checked against the pack's
             * manifest here, whatever the worker claims */
            const char *service = json_string_value(json_object_get(f.hdr, "service"));
            char *resp = NULL, *berr = NULL;
            int32_t code = host_broker_serve(service, p->manifest, f.payload ? (const char *)f.payload : "", &resp,
                                             &berr);
            json_t *h = json_pack("{s:s, s:i, s:s?}", "op", "broker_reply", "code", code, "error", berr);
            char *rerr2 = NULL;
            if (!h || ipc_send_until(sock, deadline, h, resp, resp && code == VENOM_OK ? strlen(resp) : 0, &rerr2) < 0)
                mem_free(rerr2); /* the worker is gone or stuck: its end shows below */
            json_decref(h);
            if (resp && service && !strcmp(service, "secret"))
                sodium_memzero(resp, strlen(resp)); /* a secret's value: no copy left behind */
            mem_free(resp);
            mem_free(berr);
            done = false;
        } else if (!strcmp(op, "setup_error")) {
            const char *layer = json_string_value(json_object_get(f.hdr, "layer"));
            const char *msg = json_string_value(json_object_get(f.hdr, "error"));
            kill_worker(karg);
            rc = err_set(err, -EPERM, "sandbox: %s could not be set up: %s; refusing to run '%s' unsandboxed",
                         layer ? layer : "a layer", msg ? msg : "failed", skill);
        } else if (!strcmp(op, "result")) {
            json_t *code = json_object_get(f.hdr, "code");
            const char *msg = json_string_value(json_object_get(f.hdr, "error"));
            if (!json_is_integer(code)) {
                set_error(res, VENOM_E_FAILED, "%s: the worker sent a result without a code", skill);
            } else if (json_integer_value(code) != 0) {
                json_int_t c = json_integer_value(code);
                set_error(res, c < 0 && c >= -1000 ? (int32_t)c : VENOM_E_FAILED, "%s",
                          msg ? msg : "the skill failed without a message");
                res->load = json_is_true(json_object_get(f.hdr, "load"));
            } else {
                json_error_t je;
                res->value = json_loadb((const char *)f.payload, f.payload_len, JSON_DECODE_ANY, &je);
                res->code = 0;
                if (!res->value)
                    set_error(res, VENOM_E_FAILED, "%s: the worker's result is not JSON: %s", skill, je.text);
            }
        } else {
            kill_worker(karg);
            set_error(res, VENOM_E_FAILED, "%s: the worker sent an unexpected '%s' frame; it was killed", skill, op);
        }
        ipc_frame_release(&f);
        if (done)
            break;
    }
out:
    json_decref(call);
    mem_free(args_text);
    return rc;
}

static void kill_spawned(void *arg) { spawned_kill(arg); }

int sandbox_call(const sandbox_policy *p, const char *manifest_path, const char *skill, const json_t *args,
                 atomic_int *cancel, sandbox_result *res, char **err)
{
    *res = (sandbox_result){0};
    spawned w;
    int rc = spawn_worker(p, "call", &w, err);
    if (rc < 0)
        return rc;
    rc = converse(w.sock, p, manifest_path, skill, args, cancel, kill_spawned, &w, res, err);
    /* A worker that answered exits at once; one that lingers is killed. */
    int status = spawned_reap(&w, 500);
    if (rc == 1) {
        rc = 0;
        if (w.cg && sbx_cgroup_oom(w.cg))
            set_error(res, VENOM_E_TOOBIG, "%s: killed for exceeding its memory limit (limits.memory_mb)", skill);
        else
            describe_exit(res, status, skill);
    }
    spawned_release(&w);
    return rc;
}

void sandbox_result_release(sandbox_result *res)
{
    if (!res)
        return;
    json_decref(res->value);
    mem_free(res->error);
    *res = (sandbox_result){0};
}

/* ------------------------------------------------------------ the pool */

/* A warm pool: one zygote per (pack, policy) — a worker that went through
 * every set-up step once and then only forks — and `warm` forked workers
 * that have verified themselves and loaded the pack, each waiting for one
 * call. A refill thread keeps `warm` of them ready. Workers still serve one
 * call each and exit. */
#define POOL_MAX 64

struct sbx_pool {
    pthread_mutex_t lock;     /* the zygote's channel, the ready list, the counters */
    pthread_cond_t cond;      /* refill wanted / a call started or ended / stop */
    pthread_t refill;
    bool stop, have_thread;
    const sandbox_policy *p;
    char *manifest;
    sbx_pool_opts o;
    spawned zyg;              /* pid 0 while there is no zygote (not yet, or ended idle) */
    int ready[POOL_MAX];
    pid_t ready_pid[POOL_MAX];
    size_t n_ready;
    size_t n_busy;            /* calls in flight */
    uint64_t last_use_ms;     /* when the last call started or ended */
    bool idle;                /* ended for idleness: no refill until the next call */
    char *error;              /* why the zygote failed, sticky */
};

static int recv_fd(int sock, int *fd)
{
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        return n < 0 ? -errno : -EPIPE;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
        return -EPROTO;
    memcpy(fd, CMSG_DATA(c), sizeof(int));
    return 0;
}

static int send_fd(int sock, int fd)
{
    char byte = 'F';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -errno;
}

/* One request to the zygote and its reply. Caller holds pool->lock. */
static int zygote_ask(sbx_pool *pl, json_t *req, ipc_frame *reply, char **err)
{
    if (pl->error)
        return err_set(err, -EPIPE, "%s", pl->error);
    int rc = req ? ipc_send_until(pl->zyg.sock, ipc_now_ms() + SETUP_TIMEOUT_MS, req, NULL, 0, err) : -ENOMEM;
    json_decref(req);
    if (rc == 0)
        rc = ipc_recv(pl->zyg.sock, ipc_now_ms() + SETUP_TIMEOUT_MS, 0, reply, err);
    if (rc == 0 && !strcmp(ipc_op(reply), "setup_error")) {
        const char *layer = json_string_value(json_object_get(reply->hdr, "layer"));
        const char *msg = json_string_value(json_object_get(reply->hdr, "error"));
        rc = err_set(err, -EPERM, "sandbox: %s could not be set up: %s", layer ? layer : "a layer",
                     msg ? msg : "failed");
        ipc_frame_release(reply);
    }
    if (rc < 0 && !pl->error)
        pl->error = mem_strdup(err && *err ? *err : "the zygote failed");
    return rc;
}

/* Ask the zygote for a ready worker. Caller holds pool->lock. */
static int zygote_fork(sbx_pool *pl, int *sock, pid_t *pid, char **err)
{
    ipc_frame f = {0};
    int rc = zygote_ask(pl, json_pack("{s:s, s:s, s:b}", "op", "fork", "manifest", pl->manifest, "reuse", pl->o.reuse),
                        &f, err);
    if (rc < 0)
        return rc;
    json_t *jp = json_object_get(f.hdr, "pid");
    if (strcmp(ipc_op(&f), "forked") || !json_is_integer(jp)) {
        ipc_frame_release(&f);
        return err_set(err, -EPROTO, "sandbox: the zygote answered '%s' to fork", ipc_op(&f));
    }
    *pid = (pid_t)json_integer_value(jp);
    ipc_frame_release(&f);
    rc = recv_fd(pl->zyg.sock, sock);
    if (rc < 0)
        return err_set(err, rc, "sandbox: no worker descriptor from the zygote: %s", strerror(-rc));
    return 0;
}

/* Wait (without the pool lock) until a new worker says it is ready: it has
 * verified itself and loaded the pack, so none of that is on a call's path. */
static int await_ready(int sock, char **err)
{
    ipc_frame f = {0};
    int rc = ipc_recv(sock, ipc_now_ms() + SETUP_TIMEOUT_MS, 0, &f, err);
    if (rc == 0 && strcmp(ipc_op(&f), "ready")) {
        const char *msg = json_string_value(json_object_get(f.hdr, "error"));
        rc = err_set(err, -EPERM, "sandbox: a pooled worker failed its set-up: %s", msg ? msg : ipc_op(&f));
    }
    ipc_frame_release(&f);
    return rc;
}

/* Start the zygote if there is none. Caller holds pool->lock. */
static int zygote_start_locked(sbx_pool *pl, char **err)
{
    if (pl->zyg.pid > 0)
        return 0;
    if (pl->error)
        return err_set(err, -EPIPE, "%s", pl->error);
    int rc = spawn_worker(pl->p, "zygote", &pl->zyg, err);
    if (rc == 0) {
        /* The zygote reports its set-up: "ready" or "setup_error". */
        ipc_frame f = {0};
        rc = ipc_recv(pl->zyg.sock, ipc_now_ms() + SETUP_TIMEOUT_MS, 0, &f, err);
        if (rc == 0 && strcmp(ipc_op(&f), "ready")) {
            const char *layer = json_string_value(json_object_get(f.hdr, "layer"));
            const char *msg = json_string_value(json_object_get(f.hdr, "error"));
            rc = err_set(err, -EPERM, "sandbox: %s could not be set up: %s", layer ? layer : "the zygote",
                         msg ? msg : ipc_op(&f));
        } else if (rc < 0) {
            err_prefix(err, rc, "sandbox: the zygote did not start");
        }
        ipc_frame_release(&f);
        if (rc < 0) {
            spawned_kill(&pl->zyg);
            spawned_reap(&pl->zyg, 0);
            spawned_release(&pl->zyg);
        }
    }
    return rc;
}

/* End the ready workers and the zygote. Caller holds pool->lock and no
 * call is in flight (the zygote is pid 1 of every worker's namespace). */
static void pool_shrink_locked(sbx_pool *pl)
{
    for (size_t i = 0; i < pl->n_ready; i++)
        close(pl->ready[i]); /* a waiting worker exits at EOF */
    pl->n_ready = 0;
    if (pl->zyg.pid > 0) {
        close(pl->zyg.sock); /* the zygote ends at EOF, and takes its workers along */
        pl->zyg.sock = -1;
        spawned_reap(&pl->zyg, 1000);
        spawned_release(&pl->zyg);
    }
}

/* Keeps `warm` workers ready; ends everything after idle_ms without calls. */
static void *refill_main(void *arg)
{
    sbx_pool *pl = arg;
    pthread_mutex_lock(&pl->lock);
    while (!pl->stop) {
        /* With reuse, busy workers come back: count them as kept. */
        size_t kept = pl->n_ready + (pl->o.reuse ? pl->n_busy : 0);
        if (!pl->idle && pl->zyg.pid > 0 && kept < pl->o.warm && !pl->error) {
            int sock = -1;
            pid_t pid = 0;
            char *err = NULL;
            if (zygote_fork(pl, &sock, &pid, &err) == 0) {
                pthread_mutex_unlock(&pl->lock);
                int rc = await_ready(sock, &err);
                pthread_mutex_lock(&pl->lock);
                if (rc == 0 && pl->n_ready < POOL_MAX) {
                    pl->ready[pl->n_ready] = sock;
                    pl->ready_pid[pl->n_ready++] = pid;
                    pthread_cond_broadcast(&pl->cond);
                } else {
                    close(sock);
                    if (rc < 0 && !pl->error)
                        pl->error = mem_strdup(err ? err : "a pooled worker failed");
                }
            }
            mem_free(err);
            continue;
        }
        bool alive = pl->zyg.pid > 0 || pl->n_ready > 0;
        if (pl->o.idle_ms && alive && pl->n_busy == 0) {
            uint64_t until = pl->last_use_ms + pl->o.idle_ms;
            if (ipc_now_ms() >= until) {
                pool_shrink_locked(pl);
                pl->idle = true;
                continue;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t left = until - ipc_now_ms();
            ts.tv_sec += (time_t)(left / 1000);
            ts.tv_nsec += (long)(left % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&pl->cond, &pl->lock, &ts);
            continue;
        }
        pthread_cond_wait(&pl->cond, &pl->lock);
    }
    pthread_mutex_unlock(&pl->lock);
    return NULL;
}

int sbx_pool_new(const sandbox_policy *p, const char *manifest_path, const sbx_pool_opts *o, sbx_pool **out,
                 char **err)
{
    *out = NULL;
    sbx_pool *pl = mem_calloc(1, sizeof *pl);
    if (!pl)
        return err_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&pl->lock, NULL);
    pthread_cond_init(&pl->cond, NULL);
    pl->p = p;
    pl->o = o ? *o : (sbx_pool_opts){.warm = 2};
    if (pl->o.warm > POOL_MAX)
        pl->o.warm = POOL_MAX;
    pl->zyg = (spawned){.sock = -1, .pidfd = -1};
    pl->last_use_ms = ipc_now_ms();
    pl->manifest = mem_strdup(manifest_path);
    int rc = pl->manifest ? 0 : err_set(err, -ENOMEM, "out of memory");
    if (rc == 0) {
        pthread_mutex_lock(&pl->lock);
        rc = zygote_start_locked(pl, err);
        pthread_mutex_unlock(&pl->lock);
    }
    if (rc == 0 && pthread_create(&pl->refill, NULL, refill_main, pl) == 0)
        pl->have_thread = true;
    else if (rc == 0)
        rc = err_set(err, -EAGAIN, "sandbox: cannot start the pool's thread");
    if (rc < 0) {
        sbx_pool_free(pl);
        return rc;
    }
    *out = pl;
    return 0;
}

typedef struct pool_victim {
    sbx_pool *pl;
    pid_t pid;
    bool killed;
} pool_victim;

static void kill_pooled(void *arg)
{
    pool_victim *v = arg;
    ipc_frame f = {0};
    v->killed = true;
    pthread_mutex_lock(&v->pl->lock);
    if (zygote_ask(v->pl, json_pack("{s:s, s:i}", "op", "kill", "pid", (int)v->pid), &f, NULL) == 0)
        ipc_frame_release(&f);
    pthread_mutex_unlock(&v->pl->lock);
}

int sbx_pool_call(sbx_pool *pl, const char *skill, const json_t *args, atomic_int *cancel, sandbox_result *res,
                  char **err)
{
    *res = (sandbox_result){0};
    int sock = -1, rc = 0;
    pid_t pid = 0;
    pthread_mutex_lock(&pl->lock);
    pl->n_busy++;
    pl->last_use_ms = ipc_now_ms();
    pl->idle = false;
    bool taken = pl->n_ready > 0;
    if (taken) {
        sock = pl->ready[--pl->n_ready];
        pid = pl->ready_pid[pl->n_ready];
    } else {
        rc = zygote_start_locked(pl, err);
        if (rc == 0)
            rc = zygote_fork(pl, &sock, &pid, err);
    }
    pthread_mutex_unlock(&pl->lock);
    if (rc == 0 && !taken && (rc = await_ready(sock, err)) < 0) {
        close(sock);
        sock = -1;
    }
    pool_victim v = {.pl = pl, .pid = pid};
    if (rc == 0)
        rc = converse(sock, pl->p, pl->manifest, skill, args, cancel, kill_pooled, &v, res, err);
    bool keep = rc == 0 && pl->o.reuse && !v.killed;
    if (rc == 1) {
        rc = 0;
        /* The zygote is the parent: it knows how the worker ended. */
        ipc_frame f = {0};
        pthread_mutex_lock(&pl->lock);
        int src = zygote_ask(pl, json_pack("{s:s, s:i}", "op", "status", "pid", (int)pid), &f, NULL);
        pthread_mutex_unlock(&pl->lock);
        json_t *st = src == 0 ? json_object_get(f.hdr, "status") : NULL;
        if (json_is_integer(st))
            describe_exit(res, (int)json_integer_value(st), skill);
        else
            set_error(res, VENOM_E_FAILED, "%s: the worker ended without a result", skill);
        ipc_frame_release(&f);
    }
    /* Refill after the call, not during it: a fork in the zygote competes
     * with the worker for the CPUs. A reused worker goes back to the list. */
    pthread_mutex_lock(&pl->lock);
    if (keep && pl->n_ready < POOL_MAX && pl->zyg.pid > 0) {
        pl->ready[pl->n_ready] = sock;
        pl->ready_pid[pl->n_ready++] = pid;
    } else if (sock >= 0) {
        close(sock);
    }
    pl->n_busy--;
    pl->last_use_ms = ipc_now_ms();
    pthread_cond_broadcast(&pl->cond);
    pthread_mutex_unlock(&pl->lock);
    return rc;
}

void sbx_pool_stats(sbx_pool *pl, size_t *zygotes, size_t *ready)
{
    pthread_mutex_lock(&pl->lock);
    *zygotes = pl->zyg.pid > 0;
    *ready = pl->n_ready;
    pthread_mutex_unlock(&pl->lock);
}

void sbx_pool_free(sbx_pool *pl)
{
    if (!pl)
        return;
    pthread_mutex_lock(&pl->lock);
    pl->stop = true;
    pthread_cond_broadcast(&pl->cond);
    pthread_mutex_unlock(&pl->lock);
    if (pl->have_thread)
        pthread_join(pl->refill, NULL);
    pthread_mutex_lock(&pl->lock);
    pool_shrink_locked(pl);
    pthread_mutex_unlock(&pl->lock);
    spawned_release(&pl->zyg);
    pthread_cond_destroy(&pl->cond);
    pthread_mutex_destroy(&pl->lock);
    mem_free(pl->manifest);
    mem_free(pl->error);
    mem_free(pl);
}

/* ------------------------------------------------------------ the worker */

static int worker_fd = -1;

/* Largest frame a worker reads from the supervisor (a call's arguments, a
 * broker reply). */
#define WORKER_MAX_FRAME (256u << 20)

/* Every frame the worker sends goes through here: a skill's threads may
 * log, or ask the broker, at the same time, and two frames must never
 * interleave on the stream. */
static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;

static int worker_send(int fd, const json_t *h, const void *payload, size_t len, char **err)
{
    if (!h)
        return -ENOMEM;
    pthread_mutex_lock(&send_lock);
    int rc = ipc_send(fd, h, payload, len, err);
    pthread_mutex_unlock(&send_lock);
    return rc;
}

static void worker_log(void *user, const char *who, int level, const char *msg)
{
    (void)user;
    (void)who;
    json_t *h = json_pack("{s:s, s:i, s:s}", "op", "log", "level", level, "msg", msg);
    (void)worker_send(worker_fd, h, NULL, 0, NULL);
    json_decref(h);
}

/* The worker's forwarder: a host service asked of the supervisor. */
static pthread_mutex_t forward_lock = PTHREAD_MUTEX_INITIALIZER;

static int32_t worker_forward(const char *service, const char *request, char **response, char **error)
{
    *response = NULL;
    *error = NULL;
    int32_t code = VENOM_E_INTERNAL;
    ipc_frame f = {0};
    char *err = NULL;
    json_t *h = json_pack("{s:s, s:s}", "op", "broker", "service", service);
    pthread_mutex_lock(&forward_lock); /* one request (and its reply) at a time */
    int rc = worker_send(worker_fd, h, request, strlen(request), &err);
    if (rc == 0)
        rc = ipc_recv(worker_fd, 0, WORKER_MAX_FRAME, &f, &err);
    pthread_mutex_unlock(&forward_lock);
    json_decref(h);
    json_t *jc = rc == 0 ? json_object_get(f.hdr, "code") : NULL;
    if (rc < 0) {
        *error = mem_printf("broker: %s", err ? err : "the channel failed");
    } else if (strcmp(ipc_op(&f), "broker_reply") || !json_is_integer(jc)) {
        *error = mem_strdup("broker: unexpected reply from the host");
    } else {
        code = (int32_t)json_integer_value(jc);
        const char *msg = json_string_value(json_object_get(f.hdr, "error"));
        if (code != VENOM_OK)
            *error = mem_strdup(msg ? msg : "the host refused");
        else if (!(*response = mem_strndup(f.payload ? (const char *)f.payload : "", f.payload_len)))
            code = VENOM_E_NOMEM;
    }
    if (f.payload && !strcmp(service, "secret"))
        sodium_memzero(f.payload, f.payload_len); /* the skill has its own copy */
    ipc_frame_release(&f);
    mem_free(err);
    return code;
}

static void send_op(int fd, json_t *h)
{
    (void)worker_send(fd, h, NULL, 0, NULL);
    json_decref(h);
}

static void setup_error(int fd, const char *layer, const char *msg)
{
    send_op(fd, json_pack("{s:s, s:s, s:s}", "op", "setup_error", "layer", layer, "error", msg ? msg : "failed"));
}

static int send_result(int fd, int32_t code, const char *error, const json_t *value, bool load)
{
    json_t *h = json_pack("{s:s, s:i, s:s?, s:b}", "op", "result", "code", code, "error", error, "load", load);
    char *payload = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int rc = worker_send(fd, h, payload, payload ? strlen(payload) : 0, NULL);
    json_decref(h);
    mem_free(payload);
    return rc;
}

/* A registry of the one pack whose manifest is mpath (the view holds just
 * it); its plugin is loaded at once when preload. */
static int open_pack(const char *mpath, bool preload, registry **out, char **err)
{
    char *dir = mem_strdup(mpath);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir)
        *slash = '\0';
    const char *dirs[] = {dir};
    registry_opts o = {.dirs = dirs, .n_dirs = 1, .in_worker = true, .dirs_are_packs = true};
    int rc = dir ? registry_new(&o, out, err) : -ENOMEM;
    mem_free(dir);
    if (rc == 0 && preload && registry_skill_count(*out) > 0) {
        char *lerr = NULL; /* a load failure is reported by the call itself */
        if (registry_load(*out, registry_skill_at(*out, 0), &lerr) < 0)
            mem_free(lerr);
    }
    return rc;
}

/* A one-call worker is pid 1 of its pid namespace, and pid 1 ignores the
 * signals it sends itself without a handler: abort() would end in glibc's
 * fallback, a SIGSEGV. So there SIGABRT gets a handler that writes a result
 * frame prepared before the call (nothing may allocate in it) and exits. */
static unsigned char abort_frame[512];
static volatile sig_atomic_t abort_len;

static void on_abort(int sig)
{
    (void)sig;
    if (abort_len)
        (void)!write(WORKER_FD, abort_frame, (size_t)abort_len);
    _exit(128 + SIGABRT);
}

static void prepare_abort(const char *skill)
{
    if (getpid() != 1)
        return; /* pooled workers are the zygote's children: SIGABRT works */
    abort_len = 0;
    char msg[300];
    snprintf(msg, sizeof msg, "%s: the skill crashed (SIGABRT: it called abort())", skill);
    json_t *h = json_pack("{s:s, s:i, s:s, s:b}", "op", "result", "code", VENOM_E_FAILED, "error", msg, "load", 0);
    abort_len = (sig_atomic_t)ipc_encode(h, abort_frame, sizeof abort_frame);
    json_decref(h);
    struct sigaction sa = {.sa_handler = on_abort};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
}

/* Serve one call on fd: read it, run it, send the result. The pack's
 * registry is opened on the first call (unless preloaded) and kept in *r.
 * Returns 0 after a call, -1 when the channel closed or brought no call. */
static int serve_call(int fd, registry **r)
{
    ipc_frame call = {0};
    char *err = NULL;
    registry_result res = {0};
    json_t *args = NULL;
    int ret = -1;
    int rc = ipc_recv(fd, 0, WORKER_MAX_FRAME, &call, &err);
    if (rc == -EPIPE)
        goto out; /* the supervisor is done with this worker */
    if (rc < 0 || strcmp(ipc_op(&call), "call")) {
        send_result(fd, VENOM_E_INTERNAL, "worker: no call frame", NULL, false);
        goto out;
    }
    const char *mpath = json_string_value(json_object_get(call.hdr, "manifest"));
    const char *skill = json_string_value(json_object_get(call.hdr, "skill"));
    const char *workdir = json_string_value(json_object_get(call.hdr, "workdir"));
    json_error_t je;
    args = json_loadb((const char *)call.payload, call.payload_len, 0, &je);
    if (!mpath || !skill || !args) {
        send_result(fd, VENOM_E_INTERNAL, "worker: malformed call frame", NULL, false);
        goto out;
    }
    if (!*skill) {
        /* sandbox_probe: load and check the plugin, call nothing */
        json_t *reg = NULL;
        rc = sandbox_probe_serve(mpath, &reg, &err);
        ret = send_result(fd, rc == 0 ? 0 : VENOM_E_FAILED, rc == 0 ? NULL : err, reg, rc < 0) < 0 ? -1 : 0;
        json_decref(reg);
        goto out;
    }
    rc = *r ? 0 : open_pack(mpath, false, r, &err);
    const reg_skill *s = rc == 0 ? registry_find(*r, skill) : NULL;
    if (rc == 0 && !s)
        rc = err_set(&err, -ENOENT, "worker: skill '%s' not found in %s", skill, mpath);
    if (rc == 0) {
        registry_call_opts co = {.workdir = workdir};
        prepare_abort(skill);
        rc = registry_call(*r, s, args, &co, &res, &err);
    }
    int32_t code = rc == 0 ? 0 : res.code ? res.code : rc == REGISTRY_E_ARGS ? VENOM_E_INVAL : VENOM_E_FAILED;
    ret = send_result(fd, code, rc == 0 ? NULL : err, rc == 0 ? res.value : NULL, rc == REGISTRY_E_LOAD) < 0 ? -1 : 0;
out:
    json_decref(res.value);
    mem_free(err);
    json_decref(args);
    ipc_frame_release(&call);
    return ret;
}

/* The zygote: forks ready workers on request; pid 1 of the sandbox. */
static int zygote_main(int ctrl)
{
    enum { MAX_DONE = 256 };
    pid_t done_pid[MAX_DONE];
    int done_status[MAX_DONE];
    size_t n_done = 0;
    send_op(ctrl, json_pack("{s:s}", "op", "ready"));
    for (;;) {
        ipc_frame f = {0};
        char *err = NULL;
        if (ipc_recv(ctrl, 0, 0, &f, &err) < 0) {
            mem_free(err);
            break; /* the supervisor is gone */
        }
        const char *op = ipc_op(&f);
        pid_t target = (pid_t)json_integer_value(json_object_get(f.hdr, "pid"));
        /* Remember how finished workers ended (bounded), reaping zombies. */
        int st;
        pid_t z;
        while ((z = waitpid(-1, &st, WNOHANG)) > 0) {
            if (n_done == MAX_DONE)
                n_done = 0;
            done_pid[n_done] = z;
            done_status[n_done++] = st;
        }
        if (!strcmp(op, "fork")) {
            const char *mpath = json_string_value(json_object_get(f.hdr, "manifest"));
            bool reuse = json_is_true(json_object_get(f.hdr, "reuse"));
            int sv[2];
            if (!mpath || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                setup_error(ctrl, "zygote", "cannot make a worker channel");
                ipc_frame_release(&f);
                continue;
            }
            pid_t pid = fork();
            if (pid == 0) {
                close(ctrl);
                close(sv[0]);
                if (dup2(sv[1], WORKER_FD) < 0)
                    _exit(2);
                close(sv[1]);
                worker_fd = WORKER_FD;
                if (sbx_verify(WORKER_FD, 2, &err) < 0) {
                    setup_error(WORKER_FD, "self-check", err);
                    _exit(2);
                }
                registry *r = NULL;
                if (open_pack(mpath, true, &r, &err) < 0)
                    r = NULL;
                mem_free(err);
                send_op(WORKER_FD, json_pack("{s:s}", "op", "ready")); /* verified, pack loaded */
                while (serve_call(WORKER_FD, &r) == 0 && reuse)
                    ;
                registry_free(r);
                _exit(0);
            }
            close(sv[1]);
            if (pid < 0) {
                close(sv[0]);
                setup_error(ctrl, "zygote", strerror(errno));
            } else {
                send_op(ctrl, json_pack("{s:s, s:i}", "op", "forked", "pid", (int)pid));
                (void)send_fd(ctrl, sv[0]);
                close(sv[0]);
            }
        } else if (!strcmp(op, "kill")) {
            if (target > 1)
                kill(target, SIGKILL);
            send_op(ctrl, json_pack("{s:s}", "op", "killed"));
        } else if (!strcmp(op, "status")) {
            int status = -1;
            bool found = false;
            for (size_t i = 0; i < n_done && !found; i++)
                if (done_pid[i] == target) {
                    status = done_status[i];
                    found = true;
                }
            if (!found && target > 1) {
                /* give it 500 ms to finish, then end it */
                uint64_t until = ipc_now_ms() + 500;
                pid_t w;
                while ((w = waitpid(target, &status, WNOHANG)) == 0 && ipc_now_ms() < until)
                    usleep(200);
                if (w == 0) {
                    kill(target, SIGKILL);
                    w = waitpid(target, &status, 0);
                }
                found = w == target;
            }
            send_op(ctrl, found ? json_pack("{s:s, s:i}", "op", "status", "status", status)
                                : json_pack("{s:s}", "op", "status"));
        } else {
            setup_error(ctrl, "zygote", "unknown request");
        }
        ipc_frame_release(&f);
    }
    kill(-1, SIGKILL); /* pid 1: every worker of this sandbox */
    return 0;
}

int sandbox_worker_main(int fd, const char *mode)
{
    worker_fd = fd;
    mem_install();
    ipc_frame setup = {0};
    char *err = NULL;
    if (ipc_recv(fd, ipc_now_ms() + SETUP_TIMEOUT_MS, 1 << 20, &setup, &err) < 0 || strcmp(ipc_op(&setup), "setup")) {
        send_result(fd, VENOM_E_INTERNAL, "worker: no setup frame", NULL, false);
        return 2;
    }
    /* execve made the process dumpable again; undo it before the filter. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    int lrc = sbx_seccomp_load_bytes(setup.payload, setup.payload_len);
    ipc_frame_release(&setup);
    if (lrc < 0) {
        setup_error(fd, "seccomp", strerror(-lrc));
        return 2;
    }
    if (sbx_verify(fd, 2, &err) < 0) {
        setup_error(fd, "self-check", err);
        return 2;
    }
    host_set_log(worker_log, NULL, VENOM_LOG_DEBUG);
    host_set_forward(worker_forward);
    if (mode && !strcmp(mode, "zygote"))
        return zygote_main(fd);
    registry *r = NULL;
    (void)serve_call(fd, &r);
    registry_free(r);
    return 0;
}
