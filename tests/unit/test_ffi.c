/*
 * test_ffi.c — typed skills through libffi (core/plugin/ffi.c): system
 * functions (libm pow, libc strlen/strchr/abs/htons/htonl), the temperature
 * pack's own functions driven by its installed manifest, and a helper
 * library compiled at setup with one identity function per type, to check
 * every conversion and range edge in both directions.
 */
#include "testsupport.h"
#include "util/common.h"

#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/ffi.h"
#include "plugin/manifest.h"

static char *g_dir;    /* temp pack dir holding types.so */
static char *g_types;  /* g_dir/types.so */

static const char TYPES_C[] =
    "#include <stdbool.h>\n#include <stdint.h>\n#include <string.h>\n"
    "int8_t id_i8(int8_t x) { return x; }\n"
    "int16_t id_i16(int16_t x) { return x; }\n"
    "int32_t id_i32(int32_t x) { return x; }\n"
    "int64_t id_i64(int64_t x) { return x; }\n"
    "uint8_t id_u8(uint8_t x) { return x; }\n"
    "uint16_t id_u16(uint16_t x) { return x; }\n"
    "uint32_t id_u32(uint32_t x) { return x; }\n"
    "uint64_t id_u64(uint64_t x) { return x; }\n"
    "uint64_t half_u64(uint64_t x) { return x / 2; }\n"
    "float id_f(float x) { return x; }\n"
    "double id_d(double x) { return x; }\n"
    "bool id_b(bool x) { return x; }\n"
    "bool not_b(bool x) { return !x; }\n"
    "const char *id_s(const char *s) { return s; }\n"
    "const char *bad_utf8(void) { return \"ok\\xff\"; }\n"
    "float inf_f(void) { return 1e30f * 1e30f; }\n"
    "static int counter;\n"
    "void bump(void) { __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST); }\n"
    "int32_t count(void) { return __atomic_load_n(&counter, __ATOMIC_SEQ_CST); }\n"
    "int8_t neg_i8(int8_t x) { return (int8_t)-x; }\n"
    "int16_t neg_i16(int16_t x) { return (int16_t)-x; }\n"
    "double mix(int8_t a, uint16_t b, float c, double d, bool e, const char *s, int64_t g, uint8_t h)\n"
    "{ return a + b + c + d + (e ? 1000 : 0) + (double)strlen(s) + (double)g + h; }\n";

/* Compile TYPES_C into g_dir/types.so with the system C compiler. */
static int setup(void **state)
{
    (void)state;
    mem_install();
    g_dir = ts_mkdtemp();
    if (!g_dir)
        return -1;
    char *src = ts_write(g_dir, "types.c", TYPES_C);
    if (asprintf(&g_types, "%s/types.so", g_dir) < 0)
        return -1;
    const char *cands[] = {getenv("CC"), "/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"};
    for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
        if (!cands[i] || cands[i][0] != '/' || access(cands[i], X_OK) != 0)
            continue;
        char *argv[] = {(char *)cands[i], "-shared", "-fPIC", "-O1", "-o", g_types, src, NULL};
        ts_proc p;
        int rc = ts_run(argv, NULL, NULL, 120, &p);
        if (rc == 0 && p.status != 0)
            fprintf(stderr, "%s failed: %s\n", cands[i], p.err);
        bool ok = rc == 0 && p.status == 0;
        ts_proc_release(&p);
        if (ok) {
            free(src);
            return 0;
        }
    }
    fprintf(stderr, "test_ffi: no C compiler could build the helper library (set CC to a compiler's full path)\n");
    free(src);
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    if (g_dir)
        ts_rmtree(g_dir);
    free(g_dir);
    free(g_types);
    return 0;
}

/* ------------------------------------------------------------ helpers */

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v)
        fail_msg("bad JSON in test: %s: %s", text, e.text);
    return v;
}

static int make(const char *spec_text, const char *pack_dir, const char *default_lib, ffi_fn **f, char **err)
{
    json_t *spec = js(spec_text);
    int rc = ffi_fn_new(spec, "t", pack_dir, default_lib, f, err);
    json_decref(spec);
    return rc;
}

/* A function of the helper library: symbol with one param of type ptype. */
static ffi_fn *helper1(const char *symbol, const char *ptype, const char *rtype)
{
    char spec[512];
    snprintf(spec, sizeof spec,
             "{\"library\":\"types.so\",\"symbol\":\"%s\",\"params\":[{\"name\":\"x\",\"type\":\"%s\"}],"
             "\"returns\":\"%s\"}",
             symbol, ptype, rtype);
    ffi_fn *f = NULL;
    char *err = NULL;
    int rc = make(spec, g_dir, NULL, &f, &err);
    if (rc != 0)
        fail_msg("ffi_fn_new(%s): %s", symbol, err);
    return f;
}

