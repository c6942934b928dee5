/*
 * test_schema.c — venom's JSON Schema subset (core/util/schema.c): every
 * keyword valid and invalid with the exact message a user sees, schema_check
 * failures, $ref cycles, limits, big integers, UTF-8 lengths, and an
 * allocation-failure sweep.
 */
#include "testsupport.h"
#include "util/common.h"
#include "util/buf.h"
#include "util/schema.h"

#include <jansson.h>
#include <time.h>

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j)
        fail_msg("test JSON does not parse: %s: %s", je.text, text);
    return j;
}

/* Validate; return the error message (caller frees) or NULL when valid. */
static char *run(const char *schema, const char *inst, const char *what, bool all)
{
    json_t *s = parse(schema), *x = parse(inst);
    char *err = NULL;
    int rc = all ? schema_validate_all(s, x, what, &err) : schema_validate(s, x, what, &err);
    json_decref(s);
    json_decref(x);
    if (rc == 0) {
        assert_null(err);
        return NULL;
    }
    assert_int_equal(rc, -EINVAL);
    assert_non_null(err);
    return err;
}

#define VALID(schema, inst)                                                                                        \
    do {                                                                                                           \
        char *e_ = run(schema, inst, "argument", false);                                                           \
        if (e_)                                                                                                    \
            fail_msg("expected valid, got: %s", e_);                                                               \
    } while (0)

#define INVALID(schema, inst, msg)                                                                                 \
    do {                                                                                                           \
        char *e_ = run(schema, inst, "argument", false);                                                           \
        if (!e_)                                                                                                   \
            fail_msg("expected invalid: %s against %s", inst, schema);                                             \
        assert_string_equal(e_, msg);                                                                              \
        mem_free(e_);                                                                                              \
    } while (0)

/* schema_check must reject the schema with exactly this message. */
#define BAD_SCHEMA(schema, msg)                                                                                    \
    do {                                                                                                           \
        json_t *s_ = parse(schema);                                                                                \
        char *e_ = NULL;                                                                                           \
        assert_int_equal(schema_check(s_, &e_), -EINVAL);                                                          \
        assert_non_null(e_);                                                                                       \
        assert_string_equal(e_, msg);                                                                              \
        mem_free(e_);                                                                                              \
        e_ = NULL;                                                                                                 \
        /* validation refuses it too, with the same message */                                                    \
        json_t *x_ = json_null();                                                                                  \
        assert_int_equal(schema_validate(s_, x_, "argument", &e_), -EINVAL);                                       \
        assert_string_equal(e_, msg);                                                                              \
        mem_free(e_);                                                                                              \
        json_decref(s_);                                                                                           \
    } while (0)

static void test_type(void **state)
{
    (void)state;
    VALID("{\"type\":\"object\"}", "{}");
    INVALID("{\"type\":\"object\"}", "42", "argument: expected an object, got 42");
    INVALID("{\"type\":\"object\"}", "[1,2]", "argument: expected an object, got an array of 2 items");
    const char *s = "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"},\"s\":{\"type\":\"string\"},"
                    "\"b\":{\"type\":\"boolean\"},\"z\":{\"type\":\"null\"},\"f\":{\"type\":\"number\"},"
                    "\"a\":{\"type\":\"array\"},\"o\":{\"type\":\"object\"},"
                    "\"u\":{\"type\":[\"string\",\"null\"]},\"v\":{\"type\":[\"boolean\",\"array\",\"object\"]}}}";
    VALID(s, "{\"n\":1,\"s\":\"x\",\"b\":false,\"z\":null,\"f\":1.5,\"a\":[],\"o\":{},\"u\":null,\"v\":true}");
    VALID(s, "{\"n\":2.0,\"f\":3,\"u\":\"x\",\"v\":[]}"); /* 2.0 is an integer; 3 is a number */
    INVALID(s, "{\"n\":1.5}", "argument 'n': expected an integer, got 1.5");
    INVALID(s, "{\"n\":\"1\"}", "argument 'n': expected an integer, got \"1\"");
    INVALID(s, "{\"s\":42}", "argument 's': expected a string, got 42");
    INVALID(s, "{\"b\":0}", "argument 'b': expected a boolean, got 0");
    INVALID(s, "{\"z\":false}", "argument 'z': expected null, got false");
    INVALID(s, "{\"f\":\"1.5\"}", "argument 'f': expected a number, got \"1.5\"");
    INVALID(s, "{\"a\":{}}", "argument 'a': expected an array, got an empty object");
    INVALID(s, "{\"o\":[]}", "argument 'o': expected an object, got an empty array");
    INVALID(s, "{\"u\":42}", "argument 'u': expected a string or null, got 42");
    INVALID(s, "{\"v\":0.25}", "argument 'v': expected a boolean, an array or an object, got 0.25");
    /* "integer or number" reads as "a number" */
    INVALID("{\"type\":[\"integer\",\"number\"]}", "true", "argument: expected a number, got true");
}

