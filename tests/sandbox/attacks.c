/*
 * attacks.c — the hostile "attacks" skill pack (issue 3, attack suite). Each
 * skill attempts ONE escape from the sandboxed worker and reports exactly
 * what happened as JSON: {"rc":…, "errno":…, "err":"ENAME", "detail":…}
 * plus fields of its own. Only an attack that is itself a crash or a kill
 * (x32, int 0x80, the file-size signal, the deadline, the flood) ends
 * without a result. tests/e2e/sandbox_attacks.sh runs every skill and
 * asserts the exact outcome; docs/sandbox.md ("Attacks") lists them.
 *
 * One source, built three times (tests/sandbox/CMakeLists.txt) with the same
 * skills under different manifests: `attacks` (no exec, no network),
 * `attacks_exec` ("exec": true) and `attacks_net` ("network": "full").
 * The skill table below (the X(...) lines) is also what CMake reads to
 * write the manifests: one skill per line.
 *
 * Only <venom/venom.h> and libc (with the kernel's syscall numbers).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <termios.h>
#include <unistd.h>

#include <venom/venom.h>

#ifndef ATTACKS_NAME
#error ATTACKS_NAME must be defined
#endif

extern char **environ;

static const venom_host_api *H;
static venom_ctx *plugin_ctx;

/* ------------------------------------------------------------ helpers */

/* The JSON result under construction. */
typedef struct jb {
    char s[16384];
    size_t n;
} jb;

static void jb_raw(jb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_raw(jb *b, const char *fmt, ...)
{
    if (b->n >= sizeof b->s)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        b->n += (size_t)k < sizeof b->s - b->n ? (size_t)k : sizeof b->s - b->n - 1;
}

static void jb_sep(jb *b)
{
    jb_raw(b, "%s", b->n > 1 ? "," : "");
}

static void jb_int(jb *b, const char *key, long long v)
{
    jb_sep(b);
    jb_raw(b, "\"%s\":%lld", key, v);
}

static void jb_bool(jb *b, const char *key, bool v)
{
    jb_sep(b);
    jb_raw(b, "\"%s\":%s", key, v ? "true" : "false");
}

static void jb_strval(jb *b, const char *v)
{
    jb_raw(b, "\"");
    for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            jb_raw(b, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            jb_raw(b, "\\u%04x", *p);
        else
            jb_raw(b, "%c", *p);
    }
    jb_raw(b, "\"");
}

static void jb_str(jb *b, const char *key, const char *v)
{
    jb_sep(b);
    jb_raw(b, "\"%s\":", key);
    jb_strval(b, v);
}

static const char *ename(int e)
{
    const char *n = e ? strerrorname_np(e) : "OK";
    return n ? n : "?";
}

/* "key":errno and "key_name":"ENAME" (0 / "OK" when the call succeeded). */
static void jb_errno(jb *b, const char *key, int e)
{
    char k[96];
    jb_int(b, key, e);
    snprintf(k, sizeof k, "%s_name", key);
    jb_str(b, k, ename(e));
}

/* The canonical part: rc, errno, err (name), detail. */
static void jb_main(jb *b, long rc, int e, const char *detail)
{
    jb_int(b, "rc", rc);
    jb_int(b, "errno", e);
    jb_str(b, "err", ename(e));
    jb_str(b, "detail", detail);
}

static int32_t jb_done(venom_ctx *call, jb *b)
{
    jb_raw(b, "}");
    return H->set_result(call, b->s, (size_t)-1);
}

#define JB_INIT(b) jb b = {.n = 0}; jb_raw(&b, "{")

/* Run a system call expression: rc and the errno it left (0 on success). */
#define TRY(rcvar, evar, expr)                                                                          \
    do {                                                                                                \
        errno = 0;                                                                                      \
        rcvar = (long)(expr);                                                                           \
        evar = rcvar < 0 ? errno : 0;                                                                   \
    } while (0)

/* A string argument: the value of "key" in the flat args object (the driver
 * passes plain paths and numbers; \" and \\ escapes are decoded). */
static bool arg_str(const char *args, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = args ? strstr(args, pat) : NULL;
    if (!p || n == 0)
        return false;
    p += strlen(pat);
    while (*p == ' ' || *p == ':')
        p++;
    if (*p != '"')
        return false;
    p++;
    size_t k = 0;
    while (*p && *p != '"' && k + 1 < n) {
        if (*p == '\\' && p[1])
            p++;
        out[k++] = *p++;
    }
    out[k] = '\0';
    return true;
}

static long arg_long(const char *args, const char *key, long dflt)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = args ? strstr(args, pat) : NULL;
    if (!p)
        return dflt;
    p += strlen(pat);
    while (*p == ' ' || *p == ':' || *p == '"')
        p++;
    char *end = NULL;
    long v = strtol(p, &end, 10);
    return end == p ? dflt : v;
}

/* open(path, flags) and report "key" = errno (0 when it opened: a hole). */
static int probe_open(jb *b, const char *key, const char *path, int flags)
{
    long fd;
    int e;
    TRY(fd, e, open(path, flags | O_CLOEXEC, 0644));
    if (fd >= 0)
        close((int)fd);
    jb_errno(b, key, e);
    return e;
}

/* One open attempt as the whole attack. */
static int32_t open_attack(venom_ctx *call, const char *path, int flags)
{
    JB_INIT(b);
    long fd;
    int e;
    TRY(fd, e, open(path, flags | O_CLOEXEC, 0644));
    char detail[512] = "";
    if (fd >= 0) {
        ssize_t n = read((int)fd, detail, 64);
        detail[n > 0 ? n : 0] = '\0';
        close((int)fd);
    }
    jb_main(&b, fd >= 0 ? 0 : fd, e, fd >= 0 ? detail : path);
    return jb_done(call, &b);
}

/* One raw system call as the whole attack. */
static int32_t syscall_attack(venom_ctx *call, long rc, int e, const char *what)
{
    JB_INIT(b);
    jb_main(&b, rc, e, what);
    return jb_done(call, &b);
}

/* ------------------------------------------------------------ files: read */

static int32_t a_read_shadow(venom_ctx *call, const char *args, void *data)
{
    return open_attack(call, "/etc/shadow", O_RDONLY);
}

/* args.path: a private key the driver planted outside the workdir. */
static int32_t a_read_ssh_key(venom_ctx *call, const char *args, void *data)
{
    char path[4096] = "";
    arg_str(args, "path", path, sizeof path);
    return open_attack(call, path, O_RDONLY);
}

static int32_t a_read_other_users(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char path[4096] = "";
    arg_str(args, "path", path, sizeof path); /* another user's home */
    int e1 = probe_open(&b, "root_profile", "/root/.profile", O_RDONLY);
    int e2 = probe_open(&b, "home", "/home", O_RDONLY | O_DIRECTORY);
    int e3 = probe_open(&b, "passwd", "/etc/passwd", O_RDONLY);
    int e4 = probe_open(&b, "other_home", path, O_RDONLY | O_DIRECTORY);
    jb_main(&b, e1 || e2 || e3 || e4 ? -1 : 0, e1 ? e1 : e2 ? e2 : e3 ? e3 : e4, "/root/.profile /home /etc/passwd");
    return jb_done(call, &b);
}

/* args.path: the driver's temp dir in the host's /tmp. The worker's /tmp is
 * its own empty tmpfs. */
static int32_t a_read_host_tmp(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char path[4096] = "";
    arg_str(args, "path", path, sizeof path);
    int e = probe_open(&b, "host_dir", path, O_RDONLY | O_DIRECTORY);
    /* what the view has there: only the skeleton leading to the workdir */
    char names[1024] = "";
    DIR *hd = opendir(path);
    for (struct dirent *de; hd && (de = readdir(hd));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (*names)
            strncat(names, " ", sizeof names - strlen(names) - 1);
        strncat(names, de->d_name, sizeof names - strlen(names) - 1);
    }
    if (hd)
        closedir(hd);
    jb_str(&b, "host_dir_entries", names);
    int entries = 0;
    DIR *d = opendir("/tmp");
    for (struct dirent *de; d && (de = readdir(d));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            entries++;
    if (d)
        closedir(d);
    jb_int(&b, "tmp_entries", entries);
    jb_main(&b, e ? -1 : 0, e, path);
    return jb_done(call, &b);
}

/* args.pid: a process of the host (the driver's planted sleep). */
static int32_t a_proc_mem(venom_ctx *call, const char *args, void *data)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/mem", arg_long(args, "pid", 1));
    return open_attack(call, path, O_RDWR);
}

