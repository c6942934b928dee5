/*
 * case.c — reading and checking a venom-modelsrv case file (the format is in
 * docs/internals/modelsrv.md). Every mistake is reported with its JSON path.
 */
#include "modelsrv.h"

#include "util/err.h"

const char *msrv_api_name(msrv_api api)
{
    switch (api) {
    case MSRV_OPENAI: return "openai";
    case MSRV_ANTHROPIC: return "anthropic";
    case MSRV_GEMINI: return "gemini";
    case MSRV_OLLAMA: return "ollama";
    }
    return "?";
}

/* Unknown keys are errors: a typo must not silently disable a check. */
static int only_keys(const json_t *o, const char *where, const char *const *allowed, char **err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(k, allowed[i]) == 0)
                ok = true;
        if (!ok) {
            buf b = BUF_INIT;
            for (size_t i = 0; allowed[i]; i++)
                if (buf_printf(&b, "%s%s", i ? ", " : "", allowed[i]) < 0)
                    break;
            err_set(err, -EINVAL, "%s: unknown key '%s' (known: %s)", where, k, buf_str(&b));
            buf_release(&b);
            return -EINVAL;
        }
    }
    return 0;
}

/* An optional non-negative integer (null or absent: -1). */
static int opt_long(const json_t *o, const char *key, const char *where, long *out, char **err)
{
    json_t *v = json_object_get(o, key);
    *out = -1;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000000)
        return err_set(err, -EINVAL, "%s.%s: expected a non-negative integer or null", where, key);
    *out = (long)json_integer_value(v);
    return 0;
}

static int opt_str(const json_t *o, const char *key, const char *where, char **out, char **err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(err, -EINVAL, "%s.%s: expected a string", where, key);
    *out = mem_strdup(json_string_value(v));
    return *out ? 0 : -ENOMEM;
}

static int load_usage(const json_t *u, const char *where, msrv_usage *us, char **err)
{
    static const char *const keys[] = {"input", "output", "cached", "cache_write", "reasoning", NULL};
    long *dst[] = {&us->input, &us->output, &us->cached, &us->cache_write, &us->reasoning};
    us->input = 10;
    us->output = 5;
    us->cached = us->cache_write = us->reasoning = 0;
    if (!u)
        return 0;
    if (!json_is_object(u))
        return err_set(err, -EINVAL, "%s: expected an object {input, output, cached, cache_write, reasoning}", where);
    if (only_keys(u, where, keys, err) < 0)
        return -EINVAL;
    for (size_t i = 0; keys[i]; i++) {
        long v;
        if (opt_long(u, keys[i], where, &v, err) < 0)
            return -EINVAL;
        if (v >= 0)
            *dst[i] = v;
    }
    return 0;
}

static int load_call(const json_t *c, const char *where, size_t ti, size_t ci, msrv_call *call, char **err)
{
    static const char *const keys[] = {"id", "name", "arguments", "arguments_raw", NULL};
    if (!json_is_object(c))
        return err_set(err, -EINVAL, "%s: expected an object {id, name, arguments|arguments_raw}", where);
    if (only_keys(c, where, keys, err) < 0)
        return -EINVAL;
    json_t *name = json_object_get(c, "name");
    if (!json_is_string(name) || !json_string_length(name))
        return err_set(err, -EINVAL, "%s.name: required, a non-empty string", where);
    json_t *args = json_object_get(c, "arguments");
    json_t *raw = json_object_get(c, "arguments_raw");
    if (args && raw)
        return err_set(err, -EINVAL, "%s: give either 'arguments' or 'arguments_raw', not both", where);
    if (raw && !json_is_string(raw))
        return err_set(err, -EINVAL, "%s.arguments_raw: expected a string (the exact JSON text to send)", where);
    if (args && !json_is_object(args))
        return err_set(err, -EINVAL, "%s.arguments: expected an object (use arguments_raw for anything else)", where);
    if (opt_str(c, "id", where, &call->id, err) < 0)
        return -EINVAL;
    call->id_given = call->id != NULL;
    if (!call->id && !(call->id = mem_printf("call_%zu_%zu", ti + 1, ci + 1)))
        return -ENOMEM;
    if (!(call->name = mem_strdup(json_string_value(name))))
        return -ENOMEM;
    if (raw) {
        if (!(call->args_raw = mem_strdup(json_string_value(raw))))
            return -ENOMEM;
    } else {
        call->args = args ? json_incref(args) : json_object();
        if (!call->args)
            return -ENOMEM;
    }
    return 0;
}

