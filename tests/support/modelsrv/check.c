/*
 * check.c — the request rules of each API, as strict as the real service:
 * required fields, valid roles, well-formed tools, and tool results that
 * answer the tool calls right before them with ids this server issued.
 * Messages copy the real APIs' wording where it is known.
 */
#include "modelsrv.h"

#include <stdarg.h>

void msrv_problem_release(msrv_problem *p)
{
    if (!p)
        return;
    mem_free(p->msg);
    mem_free(p->param);
    *p = (msrv_problem){0};
}

static int PRINTF_LIKE(5, 6) bad(msrv_problem *p, int status, const char *param, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mem_free(p->msg);
    mem_free(p->param);
    p->msg = mem_vprintf(fmt, ap);
    va_end(ap);
    p->status = status;
    p->param = param ? mem_strdup(param) : NULL;
    p->code = code;
    return -1;
}

bool msrv_issued_has(const msrv_issued *is, const char *id)
{
    for (size_t i = 0; i < is->n; i++)
        if (strcmp(is->ids[i], id) == 0)
            return true;
    return false;
}

int msrv_issued_add(msrv_issued *is, const char *id)
{
    if (msrv_issued_has(is, id))
        return 0;
    if (is->n == is->cap) {
        size_t cap = is->cap ? is->cap * 2 : 16;
        char **ids = mem_realloc(is->ids, cap * sizeof *ids);
        if (!ids)
            return -ENOMEM;
        is->ids = ids;
        is->cap = cap;
    }
    if (!(is->ids[is->n] = mem_strdup(id)))
        return -ENOMEM;
    is->n++;
    return 0;
}

void msrv_issued_release(msrv_issued *is)
{
    for (size_t i = 0; i < is->n; i++)
        mem_free(is->ids[i]);
    mem_free(is->ids);
    *is = (msrv_issued){0};
}

static const char *kind(const json_t *v)
{
    if (!v || json_is_null(v))
        return "null";
    if (json_is_object(v))
        return "an object";
    if (json_is_array(v))
        return "an array";
    if (json_is_string(v))
        return "a string";
    if (json_is_integer(v))
        return "an integer";
    if (json_is_real(v))
        return "a number";
    return "a boolean";
}

static bool name_ok(const char *s, size_t max, bool gemini)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    if (gemini && !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                  (gemini && (c == '.' || c == ':'));
        if (!ok)
            return false;
    }
    return true;
}

/* A growing list of borrowed strings (ids or names of pending tool calls). */
typedef struct strs {
    const char *v[256];
    size_t n;
} strs;

static void strs_add(strs *s, const char *x)
{
    if (s->n < ARRAY_SIZE(s->v))
        s->v[s->n++] = x;
}

static bool strs_take(strs *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0) {
            s->v[i] = s->v[--s->n];
            return true;
        }
    return false;
}

static char *strs_join(const strs *s)
{
    buf b = BUF_INIT;
    for (size_t i = 0; i < s->n; i++)
        if (buf_printf(&b, "%s%s", i ? ", " : "", s->v[i]) < 0)
            break;
    return buf_detach(&b);
}

/* --- OpenAI Chat Completions ---------------------------------------------- */

static int check_openai_tools(const json_t *tools, msrv_problem *p, bool ollama)
{
    size_t i;
    json_t *t;
    char param[96];
    int st = 400;
    if (!tools || json_is_null(tools))
        return 0;
    if (!json_is_array(tools))
        return bad(p, st, "tools", "invalid_type", "Invalid type for 'tools': expected an array of objects, but got %s instead.", kind(tools));
    json_array_foreach(tools, i, t) {
        json_t *fn = json_object_get(t, "function");
        snprintf(param, sizeof param, "tools[%zu].type", i);
        if (!json_is_object(t) || !json_is_string(json_object_get(t, "type")))
            return bad(p, st, param, "missing_required_parameter", "Missing required parameter: '%s'.", param);
        if (strcmp(json_string_value(json_object_get(t, "type")), "function") != 0)
            return bad(p, st, param, "invalid_value", "Invalid value: '%s'. Supported values are: 'function' and 'custom'.",
                       json_string_value(json_object_get(t, "type")));
        snprintf(param, sizeof param, "tools[%zu].function", i);
        if (!json_is_object(fn))
            return bad(p, st, param, "missing_required_parameter", "Missing required parameter: '%s'.", param);
        snprintf(param, sizeof param, "tools[%zu].function.name", i);
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (!name)
            return bad(p, st, param, "missing_required_parameter", "Missing required parameter: '%s'.", param);
        if (!ollama && strlen(name) > 64)
            return bad(p, st, param, "string_above_max_length",
                       "Invalid '%s': string too long. Expected a string with maximum length 64, but got a string with length %zu instead.",
                       param, strlen(name));
        if (!ollama && !name_ok(name, 64, false))
            return bad(p, st, param, "invalid_value",
                       "Invalid '%s': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", param);
        json_t *params = json_object_get(fn, "parameters");
        snprintf(param, sizeof param, "tools[%zu].function.parameters", i);
        if (params && !json_is_object(params))
            return bad(p, st, param, "invalid_type", "Invalid type for '%s': expected an object, but got %s instead.", param, kind(params));
    }
    return 0;
}

