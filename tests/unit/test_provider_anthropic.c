/*
 * test_provider_anthropic.c — the Anthropic provider's pure translation
 * (plugins/anthropic/wire.c): canonical request -> Messages API request,
 * SSE stream and whole bodies -> canonical response, usage, errors. Wire
 * samples follow wire-formats.md section 2.
 */
#include "testsupport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/anthropic/wire.c"
#include "../../plugins/common/provider_util.c"

/* ------------------------------------------------------------ helpers */

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("test JSON does not parse: %s: %s", e.text, text);
    return j;
}

static void open_cfg(const char *config, anth_config *cfg)
{
    char *err = NULL;
    int rc = anth_config_parse(config, cfg, &err);
    if (rc != 0)
        fail_msg("config failed: %s", err ? err : "?");
    free(err);
}

/* Build a request; returns the parsed body, *http the request object. */
static json_t *build(const anth_config *cfg, const char *req_text, json_t **http)
{
    json_t *req = parse(req_text);
    char *err = NULL;
    bool ws = false;
    int rc = anth_build_chat(cfg, req, http, &ws, &err);
    if (rc != 0)
        fail_msg("build failed: %s", err ? err : "?");
    assert_int_equal(ws, cfg->pu.stream);
    json_decref(req);
    free(err);
    return parse(json_string_value(json_object_get(*http, "body")));
}

static int build_err(const anth_config *cfg, const char *req_text, char **err)
{
    json_t *req = parse(req_text), *http = NULL;
    int rc = anth_build_chat(cfg, req, &http, NULL, err);
    assert_null(http);
    json_decref(req);
    return rc;
}

/* Feed an SSE transcript ("event: x\ndata: y\n\n"…). Returns the first
 * non-zero code of feed, else finish's; *resp the response, deltas collected. */
