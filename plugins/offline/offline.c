/*
 * offline — venom's embedded default model provider. It needs no network
 * and no model weights: engine.c matches the goal against the tools of the
 * canonical chat request and answers with one tool call per turn, a final
 * text, or the questions it could not decide. Reference:
 * docs/providers/offline.md; the request and response format:
 * docs/internals/canonical.md.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <venom/venom.h>

#include "engine.h"

static const venom_host_api *HOST;

/* The agent sends the same "tools" every turn: the instance keeps the last
 * tool set analysed, keyed by its JSON text, shared by concurrent calls. */
typedef struct toolset_ref {
    offline_tools *ts;
    char *text; /* the "tools" JSON text it was built from */
    size_t len;
    int refs;   /* the cache's own reference + one per call using it */
} toolset_ref;

typedef struct offline_inst {
    offline_opts opts;
    char *model; /* owned copy of the configured model, or NULL */
    pthread_mutex_t lock;
    toolset_ref *cache;
} offline_inst;

static void ref_drop(offline_inst *in, toolset_ref *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&in->lock);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&in->lock);
    if (last) {
        offline_tools_free(r->ts);
        free(r->text);
        free(r);
    }
}

/* ------------------------------------------------ finding "tools" fast */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Past the JSON string at p (which is at '"'), or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Past the JSON value at p, or NULL (only its extent is checked). */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            if (!(p = skip_string(p, end)))
                return NULL;
        } else if (c == '{' || c == '[') {
            depth++;
            p++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return p;
            depth--;
            p++;
        } else if (c == ',' && depth == 0) {
            return p;
        } else {
            p++;
        }
        if (depth == 0 && (c == '"' || c == '}' || c == ']'))
            return p;
    }
    return depth == 0 ? p : NULL;
}

/* Where the top-level "tools" value of the request text lies; false when
 * it has none, has it twice (jansson keeps the last), has a key with an
 * escape, or the text is not a plain object (then jansson decides). */
static bool find_tools(const char *s, size_t n, size_t *a, size_t *b)
{
    const char *end = s + n, *p = skip_ws(s, end);
    bool found = false;
    if (p == end || *p != '{')
        return false;
    p++;
    for (;;) {
        p = skip_ws(p, end);
        if (p == end || *p != '"')
            return false;
        const char *k = p + 1, *ke = skip_string(p, end);
        if (!ke)
            return false;
        if (memchr(k, '\\', (size_t)(ke - k)))
            return false; /* an escaped key may spell "tools" */
        bool tools = ke - k == 6 && !memcmp(k, "tools\"", 6);
        p = skip_ws(ke, end);
        if (p == end || *p != ':')
            return false;
        const char *v = skip_ws(p + 1, end), *ve = skip_value(v, end);
        if (!ve || ve == v)
            return false;
        if (tools) {
            if (found)
                return false;
            *a = (size_t)(v - s);
            *b = (size_t)(ve - s);
            found = true;
        }
        p = skip_ws(ve, end);
        if (p != end && *p == '}')
            return found;
        if (p == end || *p != ',')
            return false;
        p++;
    }
}

/* The analysed tools for text[0..len): the cached set when the text is the
 * same, else a new one that becomes the cache. */
static int32_t tools_get(offline_inst *in, const char *text, size_t len, toolset_ref **out, char *err, size_t errlen)
{
    pthread_mutex_lock(&in->lock);
    toolset_ref *r = in->cache;
    if (r && r->len == len && !memcmp(r->text, text, len)) {
        r->refs++;
        pthread_mutex_unlock(&in->lock);
        *out = r;
        return VENOM_OK;
    }
    pthread_mutex_unlock(&in->lock);
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!j) {
        snprintf(err, errlen, "offline: request.tools is not JSON: %s", je.text);
        return VENOM_E_INVAL;
    }
    int32_t rc = VENOM_E_NOMEM;
    if (!(r = calloc(1, sizeof *r)) || !(r->text = malloc(len ? len : 1))) {
        snprintf(err, errlen, "offline: out of memory");
        goto fail;
    }
    memcpy(r->text, text, len);
    r->len = len;
    if ((rc = offline_tools_new(j, &r->ts, err, errlen)) != 0)
        goto fail;
    json_decref(j);
    r->refs = 2; /* the cache's and this call's */
    pthread_mutex_lock(&in->lock);
    toolset_ref *old = in->cache;
    in->cache = r;
    pthread_mutex_unlock(&in->lock);
    ref_drop(in, old);
    *out = r;
    return VENOM_OK;
fail:
    json_decref(j);
    if (r)
        free(r->text);
    free(r);
    return rc;
}

static int32_t fail(venom_ctx *ctx, int32_t code, const char *msg)
{
    HOST->set_error(ctx, msg);
    return code;
}

