/*
 * ipc.h — the core ⇄ worker channel: length-prefixed frames over a
 * SOCK_STREAM socketpair. A frame is a 12-byte prefix ("VNF1", uint32 LE
 * header length, uint32 LE payload length), a JSON object header with a
 * string "op", then an optional binary payload. The wire format, the limits
 * and every error message: docs/internals/ipc.md.
 *
 * The worker is untrusted: every frame read is validated (magic, sizes
 * against caps, UTF-8 without NUL, one JSON object without duplicate keys,
 * a well-formed "op") before anything of it is returned, and a receiver
 * never reads past the end of the frame it is reading.
 *
 * Thread-safety: no global state. On one fd, one thread may send while
 * another receives; two concurrent senders (or receivers) on the same fd
 * would interleave frames and must be serialised by the caller.
 */
#ifndef VENOM_SANDBOX_IPC_H
#define VENOM_SANDBOX_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define IPC_MAGIC "VNF1"
#define IPC_PREFIX_LEN 12u
#define IPC_MAX_HEADER (64u * 1024)          /* header bytes, hard cap */
#define IPC_MAX_PAYLOAD (256u * 1024 * 1024) /* payload bytes, hard cap over any max_payload */
#define IPC_MAX_OP 64u                       /* "op": 1..64 bytes of [A-Za-z0-9_.-] */
#define IPC_PEEK_MAX_PAYLOAD (64u * 1024)    /* ipc_peek_op's payload cap */
#define IPC_PEEK_WAIT_MS 1000u               /* ipc_peek_op: how long a begun frame may take */

typedef struct ipc_frame {
    json_t *hdr;            /* object with a valid string "op"; owned by the frame */
    unsigned char *payload; /* payload_len bytes + a NUL after them; NULL when payload_len is 0 */
    size_t payload_len;
} ipc_frame;

/* Free what f holds and zero it. NULL, and a zeroed frame, are fine. */
void ipc_frame_release(ipc_frame *f);

/* The frame's "op" (borrowed from f->hdr), or NULL for NULL/an empty frame. */
const char *ipc_op(const ipc_frame *f);

/* CLOCK_MONOTONIC in milliseconds: the clock of every deadline here. */
uint64_t ipc_now_ms(void);

/*
 * Send one frame: hdr (an object with a valid "op"; borrowed, serialised
 * compactly) and payload_len bytes of payload (may be NULL when 0).
 * Blocking; handles partial writes and EINTR; MSG_NOSIGNAL, so a closed peer
 * is -EPIPE ("the worker closed the channel"), never SIGPIPE. fd must be a
 * socket. Not warn_unused_result: a best-effort notice to a peer that may
 * be gone ("error" before exit) is a legitimate "(void)ipc_send(...)".
 * Errors: -EINVAL (bad header, NULL payload with a length),
 * -EMSGSIZE (header over IPC_MAX_HEADER, payload over IPC_MAX_PAYLOAD),
 * -EPIPE, -ENOMEM, -errno of sendmsg/poll; *err says which.
 */
int ipc_send(int fd, const json_t *hdr, const void *payload, size_t payload_len, char **err);
/* ipc_send that gives up at deadline_ms (ipc_now_ms() time; 0 = never) with
 * -ETIMEDOUT when the peer does not read. The stream is then out of sync:
 * a timed-out channel must be closed. */
int ipc_send_until(int fd, uint64_t deadline_ms, const json_t *hdr, const void *payload, size_t payload_len,
                   char **err);
/* Encode a frame without payload into buf (for a later write(2) where
 * nothing may allocate, such as a signal handler) in out. Returns its
 * length, or 0 when hdr is not a valid header or does not fit in cap bytes. */
size_t ipc_encode(const json_t *hdr, unsigned char *out, size_t cap);

/*
 * Wait until fd is readable (a frame has begun, or EOF/error is there for
 * ipc_recv to report), at most until deadline_ms (0 = no deadline). Consumes
 * nothing: 0, -ETIMEDOUT or -errno. For a caller that polls for cancellation
 * in short steps: wait in steps with ipc_wait, then ipc_recv with the real
 * deadline, so that a step never ends inside a frame.
 */
int ipc_wait(int fd, uint64_t deadline_ms) __attribute__((warn_unused_result));

/*
 * Receive one frame into *f (overwritten, not released: release the previous
 * frame first; zeroed on error). Waits (poll) at most until deadline_ms
 * (ipc_now_ms() time; 0 = no deadline; a passed deadline still takes data
 * already there). max_payload caps the payload (clamped to IPC_MAX_PAYLOAD).
 * Reads exactly one frame, never a byte of the next one. Errors, each with a
 * one-line *err: -ETIMEDOUT; -EPIPE (peer closed before the frame began:
 * "the worker closed the channel"); -EPROTO (bad magic, header too long or
 * not a JSON object / bad "op" / invalid UTF-8, payload over max, or EOF
 * inside the frame: "truncated frame: N of M bytes"); -ENOMEM; -errno of
 * read/poll. -ETIMEDOUT before the first byte ("timed out waiting for a
 * frame...") leaves the channel in sync: calling again is fine. After any
 * other error (a timeout inside a frame too) the channel is out of sync and
 * must be closed.
 */
int ipc_recv(int fd, uint64_t deadline_ms, size_t max_payload, ipc_frame *f, char **err)
    __attribute__((warn_unused_result));

/*
 * Pure parser for the frame at the start of buf[0..len) (shared with
 * ipc_recv; the fuzz target). 0: *f holds the frame (the caller's; *f is
 * overwritten) and *used its size in bytes. -EAGAIN: not all there yet,
 * *need = bytes still missing (exact once the 12-byte prefix is in; before
 * that, the bytes missing from the prefix). Bad magic and over-cap lengths
 * are reported as soon as the bytes that show them are in. -EPROTO with a
 * one-line *err, or -ENOMEM. used/need may be NULL. Thread-safe.
 */
int ipc_parse(const unsigned char *bytes, size_t len, size_t max_payload, ipc_frame *f, size_t *used, size_t *need,
              char **err) __attribute__((warn_unused_result));

/*
 * The worker's cancellation poll. Never blocks when nothing is waiting: 0.
 * When a frame has begun to arrive, reads it whole (waiting at most
 * IPC_PEEK_WAIT_MS for the rest), CONSUMES it (header and payload are
 * discarded) and returns 1 with its "op" copied to op[0..n) (NUL-terminated).
 * Errors: -EPIPE (peer closed), -ERANGE (op does not fit in n; the frame is
 * consumed), -EPROTO (bad frame, or payload over IPC_PEEK_MAX_PAYLOAD),
 * -ETIMEDOUT, -ENOMEM, -EINVAL (op NULL or n 0), -errno.
 */
int ipc_peek_op(int fd, char *op, size_t n) __attribute__((warn_unused_result));

#endif
