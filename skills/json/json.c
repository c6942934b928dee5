/*
 * json — the first-party JSON skill pack: get and set a value by JSON
 * Pointer (RFC 6901), and validate a document against a JSON Schema with
 * the host's validator (venom's schema subset). Each skill works on a
 * "document" argument (any JSON value) or a file ("path", opened through
 * the host's fs_open); set with a path writes the file back atomically.
 * Reference: docs/skills.md.
 */
#include "../common/skill_io.h"

#define JSON_MAX_DEPTH 512

/* Serialize any value into a new malloc'd NUL-terminated string. */
static char *dump_any(const json_t *v, size_t flags)
{
    size_t n = json_dumpb(v, NULL, 0, flags | JSON_ENCODE_ANY);
    char *s = n ? malloc(n + 1) : NULL;
    if (s) {
        json_dumpb(v, s, n, flags | JSON_ENCODE_ANY);
        s[n] = '\0';
    }
    return s;
}

/* The document: the "document" argument (a new reference) or the parsed
 * file at "path"; exactly one of them. */
static int32_t load_document(venom_ctx *call, const json_t *args, json_t **doc, const char **path)
{
    const json_t *d = json_object_get(args, "document");
    int32_t rc = sk_opt_str(call, args, "path", path);
    if (rc != VENOM_OK)
        return rc;
    if ((d != NULL) == (*path != NULL))
        return sk_fail(call, VENOM_E_INVAL, "give either 'document' or 'path' (exactly one of them)");
    if (d) {
        *doc = json_deep_copy(d);
        return *doc ? VENOM_OK : sk_fail(call, VENOM_E_NOMEM, "out of memory");
    }
    char *text = NULL;
    size_t len = 0;
    if ((rc = sk_read_text(call, *path, SK_MAX_FILE, &text, &len)) != VENOM_OK)
        return rc;
    json_error_t e;
    *doc = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    free(text);
    if (!*doc)
        return sk_fail(call, VENOM_E_FAILED, "%s:%d:%d: not valid JSON: %s", *path, e.line, e.column, e.text);
    return VENOM_OK;
}

/* ------------------------------------------------------------ JSON Pointer */

/* Decode the reference token tok[0..n) ("~1" is "/", "~0" is "~"). */
static char *unescape(const char *tok, size_t n, bool *bad)
{
    char *s = malloc(n + 1), *o = s;
    *bad = false;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] != '~') {
            *o++ = tok[i];
        } else if (i + 1 < n && (tok[i + 1] == '0' || tok[i + 1] == '1')) {
            *o++ = tok[i + 1] == '0' ? '~' : '/';
            i++;
        } else {
            *bad = true;
            free(s);
            return NULL;
        }
    }
    *o = '\0';
    return s;
}

