/*
 * orchestrate.h — run a checked plan (core/plan) as one run of the event
 * log: a fixed pool of worker threads runs every step whose dependencies
 * are done, so independent branches run in parallel. Per step: `when`
 * (false: skipped), a timeout per attempt, retries with exponential backoff
 * and jitter. A failed step skips its dependants (with the reason) and
 * fails the run; independent branches still finish. The whole run stops on
 * *cancel (SIGINT/SIGTERM), on its timeout, or on a "stop" request in the
 * store's run_control (`venom runs stop ID` from another process); "pause"
 * lets in-flight steps finish and starts no new one until "resume".
 * Skill steps go through registry_call (sandboxed as the registry decides);
 * agent steps run the agent loop in the same run, tagged with the step id.
 * An agent step without a named agent is assigned by auction (below)
 * before it starts. With a router that has a catalog, agent steps are
 * routed: each step picks its model (route.decided carries plan_step).
 * Events: docs/events.md (plan.validated, step.*, run.paused, run.resumed,
 * auction.bid, auction.won).
 */
#ifndef VENOM_ORCHESTRATE_ORCHESTRATE_H
#define VENOM_ORCHESTRATE_ORCHESTRATE_H

#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>

#include "agent/agent.h"

struct plan;
struct plan_step;
struct registry;
struct provider;
struct route_catalog;
struct router;
struct store;

typedef struct orch_opts {
    const char *goal;          /* the runs index's goal (e.g. "plan: FILE"); required */
    const char *source;        /* where the plan came from: "file", "model", "offline", "cache"; NULL = "file" */
    const char *workdir;       /* absolute; required */
    size_t parallel;           /* worker threads; 0 = the number of CPUs, at least 2 */
    atomic_int *cancel;        /* set to 1 (SIGINT) to interrupt; may be NULL */
    unsigned timeout_ms;       /* the whole run; 0 = none (status "limit" when it passes) */
    struct provider *prov;     /* for agent steps; may be NULL when the plan has none */
    const json_t *agents;      /* the config's agents (role, skills, model, budget) */
    unsigned backoff_ms;       /* first retry delay; 0 = 200 (doubles each retry, jittered, at most 30 s) */
    unsigned control_ms;       /* how often run_control is read; 0 = 100 */
    const char *run_id;        /* an existing run (`venom run "goal"` plans in it first): no run.started and
                                * no run.finished — the caller writes them; NULL = a run of its own */
    struct router *router;     /* budgets and, with a catalog, the model of each agent step (then prov is
                                * not used for them); may be NULL */
} orch_opts;

typedef struct orch_outcome {
    agent_status status;  /* AGENT_DONE, AGENT_FAILED, AGENT_INTERRUPTED, AGENT_LIMIT, AGENT_SANDBOX */
    char run_id[32];
    size_t done, failed, skipped;
    char *reason;         /* why it did not finish "done" (mem_alloc'd) or NULL */
} orch_outcome;
void orch_outcome_clear(orch_outcome *o);

/*
 * Run plan p (checked with plan_check against r). Every event goes to the
 * store and then to sink->event (serialised; any thread). Returns 0 when the
 * run was recorded, whatever its status (out->status), or < 0 with *err
 * when it could not start or the event log failed.
 */
int orchestrate_run(struct registry *r, struct store *s, const struct plan *p, const orch_opts *o,
                    const agent_sink *sink, orch_outcome *out, char **err) __attribute__((warn_unused_result));

/* ------------------------------------------------------------ the auction */

/*
 * An agent step with no named agent goes to the agents that can take it
 * (plan_agent_eligible). Each bids
 *
 *   score = W_MATCH * match + W_SUCCESS * success_rate + W_COST * (1 - cost / max cost)
 *
 * match        = (skill fit + kind fit) / 2. Skill fit: 1 when the step
 *                needs nothing; else the fraction of the agent's skills
 *                entries that the step needs (a specialist beats a
 *                generalist); 0.5 for an agent allowed every skill. Kind
 *                fit: 1 when the agent's kinds list the step's kind, 0.5
 *                when it lists none, 0 otherwise.
 * success_rate = alpha / (alpha + beta) of the agent on the step's kind
 *                (store agent_stats; Beta(1, 1) prior: a new agent bids 0.5).
 * cost         = the step's estimated tokens (AUCTION_BASE_TOKENS + the
 *                instruction's length / 4 in, AUCTION_OUTPUT_TOKENS out) on
 *                the cheapest catalog model the agent may use (its model:,
 *                else any); unpriced or no catalog: 0. Normalised by the
 *                highest cost among the bids (all 0: the term is W_COST).
 *                With a catalog, an agent whose model: names none of it
 *                does not bid (it could not run).
 *
 * The highest score wins; equal scores go to the name that sorts first.
 * Deterministic: same agents, statistics and catalog, same outcome.
 */
#define AUCTION_W_MATCH 0.4
#define AUCTION_W_SUCCESS 0.4
#define AUCTION_W_COST 0.2
#define AUCTION_BASE_TOKENS 1000
#define AUCTION_OUTPUT_TOKENS 500

typedef struct auction_bid {
    const char *agent;   /* borrowed: a key of the agents object */
    double match, success_rate, alpha, beta, cost, score;
} auction_bid;

/*
 * Collect the bids for agent step s among agents (config agents:) with
 * the statistics of st (may be NULL: every agent 1, 1) and the catalog
 * cat (may be NULL). *bids (mem_alloc'd, the caller frees) holds *n bids,
 * best first: (*bids)[0] is the winner. instruction is the step's
 * resolved instruction (for the token estimate; NULL: s->instruction).
 * -ENOENT with *err when no agent can take the step, -ENOMEM, or a store
 * error. Any thread.
 */
int auction_run(struct store *st, const struct route_catalog *cat, const json_t *agents, const struct plan_step *s,
                const char *instruction, auction_bid **bids, size_t *n, char **err) __attribute__((warn_unused_result));

#endif
