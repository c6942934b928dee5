/*
 * fuzz_ndjson.c — libFuzzer target for the incremental NDJSON parser
 * (core/net/sse.c): the checks of fuzz_sse.c with NET_BODY_NDJSON (one
 * split or another, the same lines; a last line without its newline is
 * delivered only when it is whole JSON, else NET_E_CUT, either way).
 */
#define FUZZ_KIND NET_BODY_NDJSON
#include "fuzz_sse.c"
