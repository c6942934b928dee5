#include "util/common.h"

#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <venom/venom.h>

#include "config/config.h"
#include "pack/pack.h"
#include "util/doc.h"
#include "util/err.h"
#include "util/suggest.h"

static const char *const known_keys[] = {"agent",      "agents",  "budget",    "color",       "log_level",
                                         "model",      "models",  "planner",   "privacy",     "provider",    "providers",
                                         "sandbox",    "skill_paths", "trust", "trusted_keys", "workdir"};
static const char *const sandbox_keys[] = {"idle_ms", "pool", "reuse"};
static const char *const agent_keys[] = {"max_cost", "max_steps", "system", "timeout"};
static const char *const provider_keys[] = {"api_key_env", "base_url", "headers", "model", "models", "options",
                                            "plugin", "retries", "stream", "timeouts"};
static const char *const timeout_keys[] = {"connect_ms", "first_byte_ms", "idle_ms", "total_ms"};
static const char *const model_keys[] = {"cache_write_per_mtok", "cached_input_per_mtok", "capabilities", "context",
                                         "input_per_mtok", "latency_ms", "locality", "model", "output_per_mtok",
                                         "provider", "quality"};
static const char *const capability_names[] = {"embeddings", "json", "tools", "vision"};
static const char *const budget_keys[] = {"agents", "day", "run"};
static const char *const planner_keys[] = {"mode", "repairs", "threshold"};
static const char *const price_keys[] = {"cache_write_per_mtok", "cached_input_per_mtok", "currency",
                                         "input_per_mtok", "output_per_mtok"};

int config_log_level(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; name && i < ARRAY_SIZE(names); i++)
        if (!strcmp(name, names[i]))
            return (int)i;
    return -1;
}

static int parse_color(const char *s)
{
    if (!strcmp(s, "auto"))
        return CONFIG_COLOR_AUTO;
    if (!strcmp(s, "always"))
        return CONFIG_COLOR_ALWAYS;
    if (!strcmp(s, "never"))
        return CONFIG_COLOR_NEVER;
    return -1;
}

static int set_str(char **dst, const char *v)
{
    char *c = mem_strdup(v);
    if (!c)
        return -ENOMEM;
    mem_free(*dst);
    *dst = c;
    return 0;
}

static int default_home(char **out)
{
    const char *h = getenv("HOME");
    if (!h || !*h) {
        struct passwd *pw = getpwuid(getuid());
        h = pw ? pw->pw_dir : "/";
    }
    *out = mem_printf("%s/.venom", h);
    return *out ? 0 : -ENOMEM;
}

/* <exe dir>/../lib/venom/<sub>: works in the build tree and once installed. */
static int default_system_dir(const char *sub, char **out)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        *out = mem_strdup("");
        return *out ? 0 : -ENOMEM;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0'; /* bin dir */
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0'; /* prefix */
    *out = mem_printf("%s/%s/%s", exe, VENOM_PLUGIN_RELDIR, sub);
    return *out ? 0 : -ENOMEM;
}

/* An unknown key: in the top level (section NULL) or in a section. */
static int key_error(const doc *d, const char *section, const char *key, const char *const *known, size_t n_known,
                     char **err)
{
    char ptr[300], name[300], allowed[300] = "";
    snprintf(ptr, sizeof ptr, "%s%s/%s", section ? "/" : "", section ? section : "", key);
    snprintf(name, sizeof name, "%s%s%s", section ? section : "", section ? "." : "", key);
    for (char *q = name; *q; q++)
        if (*q == '/')
            *q = '.';
    for (size_t i = 0; i < n_known; i++)
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", i ? ", " : "", known[i]);
    const char *best[1];
    size_t n = suggest_closest(key, known, n_known, best, 1);
    return err_set(err, -EINVAL, "%s:%d: unknown key '%s' (allowed: %s)%s%s%s", doc_file(d), doc_line(d, ptr), name,
                   allowed, n ? "; did you mean '" : "", n ? best[0] : "", n ? "'?" : "");
}

static int type_error(const doc *d, const char *key, const char *expected, char **err)
{
    char ptr[300];
    snprintf(ptr, sizeof ptr, "/%s", key);
    return err_set(err, -EINVAL, "%s:%d: '%s' must be %s", doc_file(d), doc_line(d, ptr), key, expected);
}

