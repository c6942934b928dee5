/*
 * provider_host.c — see provider_host.h.
 */
#include "provider_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int32_t pu_fail(const venom_host_api *host, venom_ctx *call, int32_t code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    host->set_error(call, msg);
    return code;
}

int32_t pu_set_result(const venom_host_api *host, venom_ctx *call, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!text)
        return pu_fail(host, call, VENOM_E_NOMEM, "out of memory building the result");
    int32_t rc = host->set_result(call, text, strlen(text));
    free(text);
    return rc;
}

/* The state of one http_stream call. */
typedef struct run {
    const venom_host_api *host;
    venom_ctx *call;
    const pu_stream_ops *ops;
    void *st;
    bool forward;
    char *err;      /* the wire's error, when feed failed */
    int32_t code;   /* its code */
} run;

static int32_t send_deltas(run *r, json_t *deltas)
{
    size_t i;
    json_t *d;
    json_array_foreach(deltas, i, d)
    {
        if (!r->forward)
            break;
        char *text = json_dumps(d, JSON_COMPACT);
        if (!text)
            return VENOM_E_NOMEM;
        int32_t rc = r->host->stream(r->call, text, strlen(text));
        free(text);
        if (rc == VENOM_E_CANCELLED)
            return rc;
    }
    return VENOM_OK;
}

static int32_t on_event(void *user, const char *event, const char *data, size_t len)
{
    run *r = user;
    json_t *deltas = json_array();
    if (!deltas)
        return VENOM_E_NOMEM;
    int rc = r->ops->feed(r->st, event ? event : "", data ? data : "", data ? len : 0, deltas, &r->err);
    if (rc != VENOM_OK) {
        r->code = rc;
        if (!r->err)
            r->err = strdup("the provider's stream could not be read");
    } else {
        rc = send_deltas(r, deltas);
    }
    json_decref(deltas);
    return rc;
}

/* The provider's reader of error bodies (pu_provider.error_message), set at
 * registration: each plugin has its own copy of this file. */
static char *(*ERROR_MESSAGE)(const char *body, size_t len);

/* The message of a non-2xx reply, with a hint by status. */
static int32_t http_failed(const venom_host_api *host, venom_ctx *call, const pu_config *cfg, const char *url,
                           const char *response_json)
{
    json_t *resp = response_json ? json_loads(response_json, 0, NULL) : NULL;
    int64_t status = 0;
    if (!resp || !pu_int(resp, "status", &status)) {
        json_decref(resp);
        return VENOM_E_FAILED; /* the host's message stands */
    }
    const char *body = pu_str(resp, "body", "");
    char *m = ERROR_MESSAGE ? ERROR_MESSAGE(body, strlen(body)) : pu_error_message(body, strlen(body));
    const char *hint = "";
    char hbuf[256];
    if (status == 401 || status == 403) {
        if (cfg->key_env && *cfg->key_env)
            snprintf(hbuf, sizeof hbuf, " (check the key in %s, providers.%s.api_key_env)", cfg->key_env,
                     cfg->name);
        else
            snprintf(hbuf, sizeof hbuf, " (the server wants a key: set providers.%s.api_key_env)", cfg->name);
        hint = hbuf;
    } else if (status == 404) {
        snprintf(hbuf, sizeof hbuf, " (check providers.%s.base_url and the model name)", cfg->name);
        hint = hbuf;
    }
    pu_fail(host, call, VENOM_E_FAILED, "%s: HTTP %lld from %s: %s%s", cfg->name, (long long)status, url,
            m ? m : "(no message)", hint);
    free(m);
    json_decref(resp);
    return VENOM_E_FAILED;
}

/* Call http_stream with http_req; *response_json from host->alloc. */
static int32_t do_http(const venom_host_api *host, venom_ctx *call, const pu_config *cfg, const json_t *http_req,
                       run *r, char **response_json)
{
    *response_json = NULL;
    if (!VENOM_HOST_HAS(host, http_stream))
        return pu_fail(host, call, VENOM_E_UNSUPPORTED,
                       "the %s provider needs a host with http_stream (venom ABI 1.1): upgrade venom", cfg->name);
    char *req = json_dumps(http_req, JSON_COMPACT);
    if (!req)
        return pu_fail(host, call, VENOM_E_NOMEM, "out of memory building the request");
    int32_t rc = host->http_stream(call, req, on_event, r, response_json);
    free(req);
    if (rc == VENOM_OK)
        return rc;
    if (r->err) {
        pu_fail(host, call, r->code, "%s: %s", cfg->name, r->err);
        return r->code;
    }
    if (rc == VENOM_E_FAILED)
        return http_failed(host, call, cfg, pu_str(http_req, "url", ""), *response_json);
    return rc; /* connection error, timeout, cancellation: the host said what */
}

