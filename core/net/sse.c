/*
 * sse.c — incremental SSE and NDJSON parsers (sse.h).
 *
 * Bytes are cut into lines as they arrive; a line is handled as soon as its
 * terminator is seen. A \r at the very end of one feed ends its line at once;
 * `cr_seen` remembers it so that a \n at the start of the next feed is taken
 * as the second half of that \r\n and not as an empty line (which would
 * dispatch an SSE event early, or not at all). Once an error is returned the
 * parser stays in it: every later feed or finish returns the same code.
 */
#include "util/common.h"

#include <jansson.h>

#include "net/sse.h"
#include "util/buf.h"

struct sse_parser {
    net_body kind;
    size_t max;
    buf line;     /* the current, unterminated line */
    buf data;     /* SSE: joined data lines of the pending event */
    buf event;    /* SSE: the pending event's `event:` field */
    bool has_data;/* SSE: a data line was seen for the pending event */
    bool cr_seen; /* the last byte fed was a \r that ended a line */
    int failed;   /* sticky error code, 0 while healthy */
    size_t events;
};

sse_parser *sse_new(net_body kind, size_t max)
{
    if (kind != NET_BODY_SSE && kind != NET_BODY_NDJSON)
        return NULL;
    sse_parser *p = mem_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->kind = kind;
    p->max = max ? max : SIZE_MAX / 2;
    buf_init(&p->line);
    buf_init(&p->data);
    buf_init(&p->event);
    return p;
}

void sse_free(sse_parser *p)
{
    if (!p)
        return;
    buf_release(&p->line);
    buf_release(&p->data);
    buf_release(&p->event);
    mem_free(p);
}

size_t sse_events(const sse_parser *p) { return p ? p->events : 0; }

static int fail(sse_parser *p, int rc)
{
    p->failed = rc;
    return rc;
}

static int deliver(sse_parser *p, const char *event, const char *data, size_t len, net_event_fn fn, void *user,
                   int *cb_rc)
{
    p->events++;
    int r = fn ? fn(user, event, data, len) : 0;
    if (r != 0) {
        if (cb_rc)
            *cb_rc = r;
        return fail(p, NET_E_CALLBACK);
    }
    return 0;
}

/* A blank line: dispatch the pending SSE event (if it has data) and reset. */
static int sse_dispatch(sse_parser *p, net_event_fn fn, void *user, int *cb_rc)
{
    int rc = 0;
    if (p->has_data && p->data.len > 0)
        rc = deliver(p, buf_str(&p->event), buf_str(&p->data), p->data.len, fn, user, cb_rc);
    buf_reset(&p->data);
    buf_reset(&p->event);
    p->has_data = false;
    return rc;
}

