/*
 * fuzz_provider.h — the harness shared by the provider fuzz targets
 * (fuzz_provider_openai.c, _anthropic.c, _gemini.c, _ollama.c). Each target
 * includes its plugin's wire.c and plugins/common/provider_util.c, defines
 * PF_BODY_KIND and the pf_* adapters declared below, then this file, which
 * defines LLVMFuzzerTestOneInput.
 *
 * Input: byte 0 picks the mode (low 3 bits) and a variant (high 5 bits);
 * the rest is the payload.
 *   0 wire     the payload is the raw HTTP body (SSE or NDJSON): core's
 *              incremental parser (core/net/sse.c) splits it into events
 *              for the state machine's feed, then finish — as the host does.
 *              Run twice, in one piece and in pieces of 1..16 bytes (lengths
 *              from the payload): the same events, so the same deltas, the
 *              same result code and message and the same response bytes.
 *   1 lines    one event per '\n'-separated line; "@name data" names it.
 *   2 lengths  one event per [1-byte length][bytes] record (so data can hold
 *              newlines and NULs).
 *   3 body     the payload is a whole non-streaming body.
 *   4 error    the payload is an error body (pu_error_message and the
 *              plugin's own error-body reader).
 *   5 request  the payload is parsed as JSON; an object is used as a
 *              canonical chat request (variant: which configuration; odd
 *              variants also as an embeddings request) and turned into the
 *              http_stream request.
 *   6 results  the payload is parsed as JSON and read as an embeddings reply
 *              or a model list (variant picks).
 *   7 config   the payload is a provider configuration.
 * Checked beyond no crash / leak / UB: a failure has a message and returns
 * no response; a response is an object with "message" (object with string
 * "content"), a "finish" of the canonical set, a well-formed usage, and
 * tool calls each with a string id and name and exactly one of arguments
 * (object) / arguments_raw (string, with arguments_error), finish
 * "tool_calls" whenever there are calls; every delta is an object with a
 * string "type"; everything serialises; an http request has a method, a URL
 * without the key, string headers, a JSON-object body and a stream mode.
 */
#ifndef VENOM_TESTS_FUZZ_PROVIDER_H
#define VENOM_TESTS_FUZZ_PROVIDER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The API key the configurations use: never in a message or a URL. */
#define PF_KEY_ENV "VENOM_FUZZ_PROVIDER_KEY"
#define PF_KEY "sk-fuzz-Zq8UxK3vWm"

/* ---------------------------------------------------- the target's part */

/* A fresh stream state (NULL: out of memory) and its release. */
static void *pf_stream_new(void);
static void pf_stream_free(void *st);
static int pf_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err);
static int pf_finish(void *st, json_t **response, char **err);
/* A whole body through a fresh state. */
static int pf_body(const char *body, size_t len, json_t **response, char **err);
/* The plugin's own error-body reader (NULL when it has none). */
static char *pf_error_message(const char *body, size_t len);
/* Build the chat request under configuration number variant. */
static int pf_request(unsigned variant, const json_t *req, json_t **http, char **err);
/* Build an embeddings request (VENOM_E_UNSUPPORTED when there is none). */
static int pf_embed_request(unsigned variant, const json_t *req, json_t **http, char **err);
/* Read a parsed embeddings reply or model list (variant picks). */
static int pf_results(unsigned variant, const json_t *body, json_t **out, char **err);
/* Parse and release a configuration. */
static int pf_config(const char *text, char **err);

/* ---------------------------------------------------- checks */

