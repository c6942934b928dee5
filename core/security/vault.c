/*
 * vault.c — secrets sealed with XChaCha20-Poly1305 in venom.db
 * (docs/internals/vault.md).
 */
#include "util/common.h"
#include "security/vault.h"

#include <ctype.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "util/err.h"

#define KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KEY_ID_BYTES 8
#define B64 sodium_base64_VARIANT_ORIGINAL
#define KEY_TEXT_MAX 256

struct vault {
    char *home;
    char *key_path;
    struct store *st;
    bool own_store;
};

_Static_assert(KEY_BYTES == 32, "the vault key is 32 bytes");

/* ---- names ---- */

int vault_name_check(const char *name, char **err)
{
    if (!name || !*name)
        return err_set(err, -EINVAL, "a secret needs a name (1-%d of A-Z a-z 0-9 _ . -)", VAULT_NAME_MAX);
    size_t n = strlen(name);
    if (n > VAULT_NAME_MAX)
        return err_set(err, -EINVAL, "secret name '%.40s...' is %zu bytes long; the limit is %d (names use only A-Z a-z 0-9 _ . -)",
                       name, n, VAULT_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '.' || c == '-';
        if (!ok) {
            if (isprint(c))
                return err_set(err, -EINVAL, "secret name '%.*s' has '%c' at byte %zu; names use only A-Z a-z 0-9 _ . -",
                               (int)(n > 60 ? 60 : n), name, (char)c, i + 1);
            return err_set(err, -EINVAL, "secret name has the byte 0x%02x at byte %zu; names use only A-Z a-z 0-9 _ . -",
                           c, i + 1);
        }
    }
    return 0;
}

/* ---- the key ---- */

static void key_id_hex(const unsigned char key[KEY_BYTES], char hex[2 * KEY_ID_BYTES + 1])
{
    static const char ctx[] = "venom vault key id v1";
    unsigned char id[KEY_ID_BYTES];
    crypto_generichash(id, sizeof id, (const unsigned char *)ctx, sizeof ctx - 1, key, KEY_BYTES);
    sodium_bin2hex(hex, 2 * KEY_ID_BYTES + 1, id, sizeof id);
}

/* Exactly KEY_BYTES of base64 text (surrounding white space ignored). */
static int key_decode(const char *text, unsigned char key[KEY_BYTES])
{
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    while (n && isspace((unsigned char)*text))
        text++, n--;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(key, KEY_BYTES, text, n, NULL, &got, &end, B64) != 0 || got != KEY_BYTES ||
        end != text + n) {
        sodium_memzero(key, KEY_BYTES);
        return -1;
    }
    return 0;
}

