/*
 * wire.h — pure translation between venom's canonical chat format
 * (docs/internals/canonical.md) and the Anthropic Messages API
 * (/v1/messages, wire-formats.md section 2). No I/O: the plugin
 * (anthropic.c) makes the requests through host->http_stream; the unit test
 * (tests/unit/test_provider_anthropic.c) includes this file's .c directly.
 *
 * Every fallible function returns 0 or a negative VENOM_E_* code and, when
 * err is not NULL, leaves a one-line message in *err (malloc'd; the caller
 * frees it). Messages never contain the API key. Names are prefixed anth_
 * so the test can link them next to venom_core. Shared pieces (config,
 * tool-call accumulation, argument parsing, response builder) come from
 * plugins/common/provider_util.h.
 */
#ifndef VENOM_PLUGINS_ANTHROPIC_WIRE_H
#define VENOM_PLUGINS_ANTHROPIC_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "../common/provider_util.h"

#define ANTH_DEFAULT_BASE_URL "https://api.anthropic.com"
#define ANTH_DEFAULT_KEY_ENV "ANTHROPIC_API_KEY"
#define ANTH_DEFAULT_VERSION "2023-06-01"
#define ANTH_DEFAULT_MAX_TOKENS 4096

/* One opened provider instance: read-only after anth_config_parse, so
 * concurrent chat calls may share it. */
typedef struct anth_config {
    pu_config pu;      /* name, base_url, api_key, model, stream, headers, options */
    long max_tokens;   /* options.max_tokens, else ANTH_DEFAULT_MAX_TOKENS */
    char *version;     /* anthropic-version header (options.anthropic_version) */
    char *beta;        /* anthropic-beta header (options.beta); NULL when none */
} anth_config;

/* Parse the provider's configuration JSON (canonical.md "Provider
 * configuration"; the key is read with getenv). A missing key variable is
 * VENOM_E_PERM; a bad field VENOM_E_INVAL. On success fill *cfg (release
 * with anth_config_release). */
int anth_config_parse(const char *config_json, anth_config *cfg, char **err) __attribute__((warn_unused_result));
void anth_config_release(anth_config *cfg);

/* Build the http_stream request for a canonical chat request:
 * {"method":"POST","url":…,"headers":{…},"body":"<json>","stream":"sse"|"none"}.
 * *wire_stream says which wire mode was chosen (cfg->stream). */
int anth_build_chat(const anth_config *cfg, const json_t *req, json_t **http_req, bool *wire_stream, char **err)
    __attribute__((warn_unused_result));

/* The http_stream request for GET /v1/models (after_id NULL for the first page). */
int anth_build_models(const anth_config *cfg, const char *after_id, json_t **http_req, char **err)
    __attribute__((warn_unused_result));
/* Append the models of one /v1/models page (parsed body, borrowed) to out
 * (an array of {"id","name","created"}); *next is the after_id of the next
 * page (malloc'd), NULL when there is none. */
int anth_parse_models(const json_t *page, json_t *out, char **next, char **err)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------ streaming */

typedef struct anth_block anth_block;

/* The state of one SSE response. Initialise with anth_stream_init. */
typedef struct anth_stream {
    char *model;           /* as requested, replaced by message_start's */
    char *id;
    pu_buf text;           /* accumulated answer text */
    anth_block *blocks;    /* kind of each content block, by wire index */
    size_t n_blocks;
    pu_tool_calls tools;   /* tool_use blocks (wire_index = block index) */
    json_t *usage;         /* the wire usage, assigned field by field */
    char *stop_reason;
    size_t events;         /* events fed */
    bool stopped;          /* message_stop seen */
} anth_stream;

void anth_stream_init(anth_stream *s, const char *model);
/* st is an anth_stream here and below (the form pu_provider wants). */
void anth_stream_release(void *st);
/* Feed one SSE event (event may be "" or NULL: data.type is used). Appends
 * canonical deltas to `deltas` (an array). VENOM_E_NET for an error event or
 * a malformed chunk, VENOM_E_NOMEM. */
int anth_stream_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
    __attribute__((warn_unused_result));
/* End of the body: the canonical response (new reference), or VENOM_E_NET
 * when message_stop never came. */
int anth_stream_finish(void *st, json_t **response, char **err) __attribute__((warn_unused_result));

/* A whole (non-streamed) Messages response body -> canonical response. */
int anth_parse_response(const char *body, size_t len, const char *model, json_t **response, char **err)
    __attribute__((warn_unused_result));

/* The message of an error body: "overloaded_error: Overloaded" for
 * Anthropic's shape, else pu_error_message's. malloc'd; NULL on no memory. */
char *anth_error_message(const char *body, size_t len);

#endif
