/*
 * fuzz_offline.c — libFuzzer target for the offline provider
 * (plugins/offline/): its decision engine (engine.c) and the plugin's own
 * request handling (offline.c: the hand-written scan for "tools", the tool
 * set cache, the result), both included directly. The tools are a fixed
 * canonical tools array of eight real first-party skills (fs read, write,
 * list; text count, replace; json get; the typed temperature and libm
 * skills), taken from skills/<pack>/venom.json|yaml the way the agent
 * offers them, embedded so that the target needs no source tree.
 *
 * Six of the tools carry an "output_schema" (their result schemas, as the
 * planner sends them), the others do not.
 *
 * Input: byte 0 picks the mode (low 2 bits) and a variant (high 6 bits).
 *   0 goal     the rest is the goal (the last user message) of a request
 *              with the fixed tools and a workdir holding a few files;
 *              variant: tool_choice, threshold. The same goal is then
 *              planned (metadata.purpose "plan").
 *   1 steps    the rest split at NUL bytes: the goal, then one tool result
 *              per piece (as after that many calls; variant bit 0 marks the
 *              last as an error, bit 1 sets tool_choice "none": the answer
 *              turn of a plan run).
 *   2 request  the rest is a whole chat request text, given to the plugin's
 *              chat (twice, so the second call hits the tool set cache) and,
 *              when it is a JSON object, to the engine directly.
 *   3 config   the rest is the provider configuration (offline_open).
 * Goals are made valid UTF-8 without NULs (as JSON text always gives them).
 * Checked: the same request gives the same bytes (twice with the analysed
 * tools, once analysing them anew; the plugin's answer equals the engine's);
 * a response has model, message.role "assistant", string content, finish
 * tool_calls | stop | error, confidence in [0,1], unresolved (strings);
 * with finish "tool_calls" exactly one call "call_<step>" of a tool the
 * request lists, with object arguments and empty content; otherwise no call
 * and a text: the questions ("I could not decide: …", finish stop), the
 * failed step ("step N (…) failed: …", finish error) or the final text;
 * never a call under tool_choice "none". A plan answer (finish stop, no
 * call) is the text of one JSON object {steps, confidence, questions} with
 * the response's confidence and unresolved; its steps, as a plan file, pass
 * plan_parse and plan_check, every reference and depends_on names an
 * earlier step, ids are s<N> in increasing order, skills are the listed
 * tools' (pack.skill); no questions means steps and a confidence at the
 * threshold or above, questions a confidence below it. Seeds:
 * tests/fuzz/corpus/offline/.
 */
#include "util/common.h"
#include "plan/plan.h"

#include <ftw.h>
#include <unistd.h>