static int32_t a_proc_environ(venom_ctx *call, const char *args, void *data)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/environ", arg_long(args, "pid", 1));
    return open_attack(call, path, O_RDONLY);
}

static int32_t a_proc_host_root(venom_ctx *call, const char *args, void *data)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%ld/root/etc/hostname", arg_long(args, "pid", 1));
    return open_attack(call, path, O_RDONLY);
}

/* /proc/kallsyms and other system-wide /proc files: only /proc/<own pid>
 * is readable. */
static int32_t a_proc_kallsyms(venom_ctx *call, const char *args, void *data)
{
    return open_attack(call, "/proc/kallsyms", O_RDONLY);
}

/* Does `buf` (n bytes, NUL-separated) contain needle? */
static bool mem_has(const char *buf, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k && i + k <= n; i++)
        if (!memcmp(buf + i, needle, k))
            return true;
    return false;
}

static int file_has(const char *path, const char *needle, int *err)
{
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *err = fd < 0 ? errno : 0;
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n > 0 && mem_has(buf, (size_t)n, needle);
}

/* args.secret: the value the driver exported as VENOM_PLANTED_SECRET. The
 * worker's environment holds the declared variables only. */
static int32_t a_env_secret(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char secret[256] = "", *hv = NULL;
    arg_str(args, "secret", secret, sizeof secret);
    bool in_environ = false, declared = false;
    int n = 0;
    for (char **e = environ; e && *e; e++, n++) {
        in_environ |= strstr(*e, secret) != NULL;
        declared |= !strcmp(*e, "VENOM_ATTACK_DECLARED=visible");
    }
    const char *g = getenv("VENOM_PLANTED_SECRET");
    int es = 0, e1 = 0;
    int in_self = file_has("/proc/self/environ", secret, &es);
    int in_pid1 = file_has("/proc/1/environ", secret, &e1);
    int32_t host = H->getenv(call, "VENOM_PLANTED_SECRET", &hv);
    bool host_leak = hv && strstr(hv, secret);
    H->free(hv);
    jb_int(&b, "environ_count", n);
    jb_bool(&b, "in_environ", in_environ);
    jb_bool(&b, "declared_visible", declared);
    jb_bool(&b, "getenv", g != NULL);
    jb_bool(&b, "in_proc_self", in_self);
    jb_errno(&b, "proc_self_errno", es);
    jb_bool(&b, "in_proc_1", in_pid1);
    jb_errno(&b, "proc_1_errno", e1);
    jb_int(&b, "host_getenv", host);
    jb_bool(&b, "host_leak", host_leak);
    bool found = in_environ || g || in_self || in_pid1 || host_leak;
    jb_main(&b, found ? 0 : -1, found ? 0 : ENOENT, found ? "the planted secret is visible" : "not found");
    return jb_done(call, &b);
}

/* The host API's own confinement: fs_open of an absolute host path and of
 * a ".." path. */
static int32_t a_host_fs_open(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char path[4096] = "";
    arg_str(args, "path", path, sizeof path);
    int32_t a = H->fs_open(call, path, VENOM_FS_READ, 0);
    int32_t d = H->fs_open(call, "../../../../../../etc/hostname", VENOM_FS_READ, 0);
    if (a >= 0)
        close(a);
    if (d >= 0)
        close(d);
    jb_int(&b, "absolute", a);
    jb_int(&b, "dotdot", d);
    jb_main(&b, a >= 0 || d >= 0 ? 0 : -1, 0, path);
    return jb_done(call, &b);
}

/* args.path: the venom binary (the supervisor's /proc/PID/exe). */
static int32_t a_supervisor_exe(venom_ctx *call, const char *args, void *data)
{
    char path[4096] = "";
    arg_str(args, "path", path, sizeof path);
    return open_attack(call, path, O_WRONLY);
}

/* /proc/self/exe is venom-worker, bound read-only from the host. */
static int32_t a_self_exe_write(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char target[4096] = "";
    ssize_t n = readlink("/proc/self/exe", target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    jb_str(&b, "exe", target);
    probe_open(&b, "o_rdwr", "/proc/self/exe", O_RDWR);
    long fd;
    int e;
    TRY(fd, e, open("/proc/self/exe", O_WRONLY | O_CLOEXEC));
    if (fd >= 0)
        close((int)fd);
    jb_main(&b, fd >= 0 ? 0 : fd, e, "/proc/self/exe O_WRONLY");
    return jb_done(call, &b);
}

/* ------------------------------------------------------------ files: write */

static int32_t a_write_etc(venom_ctx *call, const char *args, void *data)
{
    return open_attack(call, "/etc/venom-pwned", O_WRONLY | O_CREAT | O_TRUNC);
}

static int32_t a_write_workdir(venom_ctx *call, const char *args, void *data)
{
    return open_attack(call, "pwned", O_WRONLY | O_CREAT | O_TRUNC);
}

static int32_t a_write_usr(venom_ctx *call, const char *args, void *data)
{
    return open_attack(call, "/usr/lib/venom-pwned", O_WRONLY | O_CREAT | O_TRUNC);
}

/* args.path: the pack's own directory: overwrite the plugin itself. */
static int32_t a_write_pack(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char dir[4096] = "", path[4200];
    arg_str(args, "path", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s.so", dir, ATTACKS_NAME);
    int enew = 0;
    char np[4200];
    snprintf(np, sizeof np, "%s/pwned", dir);
    enew = probe_open(&b, "create", np, O_WRONLY | O_CREAT);
    long fd;
    int e;
    TRY(fd, e, open(path, O_WRONLY | O_CLOEXEC));
    if (fd >= 0)
        close((int)fd);
    jb_main(&b, fd >= 0 || !enew ? 0 : -1, e, path);
    return jb_done(call, &b);
}

static int32_t a_write_proc_sys(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    probe_open(&b, "read", "/proc/sys/kernel/hostname", O_RDONLY);
    long fd;
    int e;
    TRY(fd, e, open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC));
    if (fd >= 0)
        close((int)fd);
    jb_main(&b, fd >= 0 ? 0 : fd, e, "/proc/sys/kernel/hostname");
    return jb_done(call, &b);
}

static int32_t a_write_sysrq(venom_ctx *call, const char *args, void *data)
{
    return open_attack(call, "/proc/sysrq-trigger", O_WRONLY);
}

/* args.path: the planted secret; reached through "out/../../..". */
static int32_t a_dotdot_escape(venom_ctx *call, const char *args, void *data)
{
    char secret[4096] = "", path[8192];
    arg_str(args, "path", secret, sizeof secret);
    snprintf(path, sizeof path, "out/../../../../../../../../..%s", secret);
    return open_attack(call, path, O_RDONLY);
}

/* A symlink made inside the declared path, pointing at the secret. (The
 * *at calls: x86_64 libc's symlink() and link() use the old symlink/link
 * system calls, which the allowlist does not have: ENOSYS.) */
static int32_t a_symlink_escape(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char secret[4096] = "", rel[8192];
    arg_str(args, "path", secret, sizeof secret);
    unlinkat(AT_FDCWD, "out/abs_link", 0);
    unlinkat(AT_FDCWD, "out/rel_link", 0);
    long r1, r2;
    int e1, e2;
    TRY(r1, e1, symlinkat(secret, AT_FDCWD, "out/abs_link"));
    snprintf(rel, sizeof rel, "../../../../../../../../..%s", secret);
    TRY(r2, e2, symlinkat(rel, AT_FDCWD, "out/rel_link"));
    jb_errno(&b, "symlink", e1 ? e1 : e2);
    int er = probe_open(&b, "rel", "out/rel_link", O_RDONLY);
    long fd;
    int e;
    TRY(fd, e, open("out/abs_link", O_RDONLY | O_CLOEXEC));
    if (fd >= 0)
        close((int)fd);
    jb_main(&b, fd >= 0 || !er ? 0 : -1, e, secret);
    return jb_done(call, &b);
}

/* Symlinks the driver planted before the call: out/planted -> the secret
 * (absolute), and planted_rel in the workdir -> ../secret/... */
static int32_t a_planted_symlink(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    int er = probe_open(&b, "rel", "planted_rel", O_RDONLY);
    long fd;
    int e;
    TRY(fd, e, open("out/planted", O_RDONLY | O_CLOEXEC));
    if (fd >= 0)
        close((int)fd);
    jb_main(&b, fd >= 0 || !er ? 0 : -1, e, "out/planted");
    return jb_done(call, &b);
}

static int32_t a_hardlink_escape(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char secret[4096] = "";
    arg_str(args, "path", secret, sizeof secret);
    unlink("out/hl_secret");
    unlink("out/hl_cache");
    long r1, r2;
    int e1, e2;
    TRY(r2, e2, linkat(AT_FDCWD, "/etc/ld.so.cache", AT_FDCWD, "out/hl_cache", 0)); /* visible, another mount */
    jb_errno(&b, "visible_other_mount", e2);
    TRY(r1, e1, linkat(AT_FDCWD, secret, AT_FDCWD, "out/hl_secret", 0));
    jb_main(&b, r1 == 0 || r2 == 0 ? 0 : -1, e1, secret);
    return jb_done(call, &b);
}

/* A race on the declared read-write path: a child swaps out/race_a (a
 * directory) and out/race_b (a symlink to /) with RENAME_EXCHANGE while the
 * parent opens out/race_a/<secret>: whatever the interleaving, only the view
 * is reachable. */
static int32_t a_symlink_race(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char secret[4096] = "", path[8192];
    arg_str(args, "path", secret, sizeof secret);
    rmdir("out/race_a");
    unlink("out/race_a");
    rmdir("out/race_b");
    unlink("out/race_b");
    long r;
    int e;
    TRY(r, e, mkdir("out/race_a", 0755));
    if (r == 0)
        TRY(r, e, symlinkat("/", AT_FDCWD, "out/race_b"));
    if (r < 0) {
        jb_main(&b, r, e, "cannot set up the race");
        return jb_done(call, &b);
    }
    pid_t kid = fork();
    if (kid == 0) {
        for (;;)
            syscall(SYS_renameat2, AT_FDCWD, "out/race_a", AT_FDCWD, "out/race_b", 2 /* RENAME_EXCHANGE */);
    }
    snprintf(path, sizeof path, "out/race_a%s", secret);
    int opened = 0, enoent = 0, other = 0, other_errno = 0, via_link = 0, tries = 0;
    /* at least 3000 tries, and on until the swapper has been seen to win
     * some (a loaded machine may not schedule it at once), bounded */
    for (int i = 0; i < 3000 || (via_link == 0 && i < 300000); i++, tries++) {
        if (i % 500 == 499)
            sched_yield();
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            opened++;
            close(fd);
        } else if (errno == ENOENT) {
            enoent++;
        } else {
            other++;
            other_errno = errno;
        }
        /* the swap does happen: sometimes out/race_a is the symlink to / */
        struct stat st;
        if (fstatat(AT_FDCWD, "out/race_a/usr", &st, 0) == 0)
            via_link++;
    }
    if (kid > 0) {
        kill(kid, SIGKILL);
        waitpid(kid, NULL, 0);
    }
    jb_int(&b, "opened", opened);
    jb_int(&b, "enoent", enoent);
    jb_int(&b, "other", other);
    jb_errno(&b, "other_errno", other_errno);
    jb_int(&b, "swapped", via_link);
    jb_int(&b, "tries", tries);
    jb_main(&b, opened ? 0 : -1, opened ? 0 : ENOENT, path);
    return jb_done(call, &b);
}