static int feed_sse(anth_stream *s, const char *sse, json_t *deltas, json_t **resp, char **err)
{
    char *copy = strdup(sse), *save = NULL;
    int rc = 0;
    for (char *ev = copy; ev && *ev && rc == 0;) {
        char *end = strstr(ev, "\n\n");
        if (end)
            *end = '\0';
        char *event = "", *data = "";
        for (char *line = strtok_r(ev, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (!strncmp(line, "event: ", 7))
                event = line + 7;
            else if (!strncmp(line, "data: ", 6))
                data = line + 6;
        }
        if (*data)
            rc = anth_stream_feed(s, event, data, strlen(data), deltas, err);
        ev = end ? end + 2 : NULL;
    }
    free(copy);
    if (rc == 0)
        rc = anth_stream_finish(s, resp, err);
    return rc;
}

/* Feed one event that must be accepted. */
static void feed1(anth_stream *s, const char *event, const char *data)
{
    char *err = NULL;
    int rc = anth_stream_feed(s, event, data, strlen(data), NULL, &err);
    if (rc != 0)
        fail_msg("feed failed: %s", err ? err : "?");
}

static const char *CFG_KEY = "{\"name\":\"anthropic\",\"api_key_env\":\"TEST_ANTH_KEY\",\"model\":\"claude-test\","
                             "\"stream\":true,\"options\":{\"max_tokens\":2048}}";

static void with_key(void)
{
    setenv("TEST_ANTH_KEY", "sk-ant-secret", 1);
}

/* ------------------------------------------------------------ configuration */

static void test_config(void **state)
{
    (void)state;
    anth_config cfg;
    char *err = NULL;
    unsetenv("TEST_ANTH_MISSING");
    assert_int_equal(anth_config_parse("{\"api_key_env\":\"TEST_ANTH_MISSING\"}", &cfg, &err), VENOM_E_PERM);
    assert_non_null(strstr(err, "environment variable TEST_ANTH_MISSING (providers.anthropic.api_key_env) is not set"));
    free(err);
    err = NULL;

    /* defaults: the public URL, version 2023-06-01, max_tokens 4096, streaming */
    with_key();
    open_cfg("{\"api_key_env\":\"TEST_ANTH_KEY\"}", &cfg);
    assert_string_equal(cfg.pu.base_url, "https://api.anthropic.com");
    assert_string_equal(cfg.version, "2023-06-01");
    assert_int_equal(cfg.max_tokens, 4096);
    assert_true(cfg.pu.stream);
    assert_string_equal(cfg.pu.api_key, "sk-ant-secret");
    anth_config_release(&cfg);

    /* no key for a local server; trailing slashes go */
    open_cfg("{\"api_key_env\":\"\",\"base_url\":\"http://127.0.0.1:9/\",\"stream\":false,"
             "\"options\":{\"anthropic_version\":\"2099-01-01\",\"beta\":\"b1\"}}",
             &cfg);
    assert_null(cfg.pu.api_key);
    assert_string_equal(cfg.pu.base_url, "http://127.0.0.1:9");
    assert_string_equal(cfg.version, "2099-01-01");
    assert_string_equal(cfg.beta, "b1");
    assert_false(cfg.pu.stream);
    anth_config_release(&cfg);

    assert_int_equal(anth_config_parse("{\"api_key_env\":\"\",\"options\":{\"max_tokens\":0}}", &cfg, &err),
                     VENOM_E_INVAL);
    assert_non_null(strstr(err, "providers.anthropic.options.max_tokens"));
    free(err);
    err = NULL;
    assert_int_equal(anth_config_parse("{\"api_key_env\":\"\",\"base_url\":\"ftp://x\"}", &cfg, &err), VENOM_E_INVAL);
    assert_non_null(strstr(err, "base_url"));
    free(err);
    err = NULL;
    assert_int_equal(anth_config_parse("not json", &cfg, &err), VENOM_E_INVAL);
    free(err);
}

/* ------------------------------------------------------------ request */

static const char *FULL_REQ =
    "{\"messages\":["
    "{\"role\":\"system\",\"content\":\"You are terse.\"},"
    "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"Use tools.\"}]},"
    "{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"and this?\"},"
    "{\"type\":\"image\",\"media_type\":\"image/png\",\"data\":\"iVBORw0=\"}]},"
    "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
    "{\"id\":\"toolu_01A\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}},"
    "{\"id\":\"toolu_01B\",\"name\":\"fs__read\",\"arguments_raw\":\"{bad\",\"arguments_error\":\"x\"}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01B\",\"name\":\"fs__read\",\"content\":\"no such file\","
    "\"is_error\":true},"
    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01A\",\"name\":\"get_weather\",\"content\":\"{\\\"temp_c\\\":4}\"},"
    "{\"role\":\"user\",\"content\":\"thanks\"}],"
    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Current weather for a city\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]},"
    "\"examples\":[{\"args\":{\"city\":\"Oslo\"}}]},"
    "{\"name\":\"fs__read\"}],"
    "\"tool_choice\":\"required\",\"stream\":true,\"max_tokens\":1024,\"temperature\":0.2,\"top_p\":0.9,"
    "\"stop\":[\"\\n\\n\",\"END\"],\"seed\":7,\"metadata\":{\"run_id\":\"r1\"}}";

