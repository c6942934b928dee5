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
#include "orchestrate/orchestrate.h"
#include "plan/plan.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "route/route.h"
#include "security/vault.h"
#include "store/store.h"
#include "util/buf.h"
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
    json_t *results; /* planned runs: {step id: result} of the plan's finished steps */
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
    const json_t *step = json_object_get(ev, "step");
    if (s->results && json_is_string(step) && !json_object_get(ev, "plan_step") &&
        !strcmp(json_string_value(json_object_get(ev, "type")) ?: "", "step.finished") &&
        json_is_true(json_object_get(ev, "ok"))) {
        pthread_mutex_lock(&s->lock);
        json_object_set(s->results, json_string_value(step), json_object_get(ev, "result"));
        pthread_mutex_unlock(&s->lock);
    }
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
    "                 [--day-budget X] [--route-seed N] [--local-only]\n"
    "                 [--plan-only] [--no-plan] [--no-cache] [--yes]";

static char *open_store_path(cli *c)
{
    if (mkdir(c->cfg->home, 0700) < 0 && errno != EEXIST) {
        cli_error(c, "run: cannot create VENOM_HOME %s: %s; set VENOM_HOME to a writable directory", c->cfg->home,
                  strerror(errno));
        return NULL;
    }
    return mem_printf("%s/venom.db", c->cfg->home);
}

/* ------------------------------------------------------------ planned runs */

typedef struct goal_run {
    cli *c;
    registry *reg;
    provider *prov;       /* the planner's and the answer turn's */
    router *rt;           /* agent steps' models (with a catalog) and budgets; may be NULL */
    store *st;
    out_state *os;
    const char *goal, *workdir;
    const char *const *skills;
    size_t n_skills;
    unsigned timeout_ms;
    bool plan_only, no_cache, yes, json;
    char id[32];          /* the run ("" with --plan-only: nothing is recorded) */
    json_t *agents;       /* the config's agents, the packs' (PACK.NAME) and "default" */
    json_t *tools;        /* the planner's tools (run.started) */
    int append_rc;
    char *append_err;
} goal_run;

static void goal_emit(void *user, const char *type, json_t *payload)
{
    goal_run *g = user;
    if (!g->id[0] || !payload) {
        json_decref(payload);
        return;
    }
    json_t *ev = NULL;
    char *err = NULL;
    int rc = store_append(g->st, g->id, type, payload, &ev, &err);
    if (rc == 0 && ev)
        sink_event(g->os, ev);
    if (rc < 0 && g->append_rc == 0) {
        g->append_rc = rc;
        g->append_err = err ? err : mem_strdup("out of memory");
        err = NULL;
    }
    mem_free(err);
    json_decref(ev);
    json_decref(payload);
}

/* planner.threshold, else the offline provider's options.threshold, else 0.5 */
static double goal_threshold(const config *cfg, provider *prov)
{
    if (cfg->planner_threshold >= 0)
        return cfg->planner_threshold;
    const json_t *t = json_object_get(json_object_get(provider_entry(prov), "options"), "threshold");
    if (!strcmp(provider_plugin(prov), "offline") && json_is_number(t))
        return json_number_value(t);
    return 0.5;
}

/* The cached plan of key, checked against today's skills, or NULL (events
 * say hit, miss or stale). */
static plan *goal_cached(goal_run *g, const char *key)
{
    store_plan_row row;
    char *err = NULL;
    plan *p = NULL;
    int rc = store_plan_get(g->st, key, &row, &err);
    if (rc == -ENOENT) {
        goal_emit(g, "plan.cache", json_pack("{s:s, s:s}", "key", key, "action", "miss"));
    } else if (rc < 0) {
        goal_emit(g, "plan.cache", json_pack("{s:s, s:s, s:s}", "key", key, "action", "miss", "detail",
                                             err ? err : "cannot read the plan cache"));
    } else if (plan_parse(row.plan, strlen(row.plan), "cache.json", NULL, 0, &p, &err) < 0 ||
               plan_check(p, g->reg, g->agents, &err) < 0) {
        plan_free(p);
        p = NULL;
        goal_emit(g, "plan.cache", json_pack("{s:s, s:s, s:s}", "key", key, "action", "stale", "detail",
                                             err ? err : "invalid"));
    } else {
        goal_emit(g, "plan.cache", json_pack("{s:s, s:s, s:s, s:I, s:I}", "key", key, "action", "hit", "source",
                                             row.source, "uses", (json_int_t)row.uses, "successes",
                                             (json_int_t)row.successes));
    }
    store_plan_row_clear(&row);
    mem_free(err);
    return p;
}

