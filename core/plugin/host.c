#include "util/common.h"

#include <ctype.h>
#include <fcntl.h>
#include <strings.h>

#include "plugin/host.h"
#include "plugin/loader.h"
#include "plugin/manifest.h"
#include "security/confine.h"
#include "util/err.h"
#include "util/schema.h"

#define HOST_CTX_MAGIC 0x58544356u /* "VCTX" */
#define HOST_DEFAULT_RESULT_LIMIT (16u << 20)

static host_log_fn log_fn;
static void *log_user;
static int log_max = VENOM_LOG_WARN;

void host_set_log(host_log_fn fn, void *user, int max_level)
{
    log_fn = fn;
    log_user = user;
    log_max = max_level;
}

void host_log_forward(const char *who, int level, const char *msg)
{
    if (log_fn && msg && level <= log_max)
        log_fn(log_user, who, level < 0 ? 0 : level, msg);
}

static bool ctx_ok(const venom_ctx *ctx) { return ctx && ctx->magic == HOST_CTX_MAGIC; }

static bool call_ok(const venom_ctx *ctx) { return ctx_ok(ctx) && ctx->kind == HOST_CTX_CALL; }

static void ctx_set_error(venom_ctx *ctx, const char *msg)
{
    char *copy = mem_strdup(msg ? msg : "");
    pthread_mutex_lock(&ctx->lock);
    mem_free(ctx->error);
    ctx->error = copy;
    pthread_mutex_unlock(&ctx->lock);
}

/* ------------------------------------------------------------ the table */

static void *h_alloc(size_t n) { return mem_alloc(n); }

static void *h_realloc(void *p, size_t n) { return mem_realloc(p, n); }

static void h_free(void *p) { mem_free(p); }

static void h_log(venom_ctx *ctx, int32_t level, const char *msg)
{
    if (!ctx_ok(ctx) || !msg || level > log_max || !log_fn)
        return;
    log_fn(log_user, ctx->who, level < 0 ? 0 : level, msg);
}

static int32_t h_set_error(venom_ctx *ctx, const char *msg)
{
    if (!ctx_ok(ctx))
        return VENOM_E_INVAL;
    ctx_set_error(ctx, msg);
    return VENOM_OK;
}

/* A registration error fails the plugin's load even if init ignores it. */
static int32_t reg_fail(venom_ctx *ctx, int32_t code, char *msg)
{
    plugin *p = ctx->plugin;
    if (p && !p->reg_error)
        p->reg_error = msg;
    else
        mem_free(msg);
    return code;
}

static int32_t reg_check(venom_ctx *ctx, const char *fn)
{
    if (!ctx_ok(ctx))
        return VENOM_E_INVAL;
    if (ctx->kind != HOST_CTX_PLUGIN || !atomic_load(&ctx->in_init)) {
        const plugin *p = ctx->plugin;
        char *msg = mem_printf("%s%s%s called outside init: plugins may register only while their init runs", p ? p->path : "",
                               p ? ": " : "", fn);
        if (msg && log_fn)
            log_fn(log_user, ctx->who, VENOM_LOG_ERROR, msg);
        if (ctx->kind == HOST_CTX_PLUGIN)
            return reg_fail(ctx, VENOM_E_STATE, msg);
        ctx_set_error(ctx, msg);
        mem_free(msg);
        return VENOM_E_STATE;
    }
    return VENOM_OK;
}

static int32_t code_of(int rc)
{
    switch (rc) {
    case -ENOMEM: return VENOM_E_NOMEM;
    case -EEXIST: return VENOM_E_EXISTS;
    case -EPERM: return VENOM_E_PERM;
    default: return VENOM_E_INVAL;
    }
}

static int32_t h_register_skill(venom_ctx *ctx, const venom_skill_desc *desc)
{
    int32_t rc = reg_check(ctx, "register_skill");
    if (rc)
        return rc;
    char *err = NULL;
    int r = plugin_accept_skill(ctx->plugin, desc, &err);
    return r < 0 ? reg_fail(ctx, code_of(r), err) : VENOM_OK;
}

static int32_t h_register_provider(venom_ctx *ctx, const venom_provider_desc *desc)
{
    int32_t rc = reg_check(ctx, "register_provider");
    if (rc)
        return rc;
    char *err = NULL;
    int r = plugin_accept_provider(ctx->plugin, desc, &err);
    return r < 0 ? reg_fail(ctx, code_of(r), err) : VENOM_OK;
}

