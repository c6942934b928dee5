#include "testsupport.h"
#include "util/common.h"
#include "util/buf.h"

static void test_append_and_printf(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_string_equal(buf_str(&b), "");
    assert_int_equal(buf_puts(&b, "abc"), 0);
    assert_int_equal(buf_printf(&b, "-%d-%s", 42, "x"), 0);
    assert_string_equal(buf_str(&b), "abc-42-x");
    assert_int_equal(b.len, 8);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_putc(&b, 'z'), 0);
    assert_int_equal(b.len, 1008);
    char *s = buf_detach(&b);
    assert_int_equal(strlen(s), 1008);
    assert_null(b.data);
    mem_free(s);
}

static void test_alloc_failure_leaves_content(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_int_equal(buf_puts(&b, "keep"), 0);
    mem_fail_after(0);
    char big[200] = {0};
    memset(big, 'q', sizeof big - 1);
    int rc = buf_puts(&b, big);
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    assert_string_equal(buf_str(&b), "keep");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_printf),
        cmocka_unit_test(test_alloc_failure_leaves_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