#define PF_CHECK(c)                                                                                                  \
    do {                                                                                                             \
        if (!(c)) {                                                                                                  \
            fprintf(stderr, "fuzz_provider: check failed at line %d: %s\n", __LINE__, #c);                           \
            __builtin_trap();                                                                                        \
        }                                                                                                            \
    } while (0)

static const uint8_t *pf_in; /* the whole input, to tell the key from echoed input */
static size_t pf_in_len;

static bool pf_input_has(const char *s)
{
    return memmem(pf_in, pf_in_len, s, strlen(s)) != NULL;
}

/* A result code with its message: a failure has a message (or is out of
 * memory), the key never shows. */
static void pf_check_outcome(int rc, const char *err)
{
    PF_CHECK(rc <= 0);
    if (rc == 0)
        return;
    PF_CHECK(rc == VENOM_E_NET || rc == VENOM_E_INVAL || rc == VENOM_E_NOMEM || rc == VENOM_E_PERM ||
             rc == VENOM_E_UNSUPPORTED);
    PF_CHECK(rc == VENOM_E_NOMEM || (err && *err));
    if (err && !pf_input_has(PF_KEY))
        PF_CHECK(!strstr(err, PF_KEY));
}

static bool pf_is_count(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static void pf_check_response(const json_t *r)
{
    PF_CHECK(json_is_object(r));
    const json_t *msg = json_object_get(r, "message");
    PF_CHECK(json_is_object(msg));
    PF_CHECK(json_is_string(json_object_get(msg, "content")));
    const char *finish = json_string_value(json_object_get(r, "finish"));
    PF_CHECK(finish);
    PF_CHECK(!strcmp(finish, "stop") || !strcmp(finish, "tool_calls") || !strcmp(finish, "length") ||
             !strcmp(finish, "content_filter") || !strcmp(finish, "other"));
    const json_t *model = json_object_get(r, "model");
    PF_CHECK(!model || json_is_string(model));
    const json_t *id = json_object_get(r, "id");
    PF_CHECK(!id || json_is_string(id));
    const json_t *u = json_object_get(r, "usage");
    PF_CHECK(json_is_object(u));
    PF_CHECK(pf_is_count(json_object_get(u, "input_tokens")));
    PF_CHECK(pf_is_count(json_object_get(u, "cached_input_tokens")));
    PF_CHECK(pf_is_count(json_object_get(u, "cache_write_tokens")));
    PF_CHECK(pf_is_count(json_object_get(u, "output_tokens")));
    PF_CHECK(json_is_boolean(json_object_get(u, "missing")));
    const json_t *calls = json_object_get(msg, "tool_calls");
    if (calls) {
        PF_CHECK(json_is_array(calls) && json_array_size(calls) > 0);
        PF_CHECK(!strcmp(finish, "tool_calls"));
        size_t i;
        const json_t *c;
        json_array_foreach(calls, i, c)
        {
            PF_CHECK(json_is_object(c));
            const char *cid = json_string_value(json_object_get(c, "id"));
            PF_CHECK(cid && *cid);
            PF_CHECK(json_is_string(json_object_get(c, "name")));
            const json_t *args = json_object_get(c, "arguments"), *raw = json_object_get(c, "arguments_raw");
            PF_CHECK((args != NULL) != (raw != NULL));
            PF_CHECK(!args || json_is_object(args));
            PF_CHECK(!raw || (json_is_string(raw) && json_is_string(json_object_get(c, "arguments_error"))));
        }
    }
    char *text = json_dumps(r, JSON_COMPACT);
    PF_CHECK(text);
    free(text);
}

static void pf_check_deltas(const json_t *deltas)
{
    size_t i;
    const json_t *d;
    json_array_foreach(deltas, i, d)
    {
        PF_CHECK(json_is_object(d));
        const char *type = json_string_value(json_object_get(d, "type"));
        PF_CHECK(type);
        if (!strcmp(type, "text") || !strcmp(type, "tool_args"))
            PF_CHECK(json_is_string(json_object_get(d, "text")));
    }
}

static void pf_check_http(const json_t *http)
{
    PF_CHECK(json_is_object(http));
    const char *method = json_string_value(json_object_get(http, "method"));
    PF_CHECK(method && (!strcmp(method, "POST") || !strcmp(method, "GET")));
    const char *url = json_string_value(json_object_get(http, "url"));
    PF_CHECK(url && (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)));
    if (!pf_input_has(PF_KEY))
        PF_CHECK(!strstr(url, PF_KEY));
    for (const char *c = url; *c; c++) /* request text reaches URLs only escaped or checked */
        PF_CHECK((unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f && *c != '#');
    const json_t *headers = json_object_get(http, "headers");
    PF_CHECK(!headers || json_is_object(headers));
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)headers, k, v)
    {
        PF_CHECK(json_is_string(v));
        PF_CHECK(!strpbrk(k, "\r\n:") && !strpbrk(json_string_value(v), "\r\n"));
    }
    const json_t *body = json_object_get(http, "body");
    if (body && !json_is_null(body)) {
        PF_CHECK(json_is_string(body));
        json_t *b = json_loads(json_string_value(body), 0, NULL);
        PF_CHECK(json_is_object(b));
        json_decref(b);
    } else {
        PF_CHECK(!strcmp(method, "GET"));
    }
    const char *stream = json_string_value(json_object_get(http, "stream"));
    PF_CHECK(stream && (!strcmp(stream, "sse") || !strcmp(stream, "ndjson") || !strcmp(stream, "none")));
    char *text = json_dumps(http, JSON_COMPACT);
    PF_CHECK(text);
    free(text);
}

/* ---------------------------------------------------- streams */

