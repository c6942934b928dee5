/*
 * test_net.c — venom's HTTP client (core/net/net.c) against a real HTTP
 * server: libmicrohttpd on 127.0.0.1 (random port, one thread per
 * connection, started in this process and stopped at the end), scripted per
 * URL path. Covers whole bodies, SSE and NDJSON streamed in small writes,
 * the retry table and its delays (retry-after-ms, Retry-After, backoff,
 * x-should-retry, insufficient_quota), the messages of 400/401/404 (and that
 * a secret header never shows), the first-byte and idle timeouts against a
 * stalling server, a stream cut mid-event, a closed port, cancellation from
 * another thread, concurrent threads; then the provider entry http_stream
 * (host_api()->http_stream on a call ctx) and the skills' broker.
 */
#include "testsupport.h"
#include "util/common.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <venom/venom.h>

#include "net/net.h"
#include "plugin/host.h"
#include "plugin/manifest.h"
#include "util/buf.h"

#define SECRET "sk-secret-0123456789abcdef"

static struct MHD_Daemon *srv;
static unsigned short port;
static atomic_int hits;     /* requests answered since the test's reset */
static atomic_int stopping; /* ends every stall at shutdown */
static atomic_int conns;    /* connections accepted */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Sleep up to ms, but stop early at shutdown. */
static void stall(int ms)
{
    for (int i = 0; i < ms / 10 && !atomic_load(&stopping); i++)
        usleep(10000);
}

/* ------------------------------------------------------------ the server */

typedef struct feed {
    const char *data;
    size_t len, pos, chunk;
    long stall_at;  /* stall once when pos reaches it (-1: never) */
    int stall_ms;
    int gap_ms;     /* sleep between chunks */
    bool end_error; /* close without the last chunk */
    bool stalled;
} feed;

static ssize_t feed_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    feed *f = cls;
    if (f->stall_at >= 0 && f->pos >= (size_t)f->stall_at && !f->stalled) {
        f->stalled = true;
        stall(f->stall_ms);
    }
    if (f->pos >= f->len || atomic_load(&stopping))
        return f->end_error ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    if (f->gap_ms && f->pos > 0)
        usleep((useconds_t)f->gap_ms * 1000);
    size_t n = f->len - f->pos;
    if (n > f->chunk)
        n = f->chunk;
    if (n > max)
        n = max;
    memcpy(out, f->data + f->pos, n);
    f->pos += n;
    return (ssize_t)n;
}

static void feed_free(void *cls) { free(cls); }

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r, const char *ctype,
                             const char *const *hdrs)
{
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    for (size_t i = 0; hdrs && hdrs[i]; i += 2)
        MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body, const char *const *hdrs)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    return queue(c, status, r, "application/json", hdrs);
}

static enum MHD_Result stream(struct MHD_Connection *c, const char *data, size_t chunk, long stall_at, int stall_ms,
                              int gap_ms, bool end_error, const char *ctype)
{
    feed *f = calloc(1, sizeof *f);
    *f = (feed){.data = data, .len = strlen(data), .chunk = chunk, .stall_at = stall_at, .stall_ms = stall_ms,
                .gap_ms = gap_ms, .end_error = end_error};
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, feed_read, f, feed_free);
    return queue(c, 200, r, ctype, NULL);
}

/* The SSE stream the /sse path sends, 7 bytes per write. */
static char sse_body[8192];
static char ndjson_body[4096];
#define N_EVENTS 40

