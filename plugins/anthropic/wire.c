/*
 * wire.c — canonical chat <-> Anthropic Messages API (see wire.h).
 */
#include "wire.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <venom/venom.h>

#define ANTH_MAX_BLOCKS 4096 /* content block indexes accepted in a stream */

enum { BLK_NONE, BLK_TEXT, BLK_TOOL, BLK_OTHER };

struct anth_block {
    int kind;      /* BLK_* */
    json_t *input; /* a tool_use block's start input, used when no delta came */
};

#define anth_fail pu_err

/* A short, one-line, clipped copy of s for messages. */
static void anth_clip(char *out, size_t cap, const char *s, size_t len)
{
    size_t n = len < cap - 4 ? len : cap - 4;
    memcpy(out, s, n);
    out[n] = '\0';
    if (n < len)
        memcpy(out + n, "...", 4);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

static const char *anth_str(const json_t *o, const char *key)
{
    return pu_str(o, key, NULL);
}

/* Set key to a new value (stolen); false on allocation failure. */
static bool anth_set(json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new(o, key, v) == 0;
}

static const char *anth_finish(const char *stop_reason)
{
    if (!stop_reason)
        return "other";
    if (!strcmp(stop_reason, "end_turn") || !strcmp(stop_reason, "stop_sequence"))
        return "stop";
    if (!strcmp(stop_reason, "tool_use"))
        return "tool_calls";
    if (!strcmp(stop_reason, "max_tokens") || !strcmp(stop_reason, "model_context_window_exceeded"))
        return "length";
    if (!strcmp(stop_reason, "refusal"))
        return "content_filter";
    return "other"; /* pause_turn and future reasons */
}

static int64_t anth_count(const json_t *o, const char *key)
{
    int64_t v = 0;
    return pu_int(o, key, &v) && v > 0 ? v : 0;
}

/* Canonical usage from the wire usage object (borrowed; NULL = missing):
 * input_tokens is already uncached; cache reads and writes are separate. */
static json_t *anth_usage(const json_t *u)
{
    if (!json_is_object(u))
        return pu_usage(0, 0, 0, 0, true, NULL);
    return pu_usage(anth_count(u, "input_tokens"), anth_count(u, "cache_read_input_tokens"),
                    anth_count(u, "cache_creation_input_tokens"), anth_count(u, "output_tokens"), false, u);
}

/* ------------------------------------------------------------ configuration */

void anth_config_release(anth_config *cfg)
{
    if (!cfg)
        return;
    pu_config_release(&cfg->pu);
    free(cfg->version);
    free(cfg->beta);
    memset(cfg, 0, sizeof *cfg);
}

/* An optional string option; "" and absent give NULL. */
static int anth_opt_str(const anth_config *cfg, const char *key, char **out, char **err)
{
    json_t *v = json_object_get(cfg->pu.options, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return anth_fail(err, VENOM_E_INVAL, "providers.%s.options.%s must be a string", cfg->pu.name, key);
    if (!*json_string_value(v))
        return 0;
    return (*out = strdup(json_string_value(v))) ? 0 : VENOM_E_NOMEM;
}

int anth_config_parse(const char *config_json, anth_config *cfg, char **err)
{
    memset(cfg, 0, sizeof *cfg);
    int rc = pu_config_parse(config_json, "anthropic", ANTH_DEFAULT_BASE_URL, ANTH_DEFAULT_KEY_ENV, &cfg->pu, err);
    if (rc != 0)
        return rc;
    if ((rc = anth_opt_str(cfg, "anthropic_version", &cfg->version, err)) != 0 ||
        (rc = anth_opt_str(cfg, "beta", &cfg->beta, err)) != 0)
        goto out;
    if (!cfg->version && !(cfg->version = strdup(ANTH_DEFAULT_VERSION))) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    cfg->max_tokens = ANTH_DEFAULT_MAX_TOKENS;
    json_t *mt = json_object_get(cfg->pu.options, "max_tokens");
    if (mt && !json_is_null(mt)) {
        if (!json_is_integer(mt) || json_integer_value(mt) < 1 || json_integer_value(mt) > 100000000) {
            rc = anth_fail(err, VENOM_E_INVAL, "providers.%s.options.max_tokens must be a positive integer",
                           cfg->pu.name);
            goto out;
        }
        cfg->max_tokens = (long)json_integer_value(mt);
    }
out:
    if (rc != 0)
        anth_config_release(cfg);
    return rc;
}

/* ------------------------------------------------------------ request */

/* Whether the configured extra headers already hold name (any case). */
static bool anth_has_header(const anth_config *cfg, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach(cfg->pu.headers, k, v) {
        if (!strcasecmp(k, name))
            return true;
    }
    return false;
}

/* The http_stream request: pu_http_request (content type, extra headers,
 * x-api-key) plus anthropic-version and anthropic-beta. body is stolen. */
static int anth_request(const anth_config *cfg, const char *method, const char *url, json_t *body,
                        const char *stream, json_t **out, char **err)
{
    int rc = pu_http_request(&cfg->pu, method, url, body, stream, "x-api-key", "", out, err);
    if (rc != 0)
        return rc;
    json_t *h = json_object_get(*out, "headers");
    bool ok = true;
    if (!anth_has_header(cfg, "anthropic-version"))
        ok = anth_set(h, "anthropic-version", json_string(cfg->version));
    if (ok && cfg->beta && !anth_has_header(cfg, "anthropic-beta"))
        ok = anth_set(h, "anthropic-beta", json_string(cfg->beta));
    if (!ok) {
        json_decref(*out);
        *out = NULL;
        return VENOM_E_NOMEM;
    }
    return 0;
}

/* {base}/v1/<path>; a base_url that already ends in /v1 is not doubled. */
static char *anth_url(const anth_config *cfg, const char *path)
{
    const char *base = cfg->pu.base_url;
    size_t bl = strlen(base);
    bool has_v1 = bl >= 3 && !strcmp(base + bl - 3, "/v1");
    size_t n = bl + strlen(path) + 8;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%s%s/%s", base, has_v1 ? "" : "/v1", path);
    return u;
}

/* The wire messages under construction: consecutive same-role turns merge. */
typedef struct anth_msgs {
    json_t *arr; /* [{"role","content":[blocks]}] */
} anth_msgs;

static int anth_push(anth_msgs *m, const char *role, json_t *block)
{
    if (!block)
        return VENOM_E_NOMEM;
    size_t n = json_array_size(m->arr);
    json_t *last = n ? json_array_get(m->arr, n - 1) : NULL;
    if (!last || strcmp(anth_str(last, "role"), role) != 0) {
        last = json_pack("{s:s,s:[]}", "role", role, "content");
        if (!last || json_array_append_new(m->arr, last) != 0) {
            json_decref(block);
            return VENOM_E_NOMEM;
        }
    }
    return json_array_append_new(json_object_get(last, "content"), block) == 0 ? 0 : VENOM_E_NOMEM;
}

/* Canonical content (string or parts) -> blocks of `role`; empty text skipped. */
static int anth_push_content(anth_msgs *m, const char *role, const json_t *content, size_t mi, char **err)
{
    if (!content || json_is_null(content))
        return 0;
    if (json_is_string(content)) {
        if (!*json_string_value(content))
            return 0;
        return anth_push(m, role, json_pack("{s:s,s:O}", "type", "text", "text", content));
    }
    if (!json_is_array(content))
        return anth_fail(err, VENOM_E_INVAL, "messages[%zu].content must be a string or an array of parts", mi);
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        const char *type = anth_str(part, "type");
        int rc = 0;
        if (!type)
            return anth_fail(err, VENOM_E_INVAL, "messages[%zu].content[%zu] has no type", mi, i);
        if (!strcmp(type, "text")) {
            const char *t = anth_str(part, "text");
            if (!t)
                return anth_fail(err, VENOM_E_INVAL, "messages[%zu].content[%zu] (text) has no text", mi, i);
            if (*t)
                rc = anth_push(m, role, json_pack("{s:s,s:s}", "type", "text", "text", t));
        } else if (!strcmp(type, "image")) {
            const char *mt = anth_str(part, "media_type"), *data = anth_str(part, "data");
            if (!mt || !data)
                return anth_fail(err, VENOM_E_INVAL, "messages[%zu].content[%zu] (image) needs media_type and data",
                                 mi, i);
            rc = anth_push(m, role,
                           json_pack("{s:s,s:{s:s,s:s,s:s}}", "type", "image", "source", "type", "base64",
                                     "media_type", mt, "data", data));
        } /* unknown part types are skipped */
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A canonical tool message -> a tool_result block (content: a string, or
 * text/image blocks when the content is an array of parts). */
static int anth_tool_result(const json_t *msg, size_t mi, json_t **out, char **err)
{
    const char *id = anth_str(msg, "tool_call_id");
    *out = NULL;
    if (!id || !*id)
        return anth_fail(err, VENOM_E_INVAL, "messages[%zu] (tool) has no tool_call_id", mi);
    json_t *b = json_pack("{s:s,s:s}", "type", "tool_result", "tool_use_id", id);
    int rc = 0;
    if (!b)
        return VENOM_E_NOMEM;
    const json_t *content = json_object_get(msg, "content");
    bool ok = true;
    if (json_is_array(content)) {
        anth_msgs tmp = {.arr = json_array()};
        ok = tmp.arr && (rc = anth_push_content(&tmp, "user", content, mi, err)) == 0;
        json_t *blocks = ok && json_array_size(tmp.arr) ? json_object_get(json_array_get(tmp.arr, 0), "content")
                                                        : NULL;
        ok = ok && anth_set(b, "content", blocks ? json_incref(blocks) : json_string(""));
        json_decref(tmp.arr);
    } else if (json_is_string(content)) {
        ok = anth_set(b, "content", json_incref((json_t *)content));
    } else if (content && !json_is_null(content)) {
        char *s = json_dumps(content, JSON_COMPACT | JSON_ENCODE_ANY);
        ok = s && anth_set(b, "content", json_string(s));
        free(s);
    }
    if (ok && json_is_true(json_object_get(msg, "is_error")))
        ok = anth_set(b, "is_error", json_true());
    if (!ok) {
        json_decref(b);
        return rc ? rc : VENOM_E_NOMEM;
    }
    *out = b;
    return 0;
}

static int anth_build_messages(const json_t *msgs, json_t *body, char **err)
{
    anth_msgs m = {.arr = json_array()};
    pu_buf system = {0};
    int rc = 0;
    if (!m.arr)
        return VENOM_E_NOMEM;
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg) {
        const char *role = anth_str(msg, "role");
        if (!json_is_object(msg) || !role) {
            rc = anth_fail(err, VENOM_E_INVAL, "messages[%zu] must be an object with a role", i);
            goto out;
        }
        const json_t *content = json_object_get(msg, "content");
        if (!strcmp(role, "system")) {
            char *t = NULL;
            rc = pu_content_text(content, "", &t, err);
            if (rc == 0 && *t && ((system.len && pu_buf_add(&system, "\n\n", 2) != 0) ||
                                  pu_buf_add(&system, t, strlen(t)) != 0))
                rc = VENOM_E_NOMEM;
            free(t);
            if (rc == VENOM_E_INVAL)
                rc = pu_err(err, rc, "messages[%zu] (system): %s", i, err && *err ? *err : "bad content");
        } else if (!strcmp(role, "user")) {
            rc = anth_push_content(&m, "user", content, i, err);
        } else if (!strcmp(role, "assistant")) {
            rc = anth_push_content(&m, "assistant", content, i, err);
            const json_t *tcs = json_object_get(msg, "tool_calls");
            size_t j;
            json_t *tc;
            json_array_foreach(tcs, j, tc) {
                if (rc != 0)
                    break;
                const char *id = anth_str(tc, "id"), *name = anth_str(tc, "name");
                if (!id || !name) {
                    rc = anth_fail(err, VENOM_E_INVAL, "messages[%zu].tool_calls[%zu] needs id and name", i, j);
                    break;
                }
                json_t *args = json_object_get(tc, "arguments");
                rc = anth_push(&m, "assistant",
                               json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", id, "name", name, "input",
                                         json_is_object(args) ? json_incref(args) : json_object()));
            }
        } else if (!strcmp(role, "tool")) {
            json_t *b = NULL;
            rc = anth_tool_result(msg, i, &b, err);
            if (rc == 0)
                rc = anth_push(&m, "user", b);
        } else {
            rc = anth_fail(err, VENOM_E_INVAL, "messages[%zu] has unknown role '%s' (system, user, assistant, tool)",
                           i, role);
        }
        if (rc != 0)
            goto out;
    }
    if (!json_array_size(m.arr)) {
        rc = anth_fail(err, VENOM_E_INVAL, "the request has no user or assistant message with content");
        goto out;
    }
    /* tool_result blocks first in each user turn (the API wants them before text) */
    json_t *wm;
    json_array_foreach(m.arr, i, wm) {
        json_t *blocks = json_object_get(wm, "content"), *sorted = json_array();
        if (!sorted) {
            rc = VENOM_E_NOMEM;
            goto out;
        }
        for (int pass = 0; pass < 2; pass++) {
            size_t j;
            json_t *b;
            json_array_foreach(blocks, j, b) {
                bool tr = !strcmp(anth_str(b, "type"), "tool_result");
                if (tr == (pass == 0))
                    json_array_append(sorted, b);
            }
        }
        json_object_set_new(wm, "content", sorted);
    }
    if (system.len && json_object_set_new(body, "system", json_string(pu_buf_str(&system))) != 0)
        rc = VENOM_E_NOMEM;
    if (rc == 0 && json_object_set(body, "messages", m.arr) != 0)
        rc = VENOM_E_NOMEM;
out:
    pu_buf_release(&system);
    json_decref(m.arr);
    return rc;
}

static int anth_build_tools(const json_t *req, json_t *body, char **err)
{
    const json_t *tools = json_object_get(req, "tools");
    if (!tools || json_is_null(tools) || !json_array_size(tools))
        return 0;
    if (!json_is_array(tools))
        return anth_fail(err, VENOM_E_INVAL, "tools must be an array");
    json_t *out = json_array();
    if (!out || json_object_set_new(body, "tools", out) != 0)
        return VENOM_E_NOMEM;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *name = anth_str(t, "name");
        if (!name || !*name)
            return anth_fail(err, VENOM_E_INVAL, "tools[%zu] has no name", i);
        json_t *params = json_object_get(t, "parameters");
        json_t *w = json_pack("{s:s}", "name", name);
        if (!w || json_array_append_new(out, w) != 0)
            return VENOM_E_NOMEM;
        const char *d = anth_str(t, "description");
        if (d && *d && !anth_set(w, "description", json_string(d)))
            return VENOM_E_NOMEM;
        if (!anth_set(w, "input_schema", json_is_object(params) ? json_incref(params)
                                                                : json_pack("{s:s,s:{}}", "type", "object",
                                                                            "properties")))
            return VENOM_E_NOMEM;
    }
    const char *choice = anth_str(req, "tool_choice");
    json_t *tc = json_object_get(req, "tool_choice");
    if (tc && !json_is_null(tc) && !choice)
        return anth_fail(err, VENOM_E_INVAL, "tool_choice must be \"auto\", \"none\" or \"required\"");
    if (!choice || !strcmp(choice, "auto"))
        return anth_set(body, "tool_choice", json_pack("{s:s}", "type", "auto")) ? 0 : VENOM_E_NOMEM;
    if (!strcmp(choice, "none"))
        return anth_set(body, "tool_choice", json_pack("{s:s}", "type", "none")) ? 0 : VENOM_E_NOMEM;
    if (!strcmp(choice, "required"))
        return anth_set(body, "tool_choice", json_pack("{s:s}", "type", "any")) ? 0 : VENOM_E_NOMEM;
    return anth_fail(err, VENOM_E_INVAL, "tool_choice '%s' is not one of auto, none, required", choice);
}

