#include "util/common.h"

#include <pthread.h>
#include <time.h>
#include <venom/venom.h>

#include "agent/agent.h"
#include "agent/provider.h"
#include "plugin/manifest.h"
#include "plugin/registry.h"
#include "plugin/skillmd.h"
#include "route/route.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

#define CANCEL_USER 1
#define CANCEL_TIMEOUT 2
#define DEFAULT_STEPS 20
#define DEFAULT_PARALLEL 8

static const char default_system[] =
    "You are venom, an agent that reaches the user's goal by calling the tools you are given. Call tools when "
    "they help; independent calls may be made together in one turn. When the goal is reached, answer briefly "
    "with the result. If a tool fails, use its error message to fix the call or explain what went wrong.";

static const char *const status_names[] = {"done", "failed", "undecided", "limit", "provider_error",
                                           "sandbox_unavailable", "interrupted"};
static const int status_exits[] = {0, 1, 2, 3, 4, 5, 130};

const char *agent_status_name(agent_status s) { return status_names[s]; }
int agent_status_exit(agent_status s) { return status_exits[s]; }

void agent_outcome_clear(agent_outcome *o)
{
    mem_free(o->answer);
    mem_free(o->reason);
    o->answer = o->reason = NULL;
}

void agent_tool_name(const char *skill, char *b, size_t n)
{
    size_t k = 0;
    for (const char *q = skill; *q && k + 2 < n; q++) {
        if (*q == '.') {
            b[k++] = '_';
            b[k++] = '_';
        } else {
            b[k++] = *q;
        }
    }
    b[k] = '\0';
}

/* A pack's SKILL.md: its description goes into the system prompt, its body
 * to the model with the first result of one of the pack's tools. */
typedef struct packdoc {
    const manifest *m;
    skillmd *sk;
    atomic_bool shown;
} packdoc;

typedef struct tool {
    char name[160];
    const reg_skill *skill;
    packdoc *doc; /* its pack's SKILL.md, or NULL */
} tool;

