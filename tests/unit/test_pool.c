/*
 * test_pool.c — the warm pool: a zygote and pre-forked workers serve calls
 * with the same containment as cold workers, one call per worker unless
 * reuse is asked for; idle pools end their processes.
 */
#include "testsupport.h"
#include "util/common.h"

#include <signal.h>
#include <venom/venom.h>

#include "plugin/manifest.h"
#include "plugin/registry.h"
#include "sandbox/policy.h"
#include "sandbox/sandbox.h"

typedef struct fx {
    manifest *m;
    sandbox_policy *p;
    char *mpath;
    char *work;
} fx;

static void load(fx *f, const char *fixture, uint32_t time_ms)
{
    char *dir = ts_fixture(fixture), *err = NULL;
    assert_true(asprintf(&f->mpath, "%s/venom.json", dir) > 0);
    free(dir);
    if (manifest_load(f->mpath, &f->m, &err) < 0)
        fail_msg("%s", err);
    f->work = ts_mkdtemp();
    if (sandbox_policy_new(f->m, f->work, &f->p, &err) < 0)
        fail_msg("%s", err);
    if (time_ms)
        f->p->time_ms = time_ms;
    char real[4096];
    assert_non_null(realpath(f->mpath, real));
    free(f->mpath);
    f->mpath = strdup(real);
}

static void unload(fx *f)
{
    sandbox_policy_free(f->p);
    manifest_free(f->m);
    ts_rmtree(f->work);
    free(f->work);
    free(f->mpath);
}

static void call_ok(sbx_pool *pl, int n)
{
    json_t *args = json_pack("{s:i}", "n", n);
    sandbox_result res;
    char *err = NULL;
    int rc = sbx_pool_call(pl, "good.echo", args, NULL, &res, &err);
    if (rc < 0)
        fail_msg("%s", err);
    if (res.code != 0)
        fail_msg("call failed: %s", res.error);
    assert_int_equal(json_integer_value(json_object_get(res.value, "n")), n);
    sandbox_result_release(&res);
    json_decref(args);
}

static void test_pool_serves_many_calls(void **state)
{
    (void)state;
    fx f = {0};
    load(&f, "good", 0);
    sbx_pool *pl = NULL;
    char *err = NULL;
    if (sbx_pool_new(f.p, f.mpath, &(sbx_pool_opts){.warm = 2}, &pl, &err) < 0)
        fail_msg("%s", err);
    for (int i = 1; i <= 40; i++)
        call_ok(pl, (i % 10) + 1);
    /* argument errors come back as results, the pool goes on */
    json_t *bad = json_pack("{s:i}", "n", 0);
    sandbox_result res;
    assert_int_equal(sbx_pool_call(pl, "good.echo", bad, NULL, &res, &err), 0);
    if (res.code != VENOM_E_INVAL)
        fail_msg("code %d: %s", res.code, res.error);
    assert_non_null(strstr(res.error, "argument 'n'"));
    sandbox_result_release(&res);
    json_decref(bad);
    call_ok(pl, 3);
    sbx_pool_free(pl);
    unload(&f);
}

static void test_pool_contains_crash_and_timeout(void **state)
{
    (void)state;
    fx f = {0};
    load(&f, "hostile", 800);
    sbx_pool *pl = NULL;
    char *err = NULL;
    if (sbx_pool_new(f.p, f.mpath, &(sbx_pool_opts){.warm = 1}, &pl, &err) < 0)
        fail_msg("%s", err);
    json_t *args = json_object();
    sandbox_result res;
    assert_int_equal(sbx_pool_call(pl, "hostile.spin", args, NULL, &res, &err), 0);
    assert_int_equal(res.code, VENOM_E_TIMEOUT);
    assert_non_null(strstr(res.error, "timed out after 800 ms"));
    sandbox_result_release(&res);
    assert_int_equal(sbx_pool_call(pl, "hostile.exit", args, NULL, &res, &err), 0);
    assert_int_equal(res.code, VENOM_E_FAILED);
    assert_non_null(strstr(res.error, "without a result"));
    sandbox_result_release(&res);
    assert_int_equal(sbx_pool_call(pl, "hostile.garbage", args, NULL, &res, &err), 0);
    assert_non_null(strstr(res.error, "bad frame"));
    sandbox_result_release(&res);
    /* and the pool still serves */
    assert_int_equal(sbx_pool_call(pl, "hostile.echo", args, NULL, &res, &err), 0);
    assert_int_equal(res.code, 0);
    sandbox_result_release(&res);
    json_decref(args);
    sbx_pool_free(pl);
    unload(&f);
}

static void test_pool_leaves_nothing(void **state)
{
    (void)state;
    fx f = {0};
    load(&f, "good", 0);
    sbx_pool *pl = NULL;
    char *err = NULL;
    if (sbx_pool_new(f.p, f.mpath, &(sbx_pool_opts){.warm = 4}, &pl, &err) < 0)
        fail_msg("%s", err);
    call_ok(pl, 1);
    sbx_pool_free(pl);
    /* every venom-worker of ours is gone */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "pgrep -P %d -x venom-worker >/dev/null", (int)getpid());
    assert_int_not_equal(system(cmd), 0);
    unload(&f);
}

/* The value of hostile.count: how many calls this worker has served. */
static int count_call(sbx_pool *pl, const char *skill)
{
    json_t *args = json_object();
    sandbox_result res;
    char *err = NULL;
    if (sbx_pool_call(pl, skill, args, NULL, &res, &err) < 0)
        fail_msg("%s", err);
    json_decref(args);
    if (res.code != 0)
        return -res.code;
    int n = (int)json_integer_value(json_object_get(res.value, "count"));
    sandbox_result_release(&res);
    return n;
}

