/*
 * wire.c — OpenAI Chat Completions translation; see wire.h.
 */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ request */

/* pu_content_parts / pu_content_text with the message's position in the error. */
static int oai_parts(const json_t *content, size_t mi, json_t **parts, char **err)
{
    char *e = NULL;
    int rc = pu_content_parts(content, parts, &e);
    if (rc != VENOM_OK && e)
        pu_err(err, rc, "message %zu: %s", mi, e);
    free(e);
    return rc;
}

static int oai_text(const json_t *content, const char *sep, size_t mi, char **text, char **err)
{
    char *e = NULL;
    int rc = pu_content_text(content, sep, text, &e);
    if (rc != VENOM_OK && e)
        pu_err(err, rc, "message %zu: %s", mi, e);
    free(e);
    return rc;
}

static int oai_image_part(const json_t *p, size_t mi, size_t pi, json_t **out, char **err)
{
    const char *mt = pu_str(p, "media_type", NULL), *data = pu_str(p, "data", NULL);
    if (!mt || !*mt || !data)
        return pu_err(err, VENOM_E_INVAL, "message %zu: image part %zu needs \"media_type\" and base64 \"data\"",
                      mi, pi);
    size_t n = strlen(mt) + strlen(data) + 16;
    char *url = malloc(n);
    if (!url)
        return VENOM_E_NOMEM;
    snprintf(url, n, "data:%s;base64,%s", mt, data);
    *out = json_pack("{s:s, s:{s:s}}", "type", "image_url", "image_url", "url", url);
    free(url);
    return *out ? VENOM_OK : VENOM_E_NOMEM;
}

/* User content: a string stays a string; parts become OpenAI parts. */
static int oai_user_content(const json_t *content, size_t mi, json_t **out, char **err)
{
    *out = NULL;
    if (json_is_string(content)) {
        *out = json_incref((json_t *)content);
        return VENOM_OK;
    }
    json_t *parts = NULL, *arr = json_array();
    int rc = oai_parts(content, mi, &parts, err);
    if (rc == VENOM_OK && !arr)
        rc = VENOM_E_NOMEM;
    size_t i;
    json_t *p;
    if (rc == VENOM_OK)
        json_array_foreach(parts, i, p)
        {
            const char *type = pu_str(p, "type", "");
            json_t *w = NULL;
            if (strcmp(type, "text") == 0)
                w = json_pack("{s:s, s:s}", "type", "text", "text", pu_str(p, "text", ""));
            else if (strcmp(type, "image") == 0) {
                if ((rc = oai_image_part(p, mi, i, &w, err)) != VENOM_OK)
                    break;
            } else {
                rc = pu_err(err, VENOM_E_INVAL, "message %zu: content part %zu has unknown type '%s'", mi, i, type);
                break;
            }
            if (json_array_append_new(arr, w)) {
                rc = VENOM_E_NOMEM;
                break;
            }
        }
    json_decref(parts);
    if (rc != VENOM_OK)
        json_decref(arr);
    else
        *out = arr;
    return rc;
}

static int oai_tool_calls(const json_t *calls, size_t mi, json_t **out, char **err)
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
        const char *id = pu_str(c, "id", NULL), *name = pu_str(c, "name", NULL);
        if (!id || !*id || !name || !*name)
            return pu_err(err, VENOM_E_INVAL, "message %zu: tool call %zu needs a string \"id\" and \"name\"", mi, i);
        json_t *args = json_object_get(c, "arguments");
        char *text = NULL;
        if (json_is_object(args))
            text = json_dumps(args, JSON_COMPACT);
        else
            text = strdup(pu_str(c, "arguments_raw", "{}"));
        if (!text)
            return VENOM_E_NOMEM;
        json_t *w = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function", "name", name,
                              "arguments", text);
        free(text);
        if (!w || json_array_append_new(*out, w))
            return VENOM_E_NOMEM;
    }
    return VENOM_OK;
}

