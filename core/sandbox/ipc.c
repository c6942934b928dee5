#include "util/common.h"
#include "sandbox/ipc.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/jsonx.h"

#define MSG_CLOSED "the worker closed the channel"

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
    p[2] = (unsigned char)((v >> 16) & 0xff);
    p[3] = (unsigned char)((v >> 24) & 0xff);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t ipc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ipc_frame_release(ipc_frame *f)
{
    if (!f)
        return;
    json_decref(f->hdr);
    mem_free(f->payload);
    *f = (ipc_frame){0};
}

const char *ipc_op(const ipc_frame *f)
{
    if (!f || !f->hdr)
        return NULL;
    return json_string_value(json_object_get(f->hdr, "op"));
}

/* ---- validation shared by the parser, the receiver and the sender ---- */

/* The first n (<= 4) bytes of a would-be magic, printable, for a message. */
static void show_magic(const unsigned char *p, size_t n, char out[20])
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < 4; i++) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
    }
    out[o] = '\0';
}

static int check_magic(const unsigned char *p, size_t n, char **err)
{
    if (n > 4)
        n = 4;
    if (memcmp(p, IPC_MAGIC, n) == 0)
        return 0;
    char shown[20];
    show_magic(p, n, shown);
    return err_set(err, -EPROTO, "bad frame magic \"%s\" (expected \"%s\")", shown, IPC_MAGIC);
}

static size_t clamp_max(size_t max_payload)
{
    return max_payload > IPC_MAX_PAYLOAD ? IPC_MAX_PAYLOAD : max_payload;
}

/* Check the 12-byte prefix at p; the lengths it announces in *hlen, *plen. */
static int check_prefix(const unsigned char *p, size_t max_payload, uint32_t *hlen, uint32_t *plen, char **err)
{
    int rc = check_magic(p, 4, err);
    if (rc)
        return rc;
    *hlen = get_le32(p + 4);
    *plen = get_le32(p + 8);
    if (*hlen > IPC_MAX_HEADER)
        return err_set(err, -EPROTO, "frame header too long: %" PRIu32 " bytes (limit %u)", *hlen, IPC_MAX_HEADER);
    if (*plen > clamp_max(max_payload))
        return err_set(err, -EPROTO, "frame payload too large: %" PRIu32 " bytes (limit %zu)", *plen,
                       clamp_max(max_payload));
    return 0;
}

static bool op_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

/* hdr is an object: check its "op". `what` names the header in messages. */
static int check_op(const json_t *hdr, const char *what, int code, char **err)
{
    const json_t *op = json_object_get(hdr, "op");
    if (!op)
        return err_set(err, code, "%s has no \"op\"", what);
    if (!json_is_string(op))
        return err_set(err, code, "%s \"op\" is %s, expected a string", what, jsonx_kind(op));
    const char *s = json_string_value(op);
    size_t n = json_string_length(op);
    if (n == 0)
        return err_set(err, code, "%s \"op\" is empty", what);
    if (n > IPC_MAX_OP)
        return err_set(err, code, "%s \"op\" is %zu bytes long (limit %u)", what, n, IPC_MAX_OP);
    for (size_t i = 0; i < n; i++)
        if (!op_char((unsigned char)s[i]))
            return err_set(err, code, "%s \"op\" has a byte other than A-Z a-z 0-9 _ . - at offset %zu", what, i);
    return 0;
}

