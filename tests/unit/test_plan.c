#include "testsupport.h"
#include "util/common.h"
#include "plan/plan.h"

static void has(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("expected '%s' in:\n%s", needle, hay ? hay : "(null)");
}

/* Parse and check (no registry); returns the plan or NULL with *err. */
static plan *load(const char *text, const plan_var *v, size_t nv, char **err)
{
    plan *p = NULL;
    *err = NULL;
    if (plan_parse(text, strlen(text), "p.yaml", v, nv, &p, err) < 0)
        return NULL;
    if (plan_check(p, NULL, NULL, err) < 0) {
        plan_free(p);
        return NULL;
    }
    return p;
}

static char *errors_of(const char *text)
{
    char *err = NULL;
    plan *p = load(text, NULL, 0, &err);
    assert_null(p);
    assert_non_null(err);
    return err;
}

static void test_structure_errors(void **state)
{
    (void)state;
    char *e = errors_of("steps:\n  - id: a\n    skill: x.y\n    retires: 1\n  - id: b\n    skill: x.y\n    agent: z\n"
                        "  - skill: x.y\n  - id: bad id\n    skill: x.y\n  - id: t\n    skill: x.y\n    timeout: -1\n"
                        "extra: 1\n");
    has(e, "p.yaml:4: unknown key 'retires'");
    has(e, "did you mean 'retries'?");
    has(e, "p.yaml:7: step 'b' has both skill and agent");
    has(e, "p.yaml:8: step 3 has no id");
    has(e, "p.yaml:9: a step id is 1 to 64 letters");
    has(e, "p.yaml:13: timeout must be seconds");
    has(e, "p.yaml:14: unknown key 'extra'");
    mem_free(e);
    e = errors_of("{}");
    has(e, "a plan needs steps:");
    mem_free(e);
    e = errors_of("steps:\n  - id: a\n    agent: w\n");
    has(e, "p.yaml:2: agent step 'a' needs an instruction");
    mem_free(e);
}

static void test_graph_errors(void **state)
{
    (void)state;
    char *e = errors_of("steps:\n  - id: a\n    skill: x.y\n  - id: a\n    skill: x.y\n");
    has(e, "p.yaml:4: duplicate step id 'a' (first at line 2)");
    mem_free(e);
    e = errors_of("steps:\n  - id: a\n    skill: x.y\n    depends_on: [nope]\n"
                  "  - id: b\n    skill: x.y\n    args: {v: \"${steps.gone.result}\"}\n"
                  "  - id: c\n    skill: x.y\n    depends_on: c\n");
    has(e, "p.yaml:4: step 'a': depends_on names no step 'nope'");
    has(e, "p.yaml:7: step 'b': the reference ${steps.gone.result} names no step 'gone'");
    has(e, "p.yaml:10: step 'c' depends on itself");
    mem_free(e);
    e = errors_of("steps:\n  - {id: a, skill: x.y, depends_on: [c]}\n  - {id: b, skill: x.y, depends_on: [a]}\n"
                  "  - {id: c, skill: x.y, args: {v: \"${steps.b.result}\"}}\n");
    has(e, "the steps form a cycle: a -> c -> b -> a");
    mem_free(e);
    e = errors_of("steps:\n  - {id: a, skill: x.y, args: {v: \"${step.a}\"}}\n"
                  "  - {id: b, skill: x.y, when: \"x == 1\"}\n  - {id: c, skill: x.y, args: {v: \"${vars.q}\"}}\n");
    has(e, "p.yaml:2: a reference is ${vars.NAME}");
    has(e, "p.yaml:4: ${vars.q}: the plan has no var 'q'");
    mem_free(e);
    e = errors_of("steps:\n  - {id: b, skill: x.y, when: \"x == 1\"}\n");
    has(e, "p.yaml:2: when: the left side must be one reference");
    mem_free(e);
}