static int oai_message(const json_t *m, size_t mi, json_t **out, char **err)
{
    *out = NULL;
    if (!json_is_object(m))
        return pu_err(err, VENOM_E_INVAL, "message %zu is not an object", mi);
    const char *role = pu_str(m, "role", "");
    const json_t *content = json_object_get(m, "content");
    char *text = NULL;
    json_t *w = NULL, *c = NULL;
    int rc = VENOM_OK;
    if (strcmp(role, "system") == 0) {
        if ((rc = oai_text(content, "\n\n", mi, &text, err)) == VENOM_OK)
            w = json_pack("{s:s, s:s}", "role", "system", "content", text);
    } else if (strcmp(role, "user") == 0) {
        if ((rc = oai_user_content(content, mi, &c, err)) == VENOM_OK) {
            w = json_pack("{s:s, s:o}", "role", "user", "content", c); /* steals c */
            c = NULL;
        }
    } else if (strcmp(role, "assistant") == 0) {
        const json_t *calls = json_object_get(m, "tool_calls");
        bool has_calls = json_is_array(calls) && json_array_size(calls) > 0;
        if ((rc = oai_text(content, "", mi, &text, err)) != VENOM_OK)
            goto out;
        w = json_pack("{s:s, s:o}", "role", "assistant", "content",
                      (*text || !has_calls) ? json_string(text) : json_null());
        if (w && has_calls) {
            if ((rc = oai_tool_calls(calls, mi, &c, err)) != VENOM_OK)
                goto out;
            if (json_object_set_new(w, "tool_calls", c))
                rc = VENOM_E_NOMEM;
            c = NULL;
        }
    } else if (strcmp(role, "tool") == 0) {
        const char *id = pu_str(m, "tool_call_id", NULL);
        if (!id || !*id) {
            rc = pu_err(err, VENOM_E_INVAL, "message %zu: a tool message needs a string \"tool_call_id\"", mi);
            goto out;
        }
        if ((rc = oai_text(content, "\n", mi, &text, err)) == VENOM_OK)
            w = json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id", id, "content", text);
    } else {
        rc = pu_err(err, VENOM_E_INVAL, "message %zu has role '%s': expected system, user, assistant or tool", mi,
                    role);
        goto out;
    }
    if (rc == VENOM_OK && !w)
        rc = VENOM_E_NOMEM;
out:
    free(text);
    json_decref(c);
    if (rc != VENOM_OK)
        json_decref(w);
    else
        *out = w;
    return rc;
}

/* Copy the sampling options of req into body. */
static int oai_sampling(const pu_config *cfg, const json_t *req, json_t *body, char **err)
{
    int64_t n;
    json_t *v;
    if (json_object_get(req, "max_tokens") && !json_is_null(json_object_get(req, "max_tokens"))) {
        if (!pu_int(req, "max_tokens", &n) || n < 1)
            return pu_err(err, VENOM_E_INVAL, "\"max_tokens\" must be a positive integer");
        const char *field = pu_bool(cfg->options, "max_completion_tokens", false) ? "max_completion_tokens"
                                                                                 : "max_tokens";
        if (json_object_set_new(body, field, json_integer((json_int_t)n)))
            return VENOM_E_NOMEM;
    }
    static const char *const reals[] = {"temperature", "top_p"};
    for (size_t i = 0; i < 2; i++) {
        v = json_object_get(req, reals[i]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_number(v))
            return pu_err(err, VENOM_E_INVAL, "\"%s\" must be a number", reals[i]);
        if (json_object_set(body, reals[i], v))
            return VENOM_E_NOMEM;
    }
    v = json_object_get(req, "stop");
    if (v && !json_is_null(v)) {
        bool ok = json_is_string(v) || json_is_array(v);
        size_t i;
        json_t *s;
        if (json_is_array(v))
            json_array_foreach(v, i, s) ok = ok && json_is_string(s);
        if (!ok)
            return pu_err(err, VENOM_E_INVAL, "\"stop\" must be a string or an array of strings");
        if (json_object_set(body, "stop", v))
            return VENOM_E_NOMEM;
    }
    v = json_object_get(req, "seed");
    if (v && !json_is_null(v)) {
        if (!pu_int(req, "seed", &n))
            return pu_err(err, VENOM_E_INVAL, "\"seed\" must be an integer");
        if (json_object_set_new(body, "seed", json_integer((json_int_t)n)))
            return VENOM_E_NOMEM;
    }
    return VENOM_OK;
}

static const char *oai_model(const pu_config *cfg, const json_t *req)
{
    const char *m = pu_str(req, "model", "");
    return *m ? m : cfg->model;
}

