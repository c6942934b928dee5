/*
 * wire.c — venom-modelsrv's responses, byte for byte in each API's format
 * (/work/shared/reference/wire-formats.md sections 1-4): replies as one JSON
 * document or as a list of stream events, error bodies, model lists and
 * embeddings. Key order follows the real services.
 */
#include "modelsrv.h"

#include "util/jsonx.h"

#include <math.h>
#include <time.h>

void msrv_body_release(msrv_body *b)
{
    if (!b)
        return;
    buf_release(&b->all);
    mem_free(b->ends);
    *b = (msrv_body){0};
}

int msrv_body_add(msrv_body *b, const char *s, size_t n)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        size_t *e = mem_realloc(b->ends, cap * sizeof *e);
        if (!e)
            return -ENOMEM;
        b->ends = e;
        b->cap = cap;
    }
    if (buf_append(&b->all, s, n) < 0)
        return -ENOMEM;
    b->ends[b->n++] = b->all.len;
    return 0;
}

/* Add prefix + compact JSON of j + suffix as one event; takes j. */
static int add_json(msrv_body *b, const char *prefix, json_t *j, const char *suffix)
{
    if (!j)
        return -ENOMEM;
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(j);
    if (!s)
        return -ENOMEM;
    char *ev = mem_printf("%s%s%s", prefix, s, suffix);
    free(s);
    if (!ev)
        return -ENOMEM;
    int rc = msrv_body_add(b, ev, strlen(ev));
    mem_free(ev);
    return rc;
}

/* The length of the next piece of s[off..len): at most chunk bytes, never
 * inside a UTF-8 sequence, after a space when text is true and one is near. */
static size_t piece(const char *s, size_t len, size_t off, size_t chunk, bool text)
{
    size_t left = len - off;
    if (left <= chunk)
        return left;
    size_t n = jsonx_utf8_cut(s + off, left, chunk);
    if (n == 0) {
        n = jsonx_utf8_seq(s + off, left);
        return n ? n : 1;
    }
    if (text) {
        for (size_t i = n; i > n / 2; i--)
            if (s[off + i - 1] == ' ')
                return i;
    }
    return n;
}

static json_t *strn(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    return j ? j : json_string("\xef\xbf\xbd"); /* never reached for valid case text */
}

/* The arguments of a call as JSON text (caller frees with free()). */
static char *args_text(const msrv_call *c)
{
    if (c->args_raw)
        return strdup(c->args_raw);
    return json_dumps(c->args, JSON_COMPACT);
}

/* The arguments as a JSON value for the APIs that send objects: raw text
 * that is not an object travels as a string (the real APIs cannot send
 * invalid JSON here; a string where an object belongs is the nearest). */
static json_t *args_value(const msrv_call *c)
{
    if (!c->args_raw)
        return json_incref(c->args);
    json_t *v = json_loads(c->args_raw, JSON_DECODE_ANY, NULL);
    if (json_is_object(v))
        return v;
    json_decref(v);
    return json_string(c->args_raw);
}

static const char *now_rfc3339(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%09ldZ", ts.tv_nsec);
    return out;
}

/* --- OpenAI ----------------------------------------------------------------- */

static json_t *openai_usage(const msrv_usage *u)
{
    long prompt = u->input + u->cached + u->cache_write;
    return json_pack("{sI sI sI s{sI sI} s{sI sI sI sI}}", "prompt_tokens", (json_int_t)prompt, "completion_tokens",
                     (json_int_t)u->output, "total_tokens", (json_int_t)(prompt + u->output), "prompt_tokens_details",
                     "cached_tokens", (json_int_t)u->cached, "audio_tokens", (json_int_t)0, "completion_tokens_details",
                     "reasoning_tokens", (json_int_t)u->reasoning, "audio_tokens", (json_int_t)0,
                     "accepted_prediction_tokens", (json_int_t)0, "rejected_prediction_tokens", (json_int_t)0);
}