/* Call f with args text; on success return the result's compact JSON text. */
static char *call_text(const ffi_fn *f, const char *args_text, int *rc_out, char **err)
{
    json_t *args = args_text ? js(args_text) : NULL;
    json_t *res = NULL;
    int rc = ffi_fn_call(f, args, &res, err);
    json_decref(args);
    *rc_out = rc;
    if (rc != 0) {
        assert_null(res);
        return NULL;
    }
    char *s = json_dumps(res, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(res);
    return s;
}

#define CALL_OK(f, args, expect)                                                                        \
    do {                                                                                                \
        int rc_;                                                                                        \
        char *err_ = NULL;                                                                              \
        const char *a_ = (args);                                                                        \
        char *got_ = call_text((f), a_, &rc_, &err_);                                                   \
        if (rc_ != 0)                                                                                   \
            fail_msg("%s(%s) failed: %s", ffi_fn_symbol(f), a_ ? a_ : "NULL", err_);                    \
        assert_string_equal(got_, (expect));                                                            \
        mem_free(got_);                                                                                 \
    } while (0)

#define CALL_ERR(f, args, code, msg)                                                                    \
    do {                                                                                                \
        int rc_;                                                                                        \
        char *err_ = NULL;                                                                              \
        const char *a_ = (args);                                                                        \
        char *got_ = call_text((f), a_, &rc_, &err_);                                                   \
        if (rc_ == 0)                                                                                   \
            fail_msg("%s(%s) succeeded with %s, expected: %s", ffi_fn_symbol(f), a_ ? a_ : "NULL", got_, \
                     (msg));                                                                            \
        assert_int_equal(rc_, (code));                                                                  \
        assert_non_null(err_);                                                                          \
        if (!strstr(err_, (msg)))                                                                       \
            fail_msg("error \"%s\" lacks \"%s\"", err_, (msg));                                         \
        mem_free(err_);                                                                                 \
    } while (0)

#define NEW_ERR(spec, pack_dir, deflib, code, msg)                                                      \
    do {                                                                                                \
        ffi_fn *f_ = NULL;                                                                              \
        char *err_ = NULL;                                                                              \
        int rc_ = make((spec), (pack_dir), (deflib), &f_, &err_);                                       \
        if (rc_ == 0)                                                                                   \
            fail_msg("spec %s accepted, expected: %s", (spec), (msg));                                  \
        assert_int_equal(rc_, (code));                                                                  \
        assert_null(f_);                                                                                \
        if (!err_ || !strstr(err_, (msg)))                                                              \
            fail_msg("error \"%s\" lacks \"%s\"", err_ ? err_ : "(none)", (msg));                       \
        mem_free(err_);                                                                                 \
    } while (0)

static const char POW_SPEC[] = "{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"params\":[{\"name\":\"x\","
                               "\"type\":\"double\"},{\"name\":\"y\",\"type\":\"double\"}],\"returns\":\"double\"}";

/* ------------------------------------------------------------ tests */

static void test_pow_and_schema(void **state)
{
    (void)state;
    ffi_fn *f = NULL;
    char *err = NULL;
    assert_int_equal(make(POW_SPEC, NULL, NULL, &f, &err), 0);
    assert_null(err);
    assert_string_equal(ffi_fn_name(f), "t");
    assert_string_equal(ffi_fn_library(f), "libm.so.6");
    assert_int_equal(ffi_fn_nparams(f), 2);
    CALL_OK(f, "{\"x\":2,\"y\":10}", "1024.0");
    CALL_OK(f, "{\"y\":0.5,\"x\":2.25}", "1.5");
    CALL_OK(f, "{\"x\":-8,\"y\":3}", "-512.0");

    json_t *schema = ffi_fn_args_schema(f);
    char *s = json_dumps(schema, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"additionalProperties\":false,\"properties\":{\"x\":{\"type\":\"number\"},"
                           "\"y\":{\"type\":\"number\"}},\"required\":[\"x\",\"y\"],\"type\":\"object\"}");
    mem_free(s);
    json_decref(schema);
    ffi_fn_free(f);
    ffi_fn_free(NULL);
}

static void test_integer_schema(void **state)
{
    (void)state;
    ffi_fn *f = NULL;
    char *err = NULL;
    assert_int_equal(make("{\"library\":\"types.so\",\"symbol\":\"mix\",\"params\":["
                          "{\"name\":\"a\",\"type\":\"int8\",\"description\":\"small\"},"
                          "{\"name\":\"b\",\"type\":\"uint16\"},{\"name\":\"c\",\"type\":\"float\"},"
                          "{\"name\":\"d\",\"type\":\"double\"},{\"name\":\"e\",\"type\":\"bool\"},"
                          "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"g\",\"type\":\"int64\"},"
                          "{\"name\":\"h\",\"type\":\"uint8\"}],\"returns\":\"double\"}",
                          g_dir, NULL, &f, &err),
                     0);
    json_t *schema = ffi_fn_args_schema(f);
    json_t *props = json_object_get(schema, "properties");
    json_t *a = json_object_get(props, "a");
    assert_string_equal(json_string_value(json_object_get(a, "type")), "integer");
    assert_int_equal(json_integer_value(json_object_get(a, "minimum")), -128);
    assert_int_equal(json_integer_value(json_object_get(a, "maximum")), 127);
    assert_string_equal(json_string_value(json_object_get(a, "description")), "small");
    json_t *b = json_object_get(props, "b");
    assert_int_equal(json_integer_value(json_object_get(b, "minimum")), 0);
    assert_int_equal(json_integer_value(json_object_get(b, "maximum")), 65535);
    json_t *g = json_object_get(props, "g");
    assert_true(json_integer_value(json_object_get(g, "minimum")) == INT64_MIN);
    assert_true(json_integer_value(json_object_get(g, "maximum")) == INT64_MAX);
    assert_string_equal(json_string_value(json_object_get(json_object_get(props, "c"), "type")), "number");
    assert_string_equal(json_string_value(json_object_get(json_object_get(props, "e"), "type")), "boolean");
    assert_string_equal(json_string_value(json_object_get(json_object_get(props, "s"), "type")), "string");
    assert_int_equal(json_array_size(json_object_get(schema, "required")), 8);
    assert_true(json_is_false(json_object_get(schema, "additionalProperties")));
    json_decref(schema);

    /* 1 + 2 + 0.5 + 0.25 + 1000 + strlen("abc") + (-10) + 255 */
    CALL_OK(f, "{\"a\":1,\"b\":2,\"c\":0.5,\"d\":0.25,\"e\":true,\"s\":\"abc\",\"g\":-10,\"h\":255}", "1251.75");
    CALL_ERR(f, "{\"a\":1,\"b\":2,\"c\":0.5,\"d\":0.25,\"e\":true,\"s\":\"abc\",\"g\":-10,\"h\":256}", -EINVAL,
             "typed skill 't': argument 'h': 256 does not fit uint8 (0..255)");
    ffi_fn_free(f);
}

/* Load an installed example pack with the manifest parser, prepare each
 * typed skill as the loader does, and run the manifest's examples. */
static size_t run_pack_examples(const char *pack, const char *manifest_name)
{
    const char *out = getenv("VENOM_OUT");
    assert_non_null(out);
    char *path = NULL;
    assert_true(asprintf(&path, "%s/lib/venom/skills/%s/%s", out, pack, manifest_name) > 0);
    manifest *m = NULL;
    char *err = NULL;
    if (manifest_load(path, &m, &err) != 0)
        fail_msg("%s", err);
    size_t examples = 0;
    for (size_t i = 0; i < m->n_skills; i++) {
        const manifest_skill *sk = &m->skills[i];
        assert_non_null(sk->function);
        ffi_fn *f = NULL;
        if (ffi_fn_new(sk->function, sk->name, m->dir, m->library, &f, &err) != 0)
            fail_msg("%s: %s", sk->name, err);
        assert_non_null(sk->examples);
        size_t j;
        json_t *ex;
        json_array_foreach(sk->examples, j, ex) {
            json_t *res = NULL;
            if (ffi_fn_call(f, json_object_get(ex, "args"), &res, &err) != 0)
                fail_msg("%s example %zu: %s", sk->name, j, err);
            json_t *want = json_object_get(ex, "result");
            if (json_is_integer(res))
                assert_true(json_equal(res, want));
            else
                assert_true(fabs(json_number_value(res) - json_number_value(want)) < 1e-9);
            json_decref(res);
            examples++;
        }
        ffi_fn_free(f);
    }
    manifest_free(m);
    free(path);
    return examples;
}

static void test_example_packs(void **state)
{
    (void)state;
    assert_int_equal(run_pack_examples("temperature", "venom.json"), 4);
    assert_int_equal(run_pack_examples("libm", "venom.yaml"), 3);
}

static void test_temperature_pack(void **state)
{
    (void)state;
    const char *out = getenv("VENOM_OUT");
    assert_non_null(out);
    char *dir = NULL, *lib = NULL;
    assert_true(asprintf(&dir, "%s/lib/venom/skills/temperature", out) > 0);
    assert_true(asprintf(&lib, "%s/temperature.so", dir) > 0);
    ffi_fn *f = NULL;
    char *err = NULL;
    assert_int_equal(make("{\"symbol\":\"celsius_to_fahrenheit\",\"params\":[{\"name\":\"c\",\"type\":"
                          "\"double\"}],\"returns\":\"double\"}",
                          dir, lib, &f, &err),
                     0);
    assert_string_equal(ffi_fn_library(f), lib);
    CALL_OK(f, "{\"c\":100}", "212.0");
    CALL_OK(f, "{\"c\":20}", "68.0");
    CALL_OK(f, "{\"c\":-40}", "-40.0");
    CALL_ERR(f, "{\"f\":37}", -EINVAL, "typed skill 't': missing argument 'c'");
    ffi_fn_free(f);
    /* The same library named explicitly, as a file of the pack. */
    assert_int_equal(make("{\"library\":\"temperature.so\",\"symbol\":\"fahrenheit_to_celsius\",\"params\":"
                          "[{\"name\":\"f\",\"type\":\"double\"}],\"returns\":\"double\"}",
                          dir, NULL, &f, &err),
                     0);
    CALL_OK(f, "{\"f\":212}", "100.0");
    ffi_fn_free(f);

    /* The pack's own library under a symbol it does not export (the entry
     * point is exported, the init function is not). */
    NEW_ERR("{\"symbol\":\"temperature_init\",\"returns\":\"int32\"}", dir, lib, -ENOENT,
            "typed skill 't': symbol 'temperature_init' not found in");
    free(dir);
    free(lib);
}

static void test_signed_ranges(void **state)
{
    (void)state;
    ffi_fn *f = helper1("id_i8", "int8", "int8");
    CALL_OK(f, "{\"x\":-128}", "-128");
    CALL_OK(f, "{\"x\":127}", "127");
    CALL_OK(f, "{\"x\":-5.0}", "-5");
    CALL_ERR(f, "{\"x\":-129}", -EINVAL, "typed skill 't': argument 'x': -129 does not fit int8 (-128..127)");
    CALL_ERR(f, "{\"x\":128}", -EINVAL, "argument 'x': 128 does not fit int8 (-128..127)");
    CALL_ERR(f, "{\"x\":128.0}", -EINVAL, "argument 'x': 128 does not fit int8 (-128..127)");
    CALL_ERR(f, "{\"x\":3.5}", -EINVAL, "argument 'x': expected an integer (int8), got 3.5");
    ffi_fn_free(f);

    /* Narrow signed results are sign-extended correctly. */
    f = helper1("neg_i8", "int8", "int8");
    CALL_OK(f, "{\"x\":5}", "-5");
    CALL_OK(f, "{\"x\":-127}", "127");
    ffi_fn_free(f);
    f = helper1("neg_i16", "int16", "int16");
    CALL_OK(f, "{\"x\":300}", "-300");
    ffi_fn_free(f);

    f = helper1("id_i16", "int16", "int16");
    CALL_OK(f, "{\"x\":-32768}", "-32768");
    CALL_OK(f, "{\"x\":32767}", "32767");
    CALL_ERR(f, "{\"x\":-32769}", -EINVAL, "-32769 does not fit int16 (-32768..32767)");
    CALL_ERR(f, "{\"x\":32768}", -EINVAL, "32768 does not fit int16 (-32768..32767)");
    ffi_fn_free(f);

    f = helper1("id_i32", "int32", "int32");
    CALL_OK(f, "{\"x\":-2147483648}", "-2147483648");
    CALL_OK(f, "{\"x\":2147483647}", "2147483647");
    CALL_ERR(f, "{\"x\":-2147483649}", -EINVAL, "-2147483649 does not fit int32 (-2147483648..2147483647)");
    CALL_ERR(f, "{\"x\":2147483648}", -EINVAL, "2147483648 does not fit int32 (-2147483648..2147483647)");
    ffi_fn_free(f);

    f = helper1("id_i64", "int64", "int64");
    CALL_OK(f, "{\"x\":-9223372036854775808}", "-9223372036854775808");
    CALL_OK(f, "{\"x\":9223372036854775807}", "9223372036854775807");
    CALL_OK(f, "{\"x\":-9.2233720368547758e18}", "-9223372036854775808");
    CALL_ERR(f, "{\"x\":9.2233720368547758e18}", -EINVAL,
             "9.2233720368547758e+18 does not fit int64 (-9223372036854775808..9223372036854775807)");
    CALL_ERR(f, "{\"x\":1e300}", -EINVAL, "1.0000000000000001e+300 does not fit int64");
    ffi_fn_free(f);

    /* libc's abs, as the libm pack binds it. */
    ffi_fn *a = NULL;
    char *err = NULL;
    assert_int_equal(make("{\"library\":\"libc.so.6\",\"symbol\":\"abs\",\"params\":[{\"name\":\"n\","
                          "\"type\":\"int32\"}],\"returns\":\"int32\"}",
                          NULL, NULL, &a, &err),
                     0);
    CALL_OK(a, "{\"n\":-7}", "7");
    CALL_OK(a, "{\"n\":-2147483647}", "2147483647");
    ffi_fn_free(a);
}

static void test_unsigned_ranges(void **state)
{
    (void)state;
    ffi_fn *f = helper1("id_u8", "uint8", "uint8");
    CALL_OK(f, "{\"x\":0}", "0");
    CALL_OK(f, "{\"x\":255}", "255");
    CALL_ERR(f, "{\"x\":-1}", -EINVAL, "argument 'x': -1 does not fit uint8 (0..255)");
    CALL_ERR(f, "{\"x\":256}", -EINVAL, "argument 'x': 256 does not fit uint8 (0..255)");
    CALL_ERR(f, "{\"x\":300}", -EINVAL, "argument 'x': 300 does not fit uint8 (0..255)");
    ffi_fn_free(f);

    f = helper1("id_u16", "uint16", "uint16");
    CALL_OK(f, "{\"x\":65535}", "65535");
    CALL_ERR(f, "{\"x\":65536}", -EINVAL, "65536 does not fit uint16 (0..65535)");
    ffi_fn_free(f);

    f = helper1("id_u32", "uint32", "uint32");
    CALL_OK(f, "{\"x\":4294967295}", "4294967295");
    CALL_OK(f, "{\"x\":4294967295.0}", "4294967295");
    CALL_ERR(f, "{\"x\":4294967296}", -EINVAL, "4294967296 does not fit uint32 (0..4294967295)");
    CALL_ERR(f, "{\"x\":-1}", -EINVAL, "-1 does not fit uint32 (0..4294967295)");
    ffi_fn_free(f);

    f = helper1("id_u64", "uint64", "uint64");
    CALL_OK(f, "{\"x\":9223372036854775807}", "9223372036854775807");
    CALL_ERR(f, "{\"x\":-1}", -EINVAL, "-1 does not fit uint64 (0..18446744073709551615)");
    CALL_ERR(f, "{\"x\":1.8446744073709552e19}", -EINVAL, "does not fit uint64 (0..18446744073709551615)");
    /* Above INT64_MAX: accepted as a JSON real, but the same value cannot come back as JSON. */
    CALL_ERR(f, "{\"x\":1e19}", -ERANGE,
             "typed skill 't' returned 10000000000000000000, which is above the largest JSON integer");
    ffi_fn_free(f);
    f = helper1("half_u64", "uint64", "uint64");
    CALL_OK(f, "{\"x\":1e19}", "5000000000000000000");
    ffi_fn_free(f);

    /* Real libc functions with uint16/uint32 in and out. */
    const uint16_t one = 1;
    bool little = *(const uint8_t *)&one == 1;
    ffi_fn *h = NULL;
    char *err = NULL;
    assert_int_equal(make("{\"library\":\"libc.so.6\",\"symbol\":\"htons\",\"params\":[{\"name\":\"v\","
                          "\"type\":\"uint16\"}],\"returns\":\"uint16\"}",
                          NULL, NULL, &h, &err),
                     0);
    CALL_OK(h, "{\"v\":4660}", little ? "13330" : "4660"); /* 0x1234 -> 0x3412 */
    ffi_fn_free(h);
    assert_int_equal(make("{\"library\":\"libc.so.6\",\"symbol\":\"htonl\",\"params\":[{\"name\":\"v\","
                          "\"type\":\"uint32\"}],\"returns\":\"uint32\"}",
                          NULL, NULL, &h, &err),
                     0);
    CALL_OK(h, "{\"v\":1}", little ? "16777216" : "1");
    CALL_OK(h, "{\"v\":4294967295}", "4294967295");
    ffi_fn_free(h);
}

static void test_float_double_bool(void **state)
{
    (void)state;
    ffi_fn *f = helper1("id_f", "float", "float");
    CALL_OK(f, "{\"x\":1.5}", "1.5");
    CALL_OK(f, "{\"x\":2}", "2.0");
    CALL_OK(f, "{\"x\":0.1}", "0.10000000149011612"); /* float precision is visible */
    CALL_OK(f, "{\"x\":-3.4028234663852886e38}", "-3.4028234663852886e38");
    CALL_ERR(f, "{\"x\":3.5e38}", -EINVAL, "argument 'x': 3.5e+38 does not fit float");
    CALL_ERR(f, "{\"x\":-1e39}", -EINVAL, "does not fit float (magnitude at most 3.40282347e+38)");
    CALL_ERR(f, "{\"x\":\"1.5\"}", -EINVAL, "argument 'x': expected a number, got \"1.5\"");
    ffi_fn_free(f);

    f = helper1("id_d", "double", "double");
    CALL_OK(f, "{\"x\":-0.25}", "-0.25");
    CALL_OK(f, "{\"x\":1e308}", "1e308");
    CALL_OK(f, "{\"x\":9007199254740993}", "9007199254740992.0"); /* int -> double rounds */
    CALL_ERR(f, "{\"x\":\"abc\"}", -EINVAL, "argument 'x': expected a number, got \"abc\"");
    CALL_ERR(f, "{\"x\":true}", -EINVAL, "argument 'x': expected a number, got true");
    CALL_ERR(f, "{\"x\":null}", -EINVAL, "argument 'x': expected a number, got null");
    CALL_ERR(f, "{\"x\":[1]}", -EINVAL, "argument 'x': expected a number, got [1]");
    ffi_fn_free(f);

    f = helper1("id_b", "bool", "bool");
    CALL_OK(f, "{\"x\":true}", "true");
    CALL_OK(f, "{\"x\":false}", "false");
    CALL_ERR(f, "{\"x\":1}", -EINVAL, "argument 'x': expected true or false, got 1");
    CALL_ERR(f, "{\"x\":\"true\"}", -EINVAL, "argument 'x': expected true or false, got \"true\"");
    ffi_fn_free(f);
    f = helper1("not_b", "bool", "bool");
    CALL_OK(f, "{\"x\":false}", "true");
    CALL_OK(f, "{\"x\":true}", "false");
    ffi_fn_free(f);

    /* Integers reject everything that is not a whole number. */
    f = helper1("id_i32", "int32", "int32");
    CALL_ERR(f, "{\"x\":\"12\"}", -EINVAL, "argument 'x': expected an integer (int32), got \"12\"");
    CALL_ERR(f, "{\"x\":false}", -EINVAL, "expected an integer (int32), got false");
    CALL_ERR(f, "{\"x\":{\"a\":1}}", -EINVAL, "expected an integer (int32), got {\"a\":1}");
    ffi_fn_free(f);
}

static void test_strings(void **state)
{
    (void)state;
    ffi_fn *f = NULL;
    char *err = NULL;
    assert_int_equal(make("{\"library\":\"libc.so.6\",\"symbol\":\"strlen\",\"params\":[{\"name\":\"s\","
                          "\"type\":\"string\"}],\"returns\":\"uint64\"}",
                          NULL, NULL, &f, &err),
                     0);
    CALL_OK(f, "{\"s\":\"hello\"}", "5");
    CALL_OK(f, "{\"s\":\"\"}", "0");
    CALL_OK(f, "{\"s\":\"h\\u00e9llo\"}", "6"); /* bytes, not characters */
    CALL_ERR(f, "{\"s\":\"a\\u0000b\"}", -EINVAL, "argument 's': the string contains a NUL character");
    CALL_ERR(f, "{\"s\":5}", -EINVAL, "argument 's': expected a string, got 5");
    ffi_fn_free(f);

    assert_int_equal(make("{\"library\":\"libc.so.6\",\"symbol\":\"strchr\",\"params\":[{\"name\":\"s\","
                          "\"type\":\"string\"},{\"name\":\"c\",\"type\":\"int32\"}],\"returns\":\"string\"}",
                          NULL, NULL, &f, &err),
                     0);
    CALL_OK(f, "{\"s\":\"hello\",\"c\":108}", "\"llo\"");
    CALL_OK(f, "{\"s\":\"hello\",\"c\":122}", "null"); /* NULL -> null */
    ffi_fn_free(f);

    f = helper1("id_s", "string", "string");
    CALL_OK(f, "{\"x\":\"gr\\u00fc\\u00dfe \\ud83d\\ude00\"}", "\"gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x98\x80\"");
    ffi_fn_free(f);

    assert_int_equal(make("{\"library\":\"types.so\",\"symbol\":\"bad_utf8\",\"returns\":\"string\"}", g_dir,
                          NULL, &f, &err),
                     0);
    CALL_ERR(f, "{}", -ERANGE, "typed skill 't' returned a string that is not valid UTF-8");
    ffi_fn_free(f);
}

static void test_nonfinite_results(void **state)
{
    (void)state;
    ffi_fn *f = NULL;
    char *err = NULL;
    assert_int_equal(make("{\"library\":\"libm.so.6\",\"symbol\":\"sqrt\",\"params\":[{\"name\":\"x\","
                          "\"type\":\"double\"}],\"returns\":\"double\"}",
                          NULL, NULL, &f, &err),
                     0);
    CALL_OK(f, "{\"x\":144}", "12.0");
    CALL_ERR(f, "{\"x\":-1}", -ERANGE, "typed skill 't' returned nan, which JSON cannot represent");
    ffi_fn_free(f);
    assert_int_equal(make(POW_SPEC, NULL, NULL, &f, &err), 0);
    CALL_ERR(f, "{\"x\":10,\"y\":400}", -ERANGE, "typed skill 't' returned inf, which JSON cannot represent");
    CALL_ERR(f, "{\"x\":-10,\"y\":401}", -ERANGE, "typed skill 't' returned -inf");
    ffi_fn_free(f);
    assert_int_equal(make("{\"library\":\"types.so\",\"symbol\":\"inf_f\",\"params\":[],\"returns\":\"float\"}",
                          g_dir, NULL, &f, &err),
                     0);
    CALL_ERR(f, "{}", -ERANGE, "returned inf, which JSON cannot represent");
    ffi_fn_free(f);
}

static void test_args_shape(void **state)
{
    (void)state;
    ffi_fn *f = NULL;
    char *err = NULL;
    assert_int_equal(make(POW_SPEC, NULL, NULL, &f, &err), 0);
    CALL_ERR(f, "{\"x\":1}", -EINVAL, "typed skill 't': missing argument 'y' (double)");
    CALL_ERR(f, "{}", -EINVAL, "missing argument 'x'");
    CALL_ERR(f, NULL, -EINVAL, "missing argument 'x'");
    CALL_ERR(f, "{\"x\":1,\"y\":2,\"z\":3}", -EINVAL, "typed skill 't': unknown argument 'z' (the function takes x, y)");
    CALL_ERR(f, "[1,2]", -EINVAL, "arguments must be a JSON object keyed by param name, got [1,2]");
    CALL_ERR(f, "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", -EINVAL,
             "got \"xxxxxxxxxx");
    CALL_ERR(f, "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", -EINVAL,
             "xxxxxxxxxx...");
    ffi_fn_free(f);

    /* No params: {} and NULL are fine, anything else is an unknown argument; void -> null. */
    assert_int_equal(make("{\"library\":\"types.so\",\"symbol\":\"bump\",\"returns\":\"void\"}", g_dir, NULL, &f,
                          &err),
                     0);
    ffi_fn *c = NULL;
    assert_int_equal(make("{\"library\":\"types.so\",\"symbol\":\"count\",\"returns\":\"int32\"}", g_dir, NULL, &c,
                          &err),
                     0);
    CALL_OK(c, "{}", "0");
    CALL_OK(f, "{}", "null");
    CALL_OK(f, NULL, "null");
    CALL_ERR(f, "{\"a\":1}", -EINVAL, "unknown argument 'a' (the function takes no arguments)");
    CALL_OK(c, "{}", "2");
    ffi_fn_free(f);
    ffi_fn_free(c);
}

static void test_bad_specs(void **state)
{
    (void)state;
    NEW_ERR("[1]", NULL, NULL, -EINVAL, "typed skill 't': \"function\" must be an object");
    NEW_ERR("{\"library\":\"libm.so.6\",\"params\":[],\"returns\":\"double\"}", NULL, NULL, -EINVAL,
            "typed skill 't': \"function\" needs a non-empty string \"symbol\"");
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"returns\":\"double\",\"retrns\":1}", NULL, NULL,
            -EINVAL, "unknown member \"retrns\" in \"function\"");
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"params\":[]}", NULL, NULL, -EINVAL,
            "needs a string \"returns\"");
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"params\":[],\"returns\":\"long double\"}", NULL,
            NULL, -EINVAL, "\"returns\": unknown type 'long double'");
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"params\":[{\"name\":\"x\",\"type\":\"dobule\"}],"
            "\"returns\":\"double\"}",
            NULL, NULL, -EINVAL, "typed skill 't': param 'x': unknown type 'dobule' (use one of int8,");
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"params\":[{\"name\":\"x\",\"type\":\"void\"}],"
            "\"returns\":\"double\"}",
            NULL, NULL, -EINVAL, "param 'x': unknown type 'void'");
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"params\":[{\"type\":\"double\"}],"
            "\"returns\":\"double\"}",
            NULL, NULL, -EINVAL, "params[0] needs a non-empty string \"name\"");
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"params\":[{\"name\":\"x\",\"type\":\"double\"},"
            "{\"name\":\"x\",\"type\":\"double\"}],\"returns\":\"double\"}",
            NULL, NULL, -EINVAL, "params[1]: duplicate param name 'x'");
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"params\":[{\"name\":\"x\",\"typ\":\"double\"}],"
            "\"returns\":\"double\"}",
            NULL, NULL, -EINVAL, "unknown member \"typ\" in params[0]");
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"params\":{\"x\":\"double\"},\"returns\":\"double\"}",
            NULL, NULL, -EINVAL, "\"params\" must be an array");
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"params\":[{\"name\":\"x\",\"type\":7}],"
            "\"returns\":\"double\"}",
            NULL, NULL, -EINVAL, "param 'x' needs a string \"type\"");

    char many[4096] = "{\"library\":\"libm.so.6\",\"symbol\":\"pow\",\"returns\":\"double\",\"params\":[";
    for (int i = 0; i < 33; i++) {
        size_t len = strlen(many);
        snprintf(many + len, sizeof many - len, "%s{\"name\":\"p%d\",\"type\":\"int8\"}", i ? "," : "", i);
    }
    size_t len = strlen(many);
    snprintf(many + len, sizeof many - len, "]}");
    NEW_ERR(many, NULL, NULL, -EINVAL, "\"params\" has 33 entries; at most 32 are supported");

    /* Missing symbol and library. */
    NEW_ERR("{\"library\":\"libm.so.6\",\"symbol\":\"pwo\",\"params\":[],\"returns\":\"double\"}", NULL, NULL,
            -ENOENT, "typed skill 't': symbol 'pwo' not found in libm.so.6 (");
    NEW_ERR("{\"library\":\"libvenom-nope.so.9\",\"symbol\":\"pow\",\"returns\":\"double\"}", NULL, NULL, -ENOENT,
            "typed skill 't': cannot load library libvenom-nope.so.9 (");
    NEW_ERR("{\"library\":\"\",\"symbol\":\"pow\",\"returns\":\"double\"}", NULL, NULL, -EINVAL,
            "\"library\" must be a non-empty string");
    NEW_ERR("{\"symbol\":\"pow\",\"returns\":\"double\"}", g_dir, NULL, -EINVAL,
            "no \"library\" given and the pack has no library of its own");
}

