/*
 * skillmd.h — a pack's optional SKILL.md (Agent Skills style): a YAML
 * frontmatter between "---" lines with `name` (the pack's name) and
 * `description` (what the pack is for and when to use it), then a Markdown
 * body: instructions shown to the model the first time it uses one of the
 * pack's tools in a run (docs/packs.md, "SKILL.md").
 *
 * Every problem is one line "<path>:<line>: problem; fix". A parsed
 * skillmd is immutable. Any thread.
 */
#ifndef VENOM_PLUGIN_SKILLMD_H
#define VENOM_PLUGIN_SKILLMD_H

#include <stddef.h>

#define SKILLMD_FILE "SKILL.md"
#define SKILLMD_MAX_BYTES (64u * 1024)       /* the whole file */
#define SKILLMD_MAX_DESCRIPTION 1024u        /* characters (bytes of UTF-8) */

typedef struct skillmd {
    char *name;
    char *description;
    char *body;     /* the Markdown after the frontmatter, trimmed; may be "" */
    int body_line;  /* the line the body starts on */
} skillmd;

/*
 * Parse SKILL.md text; path names it in messages. pack_name (may be NULL)
 * is the name `name` must have. -EINVAL for any problem, -E2BIG when larger
 * than SKILLMD_MAX_BYTES, -ENOMEM.
 */
int skillmd_parse(const char *text, size_t len, const char *path, const char *pack_name, skillmd **out, char **err)
    __attribute__((warn_unused_result));

/* Read <pack_dir>/SKILL.md and parse it. -ENOENT (and no message) when the
 * pack has none. */
int skillmd_load(const char *pack_dir, const char *pack_name, skillmd **out, char **err)
    __attribute__((warn_unused_result));

void skillmd_free(skillmd *s);

#endif
