/*
 * fuzz_provider_ollama.c — libFuzzer target for the Ollama provider's wire
 * code (plugins/ollama/wire.c with plugins/common/provider_util.c, included
 * directly as tests/unit/test_provider_ollama.c does): the NDJSON stream
 * state machine (through core's NDJSON parser, by lines, by length
 * records), the non-streaming /api/chat body, error bodies, the chat and
 * /api/embed requests built from any canonical request object, the
 * /api/embed and /api/tags replies, and the configuration. Modes and
 * checks: fuzz_provider.h. Seeds: tests/fuzz/corpus/provider_ollama/.
 */
#include "util/common.h"

#include "../../plugins/common/provider_util.c"
#include "../../plugins/ollama/wire.c"

#define PF_BODY_KIND NET_BODY_NDJSON
#include "fuzz_provider.h"

static void *pf_stream_new(void)
{
    oll_stream *s = malloc(sizeof *s);
    if (s && oll_stream_init(s, "asked-model") != VENOM_OK) {
        free(s);
        s = NULL;
    }
    return s;
}

static void pf_stream_free(void *st)
{
    oll_stream_release(st);
    free(st);
}

static int pf_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    return oll_stream_feed(st, event, data, len, deltas, err);
}

static int pf_finish(void *st, json_t **response, char **err)
{
    return oll_stream_finish(st, response, err);
}

static int pf_body(const char *body, size_t len, json_t **response, char **err)
{
    void *st = pf_stream_new();
    PF_CHECK(st);
    int rc = oll_body(st, body, len, response, err);
    pf_stream_free(st);
    return rc;
}

static char *pf_error_message(const char *body, size_t len)
{
    (void)body, (void)len;
    return NULL; /* the plugin reads error bodies with pu_error_message */
}

/* The configurations requests are built under (parsed once, kept). */
static const char *const CONFIGS[] = {
    ("{\"base_url\":\"http://127.0.0.1:9/\",\"model\":\"llama3.2\",\"headers\":{\"X-Extra\":\"1\"},"
     "\"options\":{\"num_ctx\":8192,\"keep_alive\":\"5m\",\"think\":true}}"),
    "{\"api_key_env\":\"" PF_KEY_ENV "\",\"stream\":false,\"options\":{\"keep_alive\":300,\"think\":\"high\"}}",
    "{\"model\":\"qwen3\",\"options\":{\"think\":false}}",
};
#define N_CONFIGS (sizeof CONFIGS / sizeof CONFIGS[0])

static const pu_config *config(unsigned variant)
{
    static pu_config cfg[N_CONFIGS];
    static bool ready[N_CONFIGS];
    size_t i = variant % N_CONFIGS;
    if (!ready[i]) {
        char *err = NULL;
        if (pu_config_parse(CONFIGS[i], "ollama", OLL_DEFAULT_BASE, OLL_DEFAULT_KEY_ENV, &cfg[i], &err) != VENOM_OK) {
            fprintf(stderr, "fuzz_provider_ollama: config %zu: %s\n", i, err ? err : "?");
            __builtin_trap();
        }
        ready[i] = true;
    }
    return &cfg[i];
}

static int pf_request(unsigned variant, const json_t *req, json_t **http, char **err)
{
    return oll_chat_request(config(variant), req, http, err);
}

static int pf_embed_request(unsigned variant, const json_t *req, json_t **http, char **err)
{
    return oll_embed_request(config(variant), req, http, err);
}

static int pf_results(unsigned variant, const json_t *body, json_t **out, char **err)
{
    *out = NULL;
    return variant & 1 ? oll_models_result(body, out, err) : oll_embed_result(body, out, err);
}

static int pf_config(const char *text, char **err)
{
    pu_config cfg;
    int rc = pu_config_parse(text, "ollama", OLL_DEFAULT_BASE, OLL_DEFAULT_KEY_ENV, &cfg, err);
    if (rc == VENOM_OK)
        pu_config_release(&cfg);
    return rc;
}