static void test_library_paths(void **state)
{
    (void)state;
    /* Inside the pack: a bare file name that exists there, a sub path, the default. */
    ffi_fn *f = NULL;
    char *err = NULL;
    char *sub = ts_write(g_dir, "lib/readme.txt", "x");
    char *copy = NULL;
    assert_true(asprintf(&copy, "%s/lib/types.so", g_dir) > 0);
    assert_int_equal(link(g_types, copy), 0);
    assert_int_equal(make("{\"library\":\"lib/types.so\",\"symbol\":\"id_i32\",\"params\":[{\"name\":\"x\","
                          "\"type\":\"int32\"}],\"returns\":\"int32\"}",
                          g_dir, NULL, &f, &err),
                     0);
    CALL_OK(f, "{\"x\":42}", "42");
    ffi_fn_free(f);
    assert_int_equal(make("{\"library\":\"./lib//types.so\",\"symbol\":\"count\",\"returns\":\"int32\"}", g_dir,
                          NULL, &f, &err),
                     0);
    ffi_fn_free(f);
    assert_int_equal(make("{\"symbol\":\"id_u8\",\"params\":[{\"name\":\"x\",\"type\":\"uint8\"}],"
                          "\"returns\":\"uint8\"}",
                          g_dir, g_types, &f, &err),
                     0);
    CALL_OK(f, "{\"x\":200}", "200");
    ffi_fn_free(f);

    /* Escapes and bad paths. */
    NEW_ERR("{\"library\":\"../x/types.so\",\"symbol\":\"count\",\"returns\":\"int32\"}", g_dir, NULL, -EINVAL,
            "typed skill 't': library '../x/types.so' escapes the pack directory");
    NEW_ERR("{\"library\":\"lib/../../types.so\",\"symbol\":\"count\",\"returns\":\"int32\"}", g_dir, NULL,
            -EINVAL, "library 'lib/../../types.so' escapes the pack directory");
    NEW_ERR("{\"library\":\"/usr/lib/libm.so.6\",\"symbol\":\"pow\",\"returns\":\"double\"}", g_dir, NULL,
            -EINVAL, "library '/usr/lib/libm.so.6' is an absolute path");
    NEW_ERR("{\"library\":\"lib/nope.so\",\"symbol\":\"pow\",\"returns\":\"double\"}", g_dir, NULL, -ENOENT,
            "library 'lib/nope.so' not found in the pack directory");
    NEW_ERR("{\"library\":\"lib/types.so\",\"symbol\":\"pow\",\"returns\":\"double\"}", NULL, NULL, -EINVAL,
            "library 'lib/types.so' is a relative path but the pack has no directory");
    /* A symlink that leads out of the pack, under a bare or a sub-path name. */
    char *outside = ts_mkdtemp();
    char *target = ts_write(outside, "evil.so", "not really");
    char *lnk = NULL, *lnk2 = NULL;
    assert_true(asprintf(&lnk, "%s/evil.so", g_dir) > 0);
    assert_true(asprintf(&lnk2, "%s/lib/evil.so", g_dir) > 0);
    assert_int_equal(symlink(target, lnk), 0);
    assert_int_equal(symlink(target, lnk2), 0);
    NEW_ERR("{\"library\":\"evil.so\",\"symbol\":\"pow\",\"returns\":\"double\"}", g_dir, NULL, -EINVAL,
            "library 'evil.so' escapes the pack directory (it resolves to");
    NEW_ERR("{\"library\":\"lib/evil.so\",\"symbol\":\"pow\",\"returns\":\"double\"}", g_dir, NULL, -EINVAL,
            "library 'lib/evil.so' escapes the pack directory");
    /* A file of the pack that is no library. */
    NEW_ERR("{\"library\":\"lib/readme.txt\",\"symbol\":\"pow\",\"returns\":\"double\"}", g_dir, NULL, -ENOENT,
            "cannot load library lib/readme.txt (");
    unlink(lnk);
    unlink(lnk2);
    unlink(copy);
    unlink(sub);
    ts_rmtree(outside);
    free(outside);
    free(target);
    free(lnk);
    free(lnk2);
    free(copy);
    free(sub);
}