static void make_bodies(void)
{
    size_t at = 0, bt = 0;
    at += (size_t)snprintf(sse_body + at, sizeof sse_body - at, ": hello\r\n\r\n");
    for (int i = 0; i < N_EVENTS; i++) {
        at += (size_t)snprintf(sse_body + at, sizeof sse_body - at,
                               i % 2 ? "event: delta\r\ndata: {\"i\":%d,\r\ndata: \"t\":\"x\"}\r\n\r\n"
                                     : "event: delta\ndata: {\"i\":%d,\ndata: \"t\":\"x\"}\n\n",
                               i);
        bt += (size_t)snprintf(ndjson_body + bt, sizeof ndjson_body - bt, "{\"i\":%d}\n%s", i, i % 5 ? "" : "\n");
    }
    snprintf(sse_body + at, sizeof sse_body - at, "data: [DONE]\n\n");
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls, (void)version;
    buf *body = *con_cls;
    if (!body) { /* first call: the headers */
        body = calloc(1, sizeof *body);
        *con_cls = body;
        return MHD_YES;
    }
    if (*upload_size) {
        if (buf_append(body, upload, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    int n = atomic_fetch_add(&hits, 1) + 1; /* this request is the n-th of the test */
    if (!strcmp(url, "/ok"))
        return reply(c, 200, "{\"ok\":true}", (const char *const[]){"X-Request-Id", "req-1", NULL});
    if (!strcmp(url, "/echo")) {
        const char *xt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
        json_t *o = json_pack("{s:s, s:s, s:s%}", "method", method, "x-test", xt ? xt : "", "body", buf_str(body),
                              body->len);
        char *s = json_dumps(o, JSON_COMPACT);
        enum MHD_Result r = reply(c, 200, s, NULL);
        free(s);
        json_decref(o);
        return r;
    }
    if (!strcmp(url, "/binary")) {
        static const char bin[] = {'\x00', '\xff', '\xfe', 'a'};
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof bin, (void *)bin, MHD_RESPMEM_PERSISTENT);
        return queue(c, 200, r, "application/octet-stream", NULL);
    }
    if (!strcmp(url, "/sse"))
        return stream(c, sse_body, 7, -1, 0, 0, false, "text/event-stream");
    if (!strcmp(url, "/ndjson"))
        return stream(c, ndjson_body, 5, -1, 0, 0, false, "application/x-ndjson");
    if (!strcmp(url, "/429ms") && n == 1)
        return reply(c, 429, "{\"error\":{\"message\":\"slow down\"}}",
                     (const char *const[]){"retry-after-ms", "50", "Retry-After", "30", NULL});
    if (!strcmp(url, "/429s") && n == 1)
        return reply(c, 429, "{\"error\":{\"message\":\"slow down\"}}", (const char *const[]){"Retry-After", "1", NULL});
    if (!strcmp(url, "/429always"))
        return reply(c, 429, "{\"error\":{\"message\":\"Rate limit reached for requests\",\"code\":\"rate_limit_exceeded\"}}",
                     (const char *const[]){"retry-after-ms", "10", NULL});
    if (!strcmp(url, "/429long"))
        return reply(c, 429, "{\"error\":{\"message\":\"come back later\"}}",
                     (const char *const[]){"Retry-After", "120", NULL});
    if (!strcmp(url, "/quota"))
        return reply(c, 429,
                     "{\"error\":{\"message\":\"You exceeded your current quota\",\"type\":\"insufficient_quota\","
                     "\"code\":\"insufficient_quota\"}}", NULL);
    if (!strcmp(url, "/5xx") && n <= 4) {
        static const unsigned codes[] = {500, 502, 503, 529};
        return reply(c, codes[n - 1], "{\"error\":{\"message\":\"overloaded\"}}", NULL);
    }
    if (!strcmp(url, "/noretry"))
        return reply(c, 503, "{\"error\":\"busy\"}", (const char *const[]){"x-should-retry", "false", NULL});
    if (!strcmp(url, "/forceretry") && n == 1)
        return reply(c, 400, "{\"error\":\"try again\"}", (const char *const[]){"x-should-retry", "true", NULL});
    if (!strcmp(url, "/400"))
        return reply(c, 400, "{\"error\":{\"message\":\"messages: field required\",\"type\":\"invalid_request_error\"}}",
                     NULL);
    if (!strcmp(url, "/401")) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        char msg[512];
        snprintf(msg, sizeof msg, "{\"error\":{\"message\":\"Incorrect API key provided: %s\"}}", auth ? auth : "");
        return reply(c, 401, msg, NULL);
    }
    if (!strcmp(url, "/404"))
        return reply(c, 404, "{\"error\":{\"message\":\"The model 'nope' does not exist\"}}", NULL);
    if (!strcmp(url, "/stall_head")) {
        stall(3000);
        return reply(c, 200, "{}", NULL);
    }
    if (!strcmp(url, "/stall_body"))
        return stream(c, "data: a\n\ndata: b\n\n", 9, 9, 3000, 0, false, "text/event-stream");
    if (!strcmp(url, "/cut"))
        return stream(c, "data: x\n\ndata: {\"partial", 64, -1, 0, 0, false, "text/event-stream");
    if (!strcmp(url, "/cut_err"))
        return stream(c, "data: x\n\ndata: {\"partial", 9, -1, 0, 10, true, "text/event-stream");
    if (!strcmp(url, "/slow")) {
        static char slow[4000];
        if (!slow[0])
            for (size_t i = 0; i + 10 < sizeof slow; i += 10)
                memcpy(slow + i, "data: s\n\n\n", 10);
        return stream(c, slow, 10, -1, 0, 50, false, "text/event-stream");
    }
    /* after their scripted failures: success */
    if (!strcmp(url, "/429ms") || !strcmp(url, "/429s") || !strcmp(url, "/5xx") || !strcmp(url, "/forceretry"))
        return reply(c, 200, "{\"ok\":\"finally\"}", NULL);
    return reply(c, 404, "{\"error\":\"no such test path\"}", NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    buf *b = *con_cls;
    if (b) {
        buf_release(b);
        free(b);
    }
    *con_cls = NULL;
}

static void connected(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_ConnectionNotificationCode toe)
{
    (void)cls, (void)c, (void)ctx;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&conns, 1);
}

static int server_start(void **state)
{
    (void)state;
    make_bodies();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    srv = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer,
                           NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                           MHD_OPTION_NOTIFY_CONNECTION, connected, NULL,
                           MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!srv)
        return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT);
    port = di ? di->port : 0;
    return port ? net_init() : -1;
}

static int server_stop(void **state)
{
    (void)state;
    atomic_store(&stopping, 1);
    MHD_stop_daemon(srv);
    net_cleanup();
    return 0;
}

/* ------------------------------------------------------------ helpers */

static char *url_of(const char *path)
{
    static _Thread_local char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u%s", port, path);
    return u;
}

/* Fast retries for the tests. */
static net_opts quick(unsigned retries)
{
    return (net_opts){.connect_ms = 2000, .first_byte_ms = 5000, .idle_ms = 5000, .total_ms = 15000,
                      .retries = retries, .backoff_ms = 5, .backoff_cap_ms = 20};
}

typedef struct events {
    buf all; /* "event|data\x1e"... */
    size_t n;
    atomic_int *cancel_after; /* set *cancel when n reaches 3 (cancel test) */
} events;

