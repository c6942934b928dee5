/*
 * shell — the first-party shell pack: `exec` runs a command (an argv list,
 * or a command line through /bin/sh -c) in the workdir and returns its exit
 * status and its stdout and stderr, each capped in size, with a timeout.
 *
 * The manifest says "isolation": "sandbox", so every call runs in a
 * sandboxed worker even though the pack is first-party: the command sees
 * only the worker's view (system directories, the workdir, a private /tmp),
 * has no network and no capabilities, and inherits the worker's seccomp
 * filter and limits. The worker is pid 1 of its pid namespace, so on a
 * timeout every process the command started is killed (kill(-1)), and
 * nothing it started outlives the call. Reference: docs/skills.md.
 */
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../common/skill_io.h"

#define SH_TIMEOUT_DEFAULT 10000
#define SH_TIMEOUT_MAX 60000 /* below the manifest's limits.time_ms (65000) */
#define SH_OUTPUT_DEFAULT 65536
#define SH_OUTPUT_MAX (1024 * 1024)
#define SH_ARGV_MAX 4096
#define SH_ENV_MAX 256
#define SH_STEP_MS 10     /* poll step: cancellation and child exit are checked this often */
#define SH_LINGER_MS 200  /* after the command exits, how long its pipes may stay open */
#define SH_PATH_DEFAULT "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

