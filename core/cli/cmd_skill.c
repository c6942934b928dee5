/*
 * cmd_skill.c — `venom skill list|info|run` (info PACK: a pack, its skills and agents).
 */
#include "util/common.h"

#include <math.h>

#include "cli/cli.h"
#include "config/config.h"
#include "plugin/registry.h"
#include "util/err.h"

static const char *first_line(const char *s, char *buf, size_t n)
{
    if (!s)
        return "";
    size_t len = strcspn(s, "\n");
    if (len >= n)
        len = n - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return buf;
}

static void print_problems(cli *c, const registry *r)
{
    for (size_t i = 0; i < registry_problem_count(r); i++)
        fprintf(c->err, "venom: warning: %s\n", registry_problem(r, i));
}

static void dump(cli *c, const json_t *v, size_t flags)
{
    json_dumpf(v, c->out, flags | JSON_ENCODE_ANY);
    fputc('\n', c->out);
}

static json_t *strv_json(const manifest_strv *v)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < v->n; i++)
        json_array_append_new(a, json_string(v->v[i]));
    return a;
}

static const char *net_name(int n)
{
    return n == MANIFEST_NET_FULL ? "full" : n == MANIFEST_NET_HOSTS ? "hosts" : "none";
}

static json_t *skill_json(const registry *r, const reg_skill *s, bool full)
{
    const manifest *m = reg_skill_manifest(s);
    const manifest_skill *ms = reg_skill_entry(s);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "name", reg_skill_name(s), "pack", m->name, "version",
                          m->version, "description", ms->description ? ms->description : "", "typed",
                          reg_skill_typed(s), "isolation", reg_skill_sandboxed(r, s) ? "sandbox" : "in-process");
    if (!o || !full)
        return o;
    json_object_set_new(o, "manifest", json_string(m->path));
    json_object_set_new(o, "library", m->library ? json_string(m->library) : json_null());
    json_t *perms = json_pack("{s:{s:o, s:o}, s:s, s:o, s:o, s:o, s:b}", "fs", "read", strv_json(&m->perms.fs_read),
                              "write", strv_json(&m->perms.fs_write), "network", net_name(m->perms.network), "hosts",
                              strv_json(&m->perms.net_hosts), "env", strv_json(&m->perms.env), "secrets",
                              strv_json(&m->perms.secrets), "exec", m->perms.exec);
    json_object_set_new(o, "permissions", perms);
    json_object_set(o, "args", (json_t *)reg_skill_args_schema(s));
    if (ms->result_schema)
        json_object_set(o, "result", ms->result_schema);
    if (ms->examples)
        json_object_set(o, "examples", ms->examples);
    if (ms->function)
        json_object_set(o, "function", ms->function);
    return o;
}

static int not_found(cli *c, registry *r, const char *name)
{
    const char *best[3];
    size_t n = registry_suggest(r, name, best, 3);
    char hint[512] = "";
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(hint + off, sizeof hint - off, "%s'%s'", i ? ", " : "", best[i]);
    if (n)
        cli_error(c, "unknown skill '%s'; did you mean %s?", name, hint);
    else
        cli_error(c, "unknown skill '%s'; run 'venom skill list' to see the installed skills", name);
    if (registry_problem_count(r))
        fprintf(c->err, "venom: note: %zu pack(s) could not be read; 'venom skill list' shows why\n",
                registry_problem_count(r));
    return CLI_EXIT_USAGE;
}

/* The named skill, or an exit code after printing why not (-1 when found). */
static int lookup(cli *c, const char *name, const char *usage, registry **r, const reg_skill **s)
{
    if (!name) {
        cli_error(c, "%s", usage);
        return CLI_EXIT_USAGE;
    }
    *r = cli_registry(c);
    if (!*r)
        return CLI_EXIT_INTERNAL;
    *s = registry_find(*r, name);
    return *s ? -1 : not_found(c, *r, name);
}

