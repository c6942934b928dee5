/*
 * host.h — the host side of the SDK: the venom_host_api table handed to
 * plugins, and venom_ctx, the handle behind each plugin and each call.
 *
 * A plugin context lives as long as its loaded plugin and accepts
 * registrations only while init runs. A call context lives for one skill
 * call on the caller's stack: it carries the result, the error, the path
 * confinement, the permissions and the cancellation flag of that call.
 */
#ifndef VENOM_PLUGIN_HOST_H
#define VENOM_PLUGIN_HOST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <venom/venom.h>

struct plugin;
struct manifest;
struct confine;
struct net_opts;

/* Consumer of a provider's stream deltas (canonical JSON, borrowed). Return
 * VENOM_E_CANCELLED to stop the provider. */
typedef int32_t (*host_stream_fn)(void *user, const char *delta_json, size_t len);

enum { HOST_CTX_PLUGIN = 1, HOST_CTX_CALL = 2 };

/* Where log lines and progress of plugins go (set by the CLI). */
typedef void (*host_log_fn)(void *user, const char *who, int level, const char *msg);

struct venom_ctx {
    uint32_t magic;           /* HOST_CTX_MAGIC while valid */
    uint32_t kind;            /* HOST_CTX_PLUGIN or HOST_CTX_CALL */
    const char *who;          /* pack name for messages, borrowed */
    struct plugin *plugin;    /* owning plugin (plugin ctx), may be NULL for calls */
    atomic_bool in_init;      /* plugin ctx: init is running */
    pthread_mutex_t lock;     /* guards error and result */
    char *error;              /* last set_error message (mem_alloc'd) */
    /* call ctx only */
    json_t *result;           /* set by set_result */
    uint64_t result_limit;    /* max bytes of result JSON */
    const struct manifest *m; /* permissions of the call's pack */
    const struct confine *confine;
    atomic_int *cancel;       /* non-zero = cancelled; may be NULL */
    /* provider calls only (core/agent/provider.c) */
    const struct net_opts *net;  /* timeouts and retries of http_stream; NULL = defaults */
    host_stream_fn stream;       /* consumer of host->stream deltas; NULL = dropped */
    void *stream_user;
};

/* Streaming HTTP for providers (SDK 1.1 http_stream), host_http.c: the
 * request through core/net with ctx->net and ctx->cancel. */
int32_t host_http_stream(venom_ctx *ctx, const char *request_json, venom_http_event_fn on_event, void *user,
                         char **response_json);

/* The host's function table (static, shared by all plugins). */
const venom_host_api *host_api(void);
/* Route plugin log/progress lines to fn (NULL: drop). Call before loading. */
void host_set_log(host_log_fn fn, void *user, int max_level);

/* Pass a log line from elsewhere (a sandboxed worker) to the log sink. */
void host_log_forward(const char *who, int level, const char *msg);

/*
 * The broker: services a skill asks the host for — "secret" (request: the
 * name; response: the value) and "http" (request and response as in
 * venom.h). In-process they go to host_broker_serve; inside a sandboxed
 * worker the forwarder sends them over IPC to the supervisor, which calls
 * host_broker_serve with the pack's manifest: the permission checks are the
 * supervisor's, whatever the worker claims. The broker function does the
 * work (the vault, libcurl); without one the services are
 * VENOM_E_UNSUPPORTED. *response and *error are mem_alloc'd.
 */
typedef int32_t (*host_broker_fn)(void *user, const char *service, const struct manifest *m, const char *request,
                                  char **response, char **error);
void host_set_broker(host_broker_fn fn, void *user);
typedef int32_t (*host_forward_fn)(const char *service, const char *request, char **response, char **error);
void host_set_forward(host_forward_fn fn); /* worker only */
/* Check m's permissions for the request, then call the broker. */
int32_t host_broker_serve(const char *service, const struct manifest *m, const char *request, char **response,
                          char **error);
/* May pack m reach host (lower-case, no brackets) on port over the network?
 * Manifest entries: "api.example.org", "*.example.org" (subdomains only),
 * either with ":port" to allow only that port. */
bool host_allowed(const struct manifest *m, const char *host, unsigned port);

/* Plugin context lifecycle (loader). */
void host_ctx_init_plugin(venom_ctx *ctx, struct plugin *p, const char *who);
/* Call context lifecycle (registry). */
void host_ctx_init_call(venom_ctx *ctx, const char *who, const struct manifest *m,
                        const struct confine *confine, atomic_int *cancel, uint64_t result_limit);
void host_ctx_release(venom_ctx *ctx);
/* Take the error message (caller frees) or NULL. */
char *host_ctx_take_error(venom_ctx *ctx);
/* Take the result (new reference to the caller) or NULL. */
json_t *host_ctx_take_result(venom_ctx *ctx);

#endif