static void free_response(const venom_host_api *host, char **response_json)
{
    if (*response_json)
        host->free(*response_json);
    *response_json = NULL;
}

/* The body of a "none" reply; borrowed from resp. */
static const char *reply_body(const json_t *resp)
{
    return pu_str(resp, "body", "");
}

int32_t pu_run_chat(const venom_host_api *host, venom_ctx *call, const pu_config *cfg, const json_t *http_req,
                    const pu_stream_ops *ops, void *st, bool forward)
{
    run r = {.host = host, .call = call, .ops = ops, .st = st, .forward = forward};
    char *response_json = NULL, *err = NULL;
    json_t *resp = NULL, *out = NULL;
    bool streamed = strcmp(pu_str(http_req, "stream", "none"), "none") != 0;
    int32_t rc = do_http(host, call, cfg, http_req, &r, &response_json);
    if (rc != VENOM_OK)
        goto out;
    if (streamed) {
        rc = ops->finish(st, &out, &err);
    } else {
        resp = response_json ? json_loads(response_json, 0, NULL) : NULL;
        const char *body = reply_body(resp);
        rc = ops->body(st, body, strlen(body), &out, &err);
        if (rc == VENOM_OK && forward) {
            const char *text = pu_str(json_object_get(out, "message"), "content", "");
            json_t *deltas = json_array();
            if (*text && deltas && !json_array_append_new(deltas, pu_delta_text(text, strlen(text))))
                rc = send_deltas(&r, deltas);
            json_decref(deltas);
        }
    }
    if (rc != VENOM_OK) {
        if (err)
            pu_fail(host, call, rc, "%s: %s", cfg->name, err);
        else if (rc == VENOM_E_NOMEM)
            pu_fail(host, call, rc, "%s: out of memory", cfg->name);
        goto out;
    }
    rc = pu_set_result(host, call, out);
    out = NULL;
out:
    json_decref(out);
    json_decref(resp);
    free(err);
    free(r.err);
    free_response(host, &response_json);
    return rc;
}

static int json_feed_unused(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    (void)st, (void)event, (void)data, (void)len, (void)deltas;
    return pu_err(err, VENOM_E_NET, "unexpected stream event in a plain request");
}

int32_t pu_run_json(const venom_host_api *host, venom_ctx *call, const pu_config *cfg, const json_t *http_req,
                    json_t **body)
{
    static const pu_stream_ops ops = {.feed = json_feed_unused};
    run r = {.host = host, .call = call, .ops = &ops};
    char *response_json = NULL;
    json_t *resp = NULL;
    *body = NULL;
    int32_t rc = do_http(host, call, cfg, http_req, &r, &response_json);
    if (rc != VENOM_OK)
        goto out;
    resp = response_json ? json_loads(response_json, 0, NULL) : NULL;
    const char *text = reply_body(resp);
    json_error_t e;
    *body = json_loads(text, 0, &e);
    if (!*body) {
        rc = pu_fail(host, call, VENOM_E_NET, "%s: the reply from %s is not JSON (%s at %d)", cfg->name,
                     pu_str(http_req, "url", ""), e.text, e.position);
        goto out;
    }
out:
    json_decref(resp);
    free(r.err);
    free_response(host, &response_json);
    return rc;
}

/* ------------------------------------------------------------ the plugin shell */

/* The host, set by pu_provider_register (each plugin has its own copy of
 * this file, so this is that plugin's host). */
static const venom_host_api *HOST;

/* One opened instance: its provider and its configuration (the provider's
 * own struct, whose first member is a pu_config). */
typedef struct pu_instance {
    const pu_provider *prov;
    pu_config *cfg;
} pu_instance;

