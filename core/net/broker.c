/*
 * broker.c — net's JSON face: requests and responses as JSON text (shared by
 * the provider entry http_stream, core/plugin/host_http.c, and the skills'
 * brokered HTTP), and net_broker, the host_broker_fn that serves "http".
 */
#include "util/common.h"

#include <ctype.h>
#include <strings.h>

#include <curl/curl.h>
#include "net/curl_dl.h"
#include <jansson.h>
#include <sodium.h>
#include <venom/venom.h>

#include "net/net.h"
#include "plugin/host.h"
#include "util/err.h"
#include "util/jsonx.h"

#define BROKER_MAX_BODY ((size_t)16 << 20)
#define BROKER_TIMEOUT_MS 60000u

/* ------------------------------------------------------------ requests */

void net_jreq_release(net_jreq *j)
{
    if (!j)
        return;
    json_decref(j->doc);
    mem_free(j->headers);
    memset(j, 0, sizeof *j);
}

int net_jreq_parse(net_jreq *j, const char *json, const char *what, bool allow_stream, bool allow_timeout, char **err)
{
    memset(j, 0, sizeof *j);
    if (!json)
        return err_set(err, NET_E_INVAL, "%s: no request", what);
    json_error_t je;
    json_t *doc = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return err_set(err, NET_E_INVAL, "%s: the request is not valid JSON: %s at byte %d", what, je.text,
                       je.position);
    j->doc = doc;
    int rc = 0;
    if (!json_is_object(doc)) {
        rc = err_set(err, NET_E_INVAL, "%s: the request must be a JSON object, not %s", what, jsonx_kind(doc));
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        bool known = !strcmp(key, "method") || !strcmp(key, "url") || !strcmp(key, "headers") ||
                     !strcmp(key, "body") || (allow_stream && !strcmp(key, "stream")) ||
                     (allow_timeout && !strcmp(key, "timeout_ms"));
        if (!known) {
            rc = err_set(err, NET_E_INVAL, "%s: unknown key '%s' in the request (allowed: method, url, headers, body%s%s)",
                         what, jsonx_clipped(key).s, allow_stream ? ", stream" : "", allow_timeout ? ", timeout_ms" : "");
            goto fail;
        }
    }
    net_request *rq = &j->rq;
    json_t *url = json_object_get(doc, "url");
    if (!json_is_string(url)) {
        rc = err_set(err, NET_E_INVAL, "%s: \"url\" must be a string (an http:// or https:// URL), not %s", what,
                     url ? jsonx_kind(url) : "missing");
        goto fail;
    }
    rq->url = json_string_value(url);
    json_t *method = json_object_get(doc, "method");
    if (method) {
        const char *m = json_string_value(method);
        bool ok = m && *m && strlen(m) <= 16;
        for (const char *c = m; ok && *c; c++)
            ok = isupper((unsigned char)*c);
        if (!ok) {
            rc = err_set(err, NET_E_INVAL, "%s: \"method\" must be an upper-case HTTP method such as \"GET\" or \"POST\"",
                         what);
            goto fail;
        }
        rq->method = m;
    }
    json_t *body = json_object_get(doc, "body");
    if (body && !json_is_null(body)) {
        if (!json_is_string(body)) {
            rc = err_set(err, NET_E_INVAL, "%s: \"body\" must be a string (JSON text goes in as a string), not %s",
                         what, jsonx_kind(body));
            goto fail;
        }
        rq->body = json_string_value(body);
        rq->body_len = json_string_length(body);
    }
    if (!rq->method)
        rq->method = rq->body ? "POST" : "GET";
    json_t *hdrs = json_object_get(doc, "headers");
    if (hdrs && !json_is_null(hdrs)) {
        if (!json_is_object(hdrs)) {
            rc = err_set(err, NET_E_INVAL, "%s: \"headers\" must be an object of name: value strings, not %s", what,
                         jsonx_kind(hdrs));
            goto fail;
        }
        size_t n = json_object_size(hdrs), i = 0;
        if (n && !(j->headers = mem_calloc(n, sizeof *j->headers))) {
            rc = NET_E_NOMEM;
            goto fail;
        }
        json_object_foreach(hdrs, key, v) {
            if (!json_is_string(v)) {
                rc = err_set(err, NET_E_INVAL, "%s: header '%s' must be a string, not %s", what, jsonx_clipped(key).s,
                             jsonx_kind(v));
                goto fail;
            }
            j->headers[i].name = key;
            j->headers[i++].value = json_string_value(v);
        }
        rq->headers = j->headers;
        rq->n_headers = i;
    }
    json_t *stream = json_object_get(doc, "stream");
    if (stream && !json_is_null(stream)) {
        const char *s = json_string_value(stream);
        if (s && !strcmp(s, "sse"))
            rq->kind = NET_BODY_SSE;
        else if (s && !strcmp(s, "ndjson"))
            rq->kind = NET_BODY_NDJSON;
        else if (s && !strcmp(s, "none"))
            rq->kind = NET_BODY_WHOLE;
        else {
            rc = err_set(err, NET_E_INVAL, "%s: \"stream\" must be \"sse\", \"ndjson\" or \"none\"", what);
            goto fail;
        }
    }
    json_t *to = json_object_get(doc, "timeout_ms");
    if (to && !json_is_null(to)) {
        json_int_t t = json_integer_value(to);
        if (!json_is_integer(to) || t <= 0 || t > 3600000) {
            rc = err_set(err, NET_E_INVAL, "%s: \"timeout_ms\" must be an integer from 1 to 3600000", what);
            goto fail;
        }
        rq->opts.total_ms = (unsigned)t;
    }
    return 0;
fail:
    net_jreq_release(j);
    return rc;
}

