/*
 * fixture.c — the in-tree fixture plugins. One source, built once per case
 * with -DFIXTURE_<CASE>, each into its own pack under tests/fixtures/<case>/.
 * `good` exercises every host function; the others break one SDK rule each
 * (see tests/plugins/CMakeLists.txt for the list and tests/unit/test_loader.c
 * for the message each must produce).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <venom/venom.h>

#ifndef FIXTURE_NAME
#error FIXTURE_NAME must be defined
#endif

static const venom_host_api *H;
static venom_ctx *plugin_ctx;

static int32_t echo(venom_ctx *call, const char *args, void *data)
{
    (void)data;
    return H->set_result(call, args, (size_t)-1);
}

static int32_t fail(venom_ctx *call, const char *args, void *data)
{
    (void)args;
    (void)data;
    H->set_error(call, "deliberate failure from the fixture");
    return VENOM_E_FAILED;
}

/* Calls every host function and reports what each returned. */
static int32_t host_skill(venom_ctx *call, const char *args, void *data)
{
    (void)args;
    (void)data;
    char out[2048], content[256] = "";
    char *p = H->alloc(16);
    p = H->realloc(p, 64);
    int alloc_ok = p != NULL;
    H->free(p);
    H->log(call, VENOM_LOG_INFO, "host skill running");
    int32_t prog = H->progress(call, 0.5, "half way");
    int32_t canc = H->cancelled(call);
    char *verrs = NULL;
    int32_t valid = H->json_validate(call, "{\"type\":\"integer\",\"minimum\":1}", "5", NULL);
    int32_t invalid = H->json_validate(call, "{\"type\":\"integer\",\"minimum\":1}", "0", &verrs);
    int has_verrs = verrs != NULL && strstr(verrs, "1") != NULL;
    H->free(verrs);
    char *env = NULL;
    int32_t env_ok = H->getenv(call, "VENOM_FIXTURE_VAR", &env);
    char *env2 = NULL;
    int32_t env_denied = H->getenv(call, "PATH", &env2);
    int32_t fd = H->fs_open(call, "input.txt", VENOM_FS_READ, 0);
    if (fd >= 0) {
        ssize_t n = read(fd, content, sizeof content - 1);
        content[n > 0 ? n : 0] = '\0';
        content[strcspn(content, "\n\"\\")] = '\0';
        close(fd);
    }
    int32_t escape = H->fs_open(call, "../outside.txt", VENOM_FS_READ, 0);
    char *secret = NULL;
    int32_t sec = H->secret(call, "TOKEN", &secret);
    char *resp = NULL;
    int32_t http = H->http(call, "{\"method\":\"GET\",\"url\":\"http://127.0.0.1:1/\"}", &resp);
    int32_t stream = H->stream(call, "{\"delta\":\"x\"}", (size_t)-1);
    int32_t late = H->register_skill(call, NULL);
    snprintf(out, sizeof out,
             "{\"alloc\":%s,\"progress\":%d,\"cancelled\":%d,\"valid\":%d,\"invalid\":%d,\"invalid_msg\":%s,"
             "\"env\":%d,\"env_value\":\"%s\",\"env_denied\":%d,\"fs\":%d,\"content\":\"%s\",\"escape\":%d,"
             "\"secret\":%d,\"secret_value\":\"%s\",\"http\":%d,\"stream\":%d,\"register_in_call\":%d,\"has_json_validate\":%s,"
             "\"host_minor\":%u}",
             alloc_ok ? "true" : "false", prog, canc, valid, invalid, has_verrs ? "true" : "false", env_ok,
             env ? env : "", env_denied, fd >= 0 ? 0 : fd, content, escape >= 0 ? 0 : escape, sec, secret ? secret : "", http, stream,
             late, VENOM_HOST_HAS(H, json_validate) ? "true" : "false", (unsigned)H->abi_minor);
    H->free(env);
    H->free(secret);
    H->free(resp);
    return H->set_result(call, out, (size_t)-1);
}

static int32_t bad_result(venom_ctx *call, const char *args, void *data)
{
    (void)args;
    (void)data;
    int32_t rc = H->set_result(call, "{not json", (size_t)-1);
    return rc == VENOM_E_INVAL ? H->set_result(call, "{\"count\":\"not a number\"}", (size_t)-1) : VENOM_E_INTERNAL;
}

__attribute__((unused)) static int32_t late_register(venom_ctx *call, const char *args, void *data)
{
    (void)args;
    (void)data;
    venom_skill_desc d = {.struct_size = sizeof d, .name = "late", .call = echo};
    int32_t rc = H->register_skill(plugin_ctx, &d);
    char out[64];
    snprintf(out, sizeof out, "{\"register_rc\":%d}", rc);
    return H->set_result(call, out, (size_t)-1);
}

__attribute__((unused)) static int32_t crash(venom_ctx *call, const char *args, void *data)
{
    (void)call;
    (void)args;
    (void)data;
    volatile int *volatile nowhere = (volatile int *)(uintptr_t)8; /* unmapped, not NULL (UBSan) */
    return *nowhere;
}


