/*
 * test_install.c — installing packs (core/pack/install.c): trust by signer,
 * the lock file, upgrade / unchanged / remove, re-checking installed files,
 * the registry refusing a modified install, trusted keys, and hostile
 * archives that must leave nothing behind — in the skill directory or
 * anywhere else.
 */
#include "testsupport.h"
#include "util/common.h"
#include "pack/pack.h"
#include "plugin/registry.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;    /* per-test scratch dir */
static char *src;    /* the pack dir: tmp/src (the fixture "good") */
static char *skills; /* the install target: tmp/home/skills */
static char *home;   /* tmp/home */

static char *path_in(const char *dir, const char *name)
{
    char *p = mem_printf("%s/%s", dir, name);
    assert_non_null(p);
    return p;
}

static int setup(void **state)
{
    (void)state;
    tmp = ts_mkdtemp();
    src = path_in(tmp, "src");
    home = path_in(tmp, "home");
    skills = path_in(home, "skills");
    assert_int_equal(mkdir(src, 0755), 0);
    char *fx = ts_fixture("good");
    char *a = path_in(fx, "venom.json"), *b = path_in(src, "venom.json");
    ts_copy_file(a, b, 0755);
    mem_free(a);
    mem_free(b);
    a = path_in(fx, "good.so");
    b = path_in(src, "good.so");
    ts_copy_file(a, b, 0755);
    mem_free(a);
    mem_free(b);
    free(fx);
    free(ts_write(src, "README.md", "# good\n"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(tmp);
    free(tmp);
    mem_free(src);
    mem_free(skills);
    mem_free(home);
    return 0;
}

static char *build(const char *name)
{
    char *out = path_in(tmp, name), *err = NULL;
    if (pack_build(src, out, NULL, &err) < 0)
        fail_msg("pack_build: %s", err ? err : "?");
    return out;
}

static char *keygen(const char *name, char **pub)
{
    char *k = path_in(tmp, name), *err = NULL;
    char id[17];
    if (pack_keygen(k, pub, id, &err) < 0)
        fail_msg("pack_keygen: %s", err ? err : "?");
    return k;
}

static void sign(const char *pack, const char *key)
{
    char *err = NULL;
    if (pack_sign(pack, key, NULL, &err) < 0)
        fail_msg("pack_sign: %s", err ? err : "?");
}

/* Install pack with the trusted keys of home; returns rc, *err the message. */
static int install(const char *pack, bool allow, pack_installed *r, char **err)
{
    json_t *keys = NULL;
    assert_int_equal(pack_trust_list(home, &keys, err), 0);
    pack_install_opts o = {.source = pack, .skills_dir = skills, .trusted_keys = keys, .allow_unsigned = allow};
    int rc = pack_install(&o, r, err);
    json_decref(keys);
    return rc;
}

static void install_ok(const char *pack, bool allow, pack_installed *r)
{
    char *err = NULL;
    if (install(pack, allow, r, &err) < 0)
        fail_msg("pack_install: %s", err ? err : "?");
    mem_free(err);
}

/* The names in dir, sorted, joined by spaces ("" when empty or missing). */
static char *listing(const char *dir)
{
    DIR *d = opendir(dir);
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && n < 64)
            names[n++] = strdup(e->d_name);
    if (d)
        closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    char *out = mem_strdup("");
    for (size_t i = 0; i < n; i++) {
        char *o2 = mem_printf("%s%s%s", out, i ? " " : "", names[i]);
        mem_free(out);
        out = o2;
        free(names[i]);
    }
    return out;
}

static json_t *lock_entry(const char *name)
{
    json_t *lock = NULL;
    char *err = NULL;
    assert_int_equal(pack_lock_read(skills, &lock, &err), 0);
    json_t *e = json_incref(json_object_get(json_object_get(lock, "packs"), name));
    json_decref(lock);
    return e;
}

/* ---- trust -------------------------------------------------------------- */

static void test_unsigned_and_signed(void **state)
{
    (void)state;
    char *p = build("good-1.0.0.tar.gz"), *err = NULL;
    pack_installed r;

    /* unsigned: refused, and nothing is left in the skill directory */
    assert_int_equal(install(p, false, &r, &err), -EACCES);
    assert_non_null(strstr(err, "not signed"));
    assert_non_null(strstr(err, "--allow-unsigned"));
    mem_free(err);
    err = NULL;
    char *l = listing(skills);
    assert_string_equal(l, ".venom.lock.lck");
    mem_free(l);

    /* allowed: installed, untrusted, recorded with every file's hash */
    install_ok(p, true, &r);
    assert_string_equal(r.name, "good");
    assert_string_equal(r.version, "1.0.0");
    assert_false(r.is_signed);
    assert_false(r.trusted);
    assert_false(r.unchanged);
    assert_null(r.previous);
    pack_installed_release(&r);
    json_t *e = lock_entry("good");
    assert_non_null(e);
    assert_true(json_is_null(json_object_get(e, "signer")));
    assert_string_equal(json_string_value(json_object_get(e, "version")), "1.0.0");
    json_t *files = json_object_get(e, "files");
    assert_int_equal(json_object_size(files), 4); /* CONTENTS.json README.md good.so venom.json */
    assert_non_null(json_object_get(files, "good.so"));
    assert_int_equal(strlen(json_string_value(json_object_get(files, "good.so"))), 64);
    assert_non_null(strstr(json_string_value(json_object_get(e, "source")), "good-1.0.0.tar.gz"));
    json_decref(e);

    /* signed by a key nobody trusts: refused with the key id */
    char *pub = NULL, *key = keygen("k1", &pub);
    sign(p, key);
    assert_int_equal(install(p, false, &r, &err), -EACCES);
    char id[17];
    assert_int_equal(pack_key_id(pub, id, NULL), 0);
    assert_non_null(strstr(err, id));
    assert_non_null(strstr(err, "venom trust add"));
    mem_free(err);
    err = NULL;

    /* trusted: the same content, now signed, replaces the unsigned install */
    bool added = false;
    char tid[17];
    assert_int_equal(pack_trust_add(home, pub, "me", tid, &added, &err), 0);
    assert_true(added);
    assert_string_equal(tid, id);
    install_ok(p, false, &r);
    assert_true(r.is_signed);
    assert_true(r.trusted);
    assert_false(r.unchanged);
    assert_string_equal(r.key_id, id);
    pack_installed_release(&r);
    e = lock_entry("good");
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "signer"), "key_id")), id);
    assert_non_null(json_object_get(json_object_get(e, "files"), "SIGNATURE.json"));
    json_decref(e);

    /* the same pack again: nothing to do */
    install_ok(p, false, &r);
    assert_true(r.unchanged);
    pack_installed_release(&r);

    /* the key given as a file works too; a secret key is refused with a warning */
    char *kf = ts_write(tmp, "pub.txt", pub);
    assert_int_equal(pack_trust_add(home, kf, NULL, tid, &added, &err), 0);
    assert_false(added);
    assert_int_equal(pack_trust_add(home, key, NULL, tid, &added, &err), -EINVAL);
    assert_non_null(strstr(err, "SECRET"));
    mem_free(err);
    err = NULL;
    assert_int_equal(pack_trust_add(home, "ed25519:abc", NULL, tid, &added, &err), -EINVAL);
    mem_free(err);
    err = NULL;

    /* no longer trusted: the next install needs --allow-unsigned */
    assert_int_equal(pack_trust_remove(home, id, &err), 0);
    assert_int_equal(pack_trust_remove(home, id, &err), -ENOENT);
    mem_free(err);
    err = NULL;
    json_t *keys = NULL;
    assert_int_equal(pack_trust_list(home, &keys, &err), 0);
    assert_int_equal(json_array_size(keys), 0);
    json_decref(keys);

    free(kf);
    mem_free(key);
    mem_free(pub);
    mem_free(p);
}

