/*
 * cmd_router.c — `venom router stats` (what the router has learnt: per model
 * and task kind, calls, success rate, mean latency, spend, posterior) and
 * `venom feedback RUN good|bad` (a verdict on a run moves the posteriors of
 * the models it used). docs/routing.md.
 */
#include "util/common.h"

#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "route/route.h"
#include "store/store.h"
#include "util/err.h"

static store *open_db(cli *c, const char *cmd)
{
    char *path = mem_printf("%s/venom.db", c->cfg->home), *err = NULL;
    store *s = NULL;
    if (!path) {
        cli_error(c, "out of memory");
        return NULL;
    }
    if (access(path, F_OK) != 0) {
        cli_error(c, "%s: no event log yet at %s; start one with venom run \"…\"", cmd, path);
    } else if (store_open(path, &s, &err) < 0) {
        cli_error(c, "event log %s: %s", path, err ? err : "cannot open");
        s = NULL;
    }
    mem_free(err);
    mem_free(path);
    return s;
}

static void print_json(cli *c, json_t *v)
{
    char *t = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    if (t)
        fprintf(c->out, "%s\n", t);
    free(t);
}

static json_t *row_json(const store_route_row *r, bool in_catalog)
{
    int64_t decided = r->successes + r->failures;
    json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f}", "model", r->model, "kind",
                          r->kind, "in_catalog", in_catalog, "calls", (json_int_t)r->calls, "successes",
                          (json_int_t)r->successes, "failures", (json_int_t)r->failures, "turns",
                          (json_int_t)r->turns, "retries", (json_int_t)r->retries, "cost", r->cost, "alpha", r->alpha,
                          "beta", r->beta, "posterior_mean", r->alpha / (r->alpha + r->beta));
    if (o) {
        json_object_set_new(o, "success_rate",
                            decided ? json_real((double)r->successes / (double)decided) : json_null());
        json_object_set_new(o, "mean_latency_ms", r->turns ? json_real(r->latency_ms / (double)r->turns) : json_null());
    }
    return o;
}

