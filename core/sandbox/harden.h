/*
 * harden.h — the process-hardening steps of a sandboxed worker, one function
 * per step, each applied to the CALLING process (irreversible: call them in
 * the forked worker, never in the core). The worker runs them after
 * namespaces and the mount view, landlock somewhere before sbx_drop_caps
 * (it needs no_new_privs or CAP_SYS_ADMIN), seccomp last:
 *
 *   sbx_rlimits → sbx_session → sbx_no_new_privs → sbx_drop_caps →
 *   sbx_close_fds → sbx_clean_env → (seccomp) → sbx_verify
 *
 * execve(2) resets dumpable to 1: a worker that execs between the steps and
 * sbx_verify must call sbx_session again after the exec.
 *
 * Every function returns 0 or a negative errno with a one-line message in
 * *err (allocated with mem_*; the caller frees), never exits or prints, and
 * allocates nothing on success except where noted. Call them in a
 * single-threaded worker (they change process-wide state).
 * docs/internals/harden.md explains each choice and its cost.
 */
#ifndef VENOM_SANDBOX_HARDEN_H
#define VENOM_SANDBOX_HARDEN_H

#include "sandbox/policy.h"

/* Set RLIMIT_CPU, AS, NOFILE, FSIZE, NPROC from p (0 → SANDBOX_DEFAULT_*)
 * and CORE to 0, soft = hard. A value above the current hard limit (which
 * only CAP_SYS_RESOURCE may raise) is lowered to that hard limit: limits
 * only ever get stricter. UINT64_MAX memory/fsize means no limit. */
int sbx_rlimits(const sandbox_policy *p, char **err) __attribute__((warn_unused_result));

/* setsid() (no controlling terminal: no TIOCSTI into the user's tty),
 * PR_SET_PDEATHSIG SIGKILL, PR_SET_DUMPABLE 0 (no core dumps, no ptrace or
 * /proc/PID/mem by same-uid processes). Call after the uid maps are written:
 * a non-dumpable process's /proc files belong to root. Being a session
 * leader already is fine (so it may be called again after an execve, which
 * resets dumpable); a process-group leader gets -EPERM. */
int sbx_session(char **err) __attribute__((warn_unused_result));

/* PR_SET_NO_NEW_PRIVS: execve never grants privileges again (setuid bits
 * and file capabilities are ignored). */
int sbx_no_new_privs(char **err) __attribute__((warn_unused_result));

/* Drop every capability with libcap: ambient cleared; when CAP_SETPCAP is
 * effective (root, or the owner of a user namespace) securebits locked
 * (NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE, KEEP_CAPS off, all
 * locked) and the bounding set emptied; then inheritable, permitted and
 * effective cleared. Without CAP_SETPCAP (an unprivileged user without a
 * user namespace) the bounding set cannot be changed and stays as it is:
 * harmless under no_new_privs, which sbx_verify then requires. -EPERM when
 * euid is 0 and the securebits cannot be locked. Allocates nothing once
 * sbx_caps_prepare has run in the parent (else libcap allocates). */
int sbx_drop_caps(char **err) __attribute__((warn_unused_result));
/* Make, once per process, the empty capability set sbx_drop_caps installs,
 * so that a cloned child does not allocate it. Thread-safe; -ENOMEM. */
int sbx_caps_prepare(void) __attribute__((warn_unused_result));

/* Close every fd but 0, 1, 2 and keep_fd (close_range, else a walk of
 * /proc/self/fd, else close() up to the fd limit), then point 0 (read) and
 * 1, 2 (write) at /dev/null: the skill talks only through keep_fd, never to
 * the caller's terminal. /dev/null must be reachable (the minimal /dev, or
 * the host's in fallback mode; landlock allows it). keep_fd < 0 keeps none;
 * -EINVAL for keep_fd 0..2, -EBADF when keep_fd is not open. */
int sbx_close_fds(int keep_fd, char **err) __attribute__((warn_unused_result));

/* Replace the environment by exactly p->env ("NAME=value" each). Every
 * entry is checked first (-EINVAL naming it, environment untouched); a
 * later duplicate wins. setenv() allocates with libc's malloc. */
int sbx_clean_env(const sandbox_policy *p, char **err) __attribute__((warn_unused_result));

/* Read the process's own state back and return -EPERM, naming everything
 * that is left, if: any capability is effective, permitted, inheritable or
 * ambient; the bounding set is not empty (tolerated only for a non-root
 * process without any capability under no_new_privs, which cannot use it);
 * no_new_privs is not 1; the seccomp mode is not expect_seccomp (2 = a
 * filter is loaded); an fd other than 0, 1, 2 and keep_fd is open, or
 * keep_fd (when >= 0) is not; the process is dumpable. Works without /proc
 * or where landlock hides it (falls back to prctl and fcntl). Allocates
 * only for the message. */
int sbx_verify(int keep_fd, int expect_seccomp, char **err) __attribute__((warn_unused_result));

#endif