/* ---- upgrade, unmanaged directories, remove, verify -------------------- */

static void test_upgrade_remove_verify(void **state)
{
    (void)state;
    char *p1 = build("v1.tar.gz"), *err = NULL;
    pack_installed r;
    install_ok(p1, true, &r);
    pack_installed_release(&r);

    /* v2: a new version replaces v1 in one rename */
    char *mp = path_in(src, "venom.json"), *m = ts_read(mp);
    mem_free(mp);
    assert_non_null(m);
    char *v = strstr(m, "\"1.0.0\"");
    assert_non_null(v);
    memcpy(v, "\"2.0.0\"", 7);
    free(ts_write(src, "venom.json", m));
    free(ts_write(src, "NEW.txt", "new in 2\n"));
    free(m);
    char *p2 = build("v2.tar.gz");
    install_ok(p2, true, &r);
    assert_string_equal(r.version, "2.0.0");
    assert_string_equal(r.previous, "1.0.0");
    pack_installed_release(&r);
    char *l = listing(skills);
    assert_string_equal(l, ".venom.lock.lck good venom.lock"); /* no temp dir left */
    mem_free(l);
    char *gd = path_in(skills, "good");
    l = listing(gd);
    assert_string_equal(l, "CONTENTS.json NEW.txt README.md good.so venom.json");
    mem_free(l);

    /* verify: intact, then three kinds of change */
    json_t *rep = NULL;
    assert_int_equal(pack_verify_installed(skills, NULL, &rep, &err), 0);
    assert_int_equal(json_array_size(rep), 1);
    assert_true(json_is_true(json_object_get(json_array_get(rep, 0), "ok")));
    json_decref(rep);
    char *f = path_in(gd, "README.md");
    assert_int_equal(unlink(f), 0);
    mem_free(f);
    free(ts_write(gd, "added.txt", "x"));
    free(ts_write(gd, "NEW.txt", "changed\n"));
    assert_int_equal(pack_verify_installed(skills, "good", &rep, &err), 0);
    json_t *pr = json_object_get(json_array_get(rep, 0), "problems");
    assert_false(json_is_true(json_object_get(json_array_get(rep, 0), "ok")));
    assert_int_equal(json_array_size(pr), 3);
    char *all = json_dumps(pr, 0);
    assert_non_null(strstr(all, "README.md is missing"));
    assert_non_null(strstr(all, "NEW.txt was modified"));
    assert_non_null(strstr(all, "added.txt was added"));
    free(all);
    json_decref(rep);
    assert_int_equal(pack_verify_installed(skills, "nope", &rep, &err), -ENOENT);
    mem_free(err);
    err = NULL;

    /* a changed install is not "unchanged": reinstalling v2 repairs it */
    install_ok(p2, true, &r);
    assert_false(r.unchanged);
    pack_installed_release(&r);
    assert_int_equal(pack_verify_installed(skills, "good", &rep, &err), 0);
    assert_true(json_is_true(json_object_get(json_array_get(rep, 0), "ok")));
    json_decref(rep);

    /* remove; again; a directory the lock file does not know is never touched */
    char *ver = NULL;
    assert_int_equal(pack_remove(skills, "good", &ver, &err), 0);
    assert_string_equal(ver, "2.0.0");
    mem_free(ver);
    l = listing(skills);
    assert_string_equal(l, ".venom.lock.lck venom.lock");
    mem_free(l);
    assert_int_equal(pack_remove(skills, "good", NULL, &err), -ENOENT);
    mem_free(err);
    err = NULL;
    assert_int_equal(mkdir(gd, 0755), 0);
    free(ts_write(gd, "mine.txt", "hand-made"));
    assert_int_equal(pack_remove(skills, "good", NULL, &err), -EPERM);
    mem_free(err);
    err = NULL;
    assert_int_equal(install(p2, true, &r, &err), -EEXIST);
    assert_non_null(strstr(err, "not installed by 'venom skill install'"));
    mem_free(err);
    char *mine = path_in(gd, "mine.txt");
    assert_int_equal(access(mine, F_OK), 0);
    mem_free(mine);

    mem_free(gd);
    mem_free(p1);
    mem_free(p2);
}