/* Move the declared path (a mount point) away, or remove it. */
static int32_t a_replace_mount(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    long r1, r2;
    int e1, e2;
    TRY(r1, e1, rename("out", "out_moved"));
    TRY(r2, e2, rmdir("out"));
    jb_errno(&b, "rmdir", e2);
    jb_main(&b, r1 == 0 || r2 == 0 ? 0 : -1, e1, "rename out out_moved");
    return jb_done(call, &b);
}

/* A set-user-id executable planted in the declared path: on the host it
 * would be a setuid binary of the user who ran venom (root: a root shell
 * for every local user who can reach the workdir). Two ways: the creation
 * mode of open(O_CREAT) and fchmod. */
static int32_t a_setuid_plant(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    unlink("out/suid_creat");
    unlink("out/suid_chmod");
    umask(0);
    long fd;
    int e;
    TRY(fd, e, open("out/suid_creat", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 06755));
    struct stat st = {0};
    if (fd >= 0) {
        fstat((int)fd, &st);
        close((int)fd);
    }
    jb_errno(&b, "creat", e);
    jb_int(&b, "creat_mode", st.st_mode & 07777);
    long fd2, r;
    int e2, ec;
    TRY(fd2, e2, open("out/suid_chmod", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755));
    r = -1;
    ec = e2;
    if (fd2 >= 0) {
        static const char script[] = "#!/bin/sh\nid\n";
        (void)!write((int)fd2, script, sizeof script - 1);
        TRY(r, ec, fchmod((int)fd2, 06755));
        st.st_mode = 0;
        fstat((int)fd2, &st);
        close((int)fd2);
    }
    jb_int(&b, "chmod_mode", st.st_mode & 07777);
    bool suid = (st.st_mode & 06000) != 0;
    jb_main(&b, r, ec, suid ? "a set-id file exists in the declared path" : "no set-id file");
    return jb_done(call, &b);
}

static int32_t a_mknod_dev(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, mknod("/tmp/mem", S_IFCHR | 0666, makedev(1, 1)));
    return syscall_attack(call, r, e, "mknod /tmp/mem c 1 1");
}

static int32_t a_sys_absent(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    probe_open(&b, "sys_class_net", "/sys/class/net", O_RDONLY | O_DIRECTORY);
    long r;
    int e;
    struct stat st;
    TRY(r, e, stat("/sys", &st));
    jb_main(&b, r, e, "/sys");
    return jb_done(call, &b);
}

/* Devices: only null, zero, full, urandom (+ random, fd, std* links). */
static int32_t a_dev_devices(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    int e1 = probe_open(&b, "mem", "/dev/mem", O_RDONLY);
    int e2 = probe_open(&b, "kmsg", "/dev/kmsg", O_RDONLY);
    int e3 = probe_open(&b, "sda", "/dev/sda", O_RDONLY);
    int e4 = probe_open(&b, "tty", "/dev/tty", O_RDWR);
    int e5 = probe_open(&b, "ptmx", "/dev/ptmx", O_RDWR);
    int e6 = probe_open(&b, "shm", "/dev/shm", O_RDONLY | O_DIRECTORY);
    char list[1024] = "";
    DIR *d = opendir("/dev");
    jb_errno(&b, "opendir_dev", d ? 0 : errno);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        if (*list)
            strncat(list, " ", sizeof list - strlen(list) - 1);
        strncat(list, de->d_name, sizeof list - strlen(list) - 1);
    }
    if (d)
        closedir(d);
    jb_str(&b, "dev", list);
    bool all = e1 && e2 && e3 && e4 && e5 && e6;
    jb_main(&b, all ? -1 : 0, e1, "/dev/mem");
    return jb_done(call, &b);
}

/* A declared path that is missing when a call starts is dropped from the
 * view; the skill then creates it as a symlink (args.path: a host
 * directory) in the enclosing read-write path. The NEXT call must not see
 * the host directory through it (read_decl). */
static int32_t a_plant_decl_link(venom_ctx *call, const char *args, void *data)
{
    char target[4096] = "";
    arg_str(args, "path", target, sizeof target);
    unlink("out/data");
    long r;
    int e;
    TRY(r, e, symlinkat(target, AT_FDCWD, "out/data"));
    return syscall_attack(call, r, e, target);
}

/* The second call after plant_decl_link: read the secret (args.path) through
 * the declared path out/data and directly. */
