/*
 * wire.c — Ollama native chat translation; see wire.h.
 */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ request */

/* The text parts of content joined by sep, and (images not NULL) its image
 * parts as base64 strings appended to images. */
static int oll_content(const json_t *content, const char *sep, size_t mi, char **text, json_t *images, char **err)
{
    *text = NULL;
    json_t *parts = NULL;
    char *e = NULL;
    int rc = pu_content_parts(content, &parts, &e);
    if (rc == VENOM_OK)
        rc = pu_content_text(parts, sep, text, &e);
    if (rc != VENOM_OK) {
        if (e)
            pu_err(err, rc, "message %zu: %s", mi, e);
        goto out;
    }
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        const char *type = pu_str(p, "type", "");
        if (strcmp(type, "text") == 0)
            continue;
        if (strcmp(type, "image") != 0) {
            rc = pu_err(err, VENOM_E_INVAL, "message %zu: content part %zu has unknown type '%s'", mi, i, type);
            goto out;
        }
        const char *data = pu_str(p, "data", NULL);
        if (!data) {
            rc = pu_err(err, VENOM_E_INVAL, "message %zu: image part %zu needs base64 \"data\"", mi, i);
            goto out;
        }
        if (!images) {
            rc = pu_err(err, VENOM_E_INVAL, "message %zu: images are only supported in user messages", mi);
            goto out;
        }
        if (json_array_append_new(images, json_string(data))) {
            rc = VENOM_E_NOMEM;
            goto out;
        }
    }
out:
    free(e);
    json_decref(parts);
    if (rc != VENOM_OK) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

static int oll_tool_calls(const json_t *calls, size_t mi, json_t **out, char **err)
{
    *out = json_array();
    if (!*out)
        return VENOM_E_NOMEM;
    if (!json_is_array(calls))
        return pu_err(err, VENOM_E_INVAL, "message %zu: tool_calls must be an array", mi);
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c)
    {
        const char *name = pu_str(c, "name", NULL), *id = pu_str(c, "id", "");
        if (!name || !*name)
            return pu_err(err, VENOM_E_INVAL, "message %zu: tool call %zu needs a string \"name\"", mi, i);
        json_t *args = json_object_get(c, "arguments");
        /* Ollama wants an object; a call whose arguments were invalid
         * (arguments_raw) is sent back with {} */
        json_t *a = json_is_object(args) ? json_incref(args) : json_object();
        json_t *w = a ? json_pack("{s:{s:s, s:o}}", "function", "name", name, "arguments", a) : NULL;
        /* newer builds send and accept ids; the tool messages name them in tool_call_id */
        if (w && *id && json_object_set_new(w, "id", json_string(id))) {
            json_decref(w);
            w = NULL;
        }
        if (!w || json_array_append_new(*out, w))
            return VENOM_E_NOMEM;
    }
    return VENOM_OK;
}

/* The name of the tool that call id belongs to, from the assistant messages
 * before message mi; NULL when not found. */
static const char *oll_tool_name(const json_t *messages, size_t mi, const char *id)
{
    for (size_t i = mi; i-- > 0;) {
        const json_t *m = json_array_get(messages, i);
        if (strcmp(pu_str(m, "role", ""), "assistant") != 0)
            continue;
        size_t k;
        const json_t *c;
        json_array_foreach(json_object_get(m, "tool_calls"), k, c)
        {
            if (strcmp(pu_str(c, "id", ""), id) == 0)
                return pu_str(c, "name", NULL);
        }
    }
    return NULL;
}

