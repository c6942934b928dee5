/*
 * fuzz_mcp_serve.c — libFuzzer target for `venom mcp serve`'s request
 * handler: each input line is one message from an MCP client. The registry
 * holds the in-tree fixture-free skills only if VENOM_FUZZ_SKILLS names a
 * skill directory; by default it is empty (initialize, ping, tools/list,
 * errors). Every line must get a reply that is exactly one JSON-RPC line,
 * or none for notifications and responses; nothing may crash.
 */
#include "util/common.h"

#include <stdlib.h>

#include "mcp/mcp.h"
#include "plugin/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static registry *reg;
static mcp_serve *srv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv) {
        mem_install();
        const char *dir = getenv("VENOM_FUZZ_SKILLS");
        const char *dirs[] = {dir ? dir : "/nonexistent"};
        registry_opts o = {.dirs = dirs, .n_dirs = 1};
        char *err = NULL;
        if (registry_new(&o, &reg, &err) < 0 || mcp_serve_new(reg, NULL, 0, ".", &srv, &err) < 0)
            __builtin_trap();
    }
    mcp_linebuf b;
    mcp_linebuf_init(&b, 1 << 16);
    if (mcp_linebuf_append(&b, data, size) == 0 && mcp_linebuf_append(&b, "\n", 1) == 0) {
        const char *line;
        size_t len;
        int r;
        while ((r = mcp_linebuf_next(&b, &line, &len)) != 0) {
            if (r < 0)
                continue;
            char *reply = NULL;
            if (mcp_serve_handle(srv, line, len, &reply) < 0)
                continue; /* out of memory only */
            if (reply) {
                size_t n = strlen(reply);
                if (n < 2 || reply[n - 1] != '\n' || memchr(reply, '\n', n - 1))
                    __builtin_trap();
                json_t *v = json_loadb(reply, n - 1, 0, NULL);
                if (!json_is_object(v) || !json_object_get(v, "id") ||
                    !json_object_get(v, "result") == !json_object_get(v, "error"))
                    __builtin_trap();
                json_decref(v);
            }
            mem_free(reply);
        }
    }
    mcp_linebuf_release(&b);
    return 0;
}
