/*
 * test_ipc.c — the core ⇄ worker frame channel (core/sandbox/ipc.c): round
 * trips over a socketpair (small, empty, several MiB from a thread), every
 * rejection of a bad frame with its exact message, EOF and deadlines, the
 * incremental parser, allocation failures, and no SIGPIPE.
 */
#include "testsupport.h"
#include "util/common.h"

#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/ipc.h"
#include "util/buf.h"

/* ---- helpers ---- */

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void close_pair(int sv[2])
{
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    sv[0] = sv[1] = -1;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        assert_true(w > 0);
        c += w;
        n -= (size_t)w;
    }
}

static void le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Append a prefix (magic, and lengths that may lie) to b. */
static void put_prefix(buf *b, const char *magic, uint32_t hlen, uint32_t plen)
{
    unsigned char p[12];
    memcpy(p, magic, 4);
    le32(p + 4, hlen);
    le32(p + 8, plen);
    assert_int_equal(buf_append(b, p, sizeof p), 0);
}

/* A well-formed frame: header text + payload. */
static void put_frame(buf *b, const char *hdr, size_t hlen, const void *payload, size_t plen)
{
    put_prefix(b, IPC_MAGIC, (uint32_t)hlen, (uint32_t)plen);
    assert_int_equal(buf_append(b, hdr, hlen), 0);
    if (plen)
        assert_int_equal(buf_append(b, payload, plen), 0);
}

static void expect_msg(const char *err, const char *want)
{
    assert_non_null(err);
    size_t n = strlen(want);
    if (n && want[n - 1] == '*') /* prefix match */
        assert_int_equal(strncmp(err, want, n - 1), 0);
    else
        assert_string_equal(err, want);
    assert_null(strchr(err, '\n'));
}

/*
 * The bytes are rejected with `want` and message `msg`, both by ipc_parse
 * and by ipc_recv over a socketpair (the sender closes after writing).
 */
static void check_reject(const void *bytes, size_t n, size_t max, int want, const char *msg)
{
    ipc_frame f = {0};
    char *err = NULL;
    size_t used = 99, need = 99;
    assert_int_equal(ipc_parse(bytes, n, max, &f, &used, &need, &err), want);
    expect_msg(err, msg);
    assert_null(f.hdr);
    assert_null(f.payload);
    assert_int_equal(used, 0);
    mem_free(err);
    err = NULL;

    int sv[2];
    pair(sv);
    write_all(sv[1], bytes, n);
    close(sv[1]);
    sv[1] = -1;
    assert_int_equal(ipc_recv(sv[0], ipc_now_ms() + 5000, max, &f, &err), want);
    expect_msg(err, msg);
    assert_null(f.hdr);
    mem_free(err);
    close_pair(sv);
}

static void check_reject_hdr(const char *hdr, size_t hlen, int want, const char *msg)
{
    buf b = BUF_INIT;
    put_frame(&b, hdr, hlen, "pl", 2);
    check_reject(b.data, b.len, 1024, want, msg);
    buf_release(&b);
}

/* ---- round trips ---- */

static void test_roundtrip_no_payload(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    json_t *h = json_pack("{s:s, s:i, s:s}", "op", "call", "id", 7, "note", "h\xc3\xa9llo \xe2\x82\xac");
    char *err = NULL;
    assert_int_equal(ipc_send(sv[0], h, NULL, 0, &err), 0);
    assert_null(err);
    ipc_frame f = {0};
    assert_int_equal(ipc_recv(sv[1], ipc_now_ms() + 5000, 0, &f, &err), 0);
    assert_null(err);
    assert_string_equal(ipc_op(&f), "call");
    assert_int_equal(json_integer_value(json_object_get(f.hdr, "id")), 7);
    assert_string_equal(json_string_value(json_object_get(f.hdr, "note")), "h\xc3\xa9llo \xe2\x82\xac");
    assert_null(f.payload);
    assert_int_equal(f.payload_len, 0);
    assert_true(json_equal(f.hdr, h));
    ipc_frame_release(&f);
    assert_null(f.hdr);
    assert_null(ipc_op(&f));
    ipc_frame_release(&f); /* released twice: fine */
    ipc_frame_release(NULL);
    json_decref(h);
    close_pair(sv);
}