static int str_list(const doc *d, const char *key, json_t *v, const char *what, char ***out, size_t *n, char **err);

/* An integer lo..hi at /sandbox/<key>. */
static int sandbox_int(const doc *d, const char *key, json_t *v, long long lo, long long hi, long long *out, char **err)
{
    char ptr[300];
    snprintf(ptr, sizeof ptr, "/sandbox/%s", key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return err_set(err, -EINVAL, "%s:%d: 'sandbox.%s' must be an integer from %lld to %lld", doc_file(d),
                       doc_line(d, ptr), key, lo, hi);
    *out = json_integer_value(v);
    return 0;
}

static int apply_sandbox(config *c, const doc *d, json_t *v, char **err)
{
    if (!json_is_object(v))
        return type_error(d, "sandbox", "a mapping (pool, idle_ms, reuse)", err);
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        long long n = 0;
        int rc;
        if (!strcmp(key, "pool")) {
            if ((rc = sandbox_int(d, key, e, 0, 64, &n, err)) < 0)
                return rc;
            c->sandbox_pool = (size_t)n;
        } else if (!strcmp(key, "idle_ms")) {
            if ((rc = sandbox_int(d, key, e, 0, 86400000, &n, err)) < 0)
                return rc;
            c->sandbox_idle_ms = (unsigned)n;
        } else if (!strcmp(key, "reuse")) {
            if ((rc = str_list(d, "sandbox/reuse", e, "a list of pack names", &c->sandbox_reuse, &c->n_sandbox_reuse,
                               err)) < 0)
                return rc;
        } else {
            return key_error(d, "sandbox", key, sandbox_keys, ARRAY_SIZE(sandbox_keys), err);
        }
    }
    return 0;
}

static int str_list(const doc *d, const char *key, json_t *v, const char *what, char ***out, size_t *n, char **err)
{
    if (!json_is_array(v))
        return type_error(d, key, what, err);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return type_error(d, key, what, err);
        char **nv = mem_realloc(*out, (*n + 1) * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        *out = nv;
        nv[*n] = mem_strdup(json_string_value(e));
        if (!nv[*n])
            return -ENOMEM;
        (*n)++;
    }
    return 0;
}

/* A value at JSON pointer `ptr` (for the line) named `name` is not `what`. */
static int at_error(const doc *d, const char *ptr, const char *name, const char *what, char **err)
{
    return err_set(err, -EINVAL, "%s:%d: '%s' must be %s", doc_file(d), doc_line(d, ptr), name, what);
}

static int apply_agent(config *c, const doc *d, json_t *v, char **err)
{
    if (!json_is_object(v))
        return type_error(d, "agent", "a mapping (max_steps, max_cost, timeout, system)", err);
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        char ptr[300], name[300];
        snprintf(ptr, sizeof ptr, "/agent/%s", key);
        snprintf(name, sizeof name, "agent.%s", key);
        if (!strcmp(key, "max_steps")) {
            if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > 10000)
                return at_error(d, ptr, name, "an integer from 1 to 10000", err);
            c->max_steps = (unsigned)json_integer_value(e);
        } else if (!strcmp(key, "max_cost")) {
            if (!json_is_number(e) || json_number_value(e) < 0)
                return at_error(d, ptr, name, "a number >= 0 (0 = no limit)", err);
            c->max_cost = json_number_value(e);
        } else if (!strcmp(key, "timeout")) {
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 604800)
                return at_error(d, ptr, name, "seconds, an integer from 0 (none) to 604800", err);
            c->timeout_s = (unsigned)json_integer_value(e);
        } else if (!strcmp(key, "system")) {
            if (!json_is_string(e))
                return at_error(d, ptr, name, "a string (the system prompt)", err);
            if (set_str(&c->system_prompt, json_string_value(e)) < 0)
                return -ENOMEM;
        } else {
            return key_error(d, "agent", key, agent_keys, ARRAY_SIZE(agent_keys), err);
        }
    }
    return 0;
}

