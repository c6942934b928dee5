/*
 * test_route.c — routing: the catalog from config (prices, defaults, errors
 * with file:line), route_choose (deterministic per seed, constraints, the
 * Pareto frontier, posteriors steering the draw), the router's budgets and
 * the posteriors and feedback in the store.
 */
#include "testsupport.h"
#include "util/common.h"

#include <math.h>
#include <unistd.h>

#include "config/config.h"
#include "route/route.h"
#include "store/store.h"

static char *home;

static int setup(void **state)
{
    (void)state;
    home = ts_mkdtemp();
    setenv("VENOM_HOME", home, 1);
    unsetenv("VENOM_PROVIDER");
    unsetenv("VENOM_MODEL");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(home);
    free(home);
    return 0;
}

static config *load(const char *yaml)
{
    free(ts_write(home, "config.yaml", yaml));
    config *c = NULL;
    char *err = NULL;
    if (config_load(&c, &err) < 0)
        fail_msg("config_load: %s", err);
    return c;
}

static char *load_err(const char *yaml)
{
    free(ts_write(home, "config.yaml", yaml));
    config *c = NULL;
    char *err = NULL;
    assert_true(config_load(&c, &err) < 0);
    assert_null(c);
    assert_non_null(err);
    return err;
}

static const char two_models[] =
    "providers:\n"
    "  a: {plugin: openai, models: {cheap: {input_per_mtok: 1, output_per_mtok: 2}}}\n"
    "  b: {plugin: openai}\n"
    "models:\n"
    "  - {provider: a, model: cheap, quality: 0.6, latency_ms: 900, capabilities: [tools, json], context: 8000}\n"
    "  - {provider: b, model: smart, input_per_mtok: 10, output_per_mtok: 30, quality: 0.9, latency_ms: 300,\n"
    "     locality: cloud}\n"
    "  - {provider: b, model: tiny, input_per_mtok: 0.1, output_per_mtok: 0.1, quality: 0.3, locality: local,\n"
    "     capabilities: [json]}\n";

static void test_catalog(void **state)
{
    (void)state;
    config *c = load(two_models);
    route_catalog *cat = NULL;
    char *err = NULL;
    assert_int_equal(route_catalog_new(c, &cat, &err), 0);
    assert_int_equal(cat->n, 3);
    const route_model *m = &cat->m[0];
    assert_string_equal(m->id, "a/cheap");
    /* the provider entry's price is used when the catalog has none */
    assert_true(m->in_per_mtok == 1 && m->out_per_mtok == 2 && m->price);
    assert_true(fabs(route_estimate(m, 1000000, 1000000) - 3) < 1e-12);
    json_t *u = json_pack("{s:i, s:i}", "input_tokens", 1000, "output_tokens", 500);
    bool priced = false;
    assert_true(fabs(route_cost(&cat->m[1], u, &priced) - (1000 * 10 + 500 * 30) / 1e6) < 1e-12);
    assert_true(priced);
    json_decref(u);
    assert_int_equal(m->caps, ROUTE_CAP_TOOLS | ROUTE_CAP_JSON);
    assert_int_equal(m->context, 8000);
    assert_false(m->local);
    /* no capabilities list: all of them; no latency: the mean of the others */
    assert_true(cat->m[1].caps & ROUTE_CAP_VISION);
    assert_true(cat->m[2].local);
    assert_true(fabs(cat->m[2].latency_ms - 600) < 1e-9);
    assert_int_equal(route_catalog_find(cat, "b/smart"), 1);
    assert_int_equal(route_catalog_find(cat, "tiny"), 2);
    assert_int_equal(route_catalog_find(cat, "nope"), ROUTE_NONE);
    route_catalog_free(cat);
    config_free(c);

    /* budget and privacy */
    c = load("budget: {run: 0.5, day: 2, agents: {writer: 0.25}}\nprivacy: local-only\n");
    assert_true(c->max_cost == 0.5 && c->budget_day == 2 && c->local_only);
    assert_true(json_number_value(json_object_get(c->budget_agents, "writer")) == 0.25);
    config_free(c);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"models:\n  - {provider: a, model: m, qualty: 1}\n", "config.yaml:2: unknown key 'models.0.qualty'"},
        {"models:\n  - {provider: a, model: m}\n  - {provider: a, model: m, capabilities: [tools, telepathy]}\n",
         "config.yaml:3: 'models[1].capabilities[1]' must be one of tools, json, vision, embeddings"},
        {"models:\n  - {model: m}\n", "config.yaml:2: 'models[0]' must be a mapping with both 'provider'"},
        {"models:\n  - {provider: a, model: m}\n  - {provider: a, model: m}\n",
         "config.yaml:3: 'models[1]' must be a model not listed before (models[0] is the same a/m)"},
        {"models:\n  - {provider: a, model: m, quality: 1.5}\n", "'models[0].quality' must be a number from 0 to 1"},
        {"models:\n  - {provider: a, model: m, locality: moon}\n", "'models[0].locality' must be local or cloud"},
        {"models:\n  - {provider: a, model: m, context: 0}\n", "'models[0].context' must be the context window"},
        {"models: {a: 1}\n", "config.yaml:1: 'models' must be a list"},
        {"budget:\n  day: -1\n", "config.yaml:2: 'budget.day' must be an amount >= 0"},
        {"budget:\n  agents: {w: lots}\n", "config.yaml:2: 'budget.agents.w' must be an amount per day"},
        {"budget:\n  week: 3\n", "unknown key 'budget.week'"},
        {"privacy: secret\n", "config.yaml:1: 'privacy' must be local-only or any"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *e = load_err(cases[i].yaml);
        if (!strstr(e, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, e, cases[i].want);
        mem_free(e);
    }
}

