/*
 * test_provider_openai.c — the OpenAI provider's wire translation
 * (plugins/openai/wire.c) and the shared provider helpers
 * (plugins/common/provider_util.c), both included directly: canonical
 * request → Chat Completions request, the SSE stream state machine, the
 * non-streaming body, usage, errors, embeddings and models. Wire samples
 * follow ../shared/reference/wire-formats.md section 1.
 */
#include "testsupport.h"
#include "util/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/common/provider_util.c"
#include "../../plugins/openai/wire.c"

/* ------------------------------------------------------------ helpers */

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON (%s): %s", e.text, text);
    return j;
}

/* actual (borrowed) equals the JSON text want. */
static void assert_json(const json_t *actual, const char *want)
{
    json_t *w = J(want);
    if (!json_equal(actual, w)) {
        char *a = json_dumps(actual, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *b = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        fail_msg("JSON differs\n  got:  %s\n  want: %s", a ? a : "(null)", b ? b : "(null)");
    }
    json_decref(w);
}

/* The body of an http request, parsed. */
static json_t *body_of(const json_t *http)
{
    return J(json_string_value(json_object_get(http, "body")));
}

static pu_config cfg_from(const char *config_json)
{
    pu_config cfg;
    char *err = NULL;
    int rc = pu_config_parse(config_json, "openai", OAI_DEFAULT_BASE, OAI_DEFAULT_KEY_ENV, &cfg, &err);
    if (rc != VENOM_OK)
        fail_msg("config: %s", err ? err : "?");
    return cfg;
}

/* Feed SSE data events (NULL-terminated); returns the first failing code. */
static int feed(oai_stream *s, const char *const *events, json_t *deltas, char **err)
{
    for (size_t i = 0; events[i]; i++) {
        int rc = oai_stream_feed(s, "", events[i], strlen(events[i]), deltas, err);
        if (rc != VENOM_OK)
            return rc;
    }
    return VENOM_OK;
}

/* Run a whole stream; returns the finish code, *resp the response. */
static int run_stream(const char *const *events, json_t **resp, json_t **deltas, char **err)
{
    oai_stream s;
    assert_int_equal(oai_stream_init(&s, "asked-model"), 0);
    json_t *d = json_array();
    *resp = NULL;
    int rc = feed(&s, events, d, err);
    if (rc == VENOM_OK)
        rc = oai_stream_finish(&s, resp, err);
    oai_stream_release(&s);
    if (deltas)
        *deltas = d;
    else
        json_decref(d);
    return rc;
}

#define CHUNK(delta, finish)                                                                                         \
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-x-2026\","         \
    "\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" finish "}],\"usage\":null}"
#define USAGE_CHUNK                                                                                                  \
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-x-2026\","         \
    "\"choices\":[],\"usage\":{\"prompt_tokens\":82,\"completion_tokens\":17,\"total_tokens\":99,"                 \
    "\"prompt_tokens_details\":{\"cached_tokens\":32}}}"

/* ------------------------------------------------------------ request */

static const char *FULL_REQUEST =
    "{\"model\":\"gpt-4o-mini\",\"messages\":["
    "{\"role\":\"system\",\"content\":\"You are terse.\"},"
    "{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what is this?\"},"
    "  {\"type\":\"image\",\"media_type\":\"image/png\",\"data\":\"iVBORw0K\"}]},"
    "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
    "  {\"id\":\"call_a1\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}},"
    "  {\"id\":\"call_a2\",\"name\":\"fs__read\",\"arguments_raw\":\"{\\\"path\\\": \",\"arguments_error\":\"x\"}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_a2\",\"name\":\"fs__read\",\"content\":\"bad args\",\"is_error\":true},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_a1\",\"name\":\"get_weather\",\"content\":\"{\\\"temp_c\\\":4}\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_b\",\"name\":\"t\",\"arguments\":{}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_b\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
    "  {\"type\":\"text\",\"text\":\"b\"}]}],"
    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Current weather for a city\","
    "  \"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]},"
    "  \"examples\":[{\"args\":{\"city\":\"Oslo\"}}]},"
    " {\"name\":\"t\"}],"
    "\"tool_choice\":\"required\",\"stream\":true,\"max_tokens\":1024,\"temperature\":0.2,\"top_p\":0.9,"
    "\"stop\":[\"\\n\\n\"],\"seed\":7,\"metadata\":{\"workdir\":\"/w\"}}";

static void test_request_full_conversation(void **state)
{
    (void)state;
    setenv("VENOM_TEST_OAI_KEY", "sk-test-123", 1);
    pu_config cfg = cfg_from("{\"name\":\"openai\",\"base_url\":\"http://127.0.0.1:9/v1/\","
                             "\"api_key_env\":\"VENOM_TEST_OAI_KEY\",\"model\":\"cfg-model\",\"stream\":true,"
                             "\"headers\":{\"OpenAI-Project\":\"p1\"}}");
    json_t *req = J(FULL_REQUEST), *http = NULL;
    char *err = NULL;
    assert_int_equal(oai_chat_request(&cfg, req, &http, &err), 0);
    assert_string_equal(pu_str(http, "method", ""), "POST");
    assert_string_equal(pu_str(http, "url", ""), "http://127.0.0.1:9/v1/chat/completions");
    assert_string_equal(pu_str(http, "stream", ""), "sse");
    assert_json(json_object_get(http, "headers"),
                "{\"Content-Type\":\"application/json\",\"Accept\":\"text/event-stream\","
                "\"OpenAI-Project\":\"p1\",\"Authorization\":\"Bearer sk-test-123\"}");
    json_t *body = body_of(http);
    assert_string_equal(pu_str(body, "model", ""), "gpt-4o-mini"); /* the request's model wins */
    json_t *m = json_object_get(body, "messages");
    assert_int_equal(json_array_size(m), 8);
    assert_json(json_array_get(m, 0), "{\"role\":\"system\",\"content\":\"You are terse.\"}");
    assert_json(json_array_get(m, 1), "{\"role\":\"user\",\"content\":\"Weather in Oslo?\"}");
    assert_json(json_array_get(m, 2),
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what is this?\"},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0K\"}}]}");
    /* arguments as a JSON string; an invalid call goes back exactly as received */
    assert_json(json_array_get(m, 3),
                "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
                "{\"id\":\"call_a1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                "\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}},"
                "{\"id\":\"call_a2\",\"type\":\"function\",\"function\":{\"name\":\"fs__read\","
                "\"arguments\":\"{\\\"path\\\": \"}}]}");
    assert_json(json_array_get(m, 4), "{\"role\":\"tool\",\"tool_call_id\":\"call_a2\",\"content\":\"bad args\"}");
    assert_json(json_array_get(m, 5),
                "{\"role\":\"tool\",\"tool_call_id\":\"call_a1\",\"content\":\"{\\\"temp_c\\\":4}\"}");
    /* only tool calls: content null */
    assert_json(json_array_get(m, 6),
                "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_b\",\"type\":\"function\","
                "\"function\":{\"name\":\"t\",\"arguments\":\"{}\"}}]}");
    assert_json(json_array_get(m, 7), "{\"role\":\"tool\",\"tool_call_id\":\"call_b\",\"content\":\"a\\nb\"}");
    assert_json(json_object_get(body, "tools"),
                "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                "\"description\":\"Current weather for a city\",\"parameters\":{\"type\":\"object\","
                "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}},"
                "{\"type\":\"function\",\"function\":{\"name\":\"t\","
                "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]");
    assert_string_equal(pu_str(body, "tool_choice", ""), "required");
    int64_t n = 0;
    assert_true(pu_int(body, "max_tokens", &n));
    assert_int_equal(n, 1024);
    assert_null(json_object_get(body, "max_completion_tokens"));
    assert_true(json_real_value(json_object_get(body, "temperature")) == 0.2);
    assert_true(json_real_value(json_object_get(body, "top_p")) == 0.9);
    assert_json(json_object_get(body, "stop"), "[\"\\n\\n\"]");
    assert_true(pu_int(body, "seed", &n));
    assert_int_equal(n, 7);
    assert_true(json_is_true(json_object_get(body, "stream")));
    assert_json(json_object_get(body, "stream_options"), "{\"include_usage\":true}");
    assert_null(json_object_get(body, "metadata")); /* hints stay home */
    assert_null(err);
    json_decref(body);
    json_decref(http);
    json_decref(req);
    pu_config_release(&cfg);
}