/* planner: {mode: plan|agent, threshold, repairs} (docs/plan.md "Planning a goal") */
static int apply_planner(config *c, const doc *d, json_t *v, char **err)
{
    if (!json_is_object(v))
        return type_error(d, "planner", "a mapping (mode, threshold, repairs)", err);
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        char ptr[300], name[300];
        snprintf(ptr, sizeof ptr, "/planner/%s", key);
        snprintf(name, sizeof name, "planner.%s", key);
        if (!strcmp(key, "mode")) {
            const char *m = json_string_value(e);
            if (!m || (strcmp(m, "plan") && strcmp(m, "agent")))
                return at_error(d, ptr, name, "plan (plan the goal, then run the plan) or agent (one agent loop)",
                                err);
            c->planner_agent = !strcmp(m, "agent");
        } else if (!strcmp(key, "threshold")) {
            if (!json_is_number(e) || json_number_value(e) < 0 || json_number_value(e) > 1)
                return at_error(d, ptr, name, "a number from 0 to 1 (the confidence below which the planner asks)",
                                err);
            c->planner_threshold = json_number_value(e);
        } else if (!strcmp(key, "repairs")) {
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 10)
                return at_error(d, ptr, name, "an integer from 0 to 10 (corrected plans asked for)", err);
            c->planner_repairs = (unsigned)json_integer_value(e);
        } else {
            return key_error(d, "planner", key, planner_keys, ARRAY_SIZE(planner_keys), err);
        }
    }
    return 0;
}

/* agents: {NAME: {role, skills: [...], model, budget, kinds}} (docs/plan.md); config.yaml's and packs' */
int config_agents_check(const doc *d, json_t *v, char **err)
{
    static const char *const keys[] = {"budget", "kinds", "model", "role", "skills"};
    if (!json_is_object(v))
        return type_error(d, "agents", "a mapping of agent names to {role, skills, model, budget}", err);
    const char *name, *key;
    json_t *a, *e;
    json_object_foreach(v, name, a) {
        char ptr[300], what[300];
        snprintf(ptr, sizeof ptr, "/agents/%s", name);
        snprintf(what, sizeof what, "agents.%s", name);
        if (!json_is_object(a))
            return at_error(d, ptr, what, "a mapping (role, skills, model, budget)", err);
        json_object_foreach(a, key, e) {
            snprintf(ptr, sizeof ptr, "/agents/%s/%s", name, key);
            snprintf(what, sizeof what, "agents.%s.%s", name, key);
            bool ok = true;
            if (!strcmp(key, "role") || !strcmp(key, "model")) {
                ok = json_is_string(e);
            } else if (!strcmp(key, "budget")) {
                ok = json_is_number(e) && json_number_value(e) >= 0;
            } else if (!strcmp(key, "skills") || !strcmp(key, "kinds")) {
                ok = json_is_array(e);
                for (size_t i = 0; ok && i < json_array_size(e); i++)
                    ok = json_is_string(json_array_get(e, i)) && *json_string_value(json_array_get(e, i));
            } else {
                char sect[300];
                snprintf(sect, sizeof sect, "agents/%s", name);
                return key_error(d, sect, key, keys, ARRAY_SIZE(keys), err);
            }
            if (!ok)
                return at_error(d, ptr, what,
                                !strcmp(key, "skills") ? "a list of skills (\"pack\", \"pack.skill\" or \"pack.*\")"
                                : !strcmp(key, "kinds") ? "a list of task kinds (e.g. [summarise, code])"
                                : !strcmp(key, "budget") ? "a number >= 0 (money per step; 0 = no limit)"
                                                         : "a string", err);
        }
    }
    return 0;
}

static int apply_agents(config *c, const doc *d, json_t *v, char **err)
{
    int rc = config_agents_check(d, v, err);
    if (rc < 0)
        return rc;
    json_decref(c->agents);
    c->agents = json_deep_copy(v);
    return c->agents ? 0 : -ENOMEM;
}

static bool str_map(json_t *v)
{
    const char *k;
    json_t *e;
    if (!json_is_object(v))
        return false;
    json_object_foreach(v, k, e)
        if (!json_is_string(e))
            return false;
    return true;
}

