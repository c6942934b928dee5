#include "testsupport.h"
#include "util/common.h"

#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run fn in a forked child; return its exit status (0 = every check held). */
static int in_child(int (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *before; /* allocated with malloc before the child switches */

static int arena_checks(void)
{
    mem_child_arena();
    char *s = mem_printf("layer %s: %d", "seccomp", 42);
    if (!s || strcmp(s, "layer seccomp: 42"))
        return 1;
    char *g = mem_realloc(s, 4096); /* grows by copying */
    if (!g || strcmp(g, "layer seccomp: 42"))
        return 2;
    mem_free(g); /* does nothing, must not crash */
    char *b = mem_realloc(before, 64); /* a pre-clone block is copied, not freed */
    if (!b || strcmp(b, "made before"))
        return 3;
    json_t *h = json_pack("{s:s, s:i}", "op", "setup_error", "code", 5);
    char *t = h ? json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!t || strcmp(t, "{\"code\":5,\"op\":\"setup_error\"}"))
        return 4;
    json_decref(h);
    unsigned char *z = mem_calloc(16, 8);
    for (size_t i = 0; z && i < 128; i++)
        if (z[i])
            return 5;
    if (!z)
        return 5;
    if (mem_calloc(SIZE_MAX / 2, 4)) /* overflow */
        return 6;
    if (mem_alloc(1u << 20)) /* larger than the arena: fails, no crash */
        return 7;
    size_t n = 0;
    while (mem_alloc(1000) && n < 1000) /* exhausts cleanly */
        n++;
    if (n == 0 || n >= 1000)
        return 8;
    size_t m = 0;
    while (mem_alloc(1) && m < 10000) /* the rest, in the smallest blocks */
        m++;
    if (m >= 10000 || mem_strdup("x")) /* and then it stays full */
        return 9;
    return 0;
}

static void test_child_arena(void **state)
{
    (void)state;
    before = mem_strdup("made before");
    assert_non_null(before);
    assert_int_equal(in_child(arena_checks), 0);
    /* the parent is unaffected */
    char *p = mem_printf("%s!", before);
    assert_string_equal(p, "made before!");
    mem_free(p);
    mem_free(before);
}

static int fail_after_checks(void)
{
    mem_child_arena();
    mem_fail_after(1);
    void *a = mem_alloc(8), *b = mem_alloc(8);
    mem_fail_after(-1);
    return a && !b ? 0 : 1;
}

static void test_child_arena_honours_fail_after(void **state)
{
    (void)state;
    assert_int_equal(in_child(fail_after_checks), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_child_arena),
        cmocka_unit_test(test_child_arena_honours_fail_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
