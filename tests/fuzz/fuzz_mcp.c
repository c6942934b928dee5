/*
 * fuzz_mcp.c — libFuzzer target for what an MCP server sends venom: the
 * input is cut into lines by the line buffer (in two chunks, at a point the
 * first byte picks), each line goes through the JSON-RPC classifier, and
 * every response result through the tools/list and tools/call readers.
 * Every outcome must be a clean error (one line) or a consistent value.
 */
#include "util/common.h"

#include "mcp/mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const char *line, size_t len)
{
    mcp_msg m;
    char *err = NULL;
    int rc = mcp_msg_parse(line, len, &m, &err);
    if (rc < 0) {
        if ((rc != -EBADMSG && rc != -EPROTO && rc != -ENOMEM) || !err || strchr(err, '\n'))
            __builtin_trap();
        if (m.root && rc != -EPROTO)
            __builtin_trap();
        mcp_msg_release(&m);
        mem_free(err);
        return;
    }
    if (err || !m.root || (m.kind == MCP_MSG_RESPONSE) == (m.method != NULL))
        __builtin_trap();
    if (m.kind == MCP_MSG_RESPONSE && !m.result == !m.error)
        __builtin_trap();
    if (m.result) {
        json_t *acc = json_array();
        const char *cur = NULL;
        char *e2 = NULL;
        int r = mcp_tools_page(m.result, acc, &cur, &e2);
        if (r == 0 && (e2 || (cur && !json_is_string(json_object_get(m.result, "nextCursor")))))
            __builtin_trap();
        if (r < 0 && (!e2 || strchr(e2, '\n')))
            __builtin_trap();
        for (size_t i = 0; r == 0 && i < json_array_size(acc); i++)
            if (!json_is_object(json_object_get(json_array_get(acc, i), "inputSchema")))
                __builtin_trap();
        mem_free(e2);
        e2 = NULL;
        json_decref(acc);
        json_t *v = NULL;
        char *msg = NULL;
        r = mcp_call_result(m.result, &v, &msg, &e2);
        if ((r == 0 && (!v || msg)) || (r == 1 && (v || !msg)) || (r < 0 && (v || msg || !e2)))
            __builtin_trap();
        json_decref(v);
        mem_free(msg);
        mem_free(e2);
    }
    mcp_msg_release(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        mem_install();
        init = true;
    }
    if (size == 0)
        return 0;
    size_t cut = 1 + (size > 1 ? data[0] % size : 0);
    if (cut > size)
        cut = size;
    mcp_linebuf b;
    mcp_linebuf_init(&b, 4096);
    const char *parts[2] = {(const char *)data + 1, (const char *)data + cut};
    size_t lens[2] = {cut - 1, size - cut};
    for (int k = 0; k < 2; k++) {
        if (mcp_linebuf_append(&b, parts[k], lens[k]) < 0)
            break;
        const char *line;
        size_t len;
        int r;
        while ((r = mcp_linebuf_next(&b, &line, &len)) != 0) {
            if (r < 0)
                continue; /* too long: dropped */
            if (len > 4096 || line[len] != '\0' || memchr(line, '\n', len))
                __builtin_trap();
            one_line(line, len);
        }
    }
    mcp_linebuf_release(&b);
    return 0;
}
