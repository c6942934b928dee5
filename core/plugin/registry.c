#include "util/common.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>

#include "mcp/mcp.h"
#include "pack/pack.h"
#include "plugin/ffi.h"
#include "plugin/loader.h"
#include "plugin/registry.h"
#include "sandbox/sandbox.h"
#include "security/confine.h"
#include "util/err.h"
#include "util/schema.h"
#include "util/suggest.h"

typedef struct reg_pack {
    manifest *m;
    const char *dir_label; /* the skill directory it came from (borrowed from registry) */
    plugin *pl;            /* loaded plugin, or NULL */
    char *load_error;      /* why loading failed (sticky) */
    bool trusted;          /* first-party or in the trust list */
    bool reuse;            /* in sandbox.reuse: pooled workers serve several calls */
    json_t *lock;          /* installed with `venom skill install`: its venom.lock entry, else NULL */
    char *lock_dir;        /* ... and the pack directory the entry describes */
    bool lock_checked;     /* its shared objects were checked against the entry */
    const mcp_server *mcp; /* an MCP server's tools (borrowed from registry.mcp), or NULL */
    mcp_client *mcp_client; /* its running server, started on the first call */
} reg_pack;

/* A warm pool of one pack for one workdir, with the policy it runs under. */
typedef struct reg_pool {
    const reg_pack *pack;
    char *workdir;
    sandbox_policy *p;
    sbx_pool *pool;
} reg_pool;

struct reg_skill {
    char *name;               /* "pack.skill" */
    reg_pack *pack;
    const manifest_skill *ms;
    ffi_fn *ffi;              /* typed skill, prepared on first use */
    json_t *typed_schema;     /* typed skill: schema derived from params */
};

struct registry {
    char **dirs;
    size_t n_dirs;
    reg_pack **packs;
    size_t n_packs;
    reg_skill **skills; /* sorted by name */
    size_t n_skills;
    char **problems;
    size_t n_problems;
    size_t loaded;
    bool in_worker;
    pthread_mutex_t lock; /* loading and typed-skill preparation */
    size_t pool_warm;
    unsigned pool_idle_ms;
    reg_pool *pools;
    size_t n_pools;
    pthread_mutex_t pools_lock; /* the pool list (pools are thread-safe themselves) */
    mcp_config *mcp;            /* the registered MCP servers, or NULL */
};

static int add_problem(registry *r, char *msg)
{
    if (!msg)
        return -ENOMEM;
    char **v = mem_realloc(r->problems, (r->n_problems + 1) * sizeof *v);
    if (!v) {
        mem_free(msg);
        return -ENOMEM;
    }
    r->problems = v;
    v[r->n_problems++] = msg;
    return 0;
}

