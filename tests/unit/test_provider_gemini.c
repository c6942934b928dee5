/*
 * test_provider_gemini.c — the Gemini provider's pure translation
 * (plugins/gemini/wire.c): canonical request -> generateContent request
 * (schema subset, tool results, thought signatures), SSE chunks and whole
 * bodies -> canonical response, usage, errors, embeddings, model list. Wire
 * samples follow wire-formats.md section 4.
 */
#include "testsupport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/gemini/wire.c"
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

static void open_cfg(const char *config, gem_config *cfg)
{
    char *err = NULL;
    int rc = gem_config_parse(config, cfg, &err);
    if (rc != 0)
        fail_msg("config failed: %s", err ? err : "?");
    free(err);
}

static json_t *build(const gem_config *cfg, const char *req_text, json_t **http)
{
    json_t *req = parse(req_text);
    char *err = NULL, *model = NULL;
    int rc = gem_build_chat(cfg, req, http, &model, &err);
    if (rc != 0)
        fail_msg("build failed: %s", err ? err : "?");
    free(model);
    json_decref(req);
    return parse(json_string_value(json_object_get(*http, "body")));
}

static int build_err(const gem_config *cfg, const char *req_text, char **err)
{
    json_t *req = parse(req_text), *http = NULL;
    int rc = gem_build_chat(cfg, req, &http, NULL, err);
    assert_null(http);
    json_decref(req);
    return rc;
}

/* Feed SSE data chunks (NULL-terminated list), then finish. */
static int feed_chunks(gem_stream *s, const char *const *chunks, json_t *deltas, json_t **resp, char **err)
{
    for (size_t i = 0; chunks[i]; i++) {
        int rc = gem_stream_feed(s, "", chunks[i], strlen(chunks[i]), deltas, err);
        if (rc != 0)
            return rc;
    }
    return gem_stream_finish(s, resp, err);
}

#define CFG_KEY "{\"api_key_env\":\"TEST_GEM_KEY\",\"model\":\"gemini-test\"}"

static json_int_t ival(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* ------------------------------------------------------------ configuration */

static void test_config(void **state)
{
    (void)state;
    gem_config cfg;
    char *err = NULL;
    unsetenv("GEMINI_API_KEY");
    assert_int_equal(gem_config_parse("{}", &cfg, &err), VENOM_E_PERM);
    assert_non_null(strstr(err, "environment variable GEMINI_API_KEY (providers.gemini.api_key_env) is not set"));
    free(err);
    err = NULL;
    setenv("TEST_GEM_KEY", "AIza-secret", 1);
    open_cfg(CFG_KEY, &cfg);
    assert_string_equal(cfg.pu.base_url, "https://generativelanguage.googleapis.com");
    assert_string_equal(cfg.pu.api_key, "AIza-secret");
    assert_int_equal(cfg.max_tokens, 0);
    assert_null(cfg.embedding_model);
    gem_config_release(&cfg);
    open_cfg("{\"api_key_env\":\"\",\"options\":{\"max_tokens\":99,\"embedding_model\":\"emb-1\"}}", &cfg);
    assert_int_equal(cfg.max_tokens, 99);
    assert_string_equal(cfg.embedding_model, "emb-1");
    gem_config_release(&cfg);
    assert_int_equal(gem_config_parse("{\"api_key_env\":\"\",\"options\":{\"embedding_model\":3}}", &cfg, &err),
                     VENOM_E_INVAL);
    assert_non_null(strstr(err, "providers.gemini.options.embedding_model"));
    free(err);
}

/* ------------------------------------------------------------ request */

static const char *FULL_REQ =
    "{\"messages\":["
    "{\"role\":\"system\",\"content\":\"You are terse.\"},"
    "{\"role\":\"system\",\"content\":\"Use tools.\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather in Oslo?\"},"
    "{\"type\":\"image\",\"media_type\":\"image/jpeg\",\"data\":\"/9j/4A==\"}]},"
    "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
    "{\"id\":\"call_0\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"},\"thought_signature\":\"SIG0\"},"
    "{\"id\":\"call_1\",\"name\":\"count\",\"arguments\":{\"n\":2}},"
    "{\"id\":\"call_2\",\"name\":\"fs__read\",\"arguments\":{\"path\":\"x\"}}]},"
    /* answered out of order; one plain text, one error, one object */
    "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":\"no such file\",\"is_error\":true},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"name\":\"get_weather\",\"content\":\"{\\\"temp_c\\\":4}\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"name\":\"count\",\"content\":\"42\"},"
    "{\"role\":\"user\",\"content\":\"thanks\"}],"
    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Current weather\",\"parameters\":{"
    "\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{\"city\":{\"type\":\"string\",\"default\":\"Oslo\",\"examples\":[\"Oslo\"]},"
    "\"unit\":{\"type\":[\"string\",\"null\"],\"enum\":[\"C\",\"F\"]}},\"required\":[\"city\",\"ghost\"]}},"
    "{\"name\":\"count\",\"parameters\":{\"type\":\"object\",\"properties\":{}}},"
    "{\"name\":\"fs__read\",\"parameters\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}}}}],"
    "\"tool_choice\":\"required\",\"max_tokens\":1024,\"temperature\":0.2,\"top_p\":0.9,\"stop\":[\"END\"],"
    "\"seed\":7,\"stream\":true}";

