#include "util/common.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent/provider.h"
#include "config/config.h"
#include "route/route.h"
#include "store/store.h"
#include "util/err.h"

#define SEED_MASK ((UINT64_C(1) << 53) - 1) /* seeds stay exact as JSON numbers */

static const char *const cap_names[] = {"tools", "json", "vision", "embeddings"};
static const char *const drop_names[] = {"kept", "capabilities", "context", "privacy", "budget", "failed", "agent_model"};

const char *route_drop_name(int drop)
{
    return drop >= 0 && drop < (int)ARRAY_SIZE(drop_names) ? drop_names[drop] : "?";
}

bool route_model_matches(const route_model *m, const char *pref)
{
    return m && pref && ((m->id && !strcmp(m->id, pref)) || (m->model && !strcmp(m->model, pref)) ||
                         (m->provider && !strcmp(m->provider, pref)));
}

unsigned route_cap(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_SIZE(cap_names); i++)
        if (!strcmp(name, cap_names[i]))
            return 1u << i;
    return 0;
}

/* ------------------------------------------------------------ catalog */

static double num_or(const json_t *o, const char *k, double dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

void route_catalog_free(route_catalog *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->n; i++) {
        mem_free(cat->m[i].provider);
        mem_free(cat->m[i].model);
        mem_free(cat->m[i].id);
        json_decref(cat->m[i].price);
    }
    mem_free(cat->m);
    mem_free(cat);
}

/* The price of one catalog entry: its own price keys, else the provider
 * entry's models.<model> (the same object provider_cost reads). */
static json_t *resolve_price(const config *c, const json_t *e, const char *prov, const char *model)
{
    static const char *const keys[] = {"input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
                                       "cache_write_per_mtok"};
    json_t *own = json_object();
    for (size_t k = 0; own && k < ARRAY_SIZE(keys); k++)
        if (json_object_get(e, keys[k]))
            json_object_set(own, keys[k], json_object_get(e, keys[k]));
    if (own && json_object_size(own))
        return own;
    json_decref(own);
    json_t *entry = config_provider_entry(c, prov);
    json_t *p = json_object_get(json_object_get(entry, "models"), model);
    json_t *r = p ? json_deep_copy(p) : NULL;
    json_decref(entry);
    return r;
}

int route_catalog_new(const config *c, route_catalog **out, char **err)
{
    *out = NULL;
    route_catalog *cat = mem_calloc(1, sizeof *cat);
    size_t n = c && c->models ? json_array_size(c->models) : 0;
    if (!cat || !(cat->m = mem_calloc(n ? n : 1, sizeof *cat->m))) {
        mem_free(cat);
        return err_set(err, -ENOMEM, "out of memory");
    }
    double lat_sum = 0;
    size_t lat_n = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(c->models, i);
        route_model *m = &cat->m[cat->n++];
        const char *prov = json_string_value(json_object_get(e, "provider"));
        const char *model = json_string_value(json_object_get(e, "model"));
        m->provider = mem_strdup(prov ? prov : "");
        m->model = mem_strdup(model ? model : "");
        m->id = mem_printf("%s/%s", prov ? prov : "", model ? model : "");
        if (!m->provider || !m->model || !m->id) {
            route_catalog_free(cat);
            return err_set(err, -ENOMEM, "out of memory");
        }
        m->price = resolve_price(c, e, m->provider, m->model);
        m->in_per_mtok = num_or(m->price, "input_per_mtok", 0);
        m->out_per_mtok = num_or(m->price, "output_per_mtok", 0);
        json_t *ctx = json_object_get(e, "context");
        m->context = json_is_integer(ctx) ? (uint64_t)json_integer_value(ctx) : 0;
        json_t *caps = json_object_get(e, "capabilities");
        if (json_is_array(caps)) {
            size_t j;
            json_t *cv;
            json_array_foreach(caps, j, cv)
                m->caps |= route_cap(json_string_value(cv));
        } else {
            m->caps = ROUTE_CAP_TOOLS | ROUTE_CAP_JSON | ROUTE_CAP_VISION | ROUTE_CAP_EMBEDDINGS;
        }
        const char *loc = json_string_value(json_object_get(e, "locality"));
        m->local = loc && !strcmp(loc, "local");
        m->latency_ms = num_or(e, "latency_ms", -1);
        if (m->latency_ms >= 0)
            lat_sum += m->latency_ms, lat_n++;
        m->quality = num_or(e, "quality", ROUTE_DEFAULT_QUALITY);
    }
    /* a model without a latency prior counts as the average of those with one */
    for (size_t i = 0; i < cat->n; i++)
        if (cat->m[i].latency_ms < 0)
            cat->m[i].latency_ms = lat_n ? lat_sum / (double)lat_n : 0;
    *out = cat;
    return 0;
}

