/*
 * config.h — venom's configuration: built-in defaults, then
 * $VENOM_HOME/config.yaml, then VENOM_* environment variables, then flags
 * (applied by the CLI). Unknown keys in the file are errors naming the key
 * and its line. Reference: docs/config.md.
 */
#ifndef VENOM_CONFIG_CONFIG_H
#define VENOM_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum { CONFIG_COLOR_AUTO = 0, CONFIG_COLOR_ALWAYS = 1, CONFIG_COLOR_NEVER = 2 };

typedef struct config {
    char *home;          /* $VENOM_HOME, default ~/.venom */
    char *file;          /* the config file read, or NULL if none existed */
    char *workdir;       /* default workdir of skills; default "." */
    int log_level;       /* VENOM_LOG_*; default warn */
    int color;           /* CONFIG_COLOR_* */
    char **skill_paths;  /* extra skill directories, searched after the user's */
    size_t n_skill_paths;
    char *system_skills; /* system skill directory ("" = none); its packs are first-party, trusted */
    char **trust;        /* names of further packs trusted to run in-process */
    size_t n_trust;
    char **trusted_keys; /* public keys whose signed packs install and are trusted (besides venom trust add) */
    size_t n_trusted_keys;
    /* sandbox: the warm pool of runs with many calls (docs/config.md) */
    size_t sandbox_pool;      /* ready workers per sandboxed pack; default 2, 0..64 */
    unsigned sandbox_idle_ms; /* end idle pooled processes after this; default 30000, 0 = never */
    char **sandbox_reuse;     /* packs whose pooled workers serve several calls */
    size_t n_sandbox_reuse;
    /* providers and the agent loop (docs/config.md, docs/providers.md) */
    char *provider;           /* provider entry used by `venom run`; default "offline" */
    char *model;              /* model override ("" = the entry's model) */
    json_t *providers;        /* providers: {name: {plugin, base_url, api_key_env, model, …}}, validated */
    char *system_providers;   /* system provider directory ("" = none) */
    unsigned max_steps;       /* agent.max_steps: model turns per run; default 20 */
    double max_cost;          /* agent.max_cost: money per run, 0 = no limit */
    unsigned timeout_s;       /* agent.timeout: seconds per run, 0 = none */
    char *system_prompt;      /* agent.system ("" = the built-in one) */
    json_t *agents;           /* agents: {NAME: {role, skills, model, budget}} for plan agent steps; {} by default */
    /* routing and budgets (docs/routing.md) */
    json_t *models;           /* models: the routing catalog, a validated list; NULL = none (no routing) */
    double budget_day;        /* budget.day: money per UTC day over all runs; 0 = none */
    json_t *budget_agents;    /* budget.agents: {name: money per UTC day}; NULL = none */
    bool local_only;          /* privacy: local-only (route to local models only) */
    /* planning a goal (docs/plan.md "Planning a goal") */
    bool planner_agent;       /* planner.mode: agent — `venom run "goal"` is one agent loop, as
                               * --no-plan; plan (the default): the goal is planned first */
    double planner_threshold; /* planner.threshold: confidence below which it asks; < 0 = unset (0.5) */
    unsigned planner_repairs; /* planner.repairs: corrected plans asked for; default 2 */
} config;

struct doc;
/* Check an agents: mapping {NAME: {role, skills, model, budget, kinds}} found
 * at /agents of d (config.yaml's, or a pack manifest's: docs/plan.md
 * "Agents"). 0, or -EINVAL with one line "file:line: problem" in *err. Any
 * thread; v is only read. */
int config_agents_check(const struct doc *d, json_t *v, char **err) __attribute__((warn_unused_result));

/* Load defaults, the file and the environment. *err is one line. */
int config_load(config **out, char **err) __attribute__((warn_unused_result));
void config_free(config *c);
/* Parse a log level name ("error", "warn", "info", "debug"); -1 if unknown. */
int config_log_level(const char *name);
/* The skill directories in precedence order: ./.venom/skills,
 * $VENOM_HOME/skills, skill_paths…, the system directory. Strings are
 * mem_alloc'd; free each and the array. */
int config_skill_dirs(const config *c, char ***dirs, size_t *n) __attribute__((warn_unused_result));

/* The provider directories in precedence order: ./.venom/providers,
 * $VENOM_HOME/providers, the system directory. Same ownership as above. */
int config_provider_dirs(const config *c, char ***dirs, size_t *n) __attribute__((warn_unused_result));
/* The entry `name` of `providers` with defaults filled in (a new object:
 * name, plugin, base_url, api_key_env, model, stream, headers, options,
 * timeouts, retries, models). A name absent from the file is still valid
 * when a provider plugin of that name exists: its entry is all defaults. */
json_t *config_provider_entry(const config *c, const char *name);

#endif
