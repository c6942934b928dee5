#include "util/common.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

static __attribute__((noreturn)) void child_main(const sandbox_policy *p, int sock, bool userns, bool ns, uid_t uid,
                                                 gid_t gid)
{
    char *err = NULL;
    int abi = 0;
    if (ns) {
        if (sbx_ns_setup_ids(uid, gid, userns, &err) < 0)
            child_fail(sock, "user namespace", err);
        if (sbx_fs_setup(p, &err) < 0)
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
    char *argv[] = {"venom-worker", "3", NULL};
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

static void kill_tree(pid_t pid, bool pidns)
{
    /* pid 1 of a pid namespace takes every process of it along; without a
     * pid namespace the worker is a session (and group) leader. */
    if (!pidns)
        kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

static void describe_exit(sandbox_result *res, int status, const char *skill, const char *why)
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
            set_error(res, VENOM_E_FAILED, "%s: the skill crashed (SIG%s)%s%s", skill, name ? name : "?",
                      why ? ": " : "", why ? why : "");
    } else if (WIFEXITED(status)) {
        set_error(res, VENOM_E_FAILED, "%s: the worker exited with status %d without a result%s%s", skill,
                  WEXITSTATUS(status), why ? ": " : "", why ? why : "");
    }
}

int sandbox_call(const sandbox_policy *p, const char *manifest_path, const char *skill, const json_t *args,
                 atomic_int *cancel, sandbox_result *res, char **err)
{
    *res = (sandbox_result){0};
    const sbx_filter *filter = NULL;
    int rc = get_filter(p, &filter, err);
    if (rc < 0)
        return err_prefix(err, rc, "sandbox: seccomp");

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return err_set(err, -errno, "sandbox: socketpair: %s", strerror(errno));
    uid_t uid = getuid();
    gid_t gid = getgid();
    unsigned long flags = sbx_ns_flags(p);
    bool userns = (flags & CLONE_NEWUSER) != 0, ns = true;
    int pidfd = -1;
    char *cerr = NULL;
    pid_t pid = sbx_clone(flags, &pidfd, &cerr);
    if (pid < 0 && (pid == -EPERM || pid == -EINVAL || pid == -ENOSPC)) {
        /* No namespaces here: landlock + seccomp + limits alone. */
        mem_free(cerr);
        cerr = NULL;
        ns = false;
        pid = sbx_clone(0, &pidfd, &cerr);
    }
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        rc = err_set(err, pid, "sandbox: cannot create the worker: %s", cerr ? cerr : strerror(-pid));
        mem_free(cerr);
        return rc;
    }
    if (pid == 0) {
        close(sv[0]);
        child_main(p, sv[1], userns, ns, uid, gid);
    }
    close(sv[1]);
    int sock = sv[0];
    /* cgroup limits where writable (v2 delegated, v1 as root); rlimits always. */
    sbx_cgroup *cg = NULL;
    char *gerr = NULL;
    if (sbx_cgroup_new(p, &cg, &gerr) == 0 && sbx_cgroup_add(cg, pid, &gerr) < 0) {
        sbx_cgroup_free(cg);
        cg = NULL;
    }
    mem_free(gerr);
    if (write(sock, "G", 1) != 1) {
        /* the child died already: its status tells why */
    }

    json_t *call = NULL, *setup = NULL;
    char *args_text = NULL;
    const char *why = NULL;
    ipc_frame f = {0};
    const void *prog = NULL;
    size_t prog_len = 0;
    sbx_seccomp_prog(filter, &prog, &prog_len);
    setup = json_pack("{s:s}", "op", "setup");
    call = json_pack("{s:s, s:s, s:s, s:s}", "op", "call", "manifest", manifest_path, "skill", skill, "workdir",
                     p->workdir);
    args_text = json_dumps(args, JSON_COMPACT);
    if (!setup || !call || !args_text) {
        rc = err_set(err, -ENOMEM, "out of memory");
        kill_tree(pid, ns);
        goto reap;
    }
    char *serr = NULL;
    uint64_t send_deadline = ipc_now_ms() + SETUP_TIMEOUT_MS;
    if (ipc_send_until(sock, send_deadline, setup, prog, prog_len, &serr) < 0 ||
        ipc_send_until(sock, send_deadline, call, args_text, strlen(args_text), &serr) < 0) {
        /* The child failed before reading: its setup_error frame tells why. */
        mem_free(serr);
    }

    uint64_t deadline = ipc_now_ms() + (p->time_ms ? p->time_ms : SANDBOX_DEFAULT_TIME_MS);
    for (;;) {
        /* Wait in short steps (cancellation), but receive with the real
         * deadline so that a step never ends inside a frame. */
        uint64_t step = ipc_now_ms() + 100;
        char *rerr = NULL;
        int r = ipc_wait(sock, step < deadline ? step : deadline);
        if (r == 0)
            r = ipc_recv(sock, deadline, p->output_bytes ? p->output_bytes : SANDBOX_DEFAULT_OUTPUT, &f, &rerr);
        if (r == -ETIMEDOUT) {
            mem_free(rerr);
            if (ipc_now_ms() >= deadline) {
                kill_tree(pid, ns);
                set_error(res, VENOM_E_TIMEOUT, "%s: timed out after %u ms (limits.time_ms); the worker was killed",
                          skill, p->time_ms);
                break;
            }
            if (cancel && atomic_load(cancel)) {
                kill_tree(pid, ns);
                set_error(res, VENOM_E_CANCELLED, "%s: cancelled", skill);
                break;
            }
            continue;
        }
        if (r < 0) {
            /* EOF or a bad frame: the worker is broken or hostile. After EOF
             * it gets a moment to exit on its own (the status tells more). */
            if (r == -EPIPE) {
                why = NULL;
                res->code = -1; /* decided by the exit status below */
            } else {
                kill_tree(pid, ns);
                set_error(res, VENOM_E_FAILED, "%s: the worker sent a bad frame (%s); it was killed", skill,
                          rerr ? rerr : "protocol error");
            }
            mem_free(rerr);
            break;
        }
        const char *op = ipc_op(&f);
        if (!strcmp(op, "log")) {
            const char *msg = json_string_value(json_object_get(f.hdr, "msg"));
            json_int_t level = json_integer_value(json_object_get(f.hdr, "level"));
            if (msg)
                host_log_forward(p->pack_name ? p->pack_name : skill, (int)level, msg);
        } else if (!strcmp(op, "setup_error")) {
            const char *layer = json_string_value(json_object_get(f.hdr, "layer"));
            const char *msg = json_string_value(json_object_get(f.hdr, "error"));
            kill_tree(pid, ns);
            rc = err_set(err, -EPERM, "sandbox: %s could not be set up: %s; refusing to run '%s' unsandboxed",
                         layer ? layer : "a layer", msg ? msg : "failed", skill);
            ipc_frame_release(&f);
            goto reap;
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
            ipc_frame_release(&f);
            break;
        } else {
            kill_tree(pid, ns);
            set_error(res, VENOM_E_FAILED, "%s: the worker sent an unexpected '%s' frame; it was killed", skill, op);
            ipc_frame_release(&f);
            break;
        }
        ipc_frame_release(&f);
    }
reap:;
    int status = 0;
    /* A worker that answered exits at once; one that lingers is killed. */
    uint64_t wait_until = ipc_now_ms() + 500;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && ipc_now_ms() < wait_until)
        usleep(200);
    if (w == 0) {
        kill_tree(pid, ns);
        waitpid(pid, &status, 0);
    }
    if (rc == 0 && res->code == -1) {
        if (cg && sbx_cgroup_oom(cg))
            set_error(res, VENOM_E_TOOBIG, "%s: killed for exceeding its memory limit (limits.memory_mb)", skill);
        else
            describe_exit(res, status, skill, why);
    }
    sbx_cgroup_free(cg);
    if (pidfd >= 0)
        close(pidfd);
    close(sock);
    json_decref(setup);
    json_decref(call);
    mem_free(args_text);
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