static void test_request_full(void **state)
{
    (void)state;
    anth_config cfg;
    with_key();
    open_cfg(CFG_KEY, &cfg);
    json_t *http = NULL;
    json_t *body = build(&cfg, FULL_REQ, &http);

    assert_string_equal(pu_str(http, "method", ""), "POST");
    assert_string_equal(pu_str(http, "url", ""), "https://api.anthropic.com/v1/messages");
    assert_string_equal(pu_str(http, "stream", ""), "sse");
    json_t *h = json_object_get(http, "headers");
    assert_string_equal(pu_str(h, "x-api-key", ""), "sk-ant-secret");
    assert_string_equal(pu_str(h, "anthropic-version", ""), "2023-06-01");
    assert_string_equal(pu_str(h, "Content-Type", ""), "application/json");
    assert_null(json_object_get(h, "Authorization"));

    assert_string_equal(pu_str(body, "model", ""), "claude-test");
    assert_string_equal(pu_str(body, "system", ""), "You are terse.\n\nUse tools.");
    assert_true(json_is_true(json_object_get(body, "stream")));
    assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")), 1024);
    assert_true(json_real_value(json_object_get(body, "temperature")) == 0.2);
    assert_true(json_real_value(json_object_get(body, "top_p")) == 0.9);
    json_t *stop = json_object_get(body, "stop_sequences");
    assert_int_equal(json_array_size(stop), 2);
    assert_string_equal(json_string_value(json_array_get(stop, 1)), "END");
    assert_null(json_object_get(body, "seed"));
    assert_null(json_object_get(body, "metadata"));
    assert_null(json_object_get(body, "stop"));

    json_t *msgs = json_object_get(body, "messages");
    assert_int_equal(json_array_size(msgs), 3); /* user, assistant, user: merged and alternating */
    json_t *u1 = json_array_get(msgs, 0), *a = json_array_get(msgs, 1), *u2 = json_array_get(msgs, 2);
    assert_string_equal(pu_str(u1, "role", ""), "user");
    json_t *c = json_object_get(u1, "content");
    assert_int_equal(json_array_size(c), 3);
    assert_string_equal(pu_str(json_array_get(c, 0), "text", ""), "Weather in Oslo?");
    assert_string_equal(pu_str(json_array_get(c, 1), "text", ""), "and this?");
    json_t *img = json_array_get(c, 2);
    assert_string_equal(pu_str(img, "type", ""), "image");
    json_t *src = json_object_get(img, "source");
    assert_string_equal(pu_str(src, "type", ""), "base64");
    assert_string_equal(pu_str(src, "media_type", ""), "image/png");
    assert_string_equal(pu_str(src, "data", ""), "iVBORw0=");

    assert_string_equal(pu_str(a, "role", ""), "assistant");
    c = json_object_get(a, "content");
    assert_int_equal(json_array_size(c), 3);
    assert_string_equal(pu_str(json_array_get(c, 0), "type", ""), "text");
    assert_string_equal(pu_str(json_array_get(c, 0), "text", ""), "Checking.");
    json_t *tu = json_array_get(c, 1);
    assert_string_equal(pu_str(tu, "type", ""), "tool_use");
    assert_string_equal(pu_str(tu, "id", ""), "toolu_01A");
    assert_string_equal(pu_str(tu, "name", ""), "get_weather");
    assert_string_equal(pu_str(json_object_get(tu, "input"), "city", ""), "Oslo");
    tu = json_array_get(c, 2); /* a call whose arguments were invalid goes back with input {} */
    assert_string_equal(pu_str(tu, "id", ""), "toolu_01B");
    assert_true(json_is_object(json_object_get(tu, "input")));
    assert_int_equal(json_object_size(json_object_get(tu, "input")), 0);

    assert_string_equal(pu_str(u2, "role", ""), "user");
    c = json_object_get(u2, "content");
    assert_int_equal(json_array_size(c), 3); /* both tool results, then the text */
    json_t *tr = json_array_get(c, 0);
    assert_string_equal(pu_str(tr, "type", ""), "tool_result");
    assert_string_equal(pu_str(tr, "tool_use_id", ""), "toolu_01B");
    assert_string_equal(pu_str(tr, "content", ""), "no such file");
    assert_true(json_is_true(json_object_get(tr, "is_error")));
    tr = json_array_get(c, 1);
    assert_string_equal(pu_str(tr, "tool_use_id", ""), "toolu_01A");
    assert_string_equal(pu_str(tr, "content", ""), "{\"temp_c\":4}");
    assert_null(json_object_get(tr, "is_error"));
    assert_string_equal(pu_str(json_array_get(c, 2), "text", ""), "thanks");

    json_t *tools = json_object_get(body, "tools");
    assert_int_equal(json_array_size(tools), 2);
    json_t *t0 = json_array_get(tools, 0);
    assert_string_equal(pu_str(t0, "name", ""), "get_weather");
    assert_string_equal(pu_str(t0, "description", ""), "Current weather for a city");
    json_t *schema = json_object_get(t0, "input_schema");
    assert_string_equal(pu_str(schema, "type", ""), "object");
    assert_non_null(json_object_get(json_object_get(schema, "properties"), "city"));
    assert_null(json_object_get(t0, "examples"));
    assert_null(json_object_get(t0, "parameters"));
    /* a tool without parameters still gets an object schema */
    assert_string_equal(pu_str(json_object_get(json_array_get(tools, 1), "input_schema"), "type", ""), "object");
    assert_string_equal(pu_str(json_object_get(body, "tool_choice"), "type", ""), "any");

    json_decref(body);
    json_decref(http);
    anth_config_release(&cfg);
}

