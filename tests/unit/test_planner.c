/*
 * test_planner.c — the parts of planning a goal that need no model
 * (core/plan/planner.c, core/store plan cache): the JSON object in a model's
 * text (fences, prose, braces inside strings, broken objects before a good
 * one), the plan cache key, the YAML form of a plan read back by plan_parse
 * (the `--plan-only` → `-f` round trip), and the plan cache in the store
 * (put, get, uses/successes, replace, delete). Planning against the
 * scripted model server: tests/e2e/run_planner.sh.
 */
#include "testsupport.h"
#include "util/common.h"
#include "plan/plan.h"
#include "store/store.h"

static json_t *extract(const char *text)
{
    json_t *o = NULL;
    char *err = NULL;
    int rc = planner_extract(text, strlen(text), &o, &err);
    if (rc < 0) {
        assert_null(o);
        assert_non_null(err);
        assert_non_null(strstr(err, "no JSON object"));
    }
    mem_free(err);
    return o;
}

static void test_extract(void **state)
{
    (void)state;
    json_t *o = extract("Here:\n```json\n{\"steps\": [{\"id\": \"a\", \"instruction\": \"use } and { freely\"}], "
                        "\"confidence\": 0.7}\n```\nThat is all {not json}.");
    assert_non_null(o);
    assert_int_equal(json_array_size(json_object_get(o, "steps")), 1);
    assert_true(json_number_value(json_object_get(o, "confidence")) == 0.7);
    json_decref(o);
    /* a broken object first: the next one that parses */
    o = extract("{oops} then {\"steps\": [], \"questions\": [\"which?\"]}");
    assert_non_null(o);
    assert_int_equal(json_array_size(json_object_get(o, "questions")), 1);
    json_decref(o);
    /* the outermost object, not an inner one */
    o = extract("{\"a\": {\"b\": 1}}");
    assert_non_null(json_object_get(o, "a"));
    json_decref(o);
    /* escaped quotes inside strings */
    o = extract("x {\"s\": \"a \\\" } b\"} y");
    assert_string_equal(json_string_value(json_object_get(o, "s")), "a \" } b");
    json_decref(o);
    assert_null(extract("no object here"));
    assert_null(extract("{\"unclosed\": 1"));
    assert_null(extract("[1, 2]"));
    assert_null(extract(""));
}

static void key_is(const char *goal, const char *want)
{
    char *k = plan_goal_key(goal);
    assert_non_null(k);
    assert_string_equal(k, want);
    mem_free(k);
}

static void test_goal_key(void **state)
{
    (void)state;
    key_is("Count the lines of notes.txt", "count the lines of notes.txt");
    key_is("  count THE\tlines of\n\n notes.txt.  ", "count the lines of notes.txt");
    key_is("what is it?!", "what is it");
    key_is("...", "");
    key_is("", "");
    key_is("a.b", "a.b");
}

/* Characters JSON takes raw but YAML does not (fuzz_planner found DEL in a
 * skill name): the YAML form escapes them and reads back the same. */
static void test_yaml_raw_characters(void **state)
{
    (void)state;
    const char *src = "{\"version\": 1, \"steps\": [{\"id\": \"a\", \"skill\": \"x.del\\u007f\", \"args\": "
                      "{\"c1\": \"\\u0080\\u009f\\u0085 \\u2028\\u2029\", \"bom\": \"\\ufeff\\ufffe\\uffff \\u00e9\"}}]}";
    plan *p = NULL, *q = NULL;
    char *err = NULL;
    assert_int_equal(plan_parse(src, strlen(src), "p.json", NULL, 0, &p, &err), 0);
    json_t *pj = plan_to_json(p);
    char *yaml = plan_to_yaml(pj);
    assert_non_null(yaml);
    assert_non_null(strstr(yaml, "\\u007F"));
    int rc = plan_parse(yaml, strlen(yaml), "out.yaml", NULL, 0, &q, &err);
    if (rc < 0)
        fail_msg("%s\n---\n%s", err, yaml);
    json_t *qj = plan_to_json(q);
    assert_true(json_equal(pj, qj));
    json_decref(pj);
    json_decref(qj);
    mem_free(yaml);
    plan_free(p);
    plan_free(q);
    mem_free(err);
}

/* An argument name longer than YAML's 1024-character limit on implicit
 * keys (fuzz_planner) is written as an explicit key and reads back. */
static void test_yaml_long_key(void **state)
{
    (void)state;
    char key[1101];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    json_t *doc = json_pack("{s:i, s:[{s:s, s:s, s:{s:s, s:{s:i}}}]}", "version", 1, "steps", "id", "a", "skill",
                            "x.y", "args", key, "v", "short", key, 1);
    char *src = json_dumps(doc, JSON_INDENT(1));
    plan *p = NULL, *q = NULL;
    char *err = NULL;
    assert_int_equal(plan_parse(src, strlen(src), "p.json", NULL, 0, &p, &err), 0);
    json_t *pj = plan_to_json(p);
    char *yaml = plan_to_yaml(pj);
    assert_non_null(yaml);
    if (plan_parse(yaml, strlen(yaml), "out.yaml", NULL, 0, &q, &err) < 0)
        fail_msg("%s", err);
    json_t *qj = plan_to_json(q);
    assert_true(json_equal(pj, qj));
    json_decref(pj);
    json_decref(qj);
    json_decref(doc);
    free(src);
    mem_free(yaml);
    plan_free(p);
    plan_free(q);
    mem_free(err);
}