/* providers.<name>.models.<model>: prices. */
static int check_prices(const doc *d, const char *base, json_t *models, char **err)
{
    char ptr[400], name[400];
    snprintf(ptr, sizeof ptr, "%s/models", base);
    snprintf(name, sizeof name, "%s.models", base + 1);
    for (char *q = name; *q; q++)
        if (*q == '/')
            *q = '.';
    if (!json_is_object(models))
        return at_error(d, ptr, name, "a mapping of model ids to prices ({input_per_mtok, output_per_mtok})", err);
    const char *model, *key;
    json_t *p, *e;
    json_object_foreach(models, model, p) {
        char mp[500], mn[500];
        snprintf(mp, sizeof mp, "%s/%s", ptr, model);
        snprintf(mn, sizeof mn, "%s.%s", name, model);
        if (!json_is_object(p))
            return at_error(d, mp, mn, "a mapping (input_per_mtok, output_per_mtok, cached_input_per_mtok, "
                                       "cache_write_per_mtok, currency)", err);
        json_object_foreach(p, key, e) {
            char kp[600], kn[600];
            snprintf(kp, sizeof kp, "%s/%s", mp, key);
            snprintf(kn, sizeof kn, "%s.%s", mn, key);
            bool known = false;
            for (size_t i = 0; i < ARRAY_SIZE(price_keys); i++)
                known |= !strcmp(key, price_keys[i]);
            if (!known)
                return key_error(d, mp + 1, key, price_keys, ARRAY_SIZE(price_keys), err);
            if (!strcmp(key, "currency") ? !json_is_string(e) : (!json_is_number(e) || json_number_value(e) < 0))
                return at_error(d, kp, kn, !strcmp(key, "currency") ? "a string (e.g. USD)"
                                                                     : "a price per million tokens, a number >= 0", err);
        }
    }
    return 0;
}

