/*
 * plan_dag.c — a 10,000-step plan of in-process no-op skills (the bench
 * noop pack, trusted) run by the orchestrator with every event durable in
 * SQLite, in two shapes: wide (10,000 independent steps) and deep (a chain
 * of 10,000). Baseline, same run, same store: the same number of direct
 * registry_call + the same events (step.ready, step.started, step.finished)
 * store_append'ed from one thread. Prints steps/s, the ratio to the
 * baseline and the scheduler's overhead per step. See bench/README.md.
 *
 *   plan_dag [STEPS]        (default 10000; VENOM_BENCH_PARALLEL=N workers)
 */
#include "util/common.h"

#include <time.h>
#include <unistd.h>

#include "orchestrate/orchestrate.h"
#include "plan/plan.h"
#include "plugin/registry.h"
#include "store/store.h"
#include "util/buf.h"

static void die(const char *what, const char *err)
{
    fprintf(stderr, "plan_dag: %s: %s\n", what, err ? err : "failed");
    exit(1);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static plan *make_plan(registry *r, size_t n, bool deep)
{
    buf b = {0};
    int rc = buf_puts(&b, "{\"name\":\"bench\",\"steps\":[");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = buf_printf(&b, "%s{\"id\":\"s%zu\",\"skill\":\"noop.echo\",\"args\":{\"n\":%zu}", i ? "," : "", i, i);
        if (rc == 0 && deep && i)
            rc = buf_printf(&b, ",\"depends_on\":[\"s%zu\"]", i - 1);
        if (rc == 0)
            rc = buf_putc(&b, '}');
    }
    if (rc || buf_puts(&b, "]}"))
        die("plan", "out of memory");
    plan *p = NULL;
    char *err = NULL;
    if (plan_parse(buf_str(&b), b.len, "bench.json", NULL, 0, &p, &err) < 0 || plan_check(p, r, NULL, &err) < 0)
        die("plan", err);
    buf_release(&b);
    return p;
}

static double baseline(registry *r, store *s, const reg_skill *sk, size_t n, const char *work)
{
    char id[32], *err = NULL;
    if (store_run_new(s, "baseline", id, &err) < 0)
        die("store_run_new", err);
    registry_call_opts co = {.workdir = work};
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        char sid[32];
        snprintf(sid, sizeof sid, "s%zu", i);
        if (store_append(s, id, "step.ready", json_pack("{s:s}", "step", sid), NULL, &err) < 0 ||
            store_append(s, id, "step.started", json_pack("{s:s, s:s, s:s}", "step", sid, "kind", "skill", "skill",
                                                          "noop.echo"), NULL, &err) < 0)
            die("store_append", err);
        json_t *args = json_pack("{s:I}", "n", (json_int_t)i);
        registry_result res = {0};
        if (registry_call(r, sk, args, &co, &res, &err) < 0)
            die("registry_call", err);
        json_t *fin = json_pack("{s:s, s:s, s:s, s:b, s:f, s:i, s:O}", "step", sid, "kind", "skill", "status", "done",
                                "ok", 1, "duration_ms", 0.001, "attempts", 1, "result", res.value);
        if (store_append(s, id, "step.finished", fin, NULL, &err) < 0)
            die("store_append", err);
        json_decref(fin);
        json_decref(res.value);
        json_decref(args);
    }
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10000;
    const char *par_env = getenv("VENOM_BENCH_PARALLEL");
    size_t par = par_env ? (size_t)strtoul(par_env, NULL, 10) : 0;
    char tmp[] = "/tmp/venom-bench-dag-XXXXXX";
    if (!n || !mkdtemp(tmp))
        die("setup", "bad step count or mkdtemp failed");
    char *err = NULL, *db = mem_printf("%s/venom.db", tmp);
    const char *dirs[] = {VENOM_BENCH_PACKS};
    registry_opts ro = {.dirs = dirs, .n_dirs = 1, .first_party = VENOM_BENCH_PACKS};
    registry *r = NULL;
    store *s = NULL;
    if (registry_new(&ro, &r, &err) < 0)
        die("registry", err);
    const reg_skill *sk = registry_find(r, "noop.echo");
    if (!sk || reg_skill_sandboxed(r, sk))
        die("noop.echo", "not found, or not in-process (build bench_noop)");
    if (store_open(db, &s, &err) < 0)
        die("store", err);
    printf("plan_dag: %zu steps, in-process no-op skill, every event appended to SQLite (WAL)\n", n);
    double tb = baseline(r, s, sk, n, tmp);
    printf("\n%-44s %10s %12s %8s %14s\n", "case", "seconds", "steps/s", "ratio", "overhead/step");
    printf("%-44s %10.3f %12.0f %8.2f %14s\n", "baseline: call + 3 appends, one thread", tb, n / tb, 1.0, "-");
    for (int deep = 0; deep < 2; deep++) {
        plan *p = make_plan(r, n, deep);
        orch_opts oo = {.goal = deep ? "bench deep" : "bench wide", .workdir = tmp, .parallel = par};
        orch_outcome out = {0};
        double t0 = now_s();
        if (orchestrate_run(r, s, p, &oo, NULL, &out, &err) < 0)
            die("orchestrate_run", err);
        double t = now_s() - t0;
        if (out.status != AGENT_DONE || out.done != n)
            die("orchestrate_run", out.reason ? out.reason : "not every step done");
        char label[64];
        snprintf(label, sizeof label, "orchestrated, %s (%zu steps)", deep ? "deep chain" : "wide", n);
        printf("%-44s %10.3f %12.0f %8.2f %11.1f us\n", label, t, n / t, t / tb, (t - tb) / n * 1e6);
        orch_outcome_clear(&out);
        plan_free(p);
    }
    printf("\ntarget: >= 50000 steps/s with every event durable\n");
    store_close(s);
    registry_free(r);
    unlink(db);
    char *wal = mem_printf("%s-wal", db), *shm = mem_printf("%s-shm", db);
    unlink(wal);
    unlink(shm);
    rmdir(tmp);
    mem_free(wal);
    mem_free(shm);
    mem_free(db);
    return 0;
}