/* A NUL-terminated copy, as the host's bodies are. */
static char *pf_copy(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    PF_CHECK(c);
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}


/* What one run of a stream produced, serialised for comparison. */
typedef struct pf_run {
    void *st;
    int rc;       /* the state machine's first failure, else finish's */
    char *err;
    int net;      /* the SSE/NDJSON parser's code */
    size_t events;
    char *log;    /* deltas, then the response */
    size_t len, cap;
} pf_run;

static void pf_log(pf_run *r, const json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    PF_CHECK(t);
    size_t n = strlen(t) + 1;
    if (r->len + n > r->cap) {
        size_t cap = (r->len + n) * 2;
        char *p = realloc(r->log, cap);
        PF_CHECK(p);
        r->log = p;
        r->cap = cap;
    }
    memcpy(r->log + r->len, t, n); /* NUL-separated */
    r->len += n;
    free(t);
}

/* Feed one event; false when the run has failed (the host stops there). */
static bool pf_event(pf_run *r, const char *event, const char *data, size_t len)
{
    json_t *deltas = json_array();
    PF_CHECK(deltas);
    r->events++;
    int rc = pf_feed(r->st, event ? event : "", data, len, deltas, &r->err);
    pf_check_outcome(rc, r->err);
    if (rc == 0) {
        PF_CHECK(!r->err);
        pf_check_deltas(deltas);
        size_t i;
        const json_t *d;
        json_array_foreach(deltas, i, d)
            pf_log(r, d);
    }
    json_decref(deltas);
    r->rc = rc;
    return rc == 0;
}

static int pf_on_event(void *user, const char *event, const char *data, size_t len)
{
    return pf_event(user, event, data, len) ? 0 : -1;
}

static void pf_end(pf_run *r)
{
    if (r->rc != 0 || r->net != 0)
        return;
    json_t *resp = NULL;
    r->rc = pf_finish(r->st, &resp, &r->err);
    pf_check_outcome(r->rc, r->err);
    if (r->rc == 0) {
        PF_CHECK(!r->err);
        pf_check_response(resp);
        pf_log(r, resp);
    } else {
        PF_CHECK(!resp);
    }
    json_decref(resp);
}

static void pf_run_begin(pf_run *r)
{
    memset(r, 0, sizeof *r);
    r->st = pf_stream_new();
    PF_CHECK(r->st);
}

static void pf_run_release(pf_run *r)
{
    pf_stream_free(r->st);
    free(r->err);
    free(r->log);
}

/* The raw body through core's parser; steps NULL: in one piece. */
static void pf_wire(pf_run *r, const char *body, size_t n, const uint8_t *steps)
{
    pf_run_begin(r);
    sse_parser *p = sse_new(PF_BODY_KIND, (size_t)1 << 20);
    PF_CHECK(p);
    int cb = 0, rc = 0;
    size_t at = 0, k = 0;
    while (at < n && rc == 0) {
        size_t len = steps ? 1 + steps[k++ % n] % 16 : n;
        if (len > n - at)
            len = n - at;
        rc = sse_feed(p, body + at, len, pf_on_event, r, &cb);
        at += len;
    }
    if (rc == 0)
        rc = sse_finish(p, pf_on_event, r, &cb);
    sse_free(p);
    PF_CHECK(rc == 0 || rc == NET_E_CALLBACK || rc == NET_E_CUT || rc == NET_E_TOOBIG);
    PF_CHECK((rc == NET_E_CALLBACK) == (r->rc != 0));
    r->net = rc == NET_E_CALLBACK ? 0 : rc;
    pf_end(r);
}

static void pf_mode_wire(const char *body, size_t n)
{
    pf_run a, b;
    pf_wire(&a, body, n, NULL);
    pf_wire(&b, body, n, (const uint8_t *)body);
    PF_CHECK(a.rc == b.rc && a.net == b.net && a.events == b.events);
    PF_CHECK((a.err == NULL) == (b.err == NULL) && (!a.err || !strcmp(a.err, b.err)));
    PF_CHECK(a.len == b.len && (!a.len || !memcmp(a.log, b.log, a.len)));
    pf_run_release(&a);
    pf_run_release(&b);
}