/* ---- the registry and installed packs ----------------------------------- */

static registry *open_registry(const json_t *keys)
{
    const char *dirs[] = {skills};
    registry_opts o = {.dirs = dirs, .n_dirs = 1, .trusted_keys = keys};
    registry *r = NULL;
    char *err = NULL;
    if (registry_new(&o, &r, &err) < 0)
        fail_msg("registry_new: %s", err ? err : "?");
    return r;
}

static void test_registry_checks(void **state)
{
    (void)state;
    char *p = build("good.tar.gz"), *err = NULL, *pub = NULL, *key = keygen("k", &pub);
    pack_installed r;
    install_ok(p, true, &r);
    pack_installed_release(&r);

    /* unsigned: always sandboxed, even though its manifest asks for in-process */
    registry *reg = open_registry(NULL);
    const reg_skill *s = registry_find(reg, "good.echo");
    assert_non_null(s);
    assert_true(reg_skill_sandboxed(reg, s));
    registry_free(reg);

    /* signed by a trusted key: trusted, loads in-process */
    sign(p, key);
    bool added;
    char id[17];
    assert_int_equal(pack_trust_add(home, pub, NULL, id, &added, &err), 0);
    install_ok(p, false, &r);
    pack_installed_release(&r);
    json_t *keys = NULL;
    assert_int_equal(pack_trust_list(home, &keys, &err), 0);
    reg = open_registry(keys);
    s = registry_find(reg, "good.echo");
    assert_false(reg_skill_sandboxed(reg, s));
    assert_int_equal(registry_load(reg, s, &err), 0);
    registry_free(reg);

    /* the .so changed after install: refused before any of it runs */
    char *gd = path_in(skills, "good"), *so = path_in(gd, "good.so");
    int fd = open(so, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    reg = open_registry(keys);
    s = registry_find(reg, "good.echo");
    assert_non_null(s);
    assert_int_equal(registry_load(reg, s, &err), REGISTRY_E_LOAD);
    assert_non_null(strstr(err, "good.so was modified after it was installed"));
    assert_int_equal(registry_loaded(reg), 0);
    mem_free(err);
    err = NULL;
    registry_free(reg);

    /* the manifest changed (say, to widen its permissions): the pack is refused */
    install_ok(p, false, &r);
    pack_installed_release(&r);
    char *mp = path_in(gd, "venom.json"), *m = ts_read(mp);
    mem_free(mp);
    char *w = strstr(m, "\"read\": [\".\"]");
    assert_non_null(w);
    memcpy(w, "\"read\": [\"/\"]", 13);
    free(ts_write(gd, "venom.json", m));
    free(m);
    reg = open_registry(keys);
    assert_null(registry_find(reg, "good.echo"));
    assert_int_equal(registry_problem_count(reg), 1);
    assert_non_null(strstr(registry_problem(reg, 0), "venom.json was modified after it was installed"));
    registry_free(reg);

    /* a lock file that is not one: every pack of the directory is ignored, with why */
    free(ts_write(skills, "venom.lock", "{\"format\": 1, \"packs\": {\"good\": 7}}"));
    reg = open_registry(keys);
    assert_int_equal(registry_skill_count(reg), 0);
    assert_non_null(strstr(registry_problem(reg, 0), "not a venom lock file"));
    registry_free(reg);

    json_decref(keys);
    mem_free(so);
    mem_free(gd);
    mem_free(key);
    mem_free(pub);
    mem_free(p);
}

/* ---- hostile archives --------------------------------------------------- */

/* Install the archive t must fail with both words in a one-line message,
 * and leave the skill directory and the scratch dir as they were. */
static void expect_refused(const ts_tarr *t, const char *w1, const char *w2)
{
    size_t len = 0;
    unsigned char *buf = ts_tarr_emit(t, &len);
    char *arc = path_in(tmp, "hostile.tar.gz");
    int fd = open(arc, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
    free(buf);
    char *before = listing(tmp), *err = NULL;
    pack_installed r;
    int rc = install(arc, true, &r, &err);
    if (rc >= 0)
        fail_msg("installed, expected an error with '%s'", w1);
    assert_non_null(err);
    assert_null(strchr(err, '\n'));
    if (!strstr(err, w1) || (w2 && !strstr(err, w2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err, w1, w2 ? w2 : "");
    char *after = listing(tmp), *in = listing(skills);
    assert_string_equal(before, after);
    assert_string_equal(in, ".venom.lock.lck");
    mem_free(before);
    mem_free(after);
    mem_free(in);
    mem_free(err);
    mem_free(arc);
}

static void test_hostile(void **state)
{
    (void)state;
    char *p = build("good.tar.gz");
    ts_tarr t;
    assert_int_equal(mkdir(home, 0700), 0);
    assert_int_equal(mkdir(skills, 0755), 0);
#define CASE(mutate, w1, w2)                                                                                       \
    do {                                                                                                           \
        ts_tarr_load(p, &t);                                                                                       \
        mutate;                                                                                                    \
        expect_refused(&t, w1, w2);                                                                                \
        ts_tarr_release(&t);                                                                                       \
    } while (0)
    CASE(ts_tarr_add(&t, "good/../evil", AE_IFREG, "x"), "good/../evil", "unsafe path");
    CASE(ts_tarr_add(&t, "../../evil", AE_IFREG, "x"), "../../evil", "unsafe path");
    CASE(ts_tarr_add(&t, "/tmp/evil", AE_IFREG, "x"), "/tmp/evil", "absolute");
    CASE(ts_tarr_add(&t, "good/link", AE_IFLNK, NULL)->link = strdup("/etc/passwd"), "good/link", "symbolic link");
    CASE(ts_tarr_add(&t, "good/up", AE_IFLNK, NULL)->link = strdup("../../.."), "good/up", "symbolic link");
    CASE((ts_tarr_add(&t, "good/hl", AE_IFREG, NULL)->link = strdup("/etc/shadow"), t.v[t.n - 1].hard = true),
         "good/hl", "hard link");
    CASE(ts_tarr_add(&t, "good/fifo", AE_IFIFO, NULL), "good/fifo", "FIFO");
    CASE(ts_tarr_add(&t, "good/dev", AE_IFBLK, NULL), "good/dev", "block device");
    CASE(ts_tarr_find(&t, "good/good.so")->perm = 06755, "good/good.so", "setuid");
    CASE(ts_tarr_add(&t, "good/README.md", AE_IFREG, "# good\n"), "good/README.md", "twice");
    CASE((ts_tarr_add(&t, "good/d", AE_IFREG, "x"), ts_tarr_add(&t, "good/d/x", AE_IFREG, "y")), "good/d",
         "both a file and a directory");
    CASE(ts_tarr_add(&t, "good/big", AE_IFREG, NULL)->size = (int64_t)PACK_MAX_FILE_SIZE + 1, "good/big", "64 MiB");
    CASE(ts_tarr_add(&t, "good/extra", AE_IFREG, "not listed"), "good/extra", "not listed");
    CASE(ts_tarr_add(&t, "other/x", AE_IFREG, "x"), "other/x", "top directory");
#undef CASE

    /* a decompression bomb: 40 MiB of zeros in a ~40 KB archive */
    ts_tarr_load(p, &t);
    ts_tent *z = ts_tarr_add(&t, "good/zeros", AE_IFREG, NULL);
    free(z->data);
    z->len = 40u << 20;
    z->data = calloc(1, z->len + 1);
    assert_non_null(z->data);
    expect_refused(&t, "good/zeros", "decompression bomb");
    ts_tarr_release(&t);

    /* a signature over different content: v1's SIGNATURE.json grafted onto changed files */
    char *pub = NULL, *key = keygen("k", &pub);
    sign(p, key);
    ts_tarr signed_t;
    ts_tarr_load(p, &signed_t);
    free(ts_write(src, "README.md", "# changed after signing\n"));
    char *p2 = build("good2.tar.gz");
    ts_tarr_load(p2, &t);
    ts_tent *sig = ts_tarr_find(&signed_t, "good/SIGNATURE.json");
    ts_tarr_add(&t, "good/SIGNATURE.json", AE_IFREG, sig->data);
    expect_refused(&t, "good/SIGNATURE.json", "does not match");
    ts_tarr_release(&t);
    ts_tarr_release(&signed_t);
    mem_free(p2);
    mem_free(key);
    mem_free(pub);
    mem_free(p);
}

/* ELF e_machine of the fixture .so set to m (little-endian). */
static void set_machine(const char *so, uint16_t m)
{
    int fd = open(so, O_WRONLY);
    unsigned char b[2] = {(unsigned char)(m & 0xff), (unsigned char)(m >> 8)};
    assert_int_equal(pwrite(fd, b, 2, 18), 2);
    close(fd);
}

static void test_architectures(void **state)
{
    (void)state;
    char *so = path_in(src, "good.so"), *err = NULL;
    pack_installed r;
#if defined(__x86_64__)
    const char *host = "x86_64-linux-gnu", *other = "aarch64-linux-gnu";
    uint16_t other_m = 183; /* EM_AARCH64 */
#elif defined(__aarch64__)
    const char *host = "aarch64-linux-gnu", *other = "x86_64-linux-gnu";
    uint16_t other_m = 62; /* EM_X86_64 */
#else
    skip();
    const char *host = "", *other = "";
    uint16_t other_m = 0;
#endif
    assert_string_equal(pack_host_triplet(), host);

    /* the plugin is built for another machine */
    set_machine(so, other_m);
    char *p = build("other.tar.gz");
    assert_int_equal(install(p, true, &r, &err), -ENOEXEC);
    assert_non_null(strstr(err, other));
    assert_non_null(strstr(err, host));
    mem_free(err);
    err = NULL;
    mem_free(p);

    /* a .so in lib/<triplet>/ must be for that triplet */
    set_machine(so, host[0] == 'x' ? 62 : 183);
    char *libdir = mem_printf("%s/lib/%s", src, other);
    char *cmd = mem_printf("mkdir -p '%s' && cp '%s' '%s/good.so'", libdir, so, libdir);
    assert_int_equal(system(cmd), 0);
    p = build("mislabelled.tar.gz");
    assert_int_equal(install(p, true, &r, &err), -ENOEXEC);
    assert_non_null(strstr(err, "its directory says"));
    char *l = listing(skills);
    assert_string_equal(l, ".venom.lock.lck");
    mem_free(l);
    mem_free(err);
    mem_free(cmd);
    mem_free(libdir);
    mem_free(p);
    mem_free(so);
}

/* ---- fetching ----------------------------------------------------------- */

static void test_fetch(void **state)
{
    (void)state;
    char *p = build("with space.tar.gz"), *buf = NULL, *where = NULL, *err = NULL;
    size_t len = 0;
    char *url = mem_printf("file://%s/with%%20space.tar.gz", tmp);
    assert_int_equal(pack_fetch(url, &buf, &len, &where, &err), 0);
    assert_true(len > 100);
    assert_non_null(strstr(where, "with space.tar.gz"));
    mem_free(buf);
    mem_free(where);
    assert_int_equal(pack_fetch("ftp://example.org/x.tar.gz", &buf, &len, NULL, &err), -EINVAL);
    assert_non_null(strstr(err, "unsupported URL scheme"));
    assert_int_equal(pack_fetch("file://relative/x", &buf, &len, NULL, &err), -EINVAL);
    assert_int_equal(pack_fetch("/no/such/pack.tar.gz", &buf, &len, NULL, &err), -ENOENT);
    assert_non_null(strstr(err, "no such file"));
    mem_free(err);
    mem_free(url);
    mem_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unsigned_and_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_remove_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_architectures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
