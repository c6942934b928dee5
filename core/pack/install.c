/*
 * install.c — installing packs into a skill directory, the lock file that
 * records them, checking installed files against it, and the trusted signing
 * keys (pack.h, docs/packs.md "Installing").
 *
 * Install: fetch the archive into memory (a file, file:// or http(s)://),
 * extract it into a fresh temp dir inside the skill directory while verifying
 * it (pack_extract_memory: nothing is written outside the temp dir), decide
 * trust from the signature and the trusted keys, check the manifest against
 * the archive and every ELF file's architecture, let the caller probe the
 * plugin in the sandbox and confirm, then swap the temp dir into place with
 * one rename and record the pack in venom.lock (written to a temp file and
 * renamed). Concurrent installs and removals in one directory are serialised
 * by flock on .venom.lock.lck.
 */
#include "util/common.h"

#include <dirent.h>
#include <ctype.h>
#include <elf.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "pack/pack.h"
#include "plugin/manifest.h"
#include "plugin/skillmd.h"
#include "util/err.h"
#include "util/file.h"

#define LOCK_FORMAT 1
#define LOCK_GUARD ".venom.lock.lck"
#define TRUST_FILE "trusted-keys.json"

/* ---- small helpers ------------------------------------------------------ */

static void utc_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Remove the tree at dirfd/name without following symlinks. Best effort. */
static void rm_tree_at(int at, const char *name)
{
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        unlinkat(at, name, 0);
        return;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN)
            rm_tree_at(dirfd(d), e->d_name);
        else
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
    unlinkat(at, name, AT_REMOVEDIR);
}

static void rm_tree(const char *path)
{
    if (path)
        rm_tree_at(AT_FDCWD, path);
}

static int mkdir_p(const char *path, mode_t mode, char **err)
{
    char *p = mem_strdup(path);
    if (!p)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s)
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            rc = err_set(err, -errno, "cannot create the directory %s: %s", p, strerror(errno));
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    mem_free(p);
    return rc;
}

/* SHA-256 (hex) and size of the regular file at dirfd/rel, not following a
 * final symlink. -ENOENT, -EINVAL (not a regular file), -errno. */
static int hash_at(int dirfd, const char *rel, char hex[65], uint64_t *size)
{
    int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ELOOP ? -EINVAL : -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    int rc = pack_hash_fd(fd, NULL, 0, size, hex);
    close(fd);
    return rc;
}

/* ---- fetching ----------------------------------------------------------- */