typedef struct run {
    registry *reg;
    provider *prov;
    store *st;
    const agent_opts *o;
    const agent_sink *sink;
    char id[32];
    pthread_mutex_t lock; /* serialises append + sink */
    atomic_int own_cancel;
    atomic_int *cancel;
    tool *tools;
    size_t n_tools;
    packdoc *docs;        /* one per pack with a SKILL.md among the tools */
    size_t n_docs;
    json_t *tool_defs;
    json_t *usage;        /* totals */
    double cost;
    unsigned steps;
    bool unpriced;
    struct timespec t0;
    int append_rc;        /* first store failure */
    char *append_err;
    /* routing (o->router with a catalog and no provider given) */
    bool routed;
    route_step rs;        /* the step's decision; rs.c is NULL until made */
    unsigned m_turns;     /* calls, time and cost on the model in use */
    double m_ms, m_cost;
    char *route_why;      /* why the last model failed */
} run;

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Append an event (payload stolen) and hand it to the sink. */
static void emit(run *r, const char *type, json_t *payload)
{
    if (!payload)
        payload = json_object();
    if (payload && r->o->step_tag)
        json_object_set_new(payload, "plan_step", json_string(r->o->step_tag));
    json_t *ev = NULL;
    char *err = NULL;
    pthread_mutex_lock(&r->lock);
    int rc = payload ? store_append(r->st, r->id, type, payload, &ev, &err) : -ENOMEM;
    if (rc == 0 && r->sink && r->sink->event)
        r->sink->event(r->sink->user, ev);
    if (rc < 0 && r->append_rc == 0) {
        r->append_rc = rc;
        r->append_err = err ? err : mem_strdup("out of memory");
        err = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    mem_free(err);
    json_decref(ev);
    json_decref(payload);
}

static void step_note(run *r, const char *fmt, ...)
{
    if (!r->sink || !r->sink->step)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *m = mem_vprintf(fmt, ap);
    va_end(ap);
    if (m)
        r->sink->step(r->sink->user, m);
    mem_free(m);
}

/* ------------------------------------------------------------ tools */

json_t *agent_tool_def(const reg_skill *s, const char *tool_name, bool output_schema)
{
    const manifest_skill *ms = reg_skill_entry(s);
    json_t *def = json_pack("{s:s, s:s, s:O}", "name", tool_name, "description",
                            ms->description ? ms->description : "", "parameters", reg_skill_args_schema(s));
    if (def && ms->examples && json_array_size(ms->examples))
        json_object_set(def, "examples", ms->examples);
    if (def && output_schema && ms->result_schema)
        json_object_set(def, "output_schema", ms->result_schema);
    return def;
}

bool agent_skill_allowed(const char *const *skills, size_t n, const char *full)
{
    if (!skills)
        return true;
    size_t plen = strcspn(full, ".");
    for (size_t i = 0; i < n; i++) {
        const char *a = skills[i];
        if (!strcmp(a, full))
            return true;
        if (strlen(a) == plen && !strncmp(a, full, plen))
            return true; /* "pack" */
        if (strlen(a) == plen + 2 && !strncmp(a, full, plen) && !strcmp(a + plen, ".*"))
            return true; /* "pack.*" */
    }
    return false;
}

/* The SKILL.md of pack m (read once per run), or NULL when it has none. One
 * that cannot be read is left out with a note (build and install check it). */
static packdoc *pack_doc(run *r, const manifest *m)
{
    for (size_t i = 0; i < r->n_docs; i++)
        if (r->docs[i].m == m)
            return r->docs[i].sk ? &r->docs[i] : NULL;
    packdoc *d = &r->docs[r->n_docs++]; /* docs has room for one per tool */
    *d = (packdoc){.m = m};
    atomic_init(&d->shown, false);
    char *e = NULL;
    int rc = skillmd_load(m->dir, m->name, &d->sk, &e);
    if (rc < 0 && rc != -ENOENT)
        step_note(r, "pack %s: its SKILL.md is ignored: %s", m->name, e ? e : "unreadable");
    mem_free(e);
    return d->sk ? d : NULL;
}

/* The system prompt: the given (or built-in) one, then the index of the
 * packs with instructions. mem_alloc'd. */
static char *system_prompt(const run *r)
{
    const char *sys = r->o->system && *r->o->system ? r->o->system : default_system;
    buf b = {0};
    bool ok = buf_puts(&b, sys) == 0;
    bool head = false;
    for (size_t i = 0; ok && i < r->n_docs; i++) {
        if (!r->docs[i].sk)
            continue;
        if (!head)
            ok = buf_puts(&b, "\n\nSkill packs (the instructions of a pack come with the first result of one of "
                              "its tools):") == 0;
        head = true;
        ok = ok && buf_printf(&b, "\n- %s: %s", r->docs[i].m->name, r->docs[i].sk->description) == 0;
    }
    char *s = ok ? buf_detach(&b) : NULL;
    buf_release(&b);
    return s;
}

static int build_tools(run *r, char **err)
{
    size_t n = registry_skill_count(r->reg);
    r->tools = mem_calloc(n ? n : 1, sizeof *r->tools);
    r->docs = mem_calloc(n ? n : 1, sizeof *r->docs);
    if (!r->docs)
        return err_set(err, -ENOMEM, "out of memory");
    r->tool_defs = json_array();
    if (!r->tools || !r->tool_defs)
        return err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const reg_skill *s = registry_skill_at(r->reg, i);
        if (!agent_skill_allowed(r->o->skills, r->o->n_skills, reg_skill_name(s)))
            continue;
        if (reg_skill_typed(s)) {
            /* a typed C function's argument schema comes from its signature,
             * known once its library is loaded; one that cannot load is not offered */
            char *lerr = NULL;
            int lrc = registry_load(r->reg, s, &lerr);
            mem_free(lerr);
            if (lrc < 0)
                continue;
        }
        tool *t = &r->tools[r->n_tools];
        agent_tool_name(reg_skill_name(s), t->name, sizeof t->name);
        bool clash = false;
        for (size_t j = 0; j < r->n_tools; j++)
            clash |= !strcmp(r->tools[j].name, t->name);
        if (clash)
            continue; /* "a_.b" vs "a.__b": both map to one name; the first (sorted) wins */
        t->skill = s;
        t->doc = pack_doc(r, reg_skill_manifest(s));
        json_t *def = agent_tool_def(s, t->name, false);
        if (!def)
            return err_set(err, -ENOMEM, "out of memory");
        json_array_append_new(r->tool_defs, def);
        r->n_tools++;
    }
    if (r->o->skills) {
        /* an allowlist entry that matches nothing is a usage error */
        for (size_t i = 0; i < r->o->n_skills; i++) {
            bool hit = false;
            for (size_t j = 0; j < n && !hit; j++) {
                hit = agent_skill_allowed(&r->o->skills[i], 1, reg_skill_name(registry_skill_at(r->reg, j)));
            }
            if (!hit) {
                const char *best[1];
                size_t k = registry_suggest(r->reg, r->o->skills[i], best, 1);
                return err_set(err, -EINVAL, "--skills: no skill matches '%s'%s%s%s; see 'venom skill list'",
                               r->o->skills[i], k ? " (did you mean '" : "", k ? best[0] : "", k ? "'?)" : "");
            }
        }
    }
    return 0;
}

static const tool *find_tool(const run *r, const char *name)
{
    for (size_t i = 0; name && i < r->n_tools; i++)
        if (!strcmp(r->tools[i].name, name))
            return &r->tools[i];
    return NULL;
}

/* ------------------------------------------------------------ tool calls */

