#include "util/common.h"

#include <dlfcn.h>
#include <ffi.h>
#include <float.h>
#include <math.h>
#include <sys/stat.h>

#include "plugin/ffi.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/jsonx.h"

/* More would only mean a typo in a manifest; keeps call storage on the stack. */
#define FFI_MAX_PARAMS 32

_Static_assert(sizeof(bool) == 1, "bool is passed as uint8");

typedef enum fty {
    T_VOID,
    T_I8,
    T_I16,
    T_I32,
    T_I64,
    T_U8,
    T_U16,
    T_U32,
    T_U64,
    T_FLOAT,
    T_DOUBLE,
    T_BOOL,
    T_STRING,
} fty;

static const struct {
    const char *name;
    ffi_type *type;
    long long min; /* integer types: the range (uint64: see is_unsigned) */
    unsigned long long max;
} TYPES[] = {
    [T_VOID] = {"void", &ffi_type_void, 0, 0},
    [T_I8] = {"int8", &ffi_type_sint8, INT8_MIN, INT8_MAX},
    [T_I16] = {"int16", &ffi_type_sint16, INT16_MIN, INT16_MAX},
    [T_I32] = {"int32", &ffi_type_sint32, INT32_MIN, INT32_MAX},
    [T_I64] = {"int64", &ffi_type_sint64, INT64_MIN, INT64_MAX},
    [T_U8] = {"uint8", &ffi_type_uint8, 0, UINT8_MAX},
    [T_U16] = {"uint16", &ffi_type_uint16, 0, UINT16_MAX},
    [T_U32] = {"uint32", &ffi_type_uint32, 0, UINT32_MAX},
    [T_U64] = {"uint64", &ffi_type_uint64, 0, UINT64_MAX},
    [T_FLOAT] = {"float", &ffi_type_float, 0, 0},
    [T_DOUBLE] = {"double", &ffi_type_double, 0, 0},
    [T_BOOL] = {"bool", &ffi_type_uint8, 0, 0},
    [T_STRING] = {"string", &ffi_type_pointer, 0, 0},
};

#define TYPE_LIST "int8, int16, int32, int64, uint8, uint16, uint32, uint64, float, double, bool, string"

static bool is_signed_int(fty t) { return t >= T_I8 && t <= T_I64; }
static bool is_unsigned_int(fty t) { return t >= T_U8 && t <= T_U64; }

typedef struct ffi_param {
    char *name;
    char *description; /* may be NULL */
    fty type;
} ffi_param;

struct ffi_fn {
    char *name;    /* skill name */
    char *library; /* as the manifest names it (or the pack's library path) */
    char *symbol;
    void *dl;
    void (*fn)(void);
    ffi_param *params;
    size_t nparams;
    ffi_type **atypes;
    fty ret;
    ffi_cif cif;
};

/* Native storage of one argument for the duration of a call. */
typedef union ffi_slot {
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    float f;
    double d;
    bool b;
    const char *s;
} ffi_slot;

/* ------------------------------------------------------------ spec */

