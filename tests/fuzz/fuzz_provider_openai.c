/*
 * fuzz_provider_openai.c — libFuzzer target for the OpenAI provider's wire
 * code (plugins/openai/wire.c with plugins/common/provider_util.c, included
 * directly as tests/unit/test_provider_openai.c does): the SSE stream state
 * machine (through core's SSE parser, by lines and by length records), the
 * non-streaming body, error bodies, the chat and embeddings requests built
 * from any canonical request object, the embeddings and model-list replies
 * and the configuration. Modes and checks: fuzz_provider.h. Seeds:
 * tests/fuzz/corpus/provider_openai/.
 */
#include "util/common.h"

#include "../../plugins/common/provider_util.c"
#include "../../plugins/openai/wire.c"

#define PF_BODY_KIND NET_BODY_SSE
#include "fuzz_provider.h"

static void *pf_stream_new(void)
{
    oai_stream *s = malloc(sizeof *s);
    if (s && oai_stream_init(s, "asked-model") != VENOM_OK) {
        free(s);
        s = NULL;
    }
    return s;
}

static void pf_stream_free(void *st)
{
    oai_stream_release(st);
    free(st);
}

static int pf_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    return oai_stream_feed(st, event, data, len, deltas, err);
}

static int pf_finish(void *st, json_t **response, char **err)
{
    return oai_stream_finish(st, response, err);
}

static int pf_body(const char *body, size_t len, json_t **response, char **err)
{
    void *st = pf_stream_new();
    PF_CHECK(st);
    int rc = oai_body(st, body, len, response, err);
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
    "{\"name\":\"openai\",\"base_url\":\"http://127.0.0.1:9/v1/\",\"api_key_env\":\"" PF_KEY_ENV "\","
    "\"model\":\"cfg-model\",\"headers\":{\"OpenAI-Project\":\"p1\"}}",
    "{\"api_key_env\":\"\",\"model\":\"local\",\"stream\":false,\"options\":{\"max_completion_tokens\":true}}",
    "{\"api_key_env\":\"" PF_KEY_ENV "\",\"options\":{\"stream_usage\":false}}",
    ("{\"api_key_env\":\"\",\"base_url\":\"https://example.invalid\",\"stream\":true,"
     "\"options\":{\"max_completion_tokens\":false,\"stream_usage\":true}}"),
};
#define N_CONFIGS (sizeof CONFIGS / sizeof CONFIGS[0])

static const pu_config *config(unsigned variant)
{
    static pu_config cfg[N_CONFIGS];
    static bool ready[N_CONFIGS];
    size_t i = variant % N_CONFIGS;
    if (!ready[i]) {
        char *err = NULL;
        if (pu_config_parse(CONFIGS[i], "openai", OAI_DEFAULT_BASE, OAI_DEFAULT_KEY_ENV, &cfg[i], &err) != VENOM_OK) {
            fprintf(stderr, "fuzz_provider_openai: config %zu: %s\n", i, err ? err : "?");
            __builtin_trap();
        }
        ready[i] = true;
    }
    return &cfg[i];
}

static int pf_request(unsigned variant, const json_t *req, json_t **http, char **err)
{
    return oai_chat_request(config(variant), req, http, err);
}

static int pf_embed_request(unsigned variant, const json_t *req, json_t **http, char **err)
{
    return oai_embed_request(config(variant), req, http, err);
}

static int pf_results(unsigned variant, const json_t *body, json_t **out, char **err)
{
    *out = NULL;
    return variant & 1 ? oai_models_result(body, out, err) : oai_embed_result(body, out, err);
}

static int pf_config(const char *text, char **err)
{
    pu_config cfg;
    int rc = pu_config_parse(text, "openai", OAI_DEFAULT_BASE, OAI_DEFAULT_KEY_ENV, &cfg, err);
    if (rc == VENOM_OK)
        pu_config_release(&cfg);
    return rc;
}
