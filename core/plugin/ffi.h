/*
 * ffi.h — typed skills: a skill that is a plain C function (in a pack's own
 * shared object or in a system library such as libm), declared in the
 * manifest as a "function" spec:
 *
 *   {"library": "libm.so.6", "symbol": "pow",
 *    "params": [{"name": "x", "type": "double"}, {"name": "y", "type": "double"}],
 *    "returns": "double"}
 *
 * ffi_fn_new checks the spec, opens the library and prepares a libffi call
 * interface; ffi_fn_call converts a JSON argument object to native values
 * (with exact type and range checks), calls the function and converts the
 * result back to JSON. Types: int8..int64, uint8..uint64, float, double,
 * bool, string (const char *), and "void" as a return type. Reference:
 * docs/typed-skills.md. An ffi_fn is immutable once built.
 */
#ifndef VENOM_PLUGIN_FFI_H
#define VENOM_PLUGIN_FFI_H

#include <jansson.h>

typedef struct ffi_fn ffi_fn;

/*
 * Prepare a call from the manifest's "function" member `spec` (borrowed).
 * "library" absent: default_lib (the pack's own library, an absolute path;
 * may be NULL when the pack has none). A bare file name ("libm.so.6") that
 * is not a file in pack_dir is looked up by the dynamic loader; a name with
 * '/' or a file that exists in pack_dir is resolved inside pack_dir and may
 * not escape it. The library is opened with dlopen(RTLD_NOW|RTLD_LOCAL) and
 * stays open until ffi_fn_free. On success *out is the caller's (free with
 * ffi_fn_free). Errors: -EINVAL bad spec or library path, -ENOENT library or
 * symbol not found, -ENOMEM; *err names the skill, library, symbol or param.
 * Any thread (dlopen is serialised by libc).
 */
int ffi_fn_new(const json_t *spec, const char *skill_name, const char *pack_dir,
               const char *default_lib, ffi_fn **out, char **err) __attribute__((warn_unused_result));

/*
 * JSON Schema of the arguments, derived from the params: integer types get
 * "integer" with their minimum/maximum, float/double "number", bool
 * "boolean", string "string"; all params required; no other properties.
 * New reference (NULL when out of memory). Any thread.
 */
json_t *ffi_fn_args_schema(const ffi_fn *f);

/*
 * Call the function with args (a JSON object keyed by param name, borrowed;
 * NULL counts as {}). On success *result is a new JSON value: an integer,
 * a real, true/false, a string (a returned char * is copied, never freed;
 * NULL gives null), or null for void. Errors: -EINVAL bad arguments (type,
 * range, missing or unknown argument), -ERANGE a result JSON cannot hold
 * (NaN, infinity, a uint64 above INT64_MAX, a string that is not UTF-8),
 * -ENOMEM. Thread-safe: concurrent calls on one ffi_fn are fine (the C
 * function itself must be thread-safe too).
 */
int ffi_fn_call(const ffi_fn *f, const json_t *args, json_t **result, char **err) __attribute__((warn_unused_result));

/* The skill name, the library as named in the manifest, the symbol, and the
 * number of params. Borrowed from f. */
const char *ffi_fn_name(const ffi_fn *f);
const char *ffi_fn_library(const ffi_fn *f);
const char *ffi_fn_symbol(const ffi_fn *f);
size_t ffi_fn_nparams(const ffi_fn *f);

/* Close the library and free f. NULL is fine. */
void ffi_fn_free(ffi_fn *f);

#endif