#include "../../plugins/offline/engine.c"
#include "../../plugins/offline/offline.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(c)                                                                                                     \
    do {                                                                                                             \
        if (!(c)) {                                                                                                  \
            fprintf(stderr, "fuzz_offline: check failed at line %d: %s\n", __LINE__, #c);                            \
            __builtin_trap();                                                                                        \
        }                                                                                                            \
    } while (0)

/* The canonical tools of eight first-party skills (generated from
 * skills/{fs,text,json,temperature}/venom.json and skills/libm/venom.yaml;
 * the typed skills with the schema core/plugin/ffi.c derives). */
static const char TOOLS_JSON[] =
    "["
    "{\"name\":\"fs__read\",\"output_schema\":"
    "{\"type\":\"object\",\"properties\":{\"content\":{\"type\":\"string\"},"
    "\"bytes\":{\"type\":\"integer\"},\"eof\":{\"type\":\"boolean\"},"
    "\"offset\":{\"type\":\"integer\"},\"size\":{\"type\":\"integer\"}},\"required\":[\"content\","
    "\"bytes\",\"eof\",\"offset\",\"size\"],\"additionalProperties\":false},"
    "\"description\":\"Read a text file (or a part of it); binary files only "
    "with encoding base64\",\"parameters\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\","
    "\"description\":\"File path, relative to the workdir (or an absolute path the pack may "
    "read)\",\"minLength\":1},\"offset\":{\"type\":\"integer\",\"description\":\"Byte offset to start "
    "reading at\",\"minimum\":0,\"default\":0},\"limit\":{\"type\":\"integer\",\"description\":\"Most bytes "
    "to return (default 1 MiB); a cut never splits a UTF-8 character\",\"minimum\":1,"
    "\"maximum\":16777216,\"default\":1048576},\"encoding\":{\"type\":\"string\",\"description\":\"utf-8 "
    "(text, the default; NUL bytes or invalid UTF-8 are an error) or base64 (any bytes)\","
    "\"enum\":[\"utf-8\",\"base64\"],\"default\":\"utf-8\"}},\"required\":[\"path\"],\"additionalProperties\":false},"
    "\"examples\":[{\"description\":\"after the fs.write example\",\"args\":{\"path\":\".venom-example/hello.txt\"},"
    "\"result\":{\"content\":\"hello\\nworld\\n\",\"bytes\":12,\"eof\":true,\"offset\":0,\"size\":12}},"
    "{\"args\":{\"path\":\".venom-example/hello.txt\",\"offset\":6,\"limit\":3},\"result\":{\"content\":\"wor\","
    "\"bytes\":3,\"eof\":false,\"offset\":6,\"size\":12}}]},"
    "{\"name\":\"fs__write\",\"output_schema\":"
    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},"
    "\"bytes\":{\"type\":\"integer\"}},\"required\":[\"path\",\"bytes\"],"
    "\"additionalProperties\":false},"
    "\"description\":\"Write text to a file. Replacing is atomic (a temporary "
    "file renamed over the target); append adds to the end\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"path\":{\"type\":\"string\",\"description\":\"File to write, relative to the "
    "workdir\",\"minLength\":1},\"content\":{\"type\":\"string\",\"description\":\"The text to write\"},"
    "\"append\":{\"type\":\"boolean\",\"description\":\"Add to the end of the file instead of replacing "
    "it\",\"default\":false},\"create_dirs\":{\"type\":\"boolean\",\"description\":\"Create missing parent "
    "directories\",\"default\":false}},\"required\":[\"path\",\"content\"],\"additionalProperties\":false},"
    "\"examples\":[{\"description\":\"creates .venom-example/hello.txt in the workdir (used by "
    "the other fs examples)\",\"args\":{\"path\":\".venom-example/hello.txt\",\"content\":\"hello\\nworld\\n\","
    "\"create_dirs\":true},\"result\":{\"path\":\".venom-example/hello.txt\",\"bytes\":12}}]},"
    "{\"name\":\"fs__list\",\"output_schema\":"
    "{\"type\":\"object\",\"properties\":{\"entries\":{\"type\":\"array\","
    "\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"type\":{\"type\":\"string\",\"enum\":[\"file\",\"dir\",\"symlink\",\"other\"]},"
    "\"size\":{\"type\":\"integer\"}},\"required\":[\"name\",\"type\",\"size\"],"
    "\"additionalProperties\":false}},\"truncated\":{\"type\":\"boolean\"}},\"required\":[\"entries\","
    "\"truncated\"],\"additionalProperties\":false},"
    "\"description\":\"List a directory (optionally recursively),"
    " sorted by name; symlinks are listed, never followed\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"path\":{\"type\":\"string\",\"description\":\"Directory to list, relative to "
    "the workdir\",\"minLength\":1,\"default\":\".\"},\"recursive\":{\"type\":\"boolean\","
    "\"description\":\"Also list subdirectories, depth first\",\"default\":false},\"max_entries\":{\"type\":\"integer\","
    "\"description\":\"Most entries to return\",\"minimum\":1,\"maximum\":100000,\"default\":1000}},"
    "\"additionalProperties\":false},\"examples\":[{\"description\":\"after the fs.write example\","
    "\"args\":{\"path\":\".venom-example\"},\"result\":{\"entries\":[{\"name\":\"hello.txt\","
    "\"type\":\"file\",\"size\":12}],\"truncated\":false}}]},"
    "{\"name\":\"text__count\",\"output_schema\":"
    "{\"type\":\"object\",\"properties\":{\"lines\":{\"type\":\"integer\"},"
    "\"words\":{\"type\":\"integer\"},\"bytes\":{\"type\":\"integer\"},"
    "\"chars\":{\"type\":\"integer\"}},\"required\":[\"lines\",\"words\",\"bytes\",\"chars\"],"
    "\"additionalProperties\":false},"
    "\"description\":\"Count lines, words (runs of non-whitespace),"
    " bytes and characters (Unicode code points)\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"text\":{\"type\":\"string\",\"description\":\"The text to work on (give text "
    "or path)\"},\"path\":{\"type\":\"string\",\"description\":\"A text file to work on instead,"
    " relative to the workdir (give text or path)\",\"minLength\":1}},\"additionalProperties\":false,"
    "\"oneOf\":[{\"required\":[\"text\"]},{\"required\":[\"path\"]}]},\"examples\":[{\"args\":{\"text\":\"hello "
    "world\\nsecond line\\n\"},\"result\":{\"lines\":2,\"words\":4,\"bytes\":24,\"chars\":24}},"
    "{\"args\":{\"text\":\"h\\u00e9llo\"},\"result\":{\"lines\":1,\"words\":1,\"bytes\":6,\"chars\":5}}]},"
    "{\"name\":\"text__replace\",\"output_schema\":"
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},"
    "\"path\":{\"type\":\"string\"},\"bytes\":{\"type\":\"integer\"},"
    "\"replacements\":{\"type\":\"integer\"}},\"required\":[\"replacements\"],"
    "\"additionalProperties\":false},"
    "\"description\":\"Replace occurrences of a string or POSIX extended "
    "regex (\\\\1..\\\\9 in the replacement insert groups); with path the file is rewritten atomically "
    "(needs write permission)\",\"parameters\":{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\","
    "\"description\":\"The text to work on (give text or path)\"},\"path\":{\"type\":\"string\","
    "\"description\":\"A text file to work on instead, relative to the workdir (give text or "
    "path)\",\"minLength\":1},\"find\":{\"type\":\"string\",\"description\":\"Text to find (or a regex "
    "with regex=true)\",\"minLength\":1},\"replace\":{\"type\":\"string\",\"description\":\"Replacement; "
    "with regex=true, \\\\0..\\\\9 insert the match and its groups and \\\\\\\\ a backslash\"},"
    "\"regex\":{\"type\":\"boolean\",\"description\":\"Treat find as a POSIX extended regular expression "
    "(^ and $ match at line ends)\",\"default\":false},\"all\":{\"type\":\"boolean\",\"description\":\"Replace "
    "every occurrence (true) or only the first\",\"default\":true},\"ignore_case\":{\"type\":\"boolean\","
    "\"description\":\"Match regardless of ASCII case\",\"default\":false}},\"required\":[\"find\","
    "\"replace\"],\"additionalProperties\":false,\"oneOf\":[{\"required\":[\"text\"]},{\"required\":[\"path\"]}]},"
    "\"examples\":[{\"args\":{\"text\":\"cat and cat\",\"find\":\"cat\",\"replace\":\"dog\"},"
    "\"result\":{\"text\":\"dog and dog\",\"replacements\":2}},{\"args\":{\"text\":\"cat and cat\","
    "\"find\":\"cat\",\"replace\":\"dog\",\"all\":false},\"result\":{\"text\":\"dog and cat\","
    "\"replacements\":1}},{\"args\":{\"text\":\"2024-01-31\",\"find\":\"([0-9]+)-([0-9]+)-([0-9]+)\","
    "\"replace\":\"\\\\3.\\\\2.\\\\1\",\"regex\":true},\"result\":{\"text\":\"31.01.2024\",\"replacements\":1}}]},"
    "{\"name\":\"json__get\",\"output_schema\":"
    "{\"type\":\"object\",\"properties\":{\"value\":{}},\"required\":[\"value\"],"
    "\"additionalProperties\":false},"
    "\"description\":\"The value at a JSON Pointer\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"document\":{\"description\":\"The JSON document itself, any JSON value (give "
    "document or path)\"},\"path\":{\"type\":\"string\",\"description\":\"A JSON file to work on instead,"
    " relative to the workdir (give document or path)\",\"minLength\":1},\"pointer\":{\"type\":\"string\","
    "\"description\":\"JSON Pointer (RFC 6901): \\\"\\\" is the whole document, \\\"/a/0\\\" is item "
    "0 of key a; ~1 stands for / and ~0 for ~\",\"pattern\":\"^(/.*)?$\"}},\"required\":[\"pointer\"],"
    "\"additionalProperties\":false,\"oneOf\":[{\"required\":[\"document\"]},{\"required\":[\"path\"]}]},"
    "\"examples\":[{\"args\":{\"document\":{\"user\":{\"name\":\"Ada\",\"langs\":[\"c\",\"lisp\"]}},"
    "\"pointer\":\"/user/langs/1\"},\"result\":{\"value\":\"lisp\"}},{\"args\":{\"document\":{\"a/b\":1},"
    "\"pointer\":\"/a~1b\"},\"result\":{\"value\":1}}]},"
    "{\"name\":\"temperature__celsius_to_fahrenheit\",\"description\":\"Convert a temperature in "
    "degrees Celsius to degrees Fahrenheit\",\"parameters\":{\"type\":\"object\",\"properties\":{\"c\":{\"type\":\"number\"}},"
    "\"required\":[\"c\"],\"additionalProperties\":false},\"examples\":[{\"args\":{\"c\":100},"
    "\"result\":212},{\"args\":{\"c\":-40},\"result\":-40}]},"
    "{\"name\":\"libm__pow\",\"description\":\"Raise x to the power y\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"x\":{\"type\":\"number\"},\"y\":{\"type\":\"number\"}},\"required\":[\"x\","
    "\"y\"],\"additionalProperties\":false},\"examples\":[{\"args\":{\"x\":2,\"y\":10},\"result\":1024}]}"
    "]";

