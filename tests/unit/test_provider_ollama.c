/*
 * test_provider_ollama.c — the Ollama provider's wire translation
 * (plugins/ollama/wire.c, with plugins/common/provider_util.c), included
 * directly: canonical request → /api/chat, the NDJSON stream state machine,
 * the non-streaming body, usage, errors, /api/embed and /api/tags. Wire
 * samples follow ../shared/reference/wire-formats.md section 3.
 */
#include "testsupport.h"
#include "util/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/common/provider_util.c"
#include "../../plugins/ollama/wire.c"

/* ------------------------------------------------------------ helpers */

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON (%s): %s", e.text, text);
    return j;
}

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

static json_t *body_of(const json_t *http)
{
    return J(json_string_value(json_object_get(http, "body")));
}

static pu_config cfg_from(const char *config_json)
{
    pu_config cfg;
    char *err = NULL;
    if (pu_config_parse(config_json, "ollama", OLL_DEFAULT_BASE, OLL_DEFAULT_KEY_ENV, &cfg, &err) != VENOM_OK)
        fail_msg("config: %s", err ? err : "?");
    return cfg;
}

/* Feed NDJSON lines (NULL-terminated) and finish; returns the first
 * failing code. */
static int run_stream(const char *const *lines, json_t **resp, json_t **deltas, char **err)
{
    oll_stream s;
    assert_int_equal(oll_stream_init(&s, "asked"), 0);
    json_t *d = json_array();
    int rc = VENOM_OK;
    *resp = NULL;
    for (size_t i = 0; lines[i] && rc == VENOM_OK; i++)
        rc = oll_stream_feed(&s, "", lines[i], strlen(lines[i]), d, err);
    if (rc == VENOM_OK)
        rc = oll_stream_finish(&s, resp, err);
    oll_stream_release(&s);
    if (deltas)
        *deltas = d;
    else
        json_decref(d);
    return rc;
}

#define LINE(msg) "{\"model\":\"llama3.2\",\"created_at\":\"2026-11-22T10:00:00.1Z\",\"message\":" msg ",\"done\":false}"
#define FINAL                                                                                                        \
    "{\"model\":\"llama3.2\",\"created_at\":\"2026-11-22T10:00:00.4Z\",\"message\":{\"role\":\"assistant\","       \
    "\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":250113000,\"load_duration\":30420000," \
    "\"prompt_eval_count\":180,\"prompt_eval_duration\":41200000,\"eval_count\":22,\"eval_duration\":168500000}"

/* ------------------------------------------------------------ request */

