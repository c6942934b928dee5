/*
 * buf.h — a growable byte buffer that is always NUL-terminated.
 * A buf is embedded (buf_init/buf_release). Functions return 0 or -ENOMEM;
 * after a failed append the content is unchanged. Not thread-safe.
 */
#ifndef VENOM_UTIL_BUF_H
#define VENOM_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data; /* NUL-terminated; "" before the first append */
    size_t len;
    size_t cap;
} buf;

#define BUF_INIT {.data = NULL, .len = 0, .cap = 0}

void buf_init(buf *b);
void buf_release(buf *b);
void buf_reset(buf *b);
const char *buf_str(const buf *b);
int buf_append(buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
int buf_puts(buf *b, const char *s) __attribute__((warn_unused_result));
int buf_putc(buf *b, char c) __attribute__((warn_unused_result));
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3), warn_unused_result));
int buf_vprintf(buf *b, const char *fmt, va_list ap) __attribute__((warn_unused_result));
/* Hand the string over to the caller (mem_free it); b is left empty. */
char *buf_detach(buf *b);

#endif
