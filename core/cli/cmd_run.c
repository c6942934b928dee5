/*
 * cmd_run.c — `venom run "goal"`: a headless run of the agent loop on the
 * configured provider (offline by default), recorded in the event log.
 * Output: on a TTY the answer streams to stdout and a spinner shows the step
 * on stderr; piped, the final answer alone goes to stdout (progress on stderr
 * with -v); --json prints every event as one NDJSON line (docs/events.md).
 */
#include "util/common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/provider.h"
#include "cli/cli.h"
#include "config/config.h"
#include "net/net.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "route/route.h"
#include "security/vault.h"
#include "store/store.h"
#include "util/err.h"

static atomic_int g_cancel;

static void on_signal(int sig)
{
    (void)sig;
    if (atomic_exchange(&g_cancel, 1) != 0)
        _exit(130); /* a second ^C: leave now (the next start marks the run) */
}

typedef struct out_state {
    cli *c;
    bool json, verbose, tty_err;
    pthread_mutex_t lock;
    char step[160];
    pthread_t spin;
    bool spinning, stop;
    bool drawn;   /* the spinner's line is on the terminal now */
    bool in_text; /* answer text streamed since the last step note */
    bool at_bol;  /* stdout is at the start of a line */
} out_state;

static void clear_spinner_locked(out_state *s)
{
    if (s->drawn) {
        fputs("\r\033[K", s->c->err);
        fflush(s->c->err);
        s->drawn = false;
    }
}

static void sink_event(void *user, const json_t *ev)
{
    out_state *s = user;
    if (!s->json)
        return;
    char *line = json_dumps(ev, STORE_JSON_FLAGS);
    if (!line)
        return;
    pthread_mutex_lock(&s->lock);
    fputs(line, s->c->out);
    fputc('\n', s->c->out);
    fflush(s->c->out);
    pthread_mutex_unlock(&s->lock);
    free(line);
}

/* Streamed text goes to a terminal only (piped output gets the final answer
 * alone, at the end). */
static void sink_text(void *user, const char *text)
{
    out_state *s = user;
    if (s->json || !s->c->tty || !*text)
        return;
    pthread_mutex_lock(&s->lock);
    clear_spinner_locked(s);
    fputs(text, s->c->out);
    fflush(s->c->out);
    s->in_text = true;
    s->at_bol = text[strlen(text) - 1] == '\n';
    pthread_mutex_unlock(&s->lock);
}

static void sink_step(void *user, const char *what)
{
    out_state *s = user;
    pthread_mutex_lock(&s->lock);
    snprintf(s->step, sizeof s->step, "%s", what);
    if (s->in_text && !s->at_bol) /* text of an earlier turn: end its line */
        fputc('\n', s->c->out), s->at_bol = true;
    s->in_text = false;
    if (s->verbose && !s->spinning)
        fprintf(s->c->err, "venom: %s\n", what);
    pthread_mutex_unlock(&s->lock);
}

static void *spinner(void *arg)
{
    static const char frames[] = "|/-\\";
    out_state *s = arg;
    for (unsigned i = 0;; i++) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&s->lock);
        if (s->stop) {
            clear_spinner_locked(s);
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        if (!s->in_text && s->step[0] && s->at_bol) {
            fprintf(s->c->err, "\r\033[K%c %s", frames[i % 4], s->step);
            fflush(s->c->err);
            s->drawn = true;
        }
        pthread_mutex_unlock(&s->lock);
    }
}

static const char usage[] =
    "usage: venom run \"GOAL\" [--provider NAME] [--model ID] [--workdir DIR] [--skills LIST]\n"
    "                 [--system TEXT] [--max-steps N] [--max-cost X] [--timeout SECONDS] [--json] [-v]\n"
    "                 [--day-budget X] [--route-seed N] [--local-only]";