typedef struct tcall {
    run *r;
    unsigned step;
    const json_t *call; /* the canonical tool call (borrowed) */
    const char *id, *name;
    const tool *t;
    json_t *message;    /* the tool message for the model */
    int rc;             /* registry code, for the sandbox rule */
    char *sandbox_err;  /* the message when the sandbox could not start */
    pthread_t th;
    bool started;
} tcall;

static void *tcall_run(void *arg)
{
    tcall *c = arg;
    run *r = c->r;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *error = NULL;
    json_t *value = NULL;
    const json_t *args = json_object_get(c->call, "arguments");
    if (!c->t) {
        buf b = {0};
        bool ok = buf_printf(&b, "unknown tool '%s'; the tools are:", c->name ? c->name : "(none)") == 0;
        for (size_t i = 0; i < r->n_tools && i < 40 && ok; i++)
            ok = buf_printf(&b, " %s", r->tools[i].name) == 0;
        error = buf_detach(&b);
    } else if (!json_is_object(args)) {
        json_t *why = json_object_get(c->call, "arguments_error");
        error = mem_printf("the arguments of %s are not a JSON object (%s); call it again with valid JSON",
                           c->name, json_is_string(why) ? json_string_value(why) : "missing");
    } else {
        step_note(r, "step %u: %s", c->step, reg_skill_name(c->t->skill));
        registry_result res;
        registry_call_opts co = {.workdir = r->o->workdir, .cancel = r->cancel};
        c->rc = registry_call(r->reg, c->t->skill, args, &co, &res, &error);
        value = res.value;
        if (c->rc < 0 && !error)
            error = mem_strdup("the skill failed");
    }
    double ms = ms_since(&t0);
    json_t *ev = json_pack("{s:i, s:s, s:s, s:b, s:f}", "step", c->step, "call_id", c->id, "tool",
                           c->t ? reg_skill_name(c->t->skill) : (c->name ? c->name : ""), "ok", error == NULL,
                           "duration_ms", ms);
    char *content = NULL;
    if (error) {
        json_object_set_new(ev, "error", json_string(error));
        content = mem_strdup(error);
    } else {
        json_object_set(ev, "result", value);
        content = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    packdoc *d = c->t ? c->t->doc : NULL;
    if (d && content && !atomic_exchange(&d->shown, true)) {
        /* the pack is activated: its instructions, once per run */
        char *with = mem_printf("%s\n\n<skill-instructions pack=\"%s\">\n%s\n</skill-instructions>", content,
                                d->m->name, d->sk->body);
        if (with) {
            mem_free(content);
            content = with;
            json_object_set_new(ev, "instructions", json_string(d->m->name));
        }
    }
    emit(r, "tool.result", ev);
    if (c->rc == REGISTRY_E_SANDBOX && error)
        c->sandbox_err = mem_strdup(error);
    c->message = json_pack("{s:s, s:s, s:s, s:s, s:b}", "role", "tool", "tool_call_id", c->id, "name",
                           c->name ? c->name : "", "content", content ? content : "", "is_error", error != NULL);
    mem_free(content); /* json_dumps allocates through mem_alloc too (mem_install) */
    mem_free(error);
    json_decref(value);
    return NULL;
}

/* Run a turn's tool calls, at most o->parallel at once; append the tool
 * messages to msgs in call order. Returns AGENT_SANDBOX when a sandboxed pack
 * could not be started, else AGENT_DONE. */
static agent_status run_calls(run *r, unsigned step, const json_t *calls, json_t *msgs, char **sandbox_err)
{
    size_t n = json_array_size(calls), par = r->o->parallel ? r->o->parallel : DEFAULT_PARALLEL;
    tcall *cs = mem_calloc(n ? n : 1, sizeof *cs);
    if (!cs)
        return AGENT_FAILED;
    for (size_t i = 0; i < n; i++) {
        tcall *c = &cs[i];
        c->r = r;
        c->step = step;
        c->call = json_array_get(calls, i);
        c->id = json_string_value(json_object_get(c->call, "id"));
        c->name = json_string_value(json_object_get(c->call, "name"));
        if (!c->id)
            c->id = "";
        c->t = find_tool(r, c->name);
        json_t *ev = json_pack("{s:i, s:s, s:s, s:s}", "step", step, "call_id", c->id, "tool",
                               c->t ? reg_skill_name(c->t->skill) : (c->name ? c->name : ""), "name",
                               c->name ? c->name : "");
        json_t *args = json_object_get(c->call, "arguments");
        json_object_set(ev, "args", args ? args : json_null());
        if (!args && json_object_get(c->call, "arguments_raw"))
            json_object_set(ev, "args_raw", json_object_get(c->call, "arguments_raw"));
        if (c->t)
            json_object_set_new(ev, "sandboxed", json_boolean(reg_skill_sandboxed(r->reg, c->t->skill)));
        emit(r, "tool.call", ev);
    }
    for (size_t base = 0; base < n; base += par) {
        size_t end = base + par < n ? base + par : n;
        for (size_t i = base; i < end; i++) {
            if (end - base > 1 && pthread_create(&cs[i].th, NULL, tcall_run, &cs[i]) == 0)
                cs[i].started = true;
            else
                tcall_run(&cs[i]);
        }
        for (size_t i = base; i < end; i++)
            if (cs[i].started)
                pthread_join(cs[i].th, NULL);
    }
    agent_status st = AGENT_DONE;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].rc == REGISTRY_E_SANDBOX && st != AGENT_SANDBOX) {
            st = AGENT_SANDBOX;
            *sandbox_err = cs[i].sandbox_err;
            cs[i].sandbox_err = NULL;
        }
        mem_free(cs[i].sandbox_err);
        if (cs[i].message)
            json_array_append_new(msgs, cs[i].message);
    }
    mem_free(cs);
    return st;
}

