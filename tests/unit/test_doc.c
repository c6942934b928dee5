#include "testsupport.h"
#include "util/common.h"
#include "util/doc.h"

/* Parse text or fail the test with the error. */
static doc *parse_ok(const char *text, const char *file)
{
    doc *d = NULL;
    char *err = NULL;
    int rc = doc_parse(text, strlen(text), file, DOC_AUTO, &d, &err);
    if (rc != 0)
        fail_msg("doc_parse(%s) = %d: %s", file, rc, err ? err : "(no message)");
    assert_null(err);
    assert_non_null(d);
    return d;
}

/* Parse text that must fail with rc; returns the message (caller frees). */
static char *parse_err(const char *text, const char *file, int want_rc)
{
    doc *d = NULL;
    char *err = NULL;
    int rc = doc_parse(text, strlen(text), file, DOC_AUTO, &d, &err);
    assert_int_equal(rc, want_rc);
    assert_null(d);
    assert_non_null(err);
    return err;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, hay);
}

static const char *JSON_DOC = "{\n"
                              "  \"name\": \"fs\",\n"
                              "  \"n\": -12,\n"
                              "  \"skills\": [\n"
                              "    {\"name\": \"read\"},\n"
                              "    {\n"
                              "      \"name\": \"write\",\n"
                              "      \"a/b~c\": [1.5, true, null]\n"
                              "    }\n"
                              "  ],\n"
                              "  \"\\u00e9t\\u00e9\": \"x\"\n"
                              "}\n";

static const char *YAML_DOC = "# a comment\n"
                              "name: fs\n"
                              "n: -12\n"
                              "skills:\n"
                              "  - name: read\n"
                              "  - name: write\n"
                              "    a/b~c: [1.5, true, null]\n"
                              "\xc3\xa9t\xc3\xa9: x\n";

static void test_json_lines(void **state)
{
    (void)state;
    doc *d = parse_ok(JSON_DOC, "m.json");
    json_t *r = doc_root(d);
    assert_string_equal(doc_file(d), "m.json");
    assert_string_equal(json_string_value(json_object_get(r, "name")), "fs");
    assert_int_equal(json_integer_value(json_object_get(r, "n")), -12);
    assert_int_equal(doc_line(d, ""), 1);
    assert_int_equal(doc_line(d, "/name"), 2);
    assert_int_equal(doc_line(d, "/n"), 3);
    assert_int_equal(doc_line(d, "/skills"), 4);
    assert_int_equal(doc_line(d, "/skills/0"), 5);
    assert_int_equal(doc_line(d, "/skills/0/name"), 5);
    assert_int_equal(doc_line(d, "/skills/1"), 6);
    assert_int_equal(doc_line(d, "/skills/1/name"), 7);
    assert_int_equal(doc_line(d, "/skills/1/a~1b~0c"), 8);
    assert_int_equal(doc_line(d, "/skills/1/a~1b~0c/2"), 8);
    assert_int_equal(doc_line(d, "/\xc3\xa9t\xc3\xa9"), 11); /* \u escapes decoded in the pointer */
    assert_int_equal(doc_line(d, "/skills/2"), 0);
    assert_int_equal(doc_line(d, "/nope"), 0);
    assert_int_equal(doc_line(d, "/skills/1/a/b~c"), 0); /* unescaped pointer names nothing */
    assert_int_equal(doc_line(NULL, ""), 0);
    doc_free(d);
}

static void test_yaml_lines_and_same_tree(void **state)
{
    (void)state;
    doc *y = parse_ok(YAML_DOC, "m.yaml");
    doc *j = parse_ok(JSON_DOC, "m.json");
    assert_true(json_equal(doc_root(y), doc_root(j)));
    assert_int_equal(doc_line(y, ""), 2);
    assert_int_equal(doc_line(y, "/name"), 2);
    assert_int_equal(doc_line(y, "/n"), 3);
    assert_int_equal(doc_line(y, "/skills"), 4);
    assert_int_equal(doc_line(y, "/skills/0"), 5);
    assert_int_equal(doc_line(y, "/skills/1"), 6);
    assert_int_equal(doc_line(y, "/skills/1/name"), 6);
    assert_int_equal(doc_line(y, "/skills/1/a~1b~0c"), 7);
    assert_int_equal(doc_line(y, "/skills/1/a~1b~0c/1"), 7);
    assert_int_equal(doc_line(y, "/\xc3\xa9t\xc3\xa9"), 8);
    doc_free(y);
    doc_free(j);
}