static json_t *openai_chunk(const msrv_req *rq, const char *id, json_t *delta, const char *finish)
{
    json_t *c = json_pack("{ss ss sI ss ss sn s[{sI so so sn}]}", "id", id, "object", "chat.completion.chunk", "created",
                          (json_int_t)time(NULL), "model", rq->model, "service_tier", "default", "system_fingerprint",
                          "choices", "index", (json_int_t)0, "delta", delta, "finish_reason",
                          finish ? json_string(finish) : json_null(), "logprobs");
    if (c && rq->include_usage)
        json_object_set_new(c, "usage", json_null());
    return c;
}

static int openai_reply(const msrv_req *rq, const msrv_turn *t, msrv_body *out)
{
    char id[64];
    int rc;
    const char *finish = t->finish ? t->finish : t->ncalls ? "tool_calls" : "stop";
    snprintf(id, sizeof id, "chatcmpl-modelsrv%lu", rq->n);
    if (!rq->stream) {
        out->content_type = "application/json";
        json_t *msg = json_pack("{ss so sn}", "role", "assistant", "content",
                                (*t->text || !t->ncalls) ? json_string(t->text) : json_null(), "refusal");
        if (!msg)
            return -ENOMEM;
        if (t->ncalls) {
            json_t *tcs = json_array();
            json_object_set_new(msg, "tool_calls", tcs);
            for (size_t i = 0; i < t->ncalls; i++) {
                char *a = args_text(&t->calls[i]);
                json_array_append_new(tcs, json_pack("{ss ss s{ss ss}}", "id", t->calls[i].id, "type", "function", "function",
                                                     "name", t->calls[i].name, "arguments", a ? a : "{}"));
                free(a);
            }
        }
        json_object_set_new(msg, "annotations", json_array());
        return add_json(out, "", json_pack("{ss ss sI ss s[{sI so sn ss}] so ss sn}", "id", id, "object", "chat.completion",
                                           "created", (json_int_t)time(NULL), "model", rq->model, "choices", "index",
                                           (json_int_t)0, "message", msg, "logprobs", "finish_reason", finish, "usage",
                                           openai_usage(&t->usage), "service_tier", "default", "system_fingerprint"),
                        "");
    }
    out->content_type = "text/event-stream; charset=utf-8";
    if ((rc = add_json(out, "data: ", openai_chunk(rq, id, json_pack("{ss ss sn}", "role", "assistant", "content", "", "refusal"), NULL),
                       "\n\n")) < 0)
        return rc;
    size_t len = strlen(t->text);
    for (size_t off = 0; off < len;) {
        size_t n = piece(t->text, len, off, t->chunk, true);
        if ((rc = add_json(out, "data: ", openai_chunk(rq, id, json_pack("{so}", "content", strn(t->text + off, n)), NULL), "\n\n")) < 0)
            return rc;
        off += n;
    }
    for (size_t i = 0; i < t->ncalls; i++) {
        const msrv_call *c = &t->calls[i];
        json_t *d = json_pack("{s[{sI ss ss s{ss ss}}]}", "tool_calls", "index", (json_int_t)i, "id", c->id, "type", "function",
                              "function", "name", c->name, "arguments", "");
        if ((rc = add_json(out, "data: ", openai_chunk(rq, id, d, NULL), "\n\n")) < 0)
            return rc;
        char *a = args_text(c);
        if (!a)
            return -ENOMEM;
        size_t alen = strlen(a);
        for (size_t off = 0; off < alen && rc == 0;) {
            size_t n = piece(a, alen, off, t->chunk, false);
            d = json_pack("{s[{sI s{so}}]}", "tool_calls", "index", (json_int_t)i, "function", "arguments", strn(a + off, n));
            rc = add_json(out, "data: ", openai_chunk(rq, id, d, NULL), "\n\n");
            off += n;
        }
        free(a);
        if (rc < 0)
            return rc;
    }
    if ((rc = add_json(out, "data: ", openai_chunk(rq, id, json_object(), finish), "\n\n")) < 0)
        return rc;
    if (rq->include_usage) {
        json_t *u = openai_chunk(rq, id, json_object(), NULL);
        if (u) {
            json_object_set_new(u, "choices", json_array());
            json_object_set_new(u, "usage", openai_usage(&t->usage));
        }
        if ((rc = add_json(out, "data: ", u, "\n\n")) < 0)
            return rc;
    }
    return msrv_body_add(out, "data: [DONE]\n\n", 14);
}

