/*
 * Namespaces and the filesystem view (core/sandbox/nsfs). Each case clones a
 * child with sbx_clone(sbx_ns_flags(p)), sets up ids and the view there,
 * probes it and sends the exact outcomes back over a pipe; the parent
 * asserts. Runs as root and as an unprivileged user (user namespace).
 */
#include "testsupport.h"
#include "util/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/nsfs.h"
#include "sandbox/policy.h"

/* ---------------------------------------------------------------- fixture */

typedef struct fx {
    char *top;                /* realpath of a fresh temp dir */
    char *ro, *rw, *work, *outside;
    char *ro_v[16], *rw_v[4];
    sandbox_policy p;
} fx;

static char *cat(const char *a, const char *b)
{
    char *s = mem_printf("%s/%s", a, b);
    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char *t = ts_mkdtemp();
    f->top = realpath(t, NULL);
    free(t);
    f->ro = cat(f->top, "ro");
    f->rw = cat(f->top, "rw");
    f->work = cat(f->top, "work");
    f->outside = cat(f->top, "outside");
    free(ts_write(f->ro, "data.txt", "ro data\n"));
    free(ts_write(f->work, "notes.txt", "work\n"));
    free(ts_write(f->outside, "secret.txt", "secret\n"));
    assert_int_equal(mkdir(f->rw, 0755), 0);
    char *secret = cat(f->outside, "secret.txt");
    char *p = cat(f->rw, "escape");
    assert_int_equal(symlink(secret, p), 0);
    mem_free(p);
    p = cat(f->rw, "etc_link");
    assert_int_equal(symlink("/etc/passwd", p), 0);
    mem_free(p);
    p = cat(f->rw, "rel");
    assert_int_equal(symlink("../outside/secret.txt", p), 0);
    mem_free(p);
    p = cat(f->rw, "true");
    ts_copy_file("/bin/true", p, 0755);
    mem_free(p);
    mem_free(secret);

    size_t n = 0;
    for (size_t i = 0; sandbox_system_ro[i]; i++) {
        struct stat st;
        if (lstat(sandbox_system_ro[i], &st) == 0)
            f->ro_v[n++] = (char *)sandbox_system_ro[i];
    }
    f->ro_v[n++] = f->ro;
    f->rw_v[0] = f->rw;
    f->p = (sandbox_policy){.ro = {.v = f->ro_v, .n = n}, .rw = {.v = f->rw_v, .n = 1}, .workdir = f->work,
                            .tmp_bytes = 1 << 20};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    ts_rmtree(f->top);
    free(f->top);
    mem_free(f->ro);
    mem_free(f->rw);
    mem_free(f->work);
    mem_free(f->outside);
    free(f);
    return 0;
}

/* --------------------------------------------------------- child runner */

typedef struct res {
    int setup_rc;    /* 0, or the failing rc of setup_ids / fs_setup */
    int v[40];
    char msg[2048];
} res;

typedef void (*probe_fn)(const fx *f, res *r);

/* errno of a failed call (0 when it worked). */
static int e_of(long r)
{
    return r < 0 ? errno : 0;
}

static int e_stat(const char *path)
{
    struct stat st;
    return e_of(stat(path, &st));
}

static int e_open(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0644);
    int e = e_of(fd);
    if (fd >= 0)
        close(fd);
    return e;
}