static void test_request_defaults(void **state)
{
    (void)state;
    anth_config cfg;
    open_cfg("{\"api_key_env\":\"\",\"base_url\":\"http://127.0.0.1:8080/v1\",\"model\":\"m\",\"stream\":false,"
             "\"headers\":{\"X-Extra\":\"1\"},\"options\":{\"beta\":\"tools-2024\"}}",
             &cfg);
    json_t *http = NULL;
    json_t *body = build(&cfg,
                         "{\"model\":\"claude-other\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                         "\"stop\":\"END\",\"tool_choice\":\"none\"}",
                         &http);
    assert_string_equal(pu_str(http, "url", ""), "http://127.0.0.1:8080/v1/messages"); /* /v1 not doubled */
    assert_string_equal(pu_str(http, "stream", ""), "none");
    json_t *h = json_object_get(http, "headers");
    assert_null(json_object_get(h, "x-api-key"));
    assert_string_equal(pu_str(h, "X-Extra", ""), "1");
    assert_string_equal(pu_str(h, "anthropic-beta", ""), "tools-2024");
    assert_string_equal(pu_str(body, "model", ""), "claude-other");
    assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")), 4096);
    assert_null(json_object_get(body, "stream"));
    assert_null(json_object_get(body, "system"));
    assert_null(json_object_get(body, "tool_choice")); /* no tools, no choice */
    assert_string_equal(json_string_value(json_array_get(json_object_get(body, "stop_sequences"), 0)), "END");
    json_t *m0 = json_array_get(json_object_get(body, "messages"), 0);
    assert_string_equal(pu_str(json_array_get(json_object_get(m0, "content"), 0), "text", ""), "hi");
    json_decref(body);
    json_decref(http);

    /* tool_choice none with tools */
    body = build(&cfg,
                 "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"name\":\"t\"}],"
                 "\"tool_choice\":\"none\"}",
                 &http);
    assert_string_equal(pu_str(json_object_get(body, "tool_choice"), "type", ""), "none");
    json_decref(body);
    json_decref(http);
    body = build(&cfg, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"name\":\"t\"}]}", &http);
    assert_string_equal(pu_str(json_object_get(body, "tool_choice"), "type", ""), "auto");
    json_decref(body);
    json_decref(http);
    anth_config_release(&cfg);
}

static void test_request_invalid(void **state)
{
    (void)state;
    anth_config cfg;
    open_cfg("{\"api_key_env\":\"\"}", &cfg);
    char *err = NULL;
    assert_int_equal(build_err(&cfg, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &err), VENOM_E_INVAL);
    assert_non_null(strstr(err, "no model: set providers.anthropic.model"));
    free(err);
    err = NULL;
    assert_int_equal(build_err(&cfg, "{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"hi\"}]}", &err),
                     VENOM_E_INVAL);
    assert_non_null(strstr(err, "messages[0] has unknown role 'robot'"));
    free(err);
    err = NULL;
    assert_int_equal(build_err(&cfg,
                               "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                               "{\"role\":\"tool\",\"content\":\"r\"}]}",
                               &err),
                     VENOM_E_INVAL);
    assert_non_null(strstr(err, "messages[1] (tool) has no tool_call_id"));
    free(err);
    err = NULL;
    assert_int_equal(build_err(&cfg,
                               "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                               "\"tools\":[{\"name\":\"t\"}],\"tool_choice\":\"sometimes\"}",
                               &err),
                     VENOM_E_INVAL);
    assert_non_null(strstr(err, "tool_choice 'sometimes'"));
    free(err);
    err = NULL;
    assert_int_equal(build_err(&cfg, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":42}]}", &err),
                     VENOM_E_INVAL);
    free(err);
    err = NULL;
    assert_int_equal(build_err(&cfg, "{\"model\":\"m\"}", &err), VENOM_E_INVAL);
    assert_non_null(strstr(err, "no messages"));
    free(err);
    anth_config_release(&cfg);
}

/* ------------------------------------------------------------ streaming */

static const char *STREAM_TOOL =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01X\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-real-1\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
    "\"input_tokens\":410,\"output_tokens\":1,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":2000}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"x\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\":\"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Check\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"ing.\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01A\","
    "\"name\":\"get_weather\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{\\\"city\\\": \\\"Os\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"lo\\\"}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01B\","
    "\"name\":\"noargs\",\"input\":{}}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":3}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
    "\"usage\":{\"output_tokens\":30}}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":52}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

