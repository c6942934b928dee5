/*
 * config.c — the registered MCP servers ($VENOM_HOME/mcp.json) and the
 * sandbox policy each one runs under.
 *
 * mcp.json: {"version": 1, "servers": {"NAME": {"command": [...],
 *   "env": {"K": "V"}, "read": [...], "write": [...], "network": false,
 *   "timeout_s": 30, "tools": [...], "server": {...}}}}
 */
#include "util/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcp/mcp.h"
#include "plugin/manifest.h"
#include "sandbox/policy.h"
#include "util/err.h"
#include "util/file.h"
#include "util/jsonx.h"

bool mcp_name_ok(const char *s)
{
    return s && strlen(s) <= 64 && manifest_name_ok(s);
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        mem_free(v[i]);
    mem_free(v);
}

void mcp_server_release(mcp_server *s)
{
    if (!s)
        return;
    mem_free(s->name);
    strv_free(s->argv, s->argc);
    strv_free(s->env, s->n_env);
    strv_free(s->ro, s->n_ro);
    strv_free(s->rw, s->n_rw);
    json_decref(s->tools);
    json_decref(s->info);
    *s = (mcp_server){0};
}

void mcp_config_free(mcp_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        mcp_server_release(&c->v[i]);
    mem_free(c->v);
    mem_free(c);
}

mcp_server *mcp_config_find(const mcp_config *c, const char *name)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (!strcmp(c->v[i].name, name))
            return &c->v[i];
    return NULL;
}

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *mcp_server_json(const mcp_server *s)
{
    json_t *env = json_object();
    for (size_t i = 0; env && i < s->n_env; i++) {
        const char *eq = strchr(s->env[i], '=');
        char *k = eq ? mem_strndup(s->env[i], (size_t)(eq - s->env[i])) : NULL;
        if (k)
            json_object_set_new(env, k, json_string(eq + 1));
        mem_free(k);
    }
    json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:b, s:i, s:O}", "command", strv_json(s->argv, s->argc), "env", env,
                          "read", strv_json(s->ro, s->n_ro), "write", strv_json(s->rw, s->n_rw), "network",
                          s->network, "timeout_s", (int)s->timeout_s, "tools", s->tools ? s->tools : json_array());
    if (o && s->info)
        json_object_set(o, "server", s->info);
    return o;
}

/* Copy an array of strings; -EINVAL when v is not one. */
static int read_strv(const json_t *v, bool abs_path, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!v)
        return 0;
    if (!json_is_array(v))
        return -EINVAL;
    char **a = mem_calloc(json_array_size(v) + 1, sizeof *a);
    if (!a)
        return -ENOMEM;
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        const char *s = json_string_value(e);
        if (!s || (abs_path && s[0] != '/') || !(a[i] = mem_strdup(s))) {
            strv_free(a, i);
            return s && (!abs_path || s[0] == '/') ? -ENOMEM : -EINVAL;
        }
    }
    *out = a;
    *n = json_array_size(v);
    return 0;
}

static int bad(char **err, const char *path, const char *name, const char *field, const char *what)
{
    return err_set(err, -EINVAL, "%s: servers.%s.%s: %s; fix the file or remove the entry with 'venom mcp remove %s'",
                   path, name, field, what, name);
}

