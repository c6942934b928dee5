/*
 * test_broker.c — host services for skills (secrets, brokered HTTP): the
 * permission checks of host_broker_serve, and the same services asked from
 * inside a sandboxed worker, forwarded over IPC to the supervisor.
 */
#include "testsupport.h"
#include "util/common.h"

#include <signal.h>
#include <venom/venom.h>

#include "plugin/host.h"
#include "plugin/manifest.h"
#include "sandbox/policy.h"
#include "sandbox/sandbox.h"

static const char pack_json[] =
    "{\"name\":\"netpack\",\"version\":\"1.0.0\",\"description\":\"d\",\"library\":\"x.so\","
    "\"permissions\":{\"network\":{\"hosts\":[\"api.example.org\",\"*.cdn.example.net\",\"local.test:8443\"]},"
    "\"secrets\":[\"TOKEN\"]},\"skills\":[{\"name\":\"s\",\"description\":\"d\"}]}";

static manifest *parse(const char *text)
{
    manifest *m = NULL;
    char *err = NULL;
    if (manifest_parse(text, strlen(text), "/tmp/netpack/venom.json", &m, &err) < 0)
        fail_msg("%s", err);
    return m;
}

/* serve and return the code; *msg gets the error (or the response) */
static int32_t serve(const char *service, const manifest *m, const char *req, char **msg)
{
    char *resp = NULL, *error = NULL;
    int32_t rc = host_broker_serve(service, m, req, &resp, &error);
    *msg = rc == VENOM_OK ? resp : error;
    mem_free(rc == VENOM_OK ? error : resp);
    return rc;
}

static int32_t http_to(const manifest *m, const char *url, char **msg)
{
    char req[512];
    snprintf(req, sizeof req, "{\"method\":\"GET\",\"url\":\"%s\"}", url);
    return serve("http", m, req, msg);
}

/* Every URL of the list gets code; with `says`, the error says it too. */
static void expect_http(const manifest *m, const char *const *urls, size_t n, int32_t code, const char *says)
{
    for (size_t i = 0; i < n; i++) {
        char *msg = NULL;
        int32_t rc = http_to(m, urls[i], &msg);
        if (rc != code)
            fail_msg("%s: code %d, expected %d (%s)", urls[i], rc, code, msg ? msg : "");
        if (says && !strstr(msg, says))
            fail_msg("%s: '%s' does not say '%s'", urls[i], msg, says);
        mem_free(msg);
    }
}

static void test_checks_without_broker(void **state)
{
    (void)state;
    manifest *m = parse(pack_json);
    char *msg = NULL;
    host_set_broker(NULL, NULL);

    assert_int_equal(serve("secret", m, "TOKEN", &msg), VENOM_E_UNSUPPORTED);
    assert_non_null(strstr(msg, "no secrets vault"));
    mem_free(msg);
    assert_int_equal(serve("secret", m, "OTHER", &msg), VENOM_E_PERM);
    assert_non_null(strstr(msg, "secret 'OTHER' is not declared in netpack's permissions.secrets"));
    mem_free(msg);

    /* allowed hosts pass the check (then: no broker) */
    const char *ok[] = {"https://api.example.org/v1", "http://API.Example.ORG:8080/x?q=1", "https://a.cdn.example.net",
                        "https://x.y.cdn.example.net/", "https://user:pw@api.example.org/",
                        "https://local.test:8443/x"};
    expect_http(m, ok, ARRAY_SIZE(ok), VENOM_E_UNSUPPORTED, "brokered HTTP is not available");
    /* others are refused, naming the host */
    const char *no[] = {"https://evil.org/", "https://cdn.example.net/", "https://api.example.org.evil.org/",
                        "https://api.example.org@evil.org/", "http://[::1]:80/", "https://notapi.example.org",
                        "https://local.test/", "http://local.test:8444/"};
    expect_http(m, no, ARRAY_SIZE(no), VENOM_E_PERM, "is not in netpack's permissions.network.hosts");
    assert_int_equal(http_to(m, "https://evil.org/", &msg), VENOM_E_PERM);
    assert_non_null(strstr(msg, "host 'evil.org'"));
    mem_free(msg);
    /* malformed requests */
    assert_int_equal(http_to(m, "ftp://api.example.org/", &msg), VENOM_E_INVAL);
    assert_non_null(strstr(msg, "not an http:// or https:// URL"));
    mem_free(msg);
    const char *bad[] = {"https:///path", "https://api.example.org:/", "https://api.example.org:99999/",
                         "https://api.example.org:8x/", "http://[::1/"};
    expect_http(m, bad, ARRAY_SIZE(bad), VENOM_E_INVAL, "http:");
    assert_int_equal(serve("http", m, "{not json", &msg), VENOM_E_INVAL);
    assert_non_null(strstr(msg, "\"url\""));
    mem_free(msg);
    assert_int_equal(serve("teleport", m, "x", &msg), VENOM_E_INVAL);
    assert_non_null(strstr(msg, "unknown service 'teleport'"));
    mem_free(msg);
    /* no manifest: nothing is granted */
    assert_int_equal(http_to(NULL, "https://api.example.org/", &msg), VENOM_E_PERM);
    mem_free(msg);
    assert_int_equal(serve("secret", NULL, "TOKEN", &msg), VENOM_E_PERM);
    mem_free(msg);
    manifest_free(m);
}

static int broker_calls;

