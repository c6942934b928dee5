/*
 * wire.c — canonical chat <-> Gemini generateContent (see wire.h).
 */
#include "wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEM_MAX_SCHEMA_DEPTH 64

#define gem_fail pu_err

static const char *gem_str(const json_t *o, const char *key)
{
    return pu_str(o, key, NULL);
}

/* Set key to a new value (stolen); false on allocation failure. */
static bool gem_set(json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new(o, key, v) == 0;
}

/* A short, one-line, clipped copy of s for messages. */
static void gem_clip(char *out, size_t cap, const char *s, size_t len)
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

static int gem_set_text(char **dst, const char *s)
{
    char *d = strdup(s);
    if (!d)
        return VENOM_E_NOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

/* ------------------------------------------------------------ configuration */

void gem_config_release(gem_config *cfg)
{
    if (!cfg)
        return;
    pu_config_release(&cfg->pu);
    free(cfg->embedding_model);
    memset(cfg, 0, sizeof *cfg);
}

int gem_config_parse(const char *config_json, gem_config *cfg, char **err)
{
    memset(cfg, 0, sizeof *cfg);
    int rc = pu_config_parse(config_json, "gemini", GEM_DEFAULT_BASE_URL, GEM_DEFAULT_KEY_ENV, &cfg->pu, err);
    if (rc != 0)
        return rc;
    json_t *mt = json_object_get(cfg->pu.options, "max_tokens");
    if (mt && !json_is_null(mt)) {
        if (!json_is_integer(mt) || json_integer_value(mt) < 1 || json_integer_value(mt) > 100000000) {
            rc = gem_fail(err, VENOM_E_INVAL, "providers.%s.options.max_tokens must be a positive integer",
                          cfg->pu.name);
            goto out;
        }
        cfg->max_tokens = (long)json_integer_value(mt);
    }
    json_t *em = json_object_get(cfg->pu.options, "embedding_model");
    if (em && !json_is_null(em)) {
        if (!json_is_string(em)) {
            rc = gem_fail(err, VENOM_E_INVAL, "providers.%s.options.embedding_model must be a string", cfg->pu.name);
            goto out;
        }
        if (*json_string_value(em) && !(cfg->embedding_model = strdup(json_string_value(em))))
            rc = VENOM_E_NOMEM;
    }
out:
    if (rc != 0)
        gem_config_release(cfg);
    return rc;
}

/* ------------------------------------------------------------ URLs */

/* The model id without a "models/" prefix, checked to be safe in a URL path. */
static int gem_model_id(const char *model, const char **id, char **err)
{
    if (!strncmp(model, "models/", 7))
        model += 7;
    if (!*model || strlen(model) > 200)
        return gem_fail(err, VENOM_E_INVAL, "model name '%s' is empty or too long", model);
    for (const char *p = model; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.'))
            return gem_fail(err, VENOM_E_INVAL,
                            "model name '%s' has characters that cannot go in a URL path (letters, digits, '-', '_', "
                            "'.' only)",
                            model);
    *id = model;
    return 0;
}

/* {base}/v1beta/<path>; a base_url that already ends in /v1beta is not doubled. */
static char *gem_url(const gem_config *cfg, const char *path)
{
    const char *base = cfg->pu.base_url;
    size_t bl = strlen(base);
    bool has = bl >= 7 && !strcmp(base + bl - 7, "/v1beta");
    size_t n = bl + strlen(path) + 10;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%s%s/%s", base, has ? "" : "/v1beta", path);
    return u;
}

/* ------------------------------------------------------------ schema */

static json_t *gem_schema_depth(const json_t *in, int depth);

/* Keywords of Gemini's Schema object kept as they are. Everything else
 * ($schema, $id, $ref, $defs, definitions, additionalProperties, default,
 * examples, const, oneOf, allOf, not, if/then/else, patternProperties,
 * exclusiveMinimum/Maximum, multipleOf, uniqueItems, …) is dropped, after
 * the conversions in gem_schema_depth. */
static bool gem_schema_plain_key(const char *k)
{
    static const char *const keep[] = {"format",    "title",         "description",   "nullable",    "minItems",
                                       "maxItems",  "minProperties", "maxProperties", "minLength",   "maxLength",
                                       "pattern",   "minimum",       "maximum",       "example",     "propertyOrdering"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (!strcmp(k, keep[i]))
            return true;
    return false;
}

static bool gem_schema_anyof(json_t *out, const json_t *list, int depth)
{
    json_t *arr = json_array();
    if (!arr)
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        json_t *s = gem_schema_depth(v, depth + 1);
        if (!s || json_array_append_new(arr, s) != 0) {
            json_decref(arr);
            return false;
        }
    }
    return json_array_size(arr) ? gem_set(out, "anyOf", arr) : (json_decref(arr), true);
}

static json_t *gem_schema_depth(const json_t *in, int depth)
{
    json_t *out = json_object();
    if (!out || !json_is_object(in) || depth > GEM_MAX_SCHEMA_DEPTH)
        return out;
    const char *k;
    json_t *v;
    bool ok = true;
    json_object_foreach((json_t *)in, k, v) {
        if (!ok)
            break;
        if (gem_schema_plain_key(k)) {
            ok = json_object_set(out, k, v) == 0;
        } else if (!strcmp(k, "type")) {
            if (json_is_string(v)) {
                ok = json_object_set(out, "type", v) == 0;
            } else if (json_is_array(v)) { /* ["string","null"] -> string + nullable */
                size_t i;
                json_t *t;
                const char *first = NULL;
                bool null = false;
                json_array_foreach(v, i, t) {
                    const char *ts = json_string_value(t);
                    if (ts && !strcmp(ts, "null"))
                        null = true;
                    else if (ts && !first)
                        first = ts;
                }
                if (first)
                    ok = gem_set(out, "type", json_string(first));
                if (ok && null)
                    ok = gem_set(out, "nullable", json_true());
            }
        } else if (!strcmp(k, "enum") || !strcmp(k, "const")) {
            json_t *vals = !strcmp(k, "const") ? json_pack("[O]", v) : json_incref(v);
            bool strings = json_is_array(vals) && json_array_size(vals) > 0;
            size_t i;
            json_t *e;
            json_array_foreach(vals, i, e) strings = strings && json_is_string(e);
            if (strings && !json_object_get(out, "enum"))
                ok = json_object_set(out, "enum", vals) == 0; /* Gemini enums are strings only */
            json_decref(vals);
        } else if (!strcmp(k, "properties") && json_is_object(v)) {
            json_t *props = json_object();
            const char *pk;
            json_t *pv;
            ok = props != NULL;
            json_object_foreach(v, pk, pv) {
                if (ok)
                    ok = gem_set(props, pk, gem_schema_depth(pv, depth + 1));
            }
            if (ok && json_object_size(props))
                ok = json_object_set(out, "properties", props) == 0;
            json_decref(props);
        } else if (!strcmp(k, "items") && json_is_object(v)) {
            ok = gem_set(out, "items", gem_schema_depth(v, depth + 1));
        } else if ((!strcmp(k, "anyOf") || !strcmp(k, "oneOf")) && json_is_array(v)) {
            if (!json_object_get(out, "anyOf"))
                ok = gem_schema_anyof(out, v, depth);
        }
    }
    /* required may name only properties that are there */
    json_t *req = json_object_get(in, "required"), *props = json_object_get(out, "properties");
    if (ok && json_is_array(req) && props) {
        json_t *r = json_array();
        size_t i;
        json_t *name;
        ok = r != NULL;
        json_array_foreach(req, i, name) {
            if (ok && json_is_string(name) && json_object_get(props, json_string_value(name)))
                ok = json_array_append(r, name) == 0;
        }
        if (ok && json_array_size(r))
            ok = json_object_set(out, "required", r) == 0;
        json_decref(r);
    }
    if (!ok) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *gem_schema(const json_t *schema)
{
    return gem_schema_depth(schema, 0);
}

/* ------------------------------------------------------------ request */

/* The contents under construction: consecutive same-role turns merge. */
static int gem_push(json_t *contents, const char *role, json_t *part)
{
    if (!part)
        return VENOM_E_NOMEM;
    size_t n = json_array_size(contents);
    json_t *last = n ? json_array_get(contents, n - 1) : NULL;
    if (!last || strcmp(gem_str(last, "role"), role) != 0) {
        last = json_pack("{s:s,s:[]}", "role", role, "parts");
        if (!last || json_array_append_new(contents, last) != 0) {
            json_decref(part);
            return VENOM_E_NOMEM;
        }
    }
    return json_array_append_new(json_object_get(last, "parts"), part) == 0 ? 0 : VENOM_E_NOMEM;
}

/* Canonical content → text / inlineData parts of role; empty text skipped. */
static int gem_push_content(json_t *contents, const char *role, const json_t *content, size_t mi, char **err)
{
    json_t *parts = NULL;
    int rc = pu_content_parts(content, &parts, err);
    if (rc != 0)
        return rc == VENOM_E_INVAL ? gem_fail(err, rc, "messages[%zu].content: %s", mi, err && *err ? *err : "bad")
                                   : rc;
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p) {
        const char *type = gem_str(p, "type");
        if (!strcmp(type, "text")) {
            const char *t = gem_str(p, "text");
            if (!t) {
                rc = gem_fail(err, VENOM_E_INVAL, "messages[%zu].content[%zu] (text) has no text", mi, i);
                break;
            }
            if (*t)
                rc = gem_push(contents, role, json_pack("{s:s}", "text", t));
        } else if (!strcmp(type, "image")) {
            const char *mt = gem_str(p, "media_type"), *data = gem_str(p, "data");
            if (!mt || !data) {
                rc = gem_fail(err, VENOM_E_INVAL, "messages[%zu].content[%zu] (image) needs media_type and data", mi,
                              i);
                break;
            }
            rc = gem_push(contents, role, json_pack("{s:{s:s,s:s}}", "inlineData", "mimeType", mt, "data", data));
        }
        if (rc != 0)
            break;
    }
    json_decref(parts);
    return rc;
}

/* The `response` object of a functionResponse: a JSON object result as is,
 * any other value wrapped as {"result": v}; an error as {"error": v}. */
static json_t *gem_tool_response(const json_t *msg, size_t mi, char **err, int *rc)
{
    char *text = NULL;
    const json_t *content = json_object_get(msg, "content");
    json_t *v = NULL;
    if (content && !json_is_string(content) && !json_is_array(content) && !json_is_null(content)) {
        v = json_incref((json_t *)content); /* tolerate a JSON value */
    } else {
        if ((*rc = pu_content_text(content, "", &text, err)) != 0) {
            if (*rc == VENOM_E_INVAL)
                *rc = gem_fail(err, *rc, "messages[%zu] (tool): %s", mi, err && *err ? *err : "bad content");
            return NULL;
        }
        v = json_loads(text, JSON_DECODE_ANY, NULL);
        if (!v)
            v = json_string(text);
        free(text);
    }
    if (!v) {
        *rc = VENOM_E_NOMEM;
        return NULL;
    }
    json_t *r;
    if (json_is_true(json_object_get(msg, "is_error")))
        r = json_pack("{s:o}", "error", v);
    else if (json_is_object(v))
        r = v;
    else
        r = json_pack("{s:o}", "result", v);
    if (!r)
        *rc = VENOM_E_NOMEM;
    return r;
}

/* Position of the call with this id in the assistant's tool_calls; n if none. */
static size_t gem_call_pos(const json_t *calls, const char *id)
{
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
        const char *cid = gem_str(c, "id");
        if (id && cid && !strcmp(cid, id))
            return i;
    }
    return json_array_size(calls);
}

/* A run of tool messages msgs[from..to) → functionResponse parts of one user
 * turn, in the order of the calls of the assistant message before them. */
static int gem_push_tool_results(json_t *contents, const json_t *msgs, size_t from, size_t to, const json_t *calls,
                                 char **err)
{
    size_t n = to - from;
    size_t *order = malloc(n * sizeof *order), *pos = malloc(n * sizeof *pos);
    int rc = 0;
    if (!order || !pos) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = from + i;
        pos[i] = gem_call_pos(calls, gem_str(json_array_get(msgs, from + i), "tool_call_id"));
    }
    for (size_t i = 1; i < n; i++) /* stable insertion sort by call position */
        for (size_t j = i; j > 0 && pos[j - 1] > pos[j]; j--) {
            size_t t = pos[j];
            pos[j] = pos[j - 1], pos[j - 1] = t;
            t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t mi = order[i];
        const json_t *msg = json_array_get(msgs, mi);
        const char *name = gem_str(msg, "name");
        if (!name || !*name) {
            const json_t *call = json_array_get(calls, pos[i]);
            name = gem_str(call, "name");
        }
        if (!name || !*name) {
            rc = gem_fail(err, VENOM_E_INVAL,
                          "messages[%zu] (tool) has no name and its tool_call_id matches no call of the assistant "
                          "message before it",
                          mi);
            break;
        }
        json_t *resp = gem_tool_response(msg, mi, err, &rc);
        if (!resp)
            break;
        json_t *part = json_pack("{s:{s:s,s:o}}", "functionResponse", "name", name, "response", resp);
        const char *id = gem_str(msg, "tool_call_id");
        if (part && id && *id && !gem_set(json_object_get(part, "functionResponse"), "id", json_string(id))) {
            json_decref(part);
            part = NULL;
        }
        rc = gem_push(contents, "user", part);
    }
out:
    free(order);
    free(pos);
    return rc;
}

