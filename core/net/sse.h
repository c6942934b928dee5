/*
 * sse.h — incremental parsers for streamed HTTP bodies: Server-Sent Events
 * (WHATWG rules: lines split on \n, \r\n or \r; `field: value` with one
 * optional space stripped; `:` comments ignored; data lines joined with \n; a
 * blank line dispatches; events with empty data skipped) and NDJSON (one
 * value per \n-terminated line, blank lines skipped). Feed any split of the
 * bytes; the callbacks see the same events. Fuzzed: tests/fuzz/fuzz_sse.c.
 */
#ifndef VENOM_NET_SSE_H
#define VENOM_NET_SSE_H

#include <stddef.h>

#include "net/net.h"

typedef struct sse_parser sse_parser;

/* max: largest event (or line) in bytes; larger is an error. */
sse_parser *sse_new(net_body kind, size_t max);
void sse_free(sse_parser *p);
/* Feed n bytes; calls fn for each complete event. 0, NET_E_TOOBIG, or
 * NET_E_CALLBACK (fn returned non-zero; *cb_rc holds its value). */
int sse_feed(sse_parser *p, const char *buf, size_t n, net_event_fn fn, void *user, int *cb_rc);
/* End of body: NET_E_CUT when a line was cut: an SSE line without its end
 * (a pending SSE event whose lines all ended is delivered, as servers that
 * close without the last blank line are common; the provider checks its
 * terminal marker), or an NDJSON last line that is not complete JSON (one
 * that is, without its newline, is delivered). 0 otherwise. */
int sse_finish(sse_parser *p, net_event_fn fn, void *user, int *cb_rc);
/* Events delivered so far. */
size_t sse_events(const sse_parser *p);

#endif
