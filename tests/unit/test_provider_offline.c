/*
 * test_provider_offline — the offline provider (plugins/offline/): the
 * engine included directly, fed canonical chat requests whose "tools" are
 * built from the real first-party manifests (skills/<pack>/venom.json|yaml)
 * the way the agent builds them; then the built plugin loaded through the
 * loader and called like the agent calls a provider.
 */
#include "../../plugins/offline/engine.c"

#include "testsupport.h"
#include "util/common.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "plugin/manifest.h"
#include "plan/plan.h"

#include <time.h>
#include <unistd.h>

static json_t *TOOLS; /* the canonical tools of every first-party skill pack */
static json_t *PLAN_TOOLS; /* the same as the planner sends them: with "output_schema" */
static char *WORK;    /* the workdir of the requests */

/* ------------------------------------------------------------ fixtures */

/* The typed skills' argument schema, as core/plugin/ffi.c derives it. */
static json_t *typed_schema(const json_t *fn)
{
    json_t *props = json_object(), *req = json_array();
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(fn, "params"), i, p)
    {
        const char *ty = json_string_value(json_object_get(p, "type"));
        const char *js = !strcmp(ty, "double") || !strcmp(ty, "float") ? "number"
                         : !strcmp(ty, "bool")                          ? "boolean"
                         : !strcmp(ty, "string")                        ? "string"
                                                                        : "integer";
        const char *name = json_string_value(json_object_get(p, "name"));
        json_object_set_new(props, name, json_pack("{s:s}", "type", js));
        json_array_append_new(req, json_string(name));
    }
    return json_pack("{s:s, s:o, s:o, s:b}", "type", "object", "properties", props, "required", req,
                     "additionalProperties", 0);
}

/* tools[] of the canonical request: one per skill of every pack; with
 * output_schema (each skill's result schema, when it has one) as the
 * planner offers them. */
static json_t *load_tools(bool output_schema)
{
    static const char *const packs[] = {"fs", "text", "json", "shell", "temperature", "libm"};
    const char *src = getenv("VENOM_SRC");
    json_t *tools = json_array();
    for (size_t k = 0; k < sizeof packs / sizeof packs[0]; k++) {
        char dir[PATH_MAX], *path = NULL, *err = NULL;
        manifest *m = NULL;
        snprintf(dir, sizeof dir, "%s/skills/%s", src ? src : "../..", packs[k]);
        assert_int_equal(manifest_find(dir, &path, &err), 0);
        if (manifest_load(path, &m, &err) != 0)
            fail_msg("%s", err);
        for (size_t i = 0; i < m->n_skills; i++) {
            const manifest_skill *s = &m->skills[i];
            char name[128];
            snprintf(name, sizeof name, "%s__%s", m->name, s->name);
            json_t *params = s->function ? typed_schema(s->function) : json_incref(s->args_schema);
            json_t *t = json_pack("{s:s, s:s, s:o}", "name", name, "description", s->description ? s->description : "",
                                  "parameters", params);
            if (s->examples)
                json_object_set(t, "examples", s->examples);
            if (output_schema && s->result_schema)
                json_object_set(t, "output_schema", s->result_schema);
            json_array_append_new(tools, t);
        }
        manifest_free(m);
        mem_free(path);
    }
    return tools;
}

static int group_setup(void **state)
{
    (void)state;
    TOOLS = load_tools(false);
    PLAN_TOOLS = load_tools(true);
    WORK = ts_mkdtemp();
    free(ts_write(WORK, "notes.txt", "hello world\nsecond line\n"));
    free(ts_write(WORK, "README.md", "# venom\n\nan agent runtime\n"));
    free(ts_write(WORK, "pets.txt", "cat and cat\n"));
    free(ts_write(WORK, "data.txt", "1 2 3\n"));
    free(ts_write(WORK, "config.json", "{\"name\": \"venom\"}\n"));
    free(ts_write(WORK, "src/main.c", "int main(void) { return 0; } /* TODO */\n"));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    json_decref(TOOLS);
    json_decref(PLAN_TOOLS);
    ts_rmtree(WORK);
    free(WORK);
    return 0;
}

/* ------------------------------------------------------------ helpers */

static json_t *request(const char *goal)
{
    return json_pack("{s:[{s:s, s:s}, {s:s, s:s}], s:O, s:{s:s}}", "messages", "role", "system", "content",
                     "You are venom.", "role", "user", "content", goal, "tools", TOOLS, "metadata", "workdir", WORK);
}

static json_t *plan_request(const char *goal, const json_t *tools);

static json_t *answer_with(const offline_opts *o, const json_t *req)
{
    char err[512] = "";
    json_t *res = NULL;
    int rc = offline_engine_answer(o, req, NULL, &res, err, sizeof err);
    if (rc != 0)
        fail_msg("engine: %d %s", rc, err);
    return res;
}

static json_t *answer(const json_t *req)
{
    offline_opts o = {.threshold = OFFLINE_DEFAULT_THRESHOLD};
    return answer_with(&o, req);
}

static const char *finish(const json_t *res)
{
    return json_string_value(json_object_get(res, "finish"));
}

static const char *content(const json_t *res)
{
    return json_string_value(json_object_get(json_object_get(res, "message"), "content"));
}

/* The one tool call of res must be name(args). */
static void expect_call(const json_t *res, const char *goal, const char *name, const char *args)
{
    const json_t *calls = json_object_get(json_object_get(res, "message"), "tool_calls");
    if (json_array_size(calls) != 1) {
        char *d = json_dumps(res, JSON_COMPACT);
        fail_msg("\"%s\": expected a call of %s, got %s", goal, name, d);
    }
    const json_t *c = json_array_get(calls, 0);
    json_t *want = json_loads(args, 0, NULL);
    assert_non_null(want);
    if (strcmp(json_string_value(json_object_get(c, "name")), name) || !json_equal(want, json_object_get(c, "arguments"))) {
        char *d = json_dumps(c, JSON_COMPACT);
        fail_msg("\"%s\": expected %s %s, got %s", goal, name, args, d);
    }
    assert_string_equal(finish(res), "tool_calls");
    assert_string_equal(content(res), "");
    assert_true(json_real_value(json_object_get(res, "confidence")) >= OFFLINE_DEFAULT_THRESHOLD);
    assert_int_equal(json_array_size(json_object_get(res, "unresolved")), 0);
    const json_t *u = json_object_get(res, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "input_tokens")), 0);
    assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 0);
    assert_true(json_is_false(json_object_get(u, "missing")));
    json_decref(want);
}