/* A catalog built by hand (no config), for route_choose. */
static route_model mk(const char *id, double in, double q, double lat, unsigned caps, bool local)
{
    return (route_model){.id = (char *)id, .provider = (char *)"p", .model = (char *)id, .in_per_mtok = in,
                         .out_per_mtok = in, .quality = q, .latency_ms = lat, .caps = caps, .local = local};
}

#define ALL (ROUTE_CAP_TOOLS | ROUTE_CAP_JSON | ROUTE_CAP_VISION | ROUTE_CAP_EMBEDDINGS)

static size_t choose(const route_catalog *cat, const route_posterior *post, const route_need *need, uint64_t seed,
                     route_cand *c, size_t *order, size_t *n_order)
{
    route_decision d = {.c = c, .order = order};
    assert_int_equal(route_choose(cat, post, need, seed, &d), 0);
    if (n_order)
        *n_order = d.n_order;
    return d.choice;
}

static void test_choose_deterministic(void **state)
{
    (void)state;
    /* a trade-off: both on the frontier (cheap+slow+worse vs dear+fast+better) */
    route_model ms[] = {mk("cheap", 1, 0.6, 900, ALL, false), mk("smart", 10, 0.7, 300, ALL, false)};
    route_catalog cat = {.m = ms, .n = 2};
    route_need need = {.input_tokens = 1000, .budget_left = -1, .cost_weight = -1, .latency_weight = -1};
    route_cand c1[2], c2[2];
    size_t o1[2], o2[2];
    int picks[2] = {0, 0};
    for (uint64_t seed = 0; seed < 200; seed++) {
        size_t a = choose(&cat, NULL, &need, seed, c1, o1, NULL);
        size_t b = choose(&cat, NULL, &need, seed, c2, o2, NULL);
        assert_int_equal(a, b); /* same seed, same choice and draws */
        assert_true(c1[0].draw == c2[0].draw && c1[1].draw == c2[1].draw);
        assert_true(c1[0].frontier && c1[1].frontier);
        assert_true(c1[0].draw > 0 && c1[0].draw < 1);
        picks[a]++;
    }
    /* the draw matters: each is picked for some seeds */
    assert_true(picks[0] > 10 && picks[1] > 10);
    /* the Beta draw is a Beta: the mean of Beta(3, 1) is 0.75 */
    double sum = 0;
    for (uint64_t s = 0; s < 4000; s++)
        sum += route_beta_draw(s, 3, 1);
    assert_true(fabs(sum / 4000 - 0.75) < 0.02);
    sum = 0;
    for (uint64_t s = 0; s < 4000; s++)
        sum += route_beta_draw(s, 0.5, 0.5); /* shapes below 1 */
    assert_true(fabs(sum / 4000 - 0.5) < 0.03);
}

