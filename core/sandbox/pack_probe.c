/*
 * pack_probe.c — load a pack's plugin in a sandboxed worker without calling
 * any skill, and say what it registered (sandbox_probe, sandbox.h).
 *
 * The supervisor sends an ordinary call frame whose skill name is empty (no
 * skill can be called that: manifest names are never empty); the worker's
 * serve_call hands it to sandbox_probe_serve, which loads the manifest and
 * the plugin (its init runs, inside the sandbox), compares what the plugin
 * registered with what the manifest declares, prepares every typed skill
 * (library and symbol found) and answers {"skills", "providers", "typed"}.
 */
#include "util/common.h"

#include <venom/venom.h>

#include "plugin/ffi.h"
#include "plugin/loader.h"
#include "plugin/manifest.h"
#include "sandbox/sandbox.h"
#include "util/err.h"

static bool has_str(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

/* The plugin and the manifest agree, both ways. */
static int compare(const manifest *m, const plugin *pl, char **err)
{
    for (size_t i = 0; i < m->n_skills; i++) {
        const manifest_skill *ms = &m->skills[i];
        bool reg = has_str(pl->skill_names, pl->n_skills, ms->name);
        if (!ms->function && !reg)
            return err_set(err, -ELIBBAD,
                           "%s: manifest %s declares skill '%s' but the plugin did not register it; register it "
                           "in init or remove it from the manifest",
                           pl->path, m->path, ms->name);
        if (ms->function && reg)
            return err_set(err, -ELIBBAD,
                           "%s: skill '%s' is registered by the plugin but declared as a typed function in %s; "
                           "choose one",
                           pl->path, ms->name, m->path);
    }
    for (size_t i = 0; i < pl->n_skills; i++)
        if (!manifest_skill_find(m, pl->skill_names[i]))
            return err_set(err, -ELIBBAD,
                           "%s: the plugin registered skill '%s' which manifest %s does not declare; add it to "
                           "the manifest",
                           pl->path, pl->skill_names[i], m->path);
    for (size_t i = 0; i < m->n_providers; i++)
        if (!has_str(pl->provider_names, pl->n_providers, m->providers[i].name))
            return err_set(err, -ELIBBAD,
                           "%s: manifest %s declares provider '%s' but the plugin did not register it", pl->path,
                           m->path, m->providers[i].name);
    for (size_t j = 0; j < pl->n_providers; j++) {
        bool found = false;
        for (size_t i = 0; i < m->n_providers; i++)
            found |= !strcmp(pl->provider_names[j], m->providers[i].name);
        if (!found)
            return err_set(err, -ELIBBAD, "%s: the plugin registered provider '%s' which manifest %s does not declare",
                           pl->path, pl->provider_names[j], m->path);
    }
    return 0;
}

static int append_str(json_t *a, const char *s)
{
    return json_array_append_new(a, json_string(s)) < 0 ? -ENOMEM : 0;
}

int sandbox_probe_serve(const char *manifest_path, json_t **out, char **err)
{
    manifest *m = NULL;
    plugin *pl = NULL;
    json_t *res = NULL;
    int rc;
    *out = NULL;
    if ((rc = manifest_load(manifest_path, &m, err)) < 0) {
        rc = rc == -ENOMEM ? rc : -ELIBBAD;
        goto out;
    }
    res = json_pack("{s:[], s:[], s:[]}", "skills", "providers", "typed");
    if (!res) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    json_t *skills = json_object_get(res, "skills"), *providers = json_object_get(res, "providers");
    json_t *typed = json_object_get(res, "typed");
    if (m->library) {
        if ((rc = plugin_load(m->library, m->name, &pl, err)) < 0) {
            rc = rc == -ENOMEM ? rc : -ELIBBAD;
            goto out;
        }
        if ((rc = compare(m, pl, err)) < 0)
            goto out;
        for (size_t i = 0; i < pl->n_skills && rc == 0; i++)
            rc = append_str(skills, pl->skill_names[i]);
        for (size_t i = 0; i < pl->n_providers && rc == 0; i++)
            rc = append_str(providers, pl->provider_names[i]);
    }
    /* Typed skills: the library opens and the symbol is there. */
    for (size_t i = 0; i < m->n_skills && rc == 0; i++) {
        const manifest_skill *ms = &m->skills[i];
        if (!ms->function)
            continue;
        ffi_fn *f = NULL;
        char *full = mem_printf("%s.%s", m->name, ms->name);
        rc = full ? ffi_fn_new(ms->function, full, m->dir, m->library, &f, err) : -ENOMEM;
        mem_free(full);
        ffi_fn_free(f);
        if (rc < 0) {
            rc = rc == -ENOMEM ? rc : -ELIBBAD;
            break;
        }
        rc = append_str(typed, ms->name);
    }
    if (rc == 0) {
        *out = res;
        res = NULL;
    } else if (rc == -ENOMEM) {
        err_set(err, rc, "out of memory");
    }
out:
    json_decref(res);
    plugin_unload(pl);
    manifest_free(m);
    return rc;
}

int sandbox_probe(const sandbox_policy *p, const char *manifest_path, json_t **registered, char **err)
{
    if (!p || !manifest_path || !registered)
        return err_set(err, -EINVAL, "sandbox_probe: invalid arguments");
    *registered = NULL;
    sandbox_result res = {0};
    json_t *args = json_object();
    if (!args)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = sandbox_call(p, manifest_path, "", args, NULL, &res, err);
    json_decref(args);
    if (rc < 0)
        return rc;
    if (res.code != 0) {
        /* a load failure (manifest, ABI, init, manifest ⇄ .so) is the
         * pack's fault; anything else (a crash in init, a timeout) too,
         * but then the message says what happened */
        const char *msg = res.error ? res.error : "no message";
        if (res.load) {
            rc = err_set(err, -ELIBBAD, "%s", msg);
        } else {
            /* the worker ended without an answer: messages made for a
             * call start with its (here empty) skill name */
            msg += strspn(msg, ": ");
            rc = err_set(err, -ELIBBAD, "%s: the plugin did not load in the sandbox: %s", manifest_path,
                         strncmp(msg, "the skill ", 10) ? msg : msg + 10);
        }
    } else if (!json_is_object(res.value) || !json_is_array(json_object_get(res.value, "skills")) ||
               !json_is_array(json_object_get(res.value, "providers"))) {
        rc = err_set(err, -EPROTO, "%s: the worker's probe answer is malformed", manifest_path);
    } else {
        *registered = json_incref(res.value);
    }
    sandbox_result_release(&res);
    return rc;
}