static void test_request_full(void **state)
{
    (void)state;
    gem_config cfg;
    setenv("TEST_GEM_KEY", "AIza-secret", 1);
    open_cfg(CFG_KEY, &cfg);
    json_t *http = NULL;
    json_t *body = build(&cfg, FULL_REQ, &http);

    const char *url = pu_str(http, "url", "");
    assert_string_equal(url,
                        "https://generativelanguage.googleapis.com/v1beta/models/gemini-test:streamGenerateContent?"
                        "alt=sse");
    assert_null(strstr(url, "key=")); /* the key never goes in the URL */
    assert_string_equal(pu_str(http, "stream", ""), "sse");
    json_t *h = json_object_get(http, "headers");
    assert_string_equal(pu_str(h, "x-goog-api-key", ""), "AIza-secret");
    assert_string_equal(pu_str(h, "Content-Type", ""), "application/json");

    json_t *si = json_object_get(body, "systemInstruction");
    assert_string_equal(pu_str(json_array_get(json_object_get(si, "parts"), 0), "text", ""),
                        "You are terse.\n\nUse tools.");

    json_t *contents = json_object_get(body, "contents");
    assert_int_equal(json_array_size(contents), 3); /* user, model, user (results + text) */
    json_t *u1 = json_array_get(contents, 0), *m = json_array_get(contents, 1), *u2 = json_array_get(contents, 2);
    assert_string_equal(pu_str(u1, "role", ""), "user");
    json_t *p = json_object_get(u1, "parts");
    assert_string_equal(pu_str(json_array_get(p, 0), "text", ""), "Weather in Oslo?");
    json_t *inl = json_object_get(json_array_get(p, 1), "inlineData");
    assert_string_equal(pu_str(inl, "mimeType", ""), "image/jpeg");
    assert_string_equal(pu_str(inl, "data", ""), "/9j/4A==");

    assert_string_equal(pu_str(m, "role", ""), "model");
    p = json_object_get(m, "parts");
    assert_int_equal(json_array_size(p), 4);
    assert_string_equal(pu_str(json_array_get(p, 0), "text", ""), "Checking.");
    json_t *fc = json_object_get(json_array_get(p, 1), "functionCall");
    assert_string_equal(pu_str(fc, "name", ""), "get_weather");
    assert_string_equal(pu_str(json_object_get(fc, "args"), "city", ""), "Oslo");
    assert_string_equal(pu_str(fc, "id", ""), "call_0"); /* ids echoed, so the server can match them */
    assert_string_equal(pu_str(json_array_get(p, 1), "thoughtSignature", ""), "SIG0"); /* replayed as received */
    assert_null(json_object_get(json_array_get(p, 2), "thoughtSignature"));
    assert_int_equal(ival(json_object_get(json_object_get(json_array_get(p, 2), "functionCall"), "args"), "n"), 2);

    assert_string_equal(pu_str(u2, "role", ""), "user");
    p = json_object_get(u2, "parts");
    assert_int_equal(json_array_size(p), 4);
    /* in the order of the calls, whatever the order of the tool messages */
    json_t *fr = json_object_get(json_array_get(p, 0), "functionResponse");
    assert_string_equal(pu_str(fr, "name", ""), "get_weather");
    assert_string_equal(pu_str(fr, "id", ""), "call_0");
    assert_int_equal(ival(json_object_get(fr, "response"), "temp_c"), 4);
    fr = json_object_get(json_array_get(p, 1), "functionResponse");
    assert_string_equal(pu_str(fr, "name", ""), "count");
    assert_int_equal(ival(json_object_get(fr, "response"), "result"), 42); /* not an object: wrapped */
    fr = json_object_get(json_array_get(p, 2), "functionResponse");
    assert_string_equal(pu_str(fr, "name", ""), "fs__read"); /* name from the call */
    assert_string_equal(pu_str(json_object_get(fr, "response"), "error", ""), "no such file");
    assert_string_equal(pu_str(json_array_get(p, 3), "text", ""), "thanks");

    json_t *tools = json_object_get(body, "tools");
    assert_int_equal(json_array_size(tools), 1);
    json_t *decls = json_object_get(json_array_get(tools, 0), "functionDeclarations");
    assert_int_equal(json_array_size(decls), 3);
    json_t *d0 = json_array_get(decls, 0);
    assert_string_equal(pu_str(d0, "name", ""), "get_weather");
    assert_string_equal(pu_str(d0, "description", ""), "Current weather");
    json_t *params = json_object_get(d0, "parameters");
    assert_string_equal(pu_str(params, "type", ""), "object");
    assert_null(json_object_get(params, "$schema"));
    assert_null(json_object_get(params, "additionalProperties"));
    json_t *city = json_object_get(json_object_get(params, "properties"), "city");
    assert_string_equal(pu_str(city, "type", ""), "string");
    assert_null(json_object_get(city, "default"));
    assert_null(json_object_get(city, "examples"));
    json_t *unit = json_object_get(json_object_get(params, "properties"), "unit");
    assert_string_equal(pu_str(unit, "type", ""), "string");
    assert_true(json_is_true(json_object_get(unit, "nullable")));
    assert_int_equal(json_array_size(json_object_get(unit, "enum")), 2);
    json_t *req = json_object_get(params, "required");
    assert_int_equal(json_array_size(req), 1); /* "ghost" is not a property */
    assert_string_equal(json_string_value(json_array_get(req, 0)), "city");
    assert_null(json_object_get(json_array_get(decls, 1), "parameters")); /* no properties: left out */
    assert_non_null(json_object_get(json_array_get(decls, 2), "parameters"));

    assert_string_equal(pu_str(json_object_get(json_object_get(body, "toolConfig"), "functionCallingConfig"), "mode",
                               ""),
                        "ANY");
    json_t *gc = json_object_get(body, "generationConfig");
    assert_true(json_real_value(json_object_get(gc, "temperature")) == 0.2);
    assert_true(json_real_value(json_object_get(gc, "topP")) == 0.9);
    assert_int_equal(ival(gc, "maxOutputTokens"), 1024);
    assert_int_equal(ival(gc, "seed"), 7);
    assert_string_equal(json_string_value(json_array_get(json_object_get(gc, "stopSequences"), 0)), "END");
    assert_null(json_object_get(body, "stream"));
    assert_null(json_object_get(body, "model"));

    json_decref(body);
    json_decref(http);
    gem_config_release(&cfg);
}

