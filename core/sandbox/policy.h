/*
 * policy.h — what a sandboxed worker may do: the one description every
 * sandbox layer (namespaces + mounts, landlock, seccomp, capabilities,
 * limits) is built from. It is derived from a pack's manifest, the run's
 * workdir and the configuration (policy.c) and is plain data: every layer
 * reads it, none changes it. All paths are absolute and resolved (realpath)
 * when the policy is built; a path that does not exist is dropped.
 */
#ifndef VENOM_SANDBOX_POLICY_H
#define VENOM_SANDBOX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct manifest;

typedef struct sandbox_strv {
    char **v;
    size_t n;
} sandbox_strv;

typedef struct sandbox_policy {
    /* Filesystem view. */
    sandbox_strv ro;       /* read-only: system library dirs, the pack dir, declared read paths */
    sandbox_strv rw;       /* read-write: declared write paths */
    char *workdir;         /* the run's workdir (cwd of the worker); also in ro or rw if declared */
    char *pack_dir;        /* the pack directory (always read-only) */
    char *pack_name;       /* for messages */
    const struct manifest *manifest; /* borrowed; the broker checks its permissions (NULL: none granted) */
    uint64_t tmp_bytes;    /* size cap of the private /tmp tmpfs */
    /* Capabilities granted by the manifest. */
    bool net;              /* full network: no new network namespace, sockets allowed */
    bool exec;             /* execve/execveat allowed (and exec rights in landlock) */
    /* Environment of the worker: "NAME=value" (declared variables only). */
    sandbox_strv env;
    /* Limits. 0 = the default below. */
    uint32_t time_ms;      /* wall-clock deadline, enforced by the parent */
    uint32_t cpu_s;        /* RLIMIT_CPU */
    uint64_t memory_bytes; /* RLIMIT_AS (and cgroup memory.max) */
    uint32_t processes;    /* RLIMIT_NPROC (and cgroup pids.max) */
    uint32_t nofile;       /* RLIMIT_NOFILE */
    uint64_t fsize_bytes;  /* RLIMIT_FSIZE */
    uint64_t output_bytes; /* the result frame's cap */
} sandbox_policy;

#define SANDBOX_DEFAULT_TIME_MS 30000u
#define SANDBOX_DEFAULT_CPU_S 30u
#define SANDBOX_DEFAULT_MEMORY (1024ull << 20)
#define SANDBOX_DEFAULT_PROCESSES 64u
#define SANDBOX_DEFAULT_NOFILE 256u
#define SANDBOX_DEFAULT_FSIZE (256ull << 20)
#define SANDBOX_DEFAULT_OUTPUT (16ull << 20)
#define SANDBOX_DEFAULT_TMP (64ull << 20)

/* Build the policy of pack `m` for a call in `workdir`. *err on failure. */
int sandbox_policy_new(const struct manifest *m, const char *workdir, sandbox_policy **out, char **err)
    __attribute__((warn_unused_result));
/* A policy from parts (tests, shell.exec): ro/rw lists are copied and
 * resolved; limits left 0 take the defaults. */
int sandbox_policy_build(const char *workdir, const char *const *ro, size_t n_ro, const char *const *rw,
                         size_t n_rw, sandbox_policy **out, char **err) __attribute__((warn_unused_result));
void sandbox_policy_free(sandbox_policy *p);
/* The system directories every worker sees read-only (libc, the loader). */
extern const char *const sandbox_system_ro[];

#endif