static void test_request_options(void **state)
{
    (void)state;
    /* no key, no streaming, max_completion_tokens, the configured model */
    pu_config cfg = cfg_from("{\"api_key_env\":\"\",\"model\":\"local\",\"stream\":false,"
                             "\"options\":{\"max_completion_tokens\":true}}");
    assert_string_equal(cfg.base_url, OAI_DEFAULT_BASE);
    json_t *req = J("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5,"
                    "\"tools\":[],\"tool_choice\":\"none\",\"stop\":\"END\"}");
    json_t *http = NULL;
    char *err = NULL;
    assert_int_equal(oai_chat_request(&cfg, req, &http, &err), 0);
    assert_json(json_object_get(http, "headers"), "{\"Content-Type\":\"application/json\"}");
    assert_string_equal(pu_str(http, "stream", ""), "none");
    json_t *body = body_of(http);
    assert_json(body, "{\"model\":\"local\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                      "\"max_completion_tokens\":5,\"stop\":\"END\",\"stream\":false}");
    json_decref(body);
    json_decref(http);
    json_decref(req);

    /* canonical request errors say which message and what is wrong */
    static const struct {
        const char *req, *want;
    } bad[] = {
        {"{\"messages\":[]}", "non-empty \"messages\""},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"robot\",\"content\":\"x\"}]}",
         "message 1 has role 'robot'"},
        {"{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"name\":\"x\",\"arguments\":{}}]}]}",
         "message 0: tool call 0 needs a string \"id\""},
        {"{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "message 0: a tool message needs"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"audio\"}]}]}",
         "message 0: content part 0 has unknown type 'audio'"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"data\":\"x\"}]}]}",
         "message 0: image part 0 needs"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":7}]}", "message 0: message content must be"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"tools\":[{\"description\":\"d\"}]}",
         "tool 0 needs a string \"name\""},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"tools\":[{\"name\":\"t\"}],\"tool_choice\":\"x\"}",
         "\"tool_choice\" is 'x'"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":0}", "\"max_tokens\" must be"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"stop\":[1]}", "\"stop\" must be"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        req = J(bad[i].req);
        http = NULL;
        assert_int_equal(oai_chat_request(&cfg, req, &http, &err), VENOM_E_INVAL);
        assert_null(http);
        assert_non_null(err);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].want);
        free(err);
        err = NULL;
        json_decref(req);
    }
    pu_config_release(&cfg);

    /* no model anywhere */
    cfg = cfg_from("{\"api_key_env\":\"\"}");
    req = J("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}");
    assert_int_equal(oai_chat_request(&cfg, req, &http, &err), VENOM_E_INVAL);
    assert_non_null(strstr(err, "providers.openai.model"));
    free(err);
    json_decref(req);
    pu_config_release(&cfg);
}

