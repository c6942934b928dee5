/*
 * net.c — venom's HTTP client on libcurl (net.h, docs/internals/net.md).
 *
 * One CURLSH share handle holds the DNS cache and the TLS sessions of every
 * thread (pthread mutexes in its lock callbacks). Connections are kept per
 * thread: each thread reuses one multi handle + easy handle, whose connection
 * cache keeps keep-alive connections between requests. (libcurl documents
 * sharing the connection cache between concurrent threads as unsupported,
 * so CURL_LOCK_DATA_CONNECT is not put in the share.)
 *
 * A transfer runs in our own curl_multi_poll loop with a short wait, so the
 * first-byte, idle and total timeouts and the cancellation flag are checked
 * every NET_TICK_MS whatever the server does (the same check also runs in
 * the XFERINFO callback). A response's headers come through the header
 * callback (the status line resets them, so a 1xx's do not leak into the
 * final ones); its body through the write callback, into the SSE / NDJSON
 * parser for a 2xx stream, else into a buffer.
 */
#include "util/common.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include "net/curl_dl.h"
#include <jansson.h>

#include "net/net.h"
#include "net/sse.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/jsonx.h"

#define NET_TICK_MS 25              /* longest wait in the transfer loop and in backoff sleeps */
#define NET_ERRBODY_CAP (1u << 20)  /* what is kept of a non-2xx body */
#define NET_MSG_CLIP 300            /* bytes of a server's message in ours */

#ifndef VENOM_VERSION
#define VENOM_VERSION "0"
#endif

/* ------------------------------------------------------------ init */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static bool g_global;  /* curl_global_init done */
static CURLSH *g_share;
static pthread_mutex_t g_share_locks[CURL_LOCK_DATA_LAST];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;

typedef struct net_tls {
    CURLM *multi;
    CURL *easy;
    bool busy; /* a transfer of this thread runs (an on_event that calls net_perform gets its own handles) */
} net_tls;

static void tls_free(void *p)
{
    net_tls *t = p;
    if (!t)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    if (t->multi)
        curl_multi_cleanup(t->multi);
    mem_free(t);
}