static int on_event(void *user, const char *event, const char *data, size_t len)
{
    events *e = user;
    assert_int_equal(strlen(data), len);
    e->n++;
    if (buf_puts(&e->all, event) < 0 || buf_putc(&e->all, '|') < 0 || buf_append(&e->all, data, len) < 0 ||
        buf_putc(&e->all, '\x1e') < 0)
        return -1;
    return 0;
}

/* GET path with opts; returns rc, fills rs and *msg. */
static int get(const char *path, net_body kind, net_opts o, events *ev, net_response *rs, char **msg)
{
    net_header h[] = {{"Authorization", "Bearer " SECRET}, {"X-Test", "yes"}};
    net_request rq = {.method = "GET", .url = url_of(path), .headers = h, .n_headers = 2, .kind = kind,
                      .on_event = kind == NET_BODY_WHOLE ? NULL : on_event, .user = ev, .opts = o};
    atomic_store(&hits, 0);
    *msg = NULL;
    return net_perform(&rq, rs, msg);
}

static void assert_clean_message(const char *msg)
{
    assert_non_null(msg);
    assert_null(strstr(msg, SECRET));
    assert_null(strstr(msg, "0123456789abcdef"));
    assert_null(strchr(msg, '\n'));
}

/* ------------------------------------------------------------ pure functions */