static void test_stream_tool_calls(void **state)
{
    (void)state;
    anth_stream s;
    anth_stream_init(&s, "claude-test");
    json_t *deltas = json_array(), *resp = NULL;
    char *err = NULL;
    assert_int_equal(feed_sse(&s, STREAM_TOOL, deltas, &resp, &err), 0);
    assert_null(err);

    assert_string_equal(pu_str(resp, "model", ""), "claude-real-1");
    assert_string_equal(pu_str(resp, "id", ""), "msg_01X");
    assert_string_equal(pu_str(resp, "finish", ""), "tool_calls");
    json_t *msg = json_object_get(resp, "message");
    assert_string_equal(pu_str(msg, "role", ""), "assistant");
    assert_string_equal(pu_str(msg, "content", ""), "Checking."); /* thinking is not answer text */
    json_t *tcs = json_object_get(msg, "tool_calls");
    assert_int_equal(json_array_size(tcs), 2);
    json_t *tc = json_array_get(tcs, 0);
    assert_string_equal(pu_str(tc, "id", ""), "toolu_01A");
    assert_string_equal(pu_str(tc, "name", ""), "get_weather");
    assert_string_equal(pu_str(json_object_get(tc, "arguments"), "city", ""), "Oslo");
    tc = json_array_get(tcs, 1);
    assert_string_equal(pu_str(tc, "id", ""), "toolu_01B");
    assert_int_equal(json_object_size(json_object_get(tc, "arguments")), 0); /* no delta: {} */

    /* usage: the three input fields kept apart; output_tokens assigned (52, not 30+52) */
    json_t *u = json_object_get(resp, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "input_tokens")), 410);
    assert_int_equal(json_integer_value(json_object_get(u, "cached_input_tokens")), 2000);
    assert_int_equal(json_integer_value(json_object_get(u, "cache_write_tokens")), 100);
    assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 52);
    assert_true(json_is_false(json_object_get(u, "missing")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(u, "raw"), "cache_read_input_tokens")), 2000);

    /* deltas: two text pieces, one tool_call per call, the argument pieces */
    char *all = json_dumps(deltas, JSON_COMPACT);
    assert_string_equal(all, "[{\"type\":\"text\",\"text\":\"Check\"},{\"type\":\"text\",\"text\":\"ing.\"},"
                             "{\"type\":\"tool_call\",\"index\":0,\"id\":\"toolu_01A\",\"name\":\"get_weather\"},"
                             "{\"type\":\"tool_args\",\"index\":0,\"text\":\"{\\\"city\\\": \\\"Os\"},"
                             "{\"type\":\"tool_args\",\"index\":0,\"text\":\"lo\\\"}\"},"
                             "{\"type\":\"tool_call\",\"index\":1,\"id\":\"toolu_01B\",\"name\":\"noargs\"}]");
    free(all);
    json_decref(resp);
    json_decref(deltas);
    anth_stream_release(&s);
}

/* The arguments split at every position (and byte by byte), with the event
 * name left out (data.type decides). */