static reg_pack *find_pack(const registry *r, const char *name)
{
    for (size_t i = 0; i < r->n_packs; i++)
        if (!strcmp(r->packs[i]->m->name, name))
            return r->packs[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmp_skill(const void *a, const void *b)
{
    return strcmp((*(reg_skill *const *)a)->name, (*(reg_skill *const *)b)->name);
}

static bool is_trusted(const registry_opts *o, const char *label, const char *name)
{
    if (o->first_party && !strcmp(label, o->first_party))
        return true;
    for (size_t i = 0; i < o->n_trusted; i++)
        if (!strcmp(o->trusted[i], name))
            return true;
    return false;
}

/* Read one pack directory: a manifest, or nothing (not a pack). lock is
 * the pack's entry in its directory's venom.lock, when it was installed. */
static int scan_pack(registry *r, const registry_opts *o, const char *label, const char *packdir, const json_t *lock)
{
    char *path = NULL, *err = NULL;
    manifest *m = NULL;
    int rc = manifest_find(packdir, &path, &err);
    if (rc == -ENOENT) {
        rc = 0;
        goto out;
    }
    /* an installed pack's manifest must be the one installed (it declares the permissions) */
    const char *mbase = strrchr(path ? path : "", '/');
    if (rc == 0 && lock && (rc = pack_lock_check(lock, packdir, mbase ? mbase + 1 : path, &err)) < 0) {
        rc = add_problem(r, mem_printf("pack refused: %s", err ? err : packdir));
        goto out;
    }
    if (rc < 0 || (rc = manifest_load(path, &m, &err)) < 0) {
        rc = rc == -ENOMEM ? rc : add_problem(r, err ? mem_strdup(err) : mem_printf("%s: unreadable", packdir));
        goto out;
    }
    reg_pack *prev = find_pack(r, m->name);
    if (prev) {
        /* Same pack name: an earlier directory shadows a later one; two in
         * the same directory conflict. */
        if (!strcmp(prev->dir_label, label))
            rc = add_problem(r, mem_printf("%s: duplicate pack '%s', already provided by %s; its skills (%s.*) "
                                           "are ignored — remove one of the two packs",
                                           m->path, m->name, prev->m->path, m->name));
        goto out;
    }
    reg_pack *p = mem_calloc(1, sizeof *p);
    reg_pack **v = p ? mem_realloc(r->packs, (r->n_packs + 1) * sizeof *v) : NULL;
    if (!v) {
        mem_free(p);
        rc = -ENOMEM;
        goto out;
    }
    r->packs = v;
    p->m = m;
    p->dir_label = label;
    p->trusted = is_trusted(o, label, m->name);
    if (lock) {
        /* installed: trusted only while its signer's key is trusted; an
         * unsigned pack always runs sandboxed, whatever `trust` says */
        const char *kid = json_string_value(json_object_get(json_object_get(lock, "signer"), "key_id"));
        p->trusted = pack_key_trusted(kid, o->trusted_keys, o->extra_keys, o->n_extra_keys);
        p->lock = json_deep_copy(lock);
        p->lock_dir = mem_strdup(packdir);
        if (!p->lock || !p->lock_dir) {
            json_decref(p->lock);
            mem_free(p->lock_dir);
            mem_free(p);
            rc = -ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < o->n_reuse; i++)
        if (!strcmp(o->reuse[i], m->name))
            p->reuse = true;
    m = NULL;
    v[r->n_packs++] = p;
    for (size_t i = 0; i < p->m->n_skills; i++) {
        reg_skill *s = mem_calloc(1, sizeof *s);
        reg_skill **sv = s ? mem_realloc(r->skills, (r->n_skills + 1) * sizeof *sv) : NULL;
        if (!sv) {
            mem_free(s);
            rc = -ENOMEM;
            goto out;
        }
        r->skills = sv;
        s->pack = p;
        s->ms = &p->m->skills[i];
        s->name = mem_printf("%s.%s", p->m->name, s->ms->name);
        sv[r->n_skills++] = s;
        if (!s->name) {
            rc = -ENOMEM;
            goto out;
        }
    }
out:
    manifest_free(m);
    mem_free(path);
    mem_free(err);
    return rc;
}

static int scan_dir(registry *r, const registry_opts *o, size_t level)
{
    const char *dir = r->dirs[level];
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* a missing skill directory is normal */
    json_t *lock = NULL;
    char *lerr = NULL;
    if (pack_lock_read(dir, &lock, &lerr) < 0) {
        /* fail closed: without the lock file, installed packs cannot be checked */
        closedir(d);
        int prc = add_problem(r, mem_printf("the packs in %s are ignored: %s", dir, lerr ? lerr : "bad lock file"));
        mem_free(lerr);
        return prc;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **v = mem_realloc(names, (n + 1) * sizeof *v);
        if (!v || !(v[n] = mem_strdup(e->d_name))) {
            names = v ? v : names;
            rc = -ENOMEM;
            break;
        }
        names = v;
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *packdir = mem_printf("%s/%s", dir, names[i]);
        struct stat st;
        if (!packdir)
            rc = -ENOMEM;
        else if (stat(packdir, &st) == 0 && S_ISDIR(st.st_mode))
            rc = scan_pack(r, o, dir, packdir, json_object_get(json_object_get(lock, "packs"), names[i]));
        mem_free(packdir);
    }
    json_decref(lock);
    for (size_t i = 0; i < n; i++)
        mem_free(names[i]);
    mem_free(names);
    return rc;
}

/* The registered MCP servers (mcp.json): each one a pack of its tools.
 * A bad file or a name taken by a pack is a problem, not an error. */
static int scan_mcp(registry *r, const char *path)
{
    char *err = NULL;
    int rc = mcp_config_load(path, &r->mcp, &err);
    if (rc < 0) {
        r->mcp = NULL;
        rc = rc == -ENOMEM ? rc : add_problem(r, err ? mem_strdup(err) : mem_printf("%s: unreadable", path));
        mem_free(err);
        return rc;
    }
    for (size_t k = 0; rc == 0 && k < r->mcp->n; k++) {
        const mcp_server *srv = &r->mcp->v[k];
        reg_pack *prev = find_pack(r, srv->name);
        if (prev) {
            rc = add_problem(r, mem_printf("%s: MCP server '%s' has the name of the pack %s; its tools are ignored — "
                                           "remove it ('venom mcp remove %s') and add it under another name",
                                           path, srv->name, prev->m->path, srv->name));
            continue;
        }
        manifest *m = NULL;
        rc = mcp_server_manifest(srv, path, &m, &err);
        reg_pack *p = rc == 0 ? mem_calloc(1, sizeof *p) : NULL;
        reg_pack **v = p ? mem_realloc(r->packs, (r->n_packs + 1) * sizeof *v) : NULL;
        if (!v) {
            mem_free(p);
            manifest_free(m);
            mem_free(err);
            return -ENOMEM;
        }
        r->packs = v;
        *p = (reg_pack){.m = m, .dir_label = path, .mcp = srv};
        v[r->n_packs++] = p;
        for (size_t i = 0; rc == 0 && i < m->n_skills; i++) {
            reg_skill *s = mem_calloc(1, sizeof *s);
            reg_skill **sv = s ? mem_realloc(r->skills, (r->n_skills + 1) * sizeof *sv) : NULL;
            if (!sv) {
                mem_free(s);
                return -ENOMEM;
            }
            r->skills = sv;
            *s = (reg_skill){.pack = p, .ms = &m->skills[i], .name = mem_printf("%s.%s", m->name, m->skills[i].name)};
            sv[r->n_skills++] = s;
            if (!s->name)
                rc = -ENOMEM;
        }
    }
    return rc;
}

int registry_new(const registry_opts *o, registry **out, char **err)
{
    *out = NULL;
    registry *r = mem_calloc(1, sizeof *r);
    if (!r)
        return err_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->pools_lock, NULL);
    r->in_worker = o->in_worker;
    r->pool_warm = o->pool_warm;
    r->pool_idle_ms = o->pool_idle_ms;
    int rc = 0;
    r->dirs = mem_calloc(o->n_dirs ? o->n_dirs : 1, sizeof *r->dirs);
    if (!r->dirs)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < o->n_dirs; i++) {
        r->dirs[r->n_dirs] = mem_strdup(o->dirs[i]);
        if (!r->dirs[r->n_dirs])
            rc = -ENOMEM;
        else
            r->n_dirs++;
    }
    for (size_t i = 0; rc == 0 && i < r->n_dirs; i++)
        rc = o->dirs_are_packs ? scan_pack(r, o, r->dirs[i], r->dirs[i], NULL) : scan_dir(r, o, i);
    if (rc == 0 && o->mcp_config && !o->in_worker)
        rc = scan_mcp(r, o->mcp_config);
    if (rc < 0) {
        registry_free(r);
        return err_set(err, rc, "scanning skill directories: %s", strerror(-rc));
    }
    if (r->n_skills > 1)
        qsort(r->skills, r->n_skills, sizeof *r->skills, cmp_skill);
    *out = r;
    return 0;
}

void registry_free(registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_pools; i++) {
        sbx_pool_free(r->pools[i].pool);
        sandbox_policy_free(r->pools[i].p);
        mem_free(r->pools[i].workdir);
    }
    mem_free(r->pools);
    pthread_mutex_destroy(&r->pools_lock);
    for (size_t i = 0; i < r->n_skills; i++) {
        ffi_fn_free(r->skills[i]->ffi);
        json_decref(r->skills[i]->typed_schema);
        mem_free(r->skills[i]->name);
        mem_free(r->skills[i]);
    }
    for (size_t i = 0; i < r->n_packs; i++) {
        mcp_client_free(r->packs[i]->mcp_client);
        plugin_unload(r->packs[i]->pl);
        manifest_free(r->packs[i]->m);
        mem_free(r->packs[i]->load_error);
        json_decref(r->packs[i]->lock);
        mem_free(r->packs[i]->lock_dir);
        mem_free(r->packs[i]);
    }
    for (size_t i = 0; i < r->n_problems; i++)
        mem_free(r->problems[i]);
    for (size_t i = 0; i < r->n_dirs; i++)
        mem_free(r->dirs[i]);
    mem_free(r->dirs);
    mem_free(r->problems);
    mem_free(r->skills);
    mem_free(r->packs);
    mcp_config_free(r->mcp);
    pthread_mutex_destroy(&r->lock);
    mem_free(r);
}

