#include "testsupport.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *ts_mkdtemp(void)
{
    const char *t = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/venom-test-XXXXXX", t && *t ? t : "/tmp");
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p) < 0 ? 0 : 0;
}

void ts_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

static void mkparents(char *path)
{
    for (char *s = path + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(path, 0755);
            *s = '/';
        }
    }
}

char *ts_write(const char *dir, const char *name, const char *text)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        return NULL;
    mkparents(p);
    FILE *f = fopen(p, "w");
    if (!f) {
        free(p);
        return NULL;
    }
    fputs(text, f);
    fclose(f);
    return p;
}

void ts_copy_file(const char *from, const char *to, unsigned mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    assert_true(out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    assert_true(n == 0);
    close(in);
    close(out);
}

char *ts_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    size_t n;
    while (s && (n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            s = realloc(s, cap);
        }
    }
    fclose(f);
    if (s)
        s[len] = '\0';
    return s;
}

static void append(char **s, size_t *len, const char *p, size_t n)
{
    *s = realloc(*s, *len + n + 1);
    memcpy(*s + *len, p, n);
    *len += n;
    (*s)[*len] = '\0';
}

int ts_run(char *const argv[], char *const env_extra[], const char *cwd, int timeout_s, ts_proc *p)
{
    memset(p, 0, sizeof *p);
    int o[2], e[2];
    if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(o[1], 1);
        dup2(e[1], 2);
        for (size_t i = 0; env_extra && env_extra[i]; i++)
            putenv(env_extra[i]);
        if (cwd && chdir(cwd) < 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    size_t olen = 0, elen = 0;
    p->out = calloc(1, 1);
    p->err = calloc(1, 1);
    struct pollfd fds[2] = {{.fd = o[0], .events = POLLIN}, {.fd = e[0], .events = POLLIN}};
    int open_fds = 2;
    time_t deadline = time(NULL) + timeout_s;
    bool killed = false;
    while (open_fds > 0) {
        int left = (int)(deadline - time(NULL));
        if (left <= 0 && !killed) {
            kill(pid, SIGKILL);
            killed = true;
        }
        int r = poll(fds, 2, left > 0 ? left * 1000 : 1000);
        if (r < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char b[8192];
            ssize_t n = read(fds[i].fd, b, sizeof b);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (i == 0) {
                append(&p->out, &olen, b, (size_t)n);
            } else {
                append(&p->err, &elen, b, (size_t)n);
            }
        }
    }
    int st = 0;
    waitpid(pid, &st, 0);
    p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}

int ts_venom(ts_proc *p, const char *venom_home, const char *cwd, ...)
{
    char *argv[64];
    int n = 0;
    const char *bin = getenv("VENOM_BIN");
    argv[n++] = (char *)(bin ? bin : "venom");
    va_list ap;
    va_start(ap, cwd);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 63)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    static char home_env[4200];
    snprintf(home_env, sizeof home_env, "VENOM_HOME=%s", venom_home ? venom_home : "/nonexistent");
    char *env[] = {home_env, NULL};
    return ts_run(argv, env, cwd, 60, p);
}

void ts_proc_release(ts_proc *p)
{
    free(p->out);
    free(p->err);
    memset(p, 0, sizeof *p);
}

char *ts_fixture(const char *name)
{
    const char *d = getenv("VENOM_FIXTURES");
    char *p = NULL;
    if (asprintf(&p, "%s/%s", d ? d : ".", name) < 0)
        return NULL;
    return p;
}