static int32_t a_read_decl(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char secret[4096] = "", name[4096] = "", via[8192];
    arg_str(args, "path", secret, sizeof secret);
    const char *slash = strrchr(secret, '/');
    snprintf(name, sizeof name, "%s", slash ? slash + 1 : secret);
    snprintf(via, sizeof via, "out/data/%s", name);
    int ed = probe_open(&b, "direct", secret, O_RDONLY);
    long fd;
    int e;
    TRY(fd, e, open(via, O_RDONLY | O_CLOEXEC));
    char content[128] = "";
    if (fd >= 0) {
        ssize_t n = read((int)fd, content, sizeof content - 1);
        content[n > 0 ? n : 0] = '\0';
        close((int)fd);
    }
    jb_str(&b, "content", content);
    jb_main(&b, fd >= 0 || !ed ? 0 : -1, e, via);
    return jb_done(call, &b);
}

/* ------------------------------------------------------------ mounts, namespaces */

static int32_t a_mount(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, mount("none", "/tmp", "tmpfs", 0, NULL));
    return syscall_attack(call, r, e, "mount tmpfs /tmp");
}

static int32_t a_umount(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, umount2("/", MNT_DETACH));
    return syscall_attack(call, r, e, "umount2 / MNT_DETACH");
}

static int32_t a_unshare(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, unshare(CLONE_NEWUSER | CLONE_NEWNS));
    return syscall_attack(call, r, e, "unshare(CLONE_NEWUSER|CLONE_NEWNS)");
}

static int32_t a_setns_self(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    int fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
    jb_errno(&b, "open_ns", fd < 0 ? errno : 0);
    long r;
    int e;
    TRY(r, e, setns(fd, 0));
    if (fd >= 0)
        close(fd);
    jb_main(&b, r, e, "setns(/proc/self/ns/user)");
    return jb_done(call, &b);
}

/* args.pid: a host process; its namespaces are not reachable. */
static int32_t a_setns_host(venom_ctx *call, const char *args, void *data)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/ns/mnt", arg_long(args, "pid", 1));
    return open_attack(call, path, O_RDONLY);
}

static int32_t a_chroot(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, chroot("/tmp"));
    return syscall_attack(call, r, e, "chroot /tmp");
}

static int32_t a_pivot_root(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, syscall(SYS_pivot_root, ".", "."));
    return syscall_attack(call, r, e, "pivot_root . .");
}

static int32_t a_open_tree(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */ | O_CLOEXEC));
    if (r >= 0)
        close((int)r);
    return syscall_attack(call, r, e, "open_tree(/, OPEN_TREE_CLONE)");
}

static int32_t a_fsopen(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */));
    if (r >= 0)
        close((int)r);
    return syscall_attack(call, r, e, "fsopen(tmpfs)");
}

static int32_t a_move_mount(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    long r2;
    int e2;
    TRY(r2, e2, syscall(SYS_fspick, AT_FDCWD, "/tmp", 1 /* FSPICK_CLOEXEC */));
    jb_errno(&b, "fspick", e2);
    TRY(r2, e2, syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, NULL, 0));
    jb_errno(&b, "mount_setattr", e2);
    TRY(r2, e2, syscall(SYS_fsmount, 3, 0, 0));
    jb_errno(&b, "fsmount", e2);
    long r;
    int e;
    TRY(r, e, syscall(SYS_move_mount, AT_FDCWD, "/tmp", AT_FDCWD, "/", 0));
    jb_main(&b, r, e, "move_mount(/tmp, /)");
    return jb_done(call, &b);
}

/* clone with a namespace flag (raw, fork-like; the child would exit). */
static long raw_clone(unsigned long flags, int *e)
{
    errno = 0;
    long r = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
    if (r == 0)
        _exit(0);
    *e = r < 0 ? errno : 0;
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    return r;
}

static int32_t a_clone_newuser(venom_ctx *call, const char *args, void *data)
{
    int e = 0;
    long r = raw_clone(CLONE_NEWUSER, &e);
    return syscall_attack(call, r < 0 ? r : 0, e, "clone(CLONE_NEWUSER)");
}

static int32_t a_clone_newns(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    int e1 = 0, e2 = 0, e3 = 0;
    raw_clone(CLONE_NEWNET, &e1);
    raw_clone(CLONE_NEWPID, &e2);
    long r = raw_clone(CLONE_NEWNS, &e3);
    jb_errno(&b, "newnet", e1);
    jb_errno(&b, "newpid", e2);
    jb_main(&b, r < 0 ? r : 0, e3, "clone(CLONE_NEWNS)");
    return jb_done(call, &b);
}

struct clone_args_v0 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static long raw_clone3(uint64_t flags, int *e)
{
    struct clone_args_v0 ca = {.flags = flags, .exit_signal = SIGCHLD};
    errno = 0;
    long r = syscall(SYS_clone3, &ca, sizeof ca);
    if (r == 0)
        _exit(0);
    *e = r < 0 ? errno : 0;
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    return r;
}

static int32_t a_clone3_ns(venom_ctx *call, const char *args, void *data)
{
    int e = 0;
    long r = raw_clone3(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID, &e);
    return syscall_attack(call, r < 0 ? r : 0, e, "clone3(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID)");
}

static void *thread_fn(void *arg)
{
    return arg;
}

/* clone3 without flags is ENOSYS too, so that libc falls back to clone:
 * threads and fork still work. */
static int32_t a_clone3_fallback(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    int e = 0;
    long r = raw_clone3(0, &e);
    pthread_t t;
    void *ret = NULL;
    int pt = pthread_create(&t, NULL, thread_fn, (void *)0x2a);
    if (pt == 0)
        pthread_join(t, &ret);
    jb_errno(&b, "pthread_create", pt);
    jb_bool(&b, "thread_ran", ret == (void *)0x2a);
    pid_t kid = fork();
    if (kid == 0)
        _exit(7);
    int st = 0;
    if (kid > 0)
        waitpid(kid, &st, 0);
    jb_int(&b, "fork_status", kid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    jb_main(&b, r < 0 ? r : 0, e, "clone3 without flags");
    return jb_done(call, &b);
}

static int32_t a_handle_at(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    struct {
        unsigned int bytes;
        int type;
        unsigned char h[128];
    } fh = {.bytes = 128};
    int mount_id = 0;
    long r;
    int e;
    TRY(r, e, syscall(SYS_name_to_handle_at, AT_FDCWD, "/usr", &fh, &mount_id, 0));
    jb_errno(&b, "name_to_handle_at", e);
    long r2;
    int e2;
    TRY(r2, e2, syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
    if (r2 >= 0)
        close((int)r2);
    jb_main(&b, r2 < 0 ? r2 : 0, e2, "open_by_handle_at");
    return jb_done(call, &b);
}

/* ------------------------------------------------------------ processes */

static int32_t a_ptrace_parent(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    pid_t pp = getppid();
    jb_int(&b, "ppid", pp);
    long r0;
    int e0;
    TRY(r0, e0, ptrace(PTRACE_TRACEME, 0, NULL, NULL));
    jb_errno(&b, "traceme", e0);
    long r1;
    int e1;
    TRY(r1, e1, ptrace(PTRACE_ATTACH, (pid_t)arg_long(args, "pid", 1), NULL, NULL));
    jb_errno(&b, "attach_host_pid", e1);
    long r;
    int e;
    TRY(r, e, ptrace(PTRACE_ATTACH, pp ? pp : 1, NULL, NULL));
    jb_main(&b, r, e, "PTRACE_ATTACH getppid() (or 1)");
    return jb_done(call, &b);
}

static int32_t a_process_vm_readv(venom_ctx *call, const char *args, void *data)
{
    char buf[16];
    struct iovec l = {buf, sizeof buf}, rm = {(void *)0x400000, sizeof buf};
    long r;
    int e;
    TRY(r, e, process_vm_readv((pid_t)arg_long(args, "pid", 1), &l, 1, &rm, 1, 0));
    return syscall_attack(call, r, e, "process_vm_readv");
}

static int32_t a_kcmp(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, syscall(SYS_kcmp, getpid(), (pid_t)arg_long(args, "pid", 1), 0 /* KCMP_FILE */, 0, 0));
    return syscall_attack(call, r, e, "kcmp");
}

static int32_t a_pidfd_open(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, syscall(SYS_pidfd_open, 1, 0));
    if (r >= 0)
        close((int)r);
    return syscall_attack(call, r, e, "pidfd_open(1)");
}

/* kill(-1, SIGKILL): every process the worker may signal. The driver then
 * checks that its own processes survived. */