size_t route_catalog_find(const route_catalog *cat, const char *id)
{
    size_t hit = ROUTE_NONE, hits = 0;
    for (size_t i = 0; cat && id && i < cat->n; i++) {
        if (!strcmp(cat->m[i].id, id))
            return i;
        if (!strcmp(cat->m[i].model, id))
            hit = i, hits++;
    }
    return hits == 1 ? hit : ROUTE_NONE;
}

double route_estimate(const route_model *m, uint64_t in, uint64_t out)
{
    return ((double)in * m->in_per_mtok + (double)out * m->out_per_mtok) / 1e6;
}

double route_cost(const route_model *m, const json_t *usage, bool *priced)
{
    *priced = m->price != NULL;
    return provider_price_cost(m->price, usage);
}

/* ------------------------------------------------------------ random draws */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** */
static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; } /* [0, 1) */

/* Marsaglia's polar method (one of the pair). */
static double rng_normal(rng *r)
{
    double u, v, s;
    do {
        u = 2 * rng_unit(r) - 1;
        v = 2 * rng_unit(r) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    return u * sqrt(-2 * log(s) / s);
}

/* Marsaglia–Tsang; shapes below 1 through Gamma(a + 1) * U^(1/a). */
static double rng_gamma(rng *r, double a)
{
    if (a < 1) {
        double u = rng_unit(r);
        return rng_gamma(r, a + 1) * pow(u > 0 ? u : DBL_MIN, 1 / a);
    }
    double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = rng_normal(r), v = 1 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = rng_unit(r);
        if (u < 1 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1 - v + log(v)))
            return d * v;
    }
}

static double rng_beta(rng *r, double a, double b)
{
    double x = rng_gamma(r, a), y = rng_gamma(r, b);
    return x + y > 0 ? x / (x + y) : 0.5;
}

double route_beta_draw(uint64_t seed, double a, double b)
{
    rng r;
    rng_seed(&r, seed);
    return rng_beta(&r, a, b);
}

/* ------------------------------------------------------------ the decision */

/* j dominates i: no worse in cost, quality and latency, better in one. */
static bool dominates(const route_model *mj, const route_cand *cj, const route_model *mi, const route_cand *ci)
{
    if (cj->cost > ci->cost || mj->quality < mi->quality || mj->latency_ms > mi->latency_ms)
        return false;
    return cj->cost < ci->cost || mj->quality > mi->quality || mj->latency_ms < mi->latency_ms;
}