static int anth_build_sampling(const anth_config *cfg, const json_t *req, json_t *body, char **err)
{
    json_t *mt = json_object_get(req, "max_tokens");
    json_int_t max = cfg->max_tokens;
    if (mt && !json_is_null(mt)) {
        if (!json_is_integer(mt) || json_integer_value(mt) < 1)
            return anth_fail(err, VENOM_E_INVAL, "max_tokens must be a positive integer");
        max = json_integer_value(mt);
    }
    if (!anth_set(body, "max_tokens", json_integer(max)))
        return VENOM_E_NOMEM;
    static const char *const nums[][2] = {{"temperature", "temperature"}, {"top_p", "top_p"}};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(req, nums[i][0]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_number(v))
            return anth_fail(err, VENOM_E_INVAL, "%s must be a number", nums[i][0]);
        if (json_object_set(body, nums[i][1], v) != 0)
            return VENOM_E_NOMEM;
    }
    json_t *stop = json_object_get(req, "stop");
    if (json_is_string(stop)) {
        if (!anth_set(body, "stop_sequences", json_pack("[O]", stop)))
            return VENOM_E_NOMEM;
    } else if (json_is_array(stop) && json_array_size(stop)) {
        size_t i;
        json_t *s;
        json_array_foreach(stop, i, s) {
            if (!json_is_string(s))
                return anth_fail(err, VENOM_E_INVAL, "stop[%zu] must be a string", i);
        }
        if (json_object_set(body, "stop_sequences", stop) != 0)
            return VENOM_E_NOMEM;
    } else if (stop && !json_is_null(stop) && !json_is_array(stop)) {
        return anth_fail(err, VENOM_E_INVAL, "stop must be a string or an array of strings");
    }
    return 0;
}