static void once_init(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(g_share_locks); i++)
        pthread_mutex_init(&g_share_locks[i], NULL);
    (void)pthread_key_create(&g_key, tls_free);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user)
{
    (void)h, (void)access, (void)user;
    if ((unsigned)data < ARRAY_SIZE(g_share_locks))
        pthread_mutex_lock(&g_share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *user)
{
    (void)h, (void)user;
    if ((unsigned)data < ARRAY_SIZE(g_share_locks))
        pthread_mutex_unlock(&g_share_locks[data]);
}

int net_init(void)
{
    pthread_once(&g_once, once_init);
    int rc = curl_dl_load(NULL);
    if (rc < 0)
        return NET_E_CONNECT;
    pthread_mutex_lock(&g_lock);
    if (!g_global) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            rc = NET_E_NOMEM;
            goto out;
        }
        g_global = true;
    }
    if (!g_share) {
        CURLSH *s = curl_share_init();
        if (!s || curl_share_setopt(s, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
            curl_share_setopt(s, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
            curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
            curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
            if (s)
                curl_share_cleanup(s);
            rc = NET_E_NOMEM;
            goto out;
        }
        g_share = s;
    }
out:
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void net_cleanup(void)
{
    pthread_once(&g_once, once_init);
    net_tls *t = pthread_getspecific(g_key);
    if (t && !t->busy) {
        (void)pthread_setspecific(g_key, NULL);
        tls_free(t);
    }
    pthread_mutex_lock(&g_lock);
    /* handles of other live threads may still use the share: then it stays */
    if (g_share && curl_share_cleanup(g_share) == CURLSHE_OK)
        g_share = NULL;
    if (!g_share && g_global) {
        curl_global_cleanup();
        g_global = false;
    }
    pthread_mutex_unlock(&g_lock);
}

/* This thread's handles, or fresh ones (*own) while they are busy. */
static net_tls *tls_get(bool *own)
{
    *own = false;
    net_tls *t = pthread_getspecific(g_key);
    if (t && !t->busy)
        return t;
    net_tls *n = mem_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->multi = curl_multi_init();
    n->easy = curl_easy_init();
    if (!n->multi || !n->easy) {
        tls_free(n);
        return NULL;
    }
    if (!t && pthread_setspecific(g_key, n) == 0)
        return n;
    *own = true;
    return n;
}

/* ------------------------------------------------------------ small helpers */

net_opts net_opts_default(const net_opts *o)
{
    net_opts d = o ? *o : (net_opts){.retries = 2};
    if (!d.connect_ms)
        d.connect_ms = 10000;
    if (!d.first_byte_ms)
        d.first_byte_ms = 60000;
    if (!d.idle_ms)
        d.idle_ms = 60000;
    if (!d.total_ms)
        d.total_ms = 600000;
    else if (d.total_ms == NET_NONE)
        d.total_ms = 0; /* no limit */
    if (!d.backoff_ms)
        d.backoff_ms = 500;
    if (!d.backoff_cap_ms)
        d.backoff_cap_ms = 8000;
    if (!d.max_wait_ms)
        d.max_wait_ms = 60000;
    if (!d.max_body)
        d.max_body = (size_t)64 << 20;
    return d;
}

bool net_status_retryable(long status)
{
    switch (status) {
    case 408: case 409: case 429: case 500: case 502: case 503: case 504: case 529: return true;
    default: return false;
    }
}

unsigned net_backoff_ms(const net_opts *o, unsigned n, double r01)
{
    net_opts d = net_opts_default(o);
    double top = d.backoff_ms;
    for (unsigned i = 1; i < n && top < d.backoff_cap_ms; i++)
        top *= 2;
    if (top > d.backoff_cap_ms)
        top = d.backoff_cap_ms;
    if (!(r01 >= 0))
        r01 = 0;
    if (r01 >= 1)
        r01 = nextafter(1.0, 0.0);
    double v = floor(r01 * (top + 1));
    return v > top ? (unsigned)top : (unsigned)v;
}

long net_retry_after_ms(const char *retry_after_ms, const char *retry_after, double now_epoch)
{
    char *end;
    if (retry_after_ms && *retry_after_ms) {
        errno = 0;
        double v = strtod(retry_after_ms, &end);
        while (*end == ' ' || *end == '\t')
            end++;
        if (end != retry_after_ms && !*end && errno == 0 && isfinite(v) && v >= 0 && v < (double)LONG_MAX)
            return (long)v;
    }
    if (retry_after && *retry_after) {
        errno = 0;
        double v = strtod(retry_after, &end);
        while (*end == ' ' || *end == '\t')
            end++;
        if (end != retry_after && !*end && errno == 0 && isfinite(v) && v >= 0 && v < (double)LONG_MAX / 1000)
            return (long)(v * 1000);
        if (!isdigit((unsigned char)*retry_after) && curl_dl_load(NULL) == 0) { /* an HTTP date */
            time_t t = curl_getdate(retry_after, NULL);
            if (t != (time_t)-1) {
                double d = ((double)t - now_epoch) * 1000;
                return d <= 0 ? 0 : d >= (double)LONG_MAX ? LONG_MAX : (long)d;
            }
        }
    }
    return -1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Uniform in [0,1), per-thread xorshift seeded from the clock. */
static double rand01(void)
{
    static _Thread_local uint64_t x;
    if (!x) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&x;
        if (!x)
            x = 0x9e3779b97f4a7c15ull;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

static bool cancelled(const net_request *rq) { return rq->cancel && atomic_load(rq->cancel); }

/* Sleep ms in short slices; false when cancelled meanwhile. */
static bool nap(const net_request *rq, double ms)
{
    double end = now_ms() + ms;
    for (;;) {
        if (cancelled(rq))
            return false;
        double left = end - now_ms();
        if (left <= 0)
            return true;
        if (left > NET_TICK_MS)
            left = NET_TICK_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(left * 1e6)};
        nanosleep(&ts, NULL);
    }
}

const char *net_response_header(const net_response *rs, const char *name)
{
    if (!rs || !name)
        return NULL;
    for (size_t i = 0; i < rs->n_headers; i++)
        if (!strcasecmp(rs->header_names[i], name))
            return rs->header_values[i];
    return NULL;
}

void net_response_free(net_response *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n_headers; i++) {
        mem_free(rs->header_names[i]);
        mem_free(rs->header_values[i]);
    }
    mem_free(rs->header_names);
    mem_free(rs->header_values);
    mem_free(rs->body);
    memset(rs, 0, sizeof *rs);
}

/* The clipped, one-line copy of s[0..n), its ends trimmed. */
static char *clip_line(const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s))
        s++, n--;
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    size_t cut = jsonx_utf8_cut(s, n, NET_MSG_CLIP);
    char *m = mem_printf("%.*s%s", (int)cut, s, cut < n ? "..." : "");
    jsonx_oneline(m);
    return m;
}