/* ------------------------------------------------------------ model calls */

static int32_t on_delta(void *user, const char *delta, size_t len)
{
    run *r = user;
    if (r->cancel && atomic_load(r->cancel))
        return VENOM_E_CANCELLED;
    if (!r->sink || !r->sink->text)
        return VENOM_OK;
    json_t *d = json_loadb(delta, len, 0, NULL);
    const char *t = json_string_value(json_object_get(d, "text"));
    if (t && !strcmp(json_string_value(json_object_get(d, "type")) ?: "", "text") && *t)
        r->sink->text(r->sink->user, t);
    json_decref(d);
    return VENOM_OK;
}

static void add_usage(run *r, const json_t *u)
{
    static const char *const keys[] = {"input_tokens", "cached_input_tokens", "cache_write_tokens",
                                       "output_tokens"};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        json_t *v = json_object_get(u, keys[i]);
        json_int_t have = json_integer_value(json_object_get(r->usage, keys[i]));
        json_object_set_new(r->usage, keys[i], json_integer(have + (json_is_integer(v) ? json_integer_value(v) : 0)));
    }
    if (!u || json_is_true(json_object_get(u, "missing")))
        json_object_set_new(r->usage, "missing", json_true());
}

typedef struct finish {
    agent_status st;
    char *reason;
    char *answer;
} finish;

static void set_finish(finish *f, agent_status st, char *reason)
{
    f->st = st;
    mem_free(f->reason);
    f->reason = reason;
}

static agent_status cancel_status(run *r, finish *f)
{
    int why = r->cancel ? atomic_load(r->cancel) : 0;
    if (why == CANCEL_TIMEOUT) {
        set_finish(f, AGENT_LIMIT, mem_printf("timeout: the run took longer than %u ms (--timeout)",
                                              r->o->timeout_ms));
        return AGENT_LIMIT;
    }
    set_finish(f, AGENT_INTERRUPTED, mem_strdup("interrupted"));
    return AGENT_INTERRUPTED;
}

/* ------------------------------------------------------------ routing */

/* Record the outcome of the model in use on the step (success 1, failure 0,
 * neither -1). A store failure is noted like an event-log failure. */
static void route_record(run *r, int success)
{
    if (!r->routed || r->rs.model == ROUTE_NONE)
        return;
    char *err = NULL;
    if (router_record(r->o->router, r->rs.kind, r->rs.model, success, r->m_turns, r->rs.fallbacks ? 1 : 0, r->m_ms,
                      r->m_cost, &err) < 0)
        step_note(r, "routing statistics: %s", err ? err : "cannot record");
    mem_free(err);
    r->m_turns = 0;
    r->m_ms = r->m_cost = 0;
}

/* The model in use failed: record it, fall back (route.fallback). */
static void route_fail(run *r, const char *why)
{
    route_record(r, 0);
    mem_free(r->route_why);
    r->route_why = mem_strdup(why);
    json_t *ev = NULL;
    router_fallback(r->o->router, &r->rs, why, &ev);
    emit(r, "route.fallback", ev);
}

/* Make the step's model the provider in use, falling back past models
 * whose provider cannot be opened. false (f set) when none is left. */
static bool route_use(run *r, finish *f)
{
    while (r->rs.model != ROUTE_NONE) {
        char *err = NULL;
        provider *p = router_provider(r->o->router, r->rs.model, &err);
        if (p) {
            mem_free(err);
            const char *secrets[64];
            size_t n = provider_redactions(p, secrets, ARRAY_SIZE(secrets));
            if (n && store_add_redactions(r->st, secrets, n) < 0) {
                set_finish(f, AGENT_FAILED, mem_strdup("out of memory"));
                return false;
            }
            r->prov = p;
            return true;
        }
        route_fail(r, err ? err : "the provider cannot be opened");
        mem_free(err);
    }
    set_finish(f, AGENT_PROVIDER, mem_printf("no model of the catalog is left for this step; the last one failed: %s",
                                             r->route_why ? r->route_why : "see the route.* events"));
    return false;
}

