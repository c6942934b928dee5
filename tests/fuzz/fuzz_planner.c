/*
 * fuzz_planner.c — libFuzzer target for what the planner reads from a model
 * (core/plan/planner.c): any text through planner_extract gives an object or
 * a clean -ENOENT, never a read past the input; an extracted object's
 * "steps" go through plan_parse/plan_check and, when valid, through the YAML
 * form (plan_to_yaml), which must read back to the same plan. The text as a
 * goal gives a cache key no longer than it, without upper case or runs of
 * spaces.
 */
#include "util/common.h"
#include "plan/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool installed;
    if (!installed) {
        mem_install();
        installed = true;
    }
    /* an exact-size copy: ASan catches a read past the text */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    json_t *obj = NULL;
    char *err = NULL;
    int rc = planner_extract(text, size, &obj, &err);
    if (rc == 0) {
        if (!json_is_object(obj))
            abort();
        json_t *doc = json_pack("{s:i, s:O}", "version", 1, "steps", json_object_get(obj, "steps") ?: json_null());
        char *pt = doc ? json_dumps(doc, JSON_INDENT(1)) : NULL;
        plan *p = NULL, *q = NULL;
        char *e2 = NULL;
        if (pt && plan_parse(pt, strlen(pt), "plan.json", NULL, 0, &p, &e2) == 0 && plan_check(p, NULL, NULL, &e2) == 0) {
            json_t *pj = plan_to_json(p);
            char *y = pj ? plan_to_yaml(pj) : NULL;
            if (y) {
                if (plan_parse(y, strlen(y), "plan.yaml", NULL, 0, &q, &e2) < 0 || q->n != p->n)
                    abort();
            }
            mem_free(y);
            json_decref(pj);
        }
        plan_free(p);
        plan_free(q);
        mem_free(e2);
        free(pt);
        json_decref(doc);
    } else if (rc != -ENOENT || obj) {
        abort();
    }
    json_decref(obj);
    mem_free(err);
    /* the goal key */
    char *goal = malloc(size + 1);
    if (goal) {
        memcpy(goal, data, size);
        goal[size] = '\0';
        char *k = plan_goal_key(goal);
        if (k) {
            if (strlen(k) > strlen(goal) || strstr(k, "  "))
                abort();
            for (const char *c = k; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                    abort();
        }
        mem_free(k);
        free(goal);
    }
    free(text);
    return 0;
}