static json_t *TOOLS;           /* TOOLS_JSON parsed */
static offline_tools *TS;       /* and analysed once */
static char WORK[PATH_MAX];     /* a workdir with a few files */

/* ------------------------------------------------------------ fixtures */

static void put(const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", WORK, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    if (*WORK)
        nftw(WORK, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    json_error_t je;
    char err[512];
    TOOLS = json_loads(TOOLS_JSON, 0, &je);
    if (!TOOLS || offline_tools_new(TOOLS, &TS, err, sizeof err) != 0 || json_array_size(TOOLS) != 8) {
        fprintf(stderr, "fuzz_offline: the embedded tools do not load: %s\n", TOOLS ? err : je.text);
        abort();
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(WORK, sizeof WORK, "%s/venom-fuzz-offline-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(WORK)) {
        perror("fuzz_offline: mkdtemp");
        abort();
    }
    atexit(cleanup);
    put("notes.txt", "hello world\nsecond line\n");
    put("README.md", "# venom\n\nan agent runtime\n");
    put("data.txt", "1 2 3\n");
    put("config.json", "{\"name\": \"venom\", \"tags\": [\"c\"]}\n");
    put("src/main.c", "int main(void) { return 0; } /* TODO */\n");
    if (symlink("/etc/hostname", (snprintf(err, sizeof err, "%s/outside", WORK), err)) != 0)
        perror("fuzz_offline: symlink");
    return 0;
}

/* ------------------------------------------------------------ checks */

/* Does tools (an array, may be NULL) list a tool named name? */
static bool has_tool(const json_t *tools, const char *name)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t) if (!strcmp(json_string_value(json_object_get(t, "name")) ?: "", name)) return true;
    return false;
}