/* ------------------------------------------------------------ responses */

char *net_response_json(const net_response *rs, bool with_body)
{
    json_t *o = json_object(), *h = json_object();
    char *out = NULL, *b64 = NULL;
    if (!o || !h || json_object_set_new(o, "status", json_integer(rs->status)) < 0)
        goto out;
    for (size_t i = 0; i < rs->n_headers; i++) {
        const char *name = rs->header_names[i], *val = rs->header_values[i];
        json_t *old = json_object_get(h, name);
        json_t *nv;
        if (old) {
            char *joined = mem_printf("%s, %s", json_string_value(old), val);
            nv = joined ? json_string(joined) : NULL;
            mem_free(joined);
        } else {
            nv = json_string(val);
        }
        if (!nv)
            nv = json_string("(not UTF-8)"); /* a header of raw bytes */
        if (json_object_set_new(h, name, nv) < 0)
            goto out;
    }
    if (json_object_set(o, "headers", h) < 0)
        goto out;
    if (with_body) {
        const char *b = rs->body ? rs->body : "";
        json_t *s = json_stringn(b, rs->body_len);
        if (s) {
            if (json_object_set_new(o, "body", s) < 0)
                goto out;
        } else { /* not UTF-8: base64 */
            size_t cap = sodium_base64_encoded_len(rs->body_len, sodium_base64_VARIANT_ORIGINAL);
            if (!(b64 = mem_alloc(cap)))
                goto out;
            sodium_bin2base64(b64, cap, (const unsigned char *)b, rs->body_len, sodium_base64_VARIANT_ORIGINAL);
            if (json_object_set_new(o, "body_base64", json_string(b64)) < 0)
                goto out;
        }
    }
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
    if (n == 0 || !(out = mem_alloc(n + 1)))
        goto out;
    if (json_dumpb(o, out, n, JSON_COMPACT) != n) {
        mem_free(out);
        out = NULL;
        goto out;
    }
    out[n] = '\0';
out:
    mem_free(b64);
    json_decref(h);
    json_decref(o);
    return out;
}

/* ------------------------------------------------------------ the broker */

