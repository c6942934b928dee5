#include "util/common.h"

#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <venom/venom.h>

#include "config/config.h"
#include "util/doc.h"
#include "util/err.h"
#include "util/suggest.h"

static const char *const known_keys[] = {"color", "log_level", "sandbox", "skill_paths", "trust", "workdir"};
static const char *const sandbox_keys[] = {"idle_ms", "pool", "reuse"};

int config_log_level(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; name && i < ARRAY_SIZE(names); i++)
        if (!strcmp(name, names[i]))
            return (int)i;
    return -1;
}

static int parse_color(const char *s)
{
    if (!strcmp(s, "auto"))
        return CONFIG_COLOR_AUTO;
    if (!strcmp(s, "always"))
        return CONFIG_COLOR_ALWAYS;
    if (!strcmp(s, "never"))
        return CONFIG_COLOR_NEVER;
    return -1;
}

static int set_str(char **dst, const char *v)
{
    char *c = mem_strdup(v);
    if (!c)
        return -ENOMEM;
    mem_free(*dst);
    *dst = c;
    return 0;
}

static int default_home(char **out)
{
    const char *h = getenv("HOME");
    if (!h || !*h) {
        struct passwd *pw = getpwuid(getuid());
        h = pw ? pw->pw_dir : "/";
    }
    *out = mem_printf("%s/.venom", h);
    return *out ? 0 : -ENOMEM;
}

/* <exe dir>/../lib/venom/skills: works in the build tree and once installed. */
static int default_system_skills(char **out)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        *out = mem_strdup("");
        return *out ? 0 : -ENOMEM;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0'; /* bin dir */
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0'; /* prefix */
    *out = mem_printf("%s/%s/skills", exe, VENOM_PLUGIN_RELDIR);
    return *out ? 0 : -ENOMEM;
}

/* An unknown key: in the top level (section NULL) or in a section. */
static int key_error(const doc *d, const char *section, const char *key, const char *const *known, size_t n_known,
                     char **err)
{
    char ptr[300], name[300], allowed[200] = "";
    snprintf(ptr, sizeof ptr, "%s%s/%s", section ? "/" : "", section ? section : "", key);
    snprintf(name, sizeof name, "%s%s%s", section ? section : "", section ? "." : "", key);
    for (size_t i = 0; i < n_known; i++)
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", i ? ", " : "", known[i]);
    const char *best[1];
    size_t n = suggest_closest(key, known, n_known, best, 1);
    return err_set(err, -EINVAL, "%s:%d: unknown key '%s' (allowed: %s)%s%s%s", doc_file(d), doc_line(d, ptr), name,
                   allowed, n ? "; did you mean '" : "", n ? best[0] : "", n ? "'?" : "");
}

static int type_error(const doc *d, const char *key, const char *expected, char **err)
{
    char ptr[300];
    snprintf(ptr, sizeof ptr, "/%s", key);
    return err_set(err, -EINVAL, "%s:%d: '%s' must be %s", doc_file(d), doc_line(d, ptr), key, expected);
}

static int str_list(const doc *d, const char *key, json_t *v, const char *what, char ***out, size_t *n, char **err);

/* An integer lo..hi at /sandbox/<key>. */
static int sandbox_int(const doc *d, const char *key, json_t *v, long long lo, long long hi, long long *out, char **err)
{
    char ptr[300];
    snprintf(ptr, sizeof ptr, "/sandbox/%s", key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return err_set(err, -EINVAL, "%s:%d: 'sandbox.%s' must be an integer from %lld to %lld", doc_file(d),
                       doc_line(d, ptr), key, lo, hi);
    *out = json_integer_value(v);
    return 0;
}

static int apply_sandbox(config *c, const doc *d, json_t *v, char **err)
{
    if (!json_is_object(v))
        return type_error(d, "sandbox", "a mapping (pool, idle_ms, reuse)", err);
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        long long n = 0;
        int rc;
        if (!strcmp(key, "pool")) {
            if ((rc = sandbox_int(d, key, e, 0, 64, &n, err)) < 0)
                return rc;
            c->sandbox_pool = (size_t)n;
        } else if (!strcmp(key, "idle_ms")) {
            if ((rc = sandbox_int(d, key, e, 0, 86400000, &n, err)) < 0)
                return rc;
            c->sandbox_idle_ms = (unsigned)n;
        } else if (!strcmp(key, "reuse")) {
            if ((rc = str_list(d, "sandbox/reuse", e, "a list of pack names", &c->sandbox_reuse, &c->n_sandbox_reuse,
                               err)) < 0)
                return rc;
        } else {
            return key_error(d, "sandbox", key, sandbox_keys, ARRAY_SIZE(sandbox_keys), err);
        }
    }
    return 0;
}

static int str_list(const doc *d, const char *key, json_t *v, const char *what, char ***out, size_t *n, char **err)
{
    if (!json_is_array(v))
        return type_error(d, key, what, err);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return type_error(d, key, what, err);
        char **nv = mem_realloc(*out, (*n + 1) * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        *out = nv;
        nv[*n] = mem_strdup(json_string_value(e));
        if (!nv[*n])
            return -ENOMEM;
        (*n)++;
    }
    return 0;
}

