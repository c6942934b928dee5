/*
 * err.h — how core functions report errors: they return 0 or a negative
 * code and, when the caller passed a non-NULL `char **err`, leave a message
 * there (allocated with mem_alloc; the caller frees it). A message says what
 * went wrong, where, and how to fix it, in one line without a trailing period.
 */
#ifndef VENOM_UTIL_ERR_H
#define VENOM_UTIL_ERR_H

/* Replace *err (if err != NULL) with the formatted message; returns rc. */
int err_set(char **err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix *err with "prefix: " (formatted); returns rc. */
int err_prefix(char **err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
