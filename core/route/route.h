/*
 * route.h — model routing and budgets (docs/routing.md,
 * docs/internals/route.md).
 *
 * The catalog is config `models:` resolved once: each model's price comes
 * from the catalog entry, else from `providers.NAME.models.MODEL` (one price
 * arithmetic for both: provider_price_cost). A decision for one
 * model-using step is route_choose, a pure function of the catalog, the
 * posteriors, the step's needs and a seed: constraints filter (capabilities,
 * context, privacy, remaining budget, models that failed this step) → Pareto
 * frontier over (estimated cost, quality, latency) → one Thompson draw per
 * frontier model from its Beta posterior (the stored posterior plus the
 * quality prior as pseudo-observations) → the best score wins; the other
 * feasible models follow in order as fallbacks. Same inputs and seed, same
 * ranking — which is what lets a replay redraw a recorded choice.
 *
 * The router wraps that for the agent loop: posteriors and spend in the
 * store, providers opened lazily per catalog model, budgets per day and per
 * agent, event payloads (route.decided, route.fallback, budget.exceeded).
 * route_choose is reentrant; a router may be used from several threads.
 */
#ifndef VENOM_ROUTE_ROUTE_H
#define VENOM_ROUTE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct config;
struct store;
struct provider;

#define ROUTE_CAP_TOOLS 1u
#define ROUTE_CAP_JSON 2u
#define ROUTE_CAP_VISION 4u
#define ROUTE_CAP_EMBEDDINGS 8u

#define ROUTE_PRIOR_WEIGHT 4.0     /* pseudo-observations the quality prior is worth */
#define ROUTE_COST_WEIGHT 0.2      /* score = draw - w_c * cost/max cost - w_l * latency/max latency */
#define ROUTE_LATENCY_WEIGHT 0.1
#define ROUTE_DEFAULT_QUALITY 0.5
#define ROUTE_DEFAULT_KIND "agent"
#define ROUTE_DEFAULT_AGENT "default"
#define ROUTE_NONE ((size_t)-1)

typedef struct route_model {
    char *provider;    /* the providers: entry */
    char *model;
    char *id;          /* "provider/model": the key of its statistics */
    json_t *price;     /* {input_per_mtok, …} or NULL: unpriced (cost 0) */
    double in_per_mtok, out_per_mtok;
    uint64_t context;  /* tokens; 0 = not given (no limit) */
    unsigned caps;     /* ROUTE_CAP_*; a model without a capabilities list has all of them */
    bool local;
    double latency_ms; /* prior; 0 = not given */
    double quality;    /* prior chance of success, 0..1 */
} route_model;

typedef struct route_catalog {
    route_model *m;
    size_t n;
} route_catalog;

/* The catalog of c->models (an empty one when none). *out owned by the
 * caller (route_catalog_free). -ENOMEM with *err. */
int route_catalog_new(const struct config *c, route_catalog **out, char **err) __attribute__((warn_unused_result));
void route_catalog_free(route_catalog *cat);
/* Index of "provider/model" (or of a bare model id when it is unique), or ROUTE_NONE. */
size_t route_catalog_find(const route_catalog *cat, const char *id);
/* Estimated cost of input + output tokens on m (its price, 0 when unpriced). */
double route_estimate(const route_model *m, uint64_t input_tokens, uint64_t output_tokens);
/* Cost of a canonical usage object on m (provider_price_cost); *priced. */
double route_cost(const route_model *m, const json_t *usage, bool *priced);
/* Whether an agent's model preference (config agents.NAME.model) names m:
 * its id "provider/model", its model or its provider. */
bool route_model_matches(const route_model *m, const char *pref);
/* "tools" → ROUTE_CAP_TOOLS…; 0 when unknown. */
unsigned route_cap(const char *name);

typedef struct route_posterior {
    double alpha, beta; /* stored: 1 + successes, 1 + failures (and feedback) */
} route_posterior;

typedef struct route_need {
    unsigned caps;                 /* ROUTE_CAP_* the step needs */
    uint64_t input_tokens;         /* estimated request size (also the context needed) */
    uint64_t output_tokens;        /* expected output (for the cost estimate) */
    bool local_only;               /* privacy: local-only */
    double budget_left;            /* money left in the tightest budget; < 0 = no limit */
    const bool *exclude;           /* cat->n flags (failed this step) or NULL */
    const bool *allow;             /* cat->n flags: the models the step's agent may use (its model:); NULL = all */
    double cost_weight, latency_weight; /* < 0 = the defaults */
} route_need;

enum route_drop {
    ROUTE_KEPT = 0,     /* feasible */
    ROUTE_DROP_CAPS,    /* lacks a needed capability */
    ROUTE_DROP_CONTEXT, /* context window smaller than the request */
    ROUTE_DROP_PRIVACY, /* cloud model under privacy: local-only */
    ROUTE_DROP_BUDGET,  /* its estimated cost passes the budget left */
    ROUTE_DROP_FAILED,  /* failed earlier in this step */
    ROUTE_DROP_AGENT,   /* not a model the step's agent may use (need->allow) */
};
const char *route_drop_name(int drop);