#if defined(FIXTURE_HOSTILE)
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
/* Each skill misbehaves in one way; the sandbox must turn it into an error
 * result (tests/e2e/sandbox_contain.sh). */
static int32_t h_spin(venom_ctx *call, const char *args, void *data)
{
    (void)call; (void)args; (void)data;
    for (volatile unsigned long i = 0;; i++)
        ;
    return VENOM_OK;
}
static int32_t h_abort(venom_ctx *call, const char *args, void *data)
{
    (void)call; (void)args; (void)data;
    abort();
}
static int32_t h_exit(venom_ctx *call, const char *args, void *data)
{
    (void)call; (void)args; (void)data;
    _exit(0);
}
static int32_t h_membomb(venom_ctx *call, const char *args, void *data)
{
    (void)args; (void)data;
    size_t mb = 0;
    for (; mb < 65536; mb += 64) {
        char *p = malloc(64u << 20);
        if (!p)
            break;
        memset(p, 1, 64u << 20);
    }
    char out[64];
    snprintf(out, sizeof out, "{\"allocated_mb\":%zu}", mb);
    return H->set_result(call, out, (size_t)-1);
}
static int32_t h_forkbomb(venom_ctx *call, const char *args, void *data)
{
    (void)args; (void)data;
    int n = 0, e = 0;
    for (; n < 500; n++) {
        pid_t p = fork();
        if (p < 0) {
            e = errno;
            break;
        }
        if (p == 0) {
            pause();
            _exit(0);
        }
    }
    char out[64];
    snprintf(out, sizeof out, "{\"forks\":%d,\"errno\":%d}", n, e);
    return H->set_result(call, out, (size_t)-1);
}
static int32_t h_flood(venom_ctx *call, const char *args, void *data)
{
    (void)args; (void)data;
    size_t n = 64u << 20; /* 64 MiB of JSON string: over limits.output_bytes */
    char *big = malloc(n + 3);
    if (!big)
        return VENOM_E_NOMEM;
    big[0] = '"';
    memset(big + 1, 'x', n);
    big[n + 1] = '"';
    big[n + 2] = '\0';
    int32_t rc = H->set_result(call, big, n + 2);
    free(big);
    return rc;
}
static int32_t h_garbage(venom_ctx *call, const char *args, void *data)
{
    (void)call; (void)args; (void)data;
    static const char junk[] = "VNF1\xff\xff\xff\x7fnot a frame at all";
    for (int fd = 3; fd < 64; fd++)
        (void)!write(fd, junk, sizeof junk);
    return VENOM_OK;
}
/* Four threads each log and ask for a secret 100 times at once: the
 * frames to the supervisor must not interleave, nor the broker's replies
 * go to the wrong thread. Returns how many secrets came back right. */
#include <pthread.h>
static venom_ctx *chatty_call;
static void *chatty_thread(void *arg)
{
    long ok = 0;
    for (int i = 0; i < 100; i++) {
        H->log(chatty_call, VENOM_LOG_DEBUG, "chatty: a log line between broker requests");
        char *v = NULL;
        if (H->secret(chatty_call, "TOKEN", &v) == VENOM_OK && v && !strcmp(v, "s3cret-for-hostile-TOKEN"))
            ok++;
        H->free(v);
    }
    *(long *)arg = ok;
    return NULL;
}
static int32_t h_chatty(venom_ctx *call, const char *args, void *data)
{
    (void)args; (void)data;
    chatty_call = call;
    pthread_t t[4];
    long ok[4] = {0};
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, chatty_thread, &ok[i]) != 0)
            return VENOM_E_INTERNAL;
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char out[64];
    snprintf(out, sizeof out, "{\"ok\":%ld}", ok[0] + ok[1] + ok[2] + ok[3]);
    return H->set_result(call, out, (size_t)-1);
}
/* State that outlives a call: 1, 2, 3… in a reused worker, always 1 in a fresh one. */
static int32_t h_count(venom_ctx *call, const char *args, void *data)
{
    (void)args; (void)data;
    static int calls;
    char out[64];
    snprintf(out, sizeof out, "{\"count\":%d}", ++calls);
    return H->set_result(call, out, (size_t)-1);
}
static int32_t h_closefd(venom_ctx *call, const char *args, void *data)
{
    (void)call; (void)args; (void)data;
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    return VENOM_OK;
}
static int32_t h_diskfill(venom_ctx *call, const char *args, void *data)
{
    (void)args; (void)data;
    FILE *f = fopen("/tmp/fill", "w");
    size_t mb = 0;
    int e = 0;
    static char block[1 << 20];
    while (f && mb < 4096) {
        if (fwrite(block, 1, sizeof block, f) != sizeof block || fflush(f) != 0) {
            e = errno;
            break;
        }
        mb++;
    }
    if (f)
        fclose(f);
    char out[64];
    snprintf(out, sizeof out, "{\"written_mb\":%zu,\"errno\":%d}", mb, e);
    return H->set_result(call, out, (size_t)-1);
}
#endif

