/*
 * test_config.c — configuration precedence (defaults < file < environment),
 * the skill directory order, and errors naming the file and line.
 */
#include "testsupport.h"
#include "util/common.h"

#include <unistd.h>
#include <venom/venom.h>

#include "config/config.h"
#include "util/suggest.h"

static char *home;

static int setup(void **state)
{
    (void)state;
    home = ts_mkdtemp();
    setenv("VENOM_HOME", home, 1);
    unsetenv("VENOM_LOG_LEVEL");
    unsetenv("VENOM_WORKDIR");
    unsetenv("VENOM_COLOR");
    unsetenv("VENOM_SYSTEM_SKILLS");
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

static config *load_ok(void)
{
    config *c = NULL;
    char *err = NULL;
    int rc = config_load(&c, &err);
    if (rc < 0)
        fail_msg("config_load: %s", err);
    return c;
}

static char *load_err(void)
{
    config *c = NULL;
    char *err = NULL;
    assert_true(config_load(&c, &err) < 0);
    assert_null(c);
    assert_non_null(err);
    return err;
}

static void test_defaults(void **state)
{
    (void)state;
    config *c = load_ok();
    assert_string_equal(c->home, home);
    assert_null(c->file);
    assert_string_equal(c->workdir, ".");
    assert_int_equal(c->log_level, VENOM_LOG_WARN);
    assert_int_equal(c->color, CONFIG_COLOR_AUTO);
    assert_non_null(strstr(c->system_skills, "/venom/skills"));
    assert_int_equal(c->sandbox_pool, 2);
    assert_int_equal(c->sandbox_idle_ms, 30000);
    assert_int_equal(c->n_sandbox_reuse, 0);
    config_free(c);
}

static void test_sandbox_section(void **state)
{
    (void)state;
    free(ts_write(home, "config.yaml", "sandbox:\n  pool: 4\n  idle_ms: 0\n  reuse: [mytools, other]\n"));
    config *c = load_ok();
    assert_int_equal(c->sandbox_pool, 4);
    assert_int_equal(c->sandbox_idle_ms, 0);
    assert_int_equal(c->n_sandbox_reuse, 2);
    assert_string_equal(c->sandbox_reuse[1], "other");
    config_free(c);

    free(ts_write(home, "config.yaml", "color: auto\nsandbox:\n  pool: 65\n"));
    char *e = load_err();
    assert_non_null(strstr(e, "config.yaml:3: 'sandbox.pool' must be an integer from 0 to 64"));
    mem_free(e);

    free(ts_write(home, "config.yaml", "sandbox:\n  pool: 1\n  idle: 5\n"));
    e = load_err();
    assert_non_null(strstr(e, "config.yaml:3: unknown key 'sandbox.idle' (allowed: idle_ms, pool, reuse)"));
    assert_non_null(strstr(e, "did you mean 'idle_ms'"));
    mem_free(e);

    free(ts_write(home, "config.yaml", "sandbox: 3\n"));
    e = load_err();
    assert_non_null(strstr(e, "'sandbox' must be a mapping"));
    mem_free(e);

    free(ts_write(home, "config.yaml", "sandbox:\n  reuse: mytools\n"));
    e = load_err();
    assert_non_null(strstr(e, "must be a list of pack names"));
    mem_free(e);
}

static void test_file_then_env(void **state)
{
    (void)state;
    free(ts_write(home, "config.yaml", "workdir: /srv/work\nlog_level: debug\ncolor: never\nskill_paths:\n  - /a\n  - /b\n"));
    config *c = load_ok();
    assert_non_null(c->file);
    assert_string_equal(c->workdir, "/srv/work");
    assert_int_equal(c->log_level, VENOM_LOG_DEBUG);
    assert_int_equal(c->color, CONFIG_COLOR_NEVER);
    assert_int_equal(c->n_skill_paths, 2);
    config_free(c);

    setenv("VENOM_LOG_LEVEL", "error", 1);
    setenv("VENOM_WORKDIR", "/elsewhere", 1);
    setenv("VENOM_SYSTEM_SKILLS", "", 1);
    c = load_ok();
    assert_int_equal(c->log_level, VENOM_LOG_ERROR);
    assert_string_equal(c->workdir, "/elsewhere");
    assert_string_equal(c->system_skills, "");

    char **dirs = NULL;
    size_t n = 0;
    assert_int_equal(config_skill_dirs(c, &dirs, &n), 0);
    assert_int_equal(n, 4); /* project, user, /a, /b; system disabled */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char want[4200];
    snprintf(want, sizeof want, "%s/.venom/skills", cwd);
    assert_string_equal(dirs[0], want);
    snprintf(want, sizeof want, "%s/skills", home);
    assert_string_equal(dirs[1], want);
    assert_string_equal(dirs[2], "/a");
    assert_string_equal(dirs[3], "/b");
    for (size_t i = 0; i < n; i++)
        mem_free(dirs[i]);
    mem_free(dirs);
    config_free(c);
}

static void test_errors_name_line(void **state)
{
    (void)state;
    free(ts_write(home, "config.yaml", "log_level: info\n\nworkdri: x\n"));
    char *e = load_err();
    assert_non_null(strstr(e, "config.yaml:3: unknown key 'workdri'"));
    assert_non_null(strstr(e, "did you mean 'workdir'"));
    mem_free(e);

    free(ts_write(home, "config.yaml", "skill_paths: /one\n"));
    e = load_err();
    assert_non_null(strstr(e, "config.yaml:1: 'skill_paths' must be a list of directory paths"));
    mem_free(e);

    free(ts_write(home, "config.yaml", "color: blue\n"));
    e = load_err();
    assert_non_null(strstr(e, "'color' must be one of auto, always, never"));
    mem_free(e);

    free(ts_write(home, "config.yaml", "- a\n- b\n"));
    e = load_err();
    assert_non_null(strstr(e, "must be a mapping"));
    mem_free(e);

    free(ts_write(home, "config.yaml", "log_level: [unclosed\n"));
    e = load_err();
    assert_non_null(strstr(e, "config.yaml:"));
    mem_free(e);

    free(ts_write(home, "config.yaml", ""));
    config *c = load_ok(); /* empty file: defaults */
    assert_int_equal(c->log_level, VENOM_LOG_WARN);
    config_free(c);

    char *f = ts_write(home, "config.yaml", "");
    unlink(f);
    free(f);
    setenv("VENOM_COLOR", "purple", 1);
    e = load_err();
    assert_non_null(strstr(e, "VENOM_COLOR='purple'"));
    mem_free(e);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    free(ts_write(home, "config.yaml", "workdir: /w\nskill_paths: [/a, /b, /c]\n"));
    for (long n = 0; n < 500; n++) {
        config *c = NULL;
        char *err = NULL;
        mem_fail_after(n);
        int rc = config_load(&c, &err);
        mem_fail_after(-1);
        mem_free(err);
        if (rc == 0) {
            assert_int_equal(c->n_skill_paths, 3);
            config_free(c);
            return;
        }
        assert_int_equal(rc, -ENOMEM);
    }
    fail_msg("config_load never succeeded");
}

static void test_providers_section(void **state)
{
    (void)state;
    config *c = load_ok(); /* defaults: the offline provider, 20 steps, no cost or time limit */
    assert_string_equal(c->provider, "offline");
    assert_string_equal(c->model, "");
    assert_int_equal(c->max_steps, 20);
    assert_true(c->max_cost == 0 && c->timeout_s == 0);
    json_t *e = config_provider_entry(c, "offline");
    assert_string_equal(json_string_value(json_object_get(e, "plugin")), "offline");
    assert_true(json_is_true(json_object_get(e, "stream")));
    assert_int_equal(json_integer_value(json_object_get(e, "retries")), 2);
    assert_null(json_object_get(e, "api_key_env")); /* absent: the provider's own default */
    json_decref(e);
    config_free(c);

    free(ts_write(home, "config.yaml",
                  "provider: local\n"
                  "providers:\n"
                  "  local:\n"
                  "    plugin: openai\n"
                  "    base_url: http://127.0.0.1:8080/v1\n"
                  "    api_key_env: \"\"\n"
                  "    retries: 0\n"
                  "    timeouts: {connect_ms: 500, first_byte_ms: 1000}\n"
                  "    models:\n"
                  "      m1: {input_per_mtok: 1.5, output_per_mtok: 3}\n"
                  "agent: {max_steps: 5, max_cost: 0.25, timeout: 60, system: be brief}\n"));
    setenv("VENOM_MODEL", "m1", 1);
    c = load_ok();
    assert_string_equal(c->provider, "local");
    assert_string_equal(c->model, "m1");
    assert_int_equal(c->max_steps, 5);
    assert_true(c->max_cost == 0.25 && c->timeout_s == 60);
    assert_string_equal(c->system_prompt, "be brief");
    e = config_provider_entry(c, "local");
    assert_string_equal(json_string_value(json_object_get(e, "name")), "local");
    assert_string_equal(json_string_value(json_object_get(e, "plugin")), "openai");
    assert_string_equal(json_string_value(json_object_get(e, "api_key_env")), "");
    assert_int_equal(json_integer_value(json_object_get(e, "retries")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "timeouts"), "first_byte_ms")), 1000);
    json_decref(e);
    config_free(c);
    unsetenv("VENOM_MODEL");

    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"providers:\n  openai:\n    base_ur1: x\n", ":3: unknown key 'providers.openai.base_ur1'"},
        {"providers:\n  openai:\n    base_ur1: x\n", "did you mean 'base_url'?"},
        {"providers:\n  openai: {base_url: ftp://x}\n", "'providers.openai.base_url' must be an http:// or https:// URL"},
        {"providers:\n  openai: {retries: 11}\n", "'providers.openai.retries' must be an integer from 0 to 10"},
        {"providers:\n  openai:\n    timeouts: {conect_ms: 1}\n", "unknown key 'providers.openai.timeouts.conect_ms'"},
        {"providers:\n  openai:\n    models:\n      m: {input_per_mtok: -1}\n",
         ":4: 'providers.openai.models.m.input_per_mtok' must be a price per million tokens"},
        {"providers:\n  openai:\n    models:\n      m: {inptu_per_mtok: 1}\n", "did you mean 'input_per_mtok'?"},
        {"agent: {max_steps: 0}\n", "'agent.max_steps' must be an integer from 1 to 10000"},
        {"agent: {max_cost: cheap}\n", "'agent.max_cost' must be a number >= 0"},
        {"agent: {max_stpes: 3}\n", "unknown key 'agent.max_stpes'"},
        {"provider: \"\"\n", "'provider' must be a provider name"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        free(ts_write(home, "config.yaml", bad[i].yaml));
        char *err = load_err();
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].want);
        mem_free(err);
    }
}

static void test_suggest(void **state)
{
    (void)state;
    assert_int_equal(suggest_distance("skill", "skil"), 1);
    assert_int_equal(suggest_distance("", "abc"), 3);
    assert_int_equal(suggest_distance("kitten", "sitting"), 3);
    const char *cands[] = {"doctor", "help", "skill", "run"};
    const char *out[3];
    assert_int_equal(suggest_closest("skil", cands, 4, out, 3), 1);
    assert_string_equal(out[0], "skill");
    assert_int_equal(suggest_closest("zzzzzz", cands, 4, out, 3), 0);
    const char *names[] = {"fs.read", "fs.write", "text.head"};
    assert_int_equal(suggest_closest("fs.raed", names, 3, out, 3), 1);
    assert_string_equal(out[0], "fs.read");
}

int main(void)
{
    mem_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_then_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sandbox_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_name_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_providers_section, setup, teardown),
        cmocka_unit_test(test_suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
