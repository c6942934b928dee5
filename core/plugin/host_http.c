/*
 * host_http.c — SDK 1.1 http_stream: a provider's HTTP request made by
 * core/net with the call's net options (ctx->net, NULL = defaults) and its
 * cancellation flag; each SSE event or NDJSON line goes to the provider's
 * on_event, the final status and headers (and a "none" body) come back as
 * JSON from the plugin allocator (mem_alloc, what host->alloc hands out).
 */
#include "util/common.h"

#include "net/net.h"
#include "plugin/host.h"

typedef struct relay {
    venom_http_event_fn fn;
    void *user;
} relay;

static int relay_event(void *user, const char *event, const char *data, size_t len)
{
    const relay *r = user;
    return r->fn(r->user, event, data, len);
}

static void set_error(venom_ctx *ctx, const char *msg) { (void)host_api()->set_error(ctx, msg); }

int32_t host_http_stream(venom_ctx *ctx, const char *request_json, venom_http_event_fn on_event, void *user,
                         char **response_json)
{
    if (response_json)
        *response_json = NULL;
    if (!ctx || ctx->kind != HOST_CTX_CALL)
        return VENOM_E_INVAL;
    char *err = NULL;
    net_jreq j;
    int rc = net_jreq_parse(&j, request_json, "http_stream", true, false, &err);
    if (rc < 0) {
        set_error(ctx, err ? err : "http_stream: out of memory");
        mem_free(err);
        return rc == NET_E_NOMEM ? VENOM_E_NOMEM : VENOM_E_INVAL;
    }
    if (j.rq.kind != NET_BODY_WHOLE && !on_event) {
        set_error(ctx, "http_stream: a \"stream\" of \"sse\" or \"ndjson\" needs an on_event callback");
        net_jreq_release(&j);
        return VENOM_E_INVAL;
    }
    relay r = {.fn = on_event, .user = user};
    j.rq.opts = ctx->net ? *ctx->net : net_opts_default(NULL);
    j.rq.on_event = on_event ? relay_event : NULL;
    j.rq.user = &r;
    j.rq.cancel = ctx->cancel;

    net_response rs;
    rc = net_perform(&j.rq, &rs, &err);
    int32_t code;
    switch (rc) {
    case 0: code = VENOM_OK; break;
    case NET_E_STATUS: code = VENOM_E_FAILED; break;
    case NET_E_CONNECT:
    case NET_E_CUT: code = VENOM_E_NET; break;
    case NET_E_TIMEOUT: code = VENOM_E_TIMEOUT; break;
    case NET_E_CANCELLED: code = VENOM_E_CANCELLED; break;
    case NET_E_CALLBACK: code = rs.callback_rc < 0 ? rs.callback_rc : VENOM_E_FAILED; break;
    case NET_E_TOOBIG: code = VENOM_E_TOOBIG; break;
    case NET_E_NOMEM: code = VENOM_E_NOMEM; break;
    default: code = VENOM_E_INVAL; break;
    }
    /* the consumer's own stop keeps the consumer's message */
    if (code != VENOM_OK && rc != NET_E_CALLBACK)
        set_error(ctx, err ? err : "http_stream: the request failed");
    if (response_json && rs.status != 0 && (rc == 0 || rc == NET_E_STATUS)) {
        *response_json = net_response_json(&rs, j.rq.kind == NET_BODY_WHOLE || rc == NET_E_STATUS);
        if (!*response_json && code == VENOM_OK) {
            set_error(ctx, "http_stream: out of memory building the response");
            code = VENOM_E_NOMEM;
        }
    }
    mem_free(err);
    net_response_free(&rs);
    net_jreq_release(&j);
    return code;
}
