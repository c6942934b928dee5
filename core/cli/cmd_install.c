/*
 * cmd_install.c — `venom skill install|remove|verify` and `venom trust
 * add|list|remove` (docs/packs.md, "Installing").
 */
#include "util/common.h"

#include <jansson.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "pack/pack.h"
#include "plugin/manifest.h"
#include "sandbox/sandbox.h"
#include "util/err.h"

static int usage(cli *c, const char *cmd, const char *arg, const char *use)
{
    cli_error(c, "%s: %s%s%s; usage: %s", cmd, arg ? "unexpected '" : "missing argument", arg ? arg : "",
              arg ? "'" : "", use);
    return CLI_EXIT_USAGE;
}

static int fail(cli *c, int rc, char *err, const char *what)
{
    cli_error(c, "%s", err ? err : what);
    mem_free(err);
    return rc == -ENOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_FAILED;
}

/* Where packs go: $VENOM_HOME/skills, or ./.venom/skills with --project. */
static char *skills_dir(cli *c, bool project)
{
    return project ? mem_strdup(".venom/skills") : mem_printf("%s/skills", c->cfg->home);
}

static void strv_line(cli *c, const char *label, const manifest_strv *v, const char *none)
{
    fprintf(c->err, "    %-9s", label);
    if (!v->n)
        fprintf(c->err, "%s", none);
    for (size_t i = 0; i < v->n; i++)
        fprintf(c->err, "%s%s%s", i ? ", " : "", v->v[i], !strcmp(v->v[i], ".") ? " (the workdir)" : "");
    fputc('\n', c->err);
}

/* The plan, on stderr: who signed it, its skills, what it may do. */
static void show_plan(cli *c, const pack_plan *pl)
{
    const manifest *m = pl->m;
    const pack_info *pi = pl->info;
    fprintf(c->err, "pack %s %s%s%s%s\n", m->name, m->version, pl->previous ? " (replaces " : "",
            pl->previous ? pl->previous : "", pl->previous ? ")" : "");
    if (pl->trusted)
        fprintf(c->err, "  signed by key %s (trusted)\n", pi->key_id);
    else if (pi->is_signed)
        fprintf(c->err, "  signed by key %s, which you do NOT trust: it will always run sandboxed\n", pi->key_id);
    else
        fprintf(c->err, "  NOT signed: it will always run sandboxed\n");
    fprintf(c->err, "  skills:");
    for (size_t i = 0; i < m->n_skills; i++)
        fprintf(c->err, "%s %s.%s", i ? "," : "", m->name, m->skills[i].name);
    for (size_t i = 0; i < m->n_providers; i++)
        fprintf(c->err, "%s provider %s", i || m->n_skills ? "," : "", m->providers[i].name);
    fprintf(c->err, "\n  permissions:\n");
    strv_line(c, "read:", &m->perms.fs_read, "nothing");
    strv_line(c, "write:", &m->perms.fs_write, "nothing");
    if (m->perms.network == MANIFEST_NET_HOSTS)
        strv_line(c, "network:", &m->perms.net_hosts, "none");
    else
        fprintf(c->err, "    %-9s%s\n", "network:", m->perms.network == MANIFEST_NET_FULL ? "ANY HOST" : "none");
    strv_line(c, "env:", &m->perms.env, "none");
    strv_line(c, "secrets:", &m->perms.secrets, "none");
    fprintf(c->err, "    %-9s%s\n", "exec:", m->perms.exec ? "yes (may run programs)" : "no");
    fprintf(c->err, "  runs:      %s\n",
            !pl->trusted || m->isolation == MANIFEST_ISO_SANDBOX ? "in the sandbox" : "in-process (trusted signer)");
}

typedef struct install_ui {
    cli *c;
    bool yes;
} install_ui;