static int check_openai(const msrv_req *rq, const msrv_issued *is, msrv_problem *p)
{
    const json_t *b = rq->body;
    json_t *msgs = json_object_get(b, "messages");
    json_t *stream = json_object_get(b, "stream");
    char param[96];
    if (!json_is_string(json_object_get(b, "model")) || !json_string_length(json_object_get(b, "model")))
        return bad(p, 400, NULL, NULL, "you must provide a model parameter");
    if (!msgs)
        return bad(p, 400, "messages", "missing_required_parameter", "Missing required parameter: 'messages'.");
    if (!json_is_array(msgs))
        return bad(p, 400, "messages", "invalid_type", "Invalid type for 'messages': expected an array of objects, but got %s instead.", kind(msgs));
    if (!json_array_size(msgs))
        return bad(p, 400, "messages", "empty_array",
                   "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.");
    if (stream && !json_is_boolean(stream) && !json_is_null(stream))
        return bad(p, 400, "stream", "invalid_type", "Invalid type for 'stream': expected a boolean, but got %s instead.", kind(stream));
    json_t *so = json_object_get(b, "stream_options");
    if (so && !json_is_null(so) && !json_is_true(stream))
        return bad(p, 400, "stream_options", NULL, "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
    if (check_openai_tools(json_object_get(b, "tools"), p, false) < 0)
        return -1;

    strs pending = {.n = 0};
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_is_object(m))
            return bad(p, 400, param, "invalid_type", "Invalid type for '%s': expected an object, but got %s instead.", param, kind(m));
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *content = json_object_get(m, "content");
        snprintf(param, sizeof param, "messages[%zu].role", i);
        if (!role)
            return bad(p, 400, param, "missing_required_parameter", "Missing required parameter: '%s'.", param);
        if (strcmp(role, "system") && strcmp(role, "developer") && strcmp(role, "user") && strcmp(role, "assistant") &&
            strcmp(role, "tool") && strcmp(role, "function"))
            return bad(p, 400, param, "invalid_value",
                       "Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", role);
        if (pending.n && strcmp(role, "tool") != 0) {
            char *ids = strs_join(&pending);
            snprintf(param, sizeof param, "messages.[%zu].role", i);
            bad(p, 400, param, NULL,
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
                "The following tool_call_ids did not have response messages: %s", ids ? ids : "?");
            mem_free(ids);
            return -1;
        }
        if (content && !json_is_null(content) && !json_is_string(content) && !json_is_array(content)) {
            snprintf(param, sizeof param, "messages[%zu].content", i);
            return bad(p, 400, param, "invalid_type", "Invalid type for '%s': expected one of a string or array of objects, but got %s instead.",
                       param, kind(content));
        }
        if (strcmp(role, "tool") == 0) {
            json_t *tid = json_object_get(m, "tool_call_id");
            snprintf(param, sizeof param, "messages[%zu].tool_call_id", i);
            if (!json_is_string(tid))
                return bad(p, 400, param, "missing_required_parameter", "Missing required parameter: '%s'.", param);
            if (!content || json_is_null(content)) {
                snprintf(param, sizeof param, "messages[%zu].content", i);
                return bad(p, 400, param, "missing_required_parameter", "Missing required parameter: '%s'.", param);
            }
            if (!strs_take(&pending, json_string_value(tid))) {
                snprintf(param, sizeof param, "messages.[%zu].role", i);
                return bad(p, 400, param, NULL,
                           "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.");
            }
            if (!msrv_issued_has(is, json_string_value(tid)))
                return bad(p, 400, param, NULL, "messages[%zu].tool_call_id '%s' was never issued by this server (modelsrv)",
                           i, json_string_value(tid));
            continue;
        }
        json_t *tcs = json_object_get(m, "tool_calls");
        if (strcmp(role, "assistant") == 0 && tcs && !json_is_null(tcs)) {
            size_t j;
            json_t *tc;
            snprintf(param, sizeof param, "messages[%zu].tool_calls", i);
            if (!json_is_array(tcs))
                return bad(p, 400, param, "invalid_type", "Invalid type for '%s': expected an array of objects, but got %s instead.", param, kind(tcs));
            if (!json_array_size(tcs))
                return bad(p, 400, param, "empty_array",
                           "Invalid '%s': empty array. Expected an array with minimum length 1, but got an empty array instead.", param);
            json_array_foreach(tcs, j, tc) {
                json_t *fn = json_object_get(tc, "function");
                const char *need = !json_is_string(json_object_get(tc, "id")) ? "id"
                                   : !json_is_string(json_object_get(tc, "type")) ? "type"
                                   : !json_is_object(fn) ? "function"
                                   : !json_is_string(json_object_get(fn, "name")) ? "function.name"
                                   : !json_object_get(fn, "arguments") ? "function.arguments" : NULL;
                snprintf(param, sizeof param, "messages[%zu].tool_calls[%zu].%s", i, j, need ? need : "function.arguments");
                if (need)
                    return bad(p, 400, param, "missing_required_parameter", "Missing required parameter: '%s'.", param);
                json_t *args = json_object_get(fn, "arguments");
                if (!json_is_string(args))
                    return bad(p, 400, param, "invalid_type", "Invalid type for '%s': expected a string, but got %s instead.", param, kind(args));
                strs_add(&pending, json_string_value(json_object_get(tc, "id")));
            }
            continue;
        }
        if (!content || json_is_null(content)) {
            snprintf(param, sizeof param, "messages[%zu].content", i);
            if (strcmp(role, "assistant") == 0)
                return bad(p, 400, param, NULL, "Invalid value for 'content': expected a string, got null.");
            return bad(p, 400, param, "missing_required_parameter", "Missing required parameter: '%s'.", param);
        }
    }
    if (pending.n) {
        char *ids = strs_join(&pending);
        bad(p, 400, "messages", NULL,
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
            "The following tool_call_ids did not have response messages: %s", ids ? ids : "?");
        mem_free(ids);
        return -1;
    }
    return 0;
}

