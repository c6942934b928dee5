/*
 * test_sse.c — the incremental SSE and NDJSON parsers (core/net/sse.c): the
 * same events whatever the split of the bytes, the three line endings
 * (including a \r\n cut between two feeds), comments, multi-line data,
 * skipped empty events, size limits, cut streams and a consumer that stops.
 */
#include "testsupport.h"
#include "util/common.h"

#include "net/sse.h"
#include "util/buf.h"

/* Events as text: "event|data" records separated by \x1e. */
static int collect(void *user, const char *event, const char *data, size_t len)
{
    buf *b = user;
    assert_int_equal(strlen(data), len); /* NUL-terminated at len */
    if (buf_puts(b, event) < 0 || buf_putc(b, '|') < 0 || buf_append(b, data, len) < 0 || buf_putc(b, '\x1e') < 0)
        fail_msg("out of memory");
    return 0;
}

/* Parse s in the pieces cut at the offsets cuts[0..n) (ascending); returns
 * the code of finish (or of the first failing feed); events into out. */
static int parse_cut(net_body kind, size_t max, const char *s, size_t len, const size_t *cuts, size_t n, buf *out)
{
    sse_parser *p = sse_new(kind, max);
    assert_non_null(p);
    int cb = 0, rc = 0;
    size_t at = 0;
    for (size_t i = 0; i <= n && rc == 0; i++) {
        size_t end = i < n ? cuts[i] : len;
        rc = sse_feed(p, s + at, end - at, collect, out, &cb);
        at = end;
    }
    if (rc == 0)
        rc = sse_finish(p, collect, out, &cb);
    sse_free(p);
    return rc;
}

static const char stream[] = ": a comment, then a keep-alive\n"
                             ":\n"
                             "event: message_start\n"
                             "data: {\"a\":1}\n"
                             "\n"
                             "data: one\r\n"
                             "data:two\r\n"
                             "id: 7\r\n"
                             "retry: 100\r\n"
                             "\r\n"
                             "event: ping\r"
                             "data: \r"
                             "\r"
                             "data\n"
                             "\n"
                             "event: delta\n"
                             "data: x: y\n"
                             "unknown: field\n"
                             "\n"
                             "data: [DONE]\n"
                             "\n";
static const char stream_events[] = "message_start|{\"a\":1}\x1e"
                                    "|one\ntwo\x1e"
                                    "delta|x: y\x1e"
                                    "|[DONE]\x1e";

static void test_sse_whole(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    assert_int_equal(parse_cut(NET_BODY_SSE, 0, stream, strlen(stream), NULL, 0, &out), 0);
    assert_string_equal(buf_str(&out), stream_events);
    buf_release(&out);
}

