/*
 * provider_util.c — see provider_util.h.
 */
#include "provider_util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pu_err(char **err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    free(*err);
    *err = strdup(msg);
    return code;
}

static char *pu_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ------------------------------------------------------------ growable text */

int pu_buf_add(pu_buf *b, const char *s, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len + 1) {
            if (cap > SIZE_MAX / 2)
                return VENOM_E_NOMEM;
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p)
            return VENOM_E_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
    return VENOM_OK;
}

const char *pu_buf_str(const pu_buf *b)
{
    return b->p ? b->p : "";
}

void pu_buf_release(pu_buf *b)
{
    free(b->p);
    *b = (pu_buf){0};
}

/* ------------------------------------------------------------ JSON access */

const char *pu_str(const json_t *obj, const char *key, const char *def)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : def;
}

bool pu_int(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= -9.0e18 && d <= 9.0e18 && d == (double)(int64_t)d) {
            *out = (int64_t)d;
            return true;
        }
    }
    return false;
}

bool pu_bool(const json_t *obj, const char *key, bool def)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_boolean(v) ? json_is_true(v) : def;
}

const char *pu_id_text(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, n, "%" PRId64, (int64_t)json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* ------------------------------------------------------------ tool calls */

int pu_tool_args_from_text(json_t *call, const char *text, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i == len)
        return json_object_set_new(call, "arguments", json_object()) ? VENOM_E_NOMEM : VENOM_OK;
    json_error_t e;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (json_is_object(v))
        return json_object_set_new(call, "arguments", v) ? VENOM_E_NOMEM : VENOM_OK;
    char msg[300];
    if (v) {
        const char *kind = json_is_array(v)     ? "an array"
                           : json_is_string(v)  ? "a string"
                           : json_is_number(v)  ? "a number"
                           : json_is_boolean(v) ? "a boolean"
                                                : "null";
        snprintf(msg, sizeof msg, "arguments are JSON %s, not an object", kind);
        json_decref(v);
    } else {
        snprintf(msg, sizeof msg, "invalid JSON at %d: %s", e.position, e.text);
    }
    json_t *raw = json_stringn(text, len);
    if (!raw) /* not UTF-8: keep what can be shown */
        raw = json_string("(arguments were not valid UTF-8)");
    if (!raw || json_object_set_new(call, "arguments_raw", raw) ||
        json_object_set_new(call, "arguments_error", json_string(msg)))
        return VENOM_E_NOMEM;
    return VENOM_OK;
}

int pu_tool_calls_at(pu_tool_calls *tc, int64_t wire_index, const char *id, size_t *slot)
{
    for (size_t i = tc->n; i-- > 0;) {
        pu_tool_call *c = &tc->v[i];
        if (c->wire_index != wire_index)
            continue;
        if (id && *id && c->id && strcmp(c->id, id) != 0)
            break; /* a new call reusing the index */
        *slot = i;
        return VENOM_OK;
    }
    if (tc->n == tc->cap) {
        size_t cap = tc->cap ? tc->cap * 2 : 4;
        pu_tool_call *v = realloc(tc->v, cap * sizeof *v);
        if (!v)
            return VENOM_E_NOMEM;
        tc->v = v;
        tc->cap = cap;
    }
    tc->v[tc->n] = (pu_tool_call){.wire_index = wire_index};
    *slot = tc->n++;
    return VENOM_OK;
}

static int set_text(char **dst, const char *s)
{
    char *d = pu_strdup(s);
    if (s && !d)
        return VENOM_E_NOMEM;
    free(*dst);
    *dst = d;
    return VENOM_OK;
}

int pu_tool_call_set_id(pu_tool_calls *tc, size_t slot, const char *id)
{
    return slot < tc->n ? set_text(&tc->v[slot].id, id) : VENOM_E_INVAL;
}

int pu_tool_call_set_name(pu_tool_calls *tc, size_t slot, const char *name)
{
    return slot < tc->n ? set_text(&tc->v[slot].name, name) : VENOM_E_INVAL;
}