static void test_retry_after(void **state)
{
    (void)state;
    assert_int_equal(net_retry_after_ms("50", "30", 0), 50);
    assert_int_equal(net_retry_after_ms("12.7", NULL, 0), 12);
    assert_int_equal(net_retry_after_ms(NULL, "1", 0), 1000);
    assert_int_equal(net_retry_after_ms(NULL, "1.5", 0), 1500);
    assert_int_equal(net_retry_after_ms("junk", "2", 0), 2000); /* a bad retry-after-ms falls back */
    assert_int_equal(net_retry_after_ms(NULL, NULL, 0), -1);
    assert_int_equal(net_retry_after_ms("-5", "soon", 0), -1);
    /* HTTP date: 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT */
    assert_int_equal(net_retry_after_ms(NULL, "Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 - 30), 30000);
    assert_int_equal(net_retry_after_ms(NULL, "Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 + 30), 0);
}

static void test_backoff(void **state)
{
    (void)state;
    net_opts o = {.backoff_ms = 500, .backoff_cap_ms = 8000};
    assert_int_equal(net_backoff_ms(&o, 1, 0.0), 0);
    assert_true(net_backoff_ms(&o, 1, 0.999999) <= 500);
    assert_true(net_backoff_ms(&o, 1, 0.999999) >= 499);
    assert_true(net_backoff_ms(&o, 2, 0.999999) >= 999 && net_backoff_ms(&o, 2, 0.999999) <= 1000);
    assert_true(net_backoff_ms(&o, 4, 0.999999) >= 3999 && net_backoff_ms(&o, 4, 0.999999) <= 4000);
    assert_int_equal(net_backoff_ms(&o, 10, 0.999999), 8000); /* capped */
    assert_int_equal(net_backoff_ms(&o, 400, 0.999999), 8000); /* no overflow */
    assert_int_equal(net_backoff_ms(&o, 3, 0.5), 1000);       /* half of 2000 */
    net_opts d = net_opts_default(NULL);
    assert_int_equal(d.retries, 2);
    assert_int_equal(d.backoff_ms, 500);
    assert_int_equal(d.total_ms, 600000);
    net_opts z = {.total_ms = NET_NONE};
    d = net_opts_default(&z);
    assert_int_equal(d.retries, 0); /* taken as given */
    assert_int_equal(d.total_ms, 0);
    for (long s = 100; s < 600; s++)
        assert_int_equal(net_status_retryable(s),
                         s == 408 || s == 409 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504 || s == 529);
}

static void test_error_message(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"{\"error\":{\"message\":\"bad field\",\"type\":\"x\"}}", "bad field"},
        {"{\"error\":\"model not loaded\"}", "model not loaded"},
        {"{\"message\":\"plain\"}", "plain"},
        {"{\"detail\":\"fastapi\"}", "fastapi"},
        {"[{\"error\":{\"code\":400,\"message\":\"gemini\"}}]", "gemini"},
        {"  upstream died\n", "upstream died"},
        {"line one\nline two", "line one?line two"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *m = net_error_message(cases[i][0], strlen(cases[i][0]));
        assert_string_equal(m, cases[i][1]);
        mem_free(m);
    }
    char big[2000];
    memset(big, 'x', sizeof big);
    char *m = net_error_message(big, sizeof big);
    assert_true(strlen(m) < 400);
    mem_free(m);
}

/* ------------------------------------------------------------ against the server */

static void test_whole(void **state)
{
    (void)state;
    net_response rs;
    char *msg;
    assert_int_equal(get("/ok", NET_BODY_WHOLE, quick(0), NULL, &rs, &msg), 0);
    assert_null(msg);
    assert_int_equal(rs.status, 200);
    assert_string_equal(rs.body, "{\"ok\":true}");
    assert_int_equal(rs.body_len, 11);
    assert_int_equal(rs.attempts, 1);
    assert_string_equal(net_response_header(&rs, "X-Request-ID"), "req-1");
    assert_string_equal(net_response_header(&rs, "content-type"), "application/json");
    bool lower = false;
    for (size_t i = 0; i < rs.n_headers; i++)
        if (!strcmp(rs.header_names[i], "x-request-id"))
            lower = true;
    assert_true(lower);
    assert_true(rs.total_ms >= rs.first_byte_ms && rs.first_byte_ms > 0);
    net_response_free(&rs);

    /* a POST body arrives whole */
    net_request rq = {.method = "POST", .url = url_of("/echo"), .body = "{\"q\":\"\xc3\xa9\"}", .body_len = 10,
                      .headers = (net_header[]){{"X-Test", "posted"}}, .n_headers = 1};
    assert_int_equal(net_perform(&rq, &rs, &msg), 0);
    json_t *v = json_loads(rs.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(v, "x-test")), "posted");
    assert_string_equal(json_string_value(json_object_get(v, "body")), "{\"q\":\"\xc3\xa9\"}");
    json_decref(v);
    net_response_free(&rs);

    /* larger than max_body */
    net_opts o = quick(2);
    o.max_body = 4;
    assert_int_equal(get("/ok", NET_BODY_WHOLE, o, NULL, &rs, &msg), NET_E_TOOBIG);
    assert_int_equal(rs.attempts, 1);
    assert_non_null(strstr(msg, "max_body"));
    mem_free(msg);
    net_response_free(&rs);

    /* a bad URL and a bad header are refused before any connection */
    msg = NULL;
    rq = (net_request){.url = "ftp://127.0.0.1/x"};
    assert_int_equal(net_perform(&rq, &rs, &msg), NET_E_INVAL);
    assert_non_null(strstr(msg, "http://"));
    mem_free(msg);
    msg = NULL;
    rq = (net_request){.url = url_of("/ok"), .headers = (net_header[]){{"X-Bad", "a\r\nInjected: 1"}}, .n_headers = 1};
    assert_int_equal(net_perform(&rq, &rs, &msg), NET_E_INVAL);
    assert_non_null(strstr(msg, "line break"));
    mem_free(msg);
    net_response_free(&rs);
}

/* Sequential requests of one thread share one keep-alive connection. */
static void test_reuse(void **state)
{
    (void)state;
    atomic_store(&conns, 0);
    for (int i = 0; i < 5; i++) {
        net_response rs;
        char *msg;
        events ev = {0};
        assert_int_equal(get(i % 2 ? "/ok" : "/sse", i % 2 ? NET_BODY_WHOLE : NET_BODY_SSE, quick(0), &ev, &rs, &msg),
                         0);
        buf_release(&ev.all);
        net_response_free(&rs);
    }
    assert_true(atomic_load(&conns) <= 1);
}

static void test_sse_stream(void **state)
{
    (void)state;
    events ev = {0};
    net_response rs;
    char *msg;
    assert_int_equal(get("/sse", NET_BODY_SSE, quick(2), &ev, &rs, &msg), 0);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.events, N_EVENTS + 1);
    assert_int_equal(ev.n, N_EVENTS + 1);
    assert_null(rs.body);
    assert_string_equal(net_response_header(&rs, "content-type"), "text/event-stream");
    /* every event whole and in order, whatever the writes' split */
    buf want = BUF_INIT;
    for (int i = 0; i < N_EVENTS; i++)
        assert_int_equal(buf_printf(&want, "delta|{\"i\":%d,\n\"t\":\"x\"}\x1e", i), 0);
    assert_int_equal(buf_puts(&want, "|[DONE]\x1e"), 0);
    assert_string_equal(buf_str(&ev.all), buf_str(&want));
    buf_release(&want);
    buf_release(&ev.all);
    net_response_free(&rs);
}

static void test_ndjson_stream(void **state)
{
    (void)state;
    events ev = {0};
    net_response rs;
    char *msg;
    assert_int_equal(get("/ndjson", NET_BODY_NDJSON, quick(2), &ev, &rs, &msg), 0);
    assert_int_equal(ev.n, N_EVENTS);
    buf want = BUF_INIT;
    for (int i = 0; i < N_EVENTS; i++)
        assert_int_equal(buf_printf(&want, "|{\"i\":%d}\x1e", i), 0);
    assert_string_equal(buf_str(&ev.all), buf_str(&want));
    buf_release(&want);
    buf_release(&ev.all);
    net_response_free(&rs);
}

static void test_retry_429(void **state)
{
    (void)state;
    net_response rs;
    char *msg;
    /* retry-after-ms wins over Retry-After: 30 (which would exceed nothing but take long) */
    double t0 = now_ms();
    assert_int_equal(get("/429ms", NET_BODY_WHOLE, quick(2), NULL, &rs, &msg), 0);
    double took = now_ms() - t0;
    assert_int_equal(rs.attempts, 2);
    assert_int_equal(rs.status, 200);
    assert_string_equal(rs.body, "{\"ok\":\"finally\"}");
    assert_true(took >= 45 && took < 3000);
    net_response_free(&rs);

    /* Retry-After in seconds */
    t0 = now_ms();
    assert_int_equal(get("/429s", NET_BODY_WHOLE, quick(2), NULL, &rs, &msg), 0);
    took = now_ms() - t0;
    assert_int_equal(rs.attempts, 2);
    assert_true(took >= 950 && took < 4000);
    net_response_free(&rs);

    /* always 429: gives up after the retries and says so */
    assert_int_equal(get("/429always", NET_BODY_WHOLE, quick(2), NULL, &rs, &msg), NET_E_STATUS);
    assert_int_equal(rs.attempts, 3);
    assert_int_equal(atomic_load(&hits), 3);
    assert_int_equal(rs.status, 429);
    assert_non_null(strstr(msg, "rate limited, gave up after 3 attempts"));
    assert_non_null(strstr(msg, "Rate limit reached"));
    assert_non_null(strstr(rs.body, "rate_limit_exceeded"));
    assert_clean_message(msg);
    mem_free(msg);
    net_response_free(&rs);

    /* a server delay above max_wait_ms: no retry, and the message says why */
    t0 = now_ms();
    assert_int_equal(get("/429long", NET_BODY_WHOLE, quick(2), NULL, &rs, &msg), NET_E_STATUS);
    assert_int_equal(rs.attempts, 1);
    assert_true(now_ms() - t0 < 2000);
    assert_non_null(strstr(msg, "max_wait_ms"));
    assert_non_null(strstr(msg, "120.0 s"));
    mem_free(msg);
    net_response_free(&rs);

    /* OpenAI's insufficient_quota will not clear: no retry */
    assert_int_equal(get("/quota", NET_BODY_WHOLE, quick(2), NULL, &rs, &msg), NET_E_STATUS);
    assert_int_equal(rs.attempts, 1);
    assert_non_null(strstr(msg, "insufficient_quota"));
    assert_non_null(strstr(msg, "billing"));
    mem_free(msg);
    net_response_free(&rs);
}

static void test_retry_5xx(void **state)
{
    (void)state;
    net_response rs;
    char *msg;
    /* 500, 502, 503, 529, then 200 */
    assert_int_equal(get("/5xx", NET_BODY_WHOLE, quick(4), NULL, &rs, &msg), 0);
    assert_int_equal(rs.attempts, 5);
    assert_int_equal(rs.status, 200);
    net_response_free(&rs);
    /* one retry fewer: the last status is reported */
    assert_int_equal(get("/5xx", NET_BODY_WHOLE, quick(3), NULL, &rs, &msg), NET_E_STATUS);
    assert_int_equal(rs.attempts, 4);
    assert_int_equal(rs.status, 529);
    assert_non_null(strstr(msg, "HTTP 529"));
    assert_non_null(strstr(msg, "gave up after 4 attempts"));
    assert_non_null(strstr(msg, "overloaded"));
    mem_free(msg);
    net_response_free(&rs);
    /* x-should-retry overrides the table both ways */
    assert_int_equal(get("/noretry", NET_BODY_WHOLE, quick(3), NULL, &rs, &msg), NET_E_STATUS);
    assert_int_equal(rs.attempts, 1);
    mem_free(msg);
    net_response_free(&rs);
    assert_int_equal(get("/forceretry", NET_BODY_WHOLE, quick(3), NULL, &rs, &msg), 0);
    assert_int_equal(rs.attempts, 2);
    net_response_free(&rs);
}

static void test_4xx_messages(void **state)
{
    (void)state;
    struct {
        const char *path;
        long status;
        const char *says[3];
    } cases[] = {
        {"/400", 400, {"HTTP 400", "messages: field required", NULL}},
        {"/401", 401, {"the API key was refused (check the variable named by api_key_env)", "[redacted]", NULL}},
        {"/404", 404, {"not found: unknown model or wrong base URL", "The model 'nope' does not exist", NULL}},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        net_response rs;
        char *msg;
        events ev = {0};
        /* streamed or not, a non-2xx is a plain error body */
        assert_int_equal(get(cases[i].path, i == 2 ? NET_BODY_SSE : NET_BODY_WHOLE, quick(2), &ev, &rs, &msg),
                         NET_E_STATUS);
        assert_int_equal(rs.status, cases[i].status);
        assert_int_equal(rs.attempts, 1);
        assert_int_equal(atomic_load(&hits), 1);
        assert_int_equal(ev.n, 0);
        assert_non_null(rs.body);
        for (size_t k = 0; cases[i].says[k]; k++)
            if (!strstr(msg, cases[i].says[k]))
                fail_msg("%s: '%s' does not say '%s'", cases[i].path, msg, cases[i].says[k]);
        assert_clean_message(msg);
        mem_free(msg);
        net_response_free(&rs);
    }
}

static void test_timeouts(void **state)
{
    (void)state;
    net_response rs;
    char *msg;
    /* the server says nothing: the first-byte timeout fires, well before total_ms */
    net_opts o = quick(0);
    o.first_byte_ms = 300;
    o.total_ms = 10000;
    double t0 = now_ms();
    assert_int_equal(get("/stall_head", NET_BODY_WHOLE, o, NULL, &rs, &msg), NET_E_TIMEOUT);
    double took = now_ms() - t0;
    assert_true(took >= 290 && took < 1500);
    assert_non_null(strstr(msg, "first_byte_ms (300 ms)"));
    assert_int_equal(rs.status, 0);
    mem_free(msg);
    net_response_free(&rs);

    /* retried once: two attempts, each cut at 300 ms */
    o.retries = 1;
    t0 = now_ms();
    assert_int_equal(get("/stall_head", NET_BODY_WHOLE, o, NULL, &rs, &msg), NET_E_TIMEOUT);
    assert_int_equal(rs.attempts, 2);
    assert_true(now_ms() - t0 < 2500);
    mem_free(msg);
    net_response_free(&rs);

    /* the stream stalls after one event: the idle timeout fires; no retry
     * once an event was delivered */
    events ev = {0};
    o = quick(2);
    o.idle_ms = 300;
    t0 = now_ms();
    assert_int_equal(get("/stall_body", NET_BODY_SSE, o, &ev, &rs, &msg), NET_E_TIMEOUT);
    took = now_ms() - t0;
    assert_true(took >= 290 && took < 1500);
    assert_int_equal(rs.attempts, 1);
    assert_int_equal(ev.n, 1);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(msg, "idle_ms (300 ms)"));
    mem_free(msg);
    buf_release(&ev.all);
    net_response_free(&rs);

    /* total_ms bounds the whole call */
    o = quick(5);
    o.first_byte_ms = 5000;
    o.total_ms = 400;
    t0 = now_ms();
    assert_int_equal(get("/stall_head", NET_BODY_WHOLE, o, NULL, &rs, &msg), NET_E_TIMEOUT);
    assert_true(now_ms() - t0 < 1500);
    assert_non_null(strstr(msg, "total_ms"));
    mem_free(msg);
    net_response_free(&rs);
}