static void test_choose_constraints(void **state)
{
    (void)state;
    route_model ms[] = {
        mk("notools", 1, 0.9, 100, ROUTE_CAP_JSON, true),
        mk("small", 1, 0.9, 100, ALL, true),
        mk("cloud", 1, 0.9, 100, ALL, false),
        mk("dear", 1000, 0.99, 50, ALL, true),
        mk("ok", 2, 0.5, 500, ALL, true),
    };
    ms[1].context = 500;
    route_catalog cat = {.m = ms, .n = ARRAY_SIZE(ms)};
    bool excl[ARRAY_SIZE(ms)] = {0};
    route_need need = {.caps = ROUTE_CAP_TOOLS,
                       .input_tokens = 1000,
                       .local_only = true,
                       .budget_left = 0.01, /* dear costs 1000 * 1000 / 1e6 = 1 */
                       .exclude = excl,
                       .cost_weight = -1,
                       .latency_weight = -1};
    route_cand c[ARRAY_SIZE(ms)];
    size_t order[ARRAY_SIZE(ms)], n_order;
    size_t ch = choose(&cat, NULL, &need, 1, c, order, &n_order);
    assert_int_equal(c[0].drop, ROUTE_DROP_CAPS);
    assert_int_equal(c[1].drop, ROUTE_DROP_CONTEXT);
    assert_int_equal(c[2].drop, ROUTE_DROP_PRIVACY);
    assert_int_equal(c[3].drop, ROUTE_DROP_BUDGET);
    assert_int_equal(c[4].drop, ROUTE_KEPT);
    assert_string_equal(route_drop_name(c[3].drop), "budget");
    assert_int_equal(ch, 4);
    assert_int_equal(n_order, 1);
    /* excluded (failed this step): nothing left */
    excl[4] = true;
    assert_int_equal(choose(&cat, NULL, &need, 1, c, order, &n_order), ROUTE_NONE);
    assert_int_equal(c[4].drop, ROUTE_DROP_FAILED);
    assert_int_equal(n_order, 0);
    /* budget refusal: the only fitting model costs more than what is left */
    excl[4] = false;
    need.budget_left = 0.000001;
    assert_int_equal(choose(&cat, NULL, &need, 1, c, order, &n_order), ROUTE_NONE);
    assert_int_equal(c[4].drop, ROUTE_DROP_BUDGET);
    /* no limit, no constraints: everything fits */
    need = (route_need){.budget_left = -1, .cost_weight = -1, .latency_weight = -1};
    choose(&cat, NULL, &need, 1, c, order, &n_order);
    assert_int_equal(n_order, ARRAY_SIZE(ms));
}

static void test_choose_pareto(void **state)
{
    (void)state;
    route_model ms[] = {
        mk("best", 1, 0.9, 100, ALL, false),   /* dominates the next two */
        mk("worse", 2, 0.8, 200, ALL, false),
        mk("equal-but-slower", 1, 0.9, 150, ALL, false),
        mk("premium", 5, 0.95, 100, ALL, false), /* dearer but better: on the frontier */
        mk("twin", 1, 0.9, 100, ALL, false),   /* same as best: neither dominates */
    };
    route_catalog cat = {.m = ms, .n = ARRAY_SIZE(ms)};
    route_need need = {.input_tokens = 1000, .budget_left = -1, .cost_weight = -1, .latency_weight = -1};
    route_cand c[ARRAY_SIZE(ms)];
    size_t order[ARRAY_SIZE(ms)], n_order;
    for (uint64_t seed = 0; seed < 50; seed++) {
        size_t ch = choose(&cat, NULL, &need, seed, c, order, &n_order);
        assert_true(c[0].frontier && c[3].frontier && c[4].frontier);
        assert_false(c[1].frontier || c[2].frontier);
        assert_true(c[1].dominated_by != ROUTE_NONE && c[2].dominated_by != ROUTE_NONE);
        assert_true(ch == 0 || ch == 3 || ch == 4); /* never a dominated model */
        assert_int_equal(n_order, 5);
        /* the frontier first, by score; the dominated after, as fallbacks */
        for (size_t k = 0; k < 3; k++)
            assert_true(c[order[k]].frontier);
        for (size_t k = 1; k < 3; k++)
            assert_true(c[order[k - 1]].score >= c[order[k]].score);
        assert_false(c[order[3]].frontier || c[order[4]].frontier);
    }
}

static void test_posteriors_steer(void **state)
{
    (void)state;
    route_model ms[] = {mk("x", 1, 0.5, 100, ALL, false), mk("y", 1, 0.5, 100, ALL, false)};
    route_catalog cat = {.m = ms, .n = 2};
    route_need need = {.input_tokens = 10, .budget_left = -1, .cost_weight = -1, .latency_weight = -1};
    route_cand c[2];
    size_t order[2];
    /* equal evidence: about half each; x with 20 successes and y with 20 failures: x nearly always */
    route_posterior even[2] = {{1, 1}, {1, 1}}, skew[2] = {{21, 1}, {1, 21}};
    int x_even = 0, x_skew = 0;
    for (uint64_t seed = 0; seed < 400; seed++) {
        x_even += choose(&cat, even, &need, seed, c, order, NULL) == 0;
        x_skew += choose(&cat, skew, &need, seed, c, order, NULL) == 0;
    }
    assert_true(x_even > 120 && x_even < 280);
    assert_true(x_skew > 390);
    /* the quality prior enters as pseudo-observations */
    choose(&cat, even, &need, 1, c, order, NULL);
    assert_true(c[0].alpha == 1 + ROUTE_PRIOR_WEIGHT * 0.5 && c[0].beta == 1 + ROUTE_PRIOR_WEIGHT * 0.5);
    /* bad arguments */
    route_decision d = {0};
    assert_int_equal(route_choose(&cat, NULL, &need, 1, &d), -EINVAL);
}