size_t registry_problem_count(const registry *r) { return r->n_problems; }
const char *registry_problem(const registry *r, size_t i) { return i < r->n_problems ? r->problems[i] : NULL; }
size_t registry_skill_count(const registry *r) { return r->n_skills; }
const reg_skill *registry_skill_at(const registry *r, size_t i) { return i < r->n_skills ? r->skills[i] : NULL; }
size_t registry_loaded(const registry *r) { return r->loaded; }

const reg_skill *registry_find(const registry *r, const char *name)
{
    size_t lo = 0, hi = r->n_skills;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->skills[mid]->name, name);
        if (c == 0)
            return r->skills[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t registry_suggest(const registry *r, const char *name, const char **out, size_t max)
{
    const char **names = mem_calloc(r->n_skills ? r->n_skills : 1, sizeof *names);
    if (!names)
        return 0;
    for (size_t i = 0; i < r->n_skills; i++)
        names[i] = r->skills[i]->name;
    size_t n = 0;
    /* "read" finds "fs.read": exact short names first, then close spellings
     * of the full name, then of the short name ("raed" -> "fs.read"). */
    for (size_t i = 0; i < r->n_skills && n < max; i++)
        if (!strcmp(r->skills[i]->ms->name, name))
            out[n++] = r->skills[i]->name;
    if (n < max)
        n += suggest_closest(name, names, r->n_skills, out + n, max - n);
    if (n == 0 && !strchr(name, '.')) {
        for (size_t i = 0; i < r->n_skills; i++)
            names[i] = r->skills[i]->ms->name;
        const char *best[8];
        size_t k = suggest_closest(name, names, r->n_skills, best, max < 8 ? max : 8);
        for (size_t j = 0; j < k; j++)
            for (size_t i = 0; i < r->n_skills; i++)
                if (r->skills[i]->ms->name == best[j] && n < max)
                    out[n++] = r->skills[i]->name;
    }
    mem_free(names);
    return n;
}

const char *reg_skill_name(const reg_skill *s) { return s->name; }
const manifest *reg_skill_manifest(const reg_skill *s) { return s->pack->m; }
const manifest_skill *reg_skill_entry(const reg_skill *s) { return s->ms; }
bool reg_skill_typed(const reg_skill *s) { return s->ms->function != NULL; }

bool reg_skill_sandboxed(const registry *r, const reg_skill *s)
{
    return !r->in_worker && !(s->pack->trusted && s->pack->m->isolation == MANIFEST_ISO_INPROCESS);
}

const json_t *reg_skill_args_schema(const reg_skill *s)
{
    return s->typed_schema ? s->typed_schema : s->ms->args_schema;
}

/* ------------------------------------------------------------ loading */

/* The manifest and the .so must agree on the skills the plugin provides. */
static int check_agreement(const manifest *m, const plugin *pl, char **err)
{
    for (size_t i = 0; i < m->n_skills; i++) {
        const manifest_skill *ms = &m->skills[i];
        if (!ms->function && !plugin_skill(pl, ms->name))
            return err_set(err, -ELIBBAD,
                           "%s: manifest %s declares skill '%s' but the plugin did not register it; "
                           "register it in init or remove it from the manifest",
                           pl->path, m->path, ms->name);
    }
    for (size_t i = 0; i < pl->n_skills; i++) {
        const manifest_skill *ms = manifest_skill_find(m, pl->skills[i].name);
        if (!ms)
            return err_set(err, -ELIBBAD,
                           "%s: the plugin registered skill '%s' which manifest %s does not declare; "
                           "add it to the manifest",
                           pl->path, pl->skills[i].name, m->path);
        if (ms->function)
            return err_set(err, -ELIBBAD,
                           "%s: skill '%s' is registered by the plugin but declared as a typed function in %s; "
                           "choose one",
                           pl->path, ms->name, m->path);
    }
    for (size_t i = 0; i < m->n_providers; i++) {
        bool found = false;
        for (size_t j = 0; j < pl->n_providers; j++)
            found |= !strcmp(pl->provider_names[j], m->providers[i].name);
        if (!found)
            return err_set(err, -ELIBBAD, "%s: manifest %s declares provider '%s' but the plugin did not register it",
                           pl->path, m->path, m->providers[i].name);
    }
    for (size_t j = 0; j < pl->n_providers; j++) {
        bool found = false;
        for (size_t i = 0; i < m->n_providers; i++)
            found |= !strcmp(pl->provider_names[j], m->providers[i].name);
        if (!found)
            return err_set(err, -ELIBBAD,
                           "%s: the plugin registered provider '%s' which manifest %s does not declare",
                           pl->path, pl->provider_names[j], m->path);
    }
    return 0;
}

/* A shared object by its name: "x.so", "libx.so.1". */
static bool is_shared_object(const char *rel)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    size_t n = strlen(base);
    return (n > 3 && !strcmp(base + n - 3, ".so")) || strstr(base, ".so.") != NULL;
}