static void test_request_defaults(void **state)
{
    (void)state;
    gem_config cfg;
    open_cfg("{\"api_key_env\":\"\",\"base_url\":\"http://127.0.0.1:9/v1beta/\",\"stream\":false,"
             "\"options\":{\"max_tokens\":77}}",
             &cfg);
    json_t *http = NULL;
    json_t *body = build(&cfg,
                         "{\"model\":\"models/gemini-x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                         "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c9\",\"name\":\"t\",\"arguments\":{}}]},"
                         "{\"role\":\"tool\",\"tool_call_id\":\"c9\",\"content\":\"plain text\"}],"
                         "\"tools\":[{\"name\":\"t\"}],\"tool_choice\":\"none\",\"stop\":\"X\"}",
                         &http);
    assert_string_equal(pu_str(http, "url", ""), "http://127.0.0.1:9/v1beta/models/gemini-x:generateContent");
    assert_string_equal(pu_str(http, "stream", ""), "none");
    assert_null(json_object_get(json_object_get(http, "headers"), "x-goog-api-key"));
    assert_null(json_object_get(body, "systemInstruction"));
    json_t *gc = json_object_get(body, "generationConfig");
    assert_int_equal(ival(gc, "maxOutputTokens"), 77);
    assert_string_equal(json_string_value(json_array_get(json_object_get(gc, "stopSequences"), 0)), "X");
    json_t *contents = json_object_get(body, "contents");
    json_t *mp = json_array_get(json_object_get(json_array_get(contents, 1), "parts"), 0);
    /* history that did not come from Gemini: the documented placeholder on the first call */
    assert_string_equal(pu_str(mp, "thoughtSignature", ""), "skip_thought_signature_validator");
    json_t *fr = json_object_get(json_array_get(json_object_get(json_array_get(contents, 2), "parts"), 0),
                                 "functionResponse");
    assert_string_equal(pu_str(fr, "name", ""), "t");
    assert_string_equal(pu_str(json_object_get(fr, "response"), "result", ""), "plain text");
    assert_string_equal(pu_str(json_object_get(json_object_get(body, "toolConfig"), "functionCallingConfig"), "mode",
                               ""),
                        "NONE");
    json_decref(body);
    json_decref(http);

    body = build(&cfg, "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &http);
    assert_null(json_object_get(body, "tools"));
    assert_null(json_object_get(body, "toolConfig"));
    json_decref(body);
    json_decref(http);
    gem_config_release(&cfg);
}

static void test_request_invalid(void **state)
{
    (void)state;
    gem_config cfg;
    open_cfg("{\"api_key_env\":\"\"}", &cfg);
    char *err = NULL;
    assert_int_equal(build_err(&cfg, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &err), VENOM_E_INVAL);
    assert_non_null(strstr(err, "no model: set providers.gemini.model"));
    free(err);
    err = NULL;
    assert_int_equal(build_err(&cfg, "{\"model\":\"../x?key=1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                               &err),
                     VENOM_E_INVAL);
    assert_non_null(strstr(err, "cannot go in a URL path"));
    free(err);
    err = NULL;
    assert_int_equal(build_err(&cfg,
                               "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                               "{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"r\"}]}",
                               &err),
                     VENOM_E_INVAL);
    assert_non_null(strstr(err, "messages[1] (tool) has no name"));
    free(err);
    err = NULL;
    assert_int_equal(build_err(&cfg, "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                                     "\"seed\":\"x\"}",
                               &err),
                     VENOM_E_INVAL);
    assert_non_null(strstr(err, "seed"));
    free(err);
    err = NULL;
    assert_int_equal(build_err(&cfg, "{\"model\":\"g\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"}]}", &err),
                     VENOM_E_INVAL);
    assert_non_null(strstr(err, "no user or assistant message"));
    free(err);
    gem_config_release(&cfg);
}

static void test_schema(void **state)
{
    (void)state;
    json_t *in = parse("{\"type\":\"object\",\"$id\":\"x\",\"$defs\":{\"a\":{}},\"title\":\"T\","
                       "\"properties\":{"
                       "\"list\":{\"type\":\"array\",\"uniqueItems\":true,\"minItems\":1,\"items\":{\"type\":\"object\","
                       "\"additionalProperties\":{\"type\":\"string\"},\"properties\":{\"k\":{\"const\":\"v\"}}}},"
                       "\"choice\":{\"oneOf\":[{\"type\":\"string\",\"format\":\"date\"},{\"type\":\"integer\","
                       "\"exclusiveMinimum\":0,\"minimum\":1}]},"
                       "\"num\":{\"type\":\"integer\",\"enum\":[1,2]},"
                       "\"ref\":{\"$ref\":\"#/$defs/a\"}},"
                       "\"required\":[\"list\"],\"allOf\":[{}],\"if\":{},\"then\":{}}");
    json_t *out = gem_schema(in);
    char *text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"properties\":{"
                              "\"choice\":{\"anyOf\":[{\"format\":\"date\",\"type\":\"string\"},{\"minimum\":1,"
                              "\"type\":\"integer\"}]},"
                              "\"list\":{\"items\":{\"properties\":{\"k\":{\"enum\":[\"v\"]}},\"type\":\"object\"},"
                              "\"minItems\":1,\"type\":\"array\"},"
                              "\"num\":{\"type\":\"integer\"},"
                              "\"ref\":{}},"
                              "\"required\":[\"list\"],\"title\":\"T\",\"type\":\"object\"}");
    free(text);
    json_decref(out);
    json_decref(in);
    /* a pathological depth is cut, not followed */
    json_t *deep = json_object(), *cur = deep;
    for (int i = 0; i < 200; i++) {
        json_t *next = json_object();
        json_object_set_new(cur, "items", next);
        json_object_set_new(cur, "type", json_string("array"));
        cur = next;
    }
    out = gem_schema(deep);
    assert_non_null(out);
    json_decref(out);
    json_decref(deep);
}

