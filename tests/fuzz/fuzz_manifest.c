/*
 * fuzz_manifest.c — libFuzzer target for the document reader (util/doc) and
 * the skill-pack manifest checker (plugin/manifest). The first byte picks
 * the name the text is parsed under ('{' or '[' first: venom.json, else
 * venom.yaml); the same bytes also go through doc_parse as JSON and YAML.
 * Every result must be a clean error or a well-formed value.
 */
#include "util/common.h"
#include "plugin/manifest.h"
#include "util/doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_doc(const char *text, size_t size, const char *name, int format)
{
    doc *d = NULL;
    char *err = NULL;
    int rc = doc_parse(text, size, name, format, &d, &err);
    if (rc == 0) {
        if (!d || !doc_root(d) || err)
            __builtin_trap();
        (void)doc_line(d, "");
        (void)doc_line(d, "/skills/0/name");
        /* re-serialise: the tree must be valid JSON that reads back equal */
        char *s = json_dumps(doc_root(d), JSON_ENCODE_ANY | JSON_COMPACT);
        if (s) {
            doc *again = NULL;
            if (doc_parse(s, strlen(s), "again.json", DOC_JSON, &again, NULL) == 0 &&
                !json_equal(doc_root(d), doc_root(again)))
                __builtin_trap();
            doc_free(again);
            mem_free(s);
        }
    } else if (d || (rc != -ENOMEM && (!err || !*err || strchr(err, '\n')))) {
        __builtin_trap(); /* a failure leaves no doc and one line of message */
    }
    doc_free(d);
    mem_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool installed;
    if (!installed) {
        mem_install();
        installed = true;
    }
    const char *text = (const char *)data;
    const char *path = size && (data[0] == '{' || data[0] == '[') ? "/pack/venom.json" : "/pack/venom.yaml";
    manifest *m = NULL;
    char *err = NULL;
    int rc = manifest_parse(text, size, path, &m, &err);
    if (rc == 0) {
        if (!m || !m->name || !m->version || !m->description || (!m->n_skills && !m->n_providers))
            __builtin_trap();
        for (size_t i = 0; i < m->n_skills; i++)
            if (!m->skills[i].args_schema || manifest_skill_find(m, m->skills[i].name) != &m->skills[i])
                __builtin_trap();
        if (m->library && strncmp(m->library, "/pack/", 6) != 0)
            __builtin_trap(); /* the library never escapes the pack dir */
    } else if (m || !err || strchr(err, '\n')) {
        __builtin_trap();
    }
    manifest_free(m);
    mem_free(err);
    check_doc(text, size, "f.json", DOC_JSON);
    check_doc(text, size, "f.yaml", DOC_YAML);
    return 0;
}