int route_choose(const route_catalog *cat, const route_posterior *post, const route_need *need, uint64_t seed,
                 route_decision *d)
{
    if (!cat || !need || !d || (cat->n && (!d->c || !d->order)))
        return -EINVAL;
    d->seed = seed;
    d->n_order = 0;
    d->choice = ROUTE_NONE;
    double wc = need->cost_weight >= 0 ? need->cost_weight : ROUTE_COST_WEIGHT;
    double wl = need->latency_weight >= 0 ? need->latency_weight : ROUTE_LATENCY_WEIGHT;
    double max_cost = 0, max_lat = 0;
    size_t n_feasible = 0;
    /* constraints; d->order holds the feasible for now */
    for (size_t i = 0; i < cat->n; i++) {
        const route_model *m = &cat->m[i];
        route_cand *c = &d->c[i];
        double q = m->quality;
        *c = (route_cand){.dominated_by = ROUTE_NONE,
                          .cost = route_estimate(m, need->input_tokens, need->output_tokens),
                          .alpha = (post ? post[i].alpha : 1) + ROUTE_PRIOR_WEIGHT * q,
                          .beta = (post ? post[i].beta : 1) + ROUTE_PRIOR_WEIGHT * (1 - q)};
        if (need->exclude && need->exclude[i])
            c->drop = ROUTE_DROP_FAILED;
        else if (need->allow && !need->allow[i])
            c->drop = ROUTE_DROP_AGENT;
        else if ((m->caps & need->caps) != need->caps)
            c->drop = ROUTE_DROP_CAPS;
        else if (m->context && need->input_tokens + need->output_tokens > m->context)
            c->drop = ROUTE_DROP_CONTEXT;
        else if (need->local_only && !m->local)
            c->drop = ROUTE_DROP_PRIVACY;
        else if (need->budget_left >= 0 && c->cost > need->budget_left)
            c->drop = ROUTE_DROP_BUDGET;
        if (c->drop != ROUTE_KEPT)
            continue;
        d->order[n_feasible++] = i;
        if (c->cost > max_cost)
            max_cost = c->cost;
        if (m->latency_ms > max_lat)
            max_lat = m->latency_ms;
    }
    /* the Pareto frontier, Thompson draws on it, scores */
    rng r;
    rng_seed(&r, seed);
    for (size_t a = 0; a < n_feasible; a++) {
        size_t i = d->order[a];
        route_cand *ci = &d->c[i];
        for (size_t b = 0; b < n_feasible && ci->dominated_by == ROUTE_NONE; b++) {
            size_t j = d->order[b];
            if (j != i && dominates(&cat->m[j], &d->c[j], &cat->m[i], ci))
                ci->dominated_by = j;
        }
        ci->frontier = ci->dominated_by == ROUTE_NONE;
        ci->draw = ci->frontier ? rng_beta(&r, ci->alpha, ci->beta) : ci->alpha / (ci->alpha + ci->beta);
        ci->score = ci->draw - (max_cost > 0 ? wc * ci->cost / max_cost : 0) -
                    (max_lat > 0 ? wl * cat->m[i].latency_ms / max_lat : 0);
    }
    /* rank: the frontier by score, then the dominated by score (stable: ties by index) */
    for (size_t a = 1; a < n_feasible; a++) {
        size_t i = d->order[a], b = a;
        const route_cand *ci = &d->c[i];
        while (b > 0) {
            const route_cand *cp = &d->c[d->order[b - 1]];
            bool before = ci->frontier != cp->frontier ? ci->frontier : ci->score > cp->score;
            if (!before)
                break;
            d->order[b] = d->order[b - 1];
            b--;
        }
        d->order[b] = i;
    }
    d->n_order = n_feasible;
    d->choice = n_feasible ? d->order[0] : ROUTE_NONE;
    return 0;
}

/* ------------------------------------------------------------ the router */

struct router {
    const config *cfg;
    store *st;
    route_catalog *cat;
    pthread_mutex_t mu;
    struct provider **prov;
    atomic_uint_fast64_t next_seed;
    double day_budget;
    bool local_only;
};

int router_new(const config *c, store *s, const router_opts *o, router **out, char **err)
{
    *out = NULL;
    if (!c || !s)
        return err_set(err, -EINVAL, "router_new: missing argument");
    router *rt = mem_calloc(1, sizeof *rt);
    if (!rt)
        return err_set(err, -ENOMEM, "out of memory");
    rt->cfg = c;
    rt->st = s;
    int rc = route_catalog_new(c, &rt->cat, err);
    if (rc < 0) {
        mem_free(rt);
        return rc;
    }
    if (!(rt->prov = mem_calloc(rt->cat->n ? rt->cat->n : 1, sizeof *rt->prov))) {
        route_catalog_free(rt->cat);
        mem_free(rt);
        return err_set(err, -ENOMEM, "out of memory");
    }
    pthread_mutex_init(&rt->mu, NULL);
    uint64_t seed = o && o->seeded ? o->seed : 0;
    if (!(o && o->seeded) && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    atomic_init(&rt->next_seed, seed & SEED_MASK);
    rt->day_budget = o && o->day_budget > 0 ? o->day_budget : c->budget_day;
    rt->local_only = (o && o->local_only) || c->local_only;
    *out = rt;
    return 0;
}

void router_free(router *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; rt->cat && i < rt->cat->n; i++)
        provider_close(rt->prov[i]);
    mem_free(rt->prov);
    route_catalog_free(rt->cat);
    pthread_mutex_destroy(&rt->mu);
    mem_free(rt);
}

const route_catalog *router_catalog(const router *rt) { return rt->cat; }
bool router_routes(const router *rt) { return rt && rt->cat->n > 0; }

void route_step_release(route_step *st)
{
    if (!st)
        return;
    mem_free(st->failed);
    mem_free(st->c);
    mem_free(st->order);
    st->failed = NULL;
    st->c = NULL;
    st->order = NULL;
}

static json_t *caps_json(unsigned caps)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < ARRAY_SIZE(cap_names); i++)
        if (caps & (1u << i))
            json_array_append_new(a, json_string(cap_names[i]));
    return a;
}