/* ------------------------------------------------------------ streaming */

static void test_stream_text_and_usage(void **state)
{
    (void)state;
    const char *chunks[] = {
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"thinking...\",\"thought\":true},"
        "{\"text\":\"There are \"}]},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":100},"
        "\"modelVersion\":\"gemini-2.5-flash-001\",\"responseId\":\"resp-1\"}",
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"42 lines.\"}]},\"index\":0}]}",
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"\",\"thoughtSignature\":\"S\"}]},"
        "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":100,"
        "\"cachedContentTokenCount\":40,\"toolUsePromptTokenCount\":5,\"candidatesTokenCount\":12,"
        "\"thoughtsTokenCount\":30,\"totalTokenCount\":147},\"modelVersion\":\"gemini-2.5-flash-001\"}",
        NULL};
    gem_stream s;
    gem_stream_init(&s, "gemini-test");
    json_t *deltas = json_array(), *resp = NULL;
    char *err = NULL;
    assert_int_equal(feed_chunks(&s, chunks, deltas, &resp, &err), 0);
    assert_string_equal(pu_str(resp, "model", ""), "gemini-2.5-flash-001");
    assert_string_equal(pu_str(resp, "id", ""), "resp-1");
    assert_string_equal(pu_str(resp, "finish", ""), "stop");
    assert_string_equal(pu_str(json_object_get(resp, "message"), "content", ""), "There are 42 lines.");
    json_t *u = json_object_get(resp, "usage");
    assert_int_equal(ival(u, "input_tokens"), 65);       /* 100 - 40 + 5 */
    assert_int_equal(ival(u, "cached_input_tokens"), 40);
    assert_int_equal(ival(u, "cache_write_tokens"), 0);
    assert_int_equal(ival(u, "output_tokens"), 42);      /* 12 + 30 thoughts */
    assert_true(json_is_false(json_object_get(u, "missing")));
    assert_int_equal(ival(json_object_get(u, "raw"), "totalTokenCount"), 147); /* the last usageMetadata */
    char *d = json_dumps(deltas, JSON_COMPACT);
    assert_string_equal(d, "[{\"type\":\"text\",\"text\":\"There are \"},{\"type\":\"text\",\"text\":\"42 lines.\"}]");
    free(d);
    json_decref(deltas);
    json_decref(resp);
    gem_stream_release(&s);
}