static void test_config(void **state)
{
    (void)state;
    pu_config cfg;
    char *err = NULL;
    unsetenv("VENOM_TEST_UNSET_KEY");
    assert_int_equal(pu_config_parse("{\"name\":\"work\",\"api_key_env\":\"VENOM_TEST_UNSET_KEY\"}", "openai",
                                     OAI_DEFAULT_BASE, OAI_DEFAULT_KEY_ENV, &cfg, &err),
                     VENOM_E_PERM);
    assert_string_equal(err, "environment variable VENOM_TEST_UNSET_KEY (providers.work.api_key_env) is not set: "
                             "export it, or set api_key_env: \"\" for a server without keys");
    free(err);
    err = NULL;
    /* the default variable is OPENAI_API_KEY */
    setenv("OPENAI_API_KEY", "sk-default", 1);
    assert_int_equal(pu_config_parse("{}", "openai", OAI_DEFAULT_BASE, OAI_DEFAULT_KEY_ENV, &cfg, &err), 0);
    assert_string_equal(cfg.api_key, "sk-default");
    assert_string_equal(cfg.base_url, "https://api.openai.com/v1");
    assert_true(cfg.stream);
    pu_config_release(&cfg);
    unsetenv("OPENAI_API_KEY");
    assert_int_equal(pu_config_parse("{}", "openai", OAI_DEFAULT_BASE, OAI_DEFAULT_KEY_ENV, &cfg, &err),
                     VENOM_E_PERM);
    assert_non_null(strstr(err, "OPENAI_API_KEY"));
    free(err);
    err = NULL;
    static const struct {
        const char *cfg, *want;
    } bad[] = {
        {"[1]", "not a JSON object"},
        {"{\"api_key_env\":\"\",\"base_url\":\"ftp://x\"}", "is not an http:// or https:// URL"},
        {"{\"api_key_env\":\"\",\"stream\":\"yes\"}", "stream must be true or false"},
        {"{\"api_key_env\":\"\",\"headers\":{\"X\":\"a\\r\\nEvil: 1\"}}", "headers.X must be a one-line string"},
        {"{\"api_key_env\":\"\",\"options\":[]}", "options must be an object"},
        {"{\"api_key_env\":5}", "api_key_env must be a string"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(pu_config_parse(bad[i].cfg, "openai", OAI_DEFAULT_BASE, OAI_DEFAULT_KEY_ENV, &cfg, &err),
                         VENOM_E_INVAL);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].want);
        free(err);
        err = NULL;
    }
}