static int read_server(const char *path, const char *name, const json_t *o, mcp_server *s, char **err)
{
    *s = (mcp_server){0};
    if (!mcp_name_ok(name))
        return err_set(err, -EINVAL, "%s: server name \"%s\" is not valid; use lowercase letters, digits, '-' and '_'",
                       path, jsonx_clipped(name).s);
    if (!json_is_object(o))
        return bad(err, path, name, "", "must be an object");
    static const char *const keys[] = {"command", "env", "read", "write", "network", "timeout_s", "tools", "server"};
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)o, key, val) {
        bool known = false;
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
            known |= !strcmp(key, keys[i]);
        if (!known)
            return bad(err, path, name, key, "unknown key");
    }
    int rc = 0;
    if (!(s->name = mem_strdup(name)))
        return err_set(err, -ENOMEM, "out of memory");
    rc = read_strv(json_object_get(o, "command"), false, &s->argv, &s->argc);
    if (rc == 0 && (s->argc == 0 || s->argv[0][0] != '/'))
        rc = -EINVAL;
    if (rc < 0) {
        rc = rc == -ENOMEM ? err_set(err, rc, "out of memory")
                           : bad(err, path, name, "command", "must be an array of strings starting with an absolute path");
        goto fail;
    }
    if ((rc = read_strv(json_object_get(o, "read"), true, &s->ro, &s->n_ro)) < 0 ||
        (rc = read_strv(json_object_get(o, "write"), true, &s->rw, &s->n_rw)) < 0) {
        rc = rc == -ENOMEM ? err_set(err, rc, "out of memory")
                           : bad(err, path, name, "read/write", "must be arrays of absolute paths");
        goto fail;
    }
    const json_t *env = json_object_get(o, "env");
    if (env && !json_is_object(env)) {
        rc = bad(err, path, name, "env", "must be an object of strings");
        goto fail;
    }
    s->env = mem_calloc(json_object_size(env) + 1, sizeof *s->env);
    if (!s->env) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    json_object_foreach((json_t *)env, key, val) {
        if (!json_is_string(val) || !*key || strchr(key, '=')) {
            rc = bad(err, path, name, "env", "each entry must be NAME: \"value\"");
            goto fail;
        }
        if (!(s->env[s->n_env] = mem_printf("%s=%s", key, json_string_value(val)))) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto fail;
        }
        s->n_env++;
    }
    const json_t *net = json_object_get(o, "network");
    if (net && !json_is_boolean(net)) {
        rc = bad(err, path, name, "network", "must be true or false");
        goto fail;
    }
    s->network = json_is_true(net);
    const json_t *t = json_object_get(o, "timeout_s");
    if (t && (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > 86400)) {
        rc = bad(err, path, name, "timeout_s", "must be an integer from 1 to 86400");
        goto fail;
    }
    s->timeout_s = t ? (uint32_t)json_integer_value(t) : MCP_DEFAULT_TIMEOUT_S;
    const json_t *tools = json_object_get(o, "tools");
    s->tools = json_array();
    if (!s->tools) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    if (tools) {
        json_t *page = json_pack("{s:O}", "tools", tools);
        const char *cursor = NULL;
        char *terr = NULL;
        rc = page ? mcp_tools_page(page, s->tools, &cursor, &terr) : -ENOMEM;
        json_decref(page);
        if (rc < 0) {
            rc = bad(err, path, name, "tools", terr ? terr : "out of memory");
            mem_free(terr);
            goto fail;
        }
    }
    const json_t *info = json_object_get(o, "server");
    if (json_is_object(info))
        s->info = json_incref((json_t *)info);
    return 0;
fail:
    mcp_server_release(s);
    return rc;
}

int mcp_config_load(const char *path, mcp_config **out, char **err)
{
    *out = NULL;
    mcp_config *c = mem_calloc(1, sizeof *c);
    if (!c)
        return err_set(err, -ENOMEM, "out of memory");
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    int rc = 0;
    if (!root) {
        if (access(path, F_OK) < 0 && errno == ENOENT) {
            *out = c;
            return 0;
        }
        rc = err_set(err, -EINVAL, "%s:%d: %s; fix the file or delete it (it lists the MCP servers)", path, je.line,
                     je.text);
        goto fail;
    }
    const json_t *servers = json_object_get(root, "servers");
    const json_t *version = json_object_get(root, "version");
    if (!json_is_object(root) || !json_is_object(servers) || !json_is_integer(version) ||
        json_integer_value(version) != 1) {
        rc = err_set(err, -EINVAL, "%s: expected {\"version\": 1, \"servers\": {...}}; fix the file or delete it", path);
        goto fail;
    }
    c->v = mem_calloc(json_object_size(servers) + 1, sizeof *c->v);
    if (!c->v) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    const char *name;
    json_t *o;
    json_object_foreach((json_t *)servers, name, o) {
        if ((rc = read_server(path, name, o, &c->v[c->n], err)) < 0)
            goto fail;
        c->n++;
    }
    json_decref(root);
    *out = c;
    return 0;
fail:
    json_decref(root);
    mcp_config_free(c);
    return rc;
}

int mcp_config_save(const mcp_config *c, const char *path, char **err)
{
    int rc = 0;
    json_t *servers = json_object();
    json_t *root = servers ? json_pack("{s:i, s:o}", "version", 1, "servers", servers) : NULL;
    char *text = NULL, *withnl = NULL;
    for (size_t i = 0; root && i < c->n; i++) {
        json_t *o = mcp_server_json(&c->v[i]);
        if (!o || json_object_set_new(servers, c->v[i].name, o) < 0) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
    }
    text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    withnl = text ? mem_printf("%s\n", text) : NULL;
    rc = withnl ? file_write_atomic(path, withnl, strlen(withnl), 0600, err) : err_set(err, -ENOMEM, "out of memory");
out:
    mem_free(withnl);
    free(text);
    json_decref(root);
    return rc;
}