int oai_chat_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **err)
{
    *http_req = NULL;
    json_t *body = NULL, *msgs = NULL, *w = NULL;
    char *url = NULL;
    int rc = VENOM_OK;
    if (!json_is_object(req))
        return pu_err(err, VENOM_E_INVAL, "the chat request is not a JSON object");
    const char *model = oai_model(cfg, req);
    if (!*model)
        return pu_err(err, VENOM_E_INVAL,
                      "no model: set providers.%s.model in the configuration or \"model\" in the request", cfg->name);
    const json_t *messages = json_object_get(req, "messages");
    if (!json_is_array(messages) || json_array_size(messages) == 0)
        return pu_err(err, VENOM_E_INVAL, "the chat request needs a non-empty \"messages\" array");
    if (!(body = json_pack("{s:s}", "model", model)) || !(msgs = json_array())) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        if ((rc = oai_message(m, i, &w, err)) != VENOM_OK)
            goto out;
        if (json_array_append_new(msgs, w)) {
            rc = VENOM_E_NOMEM;
            goto out;
        }
    }
    if (json_object_set(body, "messages", msgs)) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    const json_t *tools = json_object_get(req, "tools");
    if (tools && !json_is_null(tools) && (!json_is_array(tools) || json_array_size(tools) > 0)) {
        if ((rc = pu_tools_function_shape(tools, &w, err)) != VENOM_OK) {
            json_decref(w);
            goto out;
        }
        if (json_object_set_new(body, "tools", w)) {
            rc = VENOM_E_NOMEM;
            goto out;
        }
        const char *choice = pu_str(req, "tool_choice", NULL);
        if (choice) {
            if (strcmp(choice, "auto") != 0 && strcmp(choice, "none") != 0 && strcmp(choice, "required") != 0) {
                rc = pu_err(err, VENOM_E_INVAL, "\"tool_choice\" is '%s': expected auto, none or required", choice);
                goto out;
            }
            if (json_object_set_new(body, "tool_choice", json_string(choice))) {
                rc = VENOM_E_NOMEM;
                goto out;
            }
        }
    }
    if ((rc = oai_sampling(cfg, req, body, err)) != VENOM_OK)
        goto out;
    if (json_object_set_new(body, "stream", json_boolean(cfg->stream))) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    if (cfg->stream && pu_bool(cfg->options, "stream_usage", true) &&
        json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1))) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    if (!(url = pu_url(cfg, "/chat/completions"))) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    rc = pu_http_request(cfg, "POST", url, body, cfg->stream ? "sse" : "none", "Authorization", "Bearer ", http_req,
                         err);
    body = NULL;
out:
    free(url);
    json_decref(msgs);
    json_decref(body);
    return rc;
}

/* ------------------------------------------------------------ replies */

int oai_stream_init(void *st, const char *requested_model)
{
    oai_stream *s = st;
    *s = (oai_stream){0};
    if (requested_model && !(s->model = strdup(requested_model)))
        return VENOM_E_NOMEM;
    return VENOM_OK;
}

void oai_stream_release(void *st)
{
    oai_stream *s = st;
    if (!s)
        return;
    free(s->model);
    free(s->id);
    pu_buf_release(&s->text);
    pu_tool_calls_release(&s->calls);
    free(s->finish_reason);
    json_decref(s->usage);
    *s = (oai_stream){0};
}

static int replace_str(char **dst, const char *s)
{
    char *d = strdup(s);
    if (!d)
        return VENOM_E_NOMEM;
    free(*dst);
    *dst = d;
    return VENOM_OK;
}

/* The error object of a reply ({"error":{…}}, {"error":"…"} or vLLM's flat
 * {"object":"error","message":…}) as one line. */
static int oai_reply_error(const json_t *j, const char *where, char **err)
{
    const json_t *eo = json_object_get(j, "error");
    const char *m = json_is_string(eo) ? json_string_value(eo) : pu_str(eo, "message", NULL);
    if (!m)
        m = pu_str(j, "message", "(no message)");
    const char *type = pu_str(eo, "type", NULL);
    char code[32];
    const char *c = pu_id_text(json_object_get(eo, "code"), code, sizeof code);
    char extra[160] = "";
    if (type || c)
        snprintf(extra, sizeof extra, " (%s%s%s)", type ? type : "", type && c ? ", " : "", c ? c : "");
    return pu_err(err, VENOM_E_NET, "the server reported an error %s: %s%s", where, m, extra);
}