static store *open_store(void)
{
    char *path = mem_printf("%s/venom.db", home), *err = NULL;
    store *s = NULL;
    if (store_open(path, &s, &err) < 0)
        fail_msg("store_open: %s", err);
    mem_free(path);
    return s;
}

static void test_store_outcomes_and_feedback(void **state)
{
    (void)state;
    store *s = open_store();
    char *err = NULL;
    const char *ids[] = {"a/m", "b/m"};
    double al[2], be[2];
    assert_int_equal(store_route_get(s, "agent", ids, 2, al, be, &err), 0);
    assert_true(al[0] == 1 && be[0] == 1 && al[1] == 1 && be[1] == 1); /* never seen */
    store_route_out o = {.model = "a/m", .kind = "agent", .success = 1, .turns = 2, .latency_ms = 30, .cost = 0.5};
    assert_int_equal(store_route_outcome(s, &o, &err), 0);
    assert_int_equal(store_route_outcome(s, &o, &err), 0);
    o = (store_route_out){.model = "b/m", .kind = "agent", .success = 0, .turns = 1, .latency_ms = 10, .retries = 1};
    assert_int_equal(store_route_outcome(s, &o, &err), 0);
    o.success = -1; /* a limit: counted nowhere in the posterior */
    o.model = "a/m";
    assert_int_equal(store_route_outcome(s, &o, &err), 0);
    assert_int_equal(store_route_get(s, "agent", ids, 2, al, be, &err), 0);
    assert_true(al[0] == 3 && be[0] == 1); /* success moves alpha up */
    assert_true(al[1] == 1 && be[1] == 2); /* failure moves beta up */
    /* another kind is another posterior */
    assert_int_equal(store_route_get(s, "summarise", ids, 1, al, be, &err), 0);
    assert_true(al[0] == 1 && be[0] == 1);

    store_route_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_route_stats(s, &rows, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].model, "a/m");
    assert_int_equal(rows[0].calls, 2);
    assert_int_equal(rows[0].successes, 2);
    assert_int_equal(rows[0].turns, 5);
    assert_true(fabs(rows[0].cost - 1.0) < 1e-12 && fabs(rows[0].latency_ms - 70) < 1e-9);
    assert_int_equal(rows[1].failures, 1);
    assert_int_equal(rows[1].retries, 1);
    for (size_t i = 0; i < n; i++)
        store_route_row_clear(&rows[i]);
    mem_free(rows);

    /* feedback: good up, the same again refused, bad takes good back */
    const char *kinds[] = {"agent"};
    assert_int_equal(store_route_feedback(s, "r0000000000000001", true, ids, kinds, 1, &err), 0);
    assert_int_equal(store_route_get(s, "agent", ids, 1, al, be, &err), 0);
    assert_true(al[0] == 4 && be[0] == 1);
    assert_int_equal(store_route_feedback(s, "r0000000000000001", true, ids, kinds, 1, &err), -EALREADY);
    mem_free(err);
    err = NULL;
    assert_int_equal(store_route_feedback(s, "r0000000000000001", false, ids, kinds, 1, &err), 0);
    assert_int_equal(store_route_get(s, "agent", ids, 1, al, be, &err), 0);
    assert_true(al[0] == 3 && be[0] == 2);
    store_close(s);
}