static int apply_file(config *c, const char *path, char **err)
{
    doc *d = NULL;
    int rc = doc_load(path, DOC_YAML, &d, err);
    if (rc < 0)
        return rc;
    json_t *root = doc_root(d);
    if (json_is_null(root))
        goto out; /* an empty file is fine */
    if (!json_is_object(root)) {
        rc = err_set(err, -EINVAL, "%s:%d: the configuration must be a mapping of keys to values", path,
                     doc_line(d, ""));
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "workdir")) {
            if (!json_is_string(v)) {
                rc = type_error(d, key, "a directory path (string)", err);
                goto out;
            }
            rc = set_str(&c->workdir, json_string_value(v));
        } else if (!strcmp(key, "log_level")) {
            int l = json_is_string(v) ? config_log_level(json_string_value(v)) : -1;
            if (l < 0) {
                rc = type_error(d, key, "one of error, warn, info, debug", err);
                goto out;
            }
            c->log_level = l;
        } else if (!strcmp(key, "color")) {
            int col = json_is_string(v) ? parse_color(json_string_value(v)) : -1;
            if (col < 0) {
                rc = type_error(d, key, "one of auto, always, never", err);
                goto out;
            }
            c->color = col;
        } else if (!strcmp(key, "skill_paths")) {
            rc = str_list(d, key, v, "a list of directory paths", &c->skill_paths, &c->n_skill_paths, err);
        } else if (!strcmp(key, "trust")) {
            rc = str_list(d, key, v, "a list of pack names", &c->trust, &c->n_trust, err);
        } else if (!strcmp(key, "sandbox")) {
            rc = apply_sandbox(c, d, v, err);
        } else {
            rc = key_error(d, NULL, key, known_keys, ARRAY_SIZE(known_keys), err);
            goto out;
        }
        if (rc < 0)
            goto out;
    }
out:
    if (rc == -ENOMEM)
        err_set(err, rc, "out of memory");
    doc_free(d);
    return rc;
}

static int apply_env(config *c, char **err)
{
    const char *v;
    int rc = 0;
    if ((v = getenv("VENOM_WORKDIR")) && *v)
        rc = set_str(&c->workdir, v);
    if (rc == 0 && (v = getenv("VENOM_LOG_LEVEL")) && *v) {
        int l = config_log_level(v);
        if (l < 0)
            return err_set(err, -EINVAL, "VENOM_LOG_LEVEL='%s': use one of error, warn, info, debug", v);
        c->log_level = l;
    }
    if (rc == 0 && (v = getenv("VENOM_COLOR")) && *v) {
        int col = parse_color(v);
        if (col < 0)
            return err_set(err, -EINVAL, "VENOM_COLOR='%s': use one of auto, always, never", v);
        c->color = col;
    }
    if (rc == 0 && (v = getenv("VENOM_SYSTEM_SKILLS")))
        rc = set_str(&c->system_skills, v);
    return rc < 0 ? err_set(err, rc, "out of memory") : 0;
}

int config_load(config **out, char **err)
{
    *out = NULL;
    config *c = mem_calloc(1, sizeof *c);
    if (!c)
        return err_set(err, -ENOMEM, "out of memory");
    c->log_level = VENOM_LOG_WARN;
    c->color = CONFIG_COLOR_AUTO;
    c->sandbox_pool = 2;
    c->sandbox_idle_ms = 30000;
    int rc = set_str(&c->workdir, ".");
    const char *home = getenv("VENOM_HOME");
    if (rc == 0)
        rc = home && *home ? set_str(&c->home, home) : default_home(&c->home);
    if (rc == 0)
        rc = default_system_skills(&c->system_skills);
    if (rc < 0) {
        rc = err_set(err, rc, "out of memory");
        goto fail;
    }
    char *file = mem_printf("%s/config.yaml", c->home);
    if (!file) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    if (access(file, F_OK) == 0) {
        c->file = file;
        rc = apply_file(c, file, err);
        if (rc < 0)
            goto fail;
    } else {
        mem_free(file);
    }
    rc = apply_env(c, err);
    if (rc < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    config_free(c);
    return rc;
}

void config_free(config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_skill_paths; i++)
        mem_free(c->skill_paths[i]);
    mem_free(c->skill_paths);
    for (size_t i = 0; i < c->n_trust; i++)
        mem_free(c->trust[i]);
    mem_free(c->trust);
    for (size_t i = 0; i < c->n_sandbox_reuse; i++)
        mem_free(c->sandbox_reuse[i]);
    mem_free(c->sandbox_reuse);
    mem_free(c->home);
    mem_free(c->file);
    mem_free(c->workdir);
    mem_free(c->system_skills);
    mem_free(c);
}

int config_skill_dirs(const config *c, char ***dirs, size_t *n)
{
    size_t max = 3 + c->n_skill_paths, k = 0;
    char **v = mem_calloc(max, sizeof *v);
    if (!v)
        return -ENOMEM;
    char cwd[PATH_MAX];
    v[k++] = getcwd(cwd, sizeof cwd) ? mem_printf("%s/.venom/skills", cwd) : mem_strdup("./.venom/skills");
    v[k++] = mem_printf("%s/skills", c->home);
    for (size_t i = 0; i < c->n_skill_paths; i++)
        v[k++] = mem_strdup(c->skill_paths[i]);
    if (c->system_skills && *c->system_skills)
        v[k++] = mem_strdup(c->system_skills);
    for (size_t i = 0; i < k; i++) {
        if (!v[i]) {
            for (size_t j = 0; j < k; j++)
                mem_free(v[j]);
            mem_free(v);
            return -ENOMEM;
        }
    }
    *dirs = v;
    *n = k;
    return 0;
}
