/*
 * fuzz_provider_anthropic.c — libFuzzer target for the Anthropic provider's
 * wire code (plugins/anthropic/wire.c with plugins/common/provider_util.c,
 * included directly as tests/unit/test_provider_anthropic.c does): the SSE
 * stream state machine (named events through core's SSE parser, "@name
 * data" lines, length records), the non-streaming Messages body, error
 * bodies (anth_error_message), the chat request built from any canonical
 * request object, the model list and the next page's request built from
 * its last_id, and the configuration. Modes and checks: fuzz_provider.h.
 * Seeds: tests/fuzz/corpus/provider_anthropic/.
 */
#include "util/common.h"

#include "../../plugins/anthropic/wire.c"
#include "../../plugins/common/provider_util.c"

#define PF_BODY_KIND NET_BODY_SSE
#include "fuzz_provider.h"

static void *pf_stream_new(void)
{
    anth_stream *s = malloc(sizeof *s);
    if (s)
        anth_stream_init(s, "asked-model");
    return s;
}

static void pf_stream_free(void *st)
{
    anth_stream_release(st);
    free(st);
}

static int pf_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    return anth_stream_feed(st, event, data, len, deltas, err);
}

static int pf_finish(void *st, json_t **response, char **err)
{
    return anth_stream_finish(st, response, err);
}

static int pf_body(const char *body, size_t len, json_t **response, char **err)
{
    return anth_parse_response(body, len, "asked-model", response, err);
}

static char *pf_error_message(const char *body, size_t len)
{
    return anth_error_message(body, len);
}

/* The configurations requests are built under (parsed once, kept). */
static const char *const CONFIGS[] = {
    ("{\"base_url\":\"http://127.0.0.1:9/\",\"api_key_env\":\"" PF_KEY_ENV "\",\"model\":\"cfg-model\","
     "\"headers\":{\"X-Extra\":\"1\"},\"options\":{\"beta\":\"tools-2024\",\"max_tokens\":64}}"),
    "{\"api_key_env\":\"\",\"stream\":false,\"model\":\"claude-x\"}",
    "{\"api_key_env\":\"" PF_KEY_ENV "\",\"options\":{\"anthropic_version\":\"2023-01-01\"}}",
};
#define N_CONFIGS (sizeof CONFIGS / sizeof CONFIGS[0])

static const anth_config *config(unsigned variant)
{
    static anth_config cfg[N_CONFIGS];
    static bool ready[N_CONFIGS];
    size_t i = variant % N_CONFIGS;
    if (!ready[i]) {
        char *err = NULL;
        if (anth_config_parse(CONFIGS[i], &cfg[i], &err) != 0) {
            fprintf(stderr, "fuzz_provider_anthropic: config %zu: %s\n", i, err ? err : "?");
            __builtin_trap();
        }
        ready[i] = true;
    }
    return &cfg[i];
}

static int pf_request(unsigned variant, const json_t *req, json_t **http, char **err)
{
    const anth_config *cfg = config(variant);
    bool ws = !cfg->pu.stream;
    int rc = anth_build_chat(cfg, req, http, &ws, err);
    if (rc == 0)
        PF_CHECK(ws == cfg->pu.stream);
    return rc;
}

static int pf_embed_request(unsigned variant, const json_t *req, json_t **http, char **err)
{
    (void)variant, (void)req, (void)err;
    *http = NULL;
    return VENOM_E_UNSUPPORTED; /* Anthropic has no embeddings */
}

/* One /v1/models page; {"models":[…],"next":…}; a next page is requested
 * with the server's last_id. */
static int pf_results(unsigned variant, const json_t *body, json_t **out, char **err)
{
    *out = NULL;
    json_t *models = json_array();
    char *next = NULL;
    PF_CHECK(models);
    int rc = anth_parse_models(body, models, &next, err);
    if (rc == 0) {
        json_t *http = NULL;
        char *e2 = NULL;
        int r2 = anth_build_models(config(variant), next, &http, &e2);
        pf_check_outcome(r2, e2);
        if (r2 == 0)
            pf_check_http(http);
        json_decref(http);
        free(e2);
        *out = json_pack("{s:O, s:s?}", "models", models, "next", next);
        PF_CHECK(*out);
    }
    free(next);
    json_decref(models);
    return rc;
}

static int pf_config(const char *text, char **err)
{
    anth_config cfg;
    int rc = anth_config_parse(text, &cfg, err);
    if (rc == 0)
        anth_config_release(&cfg);
    return rc;
}
