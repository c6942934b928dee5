#include <stdarg.h>
#include "util/common.h"

#include <jansson.h>
#include <stdatomic.h>

static atomic_long fail_countdown = -1;

static bool should_fail(void)
{
    long v = atomic_load(&fail_countdown);
    while (v >= 0) {
        if (v == 0)
            return true;
        if (atomic_compare_exchange_weak(&fail_countdown, &v, v - 1))
            return false;
    }
    return false;
}

void mem_fail_after(long n) { atomic_store(&fail_countdown, n); }

void *mem_alloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }

void *mem_calloc(size_t n, size_t size) { return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1); }

void *mem_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }

void mem_free(void *p) { free(p); }

char *mem_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *d = mem_alloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

char *mem_strdup(const char *s) { return s ? mem_strndup(s, SIZE_MAX) : NULL; }

char *mem_vprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = mem_alloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *mem_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mem_vprintf(fmt, ap);
    va_end(ap);
    return s;
}

void mem_install(void) { json_set_alloc_funcs(mem_alloc, mem_free); }