static int parse_type(const char *s, bool allow_void, fty *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(TYPES); i++) {
        if (strcmp(s, TYPES[i].name) == 0) {
            if (i == T_VOID && !allow_void)
                return -EINVAL;
            *out = (fty)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* Fails with a message naming the first member of obj not in allowed. */
static int check_members(const json_t *obj, const char *const *allowed, size_t n, const char *where,
                         const char *expected, char **err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (size_t i = 0; i < n && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok)
            return err_set(err, -EINVAL, "unknown member \"%s\" in %s (expected %s)", key, where, expected);
    }
    return 0;
}

static int parse_params(ffi_fn *f, const json_t *params, char **err)
{
    static const char *const allowed[] = {"name", "type", "description"};
    if (!json_is_array(params))
        return err_set(err, -EINVAL, "\"params\" must be an array of {\"name\", \"type\"} objects");
    size_t n = json_array_size(params);
    if (n > FFI_MAX_PARAMS)
        return err_set(err, -EINVAL, "\"params\" has %zu entries; at most %d are supported", n,
                       FFI_MAX_PARAMS);
    f->params = mem_calloc(n ? n : 1, sizeof *f->params);
    f->atypes = mem_calloc(n ? n : 1, sizeof *f->atypes);
    if (!f->params || !f->atypes)
        return err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(params, i);
        if (!json_is_object(p))
            return err_set(err, -EINVAL, "params[%zu] must be an object like {\"name\": \"x\", \"type\": \"double\"}",
                           i);
        const json_t *name = json_object_get(p, "name");
        if (!json_is_string(name) || json_string_length(name) == 0 ||
            strlen(json_string_value(name)) != json_string_length(name))
            return err_set(err, -EINVAL, "params[%zu] needs a non-empty string \"name\"", i);
        const char *nm = json_string_value(name);
        char where[64];
        snprintf(where, sizeof where, "params[%zu]", i);
        int rc = check_members(p, allowed, ARRAY_SIZE(allowed), where, "name, type, description", err);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->params[j].name, nm) == 0)
                return err_set(err, -EINVAL, "params[%zu]: duplicate param name '%s'", i, nm);
        const json_t *type = json_object_get(p, "type");
        if (!json_is_string(type))
            return err_set(err, -EINVAL, "param '%s' needs a string \"type\" (one of " TYPE_LIST ")", nm);
        if (parse_type(json_string_value(type), false, &f->params[i].type) < 0)
            return err_set(err, -EINVAL, "param '%s': unknown type '%s' (use one of " TYPE_LIST ")", nm,
                           json_string_value(type));
        const json_t *desc = json_object_get(p, "description");
        if (desc && !json_is_string(desc))
            return err_set(err, -EINVAL, "param '%s': \"description\" must be a string", nm);
        f->params[i].name = mem_strdup(nm);
        if (!f->params[i].name)
            return err_set(err, -ENOMEM, "out of memory");
        f->nparams = i + 1;
        if (desc && !(f->params[i].description = mem_strdup(json_string_value(desc))))
            return err_set(err, -ENOMEM, "out of memory");
        f->atypes[i] = TYPES[f->params[i].type].type;
    }
    return 0;
}

/*
 * Resolve a "library" value: *path becomes the file to dlopen (a path inside
 * pack_dir, or the bare name for the dynamic loader). Caller frees *path.
 */