static void test_stream_args_every_split(void **state)
{
    (void)state;
    const char *args = "{\"path\": \"docs/r\\u00e9sum\\u00e9.md\", \"n\": [1, 2, {\"deep\": true}]}";
    size_t n = strlen(args);
    for (size_t cut = 0; cut <= n + 1; cut++) {
        anth_stream s;
        anth_stream_init(&s, "m");
        char *err = NULL;
        json_t *resp = NULL;
        feed1(&s, "", "{\"type\":\"message_start\",\"message\":{\"id\":\"m1\"}}");
        feed1(&s, NULL,
              "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\","
              "\"id\":\"t1\",\"name\":\"fs__read\",\"input\":{}}}");
        /* cut == n + 1: one byte per delta; else two pieces split at cut */
        for (size_t off = 0; off < n;) {
            size_t len = cut == n + 1 ? 1 : (off < cut ? cut - off : n - off);
            json_t *piece = json_pack("{s:s,s:i,s:{s:s,s:s%}}", "type", "content_block_delta", "index", 0, "delta",
                                      "type", "input_json_delta", "partial_json", args + off, len);
            char *text = json_dumps(piece, JSON_COMPACT);
            feed1(&s, "content_block_delta", text);
            free(text);
            json_decref(piece);
            off += len;
        }
        feed1(&s, "message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"}}");
        feed1(&s, "message_stop", "{\"type\":\"message_stop\"}");
        assert_int_equal(anth_stream_finish(&s, &resp, &err), 0);
        json_t *tc = json_array_get(json_object_get(json_object_get(resp, "message"), "tool_calls"), 0);
        json_t *a = json_object_get(tc, "arguments");
        assert_non_null(a);
        assert_string_equal(pu_str(a, "path", ""), "docs/r\xc3\xa9sum\xc3\xa9.md");
        assert_true(json_is_true(json_object_get(json_array_get(json_object_get(a, "n"), 2), "deep")));
        /* no usage came: flagged, never guessed */
        json_t *u = json_object_get(resp, "usage");
        assert_true(json_is_true(json_object_get(u, "missing")));
        assert_true(json_is_null(json_object_get(u, "raw")));
        json_decref(resp);
        anth_stream_release(&s);
    }
}

static void test_stream_text_only(void **state)
{
    (void)state;
    const char *sse =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"model\":\"m\",\"usage\":{\"input_tokens\":5,"
        "\"output_tokens\":1}}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"There are "
        "42 lines.\"}}\n\n"
        "event: content_block_stop\n"
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":9,"
        "\"input_tokens\":6}}\n\n"
        "event: future_event\n"
        "data: {\"type\":\"future_event\",\"x\":1}\n\n"
        "event: message_stop\n"
        "data: {\"type\":\"message_stop\"}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"late\"}}\n\n";
    anth_stream s;
    anth_stream_init(&s, "m");
    json_t *resp = NULL, *deltas = json_array();
    char *err = NULL;
    assert_int_equal(feed_sse(&s, sse, deltas, &resp, &err), 0);
    assert_string_equal(pu_str(json_object_get(resp, "message"), "content", ""), "There are 42 lines.");
    assert_null(json_object_get(json_object_get(resp, "message"), "tool_calls"));
    assert_string_equal(pu_str(resp, "finish", ""), "length");
    json_t *u = json_object_get(resp, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "input_tokens")), 6); /* repeated in message_delta */
    assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 9);
    assert_int_equal(json_integer_value(json_object_get(u, "cached_input_tokens")), 0);
    assert_int_equal(json_array_size(deltas), 1);
    json_decref(deltas);
    json_decref(resp);
    anth_stream_release(&s);
}

static void test_stream_invalid_args(void **state)
{
    (void)state;
    const char *sse =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_3\",\"model\":\"m\"}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t9\","
        "\"name\":\"fs__stat\",\"input\":{}}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{\\\"path\\\": \"}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t10\","
        "\"name\":\"arr\",\"input\":{}}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"[1,2]\"}}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"}}\n\n"
        "event: message_stop\n"
        "data: {\"type\":\"message_stop\"}\n\n";
    anth_stream s;
    anth_stream_init(&s, "m");
    json_t *resp = NULL;
    char *err = NULL;
    assert_int_equal(feed_sse(&s, sse, NULL, &resp, &err), 0); /* never an error of the call */
    json_t *tcs = json_object_get(json_object_get(resp, "message"), "tool_calls");
    json_t *tc = json_array_get(tcs, 0);
    assert_string_equal(pu_str(tc, "id", ""), "t9");
    assert_string_equal(pu_str(tc, "name", ""), "fs__stat");
    assert_null(json_object_get(tc, "arguments"));
    assert_string_equal(pu_str(tc, "arguments_raw", ""), "{\"path\": ");
    assert_non_null(strstr(pu_str(tc, "arguments_error", ""), "invalid JSON"));
    tc = json_array_get(tcs, 1);
    assert_string_equal(pu_str(tc, "arguments_raw", ""), "[1,2]");
    assert_non_null(strstr(pu_str(tc, "arguments_error", ""), "not an object"));
    assert_string_equal(pu_str(resp, "finish", ""), "tool_calls"); /* tool calls win over max_tokens */
    json_decref(resp);
    anth_stream_release(&s);
}

