/*
 * test_sandbox_probe.c — sandbox_probe loads a pack's plugin in a sandboxed
 * worker without calling a skill and reports what it registered; a
 * manifest ⇄ .so disagreement or a plugin that crashes in init is -ELIBBAD
 * with a message naming the skill; typed skills' symbols are checked; a
 * lib/${triplet}/ pack loads.
 */
#include "testsupport.h"
#include "util/common.h"

#include <venom/venom.h>

#include "plugin/manifest.h"
#include "sandbox/policy.h"
#include "sandbox/sandbox.h"

/* Probe the pack in dir; returns the rc, *reg and *err as sandbox_probe. */
static int probe_dir(const char *dir, json_t **reg, char **err)
{
    char *mpath = NULL, *merr = NULL, *work = ts_mkdtemp();
    manifest *m = NULL;
    sandbox_policy *p = NULL;
    if (manifest_find(dir, &mpath, &merr) < 0 || manifest_load(mpath, &m, &merr) < 0)
        fail_msg("%s", merr);
    if (sandbox_policy_new(m, work, &p, &merr) < 0)
        fail_msg("%s", merr);
    /* the manifest as the worker sees it: inside the resolved pack dir */
    char *wpath = mem_printf("%s/venom.json", p->pack_dir);
    int rc = sandbox_probe(p, wpath, reg, err);
    mem_free(wpath);
    sandbox_policy_free(p);
    manifest_free(m);
    mem_free(mpath);
    ts_rmtree(work);
    free(work);
    return rc;
}

static bool has(const json_t *a, const char *s)
{
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!strcmp(json_string_value(json_array_get(a, i)), s))
            return true;
    return false;
}

static void test_registered_list(void **state)
{
    (void)state;
    char *dir = ts_fixture("good"), *err = NULL;
    json_t *reg = NULL;
    if (probe_dir(dir, &reg, &err) < 0)
        fail_msg("%s", err);
    json_t *skills = json_object_get(reg, "skills");
    assert_true(has(skills, "echo") && has(skills, "fail") && has(skills, "host") && has(skills, "bad_result"));
    assert_int_equal(json_array_size(json_object_get(reg, "providers")), 0);
    assert_int_equal(json_array_size(json_object_get(reg, "typed")), 0);
    json_decref(reg);
    free(dir);
}

static void expect_bad(const char *fixture, const char *n1, const char *n2)
{
    char *dir = ts_fixture(fixture), *err = NULL;
    json_t *reg = NULL;
    assert_int_equal(probe_dir(dir, &reg, &err), -ELIBBAD);
    assert_null(reg);
    if (!err || !strstr(err, n1) || (n2 && !strstr(err, n2)))
        fail_msg("%s: message lacks '%s' / '%s': %s", fixture, n1, n2 ? n2 : "", err ? err : "(none)");
    mem_free(err);
    free(dir);
}

static void test_unregistered_declared_skill(void **state)
{
    (void)state;
    expect_bad("missing_skill", "declares skill 'ghost' but the plugin did not register it", NULL);
}

static void test_undeclared_registered_skill(void **state)
{
    (void)state;
    expect_bad("extra_skill", "registered skill", "does not declare");
}

static void test_crash_in_init(void **state)
{
    (void)state;
    /* the crash happens in the worker; the caller gets an error, not a signal */
    expect_bad("crash_init", "crash_init/venom.json: the plugin did not load in the sandbox: ", NULL);
}

static void test_typed_and_triplet(void **state)
{
    (void)state;
    /* a copy of the temperature pack (typed functions in its own .so) laid
     * out per architecture: lib/<triplet>/temperature.so */
    const char *out = getenv("VENOM_OUT");
    assert_non_null(out);
    char *src = mem_printf("%s/lib/venom/skills/temperature", out), *dir = ts_mkdtemp(), *err = NULL;
    char *so = mem_printf("%s/temperature.so", src), *mj = mem_printf("%s/venom.json", src);
    char *man = ts_read(mj);
    assert_non_null(man);
    /* copy the .so byte for byte */
    char *rel = mem_printf("lib/%s/temperature.so", manifest_host_triplet());
    char *dst = mem_printf("%s/%s", dir, rel);
    free(ts_write(dir, rel, ""));
    FILE *in = fopen(so, "rb"), *o = fopen(dst, "wb");
    assert_non_null(in);
    assert_non_null(o);
    char b[65536];
    size_t n;
    while ((n = fread(b, 1, sizeof b, in)) > 0)
        assert_int_equal(fwrite(b, 1, n, o), n);
    fclose(in);
    assert_int_equal(fclose(o), 0);
    /* the manifest with "library": "lib/${triplet}/temperature.so" */
    char *lib = strstr(man, "\"temperature.so\"");
    assert_non_null(lib);
    char *nman = mem_printf("%.*s\"lib/${triplet}/temperature.so\"%s", (int)(lib - man), man,
                            lib + strlen("\"temperature.so\""));
    free(ts_write(dir, "venom.json", nman));
    json_t *reg = NULL;
    if (probe_dir(dir, &reg, &err) < 0)
        fail_msg("%s", err);
    json_t *typed = json_object_get(reg, "typed");
    assert_true(has(typed, "celsius_to_fahrenheit"));
    assert_true(json_array_size(typed) >= 2);

    /* a typed symbol that is not in the .so */
    char *sym = strstr(nman, "\"celsius_to_fahrenheit\"");
    char *sym2 = sym ? strstr(sym + 1, "\"celsius_to_fahrenheit\"") : NULL; /* the "symbol" value */
    assert_non_null(sym2);
    char *bad = mem_printf("%.*s\"celsius_to_kelvin\"%s", (int)(sym2 - nman), nman,
                           sym2 + strlen("\"celsius_to_fahrenheit\""));
    free(ts_write(dir, "venom.json", bad));
    json_decref(reg);
    reg = NULL;
    assert_int_equal(probe_dir(dir, &reg, &err), -ELIBBAD);
    if (!strstr(err, "celsius_to_kelvin"))
        fail_msg("message lacks the symbol: %s", err);
    mem_free(err);
    mem_free(bad);
    mem_free(nman);
    free(man);
    mem_free(rel);
    mem_free(dst);
    mem_free(so);
    mem_free(mj);
    mem_free(src);
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered_list),
        cmocka_unit_test(test_unregistered_declared_skill),
        cmocka_unit_test(test_undeclared_registered_skill),
        cmocka_unit_test(test_crash_in_init),
        cmocka_unit_test(test_typed_and_triplet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