/* --- Anthropic Messages ---------------------------------------------------- */

static int check_anthropic(const msrv_req *rq, const msrv_issued *is, msrv_problem *p)
{
    const json_t *b = rq->body;
    if (!json_is_string(json_object_get(rq->headers, "anthropic-version")))
        return bad(p, 400, NULL, NULL, "anthropic-version: header is required");
    json_t *model = json_object_get(b, "model");
    if (!model)
        return bad(p, 400, NULL, NULL, "model: Field required");
    if (!json_is_string(model))
        return bad(p, 400, NULL, NULL, "model: Input should be a valid string");
    json_t *mt = json_object_get(b, "max_tokens");
    if (!mt)
        return bad(p, 400, NULL, NULL, "max_tokens: Field required");
    if (!json_is_integer(mt))
        return bad(p, 400, NULL, NULL, "max_tokens: Input should be a valid integer");
    if (json_integer_value(mt) < 1)
        return bad(p, 400, NULL, NULL, "max_tokens: Input should be greater than or equal to 1");
    json_t *stream = json_object_get(b, "stream");
    if (stream && !json_is_boolean(stream))
        return bad(p, 400, NULL, NULL, "stream: Input should be a valid boolean");
    json_t *sys = json_object_get(b, "system");
    if (sys && !json_is_string(sys) && !json_is_array(sys))
        return bad(p, 400, NULL, NULL, "system: Input should be a valid string or a list of text blocks");
    json_t *tools = json_object_get(b, "tools");
    if (tools) {
        size_t i;
        json_t *t;
        if (!json_is_array(tools))
            return bad(p, 400, NULL, NULL, "tools: Input should be a valid list");
        json_array_foreach(tools, i, t) {
            const char *name = json_string_value(json_object_get(t, "name"));
            json_t *schema = json_object_get(t, "input_schema");
            if (json_object_get(t, "type") && json_is_string(json_object_get(t, "type")) &&
                strcmp(json_string_value(json_object_get(t, "type")), "custom") != 0)
                continue; /* server tools (web_search_..., bash_...) */
            if (!name)
                return bad(p, 400, NULL, NULL, "tools.%zu.custom.name: Field required", i);
            if (!name_ok(name, 128, false))
                return bad(p, 400, NULL, NULL, "tools.%zu.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'", i);
            if (!schema)
                return bad(p, 400, NULL, NULL, "tools.%zu.custom.input_schema: Field required", i);
            if (!json_is_object(schema) || !json_is_string(json_object_get(schema, "type")) ||
                strcmp(json_string_value(json_object_get(schema, "type")), "object") != 0)
                return bad(p, 400, NULL, NULL, "tools.%zu.custom.input_schema.type: Input should be 'object'", i);
        }
    }
    json_t *msgs = json_object_get(b, "messages");
    if (!msgs)
        return bad(p, 400, NULL, NULL, "messages: Field required");
    if (!json_is_array(msgs))
        return bad(p, 400, NULL, NULL, "messages: Input should be a valid list");
    if (!json_array_size(msgs))
        return bad(p, 400, NULL, NULL, "messages: at least one message is required");

    strs pending = {.n = 0};
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        if (!json_is_object(m))
            return bad(p, 400, NULL, NULL, "messages.%zu: Input should be a valid dictionary", i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_object_get(m, "role"))
            return bad(p, 400, NULL, NULL, "messages.%zu.role: Field required", i);
        if (!role || (strcmp(role, "user") && strcmp(role, "assistant")))
            return bad(p, 400, NULL, NULL, "messages.%zu.role: Input should be 'user' or 'assistant'", i);
        bool user = strcmp(role, "user") == 0;
        json_t *content = json_object_get(m, "content");
        if (!content)
            return bad(p, 400, NULL, NULL, "messages.%zu.content: Field required", i);
        strs answered = pending;
        strs issued_here = {.n = 0};
        bool had_pending = pending.n > 0;
        if (json_is_string(content)) {
            if (!user && i + 1 < json_array_size(msgs) && !json_string_length(content))
                return bad(p, 400, NULL, NULL, "messages: text content blocks must be non-empty");
        } else if (json_is_array(content)) {
            size_t j;
            json_t *blk;
            json_array_foreach(content, j, blk) {
                const char *type = json_string_value(json_object_get(blk, "type"));
                if (!json_is_object(blk) || !type)
                    return bad(p, 400, NULL, NULL, "messages.%zu.content.%zu.type: Field required", i, j);
                if (strcmp(type, "text") == 0) {
                    json_t *tx = json_object_get(blk, "text");
                    if (!json_is_string(tx))
                        return bad(p, 400, NULL, NULL, "messages.%zu.content.%zu.text.text: Field required", i, j);
                    if (!json_string_length(tx))
                        return bad(p, 400, NULL, NULL, "messages: text content blocks must be non-empty");
                } else if (strcmp(type, "tool_use") == 0) {
                    if (user)
                        return bad(p, 400, NULL, NULL, "messages.%zu.content.%zu: tool_use blocks are only allowed in assistant messages", i, j);
                    const char *id = json_string_value(json_object_get(blk, "id"));
                    if (!id)
                        return bad(p, 400, NULL, NULL, "messages.%zu.content.%zu.tool_use.id: Field required", i, j);
                    if (!json_is_string(json_object_get(blk, "name")))
                        return bad(p, 400, NULL, NULL, "messages.%zu.content.%zu.tool_use.name: Field required", i, j);
                    if (!json_is_object(json_object_get(blk, "input")))
                        return bad(p, 400, NULL, NULL, "messages.%zu.content.%zu.tool_use.input: Input should be a valid dictionary", i, j);
                    strs_add(&issued_here, id);
                } else if (strcmp(type, "tool_result") == 0) {
                    const char *id = json_string_value(json_object_get(blk, "tool_use_id"));
                    if (!user)
                        return bad(p, 400, NULL, NULL, "messages.%zu.content.%zu: tool_result blocks are only allowed in user messages", i, j);
                    if (!id)
                        return bad(p, 400, NULL, NULL, "messages.%zu.content.%zu.tool_result.tool_use_id: Field required", i, j);
                    json_t *rc = json_object_get(blk, "content");
                    if (rc && !json_is_string(rc) && !json_is_array(rc))
                        return bad(p, 400, NULL, NULL, "messages.%zu.content.%zu.tool_result.content: Input should be a valid string or list", i, j);
                    if (!strs_take(&answered, id))
                        return bad(p, 400, NULL, NULL,
                                   "messages.%zu.content.%zu: unexpected `tool_use_id` found in `tool_result` blocks: %s. "
                                   "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
                                   i, j, id);
                    if (!msrv_issued_has(is, id))
                        return bad(p, 400, NULL, NULL, "messages.%zu.content.%zu: tool_use_id '%s' was never issued by this server (modelsrv)", i, j, id);
                } else if (strcmp(type, "image") && strcmp(type, "document") && strcmp(type, "thinking") &&
                           strcmp(type, "redacted_thinking") && strcmp(type, "search_result") &&
                           strcmp(type, "server_tool_use") && strcmp(type, "web_search_tool_result")) {
                    return bad(p, 400, NULL, NULL,
                               "messages.%zu.content.%zu: Input tag '%s' found using 'type' does not match any of the expected tags: "
                               "'document', 'image', 'redacted_thinking', 'search_result', 'server_tool_use', 'text', 'thinking', "
                               "'tool_result', 'tool_use', 'web_search_tool_result'", i, j, type);
                }
            }
        } else {
            return bad(p, 400, NULL, NULL, "messages.%zu.content: Input should be a valid string or a list of content blocks", i);
        }
        if (had_pending && (answered.n || !user)) {
            strs *left = answered.n ? &answered : &pending;
            char *ids = strs_join(left);
            bad(p, 400, NULL, NULL,
                "messages.%zu: `tool_use` ids were found without `tool_result` blocks immediately after: %s. "
                "Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i, ids ? ids : "?");
            mem_free(ids);
            return -1;
        }
        pending = issued_here;
    }
    if (pending.n) {
        char *ids = strs_join(&pending);
        bad(p, 400, NULL, NULL,
            "messages.%zu: `tool_use` ids were found without `tool_result` blocks immediately after: %s. "
            "Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
            json_array_size(msgs), ids ? ids : "?");
        mem_free(ids);
        return -1;
    }
    return 0;
}

