/*
 * fuzz_plan.c — libFuzzer target for the plan reader and validator
 * (core/plan): any bytes, as YAML or JSON, with a --set, give a clean error
 * (every line "file:line: ...") or a plan that plan_check orders so that
 * each step comes after its dependencies; its JSON form parses again to the
 * same number of steps. Resolution and `when` of every step run against
 * empty results without crashing. Agent steps are checked against two
 * agents; every agent step of a checked plan has a winner at auction.
 */
#include "util/common.h"
#include "orchestrate/orchestrate.h"
#include "plan/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const json_t *no_result(void *user, size_t i)
{
    (void)user;
    (void)i;
    static json_t *obj;
    if (!obj)
        obj = json_pack("{s:b, s:i, s:s}", "ok", 1, "lines", 2, "content", "x");
    return i % 2 ? obj : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool installed;
    static json_t *agents;
    if (!installed) {
        mem_install();
        installed = true;
        agents = json_loads("{\"w\": {\"skills\": [\"text\"], \"kinds\": [\"write\"]}, \"r\": {\"skills\": "
                            "[\"fs.read\", \"text.count\"]}}", 0, NULL);
    }
    plan *p = NULL;
    char *err = NULL;
    plan_var v = {.name = "x", .value = "1"};
    const char *name = size && (data[0] & 1) ? "p.json" : "p.yaml";
    int rc = plan_parse((const char *)data, size, name, &v, size && (data[0] & 2), &p, &err);
    if (rc == 0 && (rc = plan_check(p, NULL, agents, &err)) == 0) {
        size_t *pos = mem_calloc(p->n, sizeof *pos);
        if (pos) {
            for (size_t k = 0; k < p->n; k++)
                pos[p->order[k]] = k;
            for (size_t i = 0; i < p->n; i++)
                for (size_t k = 0; k < p->steps[i].n_deps; k++)
                    if (pos[p->steps[i].deps[k]] >= pos[i])
                        __builtin_trap();
        }
        mem_free(pos);
        for (size_t i = 0; i < p->n; i++) {
            if (p->steps[i].kind == PLAN_AGENT) {
                auction_bid *b = NULL;
                size_t nb = 0;
                char *ea = NULL;
                int arc = auction_run(NULL, NULL, agents, &p->steps[i], NULL, &b, &nb, &ea);
                if ((arc < 0 && arc != -ENOMEM) || (arc == 0 && (!nb || b[0].score < 0 || b[0].score > 1)))
                    __builtin_trap();
                if (p->steps[i].agent && !plan_agent_eligible(&p->steps[i], json_object_get(agents, p->steps[i].agent),
                                                              NULL, 0))
                    __builtin_trap();
                mem_free(b);
                mem_free(ea);
            }
            json_t *out = NULL;
            char *e2 = NULL;
            bool yes;
            if (p->steps[i].args && plan_resolve(p, p->steps[i].args, no_result, NULL, &out, &e2) == 0 && !out)
                __builtin_trap();
            json_decref(out);
            mem_free(e2);
            e2 = NULL;
            (void)plan_when(p, &p->steps[i], no_result, NULL, &yes, &e2);
            mem_free(e2);
        }
        json_t *j = plan_to_json(p);
        char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
        plan *q = NULL;
        char *e3 = NULL;
        if (t && plan_parse(t, strlen(t), "again.json", NULL, 0, &q, &e3) == 0 && q->n != p->n)
            __builtin_trap();
        plan_free(q);
        mem_free(e3);
        free(t);
        json_decref(j);
    } else if (rc != 0 && rc != -ENOMEM && (!err || !*err)) {
        __builtin_trap();
    }
    plan_free(p);
    mem_free(err);
    return 0;
}
