/*
 * fuzz_skillmd.c — libFuzzer target for the SKILL.md parser
 * (plugin/skillmd): any bytes give a clean one-line error or a parsed file
 * whose name is the pack's, with a non-empty description of at most 1024
 * bytes and a body without surrounding blank lines.
 */
#include "util/common.h"
#include "plugin/skillmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool installed;
    if (!installed) {
        mem_install();
        installed = true;
    }
    skillmd *s = NULL;
    char *err = NULL;
    const char *pack = size && (data[0] & 1) ? "demo" : NULL;
    int rc = skillmd_parse((const char *)data, size, "SKILL.md", pack, &s, &err);
    if (rc == 0) {
        size_t bl = strlen(s->body);
        if (err || !*s->name || (pack && strcmp(s->name, pack)) || !*s->description ||
            strlen(s->description) > SKILLMD_MAX_DESCRIPTION || s->body_line < 3 ||
            (bl && (s->body[bl - 1] == '\n' || s->body[0] == '\n')))
            __builtin_trap();
    } else if (s || (rc != -ENOMEM && (!err || !*err || strchr(err, '\n')))) {
        __builtin_trap();
    }
    skillmd_free(s);
    mem_free(err);
    return 0;
}
