/*
 * test_pool.c — the warm pool: a zygote and pre-forked workers serve calls
 * with the same containment as cold workers, one call per worker.
 */
#include "testsupport.h"
#include "util/common.h"

#include <signal.h>
#include <venom/venom.h>

#include "plugin/manifest.h"
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
    if (sbx_pool_new(f.p, f.mpath, 2, &pl, &err) < 0)
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
    if (sbx_pool_new(f.p, f.mpath, 1, &pl, &err) < 0)
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
    if (sbx_pool_new(f.p, f.mpath, 4, &pl, &err) < 0)
        fail_msg("%s", err);
    call_ok(pl, 1);
    sbx_pool_free(pl);
    /* every venom-worker of ours is gone */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "pgrep -P %d -x venom-worker >/dev/null", (int)getpid());
    assert_int_not_equal(system(cmd), 0);
    unload(&f);
}

int main(void)
{
    mem_install();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_serves_many_calls),
        cmocka_unit_test(test_pool_contains_crash_and_timeout),
        cmocka_unit_test(test_pool_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
