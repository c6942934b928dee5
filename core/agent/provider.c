#include "util/common.h"

#include <stdbool.h>
#include <dirent.h>
#include <sys/stat.h>
#include <venom/venom.h>

#include "agent/provider.h"
#include "config/config.h"
#include "net/net.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "plugin/manifest.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/suggest.h"

struct provider {
    plugin *pl;
    manifest *m;
    const venom_provider_desc *desc;
    void *instance;
    json_t *entry;
    char *name, *plugin_name, *model;
    char *key;
    net_opts net;
};

const char *provider_name(const provider *p) { return p->name; }
const char *provider_plugin(const provider *p) { return p->plugin_name; }
const char *provider_model(const provider *p) { return p->model; }
const json_t *provider_entry(const provider *p) { return p->entry; }
const char *provider_key_value(const provider *p) { return p->key; }

extern char **environ;

static bool secret_name(const char *name, size_t len)
{
    static const char *const suffixes[] = {"_API_KEY", "_KEY", "_TOKEN", "_SECRET"};
    for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
        size_t sl = strlen(suffixes[i]);
        if (len >= sl && !memcmp(name + len - sl, suffixes[i], sl))
            return true;
    }
    return false;
}

size_t provider_redactions(const provider *p, const char **out, size_t max)
{
    size_t k = 0;
    if (p->key && k < max)
        out[k++] = p->key;
    for (char **e = environ; e && *e && k < max; e++) {
        const char *eq = strchr(*e, '=');
        if (eq && secret_name(*e, (size_t)(eq - *e)) && strlen(eq + 1) >= 8)
            out[k++] = eq + 1;
    }
    return k;
}

static void free_dirs(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mem_free(dirs[i]);
    mem_free(dirs);
}

/* The names of the provider packs installed, for messages: "a, b, c". */
static char *installed(char **dirs, size_t n, const char *want, char **best_out)
{
    const char *names[64];
    char *own[64];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *e;
        while (d && (e = readdir(d)) && k < ARRAY_SIZE(names)) {
            if (e->d_name[0] == '.')
                continue;
            bool dup = false;
            for (size_t j = 0; j < k; j++)
                dup |= !strcmp(names[j], e->d_name);
            if (!dup && (own[k] = mem_strdup(e->d_name)))
                names[k] = own[k], k++;
        }
        if (d)
            closedir(d);
    }
    /* sorted for stable messages */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1], names[j - 1] = t;
            char *o = own[j];
            own[j] = own[j - 1], own[j - 1] = o;
        }
    buf b = {0};
    bool ok = true;
    for (size_t i = 0; i < k && ok; i++)
        ok = buf_printf(&b, "%s%s", i ? ", " : "", names[i]) == 0;
    const char *best[1];
    *best_out = suggest_closest(want, names, k, best, 1) ? mem_strdup(best[0]) : NULL;
    for (size_t i = 0; i < k; i++)
        mem_free(own[i]);
    return buf_detach(&b);
}

static int find_pack(const config *c, const char *plugin_name, manifest **m, char **err)
{
    char **dirs = NULL;
    size_t n = 0;
    if (config_provider_dirs(c, &dirs, &n) < 0)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = -ENOENT;
    for (size_t i = 0; i < n && rc == -ENOENT; i++) {
        char *dir = mem_printf("%s/%s", dirs[i], plugin_name), *path = NULL;
        if (!dir) {
            rc = -ENOMEM;
            break;
        }
        char *e2 = NULL;
        rc = manifest_find(dir, &path, &e2);
        if (rc == 0) {
            rc = manifest_load(path, m, err);
            if (rc == 0 && !(*m)->library)
                rc = err_set(err, -EINVAL, "%s: a provider pack needs a \"library\"", path);
        }
        mem_free(e2);
        mem_free(path);
        mem_free(dir);
    }
    if (rc == -ENOENT) {
        char *best = NULL, *list = installed(dirs, n, plugin_name, &best);
        err_set(err, -ENOENT, "unknown provider '%s'%s%s%s (installed: %s); set 'provider:' in config.yaml or pass "
                "--provider", plugin_name, best ? " — did you mean '" : "", best ? best : "", best ? "'?" : "",
                list && *list ? list : "none");
        mem_free(best);
        mem_free(list);
    }
    free_dirs(dirs, n);
    return rc;
}

static unsigned opt_ms(const json_t *t, const char *key)
{
    json_t *v = json_object_get(t, key);
    return json_is_integer(v) ? (unsigned)json_integer_value(v) : 0;
}