static int oll_message(const json_t *messages, size_t mi, json_t **out, char **err)
{
    *out = NULL;
    const json_t *m = json_array_get(messages, mi);
    if (!json_is_object(m))
        return pu_err(err, VENOM_E_INVAL, "message %zu is not an object", mi);
    const char *role = pu_str(m, "role", "");
    const json_t *content = json_object_get(m, "content");
    char *text = NULL;
    json_t *w = NULL, *images = NULL, *calls = NULL;
    int rc = VENOM_OK;
    if (strcmp(role, "system") == 0 || strcmp(role, "assistant") == 0) {
        if ((rc = oll_content(content, *role == 's' ? "\n\n" : "", mi, &text, NULL, err)) != VENOM_OK)
            goto out;
        if (!(w = json_pack("{s:s, s:s}", "role", role, "content", text)))
            goto nomem;
        const json_t *tc = json_object_get(m, "tool_calls");
        if (*role == 'a' && json_is_array(tc) && json_array_size(tc) > 0) {
            if ((rc = oll_tool_calls(tc, mi, &calls, err)) != VENOM_OK)
                goto out;
            if (json_object_set(w, "tool_calls", calls))
                goto nomem;
        }
    } else if (strcmp(role, "user") == 0) {
        if (!(images = json_array()))
            goto nomem;
        if ((rc = oll_content(content, "\n", mi, &text, images, err)) != VENOM_OK)
            goto out;
        if (!(w = json_pack("{s:s, s:s}", "role", "user", "content", text)))
            goto nomem;
        if (json_array_size(images) > 0 && json_object_set(w, "images", images))
            goto nomem;
    } else if (strcmp(role, "tool") == 0) {
        const char *id = pu_str(m, "tool_call_id", "");
        const char *name = pu_str(m, "name", NULL);
        if (!name || !*name)
            name = *id ? oll_tool_name(messages, mi, id) : NULL;
        if ((rc = oll_content(content, "\n", mi, &text, NULL, err)) != VENOM_OK)
            goto out;
        if (!(w = json_pack("{s:s, s:s}", "role", "tool", "content", text)))
            goto nomem;
        if (name && *name && json_object_set_new(w, "tool_name", json_string(name)))
            goto nomem;
        if (*id && json_object_set_new(w, "tool_call_id", json_string(id)))
            goto nomem;
    } else {
        rc = pu_err(err, VENOM_E_INVAL, "message %zu has role '%s': expected system, user, assistant or tool", mi,
                    role);
        goto out;
    }
    goto out;
nomem:
    rc = VENOM_E_NOMEM;
out:
    free(text);
    json_decref(images);
    json_decref(calls);
    if (rc != VENOM_OK)
        json_decref(w);
    else
        *out = w;
    return rc;
}

/* The "options" object: sampling from req, num_ctx from cfg. */
static int oll_options(const pu_config *cfg, const json_t *req, json_t **out, char **err)
{
    json_t *o = json_object();
    json_t *v;
    int64_t n;
    int rc = VENOM_OK;
    if (!o)
        return VENOM_E_NOMEM;
    static const char *const reals[] = {"temperature", "top_p"};
    for (size_t i = 0; i < 2; i++) {
        v = json_object_get(req, reals[i]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_number(v)) {
            rc = pu_err(err, VENOM_E_INVAL, "\"%s\" must be a number", reals[i]);
            goto out;
        }
        if (json_object_set(o, reals[i], v))
            goto nomem;
    }
    v = json_object_get(req, "seed");
    if (v && !json_is_null(v)) {
        if (!pu_int(req, "seed", &n)) {
            rc = pu_err(err, VENOM_E_INVAL, "\"seed\" must be an integer");
            goto out;
        }
        if (json_object_set_new(o, "seed", json_integer((json_int_t)n)))
            goto nomem;
    }
    v = json_object_get(req, "max_tokens");
    if (v && !json_is_null(v)) {
        if (!pu_int(req, "max_tokens", &n) || n < 1) {
            rc = pu_err(err, VENOM_E_INVAL, "\"max_tokens\" must be a positive integer");
            goto out;
        }
        if (json_object_set_new(o, "num_predict", json_integer((json_int_t)n)))
            goto nomem;
    }
    v = json_object_get(req, "stop");
    if (v && !json_is_null(v)) {
        json_t *stop = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
        size_t i;
        json_t *s;
        bool ok = json_is_array(stop);
        json_array_foreach(stop, i, s) ok = ok && json_is_string(s);
        if (!ok) {
            json_decref(stop);
            rc = pu_err(err, VENOM_E_INVAL, "\"stop\" must be a string or an array of strings");
            goto out;
        }
        if (json_object_set_new(o, "stop", stop))
            goto nomem;
    }
    v = json_object_get(cfg->options, "num_ctx");
    if (v && !json_is_null(v)) {
        if (!pu_int(cfg->options, "num_ctx", &n) || n < 1) {
            rc = pu_err(err, VENOM_E_INVAL, "providers.%s.options.num_ctx must be a positive integer", cfg->name);
            goto out;
        }
        if (json_object_set_new(o, "num_ctx", json_integer((json_int_t)n)))
            goto nomem;
    }
    goto out;
nomem:
    rc = VENOM_E_NOMEM;
out:
    if (rc != VENOM_OK)
        json_decref(o);
    else
        *out = o;
    return rc;
}