static void test_enum_const(void **state)
{
    (void)state;
    const char *s = "{\"properties\":{\"mode\":{\"enum\":[\"r\",\"w\"]},\"n\":{\"enum\":[1,[1,2],{\"a\":1},null]},"
                    "\"c\":{\"const\":\"yes\"},\"one\":{\"enum\":[7]}}}";
    VALID(s, "{\"mode\":\"w\",\"n\":1.0,\"c\":\"yes\",\"one\":7}");
    VALID(s, "{\"n\":[1,2.0]}");
    VALID(s, "{\"n\":{\"a\":1}}");
    VALID(s, "{\"n\":null}");
    INVALID(s, "{\"mode\":\"x\"}", "argument 'mode': expected one of \"r\", \"w\", got \"x\"");
    INVALID(s, "{\"n\":2}", "argument 'n': expected one of 1, an array of 2 items, an object, null, got 2");
    INVALID(s, "{\"c\":\"no\"}", "argument 'c': expected \"yes\", got \"no\"");
    INVALID(s, "{\"one\":8}", "argument 'one': expected 7, got 8");
    /* long enums are cut in the message */
    INVALID("{\"enum\":[1,2,3,4,5,6,7,8,9,10,11,12]}", "0",
            "argument: expected one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... (12 values), got 0");
}

static const char *OBJ = "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"length\":{\"type\":"
                         "\"integer\",\"minimum\":1}},\"required\":[\"path\"],\"additionalProperties\":false}";

static void test_object(void **state)
{
    (void)state;
    VALID(OBJ, "{\"path\":\"/tmp\",\"length\":3}");
    INVALID(OBJ, "{}", "argument 'path': required but missing");
    INVALID(OBJ, "{\"path\":\"a\",\"lenght\":3}",
            "unexpected argument 'lenght' (allowed: length, path); did you mean 'length'?");
    /* no suggestion when nothing is close, or the close name is given already */
    INVALID(OBJ, "{\"path\":\"a\",\"zzzzzz\":3}", "unexpected argument 'zzzzzz' (allowed: length, path)");
    INVALID(OBJ, "{\"path\":\"a\",\"length\":2,\"lenght\":3}", "unexpected argument 'lenght' (allowed: length, path)");
    INVALID(OBJ, "{\"path\":\"a\",\"length\":0}", "argument 'length': expected an integer >= 1, got 0");
    INVALID("{\"additionalProperties\":false}", "{\"x\":1}", "unexpected argument 'x' (none are allowed here)");

    /* nested names use dots; odd names are quoted */
    const char *nest = "{\"properties\":{\"opts\":{\"properties\":{\"deep\":{\"required\":[\"path\"]}},"
                       "\"additionalProperties\":{\"type\":\"string\"}}}}";
    INVALID(nest, "{\"opts\":{\"deep\":{}}}", "argument 'opts.deep.path': required but missing");
    INVALID(nest, "{\"opts\":{\"a.b\":1}}", "argument 'opts[\"a.b\"]': expected a string, got 1");
    INVALID(nest, "{\"opts\":{\"\":1}}", "argument 'opts[\"\"]': expected a string, got 1");
    INVALID(nest, "{\"opts\":{\"x\\ny\":1}}", "argument 'opts[\"x\\ny\"]': expected a string, got 1");
    INVALID(nest, "{\"opts\":{\"x\":\"ok\",\"y\":[1]}}", "argument 'opts.y': expected a string, got an array of 1 item");

    /* patternProperties, alone and with additionalProperties false */
    const char *pp = "{\"properties\":{\"name\":{}},\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}},"
                     "\"additionalProperties\":false}";
    VALID(pp, "{\"name\":1,\"x-a\":1,\"x-b\":2}");
    INVALID(pp, "{\"x-a\":\"s\"}", "argument 'x-a': expected an integer, got \"s\"");
    INVALID(pp, "{\"nmae\":1}", "unexpected argument 'nmae' (allowed: name, or names matching ^x-); did you mean 'name'?");

    /* min/maxProperties */
    const char *mp = "{\"minProperties\":1,\"maxProperties\":2}";
    VALID(mp, "{\"a\":1}");
    INVALID(mp, "{}", "argument: expected an object of 1 to 2 properties, got an object with 0 properties");
    INVALID(mp, "{\"a\":1,\"b\":2,\"c\":3}", "argument: expected an object of 1 to 2 properties, got an object with 3 properties");
    INVALID("{\"maxProperties\":1}", "{\"a\":1,\"b\":2}",
            "argument: expected an object of at most 1 property, got an object with 2 properties");
    /* keywords for objects ignore other types */
    VALID(mp, "\"text\"");
}