/* Parse and check hlen header bytes; the object in *out (the caller's). */
static int parse_header(const unsigned char *h, size_t hlen, json_t **out, char **err)
{
    *out = NULL;
    if (hlen == 0)
        return err_set(err, -EPROTO, "frame header is empty: expected a JSON object with a string \"op\"");
    for (size_t i = 0; i < hlen;) {
        if (h[i] == 0)
            return err_set(err, -EPROTO, "frame header has a NUL byte at offset %zu", i);
        if (h[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = jsonx_utf8_seq((const char *)h + i, hlen - i);
        if (k == 0)
            return err_set(err, -EPROTO, "frame header is not valid UTF-8 at offset %zu", i);
        i += k;
    }
    json_error_t je;
    json_t *v = json_loadb((const char *)h, hlen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        /* jansson does not flag every allocation failure as such: a
         * failure with no text, or while memory is short, is -ENOMEM */
        void *probe = NULL;
        if (json_error_code(&je) == json_error_out_of_memory || !je.text[0] || !(probe = mem_alloc(1)))
            return err_set(err, -ENOMEM, "out of memory reading a frame header");
        mem_free(probe);
        char text[JSON_ERROR_TEXT_LENGTH];
        snprintf(text, sizeof text, "%s", je.text);
        jsonx_oneline(text);
        return err_set(err, -EPROTO, "frame header is not valid JSON: %s at offset %d", text, je.position);
    }
    int rc = 0;
    if (!json_is_object(v)) {
        rc = err_set(err, -EPROTO, "frame header is %s, expected a JSON object", jsonx_kind(v));
        goto out;
    }
    rc = check_op(v, "frame header", -EPROTO, err);
out:
    if (rc)
        json_decref(v);
    else
        *out = v;
    return rc;
}

/* ---- the pure parser ---- */

int ipc_parse(const unsigned char *bytes, size_t len, size_t max_payload, ipc_frame *f, size_t *used, size_t *need,
              char **err)
{
    int rc = 0;
    unsigned char *payload = NULL;
    json_t *hdr = NULL;
    uint32_t hlen = 0, plen = 0;
    if (used)
        *used = 0;
    if (need)
        *need = 0;
    if (!f || (!bytes && len))
        return err_set(err, -EINVAL, "ipc_parse: no frame to fill or no buffer");
    *f = (ipc_frame){0};
    if (len > 0 && (rc = check_magic(bytes, len, err)))
        goto out;
    if (len < IPC_PREFIX_LEN) {
        if (need)
            *need = IPC_PREFIX_LEN - len;
        rc = -EAGAIN;
        goto out;
    }
    if ((rc = check_prefix(bytes, max_payload, &hlen, &plen, err)))
        goto out;
    size_t total = IPC_PREFIX_LEN + (size_t)hlen + plen;
    if (len < total) {
        if (need)
            *need = total - len;
        rc = -EAGAIN;
        goto out;
    }
    if ((rc = parse_header(bytes + IPC_PREFIX_LEN, hlen, &hdr, err)))
        goto out;
    if (plen) {
        payload = mem_alloc((size_t)plen + 1);
        if (!payload) {
            rc = err_set(err, -ENOMEM, "out of memory for a %" PRIu32 "-byte frame payload", plen);
            goto out;
        }
        memcpy(payload, bytes + IPC_PREFIX_LEN + hlen, plen);
        payload[plen] = 0;
    }
    *f = (ipc_frame){.hdr = hdr, .payload = payload, .payload_len = plen};
    hdr = NULL;
    payload = NULL;
    if (used)
        *used = total;
out:
    json_decref(hdr);
    mem_free(payload);
    return rc;
}

/* ---- I/O ---- */

/* Wait until fd has `events` (or an error/hang-up for read to report), or
 * the deadline (0 = none) passes: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        int timeout = -1;
        if (deadline) {
            uint64_t now = ipc_now_ms();
            uint64_t left = deadline > now ? deadline - now : 0;
            timeout = left > INT_MAX ? INT_MAX : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n > 0) {
            if (p.revents & POLLNVAL)
                return -EBADF;
            return 0;
        }
        if (deadline && ipc_now_ms() >= deadline)
            return -ETIMEDOUT;
    }
}

int ipc_wait(int fd, uint64_t deadline_ms)
{
    if (fd < 0)
        return -EBADF;
    return wait_fd(fd, POLLIN, deadline_ms);
}

static void iov_advance(struct iovec **iov, int *cnt, size_t n)
{
    while (*cnt > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

static void iov_skip_empty(struct iovec **iov, int *cnt)
{
    while (*cnt > 0 && (*iov)->iov_len == 0) {
        (*iov)++;
        (*cnt)--;
    }
}

/* Read exactly what iov describes (with `once`: return after the first
 * successful read); *got counts bytes read. 0, -EPIPE at EOF or reset,
 * -ETIMEDOUT, -errno. *sock goes false for a non-socket fd. */
static int read_iov(int fd, struct iovec *iov, int cnt, uint64_t deadline, size_t *got, bool *sock, bool once)
{
    for (iov_skip_empty(&iov, &cnt); cnt > 0; iov_skip_empty(&iov, &cnt)) {
        ssize_t r;
        if (*sock) {
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
            r = recvmsg(fd, &m, MSG_DONTWAIT);
            if (r < 0 && errno == ENOTSOCK) {
                *sock = false;
                continue;
            }
        } else {
            int rc = wait_fd(fd, POLLIN, deadline);
            if (rc)
                return rc;
            r = readv(fd, iov, cnt);
        }
        if (r > 0) {
            *got += (size_t)r;
            if (once)
                return 0;
            iov_advance(&iov, &cnt, (size_t)r);
        } else if (r == 0) {
            return -EPIPE;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(fd, POLLIN, deadline);
            if (rc)
                return rc;
        } else if (errno == ECONNRESET) {
            return -EPIPE;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

/* The message of a read error after `got` of `total` bytes of a frame. */
static int read_error(int rc, size_t got, size_t total, char **err)
{
    if (rc == -EPIPE && got == 0)
        return err_set(err, -EPIPE, MSG_CLOSED);
    if (rc == -EPIPE)
        return err_set(err, -EPROTO, "truncated frame: %zu of %zu bytes", got, total);
    if (rc == -ETIMEDOUT && got == 0)
        return err_set(err, rc, "timed out waiting for a frame from the worker");
    if (rc == -ETIMEDOUT)
        return err_set(err, rc, "timed out inside a frame from the worker: %zu of %zu bytes", got, total);
    return err_set(err, rc, "reading a frame from the worker: %s", strerror(-rc));
}

int ipc_recv(int fd, uint64_t deadline_ms, size_t max_payload, ipc_frame *f, char **err)
{
    int rc = 0;
    unsigned char pre[IPC_PREFIX_LEN];
    unsigned char *hbuf = NULL, *payload = NULL;
    json_t *hdr = NULL;
    uint32_t hlen = 0, plen = 0;
    size_t got = 0, total = IPC_PREFIX_LEN;
    bool sock = true;
    if (!f)
        return err_set(err, -EINVAL, "ipc_recv: no frame to fill");
    *f = (ipc_frame){0};
    if (fd < 0)
        return err_set(err, -EBADF, "ipc_recv: no channel (fd %d)", fd);

    /* the prefix, checking the magic as it comes: garbage fails at once */
    while (got < IPC_PREFIX_LEN) {
        struct iovec rest = {.iov_base = pre + got, .iov_len = IPC_PREFIX_LEN - got};
        if ((rc = read_iov(fd, &rest, 1, deadline_ms, &got, &sock, true))) {
            rc = read_error(rc, got, total, err);
            goto out;
        }
        if ((rc = check_magic(pre, got, err)))
            goto out;
    }
    if ((rc = check_prefix(pre, max_payload, &hlen, &plen, err)))
        goto out;
    total += (size_t)hlen + plen;
    hbuf = mem_alloc(hlen);
    payload = plen ? mem_alloc((size_t)plen + 1) : NULL;
    if (!hbuf || (plen && !payload)) {
        rc = err_set(err, -ENOMEM, "out of memory for a %zu-byte frame", total);
        goto out;
    }
    struct iovec iov[2] = {
        {.iov_base = hbuf, .iov_len = hlen},
        {.iov_base = payload, .iov_len = plen},
    };
    if ((rc = read_iov(fd, iov, 2, deadline_ms, &got, &sock, false))) {
        rc = read_error(rc, got, total, err);
        goto out;
    }
    if ((rc = parse_header(hbuf, hlen, &hdr, err)))
        goto out;
    if (payload)
        payload[plen] = 0;
    *f = (ipc_frame){.hdr = hdr, .payload = payload, .payload_len = plen};
    hdr = NULL;
    payload = NULL;
out:
    json_decref(hdr);
    mem_free(payload);
    mem_free(hbuf);
    return rc;
}

/* Write all of iov with MSG_NOSIGNAL: 0, -EPIPE, -ETIMEDOUT, -errno. */
static int write_iov(int fd, struct iovec *iov, int cnt, uint64_t deadline)
{
    for (iov_skip_empty(&iov, &cnt); cnt > 0; iov_skip_empty(&iov, &cnt)) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0) {
            iov_advance(&iov, &cnt, (size_t)w);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc)
                return rc;
        } else if (errno == EPIPE || errno == ECONNRESET) {
            return -EPIPE;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

int ipc_send_until(int fd, uint64_t deadline_ms, const json_t *hdr, const void *payload, size_t payload_len,
                   char **err)
{
    int rc = 0;
    unsigned char *head = NULL;
    if (!hdr || !json_is_object(hdr))
        return err_set(err, -EINVAL, "ipc_send: the header is %s, expected a JSON object",
                       hdr ? jsonx_kind(hdr) : "missing");
    if ((rc = check_op(hdr, "ipc_send: the header", -EINVAL, err)))
        return rc;
    if (!payload && payload_len)
        return err_set(err, -EINVAL, "ipc_send: no payload buffer for %zu bytes", payload_len);
    if (payload_len > IPC_MAX_PAYLOAD)
        return err_set(err, -EMSGSIZE, "ipc_send: payload too large: %zu bytes (limit %u)", payload_len,
                       IPC_MAX_PAYLOAD);
    size_t hlen = json_dumpb(hdr, NULL, 0, JSON_COMPACT);
    if (hlen == 0)
        return err_set(err, -ENOMEM, "ipc_send: could not serialise the header");
    if (hlen > IPC_MAX_HEADER)
        return err_set(err, -EMSGSIZE, "ipc_send: header too long: %zu bytes (limit %u)", hlen, IPC_MAX_HEADER);
    head = mem_alloc(IPC_PREFIX_LEN + hlen);
    if (!head) {
        rc = err_set(err, -ENOMEM, "ipc_send: out of memory for a %zu-byte header", hlen);
        goto out;
    }
    if (json_dumpb(hdr, (char *)head + IPC_PREFIX_LEN, hlen, JSON_COMPACT) != hlen) {
        rc = err_set(err, -ENOMEM, "ipc_send: could not serialise the header");
        goto out;
    }
    memcpy(head, IPC_MAGIC, 4);
    put_le32(head + 4, (uint32_t)hlen);
    put_le32(head + 8, (uint32_t)payload_len);
    struct iovec iov[2] = {
        {.iov_base = head, .iov_len = IPC_PREFIX_LEN + hlen},
        {.iov_base = (void *)payload, .iov_len = payload_len},
    };
    rc = write_iov(fd, iov, 2, deadline_ms);
    if (rc == -EPIPE)
        err_set(err, rc, MSG_CLOSED);
    else if (rc == -ETIMEDOUT)
        err_set(err, rc, "timed out sending a frame: the worker does not read");
    else if (rc)
        err_set(err, rc, "sending a frame to the worker: %s", strerror(-rc));
out:
    mem_free(head);
    return rc;
}

size_t ipc_encode(const json_t *hdr, unsigned char *out, size_t cap)
{
    if (!json_is_object(hdr) || check_op(hdr, "ipc_encode", -EINVAL, NULL) || cap <= IPC_PREFIX_LEN)
        return 0;
    size_t hlen = json_dumpb(hdr, (char *)out + IPC_PREFIX_LEN, cap - IPC_PREFIX_LEN, JSON_COMPACT);
    if (hlen == 0 || hlen > cap - IPC_PREFIX_LEN || hlen > IPC_MAX_HEADER)
        return 0;
    memcpy(out, IPC_MAGIC, 4);
    put_le32(out + 4, (uint32_t)hlen);
    put_le32(out + 8, 0);
    return IPC_PREFIX_LEN + hlen;
}

int ipc_send(int fd, const json_t *hdr, const void *payload, size_t payload_len, char **err)
{
    return ipc_send_until(fd, 0, hdr, payload, payload_len, err);
}

int ipc_peek_op(int fd, char *op, size_t n)
{
    int rc = 0;
    ipc_frame f = {0};
    if (!op || n == 0)
        return -EINVAL;
    op[0] = '\0';
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ready;
    while ((ready = poll(&p, 1, 0)) < 0 && errno == EINTR)
        ;
    if (ready < 0)
        return -errno;
    if (ready == 0)
        return 0;
    if (p.revents & POLLNVAL)
        return -EBADF;
    if ((rc = ipc_recv(fd, ipc_now_ms() + IPC_PEEK_WAIT_MS, IPC_PEEK_MAX_PAYLOAD, &f, NULL)))
        goto out;
    const char *name = ipc_op(&f);
    size_t len = strlen(name);
    if (len >= n) {
        rc = -ERANGE;
        goto out;
    }
    memcpy(op, name, len + 1);
    rc = 1;
out:
    ipc_frame_release(&f);
    return rc;
}