static void test_roundtrip_payload(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    json_t *h = json_pack("{s:s}", "op", "result");
    const unsigned char pl[] = {'a', 0, 0xff, 'b', '\n'};
    char *err = NULL;
    /* two frames back to back: each recv gets exactly its own */
    assert_int_equal(ipc_send(sv[0], h, pl, sizeof pl, &err), 0);
    assert_int_equal(ipc_send(sv[0], h, "second", 6, &err), 0);
    ipc_frame f = {0};
    assert_int_equal(ipc_recv(sv[1], 0, sizeof pl, &f, &err), 0);
    assert_string_equal(ipc_op(&f), "result");
    assert_int_equal(f.payload_len, sizeof pl);
    assert_memory_equal(f.payload, pl, sizeof pl);
    assert_int_equal(f.payload[sizeof pl], 0); /* NUL after the payload */
    ipc_frame_release(&f);
    assert_int_equal(ipc_recv(sv[1], 0, 100, &f, &err), 0);
    assert_string_equal((char *)f.payload, "second");
    ipc_frame_release(&f);
    assert_null(err);
    json_decref(h);
    close_pair(sv);
}

typedef struct sender {
    int fd;
    const unsigned char *data;
    size_t len;
    int frames;
    unsigned delay_ms;
    int rc;
} sender;

static void *send_thread(void *arg)
{
    sender *s = arg;
    if (s->delay_ms)
        usleep(s->delay_ms * 1000u);
    json_t *h = json_pack("{s:s}", "op", "big");
    s->rc = 0;
    for (int i = 0; i < s->frames && s->rc == 0; i++)
        s->rc = ipc_send(s->fd, h, s->data, s->len, NULL);
    json_decref(h);
    return NULL;
}

static void test_roundtrip_big_threaded(void **state)
{
    (void)state;
    size_t n = 6u << 20; /* far beyond the socket buffer: many partial writes and reads */
    unsigned char *data = mem_alloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    int sv[2];
    pair(sv);
    sender s = {.fd = sv[0], .data = data, .len = n, .frames = 2};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, send_thread, &s), 0);
    for (int i = 0; i < 2; i++) {
        ipc_frame f = {0};
        char *err = NULL;
        assert_int_equal(ipc_recv(sv[1], ipc_now_ms() + 30000, 8u << 20, &f, &err), 0);
        assert_null(err);
        assert_string_equal(ipc_op(&f), "big");
        assert_int_equal(f.payload_len, n);
        assert_memory_equal(f.payload, data, n);
        ipc_frame_release(&f);
    }
    pthread_join(t, NULL);
    assert_int_equal(s.rc, 0);
    close_pair(sv);
    mem_free(data);
}

/* A receiver on a non-blocking fd, and on a pipe (not a socket), waits for
 * a frame that arrives later; deadline 0 waits as long as it takes. */
static void test_recv_waits_nonblocking_and_pipe(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    assert_int_equal(fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK), 0);
    sender s = {.fd = sv[0], .data = (const unsigned char *)"late", .len = 4, .frames = 1, .delay_ms = 100};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, send_thread, &s), 0);
    ipc_frame f = {0};
    char *err = NULL;
    assert_int_equal(ipc_recv(sv[1], 0, 16, &f, &err), 0);
    assert_string_equal((char *)f.payload, "late");
    ipc_frame_release(&f);
    pthread_join(t, NULL);
    assert_int_equal(s.rc, 0);
    close_pair(sv);

    int p[2];
    assert_int_equal(pipe(p), 0);
    buf b = BUF_INIT;
    put_frame(&b, "{\"op\":\"piped\"}", 14, "xyz", 3);
    write_all(p[1], b.data, b.len);
    assert_int_equal(ipc_recv(p[0], ipc_now_ms() + 5000, 16, &f, &err), 0);
    assert_string_equal(ipc_op(&f), "piped");
    assert_string_equal((char *)f.payload, "xyz");
    ipc_frame_release(&f);
    close(p[1]);
    assert_int_equal(ipc_recv(p[0], ipc_now_ms() + 5000, 16, &f, &err), -EPIPE);
    expect_msg(err, "the worker closed the channel");
    mem_free(err);
    close(p[0]);
    buf_release(&b);
}