/* ------------------------------------------------------------ helpers */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},       {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
        {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},     {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
        {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},     {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
        {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},     {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
        {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"},     {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},
        {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"},       {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
        {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"},
        {SIGSYS, "SIGSYS"},
    };
    static char other[32];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    snprintf(other, sizeof other, "SIG%d", sig);
    return other;
}

/* A copy of s[0..n) that is valid UTF-8 for JSON: every byte that does not
 * start a well-formed sequence, and every NUL, becomes U+FFFD. */
static char *utf8_clean(const char *s, size_t n, size_t *out_len)
{
    char *out = malloc(n * 3 + 1);
    size_t o = 0, i = 0;
    if (!out)
        return NULL;
    while (i < n) {
        size_t bad = 0;
        if (s[i] == '\0') {
            bad = 0;
        } else {
            size_t len = (unsigned char)s[i] < 0x80 ? 1 : (unsigned char)s[i] >= 0xf0 ? 4
                                                      : (unsigned char)s[i] >= 0xe0 ? 3 : 2;
            if (i + len <= n && sk_utf8_valid(s + i, len, &bad)) {
                memcpy(out + o, s + i, len);
                o += len, i += len;
                continue;
            }
        }
        memcpy(out + o, "\xef\xbf\xbd", 3);
        o += 3, i++;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ------------------------------------------------------------ arguments */

typedef struct sh_req {
    char **argv;    /* NULL-terminated; strings borrowed from the args */
    char *exe;      /* resolved program path (malloc'd) */
    char **envp;    /* NULL-terminated, each malloc'd */
    const char *in; /* stdin text, or NULL: /dev/null */
    size_t in_len;
    long long timeout_ms, max_output;
} sh_req;

static void req_free(sh_req *r)
{
    free(r->argv);
    free(r->exe);
    for (size_t i = 0; r->envp && r->envp[i]; i++)
        free(r->envp[i]);
    free(r->envp);
}

static bool env_name_ok(const char *s)
{
    if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
        return false;
    for (s++; *s; s++)
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

/* Set NAME=value in envp (n entries), replacing an entry of the same name. */
static int32_t env_set(venom_ctx *call, char **envp, size_t *n, const char *name, const char *value)
{
    size_t nl = strlen(name);
    char *kv = malloc(nl + strlen(value) + 2);
    if (!kv)
        return sk_fail(call, VENOM_E_NOMEM, "out of memory");
    memcpy(kv, name, nl);
    kv[nl] = '=';
    memcpy(kv + nl + 1, value, strlen(value) + 1);
    for (size_t i = 0; i < *n; i++) {
        if (strncmp(envp[i], name, nl) == 0 && envp[i][nl] == '=') {
            free(envp[i]);
            envp[i] = kv;
            return VENOM_OK;
        }
    }
    envp[(*n)++] = kv;
    envp[*n] = NULL;
    return VENOM_OK;
}

/* The command's environment: the worker's (the manifest's declared
 * variables only), defaults for PATH, HOME (the private /tmp), TMPDIR,
 * LANG and PWD, then the caller's "env". */
static int32_t build_env(venom_ctx *call, const json_t *env, sh_req *r)
{
    size_t n_env = 0, n = 0;
    for (char **e = environ; e && *e; e++)
        n_env++;
    r->envp = calloc(n_env + 6 + SH_ENV_MAX + 1, sizeof *r->envp);
    if (!r->envp)
        return sk_fail(call, VENOM_E_NOMEM, "out of memory");
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || !(r->envp[n] = strdup(*e)))
            continue;
        n++;
    }
    char cwd[4096];
    int32_t rc = VENOM_OK;
    if (!getenv("PATH"))
        rc = env_set(call, r->envp, &n, "PATH", SH_PATH_DEFAULT);
    if (rc == VENOM_OK && !getenv("HOME"))
        rc = env_set(call, r->envp, &n, "HOME", "/tmp");
    if (rc == VENOM_OK && !getenv("TMPDIR"))
        rc = env_set(call, r->envp, &n, "TMPDIR", "/tmp");
    if (rc == VENOM_OK && !getenv("LANG"))
        rc = env_set(call, r->envp, &n, "LANG", "C.UTF-8");
    if (rc == VENOM_OK && getcwd(cwd, sizeof cwd))
        rc = env_set(call, r->envp, &n, "PWD", cwd);
    if (rc != VENOM_OK || !env)
        return rc;
    if (!json_is_object(env))
        return sk_fail(call, VENOM_E_INVAL, "argument 'env' must be an object of strings, e.g. {\"LC_ALL\": \"C\"}");
    if (json_object_size(env) > SH_ENV_MAX)
        return sk_fail(call, VENOM_E_INVAL, "argument 'env' has %zu variables; at most %d are allowed",
                       json_object_size(env), SH_ENV_MAX);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)env, key, v) {
        if (!env_name_ok(key))
            return sk_fail(call, VENOM_E_INVAL,
                           "argument 'env': '%s' is not a valid variable name (letters, digits, _; not first a digit)",
                           key);
        if (!json_is_string(v))
            return sk_fail(call, VENOM_E_INVAL, "argument 'env': the value of '%s' must be a string", key);
        if (strlen(json_string_value(v)) != json_string_length(v))
            return sk_fail(call, VENOM_E_INVAL, "argument 'env': the value of '%s' contains a NUL character", key);
        if ((rc = env_set(call, r->envp, &n, key, json_string_value(v))) != VENOM_OK)
            return rc;
    }
    return VENOM_OK;
}

/* Find argv[0] in the PATH of envp (execvp's rule: a name with a slash is
 * used as it is). */
static int32_t resolve_exe(venom_ctx *call, sh_req *r)
{
    const char *name = r->argv[0];
    if (strchr(name, '/')) {
        r->exe = strdup(name);
        return r->exe ? VENOM_OK : sk_fail(call, VENOM_E_NOMEM, "out of memory");
    }
    const char *path = SH_PATH_DEFAULT;
    for (size_t i = 0; r->envp[i]; i++)
        if (strncmp(r->envp[i], "PATH=", 5) == 0)
            path = r->envp[i] + 5;
    size_t nl = strlen(name);
    for (const char *p = path;;) {
        const char *end = strchr(p, ':');
        size_t dl = end ? (size_t)(end - p) : strlen(p);
        char *cand = malloc(dl + nl + 3);
        if (!cand)
            return sk_fail(call, VENOM_E_NOMEM, "out of memory");
        snprintf(cand, dl + nl + 3, "%.*s/%s", (int)dl, dl ? p : ".", name);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
            r->exe = cand;
            return VENOM_OK;
        }
        free(cand);
        if (!end)
            break;
        p = end + 1;
    }
    return sk_fail(call, VENOM_E_NOTFOUND,
                   "command '%s' not found in PATH (%s); give its full path, or run it through 'command'", name,
                   path);
}

static int32_t parse_args(venom_ctx *call, json_t *args, sh_req *r)
{
    static const char *const known[] = {"argv", "command", "stdin", "timeout_ms", "max_output", "env"};
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok)
            return sk_fail(call, VENOM_E_INVAL,
                           "unknown argument '%s' (allowed: argv, command, stdin, timeout_ms, max_output, env)", key);
    }
    const json_t *av = json_object_get(args, "argv");
    const char *command = NULL;
    int32_t rc = sk_opt_str(call, args, "command", &command);
    if (rc == VENOM_OK)
        rc = sk_opt_str(call, args, "stdin", &r->in);
    if (rc == VENOM_OK)
        rc = sk_opt_int(call, args, "timeout_ms", SH_TIMEOUT_DEFAULT, 1, SH_TIMEOUT_MAX, &r->timeout_ms);
    if (rc == VENOM_OK)
        rc = sk_opt_int(call, args, "max_output", SH_OUTPUT_DEFAULT, 0, SH_OUTPUT_MAX, &r->max_output);
    if (rc != VENOM_OK)
        return rc;
    if (json_is_null(av))
        av = NULL;
    if ((av != NULL) == (command != NULL))
        return sk_fail(call, VENOM_E_INVAL,
                       av ? "give either 'argv' or 'command', not both"
                          : "give 'argv' (a list: program and its arguments) or 'command' (a line for /bin/sh -c)");
    if (r->in)
        r->in_len = json_string_length(json_object_get(args, "stdin"));
    size_t n;
    if (command) {
        if (!*command)
            return sk_fail(call, VENOM_E_INVAL, "argument 'command' is empty; give a command line");
        if (strlen(command) != json_string_length(json_object_get(args, "command")))
            return sk_fail(call, VENOM_E_INVAL, "argument 'command' contains a NUL character");
        n = 3;
    } else {
        if (!json_is_array(av))
            return sk_fail(call, VENOM_E_INVAL, "argument 'argv' must be a list of strings, e.g. [\"ls\", \"-l\"]");
        n = json_array_size(av);
        if (n == 0)
            return sk_fail(call, VENOM_E_INVAL, "argument 'argv' is empty; give at least the program to run");
        if (n > SH_ARGV_MAX)
            return sk_fail(call, VENOM_E_INVAL, "argument 'argv' has %zu items; at most %d are allowed", n,
                           SH_ARGV_MAX);
    }
    r->argv = calloc(n + 1, sizeof *r->argv);
    if (!r->argv)
        return sk_fail(call, VENOM_E_NOMEM, "out of memory");
    if (command) {
        r->argv[0] = "sh";
        r->argv[1] = "-c";
        r->argv[2] = (char *)command;
    } else {
        for (size_t i = 0; i < n; i++) {
            const json_t *item = json_array_get(av, i);
            if (!json_is_string(item))
                return sk_fail(call, VENOM_E_INVAL, "argument 'argv': item %zu must be a string", i);
            if (strlen(json_string_value(item)) != json_string_length(item))
                return sk_fail(call, VENOM_E_INVAL, "argument 'argv': item %zu contains a NUL character", i);
            r->argv[i] = (char *)json_string_value(item);
        }
        if (!*r->argv[0])
            return sk_fail(call, VENOM_E_INVAL, "argument 'argv': item 0 (the program) is empty");
    }
    rc = build_env(call, json_object_get(args, "env"), r);
    if (rc == VENOM_OK) {
        if (command) {
            r->exe = strdup("/bin/sh");
            rc = r->exe ? VENOM_OK : sk_fail(call, VENOM_E_NOMEM, "out of memory");
        } else {
            rc = resolve_exe(call, r);
        }
    }
    return rc;
}

/* ------------------------------------------------------------ running */

typedef struct sh_stream {
    int fd;           /* read end; -1 once at EOF */
    char *buf;        /* max bytes kept */
    size_t len, max;
    bool truncated;
} sh_stream;

/* Read what is available on s; bytes beyond s->max are drained and dropped. */
static void stream_read(sh_stream *s)
{
    char scratch[16384];
    for (;;) {
        bool keep = s->len < s->max;
        char *dst = keep ? s->buf + s->len : scratch;
        size_t room = keep ? s->max - s->len : sizeof scratch;
        ssize_t n = read(s->fd, dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close(s->fd);
            s->fd = -1;
            return;
        }
        if (keep)
            s->len += (size_t)n;
        else
            s->truncated = true;
    }
}

/* The command's processes: its process group when it has one, and, when the
 * worker is pid 1 of a pid namespace, every other process in it. */
static void kill_all(pid_t pid, bool own_group)
{
    if (own_group)
        kill(-pid, SIGKILL);
    if (getpid() == 1)
        kill(-1, SIGKILL);
    kill(pid, SIGKILL);
}

/* In the child, between fork and exec: only async-signal-safe calls. The
 * worker closed its fds 0-2, so the pipes may have any numbers: each is
 * first moved above 9 (CLOEXEC), then dup2'ed into place. */
__attribute__((noreturn)) static void child_exec(const sh_req *r, int in_fd, int out_fd, int err_fd, int report)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)sigaction(sig, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    (void)setpgid(0, 0); /* ENOSYS under the worker's seccomp filter: then kill_all uses kill(-1) */
    int fds[4] = {in_fd, out_fd, err_fd, report};
    for (int i = 0; i < 4; i++) {
        fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
        if (fds[i] < 0)
            goto fail; /* report is still the original pipe */
    }
    report = fds[3];
    for (int i = 0; i < 3; i++)
        if (dup2(fds[i], i) < 0)
            goto fail;
    /* Everything else goes, the worker's channel to the supervisor first;
     * the exec-error pipe stays open until exec (CLOEXEC). */
    if (syscall(SYS_close_range, 3u, (unsigned)report - 1, 0) < 0 ||
        syscall(SYS_close_range, (unsigned)report + 1, ~0u, 0) < 0) {
        for (int fd = 3; fd < 1024; fd++)
            if (fd != report)
                close(fd);
    }
    execve(r->exe, r->argv, r->envp);
fail:;
    int e = errno;
    if (report >= 0) {
        ssize_t w = write(report, &e, sizeof e);
        (void)w;
    }
    _exit(127);
}

