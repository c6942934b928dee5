#include <stdarg.h>
#include "util/common.h"

#include <jansson.h>
#include <malloc.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>

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

/* The child arena (mem_child_arena): a bump allocator, each block headed by
 * its size so that realloc can copy. Only one thread exists in that child. */
#define ARENA_SIZE (64u << 10)
static bool arena_on;
static size_t arena_used;
static _Alignas(max_align_t) unsigned char arena[ARENA_SIZE];

static void *arena_alloc(size_t n)
{
    const size_t align = _Alignof(max_align_t);
    size_t need = sizeof(max_align_t) + ((n + align - 1) & ~(align - 1));
    if (n > ARENA_SIZE || need > ARENA_SIZE - arena_used)
        return NULL;
    unsigned char *blk = arena + arena_used;
    arena_used += need;
    memcpy(blk, &n, sizeof n);
    return blk + sizeof(max_align_t);
}

void mem_child_arena(void)
{
    arena_on = true;
    json_set_alloc_funcs(mem_alloc, mem_free);
}

void *mem_alloc(size_t n)
{
    if (should_fail())
        return NULL;
    return arena_on ? arena_alloc(n ? n : 1) : malloc(n ? n : 1);
}

void *mem_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    if (!arena_on)
        return calloc(n ? n : 1, size ? size : 1);
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = arena_alloc(n * size > 0 ? n * size : 1);
    return p ? memset(p, 0, n * size) : NULL;
}

void *mem_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    if (!arena_on)
        return realloc(p, n ? n : 1);
    void *q = arena_alloc(n ? n : 1);
    if (q && p) {
        size_t old = 0;
        if ((unsigned char *)p > arena && (unsigned char *)p < arena + ARENA_SIZE)
            memcpy(&old, (unsigned char *)p - sizeof(max_align_t), sizeof old);
        else
            old = malloc_usable_size(p); /* allocated before the clone */
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}

void mem_free(void *p)
{
    if (!arena_on)
        free(p);
}

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