static int32_t a_kill_all(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, kill(-1, SIGKILL));
    return syscall_attack(call, r, e, "kill(-1, SIGKILL)");
}

/* args.pid and args.shell: host processes, by their host pid. */
static int32_t a_kill_host_pid(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    long r1;
    int e1;
    TRY(r1, e1, kill((pid_t)arg_long(args, "shell", 1), SIGKILL));
    jb_errno(&b, "shell", e1);
    long r;
    int e;
    TRY(r, e, kill((pid_t)arg_long(args, "pid", 1), SIGKILL));
    jb_main(&b, r, e, "kill(host pid, SIGKILL)");
    return jb_done(call, &b);
}

/* The parent (the supervisor) is outside the pid namespace: getppid() is 0
 * and pid 1 is the worker itself; SIGKILL to pid 1 from inside is ignored. */
static int32_t a_kill_parent(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    jb_int(&b, "pid", getpid());
    jb_int(&b, "ppid", getppid());
    long r;
    int e;
    TRY(r, e, kill(1, SIGKILL));
    jb_bool(&b, "alive", true);
    jb_main(&b, r, e, "kill(1, SIGKILL)");
    return jb_done(call, &b);
}

/* A child that outlives the call: it renames itself (args.tag) so that the
 * driver can look for it on the host after venom returned. */
static int32_t a_orphan(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char tag[16] = "atk-orphan";
    arg_str(args, "tag", tag, sizeof tag);
    pid_t kid = fork();
    if (kid == 0) {
        prctl(PR_SET_NAME, tag, 0, 0, 0);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        for (;;)
            pause();
    }
    jb_main(&b, kid, kid < 0 ? errno : 0, tag);
    return jb_done(call, &b);
}

/* ------------------------------------------------------------ terminal */

static int32_t a_tiocsti(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char c = 'x';
    long r0, r1;
    int e0, e1;
    TRY(r1, e1, ioctl(1, TIOCSTI, &c));
    jb_errno(&b, "fd1", e1);
    TRY(r0, e0, ioctl(2, TIOCSTI, &c));
    jb_errno(&b, "fd2", e0);
    long r;
    int e;
    TRY(r, e, ioctl(0, TIOCSTI, &c));
    jb_main(&b, r, e, "ioctl(0, TIOCSTI)");
    return jb_done(call, &b);
}

/* The request with high bits set: the kernel uses the low 32 bits. */
static int32_t a_tiocsti_high(venom_ctx *call, const char *args, void *data)
{
    char c = 'x';
    long r;
    int e;
    TRY(r, e, syscall(SYS_ioctl, 0, 0x100000000UL | (unsigned long)TIOCSTI, &c));
    return syscall_attack(call, r, e, "ioctl(0, 0x100000000|TIOCSTI)");
}

static int32_t a_tioclinux(venom_ctx *call, const char *args, void *data)
{
    char sub = 11; /* TIOCL_GETKMSGREDIRECT */
    long r;
    int e;
    TRY(r, e, ioctl(0, TIOCLINUX, &sub));
    return syscall_attack(call, r, e, "ioctl(0, TIOCLINUX)");
}

/* Is any descriptor a terminal? (TCGETS is allowed: ENOTTY on /dev/null.) */
static int32_t a_tty_probe(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    int ttys = 0;
    for (int fd = 0; fd < 3; fd++) {
        struct termios t;
        char k[8];
        int r = tcgetattr(fd, &t);
        snprintf(k, sizeof k, "fd%d", fd);
        jb_errno(&b, k, r < 0 ? errno : 0);
        ttys += r == 0;
    }
    char target[256] = "";
    ssize_t n = readlink("/proc/self/fd/0", target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    jb_str(&b, "stdin", target);
    long sid;
    int esid;
    TRY(sid, esid, getsid(0));
    jb_int(&b, "getsid", sid);
    jb_errno(&b, "getsid_errno", esid);
    long fd;
    int e;
    TRY(fd, e, open("/dev/tty", O_RDWR | O_CLOEXEC));
    if (fd >= 0)
        close((int)fd);
    jb_int(&b, "ttys", ttys);
    jb_main(&b, fd >= 0 || ttys ? 0 : -1, e, "/dev/tty");
    return jb_done(call, &b);
}

/* ------------------------------------------------------------ kernel surface */

static int32_t a_init_module(venom_ctx *call, const char *args, void *data)
{
    static const char image[64] = "\177ELF";
    long r;
    int e;
    TRY(r, e, syscall(SYS_init_module, image, sizeof image, ""));
    return syscall_attack(call, r, e, "init_module");
}

static int32_t a_finit_module(venom_ctx *call, const char *args, void *data)
{
    int fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
    long r;
    int e;
    TRY(r, e, syscall(SYS_finit_module, fd, "", 0));
    if (fd >= 0)
        close(fd);
    return syscall_attack(call, r, e, "finit_module");
}

static int32_t a_bpf(venom_ctx *call, const char *args, void *data)
{
    /* BPF_MAP_CREATE of a 1-entry array: allowed to unprivileged users on
     * kernels that permit unprivileged bpf. */
    uint32_t attr[32] = {2 /* BPF_MAP_TYPE_ARRAY */, 4, 4, 1};
    long r;
    int e;
    TRY(r, e, syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr));
    if (r >= 0)
        close((int)r);
    return syscall_attack(call, r, e, "bpf(BPF_MAP_CREATE)");
}

static int32_t a_perf_event_open(venom_ctx *call, const char *args, void *data)
{
    /* a software task-clock counter on ourselves: the least privileged kind */
    uint32_t attr[32] = {1 /* PERF_TYPE_SOFTWARE */, 128 /* size */, 1 /* TASK_CLOCK */};
    long r;
    int e;
    TRY(r, e, syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
    if (r >= 0)
        close((int)r);
    return syscall_attack(call, r, e, "perf_event_open(software, self)");
}

static int32_t a_userfaultfd(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */));
    if (r >= 0)
        close((int)r);
    return syscall_attack(call, r, e, "userfaultfd");
}

static int32_t a_io_uring_setup(venom_ctx *call, const char *args, void *data)
{
    unsigned char params[120] = {0};
    long r;
    int e;
    TRY(r, e, syscall(SYS_io_uring_setup, 4, params));
    if (r >= 0)
        close((int)r);
    return syscall_attack(call, r, e, "io_uring_setup(4)");
}

static int32_t a_keyctl(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    long r1;
    int e1;
    TRY(r1, e1, syscall(SYS_add_key, "user", "venom-attack", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */));
    jb_errno(&b, "add_key", e1);
    long r2;
    int e2;
    TRY(r2, e2, syscall(SYS_request_key, "user", "venom-attack", NULL, 0));
    jb_errno(&b, "request_key", e2);
    long r;
    int e;
    TRY(r, e, syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* SESSION */, 1));
    jb_main(&b, r, e, "keyctl(GET_KEYRING_ID, session)");
    return jb_done(call, &b);
}

static int32_t a_personality(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    long r0;
    int e0;
    TRY(r0, e0, syscall(SYS_personality, 0xffffffffUL)); /* query only */
    jb_errno(&b, "query", e0);
    long r;
    int e;
    TRY(r, e, syscall(SYS_personality, (unsigned long)(PER_LINUX | READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE)));
    jb_main(&b, r, e, "personality(READ_IMPLIES_EXEC|ADDR_NO_RANDOMIZE)");
    return jb_done(call, &b);
}

/* Replace or stack the seccomp filter, or turn it into strict mode. */
static int32_t a_seccomp(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    long r0;
    int e0;
    TRY(r0, e0, prctl(PR_SET_SECCOMP, 1 /* strict */, 0, 0, 0));
    jb_errno(&b, "prctl", e0);
    long r;
    int e;
    TRY(r, e, syscall(SYS_seccomp, 0 /* SECCOMP_SET_MODE_STRICT */, 0, NULL));
    jb_main(&b, r, e, "seccomp(SET_MODE_STRICT)");
    return jb_done(call, &b);
}