static void test_sse_every_split(void **state)
{
    (void)state;
    size_t len = strlen(stream);
    /* one cut anywhere, then two cuts anywhere */
    for (size_t i = 0; i <= len; i++) {
        buf out = BUF_INIT;
        size_t cuts[1] = {i};
        assert_int_equal(parse_cut(NET_BODY_SSE, 0, stream, len, cuts, 1, &out), 0);
        if (strcmp(buf_str(&out), stream_events) != 0)
            fail_msg("split at %zu: got '%s'", i, buf_str(&out));
        buf_release(&out);
    }
    for (size_t i = 0; i <= len; i += 3)
        for (size_t j = i; j <= len; j++) {
            buf out = BUF_INIT;
            size_t cuts[2] = {i, j};
            assert_int_equal(parse_cut(NET_BODY_SSE, 0, stream, len, cuts, 2, &out), 0);
            if (strcmp(buf_str(&out), stream_events) != 0)
                fail_msg("split at %zu,%zu: got '%s'", i, j, buf_str(&out));
            buf_release(&out);
        }
    /* byte by byte */
    size_t *cuts = mem_alloc(len * sizeof *cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    buf out = BUF_INIT;
    assert_int_equal(parse_cut(NET_BODY_SSE, 0, stream, len, cuts, len, &out), 0);
    assert_string_equal(buf_str(&out), stream_events);
    buf_release(&out);
    mem_free(cuts);
}

static void test_sse_line_endings(void **state)
{
    (void)state;
    /* \r\n split exactly between two feeds is one line end, not two */
    const char *s = "data: a\r\ndata: b\r\n\r\n";
    for (size_t i = 0; i <= strlen(s); i++) {
        buf out = BUF_INIT;
        size_t cuts[1] = {i};
        assert_int_equal(parse_cut(NET_BODY_SSE, 0, s, strlen(s), cuts, 1, &out), 0);
        assert_string_equal(buf_str(&out), "|a\nb\x1e");
        buf_release(&out);
    }
    /* CR only, as Gemini's SDK accepts */
    buf out = BUF_INIT;
    const char *cr = "event: e\rdata: 1\r\rdata: 2\r\r";
    assert_int_equal(parse_cut(NET_BODY_SSE, 0, cr, strlen(cr), NULL, 0, &out), 0);
    assert_string_equal(buf_str(&out), "e|1\x1e|2\x1e");
    buf_release(&out);
    /* \r then \n in a later feed, after an empty feed in between */
    sse_parser *p = sse_new(NET_BODY_SSE, 0);
    int cb = 0;
    assert_int_equal(sse_feed(p, "data: z\r", 8, collect, &out, &cb), 0);
    assert_int_equal(sse_feed(p, "\n\r", 2, collect, &out, &cb), 0);
    assert_int_equal(sse_feed(p, "\n", 1, collect, &out, &cb), 0);
    assert_int_equal(sse_finish(p, collect, &out, &cb), 0);
    assert_string_equal(buf_str(&out), "|z\x1e");
    assert_int_equal(sse_events(p), 1);
    sse_free(p);
    buf_release(&out);
}

static void test_sse_empty_and_comments(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    const char *s = ": only comments\n\n:\n\nevent: lonely\n\ndata:\n\n";
    assert_int_equal(parse_cut(NET_BODY_SSE, 0, s, strlen(s), NULL, 0, &out), 0);
    assert_string_equal(buf_str(&out), ""); /* no event has data */
    /* the event name does not leak into the next event */
    s = "event: a\n\ndata: b\n\n";
    assert_int_equal(parse_cut(NET_BODY_SSE, 0, s, strlen(s), NULL, 0, &out), 0);
    assert_string_equal(buf_str(&out), "|b\x1e");
    buf_release(&out);
}

static void test_sse_toobig(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    /* one line over the limit, even split */
    const char *s = "data: 0123456789abcdef\n\n";
    size_t cuts[2] = {3, 9};
    assert_int_equal(parse_cut(NET_BODY_SSE, 16, s, strlen(s), cuts, 2, &out), NET_E_TOOBIG);
    /* lines under the limit whose joined data is over it */
    s = "data: 0123456789\ndata: 0123456789\n\n";
    assert_int_equal(parse_cut(NET_BODY_SSE, 20, s, strlen(s), NULL, 0, &out), NET_E_TOOBIG);
    assert_string_equal(buf_str(&out), "");
    /* the error sticks */
    sse_parser *p = sse_new(NET_BODY_SSE, 4);
    int cb = 0;
    assert_int_equal(sse_feed(p, "data: big\n", 10, collect, &out, &cb), NET_E_TOOBIG);
    assert_int_equal(sse_feed(p, "\n", 1, collect, &out, &cb), NET_E_TOOBIG);
    assert_int_equal(sse_finish(p, collect, &out, &cb), NET_E_TOOBIG);
    sse_free(p);
    /* just at the limit is fine */
    s = "data: 0123456789\n\n";
    assert_int_equal(parse_cut(NET_BODY_SSE, 16, s, strlen(s), NULL, 0, &out), 0);
    assert_string_equal(buf_str(&out), "|0123456789\x1e");
    buf_release(&out);
}

static void test_sse_cut(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    /* whole lines without the final blank line: the last event is delivered
     * (the provider checks its terminal marker) */
    const char *s = "data: 1\n\ndata: 2\n";
    assert_int_equal(parse_cut(NET_BODY_SSE, 0, s, strlen(s), NULL, 0, &out), 0);
    assert_string_equal(buf_str(&out), "|1\x1e|2\x1e");
    buf_reset(&out);
    /* a half line */
    s = "data: 1\n\ndata: {\"par";
    assert_int_equal(parse_cut(NET_BODY_SSE, 0, s, strlen(s), NULL, 0, &out), NET_E_CUT);
    buf_reset(&out);
    /* a trailing comment or a lone CR-ended blank is not a cut */
    s = "data: 1\n\n: keep-alive";
    assert_int_equal(parse_cut(NET_BODY_SSE, 0, s, strlen(s), NULL, 0, &out), 0);
    s = "data: 1\r\r";
    assert_int_equal(parse_cut(NET_BODY_SSE, 0, s, strlen(s), NULL, 0, &out), 0);
    buf_release(&out);
}

static int stop_second(void *user, const char *event, const char *data, size_t len)
{
    (void)event, (void)data, (void)len;
    int *n = user;
    return ++*n == 2 ? -8 : 0;
}

static void test_callback_stops(void **state)
{
    (void)state;
    sse_parser *p = sse_new(NET_BODY_SSE, 0);
    int n = 0, cb = 0;
    const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    assert_int_equal(sse_feed(p, s, strlen(s), stop_second, &n, &cb), NET_E_CALLBACK);
    assert_int_equal(cb, -8);
    assert_int_equal(n, 2); /* the third event was not delivered */
    sse_free(p);
    p = sse_new(NET_BODY_NDJSON, 0);
    n = 0, cb = 0;
    s = "{}\n{}\n{}\n";
    assert_int_equal(sse_feed(p, s, strlen(s), stop_second, &n, &cb), NET_E_CALLBACK);
    assert_int_equal(cb, -8);
    assert_int_equal(n, 2);
    sse_free(p);
    assert_null(sse_new(NET_BODY_WHOLE, 0));
}

static void test_ndjson(void **state)
{
    (void)state;
    const char *s = "{\"a\":1}\n\n  \r\n{\"b\":\"x\\ny\"}\r\n{\"done\":true}";
    const char *want = "|{\"a\":1}\x1e|{\"b\":\"x\\ny\"}\x1e|{\"done\":true}\x1e";
    size_t len = strlen(s);
    for (size_t i = 0; i <= len; i++)
        for (size_t j = i; j <= len; j++) {
            buf out = BUF_INIT;
            size_t cuts[2] = {i, j};
            assert_int_equal(parse_cut(NET_BODY_NDJSON, 0, s, len, cuts, 2, &out), 0);
            if (strcmp(buf_str(&out), want) != 0)
                fail_msg("split at %zu,%zu: got '%s'", i, j, buf_str(&out));
            buf_release(&out);
        }
    /* a cut last line (not whole JSON) is NET_E_CUT after the whole ones */
    buf out = BUF_INIT;
    s = "{\"a\":1}\n{\"b\":";
    assert_int_equal(parse_cut(NET_BODY_NDJSON, 0, s, strlen(s), NULL, 0, &out), NET_E_CUT);
    assert_string_equal(buf_str(&out), "|{\"a\":1}\x1e");
    buf_reset(&out);
    /* \r alone does not end an NDJSON line */
    s = "{\"a\":\"1\r2\"}\n";
    assert_int_equal(parse_cut(NET_BODY_NDJSON, 0, s, strlen(s), NULL, 0, &out), 0);
    assert_string_equal(buf_str(&out), "|{\"a\":\"1\r2\"}\x1e");
    buf_reset(&out);
    /* the size limit */
    s = "{\"a\":\"0123456789\"}\n";
    size_t cuts[1] = {5};
    assert_int_equal(parse_cut(NET_BODY_NDJSON, 8, s, strlen(s), cuts, 1, &out), NET_E_TOOBIG);
    buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_whole),
        cmocka_unit_test(test_sse_every_split),
        cmocka_unit_test(test_sse_line_endings),
        cmocka_unit_test(test_sse_empty_and_comments),
        cmocka_unit_test(test_sse_toobig),
        cmocka_unit_test(test_sse_cut),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_ndjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
