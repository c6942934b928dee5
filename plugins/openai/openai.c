/*
 * openai — the OpenAI Chat Completions provider (also llama.cpp server,
 * vLLM, Ollama /v1, LM Studio: any OpenAI-compatible base URL). The wire
 * translation is in wire.c; this file describes the provider to the shared
 * plugin shell of plugins/common/provider_host.h (configuration at open,
 * chat / embed / list_models through host->http_stream). Reference:
 * docs/providers/openai.md.
 */
#include "../common/provider_host.h"
#include "wire.h"

static const pu_provider OPENAI = {
    .name = "openai",
    .default_base = OAI_DEFAULT_BASE,
    .default_key_env = OAI_DEFAULT_KEY_ENV,
    .chat_request = oai_chat_request,
    .stream_size = sizeof(oai_stream),
    .stream_init = oai_stream_init,
    .stream_release = oai_stream_release,
    .ops = {.feed = oai_stream_feed, .finish = oai_stream_finish, .body = oai_body},
    .embed_request = oai_embed_request,
    .embed_result = oai_embed_result,
    .models_request = oai_models_request,
    .models_result = oai_models_result,
};

static const venom_provider_desc DESC = {
    .struct_size = sizeof DESC,
    .caps = VENOM_PROVIDER_CHAT | VENOM_PROVIDER_STREAM | VENOM_PROVIDER_TOOLS | VENOM_PROVIDER_EMBED |
            VENOM_PROVIDER_MODELS,
    .name = "openai",
    .description = "OpenAI Chat Completions and OpenAI-compatible servers (llama.cpp, vLLM, Ollama /v1, LM Studio)",
    .data = (void *)&OPENAI,
    .open = pu_provider_open,
    .close = pu_provider_close,
    .chat = pu_provider_chat,
    .embed = pu_provider_embed,
    .list_models = pu_provider_list_models,
};

static int32_t oai_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    (void)state;
    return pu_provider_register(host, ctx, &DESC);
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