static int skill_list(cli *c, int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else {
            cli_error(c, "skill list: unknown option '%s'; usage: venom skill list [--json]", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    registry *r = cli_registry(c);
    if (!r)
        return CLI_EXIT_INTERNAL;
    print_problems(c, r);
    size_t n = registry_skill_count(r);
    if (json) {
        json_t *arr = json_array(), *probs = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, skill_json(r, registry_skill_at(r, i), false));
        for (size_t i = 0; i < registry_problem_count(r); i++)
            json_array_append_new(probs, json_string(registry_problem(r, i)));
        json_t *o = json_pack("{s:o, s:o}", "skills", arr, "problems", probs);
        dump(c, o, JSON_COMPACT);
        json_decref(o);
        return CLI_EXIT_OK;
    }
    if (n == 0) {
        fprintf(c->out, "no skills installed (searched ./.venom/skills, %s/skills%s%s)\n", c->cfg->home,
                *c->cfg->system_skills ? ", " : "", c->cfg->system_skills);
        return CLI_EXIT_OK;
    }
    int width = 4;
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(reg_skill_name(registry_skill_at(r, i)));
        width = l > width ? l : width;
    }
    char line[160];
    for (size_t i = 0; i < n; i++) {
        const reg_skill *s = registry_skill_at(r, i);
        fprintf(c->out, "%-*s  %s\n", width, reg_skill_name(s), first_line(reg_skill_entry(s)->description, line,
                                                                           sizeof line));
    }
    return CLI_EXIT_OK;
}

/* The first skill of pack `name` (its pack's manifest), or NULL. */
static const reg_skill *pack_first(const registry *r, const char *name)
{
    for (size_t i = 0; i < registry_skill_count(r); i++) {
        const reg_skill *s = registry_skill_at(r, i);
        if (!strcmp(reg_skill_manifest(s)->name, name))
            return s;
    }
    return NULL;
}

/* `venom skill info PACK`: the pack, its skills and its agents (PACK.NAME). */
static int pack_info(cli *c, const registry *r, const reg_skill *first, bool json)
{
    const manifest *m = reg_skill_manifest(first);
    json_t *skills = json_array(), *agents = json_object();
    for (size_t i = 0; skills && i < registry_skill_count(r); i++) {
        const reg_skill *s = registry_skill_at(r, i);
        if (reg_skill_manifest(s) == m)
            json_array_append_new(skills, skill_json(r, s, false));
    }
    for (size_t i = 0; agents && i < m->n_agents; i++) {
        char *qn = mem_printf("%s.%s", m->name, m->agents[i].name);
        if (qn)
            json_object_set(agents, qn, m->agents[i].def);
        mem_free(qn);
    }
    json_t *o = skills && agents ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O}", "pack", m->name, "version",
                                             m->version, "description", m->description, "manifest", m->path,
                                             "isolation", reg_skill_sandboxed(r, first) ? "sandbox" : "in-process",
                                             "skills", skills, "agents", agents)
                                 : NULL;
    if (!o) {
        json_decref(skills);
        json_decref(agents);
        cli_error(c, "out of memory");
        return CLI_EXIT_INTERNAL;
    }
    if (json) {
        dump(c, o, JSON_COMPACT);
    } else {
        char line[160];
        fprintf(c->out, "%s %s — %s\n\n", m->name, m->version, first_line(m->description, line, sizeof line));
        fprintf(c->out, "manifest:   %s\n", m->path);
        fprintf(c->out, "isolation:  %s\n", reg_skill_sandboxed(r, first) ? "sandbox" : "in-process (trusted pack)");
        fputs("\nskills:\n", c->out);
        size_t i;
        json_t *e;
        json_array_foreach(skills, i, e) fprintf(c->out, "  %s  %s\n", json_string_value(json_object_get(e, "name")),
                                                 first_line(json_string_value(json_object_get(e, "description")),
                                                            line, sizeof line));
        fputs(m->n_agents ? "\nagents (plans name them agent: PACK.NAME; docs/plan.md \"Agents\"):\n" : "\nagents:     none\n",
              c->out);
        const char *qn;
        json_object_foreach(agents, qn, e) {
            const json_t *sk = json_object_get(e, "skills"), *kinds = json_object_get(e, "kinds");
            fprintf(c->out, "  %s\n", qn);
            if (json_string_value(json_object_get(e, "role")))
                fprintf(c->out, "    role:   %s\n", first_line(json_string_value(json_object_get(e, "role")), line,
                                                                sizeof line));
            fputs("    skills:", c->out);
            for (size_t k = 0; k < json_array_size(sk); k++)
                fprintf(c->out, "%s%s", k ? ", " : " ", json_string_value(json_array_get(sk, k)));
            fputs(json_array_size(sk) ? "\n" : " (every skill)\n", c->out);
            if (json_array_size(kinds)) {
                fputs("    kinds: ", c->out);
                for (size_t k = 0; k < json_array_size(kinds); k++)
                    fprintf(c->out, "%s%s", k ? ", " : " ", json_string_value(json_array_get(kinds, k)));
                fputc('\n', c->out);
            }
            if (json_string_value(json_object_get(e, "model")))
                fprintf(c->out, "    model:  %s\n", json_string_value(json_object_get(e, "model")));
            if (json_is_number(json_object_get(e, "budget")))
                fprintf(c->out, "    budget: %g per step\n", json_number_value(json_object_get(e, "budget")));
        }
    }
    json_decref(o);
    json_decref(skills);
    json_decref(agents);
    return CLI_EXIT_OK;
}