/* Append the response's assistant message and a tool result for its call. */
static void feed(json_t *req, const json_t *res, const char *result, bool is_error)
{
    json_t *msgs = json_object_get(req, "messages");
    const json_t *msg = json_object_get(res, "message");
    const json_t *call = json_array_get(json_object_get(msg, "tool_calls"), 0);
    assert_non_null(call);
    json_array_append(msgs, (json_t *)msg);
    json_array_append_new(msgs, json_pack("{s:s, s:O, s:O, s:s, s:b}", "role", "tool", "tool_call_id",
                                          json_object_get(call, "id"), "name", json_object_get(call, "name"),
                                          "content", result, "is_error", is_error));
}

/* The goal must not be guessed: no call, questions, low confidence. */
static json_t *expect_unresolved(const char *goal, const char *question_part)
{
    json_t *req = request(goal), *res = answer(req);
    const json_t *u = json_object_get(res, "unresolved");
    char *d = json_dumps(res, JSON_COMPACT);
    if (json_object_get(json_object_get(res, "message"), "tool_calls") || json_array_size(u) == 0)
        fail_msg("\"%s\" was guessed: %s", goal, d);
    assert_string_equal(finish(res), "stop");
    assert_true(!strncmp(content(res), "I could not decide: ", 20));
    if (question_part && !strstr(content(res), question_part))
        fail_msg("\"%s\": expected a question with \"%s\", got %s", goal, question_part, d);
    free(d);
    json_decref(req);
    return res;
}

/* ------------------------------------------------------------ tests */

static void test_tools_from_manifests(void **state)
{
    (void)state;
    /* 5 fs + 5 text + 3 json + 1 shell + 2 temperature + 3 libm */
    assert_int_equal(json_array_size(TOOLS), 19);
    pthread_once(&tables_once, tables_init);
    assert_true(pool_used < sizeof POOL); /* every table word fitted */
    char st[WMAX];
    stem("lines", st);
    assert_string_equal(st, "lin");
    stem("line", st);
    assert_string_equal(st, "lin");
    stem("matches", st);
    assert_string_equal(st, "match");
    stem("replacing", st);
    assert_string_equal(st, "replac");
    stem("celsius", st);
    assert_string_equal(st, "celsius");
}

static void test_phrasings(void **state)
{
    (void)state;
    static const struct {
        const char *goal, *tool, *args;
    } cases[] = {
        {"count the lines of README.md", "text__count", "{\"path\":\"README.md\"}"},
        {"how many words are in notes.txt?", "text__count", "{\"path\":\"notes.txt\"}"},
        {"count the words in 'hello big world'", "text__count", "{\"text\":\"hello big world\"}"},
        {"show me notes.txt", "fs__read", "{\"path\":\"notes.txt\"}"},
        {"Print README.md", "fs__read", "{\"path\":\"README.md\"}"},
        {"write 'hello' to out.txt", "fs__write", "{\"path\":\"out.txt\",\"content\":\"hello\"}"},
        {"convert 100 fahrenheit to celsius", "temperature__fahrenheit_to_celsius", "{\"f\":100}"},
        {"what is 37 celsius in fahrenheit", "temperature__celsius_to_fahrenheit", "{\"c\":37}"},
        {"convert 21.5°C to fahrenheit", "temperature__celsius_to_fahrenheit", "{\"c\":21.5}"},
        {"list the files", "fs__list", "{}"},
        {"list the files in src", "fs__list", "{\"path\":\"src\"}"},
        {"find TODO in src", "fs__search", "{\"pattern\":\"TODO\",\"path\":\"src\"}"},
        {"search for \"return 0\" in src recursively", "fs__search", "{\"pattern\":\"return 0\",\"path\":\"src\"}"},
        {"replace 'cat' with 'dog' in pets.txt", "text__replace",
         "{\"path\":\"pets.txt\",\"find\":\"cat\",\"replace\":\"dog\"}"},
        {"substitute bird with fish in pets.txt", "text__replace",
         "{\"path\":\"pets.txt\",\"find\":\"bird\",\"replace\":\"fish\"}"},
        {"convert 100 to fahrenheit", "temperature__celsius_to_fahrenheit", "{\"c\":100}"},
        {"first 3 lines of notes.txt", "text__head", "{\"path\":\"notes.txt\",\"lines\":3}"},
        {"last 1 line of notes.txt", "text__tail", "{\"path\":\"notes.txt\",\"lines\":1}"},
        {"json get path=config.json pointer=/name", "json__get", "{\"path\":\"config.json\",\"pointer\":\"/name\"}"},
        {"get /name from config.json", "json__get", "{\"path\":\"config.json\",\"pointer\":\"/name\"}"},
        {"set /name to 'viper' in config.json", "json__set",
         "{\"path\":\"config.json\",\"pointer\":\"/name\",\"value\":\"viper\"}"},
        {"run 'echo hi'", "shell__exec", "{\"command\":\"echo hi\"}"},
        {"execute ls -la src", "shell__exec", "{\"command\":\"ls -la src\"}"},
        {"square root of 144", "libm__sqrt", "{\"x\":144}"},
        {"raise 2 to the power of 10", "libm__pow", "{\"x\":2,\"y\":10}"},
        {"stat notes.txt", "fs__stat", "{\"path\":\"notes.txt\"}"},
        {"read notes.txt encoding=base64 limit=4", "fs__read",
         "{\"path\":\"notes.txt\",\"encoding\":\"base64\",\"limit\":4}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *req = request(cases[i].goal), *res = answer(req);
        expect_call(res, cases[i].goal, cases[i].tool, cases[i].args);
        assert_string_equal(json_string_value(json_object_get(json_array_get(
                                json_object_get(json_object_get(res, "message"), "tool_calls"), 0), "id")),
                            "call_1");
        json_decref(res);
        json_decref(req);
    }
}

static void test_multi_turn_chain(void **state)
{
    (void)state;
    const char *goal = "read notes.txt then count the words";
    json_t *req = request(goal), *res = answer(req);
    expect_call(res, goal, "fs__read", "{\"path\":\"notes.txt\"}");
    feed(req, res, "{\"content\":\"hello world\\nsecond line\\n\",\"bytes\":24,\"eof\":true,\"offset\":0,\"size\":24}",
         false);
    json_decref(res);
    res = answer(req);
    /* the read text feeds text.count's empty text/path */
    expect_call(res, goal, "text__count", "{\"text\":\"hello world\\nsecond line\\n\"}");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(json_object_get(res, "message"), "tool_calls"), 0), "id")),
                        "call_2");
    feed(req, res, "{\"lines\":2,\"words\":4,\"bytes\":24,\"chars\":24}", false);
    json_decref(res);
    res = answer(req);
    assert_string_equal(finish(res), "stop");
    assert_string_equal(content(res), "2 lines, 4 words, 24 bytes, 24 chars");
    assert_null(json_object_get(json_object_get(res, "message"), "tool_calls"));
    assert_true(json_real_value(json_object_get(res, "confidence")) >= 0.5);
    json_decref(res);
    json_decref(req);
}

