/*
 * schema.h — venom's JSON Schema validator (a subset of draft 2020-12), used
 * to check skill arguments before every call, skill results, and plan files.
 *
 * Supported keywords and their exact meaning: docs/schema.md. In short: type,
 * enum, const, properties, required, additionalProperties, patternProperties,
 * min/maxProperties, items (schema or draft-07 tuple array), prefixItems,
 * additionalItems, min/maxItems, uniqueItems, min/maxLength (in code points),
 * pattern (POSIX ERE, unanchored), minimum, maximum, exclusiveMinimum,
 * exclusiveMaximum, multipleOf, anyOf, oneOf, allOf, not, local $ref
 * ("#", "#/$defs/name", "#/definitions/name"), $defs/definitions, boolean
 * schemas, and annotations (title, description, default, examples, ...).
 * Any other keyword makes the schema invalid, so a typo never silently
 * turns a check off.
 *
 * Integers are compared exactly as json_int_t, reals as double. Recursion is
 * capped (SCHEMA_MAX_DEPTH levels of schema or value nesting, SCHEMA_MAX_FRAMES
 * nested schema applications, SCHEMA_MAX_STEPS steps + 8 per value), each with
 * a clear error.
 *
 * All functions are reentrant and thread-safe (no global state); the json_t
 * inputs are only read.
 */
#ifndef VENOM_UTIL_SCHEMA_H
#define VENOM_UTIL_SCHEMA_H

#include <jansson.h>

#define SCHEMA_MAX_DEPTH 64
#define SCHEMA_MAX_FRAMES 256
#define SCHEMA_MAX_STEPS 1000000L /* plus 8 per value in the instance */
#define SCHEMA_MAX_LINES 20

/* Check that `schema` uses only what venom supports, with the right types.
 * 0 if fine; -EINVAL with *err like
 *   "schema at /properties/limit: 'minimum' must be a number, got \"1\""
 * or -ENOMEM. *err (if err != NULL) is the caller's to mem_free. */
int schema_check(const json_t *schema, char **err) __attribute__((warn_unused_result));

/* Validate `instance` against `schema` (the schema is checked first).
 * `what` names the value in messages ("argument", "result", "field"; NULL
 * means "value"): top-level fields are named bare, nested ones as a.b[2].c.
 * 0 if valid. -EINVAL with one line in *err: the first problem, e.g.
 *   "argument 'limit': expected an integer >= 1, got 0"
 * followed by "; and N more problems" when there are more; the same code
 * with a "schema at ..." message when the schema is malformed, or a limit
 * message when a recursion/step cap is hit. -ENOMEM on allocation failure.
 * *err (if err != NULL) is the caller's to mem_free. */
int schema_validate(const json_t *schema, const json_t *instance, const char *what, char **err)
    __attribute__((warn_unused_result));

/* Like schema_validate, but *errors gets every problem, one per line (no
 * trailing newline), at most SCHEMA_MAX_LINES lines and then a line
 * "... and N more problems". For the SDK's json_validate host service. */
int schema_validate_all(const json_t *schema, const json_t *instance, const char *what, char **errors)
    __attribute__((warn_unused_result));

#endif