static int confirm(void *user, const pack_plan *pl, char **err)
{
    install_ui *u = user;
    show_plan(u->c, pl);
    if (u->yes || !isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
        return 0;
    fprintf(u->c->err, "Install %s %s? [y/N] ", pl->m->name, pl->m->version);
    fflush(u->c->err);
    char line[64];
    if (!fgets(line, sizeof line, stdin) || (line[0] != 'y' && line[0] != 'Y'))
        return err_set(err, -ECANCELED, "not installed (answer 'y' to install, or pass --yes)");
    return 0;
}

/* Load the plugin in the sandbox: it must register what the manifest declares. */
static int probe(void *user, const manifest *m, char **err)
{
    (void)user;
    if (!m->library)
        return 0; /* typed skills from system libraries only: checked at first call */
    sandbox_policy *p = NULL;
    json_t *reg = NULL;
    int rc = sandbox_policy_new(m, ".", &p, err);
    if (rc == 0)
        rc = sandbox_probe(p, m->path, &reg, err);
    json_decref(reg);
    sandbox_policy_free(p);
    if (rc < 0 && rc != -ENOMEM)
        err_prefix(err, rc == -ELIBBAD ? -EINVAL : rc, "pack '%s' was not installed", m->name);
    return rc == -ELIBBAD ? -EINVAL : rc;
}

static int skill_install(cli *c, int argc, char **argv)
{
    static const char *use = "venom skill install PACK|URL [--allow-unsigned] [--yes] [--project] [--json]";
    const char *src = NULL;
    bool allow = false, yes = false, project = false, json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--allow-unsigned"))
            allow = true;
        else if (!strcmp(argv[i], "--yes") || !strcmp(argv[i], "-y"))
            yes = true;
        else if (!strcmp(argv[i], "--project"))
            project = true;
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            char *hv[] = {"help", "skill", NULL};
            return cmd_help(c, 2, hv);
        } else if (argv[i][0] == '-' || src)
            return usage(c, "skill install", argv[i], use);
        else
            src = argv[i];
    }
    if (!src)
        return usage(c, "skill install", NULL, use);
    char *err = NULL, *dir = skills_dir(c, project);
    json_t *keys = NULL;
    if (!dir)
        return fail(c, -ENOMEM, NULL, "out of memory");
    int rc = pack_trust_list(c->cfg->home, &keys, &err);
    if (rc < 0) {
        mem_free(dir);
        return fail(c, rc, err, "cannot read the trusted keys");
    }
    install_ui ui = {.c = c, .yes = yes || json};
    pack_install_opts o = {.source = src,
                           .skills_dir = dir,
                           .trusted_keys = keys,
                           .extra_keys = (const char *const *)c->cfg->trusted_keys,
                           .n_extra_keys = c->cfg->n_trusted_keys,
                           .allow_unsigned = allow,
                           .probe = probe,
                           .confirm = confirm,
                           .user = &ui};
    pack_installed r;
    rc = pack_install(&o, &r, &err);
    json_decref(keys);
    mem_free(dir);
    if (rc < 0) {
        if (json) {
            json_t *e = json_pack("{s:b, s:s}", "ok", 0, "error", err ? err : "install failed");
            json_dumpf(e, c->out, JSON_COMPACT);
            fputc('\n', c->out);
            json_decref(e);
        }
        if (rc == -ECANCELED) {
            cli_error(c, "%s", err);
            mem_free(err);
            return CLI_EXIT_FAILED;
        }
        return fail(c, rc, err, "install failed");
    }
    if (json) {
        json_t *o2 = json_pack("{s:b, s:s, s:s, s:s, s:s?, s:s, s:b, s:b, s:s?, s:b}", "ok", 1, "pack", r.name,
                               "version", r.version, "dir", r.dir, "previous", r.previous, "source", r.source,
                               "signed", r.is_signed, "trusted", r.trusted, "key_id",
                               r.is_signed ? r.key_id : NULL, "unchanged", r.unchanged);
        json_dumpf(o2, c->out, JSON_COMPACT);
        fputc('\n', c->out);
        json_decref(o2);
    } else if (r.unchanged) {
        fprintf(c->out, "%s %s is already installed in %s (unchanged)\n", r.name, r.version, r.dir);
    } else {
        fprintf(c->out, "installed %s %s in %s%s%s%s%s\n", r.name, r.version, r.dir,
                r.previous ? " (was " : "", r.previous ? r.previous : "", r.previous ? ")" : "",
                r.trusted ? "" : "; it always runs sandboxed");
    }
    pack_installed_release(&r);
    return CLI_EXIT_OK;
}

static int skill_remove(cli *c, int argc, char **argv)
{
    static const char *use = "venom skill remove NAME [--project]";
    const char *name = NULL;
    bool project = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--project"))
            project = true;
        else if (argv[i][0] == '-' || name)
            return usage(c, "skill remove", argv[i], use);
        else
            name = argv[i];
    }
    if (!name)
        return usage(c, "skill remove", NULL, use);
    if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
        cli_error(c, "skill remove: '%s' is not a pack name (give the name 'venom skill list' shows before the dot)",
                  name);
        return CLI_EXIT_USAGE;
    }
    char *err = NULL, *dir = skills_dir(c, project), *version = NULL;
    if (!dir)
        return fail(c, -ENOMEM, NULL, "out of memory");
    int rc = pack_remove(dir, name, &version, &err);
    if (rc == 0)
        fprintf(c->out, "removed %s %s from %s\n", name, version ? version : "", dir);
    mem_free(version);
    mem_free(dir);
    return rc < 0 ? fail(c, rc, err, "remove failed") : CLI_EXIT_OK;
}

