/*
 * planner.c — planning a goal (declared in plan.h): the request to a
 * provider (instructions + the embedded docs/plan.schema.json, the skills as
 * tools with their result schemas, tool_choice "none", metadata.purpose
 * "plan"), the extraction of the plan object from the model's text, the
 * bounded repair loop, the answer turn after the plan ran, the plan cache
 * key and the YAML form of a plan. docs/internals/planner.md.
 */
#include "util/common.h"

#include <ctype.h>
#include <time.h>
#include <venom/venom.h>

#include "agent/agent.h"
#include "agent/provider.h"
#include "plan/plan.h"
#include "plugin/manifest.h"
#include "plugin/registry.h"
#include "util/buf.h"
#include "util/err.h"

#include "plan_schema.h" /* plan_schema_text: generated from docs/plan.schema.json */

#define EXTRACT_MAX_STARTS 64 /* '{' tried as the start of the object */

static const char instructions[] =
    "You are venom's planner. Turn the user's goal into a plan: a graph of steps, each a call of one of the "
    "tools below (by its skill name \"pack.skill\", not the tool name) with arguments that fit its parameters, "
    "or an agent step {\"id\": ..., \"agent\": \"default\", \"instruction\": ...} for work no tool sequence "
    "can fix in advance. A step uses an earlier result with ${steps.ID.result} or ${steps.ID.result/json/pointer} "
    "(the tools' output_schema tells what a result holds). Do not call any tool now. Answer with ONE JSON object "
    "and nothing else: {\"steps\": [steps as in the schema below], \"confidence\": a number from 0 to 1 (how sure "
    "you are that the plan does what the user wants), \"questions\": [what you would ask the user when you are "
    "not sure; [] when you are]}.\n\nThe schema of a plan (JSON Schema):\n";

void planner_result_clear(planner_result *r)
{
    if (!r)
        return;
    plan_free(r->p);
    json_decref(r->plan_json);
    json_decref(r->questions);
    json_decref(r->usage);
    *r = (planner_result){0};
}

/* ------------------------------------------------------------ tools */

json_t *planner_tools(registry *r, const char *const *skills, size_t n_skills)
{
    json_t *defs = json_array();
    size_t n = r ? registry_skill_count(r) : 0;
    for (size_t i = 0; defs && i < n; i++) {
        const reg_skill *s = registry_skill_at(r, i);
        if (!agent_skill_allowed(skills, n_skills, reg_skill_name(s)))
            continue;
        if (reg_skill_typed(s)) {
            char *lerr = NULL;
            int lrc = registry_load(r, s, &lerr);
            mem_free(lerr);
            if (lrc < 0)
                continue; /* as the agent: a typed skill that cannot load is not offered */
        }
        char name[160];
        agent_tool_name(reg_skill_name(s), name, sizeof name);
        json_t *def = agent_tool_def(s, name, true);
        if (!def) {
            json_decref(defs);
            return NULL;
        }
        json_array_append_new(defs, def);
    }
    return defs;
}

/* ------------------------------------------------------------ the answer's text */

int planner_extract(const char *text, size_t len, json_t **out, char **err)
{
    *out = NULL;
    unsigned starts = 0;
    for (size_t at = 0; text && at < len && starts < EXTRACT_MAX_STARTS; at++) {
        if (text[at] != '{')
            continue;
        starts++;
        /* the balanced span from here, strings and escapes respected */
        size_t depth = 0, end = 0;
        bool str = false, esc = false;
        for (size_t k = at; k < len; k++) {
            char ch = text[k];
            if (str) {
                if (esc)
                    esc = false;
                else if (ch == '\\')
                    esc = true;
                else if (ch == '"')
                    str = false;
            } else if (ch == '"') {
                str = true;
            } else if (ch == '{') {
                depth++;
            } else if (ch == '}' && --depth == 0) {
                end = k + 1;
                break;
            }
        }
        if (!end)
            continue; /* unbalanced from here: a later '{' may still close */
        json_t *v = json_loadb(text + at, end - at, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(v)) {
            *out = v;
            return 0;
        }
        json_decref(v);
    }
    return err_set(err, -ENOENT, "the answer holds no JSON object; answer with one JSON object {\"steps\": [...], "
                                 "\"confidence\": C, \"questions\": [...]}");
}

