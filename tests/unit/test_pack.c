/*
 * test_pack.c — pack archives (core/pack): deterministic build, content
 * manifest, keygen, sign, verify; hostile archives made with libarchive here
 * (changed, extra and missing files, unsafe paths, links, devices, setuid,
 * duplicates, oversized entries, forged and stale signatures).
 */
#include "testsupport.h"
#include "util/common.h"
#include "pack/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;  /* per-test scratch dir */
static char *pdir; /* the pack dir: tmp/src */

static const char *MANIFEST = "{\"name\": \"demo\", \"version\": \"0.3.1\", \"description\": \"a demo pack\",\n"
                              " \"library\": \"demo.so\",\n"
                              " \"skills\": [{\"name\": \"hello\", \"description\": \"Say hello\"}]}\n";

/* ---- helpers ------------------------------------------------------------ */

static char *path_in(const char *dir, const char *name)
{
    char *p = mem_printf("%s/%s", dir, name);
    assert_non_null(p);
    return p;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char *b = malloc((size_t)st.st_size + 1);
    assert_non_null(b);
    assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

/* The plugin: the built text skill's .so when there is one, else 100 KB of bytes. */
static void write_so(const char *dst)
{
    const char *out = getenv("VENOM_OUT");
    char *src = mem_printf("%s/lib/venom/skills/text/text.so", out ? out : ".");
    size_t len = 100000;
    unsigned char *b = NULL;
    if (src && access(src, R_OK) == 0) {
        b = slurp(src, &len);
    } else {
        b = malloc(len);
        assert_non_null(b);
        for (size_t i = 0; i < len; i++)
            b[i] = (unsigned char)(i * 2654435761u >> 13);
    }
    int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, len), (ssize_t)len);
    close(fd);
    free(b);
    mem_free(src);
}

static int setup(void **state)
{
    (void)state;
    tmp = ts_mkdtemp();
    pdir = path_in(tmp, "src");
    free(ts_write(pdir, "venom.json", MANIFEST));
    free(ts_write(pdir, "README.md", "# demo\n"));
    free(ts_write(pdir, "data/words.txt", "alpha\nbeta\n"));
    free(ts_write(pdir, "data/empty", ""));
    char *so = path_in(pdir, "demo.so");
    write_so(so);
    mem_free(so);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(tmp);
    free(tmp);
    mem_free(pdir);
    return 0;
}

static char *build(const char *name)
{
    char *out = path_in(tmp, name), *err = NULL, *got = NULL;
    int rc = pack_build(pdir, out, &got, &err);
    if (rc < 0)
        fail_msg("pack_build: %s", err ? err : "?");
    assert_string_equal(got, out);
    mem_free(got);
    return out;
}

static char *keygen(const char *name, char **pub)
{
    char *k = path_in(tmp, name), *err = NULL;
    char id[17];
    int rc = pack_keygen(k, pub, id, &err);
    if (rc < 0)
        fail_msg("pack_keygen: %s", err ? err : "?");
    return k;
}

