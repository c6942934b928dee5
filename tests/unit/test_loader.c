/*
 * test_loader.c — the ABI handshake and descriptor rules, against the
 * fixture plugins in tests/plugins/ (one per rule). Each rejection must be
 * one line naming the file and the reason.
 */
#include "testsupport.h"
#include "util/common.h"

#include "plugin/host.h"
#include "plugin/loader.h"

static char *so_path(const char *fixture)
{
    char *dir = ts_fixture(fixture);
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s.so", dir, fixture) > 0);
    free(dir);
    return p;
}

/* Load fixture `name` (as pack `pack`) expecting failure; returns the message. */
static char *reject(const char *name, const char *pack)
{
    char *path = so_path(name), *err = NULL;
    plugin *p = NULL;
    int rc = plugin_load(path, pack, &p, &err);
    assert_true(rc < 0);
    assert_null(p);
    assert_non_null(err);
    assert_non_null(strstr(err, path)); /* names the file */
    assert_null(strchr(err, '\n'));     /* one line */
    free(path);
    return err;
}

static void expect(const char *msg, const char *needle)
{
    if (!strstr(msg, needle))
        fail_msg("message '%s' lacks '%s'", msg, needle);
}

static void test_good_loads_and_registers(void **state)
{
    (void)state;
    char *path = so_path("good"), *err = NULL;
    plugin *p = NULL;
    assert_int_equal(plugin_load(path, "good", &p, &err), 0);
    assert_null(err);
    assert_int_equal(p->n_skills, 4);
    assert_non_null(plugin_skill(p, "echo"));
    assert_non_null(plugin_skill(p, "host"));
    assert_null(plugin_skill(p, "nope"));
    assert_string_equal(p->info.name, "good");
    assert_string_equal(p->info.license, "MIT");
    plugin_unload(p);
    free(path);
}

static void test_wrong_major(void **state)
{
    (void)state;
    char *m = reject("wrong_major", "wrong_major");
    char want[64];
    snprintf(want, sizeof want, "ABI %d.%d", VENOM_ABI_MAJOR + 1, VENOM_ABI_MINOR); /* the fixture: major + 1 */
    expect(m, want);
    snprintf(want, sizeof want, "ABI %d.%d", VENOM_ABI_MAJOR, VENOM_ABI_MINOR);
    expect(m, want);
    expect(m, "majors must be equal");
    mem_free(m);
}

static void test_newer_minor(void **state)
{
    (void)state;
    char *m = reject("newer_minor", "newer_minor");
    char want[64];
    snprintf(want, sizeof want, "needs a host with ABI %d.%d or newer", VENOM_ABI_MAJOR,
             VENOM_ABI_MINOR + 3); /* the fixture: min_host_minor = ours + 3 */
    expect(m, want);
    expect(m, "upgrade venom");
    mem_free(m);
}

static void test_bad_magic(void **state)
{
    (void)state;
    char *m = reject("bad_magic", "bad_magic");
    expect(m, "bad magic 0xdeadbeef");
    mem_free(m);
}

static void test_info_small(void **state)
{
    (void)state;
    char *m = reject("info_small", "info_small");
    expect(m, "info block too small: struct_size 16");
    mem_free(m);
}

static void test_info_oversized_nonzero_tail(void **state)
{
    (void)state;
    char *m = reject("info_oversized", "info_oversized");
    expect(m, "info block oversized");
    expect(m, "non-zero");
    mem_free(m);
}

static void test_name_mismatch(void **state)
{
    (void)state;
    char *m = reject("name_mismatch", "name_in_manifest");
    expect(m, "plugin calls itself 'name_in_plugin' but its manifest says pack 'name_in_manifest'");
    mem_free(m);
}

static void test_missing_entry(void **state)
{
    (void)state;
    char *m = reject("no_entry", "no_entry");
    expect(m, "missing entry symbol venom_plugin_entry");
    mem_free(m);
}

static void test_unresolved_symbol(void **state)
{
    (void)state;
    char *m = reject("unresolved", "unresolved");
    expect(m, "cannot load");
    expect(m, "venom_fixture_no_such_function");
    mem_free(m);
}

static void test_init_failed(void **state)
{
    (void)state;
    char *m = reject("init_fail", "init_fail");
    expect(m, "init failed");
    expect(m, "cannot reach the fixture's database (deliberate)");
    mem_free(m);
}

static void test_descriptor_too_small(void **state)
{
    (void)state;
    char *m = reject("desc_small", "desc_small");
    expect(m, "skill descriptor too small: struct_size 8");
    mem_free(m);
}

