/*
 * model_roundtrip.c — venom's overhead per model round trip, in process:
 * provider_chat() of the openai plugin against venom-modelsrv on loopback,
 * next to a bare libcurl easy handle POSTing the byte-identical wire body.
 *
 *     model_roundtrip -l MODELSRV_LOG [-n N]
 *
 * Run it through bench/model_roundtrip.sh, which starts venom-modelsrv on the
 * repeating case bench/data/text.json with --log MODELSRV_LOG and writes a
 * VENOM_HOME/config.yaml with two provider entries on that server:
 * `bench_sse` (plugin openai, stream: true — SSE on the wire, what venom
 * uses by default) and `bench_plain` (stream: false — one JSON body).
 *
 * 1. Opens both providers once (provider_open: pack lookup, dlopen, open)
 *    and makes one chat call on each; reads modelsrv's log to get the exact
 *    request each call put on the wire (headers and body; the body is
 *    re-serialised the way the plugin does, JSON_COMPACT, and must have the
 *    logged content-length, else the run stops).
 * 2. Times N rounds (after a warm-up), each one call of every case,
 *    interleaved, with CLOCK_MONOTONIC:
 *      venom SSE     provider_chat on bench_sse, canonical "stream": true
 *                    with a stream consumer (deltas counted)
 *      curl SSE      one reused libcurl easy handle (keep-alive) POSTing the
 *                    captured SSE body with the same headers, reading the
 *                    whole response into a buffer (no parsing)
 *      venom plain   provider_chat on bench_plain
 *      curl plain    the same handle POSTing the captured plain body
 *    Every answer is checked (exit 1 when a reply is not the case's text).
 * 3. Prints median and p90 per case in µs and the ratio venom / curl of the
 *    medians (nothing subtracted); also the median CPU time of this thread
 *    per call (CLOCK_THREAD_CPUTIME_ID: the client's own work, without the
 *    server's or the waits on a busy machine) and its ratio. Timing is
 *    reported, never asserted.
 */
#include "util/common.h"

#include <getopt.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "agent/provider.h"
#include "config/config.h"
#include "net/net.h"
#include "plugin/host.h"
#include "util/buf.h"

#ifndef VENOM_BENCH_PROVIDERS
#define VENOM_BENCH_PROVIDERS ""
#endif

#define WARMUP 50
#define ANSWER "Hello from the scripted model. Nothing to do here."
#define GOAL "Say hello."

static __attribute__((noreturn)) void die(const char *fmt, ...) PRINTF_LIKE(1, 2);
static __attribute__((noreturn)) void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("model_roundtrip: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of this thread: what the client spends, without the server's
 * time or the waits for a CPU on a busy machine. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ statistics */

typedef struct series {
    const char *name;
    uint64_t *ns;
    size_t n;
} series;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in µs (sorts the series). */
static double pct_us(series *s, double p)
{
    if (s->n == 0)
        return 0;
    qsort(s->ns, s->n, sizeof *s->ns, cmp_u64);
    size_t k = (size_t)(p * (double)s->n + 0.999999);
    k = k == 0 ? 0 : k - 1;
    return (double)s->ns[k < s->n ? k : s->n - 1] / 1000.0;
}

/* ------------------------------------------------------------ venom side */

typedef struct venom_case {
    provider *p;
    json_t *request;
    bool stream;
    size_t deltas;
} venom_case;

static int32_t count_delta(void *user, const char *delta_json, size_t len)
{
    (void)delta_json;
    (void)len;
    ((venom_case *)user)->deltas++;
    return VENOM_OK;
}

static void venom_call(venom_case *vc)
{
    provider_call_opts o = {.stream = vc->stream ? count_delta : NULL, .stream_user = vc};
    json_t *resp = NULL;
    char *err = NULL;
    int32_t rc = provider_chat(vc->p, vc->request, &o, &resp, &err);
    if (rc != VENOM_OK)
        die("provider_chat (%s): %s", provider_name(vc->p), err ? err : "failed");
    const char *text = json_string_value(json_object_get(json_object_get(resp, "message"), "content"));
    if (!text || strcmp(text, ANSWER) != 0)
        die("provider_chat (%s): unexpected answer '%s'", provider_name(vc->p), text ? text : "(none)");
    json_decref(resp);
    mem_free(err);
}

/* ------------------------------------------------------------ curl side */

typedef struct wire {
    char *url;
    char *body; /* the exact bytes the plugin sent */
    size_t body_len;
    struct curl_slist *headers;
    const char *must_contain; /* checked in the reply */
} wire;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
    buf *b = user;
    return buf_append(b, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static void curl_call(CURL *h, const wire *w, buf *reply)
{
    buf_reset(reply);
    curl_easy_setopt(h, CURLOPT_URL, w->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, w->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)w->body_len);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status != 200)
        die("curl POST %s: %s (HTTP %ld)", w->url, curl_easy_strerror(cc), status);
    if (!reply->data || !memmem(reply->data, reply->len, w->must_contain, strlen(w->must_contain)))
        die("curl POST %s: the reply lacks '%s'", w->url, w->must_contain);
}

