#include "util/common.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "plugin/manifest.h"
#include "sandbox/policy.h"
#include "sandbox/sandbox.h"
#include "util/err.h"

/* Read-only for every worker: the dynamic loader, libc and the libraries
 * plugins link against. Merged-/usr symlinks (/lib -> usr/lib) are kept as
 * symlinks by the mount view. */
const char *const sandbox_system_ro[] = {"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/alternatives",
                                         NULL};

static int strv_add(sandbox_strv *v, const char *s)
{
    char **n = mem_realloc(v->v, (v->n + 2) * sizeof *n);
    if (!n)
        return -ENOMEM;
    v->v = n;
    n[v->n] = mem_strdup(s);
    if (!n[v->n])
        return -ENOMEM;
    n[++v->n] = NULL;
    return 0;
}

static void strv_release(sandbox_strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        mem_free(v->v[i]);
    mem_free(v->v);
    v->v = NULL;
    v->n = 0;
}

/* A path under the workdir is resolved without following any symlink: a
 * skill that may write there could otherwise turn a declared path into a
 * symlink to anything on the host, and the next call's view would bind it.
 * 0 and *real (malloc'd) when it exists, -ENOENT when not, -ELOOP when a
 * component is a symlink, other -errno. */
static int resolve_beneath(const char *workdir, const char *rel, char **real)
{
    *real = NULL;
    int wfd = open(workdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (wfd < 0)
        return -errno;
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, wfd, rel, &how, sizeof how);
    int rc = fd < 0 ? -errno : 0;
    if (fd >= 0) {
        char link[64], buf[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = '\0';
            *real = strdup(buf);
            rc = *real ? 0 : -ENOMEM;
        } else {
            rc = -errno;
        }
        close(fd);
    }
    close(wfd);
    return rc == -EXDEV ? -ELOOP : rc;
}

/* Resolve `path` ("." = workdir, relative = under workdir) and add it; a
 * path that does not exist is skipped. Duplicates are skipped. A relative
 * path that runs through a symlink is refused (-ELOOP, *err says which). */
static int add_path_err(sandbox_strv *v, const char *workdir, const char *path, char **err)
{
    char *real = NULL;
    if (path[0] != '/' && strcmp(path, ".")) {
        int r = resolve_beneath(workdir, path, &real);
        if (r == -ENOENT)
            return 0;
        if (r == -ELOOP || r == -EXDEV)
            return err_set(err, -ELOOP,
                           "declared path '%s' runs through a symlink or out of the workdir %s; a sandboxed "
                           "skill may have planted it — remove it, venom binds declared paths only as they are",
                           path, workdir);
        if (r < 0)
            return r == -ENOMEM ? r : 0;
    } else {
        real = realpath(!strcmp(path, ".") ? workdir : path, NULL);
        if (!real)
            return errno == ENOMEM ? -ENOMEM : 0;
    }
    int rc = 0;
    bool dup = false;
    for (size_t i = 0; i < v->n; i++)
        dup |= !strcmp(v->v[i], real);
    if (!dup)
        rc = strv_add(v, real);
    free(real); /* realpath allocates with malloc */
    return rc;
}

static int add_path(sandbox_strv *v, const char *workdir, const char *path)
{
    return add_path_err(v, workdir, path, NULL);
}

