/*
 * cmd_runs.c — `venom runs list|show|log`: read runs back from the event
 * log ($VENOM_HOME/venom.db). `log --json` prints the stored events exactly
 * as `venom run --json` printed them.
 */
#include "util/common.h"

#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "store/store.h"
#include "util/err.h"

static store *open_store(cli *c)
{
    char *path = mem_printf("%s/venom.db", c->cfg->home), *err = NULL;
    store *s = NULL;
    if (!path) {
        cli_error(c, "out of memory");
        return NULL;
    }
    if (access(path, F_OK) != 0) {
        cli_error(c, "runs: no event log yet at %s; start one with venom run \"…\"", path);
    } else if (store_open(path, &s, &err) < 0) {
        cli_error(c, "event log %s: %s", path, err ? err : "cannot open");
        s = NULL;
    }
    mem_free(err);
    mem_free(path);
    return s;
}

static void dump_line(cli *c, const json_t *v)
{
    char *t = json_dumps(v, STORE_JSON_FLAGS);
    if (t)
        fprintf(c->out, "%s\n", t);
    free(t);
}

static double num(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0;
}

static json_t *run_json(const store_run *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", r->id, "goal", r->goal ? r->goal : "", "status",
                          r->status ? r->status : "", "started", r->started ? r->started : "", "events",
                          (json_int_t)r->events);
    json_object_set_new(o, "finished", r->finished ? json_string(r->finished) : json_null());
    json_object_set(o, "summary", r->summary ? r->summary : json_null());
    return o;
}

static int runs_list(cli *c, int argc, char **argv)
{
    bool json = false;
    unsigned long limit = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--all")) {
            limit = 0;
        } else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            char *end;
            limit = strtoul(argv[++i], &end, 10);
            if (*end || argv[i][0] == '-') {
                cli_error(c, "runs list: --limit '%s': expected a whole number", argv[i]);
                return CLI_EXIT_USAGE;
            }
        } else {
            cli_error(c, "runs list: unknown option '%s'; usage: venom runs list [--limit N | --all] [--json]",
                      argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    char *path = mem_printf("%s/venom.db", c->cfg->home);
    bool none = path && access(path, F_OK) != 0;
    mem_free(path);
    if (none) { /* no run yet: an empty list, not an error */
        if (json)
            fprintf(c->out, "[]\n");
        else
            fprintf(c->err, "venom: no runs yet; start one with venom run \"…\"\n");
        return CLI_EXIT_OK;
    }
    store *s = open_store(c);
    if (!s)
        return CLI_EXIT_FAILED;
    store_run *runs = NULL;
    size_t n = 0;
    char *err = NULL;
    int rc = CLI_EXIT_OK;
    if (store_runs_list(s, limit, &runs, &n, &err) < 0) {
        cli_error(c, "runs list: %s", err ? err : "failed");
        rc = CLI_EXIT_FAILED;
    } else if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, run_json(&runs[i]));
        dump_line(c, a);
        json_decref(a);
    } else {
        if (n)
            fprintf(c->out, "%-18s %-20s %-24s %6s %10s  %s\n", "ID", "STATUS", "STARTED", "STEPS", "COST", "GOAL");
        for (size_t i = 0; i < n; i++) {
            const store_run *r = &runs[i];
            char goal[61];
            snprintf(goal, sizeof goal, "%s", r->goal ? r->goal : "");
            for (char *q = goal; *q; q++)
                if (*q == '\n' || *q == '\t')
                    *q = ' ';
            fprintf(c->out, "%-18s %-20s %-24s %6.0f %10.6f  %s\n", r->id, r->status ? r->status : "",
                    r->started ? r->started : "", num(r->summary, "steps"), num(r->summary, "cost"), goal);
        }
        if (!n)
            fprintf(c->err, "venom: no runs yet; start one with venom run \"…\"\n");
    }
    for (size_t i = 0; i < n; i++)
        store_run_clear(&runs[i]);
    mem_free(runs);
    mem_free(err);
    store_close(s);
    return rc;
}

typedef struct first_event {
    json_t *started;
} first_event;

static int grab_started(void *user, const json_t *ev)
{
    first_event *f = user;
    if (!f->started && !strcmp(json_string_value(json_object_get(ev, "type")) ?: "", "run.started"))
        f->started = json_incref((json_t *)ev);
    return 0;
}

/* `venom runs WHAT ID [--json]`: parse, open the log, find the run. 0 with
 * *s and *r to release, else the exit code (after printing why). */
