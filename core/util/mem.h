/*
 * mem.h — the one allocation wrapper of the core. Every core allocation (and
 * jansson's, see mem_install) goes through it so that tests can make the Nth
 * allocation fail (mem_fail_after) and check that nothing leaks or crashes.
 * All functions are thread-safe.
 */
#ifndef VENOM_UTIL_MEM_H
#define VENOM_UTIL_MEM_H

#include <stdarg.h>
#include <stddef.h>

/* malloc/calloc/realloc/strdup that may be made to fail in tests. */
void *mem_alloc(size_t n);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t n);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
/* free(3); NULL is fine. */
void mem_free(void *p);
/* printf into a new string (mem_free it); NULL on failure. */
char *mem_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mem_vprintf(const char *fmt, va_list ap);

/* In the child of a raw clone(2) of a possibly multi-threaded process
 * (the sandbox's worker before execve): another thread may have held a
 * malloc lock at the clone, so from now on every mem_* allocation (and
 * jansson's) comes from a fixed static arena without locks, and mem_free
 * does nothing. An allocation the arena cannot hold fails (NULL). One-way:
 * call it only in a process that will execve or _exit. */
void mem_child_arena(void);

/* Route jansson's allocations through mem_alloc/mem_free. Call once at start. */
void mem_install(void);
/* Tests: the next n allocations succeed, every later one fails (n < 0: never). */
void mem_fail_after(long n);

#endif
