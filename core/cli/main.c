/*
 * main.c — venom's entry point: global options, configuration, dispatch to
 * the subcommands (one cmd_*.c each), and the shared CLI helpers.
 */
#include "util/common.h"

#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "net/net.h"
#include "pack/pack.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "plugin/registry.h"
#include "route/route.h"
#include "security/vault.h"
#include "util/err.h"
#include "util/suggest.h"

typedef struct command {
    const char *name;
    int (*fn)(cli *c, int argc, char **argv);
} command;

static const command commands[] = {
    {"doctor", cmd_doctor},
    {"feedback", cmd_feedback},
    {"help", cmd_help},
    {"mcp", cmd_mcp},
    {"pack", cmd_pack},
    {"run", cmd_run},
    {"router", cmd_router},
    {"runs", cmd_runs},
    {"secrets", cmd_secrets},
    {"skill", cmd_skill},
    {"trust", cmd_trust},
};

void cli_error(cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mem_vprintf(fmt, ap);
    va_end(ap);
    fprintf(c->err, "venom: %s\n", msg ? msg : "out of memory");
    mem_free(msg);
}

int cli_uint_arg(cli *c, const char *cmd, const char *opt, const char *v, unsigned long min, unsigned long max,
                 unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n < min || n > max) {
        cli_error(c, "%s: %s '%s': expected a whole number from %lu to %lu", cmd, opt, v, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

int cli_route_arg(cli *c, const char *opt, const char *v, router_opts *ro)
{
    char *end;
    if (!strcmp(opt, "--day-budget")) {
        ro->day_budget = strtod(v, &end);
        if (end == v || *end || !(ro->day_budget >= 0)) {
            cli_error(c, "run: --day-budget '%s': expected an amount >= 0 (0 = the config's budget.day)", v);
            return -1;
        }
        return 0;
    }
    errno = 0;
    unsigned long long sd = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || sd > (1ULL << 53) - 1) {
        cli_error(c, "run: --route-seed '%s': expected a whole number from 0 to 9007199254740991", v);
        return -1;
    }
    ro->seed = sd;
    ro->seeded = true;
    return 0;
}

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static void log_line(void *user, const char *who, int level, const char *msg)
{
    cli *c = user;
    fprintf(c->err, "venom[%s]: %s: %s\n", who ? who : "?", level_names[level > 3 ? 3 : level], msg);
}

struct registry *cli_registry(cli *c)
{
    if (c->reg)
        return c->reg;
    char **dirs = NULL, *err = NULL;
    size_t n = 0;
    if (config_skill_dirs(c->cfg, &dirs, &n) < 0) {
        cli_error(c, "out of memory");
        return NULL;
    }
    json_t *keys = NULL;
    if (pack_trust_list(c->cfg->home, &keys, &err) < 0) {
        /* an unreadable trust file trusts nobody; say why once */
        fprintf(c->err, "venom: warning: %s\n", err ? err : "cannot read the trusted keys");
        mem_free(err);
        err = NULL;
    }
    registry_opts o = {.dirs = (const char *const *)dirs,
                       .trusted_keys = keys,
                       .extra_keys = (const char *const *)c->cfg->trusted_keys,
                       .n_extra_keys = c->cfg->n_trusted_keys,
                       .n_dirs = n,
                       .first_party = *c->cfg->system_skills ? c->cfg->system_skills : NULL,
                       .trusted = (const char *const *)c->cfg->trust,
                       .n_trusted = c->cfg->n_trust,
                       .pool_warm = c->pooled ? c->cfg->sandbox_pool : 0,
                       .pool_idle_ms = c->cfg->sandbox_idle_ms,
                       .reuse = (const char *const *)c->cfg->sandbox_reuse,
                       .n_reuse = c->pooled ? c->cfg->n_sandbox_reuse : 0};
    char *mcp_json = mem_printf("%s/mcp.json", c->cfg->home);
    o.mcp_config = mcp_json;
    if (registry_new(&o, &c->reg, &err) < 0) {
        cli_error(c, "%s", err ? err : "cannot read the skill directories");
        c->reg = NULL;
    }
    for (size_t i = 0; i < n; i++)
        mem_free(dirs[i]);
    mem_free(dirs);
    mem_free(err);
    json_decref(keys);
    mem_free(mcp_json);
    return c->reg;
}

static int unknown_command(cli *c, const char *name)
{
    const char *names[ARRAY_SIZE(commands)];
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        names[i] = commands[i].name;
    const char *best[1];
    size_t n = suggest_closest(name, names, ARRAY_SIZE(names), best, 1);
    cli_error(c, "unknown command '%s'%s%s%s; run 'venom help' for the list", name, n ? " (did you mean '" : "",
              n ? best[0] : "", n ? "'?)" : "");
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    mem_install();
    loader_install_crash_reporter();
    cli c = {.out = stdout, .err = stderr, .argv0 = argv[0], .tty = isatty(STDOUT_FILENO)};
    int i = 1;
    const char *log_level = NULL;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            printf("venom %s (SDK ABI %d.%d)\n", VENOM_VERSION, VENOM_ABI_MAJOR, VENOM_ABI_MINOR);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            char *hv[] = {"help", NULL};
            return cmd_help(&c, 1, hv);
        } else if (!strcmp(a, "--log-level") && i + 1 < argc) {
            log_level = argv[++i];
        } else if (!strncmp(a, "--log-level=", 12)) {
            log_level = a + 12;
        } else {
            cli_error(&c, "unknown option '%s' before the command; run 'venom help'", a);
            return CLI_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        char *hv[] = {"help", NULL};
        cmd_help(&c, 1, hv);
        return CLI_EXIT_USAGE;
    }
    const command *cmd = NULL;
    for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
        if (!strcmp(argv[i], commands[k].name))
            cmd = &commands[k];
    if (!cmd)
        return unknown_command(&c, argv[i]);

    char *err = NULL;
    if (config_load(&c.cfg, &err) < 0) {
        cli_error(&c, "configuration: %s", err ? err : "cannot load");
        mem_free(err);
        return CLI_EXIT_USAGE;
    }
    if (log_level) {
        int l = config_log_level(log_level);
        if (l < 0) {
            cli_error(&c, "--log-level '%s': use one of error, warn, info, debug", log_level);
            config_free(c.cfg);
            return CLI_EXIT_USAGE;
        }
        c.cfg->log_level = l;
    }
    host_set_log(log_line, &c, c.cfg->log_level);
    /* skills get secrets from the vault and HTTP through core/net (libcurl
     * is loaded on the first request only) */
    vault_broker broker;
    if (vault_broker_init(&broker, c.cfg->home, net_broker, NULL) < 0) {
        cli_error(&c, "out of memory");
        config_free(c.cfg);
        return CLI_EXIT_INTERNAL;
    }
    c.broker = &broker;
    host_set_broker(vault_broker_serve, &broker);
    int rc = cmd->fn(&c, argc - i, argv + i);
    fflush(c.out);
    host_set_broker(NULL, NULL);
    net_cleanup();
    registry_free(c.reg);
    vault_broker_release(&broker);
    config_free(c.cfg);
    return rc;
}