static void test_stream_function_calls(void **state)
{
    (void)state;
    const char *chunks[] = {
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get_weather\","
        "\"args\":{\"city\":\"Oslo\"}},\"thoughtSignature\":\"CpcB\"}]},\"index\":0}]}",
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get_weather\","
        "\"args\":{\"city\":\"Bergen\"}}},{\"functionCall\":{\"name\":\"noargs\"}},"
        "{\"functionCall\":{\"name\":\"bad\",\"args\":\"{\\\"x\\\": \"}},"
        "{\"functionCall\":{\"name\":\"arr\",\"args\":[1]}}]},"
        "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":60,"
        "\"candidatesTokenCount\":12,\"thoughtsTokenCount\":40}}",
        NULL};
    gem_stream s;
    gem_stream_init(&s, "gemini-test");
    json_t *deltas = json_array(), *resp = NULL;
    char *err = NULL;
    assert_int_equal(feed_chunks(&s, chunks, deltas, &resp, &err), 0);
    assert_string_equal(pu_str(resp, "finish", ""), "tool_calls"); /* STOP with calls */
    assert_string_equal(pu_str(resp, "model", ""), "gemini-test");
    json_t *tcs = json_object_get(json_object_get(resp, "message"), "tool_calls");
    assert_int_equal(json_array_size(tcs), 5);
    json_t *tc = json_array_get(tcs, 0);
    assert_string_equal(pu_str(tc, "id", ""), "call_0");
    assert_string_equal(pu_str(tc, "name", ""), "get_weather");
    assert_string_equal(pu_str(json_object_get(tc, "arguments"), "city", ""), "Oslo");
    assert_string_equal(pu_str(tc, "thought_signature", ""), "CpcB");
    tc = json_array_get(tcs, 1);
    assert_string_equal(pu_str(tc, "id", ""), "call_1");
    assert_string_equal(pu_str(json_object_get(tc, "arguments"), "city", ""), "Bergen");
    assert_null(json_object_get(tc, "thought_signature"));
    tc = json_array_get(tcs, 2);
    assert_string_equal(pu_str(tc, "id", ""), "call_2");
    assert_int_equal(json_object_size(json_object_get(tc, "arguments")), 0);
    tc = json_array_get(tcs, 3); /* invalid argument JSON: kept raw, not an error of the call */
    assert_null(json_object_get(tc, "arguments"));
    assert_string_equal(pu_str(tc, "arguments_raw", ""), "{\"x\": ");
    assert_non_null(strstr(pu_str(tc, "arguments_error", ""), "invalid JSON"));
    tc = json_array_get(tcs, 4);
    assert_string_equal(pu_str(tc, "arguments_raw", ""), "[1]");
    assert_non_null(strstr(pu_str(tc, "arguments_error", ""), "not an object"));
    json_t *u = json_object_get(resp, "usage");
    assert_int_equal(ival(u, "input_tokens"), 60);
    assert_int_equal(ival(u, "output_tokens"), 52);
    json_t *d0 = json_array_get(deltas, 0), *d1 = json_array_get(deltas, 1);
    assert_string_equal(pu_str(d0, "type", ""), "tool_call");
    assert_string_equal(pu_str(d0, "id", ""), "call_0");
    assert_string_equal(pu_str(d0, "name", ""), "get_weather");
    assert_string_equal(pu_str(d1, "type", ""), "tool_args");
    assert_string_equal(pu_str(d1, "text", ""), "{\"city\":\"Oslo\"}");
    assert_int_equal(json_array_size(deltas), 10);
    json_decref(deltas);
    json_decref(resp);
    gem_stream_release(&s);
}