static int parse_uint(cli *c, const char *opt, const char *v, unsigned long min, unsigned long max,
                      unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n < min || n > max) {
        cli_error(c, "run: %s '%s': expected a whole number from %lu to %lu", opt, v, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

static char *open_store_path(cli *c)
{
    if (mkdir(c->cfg->home, 0700) < 0 && errno != EEXIST) {
        cli_error(c, "run: cannot create VENOM_HOME %s: %s; set VENOM_HOME to a writable directory", c->cfg->home,
                  strerror(errno));
        return NULL;
    }
    return mem_printf("%s/venom.db", c->cfg->home);
}

int cmd_run(cli *c, int argc, char **argv)
{
    const char *provider_name = c->cfg->provider, *model = c->cfg->model, *workdir = c->cfg->workdir;
    const char *system = c->cfg->system_prompt, *goal = NULL;
    unsigned long max_steps = c->cfg->max_steps, timeout_s = c->cfg->timeout_s;
    double max_cost = c->cfg->max_cost;
    bool json = false, verbose = false;
    char **skills = NULL;
    size_t n_skills = 0;
    int rc = CLI_EXIT_USAGE;
    provider *prov = NULL;
    store *st = NULL;
    char *err = NULL, *dbpath = NULL, *abswd = NULL;
    agent_outcome res = {0};
    router *rt = NULL;
    router_opts ropts = {0};
    bool pinned = false; /* --provider/--model: no routing */

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--file"))
            return cmd_run_plan(c, argc, argv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV()                                                                                    \
    do {                                                                                           \
        if (!v) {                                                                                  \
            cli_error(c, "run: %s needs a value\n%s", a, usage);                                   \
            goto out;                                                                              \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = true;
        } else if (!strcmp(a, "--provider")) {
            NEEDV();
            provider_name = v;
            pinned = true;
        } else if (!strcmp(a, "--model")) {
            NEEDV();
            model = v;
            pinned = true;
        } else if (!strcmp(a, "--workdir")) {
            NEEDV();
            workdir = v;
        } else if (!strcmp(a, "--system")) {
            NEEDV();
            system = v;
        } else if (!strcmp(a, "--skills")) {
            NEEDV();
            char *copy = mem_strdup(v), *save = NULL;
            for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save)) {
                char **nv = mem_realloc(skills, (n_skills + 1) * sizeof *nv);
                if (!nv || !(nv[n_skills] = mem_strdup(t))) {
                    skills = nv ? nv : skills;
                    mem_free(copy);
                    cli_error(c, "out of memory");
                    goto out;
                }
                skills = nv;
                n_skills++;
            }
            mem_free(copy);
        } else if (!strcmp(a, "--max-steps")) {
            NEEDV();
            if (parse_uint(c, a, v, 1, 10000, &max_steps) < 0)
                goto out;
        } else if (!strcmp(a, "--timeout")) {
            NEEDV();
            if (parse_uint(c, a, v, 0, 604800, &timeout_s) < 0)
                goto out;
        } else if (!strcmp(a, "--max-cost")) {
            NEEDV();
            char *end;
            max_cost = strtod(v, &end);
            if (end == v || *end || !(max_cost >= 0)) {
                cli_error(c, "run: --max-cost '%s': expected an amount >= 0 (0 = no limit)", v);
                goto out;
            }
        } else if (!strcmp(a, "--day-budget")) {
            NEEDV();
            char *end;
            ropts.day_budget = strtod(v, &end);
            if (end == v || *end || !(ropts.day_budget >= 0)) {
                cli_error(c, "run: --day-budget '%s': expected an amount >= 0 (0 = the config's budget.day)", v);
                goto out;
            }
        } else if (!strcmp(a, "--route-seed")) {
            NEEDV();
            char *end;
            errno = 0;
            unsigned long long sd = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-' || sd > (1ULL << 53) - 1) {
                cli_error(c, "run: --route-seed '%s': expected a whole number from 0 to 9007199254740991", v);
                goto out;
            }
            ropts.seed = sd;
            ropts.seeded = true;
        } else if (!strcmp(a, "--local-only")) {
            ropts.local_only = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            char *hv[] = {"help", "run", NULL};
            rc = cmd_help(c, 2, hv);
            goto out;
        } else if (a[0] == '-' && a[1]) {
            cli_error(c, "run: unknown option '%s'\n%s", a, usage);
            goto out;
        } else if (goal) {
            cli_error(c, "run: one goal only (quote it): got '%s' and '%s'\n%s", goal, a, usage);
            goto out;
        } else {
            goal = a;
        }
#undef NEEDV
    }
    if (!goal || !*goal) {
        cli_error(c, "run: what is the goal? e.g. venom run \"count the lines of README.md\"\n%s", usage);
        goto out;
    }
    if (!(abswd = realpath(workdir, NULL))) {
        cli_error(c, "run: --workdir '%s': %s", workdir, strerror(errno));
        goto out;
    }
    c->json = json;
    c->pooled = true;
    registry *reg = cli_registry(c);
    if (!reg) {
        rc = CLI_EXIT_PLUGIN;
        goto out;
    }
    /* a catalog (config models:) routes the run unless --provider/--model pin it */
    bool routed = !pinned && c->cfg->models && json_array_size(c->cfg->models) > 0;
    int prc = routed ? 0 : provider_open(c->cfg, provider_name, model, &prov, &err);
    if (prc < 0) {
        cli_error(c, "%s", err ? err : "cannot open the provider");
        rc = prc == -ENOENT ? CLI_EXIT_USAGE : CLI_EXIT_PROVIDER;
        goto out;
    }
    if (!(dbpath = open_store_path(c))) {
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    mem_free(err);
    err = NULL;
    if (store_open(dbpath, &st, &err) < 0) {
        cli_error(c, "event log %s: %s", dbpath, err ? err : "cannot open");
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    if ((routed || c->cfg->budget_day > 0 || ropts.day_budget > 0 || c->cfg->budget_agents) &&
        router_new(c->cfg, st, &ropts, &rt, &err) < 0) {
        cli_error(c, "run: %s", err ? err : "cannot set up routing");
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    /* every secret a skill reads from now on is scrubbed from the events */
    vault_broker_log(c->broker, st);

    out_state os = {.c = c, .json = json, .verbose = verbose, .tty_err = isatty(STDERR_FILENO), .at_bol = true};
    pthread_mutex_init(&os.lock, NULL);
    if (!json && c->tty && os.tty_err && pthread_create(&os.spin, NULL, spinner, &os) == 0)
        os.spinning = true;
    agent_sink sink = {.event = sink_event, .text = sink_text, .step = sink_step, .user = &os};
    agent_opts ao = {.goal = goal,
                     .system = system,
                     .workdir = abswd,
                     .skills = (const char *const *)skills,
                     .n_skills = n_skills,
                     .max_steps = (unsigned)max_steps,
                     .max_cost = max_cost,
                     .timeout_ms = (unsigned)(timeout_s * 1000),
                     .stream = c->tty && !json,
                     .cancel = &g_cancel,
                     .router = rt};
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    mem_free(err);
    err = NULL;
    int arc = agent_run(reg, prov, st, &ao, &sink, &res, &err);
    if (os.spinning) {
        pthread_mutex_lock(&os.lock);
        os.stop = true;
        pthread_mutex_unlock(&os.lock);
        pthread_join(os.spin, NULL);
    }
    pthread_mutex_destroy(&os.lock);
    if (arc < 0) {
        cli_error(c, "run: %s", err ? err : "failed");
        rc = arc == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
        goto out;
    }
    rc = agent_status_exit(res.status);
    if (!json) {
        /* the final answer: already on the terminal when it streamed */
        bool shown = os.in_text && res.answer && *res.answer;
        if (!os.at_bol)
            fputc('\n', c->out);
        if (!shown && res.answer && *res.answer &&
            (res.status == AGENT_DONE || res.status == AGENT_UNDECIDED || res.status == AGENT_FAILED))
            fprintf(c->out, "%s%s", res.answer, res.answer[strlen(res.answer) - 1] == '\n' ? "" : "\n");
        if (res.status != AGENT_DONE)
            cli_error(c, "run %s %s: %s", res.run_id, agent_status_name(res.status),
                      res.reason ? res.reason : agent_status_name(res.status));
        else if (verbose)
            fprintf(c->err, "venom: run %s done\n", res.run_id);
    }
out:
    vault_broker_log(c->broker, NULL);
    net_cleanup();
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    agent_outcome_clear(&res);
    router_free(rt);
    store_close(st);
    provider_close(prov);
    for (size_t i = 0; i < n_skills; i++)
        mem_free(skills[i]);
    mem_free(skills);
    mem_free(err);
    mem_free(dbpath);
    free(abswd);
    return rc;
}