/* --- Gemini generateContent ------------------------------------------------ */

static int check_gemini_schema(const json_t *s, const char *at, msrv_problem *p)
{
    static const char *const known[] = {"type", "format", "title", "description", "nullable", "enum", "maxItems",
                                        "minItems", "properties", "required", "minProperties", "maxProperties",
                                        "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
                                        "default", "items", "minimum", "maximum"};
    const char *k;
    json_t *v;
    char sub[256];
    if (!json_is_object(s))
        return bad(p, 400, NULL, NULL, "Invalid value at '%s': expected a Schema object", at);
    json_object_foreach((json_t *)s, k, v) {
        bool ok = false;
        for (size_t i = 0; i < ARRAY_SIZE(known); i++)
            if (strcmp(k, known[i]) == 0)
                ok = true;
        if (!ok)
            return bad(p, 400, NULL, NULL, "Invalid JSON payload received. Unknown name \"%s\" at '%s': Cannot find field.", k, at);
    }
    json_t *props = json_object_get(s, "properties");
    if (json_is_object(props)) {
        json_object_foreach(props, k, v) {
            snprintf(sub, sizeof sub, "%s.properties[%s].value", at, k);
            if (check_gemini_schema(v, sub, p) < 0)
                return -1;
        }
    }
    json_t *items = json_object_get(s, "items");
    if (items) {
        snprintf(sub, sizeof sub, "%s.items", at);
        if (check_gemini_schema(items, sub, p) < 0)
            return -1;
    }
    json_t *any = json_object_get(s, "anyOf");
    if (json_is_array(any)) {
        size_t i;
        json_array_foreach(any, i, v) {
            snprintf(sub, sizeof sub, "%s.any_of[%zu]", at, i);
            if (check_gemini_schema(v, sub, p) < 0)
                return -1;
        }
    }
    return 0;
}

