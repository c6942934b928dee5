/*
 * cmd_mcp.c — `venom mcp add|list|tools|refresh|remove|serve` (docs/mcp.md).
 */
#include "util/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "mcp/mcp.h"
#include "plugin/registry.h"
#include "util/err.h"

static int usage(cli *c, const char *what, const char *arg, const char *use)
{
    cli_error(c, "mcp %s: %s%s%s; usage: %s", what, arg ? "unexpected '" : "missing argument", arg ? arg : "",
              arg ? "'" : "", use);
    return CLI_EXIT_USAGE;
}

static char *config_path(cli *c)
{
    (void)mkdir(c->cfg->home, 0700);
    return mem_printf("%s/mcp.json", c->cfg->home);
}

static int load(cli *c, char **path, mcp_config **cfg)
{
    char *err = NULL;
    *path = config_path(c);
    if (!*path) {
        cli_error(c, "out of memory");
        return CLI_EXIT_INTERNAL;
    }
    if (mcp_config_load(*path, cfg, &err) < 0) {
        cli_error(c, "%s", err ? err : "cannot read the MCP server list");
        mem_free(err);
        mem_free(*path);
        *path = NULL;
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static int save(cli *c, const char *path, const mcp_config *cfg)
{
    char *err = NULL;
    if (mcp_config_save(cfg, path, &err) < 0) {
        cli_error(c, "%s", err ? err : "cannot write the MCP server list");
        mem_free(err);
        return CLI_EXIT_FAILED;
    }
    return 0;
}

/* Resolve a command like execvp would: with a '/', made absolute; else
 * the first executable of that name on PATH. mem_free. */
static char *resolve_command(const char *cmd)
{
    if (strchr(cmd, '/')) {
        if (access(cmd, X_OK) < 0)
            return NULL;
        if (cmd[0] == '/')
            return mem_strdup(cmd);
        char cwd[4096];
        return getcwd(cwd, sizeof cwd) ? mem_printf("%s/%s", cwd, cmd) : NULL;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char *cand = mem_printf("%.*s/%s", (int)n, path, cmd);
        struct stat st;
        if (cand && cand[0] == '/' && stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
            return cand;
        mem_free(cand);
        path += n;
        if (*path == ':')
            path++;
    }
    return NULL;
}

static int strv_push(char ***v, size_t *n, char *s)
{
    char **nv = s ? mem_realloc(*v, (*n + 2) * sizeof *nv) : NULL;
    if (!nv) {
        mem_free(s);
        return -ENOMEM;
    }
    nv[(*n)++] = s;
    nv[*n] = NULL;
    *v = nv;
    return 0;
}

static void print_tools(cli *c, const char *name, const json_t *tools)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t) {
        const char *d = json_string_value(json_object_get(t, "description"));
        size_t dl = d ? strcspn(d, "\n") : 0;
        fprintf(c->out, "%s.%s%s%.*s\n", name, json_string_value(json_object_get(t, "name")), dl ? "  " : "",
                (int)(dl > 100 ? 100 : dl), d ? d : "");
    }
}

/* Start the server, list its tools, store them in s. */
static int fetch_tools(cli *c, mcp_server *s)
{
    char *err = NULL;
    mcp_client *mc = NULL;
    const json_t *tools = NULL;
    int rc = mcp_client_start(s, &mc, &err);
    if (rc == 0)
        rc = mcp_client_tools(mc, &tools, &err);
    if (rc == 0) {
        json_decref(s->tools);
        s->tools = json_deep_copy(tools);
        json_decref(s->info);
        s->info = json_deep_copy(mcp_client_info(mc));
    }
    mcp_client_free(mc);
    if (rc < 0) {
        cli_error(c, "%s", err ? err : "the MCP server failed");
        mem_free(err);
        return rc == -EPERM ? CLI_EXIT_SANDBOX : CLI_EXIT_FAILED;
    }
    return 0;
}

static int mcp_add(cli *c, int argc, char **argv)
{
    static const char *use =
        "venom mcp add NAME [--env K=V]... [--allow-path P[:rw]]... [--network] [--timeout S] -- CMD ARGS...";
    mcp_server s = {.timeout_s = MCP_DEFAULT_TIMEOUT_S};
    char *path = NULL;
    mcp_config *cfg = NULL;
    int ex = CLI_EXIT_USAGE, i = 1;
    const char *name = NULL;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--env") && i + 1 < argc) {
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                cli_error(c, "mcp add: --env '%s': write NAME=VALUE", kv);
                goto out;
            }
            if (strv_push(&s.env, &s.n_env, mem_strdup(kv)) < 0)
                goto oom;
        } else if (!strcmp(a, "--allow-path") && i + 1 < argc) {
            char *p = mem_strdup(argv[++i]);
            if (!p)
                goto oom;
            size_t n = strlen(p);
            bool rw = n > 3 && !strcmp(p + n - 3, ":rw");
            if (rw || (n > 3 && !strcmp(p + n - 3, ":ro")))
                p[n - 3] = '\0';
            char *real = realpath(p, NULL);
            if (!real) {
                cli_error(c, "mcp add: --allow-path '%s': %s; give an existing file or directory", p, strerror(errno));
                mem_free(p);
                goto out;
            }
            mem_free(p);
            int r = rw ? strv_push(&s.rw, &s.n_rw, mem_strdup(real)) : strv_push(&s.ro, &s.n_ro, mem_strdup(real));
            free(real);
            if (r < 0)
                goto oom;
        } else if (!strcmp(a, "--network")) {
            s.network = true;
        } else if (!strcmp(a, "--timeout") && i + 1 < argc) {
            char *end = NULL;
            long t = strtol(argv[++i], &end, 10);
            if (!end || *end || t < 1 || t > 86400) {
                cli_error(c, "mcp add: --timeout '%s': give whole seconds from 1 to 86400", argv[i]);
                goto out;
            }
            s.timeout_s = (uint32_t)t;
        } else if (a[0] == '-' || name) {
            ex = usage(c, "add", a, use);
            goto out;
        } else {
            name = a;
        }
    }
    if (!name || i + 1 >= argc) {
        cli_error(c, "mcp add: %s; usage: %s", !name ? "missing NAME" : "missing the command after '--'", use);
        goto out;
    }
    if (!mcp_name_ok(name)) {
        cli_error(c, "mcp add: name '%s' is not valid; use lowercase letters, digits, '-' and '_' (at most 64)", name);
        goto out;
    }
    char *cmd = resolve_command(argv[i + 1]);
    if (!cmd) {
        cli_error(c, "mcp add: command '%s' not found or not executable (PATH is searched when it has no '/')",
                  argv[i + 1]);
        ex = CLI_EXIT_FAILED;
        goto out;
    }
    if (strv_push(&s.argv, &s.argc, cmd) < 0)
        goto oom;
    for (int k = i + 2; k < argc; k++)
        if (strv_push(&s.argv, &s.argc, mem_strdup(argv[k])) < 0)
            goto oom;
    if (!(s.name = mem_strdup(name)))
        goto oom;
    if ((ex = load(c, &path, &cfg)) != 0)
        goto out;
    ex = CLI_EXIT_USAGE;
    if (mcp_config_find(cfg, name)) {
        cli_error(c, "mcp add: an MCP server named '%s' is already registered; remove it first with 'venom mcp "
                     "remove %s'",
                  name, name);
        goto out;
    }
    registry *r = cli_registry(c);
    for (size_t k = 0; r && k < registry_skill_count(r); k++)
        if (!strcmp(reg_skill_manifest(registry_skill_at(r, k))->name, name)) {
            cli_error(c, "mcp add: '%s' is the name of an installed pack (%s); choose another name", name,
                      reg_skill_manifest(registry_skill_at(r, k))->path);
            goto out;
        }
    if ((ex = fetch_tools(c, &s)) != 0)
        goto out;
    char *err = NULL;
    if (mcp_config_add(cfg, &s, &err) < 0) {
        cli_error(c, "%s", err ? err : "out of memory");
        mem_free(err);
        ex = CLI_EXIT_INTERNAL;
        goto out;
    }
    if ((ex = save(c, path, cfg)) != 0)
        goto out;
    fprintf(c->out, "added MCP server '%s' with %zu tools:\n", name, json_array_size(s.tools));
    print_tools(c, name, s.tools);
    ex = CLI_EXIT_OK;
    goto out;
