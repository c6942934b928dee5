/*
 * plan_dag.c — a 10,000-step plan of in-process no-op skills (the bench
 * noop pack, trusted) run by the orchestrator with every event durable in
 * SQLite, in two shapes: wide (10,000 independent steps) and deep (a chain
 * of 10,000). Baseline, same run, same store: the same number of direct
 * registry_call + the same events (step.ready, step.started, step.finished)
 * from one thread, store_append'ed (a transaction each) and batched
 * (store_batch, group commit like the orchestrator). Prints steps/s, the
 * ratio to the first baseline and the scheduler's overhead per step (time
 * over the batched baseline). See bench/README.md.
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

/* One event: store_append (its own transaction) or into the batch. */
static void put(store *s, store_batch *b, const char *id, const char *type, json_t *payload)
{
    char *err = NULL;
    int rc = b ? store_batch_append(b, type, payload, &err) : store_append(s, id, type, payload, NULL, &err);
    if (rc < 0)
        die("append", err);
    json_decref(payload);
}

/* The events of the orchestrator per step, from one thread, no scheduler:
 * one transaction per event, or (batched) group-committed like it. */
static double baseline(registry *r, store *s, const reg_skill *sk, size_t n, const char *work, bool batched)
{
    char id[32], *err = NULL;
    if (store_run_new(s, "baseline", id, &err) < 0)
        die("store_run_new", err);
    store_batch *b = NULL;
    registry_call_opts co = {.workdir = work};
    double t0 = now_s();
    if (batched && store_batch_open(s, id, NULL, &b, &err) < 0)
        die("store_batch_open", err);
    for (size_t i = 0; i < n; i++) {
        char sid[32];
        snprintf(sid, sizeof sid, "s%zu", i);
        put(s, b, id, "step.ready", json_pack("{s:s}", "step", sid));
        put(s, b, id, "step.started", json_pack("{s:s, s:s, s:s}", "step", sid, "kind", "skill", "skill", "noop.echo"));
        json_t *args = json_pack("{s:I}", "n", (json_int_t)i);
        registry_result res = {0};
        if (registry_call(r, sk, args, &co, &res, &err) < 0)
            die("registry_call", err);
        put(s, b, id, "step.finished",
            json_pack("{s:s, s:s, s:s, s:b, s:f, s:i, s:O}", "step", sid, "kind", "skill", "status", "done", "ok", 1,
                      "duration_ms", 0.001, "attempts", 1, "result", res.value));
        json_decref(res.value);
        json_decref(args);
    }
    if (store_batch_close(b, &err) < 0)
        die("store_batch_close", err);
    return now_s() - t0;
}

/* Where a step's time goes, part by part, one thread: the skill call, the
 * three payloads (json_pack + free), sealing the three events (check,
 * print, hash, queue: store_batch_append with no commit in between) and
 * committing them (store_batch_flush, groups of 3000 events). us/step. */
static void parts(registry *r, store *s, const reg_skill *sk, size_t n, const char *work)
{
    char id[32], *err = NULL;
    if (store_run_new(s, "parts", id, &err) < 0)
        die("store_run_new", err);
    registry_call_opts co = {.workdir = work};
    double t_call = 0, t_json = 0, t_seal = 0, t_commit = 0;
    store_batch_opts bo = {.max_events = STORE_BATCH_EVENTS_MAX, .max_ms = STORE_BATCH_MS_MAX};
    store_batch *b = NULL;
    if (store_batch_open(s, id, &bo, &b, &err) < 0)
        die("store_batch_open", err);
    enum { CHUNK = 1000 };
    json_t **ev = calloc(3 * CHUNK, sizeof *ev);
    for (size_t at = 0; at < n; at += CHUNK) {
        size_t k = n - at < CHUNK ? n - at : CHUNK;
        double t0 = now_s();
        for (size_t i = 0; i < k; i++) {
            json_t *args = json_pack("{s:I}", "n", (json_int_t)(at + i));
            registry_result res = {0};
            if (registry_call(r, sk, args, &co, &res, &err) < 0)
                die("registry_call", err);
            json_decref(res.value);
            json_decref(args);
        }
        double t1 = now_s();
        for (size_t i = 0; i < k; i++) {
            char sid[32];
            snprintf(sid, sizeof sid, "s%zu", at + i);
            ev[3 * i] = json_pack("{s:s}", "step", sid);
            ev[3 * i + 1] = json_pack("{s:s, s:s, s:s}", "step", sid, "kind", "skill", "skill", "noop.echo");
            ev[3 * i + 2] = json_pack("{s:s, s:s, s:s, s:b, s:f, s:i, s:{s:I}}", "step", sid, "kind", "skill", "status",
                                      "done", "ok", 1, "duration_ms", 0.001, "attempts", 1, "result", "n",
                                      (json_int_t)(at + i));
        }
        double t2 = now_s();
        for (size_t i = 0; i < 3 * k; i++)
            if (store_batch_append(b, i % 3 == 0 ? "step.ready" : i % 3 == 1 ? "step.started" : "step.finished", ev[i],
                                   &err) < 0)
                die("store_batch_append", err);
        double t3 = now_s();
        if (store_batch_flush(b, &err) < 0)
            die("store_batch_flush", err);
        double t4 = now_s();
        for (size_t i = 0; i < 3 * k; i++)
            json_decref(ev[i]);
        double t5 = now_s();
        t_call += t1 - t0;
        t_json += (t2 - t1) + (t5 - t4);
        t_seal += t3 - t2;
        t_commit += t4 - t3;
    }
    free(ev);
    if (store_batch_close(b, &err) < 0)
        die("store_batch_close", err);
    double us = 1e6 / (double)n;
    printf("\nwhere a step's time goes (one thread, us/step): skill call %.2f, 3 payloads built and freed %.2f,\n"
           "3 events sealed (check, print, SHA-256, queue) %.2f, 3 events committed (groups of 3000) %.2f;\n"
           "sum %.2f us = %.0f steps/s\n",
           t_call * us, t_json * us, t_seal * us, t_commit * us, (t_call + t_json + t_seal + t_commit) * us,
           (double)n / (t_call + t_json + t_seal + t_commit));
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
    /* VENOM_BENCH_SKIP_BASELINE=1: only the orchestrated cases (to profile them) */
    bool skip = getenv("VENOM_BENCH_SKIP_BASELINE") != NULL;
    double tb = skip ? 0 : baseline(r, s, sk, n, tmp, false), tbb = baseline(r, s, sk, n, tmp, true);
    printf("\n%-44s %10s %12s %8s %14s\n", "case", "seconds", "steps/s", "ratio", "overhead/step");
    if (!skip)
        printf("%-44s %10.3f %12.0f %8.2f %14s\n", "baseline: call + 3 appends, one thread", tb, n / tb, 1.0, "-");
    if (skip)
        tb = tbb;
    printf("%-44s %10.3f %12.0f %8.2f %14s\n", "baseline: call + 3 appends batched, 1 thread", tbb, n / tbb, tbb / tb,
           "-");
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
        printf("%-44s %10.3f %12.0f %8.2f %11.1f us\n", label, t, n / t, t / tb, (t - tbb) / n * 1e6);
        orch_outcome_clear(&out);
        plan_free(p);
    }
    parts(r, s, sk, n, tmp);
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