/* The money left in the tightest budget (run, day, agent); -1 = none. */
static double budget_left(run *r)
{
    double left = -1, spent, limit;
    const char *which;
    char *err = NULL;
    if (router_budget_left(r->o->router, r->o->agent, &left, &which, &spent, &limit, &err) < 0)
        step_note(r, "budget: %s", err ? err : "cannot read the spend");
    mem_free(err);
    if (r->o->max_cost > 0) {
        double run_left = r->o->max_cost - r->cost > 0 ? r->o->max_cost - r->cost : 0;
        if (left < 0 || run_left < left)
            left = run_left;
    }
    return left;
}

/* Decide the step's model (route.decided). false (f set) when none fits. */
static bool route_decide(run *r, size_t est, finish *f)
{
    route_need need = {.caps = r->n_tools ? ROUTE_CAP_TOOLS : 0,
                       .input_tokens = est,
                       .budget_left = budget_left(r),
                       .cost_weight = -1,
                       .latency_weight = -1};
    json_t *ev = NULL;
    char *err = NULL;
    bool *allow = NULL;
    if (r->o->model) {
        /* the agent's model: only the catalog models it names */
        const route_catalog *cat = router_catalog(r->o->router);
        size_t n_ok = 0;
        if (!(allow = mem_calloc(cat->n ? cat->n : 1, sizeof *allow))) {
            set_finish(f, AGENT_FAILED, mem_strdup("out of memory"));
            return false;
        }
        for (size_t i = 0; i < cat->n; i++) {
            allow[i] = route_model_matches(&cat->m[i], r->o->model);
            n_ok += allow[i];
        }
        if (!n_ok) {
            mem_free(allow);
            set_finish(f, AGENT_FAILED, mem_printf("agent %s: model '%s' names no model of the catalog (config "
                                                   "models:); fix agents.%s.model or add the model to models:",
                                                   r->o->agent ? r->o->agent : ROUTE_DEFAULT_AGENT, r->o->model,
                                                   r->o->agent ? r->o->agent : "NAME"));
            return false;
        }
        need.allow = allow;
    }
    int drc = router_decide(r->o->router, r->o->kind, &need, &r->rs, &ev, &err);
    r->rs.need.allow = NULL; /* only the decision reads it */
    mem_free(allow);
    if (drc < 0) {
        set_finish(f, AGENT_FAILED, mem_printf("routing: %s", err ? err : "failed"));
        mem_free(err);
        return false;
    }
    emit(r, "route.decided", ev);
    if (r->rs.model == ROUTE_NONE) {
        /* nothing fits: a budget, when one dropped a model that fits otherwise */
        const route_catalog *cat = router_catalog(r->o->router);
        double cheapest = -1;
        for (size_t i = 0; i < cat->n; i++)
            if (r->rs.c[i].drop == ROUTE_DROP_BUDGET && (cheapest < 0 || r->rs.c[i].cost < cheapest))
                cheapest = r->rs.c[i].cost;
        if (cheapest >= 0) {
            double left, spent = r->cost, limit = r->o->max_cost;
            const char *which = NULL;
            char *e2 = NULL;
            if (router_budget_left(r->o->router, r->o->agent, &left, &which, &spent, &limit, &e2) < 0 || !which ||
                (r->o->max_cost > 0 && r->o->max_cost - r->cost < left))
                which = "run", spent = r->cost, limit = r->o->max_cost;
            mem_free(e2);
            emit(r, "budget.exceeded", route_budget_event(which, r->o->agent, spent, limit, cheapest));
            set_finish(f, AGENT_LIMIT, mem_printf("budget: the %s budget has %.6f left of %.6f; the cheapest model "
                                                  "that fits this step would cost ~%.6f", which,
                                                  limit - spent > 0 ? limit - spent : 0, limit, cheapest));
        } else {
            set_finish(f, AGENT_FAILED, mem_strdup("no model of the catalog fits this step (needed capabilities, "
                                                   "context size or privacy: see the route.decided event)"));
        }
        return false;
    }
    return route_use(r, f);
}