int anth_build_chat(const anth_config *cfg, const json_t *req, json_t **http_req, bool *wire_stream, char **err)
{
    *http_req = NULL;
    if (!json_is_object(req))
        return anth_fail(err, VENOM_E_INVAL, "the chat request is not a JSON object");
    const char *model = anth_str(req, "model");
    if (!model || !*model)
        model = cfg->pu.model;
    if (!model || !*model)
        return anth_fail(err, VENOM_E_INVAL,
                         "no model: set providers.%s.model in the configuration or give model in the request",
                         cfg->pu.name);
    const json_t *msgs = json_object_get(req, "messages");
    if (!json_is_array(msgs))
        return anth_fail(err, VENOM_E_INVAL, "the chat request has no messages array");
    int rc = 0;
    char *url = NULL;
    json_t *body = json_pack("{s:s}", "model", model);
    if (!body)
        return VENOM_E_NOMEM;
    if ((rc = anth_build_messages(msgs, body, err)) != 0 || (rc = anth_build_tools(req, body, err)) != 0 ||
        (rc = anth_build_sampling(cfg, req, body, err)) != 0)
        goto out;
    if (cfg->pu.stream && !anth_set(body, "stream", json_true())) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    if (!(url = anth_url(cfg, "messages"))) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    rc = anth_request(cfg, "POST", url, body, cfg->pu.stream ? "sse" : "none", http_req, err);
    body = NULL;
    if (wire_stream)
        *wire_stream = cfg->pu.stream;
out:
    free(url);
    json_decref(body);
    return rc;
}