static int pipe_nb(int p[2], bool nb_read, bool nb_write)
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    if (nb_read)
        fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    if (nb_write)
        fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

typedef struct sh_run {
    sh_stream out, err;
    int status;
    bool timed_out, cancelled;
    int64_t duration_ms;
    int exec_errno;
} sh_run;

static int32_t run(venom_ctx *call, const sh_req *r, sh_run *x)
{
    int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, rep_p[2] = {-1, -1};
    int32_t rc = VENOM_OK;
    size_t in_off = 0;
    x->out = (sh_stream){.fd = -1, .max = (size_t)r->max_output};
    x->err = (sh_stream){.fd = -1, .max = (size_t)r->max_output};
    x->out.buf = malloc(x->out.max + 1);
    x->err.buf = malloc(x->err.max + 1);
    if (!x->out.buf || !x->err.buf)
        return sk_fail(call, VENOM_E_NOMEM, "out of memory");
    if ((r->in ? pipe_nb(in_p, false, true) : (in_p[0] = open("/dev/null", O_RDONLY | O_CLOEXEC))) < 0 ||
        pipe_nb(out_p, true, false) < 0 || pipe_nb(err_p, true, false) < 0 || pipe2(rep_p, O_CLOEXEC) < 0) {
        rc = sk_fail(call, sk_errno_code(errno), "cannot set up the command's pipes: %s", strerror(errno));
        goto out;
    }
    int64_t start = now_ms(), deadline = start + r->timeout_ms;
    pid_t pid = fork();
    if (pid < 0) {
        rc = sk_fail(call, errno == EAGAIN ? VENOM_E_TOOBIG : VENOM_E_IO,
                     "cannot start the command: %s%s", strerror(errno),
                     errno == EAGAIN ? " (limits.processes reached)" : "");
        goto out;
    }
    if (pid == 0)
        child_exec(r, in_p[0], out_p[1], err_p[1], rep_p[1]);
    bool own_group = setpgid(pid, pid) == 0 || getpgid(pid) == pid;
    close_fd(&in_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[1]);
    close_fd(&rep_p[1]);
    if (!r->in || r->in_len == 0)
        close_fd(&in_p[1]);
    x->out.fd = out_p[0], out_p[0] = -1;
    x->err.fd = err_p[0], err_p[0] = -1;

    bool exited = false;
    int64_t exit_at = 0, idle_step = 1;
    for (;;) {
        int64_t now = now_ms();
        if (!exited) {
            pid_t w = waitpid(pid, &x->status, WNOHANG);
            if (w == pid) {
                exited = true;
                exit_at = now;
                close_fd(&in_p[1]);
            }
        }
        bool open_streams = x->out.fd >= 0 || x->err.fd >= 0;
        if (exited && (!open_streams || now - exit_at >= SH_LINGER_MS))
            break; /* done; a background process holding the pipes is not waited for */
        if (!exited && now >= deadline) {
            x->timed_out = true;
            break;
        }
        if (SK_HOST->cancelled(call)) {
            x->cancelled = true;
            break;
        }
        struct pollfd pf[3];
        int np = 0;
        if (x->out.fd >= 0)
            pf[np++] = (struct pollfd){.fd = x->out.fd, .events = POLLIN};
        if (x->err.fd >= 0)
            pf[np++] = (struct pollfd){.fd = x->err.fd, .events = POLLIN};
        if (in_p[1] >= 0)
            pf[np++] = (struct pollfd){.fd = in_p[1], .events = POLLOUT};
        int64_t wait = exited ? SH_LINGER_MS - (now - exit_at) : deadline - now;
        /* Without open pipes only the child's exit is awaited: check soon
         * (it usually follows at once), then less and less often. */
        int64_t step = np ? SH_STEP_MS : idle_step;
        if (!np && idle_step < SH_STEP_MS)
            idle_step *= 2;
        if (wait > step)
            wait = step;
        if (poll(pf, (nfds_t)np, (int)(wait > 0 ? wait : 0)) < 0 && errno != EINTR) {
            rc = sk_fail(call, VENOM_E_IO, "waiting for the command: %s", strerror(errno));
            x->timed_out = true; /* kill it below */
            break;
        }
        for (int i = 0; i < np; i++) {
            if (!pf[i].revents)
                continue;
            if (pf[i].fd == x->out.fd)
                stream_read(&x->out);
            else if (pf[i].fd == x->err.fd)
                stream_read(&x->err);
            else if (pf[i].fd == in_p[1]) {
                ssize_t w = write(in_p[1], r->in + in_off, r->in_len - in_off);
                if (w > 0)
                    in_off += (size_t)w;
                /* EPIPE: the command does not read (all of) its input */
                if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == r->in_len)
                    close_fd(&in_p[1]);
            }
        }
    }
    if (!exited) {
        kill_all(pid, own_group);
        while (waitpid(pid, &x->status, 0) < 0 && errno == EINTR) {
        }
    } else if (getpid() == 1) {
        kill(-1, SIGKILL); /* background processes do not outlive the call */
    }
    x->duration_ms = (exited ? exit_at : now_ms()) - start;
    while (waitpid(-1, NULL, WNOHANG) > 0) { /* orphans reparented to the worker (pid 1) */
    }
    /* What is still buffered in the pipes belongs to the output. */
    if (x->out.fd >= 0)
        stream_read(&x->out);
    if (x->err.fd >= 0)
        stream_read(&x->err);
    int e = 0;
    if (read(rep_p[0], &e, sizeof e) == (ssize_t)sizeof e)
        x->exec_errno = e;