oom:
    cli_error(c, "out of memory");
    ex = CLI_EXIT_INTERNAL;
out:
    mcp_server_release(&s);
    mcp_config_free(cfg);
    mem_free(path);
    return ex;
}

static int mcp_list(cli *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--json"))
            c->json = true;
        else
            return usage(c, "list", argv[i], "venom mcp list [--json]");
    char *path = NULL;
    mcp_config *cfg = NULL;
    int ex = load(c, &path, &cfg);
    if (ex)
        return ex;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < cfg->n; i++) {
            json_t *o = mcp_server_json(&cfg->v[i]);
            if (o)
                json_object_set_new(o, "name", json_string(cfg->v[i].name));
            json_array_append_new(a, o);
        }
        json_dumpf(a, c->out, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', c->out);
        json_decref(a);
    } else if (cfg->n == 0) {
        fprintf(c->out, "no MCP servers; add one with 'venom mcp add NAME -- CMD ARGS...'\n");
    } else {
        for (size_t i = 0; i < cfg->n; i++) {
            const mcp_server *s = &cfg->v[i];
            fprintf(c->out, "%-16s %3zu tools  ", s->name, json_array_size(s->tools));
            for (size_t k = 0; k < s->argc; k++)
                fprintf(c->out, "%s%s", k ? " " : "", s->argv[k]);
            fputc('\n', c->out);
        }
    }
    mcp_config_free(cfg);
    mem_free(path);
    return CLI_EXIT_OK;
}

static int not_registered(cli *c, const char *name)
{
    cli_error(c, "no MCP server named '%s'; see 'venom mcp list'", name);
    return CLI_EXIT_USAGE;
}