int oll_chat_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **err)
{
    *http_req = NULL;
    json_t *body = NULL, *msgs = NULL, *w = NULL;
    char *url = NULL;
    int rc = VENOM_OK;
    if (!json_is_object(req))
        return pu_err(err, VENOM_E_INVAL, "the chat request is not a JSON object");
    const char *model = pu_str(req, "model", "");
    if (!*model)
        model = cfg->model;
    if (!*model)
        return pu_err(err, VENOM_E_INVAL,
                      "no model: set providers.%s.model in the configuration (e.g. \"llama3.2\") or \"model\" in "
                      "the request",
                      cfg->name);
    const json_t *messages = json_object_get(req, "messages");
    if (!json_is_array(messages) || json_array_size(messages) == 0)
        return pu_err(err, VENOM_E_INVAL, "the chat request needs a non-empty \"messages\" array");
    if (!(body = json_pack("{s:s}", "model", model)) || !(msgs = json_array()))
        goto nomem;
    for (size_t i = 0; i < json_array_size(messages); i++) {
        if ((rc = oll_message(messages, i, &w, err)) != VENOM_OK)
            goto out;
        if (json_array_append_new(msgs, w))
            goto nomem;
    }
    if (json_object_set(body, "messages", msgs))
        goto nomem;
    const json_t *tools = json_object_get(req, "tools");
    const char *choice = pu_str(req, "tool_choice", "auto");
    if (strcmp(choice, "auto") != 0 && strcmp(choice, "none") != 0 && strcmp(choice, "required") != 0) {
        rc = pu_err(err, VENOM_E_INVAL, "\"tool_choice\" is '%s': expected auto, none or required", choice);
        goto out;
    }
    /* Ollama has no tool_choice: "none" is sent as no tools at all */
    if (tools && !json_is_null(tools) && strcmp(choice, "none") != 0 &&
        (!json_is_array(tools) || json_array_size(tools) > 0)) {
        if ((rc = pu_tools_function_shape(tools, &w, err)) != VENOM_OK)
            goto out;
        if (json_object_set_new(body, "tools", w))
            goto nomem;
    }
    if ((rc = oll_options(cfg, req, &w, err)) != VENOM_OK)
        goto out;
    if (json_object_size(w) > 0 ? json_object_set_new(body, "options", w) : (json_decref(w), 0))
        goto nomem;
    const json_t *ka = json_object_get(cfg->options, "keep_alive");
    if (json_is_string(ka) || json_is_number(ka)) {
        if (json_object_set(body, "keep_alive", (json_t *)ka))
            goto nomem;
    } else if (ka && !json_is_null(ka)) {
        rc = pu_err(err, VENOM_E_INVAL, "providers.%s.options.keep_alive must be a duration like \"5m\" or seconds",
                    cfg->name);
        goto out;
    }
    const json_t *think = json_object_get(cfg->options, "think");
    if ((json_is_boolean(think) || json_is_string(think)) && json_object_set(body, "think", (json_t *)think))
        goto nomem;
    if (json_object_set_new(body, "stream", json_boolean(cfg->stream)))
        goto nomem;
    if (!(url = pu_url(cfg, "/api/chat")))
        goto nomem;
    rc = pu_http_request(cfg, "POST", url, body, cfg->stream ? "ndjson" : "none", "Authorization", "Bearer ",
                         http_req, err);
    body = NULL;
    goto out;
nomem:
    rc = VENOM_E_NOMEM;
out:
    free(url);
    json_decref(msgs);
    json_decref(body);
    return rc;
}

