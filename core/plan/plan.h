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

#endif