int pu_tool_call_add_args(pu_tool_calls *tc, size_t slot, const char *text, size_t len)
{
    return slot < tc->n ? pu_buf_add(&tc->v[slot].args, text, len) : VENOM_E_INVAL;
}

int pu_tool_call_set_args(pu_tool_calls *tc, size_t slot, json_t *value)
{
    if (slot >= tc->n)
        return VENOM_E_INVAL;
    pu_tool_call *c = &tc->v[slot];
    json_decref(c->args_obj);
    c->args_obj = NULL;
    c->args.len = 0;
    if (c->args.p)
        c->args.p[0] = '\0';
    if (json_is_string(value))
        return pu_buf_add(&c->args, json_string_value(value), json_string_length(value));
    if (value && !json_is_null(value)) {
        c->args_obj = json_deep_copy(value);
        if (!c->args_obj)
            return VENOM_E_NOMEM;
    }
    return VENOM_OK;
}

int pu_tool_calls_json(const pu_tool_calls *tc, json_t **out)
{
    *out = NULL;
    json_t *arr = json_array();
    if (!arr)
        return VENOM_E_NOMEM;
    for (size_t i = 0; i < tc->n; i++) {
        const pu_tool_call *c = &tc->v[i];
        char idbuf[32];
        const char *id = c->id;
        if (!id || !*id) {
            snprintf(idbuf, sizeof idbuf, "call_%zu", i);
            id = idbuf;
        }
        json_t *call = json_pack("{s:s, s:s}", "id", id, "name", c->name ? c->name : "");
        int rc = VENOM_E_NOMEM;
        if (call) {
            if (c->args_obj && json_is_object(c->args_obj))
                rc = json_object_set(call, "arguments", c->args_obj) ? VENOM_E_NOMEM : VENOM_OK;
            else if (c->args_obj) {
                char *txt = json_dumps(c->args_obj, JSON_COMPACT | JSON_ENCODE_ANY);
                rc = txt ? pu_tool_args_from_text(call, txt, strlen(txt)) : VENOM_E_NOMEM;
                free(txt);
            } else
                rc = pu_tool_args_from_text(call, pu_buf_str(&c->args), c->args.len);
        }
        if (rc != VENOM_OK || json_array_append_new(arr, call)) {
            json_decref(arr);
            return VENOM_E_NOMEM;
        }
    }
    *out = arr;
    return VENOM_OK;
}

void pu_tool_calls_release(pu_tool_calls *tc)
{
    for (size_t i = 0; i < tc->n; i++) {
        free(tc->v[i].id);
        free(tc->v[i].name);
        pu_buf_release(&tc->v[i].args);
        json_decref(tc->v[i].args_obj);
    }
    free(tc->v);
    *tc = (pu_tool_calls){0};
}

/* ------------------------------------------------------------ response */

json_t *pu_usage(int64_t input, int64_t cached, int64_t cache_write, int64_t output, bool missing,
                 const json_t *raw)
{
    /* a server's nonsense (a negative count) is not passed on as one */
    if (input < 0)
        input = 0;
    if (cached < 0)
        cached = 0;
    if (cache_write < 0)
        cache_write = 0;
    if (output < 0)
        output = 0;
    json_t *rawc = raw ? json_deep_copy(raw) : json_null();
    if (!rawc)
        return NULL;
    return json_pack("{s:I, s:I, s:I, s:I, s:b, s:o}", "input_tokens", (json_int_t)input, "cached_input_tokens",
                     (json_int_t)cached, "cache_write_tokens", (json_int_t)cache_write, "output_tokens",
                     (json_int_t)output, "missing", missing, "raw", rawc);
}

