/*
 * venom.h — the venom plugin SDK, ABI 1.1. This one header is the whole
 * contract between the venom host and its plugins (skill packs and model
 * providers). Reference: docs/sdk.md.
 *
 * Rules of the ABI (they hold for every 1.x):
 *   - A plugin exports exactly one symbol, venom_plugin_entry(), which returns
 *     a pointer to a static venom_plugin_info. The host checks it (magic, size,
 *     versions) before it runs any other plugin code.
 *   - Version rule: the plugin's abi_major must equal the host's; the plugin's
 *     min_host_minor must be <= the host's minor.
 *   - Every struct that crosses the boundary starts with a uint32_t
 *     struct_size. Structs only ever grow at the end. A reader copies
 *     min(struct_size, its own size) into a zeroed struct; a struct larger
 *     than the reader knows is accepted only if the unknown tail is all zero.
 *   - Values cross as JSON text (UTF-8, NUL-terminated): schemas, arguments,
 *     results, chat requests and responses. Only fixed-width integers, no
 *     enums or bitfields, appear in ABI structs.
 *   - Functions return 0 (VENOM_OK) or a negative VENOM_E_* code. Messages go
 *     through venom_host_api.set_error; the host copies them. A plugin never
 *     prints, exits, aborts or longjmps across the boundary.
 *   - Ownership: inputs are borrowed for the duration of the call; whatever
 *     the host keeps it copies; memory that changes hands is allocated with
 *     venom_host_api.alloc and released with venom_host_api.free.
 *   - The same plugin binary runs in-process or inside a sandboxed worker;
 *     in a worker the host table is a shim that forwards over IPC.
 */
#ifndef VENOM_VENOM_H
#define VENOM_VENOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of this header. */
#define VENOM_ABI_MAJOR 1
#define VENOM_ABI_MINOR 1

/* First field of venom_plugin_info: the bytes "VNOM" read as little-endian. */
#define VENOM_PLUGIN_MAGIC 0x4d4f4e56u

/* Name of the one symbol a plugin exports. */
#define VENOM_ENTRY_SYMBOL "venom_plugin_entry"

/* Marks the entry point as exported when building with -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define VENOM_EXPORT __attribute__((visibility("default")))
#else
#define VENOM_EXPORT
#endif

/* ---------------------------------------------------------------- errors */

/* Status codes: 0 is success, every failure is negative. Stable across 1.x. */
#define VENOM_OK 0
#define VENOM_E_INVAL (-1)       /* bad argument or bad JSON */
#define VENOM_E_NOMEM (-2)       /* allocation failed */
#define VENOM_E_NOTFOUND (-3)    /* no such file, skill, secret, key */
#define VENOM_E_PERM (-4)        /* not permitted by the manifest or policy */
#define VENOM_E_IO (-5)          /* operating-system I/O error */
#define VENOM_E_STATE (-6)       /* called at the wrong time (e.g. register outside init) */
#define VENOM_E_UNSUPPORTED (-7) /* not available on this host / in this mode */
#define VENOM_E_CANCELLED (-8)   /* the call was cancelled */
#define VENOM_E_TIMEOUT (-9)     /* a deadline passed */
#define VENOM_E_TOOBIG (-10)     /* a size limit was exceeded */
#define VENOM_E_VERSION (-11)    /* ABI version mismatch */
#define VENOM_E_EXISTS (-12)     /* already exists (duplicate name, file) */
#define VENOM_E_NET (-13)        /* network or remote-service error */
#define VENOM_E_FAILED (-14)     /* the operation ran and failed; see the message */
#define VENOM_E_INTERNAL (-15)   /* a bug; see the message */

/* ------------------------------------------------------------ log levels */

#define VENOM_LOG_ERROR 0
#define VENOM_LOG_WARN 1
#define VENOM_LOG_INFO 2
#define VENOM_LOG_DEBUG 3

/* ------------------------------------------------------------ plugin kinds */

/* venom_plugin_info.kinds is a bit set of what the plugin may register. */
#define VENOM_KIND_SKILLS 0x1u
#define VENOM_KIND_PROVIDER 0x2u