static int key_read_file(const char *path, unsigned char key[KEY_BYTES], char **err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return -ENOENT;
        if (e == ELOOP)
            return err_set(err, -EPERM, "the vault key %s is a symbolic link; venom reads only a regular file there",
                           path);
        return err_set(err, -e, "cannot open the vault key %s: %s", path, strerror(e));
    }
    char text[KEY_TEXT_MAX + 1];
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = err_set(err, -EINVAL, "the vault key %s is not a regular file", path);
        goto out;
    }
    if (st.st_uid != geteuid()) {
        rc = err_set(err, -EPERM, "the vault key %s belongs to uid %u, not to you (uid %u); venom uses only your own",
                     path, (unsigned)st.st_uid, (unsigned)geteuid());
        goto out;
    }
    if (st.st_mode & 0077) {
        rc = err_set(err, -EPERM, "the vault key %s is readable by others (mode %04o); run: chmod 600 %s", path,
                     (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    ssize_t n = read(fd, text, KEY_TEXT_MAX);
    if (n < 0) {
        rc = err_set(err, -errno, "cannot read the vault key %s: %s", path, strerror(errno));
        goto out;
    }
    text[n] = '\0';
    if (n == KEY_TEXT_MAX || key_decode(text, key) < 0)
        rc = err_set(err, -EINVAL,
                     "%s is not a vault key (expected the base64 of 32 bytes on one line); restore it from a "
                     "backup, or move it away and set the secrets again",
                     path);
out:
    sodium_memzero(text, sizeof text);
    close(fd);
    return rc;
}

/* A new random key at path: written to a temporary file beside it, then
 * linked into place, so a reader never sees a half-written key and two
 * processes creating it at once end up with the same one (the loser of the
 * link reads the winner's). */
static int key_create(const vault *v, unsigned char key[KEY_BYTES], bool *created, char **err)
{
    if (mkdir(v->home, 0700) < 0 && errno != EEXIST)
        return err_set(err, -errno, "cannot create VENOM_HOME %s: %s", v->home, strerror(errno));
    char *tmp = mem_printf("%s.%ld.tmp", v->key_path, (long)getpid());
    char text[sodium_base64_ENCODED_LEN(KEY_BYTES, B64) + 1];
    int rc = 0, fd = -1;
    if (!tmp)
        return err_set(err, -ENOMEM, "out of memory");
    unlink(tmp); /* left by a crashed process of the same pid */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = err_set(err, -errno, "cannot create the vault key %s: %s", tmp, strerror(errno));
        goto out;
    }
    randombytes_buf(key, KEY_BYTES);
    sodium_bin2base64(text, sizeof text - 1, key, KEY_BYTES, B64);
    size_t len = strlen(text);
    text[len++] = '\n';
    if (fchmod(fd, 0600) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
        rc = err_set(err, -EIO, "cannot write the vault key %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (link(tmp, v->key_path) == 0) {
        *created = true;
    } else if (errno == EEXIST) { /* another process was first: its key is the key */
        sodium_memzero(key, KEY_BYTES);
        rc = key_read_file(v->key_path, key, err);
        if (rc == -ENOENT)
            rc = err_set(err, -EIO, "the vault key %s appeared and vanished while creating it; try again",
                         v->key_path);
    } else {
        rc = err_set(err, -errno, "cannot create the vault key %s: %s", v->key_path, strerror(errno));
    }
out:
    sodium_memzero(text, sizeof text);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    mem_free(tmp);
    if (rc < 0)
        sodium_memzero(key, KEY_BYTES);
    return rc;
}

/* The key: VENOM_VAULT_KEY, else the key file; with create, a missing file
 * is made. -ENOKEY when there is none and create is false. */
static int key_load(const vault *v, bool create, unsigned char key[KEY_BYTES], bool *created, char **err)
{
    *created = false;
    const char *env = getenv(VAULT_KEY_ENV);
    if (env) {
        if (key_decode(env, key) < 0)
            return err_set(err, -EINVAL,
                           VAULT_KEY_ENV " is set but is not a vault key (the base64 of 32 bytes, e.g. the content "
                                         "of a vault.key file, or: head -c 32 /dev/urandom | base64)");
        return 0;
    }
    int rc = key_read_file(v->key_path, key, err);
    if (rc != -ENOENT)
        return rc;
    if (create)
        return key_create(v, key, created, err);
    return err_set(err, -ENOKEY,
                   "no vault key: %s does not exist and " VAULT_KEY_ENV
                   " is not set (the key is made by the first 'venom secrets set')",
                   v->key_path);
}

/* ---- the vault ---- */

int vault_open(const char *home, store *st, vault **out, char **err)
{
    if (!out)
        return err_set(err, -EINVAL, "vault_open: no place for the result");
    *out = NULL;
    if (!home || !*home)
        return err_set(err, -EINVAL, "vault_open: no VENOM_HOME");
    if (sodium_init() < 0)
        return err_set(err, -EIO, "libsodium could not start (sodium_init failed)");
    vault *v = mem_calloc(1, sizeof *v);
    char *db = NULL;
    int rc = 0;
    if (!v || !(v->home = mem_strdup(home)) || !(v->key_path = mem_printf("%s/" VAULT_KEY_FILE, home))) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    if (st) {
        v->st = st;
    } else {
        if (mkdir(home, 0700) < 0 && errno != EEXIST) {
            rc = err_set(err, -errno, "cannot create VENOM_HOME %s: %s; set VENOM_HOME to a writable directory",
                         home, strerror(errno));
            goto fail;
        }
        if (!(db = mem_printf("%s/venom.db", home))) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto fail;
        }
        if ((rc = store_open(db, &v->st, err)) < 0)
            goto fail;
        v->own_store = true;
    }
    mem_free(db);
    *out = v;
    return 0;
fail:
    mem_free(db);
    vault_free(v);
    return rc;
}

void vault_free(vault *v)
{
    if (!v)
        return;
    if (v->own_store)
        store_close(v->st);
    mem_free(v->home);
    mem_free(v->key_path);
    mem_free(v);
}

const char *vault_key_source(const vault *v)
{
    if (getenv(VAULT_KEY_ENV))
        return VAULT_KEY_ENV;
    return v ? v->key_path : VAULT_KEY_FILE;
}

void vault_wipe(char *value)
{
    if (!value)
        return;
    sodium_memzero(value, strlen(value));
    mem_free(value);
}

int vault_set(vault *v, const char *name, const char *value, size_t len, vault_set_info *info, char **err)
{
    if (info)
        *info = (vault_set_info){0};
    if (!v || !value)
        return err_set(err, -EINVAL, "vault_set: missing argument");
    int rc = vault_name_check(name, err);
    if (rc < 0)
        return rc;
    if (len == 0)
        return err_set(err, -EINVAL, "the value of secret '%s' is empty; nothing was stored", name);
    if (len > VAULT_VALUE_MAX)
        return err_set(err, -E2BIG, "the value of secret '%s' is %zu bytes; the limit is %zu bytes (64 KiB)", name,
                       len, VAULT_VALUE_MAX);
    const char *nul = memchr(value, '\0', len);
    if (nul)
        return err_set(err, -EINVAL,
                       "the value of secret '%s' has a NUL byte at offset %zu; secrets are text (base64-encode "
                       "binary values)",
                       name, (size_t)(nul - value));
    unsigned char key[KEY_BYTES], nonce[NONCE_BYTES];
    char key_id[2 * KEY_ID_BYTES + 1];
    bool created = false;
    unsigned char *sealed = NULL;
    if ((rc = key_load(v, true, key, &created, err)) < 0)
        return rc;
    key_id_hex(key, key_id);
    if (!(sealed = mem_alloc(len + TAG_BYTES))) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    randombytes_buf(nonce, sizeof nonce);
    unsigned long long slen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, &slen, (const unsigned char *)value, len,
                                               (const unsigned char *)name, strlen(name), NULL, nonce, key);
    store_secret sec = {.name = (char *)name,
                        .key_id = key_id,
                        .nonce = nonce,
                        .nonce_len = sizeof nonce,
                        .sealed = sealed,
                        .sealed_len = (size_t)slen};
    bool replaced = false;
    if ((rc = store_secret_put(v->st, &sec, &replaced, err)) < 0)
        goto out;
    if (info) {
        info->replaced = replaced;
        info->key_created = created;
    }
out:
    sodium_memzero(key, sizeof key);
    mem_free(sealed);
    return rc;
}