static void test_cut(void **state)
{
    (void)state;
    net_response rs;
    char *msg;
    events ev = {0};
    /* the body ends cleanly but mid-event */
    assert_int_equal(get("/cut", NET_BODY_SSE, quick(2), &ev, &rs, &msg), NET_E_CUT);
    assert_int_equal(ev.n, 1);
    assert_int_equal(rs.attempts, 1); /* an event was delivered: never retried */
    assert_non_null(strstr(msg, "cut off mid-event after 1 event"));
    mem_free(msg);
    net_response_free(&rs);
    buf_release(&ev.all);
    /* the connection breaks mid-body */
    ev = (events){0};
    assert_int_equal(get("/cut_err", NET_BODY_SSE, quick(2), &ev, &rs, &msg), NET_E_CUT);
    assert_int_equal(ev.n, 1);
    assert_int_equal(rs.attempts, 1);
    mem_free(msg);
    net_response_free(&rs);
    buf_release(&ev.all);
}

static void test_refused(void **state)
{
    (void)state;
    /* a port that was just free: bound then closed */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/chat", ntohs(sa.sin_port));
    net_request rq = {.method = "POST", .url = url, .body = "{}", .body_len = 2, .opts = quick(2),
                      .headers = (net_header[]){{"x-api-key", SECRET}}, .n_headers = 1};
    net_response rs;
    char *msg = NULL;
    assert_int_equal(net_perform(&rq, &rs, &msg), NET_E_CONNECT);
    assert_int_equal(rs.attempts, 3);
    assert_int_equal(rs.status, 0);
    char want[64];
    snprintf(want, sizeof want, "cannot connect to 127.0.0.1:%u", ntohs(sa.sin_port));
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "is the server running? check base_url"));
    assert_non_null(strstr(msg, "gave up after 3 attempts"));
    assert_clean_message(msg);
    mem_free(msg);
    net_response_free(&rs);
}

