/*
 * fuzz_pack_verify.c — libFuzzer target for the pack verifier (pack/pack):
 * the input is read as a pack archive (.tar.gz or plain tar) in memory.
 * Every result must be a clean one-line error, or a valid pack whose name,
 * version and content hash are set and whose signature fields agree.
 * Nothing may be written to disk (the verifier never extracts).
 */
#include "util/common.h"
#include "pack/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool installed;
    if (!installed) {
        mem_install();
        installed = true;
    }
    pack_info pi = {0};
    char *err = NULL;
    int rc = pack_verify_memory(data, size, &pi, &err);
    if (rc == 0) {
        if (err || !pi.name || !*pi.name || !pi.version || strlen(pi.contents_sha256) != 64)
            __builtin_trap();
        if (pi.is_signed != (pi.key != NULL) || (pi.is_signed && strlen(pi.key_id) != 16))
            __builtin_trap();
        if (strchr(pi.name, '/') || !strcmp(pi.name, "..") || !strcmp(pi.name, "."))
            __builtin_trap(); /* the top directory is one safe path component */
    } else if (pi.name || (rc != -ENOMEM && (!err || !*err || strchr(err, '\n')))) {
        __builtin_trap();
    }
    pack_info_release(&pi);
    mem_free(err);
    return 0;
}
