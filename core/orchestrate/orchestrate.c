#include "util/common.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/provider.h"
#include "orchestrate/orchestrate.h"
#include "plan/plan.h"
#include "plugin/registry.h"
#include "route/route.h"
#include "store/store.h"
#include "util/err.h"

#define CANCEL_USER 1
#define CANCEL_TIMEOUT 2
#define BACKOFF_MAX_MS 30000u

enum { S_PENDING, S_QUEUED, S_RUNNING, S_DONE, S_FAILED, S_SKIPPED };

typedef struct ostep {
    int state;
    size_t pending;       /* dependencies not done yet */
    json_t *result;       /* set once, before the step is marked done */
    atomic_int cancel;    /* 1 interrupt, 2 timeout of this attempt */
    int64_t deadline;     /* monotonic ms of this attempt's timeout; 0 none (under m) */
    int code;             /* registry code of the last failure */
    const char *agent;    /* agent step: the agent that runs it (named, or the auction's winner) */
} ostep;

typedef struct orun {
    registry *reg;
    store *st;
    const plan *p;
    const orch_opts *o;
    const agent_sink *sink;
    char id[32];
    ostep *s;
    size_t *rev, *rev_at; /* dependants of i: rev[rev_at[i] .. rev_at[i+1]) */
    /* scheduling */
    pthread_mutex_t m;
    pthread_cond_t work, idle;
    size_t *q, qhead, qtail;
    size_t finished, running;
    bool stopping, paused;
    size_t n_done, n_failed, n_skipped;
    bool sandbox_fail;
    char *first_error;    /* "step ID (skill): error" of the first step that failed (under m) */
    /* events: group-committed (store_batch); elock guards append_rc/err */
    store_batch *batch;
    pthread_mutex_t elock;
    int append_rc;
    char *append_err;
} orun;

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

void orch_outcome_clear(orch_outcome *o)
{
    mem_free(o->reason);
    o->reason = NULL;
}

/* Record the first failure of the event log (reported when the run ends). */
static void append_failed(orun *r, int rc, char *err)
{
    pthread_mutex_lock(&r->elock);
    if (r->append_rc == 0) {
        r->append_rc = rc;
        r->append_err = err ? err : mem_strdup("out of memory");
        err = NULL;
    }
    pthread_mutex_unlock(&r->elock);
    mem_free(err);
}

/* Queue an event (payload stolen) in the run's group commit; the sink gets
 * it once committed (committed(), in seq order). Before the batch is open
 * or after it is closed: one store_append. */
static void emit(orun *r, const char *type, json_t *payload)
{
    char *err = NULL;
    json_t *ev = NULL;
    int rc = -ENOMEM;
    if (payload && r->batch)
        rc = store_batch_append(r->batch, type, payload, &err);
    else if (payload)
        rc = store_append(r->st, r->id, type, payload, r->sink && r->sink->event ? &ev : NULL, &err);
    if (rc == 0 && ev)
        r->sink->event(r->sink->user, ev);
    if (rc < 0)
        append_failed(r, rc, err);
    else
        mem_free(err);
    json_decref(ev);
    json_decref(payload);
}

/* The batch's callback: a committed event for the sink. */
static void committed(void *user, const json_t *ev)
{
    orun *r = user;
    if (r->sink && r->sink->event)
        r->sink->event(r->sink->user, ev);
}

/* Commit what is queued (pause, stop: what happened so far is on disk). */
static void flush_events(orun *r)
{
    char *err = NULL;
    int rc = store_batch_flush(r->batch, &err);
    if (rc < 0)
        append_failed(r, rc, err);
    else
        mem_free(err);
}

static const json_t *result_of(void *user, size_t i)
{
    orun *r = user;
    return r->s[i].state == S_DONE ? r->s[i].result : NULL;
}

static const char *step_id(const orun *r, size_t i) { return r->p->steps[i].id; }

/* ------------------------------------------------------------ graph */

/* Under m: step i ended with state `st`. Collects the dependants that are
 * now ready (into ready[]) and the ones skipped because of i (into skip[],
 * marked skipped here, events later). */
