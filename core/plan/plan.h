/*
 * plan.h — a plan: a DAG of steps, each a skill call (skill + args) or an
 * agent given an instruction, read from a YAML or JSON file (docs/plan.md,
 * docs/plan.schema.json), with ${vars.NAME} filled in, then validated
 * against the skill registry and the configured agents before anything
 * runs. Every error names file:line and a fix.
 *
 * References: a string in args (or an instruction, or `when`) may hold
 * ${steps.ID.result} or ${steps.ID.result/json/pointer} (RFC 6901). A
 * reference makes ID a dependency of the step (added to depends_on if it is
 * not there). A string that is exactly one reference is replaced by the
 * JSON value; a reference inside a longer string by its text (a string
 * as is, anything else as compact JSON). "$${" is a literal "${".
 *
 * Invariants of a plan that plan_check accepted: ids unique, every
 * reference and dependency names a step, the graph has no cycle, and
 * order[] lists the steps so that every step comes after its dependencies.
 * A checked plan is immutable: any number of threads may read it.
 */
#ifndef VENOM_PLAN_PLAN_H
#define VENOM_PLAN_PLAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct registry;
struct reg_skill;

#define PLAN_MAX_STEPS 100000
#define PLAN_MAX_ERRORS 20 /* problems listed in one error message */

typedef enum plan_kind { PLAN_SKILL = 0, PLAN_AGENT = 1 } plan_kind;

typedef struct plan_step {
    char *id;
    plan_kind kind;
    char *skill;                  /* PLAN_SKILL: "pack.skill" */
    const struct reg_skill *rs;   /* resolved by plan_check (NULL before, or without a registry) */
    json_t *args;                 /* PLAN_SKILL: an object, vars filled in, may hold ${steps…} */
    char *agent;                  /* PLAN_AGENT: a name in the config's agents; NULL = auction (`agent: auto`
                                   * or no agent key) */
    char *instruction;            /* PLAN_AGENT: the goal given to the agent (may hold references) */
    char *task;                   /* PLAN_AGENT: `kind:`, the task kind (routing, agent statistics, an
                                   * agent's kinds); NULL = not given ("agent") */
    char **needs;                 /* PLAN_AGENT: `needs:`, skills the agent must be allowed ("pack",
                                   * "pack.skill"; "pack.*" is stored as "pack") */
    size_t n_needs;
    size_t *deps;                 /* indices into plan.steps: depends_on plus the referenced steps */
    size_t n_deps;
    unsigned retries;             /* extra attempts after a failure; default 0, at most 10 */
    unsigned timeout_ms;          /* per attempt; 0 = none */
    char *when;                   /* a condition (docs/plan.md) or NULL */
    int line;                     /* line of the step in the file */
} plan_step;

typedef struct plan {
    char *file;          /* the file name used in messages */
    char *name;          /* optional `name:` */
    plan_step *steps;
    size_t n;
    size_t *order;       /* a topological order (set by plan_check) */
    struct doc *doc;     /* the parsed document (for lines) */
} plan;

/* One --set NAME=VALUE. */
typedef struct plan_var {
    const char *name;
    const char *value;
} plan_var;

/*
 * Parse plan text (YAML or JSON; filename picks the format as doc_parse
 * does and names the file in messages) and fill in ${vars.NAME} from vars
 * (--set) over the plan's `vars:` defaults. Checks the structure: unknown
 * keys, types, duplicate ids, the vars. On success *out is the caller's
 * (plan_free). -EINVAL with every problem, one per line
 * ("file:line: problem; fix"), -E2BIG, -ENOMEM. Any thread.
 */
int plan_parse(const char *text, size_t len, const char *filename, const plan_var *vars, size_t n_vars, plan **out,
               char **err) __attribute__((warn_unused_result));
/* Read the file at path (at most 16 MiB) and plan_parse it. */
int plan_load(const char *path, const plan_var *vars, size_t n_vars, plan **out, char **err)
    __attribute__((warn_unused_result));

/*
 * Validate a parsed plan: references and dependencies name steps (not the
 * step itself), no cycle (the message prints it: "a -> b -> a"), `when`
 * parses, every skill exists in r (closest names suggested) and its
 * arguments pass the skill's schema (those free of references fully; those
 * with references key by key), every agent step names an agent of `agents`
 * (the config's agents object, may be NULL) that can take it, or, for an
 * auctioned step, at least one agent can (plan_agent_eligible; the message
 * names each agent and what it lacks), and every `needs:` entry names a
 * skill or pack of r. r may be NULL: skills are then not looked up (fuzzing).
 * Sets deps, rs and order. 0, or -EINVAL with every problem one per line,
 * -ENOMEM. Call once.
 */
int plan_check(plan *p, struct registry *r, const json_t *agents, char **err) __attribute__((warn_unused_result));

/*
 * The agents plans may name or auction to: a copy of config_agents (config
 * agents:, may be NULL) plus the agents every pack of r declares, as
 * PACK.NAME, each with "pack" (its pack) and "source" ("manifest:line" of
 * its skills) added. A config agent of the same name wins. plan_check checks
 * a pack agent's skills name installed skills or packs. New reference; NULL
 * on no memory.
 */
json_t *plan_agents(const json_t *config_agents, const struct registry *r);

/* NULL is fine. */
void plan_free(plan *p);

/* The task kind of an agent step: its `kind:` or PLAN_DEFAULT_TASK. */
#define PLAN_DEFAULT_TASK "agent"
const char *plan_step_task(const plan_step *s);

/* Whether an agent's skills allowlist entry ("pack", "pack.*" or
 * "pack.skill") allows the needed skill or pack `need`. */
bool plan_skill_covers(const char *allow, const char *need);