static void test_request_full_conversation(void **state)
{
    (void)state;
    pu_config cfg = cfg_from("{\"model\":\"llama3.2\",\"options\":{\"num_ctx\":8192,\"keep_alive\":\"5m\"}}");
    assert_null(cfg.api_key); /* no key by default */
    json_t *req = J(
        "{\"messages\":["
        "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"You are terse.\"},"
        "  {\"type\":\"text\",\"text\":\"Be kind.\"}]},"
        "{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what is this?\"},"
        "  {\"type\":\"image\",\"media_type\":\"image/png\",\"data\":\"iVBORw0K\"}]},"
        "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
        "  {\"id\":\"call_0\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}},"
        "  {\"id\":\"call_1\",\"name\":\"fs__read\",\"arguments_raw\":\"{\\\"p\",\"arguments_error\":\"x\"}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"bad arguments\",\"is_error\":true},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"name\":\"get_weather\",\"content\":\"{\\\"temp_c\\\":4}\"}],"
        "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Current weather for a city\","
        "  \"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}],"
        "\"tool_choice\":\"auto\",\"stream\":true,\"max_tokens\":1024,\"temperature\":0.2,\"top_p\":0.9,"
        "\"stop\":\"</end>\",\"seed\":7}");
    json_t *http = NULL;
    char *err = NULL;
    assert_int_equal(oll_chat_request(&cfg, req, &http, &err), 0);
    assert_string_equal(pu_str(http, "url", ""), "http://127.0.0.1:11434/api/chat");
    assert_string_equal(pu_str(http, "method", ""), "POST");
    assert_string_equal(pu_str(http, "stream", ""), "ndjson");
    assert_json(json_object_get(http, "headers"), "{\"Content-Type\":\"application/json\"}");
    json_t *body = body_of(http);
    assert_string_equal(pu_str(body, "model", ""), "llama3.2");
    json_t *m = json_object_get(body, "messages");
    assert_int_equal(json_array_size(m), 6);
    assert_json(json_array_get(m, 0), "{\"role\":\"system\",\"content\":\"You are terse.\\n\\nBe kind.\"}");
    assert_json(json_array_get(m, 1), "{\"role\":\"user\",\"content\":\"Weather in Oslo?\"}");
    assert_json(json_array_get(m, 2), "{\"role\":\"user\",\"content\":\"what is this?\",\"images\":[\"iVBORw0K\"]}");
    /* arguments are objects; an invalid call goes back with {} */
    assert_json(json_array_get(m, 3),
                "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
                "{\"id\":\"call_0\",\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}},"
                "{\"id\":\"call_1\",\"function\":{\"name\":\"fs__read\",\"arguments\":{}}}]}");
    /* the tool name is found from the call id when the message has none */
    assert_json(json_array_get(m, 4), "{\"role\":\"tool\",\"tool_name\":\"fs__read\",\"tool_call_id\":\"call_1\","
                                      "\"content\":\"bad arguments\"}");
    assert_json(json_array_get(m, 5), "{\"role\":\"tool\",\"tool_name\":\"get_weather\",\"tool_call_id\":\"call_0\","
                                      "\"content\":\"{\\\"temp_c\\\":4}\"}");
    assert_json(json_object_get(body, "tools"),
                "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                "\"description\":\"Current weather for a city\",\"parameters\":{\"type\":\"object\","
                "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}]");
    assert_json(json_object_get(body, "options"), "{\"temperature\":0.2,\"top_p\":0.9,\"seed\":7,"
                                                  "\"num_predict\":1024,\"stop\":[\"</end>\"],\"num_ctx\":8192}");
    assert_string_equal(pu_str(body, "keep_alive", ""), "5m");
    assert_true(json_is_true(json_object_get(body, "stream")));
    assert_null(json_object_get(body, "tool_choice"));
    assert_null(json_object_get(body, "max_tokens"));
    json_decref(body);
    json_decref(http);
    json_decref(req);
    pu_config_release(&cfg);
}

