#include "util/common.h"

#include <sys/stat.h>

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

/* Resolve `path` ("." = workdir, relative = under workdir) and add it; a
 * path that does not exist is skipped. Duplicates are skipped. */
static int add_path(sandbox_strv *v, const char *workdir, const char *path)
{
    char *joined = NULL;
    if (!strcmp(path, "."))
        joined = mem_strdup(workdir);
    else if (path[0] == '/')
        joined = mem_strdup(path);
    else
        joined = mem_printf("%s/%s", workdir, path);
    if (!joined)
        return -ENOMEM;
    char *real = realpath(joined, NULL);
    mem_free(joined);
    if (!real)
        return errno == ENOMEM ? -ENOMEM : 0;
    int rc = 0;
    bool dup = false;
    for (size_t i = 0; i < v->n; i++)
        dup |= !strcmp(v->v[i], real);
    if (!dup)
        rc = strv_add(v, real);
    free(real); /* realpath allocates with malloc */
    return rc;
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
    rc = p->pack_dir && p->pack_name ? add_path(&p->ro, p->workdir, p->pack_dir) : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < m->perms.fs_read.n; i++)
        rc = add_path(&p->ro, p->workdir, m->perms.fs_read.v[i]);
    for (size_t i = 0; rc == 0 && i < m->perms.fs_write.n; i++)
        rc = add_path(&p->rw, p->workdir, m->perms.fs_write.v[i]);
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