/* --- Anthropic ---------------------------------------------------------------- */

static json_t *anthropic_usage(const msrv_usage *u, bool start)
{
    return json_pack("{sI sI sI s{sI sI} sI ss}", "input_tokens", (json_int_t)u->input, "cache_creation_input_tokens",
                     (json_int_t)u->cache_write, "cache_read_input_tokens", (json_int_t)u->cached, "cache_creation",
                     "ephemeral_5m_input_tokens", (json_int_t)u->cache_write, "ephemeral_1h_input_tokens", (json_int_t)0,
                     "output_tokens", (json_int_t)(start ? 1 : u->output), "service_tier", "standard");
}

static int sse(msrv_body *out, const char *event, json_t *data)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "event: %s\ndata: ", event);
    return add_json(out, prefix, data, "\n\n");
}

static int anthropic_reply(const msrv_req *rq, const msrv_turn *t, msrv_body *out)
{
    char id[64];
    int rc;
    const char *stop = t->finish ? "max_tokens" : t->ncalls ? "tool_use" : "end_turn";
    bool text_block = *t->text || !t->ncalls;
    snprintf(id, sizeof id, "msg_modelsrv%lu", rq->n);
    if (!rq->stream) {
        out->content_type = "application/json";
        json_t *content = json_array();
        if (content && text_block)
            json_array_append_new(content, json_pack("{ss ss}", "type", "text", "text", t->text));
        for (size_t i = 0; content && i < t->ncalls; i++)
            json_array_append_new(content, json_pack("{ss ss ss so}", "type", "tool_use", "id", t->calls[i].id, "name",
                                                     t->calls[i].name, "input", args_value(&t->calls[i])));
        return add_json(out, "", json_pack("{ss ss ss ss so ss sn so}", "id", id, "type", "message", "role", "assistant", "model",
                                           rq->model, "content", content, "stop_reason", stop, "stop_sequence", "usage",
                                           anthropic_usage(&t->usage, false)),
                        "");
    }
    out->content_type = "text/event-stream; charset=utf-8";
    json_t *usage = anthropic_usage(&t->usage, true);
    if ((rc = sse(out, "message_start",
                  json_pack("{ss s{ss ss ss ss s[] sn sn so}}", "type", "message_start", "message", "id", id, "type", "message",
                            "role", "assistant", "model", rq->model, "content", "stop_reason", "stop_sequence", "usage", usage))) < 0)
        return rc;
    size_t index = 0;
    if (text_block) {
        if ((rc = sse(out, "content_block_start", json_pack("{ss sI s{ss ss}}", "type", "content_block_start", "index", (json_int_t)index,
                                                             "content_block", "type", "text", "text", ""))) < 0 ||
            (rc = sse(out, "ping", json_pack("{ss}", "type", "ping"))) < 0)
            return rc;
        size_t len = strlen(t->text);
        for (size_t off = 0; off < len;) {
            size_t n = piece(t->text, len, off, t->chunk, true);
            if ((rc = sse(out, "content_block_delta", json_pack("{ss sI s{ss so}}", "type", "content_block_delta", "index",
                                                                 (json_int_t)index, "delta", "type", "text_delta", "text",
                                                                 strn(t->text + off, n)))) < 0)
                return rc;
            off += n;
        }
        if ((rc = sse(out, "content_block_stop", json_pack("{ss sI}", "type", "content_block_stop", "index", (json_int_t)index))) < 0)
            return rc;
        index++;
    }
    for (size_t i = 0; i < t->ncalls; i++, index++) {
        const msrv_call *c = &t->calls[i];
        if ((rc = sse(out, "content_block_start", json_pack("{ss sI s{ss ss ss s{}}}", "type", "content_block_start", "index",
                                                             (json_int_t)index, "content_block", "type", "tool_use", "id", c->id,
                                                             "name", c->name, "input"))) < 0)
            return rc;
        if (index == 0 && (rc = sse(out, "ping", json_pack("{ss}", "type", "ping"))) < 0)
            return rc;
        char *a = args_text(c);
        if (!a)
            return -ENOMEM;
        size_t alen = strlen(a);
        /* the real stream opens every tool_use block with an empty piece */
        for (size_t off = 0, first = 1; (off < alen || first) && rc == 0; first = 0) {
            size_t n = first ? 0 : piece(a, alen, off, t->chunk, false);
            rc = sse(out, "content_block_delta", json_pack("{ss sI s{ss so}}", "type", "content_block_delta", "index", (json_int_t)index,
                                                          "delta", "type", "input_json_delta", "partial_json", strn(a + off, n)));
            off += n;
        }
        free(a);
        if (rc < 0 ||
            (rc = sse(out, "content_block_stop", json_pack("{ss sI}", "type", "content_block_stop", "index", (json_int_t)index))) < 0)
            return rc;
    }
    const msrv_usage *u = &t->usage;
    if ((rc = sse(out, "message_delta",
                  json_pack("{ss s{ss sn} s{sI sI sI sI}}", "type", "message_delta", "delta", "stop_reason", stop, "stop_sequence",
                            "usage", "input_tokens", (json_int_t)u->input, "cache_creation_input_tokens", (json_int_t)u->cache_write,
                            "cache_read_input_tokens", (json_int_t)u->cached, "output_tokens", (json_int_t)u->output))) < 0)
        return rc;
    return sse(out, "message_stop", json_pack("{ss}", "type", "message_stop"));
}

