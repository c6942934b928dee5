/*
 * modelsrv.c — venom-modelsrv: the HTTP side of the scripted model server.
 *
 *   venom-modelsrv --case FILE [--log FILE] [--port-file FILE]
 *                  [--idle-exit SECONDS] [--port N] [--check]
 *
 * Binds 127.0.0.1 (a random port unless --port), prints "port N" as the
 * first line of stdout and serves until SIGTERM/SIGINT or until no request
 * came for --idle-exit seconds (default 30, 0 = never). One thread per
 * connection (libmicrohttpd), so a scripted stall holds only its own
 * connection; responses are written by a content-reader callback, one wire
 * event per call, so stalls, cuts and malformed lines are real on the wire.
 * docs/internals/modelsrv.md has the case format and the log format.
 */
#include "modelsrv.h"

#include "util/err.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BODY_LIMIT (64u << 20)

typedef struct server {
    msrv_case *cs;
    FILE *log;
    pthread_mutex_t mu;
    size_t turn;          /* the turn that answers the next good request */
    long faults_served;   /* of the current turn's fault */
    unsigned long n;      /* requests so far */
    msrv_issued issued;
} server;

static server S = {.mu = PTHREAD_MUTEX_INITIALIZER};
static volatile sig_atomic_t g_stop;
static atomic_long g_last_ms;
static atomic_int g_active;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms in small slices; -1 when the server is stopping. */
static int stall(long ms)
{
    long end = now_ms() + ms;
    while (!g_stop) {
        long left = end - now_ms();
        if (left <= 0)
            return 0;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (left < 10 ? left : 10) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* --- one response on the wire -------------------------------------------- */

typedef struct play {
    msrv_body body;
    buf malformed, error; /* the damage texts, when scripted */
    size_t next;          /* next event of body */
    const char *cur;
    size_t cur_len, cur_off;
    long stall_after, stall_ms, cut_after, malformed_after, error_after;
    bool stalled, malformed_done, cutting, ended;
} play;

static void play_free(void *cls)
{
    play *p = cls;
    if (!p)
        return;
    msrv_body_release(&p->body);
    buf_release(&p->malformed);
    buf_release(&p->error);
    mem_free(p);
}

static void set_cur(play *p, const char *s, size_t n)
{
    p->cur = s;
    p->cur_len = n;
    p->cur_off = 0;
}

static ssize_t play_read(void *cls, uint64_t pos, char *out, size_t max)
{
    play *p = cls;
    (void)pos;
    for (;;) {
        if (p->cur_off < p->cur_len) {
            size_t n = p->cur_len - p->cur_off < max ? p->cur_len - p->cur_off : max;
            memcpy(out, p->cur + p->cur_off, n);
            p->cur_off += n;
            return (ssize_t)n;
        }
        if (p->cutting || g_stop)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (p->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        long i = (long)p->next;
        if (i == p->stall_after && !p->stalled) {
            p->stalled = true;
            if (stall(p->stall_ms) < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (i == p->malformed_after && !p->malformed_done) {
            p->malformed_done = true;
            set_cur(p, p->malformed.data, p->malformed.len);
            continue;
        }
        if (i == p->error_after) {
            p->ended = true;
            set_cur(p, p->error.data, p->error.len);
            continue;
        }
        if (p->next >= p->body.n) {
            if (p->cut_after >= 0) /* cut after the last event: no clean end */
                return MHD_CONTENT_READER_END_WITH_ERROR;
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        size_t start = p->next ? p->body.ends[p->next - 1] : 0, len = p->body.ends[p->next] - start;
        if (i == p->cut_after) {
            p->cutting = true;
            set_cur(p, p->body.all.data + start, len / 2);
            continue;
        }
        set_cur(p, p->body.all.data + start, len);
        p->next++;
    }
}

/* --- requests ------------------------------------------------------------------ */

typedef struct request {
    buf body;
    bool too_big;
} request;

typedef enum endpoint { EP_CHAT, EP_EMBED, EP_MODELS, EP_VERSION, EP_UNKNOWN } endpoint;

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static endpoint route(struct MHD_Connection *c, const char *method, const char *url, msrv_req *rq, bool *gemini_stream)
{
    bool post = is(method, "POST"), get = is(method, "GET");
    bool anthropic = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "anthropic-version") != NULL;
    if (strncmp(url, "/api/", 5) == 0) {
        rq->api = MSRV_OLLAMA;
        return post && is(url, "/api/chat") ? EP_CHAT : post && is(url, "/api/embed") ? EP_EMBED
             : get && is(url, "/api/tags") ? EP_MODELS : get && is(url, "/api/version") ? EP_VERSION : EP_UNKNOWN;
    }
    const char *gm = NULL;
    if (strncmp(url, "/v1beta/models", 14) == 0)
        gm = url + 14;
    else if (strncmp(url, "/v1/models/", 11) == 0 && strchr(url, ':'))
        gm = url + 10;
    if (gm) {
        rq->api = MSRV_GEMINI;
        if (!*gm || is(gm, "/"))
            return get ? EP_MODELS : EP_UNKNOWN;
        const char *colon = strrchr(gm, ':');
        if (!post || !colon || colon == gm + 1)
            return EP_UNKNOWN;
        rq->model = mem_strndup(gm + 1, (size_t)(colon - gm - 1));
        if (is(colon, ":generateContent")) {
            *gemini_stream = false;
            return EP_CHAT;
        }
        if (is(colon, ":streamGenerateContent")) {
            *gemini_stream = true;
            return EP_CHAT;
        }
        return EP_UNKNOWN;
    }
    if (is(url, "/v1/messages")) {
        rq->api = MSRV_ANTHROPIC;
        return post ? EP_CHAT : EP_UNKNOWN;
    }
    rq->api = anthropic ? MSRV_ANTHROPIC : MSRV_OPENAI;
    if (get && (is(url, "/v1/models") || is(url, "/models")))
        return EP_MODELS;
    rq->api = MSRV_OPENAI;
    if (post && (is(url, "/v1/chat/completions") || is(url, "/chat/completions")))
        return EP_CHAT;
    if (post && (is(url, "/v1/embeddings") || is(url, "/embeddings")))
        return EP_EMBED;
    return EP_UNKNOWN;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    json_t *h = cls;
    char name[256];
    size_t i;
    (void)kind;
    for (i = 0; key[i] && i + 1 < sizeof name; i++)
        name[i] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] - 'A' + 'a') : key[i];
    name[i] = 0;
    json_t *v = json_string(value ? value : "");
    if (v)
        json_object_set_new(h, name, v);
    return MHD_YES;
}

/* Does the request carry the case's key? *missing when it has none at all. */
static bool auth_ok(struct MHD_Connection *c, const msrv_req *rq, bool *missing)
{
    const msrv_case *cs = S.cs;
    *missing = false;
    if (!cs->auth_header)
        return true;
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, cs->auth_header);
    if (!v && rq->api == MSRV_GEMINI && is(cs->auth_header, "x-goog-api-key"))
        v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
    if (!v) {
        *missing = true;
        return false;
    }
    return is(v, cs->auth_value);
}

static const char *fault_message(int status)
{
    switch (status) {
    case 429: return "Rate limit reached for requests (modelsrv fault)";
    case 500: return "The server had an error while processing your request (modelsrv fault)";
    case 502: return "Bad gateway (modelsrv fault)";
    case 503: return "The service is temporarily unavailable (modelsrv fault)";
    case 529: return "Overloaded";
    default: return "modelsrv fault";
    }
}

static void log_request(const msrv_req *rq, json_t *headers, json_t *body, long turn, int status, const char *outcome,
                        const char *problem)
{
    if (problem)
        fprintf(stderr, "venom-modelsrv: request %lu %s (%s): %d: %s\n", rq->n, rq->path, msrv_api_name(rq->api), status, problem);
    if (!S.log)
        return;
    json_t *j = json_pack("{sI so ss ss sO sO sI ss}", "n", (json_int_t)rq->n, "turn", turn >= 0 ? json_integer(turn) : json_null(),
                          "api", msrv_api_name(rq->api), "path", rq->path, "headers", headers, "body", body, "status",
                          (json_int_t)status, "outcome", outcome);
    if (j && problem)
        json_object_set_new(j, "problem", json_string(problem));
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s) {
        fputs(s, S.log);
        fputc('\n', S.log);
        fflush(S.log);
    }
    free(s);
    json_decref(j);
}

/* Fill the request's mode from its body (model, stream, usage option). */
static void read_mode(msrv_req *rq, bool gemini_stream, struct MHD_Connection *c)
{
    json_t *b = rq->body;
    json_t *st = json_object_get(b, "stream");
    switch (rq->api) {
    case MSRV_GEMINI: {
        const char *alt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "alt");
        rq->stream = gemini_stream;
        rq->gemini_sse = alt && is(alt, "sse");
        return;
    }
    case MSRV_OLLAMA: rq->stream = !json_is_false(st); break;
    case MSRV_OPENAI:
        rq->stream = json_is_true(st);
        rq->include_usage = json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage"));
        break;
    case MSRV_ANTHROPIC: rq->stream = json_is_true(st); break;
    }
    const char *m = json_string_value(json_object_get(b, "model"));
    if (m && !rq->model)
        rq->model = mem_strdup(m);
}

