/*
 * test_mcp.c — the MCP pieces without a server: the line buffer, the
 * JSON-RPC classifier and line writers, the tools/list and tools/call
 * readers, and mcp.json written and read back.
 */
#include "testsupport.h"
#include "util/common.h"

#include <jansson.h>
#include <unistd.h>

#include "mcp/mcp.h"

static void test_linebuf(void **state)
{
    (void)state;
    mcp_linebuf b;
    mcp_linebuf_init(&b, 16);
    const char *l;
    size_t n;
    assert_int_equal(mcp_linebuf_append(&b, "{\"a\":1}\r\n{\"b\"", 13), 0);
    assert_int_equal(mcp_linebuf_next(&b, &l, &n), 1);
    assert_string_equal(l, "{\"a\":1}"); /* the \r is stripped */
    assert_int_equal(n, 7);
    assert_int_equal(mcp_linebuf_next(&b, &l, &n), 0); /* a partial line waits */
    assert_int_equal(mcp_linebuf_append(&b, ":2}\n\n", 5), 0);
    assert_int_equal(mcp_linebuf_next(&b, &l, &n), 1);
    assert_string_equal(l, "{\"b\":2}");
    assert_int_equal(mcp_linebuf_next(&b, &l, &n), 1); /* an empty line */
    assert_int_equal(n, 0);
    assert_int_equal(mcp_linebuf_next(&b, &l, &n), 0);
    /* longer than max, even before its newline: -E2BIG, then usable again */
    assert_int_equal(mcp_linebuf_append(&b, "0123456789abcdefXYZ", 19), 0);
    assert_int_equal(mcp_linebuf_next(&b, &l, &n), -E2BIG);
    assert_int_equal(mcp_linebuf_append(&b, "ok\n", 3), 0);
    assert_int_equal(mcp_linebuf_next(&b, &l, &n), 1);
    assert_string_equal(l, "ok");
    mcp_linebuf_release(&b);
}

static int parse(const char *s, mcp_msg *m)
{
    char *err = NULL;
    int rc = mcp_msg_parse(s, strlen(s), m, &err);
    assert_true((rc == 0) == (err == NULL));
    mem_free(err);
    return rc;
}

static void test_classify(void **state)
{
    (void)state;
    mcp_msg m;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}", &m), 0);
    assert_int_equal(m.kind, MCP_MSG_REQUEST);
    assert_string_equal(m.method, "ping");
    assert_int_equal(json_integer_value(m.id), 7);
    mcp_msg_release(&m);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}", &m), 0);
    assert_int_equal(m.kind, MCP_MSG_NOTIFICATION);
    mcp_msg_release(&m);
    assert_int_equal(parse("{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":\"x\"}", &m), 0);
    assert_int_equal(m.kind, MCP_MSG_RESPONSE);
    assert_non_null(m.result);
    mcp_msg_release(&m);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"no\"}}", &m), 0);
    assert_non_null(m.error);
    mcp_msg_release(&m);
    /* parse errors and invalid requests; an id is kept for the reply */
    assert_int_equal(parse("nope", &m), -EBADMSG);
    assert_null(m.root);
    assert_int_equal(parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &m), -EPROTO);
    assert_null(m.id);
    assert_int_equal(parse("{\"jsonrpc\":\"1.0\",\"id\":4,\"method\":\"ping\"}", &m), -EPROTO);
    assert_int_equal(json_integer_value(m.id), 4);
    mcp_msg_release(&m);
    const char *bad[] = {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"x\"}",
                         "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"x\"}",
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":3}",
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1,\"message\":\"m\"}}",
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\",\"message\":\"m\"}}",
                         "{\"jsonrpc\":\"2.0\"}",
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":3}",
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"x\"}"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        int rc = parse(bad[i], &m);
        assert_true(rc == -EPROTO || rc == -EBADMSG);
        mcp_msg_release(&m);
    }
}