/* The loop proper. */
static void loop(run *r, json_t *msgs, finish *f)
{
    unsigned max = r->o->max_steps ? r->o->max_steps : DEFAULT_STEPS;
    for (;;) {
        if (r->cancel && atomic_load(r->cancel)) {
            cancel_status(r, f);
            return;
        }
        if (r->steps >= max) {
            set_finish(f, AGENT_LIMIT, mem_printf("max-steps: %u model turns without a final answer (--max-steps)",
                                                  max));
            return;
        }
        unsigned step = r->steps + 1; /* counted once the call is made: a max-cost stop makes no turn */
        json_t *rq = json_pack("{s:O, s:O, s:s, s:b, s:{s:s, s:s}}", "messages", msgs, "tools", r->tool_defs,
                               "tool_choice", "auto", "stream", r->o->stream, "metadata", "workdir", r->o->workdir,
                               "run_id", r->id);
        if (!rq) {
            set_finish(f, AGENT_FAILED, mem_strdup("out of memory"));
            return;
        }
        char *text = json_dumps(rq, JSON_COMPACT);
        size_t est = text ? strlen(text) / 4 + 1 : 0;
        free(text);
        if (r->routed && !r->rs.c && !route_decide(r, est, f)) {
            json_decref(rq);
            return;
        }
        if (*provider_model(r->prov))
            json_object_set_new(rq, "model", json_string(provider_model(r->prov)));
        /* priced like any usage (provider_cost): the estimate as uncached input */
        json_t *est_usage = json_pack("{s:I}", "input_tokens", (json_int_t)est);
        bool est_priced;
        double est_cost = r->routed ? route_cost(&router_catalog(r->o->router)->m[r->rs.model], est_usage, &est_priced)
                                    : provider_cost(r->prov, NULL, est_usage, &est_priced);
        json_decref(est_usage);
        if (r->o->max_cost > 0 && r->cost + est_cost > r->o->max_cost) {
            emit(r, "budget.exceeded", route_budget_event("run", r->o->agent, r->cost, r->o->max_cost, est_cost));
            set_finish(f, AGENT_LIMIT, mem_printf("max-cost: spent %.6f, the next call (~%zu input tokens, ~%.6f) "
                                                  "would pass the limit of %.6f (--max-cost)",
                                                  r->cost, est, est_cost, r->o->max_cost));
            json_decref(rq);
            return;
        }
        if (r->o->router) {
            json_t *bev = NULL;
            char *berr = NULL;
            int brc = router_budget_check(r->o->router, r->o->agent, est_cost, &bev, &berr);
            if (brc != 0) {
                if (brc > 0) {
                    const char *which = json_string_value(json_object_get(bev, "budget"));
                    set_finish(f, AGENT_LIMIT,
                               mem_printf("budget: the %s budget (%s) has %.6f spent of %.6f; the next call "
                                          "(~%.6f) would pass it", which, !strcmp(which, "day") ? "budget.day"
                                          : "budget.agents", json_real_value(json_object_get(bev, "spent")),
                                          json_real_value(json_object_get(bev, "limit")), est_cost));
                    emit(r, "budget.exceeded", bev);
                } else {
                    set_finish(f, AGENT_FAILED, mem_printf("budget: %s", berr ? berr : "cannot read the spend"));
                }
                mem_free(berr);
                json_decref(rq);
                return;
            }
        }
        r->steps = step;
        emit(r, "step.started", json_pack("{s:i, s:s}", "step", step, "kind", "model"));
        /* the tools are the same every step: recorded once, in run.started */
        json_t *logged = json_copy(rq);
        json_object_del(logged, "tools");
        json_t *ev = json_pack("{s:i, s:s, s:s, s:I, s:o}", "step", step, "provider", provider_name(r->prov),
                               "model", provider_model(r->prov), "token_estimate", (json_int_t)est, "request", logged);
        emit(r, "model.request", ev);
        step_note(r, "step %u: asking %s", step, provider_name(r->prov));
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        json_t *resp = NULL;
        char *err = NULL;
        provider_call_opts po = {.cancel = r->cancel, .stream = on_delta, .stream_user = r};
        int32_t code = provider_chat(r->prov, rq, &po, &resp, &err);
        json_decref(rq);
        double ms = ms_since(&t0);
        if (code != VENOM_OK) {
            emit(r, "model.error", json_pack("{s:i, s:i, s:s, s:f}", "step", step, "code", code, "error",
                                             err ? err : "failed", "duration_ms", ms));
            emit(r, "step.finished", json_pack("{s:i, s:s}", "step", step, "status", "failed"));
            if (r->routed && code != VENOM_E_CANCELLED) {
                /* the next best model takes the turn again */
                r->m_turns++;
                r->m_ms += ms;
                route_fail(r, err ? err : "the provider call failed");
                mem_free(err);
                if (!route_use(r, f))
                    return;
                r->steps = step - 1;
                continue;
            }
            if (code == VENOM_E_CANCELLED)
                cancel_status(r, f);
            else
                set_finish(f, AGENT_PROVIDER, mem_strdup(err ? err : "the provider call failed"));
            mem_free(err);
            return;
        }
        mem_free(err);
        if (!json_is_object(json_object_get(resp, "message"))) {
            emit(r, "model.error", json_pack("{s:i, s:i, s:s, s:f}", "step", step, "code", VENOM_E_INTERNAL, "error",
                                             "the provider's response has no message object (a plugin bug)",
                                             "duration_ms", ms));
            emit(r, "step.finished", json_pack("{s:i, s:s}", "step", step, "status", "failed"));
            set_finish(f, AGENT_PROVIDER, mem_printf("%s returned a response without a message (a plugin bug)",
                                                     provider_name(r->prov)));
            json_decref(resp);
            return;
        }
        json_t *usage = json_object_get(resp, "usage");
        const char *model = json_string_value(json_object_get(resp, "model"));
        bool priced = false;
        double cost = r->routed ? route_cost(&router_catalog(r->o->router)->m[r->rs.model], usage, &priced)
                                : provider_cost(r->prov, model, usage, &priced);
        r->cost += cost;
        r->m_turns++;
        r->m_ms += ms;
        r->m_cost += cost;
        if (r->o->router) {
            char *serr = NULL;
            if (router_spend(r->o->router, r->o->agent, cost, &serr) < 0)
                step_note(r, "budget: %s", serr ? serr : "cannot record the spend");
            mem_free(serr);
        }
        r->unpriced |= !priced;
        add_usage(r, usage);
        json_t *msg = json_object_get(resp, "message");
        json_t *calls = json_object_get(msg, "tool_calls");
        const char *finish_s = json_string_value(json_object_get(resp, "finish"));
        json_t *rev = json_pack("{s:i, s:s, s:s, s:O, s:f, s:b, s:f, s:O}", "step", step, "model",
                                model ? model : provider_model(r->prov), "finish", finish_s ? finish_s : "stop",
                                "usage", usage ? usage : json_null(), "cost", cost, "priced", priced, "duration_ms",
                                ms, "response", resp);
        emit(r, "model.response", rev);
        /* the assistant turn goes into the history as returned */
        json_t *am = json_pack("{s:s, s:s}", "role", "assistant", "content",
                               json_string_value(json_object_get(msg, "content")) ?: "");
        if (json_array_size(calls))
            json_object_set(am, "tool_calls", calls);
        json_array_append_new(msgs, am);
        if (!json_array_size(calls)) {
            const char *content = json_string_value(json_object_get(msg, "content"));
            f->answer = mem_strdup(content ? content : "");
            json_t *unres = json_object_get(resp, "unresolved");
            if (finish_s && !strcmp(finish_s, "error"))
                set_finish(f, AGENT_FAILED, mem_strdup(content && *content ? content : "the goal could not be done"));
            else if (json_array_size(unres))
                set_finish(f, AGENT_UNDECIDED, mem_printf("%s could not decide: %zu open question(s)",
                                                          provider_name(r->prov), json_array_size(unres)));
            else if (finish_s && !strcmp(finish_s, "length"))
                set_finish(f, AGENT_LIMIT, mem_strdup("the model hit its output token limit (max_tokens)"));
            else
                f->st = AGENT_DONE;
            emit(r, "step.finished", json_pack("{s:i, s:s}", "step", step, "status", "done"));
            json_decref(resp);
            return;
        }
        char *sandbox_err = NULL;
        agent_status st = run_calls(r, step, calls, msgs, &sandbox_err);
        json_decref(resp);
        emit(r, "step.finished", json_pack("{s:i, s:s}", "step", step, "status", st == AGENT_DONE ? "done" : "failed"));
        if (st == AGENT_SANDBOX) {
            set_finish(f, AGENT_SANDBOX, mem_printf("the sandbox a skill needs cannot be set up here: %s (run 'venom "
                                                    "doctor')", sandbox_err ? sandbox_err : "unknown reason"));
            mem_free(sandbox_err);
            return;
        }
        if (r->o->max_cost > 0 && r->cost >= r->o->max_cost) {
            set_finish(f, AGENT_LIMIT, mem_printf("max-cost: spent %.6f of %.6f (--max-cost)", r->cost,
                                                  r->o->max_cost));
            return;
        }
    }
}