int provider_open(const config *c, const char *name, const char *model, provider **out, char **err)
{
    *out = NULL;
    provider *p = mem_calloc(1, sizeof *p);
    if (!p)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = -ENOMEM;
    if (!(p->entry = config_provider_entry(c, name)))
        goto fail;
    if (model && *model && json_object_set_new(p->entry, "model", json_string(model)) < 0)
        goto fail;
    p->name = mem_strdup(name);
    p->plugin_name = mem_strdup(json_string_value(json_object_get(p->entry, "plugin")));
    if (!p->name || !p->plugin_name)
        goto fail;
    if ((rc = find_pack(c, p->plugin_name, &p->m, err)) < 0)
        goto fail_msg;
    rc = plugin_load(p->m->library, p->m->name, &p->pl, err);
    if (rc < 0) {
        rc = rc == -ENOMEM ? rc : -ELIBBAD;
        goto fail_msg;
    }
    for (size_t i = 0; i < p->pl->n_providers; i++)
        if (!strcmp(p->pl->providers[i].name, p->plugin_name))
            p->desc = &p->pl->providers[i];
    if (!p->desc) {
        rc = err_set(err, -ELIBBAD, "%s: the plugin registers no provider named '%s'", p->m->library,
                     p->plugin_name);
        goto fail_msg;
    }
    json_t *t = json_object_get(p->entry, "timeouts");
    p->net = (net_opts){.connect_ms = opt_ms(t, "connect_ms"),
                        .first_byte_ms = opt_ms(t, "first_byte_ms"),
                        .idle_ms = opt_ms(t, "idle_ms"),
                        .total_ms = opt_ms(t, "total_ms")};
    p->net.retries = (unsigned)json_integer_value(json_object_get(p->entry, "retries"));
    const char *kenv = json_string_value(json_object_get(p->entry, "api_key_env"));
    const char *kv = kenv && *kenv ? getenv(kenv) : NULL;
    if (kv && *kv && !(p->key = mem_strdup(kv)))
        goto fail;
    char *cfg = json_dumps(p->entry, JSON_COMPACT);
    if (!cfg)
        goto fail;
    const void *mark = loader_enter(p->m->name, p->m->library, "open");
    int32_t code = p->desc->open(&p->pl->ctx, cfg, p->desc->data, &p->instance);
    loader_leave(mark);
    free(cfg);
    if (code != VENOM_OK) {
        char *why = host_ctx_take_error(&p->pl->ctx);
        rc = err_set(err, code == VENOM_E_PERM ? -EPERM : -EINVAL, "provider '%s': %s", name,
                     why ? why : "open failed");
        mem_free(why);
        p->instance = NULL;
        goto fail_msg;
    }
    json_t *mv = json_object_get(p->entry, "model");
    if (!(p->model = mem_strdup(json_is_string(mv) ? json_string_value(mv) : "")))
        goto fail;
    *out = p;
    return 0;
fail:
    rc = err_set(err, -ENOMEM, "out of memory");
fail_msg:
    provider_close(p);
    return rc;
}

void provider_close(provider *p)
{
    if (!p)
        return;
    if (p->instance && p->desc->close)
        p->desc->close(p->instance);
    plugin_unload(p->pl);
    manifest_free(p->m);
    json_decref(p->entry);
    if (p->key)
        explicit_bzero(p->key, strlen(p->key));
    mem_free(p->key);
    mem_free(p->name);
    mem_free(p->plugin_name);
    mem_free(p->model);
    mem_free(p);
}

int32_t provider_chat(provider *p, const json_t *request, const provider_call_opts *o, json_t **response,
                      char **err)
{
    *response = NULL;
    json_t *rq = json_copy((json_t *)request);
    if (!rq) {
        err_set(err, -ENOMEM, "out of memory");
        return VENOM_E_NOMEM;
    }
    if (!json_object_get(rq, "model") && *p->model)
        json_object_set_new(rq, "model", json_string(p->model));
    char *text = json_dumps(rq, JSON_COMPACT);
    json_decref(rq);
    if (!text) {
        err_set(err, -ENOMEM, "out of memory");
        return VENOM_E_NOMEM;
    }
    venom_ctx ctx;
    host_ctx_init_call(&ctx, p->name, p->m, NULL, o ? o->cancel : NULL, 0);
    ctx.net = &p->net;
    ctx.stream = o ? o->stream : NULL;
    ctx.stream_user = o ? o->stream_user : NULL;
    const void *mark = loader_enter(p->m->name, p->m->library, "chat");
    int32_t code = p->desc->chat(&ctx, p->instance, text);
    loader_leave(mark);
    free(text);
    if (code == VENOM_OK) {
        *response = host_ctx_take_result(&ctx);
        if (!*response || !json_is_object(*response)) {
            json_decref(*response);
            *response = NULL;
            code = VENOM_E_INTERNAL;
            err_set(err, -EPROTO, "provider '%s' returned no response object", p->name);
        }
    } else {
        char *why = host_ctx_take_error(&ctx);
        err_set(err, -EIO, "%s", why ? why : "the provider call failed");
        mem_free(why);
    }
    host_ctx_release(&ctx);
    return code;
}

static double num(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0;
}

double provider_cost(const provider *p, const char *model, const json_t *usage, bool *priced)
{
    json_t *models = json_object_get(p->entry, "models");
    json_t *price = json_object_get(models, model && *model ? model : p->model);
    if (!price && model && *p->model)
        price = json_object_get(models, p->model); /* the server may report a dated variant */
    *priced = price != NULL;
    return provider_price_cost(price, usage);
}

double provider_price_cost(const json_t *price, const json_t *usage)
{
    if (!price || !usage)
        return 0;
    double in = num(price, "input_per_mtok"), out = num(price, "output_per_mtok");
    double cached = json_object_get(price, "cached_input_per_mtok") ? num(price, "cached_input_per_mtok") : in;
    double write = json_object_get(price, "cache_write_per_mtok") ? num(price, "cache_write_per_mtok") : in;
    return (num(usage, "input_tokens") * in + num(usage, "cached_input_tokens") * cached +
            num(usage, "cache_write_tokens") * write + num(usage, "output_tokens") * out) /
           1e6;
}
