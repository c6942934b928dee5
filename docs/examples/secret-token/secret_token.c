/* secret_token.c — a venom skill pack with one skill, secret_token.call:
 * call an HTTP API that wants a bearer token. The token is a secret from
 * venom's vault (`venom secrets set API_TOKEN`), read through the host's
 * secret service: the pack may read only the secrets its manifest lists in
 * permissions.secrets. The skill uses the token and never returns it: not
 * in its result, not in an error message, not in a log line. */
#include <stdio.h>
#include <string.h>

#include <venom/venom.h>

static const venom_host_api *host; /* kept from init; valid while loaded */

/* The value of the string member `key` of a flat JSON object whose schema
 * the host has already checked, still JSON-escaped. -1 when absent. */
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

/* Overwrite a buffer that held the token before freeing it (volatile, so
 * the compiler does not drop the stores as dead). */
static void wipe(char *s, size_t n)
{
    volatile char *v = s;
    while (n--)
        *v++ = 0;
}

/* s as the inside of a JSON string: from alloc, or NULL. */
static char *json_escape(const char *s)
{
    size_t n = strlen(s);
    char *out = host->alloc(6 * n + 1), *w = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c < 0x20) {
            w += snprintf(w, 7, "\\u%04x", c);
        } else {
            *w++ = (char)c;
        }
    }
    *w = '\0';
    return out;
}

/* secret_token.call: {"url": "https://…", "secret": "API_TOKEN"} ->
 * the API's {"status", "headers", "body"}; the request carries
 * "Authorization: Bearer <the secret>". */
static int32_t call_api(venom_ctx *call, const char *args_json, void *data)
{
    (void)data;
    const char *url, *sname = "API_TOKEN";
    size_t url_len, sname_len = strlen(sname);
    char name[129];
    if (find_string(args_json, "url", &url, &url_len) < 0) {
        host->set_error(call, "secret_token.call: expected {\"url\": \"https://…\"}");
        return VENOM_E_INVAL;
    }
    (void)find_string(args_json, "secret", &sname, &sname_len); /* the schema keeps it to [A-Za-z0-9_.-] */
    snprintf(name, sizeof name, "%.*s", (int)sname_len, sname);

    char *token = NULL;
    int32_t rc = host->secret(call, name, &token);
    if (rc != VENOM_OK)
        return rc; /* the host has set the call's error: not declared (VENOM_E_PERM),
                      not in the vault (VENOM_E_NOTFOUND, "venom secrets set …") */
    size_t token_len = strlen(token);
    char *escaped = json_escape(token);
    wipe(token, token_len);
    host->free(token);
    if (!escaped)
        return VENOM_E_NOMEM;

    size_t size = url_len + strlen(escaped) +
                  sizeof "{\"method\":\"GET\",\"url\":\"\",\"headers\":{\"Authorization\":\"Bearer \"},\"timeout_ms\":10000}";
    char *request = host->alloc(size);
    if (!request) {
        wipe(escaped, strlen(escaped));
        host->free(escaped);
        return VENOM_E_NOMEM;
    }
    snprintf(request, size,
             "{\"method\":\"GET\",\"url\":\"%.*s\",\"headers\":{\"Authorization\":\"Bearer %s\"},\"timeout_ms\":10000}",
             (int)url_len, url, escaped);
    char *response = NULL;
    rc = host->http(call, request, &response);
    wipe(request, strlen(request));
    host->free(request);
    if (rc == VENOM_OK && strstr(response, escaped)) {
        /* the server repeated the token back (an echo service, a debug
         * page): that response must not become the result */
        host->set_error(call, "secret_token.call: the response contains the token; it is not returned");
        rc = VENOM_E_FAILED;
    }
    wipe(escaped, strlen(escaped));
    host->free(escaped);
    if (rc == VENOM_OK)
        rc = host->set_result(call, response, (size_t)-1);
    host->free(response);
    return rc;
}

static int32_t init(const venom_host_api *h, venom_ctx *ctx, void **state)
{
    host = h;
    *state = NULL;
    if (!VENOM_HOST_HAS(h, secret) || !VENOM_HOST_HAS(h, http)) {
        h->log(ctx, VENOM_LOG_ERROR, "this venom has no secret or brokered HTTP service");
        return VENOM_E_UNSUPPORTED;
    }
    venom_skill_desc call_desc = {
        .struct_size = sizeof call_desc,
        .name = "call",
        .call = call_api,
    };
    return h->register_skill(ctx, &call_desc);
}

static const venom_plugin_info info = {
    VENOM_PLUGIN_INFO_INIT,
    .kinds = VENOM_KIND_SKILLS,
    .name = "secret_token",
    .version = "1.0.0",
    .license = "MIT",
    .init = init,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void)
{
    return &info;
}