static void test_array(void **state)
{
    (void)state;
    const char *s = "{\"properties\":{\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":"
                    "{\"name\":{\"type\":\"string\"}}},\"minItems\":1,\"maxItems\":3}}}";
    VALID(s, "{\"items\":[{\"name\":\"a\"}]}");
    INVALID(s, "{\"items\":[{},{},{\"name\":42}]}", "argument 'items[2].name': expected a string, got 42");
    INVALID(s, "{\"items\":[]}", "argument 'items': expected an array of 1 to 3 items, got an empty array");
    INVALID(s, "{\"items\":[{},{},{},{}]}", "argument 'items': expected an array of 1 to 3 items, got an array of 4 items");
    INVALID("{\"minItems\":2}", "[1]", "argument: expected an array of at least 2 items, got an array of 1 item");

    /* prefixItems (tuple) with items for the rest, and items:false */
    const char *t = "{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}";
    VALID(t, "[\"a\",1]");
    VALID(t, "[\"a\"]");
    INVALID(t, "[\"a\",\"b\"]", "argument '[1]': expected an integer, got \"b\"");
    INVALID(t, "[\"a\",1,null]", "argument: expected an array of at most 2 items, got an array of 3 items");
    INVALID("{\"items\":false}", "[1]", "argument: expected an empty array, got an array of 1 item");
    const char *t2 = "{\"prefixItems\":[{\"type\":\"string\"}],\"items\":{\"type\":\"boolean\"}}";
    VALID(t2, "[\"a\",true,false]");
    INVALID(t2, "[\"a\",true,1]", "argument '[2]': expected a boolean, got 1");
    /* draft-07 tuple: items array + additionalItems */
    const char *t3 = "{\"items\":[{\"type\":\"integer\"}],\"additionalItems\":{\"type\":\"string\"}}";
    VALID(t3, "[1,\"x\"]");
    INVALID(t3, "[1,2]", "argument '[1]': expected a string, got 2");

    /* uniqueItems: 1 and 1.0 are equal; so are objects with keys in another order */
    const char *u = "{\"uniqueItems\":true}";
    VALID(u, "[1,2,\"1\",[1],{\"a\":1}]");
    INVALID(u, "[1,2,1.0]", "argument: expected unique items, but [2] repeats [0]");
    INVALID(u, "[1,2,2,1]", "argument: expected unique items, but [2] repeats [1]");
    INVALID(u, "[-0.0,\"0\",0]", "argument: expected unique items, but [2] repeats [0]");
    /* long arrays are fine (not quadratic) */
    buf big = BUF_INIT;
    assert_int_equal(buf_putc(&big, '['), 0);
    for (int i = 0; i < 50000; i++)
        assert_int_equal(buf_printf(&big, "%s{\"k\":%d,\"s\":\"v%d\"}", i ? "," : "", i, i), 0);
    size_t distinct_len = big.len;
    assert_int_equal(buf_puts(&big, ",{\"s\":\"v77\",\"k\":77.0}]"), 0);
    INVALID(u, buf_str(&big), "argument: expected unique items, but [50000] repeats [77]");
    big.data[distinct_len] = ']';
    big.data[distinct_len + 1] = '\0';
    VALID(u, buf_str(&big));
    buf_release(&big);
    INVALID(u, "[{\"a\":1,\"b\":[2]},{\"b\":[2.0],\"a\":1}]", "argument: expected unique items, but [1] repeats [0]");
    VALID("{\"uniqueItems\":false}", "[1,1]");
}

