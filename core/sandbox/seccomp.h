/*
 * seccomp.h — the sandbox worker's system-call filter (DESIGN.md section 5,
 * issue 3 §4): a default-deny allowlist built with libseccomp from a
 * sandbox_policy and compiled to classic BPF once, in the supervisor. Each
 * worker then loads the same compiled program with a single seccomp(2) call.
 *
 * Outcomes: allowed calls run; calls the list does not know (and clone3)
 * fail with ENOSYS so libc falls back; known-dangerous calls fail with EPERM;
 * unlisted ioctl requests fail with ENOTTY; a foreign architecture or an x32
 * call kills the process. docs/internals/seccomp.md lists every entry.
 *
 * A built filter is immutable: it may be shared by threads and inherited by
 * fork children, which load it without allocating.
 */
#ifndef VENOM_SANDBOX_SECCOMP_H
#define VENOM_SANDBOX_SECCOMP_H

#include <stddef.h>

#include "sandbox/policy.h"

typedef struct sbx_filter sbx_filter;

/* Build the allowlist for policy p (p->exec adds execve/execveat; p->net
 * adds socket(AF_UNIX/AF_INET/AF_INET6) and connect/bind/listen/accept and
 * the socket option calls) and compile it for the native architecture.
 * *out is owned by the caller (sbx_seccomp_free). Returns 0, or -EINVAL
 * (NULL argument), -ENOMEM, or the libseccomp/IO error with *err set.
 * Thread-safe. */
int sbx_seccomp_build(const sandbox_policy *p, sbx_filter **out, char **err) __attribute__((warn_unused_result));

/* Load f into the calling process (all its threads: SECCOMP_FILTER_FLAG_TSYNC).
 * Needs PR_SET_NO_NEW_PRIVS or CAP_SYS_ADMIN. Irreversible. Makes one system
 * call, allocates nothing: safe after fork and in a signal handler.
 * Returns 0, -EINVAL (f NULL), -EACCES (neither no_new_privs nor
 * CAP_SYS_ADMIN), -EBUSY (another thread could not be synchronised), or the
 * kernel's negative errno. */
int sbx_seccomp_load(const sbx_filter *f) __attribute__((warn_unused_result));

/* The compiled program as bytes (an array of struct sock_filter), e.g. to
 * send to a worker that exec'd: *insns points into f (valid while f lives),
 * *bytes is its size. NULL/0 for a NULL f. Thread-safe. */
void sbx_seccomp_prog(const sbx_filter *f, const void **insns, size_t *bytes);

/* Load a program received as bytes (what sbx_seccomp_prog gave): checked to
 * be 1..BPF_MAXINSNS whole instructions (else -EINVAL), then loaded exactly
 * like sbx_seccomp_load. The kernel copies it: the buffer may be freed after.
 * Allocation-free and async-signal-safe. */
int sbx_seccomp_load_bytes(const void *insns, size_t bytes) __attribute__((warn_unused_result));

/* Number of BPF instructions of f (0 for NULL). */
size_t sbx_seccomp_insns(const sbx_filter *f);

/* Free f; NULL is fine. */
void sbx_seccomp_free(sbx_filter *f);

#endif