static void test_vars(void **state)
{
    (void)state;
    const char *text = "vars: {n: 2, name: world, need: null}\nsteps:\n"
                       "  - {id: a, skill: x.y, args: {n: \"${vars.n}\", s: \"hi ${vars.name} ${vars.n}\", "
                       "q: \"${vars.need}\"}}\n";
    char *err = NULL;
    plan *p = load(text, NULL, 0, &err);
    assert_null(p);
    has(err, "${vars.need} has no value; pass --set need=VALUE");
    mem_free(err);
    plan_var v[] = {{"need", "x"}, {"n", "5"}};
    p = load(text, v, 2, &err);
    assert_non_null(p);
    assert_int_equal(json_integer_value(json_object_get(p->steps[0].args, "n")), 5);
    assert_string_equal(json_string_value(json_object_get(p->steps[0].args, "s")), "hi world 5");
    plan_free(p);
    plan_var bad[] = {{"need", "x"}, {"n", "five"}};
    assert_null(load(text, bad, 2, &err));
    has(err, "p.yaml:1: --set n=five: expected an integer like the default of vars.n");
    mem_free(err);
}

static json_t *g_results[4];
static const json_t *result_fn(void *user, size_t i)
{
    (void)user;
    return i < 4 ? g_results[i] : NULL;
}

static void test_resolve_and_when(void **state)
{
    (void)state;
    char *err = NULL;
    plan *p = load("steps:\n"
                   "  - {id: a, skill: x.y}\n"
                   "  - {id: b, skill: x.y, args: {whole: \"${steps.a.result/list/1}\", text: \"n=${steps.a.result/n}, "
                   "s=${steps.a.result/s} $${literal}\", all: [\"${steps.a.result}\"], odd: \"${steps.a.result/a~1b}\"}}\n"
                   "  - {id: c, skill: x.y, when: \"${steps.a.result/ok} == true\"}\n"
                   "  - {id: d, skill: x.y, when: \"!${steps.a.result/list}\", depends_on: [c]}\n",
                   NULL, 0, &err);
    if (!p)
        fail_msg("%s", err);
    /* references imply dependencies; order respects them */
    assert_int_equal(p->steps[1].n_deps, 1);
    assert_int_equal(p->steps[1].deps[0], 0);
    assert_int_equal(p->steps[3].n_deps, 2);
    assert_int_equal(p->order[0], 0);
    g_results[0] = json_pack("{s:[i,s], s:i, s:s, s:b, s:i}", "list", 1, "two", "n", 7, "s", "str", "ok", 1, "a/b", 9);
    json_t *out = NULL;
    assert_int_equal(plan_resolve(p, p->steps[1].args, result_fn, NULL, &out, &err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "whole")), "two");
    assert_string_equal(json_string_value(json_object_get(out, "text")), "n=7, s=str ${literal}");
    assert_true(json_equal(json_array_get(json_object_get(out, "all"), 0), g_results[0]));
    assert_int_equal(json_integer_value(json_object_get(out, "odd")), 9);
    json_decref(out);
    bool yes = false;
    assert_int_equal(plan_when(p, &p->steps[2], result_fn, NULL, &yes, &err), 0);
    assert_true(yes);
    assert_int_equal(plan_when(p, &p->steps[3], result_fn, NULL, &yes, &err), 0);
    assert_false(yes); /* a non-empty list is truthy: !list is false */
    json_decref(g_results[0]);
    /* a pointer that names nothing, and a missing result */
    g_results[0] = json_pack("{s:i}", "n", 1);
    assert_int_equal(plan_resolve(p, p->steps[1].args, result_fn, NULL, &out, &err), -ENOENT);
    has(err, "the result of 'a' has nothing at /list/1");
    mem_free(err);
    err = NULL;
    json_decref(g_results[0]);
    g_results[0] = NULL;
    assert_int_equal(plan_when(p, &p->steps[2], result_fn, NULL, &yes, &err), -ENOENT);
    has(err, "step 'a' has no result");
    mem_free(err);
    /* the JSON form parses again to the same plan */
    json_t *j = plan_to_json(p);
    char *t = json_dumps(j, JSON_COMPACT);
    plan *q = NULL;
    err = NULL;
    assert_int_equal(plan_parse(t, strlen(t), "again.json", NULL, 0, &q, &err), 0);
    assert_int_equal(plan_check(q, NULL, NULL, &err), 0);
    assert_int_equal(q->n, 4);
    assert_int_equal(q->steps[3].n_deps, 2);
    plan_free(q);
    free(t);
    json_decref(j);
    plan_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_graph_errors),
        cmocka_unit_test(test_vars),
        cmocka_unit_test(test_resolve_and_when),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