static void *cancel_later(void *arg)
{
    usleep(300 * 1000);
    atomic_store((atomic_int *)arg, 1);
    return NULL;
}

static void test_cancel(void **state)
{
    (void)state;
    atomic_int cancel = 0;
    events ev = {0};
    net_request rq = {.url = url_of("/slow"), .kind = NET_BODY_SSE, .on_event = on_event, .user = &ev,
                      .opts = quick(2), .cancel = &cancel};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &cancel), 0);
    net_response rs;
    char *msg = NULL;
    double t0 = now_ms();
    assert_int_equal(net_perform(&rq, &rs, &msg), NET_E_CANCELLED);
    double took = now_ms() - t0;
    pthread_join(th, NULL);
    assert_true(took >= 290 && took < 800);
    assert_true(ev.n >= 1 && ev.n < 40);
    assert_non_null(strstr(msg, "cancelled"));
    mem_free(msg);
    buf_release(&ev.all);
    net_response_free(&rs);

    /* cancelled during a backoff sleep */
    atomic_store(&cancel, 0);
    net_opts o = quick(3);
    o.backoff_ms = 5000;
    o.backoff_cap_ms = 5000;
    rq = (net_request){.url = url_of("/noretry-missing"), .opts = o, .cancel = &cancel}; /* 404: not retried */
    rq.url = url_of("/5xx");
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &cancel), 0);
    atomic_store(&hits, 0);
    t0 = now_ms();
    msg = NULL;
    assert_int_equal(net_perform(&rq, &rs, &msg), NET_E_CANCELLED);
    pthread_join(th, NULL);
    assert_true(now_ms() - t0 < 1500);
    mem_free(msg);
    net_response_free(&rs);
}

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        net_request rq = {.url = url_of(i % 2 ? "/ok" : "/sse"), .kind = i % 2 ? NET_BODY_WHOLE : NET_BODY_SSE,
                          .opts = quick(0)};
        events ev = {0};
        rq.on_event = i % 2 ? NULL : on_event;
        rq.user = &ev;
        net_response rs;
        char *msg = NULL;
        int rc = net_perform(&rq, &rs, &msg);
        bool ok = rc == 0 && rs.status == 200 && (i % 2 || ev.n == N_EVENTS + 1);
        mem_free(msg);
        buf_release(&ev.all);
        net_response_free(&rs);
        if (!ok)
            return (void *)1;
    }
    return NULL; /* the thread's handles go with it */
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
}

/* Each allocation of a call failing in turn: a clean NET_E_NOMEM (or
 * success once enough succeed), nothing leaked (the ASan build checks). */
