/*
 * cmd_run_plan.c — `venom run -f PLAN [--set K=V]... [--parallel N]`: read
 * a plan file (docs/plan.md), validate it (exit 2 with every problem as
 * file:line), run it with the orchestrator and record it in the event log.
 * Output: one line per finished or skipped step on stdout (piped or not),
 * every event as NDJSON with --json. Exit codes as `venom run`.
 */
#include "util/common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/provider.h"
#include "cli/cli.h"
#include "config/config.h"
#include "net/net.h"
#include "orchestrate/orchestrate.h"
#include "plan/plan.h"
#include "plugin/registry.h"
#include "route/route.h"
#include "security/vault.h"
#include "store/store.h"
#include "util/err.h"

static atomic_int g_cancel;

/* as cmd_run.c: the first ^C/TERM stops the run cleanly, a second leaves */
static void on_signal(int sig)
{
    (void)sig;
    if (atomic_exchange(&g_cancel, 1) != 0)
        _exit(130);
}

static const char usage[] =
    "usage: venom run -f PLAN.yaml [--set NAME=VALUE]... [--parallel N] [--workdir DIR] [--timeout SECONDS]\n"
    "                 [--provider NAME] [--model ID] [--route-seed N] [--day-budget X] [--json] [-v]";

typedef struct pout {
    cli *c;
    bool json, verbose;
    pthread_mutex_t lock;
} pout;

static void sink_event(void *user, const json_t *ev)
{
    pout *o = user;
    const char *type = json_string_value(json_object_get(ev, "type"));
    pthread_mutex_lock(&o->lock);
    if (o->json) {
        char *line = json_dumps(ev, STORE_JSON_FLAGS);
        if (line) {
            fputs(line, o->c->out);
            fputc('\n', o->c->out);
            fflush(o->c->out);
        }
        free(line);
    } else if (type && json_is_string(json_object_get(ev, "step")) && !json_object_get(ev, "plan_step")) {
        const char *id = json_string_value(json_object_get(ev, "step"));
        if (!strcmp(type, "step.finished")) {
            json_t *res = json_object_get(ev, "result");
            char *t = res ? json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            if (json_is_true(json_object_get(ev, "ok")))
                fprintf(o->c->out, "%s: done (%.0f ms): %.300s%s\n", id,
                        json_number_value(json_object_get(ev, "duration_ms")), t ? t : "",
                        t && strlen(t) > 300 ? "…" : "");
            else
                fprintf(o->c->out, "%s: failed: %s\n", id, json_string_value(json_object_get(ev, "error")) ?: "?");
            free(t);
        } else if (!strcmp(type, "step.skipped")) {
            fprintf(o->c->out, "%s: skipped (%s: %s)\n", id, json_string_value(json_object_get(ev, "reason")) ?: "",
                    json_string_value(json_object_get(ev, "detail")) ?: "");
        } else if (!strcmp(type, "step.retry") && o->verbose) {
            fprintf(o->c->err, "venom: %s: attempt %" JSON_INTEGER_FORMAT " failed, retrying: %s\n", id,
                    json_integer_value(json_object_get(ev, "attempt")),
                    json_string_value(json_object_get(ev, "error")) ?: "");
        } else if (!strcmp(type, "step.started") && o->verbose) {
            fprintf(o->c->err, "venom: %s: started\n", id);
        }
        fflush(o->c->out);
    }
    pthread_mutex_unlock(&o->lock);
}