static int fetch_url(const char *url, char **buf, size_t *len, char **err)
{
    net_request rq = {.method = "GET", .url = url, .kind = NET_BODY_WHOLE, .follow_redirects = true};
    rq.opts.max_body = PACK_MAX_ARCHIVE;
    rq.opts.retries = 2;
    net_response rs = {0};
    char *nerr = NULL;
    int rc = net_perform(&rq, &rs, &nerr);
    if (rc < 0) {
        if (rc == NET_E_STATUS)
            rc = err_set(err, -EIO, "cannot download %s: the server answered HTTP %ld", url, rs.status);
        else if (rc == NET_E_TOOBIG)
            rc = err_set(err, -E2BIG, "cannot download %s: it is larger than %llu MiB, the cap on a pack archive",
                         url, PACK_MAX_ARCHIVE >> 20);
        else
            rc = err_set(err, rc == NET_E_NOMEM ? -ENOMEM : -EIO, "cannot download %s: %s", url,
                         nerr ? nerr : "the transfer failed");
        mem_free(nerr);
        net_response_free(&rs);
        return rc;
    }
    mem_free(nerr);
    *buf = rs.body;
    *len = rs.body_len;
    rs.body = NULL;
    net_response_free(&rs);
    if (!*buf && !(*buf = mem_strdup("")))
        return err_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* "%XX" decoding of a file:// URL's path. */
static char *url_path(const char *s)
{
    char *out = mem_alloc(strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        if (s[0] == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char hx[3] = {s[1], s[2], 0};
            *o++ = (char)strtol(hx, NULL, 16);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

int pack_fetch(const char *source, char **buf, size_t *len, char **where, char **err)
{
    *buf = NULL;
    *len = 0;
    if (where)
        *where = NULL;
    if (!source || !*source)
        return err_set(err, -EINVAL, "no pack given; give a .tar.gz or .zip file, a file:// or an https:// URL");
    int rc;
    char *path = NULL;
    if (!strncasecmp(source, "http://", 7) || !strncasecmp(source, "https://", 8)) {
        rc = fetch_url(source, buf, len, err);
        if (rc == 0 && where && !(*where = mem_strdup(source)))
            rc = err_set(err, -ENOMEM, "out of memory");
        return rc;
    }
    if (!strncasecmp(source, "file://", 7)) {
        const char *p = source + 7;
        if (!strncasecmp(p, "localhost/", 10))
            p += 9;
        if (*p != '/')
            return err_set(err, -EINVAL, "%s: a file:// URL needs an absolute path (file:///path/to/pack.tar.gz)",
                           source);
        path = url_path(p);
    } else if (strstr(source, "://")) {
        return err_set(err, -EINVAL, "%s: unsupported URL scheme; use https://, http:// or file://", source);
    } else {
        path = mem_strdup(source);
    }
    if (!path)
        return err_set(err, -ENOMEM, "out of memory");
    rc = file_read(path, PACK_MAX_ARCHIVE, false, buf, len, err);
    if (rc == -ENOENT)
        rc = err_set(err, -ENOENT, "%s: no such file", path);
    if (rc == 0 && where) {
        char *abs = realpath(path, NULL);
        *where = abs ? mem_strdup(abs) : mem_strdup(path);
        free(abs);
        if (!*where)
            rc = err_set(err, -ENOMEM, "out of memory");
    }
    if (rc < 0) {
        mem_free(*buf);
        *buf = NULL;
    }
    mem_free(path);
    return rc;
}

/* ---- architectures ------------------------------------------------------ */

typedef struct arch {
    const char *triplet;
    uint16_t machine;
    unsigned char cls, data;
} arch;

static const arch ARCHES[] = {
    {"x86_64-linux-gnu", EM_X86_64, ELFCLASS64, ELFDATA2LSB},
    {"aarch64-linux-gnu", EM_AARCH64, ELFCLASS64, ELFDATA2LSB},
    {"i386-linux-gnu", EM_386, ELFCLASS32, ELFDATA2LSB},
    {"arm-linux-gnueabihf", EM_ARM, ELFCLASS32, ELFDATA2LSB},
    {"riscv64-linux-gnu", EM_RISCV, ELFCLASS64, ELFDATA2LSB},
    {"powerpc64le-linux-gnu", EM_PPC64, ELFCLASS64, ELFDATA2LSB},
    {"s390x-linux-gnu", EM_S390, ELFCLASS64, ELFDATA2MSB},
};

static const arch *host_arch(void)
{
#if defined(__x86_64__)
    return &ARCHES[0];
#elif defined(__aarch64__)
    return &ARCHES[1];
#elif defined(__i386__)
    return &ARCHES[2];
#elif defined(__arm__)
    return &ARCHES[3];
#elif defined(__riscv) && __riscv_xlen == 64
    return &ARCHES[4];
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return &ARCHES[5];
#elif defined(__s390x__)
    return &ARCHES[6];
#else
    return NULL;
#endif
}

const char *pack_host_triplet(void)
{
    const arch *a = host_arch();
    return a ? a->triplet : "unknown";
}

static const arch *arch_named(const char *triplet, size_t n)
{
    for (size_t i = 0; i < ARRAY_SIZE(ARCHES); i++)
        if (strlen(ARCHES[i].triplet) == n && !strncmp(ARCHES[i].triplet, triplet, n))
            return &ARCHES[i];
    return NULL;
}

static const char *arch_of(uint16_t machine, unsigned char cls, unsigned char data)
{
    for (size_t i = 0; i < ARRAY_SIZE(ARCHES); i++)
        if (ARCHES[i].machine == machine && ARCHES[i].cls == cls && ARCHES[i].data == data)
            return ARCHES[i].triplet;
    return NULL;
}

/* The architecture a path names: a component that is a known triplet. */
static const arch *path_arch(const char *rel)
{
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if (p[n] == '/') {
            const arch *a = arch_named(p, n);
            if (a)
                return a;
            p += n + 1;
        } else {
            break;
        }
    }
    return NULL;
}

/* rel is an ELF file: it must be for the architecture its path names (a
 * directory called by a triplet), else for this host. 1 when it is ELF and
 * fine, 0 when it is not ELF, negative with a message when it is wrong. */
static int check_elf(int dirfd, const char *rel, char **err)
{
    int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, -errno, "cannot read %s: %s", rel, strerror(errno));
    unsigned char h[20];
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    if (n < 4 || memcmp(h, ELFMAG, SELFMAG) != 0)
        return 0;
    if (n < 20)
        return err_set(err, -EINVAL, "%s is a truncated ELF file", rel);
    unsigned char cls = h[EI_CLASS], data = h[EI_DATA];
    uint16_t machine = data == ELFDATA2MSB ? (uint16_t)(h[18] << 8 | h[19]) : (uint16_t)(h[19] << 8 | h[18]);
    const char *is = arch_of(machine, cls, data);
    const arch *want = path_arch(rel);
    const arch *host = host_arch();
    if (!want)
        want = host;
    if (!want)
        return err_set(err, -EINVAL, "%s: this venom does not know its own architecture", rel);
    if (!is || strcmp(is, want->triplet) != 0) {
        char m[32];
        snprintf(m, sizeof m, "machine %u", machine);
        return err_set(err, -ENOEXEC, "%s is built for %s, but %s %s; build it for %s (a pack holds one .so per "
                       "architecture, in lib/<triplet>/)", rel, is ? is : m,
                       path_arch(rel) ? "its directory says" : "this machine is", want->triplet, want->triplet);
    }
    return 1;
}

/* ---- walking an extracted pack ------------------------------------------ */

typedef struct walk_ctx {
    json_t *files;        /* {rel: sha256} */
    uint64_t total;
    size_t count;
    char **err;
} walk_ctx;

static int walk_pack(int at, const char *prefix, walk_ctx *w)
{
    int fd = openat(at, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return err_set(w->err, -errno, "cannot read the extracted pack: %s", strerror(errno));
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *rel = *prefix ? mem_printf("%s/%s", prefix, e->d_name) : mem_strdup(e->d_name);
        if (!rel) {
            rc = err_set(w->err, -ENOMEM, "out of memory");
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = err_set(w->err, -errno, "cannot read %s: %s", rel, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                rc = err_set(w->err, -errno, "cannot read %s: %s", rel, strerror(errno));
            else {
                rc = walk_pack(sub, rel, w);
                close(sub);
            }
        } else if (S_ISREG(st.st_mode)) {
            char hex[65];
            uint64_t size = 0;
            int hr = hash_at(dirfd(d), e->d_name, hex, &size);
            if (hr < 0)
                rc = err_set(w->err, hr, "cannot read %s: %s", rel, strerror(-hr));
            else if (json_object_set_new(w->files, rel, json_string(hex)) < 0)
                rc = err_set(w->err, -ENOMEM, "out of memory");
            w->total += size;
            w->count++;
        } else {
            rc = err_set(w->err, -EINVAL, "%s is not a regular file or directory", rel);
        }
        mem_free(rel);
    }
    closedir(d);
    return rc;
}

/* Every ELF file of the extracted pack at dirfd must suit its architecture. */
static int check_elves(int dirfd, const json_t *files, char **err)
{
    const char *rel;
    json_t *v;
    json_object_foreach((json_t *)files, rel, v)
    {
        int rc = check_elf(dirfd, rel, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- the lock file ------------------------------------------------------- */

static char *lock_path(const char *skills_dir) { return mem_printf("%s/" PACK_LOCK, skills_dir); }

int pack_lock_read(const char *skills_dir, json_t **out, char **err)
{
    *out = NULL;
    char *path = lock_path(skills_dir), *text = NULL;
    size_t len = 0;
    if (!path)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = file_read(path, PACK_MAX_META_SIZE, false, &text, &len, err);
    if (rc == -ENOENT) {
        *out = json_pack("{s:i, s:{}}", "format", LOCK_FORMAT, "packs");
        rc = *out ? 0 : err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (rc < 0)
        goto out;
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    json_t *packs = json_object_get(j, "packs");
    bool ok = j && json_integer_value(json_object_get(j, "format")) == LOCK_FORMAT && json_is_object(packs);
    const char *pname;
    json_t *e;
    json_object_foreach(ok ? packs : NULL, pname, e)
    {
        json_t *files = json_object_get(e, "files"), *signer = json_object_get(e, "signer"), *h;
        const char *rel;
        ok = ok && json_is_string(json_object_get(e, "version")) && json_is_string(json_object_get(e, "source")) &&
             json_is_string(json_object_get(e, "contents_sha256")) && json_is_object(files) &&
             (json_is_null(signer) || json_is_string(json_object_get(signer, "key_id")));
        json_object_foreach(ok ? files : NULL, rel, h) ok = ok && json_is_string(h);
    }
    if (!ok) {
        rc = err_set(err, -EINVAL, "%s:%d: not a venom lock file (format %d, \"packs\": {name: {version, source, "
                     "signer, contents_sha256, files}}); it is written by 'venom skill install' — restore it, or "
                     "delete it and reinstall the packs", path, j ? 1 : je.line, LOCK_FORMAT);
        json_decref(j);
        goto out;
    }
    *out = j;
out:
    mem_free(text);
    mem_free(path);
    return rc;
}

static int lock_write(const char *skills_dir, const json_t *lock, char **err)
{
    char *path = lock_path(skills_dir);
    char *text = json_dumps(lock, JSON_INDENT(1) | JSON_SORT_KEYS);
    char *withnl = text ? mem_printf("%s\n", text) : NULL;
    int rc = path && withnl ? file_write_atomic(path, withnl, strlen(withnl), 0644, err) : err_set(err, -ENOMEM, "out of memory");
    free(text);
    mem_free(withnl);
    mem_free(path);
    return rc;
}

/* Hold the directory's install lock (flock) until unlock_dir. */
static int lock_dir(const char *skills_dir, char **err)
{
    char *g = mem_printf("%s/" LOCK_GUARD, skills_dir);
    if (!g)
        return err_set(err, -ENOMEM, "out of memory");
    int fd = open(g, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    mem_free(g);
    if (fd < 0)
        return err_set(err, -errno, "cannot lock %s for installing: %s", skills_dir, strerror(errno));
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int rc = err_set(err, -errno, "cannot lock %s for installing: %s", skills_dir, strerror(errno));
            close(fd);
            return rc;
        }
    }
    return fd;
}

static void unlock_dir(int fd)
{
    if (fd >= 0)
        close(fd);
}

int pack_lock_check(const json_t *entry, const char *pack_dir, const char *rel, char **err)
{
    const char *want = json_string_value(json_object_get(json_object_get(entry, "files"), rel));
    if (!want)
        return err_set(err, -EPERM, "%s/%s is not in the lock file's list of the pack's files; it was added after "
                       "the pack was installed — reinstall the pack", pack_dir, rel);
    int dfd = open(pack_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return err_set(err, -errno, "cannot read %s: %s", pack_dir, strerror(errno));
    char hex[65];
    int rc = hash_at(dfd, rel, hex, NULL);
    close(dfd);
    if (rc < 0)
        return err_set(err, rc == -ENOENT ? -ENOENT : -EPERM, "%s/%s %s; reinstall the pack", pack_dir, rel,
                       rc == -ENOENT ? "is missing" : rc == -EINVAL ? "is no longer a regular file"
                                                                     : "cannot be read");
    if (strcmp(hex, want) != 0)
        return err_set(err, -EPERM, "%s/%s was modified after it was installed (its SHA-256 differs from "
                       PACK_LOCK "); refusing to load it — reinstall the pack, or check what changed it with "
                       "'venom skill verify'", pack_dir, rel);
    return 0;
}

/* ---- trusted keys ------------------------------------------------------- */

static char *trust_path(const char *home) { return mem_printf("%s/" TRUST_FILE, home); }

int pack_trust_list(const char *home, json_t **keys, char **err)
{
    *keys = NULL;
    char *path = trust_path(home), *text = NULL;
    size_t len = 0;
    if (!path)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = file_read(path, PACK_MAX_META_SIZE, false, &text, &len, err);
    if (rc == -ENOENT) {
        *keys = json_array();
        rc = *keys ? 0 : err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (rc < 0)
        goto out;
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    json_t *arr = json_object_get(j, "keys");
    size_t i;
    json_t *k;
    bool ok = j && json_is_array(arr);
    json_array_foreach(ok ? arr : NULL, i, k)
    {
        char id[17];
        const char *key = json_string_value(json_object_get(k, "key"));
        if (!key || pack_key_id(key, id, NULL) < 0)
            ok = false;
    }
    if (!ok) {
        rc = err_set(err, -EINVAL, "%s: not a trusted-keys file ({\"keys\": [{\"key\": \"ed25519:…\", …}]}); it is "
                     "written by 'venom trust add' — fix or delete it", path);
        json_decref(j);
        goto out;
    }
    *keys = json_incref(arr);
    json_decref(j);
out:
    mem_free(text);
    mem_free(path);
    return rc;
}

/* The key itself from KEY or from a file holding it (as `pack keygen` prints it). */
static int key_text(const char *arg, char **key, char **err)
{
    *key = NULL;
    char *text = NULL;
    if (strncmp(arg, "ed25519:", 8) != 0) {
        int rc = file_read(arg, 4096, false, &text, NULL, err);
        if (rc == -ENOENT)
            return err_set(err, -EINVAL, "'%s' is neither a public key (ed25519:<base64>, as 'venom pack keygen' "
                           "prints it) nor a file holding one", arg);
        if (rc < 0)
            return rc;
        char *s = text + strspn(text, " \t\r\n");
        s[strcspn(s, " \t\r\n")] = '\0';
        arg = s;
    }
    char id[17];
    int rc = pack_key_id(arg, id, NULL);
    if (rc < 0)
        rc = err_set(err, -EINVAL, "'%.100s' is not an Ed25519 public key; expected ed25519:<base64 of 32 bytes>, "
                     "as 'venom pack keygen' prints it%s", arg,
                     strstr(arg, "secret") ? " (this is a SECRET key: never share it; give the public one)" : "");
    else if (!(*key = mem_strdup(arg)))
        rc = err_set(err, -ENOMEM, "out of memory");
    mem_free(text);
    return rc;
}

static int trust_write(const char *home, json_t *keys, char **err)
{
    int rc = mkdir_p(home, 0700, err);
    if (rc < 0)
        return rc;
    char *path = trust_path(home);
    json_t *doc = json_pack("{s:i, s:O}", "format", 1, "keys", keys);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1)) : NULL;
    char *withnl = text ? mem_printf("%s\n", text) : NULL;
    rc = path && withnl ? file_write_atomic(path, withnl, strlen(withnl), 0644, err) : err_set(err, -ENOMEM, "out of memory");
    free(text);
    mem_free(withnl);
    json_decref(doc);
    mem_free(path);
    return rc;
}

int pack_trust_add(const char *home, const char *key_arg, const char *label, char key_id[17], bool *added,
                   char **err)
{
    char *key = NULL;
    json_t *keys = NULL;
    *added = false;
    int rc = key_text(key_arg, &key, err);
    if (rc < 0)
        return rc;
    if ((rc = pack_key_id(key, key_id, err)) < 0 || (rc = pack_trust_list(home, &keys, err)) < 0)
        goto out;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        if (!strcmp(json_string_value(json_object_get(k, "key")), key))
            goto out; /* already trusted */
    }
    char now[32];
    utc_now(now);
    json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "key", key, "key_id", key_id, "label", label ? label : "",
                          "added", now);
    if (!e || json_array_append_new(keys, e) < 0) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    rc = trust_write(home, keys, err);
    *added = rc == 0;
out:
    json_decref(keys);
    mem_free(key);
    return rc;
}

int pack_trust_remove(const char *home, const char *which, char **err)
{
    json_t *keys = NULL;
    int rc = pack_trust_list(home, &keys, err);
    if (rc < 0)
        return rc;
    size_t i, found = 0;
    json_t *k;
    for (i = json_array_size(keys); i-- > 0;) {
        k = json_array_get(keys, i);
        const char *key = json_string_value(json_object_get(k, "key"));
        const char *id = json_string_value(json_object_get(k, "key_id"));
        if ((key && !strcmp(key, which)) || (id && !strcmp(id, which))) {
            json_array_remove(keys, i);
            found++;
        }
    }
    if (!found)
        rc = err_set(err, -ENOENT, "no trusted key '%s'; 'venom trust list' shows the key ids", which);
    else
        rc = trust_write(home, keys, err);
    json_decref(keys);
    return rc;
}

bool pack_key_trusted(const char *key_id, const json_t *keys, const char *const *extra, size_t n_extra)
{
    if (!key_id || !*key_id)
        return false;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        const char *id = json_string_value(json_object_get(k, "key_id"));
        if (id && !strcmp(id, key_id))
            return true;
    }
    for (size_t j = 0; j < n_extra; j++) {
        char id[17];
        if (extra[j] && pack_key_id(extra[j], id, NULL) == 0 && !strcmp(id, key_id))
            return true;
    }
    return false;
}

/* ---- install ------------------------------------------------------------ */

void pack_installed_release(pack_installed *r)
{
    if (!r)
        return;
    mem_free(r->name);
    mem_free(r->version);
    mem_free(r->dir);
    mem_free(r->previous);
    mem_free(r->source);
    *r = (pack_installed){0};
}

/* The lock entry's files must all be there, unchanged, and nothing else. */
static int installed_intact(const char *dir, const json_t *entry)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    json_t *files = json_object();
    char *e = NULL;
    walk_ctx w = {.files = files, .err = &e};
    int rc = files ? walk_pack(dfd, "", &w) : -ENOMEM;
    close(dfd);
    if (rc == 0 && !json_equal(files, json_object_get(entry, "files")))
        rc = -EPERM;
    json_decref(files);
    mem_free(e);
    return rc;
}

int pack_install(const pack_install_opts *o, pack_installed *out, char **err)
{
    *out = (pack_installed){0};
    if (!o || !o->skills_dir)
        return err_set(err, -EINVAL, "pack_install: no skill directory");
    char *buf = NULL, *source = NULL, *tmp = NULL, *mpath = NULL, *target = NULL;
    size_t len = 0;
    pack_info pi = {0};
    manifest *m = NULL;
    json_t *lock = NULL, *files = NULL;
    int guard = -1, dfd = -1;
    bool keep_tmp = false;
    int rc = 0;
    if (o->data) {
        buf = mem_alloc(o->data_len + 1);
        source = mem_strdup(o->source ? o->source : "(memory)");
        if (!buf || !source) {
            mem_free(buf);
            mem_free(source);
            return err_set(err, -ENOMEM, "out of memory");
        }
        memcpy(buf, o->data, o->data_len);
        len = o->data_len;
    } else if ((rc = pack_fetch(o->source, &buf, &len, &source, err)) < 0) {
        return rc;
    }
    if ((rc = mkdir_p(o->skills_dir, 0755, err)) < 0 || (rc = guard = lock_dir(o->skills_dir, err)) < 0)
        goto out;
    if ((rc = pack_lock_read(o->skills_dir, &lock, err)) < 0)
        goto out;
    tmp = mem_printf("%s/.install-XXXXXX", o->skills_dir);
    if (!tmp) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (!mkdtemp(tmp)) {
        rc = err_set(err, -errno, "cannot create a temp dir in %s: %s", o->skills_dir, strerror(errno));
        mem_free(tmp);
        tmp = NULL;
        goto out;
    }
    chmod(tmp, 0755);
    if ((dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = err_set(err, -errno, "cannot open %s: %s", tmp, strerror(errno));
        goto out;
    }
    if ((rc = pack_extract_memory(buf, len, dfd, &pi, err)) < 0) {
        err_prefix(err, rc, "invalid pack %s", source);
        goto out;
    }
    bool trusted = pi.is_signed && pack_key_trusted(pi.key_id, o->trusted_keys, o->extra_keys, o->n_extra_keys);
    if (!trusted && !o->allow_unsigned) {
        if (pi.is_signed)
            rc = err_set(err, -EACCES, "pack '%s' %s is signed by key %s, which you do not trust; if you trust its "
                         "author, add their public key with 'venom trust add ed25519:…' (check the key id %s with "
                         "them), or install it anyway with --allow-unsigned (it will always run sandboxed)",
                         pi.name, pi.version, pi.key_id, pi.key_id);
        else
            rc = err_set(err, -EACCES, "pack '%s' %s is not signed; install it only with --allow-unsigned (it will "
                         "always run sandboxed), or ask its author for a signed pack", pi.name, pi.version);
        goto out;
    }
    if ((rc = manifest_find(tmp, &mpath, err)) < 0 || (rc = manifest_load(mpath, &m, err)) < 0) {
        err_prefix(err, rc, "invalid pack %s", source);
        goto out;
    }
    skillmd *sk = NULL;
    if ((rc = skillmd_load(tmp, m->name, &sk, err)) < 0 && rc != -ENOENT) {
        err_prefix(err, rc, "invalid pack %s", source);
        goto out;
    }
    skillmd_free(sk);
    rc = 0;
    if (strcmp(m->name, pi.name) != 0 || strcmp(m->version, pi.version) != 0) {
        rc = err_set(err, -EINVAL, "invalid pack %s: its manifest says %s %s but its content manifest says %s %s; "
                     "rebuild it with 'venom pack build'", source, m->name, m->version, pi.name, pi.version);
        goto out;
    }
    files = json_object();
    char *werr = NULL;
    walk_ctx w = {.files = files, .err = &werr};
    if (!files || (rc = walk_pack(dfd, "", &w)) < 0 || (rc = check_elves(dfd, files, &werr)) < 0) {
        rc = err_set(err, rc ? rc : -ENOMEM, "invalid pack %s: %s", source, werr ? werr : "out of memory");
        mem_free(werr);
        goto out;
    }
    mem_free(werr);
    if (m->library && access(m->library, R_OK) < 0) {
        rc = err_set(err, -ENOEXEC, "pack '%s' has no plugin for this machine (%s): its library %s is not in the "
                     "pack; ask its author for a build for %s", m->name, pack_host_triplet(),
                     m->library + strlen(m->dir) + 1, pack_host_triplet());
        goto out;
    }
    target = mem_printf("%s/%s", o->skills_dir, m->name);
    if (!target) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    json_t *packs = json_object_get(lock, "packs");
    json_t *prev = json_object_get(packs, m->name);
    struct stat st;
    bool exists = lstat(target, &st) == 0;
    if (exists && !prev) {
        rc = err_set(err, -EEXIST, "%s already exists and was not installed by 'venom skill install' (it is not in "
                     "%s/" PACK_LOCK "); move it away first", target, o->skills_dir);
        goto out;
    }
    if (exists && !S_ISDIR(st.st_mode)) {
        rc = err_set(err, -EEXIST, "%s exists and is not a directory; move it away first", target);
        goto out;
    }
    out->previous = prev ? mem_strdup(json_string_value(json_object_get(prev, "version"))) : NULL;
    const char *prev_signer = json_string_value(json_object_get(json_object_get(prev, "signer"), "key_id"));
    if (prev && exists && !strcmp(json_string_value(json_object_get(prev, "contents_sha256")), pi.contents_sha256) &&
        !strcmp(prev_signer ? prev_signer : "", pi.key_id) && installed_intact(target, prev) == 0) {
        out->unchanged = true; /* the same pack, intact: nothing to do */
    } else {
        if (o->probe && (rc = o->probe(o->user, m, err)) < 0)
            goto out;
        pack_plan plan = {.m = m, .info = &pi, .trusted = trusted, .previous = out->previous};
        if (o->confirm && (rc = o->confirm(o->user, &plan, err)) < 0)
            goto out;
        /* swap in: the old pack (if any) ends up in tmp and is removed */
        if (exists) {
            if (renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_EXCHANGE) < 0) {
                rc = err_set(err, -errno, "cannot replace %s: %s", target, strerror(errno));
                goto out;
            }
        } else if (rename(tmp, target) < 0) {
            rc = err_set(err, -errno, "cannot move the pack into %s: %s", target, strerror(errno));
            goto out;
        }
        if (!exists)
            keep_tmp = true; /* tmp is now the installed pack */
        char now[32];
        utc_now(now);
        json_t *signer = pi.is_signed ? json_pack("{s:s, s:s}", "key", pi.key, "key_id", pi.key_id) : json_null();
        json_t *entry = json_pack("{s:s, s:s, s:o, s:s, s:s, s:O}", "version", pi.version, "source", source, "signer",
                                  signer, "contents_sha256", pi.contents_sha256, "installed", now, "files", files);
        if (!entry || json_object_set_new(packs, m->name, entry) < 0) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = lock_write(o->skills_dir, lock, err)) < 0)
            goto out;
    }
    out->name = mem_strdup(m->name);
    out->version = mem_strdup(m->version);
    out->dir = target;
    out->source = source;
    target = source = NULL;
    out->is_signed = pi.is_signed;
    out->trusted = trusted;
    memcpy(out->key_id, pi.key_id, sizeof out->key_id);
    if (!out->name || !out->version)
        rc = err_set(err, -ENOMEM, "out of memory");
out:
    if (dfd >= 0)
        close(dfd);
    if (tmp && !keep_tmp)
        rm_tree(tmp);
    unlock_dir(guard);
    if (rc < 0)
        pack_installed_release(out);
    manifest_free(m);
    pack_info_release(&pi);
    json_decref(lock);
    json_decref(files);
    mem_free(buf);
    mem_free(source);
    mem_free(tmp);
    mem_free(mpath);
    mem_free(target);
    return rc;
}