static int check_provider(const doc *d, const char *pname, json_t *v, char **err)
{
    char base[300];
    snprintf(base, sizeof base, "/providers/%s", pname);
    if (!json_is_object(v))
        return at_error(d, base, base + 1, "a mapping (plugin, base_url, api_key_env, model, …)", err);
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        char ptr[400], name[400];
        snprintf(ptr, sizeof ptr, "%s/%s", base, key);
        snprintf(name, sizeof name, "providers.%s.%s", pname, key);
        int rc = 0;
        if (!strcmp(key, "plugin") || !strcmp(key, "base_url") || !strcmp(key, "api_key_env") ||
            !strcmp(key, "model")) {
            if (!json_is_string(e))
                rc = at_error(d, ptr, name, "a string", err);
            else if (!strcmp(key, "base_url") && *json_string_value(e) &&
                     strncmp(json_string_value(e), "http://", 7) && strncmp(json_string_value(e), "https://", 8))
                rc = at_error(d, ptr, name, "an http:// or https:// URL", err);
        } else if (!strcmp(key, "stream")) {
            if (!json_is_boolean(e))
                rc = at_error(d, ptr, name, "true or false", err);
        } else if (!strcmp(key, "headers")) {
            if (!str_map(e))
                rc = at_error(d, ptr, name, "a mapping of header names to strings", err);
        } else if (!strcmp(key, "options")) {
            if (!json_is_object(e))
                rc = at_error(d, ptr, name, "a mapping (provider-specific options)", err);
        } else if (!strcmp(key, "retries")) {
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 10)
                rc = at_error(d, ptr, name, "an integer from 0 to 10", err);
        } else if (!strcmp(key, "timeouts")) {
            const char *tk;
            json_t *te;
            if (!json_is_object(e))
                return at_error(d, ptr, name, "a mapping (connect_ms, first_byte_ms, idle_ms, total_ms)", err);
            json_object_foreach(e, tk, te) {
                char tp[500], tn[500];
                snprintf(tp, sizeof tp, "%s/%s", ptr, tk);
                snprintf(tn, sizeof tn, "%s.%s", name, tk);
                bool known = false;
                for (size_t i = 0; i < ARRAY_SIZE(timeout_keys); i++)
                    known |= !strcmp(tk, timeout_keys[i]);
                if (!known)
                    return key_error(d, ptr + 1, tk, timeout_keys, ARRAY_SIZE(timeout_keys), err);
                if (!json_is_integer(te) || json_integer_value(te) < 0 || json_integer_value(te) > 86400000)
                    return at_error(d, tp, tn, "milliseconds, an integer from 0 to 86400000", err);
            }
        } else if (!strcmp(key, "models")) {
            rc = check_prices(d, base, e, err);
        } else {
            rc = key_error(d, base + 1, key, provider_keys, ARRAY_SIZE(provider_keys), err);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int apply_providers(config *c, const doc *d, json_t *v, char **err)
{
    if (!json_is_object(v))
        return type_error(d, "providers", "a mapping of provider names to settings", err);
    const char *name;
    json_t *e;
    json_object_foreach(v, name, e) {
        int rc = check_provider(d, name, e, err);
        if (rc < 0)
            return rc;
    }
    json_t *copy = json_deep_copy(v);
    if (!copy)
        return -ENOMEM;
    json_decref(c->providers);
    c->providers = copy;
    return 0;
}

/* models: the routing catalog (docs/routing.md), a list of mappings. */
static int apply_models(config *c, const doc *d, json_t *v, char **err)
{
    if (!json_is_array(v))
        return type_error(d, "models", "a list of models ({provider, model, input_per_mtok, …})", err);
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) {
        char base[64], bname[64];
        snprintf(base, sizeof base, "/models/%zu", i);
        snprintf(bname, sizeof bname, "models[%zu]", i);
        if (!json_is_object(m))
            return at_error(d, base, bname, "a mapping (provider, model, input_per_mtok, output_per_mtok, context, "
                                            "capabilities, locality, latency_ms, quality)", err);
        const char *key;
        json_t *e;
        json_object_foreach(m, key, e) {
            char ptr[400], name[400];
            snprintf(ptr, sizeof ptr, "%s/%s", base, key);
            snprintf(name, sizeof name, "%s.%s", bname, key);
            bool known = false;
            for (size_t k = 0; k < ARRAY_SIZE(model_keys); k++)
                known |= !strcmp(key, model_keys[k]);
            if (!known)
                return key_error(d, base + 1, key, model_keys, ARRAY_SIZE(model_keys), err);
            if (!strcmp(key, "provider") || !strcmp(key, "model")) {
                bool bad = !json_is_string(e) || !*json_string_value(e);
                if (!bad && !strcmp(key, "provider") && strchr(json_string_value(e), '/'))
                    bad = true; /* "provider/model" is the catalog's id */
                if (bad)
                    return at_error(d, ptr, name, !strcmp(key, "provider") ? "a provider entry name (see providers:)"
                                                                           : "a model id (non-empty string)", err);
            } else if (!strcmp(key, "context")) {
                if (!json_is_integer(e) || json_integer_value(e) < 1)
                    return at_error(d, ptr, name, "the context window in tokens, an integer >= 1", err);
            } else if (!strcmp(key, "latency_ms")) {
                if (!json_is_number(e) || json_number_value(e) < 0)
                    return at_error(d, ptr, name, "milliseconds, a number >= 0 (the expected time of a call)", err);
            } else if (!strcmp(key, "quality")) {
                if (!json_is_number(e) || json_number_value(e) < 0 || json_number_value(e) > 1)
                    return at_error(d, ptr, name, "a number from 0 to 1 (the prior chance of success)", err);
            } else if (!strcmp(key, "locality")) {
                const char *l = json_string_value(e);
                if (!l || (strcmp(l, "local") && strcmp(l, "cloud")))
                    return at_error(d, ptr, name, "local or cloud", err);
            } else if (!strcmp(key, "capabilities")) {
                size_t j;
                json_t *cap;
                if (!json_is_array(e))
                    return at_error(d, ptr, name, "a list of tools, json, vision, embeddings", err);
                json_array_foreach(e, j, cap) {
                    bool ok = false;
                    for (size_t k = 0; json_is_string(cap) && k < ARRAY_SIZE(capability_names); k++)
                        ok |= !strcmp(json_string_value(cap), capability_names[k]);
                    if (!ok) {
                        char cp[450], cn[450];
                        snprintf(cp, sizeof cp, "%s/%zu", ptr, j);
                        snprintf(cn, sizeof cn, "%s[%zu]", name, j);
                        return at_error(d, cp, cn, "one of tools, json, vision, embeddings", err);
                    }
                }
            } else if (!json_is_number(e) || json_number_value(e) < 0) { /* prices */
                return at_error(d, ptr, name, "a price per million tokens, a number >= 0", err);
            }
        }
        if (!json_object_get(m, "provider") || !json_object_get(m, "model"))
            return at_error(d, base, bname, "a mapping with both 'provider' (an entry of providers:) and 'model'",
                            err);
        for (size_t k = 0; k < i; k++) {
            json_t *o = json_array_get(v, k);
            if (json_equal(json_object_get(o, "provider"), json_object_get(m, "provider")) &&
                json_equal(json_object_get(o, "model"), json_object_get(m, "model"))) {
                char what[300];
                snprintf(what, sizeof what, "a model not listed before (models[%zu] is the same %s/%s)", k,
                         json_string_value(json_object_get(m, "provider")),
                         json_string_value(json_object_get(m, "model")));
                return at_error(d, base, bname, what, err);
            }
        }
    }
    json_t *copy = json_deep_copy(v);
    if (!copy)
        return -ENOMEM;
    json_decref(c->models);
    c->models = copy;
    return 0;
}