char *net_error_message(const char *body, size_t len)
{
    if (!body || len == 0)
        return mem_strdup("(the response has no body)");
    json_t *v = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    if (json_is_array(v) && json_array_size(v) > 0) { /* Gemini can wrap the error in an array */
        json_t *first = json_incref(json_array_get(v, 0));
        json_decref(v);
        v = first;
    }
    const char *s = NULL;
    if (json_is_object(v)) {
        json_t *e = json_object_get(v, "error");
        if (json_is_object(e))
            s = json_string_value(json_object_get(e, "message"));
        else if (json_is_string(e))
            s = json_string_value(e);
        if (!s)
            s = json_string_value(json_object_get(v, "message"));
        if (!s)
            s = json_string_value(json_object_get(v, "detail"));
    }
    char *m = s && *s ? clip_line(s, strlen(s)) : clip_line(body, strnlen(body, len));
    json_decref(v);
    return m;
}

/* ------------------------------------------------------------ one attempt */

enum { WHY_NONE, WHY_FIRST_BYTE, WHY_IDLE, WHY_TOTAL, WHY_CONNECT };

typedef struct attempt {
    const net_request *rq;
    const net_opts *o;
    sse_parser *parser;
    long status;
    bool status_seen, body_seen, cert_error;
    buf body;
    char **names, **values;
    size_t n_headers, cap_headers;
    double t_start, t_first, t_last, deadline;
    int stop; /* NET_E_* decided by a callback or the loop; 0 while going on */
    int why;  /* WHY_* of a timeout */
    int cb_rc;
    size_t events;
} attempt;

static void attempt_reset_headers(attempt *a)
{
    for (size_t i = 0; i < a->n_headers; i++) {
        mem_free(a->names[i]);
        mem_free(a->values[i]);
    }
    a->n_headers = 0;
}

static void attempt_release(attempt *a)
{
    attempt_reset_headers(a);
    mem_free(a->names);
    mem_free(a->values);
    buf_release(&a->body);
    sse_free(a->parser);
    memset(a, 0, sizeof *a);
}

static bool is_2xx(long s) { return s >= 200 && s < 300; }

static const char *attempt_header(const attempt *a, const char *name)
{
    for (size_t i = 0; i < a->n_headers; i++)
        if (!strcmp(a->names[i], name))
            return a->values[i];
    return NULL;
}

/* The checks of the loop and of XFERINFO: cancel and the three clocks. */
static int attempt_check(attempt *a)
{
    if (a->stop)
        return a->stop;
    double t = now_ms();
    if (cancelled(a->rq))
        a->stop = NET_E_CANCELLED;
    else if (a->deadline > 0 && t >= a->deadline)
        a->stop = NET_E_TIMEOUT, a->why = WHY_TOTAL;
    else if (!a->status_seen && t - a->t_start >= a->o->first_byte_ms)
        a->stop = NET_E_TIMEOUT, a->why = WHY_FIRST_BYTE;
    else if (a->status_seen && t - a->t_last >= a->o->idle_ms)
        a->stop = NET_E_TIMEOUT, a->why = WHY_IDLE;
    return a->stop;
}