/* --- Gemini ------------------------------------------------------------------- */

static json_t *gemini_usage(const msrv_usage *u, bool final)
{
    long prompt = u->input + u->cached + u->cache_write;
    json_t *j = json_pack("{sI}", "promptTokenCount", (json_int_t)prompt);
    if (!j)
        return NULL;
    if (final)
        json_object_set_new(j, "candidatesTokenCount", json_integer(u->output - u->reasoning));
    json_object_set_new(j, "totalTokenCount", json_integer(final ? prompt + u->output : prompt));
    if (u->cached)
        json_object_set_new(j, "cachedContentTokenCount", json_integer(u->cached));
    json_object_set_new(j, "promptTokensDetails", json_pack("[{ss sI}]", "modality", "TEXT", "tokenCount", (json_int_t)prompt));
    if (final && u->reasoning)
        json_object_set_new(j, "thoughtsTokenCount", json_integer(u->reasoning));
    return j;
}

static json_t *gemini_call_part(const msrv_turn *t, size_t i)
{
    const msrv_call *c = &t->calls[i];
    json_t *fc = json_object();
    if (!fc)
        return NULL;
    if (c->id_given)
        json_object_set_new(fc, "id", json_string(c->id));
    json_object_set_new(fc, "name", json_string(c->name));
    json_object_set_new(fc, "args", args_value(c));
    json_t *part = json_pack("{so}", "functionCall", fc);
    if (part && i == 0 && t->thought_signature)
        json_object_set_new(part, "thoughtSignature", json_string(t->thought_signature));
    return part;
}

/* One GenerateContentResponse holding parts (taken); final adds the finish
 * reason and the complete usage. */
static json_t *gemini_response(const msrv_req *rq, const msrv_turn *t, json_t *parts, bool final)
{
    char rid[48];
    snprintf(rid, sizeof rid, "modelsrv%lu", rq->n);
    json_t *cand = json_pack("{s{so ss}}", "content", "parts", parts, "role", "model");
    if (!cand)
        return NULL;
    if (final)
        json_object_set_new(cand, "finishReason", json_string(t->finish ? "MAX_TOKENS" : "STOP"));
    json_object_set_new(cand, "index", json_integer(0));
    return json_pack("{s[o] so ss ss}", "candidates", cand, "usageMetadata", gemini_usage(&t->usage, final), "modelVersion",
                     rq->model, "responseId", rid);
}