/* ------------------------------------------------------------ fs flags */

/* Flags for venom_host_api.fs_open (combine with |). */
#define VENOM_FS_READ 0x1u      /* open for reading */
#define VENOM_FS_WRITE 0x2u     /* open for writing (needs write permission) */
#define VENOM_FS_CREATE 0x4u    /* create if missing (with VENOM_FS_WRITE) */
#define VENOM_FS_TRUNC 0x8u     /* truncate (with VENOM_FS_WRITE) */
#define VENOM_FS_DIRECTORY 0x10u /* must be a directory; returns a directory fd */
#define VENOM_FS_EXCL 0x20u     /* with CREATE: fail if it exists */

/*
 * Opaque handle the host passes to the plugin. There are two kinds:
 *   - the plugin context, given to init: valid for log/set_error for the
 *     plugin's whole life, and for register_* only while init runs;
 *   - a call context, given to each skill or provider call: valid until that
 *     call returns.
 * Each host function says which kind it accepts.
 */
typedef struct venom_ctx venom_ctx;

/* ------------------------------------------------------------ skills */

/*
 * A skill implementation. args_json is the validated JSON object of
 * arguments (borrowed). On success set the result with host->set_result and
 * return VENOM_OK; on failure call host->set_error and return a VENOM_E_*.
 * `data` is venom_skill_desc.data. May be called from any thread, and from
 * several threads at once: a skill must be thread-safe.
 */
typedef int32_t (*venom_skill_fn)(venom_ctx *call, const char *args_json, void *data);

/* Describes one skill; passed to register_skill during init. */
typedef struct venom_skill_desc {
    uint32_t struct_size;    /* sizeof(venom_skill_desc) */
    uint32_t flags;          /* reserved: 0 */
    const char *name;        /* skill name as in the manifest, e.g. "read" */
    const char *description; /* optional; the manifest's text wins */
    venom_skill_fn call;     /* the implementation; required */
    void *data;              /* passed back to call */
} venom_skill_desc;

/* ------------------------------------------------------------ providers */

/* Provider capability bits (venom_provider_desc.caps). */
#define VENOM_PROVIDER_CHAT 0x1u
#define VENOM_PROVIDER_STREAM 0x2u
#define VENOM_PROVIDER_TOOLS 0x4u
#define VENOM_PROVIDER_EMBED 0x8u
#define VENOM_PROVIDER_MODELS 0x10u

/*
 * Describes a model provider; passed to register_provider during init.
 * A provider is opened once per configuration (base URL, key variable,
 * options as JSON) and then serves calls on that instance. Request and
 * response shapes are venom's canonical JSON formats (docs/sdk.md).
 */
typedef struct venom_provider_desc {
    uint32_t struct_size; /* sizeof(venom_provider_desc) */
    uint32_t caps;        /* VENOM_PROVIDER_* bits */
    const char *name;     /* provider name, e.g. "openai" */
    const char *description;
    void *data;           /* passed to open */

    /* Create an instance from config_json (borrowed). Store it in *instance.
     * `ctx` is the plugin context. Thread: host's, one at a time. */
    int32_t (*open)(venom_ctx *ctx, const char *config_json, void *data, void **instance);
    /* Release an instance. May be NULL. */
    void (*close)(void *instance);

    /* Chat: request_json is the canonical chat request. Stream deltas with
     * host->stream (when the request asks for streaming) and set the final
     * canonical response with host->set_result. Any thread; concurrent calls
     * on one instance must be safe. */
    int32_t (*chat)(venom_ctx *call, void *instance, const char *request_json);
    /* Embeddings: {"model":…, "input":[…]} -> {"embeddings":[[…]…], "usage":{…}}.
     * May be NULL when caps lacks VENOM_PROVIDER_EMBED. */
    int32_t (*embed)(venom_ctx *call, void *instance, const char *request_json);
    /* Model list: result {"models":[{"id":…, …}…]}. May be NULL. */
    int32_t (*list_models)(venom_ctx *call, void *instance);
} venom_provider_desc;

/* ------------------------------------------------------------ host table */