/* ---- remove and verify -------------------------------------------------- */

int pack_remove(const char *skills_dir, const char *name, char **version, char **err)
{
    if (version)
        *version = NULL;
    json_t *lock = NULL;
    char *target = mem_printf("%s/%s", skills_dir, name), *tmp = NULL;
    if (!target)
        return err_set(err, -ENOMEM, "out of memory");
    int guard = lock_dir(skills_dir, err), rc = guard;
    if (guard < 0)
        goto out;
    if ((rc = pack_lock_read(skills_dir, &lock, err)) < 0)
        goto out;
    json_t *packs = json_object_get(lock, "packs");
    json_t *entry = json_object_get(packs, name);
    struct stat st;
    if (!entry) {
        rc = lstat(target, &st) == 0
                 ? err_set(err, -EPERM, "%s was not installed by 'venom skill install' (it is not in %s/" PACK_LOCK
                           "); delete it by hand if you mean to", target, skills_dir)
                 : err_set(err, -ENOENT, "no pack '%s' is installed in %s; 'venom skill list' shows the skills and "
                           "their packs", name, skills_dir);
        goto out;
    }
    if (version)
        *version = mem_strdup(json_string_value(json_object_get(entry, "version")));
    if (lstat(target, &st) == 0) {
        tmp = mem_printf("%s/.remove-%s-XXXXXX", skills_dir, name);
        if (!tmp || !mkdtemp(tmp)) {
            rc = err_set(err, tmp ? -errno : -ENOMEM, "cannot remove %s: %s", target, strerror(tmp ? errno : ENOMEM));
            goto out;
        }
        /* move it aside in one step, then delete: a reader never sees half a pack */
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_EXCHANGE) < 0 || rmdir(target) < 0) {
            rc = err_set(err, -errno, "cannot remove %s: %s", target, strerror(errno));
            goto out;
        }
        rm_tree(tmp);
    }
    json_object_del(packs, name);
    rc = lock_write(skills_dir, lock, err);