static void test_pool_no_state_between_calls(void **state)
{
    (void)state;
    fx f = {0};
    load(&f, "hostile", 0);
    sbx_pool *pl = NULL;
    char *err = NULL;
    if (sbx_pool_new(f.p, f.mpath, &(sbx_pool_opts){.warm = 2}, &pl, &err) < 0)
        fail_msg("%s", err);
    for (int i = 0; i < 5; i++)
        assert_int_equal(count_call(pl, "hostile.count"), 1); /* a fresh worker each time */
    sbx_pool_free(pl);
    unload(&f);
}

static void test_pool_reuse_keeps_the_worker(void **state)
{
    (void)state;
    fx f = {0};
    load(&f, "hostile", 800);
    sbx_pool *pl = NULL;
    char *err = NULL;
    if (sbx_pool_new(f.p, f.mpath, &(sbx_pool_opts){.warm = 1, .reuse = true}, &pl, &err) < 0)
        fail_msg("%s", err);
    for (int i = 1; i <= 5; i++)
        assert_int_equal(count_call(pl, "hostile.count"), i); /* one worker, its state kept */
    /* a worker that was killed (deadline) is not reused: the next one starts at 1 */
    json_t *args = json_object();
    sandbox_result res;
    assert_int_equal(sbx_pool_call(pl, "hostile.spin", args, NULL, &res, &err), 0);
    assert_int_equal(res.code, VENOM_E_TIMEOUT);
    sandbox_result_release(&res);
    /* nor one that died */
    assert_int_equal(sbx_pool_call(pl, "hostile.exit", args, NULL, &res, &err), 0);
    assert_non_null(strstr(res.error, "without a result"));
    sandbox_result_release(&res);
    json_decref(args);
    int first = count_call(pl, "hostile.count");
    assert_true(first >= 1);
    assert_int_equal(count_call(pl, "hostile.count"), first + 1);
    sbx_pool_free(pl);
    unload(&f);
}

static int workers_of_mine(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "pgrep -P %d -x venom-worker | wc -l", (int)getpid());
    FILE *p = popen(cmd, "r");
    int n = -1;
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static void test_pool_idle_ends_processes(void **state)
{
    (void)state;
    fx f = {0};
    load(&f, "good", 0);
    sbx_pool *pl = NULL;
    char *err = NULL;
    if (sbx_pool_new(f.p, f.mpath, &(sbx_pool_opts){.warm = 2, .idle_ms = 300}, &pl, &err) < 0)
        fail_msg("%s", err);
    call_ok(pl, 1);
    size_t z = 0, r = 0;
    sbx_pool_stats(pl, &z, &r);
    assert_int_equal(z, 1);
    assert_int_equal(workers_of_mine(), 1); /* the zygote (its workers are its children) */
    /* idle: the ready workers and the zygote end */
    for (int i = 0; i < 100 && (z || r); i++) {
        usleep(20000);
        sbx_pool_stats(pl, &z, &r);
    }
    assert_int_equal(z, 0);
    assert_int_equal(r, 0);
    assert_int_equal(workers_of_mine(), 0);
    /* the next call starts them again */
    call_ok(pl, 2);
    sbx_pool_stats(pl, &z, &r);
    assert_int_equal(z, 1);
    call_ok(pl, 3);
    sbx_pool_free(pl);
    assert_int_equal(workers_of_mine(), 0);
    unload(&f);
}

/* The registry runs an untrusted pack's calls through its pool. */
static int reg_count(registry *r, const char *work)
{
    const reg_skill *s = registry_find(r, "hostile.count");
    assert_non_null(s);
    assert_true(reg_skill_sandboxed(r, s));
    json_t *args = json_object();
    registry_result res = {0};
    registry_call_opts co = {.workdir = work};
    char *err = NULL;
    if (registry_call(r, s, args, &co, &res, &err) < 0)
        fail_msg("%s", err);
    json_decref(args);
    int n = (int)json_integer_value(json_object_get(res.value, "count"));
    json_decref(res.value);
    return n;
}

static void test_registry_uses_the_pool(void **state)
{
    (void)state;
    char *dir = ts_fixture("hostile");
    char *work = ts_mkdtemp();
    const char *dirs[] = {dir};
    const char *reuse[] = {"hostile"};
    for (int pass = 0; pass < 2; pass++) {
        registry_opts o = {.dirs = dirs, .n_dirs = 1, .dirs_are_packs = true, .pool_warm = 1};
        if (pass == 1) {
            o.reuse = reuse;
            o.n_reuse = 1;
        }
        registry *r = NULL;
        char *err = NULL;
        if (registry_new(&o, &r, &err) < 0)
            fail_msg("%s", err);
        for (int i = 1; i <= 4; i++)
            assert_int_equal(reg_count(r, work), pass == 0 ? 1 : i);
        assert_int_equal(workers_of_mine(), 1); /* one zygote, kept between calls */
        registry_free(r);
        assert_int_equal(workers_of_mine(), 0);
    }
    ts_rmtree(work);
    free(work);
    free(dir);
}

int main(void)
{
    mem_install();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_serves_many_calls),
        cmocka_unit_test(test_pool_contains_crash_and_timeout),
        cmocka_unit_test(test_pool_leaves_nothing),
        cmocka_unit_test(test_pool_no_state_between_calls),
        cmocka_unit_test(test_pool_reuse_keeps_the_worker),
        cmocka_unit_test(test_pool_idle_ends_processes),
        cmocka_unit_test(test_registry_uses_the_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
