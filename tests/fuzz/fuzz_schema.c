/*
 * fuzz_schema.c — libFuzzer target for core/util/schema.c. The input is a
 * schema and an instance separated by the first NUL byte (or, when there is
 * none, the first newline); both are parsed with json_loadb, then
 * schema_check and schema_validate_all run. Seeds: tests/fuzz/corpus/schema/.
 */
#include "util/common.h"
#include "util/schema.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool installed;
    if (!installed) {
        mem_install();
        installed = true;
    }
    const char *text = (const char *)data;
    const char *sep = memchr(text, '\0', size);
    if (!sep)
        sep = memchr(text, '\n', size);
    size_t slen = sep ? (size_t)(sep - text) : size;
    size_t ioff = sep ? slen + 1 : size;
    json_t *schema = json_loadb(text, slen, JSON_DECODE_ANY, NULL);
    json_t *inst = json_loadb(text + ioff, size - ioff, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (schema) {
        char *err = NULL;
        int rc = schema_check(schema, &err);
        if (rc != 0 && rc != -EINVAL && rc != -ENOMEM)
            __builtin_trap();
        if (rc == -EINVAL && (!err || strchr(err, '\n')))
            __builtin_trap(); /* a schema error is one line */
        mem_free(err);
        err = NULL;
        if (inst) {
            int rv = schema_validate_all(schema, inst, "argument", &err);
            if (rv != 0 && rv != -EINVAL && rv != -ENOMEM)
                __builtin_trap();
            if (rc == -EINVAL && rv != -EINVAL)
                __builtin_trap(); /* a bad schema never validates anything */
            mem_free(err);
            err = NULL;
            rv = schema_validate(schema, inst, "argument", &err);
            if (rv == -EINVAL && (!err || strchr(err, '\n')))
                __builtin_trap(); /* the first problem is one line */
            mem_free(err);
        }
    }
    json_decref(schema);
    json_decref(inst);
    return 0;
}