int anth_build_models(const anth_config *cfg, const char *after_id, json_t **http_req, char **err)
{
    char path[512];
    *http_req = NULL;
    for (const char *p = after_id; p && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.' || *p == ':'))
            return anth_fail(err, VENOM_E_NET, "the model list's last_id has characters unsafe in a URL");
    if (after_id && strlen(after_id) > 400)
        return anth_fail(err, VENOM_E_NET, "the model list's last_id is too long");
    if (after_id)
        snprintf(path, sizeof path, "models?limit=1000&after_id=%s", after_id);
    else
        snprintf(path, sizeof path, "models?limit=1000");
    char *url = anth_url(cfg, path);
    if (!url)
        return VENOM_E_NOMEM;
    int rc = anth_request(cfg, "GET", url, NULL, "none", http_req, err);
    free(url);
    return rc;
}

int anth_parse_models(const json_t *page, json_t *out, char **next, char **err)
{
    *next = NULL;
    json_t *data = json_object_get(page, "data");
    if (!json_is_array(data))
        return anth_fail(err, VENOM_E_NET, "malformed model list: no data array");
    size_t i;
    json_t *m;
    json_array_foreach(data, i, m) {
        const char *id = anth_str(m, "id");
        if (!id)
            continue;
        json_t *o = json_pack("{s:s}", "id", id);
        if (!o || json_array_append_new(out, o) != 0)
            return VENOM_E_NOMEM;
        if ((anth_str(m, "display_name") && json_object_set(o, "name", json_object_get(m, "display_name")) != 0) ||
            (anth_str(m, "created_at") && json_object_set(o, "created", json_object_get(m, "created_at")) != 0))
            return VENOM_E_NOMEM;
    }
    const char *last = anth_str(page, "last_id");
    if (json_is_true(json_object_get(page, "has_more")) && last && *last && !(*next = strdup(last)))
        return VENOM_E_NOMEM;
    return 0;
}

/* ------------------------------------------------------------ streaming */

void anth_stream_init(anth_stream *s, const char *model)
{
    memset(s, 0, sizeof *s);
    s->model = model ? strdup(model) : NULL;
}

void anth_stream_release(void *st)
{
    anth_stream *s = st;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_blocks; i++)
        json_decref(s->blocks[i].input);
    free(s->blocks);
    pu_tool_calls_release(&s->tools);
    pu_buf_release(&s->text);
    free(s->model);
    free(s->id);
    free(s->stop_reason);
    json_decref(s->usage);
    memset(s, 0, sizeof *s);
}

