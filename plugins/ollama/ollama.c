/*
 * ollama — the Ollama native API provider (/api/chat with NDJSON
 * streaming, /api/embed, /api/tags). The wire translation is in wire.c;
 * this file describes the provider to the shared plugin shell of
 * plugins/common/provider_host.h (configuration at open, chat / embed /
 * list_models through host->http_stream). Reference: docs/providers/ollama.md.
 */
#include "../common/provider_host.h"
#include "wire.h"

static const pu_provider OLLAMA = {
    .name = "ollama",
    .default_base = OLL_DEFAULT_BASE,
    .default_key_env = OLL_DEFAULT_KEY_ENV,
    .chat_request = oll_chat_request,
    .stream_size = sizeof(oll_stream),
    .stream_init = oll_stream_init,
    .stream_release = oll_stream_release,
    .ops = {.feed = oll_stream_feed, .finish = oll_stream_finish, .body = oll_body},
    .embed_request = oll_embed_request,
    .embed_result = oll_embed_result,
    .models_request = oll_models_request,
    .models_result = oll_models_result,
};

static const venom_provider_desc DESC = {
    .struct_size = sizeof DESC,
    .caps = VENOM_PROVIDER_CHAT | VENOM_PROVIDER_STREAM | VENOM_PROVIDER_TOOLS | VENOM_PROVIDER_EMBED |
            VENOM_PROVIDER_MODELS,
    .name = "ollama",
    .description = "Ollama native API (/api/chat, /api/embed, /api/tags)",
    .data = (void *)&OLLAMA,
    .open = pu_provider_open,
    .close = pu_provider_close,
    .chat = pu_provider_chat,
    .embed = pu_provider_embed,
    .list_models = pu_provider_list_models,
};

static int32_t oll_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    (void)state;
    return pu_provider_register(host, ctx, &DESC);
}

static const venom_plugin_info INFO = {
    VENOM_PLUGIN_INFO_INIT,
    .min_host_minor = 1,
    .kinds = VENOM_KIND_PROVIDER,
    .name = "ollama",
    .version = "1.0.0",
    .license = "MIT",
    .init = oll_init,
};

VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void)
{
    return &INFO;
}