static enum MHD_Result handle(struct MHD_Connection *c, const char *url, const char *method, request *r)
{
    msrv_req rq = {.path = url};
    msrv_problem pb = {0};
    json_error_t je;
    bool gemini_stream = false, missing = false;
    int status = 200, rc = 0;
    long turn_index = -1, pre_stall = -1;
    const char *outcome = "reply";
    const msrv_turn *turn = NULL;
    char retry[32] = "";
    play *p = mem_calloc(1, sizeof *p);
    json_t *headers = json_object();
    if (!p || !headers) {
        mem_free(p);
        json_decref(headers);
        return MHD_NO;
    }
    p->stall_after = p->stall_ms = p->cut_after = p->malformed_after = p->error_after = -1;
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, headers);
    rq.headers = headers;
    endpoint ep = route(c, method, url, &rq, &gemini_stream);
    rq.raw = r->body.data;
    rq.raw_len = r->body.len;
    json_t *doc = r->body.len ? json_loadb(r->body.data, r->body.len, 0, &je) : NULL;
    json_t *logbody = doc ? json_incref(doc) : !r->body.len ? json_null() : json_stringn(r->body.data, r->body.len);
    if (!logbody)
        logbody = json_sprintf("<%zu bytes, not UTF-8>", r->body.len);
    rq.body = doc;

    pthread_mutex_lock(&S.mu);
    rq.n = ++S.n;
    if (!auth_ok(c, &rq, &missing)) {
        outcome = "auth";
        rc = msrv_wire_auth_error(rq.api, missing, &status, &p->body);
        pb.msg = mem_strdup(missing ? "no API key (the case wants one)" : "wrong API key");
    } else if (ep == EP_UNKNOWN) {
        outcome = "rejected";
        status = 404;
        pb.msg = mem_printf(rq.api == MSRV_OPENAI ? "Invalid URL (%s %s)" : rq.api == MSRV_ANTHROPIC ? "Not Found (%s %s)"
                                                                                                    : "Method not found (%s %s).",
                            method, url);
        rc = msrv_wire_error(rq.api, 404, pb.msg ? pb.msg : "not found", NULL, "unknown_url", NULL, &p->body);
    } else if (ep == EP_MODELS) {
        json_t *models = S.cs->models ? json_incref(S.cs->models) : json_pack("[s]", "modelsrv-test");
        outcome = "models";
        rc = models ? msrv_wire_models(rq.api, models, &p->body) : -ENOMEM;
        json_decref(models);
    } else if (ep == EP_VERSION) {
        outcome = "models";
        p->body.content_type = "application/json; charset=utf-8";
        rc = msrv_body_add(&p->body, "{\"version\":\"0.12.0\"}", 20);
    } else if (r->too_big) {
        outcome = "rejected";
        status = 413;
        pb.msg = mem_printf("request body over %u bytes", BODY_LIMIT);
        rc = msrv_wire_error(rq.api, 413, pb.msg ? pb.msg : "too large", NULL, NULL, NULL, &p->body);
    } else if (!json_is_object(doc)) {
        outcome = "rejected";
        status = 400;
        if (!r->body.len)
            pb.msg = mem_strdup(rq.api == MSRV_GEMINI ? "* GenerateContentRequest.contents: contents is not specified"
                                                      : "the request has no body (expected a JSON object)");
        else if (!doc)
            pb.msg = mem_printf(rq.api == MSRV_OPENAI ? "We could not parse the JSON body of your request. (HINT: This likely means you "
                                                        "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
                                                        "but what was sent was not valid JSON. %s at line %d column %d)"
                                : rq.api == MSRV_GEMINI ? "Invalid JSON payload received. %s at line %d column %d"
                                                        : "invalid JSON: %s at line %d column %d",
                                je.text, je.line, je.column);
        else
            pb.msg = mem_strdup(rq.api == MSRV_OLLAMA ? "json: cannot unmarshal the body into Go value of type api.ChatRequest"
                                                      : "the request body must be a JSON object");
        rc = msrv_wire_error(rq.api, 400, pb.msg ? pb.msg : "bad body", NULL, NULL, NULL, &p->body);
    } else if (ep == EP_EMBED) {
        outcome = "embed";
        if (msrv_wire_embed(&rq, rq.api == MSRV_OPENAI, &p->body, &pb) < 0) {
            outcome = "rejected";
            status = pb.status;
            msrv_body_release(&p->body);
            rc = msrv_wire_error(rq.api, status, pb.msg ? pb.msg : "bad request", NULL, NULL, NULL, &p->body);
        }
    } else {
        read_mode(&rq, gemini_stream, c);
        if (S.turn >= S.cs->nturns && S.cs->repeat)
            S.turn = 0;
        if (msrv_check_request(&rq, &S.issued, &pb) < 0) {
            outcome = "rejected";
            status = pb.status;
        } else if (S.turn >= S.cs->nturns) {
            outcome = "exhausted";
            status = 500;
            pb.msg = mem_printf("case exhausted: all %zu turns of case '%s' were played", S.cs->nturns, S.cs->name);
        } else {
            turn = &S.cs->turns[S.turn];
            turn_index = (long)S.turn;
            if (msrv_check_expect(&rq, turn, &pb) < 0) {
                outcome = "rejected";
                status = pb.status;
                turn = NULL;
            } else if (turn->fault_status && S.faults_served < turn->fault_times) {
                outcome = "fault";
                status = turn->fault_status;
                S.faults_served++;
            } else {
                S.turn++;
                S.faults_served = 0;
                for (size_t i = 0; i < turn->ncalls && rc == 0; i++)
                    rc = msrv_issued_add(&S.issued, turn->calls[i].id);
                if (rc == 0 && turn->thought_signature)
                    rc = msrv_issued_add(&S.issued, turn->thought_signature);
            }
        }
        if (status != 200 && pb.msg && !turn)
            rc = msrv_wire_error(rq.api, status, pb.msg, pb.param, pb.code, NULL, &p->body);
    }
    log_request(&rq, headers, logbody, turn_index, status, outcome, pb.msg);
    pthread_mutex_unlock(&S.mu);

    if (turn && rc == 0) {
        pre_stall = turn->stall_after < 0 ? turn->stall_ms : -1;
        if (status != 200) { /* the scripted fault */
            json_t *fb = turn->fault_body;
            json_t *ra = json_object_get(turn->fault_headers, "retry-after-ms");
            json_t *ra_s = json_object_get(turn->fault_headers, "retry-after");
            if (ra)
                snprintf(retry, sizeof retry, "%.3fs", strtod(json_string_value(ra), NULL) / 1000.0);
            else if (ra_s)
                snprintf(retry, sizeof retry, "%ss", json_string_value(ra_s));
            if (json_is_string(fb)) {
                p->body.content_type = "text/plain; charset=utf-8";
                rc = msrv_body_add(&p->body, json_string_value(fb), json_string_length(fb));
            } else if (fb) {
                char *s = json_dumps(fb, JSON_COMPACT | JSON_ENCODE_ANY);
                p->body.content_type = "application/json";
                rc = s ? msrv_body_add(&p->body, s, strlen(s)) : -ENOMEM;
                free(s);
            } else {
                rc = msrv_wire_error(rq.api, status, fault_message(status), NULL, NULL, *retry ? retry : NULL, &p->body);
            }
        } else {
            rc = msrv_wire_reply(&rq, turn, (size_t)turn_index, &p->body);
            if (rc == 0 && turn->malformed_after >= 0 && !rq.stream) {
                /* a whole body that is not JSON */
                msrv_body_release(&p->body);
                p->body.content_type = "application/json";
                rc = msrv_wire_malformed(&rq, &p->malformed);
                if (rc == 0)
                    rc = msrv_body_add(&p->body, p->malformed.data, p->malformed.len);
            } else if (rc == 0 && turn->malformed_after >= 0) {
                p->malformed_after = turn->malformed_after;
                rc = msrv_wire_malformed(&rq, &p->malformed);
            }
            if (rc == 0 && turn->error_after >= 0 && rq.stream) {
                p->error_after = turn->error_after;
                rc = msrv_wire_stream_error(&rq, &p->error);
            }
            p->cut_after = turn->cut_after;
            p->stall_after = turn->stall_after;
            p->stall_ms = turn->stall_ms;
        }
    }
    msrv_problem_release(&pb);
    json_decref(logbody);
    json_decref(doc);
    json_decref(headers);
    mem_free(rq.model);
    if (rc < 0) {
        play_free(p);
        return MHD_NO;
    }
    if (pre_stall >= 0 && stall(pre_stall) < 0) {
        play_free(p);
        return MHD_NO;
    }
    bool unknown_size = (rq.stream && status == 200 && ep == EP_CHAT);
    struct MHD_Response *resp = MHD_create_response_from_callback(unknown_size ? MHD_SIZE_UNKNOWN : p->body.all.len, 16 * 1024,
                                                                  play_read, p, play_free);
    if (!resp) {
        play_free(p);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, p->body.content_type ? p->body.content_type : "application/json");
    if (unknown_size)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    char rid[48];
    snprintf(rid, sizeof rid, "req_modelsrv%lu", rq.n);
    if (rq.api == MSRV_OPENAI)
        MHD_add_response_header(resp, "x-request-id", rid);
    else if (rq.api == MSRV_ANTHROPIC)
        MHD_add_response_header(resp, "request-id", rid);
    if (turn && status != 200) {
        const char *k;
        json_t *v;
        json_object_foreach(turn->fault_headers, k, v) MHD_add_response_header(resp, k, json_string_value(v));
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    request *r = *con_cls;
    (void)cls;
    (void)version;
    if (!r) {
        if (!(r = mem_calloc(1, sizeof *r)))
            return MHD_NO;
        buf_init(&r->body);
        *con_cls = r;
        atomic_fetch_add(&g_active, 1);
        atomic_store(&g_last_ms, now_ms());
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > BODY_LIMIT)
            r->too_big = true;
        else if (buf_append(&r->body, upload, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    return handle(c, url, method, r);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code)
{
    request *r = *con_cls;
    (void)cls;
    (void)c;
    (void)code;
    if (!r)
        return;
    buf_release(&r->body);
    mem_free(r);
    *con_cls = NULL;
    atomic_store(&g_last_ms, now_ms());
    atomic_fetch_sub(&g_active, 1);
}

/* --- main ---------------------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: venom-modelsrv --case FILE [--log FILE] [--port-file FILE] [--idle-exit SECONDS] [--port N] [--check]\n"
               "  Plays a scripted model conversation over the OpenAI, Anthropic, Gemini and Ollama wire formats\n"
               "  on 127.0.0.1; prints \"port N\" first. Case format: docs/internals/modelsrv.md\n");
}

static int parse_long(const char *opt, const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s ? s : "", &end, 10);
    if (!s || !*s || *end || errno || v < 0 || v > max) {
        fprintf(stderr, "venom-modelsrv: %s: expected a whole number from 0 to %ld, got '%s'\n", opt, max, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static int write_port_file(const char *path, unsigned port)
{
    char *tmp = mem_printf("%s.tmp%ld", path, (long)getpid());
    FILE *f = tmp ? fopen(tmp, "w") : NULL;
    int ok = f && fprintf(f, "%u\n", port) > 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "venom-modelsrv: --port-file %s: %s\n", path, strerror(errno));
    mem_free(tmp);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *case_path = NULL, *log_path = NULL, *port_file = NULL;
    long idle = 30, port = 0;
    bool check_only = false;
    char *err = NULL;
    int rc = 2;
    struct MHD_Daemon *d = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (is(a, "--help") || is(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (is(a, "--check")) {
            check_only = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "venom-modelsrv: %s: %s\n", a, a[0] == '-' ? "needs a value" : "unexpected argument");
            usage(stderr);
            return 2;
        }
        if (is(a, "--case"))
            case_path = v;
        else if (is(a, "--log"))
            log_path = v;
        else if (is(a, "--port-file"))
            port_file = v;
        else if (is(a, "--idle-exit")) {
            if (parse_long(a, v, 86400, &idle) < 0)
                return 2;
        } else if (is(a, "--port")) {
            if (parse_long(a, v, 65535, &port) < 0)
                return 2;
        } else {
            fprintf(stderr, "venom-modelsrv: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (!case_path) {
        fprintf(stderr, "venom-modelsrv: --case FILE is required\n");
        usage(stderr);
        return 2;
    }
    if (msrv_case_load(case_path, &S.cs, &err) < 0) {
        fprintf(stderr, "venom-modelsrv: %s\n", err ? err : "cannot load the case");
        mem_free(err);
        return 2;
    }
    if (check_only) {
        printf("case %s: %zu turn%s%s\n", S.cs->name, S.cs->nturns, S.cs->nturns == 1 ? "" : "s", S.cs->repeat ? ", repeating" : "");
        msrv_case_free(S.cs);
        return 0;
    }
    for (size_t i = 0; i < S.cs->nturns; i++)
        if (S.cs->turns[i].thought_signature)
            S.issued.want_signatures = true;
    size_t ii;
    json_t *iid;
    json_array_foreach(json_object_get(S.cs->doc, "issued"), ii, iid) if (msrv_issued_add(&S.issued,
                                                                                           json_string_value(iid)) < 0)
        goto out;
    if (log_path && !(S.log = fopen(log_path, "a"))) {
        fprintf(stderr, "venom-modelsrv: --log %s: %s\n", log_path, strerror(errno));
        goto out;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, NULL, NULL,
                         on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_done,
                         NULL, MHD_OPTION_CONNECTION_TIMEOUT, 300u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "venom-modelsrv: cannot listen on 127.0.0.1:%ld\n", port);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : (unsigned)port;
    printf("port %u\n", bound);
    fflush(stdout);
    if (port_file && write_port_file(port_file, bound) < 0)
        goto out;

    atomic_store(&g_last_ms, now_ms());
    while (!g_stop) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
        nanosleep(&ts, NULL);
        if (idle > 0 && atomic_load(&g_active) == 0 && now_ms() - atomic_load(&g_last_ms) > idle * 1000) {
            fprintf(stderr, "venom-modelsrv: no request for %ld s: exiting\n", idle);
            break;
        }
    }
    g_stop = 1;
    rc = 0;
out:
    if (d)
        MHD_stop_daemon(d);
    if (S.log)
        fclose(S.log);
    msrv_issued_release(&S.issued);
    msrv_case_free(S.cs);
    return rc;
}