static int xferinfo_cb(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return attempt_check(p) ? 1 : 0;
}

static size_t header_cb(char *b, size_t size, size_t nitems, void *p)
{
    attempt *a = p;
    size_t n = size * nitems;
    double t = now_ms();
    if (!a->status_seen)
        a->t_first = t;
    a->t_last = t;
    a->status_seen = true;
    if (n >= 5 && !memcmp(b, "HTTP/", 5)) { /* a status line: a new response starts */
        attempt_reset_headers(a);
        const char *sp = memchr(b, ' ', n);
        a->status = 0;
        for (const char *d = sp ? sp + 1 : b + n; d < b + n && isdigit((unsigned char)*d) && a->status < 1000; d++)
            a->status = a->status * 10 + (*d - '0');
        return n;
    }
    const char *colon = memchr(b, ':', n);
    if (!colon || colon == b)
        return n; /* the blank line, or junk */
    size_t nl = (size_t)(colon - b);
    const char *v = colon + 1, *end = b + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (a->n_headers == a->cap_headers) {
        size_t cap = a->cap_headers ? a->cap_headers * 2 : 16;
        char **nn = mem_realloc(a->names, cap * sizeof *nn);
        if (nn)
            a->names = nn;
        char **nv = nn ? mem_realloc(a->values, cap * sizeof *nv) : NULL;
        if (!nv) {
            a->stop = NET_E_NOMEM;
            return 0;
        }
        a->values = nv;
        a->cap_headers = cap;
    }
    char *name = mem_strndup(b, nl), *val = mem_strndup(v, (size_t)(end - v));
    if (!name || !val) {
        mem_free(name);
        mem_free(val);
        a->stop = NET_E_NOMEM;
        return 0;
    }
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    a->names[a->n_headers] = name;
    a->values[a->n_headers++] = val;
    return n;
}

static size_t write_cb(char *b, size_t size, size_t nmemb, void *p)
{
    attempt *a = p;
    size_t n = size * nmemb;
    a->t_last = now_ms();
    a->body_seen = true;
    if (attempt_check(a))
        return 0;
    if (is_2xx(a->status) && a->rq->kind != NET_BODY_WHOLE) {
        if (!a->parser && !(a->parser = sse_new(a->rq->kind, a->o->max_body))) {
            a->stop = NET_E_NOMEM;
            return 0;
        }
        int rc = sse_feed(a->parser, b, n, a->rq->on_event, a->rq->user, &a->cb_rc);
        a->events = sse_events(a->parser);
        if (rc) {
            a->stop = rc;
            return 0;
        }
        return n;
    }
    size_t cap = is_2xx(a->status) ? a->o->max_body : a->o->max_body < NET_ERRBODY_CAP ? a->o->max_body : NET_ERRBODY_CAP;
    size_t take = n;
    if (a->body.len + n > cap) {
        if (is_2xx(a->status)) {
            a->stop = NET_E_TOOBIG;
            return 0;
        }
        take = cap > a->body.len ? cap - a->body.len : 0; /* an error body: keep its head */
    }
    if (take && buf_append(&a->body, b, take) < 0) {
        a->stop = NET_E_NOMEM;
        return 0;
    }
    return n;
}

