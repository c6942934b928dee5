/*
 * test_vault.c — the secrets vault (core/security/vault.c) on real files:
 * set/get/list/rm, overwrite (a fresh nonce), the key from VENOM_VAULT_KEY
 * or vault.key, a wrong key, tampered and moved rows (never garbage), bad
 * names and values, key file permissions, concurrent handles, threads and
 * processes (one key however many create it at once), the value never in
 * clear in venom.db, and the broker: redaction of every value handed out,
 * a missing secret, an undeclared one, and a sandboxed worker reading a
 * secret through the supervisor.
 */
#include "testsupport.h"
#include "util/common.h"

#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <venom/venom.h>

#include "plugin/host.h"
#include "plugin/manifest.h"
#include "sandbox/policy.h"
#include "sandbox/sandbox.h"
#include "security/vault.h"
#include "store/store.h"

static char *home;
static char *keypath;
static char *dbpath;

static int setup(void **state)
{
    (void)state;
    unsetenv(VAULT_KEY_ENV);
    home = ts_mkdtemp();
    keypath = mem_printf("%s/vault.key", home);
    dbpath = mem_printf("%s/venom.db", home);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv(VAULT_KEY_ENV);
    ts_rmtree(home);
    free(home);
    mem_free(keypath);
    mem_free(dbpath);
    return 0;
}

static void drop(char **err)
{
    mem_free(*err);
    *err = NULL;
}

static vault *open_ok(void)
{
    vault *v = NULL;
    char *err = NULL;
    if (vault_open(home, NULL, &v, &err) < 0)
        fail_msg("vault_open: %s", err);
    return v;
}

static void set_ok(vault *v, const char *name, const char *value, vault_set_info *info)
{
    char *err = NULL;
    if (vault_set(v, name, value, strlen(value), info, &err) < 0)
        fail_msg("vault_set %s: %s", name, err);
}

static void get_is(vault *v, const char *name, const char *want)
{
    char *value = NULL, *err = NULL;
    size_t len = 0;
    if (vault_get(v, name, &value, &len, &err) < 0)
        fail_msg("vault_get %s: %s", name, err);
    assert_string_equal(value, want);
    assert_int_equal(len, strlen(want));
    vault_wipe(value);
}

/* vault_get fails with rc; returns the message (caller frees). */
static char *get_fails(vault *v, const char *name, int rc)
{
    char *value = (char *)"untouched", *err = NULL;
    int got = vault_get(v, name, &value, NULL, &err);
    if (got != rc)
        fail_msg("vault_get %s: %d (%s), expected %d", name, got, err ? err : "", rc);
    assert_null(value); /* never garbage */
    assert_non_null(err);
    return err;
}

static void has(const char *msg, const char *part)
{
    if (!strstr(msg, part))
        fail_msg("'%s' does not say '%s'", msg, part);
}

