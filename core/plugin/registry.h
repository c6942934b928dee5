/*
 * registry.h — the skills venom knows: packs found in the skill directories
 * (project ./.venom/skills, user $VENOM_HOME/skills, system
 * $prefix/lib/venom/skills, in that order of precedence), their manifests
 * read at start-up, and their plugins loaded only on first use.
 *
 * A pack found in an earlier directory shadows a pack of the same name in a
 * later one. Bad packs are skipped and recorded as problems (one line each,
 * naming the file and the reason). Listing and describing skills never loads
 * a shared object. Thread-safe for calls; scanning happens in registry_new.
 */
#ifndef VENOM_PLUGIN_REGISTRY_H
#define VENOM_PLUGIN_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "plugin/host.h"
#include "plugin/manifest.h"

typedef struct registry registry;
typedef struct reg_skill reg_skill;

typedef struct registry_opts {
    const char *const *dirs;    /* skill directories, highest precedence first */
    size_t n_dirs;
    const char *first_party;    /* packs found in this directory are trusted (may be NULL) */
    const char *const *trusted; /* names of further trusted packs (config `trust`) */
    size_t n_trusted;
    /* Packs installed with `venom skill install` (in a directory's
     * venom.lock) are trusted only when signed by one of these keys
     * (pack_trust_list's array, and public keys from config trusted_keys),
     * and their manifest and shared objects must match the lock file. */
    const json_t *trusted_keys;
    const char *const *extra_keys;
    size_t n_extra_keys;
    bool in_worker;             /* inside a sandboxed worker: run everything in-process */
    bool dirs_are_packs;        /* each of dirs is one pack directory, not a directory of packs */
    /* Sandboxed calls (docs/sandbox.md, "The warm pool"): with pool_warm > 0
     * each pack (per workdir) gets a pool of that many ready workers, made on
     * its first call and kept until registry_free; 0 starts a fresh worker
     * per call (`venom skill run`). Packs named in reuse get pooled workers
     * that serve several calls. */
    size_t pool_warm;
    unsigned pool_idle_ms;      /* end a pool's idle processes after this (0: never) */
    const char *const *reuse;   /* config sandbox.reuse */
    size_t n_reuse;
    /* $VENOM_HOME/mcp.json (NULL: none): each registered MCP server is a
     * pack of that name whose skills are its cached tools (NAME.tool); the
     * server is started in its sandbox on the first call and kept until
     * registry_free (docs/mcp.md). */
    const char *mcp_config;
} registry_opts;

/* Scan the directories. Only allocation failure is an error; bad packs
 * become problems. */
int registry_new(const registry_opts *o, registry **out, char **err) __attribute__((warn_unused_result));
/* Unload every loaded plugin (shutdown, dlclose) and free. NULL is fine. */
void registry_free(registry *r);

/* Problems found while scanning (and loading), one line each. */
size_t registry_problem_count(const registry *r);
const char *registry_problem(const registry *r, size_t i);

/* Skills, sorted by full name ("pack.skill"). Borrowed, valid until free. */
size_t registry_skill_count(const registry *r);
const reg_skill *registry_skill_at(const registry *r, size_t i);
const reg_skill *registry_find(const registry *r, const char *full_name);
/* Up to max closest skill names to `name` (borrowed strings). */
size_t registry_suggest(const registry *r, const char *name, const char **out, size_t max);
/* Number of plugin shared objects loaded so far. */
size_t registry_loaded(const registry *r);

const char *reg_skill_name(const reg_skill *s);        /* "fs.read" */
const manifest *reg_skill_manifest(const reg_skill *s);
const manifest_skill *reg_skill_entry(const reg_skill *s);
bool reg_skill_typed(const reg_skill *s);              /* a libffi typed skill */
/* True when calls run in a sandboxed worker: the pack is not trusted, or
 * its manifest asks for isolation "sandbox". */
bool reg_skill_sandboxed(const registry *r, const reg_skill *s);
/* The argument schema (for typed skills derived from the params). Borrowed. */
const json_t *reg_skill_args_schema(const reg_skill *s);

/* Outcome of registry_call beyond the return code. */
typedef struct registry_result {
    json_t *value;   /* the result (new reference) on success */
    int32_t code;    /* the skill's VENOM_E_* code when it failed, else 0 */
} registry_result;

typedef struct registry_call_opts {
    const char *workdir;  /* the run's workdir (path skills are confined to it) */
    atomic_int *cancel;   /* set non-zero to cancel; may be NULL */
} registry_call_opts;

/* Return codes of registry_call (besides 0). */
#define REGISTRY_E_ARGS (-EINVAL)   /* arguments failed the schema: exit 2 */
#define REGISTRY_E_LOAD (-ELIBBAD)  /* the plugin could not be loaded: exit 4 */
#define REGISTRY_E_FAILED (-EIO)    /* the skill ran and failed: exit 1 */
#define REGISTRY_E_SANDBOX (-EPERM) /* the sandbox the pack needs is unavailable: exit 5 */

/* Validate args against the skill's schema, then call it — in a sandboxed
 * worker (reg_skill_sandboxed) or in-process, loading its plugin if needed —
 * and validate the result against its result schema. *err is one line.
 * Thread-safe. */
int registry_call(registry *r, const reg_skill *s, const json_t *args, const registry_call_opts *o,
                  registry_result *res, char **err) __attribute__((warn_unused_result));
/* Load the skill's plugin now (venom skill info --load, tests). */
int registry_load(registry *r, const reg_skill *s, char **err) __attribute__((warn_unused_result));

#endif