static int gemini_reply(const msrv_req *rq, const msrv_turn *t, msrv_body *out)
{
    int rc;
    if (!rq->stream) {
        out->content_type = "application/json; charset=UTF-8";
        json_t *parts = json_array();
        if (parts && (*t->text || !t->ncalls))
            json_array_append_new(parts, json_pack("{ss}", "text", t->text));
        for (size_t i = 0; parts && i < t->ncalls; i++)
            json_array_append_new(parts, gemini_call_part(t, i));
        return add_json(out, "", gemini_response(rq, t, parts, true), "");
    }
    /* one part per chunk: text pieces, then each whole functionCall */
    size_t len = strlen(t->text), nchunks = 0, k = 0;
    for (size_t off = 0; off < len; nchunks++)
        off += piece(t->text, len, off, t->chunk, true);
    nchunks += t->ncalls;
    if (!nchunks)
        nchunks = 1;
    bool sse_mode = rq->gemini_sse;
    out->content_type = sse_mode ? "text/event-stream" : "application/json; charset=UTF-8";
    size_t off = 0;
    for (k = 0; k < nchunks; k++) {
        json_t *part;
        if (off < len || (k == 0 && !t->ncalls)) {
            size_t n = len ? piece(t->text, len, off, t->chunk, true) : 0;
            part = json_pack("{so}", "text", strn(t->text + off, n));
            off += n;
        } else {
            part = gemini_call_part(t, k - (nchunks - t->ncalls));
        }
        json_t *resp = gemini_response(rq, t, json_pack("[o]", part), k + 1 == nchunks);
        if (sse_mode)
            rc = add_json(out, "data: ", resp, "\r\n\r\n");
        else
            rc = add_json(out, k == 0 ? "[" : ",\r\n", resp, k + 1 == nchunks ? "]" : "");
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* --- Ollama -------------------------------------------------------------------- */

static json_t *ollama_line(const msrv_req *rq, json_t *msg, bool done)
{
    char ts[64];
    return json_pack("{ss ss so sb}", "model", rq->model, "created_at", now_rfc3339(ts, sizeof ts), "message", msg, "done", done);
}

static void ollama_final(json_t *line, const msrv_turn *t)
{
    const msrv_usage *u = &t->usage;
    json_object_set_new(line, "done_reason", json_string(t->finish ? "length" : "stop"));
    json_object_set_new(line, "total_duration", json_integer(250113000));
    json_object_set_new(line, "load_duration", json_integer(30420000));
    if (u->input) /* omitempty, as Ollama */
        json_object_set_new(line, "prompt_eval_count", json_integer(u->input));
    json_object_set_new(line, "prompt_eval_duration", json_integer(41200000));
    if (u->output)
        json_object_set_new(line, "eval_count", json_integer(u->output));
    json_object_set_new(line, "eval_duration", json_integer(168500000));
}

static json_t *ollama_calls(const msrv_turn *t)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < t->ncalls; i++)
        json_array_append_new(a, json_pack("{ss s{sI ss so}}", "id", t->calls[i].id, "function", "index", (json_int_t)i, "name",
                                           t->calls[i].name, "arguments", args_value(&t->calls[i])));
    return a;
}