static int skill_info(cli *c, int argc, char **argv)
{
    bool json = false;
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-' || name) {
            cli_error(c, "skill info: unexpected '%s'; usage: venom skill info NAME [--json]", argv[i]);
            return CLI_EXIT_USAGE;
        } else
            name = argv[i];
    }
    registry *r;
    const reg_skill *s;
    if (name && !strchr(name, '.')) { /* a pack: its skills and agents */
        if (!(r = cli_registry(c)))
            return CLI_EXIT_INTERNAL;
        if ((s = pack_first(r, name)))
            return pack_info(c, r, s, json);
    }
    int ec = lookup(c, name, "skill info: which skill? usage: venom skill info NAME [--json]", &r, &s);
    if (ec >= 0)
        return ec;
    if (reg_skill_typed(s)) {
        char *err = NULL; /* typed skills: derive the argument schema from the C signature */
        if (registry_load(r, s, &err) < 0) {
            cli_error(c, "%s", err ? err : "cannot load");
            mem_free(err);
            return CLI_EXIT_PLUGIN;
        }
    }
    json_t *o = skill_json(r, s, true);
    if (json) {
        dump(c, o, JSON_COMPACT);
        json_decref(o);
        return CLI_EXIT_OK;
    }
    const manifest *m = reg_skill_manifest(s);
    const manifest_skill *ms = reg_skill_entry(s);
    fprintf(c->out, "%s — %s\n\n", reg_skill_name(s), ms->description ? ms->description : "");
    fprintf(c->out, "pack:       %s %s%s%s%s\n", m->name, m->version, m->license ? " (" : "", m->license ? m->license : "",
            m->license ? ")" : "");
    fprintf(c->out, "manifest:   %s\n", m->path);
    fprintf(c->out, "library:    %s\n", m->library ? m->library : "(none)");
    fprintf(c->out, "kind:       %s\n", reg_skill_typed(s) ? "typed C function (libffi)" : "plugin skill");
    fprintf(c->out, "isolation:  %s\n",
            !reg_skill_sandboxed(r, s) ? "in-process (trusted pack)"
            : m->isolation == MANIFEST_ISO_INPROCESS
                ? "sandbox (the manifest asks for in-process, but the pack is not trusted: see 'trust' in docs/config.md)"
                : "sandbox");
    fprintf(c->out, "network:    %s", net_name(m->perms.network));
    for (size_t i = 0; m->perms.network == MANIFEST_NET_HOSTS && i < m->perms.net_hosts.n; i++)
        fprintf(c->out, "%s%s", i ? ", " : " (", m->perms.net_hosts.v[i]);
    fputs(m->perms.network == MANIFEST_NET_HOSTS && m->perms.net_hosts.n ? ")\n" : "\n", c->out);
    for (size_t i = 0; i < m->perms.secrets.n; i++)
        fprintf(c->out, "secret:     %s\n", m->perms.secrets.v[i]);
    for (size_t i = 0; i < m->perms.env.n; i++)
        fprintf(c->out, "env:        %s\n", m->perms.env.v[i]);
    if (m->perms.exec)
        fputs("exec:       yes (may run programs)\n", c->out);
    for (size_t i = 0; i < m->perms.fs_read.n; i++)
        fprintf(c->out, "reads:      %s\n", m->perms.fs_read.v[i]);
    for (size_t i = 0; i < m->perms.fs_write.n; i++)
        fprintf(c->out, "writes:     %s\n", m->perms.fs_write.v[i]);
    fputs("\narguments:\n", c->out);
    json_dumpf(reg_skill_args_schema(s), c->out, JSON_INDENT(2) | JSON_SORT_KEYS);
    fputc('\n', c->out);
    if (ms->examples && json_array_size(ms->examples)) {
        fputs("\nexamples:\n", c->out);
        size_t i;
        json_t *e;
        json_array_foreach(ms->examples, i, e) {
            fputs("  ", c->out);
            json_dumpf(e, c->out, JSON_COMPACT | JSON_ENCODE_ANY);
            fputc('\n', c->out);
        }
    }
    json_decref(o);
    return CLI_EXIT_OK;
}