static void test_yaml_scalars(void **state)
{
    (void)state;
    doc *d = parse_ok("a: ~\nb: null\nc:\nd: true\ne: False\nf: 42\ng: -7\nh: 0x1f\ni: 0o17\nj: 1.5\n"
                      "k: -2e3\nl: '42'\nm: \"true\"\nn: yes\no: 1.2.3\np: !!str 12\nq: !!float 3\n"
                      "r: |\n  two\n  lines\ns: 9223372036854775807\n",
                      "s.yaml");
    json_t *r = doc_root(d);
    assert_true(json_is_null(json_object_get(r, "a")));
    assert_true(json_is_null(json_object_get(r, "b")));
    assert_true(json_is_null(json_object_get(r, "c")));
    assert_true(json_is_true(json_object_get(r, "d")));
    assert_true(json_is_false(json_object_get(r, "e")));
    assert_int_equal(json_integer_value(json_object_get(r, "f")), 42);
    assert_int_equal(json_integer_value(json_object_get(r, "g")), -7);
    assert_int_equal(json_integer_value(json_object_get(r, "h")), 31);
    assert_int_equal(json_integer_value(json_object_get(r, "i")), 15);
    assert_true(json_real_value(json_object_get(r, "j")) == 1.5);
    assert_true(json_real_value(json_object_get(r, "k")) == -2000.0);
    assert_string_equal(json_string_value(json_object_get(r, "l")), "42");
    assert_string_equal(json_string_value(json_object_get(r, "m")), "true");
    assert_string_equal(json_string_value(json_object_get(r, "n")), "yes"); /* YAML 1.2: not a boolean */
    assert_string_equal(json_string_value(json_object_get(r, "o")), "1.2.3");
    assert_string_equal(json_string_value(json_object_get(r, "p")), "12");
    assert_true(json_is_real(json_object_get(r, "q")));
    assert_string_equal(json_string_value(json_object_get(r, "r")), "two\nlines\n");
    assert_int_equal(json_integer_value(json_object_get(r, "s")), INT64_MAX);
    doc_free(d);
}

static void test_format_detection(void **state)
{
    (void)state;
    /* no extension: sniffed */
    doc *d = parse_ok("  [1, 2]", "noext");
    assert_int_equal(json_array_size(doc_root(d)), 2);
    doc_free(d);
    d = parse_ok("- 1\n- 2\n- 3\n", NULL);
    assert_int_equal(json_array_size(doc_root(d)), 3);
    doc_free(d);
    /* .json forces JSON: YAML text is a JSON syntax error */
    char *err = parse_err("a: 1\n", "x.json", -EINVAL);
    assert_contains(err, "x.json:1:");
    mem_free(err);
    /* empty YAML is null */
    d = parse_ok("", "e.yaml");
    assert_true(json_is_null(doc_root(d)));
    doc_free(d);
    /* explicit format wins over the extension */
    doc *e = NULL;
    assert_int_equal(doc_parse("{\"a\": 1}", 8, "x.yaml", DOC_JSON, &e, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(doc_root(e), "a")), 1);
    doc_free(e);
}

static void test_json_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\n  \"a\": 1,\n  \"a\": 2\n}", "e.json:3:3: duplicate key \"a\""},
        {"{\"n\": 99999999999999999999}", "e.json:1:7: integer 99999999999999999999 does not fit in 64 bits"},
        {"[1e999]", "e.json:1:2: number 1e999 is out of range"},
        {"{\n\n  \"a\" 1}", "e.json:3:7: expected ':' after the key \"a\""},
        {"[1, 2", "e.json:1:6: unexpected end of input; close the array with ']'"},
        {"[1, 2,]", "e.json:1:7: unexpected character ']'; expected a value"},
        {"{\"a\": 1,}", "e.json:1:9: expected a key in double quotes (no comma before '}')"},
        {"{\"a\": 1 \"b\": 2}", "e.json:1:9: expected ',' or '}'"},
        {"{'a': 1}", "e.json:1:2: expected a key in double quotes"},
        {"[01]", "e.json:1:3: invalid number: leading zeros"},
        {"[tru]", "e.json:1:2: invalid literal"},
        {"[\"a\tb\"]", "e.json:1:4: control character 0x09 in a string"},
        {"[\"\\q\"]", "e.json:1:3: invalid escape '\\q'"},
        {"[\"\\u0000\"]", "e.json:1:3: \\u0000 (NUL) is not allowed"},
        {"[\"\\ud800\"]", "e.json:1:3: invalid \\u escape: high surrogate"},
        {"[\"\xff\"]", "e.json:1:3: invalid UTF-8"},
        {"{} x", "e.json:1:4: unexpected 'x' after the JSON value"},
        {"  \n ", "e.json:2:2: the document is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = parse_err(cases[i].text, "e.json", -EINVAL);
        assert_contains(err, cases[i].want);
        mem_free(err);
    }
    /* the escapes that are fine */
    doc *d = parse_ok("[\"\\ud83d\\ude00 \\\"\\/\\b\\f\\n\\r\\t\", 0.5e-3, -0, 1E+2]", "ok.json");
    json_t *r = doc_root(d);
    assert_string_equal(json_string_value(json_array_get(r, 0)), "\xf0\x9f\x98\x80 \"/\b\f\n\r\t");
    assert_true(json_real_value(json_array_get(r, 1)) == 0.0005);
    assert_true(json_is_integer(json_array_get(r, 2)));
    assert_true(json_real_value(json_array_get(r, 3)) == 100.0);
    doc_free(d);
}