/* An array index token: "0" or digits without a leading zero. -1 if not. */
static long long index_of(const char *t)
{
    if (!*t || (t[0] == '0' && t[1]) || strlen(t) > 15)
        return -1;
    long long v = 0;
    for (const char *p = t; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

static const char *kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/*
 * Walk pointer in doc. With for_set, stop before the last token and return
 * its container in *out and the decoded token in *last (malloc'd); the
 * pointer "" then gives *out = NULL. Otherwise *out is the value (borrowed).
 */
static int32_t walk(venom_ctx *call, json_t *doc, const char *pointer, bool for_set, json_t **out, char **last)
{
    *out = NULL;
    if (last)
        *last = NULL;
    if (!*pointer) {
        *out = for_set ? NULL : doc;
        return VENOM_OK;
    }
    if (pointer[0] != '/')
        return sk_fail(call, VENOM_E_INVAL,
                       "pointer '%s' must be empty (the whole document) or start with '/', e.g. \"/items/0/name\"",
                       pointer);
    json_t *cur = doc;
    const char *p = pointer + 1;
    int depth = 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        bool bad;
        char *tok = unescape(p, n, &bad);
        if (!tok)
            return bad ? sk_fail(call, VENOM_E_INVAL,
                                 "pointer '%s': '~' must be followed by 0 or 1 (write ~0 for '~' and ~1 for '/')",
                                 pointer)
                       : sk_fail(call, VENOM_E_NOMEM, "out of memory");
        int at = (int)(p - pointer) - 1; /* the prefix before this token */
        if (!slash && for_set) {
            if (!json_is_object(cur) && !json_is_array(cur)) {
                free(tok);
                return sk_fail(call, VENOM_E_FAILED, "pointer '%s': '%.*s' is %s, not an object or array", pointer,
                               at, pointer, kind(cur));
            }
            *out = cur;
            *last = tok;
            return VENOM_OK;
        }
        json_t *next = NULL;
        if (json_is_object(cur)) {
            next = json_object_getn(cur, tok, strlen(tok));
            if (!next) {
                int32_t rc = sk_fail(call, VENOM_E_NOTFOUND, "pointer '%s': key '%s' not found in the object at '%.*s'",
                                     pointer, tok, at, pointer);
                free(tok);
                return rc;
            }
        } else if (json_is_array(cur)) {
            long long i = index_of(tok);
            if (i < 0) {
                int32_t rc = sk_fail(call, strcmp(tok, "-") == 0 ? VENOM_E_NOTFOUND : VENOM_E_INVAL,
                                     "pointer '%s': '%s' is not an index of the array at '%.*s' (use 0, 1, ...)",
                                     pointer, tok, at, pointer);
                free(tok);
                return rc;
            }
            if ((size_t)i >= json_array_size(cur)) {
                int32_t rc = sk_fail(call, VENOM_E_NOTFOUND,
                                     "pointer '%s': index %lld is out of range (the array at '%.*s' has %zu items)",
                                     pointer, i, at, pointer, json_array_size(cur));
                free(tok);
                return rc;
            }
            next = json_array_get(cur, (size_t)i);
        } else {
            free(tok);
            return sk_fail(call, VENOM_E_NOTFOUND, "pointer '%s': '%.*s' is %s, not an object or array", pointer, at,
                           pointer, kind(cur));
        }
        free(tok);
        cur = next;
        if (!slash)
            break;
        p = slash + 1;
        if (++depth > JSON_MAX_DEPTH)
            return sk_fail(call, VENOM_E_INVAL, "pointer '%.60s...' is deeper than %d levels", pointer,
                           JSON_MAX_DEPTH);
    }
    *out = cur;
    return VENOM_OK;
}

/* ------------------------------------------------------------ skills */

static int32_t json_get(venom_ctx *call, json_t *args)
{
    json_t *doc = NULL, *v = NULL;
    const char *path = NULL, *pointer;
    int32_t rc = sk_req_str(call, args, "pointer", &pointer);
    if (rc == VENOM_OK)
        rc = load_document(call, args, &doc, &path);
    if (rc == VENOM_OK)
        rc = walk(call, doc, pointer, false, &v, NULL);
    if (rc == VENOM_OK)
        rc = sk_result(call, json_pack("{s:O}", "value", v));
    json_decref(doc);
    return rc;
}

static int32_t json_set(venom_ctx *call, json_t *args)
{
    json_t *doc = NULL, *parent = NULL;
    char *last = NULL, *text = NULL;
    const char *path = NULL, *pointer;
    json_t *value = json_object_get(args, "value");
    int32_t rc = sk_req_str(call, args, "pointer", &pointer);
    if (rc == VENOM_OK && !value)
        rc = sk_fail(call, VENOM_E_INVAL, "argument 'value' is required (any JSON value)");
    if (rc == VENOM_OK)
        rc = load_document(call, args, &doc, &path);
    if (rc == VENOM_OK)
        rc = walk(call, doc, pointer, true, &parent, &last);
    if (rc != VENOM_OK)
        goto out;
    json_t *copy = json_deep_copy(value);
    if (!copy) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        goto out;
    }
    if (!parent) { /* "": the whole document */
        json_decref(doc);
        doc = copy;
    } else if (json_is_object(parent)) {
        if (json_object_setn_new(parent, last, strlen(last), copy) != 0)
            rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
    } else {
        long long i = strcmp(last, "-") == 0 ? (long long)json_array_size(parent) : index_of(last);
        size_t n = json_array_size(parent);
        if (i < 0 || (size_t)i > n) {
            json_decref(copy);
            rc = sk_fail(call, i < 0 ? VENOM_E_INVAL : VENOM_E_NOTFOUND,
                         "pointer '%s': '%s' is not a usable index of an array of %zu items (use 0..%zu, or '-' to "
                         "append)",
                         pointer, last, n, n);
        } else if ((size_t)i == n ? json_array_append_new(parent, copy) != 0
                                  : json_array_set_new(parent, (size_t)i, copy) != 0) {
            rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        }
    }
    if (rc != VENOM_OK)
        goto out;
    if (path) {
        text = dump_any(doc, JSON_INDENT(2));
        size_t len = text ? strlen(text) : 0;
        if (!text) {
            rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
            goto out;
        }
        text[len] = '\n'; /* dump_any reserved the byte for the NUL */
        if ((rc = sk_write_file(call, path, text, len + 1, false, false)) != VENOM_OK)
            goto out;
        rc = sk_result(call, json_pack("{s:s,s:O}", "path", path, "document", doc));
    } else {
        rc = sk_result(call, json_pack("{s:O}", "document", doc));
    }
out:
    free(text);
    free(last);
    json_decref(doc);
    return rc;
}