int cmd_run_plan(cli *c, int argc, char **argv)
{
    const char *file = NULL, *workdir = c->cfg->workdir, *provider_name = c->cfg->provider, *model = c->cfg->model;
    unsigned long parallel = 0, timeout_s = c->cfg->timeout_s;
    bool json = false, verbose = false;
    plan_var *vars = NULL;
    size_t n_vars = 0;
    int rc = CLI_EXIT_USAGE;
    plan *p = NULL;
    store *st = NULL;
    provider *prov = NULL;
    router *rt = NULL;
    router_opts ropts = {0};
    bool pinned = false; /* --provider/--model: agent steps are not routed */
    char *err = NULL, *dbpath = NULL, *abswd = NULL, *goal = NULL;
    orch_outcome res = {0};
    json_t *all_agents = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool needs = !strcmp(a, "-f") || !strcmp(a, "--file") || !strcmp(a, "--set") || !strcmp(a, "--parallel") ||
                     !strcmp(a, "--workdir") || !strcmp(a, "--timeout") || !strcmp(a, "--provider") ||
                     !strcmp(a, "--model") || !strcmp(a, "--route-seed") || !strcmp(a, "--day-budget");
        if (needs && !v) {
            cli_error(c, "run: %s needs a value\n%s", a, usage);
            goto out;
        }
        if (needs)
            i++;
        if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (file) {
                cli_error(c, "run: one plan file only (-f given twice)\n%s", usage);
                goto out;
            }
            file = v;
        } else if (!strcmp(a, "--set")) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) {
                cli_error(c, "run: --set '%s': expected NAME=VALUE", v);
                goto out;
            }
            plan_var *nv = mem_realloc(vars, (n_vars + 1) * sizeof *nv);
            if (!nv) {
                cli_error(c, "out of memory");
                goto out;
            }
            vars = nv;
            char *name = mem_strndup(v, (size_t)(eq - v));
            if (!name) {
                cli_error(c, "out of memory");
                goto out;
            }
            vars[n_vars++] = (plan_var){.name = name, .value = eq + 1};
        } else if (!strcmp(a, "--parallel")) {
            if (cli_uint_arg(c, "run", a, v, 1, 1024, &parallel) < 0)
                goto out;
        } else if (!strcmp(a, "--timeout")) {
            if (cli_uint_arg(c, "run", a, v, 0, 604800, &timeout_s) < 0)
                goto out;
        } else if (!strcmp(a, "--workdir")) {
            workdir = v;
        } else if (!strcmp(a, "--provider")) {
            provider_name = v;
            pinned = true;
        } else if (!strcmp(a, "--model")) {
            model = v;
            pinned = true;
        } else if (!strcmp(a, "--day-budget") || !strcmp(a, "--route-seed")) {
            if (cli_route_arg(c, a, v, &ropts) < 0)
                goto out;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = true;
        } else {
            cli_error(c, "run: '%s' is not an option of run -f%s\n%s", a,
                      a[0] == '-' ? "" : " (a goal and -f exclude each other)", usage);
            goto out;
        }
    }
    if (!file) {
        cli_error(c, "run: -f PLAN is missing\n%s", usage);
        goto out;
    }
    c->json = json;
    if (!(abswd = realpath(workdir, NULL))) {
        cli_error(c, "run: --workdir '%s': %s", workdir, strerror(errno));
        goto out;
    }
    int lrc = plan_load(file, vars, n_vars, &p, &err);
    if (lrc < 0) {
        cli_error(c, "%s", err ? err : "cannot read the plan");
        rc = lrc == -EINVAL || lrc == -E2BIG ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
        if (lrc == -ENOENT || lrc == -EACCES)
            rc = CLI_EXIT_USAGE;
        goto out;
    }
    c->pooled = true;
    registry *reg = cli_registry(c);
    if (!reg) {
        rc = CLI_EXIT_PLUGIN;
        goto out;
    }
    /* config.yaml's agents and the packs' (PACK.NAME; docs/plan.md "Agents") */
    if (!(all_agents = plan_agents(c->cfg->agents, reg))) {
        cli_error(c, "out of memory");
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    if (plan_check(p, reg, all_agents, &err) < 0) {
        cli_error(c, "invalid plan:\n%s", err ? err : "?");
        goto out;
    }
    bool agents = false;
    for (size_t i = 0; i < p->n; i++)
        agents |= p->steps[i].kind == PLAN_AGENT;
    /* a catalog (config models:) routes agent steps unless --provider/--model pin them */
    bool routed = agents && !pinned && c->cfg->models && json_array_size(c->cfg->models) > 0;
    if (agents && !routed) {
        mem_free(err);
        err = NULL;
        int prc = provider_open(c->cfg, provider_name, model, &prov, &err);
        if (prc < 0) {
            cli_error(c, "%s", err ? err : "cannot open the provider");
            rc = prc == -ENOENT ? CLI_EXIT_USAGE : CLI_EXIT_PROVIDER;
            goto out;
        }
    }
    if (mkdir(c->cfg->home, 0700) < 0 && errno != EEXIST) {
        cli_error(c, "run: cannot create VENOM_HOME %s: %s", c->cfg->home, strerror(errno));
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    dbpath = mem_printf("%s/venom.db", c->cfg->home);
    goal = mem_printf("plan %s", p->name ? p->name : file);
    mem_free(err);
    err = NULL;
    if (!dbpath || !goal || store_open(dbpath, &st, &err) < 0) {
        cli_error(c, "event log %s: %s", dbpath ? dbpath : "?", err ? err : "cannot open");
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    if (agents && (routed || c->cfg->budget_day > 0 || ropts.day_budget > 0 || c->cfg->budget_agents) &&
        router_new(c->cfg, st, &ropts, &rt, &err) < 0) {
        cli_error(c, "run: %s", err ? err : "cannot set up routing");
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    vault_broker_log(c->broker, st);
    pout po = {.c = c, .json = json, .verbose = verbose};
    pthread_mutex_init(&po.lock, NULL);
    agent_sink sink = {.event = sink_event, .user = &po};
    orch_opts oo = {.goal = goal,
                    .source = "file",
                    .workdir = abswd,
                    .parallel = parallel,
                    .cancel = &g_cancel,
                    .timeout_ms = (unsigned)(timeout_s * 1000),
                    .prov = prov,
                    .agents = all_agents,
                    .router = rt};
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int orc = orchestrate_run(reg, st, p, &oo, &sink, &res, &err);
    pthread_mutex_destroy(&po.lock);
    if (orc < 0) {
        cli_error(c, "run: %s", err ? err : "failed");
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    rc = agent_status_exit(res.status);
    if (!json && res.status != AGENT_DONE)
        cli_error(c, "run %s %s: %s", res.run_id, agent_status_name(res.status), res.reason ? res.reason : "");
    else if (!json && verbose)
        fprintf(c->err, "venom: run %s done: %zu steps\n", res.run_id, res.done);
out:
    vault_broker_log(c->broker, NULL);
    net_cleanup();
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    orch_outcome_clear(&res);
    router_free(rt);
    store_close(st);
    provider_close(prov);
    plan_free(p);
    json_decref(all_agents);
    for (size_t i = 0; i < n_vars; i++)
        mem_free((char *)vars[i].name);
    mem_free(vars);
    mem_free(err);
    mem_free(dbpath);
    mem_free(goal);
    free(abswd);
    return rc;
}