static int32_t reg(const char *name, venom_skill_fn fn)
{
    venom_skill_desc d = {.struct_size = sizeof d, .name = name, .call = fn};
    return H->register_skill(plugin_ctx, &d);
}

static int32_t init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    H = host;
    plugin_ctx = ctx;
    *state = NULL;
#if defined(FIXTURE_INIT_FAIL)
    host->set_error(ctx, "cannot reach the fixture's database (deliberate)");
    return VENOM_E_FAILED;
#elif defined(FIXTURE_CRASH_INIT)
    volatile int *volatile nowhere = (volatile int *)(uintptr_t)8; /* unmapped, not NULL (UBSan) */
    return *nowhere;
#elif defined(FIXTURE_DESC_SMALL)
    venom_skill_desc d = {.struct_size = 8, .name = "echo", .call = echo};
    return host->register_skill(ctx, &d);
#elif defined(FIXTURE_DESC_OVERSIZED) || defined(FIXTURE_DESC_OVERSIZED_ZERO)
    struct {
        venom_skill_desc d;
        uint64_t future_field;
    } big = {.d = {.struct_size = sizeof big, .name = "echo", .call = echo}};
#if defined(FIXTURE_DESC_OVERSIZED)
    big.future_field = 42;
#endif
    return host->register_skill(ctx, &big.d);
#elif defined(FIXTURE_DUP_REGISTER)
    reg("echo", echo);
    return reg("echo", echo) == VENOM_E_EXISTS ? VENOM_OK : VENOM_E_INTERNAL; /* ignores the error on purpose */
#elif defined(FIXTURE_EXTRA_SKILL)
    reg("echo", echo);
    return reg("extra", echo);
#elif defined(FIXTURE_LATE_REGISTER)
    reg("echo", echo);
    return reg("late_register", late_register);
#elif defined(FIXTURE_HOSTILE)
    static const struct {
        const char *name;
        venom_skill_fn fn;
    } hs[] = {{"spin", h_spin},       {"abort", h_abort},     {"exit", h_exit},       {"membomb", h_membomb},
              {"forkbomb", h_forkbomb}, {"flood", h_flood},   {"garbage", h_garbage}, {"closefd", h_closefd},
              {"diskfill", h_diskfill}, {"echo", echo},         {"count", h_count},     {"chatty", h_chatty}};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        if (reg(hs[i].name, hs[i].fn) != VENOM_OK)
            return VENOM_E_INTERNAL;
    return VENOM_OK;
#elif defined(FIXTURE_CRASH_CALL)
    reg("echo", echo);
    return reg("crash", crash);
#else
    int32_t rc = reg("echo", echo);
    if (rc == VENOM_OK)
        rc = reg("fail", fail);
    if (rc == VENOM_OK)
        rc = reg("host", host_skill);
    if (rc == VENOM_OK)
        rc = reg("bad_result", bad_result);
    return rc;
#endif
}

static int shutdowns;
static void shutdown_fn(void *state)
{
    (void)state;
    shutdowns++;
}

#if defined(FIXTURE_INFO_OVERSIZED)
static const struct {
    venom_plugin_info info;
    uint32_t future[2];
} info_block = {.info = {VENOM_PLUGIN_INFO_INIT, .struct_size = sizeof info_block, .kinds = VENOM_KIND_SKILLS, .name = FIXTURE_NAME, .version = "1.0.0",
                         .license = "MIT", .init = init, .shutdown = shutdown_fn},
                .future = {0, 7}};
#define INFO (&info_block.info)
#else
static const venom_plugin_info info = {
    VENOM_PLUGIN_INFO_INIT,
    .kinds = VENOM_KIND_SKILLS,
    .name = FIXTURE_NAME,
    .version = "1.0.0",
    .license = "MIT",
    .init = init,
    .shutdown = shutdown_fn,
#if defined(FIXTURE_WRONG_MAJOR)
    .abi_major = 2,
#elif defined(FIXTURE_NEWER_MINOR)
    .min_host_minor = VENOM_ABI_MINOR + 3,
#elif defined(FIXTURE_BAD_MAGIC)
    .magic = 0xdeadbeef,
#elif defined(FIXTURE_INFO_SMALL)
    .struct_size = 16,
#endif
};
#define INFO (&info)
#endif

#if defined(FIXTURE_UNRESOLVED)
extern int venom_fixture_no_such_function(void);
int (*volatile venom_fixture_ref)(void) = venom_fixture_no_such_function;
#endif

#if defined(FIXTURE_NO_ENTRY)
VENOM_EXPORT const venom_plugin_info *venom_plugin_entry_misspelt(void);
VENOM_EXPORT const venom_plugin_info *venom_plugin_entry_misspelt(void) { return INFO; }
#else
VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void) { return INFO; }
#endif