/* ------------------------------------------------------------ one call */

static void emit(const planner_opts *o, const char *type, json_t *payload)
{
    if (o->emit && payload)
        o->emit(o->user, type, payload);
    else
        json_decref(payload);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void add_usage(planner_result *acct, const json_t *u)
{
    static const char *const keys[] = {"input_tokens", "cached_input_tokens", "cache_write_tokens",
                                       "output_tokens"};
    if (!acct->usage && !(acct->usage = json_object()))
        return;
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        json_t *v = json_object_get(u, keys[i]);
        json_int_t have = json_integer_value(json_object_get(acct->usage, keys[i]));
        json_object_set_new(acct->usage, keys[i],
                            json_integer(have + (json_is_integer(v) ? json_integer_value(v) : 0)));
    }
}

/* One chat call with its two events. *resp on success. */
static int call(provider *prov, const planner_opts *o, const char *purpose, unsigned attempt, json_t *rq,
                planner_result *acct, json_t **resp, char **err)
{
    *resp = NULL;
    json_t *logged = json_copy(rq);
    json_object_del(logged, "tools"); /* those of run.started */
    emit(o, "plan.requested",
         logged ? json_pack("{s:s, s:i, s:s, s:s, s:o}", "purpose", purpose, "attempt", (int)attempt, "provider",
                            provider_name(prov), "model", provider_model(prov), "request", logged)
                : NULL);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    provider_call_opts po = {.cancel = o->cancel};
    char *perr = NULL;
    int32_t code = provider_chat(prov, rq, &po, resp, &perr);
    double ms = ms_since(&t0);
    acct->attempts++;
    if (code != VENOM_OK || !json_is_object(json_object_get(*resp, "message"))) {
        const char *why = code != VENOM_OK ? (perr ? perr : "the provider call failed")
                                           : "the provider's response has no message object (a plugin bug)";
        emit(o, "plan.response", json_pack("{s:s, s:i, s:f, s:i, s:s}", "purpose", purpose, "attempt", (int)attempt,
                                           "duration_ms", ms, "code", code != VENOM_OK ? code : VENOM_E_INTERNAL,
                                           "error", why));
        int rc = code == VENOM_E_CANCELLED ? err_set(err, -ECANCELED, "interrupted")
                                           : err_set(err, -EIO, "%s: %s", provider_name(prov), why);
        mem_free(perr);
        json_decref(*resp);
        *resp = NULL;
        return rc;
    }
    mem_free(perr);
    const json_t *usage = json_object_get(*resp, "usage");
    bool priced = false;
    double cost = provider_cost(prov, json_string_value(json_object_get(*resp, "model")), usage, &priced);
    acct->cost += cost;
    acct->unpriced |= !priced;
    add_usage(acct, usage);
    emit(o, "plan.response", json_pack("{s:s, s:i, s:f, s:f, s:b, s:O}", "purpose", purpose, "attempt", (int)attempt,
                                       "duration_ms", ms, "cost", cost, "priced", priced, "response", *resp));
    return 0;
}

/* ------------------------------------------------------------ planning */

/* The questions of an answer: its "questions", else the provider's
 * "unresolved" (strings, or objects with a "question"). */
static json_t *questions_of(const json_t *obj, const json_t *resp)
{
    json_t *q = json_array();
    const json_t *src = json_object_get(obj, "questions");
    if (!json_is_array(src))
        src = json_object_get(resp, "unresolved");
    size_t i;
    const json_t *v;
    json_array_foreach(src, i, v) {
        const char *t = json_string_value(v);
        if (!t)
            t = json_string_value(json_object_get(v, "question"));
        if (t && *t && json_array_size(q) < 20)
            json_array_append_new(q, json_string(t));
    }
    return q;
}

/* Turn the model's plan object into a checked plan. 0, or -EINVAL with the
 * problems one per line. */
static int make_plan(registry *r, const planner_opts *o, const json_t *obj, plan **out, char **err)
{
    *out = NULL;
    json_t *steps = json_object_get(obj, "steps");
    if (!json_is_array(steps))
        return err_set(err, -EINVAL, "the answer has no \"steps\" list; put the steps in \"steps\": [...]");
    json_t *doc = json_pack("{s:i, s:O}", "version", 1, "steps", steps);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = plan_parse(text, strlen(text), "plan.json", NULL, 0, out, err);
    free(text);
    if (rc == 0 && (rc = plan_check(*out, r, o->agents, err)) < 0) {
        plan_free(*out);
        *out = NULL;
    }
    return rc;
}