static int resolve_library(const char *lib, const char *pack_dir, char **path, char **err)
{
    int rc = 0;
    char *joined = NULL;
    if (lib[0] == '/')
        return err_set(err, -EINVAL,
                       "library '%s' is an absolute path: give a bare name such as \"libm.so.6\" (found "
                       "by the dynamic loader) or a path relative to the pack directory",
                       lib);
    bool has_slash = strchr(lib, '/') != NULL;
    if (has_slash) {
        /* Reject ".." components before touching the file system. */
        const char *s = lib;
        while (*s) {
            size_t len = strcspn(s, "/");
            if (len == 2 && s[0] == '.' && s[1] == '.')
                return err_set(err, -EINVAL,
                               "library '%s' escapes the pack directory: give a path inside the pack", lib);
            s += len;
            while (*s == '/')
                s++;
        }
    }
    if (!pack_dir) {
        if (has_slash)
            return err_set(err, -EINVAL, "library '%s' is a relative path but the pack has no directory",
                           lib);
        *path = mem_strdup(lib);
        return *path ? 0 : err_set(err, -ENOMEM, "out of memory");
    }
    joined = mem_printf("%s/%s", pack_dir, lib);
    if (!joined) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    struct stat st;
    if (!has_slash && lstat(joined, &st) != 0) {
        /* Not a file of the pack: a system library for the dynamic loader. */
        *path = mem_strdup(lib);
        rc = *path ? 0 : err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    char real_lib[PATH_MAX], real_dir[PATH_MAX];
    if (!realpath(pack_dir, real_dir)) {
        rc = err_set(err, -ENOENT, "pack directory '%s': %s", pack_dir, strerror(errno));
        goto out;
    }
    if (!realpath(joined, real_lib)) {
        rc = err_set(err, -ENOENT, "library '%s' not found in the pack directory %s (%s)", lib, pack_dir,
                     strerror(errno));
        goto out;
    }
    size_t dl = strlen(real_dir);
    bool inside = strncmp(real_lib, real_dir, dl) == 0 && (real_lib[dl] == '/' || real_dir[dl - 1] == '/');
    if (!inside) {
        rc = err_set(err, -EINVAL,
                     "library '%s' escapes the pack directory (it resolves to %s): give a file inside the pack",
                     lib, real_lib);
        goto out;
    }
    *path = mem_strdup(real_lib);
    if (!*path)
        rc = err_set(err, -ENOMEM, "out of memory");
out:
    mem_free(joined);
    return rc;
}

static int fn_build(ffi_fn *f, const json_t *spec, const char *pack_dir, const char *default_lib, char **err)
{
    static const char *const allowed[] = {"library", "symbol", "params", "returns"};
    int rc = 0;
    char *path = NULL;
    if (!json_is_object(spec))
        return err_set(err, -EINVAL, "\"function\" must be an object with \"symbol\", \"params\" and \"returns\"");
    rc = check_members(spec, allowed, ARRAY_SIZE(allowed), "\"function\"", "library, symbol, params, returns",
                       err);
    if (rc < 0)
        return rc;

    const json_t *sym = json_object_get(spec, "symbol");
    if (!json_is_string(sym) || json_string_length(sym) == 0 ||
        strlen(json_string_value(sym)) != json_string_length(sym))
        return err_set(err, -EINVAL, "\"function\" needs a non-empty string \"symbol\" (the C function's name)");
    if (!(f->symbol = mem_strdup(json_string_value(sym))))
        return err_set(err, -ENOMEM, "out of memory");

    const json_t *params = json_object_get(spec, "params");
    if (params) {
        rc = parse_params(f, params, err);
    } else {
        json_t *empty = json_array();
        rc = empty ? parse_params(f, empty, err) : err_set(err, -ENOMEM, "out of memory");
        json_decref(empty);
    }
    if (rc < 0)
        return rc;

    const json_t *ret = json_object_get(spec, "returns");
    if (!json_is_string(ret))
        return err_set(err, -EINVAL, "\"function\" needs a string \"returns\" (void or one of " TYPE_LIST ")");
    if (parse_type(json_string_value(ret), true, &f->ret) < 0)
        return err_set(err, -EINVAL, "\"returns\": unknown type '%s' (use void or one of " TYPE_LIST ")",
                       json_string_value(ret));

    const json_t *lib = json_object_get(spec, "library");
    if (lib) {
        if (!json_is_string(lib) || json_string_length(lib) == 0 ||
            strlen(json_string_value(lib)) != json_string_length(lib))
            return err_set(err, -EINVAL, "\"library\" must be a non-empty string such as \"libm.so.6\"");
        if (!(f->library = mem_strdup(json_string_value(lib))))
            return err_set(err, -ENOMEM, "out of memory");
        rc = resolve_library(f->library, pack_dir, &path, err);
        if (rc < 0)
            return rc;
    } else {
        if (!default_lib)
            return err_set(err, -EINVAL,
                           "no \"library\" given and the pack has no library of its own: add \"library\" "
                           "(e.g. \"libm.so.6\") or build the pack's shared object");
        f->library = mem_strdup(default_lib);
        path = mem_strdup(default_lib);
        if (!f->library || !path) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
    }

    dlerror();
    f->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!f->dl) {
        const char *e = dlerror();
        rc = err_set(err, -ENOENT, "cannot load library %s (%s)", f->library, e ? e : "unknown error");
        goto out;
    }
    dlerror();
    void *p = dlsym(f->dl, f->symbol);
    const char *e = dlerror();
    if (e || !p) {
        rc = err_set(err, -ENOENT, "symbol '%s' not found in %s (%s)", f->symbol, f->library,
                     e ? e : "the symbol is NULL");
        goto out;
    }
    /* POSIX: dlsym's object pointer converts to a function pointer. */
    memcpy(&f->fn, &p, sizeof f->fn);

    ffi_status st = ffi_prep_cif(&f->cif, FFI_DEFAULT_ABI, (unsigned)f->nparams, TYPES[f->ret].type,
                                 f->atypes);
    if (st != FFI_OK)
        rc = err_set(err, -EINVAL, "libffi cannot prepare a call to '%s' (status %d)", f->symbol, (int)st);
out:
    mem_free(path);
    return rc;
}

int ffi_fn_new(const json_t *spec, const char *skill_name, const char *pack_dir, const char *default_lib,
               ffi_fn **out, char **err)
{
    int rc = 0;
    const char *sn = skill_name ? skill_name : "?";
    ffi_fn *f = NULL;
    if (!out)
        return err_set(err, -EINVAL, "typed skill '%s': no output pointer", sn);
    *out = NULL;
    f = mem_calloc(1, sizeof *f);
    if (!f || !(f->name = mem_strdup(sn))) {
        rc = err_set(err, -ENOMEM, "typed skill '%s': out of memory", sn);
        goto out;
    }
    rc = fn_build(f, spec, pack_dir, default_lib, err);
    if (rc < 0) {
        err_prefix(err, rc, "typed skill '%s'", sn);
        goto out;
    }
    *out = f;
    f = NULL;
out:
    ffi_fn_free(f);
    return rc;
}

