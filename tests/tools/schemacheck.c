/*
 * schemacheck — validate NDJSON lines against a JSON Schema with venom's own
 * validator (core/util/schema), and check each run's hash chain shape
 * (seq without gaps, prev = the previous line's hash).
 *
 *   venom-schemacheck SCHEMA.json FILE.ndjson...   exit 0 when every line is valid
 *
 * Used by the end-to-end tests on every event stream they produce.
 */
#include "util/common.h"

#include <jansson.h>

#include "util/schema.h"

static int check_file(const json_t *schema, const char *path, size_t *lines)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        fprintf(stderr, "schemacheck: %s: %s\n", path, strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int bad = 0;
    size_t no = 0;
    json_t *prev = json_object(); /* run_id -> last hash */
    json_t *seqs = json_object(); /* run_id -> next seq */
    while ((n = getline(&line, &cap, f)) > 0) {
        no++;
        if (n == 1 && line[0] == '\n')
            continue;
        json_error_t je;
        json_t *ev = json_loads(line, 0, &je);
        if (!ev) {
            fprintf(stderr, "%s:%zu: not JSON: %s\n", path, no, je.text);
            bad = 1;
            continue;
        }
        char *err = NULL;
        if (schema_validate(schema, ev, "event", &err) < 0) {
            fprintf(stderr, "%s:%zu: %s\n  %.300s", path, no, err ? err : "invalid", line);
            bad = 1;
        }
        mem_free(err);
        const char *run = json_string_value(json_object_get(ev, "run_id"));
        if (run) {
            json_int_t seq = json_integer_value(json_object_get(ev, "seq"));
            json_t *want = json_object_get(seqs, run);
            if (want && json_integer_value(want) != seq) {
                fprintf(stderr, "%s:%zu: run %s: seq %" JSON_INTEGER_FORMAT ", expected %" JSON_INTEGER_FORMAT "\n",
                        path, no, run, seq, json_integer_value(want));
                bad = 1;
            }
            const char *p = json_string_value(json_object_get(ev, "prev"));
            json_t *last = json_object_get(prev, run);
            if (last && (!p || strcmp(p, json_string_value(last)))) {
                fprintf(stderr, "%s:%zu: run %s: prev does not match the previous event's hash\n", path, no, run);
                bad = 1;
            }
            json_object_set_new(seqs, run, json_integer(seq + 1));
            json_object_set(prev, run, json_object_get(ev, "hash"));
        }
        json_decref(ev);
        (*lines)++;
    }
    free(line);
    json_decref(prev);
    json_decref(seqs);
    if (f != stdin)
        fclose(f);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: venom-schemacheck SCHEMA.json FILE.ndjson...\n");
        return 2;
    }
    json_error_t je;
    json_t *schema = json_load_file(argv[1], 0, &je);
    char *err = NULL;
    if (!schema || schema_check(schema, &err) < 0) {
        fprintf(stderr, "schemacheck: %s: %s\n", argv[1], schema ? err : je.text);
        return 2;
    }
    int bad = 0;
    size_t lines = 0;
    for (int i = 2; i < argc; i++)
        bad |= check_file(schema, argv[i], &lines);
    json_decref(schema);
    if (!bad && lines == 0) {
        fprintf(stderr, "schemacheck: no events in the input\n");
        return 1;
    }
    return bad;
}