/* The block at data.index (grown on demand), or NULL with *rc set. */
static anth_block *anth_block_at(anth_stream *s, const json_t *data, size_t *idx, char **err, int *rc)
{
    int64_t iv = -1;
    if (!pu_int(data, "index", &iv) || iv < 0 || iv >= ANTH_MAX_BLOCKS) {
        *rc = anth_fail(err, VENOM_E_NET, "malformed chunk at event %zu: content block index missing or out of range",
                        s->events);
        return NULL;
    }
    *idx = (size_t)iv;
    if (*idx >= s->n_blocks) {
        anth_block *nb = realloc(s->blocks, (*idx + 1) * sizeof *nb);
        if (!nb) {
            *rc = VENOM_E_NOMEM;
            return NULL;
        }
        memset(nb + s->n_blocks, 0, (*idx + 1 - s->n_blocks) * sizeof *nb);
        s->blocks = nb;
        s->n_blocks = *idx + 1;
    }
    return &s->blocks[*idx];
}

static int anth_delta_text(anth_stream *s, const char *t, json_t *deltas)
{
    size_t n = strlen(t);
    if (!n)
        return 0;
    if (pu_buf_add(&s->text, t, n) != 0)
        return VENOM_E_NOMEM;
    if (deltas && json_array_append_new(deltas, pu_delta_text(t, n)) != 0)
        return VENOM_E_NOMEM;
    return 0;
}