/* ---- rejections ---- */

static void test_reject_magic_and_sizes(void **state)
{
    (void)state;
    const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    check_reject(http, sizeof http - 1, 1024, -EPROTO, "bad frame magic \"GET \" (expected \"VNF1\")");
    const unsigned char bin[] = {0x00, 0xff, '"', 'V', 0, 0, 0, 0, 0, 0, 0, 0};
    check_reject(bin, sizeof bin, 1024, -EPROTO, "bad frame magic \"\\x00\\xff\\x22V\" (expected \"VNF1\")");

    buf b = BUF_INIT;
    put_prefix(&b, IPC_MAGIC, IPC_MAX_HEADER + 1, 0);
    check_reject(b.data, b.len, 1024, -EPROTO, "frame header too long: 65537 bytes (limit 65536)");
    buf_reset(&b);
    put_prefix(&b, IPC_MAGIC, 0xffffffffu, 0);
    check_reject(b.data, b.len, 1024, -EPROTO, "frame header too long: 4294967295 bytes (limit 65536)");
    buf_reset(&b);
    put_prefix(&b, IPC_MAGIC, 12, 101);
    check_reject(b.data, b.len, 100, -EPROTO, "frame payload too large: 101 bytes (limit 100)");
    buf_reset(&b);
    /* max_payload 0: no payload at all */
    put_frame(&b, "{\"op\":\"a\"}", 10, "x", 1);
    check_reject(b.data, b.len, 0, -EPROTO, "frame payload too large: 1 bytes (limit 0)");
    buf_reset(&b);
    /* any max is clamped to the hard cap of 256 MiB */
    put_prefix(&b, IPC_MAGIC, 12, IPC_MAX_PAYLOAD + 1);
    check_reject(b.data, b.len, SIZE_MAX, -EPROTO, "frame payload too large: 268435457 bytes (limit 268435456)");
    buf_release(&b);
}