/* ------------------------------------------------------------ streaming */

static void test_stream_text(void **state)
{
    (void)state;
    const char *events[] = {CHUNK("{\"role\":\"assistant\",\"content\":\"\"}", "null"),
                            CHUNK("{\"content\":\"There are \"}", "null"),
                            ": keep-alive comments never reach here, but blank data is skipped",
                            CHUNK("{\"content\":\"42 lines.\"}", "null"),
                            CHUNK("{}", "\"stop\""),
                            USAGE_CHUNK,
                            "[DONE]",
                            NULL};
    /* the comment line above is not JSON: the host strips comments, so
     * feed the real sequence without it */
    const char *real[] = {events[0], events[1], events[3], events[4], events[5], events[6], NULL};
    json_t *resp = NULL, *deltas = NULL;
    char *err = NULL;
    assert_int_equal(run_stream(real, &resp, &deltas, &err), 0);
    assert_json(deltas, "[{\"type\":\"text\",\"text\":\"There are \"},{\"type\":\"text\",\"text\":\"42 lines.\"}]");
    assert_json(resp, "{\"model\":\"gpt-x-2026\",\"id\":\"chatcmpl-1\",\"message\":{\"role\":\"assistant\","
                      "\"content\":\"There are 42 lines.\"},\"finish\":\"stop\",\"usage\":{\"input_tokens\":50,"
                      "\"cached_input_tokens\":32,\"cache_write_tokens\":0,\"output_tokens\":17,\"missing\":false,"
                      "\"raw\":{\"prompt_tokens\":82,\"completion_tokens\":17,\"total_tokens\":99,"
                      "\"prompt_tokens_details\":{\"cached_tokens\":32}}}}");
    json_decref(resp);
    json_decref(deltas);
    /* and a non-JSON chunk is an error naming the event */
    assert_int_equal(run_stream(events, &resp, NULL, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "malformed chunk at event 3"));
    assert_null(resp);
    free(err);
}

/* Arguments split at every position, a second interleaved call, and the
 * canonical deltas. */
