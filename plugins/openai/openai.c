/*
 * openai — the OpenAI Chat Completions provider (also llama.cpp server,
 * vLLM, Ollama /v1, LM Studio: any OpenAI-compatible base URL). The wire
 * translation is in wire.c; this file is the plugin: configuration at open,
 * chat / embed / list_models through host->http_stream. Reference:
 * docs/providers/openai.md.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/provider_host.h"
#include "wire.h"

static const venom_host_api *HOST;

static int32_t oai_open(venom_ctx *ctx, const char *config_json, void *data, void **instance)
{
    (void)data;
    *instance = NULL;
    char *err = NULL;
    pu_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return pu_fail(HOST, ctx, VENOM_E_NOMEM, "openai: out of memory");
    int rc = pu_config_parse(config_json, "openai", OAI_DEFAULT_BASE, OAI_DEFAULT_KEY_ENV, cfg, &err);
    if (rc != VENOM_OK) {
        pu_fail(HOST, ctx, rc, "%s", err ? err : "openai: cannot read the provider configuration");
        free(err);
        free(cfg);
        return rc;
    }
    *instance = cfg;
    return VENOM_OK;
}

static void oai_close(void *instance)
{
    pu_config_release(instance);
    free(instance);
}

/* Parse a request text into an object; VENOM_E_INVAL with the error set. */
static int32_t parse_request(venom_ctx *call, const pu_config *cfg, const char *text, json_t **out)
{
    json_error_t e;
    *out = json_loads(text ? text : "", 0, &e);
    if (json_is_object(*out))
        return VENOM_OK;
    json_decref(*out);
    *out = NULL;
    return pu_fail(HOST, call, VENOM_E_INVAL, "%s: the request is not a JSON object (%s)", cfg->name, e.text);
}

static int32_t oai_chat(venom_ctx *call, void *instance, const char *request_json)
{
    static const pu_stream_ops ops = {.feed = oai_stream_feed, .finish = oai_stream_finish, .body = oai_body};
    const pu_config *cfg = instance;
    json_t *req = NULL, *http = NULL;
    char *err = NULL;
    oai_stream st = {0};
    int32_t rc = parse_request(call, cfg, request_json, &req);
    if (rc != VENOM_OK)
        goto out;
    if ((rc = oai_chat_request(cfg, req, &http, &err)) != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->name, err ? err : "out of memory");
        goto out;
    }
    /* the model name as sent, until the server names it */
    const char *model = pu_str(req, "model", "");
    if ((rc = oai_stream_init(&st, *model ? model : cfg->model)) != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: out of memory", cfg->name);
        goto out;
    }
    rc = pu_run_chat(HOST, call, cfg, http, &ops, &st, pu_bool(req, "stream", false));
out:
    oai_stream_release(&st);
    free(err);
    json_decref(http);
    json_decref(req);
    return rc;
}

static int32_t oai_embed(venom_ctx *call, void *instance, const char *request_json)
{
    const pu_config *cfg = instance;
    json_t *req = NULL, *http = NULL, *body = NULL, *out = NULL;
    char *err = NULL;
    int32_t rc = parse_request(call, cfg, request_json, &req);
    if (rc != VENOM_OK)
        goto out;
    if ((rc = oai_embed_request(cfg, req, &http, &err)) != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->name, err ? err : "out of memory");
        goto out;
    }
    if ((rc = pu_run_json(HOST, call, cfg, http, &body)) != VENOM_OK)
        goto out;
    if ((rc = oai_embed_result(body, &out, &err)) != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->name, err ? err : "out of memory");
        goto out;
    }
    rc = pu_set_result(HOST, call, out);
out:
    free(err);
    json_decref(body);
    json_decref(http);
    json_decref(req);
    return rc;
}

static int32_t oai_list_models(venom_ctx *call, void *instance)
{
    const pu_config *cfg = instance;
    json_t *http = NULL, *body = NULL, *out = NULL;
    char *err = NULL;
    int32_t rc = oai_models_request(cfg, &http, &err);
    if (rc != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->name, err ? err : "out of memory");
        goto out;
    }
    if ((rc = pu_run_json(HOST, call, cfg, http, &body)) != VENOM_OK)
        goto out;
    if ((rc = oai_models_result(body, &out, &err)) != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->name, err ? err : "out of memory");
        goto out;
    }
    rc = pu_set_result(HOST, call, out);
out:
    free(err);
    json_decref(body);
    json_decref(http);
    return rc;
}

static int32_t oai_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    (void)state;
    if (!VENOM_HOST_HAS(host, http_stream) || !VENOM_HOST_HAS(host, register_provider)) {
        if (VENOM_HOST_HAS(host, set_error))
            host->set_error(ctx, "the openai provider needs a host with http_stream (venom ABI 1.1): upgrade venom");
        return VENOM_E_UNSUPPORTED;
    }
    HOST = host;
    static const venom_provider_desc desc = {
        .struct_size = sizeof desc,
        .caps = VENOM_PROVIDER_CHAT | VENOM_PROVIDER_STREAM | VENOM_PROVIDER_TOOLS | VENOM_PROVIDER_EMBED |
                VENOM_PROVIDER_MODELS,
        .name = "openai",
        .description = "OpenAI Chat Completions and OpenAI-compatible servers (llama.cpp, vLLM, Ollama /v1, LM Studio)",
        .open = oai_open,
        .close = oai_close,
        .chat = oai_chat,
        .embed = oai_embed,
        .list_models = oai_list_models,
    };
    return host->register_provider(ctx, &desc);
}

static const venom_plugin_info INFO = {
    VENOM_PLUGIN_INFO_INIT,
    .min_host_minor = 1,
    .kinds = VENOM_KIND_PROVIDER,
    .name = "openai",
    .version = "1.0.0",
    .license = "MIT",
    .init = oai_init,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void)
{
    return &INFO;
}
