/*
 * client.c — an MCP client over stdio: one sandboxed server process, the
 * initialize handshake, requests with deadlines, clean shutdown.
 *
 * One thread drains the server's stderr all the time (a full pipe would
 * block the server) and keeps its last lines for error messages. Requests
 * are made by the caller's thread, one at a time (a mutex): it writes the
 * request line and reads stdout until the response with its id arrives,
 * answering server requests (ping; -32601 for everything else) and noting
 * notifications (tools/list_changed) on the way.
 */
#include "util/common.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcp/mcp.h"
#include "sandbox/policy.h"
#include "sandbox/sandbox.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/jsonx.h"

#define TAIL_BYTES 2048
#define TAIL_LINES 5

struct mcp_client {
    char *name;
    sandbox_policy *p;
    sandbox_proc *proc;
    uint32_t timeout_ms;
    json_int_t next_id;
    mcp_linebuf lb;
    pthread_mutex_t lock; /* one request at a time */
    json_t *tools;        /* the last tools/list, or NULL */
    bool tools_stale;     /* notifications/tools/list_changed since */
    json_t *info;         /* {"protocolVersion", "serverInfo"} */
    bool dead;            /* stdout reached EOF */
    int status;           /* its wait status once dead and reaped */
    bool reaped;
    /* the stderr drain */
    pthread_t drain;
    bool have_drain;
    atomic_bool stop;
    atomic_bool drained; /* the drain saw EOF */
    pthread_mutex_t tail_lock;
    char tail[TAIL_BYTES + 1];
    size_t tail_len;
};

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void *drain_main(void *arg)
{
    mcp_client *c = arg;
    char chunk[4096];
    while (!atomic_load(&c->stop)) {
        struct pollfd pfd = {.fd = c->proc->err_fd, .events = POLLIN};
        int r = poll(&pfd, 1, 100);
        if (r <= 0)
            continue;
        ssize_t n = read(c->proc->err_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        pthread_mutex_lock(&c->tail_lock);
        size_t k = (size_t)n;
        if (k >= TAIL_BYTES) {
            memcpy(c->tail, chunk + k - TAIL_BYTES, TAIL_BYTES);
            c->tail_len = TAIL_BYTES;
        } else {
            if (c->tail_len + k > TAIL_BYTES) {
                size_t drop = c->tail_len + k - TAIL_BYTES;
                memmove(c->tail, c->tail + drop, c->tail_len - drop);
                c->tail_len -= drop;
            }
            memcpy(c->tail + c->tail_len, chunk, k);
            c->tail_len += k;
        }
        c->tail[c->tail_len] = '\0';
        pthread_mutex_unlock(&c->tail_lock);
    }
    atomic_store(&c->drained, true);
    return NULL;
}

/* The server's last stderr lines, joined by " | " ("" when none); mem_free. */
static char *stderr_tail(mcp_client *c)
{
    pthread_mutex_lock(&c->tail_lock);
    char *t = mem_strndup(c->tail, c->tail_len);
    pthread_mutex_unlock(&c->tail_lock);
    if (!t)
        return NULL;
    /* the last TAIL_LINES non-empty lines */
    size_t len = strlen(t);
    while (len && (t[len - 1] == '\n' || t[len - 1] == '\r'))
        t[--len] = '\0';
    size_t start = len, lines = 0;
    while (start > 0 && lines < TAIL_LINES) {
        start--;
        if (t[start] == '\n' && ++lines == TAIL_LINES) {
            start++;
            break;
        }
    }
    buf b;
    buf_init(&b);
    for (char *s = t + start; *s; s++) {
        if (*s == '\r')
            continue;
        int rc = *s == '\n' ? buf_puts(&b, " | ") : buf_putc(&b, (unsigned char)*s < 0x20 ? ' ' : *s);
        if (rc < 0)
            break;
    }
    mem_free(t);
    return buf_detach(&b);
}

/* err_set with the server's name and stderr tail. */
static int fail(mcp_client *c, char **err, int rc, const char *fmt, ...) PRINTF_LIKE(4, 5);
static int fail(mcp_client *c, char **err, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mem_vprintf(fmt, ap);
    va_end(ap);
    /* a server that died: let the drain read its last words */
    for (int i = 0; c->dead && c->have_drain && i < 50 && !atomic_load(&c->drained); i++)
        usleep(10000);
    char *tail = stderr_tail(c);
    err_set(err, rc, "mcp server '%s': %s%s%s", c->name, msg ? msg : "out of memory",
            tail && *tail ? "; its last stderr: " : "", tail && *tail ? tail : "");
    mem_free(msg);
    mem_free(tail);
    return rc;
}

static int write_all(mcp_client *c, const char *line, char **err)
{
    size_t len = strlen(line), off = 0;
    if (c->proc->in_fd < 0)
        return fail(c, err, -EPIPE, "its stdin is closed");
    while (off < len) {
        ssize_t w = write(c->proc->in_fd, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = c->proc->in_fd, .events = POLLOUT};
            (void)poll(&pfd, 1, 100);
            continue;
        }
        if (w <= 0) {
            c->dead = true;
            return -EPIPE;
        }
        off += (size_t)w;
    }
    return 0;
}