/* budget: {run, day, agents: {name: X}} (docs/routing.md). */
static int apply_budget(config *c, const doc *d, json_t *v, char **err)
{
    if (!json_is_object(v))
        return type_error(d, "budget", "a mapping (run, day, agents)", err);
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        char ptr[300], name[300];
        snprintf(ptr, sizeof ptr, "/budget/%s", key);
        snprintf(name, sizeof name, "budget.%s", key);
        if (!strcmp(key, "run") || !strcmp(key, "day")) {
            if (!json_is_number(e) || json_number_value(e) < 0)
                return at_error(d, ptr, name, "an amount >= 0 (0 = no limit)", err);
            *(!strcmp(key, "run") ? &c->max_cost : &c->budget_day) = json_number_value(e);
        } else if (!strcmp(key, "agents")) {
            const char *an;
            json_t *ae;
            if (!json_is_object(e))
                return at_error(d, ptr, name, "a mapping of agent names to amounts per day", err);
            json_object_foreach(e, an, ae) {
                char ap[400], aname[400];
                snprintf(ap, sizeof ap, "%s/%s", ptr, an);
                snprintf(aname, sizeof aname, "%s.%s", name, an);
                if (!json_is_number(ae) || json_number_value(ae) < 0)
                    return at_error(d, ap, aname, "an amount per day >= 0 (0 = no limit)", err);
            }
            json_t *copy = json_deep_copy(e);
            if (!copy)
                return -ENOMEM;
            json_decref(c->budget_agents);
            c->budget_agents = copy;
        } else {
            return key_error(d, "budget", key, budget_keys, ARRAY_SIZE(budget_keys), err);
        }
    }
    return 0;
}

static int apply_file(config *c, const char *path, char **err)
{
    doc *d = NULL;
    int rc = doc_load(path, DOC_YAML, &d, err);
    if (rc < 0)
        return rc;
    json_t *root = doc_root(d);
    if (json_is_null(root))
        goto out; /* an empty file is fine */
    if (!json_is_object(root)) {
        rc = err_set(err, -EINVAL, "%s:%d: the configuration must be a mapping of keys to values", path,
                     doc_line(d, ""));
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "workdir")) {
            if (!json_is_string(v)) {
                rc = type_error(d, key, "a directory path (string)", err);
                goto out;
            }
            rc = set_str(&c->workdir, json_string_value(v));
        } else if (!strcmp(key, "log_level")) {
            int l = json_is_string(v) ? config_log_level(json_string_value(v)) : -1;
            if (l < 0) {
                rc = type_error(d, key, "one of error, warn, info, debug", err);
                goto out;
            }
            c->log_level = l;
        } else if (!strcmp(key, "color")) {
            int col = json_is_string(v) ? parse_color(json_string_value(v)) : -1;
            if (col < 0) {
                rc = type_error(d, key, "one of auto, always, never", err);
                goto out;
            }
            c->color = col;
        } else if (!strcmp(key, "skill_paths")) {
            rc = str_list(d, key, v, "a list of directory paths", &c->skill_paths, &c->n_skill_paths, err);
        } else if (!strcmp(key, "trust")) {
            rc = str_list(d, key, v, "a list of pack names", &c->trust, &c->n_trust, err);
        } else if (!strcmp(key, "trusted_keys")) {
            rc = str_list(d, key, v, "a list of public keys (ed25519:<base64>, as 'venom pack keygen' prints them)",
                          &c->trusted_keys, &c->n_trusted_keys, err);
            for (size_t k = 0; rc == 0 && k < c->n_trusted_keys; k++) {
                char id[17];
                if (pack_key_id(c->trusted_keys[k], id, NULL) < 0)
                    rc = type_error(d, key, "a list of public keys (ed25519:<base64>, as 'venom pack keygen' prints "
                                    "them)", err);
            }
        } else if (!strcmp(key, "sandbox")) {
            rc = apply_sandbox(c, d, v, err);
        } else if (!strcmp(key, "agent")) {
            rc = apply_agent(c, d, v, err);
        } else if (!strcmp(key, "agents")) {
            rc = apply_agents(c, d, v, err);
        } else if (!strcmp(key, "providers")) {
            rc = apply_providers(c, d, v, err);
        } else if (!strcmp(key, "models")) {
            rc = apply_models(c, d, v, err);
        } else if (!strcmp(key, "budget")) {
            rc = apply_budget(c, d, v, err);
        } else if (!strcmp(key, "planner")) {
            rc = apply_planner(c, d, v, err);
        } else if (!strcmp(key, "privacy")) {
            const char *pv = json_string_value(v);
            if (!pv || (strcmp(pv, "local-only") && strcmp(pv, "any"))) {
                rc = type_error(d, key, "local-only or any", err);
                goto out;
            }
            c->local_only = !strcmp(pv, "local-only");
        } else if (!strcmp(key, "provider") || !strcmp(key, "model")) {
            if (!json_is_string(v) || (!strcmp(key, "provider") && !*json_string_value(v))) {
                rc = type_error(d, key, !strcmp(key, "provider") ? "a provider name (string)" : "a model id (string)",
                                err);
                goto out;
            }
            rc = set_str(!strcmp(key, "provider") ? &c->provider : &c->model, json_string_value(v));
        } else {
            rc = key_error(d, NULL, key, known_keys, ARRAY_SIZE(known_keys), err);
            goto out;
        }
        if (rc < 0)
            goto out;
    }
