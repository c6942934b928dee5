/*
 * fuzz_pack_install.c — libFuzzer target for the installer (pack/install.c):
 * the input is installed as a pack archive (unsigned allowed, no sandbox
 * probe) into a skill directory inside a scratch root. Whatever the bytes,
 * the result is a clean one-line error or an installed pack, and afterwards
 * the root holds nothing but the skill directory, which holds nothing but
 * the lock guard, the lock file and — after a success — the one pack
 * directory: no temp dir survives, nothing is written outside.
 */
#include "util/common.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64], skills[96];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

static void rm_rf(const char *path)
{
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
        __builtin_trap();
}

/* Every name in dir must be one of allowed (NULL-terminated); returns the count. */
static size_t only(const char *dir, const char *const *allowed)
{
    DIR *d = opendir(dir);
    if (!d)
        __builtin_trap();
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok = ok || !strcmp(e->d_name, allowed[i]);
        if (!ok) {
            fprintf(stderr, "fuzz_pack_install: unexpected %s/%s\n", dir, e->d_name);
            __builtin_trap();
        }
        n++;
    }
    closedir(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!*root) {
        mem_install();
        snprintf(root, sizeof root, "%s/venom-fuzz-install-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(root))
            __builtin_trap();
        snprintf(skills, sizeof skills, "%s/skills", root);
    }
    pack_install_opts o = {.source = "fuzz.tar.gz", .data = data, .data_len = size, .skills_dir = skills,
                           .allow_unsigned = true};
    pack_installed r;
    char *err = NULL;
    int rc = pack_install(&o, &r, &err);
    const char *top[] = {"skills", NULL};
    only(root, top);
    if (rc == 0) {
        if (err || !r.name || !r.version || !r.dir || strchr(r.name, '/'))
            __builtin_trap();
        const char *in[] = {".venom.lock.lck", "venom.lock", r.name, NULL};
        if (only(skills, in) != 3)
            __builtin_trap();
        char *rerr = NULL;
        if (pack_remove(skills, r.name, NULL, &rerr) < 0)
            __builtin_trap();
        pack_installed_release(&r);
    } else {
        if (rc != -ENOMEM && (!err || !*err || strchr(err, '\n')))
            __builtin_trap();
        const char *in[] = {".venom.lock.lck", "venom.lock", NULL};
        only(skills, in);
    }
    mem_free(err);
    rm_rf(skills);
    return 0;
}