static int one_run(cli *c, int argc, char **argv, const char *what, bool *json, store **s, store_run *r)
{
    const char *id = NULL;
    *json = false;
    *s = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            *json = true;
        } else if (argv[i][0] == '-' || id) {
            cli_error(c, "runs %s: unexpected '%s'; usage: venom runs %s ID [--json]", what, argv[i], what);
            return CLI_EXIT_USAGE;
        } else {
            id = argv[i];
        }
    }
    if (!id) {
        cli_error(c, "runs %s: which run? usage: venom runs %s ID [--json] (ids: venom runs list)", what, what);
        return CLI_EXIT_USAGE;
    }
    if (!(*s = open_store(c)))
        return CLI_EXIT_FAILED;
    char *err = NULL;
    int grc = store_run_get(*s, id, r, &err);
    if (grc < 0) {
        cli_error(c, "runs %s: %s", what, err ? err : "not found");
        mem_free(err);
        store_close(*s);
        *s = NULL;
        return grc == -ENOENT || grc == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
    }
    return 0;
}

static int runs_show(cli *c, int argc, char **argv)
{
    bool json;
    store *s;
    store_run r = {0};
    int rc = one_run(c, argc, argv, "show", &json, &s, &r);
    if (rc)
        return rc;
    first_event f = {0};
    char *err = NULL;
    (void)store_events(s, r.id, grab_started, &f, &err);
    mem_free(err);
    err = NULL;
    int vrc = store_verify(s, r.id, &err);
    const json_t *sum = r.summary;
    if (json) {
        json_t *o = run_json(&r);
        json_object_set_new(o, "chain", json_string(vrc == 0 ? "ok" : err ? err : "broken"));
        json_object_set(o, "provider", json_object_get(f.started, "provider") ?: json_null());
        json_object_set(o, "model", json_object_get(f.started, "model") ?: json_null());
        json_object_set(o, "workdir", json_object_get(f.started, "workdir") ?: json_null());
        dump_line(c, o);
        json_decref(o);
    } else {
        fprintf(c->out, "run       %s\ngoal      %s\nstatus    %s\n", r.id, r.goal ? r.goal : "",
                r.status ? r.status : "");
        const char *reason = json_string_value(json_object_get(sum, "reason"));
        if (reason)
            fprintf(c->out, "reason    %s\n", reason);
        fprintf(c->out, "provider  %s%s%s\n", json_string_value(json_object_get(f.started, "provider")) ?: "?",
                *(json_string_value(json_object_get(f.started, "model")) ?: "") ? " / " : "",
                json_string_value(json_object_get(f.started, "model")) ?: "");
        fprintf(c->out, "workdir   %s\n", json_string_value(json_object_get(f.started, "workdir")) ?: "?");
        fprintf(c->out, "started   %s\nfinished  %s\n", r.started ? r.started : "", r.finished ? r.finished : "-");
        if (sum) {
            json_t *u = json_object_get(sum, "usage");
            fprintf(c->out, "steps     %.0f\ntokens    %.0f in (%.0f cached), %.0f out\ncost      %.6f%s\n",
                    num(sum, "steps"), num(u, "input_tokens") + num(u, "cached_input_tokens"),
                    num(u, "cached_input_tokens"), num(u, "output_tokens"), num(sum, "cost"),
                    json_is_false(json_object_get(sum, "priced")) ? " (no price configured for the model)" : "");
        }
        fprintf(c->out, "events    %" PRId64 "\nchain     %s\n", r.events, vrc == 0 ? "ok" : err ? err : "broken");
        const char *answer = json_string_value(json_object_get(sum, "answer"));
        if (answer)
            fprintf(c->out, "answer\n%s\n", answer);
    }
    json_decref(f.started);
    mem_free(err);
    store_run_clear(&r);
    store_close(s);
    return vrc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

typedef struct log_state {
    cli *c;
    bool json;
} log_state;

static int print_event(void *user, const json_t *ev)
{
    log_state *ls = user;
    if (ls->json) {
        dump_line(ls->c, ev);
        return 0;
    }
    const char *type = json_string_value(json_object_get(ev, "type")) ?: "?";
    fprintf(ls->c->out, "%4" JSON_INTEGER_FORMAT "  %s  %-15s", json_integer_value(json_object_get(ev, "seq")),
            json_string_value(json_object_get(ev, "ts")) ?: "", type);
    json_t *v;
    if (!strcmp(type, "run.started"))
        fprintf(ls->c->out, " %s (%s)", json_string_value(json_object_get(ev, "goal")) ?: "",
                json_string_value(json_object_get(ev, "provider")) ?: "");
    else if (!strcmp(type, "tool.call") || !strcmp(type, "tool.result")) {
        fprintf(ls->c->out, " step %" JSON_INTEGER_FORMAT " %s %s", json_integer_value(json_object_get(ev, "step")),
                json_string_value(json_object_get(ev, "tool")) ?: "",
                json_string_value(json_object_get(ev, "call_id")) ?: "");
        if (!strcmp(type, "tool.result"))
            fprintf(ls->c->out, " %s %.1f ms", json_is_true(json_object_get(ev, "ok")) ? "ok" : "error",
                    num(ev, "duration_ms"));
        if ((v = json_object_get(ev, "error")))
            fprintf(ls->c->out, ": %s", json_string_value(v));
    } else if (!strcmp(type, "model.response")) {
        json_t *u = json_object_get(ev, "usage");
        fprintf(ls->c->out, " step %" JSON_INTEGER_FORMAT " %s %s, %.0f in / %.0f out, %.1f ms",
                json_integer_value(json_object_get(ev, "step")), json_string_value(json_object_get(ev, "model")) ?: "",
                json_string_value(json_object_get(ev, "finish")) ?: "", num(u, "input_tokens"),
                num(u, "output_tokens"), num(ev, "duration_ms"));
    } else if (!strcmp(type, "model.error")) {
        fprintf(ls->c->out, " step %" JSON_INTEGER_FORMAT ": %s", json_integer_value(json_object_get(ev, "step")),
                json_string_value(json_object_get(ev, "error")) ?: "");
    } else if ((v = json_object_get(ev, "step"))) {
        fprintf(ls->c->out, " step %" JSON_INTEGER_FORMAT, json_integer_value(v));
    }
    if (!strcmp(type, "run.finished"))
        fprintf(ls->c->out, " %s%s%s", json_string_value(json_object_get(ev, "status")) ?: "",
                json_object_get(ev, "reason") ? ": " : "", json_string_value(json_object_get(ev, "reason")) ?: "");
    fputc('\n', ls->c->out);
    return 0;
}

static int runs_log(cli *c, int argc, char **argv)
{
    bool json;
    store *s;
    store_run r = {0};
    int rc = one_run(c, argc, argv, "log", &json, &s, &r);
    if (rc)
        return rc;
    char *err = NULL;
    log_state ls = {.c = c, .json = json};
    rc = CLI_EXIT_OK;
    if (store_events(s, r.id, print_event, &ls, &err) < 0) {
        cli_error(c, "runs log: %s", err ? err : "failed");
        rc = CLI_EXIT_FAILED;
    }
    mem_free(err);
    store_run_clear(&r);
    store_close(s);
    return rc;
}

/* `venom runs stop|pause|resume ID`: a request to a running plan run,
 * read by its orchestrator within a tenth of a second (run_control). */
static int runs_control(cli *c, int argc, char **argv)
{
    bool json;
    store *s;
    store_run r = {0};
    int rc = one_run(c, argc, argv, argv[0], &json, &s, &r);
    if (rc)
        return rc;
    char *err = NULL;
    if (!r.status || strcmp(r.status, "running")) {
        cli_error(c, "runs %s: run %s is not running (status %s)", argv[0], r.id, r.status ? r.status : "?");
        rc = CLI_EXIT_USAGE;
    } else if (store_control_set(s, r.id, argv[0], &err) < 0) {
        cli_error(c, "runs %s: %s", argv[0], err ? err : "cannot record the request");
        rc = CLI_EXIT_FAILED;
    } else if (json) {
        fprintf(c->out, "{\"run_id\":\"%s\",\"request\":\"%s\"}\n", r.id, argv[0]);
    } else {
        fprintf(c->out, "%s requested for run %s\n", argv[0], r.id);
    }
    mem_free(err);
    store_run_clear(&r);
    store_close(s);
    return rc;
}

int cmd_runs(cli *c, int argc, char **argv)
{
    if (argc < 2) {
        cli_error(c, "runs: which subcommand? list, show or log; run 'venom help runs'");
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "list"))
        return runs_list(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "show"))
        return runs_show(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "log"))
        return runs_log(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "stop") || !strcmp(argv[1], "pause") || !strcmp(argv[1], "resume"))
        return runs_control(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        char *hv[] = {"help", "runs", NULL};
        return cmd_help(c, 2, hv);
    }
    cli_error(c, "runs: unknown subcommand '%s'; use list, show, log, stop, pause or resume", argv[1]);
    return CLI_EXIT_USAGE;
}