static void test_reject_headers(void **state)
{
    (void)state;
    check_reject_hdr("", 0, -EPROTO, "frame header is empty: expected a JSON object with a string \"op\"");
    check_reject_hdr("{op: 1}", 7, -EPROTO, "frame header is not valid JSON: *");
    check_reject_hdr("{\"op\":\"a\"} x", 12, -EPROTO, "frame header is not valid JSON: *");
    check_reject_hdr("{\"op\":\"a\"", 9, -EPROTO, "frame header is not valid JSON: *");
    check_reject_hdr("[\"op\"]", 6, -EPROTO, "frame header is an array, expected a JSON object");
    check_reject_hdr("\"op\"", 4, -EPROTO, "frame header is a string, expected a JSON object");
    check_reject_hdr("42", 2, -EPROTO, "frame header is an integer, expected a JSON object");
    check_reject_hdr("{\"id\":1}", 8, -EPROTO, "frame header has no \"op\"");
    check_reject_hdr("{\"op\":5}", 8, -EPROTO, "frame header \"op\" is an integer, expected a string");
    check_reject_hdr("{\"op\":null}", 11, -EPROTO, "frame header \"op\" is null, expected a string");
    check_reject_hdr("{\"op\":[\"a\"]}", 12, -EPROTO, "frame header \"op\" is an array, expected a string");
    check_reject_hdr("{\"op\":\"\"}", 9, -EPROTO, "frame header \"op\" is empty");
    check_reject_hdr("{\"op\":\"ca ll\"}", 14, -EPROTO,
                     "frame header \"op\" has a byte other than A-Z a-z 0-9 _ . - at offset 2");
    check_reject_hdr("{\"op\":\"a\\nb\"}", 13, -EPROTO,
                     "frame header \"op\" has a byte other than A-Z a-z 0-9 _ . - at offset 1");
    char longop[100];
    int n = snprintf(longop, sizeof longop, "{\"op\":\"%065d\"}", 0);
    check_reject_hdr(longop, (size_t)n, -EPROTO, "frame header \"op\" is 65 bytes long (limit 64)");
    check_reject_hdr("{\"op\":\"a\",\"op\":\"b\"}", 19, -EPROTO, "frame header is not valid JSON: duplicate*");
    /* bytes: invalid UTF-8, overlong, encoded surrogate, raw NUL, escaped NUL */
    check_reject_hdr("{\"op\":\"a\",\"s\":\"\xff\"}", 18, -EPROTO, "frame header is not valid UTF-8 at offset 15");
    check_reject_hdr("{\"op\":\"a\",\"s\":\"\xc0\xaf\"}", 19, -EPROTO,
                     "frame header is not valid UTF-8 at offset 15");
    check_reject_hdr("{\"op\":\"a\",\"s\":\"\xed\xa0\x80\"}", 20, -EPROTO,
                     "frame header is not valid UTF-8 at offset 15");
    check_reject_hdr("{\"op\":\"a\"}\0", 11, -EPROTO, "frame header has a NUL byte at offset 10");
    check_reject_hdr("{\"op\":\"a\",\"s\":\"\\u0000\"}", 23, -EPROTO, "frame header is not valid JSON: *");

    /* a valid "op" of exactly 64 bytes of every allowed kind is fine */
    ipc_frame f = {0};
    char ok[100];
    n = snprintf(ok, sizeof ok, "{\"op\":\"Az09_.-%057d\"}", 0);
    buf b = BUF_INIT;
    put_frame(&b, ok, (size_t)n, NULL, 0);
    size_t used = 0;
    assert_int_equal(ipc_parse((unsigned char *)b.data, b.len, 0, &f, &used, NULL, NULL), 0);
    assert_int_equal(strlen(ipc_op(&f)), 64);
    assert_int_equal(used, b.len);
    ipc_frame_release(&f);
    buf_release(&b);
}

static void test_truncated_and_closed(void **state)
{
    (void)state;
    int sv[2];
    ipc_frame f = {0};
    char *err = NULL;

    /* peer closes before any byte */
    pair(sv);
    close(sv[0]);
    sv[0] = -1;
    assert_int_equal(ipc_recv(sv[1], ipc_now_ms() + 5000, 16, &f, &err), -EPIPE);
    expect_msg(err, "the worker closed the channel");
    close_pair(sv);

    /* EOF inside the prefix */
    pair(sv);
    write_all(sv[0], "VN", 2);
    close(sv[0]);
    sv[0] = -1;
    assert_int_equal(ipc_recv(sv[1], ipc_now_ms() + 5000, 16, &f, &err), -EPROTO);
    expect_msg(err, "truncated frame: 2 of 12 bytes");
    close_pair(sv);

    /* EOF inside the header / the payload */
    buf b = BUF_INIT;
    put_frame(&b, "{\"op\":\"x\"}", 10, "12345", 5); /* 27 bytes */
    size_t cuts[] = {16, 22, 26};
    const char *msgs[] = {"truncated frame: 16 of 27 bytes", "truncated frame: 22 of 27 bytes",
                          "truncated frame: 26 of 27 bytes"};
    for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
        pair(sv);
        write_all(sv[0], b.data, cuts[i]);
        close(sv[0]);
        sv[0] = -1;
        assert_int_equal(ipc_recv(sv[1], ipc_now_ms() + 5000, 16, &f, &err), -EPROTO);
        expect_msg(err, msgs[i]);
        assert_null(f.hdr);
        close_pair(sv);
    }
    buf_release(&b);
    mem_free(err);
}