/* An assistant message → text and functionCall parts of a model turn. */
static int gem_push_assistant(json_t *contents, const json_t *msg, size_t mi, char **err)
{
    int rc = gem_push_content(contents, "model", json_object_get(msg, "content"), mi, err);
    const json_t *tcs = json_object_get(msg, "tool_calls");
    size_t j;
    json_t *tc;
    json_array_foreach(tcs, j, tc) {
        if (rc != 0)
            break;
        const char *name = gem_str(tc, "name");
        if (!name || !*name)
            return gem_fail(err, VENOM_E_INVAL, "messages[%zu].tool_calls[%zu] has no name", mi, j);
        json_t *args = json_object_get(tc, "arguments");
        json_t *part = json_pack("{s:{s:s,s:o}}", "functionCall", "name", name, "args",
                                 json_is_object(args) ? json_incref(args) : json_object());
        const char *id = gem_str(tc, "id");
        if (part && id && *id && !gem_set(json_object_get(part, "functionCall"), "id", json_string(id))) {
            json_decref(part);
            part = NULL;
        }
        const char *sig = gem_str(tc, "thought_signature");
        if (part && (sig || j == 0) && !gem_set(part, "thoughtSignature", json_string(sig ? sig : GEM_SKIP_SIGNATURE))) {
            json_decref(part);
            part = NULL;
        }
        rc = gem_push(contents, "model", part);
    }
    return rc;
}

