/*
 * cmd_skill_test.c — `venom skill test DIR [--json] [--workdir DIR]`
 * (docs/writing-skills.md, "venom skill test").
 *
 * Builds nothing: finds the pack dir (DIR itself when it holds venom.json or
 * venom.yaml, else the one pack dir at most PACK_SEARCH_DEPTH levels below
 * it), reads the manifest, loads the plugin in a sandboxed worker
 * (sandbox_probe: manifest ⇄ .so), then runs every example of every skill in
 * a sandboxed worker of its own, whatever the pack's trust, and compares
 * each result with the example's "result".
 */
#include "util/common.h"

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "plugin/manifest.h"
#include "sandbox/policy.h"
#include "sandbox/sandbox.h"
#include "util/buf.h"
#include "util/err.h"

#define PACK_SEARCH_DEPTH 3
#define SHOW_MAX 160 /* characters of a JSON value shown in a line */

/* ------------------------------------------------------------ finding the pack */

static bool is_pack_dir(const char *dir)
{
    char *p = NULL, *e = NULL;
    int rc = manifest_find(dir, &p, &e);
    mem_free(p);
    mem_free(e);
    return rc == 0 || rc == -EINVAL; /* both manifests: a pack, with an error shown later */
}

/* Append every pack dir under dir (depth levels at most) to *found. */
static int find_packs(const char *dir, int depth, char ***found, size_t *n)
{
    if (is_pack_dir(dir)) {
        char **v = mem_realloc(*found, (*n + 1) * sizeof *v);
        if (!v)
            return -ENOMEM;
        *found = v;
        return (v[(*n)++] = mem_strdup(dir)) ? 0 : -ENOMEM;
    }
    if (depth == 0)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        /* hidden dirs and CMake's own never hold the pack */
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "CMakeFiles"))
            continue;
        char *sub = mem_printf("%s/%s", dir, e->d_name);
        struct stat st;
        if (!sub)
            rc = -ENOMEM;
        else if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            rc = find_packs(sub, depth - 1, found, n);
        mem_free(sub);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The pack dir DIR names (see the top comment); *err explains a failure. */
static int resolve_pack_dir(const char *dir, char **out, char **err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(err, -ENOENT, "%s: no such directory; give a pack dir (with venom.json) or a build dir", dir);
    char **found = NULL;
    size_t n = 0;
    int rc = find_packs(dir, PACK_SEARCH_DEPTH, &found, &n);
    if (rc < 0) {
        err_set(err, rc, "out of memory");
    } else if (n == 0) {
        rc = err_set(err, -ENOENT,
                     "%s: no pack here: neither it nor a directory up to %d levels below holds venom.json or "
                     "venom.yaml; build the project first (cmake --build build) or give the pack dir",
                     dir, PACK_SEARCH_DEPTH);
    } else if (n > 1) {
        qsort(found, n, sizeof *found, cmp_str);
        buf b = BUF_INIT;
        for (size_t i = 0; i < n && i < 5; i++)
            if (buf_puts(&b, i ? ", " : "") < 0 || buf_puts(&b, found[i]) < 0)
                break;
        rc = err_set(err, -EINVAL, "%s: %zu pack dirs found below it (%s%s); name the one to test", dir, n,
                     b.data ? b.data : "", n > 5 ? ", ..." : "");
        buf_release(&b);
    } else {
        *out = found[0];
        found[0] = NULL;
    }
    for (size_t i = 0; i < n; i++)
        mem_free(found[i]);
    mem_free(found);
    return rc;
}

/* ------------------------------------------------------------ comparing */

/* JSON equality where numbers compare by value (a typed double skill
 * returns 1024.0 for an example's 1024). */
static bool same_number(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    return json_number_value(a) == json_number_value(b);
}

/* The first place where got differs from want: *where gets its JSON
 * Pointer (mem_alloc'd) and *w / *g the two values there (borrowed; NULL
 * when absent). Returns true when they are equal. */
static bool json_same(const json_t *want, const json_t *got, buf *path, const json_t **w, const json_t **g)
{
    *w = want;
    *g = got;
    if (json_is_number(want) && json_is_number(got))
        return same_number(want, got);
    if (json_typeof(want) != json_typeof(got))
        return false;
    if (json_is_object(want)) {
        const char *k;
        json_t *v;
        size_t len = path->len;
        json_object_foreach((json_t *)want, k, v) {
            if (buf_putc(path, '/') < 0 || buf_puts(path, k) < 0)
                return false;
            json_t *o = json_object_get(got, k);
            if (!o) {
                *w = v;
                *g = NULL;
                return false;
            }
            if (!json_same(v, o, path, w, g))
                return false;
            path->len = len;
            path->data[len] = '\0';
        }
        json_object_foreach((json_t *)got, k, v) {
            if (!json_object_get(want, k)) {
                if (buf_putc(path, '/') < 0 || buf_puts(path, k) < 0)
                    return false;
                *w = NULL;
                *g = v;
                return false;
            }
        }
        *w = want;
        *g = got;
        return true;
    }
    if (json_is_array(want)) {
        size_t nw = json_array_size(want), ng = json_array_size(got), len = path->len;
        for (size_t i = 0; i < nw && i < ng; i++) {
            char num[32];
            snprintf(num, sizeof num, "/%zu", i);
            if (buf_puts(path, num) < 0)
                return false;
            if (!json_same(json_array_get(want, i), json_array_get(got, i), path, w, g))
                return false;
            path->len = len;
            path->data[len] = '\0';
        }
        *w = want;
        *g = got;
        return nw == ng;
    }
    return json_equal((json_t *)want, (json_t *)got);
}