json_t *pu_response(const char *model, const char *id, const char *text, json_t *tool_calls, const char *finish,
                    json_t *usage)
{
    json_t *r = NULL, *msg = NULL;
    if (!usage)
        usage = pu_usage(0, 0, 0, 0, true, NULL);
    bool calls = json_is_array(tool_calls) && json_array_size(tool_calls) > 0;
    msg = json_pack("{s:s, s:s}", "role", "assistant", "content", text ? text : "");
    if (!msg || !usage)
        goto fail;
    if (calls && json_object_set(msg, "tool_calls", tool_calls))
        goto fail;
    r = json_pack("{s:s, s:O, s:s, s:O}", "model", model ? model : "", "message", msg, "finish",
                  calls ? "tool_calls" : (finish && *finish ? finish : "stop"), "usage", usage);
    if (r && id && *id && json_object_set_new(r, "id", json_string(id))) {
        json_decref(r);
        r = NULL;
    }
fail:
    json_decref(msg);
    json_decref(usage);
    json_decref(tool_calls);
    return r;
}

json_t *pu_delta_text(const char *text, size_t len)
{
    json_t *t = json_stringn(text, len);
    return t ? json_pack("{s:s, s:o}", "type", "text", "text", t) : NULL;
}

json_t *pu_delta_tool_call(size_t index, const char *id, const char *name)
{
    json_t *d = json_pack("{s:s, s:I}", "type", "tool_call", "index", (json_int_t)index);
    if (d && id && json_object_set_new(d, "id", json_string(id)))
        goto fail;
    if (d && name && json_object_set_new(d, "name", json_string(name)))
        goto fail;
    return d;
fail:
    json_decref(d);
    return NULL;
}

json_t *pu_delta_tool_args(size_t index, const char *text, size_t len)
{
    json_t *t = json_stringn(text, len);
    return t ? json_pack("{s:s, s:I, s:o}", "type", "tool_args", "index", (json_int_t)index, "text", t) : NULL;
}

/* ------------------------------------------------------------ messages */

int pu_content_parts(const json_t *content, json_t **parts, char **err)
{
    *parts = NULL;
    if (!content || json_is_null(content)) {
        *parts = json_array();
        return *parts ? VENOM_OK : VENOM_E_NOMEM;
    }
    if (json_is_string(content)) {
        *parts = json_pack("[{s:s, s:O}]", "type", "text", "text", (json_t *)content);
        return *parts ? VENOM_OK : VENOM_E_NOMEM;
    }
    if (!json_is_array(content))
        return pu_err(err, VENOM_E_INVAL, "message content must be a string or an array of parts");
    size_t i;
    const json_t *p;
    json_array_foreach(content, i, p)
    {
        if (!json_is_string(json_object_get(p, "type")))
            return pu_err(err, VENOM_E_INVAL, "content part %zu must be an object with a string \"type\"", i);
    }
    *parts = json_incref((json_t *)content);
    return VENOM_OK;
}

int pu_content_text(const json_t *content, const char *sep, char **text, char **err)
{
    *text = NULL;
    json_t *parts = NULL;
    int rc = pu_content_parts(content, &parts, err);
    if (rc != VENOM_OK)
        return rc;
    pu_buf b = {0};
    size_t i, n = 0;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        if (strcmp(pu_str(p, "type", ""), "text") != 0)
            continue;
        const char *t = pu_str(p, "text", "");
        if ((n++ && sep && (rc = pu_buf_add(&b, sep, strlen(sep)))) || (rc = pu_buf_add(&b, t, strlen(t))))
            break;
    }
    json_decref(parts);
    if (rc == VENOM_OK && !b.p)
        rc = pu_buf_add(&b, "", 0);
    if (rc != VENOM_OK) {
        pu_buf_release(&b);
        return rc;
    }
    *text = b.p;
    return VENOM_OK;
}