/* The machine itself: kexec, reboot, the kernel log, the clock, the name. */
static int32_t a_machine(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    long r;
    int e;
    TRY(r, e, syscall(SYS_kexec_load, 0, 0, NULL, 0));
    jb_errno(&b, "kexec_load", e);
    TRY(r, e, syscall(SYS_syslog, 3 /* READ_ALL */, (char[64]){0}, 64));
    jb_errno(&b, "syslog", e);
    struct timespec ts = {0, 0};
    TRY(r, e, clock_settime(CLOCK_REALTIME, &ts));
    jb_errno(&b, "clock_settime", e);
    TRY(r, e, sethostname("pwned", 5));
    jb_errno(&b, "sethostname", e);
    TRY(r, e, syscall(SYS_iopl, 3));
    jb_errno(&b, "iopl", e);
    TRY(r, e, syscall(SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc /* POWER_OFF */, NULL));
    jb_main(&b, r, e, "reboot(POWER_OFF)");
    return jb_done(call, &b);
}

/* Fileless code: memfd_create (+ execveat when exec is declared). */
static int32_t a_memfd(venom_ctx *call, const char *args, void *data)
{
    long r;
    int e;
    TRY(r, e, syscall(SYS_memfd_create, "x", 1 /* MFD_CLOEXEC */));
    if (r >= 0)
        close((int)r);
    return syscall_attack(call, r, e, "memfd_create");
}

/* ------------------------------------------------------------ privileges */

static int32_t a_execve(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char *argv[] = {"passwd", NULL}, *envp[] = {NULL};
    long r0;
    int e0;
    TRY(r0, e0, execve("/usr/bin/passwd", argv, envp)); /* set-user-id root */
    jb_errno(&b, "setuid_binary", e0);
    char *argv2[] = {"sh", "-c", "id", NULL};
    long r;
    int e;
    TRY(r, e, execve("/bin/sh", argv2, envp));
    jb_main(&b, r, e, "execve /bin/sh");
    return jb_done(call, &b);
}

/* Run argv in a child, return its exit status and (up to n bytes of) its
 * stdout+stderr. */
static int run_child(char *const argv[], char *out, size_t n, int *status)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t kid = fork();
    if (kid < 0)
        return -errno;
    if (kid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        char *envp[] = {"PATH=/usr/bin:/bin", NULL};
        execve(argv[0], argv, envp);
        dprintf(1, "execve: %s", strerrorname_np(errno));
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < n && (k = read(p[0], out + got, n - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = '\0';
    close(p[0]);
    waitpid(kid, status, 0);
    return 0;
}

/* attacks_exec only: a program started by the skill has no capabilities and
 * no way back (no_new_privs, seccomp inherited). */
static int32_t a_exec_caps(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char out[4096] = "";
    int st = 0;
    char *argv[] = {"/usr/bin/setpriv", "--dump", NULL};
    int rc = run_child(argv, out, sizeof out, &st);
    jb_int(&b, "status", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    jb_str(&b, "output", out);
    jb_main(&b, rc, rc < 0 ? -rc : 0, "setpriv --dump");
    return jb_done(call, &b);
}

/* attacks_exec only: a set-user-id root program runs with the caller's ids
 * (no_new_privs, nosuid mounts). The kernel tells the dynamic loader about
 * a privilege change with AT_SECURE, and ld.so then ignores LD_DEBUG: its
 * statistics on stderr prove that `su` ran unprivileged. */
static int32_t a_setuid_exec(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char out[4096] = "";
    int st = 0;
    char *argv[] = {"/bin/sh", "-c",
                    "LD_DEBUG=statistics /usr/bin/su root -c 'id -u' </dev/null 2>&1 | "
                    "grep -c 'runtime linker statistics'; "
                    "LD_DEBUG=statistics /usr/bin/passwd -S root </dev/null 2>&1 | grep -c 'runtime linker statistics'",
                    NULL};
    int rc = run_child(argv, out, sizeof out, &st);
    jb_int(&b, "status", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    jb_str(&b, "output", out);
    jb_main(&b, rc, rc < 0 ? -rc : 0, "LD_DEBUG=statistics su, passwd");
    return jb_done(call, &b);
}

static int32_t a_setrlimit_raise(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    struct rlimit nf, fs, np, as, cpu, core;
    getrlimit(RLIMIT_NOFILE, &nf);
    getrlimit(RLIMIT_FSIZE, &fs);
    getrlimit(RLIMIT_NPROC, &np);
    getrlimit(RLIMIT_AS, &as);
    getrlimit(RLIMIT_CPU, &cpu);
    getrlimit(RLIMIT_CORE, &core);
    jb_int(&b, "nofile", (long long)nf.rlim_cur);
    jb_int(&b, "nofile_max", (long long)nf.rlim_max);
    jb_int(&b, "fsize", (long long)fs.rlim_cur);
    jb_int(&b, "nproc", (long long)np.rlim_cur);
    jb_int(&b, "as", (long long)as.rlim_cur);
    jb_int(&b, "cpu", (long long)cpu.rlim_cur);
    jb_int(&b, "core", (long long)core.rlim_cur);
    long r1;
    int e1;
    struct rlimit lower = {16, 16};
    TRY(r1, e1, setrlimit(RLIMIT_CORE, &lower)); /* any change: even lowering another limit */
    jb_errno(&b, "core_change", e1);
    struct rlimit up = {nf.rlim_max + 1024, nf.rlim_max + 1024};
    long r;
    int e;
    TRY(r, e, setrlimit(RLIMIT_NOFILE, &up));
    jb_main(&b, r, e, "setrlimit(RLIMIT_NOFILE, hard + 1024)");
    return jb_done(call, &b);
}

/* How many files can be opened: RLIMIT_NOFILE (256) applies. */
static int32_t a_nofile(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    int n = 0, e = 0, fds[2048];
    for (; n < 2048; n++) {
        fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fds[n] < 0) {
            e = errno;
            break;
        }
    }
    int highest = n ? fds[n - 1] : -1;
    for (int i = 0; i < n; i++)
        close(fds[i]);
    jb_int(&b, "opened", n);
    jb_int(&b, "highest_fd", highest);
    jb_main(&b, -1, e, "open /dev/null until refused");
    return jb_done(call, &b);
}

struct cap_header {
    uint32_t version;
    int pid;
};
struct cap_data {
    uint32_t effective, permitted, inheritable;
};

static int32_t a_capset(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    struct cap_header h = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
    struct cap_data d[2] = {{0}};
    long g;
    int eg;
    TRY(g, eg, syscall(SYS_capget, &h, d));
    jb_errno(&b, "capget", eg);
    jb_int(&b, "effective", d[0].effective | ((long long)d[1].effective << 32));
    jb_int(&b, "permitted", d[0].permitted | ((long long)d[1].permitted << 32));
    jb_int(&b, "inheritable", d[0].inheritable | ((long long)d[1].inheritable << 32));
    struct cap_data all[2] = {{~0u, ~0u, ~0u}, {~0u, ~0u, ~0u}};
    h.version = 0x20080522;
    h.pid = 0;
    long r;
    int e;
    TRY(r, e, syscall(SYS_capset, &h, all));
    jb_main(&b, r, e, "capset(all)");
    return jb_done(call, &b);
}

static int32_t a_ambient_raise(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    long r0;
    int e0;
    TRY(r0, e0, prctl(PR_CAPBSET_READ, 21 /* CAP_SYS_ADMIN */, 0, 0, 0));
    jb_int(&b, "bounding_sys_admin", r0);
    jb_errno(&b, "bounding_errno", e0);
    long r;
    int e;
    TRY(r, e, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 21, 0, 0));
    jb_main(&b, r, e, "prctl(PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN)");
    return jb_done(call, &b);
}

/* Become root, or undo the process hardening. */
static int32_t a_setuid0(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    jb_int(&b, "uid", getuid());
    jb_int(&b, "euid", geteuid());
    long r;
    int e;
    TRY(r, e, prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
    jb_errno(&b, "set_dumpable", e);
    TRY(r, e, prctl(PR_SET_SECUREBITS, 0, 0, 0, 0));
    jb_errno(&b, "set_securebits", e);
    jb_int(&b, "no_new_privs", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    jb_int(&b, "seccomp_mode", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    TRY(r, e, syscall(SYS_setresuid, 0, 0, 0));
    jb_errno(&b, "setresuid", e);
    TRY(r, e, syscall(SYS_setuid, 0));
    jb_main(&b, r, e, "setuid(0)");
    return jb_done(call, &b);
}

/* ------------------------------------------------------------ network */

/* args.port: the driver's TCP listener on the host's 127.0.0.1. */
static int32_t a_tcp_loopback(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    long s;
    int e;
    TRY(s, e, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    jb_errno(&b, "socket", e);
    long r = s;
    if (s >= 0) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)arg_long(args, "port", 1))};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        TRY(r, e, connect((int)s, (struct sockaddr *)&sa, sizeof sa));
        close((int)s);
    }
    jb_main(&b, r, e, "connect 127.0.0.1:port");
    return jb_done(call, &b);
}

/* args.name: the driver's abstract unix socket ("\0name"). */
static int32_t a_abstract_unix(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char name[100] = "";
    arg_str(args, "name", name, sizeof name);
    long s;
    int e;
    TRY(s, e, socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    jb_errno(&b, "socket", e);
    long r = s;
    if (s >= 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t k = strlen(name);
        memcpy(sa.sun_path + 1, name, k);
        TRY(r, e, connect((int)s, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + k)));
        close((int)s);
    }
    jb_main(&b, r, e, name);
    return jb_done(call, &b);
}

/* args.path: the driver's unix socket in the host's file system. */
static int32_t a_path_unix(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char path[108] = "";
    arg_str(args, "path", path, sizeof path);
    long s;
    int e;
    TRY(s, e, socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    jb_errno(&b, "socket", e);
    long r = s;
    if (s >= 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        memcpy(sa.sun_path, path, strlen(path));
        TRY(r, e, connect((int)s, (struct sockaddr *)&sa, sizeof sa));
        close((int)s);
    }
    jb_main(&b, r, e, path);
    return jb_done(call, &b);
}

static int32_t a_netlink(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    long r1;
    int e1;
    TRY(r1, e1, socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}));
    jb_errno(&b, "socketpair_inet", e1);
    long r;
    int e;
    TRY(r, e, socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 /* NETLINK_ROUTE */));
    if (r >= 0)
        close((int)r);
    jb_main(&b, r, e, "socket(AF_NETLINK)");
    return jb_done(call, &b);
}

