/*
 * host_http.c — SDK 1.1 http_stream: provider HTTP through core/net.
 * (Placeholder until core/net lands.)
 */
#include "util/common.h"

#include "plugin/host.h"

int32_t host_http_stream(venom_ctx *ctx, const char *request_json, venom_http_event_fn on_event, void *user,
                         char **response_json)
{
    (void)ctx, (void)request_json, (void)on_event, (void)user;
    if (response_json)
        *response_json = NULL;
    return VENOM_E_UNSUPPORTED;
}