int pu_tools_function_shape(const json_t *tools, json_t **out, char **err)
{
    *out = NULL;
    if (!json_is_array(tools))
        return pu_err(err, VENOM_E_INVAL, "\"tools\" must be an array");
    json_t *arr = json_array();
    if (!arr)
        return VENOM_E_NOMEM;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *name = pu_str(t, "name", NULL);
        if (!name || !*name) {
            json_decref(arr);
            return pu_err(err, VENOM_E_INVAL, "tool %zu needs a string \"name\"", i);
        }
        json_t *params = json_object_get(t, "parameters");
        json_t *p = json_is_object(params) ? json_incref(params)
                                           : json_pack("{s:s, s:{}}", "type", "object", "properties");
        json_t *fn = p ? json_pack("{s:s, s:o}", "name", name, "parameters", p) : NULL;
        const char *desc = pu_str(t, "description", NULL);
        if (fn && desc && json_object_set_new(fn, "description", json_string(desc))) {
            json_decref(fn);
            fn = NULL;
        }
        json_t *w = fn ? json_pack("{s:s, s:o}", "type", "function", "function", fn) : NULL;
        if (!w || json_array_append_new(arr, w)) {
            json_decref(arr);
            return VENOM_E_NOMEM;
        }
    }
    *out = arr;
    return VENOM_OK;
}

/* ------------------------------------------------------------ configuration */

int pu_config_parse(const char *config_json, const char *def_name, const char *def_base,
                    const char *def_key_env, pu_config *cfg, char **err)
{
    *cfg = (pu_config){0};
    json_error_t e;
    int rc = VENOM_OK;
    json_t *c = json_loads(config_json ? config_json : "{}", 0, &e);
    if (!json_is_object(c)) {
        rc = pu_err(err, VENOM_E_INVAL, "provider configuration is not a JSON object%s%s", c ? "" : ": ",
                    c ? "" : e.text);
        goto out;
    }
    static const char *const str_keys[] = {"name", "base_url", "api_key_env", "model"};
    for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++) {
        json_t *v = json_object_get(c, str_keys[i]);
        if (v && !json_is_null(v) && !json_is_string(v)) {
            rc = pu_err(err, VENOM_E_INVAL, "providers.%s.%s must be a string", def_name, str_keys[i]);
            goto out;
        }
    }
    const char *name = pu_str(c, "name", def_name);
    if (!*name)
        name = def_name;
    const char *base = pu_str(c, "base_url", "");
    if (!*base)
        base = def_base;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (!(cfg->name = strdup(name)) || !(cfg->base_url = strndup(base, blen)) ||
        !(cfg->model = strdup(pu_str(c, "model", "")))) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    if (strncmp(cfg->base_url, "http://", 7) != 0 && strncmp(cfg->base_url, "https://", 8) != 0) {
        rc = pu_err(err, VENOM_E_INVAL,
                    "providers.%s.base_url '%s' is not an http:// or https:// URL: set it like \"%s\"", name,
                    cfg->base_url, def_base);
        goto out;
    }
    const char *key_env = pu_str(c, "api_key_env", def_key_env ? def_key_env : "");
    if (!(cfg->key_env = strdup(key_env))) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    if (key_env && *key_env) {
        const char *key = getenv(key_env);
        if (!key || !*key) {
            rc = pu_err(err, VENOM_E_PERM,
                        "environment variable %s (providers.%s.api_key_env) is not set: export it, or set "
                        "api_key_env: \"\" for a server without keys",
                        key_env, name);
            goto out;
        }
        if (!(cfg->api_key = strdup(key))) {
            rc = VENOM_E_NOMEM;
            goto out;
        }
    }
    json_t *st = json_object_get(c, "stream");
    if (st && !json_is_null(st) && !json_is_boolean(st)) {
        rc = pu_err(err, VENOM_E_INVAL, "providers.%s.stream must be true or false", name);
        goto out;
    }
    cfg->stream = pu_bool(c, "stream", true);
    json_t *h = json_object_get(c, "headers");
    if (h && !json_is_null(h)) {
        const char *k;
        json_t *v;
        if (!json_is_object(h)) {
            rc = pu_err(err, VENOM_E_INVAL, "providers.%s.headers must be an object of name: value", name);
            goto out;
        }
        json_object_foreach(h, k, v)
        {
            if (!json_is_string(v) || strpbrk(json_string_value(v), "\r\n") || strpbrk(k, "\r\n: ")) {
                rc = pu_err(err, VENOM_E_INVAL, "providers.%s.headers.%s must be a one-line string", name, k);
                goto out;
            }
        }
        cfg->headers = json_incref(h);
    } else
        cfg->headers = json_object();
    json_t *o = json_object_get(c, "options");
    if (o && !json_is_null(o)) {
        if (!json_is_object(o)) {
            rc = pu_err(err, VENOM_E_INVAL, "providers.%s.options must be an object", name);
            goto out;
        }
        cfg->options = json_incref(o);
    } else
        cfg->options = json_object();
    if (!cfg->headers || !cfg->options)
        rc = VENOM_E_NOMEM;