static void test_lines(void **state)
{
    (void)state;
    json_t *p = json_pack("{s:s}", "cursor", "c1");
    char *l = mcp_line_request(3, "tools/list", p);
    assert_string_equal(l, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{\"cursor\":\"c1\"}}\n");
    mem_free(l);
    json_decref(p);
    l = mcp_line_notification("notifications/initialized", NULL);
    assert_string_equal(l, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
    mem_free(l);
    l = mcp_line_error(NULL, MCP_PARSE_ERROR, "Parse error");
    assert_non_null(strstr(l, "\"id\":null"));
    assert_non_null(strstr(l, "-32700"));
    mem_free(l);
    /* a message with a newline in a string stays on one line */
    json_t *r = json_pack("{s:s}", "text", "a\nb");
    json_t *id = json_string("i");
    l = mcp_line_result(id, r);
    assert_ptr_equal(strchr(l, '\n'), l + strlen(l) - 1);
    mem_free(l);
    json_decref(r);
    json_decref(id);
    assert_true(mcp_version_supported("2025-06-18"));
    assert_false(mcp_version_supported("2024-11-05"));
    assert_false(mcp_version_supported(NULL));
}

static void test_tools_page(void **state)
{
    (void)state;
    json_t *acc = json_array();
    const char *cur = NULL;
    char *err = NULL;
    json_t *p1 = json_loads("{\"tools\":[{\"name\":\"get-sum\",\"description\":\"adds\",\"inputSchema\":{\"type\":"
                            "\"object\"},\"annotations\":{}}],\"nextCursor\":\"n2\"}",
                            0, NULL);
    json_t *p2 = json_loads("{\"tools\":[{\"name\":\"echo\",\"title\":\"Echo\",\"inputSchema\":{\"type\":\"object\"}}]}", 0,
                            NULL);
    assert_int_equal(mcp_tools_page(p1, acc, &cur, &err), 0);
    assert_string_equal(cur, "n2");
    assert_int_equal(mcp_tools_page(p2, acc, &cur, &err), 0);
    assert_null(cur);
    assert_int_equal(json_array_size(acc), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(acc, 1), "description")), "");
    assert_string_equal(json_string_value(json_object_get(json_array_get(acc, 1), "title")), "Echo");
    /* the same tool again, a bad schema, a bad name, a bad cursor */
    assert_int_equal(mcp_tools_page(p2, acc, &cur, &err), -EPROTO);
    assert_non_null(strstr(err, "listed twice"));
    mem_free(err);
    err = NULL;
    const char *bad[] = {"{\"tools\":[{\"name\":\"x\",\"inputSchema\":true}]}", "{\"tools\":[{\"name\":\"a b\",\"inputSchema\":{}}]}",
                         "{\"tools\":[{\"inputSchema\":{}}]}", "{\"tools\":{}}", "{\"tools\":[],\"nextCursor\":5}",
                         "{\"tools\":[{\"name\":\"y\",\"inputSchema\":{},\"description\":1}]}"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        json_t *v = json_loads(bad[i], 0, NULL);
        assert_non_null(v);
        assert_int_equal(mcp_tools_page(v, acc, &cur, &err), -EPROTO);
        assert_non_null(err);
        mem_free(err);
        err = NULL;
        json_decref(v);
    }
    json_decref(p1);
    json_decref(p2);
    json_decref(acc);
}

static void call(const char *text, int want_rc, json_t **value, char **msg)
{
    json_t *r = json_loads(text, 0, NULL);
    char *err = NULL;
    assert_non_null(r);
    assert_int_equal(mcp_call_result(r, value, msg, &err), want_rc);
    mem_free(err);
    json_decref(r);
}