static void test_write_then_read(void **state)
{
    (void)state;
    /* a.txt does not exist: the write creates it, so the read may use it */
    const char *goal = "write 'hello' to a.txt and then read a.txt";
    json_t *req = request(goal), *res = answer(req);
    expect_call(res, goal, "fs__write", "{\"path\":\"a.txt\",\"content\":\"hello\"}");
    feed(req, res, "{\"path\":\"a.txt\",\"bytes\":5}", false);
    json_decref(res);
    res = answer(req);
    expect_call(res, goal, "fs__read", "{\"path\":\"a.txt\"}");
    feed(req, res, "{\"content\":\"hello\",\"bytes\":5,\"eof\":true,\"offset\":0,\"size\":5}", false);
    json_decref(res);
    res = answer(req);
    assert_string_equal(finish(res), "stop");
    assert_string_equal(content(res), "hello");
    json_decref(res);
    json_decref(req);
}

static void test_separators_and_summaries(void **state)
{
    (void)state;
    /* "; " and ", then" split; a quoted "then" does not */
    const char *goal = "list src; first 1 line of notes.txt, then search for 'then' in notes.txt";
    json_t *req = request(goal), *res = answer(req);
    expect_call(res, goal, "fs__list", "{\"path\":\"src\"}");
    feed(req, res, "{\"entries\":[{\"name\":\"main.c\",\"type\":\"file\",\"size\":40}],\"truncated\":false}", false);
    json_decref(res);
    res = answer(req);
    expect_call(res, goal, "text__head", "{\"path\":\"notes.txt\",\"lines\":1}");
    feed(req, res, "{\"lines\":[\"hello world\"]}", false);
    json_decref(res);
    res = answer(req);
    expect_call(res, goal, "fs__search", "{\"pattern\":\"then\",\"path\":\"notes.txt\"}");
    feed(req, res, "{\"matches\":[{\"file\":\"notes.txt\",\"line\":2,\"text\":\"x then y\"}],\"truncated\":false}", false);
    json_decref(res);
    res = answer(req);
    assert_string_equal(content(res), "1 match\nnotes.txt:2: x then y");
    json_decref(res);
    json_decref(req);

    static const struct {
        const char *result, *text;
    } sums[] = {
        {"{\"entries\":[{\"name\":\"a\",\"type\":\"dir\"},{\"name\":\"b.txt\",\"type\":\"file\"}],\"truncated\":false}",
         "2 entries: a/, b.txt"},
        {"37.77777777777778", "37.77777778"},
        {"{\"value\":\"venom\"}", "venom"},
        {"{\"valid\":false,\"errors\":[\"/port: too big\"]}", "not valid: /port: too big"},
        {"{\"exit_code\":0,\"stdout\":\"hi\\n\",\"stderr\":\"\"}", "hi\n"},
        {"{\"replacements\":2,\"path\":\"pets.txt\",\"bytes\":12}", "2 replacements in pets.txt"},
        {"{\"path\":\"a.txt\",\"bytes\":5}", "wrote 5 bytes to a.txt"},
        {"{\"lines\":1,\"words\":1,\"bytes\":6,\"chars\":5}", "1 line, 1 word, 6 bytes, 5 chars"},
        {"{\"type\":\"file\",\"size\":24,\"mode\":\"0644\"}", "{\"type\":\"file\",\"size\":24,\"mode\":\"0644\"}"},
        {"not json at all", "not json at all"},
    };
    for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++) {
        char *s = summarize(sums[i].result);
        assert_non_null(s);
        assert_string_equal(s, sums[i].text);
        free(s);
    }
}

static void test_error_result(void **state)
{
    (void)state;
    const char *goal = "count the lines of README.md then show me notes.txt";
    json_t *req = request(goal), *res = answer(req);
    expect_call(res, goal, "text__count", "{\"path\":\"README.md\"}");
    feed(req, res, "{\"error\":\"README.md: permission denied\"}", true);
    json_decref(res);
    res = answer(req);
    assert_string_equal(finish(res), "error");
    assert_string_equal(content(res), "step 1 (text__count) failed: README.md: permission denied");
    assert_null(json_object_get(json_object_get(res, "message"), "tool_calls"));
    json_decref(res);
    json_decref(req);
}

static void test_ambiguous(void **state)
{
    (void)state;
    json_t *res;
    res = expect_unresolved("do the thing", "what should I do?");
    assert_true(json_real_value(json_object_get(res, "confidence")) < 0.5);
    json_decref(res);
    res = expect_unresolved("count", "which file or text should text__count work on?");
    json_decref(res);
    res = expect_unresolved("process data.txt", "what should I do with data.txt?");
    json_decref(res);
    res = expect_unresolved("how big is notes.txt", "did you mean fs__stat or text__count?");
    assert_true(json_real_value(json_object_get(res, "confidence")) < 0.5);
    json_decref(res);
    res = expect_unresolved("count the lines of missing.txt", "missing.txt is not in the workdir");
    json_decref(res);
    res = expect_unresolved("convert celsius to fahrenheit", "what number is c for temperature__celsius_to_fahrenheit?");
    json_decref(res);
    /* an unquoted argument that is also an action word ("cat" = read) */
    res = expect_unresolved("substitute cat with dog in pets.txt", "did you mean fs__read or text__replace?");
    json_decref(res);
    res = expect_unresolved("replace 'cat' in pets.txt", "what should text__replace put instead?");
    json_decref(res);
    /* a hopeless later step stops the plan before its first call */
    res = expect_unresolved("read notes.txt then do the thing", "step 2: what should I do?");
    json_decref(res);
    /* the question is in "unresolved" too */
    res = expect_unresolved("count", NULL);
    assert_string_equal(json_string_value(json_array_get(json_object_get(res, "unresolved"), 0)),
                        "which file or text should text__count work on? (none of the words names a file in the "
                        "workdir; or put the text in quotes)");
    json_decref(res);
}