static void test_yaml_errors(void **state)
{
    (void)state;
    char *err = parse_err("a: 1\nb: 2\na: 3\n", "d.yaml", -EINVAL);
    assert_string_equal(err, "d.yaml:3:1: duplicate key 'a'; each key may appear only once in a mapping");
    mem_free(err);
    err = parse_err("base: &b {x: 1}\nother: *b\n", "anchor.yaml", -EINVAL);
    assert_contains(err, "anchor.yaml:1:");
    assert_contains(err, "anchors (&b) are not supported");
    mem_free(err);
    err = parse_err("a: 1\n---\nb: 2\n", "multi.yaml", -EINVAL);
    assert_contains(err, "multi.yaml:2:1: more than one document");
    mem_free(err);
    err = parse_err("a: !custom 1\n", "tag.yaml", -EINVAL);
    assert_contains(err, "tag.yaml:1:4: tag '!custom' is not supported");
    mem_free(err);
    err = parse_err("? [a, b]\n: 1\n", "key.yaml", -EINVAL);
    assert_contains(err, "key.yaml:1:3: a mapping key must be a plain string");
    mem_free(err);
    err = parse_err("a: 1\n b: 2\n", "syn.yaml", -EINVAL);
    assert_contains(err, "syn.yaml:2:");
    assert_contains(err, "mapping values are not allowed");
    mem_free(err);
    err = parse_err("list:\n  - a\n  - [b\n", "flow.yaml", -EINVAL);
    assert_contains(err, "flow.yaml:");
    assert_contains(err, "(while parsing a flow sequence)");
    mem_free(err);
    err = parse_err("n: 99999999999999999999\n", "big.yaml", -EINVAL);
    assert_contains(err, "big.yaml:1:4: '99999999999999999999': integer out of range");
    mem_free(err);
    err = parse_err("x: .inf\n", "inf.yaml", -EINVAL);
    assert_contains(err, "inf.yaml:1:4:");
    assert_contains(err, "infinity");
    mem_free(err);
    err = parse_err("x: \"a\\0b\"\n", "nul.yaml", -EINVAL);
    assert_contains(err, "nul.yaml:1:4:");
    assert_contains(err, "NUL");
    mem_free(err);
    err = parse_err("a: 1\nb: caf\xe9\n", "latin1.yaml", -EINVAL);
    assert_contains(err, "latin1.yaml:2:7: incomplete UTF-8 octet sequence");
    assert_contains(err, "save the file as UTF-8");
    mem_free(err);
    err = parse_err("x: !!int abc\n", "t2.yaml", -EINVAL);
    assert_contains(err, "does not match its tag");
    mem_free(err);
}

