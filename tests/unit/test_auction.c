/*
 * test_auction.c — agent steps without a named agent (core/plan parsing and
 * plan_check eligibility) and the auction (core/orchestrate/auction.c):
 * the documented scores, eligibility, ties by name, the cost term over a
 * catalog, success statistics in a real store moving the next auction, and
 * route_choose dropping models an agent may not use.
 */
#include "util/common.h"

#include <math.h>

#include "testsupport.h"

#include "orchestrate/orchestrate.h"
#include "plan/plan.h"
#include "route/route.h"
#include "store/store.h"

static char *dir;
static store *st;

static int setup(void **state)
{
    (void)state;
    dir = ts_mkdtemp();
    char *path = mem_printf("%s/venom.db", dir), *err = NULL;
    if (store_open(path, &st, &err) < 0)
        fail_msg("store_open: %s", err);
    mem_free(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(st);
    st = NULL;
    ts_rmtree(dir);
    free(dir);
    return 0;
}

static json_t *agents_of(const char *text)
{
    json_error_t je;
    json_t *a = json_loads(text, 0, &je);
    if (!a)
        fail_msg("agents json: %s", je.text);
    return a;
}

/* A parsed and checked plan (no registry: needs are not looked up). */
static plan *checked(const char *yaml, const json_t *agents)
{
    plan *p = NULL;
    char *err = NULL;
    if (plan_parse(yaml, strlen(yaml), "t.yaml", NULL, 0, &p, &err) < 0)
        fail_msg("plan_parse: %s", err);
    if (plan_check(p, NULL, agents, &err) < 0)
        fail_msg("plan_check: %s", err);
    return p;
}

/* The bids for step 0, best first. */
static auction_bid *bids_of(const plan *p, const json_t *agents, const route_catalog *cat, size_t *n)
{
    auction_bid *b = NULL;
    char *err = NULL;
    if (auction_run(st, cat, agents, &p->steps[0], NULL, &b, n, &err) < 0)
        fail_msg("auction_run: %s", err);
    return b;
}

static void test_parse_auto(void **state)
{
    (void)state;
    json_t *ag = agents_of("{\"w\": {\"skills\": [\"text\"]}}");
    plan *p = checked("steps:\n"
                      "  - {id: a, agent: auto, instruction: x, needs: text.count, kind: summarise}\n"
                      "  - {id: b, instruction: y, needs: [\"text.*\"]}\n"
                      "  - {id: c, agent: w, instruction: z}\n",
                      ag);
    assert_null(p->steps[0].agent);
    assert_int_equal(p->steps[0].kind, PLAN_AGENT);
    assert_int_equal(p->steps[0].n_needs, 1);
    assert_string_equal(p->steps[0].needs[0], "text.count");
    assert_string_equal(plan_step_task(&p->steps[0]), "summarise");
    assert_null(p->steps[1].agent);
    assert_string_equal(p->steps[1].needs[0], "text"); /* "pack.*" is the pack */
    assert_string_equal(plan_step_task(&p->steps[1]), "agent");
    assert_string_equal(p->steps[2].agent, "w");
    /* the recorded plan says auto and keeps needs and kind */
    json_t *j = plan_to_json(p);
    json_t *s0 = json_array_get(json_object_get(j, "steps"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "agent")), "auto");
    assert_string_equal(json_string_value(json_object_get(s0, "kind")), "summarise");
    assert_string_equal(json_string_value(json_array_get(json_object_get(s0, "needs"), 0)), "text.count");
    json_decref(j);
    plan_free(p);
    json_decref(ag);
}

static void test_parse_errors(void **state)
{
    (void)state;
    const char *yaml = "steps:\n"
                       "  - {id: a, skill: text.count, args: {text: x}, needs: [text]}\n"
                       "  - {id: b, instruction: y, kind: \"no spaces\"}\n"
                       "  - {id: c, instruction: y, needs: [\"..\", 3]}\n"
                       "  - {id: d, agent: \"\", instruction: y}\n";
    plan *p = NULL;
    char *err = NULL;
    assert_int_equal(plan_parse(yaml, strlen(yaml), "t.yaml", NULL, 0, &p, &err), -EINVAL);
    assert_non_null(strstr(err, "t.yaml:2: needs and kind belong to agent steps"));
    assert_non_null(strstr(err, "t.yaml:3: kind must be a task kind"));
    assert_non_null(strstr(err, "t.yaml:4: needs: '..' is not a skill name"));
    assert_non_null(strstr(err, "t.yaml:4: needs: expected a skill name (\"pack\" or \"pack.skill\"), got an integer"));
    assert_non_null(strstr(err, "t.yaml:5: agent must be the name of an agent"));
    assert_null(p);
    mem_free(err);
}

static void test_covers(void **state)
{
    (void)state;
    assert_true(plan_skill_covers("text", "text.count"));
    assert_true(plan_skill_covers("text.*", "text.count"));
    assert_true(plan_skill_covers("text", "text"));
    assert_true(plan_skill_covers("text.count", "text.count"));
    assert_false(plan_skill_covers("text.count", "text"));   /* one skill does not allow the pack */
    assert_false(plan_skill_covers("text.count", "text.head"));
    assert_false(plan_skill_covers("tex", "text.count"));
    assert_false(plan_skill_covers("text", "textile.x"));
}