static void test_paths_outside_workdir(void **state)
{
    (void)state;
    /* a file outside the workdir that exists, reachable by "..": never used */
    char *outside = ts_write(WORK, "../offline-outside.txt", "secret\n");
    json_t *res = expect_unresolved("count the lines of ../etc/passwd", "../etc/passwd is outside the workdir");
    json_decref(res);
    res = expect_unresolved("count the lines of /etc/passwd", "/etc/passwd is outside the workdir");
    json_decref(res);
    res = expect_unresolved("show me ../offline-outside.txt", "outside the workdir");
    json_decref(res);
    /* a symlink inside the workdir that leads out is no workdir file either */
    char link[PATH_MAX];
    snprintf(link, sizeof link, "%s/escape.txt", WORK);
    assert_int_equal(symlink(outside, link), 0);
    res = expect_unresolved("show me escape.txt", "which file should fs__read use?");
    json_decref(res);
    unlink(link);
    unlink(outside);
    free(outside);
    /* without a workdir nothing is a file */
    json_t *req = request("show me notes.txt");
    json_object_del(req, "metadata");
    res = answer(req);
    assert_int_equal(json_array_size(json_object_get(res, "unresolved")), 1);
    json_decref(res);
    json_decref(req);
}

static void test_deterministic(void **state)
{
    (void)state;
    static const char *const goals[] = {"read notes.txt then count the words", "how big is notes.txt",
                                        "convert 100 fahrenheit to celsius"};
    for (size_t i = 0; i < 3; i++) {
        json_t *req = request(goals[i]);
        json_t *a = answer(req), *b = answer(req);
        char *sa = json_dumps(a, JSON_COMPACT), *sb = json_dumps(b, JSON_COMPACT);
        assert_string_equal(sa, sb);
        free(sa);
        free(sb);
        json_decref(a);
        json_decref(b);
        json_decref(req);
    }
}

static void test_threshold_and_options(void **state)
{
    (void)state;
    char err[512];
    offline_opts o;
    json_t *cfg = json_loads("{\"name\":\"offline\",\"model\":\"m1\",\"options\":{\"threshold\":0.99}}", 0, NULL);
    assert_int_equal(offline_opts_parse(cfg, &o, err, sizeof err), 0);
    assert_true(o.threshold == 0.99);
    /* convert ... scores about 0.7: fine at 0.5, not at 0.99 */
    json_t *req = request("convert 100 fahrenheit to celsius");
    json_t *res = answer_with(&o, req);
    assert_non_null(strstr(content(res), "is only"));
    assert_string_equal(json_string_value(json_object_get(res, "model")), "m1");
    json_decref(res);
    json_decref(req);
    json_decref(cfg);

    static const char *const bad[] = {"{\"options\":{\"threshold\":2}}", "{\"options\":{\"threshold\":\"high\"}}",
                                      "{\"options\":{\"treshold\":0.5}}", "{\"options\":[]}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        err[0] = 0;
        assert_int_equal(offline_opts_parse(cfg, &o, err, sizeof err), VENOM_E_INVAL);
        assert_true(err[0] != 0);
        json_decref(cfg);
    }
    assert_int_equal(offline_opts_parse(NULL, &o, err, sizeof err), 0);
    assert_true(o.threshold == OFFLINE_DEFAULT_THRESHOLD);
}

static void test_bad_requests(void **state)
{
    (void)state;
    offline_opts o = {.threshold = 0.5};
    static const char *const bad[] = {
        "{}",
        "{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
        "{\"messages\":[{\"content\":\"x\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"count\"}],\"tools\":[{\"description\":\"no name\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"count\"}],\"tools\":{}}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *req = json_loads(bad[i], 0, NULL), *res = NULL;
        char err[512] = "";
        assert_int_equal(offline_engine_answer(&o, req, NULL, &res, err, sizeof err), VENOM_E_INVAL);
        assert_null(res);
        assert_non_null(strstr(err, "offline: ") ? err : strstr(err, "request.tools"));
        json_decref(req);
    }
    /* no tools: a question, not an error */
    json_t *req = json_loads("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"count\"}]}]}", 0,
                             NULL);
    json_t *res = answer(req);
    assert_non_null(strstr(content(res), "lists no tools"));
    json_decref(res);
    json_decref(req);
    /* odd goals do not crash */
    static const char *const odd[] = {"", "   ;;; , then then", "'unterminated \"quote", "k==v =x x= ==",
                                      "../../../../", "héllo wörld ünïcode 😀", "1e999999 -0 +.5 . .."};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        req = request(odd[i]);
        res = answer(req);
        assert_non_null(res);
        json_decref(res);
        json_decref(req);
    }
    /* a question quotes at most 200 bytes of the step: never half a
     * character (the response must stay valid UTF-8) */
    char goal[512] = "x";
    for (int i = 0; i < 150; i++)
        memcpy(goal + 1 + 2 * i, "\xc3\xa9", 3); /* é, then the NUL */
    for (int planning = 0; planning < 2; planning++) {
        req = planning ? plan_request(goal, NULL) : request(goal);
        res = answer(req);
        const char *q = json_string_value(json_array_get(json_object_get(res, "unresolved"), 0));
        assert_non_null(q);
        assert_non_null(strstr(q, "(no word of \"x\xc3\xa9"));
        json_decref(res);
        json_decref(req);
    }
}

/* ------------------------------------------------------------ plan mode */

/* A planning request as the planner sends it: purpose "plan", the tools
 * with their output schemas. */