/* Take one tool-call fragment (a delta's or a message's) into s. */
static int oai_take_call(oai_stream *s, const json_t *tc, int64_t def_index, json_t *deltas)
{
    int64_t index = def_index;
    pu_int(tc, "index", &index);
    char idbuf[32];
    const char *id = pu_id_text(json_object_get(tc, "id"), idbuf, sizeof idbuf);
    const json_t *fn = json_object_get(tc, "function");
    const char *name = pu_str(fn, "name", NULL);
    size_t before = s->calls.n, slot;
    int rc = pu_tool_calls_at(&s->calls, index, id, &slot);
    if (rc != VENOM_OK)
        return rc;
    bool fresh = s->calls.n > before;
    if (id && *id && (rc = pu_tool_call_set_id(&s->calls, slot, id)) != VENOM_OK)
        return rc;
    if (name && *name && (rc = pu_tool_call_set_name(&s->calls, slot, name)) != VENOM_OK)
        return rc;
    if (fresh && deltas && json_array_append_new(deltas, pu_delta_tool_call(slot, id, name)))
        return VENOM_E_NOMEM;
    const json_t *args = json_object_get(fn, "arguments");
    if (json_is_string(args) && json_string_length(args) > 0) {
        if ((rc = pu_tool_call_add_args(&s->calls, slot, json_string_value(args), json_string_length(args))))
            return rc;
        if (deltas && json_array_append_new(deltas, pu_delta_tool_args(slot, json_string_value(args),
                                                                         json_string_length(args))))
            return VENOM_E_NOMEM;
    } else if (json_is_object(args)) { /* a server that sends an object */
        if ((rc = pu_tool_call_set_args(&s->calls, slot, (json_t *)args)))
            return rc;
    }
    return VENOM_OK;
}

static int oai_take_text(oai_stream *s, const json_t *v, json_t *deltas)
{
    if (!json_is_string(v) || json_string_length(v) == 0)
        return VENOM_OK;
    int rc = pu_buf_add(&s->text, json_string_value(v), json_string_length(v));
    if (rc == VENOM_OK && deltas &&
        json_array_append_new(deltas, pu_delta_text(json_string_value(v), json_string_length(v))))
        rc = VENOM_E_NOMEM;
    return rc;
}

/* Model, id and usage of a chunk or body. */
static int oai_take_meta(oai_stream *s, const json_t *j)
{
    const char *model = pu_str(j, "model", "");
    const char *id = pu_str(j, "id", "");
    int rc = VENOM_OK;
    if (*model && (!s->model || strcmp(s->model, model) != 0))
        rc = replace_str(&s->model, model);
    if (rc == VENOM_OK && *id && !s->id)
        rc = replace_str(&s->id, id);
    json_t *u = json_object_get(j, "usage");
    if (rc == VENOM_OK && json_is_object(u)) {
        json_decref(s->usage);
        s->usage = json_incref(u);
    }
    return rc;
}

static int oai_take_finish(oai_stream *s, const json_t *choice)
{
    const char *f = pu_str(choice, "finish_reason", NULL);
    return f && *f ? replace_str(&s->finish_reason, f) : VENOM_OK;
}

int oai_stream_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    oai_stream *s = st;
    (void)event; /* OpenAI sends data: lines only */
    s->events++;
    size_t a = 0, b = len;
    while (a < b && (data[a] == ' ' || data[a] == '\t' || data[a] == '\r' || data[a] == '\n'))
        a++;
    while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t' || data[b - 1] == '\r' || data[b - 1] == '\n'))
        b--;
    if (b - a == 6 && memcmp(data + a, "[DONE]", 6) == 0) {
        s->done = true;
        return VENOM_OK;
    }
    if (s->done || a == b)
        return VENOM_OK; /* nothing may follow [DONE]; tolerate it */
    json_error_t e;
    json_t *j = json_loadb(data + a, b - a, JSON_DECODE_ANY, &e);
    if (!json_is_object(j)) {
        char ex[64];
        pu_excerpt(data + a, b - a, ex, sizeof ex);
        json_decref(j);
        return pu_err(err, VENOM_E_NET, "malformed chunk at event %zu: %s: %s", s->events,
                      j ? "not a JSON object" : e.text, ex);
    }
    int rc = VENOM_OK;
    json_t *eo = json_object_get(j, "error");
    if (eo && !json_is_null(eo)) {
        char where[48];
        snprintf(where, sizeof where, "in the stream at event %zu", s->events);
        rc = oai_reply_error(j, where, err);
        goto out;
    }
    if ((rc = oai_take_meta(s, j)) != VENOM_OK)
        goto out;
    json_t *choices = json_object_get(j, "choices");
    size_t i;
    json_t *ch;
    json_array_foreach(choices, i, ch)
    {
        int64_t idx = 0;
        pu_int(ch, "index", &idx);
        if (idx != 0)
            continue; /* n > 1 is not asked for */
        json_t *delta = json_object_get(ch, "delta");
        if ((rc = oai_take_text(s, json_object_get(delta, "content"), deltas)) != VENOM_OK ||
            (rc = oai_take_text(s, json_object_get(delta, "refusal"), deltas)) != VENOM_OK)
            goto out;
        size_t k;
        json_t *tc;
        json_array_foreach(json_object_get(delta, "tool_calls"), k, tc)
        {
            if ((rc = oai_take_call(s, tc, 0, deltas)) != VENOM_OK)
                goto out;
        }
        if ((rc = oai_take_finish(s, ch)) != VENOM_OK)
            goto out;
    }