static int load_expect(const json_t *e, const char *where, char **err)
{
    static const char *const keys[] = {"tools_include", "tools_exclude", "last_role", "contains",
                                       "not_contains", "model", "stream", NULL};
    if (!json_is_object(e))
        return err_set(err, -EINVAL, "%s: expected an object", where);
    if (only_keys(e, where, keys, err) < 0)
        return -EINVAL;
    static const char *const lists[] = {"tools_include", "tools_exclude", "contains", "not_contains"};
    for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
        json_t *v = json_object_get(e, lists[i]);
        if (!v || json_is_string(v))
            continue;
        size_t j;
        json_t *s;
        if (!json_is_array(v))
            return err_set(err, -EINVAL, "%s.%s: expected a string or an array of strings", where, lists[i]);
        json_array_foreach(v, j, s) if (!json_is_string(s))
            return err_set(err, -EINVAL, "%s.%s[%zu]: expected a string", where, lists[i], j);
    }
    json_t *lr = json_object_get(e, "last_role");
    if (lr) {
        const char *r = json_string_value(lr);
        if (!r || (strcmp(r, "user") && strcmp(r, "tool") && strcmp(r, "assistant")))
            return err_set(err, -EINVAL, "%s.last_role: expected \"user\", \"tool\" or \"assistant\"", where);
    }
    json_t *m = json_object_get(e, "model");
    if (m && !json_is_string(m))
        return err_set(err, -EINVAL, "%s.model: expected a string", where);
    json_t *st = json_object_get(e, "stream");
    if (st && !json_is_boolean(st))
        return err_set(err, -EINVAL, "%s.stream: expected true or false", where);
    return 0;
}