static int32_t h_set_result(venom_ctx *ctx, const char *json, size_t len)
{
    if (!call_ok(ctx) || !json)
        return VENOM_E_INVAL;
    if (len == (size_t)-1)
        len = strlen(json);
    if (len > ctx->result_limit) {
        char *m = mem_printf("result of %zu bytes exceeds the limit of %" PRIu64 " bytes (limits.output_bytes)", len,
                             ctx->result_limit);
        ctx_set_error(ctx, m);
        mem_free(m);
        return VENOM_E_TOOBIG;
    }
    json_error_t je;
    json_t *v = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        char *m = mem_printf("set_result: not valid JSON: %s at byte %d", je.text, je.position);
        ctx_set_error(ctx, m);
        mem_free(m);
        return VENOM_E_INVAL;
    }
    pthread_mutex_lock(&ctx->lock);
    json_t *old = ctx->result;
    ctx->result = v;
    pthread_mutex_unlock(&ctx->lock);
    json_decref(old);
    return VENOM_OK;
}

static int32_t h_progress(venom_ctx *ctx, double fraction, const char *msg)
{
    if (!call_ok(ctx))
        return VENOM_E_INVAL;
    if (log_fn && VENOM_LOG_INFO <= log_max) {
        char line[512];
        if (fraction >= 0)
            snprintf(line, sizeof line, "progress %3.0f%% %s", fraction * 100.0, msg ? msg : "");
        else
            snprintf(line, sizeof line, "progress %s", msg ? msg : "");
        log_fn(log_user, ctx->who, VENOM_LOG_INFO, line);
    }
    return VENOM_OK;
}

static int32_t h_cancelled(venom_ctx *ctx)
{
    if (!call_ok(ctx))
        return 0;
    return ctx->cancel && atomic_load(ctx->cancel) ? 1 : 0;
}

static int32_t h_stream(venom_ctx *ctx, const char *delta_json, size_t len)
{
    if (!call_ok(ctx) || !delta_json)
        return VENOM_E_INVAL;
    if (ctx->cancel && atomic_load(ctx->cancel))
        return VENOM_E_CANCELLED;
    /* Skill calls have no stream consumer; provider calls of the agent do. */
    return ctx->stream ? ctx->stream(ctx->stream_user, delta_json, len) : VENOM_OK;
}

static int32_t h_json_validate(venom_ctx *ctx, const char *schema_json, const char *instance_json, char **errors)
{
    if (errors)
        *errors = NULL;
    if (!ctx_ok(ctx) || !schema_json || !instance_json)
        return VENOM_E_INVAL;
    int32_t rc = VENOM_OK;
    char *err = NULL;
    json_error_t je;
    json_t *schema = json_loads(schema_json, JSON_DECODE_ANY, &je);
    json_t *inst = schema ? json_loads(instance_json, JSON_DECODE_ANY, &je) : NULL;
    if (!schema || !inst) {
        err = mem_printf("%s is not valid JSON: %s", schema ? "instance" : "schema", je.text);
        rc = VENOM_E_INVAL;
    } else if (schema_check(schema, &err) < 0) {
        rc = VENOM_E_INVAL;
    } else {
        int v = schema_validate_all(schema, inst, "value", &err);
        rc = v == -ENOMEM ? VENOM_E_NOMEM : v < 0 ? VENOM_E_FAILED : VENOM_OK;
    }
    if (rc == VENOM_E_INVAL)
        ctx_set_error(ctx, err);
    if (rc != VENOM_OK && errors)
        *errors = err;
    else
        mem_free(err);
    json_decref(schema);
    json_decref(inst);
    return rc;
}

static int32_t h_fs_open(venom_ctx *ctx, const char *path, uint32_t flags, uint32_t mode)
{
    if (!call_ok(ctx) || !path)
        return VENOM_E_INVAL;
    if (!ctx->confine) {
        ctx_set_error(ctx, "fs_open: this call has no file-system access");
        return VENOM_E_PERM;
    }
    char *err = NULL;
    int fd = confine_open(ctx->confine, path, flags, mode, &err);
    if (fd >= 0)
        return fd;
    ctx_set_error(ctx, err);
    mem_free(err);
    switch (fd) {
    case -ENOENT: return VENOM_E_NOTFOUND;
    case -EACCES:
    case -EPERM:
    case -EXDEV:
    case -ELOOP: return VENOM_E_PERM;
    case -EEXIST: return VENOM_E_EXISTS;
    case -EINVAL:
    case -ENAMETOOLONG: return VENOM_E_INVAL;
    case -ENOMEM: return VENOM_E_NOMEM;
    default: return VENOM_E_IO;
    }
}

static bool declared(const manifest_strv *v, const char *name)
{
    for (size_t i = 0; v && i < v->n; i++)
        if (!strcmp(v->v[i], name))
            return true;
    return false;
}