static void complete_locked(orun *r, size_t i, int st, size_t *ready, size_t *n_ready, size_t *skip, size_t *n_skip)
{
    r->s[i].state = st;
    r->finished++;
    if (st == S_DONE)
        r->n_done++;
    else if (st == S_FAILED)
        r->n_failed++;
    else
        r->n_skipped++;
    size_t base = *n_skip;
    if (st == S_DONE) {
        for (size_t k = r->rev_at[i]; k < r->rev_at[i + 1]; k++) {
            size_t j = r->rev[k];
            if (r->s[j].state == S_PENDING && --r->s[j].pending == 0)
                ready[(*n_ready)++] = j;
        }
        return;
    }
    /* failed or skipped: every pending dependant, transitively, is skipped */
    skip[(*n_skip)++] = i;
    for (size_t at = base; at < *n_skip; at++) {
        size_t x = skip[at];
        for (size_t k = r->rev_at[x]; k < r->rev_at[x + 1]; k++) {
            size_t j = r->rev[k];
            if (r->s[j].state != S_PENDING)
                continue;
            r->s[j].state = S_SKIPPED;
            r->finished++;
            r->n_skipped++;
            skip[(*n_skip)++] = j;
            r->s[j].pending = x; /* reuse: the step that made it skip */
        }
    }
    /* the first entry is i itself: its own event is the caller's */
    memmove(skip + base, skip + base + 1, (*n_skip - base - 1) * sizeof *skip);
    (*n_skip)--;
}

/* Emit step.ready for ready[] and queue them; emit step.skipped for skip[]. */
static void publish(orun *r, const size_t *ready, size_t n_ready, const size_t *skip, size_t n_skip, size_t cause)
{
    for (size_t k = 0; k < n_skip; k++) {
        size_t j = skip[k], why = r->s[j].pending;
        int ws = r->s[why].state;
        (void)cause;
        emit(r, "step.skipped",
             json_pack("{s:s, s:s, s:s}", "step", step_id(r, j), "reason",
                       ws == S_FAILED ? "dependency_failed" : "dependency_skipped", "detail", step_id(r, why)));
    }
    for (size_t k = 0; k < n_ready; k++)
        emit(r, "step.ready", json_pack("{s:s}", "step", step_id(r, ready[k])));
    if (!n_ready)
        return;
    pthread_mutex_lock(&r->m);
    for (size_t k = 0; k < n_ready; k++) {
        r->s[ready[k]].state = S_QUEUED;
        r->q[r->qtail++] = ready[k];
    }
    pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&r->m);
}

/* ------------------------------------------------------------ one step */

typedef struct attempt {
    json_t *result;
    char *error;
    int code;
    bool retryable;
} attempt;

static void run_skill(orun *r, size_t i, const json_t *args, attempt *a)
{
    const plan_step *ps = &r->p->steps[i];
    registry_result res = {0};
    registry_call_opts co = {.workdir = r->o->workdir, .cancel = &r->s[i].cancel};
    int rc = registry_call(r->reg, ps->rs, args, &co, &res, &a->error);
    a->code = rc;
    if (rc == 0) {
        a->result = res.value ? res.value : json_null();
        return;
    }
    json_decref(res.value);
    if (!a->error)
        a->error = mem_strdup("the skill failed");
    a->retryable = rc != REGISTRY_E_ARGS && rc != REGISTRY_E_LOAD && rc != REGISTRY_E_SANDBOX;
}