static void send_line(mcp_client *c, char *line)
{
    if (line) {
        char *e = NULL;
        (void)write_all(c, line, &e);
        mem_free(e);
    }
    mem_free(line);
}

/* How the process ended, for messages. */
static void describe_end(mcp_client *c, char *out, size_t n)
{
    if (!c->reaped) {
        int st = 0;
        if (sandbox_proc_wait(c->proc, 1000, &st) == 1) {
            c->status = st;
            c->reaped = true;
        }
    }
    if (!c->reaped)
        snprintf(out, n, "closed its stdout");
    else if (WIFSIGNALED(c->status))
        snprintf(out, n, "was killed by SIG%s%s", sigabbrev_np(WTERMSIG(c->status)) ?: "?",
                 WTERMSIG(c->status) == SIGSYS ? " (a system call the sandbox forbids)" : "");
    else
        snprintf(out, n, "exited with status %d", WEXITSTATUS(c->status));
}

/* A message that is not our response. */
static void handle_other(mcp_client *c, const mcp_msg *m)
{
    if (m->kind == MCP_MSG_REQUEST) {
        if (!strcmp(m->method, "ping")) {
            json_t *empty = json_object();
            send_line(c, mcp_line_result(m->id, empty));
            json_decref(empty);
        } else {
            send_line(c, mcp_line_error(m->id, MCP_METHOD_NOT_FOUND, "Method not found"));
        }
    } else if (m->kind == MCP_MSG_NOTIFICATION && !strcmp(m->method, "notifications/tools/list_changed")) {
        c->tools_stale = true;
    }
    /* other notifications (log messages, progress) and stray responses: ignored */
}

/* Send a request and wait for its response. 0 and *result (new reference),
 * or a JSON-RPC error: -EPROTO with *err and *rpc_code. Caller holds lock. */
static int request(mcp_client *c, const char *method, json_t *params, atomic_int *cancel, json_t **result,
                   int *rpc_code, char **err)
{
    *result = NULL;
    if (rpc_code)
        *rpc_code = 0;
    if (c->dead) {
        char how[160];
        describe_end(c, how, sizeof how);
        return fail(c, err, -EPIPE, "the server %s; it cannot answer %s", how, method);
    }
    json_int_t id = c->next_id++;
    char *line = mcp_line_request(id, method, params);
    if (!line)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = write_all(c, line, err);
    mem_free(line);
    uint64_t deadline = now_ms() + c->timeout_ms;
    char chunk[65536];
    while (rc == 0) {
        const char *l;
        size_t len;
        int nr;
        while ((nr = mcp_linebuf_next(&c->lb, &l, &len)) == 1) {
            mcp_msg m;
            char *perr = NULL;
            if (len == 0 || mcp_msg_parse(l, len, &m, &perr) < 0) {
                mem_free(perr); /* not a message (a stray print): skipped */
                mcp_msg_release(&m);
                continue;
            }
            if (m.kind == MCP_MSG_RESPONSE && json_is_integer(m.id) && json_integer_value(m.id) == id) {
                if (m.error) {
                    int code = (int)json_integer_value(json_object_get(m.error, "code"));
                    if (rpc_code)
                        *rpc_code = code;
                    rc = fail(c, err, -EPROTO, "%s failed: error %d: %s", method, code,
                              json_string_value(json_object_get(m.error, "message")));
                } else {
                    *result = json_incref((json_t *)m.result);
                }
                mcp_msg_release(&m);
                return rc;
            }
            handle_other(c, &m);
            mcp_msg_release(&m);
        }
        if (nr == -E2BIG)
            return fail(c, err, -E2BIG, "sent a message longer than %u bytes", MCP_MAX_LINE);
        if (c->dead) {
            char how[160];
            describe_end(c, how, sizeof how);
            return fail(c, err, -EPIPE, "the server %s while venom waited for the answer to %s", how, method);
        }
        uint64_t now = now_ms();
        if (cancel && atomic_load(cancel)) {
            json_t *p = json_pack("{s:I, s:s}", "requestId", id, "reason", "cancelled");
            send_line(c, mcp_line_notification("notifications/cancelled", p));
            json_decref(p);
            return err_set(err, MCP_E_CANCELLED, "mcp server '%s': %s cancelled", c->name, method);
        }
        if (now >= deadline) {
            json_t *p = json_pack("{s:I, s:s}", "requestId", id, "reason", "timeout");
            send_line(c, mcp_line_notification("notifications/cancelled", p));
            json_decref(p);
            return fail(c, err, MCP_E_TIMEOUT,
                        "no answer to %s within %u s; raise the limit with 'venom mcp add %s --timeout S …' "
                        "or check the server",
                        method, c->timeout_ms / 1000, c->name);
        }
        uint64_t wait = deadline - now;
        struct pollfd pfd = {.fd = c->proc->out_fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)(wait < 100 ? wait : 100));
        if (pr < 0 && errno != EINTR)
            return fail(c, err, -errno, "poll: %s", strerror(errno));
        if (pr <= 0)
            continue;
        ssize_t n = read(c->proc->out_fd, chunk, sizeof chunk);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            c->dead = true;
            continue;
        }
        if (mcp_linebuf_append(&c->lb, chunk, (size_t)n) < 0)
            return err_set(err, -ENOMEM, "out of memory");
    }
    if (rc == -EPIPE) {
        char how[160];
        describe_end(c, how, sizeof how);
        return fail(c, err, -EPIPE, "the server %s before venom could send %s", how, method);
    }
    return rc;
}