static int gem_build_contents(const json_t *msgs, json_t *body, char **err)
{
    json_t *contents = json_array();
    pu_buf system = {0};
    const json_t *calls = NULL; /* tool_calls of the last assistant message */
    int rc = contents ? 0 : VENOM_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < json_array_size(msgs);) {
        const json_t *msg = json_array_get(msgs, i);
        const char *role = gem_str(msg, "role");
        if (!json_is_object(msg) || !role) {
            rc = gem_fail(err, VENOM_E_INVAL, "messages[%zu] must be an object with a role", i);
            break;
        }
        if (!strcmp(role, "system")) {
            char *t = NULL;
            rc = pu_content_text(json_object_get(msg, "content"), "", &t, err);
            if (rc == 0 && *t &&
                ((system.len && pu_buf_add(&system, "\n\n", 2) != 0) || pu_buf_add(&system, t, strlen(t)) != 0))
                rc = VENOM_E_NOMEM;
            free(t);
        } else if (!strcmp(role, "user")) {
            rc = gem_push_content(contents, "user", json_object_get(msg, "content"), i, err);
        } else if (!strcmp(role, "assistant")) {
            calls = json_object_get(msg, "tool_calls");
            rc = gem_push_assistant(contents, msg, i, err);
        } else if (!strcmp(role, "tool")) {
            size_t j = i;
            while (j < json_array_size(msgs) && !strcmp(pu_str(json_array_get(msgs, j), "role", ""), "tool"))
                j++;
            rc = gem_push_tool_results(contents, msgs, i, j, calls, err);
            i = j;
            continue;
        } else {
            rc = gem_fail(err, VENOM_E_INVAL, "messages[%zu] has unknown role '%s' (system, user, assistant, tool)", i,
                          role);
        }
        i++;
    }
    if (rc == 0 && !json_array_size(contents))
        rc = gem_fail(err, VENOM_E_INVAL, "the request has no user or assistant message with content");
    if (rc == 0 && system.len &&
        !gem_set(body, "systemInstruction", json_pack("{s:[{s:s}]}", "parts", "text", pu_buf_str(&system))))
        rc = VENOM_E_NOMEM;
    if (rc == 0 && json_object_set(body, "contents", contents) != 0)
        rc = VENOM_E_NOMEM;
    pu_buf_release(&system);
    json_decref(contents);
    return rc;
}