static void run_agent(orun *r, size_t i, const char *instruction, attempt *a)
{
    const plan_step *ps = &r->p->steps[i];
    const char *name = r->s[i].agent;
    const json_t *def = json_object_get(r->o->agents, name);
    const json_t *jsk = json_object_get(def, "skills");
    size_t n_sk = json_array_size(jsk);
    const char **sk = n_sk ? mem_calloc(n_sk, sizeof *sk) : NULL;
    if (n_sk && !sk) {
        a->error = mem_strdup("out of memory");
        return;
    }
    for (size_t k = 0; k < n_sk; k++)
        sk[k] = json_string_value(json_array_get(jsk, k));
    json_t *budget = json_object_get(def, "budget");
    /* with a catalog the router picks the step's model; else the provider */
    bool routed = router_routes(r->o->router);
    agent_opts ao = {.goal = instruction,
                     .system = json_string_value(json_object_get(def, "role")),
                     .workdir = r->o->workdir,
                     .skills = jsk ? sk : NULL,
                     .n_skills = n_sk,
                     .max_cost = json_is_number(budget) ? json_number_value(budget) : 0,
                     .cancel = &r->s[i].cancel,
                     .run_id = r->id,
                     .step_tag = ps->id,
                     .router = r->o->router,
                     .kind = plan_step_task(ps),
                     .agent = name,
                     .model = routed ? json_string_value(json_object_get(def, "model")) : NULL};
    agent_outcome out = {0};
    /* with the batch open, its callback hands the agent's events to the sink
     * too, in seq order with every other step's: the agent must not */
    agent_sink quiet = {0};
    const agent_sink *sink = r->sink;
    if (r->batch && sink) {
        quiet = *sink;
        quiet.event = NULL;
        sink = &quiet;
    }
    if (!r->o->prov && !routed) {
        a->error = mem_strdup("no provider for agent steps");
    } else if (agent_run(r->reg, routed ? NULL : r->o->prov, r->st, &ao, sink, &out, &a->error) == 0) {
        if (out.status == AGENT_DONE) {
            a->result = json_string(out.answer ? out.answer : "");
        } else {
            a->error = mem_printf("agent %s %s: %s", name, agent_status_name(out.status),
                                  out.reason ? out.reason : agent_status_name(out.status));
            a->retryable = out.status == AGENT_FAILED || out.status == AGENT_PROVIDER || out.status == AGENT_LIMIT;
            if (out.status == AGENT_SANDBOX)
                a->code = REGISTRY_E_SANDBOX;
        }
    } else if (!a->error) {
        a->error = mem_strdup("the agent could not start");
    }
    agent_outcome_clear(&out);
    mem_free(sk);
}

/* An auctioned step: every eligible agent bids (auction.bid, best first),
 * the best wins (auction.won). Sets r->s[i].agent; false with *error when
 * no agent can take it or the statistics cannot be read. */
static bool auction(orun *r, size_t i, char **error)
{
    const plan_step *ps = &r->p->steps[i];
    auction_bid *b = NULL;
    size_t n = 0;
    const route_catalog *cat = r->o->router ? router_catalog(r->o->router) : NULL;
    if (auction_run(r->st, cat, r->o->agents, ps, NULL, &b, &n, error) < 0)
        return false;
    for (size_t k = 0; k < n; k++)
        emit(r, "auction.bid", json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:i}", "step", ps->id, "kind",
                                         plan_step_task(ps), "agent", b[k].agent, "score", b[k].score, "match",
                                         b[k].match, "success_rate", b[k].success_rate, "cost", b[k].cost, "rank",
                                         (int)k + 1));
    emit(r, "auction.won", json_pack("{s:s, s:s, s:s, s:f, s:i}", "step", ps->id, "kind", plan_step_task(ps), "agent",
                                     b[0].agent, "score", b[0].score, "bids", (int)n));
    r->s[i].agent = b[0].agent;
    mem_free(b);
    return true;
}

/* Sleep ms unless the run stops; false when it stopped. */
static bool backoff_sleep(orun *r, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&r->m);
    int rc = 0;
    while (!r->stopping && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&r->idle, &r->m, &ts);
    bool go = !r->stopping;
    pthread_mutex_unlock(&r->m);
    return go;
}