/* ------------------------------------------------------------ timeout */

typedef struct watchdog {
    pthread_t th;
    pthread_mutex_t m;
    pthread_cond_t cv;
    bool done;
    struct timespec deadline;
    atomic_int *cancel;
} watchdog;

static void *watch(void *arg)
{
    watchdog *w = arg;
    pthread_mutex_lock(&w->m);
    int rc = 0;
    while (!w->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w->cv, &w->m, &w->deadline);
    if (!w->done) {
        int zero = 0;
        atomic_compare_exchange_strong(w->cancel, &zero, CANCEL_TIMEOUT);
    }
    pthread_mutex_unlock(&w->m);
    return NULL;
}

static bool watchdog_start(watchdog *w, unsigned ms, atomic_int *cancel)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &a);
    pthread_condattr_destroy(&a);
    pthread_mutex_init(&w->m, NULL);
    w->done = false;
    w->cancel = cancel;
    clock_gettime(CLOCK_MONOTONIC, &w->deadline);
    w->deadline.tv_sec += ms / 1000;
    w->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (w->deadline.tv_nsec >= 1000000000L)
        w->deadline.tv_sec++, w->deadline.tv_nsec -= 1000000000L;
    return pthread_create(&w->th, NULL, watch, w) == 0;
}

static void watchdog_stop(watchdog *w)
{
    pthread_mutex_lock(&w->m);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->m);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->m);
}

