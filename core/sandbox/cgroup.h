/*
 * cgroup.h — per-worker resource limits through cgroups, where we may write
 * them (DESIGN.md section 5, step 6): cgroup v2 when our own cgroup (from
 * /proc/self/cgroup "0::/path") is delegated to us with the memory and pids
 * controllers, else cgroup v1 when the memory and pids hierarchies are
 * writable (root). Each worker gets a child cgroup "venom-<pid>-<n>" below
 * ours with memory.max (+ memory.swap.max 0) / pids.max / cpu.max (one CPU)
 * on v2, or memory.limit_in_bytes (+ memsw) / pids.max on v1.
 *
 * When neither is writable, sbx_cgroup_new() fails with -ENOTSUP and the
 * caller relies on rlimits alone. Nothing is left behind: a failed creation
 * removes what it made, and sbx_cgroup_free() kills, waits and removes.
 * A handle is used from one thread at a time.
 */
#ifndef VENOM_SANDBOX_CGROUP_H
#define VENOM_SANDBOX_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "sandbox/policy.h"

typedef struct sbx_cgroup sbx_cgroup;

/* Our own cgroup directories, from /proc/self/cgroup joined with the mounts
 * of /proc/self/mountinfo; "" where there is none (or it is not visible). */
typedef struct sbx_cgroup_dirs {
    char v2[PATH_MAX];                /* in the cgroup2 hierarchy */
    char v1_memory[PATH_MAX];         /* in the v1 memory hierarchy */
    char v1_pids[PATH_MAX];           /* in the v1 pids hierarchy */
} sbx_cgroup_dirs;
void sbx_cgroup_locate(sbx_cgroup_dirs *out);

/* Create the cgroup of one worker with p's memory and process limits (0 in
 * the policy = the default). 0 and *out (free with sbx_cgroup_free), or:
 * -ENOTSUP when cgroups are not writable here (*err says why and how to
 * delegate), -EINVAL on bad arguments, another negative errno when a limit
 * cannot be written. Thread-safe. */
int sbx_cgroup_new(const sandbox_policy *p, sbx_cgroup **out, char **err) __attribute__((warn_unused_result));
/* Move process pid (all its threads) into the cgroup. 0 or -errno. */
int sbx_cgroup_add(sbx_cgroup *c, pid_t pid, char **err) __attribute__((warn_unused_result));
/* SIGKILL every process in the cgroup: cgroup.kill on v2 (5.14+), else each
 * pid listed, repeated until none is left (bounded). 0 or -errno. */
int sbx_cgroup_kill(sbx_cgroup *c);
/* True when the memory limit made the kernel kill a process in the cgroup
 * (memory.events oom_kill on v2; memory.oom_control oom_kill, or
 * memory.failcnt, on v1). */
bool sbx_cgroup_oom(const sbx_cgroup *c);
/* 2 or 1. */
int sbx_cgroup_version(const sbx_cgroup *c);
/* The cgroup's directory (v2), or its memory-hierarchy directory (v1). */
const char *sbx_cgroup_dir(const sbx_cgroup *c);
/* Kill, wait (up to ~2 s) until empty, remove the directories, free. NULL ok.
 * The caller still reaps its own children. */
void sbx_cgroup_free(sbx_cgroup *c);

#endif
