/*
 * auction.c — which agent takes an agent step that names none: every
 * agent that can take it bids a score from capability match, past success
 * on the step's kind and estimated cost (the formula: orchestrate.h). Pure
 * but for reading agent_stats.
 */
#include "util/common.h"

#include "orchestrate/orchestrate.h"
#include "plan/plan.h"
#include "route/route.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

/* Skill fit: the fraction of the agent's skills entries the step needs. */
static double skill_fit(const plan_step *s, const json_t *def)
{
    const json_t *skills = json_object_get(def, "skills");
    if (!s->n_needs)
        return 1;
    if (!skills)
        return 0.5;
    size_t n = json_array_size(skills), used = 0;
    for (size_t j = 0; j < n; j++) {
        const char *allow = json_string_value(json_array_get(skills, j));
        bool u = false;
        for (size_t k = 0; !u && k < s->n_needs; k++)
            u = plan_skill_covers(allow, s->needs[k]);
        used += u;
    }
    return n ? (double)used / (double)n : 0;
}

static double kind_fit(const plan_step *s, const json_t *def)
{
    const json_t *kinds = json_object_get(def, "kinds");
    if (!json_array_size(kinds))
        return 0.5;
    const char *task = plan_step_task(s);
    for (size_t j = 0; j < json_array_size(kinds); j++)
        if (json_is_string(json_array_get(kinds, j)) && !strcmp(json_string_value(json_array_get(kinds, j)), task))
            return 1;
    return 0;
}

/* The cheapest estimate among the catalog models the agent may use; 0
 * without a catalog; -1 when its model: names none of the catalog. */
static double agent_cost(const route_catalog *cat, const json_t *def, uint64_t in, uint64_t out)
{
    const char *pref = json_string_value(json_object_get(def, "model"));
    double best = -1;
    for (size_t i = 0; cat && i < cat->n; i++) {
        if (pref && !route_model_matches(&cat->m[i], pref))
            continue;
        double c = route_estimate(&cat->m[i], in, out);
        if (best < 0 || c < best)
            best = c;
    }
    return best >= 0 || !cat || !cat->n ? (best > 0 ? best : 0) : -1;
}

static int bid_cmp(const void *a, const void *b)
{
    const auction_bid *x = a, *y = b;
    double d = x->score - y->score;
    if (d > 1e-12)
        return -1;
    if (d < -1e-12)
        return 1;
    return strcmp(x->agent, y->agent);
}

int auction_run(store *st, const route_catalog *cat, const json_t *agents, const plan_step *s,
                const char *instruction, auction_bid **bids, size_t *n, char **err)
{
    *bids = NULL;
    *n = 0;
    if (!s || s->kind != PLAN_AGENT)
        return err_set(err, -EINVAL, "auction_run: an agent step is needed");
    size_t cap = json_object_size(agents);
    auction_bid *b = mem_calloc(cap ? cap : 1, sizeof *b);
    if (!b)
        return err_set(err, -ENOMEM, "out of memory");
    const char *ins = instruction ? instruction : s->instruction ? s->instruction : "";
    uint64_t in = AUCTION_BASE_TOKENS + strlen(ins) / 4;
    const char *task = plan_step_task(s), *name;
    json_t *def;
    size_t k = 0;
    double max_cost = 0;
    int rc = 0;
    buf why = {0};
    json_object_foreach((json_t *)agents, name, def) {
        char w[400];
        if (!plan_agent_eligible(s, def, w, sizeof w)) {
            if (why.len < 600 && buf_printf(&why, "%s%s %s", why.len ? "; " : "", name, w) < 0) {
                rc = err_set(err, -ENOMEM, "out of memory");
                goto fail;
            }
            continue;
        }
        double cost = agent_cost(cat, def, in, AUCTION_OUTPUT_TOKENS);
        if (cost < 0) { /* routed, it could not run */
            if (why.len < 600 && buf_printf(&why, "%s%s: its model %s is in no catalog entry", why.len ? "; " : "",
                                            name, json_string_value(json_object_get(def, "model"))) < 0) {
                rc = err_set(err, -ENOMEM, "out of memory");
                goto fail;
            }
            continue;
        }
        auction_bid *x = &b[k++];
        x->agent = name;
        x->cost = cost;
        x->alpha = x->beta = 1;
        if (st && (rc = store_agent_get(st, name, task, &x->alpha, &x->beta, err)) < 0)
            goto fail;
        x->match = (skill_fit(s, def) + kind_fit(s, def)) / 2;
        x->success_rate = x->alpha / (x->alpha + x->beta);
        if (x->cost > max_cost)
            max_cost = x->cost;
    }
    if (!k) {
        rc = err_set(err, -ENOENT, "step '%s': no agent can take it%s%s%s", s->id ? s->id : "?",
                     why.len ? " (" : " (no agents are defined", buf_str(&why), ")");
        goto fail;
    }
    for (size_t i = 0; i < k; i++)
        b[i].score = AUCTION_W_MATCH * b[i].match + AUCTION_W_SUCCESS * b[i].success_rate +
                     AUCTION_W_COST * (max_cost > 0 ? 1 - b[i].cost / max_cost : 1);
    qsort(b, k, sizeof *b, bid_cmp);
    buf_release(&why);
    *bids = b;
    *n = k;
    return 0;
fail:
    buf_release(&why);
    mem_free(b);
    return rc;
}