static int check_gemini_tools(const json_t *tools, msrv_problem *p)
{
    size_t i, j;
    json_t *t, *fd;
    char at[128];
    if (!tools)
        return 0;
    if (!json_is_array(tools))
        return bad(p, 400, NULL, NULL, "Invalid value at 'tools' (type.googleapis.com/google.ai.generativelanguage.v1beta.Tool), %s",
                   kind(tools));
    json_array_foreach(tools, i, t) {
        json_t *fds = json_object_get(t, "functionDeclarations");
        if (!fds)
            continue;
        if (!json_is_array(fds))
            return bad(p, 400, NULL, NULL, "Invalid value at 'tools[%zu].function_declarations': expected a list", i);
        json_array_foreach(fds, j, fd) {
            const char *name = json_string_value(json_object_get(fd, "name"));
            if (!name || !name_ok(name, 64, true))
                return bad(p, 400, NULL, NULL,
                           "* GenerateContentRequest.tools[%zu].function_declarations[%zu].name: Invalid function name. Must start "
                           "with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:) "
                           "or dashes (-), with a maximum length of 64.", i, j);
            json_t *params = json_object_get(fd, "parameters");
            json_t *pjs = json_object_get(fd, "parametersJsonSchema");
            if (params && pjs)
                return bad(p, 400, NULL, NULL,
                           "* GenerateContentRequest.tools[%zu].function_declarations[%zu]: parameters and parameters_json_schema "
                           "are mutually exclusive", i, j);
            snprintf(at, sizeof at, "tools[%zu].function_declarations[%zu].parameters", i, j);
            if (params && check_gemini_schema(params, at, p) < 0)
                return -1;
            if (pjs && !json_is_object(pjs))
                return bad(p, 400, NULL, NULL, "Invalid value at 'tools[%zu].function_declarations[%zu].parameters_json_schema'", i, j);
        }
    }
    return 0;
}