/* The n-th request (1-based) of modelsrv's NDJSON log, as a wire. */
static void wire_from_log(const char *log_path, long n, const char *must_contain, wire *w)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        die("cannot open the modelsrv log %s: %s", log_path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    json_t *rec = NULL;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        if (json_integer_value(json_object_get(j, "n")) == n) {
            rec = j;
            break;
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    if (!rec)
        die("request %ld is not in the modelsrv log %s", n, log_path);
    if (json_integer_value(json_object_get(rec, "status")) != 200)
        die("request %ld of %s was refused by modelsrv: %s", n, log_path,
            json_string_value(json_object_get(rec, "problem")));
    const json_t *hdrs = json_object_get(rec, "headers");
    const char *host = json_string_value(json_object_get(hdrs, "host"));
    const char *path = json_string_value(json_object_get(rec, "path"));
    const char *clen = json_string_value(json_object_get(hdrs, "content-length"));
    if (!host || !path || !clen)
        die("request %ld of %s has no host, path or content-length", n, log_path);
    w->url = mem_printf("http://%s%s", host, path);
    /* the plugin sends json_dumps(body, JSON_COMPACT); jansson keeps the key
     * order, so dumping the logged body the same way gives the same bytes —
     * checked against the logged content-length */
    w->body = json_dumps(json_object_get(rec, "body"), JSON_COMPACT);
    if (!w->url || !w->body)
        die("out of memory");
    w->body_len = strlen(w->body);
    if (strtoul(clen, NULL, 10) != w->body_len)
        die("request %ld: the re-serialised body has %zu bytes, the wire had %s: not byte-identical", n,
            w->body_len, clen);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)hdrs, k, v) {
        if (!strcmp(k, "host") || !strcmp(k, "content-length"))
            continue;
        char *h = mem_printf("%s: %s", k, json_string_value(v));
        struct curl_slist *nl = h ? curl_slist_append(w->headers, h) : NULL;
        mem_free(h);
        if (!nl)
            die("out of memory");
        w->headers = nl;
    }
    w->must_contain = must_contain;
    json_decref(rec);
}

