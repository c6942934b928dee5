/*
 * jsonrpc.c — MCP framing (line buffer, message classifier, line writers)
 * and the readers of tools/list and tools/call results. Pure functions:
 * no I/O, fuzzed by tests/fuzz/fuzz_mcp.c.
 */
#include "util/common.h"

#include "mcp/mcp.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/jsonx.h"

static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

bool mcp_version_supported(const char *v)
{
    for (size_t i = 0; v && i < ARRAY_SIZE(versions); i++)
        if (!strcmp(v, versions[i]))
            return true;
    return false;
}

/* ------------------------------------------------------------ line buffer */

void mcp_linebuf_init(mcp_linebuf *b, size_t max)
{
    *b = (mcp_linebuf){.max = max ? max : MCP_MAX_LINE};
}

void mcp_linebuf_release(mcp_linebuf *b)
{
    mem_free(b->data);
    b->data = NULL;
    b->len = b->cap = b->start = 0;
}

int mcp_linebuf_append(mcp_linebuf *b, const void *p, size_t n)
{
    if (b->start > 0) { /* drop what was read */
        memmove(b->data, b->data + b->start, b->len - b->start);
        b->len -= b->start;
        b->start = 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = mem_realloc(b->data, cap);
        if (!d)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int mcp_linebuf_next(mcp_linebuf *b, const char **line, size_t *len)
{
    *line = NULL;
    *len = 0;
    if (b->start >= b->len)
        return 0;
    char *s = b->data + b->start;
    char *nl = memchr(s, '\n', b->len - b->start);
    size_t n = nl ? (size_t)(nl - s) : b->len - b->start;
    if (n > b->max) {
        b->start = b->len = 0;
        return -E2BIG;
    }
    if (!nl)
        return 0;
    b->start += n + 1;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    s[n] = '\0';
    *line = s;
    *len = n;
    return 1;
}

/* ------------------------------------------------------------ messages */

void mcp_msg_release(mcp_msg *m)
{
    json_decref(m->root);
    *m = (mcp_msg){0};
}

static bool id_ok(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

int mcp_msg_parse(const char *line, size_t len, mcp_msg *m, char **err)
{
    *m = (mcp_msg){0};
    json_error_t je;
    json_t *v = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return err_set(err, -EBADMSG, "not JSON (column %d: %s)", je.column, je.text);
    const char *why = NULL;
    const json_t *jv = json_object_get(v, "jsonrpc");
    const json_t *id = json_object_get(v, "id");
    const json_t *method = json_object_get(v, "method");
    const json_t *result = json_object_get(v, "result");
    const json_t *error = json_object_get(v, "error");
    const json_t *params = json_object_get(v, "params");
    if (!json_is_object(v))
        why = json_is_array(v) ? "a batch (JSON array); send one message per line" : "not a JSON object";
    else if (!json_is_string(jv) || strcmp(json_string_value(jv), "2.0"))
        why = "\"jsonrpc\" must be \"2.0\"";
    else if (method && !json_is_string(method))
        why = "\"method\" must be a string";
    else if (method && id && !id_ok(id))
        why = "\"id\" must be a string or an integer";
    else if (method && params && !json_is_object(params) && !json_is_array(params))
        why = "\"params\" must be an object";
    else if (!method && !id)
        why = "neither \"method\" nor \"id\": not a request, notification or response";
    else if (!method && !id_ok(id) && !json_is_null(id))
        why = "\"id\" must be a string or an integer";
    else if (!method && !result == !error)
        why = "a response must carry exactly one of \"result\" and \"error\"";
    else if (!method && error &&
             (!json_is_object(error) || !json_is_integer(json_object_get(error, "code")) ||
              !json_is_string(json_object_get(error, "message"))))
        why = "\"error\" must be an object with an integer \"code\" and a string \"message\"";
    if (why) {
        if (json_is_object(v) && id_ok(id)) {
            m->root = v;
            m->id = id;
        } else {
            json_decref(v);
        }
        return err_set(err, -EPROTO, "invalid JSON-RPC message: %s", why);
    }
    m->root = v;
    m->id = id;
    m->params = params;
    if (method) {
        m->method = json_string_value(method);
        m->kind = id ? MCP_MSG_REQUEST : MCP_MSG_NOTIFICATION;
    } else {
        m->kind = MCP_MSG_RESPONSE;
        m->result = result;
        m->error = error;
    }
    return 0;
}

static char *dump_line(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return NULL;
    char *line = mem_printf("%s\n", s);
    mem_free(s);
    return line;
}

char *mcp_line_request(json_int_t id, const char *method, const json_t *params)
{
    json_t *o = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", id, "method", method);
    if (o && params)
        json_object_set(o, "params", (json_t *)params);
    return dump_line(o);
}

char *mcp_line_notification(const char *method, const json_t *params)
{
    json_t *o = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
    if (o && params)
        json_object_set(o, "params", (json_t *)params);
    return dump_line(o);
}

char *mcp_line_result(const json_t *id, const json_t *result)
{
    return dump_line(json_pack("{s:s, s:O, s:O}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result", result));
}

char *mcp_line_error(const json_t *id, int code, const char *message)
{
    return dump_line(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error",
                               "code", code, "message", message));
}

/* ------------------------------------------------------------ readers */

static bool tool_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return false;
    }
    return true;
}