/* The number of tool messages after the last user message. */
static size_t results_after_goal(const json_t *req)
{
    const json_t *msgs = json_object_get(req, "messages");
    size_t n = 0, i;
    const json_t *m;
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "user"))
            n = 0;
        else if (role && !strcmp(role, "tool"))
            n++;
    }
    return n;
}

/* Is the request a planning request? */
static bool planning(const json_t *req)
{
    const char *p = json_string_value(json_object_get(json_object_get(req, "metadata"), "purpose"));
    return p && !strcmp(p, "plan");
}

/* Does tools list a tool whose skill name (pack.skill) is skill? */
static bool has_skill(const json_t *tools, const char *skill)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        char buf[512];
        size_t k = 0;
        for (size_t c = 0; name && name[c] && k + 1 < sizeof buf; c++) {
            buf[k++] = name[c] == '_' && name[c + 1] == '_' ? '.' : name[c];
            c += name[c] == '_' && name[c + 1] == '_';
        }
        buf[k] = '\0';
        if (name && !strcmp(buf, skill))
            return true;
    }
    return false;
}

/* The plan answer of a planning request (see the header comment). */
static void check_plan(const json_t *tools, double threshold, const json_t *r, const char *content)
{
    json_error_t je;
    json_t *body = json_loads(content, 0, &je);
    CHECK(json_is_object(body) && json_object_size(body) == 3);
    const json_t *steps = json_object_get(body, "steps"), *qs = json_object_get(body, "questions");
    const json_t *conf = json_object_get(body, "confidence");
    CHECK(json_is_array(steps) && json_is_array(qs) && json_is_number(conf));
    double c = json_number_value(conf);
    CHECK(c >= 0 && c <= 1 && c == json_number_value(json_object_get(r, "confidence")));
    CHECK(json_equal(qs, json_object_get(r, "unresolved")));
    if (!json_array_size(qs))
        CHECK(json_array_size(steps) > 0 && c >= threshold);
    else
        CHECK(c < threshold || c == 0);
    size_t i, last = 0;
    const json_t *st;
    json_array_foreach(steps, i, st)
    {
        const char *id = json_string_value(json_object_get(st, "id"));
        const char *skill = json_string_value(json_object_get(st, "skill"));
        char *end = NULL;
        CHECK(id && id[0] == 's');
        unsigned long n = strtoul(id + 1, &end, 10);
        CHECK(end && !*end && n > last);
        last = n;
        CHECK(skill && has_skill(tools, skill));
        CHECK(json_is_object(json_object_get(st, "args")));
        CHECK(json_is_string(json_object_get(st, "description")));
        const json_t *dep = json_object_get(st, "depends_on");
        CHECK(!dep || (json_array_size(dep) == 1 && json_is_string(json_array_get(dep, 0))));
    }
    if (json_array_size(steps)) { /* the steps as a plan file: they parse, refer back only */
        json_t *doc = json_pack("{s:O}", "steps", steps);
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        plan *p = NULL;
        char *err = NULL;
        CHECK(text);
        int rc = plan_parse(text, strlen(text), "plan.json", NULL, 0, &p, &err);
        if (rc == 0)
            rc = plan_check(p, NULL, NULL, &err);
        if (rc != 0) {
            fprintf(stderr, "fuzz_offline: the plan does not check: %s\n%s\n", err ? err : "?", text);
            __builtin_trap();
        }
        CHECK(p->n == json_array_size(steps));
        for (size_t k = 0; k < p->n; k++)
            for (size_t d = 0; d < p->steps[k].n_deps; d++)
                CHECK(p->steps[k].deps[d] < k);
        plan_free(p);
        free(text);
        json_decref(doc);
    }
    json_decref(body);
}