static json_t *plan_request(const char *goal, const json_t *tools)
{
    return json_pack("{s:[{s:s, s:s}, {s:s, s:s}], s:O, s:{s:s, s:s}}", "messages", "role", "system", "content",
                     "Plan the goal as JSON against the plan schema.", "role", "user", "content", goal, "tools",
                     tools ? tools : PLAN_TOOLS, "metadata", "purpose", "plan", "workdir", WORK);
}

/* The plan the engine answers req with: the response must be a final text
 * (no call) holding one JSON object whose confidence and questions are the
 * response's; a non-empty plan must pass the real plan reader and checker.
 * Returns the object; the steps lose their "description" (checked here to
 * be a part of the goal). */
static json_t *plan_for(const json_t *req)
{
    json_t *res = answer(req);
    char *d = json_dumps(res, JSON_COMPACT);
    if (strcmp(finish(res), "stop") || json_object_get(json_object_get(res, "message"), "tool_calls"))
        fail_msg("a plan request was answered with %s", d);
    json_error_t je;
    json_t *body = json_loads(content(res), 0, &je);
    if (!json_is_object(body))
        fail_msg("the plan is not a JSON object (%s): %s", je.text, d);
    json_t *steps = json_object_get(body, "steps");
    assert_true(json_is_array(steps));
    assert_true(json_equal(json_object_get(body, "confidence"), json_object_get(res, "confidence")));
    assert_true(json_equal(json_object_get(body, "questions"), json_object_get(res, "unresolved")));
    assert_int_equal(json_object_size(body), 3);
    const char *goal = json_string_value(json_object_get(json_array_get(json_object_get(req, "messages"), 1), "content"));
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st)
    {
        const char *desc = json_string_value(json_object_get(st, "description"));
        assert_non_null(desc);
        assert_non_null(strstr(goal, desc));
        json_object_del(st, "description");
    }
    if (json_array_size(steps)) { /* the steps as a plan file */
        json_t *doc = json_pack("{s:O}", "steps", steps);
        char *text = json_dumps(doc, JSON_COMPACT);
        plan *p = NULL;
        char *err = NULL;
        if (plan_parse(text, strlen(text), "plan.json", NULL, 0, &p, &err) != 0 || plan_check(p, NULL, NULL, &err) != 0)
            fail_msg("the plan does not check: %s\n%s", err, text);
        assert_int_equal(p->n, json_array_size(steps));
        plan_free(p);
        free(text);
        json_decref(doc);
    }
    free(d);
    json_decref(res);
    return body;
}

static void expect_plan(const char *goal, const json_t *tools, const char *steps)
{
    json_t *req = plan_request(goal, tools), *body = plan_for(req), *want = json_loads(steps, 0, NULL);
    assert_non_null(want);
    if (!json_equal(want, json_object_get(body, "steps"))) {
        char *got = json_dumps(body, JSON_COMPACT);
        fail_msg("\"%s\": expected the steps %s, got %s", goal, steps, got);
    }
    assert_int_equal(json_array_size(json_object_get(body, "questions")), 0);
    assert_true(json_real_value(json_object_get(body, "confidence")) >= OFFLINE_DEFAULT_THRESHOLD);
    json_decref(want);
    json_decref(body);
    json_decref(req);
}

static double plan_confidence(const char *goal, const json_t *tools)
{
    json_t *req = plan_request(goal, tools), *body = plan_for(req);
    double c = json_real_value(json_object_get(body, "confidence"));
    json_decref(body);
    json_decref(req);
    return c;
}

static void test_plan_single_step(void **state)
{
    (void)state;
    expect_plan("count the lines of README.md", NULL,
                "[{\"id\":\"s1\",\"skill\":\"text.count\",\"args\":{\"path\":\"README.md\"}}]");
    expect_plan("convert 100 fahrenheit to celsius", NULL,
                "[{\"id\":\"s1\",\"skill\":\"temperature.fahrenheit_to_celsius\",\"args\":{\"f\":100}}]");
    /* key=value arguments, typed by the schema */
    expect_plan("json get path=config.json pointer=/name", NULL,
                "[{\"id\":\"s1\",\"skill\":\"json.get\",\"args\":{\"path\":\"config.json\",\"pointer\":\"/name\"}}]");
    expect_plan("read notes.txt encoding=base64 limit=4", NULL,
                "[{\"id\":\"s1\",\"skill\":\"fs.read\",\"args\":{\"path\":\"notes.txt\",\"encoding\":\"base64\","
                "\"limit\":4}}]");
    /* the confidence is the step's, as a tool call would carry it */
    assert_true(plan_confidence("count the lines of README.md", NULL) == 0.93);
    /* text from the goal that looks like a reference stays text */
    expect_plan("write '${steps.s1.result} costs $5' to out.txt", NULL,
                "[{\"id\":\"s1\",\"skill\":\"fs.write\",\"args\":{\"path\":\"out.txt\","
                "\"content\":\"$${steps.s1.result} costs $5\"}}]");
    /* the description is the step's part of the goal */
    json_t *req = plan_request("count the lines of README.md", NULL), *res = answer(req);
    json_t *body = json_loads(content(res), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(body, "steps"), 0),
                                                          "description")),
                        "count the lines of README.md");
    /* compact, and the same bytes every time */
    json_t *again = answer(req);
    assert_string_equal(content(res), content(again));
    assert_null(strchr(content(res), '\n'));
    json_decref(again);
    json_decref(body);
    json_decref(res);
    json_decref(req);
}