static int dup_strv(char *const *v, size_t n, char ***out)
{
    *out = mem_calloc(n + 1, sizeof **out);
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!((*out)[i] = mem_strdup(v[i])))
            return -ENOMEM;
    return 0;
}

int mcp_config_add(mcp_config *c, const mcp_server *s, char **err)
{
    if (mcp_config_find(c, s->name))
        return err_set(err, -EEXIST, "an MCP server named '%s' is already registered", s->name);
    mcp_server *v = mem_realloc(c->v, (c->n + 1) * sizeof *v);
    if (!v)
        return err_set(err, -ENOMEM, "out of memory");
    c->v = v;
    mcp_server *d = &v[c->n];
    *d = (mcp_server){.argc = s->argc, .n_env = s->n_env, .n_ro = s->n_ro, .n_rw = s->n_rw, .network = s->network,
                      .timeout_s = s->timeout_s};
    int rc = (d->name = mem_strdup(s->name)) ? 0 : -ENOMEM;
    if (rc == 0)
        rc = dup_strv(s->argv, s->argc, &d->argv);
    if (rc == 0)
        rc = dup_strv(s->env, s->n_env, &d->env);
    if (rc == 0)
        rc = dup_strv(s->ro, s->n_ro, &d->ro);
    if (rc == 0)
        rc = dup_strv(s->rw, s->n_rw, &d->rw);
    d->tools = s->tools ? json_deep_copy(s->tools) : json_array();
    d->info = s->info ? json_deep_copy(s->info) : NULL;
    if (rc < 0 || !d->tools) {
        mcp_server_release(d);
        return err_set(err, -ENOMEM, "out of memory");
    }
    c->n++;
    return 0;
}

int mcp_config_remove(mcp_config *c, const char *name)
{
    mcp_server *s = mcp_config_find(c, name);
    if (!s)
        return -ENOENT;
    size_t i = (size_t)(s - c->v);
    mcp_server_release(s);
    memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof *c->v);
    c->n--;
    return 0;
}

/* ------------------------------------------------------------ policy */

static bool under_system(const char *path)
{
    for (size_t i = 0; sandbox_system_ro[i]; i++) {
        size_t n = strlen(sandbox_system_ro[i]);
        if (!strncmp(path, sandbox_system_ro[i], n) && (path[n] == '/' || path[n] == '\0'))
            return true;
    }
    return false;
}

/* The package directory of a program file: the outermost "node_modules"
 * directory on its real path (so that its dependencies resolve), else its
 * directory. NULL when it is under a system dir (readable anyway) or not
 * a regular file. mem_free the result. */
static char *package_dir(const char *file)
{
    char *real = realpath(file, NULL);
    struct stat st;
    char *out = NULL;
    if (!real || stat(real, &st) < 0 || !S_ISREG(st.st_mode) || under_system(real))
        goto out;
    char *nm = strstr(real, "/node_modules/");
    if (nm) {
        out = mem_strndup(real, (size_t)(nm - real) + strlen("/node_modules"));
    } else {
        char *slash = strrchr(real, '/');
        out = mem_strndup(real, slash && slash != real ? (size_t)(slash - real) : 1);
    }
out:
    free(real);
    return out;
}