static void test_no_eligible(void **state)
{
    (void)state;
    json_t *ag = agents_of("{\"counter\": {\"skills\": [\"text\", \"fs.read\"]},"
                           " \"coder\": {\"skills\": [\"shell\"], \"kinds\": [\"code\"]}}");
    const char *yaml = "steps:\n  - {id: a, instruction: x}\n  - id: w\n    instruction: y\n"
                       "    needs: [shell, fs.write]\n    kind: write\n";
    plan *p = NULL;
    char *err = NULL;
    assert_int_equal(plan_parse(yaml, strlen(yaml), "t.yaml", NULL, 0, &p, &err), 0);
    assert_int_equal(plan_check(p, NULL, ag, &err), -EINVAL);
    assert_non_null(strstr(err, "t.yaml:3: step 'w': no agent can take it (counter lacks shell, fs.write; "
                                "coder lacks fs.write; takes kinds code only)"));
    assert_null(strstr(err, "step 'a'")); /* needing nothing, any agent can take it */
    mem_free(err);
    err = NULL;
    /* the auction itself refuses too (agents changed after the check) */
    auction_bid *b = NULL;
    size_t n = 9;
    assert_int_equal(auction_run(st, NULL, ag, &p->steps[1], NULL, &b, &n, &err), -ENOENT);
    assert_null(b);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err, "no agent can take it"));
    mem_free(err);
    err = NULL;
    plan_free(p);
    /* no agents at all */
    assert_int_equal(plan_parse(yaml, strlen(yaml), "t.yaml", NULL, 0, &p, &err), 0);
    assert_int_equal(plan_check(p, NULL, NULL, &err), -EINVAL);
    assert_non_null(strstr(err, "t.yaml:2: step 'a' has no agent and no agents are defined"));
    mem_free(err);
    err = NULL;
    plan_free(p);
    /* a named agent that lacks a need */
    const char *named = "steps:\n  - {id: a, agent: counter, instruction: x, needs: shell}\n";
    assert_int_equal(plan_parse(named, strlen(named), "t.yaml", NULL, 0, &p, &err), 0);
    assert_int_equal(plan_check(p, NULL, ag, &err), -EINVAL);
    assert_non_null(strstr(err, "t.yaml:2: step 'a': agent 'counter' cannot take it: it lacks shell"));
    mem_free(err);
    plan_free(p);
    json_decref(ag);
}

static void test_scores_and_ties(void **state)
{
    (void)state;
    /* specialist: skill fit 1/1; counter: 1/2; generalist (every skill): 0.5 */
    json_t *ag = agents_of("{\"generalist\": {}, \"counter\": {\"skills\": [\"text\", \"fs.read\"]},"
                           " \"specialist\": {\"skills\": [\"text.*\"]}, \"other\": {\"skills\": [\"fs\"]}}");
    plan *p = checked("steps:\n  - {id: a, instruction: x, needs: [text]}\n", ag);
    size_t n = 0;
    auction_bid *b = bids_of(p, ag, NULL, &n);
    assert_int_equal(n, 3); /* other lacks text: no bid */
    assert_string_equal(b[0].agent, "specialist");
    assert_true(fabs(b[0].match - 0.75) < 1e-9);
    assert_true(fabs(b[0].success_rate - 0.5) < 1e-9);
    assert_true(fabs(b[0].score - (0.4 * 0.75 + 0.4 * 0.5 + 0.2)) < 1e-9);
    /* counter and generalist tie at 0.6: the name that sorts first wins */
    assert_string_equal(b[1].agent, "counter");
    assert_string_equal(b[2].agent, "generalist");
    assert_true(fabs(b[1].score - 0.6) < 1e-9 && fabs(b[2].score - 0.6) < 1e-9);
    mem_free(b);
    plan_free(p);
    /* a declared kind beats no kinds; a step needing nothing fits every agent's skills */
    json_t *ag2 = agents_of("{\"a\": {}, \"w\": {\"kinds\": [\"write\", \"code\"]}}");
    p = checked("steps:\n  - {id: s, instruction: x, kind: write}\n", ag2);
    b = bids_of(p, ag2, NULL, &n);
    assert_int_equal(n, 2);
    assert_string_equal(b[0].agent, "w");
    assert_true(fabs(b[0].match - 1.0) < 1e-9);
    assert_true(fabs(b[1].match - 0.75) < 1e-9);
    mem_free(b);
    plan_free(p);
    json_decref(ag2);
    json_decref(ag);
}