/*
 * 1.1: receives the body of a streaming HTTP response one unit at a time:
 * for "sse" one event (event is its `event:` field, "" when absent; data is
 * its joined `data:` lines), for "ndjson" one non-empty line (event ""). data
 * is NUL-terminated and borrowed for the call. Return VENOM_OK to go on, any
 * VENOM_E_* to stop the transfer (http_stream then returns that code).
 */
typedef int32_t (*venom_http_event_fn)(void *user, const char *event, const char *data, size_t len);

/*
 * Services of the host, passed to init. Append-only: new functions are only
 * ever added at the end, in a new minor version. Test for a function with
 * VENOM_HOST_HAS before calling anything newer than the plugin's
 * min_host_minor. The table outlives the plugin; it may be kept.
 */
typedef struct venom_host_api {
    uint32_t struct_size; /* sizeof the host's table */
    uint16_t abi_major;   /* the host's ABI major */
    uint16_t abi_minor;   /* the host's ABI minor */

    /* -- memory (any thread) -------------------------------------------- */
    /* Allocate n bytes; NULL when out of memory. */
    void *(*alloc)(size_t n);
    /* Resize; same contract as realloc(3). */
    void *(*realloc)(void *p, size_t n);
    /* Free memory from alloc/realloc or handed over by the host. NULL is ok. */
    void (*free)(void *p);

    /* -- diagnostics (any thread) --------------------------------------- */
    /* Log a line at a VENOM_LOG_* level. Either kind of ctx. The host copies msg. */
    void (*log)(venom_ctx *ctx, int32_t level, const char *msg);
    /* Set the error message of the current init or call; the host copies it
     * and the last one wins. Returns VENOM_OK. Either kind of ctx. */
    int32_t (*set_error)(venom_ctx *ctx, const char *msg);

    /* -- registration (plugin ctx, during init only, init's thread) ----- */
    /* Register a skill named in the manifest. VENOM_E_STATE outside init,
     * VENOM_E_EXISTS for a duplicate, VENOM_E_INVAL for a bad descriptor. */
    int32_t (*register_skill)(venom_ctx *ctx, const venom_skill_desc *desc);
    /* Register a model provider. Same rules as register_skill. */
    int32_t (*register_provider)(venom_ctx *ctx, const venom_provider_desc *desc);

    /* -- call helpers (call ctx; any thread while the call runs, except as noted) */
    /* Set the call's result: len bytes of JSON text (len may be (size_t)-1
     * for a NUL-terminated string). Copied; the last call wins.
     * VENOM_E_INVAL if it is not valid JSON, VENOM_E_TOOBIG over the limit. */
    int32_t (*set_result)(venom_ctx *call, const char *json, size_t len);
    /* Report progress: fraction in [0,1] or negative if unknown; msg may be NULL. */
    int32_t (*progress)(venom_ctx *call, double fraction, const char *msg);
    /* 1 if the call has been cancelled (deadline or user), else 0. Cheap. */
    int32_t (*cancelled)(venom_ctx *call);
    /* Provider streaming: one canonical delta as JSON. VENOM_E_CANCELLED
     * when the consumer wants the stream to stop. */
    int32_t (*stream)(venom_ctx *call, const char *delta_json, size_t len);

    /* Validate instance_json against schema_json (venom's JSON Schema
     * subset, docs/sdk.md). VENOM_OK when valid; VENOM_E_FAILED when not, with
     * *errors (from alloc, the plugin's; one problem per line) if errors is
     * not NULL; VENOM_E_INVAL when either text is not JSON or the schema is
     * malformed. Either kind of ctx, any thread. */
    int32_t (*json_validate)(venom_ctx *ctx, const char *schema_json, const char *instance_json,
                             char **errors);

    /* -- confined resources (call ctx; any thread while the call runs) ---- */
    /* Open a path for the call under its permissions. Relative paths are
     * resolved against the run's workdir and may not escape it (no "..",
     * no symlink pointing out); absolute paths must lie under a path the
     * manifest permits. flags: VENOM_FS_*; mode for creation. Returns a file
     * descriptor (>= 0, owned by the plugin, close it) or a VENOM_E_* code
     * with the reason set as the call's error. */
    int32_t (*fs_open)(venom_ctx *call, const char *path, uint32_t flags, uint32_t mode);
    /* Read a secret the manifest declares. *value (NUL-terminated, from
     * alloc) becomes the plugin's; wipe and free it with host->free. */
    int32_t (*secret)(venom_ctx *call, const char *name, char **value);
    /* Read an environment variable the manifest declares; same ownership. */
    int32_t (*getenv)(venom_ctx *call, const char *name, char **value);
    /* Brokered HTTP: request {"method","url","headers":{…},"body","timeout_ms"}
     * checked against the manifest's host allowlist and made by the host;
     * *response_json {"status","headers":{…},"body"} from alloc, the plugin's. */
    int32_t (*http)(venom_ctx *call, const char *request_json, char **response_json);

    /* -- 1.1: provider HTTP (call ctx of a provider call; any thread) ------ */
    /* Streaming HTTP for providers, made by the host's HTTP client (shared
     * connections, timeouts, retries with backoff, cancellation). request_json:
     * {"method","url","headers":{…},"body":"…","stream":"sse"|"ndjson"|"none"}
     * ("body" is text, usually JSON). Retries (429, 5xx, connection errors,
     * honouring Retry-After) happen only before the first event is delivered.
     * Returns VENOM_OK after a 2xx response whose body ended cleanly, with
     * *response_json {"status","headers":{lower-case name: value},"body"}
     * ("body" only for "none"); VENOM_E_FAILED for a final non-2xx status
     * (the response is still set, its body the server's error text, and the
     * call's error says what to fix); VENOM_E_NET for connection errors and a
     * stream cut mid-event; VENOM_E_TIMEOUT; VENOM_E_CANCELLED; or the code
     * on_event returned. response_json may be NULL. */
    int32_t (*http_stream)(venom_ctx *call, const char *request_json, venom_http_event_fn on_event, void *user,
                           char **response_json);
} venom_host_api;