static int gem_build_tools(const json_t *req, json_t *body, char **err)
{
    const json_t *tools = json_object_get(req, "tools");
    if (!tools || json_is_null(tools) || (json_is_array(tools) && !json_array_size(tools)))
        return 0;
    if (!json_is_array(tools))
        return gem_fail(err, VENOM_E_INVAL, "tools must be an array");
    json_t *decls = json_array();
    if (!decls || !gem_set(body, "tools", json_pack("[{s:o}]", "functionDeclarations", decls)))
        return VENOM_E_NOMEM;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *name = gem_str(t, "name");
        if (!name || !*name)
            return gem_fail(err, VENOM_E_INVAL, "tools[%zu] has no name", i);
        json_t *d = json_pack("{s:s}", "name", name);
        if (!d || json_array_append_new(decls, d) != 0)
            return VENOM_E_NOMEM;
        const char *desc = gem_str(t, "description");
        if (desc && *desc && !gem_set(d, "description", json_string(desc)))
            return VENOM_E_NOMEM;
        json_t *params = json_object_get(t, "parameters");
        if (json_is_object(params)) {
            json_t *s = gem_schema(params);
            if (!s)
                return VENOM_E_NOMEM;
            /* Gemini refuses an object schema without properties: leave it out */
            if (json_object_get(s, "properties")) {
                if (!gem_set(d, "parameters", s))
                    return VENOM_E_NOMEM;
            } else {
                json_decref(s);
            }
        }
    }
    const json_t *tc = json_object_get(req, "tool_choice");
    const char *choice = json_string_value(tc), *mode = "AUTO";
    if (tc && !json_is_null(tc) && !choice)
        return gem_fail(err, VENOM_E_INVAL, "tool_choice must be \"auto\", \"none\" or \"required\"");
    if (!choice || !strcmp(choice, "auto"))
        mode = "AUTO";
    else if (!strcmp(choice, "none"))
        mode = "NONE";
    else if (!strcmp(choice, "required"))
        mode = "ANY";
    else
        return gem_fail(err, VENOM_E_INVAL, "tool_choice '%s' is not one of auto, none, required", choice);
    return gem_set(body, "toolConfig", json_pack("{s:{s:s}}", "functionCallingConfig", "mode", mode))
               ? 0
               : VENOM_E_NOMEM;
}