static int32_t json_validate(venom_ctx *call, json_t *args)
{
    json_t *doc = NULL, *errs = NULL;
    char *schema_text = NULL, *doc_text = NULL, *errors = NULL;
    const char *path = NULL;
    int32_t rc = VENOM_OK;
    const json_t *schema = json_object_get(args, "schema");
    if (!json_is_object(schema) && !json_is_boolean(schema))
        rc = sk_fail(call, VENOM_E_INVAL, "argument 'schema' must be a JSON Schema (an object or a boolean)");
    if (rc == VENOM_OK)
        rc = load_document(call, args, &doc, &path);
    if (rc != VENOM_OK)
        goto out;
    schema_text = dump_any(schema, JSON_COMPACT);
    doc_text = dump_any(doc, JSON_COMPACT);
    errs = json_array();
    if (!schema_text || !doc_text || !errs) {
        rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
        goto out;
    }
    int32_t v = SK_HOST->json_validate(call, schema_text, doc_text, &errors);
    if (v == VENOM_E_INVAL) {
        rc = sk_fail(call, VENOM_E_INVAL, "argument 'schema' is not a schema venom supports: %s",
                     errors ? errors : "malformed");
        goto out;
    }
    if (v != VENOM_OK && v != VENOM_E_FAILED) {
        rc = sk_fail(call, v, "the host could not validate the document (code %d)", (int)v);
        goto out;
    }
    for (char *line = errors; v == VENOM_E_FAILED && line && *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n && json_array_append_new(errs, json_stringn(line, n)) != 0) {
            rc = sk_fail(call, VENOM_E_NOMEM, "out of memory");
            goto out;
        }
        line = nl ? nl + 1 : line + n;
    }
    rc = sk_result(call, json_pack("{s:b,s:O}", "valid", v == VENOM_OK, "errors", errs));
out:
    if (errors)
        SK_HOST->free(errors);
    json_decref(errs);
    free(schema_text);
    free(doc_text);
    json_decref(doc);
    return rc;
}

/* ------------------------------------------------------------ plugin */

static int32_t json_init(const venom_host_api *host, venom_ctx *ctx, void **state)
{
    static const sk_skill skills[] = {{"get", json_get}, {"set", json_set}, {"validate", json_validate}};
    (void)state;
    return sk_init(host, ctx, VENOM_HOST_HAS(host, fs_open) && VENOM_HOST_HAS(host, json_validate),
                   "the json pack needs a host with fs_open and json_validate (venom ABI 1.0)", skills,
                   sizeof skills / sizeof skills[0]);
}

SK_PLUGIN("json", json_init, NULL)