static void test_stream_errors(void **state)
{
    (void)state;
    const char *start = "event: message_start\n"
                        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"m\"}}\n\n"
                        "event: content_block_start\n"
                        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
                        "\"text\":\"\"}}\n\n"
                        "event: content_block_delta\n"
                        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
                        "\"text\":\"partial\"}}\n\n";
    struct {
        const char *tail;
        const char *want;
    } cases[] = {
        /* cut before message_stop: a partial answer is never complete */
        {"", "stream ended before message_stop (after 3 events)"},
        {"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}\n\n",
         "stream ended before message_stop"},
        /* an error event inside the 200 stream */
        {"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"
         "\n\n",
         "error mid-stream at event 4: overloaded_error: Overloaded"},
        /* not JSON */
        {"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\n\n",
         "malformed chunk at event 4"},
        {"event: content_block_delta\ndata: [1,2]\n\n", "malformed chunk at event 4: not a JSON object"},
        {"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":-1,\"delta\":{\"type\":"
         "\"text_delta\",\"text\":\"x\"}}\n\n",
         "malformed chunk at event 4: content block index"},
        {"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
         "\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
         "not a tool_use block"},
        {"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
         "\"tool_use\",\"name\":\"x\"}}\n\n",
         "tool_use block without id or name"},
        {"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":99999999,\"content_block\":{"
         "\"type\":\"text\"}}\n\n",
         "out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char sse[4096];
        snprintf(sse, sizeof sse, "%s%s", start, cases[i].tail);
        anth_stream s;
        anth_stream_init(&s, "m");
        json_t *resp = NULL;
        char *err = NULL;
        assert_int_equal(feed_sse(&s, sse, NULL, &resp, &err), VENOM_E_NET);
        assert_null(resp);
        if (!err || !strstr(err, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, err ? err : "(null)", cases[i].want);
        free(err);
        anth_stream_release(&s);
    }
}

/* ------------------------------------------------------------ whole bodies */

static void test_body(void **state)
{
    (void)state;
    const char *body =
        "{\"id\":\"msg_01X\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-real-1\",\"content\":["
        "{\"type\":\"thinking\",\"thinking\":\"secret plan\",\"signature\":\"s\"},"
        "{\"type\":\"text\",\"text\":\"Checking.\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01A\",\"name\":\"get_weather\",\"input\":{\"city\":\"Oslo\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01C\",\"name\":\"odd\",\"input\":\"str\"}],"
        "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
        "\"usage\":{\"input_tokens\":410,\"output_tokens\":52,\"cache_creation_input_tokens\":7,"
        "\"cache_read_input_tokens\":3,\"cache_creation\":{\"ephemeral_5m_input_tokens\":7},\"service_tier\":\"standard\"}}";
    json_t *resp = NULL;
    char *err = NULL;
    assert_int_equal(anth_parse_response(body, strlen(body), "req-model", &resp, &err), 0);
    assert_string_equal(pu_str(resp, "model", ""), "claude-real-1");
    assert_string_equal(pu_str(resp, "id", ""), "msg_01X");
    assert_string_equal(pu_str(resp, "finish", ""), "tool_calls");
    json_t *msg = json_object_get(resp, "message");
    assert_string_equal(pu_str(msg, "content", ""), "Checking.");
    json_t *tcs = json_object_get(msg, "tool_calls");
    assert_int_equal(json_array_size(tcs), 2);
    assert_string_equal(pu_str(json_object_get(json_array_get(tcs, 0), "arguments"), "city", ""), "Oslo");
    assert_string_equal(pu_str(json_array_get(tcs, 1), "arguments_raw", ""), "\"str\"");
    json_t *u = json_object_get(resp, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "input_tokens")), 410);
    assert_int_equal(json_integer_value(json_object_get(u, "cache_write_tokens")), 7);
    assert_int_equal(json_integer_value(json_object_get(u, "cached_input_tokens")), 3);
    assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 52);
    assert_string_equal(pu_str(json_object_get(u, "raw"), "service_tier", ""), "standard");
    json_decref(resp);

    const char *stop = "{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],\"stop_reason\":\"end_turn\"}";
    assert_int_equal(anth_parse_response(stop, strlen(stop), "req-model", &resp, &err), 0);
    assert_string_equal(pu_str(resp, "model", ""), "req-model");
    assert_string_equal(pu_str(resp, "finish", ""), "stop");
    assert_true(json_is_true(json_object_get(json_object_get(resp, "usage"), "missing")));
    json_decref(resp);

    const char *refusal = "{\"content\":[],\"stop_reason\":\"refusal\"}";
    assert_int_equal(anth_parse_response(refusal, strlen(refusal), "m", &resp, &err), 0);
    assert_string_equal(pu_str(resp, "finish", ""), "content_filter");
    assert_string_equal(pu_str(json_object_get(resp, "message"), "content", "x"), "");
    json_decref(resp);

    const char *ebody = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
    assert_int_equal(anth_parse_response(ebody, strlen(ebody), "m", &resp, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "overloaded_error: Overloaded"));
    free(err);
    err = NULL;
    assert_int_equal(anth_parse_response("<html>", 6, "m", &resp, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "malformed response body"));
    free(err);
    err = NULL;
    assert_int_equal(anth_parse_response("{\"id\":\"x\"}", 10, "m", &resp, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "no content array"));
    free(err);
}

