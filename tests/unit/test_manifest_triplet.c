/*
 * test_manifest_triplet.c — ${triplet} in a manifest's "library": replaced
 * by the host's Debian multiarch triplet (pack level and in a "function");
 * manifest_load refuses a pack with no .so for this host and names the
 * triplets it has; other placeholders are errors.
 */
#include "testsupport.h"
#include "util/common.h"
#include "plugin/manifest.h"

#include <sys/utsname.h>

static const char *PACK_LEVEL = "{\n"
                                "  \"name\": \"hello\",\n"
                                "  \"version\": \"0.1.0\",\n"
                                "  \"description\": \"Greets\",\n"
                                "  \"library\": \"lib/${triplet}/hello.so\",\n" /* line 5 */
                                "  \"skills\": [{\"name\": \"greet\", \"description\": \"Greet\"}]\n"
                                "}\n";

static const char *TYPED = "{\n"
                           "  \"name\": \"adder\",\n"
                           "  \"version\": \"0.1.0\",\n"
                           "  \"description\": \"Adds\",\n"
                           "  \"skills\": [{\"name\": \"add\", \"description\": \"Add\",\n"
                           "    \"function\": {\n"
                           "      \"library\": \"lib/adder-${triplet}.so\",\n" /* line 7 */
                           "      \"symbol\": \"add\", \"returns\": \"int64\"}}]\n"
                           "}\n";

static void test_host_triplet(void **state)
{
    (void)state;
    const char *t = manifest_host_triplet();
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    /* the kernel's machine name starts the triplet on the common hosts */
    if (!strcmp(u.machine, "x86_64") && sizeof(void *) == 8)
        assert_string_equal(t, "x86_64-linux-gnu");
    else if (!strcmp(u.machine, "aarch64") && sizeof(void *) == 8)
        assert_string_equal(t, "aarch64-linux-gnu");
    else if (!strcmp(u.machine, "s390x"))
        assert_string_equal(t, "s390x-linux-gnu");
    else if (!strcmp(u.machine, "riscv64"))
        assert_string_equal(t, "riscv64-linux-gnu");
    assert_non_null(strstr(t, "-linux-"));
    assert_null(strchr(t, '/'));
}

static void test_parse_expands(void **state)
{
    (void)state;
    manifest *m = NULL;
    char *err = NULL, want[256];
    /* manifest_parse sees no files: it only replaces */
    if (manifest_parse(PACK_LEVEL, strlen(PACK_LEVEL), "/nowhere/hello/venom.json", &m, &err) < 0)
        fail_msg("%s", err);
    snprintf(want, sizeof want, "/nowhere/hello/lib/%s/hello.so", manifest_host_triplet());
    assert_string_equal(m->library, want);
    manifest_free(m);

    if (manifest_parse(TYPED, strlen(TYPED), "/nowhere/adder/venom.json", &m, &err) < 0)
        fail_msg("%s", err);
    snprintf(want, sizeof want, "lib/adder-%s.so", manifest_host_triplet());
    assert_string_equal(json_string_value(json_object_get(m->skills[0].function, "library")), want);
    manifest_free(m);
}

static void expect_error(const char *text, const char *needle1, const char *needle2)
{
    manifest *m = NULL;
    char *err = NULL;
    assert_int_equal(manifest_parse(text, strlen(text), "p/venom.json", &m, &err), -EINVAL);
    assert_null(m);
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fail_msg("message lacks '%s' / '%s': %s", needle1, needle2 ? needle2 : "", err);
    mem_free(err);
}

static void test_other_placeholders(void **state)
{
    (void)state;
    char *a = NULL, *b = NULL;
    const char *at = strstr(PACK_LEVEL, "${triplet}");
    assert_true(asprintf(&a, "%.*s${arch}%s", (int)(at - PACK_LEVEL), PACK_LEVEL, at + strlen("${triplet}")) > 0);
    expect_error(a, "p/venom.json:5:", "the only one is ${triplet}");
    assert_true(asprintf(&b, "%.*s${triplet}/${triplet}%s", (int)(at - PACK_LEVEL), PACK_LEVEL,
                         at + strlen("${triplet}")) > 0);
    expect_error(b, "p/venom.json:5:", "a single ${triplet}");
    free(a);
    free(b);
}

static void test_load_needs_host_library(void **state)
{
    (void)state;
    char *dir = ts_mkdtemp(), *err = NULL, rel[256];
    manifest *m = NULL;
    char *mpath = ts_write(dir, "venom.json", PACK_LEVEL);
    free(ts_write(dir, "lib/riscv64-linux-gnu/hello.so", "x"));
    free(ts_write(dir, "lib/aarch64-linux-gnu/hello.so", "x"));
    free(ts_write(dir, "lib/s390x-linux-gnu/other.so", "x")); /* not this pack's file: not listed */
    free(ts_write(dir, "lib/README", "x"));
    if (strcmp(manifest_host_triplet(), "aarch64-linux-gnu") && strcmp(manifest_host_triplet(), "riscv64-linux-gnu")) {
        assert_int_equal(manifest_load(mpath, &m, &err), -EINVAL);
        assert_null(m);
        snprintf(rel, sizeof rel, "lib/%s/hello.so does not exist", manifest_host_triplet());
        if (!strstr(err, "venom.json:5:") || !strstr(err, rel) ||
            !strstr(err, "the pack has libraries for: aarch64-linux-gnu, riscv64-linux-gnu;") ||
            !strstr(err, manifest_host_triplet()))
            fail_msg("unexpected message: %s", err);
        mem_free(err);
        err = NULL;
    }
    /* with the host's .so the same manifest loads */
    snprintf(rel, sizeof rel, "lib/%s/hello.so", manifest_host_triplet());
    free(ts_write(dir, rel, "x"));
    if (manifest_load(mpath, &m, &err) < 0)
        fail_msg("%s", err);
    assert_non_null(strstr(m->library, rel));
    manifest_free(m);
    free(mpath);
    ts_rmtree(dir);
    free(dir);
}

static void test_load_typed_needs_host_library(void **state)
{
    (void)state;
    char *dir = ts_mkdtemp(), *err = NULL, rel[256];
    manifest *m = NULL;
    char *mpath = ts_write(dir, "venom.json", TYPED);
    assert_int_equal(manifest_load(mpath, &m, &err), -EINVAL);
    if (!strstr(err, "venom.json:7:") || !strstr(err, "skills[0].function.library") ||
        !strstr(err, "the pack has libraries for: none"))
        fail_msg("unexpected message: %s", err);
    mem_free(err);
    err = NULL;
    free(ts_write(dir, "lib/adder-i386-linux-gnu.so", "x"));
    if (strcmp(manifest_host_triplet(), "i386-linux-gnu")) {
        assert_int_equal(manifest_load(mpath, &m, &err), -EINVAL);
        if (!strstr(err, "the pack has libraries for: i386-linux-gnu;"))
            fail_msg("unexpected message: %s", err);
        mem_free(err);
        err = NULL;
    }
    snprintf(rel, sizeof rel, "lib/adder-%s.so", manifest_host_triplet());
    free(ts_write(dir, rel, "x"));
    if (manifest_load(mpath, &m, &err) < 0)
        fail_msg("%s", err);
    assert_string_equal(json_string_value(json_object_get(m->skills[0].function, "library")), rel);
    manifest_free(m);
    free(mpath);
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_triplet),
        cmocka_unit_test(test_parse_expands),
        cmocka_unit_test(test_other_placeholders),
        cmocka_unit_test(test_load_needs_host_library),
        cmocka_unit_test(test_load_typed_needs_host_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
