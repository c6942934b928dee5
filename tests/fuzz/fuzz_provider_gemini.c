/*
 * fuzz_provider_gemini.c — libFuzzer target for the Gemini provider's wire
 * code (plugins/gemini/wire.c with plugins/common/provider_util.c, included
 * directly as tests/unit/test_provider_gemini.c does): the SSE chunk state
 * machine (through core's SSE parser, by lines, by length records), the
 * whole generateContent body, error bodies (gem_error_message), the chat
 * and batchEmbedContents requests built from any canonical request object
 * (the request's model goes into the URL), the embeddings reply, the model
 * list and the next page's request built from its nextPageToken, and the
 * configuration. Modes and checks: fuzz_provider.h. Seeds:
 * tests/fuzz/corpus/provider_gemini/.
 */
#include "util/common.h"

#include "../../plugins/common/provider_util.c"
#include "../../plugins/gemini/wire.c"

#define PF_BODY_KIND NET_BODY_SSE
#include "fuzz_provider.h"

static void *pf_stream_new(void)
{
    gem_stream *s = malloc(sizeof *s);
    if (s)
        gem_stream_init(s, "asked-model");
    return s;
}

static void pf_stream_free(void *st)
{
    gem_stream_release(st);
    free(st);
}

static int pf_feed(void *st, const char *event, const char *data, size_t len, json_t *deltas, char **err)
{
    return gem_stream_feed(st, event, data, len, deltas, err);
}

static int pf_finish(void *st, json_t **response, char **err)
{
    return gem_stream_finish(st, response, err);
}

static int pf_body(const char *body, size_t len, json_t **response, char **err)
{
    gem_stream *s = pf_stream_new();
    PF_CHECK(s);
    int rc = gem_parse_response(s, body, len, response, err);
    pf_stream_free(s);
    return rc;
}

static char *pf_error_message(const char *body, size_t len)
{
    return gem_error_message(body, len);
}

/* The configurations requests are built under (parsed once, kept). */
static const char *const CONFIGS[] = {
    ("{\"base_url\":\"http://127.0.0.1:9/\",\"api_key_env\":\"" PF_KEY_ENV "\",\"model\":\"gemini-test\","
     "\"headers\":{\"X-Extra\":\"1\"},\"options\":{\"max_tokens\":64,\"embedding_model\":\"text-embedding-004\"}}"),
    "{\"api_key_env\":\"" PF_KEY_ENV "\",\"stream\":false,\"base_url\":\"http://127.0.0.1:9/v1beta\"}",
    "{\"api_key_env\":\"\",\"model\":\"models/gemini-2.5-flash\"}",
};
#define N_CONFIGS (sizeof CONFIGS / sizeof CONFIGS[0])

static const gem_config *config(unsigned variant)
{
    static gem_config cfg[N_CONFIGS];
    static bool ready[N_CONFIGS];
    size_t i = variant % N_CONFIGS;
    if (!ready[i]) {
        char *err = NULL;
        if (gem_config_parse(CONFIGS[i], &cfg[i], &err) != 0) {
            fprintf(stderr, "fuzz_provider_gemini: config %zu: %s\n", i, err ? err : "?");
            __builtin_trap();
        }
        ready[i] = true;
    }
    return &cfg[i];
}

static int pf_request(unsigned variant, const json_t *req, json_t **http, char **err)
{
    char *model = NULL;
    int rc = gem_build_chat(config(variant), req, http, &model, err);
    PF_CHECK(rc == 0 ? model && *model : !model);
    free(model);
    return rc;
}

static int pf_embed_request(unsigned variant, const json_t *req, json_t **http, char **err)
{
    char *model = NULL;
    size_t n = 0;
    int rc = gem_build_embed(config(variant), req, http, &model, &n, err);
    PF_CHECK(rc == 0 ? model && n > 0 : !model);
    free(model);
    return rc;
}

/* Odd variants: a model-list page ({"models":[…],"next":…}; a next page
 * is requested with the server's token); even: a batchEmbedContents reply
 * for as many inputs as it has embeddings (variant & 2) or variant >> 2. */
static int pf_results(unsigned variant, const json_t *body, json_t **out, char **err)
{
    *out = NULL;
    if (!(variant & 1)) {
        size_t n = variant & 2 ? json_array_size(json_object_get(body, "embeddings")) : variant >> 2;
        return gem_parse_embed(body, "text-embedding-004", n, out, err);
    }
    json_t *models = json_array();
    char *next = NULL;
    PF_CHECK(models);
    int rc = gem_parse_models(body, models, &next, err);
    if (rc == 0) {
        json_t *http = NULL;
        char *e2 = NULL;
        int r2 = gem_build_models(config(variant >> 1), next, &http, &e2);
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
    gem_config cfg;
    int rc = gem_config_parse(text, &cfg, err);
    if (rc == 0)
        gem_config_release(&cfg);
    return rc;
}
