/*
 * test_jsonx.c — the small JSON/UTF-8 helpers every parser's messages use.
 */
#include "testsupport.h"
#include "util/common.h"

#include <jansson.h>

#include "util/buf.h"
#include "util/jsonx.h"

static void test_kind(void **state)
{
    (void)state;
    json_t *v[] = {json_object(), json_array(), json_string("x"), json_integer(1), json_real(1.5), json_true(),
                   json_false(), json_null()};
    const char *want[] = {"an object", "an array", "a string", "an integer", "a number", "a boolean", "a boolean",
                          "null"};
    for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
        assert_string_equal(jsonx_kind(v[i]), want[i]);
        json_decref(v[i]);
    }
}

static void test_put_utf8(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_int_equal(jsonx_put_utf8(&b, 'A'), 0);
    assert_int_equal(jsonx_put_utf8(&b, 0xE9), 0);    /* é: 2 bytes */
    assert_int_equal(jsonx_put_utf8(&b, 0x20AC), 0);  /* €: 3 bytes */
    assert_int_equal(jsonx_put_utf8(&b, 0x1F40D), 0); /* 🐍: 4 bytes */
    assert_string_equal(buf_str(&b), "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\x8d");
    assert_true(jsonx_put_utf8(&b, 0xD800) < 0);   /* surrogate */
    assert_true(jsonx_put_utf8(&b, 0x110000) < 0); /* beyond Unicode */
    assert_int_equal(b.len, 10);
    assert_true(jsonx_utf8_valid(b.data, b.len));
    buf_release(&b);
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(jsonx_utf8_valid("plain", 5));
    assert_false(jsonx_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(jsonx_utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_false(jsonx_utf8_valid("\xed\xa0\x80", 3));     /* encoded surrogate */
    assert_false(jsonx_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(jsonx_utf8_valid("a\x80", 2));            /* stray continuation */
    assert_int_equal(jsonx_utf8_seq("\xe2\x82\xac", 3), 3);
}

static void test_cut_and_clip(void **state)
{
    (void)state;
    /* never cut inside a character */
    const char *s = "ab\xe2\x82\xac"; /* "ab€" */
    assert_int_equal(jsonx_utf8_cut(s, 5, 4), 2);
    assert_int_equal(jsonx_utf8_cut(s, 5, 5), 5);
    char line[] = "one\ntwo\tthree\x01";
    jsonx_oneline(line);
    assert_string_equal(line, "one?two?three?");
    jsonx_clip c = jsonx_clipped("short");
    assert_string_equal(c.s, "short");
    char longs[200];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    c = jsonx_clipped(longs);
    assert_true(strlen(c.s) < 60);
    assert_non_null(strstr(c.s, "..."));
    c = jsonx_clipped("bad\nline");
    assert_null(strchr(c.s, '\n'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind),
        cmocka_unit_test(test_put_utf8),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_cut_and_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