static int mcp_tools(cli *c, int argc, char **argv)
{
    static const char *use = "venom mcp tools NAME [--json]";
    const char *name = NULL;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--json"))
            c->json = true;
        else if (argv[i][0] == '-' || name)
            return usage(c, "tools", argv[i], use);
        else
            name = argv[i];
    if (!name)
        return usage(c, "tools", NULL, use);
    char *path = NULL;
    mcp_config *cfg = NULL;
    int ex = load(c, &path, &cfg);
    if (ex)
        return ex;
    const mcp_server *s = mcp_config_find(cfg, name);
    if (!s) {
        ex = not_registered(c, name);
    } else if (c->json) {
        json_dumpf(s->tools, c->out, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', c->out);
    } else {
        print_tools(c, name, s->tools);
    }
    mcp_config_free(cfg);
    mem_free(path);
    return ex;
}

static int mcp_refresh(cli *c, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return usage(c, "refresh", argc > 2 ? argv[2] : NULL, "venom mcp refresh NAME");
    char *path = NULL;
    mcp_config *cfg = NULL;
    int ex = load(c, &path, &cfg);
    if (ex)
        return ex;
    mcp_server *s = mcp_config_find(cfg, argv[1]);
    if (!s)
        ex = not_registered(c, argv[1]);
    else if ((ex = fetch_tools(c, s)) == 0 && (ex = save(c, path, cfg)) == 0) {
        fprintf(c->out, "MCP server '%s': %zu tools\n", s->name, json_array_size(s->tools));
        print_tools(c, s->name, s->tools);
    }
    mcp_config_free(cfg);
    mem_free(path);
    return ex;
}

static int mcp_remove(cli *c, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return usage(c, "remove", argc > 2 ? argv[2] : NULL, "venom mcp remove NAME");
    char *path = NULL;
    mcp_config *cfg = NULL;
    int ex = load(c, &path, &cfg);
    if (ex)
        return ex;
    if (mcp_config_remove(cfg, argv[1]) < 0)
        ex = not_registered(c, argv[1]);
    else if ((ex = save(c, path, cfg)) == 0)
        fprintf(c->out, "removed MCP server '%s'\n", argv[1]);
    mcp_config_free(cfg);
    mem_free(path);
    return ex;
}

static int mcp_serve_cmd(cli *c, int argc, char **argv)
{
    static const char *use = "venom mcp serve [--skills LIST] [--workdir DIR]";
    char **skills = NULL;
    size_t n_skills = 0;
    const char *workdir = NULL;
    int ex = CLI_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--skills") && i + 1 < argc) {
            const char *list = argv[++i];
            while (*list) {
                size_t n = strcspn(list, ",");
                if (n && strv_push(&skills, &n_skills, mem_strndup(list, n)) < 0) {
                    cli_error(c, "out of memory");
                    ex = CLI_EXIT_INTERNAL;
                    goto out;
                }
                list += n;
                if (*list == ',')
                    list++;
            }
        } else if (!strcmp(argv[i], "--workdir") && i + 1 < argc) {
            workdir = argv[++i];
        } else {
            ex = usage(c, "serve", argv[i], use);
            goto out;
        }
    }
    registry *r = cli_registry(c);
    if (!r) {
        ex = CLI_EXIT_INTERNAL;
        goto out;
    }
    char *err = NULL;
    mcp_serve *sv = NULL;
    /* stdout carries only protocol lines: fd 1 points at stderr while
     * skills run, the protocol goes to a private copy of it. */
    fflush(c->out);
    int proto = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (proto < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        cli_error(c, "mcp serve: cannot set up stdout: %s", strerror(errno));
        ex = CLI_EXIT_INTERNAL;
        goto out;
    }
    if (mcp_serve_new(r, (const char *const *)skills, n_skills, workdir ? workdir : c->cfg->workdir, &sv, &err) < 0 ||
        mcp_serve_run(sv, STDIN_FILENO, proto, &err) < 0) {
        cli_error(c, "mcp serve: %s", err ? err : "failed");
        ex = CLI_EXIT_USAGE;
    }
    fflush(stdout);
    (void)dup2(proto, STDOUT_FILENO);
    close(proto);
    mem_free(err);
    mcp_serve_free(sv);
out:
    for (size_t i = 0; i < n_skills; i++)
        mem_free(skills[i]);
    mem_free(skills);
    return ex;
}

int cmd_mcp(cli *c, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(cli *, int, char **);
    } subs[] = {{"add", mcp_add},         {"list", mcp_list},     {"tools", mcp_tools},
                {"refresh", mcp_refresh}, {"remove", mcp_remove}, {"serve", mcp_serve_cmd}};
    if (argc < 2) {
        cli_error(c, "mcp: missing subcommand (add, list, tools, refresh, remove, serve); see 'venom help mcp'");
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].fn(c, argc - 1, argv + 1);
    cli_error(c, "mcp: unknown subcommand '%s' (add, list, tools, refresh, remove, serve); see 'venom help mcp'",
              argv[1]);
    return CLI_EXIT_USAGE;
}
