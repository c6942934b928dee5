/*
 * sandbox.h — running one skill call in a sandboxed worker process.
 *
 * The supervisor (this module, in the venom process) clone()s a child into
 * new namespaces; the child builds the fresh root, applies landlock, limits,
 * no_new_privs, drops every capability and closes every descriptor but the
 * IPC socket, then execs `venom-worker` with a clean environment (so nothing
 * of venom's memory survives). The worker loads the seccomp program the
 * supervisor compiled once, verifies its own state, loads the skill's
 * plugin and serves exactly one call over length-prefixed frames (ipc.h).
 * Whatever the worker does — crash, hang, flood, exit, garbage — the result
 * is an error *result* for that call; the supervisor never crashes.
 * Reference: docs/sandbox.md, docs/internals/sandbox.md.
 */
#ifndef VENOM_SANDBOX_SANDBOX_H
#define VENOM_SANDBOX_SANDBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "sandbox/policy.h"

typedef struct sandbox_result {
    json_t *value;  /* the result (new reference) when code == 0 */
    int32_t code;   /* the skill's VENOM_E_* code, or VENOM_E_* of the containment */
    char *error;    /* one line when code != 0 (mem_free) */
    bool load;      /* the failure was the plugin's load (ABI, init, manifest) */
} sandbox_result;

/* Run skill `skill` of the pack whose manifest is `manifest_path` in a
 * worker under policy p, with args. Returns 0 when the call produced a
 * result or an error result (see res->code), and a negative errno only when
 * the sandbox itself could not be set up (the message says which layer);
 * in that case nothing of the skill ran. cancel may be NULL. Thread-safe. */
int sandbox_call(const sandbox_policy *p, const char *manifest_path, const char *skill, const json_t *args,
                 atomic_int *cancel, sandbox_result *res, char **err) __attribute__((warn_unused_result));
void sandbox_result_release(sandbox_result *res);

/*
 * Load the plugin of the pack whose manifest is manifest_path in a worker
 * under policy p WITHOUT calling any skill (its init runs, sandboxed), and
 * check the manifest against it: every declared skill and provider is
 * registered, nothing undeclared is, every typed skill's library and symbol
 * are found. On success *registered (the caller's) is {"skills": [names the
 * plugin registered], "providers": [...], "typed": [typed skills checked]}.
 * Errors: -ELIBBAD the pack is bad (manifest, ABI, init, a declared skill
 * the plugin does not register — *err names it), -errno when the sandbox
 * cannot be set up (as sandbox_call). Thread-safe. (pack_probe.c)
 */
int sandbox_probe(const sandbox_policy *p, const char *manifest_path, json_t **registered, char **err)
    __attribute__((warn_unused_result));
/* The worker's side of sandbox_probe (a call frame with skill ""). */
int sandbox_probe_serve(const char *manifest_path, json_t **out, char **err) __attribute__((warn_unused_result));

/* The venom-worker executable: $VENOM_WORKER, else
 * <dir of venom>/../<libdir>/venom/venom-worker. Borrowed, never NULL. */
const char *sandbox_worker_path(void);

/*
 * A warm pool for one pack under one policy: a zygote that has done every
 * set-up step once, and `warm` pre-forked workers, each verified, with the
 * pack loaded, waiting for a call. By default a worker serves ONE call and
 * exits; with `reuse` (opt-in, for packs the user trusts) it serves further
 * calls until the pool ends or goes idle. After idle_ms without a call the
 * ready workers and the zygote are ended; the next call starts them again.
 * p must outlive the pool. Thread-safe. Errors as sandbox_call.
 */
typedef struct sbx_pool_opts {
    size_t warm;      /* ready workers kept (at most 64; 0: fork one per call) */
    unsigned idle_ms; /* end idle workers and the zygote after this (0: never) */
    bool reuse;       /* a worker serves more than one call */
} sbx_pool_opts;
typedef struct sbx_pool sbx_pool;
int sbx_pool_new(const sandbox_policy *p, const char *manifest_path, const sbx_pool_opts *o, sbx_pool **out,
                 char **err) __attribute__((warn_unused_result));
int sbx_pool_call(sbx_pool *pool, const char *skill, const json_t *args, atomic_int *cancel, sandbox_result *res,
                  char **err) __attribute__((warn_unused_result));
/* Processes the pool has now: its zygote (0 or 1) and ready workers. */
void sbx_pool_stats(sbx_pool *pool, size_t *zygotes, size_t *ready);
/* Ends the zygote and every worker. NULL is fine. */
void sbx_pool_free(sbx_pool *pool);

/* The worker's side (venom-worker's main): mode "call" serves one call on
 * fd, "zygote" forks workers on request. Returns the exit status. */
int sandbox_worker_main(int fd, const char *mode);

/*
 * A long-lived sandboxed process that talks over pipes (an MCP server):
 * argv[0] (an absolute path) is executed under policy p — the same
 * namespaces, mount view, landlock, rlimits/cgroup, no_new_privs, no
 * capabilities and seccomp allowlist as a worker (p->exec must be true:
 * the filter is loaded before the execve), with exactly p->env as its
 * environment and its stdin/stdout/stderr connected to the pipes below.
 * There is no wall-clock deadline: the caller ends it (sandbox_proc_free).
 * Returns 0, or a negative errno with *err naming the layer that could not
 * be set up or the exec that failed (nothing of the command ran then).
 * Reference: docs/internals/mcp.md. Thread-safe.
 */
typedef struct sandbox_proc {
    pid_t pid;
    int in_fd;  /* write end of the child's stdin (-1 once closed) */
    int out_fd; /* read end of its stdout */
    int err_fd; /* read end of its stderr */
    bool ns;    /* in its own namespaces (pid 1 of a pid namespace) */
    void *cg;   /* its cgroup (sbx_cgroup), or NULL */
} sandbox_proc;
int sandbox_spawn(const sandbox_policy *p, const char *const *argv, sandbox_proc **out, char **err)
    __attribute__((warn_unused_result));
/* Wait up to timeout_ms for the process to end; 1 and *status when it did,
 * 0 when it still runs. */
int sandbox_proc_wait(sandbox_proc *sp, unsigned timeout_ms, int *status);
/* Signal the process (and, without a pid namespace, its process group). */
void sandbox_proc_signal(sandbox_proc *sp, int sig);
/* Close the pipes, SIGKILL whatever is left (the cgroup too), reap, free.
 * NULL is fine. Call sandbox_proc_wait first for a graceful end. */
void sandbox_proc_free(sandbox_proc *sp);

#endif
