#include "util/common.h"

#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include "plugin/loader.h"
#include "util/err.h"

/* ------------------------------------------------------------ crash marks */

typedef struct crash_mark {
    const char *who;
    const char *path;
    const char *phase;
    const struct crash_mark *prev;
} crash_mark;

static _Thread_local crash_mark marks[8];
static _Thread_local int mark_depth;
static _Thread_local const crash_mark *current_mark;

const void *loader_enter(const char *who, const char *path, const char *phase)
{
    const crash_mark *prev = current_mark;
    if (mark_depth < (int)ARRAY_SIZE(marks)) {
        crash_mark *m = &marks[mark_depth++];
        *m = (crash_mark){.who = who, .path = path, .phase = phase, .prev = prev};
        current_mark = m;
    }
    return prev;
}

void loader_leave(const void *prev)
{
    if (mark_depth > 0)
        mark_depth--;
    current_mark = prev;
}

static void put(const char *s)
{
    if (!s)
        return;
    ssize_t n = write(STDERR_FILENO, s, strlen(s));
    (void)n;
}

static void crash_handler(int sig)
{
    const crash_mark *m = current_mark;
    if (m) {
        put("venom: plugin '");
        put(m->who);
        put("' (");
        put(m->path);
        put(") crashed in ");
        put(m->phase);
        put(": ");
        put(sigabbrev_np(sig) ? sigabbrev_np(sig) : "signal");
        put(" — the plugin is broken; run untrusted packs sandboxed, report it to its author\n");
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void loader_install_crash_reporter(void)
{
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL);
    struct sigaction sa = {.sa_handler = crash_handler, .sa_flags = SA_ONSTACK | SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
        sigaction(sigs[i], &sa, NULL);
}

/* ------------------------------------------------------------ descriptors */

int loader_copy_desc(void *dst, size_t dst_size, size_t min_size, size_t size_off, const void *src,
                     const char *what, char **err)
{
    memset(dst, 0, dst_size);
    if (!src)
        return err_set(err, -EINVAL, "%s is NULL", what);
    uint32_t size;
    memcpy(&size, (const char *)src + size_off, sizeof size);
    if (size < min_size)
        return err_set(err, -EINVAL,
                       "%s too small: struct_size %" PRIu32 " bytes, ABI %d.0 needs at least %zu; "
                       "set struct_size = sizeof(the struct) and rebuild against the venom SDK",
                       what, size, VENOM_ABI_MAJOR, min_size);
    if (size > 65536)
        return err_set(err, -EINVAL, "%s has an absurd struct_size %" PRIu32 "; it is corrupted", what, size);
    if (size > dst_size) {
        const unsigned char *tail = (const unsigned char *)src + dst_size;
        for (size_t i = 0; i < size - dst_size; i++) {
            if (tail[i])
                return err_set(err, -EINVAL,
                               "%s oversized: struct_size %" PRIu32 " bytes with non-zero fields past the %zu "
                               "this host (ABI %d.%d) knows; the plugin uses a newer SDK feature — upgrade venom "
                               "or leave the new fields zero",
                               what, size, dst_size, VENOM_ABI_MAJOR, VENOM_ABI_MINOR);
        }
    }
    memcpy(dst, src, size < dst_size ? size : dst_size);
    return 0;
}

/* ------------------------------------------------------------ registration */

static int add_name(char ***names, size_t n, const char *name)
{
    char **v = mem_realloc(*names, (n + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    *names = v;
    v[n] = mem_strdup(name);
    return v[n] ? 0 : -ENOMEM;
}

static bool valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

int plugin_accept_skill(plugin *p, const venom_skill_desc *d, char **err)
{
    venom_skill_desc c;
    int rc = loader_copy_desc(&c, sizeof c, LOADER_SKILL_MIN_SIZE, 0, d, "skill descriptor", err);
    if (rc < 0)
        return rc;
    if (!valid_name(c.name))
        return err_set(err, -EINVAL, "skill descriptor has an invalid name%s%s%s (use [a-z0-9_-])",
                       c.name ? " '" : "", c.name ? c.name : "", c.name ? "'" : "");
    if (!c.call)
        return err_set(err, -EINVAL, "skill '%s' has no call function", c.name);
    if (!(p->info.kinds & VENOM_KIND_SKILLS))
        return err_set(err, -EPERM, "skill '%s' registered but the info block's kinds lacks VENOM_KIND_SKILLS",
                       c.name);
    if (plugin_skill(p, c.name))
        return err_set(err, -EEXIST, "skill '%s' registered twice", c.name);
    venom_skill_desc *v = mem_realloc(p->skills, (p->n_skills + 1) * sizeof *v);
    if (!v)
        return err_set(err, -ENOMEM, "out of memory");
    p->skills = v;
    if (add_name(&p->skill_names, p->n_skills, c.name) < 0)
        return err_set(err, -ENOMEM, "out of memory");
    c.name = p->skill_names[p->n_skills];
    c.description = NULL; /* the manifest's text is what counts */
    v[p->n_skills++] = c;
    return 0;
}

int plugin_accept_provider(plugin *p, const venom_provider_desc *d, char **err)
{
    venom_provider_desc c;
    int rc = loader_copy_desc(&c, sizeof c, LOADER_PROVIDER_MIN_SIZE, 0, d, "provider descriptor", err);
    if (rc < 0)
        return rc;
    if (!valid_name(c.name))
        return err_set(err, -EINVAL, "provider descriptor has an invalid name");
    if (!(p->info.kinds & VENOM_KIND_PROVIDER))
        return err_set(err, -EPERM, "provider '%s' registered but the info block's kinds lacks VENOM_KIND_PROVIDER",
                       c.name);
    if (!c.open || !c.chat)
        return err_set(err, -EINVAL, "provider '%s' lacks open or chat", c.name);
    for (size_t i = 0; i < p->n_providers; i++)
        if (!strcmp(p->provider_names[i], c.name))
            return err_set(err, -EEXIST, "provider '%s' registered twice", c.name);
    venom_provider_desc *v = mem_realloc(p->providers, (p->n_providers + 1) * sizeof *v);
    if (!v)
        return err_set(err, -ENOMEM, "out of memory");
    p->providers = v;
    if (add_name(&p->provider_names, p->n_providers, c.name) < 0)
        return err_set(err, -ENOMEM, "out of memory");
    c.name = p->provider_names[p->n_providers];
    c.description = NULL;
    v[p->n_providers++] = c;
    return 0;
}

const venom_skill_desc *plugin_skill(const plugin *p, const char *name)
{
    for (size_t i = 0; p && i < p->n_skills; i++)
        if (!strcmp(p->skills[i].name, name))
            return &p->skills[i];
    return NULL;
}

/* ------------------------------------------------------------ load */

static int check_info(plugin *p, const venom_plugin_info *raw, char **err)
{
    uint32_t magic;
    memcpy(&magic, raw, sizeof magic);
    if (magic != VENOM_PLUGIN_MAGIC)
        return err_set(err, -EINVAL,
                       "bad magic 0x%08" PRIx32 " in the info block (expected 0x%08x \"VNOM\"): not a venom plugin, "
                       "or venom_plugin_entry returns the wrong pointer",
                       magic, VENOM_PLUGIN_MAGIC);
    int rc = loader_copy_desc(&p->info, sizeof p->info, LOADER_INFO_MIN_SIZE,
                              offsetof(venom_plugin_info, struct_size), raw, "info block", err);
    if (rc < 0)
        return rc;
    const venom_plugin_info *i = &p->info;
    if (i->abi_major != VENOM_ABI_MAJOR)
        return err_set(err, -EPROTO,
                       "built for venom ABI %u.%u but this host speaks ABI %d.%d; majors must be equal — rebuild "
                       "the plugin against the venom %d.x SDK",
                       i->abi_major, i->abi_minor, VENOM_ABI_MAJOR, VENOM_ABI_MINOR, VENOM_ABI_MAJOR);
    if (i->min_host_minor > VENOM_ABI_MINOR)
        return err_set(err, -EPROTO,
                       "needs a host with ABI %u.%u or newer but this host is ABI %d.%d; upgrade venom",
                       i->abi_major, i->min_host_minor, VENOM_ABI_MAJOR, VENOM_ABI_MINOR);
    if (!i->init)
        return err_set(err, -EINVAL, "info block has no init function");
    if (!i->name || strcmp(i->name, p->name))
        return err_set(err, -EINVAL, "plugin calls itself '%s' but its manifest says pack '%s'; make them agree",
                       i->name ? i->name : "(null)", p->name);
    if (!(i->kinds & (VENOM_KIND_SKILLS | VENOM_KIND_PROVIDER)))
        return err_set(err, -EINVAL, "info block kinds is 0x%x: set VENOM_KIND_SKILLS and/or VENOM_KIND_PROVIDER",
                       i->kinds);
    return 0;
}

int plugin_load(const char *path, const char *expected_name, plugin **out, char **err)
{
    int rc = 0;
    *out = NULL;
    plugin *p = mem_calloc(1, sizeof *p);
    if (!p)
        return err_set(err, -ENOMEM, "%s: out of memory", path);
    p->path = mem_strdup(path);
    p->name = mem_strdup(expected_name);
    if (!p->path || !p->name) {
        rc = err_set(err, -ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    host_ctx_init_plugin(&p->ctx, p, p->name);

    const void *mark = loader_enter(p->name, p->path, "load (constructors)");
    dlerror();
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    loader_leave(mark);
    if (!p->dl) {
        const char *e = dlerror();
        rc = err_set(err, -ELIBBAD, "%s: cannot load: %s", path, e ? e : "unknown dlopen error");
        goto fail;
    }
    dlerror();
    const venom_plugin_info *(*entry)(void) = (const venom_plugin_info *(*)(void))dlsym(p->dl, VENOM_ENTRY_SYMBOL);
    if (!entry) {
        rc = err_set(err, -ELIBBAD,
                     "%s: missing entry symbol %s; define it with VENOM_EXPORT and keep it exported "
                     "(-fvisibility=hidden hides it otherwise)",
                     path, VENOM_ENTRY_SYMBOL);
        goto fail;
    }
    mark = loader_enter(p->name, p->path, "venom_plugin_entry");
    const venom_plugin_info *raw = entry();
    loader_leave(mark);
    if (!raw) {
        rc = err_set(err, -ELIBBAD, "%s: venom_plugin_entry returned NULL", path);
        goto fail;
    }
    rc = check_info(p, raw, err);
    if (rc < 0) {
        err_prefix(err, rc, "%s", path);
        rc = -ELIBBAD;
        goto fail;
    }

    atomic_store(&p->ctx.in_init, true);
    mark = loader_enter(p->name, p->path, "init");
    int32_t irc = p->info.init(host_api(), &p->ctx, &p->state);
    loader_leave(mark);
    atomic_store(&p->ctx.in_init, false);
    if (p->reg_error) {
        rc = err_set(err, -ELIBBAD, "%s: %s", path, p->reg_error);
        p->initialized = irc == VENOM_OK;
        goto fail;
    }
    if (irc != VENOM_OK) {
        char *msg = host_ctx_take_error(&p->ctx);
        rc = err_set(err, -ELIBBAD, "%s: init failed (code %d): %s", path, irc,
                     msg ? msg : "the plugin gave no message");
        mem_free(msg);
        goto fail;
    }
    p->initialized = true;
    *out = p;
    return 0;
fail:
    plugin_unload(p);
    return rc;
}

void plugin_unload(plugin *p)
{
    if (!p)
        return;
    if (p->initialized && p->info.shutdown) {
        const void *mark = loader_enter(p->name, p->path, "shutdown");
        p->info.shutdown(p->state);
        loader_leave(mark);
    }
    if (p->dl)
        dlclose(p->dl);
    for (size_t i = 0; i < p->n_skills; i++)
        mem_free(p->skill_names[i]);
    for (size_t i = 0; i < p->n_providers; i++)
        mem_free(p->provider_names[i]);
    mem_free(p->skill_names);
    mem_free(p->skills);
    mem_free(p->provider_names);
    mem_free(p->providers);
    mem_free(p->reg_error);
    host_ctx_release(&p->ctx);
    mem_free(p->name);
    mem_free(p->path);
    mem_free(p);
}