static void test_yaml_round_trip(void **state)
{
    (void)state;
    const char *src = "name: t\nvars: {f: notes.txt}\nsteps:\n  - id: r\n    skill: fs.read\n    args: {path: "
                      "\"${vars.f}\"}\n  - id: c\n    skill: text.count\n    args: {text: \"${steps.r.result/content}\","
                      " note: \"a: b # c\\n'q'\"}\n    retries: 2\n    when: \"${steps.r.result} != 1\"\n"
                      "  - id: s\n    agent: default\n    instruction: \"Summarise: $${literal}\"\n    depends_on: [c]\n";
    plan *p = NULL, *q = NULL;
    char *err = NULL;
    assert_int_equal(plan_parse(src, strlen(src), "p.yaml", NULL, 0, &p, &err), 0);
    assert_int_equal(plan_check(p, NULL, NULL, &err), 0); /* "default" needs no agents: entry */
    json_t *pj = plan_to_json(p);
    char *yaml = plan_to_yaml(pj);
    assert_non_null(yaml);
    int rc = plan_parse(yaml, strlen(yaml), "out.yaml", NULL, 0, &q, &err);
    if (rc < 0)
        fail_msg("%s\n---\n%s", err, yaml);
    assert_int_equal(plan_check(q, NULL, NULL, &err), 0);
    json_t *qj = plan_to_json(q);
    assert_true(json_equal(pj, qj));
    assert_int_equal(q->n, 3);
    assert_string_equal(q->steps[2].agent, "default");
    json_decref(pj);
    json_decref(qj);
    mem_free(yaml);
    plan_free(p);
    plan_free(q);
    mem_free(err);
}

static void test_unknown_agent_still_refused(void **state)
{
    (void)state;
    const char *src = "steps:\n  - id: s\n    agent: writer\n    instruction: x\n";
    plan *p = NULL;
    char *err = NULL;
    assert_int_equal(plan_parse(src, strlen(src), "p.yaml", NULL, 0, &p, &err), 0);
    assert_int_equal(plan_check(p, NULL, NULL, &err), -EINVAL);
    assert_non_null(strstr(err, "unknown agent 'writer'"));
    plan_free(p);
    mem_free(err);
}

static void test_cache_store(void **state)
{
    (void)state;
    char *dir = ts_mkdtemp();
    char *path = mem_printf("%s/venom.db", dir);
    store *s = NULL;
    char *err = NULL;
    assert_int_equal(store_open(path, &s, &err), 0);
    store_plan_row row;
    assert_int_equal(store_plan_get(s, "k", &row, &err), -ENOENT);
    assert_int_equal(store_plan_put(s, "k", "K!", "{\"steps\":[]}", "model", &err), 0);
    assert_int_equal(store_plan_used(s, "k", true, &err), 0);
    assert_int_equal(store_plan_used(s, "k", false, &err), 0);
    assert_int_equal(store_plan_used(s, "none", true, &err), 0); /* nothing to count: fine */
    assert_int_equal(store_plan_get(s, "k", &row, &err), 0);
    assert_string_equal(row.goal, "K!");
    assert_string_equal(row.plan, "{\"steps\":[]}");
    assert_string_equal(row.source, "model");
    assert_int_equal(row.uses, 2);
    assert_int_equal(row.successes, 1);
    store_plan_row_clear(&row);
    /* replacing resets the counters */
    assert_int_equal(store_plan_put(s, "k", "k", "{\"steps\":[1]}", "offline", &err), 0);
    assert_int_equal(store_plan_get(s, "k", &row, &err), 0);
    assert_string_equal(row.source, "offline");
    assert_int_equal(row.uses, 0);
    store_plan_row_clear(&row);
    store_close(s);
    /* it survives a reopen; then it is forgotten */
    assert_int_equal(store_open(path, &s, &err), 0);
    assert_int_equal(store_plan_get(s, "k", &row, &err), 0);
    store_plan_row_clear(&row);
    assert_int_equal(store_plan_del(s, "k", &err), 0);
    assert_int_equal(store_plan_get(s, "k", &row, &err), -ENOENT);
    assert_int_equal(store_plan_del(s, "k", &err), 0);
    store_close(s);
    mem_free(err);
    mem_free(path);
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extract),          cmocka_unit_test(test_goal_key),
        cmocka_unit_test(test_yaml_round_trip),  cmocka_unit_test(test_yaml_raw_characters),
        cmocka_unit_test(test_yaml_long_key),  cmocka_unit_test(test_unknown_agent_still_refused),
        cmocka_unit_test(test_cache_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
