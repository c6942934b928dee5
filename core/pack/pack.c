/*
 * pack.c — build, sign and verify skill pack archives (pack.h, docs/packs.md).
 */
#include "util/common.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack/pack.h"
#include "plugin/manifest.h"
#include "plugin/skillmd.h"
#include "util/doc.h"
#include "util/err.h"
#include "util/file.h"

#define CHUNK 65536
#define B64 sodium_base64_VARIANT_ORIGINAL
#define KEY_PREFIX "ed25519:"
#define SECRET_PREFIX "ed25519-secret:"

/* ---- small helpers ------------------------------------------------------ */

static int sodium_ready(char **err)
{
    if (sodium_init() < 0)
        return err_set(err, -EIO, "libsodium could not start (sodium_init failed)");
    return 0;
}

static char *b64(const unsigned char *bin, size_t n)
{
    size_t l = sodium_base64_ENCODED_LEN(n, B64);
    char *s = mem_alloc(l);
    if (s)
        sodium_bin2base64(s, l, bin, n, B64);
    return s;
}

/* Decode exactly n bytes of base64; -1 otherwise. */
static int unb64(const char *s, unsigned char *bin, size_t n)
{
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(bin, n, s, strlen(s), NULL, &got, &end, B64) != 0 || got != n || *end)
        return -1;
    return 0;
}

static void key_id_of(const unsigned char pk[crypto_sign_PUBLICKEYBYTES], char id[17])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    crypto_hash_sha256(h, pk, crypto_sign_PUBLICKEYBYTES);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    memcpy(id, hex, 16);
    id[16] = '\0';
}

static int parse_public(const char *s, unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
    if (!s || strncmp(s, KEY_PREFIX, strlen(KEY_PREFIX)) != 0)
        return -1;
    return unb64(s + strlen(KEY_PREFIX), pk, crypto_sign_PUBLICKEYBYTES);
}

void pack_info_release(pack_info *pi)
{
    if (!pi)
        return;
    mem_free(pi->name);
    mem_free(pi->version);
    mem_free(pi->key);
    *pi = (pack_info){0};
}

int pack_key_id(const char *public_key, char key_id[17], char **err)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    int rc = sodium_ready(err);
    if (rc < 0)
        return rc;
    if (parse_public(public_key, pk) < 0)
        return err_set(err, -EINVAL, "'%.80s' is not a public key; expected ed25519:<base64 of 32 bytes>",
                       public_key ? public_key : "");
    key_id_of(pk, key_id);
    return 0;
}

/* A path inside the pack, relative to its top dir: no empty, "." or ".."
 * components, not absolute. */
static bool rel_path_ok(const char *p)
{
    if (!*p || *p == '/')
        return false;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n;
        if (*s == '/')
            s++;
        if (!*s && s[-1] == '/')
            return false;
    }
    return true;
}

/* ---- the pack directory ------------------------------------------------- */

typedef struct pfile {
    char *rel;
    uint64_t size;
    bool exec;
    char sha[65];
} pfile;

typedef struct flist {
    pfile *v;
    size_t n, cap;
} flist;

static void flist_release(flist *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        mem_free(fl->v[i].rel);
    mem_free(fl->v);
    *fl = (flist){0};
}

static int cmp_pfile(const void *a, const void *b)
{
    return strcmp(((const pfile *)a)->rel, ((const pfile *)b)->rel);
}