void ffi_fn_free(ffi_fn *f)
{
    if (!f)
        return;
    if (f->dl)
        dlclose(f->dl);
    if (f->params)
        for (size_t i = 0; i < f->nparams; i++) {
            mem_free(f->params[i].name);
            mem_free(f->params[i].description);
        }
    mem_free(f->params);
    mem_free(f->atypes);
    mem_free(f->symbol);
    mem_free(f->library);
    mem_free(f->name);
    mem_free(f);
}

const char *ffi_fn_name(const ffi_fn *f) { return f ? f->name : NULL; }
const char *ffi_fn_library(const ffi_fn *f) { return f ? f->library : NULL; }
const char *ffi_fn_symbol(const ffi_fn *f) { return f ? f->symbol : NULL; }
size_t ffi_fn_nparams(const ffi_fn *f) { return f ? f->nparams : 0; }

/* ------------------------------------------------------------ schema */

static int set_new(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

static json_t *param_schema(const ffi_param *p)
{
    json_t *s = json_object();
    if (!s)
        return NULL;
    int rc = 0;
    fty t = p->type;
    if (is_signed_int(t)) {
        rc = set_new(s, "type", json_string("integer"));
        if (!rc)
            rc = set_new(s, "minimum", json_integer(TYPES[t].min));
        if (!rc)
            rc = set_new(s, "maximum", json_integer((json_int_t)TYPES[t].max));
    } else if (is_unsigned_int(t)) {
        rc = set_new(s, "type", json_string("integer"));
        if (!rc)
            rc = set_new(s, "minimum", json_integer(0));
        /* uint64's top (2^64-1) is no JSON integer jansson can hold: 2^64 as a real. */
        if (!rc)
            rc = set_new(s, "maximum", t == T_U64 ? json_real(0x1p64) : json_integer((json_int_t)TYPES[t].max));
    } else if (t == T_FLOAT) {
        rc = set_new(s, "type", json_string("number"));
        if (!rc)
            rc = set_new(s, "minimum", json_real(-FLT_MAX));
        if (!rc)
            rc = set_new(s, "maximum", json_real(FLT_MAX));
    } else if (t == T_DOUBLE) {
        rc = set_new(s, "type", json_string("number"));
    } else if (t == T_BOOL) {
        rc = set_new(s, "type", json_string("boolean"));
    } else {
        rc = set_new(s, "type", json_string("string"));
    }
    if (!rc && p->description)
        rc = set_new(s, "description", json_string(p->description));
    if (rc) {
        json_decref(s);
        return NULL;
    }
    return s;
}

json_t *ffi_fn_args_schema(const ffi_fn *f)
{
    if (!f)
        return NULL;
    json_t *schema = json_object();
    json_t *props = json_object();
    json_t *req = json_array();
    if (!schema || !props || !req)
        goto fail;
    for (size_t i = 0; i < f->nparams; i++) {
        if (set_new(props, f->params[i].name, param_schema(&f->params[i])) < 0 ||
            json_array_append_new(req, json_string(f->params[i].name)) < 0)
            goto fail;
    }
    if (set_new(schema, "type", json_string("object")) < 0)
        goto fail;
    int rc = json_object_set(schema, "properties", props);
    rc = rc ? rc : json_object_set(schema, "required", req);
    rc = rc ? rc : json_object_set_new(schema, "additionalProperties", json_false());
    if (rc)
        goto fail;
    json_decref(props);
    json_decref(req);
    return schema;
fail:
    json_decref(schema);
    json_decref(props);
    json_decref(req);
    return NULL;
}

/* ------------------------------------------------------------ call */

/* A short JSON rendering of v for messages (caller frees); NULL on OOM. */
static char *show(const json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s)
        return NULL;
    size_t len = strlen(s);
    if (len <= 60) {
        char *m = mem_strdup(s);
        mem_free(s);
        return m;
    }
    size_t cut = jsonx_utf8_cut(s, len, 57);
    char *m = mem_printf("%.*s...", (int)cut, s);
    mem_free(s);
    return m;
}

static int wrong_type(const ffi_param *p, const json_t *v, const char *expected, char **err)
{
    char *s = show(v);
    int rc = err_set(err, -EINVAL, "argument '%s': expected %s, got %s", p->name, expected, s ? s : jsonx_kind(v));
    mem_free(s);
    return rc;
}