int mcp_server_policy(const mcp_server *s, sandbox_policy **out, char **err)
{
    *out = NULL;
    const char **ro = mem_calloc(s->n_ro + s->argc + 1, sizeof *ro);
    char **owned = mem_calloc(s->argc + 1, sizeof *owned);
    size_t n_ro = 0, n_owned = 0;
    int rc = 0;
    if (!ro || !owned) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->n_ro; i++)
        ro[n_ro++] = s->ro[i];
    /* The command and any program file named on its command line. */
    for (size_t i = 0; i < s->argc; i++) {
        if (i > 0 && s->argv[i][0] != '/')
            continue;
        char *d = package_dir(s->argv[i]);
        if (d)
            ro[n_ro++] = owned[n_owned++] = d;
    }
    /* The workdir: the first allowed directory, else the command's package. */
    const char *workdir = s->n_rw ? s->rw[0] : s->n_ro ? s->ro[0] : n_owned ? owned[0] : "/tmp";
    struct stat st;
    if (stat(workdir, &st) < 0 || !S_ISDIR(st.st_mode))
        workdir = n_owned ? owned[0] : "/tmp";
    rc = sandbox_policy_build(workdir, ro, n_ro, (const char *const *)s->rw, s->n_rw, out, err);
    if (rc < 0)
        goto out;
    sandbox_policy *p = *out;
    p->exec = true;
    p->net = s->network;
    /* V8 reserves much address space: the cgroup (where there is one)
     * limits memory, RLIMIT_AS only stops runaway reservations. */
    p->memory_bytes = 8ull << 30;
    p->cpu_s = 3600;
    p->processes = 512;
    p->nofile = 1024;
    p->pack_name = mem_strdup(s->name);
    static const char *const defaults[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp"};
    for (size_t k = 0; k < ARRAY_SIZE(defaults) + s->n_env && rc == 0; k++) {
        const char *kv = k < s->n_env ? s->env[k] : defaults[k - s->n_env];
        size_t klen = strcspn(kv, "=");
        bool dup = false;
        for (size_t j = 0; j < p->env.n; j++)
            dup |= !strncmp(p->env.v[j], kv, klen + 1);
        if (dup)
            continue;
        char **v = mem_realloc(p->env.v, (p->env.n + 2) * sizeof *v);
        if (!v || !(v[p->env.n] = mem_strdup(kv))) {
            if (v)
                p->env.v = v;
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        p->env.v = v;
        v[++p->env.n] = NULL;
    }
    if (rc < 0 || !p->pack_name) {
        sandbox_policy_free(*out);
        *out = NULL;
        rc = rc < 0 ? rc : err_set(err, -ENOMEM, "out of memory");
    }
out:
    for (size_t i = 0; owned && i < n_owned; i++)
        mem_free(owned[i]);
    mem_free(owned);
    mem_free(ro);
    return rc;
}

/* ------------------------------------------------------------ as a pack */

static int mstrv(manifest_strv *v, char *const *src, size_t n, bool keys)
{
    v->v = mem_calloc(n + 1, sizeof *v->v);
    if (!v->v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        v->v[i] = keys ? mem_strndup(src[i], strcspn(src[i], "=")) : mem_strdup(src[i]);
        if (!v->v[i])
            return -ENOMEM;
        v->n++;
    }
    return 0;
}

int mcp_server_manifest(const mcp_server *s, const char *config_path, manifest **out, char **err)
{
    *out = NULL;
    manifest *m = mem_calloc(1, sizeof *m);
    size_t n = json_array_size(s->tools);
    if (!m)
        return err_set(err, -ENOMEM, "out of memory");
    const char *ver = json_string_value(json_object_get(json_object_get(s->info, "serverInfo"), "version"));
    char *slash = strrchr(config_path, '/');
    m->path = mem_printf("%s (mcp server %s)", config_path, s->name);
    m->dir = slash && slash != config_path ? mem_strndup(config_path, (size_t)(slash - config_path)) : mem_strdup("/");
    m->name = mem_strdup(s->name);
    m->version = mem_strdup(ver ? ver : "mcp");
    m->description = mem_printf("MCP server %s", s->argv[0]);
    m->isolation = MANIFEST_ISO_SANDBOX;
    m->perms.network = s->network ? MANIFEST_NET_FULL : MANIFEST_NET_NONE;
    m->perms.exec = true;
    m->skills = mem_calloc(n ? n : 1, sizeof *m->skills);
    int rc = m->path && m->dir && m->name && m->version && m->description && m->skills ? 0 : -ENOMEM;
    if (rc == 0)
        rc = mstrv(&m->perms.fs_read, s->ro, s->n_ro, false);
    if (rc == 0)
        rc = mstrv(&m->perms.fs_write, s->rw, s->n_rw, false);
    if (rc == 0)
        rc = mstrv(&m->perms.env, s->env, s->n_env, true);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *t = json_array_get(s->tools, i);
        manifest_skill *ms = &m->skills[i];
        ms->name = mem_strdup(json_string_value(json_object_get(t, "name")));
        ms->description = mem_strdup(json_string_value(json_object_get(t, "description")) ?: "");
        ms->args_schema = json_incref(json_object_get(t, "inputSchema"));
        m->n_skills++;
        if (!ms->name || !ms->description || !ms->args_schema)
            rc = -ENOMEM;
    }
    if (rc < 0) {
        manifest_free(m);
        return err_set(err, rc, "out of memory");
    }
    *out = m;
    return 0;
}
