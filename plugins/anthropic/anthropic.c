/*
 * anthropic — the Anthropic Messages API provider (docs/providers/anthropic.md).
 * The translation is pure and lives in wire.c; this file describes the
 * provider to the shared plugin shell of plugins/common/provider_host.h,
 * which opens instances and runs calls through host->http_stream.
 */
#include "../common/provider_host.h"
#include "wire.h"

/* Adapters from the wire's types to pu_provider's. The instance's
 * configuration is an anth_config; cfg is its first member. */
static int anth_cfg_parse(const char *config_json, pu_config *cfg, char **err)
{
    return anth_config_parse(config_json, (anth_config *)cfg, err);
}

static void anth_cfg_release(pu_config *cfg)
{
    anth_config_release((anth_config *)cfg);
}

static int anth_chat_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **err)
{
    return anth_build_chat((const anth_config *)cfg, req, http_req, NULL, err);
}

static int anth_state_init(void *st, const char *model)
{
    anth_stream_init(st, model);
    return VENOM_OK;
}

static int anth_body(void *st, const char *body, size_t len, json_t **response, char **err)
{
    const anth_stream *s = st;
    return anth_parse_response(body, len, s->model, response, err);
}

static int anth_models_request(const pu_config *cfg, const char *after_id, json_t **http_req, char **err)
{
    return anth_build_models((const anth_config *)cfg, after_id, http_req, err);
}

static const pu_provider ANTHROPIC = {
    .name = "anthropic",
    .error_message = anth_error_message,
    .config_size = sizeof(anth_config),
    .config_parse = anth_cfg_parse,
    .config_release = anth_cfg_release,
    .chat_request = anth_chat_request,
    .stream_size = sizeof(anth_stream),
    .stream_init = anth_state_init,
    .stream_release = anth_stream_release,
    .ops = {.feed = anth_stream_feed, .finish = anth_stream_finish, .body = anth_body},
    .models_page_request = anth_models_request,
    .models_page = anth_parse_models,
};

static const venom_provider_desc DESC = {
    .struct_size = sizeof DESC,
    .caps = VENOM_PROVIDER_CHAT | VENOM_PROVIDER_STREAM | VENOM_PROVIDER_TOOLS | VENOM_PROVIDER_MODELS,
    .name = "anthropic",
    .description = "Anthropic Messages API (/v1/messages)",
    .data = (void *)&ANTHROPIC,
    .open = pu_provider_open,
    .close = pu_provider_close,
    .chat = pu_provider_chat,
    .list_models = pu_provider_list_models,
};

static int32_t anth_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    (void)state;
    return pu_provider_register(host, ctx, &DESC);
}

static const venom_plugin_info anth_info = {
    VENOM_PLUGIN_INFO_INIT,
    .min_host_minor = 1,
    .kinds = VENOM_KIND_PROVIDER,
    .name = "anthropic",
    .version = "1.0.0",
    .license = "MIT",
    .init = anth_init,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void)
{
    return &anth_info;
}