static int router_stats(cli *c, bool json)
{
    int rc = CLI_EXIT_FAILED;
    store *s = open_db(c, "router stats");
    route_catalog *cat = NULL;
    store_route_row *rows = NULL;
    size_t n = 0;
    char *err = NULL;
    json_t *out = NULL;
    if (!s)
        return rc;
    if (route_catalog_new(c->cfg, &cat, &err) < 0 || store_route_stats(s, &rows, &n, &err) < 0) {
        cli_error(c, "router stats: %s", err ? err : "failed");
        goto out;
    }
    char day[16];
    double today = 0;
    route_today(day);
    if (store_route_spent(s, day, NULL, &today, &err) < 0) {
        cli_error(c, "router stats: %s", err ? err : "failed");
        goto out;
    }
    out = json_pack("{s:[], s:{s:s, s:f}}", "models", "spend", "day", day, "total", today);
    if (!out) {
        cli_error(c, "out of memory");
        goto out;
    }
    json_object_set_new(json_object_get(out, "spend"), "day_budget",
                        c->cfg->budget_day > 0 ? json_real(c->cfg->budget_day) : json_null());
    json_t *models = json_object_get(out, "models");
    bool *seen = mem_calloc(cat->n ? cat->n : 1, sizeof *seen);
    if (!seen) {
        cli_error(c, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = route_catalog_find(cat, rows[i].model);
        if (k != ROUTE_NONE && strcmp(cat->m[k].id, rows[i].model))
            k = ROUTE_NONE; /* the bare-model match is for the command line only */
        if (k != ROUTE_NONE)
            seen[k] = true;
        json_array_append_new(models, row_json(&rows[i], k != ROUTE_NONE));
    }
    /* catalog models never used yet: their prior only */
    for (size_t k = 0; k < cat->n; k++) {
        if (seen[k])
            continue;
        store_route_row r = {.model = cat->m[k].id, .kind = ROUTE_DEFAULT_KIND, .alpha = 1, .beta = 1};
        json_array_append_new(models, row_json(&r, true));
    }
    mem_free(seen);
    if (json) {
        print_json(c, out);
    } else {
        fprintf(c->out, "%-32s %-10s %6s %8s %12s %12s %10s\n", "MODEL", "KIND", "CALLS", "SUCCESS", "LATENCY_MS",
                "SPEND", "POSTERIOR");
        size_t i;
        json_t *m;
        json_array_foreach(models, i, m) {
            json_t *sr = json_object_get(m, "success_rate"), *lat = json_object_get(m, "mean_latency_ms");
            char srb[32] = "-", latb[32] = "-";
            if (json_is_number(sr))
                snprintf(srb, sizeof srb, "%.0f%%", json_number_value(sr) * 100);
            if (json_is_number(lat))
                snprintf(latb, sizeof latb, "%.1f", json_number_value(lat));
            fprintf(c->out, "%-32s %-10s %6lld %8s %12s %12.6f %10.3f\n",
                    json_string_value(json_object_get(m, "model")), json_string_value(json_object_get(m, "kind")),
                    (long long)json_integer_value(json_object_get(m, "calls")), srb, latb,
                    json_number_value(json_object_get(m, "cost")),
                    json_number_value(json_object_get(m, "posterior_mean")));
        }
        fprintf(c->out, "spend %s: %.6f", day, today);
        if (c->cfg->budget_day > 0)
            fprintf(c->out, " of %.6f (budget.day)", c->cfg->budget_day);
        fputc('\n', c->out);
    }
    rc = CLI_EXIT_OK;
out:
    json_decref(out);
    for (size_t i = 0; i < n; i++)
        store_route_row_clear(&rows[i]);
    mem_free(rows);
    route_catalog_free(cat);
    store_close(s);
    mem_free(err);
    return rc;
}

int cmd_router(cli *c, int argc, char **argv)
{
    static const char usage[] = "usage: venom router stats [--json]";
    bool json = false;
    const char *sub = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            char *hv[] = {"help", "router", NULL};
            return cmd_help(c, 2, hv);
        } else if (!sub && argv[i][0] != '-') {
            sub = argv[i];
        } else {
            cli_error(c, "router: unexpected '%s'\n%s", argv[i], usage);
            return CLI_EXIT_USAGE;
        }
    }
    if (!sub || strcmp(sub, "stats")) {
        cli_error(c, "router: %s%s%s\n%s", sub ? "unknown command '" : "what to do?", sub ? sub : "",
                  sub ? "'" : "", usage);
        return CLI_EXIT_USAGE;
    }
    c->json = json;
    return router_stats(c, json);
}

/* ------------------------------------------------------------ feedback */

typedef struct used {
    char **models, **kinds;
    size_t n;
    char kind[128];    /* the kind of the latest route.decided */
    char pending[512]; /* the latest model.request's provider/model */
    bool oom;
} used;

static void used_add(used *u, const char *model)
{
    for (size_t i = 0; i < u->n; i++)
        if (!strcmp(u->models[i], model) && !strcmp(u->kinds[i], u->kind))
            return;
    char **m = mem_realloc(u->models, (u->n + 1) * sizeof *m);
    if (m)
        u->models = m;
    char **k = mem_realloc(u->kinds, (u->n + 1) * sizeof *k);
    if (k)
        u->kinds = k;
    if (!m || !k || !(u->models[u->n] = mem_strdup(model))) {
        u->oom = true;
        return;
    }
    if (!(u->kinds[u->n] = mem_strdup(u->kind))) {
        mem_free(u->models[u->n]);
        u->oom = true;
        return;
    }
    u->n++;
}

/* The (model, kind) pairs that answered in the run: each model.response
 * after a model.request (provider/model), with the kind of the route. */
static int collect_used(void *user, const json_t *ev)
{
    used *u = user;
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type)
        return 0;
    if (!strcmp(type, "route.decided")) {
        snprintf(u->kind, sizeof u->kind, "%s", json_string_value(json_object_get(ev, "kind")) ?: ROUTE_DEFAULT_KIND);
    } else if (!strcmp(type, "model.request")) {
        snprintf(u->pending, sizeof u->pending, "%s/%s", json_string_value(json_object_get(ev, "provider")) ?: "",
                 json_string_value(json_object_get(ev, "model")) ?: "");
    } else if (!strcmp(type, "model.response") && u->pending[0]) {
        used_add(u, u->pending);
    }
    return 0;
}

