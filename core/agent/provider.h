/*
 * provider.h — the host side of model providers: find a provider pack in
 * the provider directories (./.venom/providers, $VENOM_HOME/providers, the
 * system directory), load its plugin, open an instance with its config entry
 * (docs/config.md, providers.<name>), and make canonical chat calls on it
 * (docs/internals/canonical.md) with a stream consumer, the net options of
 * the entry (timeouts, retries) and a cancellation flag.
 */
#ifndef VENOM_AGENT_PROVIDER_H
#define VENOM_AGENT_PROVIDER_H

#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "plugin/host.h"

struct config;
typedef struct provider provider;

/* Open the provider entry `name` of the configuration; `model` (may be NULL
 * or "") overrides the entry's model. Errors: -ENOENT unknown provider (the
 * message lists those installed), -ELIBBAD the plugin failed to load,
 * -EPERM/-EINVAL its open() refused the configuration (missing API key
 * variable…). *err is one line. */
int provider_open(const struct config *c, const char *name, const char *model, provider **out, char **err)
    __attribute__((warn_unused_result));
void provider_close(provider *p);

const char *provider_name(const provider *p);   /* the config entry's name */
const char *provider_plugin(const provider *p); /* the implementation, e.g. "openai" */
const char *provider_model(const provider *p);  /* the model in use ("" when the provider has none) */
/* The entry with defaults (borrowed): prices under "models", api_key_env… */
const json_t *provider_entry(const provider *p);
/* The value of the entry's API key variable, or NULL (for redaction). */
const char *provider_key_value(const provider *p);
/* Values to scrub from everything recorded: the entry's key and, as a net
 * for keys a plugin reads by its own default, every environment variable
 * whose name ends in _API_KEY, _KEY, _TOKEN or _SECRET (values of 8 bytes
 * or more). Up to max borrowed strings (valid while the environment is not
 * changed); returns how many. */
size_t provider_redactions(const provider *p, const char **out, size_t max);

typedef struct provider_call_opts {
    atomic_int *cancel;     /* may be NULL */
    host_stream_fn stream;  /* deltas while streaming; may be NULL */
    void *stream_user;
} provider_call_opts;

/* One chat call: request is a canonical request (the model is filled in
 * when absent). On success *response is the canonical response (new
 * reference). On failure returns the provider's VENOM_E_* code (< 0) with
 * *err one line. */
int32_t provider_chat(provider *p, const json_t *request, const provider_call_opts *o, json_t **response,
                      char **err);

/* Price of a usage object (canonical "usage") for the provider's model from
 * the entry's "models" prices: per million input, cached input, cache write
 * and output tokens. *priced is false when the model has no price entry
 * (cost 0). */
double provider_cost(const provider *p, const char *model, const json_t *usage, bool *priced);
/* The arithmetic of provider_cost for one price object ({input_per_mtok,
 * output_per_mtok, cached_input_per_mtok, cache_write_per_mtok}; the
 * routing catalog's prices use it too). 0 when price or usage is NULL. */
double provider_price_cost(const json_t *price, const json_t *usage);

#endif