/* ------------------------------------------------------------ the run */

int agent_run(registry *reg, provider *prov, store *st, const agent_opts *o, const agent_sink *sink,
              agent_outcome *out, char **err)
{
    *out = (agent_outcome){0};
    run r = {.reg = reg, .prov = prov, .st = st, .o = o, .sink = sink};
    r.routed = !prov && router_routes(o->router);
    if (!prov && !r.routed)
        return err_set(err, -EINVAL, "agent_run: no provider and no routing catalog");
    pthread_mutex_init(&r.lock, NULL);
    atomic_init(&r.own_cancel, 0);
    r.cancel = o->cancel ? o->cancel : &r.own_cancel;
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    finish f = {.st = AGENT_FAILED};
    json_t *msgs = NULL;
    int rc = build_tools(&r, err);
    if (rc < 0)
        goto out;
    const char *secrets[64];
    size_t n_secrets = prov ? provider_redactions(prov, secrets, ARRAY_SIZE(secrets)) : 0;
    if (n_secrets && (rc = store_set_redactions(st, secrets, n_secrets)) < 0) {
        rc = err_set(err, rc, "out of memory");
        goto out;
    }
    if (o->run_id)
        snprintf(r.id, sizeof r.id, "%s", o->run_id);
    else if ((rc = store_run_new(st, o->goal, r.id, err)) < 0)
        goto out;
    memcpy(out->run_id, r.id, sizeof r.id);
    r.usage = json_pack("{s:i, s:i, s:i, s:i}", "input_tokens", 0, "cached_input_tokens", 0, "cache_write_tokens", 0,
                        "output_tokens", 0);
    json_t *names = json_array();
    for (size_t i = 0; i < r.n_tools; i++)
        json_array_append_new(names, json_string(reg_skill_name(r.tools[i].skill)));
    if (!o->run_id)
        emit(&r, "run.started",
         json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:O, s:{s:i, s:f, s:i}}", "goal", o->goal, "provider",
                   prov ? provider_name(prov) : "router", "model", prov ? provider_model(prov) : "", "workdir", o->workdir, "venom", VENOM_VERSION,
                   "skills", names, "tools", r.tool_defs, "limits", "max_steps",
                   o->max_steps ? o->max_steps : DEFAULT_STEPS, "max_cost", o->max_cost, "timeout_ms",
                   o->timeout_ms));
    else
        json_decref(names);
    char *sys = system_prompt(&r);
    msgs = sys ? json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content", sys, "role", "user", "content",
                           o->goal)
               : NULL;
    mem_free(sys);
    watchdog w;
    bool wd = o->timeout_ms && watchdog_start(&w, o->timeout_ms, r.cancel);
    if (msgs && r.usage && r.append_rc == 0)
        loop(&r, msgs, &f);
    else
        set_finish(&f, AGENT_FAILED, mem_strdup(r.append_err ? r.append_err : "out of memory"));
    if (wd)
        watchdog_stop(&w);
    route_record(&r, f.st == AGENT_DONE ? 1 : f.st == AGENT_FAILED || f.st == AGENT_PROVIDER ? 0 : -1);
    json_t *fin = json_pack("{s:s, s:i, s:O, s:f, s:b, s:f}", "status", status_names[f.st], "steps", r.steps,
                            "usage", r.usage, "cost", r.cost, "priced", !r.unpriced, "duration_ms", ms_since(&r.t0));
    json_object_set_new(fin, "answer", f.answer ? json_string(f.answer) : json_null());
    if (f.reason)
        json_object_set_new(fin, "reason", json_string(f.reason));
    if (o->run_id)
        json_decref(fin);
    else
        emit(&r, "run.finished", fin);
    if (r.append_rc < 0) {
        rc = err_set(err, r.append_rc, "event log: %s", r.append_err ? r.append_err : "write failed");
        goto out;
    }
    out->status = f.st;
    out->answer = f.answer;
    out->reason = f.reason;
    f.answer = f.reason = NULL;
    rc = 0;
out:
    mem_free(f.answer);
    mem_free(f.reason);
    mem_free(r.append_err);
    json_decref(msgs);
    json_decref(r.tool_defs);
    json_decref(r.usage);
    mem_free(r.tools);
    for (size_t i = 0; i < r.n_docs; i++)
        skillmd_free(r.docs[i].sk);
    mem_free(r.docs);
    route_step_release(&r.rs);
    mem_free(r.route_why);
    pthread_mutex_destroy(&r.lock);
    return rc;
}