static int init_common(sandbox_policy *p, const char *workdir, char **err)
{
    char *real = realpath(workdir ? workdir : ".", NULL);
    if (!real)
        return err_set(err, -errno, "workdir '%s': %s", workdir ? workdir : ".", strerror(errno));
    p->workdir = mem_strdup(real);
    free(real);
    if (!p->workdir)
        return err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; sandbox_system_ro[i]; i++) {
        struct stat st;
        if (lstat(sandbox_system_ro[i], &st) == 0 && strv_add(&p->ro, sandbox_system_ro[i]) < 0)
            return err_set(err, -ENOMEM, "out of memory");
    }
    if (add_path(&p->ro, p->workdir, sandbox_worker_path()) < 0)
        return err_set(err, -ENOMEM, "out of memory");
    p->time_ms = SANDBOX_DEFAULT_TIME_MS;
    p->cpu_s = SANDBOX_DEFAULT_CPU_S;
    p->memory_bytes = SANDBOX_DEFAULT_MEMORY;
    p->processes = SANDBOX_DEFAULT_PROCESSES;
    p->nofile = SANDBOX_DEFAULT_NOFILE;
    p->fsize_bytes = SANDBOX_DEFAULT_FSIZE;
    p->output_bytes = SANDBOX_DEFAULT_OUTPUT;
    p->tmp_bytes = SANDBOX_DEFAULT_TMP;
    return 0;
}

int sandbox_policy_build(const char *workdir, const char *const *ro, size_t n_ro, const char *const *rw, size_t n_rw,
                         sandbox_policy **out, char **err)
{
    *out = NULL;
    sandbox_policy *p = mem_calloc(1, sizeof *p);
    if (!p)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = init_common(p, workdir, err);
    for (size_t i = 0; rc == 0 && i < n_ro; i++)
        rc = add_path(&p->ro, p->workdir, ro[i]);
    for (size_t i = 0; rc == 0 && i < n_rw; i++)
        rc = add_path(&p->rw, p->workdir, rw[i]);
    if (rc < 0) {
        if (rc == -ENOMEM)
            err_set(err, rc, "out of memory");
        sandbox_policy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int sandbox_policy_new(const manifest *m, const char *workdir, sandbox_policy **out, char **err)
{
    *out = NULL;
    sandbox_policy *p = mem_calloc(1, sizeof *p);
    if (!p)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = init_common(p, workdir, err);
    if (rc < 0)
        goto fail;
    char *pd = realpath(m->dir, NULL);
    if (!pd) {
        rc = err_set(err, -errno, "pack dir %s: %s", m->dir, strerror(errno));
        goto fail;
    }
    p->pack_dir = mem_strdup(pd);
    free(pd);
    p->pack_name = mem_strdup(m->name);
    p->manifest = m;
    rc = p->pack_dir && p->pack_name ? add_path(&p->ro, p->workdir, p->pack_dir) : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < m->perms.fs_read.n; i++)
        rc = add_path_err(&p->ro, p->workdir, m->perms.fs_read.v[i], err);
    for (size_t i = 0; rc == 0 && i < m->perms.fs_write.n; i++)
        rc = add_path_err(&p->rw, p->workdir, m->perms.fs_write.v[i], err);
    if (rc == -ELOOP)
        goto fail;
    for (size_t i = 0; rc == 0 && i < m->perms.env.n; i++) {
        const char *v = getenv(m->perms.env.v[i]);
        if (!v)
            continue;
        char *kv = mem_printf("%s=%s", m->perms.env.v[i], v);
        rc = kv ? strv_add(&p->env, kv) : -ENOMEM;
        mem_free(kv);
    }
    if (rc < 0) {
        err_set(err, rc, "out of memory");
        goto fail;
    }
    p->net = m->perms.network == MANIFEST_NET_FULL;
    p->exec = m->perms.exec;
    if (m->limits.time_ms)
        p->time_ms = m->limits.time_ms;
    if (m->limits.memory_mb)
        p->memory_bytes = (uint64_t)m->limits.memory_mb << 20;
    if (m->limits.processes)
        p->processes = m->limits.processes;
    if (m->limits.output_bytes)
        p->output_bytes = m->limits.output_bytes;
    *out = p;
    return 0;
fail:
    sandbox_policy_free(p);
    return rc;
}

void sandbox_policy_free(sandbox_policy *p)
{
    if (!p)
        return;
    strv_release(&p->ro);
    strv_release(&p->rw);
    strv_release(&p->env);
    mem_free(p->workdir);
    mem_free(p->pack_dir);
    mem_free(p->pack_name);
    mem_free(p);
}
