/*
 * gemini — the Google Gemini API provider (docs/providers/gemini.md):
 * generateContent / streamGenerateContent, batchEmbedContents, the model
 * list. The translation is pure and lives in wire.c; this file opens
 * instances and runs calls through host->http_stream with the shared runner
 * of plugins/common/provider_host.h.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <venom/venom.h>

#include "../common/provider_host.h"
#include "wire.h"

#define GEM_MAX_MODEL_PAGES 20

static const venom_host_api *HOST;

static int32_t gem_open(venom_ctx *ctx, const char *config_json, void *data, void **instance)
{
    (void)data;
    *instance = NULL;
    gem_config *cfg = calloc(1, sizeof *cfg);
    char *err = NULL;
    if (!cfg)
        return pu_fail(HOST, ctx, VENOM_E_NOMEM, "gemini: out of memory");
    int rc = gem_config_parse(config_json, cfg, &err);
    if (rc != VENOM_OK) {
        pu_fail(HOST, ctx, rc, "%s", err ? err : "gemini: bad configuration");
        free(err);
        free(cfg);
        return rc;
    }
    *instance = cfg;
    return VENOM_OK;
}

static void gem_close(void *instance)
{
    gem_config_release(instance);
    free(instance);
}

/* Adapters from the wire state machine to the shared runner. */
static int gem_ops_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    return gem_stream_feed(st, event, data, len, deltas, err);
}

static int gem_ops_finish(void *st, json_t **response, char **err)
{
    return gem_stream_finish(st, response, err);
}

static int gem_ops_body(void *st, const char *body, size_t len, json_t **response, char **err)
{
    return gem_parse_response(st, body, len, response, err);
}

static int32_t gem_chat(venom_ctx *call, void *instance, const char *request_json)
{
    static const pu_stream_ops ops = {.feed = gem_ops_feed, .finish = gem_ops_finish, .body = gem_ops_body};
    const gem_config *cfg = instance;
    json_error_t je;
    json_t *req = json_loads(request_json ? request_json : "", 0, &je), *http_req = NULL;
    char *err = NULL, *model = NULL;
    gem_stream st;
    gem_stream_init(&st, NULL);
    int32_t rc;
    if (!json_is_object(req)) {
        rc = pu_fail(HOST, call, VENOM_E_INVAL, "%s: the chat request is not a JSON object (%s)", cfg->pu.name,
                     req ? "wrong type" : je.text);
        goto out;
    }
    if ((rc = gem_build_chat(cfg, req, &http_req, &model, &err)) != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->pu.name, err ? err : "out of memory building the request");
        goto out;
    }
    gem_stream_init(&st, model);
    bool forward = pu_bool(req, "stream", false) && VENOM_HOST_HAS(HOST, stream);
    rc = pu_run_chat(HOST, call, &cfg->pu, http_req, &ops, &st, forward);
out:
    gem_stream_release(&st);
    free(model);
    free(err);
    json_decref(http_req);
    json_decref(req);
    return rc;
}

static int32_t gem_embed(venom_ctx *call, void *instance, const char *request_json)
{
    const gem_config *cfg = instance;
    json_t *req = json_loads(request_json ? request_json : "", 0, NULL), *http_req = NULL, *body = NULL,
           *out = NULL;
    char *err = NULL, *model = NULL;
    size_t n = 0;
    int32_t rc;
    if (!json_is_object(req)) {
        rc = pu_fail(HOST, call, VENOM_E_INVAL, "%s: the embed request is not a JSON object", cfg->pu.name);
        goto out;
    }
    if ((rc = gem_build_embed(cfg, req, &http_req, &model, &n, &err)) != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->pu.name, err ? err : "out of memory");
        goto out;
    }
    if ((rc = pu_run_json(HOST, call, &cfg->pu, http_req, &body)) != VENOM_OK)
        goto out;
    if ((rc = gem_parse_embed(body, model, n, &out, &err)) != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->pu.name, err ? err : "out of memory");
        goto out;
    }
    rc = pu_set_result(HOST, call, out);
out:
    free(model);
    free(err);
    json_decref(body);
    json_decref(http_req);
    json_decref(req);
    return rc;
}

static int32_t gem_list_models(venom_ctx *call, void *instance)
{
    const gem_config *cfg = instance;
    json_t *models = json_array(), *http_req = NULL, *page = NULL;
    char *token = NULL, *err = NULL;
    int32_t rc = models ? VENOM_OK : VENOM_E_NOMEM;
    for (int n = 0; rc == VENOM_OK && n < GEM_MAX_MODEL_PAGES; n++) {
        char *next = NULL;
        if ((rc = gem_build_models(cfg, token, &http_req, &err)) != VENOM_OK)
            break;
        if ((rc = pu_run_json(HOST, call, &cfg->pu, http_req, &page)) != VENOM_OK)
            goto out; /* the runner set the error */
        rc = gem_parse_models(page, models, &next, &err);
        json_decref(page);
        json_decref(http_req);
        page = http_req = NULL;
        free(token);
        token = next;
        if (!token)
            break;
    }
    if (rc != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: %s", cfg->pu.name, err ? err : "out of memory");
        goto out;
    }
    rc = pu_set_result(HOST, call, json_pack("{s:O}", "models", models));
out:
    free(token);
    free(err);
    json_decref(page);
    json_decref(http_req);
    json_decref(models);
    return rc;
}

static int32_t gem_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    (void)state;
    HOST = host;
    if (!VENOM_HOST_HAS(host, http_stream)) {
        host->set_error(ctx, "the gemini provider needs a host with http_stream (venom ABI 1.1): upgrade venom");
        return VENOM_E_VERSION;
    }
    static const venom_provider_desc desc = {
        .struct_size = sizeof(venom_provider_desc),
        .caps = VENOM_PROVIDER_CHAT | VENOM_PROVIDER_STREAM | VENOM_PROVIDER_TOOLS | VENOM_PROVIDER_EMBED |
                VENOM_PROVIDER_MODELS,
        .name = "gemini",
        .description = "Google Gemini API (generateContent)",
        .open = gem_open,
        .close = gem_close,
        .chat = gem_chat,
        .embed = gem_embed,
        .list_models = gem_list_models,
    };
    return host->register_provider(ctx, &desc);
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