static int ollama_reply(const msrv_req *rq, const msrv_turn *t, msrv_body *out)
{
    int rc;
    if (!rq->stream) {
        out->content_type = "application/json; charset=utf-8";
        json_t *msg = json_pack("{ss ss}", "role", "assistant", "content", t->text);
        if (msg && t->ncalls)
            json_object_set_new(msg, "tool_calls", ollama_calls(t));
        json_t *line = ollama_line(rq, msg, true);
        if (line)
            ollama_final(line, t);
        return add_json(out, "", line, "");
    }
    out->content_type = "application/x-ndjson";
    size_t len = strlen(t->text);
    for (size_t off = 0; off < len;) {
        size_t n = piece(t->text, len, off, t->chunk, true);
        if ((rc = add_json(out, "", ollama_line(rq, json_pack("{ss so}", "role", "assistant", "content", strn(t->text + off, n)), false),
                           "\n")) < 0)
            return rc;
        off += n;
    }
    if (t->ncalls &&
        (rc = add_json(out, "", ollama_line(rq, json_pack("{ss ss so}", "role", "assistant", "content", "", "tool_calls", ollama_calls(t)), false),
                       "\n")) < 0)
        return rc;
    json_t *line = ollama_line(rq, json_pack("{ss ss}", "role", "assistant", "content", ""), true);
    if (line)
        ollama_final(line, t);
    return add_json(out, "", line, "\n");
}

int msrv_wire_reply(const msrv_req *rq, const msrv_turn *t, size_t turn_index, msrv_body *out)
{
    (void)turn_index;
    switch (rq->api) {
    case MSRV_OPENAI: return openai_reply(rq, t, out);
    case MSRV_ANTHROPIC: return anthropic_reply(rq, t, out);
    case MSRV_GEMINI: return gemini_reply(rq, t, out);
    case MSRV_OLLAMA: return ollama_reply(rq, t, out);
    }
    return -EINVAL;
}

/* --- errors ---------------------------------------------------------------------- */

static const char *anthropic_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 504: return "timeout_error";
    case 529: return "overloaded_error";
    default: return status < 500 ? "invalid_request_error" : "api_error";
    }
}

static const char *gemini_status(int status)
{
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 500: return "INTERNAL";
    case 501: return "NOT_IMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status < 500 ? "FAILED_PRECONDITION" : "UNKNOWN";
    }
}

int msrv_wire_error(msrv_api api, int status, const char *msg, const char *param, const char *code, const char *retry_delay,
                    msrv_body *out)
{
    json_t *j = NULL;
    switch (api) {
    case MSRV_OPENAI: {
        const char *type = status == 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error";
        if (!code && status == 429)
            code = "rate_limit_exceeded";
        if (code && !*code)
            code = NULL;
        out->content_type = "application/json; charset=utf-8";
        j = json_pack("{s{ss ss so so}}", "error", "message", msg, "type", type, "param", param ? json_string(param) : json_null(),
                      "code", code ? json_string(code) : json_null());
        break;
    }
    case MSRV_ANTHROPIC:
        out->content_type = "application/json";
        j = json_pack("{ss s{ss ss} ss}", "type", "error", "error", "type", anthropic_type(status), "message", msg, "request_id",
                      "req_modelsrv");
        break;
    case MSRV_GEMINI:
        out->content_type = "application/json; charset=UTF-8";
        j = json_pack("{s{sI ss ss}}", "error", "code", (json_int_t)status, "message", msg, "status", gemini_status(status));
        if (j && retry_delay)
            json_object_set_new(json_object_get(j, "error"), "details",
                                json_pack("[{ss ss}]", "@type", "type.googleapis.com/google.rpc.RetryInfo", "retryDelay", retry_delay));
        break;
    case MSRV_OLLAMA:
        out->content_type = "application/json; charset=utf-8";
        j = json_pack("{ss}", "error", msg);
        break;
    }
    return add_json(out, "", j, "");
}