static void test_oom(void **state)
{
    (void)state;
    for (int kind = 0; kind < 3; kind++) {
        const char *path = kind == 0 ? "/ok" : kind == 1 ? "/sse" : "/404";
        bool passed = false;
        for (long n = 0; n < 400 && !passed; n++) {
            events ev = {0};
            net_response rs;
            char *msg = NULL;
            mem_fail_after(n);
            int rc = get(path, kind == 1 ? NET_BODY_SSE : NET_BODY_WHOLE, quick(0), &ev, &rs, &msg);
            mem_fail_after(-1);
            if (rc != NET_E_NOMEM && rc != NET_E_CALLBACK) { /* on_event's own buffer may fail too */
                assert_int_equal(rc, kind == 2 ? NET_E_STATUS : 0);
                passed = true;
            }
            mem_free(msg);
            buf_release(&ev.all);
            net_response_free(&rs);
        }
        assert_true(passed);
    }
}

/* ------------------------------------------------------------ http_stream */

typedef struct sink {
    events ev;
    int32_t stop_with; /* returned at the 2nd event when non-zero */
} sink;

static int32_t sink_event(void *user, const char *event, const char *data, size_t len)
{
    sink *s = user;
    on_event(&s->ev, event, data, len);
    return s->stop_with && s->ev.n == 2 ? s->stop_with : VENOM_OK;
}

static int32_t stream_call(const char *req, net_opts *o, atomic_int *cancel, sink *s, char **resp, char **error)
{
    venom_ctx ctx;
    host_ctx_init_call(&ctx, "provider_test", NULL, NULL, cancel, 0);
    ctx.net = o;
    const venom_host_api *api = host_api();
    assert_true(VENOM_HOST_HAS(api, http_stream));
    int32_t rc = api->http_stream(&ctx, req, sink_event, s, resp);
    *error = host_ctx_take_error(&ctx);
    host_ctx_release(&ctx);
    return rc;
}

static void test_http_stream(void **state)
{
    (void)state;
    net_opts o = quick(2);
    char req[512], *resp = NULL, *error = NULL;
    sink s = {0};

    snprintf(req, sizeof req,
             "{\"method\":\"POST\",\"url\":\"%s\",\"headers\":{\"Authorization\":\"Bearer " SECRET "\"},"
             "\"body\":\"{}\",\"stream\":\"sse\"}", url_of("/sse"));
    assert_int_equal(stream_call(req, &o, NULL, &s, &resp, &error), VENOM_OK);
    assert_null(error);
    assert_int_equal(s.ev.n, N_EVENTS + 1);
    json_t *v = json_loads(resp, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(v, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "headers"), "content-type")),
                        "text/event-stream");
    assert_null(json_object_get(v, "body")); /* streamed: no body */
    json_decref(v);
    host_api()->free(resp);
    buf_release(&s.ev.all);

    /* "none": the body comes back; defaults when ctx->net is NULL */
    s = (sink){0};
    snprintf(req, sizeof req, "{\"url\":\"%s\",\"stream\":\"none\"}", url_of("/ok"));
    assert_int_equal(stream_call(req, NULL, NULL, &s, &resp, &error), VENOM_OK);
    v = json_loads(resp, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "body")), "{\"ok\":true}");
    json_decref(v);
    host_api()->free(resp);

    /* a 404: VENOM_E_FAILED, the call's error says what to fix, the response holds the server's text */
    snprintf(req, sizeof req, "{\"url\":\"%s\",\"stream\":\"sse\",\"headers\":{\"x-api-key\":\"" SECRET "\"}}",
             url_of("/404"));
    assert_int_equal(stream_call(req, &o, NULL, &s, &resp, &error), VENOM_E_FAILED);
    assert_non_null(strstr(error, "unknown model or wrong base URL"));
    assert_clean_message(error);
    v = json_loads(resp, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(v, "status")), 404);
    assert_non_null(strstr(json_string_value(json_object_get(v, "body")), "does not exist"));
    json_decref(v);
    host_api()->free(resp);
    mem_free(error);

    /* the consumer stops: its code comes back */
    s = (sink){.stop_with = VENOM_E_CANCELLED};
    snprintf(req, sizeof req, "{\"url\":\"%s\",\"stream\":\"sse\"}", url_of("/sse"));
    assert_int_equal(stream_call(req, &o, NULL, &s, &resp, &error), VENOM_E_CANCELLED);
    assert_int_equal(s.ev.n, 2);
    assert_null(resp);
    mem_free(error);
    buf_release(&s.ev.all);

    /* the call is cancelled */
    atomic_int cancel = 1;
    s = (sink){0};
    assert_int_equal(stream_call(req, &o, &cancel, &s, &resp, &error), VENOM_E_CANCELLED);
    assert_int_equal(s.ev.n, 0);
    mem_free(error);

    /* a cut stream and a stalled one */
    snprintf(req, sizeof req, "{\"url\":\"%s\",\"stream\":\"sse\"}", url_of("/cut"));
    assert_int_equal(stream_call(req, &o, NULL, &s, &resp, &error), VENOM_E_NET);
    assert_non_null(strstr(error, "cut off"));
    mem_free(error);
    buf_release(&s.ev.all);
    net_opts st = quick(0);
    st.first_byte_ms = 200;
    snprintf(req, sizeof req, "{\"url\":\"%s\",\"stream\":\"ndjson\"}", url_of("/stall_head"));
    assert_int_equal(stream_call(req, &st, NULL, &s, &resp, &error), VENOM_E_TIMEOUT);
    mem_free(error);

    /* bad requests say what is wrong */
    const char *bad[][2] = {
        {"not json", "not valid JSON"},
        {"[1]", "must be a JSON object"},
        {"{\"method\":\"GET\"}", "\"url\" must be a string"},
        {"{\"url\":\"http://127.0.0.1:1/\",\"stream\":\"SSE\"}", "\"stream\" must be"},
        {"{\"url\":\"http://127.0.0.1:1/\",\"headers\":{\"a\":1}}", "header 'a' must be a string"},
        {"{\"url\":\"http://127.0.0.1:1/\",\"bdy\":\"x\"}", "unknown key 'bdy'"},
        {"{\"url\":\"http://127.0.0.1:1/\",\"method\":\"get\"}", "upper-case"},
        {"{\"url\":\"file:///etc/passwd\"}", "only http:// and https://"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(stream_call(bad[i][0], &o, NULL, &s, &resp, &error), VENOM_E_INVAL);
        if (!error || !strstr(error, bad[i][1]))
            fail_msg("%s: '%s' does not say '%s'", bad[i][0], error ? error : "(none)", bad[i][1]);
        assert_null(resp);
        mem_free(error);
    }
}