static void test_request_options(void **state)
{
    (void)state;
    /* a key when configured; no streaming; tool_choice none → no tools; no options */
    setenv("VENOM_TEST_OLLAMA_KEY", "ol-secret", 1);
    pu_config cfg = cfg_from("{\"base_url\":\"https://ollama.example.com/\",\"api_key_env\":\"VENOM_TEST_OLLAMA_KEY\","
                             "\"stream\":false,\"model\":\"m\"}");
    json_t *req = J("{\"model\":\"qwen3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                    "\"tools\":[{\"name\":\"t\"}],\"tool_choice\":\"none\"}");
    json_t *http = NULL;
    char *err = NULL;
    assert_int_equal(oll_chat_request(&cfg, req, &http, &err), 0);
    assert_string_equal(pu_str(http, "url", ""), "https://ollama.example.com/api/chat");
    assert_string_equal(pu_str(http, "stream", ""), "none");
    assert_json(json_object_get(http, "headers"),
                "{\"Content-Type\":\"application/json\",\"Authorization\":\"Bearer ol-secret\"}");
    json_t *body = body_of(http);
    assert_json(body, "{\"model\":\"qwen3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":false}");
    json_decref(body);
    json_decref(http);
    json_decref(req);
    pu_config_release(&cfg);
    unsetenv("VENOM_TEST_OLLAMA_KEY");

    cfg = cfg_from("{\"options\":{\"num_ctx\":\"big\"}}");
    static const struct {
        const char *req, *want;
    } bad[] = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", "no model: set providers.ollama.model"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", "options.num_ctx must be"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        req = J(bad[i].req);
        assert_int_equal(oll_chat_request(&cfg, req, &http, &err), VENOM_E_INVAL);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].want);
        free(err);
        err = NULL;
        json_decref(req);
    }
    pu_config_release(&cfg);
    cfg = cfg_from("{\"model\":\"m\"}");
    static const struct {
        const char *req, *want;
    } bad2[] = {
        {"{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"image\",\"data\":\"x\"}]}]}",
         "message 0: images are only supported in user messages"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\"}]}]}", "message 0: image part 0 needs"},
        {"{\"messages\":[{\"role\":\"developer\",\"content\":\"a\"}]}", "message 0 has role 'developer'"},
        {"{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"x\"}]}]}", "tool call 0 needs"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"stop\":{}}", "\"stop\" must be"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"seed\":1.5}", "\"seed\" must be an integer"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"tool_choice\":\"any\"}", "\"tool_choice\" is 'any'"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad2); i++) {
        req = J(bad2[i].req);
        assert_int_equal(oll_chat_request(&cfg, req, &http, &err), VENOM_E_INVAL);
        if (!strstr(err, bad2[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad2[i].want);
        free(err);
        err = NULL;
        json_decref(req);
    }
    pu_config_release(&cfg);
}

/* ------------------------------------------------------------ streaming */

static void test_stream_text_and_tools(void **state)
{
    (void)state;
    const char *lines[] = {
        LINE("{\"role\":\"assistant\",\"content\":\"Let\"}"),
        "",
        LINE("{\"role\":\"assistant\",\"content\":\" me check.\"}"),
        LINE("{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"get_weather\","
             "\"arguments\":{\"city\":\"Oslo\"}}}]}"),
        /* newer builds: id and index; a second line with another call */
        LINE("{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"call_x1\",\"function\":{\"index\":0,"
             "\"name\":\"fs__read\",\"arguments\":{\"path\":\"a\"}}}]}"),
        FINAL,
        NULL};
    json_t *resp = NULL, *deltas = NULL;
    char *err = NULL;
    assert_int_equal(run_stream(lines, &resp, &deltas, &err), 0);
    assert_json(deltas, "[{\"type\":\"text\",\"text\":\"Let\"},{\"type\":\"text\",\"text\":\" me check.\"},"
                        "{\"type\":\"tool_call\",\"index\":0,\"id\":\"call_0\",\"name\":\"get_weather\"},"
                        "{\"type\":\"tool_args\",\"index\":0,\"text\":\"{\\\"city\\\":\\\"Oslo\\\"}\"},"
                        "{\"type\":\"tool_call\",\"index\":1,\"id\":\"call_x1\",\"name\":\"fs__read\"},"
                        "{\"type\":\"tool_args\",\"index\":1,\"text\":\"{\\\"path\\\":\\\"a\\\"}\"}]");
    /* done_reason is "stop" even with tool calls: finish says tool_calls */
    assert_json(resp, "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"Let me check.\","
                      "\"tool_calls\":[{\"id\":\"call_0\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}},"
                      "{\"id\":\"call_x1\",\"name\":\"fs__read\",\"arguments\":{\"path\":\"a\"}}]},"
                      "\"finish\":\"tool_calls\",\"usage\":{\"input_tokens\":180,\"cached_input_tokens\":0,"
                      "\"cache_write_tokens\":0,\"output_tokens\":22,\"missing\":false,\"raw\":{"
                      "\"prompt_eval_count\":180,\"eval_count\":22,\"total_duration\":250113000,"
                      "\"load_duration\":30420000,\"prompt_eval_duration\":41200000,\"eval_duration\":168500000}}}");
    json_decref(resp);
    json_decref(deltas);
}

static void test_stream_usage_and_finish(void **state)
{
    (void)state;
    json_t *resp = NULL;
    char *err = NULL;
    /* prompt served from the KV cache: prompt_eval_count absent means 0 */
    const char *cached[] = {LINE("{\"role\":\"assistant\",\"content\":\"hi\"}"),
                            "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
                            "\"done\":true,\"done_reason\":\"length\",\"eval_count\":9}",
                            NULL};
    assert_int_equal(run_stream(cached, &resp, NULL, &err), 0);
    assert_string_equal(pu_str(resp, "finish", ""), "length");
    assert_json(json_object_get(resp, "usage"), "{\"input_tokens\":0,\"cached_input_tokens\":0,\"cache_write_tokens\":0,"
                                                "\"output_tokens\":9,\"missing\":false,\"raw\":{\"eval_count\":9}}");
    json_decref(resp);
    /* no counts at all: missing, flagged */
    const char *none[] = {"{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"x\"},\"done\":true,"
                          "\"done_reason\":\"unload\"}",
                          NULL};
    assert_int_equal(run_stream(none, &resp, NULL, &err), 0);
    assert_string_equal(pu_str(resp, "finish", ""), "other");
    assert_true(json_is_true(json_object_get(json_object_get(resp, "usage"), "missing")));
    assert_string_equal(pu_str(resp, "model", ""), "m");
    json_decref(resp);
    /* string arguments (a compatible server): parsed; invalid → arguments_raw */
    const char *strargs[] = {
        LINE("{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"a\","
             "\"arguments\":\"{\\\"x\\\":1}\"}},{\"function\":{\"name\":\"b\",\"arguments\":\"{\\\"x\\\":\"}}]}"),
        FINAL, NULL};
    assert_int_equal(run_stream(strargs, &resp, NULL, &err), 0);
    json_t *calls = json_object_get(json_object_get(resp, "message"), "tool_calls");
    assert_json(json_object_get(json_array_get(calls, 0), "arguments"), "{\"x\":1}");
    assert_string_equal(pu_str(json_array_get(calls, 1), "id", ""), "call_1");
    assert_string_equal(pu_str(json_array_get(calls, 1), "arguments_raw", ""), "{\"x\":");
    assert_non_null(strstr(pu_str(json_array_get(calls, 1), "arguments_error", ""), "invalid JSON"));
    assert_null(json_object_get(json_array_get(calls, 1), "arguments"));
    json_decref(resp);
}

static void test_stream_errors(void **state)
{
    (void)state;
    json_t *resp = NULL;
    char *err = NULL;
    /* the connection closes before done: true */
    const char *cut[] = {LINE("{\"role\":\"assistant\",\"content\":\"Let\"}"), NULL};
    assert_int_equal(run_stream(cut, &resp, NULL, &err), VENOM_E_NET);
    assert_string_equal(err, "stream ended before done: true after 1 lines: the answer is incomplete");
    assert_null(resp);
    free(err);
    err = NULL;
    /* an error line inside a 200 stream */
    const char *errline[] = {LINE("{\"role\":\"assistant\",\"content\":\"Let\"}"),
                             "{\"error\":\"an error was encountered while running the model: unexpected EOF\"}", NULL};
    assert_int_equal(run_stream(errline, &resp, NULL, &err), VENOM_E_NET);
    assert_string_equal(err, "the server reported an error in the stream at line 2: an error was encountered while "
                             "running the model: unexpected EOF");
    free(err);
    err = NULL;
    /* a line that is not JSON */
    const char *bad[] = {LINE("{\"role\":\"assistant\",\"content\":\"Let\"}"), "{\"model\":\"llama3.2\",\"mess", NULL};
    assert_int_equal(run_stream(bad, &resp, NULL, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "malformed chunk at line 2: "));
    assert_non_null(strstr(err, "{\"model\":\"llama3.2\",\"mess"));
    free(err);
    err = NULL;
    const char *num[] = {"42", NULL};
    assert_int_equal(run_stream(num, &resp, NULL, &err), VENOM_E_NET);
    assert_string_equal(err, "malformed chunk at line 1: not a JSON object: 42");
    free(err);
    err = NULL;
    /* lines after done: true are ignored */
    const char *after[] = {FINAL, "junk", NULL};
    assert_int_equal(run_stream(after, &resp, NULL, &err), 0);
    json_decref(resp);
}

/* ------------------------------------------------------------ non-streaming */

static void test_body(void **state)
{
    (void)state;
    const char *body = "{\"model\":\"llama3.2\",\"created_at\":\"2026-11-22T10:00:00Z\",\"message\":{\"role\":"
                       "\"assistant\",\"content\":\"There are 42 lines.\",\"thinking\":\"hmm\"},\"done\":true,"
                       "\"done_reason\":\"stop\",\"prompt_eval_count\":30,\"eval_count\":8}";
    oll_stream s;
    json_t *resp = NULL;
    char *err = NULL;
    assert_int_equal(oll_stream_init(&s, "asked"), 0);
    assert_int_equal(oll_body(&s, body, strlen(body), &resp, &err), 0);
    oll_stream_release(&s);
    assert_json(resp, "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"There are 42 lines.\"},"
                      "\"finish\":\"stop\",\"usage\":{\"input_tokens\":30,\"cached_input_tokens\":0,"
                      "\"cache_write_tokens\":0,\"output_tokens\":8,\"missing\":false,"
                      "\"raw\":{\"prompt_eval_count\":30,\"eval_count\":8}}}");
    json_decref(resp);
    static const struct {
        const char *body, *want;
    } bad[] = {
        {"{\"error\":\"model 'nope' not found\"}", "the server reported an error in the reply: model 'nope' not found"},
        {"{\"model\":\"m\",\"message\":{\"content\":\"x\"},\"done\":false}", "has no \"done\": true"},
        {"not json", "the reply is not a JSON object"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(oll_stream_init(&s, NULL), 0);
        assert_int_equal(oll_body(&s, bad[i].body, strlen(bad[i].body), &resp, &err), VENOM_E_NET);
        oll_stream_release(&s);
        assert_null(resp);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].want);
        free(err);
        err = NULL;
    }
}