static void test_stream_finish_reasons(void **state)
{
    (void)state;
    struct {
        const char *chunk;
        const char *finish;
    } cases[] = {
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"MAX_TOKENS\"}]}", "length"},
        {"{\"candidates\":[{\"finishReason\":\"SAFETY\"}]}", "content_filter"},
        {"{\"candidates\":[{\"finishReason\":\"RECITATION\"}]}", "content_filter"},
        {"{\"candidates\":[{\"finishReason\":\"MALFORMED_FUNCTION_CALL\"}]}", "other"},
        {"{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{\"promptTokenCount\":8}}",
         "content_filter"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *chunks[] = {cases[i].chunk, NULL};
        gem_stream s;
        gem_stream_init(&s, "g");
        json_t *resp = NULL;
        char *err = NULL;
        assert_int_equal(feed_chunks(&s, chunks, NULL, &resp, &err), 0);
        assert_string_equal(pu_str(resp, "finish", ""), cases[i].finish);
        json_decref(resp);
        gem_stream_release(&s);
    }
}

static void test_stream_errors(void **state)
{
    (void)state;
    const char *text = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"partial\"}]}}]}";
    struct {
        const char *chunks[3];
        const char *want;
    } cases[] = {
        {{text, NULL}, "stream ended before a candidate finishReason (after 1 chunks)"},
        {{NULL}, "stream ended before a candidate finishReason (after 0 chunks)"},
        {{text, "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}"},
         "error at chunk 2: UNAVAILABLE (503): The model is overloaded."},
        {{text, "{\"candidates\":[{\"content\":"}, "malformed chunk at event 2"},
        {{text, "[1]"}, "malformed chunk at event 2: not a JSON object"},
        {{text, "\"just a string\""}, "malformed chunk at event 2"},
        {{"{\"candidates\":{}}"}, "candidates is not an array"},
        {{"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"args\":{}}}]}}]}"},
         "functionCall without a name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gem_stream s;
        gem_stream_init(&s, "g");
        json_t *resp = NULL;
        char *err = NULL;
        assert_int_equal(feed_chunks(&s, cases[i].chunks, NULL, &resp, &err), VENOM_E_NET);
        assert_null(resp);
        if (!err || !strstr(err, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, err ? err : "(null)", cases[i].want);
        free(err);
        gem_stream_release(&s);
    }
}

/* ------------------------------------------------------------ whole bodies */

static void test_body(void **state)
{
    (void)state;
    const char *body =
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Sure.\"},"
        "{\"functionCall\":{\"id\":\"fc-7\",\"name\":\"get_weather\",\"args\":{\"city\":\"Oslo\"}},"
        "\"thoughtSignature\":\"CpcB\"}]},\"finishReason\":\"STOP\",\"index\":0}],"
        "\"usageMetadata\":{\"promptTokenCount\":60,\"candidatesTokenCount\":12,\"thoughtsTokenCount\":40,"
        "\"totalTokenCount\":112,\"cachedContentTokenCount\":0},\"modelVersion\":\"gemini-x\",\"responseId\":\"r9\"}";
    gem_stream s;
    gem_stream_init(&s, "req");
    json_t *resp = NULL;
    char *err = NULL;
    assert_int_equal(gem_parse_response(&s, body, strlen(body), &resp, &err), 0);
    assert_string_equal(pu_str(resp, "model", ""), "gemini-x");
    assert_string_equal(pu_str(resp, "id", ""), "r9");
    assert_string_equal(pu_str(resp, "finish", ""), "tool_calls");
    json_t *msg = json_object_get(resp, "message");
    assert_string_equal(pu_str(msg, "content", ""), "Sure.");
    json_t *tc = json_array_get(json_object_get(msg, "tool_calls"), 0);
    assert_string_equal(pu_str(tc, "id", ""), "fc-7"); /* the server's id when it sends one */
    assert_string_equal(pu_str(tc, "thought_signature", ""), "CpcB");
    json_t *u = json_object_get(resp, "usage");
    assert_int_equal(ival(u, "input_tokens"), 60);
    assert_int_equal(ival(u, "output_tokens"), 52);
    json_decref(resp);
    gem_stream_release(&s);

    gem_stream_init(&s, "req");
    const char *nousage = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ok\"}]},\"finishReason\":\"STOP\"}]}";
    assert_int_equal(gem_parse_response(&s, nousage, strlen(nousage), &resp, &err), 0);
    assert_string_equal(pu_str(resp, "model", ""), "req");
    assert_true(json_is_true(json_object_get(json_object_get(resp, "usage"), "missing")));
    json_decref(resp);
    gem_stream_release(&s);

    gem_stream_init(&s, "req");
    assert_int_equal(gem_parse_response(&s, "{}", 2, &resp, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "no candidates"));
    free(err);
    err = NULL;
    gem_stream_release(&s);
    gem_stream_init(&s, "req");
    assert_int_equal(gem_parse_response(&s, "oops", 4, &resp, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "malformed response body"));
    free(err);
    gem_stream_release(&s);
}

static void test_error_message(void **state)
{
    (void)state;
    const char *b = "{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":\"RESOURCE_EXHAUSTED\","
                    "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\"},"
                    "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"58s\"}]}}";
    char *m = gem_error_message(b, strlen(b));
    assert_string_equal(m, "RESOURCE_EXHAUSTED (429): Quota exceeded; retry in 58s");
    free(m);
    const char *arr = "[{\"error\":{\"code\":400,\"message\":\"API key not valid.\",\"status\":\"INVALID_ARGUMENT\"}}]";
    m = gem_error_message(arr, strlen(arr));
    assert_string_equal(m, "INVALID_ARGUMENT (400): API key not valid.");
    free(m);
    m = gem_error_message("Bad Gateway", 11);
    assert_string_equal(m, "Bad Gateway");
    free(m);
}

static void test_embed_and_models(void **state)
{
    (void)state;
    gem_config cfg;
    setenv("TEST_GEM_KEY", "AIza-secret", 1);
    open_cfg("{\"api_key_env\":\"TEST_GEM_KEY\",\"options\":{\"embedding_model\":\"text-embedding-004\"}}", &cfg);
    json_t *req = parse("{\"input\":[\"one\",\"two\"]}"), *http = NULL, *out = NULL;
    char *err = NULL, *model = NULL;
    size_t n = 0;
    assert_int_equal(gem_build_embed(&cfg, req, &http, &model, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(model, "text-embedding-004");
    assert_string_equal(pu_str(http, "url", ""),
                        "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents");
    assert_string_equal(pu_str(json_object_get(http, "headers"), "x-goog-api-key", ""), "AIza-secret");
    json_t *body = parse(pu_str(http, "body", ""));
    json_t *r1 = json_array_get(json_object_get(body, "requests"), 1);
    assert_string_equal(pu_str(r1, "model", ""), "models/text-embedding-004");
    assert_string_equal(pu_str(json_array_get(json_object_get(json_object_get(r1, "content"), "parts"), 0), "text", ""),
                        "two");
    json_decref(body);
    json_decref(http);
    json_decref(req);

    json_t *reply = parse("{\"embeddings\":[{\"values\":[0.1,0.2]},{\"values\":[0.3,0.4]}]}");
    assert_int_equal(gem_parse_embed(reply, model, 2, &out, &err), 0);
    json_t *e = json_object_get(out, "embeddings");
    assert_int_equal(json_array_size(e), 2);
    assert_true(json_real_value(json_array_get(json_array_get(e, 1), 0)) == 0.3);
    assert_true(json_is_true(json_object_get(json_object_get(out, "usage"), "missing")));
    json_decref(out);
    assert_int_equal(gem_parse_embed(reply, model, 3, &out, &err), VENOM_E_NET);
    assert_non_null(strstr(err, "2 embeddings for 3 inputs"));
    free(err);
    err = NULL;
    json_decref(reply);
    free(model);
    model = NULL;

    req = parse("{\"input\":42}");
    assert_int_equal(gem_build_embed(&cfg, req, &http, &model, &n, &err), VENOM_E_INVAL);
    free(err);
    err = NULL;
    json_decref(req);

    assert_int_equal(gem_build_models(&cfg, NULL, &http, &err), 0);
    assert_string_equal(pu_str(http, "url", ""),
                        "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000");
    assert_string_equal(pu_str(http, "method", ""), "GET");
    json_decref(http);
    assert_int_equal(gem_build_models(&cfg, "a+b/c=", &http, &err), 0);
    assert_string_equal(pu_str(http, "url", ""),
                        "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000&pageToken=a%2Bb%2Fc%3D");
    json_decref(http);
    json_t *page = parse("{\"models\":[{\"name\":\"models/gemini-2.5-flash\",\"displayName\":\"Gemini 2.5 Flash\","
                         "\"inputTokenLimit\":1048576,\"supportedGenerationMethods\":[\"generateContent\"]}],"
                         "\"nextPageToken\":\"tok\"}");
    json_t *list = json_array();
    char *next = NULL;
    assert_int_equal(gem_parse_models(page, list, &next, &err), 0);
    assert_string_equal(next, "tok");
    assert_string_equal(pu_str(json_array_get(list, 0), "id", ""), "gemini-2.5-flash");
    assert_string_equal(pu_str(json_array_get(list, 0), "name", ""), "Gemini 2.5 Flash");
    assert_int_equal(ival(json_array_get(list, 0), "input_token_limit"), 1048576);
    free(next);
    json_decref(page);
    json_decref(list);
    gem_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_request_full),
        cmocka_unit_test(test_request_defaults),
        cmocka_unit_test(test_request_invalid),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_stream_text_and_usage),
        cmocka_unit_test(test_stream_function_calls),
        cmocka_unit_test(test_stream_finish_reasons),
        cmocka_unit_test(test_stream_errors),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_embed_and_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