out:
    if (rc == -ENOMEM)
        err_set(err, rc, "out of memory");
    doc_free(d);
    return rc;
}

static int apply_env(config *c, char **err)
{
    const char *v;
    int rc = 0;
    if ((v = getenv("VENOM_WORKDIR")) && *v)
        rc = set_str(&c->workdir, v);
    if (rc == 0 && (v = getenv("VENOM_LOG_LEVEL")) && *v) {
        int l = config_log_level(v);
        if (l < 0)
            return err_set(err, -EINVAL, "VENOM_LOG_LEVEL='%s': use one of error, warn, info, debug", v);
        c->log_level = l;
    }
    if (rc == 0 && (v = getenv("VENOM_COLOR")) && *v) {
        int col = parse_color(v);
        if (col < 0)
            return err_set(err, -EINVAL, "VENOM_COLOR='%s': use one of auto, always, never", v);
        c->color = col;
    }
    if (rc == 0 && (v = getenv("VENOM_SYSTEM_SKILLS")))
        rc = set_str(&c->system_skills, v);
    if (rc == 0 && (v = getenv("VENOM_SYSTEM_PROVIDERS")))
        rc = set_str(&c->system_providers, v);
    if (rc == 0 && (v = getenv("VENOM_PROVIDER")) && *v)
        rc = set_str(&c->provider, v);
    if (rc == 0 && (v = getenv("VENOM_MODEL")))
        rc = set_str(&c->model, v);
    return rc < 0 ? err_set(err, rc, "out of memory") : 0;
}

int config_load(config **out, char **err)
{
    *out = NULL;
    config *c = mem_calloc(1, sizeof *c);
    if (!c)
        return err_set(err, -ENOMEM, "out of memory");
    c->log_level = VENOM_LOG_WARN;
    c->color = CONFIG_COLOR_AUTO;
    c->sandbox_pool = 2;
    c->sandbox_idle_ms = 30000;
    int rc = set_str(&c->workdir, ".");
    const char *home = getenv("VENOM_HOME");
    if (rc == 0)
        rc = home && *home ? set_str(&c->home, home) : default_home(&c->home);
    if (rc == 0)
        rc = default_system_dir("skills", &c->system_skills);
    if (rc == 0)
        rc = default_system_dir("providers", &c->system_providers);
    if (rc == 0)
        rc = set_str(&c->provider, "offline");
    if (rc == 0)
        rc = set_str(&c->model, "");
    if (rc == 0)
        rc = set_str(&c->system_prompt, "");
    c->max_steps = 20;
    c->planner_threshold = -1; /* unset: the offline provider's options.threshold, else 0.5 */
    c->planner_repairs = 2;
    c->planner_agent = false; /* planner.mode: plan (the default); agent = one agent loop */
    if (rc < 0) {
        rc = err_set(err, rc, "out of memory");
        goto fail;
    }
    char *file = mem_printf("%s/config.yaml", c->home);
    if (!file) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    if (access(file, F_OK) == 0) {
        c->file = file;
        rc = apply_file(c, file, err);
        if (rc < 0)
            goto fail;
    } else {
        mem_free(file);
    }
    rc = apply_env(c, err);
    if (rc < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    config_free(c);
    return rc;
}

void config_free(config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_skill_paths; i++)
        mem_free(c->skill_paths[i]);
    mem_free(c->skill_paths);
    for (size_t i = 0; i < c->n_trust; i++)
        mem_free(c->trust[i]);
    mem_free(c->trust);
    for (size_t i = 0; i < c->n_trusted_keys; i++)
        mem_free(c->trusted_keys[i]);
    mem_free(c->trusted_keys);
    for (size_t i = 0; i < c->n_sandbox_reuse; i++)
        mem_free(c->sandbox_reuse[i]);
    mem_free(c->sandbox_reuse);
    mem_free(c->home);
    mem_free(c->file);
    mem_free(c->workdir);
    mem_free(c->system_skills);
    mem_free(c->system_providers);
    mem_free(c->provider);
    mem_free(c->model);
    mem_free(c->system_prompt);
    json_decref(c->agents);
    json_decref(c->providers);
    json_decref(c->models);
    json_decref(c->budget_agents);
    mem_free(c);
}