static json_t *errors_list(const char *e)
{
    json_t *a = json_array();
    while (a && e && *e) {
        size_t n = strcspn(e, "\n");
        if (n)
            json_array_append_new(a, json_stringn(e, n));
        e += n + (e[n] == '\n');
    }
    return a;
}

int planner_plan(registry *r, provider *prov, const planner_opts *o, planner_result *out, char **err)
{
    *out = (planner_result){.confidence = 1};
    if (!prov || !o || !o->goal || !o->workdir)
        return err_set(err, -EINVAL, "planner_plan: a provider, a goal and a workdir are needed");
    int rc = 0;
    char *sys = mem_printf("%s%s", instructions, plan_schema_text);
    json_t *tools = planner_tools(r, o->skills, o->n_skills);
    json_t *msgs = sys ? json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content", sys, "role", "user",
                                   "content", o->goal)
                       : NULL;
    mem_free(sys);
    if (!tools || !msgs) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    char *last = NULL;
    for (unsigned attempt = 1;; attempt++) {
        json_t *rq = json_pack("{s:O, s:O, s:s, s:b, s:{s:s, s:s}}", "messages", msgs, "tools", tools,
                               "tool_choice", "none", "stream", 0, "metadata", "purpose", "plan", "workdir",
                               o->workdir);
        if (rq && o->run_id)
            json_object_set_new(json_object_get(rq, "metadata"), "run_id", json_string(o->run_id));
        if (!rq) {
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        json_t *resp = NULL;
        rc = call(prov, o, attempt == 1 ? "plan" : "repair", attempt, rq, out, &resp, err);
        json_decref(rq);
        if (rc < 0)
            break;
        const char *content = json_string_value(json_object_get(json_object_get(resp, "message"), "content"));
        if (!content)
            content = "";
        json_t *obj = NULL;
        char *perr = NULL;
        plan *p = NULL;
        int prc = planner_extract(content, strlen(content), &obj, &perr);
        if (prc == 0) {
            json_t *c = json_object_get(obj, "confidence");
            if (!json_is_number(c))
                c = json_object_get(resp, "confidence");
            out->confidence = json_is_number(c) ? json_number_value(c) : 1;
            json_decref(out->questions);
            out->questions = questions_of(obj, resp);
            bool unsure = out->confidence < o->threshold;
            bool empty = json_array_size(json_object_get(obj, "steps")) == 0 && json_array_size(out->questions);
            if (unsure || empty) {
                /* questions instead of a plan: no repair; keep the steps if they are valid */
                if (make_plan(r, o, obj, &p, NULL) == 0)
                    out->p = p;
                json_decref(obj);
                json_decref(resp);
                rc = 0;
                break;
            }
            prc = make_plan(r, o, obj, &p, &perr);
        }
        json_decref(obj);
        if (prc == 0) {
            out->p = p;
            json_decref(resp);
            rc = 0;
            break;
        }
        if (prc == -ENOMEM) {
            json_decref(resp);
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        emit(o, "plan.invalid", json_pack("{s:i, s:o}", "attempt", (int)attempt, "errors", errors_list(perr)));
        mem_free(last);
        last = perr;
        if (attempt > o->repairs) {
            json_decref(resp);
            rc = err_set(err, -EPROTO, "no valid plan after %u answer%s (planner.repairs: %u); the last problems:\n%s",
                         attempt, attempt == 1 ? "" : "s", o->repairs, last ? last : "?");
            break;
        }
        /* the repair turn: the answer as given, then the problems */
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant", "content", content));
        char *fix = mem_printf("The plan is not valid:\n%s\nReturn the corrected plan: one JSON object "
                               "{\"steps\": [...], \"confidence\": C, \"questions\": [...]}, nothing else.",
                               last ? last : "?");
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", fix ? fix : "?"));
        mem_free(fix);
        json_decref(resp);
    }
    mem_free(last);
    if (rc == 0 && out->p && !(out->plan_json = plan_to_json(out->p)))
        rc = err_set(err, -ENOMEM, "out of memory");
    if (rc == 0 && !out->questions && !(out->questions = json_array()))
        rc = err_set(err, -ENOMEM, "out of memory");
out:
    json_decref(tools);
    json_decref(msgs);
    if (rc < 0) {
        json_t *u = out->usage;
        unsigned at = out->attempts;
        double cost = out->cost;
        bool unp = out->unpriced; /* (read before the clear zeroes it) */
        out->usage = NULL;
        planner_result_clear(out);
        *out = (planner_result){.usage = u, .attempts = at, .cost = cost, .unpriced = unp, .confidence = 1};
    }
    return rc;
}

/* ------------------------------------------------------------ the answer turn */

typedef struct results_ctx {
    const plan *p;
    const json_t *results;
} results_ctx;

static const json_t *result_of(void *user, size_t i)
{
    results_ctx *c = user;
    return json_object_get(c->results, c->p->steps[i].id);
}

int planner_answer(registry *r, provider *prov, const planner_opts *o, const plan *p, const json_t *results,
                   planner_result *acct, char **answer, char **err)
{
    *answer = NULL;
    if (!prov || !o || !p || !p->order)
        return err_set(err, -EINVAL, "planner_answer: a provider and a checked plan are needed");
    int rc = 0;
    json_t *tools = planner_tools(r, o->skills, o->n_skills);
    json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", o->goal);
    json_t *calls = json_array(), *replies = json_array();
    results_ctx rc_ctx = {.p = p, .results = results};
    if (!tools || !msgs || !calls || !replies) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    /* the steps that ran, in plan order, as one assistant turn of calls */
    for (size_t k = 0; k < p->n; k++) {
        const plan_step *s = &p->steps[p->order[k]];
        const json_t *res = json_object_get(results, s->id);
        if (s->kind != PLAN_SKILL || !res)
            continue;
        char name[160], id[96];
        agent_tool_name(s->skill, name, sizeof name);
        snprintf(id, sizeof id, "plan_%s", s->id);
        json_t *args = NULL;
        if (plan_resolve(p, s->args, result_of, &rc_ctx, &args, NULL) < 0)
            args = json_incref(s->args);
        char *text = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
        json_array_append_new(calls, json_pack("{s:s, s:s, s:o}", "id", id, "name", name, "arguments",
                                               args ? args : json_object()));
        json_array_append_new(replies, json_pack("{s:s, s:s, s:s, s:s, s:b}", "role", "tool", "tool_call_id", id,
                                                 "name", name, "content", text ? text : "null", "is_error", 0));
        free(text);
    }
    if (json_array_size(calls)) {
        json_array_append_new(msgs, json_pack("{s:s, s:s, s:O}", "role", "assistant", "content", "", "tool_calls",
                                              calls));
        json_array_extend(msgs, replies);
    }
    json_t *rq = json_pack("{s:O, s:O, s:s, s:b, s:{s:s}}", "messages", msgs, "tools", tools, "tool_choice", "none",
                           "stream", 0, "metadata", "workdir", o->workdir);
    if (rq && o->run_id)
        json_object_set_new(json_object_get(rq, "metadata"), "run_id", json_string(o->run_id));
    if (!rq) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    json_t *resp = NULL;
    rc = call(prov, o, "answer", 1, rq, acct, &resp, err);
    json_decref(rq);
    if (rc == 0) {
        const char *content = json_string_value(json_object_get(json_object_get(resp, "message"), "content"));
        if (!(*answer = mem_strdup(content ? content : "")))
            rc = err_set(err, -ENOMEM, "out of memory");
    }
    json_decref(resp);
out:
    json_decref(tools);
    json_decref(msgs);
    json_decref(calls);
    json_decref(replies);
    return rc;
}

/* ------------------------------------------------------------ cache key, YAML */

char *plan_goal_key(const char *goal)
{
    size_t n = goal ? strlen(goal) : 0;
    char *k = mem_alloc(n + 1);
    if (!k)
        return NULL;
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)goal[i];
        if (isspace(ch)) {
            space = o > 0;
            continue;
        }
        if (space)
            k[o++] = ' ';
        space = false;
        k[o++] = (char)tolower(ch);
    }
    while (o > 0 && strchr(".!?,;: ", k[o - 1]))
        o--;
    k[o] = '\0';
    return k;
}