static json_t *decided_event(const router *rt, const route_step *st, uint64_t seed)
{
    const route_catalog *cat = rt->cat;
    json_t *cands = json_array(), *frontier = json_array(), *order = json_array();
    for (size_t i = 0; i < cat->n; i++) {
        const route_cand *c = &st->c[i];
        const route_model *m = &cat->m[i];
        json_t *e = json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:b, s:b}", "model", m->id, "provider",
                              m->provider, "name", m->model, "est_cost", c->cost, "quality", m->quality,
                              "alpha", c->alpha, "beta", c->beta, "frontier", c->frontier, "priced",
                              m->price != NULL);
        if (!e)
            continue;
        if (c->drop != ROUTE_KEPT) {
            json_object_set_new(e, "dropped", json_string(route_drop_name(c->drop)));
        } else {
            json_object_set_new(e, c->frontier ? "draw" : "mean", json_real(c->draw));
            json_object_set_new(e, "score", json_real(c->score));
            if (c->dominated_by != ROUTE_NONE)
                json_object_set_new(e, "dominated_by", json_string(cat->m[c->dominated_by].id));
            if (c->frontier)
                json_array_append_new(frontier, json_string(m->id));
        }
        json_array_append_new(cands, e);
    }
    for (size_t k = 0; k < st->n_order; k++)
        json_array_append_new(order, json_string(cat->m[st->order[k]].id));
    json_t *need = json_pack("{s:o, s:I, s:I, s:b}", "capabilities", caps_json(st->need.caps), "input_tokens",
                             (json_int_t)st->need.input_tokens, "output_tokens", (json_int_t)st->need.output_tokens,
                             "local_only", st->need.local_only);
    if (need)
        json_object_set_new(need, "budget_left",
                            st->need.budget_left >= 0 ? json_real(st->need.budget_left) : json_null());
    json_t *ev = json_pack("{s:s, s:I, s:o, s:o, s:o, s:o}", "kind", st->kind, "seed", (json_int_t)seed,
                           "need", need ? need : json_object(), "candidates", cands, "frontier", frontier, "order",
                           order);
    if (ev)
        json_object_set_new(ev, "choice", st->model != ROUTE_NONE ? json_string(cat->m[st->model].id) : json_null());
    return ev;
}

int router_decide(router *rt, const char *kind, const route_need *need, route_step *st, json_t **event, char **err)
{
    *event = NULL;
    const route_catalog *cat = rt->cat;
    size_t n = cat->n ? cat->n : 1;
    memset(st, 0, sizeof *st);
    st->kind = kind && *kind ? kind : ROUTE_DEFAULT_KIND;
    st->model = ROUTE_NONE;
    st->failed = mem_calloc(n, sizeof *st->failed);
    st->c = mem_calloc(n, sizeof *st->c);
    st->order = mem_calloc(n, sizeof *st->order);
    const char **ids = mem_calloc(n, sizeof *ids);
    double *ab = mem_calloc(2 * n, sizeof *ab);
    route_posterior *post = mem_calloc(n, sizeof *post);
    int rc = -ENOMEM;
    if (!st->failed || !st->c || !st->order || !ids || !ab || !post) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < cat->n; i++)
        ids[i] = cat->m[i].id;
    if ((rc = store_route_get(rt->st, st->kind, ids, cat->n, ab, ab + n, err)) < 0)
        goto out;
    for (size_t i = 0; i < cat->n; i++)
        post[i] = (route_posterior){.alpha = ab[i], .beta = ab[n + i]};
    st->need = *need;
    st->need.exclude = st->failed;
    st->need.local_only |= rt->local_only;
    uint64_t seed = atomic_fetch_add(&rt->next_seed, 1) & SEED_MASK;
    route_decision d = {.c = st->c, .order = st->order};
    if ((rc = route_choose(cat, post, &st->need, seed, &d)) < 0) {
        rc = err_set(err, rc, "route_choose: bad argument");
        goto out;
    }
    st->n_order = d.n_order;
    st->model = d.choice;
    if (!(*event = decided_event(rt, st, seed)))
        rc = err_set(err, -ENOMEM, "out of memory");
out:
    mem_free(ids);
    mem_free(ab);
    mem_free(post);
    if (rc < 0)
        route_step_release(st);
    return rc;
}