static void test_stream_tool_calls_every_split(void **state)
{
    (void)state;
    const char *args = "{\"city\":\"Oslo\",\"units\":\"metric\"}";
    size_t len = strlen(args);
    for (size_t k = 0; k <= len; k++) {
        char a1[128], a2[128], e1[512], e2[512];
        /* JSON-escape the two halves */
        json_t *s1 = json_stringn(args, k), *s2 = json_stringn(args + k, len - k);
        char *t1 = json_dumps(s1, JSON_ENCODE_ANY), *t2 = json_dumps(s2, JSON_ENCODE_ANY);
        snprintf(a1, sizeof a1, "%s", t1);
        snprintf(a2, sizeof a2, "%s", t2);
        free(t1), free(t2), json_decref(s1), json_decref(s2);
        snprintf(e1, sizeof e1,
                 CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":%s}}]}", "null"), a1);
        snprintf(e2, sizeof e2,
                 CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":%s}}]}", "null"), a2);
        const char *events[] = {
            CHUNK("{\"content\":\"Let me check.\"}", "null"),
            CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"call_a1\",\"type\":\"function\","
                  "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}",
                  "null"),
            e1,
            CHUNK("{\"tool_calls\":[{\"index\":1,\"id\":7,\"type\":\"function\","
                  "\"function\":{\"name\":\"fs__stat\",\"arguments\":\"{\\\"path\\\":\"}}]}",
                  "null"),
            e2,
            CHUNK("{\"tool_calls\":[{\"index\":1,\"function\":{\"name\":\"fs__stat\",\"arguments\":\"\\\"a\\\"}\"}}]}",
                  "null"),
            CHUNK("{}", "\"tool_calls\""),
            USAGE_CHUNK,
            "[DONE]",
            NULL};
        json_t *resp = NULL, *deltas = NULL;
        char *err = NULL;
        assert_int_equal(run_stream(events, &resp, &deltas, &err), 0);
        assert_json(json_object_get(resp, "message"),
                    "{\"role\":\"assistant\",\"content\":\"Let me check.\",\"tool_calls\":["
                    "{\"id\":\"call_a1\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\",\"units\":\"metric\"}},"
                    "{\"id\":\"7\",\"name\":\"fs__stat\",\"arguments\":{\"path\":\"a\"}}]}");
        assert_string_equal(pu_str(resp, "finish", ""), "tool_calls");
        /* deltas: text, call 0, its pieces, call 1, … ; concatenated args match */
        assert_json(json_array_get(deltas, 0), "{\"type\":\"text\",\"text\":\"Let me check.\"}");
        assert_json(json_array_get(deltas, 1),
                    "{\"type\":\"tool_call\",\"index\":0,\"id\":\"call_a1\",\"name\":\"get_weather\"}");
        pu_buf cat = {0};
        size_t i;
        json_t *d;
        int calls = 0;
        json_array_foreach(deltas, i, d)
        {
            if (strcmp(pu_str(d, "type", ""), "tool_call") == 0)
                calls++;
            int64_t idx = -1;
            pu_int(d, "index", &idx);
            if (strcmp(pu_str(d, "type", ""), "tool_args") == 0 && idx == 0)
                assert_int_equal(pu_buf_add(&cat, pu_str(d, "text", ""), strlen(pu_str(d, "text", ""))), 0);
        }
        assert_int_equal(calls, 2);
        assert_string_equal(pu_buf_str(&cat), args);
        pu_buf_release(&cat);
        json_decref(resp);
        json_decref(deltas);
    }
}

/* A server that reuses index 0 for a parallel batch, and whole calls in one
 * chunk (Ollama /v1), with no [DONE] but a finish_reason. */
static void test_stream_index_reuse(void **state)
{
    (void)state;
    const char *events[] = {
        CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\":1}\"}},"
              "{\"index\":0,\"id\":\"c2\",\"function\":{\"name\":\"b\",\"arguments\":\"{}\"}}]}",
              "null"),
        CHUNK("{}", "\"stop\""), NULL};
    json_t *resp = NULL;
    char *err = NULL;
    assert_int_equal(run_stream(events, &resp, NULL, &err), 0);
    assert_json(json_object_get(json_object_get(resp, "message"), "tool_calls"),
                "[{\"id\":\"c1\",\"name\":\"a\",\"arguments\":{\"x\":1}},{\"id\":\"c2\",\"name\":\"b\",\"arguments\":{}}]");
    /* "stop" with tool calls is still tool_calls; no usage chunk → missing */
    assert_string_equal(pu_str(resp, "finish", ""), "tool_calls");
    assert_json(json_object_get(resp, "usage"), "{\"input_tokens\":0,\"cached_input_tokens\":0,"
                                                "\"cache_write_tokens\":0,\"output_tokens\":0,\"missing\":true,"
                                                "\"raw\":null}");
    json_decref(resp);
}

static void test_stream_invalid_tool_args(void **state)
{
    (void)state;
    const char *events[] = {
        CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"fs__read\",\"arguments\":\"{\\\"path\\\": \"}}]}",
              "null"),
        CHUNK("{\"tool_calls\":[{\"index\":1,\"id\":\"c2\",\"function\":{\"name\":\"x\",\"arguments\":\"[1,2]\"}}]}",
              "null"),
        CHUNK("{\"tool_calls\":[{\"index\":2,\"id\":\"c3\",\"function\":{\"name\":\"y\",\"arguments\":\"  \"}}]}",
              "null"),
        CHUNK("{}", "\"length\""), "[DONE]", NULL};
    json_t *resp = NULL;
    char *err = NULL;
    assert_int_equal(run_stream(events, &resp, NULL, &err), 0);
    json_t *calls = json_object_get(json_object_get(resp, "message"), "tool_calls");
    json_t *c0 = json_array_get(calls, 0), *c1 = json_array_get(calls, 1), *c2 = json_array_get(calls, 2);
    assert_string_equal(pu_str(c0, "id", ""), "c1");
    assert_string_equal(pu_str(c0, "name", ""), "fs__read");
    assert_null(json_object_get(c0, "arguments"));
    assert_string_equal(pu_str(c0, "arguments_raw", ""), "{\"path\": ");
    assert_non_null(strstr(pu_str(c0, "arguments_error", ""), "invalid JSON at"));
    assert_string_equal(pu_str(c1, "arguments_raw", ""), "[1,2]");
    assert_string_equal(pu_str(c1, "arguments_error", ""), "arguments are JSON an array, not an object");
    assert_json(json_object_get(c2, "arguments"), "{}"); /* blank means {} */
    assert_string_equal(pu_str(resp, "finish", ""), "tool_calls");
    json_decref(resp);
}