/* The tampered archive t must fail to verify, with a one-line message holding each of the words. */
static void expect_bad(const ts_tarr *t, int want_rc, const char *w1, const char *w2)
{
    size_t len = 0;
    unsigned char *buf = ts_tarr_emit(t, &len);
    char *err = NULL;
    pack_info pi = {0};
    int rc = pack_verify_memory(buf, len, &pi, &err);
    if (rc >= 0)
        fail_msg("verified, expected an error with '%s'", w1);
    assert_int_equal(rc, want_rc);
    assert_non_null(err);
    assert_null(strchr(err, '\n'));
    if (!strstr(err, w1) || (w2 && !strstr(err, w2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err, w1, w2 ? w2 : "");
    assert_null(pi.name);
    mem_free(err);
    free(buf);
}

static void expect_good(const ts_tarr *t, pack_info *pi)
{
    size_t len = 0;
    unsigned char *buf = ts_tarr_emit(t, &len);
    char *err = NULL;
    int rc = pack_verify_memory(buf, len, pi, &err);
    if (rc < 0)
        fail_msg("pack_verify_memory: %s", err ? err : "?");
    free(buf);
}

/* ---- build -------------------------------------------------------------- */

static void test_build_deterministic(void **state)
{
    (void)state;
    char *a = build("a.tar.gz");
    sleep(1); /* a timestamp anywhere would now differ */
    char *b = build("b.tar.gz");
    size_t la, lb;
    unsigned char *ba = slurp(a, &la), *bb = slurp(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    assert_int_equal(ba[0], 0x1f); /* gzip, no mtime in its header */
    assert_int_equal(ba[1], 0x8b);
    assert_int_equal(ba[4] | ba[5] | ba[6] | ba[7], 0);

    ts_tarr t;
    ts_tarr_load(a, &t);
    const char *order[] = {"demo/CONTENTS.json", "demo/README.md", "demo/data/empty", "demo/data/words.txt",
                           "demo/demo.so", "demo/venom.json"};
    assert_int_equal(t.n, ARRAY_SIZE(order));
    for (size_t i = 0; i < t.n; i++) {
        assert_string_equal(t.v[i].path, order[i]);
        assert_int_equal(t.v[i].type, AE_IFREG);
        assert_int_equal(t.v[i].perm, !strcmp(order[i], "demo/demo.so") ? 0755 : 0644);
    }
    /* the content manifest stored is the one pack_contents computes */
    char *cj = NULL, *name = NULL, *version = NULL, *err = NULL;
    assert_int_equal(pack_contents(pdir, &cj, &name, &version, &err), 0);
    assert_string_equal(cj, t.v[0].data);
    assert_string_equal(name, "demo");
    assert_string_equal(version, "0.3.1");
    json_t *j = json_loads(cj, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "format")), 1);
    json_t *f1 = json_array_get(json_object_get(j, "files"), 2);
    assert_string_equal(json_string_value(json_object_get(f1, "path")), "data/words.txt");
    assert_int_equal(json_integer_value(json_object_get(f1, "size")), 11);
    /* sha256 of "alpha\nbeta\n" */
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)"alpha\nbeta\n", 11);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    assert_string_equal(json_string_value(json_object_get(f1, "sha256")), hex);
    json_decref(j);

    pack_info pi = {0};
    assert_int_equal(pack_verify(a, &pi, &err), 0);
    assert_string_equal(pi.name, "demo");
    assert_string_equal(pi.version, "0.3.1");
    assert_false(pi.is_signed);
    assert_null(pi.key);
    assert_int_equal(pi.n_files, 5);
    crypto_hash_sha256(h, (const unsigned char *)cj, strlen(cj));
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    assert_string_equal(pi.contents_sha256, hex);
    pack_info_release(&pi);

    /* a changed file changes the archive */
    free(ts_write(pdir, "README.md", "# demo!\n"));
    char *c = build("c.tar.gz");
    size_t lc;
    unsigned char *bc = slurp(c, &lc);
    assert_true(lc != la || memcmp(ba, bc, la) != 0);

    ts_tarr_release(&t);
    free(ba);
    free(bb);
    free(bc);
    mem_free(cj);
    mem_free(name);
    mem_free(version);
    mem_free(a);
    mem_free(b);
    mem_free(c);
}

static void test_build_default_name(void **state)
{
    (void)state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmp), 0);
    char *got = NULL, *err = NULL;
    int rc = pack_build(pdir, NULL, &got, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "demo-0.3.1.tar.gz");
    char *p = path_in(tmp, got);
    assert_int_equal(access(p, R_OK), 0);
    mem_free(p);
    mem_free(got);
}

