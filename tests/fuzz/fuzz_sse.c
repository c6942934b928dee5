/*
 * fuzz_sse.c — libFuzzer target for the incremental SSE parser
 * (core/net/sse.c); fuzz_ndjson.c includes it for NDJSON. The first input
 * byte sets the size limit (0: none; else byte * 4, so NET_E_TOOBIG is
 * reachable); the rest is the body. It is parsed once in one feed, then
 * again in pieces whose lengths come from the body's own bytes (1 to 16,
 * so a \r\n falls across two feeds often). Checked: both runs give the same
 * events and the same final code; each event's data is NUL-terminated at
 * len; an SSE event has data, and no CR or LF in its name and no CR in its
 * data; an NDJSON line has no LF and is not blank; the code is one of those
 * sse.h lists; the event count matches sse_events. Seeds:
 * tests/fuzz/corpus/sse/ and tests/fuzz/corpus/ndjson/.
 */
#include "util/common.h"

#include "net/sse.h"
#include "util/buf.h"

#ifndef FUZZ_KIND
#define FUZZ_KIND NET_BODY_SSE
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seen {
    buf all;
    size_t n;
} seen;

static int record(void *user, const char *event, const char *data, size_t len)
{
    seen *s = user;
    size_t el = strlen(event);
    if (data[len] != '\0')
        __builtin_trap();
    if (FUZZ_KIND == NET_BODY_SSE) {
        if (len == 0 || memchr(data, '\r', len) || strpbrk(event, "\r\n"))
            __builtin_trap();
    } else {
        if (el != 0 || memchr(data, '\n', len))
            __builtin_trap();
        bool blank = true;
        for (size_t i = 0; i < len; i++)
            if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r')
                blank = false;
        if (blank)
            __builtin_trap();
    }
    s->n++;
    /* length-prefixed so that no content can fake a boundary */
    if (buf_append(&s->all, &el, sizeof el) < 0 || buf_append(&s->all, event, el) < 0 ||
        buf_append(&s->all, &len, sizeof len) < 0 || buf_append(&s->all, data, len) < 0)
        return -1; /* out of memory: shows as NET_E_CALLBACK */
    return 0;
}

/* Parse body in pieces of the given lengths (NULL: one piece). */
static int run(const char *body, size_t n, size_t max, const uint8_t *steps, seen *s)
{
    sse_parser *p = sse_new(FUZZ_KIND, max);
    if (!p)
        return NET_E_NOMEM;
    int cb = 0, rc = 0;
    size_t at = 0, k = 0;
    while (at < n && rc == 0) {
        size_t len = steps ? 1 + steps[k++ % n] % 16 : n;
        if (len > n - at)
            len = n - at;
        rc = sse_feed(p, body + at, len, record, s, &cb);
        at += len;
    }
    if (rc == 0)
        rc = sse_finish(p, record, s, &cb);
    if (sse_events(p) != s->n || (rc == NET_E_CALLBACK && cb != -1))
        __builtin_trap();
    sse_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t max = (size_t)data[0] * 4;
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    seen a = {BUF_INIT, 0}, b = {BUF_INIT, 0};
    int ra = run(body, n, max, NULL, &a);
    int rb = run(body, n, max, (const uint8_t *)body, &b);
    if (ra != 0 && ra != NET_E_TOOBIG && ra != NET_E_CUT && ra != NET_E_CALLBACK && ra != NET_E_NOMEM)
        __builtin_trap();
    if (ra == NET_E_NOMEM || rb == NET_E_NOMEM || ra == NET_E_CALLBACK || rb == NET_E_CALLBACK)
        goto out; /* out of memory somewhere: nothing to compare */
    if (ra != rb || a.n != b.n || a.all.len != b.all.len || (a.all.len && memcmp(a.all.data, b.all.data, a.all.len)))
        __builtin_trap();
out:
    buf_release(&a.all);
    buf_release(&b.all);
    return 0;
}
