/*
 * modelsrv.h — venom-modelsrv, the scripted model server of the test suite.
 * It plays a conversation from a case file (case.c) over the real wire
 * formats of four model APIs (wire.c), after checking each request as
 * strictly as the real API would (check.c). modelsrv.c holds the HTTP side
 * (libmicrohttpd), the shared state and the log. docs/internals/modelsrv.md
 * describes the case file.
 *
 * A loaded case is immutable and shared by every connection thread; the
 * mutable state (next turn, issued tool-call ids) lives in modelsrv.c under
 * one mutex.
 */
#ifndef VENOM_MODELSRV_H
#define VENOM_MODELSRV_H

#include "util/common.h"
#include "util/buf.h"

#include <jansson.h>

typedef enum msrv_api {
    MSRV_OPENAI,
    MSRV_ANTHROPIC,
    MSRV_GEMINI,
    MSRV_OLLAMA,
} msrv_api;

/* "openai", "anthropic", "gemini" or "ollama". */
const char *msrv_api_name(msrv_api api);

/* One scripted tool call. Exactly one of args (an object) and args_raw. */
typedef struct msrv_call {
    char *id;       /* from the case, or made up at load time */
    bool id_given;  /* the case named the id (Gemini sends ids only then) */
    char *name;
    json_t *args;   /* owned */
    char *args_raw; /* exact (possibly invalid) JSON text */
} msrv_call;

typedef struct msrv_usage {
    long input;       /* uncached prompt tokens */
    long output;      /* completion tokens (incl. reasoning) */
    long cached;      /* cache reads */
    long cache_write; /* cache writes (Anthropic) */
    long reasoning;   /* part of output that was thinking */
} msrv_usage;

typedef struct msrv_turn {
    json_t *expect;        /* borrowed from the case document; may be NULL */
    /* reply */
    char *text;            /* "" when none */
    msrv_call *calls;
    size_t ncalls;
    msrv_usage usage;
    char *finish;          /* NULL: stop/tool_calls as usual; else "length" */
    char *thought_signature; /* Gemini: sent on the first functionCall part */
    /* fault */
    int fault_status;      /* 0: none */
    json_t *fault_headers; /* borrowed; object of strings, may be NULL */
    json_t *fault_body;    /* borrowed; may be NULL (default body) */
    long fault_times;
    /* timing and damage; -1 when unset */
    long stall_ms;
    long stall_after;
    long cut_after;
    long malformed_after;
    long error_after;
    size_t chunk;          /* bytes per streamed text/argument piece */
} msrv_turn;

typedef struct msrv_case {
    json_t *doc;           /* the whole case file */
    char *name;
    char *auth_header;     /* lower-case; NULL: no auth */
    char *auth_value;
    bool repeat;
    json_t *models;        /* borrowed: array of strings */
    msrv_turn *turns;
    size_t nturns;
} msrv_case;

/* Load and check a case file. 0, or -EINVAL/-ENOENT/-ENOMEM with *err
 * saying where the file is wrong. *out is mem_free'd by msrv_case_free. */
int msrv_case_load(const char *path, msrv_case **out, char **err) MUST_CHECK;
void msrv_case_free(msrv_case *c);

/* What the server knows about one parsed request. */
typedef struct msrv_req {
    msrv_api api;
    const char *path;
    json_t *headers;       /* lower-case names -> values, borrowed */
    json_t *body;          /* parsed body (object), borrowed */
    const char *raw;       /* raw body text */
    size_t raw_len;
    char *model;           /* from the body, or the Gemini URL */
    bool stream;
    bool include_usage;    /* OpenAI stream_options.include_usage */
    bool gemini_sse;       /* ?alt=sse */
    unsigned long n;       /* request number, for response ids */
} msrv_req;

/* A rejected request: the HTTP status and the message for the error body
 * and the log. param/code are OpenAI's error fields (may be NULL). */
typedef struct msrv_problem {
    int status;
    char *msg;
    const char *param_static;
    char *param;
    const char *code;
} msrv_problem;

void msrv_problem_release(msrv_problem *p);

/* The ids and thought signatures the server has issued so far. */
typedef struct msrv_issued {
    char **ids;
    size_t n, cap;
    bool want_signatures;  /* the case sends thought signatures */
} msrv_issued;

bool msrv_issued_has(const msrv_issued *is, const char *id);
int msrv_issued_add(msrv_issued *is, const char *id) MUST_CHECK;
void msrv_issued_release(msrv_issued *is);

/* check.c: the API's own request rules (required fields, roles, tool-call
 * pairing against issued ids). 0 when fine, else -1 with *p filled. */
int msrv_check_request(const msrv_req *rq, const msrv_issued *is, msrv_problem *p);
/* check.c: the turn's "expect" block. 0 or -1 with *p (status 400). */
int msrv_check_expect(const msrv_req *rq, const msrv_turn *t, msrv_problem *p);

/* A response body as a list of wire events (SSE events, NDJSON lines, or
 * one JSON document), concatenated in all with event i ending at ends[i]. */
typedef struct msrv_body {
    buf all;
    size_t *ends;
    size_t n, cap;
    const char *content_type; /* static */
} msrv_body;

void msrv_body_release(msrv_body *b);

/* wire.c: the turn's reply in rq's API and mode. 0 or -ENOMEM. */
int msrv_wire_reply(const msrv_req *rq, const msrv_turn *t, size_t turn_index, msrv_body *out) MUST_CHECK;
/* wire.c: an error body in the API's shape (message already one line). */
int msrv_wire_error(msrv_api api, int status, const char *msg, const char *param,
                    const char *code, const char *retry_delay, msrv_body *out) MUST_CHECK;
/* wire.c: the API's answer to a missing (missing) or wrong key; sets *status. */
int msrv_wire_auth_error(msrv_api api, bool missing, int *status, msrv_body *out) MUST_CHECK;
/* wire.c: the in-stream error event of the API (after a 200). */
int msrv_wire_stream_error(const msrv_req *rq, buf *out) MUST_CHECK;
/* wire.c: a non-JSON line in the API's framing. */
int msrv_wire_malformed(const msrv_req *rq, buf *out) MUST_CHECK;
/* wire.c: model lists and embeddings. */
int msrv_wire_models(msrv_api api, const json_t *models, msrv_body *out) MUST_CHECK;
int msrv_wire_embed(const msrv_req *rq, bool openai, msrv_body *out, msrv_problem *p) MUST_CHECK;

/* Append one event (bytes) to b. 0 or -ENOMEM. */
int msrv_body_add(msrv_body *b, const char *s, size_t n) MUST_CHECK;

#endif
