/* http_fetch.c — a venom skill pack with one skill, http_fetch.get: fetch a
 * URL through the host's brokered HTTP. The pack has no network of its own
 * (it may run in a sandbox without any): venom makes the request for it,
 * and only to the hosts its manifest lists in permissions.network.hosts. */
#include <stdio.h>
#include <string.h>

#include <venom/venom.h>

static const venom_host_api *host; /* kept from init; valid while loaded */

/* The value of the string member `key` of a flat JSON object whose schema
 * the host has already checked, still JSON-escaped (it goes straight back
 * into a JSON string). -1 when it is not there. */
static int find_string(const char *json, const char *key, const char **start, size_t *len)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *p = strstr(json, quoted);
    if (!p)
        return -1;
    p += strlen(quoted);
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

/* http_fetch.get: {"url": "http://…"} -> {"status": 200, "headers": {…}, "body": "…"} */
static int32_t get(venom_ctx *call, const char *args_json, void *data)
{
    (void)data;
    const char *url;
    size_t len;
    if (find_string(args_json, "url", &url, &len) < 0) {
        host->set_error(call, "http_fetch.get: expected {\"url\": \"http://…\"}");
        return VENOM_E_INVAL;
    }
    size_t size = len + sizeof "{\"method\":\"GET\",\"url\":\"\",\"timeout_ms\":10000}";
    char *request = host->alloc(size);
    if (!request)
        return VENOM_E_NOMEM;
    snprintf(request, size, "{\"method\":\"GET\",\"url\":\"%.*s\",\"timeout_ms\":10000}", (int)len, url);
    char *response = NULL;
    /* venom checks the host against the allowlist, makes the request and
     * answers {"status","headers","body"}; a host not on the list is
     * VENOM_E_PERM, and the host has set the call's error to say which. */
    int32_t rc = host->http(call, request, &response);
    host->free(request);
    if (rc != VENOM_OK)
        return rc;
    /* the response is JSON already: it is the skill's result as it is
     * (a body that is not UTF-8 comes as "body_base64" instead) */
    rc = host->set_result(call, response, (size_t)-1);
    host->free(response);
    return rc;
}

static int32_t init(const venom_host_api *h, venom_ctx *ctx, void **state)
{
    host = h;
    *state = NULL;
    if (!VENOM_HOST_HAS(h, http)) {
        h->log(ctx, VENOM_LOG_ERROR, "this venom has no brokered HTTP");
        return VENOM_E_UNSUPPORTED;
    }
    venom_skill_desc get_desc = {
        .struct_size = sizeof get_desc,
        .name = "get",
        .call = get,
    };
    return h->register_skill(ctx, &get_desc);
}

static const venom_plugin_info info = {
    VENOM_PLUGIN_INFO_INIT,
    .kinds = VENOM_KIND_SKILLS,
    .name = "http_fetch",
    .version = "1.0.0",
    .license = "MIT",
    .init = init,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void)
{
    return &info;
}