out:
    json_decref(j);
    if (rc == VENOM_E_NOMEM)
        pu_err(err, rc, "out of memory reading the stream");
    return rc;
}

static const char *oai_finish(const char *f)
{
    if (!f)
        return "stop";
    if (strcmp(f, "stop") == 0 || strcmp(f, "length") == 0 || strcmp(f, "content_filter") == 0)
        return f;
    if (strcmp(f, "tool_calls") == 0 || strcmp(f, "function_call") == 0)
        return "tool_calls";
    return "other";
}

json_t *oai_usage(const json_t *u)
{
    int64_t prompt = 0, completion = 0, cached = 0;
    if (!json_is_object(u))
        return pu_usage(0, 0, 0, 0, true, NULL);
    bool hp = pu_int(u, "prompt_tokens", &prompt);
    bool hc = pu_int(u, "completion_tokens", &completion);
    pu_int(json_object_get(u, "prompt_tokens_details"), "cached_tokens", &cached);
    if (cached < 0)
        cached = 0;
    if (cached > prompt)
        cached = prompt;
    return pu_usage(prompt - cached, cached, 0, completion, !hp && !hc, u);
}

static int oai_response(oai_stream *s, json_t **response)
{
    json_t *calls = NULL;
    int rc = pu_tool_calls_json(&s->calls, &calls);
    if (rc != VENOM_OK)
        return rc;
    *response = pu_response(s->model, s->id, pu_buf_str(&s->text), calls, oai_finish(s->finish_reason),
                            oai_usage(s->usage));
    return *response ? VENOM_OK : VENOM_E_NOMEM;
}

int oai_stream_finish(void *st, json_t **response, char **err)
{
    oai_stream *s = st;
    *response = NULL;
    /* Complete: [DONE], or (servers that close without it) a finish_reason
     * or the usage chunk, which only follows the last choice chunk. */
    if (!s->done && !s->finish_reason && !s->usage)
        return pu_err(err, VENOM_E_NET,
                      "stream ended before data: [DONE] (no finish_reason either) after %zu events: the answer is "
                      "incomplete",
                      s->events);
    int rc = oai_response(s, response);
    if (rc == VENOM_E_NOMEM)
        pu_err(err, rc, "out of memory building the response");
    return rc;
}

int oai_body(void *st, const char *body, size_t len, json_t **response, char **err)
{
    oai_stream *s = st;
    *response = NULL;
    json_error_t e;
    json_t *j = json_loadb(body, len, 0, &e);
    int rc = VENOM_OK;
    if (!json_is_object(j)) {
        char ex[64];
        pu_excerpt(body, len, ex, sizeof ex);
        rc = pu_err(err, VENOM_E_NET, "the reply is not a JSON object (%s): %s", j ? "other JSON" : e.text, ex);
        goto out;
    }
    json_t *eo = json_object_get(j, "error");
    if (eo && !json_is_null(eo)) {
        rc = oai_reply_error(j, "in the reply", err);
        goto out;
    }
    if ((rc = oai_take_meta(s, j)) != VENOM_OK)
        goto out;
    json_t *choice = json_array_get(json_object_get(j, "choices"), 0);
    json_t *msg = json_object_get(choice, "message");
    if (!json_is_object(msg)) {
        rc = pu_err(err, VENOM_E_NET, "the reply has no choices[0].message");
        goto out;
    }
    if ((rc = oai_take_text(s, json_object_get(msg, "content"), NULL)) != VENOM_OK ||
        (rc = oai_take_text(s, json_object_get(msg, "refusal"), NULL)) != VENOM_OK)
        goto out;
    size_t i;
    json_t *tc;
    json_array_foreach(json_object_get(msg, "tool_calls"), i, tc)
    {
        json_t *copy = json_deep_copy(tc);
        /* a whole message: each call is its own slot, whatever its index says */
        if (!copy || json_object_set_new(copy, "index", json_integer((json_int_t)i)) ||
            (rc = oai_take_call(s, copy, (int64_t)i, NULL)) != VENOM_OK) {
            json_decref(copy);
            rc = rc ? rc : VENOM_E_NOMEM;
            goto out;
        }
        json_decref(copy);
    }
    if ((rc = oai_take_finish(s, choice)) == VENOM_OK)
        rc = oai_response(s, response);
out:
    json_decref(j);
    if (rc == VENOM_E_NOMEM)
        pu_err(err, rc, "out of memory reading the reply");
    return rc;
}

