/*
 * engine.h — the offline provider's decision engine: answers a canonical
 * chat request (docs/internals/canonical.md) without a model, by matching
 * the goal (the last user message) against the request's "tools" with a
 * small lexical model, filling arguments from the goal, the workdir and the
 * previous tool result, and asking instead of guessing when it is not sure.
 * The tables, the scoring formula and examples: docs/providers/offline.md.
 *
 * Pure apart from stat/lstat/realpath on paths named by the goal, relative
 * to the request's metadata.workdir (never outside it). Deterministic: the
 * same request gives the same response, byte for byte once serialised
 * compactly. Thread-safe: no mutable global state after a one-time table
 * initialisation (pthread_once).
 */
#ifndef VENOM_OFFLINE_ENGINE_H
#define VENOM_OFFLINE_ENGINE_H

#include <stddef.h>
#include <jansson.h>

#define OFFLINE_DEFAULT_THRESHOLD 0.5 /* confidence below which it asks */
#define OFFLINE_MARGIN 0.5            /* score gap that separates two intents */

typedef struct offline_opts {
    double threshold;  /* in [0,1] */
    const char *model; /* model name for responses when the request has none; NULL: "offline" */
} offline_opts;

/*
 * Read the provider configuration (the "providers.offline" object, may be
 * NULL) into *o: options.threshold (number in [0,1]). o->model points into
 * config. Unknown keys under "options" are errors. Returns 0, or
 * VENOM_E_INVAL with a one-line message in err.
 */
int offline_opts_parse(const json_t *config, offline_opts *o, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The analysed tools of a request ("tools": names, schemas, vocabularies).
 * Immutable once built: any number of calls may share one. */
typedef struct offline_tools offline_tools;

/*
 * Analyse a canonical "tools" array (borrowed; a reference is kept; NULL
 * is an empty set). On success *out is the caller's (offline_tools_free).
 * Errors: VENOM_E_INVAL (not an array, a tool without a name),
 * VENOM_E_NOMEM; err holds one line. Any thread.
 */
int offline_tools_new(const json_t *tools, offline_tools **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* NULL is fine. */
void offline_tools_free(offline_tools *ts);

/*
 * Answer one canonical chat request. On success *response is a new
 * canonical response (the caller's reference): a tool call (finish
 * "tool_calls"), a final text (finish "stop"), a failed step (finish
 * "error"), or the questions it could not decide ("unresolved"); always
 * with "confidence" and "unresolved". A request with metadata.purpose
 * "plan" gets the whole plan instead: finish "stop", content the text of
 * one JSON object {"steps", "confidence", "questions"} (plan mode,
 * docs/providers/offline.md). tools: the request's tools analysed
 * beforehand (offline_tools_new), or NULL to analyse request.tools now. Errors: VENOM_E_INVAL for a malformed
 * request, VENOM_E_NOMEM; err holds one line. Any thread.
 */
int offline_engine_answer(const offline_opts *o, const json_t *request, const offline_tools *tools,
                          json_t **response, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