/* A compact, clipped rendering of v ("(absent)" for NULL). mem_alloc'd. */
static char *show(const json_t *v)
{
    if (!v)
        return mem_strdup("(absent)");
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return NULL;
    char *r = strlen(s) > SHOW_MAX ? mem_printf("%.*s...", SHOW_MAX, s) : mem_strdup(s);
    free(s);
    return r;
}

/* ------------------------------------------------------------ the command */

typedef struct tctx {
    cli *c;
    json_t *report;   /* --json: the examples array */
    size_t passed, failed;
} tctx;

static void report(tctx *t, const char *skill, size_t i, const json_t *args, bool ok, const char *detail,
                   const json_t *got)
{
    ok ? t->passed++ : t->failed++;
    if (t->c->json) {
        json_t *e = json_pack("{s:s, s:I, s:O, s:b}", "skill", skill, "example", (json_int_t)i + 1, "args", args,
                              "ok", ok);
        if (e && detail)
            json_object_set_new(e, "error", json_string(detail));
        if (e && got)
            json_object_set(e, "result", (json_t *)got);
        json_array_append_new(t->report, e);
        return;
    }
    char *a = show(args), *r = ok && got ? show(got) : NULL;
    fprintf(t->c->out, "%-4s  %s example %zu %s%s%s%s%s\n", ok ? "ok" : "FAIL", skill, i + 1, a ? a : "",
            detail ? ": " : "", detail ? detail : "", r ? " -> " : "", r ? r : "");
    mem_free(a);
    mem_free(r);
}

/* Run example i of skill ms and report it. Returns -errno only when the
 * sandbox could not be set up. */
static int run_example(tctx *t, const sandbox_policy *p, const char *mpath, const manifest *m,
                       const manifest_skill *ms, size_t i, char **err)
{
    json_t *ex = json_array_get(ms->examples, i);
    json_t *args = json_object_get(ex, "args");
    json_t *want = json_object_get(ex, "result");
    char *full = mem_printf("%s.%s", m->name, ms->name);
    if (!full)
        return err_set(err, -ENOMEM, "out of memory");
    sandbox_result res = {0};
    int rc = sandbox_call(p, mpath, full, args, NULL, &res, err);
    if (rc < 0)
        goto out;
    if (res.code != 0) {
        char *w = want ? show(want) : NULL;
        char *msg = mem_printf("the skill failed (%s)%s%s", res.error ? res.error : "no message",
                               w ? "; expected " : "", w ? w : "");
        report(t, full, i, args, false, msg ? msg : "the skill failed", NULL);
        mem_free(msg);
        mem_free(w);
    } else if (want) {
        buf path = BUF_INIT;
        const json_t *w = NULL, *g = NULL;
        if (json_same(want, res.value, &path, &w, &g)) {
            report(t, full, i, args, true, NULL, res.value);
        } else {
            char *ws = show(w), *gs = show(g), *all = show(res.value);
            char *msg = path.len ? mem_printf("at %s: expected %s, got %s (the whole result: %s)", path.data,
                                              ws ? ws : "?", gs ? gs : "?", all ? all : "?")
                                 : mem_printf("expected %s, got %s", ws ? ws : "?", gs ? gs : "?");
            report(t, full, i, args, false, msg ? msg : "the result differs", res.value);
            mem_free(msg);
            mem_free(ws);
            mem_free(gs);
            mem_free(all);
        }
        buf_release(&path);
    } else {
        /* no "result": succeeding (the worker checked the result schema) is enough */
        report(t, full, i, args, true, NULL, res.value);
    }
out:
    sandbox_result_release(&res);
    mem_free(full);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

static void print_registered(cli *c, const json_t *reg)
{
    static const char *const kinds[] = {"skills", "typed", "providers"};
    fprintf(c->out, "ok    load: the pack loads in the sandbox and its .so matches the manifest (");
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        const json_t *a = json_object_get(reg, kinds[k]);
        fprintf(c->out, "%s%s: ", k ? "; " : "", kinds[k]);
        if (!json_array_size(a))
            fputs("none", c->out);
        for (size_t i = 0; i < json_array_size(a); i++)
            fprintf(c->out, "%s%s", i ? ", " : "", json_string_value(json_array_get(a, i)));
    }
    fprintf(c->out, ")\n");
}