static void test_error_message_and_models(void **state)
{
    (void)state;
    const char *b = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"},"
                    "\"request_id\":\"req_1\"}";
    char *m = anth_error_message(b, strlen(b));
    assert_string_equal(m, "rate_limit_error: slow down");
    free(m);
    m = anth_error_message("Request Entity Too Large", 24); /* a CDN's 413 is not JSON */
    assert_string_equal(m, "Request Entity Too Large");
    free(m);

    anth_config cfg;
    open_cfg("{\"api_key_env\":\"\",\"base_url\":\"http://127.0.0.1:1\"}", &cfg);
    json_t *http = NULL, *out = json_array();
    char *err = NULL, *next = NULL;
    assert_int_equal(anth_build_models(&cfg, NULL, &http, &err), 0);
    assert_string_equal(pu_str(http, "method", ""), "GET");
    assert_string_equal(pu_str(http, "url", ""), "http://127.0.0.1:1/v1/models?limit=1000");
    assert_string_equal(pu_str(json_object_get(http, "headers"), "anthropic-version", ""), "2023-06-01");
    assert_null(json_object_get(http, "body"));
    json_decref(http);
    assert_int_equal(anth_build_models(&cfg, "claude-x-1", &http, &err), 0);
    assert_string_equal(pu_str(http, "url", ""), "http://127.0.0.1:1/v1/models?limit=1000&after_id=claude-x-1");
    json_decref(http);
    assert_int_equal(anth_build_models(&cfg, "a&b=c", &http, &err), VENOM_E_NET);
    free(err);
    err = NULL;

    json_t *page = parse("{\"data\":[{\"type\":\"model\",\"id\":\"claude-a\",\"display_name\":\"Claude A\","
                         "\"created_at\":\"2025-01-01T00:00:00Z\"},{\"id\":\"claude-b\"}],\"has_more\":true,"
                         "\"last_id\":\"claude-b\"}");
    assert_int_equal(anth_parse_models(page, out, &next, &err), 0);
    assert_string_equal(next, "claude-b");
    assert_int_equal(json_array_size(out), 2);
    assert_string_equal(pu_str(json_array_get(out, 0), "name", ""), "Claude A");
    assert_string_equal(pu_str(json_array_get(out, 1), "id", ""), "claude-b");
    free(next);
    json_decref(page);
    page = parse("{\"models\":[]}");
    assert_int_equal(anth_parse_models(page, out, &next, &err), VENOM_E_NET);
    free(err);
    json_decref(page);
    json_decref(out);
    anth_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_request_full),
        cmocka_unit_test(test_request_defaults),
        cmocka_unit_test(test_request_invalid),
        cmocka_unit_test(test_stream_tool_calls),
        cmocka_unit_test(test_stream_args_every_split),
        cmocka_unit_test(test_stream_text_only),
        cmocka_unit_test(test_stream_invalid_args),
        cmocka_unit_test(test_stream_errors),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_error_message_and_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