int msrv_wire_auth_error(msrv_api api, bool missing, int *status, msrv_body *out)
{
    json_t *j = NULL;
    *status = 401;
    out->content_type = "application/json";
    switch (api) {
    case MSRV_OPENAI:
        if (missing)
            return msrv_wire_error(api, 401,
                                   "You didn't provide an API key. You need to provide your API key in an Authorization header using "
                                   "Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
                                   "https://platform.openai.com/account/api-keys.", NULL, "", NULL, out);
        return msrv_wire_error(api, 401,
                               "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                               NULL, "invalid_api_key", NULL, out);
    case MSRV_ANTHROPIC:
        return msrv_wire_error(api, 401, missing ? "x-api-key header is required" : "invalid x-api-key", NULL, NULL, NULL, out);
    case MSRV_GEMINI:
        /* Gemini answers a bad key with 400 and a missing one with 403, never 401 */
        out->content_type = "application/json; charset=UTF-8";
        if (missing) {
            *status = 403;
            j = json_pack("{s{sI ss ss}}", "error", "code", (json_int_t)403, "message",
                          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or "
                          "other form of API consumer identity to call this API.", "status", "PERMISSION_DENIED");
        } else {
            *status = 400;
            j = json_pack("{s{sI ss ss s[{ss ss ss}]}}", "error", "code", (json_int_t)400, "message",
                          "API key not valid. Please pass a valid API key.", "status", "INVALID_ARGUMENT", "details", "@type",
                          "type.googleapis.com/google.rpc.ErrorInfo", "reason", "API_KEY_INVALID", "domain", "googleapis.com");
        }
        return add_json(out, "", j, "");
    case MSRV_OLLAMA:
        return msrv_wire_error(api, 401, "unauthorized", NULL, NULL, NULL, out);
    }
    return -EINVAL;
}

int msrv_wire_stream_error(const msrv_req *rq, buf *out)
{
    switch (rq->api) {
    case MSRV_OPENAI:
        return buf_puts(out, "data: {\"error\":{\"message\":\"The server had an error while processing your request. Sorry about "
                             "that!\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n");
    case MSRV_ANTHROPIC:
        return buf_puts(out, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
    case MSRV_GEMINI:
        if (!rq->gemini_sse)
            return buf_puts(out, ",\r\n{\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please try again later.\",\"status\":\"UNAVAILABLE\"}}]");
        return buf_puts(out, "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please try again later.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n");
    case MSRV_OLLAMA:
        return buf_puts(out, "{\"error\":\"an error was encountered while running the model: unexpected EOF\"}\n");
    }
    return -EINVAL;
}

int msrv_wire_malformed(const msrv_req *rq, buf *out)
{
    if (!rq->stream)
        return buf_puts(out, "{\"id\": modelsrv-malformed <<not JSON>>");
    switch (rq->api) {
    case MSRV_OPENAI: return buf_puts(out, "data: {\"id\":\"chatcmpl-modelsrv\",\"choices\":[{<<not JSON>>\n\n");
    case MSRV_ANTHROPIC: return buf_puts(out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",<<not JSON>>\n\n");
    case MSRV_GEMINI:
        return buf_puts(out, rq->gemini_sse ? "data: {\"candidates\":[{<<not JSON>>\r\n\r\n" : ",\r\n{\"candidates\":[{<<not JSON>>");
    case MSRV_OLLAMA: return buf_puts(out, "{\"model\":<<not JSON>>\n");
    }
    return -EINVAL;
}

/* --- model lists and embeddings ------------------------------------------------------ */

int msrv_wire_models(msrv_api api, const json_t *models, msrv_body *out)
{
    json_t *list = json_array();
    size_t i;
    json_t *m;
    out->content_type = "application/json";
    json_array_foreach(models, i, m) {
        const char *name = json_string_value(m);
        char full[320];
        switch (api) {
        case MSRV_OPENAI:
            json_array_append_new(list, json_pack("{ss ss sI ss}", "id", name, "object", "model", "created", (json_int_t)1700000000,
                                                  "owned_by", "modelsrv"));
            break;
        case MSRV_ANTHROPIC:
            json_array_append_new(list, json_pack("{ss ss ss ss}", "type", "model", "id", name, "display_name", name, "created_at",
                                                  "2025-01-01T00:00:00Z"));
            break;
        case MSRV_GEMINI:
            snprintf(full, sizeof full, "models/%s", name);
            json_array_append_new(list, json_pack("{ss ss ss sI sI s[ss]}", "name", full, "version", "001", "displayName", name,
                                                  "inputTokenLimit", (json_int_t)1048576, "outputTokenLimit", (json_int_t)65536,
                                                  "supportedGenerationMethods", "generateContent", "countTokens"));
            break;
        case MSRV_OLLAMA:
            snprintf(full, sizeof full, "%s%s", name, strchr(name, ':') ? "" : ":latest");
            json_array_append_new(list, json_pack("{ss ss ss sI ss s{ss ss ss ss}}", "name", full, "model", full, "modified_at",
                                                  "2026-01-01T00:00:00Z", "size", (json_int_t)2019000000, "digest",
                                                  "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72", "details", "format",
                                                  "gguf", "family", "llama", "parameter_size", "3.2B", "quantization_level", "Q4_K_M"));
            break;
        }
    }
    json_t *j = NULL;
    switch (api) {
    case MSRV_OPENAI: j = json_pack("{ss so}", "object", "list", "data", list); break;
    case MSRV_ANTHROPIC:
        j = json_pack("{so sb ss ss}", "data", list, "has_more", 0, "first_id", json_string_value(json_array_get(models, 0)), "last_id",
                      json_string_value(json_array_get(models, json_array_size(models) - 1)));
        break;
    case MSRV_GEMINI:
    case MSRV_OLLAMA: j = json_pack("{so}", "models", list); break;
    }
    return add_json(out, "", j, "");
}

/* A unit vector that depends only on the text. */
static json_t *embedding(const char *s, long dims)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    double v[4096], norm = 0;
    for (long i = 0; i < dims; i++) {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        v[i] = (double)(h % 20001) / 10000.0 - 1.0;
        norm += v[i] * v[i];
    }
    norm = norm > 0 ? sqrt(norm) : 1;
    json_t *a = json_array();
    for (long i = 0; a && i < dims; i++)
        json_array_append_new(a, json_real(round(v[i] / norm * 1e6) / 1e6));
    return a;
}

int msrv_wire_embed(const msrv_req *rq, bool openai, msrv_body *out, msrv_problem *p)
{
    json_t *in = json_object_get(rq->body, "input");
    json_t *dim = json_object_get(rq->body, "dimensions");
    long dims = 8, tokens = 0;
    const char *model = json_string_value(json_object_get(rq->body, "model"));
    size_t i;
    json_t *s;
    p->status = 400;
    if (!model || !*model) {
        p->msg = mem_strdup(openai ? "you must provide a model parameter" : "model is required");
        return -1;
    }
    if (dim && (!json_is_integer(dim) || json_integer_value(dim) < 1 || json_integer_value(dim) > 4096)) {
        p->msg = mem_strdup("dimensions must be an integer from 1 to 4096 (modelsrv)");
        return -1;
    }
    if (dim)
        dims = (long)json_integer_value(dim);
    json_t *texts = json_is_string(in) ? json_pack("[O]", in) : json_incref(in);
    bool ok = json_is_array(texts) && json_array_size(texts);
    json_array_foreach(texts, i, s) ok = ok && json_is_string(s);
    if (!ok) {
        json_decref(texts);
        p->msg = mem_strdup(openai ? "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
                                   : "invalid input type: input must be a string or an array of strings");
        return -1;
    }
    json_t *vecs = json_array();
    json_array_foreach(texts, i, s) {
        const char *t = json_string_value(s);
        tokens += 1 + (long)(strlen(t) / 4);
        json_t *e = embedding(t, dims);
        if (openai)
            json_array_append_new(vecs, json_pack("{ss sI so}", "object", "embedding", "index", (json_int_t)i, "embedding", e));
        else
            json_array_append_new(vecs, e);
    }
    json_decref(texts);
    out->content_type = "application/json";
    if (openai)
        return add_json(out, "", json_pack("{ss so ss s{sI sI}}", "object", "list", "data", vecs, "model", model, "usage", "prompt_tokens",
                                           (json_int_t)tokens, "total_tokens", (json_int_t)tokens), "");
    return add_json(out, "", json_pack("{ss so sI sI sI}", "model", model, "embeddings", vecs, "total_duration", (json_int_t)15200000,
                                       "load_duration", (json_int_t)1100000, "prompt_eval_count", (json_int_t)tokens), "");
}