static int32_t offline_open(venom_ctx *ctx, const char *config_json, void *data, void **instance)
{
    (void)data;
    char err[512];
    json_t *cfg = NULL;
    if (config_json && *config_json) {
        json_error_t je;
        if (!(cfg = json_loads(config_json, 0, &je))) {
            snprintf(err, sizeof err, "offline: the provider configuration is not JSON: line %d: %s", je.line, je.text);
            return fail(ctx, VENOM_E_INVAL, err);
        }
    }
    offline_inst *in = calloc(1, sizeof *in);
    if (!in) {
        json_decref(cfg);
        return fail(ctx, VENOM_E_NOMEM, "offline: out of memory");
    }
    int rc = offline_opts_parse(cfg, &in->opts, err, sizeof err);
    if (rc == 0 && in->opts.model && !(in->model = strdup(in->opts.model)))
        rc = VENOM_E_NOMEM;
    in->opts.model = in->model;
    json_decref(cfg);
    if (rc == 0 && pthread_mutex_init(&in->lock, NULL) != 0)
        rc = VENOM_E_NOMEM;
    if (rc != 0) {
        free(in->model);
        free(in);
        return fail(ctx, rc, rc == VENOM_E_NOMEM ? "offline: out of memory" : err);
    }
    *instance = in;
    return VENOM_OK;
}

static void offline_close(void *instance)
{
    offline_inst *in = instance;
    if (!in)
        return;
    ref_drop(in, in->cache);
    pthread_mutex_destroy(&in->lock);
    free(in->model);
    free(in);
}

static int32_t offline_chat(venom_ctx *call, void *instance, const char *request_json)
{
    offline_inst *in = instance;
    char err[512];
    json_error_t je;
    json_t *req = NULL, *res = NULL;
    char *out = NULL, *delta = NULL, *rest = NULL;
    toolset_ref *ts = NULL;
    size_t a = 0, b = 0, n = request_json ? strlen(request_json) : 0;
    int32_t rc;
    if (!in)
        return fail(call, VENOM_E_STATE, "offline: chat called without an open instance");
    if (!request_json)
        return fail(call, VENOM_E_INVAL, "offline: no chat request");
    /* "tools" is the bulk of the request and the same every turn: analyse
     * it once, and parse only the rest ("tools": [] in its place) */
    if (find_tools(request_json, n, &a, &b)) {
        if ((rc = tools_get(in, request_json + a, b - a, &ts, err, sizeof err)) != 0)
            return fail(call, rc, err);
        if (!(rest = malloc(n - (b - a) + 3))) {
            rc = fail(call, VENOM_E_NOMEM, "offline: out of memory");
            goto out;
        }
        memcpy(rest, request_json, a);
        memcpy(rest + a, "[]", 2);
        memcpy(rest + a + 2, request_json + b, n - b + 1);
    }
    if (!(req = json_loads(rest ? rest : request_json, 0, &je))) {
        snprintf(err, sizeof err, "offline: the chat request is not JSON: line %d: %s", je.line, je.text);
        rc = fail(call, VENOM_E_INVAL, err);
        goto out;
    }
    if ((rc = offline_engine_answer(&in->opts, req, ts ? ts->ts : NULL, &res, err, sizeof err)) != 0) {
        rc = fail(call, rc, err);
        goto out;
    }
    const json_t *msg = json_object_get(res, "message");
    const char *text = json_string_value(json_object_get(msg, "content"));
    if (json_is_true(json_object_get(req, "stream")) && text && *text && HOST->stream) {
        json_t *d = json_pack("{s:s, s:s}", "type", "text", "text", text);
        delta = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        if (!delta) {
            rc = fail(call, VENOM_E_NOMEM, "offline: out of memory");
            goto out;
        }
        if ((rc = HOST->stream(call, delta, strlen(delta))) != VENOM_OK)
            goto out; /* VENOM_E_CANCELLED: the consumer wants no more */
    }
    if (!(out = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(6)))) {
        rc = fail(call, VENOM_E_NOMEM, "offline: out of memory");
        goto out;
    }
    rc = HOST->set_result(call, out, strlen(out));
out:
    ref_drop(in, ts);
    free(rest);
    free(delta);
    free(out);
    json_decref(res);
    json_decref(req);
    return rc;
}

static int32_t offline_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    (void)state;
    HOST = host;
    static const venom_provider_desc desc = {
        .struct_size = sizeof(venom_provider_desc),
        .caps = VENOM_PROVIDER_CHAT | VENOM_PROVIDER_STREAM | VENOM_PROVIDER_TOOLS,
        .name = "offline",
        .description = "Deterministic goal-to-tool matcher; no network, no model weights",
        .open = offline_open,
        .close = offline_close,
        .chat = offline_chat,
    };
    return host->register_provider(ctx, &desc);
}

static const venom_plugin_info INFO = {
    VENOM_PLUGIN_INFO_INIT,
    .min_host_minor = 0,
    .kinds = VENOM_KIND_PROVIDER,
    .name = "offline",
    .version = "1.0.0",
    .license = "MIT",
    .init = offline_init,
    .shutdown = NULL,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void)
{
    return &INFO;
}