static int check_gemini(const msrv_req *rq, const msrv_issued *is, msrv_problem *p)
{
    static const char *const data_fields[] = {"text", "inlineData", "fileData", "functionCall", "functionResponse",
                                              "executableCode", "codeExecutionResult"};
    const json_t *b = rq->body;
    json_t *contents = json_object_get(b, "contents");
    if (!contents || (json_is_array(contents) && !json_array_size(contents)))
        return bad(p, 400, NULL, NULL, "* GenerateContentRequest.contents: contents is not specified");
    if (!json_is_array(contents))
        return bad(p, 400, NULL, NULL, "Invalid value at 'contents' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), %s",
                   kind(contents));
    json_t *si = json_object_get(b, "systemInstruction");
    if (si && !json_is_object(si))
        return bad(p, 400, NULL, NULL, "Invalid value at 'system_instruction' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content)");
    if (check_gemini_tools(json_object_get(b, "tools"), p) < 0)
        return -1;

    strs calls = {.n = 0}; /* names of the functionCall parts of the previous model turn */
    size_t i;
    json_t *c;
    json_array_foreach(contents, i, c) {
        if (!json_is_object(c))
            return bad(p, 400, NULL, NULL, "Invalid value at 'contents[%zu]' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content)", i);
        json_t *rolev = json_object_get(c, "role");
        const char *role = rolev ? json_string_value(rolev) : "user";
        if (!role || (strcmp(role, "user") && strcmp(role, "model")))
            return bad(p, 400, NULL, NULL, "Please use a valid role: user, model.");
        json_t *parts = json_object_get(c, "parts");
        if (!json_is_array(parts) || !json_array_size(parts))
            return bad(p, 400, NULL, NULL, "* GenerateContentRequest.contents[%zu].parts: contents.parts must not be empty.", i);
        bool model = strcmp(role, "model") == 0;
        size_t expected = calls.n;
        strs here = {.n = 0};
        size_t nresp = 0;
        bool first_call = true;
        size_t j;
        json_t *part;
        json_array_foreach(parts, j, part) {
            const char *set = NULL;
            if (!json_is_object(part))
                return bad(p, 400, NULL, NULL, "Invalid value at 'contents[%zu].parts[%zu]' (type.googleapis.com/google.ai.generativelanguage.v1beta.Part)", i, j);
            for (size_t k = 0; k < ARRAY_SIZE(data_fields); k++) {
                if (!json_object_get(part, data_fields[k]))
                    continue;
                if (set)
                    return bad(p, 400, NULL, NULL,
                               "Invalid value at 'contents[%zu].parts[%zu]' (oneof field 'data' is already set. Cannot set '%s')",
                               i, j, data_fields[k]);
                set = data_fields[k];
            }
            if (!set && !json_object_get(part, "thoughtSignature"))
                return bad(p, 400, NULL, NULL,
                           "* GenerateContentRequest.contents[%zu].parts[%zu].data: required oneof field 'data' must have one initialized field", i, j);
            if (!set)
                continue;
            if (strcmp(set, "text") == 0 && !json_is_string(json_object_get(part, "text")))
                return bad(p, 400, NULL, NULL, "Invalid value at 'contents[%zu].parts[%zu].text' (TYPE_STRING), %s", i, j,
                           kind(json_object_get(part, "text")));
            if (strcmp(set, "functionCall") == 0) {
                json_t *fc = json_object_get(part, "functionCall");
                const char *name = json_string_value(json_object_get(fc, "name"));
                json_t *args = json_object_get(fc, "args");
                if (!model)
                    return bad(p, 400, NULL, NULL, "Please ensure that function call turns come from the model (contents[%zu] has role user).", i);
                if (!name)
                    return bad(p, 400, NULL, NULL, "* GenerateContentRequest.contents[%zu].parts[%zu].function_call.name: Name is empty.", i, j);
                if (args && !json_is_object(args))
                    return bad(p, 400, NULL, NULL, "Invalid value at 'contents[%zu].parts[%zu].function_call.args' (type.googleapis.com/google.protobuf.Struct), %s",
                               i, j, kind(args));
                if (first_call && is->want_signatures) {
                    const char *sig = json_string_value(json_object_get(part, "thoughtSignature"));
                    if (!sig || (!msrv_issued_has(is, sig) && strcmp(sig, "skip_thought_signature_validator") != 0))
                        return bad(p, 400, NULL, NULL,
                                   "Function call is missing a thought_signature in functionCall parts. This is required for tools to "
                                   "work correctly. Additional data, function call `default_api:%s` , position %zu.", name, i + 1);
                }
                first_call = false;
                strs_add(&here, name);
            } else if (strcmp(set, "functionResponse") == 0) {
                json_t *fr = json_object_get(part, "functionResponse");
                const char *name = json_string_value(json_object_get(fr, "name"));
                json_t *id = json_object_get(fr, "id");
                if (!name)
                    return bad(p, 400, NULL, NULL, "* GenerateContentRequest.contents[%zu].parts[%zu].function_response.name: Name is empty.", i, j);
                if (!json_is_object(json_object_get(fr, "response")))
                    return bad(p, 400, NULL, NULL,
                               "Invalid value at 'contents[%zu].parts[%zu].function_response.response' (type.googleapis.com/google.protobuf.Struct), %s",
                               i, j, kind(json_object_get(fr, "response")));
                if (!expected)
                    return bad(p, 400, NULL, NULL, "Please ensure that function response turn comes immediately after a function call turn.");
                if (!strs_take(&calls, name) && calls.n)
                    return bad(p, 400, NULL, NULL,
                               "contents[%zu].parts[%zu]: functionResponse '%s' does not answer a functionCall of the previous model turn", i, j, name);
                if (id && (!json_is_string(id) || !msrv_issued_has(is, json_string_value(id))))
                    return bad(p, 400, NULL, NULL, "contents[%zu].parts[%zu]: functionResponse id was never issued by this server (modelsrv)", i, j);
                nresp++;
            }
        }
        if (expected && (nresp != expected || calls.n))
            return bad(p, 400, NULL, NULL,
                       "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.");
        calls = here;
    }
    return 0;
}

