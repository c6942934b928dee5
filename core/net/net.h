/*
 * net.h — venom's HTTP client (libcurl): one share handle for DNS, connections
 * and TLS sessions across threads; connect / first-byte / idle / total
 * timeouts; retries with exponential backoff and full jitter on 408, 409, 429,
 * 500, 502, 503, 504, 529 and connection errors, honouring retry-after-ms,
 * Retry-After (seconds or HTTP date) and x-should-retry; incremental SSE and
 * NDJSON bodies (core/net/sse.h). Reference: docs/internals/net.md.
 *
 * Retries happen only while no body event has been delivered to the caller:
 * once a streamed answer has started, a cut is an error, never a retry that
 * would duplicate text. A body that ends mid-event is an error (NET_E_CUT).
 */
#ifndef VENOM_NET_NET_H
#define VENOM_NET_NET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Return codes of net_perform (besides 0). */
#define NET_E_CONNECT (-1)   /* connection error (DNS, refused, reset, TLS) after the retries */
#define NET_E_TIMEOUT (-2)   /* a timeout after the retries */
#define NET_E_STATUS (-3)    /* the final status is not 2xx (rs->status, rs->body) */
#define NET_E_CUT (-4)       /* the body ended mid-event or mid-line, or the connection broke mid-body */
#define NET_E_CANCELLED (-5) /* *cancel became non-zero */
#define NET_E_CALLBACK (-6)  /* on_event returned non-zero (rs->callback_rc holds it) */
#define NET_E_TOOBIG (-7)    /* a body or one event exceeded max_body */
#define NET_E_NOMEM (-8)
#define NET_E_INVAL (-9)     /* bad URL or request */

typedef enum net_body { NET_BODY_WHOLE = 0, NET_BODY_SSE = 1, NET_BODY_NDJSON = 2 } net_body;

/* One unit of a streamed body: an SSE event (event "" when absent) or an
 * NDJSON line (event ""). data is NUL-terminated, borrowed. Non-zero stops. */
typedef int (*net_event_fn)(void *user, const char *event, const char *data, size_t len);

/* total_ms = NET_NONE: no limit on the whole call. */
#define NET_NONE (~0u)

typedef struct net_opts {
    unsigned connect_ms;    /* TCP+TLS connect; default 10000 */
    unsigned first_byte_ms; /* start of an attempt -> first response byte; default 60000 */
    unsigned idle_ms;       /* longest gap between response bytes; default 60000 */
    unsigned total_ms;      /* whole call incl. retries; default 600000 (NET_NONE = none) */
    unsigned retries;       /* further attempts, taken as given (0 = none); the config default is 2 */
    unsigned backoff_ms;    /* first backoff; default 500, doubled per attempt */
    unsigned backoff_cap_ms;/* default 8000 */
    unsigned max_wait_ms;   /* longest server-given delay followed; default 60000 */
    size_t max_body;        /* largest whole body / single event; default 64 MiB */
} net_opts;

/* Defaults for every 0 field of o except retries (o may be NULL: all
 * defaults, retries 2); total_ms NET_NONE becomes 0 (no limit) in the result. */
net_opts net_opts_default(const net_opts *o);

typedef struct net_header {
    const char *name;
    const char *value;
} net_header;

typedef struct net_request {
    const char *method;        /* "GET", "POST"… */
    const char *url;           /* http:// or https:// */
    const net_header *headers; /* sent as given */
    size_t n_headers;
    const char *body;          /* may be NULL */
    size_t body_len;
    net_body kind;             /* how to read a 2xx body */
    net_event_fn on_event;     /* required for SSE / NDJSON */
    void *user;
    net_opts opts;             /* 0 fields take the defaults */
    atomic_int *cancel;        /* may be NULL */
    bool follow_redirects;     /* follow up to 5 redirects (http/https only) */
} net_request;

typedef struct net_response {
    long status;         /* final HTTP status, 0 if none */
    char *body;          /* NET_BODY_WHOLE: the body; any kind: the body of a non-2xx status. NUL-terminated, mem_alloc'd */
    size_t body_len;
    char **header_names; /* final response's headers, names lower-case, mem_alloc'd */
    char **header_values;
    size_t n_headers;
    unsigned attempts;   /* 1 + retries made */
    size_t events;       /* events delivered */
    double first_byte_ms;/* of the last attempt */
    double total_ms;
    int callback_rc;     /* what on_event returned when NET_E_CALLBACK */
} net_response;