static void test_stream_terminal_marker(void **state)
{
    (void)state;
    json_t *resp = NULL;
    char *err = NULL;
    /* text, then the connection closes: incomplete */
    const char *cut[] = {CHUNK("{\"content\":\"There are\"}", "null"), NULL};
    assert_int_equal(run_stream(cut, &resp, NULL, &err), VENOM_E_NET);
    assert_string_equal(err, "stream ended before data: [DONE] (no finish_reason either) after 1 events: the "
                             "answer is incomplete");
    assert_null(resp);
    free(err);
    err = NULL;
    /* an empty stream too */
    const char *none[] = {NULL};
    assert_int_equal(run_stream(none, &resp, NULL, &err), VENOM_E_NET);
    free(err);
    err = NULL;
    /* finish_reason but no [DONE]: accepted (the answer is whole) */
    const char *no_done[] = {CHUNK("{\"content\":\"ok\"}", "null"), CHUNK("{}", "\"stop\""), NULL};
    assert_int_equal(run_stream(no_done, &resp, NULL, &err), 0);
    assert_string_equal(pu_str(json_object_get(resp, "message"), "content", ""), "ok");
    json_decref(resp);
    /* the usage chunk (which follows the last choice) but no [DONE]: accepted */
    const char *usage_only[] = {CHUNK("{\"content\":\"ok\"}", "null"), USAGE_CHUNK, NULL};
    assert_int_equal(run_stream(usage_only, &resp, NULL, &err), 0);
    assert_false(json_is_true(json_object_get(json_object_get(resp, "usage"), "missing")));
    json_decref(resp);
    /* [DONE] then junk: the junk is ignored */
    const char *after[] = {CHUNK("{\"content\":\"ok\"}", "null"), "[DONE]", "garbage", NULL};
    assert_int_equal(run_stream(after, &resp, NULL, &err), 0);
    json_decref(resp);
}