/* Run step i (its dependencies are done). Returns the state it ended in. */
static int run_step(orun *r, size_t i, unsigned *seed)
{
    const plan_step *ps = &r->p->steps[i];
    char *err = NULL;
    bool yes = true;
    if (plan_when(r->p, ps, result_of, r, &yes, &err) < 0 || !yes) {
        json_t *ev = json_pack("{s:s, s:s}", "step", ps->id, "reason", err ? "when_error" : "when_false");
        json_object_set_new(ev, "detail", json_string(err ? err : ps->when));
        emit(r, "step.skipped", ev);
        mem_free(err);
        return S_SKIPPED;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    attempt a = {0};
    if (ps->kind == PLAN_AGENT) {
        r->s[i].agent = ps->agent;
        if (!ps->agent && !auction(r, i, &a.error))
            r->s[i].agent = "";
    }
    json_t *ev = json_pack("{s:s, s:s, s:s}", "step", ps->id, "kind", ps->kind == PLAN_SKILL ? "skill" : "agent",
                           ps->kind == PLAN_SKILL ? "skill" : "agent", ps->kind == PLAN_SKILL ? ps->skill : r->s[i].agent);
    emit(r, "step.started", ev);
    json_t *input = NULL;
    unsigned attempts = 0;
    json_t *src = ps->kind == PLAN_SKILL ? json_incref(ps->args) : json_string(ps->instruction);
    int rc = a.error ? -ENOENT : plan_resolve(r->p, src, result_of, r, &input, &a.error);
    json_decref(src);
    if (rc == 0) {
        for (;;) {
            attempts++;
            atomic_store(&r->s[i].cancel, 0);
            pthread_mutex_lock(&r->m);
            bool stop = r->stopping;
            r->s[i].deadline = ps->timeout_ms ? now_ms() + ps->timeout_ms : 0;
            pthread_mutex_unlock(&r->m);
            if (stop) {
                a.error = mem_strdup("the run was stopped");
                break;
            }
            if (ps->kind == PLAN_SKILL)
                run_skill(r, i, input, &a);
            else
                run_agent(r, i, json_string_value(input), &a);
            pthread_mutex_lock(&r->m);
            r->s[i].deadline = 0;
            pthread_mutex_unlock(&r->m);
            int why = atomic_load(&r->s[i].cancel);
            if (!a.error && why == CANCEL_TIMEOUT) {
                /* it finished, but after its time: the result stands */
            } else if (a.error && why == CANCEL_TIMEOUT) {
                mem_free(a.error);
                a.error = mem_printf("timeout: the step took longer than %g s (timeout)", ps->timeout_ms / 1000.0);
                a.retryable = true;
            } else if (a.error && why == CANCEL_USER) {
                a.retryable = false;
            }
            if (!a.error || !a.retryable || attempts > ps->retries)
                break;
            unsigned base = r->o->backoff_ms ? r->o->backoff_ms : 200;
            unsigned d = base << (attempts - 1 < 16 ? attempts - 1 : 16);
            if (d > BACKOFF_MAX_MS || d < base)
                d = BACKOFF_MAX_MS;
            d = d / 2 + (unsigned)(rand_r(seed) % (d / 2 + 1)); /* jitter: [d/2, d] */
            emit(r, "step.retry", json_pack("{s:s, s:i, s:s, s:i}", "step", ps->id, "attempt", attempts, "error",
                                            a.error, "delay_ms", d));
            mem_free(a.error);
            json_decref(a.result);
            a = (attempt){0};
            if (!backoff_sleep(r, d)) {
                a.error = mem_strdup("the run was stopped");
                break;
            }
        }
    }
    json_decref(input);
    bool ok = a.error == NULL && a.result != NULL;
    json_t *fin = json_pack("{s:s, s:s, s:s, s:b, s:f, s:i}", "step", ps->id, "kind",
                            ps->kind == PLAN_SKILL ? "skill" : "agent", "status", a.error ? "failed" : "done", "ok",
                            a.error == NULL, "duration_ms", ms_since(&t0), "attempts", attempts);
    if (a.error)
        json_object_set_new(fin, "error", json_string(a.error));
    else
        json_object_set(fin, "result", a.result);
    if (ps->kind == PLAN_AGENT && r->s[i].agent && *r->s[i].agent && attempts &&
        atomic_load(&r->s[i].cancel) != CANCEL_USER) {
        /* the agent's record on this kind of step (the next auctions read it) */
        char *serr = NULL;
        if (store_agent_outcome(r->st, r->s[i].agent, plan_step_task(ps), a.error == NULL, &serr) < 0 && fin)
            json_object_set_new(fin, "note", json_sprintf("agent statistics not recorded: %s",
                                                          serr ? serr : "store error"));
        mem_free(serr);
    }
    emit(r, "step.finished", fin);
    if (a.error) {
        pthread_mutex_lock(&r->m);
        if (a.code == REGISTRY_E_SANDBOX)
            r->sandbox_fail = true;
        if (!r->first_error)
            r->first_error = mem_printf("step %s (%s) failed: %s", ps->id,
                                        ps->kind == PLAN_SKILL ? ps->skill : "agent", a.error);
        pthread_mutex_unlock(&r->m);
    }
    mem_free(a.error);
    if (ok) {
        r->s[i].result = a.result; /* read by dependants once the step is marked done */
        return S_DONE;
    }
    json_decref(a.result);
    return S_FAILED;
}

static void *worker(void *arg)
{
    orun *r = arg;
    size_t n = r->p->n;
    size_t *ready = mem_calloc(n, sizeof *ready), *skip = mem_calloc(n + 1, sizeof *skip);
    unsigned seed = (unsigned)now_ms() ^ (unsigned)(uintptr_t)&seed;
    pthread_mutex_lock(&r->m);
    for (;;) {
        while (!r->stopping && (r->paused || r->qhead == r->qtail) && r->finished < n)
            pthread_cond_wait(&r->work, &r->m);
        if (r->stopping || r->finished >= n || !ready || !skip)
            break;
        size_t i = r->q[r->qhead++];
        r->s[i].state = S_RUNNING;
        r->running++;
        pthread_mutex_unlock(&r->m);
        int st = run_step(r, i, &seed);
        size_t n_ready = 0, n_skip = 0;
        pthread_mutex_lock(&r->m);
        r->running--;
        complete_locked(r, i, st, ready, &n_ready, skip, &n_skip);
        pthread_mutex_unlock(&r->m);
        publish(r, ready, n_ready, skip, n_skip, i);
        pthread_mutex_lock(&r->m);
        if (r->finished >= n || (r->stopping && !r->running))
            pthread_cond_broadcast(&r->idle);
        if (r->finished >= n)
            pthread_cond_broadcast(&r->work);
    }
    pthread_cond_broadcast(&r->idle);
    pthread_mutex_unlock(&r->m);
    mem_free(ready);
    mem_free(skip);
    return NULL;
}

/* ------------------------------------------------------------ the run */

static size_t cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 2 ? 2 : (size_t)n;
}