/* Append JSON text t to b as YAML reads it back: JSON is YAML flow syntax,
 * but YAML allows fewer raw characters in a string than JSON (no DEL, no C1
 * controls, no U+FEFF, U+FFFE, U+FFFF) and folds its line breaks NEL,
 * U+2028 and U+2029 into spaces, so those become \u escapes, which mean
 * the same in both. */
static bool yaml_put(buf *b, const char *t)
{
    bool ok = true;
    for (const unsigned char *q = (const unsigned char *)t; ok && *q; q++) {
        unsigned cp = 0;
        size_t len = 0;
        if (q[0] == 0x7f)
            cp = 0x7f, len = 1;
        else if (q[0] == 0xc2 && q[1] >= 0x80 && q[1] <= 0x9f)
            cp = q[1], len = 2;
        else if ((q[0] == 0xe2 && q[1] == 0x80 && (q[2] == 0xa8 || q[2] == 0xa9)) ||
                 (q[0] == 0xef && q[1] == 0xbb && q[2] == 0xbf) ||
                 (q[0] == 0xef && q[1] == 0xbf && (q[2] == 0xbe || q[2] == 0xbf)))
            cp = (q[0] & 0x0fu) << 12 | (q[1] & 0x3fu) << 6 | (q[2] & 0x3fu), len = 3;
        if (len) {
            ok = buf_printf(b, "\\u%04X", cp) == 0;
            q += len - 1;
        } else {
            ok = buf_printf(b, "%c", (char)*q) == 0;
        }
    }
    return ok;
}

