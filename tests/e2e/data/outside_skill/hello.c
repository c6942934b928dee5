/* hello.c — a complete venom skill pack with one skill, hello.greet. */
#include <stdio.h>
#include <string.h>

#include <venom/venom.h>

static const venom_host_api *host; /* kept from init; valid while loaded */

/* The manifest's schema guarantees args_json is {"name": "<string>"}, so a
 * scan for the value is enough here (a bigger skill would use a JSON
 * library). The value is returned still JSON-escaped: it goes straight
 * back into a JSON string. */
static int find_name(const char *args_json, const char **start, size_t *len)
{
    const char *p = strstr(args_json, "\"name\"");
    if (!p)
        return -1;
    p += strlen("\"name\"");
    p += strspn(p, " \t\r\n:");
    if (*p != '"')
        return -1;
    const char *q = ++p;
    while (*q && *q != '"')
        q += (q[0] == '\\' && q[1]) ? 2 : 1;
    if (*q != '"')
        return -1;
    *start = p;
    *len = (size_t)(q - p);
    return 0;
}

/* hello.greet: {"name": "Ada"} -> {"greeting": "Hello, Ada!"} */
static int32_t greet(venom_ctx *call, const char *args_json, void *data)
{
    (void)data;
    const char *name;
    size_t len;
    if (find_name(args_json, &name, &len) < 0 || len > 4096) {
        host->set_error(call, "greet: expected {\"name\": \"...\"} of at most 4096 bytes");
        return VENOM_E_INVAL;
    }
    size_t size = len + sizeof "{\"greeting\":\"Hello, !\"}";
    char *json = host->alloc(size);
    if (!json)
        return VENOM_E_NOMEM;
    snprintf(json, size, "{\"greeting\":\"Hello, %.*s!\"}", (int)len, name);
    int32_t rc = host->set_result(call, json, (size_t)-1); /* the host copies it */
    host->free(json);
    return rc;
}

static int32_t init(const venom_host_api *h, venom_ctx *ctx, void **state)
{
    host = h;
    *state = NULL;
    venom_skill_desc greet_desc = {
        .struct_size = sizeof greet_desc,
        .name = "greet",
        .call = greet,
    };
    return h->register_skill(ctx, &greet_desc);
}

static const venom_plugin_info info = {
    VENOM_PLUGIN_INFO_INIT,
    .kinds = VENOM_KIND_SKILLS,
    .name = "hello",
    .version = "1.0.0",
    .license = "MIT",
    .init = init,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void)
{
    return &info;
}