static int set_method(CURL *e, const net_request *rq)
{
    const char *m = rq->method ? rq->method : (rq->body ? "POST" : "GET");
    for (const char *c = m; *c; c++)
        if (!isupper((unsigned char)*c))
            return NET_E_INVAL;
    if (!*m)
        return NET_E_INVAL;
    if (!strcmp(m, "HEAD"))
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0 : NET_E_INVAL;
    if (!strcmp(m, "GET") && !rq->body)
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : NET_E_INVAL;
    if (rq->body || !strcmp(m, "POST")) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
    }
    if (strcmp(m, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    return 0;
}

/* One transfer on the thread's handles. Returns the CURLcode; *a says more. */
static CURLcode attempt_run(net_tls *t, attempt *a, struct curl_slist *hdrs, char *errbuf)
{
    CURL *e = t->easy;
    const net_request *rq = a->rq;
    curl_easy_reset(e);
    errbuf[0] = '\0';
    double left = a->deadline > 0 ? a->deadline - now_ms() : 0;
    long connect_ms = (long)a->o->connect_ms;
    if (a->deadline > 0 && left < connect_ms)
        connect_ms = left < 1 ? 1 : (long)left;
    curl_easy_setopt(e, CURLOPT_SHARE, g_share);
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rq->follow_redirects) {
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "venom/" VENOM_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, a);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    if (set_method(e, rq) < 0)
        return CURLE_BAD_FUNCTION_ARGUMENT;

    a->t_start = a->t_last = now_ms();
    if (curl_multi_add_handle(t->multi, e) != CURLM_OK)
        return CURLE_OUT_OF_MEMORY;
    int running = 1;
    CURLcode res = CURLE_OK;
    for (;;) {
        CURLMcode mc = curl_multi_perform(t->multi, &running);
        if (mc != CURLM_OK) {
            res = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_RECV_ERROR;
            break;
        }
        if (!running) {
            int q;
            CURLMsg *msg;
            while ((msg = curl_multi_info_read(t->multi, &q)))
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == e)
                    res = msg->data.result;
            break;
        }
        if (attempt_check(a)) {
            res = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (curl_multi_poll(t->multi, NULL, 0, NET_TICK_MS, NULL) != CURLM_OK) {
            res = CURLE_RECV_ERROR;
            break;
        }
    }
    curl_multi_remove_handle(t->multi, e);
    if (res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CACERT_BADFILE || res == CURLE_SSL_CERTPROBLEM ||
        res == CURLE_SSL_ISSUER_ERROR)
        a->cert_error = true;
    return res;
}

/* What the attempt came to, as a NET_E_* code (0 for a clean 2xx). */
static int attempt_outcome(attempt *a, CURLcode res)
{
    if (a->stop)
        return a->stop;
    if (res == CURLE_OK) {
        if (!is_2xx(a->status))
            return NET_E_STATUS;
        if (a->rq->kind == NET_BODY_WHOLE || (a->rq->method && !strcmp(a->rq->method, "HEAD")))
            return 0;
        if (!a->parser && !(a->parser = sse_new(a->rq->kind, a->o->max_body)))
            return NET_E_NOMEM;
        int rc = sse_finish(a->parser, a->rq->on_event, a->rq->user, &a->cb_rc);
        a->events = sse_events(a->parser);
        return rc;
    }
    switch (res) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT: return NET_E_INVAL;
    case CURLE_OUT_OF_MEMORY: return NET_E_NOMEM;
    case CURLE_FILESIZE_EXCEEDED: return NET_E_TOOBIG;
    case CURLE_OPERATION_TIMEDOUT:
        if (a->deadline > 0 && now_ms() >= a->deadline - 5) {
            a->why = WHY_TOTAL; /* the connect timeout was cut to what total_ms left */
            return NET_E_TIMEOUT;
        }
        if (!a->status_seen) {
            a->why = WHY_CONNECT;
            return NET_E_TIMEOUT;
        }
        a->why = WHY_IDLE;
        return NET_E_TIMEOUT;
    default:
        /* the connection broke: after a 2xx's headers that is a cut body */
        if (a->status_seen && is_2xx(a->status))
            return NET_E_CUT;
        if (a->status_seen && a->status >= 300)
            return NET_E_STATUS;
        return NET_E_CONNECT;
    }
}

/* ------------------------------------------------------------ messages */

/* Replace every occurrence of the request's header values (and of their
 * last word: the key of "Bearer <key>") in msg with "[redacted]". */
