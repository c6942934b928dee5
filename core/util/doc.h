/*
 * doc.h — the document reader: JSON or YAML text parsed into a jansson tree,
 * plus a map from every node (named by its JSON Pointer, RFC 6901) to the
 * line it came from, so that validators (manifest, config, plan files) can
 * point at file:line.
 *
 * YAML is read with libyaml's event parser and resolved with the YAML 1.2
 * core schema (plain null/~/empty, true/false, integers, floats; quoted
 * scalars are strings). Anchors, aliases, custom tags, several documents,
 * non-scalar keys and duplicate keys (in JSON too) are errors. Limits:
 * DOC_MAX_BYTES of text, DOC_MAX_DEPTH nested containers, DOC_MAX_NODES
 * nodes. Error messages read "file:line:col: problem".
 *
 * A doc is immutable once parsed: any number of threads may read it.
 */
#ifndef VENOM_UTIL_DOC_H
#define VENOM_UTIL_DOC_H

#include <stddef.h>
#include <jansson.h>

typedef struct doc doc;

enum { DOC_AUTO = 0, DOC_JSON = 1, DOC_YAML = 2 };

#define DOC_MAX_BYTES (16u * 1024 * 1024)
#define DOC_MAX_DEPTH 64
#define DOC_MAX_NODES 1000000

/*
 * Parse len bytes of text (need not be NUL-terminated). filename is used in
 * messages (NULL: "<input>") and, with DOC_AUTO, picks the format by its
 * extension (.json, .yaml, .yml); otherwise text whose first non-space byte
 * is '{' or '[' is JSON, anything else YAML. On success *out is the
 * caller's (doc_free). Errors: -EINVAL (syntax, duplicate key, alias, ...),
 * -E2BIG (size, depth or node limit), -ENOMEM; *err says file:line:col.
 */
int doc_parse(const char *text, size_t len, const char *filename, int format, doc **out,
              char **err) __attribute__((warn_unused_result));

/* Read the file at path (at most DOC_MAX_BYTES) and doc_parse it; path is
 * the filename in messages. Errors as doc_parse, plus -errno from open/read. */
int doc_load(const char *path, int format, doc **out, char **err) __attribute__((warn_unused_result));

/* The parsed value (never NULL; JSON null for an empty YAML file). Borrowed. */
json_t *doc_root(const doc *d);
/* The filename given to doc_parse/doc_load. Borrowed. */
const char *doc_file(const doc *d);
/*
 * 1-based line of the node at pointer ("" = root, "/skills/0/name"): the
 * line of its key when its parent is an object, of the element itself in
 * an array. 0 if the pointer names no node (or d is NULL). O(1).
 */
int doc_line(const doc *d, const char *pointer);
/* NULL is fine. */
void doc_free(doc *d);

#endif