static json_t *started_payload(const orun *r, size_t workers)
{
    json_t *skills = json_array();
    for (size_t i = 0; i < r->p->n; i++) {
        const char *sk = r->p->steps[i].skill;
        bool seen = false;
        for (size_t k = 0; sk && k < json_array_size(skills) && !seen; k++)
            seen = !strcmp(json_string_value(json_array_get(skills, k)), sk);
        if (sk && !seen && json_array_size(skills) < 1000)
            json_array_append_new(skills, json_string(sk));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:[], s:{s:i, s:f, s:i}, s:s, s:i, s:i}", "goal", r->o->goal,
                     "provider", r->o->prov ? provider_name(r->o->prov) : "", "model",
                     r->o->prov ? provider_model(r->o->prov) : "", "workdir", r->o->workdir, "venom", VENOM_VERSION,
                     "skills", skills, "tools", "limits", "max_steps", (int)r->p->n, "max_cost", 0.0, "timeout_ms",
                     (int)r->o->timeout_ms, "mode", "plan", "plan_steps", (int)r->p->n, "parallel", (int)workers);
}

int orchestrate_run(registry *reg, store *st, const plan *p, const orch_opts *o, const agent_sink *sink,
                    orch_outcome *out, char **err)
{
    *out = (orch_outcome){0};
    if (!reg || !st || !p || !o || !o->goal || !o->workdir || !p->order || !p->n)
        return err_set(err, -EINVAL, "orchestrate_run: a checked plan, a goal and a workdir are needed");
    orun r = {.reg = reg, .st = st, .p = p, .o = o, .sink = sink};
    size_t n = p->n, workers = o->parallel ? o->parallel : cpus();
    pthread_t *th = NULL;
    size_t n_th = 0;
    int rc = 0, cancel_why = 0;
    bool stop_req = false;
    pthread_mutex_init(&r.m, NULL);
    pthread_mutex_init(&r.elock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r.work, NULL);
    pthread_cond_init(&r.idle, &ca);
    pthread_condattr_destroy(&ca);
    r.s = mem_calloc(n, sizeof *r.s);
    r.q = mem_calloc(n, sizeof *r.q);
    r.rev_at = mem_calloc(n + 1, sizeof *r.rev_at);
    size_t edges = 0;
    for (size_t i = 0; i < n; i++)
        edges += p->steps[i].n_deps;
    r.rev = mem_calloc(edges ? edges : 1, sizeof *r.rev);
    size_t *fill = mem_calloc(n, sizeof *fill), *ready = mem_calloc(n, sizeof *ready);
    th = mem_calloc(workers, sizeof *th);
    if (!r.s || !r.q || !r.rev_at || !r.rev || !fill || !ready || !th) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        r.s[i].pending = p->steps[i].n_deps;
        atomic_init(&r.s[i].cancel, 0);
        for (size_t k = 0; k < p->steps[i].n_deps; k++)
            r.rev_at[p->steps[i].deps[k] + 1]++;
    }
    for (size_t i = 0; i < n; i++)
        r.rev_at[i + 1] += r.rev_at[i];
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < p->steps[i].n_deps; k++) {
            size_t d = p->steps[i].deps[k];
            r.rev[r.rev_at[d] + fill[d]++] = i;
        }
    if (o->run_id)
        snprintf(r.id, sizeof r.id, "%s", o->run_id);
    else if ((rc = store_run_new(st, o->goal, r.id, err)) < 0)
        goto out;
    memcpy(out->run_id, r.id, sizeof r.id);
    store_batch_opts bo = {.committed = sink && sink->event ? committed : NULL, .user = &r};
    char *berr = NULL;
    int brc = store_batch_open(st, r.id, &bo, &r.batch, &berr);
    if (brc < 0) /* the run goes on, one transaction per event */
        append_failed(&r, brc, berr);
    else
        mem_free(berr);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!o->run_id)
        emit(&r, "run.started", started_payload(&r, workers));
    json_t *pj = plan_to_json(p);
    emit(&r, "plan.validated", pj ? json_pack("{s:s, s:s, s:i, s:o}", "source", o->source ? o->source : "file",
                                              "file", p->file ? p->file : "", "steps", (int)n, "plan", pj)
                                  : NULL);
    /* the first ready steps */
    size_t n_ready = 0;
    for (size_t i = 0; i < n; i++)
        if (!r.s[i].pending)
            ready[n_ready++] = i;
    publish(&r, ready, n_ready, NULL, 0, 0);
    for (; n_th < workers; n_th++)
        if (pthread_create(&th[n_th], NULL, worker, &r) != 0)
            break;
    if (!n_th) {
        rc = err_set(err, -EAGAIN, "cannot start worker threads");
        goto finish;
    }
    /* the control loop: cancellation, timeouts, run_control */
    unsigned ctl_ms = o->control_ms ? o->control_ms : 100;
    int64_t next_ctl = now_ms(), run_deadline = o->timeout_ms ? now_ms() + o->timeout_ms : 0;
    pthread_mutex_lock(&r.m);
    while (r.finished < n && !(r.stopping && !r.running)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&r.idle, &r.m, &ts);
        int64_t now = now_ms();
        for (size_t i = 0; i < n; i++)
            if (r.s[i].state == S_RUNNING && r.s[i].deadline && now >= r.s[i].deadline) {
                int zero = 0;
                atomic_compare_exchange_strong(&r.s[i].cancel, &zero, CANCEL_TIMEOUT);
            }
        int why = o->cancel ? atomic_load(o->cancel) : 0;
        if (!why && run_deadline && now >= run_deadline)
            why = CANCEL_TIMEOUT;
        char req[16] = "";
        if (!why && now >= next_ctl) {
            next_ctl = now + ctl_ms;
            pthread_mutex_unlock(&r.m);
            char *cerr = NULL;
            if (store_control_get(st, r.id, req, &cerr) < 0)
                req[0] = '\0';
            mem_free(cerr);
            pthread_mutex_lock(&r.m);
            if (!strcmp(req, "stop"))
                why = CANCEL_USER, stop_req = true;
        }
        if (why && !r.stopping) {
            cancel_why = why;
            r.stopping = true;
            for (size_t i = 0; i < n; i++)
                if (r.s[i].state == S_RUNNING)
                    atomic_store(&r.s[i].cancel, CANCEL_USER);
            pthread_cond_broadcast(&r.work);
            pthread_cond_broadcast(&r.idle);
        }
        bool pause = !strcmp(req, "pause"), resume = !strcmp(req, "resume");
        if ((pause && !r.paused) || (resume && r.paused)) {
            /* paused before run.paused, resumed after run.resumed: no step.started falls between */
            if (pause)
                r.paused = true;
            pthread_mutex_unlock(&r.m);
            emit(&r, pause ? "run.paused" : "run.resumed", json_pack("{s:s}", "by", "venom runs"));
            flush_events(&r);
            pthread_mutex_lock(&r.m);
            if (resume)
                r.paused = false;
            pthread_cond_broadcast(&r.work);
        }
    }
    r.stopping = true;
    pthread_cond_broadcast(&r.work);
    pthread_mutex_unlock(&r.m);
    if (cancel_why)
        flush_events(&r);