static void expect_build_fails(const char *w1, const char *w2)
{
    char *out = path_in(tmp, "x.tar.gz"), *err = NULL;
    int rc = pack_build(pdir, out, NULL, &err);
    assert_true(rc < 0);
    assert_non_null(err);
    if (!strstr(err, w1) || (w2 && !strstr(err, w2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err, w1, w2 ? w2 : "");
    assert_int_equal(access(out, F_OK), -1); /* nothing written */
    mem_free(err);
    mem_free(out);
}

static void test_build_rejects(void **state)
{
    (void)state;
    char *p = path_in(pdir, "data/link");
    assert_int_equal(symlink("/etc/passwd", p), 0);
    expect_build_fails("data/link", "symbolic link");
    unlink(p);
    assert_int_equal(mkfifo(p, 0644), 0);
    expect_build_fails("data/link", "not a regular file");
    unlink(p);
    mem_free(p);

    free(ts_write(pdir, "CONTENTS.json", "{}"));
    expect_build_fails("CONTENTS.json", "reserved");
    p = path_in(pdir, "CONTENTS.json");
    unlink(p);
    mem_free(p);

    free(ts_write(pdir, "venom.json", "{\"name\": \"demo\"}"));
    expect_build_fails("venom.json", NULL);
    p = path_in(pdir, "venom.json");
    unlink(p);
    mem_free(p);
    expect_build_fails("no venom.json or venom.yaml", NULL);
}

/* ---- keys and signatures ------------------------------------------------ */

static void test_keygen(void **state)
{
    (void)state;
    char *pub = NULL, *err = NULL;
    char *k = path_in(tmp, "keys/sub/pack.key");
    char id[17];
    assert_int_equal(pack_keygen(k, &pub, id, &err), 0);
    assert_true(!strncmp(pub, "ed25519:", 8));
    assert_int_equal(strlen(pub), 8 + 44);
    struct stat st;
    assert_int_equal(stat(k, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char id2[17];
    assert_int_equal(pack_key_id(pub, id2, &err), 0);
    assert_string_equal(id, id2);
    assert_int_equal(strlen(id), 16);
    /* never overwritten */
    char *before = ts_read(k), *pub2 = NULL;
    assert_int_equal(pack_keygen(k, &pub2, NULL, &err), -EEXIST);
    assert_non_null(strstr(err, "already exists"));
    char *after = ts_read(k);
    assert_string_equal(before, after);
    assert_null(pub2);
    assert_int_equal(pack_key_id("ed25519:nope", id2, NULL), -EINVAL);
    free(before);
    free(after);
    mem_free(err);
    mem_free(pub);
    mem_free(k);
}

static void test_sign_verify(void **state)
{
    (void)state;
    char *pa = NULL, *pb = NULL, *err = NULL;
    char *ka = keygen("a.key", &pa), *kb = keygen("b.key", &pb);
    char ida[17], idb[17];
    assert_int_equal(pack_key_id(pa, ida, NULL), 0);
    assert_int_equal(pack_key_id(pb, idb, NULL), 0);
    char *p = build("p.tar.gz");
    pack_info before = {0}, pi = {0};
    assert_int_equal(pack_verify(p, &before, NULL), 0);

    assert_int_equal(pack_sign(p, ka, &pi, &err), 0);
    assert_true(pi.is_signed);
    assert_string_equal(pi.key_id, ida);
    pack_info_release(&pi);
    assert_int_equal(pack_verify(p, &pi, &err), 0);
    assert_true(pi.is_signed);
    assert_string_equal(pi.key, pa);
    assert_string_equal(pi.key_id, ida);
    assert_string_equal(pi.contents_sha256, before.contents_sha256);
    pack_info_release(&pi);

    /* re-signing with another key replaces the signature */
    assert_int_equal(pack_sign(p, kb, &pi, &err), 0);
    assert_string_equal(pi.key_id, idb);
    pack_info_release(&pi);
    ts_tarr t;
    ts_tarr_load(p, &t);
    size_t sigs = 0;
    for (size_t i = 0; i < t.n; i++)
        sigs += !strcmp(t.v[i].path, "demo/SIGNATURE.json");
    assert_int_equal(sigs, 1);
    ts_tarr_release(&t);

    /* a secret key others can read is refused */
    assert_int_equal(chmod(ka, 0644), 0);
    assert_int_equal(pack_sign(p, ka, NULL, &err), -EPERM);
    assert_non_null(strstr(err, "chmod 600"));
    /* not a key */
    char *junk = ts_write(tmp, "junk.key", "hello");
    assert_int_equal(chmod(junk, 0600), 0);
    assert_int_equal(pack_sign(p, junk, NULL, &err), -EINVAL);
    assert_non_null(strstr(err, "not a secret key"));
    /* a failed sign leaves the pack as it was */
    assert_int_equal(pack_verify(p, &pi, NULL), 0);
    assert_string_equal(pi.key_id, idb);
    pack_info_release(&pi);

    pack_info_release(&before);
    free(junk);
    mem_free(err);
    mem_free(pa);
    mem_free(pb);
    mem_free(ka);
    mem_free(kb);
    mem_free(p);
}

/* ---- hostile archives --------------------------------------------------- */

static void test_tampered(void **state)
{
    (void)state;
    char *p = build("p.tar.gz");
    ts_tarr t;
    pack_info pi = {0};

    /* the harness itself: re-emitting the entries unchanged still verifies */
    ts_tarr_load(p, &t);
    expect_good(&t, &pi);
    assert_string_equal(pi.name, "demo");
    pack_info_release(&pi);
    ts_tarr_release(&t);

#define CASE(mutate, rc, w1, w2)                                                                                   \
    do {                                                                                                           \
        ts_tarr_load(p, &t);                                                                                          \
        mutate;                                                                                                    \
        expect_bad(&t, rc, w1, w2);                                                                                \
        ts_tarr_release(&t);                                                                                          \
    } while (0)

    CASE(ts_tarr_find(&t, "demo/data/words.txt")->data[3] ^= 1, -EINVAL, "demo/data/words.txt", "SHA-256");
    CASE(ts_tarr_find(&t, "demo/demo.so")->data[5000] ^= 0x40, -EINVAL, "demo/demo.so", "SHA-256");
    CASE(ts_tarr_find(&t, "demo/README.md")->len--, -EINVAL, "demo/README.md", "bytes");
    CASE(ts_tarr_add(&t, "demo/extra.txt", AE_IFREG, "x"), -EINVAL, "demo/extra.txt", "not listed");
    CASE(ts_tarr_remove(&t, "demo/README.md"), -EINVAL, "demo/README.md", "missing");
    CASE(ts_tarr_remove(&t, "demo/CONTENTS.json"), -EINVAL, "demo/CONTENTS.json", "no ");
    CASE(ts_tarr_add(&t, "demo/../evil", AE_IFREG, "x"), -EINVAL, "demo/../evil", "unsafe path");
    CASE(ts_tarr_add(&t, "../evil", AE_IFREG, "x"), -EINVAL, "../evil", "unsafe path");
    CASE(ts_tarr_add(&t, "demo/./x", AE_IFREG, "x"), -EINVAL, "demo/./x", "unsafe path");
    CASE(ts_tarr_add(&t, "/etc/cron.d/evil", AE_IFREG, "x"), -EINVAL, "/etc/cron.d/evil", "absolute");
    CASE(ts_tarr_add(&t, "other/x", AE_IFREG, "x"), -EINVAL, "other/x", "top directory");
    CASE(ts_tarr_add(&t, "toplevel.txt", AE_IFREG, "x"), -EINVAL, "toplevel.txt", NULL);
    CASE(ts_tarr_add(&t, "demo/link", AE_IFLNK, NULL)->link = strdup("/etc/passwd"), -EINVAL, "demo/link",
         "symbolic link (to '/etc/passwd')");
    CASE((ts_tarr_add(&t, "demo/hl", AE_IFREG, NULL)->link = strdup("demo/README.md"), t.v[t.n - 1].hard = true),
         -EINVAL, "demo/hl", "hard link");
    CASE(ts_tarr_add(&t, "demo/fifo", AE_IFIFO, NULL), -EINVAL, "demo/fifo", "FIFO");
    CASE(ts_tarr_add(&t, "demo/dev", AE_IFCHR, NULL), -EINVAL, "demo/dev", "character device");
    CASE(ts_tarr_find(&t, "demo/demo.so")->perm = 04755, -EINVAL, "demo/demo.so", "setuid");
    CASE(ts_tarr_add(&t, "demo/README.md", AE_IFREG, "# demo\n"), -EINVAL, "demo/README.md", "twice");
    CASE(ts_tarr_add(&t, "demo/big", AE_IFREG, NULL)->size = (int64_t)PACK_MAX_FILE_SIZE + 1, -E2BIG, "demo/big",
         "64 MiB");
    CASE((free(ts_tarr_find(&t, "demo/CONTENTS.json")->data), ts_tarr_find(&t, "demo/CONTENTS.json")->data = strdup("{"),
          ts_tarr_find(&t, "demo/CONTENTS.json")->len = 1),
         -EINVAL, "demo/CONTENTS.json", "not valid JSON");
#undef CASE

    /* directory entries are fine */
    ts_tarr_load(p, &t);
    ts_tarr_add(&t, "demo/", AE_IFDIR, NULL)->perm = 0755;
    ts_tarr_add(&t, "demo/data/", AE_IFDIR, NULL)->perm = 0755;
    expect_good(&t, &pi);
    pack_info_release(&pi);
    ts_tarr_release(&t);

    /* not an archive at all */
    char *err = NULL;
    assert_int_equal(pack_verify_memory("garbage, not gzip", 17, &pi, &err), -EINVAL);
    assert_non_null(strstr(err, "not a readable pack archive"));
    assert_int_equal(pack_verify_memory("", 0, &pi, &err), -EINVAL);
    mem_free(err);
    mem_free(p);
}

static void test_entry_cap(void **state)
{
    (void)state;
    /* 10,001 empty directory entries: refused at the cap, not read to the end */
    size_t cap = 8u << 20, len = 0;
    unsigned char *buf = malloc(cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    assert_int_equal(archive_write_open_memory(a, buf, cap, &len), ARCHIVE_OK);
    for (unsigned i = 0; i <= PACK_MAX_ENTRIES; i++) {
        struct archive_entry *e = archive_entry_new();
        char name[64];
        snprintf(name, sizeof name, "demo/d%u/", i);
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0755);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    char *err = NULL;
    assert_int_equal(pack_verify_memory(buf, len, NULL, &err), -E2BIG);
    assert_non_null(strstr(err, "more than 10000 entries"));
    mem_free(err);
    free(buf);
}

static void test_forged_signatures(void **state)
{
    (void)state;
    char *pa = NULL, *err = NULL;
    char *ka = keygen("a.key", &pa);
    char *p = build("p.tar.gz");
    assert_int_equal(pack_sign(p, ka, NULL, &err), 0);
    ts_tarr t;

    /* CONTENTS.json edited after signing (hashes still right: only the version changed) */
    ts_tarr_load(p, &t);
    ts_tent *c = ts_tarr_find(&t, "demo/CONTENTS.json");
    char *v = strstr(c->data, "0.3.1");
    assert_non_null(v);
    v[4] = '2';
    expect_bad(&t, -EINVAL, "demo/SIGNATURE.json", "does not match CONTENTS.json");
    ts_tarr_release(&t);

    /* a signature by another key, claiming key a */
    ts_tarr_load(p, &t);
    c = ts_tarr_find(&t, "demo/CONTENTS.json");
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, (const unsigned char *)c->data, c->len, sk);
    char sig64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    char ida[17];
    assert_int_equal(pack_key_id(pa, ida, NULL), 0);
    ts_tent *s = ts_tarr_find(&t, "demo/SIGNATURE.json");
    free(s->data);
    s->data = mem_printf("{\"alg\":\"ed25519\",\"key\":\"%s\",\"key_id\":\"%s\",\"sig\":\"%s\"}", pa, ida, sig64);
    s->len = strlen(s->data);
    char *keep = strdup(s->data);
    mem_free(s->data);
    s->data = keep;
    expect_bad(&t, -EINVAL, "demo/SIGNATURE.json", ida);
    ts_tarr_release(&t);

    /* a key_id that is not the key's */
    ts_tarr_load(p, &t);
    s = ts_tarr_find(&t, "demo/SIGNATURE.json");
    char *kid = strstr(s->data, ida);
    assert_non_null(kid);
    kid[0] = kid[0] == '0' ? '1' : '0';
    expect_bad(&t, -EINVAL, "demo/SIGNATURE.json", "key_id");
    ts_tarr_release(&t);

    /* an unknown algorithm */
    ts_tarr_load(p, &t);
    s = ts_tarr_find(&t, "demo/SIGNATURE.json");
    char *alg = strstr(s->data, "ed25519\"");
    assert_non_null(alg);
    alg[0] = 'E';
    expect_bad(&t, -EINVAL, "demo/SIGNATURE.json", "unknown algorithm");
    ts_tarr_release(&t);

    /* the signed pack as written verifies */
    pack_info pi = {0};
    assert_int_equal(pack_verify(p, &pi, &err), 0);
    assert_true(pi.is_signed);
    assert_string_equal(pi.key_id, ida);
    pack_info_release(&pi);
    mem_free(err);
    mem_free(pa);
    mem_free(ka);
    mem_free(p);
}

int main(void)
{
    mem_install();
    assert_true(sodium_init() >= 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_build_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_default_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keygen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_signatures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