size_t router_fallback(router *rt, route_step *st, const char *why, json_t **event)
{
    const route_catalog *cat = rt->cat;
    size_t from = st->model, to = ROUTE_NONE;
    if (from != ROUTE_NONE)
        st->failed[from] = true;
    for (size_t k = 0; k < st->n_order && to == ROUTE_NONE; k++)
        if (!st->failed[st->order[k]])
            to = st->order[k];
    st->model = to;
    st->fallbacks++;
    *event = json_pack("{s:s, s:s, s:s}", "kind", st->kind, "from", from != ROUTE_NONE ? cat->m[from].id : "",
                       "why", why ? why : "the provider failed");
    if (*event)
        json_object_set_new(*event, "to", to != ROUTE_NONE ? json_string(cat->m[to].id) : json_null());
    return to;
}

struct provider *router_provider(router *rt, size_t i, char **err)
{
    if (i >= rt->cat->n) {
        err_set(err, -EINVAL, "no such catalog model");
        return NULL;
    }
    pthread_mutex_lock(&rt->mu);
    if (!rt->prov[i] && provider_open(rt->cfg, rt->cat->m[i].provider, rt->cat->m[i].model, &rt->prov[i], err) < 0)
        rt->prov[i] = NULL;
    struct provider *p = rt->prov[i];
    pthread_mutex_unlock(&rt->mu);
    return p;
}

void route_today(char day[16])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(day, 16, "%Y-%m-%d", &tm);
}

static double agent_limit(const router *rt, const char *agent)
{
    json_t *v = json_object_get(rt->cfg->budget_agents, agent);
    return json_is_number(v) ? json_number_value(v) : 0;
}

int router_budget_left(router *rt, const char *agent, double *left, const char **which, double *spent,
                       double *limit, char **err)
{
    *left = -1;
    *which = NULL;
    *spent = *limit = 0;
    agent = agent && *agent ? agent : ROUTE_DEFAULT_AGENT;
    char day[16];
    route_today(day);
    double alim = agent_limit(rt, agent);
    const double lims[2] = {rt->day_budget, alim};
    const char *names[2] = {"day", "agent"};
    for (int k = 0; k < 2; k++) {
        if (lims[k] <= 0)
            continue;
        double sp = 0;
        int rc = store_route_spent(rt->st, day, k ? agent : NULL, &sp, err);
        if (rc < 0)
            return rc;
        double l = lims[k] - sp > 0 ? lims[k] - sp : 0;
        if (!*which || l < *left) {
            *left = l;
            *which = names[k];
            *spent = sp;
            *limit = lims[k];
        }
    }
    return 0;
}

json_t *route_budget_event(const char *which, const char *agent, double spent, double limit, double estimate)
{
    char day[16];
    route_today(day);
    json_t *ev = json_pack("{s:s, s:s, s:f, s:f, s:f}", "budget", which, "agent",
                           agent && *agent ? agent : ROUTE_DEFAULT_AGENT, "spent", spent, "limit", limit,
                           "estimate", estimate);
    if (ev && strcmp(which, "run"))
        json_object_set_new(ev, "day", json_string(day));
    return ev;
}

int router_budget_check(router *rt, const char *agent, double est, json_t **event, char **err)
{
    *event = NULL;
    agent = agent && *agent ? agent : ROUTE_DEFAULT_AGENT;
    char day[16];
    route_today(day);
    const double lims[2] = {rt->day_budget, agent_limit(rt, agent)};
    for (int k = 0; k < 2; k++) {
        if (lims[k] <= 0)
            continue;
        double sp = 0;
        int rc = store_route_spent(rt->st, day, k ? agent : NULL, &sp, err);
        if (rc < 0)
            return rc;
        if (sp >= lims[k] || sp + est > lims[k]) {
            *event = route_budget_event(k ? "agent" : "day", agent, sp, lims[k], est);
            return *event ? 1 : err_set(err, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

int router_spend(router *rt, const char *agent, double cost, char **err)
{
    char day[16];
    route_today(day);
    return store_route_spend_add(rt->st, day, agent && *agent ? agent : ROUTE_DEFAULT_AGENT, cost, err);
}

int router_record(router *rt, const char *kind, size_t i, int success, unsigned turns, unsigned retries,
                  double latency_ms, double cost, char **err)
{
    if (i >= rt->cat->n)
        return err_set(err, -EINVAL, "no such catalog model");
    store_route_out o = {.model = rt->cat->m[i].id,
                         .kind = kind && *kind ? kind : ROUTE_DEFAULT_KIND,
                         .success = success,
                         .turns = turns,
                         .retries = retries,
                         .latency_ms = latency_ms,
                         .cost = cost};
    return store_route_outcome(rt->st, &o, err);
}
