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
#define PACK_MAX_RATIO 200u                /* uncompressed : archive size ... */
#define PACK_RATIO_FLOOR (16ull << 20)     /* ... checked once the files pass 16 MiB */
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

/* SHA-256 (hex) and size of what is left to read on fd, streamed; with
 * archive (a libarchive writer, may be NULL) the bytes are also written
 * there as the data of the current entry. cap > 0: -E2BIG past cap bytes.
 * 0, -errno of read, -EIO (archive write), -ENOMEM. Shared by pack build
 * and the installer's lock checks. */
int pack_hash_fd(int fd, void *archive, uint64_t cap, uint64_t *size, char hex[65]) __attribute__((warn_unused_result));

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

/*
 * Verify the archive in buf[0..len) as pack_verify_memory does and, as it
 * is read, write the files of its top directory (CONTENTS.json and
 * SIGNATURE.json included) below dirfd, which should be a new empty
 * directory: only regular files (0644, or 0755 with an execute bit) and
 * directories, each created with O_NOFOLLOW/O_EXCL below dirfd, so nothing
 * is ever written outside it. On failure dirfd may hold part of the pack:
 * the caller removes the directory.
 */
int pack_extract_memory(const void *buf, size_t len, int dirfd, pack_info *info, char **err)
    __attribute__((warn_unused_result));

/* ---- installing (install.c) ------------------------------------------- */

#define PACK_LOCK "venom.lock"             /* the lock file in a skill directory */
#define PACK_MAX_ARCHIVE (256ull << 20)    /* an archive to install */

struct manifest;
typedef struct json_t json_t;

/* The Debian multiarch triplet of this machine ("x86_64-linux-gnu"). */
const char *pack_host_triplet(void);

/*
 * Read a pack archive into memory from a path, a file:// URL or an
 * http(s):// URL (libcurl, with retries; at most PACK_MAX_ARCHIVE bytes).
 * *where (may be NULL) receives what the lock file records as the source:
 * the absolute path or the URL. *buf is mem_alloc'd.
 */
int pack_fetch(const char *source, char **buf, size_t *len, char **where, char **err)
    __attribute__((warn_unused_result));

/* What an install is about to do, for the caller to show and confirm. */
typedef struct pack_plan {
    const struct manifest *m; /* the pack's manifest (its permissions, skills) */
    const pack_info *info;
    bool trusted;             /* signed by a trusted key */
    const char *previous;     /* the version it replaces, or NULL */
} pack_plan;

typedef struct pack_install_opts {
    const char *source;          /* path, file:// or http(s):// URL */
    const void *data;            /* or the archive itself (source then only names it in the lock file) */
    size_t data_len;
    const char *skills_dir;      /* where packs are installed (created if missing) */
    const json_t *trusted_keys;  /* pack_trust_list's array (may be NULL) */
    const char *const *extra_keys; /* further trusted public keys (config trusted_keys) */
    size_t n_extra_keys;
    bool allow_unsigned;         /* install an unsigned or untrusted pack (it then always runs sandboxed) */
    /* Check manifest against plugin (the CLI loads it in the sandbox);
     * NULL skips. Its manifest's dir is the temp dir. <0 stops the install. */
    int (*probe)(void *user, const struct manifest *m, char **err);
    /* Show the plan and ask; NULL: go on. <0 stops the install. */
    int (*confirm)(void *user, const pack_plan *plan, char **err);
    void *user;
} pack_install_opts;

typedef struct pack_installed {
    char *name, *version;
    char *dir;        /* the installed pack directory */
    char *previous;   /* the version replaced, or NULL */
    char *source;
    bool is_signed, trusted;
    bool unchanged;   /* the same pack was installed already and intact: nothing was done */
    char key_id[17];
} pack_installed;

void pack_installed_release(pack_installed *r);

/*
 * Install the pack at o->source into o->skills_dir/NAME (pack.h top,
 * docs/packs.md). Atomic: the pack is extracted and verified in a temp dir
 * inside skills_dir and swapped into place with one rename; the lock file
 * skills_dir/venom.lock then records its version, source, signer, content
 * hash and the SHA-256 of every file. An unsigned pack, or one signed by a
 * key not trusted, is refused (-EACCES) unless o->allow_unsigned. A pack
 * directory of that name not installed this way is never replaced (-EEXIST).
 * -EINVAL/-E2BIG for an invalid or hostile archive, -ENOEXEC for a plugin of
 * another architecture; nothing is left behind on any failure.
 */
int pack_install(const pack_install_opts *o, pack_installed *out, char **err) __attribute__((warn_unused_result));

/* Remove the installed pack NAME (moved aside in one rename, then deleted)
 * and its lock entry. -ENOENT not installed, -EPERM a directory the lock
 * file does not know. *version (may be NULL) receives the removed version. */
int pack_remove(const char *skills_dir, const char *name, char **version, char **err)
    __attribute__((warn_unused_result));

/* Re-check installed packs (all, or NAME) against the lock file: every file
 * present with its SHA-256, nothing added. *report is an array of
 * {"pack","version","dir","signer","ok","problems":[…]}. */
int pack_verify_installed(const char *skills_dir, const char *name, json_t **report, char **err)
    __attribute__((warn_unused_result));

/* The lock file of skills_dir ({"format":1,"packs":{}} when there is none). */
int pack_lock_read(const char *skills_dir, json_t **out, char **err) __attribute__((warn_unused_result));

/* The file rel of the installed pack at pack_dir must have the SHA-256 its
 * lock entry records: 0, or -EPERM/-ENOENT with a message. */
int pack_lock_check(const json_t *entry, const char *pack_dir, const char *rel, char **err)
    __attribute__((warn_unused_result));

/* Trusted signing keys: $VENOM_HOME/trusted-keys.json, an array of
 * {"key","key_id","label","added"} ([] when the file does not exist). */
int pack_trust_list(const char *home, json_t **keys, char **err) __attribute__((warn_unused_result));
/* Trust a key (ed25519:<base64>, or a file holding it). *added is false
 * when it was trusted already. */
int pack_trust_add(const char *home, const char *key, const char *label, char key_id[17], bool *added, char **err)
    __attribute__((warn_unused_result));
/* Stop trusting a key (its id or the key). -ENOENT when not trusted. */
int pack_trust_remove(const char *home, const char *which, char **err) __attribute__((warn_unused_result));
/* Whether key_id is one of keys (pack_trust_list) or of extra (public keys). */
bool pack_key_trusted(const char *key_id, const json_t *keys, const char *const *extra, size_t n_extra);

#endif