static void test_deadline(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    ipc_frame f = {0};
    char *err = NULL;
    uint64_t t0 = ipc_now_ms();
    assert_int_equal(ipc_recv(sv[1], t0 + 200, 16, &f, &err), -ETIMEDOUT);
    uint64_t dt = ipc_now_ms() - t0;
    assert_true(dt >= 199);
    assert_true(dt < 2000);
    expect_msg(err, "timed out waiting for a frame from the worker");

    /* ipc_wait: a timeout with nothing there, then ready without consuming */
    t0 = ipc_now_ms();
    assert_int_equal(ipc_wait(sv[1], t0 + 50), -ETIMEDOUT);
    assert_true(ipc_now_ms() - t0 >= 49);
    assert_int_equal(ipc_wait(-1, 0), -EBADF);
    json_t *h = json_pack("{s:s}", "op", "ready");
    assert_int_equal(ipc_send(sv[0], h, NULL, 0, NULL), 0);
    assert_int_equal(ipc_wait(sv[1], ipc_now_ms() + 1000), 0);
    assert_int_equal(ipc_wait(sv[1], 0), 0);
    assert_int_equal(ipc_recv(sv[1], 1, 16, &f, &err), 0);
    assert_string_equal(ipc_op(&f), "ready");
    ipc_frame_release(&f);

    /* a passed deadline still takes what is already there */
    assert_int_equal(ipc_send(sv[0], h, NULL, 0, NULL), 0);
    assert_int_equal(ipc_recv(sv[1], 1, 16, &f, &err), 0);
    assert_string_equal(ipc_op(&f), "ready");
    ipc_frame_release(&f);

    /* stalled in the middle of a frame */
    write_all(sv[0], "VNF1\x0a", 5);
    t0 = ipc_now_ms();
    assert_int_equal(ipc_recv(sv[1], t0 + 100, 16, &f, &err), -ETIMEDOUT);
    assert_true(ipc_now_ms() - t0 < 2000);
    expect_msg(err, "timed out inside a frame from the worker: 5 of 12 bytes");
    mem_free(err);
    json_decref(h);
    close_pair(sv);

    /* a sender whose peer does not read gives up at its deadline */
    pair(sv);
    size_t n = 8u << 20;
    unsigned char *big = mem_calloc(1, n);
    assert_non_null(big);
    h = json_pack("{s:s}", "op", "flood");
    err = NULL;
    t0 = ipc_now_ms();
    assert_int_equal(ipc_send_until(sv[0], t0 + 100, h, big, n, &err), -ETIMEDOUT);
    assert_true(ipc_now_ms() - t0 < 2000);
    expect_msg(err, "timed out sending a frame: the worker does not read");
    mem_free(err);
    mem_free(big);
    json_decref(h);
    close_pair(sv);
}

static void test_no_read_past_frame(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    buf b = BUF_INIT;
    put_frame(&b, "{\"op\":\"first\"}", 14, "pay", 3);
    assert_int_equal(buf_puts(&b, "GARBAGE!"), 0);
    write_all(sv[0], b.data, b.len); /* one write: all of it is queued at once */
    ipc_frame f = {0};
    char *err = NULL;
    assert_int_equal(ipc_recv(sv[1], ipc_now_ms() + 5000, 16, &f, &err), 0);
    assert_string_equal(ipc_op(&f), "first");
    assert_string_equal((char *)f.payload, "pay");
    ipc_frame_release(&f);
    char rest[32] = {0};
    assert_int_equal(recv(sv[1], rest, sizeof rest, MSG_DONTWAIT | MSG_PEEK), 8);
    assert_memory_equal(rest, "GARBAGE!", 8);
    assert_int_equal(ipc_recv(sv[1], ipc_now_ms() + 5000, 16, &f, &err), -EPROTO);
    expect_msg(err, "bad frame magic \"GARB\" (expected \"VNF1\")");
    mem_free(err);
    buf_release(&b);
    close_pair(sv);
}

/* ---- the incremental parser ---- */