/* Assign every field of the wire usage object u onto the stream's usage
 * (message_delta's values are cumulative totals: assign, never add). */
static int anth_usage_assign(anth_stream *s, const json_t *u)
{
    if (!json_is_object(u))
        return 0;
    if (!s->usage && !(s->usage = json_object()))
        return VENOM_E_NOMEM;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)u, k, v) {
        if (!json_is_null(v) && json_object_set(s->usage, k, v) != 0)
            return VENOM_E_NOMEM;
    }
    return 0;
}

/* The tool-call slot of a tool_use block (its wire index is the block's). */
static int anth_tool_slot(anth_stream *s, size_t idx, size_t *slot)
{
    return pu_tool_calls_at(&s->tools, (int64_t)idx, NULL, slot);
}

static int anth_on_block_start(anth_stream *s, const json_t *data, json_t *deltas, char **err)
{
    int rc = 0;
    size_t idx = 0;
    anth_block *b = anth_block_at(s, data, &idx, err, &rc);
    if (!b)
        return rc;
    const json_t *cb = json_object_get(data, "content_block");
    const char *type = anth_str(cb, "type");
    if (!type)
        return anth_fail(err, VENOM_E_NET, "malformed chunk at event %zu: content_block_start without a block type",
                         s->events);
    if (b->kind != BLK_NONE)
        return anth_fail(err, VENOM_E_NET, "malformed chunk at event %zu: content block %zu started twice",
                         s->events, idx);
    if (!strcmp(type, "text")) {
        b->kind = BLK_TEXT;
        const char *t = anth_str(cb, "text");
        return t ? anth_delta_text(s, t, deltas) : 0;
    }
    if (!strcmp(type, "tool_use")) {
        const char *id = anth_str(cb, "id"), *name = anth_str(cb, "name");
        size_t slot = 0;
        if (!id || !name)
            return anth_fail(err, VENOM_E_NET, "malformed chunk at event %zu: tool_use block without id or name",
                             s->events);
        b->kind = BLK_TOOL;
        if ((rc = anth_tool_slot(s, idx, &slot)) != 0 || (rc = pu_tool_call_set_id(&s->tools, slot, id)) != 0 ||
            (rc = pu_tool_call_set_name(&s->tools, slot, name)) != 0)
            return rc;
        json_t *in = json_object_get(cb, "input");
        if (json_is_object(in) && json_object_size(in))
            b->input = json_incref(in);
        if (deltas && json_array_append_new(deltas, pu_delta_tool_call(slot, id, name)) != 0)
            return VENOM_E_NOMEM;
        return 0;
    }
    b->kind = BLK_OTHER; /* thinking, redacted_thinking, server tools: content ignored (tokens still count) */
    return 0;
}