/* True when the host table has function `fn` (and it is not NULL). */
#define VENOM_HOST_HAS(api, fn)                                                       \
    ((api) != NULL &&                                                                  \
     (api)->struct_size >= offsetof(venom_host_api, fn) + sizeof((api)->fn) &&         \
     (api)->fn != NULL)

/* ------------------------------------------------------------ plugin info */

/*
 * The static block venom_plugin_entry() returns. The host reads it before it
 * runs any other plugin code and rejects the plugin on a bad magic, a wrong
 * size, a different major or a min_host_minor above its own.
 */
typedef struct venom_plugin_info {
    uint32_t magic;          /* VENOM_PLUGIN_MAGIC */
    uint32_t struct_size;    /* sizeof(venom_plugin_info) */
    uint16_t abi_major;      /* VENOM_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;      /* VENOM_ABI_MINOR the plugin was built against */
    uint16_t min_host_minor; /* oldest host minor the plugin works with */
    uint16_t reserved;       /* 0 */
    uint32_t kinds;          /* VENOM_KIND_* bits */
    uint32_t reserved2;      /* 0 */
    const char *name;        /* pack name; must match the manifest */
    const char *version;     /* plugin version, e.g. "1.2.0" */
    const char *license;     /* SPDX identifier, e.g. "MIT" */
    /* Called once after the checks. Register skills/providers through host.
     * Store plugin-wide state in *state (passed to shutdown). On failure set
     * an error with host->set_error(ctx, …) and return a VENOM_E_* code. */
    int32_t (*init)(const venom_host_api *host, venom_ctx *ctx, void **state);
    /* Called once before unload. May be NULL. */
    void (*shutdown)(void *state);
} venom_plugin_info;

/* The one exported function of every plugin. */
VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void);

/* Fills the fixed fields of a venom_plugin_info for this header's version. */
#define VENOM_PLUGIN_INFO_INIT                                                         \
    .magic = VENOM_PLUGIN_MAGIC, .struct_size = sizeof(venom_plugin_info),             \
    .abi_major = VENOM_ABI_MAJOR, .abi_minor = VENOM_ABI_MINOR

#ifdef __cplusplus
}
#endif

#endif /* VENOM_VENOM_H */
