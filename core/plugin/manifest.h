/*
 * manifest.h — the skill-pack manifest: venom.json or venom.yaml in a pack
 * directory, read with util/doc and checked key by key. It declares the
 * pack (name, version, library), its skills (argument/result schemas,
 * examples, typed C functions), its providers, the permissions its code
 * runs with and its resource limits. Reference: docs/manifest.md.
 *
 * Every unknown key, wrong type, missing field or bad value is an error
 * "<path>:<line>: <problem>; <how to fix>" (the first one found). A parsed
 * manifest is immutable: any number of threads may read it.
 */
#ifndef VENOM_PLUGIN_MANIFEST_H
#define VENOM_PLUGIN_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Caps on the optional "limits" (values above them are errors). */
#define MANIFEST_MAX_TIME_MS 86400000u              /* 24 h */
#define MANIFEST_MAX_MEMORY_MB 65536u               /* 64 GiB */
#define MANIFEST_MAX_PROCESSES 4096u
#define MANIFEST_MAX_OUTPUT_BYTES (1024ull * 1024 * 1024) /* 1 GiB */
#define MANIFEST_MAX_PARAMS 32

typedef struct manifest_skill {
    char *name;
    char *description;
    json_t *args_schema;   /* owned ref, never NULL: {"type":"object"} by default */
    json_t *result_schema; /* owned ref or NULL */
    json_t *examples;      /* owned ref to an array, or NULL */
    /* owned ref or NULL: the validated "function" object, as written
     * except that ${triplet} in "library" is already replaced:
     * {"symbol", "returns", optional "library", optional "params"} */
    json_t *function;
    int line; /* line of the skill in the manifest */
} manifest_skill;

typedef struct manifest_provider {
    char *name;
    char *description; /* may be NULL */
    int line;
} manifest_provider;

/* An agent the pack declares ("agents": {NAME: {...}}, docs/plan.md
 * "Agents"): plans name it PACK.NAME. */
typedef struct manifest_agent {
    char *name;  /* NAME, unqualified (manifest_name_ok) */
    json_t *def; /* owned: {role, skills, model, budget, kinds} as written (checked as
                  * config.yaml's agents:), "skills" defaulting to [PACK] */
    int line;    /* line of the agent in the manifest */
    int skills_line; /* line of its "skills" (the agent's line when absent) */
} manifest_agent;

enum { MANIFEST_NET_NONE = 0, MANIFEST_NET_HOSTS = 1, MANIFEST_NET_FULL = 2 };
enum { MANIFEST_ISO_SANDBOX = 0, MANIFEST_ISO_INPROCESS = 1 };

typedef struct manifest_strv {
    char **v;
    size_t n;
} manifest_strv;

typedef struct manifest {
    char *path; /* the manifest file, as given */
    char *dir;  /* the pack dir: absolute dirname of path */
    char *name, *version, *description;
    char *license; /* may be NULL */
    char *library; /* absolute path inside dir (${triplet} replaced), or NULL */
    int isolation; /* MANIFEST_ISO_* */
    struct {
        manifest_strv fs_read, fs_write; /* "." = the run's workdir; relative = under it */
        manifest_strv net_hosts;         /* with MANIFEST_NET_HOSTS; "*.example.org" wildcards */
        manifest_strv env, secrets;
        int network; /* MANIFEST_NET_* */
        bool exec;
    } perms;
    struct {
        uint32_t time_ms;
        uint32_t memory_mb;
        uint32_t processes;
        uint64_t output_bytes;
    } limits; /* 0 = the default */
    manifest_skill *skills;
    size_t n_skills;
    manifest_provider *providers;
    size_t n_providers;
    manifest_agent *agents; /* in the manifest's order */
    size_t n_agents;
} manifest;

/*
 * Parse and check a manifest from text. path names the file in messages,
 * picks the format by its extension (.json, .yaml/.yml; otherwise sniffed)
 * and gives the pack dir. On success *out is the caller's (manifest_free).
 * Errors: -EINVAL (any problem in the manifest), -E2BIG (size/depth
 * limits), -ENOMEM; *err holds one line "<path>:<line>: problem; fix".
 * Any thread.
 */
int manifest_parse(const char *text, size_t len, const char *path, manifest **out, char **err)
    __attribute__((warn_unused_result));

/* Read the file at path and manifest_parse it. Errors as manifest_parse,
 * plus -errno when the file cannot be read. A "library" (pack level or in a
 * "function") with ${triplet} must also exist for this host: otherwise
 * -EINVAL "<path>:<line>: ... no library for this machine (<triplet>) ...
 * the pack has libraries for: <triplets>" (manifest_parse, which sees no
 * files, only replaces it). */
int manifest_load(const char *path, manifest **out, char **err) __attribute__((warn_unused_result));

/*
 * Find the manifest in a pack dir: venom.json or venom.yaml. On success
 * *path_out is "<dir>/venom.json" (or .yaml), mem_alloc'd. -ENOENT when
 * neither exists, -EINVAL when both do, -ENOMEM; *err explains.
 */
int manifest_find(const char *dir, char **path_out, char **err) __attribute__((warn_unused_result));

/* This machine's Debian multiarch triplet ("x86_64-linux-gnu",
 * "aarch64-linux-gnu", ...), from the compiler's target macros: what
 * ${triplet} in a manifest's "library" becomes. Static, never NULL. */
const char *manifest_host_triplet(void);

/* A pack or skill name: lower-case letters and digits, then also '-' and
 * '_', at most MANIFEST_MAX_NAME bytes. */
bool manifest_name_ok(const char *s);

/* The skill called name, or NULL. Borrowed from m. */
const manifest_skill *manifest_skill_find(const manifest *m, const char *name);

/* NULL and half-built manifests are fine. */
void manifest_free(manifest *m);

#endif