static int walk(const char *root, const char *rel, flist *fl, char **err)
{
    char *path = rel ? mem_printf("%s/%s", root, rel) : mem_strdup(root);
    if (!path)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    DIR *d = opendir(path);
    if (!d) {
        rc = err_set(err, -errno, "cannot read the directory %s: %s", path, strerror(errno));
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (!rel && (!strcmp(de->d_name, PACK_CONTENTS) || !strcmp(de->d_name, PACK_SIGNATURE))) {
            rc = err_set(err, -EINVAL, "%s/%s: the name is reserved for the pack archive; remove or rename it",
                         path, de->d_name);
            goto out;
        }
        char *crel = rel ? mem_printf("%s/%s", rel, de->d_name) : mem_strdup(de->d_name);
        char *full = crel ? mem_printf("%s/%s", root, crel) : NULL;
        struct stat st;
        if (!full) {
            mem_free(crel);
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        if (lstat(full, &st) < 0) {
            rc = err_set(err, -errno, "cannot stat %s: %s", full, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(root, crel, fl, err);
        } else if (S_ISLNK(st.st_mode)) {
            rc = err_set(err, -EINVAL,
                         "%s is a symbolic link; a pack holds only regular files and directories: replace it "
                         "with a copy of what it points to",
                         full);
        } else if (!S_ISREG(st.st_mode)) {
            rc = err_set(err, -EINVAL,
                         "%s is not a regular file (a device, FIFO or socket); a pack holds only regular files "
                         "and directories: remove it",
                         full);
        } else if (fl->n >= PACK_MAX_ENTRIES) {
            rc = err_set(err, -E2BIG, "%s: the pack has more than %u files; a pack holds at most %u", root,
                         PACK_MAX_ENTRIES, PACK_MAX_ENTRIES);
        } else {
            if (fl->n == fl->cap) {
                size_t cap = fl->cap ? fl->cap * 2 : 32;
                pfile *v = mem_realloc(fl->v, cap * sizeof *v);
                if (!v) {
                    rc = err_set(err, -ENOMEM, "out of memory");
                    goto next;
                }
                fl->v = v;
                fl->cap = cap;
            }
            fl->v[fl->n++] = (pfile){.rel = crel, .size = (uint64_t)st.st_size, .exec = (st.st_mode & 0111) != 0};
            crel = NULL;
        }
    next:
        mem_free(crel);
        mem_free(full);
        if (rc < 0)
            goto out;
    }
out:
    if (d)
        closedir(d);
    mem_free(path);
    return rc;
}

int pack_hash_fd(int fd, void *archive, uint64_t cap, uint64_t *size, char hex[65])
{
    struct archive *a = archive;
    unsigned char *buf = mem_alloc(CHUNK);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (cap && total > cap) {
            rc = -E2BIG;
            break;
        }
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
        if (a && archive_write_data(a, buf, (size_t)n) != n) {
            rc = -EIO;
            break;
        }
    }
    mem_free(buf);
    if (rc < 0)
        return rc;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
    if (size)
        *size = total;
    return 0;
}

/* Hash the file at path (streamed); with a, also write its bytes there. */
static int hash_file(const char *path, struct archive *a, uint64_t *size, char hex[65], char **err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    int rc = pack_hash_fd(fd, a, PACK_MAX_FILE_SIZE, size, hex);
    close(fd);
    if (rc == -E2BIG)
        return err_set(err, rc, "%s is larger than %llu MiB, the cap on a file in a pack", path,
                       PACK_MAX_FILE_SIZE >> 20);
    if (rc == -EIO && a)
        return err_set(err, rc, "cannot write %s into the archive: %s", path, archive_error_string(a));
    if (rc == -ENOMEM)
        return err_set(err, rc, "out of memory");
    if (rc < 0)
        return err_set(err, rc, "cannot read %s: %s", path, strerror(-rc));
    return 0;
}

/* The pack's manifest name/version and its files, sorted and hashed. */
static int collect(const char *dir, char **name, char **version, flist *fl, char **err)
{
    char *mpath = NULL;
    manifest *m = NULL;
    int rc = sodium_ready(err);
    if (rc < 0)
        return rc;
    if ((rc = manifest_find(dir, &mpath, err)) < 0)
        goto out;
    /* parsed, not loaded: a pack may be built here for other machines only
     * (its lib/<triplet>/ .so files need not include this one's) */
    char *mtext = NULL;
    size_t mlen = 0;
    if ((rc = file_read(mpath, DOC_MAX_BYTES, false, &mtext, &mlen, err)) < 0) {
        if (rc == -ENOENT)
            rc = err_set(err, -ENOENT, "%s: no such file", mpath);
        goto out;
    }
    rc = manifest_parse(mtext, mlen, mpath, &m, err);
    mem_free(mtext);
    if (rc < 0)
        goto out;
    skillmd *sk = NULL;
    if ((rc = skillmd_load(dir, m->name, &sk, err)) < 0 && rc != -ENOENT)
        goto out;
    skillmd_free(sk);
    rc = 0;
    *name = mem_strdup(m->name);
    *version = mem_strdup(m->version);
    if (!*name || !*version) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = walk(dir, NULL, fl, err)) < 0)
        goto out;
    qsort(fl->v, fl->n, sizeof *fl->v, cmp_pfile);
    uint64_t total = 0;
    for (size_t i = 0; i < fl->n; i++) {
        char *full = mem_printf("%s/%s", dir, fl->v[i].rel);
        if (!full) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        rc = hash_file(full, NULL, &fl->v[i].size, fl->v[i].sha, err);
        mem_free(full);
        if (rc < 0)
            goto out;
        total += fl->v[i].size;
        if (total > PACK_MAX_TOTAL_SIZE) {
            rc = err_set(err, -E2BIG, "%s: the files add up to more than %llu MiB, the cap on a pack", dir,
                         PACK_MAX_TOTAL_SIZE >> 20);
            goto out;
        }
    }
out:
    if (rc < 0) {
        mem_free(*name);
        mem_free(*version);
        *name = *version = NULL;
        flist_release(fl);
    }
    manifest_free(m);
    mem_free(mpath);
    return rc;
}

static char *contents_text(const char *name, const char *version, const flist *fl)
{
    json_t *files = json_array();
    for (size_t i = 0; files && i < fl->n; i++) {
        if (json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "path", fl->v[i].rel, "size",
                                                   (json_int_t)fl->v[i].size, "sha256", fl->v[i].sha)) < 0) {
            json_decref(files);
            return NULL;
        }
    }
    json_t *o = json_pack("{s:i, s:s, s:s, s:o}", "format", PACK_FORMAT, "pack", name, "version", version, "files",
                          files);
    char *s = o ? json_dumps(o, JSON_INDENT(1)) : NULL;
    json_decref(o);
    if (!s)
        return NULL;
    char *t = mem_printf("%s\n", s);
    free(s);
    return t;
}

int pack_contents(const char *dir, char **json_out, char **name_out, char **version_out, char **err)
{
    if (!dir || !json_out)
        return err_set(err, -EINVAL, "pack_contents: no directory");
    char *name = NULL, *version = NULL;
    flist fl = {0};
    int rc = collect(dir, &name, &version, &fl, err);
    if (rc < 0)
        return rc;
    *json_out = contents_text(name, version, &fl);
    if (!*json_out)
        rc = err_set(err, -ENOMEM, "out of memory");
    flist_release(&fl);
    if (name_out && rc == 0)
        *name_out = name;
    else
        mem_free(name);
    if (version_out && rc == 0)
        *version_out = version;
    else
        mem_free(version);
    return rc;
}

/* ---- writing archives --------------------------------------------------- */

/* True when path names a .zip (else the archive is a .tar.gz). */
static bool is_zip(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n >= 4 && !strcasecmp(path + n - 4, ".zip");
}

/* A writer of a .tar.gz, or of a .zip when zip is set (deflate; the fixed
 * modification time makes both deterministic). */
static struct archive *writer_new(int fd, bool zip, char **err)
{
    struct archive *a = archive_write_new();
    if (!a) {
        err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    bool ok = zip ? archive_write_set_format_zip(a) == ARCHIVE_OK &&
                        archive_write_set_options(a, "zip:compression=deflate") == ARCHIVE_OK
                  : archive_write_set_format_pax_restricted(a) == ARCHIVE_OK &&
                        archive_write_add_filter_gzip(a) == ARCHIVE_OK &&
                        archive_write_set_options(a, "gzip:!timestamp") == ARCHIVE_OK &&
                        archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK;
    if (!ok || archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        err_set(err, -EIO, "cannot start the archive: %s", archive_error_string(a));
        archive_write_free(a);
        return NULL;
    }
    return a;
}

static int write_header(struct archive *a, const char *path, bool dir, uint64_t size, int perm, char **err)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return err_set(err, -ENOMEM, "out of memory");
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, (mode_t)perm);
    archive_entry_set_size(e, dir ? 0 : (la_int64_t)size);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int rc = 0;
    if (archive_write_header(a, e) != ARCHIVE_OK)
        rc = err_set(err, -EIO, "cannot write the entry %s: %s", path, archive_error_string(a));
    archive_entry_free(e);
    return rc;
}