static char *nested(const char *open, const char *close, int depth)
{
    size_t o = strlen(open), c = strlen(close);
    char *s = mem_alloc((o + c) * (size_t)depth + 1);
    assert_non_null(s);
    size_t n = 0;
    for (int i = 0; i < depth; i++, n += o)
        memcpy(s + n, open, o);
    for (int i = 0; i < depth; i++, n += c)
        memcpy(s + n, close, c);
    s[n] = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *ok = nested("[", "]", DOC_MAX_DEPTH);
    doc *d = parse_ok(ok, "ok.json");
    doc_free(d);
    d = parse_ok(ok, "ok.yaml");
    doc_free(d);
    mem_free(ok);

    char *deep = nested("[", "]", DOC_MAX_DEPTH + 1);
    char *err = parse_err(deep, "deep.json", -E2BIG);
    assert_contains(err, "deep.json:1:65: nesting deeper than 64 levels");
    mem_free(err);
    err = parse_err(deep, "deep.yaml", -E2BIG);
    assert_contains(err, "deep.yaml:1:65: nesting deeper than 64 levels");
    mem_free(err);
    mem_free(deep);

    /* far beyond any recursion limit: still a clean error */
    char *huge = nested("[", "]", 200000);
    err = parse_err(huge, "huge.json", -E2BIG);
    assert_contains(err, "huge.json:1:65:");
    mem_free(err);
    err = parse_err(huge, "huge.yaml", -E2BIG);
    mem_free(err);
    mem_free(huge);
    char *maps = nested("{a: ", "}", 100000);
    err = parse_err(maps, "maps.yaml", -E2BIG);
    assert_contains(err, "maps.yaml:1:");
    mem_free(err);
    mem_free(maps);
}

static void test_size_limit(void **state)
{
    (void)state;
    size_t n = DOC_MAX_BYTES + 1;
    char *big = mem_alloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    doc *d = NULL;
    char *err = NULL;
    assert_int_equal(doc_parse(big, n, "big.yaml", DOC_AUTO, &d, &err), -E2BIG);
    assert_null(d);
    assert_contains(err, "big.yaml: 16777217 bytes is larger than the limit of 16777216 bytes");
    mem_free(err);
    err = NULL;

    char *dir = ts_mkdtemp();
    char *path = mem_printf("%s/big.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(big, 1, n, f), n);
    fclose(f);
    assert_int_equal(doc_load(path, DOC_AUTO, &d, &err), -E2BIG);
    assert_contains(err, "larger than the limit");
    assert_contains(err, path);
    mem_free(err);
    mem_free(big);
    mem_free(path);
    ts_rmtree(dir);
    free(dir);
}

static void test_load(void **state)
{
    (void)state;
    char *dir = ts_mkdtemp();
    char *path = ts_write(dir, "c.yml", "x: 1\ny:\n  - z\n");
    doc *d = NULL;
    char *err = NULL;
    assert_int_equal(doc_load(path, DOC_AUTO, &d, &err), 0);
    assert_string_equal(doc_file(d), path);
    assert_int_equal(doc_line(d, "/y/0"), 3);
    doc_free(d);
    d = NULL;

    char *missing = mem_printf("%s/none.json", dir);
    assert_int_equal(doc_load(missing, DOC_AUTO, &d, &err), -ENOENT);
    assert_contains(err, missing);
    assert_contains(err, "cannot open");
    mem_free(err);
    err = NULL;
    assert_int_equal(doc_load(dir, DOC_AUTO, &d, &err), -EISDIR);
    assert_contains(err, "is a directory");
    mem_free(err);
    mem_free(missing);
    free(path);
    ts_rmtree(dir);
    free(dir);
}

static void test_alloc_failure(void **state)
{
    (void)state;
    const char *texts[] = {JSON_DOC, YAML_DOC};
    const char *files[] = {"m.json", "m.yaml"};
    for (int t = 0; t < 2; t++) {
        bool succeeded = false;
        for (long n = 0; n < 10000 && !succeeded; n++) {
            doc *d = NULL;
            char *err = NULL;
            mem_fail_after(n);
            int rc = doc_parse(texts[t], strlen(texts[t]), files[t], DOC_AUTO, &d, &err);
            mem_fail_after(-1);
            if (rc == 0) {
                succeeded = true;
                assert_int_equal(doc_line(d, "/skills/1/name"), t == 0 ? 7 : 6);
            } else if (rc != -ENOMEM) {
                fail_msg("%s: fail_after(%ld) gave %d (%s), not -ENOMEM", files[t], n, rc, err ? err : "");
            }
            doc_free(d);
            mem_free(err);
        }
        assert_true(succeeded);
    }
}

int main(void)
{
    mem_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines),       cmocka_unit_test(test_yaml_lines_and_same_tree),
        cmocka_unit_test(test_yaml_scalars),     cmocka_unit_test(test_format_detection),
        cmocka_unit_test(test_json_errors),      cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_depth_limit),      cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_load),             cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
