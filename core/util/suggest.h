/*
 * suggest.h — "did you mean …?": closest names by edit distance, for unknown
 * skills, keys and options. Pure functions, thread-safe.
 */
#ifndef VENOM_UTIL_SUGGEST_H
#define VENOM_UTIL_SUGGEST_H

#include <stddef.h>

/* Levenshtein distance between a and b (case-sensitive), capped at 255. */
unsigned suggest_distance(const char *a, const char *b);
/* Up to max candidates closest to `word` (distance <= max(2, len/3), or
 * candidates that contain word / start with it), best first, stored as
 * borrowed pointers into `out`. Returns how many. */
size_t suggest_closest(const char *word, const char *const *cands, size_t n, const char **out, size_t max);
/* The candidate closest to `word` ignoring ASCII case (the first of equally
 * close ones) when it looks like a typo of it: at most 1 edit for a word of
 * up to 3 bytes, 2 up to 6, 3 beyond. A borrowed pointer, or NULL. */
const char *suggest_typo(const char *word, const char *const *cands, size_t n);

#endif
