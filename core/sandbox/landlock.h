/*
 * landlock.h — the landlock layer of a sandboxed worker: file-system, TCP and
 * scoping rules mirroring a sandbox_policy, applied to the calling process
 * with the raw landlock system calls (no library). It is the second file
 * layer under a mount namespace and the only one in fallback mode (no
 * namespaces). Rules are irreversible: apply them in a forked child only.
 *
 * Rights granted (docs/internals/landlock.md has the table):
 *   p->ro          READ_FILE, READ_DIR (+ EXECUTE: everywhere when p->exec;
 *                  else only on the system library dirs under an ro entry,
 *                  where the ELF interpreter lives, on p->pack_dir and on
 *                  regular files listed on their own, like venom-worker.
 *                  Without p->exec, seccomp is what denies execve)
 *   p->rw, tmp     the read rights (+ EXECUTE when p->exec) + WRITE_FILE, REMOVE_*, MAKE_REG/DIR/SYM,
 *                  REFER (ABI 2), TRUNCATE (ABI 3), IOCTL_DEV (ABI 5)
 *   /dev/null,zero read + write (+ TRUNCATE); /dev/urandom read
 *   /proc/<own pid> read (so /proc/self works; other processes stay hidden)
 *   everything else: nothing (every right the kernel's ABI knows is handled)
 *   TCP (ABI 4)    no bind, no connect unless p->net
 *   scope (ABI 6)  no abstract unix socket connect, no signal outside the domain
 */
#ifndef VENOM_SANDBOX_LANDLOCK_H
#define VENOM_SANDBOX_LANDLOCK_H

#include "sandbox/policy.h"

/* The highest landlock ABI this kernel offers; 0 when landlock is not built
 * in or disabled at boot. Thread-safe, no side effect. */
int sbx_landlock_abi(void);

/* Restrict the calling process (all its future children included) to the
 * policy, at the highest ABI the kernel has (best effort down to ABI 1:
 * rights the ABI lacks are left out). tmp_path is the private /tmp (NULL:
 * none). Paths that do not exist are skipped. Needs no_new_privs or
 * CAP_SYS_ADMIN in the current user namespace (else -EPERM). Returns 0 and
 * *abi_out (may be NULL) = the ABI used; -ENOSYS / -EOPNOTSUPP when the
 * kernel has no landlock (callers decide to fail closed); another negative
 * errno with *err on failure. Makes no allocation on success; safe after
 * fork in a threaded process (async-signal-safe apart from *err). */
int sbx_landlock_apply(const sandbox_policy *p, const char *tmp_path, int *abi_out, char **err)
    __attribute__((warn_unused_result));

#endif