static void print_questions(FILE *f, const json_t *qs)
{
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q) fprintf(f, "%s%s\n", json_array_size(qs) > 1 ? "- " : "", json_string_value(q));
}

static char *join_questions(const json_t *qs)
{
    buf b = {0};
    bool ok = true;
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q) ok = ok && buf_printf(&b, "%s%s", i ? "\n" : "", json_string_value(q)) == 0;
    char *s = ok ? buf_detach(&b) : NULL;
    buf_release(&b);
    return s ? s : mem_strdup("");
}

/* *acc += u, key by key (the planner's usage object); *acc made on need. */
static void usage_add(json_t **acc, const json_t *u)
{
    static const char *const keys[] = {"input_tokens", "cached_input_tokens", "cache_write_tokens",
                                       "output_tokens"};
    if (!json_is_object(u) || (!*acc && !(*acc = json_object())))
        return;
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        json_object_set_new(*acc, keys[i], json_integer(json_integer_value(json_object_get(*acc, keys[i])) +
                                                        json_integer_value(json_object_get(u, keys[i]))));
}

/* Plan (cache, planner, clarifying rounds), run, answer. Returns the exit code. */
static int goal_run_all(goal_run *g)
{
    cli *c = g->c;
    int rc = CLI_EXIT_FAILED;
    char *err = NULL, *key = plan_goal_key(g->goal), *goal2 = NULL, *answer = NULL, *reason = NULL;
    planner_result pr = {0};
    json_t *spent = NULL; /* usage of the planning rounds before this one */
    double spent_cost = 0;
    bool spent_unpriced = false;
    plan *p = NULL;
    const char *source = !strcmp(provider_plugin(g->prov), "offline") ? "offline" : "model";
    agent_status status = AGENT_DONE;
    orch_outcome oo = {0};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double thr = goal_threshold(c->cfg, g->prov);
    if (!key) {
        cli_error(c, "out of memory");
        goto out;
    }
    if (!g->plan_only) {
        if (store_run_new(g->st, g->goal, g->id, &err) < 0) {
            cli_error(c, "event log: %s", err ? err : "cannot start the run");
            goto out;
        }
        json_t *names = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(g->tools, i, t) {
            const char *tn = json_string_value(json_object_get(t, "name"));
            char sk[160];
            snprintf(sk, sizeof sk, "%s", tn);
            char *u = strstr(sk, "__");
            if (u)
                memmove(u + 1, u + 2, strlen(u + 2) + 1), *u = '.';
            json_array_append_new(names, json_string(sk));
        }
        goal_emit(g, "run.started",
                  json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:O, s:{s:i, s:f, s:i}, s:s}", "goal", g->goal, "provider",
                            provider_name(g->prov), "model", provider_model(g->prov), "workdir", g->workdir, "venom",
                            VENOM_VERSION, "skills", names, "tools", g->tools, "limits", "max_steps", 1, "max_cost",
                            0.0, "timeout_ms", (int)g->timeout_ms, "mode", "goal"));
    }
    if (!g->no_cache && g->st) {
        p = goal_cached(g, key);
        if (p) {
            source = "cache";
            pr.plan_json = plan_to_json(p);
            pr.questions = json_array();
            pr.confidence = 1;
            goal_emit(g, "plan.created", json_pack("{s:s, s:i, s:f, s:O, s:O}", "source", "cache", "attempts", 0,
                                                   "confidence", 1.0, "questions", pr.questions, "plan",
                                                   pr.plan_json ? pr.plan_json : json_null()));
        }
    }
    planner_opts po = {.goal = g->goal,
                       .workdir = g->workdir,
                       .skills = g->skills,
                       .n_skills = g->n_skills,
                       .agents = g->agents,
                       .repairs = c->cfg->planner_repairs,
                       .threshold = thr,
                       .run_id = g->id[0] ? g->id : NULL,
                       .cancel = &g_cancel,
                       .emit = goal_emit,
                       .user = g};
    bool interactive = !g->yes && isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    for (unsigned round = 0; !p; round++) {
        if (g->os->step[0] == '\0' || round)
            sink_step(g->os, "planning");
        mem_free(err);
        err = NULL;
        /* earlier rounds' calls count in the run's totals */
        usage_add(&spent, pr.usage);
        spent_cost += pr.cost;
        spent_unpriced |= pr.unpriced;
        planner_result_clear(&pr);
        int prc = planner_plan(g->reg, g->prov, &po, &pr, &err);
        usage_add(&pr.usage, spent);
        pr.cost += spent_cost;
        pr.unpriced |= spent_unpriced;
        json_decref(spent);
        spent = NULL;
        spent_cost = 0;
        spent_unpriced = false;
        if (prc < 0) {
            status = prc == -EPROTO ? AGENT_FAILED : prc == -ECANCELED ? AGENT_INTERRUPTED
                     : prc == -EIO ? AGENT_PROVIDER : AGENT_FAILED;
            reason = mem_strdup(err ? err : "planning failed");
            goto finish;
        }
        bool unsure = pr.confidence < thr || !pr.p;
        if (!unsure || (g->yes && pr.p)) {
            p = pr.p;
            pr.p = NULL;
            goal_emit(g, "plan.created",
                      json_pack("{s:s, s:i, s:f, s:O, s:O}", "source", source, "attempts", (int)pr.attempts,
                                "confidence", pr.confidence, "questions", pr.questions, "plan", pr.plan_json));
            break;
        }
        goal_emit(g, "plan.undecided", json_pack("{s:f, s:f, s:O, s:b}", "confidence", pr.confidence, "threshold",
                                                  thr, "questions", pr.questions, "has_plan", pr.p != NULL));
        char *line = NULL;
        size_t cap = 0;
        ssize_t nl = -1;
        if (interactive && round < 3 && !g->json) {
            print_questions(c->err, pr.questions);
            fputs("> ", c->err);
            fflush(c->err);
            nl = getline(&line, &cap, stdin);
        }
        while (nl > 0 && (line[nl - 1] == '\n' || line[nl - 1] == '\r'))
            line[--nl] = '\0';
        if (nl <= 0) {
            free(line);
            status = AGENT_UNDECIDED;
            char *qs = join_questions(pr.questions);
            answer = mem_printf("I could not decide: %s", qs ? qs : "");
            mem_free(qs);
            bool one = json_array_size(pr.questions) == 1;
            reason = pr.p ? mem_printf("the planner is not sure (confidence %.2f, threshold %.2f): answer the "
                                       "question%s in the goal, or run with --yes to go ahead with the plan it has",
                                       pr.confidence, thr, one ? "" : "s")
                          : mem_printf("the planner has no plan (confidence %.2f, threshold %.2f): answer the "
                                       "question%s in the goal", pr.confidence, thr, one ? "" : "s");
            goto finish;
        }
        /* the answer joins the goal and it is planned again */
        char *qs = join_questions(pr.questions);
        char *ng = mem_printf("%s\n\nQuestions asked:\n%s\nThe user's answer: %s", goal2 ? goal2 : g->goal,
                              qs ? qs : "", line);
        free(line);
        mem_free(qs);
        mem_free(goal2);
        goal2 = ng;
        po.goal = goal2 ? goal2 : g->goal;
    }
    if (g->plan_only) {
        char *text = g->json ? json_dumps(pr.plan_json, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
                             : plan_to_yaml(pr.plan_json);
        if (!text) {
            cli_error(c, "out of memory");
            goto out;
        }
        fprintf(c->out, "%s%s", text, g->json ? "\n" : "");
        if (g->json)
            free(text);
        else
            mem_free(text);
        rc = 0;
        goto out;
    }
    /* run it, in this run */
    sink_step(g->os, "running the plan");
    g->os->results = json_object();
    orch_opts oo_opts = {.goal = g->goal,
                         .source = source,
                         .workdir = g->workdir,
                         .cancel = &g_cancel,
                         .timeout_ms = g->timeout_ms,
                         .prov = g->prov,
                         .agents = g->agents,
                         .run_id = g->id,
                         .router = g->rt};
    agent_sink sink = {.event = sink_event, .text = NULL, .step = sink_step, .user = g->os};
    mem_free(err);
    err = NULL;
    if (orchestrate_run(g->reg, g->st, p, &oo_opts, &sink, &oo, &err) < 0) {
        status = AGENT_FAILED;
        reason = mem_strdup(err ? err : "the plan could not run");
        goto finish;
    }
    status = oo.status;
    if (oo.reason)
        reason = mem_strdup(oo.reason);
    if (status == AGENT_DONE) {
        const plan_step *last = &p->steps[p->n - 1];
        const json_t *lr = json_object_get(g->os->results, last->id);
        if (last->kind == PLAN_AGENT && json_is_string(lr)) {
            answer = mem_strdup(json_string_value(lr));
        } else {
            sink_step(g->os, "answering");
            mem_free(err);
            err = NULL;
            if (planner_answer(g->reg, g->prov, &po, p, g->os->results, &pr, &answer, &err) < 0) {
                /* no answer turn: the last result is the answer */
                char *t = lr ? json_dumps(lr, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
                answer = mem_strdup(json_is_string(lr) ? json_string_value(lr) : t ? t : "");
                free(t);
            }
        }
    }
    /* the plan cache: a plan that worked is kept; a cached one that failed is dropped */
    if (!g->no_cache) {
        char *cerr = NULL;
        if (!strcmp(source, "cache")) {
            if (store_plan_used(g->st, key, status == AGENT_DONE, &cerr) == 0 && status != AGENT_DONE &&
                status != AGENT_INTERRUPTED && store_plan_del(g->st, key, &cerr) == 0)
                goal_emit(g, "plan.cache", json_pack("{s:s, s:s, s:s}", "key", key, "action", "dropped", "detail",
                                                     reason ? reason : agent_status_name(status)));
        } else if (status == AGENT_DONE && !goal2) {
            /* (a plan made with the user's answers is not kept: the next run
             * of the same goal asks again) */
            json_t *pj = plan_to_json(p);
            char *text = pj ? json_dumps(pj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            if (text && store_plan_put(g->st, key, g->goal, text, source, &cerr) == 0)
                goal_emit(g, "plan.cache", json_pack("{s:s, s:s, s:s}", "key", key, "action", "stored", "source",
                                                     source));
            free(text);
            json_decref(pj);
        }
        mem_free(cerr);
    }
finish:
    if (g->plan_only) {
        if (status == AGENT_UNDECIDED) {
            print_questions(c->out, pr.questions);
            cli_error(c, "run: %s", reason ? reason : "undecided");
        } else {
            cli_error(c, "run: %s", reason ? reason : "planning failed");
        }
        rc = agent_status_exit(status);
        goto out;
    }
    {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        json_t *use = pr.usage ? json_incref(pr.usage)
                                 : json_pack("{s:i, s:i, s:i, s:i}", "input_tokens", 0, "cached_input_tokens", 0,
                                             "cache_write_tokens", 0, "output_tokens", 0);
        json_t *fin = json_pack("{s:s, s:i, s:o, s:f, s:b, s:f, s:{s:i, s:i, s:i}}", "status",
                                agent_status_name(status), "steps", (int)(oo.done + oo.failed), "usage", use,
                                "cost", pr.cost, "priced", !pr.unpriced, "duration_ms", ms, "plan", "done", (int)oo.done,
                                "failed", (int)oo.failed, "skipped", (int)oo.skipped);
        json_object_set_new(fin, "answer", answer ? json_string(answer) : json_null());
        if (reason)
            json_object_set_new(fin, "reason", json_string(reason));
        goal_emit(g, "run.finished", fin);
    }
    if (g->append_rc < 0) {
        cli_error(c, "event log: %s", g->append_err ? g->append_err : "write failed");
        goto out;
    }
    rc = agent_status_exit(status);
    if (!g->json) {
        if (answer && *answer && (status == AGENT_DONE || status == AGENT_UNDECIDED))
            fprintf(c->out, "%s%s", answer, answer[strlen(answer) - 1] == '\n' ? "" : "\n");
        if (status != AGENT_DONE)
            cli_error(c, "run %s %s: %s", g->id, agent_status_name(status), reason ? reason : agent_status_name(status));
        else if (g->os->verbose)
            fprintf(c->err, "venom: run %s done\n", g->id);
    }
out:
    orch_outcome_clear(&oo);
    planner_result_clear(&pr);
    json_decref(spent);
    plan_free(p);
    mem_free(key);
    mem_free(goal2);
    mem_free(answer);
    mem_free(reason);
    mem_free(err);
    return rc;
}

int cmd_run(cli *c, int argc, char **argv)
{
    const char *provider_name = c->cfg->provider, *model = c->cfg->model, *workdir = c->cfg->workdir;
    const char *system = c->cfg->system_prompt, *goal = NULL;
    unsigned long max_steps = c->cfg->max_steps, timeout_s = c->cfg->timeout_s;
    double max_cost = c->cfg->max_cost;
    bool json = false, verbose = false, plan_only = false, no_plan = false, no_cache = false, yes = false;
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
            if (cli_uint_arg(c, "run", a, v, 1, 10000, &max_steps) < 0)
                goto out;
        } else if (!strcmp(a, "--timeout")) {
            NEEDV();
            if (cli_uint_arg(c, "run", a, v, 0, 604800, &timeout_s) < 0)
                goto out;
        } else if (!strcmp(a, "--max-cost")) {
            NEEDV();
            char *end;
            max_cost = strtod(v, &end);
            if (end == v || *end || !(max_cost >= 0)) {
                cli_error(c, "run: --max-cost '%s': expected an amount >= 0 (0 = no limit)", v);
                goto out;
            }
        } else if (!strcmp(a, "--day-budget") || !strcmp(a, "--route-seed")) {
            NEEDV();
            if (cli_route_arg(c, a, v, &ropts) < 0)
                goto out;
        } else if (!strcmp(a, "--local-only")) {
            ropts.local_only = true;
        } else if (!strcmp(a, "--plan-only")) {
            plan_only = true;
        } else if (!strcmp(a, "--no-plan")) {
            no_plan = true;
        } else if (!strcmp(a, "--no-cache")) {
            no_cache = true;
        } else if (!strcmp(a, "--yes") || !strcmp(a, "-y")) {
            yes = true;
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
    if (plan_only && no_plan) {
        cli_error(c, "run: --plan-only and --no-plan exclude each other\n%s", usage);
        goto out;
    }
    /* a planned run plans and answers with the configured provider; with a
     * catalog its agent steps are routed (docs/plan.md) */
    bool planned = plan_only || (!no_plan && !c->cfg->planner_agent);
    if (plan_only)
        routed = false; /* nothing runs */
    int prc = routed && !planned ? 0 : provider_open(c->cfg, provider_name, model, &prov, &err);
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
    if (planned) {
        goal_run g = {.c = c, .reg = reg, .prov = prov, .rt = rt, .st = st, .os = &os, .goal = goal, .workdir = abswd,
                      .skills = (const char *const *)skills, .n_skills = n_skills,
                      .timeout_ms = (unsigned)(timeout_s * 1000), .plan_only = plan_only, .no_cache = no_cache,
                      .yes = yes, .json = json};
        g.agents = plan_agents(c->cfg->agents, reg); /* config.yaml's and the packs' (PACK.NAME) */
        if (g.agents && !json_object_get(g.agents, "default")) {
            json_t *def = json_object();
            json_t *sk = json_array();
            for (size_t i = 0; i < n_skills; i++)
                json_array_append_new(sk, json_string(skills[i]));
            if (n_skills)
                json_object_set(def, "skills", sk);
            json_object_set_new(g.agents, "default", def);
            json_decref(sk);
        }
        g.tools = planner_tools(reg, g.skills, g.n_skills);
        rc = g.agents && g.tools ? goal_run_all(&g) : (cli_error(c, "out of memory"), CLI_EXIT_FAILED);
        json_decref(g.agents);
        json_decref(g.tools);
        json_decref(os.results);
        mem_free(g.append_err);
        if (os.spinning) {
            pthread_mutex_lock(&os.lock);
            os.stop = true;
            pthread_mutex_unlock(&os.lock);
            pthread_join(os.spin, NULL);
        }
        pthread_mutex_destroy(&os.lock);
        goto out;
    }
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