static int range_error(const ffi_param *p, const char *value, char **err)
{
    fty t = p->type;
    if (is_signed_int(t))
        return err_set(err, -EINVAL, "argument '%s': %s does not fit %s (%lld..%llu)", p->name, value,
                       TYPES[t].name, TYPES[t].min, TYPES[t].max);
    return err_set(err, -EINVAL, "argument '%s': %s does not fit %s (0..%llu)", p->name, value, TYPES[t].name,
                   TYPES[t].max);
}

static void store_int(fty t, int64_t si, uint64_t ui, ffi_slot *slot)
{
    switch (t) {
    case T_I8: slot->i8 = (int8_t)si; break;
    case T_I16: slot->i16 = (int16_t)si; break;
    case T_I32: slot->i32 = (int32_t)si; break;
    case T_I64: slot->i64 = si; break;
    case T_U8: slot->u8 = (uint8_t)ui; break;
    case T_U16: slot->u16 = (uint16_t)ui; break;
    case T_U32: slot->u32 = (uint32_t)ui; break;
    default: slot->u64 = ui; break;
    }
}

static int conv_int(const ffi_param *p, const json_t *v, ffi_slot *slot, char **err)
{
    fty t = p->type;
    bool sgn = is_signed_int(t);
    char expected[48];
    snprintf(expected, sizeof expected, "an integer (%s)", TYPES[t].name);
    if (json_is_integer(v)) {
        long long x = json_integer_value(v);
        bool ok = sgn ? x >= TYPES[t].min && (x < 0 || (unsigned long long)x <= TYPES[t].max)
                      : x >= 0 && (unsigned long long)x <= TYPES[t].max;
        if (!ok) {
            char num[32];
            snprintf(num, sizeof num, "%lld", x);
            return range_error(p, num, err);
        }
        store_int(t, x, (uint64_t)x, slot);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d != floor(d))
            return wrong_type(p, v, expected, err);
        bool ok;
        if (t == T_I64)
            ok = d >= -0x1p63 && d < 0x1p63;
        else if (t == T_U64)
            ok = d >= 0 && d < 0x1p64;
        else
            ok = d >= (double)TYPES[t].min && d <= (double)TYPES[t].max;
        if (!ok) {
            char num[40];
            snprintf(num, sizeof num, "%.17g", d);
            return range_error(p, num, err);
        }
        if (sgn)
            store_int(t, (int64_t)d, 0, slot);
        else
            store_int(t, 0, (uint64_t)d, slot);
        return 0;
    }
    return wrong_type(p, v, expected, err);
}

static int conv_arg(const ffi_param *p, const json_t *v, ffi_slot *slot, char **err)
{
    switch (p->type) {
    case T_FLOAT:
    case T_DOUBLE: {
        if (!json_is_number(v))
            return wrong_type(p, v, "a number", err);
        double d = json_number_value(v);
        if (p->type == T_DOUBLE) {
            slot->d = d;
            return 0;
        }
        if (!isfinite(d) || fabs(d) > FLT_MAX)
            return err_set(err, -EINVAL, "argument '%s': %.17g does not fit float (magnitude at most %.9g)",
                           p->name, d, (double)FLT_MAX);
        slot->f = (float)d;
        return 0;
    }
    case T_BOOL:
        if (!json_is_boolean(v))
            return wrong_type(p, v, "true or false", err);
        slot->b = json_is_true(v);
        return 0;
    case T_STRING:
        if (!json_is_string(v))
            return wrong_type(p, v, "a string", err);
        if (strlen(json_string_value(v)) != json_string_length(v))
            return err_set(err, -EINVAL, "argument '%s': the string contains a NUL character (\\u0000), which "
                                         "a C string cannot carry", p->name);
        slot->s = json_string_value(v);
        return 0;
    default:
        return conv_int(p, v, slot, err);
    }
}

static int unknown_arg(const ffi_fn *f, const char *key, char **err)
{
    buf b = BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < f->nparams && !rc; i++)
        rc = buf_printf(&b, "%s%s", i ? ", " : "", f->params[i].name);
    if (rc)
        rc = err_set(err, -ENOMEM, "out of memory");
    else if (f->nparams == 0)
        rc = err_set(err, -EINVAL, "unknown argument '%s' (the function takes no arguments)", key);
    else
        rc = err_set(err, -EINVAL, "unknown argument '%s' (the function takes %s)", key, buf_str(&b));
    buf_release(&b);
    return rc;
}

