/*
 * fuzz_ipc.c — libFuzzer target for core/sandbox/ipc.c's frame parser (the
 * code every frame from an untrusted worker goes through). The first input
 * byte sets max_payload (byte * 16, so 0..4080 and the "payload too large"
 * path is reachable); the rest is a byte stream consumed frame by frame with
 * ipc_parse until an error or an incomplete frame. Checked for each result:
 * the return code is one of 0/-EAGAIN/-EPROTO/-ENOMEM; a frame has an object
 * header with an "op", a payload within max, NUL-terminated; `used`/`need`
 * are consistent with the prefix; one byte less than a whole frame is
 * -EAGAIN with need 1; the frame re-encoded parses back equal; an error
 * message is one line. Seeds: tests/fuzz/corpus/ipc/ (first byte included).
 */
#include "util/common.h"
#include "sandbox/ipc.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Encode f again (compact header) and parse it: the same frame comes back. */
static void roundtrip(const ipc_frame *f, size_t max)
{
    size_t hlen = json_dumpb(f->hdr, NULL, 0, JSON_COMPACT);
    if (hlen == 0 || hlen > IPC_MAX_HEADER)
        return; /* out of memory, or escapes made it longer than the cap */
    size_t total = IPC_PREFIX_LEN + hlen + f->payload_len;
    unsigned char *b = mem_alloc(total);
    if (!b)
        return;
    memcpy(b, IPC_MAGIC, 4);
    wr32(b + 4, (uint32_t)hlen);
    wr32(b + 8, (uint32_t)f->payload_len);
    if (json_dumpb(f->hdr, (char *)b + IPC_PREFIX_LEN, hlen, JSON_COMPACT) != hlen)
        __builtin_trap();
    if (f->payload_len)
        memcpy(b + IPC_PREFIX_LEN + hlen, f->payload, f->payload_len);
    ipc_frame g = {0};
    size_t used = 0;
    int rc = ipc_parse(b, total, max, &g, &used, NULL, NULL);
    if (rc == 0) {
        if (used != total || !json_equal(f->hdr, g.hdr) || g.payload_len != f->payload_len ||
            (f->payload_len && memcmp(f->payload, g.payload, f->payload_len) != 0))
            __builtin_trap();
    } else if (rc != -ENOMEM) {
        __builtin_trap(); /* what was accepted once is accepted again */
    }
    ipc_frame_release(&g);
    mem_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool installed;
    if (!installed) {
        mem_install();
        installed = true;
    }
    if (size == 0)
        return 0;
    size_t max = (size_t)data[0] * 16;
    const unsigned char *p = data + 1;
    size_t len = size - 1;
    for (;;) {
        ipc_frame f = {0};
        size_t used = 0, need = 0;
        char *err = NULL;
        int rc = ipc_parse(p, len, max, &f, &used, &need, &err);
        if (rc == 0) {
            const char *op = ipc_op(&f);
            if (!json_is_object(f.hdr) || !op || !*op || strlen(op) > IPC_MAX_OP || err)
                __builtin_trap();
            if (used < IPC_PREFIX_LEN || used > len || f.payload_len > max)
                __builtin_trap();
            if (used != IPC_PREFIX_LEN + rd32(p + 4) + (size_t)rd32(p + 8) || f.payload_len != rd32(p + 8))
                __builtin_trap();
            if ((f.payload_len == 0) != (f.payload == NULL) || (f.payload && f.payload[f.payload_len] != 0))
                __builtin_trap();
            ipc_frame g = {0};
            size_t need1 = 0;
            if (ipc_parse(p, used - 1, max, &g, NULL, &need1, NULL) != -EAGAIN || need1 != 1 || g.hdr)
                __builtin_trap();
            roundtrip(&f, max);
            ipc_frame_release(&f);
            p += used;
            len -= used;
            continue;
        }
        if (f.hdr || f.payload || used != 0)
            __builtin_trap();
        if (rc == -EAGAIN) {
            if (need == 0 || err)
                __builtin_trap();
            if (len < IPC_PREFIX_LEN && need != IPC_PREFIX_LEN - len)
                __builtin_trap();
            if (len >= IPC_PREFIX_LEN && len + need != IPC_PREFIX_LEN + rd32(p + 4) + (size_t)rd32(p + 8))
                __builtin_trap();
        } else if (rc == -EPROTO) {
            if (!err || strchr(err, '\n'))
                __builtin_trap(); /* a protocol error says what, in one line */
        } else if (rc != -ENOMEM) {
            __builtin_trap();
        }
        mem_free(err);
        break;
    }
    return 0;
}
