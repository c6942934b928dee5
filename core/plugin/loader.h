/*
 * loader.h — loads one plugin shared object and checks it against the SDK
 * rules before and after any of its code runs:
 *   dlopen(RTLD_NOW|RTLD_LOCAL) -> entry symbol -> info block (magic, size,
 *   zero tail, ABI major, min_host_minor, name) -> init with the host table
 *   -> registrations (descriptor sizes, zero tails, duplicates).
 * Every rejection is one line naming the file and the reason.
 *
 * The loader also owns the crash reporter: while plugin code runs, a fatal
 * signal prints which plugin crashed and in which phase before the default
 * action (so in-process crashes are attributed; sandboxing is core/sandbox/).
 */
#ifndef VENOM_PLUGIN_LOADER_H
#define VENOM_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <venom/venom.h>

#include "plugin/host.h"

typedef struct plugin {
    char *path;                     /* the .so */
    char *name;                     /* pack name expected from the manifest */
    void *dl;                       /* dlopen handle */
    venom_plugin_info info;         /* copy of the plugin's info block */
    void *state;                    /* from init */
    venom_ctx ctx;                  /* plugin context */
    bool initialized;               /* init returned OK */
    venom_skill_desc *skills;       /* registered skills (copies) */
    char **skill_names;             /* owned copies of the names */
    size_t n_skills;
    venom_provider_desc *providers; /* registered providers (copies) */
    char **provider_names;
    size_t n_providers;
    char *reg_error;                /* first registration error, if any */
} plugin;

/* Load and initialise the plugin at path, which the manifest says is pack
 * `expected_name`. On failure *err is one line "<path>: <reason>" and
 * nothing stays loaded. Not thread-safe with other loads (registry locks). */
int plugin_load(const char *path, const char *expected_name, plugin **out, char **err)
    __attribute__((warn_unused_result));
/* shutdown + dlclose + free. NULL is fine. */
void plugin_unload(plugin *p);
/* The registered skill `name` (short name) or NULL. */
const venom_skill_desc *plugin_skill(const plugin *p, const char *name);

/* Called by the host's register_* functions (host.c). */
int plugin_accept_skill(plugin *p, const venom_skill_desc *d, char **err);
int plugin_accept_provider(plugin *p, const venom_provider_desc *d, char **err);

/* Copy a size-prefixed descriptor into dst (dst_size bytes, zeroed first);
 * its uint32_t struct_size is at byte size_off. Rejects sizes below
 * min_size, and sizes above dst_size unless the extra tail is zero. `what`
 * names it in the message. */
int loader_copy_desc(void *dst, size_t dst_size, size_t min_size, size_t size_off, const void *src,
                     const char *what, char **err);

/* Mark that plugin code of `p` runs now in `phase` ("init", "call fs.read"…),
 * for the crash reporter; returns the previous mark for loader_leave. */
const void *loader_enter(const char *who, const char *path, const char *phase);
void loader_leave(const void *prev);
/* Install SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGABRT reporting (CLI start-up). */
void loader_install_crash_reporter(void);

/* Minimum sizes of the 1.0 structs (the size of their 1.0 fields). */
#define LOADER_INFO_MIN_SIZE (offsetof(venom_plugin_info, shutdown) + sizeof(void (*)(void *)))
#define LOADER_SKILL_MIN_SIZE (offsetof(venom_skill_desc, data) + sizeof(void *))
#define LOADER_PROVIDER_MIN_SIZE (offsetof(venom_provider_desc, list_models) + sizeof(void *))

#endif
