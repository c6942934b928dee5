/*
 * probe.h — what this machine offers for sandboxing (DESIGN.md section 5):
 * user and other namespaces, landlock, seccomp, cgroups, no_new_privs and a
 * few modern syscalls, plus the versions of the libraries venom runs with.
 *
 * Every capability is tested for real (namespaces and no_new_privs in a
 * forked child that exits), never guessed from the kernel version. Probing
 * leaves nothing behind: children are reaped, the cgroup test directory is
 * removed. `venom doctor` prints the report; the sandbox uses it to refuse to
 * run a policy it cannot enforce (fail closed).
 */
#ifndef VENOM_SANDBOX_PROBE_H
#define VENOM_SANDBOX_PROBE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct probe_report {
    char kernel[128]; /* uname -r */
    char arch[32];    /* uname -m */
    bool is_root;     /* effective uid 0 */

    /* 1 if a user namespace can be created and grants capabilities inside
     * (tested: a child unshares CLONE_NEWUSER, writes its id maps and
     * creates a mount namespace), 0 if not; userns_reason says why. */
    int userns;
    char userns_reason[160];

    /* Each namespace type can be unshared by us: directly when root, else
     * as the owner of a fresh user namespace (ns_need_userns). */
    bool mountns, pidns, netns, ipcns, utsns, cgroupns;
    bool ns_need_userns;   /* namespaces only work inside a new user ns */
    char ns_reason[160];   /* first failure, "" when all work */

    int landlock_abi;      /* highest landlock ABI, 0 if unsupported */
    char landlock_reason[160];

    bool seccomp;          /* seccomp filter mode available */
    char seccomp_reason[160];
    char seccomp_lib[32];  /* libseccomp version in use, e.g. "2.5.4" */

    int cgroup_version;    /* 2, 1 (v1 memory controller, also hybrid), 0 */
    bool cgroup_writable;  /* a child cgroup could be created (delegated) */
    char cgroup_path[256]; /* our cgroup directory, "" if unknown */
    char cgroup_reason[160];

    bool no_new_privs;     /* PR_SET_NO_NEW_PRIVS works (tested in a child) */
    bool openat2;          /* syscall available */
    bool pidfd;            /* pidfd_open available */
    bool close_range;      /* close_range available */
} probe_report;

/* Fill *r with what this machine supports. Never fails hard: what cannot be
 * determined is reported as unavailable with a reason. Forks short-lived
 * children (call it before starting threads when possible). Returns 0, or
 * -EINVAL when r is NULL. Thread-safe apart from the forks. */
int probe_run(probe_report *r);

/* A library venom uses and the version it runs with ("present" when the
 * library has no way to tell). */
typedef struct probe_lib {
    const char *name;  /* static string, e.g. "jansson" */
    char version[64];
} probe_lib;

/* Fill out[0..max) with library versions (curl, jansson, sqlite3, libffi,
 * libseccomp, libcap, libarchive, libsodium, libyaml); returns how many were
 * written (at most max). Thread-safe. */
size_t probe_libs(probe_lib *out, size_t max);
#define PROBE_MAX_LIBS 9

/* How much isolation an untrusted skill gets on this machine. */
typedef enum probe_level {
    PROBE_NONE = 0,     /* no sandbox possible: untrusted skills must not run */
    PROBE_DEGRADED = 1, /* some layers missing (see probe_summary) */
    PROBE_FULL = 2,     /* namespaces + landlock + seccomp + limits */
} probe_level;

/* The level implied by the report: namespaces need (root or userns) and all
 * six namespace types; file-system isolation needs namespaces or landlock;
 * seccomp needs filter mode and, when not root, no_new_privs. NONE when there
 * is no file-system isolation or no seccomp. */
probe_level probe_sandbox_level(const probe_report *r);

/* One line naming the sandbox layers that will be active, starting with
 * "full:", "degraded:" or "none:". Returns a static string. */
const char *probe_summary(const probe_report *r);

#endif