static int write_mem(struct archive *a, const char *path, const char *data, size_t len, char **err)
{
    int rc = write_header(a, path, false, len, 0644, err);
    if (rc == 0 && len && archive_write_data(a, data, len) != (la_ssize_t)len)
        rc = err_set(err, -EIO, "cannot write the entry %s: %s", path, archive_error_string(a));
    return rc;
}

/* A temp file next to path: *tmp (mem_alloc'd), returns the fd or a negative code. */
static int temp_next_to(const char *path, char **tmp, char **err)
{
    const char *slash = strrchr(path, '/');
    *tmp = slash ? mem_printf("%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1)
                 : mem_printf(".%s.XXXXXX", path);
    if (!*tmp)
        return err_set(err, -ENOMEM, "out of memory");
    int fd = mkostemp(*tmp, O_CLOEXEC);
    if (fd < 0) {
        int rc = err_set(err, -errno, "cannot create a temp file next to %s: %s", path, strerror(errno));
        mem_free(*tmp);
        *tmp = NULL;
        return rc;
    }
    return fd;
}

/* Close the writer and the fd, then rename tmp over path (or unlink on failure). */
static int finish_temp(struct archive *a, int fd, char *tmp, const char *path, int rc, char **err)
{
    if (a) {
        if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
            rc = err_set(err, -EIO, "cannot finish the archive %s: %s", path, archive_error_string(a));
        archive_write_free(a);
    }
    if (fd >= 0) {
        if (rc == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
            rc = err_set(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
        if (close(fd) < 0 && rc == 0)
            rc = err_set(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (tmp) {
        if (rc == 0 && rename(tmp, path) < 0)
            rc = err_set(err, -errno, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        if (rc < 0)
            unlink(tmp);
        mem_free(tmp);
    }
    return rc;
}

int pack_build(const char *dir, const char *out_path, char **path_out, char **err)
{
    if (!dir)
        return err_set(err, -EINVAL, "pack_build: no directory");
    char *name = NULL, *version = NULL, *contents = NULL, *out = NULL, *tmp = NULL;
    flist fl = {0};
    struct archive *a = NULL;
    int fd = -1;
    int rc = collect(dir, &name, &version, &fl, err);
    if (rc < 0)
        return rc;
    contents = contents_text(name, version, &fl);
    out = out_path ? mem_strdup(out_path) : mem_printf("%s-%s.tar.gz", name, version);
    if (!contents || !out) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if ((fd = temp_next_to(out, &tmp, err)) < 0) {
        rc = fd;
        goto out;
    }
    if (!(a = writer_new(fd, is_zip(out), err))) {
        rc = -EIO;
        goto out;
    }
    char *p = mem_printf("%s/%s", name, PACK_CONTENTS);
    rc = p ? write_mem(a, p, contents, strlen(contents), err) : err_set(err, -ENOMEM, "out of memory");
    mem_free(p);
    for (size_t i = 0; rc == 0 && i < fl.n; i++) {
        char *full = mem_printf("%s/%s", dir, fl.v[i].rel);
        char *ap = mem_printf("%s/%s", name, fl.v[i].rel);
        char sha[65];
        uint64_t size = 0;
        if (!full || !ap)
            rc = err_set(err, -ENOMEM, "out of memory");
        else if ((rc = write_header(a, ap, false, fl.v[i].size, fl.v[i].exec ? 0755 : 0644, err)) == 0 &&
                 (rc = hash_file(full, a, &size, sha, err)) == 0 &&
                 (size != fl.v[i].size || strcmp(sha, fl.v[i].sha) != 0))
            rc = err_set(err, -EAGAIN, "%s changed while the pack was being built; build it again", full);
        mem_free(full);
        mem_free(ap);
    }
out:
    rc = finish_temp(a, fd, tmp, out ? out : "", rc, err);
    if (rc == 0 && path_out) {
        *path_out = out;
        out = NULL;
    }
    mem_free(out);
    mem_free(contents);
    mem_free(name);
    mem_free(version);
    flist_release(&fl);
    return rc;
}

/* ---- keys --------------------------------------------------------------- */

static int mkdir_parents(const char *path, char **err)
{
    char *p = mem_strdup(path);
    if (!p)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            rc = err_set(err, -errno, "cannot create the directory %s: %s", p, strerror(errno));
            break;
        }
        *s = '/';
    }
    mem_free(p);
    return rc;
}

int pack_keygen(const char *secret_path, char **public_out, char *key_id, char **err)
{
    if (!secret_path || !public_out)
        return err_set(err, -EINVAL, "pack_keygen: no key file");
    int rc = sodium_ready(err);
    if (rc < 0 || (rc = mkdir_parents(secret_path, err)) < 0)
        return rc;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    char *line = NULL, *sk64 = NULL, *pub = NULL, *pk64 = NULL;
    int fd = open(secret_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return err_set(err, -EEXIST,
                           "%s already exists; a key is never overwritten: choose another file with --out",
                           secret_path);
        return err_set(err, -errno, "cannot create %s: %s", secret_path, strerror(errno));
    }
    crypto_sign_keypair(pk, sk);
    sk64 = b64(sk, sizeof sk);
    pk64 = b64(pk, sizeof pk);
    line = sk64 ? mem_printf(SECRET_PREFIX "%s\n", sk64) : NULL;
    pub = pk64 ? mem_printf(KEY_PREFIX "%s", pk64) : NULL;
    if (!line || !pub) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    size_t len = strlen(line);
    if (write(fd, line, len) != (ssize_t)len || fsync(fd) < 0) {
        rc = err_set(err, -EIO, "cannot write %s: %s", secret_path, strerror(errno));
        goto out;
    }
    if (key_id)
        key_id_of(pk, key_id);
    *public_out = pub;
    pub = NULL;
out:
    close(fd);
    if (rc < 0)
        unlink(secret_path);
    sodium_memzero(sk, sizeof sk);
    if (sk64)
        sodium_memzero(sk64, strlen(sk64));
    if (line)
        sodium_memzero(line, strlen(line));
    mem_free(sk64);
    mem_free(line);
    mem_free(pk64);
    mem_free(pub);
    return rc;
}

static int load_secret(const char *path, unsigned char sk[crypto_sign_SECRETKEYBYTES], char **err)
{
    char buf[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, -errno, "cannot open the key %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    ssize_t n = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = err_set(err, -EINVAL, "%s is not a regular file; give the secret key file made by 'venom pack keygen'",
                     path);
        goto out;
    }
    if (st.st_mode & 0077) {
        rc = err_set(err, -EPERM, "the secret key %s is readable by others (mode %04o); run: chmod 600 %s", path,
                     (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    n = read(fd, buf, sizeof buf - 1);
    if (n < 0) {
        rc = err_set(err, -errno, "cannot read the key %s: %s", path, strerror(errno));
        goto out;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], seed[crypto_sign_SEEDBYTES], check[crypto_sign_SECRETKEYBYTES];
    if (strncmp(buf, SECRET_PREFIX, strlen(SECRET_PREFIX)) != 0 ||
        unb64(buf + strlen(SECRET_PREFIX), sk, crypto_sign_SECRETKEYBYTES) < 0) {
        rc = err_set(err, -EINVAL, "%s is not a secret key made by 'venom pack keygen' (expected " SECRET_PREFIX
                     "<base64>)", path);
        goto out;
    }
    /* the key holds its public half: it must be the one its seed gives */
    crypto_sign_ed25519_sk_to_seed(seed, sk);
    crypto_sign_seed_keypair(pk, check, seed);
    if (sodium_memcmp(check, sk, sizeof check) != 0)
        rc = err_set(err, -EINVAL, "%s: the secret key is damaged (its public half does not match)", path);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(check, sizeof check);
out:
    sodium_memzero(buf, sizeof buf);
    close(fd);
    return rc;
}

/* ---- verification ------------------------------------------------------- */

typedef struct ventry {
    char *path; /* below the top dir */
    uint64_t size;
    bool dir, used;
    unsigned char sha[crypto_hash_sha256_BYTES];
} ventry;

typedef struct vstate {
    ventry *v;
    size_t n, cap;
    char *top;
    char *contents, *sig; /* the bytes of CONTENTS.json / SIGNATURE.json */
    size_t contents_len, sig_len;
    uint64_t archive_len; /* the archive's size, for the compression ratio (0: unknown) */
    int outfd;            /* extracting: the directory the top's content goes to, else -1 */
} vstate;

static void vstate_release(vstate *s)
{
    for (size_t i = 0; i < s->n; i++)
        mem_free(s->v[i].path);
    mem_free(s->v);
    mem_free(s->top);
    mem_free(s->contents);
    mem_free(s->sig);
    *s = (vstate){.outfd = -1};
}

static int cmp_ventry(const void *a, const void *b)
{
    return strcmp(((const ventry *)a)->path, ((const ventry *)b)->path);
}

static const char *type_name(mode_t t)
{
    switch (t) {
    case AE_IFLNK: return "a symbolic link";
    case AE_IFCHR: return "a character device";
    case AE_IFBLK: return "a block device";
    case AE_IFIFO: return "a FIFO";
    case AE_IFSOCK: return "a socket";
    default: return "not a regular file or directory";
    }
}

/* Read one regular entry's data: hash it, count it, keep it when keep != NULL. */
static int read_data(const vstate *s, struct archive *a, const char *p, ventry *ve, uint64_t *total, char **keep,
                     size_t *keep_len, int out, char **err)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    uint64_t n = 0;
    size_t cap = 0;
    char buf[8192];
    for (;;) {
        la_ssize_t r = archive_read_data(a, buf, sizeof buf);
        if (r < 0)
            return err_set(err, -EINVAL, "entry '%s': cannot read its data: %s", p, archive_error_string(a));
        if (r == 0)
            break;
        n += (uint64_t)r;
        *total += (uint64_t)r;
        if (n > PACK_MAX_FILE_SIZE)
            return err_set(err, -E2BIG, "entry '%s' is larger than %llu MiB, the cap on a file in a pack", p,
                           PACK_MAX_FILE_SIZE >> 20);
        if (*total > PACK_MAX_TOTAL_SIZE)
            return err_set(err, -E2BIG, "entry '%s': the files add up to more than %llu MiB, the cap on a pack", p,
                           PACK_MAX_TOTAL_SIZE >> 20);
        if (s->archive_len && *total > PACK_RATIO_FLOOR && *total / s->archive_len >= PACK_MAX_RATIO)
            return err_set(err, -E2BIG, "entry '%s': the files expand to more than %u times the archive's %llu "
                           "bytes (a decompression bomb?); a pack is refused past that ratio", p, PACK_MAX_RATIO,
                           (unsigned long long)s->archive_len);
        if (out >= 0) {
            for (la_ssize_t off = 0; off < r;) {
                ssize_t w = write(out, buf + off, (size_t)(r - off));
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0)
                    return err_set(err, -errno, "entry '%s': cannot write it: %s", p, strerror(errno));
                off += w;
            }
        }
        crypto_hash_sha256_update(&st, (const unsigned char *)buf, (unsigned long long)r);
        if (keep) {
            if (n > PACK_MAX_META_SIZE)
                return err_set(err, -E2BIG, "entry '%s' is larger than %u MiB", p, PACK_MAX_META_SIZE >> 20);
            if (*keep_len + (size_t)r + 1 > cap) {
                size_t ncap = cap ? cap * 2 : 16384;
                while (ncap < *keep_len + (size_t)r + 1)
                    ncap *= 2;
                char *k = mem_realloc(*keep, ncap);
                if (!k)
                    return err_set(err, -ENOMEM, "out of memory");
                *keep = k;
                cap = ncap;
            }
            memcpy(*keep + *keep_len, buf, (size_t)r);
            *keep_len += (size_t)r;
            (*keep)[*keep_len] = '\0';
        }
    }
    if (keep && !*keep && !(*keep = mem_strdup("")))
        return err_set(err, -ENOMEM, "out of memory");
    ve->size = n;
    crypto_hash_sha256_final(&st, ve->sha);
    return 0;
}

/* Extracting: create rel (a checked relative path) under root — a directory,
 * or a new file (returned open for writing). Every component is created
 * or opened with O_NOFOLLOW below root, and a file never replaces anything
 * (O_EXCL), so nothing lands outside root. Returns the file's fd, 0 for a
 * directory, or a negative code. */
static int create_under(int root, const char *rel, bool dir, mode_t mode, const char *entry, char **err)
{
    char *copy = mem_strdup(rel);
    if (!copy)
        return err_set(err, -ENOMEM, "out of memory");
    int fd = dup(root), rc = 0;
    char *part = copy, *slash;
    if (fd < 0) {
        rc = err_set(err, -errno, "cannot extract: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        slash = strchr(part, '/');
        bool last = !slash;
        if (slash)
            *slash = '\0';
        if (last && !dir) {
            int f = openat(fd, part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
            if (f < 0)
                rc = errno == EEXIST ? err_set(err, -EINVAL, "entry '%s' appears twice in the archive", entry)
                                     : err_set(err, -errno, "entry '%s': cannot create it: %s", entry,
                                               strerror(errno));
            else
                rc = f;
            break;
        }
        if (mkdirat(fd, part, 0755) < 0 && errno != EEXIST) {
            rc = err_set(err, -errno, "entry '%s': cannot create its directory: %s", entry, strerror(errno));
            break;
        }
        int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            rc = err_set(err, -EINVAL, "entry '%s': '%s' is both a file and a directory in the archive", entry,
                         part);
            break;
        }
        close(fd);
        fd = next;
        if (last)
            break;
        part = slash + 1;
    }
out:
    if (fd >= 0)
        close(fd);
    mem_free(copy);
    return rc;
}

static int read_entries(struct archive *a, vstate *s, char **err)
{
    struct archive_entry *e;
    uint64_t total = 0;
    unsigned count = 0;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *p = archive_entry_pathname(e);
        if (!p)
            p = archive_entry_pathname_utf8(e);
        if (!p)
            return err_set(err, -EINVAL, "entry %u has no path (or one that cannot be read)", count + 1);
        if (++count > PACK_MAX_ENTRIES)
            return err_set(err, -E2BIG, "entry '%s': the archive has more than %u entries, the cap on a pack", p,
                           PACK_MAX_ENTRIES);
        mode_t type = archive_entry_filetype(e);
        const char *hl = archive_entry_hardlink(e);
        if (hl)
            return err_set(err, -EINVAL, "entry '%s' is a hard link (to '%s'); a pack holds only regular files and "
                           "directories", p, hl);
        if (type != AE_IFREG && type != AE_IFDIR) {
            const char *sl = type == AE_IFLNK ? archive_entry_symlink(e) : NULL;
            return err_set(err, -EINVAL, "entry '%s' is %s%s%s%s; a pack holds only regular files and directories",
                           p, type_name(type), sl ? " (to '" : "", sl ? sl : "", sl ? "')" : "");
        }
        if (archive_entry_mode(e) & (S_ISUID | S_ISGID))
            return err_set(err, -EINVAL, "entry '%s' has the setuid or setgid bit; a pack never does", p);
        if (archive_entry_sparse_count(e) > 0)
            return err_set(err, -EINVAL, "entry '%s' is a sparse file; a pack holds only plain files", p);
        if (*p == '/')
            return err_set(err, -EINVAL, "entry '%s' has an absolute path; every path is under the pack's top "
                           "directory", p);
        /* split "TOP/rest"; a directory may end with '/' */
        size_t len = strlen(p);
        char *copy = mem_strdup(p);
        if (!copy)
            return err_set(err, -ENOMEM, "out of memory");
        if (type == AE_IFDIR && len > 1 && copy[len - 1] == '/')
            copy[len - 1] = '\0';
        char *slash = strchr(copy, '/');
        const char *rest = slash ? slash + 1 : "";
        if (slash)
            *slash = '\0';
        if (!rel_path_ok(copy) || (slash && !rel_path_ok(rest))) {
            mem_free(copy);
            return err_set(err, -EINVAL, "entry '%s' has an unsafe path (empty, '.' or '..' parts); a pack's "
                           "paths stay under its top directory", p);
        }
        if (!s->top) {
            s->top = mem_strdup(copy);
            if (!s->top) {
                mem_free(copy);
                return err_set(err, -ENOMEM, "out of memory");
            }
        } else if (strcmp(s->top, copy) != 0) {
            int rc = err_set(err, -EINVAL, "entry '%s' is outside the pack's top directory '%s/'; a pack has "
                             "exactly one", p, s->top);
            mem_free(copy);
            return rc;
        }
        if (!slash && type != AE_IFDIR) {
            mem_free(copy);
            return err_set(err, -EINVAL, "entry '%s' is a file at the top; every file is under the pack's "
                           "directory", p);
        }
        if (!slash) { /* the top directory itself */
            mem_free(copy);
            continue;
        }
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            ventry *v = mem_realloc(s->v, cap * sizeof *v);
            if (!v) {
                mem_free(copy);
                return err_set(err, -ENOMEM, "out of memory");
            }
            s->v = v;
            s->cap = cap;
        }
        ventry *ve = &s->v[s->n];
        *ve = (ventry){.path = mem_strdup(rest), .dir = type == AE_IFDIR};
        mem_free(copy);
        if (!ve->path)
            return err_set(err, -ENOMEM, "out of memory");
        s->n++;
        int out = -1;
        if (s->outfd >= 0) {
            mode_t mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
            int rc = create_under(s->outfd, ve->path, ve->dir, mode, p, err);
            if (rc < 0)
                return rc;
            out = ve->dir ? -1 : rc;
        }
        if (ve->dir)
            continue;
        int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
        if (declared < 0 || (uint64_t)declared > PACK_MAX_FILE_SIZE) {
            if (out >= 0)
                close(out);
            return err_set(err, -E2BIG, "entry '%s' is larger than %llu MiB, the cap on a file in a pack", p,
                           PACK_MAX_FILE_SIZE >> 20);
        }
        char **keep = NULL;
        size_t *keep_len = NULL;
        if (!strcmp(ve->path, PACK_CONTENTS) && !s->contents) {
            keep = &s->contents;
            keep_len = &s->contents_len;
        } else if (!strcmp(ve->path, PACK_SIGNATURE) && !s->sig) {
            keep = &s->sig;
            keep_len = &s->sig_len;
        }
        int rc = read_data(s, a, p, ve, &total, keep, keep_len, out, err);
        if (out >= 0 && close(out) < 0 && rc == 0)
            rc = err_set(err, -errno, "entry '%s': cannot write it: %s", p, strerror(errno));
        if (rc < 0)
            return rc;
    }
    if (r != ARCHIVE_EOF)
        return err_set(err, -EINVAL, "not a readable pack archive (.tar.gz or .zip)%s%s%s: %s", count ? " (after entry " : "",
                       count ? (s->n ? s->v[s->n - 1].path : "") : "", count ? ")" : "",
                       archive_error_string(a) ? archive_error_string(a) : "unknown error");
    if (!s->top)
        return err_set(err, -EINVAL, "the archive is empty; build a pack with 'venom pack build DIR'");
    return 0;
}

static bool hex64_ok(const char *h)
{
    if (strlen(h) != 64)
        return false;
    for (const char *p = h; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static int check_contents(vstate *s, pack_info *info, char **err)
{
    int rc = 0;
    json_error_t je;
    json_t *c = json_loadb(s->contents, s->contents_len, JSON_REJECT_DUPLICATES, &je);
    const char *T = s->top;
    json_t *files = NULL;
    json_int_t format = 0;
    const char *name = NULL, *version = NULL;
    if (!c)
        return err_set(err, -EINVAL, "entry '%s/" PACK_CONTENTS "' is not valid JSON (line %d: %s)", T, je.line,
                       je.text);
    if (json_unpack(c, "{s:I, s:s, s:s, s:o !}", "format", &format, "pack", &name, "version", &version, "files",
                    &files) < 0 ||
        !json_is_array(files)) {
        rc = err_set(err, -EINVAL, "entry '%s/" PACK_CONTENTS "' is not a content manifest (expected "
                     "{\"format\",\"pack\",\"version\",\"files\":[...]} and nothing else)", T);
        goto out;
    }
    if (format != PACK_FORMAT) {
        rc = err_set(err, -EINVAL, "entry '%s/" PACK_CONTENTS "' has format %" JSON_INTEGER_FORMAT
                     "; this venom reads format %d: upgrade venom", T, format, PACK_FORMAT);
        goto out;
    }
    if (strcmp(name, T) != 0) {
        rc = err_set(err, -EINVAL, "entry '%s/" PACK_CONTENTS "' names the pack '%.80s', but its directory is "
                     "'%s/'", T, name, T);
        goto out;
    }
    if (!*version) {
        rc = err_set(err, -EINVAL, "entry '%s/" PACK_CONTENTS "' has an empty version", T);
        goto out;
    }
    size_t i;
    json_t *f;
    uint64_t total = 0;
    json_array_foreach(files, i, f) {
        const char *path = NULL, *sha = NULL;
        json_int_t size = -1;
        if (json_unpack(f, "{s:s, s:I, s:s !}", "path", &path, "size", &size, "sha256", &sha) < 0 || size < 0 ||
            !hex64_ok(sha) || !rel_path_ok(path) || !strcmp(path, PACK_CONTENTS) || !strcmp(path, PACK_SIGNATURE)) {
            rc = err_set(err, -EINVAL, "entry '%s/" PACK_CONTENTS "': file %zu is not {\"path\": a safe relative "
                         "path, \"size\": bytes, \"sha256\": 64 hex digits}", T, i + 1);
            goto out;
        }
        ventry key = {.path = (char *)path};
        ventry *ve = bsearch(&key, s->v, s->n, sizeof *s->v, cmp_ventry);
        if (!ve || ve->dir) {
            rc = err_set(err, -EINVAL, "entry '%s/%.200s' is listed in " PACK_CONTENTS " but %s the archive", T, path,
                         ve ? "is a directory in" : "missing from");
            goto out;
        }
        if (ve->used) {
            rc = err_set(err, -EINVAL, "entry '%s/%.200s' is listed twice in " PACK_CONTENTS, T, path);
            goto out;
        }
        ve->used = true;
        if (ve->size != (uint64_t)size) {
            rc = err_set(err, -EINVAL, "entry '%s/%.200s' has %" PRIu64 " bytes, " PACK_CONTENTS " says %"
                         JSON_INTEGER_FORMAT "; the file was changed after the pack was built", T, path, ve->size,
                         size);
            goto out;
        }
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, ve->sha, sizeof ve->sha);
        if (strcmp(hex, sha) != 0) {
            rc = err_set(err, -EINVAL, "entry '%s/%.200s': its SHA-256 does not match " PACK_CONTENTS "; the file "
                         "was changed after the pack was built", T, path);
            goto out;
        }
        total += ve->size;
    }
    for (size_t k = 0; k < s->n; k++) {
        const ventry *ve = &s->v[k];
        if (!ve->dir && !ve->used && strcmp(ve->path, PACK_CONTENTS) != 0 && strcmp(ve->path, PACK_SIGNATURE) != 0) {
            rc = err_set(err, -EINVAL, "entry '%s/%.200s' is not listed in " PACK_CONTENTS "; it was added after "
                         "the pack was built", T, ve->path);
            goto out;
        }
    }
    if (info) {
        info->name = mem_strdup(name);
        info->version = mem_strdup(version);
        info->n_files = json_array_size(files);
        info->total_size = total;
        if (!info->name || !info->version)
            rc = err_set(err, -ENOMEM, "out of memory");
    }
out:
    json_decref(c);
    return rc;
}

static int check_signature(const vstate *s, pack_info *info, char **err)
{
    const char *T = s->top;
    json_error_t je;
    json_t *j = json_loadb(s->sig, s->sig_len, JSON_REJECT_DUPLICATES, &je);
    const char *alg = NULL, *key = NULL, *kid = NULL, *sig = NULL;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sb[crypto_sign_BYTES];
    char id[17];
    int rc = 0;
    if (!j || json_unpack(j, "{s:s, s:s, s:s, s:s !}", "alg", &alg, "key", &key, "key_id", &kid, "sig", &sig) < 0) {
        rc = err_set(err, -EINVAL, "entry '%s/" PACK_SIGNATURE "' is not a signature (expected {\"alg\",\"key\","
                     "\"key_id\",\"sig\"})", T);
        goto out;
    }
    if (strcmp(alg, "ed25519") != 0) {
        rc = err_set(err, -EINVAL, "entry '%s/" PACK_SIGNATURE "': unknown algorithm '%.40s'; only ed25519 is "
                     "supported", T, alg);
        goto out;
    }
    if (parse_public(key, pk) < 0 || unb64(sig, sb, sizeof sb) < 0) {
        rc = err_set(err, -EINVAL, "entry '%s/" PACK_SIGNATURE "': the key or the signature is not valid base64 of "
                     "the right length", T);
        goto out;
    }
    key_id_of(pk, id);
    if (strcmp(id, kid) != 0) {
        rc = err_set(err, -EINVAL, "entry '%s/" PACK_SIGNATURE "': key_id '%.40s' is not the id of its key (%s)", T,
                     kid, id);
        goto out;
    }
    if (crypto_sign_verify_detached(sb, (const unsigned char *)s->contents, s->contents_len, pk) != 0) {
        rc = err_set(err, -EINVAL, "entry '%s/" PACK_SIGNATURE "': the signature by key %s does not match "
                     PACK_CONTENTS "; the pack was changed after it was signed", T, id);
        goto out;
    }
    if (info) {
        info->is_signed = true;
        memcpy(info->key_id, id, sizeof id);
        if (!(info->key = mem_strdup(key)))
            rc = err_set(err, -ENOMEM, "out of memory");
    }
out:
    json_decref(j);
    return rc;
}

/* Entry names and JSON come from the archive: keep the message one short
 * line whatever they hold (control characters become '?', at most 600 bytes). */
static int one_line(char **err, int rc)
{
    if (rc >= 0 || !err || !*err)
        return rc;
    size_t n = strlen(*err);
    if (n > 600)
        memcpy(*err + 597, "...", 4);
    for (unsigned char *q = (unsigned char *)*err; *q; q++)
        if (*q < 0x20 || *q == 0x7f)
            *q = '?';
    return rc;
}

/* Verify an opened reader; *contents (may be NULL) receives CONTENTS.json's bytes.
 * With check_sig false an existing signature is ignored (it is being replaced). */
static int verify_reader(struct archive *a, bool check_sig, uint64_t archive_len, int outfd, pack_info *info,
                         char **contents, size_t *contents_len, char **err)
{
    vstate s = {.archive_len = archive_len, .outfd = outfd};
    pack_info pi = {0};
    int rc = read_entries(a, &s, err);
    if (rc < 0)
        goto out;
    qsort(s.v, s.n, sizeof *s.v, cmp_ventry);
    for (size_t i = 1; i < s.n; i++) {
        if (!strcmp(s.v[i - 1].path, s.v[i].path)) {
            rc = err_set(err, -EINVAL, "entry '%s/%.200s' appears twice in the archive", s.top, s.v[i].path);
            goto out;
        }
    }
    if (!s.contents) {
        rc = err_set(err, -EINVAL, "no '%s/" PACK_CONTENTS "' in the archive; build packs with 'venom pack build "
                     "DIR'", s.top);
        goto out;
    }
    if ((rc = check_contents(&s, &pi, err)) < 0)
        goto out;
    if (check_sig && s.sig && (rc = check_signature(&s, &pi, err)) < 0)
        goto out;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)s.contents, s.contents_len);
    sodium_bin2hex(pi.contents_sha256, sizeof pi.contents_sha256, h, sizeof h);
    if (contents) {
        *contents = s.contents;
        *contents_len = s.contents_len;
        s.contents = NULL;
    }
    if (info) {
        *info = pi;
        pi = (pack_info){0};
    }
out:
    pack_info_release(&pi);
    vstate_release(&s);
    return one_line(err, rc);
}

static struct archive *reader_new(void)
{
    struct archive *a = archive_read_new();
    if (a && (archive_read_support_filter_gzip(a) != ARCHIVE_OK || archive_read_support_format_tar(a) != ARCHIVE_OK ||
              archive_read_support_format_zip(a) != ARCHIVE_OK)) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

static int verify_file(const char *pack_path, bool check_sig, pack_info *info, char **contents, size_t *contents_len,
                       char **err)
{
    if (!pack_path)
        return err_set(err, -EINVAL, "pack_verify: no pack");
    int rc = sodium_ready(err);
    if (rc < 0)
        return rc;
    struct stat st;
    if (stat(pack_path, &st) < 0)
        return err_set(err, -errno, "cannot read %s: %s", pack_path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(err, -EINVAL, "%s is not a file; give a pack archive (.tar.gz or .zip)", pack_path);
    struct archive *a = reader_new();
    if (!a)
        return err_set(err, -ENOMEM, "out of memory");
    if (archive_read_open_filename(a, pack_path, CHUNK) != ARCHIVE_OK)
        rc = one_line(err,
                      err_set(err, -EINVAL, "%s: not a readable pack archive (.tar.gz or .zip): %s", pack_path, archive_error_string(a)));
    else if ((rc = verify_reader(a, check_sig, (uint64_t)st.st_size, -1, info, contents, contents_len, err)) < 0)
        err_prefix(err, rc, "%s", pack_path);
    archive_read_free(a);
    return rc;
}

int pack_verify(const char *pack_path, pack_info *info, char **err)
{
    return verify_file(pack_path, true, info, NULL, NULL, err);
}

/* Verify buf[0..len); with outfd >= 0 the pack's files are written below it as they are read. */
static int verify_memory(const void *buf, size_t len, int outfd, pack_info *info, char **err)
{
    if (!buf && len)
        return err_set(err, -EINVAL, "pack_verify_memory: no buffer");
    int rc = sodium_ready(err);
    if (rc < 0)
        return rc;
    struct archive *a = reader_new();
    if (!a)
        return err_set(err, -ENOMEM, "out of memory");
    if (archive_read_open_memory(a, buf ? buf : "", len) != ARCHIVE_OK)
        rc = one_line(err, err_set(err, -EINVAL, "not a readable pack archive (.tar.gz or .zip): %s", archive_error_string(a)));
    else
        rc = verify_reader(a, true, len, outfd, info, NULL, NULL, err);
    archive_read_free(a);
    return rc;
}

int pack_verify_memory(const void *buf, size_t len, pack_info *info, char **err)
{
    return verify_memory(buf, len, -1, info, err);
}

int pack_extract_memory(const void *buf, size_t len, int dirfd, pack_info *info, char **err)
{
    if (dirfd < 0)
        return err_set(err, -EBADF, "pack_extract_memory: no directory");
    return verify_memory(buf, len, dirfd, info, err);
}

/* ---- signing ------------------------------------------------------------ */

/* Copy every entry of the archive at src into w, except NAME/SIGNATURE.json. */
static int copy_entries(const char *src, struct archive *w, const char *top, char **err)
{
    struct archive *a = reader_new();
    struct archive_entry *e;
    char *skip = mem_printf("%s/" PACK_SIGNATURE, top);
    char *buf = mem_alloc(CHUNK);
    int rc = 0, r;
    if (!a || !skip || !buf) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (archive_read_open_filename(a, src, CHUNK) != ARCHIVE_OK) {
        rc = err_set(err, -EIO, "cannot read %s: %s", src, archive_error_string(a));
        goto out;
    }
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *p = archive_entry_pathname(e);
        if (!p || !strcmp(p, skip))
            continue;
        bool dir = archive_entry_filetype(e) == AE_IFDIR;
        int perm = dir || (archive_entry_perm(e) & 0111) ? 0755 : 0644;
        if ((rc = write_header(w, p, dir, dir ? 0 : (uint64_t)archive_entry_size(e), perm, err)) < 0)
            goto out;
        la_ssize_t n;
        while (!dir && (n = archive_read_data(a, buf, CHUNK)) > 0) {
            if (archive_write_data(w, buf, (size_t)n) != n) {
                rc = err_set(err, -EIO, "cannot copy %s: %s", p, archive_error_string(w));
                goto out;
            }
        }
    }
    if (r != ARCHIVE_EOF)
        rc = err_set(err, -EIO, "cannot read %s: %s", src, archive_error_string(a));
out:
    if (a)
        archive_read_free(a);
    mem_free(skip);
    mem_free(buf);
    return rc;
}

int pack_sign(const char *pack_path, const char *secret_key_path, pack_info *info, char **err)
{
    if (!pack_path || !secret_key_path)
        return err_set(err, -EINVAL, "pack_sign: no pack or no key");
    unsigned char sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    char *contents = NULL, *tmp = NULL, *sigtext = NULL, *pk64 = NULL, *sig64 = NULL, *p = NULL;
    size_t clen = 0;
    pack_info pi = {0}, after = {0};
    struct archive *w = NULL;
    int fd = -1;
    int rc = load_secret(secret_key_path, sk, err);
    if (rc < 0)
        return rc;
    if ((rc = verify_file(pack_path, false, &pi, &contents, &clen, err)) < 0)
        goto out;
    crypto_sign_detached(sig, NULL, (const unsigned char *)contents, clen, sk);
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    char id[17];
    key_id_of(pk, id);
    pk64 = b64(pk, sizeof pk);
    sig64 = b64(sig, sizeof sig);
    json_t *o = pk64 && sig64 ? json_pack("{s:s, s:s+, s:s, s:s}", "alg", "ed25519", "key", KEY_PREFIX, pk64,
                                          "key_id", id, "sig", sig64)
                              : NULL;
    char *dumped = o ? json_dumps(o, JSON_INDENT(1)) : NULL;
    json_decref(o);
    sigtext = dumped ? mem_printf("%s\n", dumped) : NULL;
    free(dumped);
    p = mem_printf("%s/" PACK_SIGNATURE, pi.name);
    if (!sigtext || !p) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if ((fd = temp_next_to(pack_path, &tmp, err)) < 0) {
        rc = fd;
        goto out;
    }
    if (!(w = writer_new(fd, is_zip(pack_path), err))) {
        rc = -EIO;
        goto out;
    }
    if ((rc = copy_entries(pack_path, w, pi.name, err)) < 0 ||
        (rc = write_mem(w, p, sigtext, strlen(sigtext), err)) < 0)
        goto out;
    if (archive_write_close(w) != ARCHIVE_OK) {
        rc = err_set(err, -EIO, "cannot finish the archive %s: %s", tmp, archive_error_string(w));
        goto out;
    }
    /* what replaces the pack must verify, signed by this key */
    if ((rc = verify_file(tmp, true, &after, NULL, NULL, err)) < 0)
        goto out;
    if (!after.is_signed || strcmp(after.key_id, id) != 0 || strcmp(after.contents_sha256, pi.contents_sha256)) {
        rc = err_set(err, -EAGAIN, "%s changed while it was being signed; sign it again", pack_path);
        goto out;
    }
out:
    rc = finish_temp(w, fd, tmp, pack_path, rc, err);
    if (rc == 0 && info) {
        *info = after;
        after = (pack_info){0};
    }
    sodium_memzero(sk, sizeof sk);
    pack_info_release(&pi);
    pack_info_release(&after);
    mem_free(contents);
    mem_free(sigtext);
    mem_free(pk64);
    mem_free(sig64);
    mem_free(p);
    return rc;
}