static void check_response(const json_t *req, const json_t *tools, double threshold, const json_t *r)
{
    CHECK(json_is_object(r));
    CHECK(json_is_string(json_object_get(r, "model")));
    const json_t *msg = json_object_get(r, "message");
    CHECK(json_is_object(msg));
    CHECK(!strcmp(json_string_value(json_object_get(msg, "role")) ?: "", "assistant"));
    const char *content = json_string_value(json_object_get(msg, "content"));
    CHECK(content);
    const char *finish = json_string_value(json_object_get(r, "finish"));
    CHECK(finish && (!strcmp(finish, "tool_calls") || !strcmp(finish, "stop") || !strcmp(finish, "error")));
    const json_t *conf = json_object_get(r, "confidence");
    CHECK(json_is_number(conf) && json_number_value(conf) >= 0 && json_number_value(conf) <= 1);
    const json_t *unresolved = json_object_get(r, "unresolved");
    CHECK(json_is_array(unresolved));
    size_t i;
    const json_t *q;
    json_array_foreach(unresolved, i, q) CHECK(json_is_string(q) && *json_string_value(q));
    CHECK(json_is_object(json_object_get(r, "usage")));
    const json_t *calls = json_object_get(msg, "tool_calls");
    const char *choice = json_string_value(json_object_get(req, "tool_choice"));
    if (choice && !strcmp(choice, "none"))
        CHECK(strcmp(finish, "tool_calls"));
    if (planning(req)) {
        CHECK(!strcmp(finish, "stop") && !calls);
        check_plan(tools, threshold, r, content);
    } else if (!strcmp(finish, "tool_calls")) {
        CHECK(json_array_size(calls) == 1 && json_array_size(unresolved) == 0);
        const json_t *c = json_array_get(calls, 0);
        char id[48];
        snprintf(id, sizeof id, "call_%zu", results_after_goal(req) + 1);
        CHECK(!strcmp(json_string_value(json_object_get(c, "id")) ?: "", id));
        const char *name = json_string_value(json_object_get(c, "name"));
        CHECK(name && has_tool(tools, name));
        CHECK(json_is_object(json_object_get(c, "arguments")));
        CHECK(!*content);
    } else {
        CHECK(!calls);
        /* a question, a failed step, or the final text (which is the last
         * result's text, and may be "" when that was, e.g. an empty file) */
        if (json_array_size(unresolved))
            CHECK(!strcmp(finish, "stop") && !strncmp(content, "I could not decide:", 19));
        else if (!strcmp(finish, "error"))
            CHECK(!strncmp(content, "step ", 5));
    }
}

