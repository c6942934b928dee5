/*
 * wire.h — the Ollama native chat API ⇄ venom's canonical chat format
 * (docs/internals/canonical.md; wire: ../shared/reference/wire-formats.md
 * section 3). Pure translation, no I/O: request building, the NDJSON stream
 * state machine, the non-streaming body, /api/embed and /api/tags.
 * Reference: docs/providers/ollama.md.
 *
 * Errors: 0 or a negative VENOM_E_* with a one-line *err (malloc'd):
 * VENOM_E_INVAL for a malformed canonical request, VENOM_E_NET for an
 * {"error":…} line, a malformed line or a stream without done: true.
 */
#ifndef VENOM_PLUGINS_OLLAMA_WIRE_H
#define VENOM_PLUGINS_OLLAMA_WIRE_H

#include "../common/provider_util.h"

#define OLL_DEFAULT_BASE "http://127.0.0.1:11434"
#define OLL_DEFAULT_KEY_ENV "" /* a local server needs no key */

/* The http_stream request for canonical request req under cfg. Options read
 * from cfg->options: num_ctx (integer), keep_alive (string or number),
 * think (boolean or string). */
PU_WUR int oll_chat_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **err);

/* The stream state machine (also used for the non-streaming body). */
typedef struct oll_stream {
    char *model;         /* as the server reported it, else as requested */
    pu_buf text;
    pu_tool_calls calls;
    json_t *final;       /* the done: true line, NULL until seen */
    bool done;
    size_t lines;
} oll_stream;

/* st is an oll_stream (the form pu_provider wants). */
PU_WUR int oll_stream_init(void *st, const char *requested_model);
void oll_stream_release(void *st);
/* pu_stream_ops: one NDJSON line; the canonical response at the end; a
 * whole non-streaming body. st is an oll_stream. */
PU_WUR int oll_stream_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err);
PU_WUR int oll_stream_finish(void *st, json_t **response, char **err);
PU_WUR int oll_body(void *st, const char *body, size_t len, json_t **response, char **err);

/* Canonical usage from the final line: prompt_eval_count (absent → 0) and
 * eval_count; missing only when the line has neither. */
json_t *oll_usage(const json_t *final);

/* Embeddings: canonical {"model","input"} → POST {base}/api/embed, and the
 * reply → {"model","embeddings":[[…]…],"usage":{…}}. */
PU_WUR int oll_embed_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **err);
PU_WUR int oll_embed_result(const json_t *body, json_t **out, char **err);

/* Models: GET {base}/api/tags and the reply → {"models":[{"id",…}…]}. */
PU_WUR int oll_models_request(const pu_config *cfg, json_t **http_req, char **err);
PU_WUR int oll_models_result(const json_t *body, json_t **out, char **err);

#endif