out:
    json_decref(c);
    if (rc != VENOM_OK)
        pu_config_release(cfg);
    return rc;
}

void pu_config_release(pu_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->name);
    free(cfg->base_url);
    if (cfg->api_key) {
        /* wipe the key before freeing it */
        volatile char *p = cfg->api_key;
        while (*p)
            *p++ = '\0';
        free(cfg->api_key);
    }
    free(cfg->model);
    free(cfg->key_env);
    json_decref(cfg->headers);
    json_decref(cfg->options);
    *cfg = (pu_config){0};
}

int pu_http_request(const pu_config *cfg, const char *method, const char *url, json_t *body, const char *stream,
                    const char *auth_name, const char *auth_prefix, json_t **out, char **err)
{
    *out = NULL;
    char *text = NULL, *auth = NULL;
    json_t *req = NULL, *headers = json_object();
    int rc = VENOM_E_NOMEM;
    if (!headers)
        goto out;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text) {
            rc = pu_err(err, VENOM_E_INVAL, "the request body could not be serialised");
            goto out;
        }
        if (json_object_set_new(headers, "Content-Type", json_string("application/json")))
            goto out;
    }
    if (stream && strcmp(stream, "sse") == 0 && json_object_set_new(headers, "Accept", json_string("text/event-stream")))
        goto out;
    if (json_object_update(headers, cfg->headers))
        goto out;
    if (cfg->api_key && auth_name) {
        size_t n = strlen(auth_prefix ? auth_prefix : "") + strlen(cfg->api_key) + 1;
        if (!(auth = malloc(n)))
            goto out;
        snprintf(auth, n, "%s%s", auth_prefix ? auth_prefix : "", cfg->api_key);
        if (json_object_set_new(headers, auth_name, json_string(auth)))
            goto out;
    }
    req = json_pack("{s:s, s:s, s:O, s:s}", "method", method, "url", url, "headers", headers, "stream",
                    stream ? stream : "none");
    if (!req || (text && json_object_set_new(req, "body", json_string(text))))
        goto out;
    *out = req;
    req = NULL;
    rc = VENOM_OK;
out:
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    free(text);
    json_decref(req);
    json_decref(headers);
    json_decref(body);
    return rc;
}

char *pu_url(const pu_config *cfg, const char *path)
{
    size_t n = strlen(cfg->base_url) + strlen(path) + 1;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%s%s", cfg->base_url, path);
    return u;
}

void pu_excerpt(const char *data, size_t len, char *out, size_t n)
{
    size_t k = len < n - 4 ? len : n - 4;
    while (k > 0 && k < len && ((unsigned char)data[k] & 0xc0) == 0x80)
        k--;
    for (size_t i = 0; i < k; i++)
        out[i] = (data[i] == '\n' || data[i] == '\r' || data[i] == '\0') ? ' ' : data[i];
    snprintf(out + k, n - k, "%s", k < len ? "..." : "");
}

char *pu_error_message(const char *body, size_t len)
{
    json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
    const char *m = NULL;
    if (json_is_object(j)) {
        json_t *e = json_object_get(j, "error");
        if (json_is_string(e))
            m = json_string_value(e);
        else if (json_is_object(e))
            m = pu_str(e, "message", NULL);
        if (!m)
            m = pu_str(j, "message", NULL);
    }
    char *out;
    if (m)
        out = strdup(m);
    else if (body && len) {
        out = malloc(308);
        if (out)
            pu_excerpt(body, len, out, 308);
    } else
        out = strdup("(empty body)");
    json_decref(j);
    if (out)
        for (char *p = out; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
    return out;
}