/* The response as the plugin serialises it. */
static char *dump(const json_t *r)
{
    char *t = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(6));
    CHECK(t);
    return t;
}

/* Answer req with the analysed tools ts (NULL: analyse req.tools); the
 * checked response text, or NULL on a failure (which has a message). */
static char *answer(const offline_opts *o, const json_t *req, const offline_tools *ts, const json_t *tools)
{
    json_t *res = NULL;
    char err[512] = "";
    int rc = offline_engine_answer(o, req, ts, &res, err, sizeof err);
    if (rc != 0) {
        CHECK(rc == VENOM_E_INVAL || rc == VENOM_E_NOMEM);
        CHECK(!res && *err && !strchr(err, '\n'));
        return NULL;
    }
    check_response(req, tools, o->threshold, res);
    char *t = dump(res);
    json_decref(res);
    return t;
}

static void same(const char *a, const char *b)
{
    CHECK((a == NULL) == (b == NULL));
    if (a && strcmp(a, b)) {
        fprintf(stderr, "fuzz_offline: different answers:\n  %s\n  %s\n", a, b);
        __builtin_trap();
    }
}

/* Run req (stolen) three ways: the analysed tools twice, then anew. */
static void run(const offline_opts *o, json_t *req)
{
    char *a = answer(o, req, TS, TOOLS), *b = answer(o, req, TS, TOOLS);
    same(a, b);
    char *c = answer(o, req, NULL, TOOLS);
    same(a, c);
    free(a);
    free(b);
    free(c);
    json_decref(req);
}