static int gem_build_generation(const gem_config *cfg, const json_t *req, json_t *body, char **err)
{
    json_t *gc = json_object();
    if (!gc)
        return VENOM_E_NOMEM;
    int rc = 0;
    static const char *const nums[][2] = {{"temperature", "temperature"}, {"top_p", "topP"}};
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        json_t *v = json_object_get(req, nums[i][0]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_number(v))
            rc = gem_fail(err, VENOM_E_INVAL, "%s must be a number", nums[i][0]);
        else if (json_object_set(gc, nums[i][1], v) != 0)
            rc = VENOM_E_NOMEM;
    }
    json_t *mt = json_object_get(req, "max_tokens");
    if (rc == 0 && mt && !json_is_null(mt)) {
        if (!json_is_integer(mt) || json_integer_value(mt) < 1)
            rc = gem_fail(err, VENOM_E_INVAL, "max_tokens must be a positive integer");
        else if (json_object_set(gc, "maxOutputTokens", mt) != 0)
            rc = VENOM_E_NOMEM;
    } else if (rc == 0 && cfg->max_tokens > 0 && !gem_set(gc, "maxOutputTokens", json_integer(cfg->max_tokens))) {
        rc = VENOM_E_NOMEM;
    }
    json_t *stop = json_object_get(req, "stop");
    if (rc == 0 && json_is_string(stop)) {
        if (!gem_set(gc, "stopSequences", json_pack("[O]", stop)))
            rc = VENOM_E_NOMEM;
    } else if (rc == 0 && json_is_array(stop) && json_array_size(stop)) {
        size_t i;
        json_t *s;
        json_array_foreach(stop, i, s) {
            if (rc == 0 && !json_is_string(s))
                rc = gem_fail(err, VENOM_E_INVAL, "stop[%zu] must be a string", i);
        }
        if (rc == 0 && json_object_set(gc, "stopSequences", stop) != 0)
            rc = VENOM_E_NOMEM;
    } else if (rc == 0 && stop && !json_is_null(stop) && !json_is_array(stop)) {
        rc = gem_fail(err, VENOM_E_INVAL, "stop must be a string or an array of strings");
    }
    json_t *seed = json_object_get(req, "seed");
    if (rc == 0 && seed && !json_is_null(seed)) {
        if (!json_is_integer(seed))
            rc = gem_fail(err, VENOM_E_INVAL, "seed must be an integer");
        else if (json_object_set(gc, "seed", seed) != 0)
            rc = VENOM_E_NOMEM;
    }
    if (rc == 0 && json_object_size(gc) && json_object_set(body, "generationConfig", gc) != 0)
        rc = VENOM_E_NOMEM;
    json_decref(gc);
    return rc;
}

/* The model of a request: its own, else the configured one. */
static int gem_req_model(const gem_config *cfg, const json_t *req, const char *fallback, const char **id, char **err)
{
    const char *model = gem_str(req, "model");
    if (!model || !*model)
        model = fallback;
    if (!model || !*model)
        return gem_fail(err, VENOM_E_INVAL,
                        "no model: set providers.%s.model in the configuration or give model in the request",
                        cfg->pu.name);
    return gem_model_id(model, id, err);
}

int gem_build_chat(const gem_config *cfg, const json_t *req, json_t **http_req, char **model_out, char **err)
{
    *http_req = NULL;
    if (model_out)
        *model_out = NULL;
    if (!json_is_object(req))
        return gem_fail(err, VENOM_E_INVAL, "the chat request is not a JSON object");
    const char *model = NULL;
    int rc = gem_req_model(cfg, req, cfg->pu.model, &model, err);
    if (rc != 0)
        return rc;
    const json_t *msgs = json_object_get(req, "messages");
    if (!json_is_array(msgs))
        return gem_fail(err, VENOM_E_INVAL, "the chat request has no messages array");
    char *url = NULL, *path = NULL;
    json_t *body = json_object();
    if (!body)
        return VENOM_E_NOMEM;
    if ((rc = gem_build_contents(msgs, body, err)) != 0 || (rc = gem_build_tools(req, body, err)) != 0 ||
        (rc = gem_build_generation(cfg, req, body, err)) != 0)
        goto out;
    size_t n = strlen(model) + 64;
    if (!(path = malloc(n))) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    snprintf(path, n, "models/%s:%s", model, cfg->pu.stream ? "streamGenerateContent?alt=sse" : "generateContent");
    if (!(url = gem_url(cfg, path))) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    rc = pu_http_request(&cfg->pu, "POST", url, body, cfg->pu.stream ? "sse" : "none", "x-goog-api-key", "",
                         http_req, err);
    body = NULL;
    if (rc == 0 && model_out && !(*model_out = strdup(model))) {
        json_decref(*http_req);
        *http_req = NULL;
        rc = VENOM_E_NOMEM;
    }
out:
    free(path);
    free(url);
    json_decref(body);
    return rc;
}

/* ------------------------------------------------------------ embeddings and models */

int gem_build_embed(const gem_config *cfg, const json_t *req, json_t **http_req, char **model_out, size_t *n_inputs,
                    char **err)
{
    *http_req = NULL;
    *model_out = NULL;
    *n_inputs = 0;
    const char *model = NULL;
    int rc = gem_req_model(cfg, req, cfg->embedding_model, &model, err);
    if (rc != 0)
        return rc == VENOM_E_INVAL && !gem_str(req, "model") && !cfg->embedding_model
                   ? gem_fail(err, rc,
                              "no embedding model: set providers.%s.options.embedding_model or give model in the "
                              "request",
                              cfg->pu.name)
                   : rc;
    const json_t *input = json_object_get(req, "input");
    json_t *list = json_is_string(input) ? json_pack("[O]", input) : json_incref((json_t *)input);
    if (!json_is_array(list) || !json_array_size(list)) {
        json_decref(list);
        return gem_fail(err, VENOM_E_INVAL, "embed: input must be a string or a non-empty array of strings");
    }
    json_t *requests = json_array(), *body = json_pack("{s:o}", "requests", requests);
    char *full = malloc(strlen(model) + 8), *path = malloc(strlen(model) + 40), *url = NULL;
    if (!requests || !body || !full || !path) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    snprintf(full, strlen(model) + 8, "models/%s", model);
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) {
        if (!json_is_string(s)) {
            rc = gem_fail(err, VENOM_E_INVAL, "embed: input[%zu] must be a string", i);
            goto out;
        }
        if (json_array_append_new(requests, json_pack("{s:s,s:{s:[{s:O}]}}", "model", full, "content", "parts",
                                                      "text", s)) != 0) {
            rc = VENOM_E_NOMEM;
            goto out;
        }
    }
    snprintf(path, strlen(model) + 40, "models/%s:batchEmbedContents", model);
    if (!(url = gem_url(cfg, path))) {
        rc = VENOM_E_NOMEM;
        goto out;
    }
    rc = pu_http_request(&cfg->pu, "POST", url, body, "none", "x-goog-api-key", "", http_req, err);
    body = NULL;
    *n_inputs = json_array_size(list);
    if (rc == 0 && !(*model_out = strdup(model))) {
        json_decref(*http_req);
        *http_req = NULL;
        rc = VENOM_E_NOMEM;
    }