int cmd_feedback(cli *c, int argc, char **argv)
{
    static const char usage[] = "usage: venom feedback RUN good|bad [--json]";
    const char *id = NULL, *verdict = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            char *hv[] = {"help", "feedback", NULL};
            return cmd_help(c, 2, hv);
        } else if (argv[i][0] == '-' || (id && verdict)) {
            cli_error(c, "feedback: unexpected '%s'\n%s", argv[i], usage);
            return CLI_EXIT_USAGE;
        } else if (!id) {
            id = argv[i];
        } else {
            verdict = argv[i];
        }
    }
    if (!id || !verdict || (strcmp(verdict, "good") && strcmp(verdict, "bad"))) {
        cli_error(c, "feedback: %s\n%s", !id ? "which run? (venom runs list)" : "the verdict is good or bad", usage);
        return CLI_EXIT_USAGE;
    }
    c->json = json;
    int rc = CLI_EXIT_FAILED;
    store *s = open_db(c, "feedback");
    store_run run = {0};
    used u = {.kind = ROUTE_DEFAULT_KIND};
    char *err = NULL;
    double *before = NULL;
    if (!s)
        return rc;
    int grc = store_run_get(s, id, &run, &err);
    if (grc < 0) {
        cli_error(c, "feedback: %s", err ? err : "no such run");
        rc = grc == -ENOENT || grc == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
        goto out;
    }
    if (store_events(s, run.id, collect_used, &u, &err) < 0 || u.oom) {
        cli_error(c, "feedback: %s", err ? err : "out of memory");
        goto out;
    }
    bool good = !strcmp(verdict, "good");
    if (!(before = mem_calloc(2 * (u.n ? u.n : 1), sizeof *before))) {
        cli_error(c, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < u.n; i++) {
        const char *one[1] = {u.models[i]};
        if (store_route_get(s, u.kinds[i], one, 1, &before[2 * i], &before[2 * i + 1], &err) < 0) {
            cli_error(c, "feedback: %s", err ? err : "failed");
            goto out;
        }
    }
    int frc = store_route_feedback(s, run.id, good, (const char *const *)u.models, (const char *const *)u.kinds, u.n,
                                   &err);
    if (frc < 0) {
        cli_error(c, "feedback: %s", err ? err : "failed");
        rc = frc == -EALREADY ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
        goto out;
    }
    json_t *res = json_pack("{s:s, s:s, s:[]}", "run_id", run.id, "verdict", verdict, "models");
    for (size_t i = 0; res && i < u.n; i++) {
        double a, b;
        const char *one[1] = {u.models[i]};
        if (store_route_get(s, u.kinds[i], one, 1, &a, &b, &err) < 0)
            a = b = 1;
        json_array_append_new(json_object_get(res, "models"),
                              json_pack("{s:s, s:s, s:f, s:f}", "model", u.models[i], "kind", u.kinds[i], "before",
                                        before[2 * i] / (before[2 * i] + before[2 * i + 1]), "after", a / (a + b)));
        if (!json)
            fprintf(c->out, "%s (%s): posterior %.3f -> %.3f\n", u.models[i], u.kinds[i],
                    before[2 * i] / (before[2 * i] + before[2 * i + 1]), a / (a + b));
    }
    if (json)
        print_json(c, res);
    else
        fprintf(c->out, "run %s: %s%s\n", run.id, verdict, u.n ? "" : " (recorded; the run called no model)");
    json_decref(res);
    rc = CLI_EXIT_OK;
out:
    for (size_t i = 0; i < u.n; i++) {
        mem_free(u.models[i]);
        mem_free(u.kinds[i]);
    }
    mem_free(u.models);
    mem_free(u.kinds);
    mem_free(before);
    store_run_clear(&run);
    store_close(s);
    mem_free(err);
    return rc;
}