static void test_budgets(void **state)
{
    (void)state;
    config *c = load("budget: {day: 1.0, agents: {writer: 0.3}}\n");
    store *s = open_store();
    router *rt = NULL;
    char *err = NULL;
    router_opts ro = {.seed = 5, .seeded = true};
    assert_int_equal(router_new(c, s, &ro, &rt, &err), 0);
    assert_false(router_routes(rt)); /* budgets only: no catalog */
    json_t *ev = NULL;
    assert_int_equal(router_budget_check(rt, "writer", 0.2, &ev, &err), 0);
    assert_int_equal(router_spend(rt, "writer", 0.2, &err), 0);
    /* 0.2 spent, 0.2 more would pass the agent's 0.3 */
    assert_int_equal(router_budget_check(rt, "writer", 0.2, &ev, &err), 1);
    assert_string_equal(json_string_value(json_object_get(ev, "budget")), "agent");
    assert_string_equal(json_string_value(json_object_get(ev, "agent")), "writer");
    assert_true(fabs(json_real_value(json_object_get(ev, "spent")) - 0.2) < 1e-12);
    assert_true(json_real_value(json_object_get(ev, "limit")) == 0.3);
    assert_true(json_real_value(json_object_get(ev, "estimate")) == 0.2);
    assert_non_null(json_object_get(ev, "day"));
    json_decref(ev);
    /* another agent: only the day's budget applies (0.2 spent of 1.0) */
    assert_int_equal(router_budget_check(rt, "reader", 0.7, &ev, &err), 0);
    assert_int_equal(router_budget_check(rt, "reader", 0.9, &ev, &err), 1);
    assert_string_equal(json_string_value(json_object_get(ev, "budget")), "day");
    json_decref(ev);
    double left, spent, limit;
    const char *which;
    assert_int_equal(router_budget_left(rt, "writer", &left, &which, &spent, &limit, &err), 0);
    assert_string_equal(which, "agent");
    assert_true(fabs(left - 0.1) < 1e-12);
    assert_int_equal(router_budget_left(rt, "reader", &left, &which, &spent, &limit, &err), 0);
    assert_string_equal(which, "day");
    assert_true(fabs(left - 0.8) < 1e-12);
    router_free(rt);
    store_close(s);
    config_free(c);
}

static void test_router_decide(void **state)
{
    (void)state;
    config *c = load(two_models);
    store *s = open_store();
    router *rt = NULL;
    char *err = NULL;
    router_opts ro = {.seed = 42, .seeded = true};
    assert_int_equal(router_new(c, s, &ro, &rt, &err), 0);
    assert_true(router_routes(rt));
    route_need need = {.caps = ROUTE_CAP_TOOLS, .input_tokens = 100, .budget_left = -1, .cost_weight = -1,
                       .latency_weight = -1};
    route_step st;
    json_t *ev = NULL;
    assert_int_equal(router_decide(rt, "agent", &need, &st, &ev, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(ev, "seed")), 42);
    assert_int_equal(json_array_size(json_object_get(ev, "candidates")), 3);
    /* tiny lacks tools: dropped, with the reason */
    json_t *tiny = json_array_get(json_object_get(ev, "candidates"), 2);
    assert_string_equal(json_string_value(json_object_get(tiny, "dropped")), "capabilities");
    const char *choice = json_string_value(json_object_get(ev, "choice"));
    assert_non_null(choice);
    assert_string_equal(choice, router_catalog(rt)->m[st.model].id);
    json_decref(ev);
    /* fallback: the other one, then none */
    size_t first = st.model;
    size_t next = router_fallback(rt, &st, "HTTP 500", &ev);
    assert_true(next != ROUTE_NONE && next != first);
    assert_string_equal(json_string_value(json_object_get(ev, "why")), "HTTP 500");
    assert_string_equal(json_string_value(json_object_get(ev, "from")), router_catalog(rt)->m[first].id);
    json_decref(ev);
    assert_int_equal(router_fallback(rt, &st, "again", &ev), ROUTE_NONE);
    assert_true(json_is_null(json_object_get(ev, "to")));
    json_decref(ev);
    route_step_release(&st);
    /* the next decision has the next seed */
    assert_int_equal(router_decide(rt, "agent", &need, &st, &ev, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(ev, "seed")), 43);
    json_decref(ev);
    route_step_release(&st);
    /* out of memory anywhere: an error, no leak (the leak checker runs in the ASan build) */
    for (long k = 0; k < 200; k++) {
        mem_fail_after(k);
        int rc = router_decide(rt, "agent", &need, &st, &ev, &err);
        mem_fail_after(-1);
        mem_free(err);
        err = NULL;
        if (rc == 0) {
            json_decref(ev);
            route_step_release(&st);
            break;
        }
        assert_int_equal(rc, -ENOMEM);
    }
    router_free(rt);
    store_close(s);
    config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test(test_choose_deterministic),
        cmocka_unit_test(test_choose_constraints),
        cmocka_unit_test(test_choose_pareto),
        cmocka_unit_test(test_posteriors_steer),
        cmocka_unit_test_setup_teardown(test_store_outcomes_and_feedback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budgets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_decide, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