int vault_get(vault *v, const char *name, char **value, size_t *len, char **err)
{
    if (value)
        *value = NULL;
    if (len)
        *len = 0;
    if (!v || !value)
        return err_set(err, -EINVAL, "vault_get: missing argument");
    int rc = vault_name_check(name, err);
    if (rc < 0)
        return rc;
    store_secret sec;
    rc = store_secret_get(v->st, name, &sec, err);
    if (rc == -ENOENT)
        return err_set(err, -ENOENT, "there is no secret '%s' in the vault; store it with: venom secrets set %s",
                       name, name);
    if (rc < 0)
        return rc;
    unsigned char key[KEY_BYTES];
    char key_id[2 * KEY_ID_BYTES + 1];
    bool created = false;
    char *plain = NULL;
    if ((rc = key_load(v, false, key, &created, err)) < 0)
        goto out;
    key_id_hex(key, key_id);
    if (strcmp(key_id, sec.key_id) != 0) {
        rc = err_set(err, -EKEYREJECTED,
                     "secret '%s' was stored with another vault key (key id %.16s; %s has key id %s): use the key "
                     "it was stored with, or store the secret again with: venom secrets set %s",
                     name, sec.key_id, vault_key_source(v), key_id, name);
        goto out;
    }
    if (sec.nonce_len != NONCE_BYTES || sec.sealed_len < TAG_BYTES || sec.sealed_len > VAULT_VALUE_MAX + TAG_BYTES) {
        rc = err_set(err, -EBADMSG,
                     "secret '%s' in venom.db is damaged (a nonce of %zu bytes, a sealed value of %zu bytes); store "
                     "it again with: venom secrets set %s",
                     name, sec.nonce_len, sec.sealed_len, name);
        goto out;
    }
    size_t plen = sec.sealed_len - TAG_BYTES;
    if (!(plain = mem_alloc(plen + 1))) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    unsigned long long got = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &got, NULL, sec.sealed, sec.sealed_len,
                                                   (const unsigned char *)name, strlen(name), sec.nonce,
                                                   key) != 0 ||
        got != plen || memchr(plain, '\0', plen)) {
        rc = err_set(err, -EBADMSG,
                     "secret '%s' in venom.db does not open with its key: the row is damaged or was tampered with; "
                     "store it again with: venom secrets set %s",
                     name, name);
        goto out;
    }
    plain[plen] = '\0';
    *value = plain;
    plain = NULL;
    if (len)
        *len = plen;