static void test_descriptor_oversized(void **state)
{
    (void)state;
    char *m = reject("desc_oversized", "desc_oversized");
    expect(m, "skill descriptor oversized");
    expect(m, "non-zero");
    mem_free(m);
}

static void test_descriptor_oversized_zero_tail_accepted(void **state)
{
    (void)state;
    char *path = so_path("desc_oversized_zero"), *err = NULL;
    plugin *p = NULL;
    assert_int_equal(plugin_load(path, "desc_oversized_zero", &p, &err), 0);
    assert_non_null(plugin_skill(p, "echo"));
    plugin_unload(p);
    free(path);
}

static void test_duplicate_registration(void **state)
{
    (void)state;
    /* The plugin ignores the EXISTS error; the load still fails. */
    char *m = reject("dup_register", "dup_register");
    expect(m, "skill 'echo' registered twice");
    mem_free(m);
}

static void test_missing_file(void **state)
{
    (void)state;
    char *err = NULL;
    plugin *p = NULL;
    assert_true(plugin_load("/nonexistent/x.so", "x", &p, &err) < 0);
    expect(err, "/nonexistent/x.so: cannot load");
    mem_free(err);
}

static void test_copy_desc_rules(void **state)
{
    (void)state;
    struct {
        uint32_t size;
        uint32_t a;
        uint64_t b;
    } src = {.size = 16, .a = 1, .b = 2}, dst;
    char *err = NULL;
    /* exact size */
    assert_int_equal(loader_copy_desc(&dst, sizeof dst, 8, 0, &src, "d", &err), 0);
    assert_int_equal(dst.b, 2);
    /* smaller but >= min: the rest is zero */
    src.size = 8;
    assert_int_equal(loader_copy_desc(&dst, sizeof dst, 8, 0, &src, "d", &err), 0);
    assert_int_equal(dst.a, 1);
    assert_int_equal(dst.b, 0);
    /* below min */
    src.size = 4;
    assert_true(loader_copy_desc(&dst, sizeof dst, 8, 0, &src, "d", &err) < 0);
    expect(err, "d too small");
    /* bigger than we know with a zero tail: accepted; non-zero: refused */
    struct {
        uint32_t size;
        uint32_t a;
        uint64_t b;
        uint64_t future;
    } big = {.size = sizeof big, .a = 3, .b = 4, .future = 0};
    assert_int_equal(loader_copy_desc(&dst, sizeof dst, 8, 0, &big, "d", &err), 0);
    assert_int_equal(dst.b, 4);
    big.future = 1;
    assert_true(loader_copy_desc(&dst, sizeof dst, 8, 0, &big, "d", &err) < 0);
    expect(err, "d oversized");
    mem_free(err);
}

/* 1,000 load/unload cycles: no leak (LSan in the sanitizer build), no
 * stale state: each cycle registers the same skills afresh. */
static void test_load_unload_loop(void **state)
{
    (void)state;
    char *path = so_path("good");
    for (int i = 0; i < 1000; i++) {
        char *err = NULL;
        plugin *p = NULL;
        assert_int_equal(plugin_load(path, "good", &p, &err), 0);
        assert_int_equal(p->n_skills, 4);
        plugin_unload(p);
    }
    /* and the rejected ones leave nothing behind either */
    for (int i = 0; i < 200; i++) {
        mem_free(reject("init_fail", "init_fail"));
        mem_free(reject("dup_register", "dup_register"));
    }
    free(path);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    char *path = so_path("good");
    for (long n = 0; n < 200; n++) {
        char *err = NULL;
        plugin *p = NULL;
        mem_fail_after(n);
        int rc = plugin_load(path, "good", &p, &err);
        mem_fail_after(-1);
        if (rc == 0) {
            plugin_unload(p);
            break;
        }
        assert_null(p);
        mem_free(err);
    }
    free(path);
}

int main(void)
{
    mem_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_loads_and_registers),
        cmocka_unit_test(test_wrong_major),
        cmocka_unit_test(test_newer_minor),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_info_small),
        cmocka_unit_test(test_info_oversized_nonzero_tail),
        cmocka_unit_test(test_name_mismatch),
        cmocka_unit_test(test_missing_entry),
        cmocka_unit_test(test_unresolved_symbol),
        cmocka_unit_test(test_init_failed),
        cmocka_unit_test(test_descriptor_too_small),
        cmocka_unit_test(test_descriptor_oversized),
        cmocka_unit_test(test_descriptor_oversized_zero_tail_accepted),
        cmocka_unit_test(test_duplicate_registration),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_copy_desc_rules),
        cmocka_unit_test(test_load_unload_loop),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