out:
    free(full);
    free(path);
    free(url);
    json_decref(body);
    json_decref(list);
    return rc;
}

int gem_parse_embed(const json_t *body, const char *model, size_t n_inputs, json_t **out, char **err)
{
    *out = NULL;
    const json_t *embs = json_object_get(body, "embeddings");
    if (!json_is_array(embs))
        return gem_fail(err, VENOM_E_NET, "malformed batchEmbedContents reply: no embeddings array");
    if (json_array_size(embs) != n_inputs)
        return gem_fail(err, VENOM_E_NET, "batchEmbedContents returned %zu embeddings for %zu inputs",
                        json_array_size(embs), n_inputs);
    json_t *vecs = json_array();
    if (!vecs)
        return VENOM_E_NOMEM;
    size_t i;
    json_t *e;
    json_array_foreach(embs, i, e) {
        json_t *vals = json_object_get(e, "values");
        size_t j;
        json_t *x;
        bool ok = json_is_array(vals);
        json_array_foreach(vals, j, x) ok = ok && json_is_number(x);
        if (!ok) {
            json_decref(vecs);
            return gem_fail(err, VENOM_E_NET, "malformed batchEmbedContents reply: embeddings[%zu].values is not an "
                                              "array of numbers", i);
        }
        if (json_array_append(vecs, vals) != 0) {
            json_decref(vecs);
            return VENOM_E_NOMEM;
        }
    }
    /* batchEmbedContents reports no token counts: flagged, never guessed */
    *out = json_pack("{s:s,s:o,s:{s:i,s:b}}", "model", model ? model : "", "embeddings", vecs, "usage",
                     "input_tokens", 0, "missing", 1);
    return *out ? 0 : VENOM_E_NOMEM;
}

int gem_build_models(const gem_config *cfg, const char *page_token, json_t **http_req, char **err)
{
    pu_buf path = {0};
    *http_req = NULL;
    int rc = pu_buf_add(&path, "models?pageSize=1000", 20);
    if (rc == 0 && page_token) {
        if (strlen(page_token) > 1000) {
            pu_buf_release(&path);
            return gem_fail(err, VENOM_E_NET, "the model list's nextPageToken is too long");
        }
        rc = pu_buf_add(&path, "&pageToken=", 11);
        for (const unsigned char *p = (const unsigned char *)page_token; rc == 0 && *p; p++) {
            char enc[4];
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                *p == '_' || *p == '.' || *p == '~') {
                rc = pu_buf_add(&path, (const char *)p, 1);
            } else {
                snprintf(enc, sizeof enc, "%%%02X", *p);
                rc = pu_buf_add(&path, enc, 3);
            }
        }
    }
    char *url = rc == 0 ? gem_url(cfg, pu_buf_str(&path)) : NULL;
    pu_buf_release(&path);
    if (!url)
        return VENOM_E_NOMEM;
    rc = pu_http_request(&cfg->pu, "GET", url, NULL, "none", "x-goog-api-key", "", http_req, err);
    free(url);
    return rc;
}

int gem_parse_models(const json_t *page, json_t *out, char **next, char **err)
{
    *next = NULL;
    const json_t *models = json_object_get(page, "models");
    if (models && !json_is_array(models))
        return gem_fail(err, VENOM_E_NET, "malformed model list: models is not an array");
    if (!models && !json_is_object(page))
        return gem_fail(err, VENOM_E_NET, "malformed model list: not a JSON object");
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        const char *name = gem_str(m, "name");
        if (!name)
            continue;
        json_t *o = json_pack("{s:s}", "id", !strncmp(name, "models/", 7) ? name + 7 : name);
        if (!o || json_array_append_new(out, o) != 0)
            return VENOM_E_NOMEM;
        static const char *const copy[][2] = {{"displayName", "name"},
                                              {"description", "description"},
                                              {"inputTokenLimit", "input_token_limit"},
                                              {"outputTokenLimit", "output_token_limit"},
                                              {"supportedGenerationMethods", "methods"}};
        for (size_t k = 0; k < sizeof copy / sizeof copy[0]; k++) {
            json_t *v = json_object_get(m, copy[k][0]);
            if (v && json_object_set(o, copy[k][1], v) != 0)
                return VENOM_E_NOMEM;
        }
    }
    const char *tok = gem_str(page, "nextPageToken");
    if (tok && *tok && !(*next = strdup(tok)))
        return VENOM_E_NOMEM;
    return 0;
}

