/*
 * provider_util.h — helpers every provider plugin needs, built only on libc
 * and jansson (no host, no I/O), so a provider's wire.c stays pure and its
 * unit test can include provider_util.c directly.
 *
 *   - tool-call argument text → canonical `arguments` object, or
 *     `arguments_raw` + `arguments_error` (docs/internals/canonical.md);
 *   - a tool-call accumulator keyed by the wire's index (streamed id, name
 *     and argument pieces) that turns into canonical tool calls;
 *   - the canonical response and usage builders;
 *   - canonical message helpers (content as text, content as parts);
 *   - provider configuration (`open`'s config JSON: base URL, key variable,
 *     model, stream, extra headers, options);
 *   - the server's message from an error body.
 *
 * Conventions: names start with pu_; functions that can fail return 0 or a
 * negative VENOM_E_* code and, when err is not NULL, store a one-line
 * message in *err (malloc'd; the caller frees it). Returned strings are
 * malloc'd (free()); returned json_t are new references (json_decref).
 * Everything is reentrant: no globals.
 */
#ifndef VENOM_PLUGINS_PROVIDER_UTIL_H
#define VENOM_PLUGINS_PROVIDER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <venom/venom.h>

#define PU_WUR __attribute__((warn_unused_result))

/* Set *err (if err) to a new formatted one-line message; returns code. */
__attribute__((format(printf, 3, 4))) int pu_err(char **err, int code, const char *fmt, ...);

/* ------------------------------------------------------------ growable text */

typedef struct pu_buf {
    char *p;    /* NUL-terminated once anything was appended; may be NULL */
    size_t len;
    size_t cap;
} pu_buf;

/* Append len bytes of s. VENOM_E_NOMEM on failure. */
PU_WUR int pu_buf_add(pu_buf *b, const char *s, size_t len);
/* The text so far ("" when empty); borrowed. */
const char *pu_buf_str(const pu_buf *b);
void pu_buf_release(pu_buf *b);

/* ------------------------------------------------------------ JSON access */

/* obj[key] as a string, or def when absent / null / not a string. */
const char *pu_str(const json_t *obj, const char *key, const char *def);
/* obj[key] as an integer (integer, or real with an integral value) into *out.
 * true when present and numeric; *out untouched otherwise. */
bool pu_int(const json_t *obj, const char *key, int64_t *out);
/* obj[key] as a boolean, or def. */
bool pu_bool(const json_t *obj, const char *key, bool def);
/* An id value as text: a string as is, an integer in decimal; else NULL.
 * Writes into buf (size n) for integers. */
const char *pu_id_text(const json_t *v, char *buf, size_t n);

/* ------------------------------------------------------------ tool calls */

/* Set the arguments of canonical tool call `call` from the wire's text:
 * "" or only whitespace → {}; a JSON object → "arguments"; anything else →
 * "arguments_raw" (the text as received) and "arguments_error" (what is
 * wrong, e.g. "invalid JSON at 10: string or '}' expected near end of file"
 * or "arguments are a JSON array, not an object"). VENOM_E_NOMEM only. */
PU_WUR int pu_tool_args_from_text(json_t *call, const char *text, size_t len);

/* One tool call being assembled from a stream. */
typedef struct pu_tool_call {
    int64_t wire_index; /* the wire's index (or the arrival order) */
    char *id;           /* NULL until seen */
    char *name;         /* NULL until seen */
    pu_buf args;        /* argument text pieces, concatenated */
    json_t *args_obj;   /* or a complete argument object (Ollama, Gemini); owned */
} pu_tool_call;

/* Tool calls in the order they first appeared. */
typedef struct pu_tool_calls {
    pu_tool_call *v;
    size_t n;
    size_t cap;
} pu_tool_calls;

/* The call at wire_index: the most recent call with that index, or a new
 * one appended. When id is non-empty and the found call already has a
 * different id, a new call is started (servers that reuse index 0 for a
 * parallel batch). *slot is its position (the canonical index). */
PU_WUR int pu_tool_calls_at(pu_tool_calls *tc, int64_t wire_index, const char *id, size_t *slot);
/* Set the id / name of call slot (assigned, not appended). */
PU_WUR int pu_tool_call_set_id(pu_tool_calls *tc, size_t slot, const char *id);
PU_WUR int pu_tool_call_set_name(pu_tool_calls *tc, size_t slot, const char *name);
/* Append an argument piece / set a complete argument value (borrowed; an
 * object is copied as is, a string is parsed as argument text). */