static void test_parse_incremental(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    put_frame(&b, "{\"op\":\"step\",\"n\":3}", 19, "\x01\x02\x03\x04", 4);
    size_t total = b.len;
    assert_int_equal(total, 12 + 19 + 4);
    assert_int_equal(buf_puts(&b, "VNF1tail"), 0); /* the start of a next frame */
    const unsigned char *p = (const unsigned char *)b.data;
    for (size_t len = 0; len < total; len++) {
        ipc_frame f = {0};
        size_t used = 7, need = 0;
        char *err = NULL;
        assert_int_equal(ipc_parse(p, len, 64, &f, &used, &need, &err), -EAGAIN);
        assert_int_equal(need, len < 12 ? 12 - len : total - len);
        assert_int_equal(used, 0);
        assert_null(f.hdr);
        assert_null(err);
    }
    for (size_t len = total; len <= b.len; len++) {
        ipc_frame f = {0};
        size_t used = 0, need = 5;
        assert_int_equal(ipc_parse(p, len, 64, &f, &used, &need, NULL), 0);
        assert_int_equal(used, total);
        assert_int_equal(need, 0);
        assert_string_equal(ipc_op(&f), "step");
        assert_int_equal(f.payload_len, 4);
        assert_memory_equal(f.payload, "\x01\x02\x03\x04", 4);
        ipc_frame_release(&f);
    }
    /* the next frame starts after `used` and is incomplete */
    ipc_frame f = {0};
    size_t need = 0;
    assert_int_equal(ipc_parse(p + total, b.len - total, 64, &f, NULL, &need, NULL), -EAGAIN);
    assert_int_equal(need, 4);
    /* bad magic and over-cap lengths show before the frame is complete */
    char *err = NULL;
    assert_int_equal(ipc_parse((const unsigned char *)"X", 1, 64, &f, NULL, &need, &err), -EPROTO);
    expect_msg(err, "bad frame magic \"X\" (expected \"VNF1\")");
    assert_int_equal(ipc_parse((const unsigned char *)"VNF2", 4, 64, &f, NULL, &need, &err), -EPROTO);
    expect_msg(err, "bad frame magic \"VNF2\" (expected \"VNF1\")");
    buf_reset(&b);
    put_prefix(&b, IPC_MAGIC, 10, 65);
    assert_int_equal(ipc_parse((const unsigned char *)b.data, b.len, 64, &f, NULL, &need, &err), -EPROTO);
    expect_msg(err, "frame payload too large: 65 bytes (limit 64)");
    mem_free(err);
    assert_int_equal(ipc_parse(NULL, 0, 64, &f, NULL, &need, NULL), -EAGAIN);
    assert_int_equal(need, 12);
    assert_int_equal(ipc_parse(NULL, 3, 64, &f, NULL, NULL, NULL), -EINVAL);
    buf_release(&b);
}

/* ---- sending ---- */