/* --- Ollama /api/chat -------------------------------------------------------- */

static int check_ollama(const msrv_req *rq, const msrv_issued *is, msrv_problem *p)
{
    const json_t *b = rq->body;
    json_t *model = json_object_get(b, "model");
    if (!json_is_string(model) || !json_string_length(model))
        return bad(p, 400, NULL, NULL, "model is required");
    json_t *stream = json_object_get(b, "stream");
    if (stream && !json_is_boolean(stream) && !json_is_null(stream))
        return bad(p, 400, NULL, NULL, "json: cannot unmarshal %s into Go struct field ChatRequest.stream of type bool", kind(stream));
    json_t *msgs = json_object_get(b, "messages");
    if (!json_is_array(msgs) || !json_array_size(msgs))
        return bad(p, 400, NULL, NULL, "messages is required (modelsrv: an empty chat would only load the model)");
    if (check_openai_tools(json_object_get(b, "tools"), p, true) < 0)
        return -1;
    strs ids = {.n = 0}, names = {.n = 0};
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_object(m) || !role)
            return bad(p, 400, NULL, NULL, "messages[%zu]: role is required", i);
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "tool"))
            return bad(p, 400, NULL, NULL, "invalid role '%s' in messages[%zu]: use system, user, assistant or tool", role, i);
        json_t *content = json_object_get(m, "content");
        if (content && !json_is_string(content) && !json_is_null(content))
            return bad(p, 400, NULL, NULL, "json: cannot unmarshal %s into Go struct field Message.messages.content of type string", kind(content));
        if (strcmp(role, "tool") == 0) {
            const char *tn = json_string_value(json_object_get(m, "tool_name"));
            const char *tid = json_string_value(json_object_get(m, "tool_call_id"));
            if (!names.n)
                return bad(p, 400, NULL, NULL, "messages[%zu]: a tool message must follow an assistant message with tool_calls (modelsrv)", i);
            if (!tn && !tid)
                return bad(p, 400, NULL, NULL, "messages[%zu]: a tool message needs tool_name (or tool_call_id) (modelsrv)", i);
            if (tn && !strs_take(&names, tn))
                return bad(p, 400, NULL, NULL, "messages[%zu]: tool_name '%s' answers no tool call of the previous assistant message (modelsrv)", i, tn);
            if (tid && (!strs_take(&ids, tid) || !msrv_issued_has(is, tid)))
                return bad(p, 400, NULL, NULL, "messages[%zu]: tool_call_id '%s' was never issued by this server (modelsrv)", i, tid);
            continue;
        }
        ids.n = names.n = 0;
        json_t *tcs = json_object_get(m, "tool_calls");
        if (tcs && !json_is_null(tcs)) {
            size_t j;
            json_t *tc;
            if (!json_is_array(tcs))
                return bad(p, 400, NULL, NULL, "json: cannot unmarshal %s into Go struct field Message.messages.tool_calls of type []api.ToolCall", kind(tcs));
            json_array_foreach(tcs, j, tc) {
                json_t *fn = json_object_get(tc, "function");
                json_t *args = json_object_get(fn, "arguments");
                if (!json_is_string(json_object_get(fn, "name")))
                    return bad(p, 400, NULL, NULL, "messages[%zu].tool_calls[%zu].function.name is required", i, j);
                if (args && !json_is_object(args))
                    return bad(p, 400, NULL, NULL,
                               "json: cannot unmarshal %s into Go struct field ToolCallFunction.messages.tool_calls.function.arguments "
                               "of type api.ToolCallFunctionArguments", json_is_string(args) ? "string" : kind(args));
                strs_add(&names, json_string_value(json_object_get(fn, "name")));
                if (json_is_string(json_object_get(tc, "id")))
                    strs_add(&ids, json_string_value(json_object_get(tc, "id")));
            }
        }
    }
    return 0;
}