static long log_lines(const char *log_path)
{
    FILE *f = fopen(log_path, "r");
    long n = 0;
    int ch;
    while (f && (ch = fgetc(f)) != EOF)
        n += ch == '\n';
    if (f)
        fclose(f);
    return n;
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
    fputs("usage: model_roundtrip -l MODELSRV_LOG [-n N]\n"
          "  (run it through bench/model_roundtrip.sh, which starts venom-modelsrv and writes the config)\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    mem_install();
    long n = 2000;
    const char *log_path = NULL;
    int c;
    while ((c = getopt(argc, argv, "n:l:h")) != -1) {
        char *end = NULL;
        switch (c) {
        case 'n':
            errno = 0;
            n = strtol(optarg, &end, 10);
            if (errno || !end || *end || n < 1 || n > 10000000) {
                fprintf(stderr, "model_roundtrip: -n %s: expected a whole number from 1 to 10000000\n", optarg);
                exit(2);
            }
            break;
        case 'l':
            log_path = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || !log_path)
        usage();
    if (*VENOM_BENCH_PROVIDERS && !getenv("VENOM_SYSTEM_PROVIDERS"))
        setenv("VENOM_SYSTEM_PROVIDERS", VENOM_BENCH_PROVIDERS, 1);

    config *cfg = NULL;
    char *err = NULL;
    if (config_load(&cfg, &err) < 0)
        die("configuration: %s", err);
    if (net_init() < 0)
        die("cannot initialise libcurl");
    host_set_broker(net_broker, NULL);

    venom_case vsse = {.stream = true}, vplain = {.stream = false};
    if (provider_open(cfg, "bench_sse", NULL, &vsse.p, &err) < 0 ||
        provider_open(cfg, "bench_plain", NULL, &vplain.p, &err) < 0)
        die("%s (is VENOM_HOME/config.yaml the one bench/model_roundtrip.sh writes?)", err);
    vsse.request = json_pack("{s:[{s:s,s:s}],s:b}", "messages", "role", "user", "content", GOAL, "stream", 1);
    vplain.request = json_pack("{s:[{s:s,s:s}]}", "messages", "role", "user", "content", GOAL);
    if (!vsse.request || !vplain.request)
        die("out of memory");

    /* capture: one call of each, then their lines of the log */
    long before = log_lines(log_path);
    venom_call(&vsse);
    venom_call(&vplain);
    wire wsse = {0}, wplain = {0};
    wire_from_log(log_path, before + 1, "data: [DONE]", &wsse);
    wire_from_log(log_path, before + 2, ANSWER, &wplain);
    if (!strstr(wsse.body, "\"stream\":true") || !strstr(wplain.body, "\"stream\":false"))
        die("the captured bodies are not the SSE and the plain request");

    CURL *h = curl_easy_init();
    if (!h)
        die("curl_easy_init failed");
    buf reply = {0};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);

    series s[4] = {{.name = "venom provider_chat, SSE"},
                   {.name = "libcurl POST, SSE (baseline)"},
                   {.name = "venom provider_chat, plain"},
                   {.name = "libcurl POST, plain (baseline)"}};
    series cpu[4] = {{0}};
    for (size_t i = 0; i < ARRAY_SIZE(s); i++)
        if (!(s[i].ns = mem_calloc((size_t)n, sizeof *s[i].ns)) ||
            !(cpu[i].ns = mem_calloc((size_t)n, sizeof *cpu[i].ns)))
            die("out of memory");

    for (long r = -WARMUP; r < n; r++) {
        uint64_t t[5], u[5];
        t[0] = now_ns(), u[0] = cpu_ns();
        venom_call(&vsse);
        t[1] = now_ns(), u[1] = cpu_ns();
        curl_call(h, &wsse, &reply);
        t[2] = now_ns(), u[2] = cpu_ns();
        venom_call(&vplain);
        t[3] = now_ns(), u[3] = cpu_ns();
        curl_call(h, &wplain, &reply);
        t[4] = now_ns(), u[4] = cpu_ns();
        if (r < 0)
            continue;
        for (size_t i = 0; i < 4; i++) {
            s[i].ns[s[i].n++] = t[i + 1] - t[i];
            cpu[i].ns[cpu[i].n++] = u[i + 1] - u[i];
        }
    }

    printf("in-process model round trips: N = %ld each (after %d warm-up rounds), interleaved\n", n, WARMUP);
    printf("wire bodies: SSE %zu bytes, plain %zu bytes (byte-identical for both sides, from the modelsrv log)\n",
           wsse.body_len, wplain.body_len);
    printf("%-34s %10s %10s %7s %12s %7s\n", "case", "median µs", "p90 µs", "ratio", "CPU med µs", "ratio");
    for (size_t i = 0; i < 4; i += 2) {
        double vm = pct_us(&s[i], 0.5), v9 = pct_us(&s[i], 0.9), vu = pct_us(&cpu[i], 0.5);
        double cm = pct_us(&s[i + 1], 0.5), c9 = pct_us(&s[i + 1], 0.9), cu = pct_us(&cpu[i + 1], 0.5);
        printf("%-34s %10.1f %10.1f %7.2f %12.1f %7.2f\n", s[i + 1].name, cm, c9, 1.0, cu, 1.0);
        printf("%-34s %10.1f %10.1f %7.2f %12.1f %7.2f\n", s[i].name, vm, v9, cm > 0 ? vm / cm : 0, vu,
               cu > 0 ? vu / cu : 0);
    }
    double r_sse = pct_us(&s[0], 0.5) / pct_us(&s[1], 0.5), r_plain = pct_us(&s[2], 0.5) / pct_us(&s[3], 0.5);
    printf("target: within 1.2x of plain curl per round trip — SSE %s (%.2fx), plain %s (%.2fx)\n",
           r_sse <= 1.2 ? "met" : "NOT met", r_sse, r_plain <= 1.2 ? "met" : "NOT met", r_plain);
    printf("deltas streamed to the consumer: %zu in %ld SSE calls\n", vsse.deltas, n + WARMUP + 1);

    for (size_t i = 0; i < 4; i++) {
        mem_free(s[i].ns);
        mem_free(cpu[i].ns);
    }
    buf_release(&reply);
    curl_easy_cleanup(h);
    wire *ws[] = {&wsse, &wplain};
    for (size_t i = 0; i < 2; i++) {
        curl_slist_free_all(ws[i]->headers);
        mem_free(ws[i]->url);
        free(ws[i]->body);
    }
    json_decref(vsse.request);
    json_decref(vplain.request);
    provider_close(vsse.p);
    provider_close(vplain.p);
    config_free(cfg);
    net_cleanup();
    return 0;
}