static void test_stream_error_event(void **state)
{
    (void)state;
    json_t *resp = NULL;
    char *err = NULL;
    const char *events[] = {CHUNK("{\"content\":\"par\"}", "null"),
                            "{\"error\":{\"message\":\"The server had an error while processing your request.\","
                            "\"type\":\"server_error\",\"param\":null,\"code\":null}}",
                            "[DONE]", NULL};
    assert_int_equal(run_stream(events, &resp, NULL, &err), VENOM_E_NET);
    assert_string_equal(err, "the server reported an error in the stream at event 2: The server had an error while "
                             "processing your request. (server_error)");
    assert_null(resp);
    free(err);
    err = NULL;
    /* llama.cpp: integer code; vLLM old builds: flat message */
    const char *llama[] = {"{\"error\":{\"code\":503,\"message\":\"Loading model\",\"type\":\"unavailable_error\"}}",
                           NULL};
    assert_int_equal(run_stream(llama, &resp, NULL, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "Loading model (unavailable_error, 503)"));
    free(err);
    err = NULL;
    /* a chunk that is JSON but not an object */
    const char *arr[] = {"[1,2]", NULL};
    assert_int_equal(run_stream(arr, &resp, NULL, &err), VENOM_E_NET);
    assert_string_equal(err, "malformed chunk at event 1: not a JSON object: [1,2]");
    free(err);
    err = NULL;
    /* truncated JSON */
    const char *trunc[] = {"{\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"x", NULL};
    assert_int_equal(run_stream(trunc, &resp, NULL, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "malformed chunk at event 1: "));
    free(err);
}

/* ------------------------------------------------------------ non-streaming, usage */

static void test_body(void **state)
{
    (void)state;
    const char *body =
        "{\"id\":\"chatcmpl-abc\",\"object\":\"chat.completion\",\"created\":1763770000,\"model\":\"gpt-x\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":null,"
        "\"tool_calls\":[{\"id\":\"call_a1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}},{\"id\":\"call_a2\",\"type\":\"function\","
        "\"function\":{\"name\":\"noop\",\"arguments\":\"\"}}]},"
        "\"finish_reason\":\"tool_calls\",\"logprobs\":null}],"
        "\"usage\":{\"prompt_tokens\":82,\"completion_tokens\":17,\"total_tokens\":99,"
        "\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":5}}}";
    oai_stream s;
    assert_int_equal(oai_stream_init(&s, "asked"), 0);
    json_t *resp = NULL;
    char *err = NULL;
    assert_int_equal(oai_body(&s, body, strlen(body), &resp, &err), 0);
    oai_stream_release(&s);
    assert_json(resp, "{\"model\":\"gpt-x\",\"id\":\"chatcmpl-abc\",\"message\":{\"role\":\"assistant\","
                      "\"content\":\"\",\"tool_calls\":[{\"id\":\"call_a1\",\"name\":\"get_weather\","
                      "\"arguments\":{\"city\":\"Oslo\"}},{\"id\":\"call_a2\",\"name\":\"noop\",\"arguments\":{}}]},"
                      "\"finish\":\"tool_calls\",\"usage\":{\"input_tokens\":82,\"cached_input_tokens\":0,"
                      "\"cache_write_tokens\":0,\"output_tokens\":17,\"missing\":false,\"raw\":{\"prompt_tokens\":82,"
                      "\"completion_tokens\":17,\"total_tokens\":99,\"prompt_tokens_details\":{\"cached_tokens\":0},"
                      "\"completion_tokens_details\":{\"reasoning_tokens\":5}}}}");
    json_decref(resp);

    static const struct {
        const char *body, *want;
    } bad[] = {
        {"{\"error\":{\"message\":\"Incorrect API key\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}",
         "the server reported an error in the reply: Incorrect API key (invalid_request_error, invalid_api_key)"},
        {"{\"object\":\"error\",\"message\":\"flat vllm\",\"error\":\"\"}", "the server reported an error in the reply: "},
        {"<html>502</html>", "the reply is not a JSON object"},
        {"{\"choices\":[]}", "the reply has no choices[0].message"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(oai_stream_init(&s, NULL), 0);
        assert_int_equal(oai_body(&s, bad[i].body, strlen(bad[i].body), &resp, &err), VENOM_E_NET);
        oai_stream_release(&s);
        assert_null(resp);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].want);
        free(err);
        err = NULL;
    }
}

static void test_usage_mapping(void **state)
{
    (void)state;
    json_t *u = J("{\"prompt_tokens\":1000,\"completion_tokens\":250,\"total_tokens\":1250,"
                  "\"prompt_tokens_details\":{\"cached_tokens\":600,\"audio_tokens\":0},"
                  "\"completion_tokens_details\":{\"reasoning_tokens\":200}}");
    json_t *c = oai_usage(u);
    /* uncached = 1000 - 600; output includes reasoning */
    assert_int_equal(json_integer_value(json_object_get(c, "input_tokens")), 400);
    assert_int_equal(json_integer_value(json_object_get(c, "cached_input_tokens")), 600);
    assert_int_equal(json_integer_value(json_object_get(c, "output_tokens")), 250);
    assert_int_equal(json_integer_value(json_object_get(c, "cache_write_tokens")), 0);
    assert_false(json_is_true(json_object_get(c, "missing")));
    assert_true(json_equal(json_object_get(c, "raw"), u));
    json_decref(c);
    json_decref(u);
    /* no details (local servers) */
    u = J("{\"prompt_tokens\":12,\"completion_tokens\":3}");
    c = oai_usage(u);
    assert_int_equal(json_integer_value(json_object_get(c, "input_tokens")), 12);
    assert_int_equal(json_integer_value(json_object_get(c, "cached_input_tokens")), 0);
    json_decref(c);
    json_decref(u);
    /* no usage at all */
    c = oai_usage(NULL);
    assert_true(json_is_true(json_object_get(c, "missing")));
    assert_true(json_is_null(json_object_get(c, "raw")));
    json_decref(c);
}