static char *redact(char *msg, const net_request *rq)
{
    for (size_t i = 0; msg && i < rq->n_headers; i++) {
        const char *v = rq->headers[i].value;
        if (!v)
            continue;
        const char *word = strrchr(v, ' ');
        const char *cands[2] = {v, word ? word + 1 : NULL};
        for (size_t c = 0; c < 2; c++) {
            const char *s = cands[c];
            size_t sl = s ? strlen(s) : 0;
            if (sl < 6)
                continue;
            char *hit;
            while (msg && (hit = strstr(msg, s))) {
                char *m = mem_printf("%.*s[redacted]%s", (int)(hit - msg), msg, hit + sl);
                mem_free(msg);
                msg = m;
            }
        }
    }
    return msg;
}

typedef struct target {
    char host[256];
    char port[8];
} target;

static int parse_target(const char *url, target *tg, char **err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = 0;
    size_t shown = strcspn(url, "?#"); /* never show a query: it may hold a key */
    if (!u) {
        rc = NET_E_NOMEM;
        goto out;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        rc = err_set(err, NET_E_INVAL, "bad URL '%.*s': %s (check base_url)", (int)(shown > 200 ? 200 : shown), url,
                     curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        rc = err_set(err, NET_E_INVAL, "bad URL '%.*s': only http:// and https:// are supported (check base_url)",
                     (int)(shown > 200 ? 200 : shown), url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        rc = err_set(err, NET_E_INVAL, "bad URL '%.*s': no host (check base_url)", (int)(shown > 200 ? 200 : shown),
                     url);
        goto out;
    }
    snprintf(tg->host, sizeof tg->host, "%s", host);
    snprintf(tg->port, sizeof tg->port, "%s", port);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static char *final_message(int rc, const attempt *a, const net_opts *o, const target *tg, const char *errbuf,
                           unsigned attempts, const char *giveup)
{
    char tries[64] = "";
    if (attempts > 1)
        snprintf(tries, sizeof tries, ", gave up after %u attempts", attempts);
    char *extra = giveup ? mem_printf("; %s", giveup) : mem_strdup("");
    char *m = NULL;
    switch (rc) {
    case NET_E_STATUS: {
        char *sm = net_error_message(a->body.data, a->body.len);
        long s = a->status;
        if (s == 401 || s == 403)
            m = mem_printf("HTTP %ld from %s: the API key was refused (check the variable named by api_key_env): %s%s",
                           s, tg->host, sm ? sm : "", extra);
        else if (s == 404)
            m = mem_printf("HTTP 404 from %s: not found: unknown model or wrong base URL (check model and base_url): %s%s",
                           tg->host, sm ? sm : "", extra);
        else if (s == 429 && a->body.data && strstr(a->body.data, "insufficient_quota"))
            m = mem_printf("HTTP 429 from %s: the account's quota is used up (insufficient_quota), not retried; check "
                           "the plan and billing: %s%s", tg->host, sm ? sm : "", extra);
        else if (s == 429)
            m = mem_printf("HTTP 429 from %s: rate limited%s: %s%s", tg->host,
                           attempts > 1 ? tries : ", not retried", sm ? sm : "", extra);
        else if (s >= 500)
            m = mem_printf("HTTP %ld from %s: server error%s: %s%s", s, tg->host, tries, sm ? sm : "", extra);
        else
            m = mem_printf("HTTP %ld from %s: %s%s%s", s, tg->host, sm ? sm : "", tries, extra);
        mem_free(sm);
        break;
    }
    case NET_E_CONNECT:
        if (a->cert_error)
            m = mem_printf("cannot connect to %s:%s: the TLS certificate was not accepted: %s", tg->host, tg->port,
                           *errbuf ? errbuf : "verification failed");
        else
            m = mem_printf("cannot connect to %s:%s: %s (is the server running? check base_url)%s%s", tg->host,
                           tg->port, *errbuf ? errbuf : "connection failed", tries, extra);
        break;
    case NET_E_TIMEOUT:
        if (a->why == WHY_FIRST_BYTE)
            m = mem_printf("no response from %s:%s within first_byte_ms (%u ms)%s%s", tg->host, tg->port,
                           o->first_byte_ms, tries, extra);
        else if (a->why == WHY_IDLE)
            m = mem_printf("%s:%s stalled: no data for idle_ms (%u ms)%s%s", tg->host, tg->port, o->idle_ms, tries,
                           extra);
        else if (a->why == WHY_CONNECT)
            m = mem_printf("cannot connect to %s:%s within connect_ms (%u ms) (is the server reachable? check "
                           "base_url)%s%s", tg->host, tg->port, o->connect_ms, tries, extra);
        else
            m = mem_printf("the request to %s:%s took longer than total_ms (%u ms)%s", tg->host, tg->port,
                           o->total_ms, tries);
        break;
    case NET_E_CUT:
        m = mem_printf("the response from %s:%s was cut off mid-%s after %zu %s (the connection broke or the "
                       "server stopped early)%s", tg->host, tg->port,
                       a->rq->kind == NET_BODY_WHOLE ? "body" : "event", a->events,
                       a->events == 1 ? "event" : "events", tries);
        break;
    case NET_E_CANCELLED: m = mem_printf("the request to %s:%s was cancelled", tg->host, tg->port); break;
    case NET_E_CALLBACK:
        m = mem_printf("the request to %s:%s was stopped by its event consumer (code %d)", tg->host, tg->port,
                       a->cb_rc);
        break;
    case NET_E_TOOBIG:
        m = mem_printf("the response from %s:%s is larger than max_body (%zu bytes)", tg->host, tg->port,
                       o->max_body);
        break;
    case NET_E_INVAL:
        m = mem_printf("the request to %s:%s is not valid: %s", tg->host, tg->port,
                       *errbuf ? errbuf : "bad method, header or URL");
        break;
    default: m = mem_printf("out of memory during the request to %s:%s", tg->host, tg->port); break;
    }
    mem_free(extra);
    return m;
}

/* ------------------------------------------------------------ perform */

static int build_headers(const net_request *rq, struct curl_slist **out, char **err)
{
    struct curl_slist *l = NULL, *n;
    for (size_t i = 0; i < rq->n_headers; i++) {
        const char *k = rq->headers[i].name, *v = rq->headers[i].value ? rq->headers[i].value : "";
        if (!k || !*k || strpbrk(k, ":\r\n \t") || strpbrk(v, "\r\n")) {
            curl_slist_free_all(l);
            return err_set(err, NET_E_INVAL, "request header %zu ('%s') has an empty name, or a colon, space or line "
                           "break in its name or a line break in its value", i + 1,
                           jsonx_clipped(k ? k : "").s);
        }
        char *line = *v ? mem_printf("%s: %s", k, v) : mem_printf("%s;", k);
        n = line ? curl_slist_append(l, line) : NULL;
        mem_free(line);
        if (!n) {
            curl_slist_free_all(l);
            return NET_E_NOMEM;
        }
        l = n;
    }
    if (!(n = curl_slist_append(l, "Expect:"))) { /* no 100-continue round trip */
        curl_slist_free_all(l);
        return NET_E_NOMEM;
    }
    *out = n;
    return 0;
}

int net_perform(const net_request *rq, net_response *rs, char **err)
{
    int rc;
    struct curl_slist *hdrs = NULL;
    net_tls *t = NULL;
    bool own = false;
    attempt a = {0};
    target tg = {0};
    char errbuf[CURL_ERROR_SIZE];
    char *giveup = NULL;
    errbuf[0] = '\0';
    if (!rs)
        return err_set(err, NET_E_INVAL, "net_perform: no response");
    memset(rs, 0, sizeof *rs);
    if (!rq || !rq->url)
        return err_set(err, NET_E_INVAL, "net_perform: no request or URL");
    if (rq->kind != NET_BODY_WHOLE && rq->kind != NET_BODY_SSE && rq->kind != NET_BODY_NDJSON)
        return err_set(err, NET_E_INVAL, "net_perform: unknown body kind %d", (int)rq->kind);
    if (rq->kind != NET_BODY_WHOLE && !rq->on_event)
        return err_set(err, NET_E_INVAL, "net_perform: a streamed body needs an on_event callback");
    net_opts o = net_opts_default(&rq->opts);
    double t0 = now_ms();
    if (curl_dl_load(err) < 0)
        return NET_E_CONNECT;
    if ((rc = parse_target(rq->url, &tg, err)) < 0)
        return rc;
    if ((rc = net_init()) < 0)
        return err_set(err, rc, "cannot start libcurl (curl_global_init failed)");
    if ((rc = build_headers(rq, &hdrs, err)) < 0)
        goto out;
    if (!(t = tls_get(&own))) {
        rc = NET_E_NOMEM;
        goto out;
    }
    t->busy = true;

    double deadline = o.total_ms ? t0 + o.total_ms : 0;
    for (unsigned n = 1;; n++) {
        attempt_release(&a);
        a.rq = rq;
        a.o = &o;
        a.deadline = deadline;
        rs->attempts = n;
        if (cancelled(rq)) {
            rc = a.stop = NET_E_CANCELLED;
            break;
        }
        CURLcode res = attempt_run(t, &a, hdrs, errbuf);
        rc = attempt_outcome(&a, res);
        rs->events += a.events;
        if (rc == 0 || a.events > 0 || n > o.retries)
            break;

        /* retry? */
        bool retry = false;
        long server = -1;
        if (rc == NET_E_CONNECT)
            retry = !a.cert_error;
        else if (rc == NET_E_TIMEOUT)
            retry = a.why != WHY_TOTAL;
        else if (rc == NET_E_CUT)
            retry = true;
        else if (rc == NET_E_STATUS) {
            retry = net_status_retryable(a.status) &&
                    !(a.status == 429 && a.body.data && strstr(a.body.data, "insufficient_quota"));
            const char *xsr = attempt_header(&a, "x-should-retry");
            if (xsr && !strcasecmp(xsr, "true"))
                retry = true;
            else if (xsr && !strcasecmp(xsr, "false"))
                retry = false;
            struct timespec rt;
            clock_gettime(CLOCK_REALTIME, &rt);
            server = net_retry_after_ms(attempt_header(&a, "retry-after-ms"), attempt_header(&a, "retry-after"),
                                        (double)rt.tv_sec + (double)rt.tv_nsec / 1e9);
        }
        if (!retry)
            break;
        double delay;
        if (server >= 0) {
            if (server > (long)o.max_wait_ms) {
                giveup = mem_printf("the server asked to wait %.1f s before retrying, longer than max_wait_ms (%u ms)",
                                    (double)server / 1000, o.max_wait_ms);
                break;
            }
            delay = (double)server;
        } else {
            delay = net_backoff_ms(&o, n, rand01());
        }
        if (deadline > 0 && now_ms() + delay >= deadline) {
            giveup = mem_printf("no time left for another attempt within total_ms (%u ms)", o.total_ms);
            break;
        }
        if (!nap(rq, delay)) {
            rc = a.stop = NET_E_CANCELLED;
            break;
        }
    }

    if (rc < 0 && err) {
        char *m = final_message(rc, &a, &o, &tg, errbuf, rs->attempts, giveup);
        mem_free(*err);
        *err = redact(m, rq);
    }
    /* the final attempt's response goes to the caller */
    rs->status = a.status_seen ? a.status : 0;
    rs->header_names = a.names;
    rs->header_values = a.values;
    rs->n_headers = a.n_headers;
    a.names = a.values = NULL;
    a.n_headers = a.cap_headers = 0;
    if (a.body.data && (rq->kind == NET_BODY_WHOLE || !is_2xx(a.status))) {
        rs->body_len = a.body.len;
        rs->body = buf_detach(&a.body);
    }
    rs->first_byte_ms = a.t_first > 0 ? a.t_first - a.t_start : 0;
    rs->callback_rc = rc == NET_E_CALLBACK ? a.cb_rc : 0;
out:
    rs->total_ms = now_ms() - t0;
    mem_free(giveup);
    attempt_release(&a);
    if (t) {
        t->busy = false;
        if (own)
            tls_free(t);
    }
    curl_slist_free_all(hdrs);
    if (rc == NET_E_NOMEM && err && !*err)
        err_set(err, rc, "out of memory");
    return rc;
}