/* The JSON type a property wants, from the argument schema. */
static const char *prop_type(const json_t *schema, const char *key)
{
    const json_t *p = json_object_get(json_object_get(schema, "properties"), key);
    const json_t *t = json_object_get(p, "type");
    if (json_is_string(t))
        return json_string_value(t);
    return NULL;
}

/* key=value -> typed JSON value per the schema. */
static int convert_value(cli *c, const json_t *schema, const char *key, const char *text, json_t **out)
{
    const char *type = prop_type(schema, key);
    char *end = NULL;
    *out = NULL;
    if (type && !strcmp(type, "string")) {
        *out = json_string(text);
    } else if (type && !strcmp(type, "integer")) {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno || end == text || *end) {
            cli_error(c, "argument '%s': '%s' is not an integer", key, text);
            return -EINVAL;
        }
        *out = json_integer(v);
    } else if (type && !strcmp(type, "number")) {
        errno = 0;
        double v = strtod(text, &end);
        if (errno || end == text || *end || !isfinite(v)) {
            cli_error(c, "argument '%s': '%s' is not a number", key, text);
            return -EINVAL;
        }
        *out = json_real(v);
    } else if (type && !strcmp(type, "boolean")) {
        if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "1"))
            *out = json_true();
        else if (!strcmp(text, "false") || !strcmp(text, "no") || !strcmp(text, "0"))
            *out = json_false();
        else {
            cli_error(c, "argument '%s': '%s' is not a boolean (true/false)", key, text);
            return -EINVAL;
        }
    } else if (type && (!strcmp(type, "array") || !strcmp(type, "object"))) {
        json_error_t je;
        *out = json_loads(text, 0, &je);
        if (!*out || (!strcmp(type, "array") ? !json_is_array(*out) : !json_is_object(*out))) {
            json_decref(*out);
            *out = NULL;
            cli_error(c, "argument '%s': expected a JSON %s, e.g. %s='%s'", key, type, key,
                      !strcmp(type, "array") ? "[1,2]" : "{\"k\":1}");
            return -EINVAL;
        }
    } else {
        /* No single declared type: JSON if it parses as JSON, else a string. */
        *out = json_loads(text, JSON_DECODE_ANY, NULL);
        if (!*out)
            *out = json_string(text);
    }
    if (!*out) {
        cli_error(c, "argument '%s': the value is not valid UTF-8", key);
        return -EINVAL;
    }
    return 0;
}

static void print_result(cli *c, const json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        fputs(s, c->out);
        if (!*s || s[strlen(s) - 1] != '\n')
            fputc('\n', c->out);
    } else {
        /* 15 significant digits for people (98.6, not 98.599999999999994);
         * --json output keeps jansson's exact round-trip form. */
        dump(c, v, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    }
}

static int exit_for(int rc, int32_t code)
{
    if (rc == REGISTRY_E_FAILED && code == VENOM_E_INVAL)
        return CLI_EXIT_USAGE; /* the skill refused its (schema-valid) arguments */
    switch (rc) {
    case REGISTRY_E_ARGS: return CLI_EXIT_USAGE;
    case REGISTRY_E_LOAD: return CLI_EXIT_PLUGIN;
    case REGISTRY_E_FAILED: return CLI_EXIT_FAILED;
    case REGISTRY_E_SANDBOX: return CLI_EXIT_SANDBOX;
    default: return CLI_EXIT_INTERNAL;
    }
}