/* ------------------------------------------------------------ responses */

void gem_stream_init(gem_stream *s, const char *model)
{
    memset(s, 0, sizeof *s);
    s->model = model ? strdup(model) : NULL;
}

void gem_stream_release(void *st)
{
    gem_stream *s = st;
    if (!s)
        return;
    free(s->model);
    free(s->id);
    pu_buf_release(&s->text);
    pu_tool_calls_release(&s->tools);
    json_decref(s->signatures);
    json_decref(s->usage);
    free(s->finish);
    free(s->blocked);
    memset(s, 0, sizeof *s);
}

static const char *gem_finish(const char *reason)
{
    if (!reason)
        return "other";
    if (!strcmp(reason, "STOP"))
        return "stop";
    if (!strcmp(reason, "MAX_TOKENS"))
        return "length";
    static const char *const filtered[] = {"SAFETY",      "RECITATION",    "BLOCKLIST",
                                           "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
                                           "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"};
    for (size_t i = 0; i < sizeof filtered / sizeof filtered[0]; i++)
        if (!strcmp(reason, filtered[i]))
            return "content_filter";
    return "other"; /* LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, … */
}

static int64_t gem_count(const json_t *o, const char *key)
{
    int64_t v = 0;
    return pu_int(o, key, &v) && v > 0 ? v : 0;
}

/* Section 7: uncached = prompt − cached (+ toolUsePrompt); output =
 * candidates + thoughts. */
static json_t *gem_usage(const json_t *u)
{
    if (!json_is_object(u))
        return pu_usage(0, 0, 0, 0, true, NULL);
    int64_t prompt = gem_count(u, "promptTokenCount"), cached = gem_count(u, "cachedContentTokenCount");
    int64_t input = prompt - cached + gem_count(u, "toolUsePromptTokenCount");
    return pu_usage(input, cached, 0, gem_count(u, "candidatesTokenCount") + gem_count(u, "thoughtsTokenCount"), false,
                    u);
}

/* "STATUS (code): message" of an error object. */
static void gem_error_text(const json_t *e, char *out, size_t cap)
{
    const char *status = gem_str(e, "status"), *msg = gem_str(e, "message");
    int64_t code = 0;
    bool has_code = pu_int(e, "code", &code);
    char retry[64] = "";
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(e, "details"), i, d) {
        const char *type = gem_str(d, "@type"), *delay = gem_str(d, "retryDelay");
        if (type && strstr(type, "RetryInfo") && delay)
            snprintf(retry, sizeof retry, "; retry in %s", delay);
    }
    char head[96] = "";
    if (status && has_code)
        snprintf(head, sizeof head, "%s (%lld): ", status, (long long)code);
    else if (status)
        snprintf(head, sizeof head, "%s: ", status);
    else if (has_code)
        snprintf(head, sizeof head, "code %lld: ", (long long)code);
    snprintf(out, cap, "%s%s%s", head, msg ? msg : "(no message)", retry);
}

char *gem_error_message(const char *body, size_t len)
{
    json_t *r = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    if (json_is_array(r) && json_array_size(r) == 1) { /* some errors come as a one-element array */
        json_t *first = json_incref(json_array_get(r, 0));
        json_decref(r);
        r = first;
    }
    json_t *e = json_object_get(r, "error");
    char *out;
    if (json_is_object(e)) {
        char msg[1024];
        gem_error_text(e, msg, sizeof msg);
        out = strdup(msg);
    } else {
        out = pu_error_message(body, len);
    }
    json_decref(r);
    return out;
}