static void test_plan_chain(void **state)
{
    (void)state;
    /* the reference's field comes from fs.read's output_schema (content) */
    expect_plan("read notes.txt then count the words", NULL,
                "[{\"id\":\"s1\",\"skill\":\"fs.read\",\"args\":{\"path\":\"notes.txt\"}},"
                "{\"id\":\"s2\",\"skill\":\"text.count\",\"args\":{\"text\":\"${steps.s1.result/content}\"}}]");
    /* three steps: text.replace's result has text (the same name) */
    expect_plan("read notes.txt then replace 'hello' with 'bye' then count the words", NULL,
                "[{\"id\":\"s1\",\"skill\":\"fs.read\",\"args\":{\"path\":\"notes.txt\"}},"
                "{\"id\":\"s2\",\"skill\":\"text.replace\",\"args\":{\"text\":\"${steps.s1.result/content}\","
                "\"find\":\"hello\",\"replace\":\"bye\"}},"
                "{\"id\":\"s3\",\"skill\":\"text.count\",\"args\":{\"text\":\"${steps.s2.result/text}\"}}]");
    /* shell.exec's stdout feeds the next step */
    expect_plan("run 'ls -la' then count the lines", NULL,
                "[{\"id\":\"s1\",\"skill\":\"shell.exec\",\"args\":{\"command\":\"ls -la\"}},"
                "{\"id\":\"s2\",\"skill\":\"text.count\",\"args\":{\"text\":\"${steps.s1.result/stdout}\"}}]");
    /* no reference, but after the step before: a.txt exists only once
     * s1 wrote it */
    expect_plan("write 'hello' to a.txt and then read a.txt", NULL,
                "[{\"id\":\"s1\",\"skill\":\"fs.write\",\"args\":{\"path\":\"a.txt\",\"content\":\"hello\"}},"
                "{\"id\":\"s2\",\"skill\":\"fs.read\",\"args\":{\"path\":\"a.txt\"},\"depends_on\":[\"s1\"]}]");
    /* a path parameter takes only a path field (fs.write's path) */
    expect_plan("write 'hello' to a.txt then show it", NULL,
                "[{\"id\":\"s1\",\"skill\":\"fs.write\",\"args\":{\"path\":\"a.txt\",\"content\":\"hello\"}},"
                "{\"id\":\"s2\",\"skill\":\"fs.read\",\"args\":{\"path\":\"${steps.s1.result/path}\"}}]");
}

static void test_plan_without_output_schema(void **state)
{
    (void)state;
    const char *goal = "read notes.txt then count the words";
    double sure = plan_confidence(goal, NULL);
    /* no output_schema: fs.read's example result decides (content), but
     * less surely */
    expect_plan(goal, TOOLS,
                "[{\"id\":\"s1\",\"skill\":\"fs.read\",\"args\":{\"path\":\"notes.txt\"}},"
                "{\"id\":\"s2\",\"skill\":\"text.count\",\"args\":{\"text\":\"${steps.s1.result/content}\"}}]");
    double example = plan_confidence(goal, TOOLS);
    assert_true(example < sure);
    assert_true(example == round2(sure * PLAN_GUESS));
    /* no output_schema and no example: the field of the same name, a guess */
    json_t *bare = json_deep_copy(TOOLS);
    size_t i;
    json_t *t;
    json_array_foreach(bare, i, t) json_object_del(t, "examples");
    expect_plan(goal, bare,
                "[{\"id\":\"s1\",\"skill\":\"fs.read\",\"args\":{\"path\":\"notes.txt\"}},"
                "{\"id\":\"s2\",\"skill\":\"text.count\",\"args\":{\"text\":\"${steps.s1.result/text}\"}}]");
    assert_true(plan_confidence(goal, bare) < sure);
    /* a guess below the threshold is asked about, the rest kept */
    offline_opts o = {.threshold = 0.9};
    json_t *req = plan_request(goal, bare), *res = answer_with(&o, req);
    json_t *body = json_loads(content(res), 0, NULL);
    assert_int_equal(json_array_size(json_object_get(body, "steps")), 1);
    const char *q = json_string_value(json_array_get(json_object_get(body, "questions"), 0));
    assert_non_null(q);
    assert_non_null(strstr(q, "step 2: is ${steps.s1.result/text} right for text__count's text?"));
    assert_non_null(strstr(q, "fs__read declares no output schema"));
    assert_true(json_real_value(json_object_get(body, "confidence")) < 0.9);
    json_decref(body);
    json_decref(res);
    json_decref(req);
    json_decref(bare);
}

/* The plan of an undecided goal: the steps it could decide, the questions,
 * a confidence below the threshold. */
static json_t *undecided_plan(const char *goal, size_t n_steps, const char *question)
{
    json_t *req = plan_request(goal, NULL), *body = plan_for(req);
    char *d = json_dumps(body, JSON_COMPACT);
    const json_t *qs = json_object_get(body, "questions");
    if (json_array_size(json_object_get(body, "steps")) != n_steps || !json_array_size(qs) ||
        !strstr(json_string_value(json_array_get(qs, 0)), question))
        fail_msg("\"%s\": expected %zu steps and the question \"%s\", got %s", goal, n_steps, question, d);
    assert_true(json_real_value(json_object_get(body, "confidence")) < OFFLINE_DEFAULT_THRESHOLD);
    free(d);
    json_decref(req);
    return body;
}

static void test_plan_undecided(void **state)
{
    (void)state;
    /* text.head's result is a list of lines; text.count's text takes no list */
    json_t *body = undecided_plan("first 2 lines of notes.txt then count the words", 1,
                                  "step 2: what should text__count get as text from step 1? (text__head's result has no "
                                  "field for it: its only text is a list of strings");
    json_t *want = json_loads("[{\"id\":\"s1\",\"skill\":\"text.head\",\"args\":{\"path\":\"notes.txt\",\"lines\":2}}]",
                              0, NULL);
    assert_true(json_equal(want, json_object_get(body, "steps")));
    json_decref(want);
    json_decref(body);
    /* a hopeless step 2: step 1 is kept */
    body = undecided_plan("read notes.txt then do the thing", 1, "step 2: what should I do?");
    json_decref(body);
    /* an ambiguous step 1; step 2 needs nothing from it, and follows nothing */
    body = undecided_plan("how big is notes.txt; count the lines of README.md", 1,
                          "step 1: did you mean fs__stat or text__count?");
    want = json_loads("[{\"id\":\"s2\",\"skill\":\"text.count\",\"args\":{\"path\":\"README.md\"}}]", 0, NULL);
    assert_true(json_equal(want, json_object_get(body, "steps")));
    json_decref(want);
    json_decref(body);
    /* step 2 would take step 1's result, and step 1 is undecided: neither
     * is planned; the question is about step 1 */
    body = undecided_plan("do the thing then count the words", 0, "step 1: what should I do?");
    assert_int_equal(json_array_size(json_object_get(body, "questions")), 1);
    json_decref(body);
    /* an argument it cannot fill: asked, with a score below the threshold
     * even though the tool is clear */
    body = undecided_plan("count", 0, "which file or text should text__count work on?");
    assert_true(json_real_value(json_object_get(body, "confidence")) == 0.49);
    json_decref(body);
}