int32_t pu_provider_register(const venom_host_api *host, venom_ctx *ctx, const venom_provider_desc *desc)
{
    if (!VENOM_HOST_HAS(host, http_stream) || !VENOM_HOST_HAS(host, register_provider)) {
        if (VENOM_HOST_HAS(host, set_error)) {
            char msg[256];
            snprintf(msg, sizeof msg, "the %s provider needs a host with http_stream (venom ABI 1.1): upgrade venom",
                     desc->name);
            host->set_error(ctx, msg);
        }
        return VENOM_E_VERSION;
    }
    HOST = host;
    const pu_provider *p = desc->data;
    ERROR_MESSAGE = p ? p->error_message : NULL;
    return host->register_provider(ctx, desc);
}

static void config_free(const pu_provider *p, pu_config *cfg)
{
    if (!cfg)
        return;
    if (p->config_release)
        p->config_release(cfg);
    else
        pu_config_release(cfg);
    free(cfg);
}

int32_t pu_provider_open(venom_ctx *ctx, const char *config_json, void *data, void **instance)
{
    const pu_provider *p = data;
    *instance = NULL;
    char *err = NULL;
    pu_instance *in = calloc(1, sizeof *in);
    pu_config *cfg = calloc(1, p->config_size ? p->config_size : sizeof *cfg);
    if (!in || !cfg) {
        free(in);
        free(cfg);
        return pu_fail(HOST, ctx, VENOM_E_NOMEM, "%s: out of memory", p->name);
    }
    int rc = p->config_parse ? p->config_parse(config_json, cfg, &err)
                             : pu_config_parse(config_json, p->name, p->default_base, p->default_key_env, cfg, &err);
    if (rc != VENOM_OK) {
        if (err)
            pu_fail(HOST, ctx, rc, "%s", err); /* the message names the provider */
        else
            pu_fail(HOST, ctx, rc, "%s: cannot read the provider configuration", p->name);
        free(err);
        free(cfg);
        free(in);
        return rc;
    }
    in->prov = p;
    in->cfg = cfg;
    *instance = in;
    return VENOM_OK;
}

void pu_provider_close(void *instance)
{
    pu_instance *in = instance;
    if (!in)
        return;
    config_free(in->prov, in->cfg);
    free(in);
}

/* Parse a request text into an object; VENOM_E_INVAL with the error set.
 * what: "chat", "embed". */
static int32_t parse_request(venom_ctx *call, const pu_config *cfg, const char *what, const char *text,
                             json_t **out)
{
    json_error_t e;
    *out = json_loads(text ? text : "", 0, &e);
    if (json_is_object(*out))
        return VENOM_OK;
    int32_t rc = pu_fail(HOST, call, VENOM_E_INVAL, "%s: the %s request is not a JSON object (%s)", cfg->name,
                         what, *out ? "wrong type" : e.text);
    json_decref(*out);
    *out = NULL;
    return rc;
}

/* The wire's error (or fallback) as the call's error; returns rc. */
static int32_t wire_failed(venom_ctx *call, const pu_config *cfg, int32_t rc, const char *err, const char *fallback)
{
    return pu_fail(HOST, call, rc, "%s: %s", cfg->name, err ? err : fallback);
}

int32_t pu_provider_chat(venom_ctx *call, void *instance, const char *request_json)
{
    const pu_instance *in = instance;
    const pu_provider *p = in->prov;
    const pu_config *cfg = in->cfg;
    json_t *req = NULL, *http = NULL;
    char *err = NULL;
    void *st = NULL;
    bool inited = false;
    int32_t rc = parse_request(call, cfg, "chat", request_json, &req);
    if (rc != VENOM_OK)
        goto out;
    if ((rc = p->chat_request(cfg, req, &http, &err)) != VENOM_OK) {
        wire_failed(call, cfg, rc, err, "out of memory building the request");
        goto out;
    }
    /* the model name as sent, until the server names it */
    const char *model = pu_str(req, "model", "");
    if (!(st = calloc(1, p->stream_size)))
        rc = VENOM_E_NOMEM;
    else {
        inited = true;
        rc = p->stream_init(st, *model ? model : cfg->model);
    }
    if (rc != VENOM_OK) {
        pu_fail(HOST, call, rc, "%s: out of memory", cfg->name);
        goto out;
    }
    bool forward = pu_bool(req, "stream", false) && VENOM_HOST_HAS(HOST, stream);
    rc = pu_run_chat(HOST, call, cfg, http, &p->ops, st, forward);
out:
    if (inited)
        p->stream_release(st);
    free(st);
    free(err);
    json_decref(http);
    json_decref(req);
    return rc;
}