static int anth_on_block_delta(anth_stream *s, const json_t *data, json_t *deltas, char **err)
{
    int rc = 0;
    size_t idx = 0;
    anth_block *b = anth_block_at(s, data, &idx, err, &rc);
    if (!b)
        return rc;
    const json_t *d = json_object_get(data, "delta");
    const char *type = anth_str(d, "type");
    if (!type)
        return anth_fail(err, VENOM_E_NET, "malformed chunk at event %zu: content_block_delta without a delta type",
                         s->events);
    if (!strcmp(type, "text_delta")) {
        const char *t = anth_str(d, "text");
        if (!t)
            return anth_fail(err, VENOM_E_NET, "malformed chunk at event %zu: text_delta without text", s->events);
        if (b->kind == BLK_NONE)
            b->kind = BLK_TEXT;
        return anth_delta_text(s, t, deltas);
    }
    if (!strcmp(type, "input_json_delta")) {
        const char *pj = anth_str(d, "partial_json");
        size_t slot = 0;
        if (b->kind != BLK_TOOL)
            return anth_fail(err, VENOM_E_NET,
                             "malformed chunk at event %zu: input_json_delta for content block %zu, which is not a "
                             "tool_use block",
                             s->events, idx);
        if (!pj || !*pj)
            return 0;
        if ((rc = anth_tool_slot(s, idx, &slot)) != 0 ||
            (rc = pu_tool_call_add_args(&s->tools, slot, pj, strlen(pj))) != 0)
            return rc;
        if (deltas && json_array_append_new(deltas, pu_delta_tool_args(slot, pj, strlen(pj))) != 0)
            return VENOM_E_NOMEM;
        return 0;
    }
    return 0; /* thinking_delta, signature_delta, citations_delta, future types */
}

static int anth_set_text(char **dst, const char *s)
{
    char *d = strdup(s);
    if (!d)
        return VENOM_E_NOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

int anth_stream_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    anth_stream *s = st;
    s->events++;
    if (s->stopped)
        return 0; /* nothing after message_stop matters */
    json_error_t je;
    json_t *d = json_loadb(data ? data : "", data ? len : 0, 0, &je);
    if (!json_is_object(d)) {
        char clip[80];
        anth_clip(clip, sizeof clip, data ? data : "", data ? len : 0);
        int rc = anth_fail(err, VENOM_E_NET, "malformed chunk at event %zu: %s (data: %s)", s->events,
                           d ? "not a JSON object" : je.text, clip);
        json_decref(d);
        return rc;
    }
    const char *type = event && *event ? event : anth_str(d, "type");
    int rc = 0;
    if (!type) {
        rc = anth_fail(err, VENOM_E_NET, "malformed chunk at event %zu: no event name and no type", s->events);
    } else if (!strcmp(type, "message_start")) {
        const json_t *m = json_object_get(d, "message");
        const char *id = anth_str(m, "id"), *model = anth_str(m, "model");
        if (id)
            rc = anth_set_text(&s->id, id);
        if (rc == 0 && model && *model)
            rc = anth_set_text(&s->model, model);
        if (rc == 0)
            rc = anth_usage_assign(s, json_object_get(m, "usage"));
    } else if (!strcmp(type, "content_block_start")) {
        rc = anth_on_block_start(s, d, deltas, err);
    } else if (!strcmp(type, "content_block_delta")) {
        rc = anth_on_block_delta(s, d, deltas, err);
    } else if (!strcmp(type, "message_delta")) {
        const char *sr = anth_str(json_object_get(d, "delta"), "stop_reason");
        if (sr)
            rc = anth_set_text(&s->stop_reason, sr);
        if (rc == 0)
            rc = anth_usage_assign(s, json_object_get(d, "usage"));
    } else if (!strcmp(type, "message_stop")) {
        s->stopped = true;
    } else if (!strcmp(type, "error")) {
        const json_t *e = json_object_get(d, "error");
        const char *et = anth_str(e, "type"), *em = anth_str(e, "message");
        rc = anth_fail(err, VENOM_E_NET, "the server reported an error mid-stream at event %zu: %s%s%s", s->events,
                       et ? et : "error", em ? ": " : "", em ? em : "");
    } /* ping, content_block_stop and unknown events: nothing to do */
    json_decref(d);
    return rc;
}