PU_WUR int pu_tool_call_add_args(pu_tool_calls *tc, size_t slot, const char *text, size_t len);
PU_WUR int pu_tool_call_set_args(pu_tool_calls *tc, size_t slot, json_t *value);
/* The canonical tool_calls array. A call without an id gets
 * "call_<slot>"; without a name, "" (the agent reports it). */
PU_WUR int pu_tool_calls_json(const pu_tool_calls *tc, json_t **out);
void pu_tool_calls_release(pu_tool_calls *tc);

/* ------------------------------------------------------------ response */

/* Canonical usage (a negative count becomes 0). raw (borrowed, copied) may
 * be NULL; missing=true means the server sent none (counts are then 0 and
 * flagged, never guessed). */
json_t *pu_usage(int64_t input, int64_t cached, int64_t cache_write, int64_t output, bool missing,
                 const json_t *raw);
/* The canonical response. model/id may be NULL (id is then left out);
 * text NULL → ""; tool_calls (stolen, may be NULL) is left out when empty;
 * finish is forced to "tool_calls" when there are tool calls; usage is
 * stolen (NULL → a missing usage). NULL on out of memory. */
json_t *pu_response(const char *model, const char *id, const char *text, json_t *tool_calls, const char *finish,
                    json_t *usage);

/* Stream deltas (new objects; NULL on out of memory). */
json_t *pu_delta_text(const char *text, size_t len);
json_t *pu_delta_tool_call(size_t index, const char *id, const char *name);
json_t *pu_delta_tool_args(size_t index, const char *text, size_t len);

/* ------------------------------------------------------------ messages */

/* A message's content as a parts array (new reference): a string becomes
 * [{"type":"text","text":…}], null/absent becomes []. VENOM_E_INVAL when
 * content is another type or a part is not an object with a string "type". */
PU_WUR int pu_content_parts(const json_t *content, json_t **parts, char **err);
/* The text parts of content joined with sep (new string). Non-text parts
 * are skipped. VENOM_E_INVAL as for pu_content_parts. */
PU_WUR int pu_content_text(const json_t *content, const char *sep, char **text, char **err);

/* Canonical tools → the OpenAI function shape, used by OpenAI and Ollama:
 * [{"type":"function","function":{"name","description","parameters"}}]
 * ("examples" dropped; absent parameters → an empty object schema). New
 * array in *out. VENOM_E_INVAL for a tool without a name. */
PU_WUR int pu_tools_function_shape(const json_t *tools, json_t **out, char **err);

/* ------------------------------------------------------------ configuration */

/* A provider instance's configuration (docs/internals/canonical.md). */
typedef struct pu_config {
    char *name;        /* the entry's name ("openai") */
    char *base_url;    /* without a trailing '/' */
    char *api_key;     /* NULL when none is configured */
    char *key_env;     /* the variable it came from ("" when none) */
    char *model;       /* "" when none */
    bool stream;       /* use the streaming wire mode (default true) */
    json_t *headers;   /* extra request headers: object of strings (never NULL) */
    json_t *options;   /* provider-specific knobs: object (never NULL) */
} pu_config;

/* Parse config_json. base_url "" or absent → def_base; api_key_env absent →
 * def_key_env, "" → no key; a named variable that is unset (or empty) →
 * VENOM_E_PERM "environment variable X (providers.<name>.api_key_env) is
 * not set: …". VENOM_E_INVAL for bad JSON or wrongly typed keys. */
PU_WUR int pu_config_parse(const char *config_json, const char *def_name, const char *def_base,
                           const char *def_key_env, pu_config *cfg, char **err);
void pu_config_release(pu_config *cfg);

/* The HTTP request for host->http_stream: {"method","url","headers","body",
 * "stream"} (headers: Content-Type for a body, the cfg's extra headers, and
 * auth_name: auth_prefix+key when cfg has a key and auth_name is not NULL).
 * body (may be NULL) is stolen and serialised compactly. */
PU_WUR int pu_http_request(const pu_config *cfg, const char *method, const char *url, json_t *body,
                           const char *stream, const char *auth_name, const char *auth_prefix, json_t **out,
                           char **err);

/* cfg->base_url + path (new string; NULL on out of memory). */
char *pu_url(const pu_config *cfg, const char *path);

/* The start of a chunk for a one-line message: at most n-4 bytes of
 * data[0..len), cut on a UTF-8 boundary, newlines as spaces, "..." when
 * cut; always NUL-terminated (n >= 8). */
void pu_excerpt(const char *data, size_t len, char *out, size_t n);

/* The server's message in an error body: "error" as a string,
 * "error.message", or a top-level "message"; otherwise the body itself
 * (cut to 300 bytes, on one line). New string; NULL only on out of memory. */
char *pu_error_message(const char *body, size_t len);

#endif
