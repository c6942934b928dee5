/*
 * pack.h — skill pack archives (docs/packs.md): a deterministic .tar.gz of a
 * pack directory holding every file under "NAME/", plus "NAME/CONTENTS.json",
 * the content manifest (size and SHA-256 of every file), and optionally
 * "NAME/SIGNATURE.json", an Ed25519 signature over the exact bytes of
 * CONTENTS.json.
 *
 * Verification reads the archive in memory and never writes anything to
 * disk: one top directory, every listed file present once with its size and
 * hash, nothing unlisted, only regular files and directories, no absolute or
 * ".." paths, no setuid/setgid bits, size and entry-count caps, and a valid
 * signature if there is one. Every failure is one line naming the entry.
 *
 * All functions may be called from any thread; they return 0 or a negative
 * errno-style code with a message in *err (when err != NULL).
 */
#ifndef VENOM_PACK_PACK_H
#define VENOM_PACK_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PACK_FORMAT 1
#define PACK_MAX_FILE_SIZE (64ull << 20)   /* one file */
#define PACK_MAX_TOTAL_SIZE (256ull << 20) /* every file together, uncompressed */
#define PACK_MAX_ENTRIES 10000u            /* archive entries */
#define PACK_MAX_META_SIZE (8u << 20)      /* CONTENTS.json / SIGNATURE.json */
#define PACK_CONTENTS "CONTENTS.json"
#define PACK_SIGNATURE "SIGNATURE.json"

/* What a valid pack is; filled by pack_verify*, released by pack_info_release. */
typedef struct pack_info {
    char *name, *version;
    bool is_signed;
    char *key;                 /* "ed25519:<base64>" when signed, else NULL */
    char key_id[17];           /* first 16 hex of SHA-256(public key); "" when unsigned */
    char contents_sha256[65];  /* hex SHA-256 of CONTENTS.json's bytes */
    size_t n_files;            /* files listed in CONTENTS.json */
    uint64_t total_size;       /* their sizes added up */
} pack_info;

void pack_info_release(pack_info *pi);

/*
 * The content manifest of a pack directory, as the JSON text stored in the
 * archive (mem_alloc'd, caller frees). The dir must hold a valid manifest;
 * a symlink or special file under it is an error naming it, and so is a file
 * called CONTENTS.json or SIGNATURE.json at its top. name/version (may be
 * NULL) receive the pack's, mem_alloc'd.
 */
int pack_contents(const char *dir, char **json_out, char **name_out, char **version_out, char **err)
    __attribute__((warn_unused_result));

/*
 * Build the archive of dir at out_path, or when out_path is NULL at
 * "NAME-VERSION.tar.gz" in the current directory. Deterministic: the same dir
 * gives the same bytes. Written to a temp file next to the output, then
 * renamed. *path_out (may be NULL) receives the path written, mem_alloc'd.
 */
int pack_build(const char *dir, const char *out_path, char **path_out, char **err)
    __attribute__((warn_unused_result));

/*
 * A new Ed25519 keypair: the secret key goes to secret_path (mode 0600; an
 * existing file is never overwritten: -EEXIST; a missing parent directory is
 * created 0700). *public_out receives "ed25519:<base64>" (mem_alloc'd) and
 * key_id (may be NULL, 17 bytes) the key id.
 */
int pack_keygen(const char *secret_path, char **public_out, char *key_id, char **err)
    __attribute__((warn_unused_result));

/* The key id (16 hex + NUL) of a public key "ed25519:<base64>"; -EINVAL if malformed. */
int pack_key_id(const char *public_key, char key_id[17], char **err) __attribute__((warn_unused_result));

/*
 * Sign the pack at pack_path (its files must match its CONTENTS.json; an
 * existing signature is not checked but replaced) with the secret key in
 * secret_key_path: the archive is rewritten with the same entries plus
 * NAME/SIGNATURE.json, atomically.
 * info (may be NULL) receives the verified result of the signed pack.
 */
int pack_sign(const char *pack_path, const char *secret_key_path, pack_info *info, char **err)
    __attribute__((warn_unused_result));

/*
 * Verify the archive at pack_path / in buf[0..len). On success *info (may be
 * NULL) is filled (pack_info_release it). -EINVAL for an invalid pack (the
 * message names the entry and the problem), -E2BIG for a cap, -ENOMEM,
 * -errno when the file cannot be read. Nothing is written to disk.
 */
int pack_verify(const char *pack_path, pack_info *info, char **err) __attribute__((warn_unused_result));
int pack_verify_memory(const void *buf, size_t len, pack_info *info, char **err) __attribute__((warn_unused_result));

#endif