int anth_stream_finish(void *st, json_t **response, char **err)
{
    anth_stream *s = st;
    *response = NULL;
    if (!s->stopped)
        return anth_fail(err, VENOM_E_NET,
                         "stream ended before message_stop (after %zu events): the answer is incomplete", s->events);
    /* a tool_use block whose input came whole at its start and no delta */
    for (size_t i = 0; i < s->n_blocks; i++) {
        size_t slot = 0;
        if (s->blocks[i].kind != BLK_TOOL || !s->blocks[i].input || anth_tool_slot(s, i, &slot) != 0)
            continue;
        if (!s->tools.v[slot].args.len && pu_tool_call_set_args(&s->tools, slot, s->blocks[i].input) != 0)
            return VENOM_E_NOMEM;
    }
    json_t *tcs = NULL;
    int rc = pu_tool_calls_json(&s->tools, &tcs);
    if (rc != 0)
        return rc;
    *response = pu_response(s->model, s->id, pu_buf_str(&s->text), tcs, anth_finish(s->stop_reason),
                            anth_usage(s->usage));
    return *response ? 0 : VENOM_E_NOMEM;
}

/* ------------------------------------------------------------ whole responses */

char *anth_error_message(const char *body, size_t len)
{
    json_t *r = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    json_t *e = json_object_get(r, "error");
    char *out = NULL;
    const char *et = anth_str(e, "type"), *em = anth_str(e, "message");
    if (json_is_object(e) && et && em) {
        size_t n = strlen(et) + strlen(em) + 3;
        if ((out = malloc(n)))
            snprintf(out, n, "%s: %s", et, em);
    } else {
        out = pu_error_message(body, len);
    }
    json_decref(r);
    return out;
}

int anth_parse_response(const char *body, size_t len, const char *model, json_t **response, char **err)
{
    *response = NULL;
    json_error_t je;
    json_t *r = json_loadb(body ? body : "", body ? len : 0, 0, &je);
    int rc = 0;
    pu_buf text = {0};
    json_t *tcs = NULL;
    if (!json_is_object(r)) {
        char clip[80];
        anth_clip(clip, sizeof clip, body ? body : "", body ? len : 0);
        rc = anth_fail(err, VENOM_E_NET, "malformed response body: %s (body: %s)", r ? "not a JSON object" : je.text,
                       clip);
        goto out;
    }
    if (json_is_object(json_object_get(r, "error"))) {
        char *m = anth_error_message(body, len);
        rc = anth_fail(err, VENOM_E_NET, "the server answered with an error: %s", m ? m : "(no message)");
        free(m);
        goto out;
    }
    const json_t *content = json_object_get(r, "content");
    if (!json_is_array(content)) {
        rc = anth_fail(err, VENOM_E_NET, "malformed response body: no content array");
        goto out;
    }
    if (!(tcs = json_array())) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    size_t i;
    json_t *b;
    json_array_foreach(content, i, b) {
        const char *type = anth_str(b, "type");
        if (type && !strcmp(type, "text")) {
            const char *t = anth_str(b, "text");
            if (t && pu_buf_add(&text, t, strlen(t)) != 0) {
                rc = VENOM_E_NOMEM;
                goto out;
            }
        } else if (type && !strcmp(type, "tool_use")) {
            const char *id = anth_str(b, "id"), *name = anth_str(b, "name");
            json_t *in = json_object_get(b, "input");
            if (!id || !name) {
                rc = anth_fail(err, VENOM_E_NET, "malformed response body: content[%zu] tool_use without id or name",
                               i);
                goto out;
            }
            json_t *tc = json_pack("{s:s,s:s}", "id", id, "name", name);
            char *raw = in && !json_is_object(in) ? json_dumps(in, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            rc = !tc ? VENOM_E_NOMEM
                 : json_is_object(in) ? (json_object_set(tc, "arguments", in) ? VENOM_E_NOMEM : 0)
                 : pu_tool_args_from_text(tc, raw ? raw : "", raw ? strlen(raw) : 0);
            free(raw);
            if (rc != 0) {
                json_decref(tc);
                goto out;
            }
            if (json_array_append_new(tcs, tc) != 0) {
                rc = VENOM_E_NOMEM;
                goto out;
            }
        } /* thinking, redacted_thinking, server tool blocks: skipped */
    }
    const char *m = anth_str(r, "model");
    *response = pu_response(m && *m ? m : model, anth_str(r, "id"), pu_buf_str(&text), tcs,
                            anth_finish(anth_str(r, "stop_reason")), anth_usage(json_object_get(r, "usage")));
    tcs = NULL;
    if (!*response)
        rc = VENOM_E_NOMEM;
out:
    json_decref(tcs);
    pu_buf_release(&text);
    json_decref(r);
    return rc;
}