/*
 * Whether agent definition def (an object of config agents:) can take
 * agent step s: its skills (no skills key: every skill) cover each of
 * s->needs, and, when the step states a kind and the agent lists kinds:,
 * the kind is among them. When not, why (if not NULL) receives what it
 * lacks ("lacks text.count, fs" or "takes kinds code only"). Pure.
 */
bool plan_agent_eligible(const plan_step *s, const json_t *def, char *why, size_t why_len);

/* The plan as a JSON object in the file format (vars filled in; depends_on
 * with the implied dependencies too), for events and `--plan-only`. New
 * reference, NULL on allocation failure. */
json_t *plan_to_json(const plan *p);

/* Results of finished steps, for resolution: result of step i, or NULL when
 * it has none (not run, skipped). */
typedef const json_t *(*plan_result_fn)(void *user, size_t step);

/*
 * Resolve the references of a value (args or an instruction string):
 * returns a new value with every ${steps.ID.result…} replaced. -ENOENT with
 * *err when a referenced result is missing or its pointer names nothing.
 * Thread-safe on a checked plan.
 */
int plan_resolve(const plan *p, const json_t *value, plan_result_fn fn, void *user, json_t **out, char **err)
    __attribute__((warn_unused_result));

/*
 * Evaluate a step's `when` (true when it has none): *yes receives the
 * outcome. Forms: REF, !REF (truthiness: false, null, 0, "", [] and {} are
 * false), REF == LITERAL, REF != LITERAL (LITERAL: JSON — true, false,
 * null, a number, "a string" — or a bare word, a string). -ENOENT when a
 * referenced result is missing.
 */
int plan_when(const plan *p, const plan_step *s, plan_result_fn fn, void *user, bool *yes, char **err)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------ planning a goal
 * (core/plan/planner.c, docs/plan.md "Planning a goal"). A provider is asked
 * for a plan as JSON against docs/plan.schema.json (embedded at build time),
 * the answer is parsed and checked, and the validation errors go back to the
 * provider for a corrected plan, a bounded number of times. */

struct provider;

/* An event of planning (payload stolen; the caller appends it to its run). */
typedef void (*planner_emit_fn)(void *user, const char *type, json_t *payload);

typedef struct planner_opts {
    const char *goal;             /* required */
    const char *workdir;          /* absolute; required */
    const char *const *skills;    /* allowlist as agent_opts.skills; NULL = every skill */
    size_t n_skills;
    const json_t *agents;         /* the agents plan_check accepts ("default" always) */
    unsigned repairs;             /* corrected plans asked for after an invalid one */
    double threshold;             /* below this confidence: no repair, the questions count */
    const char *run_id;           /* for the request's metadata; may be NULL */
    atomic_int *cancel;           /* may be NULL */
    planner_emit_fn emit;         /* may be NULL */
    void *user;
} planner_opts;

typedef struct planner_result {
    plan *p;              /* the checked plan (caller's, plan_free), or NULL (no steps, or undecided) */
    json_t *plan_json;    /* p as plan_to_json, or NULL */
    double confidence;    /* the answer's confidence (1 when it gave none) */
    json_t *questions;    /* array of strings (may be empty) */
    unsigned attempts;    /* model calls made */
    double cost;          /* money of those calls (configured prices) */
    bool unpriced;        /* a call had no configured price */
    json_t *usage;        /* their summed usage (input/cached/cache_write/output tokens) */
} planner_result;
void planner_result_clear(planner_result *r);

/* The tools offered to a planning call: as the agent builds them (name,
 * description, parameters, examples) plus output_schema (the skill's result
 * schema, when it has one). New reference; NULL on no memory. */
json_t *planner_tools(struct registry *r, const char *const *skills, size_t n_skills);

/*
 * Plan goal o->goal with provider prov. 0: out->p is a checked plan, or NULL
 * with out->confidence below o->threshold (out->questions say why).
 * -EPROTO: no valid plan after 1 + o->repairs answers (*err: the last
 * problems). -EIO: the provider failed (*err). -ECANCELED on *cancel.
 * -ENOMEM. Events: plan.requested, plan.response, plan.invalid.
 */
int planner_plan(struct registry *r, struct provider *prov, const planner_opts *o, planner_result *out, char **err)
    __attribute__((warn_unused_result));

/*
 * The answer turn of a planned run whose last step is a skill step: the goal,
 * then the steps that ran as assistant tool calls with their results, asked
 * with tool_choice "none". results: {step id: result}. *answer is the text
 * (mem_alloc'd). Events plan.requested and plan.response (purpose "answer").
 * 0, or -EIO with *err (the caller falls back to the last result).
 */
int planner_answer(struct registry *r, struct provider *prov, const planner_opts *o, const plan *p,
                   const json_t *results, planner_result *acct, char **answer, char **err)
    __attribute__((warn_unused_result));

/* The outermost JSON object in a model's text (fences and prose around it
 * are fine): the first '{' whose balanced span parses as an object. 0 and a
 * new reference, or -ENOENT with *err. Any text; never reads past len. */
int planner_extract(const char *text, size_t len, json_t **out, char **err) __attribute__((warn_unused_result));

/* The plan cache key of a goal: lowercase (ASCII), runs of white space made
 * one space, leading/trailing space and trailing . ! ? , ; : removed.
 * mem_alloc'd; NULL on no memory. */
char *plan_goal_key(const char *goal);

/* The plan as YAML in the file format (`venom run --plan-only`), which
 * plan_parse reads back: block mappings, values as JSON (valid YAML flow).
 * mem_alloc'd; NULL on no memory. */
char *plan_to_yaml(const json_t *plan_json);

#endif