/* ------------------------------------------------------------ the broker */

static manifest *pack(const char *hosts)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"name\":\"netpack\",\"version\":\"1.0.0\",\"description\":\"d\",\"library\":\"x.so\","
             "\"permissions\":{\"network\":{\"hosts\":[%s]}},\"skills\":[{\"name\":\"s\",\"description\":\"d\"}]}",
             hosts);
    manifest *m = NULL;
    char *err = NULL;
    if (manifest_parse(text, strlen(text), "/tmp/netpack/venom.json", &m, &err) < 0)
        fail_msg("%s", err);
    return m;
}

static void test_broker(void **state)
{
    (void)state;
    manifest *m = pack("\"127.0.0.1\"");
    char req[512], *resp = NULL, *error = NULL;

    snprintf(req, sizeof req, "{\"method\":\"POST\",\"url\":\"%s\",\"headers\":{\"X-Test\":\"brokered\"},"
             "\"body\":\"hello\",\"timeout_ms\":5000}", url_of("/echo"));
    assert_int_equal(net_broker(NULL, "http", m, req, &resp, &error), VENOM_OK);
    json_t *v = json_loads(resp, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(v, "status")), 200);
    json_t *body = json_loads(json_string_value(json_object_get(v, "body")), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "x-test")), "brokered");
    assert_string_equal(json_string_value(json_object_get(body, "body")), "hello");
    json_decref(body);
    json_decref(v);
    mem_free(resp);

    /* an HTTP error is an answer for the skill, not a broker failure */
    snprintf(req, sizeof req, "{\"url\":\"%s\"}", url_of("/404"));
    assert_int_equal(net_broker(NULL, "http", m, req, &resp, &error), VENOM_OK);
    v = json_loads(resp, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(v, "status")), 404);
    json_decref(v);
    mem_free(resp);

    /* bytes that are not UTF-8 come back in base64 */
    snprintf(req, sizeof req, "{\"url\":\"%s\"}", url_of("/binary"));
    assert_int_equal(net_broker(NULL, "http", m, req, &resp, &error), VENOM_OK);
    v = json_loads(resp, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "body_base64")), "AP/+YQ==");
    json_decref(v);
    mem_free(resp);

    /* through the host's broker, with its allowlist check in front */
    host_set_broker(net_broker, NULL);
    snprintf(req, sizeof req, "{\"url\":\"%s\"}", url_of("/ok"));
    assert_int_equal(host_broker_serve("http", m, req, &resp, &error), VENOM_OK);
    assert_non_null(strstr(resp, "\\\"ok\\\":true"));
    mem_free(resp);
    manifest *other = pack("\"api.example.org\"");
    assert_int_equal(host_broker_serve("http", other, req, &resp, &error), VENOM_E_PERM);
    mem_free(error);
    /* and checked again by the broker itself */
    assert_int_equal(net_broker(NULL, "http", other, req, &resp, &error), VENOM_E_PERM);
    assert_non_null(strstr(error, "permissions.network.hosts"));
    mem_free(error);
    host_set_broker(NULL, NULL);

    /* other services, bad requests, a closed port */
    assert_int_equal(net_broker(NULL, "secret", m, "TOKEN", &resp, &error), VENOM_E_UNSUPPORTED);
    assert_non_null(strstr(error, "only \"http\""));
    mem_free(error);
    assert_int_equal(net_broker(NULL, "http", m, "{\"url\":\"x\",\"stream\":\"sse\"}", &resp, &error), VENOM_E_INVAL);
    assert_non_null(strstr(error, "unknown key 'stream'"));
    mem_free(error);
    assert_int_equal(net_broker(NULL, "http", m, "{\"url\":\"http://127.0.0.1:1/\",\"timeout_ms\":2000}", &resp,
                                &error), VENOM_E_NET);
    assert_non_null(strstr(error, "cannot connect to 127.0.0.1:1"));
    mem_free(error);
    manifest_free(other);
    manifest_free(m);
}

int main(void)
{
    /* only 127.0.0.1 here: no proxy from the environment */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_sse_stream),
        cmocka_unit_test(test_ndjson_stream),
        cmocka_unit_test(test_retry_429),
        cmocka_unit_test(test_retry_5xx),
        cmocka_unit_test(test_4xx_messages),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_http_stream),
        cmocka_unit_test(test_broker),
    };
    return cmocka_run_group_tests(tests, server_start, server_stop);
}
