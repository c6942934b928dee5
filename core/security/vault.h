/*
 * vault.h — the secrets vault: named text values a skill may read when its
 * manifest declares them (permissions.secrets), stored sealed in venom.db's
 * `secrets` table (store.h) and never in clear.
 *
 * Sealing: libsodium's XChaCha20-Poly1305 (IETF) AEAD under one 32-byte
 * vault key, a fresh random 24-byte nonce per write, the secret's name as
 * associated data (a sealed value moved to another name does not open). The
 * key is VENOM_VAULT_KEY (base64 of 32 bytes; CI and headless machines) or
 * else $VENOM_HOME/vault.key (the same base64 on one line, mode 0600, owned
 * by the user; created by the first vault_set; a file others can read is
 * refused). Each row records the id of the key that sealed it, so a wrong
 * key and a damaged row get different messages; neither ever yields bytes.
 * The key is read for each set and get and wiped right after; plaintext
 * copies the vault makes are wiped before they are freed.
 *
 * Names: 1-128 of A-Z a-z 0-9 _ . - ; values: 1 byte to 64 KiB of text
 * without NUL bytes. Reference: docs/secrets.md, docs/internals/vault.md.
 *
 * Thread: a vault may be used from several threads (the store locks); the
 * broker below serialises its own calls.
 */
#ifndef VENOM_SECURITY_VAULT_H
#define VENOM_SECURITY_VAULT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plugin/host.h"

struct store;
struct manifest;

#define VAULT_KEY_ENV "VENOM_VAULT_KEY"
#define VAULT_KEY_FILE "vault.key"
#define VAULT_NAME_MAX 128
#define VAULT_VALUE_MAX ((size_t)64 << 10)

typedef struct vault vault;

/* Open the vault of `home` ($VENOM_HOME). st: the store of home/venom.db
 * when the caller has it open (borrowed; must outlive the vault), or NULL
 * to open it here (home is created, mode 0700, if missing). Errors of
 * store_open. Free with vault_free. */
int vault_open(const char *home, struct store *st, vault **out, char **err) __attribute__((warn_unused_result));
void vault_free(vault *v);

/* 0 when name is a valid secret name; -EINVAL with a message otherwise. */
int vault_name_check(const char *name, char **err) __attribute__((warn_unused_result));

/* What vault_set did besides storing. */
typedef struct vault_set_info {
    bool replaced;    /* a secret of that name existed */
    bool key_created; /* the key file was made now */
} vault_set_info;

/* Seal and store value (len bytes, no NUL, 1..VAULT_VALUE_MAX) as name,
 * replacing one of that name. With neither VENOM_VAULT_KEY nor a key file,
 * the key file is created (atomically: two processes at once agree on one
 * key). info may be NULL. -EINVAL bad name or value, -E2BIG too long,
 * -EPERM key file readable by others or not the user's, store errors. */
int vault_set(vault *v, const char *name, const char *value, size_t len, vault_set_info *info, char **err)
    __attribute__((warn_unused_result));

/* The value of name: *value (mem_alloc'd, NUL-terminated, the caller's:
 * wipe it with vault_wipe) and *len (may be NULL). -ENOENT no such secret
 * (the message says `venom secrets set NAME`), -ENOKEY no key at all,
 * -EKEYREJECTED sealed with another key, -EBADMSG the row is damaged or
 * was tampered with, -EPERM key file permissions, -EINVAL bad name. */
int vault_get(vault *v, const char *name, char **value, size_t *len, char **err) __attribute__((warn_unused_result));

/* A listed secret: never its value. */
typedef struct vault_item {
    char *name;
    char *created;
    char *updated;
} vault_item;
/* Every secret, by name. Free with vault_items_free. Needs no key. */
int vault_list(vault *v, vault_item **items, size_t *n, char **err) __attribute__((warn_unused_result));
void vault_items_free(vault_item *items, size_t n);

/* Remove name; -ENOENT when there is none. Needs no key. */
int vault_rm(vault *v, const char *name, char **err) __attribute__((warn_unused_result));

/* Where the key is (or would be) read: "VENOM_VAULT_KEY" or the key file's
 * path. Owned by v. */
const char *vault_key_source(const vault *v);

/* Wipe a value from vault_get (its NUL-terminated length) and free it. NULL is fine. */
void vault_wipe(char *value);

/*
 * The broker of plugin/host.h for "secret": host_broker_serve has already
 * checked the manifest; this reads the value from the vault of `home`
 * (opened per request: no key stays in memory between calls). Any other
 * service goes to `next` (the CLI passes net_broker for "http"). Every value
 * handed out is added to the redactions of the attached event log, if any,
 * before the skill gets it, so that it never reaches venom.db's events.
 */
typedef struct vault_broker {
    char *home;
    host_broker_fn next;
    void *next_user;
    pthread_mutex_t mu;
    struct store *log; /* borrowed, see vault_broker_log */
} vault_broker;
/* 0 or -ENOMEM. Release with vault_broker_release. */
int vault_broker_init(vault_broker *b, const char *home, host_broker_fn next, void *next_user)
    __attribute__((warn_unused_result));
void vault_broker_release(vault_broker *b);
/* Attach the run's event log (NULL: detach; do so before closing it). The
 * vault then reads through that store's connection. */
void vault_broker_log(vault_broker *b, struct store *log);
/* A host_broker_fn; user is the vault_broker. */
int32_t vault_broker_serve(void *user, const char *service, const struct manifest *m, const char *request,
                           char **response, char **error);

#endif