static int32_t test_broker(void *user, const char *service, const manifest *m, const char *request, char **response,
                           char **error)
{
    (void)user;
    broker_calls++;
    if (!strcmp(service, "secret")) {
        *response = mem_printf("s3cret-for-%s-%s", m ? m->name : "?", request);
        return VENOM_OK;
    }
    *error = mem_strdup("test broker: no network here");
    return VENOM_E_NET;
}

static void test_broker_called_after_checks(void **state)
{
    (void)state;
    manifest *m = parse(pack_json);
    char *msg = NULL;
    host_set_broker(test_broker, NULL);
    broker_calls = 0;
    assert_int_equal(serve("secret", m, "TOKEN", &msg), VENOM_OK);
    assert_string_equal(msg, "s3cret-for-netpack-TOKEN");
    mem_free(msg);
    assert_int_equal(serve("secret", m, "OTHER", &msg), VENOM_E_PERM); /* never reaches the broker */
    mem_free(msg);
    assert_int_equal(http_to(m, "https://api.example.org/", &msg), VENOM_E_NET);
    assert_string_equal(msg, "test broker: no network here");
    mem_free(msg);
    assert_int_equal(http_to(m, "https://evil.org/", &msg), VENOM_E_PERM);
    mem_free(msg);
    assert_int_equal(broker_calls, 2);
    host_set_broker(NULL, NULL);
    manifest_free(m);
}

/* good.host inside a sandboxed worker: its secret and http requests travel
 * over IPC to this process, which checks them and calls the broker. */
static void test_forwarded_from_the_sandbox(void **state)
{
    (void)state;
    char *dir = ts_fixture("good"), *mpath = NULL, *err = NULL;
    assert_true(asprintf(&mpath, "%s/venom.json", dir) > 0);
    char real[4096];
    assert_non_null(realpath(mpath, real));
    manifest *m = NULL;
    if (manifest_load(real, &m, &err) < 0)
        fail_msg("%s", err);
    char *work = ts_mkdtemp();
    sandbox_policy *p = NULL;
    if (sandbox_policy_new(m, work, &p, &err) < 0)
        fail_msg("%s", err);
    host_set_broker(test_broker, NULL);
    broker_calls = 0;
    json_t *args = json_object();
    for (int pooled = 0; pooled < 2; pooled++) {
        sandbox_result res;
        sbx_pool *pl = NULL;
        int rc;
        if (pooled) {
            if (sbx_pool_new(p, real, &(sbx_pool_opts){.warm = 1}, &pl, &err) < 0)
                fail_msg("%s", err);
            rc = sbx_pool_call(pl, "good.host", args, NULL, &res, &err);
        } else {
            rc = sandbox_call(p, real, "good.host", args, NULL, &res, &err);
        }
        if (rc < 0)
            fail_msg("%s", err);
        if (res.code != 0)
            fail_msg("good.host failed: %s", res.error);
        assert_int_equal(json_integer_value(json_object_get(res.value, "secret")), VENOM_OK);
        assert_string_equal(json_string_value(json_object_get(res.value, "secret_value")), "s3cret-for-good-TOKEN");
        /* good declares no network: refused by the supervisor's check */
        assert_int_equal(json_integer_value(json_object_get(res.value, "http")), VENOM_E_PERM);
        sandbox_result_release(&res);
        sbx_pool_free(pl);
    }
    assert_int_equal(broker_calls, 2); /* the secret, once per worker; never the http */
    host_set_broker(NULL, NULL);
    json_decref(args);
    sandbox_policy_free(p);
    manifest_free(m);
    ts_rmtree(work);
    free(work);
    free(mpath);
    free(dir);
}

/* Four threads of a sandboxed skill log and ask for secrets at once: every
 * secret comes back right and no frame is garbled (else the call fails). */
static void test_threads_share_the_channel(void **state)
{
    (void)state;
    char *dir = ts_fixture("hostile"), *mpath = NULL, *err = NULL;
    assert_true(asprintf(&mpath, "%s/venom.json", dir) > 0);
    char real[4096];
    assert_non_null(realpath(mpath, real));
    manifest *m = NULL;
    if (manifest_load(real, &m, &err) < 0)
        fail_msg("%s", err);
    char *work = ts_mkdtemp();
    sandbox_policy *p = NULL;
    if (sandbox_policy_new(m, work, &p, &err) < 0)
        fail_msg("%s", err);
    p->time_ms = 20000; /* 800 round trips; a sanitizer build is slow */
    host_set_broker(test_broker, NULL);
    broker_calls = 0;
    json_t *args = json_object();
    sandbox_result res;
    if (sandbox_call(p, real, "hostile.chatty", args, NULL, &res, &err) < 0)
        fail_msg("%s", err);
    if (res.code != 0)
        fail_msg("hostile.chatty failed: %s", res.error);
    assert_int_equal(json_integer_value(json_object_get(res.value, "ok")), 400);
    assert_int_equal(broker_calls, 400);
    sandbox_result_release(&res);
    host_set_broker(NULL, NULL);
    json_decref(args);
    sandbox_policy_free(p);
    manifest_free(m);
    ts_rmtree(work);
    free(work);
    free(mpath);
    free(dir);
}

int main(void)
{
    mem_install();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks_without_broker),
        cmocka_unit_test(test_broker_called_after_checks),
        cmocka_unit_test(test_forwarded_from_the_sandbox),
        cmocka_unit_test(test_threads_share_the_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