static int skill_run(cli *c, int argc, char **argv)
{
    bool json = false;
    const char *name = NULL, *args_json = NULL, *workdir = NULL;
    int first_kv = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json"))
            json = true;
        else if (!strcmp(a, "--args-json") && i + 1 < argc)
            args_json = argv[++i];
        else if (!strncmp(a, "--args-json=", 12))
            args_json = a + 12;
        else if (!strcmp(a, "--workdir") && i + 1 < argc)
            workdir = argv[++i];
        else if (!strncmp(a, "--workdir=", 10))
            workdir = a + 10;
        else if (!strcmp(a, "--")) {
            if (first_kv == argc)
                first_kv = i + 1;
            break;
        } else if (a[0] == '-' && a[1] == '-') {
            cli_error(c, "skill run: unknown option '%s'; run 'venom help skill'", a);
            return CLI_EXIT_USAGE;
        } else if (!name)
            name = a;
        else if (first_kv == argc)
            first_kv = i;
    }
    registry *r;
    const reg_skill *s;
    int ec = lookup(c, name, "skill run: which skill? usage: venom skill run NAME [key=value...] [--args-json '{...}']",
                    &r, &s);
    if (ec >= 0)
        return ec;

    int rc = CLI_EXIT_USAGE;
    char *err = NULL;
    json_t *args = NULL;
    if (reg_skill_typed(s) && registry_load(r, s, &err) < 0) {
        cli_error(c, "%s", err);
        rc = CLI_EXIT_PLUGIN;
        goto out;
    }
    if (args_json) {
        json_error_t je;
        args = json_loads(args_json, 0, &je);
        if (!args || !json_is_object(args)) {
            cli_error(c, "--args-json: %s at column %d; pass one JSON object, e.g. --args-json '{\"path\":\"a.txt\"}'",
                      args ? "not a JSON object" : je.text, je.column);
            goto out;
        }
    } else {
        args = json_object();
    }
    const json_t *schema = reg_skill_args_schema(s);
    for (int i = first_kv; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json") || !strcmp(a, "--"))
            continue;
        if (!strcmp(a, "--args-json") || !strcmp(a, "--workdir")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--", 2))
            continue;
        const char *eq = strchr(a, '=');
        if (!eq || eq == a) {
            cli_error(c, "skill run: expected key=value, got '%s'", a);
            goto out;
        }
        char key[256];
        size_t kl = (size_t)(eq - a);
        if (kl >= sizeof key) {
            cli_error(c, "skill run: argument name too long in '%.40s…'", a);
            goto out;
        }
        memcpy(key, a, kl);
        key[kl] = '\0';
        json_t *v = NULL;
        if (convert_value(c, schema, key, eq + 1, &v) < 0)
            goto out;
        json_object_set_new(args, key, v);
    }

    registry_call_opts o = {.workdir = workdir ? workdir : c->cfg->workdir};
    registry_result res;
    int crc = registry_call(r, s, args, &o, &res, &err);
    if (crc < 0) {
        rc = exit_for(crc, res.code);
        if (json) {
            json_t *e = json_pack("{s:b, s:s, s:s, s:i, s:i}", "ok", 0, "skill", name, "error",
                                  err ? err : "failed", "code", (int)res.code, "exit", rc);
            dump(c, e, JSON_COMPACT);
            json_decref(e);
        }
        cli_error(c, "%s", err ? err : "the skill failed");
        goto out;
    }
    if (json) {
        json_t *o2 = json_pack("{s:b, s:s, s:O}", "ok", 1, "skill", name, "result", res.value);
        dump(c, o2, JSON_COMPACT);
        json_decref(o2);
    } else {
        print_result(c, res.value);
    }
    json_decref(res.value);
    rc = CLI_EXIT_OK;
out:
    json_decref(args);
    mem_free(err);
    return rc;
}

int cmd_skill(cli *c, int argc, char **argv)
{
    if (argc < 2) {
        cli_error(c, "skill: which subcommand? list, info, run, install, remove, verify, new or test; run 'venom help skill'");
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "list"))
        return skill_list(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "info"))
        return skill_info(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "run"))
        return skill_run(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "install") || !strcmp(argv[1], "remove") || !strcmp(argv[1], "verify"))
        return cmd_skill_install(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "new"))
        return cmd_skill_new(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "test"))
        return cmd_skill_test(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        char *hv[] = {"help", "skill", NULL};
        return cmd_help(c, 2, hv);
    }
    cli_error(c, "skill: unknown subcommand '%s'; use list, info, run, install, remove, verify, new or test", argv[1]);
    return CLI_EXIT_USAGE;
}