/* Clone a sandboxed child for policy p, run fn there, collect its result. */
static void run_in(const fx *f, const sandbox_policy *p, probe_fn fn, res *r)
{
    int pp[2];
    assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
    uid_t uid = geteuid();
    gid_t gid = getegid();
    unsigned long flags = sbx_ns_flags(p);
    char *err = NULL;
    int pidfd = -1;
    pid_t pid = sbx_clone(flags, &pidfd, &err);
    if (pid < 0)
        fail_msg("sbx_clone: %s", err);
    if (pid == 0) {
        res c;
        memset(&c, 0, sizeof c);
        char *e = NULL;
        close(pp[0]);
        c.setup_rc = sbx_ns_setup_ids(uid, gid, (flags & CLONE_NEWUSER) != 0, &e);
        if (c.setup_rc == 0)
            c.setup_rc = sbx_fs_setup(p, &e);
        if (c.setup_rc)
            snprintf(c.msg, sizeof c.msg, "%s", e ? e : "(no message)");
        else
            fn(f, &c);
        ssize_t w = write(pp[1], &c, sizeof c);
        _exit(w == (ssize_t)sizeof c ? 0 : 3);
    }
    close(pp[1]);
    assert_true(pidfd >= 0);
    memset(r, 0, sizeof *r);
    size_t got = 0;
    while (got < sizeof *r) {
        struct pollfd pf = {.fd = pp[0], .events = POLLIN};
        if (poll(&pf, 1, 30000) <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        ssize_t n = read(pp[0], (char *)r + got, sizeof *r - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(pp[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    close(pidfd);
    if (got != sizeof *r)
        fail_msg("the sandboxed child sent %zu of %zu bytes (wait status 0x%x)", got, sizeof *r, st);
    if (r->setup_rc)
        fail_msg("setup in the child failed (%d): %s", r->setup_rc, r->msg);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---------------------------------------------------------------- cases */

static void test_flags(void **state)
{
    (void)state;
    sandbox_policy p = {0};
    unsigned long base = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
    unsigned long user = geteuid() ? CLONE_NEWUSER : 0;
    assert_int_equal(sbx_ns_flags(&p), base | user | CLONE_NEWNET);
    p.net = true;
    assert_int_equal(sbx_ns_flags(&p), base | user);
    assert_int_equal(sbx_ns_flags(NULL), 0);
}

static void probe_identity(const fx *f, res *r)
{
    r->v[0] = (int)getpid();
    r->v[1] = (int)getuid();
    r->v[2] = (int)getgid();
    r->v[3] = (int)geteuid();
    if (!getcwd(r->msg, sizeof r->msg))
        r->msg[0] = '\0';
}

static void test_identity(void **state)
{
    fx *f = *state;
    res r;
    run_in(f, &f->p, probe_identity, &r);
    assert_int_equal(r.v[0], 1);
    assert_int_equal(r.v[1], (int)getuid());
    assert_int_equal(r.v[2], (int)getgid());
    assert_int_equal(r.v[3], (int)geteuid());
    assert_string_equal(r.msg, f->work);
}

static void probe_paths(const fx *f, res *r)
{
    char path[PATH_MAX];
    r->v[0] = e_stat("/etc/passwd");
    r->v[1] = e_stat("/home");
    r->v[2] = e_stat("/root");
    snprintf(path, sizeof path, "%s/secret.txt", f->outside);
    r->v[3] = e_stat(path);
    r->v[4] = e_stat("/.oldroot");
    r->v[5] = e_stat("/work/main"); /* the host's, not declared */
    snprintf(path, sizeof path, "%s/data.txt", f->ro);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char buf[64] = "";
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
    }
    r->v[6] = strcmp(buf, "ro data\n") == 0;
    r->v[7] = e_open(path, O_WRONLY);
    snprintf(path, sizeof path, "%s/new.txt", f->ro);
    r->v[8] = e_open(path, O_WRONLY | O_CREAT);
    snprintf(path, sizeof path, "%s/made-inside.txt", f->rw);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    r->v[9] = e_of(fd);
    if (fd >= 0) {
        r->v[10] = (int)write(fd, "inside\n", 7);
        close(fd);
    }
    r->v[11] = e_open("/newfile", O_WRONLY | O_CREAT);
    r->v[12] = e_open("notes.txt", O_WRONLY); /* the workdir, not declared rw */
    r->v[13] = e_open("notes.txt", O_RDONLY);
    r->v[14] = e_of(mkdir("/etc/x", 0755));
    /* What the root holds. */
    DIR *d = opendir("/");
    size_t off = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            off += (size_t)snprintf(r->msg + off, sizeof r->msg - off, "%s ", de->d_name);
    if (d)
        closedir(d);
}

static void test_only_declared_paths(void **state)
{
    fx *f = *state;
    res r;
    run_in(f, &f->p, probe_paths, &r);
    assert_int_equal(r.v[0], ENOENT);
    assert_int_equal(r.v[1], ENOENT);
    assert_int_equal(r.v[2], ENOENT);
    assert_int_equal(r.v[3], ENOENT);
    assert_int_equal(r.v[4], ENOENT);
    assert_int_equal(r.v[5], ENOENT);
    assert_int_equal(r.v[6], 1);
    assert_int_equal(r.v[7], EROFS);
    assert_int_equal(r.v[8], EROFS);
    assert_int_equal(r.v[9], 0);
    assert_int_equal(r.v[10], 7);
    assert_int_equal(r.v[11], EROFS);
    assert_int_equal(r.v[12], EROFS);
    assert_int_equal(r.v[13], 0);
    assert_int_equal(r.v[14], EROFS);
    /* the write through the rw bind reached the host */
    char *p = cat(f->rw, "made-inside.txt");
    char *text = ts_read(p);
    assert_non_null(text);
    assert_string_equal(text, "inside\n");
    free(text);
    mem_free(p);
    /* "/" holds only what the policy and the sandbox put there */
    static const char *const allowed[] = {"bin", "lib", "lib32", "lib64", "sbin", "usr", "etc",
                                          "tmp", "proc", "dev", NULL};
    char *save = NULL;
    for (char *n = strtok_r(r.msg, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok = ok || strcmp(n, allowed[i]) == 0;
        if (!ok)
            fail_msg("unexpected entry /%s in the view's root", n);
    }
}

static void probe_workdir_rw(const fx *f, res *r)
{
    r->v[0] = e_open("written-in-cwd.txt", O_WRONLY | O_CREAT);
}

static void test_workdir_rw(void **state)
{
    fx *f = *state;
    res r;
    sandbox_policy p = f->p;
    p.workdir = f->rw;
    run_in(f, &p, probe_workdir_rw, &r);
    assert_int_equal(r.v[0], 0);
    char *path = cat(f->rw, "written-in-cwd.txt");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    mem_free(path);
}

static void probe_tmp(const fx *f, res *r)
{
    struct stat st;
    r->v[0] = e_of(stat("/tmp", &st));
    r->v[1] = (int)(st.st_mode & 07777);
    int fd = open("/tmp/venom-nsfs-private-probe", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    r->v[2] = e_of(fd);
    static char block[65536];
    memset(block, 'x', sizeof block);
    long total = 0;
    r->v[3] = 0;
    while (fd >= 0 && total < (4L << 20)) {
        ssize_t w = write(fd, block, sizeof block);
        if (w < 0) {
            r->v[3] = errno;
            break;
        }
        total += w;
    }
    if (fd >= 0)
        close(fd);
    r->v[4] = (int)(total >> 10);
}

static void test_private_tmp_capped(void **state)
{
    fx *f = *state;
    res r;
    run_in(f, &f->p, probe_tmp, &r);
    assert_int_equal(r.v[0], 0);
    assert_int_equal(r.v[1], 01777);
    assert_int_equal(r.v[2], 0);
    assert_int_equal(r.v[3], ENOSPC);
    assert_in_range(r.v[4], 900, 1024); /* KiB written before the 1 MiB cap */
    struct stat st;
    assert_int_equal(stat("/tmp/venom-nsfs-private-probe", &st), -1); /* never on the host */
    assert_int_equal(errno, ENOENT);
    assert_string_equal(sbx_fs_tmp_path(), "/tmp");
}

static int count_pids(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
            n++;
    closedir(d);
    return n;
}

static void probe_proc(const fx *f, res *r)
{
    r->v[0] = count_pids();
    pid_t c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    r->v[1] = count_pids();
    r->v[2] = (int)c;
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    r->v[3] = e_open("/proc/sys/kernel/hostname", O_WRONLY);
    r->v[4] = e_open("/proc/sysrq-trigger", O_WRONLY);
    r->v[5] = e_stat("/proc/self/fd/0");
}

static void test_fresh_proc(void **state)
{
    fx *f = *state;
    res r;
    run_in(f, &f->p, probe_proc, &r);
    assert_int_equal(r.v[0], 1); /* only the sandbox's pid 1 */
    assert_int_equal(r.v[1], 2);
    assert_int_equal(r.v[2], 2);
    /* sysctls: read-only bind as root; in a user namespace they belong to
     * the host's root and permission is refused first */
    assert_int_equal(r.v[3], geteuid() == 0 ? EROFS : EACCES);
    struct stat st;
    if (stat("/proc/sysrq-trigger", &st) == 0) /* kernels without MAGIC_SYSRQ have none */
        assert_int_equal(r.v[4], geteuid() == 0 ? EROFS : EACCES);
    else
        assert_int_equal(r.v[4], ENOENT);
    assert_int_equal(r.v[5], 0);
}

static void probe_dev(const fx *f, res *r)
{
    char buf[32];
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    r->v[0] = e_of(fd);
    if (fd >= 0) {
        r->v[1] = (int)write(fd, "hello", 5);
        r->v[2] = (int)read(fd, buf, sizeof buf);
        close(fd);
    }
    fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    memset(buf, 'x', sizeof buf);
    r->v[3] = fd >= 0 && read(fd, buf, 8) == 8 && memcmp(buf, "\0\0\0\0\0\0\0\0", 8) == 0;
    if (fd >= 0)
        close(fd);
    const char *rnd[] = {"/dev/urandom", "/dev/random"};
    for (int i = 0; i < 2; i++) {
        fd = open(rnd[i], O_RDONLY | O_CLOEXEC);
        r->v[4 + i] = fd >= 0 ? (int)read(fd, buf, 16) : -errno;
        if (fd >= 0)
            close(fd);
    }
    fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    r->v[6] = fd >= 0 ? e_of(write(fd, "x", 1)) : -1;
    if (fd >= 0)
        close(fd);
    r->v[7] = e_stat("/dev/tty");
    r->v[8] = e_stat("/dev/pts");
    r->v[9] = e_stat("/dev/shm");
    r->v[10] = e_stat("/dev/sda");
    r->v[11] = e_open("/dev/new", O_WRONLY | O_CREAT);
    r->v[12] = e_stat("/dev/fd/1");
    r->v[13] = e_of(mknod("/tmp/null2", S_IFCHR | 0666, makedev(1, 3)));
    r->v[14] = r->v[13] ? -1 : e_open("/tmp/null2", O_WRONLY);
}

static void test_minimal_dev(void **state)
{
    fx *f = *state;
    res r;
    run_in(f, &f->p, probe_dev, &r);
    assert_int_equal(r.v[0], 0);
    assert_int_equal(r.v[1], 5);
    assert_int_equal(r.v[2], 0);
    assert_int_equal(r.v[3], 1);
    assert_int_equal(r.v[4], 16);
    assert_int_equal(r.v[5], 16);
    assert_int_equal(r.v[6], ENOSPC);
    assert_int_equal(r.v[7], ENOENT);
    assert_int_equal(r.v[8], ENOENT);
    assert_int_equal(r.v[9], ENOENT);
    assert_int_equal(r.v[10], ENOENT);
    assert_int_equal(r.v[11], EROFS);
    assert_int_equal(r.v[12], 0);
    /* a device node made in the view is either refused or useless (nodev) */
    if (r.v[13] == 0)
        assert_int_equal(r.v[14], EACCES); /* root may make it; nodev makes it unusable */
    else
        assert_int_equal(r.v[13], EPERM);
}

static void probe_mounts(const fx *f, res *r)
{
    FILE *m = fopen("/proc/self/mountinfo", "re");
    char line[4096], mp[4096];
    size_t off = 0;
    while (m && fgets(line, sizeof line, m))
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1)
            off += (size_t)snprintf(r->msg + off, sizeof r->msg - off, "%s\n", mp);
    if (m)
        fclose(m);
    r->v[0] = m != NULL;
}

static bool path_under(const char *p, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static void test_mounts_only_declared(void **state)
{
    fx *f = *state;
    res r;
    run_in(f, &f->p, probe_mounts, &r);
    assert_int_equal(r.v[0], 1);
    static const char *const fixed[] = {"/",         "/tmp",       "/proc",     "/proc/sys", "/proc/sysrq-trigger",
                                        "/dev",      "/dev/null",  "/dev/zero", "/dev/full", "/dev/urandom",
                                        "/usr",      "/etc/ld.so.cache", NULL};
    int roots = 0, n = 0;
    char *save = NULL;
    for (char *mp = strtok_r(r.msg, "\n", &save); mp; mp = strtok_r(NULL, "\n", &save), n++) {
        bool ok = path_under(mp, f->ro) || path_under(mp, f->rw) || path_under(mp, f->work) ||
                  path_under(mp, "/usr");
        for (size_t i = 0; fixed[i]; i++)
            ok = ok || strcmp(mp, fixed[i]) == 0;
        for (size_t i = 0; sandbox_system_ro[i]; i++) /* the system paths every view has */
            ok = ok || strcmp(mp, sandbox_system_ro[i]) == 0;
        if (!ok)
            fail_msg("mount point %s is not part of the policy", mp);
        roots += strcmp(mp, "/") == 0;
        if (strcmp(mp, "/usr/lib") == 0 || strcmp(mp, "/usr/bin") == 0)
            fail_msg("%s is bound twice (it is reached through a symlink such as /lib)", mp);
    }
    assert_int_equal(roots, 1); /* the old root is gone, not stacked */
    assert_true(n >= 12);
}

static void probe_net(const fx *f, res *r)
{
    struct if_nameindex *ifs = if_nameindex();
    size_t off = 0;
    for (struct if_nameindex *i = ifs; i && i->if_index; i++)
        off += (size_t)snprintf(r->msg + off, sizeof r->msg - off, "%s ", i->if_name);
    if (ifs)
        if_freenameindex(ifs);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    r->v[0] = e_of(connect(s, (struct sockaddr *)&a, sizeof a));
    close(s);
    char ns[64] = "";
    ssize_t n = readlink("/proc/self/ns/net", ns, sizeof ns - 1);
    ns[n > 0 ? n : 0] = '\0';
    snprintf(r->msg + off, sizeof r->msg - off, "|%s", ns);
}

static void test_network_namespace(void **state)
{
    fx *f = *state;
    res r;
    char host_ns[64] = "";
    ssize_t n = readlink("/proc/self/ns/net", host_ns, sizeof host_ns - 1);
    assert_true(n > 0);
    host_ns[n] = '\0';

    run_in(f, &f->p, probe_net, &r);
    char *bar = strchr(r.msg, '|');
    assert_non_null(bar);
    *bar = '\0';
    assert_string_equal(r.msg, "lo "); /* only the loopback interface */
    assert_string_not_equal(bar + 1, host_ns);
    assert_int_equal(r.v[0], ENETUNREACH); /* lo is down: not even 127.0.0.1 */

    sandbox_policy p = f->p;
    p.net = true; /* full network: the host's namespace */
    run_in(f, &p, probe_net, &r);
    bar = strchr(r.msg, '|');
    assert_non_null(bar);
    assert_string_equal(bar + 1, host_ns);
}

static void probe_symlinks(const fx *f, res *r)
{
    char path[PATH_MAX];
    const char *names[] = {"escape", "etc_link", "rel"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", f->rw, names[i]);
        r->v[i] = e_open(path, O_RDONLY);
    }
    /* made inside the sandbox, pointing at the host's secret */
    snprintf(path, sizeof path, "%s/made_link", f->rw);
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/secret.txt", f->outside);
    r->v[3] = e_of(symlink(target, path));
    r->v[4] = e_open(path, O_RDONLY);
}

static void test_symlink_escape(void **state)
{
    fx *f = *state;
    res r;
    run_in(f, &f->p, probe_symlinks, &r);
    assert_int_equal(r.v[0], ENOENT);
    assert_int_equal(r.v[1], ENOENT);
    assert_int_equal(r.v[2], ENOENT);
    assert_int_equal(r.v[3], 0);
    assert_int_equal(r.v[4], ENOENT);
    char *p = cat(f->rw, "made_link"); /* on the host the link does point there */
    char *text = ts_read(p);
    assert_string_equal(text, "secret\n");
    free(text);
    mem_free(p);
}

static int run_prog(const char *path)
{
    pid_t c = fork();
    if (c == 0) {
        char *argv[] = {(char *)path, NULL};
        char *envp[] = {NULL};
        execve(path, argv, envp);
        _exit(100 + errno);
    }
    int st = 0;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

static void probe_exec(const fx *f, res *r)
{
    char buf[64] = "";
    ssize_t n = readlink("/lib", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    snprintf(r->msg, sizeof r->msg, "%s", buf);
    r->v[0] = e_stat("/lib64/ld-linux-x86-64.so.2");
    r->v[1] = run_prog("/bin/true");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/true", f->rw);
    r->v[2] = run_prog(path);
}

static void test_exec_and_lib_symlinks(void **state)
{
    fx *f = *state;
    res r;
    struct stat st;
    if (lstat("/lib", &st) < 0 || !S_ISLNK(st.st_mode))
        skip(); /* not a merged-/usr system: no /lib symlink to reproduce */
    char host_link[64] = "";
    ssize_t n = readlink("/lib", host_link, sizeof host_link - 1);
    host_link[n > 0 ? n : 0] = '\0';

    run_in(f, &f->p, probe_exec, &r);
    assert_string_equal(r.msg, host_link); /* /lib -> usr/lib, a symlink */
    if (stat("/lib64/ld-linux-x86-64.so.2", &st) == 0)
        assert_int_equal(r.v[0], 0);
    assert_int_equal(r.v[1], 0);          /* system dirs are executable */
    assert_int_equal(r.v[2], 100 + EACCES); /* declared dirs are noexec... */

    sandbox_policy p = f->p;
    p.exec = true; /* ...unless the policy grants exec */
    run_in(f, &p, probe_exec, &r);
    assert_int_equal(r.v[1], 0);
    assert_int_equal(r.v[2], 0);
}

/* ------------------------------------------------------------ bad input */

static void expect_plan_error(const sandbox_policy *p, int code, const char *needle)
{
    sbx_fs_plan *pl = NULL;
    char *err = NULL;
    assert_int_equal(sbx_fs_plan_new(p, &pl, &err), code);
    assert_null(pl);
    assert_non_null(err);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
    mem_free(err);
}

static void test_bad_policy(void **state)
{
    fx *f = *state;
    sbx_fs_plan *pl = NULL;
    char *err = NULL;
    assert_int_equal(sbx_fs_plan_new(NULL, &pl, &err), -EINVAL);
    assert_non_null(err);
    mem_free(err);
    err = NULL;
    assert_int_equal(sbx_fs_setup(NULL, &err), -EINVAL);
    mem_free(err);

    sandbox_policy p = f->p;
    char *one[1];
    p.ro = (sandbox_strv){.v = one, .n = 1};
    one[0] = "relative/dir";
    expect_plan_error(&p, -EINVAL, "'relative/dir' is not absolute");
    one[0] = "/";
    expect_plan_error(&p, -EINVAL, "host's root '/'");
    one[0] = "/proc/self";
    expect_plan_error(&p, -EINVAL, "/proc/self");
    one[0] = "/dev/shm";
    expect_plan_error(&p, -EINVAL, "under /proc or /dev");
    char *missing = cat(f->top, "does-not-exist");
    one[0] = missing;
    expect_plan_error(&p, -ENOENT, missing);
    mem_free(missing);

    p = f->p;
    p.workdir = NULL;
    expect_plan_error(&p, -EINVAL, "workdir '(null)'");
    p.workdir = "work";
    expect_plan_error(&p, -EINVAL, "workdir 'work' is not an absolute path");
    char *file = cat(f->work, "notes.txt");
    p.workdir = file;
    expect_plan_error(&p, -ENOTDIR, file);
    mem_free(file);

    /* sbx_fs_setup fails at validation, before touching the process */
    p.workdir = "relative";
    err = NULL;
    assert_int_equal(sbx_fs_setup(&p, &err), -EINVAL);
    mem_free(err);
    struct stat st;
    assert_int_equal(stat("/etc/passwd", &st), 0);

    err = NULL;
    assert_int_equal(sbx_clone(CLONE_NEWNS | CLONE_VM, NULL, &err), -EINVAL);
    assert_non_null(strstr(err, "not CLONE_NEW* namespace flags"));
    mem_free(err);
}

/* A path swapped for a symlink between planning and applying is refused. */
static void test_swapped_path_refused(void **state)
{
    fx *f = *state;
    char *d = cat(f->top, "swap");
    char *moved = cat(f->top, "swap.orig");
    assert_int_equal(mkdir(d, 0755), 0);
    sandbox_policy p = f->p;
    char *ro[17];
    memcpy(ro, f->ro_v, f->p.ro.n * sizeof *ro);
    ro[f->p.ro.n] = d;
    p.ro = (sandbox_strv){.v = ro, .n = f->p.ro.n + 1};
    sbx_fs_plan *pl = NULL;
    char *err = NULL;
    assert_int_equal(sbx_fs_plan_new(&p, &pl, &err), 0);
    assert_int_equal(rename(d, moved), 0);
    assert_int_equal(symlink(f->outside, d), 0);

    int pp[2];
    assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
    uid_t uid = geteuid();
    gid_t gid = getegid();
    unsigned long flags = sbx_ns_flags(&p);
    pid_t pid = sbx_clone(flags, NULL, &err);
    assert_true(pid >= 0);
    if (pid == 0) {
        char msg[600] = "";
        int rc = sbx_ns_setup_ids(uid, gid, (flags & CLONE_NEWUSER) != 0, NULL);
        if (rc == 0)
            rc = sbx_fs_plan_apply(pl, NULL); /* no allocation: message in the plan */
        snprintf(msg, sizeof msg, "%d|%s", rc, sbx_fs_plan_error(pl));
        ssize_t w = write(pp[1], msg, sizeof msg);
        _exit(w > 0 ? 0 : 1);
    }
    close(pp[1]);
    char msg[600] = "";
    assert_true(read(pp[0], msg, sizeof msg) > 0);
    close(pp[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%d|sandbox: refusing a path that became a symlink: %s", -ELOOP, d);
    if (strncmp(msg, want, strlen(want)) != 0)
        fail_msg("got '%s', want '%s...'", msg, want);
    sbx_fs_plan_free(pl);
    unlink(d);
    rmdir(moved);
    mem_free(d);
    mem_free(moved);
}

static void test_ids_twice_fails(void **state)
{
    fx *f = *state;
    (void)f;
    if (geteuid() == 0)
        skip(); /* as root no user namespace is made: there are no maps to write */
    int pp[2];
    assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
    uid_t uid = geteuid();
    gid_t gid = getegid();
    char *err = NULL;
    pid_t pid = sbx_clone(CLONE_NEWUSER, NULL, &err);
    assert_true(pid >= 0);
    if (pid == 0) {
        char msg[512] = "";
        char *e = NULL;
        int rc = sbx_ns_setup_ids(uid, gid, true, &e);
        if (rc == 0)
            rc = sbx_ns_setup_ids(uid, gid, true, &e);
        snprintf(msg, sizeof msg, "%d|%s", rc, e ? e : "");
        ssize_t w = write(pp[1], msg, sizeof msg);
        _exit(w > 0 ? 0 : 1);
    }
    close(pp[1]);
    char msg[512] = "";
    assert_true(read(pp[0], msg, sizeof msg) > 0);
    close(pp[0]);
    waitpid(pid, NULL, 0);
    char want[64];
    snprintf(want, sizeof want, "%d|sandbox: cannot write /proc/self/setgroups", -EPERM);
    if (strncmp(msg, want, strlen(want)) != 0)
        fail_msg("got '%s', want '%s...'", msg, want);
}

/* One plan, built once in the parent, applied in several children. */
static void test_plan_reused(void **state)
{
    fx *f = *state;
    sbx_fs_plan *pl = NULL;
    char *err = NULL;
    assert_int_equal(sbx_fs_plan_new(&f->p, &pl, &err), 0);
    uid_t uid = geteuid();
    gid_t gid = getegid();
    unsigned long flags = sbx_ns_flags(&f->p);
    for (int i = 0; i < 3; i++) {
        pid_t pid = sbx_clone(flags, NULL, &err);
        assert_true(pid >= 0);
        if (pid == 0) {
            int rc = sbx_ns_setup_ids(uid, gid, (flags & CLONE_NEWUSER) != 0, NULL);
            if (rc == 0)
                rc = sbx_fs_plan_apply(pl, NULL);
            struct stat st;
            _exit(rc == 0 && getpid() == 1 && stat("/etc/passwd", &st) < 0 ? 0 : 1);
        }
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_string_equal(sbx_fs_plan_error(pl), ""); /* the parent's copy is untouched */
    sbx_fs_plan_free(pl);
}

/* ---------------------------------------------------------------- timing */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

enum { T_FORK, T_CLONE, T_FULL, T_FULL_NONET };

/* Median of 200 runs of one way to start and finish a child (ms). */
static double time_mode(const fx *f, int mode, double *p90)
{
    enum { N = 200 };
    static double t[N];
    sandbox_policy p = f->p;
    p.net = mode == T_FULL_NONET;
    uid_t uid = geteuid();
    gid_t gid = getegid();
    unsigned long flags = sbx_ns_flags(&p);
    for (int i = 0; i < N; i++) {
        double t0 = now_ms();
        char *err = NULL;
        pid_t pid = mode == T_FORK ? fork() : sbx_clone(flags, NULL, &err);
        assert_true(pid >= 0);
        if (pid == 0) {
            int rc = 0;
            if (mode >= T_FULL) {
                rc = sbx_ns_setup_ids(uid, gid, (flags & CLONE_NEWUSER) != 0, NULL);
                if (rc == 0)
                    rc = sbx_fs_setup(&p, NULL);
            }
            _exit(rc == 0 ? 0 : 1);
        }
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        t[i] = now_ms() - t0;
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    qsort(t, N, sizeof t[0], cmp_double);
    *p90 = t[N * 9 / 10];
    return t[N / 2];
}

/* sbx_clone + ids + view + exit + wait, 200 times each, beside a bare fork
 * and a clone into the same namespaces without set-up, in the same run. */
static void test_timing(void **state)
{
    fx *f = *state;
    static const char *const names[] = {"fork + _exit + wait", "sbx_clone(ns flags) + _exit + wait",
                                        "sbx_clone + ids + fs setup + _exit + wait",
                                        "same, policy.net (no new net ns)"};
    double med[4], p90[4];
    for (int m = 0; m < 4; m++)
        med[m] = time_mode(f, m, &p90[m]);
    for (int m = 0; m < 4; m++)
        print_message("nsfs timing (%s): %-42s median %.3f ms  p90 %.3f ms  x%.1f of fork\n",
                      geteuid() ? "user" : "root", names[m], med[m], p90[m], med[m] / med[T_FORK]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_declared_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workdir_rw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_private_tmp_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_proc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_minimal_dev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mounts_only_declared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_network_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_and_lib_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapped_path_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_twice_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