int mcp_tools_page(const json_t *result, json_t *acc, const char **next_cursor, char **err)
{
    *next_cursor = NULL;
    const json_t *tools = json_object_get(result, "tools");
    if (!json_is_object(result) || !json_is_array(tools))
        return err_set(err, -EPROTO, "tools/list: the result has no \"tools\" array");
    const json_t *cur = json_object_get(result, "nextCursor");
    if (cur && !json_is_null(cur) && !json_is_string(cur))
        return err_set(err, -EPROTO, "tools/list: \"nextCursor\" must be a string, got %s", jsonx_kind(cur));
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t) {
        if (json_array_size(acc) >= MCP_MAX_TOOLS)
            return err_set(err, -E2BIG, "tools/list: more than %d tools", MCP_MAX_TOOLS);
        const char *name = json_string_value(json_object_get(t, "name"));
        const json_t *schema = json_object_get(t, "inputSchema");
        const json_t *desc = json_object_get(t, "description");
        const json_t *title = json_object_get(t, "title");
        if (!json_is_object(t))
            return err_set(err, -EPROTO, "tools/list: tool %zu is not an object", i);
        if (!name || !tool_name_ok(name))
            return err_set(err, -EPROTO,
                           "tools/list: tool %zu has no valid \"name\" (1-128 characters of A-Z a-z 0-9 _ - .): %s",
                           i, name ? jsonx_clipped(name).s : "missing");
        if (!json_is_object(schema))
            return err_set(err, -EPROTO, "tools/list: tool '%s': \"inputSchema\" must be an object, got %s", name,
                           schema ? jsonx_kind(schema) : "nothing");
        if (desc && !json_is_string(desc))
            return err_set(err, -EPROTO, "tools/list: tool '%s': \"description\" must be a string", name);
        for (size_t k = 0; k < json_array_size(acc); k++)
            if (!strcmp(json_string_value(json_object_get(json_array_get(acc, k), "name")), name))
                return err_set(err, -EPROTO, "tools/list: tool '%s' is listed twice", name);
        json_t *o = json_pack("{s:s, s:s, s:O}", "name", name, "description", desc ? json_string_value(desc) : "",
                              "inputSchema", schema);
        if (!o)
            return err_set(err, -ENOMEM, "out of memory");
        if (json_is_string(title))
            json_object_set(o, "title", (json_t *)title);
        if (json_array_append_new(acc, o) < 0)
            return err_set(err, -ENOMEM, "out of memory");
    }
    *next_cursor = json_string_value(cur);
    return 0;
}

int mcp_call_result(const json_t *result, json_t **value, char **message, char **err)
{
    *value = NULL;
    *message = NULL;
    const json_t *content = json_object_get(result, "content");
    const json_t *is_error = json_object_get(result, "isError");
    const json_t *structured = json_object_get(result, "structuredContent");
    if (!json_is_object(result))
        return err_set(err, -EPROTO, "tools/call: the result is not an object");
    if (content && !json_is_array(content))
        return err_set(err, -EPROTO, "tools/call: \"content\" must be an array, got %s", jsonx_kind(content));
    if (is_error && !json_is_boolean(is_error))
        return err_set(err, -EPROTO, "tools/call: \"isError\" must be a boolean");
    bool all_text = true;
    buf text;
    buf_init(&text);
    size_t i;
    const json_t *item;
    int rc = 0;
    const char *sep = json_is_true(is_error) ? "; " : "\n";
    bool first = true;
    json_array_foreach(content, i, item) {
        const char *type = json_string_value(json_object_get(item, "type"));
        const char *t = json_string_value(json_object_get(item, "text"));
        if (type && !strcmp(type, "text") && t) {
            if ((!first && buf_puts(&text, sep) < 0) || buf_puts(&text, t) < 0) {
                rc = err_set(err, -ENOMEM, "out of memory");
                goto out;
            }
            first = false;
        } else {
            all_text = false;
        }
    }
    if (json_is_true(is_error)) {
        *message = mem_strdup(first ? "the tool reported an error without a message" : buf_str(&text));
        rc = *message ? 1 : err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (structured && !json_is_null(structured))
        *value = json_incref((json_t *)structured);
    else if (json_array_size(content) == 0)
        *value = json_null();
    else if (all_text)
        *value = json_string(buf_str(&text));
    else
        *value = json_incref((json_t *)content);
    if (!*value)
        rc = err_set(err, -ENOMEM, "out of memory");
out:
    buf_release(&text);
    return rc;
}