/* An installed pack: before any of its code is loaded (here or in a
 * worker), every shared object it holds must be the one installed. The
 * result is sticky. Caller holds r->lock. */
static int check_installed_locked(reg_pack *p, char **err)
{
    if (!p->lock || p->lock_checked)
        return p->load_error ? err_set(err, REGISTRY_E_LOAD, "%s", p->load_error) : 0;
    p->lock_checked = true;
    const char *rel;
    json_t *v;
    json_object_foreach(json_object_get(p->lock, "files"), rel, v)
    {
        if (!is_shared_object(rel))
            continue;
        int rc = pack_lock_check(p->lock, p->lock_dir, rel, err);
        if (rc < 0) {
            p->load_error = mem_strdup(err && *err ? *err : "modified after install");
            return REGISTRY_E_LOAD;
        }
    }
    return 0;
}

/* Caller holds r->lock. */
static int load_pack_locked(registry *r, reg_pack *p, char **err)
{
    if (p->pl || !p->m->library)
        return check_installed_locked(p, err);
    if (p->load_error)
        return err_set(err, REGISTRY_E_LOAD, "%s", p->load_error);
    int crc = check_installed_locked(p, err);
    if (crc < 0)
        return crc;
    plugin *pl = NULL;
    int rc = plugin_load(p->m->library, p->m->name, &pl, err);
    if (rc == 0) {
        r->loaded++;
        rc = check_agreement(p->m, pl, err);
        if (rc < 0)
            plugin_unload(pl);
        else
            p->pl = pl;
    }
    if (rc < 0) {
        p->load_error = mem_strdup(err && *err ? *err : "load failed");
        return rc == -ENOMEM ? rc : REGISTRY_E_LOAD;
    }
    return 0;
}