static void ignore_sigpipe(void)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        struct sigaction sa = {.sa_handler = SIG_IGN};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
}

static int handshake(mcp_client *c, char **err)
{
    json_t *params = json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion", MCP_PROTOCOL_VERSION, "capabilities",
                               "clientInfo", "name", "venom", "version", VENOM_VERSION);
    json_t *res = NULL;
    int code = 0;
    int rc = params ? request(c, "initialize", params, NULL, &res, &code, err) : err_set(err, -ENOMEM, "out of memory");
    json_decref(params);
    if (rc < 0)
        return rc;
    const char *v = json_string_value(json_object_get(res, "protocolVersion"));
    if (!mcp_version_supported(v)) {
        rc = fail(c, err, -EPROTO,
                  "it speaks MCP protocol version %s; venom supports 2025-11-25, 2025-06-18 and 2025-03-26",
                  v ? jsonx_clipped(v).s : "(none given)");
        json_decref(res);
        return rc;
    }
    c->info = json_pack("{s:s, s:O?}", "protocolVersion", v, "serverInfo", json_object_get(res, "serverInfo"));
    json_decref(res);
    send_line(c, mcp_line_notification("notifications/initialized", NULL));
    return c->info ? 0 : err_set(err, -ENOMEM, "out of memory");
}