static void test_call_result(void **state)
{
    (void)state;
    json_t *v = NULL;
    char *msg = NULL;
    call("{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}", 0, &v, &msg);
    assert_string_equal(json_string_value(v), "a\nb");
    json_decref(v);
    call("{\"content\":[{\"type\":\"text\",\"text\":\"{}\"}],\"structuredContent\":{\"t\":1}}", 0, &v, &msg);
    assert_int_equal(json_integer_value(json_object_get(v, "t")), 1);
    json_decref(v);
    call("{\"content\":[{\"type\":\"text\",\"text\":\"x\"},{\"type\":\"image\",\"data\":\"AA==\",\"mimeType\":\"image/png\"}]}",
         0, &v, &msg);
    assert_true(json_is_array(v));
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    call("{\"content\":[]}", 0, &v, &msg);
    assert_true(json_is_null(v));
    json_decref(v);
    call("{\"content\":[{\"type\":\"text\",\"text\":\"Access denied\"},{\"type\":\"text\",\"text\":\"twice\"}],"
         "\"isError\":true}",
         1, &v, &msg);
    assert_null(v);
    assert_string_equal(msg, "Access denied; twice");
    mem_free(msg);
    call("{\"isError\":true}", 1, &v, &msg);
    assert_non_null(strstr(msg, "without a message"));
    mem_free(msg);
    call("{\"content\":{}}", -EPROTO, &v, &msg);
    call("{\"content\":[],\"isError\":\"yes\"}", -EPROTO, &v, &msg);
    call("[]", -EPROTO, &v, &msg);
}

static void test_config_roundtrip(void **state)
{
    (void)state;
    char dir[] = "/tmp/venom-test-mcp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = mem_printf("%s/mcp.json", dir);
    mcp_config *c = NULL;
    char *err = NULL;
    assert_int_equal(mcp_config_load(path, &c, &err), 0); /* missing: empty */
    assert_int_equal(c->n, 0);
    char *argv[] = {"/usr/bin/node", "server.js", NULL};
    char *env[] = {"TOKEN=abc", NULL};
    char *ro[] = {"/srv/data", NULL};
    mcp_server s = {.name = "demo", .argv = argv, .argc = 2, .env = env, .n_env = 1, .ro = ro, .n_ro = 1,
                    .network = true, .timeout_s = 5, .tools = json_loads("[{\"name\":\"t\",\"description\":\"d\","
                                                                           "\"inputSchema\":{\"type\":\"object\"}}]",
                                                                           0, NULL)};
    assert_int_equal(mcp_config_add(c, &s, &err), 0);
    assert_int_equal(mcp_config_add(c, &s, &err), -EEXIST);
    mem_free(err);
    err = NULL;
    json_decref(s.tools);
    assert_int_equal(mcp_config_save(c, path, &err), 0);
    mcp_config_free(c);
    assert_int_equal(mcp_config_load(path, &c, &err), 0);
    const mcp_server *d = mcp_config_find(c, "demo");
    assert_non_null(d);
    assert_string_equal(d->argv[1], "server.js");
    assert_string_equal(d->env[0], "TOKEN=abc");
    assert_true(d->network);
    assert_int_equal(d->timeout_s, 5);
    assert_int_equal(json_array_size(d->tools), 1);
    assert_int_equal(mcp_config_remove(c, "demo"), 0);
    assert_int_equal(mcp_config_remove(c, "demo"), -ENOENT);
    mcp_config_free(c);
    /* a bad file: a clear error naming the field */
    FILE *f = fopen(path, "w");
    fputs("{\"version\":1,\"servers\":{\"x\":{\"command\":[\"relative\"]}}}", f);
    fclose(f);
    assert_int_equal(mcp_config_load(path, &c, &err), -EINVAL);
    assert_non_null(strstr(err, "servers.x.command"));
    mem_free(err);
    assert_false(mcp_name_ok("Bad"));
    assert_false(mcp_name_ok("-x"));
    assert_true(mcp_name_ok("fs_2"));
    unlink(path);
    rmdir(dir);
    mem_free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linebuf),        cmocka_unit_test(test_classify),   cmocka_unit_test(test_lines),
        cmocka_unit_test(test_tools_page),     cmocka_unit_test(test_call_result),
        cmocka_unit_test(test_config_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