/* Events one per line; "@name data" names the event. */
static void pf_mode_lines(const char *s, size_t n)
{
    pf_run r;
    pf_run_begin(&r);
    size_t at = 0;
    bool ok = true;
    while (ok && at <= n) {
        const char *nl = memchr(s + at, '\n', n - at);
        size_t end = nl ? (size_t)(nl - s) : n;
        const char *data = s + at;
        size_t len = end - at;
        char name[64] = "";
        if (len > 0 && data[0] == '@') {
            const char *sp = memchr(data, ' ', len);
            size_t nl_len = sp ? (size_t)(sp - data) - 1 : len - 1;
            if (nl_len >= sizeof name)
                nl_len = sizeof name - 1;
            memcpy(name, data + 1, nl_len);
            name[nl_len] = '\0';
            name[strcspn(name, "\r")] = '\0';
            size_t skip = sp ? (size_t)(sp - data) + 1 : len;
            data += skip;
            len -= skip;
        }
        /* data is NUL-terminated for the state machine, as the parser's is */
        char *copy = pf_copy(data, len);
        ok = pf_event(&r, name, copy, len);
        free(copy);
        if (!nl)
            break;
        at = end + 1;
    }
    pf_end(&r);
    pf_run_release(&r);
}

/* Events as [length][bytes] records. */
static void pf_mode_lengths(const uint8_t *s, size_t n)
{
    pf_run r;
    pf_run_begin(&r);
    size_t at = 0;
    while (at < n) {
        size_t len = s[at++];
        if (len > n - at)
            len = n - at;
        char *copy = pf_copy((const char *)s + at, len);
        bool ok = pf_event(&r, "", copy, len);
        free(copy);
        at += len;
        if (!ok)
            break;
    }
    pf_end(&r);
    pf_run_release(&r);
}

static void pf_mode_body(const char *s, size_t n)
{
    json_t *resp = NULL;
    char *err = NULL, *body = pf_copy(s, n);
    int rc = pf_body(body, n, &resp, &err);
    free(body);
    pf_check_outcome(rc, err);
    if (rc == 0) {
        PF_CHECK(!err);
        pf_check_response(resp);
    } else {
        PF_CHECK(!resp);
    }
    json_decref(resp);
    free(err);
}

static void pf_check_message(char *m)
{
    PF_CHECK(m);
    PF_CHECK(strlen(m) <= 4096);
    free(m);
}

static void pf_mode_error(const char *s, size_t n)
{
    char *body = pf_copy(s, n);
    pf_check_message(pu_error_message(body, n));
    char *m = pf_error_message(body, n);
    if (m)
        pf_check_message(m);
    free(body);
}

static void pf_mode_request(unsigned variant, const char *s, size_t n)
{
    json_t *req = json_loadb(s, n, 0, NULL);
    if (!json_is_object(req)) {
        json_decref(req);
        return;
    }
    for (int embed = 0; embed < 1 + (int)(variant & 1); embed++) {
        json_t *http = NULL;
        char *err = NULL;
        int rc = embed ? pf_embed_request(variant >> 1, req, &http, &err) : pf_request(variant >> 1, req, &http, &err);
        if (rc != VENOM_E_UNSUPPORTED || !embed) {
            pf_check_outcome(rc, err);
            if (rc == 0)
                pf_check_http(http);
            else
                PF_CHECK(!http);
        }
        json_decref(http);
        free(err);
    }
    json_decref(req);
}

static void pf_mode_results(unsigned variant, const char *s, size_t n)
{
    json_t *body = json_loadb(s, n, JSON_DECODE_ANY, NULL);
    if (!body)
        return;
    json_t *out = NULL;
    char *err = NULL;
    int rc = pf_results(variant, body, &out, &err);
    pf_check_outcome(rc, err);
    if (rc == 0) {
        PF_CHECK(json_is_object(out));
        char *t = json_dumps(out, JSON_COMPACT);
        PF_CHECK(t);
        free(t);
    } else {
        PF_CHECK(!out);
    }
    json_decref(out);
    free(err);
    json_decref(body);
}

static void pf_mode_config(const char *s, size_t n)
{
    char *text = pf_copy(s, n), *err = NULL;
    int rc = pf_config(text, &err);
    pf_check_outcome(rc, err);
    free(err);
    free(text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setenv(PF_KEY_ENV, PF_KEY, 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    pf_in = data;
    pf_in_len = size;
    unsigned mode = data[0] & 7, variant = data[0] >> 3;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (mode) {
    case 0: pf_mode_wire(s, n); break;
    case 1: pf_mode_lines(s, n); break;
    case 2: pf_mode_lengths(data + 1, n); break;
    case 3: pf_mode_body(s, n); break;
    case 4: pf_mode_error(s, n); break;
    case 5: pf_mode_request(variant, s, n); break;
    case 6: pf_mode_results(variant, s, n); break;
    default: pf_mode_config(s, n); break;
    }
    return 0;
}

#endif