/* Once per process before threads (curl_global_init, the share handle);
 * net_perform also calls it, so forgetting it is harmless in a program
 * whose other threads do not call libcurl. 0 or NET_E_NOMEM. Each thread
 * keeps its own handles (and their keep-alive connections) until it exits.
 * net_cleanup, at exit while no other thread is in net_perform, frees the
 * calling thread's handles and, when no other thread holds any, the share
 * handle and libcurl's globals. Both are idempotent. */
int net_init(void);
void net_cleanup(void);

/* Make the request with its retries. 0 on a 2xx whose body ended cleanly.
 * *err (mem_alloc'd, one line) says what happened and, for statuses, what to
 * fix: 401/403 "the API key was refused…", 404 "unknown model or wrong base
 * URL…", 400 with the server's own message, 429 after the retries. rs is
 * filled in every case; free it with net_response_free. Thread-safe. */
int net_perform(const net_request *rq, net_response *rs, char **err) __attribute__((warn_unused_result));
void net_response_free(net_response *rs);
/* Case-insensitive header lookup in a response; NULL if absent. */
const char *net_response_header(const net_response *rs, const char *name);

/* The error message a provider puts in an error body: error.message,
 * error (a string), message, or the body itself clipped; mem_alloc'd. */
char *net_error_message(const char *body, size_t len);

/* Parse a retry delay from header values (either may be NULL): retry-after-ms
 * first, then Retry-After as seconds (fractional) or an HTTP date relative to
 * now_epoch. -1 when neither gives one. Exposed for tests. */
long net_retry_after_ms(const char *retry_after_ms, const char *retry_after, double now_epoch);
/* Backoff before attempt n (1-based) with full jitter: uniform in
 * [0, min(cap, base*2^(n-1))]. r01 is a uniform random in [0,1). */
unsigned net_backoff_ms(const net_opts *o, unsigned n, double r01);
/* Whether a status is retried by default. */
bool net_status_retryable(long status);

/* A request given as JSON — {"method","url","headers":{name: value…},
 * "body"} and, when allowed, "stream" ("sse"|"ndjson"|"none", into
 * rq.kind) and "timeout_ms" (into rq.opts.total_ms) — parsed into j->rq
 * (method, url, headers, body, kind), borrowing from j until
 * net_jreq_release. Unknown keys and wrong types are errors that name the
 * key; `what` starts the message ("http_stream"). 0, NET_E_INVAL, NET_E_NOMEM. */
typedef struct net_jreq {
    net_request rq;
    void *doc;           /* internal: the parsed JSON */
    net_header *headers; /* internal */
} net_jreq;
int net_jreq_parse(net_jreq *j, const char *json, const char *what, bool allow_stream, bool allow_timeout,
                   char **err) __attribute__((warn_unused_result));
void net_jreq_release(net_jreq *j);
/* {"status":N,"headers":{lower-case name: value},"body":"…"} of rs (headers
 * met twice are joined with ", "; a body that is not UTF-8 goes in
 * "body_base64"); the body only when with_body. mem_alloc'd, NULL on OOM. */
char *net_response_json(const net_response *rs, bool with_body);

/* The host's broker (host_broker_fn of core/plugin/host.h, broker.c): serves
 * service "http", skills' brokered HTTP — request {"method","url",
 * "headers":{…},"body","timeout_ms"}, response {"status","headers":{…},
 * "body"} (or "body_base64" for a body that is not UTF-8 text), any HTTP
 * status being VENOM_OK; the body is capped at 16 MiB, redirects are not
 * followed, only idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS) are
 * retried, "timeout_ms" (default 60000) bounds the whole call. host_broker_serve has checked the host allowlist; it is checked
 * again here on libcurl's own reading of the URL. Other services:
 * VENOM_E_UNSUPPORTED. *response and *error are mem_alloc'd. Thread-safe. */
struct manifest;
int32_t net_broker(void *user, const char *service, const struct manifest *m, const char *request, char **response,
                   char **error);

#endif