/* ------------------------------------------------------------ embed, tags */

static void test_embed_and_models(void **state)
{
    (void)state;
    pu_config cfg = cfg_from("{\"model\":\"llama3.2\",\"options\":{\"embedding_model\":\"all-minilm\"}}");
    json_t *req = J("{\"input\":[\"first text\",\"second text\"]}"), *http = NULL, *out = NULL;
    char *err = NULL;
    assert_int_equal(oll_embed_request(&cfg, req, &http, &err), 0);
    assert_string_equal(pu_str(http, "url", ""), "http://127.0.0.1:11434/api/embed");
    json_t *body = body_of(http);
    assert_json(body, "{\"model\":\"all-minilm\",\"input\":[\"first text\",\"second text\"]}");
    json_decref(body);
    json_decref(http);
    json_decref(req);
    req = J("{\"input\":[]}");
    assert_int_equal(oll_embed_request(&cfg, req, &http, &err), VENOM_E_INVAL);
    free(err);
    err = NULL;
    json_decref(req);

    json_t *reply = J("{\"model\":\"all-minilm\",\"embeddings\":[[0.0311,-0.0172],[-0.0085,0.0493]],"
                      "\"total_duration\":15200000,\"load_duration\":1100000,\"prompt_eval_count\":6}");
    assert_int_equal(oll_embed_result(reply, &out, &err), 0);
    assert_json(out, "{\"model\":\"all-minilm\",\"embeddings\":[[0.0311,-0.0172],[-0.0085,0.0493]],"
                     "\"usage\":{\"input_tokens\":6,\"missing\":false,\"raw\":{\"prompt_eval_count\":6}}}");
    json_decref(out);
    json_decref(reply);
    reply = J("{\"embeddings\":[1]}");
    assert_int_equal(oll_embed_result(reply, &out, &err), VENOM_E_NET);
    free(err);
    err = NULL;
    json_decref(reply);

    assert_int_equal(oll_models_request(&cfg, &http, &err), 0);
    assert_json(http, "{\"method\":\"GET\",\"url\":\"http://127.0.0.1:11434/api/tags\",\"headers\":{},\"stream\":\"none\"}");
    json_decref(http);
    reply = J("{\"models\":[{\"name\":\"llama3.2:latest\",\"model\":\"llama3.2:latest\",\"modified_at\":\"x\","
              "\"size\":2019000000,\"digest\":\"d\",\"details\":{\"format\":\"gguf\",\"family\":\"llama\","
              "\"parameter_size\":\"3.2B\",\"quantization_level\":\"Q4_K_M\"}}]}");
    assert_int_equal(oll_models_result(reply, &out, &err), 0);
    assert_json(out, "{\"models\":[{\"id\":\"llama3.2:latest\",\"size\":2019000000,\"family\":\"llama\","
                     "\"parameter_size\":\"3.2B\",\"quantization_level\":\"Q4_K_M\"}]}");
    json_decref(out);
    json_decref(reply);
    reply = J("{\"error\":\"x\"}");
    assert_int_equal(oll_models_result(reply, &out, &err), VENOM_E_NET);
    free(err);
    json_decref(reply);
    pu_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_full_conversation),
        cmocka_unit_test(test_request_options),
        cmocka_unit_test(test_stream_text_and_tools),
        cmocka_unit_test(test_stream_usage_and_finish),
        cmocka_unit_test(test_stream_errors),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_embed_and_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