typedef union ffi_ret {
    ffi_arg a;
    ffi_sarg sa;
    int64_t i64;
    uint64_t u64;
    float f;
    double d;
    void *p;
} ffi_ret;

static int to_json(const ffi_fn *f, const ffi_ret *r, json_t **result, char **err)
{
    json_t *v = NULL;
    double d = 0;
    switch (f->ret) {
    case T_VOID: v = json_null(); break;
    /* libffi widens integral returns narrower than ffi_arg to a full ffi_arg. */
    case T_I8: v = json_integer((int8_t)r->sa); break;
    case T_I16: v = json_integer((int16_t)r->sa); break;
    case T_I32: v = json_integer((int32_t)r->sa); break;
    case T_I64: v = json_integer(sizeof(ffi_sarg) >= 8 ? (int64_t)r->sa : r->i64); break;
    case T_U8: v = json_integer((uint8_t)r->a); break;
    case T_U16: v = json_integer((uint16_t)r->a); break;
    case T_U32: v = json_integer((uint32_t)r->a); break;
    case T_U64: {
        uint64_t u = sizeof(ffi_arg) >= 8 ? (uint64_t)r->a : r->u64;
        if (u > INT64_MAX)
            return err_set(err, -ERANGE,
                           "typed skill '%s' returned %" PRIu64 ", which is above the largest JSON integer "
                           "venom carries (9223372036854775807)", f->name, u);
        v = json_integer((json_int_t)u);
        break;
    }
    case T_BOOL: v = json_boolean((uint8_t)r->a != 0); break;
    case T_FLOAT:
    case T_DOUBLE:
        d = f->ret == T_FLOAT ? (double)r->f : r->d;
        if (!isfinite(d))
            return err_set(err, -ERANGE, "typed skill '%s' returned %s, which JSON cannot represent", f->name,
                           isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        v = json_real(d);
        break;
    case T_STRING:
        if (!r->p) {
            v = json_null();
            break;
        }
        if (!jsonx_utf8_valid(r->p, strlen(r->p)))
            return err_set(err, -ERANGE,
                           "typed skill '%s' returned a string that is not valid UTF-8, which JSON cannot carry",
                           f->name);
        v = json_string(r->p);
        break;
    }
    if (!v)
        return err_set(err, -ENOMEM, "typed skill '%s': out of memory", f->name);
    *result = v;
    return 0;
}

int ffi_fn_call(const ffi_fn *f, const json_t *args, json_t **result, char **err)
{
    int rc = 0;
    ffi_slot slots[FFI_MAX_PARAMS];
    void *avalues[FFI_MAX_PARAMS];
    if (!f || !result)
        return err_set(err, -EINVAL, "ffi_fn_call: no function or result pointer");
    *result = NULL;
    if (args && !json_is_object(args)) {
        char *s = show(args);
        rc = err_set(err, -EINVAL, "arguments must be a JSON object keyed by param name, got %s",
                     s ? s : jsonx_kind(args));
        mem_free(s);
        goto out;
    }
    for (size_t i = 0; i < f->nparams; i++) {
        const ffi_param *p = &f->params[i];
        const json_t *v = args ? json_object_get(args, p->name) : NULL;
        if (!v) {
            rc = err_set(err, -EINVAL, "missing argument '%s' (%s)", p->name, TYPES[p->type].name);
            goto out;
        }
        memset(&slots[i], 0, sizeof slots[i]);
        rc = conv_arg(p, v, &slots[i], err);
        if (rc < 0)
            goto out;
        avalues[i] = &slots[i];
    }
    if (args && json_object_size(args) > f->nparams) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)args, key, v) {
            bool known = false;
            for (size_t i = 0; i < f->nparams && !known; i++)
                known = strcmp(f->params[i].name, key) == 0;
            if (!known) {
                rc = unknown_arg(f, key, err);
                goto out;
            }
        }
    }

    ffi_ret r;
    memset(&r, 0, sizeof r);
    /* ffi_call only reads the cif: concurrent calls share it. */
    ffi_call((ffi_cif *)&f->cif, f->fn, &r, f->nparams ? avalues : NULL);
    return to_json(f, &r, result, err); /* its messages name the skill */
out:
    return err_prefix(err, rc, "typed skill '%s'", f->name);
}
