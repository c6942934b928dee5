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
 * Events: docs/events.md (plan.validated, step.*, run.paused, run.resumed).
 */
#ifndef VENOM_ORCHESTRATE_ORCHESTRATE_H
#define VENOM_ORCHESTRATE_ORCHESTRATE_H

#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>

#include "agent/agent.h"

struct plan;
struct registry;
struct provider;
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

#endif