out:
    close_fd(&in_p[0]), close_fd(&in_p[1]);
    close_fd(&out_p[0]), close_fd(&out_p[1]);
    close_fd(&err_p[0]), close_fd(&err_p[1]);
    close_fd(&rep_p[0]), close_fd(&rep_p[1]);
    close_fd(&x->out.fd);
    close_fd(&x->err.fd);
    return rc;
}

static json_t *stream_json(const sh_stream *s)
{
    size_t n = s->truncated ? sk_utf8_trim(s->buf, s->len) : s->len, len = 0;
    char *clean = utf8_clean(s->buf, n, &len);
    json_t *v = clean ? json_stringn(clean, len) : NULL;
    free(clean);
    return v;
}

/* ------------------------------------------------------------ shell.exec */

static int32_t shell_exec(venom_ctx *call, json_t *args)
{
    sh_req r = {0};
    sh_run x = {0};
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    /* A command that closes its stdin early must not kill the worker with
     * SIGPIPE: block it for the call and discard what arrived. */
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int32_t rc = parse_args(call, args, &r);
    if (rc == VENOM_OK)
        rc = run(call, &r, &x);
    if (rc != VENOM_OK)
        goto out;
    if (x.exec_errno) {
        int e = x.exec_errno;
        rc = sk_fail(call, sk_errno_code(e), "cannot run '%s': %s", r.exe, strerror(e));
        goto out;
    }
    if (x.cancelled) {
        rc = sk_fail(call, VENOM_E_CANCELLED, "cancelled; the command was killed after %lld ms",
                     (long long)x.duration_ms);
        goto out;
    }
    json_t *res = json_object();
    if (res) {
        bool sig = WIFSIGNALED(x.status);
        json_object_set_new(res, "exit_code", sig ? json_null() : json_integer(WEXITSTATUS(x.status)));
        json_object_set_new(res, "signal", sig ? json_string(signal_name(WTERMSIG(x.status))) : json_null());
        json_object_set_new(res, "stdout", stream_json(&x.out));
        json_object_set_new(res, "stderr", stream_json(&x.err));
        json_object_set_new(res, "stdout_truncated", json_boolean(x.out.truncated));
        json_object_set_new(res, "stderr_truncated", json_boolean(x.err.truncated));
        json_object_set_new(res, "timed_out", json_boolean(x.timed_out));
        json_object_set_new(res, "duration_ms", json_integer(x.duration_ms));
        if (json_object_size(res) != 8) {
            json_decref(res);
            res = NULL;
        }
    }
    rc = sk_result(call, res);
out:
    free(x.out.buf);
    free(x.err.buf);
    req_free(&r);
    const struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static const sk_skill SKILLS[] = {{"exec", shell_exec}};

static int32_t shell_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    (void)state;
    return sk_init(host, ctx, VENOM_HOST_HAS(host, cancelled), "the shell pack needs a host with cancelled (ABI 1.0)",
                   SKILLS, sizeof SKILLS / sizeof SKILLS[0]);
}

SK_PLUGIN("shell", shell_init, NULL)