out:
    unlock_dir(guard);
    json_decref(lock);
    mem_free(target);
    mem_free(tmp);
    return rc;
}

/* The problems of one installed pack, appended to problems (strings). */
static int check_one(const char *skills_dir, const char *name, const json_t *entry, json_t *problems)
{
    char *dir = mem_printf("%s/%s", skills_dir, name);
    if (!dir)
        return -ENOMEM;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        json_array_append_new(problems, json_sprintf("%s is missing (%s)", dir, strerror(errno)));
        mem_free(dir);
        return 0;
    }
    json_t *have = json_object();
    char *e = NULL;
    walk_ctx w = {.files = have, .err = &e};
    int rc = have ? walk_pack(dfd, "", &w) : -ENOMEM;
    close(dfd);
    if (rc < 0 && rc != -ENOMEM) {
        json_array_append_new(problems, json_string(e ? e : "cannot read the pack"));
        rc = 0;
    }
    const json_t *want = json_object_get(entry, "files");
    const char *rel;
    json_t *v;
    json_object_foreach((json_t *)want, rel, v)
    {
        const char *h = json_string_value(json_object_get(have, rel));
        if (!h)
            json_array_append_new(problems, json_sprintf("%s/%s is missing", dir, rel));
        else if (strcmp(h, json_string_value(v)) != 0)
            json_array_append_new(problems, json_sprintf("%s/%s was modified (SHA-256 differs from the lock file)",
                                                         dir, rel));
    }
    json_object_foreach(have, rel, v)
    {
        if (!json_object_get(want, rel))
            json_array_append_new(problems, json_sprintf("%s/%s was added after install", dir, rel));
    }
    json_decref(have);
    mem_free(e);
    mem_free(dir);
    return rc;
}