int config_skill_dirs(const config *c, char ***dirs, size_t *n)
{
    size_t max = 3 + c->n_skill_paths, k = 0;
    char **v = mem_calloc(max, sizeof *v);
    if (!v)
        return -ENOMEM;
    char cwd[PATH_MAX];
    v[k++] = getcwd(cwd, sizeof cwd) ? mem_printf("%s/.venom/skills", cwd) : mem_strdup("./.venom/skills");
    v[k++] = mem_printf("%s/skills", c->home);
    for (size_t i = 0; i < c->n_skill_paths; i++)
        v[k++] = mem_strdup(c->skill_paths[i]);
    if (c->system_skills && *c->system_skills)
        v[k++] = mem_strdup(c->system_skills);
    for (size_t i = 0; i < k; i++) {
        if (!v[i]) {
            for (size_t j = 0; j < k; j++)
                mem_free(v[j]);
            mem_free(v);
            return -ENOMEM;
        }
    }
    *dirs = v;
    *n = k;
    return 0;
}

int config_provider_dirs(const config *c, char ***dirs, size_t *n)
{
    char **v = mem_calloc(3, sizeof *v);
    size_t k = 0;
    if (!v)
        return -ENOMEM;
    char cwd[PATH_MAX];
    v[k++] = getcwd(cwd, sizeof cwd) ? mem_printf("%s/.venom/providers", cwd) : mem_strdup("./.venom/providers");
    v[k++] = mem_printf("%s/providers", c->home);
    if (c->system_providers && *c->system_providers)
        v[k++] = mem_strdup(c->system_providers);
    for (size_t i = 0; i < k; i++) {
        if (!v[i]) {
            for (size_t j = 0; j < k; j++)
                mem_free(v[j]);
            mem_free(v);
            return -ENOMEM;
        }
    }
    *dirs = v;
    *n = k;
    return 0;
}

json_t *config_provider_entry(const config *c, const char *name)
{
    json_t *given = c->providers ? json_object_get(c->providers, name) : NULL;
    json_t *e = given ? json_deep_copy(given) : json_object();
    if (!e)
        return NULL;
    int bad = json_object_set_new(e, "name", json_string(name));
    if (!json_object_get(e, "plugin"))
        bad |= json_object_set_new(e, "plugin", json_string(name));
    static const char *const strs[] = {"base_url", "model"};
    for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
        if (!json_object_get(e, strs[i]))
            bad |= json_object_set_new(e, strs[i], json_string(""));
    if (!json_object_get(e, "stream"))
        bad |= json_object_set_new(e, "stream", json_true());
    static const char *const objs[] = {"headers", "options", "timeouts", "models"};
    for (size_t i = 0; i < ARRAY_SIZE(objs); i++)
        if (!json_object_get(e, objs[i]))
            bad |= json_object_set_new(e, objs[i], json_object());
    if (!json_object_get(e, "retries"))
        bad |= json_object_set_new(e, "retries", json_integer(2));
    if (bad) {
        json_decref(e);
        return NULL;
    }
    return e;
}