finish:
    for (size_t k = 0; k < n_th; k++)
        pthread_join(th[k], NULL);
    /* what never ran */
    for (size_t k = 0; k < n; k++) {
        size_t i = p->order[k];
        if (r.s[i].state == S_PENDING || r.s[i].state == S_QUEUED) {
            r.s[i].state = S_SKIPPED;
            r.n_skipped++;
            emit(&r, "step.skipped", json_pack("{s:s, s:s, s:s}", "step", p->steps[i].id, "reason", "run_stopped",
                                               "detail", cancel_why == CANCEL_TIMEOUT ? "the run's timeout passed"
                                               : stop_req ? "venom runs stop" : "interrupted"));
        }
    }
    agent_status status = AGENT_DONE;
    char *reason = NULL;
    if (cancel_why == CANCEL_TIMEOUT) {
        status = AGENT_LIMIT;
        reason = mem_printf("timeout: the run took longer than %u ms (--timeout)", o->timeout_ms);
    } else if (cancel_why) {
        status = AGENT_INTERRUPTED;
        reason = mem_strdup(stop_req ? "stopped by venom runs stop" : "interrupted");
    } else if (r.sandbox_fail) {
        status = AGENT_SANDBOX;
        reason = mem_printf("the sandbox a skill needs cannot be set up here (run 'venom doctor'): %s",
                            r.first_error ? r.first_error : "");
    } else if (r.n_failed) {
        status = AGENT_FAILED;
        if (r.n_failed == 1 && r.first_error)
            reason = mem_strdup(r.first_error);
        else
            reason = mem_printf("%zu of %zu steps failed; the first: %s", r.n_failed, n,
                                r.first_error ? r.first_error : "?");
    } else if (rc < 0) {
        status = AGENT_FAILED;
        reason = mem_strdup(err && *err ? *err : "failed");
    }
    json_t *fin = json_pack("{s:s, s:i, s:{s:i, s:i, s:i, s:i}, s:f, s:b, s:f, s:n, s:{s:i, s:i, s:i}}", "status",
                            agent_status_name(status), "steps", (int)(r.n_done + r.n_failed), "usage",
                            "input_tokens", 0, "cached_input_tokens", 0, "cache_write_tokens", 0, "output_tokens", 0,
                            "cost", 0.0, "priced", 1, "duration_ms", ms_since(&t0), "answer", "plan", "done",
                            (int)r.n_done, "failed", (int)r.n_failed, "skipped", (int)r.n_skipped);
    if (reason && fin)
        json_object_set_new(fin, "reason", json_string(reason));
    if (o->run_id)
        json_decref(fin); /* the caller's to write, with its answer, once the batch is closed */
    else
        emit(&r, "run.finished", fin); /* commits every earlier event with it */
    char *cerr = NULL;
    int crc = store_batch_close(r.batch, &cerr);
    r.batch = NULL;
    if (crc < 0)
        append_failed(&r, crc, cerr);
    else
        mem_free(cerr);
    out->status = status;
    out->reason = reason;
    out->done = r.n_done;
    out->failed = r.n_failed;
    out->skipped = r.n_skipped;
    if (rc == 0 && r.append_rc < 0)
        rc = err_set(err, r.append_rc, "event log: %s", r.append_err ? r.append_err : "write failed");
out:
    for (size_t i = 0; r.s && i < n; i++)
        json_decref(r.s[i].result);
    mem_free(r.s);
    mem_free(r.q);
    mem_free(r.rev);
    mem_free(r.rev_at);
    mem_free(fill);
    mem_free(ready);
    mem_free(th);
    mem_free(r.append_err);
    mem_free(r.first_error);
    pthread_cond_destroy(&r.work);
    pthread_cond_destroy(&r.idle);
    pthread_mutex_destroy(&r.m);
    pthread_mutex_destroy(&r.elock);
    return rc;
}