typedef struct route_cand {
    int drop;          /* enum route_drop */
    bool frontier;     /* on the Pareto frontier of the feasible */
    size_t dominated_by; /* a frontier model that dominates it, or ROUTE_NONE */
    double cost;       /* estimated cost of the step */
    double draw;       /* Thompson draw (frontier), or the posterior mean (others) */
    double score;
    double alpha, beta;/* the posterior the draw used (prior included) */
} route_cand;

typedef struct route_decision {
    route_cand *c;     /* caller-provided, cat->n entries */
    size_t *order;     /* caller-provided, cat->n entries: feasible models, best first */
    size_t n_order;
    size_t choice;     /* order[0], or ROUTE_NONE when nothing fits */
    uint64_t seed;
} route_decision;

/* The decision for one step (see the header comment). post has cat->n
 * entries (NULL: all Beta(1, 1)). Pure and allocation-free. 0, or -EINVAL. */
int route_choose(const route_catalog *cat, const route_posterior *post, const route_need *need, uint64_t seed,
                 route_decision *d) __attribute__((warn_unused_result));

/* Beta(a, b) draw from a xoshiro256** state seeded from seed (for tests and
 * the benchmark's baseline). */
double route_beta_draw(uint64_t seed, double a, double b);

/* ------------------------------------------------------------ the router */

typedef struct router router;

typedef struct router_opts {
    uint64_t seed;       /* the first decision's seed; later ones seed + 1, + 2… */
    bool seeded;         /* false: a random seed (getrandom) */
    double day_budget;   /* overrides config budget.day when > 0 */
    bool local_only;     /* or config privacy: local-only */
} router_opts;

/* A router over c's catalog and budgets, recording in s (borrowed: both
 * must outlive it). -ENOMEM with *err. */
int router_new(const struct config *c, struct store *s, const router_opts *o, router **out, char **err)
    __attribute__((warn_unused_result));
void router_free(router *rt);
const route_catalog *router_catalog(const router *rt);
/* Whether a catalog is configured (routing happens). */
bool router_routes(const router *rt);

/* The routing state of one model-using step (embedded: route_step_release). */
typedef struct route_step {
    const char *kind;   /* task kind (borrowed) */
    size_t model;       /* catalog index in use, or ROUTE_NONE */
    bool *failed;       /* cat->n */
    route_cand *c;
    size_t *order;
    size_t n_order;
    route_need need;
    unsigned fallbacks;
} route_step;
void route_step_release(route_step *st);

/* Decide the step's model: need (its exclude is set from the step) plus
 * the budget left from router_budget_left. *event is the route.decided
 * payload (new reference). st->model is the choice, ROUTE_NONE when
 * nothing fits (the event says why each model was dropped). < 0 on a store
 * failure or no memory, with *err. */
int router_decide(router *rt, const char *kind, const route_need *need, route_step *st, json_t **event, char **err)
    __attribute__((warn_unused_result));
/* The step's model failed (why: one line): mark it, take the next feasible
 * one of the decision's ranking. *event is the route.fallback payload (also
 * when none is left: "to" null). Returns the new st->model or ROUTE_NONE. */
size_t router_fallback(router *rt, route_step *st, const char *why, json_t **event);
/* The provider of catalog model i, opened on first use and kept (borrowed).
 * NULL with *err when it cannot be opened. */
struct provider *router_provider(router *rt, size_t i, char **err);

/* Budgets (per UTC day over all agents, per agent per day; the run's own
 * is the agent loop's --max-cost). The least money left, < 0 = no limit;
 * *which names the tightest ("day" or "agent"), *spent and *limit its state. */
int router_budget_left(router *rt, const char *agent, double *left, const char **which, double *spent, double *limit,
                       char **err) __attribute__((warn_unused_result));
/* Check before a call of estimated cost est: 1 (and *event, the
 * budget.exceeded payload) when it would pass a budget, 0 when not, < 0 on
 * a store failure. */
int router_budget_check(router *rt, const char *agent, double est, json_t **event, char **err)
    __attribute__((warn_unused_result));
/* Add a call's cost to today's spend of the agent. */
int router_spend(router *rt, const char *agent, double cost, char **err) __attribute__((warn_unused_result));
/* Record a step's outcome on model i (store_route_outcome). */
int router_record(router *rt, const char *kind, size_t i, int success, unsigned turns, unsigned retries,
                  double latency_ms, double cost, char **err) __attribute__((warn_unused_result));
/* The budget.exceeded payload for the run's own budget (--max-cost). */
json_t *route_budget_event(const char *which, const char *agent, double spent, double limit, double estimate);
/* Today as "YYYY-MM-DD" (UTC). */
void route_today(char day[16]);

#endif