/* ------------------------------------------------------------ the worker */

static int worker_fd = -1;

static void worker_log(void *user, const char *who, int level, const char *msg)
{
    (void)user;
    (void)who;
    json_t *h = json_pack("{s:s, s:i, s:s}", "op", "log", "level", level, "msg", msg);
    if (h)
        (void)ipc_send(worker_fd, h, NULL, 0, NULL);
    json_decref(h);
}

static int send_result(int fd, int32_t code, const char *error, const json_t *value, bool load)
{
    json_t *h = json_pack("{s:s, s:i, s:s?, s:b}", "op", "result", "code", code, "error", error, "load", load);
    char *payload = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int rc = h ? ipc_send(fd, h, payload, payload ? strlen(payload) : 0, NULL) : -ENOMEM;
    json_decref(h);
    mem_free(payload);
    return rc;
}

static int load_filter(const ipc_frame *f)
{
    if (f->payload_len == 0 || f->payload_len % sizeof(struct sock_filter) || f->payload_len > 65536)
        return -EINVAL;
    struct sock_fprog prog = {.len = (unsigned short)(f->payload_len / sizeof(struct sock_filter)),
                              .filter = (struct sock_filter *)f->payload};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
        return -errno;
    return 0;
}

int sandbox_worker_main(int fd)
{
    worker_fd = fd;
    mem_install();
    ipc_frame setup = {0}, call = {0};
    char *err = NULL;
    int32_t code = VENOM_E_INTERNAL;
    registry *r = NULL;
    json_t *args = NULL;
    if (ipc_recv(fd, ipc_now_ms() + SETUP_TIMEOUT_MS, 1 << 20, &setup, &err) < 0 || strcmp(ipc_op(&setup), "setup")) {
        send_result(fd, VENOM_E_INTERNAL, "worker: no setup frame", NULL, false);
        return 2;
    }
    /* execve made the process dumpable again; undo it before the filter. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    int lrc = load_filter(&setup);
    if (lrc < 0) {
        json_t *h = json_pack("{s:s, s:s, s:s}", "op", "setup_error", "layer", "seccomp", "error", strerror(-lrc));
        (void)ipc_send(fd, h, NULL, 0, NULL);
        return 2;
    }
    if (sbx_verify(fd, 2, &err) < 0) {
        json_t *h = json_pack("{s:s, s:s, s:s}", "op", "setup_error", "layer", "self-check", "error",
                              err ? err : "failed");
        (void)ipc_send(fd, h, NULL, 0, NULL);
        return 2;
    }
    if (ipc_recv(fd, ipc_now_ms() + SETUP_TIMEOUT_MS, 256u << 20, &call, &err) < 0 || strcmp(ipc_op(&call), "call")) {
        send_result(fd, VENOM_E_INTERNAL, "worker: no call frame", NULL, false);
        return 2;
    }
    const char *mpath = json_string_value(json_object_get(call.hdr, "manifest"));
    const char *skill = json_string_value(json_object_get(call.hdr, "skill"));
    const char *workdir = json_string_value(json_object_get(call.hdr, "workdir"));
    json_error_t je;
    args = json_loadb((const char *)call.payload, call.payload_len, 0, &je);
    if (!mpath || !skill || !args) {
        send_result(fd, VENOM_E_INTERNAL, "worker: malformed call frame", NULL, false);
        return 2;
    }
    host_set_log(worker_log, NULL, VENOM_LOG_DEBUG);
    /* The view holds just this pack: a registry of one. */
    char *packs = mem_strdup(mpath);
    char *slash = packs ? strrchr(packs, '/') : NULL;
    if (slash && slash != packs)
        *slash = '\0';
    const char *dirs[] = {packs};
    registry_opts o = {.dirs = dirs, .n_dirs = 1, .in_worker = true, .dirs_are_packs = true};
    registry_result res = {0};
    int rc = registry_new(&o, &r, &err);
    const reg_skill *s = rc == 0 ? registry_find(r, skill) : NULL;
    if (rc == 0 && !s)
        rc = err_set(&err, -ENOENT, "worker: skill '%s' not found in %s", skill, mpath);
    if (rc == 0) {
        registry_call_opts co = {.workdir = workdir};
        rc = registry_call(r, s, args, &co, &res, &err);
    }
    if (rc == 0)
        code = 0;
    else
        code = res.code ? res.code : rc == REGISTRY_E_ARGS ? VENOM_E_INVAL : VENOM_E_FAILED;
    send_result(fd, code, rc == 0 ? NULL : err, rc == 0 ? res.value : NULL, rc == REGISTRY_E_LOAD);
    json_decref(res.value);
    registry_free(r);
    mem_free(packs);
    mem_free(err);
    json_decref(args);
    ipc_frame_release(&setup);
    ipc_frame_release(&call);
    return 0;
}