static void test_string(void **state)
{
    (void)state;
    /* lengths count code points: "héllo" is 5, "日本" is 2, an emoji 1 */
    const char *s = "{\"properties\":{\"s\":{\"minLength\":2,\"maxLength\":5},\"ne\":{\"minLength\":1},"
                    "\"ex\":{\"minLength\":1,\"maxLength\":1}}}";
    VALID(s, "{\"s\":\"h\\u00e9llo\"}");
    VALID(s, "{\"s\":\"\\u65e5\\u672c\"}");
    VALID(s, "{\"ex\":\"\\ud83d\\ude00\"}");
    INVALID(s, "{\"s\":\"h\\u00e9llo!\"}", "argument 's': expected a string of 2 to 5 characters, got \"h\xc3\xa9llo!\"");
    INVALID(s, "{\"s\":\"\\ud83d\\ude00\"}", "argument 's': expected a string of 2 to 5 characters, got \"\xf0\x9f\x98\x80\"");
    INVALID(s, "{\"ne\":\"\"}", "argument 'ne': expected a non-empty string, got \"\"");
    INVALID(s, "{\"ex\":\"ab\"}", "argument 'ex': expected a string of exactly 1 character, got \"ab\"");
    /* control characters are escaped, long strings cut */
    INVALID("{\"maxLength\":2}", "\"a\\nb\"", "argument: expected a string of at most 2 characters, got \"a\\nb\"");
    INVALID("{\"maxLength\":3}", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
            "argument: expected a string of at most 3 characters, got "
            "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" (50 characters)");
}

static void test_pattern(void **state)
{
    (void)state;
    const char *s = "{\"properties\":{\"id\":{\"pattern\":\"^[a-z][a-z0-9_]*$\"},\"any\":{\"pattern\":\"b\"},"
                    "\"num\":{\"pattern\":\"^\\\\d{3}-\\\\d+$\"},\"grp\":{\"pattern\":\"^(?:ab)+$\"},"
                    "\"cls\":{\"pattern\":\"^[\\\\d.]+$\"}}}";
    VALID(s, "{\"id\":\"abc_1\",\"any\":\"abc\",\"num\":\"123-4\",\"grp\":\"abab\",\"cls\":\"1.2\"}");
    INVALID(s, "{\"id\":\"Abc\"}", "argument 'id': expected a string matching the pattern ^[a-z][a-z0-9_]*$, got \"Abc\"");
    INVALID(s, "{\"any\":\"ccc\"}", "argument 'any': expected a string matching the pattern b, got \"ccc\"");
    INVALID(s, "{\"num\":\"12-4\"}", "argument 'num': expected a string matching the pattern ^\\d{3}-\\d+$, got \"12-4\"");
    INVALID(s, "{\"grp\":\"aba\"}", "argument 'grp': expected a string matching the pattern ^(?:ab)+$, got \"aba\"");
    INVALID(s, "{\"cls\":\"1a\"}", "argument 'cls': expected a string matching the pattern ^[\\d.]+$, got \"1a\"");
    /* ECMA spellings: escapes, classes with ] and -, literal braces; "." is one character */
    const char *e = "{\"properties\":{\"esc\":{\"pattern\":\"^\\\\u0041\\\\x42\\\\.\\\\n$\"},"
                    "\"cls\":{\"pattern\":\"^[\\\\]a-c\\\\-]+$\"},\"brace\":{\"pattern\":\"^x{,2}$\"},"
                    "\"dot\":{\"pattern\":\"^.$\"},\"w\":{\"pattern\":\"^\\\\w+\\\\s\\\\S$\"}}}";
    VALID(e, "{\"esc\":\"AB.\\n\",\"cls\":\"]-b\",\"brace\":\"x{,2}\",\"dot\":\"\\u00e9\",\"w\":\"a_1 z\"}");
    INVALID(e, "{\"esc\":\"ABc\\n\"}", "argument 'esc': expected a string matching the pattern ^\\u0041\\x42\\.\\n$, got \"ABc\\n\"");
    INVALID(e, "{\"cls\":\"d\"}", "argument 'cls': expected a string matching the pattern ^[\\]a-c\\-]+$, got \"d\"");
    INVALID(e, "{\"brace\":\"xx\"}", "argument 'brace': expected a string matching the pattern ^x{,2}$, got \"xx\"");
    INVALID(e, "{\"dot\":\"ab\"}", "argument 'dot': expected a string matching the pattern ^.$, got \"ab\"");
    /* an embedded NUL is part of the string: "$" is not reached early */
    INVALID("{\"pattern\":\"^a$\"}", "\"a\\u0000b\"", "argument: expected a string matching the pattern ^a$, got \"a\\u0000b\"");
}

static void test_numbers(void **state)
{
    (void)state;
    const char *s = "{\"properties\":{\"limit\":{\"type\":\"integer\",\"minimum\":1},"
                    "\"r\":{\"exclusiveMinimum\":0,\"maximum\":1.5},\"x\":{\"exclusiveMaximum\":10},"
                    "\"m\":{\"multipleOf\":5},\"d\":{\"multipleOf\":0.1},\"h\":{\"minimum\":0.5}}}";
    VALID(s, "{\"limit\":1,\"r\":1.5,\"x\":9.99,\"m\":-15,\"d\":0.3,\"h\":1}");
    INVALID(s, "{\"limit\":0}", "argument 'limit': expected an integer >= 1, got 0");
    INVALID(s, "{\"limit\":0.0}", "argument 'limit': expected an integer >= 1, got 0");
    INVALID(s, "{\"r\":0}", "argument 'r': expected a number > 0 and <= 1.5, got 0");
    INVALID(s, "{\"r\":1.5000001}", "argument 'r': expected a number > 0 and <= 1.5, got 1.5000001");
    INVALID(s, "{\"x\":10}", "argument 'x': expected a number < 10, got 10");
    INVALID(s, "{\"m\":7}", "argument 'm': expected a number that is a multiple of 5, got 7");
    INVALID(s, "{\"d\":0.35}", "argument 'd': expected a number that is a multiple of 0.1, got 0.35");
    INVALID(s, "{\"h\":0}", "argument 'h': expected a number >= 0.5, got 0");
    INVALID(s, "{\"h\":0.1}", "argument 'h': expected a number >= 0.5, got 0.1");
    /* numeric keywords ignore non-numbers */
    VALID(s, "{\"h\":\"zero\"}");
}

static void test_huge_integers(void **state)
{
    (void)state;
    /* these differ only beyond double precision: compared exactly */
    const char *s = "{\"properties\":{\"a\":{\"maximum\":9223372036854775806},"
                    "\"b\":{\"minimum\":-9223372036854775807},\"c\":{\"const\":9007199254740993},"
                    "\"d\":{\"exclusiveMaximum\":9007199254740992.0},\"e\":{\"multipleOf\":3}}}";
    VALID(s, "{\"a\":9223372036854775806,\"b\":-9223372036854775807,\"c\":9007199254740993,"
             "\"d\":9007199254740991,\"e\":9223372036854775806}");
    INVALID(s, "{\"a\":9223372036854775807}",
            "argument 'a': expected a number <= 9223372036854775806, got 9223372036854775807");
    INVALID(s, "{\"b\":-9223372036854775808}",
            "argument 'b': expected a number >= -9223372036854775807, got -9223372036854775808");
    INVALID(s, "{\"c\":9007199254740992}", "argument 'c': expected 9007199254740993, got 9007199254740992");
    INVALID(s, "{\"d\":9007199254740992}", "argument 'd': expected a number < 9007199254740992, got 9007199254740992");
    INVALID(s, "{\"e\":9223372036854775807}",
            "argument 'e': expected a number that is a multiple of 3, got 9223372036854775807");
    /* a real far beyond the integer range */
    INVALID("{\"maximum\":9223372036854775807}", "1e300", "argument: expected a number <= 9223372036854775807, got 1e+300");
    VALID("{\"minimum\":-1e300}", "-9223372036854775808");
}

static void test_combinators(void **state)
{
    (void)state;
    /* anyOf of types: one merged expectation */
    const char *a = "{\"properties\":{\"v\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\",\"minimum\":1}]}}}";
    VALID(a, "{\"v\":\"x\"}");
    VALID(a, "{\"v\":3}");
    INVALID(a, "{\"v\":true}", "argument 'v': expected a string or an integer, got true");
    /* the one alternative of the right type explains the problem */
    INVALID(a, "{\"v\":0}", "argument 'v': expected an integer >= 1, got 0");
    const char *deep = "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"object\",\"required\":[\"id\"]}]}";
    INVALID(deep, "{}", "argument 'id': required but missing");
    /* several alternatives fail deep down: all are listed */
    const char *many = "{\"anyOf\":[{\"required\":[\"a\"]},{\"required\":[\"b\"]}]}";
    INVALID(many, "{}", "argument: matches none of the 2 alternatives of anyOf: (1) argument 'a': required but "
                        "missing; (2) argument 'b': required but missing");
    /* oneOf */
    const char *o = "{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\",\"maximum\":10}]}";
    VALID(o, "11");
    VALID(o, "2.5");
    INVALID(o, "3", "argument: matches alternatives 1 and 2 of oneOf, but must match exactly one");
    INVALID(o, "\"x\"", "argument: expected an integer or a number, got \"x\"");
    /* allOf: every problem of every part */
    const char *all = "{\"allOf\":[{\"required\":[\"a\"]},{\"required\":[\"b\"]}]}";
    VALID(all, "{\"a\":1,\"b\":2}");
    INVALID(all, "{\"b\":2}", "argument 'a': required but missing");
    INVALID(all, "{}", "argument 'a': required but missing; and 1 more problem");
    /* not */
    const char *n = "{\"properties\":{\"x\":{\"not\":{\"type\":\"null\"}}}}";
    VALID(n, "{\"x\":1}");
    INVALID(n, "{\"x\":null}", "argument 'x': expected a value that does not match the schema under 'not', got null");
    /* boolean schemas */
    VALID("true", "[1,{}]");
    INVALID("false", "1", "argument: not allowed here");
    INVALID("{\"properties\":{\"old\":false}}", "{\"old\":1}", "argument 'old': not allowed here");
}

static void test_ref(void **state)
{
    (void)state;
    const char *s = "{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1},\"a~/b\":{\"type\":\"string\"}},"
                    "\"definitions\":{\"old\":{\"type\":\"boolean\"}},\"properties\":{\"n\":{\"$ref\":\"#/$defs/pos\"},"
                    "\"o\":{\"$ref\":\"#/definitions/old\"},\"w\":{\"$ref\":\"#/$defs/a~0~1b\"},"
                    "\"both\":{\"$ref\":\"#/$defs/pos\",\"maximum\":5}}}";
    VALID(s, "{\"n\":3,\"o\":true,\"w\":\"x\",\"both\":5}");
    INVALID(s, "{\"n\":0}", "argument 'n': expected an integer >= 1, got 0");
    INVALID(s, "{\"o\":1}", "argument 'o': expected a boolean, got 1");
    INVALID(s, "{\"w\":1}", "argument 'w': expected a string, got 1");
    INVALID(s, "{\"both\":6}", "argument 'both': expected a number <= 5, got 6");
    /* recursion through "#": a tree */
    const char *tree = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
                       "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}},\"required\":[\"name\"]}";
    VALID(tree, "{\"name\":\"a\",\"kids\":[{\"name\":\"b\",\"kids\":[{\"name\":\"c\"}]}]}");
    INVALID(tree, "{\"name\":\"a\",\"kids\":[{\"name\":\"b\",\"kids\":[{}]}]}",
            "argument 'kids[0].kids[0].name': required but missing");
}

static char *nested(const char *open, const char *mid, const char *close, int n)
{
    buf b = BUF_INIT;
    for (int i = 0; i < n; i++)
        assert_int_equal(buf_puts(&b, open), 0);
    assert_int_equal(buf_puts(&b, mid), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(buf_puts(&b, close), 0);
    return buf_detach(&b);
}

static void test_ref_cycles(void **state)
{
    (void)state;
    /* a $ref cycle that never descends into the value */
    INVALID("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}", "1",
            "argument: schemas apply more than 256 levels deep (a $ref cycle?)");
    INVALID("{\"properties\":{\"x\":{\"$ref\":\"#\"}},\"$ref\":\"#\"}", "{\"x\":1}",
            "argument: schemas apply more than 256 levels deep (a $ref cycle?)");
    /* an exponential one (two branches per level) is cut by the step budget, quickly */
    INVALID("{\"$defs\":{\"a\":{\"anyOf\":[{\"$ref\":\"#/$defs/a\"},{\"$ref\":\"#/$defs/a\"}]}},\"$ref\":\"#/$defs/a\"}",
            "1", "argument: schemas apply more than 256 levels deep (a $ref cycle?)");
    /* two failing alternatives per level of a 40-deep value: 2^40 paths, cut
     * by the step budget, quickly */
    time_t t0 = time(NULL);
    char *deep = nested("[", "1", "]", 40);
    char *e = run("{\"$defs\":{\"a\":{\"anyOf\":[{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/a\"}},"
                  "{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/a\"}}]}},\"$ref\":\"#/$defs/a\"}",
                  deep, "argument", false);
    assert_non_null(e);
    assert_true(strncmp(e, "argument '[0][0]", 16) == 0);
    assert_non_null(strstr(e, "]': validation took over 1000328 steps; simplify the schema (nested anyOf/oneOf/$ref)"));
    mem_free(e);
    mem_free(deep);
    assert_true(time(NULL) - t0 < 30);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}";
    char *ok = nested("[", "", "]", 60);
    VALID(s, ok);
    mem_free(ok);
    char *deep = nested("[", "", "]", 500);
    /* the message names the first value past the limit: 65 levels down */
    char *path = nested("[0]", "", "", 65);
    char *want = mem_printf("argument '%s': values are nested deeper than 64 levels", path);
    INVALID(s, deep, want);
    mem_free(want);
    mem_free(path);
    mem_free(deep);
    /* a schema nested too deep is refused by schema_check */
    char *ds = nested("{\"items\":", "true", "}", 70);
    json_t *j = parse(ds);
    char *err = NULL;
    assert_int_equal(schema_check(j, &err), -EINVAL);
    assert_non_null(strstr(err, "schemas are nested deeper than 64 levels"));
    assert_non_null(strstr(err, "schema at /items/items/"));
    mem_free(err);
    json_decref(j);
    mem_free(ds);
}

static void test_schema_check(void **state)
{
    (void)state;
    json_t *ok = parse(OBJ);
    char *err = NULL;
    assert_int_equal(schema_check(ok, &err), 0);
    assert_null(err);
    json_decref(ok);
    json_t *annot = parse("{\"title\":\"t\",\"description\":\"d\",\"default\":{},\"examples\":[1],\"$comment\":\"c\","
                          "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"x\",\"format\":\"uri\","
                          "\"deprecated\":false,\"readOnly\":true,\"writeOnly\":false}");
    assert_int_equal(schema_check(annot, &err), 0);
    json_decref(annot);

    BAD_SCHEMA("{\"properties\":{\"limit\":{\"minimum\":\"1\"}}}",
               "schema at /properties/limit: 'minimum' must be a number, got \"1\"");
    BAD_SCHEMA("{\"minimun\":1}", "schema at the top level: unknown keyword 'minimun'; did you mean 'minimum'?");
    BAD_SCHEMA("{\"colour\":1}", "schema at the top level: unknown keyword 'colour' (docs/schema.md lists the supported keywords)");
    BAD_SCHEMA("{\"items\":{\"if\":{}}}", "schema at /items: keyword 'if' is not supported by venom (docs/schema.md lists what is)");
    BAD_SCHEMA("{\"type\":\"int\"}",
               "schema at the top level: 'type' must be one of \"null\", \"boolean\", \"integer\", \"number\", "
               "\"string\", \"array\", \"object\", or a non-empty array of distinct ones, got \"int\"");
    BAD_SCHEMA("{\"type\":[\"string\",\"string\"]}",
               "schema at the top level: 'type' must be one of \"null\", \"boolean\", \"integer\", \"number\", "
               "\"string\", \"array\", \"object\", or a non-empty array of distinct ones, got an array of 2 items");
    BAD_SCHEMA("{\"properties\":{\"a/b\":{\"minLength\":-1}}}",
               "schema at /properties/a~1b: 'minLength' must be a non-negative integer, got -1");
    BAD_SCHEMA("{\"maxItems\":1.5}", "schema at the top level: 'maxItems' must be a non-negative integer, got 1.5");
    BAD_SCHEMA("{\"required\":\"a\"}", "schema at the top level: 'required' must be an array of property names, got \"a\"");
    BAD_SCHEMA("{\"required\":[\"a\",\"a\"]}", "schema at the top level: 'required' lists \"a\" twice");
    BAD_SCHEMA("{\"enum\":[]}", "schema at the top level: 'enum' must be a non-empty array, got an empty array");
    BAD_SCHEMA("{\"anyOf\":[{},3]}", "schema at /anyOf/1: a schema must be an object or a boolean, got 3");
    BAD_SCHEMA("{\"allOf\":{}}", "schema at the top level: 'allOf' must be a non-empty array of schemas, got an empty object");
    BAD_SCHEMA("{\"multipleOf\":0}", "schema at the top level: 'multipleOf' must be a number > 0, got 0");
    BAD_SCHEMA("{\"uniqueItems\":1}", "schema at the top level: 'uniqueItems' must be a boolean, got 1");
    BAD_SCHEMA("{\"exclusiveMinimum\":true,\"minimum\":0}",
               "schema at the top level: 'exclusiveMinimum' must be a number (draft 2020-12); the draft-04 boolean "
               "form is not supported: write \"exclusiveMinimum\": <limit> instead of \"minimum\" with "
               "\"exclusiveMinimum\"");
    BAD_SCHEMA("{\"minLength\":5,\"maxLength\":3}",
               "schema at the top level: 'minLength' (5) is greater than 'maxLength' (3): no value can match");
    BAD_SCHEMA("{\"items\":[{}],\"prefixItems\":[{}]}",
               "schema at the top level: 'items' is an array (the draft-07 tuple form) and 'prefixItems' is also "
               "given: use 'prefixItems' for the tuple and 'items' for the rest");
    BAD_SCHEMA("{\"$ref\":\"http://example.com/s.json\"}",
               "schema at the top level: '$ref' \"http://example.com/s.json\" is not supported: only local references "
               "\"#\", \"#/$defs/name\" and \"#/definitions/name\" are");
    BAD_SCHEMA("{\"properties\":{\"p\":{\"$ref\":\"#/$defs/nope\"}},\"$defs\":{\"yes\":{}}}",
               "schema at /properties/p: '$ref' \"#/$defs/nope\" points to nothing: define it under \"$defs\" at the "
               "top level");
    BAD_SCHEMA("{\"$defs\":{\"a\":{\"type\":1}}}",
               "schema at /$defs/a: 'type' must be one of \"null\", \"boolean\", \"integer\", \"number\", \"string\", "
               "\"array\", \"object\", or a non-empty array of distinct ones, got 1");
    BAD_SCHEMA("{\"pattern\":\"[a-\"}",
               "schema at the top level: 'pattern' \"[a-\" is not usable: a [ is not closed (venom uses POSIX "
               "extended regular expressions, see docs/schema.md)");
    BAD_SCHEMA("{\"pattern\":\"(a)\\\\1\"}",
               "schema at the top level: 'pattern' \"(a)\\\\1\" is not usable: backreferences and \\0 are not "
               "supported (venom uses POSIX extended regular expressions, see docs/schema.md)");
    BAD_SCHEMA("{\"patternProperties\":{\"((a{100}){100}){100}\":{}}}",
               "schema at the top level: 'patternProperties' \"((a{100}){100}){100}\" is not usable: its repetitions "
               "make it too large (nested {n,m} counts multiply) (venom uses POSIX extended regular expressions, see "
               "docs/schema.md)");
    BAD_SCHEMA("{\"pattern\":\"(?=a)\"}",
               "schema at the top level: 'pattern' \"(?=a)\" is not usable: lookaround and named groups (?=, (?!, "
               "(?<...) are not supported (venom uses POSIX extended regular expressions, see docs/schema.md)");
    BAD_SCHEMA("{\"pattern\":\"\\\\p{L}\"}",
               "schema at the top level: 'pattern' \"\\\\p{L}\" is not usable: this escape is not supported (see "
               "docs/schema.md) (venom uses POSIX extended regular expressions, see docs/schema.md)");
    BAD_SCHEMA("{\"pattern\":\"a(b\"}",
               "schema at the top level: 'pattern' \"a(b\" is not usable: it is not a valid POSIX extended regular "
               "expression (Unmatched ( or \\() (venom uses POSIX extended regular expressions, see docs/schema.md)");
    BAD_SCHEMA("3", "schema at the top level: a schema must be an object or a boolean, got 3");
    /* a control character in a name stays escaped: the message is one line */
    BAD_SCHEMA("{\"properties\":{\"a\\nb\":\"i\"}}",
               "schema at /properties/a\\nb: a schema must be an object or a boolean, got \"i\"");

    /* NULL arguments */
    assert_int_equal(schema_check(NULL, &err), -EINVAL);
    assert_string_equal(err, "schema: no schema given (NULL)");
    mem_free(err);
    err = NULL;
    json_t *t = json_true();
    assert_int_equal(schema_validate(t, NULL, "result", &err), -EINVAL);
    assert_string_equal(err, "result: no value given (NULL)");
    mem_free(err);
    /* err may be NULL */
    json_t *x = json_integer(1);
    json_t *f = json_false();
    assert_int_equal(schema_validate(f, x, "result", NULL), -EINVAL);
    assert_int_equal(schema_validate(t, x, NULL, NULL), 0);
    json_decref(x);
}

static void test_validate_all(void **state)
{
    (void)state;
    char *e = run(OBJ, "{\"lenght\":1,\"length\":0,\"x\":true}", "field", true);
    assert_string_equal(e, "unexpected field 'lenght' (allowed: length, path)\n"
                           "unexpected field 'x' (allowed: length, path)\n"
                           "field 'path': required but missing\n"
                           "field 'length': expected an integer >= 1, got 0");
    mem_free(e);
    e = run(OBJ, "{\"lenght\":1,\"length\":0,\"x\":true}", "field", false);
    assert_string_equal(e, "unexpected field 'lenght' (allowed: length, path); and 3 more problems");
    mem_free(e);
    /* capped at SCHEMA_MAX_LINES lines, then a count */
    e = run("{\"items\":{\"type\":\"string\"}}", "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]",
            "result", true);
    size_t lines = 1;
    for (const char *p = e; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, SCHEMA_MAX_LINES + 1);
    assert_non_null(strstr(e, "result '[0]': expected a string, got 1\nresult '[1]': expected a string, got 2\n"));
    assert_non_null(strstr(e, "result '[19]': expected a string, got 20\n... and 5 more problems"));
    mem_free(e);
    VALID("{\"items\":{\"type\":\"string\"}}", "[]");
}

/* Every allocation in turn fails: an error or success, never a crash, a leak
 * (ASan) or a wrong verdict. */
static void test_alloc_failure_sweep(void **state)
{
    (void)state;
    const char *schema =
        "{\"$defs\":{\"name\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"}},\"type\":\"object\",\"properties\":"
        "{\"path\":{\"type\":\"string\"},\"items\":{\"type\":\"array\",\"items\":{\"properties\":{\"name\":{\"$ref\":\"#/$defs/name\"}}},"
        "\"uniqueItems\":true},\"mode\":{\"enum\":[\"r\",\"w\"]},\"n\":{\"anyOf\":[{\"type\":\"string\"},"
        "{\"type\":\"integer\",\"minimum\":1}]},\"o\":{\"oneOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"required\":[\"q\"]}]}},"
        "\"patternProperties\":{\"^x-\":{}},\"required\":[\"path\"],\"additionalProperties\":false}";
    const char *bad = "{\"items\":[{\"name\":\"a\"},{\"name\":\"B\"}],\"mode\":\"x\",\"n\":0,\"o\":{},\"lenght\":1}";
    const char *good = "{\"path\":\"p\",\"items\":[{\"name\":\"a\"}],\"mode\":\"r\",\"n\":2,\"o\":null,\"x-y\":1}";
    json_t *s = parse(schema), *xb = parse(bad), *xg = parse(good);
    char *ref_bad = NULL;
    assert_int_equal(schema_validate_all(s, xb, "argument", &ref_bad), -EINVAL);
    assert_string_equal(ref_bad, "unexpected argument 'lenght' (allowed: items, mode, n, o, path, or names matching ^x-)\n"
                                 "argument 'path': required but missing\n"
                                 "argument 'items[1].name': expected a string matching the pattern ^[a-z]+$, got \"B\"\n"
                                 "argument 'mode': expected one of \"r\", \"w\", got \"x\"\n"
                                 "argument 'n': expected an integer >= 1, got 0\n"
                                 "argument 'o.q': required but missing");
    assert_int_equal(schema_validate(s, xg, "argument", NULL), 0);
    int completed = 0;
    for (long n = 0; n < 2000 && completed < 3; n++) {
        char *e1 = NULL, *e2 = NULL, *e3 = NULL;
        mem_fail_after(n);
        int r1 = schema_check(s, &e1);
        int r2 = schema_validate_all(s, xb, "argument", &e2);
        int r3 = schema_validate(s, xg, "argument", &e3);
        mem_fail_after(-1);
        assert_true(r1 == 0 || r1 == -ENOMEM);
        assert_true(r2 == -EINVAL || r2 == -ENOMEM);
        if (!(r3 == 0 || r3 == -ENOMEM))
            fail_msg("n=%ld rc=%d: %s", n, r3, e3 ? e3 : "(null)");
        if (r2 == -EINVAL)
            assert_string_equal(e2, ref_bad); /* a failure never changes the verdict */
        if (r1 == 0 && r2 == -EINVAL && r3 == 0)
            completed++;
        mem_free(e1);
        mem_free(e2);
        mem_free(e3);
    }
    assert_true(completed >= 1);
    mem_free(ref_bad);
    json_decref(s);
    json_decref(xb);
    json_decref(xg);
}

int main(void)
{
    mem_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type),          cmocka_unit_test(test_enum_const),
        cmocka_unit_test(test_object),        cmocka_unit_test(test_array),
        cmocka_unit_test(test_string),        cmocka_unit_test(test_pattern),
        cmocka_unit_test(test_numbers),       cmocka_unit_test(test_huge_integers),
        cmocka_unit_test(test_combinators),   cmocka_unit_test(test_ref),
        cmocka_unit_test(test_ref_cycles),    cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_schema_check),  cmocka_unit_test(test_validate_all),
        cmocka_unit_test(test_alloc_failure_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
