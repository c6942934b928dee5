/*
 * provider_host.h — the host-facing half every provider plugin shares: run
 * a request through host->http_stream, feed the streamed events to the
 * provider's (pure) wire state machine, forward the canonical deltas with
 * host->stream, and set the call's result or error; and the whole plugin
 * shell (open / close / chat / embed / list_models / init) driven by a
 * pu_provider descriptor, so each <name>.c is only its description.
 *
 * Errors: every function that fails has set the call's error (one line,
 * never containing the API key) and returns a negative VENOM_E_* code.
 */
#ifndef VENOM_PLUGINS_PROVIDER_HOST_H
#define VENOM_PLUGINS_PROVIDER_HOST_H

#include "provider_util.h"

/* The wire state machine of one provider call (st is its state). */
typedef struct pu_stream_ops {
    /* One SSE event (event name or "") or NDJSON line (event ""): append
     * canonical deltas to `deltas` (an array). VENOM_E_NET with *err for an
     * error event or a malformed chunk. */
    int (*feed)(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err);
    /* End of a clean stream: the canonical response, or VENOM_E_NET with
     * *err when the stream ended before its terminal marker. */
    int (*finish)(void *st, json_t **response, char **err);
    /* A whole non-streaming body → the canonical response. */
    int (*body)(void *st, const char *body, size_t len, json_t **response, char **err);
} pu_stream_ops;

/* Set the call's error from a format; returns code. */
__attribute__((format(printf, 4, 5))) int32_t pu_fail(const venom_host_api *host, venom_ctx *call, int32_t code,
                                                      const char *fmt, ...);

/* Run a chat request (http_req from pu_http_request; borrowed). Its
 * "stream" says how the body is read: "sse"/"ndjson" through ops->feed and
 * ops->finish, "none" through ops->body. forward: send deltas to
 * host->stream (for "none", the final text as one delta). On success the
 * canonical response is the call's result. */
PU_WUR int32_t pu_run_chat(const venom_host_api *host, venom_ctx *call, const pu_config *cfg,
                           const json_t *http_req, const pu_stream_ops *ops, void *st, bool forward);

/* Run a plain request (stream "none") and parse the 2xx body as JSON into
 * *body (new reference). */
PU_WUR int32_t pu_run_json(const venom_host_api *host, venom_ctx *call, const pu_config *cfg,
                           const json_t *http_req, json_t **body);

/* Set json (stolen) as the call's result. */
PU_WUR int32_t pu_set_result(const venom_host_api *host, venom_ctx *call, json_t *json);

/* ------------------------------------------------------------ the plugin shell */

/* What one network provider is: its defaults and its (pure) wire
 * functions. A plugin describes itself with a static const pu_provider,
 * puts its address in venom_provider_desc.data and uses pu_provider_open /
 * _close / _chat / _embed / _list_models as the desc's functions (with
 * pu_provider_register from its init). Functions the API lacks are NULL. */
typedef struct pu_provider {
    const char *name;            /* "openai": the default entry name, and the prefix of open's messages */
    const char *default_base;    /* base URL when the configuration has none */
    const char *default_key_env; /* key variable when the configuration names none ("" = no key) */

    /* The instance's configuration: config_size bytes whose first member is
     * a pu_config (0: a plain pu_config). config_parse NULL → pu_config_parse
     * with the defaults above; config_release NULL → pu_config_release. */
    size_t config_size;
    int (*config_parse)(const char *config_json, pu_config *cfg, char **err);
    void (*config_release)(pu_config *cfg);

    /* Chat: the http_stream request for a canonical request; the state of
     * its reply (stream_size bytes, zeroed, then stream_init with the
     * request's model, else the configured one; stream_release afterwards
     * whenever stream_init ran) read through ops. */
    int (*chat_request)(const pu_config *cfg, const json_t *req, json_t **http_req, char **err);
    size_t stream_size;
    int (*stream_init)(void *st, const char *model);
    void (*stream_release)(void *st);
    pu_stream_ops ops;

    /* Embeddings, one of two shapes: the plain pair, or the _n pair whose
     * parse gets the model and the input count the request chose (*model
     * malloc'd). */
    int (*embed_request)(const pu_config *cfg, const json_t *req, json_t **http_req, char **err);
    int (*embed_result)(const json_t *body, json_t **out, char **err);
    int (*embed_request_n)(const pu_config *cfg, const json_t *req, json_t **http_req, char **model, size_t *n,
                           char **err);
    int (*embed_result_n)(const json_t *body, const char *model, size_t n, json_t **out, char **err);

    /* The model list, one of two shapes: one request whose reply becomes
     * the whole result ({"models":[…]}), or pages (page_token NULL for the
     * first) whose models models_page appends to an array, *next the next
     * page's token (malloc'd) or NULL; at most PU_MAX_MODEL_PAGES pages. */
    int (*models_request)(const pu_config *cfg, json_t **http_req, char **err);
    int (*models_result)(const json_t *body, json_t **out, char **err);
    int (*models_page_request)(const pu_config *cfg, const char *page_token, json_t **http_req, char **err);
    int (*models_page)(const json_t *page, json_t *models, char **next, char **err);

    /* The message of a non-2xx error body in this API's shape (malloc'd);
     * NULL → pu_error_message. */
    char *(*error_message)(const char *body, size_t len);
} pu_provider;

#define PU_MAX_MODEL_PAGES 20

/* The plugin's init: checks the host (ABI 1.1 with http_stream), keeps it
 * for the functions below, and registers desc (whose data is the
 * pu_provider). */
PU_WUR int32_t pu_provider_register(const venom_host_api *host, venom_ctx *ctx, const venom_provider_desc *desc);

/* venom_provider_desc functions; data is a const pu_provider *. */
PU_WUR int32_t pu_provider_open(venom_ctx *ctx, const char *config_json, void *data, void **instance);
void pu_provider_close(void *instance);
PU_WUR int32_t pu_provider_chat(venom_ctx *call, void *instance, const char *request_json);
PU_WUR int32_t pu_provider_embed(venom_ctx *call, void *instance, const char *request_json);
PU_WUR int32_t pu_provider_list_models(venom_ctx *call, void *instance);

#endif