static int32_t h_getenv(venom_ctx *ctx, const char *name, char **value)
{
    if (value)
        *value = NULL;
    if (!call_ok(ctx) || !name || !value)
        return VENOM_E_INVAL;
    if (!ctx->m || !declared(&ctx->m->perms.env, name)) {
        char *m = mem_printf("environment variable '%s' is not declared in the manifest's permissions.env", name);
        ctx_set_error(ctx, m);
        mem_free(m);
        return VENOM_E_PERM;
    }
    const char *v = getenv(name);
    if (!v)
        return VENOM_E_NOTFOUND;
    *value = mem_strdup(v);
    return *value ? VENOM_OK : VENOM_E_NOMEM;
}

/* ---- the broker: secrets and HTTP made by the host for the skill ---- */

static host_broker_fn broker_fn;
static void *broker_user;
static host_forward_fn forward_fn;

void host_set_broker(host_broker_fn fn, void *user)
{
    broker_fn = fn;
    broker_user = user;
}

void host_set_forward(host_forward_fn fn) { forward_fn = fn; }

/* The host part of an http(s) URL, lower-cased, without userinfo, port or
 * IPv6 brackets, and its port (explicit, else 80/443); false when the URL
 * is not http(s) or has no host or a bad port. */
static bool url_host(const char *url, char *host, size_t cap, unsigned *port)
{
    const char *p;
    if (!strncasecmp(url, "http://", 7)) {
        p = url + 7;
        *port = 80;
    } else if (!strncasecmp(url, "https://", 8)) {
        p = url + 8;
        *port = 443;
    } else {
        return false;
    }
    size_t auth = strcspn(p, "/?#");
    const char *at = memrchr(p, '@', auth); /* as curl: the last '@' ends the userinfo */
    if (at) {
        auth -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *end = p + auth, *rest;
    size_t n;
    if (*p == '[') {
        const char *close = memchr(p, ']', auth);
        if (!close)
            return false;
        p++;
        n = (size_t)(close - p);
        rest = close + 1;
    } else {
        const char *colon = memchr(p, ':', auth);
        n = (size_t)((colon ? colon : end) - p);
        rest = p + n;
    }
    if (rest < end) { /* ":port" */
        if (*rest != ':' || rest + 1 == end || end - rest > 6)
            return false;
        unsigned v = 0;
        for (const char *d = rest + 1; d < end; d++) {
            if (*d < '0' || *d > '9')
                return false;
            v = v * 10 + (unsigned)(*d - '0');
        }
        if (v == 0 || v > 65535)
            return false;
        *port = v;
    }
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[n] = '\0';
    return true;
}

bool host_allowed(const manifest *m, const char *host, unsigned port)
{
    if (!m || m->perms.network == MANIFEST_NET_NONE)
        return false;
    if (m->perms.network == MANIFEST_NET_FULL)
        return true;
    size_t hl = strlen(host);
    for (size_t i = 0; i < m->perms.net_hosts.n; i++) {
        const char *pat = m->perms.net_hosts.v[i];
        const char *colon = strrchr(pat, ':');
        size_t pl = colon ? (size_t)(colon - pat) : strlen(pat);
        if (colon && strtoul(colon + 1, NULL, 10) != port)
            continue; /* "host:port" allows that port only */
        if (pl > 2 && !strncmp(pat, "*.", 2)) { /* any subdomain, not the domain itself */
            size_t sl = pl - 1;                  /* ".example.org" */
            if (hl > sl && !strncasecmp(host + hl - sl, pat + 1, sl))
                return true;
        } else if (pl == hl && !strncasecmp(pat, host, hl)) {
            return true;
        }
    }
    return false;
}

int32_t host_broker_serve(const char *service, const manifest *m, const char *request, char **response, char **error)
{
    *response = NULL;
    *error = NULL;
    const char *who = m ? m->name : "the skill";
    if (!service || !request) {
        *error = mem_strdup("broker: no service or request");
        return VENOM_E_INVAL;
    }
    if (!strcmp(service, "secret")) {
        if (!m || !declared(&m->perms.secrets, request)) {
            *error = mem_printf("secret '%s' is not declared in %s's permissions.secrets", request, who);
            return VENOM_E_PERM;
        }
        if (!broker_fn) {
            *error = mem_strdup("no secrets vault is open in this process (the host set no broker); secrets cannot be "
                                "read here");
            return VENOM_E_UNSUPPORTED;
        }
    } else if (!strcmp(service, "http")) {
        json_error_t je;
        json_t *req = json_loads(request, 0, &je);
        const char *url = json_string_value(json_object_get(req, "url"));
        char host[256];
        unsigned port = 0;
        int32_t rc = VENOM_OK;
        if (!json_is_object(req) || !url) {
            *error = mem_strdup("http: the request must be a JSON object with a \"url\" string");
            rc = VENOM_E_INVAL;
        } else if (!url_host(url, host, sizeof host, &port)) {
            *error = mem_printf("http: '%.200s' is not an http:// or https:// URL with a host (and a valid port)", url);
            rc = VENOM_E_INVAL;
        } else if (!host_allowed(m, host, port)) {
            *error = mem_printf("http: host '%s' port %u is not in %s's permissions.network.hosts", host, port, who);
            rc = VENOM_E_PERM;
        }
        json_decref(req);
        if (rc != VENOM_OK)
            return rc;
        if (!broker_fn) {
            *error = mem_strdup("brokered HTTP is not available in this venom version");
            return VENOM_E_UNSUPPORTED;
        }
    } else {
        *error = mem_printf("broker: unknown service '%.40s'", service);
        return VENOM_E_INVAL;
    }
    return broker_fn(broker_user, service, m, request, response, error);
}

/* A service for the call: forwarded (in a worker) or served here. */
static int32_t broker_call(venom_ctx *ctx, const char *service, const char *request, char **response)
{
    char *error = NULL;
    int32_t rc = forward_fn ? forward_fn(service, request, response, &error)
                            : host_broker_serve(service, ctx->m, request, response, &error);
    if (rc != VENOM_OK) {
        mem_free(*response);
        *response = NULL;
        ctx_set_error(ctx, error ? error : "the broker refused");
    }
    mem_free(error);
    return rc;
}

static int32_t h_secret(venom_ctx *ctx, const char *name, char **value)
{
    if (value)
        *value = NULL;
    if (!call_ok(ctx) || !name || !value)
        return VENOM_E_INVAL;
    if (!ctx->m || !declared(&ctx->m->perms.secrets, name)) {
        char *m = mem_printf("secret '%s' is not declared in the manifest's permissions.secrets", name);
        ctx_set_error(ctx, m);
        mem_free(m);
        return VENOM_E_PERM;
    }
    return broker_call(ctx, "secret", name, value);
}

static int32_t h_http(venom_ctx *ctx, const char *request_json, char **response_json)
{
    if (response_json)
        *response_json = NULL;
    if (!call_ok(ctx) || !request_json || !response_json)
        return VENOM_E_INVAL;
    return broker_call(ctx, "http", request_json, response_json);
}

static const venom_host_api table = {
    .struct_size = sizeof(venom_host_api),
    .abi_major = VENOM_ABI_MAJOR,
    .abi_minor = VENOM_ABI_MINOR,
    .alloc = h_alloc,
    .realloc = h_realloc,
    .free = h_free,
    .log = h_log,
    .set_error = h_set_error,
    .register_skill = h_register_skill,
    .register_provider = h_register_provider,
    .set_result = h_set_result,
    .progress = h_progress,
    .cancelled = h_cancelled,
    .stream = h_stream,
    .json_validate = h_json_validate,
    .fs_open = h_fs_open,
    .secret = h_secret,
    .getenv = h_getenv,
    .http = h_http,
    .http_stream = host_http_stream,
};

const venom_host_api *host_api(void) { return &table; }

/* ------------------------------------------------------------ contexts */

void host_ctx_init_plugin(venom_ctx *ctx, plugin *p, const char *who)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->magic = HOST_CTX_MAGIC;
    ctx->kind = HOST_CTX_PLUGIN;
    ctx->who = who;
    ctx->plugin = p;
    atomic_init(&ctx->in_init, false);
    pthread_mutex_init(&ctx->lock, NULL);
}