/* One GenerateContentResponse (a stream chunk or the whole body). */
static int gem_chunk(gem_stream *s, const json_t *c, json_t *deltas, char **err)
{
    int rc = 0;
    const json_t *e = json_object_get(c, "error");
    if (e && !json_is_null(e)) {
        char msg[1024];
        if (json_is_object(e))
            gem_error_text(e, msg, sizeof msg);
        else
            snprintf(msg, sizeof msg, "%s", json_is_string(e) ? json_string_value(e) : "(no message)");
        return gem_fail(err, VENOM_E_NET, "the server reported an error at chunk %zu: %s", s->events, msg);
    }
    const char *id = gem_str(c, "responseId"), *mv = gem_str(c, "modelVersion");
    if (id && *id && (rc = gem_set_text(&s->id, id)) != 0)
        return rc;
    if (mv && *mv && (rc = gem_set_text(&s->model, mv)) != 0)
        return rc;
    const json_t *um = json_object_get(c, "usageMetadata");
    if (json_is_object(um)) { /* the last one wins */
        json_decref(s->usage);
        s->usage = json_incref((json_t *)um);
    }
    const char *block = gem_str(json_object_get(c, "promptFeedback"), "blockReason");
    if (block && *block && (rc = gem_set_text(&s->blocked, block)) != 0)
        return rc;
    const json_t *cands = json_object_get(c, "candidates");
    if (cands && !json_is_array(cands))
        return gem_fail(err, VENOM_E_NET, "malformed chunk at event %zu: candidates is not an array", s->events);
    const json_t *cand = json_array_get(cands, 0);
    const json_t *parts = json_object_get(json_object_get(cand, "content"), "parts");
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p) {
        if (json_is_true(json_object_get(p, "thought")))
            continue; /* thought summaries are not answer text */
        const char *t = gem_str(p, "text");
        const json_t *fc = json_object_get(p, "functionCall");
        if (t && *t) {
            if (pu_buf_add(&s->text, t, strlen(t)) != 0 ||
                (deltas && json_array_append_new(deltas, pu_delta_text(t, strlen(t))) != 0))
                return VENOM_E_NOMEM;
        }
        if (!json_is_object(fc))
            continue;
        const char *name = gem_str(fc, "name");
        if (!name || !*name)
            return gem_fail(err, VENOM_E_NET, "malformed chunk at event %zu: functionCall without a name", s->events);
        size_t slot = 0;
        const char *fid = gem_str(fc, "id");
        json_t *args = json_object_get(fc, "args");
        if ((rc = pu_tool_calls_at(&s->tools, (int64_t)s->tools.n, NULL, &slot)) != 0 ||
            (fid && *fid && (rc = pu_tool_call_set_id(&s->tools, slot, fid)) != 0) ||
            (rc = pu_tool_call_set_name(&s->tools, slot, name)) != 0)
            return rc;
        if (args && !json_is_null(args) && (rc = pu_tool_call_set_args(&s->tools, slot, args)) != 0)
            return rc;
        if (!s->signatures && !(s->signatures = json_array()))
            return VENOM_E_NOMEM;
        const char *sig = gem_str(p, "thoughtSignature");
        if (json_array_append_new(s->signatures, sig ? json_string(sig) : json_null()) != 0)
            return VENOM_E_NOMEM;
        if (deltas) {
            char idbuf[32];
            if (!fid || !*fid) {
                snprintf(idbuf, sizeof idbuf, "call_%zu", slot);
                fid = idbuf;
            }
            char *a = args && !json_is_null(args) ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
            bool ok = a && json_array_append_new(deltas, pu_delta_tool_call(slot, fid, name)) == 0 &&
                      json_array_append_new(deltas, pu_delta_tool_args(slot, a, strlen(a))) == 0;
            free(a);
            if (!ok)
                return VENOM_E_NOMEM;
        }
    }
    const char *fr = gem_str(cand, "finishReason");
    if (fr && *fr && (rc = gem_set_text(&s->finish, fr)) != 0)
        return rc;
    return 0;
}

int gem_stream_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    gem_stream *s = st;
    (void)event;
    s->events++;
    json_error_t je;
    json_t *c = json_loadb(data ? data : "", data ? len : 0, 0, &je);
    if (!json_is_object(c)) {
        char clip[80];
        gem_clip(clip, sizeof clip, data ? data : "", data ? len : 0);
        int rc = gem_fail(err, VENOM_E_NET, "malformed chunk at event %zu: %s (data: %s)", s->events,
                          c ? "not a JSON object" : je.text, clip);
        json_decref(c);
        return rc;
    }
    int rc = gem_chunk(s, c, deltas, err);
    json_decref(c);
    return rc;
}

/* The canonical response from the state. */
static int gem_build_response(gem_stream *s, json_t **response)
{
    json_t *tcs = NULL;
    int rc = pu_tool_calls_json(&s->tools, &tcs);
    if (rc != 0)
        return rc;
    size_t i;
    json_t *tc;
    json_array_foreach(tcs, i, tc) {
        json_t *sig = json_array_get(s->signatures, i);
        if (json_is_string(sig) && json_object_set(tc, "thought_signature", sig) != 0) {
            json_decref(tcs);
            return VENOM_E_NOMEM;
        }
    }
    const char *finish = s->blocked && !s->finish ? "content_filter" : gem_finish(s->finish);
    *response = pu_response(s->model, s->id, pu_buf_str(&s->text), tcs, finish, gem_usage(s->usage));
    return *response ? 0 : VENOM_E_NOMEM;
}

int gem_stream_finish(void *st, json_t **response, char **err)
{
    gem_stream *s = st;
    *response = NULL;
    if (!s->finish && !s->blocked)
        return gem_fail(err, VENOM_E_NET,
                        "stream ended before a candidate finishReason (after %zu chunks): the answer is incomplete",
                        s->events);
    return gem_build_response(s, response);
}

int gem_parse_response(void *st, const char *body, size_t len, json_t **response, char **err)
{
    gem_stream *s = st;
    *response = NULL;
    json_error_t je;
    json_t *r = json_loadb(body ? body : "", body ? len : 0, 0, &je);
    int rc = 0;
    if (!json_is_object(r)) {
        char clip[80];
        gem_clip(clip, sizeof clip, body ? body : "", body ? len : 0);
        rc = gem_fail(err, VENOM_E_NET, "malformed response body: %s (body: %s)", r ? "not a JSON object" : je.text,
                      clip);
        goto out;
    }
    s->events++;
    if ((rc = gem_chunk(s, r, NULL, err)) != 0)
        goto out;
    if (!json_array_size(json_object_get(r, "candidates")) && !s->blocked) {
        rc = gem_fail(err, VENOM_E_NET, "malformed response body: no candidates and no promptFeedback");
        goto out;
    }
    rc = gem_build_response(s, response);
out:
    json_decref(r);
    return rc;
}