static int skill_verify(cli *c, int argc, char **argv)
{
    static const char *use = "venom skill verify [NAME] [--project] [--json]";
    const char *name = NULL;
    bool project = false, json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--project"))
            project = true;
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-' || name)
            return usage(c, "skill verify", argv[i], use);
        else
            name = argv[i];
    }
    char *err = NULL, *dir = skills_dir(c, project);
    json_t *report = NULL;
    if (!dir)
        return fail(c, -ENOMEM, NULL, "out of memory");
    int rc = pack_verify_installed(dir, name, &report, &err);
    mem_free(dir);
    if (rc < 0)
        return fail(c, rc, err, "verify failed");
    size_t i, bad = 0;
    json_t *r;
    json_array_foreach(report, i, r)
    {
        bool ok = json_is_true(json_object_get(r, "ok"));
        bad += !ok;
        if (json)
            continue;
        json_t *signer = json_object_get(r, "signer");
        fprintf(c->out, "%-4s %s %s%s%s\n", ok ? "ok" : "FAIL", json_string_value(json_object_get(r, "pack")),
                json_string_value(json_object_get(r, "version")), json_is_object(signer) ? ", signed by " : ", unsigned",
                json_is_object(signer) ? json_string_value(json_object_get(signer, "key_id")) : "");
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(r, "problems"), k, p)
        {
            fprintf(c->out, "     %s\n", json_string_value(p));
        }
    }
    if (json) {
        json_t *o = json_pack("{s:b, s:O}", "ok", bad == 0, "packs", report);
        json_dumpf(o, c->out, JSON_COMPACT);
        fputc('\n', c->out);
        json_decref(o);
    } else if (!json_array_size(report)) {
        fprintf(c->out, "no installed packs (install one with 'venom skill install PACK')\n");
    }
    json_decref(report);
    if (bad)
        cli_error(c, "%zu installed pack(s) changed since install; reinstall them (venom skill install PACK)", bad);
    return bad ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

int cmd_skill_install(cli *c, int argc, char **argv)
{
    if (!strcmp(argv[0], "install"))
        return skill_install(c, argc, argv);
    if (!strcmp(argv[0], "remove"))
        return skill_remove(c, argc, argv);
    return skill_verify(c, argc, argv);
}

/* ---- venom trust -------------------------------------------------------- */

int cmd_trust(cli *c, int argc, char **argv)
{
    static const char *use = "venom trust add KEY|FILE [--label TEXT] | list [--json] | remove KEY_ID";
    const char *sub = argc > 1 ? argv[1] : NULL;
    char *err = NULL;
    int rc;
    if (sub && !strcmp(sub, "add")) {
        const char *key = NULL, *label = NULL;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--label") && i + 1 < argc)
                label = argv[++i];
            else if ((argv[i][0] == '-' && argv[i][1]) || key)
                return usage(c, "trust add", argv[i], use);
            else
                key = argv[i];
        }
        if (!key)
            return usage(c, "trust add", NULL, use);
        char id[17];
        bool added = false;
        rc = pack_trust_add(c->cfg->home, key, label, id, &added, &err);
        if (rc < 0)
            return fail(c, rc, err, "cannot trust the key");
        fprintf(c->out, "%s key %s: packs it signs install without --allow-unsigned\n",
                added ? "trusted" : "already trusted:", id);
        return CLI_EXIT_OK;
    }
    if (sub && !strcmp(sub, "list")) {
        bool json = argc > 2 && !strcmp(argv[2], "--json");
        if (argc > 2 + json)
            return usage(c, "trust list", argv[2 + json], use);
        json_t *keys = NULL;
        rc = pack_trust_list(c->cfg->home, &keys, &err);
        if (rc < 0)
            return fail(c, rc, err, "cannot read the trusted keys");
        for (size_t i = 0; i < c->cfg->n_trusted_keys; i++) {
            char id[17];
            if (pack_key_id(c->cfg->trusted_keys[i], id, NULL) == 0)
                json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:s}", "key", c->cfg->trusted_keys[i],
                                                      "key_id", id, "label", "config trusted_keys", "added", ""));
        }
        if (json) {
            json_dumpf(keys, c->out, JSON_COMPACT);
            fputc('\n', c->out);
        } else {
            size_t i;
            json_t *k;
            json_array_foreach(keys, i, k)
            {
                const char *label = json_string_value(json_object_get(k, "label"));
                fprintf(c->out, "%s  %s%s%s\n", json_string_value(json_object_get(k, "key_id")),
                        json_string_value(json_object_get(k, "key")), label && *label ? "  " : "",
                        label ? label : "");
            }
            if (!json_array_size(keys))
                fprintf(c->out, "no trusted keys (add one with 'venom trust add ed25519:…')\n");
        }
        json_decref(keys);
        return CLI_EXIT_OK;
    }
    if (sub && !strcmp(sub, "remove")) {
        if (argc != 3)
            return usage(c, "trust remove", argc > 3 ? argv[3] : NULL, use);
        rc = pack_trust_remove(c->cfg->home, argv[2], &err);
        if (rc < 0)
            return fail(c, rc, err, "cannot remove the key");
        fprintf(c->out, "no longer trusted: %s (packs it signed now run sandboxed)\n", argv[2]);
        return CLI_EXIT_OK;
    }
    if (sub && (!strcmp(sub, "--help") || !strcmp(sub, "-h"))) {
        char *hv[] = {"help", "trust", NULL};
        return cmd_help(c, 2, hv);
    }
    cli_error(c, "trust: %s%s%s; usage: %s", sub ? "unknown subcommand '" : "which subcommand? add, list or remove",
              sub ? sub : "", sub ? "'" : "", use);
    return CLI_EXIT_USAGE;
}