/* ------------------------------------------------------------ embeddings, models, errors */

static void test_embed_and_models(void **state)
{
    (void)state;
    pu_config cfg = cfg_from("{\"api_key_env\":\"\",\"base_url\":\"http://localhost:8000/v1\","
                             "\"options\":{\"embedding_model\":\"emb-1\"}}");
    json_t *req = J("{\"input\":[\"first text\",\"second text\"]}"), *http = NULL;
    char *err = NULL;
    assert_int_equal(oai_embed_request(&cfg, req, &http, &err), 0);
    assert_string_equal(pu_str(http, "url", ""), "http://localhost:8000/v1/embeddings");
    json_t *body = body_of(http);
    assert_json(body, "{\"model\":\"emb-1\",\"input\":[\"first text\",\"second text\"],\"encoding_format\":\"float\"}");
    json_decref(body);
    json_decref(http);
    json_decref(req);
    req = J("{\"input\":[1]}");
    assert_int_equal(oai_embed_request(&cfg, req, &http, &err), VENOM_E_INVAL);
    free(err);
    err = NULL;
    json_decref(req);

    /* results ordered by data[].index */
    json_t *reply = J("{\"object\":\"list\",\"model\":\"emb-1\",\"data\":["
                      "{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.0222,0.0101]},"
                      "{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.0123,-0.0456]}],"
                      "\"usage\":{\"prompt_tokens\":6,\"total_tokens\":6}}");
    json_t *out = NULL;
    assert_int_equal(oai_embed_result(reply, &out, &err), 0);
    assert_json(out, "{\"model\":\"emb-1\",\"embeddings\":[[0.0123,-0.0456],[0.0222,0.0101]],"
                     "\"usage\":{\"input_tokens\":6,\"missing\":false,\"raw\":{\"prompt_tokens\":6,\"total_tokens\":6}}}");
    json_decref(out);
    json_decref(reply);
    reply = J("{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[2]}]}");
    assert_int_equal(oai_embed_result(reply, &out, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "bad entry 1"));
    free(err);
    err = NULL;
    json_decref(reply);

    assert_int_equal(oai_models_request(&cfg, &http, &err), 0);
    assert_json(http, "{\"method\":\"GET\",\"url\":\"http://localhost:8000/v1/models\",\"headers\":{},"
                      "\"stream\":\"none\"}");
    json_decref(http);
    reply = J("{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\",\"object\":\"model\",\"created\":1715367049,"
              "\"owned_by\":\"system\"},{\"id\":\"local\"},{\"object\":\"model\"}]}");
    assert_int_equal(oai_models_result(reply, &out, &err), 0);
    assert_json(out, "{\"models\":[{\"id\":\"gpt-4o\",\"owned_by\":\"system\",\"created\":1715367049},{\"id\":\"local\"}]}");
    json_decref(out);
    json_decref(reply);
    pu_config_release(&cfg);
}

static void test_error_message(void **state)
{
    (void)state;
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}",
         "Rate limit reached"},
        {"{\"error\":\"model 'x' not found\"}", "model 'x' not found"},
        {"{\"object\":\"error\",\"message\":\"flat\",\"code\":400}", "flat"},
        {"Bad Gateway\n", "Bad Gateway "},
        {"", "(empty body)"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *m = pu_error_message(cases[i].body, strlen(cases[i].body));
        assert_string_equal(m, cases[i].want);
        free(m);
    }
    /* a long body is cut on a character boundary */
    char big[1000];
    memset(big, 'a', sizeof big);
    memcpy(big + 302, "\xc3\xa9", 2);
    char *m = pu_error_message(big, sizeof big);
    assert_true(strlen(m) <= 307);
    assert_non_null(strstr(m, "..."));
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_full_conversation),
        cmocka_unit_test(test_request_options),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_stream_text),
        cmocka_unit_test(test_stream_tool_calls_every_split),
        cmocka_unit_test(test_stream_index_reuse),
        cmocka_unit_test(test_stream_invalid_tool_args),
        cmocka_unit_test(test_stream_terminal_marker),
        cmocka_unit_test(test_stream_error_event),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_usage_mapping),
        cmocka_unit_test(test_embed_and_models),
        cmocka_unit_test(test_error_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