static int prepare_locked(registry *r, reg_skill *s, char **err)
{
    int rc = load_pack_locked(r, s->pack, err);
    if (rc < 0 || !s->ms->function || s->ffi)
        return rc;
    rc = ffi_fn_new(s->ms->function, s->name, s->pack->m->dir, s->pack->m->library, &s->ffi, err);
    if (rc < 0)
        return rc == -ENOMEM ? rc : REGISTRY_E_LOAD;
    s->typed_schema = ffi_fn_args_schema(s->ffi);
    return 0;
}

int registry_load(registry *r, const reg_skill *cs, char **err)
{
    reg_skill *s = (reg_skill *)cs;
    pthread_mutex_lock(&r->lock);
    int rc = prepare_locked(r, s, err);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* ------------------------------------------------------------ calls */

static int call_native(reg_skill *s, const json_t *args, const registry_call_opts *o, registry_result *res,
                       char **err)
{
    const manifest *m = s->pack->m;
    const venom_skill_desc *d = plugin_skill(s->pack->pl, s->ms->name);
    confine *c = NULL;
    char *args_text = NULL;
    int rc = 0;
    if (!d)
        return err_set(err, REGISTRY_E_LOAD, "skill '%s' is not registered by its plugin", s->name);
    if (m->perms.fs_read.n || m->perms.fs_write.n) {
        rc = confine_new(o && o->workdir ? o->workdir : ".", (const char *const *)m->perms.fs_read.v,
                         m->perms.fs_read.n, (const char *const *)m->perms.fs_write.v, m->perms.fs_write.n, &c, err);
        if (rc < 0)
            return err_prefix(err, REGISTRY_E_FAILED, "skill '%s'", s->name);
    }
    args_text = json_dumps(args, JSON_COMPACT);
    if (!args_text) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    venom_ctx ctx;
    host_ctx_init_call(&ctx, m->name, m, c, o ? o->cancel : NULL, m->limits.output_bytes);
    char phase[160];
    snprintf(phase, sizeof phase, "call %s", s->name);
    const void *mark = loader_enter(m->name, s->pack->pl->path, phase);
    int32_t code = d->call(&ctx, args_text, d->data);
    loader_leave(mark);
    char *msg = host_ctx_take_error(&ctx);
    json_t *value = host_ctx_take_result(&ctx);
    host_ctx_release(&ctx);
    if (code != VENOM_OK) {
        res->code = code < 0 ? code : VENOM_E_FAILED;
        rc = err_set(err, REGISTRY_E_FAILED, "%s: %s", s->name, msg ? msg : "the skill failed without a message");
        json_decref(value);
    } else {
        res->value = value ? value : json_null();
    }
    mem_free(msg);
out:
    mem_free(args_text);
    confine_free(c);
    return rc;
}

/* The result must match the manifest's result schema, if it has one. */
static int check_result(const reg_skill *s, registry_result *res, char **err)
{
    if (s->ms->result_schema && schema_validate(s->ms->result_schema, res->value, "result", err) < 0) {
        json_decref(res->value);
        res->value = NULL;
        res->code = VENOM_E_INTERNAL;
        return err_prefix(err, REGISTRY_E_FAILED, "%s returned a result that does not match its result schema",
                          s->name);
    }
    return 0;
}

/* The manifest path as the worker sees it: the view binds the pack at its
 * real path. */
static char *worker_manifest(const reg_skill *s, const sandbox_policy *p)
{
    const char *base = strrchr(s->pack->m->path, '/');
    return mem_printf("%s/%s", p->pack_dir, base ? base + 1 : s->pack->m->path);
}

/* The pool of s's pack for workdir, made on first use. */
static int get_pool(registry *r, const reg_skill *s, const char *workdir, sbx_pool **out, char **err)
{
    int rc = 0;
    pthread_mutex_lock(&r->pools_lock);
    for (size_t i = 0; i < r->n_pools; i++)
        if (r->pools[i].pack == s->pack && !strcmp(r->pools[i].workdir, workdir)) {
            *out = r->pools[i].pool;
            goto out;
        }
    reg_pool *v = mem_realloc(r->pools, (r->n_pools + 1) * sizeof *v);
    if (!v) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    r->pools = v;
    reg_pool rp = {.pack = s->pack, .workdir = mem_strdup(workdir)};
    char *mpath = NULL;
    rc = rp.workdir ? sandbox_policy_new(s->pack->m, workdir, &rp.p, err) : err_set(err, -ENOMEM, "out of memory");
    if (rc == 0 && !(mpath = worker_manifest(s, rp.p)))
        rc = err_set(err, -ENOMEM, "out of memory");
    if (rc == 0) {
        sbx_pool_opts po = {.warm = r->pool_warm, .idle_ms = r->pool_idle_ms, .reuse = s->pack->reuse};
        rc = sbx_pool_new(rp.p, mpath, &po, &rp.pool, err);
    }
    mem_free(mpath);
    if (rc < 0) {
        sandbox_policy_free(rp.p);
        mem_free(rp.workdir);
        goto out;
    }
    r->pools[r->n_pools++] = rp;
    *out = rp.pool;
out:
    pthread_mutex_unlock(&r->pools_lock);
    return rc;
}

/* An untrusted pack: validate here (cheap, and the message is ours), run
 * in a worker — from the pack's pool, or a fresh one. Typed skills' schemas
 * come from the worker's own check. */
static int call_sandboxed(registry *r, reg_skill *s, const json_t *args, const registry_call_opts *o,
                          registry_result *res, char **err)
{
    pthread_mutex_lock(&r->lock);
    int rc = check_installed_locked(s->pack, err);
    pthread_mutex_unlock(&r->lock);
    if (rc < 0)
        return rc;
    if (!s->ms->function) {
        rc = schema_validate(reg_skill_args_schema(s), args, "argument", err);
        if (rc < 0)
            return err_prefix(err, REGISTRY_E_ARGS, "%s", s->name);
    }
    const char *workdir = o && o->workdir ? o->workdir : ".";
    atomic_int *cancel = o ? o->cancel : NULL;
    sandbox_result sr;
    if (r->pool_warm > 0 || s->pack->reuse) {
        sbx_pool *pool = NULL;
        rc = get_pool(r, s, workdir, &pool, err);
        if (rc == 0)
            rc = sbx_pool_call(pool, s->name, args, cancel, &sr, err);
    } else {
        sandbox_policy *p = NULL;
        rc = sandbox_policy_new(s->pack->m, workdir, &p, err);
        if (rc == 0) {
            char *mpath = worker_manifest(s, p);
            rc = mpath ? sandbox_call(p, mpath, s->name, args, cancel, &sr, err) : -ENOMEM;
            mem_free(mpath);
        }
        sandbox_policy_free(p);
    }
    if (rc < 0) {
        res->code = VENOM_E_PERM;
        if (rc == -ENOMEM)
            return rc;
        return err_prefix(err, REGISTRY_E_SANDBOX, "%s", s->name);
    }
    if (sr.code != 0) {
        res->code = sr.code;
        rc = err_set(err, sr.load ? REGISTRY_E_LOAD : sr.code == VENOM_E_INVAL ? REGISTRY_E_ARGS : REGISTRY_E_FAILED,
                     "%s", sr.error ? sr.error : "the skill failed");
        sandbox_result_release(&sr);
        return rc;
    }
    res->value = sr.value;
    sr.value = NULL;
    sandbox_result_release(&sr);
    return check_result(s, res, err);
}

/* An MCP server's tool: the server is started (once, sticky on failure)
 * and kept; the arguments are checked here when venom can read the schema,
 * else by the server. */
static int call_mcp(registry *r, reg_skill *s, const json_t *args, const registry_call_opts *o,
                    registry_result *res, char **err)
{
    reg_pack *p = s->pack;
    int rc = 0;
    if (schema_check(s->ms->args_schema, NULL) == 0 &&
        (rc = schema_validate(s->ms->args_schema, args, "argument", err)) < 0)
        return err_prefix(err, REGISTRY_E_ARGS, "%s", s->name);
    pthread_mutex_lock(&r->lock);
    if (!p->mcp_client && p->load_error)
        rc = err_set(err, -ESRCH, "%s", p->load_error);
    else if (!p->mcp_client && (rc = mcp_client_start(p->mcp, &p->mcp_client, err)) < 0)
        p->load_error = mem_strdup(err && *err ? *err : "the MCP server did not start");
    mcp_client *c = p->mcp_client;
    pthread_mutex_unlock(&r->lock);
    if (rc == 0) {
        json_t *v = NULL;
        rc = mcp_client_call(c, s->ms->name, args, o ? o->cancel : NULL, &v, err);
        res->value = v;
    }
    if (rc == 0)
        return 0;
    res->code = rc == MCP_E_TIMEOUT ? VENOM_E_TIMEOUT : rc == MCP_E_CANCELLED ? VENOM_E_CANCELLED
              : rc == -EPERM        ? VENOM_E_PERM
                                    : VENOM_E_FAILED;
    if (rc == -ENOMEM)
        return rc;
    return err_prefix(err, rc == -EPERM ? REGISTRY_E_SANDBOX : REGISTRY_E_FAILED, "%s", s->name);
}

int registry_call(registry *r, const reg_skill *cs, const json_t *args, const registry_call_opts *o,
                  registry_result *res, char **err)
{
    reg_skill *s = (reg_skill *)cs;
    *res = (registry_result){0};
    if (s->pack->mcp)
        return call_mcp(r, s, args, o, res, err);
    if (reg_skill_sandboxed(r, s))
        return call_sandboxed(r, s, args, o, res, err);
    pthread_mutex_lock(&r->lock);
    int rc = prepare_locked(r, s, err);
    pthread_mutex_unlock(&r->lock);
    if (rc < 0)
        return rc;
    rc = schema_validate(reg_skill_args_schema(s), args, "argument", err);
    if (rc < 0)
        return err_prefix(err, REGISTRY_E_ARGS, "%s", s->name);
    if (s->ffi) {
        json_t *v = NULL;
        char phase[160];
        snprintf(phase, sizeof phase, "call %s", s->name);
        const void *mark = loader_enter(s->pack->m->name, s->pack->m->library ? s->pack->m->library : s->pack->m->path,
                                        phase);
        rc = ffi_fn_call(s->ffi, args, &v, err);
        loader_leave(mark);
        if (rc < 0) {
            res->code = VENOM_E_FAILED;
            return err_prefix(err, rc == -ENOMEM ? rc : REGISTRY_E_FAILED, "%s", s->name);
        }
        res->value = v;
    } else {
        rc = call_native(s, args, o, res, err);
        if (rc < 0)
            return rc;
    }
    return check_result(s, res, err);
}