int pack_verify_installed(const char *skills_dir, const char *name, json_t **report, char **err)
{
    *report = NULL;
    json_t *lock = NULL;
    int rc = pack_lock_read(skills_dir, &lock, err);
    if (rc < 0)
        return rc;
    json_t *packs = json_object_get(lock, "packs");
    json_t *out = json_array();
    if (!out) {
        json_decref(lock);
        return err_set(err, -ENOMEM, "out of memory");
    }
    if (name && !json_object_get(packs, name)) {
        json_decref(out);
        json_decref(lock);
        return err_set(err, -ENOENT, "no pack '%s' is installed in %s", name, skills_dir);
    }
    const char *pname;
    json_t *entry;
    json_object_foreach(packs, pname, entry)
    {
        if (name && strcmp(name, pname) != 0)
            continue;
        json_t *problems = json_array();
        if (!problems || (rc = check_one(skills_dir, pname, entry, problems)) < 0) {
            json_decref(problems);
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        json_t *signer = json_object_get(entry, "signer");
        json_t *r = json_pack("{s:s, s:O, s:s, s:O, s:b, s:o}", "pack", pname, "version",
                              json_object_get(entry, "version"), "dir", skills_dir, "signer",
                              signer ? signer : json_null(), "ok", json_array_size(problems) == 0, "problems",
                              problems);
        if (!r || json_array_append_new(out, r) < 0) {
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
    }
    json_decref(lock);
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    *report = out;
    return 0;
}