static int load_turn(json_t *t, size_t ti, msrv_turn *turn, char **err)
{
    static const char *const keys[] = {"expect", "reply", "fault", "stall_ms", "stall_after_events",
                                       "cut_after_events", "malformed_after_events",
                                       "error_after_events", "chunk", "comment", NULL};
    char where[64], w2[128];
    int rc;
    snprintf(where, sizeof where, "turns[%zu]", ti);
    if (!json_is_object(t))
        return err_set(err, -EINVAL, "%s: expected an object {expect, reply, fault, ...}", where);
    if ((rc = only_keys(t, where, keys, err)) < 0)
        return rc;
    json_t *e = json_object_get(t, "expect");
    if (e) {
        snprintf(w2, sizeof w2, "%s.expect", where);
        if ((rc = load_expect(e, w2, err)) < 0)
            return rc;
        turn->expect = e;
    }
    if ((rc = opt_long(t, "stall_ms", where, &turn->stall_ms, err)) < 0 ||
        (rc = opt_long(t, "stall_after_events", where, &turn->stall_after, err)) < 0 ||
        (rc = opt_long(t, "cut_after_events", where, &turn->cut_after, err)) < 0 ||
        (rc = opt_long(t, "malformed_after_events", where, &turn->malformed_after, err)) < 0 ||
        (rc = opt_long(t, "error_after_events", where, &turn->error_after, err)) < 0)
        return rc;
    if (turn->stall_after >= 0 && turn->stall_ms < 0)
        return err_set(err, -EINVAL, "%s: stall_after_events needs stall_ms (how long to stall)", where);
    long chunk;
    if ((rc = opt_long(t, "chunk", where, &chunk, err)) < 0)
        return rc;
    if (chunk == 0)
        return err_set(err, -EINVAL, "%s.chunk: must be at least 1 (bytes per streamed piece)", where);
    turn->chunk = chunk > 0 ? (size_t)chunk : 16;

    json_t *f = json_object_get(t, "fault");
    if (f) {
        static const char *const fkeys[] = {"status", "headers", "body", "times", NULL};
        snprintf(w2, sizeof w2, "%s.fault", where);
        if (!json_is_object(f))
            return err_set(err, -EINVAL, "%s: expected an object {status, headers, body, times}", w2);
        if ((rc = only_keys(f, w2, fkeys, err)) < 0)
            return rc;
        json_t *st = json_object_get(f, "status");
        if (!json_is_integer(st) || json_integer_value(st) < 400 || json_integer_value(st) > 599)
            return err_set(err, -EINVAL, "%s.status: required, an HTTP error status (400..599)", w2);
        turn->fault_status = (int)json_integer_value(st);
        json_t *h = json_object_get(f, "headers");
        if (h) {
            const char *k;
            json_t *v;
            if (!json_is_object(h))
                return err_set(err, -EINVAL, "%s.headers: expected an object of strings", w2);
            json_object_foreach(h, k, v) if (!json_is_string(v))
                return err_set(err, -EINVAL, "%s.headers.%s: expected a string", w2, k);
            turn->fault_headers = h;
        }
        turn->fault_body = json_object_get(f, "body");
        long times;
        if ((rc = opt_long(f, "times", w2, &times, err)) < 0)
            return rc;
        if (times == 0)
            return err_set(err, -EINVAL, "%s.times: must be at least 1 (leave the fault out instead)", w2);
        turn->fault_times = times > 0 ? times : 1;
    }

    json_t *r = json_object_get(t, "reply");
    snprintf(w2, sizeof w2, "%s.reply", where);
    if (!r)
        return err_set(err, -EINVAL, "%s: required (what to answer once any fault has been served)", w2);
    static const char *const rkeys[] = {"text", "tool_calls", "usage", "finish", "thought_signature", NULL};
    if (!json_is_object(r))
        return err_set(err, -EINVAL, "%s: expected an object {text, tool_calls, usage}", w2);
    if ((rc = only_keys(r, w2, rkeys, err)) < 0)
        return rc;
    if ((rc = opt_str(r, "text", w2, &turn->text, err)) < 0)
        return rc;
    if (!turn->text && !(turn->text = mem_strdup("")))
        return -ENOMEM;
    if ((rc = opt_str(r, "finish", w2, &turn->finish, err)) < 0)
        return rc;
    if (turn->finish && strcmp(turn->finish, "length") != 0)
        return err_set(err, -EINVAL, "%s.finish: only \"length\" (the token limit) can be scripted", w2);
    if ((rc = opt_str(r, "thought_signature", w2, &turn->thought_signature, err)) < 0)
        return rc;
    char w3[256];
    snprintf(w3, sizeof w3, "%s.usage", w2);
    if ((rc = load_usage(json_object_get(r, "usage"), w3, &turn->usage, err)) < 0)
        return rc;
    json_t *tc = json_object_get(r, "tool_calls");
    if (tc) {
        if (!json_is_array(tc))
            return err_set(err, -EINVAL, "%s.tool_calls: expected an array", w2);
        turn->ncalls = json_array_size(tc);
        if (turn->ncalls && !(turn->calls = mem_calloc(turn->ncalls, sizeof *turn->calls)))
            return -ENOMEM;
        for (size_t i = 0; i < turn->ncalls; i++) {
            snprintf(w3, sizeof w3, "%s.tool_calls[%zu]", w2, i);
            if ((rc = load_call(json_array_get(tc, i), w3, ti, i, &turn->calls[i], err)) < 0)
                return rc;
        }
    }
    return 0;
}