/* ------------------------------------------------------------ replies */

int oll_stream_init(void *st, const char *requested_model)
{
    oll_stream *s = st;
    *s = (oll_stream){0};
    if (requested_model && !(s->model = strdup(requested_model)))
        return VENOM_E_NOMEM;
    return VENOM_OK;
}

void oll_stream_release(void *st)
{
    oll_stream *s = st;
    if (!s)
        return;
    free(s->model);
    pu_buf_release(&s->text);
    pu_tool_calls_release(&s->calls);
    json_decref(s->final);
    *s = (oll_stream){0};
}

/* Tool calls of one line: each arrives complete, so each is a new call. */
static int oll_take_calls(oll_stream *s, const json_t *calls, json_t *deltas)
{
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c)
    {
        const json_t *fn = json_object_get(c, "function");
        char idbuf[32];
        const char *id = pu_id_text(json_object_get(c, "id"), idbuf, sizeof idbuf);
        const char *name = pu_str(fn, "name", NULL);
        size_t slot;
        int rc = pu_tool_calls_at(&s->calls, (int64_t)s->calls.n, NULL, &slot);
        if (rc == VENOM_OK && id && *id)
            rc = pu_tool_call_set_id(&s->calls, slot, id);
        if (rc == VENOM_OK && name)
            rc = pu_tool_call_set_name(&s->calls, slot, name);
        if (rc == VENOM_OK)
            rc = pu_tool_call_set_args(&s->calls, slot, json_object_get(fn, "arguments"));
        if (rc != VENOM_OK)
            return rc;
        if (deltas) {
            char cid[32];
            snprintf(cid, sizeof cid, "call_%zu", slot);
            const json_t *a = json_object_get(fn, "arguments");
            char *txt = json_is_string(a) ? strdup(json_string_value(a))
                        : a               ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY)
                                          : strdup("{}");
            if (!txt || json_array_append_new(deltas, pu_delta_tool_call(slot, id && *id ? id : cid, name)) ||
                json_array_append_new(deltas, pu_delta_tool_args(slot, txt, strlen(txt)))) {
                free(txt);
                return VENOM_E_NOMEM;
            }
            free(txt);
        }
    }
    return VENOM_OK;
}

/* One parsed line (an object) into s. */
static int oll_take_line(oll_stream *s, const json_t *j, const char *where, json_t *deltas, char **err)
{
    const json_t *eo = json_object_get(j, "error");
    if (eo && !json_is_null(eo)) {
        const char *m = json_is_string(eo) ? json_string_value(eo) : pu_str(eo, "message", "(no message)");
        return pu_err(err, VENOM_E_NET, "the server reported an error %s: %s", where, m);
    }
    int rc = VENOM_OK;
    const char *model = pu_str(j, "model", "");
    if (*model) {
        char *d = strdup(model);
        if (!d)
            return VENOM_E_NOMEM;
        free(s->model);
        s->model = d;
    }
    const json_t *msg = json_object_get(j, "message");
    const json_t *c = json_object_get(msg, "content");
    if (json_is_string(c) && json_string_length(c) > 0) {
        rc = pu_buf_add(&s->text, json_string_value(c), json_string_length(c));
        if (rc == VENOM_OK && deltas &&
            json_array_append_new(deltas, pu_delta_text(json_string_value(c), json_string_length(c))))
            rc = VENOM_E_NOMEM;
    }
    if (rc == VENOM_OK)
        rc = oll_take_calls(s, json_object_get(msg, "tool_calls"), deltas);
    if (rc == VENOM_OK && json_is_true(json_object_get(j, "done"))) {
        s->done = true;
        json_decref(s->final);
        s->final = json_incref((json_t *)j);
    }
    return rc;
}