out:
    sodium_memzero(key, sizeof key);
    if (plain) {
        sodium_memzero(plain, sec.sealed_len - TAG_BYTES + 1);
        mem_free(plain);
    }
    store_secret_clear(&sec);
    return rc;
}

void vault_items_free(vault_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        mem_free(items[i].name);
        mem_free(items[i].created);
        mem_free(items[i].updated);
    }
    mem_free(items);
}

int vault_list(vault *v, vault_item **items, size_t *n, char **err)
{
    if (!v || !items || !n)
        return err_set(err, -EINVAL, "vault_list: missing argument");
    *items = NULL;
    *n = 0;
    store_secret *rows = NULL;
    size_t k = 0;
    int rc = store_secret_list(v->st, &rows, &k, err);
    if (rc < 0)
        return rc;
    vault_item *a = k ? mem_calloc(k, sizeof *a) : NULL;
    if (k && !a)
        rc = err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < k; i++) {
        if (a) { /* the strings move */
            a[i] = (vault_item){.name = rows[i].name, .created = rows[i].created, .updated = rows[i].updated};
            rows[i].name = rows[i].created = rows[i].updated = NULL;
        }
        store_secret_clear(&rows[i]);
    }
    mem_free(rows);
    if (rc < 0)
        return rc;
    *items = a;
    *n = k;
    return 0;
}

int vault_rm(vault *v, const char *name, char **err)
{
    if (!v)
        return err_set(err, -EINVAL, "vault_rm: missing argument");
    int rc = vault_name_check(name, err);
    if (rc < 0)
        return rc;
    rc = store_secret_delete(v->st, name, err);
    if (rc == -ENOENT)
        return err_set(err, -ENOENT, "there is no secret '%s' in the vault ('venom secrets list' shows them)", name);
    return rc;
}

/* ---- the broker ---- */

int vault_broker_init(vault_broker *b, const char *home, host_broker_fn next, void *next_user)
{
    memset(b, 0, sizeof *b);
    if (!(b->home = mem_strdup(home ? home : "")))
        return -ENOMEM;
    b->next = next;
    b->next_user = next_user;
    pthread_mutex_init(&b->mu, NULL);
    return 0;
}

void vault_broker_release(vault_broker *b)
{
    if (!b || !b->home)
        return;
    mem_free(b->home);
    pthread_mutex_destroy(&b->mu);
    memset(b, 0, sizeof *b);
}

void vault_broker_log(vault_broker *b, store *log)
{
    if (!b || !b->home)
        return;
    pthread_mutex_lock(&b->mu);
    b->log = log;
    pthread_mutex_unlock(&b->mu);
}

static int32_t venom_code(int rc)
{
    switch (rc) {
    case -ENOENT: return VENOM_E_NOTFOUND;
    case -ENOMEM: return VENOM_E_NOMEM;
    case -EPERM:
    case -EACCES: return VENOM_E_PERM;
    case -EINVAL: return VENOM_E_INVAL;
    default: return VENOM_E_FAILED;
    }
}

int32_t vault_broker_serve(void *user, const char *service, const struct manifest *m, const char *request,
                           char **response, char **error)
{
    vault_broker *b = user;
    *response = NULL;
    *error = NULL;
    if (!b || !service || strcmp(service, "secret") != 0) {
        if (b && b->next)
            return b->next(b->next_user, service, m, request, response, error);
        err_set(error, 0, "broker: the service '%.40s' is not available here", service ? service : "(none)");
        return VENOM_E_UNSUPPORTED;
    }
    /* host_broker_serve checked that m declares the secret */
    pthread_mutex_lock(&b->mu);
    vault *v = NULL;
    char *value = NULL;
    int rc = vault_open(b->home, b->log, &v, error);
    if (rc == 0)
        rc = vault_get(v, request, &value, NULL, error);
    if (rc == 0 && b->log) {
        const char *list[] = {value};
        if ((rc = store_add_redactions(b->log, list, 1)) < 0)
            err_set(error, rc, "secret '%s': cannot add it to the event log's redactions; it was not handed out",
                    request);
    }
    pthread_mutex_unlock(&b->mu);
    vault_free(v);
    if (rc < 0) {
        vault_wipe(value);
        return venom_code(rc);
    }
    *response = value;
    return VENOM_OK;
}