static void test_cost(void **state)
{
    (void)state;
    route_model m[2] = {
        {.provider = "p", .model = "cheap", .id = "p/cheap", .in_per_mtok = 1, .out_per_mtok = 2, .quality = 0.5},
        {.provider = "q", .model = "dear", .id = "q/dear", .in_per_mtok = 10, .out_per_mtok = 20, .quality = 0.5},
    };
    route_catalog cat = {.m = m, .n = 2};
    json_t *ag = agents_of("{\"a_dear\": {\"model\": \"q/dear\"}, \"b_cheap\": {\"model\": \"cheap\"},"
                           " \"c_any\": {}}");
    /* 40 characters of instruction: 1000 + 10 tokens in, 500 out */
    plan *p = checked("steps:\n  - {id: s, instruction: \"0123456789012345678901234567890123456789\"}\n", ag);
    size_t n = 0;
    auction_bid *b = bids_of(p, ag, &cat, &n);
    assert_int_equal(n, 3);
    double cheap = (1010.0 * 1 + 500.0 * 2) / 1e6, dear = (1010.0 * 10 + 500.0 * 20) / 1e6;
    /* b_cheap and c_any (the cheapest of the catalog) tie; a_dear pays the whole cost term */
    assert_string_equal(b[0].agent, "b_cheap");
    assert_string_equal(b[1].agent, "c_any");
    assert_string_equal(b[2].agent, "a_dear");
    assert_true(fabs(b[0].cost - cheap) < 1e-12);
    assert_true(fabs(b[2].cost - dear) < 1e-12);
    assert_true(fabs(b[0].score - (0.4 * 0.75 + 0.4 * 0.5 + 0.2 * (1 - cheap / dear))) < 1e-9);
    assert_true(fabs(b[2].score - (0.4 * 0.75 + 0.4 * 0.5)) < 1e-9);
    mem_free(b);
    /* the same auction again: the same outcome (deterministic) */
    b = bids_of(p, ag, &cat, &n);
    assert_string_equal(b[0].agent, "b_cheap");
    mem_free(b);
    plan_free(p);
    json_decref(ag);
}

static void test_stats_move(void **state)
{
    (void)state;
    json_t *ag = agents_of("{\"alice\": {\"skills\": [\"text\"]}, \"bob\": {\"skills\": [\"text\"]}}");
    plan *p = checked("steps:\n  - {id: s, instruction: x, needs: text, kind: summarise}\n", ag);
    size_t n = 0;
    auction_bid *b = bids_of(p, ag, NULL, &n);
    assert_string_equal(b[0].agent, "alice"); /* a tie: by name */
    mem_free(b);
    char *err = NULL;
    /* alice fails once at summarising: bob wins the next auction */
    assert_int_equal(store_agent_outcome(st, "alice", "summarise", false, &err), 0);
    b = bids_of(p, ag, NULL, &n);
    assert_string_equal(b[0].agent, "bob");
    assert_true(fabs(b[1].success_rate - 1.0 / 3) < 1e-9);
    assert_true(fabs(b[1].alpha - 1) < 1e-9 && fabs(b[1].beta - 2) < 1e-9);
    mem_free(b);
    /* two successes bring her back ahead (3/4 > 1/2); another kind is untouched */
    assert_int_equal(store_agent_outcome(st, "alice", "summarise", true, &err), 0);
    assert_int_equal(store_agent_outcome(st, "alice", "summarise", true, &err), 0);
    b = bids_of(p, ag, NULL, &n);
    assert_string_equal(b[0].agent, "alice");
    assert_true(fabs(b[0].success_rate - 0.6) < 1e-9); /* alpha 3, beta 2 */
    mem_free(b);
    double a = 0, be = 0;
    assert_int_equal(store_agent_get(st, "alice", "code", &a, &be, &err), 0);
    assert_true(a == 1 && be == 1);
    assert_int_equal(store_agent_get(st, "alice", "summarise", &a, &be, &err), 0);
    assert_true(a == 3 && be == 2);
    plan_free(p);
    json_decref(ag);
}

static void test_route_allow(void **state)
{
    (void)state;
    route_model m[2] = {
        {.provider = "p", .model = "one", .id = "p/one", .quality = 0.5, .caps = ROUTE_CAP_TOOLS},
        {.provider = "q", .model = "two", .id = "q/two", .quality = 0.5, .caps = ROUTE_CAP_TOOLS},
    };
    route_catalog cat = {.m = m, .n = 2};
    assert_true(route_model_matches(&m[0], "p/one"));
    assert_true(route_model_matches(&m[0], "one"));
    assert_true(route_model_matches(&m[0], "p"));
    assert_false(route_model_matches(&m[0], "two"));
    bool allow[2] = {false, true};
    route_cand c[2];
    size_t order[2];
    for (uint64_t seed = 0; seed < 20; seed++) {
        route_need need = {.budget_left = -1, .cost_weight = -1, .latency_weight = -1, .allow = allow};
        route_decision d = {.c = c, .order = order};
        assert_int_equal(route_choose(&cat, NULL, &need, seed, &d), 0);
        assert_int_equal(d.choice, 1);
        assert_int_equal(d.n_order, 1);
        assert_int_equal(c[0].drop, ROUTE_DROP_AGENT);
        assert_string_equal(route_drop_name(c[0].drop), "agent_model");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_auto),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_covers),
        cmocka_unit_test_setup_teardown(test_no_eligible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scores_and_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_move, setup, teardown),
        cmocka_unit_test(test_route_allow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
