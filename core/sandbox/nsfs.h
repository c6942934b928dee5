/*
 * nsfs.h — the first sandbox layer: the namespaces a worker is created in,
 * its uid/gid maps, and its filesystem view (DESIGN.md section 5, steps 1-2).
 *
 * A worker is clone()d with sbx_clone(sbx_ns_flags(p)) and, in the child,
 * before anything else: sbx_ns_setup_ids() then sbx_fs_setup(). After that the
 * child's root is a read-only tmpfs holding only the policy's paths (bound
 * read-only or read-write, symlinked system dirs such as /lib -> usr/lib
 * reproduced as symlinks), a private size-capped /tmp, a fresh /proc (its
 * sys/ and sysrq-trigger read-only) and a minimal read-only /dev (null, zero,
 * full, urandom; random -> urandom; fd, stdin, stdout, stderr symlinks); the
 * old root is detached. Every bind is nosuid,nodev; noexec except the system
 * dirs (sandbox_system_ro), the pack dir, or everything when p->exec. The
 * network namespace holds only `lo`, left down: no address is reachable, not
 * even 127.0.0.1 (connect gives ENETUNREACH).
 *
 * In a user namespace the child keeps its capabilities only until it execs
 * (its uid inside is not 0), so both calls must come before any execve.
 * sbx_fs_setup() allocates; a child cloned from a threaded parent instead
 * applies a plan the parent built before clone (sbx_fs_plan_*), which makes
 * only system calls. These functions change the calling process
 * irreversibly; after a failure the process is half set up and must exit.
 */
#ifndef VENOM_SANDBOX_NSFS_H
#define VENOM_SANDBOX_NSFS_H

#include <stdbool.h>
#include <sys/types.h>

#include "sandbox/policy.h"

/* The CLONE_NEW* flags of a worker for policy p: USER when euid != 0; NS,
 * PID, IPC, UTS, CGROUP always; NET unless p->net. 0 when p is NULL. */
unsigned long sbx_ns_flags(const sandbox_policy *p);

/* fork(2)-like: create a child in the namespaces `flags` (CLONE_NEW* bits
 * only) with the raw clone syscall and no new stack. Returns the child's pid
 * in the parent (and, when pidfd != NULL, a CLONE_PIDFD descriptor, or -1 if
 * the kernel has none), 0 in the child, or a negative errno with *err set.
 * With CLONE_NEWPID the child is pid 1 of its namespace: it ignores signals
 * it has no handler for (SIGKILL still works) and its exit kills the whole
 * namespace. No atfork handlers run: in a threaded caller the child may only
 * make async-signal-safe calls until it execs. */
pid_t sbx_clone(unsigned long flags, int *pidfd, char **err) __attribute__((warn_unused_result));

/* In the fresh child of sbx_clone: when userns, deny setgroups and map
 * outer_uid/outer_gid (the parent's euid/egid, passed in because getuid() in
 * an unmapped namespace returns the overflow id) to the same numbers inside.
 * Without a user namespace (root) there is nothing to do. 0 or a negative
 * errno; *err names the file. Only system calls unless it fails with
 * err != NULL. Must run before sbx_fs_setup and before any exec. */
int sbx_ns_setup_ids(uid_t outer_uid, gid_t outer_gid, bool userns, char **err)
    __attribute__((warn_unused_result));

/* In a child with its own mount namespace (and pid namespace, for /proc):
 * build the view of p described above, pivot_root into it and chdir to
 * p->workdir. Sources are resolved with realpath() and opened with
 * openat2(RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), then bound from their
 * descriptors, so a path swapped for a symlink meanwhile is refused, never
 * followed. Errors: -EINVAL (relative path, "/", a path under /proc or /dev,
 * no workdir), -ENOENT (a path is missing), -ELOOP (a path changed under us),
 * or the errno of a failed mount; *err names the path. Allocates. Equivalent
 * to sbx_fs_plan_new + sbx_fs_plan_apply + sbx_fs_plan_free. */
int sbx_fs_setup(const sandbox_policy *p, char **err) __attribute__((warn_unused_result));

/* Path of the private /tmp inside the view: "/tmp" (static string). */
const char *sbx_fs_tmp_path(void);

/* The view of a policy, resolved and validated (all allocation and path
 * resolution done), so that applying it in a child is system calls only. A
 * plan can be applied in any number of children. Owned by the caller. */
typedef struct sbx_fs_plan sbx_fs_plan;

/* Build the plan of p (errors as sbx_fs_setup's validation). Thread-safe. */
int sbx_fs_plan_new(const sandbox_policy *p, sbx_fs_plan **out, char **err) __attribute__((warn_unused_result));
/* In the child: build the view and pivot into it. Writes only to the
 * child's copy of the plan. With err == NULL it allocates nothing and makes
 * only system calls (plus snprintf of the message); the message is then
 * read with sbx_fs_plan_error(). */
int sbx_fs_plan_apply(sbx_fs_plan *plan, char **err) __attribute__((warn_unused_result));
/* The last apply error of this copy of the plan ("" if none). */
const char *sbx_fs_plan_error(const sbx_fs_plan *plan);
void sbx_fs_plan_free(sbx_fs_plan *plan);

#endif
