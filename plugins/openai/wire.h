/*
 * wire.h — OpenAI Chat Completions ⇄ venom's canonical chat format
 * (docs/internals/canonical.md; wire: ../shared/reference/wire-formats.md
 * section 1). Pure translation, no I/O: request building, the SSE stream
 * state machine, the non-streaming body, embeddings and the model list.
 * Also serves every OpenAI-compatible server (llama.cpp, vLLM, Ollama /v1,
 * LM Studio); docs/providers/openai.md.
 *
 * Errors: 0 or a negative VENOM_E_* with a one-line *err (malloc'd):
 * VENOM_E_INVAL for a malformed canonical request, VENOM_E_NET for an
 * error inside a 200 reply, a malformed chunk or a cut stream.
 */
#ifndef VENOM_PLUGINS_OPENAI_WIRE_H
#define VENOM_PLUGINS_OPENAI_WIRE_H

#include "../common/provider_util.h"

#define OAI_DEFAULT_BASE "https://api.openai.com/v1"
#define OAI_DEFAULT_KEY_ENV "OPENAI_API_KEY"

/* The http_stream request ({"method","url","headers","body","stream"}) for
 * canonical request req under cfg. Options read from cfg->options:
 * max_completion_tokens (bool, default false: send "max_tokens"),
 * stream_usage (bool, default true: stream_options.include_usage). */
PU_WUR int oai_chat_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **err);

/* The stream state machine (also used for the non-streaming body). */
typedef struct oai_stream {
    char *model;           /* as the server reported it, else as requested */
    char *id;
    pu_buf text;
    pu_tool_calls calls;
    char *finish_reason;   /* the wire's, NULL until seen */
    json_t *usage;         /* the wire's usage object, NULL until seen */
    bool done;             /* data: [DONE] seen */
    size_t events;
} oai_stream;

/* requested_model (may be NULL) names the model until the server does. */
/* st is an oai_stream (the form pu_provider wants). */
PU_WUR int oai_stream_init(void *st, const char *requested_model);
void oai_stream_release(void *st);
/* pu_stream_ops: one SSE event; the canonical response at the end; a whole
 * non-streaming body. st is an oai_stream. */
PU_WUR int oai_stream_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err);
PU_WUR int oai_stream_finish(void *st, json_t **response, char **err);
PU_WUR int oai_body(void *st, const char *body, size_t len, json_t **response, char **err);

/* Canonical usage from an OpenAI usage object (NULL / not an object →
 * missing). uncached = prompt_tokens − prompt_tokens_details.cached_tokens. */
json_t *oai_usage(const json_t *usage);

/* Embeddings: canonical {"model","input"} → POST {base}/embeddings, and
 * the reply → {"model","embeddings":[[…]…],"usage":{…}} in input order. */
PU_WUR int oai_embed_request(const pu_config *cfg, const json_t *req, json_t **http_req, char **err);
PU_WUR int oai_embed_result(const json_t *body, json_t **out, char **err);

/* Models: GET {base}/models and the reply → {"models":[{"id",…}…]}. */
PU_WUR int oai_models_request(const pu_config *cfg, json_t **http_req, char **err);
PU_WUR int oai_models_result(const json_t *body, json_t **out, char **err);

#endif