static int sse_line(sse_parser *p, const char *s, size_t n, net_event_fn fn, void *user, int *cb_rc)
{
    if (n == 0)
        return sse_dispatch(p, fn, user, cb_rc);
    if (s[0] == ':')
        return 0; /* comment / keep-alive */
    const char *colon = memchr(s, ':', n);
    size_t fl = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vl = (size_t)(s + n - v);
    if (vl > 0 && v[0] == ' ') {
        v++;
        vl--;
    }
    if (fl == 4 && !memcmp(s, "data", 4)) {
        size_t sep = p->has_data ? 1 : 0;
        if (p->data.len + sep + vl > p->max)
            return fail(p, NET_E_TOOBIG);
        if ((sep && buf_putc(&p->data, '\n') < 0) || buf_append(&p->data, v, vl) < 0)
            return fail(p, NET_E_NOMEM);
        p->has_data = true;
    } else if (fl == 5 && !memcmp(s, "event", 5)) {
        buf_reset(&p->event);
        if (buf_append(&p->event, v, vl) < 0)
            return fail(p, NET_E_NOMEM);
    }
    /* id, retry and unknown fields are ignored */
    return 0;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static int ndjson_line(sse_parser *p, const char *s, size_t n, net_event_fn fn, void *user, int *cb_rc)
{
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (blank(s, n))
        return 0;
    /* s is the line buffer's data or a slice of the caller's bytes: the
     * callback needs a NUL-terminated copy */
    if (s != p->line.data) {
        buf_reset(&p->line);
        if (buf_append(&p->line, s, n) < 0)
            return fail(p, NET_E_NOMEM);
        s = p->line.data;
    } else {
        p->line.data[n] = '\0';
    }
    return deliver(p, "", s, n, fn, user, cb_rc);
}

static int handle_line(sse_parser *p, const char *s, size_t n, net_event_fn fn, void *user, int *cb_rc)
{
    return p->kind == NET_BODY_SSE ? sse_line(p, s, n, fn, user, cb_rc) : ndjson_line(p, s, n, fn, user, cb_rc);
}

int sse_feed(sse_parser *p, const char *b, size_t n, net_event_fn fn, void *user, int *cb_rc)
{
    if (!p)
        return NET_E_INVAL;
    if (p->failed)
        return p->failed;
    size_t i = 0;
    if (n > 0 && p->cr_seen && b[0] == '\n' && p->kind == NET_BODY_SSE)
        i = 1; /* the \n of a \r\n split across feeds */
    p->cr_seen = false;
    while (i < n) {
        /* find the end of the current line: \n always; \r too for SSE */
        size_t j = i;
        if (p->kind == NET_BODY_SSE) {
            while (j < n && b[j] != '\n' && b[j] != '\r')
                j++;
        } else {
            const char *nl = memchr(b + i, '\n', n - i);
            j = nl ? (size_t)(nl - b) : n;
        }
        if (j == n) { /* no terminator: keep the partial line */
            if (p->line.len + (n - i) > p->max)
                return fail(p, NET_E_TOOBIG);
            if (buf_append(&p->line, b + i, n - i) < 0)
                return fail(p, NET_E_NOMEM);
            break;
        }
        int rc;
        if (p->line.len > 0) {
            if (p->line.len + (j - i) > p->max)
                return fail(p, NET_E_TOOBIG);
            if (buf_append(&p->line, b + i, j - i) < 0)
                return fail(p, NET_E_NOMEM);
            rc = handle_line(p, p->line.data, p->line.len, fn, user, cb_rc);
        } else {
            if (j - i > p->max)
                return fail(p, NET_E_TOOBIG);
            rc = handle_line(p, b + i, j - i, fn, user, cb_rc);
        }
        buf_reset(&p->line);
        if (rc)
            return rc;
        if (b[j] == '\r') {
            if (j + 1 < n && b[j + 1] == '\n')
                j++;
            else if (j + 1 == n)
                p->cr_seen = true;
        }
        i = j + 1;
    }
    return 0;
}

int sse_finish(sse_parser *p, net_event_fn fn, void *user, int *cb_rc)
{
    if (!p)
        return NET_E_INVAL;
    if (p->failed)
        return p->failed;
    if (p->kind == NET_BODY_NDJSON) {
        const char *s = buf_str(&p->line);
        size_t n = p->line.len;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (blank(s, n))
            return 0;
        /* a last line without its newline: delivered when it is whole JSON */
        json_error_t je;
        json_t *v = json_loadb(s, n, JSON_DECODE_ANY, &je);
        if (!v)
            return fail(p, NET_E_CUT);
        json_decref(v);
        int rc = ndjson_line(p, p->line.data, n, fn, user, cb_rc);
        buf_reset(&p->line);
        return rc;
    }
    /* SSE: a pending line that is not a comment means the body was cut mid-line.
     * An event whose lines all ended but whose closing blank line never came
     * (servers and proxies that close right after their last line) is
     * delivered: whether the stream was complete is the provider's check of
     * its terminal marker ([DONE], message_stop, a finishReason). */
    if (p->line.len > 0 && p->line.data[0] != ':')
        return fail(p, NET_E_CUT);
    if (p->has_data)
        return sse_dispatch(p, fn, user, cb_rc);
    return 0;
}