/* ------------------------------------------------------------ inputs */

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!len || len > n)
        return 0;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    for (size_t i = 1; i < len; i++)
        if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
            return 0;
    return len;
}

/* s[0..n) as a JSON string of valid UTF-8 without NUL (NULs and the first
 * byte of each invalid sequence become '?'), as JSON text always gives. */
static json_t *text_json(const char *s, size_t n)
{
    unsigned char *t = malloc(n + 1);
    CHECK(t);
    memcpy(t, s, n);
    t[n] = '\0';
    for (size_t i = 0; i < n;) {
        size_t len = t[i] ? utf8_len(t + i, n - i) : 0;
        if (!len) {
            t[i] = '?';
            len = 1;
        }
        i += len;
    }
    json_t *j = json_stringn((const char *)t, n);
    CHECK(j);
    free(t);
    return j;
}

static const char *const CHOICES[] = {NULL, "auto", "none", "required"};

static json_t *request(unsigned variant, json_t *goal)
{
    json_t *req = json_pack("{s:[{s:s, s:s}, {s:s, s:o}], s:O, s:{s:s}, s:s?}", "messages", "role", "system",
                            "content", "You are venom.", "role", "user", "content", goal, "tools", TOOLS, "metadata",
                            "workdir", WORK, "tool_choice", CHOICES[variant & 3]);
    CHECK(req);
    return req;
}

static void mode_goal(unsigned variant, const char *s, size_t n)
{
    offline_opts o = {.threshold = (variant >> 2) / 15.0, .model = NULL};
    run(&o, request(variant, text_json(s, n)));
    /* the same goal planned */
    json_t *req = request(variant, text_json(s, n));
    CHECK(!json_object_set_new(json_object_get(req, "metadata"), "purpose", json_string("plan")));
    run(&o, req);
}

static void mode_steps(unsigned variant, const char *s, size_t n)
{
    const char *nul = memchr(s, '\0', n);
    size_t gl = nul ? (size_t)(nul - s) : n;
    json_t *req = request(variant & 2 ? 2 : 0, text_json(s, gl)); /* 2: tool_choice "none" */
    json_t *msgs = json_object_get(req, "messages");
    size_t step = 0, at = nul ? gl + 1 : n;
    while (at <= n && nul && step < 16) {
        const char *end = memchr(s + at, '\0', n - at);
        size_t len = end ? (size_t)(end - (s + at)) : n - at;
        char id[32];
        snprintf(id, sizeof id, "call_%zu", ++step);
        const char *name = json_string_value(json_object_get(json_array_get(TOOLS, (variant + step) % 8), "name"));
        bool last = !end || step == 16;
        json_t *call = json_pack("{s:s, s:s, s:[{s:s, s:s, s:{}}]}", "role", "assistant", "content", "", "tool_calls",
                                 "id", id, "name", name, "arguments");
        json_t *res = json_pack("{s:s, s:s, s:s, s:o, s:b}", "role", "tool", "tool_call_id", id, "name", name,
                                "content", text_json(s + at, len), "is_error", last && (variant & 1));
        CHECK(call && res && !json_array_append_new(msgs, call) && !json_array_append_new(msgs, res));
        if (!end)
            break;
        at += len + 1;
    }
    offline_opts o = {.threshold = OFFLINE_DEFAULT_THRESHOLD, .model = "fuzz-model"};
    run(&o, req);
}

/* The plugin's side: a host that keeps the result and the error. */
typedef struct call_out {
    char *result;
    char *error;
    size_t deltas;
} call_out;