static void test_send_rejects(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    char *err = NULL;
    json_t *arr = json_array();
    assert_int_equal(ipc_send(sv[0], arr, NULL, 0, &err), -EINVAL);
    expect_msg(err, "ipc_send: the header is an array, expected a JSON object");
    assert_int_equal(ipc_send(sv[0], NULL, NULL, 0, &err), -EINVAL);
    expect_msg(err, "ipc_send: the header is missing, expected a JSON object");
    json_t *h = json_pack("{s:i}", "id", 1);
    assert_int_equal(ipc_send(sv[0], h, NULL, 0, &err), -EINVAL);
    expect_msg(err, "ipc_send: the header has no \"op\"");
    json_object_set_new(h, "op", json_string("bad op"));
    assert_int_equal(ipc_send(sv[0], h, NULL, 0, &err), -EINVAL);
    expect_msg(err, "ipc_send: the header \"op\" has a byte other than A-Z a-z 0-9 _ . - at offset 3");
    json_object_set_new(h, "op", json_string("ok"));
    assert_int_equal(ipc_send(sv[0], h, NULL, 3, &err), -EINVAL);
    expect_msg(err, "ipc_send: no payload buffer for 3 bytes");
    assert_int_equal(ipc_send(sv[0], h, "x", (size_t)IPC_MAX_PAYLOAD + 1, &err), -EMSGSIZE);
    expect_msg(err, "ipc_send: payload too large: 268435457 bytes (limit 268435456)");
    char *longs = mem_alloc(IPC_MAX_HEADER);
    assert_non_null(longs);
    memset(longs, 'a', IPC_MAX_HEADER - 1);
    longs[IPC_MAX_HEADER - 1] = '\0';
    json_object_set_new(h, "big", json_string(longs));
    assert_int_equal(ipc_send(sv[0], h, NULL, 0, &err), -EMSGSIZE);
    expect_msg(err, "ipc_send: header too long: 65562 bytes (limit 65536)");
    /* nothing was written by any rejected send */
    char c;
    assert_int_equal(recv(sv[1], &c, 1, MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    mem_free(longs);
    mem_free(err);
    json_decref(h);
    json_decref(arr);
    close_pair(sv);
}

/* A closed peer is -EPIPE, never SIGPIPE: in a child with SIGPIPE's default
 * action (which would kill it), before and in the middle of a big frame. */
static void *read_some_then_close(void *arg)
{
    int fd = *(int *)arg;
    char tmp[1000];
    size_t got = 0;
    while (got < 100000) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return NULL;
}

static void test_no_sigpipe(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
            _exit(10);
        close(sv[1]);
        json_t *h = json_pack("{s:s}", "op", "result");
        char *err = NULL;
        int rc = ipc_send(sv[0], h, "x", 1, &err);
        if (rc != -EPIPE || !err || strcmp(err, "the worker closed the channel") != 0)
            _exit(11);
        mem_free(err);
        close(sv[0]);
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
            _exit(12);
        size_t n = 4u << 20;
        unsigned char *big = mem_calloc(1, n);
        pthread_t t;
        if (!big || pthread_create(&t, NULL, read_some_then_close, &sv[1]))
            _exit(13);
        rc = ipc_send(sv[0], h, big, n, NULL);
        pthread_join(t, NULL);
        _exit(rc == -EPIPE ? 0 : 14);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        fail_msg("the sender was killed by signal %d (SIGPIPE is %d)", WTERMSIG(st), SIGPIPE);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- ipc_peek_op ---- */

static void test_peek_op(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    char op[16];
    assert_int_equal(ipc_peek_op(sv[1], op, sizeof op), 0); /* nothing waiting: at once */
    json_t *h = json_pack("{s:s}", "op", "cancel");
    assert_int_equal(ipc_send(sv[0], h, NULL, 0, NULL), 0);
    assert_int_equal(ipc_peek_op(sv[1], op, sizeof op), 1);
    assert_string_equal(op, "cancel");
    assert_int_equal(ipc_peek_op(sv[1], op, sizeof op), 0); /* consumed */
    assert_int_equal(ipc_send(sv[0], h, NULL, 0, NULL), 0);
    assert_int_equal(ipc_peek_op(sv[1], op, 6), -ERANGE); /* "cancel" + NUL needs 7 */
    assert_int_equal(ipc_peek_op(sv[1], op, sizeof op), 0); /* consumed all the same */
    assert_int_equal(ipc_peek_op(sv[1], NULL, 4), -EINVAL);
    write_all(sv[0], "junkjunkjunk", 12);
    assert_int_equal(ipc_peek_op(sv[1], op, sizeof op), -EPROTO);
    close_pair(sv);

    /* a frame with a payload: op returned, payload discarded; then EOF */
    pair(sv);
    assert_int_equal(ipc_send(sv[0], h, "abc", 3, NULL), 0);
    close(sv[0]);
    sv[0] = -1;
    assert_int_equal(ipc_peek_op(sv[1], op, sizeof op), 1);
    assert_string_equal(op, "cancel");
    assert_int_equal(ipc_peek_op(sv[1], op, sizeof op), -EPIPE);
    close_pair(sv);
    json_decref(h);
}

/* ---- allocation failures ---- */

static void test_alloc_failures(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    put_frame(&b, "{\"op\":\"call\",\"args\":{\"a\":[1,2,{\"b\":\"c\"}]}}", 42, "payload", 7);
    int fails = 0;
    long n;
    /* parser */
    for (n = 0;; n++) {
        ipc_frame f = {0};
        char *err = NULL;
        mem_fail_after(n);
        int rc = ipc_parse((const unsigned char *)b.data, b.len, 64, &f, NULL, NULL, &err);
        mem_fail_after(-1);
        mem_free(err);
        if (rc == 0) {
            assert_string_equal(ipc_op(&f), "call");
            ipc_frame_release(&f);
            break;
        }
        assert_int_equal(rc, -ENOMEM);
        assert_null(f.hdr);
        fails++;
    }
    assert_true(fails >= 3);
    /* receiver: a fresh channel each time (an error leaves it out of sync) */
    fails = 0;
    for (n = 0;; n++) {
        int sv[2];
        pair(sv);
        write_all(sv[0], b.data, b.len);
        ipc_frame f = {0};
        char *err = NULL;
        mem_fail_after(n);
        int rc = ipc_recv(sv[1], ipc_now_ms() + 5000, 64, &f, &err);
        mem_fail_after(-1);
        mem_free(err);
        close_pair(sv);
        if (rc == 0) {
            assert_string_equal((char *)f.payload, "payload");
            ipc_frame_release(&f);
            break;
        }
        assert_int_equal(rc, -ENOMEM);
        fails++;
    }
    assert_true(fails >= 3);
    /* sender */
    json_t *h = json_pack("{s:s, s:[i, s]}", "op", "call", "args", 1, "two");
    fails = 0;
    for (n = 0;; n++) {
        int sv[2];
        pair(sv);
        char *err = NULL;
        mem_fail_after(n);
        int rc = ipc_send(sv[0], h, "p", 1, &err);
        mem_fail_after(-1);
        mem_free(err);
        if (rc == 0) {
            ipc_frame f = {0};
            assert_int_equal(ipc_recv(sv[1], ipc_now_ms() + 5000, 4, &f, NULL), 0);
            assert_string_equal(ipc_op(&f), "call");
            ipc_frame_release(&f);
            close_pair(sv);
            break;
        }
        assert_int_equal(rc, -ENOMEM);
        char c;
        assert_int_equal(recv(sv[1], &c, 1, MSG_DONTWAIT), -1); /* nothing half-sent */
        close_pair(sv);
        fails++;
    }
    assert_true(fails >= 1);
    json_decref(h);
    buf_release(&b);
}

static void test_encode(void **state)
{
    (void)state;
    unsigned char fb[128];
    json_t *h = json_pack("{s:s, s:i, s:s}", "op", "result", "code", -1, "error", "x: crashed");
    size_t n = ipc_encode(h, fb, sizeof fb);
    assert_true(n > IPC_PREFIX_LEN);
    ipc_frame f = {0};
    size_t used = 0;
    assert_int_equal(ipc_parse(fb, n, 0, &f, &used, NULL, NULL), 0);
    assert_int_equal(used, n);
    assert_string_equal(ipc_op(&f), "result");
    assert_string_equal(json_string_value(json_object_get(f.hdr, "error")), "x: crashed");
    assert_int_equal(f.payload_len, 0);
    ipc_frame_release(&f);
    assert_int_equal(ipc_encode(h, fb, 20), 0); /* does not fit */
    assert_int_equal(ipc_encode(h, fb, IPC_PREFIX_LEN), 0);
    json_decref(h);
    h = json_pack("{s:i}", "code", 1); /* no op */
    assert_int_equal(ipc_encode(h, fb, sizeof fb), 0);
    json_decref(h);
    assert_int_equal(ipc_encode(NULL, fb, sizeof fb), 0);
}

int main(void)
{
    mem_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_no_payload),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_roundtrip_payload),
        cmocka_unit_test(test_roundtrip_big_threaded),
        cmocka_unit_test(test_recv_waits_nonblocking_and_pipe),
        cmocka_unit_test(test_reject_magic_and_sizes),
        cmocka_unit_test(test_reject_headers),
        cmocka_unit_test(test_truncated_and_closed),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_no_read_past_frame),
        cmocka_unit_test(test_parse_incremental),
        cmocka_unit_test(test_send_rejects),
        cmocka_unit_test(test_no_sigpipe),
        cmocka_unit_test(test_peek_op),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