int msrv_check_request(const msrv_req *rq, const msrv_issued *is, msrv_problem *p)
{
    switch (rq->api) {
    case MSRV_OPENAI: return check_openai(rq, is, p);
    case MSRV_ANTHROPIC: return check_anthropic(rq, is, p);
    case MSRV_GEMINI: return check_gemini(rq, is, p);
    case MSRV_OLLAMA: return check_ollama(rq, is, p);
    }
    return 0;
}

/* --- the turn's expectations ---------------------------------------------- */

static bool request_has_tool(const msrv_req *rq, const char *want)
{
    size_t i, j;
    json_t *t, *fd;
    json_array_foreach(json_object_get(rq->body, "tools"), i, t) {
        const char *name = NULL;
        switch (rq->api) {
        case MSRV_OPENAI:
        case MSRV_OLLAMA: name = json_string_value(json_object_get(json_object_get(t, "function"), "name")); break;
        case MSRV_ANTHROPIC: name = json_string_value(json_object_get(t, "name")); break;
        case MSRV_GEMINI:
            json_array_foreach(json_object_get(t, "functionDeclarations"), j, fd) {
                const char *n = json_string_value(json_object_get(fd, "name"));
                if (n && strcmp(n, want) == 0)
                    return true;
            }
            break;
        }
        if (name && strcmp(name, want) == 0)
            return true;
    }
    return false;
}

/* "user", "tool" or "assistant": the last message as the canonical format
 * would call it (a message of tool results is "tool"). */
static const char *last_role(const msrv_req *rq)
{
    json_t *msgs = json_object_get(rq->body, rq->api == MSRV_GEMINI ? "contents" : "messages");
    json_t *m = json_array_get(msgs, json_array_size(msgs) - 1);
    const char *role = json_string_value(json_object_get(m, "role"));
    size_t i;
    json_t *blk;
    switch (rq->api) {
    case MSRV_OPENAI:
    case MSRV_OLLAMA: return role ? role : "?";
    case MSRV_ANTHROPIC:
        json_array_foreach(json_object_get(m, "content"), i, blk) {
            const char *t = json_string_value(json_object_get(blk, "type"));
            if (t && strcmp(t, "tool_result") == 0)
                return "tool";
        }
        return role ? role : "?";
    case MSRV_GEMINI:
        json_array_foreach(json_object_get(m, "parts"), i, blk) if (json_object_get(blk, "functionResponse")) return "tool";
        return role && strcmp(role, "model") == 0 ? "assistant" : "user";
    }
    return "?";
}

static bool raw_contains(const msrv_req *rq, const char *s)
{
    return rq->raw && memmem(rq->raw, rq->raw_len, s, strlen(s)) != NULL;
}

int msrv_check_expect(const msrv_req *rq, const msrv_turn *t, msrv_problem *p)
{
    json_t *e = t->expect, *v;
    size_t i;
    if (!e)
        return 0;
    json_t *inc = json_object_get(e, "tools_include");
    if (json_is_string(inc) && !request_has_tool(rq, json_string_value(inc)))
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: the request's tools lack '%s'", json_string_value(inc));
    json_array_foreach(inc, i, v) if (!request_has_tool(rq, json_string_value(v)))
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: the request's tools lack '%s'", json_string_value(v));
    json_t *exc = json_object_get(e, "tools_exclude");
    if (json_is_string(exc) && request_has_tool(rq, json_string_value(exc)))
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: the request's tools include '%s'", json_string_value(exc));
    json_array_foreach(exc, i, v) if (request_has_tool(rq, json_string_value(v)))
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: the request's tools include '%s'", json_string_value(v));
    const char *lr = json_string_value(json_object_get(e, "last_role"));
    if (lr && strcmp(lr, last_role(rq)) != 0)
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: last message role is '%s', expected '%s'", last_role(rq), lr);
    json_t *con = json_object_get(e, "contains");
    if (json_is_string(con) && !raw_contains(rq, json_string_value(con)))
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: the request body does not contain '%s'", json_string_value(con));
    json_array_foreach(con, i, v) if (!raw_contains(rq, json_string_value(v)))
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: the request body does not contain '%s'", json_string_value(v));
    json_t *nc = json_object_get(e, "not_contains");
    if (json_is_string(nc) && raw_contains(rq, json_string_value(nc)))
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: the request body contains '%s'", json_string_value(nc));
    json_array_foreach(nc, i, v) if (raw_contains(rq, json_string_value(v)))
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: the request body contains '%s'", json_string_value(v));
    const char *model = json_string_value(json_object_get(e, "model"));
    if (model && (!rq->model || strcmp(model, rq->model) != 0))
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: model is '%s', expected '%s'", rq->model ? rq->model : "", model);
    json_t *st = json_object_get(e, "stream");
    if (st && json_is_true(st) != rq->stream)
        return bad(p, 400, NULL, NULL, "modelsrv: expectation failed: the request %s streaming", rq->stream ? "asks for" : "does not ask for");
    return 0;
}