static void test_plan_unplannable(void **state)
{
    (void)state;
    json_t *body = undecided_plan("do the thing", 0, "what should I do? (no word of \"do the thing\" matches");
    assert_true(json_real_value(json_object_get(body, "confidence")) == 0.0);
    json_decref(body);
    body = undecided_plan("", 0, "what should I do? (the goal is empty)");
    json_decref(body);
    /* no tools at all */
    json_t *none = json_array();
    json_t *req = plan_request("count the lines of README.md", none);
    body = plan_for(req);
    assert_int_equal(json_array_size(json_object_get(body, "steps")), 0);
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(body, "questions"), 0)), "lists no tools"));
    json_decref(body);
    json_decref(req);
    json_decref(none);
}

/* Messages as the agent loop produces them for one call and its result. */
static void add_call(json_t *req, const char *id, const char *name, const char *args, const char *result, bool is_error)
{
    json_t *msgs = json_object_get(req, "messages");
    json_array_append_new(msgs, json_pack("{s:s, s:s, s:[{s:s, s:s, s:o}]}", "role", "assistant", "content", "",
                                          "tool_calls", "id", id, "name", name, "arguments", json_loads(args, 0, NULL)));
    json_array_append_new(msgs, json_pack("{s:s, s:s, s:s, s:s, s:b}", "role", "tool", "tool_call_id", id, "name", name,
                                          "content", result, "is_error", is_error));
}

static void test_plan_answer_turn(void **state)
{
    (void)state;
    const char *goal = "read notes.txt then count the words";
    const char *read = "{\"content\":\"hello world\\nsecond line\\n\",\"bytes\":24,\"eof\":true,\"offset\":0,\"size\":24}";
    /* every step has its result: the usual final text, tool_choice none */
    json_t *req = request(goal);
    json_object_set_new(req, "tool_choice", json_string("none"));
    json_object_set_new(req, "tools", json_deep_copy(PLAN_TOOLS));
    add_call(req, "call_1", "fs__read", "{\"path\":\"notes.txt\"}", read, false);
    add_call(req, "call_2", "text__count", "{\"text\":\"hello world\\nsecond line\\n\"}",
             "{\"lines\":2,\"words\":4,\"bytes\":24,\"chars\":24}", false);
    json_t *res = answer(req);
    assert_string_equal(finish(res), "stop");
    assert_string_equal(content(res), "2 lines, 4 words, 24 bytes, 24 chars");
    assert_null(json_object_get(json_object_get(res, "message"), "tool_calls"));
    assert_int_equal(json_array_size(json_object_get(res, "unresolved")), 0);
    assert_true(json_real_value(json_object_get(res, "confidence")) >= 0.5);
    json_decref(res);
    json_decref(req);
    /* the plan ran fewer steps than the goal has (a step skipped): still no
     * call under tool_choice none, the text of the last result */
    req = request(goal);
    json_object_set_new(req, "tool_choice", json_string("none"));
    add_call(req, "call_1", "fs__read", "{\"path\":\"notes.txt\"}", read, false);
    res = answer(req);
    assert_string_equal(finish(res), "stop");
    assert_string_equal(content(res), "hello world\nsecond line\n");
    assert_null(json_object_get(json_object_get(res, "message"), "tool_calls"));
    json_decref(res);
    /* the same turn without tool_choice none goes on with the next call */
    json_object_del(req, "tool_choice");
    res = answer(req);
    expect_call(res, goal, "text__count", "{\"text\":\"hello world\\nsecond line\\n\"}");
    json_decref(res);
    json_decref(req);
    /* a failed step: finish error, as in an agent run */
    req = request(goal);
    json_object_set_new(req, "tool_choice", json_string("none"));
    add_call(req, "call_1", "fs__read", "{\"path\":\"notes.txt\"}", "{\"error\":\"notes.txt: gone\"}", true);
    res = answer(req);
    assert_string_equal(finish(res), "error");
    assert_string_equal(content(res), "step 1 (fs__read) failed: notes.txt: gone");
    json_decref(res);
    json_decref(req);
    /* a plan request ignores tool results and plans the whole goal */
    req = plan_request(goal, NULL);
    add_call(req, "call_1", "fs__read", "{\"path\":\"notes.txt\"}", read, false);
    json_t *body = plan_for(req);
    assert_int_equal(json_array_size(json_object_get(body, "steps")), 2);
    json_decref(body);
    json_decref(req);
}

static double time_calls(const json_t *req, const offline_tools *ts, int n)
{
    offline_opts o = {.threshold = 0.5};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        json_t *res = NULL;
        char err[256];
        assert_int_equal(offline_engine_answer(&o, req, ts, &res, err, sizeof err), 0);
        json_decref(res);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / n;
}

static void test_speed(void **state)
{
    (void)state;
    json_t *req = request("read notes.txt then count the words");
    offline_tools *ts = NULL;
    char err[256];
    assert_int_equal(offline_tools_new(TOOLS, &ts, err, sizeof err), 0);
    /* the same answer with the tools analysed beforehand */
    offline_opts o = {.threshold = 0.5};
    json_t *r1 = NULL, *r2 = NULL;
    assert_int_equal(offline_engine_answer(&o, req, NULL, &r1, err, sizeof err), 0);
    assert_int_equal(offline_engine_answer(&o, req, ts, &r2, err, sizeof err), 0);
    assert_true(json_equal(r1, r2));
    json_decref(r1);
    json_decref(r2);
    double fresh = time_calls(req, NULL, 1000), cached = time_calls(req, ts, 5000);
    print_message("offline engine, %zu tools: %.1f us per call analysing the tools, %.1f us with them analysed\n",
                  json_array_size(TOOLS), fresh, cached);
    /* generous bounds for sanitizers and loaded CI machines; the target
     * (release build) is well under 100 us */
    assert_true(cached < 2000);
    assert_true(cached < fresh);
    offline_tools_free(ts);
    json_decref(req);
}

/* ------------------------------------------------------------ the plugin */

static char DELTAS[4096];
static int N_DELTAS;

static int32_t on_delta(void *user, const char *delta, size_t len)
{
    (void)user;
    snprintf(DELTAS + strlen(DELTAS), sizeof DELTAS - strlen(DELTAS), "%.*s\n", (int)len, delta);
    N_DELTAS++;
    return VENOM_OK;
}

