/*
 * skillmd.c — SKILL.md: frontmatter + instructions (skillmd.h).
 */
#include "util/common.h"

#include <jansson.h>

#include "plugin/skillmd.h"
#include "util/doc.h"
#include "util/err.h"
#include "util/file.h"
#include "util/jsonx.h"

static const char *const keys[] = {"name", "description", "license", "allowed-tools", "metadata", "compatibility"};

void skillmd_free(skillmd *s)
{
    if (!s)
        return;
    mem_free(s->name);
    mem_free(s->description);
    mem_free(s->body);
    mem_free(s);
}

/* The end of the line starting at p (its '\n' or text end). */
static const char *eol(const char *p, const char *end)
{
    const char *n = memchr(p, '\n', (size_t)(end - p));
    return n ? n : end;
}

/* The line [p, e) is exactly "---" (a trailing '\r' and spaces allowed). */
static bool is_fence(const char *p, const char *e)
{
    while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return e - p == 3 && !memcmp(p, "---", 3);
}

int skillmd_parse(const char *text, size_t len, const char *path, const char *pack_name, skillmd **out, char **err)
{
    *out = NULL;
    const char *P = path ? path : SKILLMD_FILE;
    if (len > SKILLMD_MAX_BYTES)
        return err_set(err, -E2BIG, "%s: %zu bytes; a SKILL.md holds at most %u KiB (move long material into "
                       "other files of the pack)", P, len, SKILLMD_MAX_BYTES / 1024);
    if (!jsonx_utf8_valid(text, len) || memchr(text, '\0', len))
        return err_set(err, -EINVAL, "%s: not UTF-8 text", P);
    const char *end = text + len, *l1 = eol(text, end);
    if (!is_fence(text, l1))
        return err_set(err, -EINVAL, "%s:1: a SKILL.md starts with a '---' line, then 'name:' and "
                       "'description:', then a closing '---' line, then the instructions", P);
    /* find the closing fence */
    const char *p = l1 < end ? l1 + 1 : end, *close = NULL;
    int line = 2, close_line = 0;
    while (p < end) {
        const char *e = eol(p, end);
        if (is_fence(p, e)) {
            close = p;
            close_line = line;
            break;
        }
        p = e < end ? e + 1 : end;
        line++;
    }
    if (!close)
        return err_set(err, -EINVAL, "%s:1: the frontmatter opened here has no closing '---' line", P);
    /* the YAML keeps its line numbers: a blank line stands for the opening fence */
    size_t ylen = (size_t)(close - (l1 + 1));
    char *yaml = mem_alloc(ylen + 2);
    if (!yaml)
        return err_set(err, -ENOMEM, "out of memory");
    yaml[0] = '\n';
    memcpy(yaml + 1, l1 + 1, ylen);
    yaml[ylen + 1] = '\0';
    doc *d = NULL;
    skillmd *s = NULL;
    int rc = doc_parse(yaml, ylen + 1, P, DOC_YAML, &d, err);
    mem_free(yaml);
    if (rc < 0)
        return rc;
    json_t *root = doc_root(d);
    if (!json_is_object(root)) {
        rc = err_set(err, -EINVAL, "%s:2: the frontmatter must be a mapping with 'name' and 'description'", P);
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
            known = known || !strcmp(k, keys[i]);
        if (!known) {
            char ptr[300];
            snprintf(ptr, sizeof ptr, "/%s", k);
            rc = err_set(err, -EINVAL, "%s:%d: unknown key '%.100s' in the frontmatter (allowed: name, description, "
                         "license, allowed-tools, metadata, compatibility)", P, doc_line(d, ptr), k);
            goto out;
        }
    }
    const char *name = json_string_value(json_object_get(root, "name"));
    const char *desc = json_string_value(json_object_get(root, "description"));
    if (!name || !*name) {
        rc = err_set(err, -EINVAL, "%s:%d: 'name' is missing or not a string; write name: %s", P,
                     json_object_get(root, "name") ? doc_line(d, "/name") : 2, pack_name ? pack_name : "<the pack's name>");
        goto out;
    }
    if (pack_name && strcmp(name, pack_name) != 0) {
        rc = err_set(err, -EINVAL, "%s:%d: name '%.100s' is not the pack's name '%s'; a SKILL.md describes its own "
                     "pack", P, doc_line(d, "/name"), name, pack_name);
        goto out;
    }
    if (!desc || !*desc) {
        rc = err_set(err, -EINVAL, "%s:%d: 'description' is missing or empty; say what the pack does and when to "
                     "use it, in one or two sentences", P,
                     json_object_get(root, "description") ? doc_line(d, "/description") : 2);
        goto out;
    }
    if (strlen(desc) > SKILLMD_MAX_DESCRIPTION) {
        rc = err_set(err, -EINVAL, "%s:%d: 'description' has %zu bytes; at most %u", P, doc_line(d, "/description"),
                     strlen(desc), SKILLMD_MAX_DESCRIPTION);
        goto out;
    }
    /* the body, without the blank lines around it */
    const char *b = eol(close, end);
    b = b < end ? b + 1 : end;
    int bline = close_line + 1;
    while (b < end) {
        const char *e = eol(b, end);
        const char *q = b;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q != e)
            break;
        b = e < end ? e + 1 : end;
        bline++;
    }
    const char *be = end;
    while (be > b && (be[-1] == '\n' || be[-1] == '\r' || be[-1] == ' ' || be[-1] == '\t'))
        be--;
    s = mem_calloc(1, sizeof *s);
    if (!s || !(s->name = mem_strdup(name)) || !(s->description = mem_strdup(desc)) ||
        !(s->body = mem_strndup(b, (size_t)(be - b)))) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    s->body_line = bline;
    *out = s;
    s = NULL;
out:
    skillmd_free(s);
    doc_free(d);
    if (rc < 0 && err && *err)
        jsonx_oneline(*err); /* values from the file (a name over several lines) keep it one line */
    return rc;
}

int skillmd_load(const char *pack_dir, const char *pack_name, skillmd **out, char **err)
{
    *out = NULL;
    char *path = mem_printf("%s/" SKILLMD_FILE, pack_dir), *text = NULL;
    size_t n = 0;
    if (!path)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = file_read(path, SKILLMD_MAX_BYTES, true, &text, &n, err);
    if (rc == -E2BIG && err) {
        mem_free(*err);
        *err = NULL;
        rc = err_set(err, -E2BIG, "%s: a SKILL.md holds at most %u KiB (move long material into other files of "
                     "the pack)", path, SKILLMD_MAX_BYTES / 1024);
    }
    if (rc == 0)
        rc = skillmd_parse(text, n, path, pack_name, out, err);
    mem_free(text);
    mem_free(path);
    return rc;
}