static bool file_contains(const char *path, const char *needle)
{
    char *data = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t cap = 1 << 16, k;
    data = malloc(cap);
    while ((k = fread(data + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap)
            data = realloc(data, cap *= 2);
    }
    fclose(f);
    bool hit = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return hit;
}

static sqlite3 *raw_open(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

static char *random_key_b64(void)
{
    unsigned char k[32];
    randombytes_buf(k, sizeof k);
    char *b = mem_alloc(sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(b, sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL), k, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    return b;
}

/* ---- basics ---- */

#define VALUE "ghp_0123456789abcdefTOKENVALUE"

static void test_set_get_list_rm(void **state)
{
    (void)state;
    vault *v = open_ok();
    vault_set_info info;
    set_ok(v, "GITHUB_TOKEN", VALUE, &info);
    assert_false(info.replaced);
    assert_true(info.key_created);
    set_ok(v, "api.key-2_x", "second value", &info);
    assert_false(info.key_created);
    get_is(v, "GITHUB_TOKEN", VALUE);
    get_is(v, "api.key-2_x", "second value");
    assert_string_equal(vault_key_source(v), keypath);

    /* the key file: 0600, one line of base64 of 32 bytes */
    struct stat st;
    assert_int_equal(stat(keypath, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    char *text = ts_read(keypath);
    assert_int_equal(strlen(text), 45); /* 44 base64 characters + newline */
    unsigned char raw[32];
    size_t got = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof raw, text, 44, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(got, 32);
    free(text);

    vault_item *items = NULL;
    size_t n = 0;
    char *err = NULL;
    assert_int_equal(vault_list(v, &items, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].name, "GITHUB_TOKEN"); /* by name: upper case first */
    assert_string_equal(items[1].name, "api.key-2_x");
    assert_non_null(strstr(items[0].created, "T"));
    assert_string_equal(items[0].created, items[0].updated);
    vault_items_free(items, n);

    assert_int_equal(vault_rm(v, "api.key-2_x", &err), 0);
    mem_free(get_fails(v, "api.key-2_x", -ENOENT));
    assert_int_equal(vault_rm(v, "api.key-2_x", &err), -ENOENT);
    has(err, "no secret 'api.key-2_x'");
    drop(&err);
    err = get_fails(v, "MISSING", -ENOENT);
    has(err, "venom secrets set MISSING");
    drop(&err);
    vault_free(v);

    /* another handle (a new process would do the same) reads it back, and
     * the value is nowhere in clear in the database files */
    v = open_ok();
    get_is(v, "GITHUB_TOKEN", VALUE);
    vault_free(v);
    char *wal = mem_printf("%s-wal", dbpath);
    assert_false(file_contains(dbpath, "TOKENVALUE"));
    assert_false(file_contains(wal, "TOKENVALUE"));
    mem_free(wal);
}

static void test_overwrite(void **state)
{
    (void)state;
    vault *v = open_ok();
    vault_set_info info;
    set_ok(v, "T", "first value", &info);
    sqlite3 *db = raw_open();
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT hex(nonce), created FROM secrets WHERE name = 'T'", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char *nonce1 = mem_strdup((const char *)sqlite3_column_text(st, 0));
    char *created1 = mem_strdup((const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    usleep(5000);
    set_ok(v, "T", "first value", &info); /* the same value again */
    assert_true(info.replaced);
    assert_false(info.key_created);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT hex(nonce), created, updated, count(*) FROM secrets", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_not_equal((const char *)sqlite3_column_text(st, 0), nonce1); /* a fresh nonce per write */
    assert_string_equal((const char *)sqlite3_column_text(st, 1), created1);   /* created stays */
    assert_string_not_equal((const char *)sqlite3_column_text(st, 2), created1);
    assert_int_equal(sqlite3_column_int(st, 3), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
    set_ok(v, "T", "second, longer value", &info);
    get_is(v, "T", "second, longer value");
    mem_free(nonce1);
    mem_free(created1);
    vault_free(v);
}

/* ---- keys ---- */

static void test_env_key(void **state)
{
    (void)state;
    char *k1 = random_key_b64(), *k2 = random_key_b64();
    setenv(VAULT_KEY_ENV, k1, 1);
    vault *v = open_ok();
    vault_set_info info;
    set_ok(v, "CI_TOKEN", "ci-secret-value", &info);
    assert_false(info.key_created);
    assert_int_equal(access(keypath, F_OK), -1); /* no file with the env key */
    assert_string_equal(vault_key_source(v), VAULT_KEY_ENV);
    get_is(v, "CI_TOKEN", "ci-secret-value");
    /* white space around it (an echo into a CI variable) is fine */
    char *padded = mem_printf("  %s\n", k1);
    setenv(VAULT_KEY_ENV, padded, 1);
    get_is(v, "CI_TOKEN", "ci-secret-value");

    /* another key: refused, with the key ids, and no bytes */
    setenv(VAULT_KEY_ENV, k2, 1);
    char *err = get_fails(v, "CI_TOKEN", -EKEYREJECTED);
    has(err, "stored with another vault key");
    has(err, VAULT_KEY_ENV);
    drop(&err);

    /* not a key */
    const char *bad[] = {"", "not base64 !!", "c2hvcnQ=", "AAAA"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        setenv(VAULT_KEY_ENV, bad[i], 1);
        err = get_fails(v, "CI_TOKEN", -EINVAL);
        has(err, VAULT_KEY_ENV " is set but is not a vault key");
        drop(&err);
        assert_int_equal(vault_set(v, "X", "value", 5, NULL, &err), -EINVAL);
        has(err, VAULT_KEY_ENV);
        drop(&err);
    }

    /* without the env key and without a file: no key (none is made by a read) */
    unsetenv(VAULT_KEY_ENV);
    err = get_fails(v, "CI_TOKEN", -ENOKEY);
    has(err, "no vault key");
    has(err, keypath);
    drop(&err);
    assert_int_equal(access(keypath, F_OK), -1);
    vault_free(v);
    mem_free(padded);
    mem_free(k1);
    mem_free(k2);
}

static void test_wrong_key_file(void **state)
{
    (void)state;
    vault *v = open_ok();
    set_ok(v, "T", "the value", NULL);
    /* the key file replaced by another key */
    char *k2 = random_key_b64();
    char *line = mem_printf("%s\n", k2);
    assert_int_equal(unlink(keypath), 0);
    char *p = ts_write(home, "vault.key", line);
    assert_int_equal(chmod(p, 0600), 0);
    char *err = get_fails(v, "T", -EKEYREJECTED);
    has(err, keypath);
    has(err, "venom secrets set T");
    drop(&err);
    /* a damaged key file */
    assert_int_equal(unlink(keypath), 0);
    free(ts_write(home, "vault.key", "this is not a key\n"));
    assert_int_equal(chmod(keypath, 0600), 0);
    err = get_fails(v, "T", -EINVAL);
    has(err, "is not a vault key");
    drop(&err);
    assert_int_equal(vault_set(v, "T", "x", 1, NULL, &err), -EINVAL); /* never overwritten */
    drop(&err);
    char *text = ts_read(keypath);
    assert_string_equal(text, "this is not a key\n");
    free(text);
    free(p);
    mem_free(line);
    mem_free(k2);
    vault_free(v);
}

static void test_key_file_permissions(void **state)
{
    (void)state;
    vault *v = open_ok();
    set_ok(v, "T", "the value", NULL);
    const mode_t modes[] = {0640, 0604, 0644, 0660, 0666};
    char *err = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
        assert_int_equal(chmod(keypath, modes[i]), 0);
        err = get_fails(v, "T", -EPERM);
        has(err, "readable by others");
        has(err, "chmod 600");
        drop(&err);
        assert_int_equal(vault_set(v, "U", "x", 1, NULL, &err), -EPERM);
        has(err, "readable by others");
        drop(&err);
    }
    assert_int_equal(chmod(keypath, 0400), 0); /* read-only for the owner is fine */
    get_is(v, "T", "the value");
    assert_int_equal(chmod(keypath, 0600), 0);

    /* a symbolic link in its place is refused, even to a good key */
    char *real = mem_printf("%s/real.key", home);
    assert_int_equal(rename(keypath, real), 0);
    assert_int_equal(symlink(real, keypath), 0);
    err = get_fails(v, "T", -EPERM);
    has(err, "symbolic link");
    drop(&err);
    assert_int_equal(unlink(keypath), 0);
    /* a directory in its place */
    assert_int_equal(mkdir(keypath, 0700), 0);
    err = get_fails(v, "T", -EINVAL);
    has(err, "not a regular file");
    drop(&err);
    assert_int_equal(rmdir(keypath), 0);
    assert_int_equal(rename(real, keypath), 0);
    get_is(v, "T", "the value");
    mem_free(real);

    /* a key file made under a permissive umask is still 0600 */
    assert_int_equal(unlink(keypath), 0);
    mode_t old = umask(0);
    set_ok(v, "T2", "other", NULL);
    umask(old);
    struct stat st;
    assert_int_equal(stat(keypath, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    vault_free(v);
}

/* ---- tampering ---- */

/* Flip the low bit of byte i of name's sealed value. */
static void flip_bit(sqlite3 *db, const char *name, int i)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT sealed FROM secrets WHERE name = ?1", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_bytes(st, 0);
    assert_true(n > i);
    unsigned char *b = malloc((size_t)n);
    memcpy(b, sqlite3_column_blob(st, 0), (size_t)n);
    sqlite3_finalize(st);
    b[i] ^= 1;
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE secrets SET sealed = ?2 WHERE name = ?1", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, b, n, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    free(b);
}

static void test_tampered(void **state)
{
    (void)state;
    vault *v = open_ok();
    set_ok(v, "A", "value of a", NULL);
    set_ok(v, "B", "value of b", NULL);
    sqlite3 *db = raw_open();
    /* one bit of the ciphertext */
    flip_bit(db, "A", 3);
    char *err = get_fails(v, "A", -EBADMSG);
    has(err, "damaged or was tampered with");
    has(err, "venom secrets set A");
    drop(&err);
    get_is(v, "B", "value of b");

    /* B's sealed value and nonce moved under another name: the name is
     * associated data, so it does not open there */
    raw_exec(db, "INSERT INTO secrets(name, key_id, nonce, sealed, created, updated) SELECT 'C', key_id, nonce, "
                 "sealed, created, updated FROM secrets WHERE name = 'B'");
    err = get_fails(v, "C", -EBADMSG);
    drop(&err);

    /* the nonce changed, cut, the tag cut off, an empty value */
    raw_exec(db, "UPDATE secrets SET nonce = zeroblob(24) WHERE name = 'C'");
    mem_free(get_fails(v, "C", -EBADMSG));
    raw_exec(db, "UPDATE secrets SET nonce = zeroblob(12) WHERE name = 'C'");
    err = get_fails(v, "C", -EBADMSG);
    has(err, "damaged");
    drop(&err);
    raw_exec(db, "UPDATE secrets SET nonce = (SELECT nonce FROM secrets WHERE name = 'B'), "
                 "sealed = zeroblob(10) WHERE name = 'C'");
    mem_free(get_fails(v, "C", -EBADMSG));
    raw_exec(db, "UPDATE secrets SET sealed = x'' WHERE name = 'C'");
    mem_free(get_fails(v, "C", -EBADMSG));
    /* a forged key id: reported as another key, still no bytes */
    raw_exec(db, "UPDATE secrets SET key_id = '0000000000000000' WHERE name = 'B'");
    mem_free(get_fails(v, "B", -EKEYREJECTED));
    sqlite3_close(db);
    vault_free(v);
}

/* ---- names and values ---- */

static void test_names_and_values(void **state)
{
    (void)state;
    vault *v = open_ok();
    char *err = NULL;
    char long_name[VAULT_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad[] = {"", "a b", "a/b", "../x", "tok\n", "caf\xc3\xa9", "x=1", "a$b", long_name};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(vault_set(v, bad[i], "value", 5, NULL, &err), -EINVAL);
        has(err, "A-Z a-z 0-9 _ . -");
        drop(&err);
        char *value = NULL;
        assert_int_equal(vault_get(v, bad[i], &value, NULL, &err), -EINVAL);
        assert_null(value);
        drop(&err);
        assert_int_equal(vault_rm(v, bad[i], &err), -EINVAL);
        drop(&err);
    }
    assert_int_equal(vault_name_check(long_name, &err), -EINVAL);
    has(err, "the limit is 128");
    drop(&err);
    long_name[VAULT_NAME_MAX] = '\0'; /* 128: the longest */
    set_ok(v, long_name, "long name", NULL);
    get_is(v, long_name, "long name");
    set_ok(v, "a.b-c_D9", "ok", NULL);

    /* values */
    assert_int_equal(vault_set(v, "E", "", 0, NULL, &err), -EINVAL);
    has(err, "empty");
    drop(&err);
    assert_int_equal(vault_set(v, "N", "ab\0cd", 5, NULL, &err), -EINVAL);
    has(err, "NUL byte at offset 2");
    drop(&err);
    char *big = mem_alloc(VAULT_VALUE_MAX + 2);
    memset(big, 'v', VAULT_VALUE_MAX + 1);
    big[VAULT_VALUE_MAX + 1] = '\0';
    assert_int_equal(vault_set(v, "BIG", big, VAULT_VALUE_MAX + 1, NULL, &err), -E2BIG);
    has(err, "64 KiB");
    drop(&err);
    big[VAULT_VALUE_MAX] = '\0';
    set_ok(v, "BIG", big, NULL); /* exactly 64 KiB */
    get_is(v, "BIG", big);
    mem_free(big);
    /* any text: new lines, quotes, UTF-8 */
    set_ok(v, "PEM", "-----BEGIN KEY-----\nabc\"def\\\n☃\n-----END KEY-----", NULL);
    get_is(v, "PEM", "-----BEGIN KEY-----\nabc\"def\\\n☃\n-----END KEY-----");
    vault_free(v);
}

/* ---- concurrency ---- */

typedef struct worker_arg {
    int id;
    int fails;
} worker_arg;

static void *thread_setget(void *p)
{
    worker_arg *a = p;
    vault *v = NULL;
    char *err = NULL;
    if (vault_open(home, NULL, &v, &err) < 0) { /* a connection per thread */
        a->fails++;
        drop(&err);
        return NULL;
    }
    for (int i = 0; i < 20; i++) {
        char name[32], value[64];
        snprintf(name, sizeof name, "T%d_%d", a->id, i);
        snprintf(value, sizeof value, "value-%d-%d", a->id, i);
        char *got = NULL;
        if (vault_set(v, name, value, strlen(value), NULL, &err) < 0 || vault_get(v, name, &got, NULL, &err) < 0 ||
            strcmp(got, value) != 0)
            a->fails++;
        vault_wipe(got);
        drop(&err);
    }
    vault_free(v);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    /* processes: all create the key at once; they must agree on one */
    enum { NPROC = 6, NTHR = 4 };
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            vault *v = NULL;
            char *err = NULL, name[16], value[32];
            snprintf(name, sizeof name, "P%d", i);
            snprintf(value, sizeof value, "process-%d", i);
            int rc = vault_open(home, NULL, &v, &err);
            if (rc == 0)
                rc = vault_set(v, name, value, strlen(value), NULL, &err);
            if (rc < 0)
                fprintf(stderr, "child %d: %s\n", i, err ? err : "?");
            _exit(rc < 0 ? 1 : 0);
        }
    }
    for (int i = 0; i < NPROC; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    vault *v = open_ok();
    for (int i = 0; i < NPROC; i++) {
        char name[16], value[32];
        snprintf(name, sizeof name, "P%d", i);
        snprintf(value, sizeof value, "process-%d", i);
        get_is(v, name, value);
    }
    /* no temporary key file is left */
    char *tmpl = mem_printf("%s/vault.key.%d.tmp", home, (int)pids[0]);
    assert_int_equal(access(tmpl, F_OK), -1);
    mem_free(tmpl);

    /* threads, each with its own handle, and one handle shared by the test */
    pthread_t t[NTHR];
    worker_arg a[NTHR];
    for (int i = 0; i < NTHR; i++) {
        a[i] = (worker_arg){.id = i};
        assert_int_equal(pthread_create(&t[i], NULL, thread_setget, &a[i]), 0);
    }
    for (int i = 0; i < 20; i++)
        set_ok(v, "SHARED", "shared value", NULL);
    for (int i = 0; i < NTHR; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].fails, 0);
    }
    vault_item *items = NULL;
    size_t n = 0;
    char *err = NULL;
    assert_int_equal(vault_list(v, &items, &n, &err), 0);
    assert_int_equal(n, NPROC + NTHR * 20 + 1);
    vault_items_free(items, n);
    vault_free(v);
}

/* ---- the broker ---- */

static const char pack_json[] =
    "{\"name\":\"tokpack\",\"version\":\"1.0.0\",\"description\":\"d\",\"library\":\"x.so\","
    "\"permissions\":{\"secrets\":[\"API_TOKEN\",\"NOT_SET\"]},\"skills\":[{\"name\":\"s\",\"description\":\"d\"}]}";

static int next_calls;
static int32_t next_broker(void *user, const char *service, const struct manifest *m, const char *request,
                           char **response, char **error)
{
    (void)user;
    (void)m;
    (void)request;
    (void)error;
    next_calls++;
    assert_string_equal(service, "http");
    *response = mem_strdup("{\"status\":204,\"headers\":{},\"body\":\"\"}");
    return VENOM_OK;
}

static int32_t serve(const char *service, const manifest *m, const char *req, char **msg)
{
    char *resp = NULL, *error = NULL;
    int32_t rc = host_broker_serve(service, m, req, &resp, &error);
    *msg = rc == VENOM_OK ? resp : error;
    mem_free(rc == VENOM_OK ? error : resp);
    return rc;
}

#define TOKEN "tok-9f8e7d6c5b4a-VAULTVALUE"

static void test_broker_serves_and_redacts(void **state)
{
    (void)state;
    vault *v = open_ok();
    set_ok(v, "API_TOKEN", TOKEN, NULL);
    vault_free(v);
    manifest *m = NULL;
    char *err = NULL, *msg = NULL;
    if (manifest_parse(pack_json, strlen(pack_json), "/tmp/tokpack/venom.json", &m, &err) < 0)
        fail_msg("%s", err);
    store *log = NULL;
    if (store_open(dbpath, &log, &err) < 0)
        fail_msg("%s", err);
    const char *provider_key[] = {"sk-provider-key-1234"};
    assert_int_equal(store_set_redactions(log, provider_key, 1), 0); /* as agent_run does */
    vault_broker b;
    assert_int_equal(vault_broker_init(&b, home, next_broker, NULL), 0);
    vault_broker_log(&b, log);
    host_set_broker(vault_broker_serve, &b);

    assert_int_equal(serve("secret", m, "API_TOKEN", &msg), VENOM_OK);
    assert_string_equal(msg, TOKEN);
    mem_free(msg);
    /* declared, not in the vault */
    assert_int_equal(serve("secret", m, "NOT_SET", &msg), VENOM_E_NOTFOUND);
    has(msg, "venom secrets set NOT_SET");
    mem_free(msg);
    /* not declared: the manifest check comes first */
    assert_int_equal(serve("secret", m, "OTHER", &msg), VENOM_E_PERM);
    has(msg, "secret 'OTHER' is not declared in tokpack's permissions.secrets");
    mem_free(msg);
    /* other services go to the next broker (after host.c's checks) */
    next_calls = 0;
    assert_int_equal(vault_broker_serve(&b, "http", m, "{}", &msg, &err), VENOM_OK);
    assert_int_equal(next_calls, 1);
    mem_free(msg);

    /* the value handed out is scrubbed from later events; the provider
     * key set before stays scrubbed too */
    char id[32];
    assert_int_equal(store_run_new(log, "use the token", id, &err), 0);
    json_t *p = json_pack("{s:s, s:s}", "result", "the token is " TOKEN, "key", "sk-provider-key-1234");
    json_t *ev = NULL;
    assert_int_equal(store_append(log, id, "tool.result", p, &ev, &err), 0);
    char *text = json_dumps(ev, STORE_JSON_FLAGS);
    assert_null(strstr(text, "VAULTVALUE"));
    assert_non_null(strstr(text, "\"result\":\"the token is [REDACTED]\""));
    assert_non_null(strstr(text, "\"key\":\"[REDACTED]\""));
    free(text);
    json_decref(ev);
    json_decref(p);

    /* a wrong key is the skill's error, not a crash nor bytes */
    char *k2 = random_key_b64();
    setenv(VAULT_KEY_ENV, k2, 1);
    assert_int_equal(serve("secret", m, "API_TOKEN", &msg), VENOM_E_FAILED);
    has(msg, "another vault key");
    mem_free(msg);
    unsetenv(VAULT_KEY_ENV);
    mem_free(k2);

    host_set_broker(NULL, NULL);
    vault_broker_log(&b, NULL);
    vault_broker_release(&b);
    store_close(log);
    char *wal = mem_printf("%s-wal", dbpath);
    assert_false(file_contains(dbpath, "VAULTVALUE"));
    assert_false(file_contains(wal, "VAULTVALUE"));
    mem_free(wal);
    manifest_free(m);
}

/* The good fixture's host skill in a sandboxed worker reads TOKEN: the
 * request travels to this process, which serves it from the vault. */
static void test_broker_for_sandboxed_worker(void **state)
{
    (void)state;
    vault *v = open_ok();
    set_ok(v, "TOKEN", "sandboxed-vault-token", NULL);
    vault_free(v);
    char *dir = ts_fixture("good"), *mpath = NULL, *err = NULL;
    assert_true(asprintf(&mpath, "%s/venom.json", dir) > 0);
    char real[4096];
    assert_non_null(realpath(mpath, real));
    manifest *m = NULL;
    if (manifest_load(real, &m, &err) < 0)
        fail_msg("%s", err);
    char *work = ts_mkdtemp();
    sandbox_policy *p = NULL;
    if (sandbox_policy_new(m, work, &p, &err) < 0)
        fail_msg("%s", err);
    vault_broker b;
    assert_int_equal(vault_broker_init(&b, home, NULL, NULL), 0);
    host_set_broker(vault_broker_serve, &b);
    json_t *args = json_object();
    sandbox_result res;
    if (sandbox_call(p, real, "good.host", args, NULL, &res, &err) < 0)
        fail_msg("%s", err);
    if (res.code != 0)
        fail_msg("good.host failed: %s", res.error);
    assert_int_equal(json_integer_value(json_object_get(res.value, "secret")), VENOM_OK);
    assert_string_equal(json_string_value(json_object_get(res.value, "secret_value")), "sandboxed-vault-token");
    sandbox_result_release(&res);

    /* removed: the worker gets VENOM_E_NOTFOUND */
    v = open_ok();
    assert_int_equal(vault_rm(v, "TOKEN", &err), 0);
    vault_free(v);
    if (sandbox_call(p, real, "good.host", args, NULL, &res, &err) < 0)
        fail_msg("%s", err);
    assert_int_equal(json_integer_value(json_object_get(res.value, "secret")), VENOM_E_NOTFOUND);
    assert_string_equal(json_string_value(json_object_get(res.value, "secret_value")), "");
    sandbox_result_release(&res);

    host_set_broker(NULL, NULL);
    vault_broker_release(&b);
    json_decref(args);
    sandbox_policy_free(p);
    manifest_free(m);
    ts_rmtree(work);
    free(work);
    free(mpath);
    free(dir);
}

/* store_add_redactions keeps the earlier list and skips duplicates. */
static void test_add_redactions(void **state)
{
    (void)state;
    store *s = NULL;
    char *err = NULL;
    if (store_open(dbpath, &s, &err) < 0)
        fail_msg("%s", err);
    const char *a[] = {"first-secret"}, *b[] = {"second-secret-longer", "first-secret", "abc", "second-secret-longer"};
    assert_int_equal(store_add_redactions(s, a, 1), 0);
    assert_int_equal(store_add_redactions(s, b, 4), 0);
    assert_int_equal(store_add_redactions(s, NULL, 0), 0);
    char id[32];
    assert_int_equal(store_run_new(s, "g", id, &err), 0);
    json_t *p = json_pack("{s:s}", "x", "first-secret second-secret-longer abc");
    json_t *ev = NULL;
    assert_int_equal(store_append(s, id, "tool.result", p, &ev, &err), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "x")), "[REDACTED] [REDACTED] abc");
    json_decref(ev);
    json_decref(p);
    store_close(s);
}

int main(void)
{
    mem_install();
    signal(SIGPIPE, SIG_IGN);
    assert_true(sodium_init() >= 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_list_rm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_serves_and_redacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_for_sandboxed_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_redactions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