static int32_t a_dns(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    struct addrinfo *res = NULL, hints = {.ai_socktype = SOCK_STREAM};
    errno = 0;
    int g = getaddrinfo("example.com", "80", &hints, &res);
    int e = errno;
    if (res)
        freeaddrinfo(res);
    jb_int(&b, "gai", g);
    jb_str(&b, "gai_msg", gai_strerror(g));
    jb_main(&b, g, g == EAI_SYSTEM ? e : 0, "getaddrinfo(example.com)");
    return jb_done(call, &b);
}

/* The IPC socket's peer credentials would name the supervisor. */
static int32_t a_peercred(venom_ctx *call, const char *args, void *data)
{
    struct ucred uc = {0};
    socklen_t len = sizeof uc;
    long r;
    int e;
    TRY(r, e, getsockopt(3, SOL_SOCKET, SO_PEERCRED, &uc, &len));
    return syscall_attack(call, r, e, "getsockopt(3, SO_PEERCRED)");
}

/* ------------------------------------------------------------ resources */

static int32_t a_forkbomb(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    int n = 0, e = 0;
    for (; n < 1000; n++) {
        pid_t p = fork();
        if (p < 0) {
            e = errno;
            break;
        }
        if (p == 0) {
            pause();
            _exit(0);
        }
    }
    jb_int(&b, "forks", n);
    jb_main(&b, -1, e, "fork until refused");
    return jb_done(call, &b);
}

static int32_t a_membomb(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    size_t mb = 0;
    int e = 0;
    for (; mb < 65536; mb += 16) {
        char *p = malloc(16u << 20);
        if (!p) {
            e = errno;
            break;
        }
        memset(p, 1, 16u << 20);
    }
    jb_int(&b, "allocated_mb", (long long)mb);
    jb_main(&b, -1, e, "malloc 16 MiB until refused");
    return jb_done(call, &b);
}