int32_t pu_provider_embed(venom_ctx *call, void *instance, const char *request_json)
{
    const pu_instance *in = instance;
    const pu_provider *p = in->prov;
    const pu_config *cfg = in->cfg;
    json_t *req = NULL, *http = NULL, *body = NULL, *out = NULL;
    char *err = NULL, *model = NULL;
    size_t n = 0;
    if (!p->embed_request && !p->embed_request_n)
        return pu_fail(HOST, call, VENOM_E_UNSUPPORTED, "%s: this provider has no embeddings", cfg->name);
    int32_t rc = parse_request(call, cfg, "embed", request_json, &req);
    if (rc != VENOM_OK)
        goto out;
    rc = p->embed_request_n ? p->embed_request_n(cfg, req, &http, &model, &n, &err)
                            : p->embed_request(cfg, req, &http, &err);
    if (rc != VENOM_OK) {
        wire_failed(call, cfg, rc, err, "out of memory");
        goto out;
    }
    if ((rc = pu_run_json(HOST, call, cfg, http, &body)) != VENOM_OK)
        goto out;
    rc = p->embed_result_n ? p->embed_result_n(body, model, n, &out, &err) : p->embed_result(body, &out, &err);
    if (rc != VENOM_OK) {
        wire_failed(call, cfg, rc, err, "out of memory");
        goto out;
    }
    rc = pu_set_result(HOST, call, out);
out:
    free(model);
    free(err);
    json_decref(body);
    json_decref(http);
    json_decref(req);
    return rc;
}

/* The paged model list: PU_MAX_MODEL_PAGES pages at the most. */
static int32_t list_model_pages(venom_ctx *call, const pu_provider *p, const pu_config *cfg)
{
    json_t *models = json_array(), *http = NULL, *page = NULL;
    char *token = NULL, *err = NULL;
    int32_t rc = models ? VENOM_OK : VENOM_E_NOMEM;
    for (int n = 0; rc == VENOM_OK && n < PU_MAX_MODEL_PAGES; n++) {
        char *next = NULL;
        if ((rc = p->models_page_request(cfg, token, &http, &err)) != VENOM_OK)
            break;
        if ((rc = pu_run_json(HOST, call, cfg, http, &page)) != VENOM_OK)
            goto out; /* the runner set the error */
        rc = p->models_page(page, models, &next, &err);
        json_decref(page);
        json_decref(http);
        page = http = NULL;
        free(token);
        token = next;
        if (!token)
            break;
    }
    if (rc != VENOM_OK) {
        wire_failed(call, cfg, rc, err, "out of memory");
        goto out;
    }
    rc = pu_set_result(HOST, call, json_pack("{s:O}", "models", models));
out:
    free(token);
    free(err);
    json_decref(page);
    json_decref(http);
    json_decref(models);
    return rc;
}

int32_t pu_provider_list_models(venom_ctx *call, void *instance)
{
    const pu_instance *in = instance;
    const pu_provider *p = in->prov;
    const pu_config *cfg = in->cfg;
    if (p->models_page_request)
        return list_model_pages(call, p, cfg);
    if (!p->models_request)
        return pu_fail(HOST, call, VENOM_E_UNSUPPORTED, "%s: this provider has no model list", cfg->name);
    json_t *http = NULL, *body = NULL, *out = NULL;
    char *err = NULL;
    int32_t rc = p->models_request(cfg, &http, &err);
    if (rc != VENOM_OK) {
        wire_failed(call, cfg, rc, err, "out of memory");
        goto out;
    }
    if ((rc = pu_run_json(HOST, call, cfg, http, &body)) != VENOM_OK)
        goto out;
    if ((rc = p->models_result(body, &out, &err)) != VENOM_OK) {
        wire_failed(call, cfg, rc, err, "out of memory");
        goto out;
    }
    rc = pu_set_result(HOST, call, out);
out:
    free(err);
    json_decref(body);
    json_decref(http);
    return rc;
}
