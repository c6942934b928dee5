/*
 * wire.h — pure translation between venom's canonical chat format
 * (docs/internals/canonical.md) and Google's Gemini API (generateContent,
 * wire-formats.md section 4). No I/O: the plugin (gemini.c) makes the
 * requests through host->http_stream; the unit test
 * (tests/unit/test_provider_gemini.c) includes this file's .c directly.
 *
 * Every fallible function returns 0 or a negative VENOM_E_* code and, when
 * err is not NULL, leaves a one-line message in *err (malloc'd; the caller
 * frees it). Messages never contain the API key (it travels only in the
 * x-goog-api-key header, never in a URL). Names are prefixed gem_; shared
 * pieces come from plugins/common/provider_util.h.
 *
 * Gemini has no tool-call ids: calls get "call_<index>" in response order,
 * unless the server sent functionCall.id. A call's thoughtSignature is kept
 * in the canonical tool call as "thought_signature" and sent back with the
 * call when the history is replayed.
 */
#ifndef VENOM_PLUGINS_GEMINI_WIRE_H
#define VENOM_PLUGINS_GEMINI_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "../common/provider_util.h"

#define GEM_DEFAULT_BASE_URL "https://generativelanguage.googleapis.com"
#define GEM_DEFAULT_KEY_ENV "GEMINI_API_KEY"
/* Placeholder Google documents for function calls whose history did not come
 * from Gemini (thinking models reject a replayed call without a signature). */
#define GEM_SKIP_SIGNATURE "skip_thought_signature_validator"

/* One opened provider instance; read-only after gem_config_parse. */
typedef struct gem_config {
    pu_config pu;          /* name, base_url, api_key, model, stream, headers, options */
    long max_tokens;       /* options.max_tokens; 0 = let the server decide */
    char *embedding_model; /* options.embedding_model; NULL when none */
} gem_config;

/* Parse the provider's configuration JSON; VENOM_E_PERM for a missing key
 * variable, VENOM_E_INVAL for a bad field. Release with gem_config_release. */
int gem_config_parse(const char *config_json, gem_config *cfg, char **err) __attribute__((warn_unused_result));
void gem_config_release(gem_config *cfg);

/* The http_stream request for a canonical chat request (POST
 * …/models/<m>:generateContent, or :streamGenerateContent?alt=sse when
 * cfg->pu.stream). *model_out (may be NULL) gets the model used (malloc'd). */
int gem_build_chat(const gem_config *cfg, const json_t *req, json_t **http_req, char **model_out, char **err)
    __attribute__((warn_unused_result));

/* A JSON Schema reduced to the subset Gemini's `parameters` accepts (new
 * reference): unsupported keywords removed at every level, type arrays
 * turned into type + nullable, const into enum, oneOf into anyOf. */
json_t *gem_schema(const json_t *schema);

/* Embeddings: {"model"?, "input": "text" | ["text"…]} → POST
 * …/models/<m>:batchEmbedContents; *n_inputs is how many vectors to expect. */
int gem_build_embed(const gem_config *cfg, const json_t *req, json_t **http_req, char **model_out, size_t *n_inputs,
                    char **err) __attribute__((warn_unused_result));
/* The parsed batchEmbedContents body → {"model","embeddings":[[…]…],"usage"}. */
int gem_parse_embed(const json_t *body, const char *model, size_t n_inputs, json_t **out, char **err)
    __attribute__((warn_unused_result));

/* GET …/v1beta/models (page_token NULL for the first page). */
int gem_build_models(const gem_config *cfg, const char *page_token, json_t **http_req, char **err)
    __attribute__((warn_unused_result));
/* Append one page's models to out ({"id","name","description",…});
 * *next the next page token (malloc'd) or NULL. */
int gem_parse_models(const json_t *page, json_t *out, char **next, char **err) __attribute__((warn_unused_result));

/* ------------------------------------------------------------ responses */

/* The state of one response: every SSE chunk, or the one whole body. */
typedef struct gem_stream {
    char *model;         /* as requested, replaced by modelVersion */
    char *id;            /* responseId */
    pu_buf text;         /* answer text (thought parts excluded) */
    pu_tool_calls tools; /* functionCall parts in order */
    json_t *signatures;  /* thoughtSignature per tool call slot (null when none) */
    json_t *usage;       /* the last usageMetadata */
    char *finish;        /* the candidate's finishReason */
    char *blocked;       /* promptFeedback.blockReason */
    size_t events;       /* chunks fed */
} gem_stream;

void gem_stream_init(gem_stream *s, const char *model);
/* st is a gem_stream here and below (the form pu_provider wants). */
void gem_stream_release(void *st);
/* One SSE data chunk (a GenerateContentResponse). Appends canonical deltas
 * to `deltas` (may be NULL). VENOM_E_NET for an error chunk or a malformed one. */
int gem_stream_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
    __attribute__((warn_unused_result));
/* End of the body: the canonical response, or VENOM_E_NET when no chunk
 * carried a finishReason (or a prompt block). */
int gem_stream_finish(void *st, json_t **response, char **err) __attribute__((warn_unused_result));
/* A whole generateContent body → the canonical response. */
int gem_parse_response(void *st, const char *body, size_t len, json_t **response, char **err)
    __attribute__((warn_unused_result));

/* "RESOURCE_EXHAUSTED (429): <message>; retry in 58s" from an error body,
 * else pu_error_message's text. malloc'd; NULL on no memory. */
char *gem_error_message(const char *body, size_t len);

#endif
