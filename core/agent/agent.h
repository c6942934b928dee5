/*
 * agent.h — the agent loop of `venom run "goal"`: the permitted skills
 * become tools (name, description, argument schema, examples), the provider
 * is called, the tool calls of a turn run (in parallel, sandboxed where the
 * pack is untrusted), their results go back to the model, and the loop stops
 * on a final answer or a limit (steps, cost, time), saying which. Every
 * moment of the run is an event appended to the store (docs/events.md) and
 * handed to the sink, in the order appended.
 */
#ifndef VENOM_AGENT_AGENT_H
#define VENOM_AGENT_AGENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct registry;
struct provider;
struct router;
struct store;

/* How a run ended: the "status" of run.finished and the exit code. */
typedef enum agent_status {
    AGENT_DONE = 0,        /* "done": a final answer (exit 0) */
    AGENT_FAILED,          /* "failed": the goal could not be done (exit 1) */
    AGENT_UNDECIDED,       /* "undecided": the provider asked instead of guessing (exit 2) */
    AGENT_LIMIT,           /* "limit": max steps, max cost or timeout (exit 3) */
    AGENT_PROVIDER,        /* "provider_error" (exit 4) */
    AGENT_SANDBOX,         /* "sandbox_unavailable" (exit 5) */
    AGENT_INTERRUPTED,     /* "interrupted": SIGINT/SIGTERM (exit 130) */
} agent_status;

const char *agent_status_name(agent_status s);
int agent_status_exit(agent_status s);

typedef struct agent_opts {
    const char *goal;
    const char *system;          /* system prompt; NULL or "" = the built-in one */
    const char *workdir;         /* absolute */
    const char *const *skills;   /* allowlist: "pack", "pack.skill" or "pack.*"; NULL = every skill */
    size_t n_skills;
    unsigned max_steps;          /* model turns; 0 = 20 */
    double max_cost;             /* money; 0 = no limit */
    unsigned timeout_ms;         /* whole run; 0 = none */
    bool stream;                 /* ask the provider to stream text */
    size_t parallel;             /* tool calls of one turn run at once; 0 = 8 */
    atomic_int *cancel;          /* set to 1 (SIGINT) to interrupt; may be NULL */
    /* An agent step of a plan (core/orchestrate): append to this existing
     * run instead of starting one — no run.started/run.finished, the
     * outcome is the caller's to record — and tag every event with
     * "plan_step": step_tag. NULL for a run of its own. */
    const char *run_id;
    const char *step_tag;
    struct router *router;       /* budgets per day/agent and, with a catalog and no provider given to
                                  * agent_run, the model of the step (docs/routing.md); NULL = none */
    const char *kind;            /* task kind of the step for routing; NULL = "agent" */
    const char *agent;           /* the agent, for its budget and spend; NULL = "default" */
    const char *model;           /* the agent's model preference (config agents.NAME.model): routing picks
                                  * only among the catalog models it names (route_model_matches); NULL = any */
} agent_opts;

typedef struct agent_sink {
    void (*event)(void *user, const json_t *event);   /* every event as stored (any thread, serialised) */
    void (*text)(void *user, const char *text);       /* streamed answer text */
    void (*step)(void *user, const char *what);       /* what runs now (for a spinner) */
    void *user;
} agent_sink;

typedef struct agent_outcome {
    agent_status status;
    char run_id[32];
    char *answer;  /* final answer or NULL (mem_alloc'd) */
    char *reason;  /* why it stopped when not done (mem_alloc'd) */
} agent_outcome;
void agent_outcome_clear(agent_outcome *o);

/* Run the goal on provider p, or, when p is NULL and o->router has a
 * catalog, on the model the router picks (falling back to the next on a
 * provider failure). Returns 0 when the run was recorded (whatever its status;
 * see out->status), or < 0 when it could not start (the store failed, no
 * memory), with *err. */
int agent_run(struct registry *r, struct provider *p, struct store *s, const agent_opts *o, const agent_sink *sink,
              agent_outcome *out, char **err) __attribute__((warn_unused_result));

/* The tool name of a skill: "pack.skill" -> "pack__skill" (into buf). */
void agent_tool_name(const char *skill, char *buf, size_t n);
/* Whether an allowlist (--skills, an agent's skills:) of n entries
 * ("pack", "pack.skill", "pack.*") permits the skill; NULL permits all. */
bool agent_skill_allowed(const char *const *skills, size_t n, const char *skill);
struct reg_skill;
/* The tool definition a provider gets for skill s (name, description,
 * parameters, examples; with output_schema also the result schema, for the
 * planner). New reference, NULL on allocation failure. */
json_t *agent_tool_def(const struct reg_skill *s, const char *tool_name, bool output_schema);

#endif