void host_ctx_init_call(venom_ctx *ctx, const char *who, const manifest *m, const confine *c, atomic_int *cancel,
                        uint64_t result_limit)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->magic = HOST_CTX_MAGIC;
    ctx->kind = HOST_CTX_CALL;
    ctx->who = who;
    ctx->m = m;
    ctx->confine = c;
    ctx->cancel = cancel;
    ctx->result_limit = result_limit ? result_limit : HOST_DEFAULT_RESULT_LIMIT;
    atomic_init(&ctx->in_init, false);
    pthread_mutex_init(&ctx->lock, NULL);
}

void host_ctx_release(venom_ctx *ctx)
{
    if (!ctx || ctx->magic != HOST_CTX_MAGIC)
        return;
    ctx->magic = 0;
    mem_free(ctx->error);
    json_decref(ctx->result);
    pthread_mutex_destroy(&ctx->lock);
    memset(ctx, 0, sizeof *ctx);
}

char *host_ctx_take_error(venom_ctx *ctx)
{
    pthread_mutex_lock(&ctx->lock);
    char *e = ctx->error;
    ctx->error = NULL;
    pthread_mutex_unlock(&ctx->lock);
    return e;
}

json_t *host_ctx_take_result(venom_ctx *ctx)
{
    json_t *r = ctx->result;
    ctx->result = NULL;
    return r;
}