typedef struct worker {
    const ffi_fn *pow;
    const ffi_fn *mix;
    int id;
    int failures;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 2000; i++) {
        json_t *args = json_pack("{s:i,s:f}", "x", w->id, "y", 2.0);
        json_t *res = NULL;
        if (ffi_fn_call(w->pow, args, &res, NULL) != 0 || json_real_value(res) != (double)(w->id * w->id))
            w->failures++;
        json_decref(args);
        json_decref(res);
        char s[32];
        snprintf(s, sizeof s, "%*s", w->id + (i % 7), "");
        args = json_pack("{s:i,s:i,s:f,s:f,s:b,s:s,s:I,s:i}", "a", -w->id, "b", i, "c", 0.5, "d", 0.25, "e", i & 1,
                         "s", s, "g", (json_int_t)1 << 40, "h", 1);
        res = NULL;
        double want = -w->id + i + 0.75 + ((i & 1) ? 1000 : 0) + (w->id + (i % 7)) + (double)((int64_t)1 << 40) + 1;
        if (ffi_fn_call(w->mix, args, &res, NULL) != 0 || json_real_value(res) != want)
            w->failures++;
        json_decref(args);
        json_decref(res);
    }
    return NULL;
}

static void test_concurrent_calls(void **state)
{
    (void)state;
    ffi_fn *p = NULL, *m = NULL;
    char *err = NULL;
    assert_int_equal(make(POW_SPEC, NULL, NULL, &p, &err), 0);
    assert_int_equal(make("{\"library\":\"types.so\",\"symbol\":\"mix\",\"params\":["
                          "{\"name\":\"a\",\"type\":\"int8\"},{\"name\":\"b\",\"type\":\"uint16\"},"
                          "{\"name\":\"c\",\"type\":\"float\"},{\"name\":\"d\",\"type\":\"double\"},"
                          "{\"name\":\"e\",\"type\":\"bool\"},{\"name\":\"s\",\"type\":\"string\"},"
                          "{\"name\":\"g\",\"type\":\"int64\"},{\"name\":\"h\",\"type\":\"uint8\"}],"
                          "\"returns\":\"double\"}",
                          g_dir, NULL, &m, &err),
                     0);
    enum { N = 8 };
    pthread_t t[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){.pow = p, .mix = m, .id = i + 1};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    ffi_fn_free(p);
    ffi_fn_free(m);
}

