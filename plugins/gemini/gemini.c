/*
 * gemini — the Google Gemini API provider (docs/providers/gemini.md):
 * generateContent / streamGenerateContent, batchEmbedContents, the model
 * list. The translation is pure and lives in wire.c; this file describes
 * the provider to the shared plugin shell of plugins/common/provider_host.h,
 * which opens instances and runs calls through host->http_stream.
 */
#include <string.h>

#include "../common/provider_host.h"
#include "wire.h"

/* Adapters from the wire's types to pu_provider's. The instance's
 * configuration is a gem_config; cfg is its first member. */
static int gem_cfg_parse(const char *config_json, pu_config *cfg, char **err)
{
    return gem_config_parse(config_json, (gem_config *)cfg, err);
}

static void gem_cfg_release(pu_config *cfg)
{
    gem_config_release((gem_config *)cfg);
}

static int gem_chat_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **err)
{
    return gem_build_chat((const gem_config *)cfg, req, http_req, NULL, err);
}

/* The reply names the model as the request's URL does: without "models/"
 * (gem_build_chat has checked the name). */
static int gem_state_init(void *st, const char *model)
{
    gem_stream_init(st, strncmp(model, "models/", 7) ? model : model + 7);
    return VENOM_OK;
}

static int gem_embed_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **model, size_t *n,
                             char **err)
{
    return gem_build_embed((const gem_config *)cfg, req, http_req, model, n, err);
}

static int gem_models_request(const pu_config *cfg, const char *page_token, json_t **http_req, char **err)
{
    return gem_build_models((const gem_config *)cfg, page_token, http_req, err);
}

static const pu_provider GEMINI = {
    .name = "gemini",
    .error_message = gem_error_message,
    .config_size = sizeof(gem_config),
    .config_parse = gem_cfg_parse,
    .config_release = gem_cfg_release,
    .chat_request = gem_chat_request,
    .stream_size = sizeof(gem_stream),
    .stream_init = gem_state_init,
    .stream_release = gem_stream_release,
    .ops = {.feed = gem_stream_feed, .finish = gem_stream_finish, .body = gem_parse_response},
    .embed_request_n = gem_embed_request,
    .embed_result_n = gem_parse_embed,
    .models_page_request = gem_models_request,
    .models_page = gem_parse_models,
};

static const venom_provider_desc DESC = {
    .struct_size = sizeof DESC,
    .caps = VENOM_PROVIDER_CHAT | VENOM_PROVIDER_STREAM | VENOM_PROVIDER_TOOLS | VENOM_PROVIDER_EMBED |
            VENOM_PROVIDER_MODELS,
    .name = "gemini",
    .description = "Google Gemini API (generateContent)",
    .data = (void *)&GEMINI,
    .open = pu_provider_open,
    .close = pu_provider_close,
    .chat = pu_provider_chat,
    .embed = pu_provider_embed,
    .list_models = pu_provider_list_models,
};

static int32_t gem_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    (void)state;
    return pu_provider_register(host, ctx, &DESC);
}

static const venom_plugin_info gem_info = {
    VENOM_PLUGIN_INFO_INIT,
    .min_host_minor = 1,
    .kinds = VENOM_KIND_PROVIDER,
    .name = "gemini",
    .version = "1.0.0",
    .license = "MIT",
    .init = gem_init,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void)
{
    return &gem_info;
}