static int32_t venom_code(int rc)
{
    switch (rc) {
    case NET_E_CONNECT:
    case NET_E_CUT: return VENOM_E_NET;
    case NET_E_TIMEOUT: return VENOM_E_TIMEOUT;
    case NET_E_CANCELLED: return VENOM_E_CANCELLED;
    case NET_E_TOOBIG: return VENOM_E_TOOBIG;
    case NET_E_NOMEM: return VENOM_E_NOMEM;
    case NET_E_INVAL: return VENOM_E_INVAL;
    default: return VENOM_E_FAILED;
    }
}

/* The URL's host and port as libcurl reads it, checked against m again. */
static int32_t recheck_host(const struct manifest *m, const char *url, char **error)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int32_t rc = VENOM_OK;
    if (!u)
        return VENOM_E_NOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        rc = VENOM_E_INVAL;
        err_set(error, rc, "http: '%.*s' is not a URL libcurl can read", (int)strcspn(url, "?#"), url);
        goto out;
    }
    size_t hl = strlen(host);
    const char *h = host;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* IPv6 literal: the allowlist has no brackets */
        host[hl - 1] = '\0';
        h = host + 1;
    }
    for (char *c = host; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    char *end;
    unsigned long p = strtoul(port, &end, 10);
    if (*end || p == 0 || p > 65535 || !host_allowed(m, h, (unsigned)p)) {
        rc = VENOM_E_PERM;
        err_set(error, rc, "http: host '%s' port %s is not in the pack's permissions.network.hosts", h, port);
    }
out:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

int32_t net_broker(void *user, const char *service, const struct manifest *m, const char *request, char **response,
                   char **error)
{
    (void)user;
    *response = NULL;
    *error = NULL;
    if (!service || strcmp(service, "http") != 0) {
        err_set(error, 0, "broker: the service '%s' is not served by the network broker (only \"http\")",
                service ? jsonx_clipped(service).s : "(none)");
        return VENOM_E_UNSUPPORTED;
    }
    net_jreq j;
    char *err = NULL;
    if (curl_dl_load(error) < 0)
        return VENOM_E_UNSUPPORTED;
    int rc = net_jreq_parse(&j, request, "http", false, true, &err);
    if (rc < 0) {
        *error = err;
        return venom_code(rc);
    }
    int32_t vrc = recheck_host(m, j.rq.url, error);
    if (vrc != VENOM_OK) {
        net_jreq_release(&j);
        return vrc;
    }
    unsigned total = j.rq.opts.total_ms ? j.rq.opts.total_ms : BROKER_TIMEOUT_MS;
    j.rq.kind = NET_BODY_WHOLE;
    j.rq.opts = net_opts_default(NULL);
    j.rq.opts.total_ms = total;
    j.rq.opts.max_body = BROKER_MAX_BODY;
    /* a repeated POST or PATCH could do its effect twice: only idempotent
     * methods are retried */
    if (strcmp(j.rq.method, "GET") && strcmp(j.rq.method, "HEAD") && strcmp(j.rq.method, "PUT") &&
        strcmp(j.rq.method, "DELETE") && strcmp(j.rq.method, "OPTIONS"))
        j.rq.opts.retries = 0;
    net_response rs;
    rc = net_perform(&j.rq, &rs, &err);
    if (rc == 0 || rc == NET_E_STATUS) { /* any HTTP status is an answer for the skill */
        *response = net_response_json(&rs, true);
        vrc = *response ? VENOM_OK : VENOM_E_NOMEM;
        mem_free(err);
        if (vrc != VENOM_OK)
            *error = mem_strdup("http: out of memory building the response");
    } else {
        if (rc == NET_E_TOOBIG) {
            mem_free(err);
            err = mem_printf("http: the response body is larger than the broker's limit of %zu MiB",
                             BROKER_MAX_BODY >> 20);
        }
        *error = err ? err : mem_strdup("http: the request failed");
        vrc = venom_code(rc);
    }
    net_response_free(&rs);
    net_jreq_release(&j);
    return vrc;
}