/* Fail the Nth allocation for every N: each run either succeeds or reports
 * -ENOMEM with a message, and nothing leaks (LeakSanitizer in asan builds). */
static void test_alloc_failure_sweep(void **state)
{
    (void)state;
    const char *spec_text = "{\"library\":\"types.so\",\"symbol\":\"id_s\",\"params\":[{\"name\":\"x\","
                            "\"type\":\"string\",\"description\":\"text\"}],\"returns\":\"string\"}";
    json_t *spec = js(spec_text);
    json_t *args = js("{\"x\":\"hello\"}");
    json_t *bad = js("{\"x\":\"hello\",\"y\":[1,2,3]}");
    bool completed = false;
    for (long n = 0; n < 1000 && !completed; n++) {
        ffi_fn *f = NULL;
        char *err = NULL;
        json_t *res = NULL, *schema = NULL;
        mem_fail_after(n);
        int rc = ffi_fn_new(spec, "t", g_dir, NULL, &f, &err);
        int rc2 = -1, rc3 = -1;
        if (rc == 0) {
            schema = ffi_fn_args_schema(f);
            rc2 = ffi_fn_call(f, args, &res, &err);
            if (rc2 != 0) {
                mem_fail_after(-1);
                assert_int_equal(rc2, -ENOMEM);
            }
            mem_fail_after(n);
            char *err2 = NULL;
            json_t *res2 = NULL;
            rc3 = ffi_fn_call(f, bad, &res2, &err2);
            assert_true(rc3 == -EINVAL || rc3 == -ENOMEM);
            assert_null(res2);
            mem_free(err2);
        }
        mem_fail_after(-1);
        if (rc != 0) {
            assert_int_equal(rc, -ENOMEM);
            assert_null(f);
        }
        if (rc == 0 && rc2 == 0 && schema && rc3 == -EINVAL) {
            assert_string_equal(json_string_value(res), "hello");
            completed = true;
        }
        json_decref(schema);
        json_decref(res);
        mem_free(err);
        ffi_fn_free(f);
    }
    assert_true(completed);
    json_decref(spec);
    json_decref(args);
    json_decref(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pow_and_schema),
        cmocka_unit_test(test_integer_schema),
        cmocka_unit_test(test_temperature_pack),
        cmocka_unit_test(test_example_packs),
        cmocka_unit_test(test_signed_ranges),
        cmocka_unit_test(test_unsigned_ranges),
        cmocka_unit_test(test_float_double_bool),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_nonfinite_results),
        cmocka_unit_test(test_args_shape),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_library_paths),
        cmocka_unit_test(test_concurrent_calls),
        cmocka_unit_test(test_alloc_failure_sweep),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
