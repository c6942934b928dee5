/*
 * jsonx.h — small JSON and UTF-8 helpers shared by the core's readers and
 * checkers (doc, schema, manifest, ffi): how a value's type is named in a
 * message, UTF-8 checking and encoding, and making user text fit a one-line
 * message. Pure functions on the caller's memory: thread-safe.
 */
#ifndef VENOM_UTIL_JSONX_H
#define VENOM_UTIL_JSONX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

/* The type of v as a message names it: "an object", "an array", "a string",
 * "an integer", "a number" (a real), "a boolean" or "null". Static string. */
const char *jsonx_kind(const json_t *v);

/* Append the UTF-8 encoding of cp (1 to 4 bytes). 0, -ENOMEM, or -EINVAL
 * (b unchanged) for a surrogate (U+D800..U+DFFF) or cp above U+10FFFF:
 * callers that read \u escapes pair surrogates before encoding. */
int jsonx_put_utf8(buf *b, uint32_t cp) __attribute__((warn_unused_result));

/* Length of the well-formed UTF-8 sequence at s[0..n) (no overlong form,
 * no surrogate, at most U+10FFFF), or 0 if it is not one (or n == 0). */
size_t jsonx_utf8_seq(const char *s, size_t n);

/* True when s[0..n) is well-formed UTF-8 without NUL bytes. */
bool jsonx_utf8_valid(const char *s, size_t n);

/* The length of the longest prefix of s[0..n) of at most max bytes that
 * does not end inside a UTF-8 sequence (n itself when n <= max). */
size_t jsonx_utf8_cut(const char *s, size_t n, size_t max);

/* Make s (NUL-terminated, modified in place; NULL is ignored) one line:
 * control characters (below 0x20, and 0x7f) become '?'. */
void jsonx_oneline(char *s);

/* User text shown in a one-line message, by value in a fixed buffer: at
 * most JSONX_CLIP bytes of s, cut on a UTF-8 boundary with "..." added
 * when cut, control characters as '?'. */
#define JSONX_CLIP 40
typedef struct jsonx_clip {
    char s[JSONX_CLIP + 8];
} jsonx_clip;

jsonx_clip jsonx_clipped(const char *s);

#endif