int msrv_case_load(const char *path, msrv_case **out, char **err)
{
    static const char *const keys[] = {"name", "auth", "repeat", "models", "turns", "comment", "issued", NULL};
    json_error_t je;
    int rc = -EINVAL;
    *out = NULL;
    msrv_case *c = mem_calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!c->doc) {
        rc = err_set(err, je.line < 1 ? -ENOENT : -EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        msrv_case_free(c);
        return rc;
    }
    if (!json_is_object(c->doc)) {
        rc = err_set(err, -EINVAL, "%s: expected a JSON object {name, turns, ...}", path);
        goto fail;
    }
    if ((rc = only_keys(c->doc, "case", keys, err)) < 0)
        goto fail;
    json_t *name = json_object_get(c->doc, "name");
    if (!json_is_string(name)) {
        rc = err_set(err, -EINVAL, "case.name: required, a string");
        goto fail;
    }
    rc = -ENOMEM;
    if (!(c->name = mem_strdup(json_string_value(name))))
        goto fail;
    rc = -EINVAL;
    json_t *rep = json_object_get(c->doc, "repeat");
    if (rep && !json_is_boolean(rep)) {
        rc = err_set(err, -EINVAL, "case.repeat: expected true or false");
        goto fail;
    }
    c->repeat = json_is_true(rep);
    json_t *auth = json_object_get(c->doc, "auth");
    if (auth) {
        json_t *h = json_object_get(auth, "header"), *v = json_object_get(auth, "value");
        if (!json_is_object(auth) || !json_is_string(h) || !json_is_string(v) || json_object_size(auth) != 2) {
            rc = err_set(err, -EINVAL, "case.auth: expected {\"header\": \"authorization\", \"value\": \"Bearer test-key\"}");
            goto fail;
        }
        rc = -ENOMEM;
        if (!(c->auth_header = mem_strdup(json_string_value(h))) ||
            !(c->auth_value = mem_strdup(json_string_value(v))))
            goto fail;
        for (char *p = c->auth_header; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    c->models = json_object_get(c->doc, "models");
    if (c->models) {
        size_t i;
        json_t *m;
        if (!json_is_array(c->models) || !json_array_size(c->models)) {
            rc = err_set(err, -EINVAL, "case.models: expected a non-empty array of model names");
            goto fail;
        }
        json_array_foreach(c->models, i, m) if (!json_is_string(m)) {
            rc = err_set(err, -EINVAL, "case.models[%zu]: expected a string", i);
            goto fail;
        }
    }
    /* "issued": tool-call ids taken as issued before the first turn (a
     * client replaying calls it made itself, e.g. venom's planned runs) */
    json_t *iss = json_object_get(c->doc, "issued");
    if (iss) {
        size_t i;
        json_t *m;
        if (!json_is_array(iss)) {
            rc = err_set(err, -EINVAL, "case.issued: expected an array of tool-call ids");
            goto fail;
        }
        json_array_foreach(iss, i, m) if (!json_is_string(m)) {
            rc = err_set(err, -EINVAL, "case.issued[%zu]: expected a string", i);
            goto fail;
        }
    }
    json_t *turns = json_object_get(c->doc, "turns");
    if (!json_is_array(turns) || !json_array_size(turns)) {
        rc = err_set(err, -EINVAL, "case.turns: required, a non-empty array of turns");
        goto fail;
    }
    c->nturns = json_array_size(turns);
    rc = -ENOMEM;
    if (!(c->turns = mem_calloc(c->nturns, sizeof *c->turns)))
        goto fail;
    for (size_t i = 0; i < c->nturns; i++) {
        if ((rc = load_turn(json_array_get(turns, i), i, &c->turns[i], err)) < 0)
            goto fail;
    }
    *out = c;
    return 0;
fail:
    if (err && *err)
        err_prefix(err, rc, "%s", path);
    msrv_case_free(c);
    return rc;
}

void msrv_case_free(msrv_case *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nturns && c->turns; i++) {
        msrv_turn *t = &c->turns[i];
        for (size_t j = 0; j < t->ncalls && t->calls; j++) {
            mem_free(t->calls[j].id);
            mem_free(t->calls[j].name);
            json_decref(t->calls[j].args);
            mem_free(t->calls[j].args_raw);
        }
        mem_free(t->calls);
        mem_free(t->text);
        mem_free(t->finish);
        mem_free(t->thought_signature);
    }
    mem_free(c->turns);
    mem_free(c->name);
    mem_free(c->auth_header);
    mem_free(c->auth_value);
    json_decref(c->doc);
    mem_free(c);
}