int cmd_skill_test(cli *c, int argc, char **argv)
{
    static const char *use = "venom skill test DIR [--json] [--workdir DIR]";
    const char *dir = NULL, *workdir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            c->json = true;
        } else if (!strcmp(argv[i], "--workdir") && i + 1 < argc) {
            workdir = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fprintf(c->out, "usage: %s\n", use);
            fprintf(c->out, "Load the pack in DIR (or the one pack dir below DIR) in the sandbox, check its manifest "
                            "against its .so and run every skill's examples; see docs/writing-skills.md.\n");
            return CLI_EXIT_OK;
        } else if (argv[i][0] == '-' || dir) {
            cli_error(c, "skill test: unexpected '%s'; usage: %s", argv[i], use);
            return CLI_EXIT_USAGE;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        cli_error(c, "skill test: which pack? usage: %s", use);
        return CLI_EXIT_USAGE;
    }
    int ec = CLI_EXIT_FAILED, rc;
    char *err = NULL, *pdir = NULL, *mpath = NULL, *wmpath = NULL, *tmp = NULL;
    manifest *m = NULL;
    sandbox_policy *p = NULL;
    json_t *reg = NULL, *out = NULL;
    tctx t = {.c = c};
    size_t without = 0;

    if ((rc = resolve_pack_dir(dir, &pdir, &err)) < 0 || (rc = manifest_find(pdir, &mpath, &err)) < 0 ||
        (rc = manifest_load(mpath, &m, &err)) < 0)
        goto fail;
    if (!workdir) {
        const char *td = getenv("TMPDIR");
        tmp = mem_printf("%s/venom-skill-test.XXXXXX", td && *td ? td : "/tmp");
        if (!tmp || !mkdtemp(tmp)) {
            rc = err_set(&err, tmp ? -errno : -ENOMEM, "cannot make a temporary workdir: %s",
                         tmp ? strerror(errno) : "out of memory");
            goto fail;
        }
        workdir = tmp;
    }
    if ((rc = sandbox_policy_new(m, workdir, &p, &err)) < 0)
        goto fail;
    const char *base = strrchr(m->path, '/');
    if (!(wmpath = mem_printf("%s/%s", p->pack_dir, base ? base + 1 : m->path))) {
        rc = err_set(&err, -ENOMEM, "out of memory");
        goto fail;
    }
    if (!c->json)
        fprintf(c->out, "pack  %s %s (%s, %s)\n", m->name, m->version, pdir, manifest_host_triplet());
    if ((rc = sandbox_probe(p, wmpath, &reg, &err)) < 0)
        goto fail;
    if (!c->json)
        print_registered(c, reg);
    if (c->json && !(t.report = json_array())) {
        rc = err_set(&err, -ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t s = 0; s < m->n_skills; s++) {
        const manifest_skill *ms = &m->skills[s];
        size_t n = json_array_size(ms->examples);
        if (n == 0) {
            without++;
            if (!c->json)
                fprintf(c->out, "skip  %s.%s: no examples (add \"examples\" to its manifest entry)\n", m->name,
                        ms->name);
        }
        for (size_t i = 0; i < n; i++)
            if ((rc = run_example(&t, p, wmpath, m, ms, i, &err)) < 0)
                goto fail;
    }
    ec = t.failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
    if (c->json) {
        out = json_pack("{s:b, s:s, s:s, s:s, s:s, s:O, s:O, s:I, s:I, s:I}", "ok", ec == CLI_EXIT_OK, "pack",
                        m->name, "version", m->version, "dir", pdir, "triplet", manifest_host_triplet(),
                        "registered", reg, "examples", t.report, "passed", (json_int_t)t.passed, "failed",
                        (json_int_t)t.failed, "without_examples", (json_int_t)without);
        if (out) {
            json_dumpf(out, c->out, JSON_COMPACT);
            fputc('\n', c->out);
        }
    } else {
        fprintf(c->out, "%zu example%s: %zu passed, %zu failed%s\n", t.passed + t.failed,
                t.passed + t.failed == 1 ? "" : "s", t.passed, t.failed,
                without ? " (some skills have no examples)" : "");
    }
    goto out;

fail:
    /* the sandbox itself is missing: exit 5 like any sandboxed call;
     * anything else is the pack's fault */
    ec = rc == -ENOMEM ? CLI_EXIT_INTERNAL : rc == -ELIBBAD || rc == -EINVAL || rc == -ENOENT || rc == -E2BIG
                                                  ? CLI_EXIT_FAILED
                                                  : m && p ? CLI_EXIT_SANDBOX : CLI_EXIT_FAILED;
    if (c->json) {
        out = json_pack("{s:b, s:s, s:s?}", "ok", 0, "error", err ? err : "failed", "pack", m ? m->name : NULL);
        if (out) {
            json_dumpf(out, c->out, JSON_COMPACT);
            fputc('\n', c->out);
        }
    } else {
        if (m && p)
            fprintf(c->out, "FAIL  load: %s\n", err ? err : "failed");
        cli_error(c, "skill test: %s", err ? err : "failed");
    }
out:
    if (tmp)
        (void)nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    json_decref(out);
    json_decref(t.report);
    json_decref(reg);
    sandbox_policy_free(p);
    manifest_free(m);
    mem_free(tmp);
    mem_free(wmpath);
    mem_free(mpath);
    mem_free(pdir);
    mem_free(err);
    return ec;
}