static void test_plugin(void **state)
{
    (void)state;
    const char *out = getenv("VENOM_OUT");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lib/venom/providers/offline/offline.so", out ? out : "out");
    if (access(path, R_OK) != 0)
        fail_msg("%s is missing: build the provider_offline target", path);
    plugin *p = NULL;
    char *err = NULL;
    if (plugin_load(path, "offline", &p, &err) != 0)
        fail_msg("%s", err);
    assert_int_equal(p->n_providers, 1);
    const venom_provider_desc *d = &p->providers[0];
    assert_string_equal(d->name, "offline");

    venom_ctx ctx;
    void *inst = NULL;
    host_ctx_init_call(&ctx, "offline", NULL, NULL, NULL, 0);
    assert_int_equal(d->open(&ctx, "{\"options\":{\"threshold\":1.5}}", d->data, &inst), VENOM_E_INVAL);
    char *msg = host_ctx_take_error(&ctx);
    assert_non_null(strstr(msg, "options.threshold"));
    mem_free(msg);
    assert_int_equal(d->open(&ctx, "{\"name\":\"offline\",\"options\":{}}", d->data, &inst), VENOM_OK);
    host_ctx_release(&ctx);

    /* a final answer, streamed */
    json_t *req = request("count the lines of README.md");
    json_object_set_new(req, "stream", json_true());
    json_t *res = answer(req);
    feed(req, res, "{\"lines\":3,\"words\":5,\"bytes\":26,\"chars\":26}", false);
    json_decref(res);
    char *text = json_dumps(req, JSON_COMPACT);
    char *results[2];
    for (int i = 0; i < 2; i++) {
        DELTAS[0] = 0;
        N_DELTAS = 0;
        host_ctx_init_call(&ctx, "offline", NULL, NULL, NULL, 0);
        ctx.stream = on_delta;
        assert_int_equal(d->chat(&ctx, inst, text), VENOM_OK);
        json_t *r = host_ctx_take_result(&ctx);
        assert_non_null(r);
        assert_string_equal(json_string_value(json_object_get(json_object_get(r, "message"), "content")),
                            "3 lines, 5 words, 26 bytes, 26 chars");
        results[i] = json_dumps(r, JSON_COMPACT);
        json_decref(r);
        host_ctx_release(&ctx);
        assert_int_equal(N_DELTAS, 1);
        assert_string_equal(DELTAS, "{\"type\":\"text\",\"text\":\"3 lines, 5 words, 26 bytes, 26 chars\"}\n");
    }
    assert_string_equal(results[0], results[1]); /* deterministic through the plugin too */
    free(results[0]);
    free(results[1]);
    free(text);
    json_decref(req);

    /* "tools" found in an indented request with a nested "tools" key too;
     * then another tool set replaces the cached one */
    req = request("how many words are in notes.txt");
    json_object_set_new(json_object_get(req, "metadata"), "tools", json_string("not these"));
    text = json_dumps(req, JSON_INDENT(3));
    for (int i = 0; i < 2; i++) {
        host_ctx_init_call(&ctx, "offline", NULL, NULL, NULL, 0);
        assert_int_equal(d->chat(&ctx, inst, text), VENOM_OK);
        json_t *r = host_ctx_take_result(&ctx);
        expect_call(r, "how many words are in notes.txt", "text__count", "{\"path\":\"notes.txt\"}");
        json_decref(r);
        host_ctx_release(&ctx);
    }
    free(text);
    json_t *one = json_pack("[O]", json_array_get(TOOLS, 0)); /* fs__write only */
    json_object_set_new(req, "tools", one);
    text = json_dumps(req, JSON_COMPACT);
    host_ctx_init_call(&ctx, "offline", NULL, NULL, NULL, 0);
    assert_int_equal(d->chat(&ctx, inst, text), VENOM_OK);
    json_t *r = host_ctx_take_result(&ctx);
    assert_null(json_object_get(json_object_get(r, "message"), "tool_calls"));
    json_decref(r);
    host_ctx_release(&ctx);
    free(text);
    json_object_set_new(req, "tools", json_string("x"));
    text = json_dumps(req, JSON_COMPACT);
    host_ctx_init_call(&ctx, "offline", NULL, NULL, NULL, 0);
    assert_int_equal(d->chat(&ctx, inst, text), VENOM_E_INVAL);
    msg = host_ctx_take_error(&ctx);
    assert_non_null(strstr(msg, "request.tools is not an array"));
    mem_free(msg);
    host_ctx_release(&ctx);
    free(text);
    json_decref(req);

    /* not JSON: a clear error */
    host_ctx_init_call(&ctx, "offline", NULL, NULL, NULL, 0);
    assert_int_equal(d->chat(&ctx, inst, "{\"messages\": ["), VENOM_E_INVAL);
    msg = host_ctx_take_error(&ctx);
    assert_non_null(strstr(msg, "not JSON"));
    mem_free(msg);
    host_ctx_release(&ctx);

    /* the whole call through the plugin, parse included, is fast too */
    req = request("count the lines of README.md");
    text = json_dumps(req, JSON_COMPACT);
    struct timespec a, b;
    int n = 1000;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        host_ctx_init_call(&ctx, "offline", NULL, NULL, NULL, 0);
        assert_int_equal(d->chat(&ctx, inst, text), VENOM_OK);
        host_ctx_release(&ctx);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / n;
    print_message("offline plugin chat (request of %zu bytes parsed): %.1f us per call\n", strlen(text), us);
    free(text);
    json_decref(req);

    d->close(inst);
    plugin_unload(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tools_from_manifests),
        cmocka_unit_test(test_phrasings),
        cmocka_unit_test(test_multi_turn_chain),
        cmocka_unit_test(test_write_then_read),
        cmocka_unit_test(test_separators_and_summaries),
        cmocka_unit_test(test_error_result),
        cmocka_unit_test(test_ambiguous),
        cmocka_unit_test(test_paths_outside_workdir),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_threshold_and_options),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_plan_single_step),
        cmocka_unit_test(test_plan_chain),
        cmocka_unit_test(test_plan_without_output_schema),
        cmocka_unit_test(test_plan_undecided),
        cmocka_unit_test(test_plan_unplannable),
        cmocka_unit_test(test_plan_answer_turn),
        cmocka_unit_test(test_speed),
        cmocka_unit_test(test_plugin),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