int oll_stream_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    oll_stream *s = st;
    (void)event;
    s->lines++;
    size_t a = 0;
    while (a < len && (data[a] == ' ' || data[a] == '\t' || data[a] == '\r' || data[a] == '\n'))
        a++;
    if (a == len || s->done)
        return VENOM_OK; /* empty line; nothing counts after done: true */
    json_error_t e;
    json_t *j = json_loadb(data + a, len - a, JSON_DECODE_ANY, &e);
    if (!json_is_object(j)) {
        char ex[64];
        pu_excerpt(data + a, len - a, ex, sizeof ex);
        json_decref(j);
        return pu_err(err, VENOM_E_NET, "malformed chunk at line %zu: %s: %s", s->lines,
                      j ? "not a JSON object" : e.text, ex);
    }
    char where[48];
    snprintf(where, sizeof where, "in the stream at line %zu", s->lines);
    int rc = oll_take_line(s, j, where, deltas, err);
    json_decref(j);
    if (rc == VENOM_E_NOMEM)
        pu_err(err, rc, "out of memory reading the stream");
    return rc;
}

json_t *oll_usage(const json_t *final)
{
    int64_t in = 0, out = 0;
    bool hi = pu_int(final, "prompt_eval_count", &in);
    bool ho = pu_int(final, "eval_count", &out);
    json_t *raw = json_object();
    static const char *const keys[] = {"prompt_eval_count", "eval_count",    "total_duration",
                                       "load_duration",     "prompt_eval_duration", "eval_duration"};
    for (size_t i = 0; raw && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(final, keys[i]);
        if (json_is_number(v) && json_object_set(raw, keys[i], v)) {
            json_decref(raw);
            return NULL;
        }
    }
    json_t *u = raw ? pu_usage(in, 0, 0, out, !hi && !ho, raw) : NULL;
    json_decref(raw);
    return u;
}

static const char *oll_finish(const char *reason)
{
    if (!reason || strcmp(reason, "stop") == 0)
        return "stop";
    if (strcmp(reason, "length") == 0)
        return "length";
    return "other";
}

static int oll_response(oll_stream *s, json_t **response, char **err)
{
    json_t *calls = NULL;
    int rc = pu_tool_calls_json(&s->calls, &calls);
    if (rc == VENOM_OK) {
        *response = pu_response(s->model, NULL, pu_buf_str(&s->text), calls,
                                oll_finish(pu_str(s->final, "done_reason", NULL)), oll_usage(s->final));
        rc = *response ? VENOM_OK : VENOM_E_NOMEM;
    }
    if (rc == VENOM_E_NOMEM)
        pu_err(err, rc, "out of memory building the response");
    return rc;
}

int oll_stream_finish(void *st, json_t **response, char **err)
{
    oll_stream *s = st;
    *response = NULL;
    if (!s->done)
        return pu_err(err, VENOM_E_NET,
                      "stream ended before done: true after %zu lines: the answer is incomplete", s->lines);
    return oll_response(s, response, err);
}

