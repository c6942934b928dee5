/*
 * anthropic — the Anthropic Messages API provider (docs/providers/anthropic.md).
 * The translation is pure and lives in wire.c; this file opens instances
 * from configuration and runs calls through host->http_stream with the
 * shared runner of plugins/common/provider_host.h.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <venom/venom.h>

#include "../common/provider_host.h"
#include "wire.h"

#define ANTH_MAX_MODEL_PAGES 20

static const venom_host_api *HOST;

static int32_t anth_open(venom_ctx *ctx, const char *config_json, void *data, void **instance)
{
    (void)data;
    *instance = NULL;
    anth_config *cfg = calloc(1, sizeof *cfg);
    char *err = NULL;
    if (!cfg)
        return pu_fail(HOST, ctx, VENOM_E_NOMEM, "anthropic: out of memory");
    int rc = anth_config_parse(config_json, cfg, &err);
    if (rc != VENOM_OK) {
        pu_fail(HOST, ctx, rc, "%s", err ? err : "anthropic: bad configuration");
        free(err);
        free(cfg);
        return rc;
    }
    *instance = cfg;
    return VENOM_OK;
}

static void anth_close(void *instance)
{
    anth_config_release(instance);
    free(instance);
}

/* Adapters from the wire state machine to the shared runner. */
static int anth_ops_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    return anth_stream_feed(st, event, data, len, deltas, err);
}

static int anth_ops_finish(void *st, json_t **response, char **err)
{
    return anth_stream_finish(st, response, err);
}

static int anth_ops_body(void *st, const char *body, size_t len, json_t **response, char **err)
{
    const anth_stream *s = st;
    return anth_parse_response(body, len, s->model, response, err);
}

static int32_t anth_chat(venom_ctx *call, void *instance, const char *request_json)
{
    static const pu_stream_ops ops = {.feed = anth_ops_feed, .finish = anth_ops_finish, .body = anth_ops_body};
    const anth_config *cfg = instance;
    json_error_t je;
    json_t *req = json_loads(request_json ? request_json : "", 0, &je), *http_req = NULL;
    char *err = NULL;
    anth_stream st;
    anth_stream_init(&st, NULL);
    int32_t rc;
    if (!json_is_object(req)) {
        rc = pu_fail(HOST, call, VENOM_E_INVAL, "%s: the chat request is not a JSON object (%s)", cfg->pu.name,
                     req ? "wrong type" : je.text);
        goto out;
    }
    if ((rc = anth_build_chat(cfg, req, &http_req, NULL, &err)) != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->pu.name, err ? err : "out of memory building the request");
        goto out;
    }
    const char *model = pu_str(req, "model", "");
    anth_stream_init(&st, *model ? model : cfg->pu.model);
    bool forward = pu_bool(req, "stream", false) && VENOM_HOST_HAS(HOST, stream);
    rc = pu_run_chat(HOST, call, &cfg->pu, http_req, &ops, &st, forward);
out:
    anth_stream_release(&st);
    free(err);
    json_decref(http_req);
    json_decref(req);
    return rc;
}

static int32_t anth_list_models(venom_ctx *call, void *instance)
{
    const anth_config *cfg = instance;
    json_t *models = json_array(), *http_req = NULL, *page = NULL;
    char *after = NULL, *err = NULL;
    int32_t rc = models ? VENOM_OK : VENOM_E_NOMEM;
    for (int n = 0; rc == VENOM_OK && n < ANTH_MAX_MODEL_PAGES; n++) {
        char *next = NULL;
        if ((rc = anth_build_models(cfg, after, &http_req, &err)) != VENOM_OK)
            break;
        if ((rc = pu_run_json(HOST, call, &cfg->pu, http_req, &page)) != VENOM_OK)
            goto out; /* the runner set the error */
        rc = anth_parse_models(page, models, &next, &err);
        json_decref(page);
        json_decref(http_req);
        page = http_req = NULL;
        free(after);
        after = next;
        if (!after)
            break;
    }
    if (rc != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->pu.name, err ? err : "out of memory");
        goto out;
    }
    rc = pu_set_result(HOST, call, json_pack("{s:O}", "models", models));
out:
    free(after);
    free(err);
    json_decref(page);
    json_decref(http_req);
    json_decref(models);
    return rc;
}

static int32_t anth_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    (void)state;
    HOST = host;
    if (!VENOM_HOST_HAS(host, http_stream)) {
        host->set_error(ctx, "the anthropic provider needs a host with http_stream (venom ABI 1.1): upgrade venom");
        return VENOM_E_VERSION;
    }
    static const venom_provider_desc desc = {
        .struct_size = sizeof(venom_provider_desc),
        .caps = VENOM_PROVIDER_CHAT | VENOM_PROVIDER_STREAM | VENOM_PROVIDER_TOOLS | VENOM_PROVIDER_MODELS,
        .name = "anthropic",
        .description = "Anthropic Messages API (/v1/messages)",
        .open = anth_open,
        .close = anth_close,
        .chat = anth_chat,
        .list_models = anth_list_models,
    };
    return host->register_provider(ctx, &desc);
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