static int32_t h_set_result(venom_ctx *call, const char *json, size_t len)
{
    call_out *c = (call_out *)call;
    json_t *j = json_loadb(json, len, 0, NULL);
    CHECK(json_is_object(j)); /* valid JSON, as the host demands */
    json_decref(j);
    free(c->result);
    c->result = strndup(json, len);
    CHECK(c->result);
    return VENOM_OK;
}

static int32_t h_set_error(venom_ctx *ctx, const char *msg)
{
    call_out *c = (call_out *)ctx;
    CHECK(msg && *msg && !strchr(msg, '\n'));
    free(c->error);
    c->error = strdup(msg);
    CHECK(c->error);
    return VENOM_OK;
}

static int32_t h_stream(venom_ctx *call, const char *delta, size_t len)
{
    call_out *c = (call_out *)call;
    json_t *j = json_loadb(delta, len, 0, NULL);
    CHECK(json_is_string(json_object_get(j, "type")));
    json_decref(j);
    c->deltas++;
    return VENOM_OK;
}

static const venom_host_api FAKE_HOST = {
    .struct_size = sizeof(venom_host_api),
    .set_error = h_set_error,
    .set_result = h_set_result,
    .stream = h_stream,
};

/* One chat through the plugin: rc, and out's result or error. */
static int32_t plugin_chat(offline_inst *in, const char *text, call_out *out)
{
    *out = (call_out){0};
    int32_t rc = offline_chat((venom_ctx *)out, in, text);
    CHECK(rc == 0 ? out->result && !out->error : rc < 0 && out->error && !out->result);
    return rc;
}

static void mode_request(const char *s, size_t n)
{
    char *text = malloc(n + 1);
    CHECK(text);
    memcpy(text, s, n);
    text[n] = '\0';
    offline_inst *in = NULL;
    call_out o1, o2;
    CHECK(offline_open(NULL, "", NULL, (void **)&in) == 0);
    int32_t r1 = plugin_chat(in, text, &o1), r2 = plugin_chat(in, text, &o2);
    CHECK(r1 == r2);
    same(o1.result, o2.result);
    same(o1.error, o2.error);
    /* the engine on the request as jansson reads it: the same answer */
    json_t *req = json_loads(text, 0, NULL);
    if (req && json_is_object(req) && strlen(text) == n) {
        const json_t *tools = json_object_get(req, "tools");
        char *direct = answer(&in->opts, req, NULL, tools);
        if (direct) {
            CHECK(r1 == 0);
            json_t *res = json_loads(o1.result, 0, NULL);
            check_response(req, tools, in->opts.threshold, res);
            json_decref(res);
        }
        if (r1 == 0)
            same(o1.result, direct);
        free(direct);
    }
    json_decref(req);
    offline_close(in);
    free(o1.result);
    free(o1.error);
    free(o2.result);
    free(o2.error);
    free(text);
}

static void mode_config(const char *s, size_t n)
{
    char *text = malloc(n + 1);
    CHECK(text);
    memcpy(text, s, n);
    text[n] = '\0';
    call_out out = {0};
    void *in = NULL;
    int32_t rc = offline_open((venom_ctx *)&out, text, NULL, &in);
    CHECK(rc == 0 ? in != NULL && !out.error : rc < 0 && out.error);
    if (rc == 0) {
        /* a working instance */
        static const char REQ[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"count the words in notes.txt\"}]}";
        call_out o;
        plugin_chat(in, REQ, &o);
        free(o.result);
        free(o.error);
        offline_close(in);
    }
    free(out.error);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    HOST = &FAKE_HOST;
    unsigned mode = data[0] & 3, variant = data[0] >> 2;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (mode) {
    case 0: mode_goal(variant, s, n); break;
    case 1: mode_steps(variant, s, n); break;
    case 2: mode_request(s, n); break;
    default: mode_config(s, n); break;
    }
    return 0;
}