int oll_body(void *st, const char *body, size_t len, json_t **response, char **err)
{
    oll_stream *s = st;
    *response = NULL;
    json_error_t e;
    json_t *j = json_loadb(body, len, 0, &e);
    int rc;
    if (!json_is_object(j)) {
        char ex[64];
        pu_excerpt(body, len, ex, sizeof ex);
        rc = pu_err(err, VENOM_E_NET, "the reply is not a JSON object (%s): %s", j ? "other JSON" : e.text, ex);
        goto out;
    }
    if ((rc = oll_take_line(s, j, "in the reply", NULL, err)) != VENOM_OK)
        goto out;
    if (!s->done) {
        rc = pu_err(err, VENOM_E_NET, "the reply has no \"done\": true: the answer is incomplete");
        goto out;
    }
    rc = oll_response(s, response, err);
out:
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------ embeddings, models */

int oll_embed_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **err)
{
    *http_req = NULL;
    const char *model = pu_str(req, "model", "");
    if (!*model)
        model = pu_str(cfg->options, "embedding_model", "");
    if (!*model)
        model = cfg->model;
    if (!*model)
        return pu_err(err, VENOM_E_INVAL,
                      "no embedding model: set providers.%s.options.embedding_model or \"model\" in the request",
                      cfg->name);
    const json_t *input = json_object_get(req, "input");
    bool ok = json_is_string(input) || (json_is_array(input) && json_array_size(input) > 0);
    size_t i;
    json_t *s;
    if (json_is_array(input))
        json_array_foreach(input, i, s) ok = ok && json_is_string(s);
    if (!ok)
        return pu_err(err, VENOM_E_INVAL, "\"input\" must be a string or a non-empty array of strings");
    json_t *body = json_pack("{s:s, s:O}", "model", model, "input", (json_t *)input);
    char *url = pu_url(cfg, "/api/embed");
    if (!body || !url) {
        json_decref(body);
        free(url);
        return VENOM_E_NOMEM;
    }
    int rc = pu_http_request(cfg, "POST", url, body, "none", "Authorization", "Bearer ", http_req, err);
    free(url);
    return rc;
}

int oll_embed_result(const json_t *body, json_t **out, char **err)
{
    *out = NULL;
    const json_t *embs = json_object_get(body, "embeddings");
    size_t i;
    json_t *v;
    if (!json_is_array(embs))
        return pu_err(err, VENOM_E_NET, "the embed reply has no \"embeddings\" array");
    json_array_foreach(embs, i, v)
    {
        if (!json_is_array(v))
            return pu_err(err, VENOM_E_NET, "the embed reply's embedding %zu is not an array", i);
    }
    int64_t pt = 0;
    bool have = pu_int(body, "prompt_eval_count", &pt);
    json_t *raw = have ? json_pack("{s:I}", "prompt_eval_count", (json_int_t)pt) : json_null();
    *out = json_pack("{s:s, s:O, s:{s:I, s:b, s:o}}", "model", pu_str(body, "model", ""), "embeddings", embs,
                     "usage", "input_tokens", (json_int_t)pt, "missing", !have, "raw", raw);
    return *out ? VENOM_OK : VENOM_E_NOMEM;
}

int oll_models_request(const pu_config *cfg, json_t **http_req, char **err)
{
    char *url = pu_url(cfg, "/api/tags");
    if (!url)
        return VENOM_E_NOMEM;
    int rc = pu_http_request(cfg, "GET", url, NULL, "none", "Authorization", "Bearer ", http_req, err);
    free(url);
    return rc;
}

int oll_models_result(const json_t *body, json_t **out, char **err)
{
    *out = NULL;
    const json_t *list = json_object_get(body, "models");
    if (!json_is_array(list))
        return pu_err(err, VENOM_E_NET, "the tags reply has no \"models\" array");
    json_t *models = json_array();
    if (!models)
        return VENOM_E_NOMEM;
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        const char *name = pu_str(d, "name", NULL);
        if (!name)
            name = pu_str(d, "model", NULL);
        if (!name)
            continue;
        json_t *m = json_pack("{s:s}", "id", name);
        int64_t size;
        const json_t *det = json_object_get(d, "details");
        static const char *const keys[] = {"family", "parameter_size", "quantization_level"};
        bool bad = !m || (pu_int(d, "size", &size) && json_object_set_new(m, "size", json_integer(size)));
        for (size_t k = 0; !bad && k < 3; k++) {
            const char *v = pu_str(det, keys[k], NULL);
            bad = v && json_object_set_new(m, keys[k], json_string(v));
        }
        if (bad || json_array_append_new(models, m)) {
            json_decref(models);
            return VENOM_E_NOMEM;
        }
    }
    *out = json_pack("{s:o}", "models", models);
    return *out ? VENOM_OK : VENOM_E_NOMEM;
}
