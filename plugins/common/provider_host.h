/*
 * provider_host.h — the host-facing half every provider plugin shares: run
 * a request through host->http_stream, feed the streamed events to the
 * provider's (pure) wire state machine, forward the canonical deltas with
 * host->stream, and set the call's result or error. Keeps each
 * <name>.c down to configuration and request building.
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

#endif