/* ------------------------------------------------------------ embeddings, models */

int oai_embed_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **err)
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
    json_t *body = json_pack("{s:s, s:O, s:s}", "model", model, "input", (json_t *)input, "encoding_format", "float");
    char *url = pu_url(cfg, "/embeddings");
    if (!body || !url) {
        json_decref(body);
        free(url);
        return VENOM_E_NOMEM;
    }
    int rc = pu_http_request(cfg, "POST", url, body, "none", "Authorization", "Bearer ", http_req, err);
    free(url);
    return rc;
}

int oai_embed_result(const json_t *body, json_t **out, char **err)
{
    *out = NULL;
    const json_t *data = json_object_get(body, "data");
    if (!json_is_array(data))
        return pu_err(err, VENOM_E_NET, "the embeddings reply has no \"data\" array");
    size_t n = json_array_size(data);
    json_t *embs = json_array();
    if (!embs)
        return VENOM_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(embs, json_null()))
            goto nomem;
    size_t i;
    json_t *d;
    json_array_foreach(data, i, d)
    {
        int64_t idx = (int64_t)i;
        pu_int(d, "index", &idx);
        json_t *v = json_object_get(d, "embedding");
        if (idx < 0 || (size_t)idx >= n || !json_is_null(json_array_get(embs, (size_t)idx)) || !json_is_array(v)) {
            json_decref(embs);
            return pu_err(err, VENOM_E_NET, "the embeddings reply has a bad entry %zu (index or embedding)", i);
        }
        if (json_array_set(embs, (size_t)idx, v))
            goto nomem;
    }
    int64_t pt = 0;
    const json_t *u = json_object_get(body, "usage");
    bool have = pu_int(u, "prompt_tokens", &pt);
    json_t *rawc = json_is_object(u) ? json_deep_copy(u) : json_null();
    *out = json_pack("{s:s, s:o, s:{s:I, s:b, s:o}}", "model", pu_str(body, "model", ""), "embeddings", embs,
                     "usage", "input_tokens", (json_int_t)pt, "missing", !have, "raw", rawc);
    return *out ? VENOM_OK : VENOM_E_NOMEM;
nomem:
    json_decref(embs);
    return VENOM_E_NOMEM;
}

int oai_models_request(const pu_config *cfg, json_t **http_req, char **err)
{
    char *url = pu_url(cfg, "/models");
    if (!url)
        return VENOM_E_NOMEM;
    int rc = pu_http_request(cfg, "GET", url, NULL, "none", "Authorization", "Bearer ", http_req, err);
    free(url);
    return rc;
}

int oai_models_result(const json_t *body, json_t **out, char **err)
{
    *out = NULL;
    const json_t *data = json_object_get(body, "data");
    if (!json_is_array(data))
        return pu_err(err, VENOM_E_NET, "the models reply has no \"data\" array");
    json_t *models = json_array();
    if (!models)
        return VENOM_E_NOMEM;
    size_t i;
    json_t *d;
    json_array_foreach(data, i, d)
    {
        char idbuf[32];
        const char *id = pu_id_text(json_object_get(d, "id"), idbuf, sizeof idbuf);
        if (!id)
            continue;
        json_t *m = json_pack("{s:s}", "id", id);
        const char *owner = pu_str(d, "owned_by", NULL);
        int64_t created;
        if (!m || (owner && json_object_set_new(m, "owned_by", json_string(owner))) ||
            (pu_int(d, "created", &created) && json_object_set_new(m, "created", json_integer(created))) ||
            json_array_append_new(models, m)) {
            json_decref(models);
            return VENOM_E_NOMEM;
        }
    }
    *out = json_pack("{s:o}", "models", models);
    return *out ? VENOM_OK : VENOM_E_NOMEM;
}
