/*
 * test_skillmd.c — SKILL.md (core/plugin/skillmd): frontmatter and body,
 * every refusal with its line, the size cap, loading from a pack dir.
 */
#include "testsupport.h"
#include "util/common.h"
#include "plugin/skillmd.h"

static skillmd *ok_parse(const char *text, const char *pack)
{
    skillmd *s = NULL;
    char *err = NULL;
    if (skillmd_parse(text, strlen(text), "p/SKILL.md", pack, &s, &err) < 0)
        fail_msg("skillmd_parse: %s", err ? err : "?");
    return s;
}

static void bad(const char *text, const char *pack, int want, const char *words)
{
    skillmd *s = NULL;
    char *err = NULL;
    int rc = skillmd_parse(text, strlen(text), "p/SKILL.md", pack, &s, &err);
    if (rc >= 0)
        fail_msg("parsed, expected '%s'", words);
    assert_int_equal(rc, want);
    assert_null(s);
    if (!err || !strstr(err, words) || strchr(err, '\n'))
        fail_msg("message '%s' lacks '%s'", err ? err : "(none)", words);
    mem_free(err);
}

static void test_good(void **state)
{
    (void)state;
    skillmd *s = ok_parse("---\nname: demo\ndescription: Does demo things; use it for demos.\nlicense: MIT\n"
                          "allowed-tools: [fs.read]\nmetadata: {author: me}\n---\n\n\n# Demo\n\nStep 1.\n\n\n",
                          "demo");
    assert_string_equal(s->name, "demo");
    assert_string_equal(s->description, "Does demo things; use it for demos.");
    assert_string_equal(s->body, "# Demo\n\nStep 1.");
    assert_int_equal(s->body_line, 10);
    skillmd_free(s);
    /* CRLF, no body, no pack name to match */
    s = ok_parse("---\r\nname: x\r\ndescription: \"quoted: yes\"\r\n---\r\n", NULL);
    assert_string_equal(s->description, "quoted: yes");
    assert_string_equal(s->body, "");
    skillmd_free(s);
}

static void test_bad(void **state)
{
    (void)state;
    bad("name: demo\n", "demo", -EINVAL, "p/SKILL.md:1: a SKILL.md starts with a '---' line");
    bad("---\nname: demo\ndescription: x\n", "demo", -EINVAL, "no closing '---' line");
    bad("---\nname: demo\ndescripton: x\n---\n", "demo", -EINVAL, "p/SKILL.md:3: unknown key 'descripton'");
    bad("---\nname: other\ndescription: x\n---\n", "demo", -EINVAL, "p/SKILL.md:2: name 'other' is not the pack's");
    bad("---\ndescription: x\n---\n", "demo", -EINVAL, "'name' is missing");
    bad("---\nname: demo\n---\n", "demo", -EINVAL, "'description' is missing or empty");
    bad("---\nname: demo\ndescription: \"\"\n---\n", "demo", -EINVAL, "'description' is missing or empty");
    bad("---\nname: [demo]\ndescription: x\n---\n", "demo", -EINVAL, "'name' is missing or not a string");
    bad("---\n- a\n- b\n---\n", "demo", -EINVAL, "must be a mapping");
    bad("---\nname: demo\ndescription: x\nname: again\n---\n", "demo", -EINVAL, "p/SKILL.md:4");
    bad("---\nname: demo\ndescription: [unclosed\n---\n", "demo", -EINVAL, "p/SKILL.md:4:1: did not find");
    bad("---\nname: demo\ndescription: x\n---\n\xff\xfe", "demo", -EINVAL, "not UTF-8");
    char *long_desc = mem_alloc(2000);
    memset(long_desc, 'd', 1999);
    long_desc[1999] = '\0';
    char *t = mem_printf("---\nname: demo\ndescription: %s\n---\n", long_desc);
    bad(t, "demo", -EINVAL, "'description' has 1999 bytes; at most 1024");
    mem_free(t);
    mem_free(long_desc);
    char *big = mem_alloc(SKILLMD_MAX_BYTES + 2);
    memset(big, 'x', SKILLMD_MAX_BYTES + 1);
    big[SKILLMD_MAX_BYTES + 1] = '\0';
    memcpy(big, "---\nname: demo\ndescription: x\n---\n", 34);
    bad(big, "demo", -E2BIG, "at most 64 KiB");
    mem_free(big);
}

static void test_load(void **state)
{
    (void)state;
    char *dir = ts_mkdtemp(), *err = NULL;
    skillmd *s = NULL;
    assert_int_equal(skillmd_load(dir, "demo", &s, &err), -ENOENT);
    assert_null(err);
    free(ts_write(dir, "SKILL.md", "---\nname: demo\ndescription: d\n---\nbody\n"));
    assert_int_equal(skillmd_load(dir, "demo", &s, &err), 0);
    assert_string_equal(s->body, "body");
    skillmd_free(s);
    assert_int_equal(skillmd_load(dir, "other", &s, &err), -EINVAL);
    assert_non_null(strstr(err, "/SKILL.md:2:"));
    mem_free(err);
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