static int32_t a_diskfill(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    static char block[1 << 20];
    int fd = open("/tmp/fill", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t mb = 0;
    int e = fd < 0 ? errno : 0;
    while (fd >= 0 && mb < 4096) {
        ssize_t k = write(fd, block, sizeof block);
        if (k != (ssize_t)sizeof block) {
            e = k < 0 ? errno : ENOSPC;
            break;
        }
        mb++;
    }
    if (fd >= 0)
        close(fd);
    unlink("/tmp/fill");
    jb_int(&b, "written_mb", (long long)mb);
    jb_main(&b, -1, e, "/tmp/fill");
    return jb_done(call, &b);
}

/* A file past RLIMIT_FSIZE (256 MiB) in the declared path (sparse: no disk
 * used). */
#define SANDBOX_FSIZE_PROBE (256LL << 20)
static int32_t a_fsize(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    /* pid 1 of a pid namespace never dies of a signal it has no handler
     * for, so the worker itself gets EFBIG; a child is killed by SIGXFSZ. */
    pid_t kid = fork();
    if (kid == 0) {
        int cfd = open("out/big_child", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        (void)!pwrite(cfd, "x", 1, (off_t)SANDBOX_FSIZE_PROBE);
        _exit(0);
    }
    int st = 0;
    if (kid > 0)
        waitpid(kid, &st, 0);
    unlink("out/big_child");
    jb_int(&b, "child_signal", kid > 0 && WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    int fd = open("out/big", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct rlimit fs;
    getrlimit(RLIMIT_FSIZE, &fs);
    long r;
    int e;
    TRY(r, e, pwrite(fd, "x", 1, (off_t)fs.rlim_cur));
    if (fd >= 0)
        close(fd);
    unlink("out/big");
    jb_int(&b, "fsize", (long long)fs.rlim_cur);
    jb_main(&b, r, e, "pwrite at RLIMIT_FSIZE");
    return jb_done(call, &b);
}

static int32_t a_spin(venom_ctx *call, const char *args, void *data)
{
    for (volatile unsigned long i = 0;; i++)
        ;
    return VENOM_OK;
}

static int32_t a_flood(venom_ctx *call, const char *args, void *data)
{
    size_t n = 32u << 20;
    char *big = malloc(n + 3);
    if (!big)
        return VENOM_E_NOMEM;
    big[0] = '"';
    memset(big + 1, 'x', n);
    big[n + 1] = '"';
    big[n + 2] = '\0';
    int32_t rc = H->set_result(call, big, n + 2);
    free(big);
    return rc;
}

/* Descriptors 3..1023: only the worker's channel (3) may be open; the ones
 * the driver leaked into venom (42, 43, 44) must not be. */
static int32_t a_fd_probe(venom_ctx *call, const char *args, void *data)
{
    JB_INIT(b);
    char list[4096] = "[";
    int n = 0;
    for (int fd = 3; fd < 1024; fd++) {
        if (fcntl(fd, F_GETFD) < 0)
            continue;
        char item[16], p[32], t[200];
        snprintf(item, sizeof item, "%s%d", n++ ? "," : "", fd);
        strncat(list, item, sizeof list - strlen(list) - 2);
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(p, t, sizeof t - 1);
        t[k > 0 ? k : 0] = '\0';
        snprintf(p, sizeof p, "target%d", fd);
        jb_str(&b, p, t);
    }
    strcat(list, "]");
    jb_sep(&b);
    jb_raw(&b, "\"open\":%s", list);
    char t[3][256];
    for (int fd = 0; fd < 3; fd++) {
        char p[32];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(p, t[fd], sizeof t[fd] - 1);
        t[fd][k > 0 ? k : 0] = '\0';
    }
    jb_str(&b, "fd0", t[0]);
    jb_str(&b, "fd1", t[1]);
    jb_str(&b, "fd2", t[2]);
    int proc_n = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *de; d && (de = readdir(d));)
        if (de->d_name[0] != '.')
            proc_n++;
    if (d)
        closedir(d);
    jb_int(&b, "proc_fd_entries", proc_n - 1); /* minus opendir's own */
    jb_main(&b, n, 0, "fcntl(F_GETFD) on 3..1023");
    return jb_done(call, &b);
}

/* ------------------------------------------------------------ architecture */

/* An x32 system call (getpid | __X32_SYSCALL_BIT): the filter kills. */
static int32_t a_x32(venom_ctx *call, const char *args, void *data)
{
#if defined(__x86_64__)
    long r;
    int e;
    TRY(r, e, syscall(0x40000000L | SYS_getpid));
    return syscall_attack(call, r, e, "x32 getpid survived");
#else
    return syscall_attack(call, -1, ENOSYS, "not x86_64");
#endif
}

/* The i386 entry point on x86_64: int $0x80 with eax = 20 (i386 getpid). */
static int32_t a_int80(venom_ctx *call, const char *args, void *data)
{
#if defined(__x86_64__)
    long r = 20;
    __asm__ volatile("int $0x80" : "+a"(r) : : "memory", "rcx", "r11");
    return syscall_attack(call, r, r < 0 ? (int)-r : 0, "int 0x80 getpid survived");
#else
    return syscall_attack(call, -1, ENOSYS, "not x86_64");
#endif
}

/* ------------------------------------------------------------ the table */

/* One skill per line: X(name, "description"). CMake reads these lines to
 * write the manifests (tests/sandbox/CMakeLists.txt). */
#define ATTACKS(X)                                                                           \
    X(read_shadow, "open /etc/shadow")                                                       \
    X(read_ssh_key, "open a private key planted outside the workdir (args.path)")            \
    X(read_other_users, "open /root, /home, /etc/passwd, another user's home")              \
    X(read_host_tmp, "open the host's /tmp (args.path) and list the private /tmp")             \
    X(proc_mem, "open /proc/PID/mem of a host process (args.pid)")                           \
    X(proc_environ, "open /proc/PID/environ of a host process (args.pid)")                   \
    X(proc_host_root, "open /proc/PID/root/... of a host process (args.pid)")                \
    X(proc_kallsyms, "open /proc/kallsyms")                                                  \
    X(env_secret, "look for the caller's planted secret (args.secret) everywhere")           \
    X(host_fs_open, "host fs_open of an absolute host path and of ../")                      \
    X(supervisor_exe, "open the venom binary (args.path) for writing")                       \
    X(self_exe_write, "open /proc/self/exe for writing")                                     \
    X(write_etc, "create /etc/venom-pwned")                                                  \
    X(write_workdir, "create a file in the read-only workdir")                               \
    X(write_usr, "create a file in /usr/lib")                                                \
    X(write_pack, "overwrite the pack's own plugin (args.path: the pack dir)")               \
    X(write_proc_sys, "open /proc/sys/kernel/hostname for writing")                          \
    X(write_sysrq, "open /proc/sysrq-trigger for writing")                                   \
    X(dotdot_escape, "open out/../../../../<secret>")                                        \
    X(symlink_escape, "symlinks in the declared path to the secret")                         \
    X(planted_symlink, "open symlinks the caller planted to the secret")                     \
    X(hardlink_escape, "hard-link the secret and a visible file into the declared path")     \
    X(symlink_race, "swap a directory and a symlink to / while opening through it")          \
    X(replace_mount, "rename or remove the declared path itself")                            \
    X(setuid_plant, "leave a set-user-id file in the declared path")                         \
    X(plant_decl_link, "make a missing declared path a symlink to a host dir (args.path)")    \
    X(read_decl, "next call: read the host dir through that declared path")                \
    X(mknod_dev, "create a device node")                                                     \
    X(sys_absent, "stat /sys")                                                               \
    X(dev_devices, "open /dev/mem, kmsg, sda, tty, ptmx, shm")                               \
    X(mount, "mount a tmpfs")                                                                \
    X(umount, "detach the root")                                                             \
    X(unshare, "unshare a user and mount namespace")                                         \
    X(setns_self, "setns into a namespace file")                                             \
    X(setns_host, "open /proc/PID/ns/mnt of a host process (args.pid)")                      \
    X(chroot, "chroot /tmp")                                                                 \
    X(pivot_root, "pivot_root . .")                                                          \
    X(open_tree, "open_tree(OPEN_TREE_CLONE)")                                               \
    X(fsopen, "fsopen(tmpfs)")                                                               \
    X(move_mount, "move_mount, fspick, fsmount, mount_setattr")                              \
    X(clone_newuser, "clone(CLONE_NEWUSER)")                                                 \
    X(clone_newns, "clone with CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWNS")                     \
    X(clone3_ns, "clone3 with new namespaces")                                               \
    X(clone3_fallback, "clone3 without flags (threads and fork still work)")                  \
    X(handle_at, "name_to_handle_at and open_by_handle_at")                                  \
    X(ptrace_parent, "ptrace the parent, a host pid, TRACEME")                               \
    X(process_vm_readv, "read a host process's memory")                                      \
    X(kcmp, "kcmp against a host process")                                                   \
    X(pidfd_open, "pidfd_open(1)")                                                           \
    X(kill_all, "kill(-1, SIGKILL)")                                                         \
    X(kill_host_pid, "kill host processes by pid (args.pid, args.shell)")                    \
    X(kill_parent, "kill the parent / pid 1")                                                \
    X(orphan, "leave a child behind (args.tag)")                                             \
    X(tiocsti, "TIOCSTI on fds 0, 1, 2")                                                     \
    X(tiocsti_high, "TIOCSTI with the high bits of the request set")                         \
    X(tioclinux, "TIOCLINUX")                                                                \
    X(tty_probe, "look for a terminal")                                                      \
    X(init_module, "load a kernel module")                                                   \
    X(finit_module, "load a kernel module from a file")                                      \
    X(bpf, "bpf(BPF_MAP_CREATE)")                                                            \
    X(perf_event_open, "perf_event_open")                                                    \
    X(userfaultfd, "userfaultfd")                                                            \
    X(io_uring_setup, "io_uring_setup")                                                      \
    X(keyctl, "keyctl, add_key, request_key")                                                \
    X(personality, "personality(READ_IMPLIES_EXEC)")                                         \
    X(seccomp, "replace or stack the seccomp filter")                                        \
    X(machine, "kexec, syslog, clock_settime, sethostname, iopl, reboot")                    \
    X(memfd, "memfd_create")                                                                 \
    X(execve, "execve a shell and a set-user-id binary")                                     \
    X(exec_caps, "(exec pack) capabilities of a started program")                           \
    X(setuid_exec, "(exec pack) run set-user-id root programs")                              \
    X(setrlimit_raise, "raise RLIMIT_NOFILE")                                                \
    X(nofile, "open files until refused")                                                    \
    X(capset, "capset every capability")                                                     \
    X(ambient_raise, "PR_CAP_AMBIENT_RAISE")                                                 \
    X(setuid0, "setuid(0), dumpable, securebits")                                            \
    X(tcp_loopback, "connect to the host's 127.0.0.1:args.port")                             \
    X(abstract_unix, "connect to the host's abstract unix socket args.name")                 \
    X(path_unix, "connect to the host's unix socket args.path")                              \
    X(netlink, "netlink and inet socketpair")                                                \
    X(dns, "getaddrinfo(example.com)")                                                       \
    X(peercred, "SO_PEERCRED of the channel")                                                \
    X(forkbomb, "fork until refused")                                                        \
    X(membomb, "allocate until refused")                                                     \
    X(diskfill, "fill /tmp")                                                                 \
    X(fsize, "write past RLIMIT_FSIZE in the declared path")                                 \
    X(spin, "spin past the deadline")                                                        \
    X(flood, "return 32 MiB")                                                                \
    X(fd_probe, "list open descriptors 3..1023")                                             \
    X(x32, "an x32 system call")                                                             \
    X(int80, "an i386 system call through int 0x80")

static int32_t reg(const char *name, venom_skill_fn fn)
{
    venom_skill_desc d = {.struct_size = sizeof d, .name = name, .call = fn};
    return H->register_skill(plugin_ctx, &d);
}

static int32_t init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    H = host;
    plugin_ctx = ctx;
    *state = NULL;
#define REG(name, desc)                                                                                 \
    if (reg(#name, a_##name) != VENOM_OK)                                                              \
        return VENOM_E_INTERNAL;
    ATTACKS(REG)
#undef REG
    return VENOM_OK;
}

static const venom_plugin_info info = {
    VENOM_PLUGIN_INFO_INIT,
    .kinds = VENOM_KIND_SKILLS,
    .name = ATTACKS_NAME,
    .version = "1.0.0",
    .license = "MIT",
    .init = init,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void)
{
    return &info;
}