int mcp_client_start(const mcp_server *s, mcp_client **out, char **err)
{
    *out = NULL;
    mcp_client *c = mem_calloc(1, sizeof *c);
    if (!c || !(c->name = mem_strdup(s->name))) {
        mem_free(c);
        return err_set(err, -ENOMEM, "out of memory");
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->tail_lock, NULL);
    mcp_linebuf_init(&c->lb, MCP_MAX_LINE);
    c->timeout_ms = (s->timeout_s ? s->timeout_s : MCP_DEFAULT_TIMEOUT_S) * 1000u;
    c->next_id = 1;
    ignore_sigpipe();
    int rc = mcp_server_policy(s, &c->p, err);
    if (rc == 0)
        rc = sandbox_spawn(c->p, (const char *const *)s->argv, &c->proc, err);
    if (rc < 0) {
        err_prefix(err, rc, "mcp server '%s': cannot start %s", s->name, s->argv[0]);
        mcp_client_free(c);
        return rc;
    }
    if (pthread_create(&c->drain, NULL, drain_main, c) == 0)
        c->have_drain = true;
    pthread_mutex_lock(&c->lock);
    rc = handshake(c, err);
    pthread_mutex_unlock(&c->lock);
    if (rc < 0) {
        mcp_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

const json_t *mcp_client_info(const mcp_client *c)
{
    return c->info;
}

static int list_locked(mcp_client *c, char **err)
{
    json_t *acc = json_array();
    json_t *params = json_object();
    int rc = acc && params ? 0 : err_set(err, -ENOMEM, "out of memory");
    c->tools_stale = false;
    for (int page = 0; rc == 0; page++) {
        if (page == MCP_MAX_PAGES) {
            rc = fail(c, err, -E2BIG, "tools/list returned more than %d pages", MCP_MAX_PAGES);
            break;
        }
        json_t *res = NULL;
        rc = request(c, "tools/list", params, NULL, &res, NULL, err);
        if (rc < 0)
            break;
        const char *cursor = NULL;
        char *perr = NULL;
        rc = mcp_tools_page(res, acc, &cursor, &perr);
        if (rc < 0)
            fail(c, err, rc, "%s", perr ? perr : "out of memory");
        mem_free(perr);
        if (rc == 0 && cursor)
            json_object_set_new(params, "cursor", json_string(cursor));
        json_decref(res);
        if (!cursor)
            break;
    }
    json_decref(params);
    if (rc < 0) {
        json_decref(acc);
        return rc;
    }
    json_decref(c->tools);
    c->tools = acc;
    return 0;
}

int mcp_client_tools(mcp_client *c, const json_t **tools, char **err)
{
    pthread_mutex_lock(&c->lock);
    int rc = !c->tools || c->tools_stale ? list_locked(c, err) : 0;
    *tools = rc == 0 ? c->tools : NULL;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static const json_t *find_tool(const json_t *tools, const char *name)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t) {
        if (!strcmp(json_string_value(json_object_get(t, "name")), name))
            return t;
    }
    return NULL;
}

int mcp_client_call(mcp_client *c, const char *tool, const json_t *args, atomic_int *cancel, json_t **value,
                    char **err)
{
    *value = NULL;
    pthread_mutex_lock(&c->lock);
    int rc = !c->tools || c->tools_stale ? list_locked(c, err) : 0;
    if (rc == 0 && !find_tool(c->tools, tool)) {
        buf names;
        buf_init(&names);
        size_t i;
        const json_t *t;
        json_array_foreach(c->tools, i, t) {
            if ((i && buf_puts(&names, ", ") < 0) || buf_puts(&names, json_string_value(json_object_get(t, "name"))) < 0)
                break;
        }
        rc = err_set(err, MCP_E_NOTOOL,
                     "mcp server '%s' has no tool '%s' (any more); it has: %s; run 'venom mcp refresh %s' to update "
                     "the skill list",
                     c->name, tool, json_array_size(c->tools) ? buf_str(&names) : "(none)", c->name);
        buf_release(&names);
    }
    json_t *params = rc == 0 ? json_pack("{s:s, s:O}", "name", tool, "arguments", args ? args : json_object()) : NULL;
    json_t *res = NULL;
    if (rc == 0 && !params)
        rc = err_set(err, -ENOMEM, "out of memory");
    if (rc == 0)
        rc = request(c, "tools/call", params, cancel, &res, NULL, err);
    json_decref(params);
    if (rc == 0) {
        char *msg = NULL, *perr = NULL;
        int r = mcp_call_result(res, value, &msg, &perr);
        if (r == 1)
            rc = err_set(err, MCP_E_TOOL, "%s", msg);
        else if (r < 0)
            rc = fail(c, err, r == -ENOMEM ? r : -EPROTO, "%s", perr ? perr : "out of memory");
        mem_free(msg);
        mem_free(perr);
    }
    json_decref(res);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void mcp_client_free(mcp_client *c)
{
    if (!c)
        return;
    if (c->proc) {
        /* Graceful: EOF on stdin, then SIGTERM, then SIGKILL (in free). */
        if (c->proc->in_fd >= 0) {
            close(c->proc->in_fd);
            c->proc->in_fd = -1;
        }
        int st;
        if (sandbox_proc_wait(c->proc, 2000, &st) == 0) {
            sandbox_proc_signal(c->proc, SIGTERM);
            (void)sandbox_proc_wait(c->proc, 1000, &st);
        }
    }
    atomic_store(&c->stop, true);
    if (c->have_drain)
        pthread_join(c->drain, NULL);
    sandbox_proc_free(c->proc);
    sandbox_policy_free(c->p);
    mcp_linebuf_release(&c->lb);
    json_decref(c->tools);
    json_decref(c->info);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->tail_lock);
    mem_free(c->name);
    mem_free(c);
}