/* v in YAML flow syntax (JSON, escaped by yaml_put), with "? " before an
 * object key whose text passes YAML_KEY_MAX bytes: YAML reads `"key": v`
 * as an implicit key, which may not be longer than 1024 characters; an
 * explicit one ("? key") may. */
#define YAML_KEY_MAX 1000
static bool flow_json(buf *b, const json_t *v)
{
    if (json_is_object(v)) {
        bool ok = buf_puts(b, "{") == 0, first = true;
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            json_t *ks = json_string(k);
            char *kt = ks ? json_dumps(ks, JSON_ENCODE_ANY) : NULL;
            buf kb = {0};
            ok = ok && kt && yaml_put(&kb, kt) &&
                 buf_printf(b, "%s%s%s: ", first ? "" : ", ", kb.len > YAML_KEY_MAX ? "? " : "", buf_str(&kb)) == 0 &&
                 flow_json(b, e);
            buf_release(&kb);
            free(kt);
            json_decref(ks);
            first = false;
        }
        return ok && buf_puts(b, "}") == 0;
    }
    if (json_is_array(v)) {
        bool ok = buf_puts(b, "[") == 0;
        for (size_t i = 0; ok && i < json_array_size(v); i++)
            ok = (!i || buf_puts(b, ", ") == 0) && flow_json(b, json_array_get(v, i));
        return ok && buf_puts(b, "]") == 0;
    }
    char *t = json_dumps(v, JSON_ENCODE_ANY);
    bool ok = t && yaml_put(b, t);
    free(t);
    return ok;
}

/* v as one line of YAML flow syntax that reads back as v; mem_free it. */
static char *yaml_json(const json_t *v)
{
    buf b = {0};
    char *s = flow_json(&b, v) ? buf_detach(&b) : NULL;
    buf_release(&b);
    return s;
}

char *plan_to_yaml(const json_t *pj)
{
    buf b = {0};
    bool ok = true;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)pj, key, v) {
        if (!strcmp(key, "steps"))
            continue;
        char *t = yaml_json(v);
        ok = ok && t && buf_printf(&b, "%s: %s\n", key, t) == 0;
        mem_free(t);
    }
    ok = ok && buf_puts(&b, "steps:\n") == 0;
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(pj, "steps"), i, st) {
        bool first = true;
        json_object_foreach(st, key, v) {
            char *t = yaml_json(v);
            ok = ok && t && buf_printf(&b, "  %s %s: %s\n", first ? "-" : " ", key, t) == 0;
            mem_free(t);
            first = false;
        }
    }
    char *s = ok ? buf_detach(&b) : NULL;
    buf_release(&b);
    return s;
}
