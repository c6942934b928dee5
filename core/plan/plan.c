#include "util/common.h"

#include "plan/plan.h"
#include "plugin/registry.h"
#include "util/buf.h"
#include "util/doc.h"
#include "util/err.h"
#include "util/jsonx.h"
#include "util/schema.h"
#include "util/suggest.h"

#define ID_MAX 64
#define PTR_MAX 512

static const char *const top_keys[] = {"description", "name", "steps", "vars", "version"};
static const char *const step_keys[] = {"agent", "args",    "depends_on", "description", "id",  "instruction",
                                        "kind",  "needs",   "retries",    "skill",       "timeout", "when"};

/* ------------------------------------------------------------ problems */

typedef struct problems {
    const doc *d;
    const char *file;
    buf b;
    size_t n;
    bool oom;
} problems;

static void problem(problems *pr, const char *ptr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(problems *pr, const char *ptr, const char *fmt, ...)
{
    pr->n++;
    if (pr->n > PLAN_MAX_ERRORS)
        return;
    int line = ptr ? doc_line(pr->d, ptr) : 0;
    if (ptr && line <= 0) { /* a node that is not in the file (args left out): its nearest ancestor */
        char up[1100];
        snprintf(up, sizeof up, "%s", ptr);
        for (char *sl = strrchr(up, '/'); line <= 0 && sl; sl = strrchr(up, '/')) {
            *sl = '\0';
            line = doc_line(pr->d, up);
        }
    }
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_printf(&pr->b, "%s%s:%d: ", pr->n > 1 ? "\n" : "", pr->file, line > 0 ? line : 1);
    rc = rc ? rc : buf_vprintf(&pr->b, fmt, ap);
    va_end(ap);
    pr->oom |= rc != 0;
}

static int problems_end(problems *pr, char **err)
{
    int rc = 0;
    if (pr->oom)
        rc = err_set(err, -ENOMEM, "out of memory");
    else if (pr->n) {
        if (pr->n > PLAN_MAX_ERRORS && buf_printf(&pr->b, "\n... and %zu more problems", pr->n - PLAN_MAX_ERRORS))
            rc = err_set(err, -ENOMEM, "out of memory");
        else
            rc = err_set(err, -EINVAL, "%s", buf_str(&pr->b));
    }
    buf_release(&pr->b);
    return rc;
}

/* ------------------------------------------------------------ references */

enum { REF_VAR = 1, REF_STEP = 2 };

typedef struct ref {
    size_t start, end; /* the "${…}" in the string: [start, end) */
    int kind;
    char name[ID_MAX + 1];  /* var name or step id */
    char ptr[PTR_MAX + 1];  /* JSON pointer into the result ("" = whole) */
} ref;

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i]))
            return false;
    return true;
}

/* Find the next reference at or after *pos. 1 found (*pos past it), 0 none,
 * -1 malformed (*why says how). "$${" is skipped (a literal). */
static int next_ref(const char *s, size_t *pos, ref *r, const char **why)
{
    for (size_t i = *pos; s[i]; i++) {
        if (s[i] == '$' && s[i + 1] == '$' && s[i + 2] == '{') {
            i += 2;
            continue;
        }
        if (s[i] != '$' || s[i + 1] != '{')
            continue;
        const char *close = strchr(s + i + 2, '}');
        if (!close) {
            *why = "'${' without a closing '}' (write $${ for a literal ${)";
            return -1;
        }
        const char *in = s + i + 2;
        size_t len = (size_t)(close - in);
        *r = (ref){.start = i, .end = (size_t)(close - s) + 1};
        const char *rest;
        if (len > 5 && !strncmp(in, "vars.", 5)) {
            r->kind = REF_VAR;
            rest = in + 5;
        } else if (len > 6 && !strncmp(in, "steps.", 6)) {
            r->kind = REF_STEP;
            rest = in + 6;
        } else {
            *why = "a reference is ${vars.NAME}, ${steps.ID.result} or ${steps.ID.result/pointer}";
            return -1;
        }
        size_t k = 0;
        while (rest + k < close && id_char(rest[k]) && k < ID_MAX)
            r->name[k] = rest[k], k++;
        r->name[k] = '\0';
        rest += k;
        if (!k) {
            *why = "a reference names no var or step (${vars.NAME}, ${steps.ID.result})";
            return -1;
        }
        if (r->kind == REF_VAR) {
            if (rest != close) {
                *why = "a var reference is ${vars.NAME} (letters, digits, _ and -)";
                return -1;
            }
        } else {
            if ((size_t)(close - rest) < 7 || strncmp(rest, ".result", 7)) {
                *why = "a step reference is ${steps.ID.result} or ${steps.ID.result/json/pointer}";
                return -1;
            }
            rest += 7;
            size_t pl = (size_t)(close - rest);
            if (pl && rest[0] != '/') {
                *why = "after ${steps.ID.result} comes a JSON pointer starting with '/' (e.g. /content)";
                return -1;
            }
            if (pl > PTR_MAX) {
                *why = "the JSON pointer of a reference is longer than 512 bytes";
                return -1;
            }
            memcpy(r->ptr, rest, pl);
            r->ptr[pl] = '\0';
        }
        *pos = r->end;
        return 1;
    }
    return 0;
}

/* RFC 6901: the value at ptr in v (borrowed) or NULL. */
static const json_t *pointer_get(const json_t *v, const char *ptr)
{
    if (!*ptr)
        return v;
    if (*ptr != '/')
        return NULL;
    const char *p = ptr + 1;
    for (;;) {
        char tok[PTR_MAX + 1];
        size_t k = 0;
        while (*p && *p != '/' && k < PTR_MAX) {
            if (*p == '~' && (p[1] == '0' || p[1] == '1')) {
                tok[k++] = p[1] == '0' ? '~' : '/';
                p += 2;
            } else {
                tok[k++] = *p++;
            }
        }
        tok[k] = '\0';
        if (json_is_object(v)) {
            v = json_object_get(v, tok);
        } else if (json_is_array(v)) {
            char *end;
            if (!k || (k > 1 && tok[0] == '0') || tok[0] == '-' || tok[0] == '+')
                return NULL;
            errno = 0;
            unsigned long idx = strtoul(tok, &end, 10);
            if (*end || errno)
                return NULL;
            v = json_array_get(v, idx);
        } else {
            return NULL;
        }
        if (!v)
            return NULL;
        if (!*p)
            return v;
        p++; /* '/' */
    }
}

/* Call fn for every string in v (recursively), with its JSON pointer below
 * base. fn returns < 0 to stop. */
typedef int (*str_fn)(void *user, json_t *str, const char *ptr);

static int walk_strings(json_t *v, const char *base, str_fn fn, void *user)
{
    if (json_is_string(v))
        return fn(user, v, base);
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) {
            buf b = {0};
            int rc = buf_puts(&b, base) || buf_putc(&b, '/') ? -ENOMEM : 0;
            for (const char *q = k; rc == 0 && *q; q++)
                rc = *q == '~' ? buf_puts(&b, "~0") : *q == '/' ? buf_puts(&b, "~1") : buf_putc(&b, *q);
            if (rc == 0)
                rc = walk_strings(e, buf_str(&b), fn, user);
            buf_release(&b);
            if (rc < 0)
                return rc;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            char *ptr = mem_printf("%s/%zu", base, i);
            int rc = ptr ? walk_strings(json_array_get(v, i), ptr, fn, user) : -ENOMEM;
            mem_free(ptr);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ vars */

typedef struct varctx {
    problems *pr;
    json_t *vars; /* name -> value */
    json_t *replace_whole; /* set when the whole string is one var */
} varctx;

static char *text_of(const json_t *v)
{
    if (json_is_string(v))
        return mem_strdup(json_string_value(v));
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *m = t ? mem_strdup(t) : NULL;
    free(t);
    return m;
}

/* Fill the var references of one string; returns a new value (a string, or
 * the var's value when the string is exactly one reference) or NULL after a
 * problem. */
static json_t *fill_vars(varctx *vc, const char *s, const char *ptr)
{
    buf b = {0};
    size_t pos = 0, last = 0;
    ref r;
    const char *why = NULL;
    int found;
    bool any = false;
    while ((found = next_ref(s, &pos, &r, &why)) == 1) {
        if (r.kind != REF_VAR)
            continue;
        json_t *val = json_object_get(vc->vars, r.name);
        if (!val) {
            const char *names[64], *best[1];
            size_t nn = 0;
            const char *k;
            json_t *e;
            json_object_foreach(vc->vars, k, e) if (nn < 64) names[nn++] = k;
            size_t nb = suggest_closest(r.name, names, nn, best, 1);
            problem(vc->pr, ptr, "${vars.%s}: the plan has no var '%s'; declare it under vars:%s%s%s", r.name, r.name,
                    nb ? " (did you mean '" : "", nb ? best[0] : "", nb ? "'?)" : "");
            buf_release(&b);
            return NULL;
        }
        if (json_is_null(val)) {
            problem(vc->pr, ptr, "${vars.%s} has no value; pass --set %s=VALUE", r.name, r.name);
            buf_release(&b);
            return NULL;
        }
        if (r.start == 0 && !s[r.end]) {
            buf_release(&b);
            return json_deep_copy(val);
        }
        char *t = text_of(val);
        if (!t || buf_append(&b, s + last, r.start - last) || buf_puts(&b, t)) {
            mem_free(t);
            buf_release(&b);
            vc->pr->oom = true;
            return NULL;
        }
        mem_free(t);
        last = r.end;
        any = true;
    }
    if (found < 0) {
        problem(vc->pr, ptr, "%s", why);
        buf_release(&b);
        return NULL;
    }
    if (!any) {
        buf_release(&b);
        return json_string(s);
    }
    if (buf_puts(&b, s + last)) {
        buf_release(&b);
        vc->pr->oom = true;
        return NULL;
    }
    json_t *out = json_string(buf_str(&b));
    buf_release(&b);
    return out;
}

/* Fill vars throughout v in place (strings in containers are replaced). */
static json_t *fill_tree(varctx *vc, json_t *v, const char *ptr)
{
    char sub[1100];
    if (json_is_string(v))
        return fill_vars(vc, json_string_value(v), ptr);
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) {
            snprintf(sub, sizeof sub, "%s/%s", ptr, k);
            json_t *f = fill_tree(vc, e, sub);
            if (!f) {
                json_decref(out);
                return NULL;
            }
            json_object_set_new(out, k, f);
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        for (size_t i = 0; i < json_array_size(v); i++) {
            snprintf(sub, sizeof sub, "%s/%zu", ptr, i);
            json_t *f = fill_tree(vc, json_array_get(v, i), sub);
            if (!f) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, f);
        }
        return out;
    }
    return json_incref(v);
}

/* A --set value as the type of the var's default. */
static json_t *set_value(const json_t *def, const char *s)
{
    if (json_is_integer(def)) {
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        return *s && !*end && !errno ? json_integer(n) : NULL;
    }
    if (json_is_real(def)) {
        char *end;
        double d = strtod(s, &end);
        return *s && !*end ? json_real(d) : NULL;
    }
    if (json_is_boolean(def))
        return !strcmp(s, "true") ? json_true() : !strcmp(s, "false") ? json_false() : NULL;
    if (json_is_array(def) || json_is_object(def)) {
        json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
        if (v && json_typeof(v) != json_typeof(def)) {
            json_decref(v);
            v = NULL;
        }
        return v;
    }
    return json_string(s);
}

/* ------------------------------------------------------------ parse */

static void key_problem(problems *pr, const char *ptr, const char *key, const char *const *known, size_t n)
{
    char allowed[400] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", i ? ", " : "", known[i]);
    const char *best[1];
    size_t nb = suggest_closest(key, known, n, best, 1);
    problem(pr, ptr, "unknown key '%s' (allowed: %s)%s%s%s", key, allowed, nb ? "; did you mean '" : "",
            nb ? best[0] : "", nb ? "'?" : "");
}

static bool in_list(const char *k, const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k, l[i]))
            return true;
    return false;
}

/* needs: a skill name or a list of them ("pack", "pack.*", "pack.skill"). */
static int parse_needs(plan_step *s, problems *pr, json_t *v, const char *ptr)
{
    if (!v)
        return 0;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if ((!json_is_array(v) && !json_is_string(v)) || n > 64) {
        problem(pr, ptr, "needs must be a skill (\"pack\" or \"pack.skill\") or a list of at most 64 of them");
        return 0;
    }
    if (!(s->needs = mem_calloc(n ? n : 1, sizeof *s->needs)))
        return -ENOMEM;
    for (size_t k = 0; k < n; k++) {
        json_t *e = json_is_array(v) ? json_array_get(v, k) : v;
        const char *t = json_string_value(e);
        size_t len = t ? strlen(t) : 0;
        if (len > 2 && !strcmp(t + len - 2, ".*"))
            len -= 2;
        bool ok = len > 0 && len < 200 && t[0] != '.' && t[len - 1] != '.';
        for (size_t c = 0; ok && c < len; c++)
            ok = id_char(t[c]) || t[c] == '.';
        if (!ok) {
            char at[160];
            snprintf(at, sizeof at, json_is_array(v) ? "%s/%zu" : "%s", ptr, k);
            if (t)
                problem(pr, at, "needs: '%s' is not a skill name; write \"pack\" or \"pack.skill\" (venom skill "
                        "list)", t);
            else
                problem(pr, at, "needs: expected a skill name (\"pack\" or \"pack.skill\"), got %s", jsonx_kind(e));
            continue;
        }
        if (!(s->needs[s->n_needs] = mem_strndup(t, len)))
            return -ENOMEM;
        s->n_needs++;
    }
    return 0;
}

static int parse_step(plan *p, problems *pr, varctx *vc, json_t *js, size_t i)
{
    char base[64], ptr[128];
    snprintf(base, sizeof base, "/steps/%zu", i);
    plan_step *s = &p->steps[i];
    s->line = doc_line(pr->d, base);
    if (!json_is_object(js)) {
        problem(pr, base, "step %zu must be a mapping with an id and a skill or an agent", i + 1);
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach(js, k, v) {
        if (!in_list(k, step_keys, ARRAY_SIZE(step_keys))) {
            snprintf(ptr, sizeof ptr, "%s/%s", base, k);
            key_problem(pr, ptr, k, step_keys, ARRAY_SIZE(step_keys));
        }
    }
#define AT(key) (snprintf(ptr, sizeof ptr, "%s/%s", base, key), ptr)
    json_t *id = json_object_get(js, "id");
    if (!id) {
        problem(pr, base, "step %zu has no id; add id: NAME (letters, digits, _ and -)", i + 1);
    } else if (!json_is_string(id) || !valid_id(json_string_value(id))) {
        problem(pr, AT("id"), "a step id is 1 to 64 letters, digits, _ and - (got %s)",
                json_is_string(id) ? json_string_value(id) : jsonx_kind(id));
    } else if (!(s->id = mem_strdup(json_string_value(id)))) {
        return -ENOMEM;
    }
    const char *label = s->id ? s->id : "?";
    json_t *skill = json_object_get(js, "skill"), *agent = json_object_get(js, "agent");
    if (skill && agent) {
        problem(pr, AT("agent"), "step '%s' has both skill and agent; keep one", label);
    } else if (!skill && !agent && !json_object_get(js, "instruction")) {
        problem(pr, base, "step '%s' has neither skill nor agent; add skill: PACK.SKILL (with args) or agent: NAME "
                "(with instruction)", label);
    } else if (skill) {
        s->kind = PLAN_SKILL;
        if (!json_is_string(skill) || !*json_string_value(skill))
            problem(pr, AT("skill"), "skill must be a skill name such as fs.read");
        else if (!(s->skill = mem_strdup(json_string_value(skill))))
            return -ENOMEM;
        json_t *args = json_object_get(js, "args");
        if (args && !json_is_object(args)) {
            problem(pr, AT("args"), "args must be a mapping of argument names to values");
        } else {
            json_t *empty = args ? NULL : json_object();
            s->args = fill_tree(vc, args ? args : empty, AT("args"));
            json_decref(empty);
        }
        if (json_object_get(js, "instruction"))
            problem(pr, AT("instruction"), "instruction belongs to agent steps; a skill step takes args");
        if (json_object_get(js, "needs") || json_object_get(js, "kind"))
            problem(pr, AT(json_object_get(js, "needs") ? "needs" : "kind"),
                    "needs and kind belong to agent steps (instruction); a skill step names its skill");
    } else {
        s->kind = PLAN_AGENT;
        if (agent && (!json_is_string(agent) || !*json_string_value(agent)))
            problem(pr, AT("agent"), "agent must be the name of an agent of config.yaml's agents:, or auto (an "
                    "auction picks one)");
        else if (agent && strcmp(json_string_value(agent), "auto") &&
                 !(s->agent = mem_strdup(json_string_value(agent))))
            return -ENOMEM;
        if (parse_needs(s, pr, json_object_get(js, "needs"), AT("needs")) < 0)
            return -ENOMEM;
        json_t *kd = json_object_get(js, "kind");
        if (kd && (!json_is_string(kd) || !valid_id(json_string_value(kd))))
            problem(pr, AT("kind"), "kind must be a task kind: 1 to 64 letters, digits, _ and - (e.g. summarise)");
        else if (kd && !(s->task = mem_strdup(json_string_value(kd))))
            return -ENOMEM;
        json_t *ins = json_object_get(js, "instruction");
        if (!json_is_string(ins) || !*json_string_value(ins)) {
            problem(pr, ins ? AT("instruction") : base, "agent step '%s' needs an instruction: the goal the agent "
                    "works on (a string)", label);
        } else {
            json_t *f = fill_vars(vc, json_string_value(ins), AT("instruction"));
            if (f && !json_is_string(f))
                problem(pr, ptr, "instruction: the var must hold a string");
            else if (f && !(s->instruction = mem_strdup(json_string_value(f))))
                return -ENOMEM;
            json_decref(f);
        }
        if (json_object_get(js, "args"))
            problem(pr, AT("args"), "args belong to skill steps; an agent step takes an instruction");
    }
    json_t *r = json_object_get(js, "retries");
    if (r) {
        if (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > 10)
            problem(pr, AT("retries"), "retries must be a whole number from 0 to 10 (attempts after a failure)");
        else
            s->retries = (unsigned)json_integer_value(r);
    }
    json_t *t = json_object_get(js, "timeout");
    if (t) {
        double sec = json_is_number(t) ? json_number_value(t) : -1;
        if (!(sec > 0 && sec <= 86400))
            problem(pr, AT("timeout"), "timeout must be seconds, a number above 0 and at most 86400 (e.g. 30 or 0.5)");
        else
            s->timeout_ms = (unsigned)(sec * 1000 + 0.5) ? (unsigned)(sec * 1000 + 0.5) : 1;
    }
    json_t *w = json_object_get(js, "when");
    if (w) {
        if (json_is_boolean(w)) {
            if (!(s->when = mem_strdup(json_is_true(w) ? "true" : "false")))
                return -ENOMEM;
        } else if (!json_is_string(w) || !*json_string_value(w)) {
            problem(pr, AT("when"), "when must be a condition such as \"${steps.check.result/ok} == true\"");
        } else {
            json_t *f = fill_vars(vc, json_string_value(w), AT("when"));
            char *txt = f ? text_of(f) : NULL;
            if (f && !txt)
                return -ENOMEM;
            s->when = txt;
            json_decref(f);
        }
    }
    json_t *d = json_object_get(js, "depends_on");
    if (d && !json_is_string(d) && !json_is_array(d))
        problem(pr, AT("depends_on"), "depends_on must be a step id or a list of step ids");
    for (size_t k2 = 0; json_is_array(d) && k2 < json_array_size(d); k2++)
        if (!json_is_string(json_array_get(d, k2))) {
            snprintf(ptr, sizeof ptr, "%s/depends_on/%zu", base, k2);
            problem(pr, ptr, "depends_on must list step ids (strings)");
        }
#undef AT
    return 0;
}

int plan_parse(const char *text, size_t len, const char *filename, const plan_var *vars, size_t n_vars, plan **out,
               char **err)
{
    *out = NULL;
    if (!text && len)
        return err_set(err, -EINVAL, "plan_parse: invalid arguments");
    doc *d = NULL;
    int rc = doc_parse(text ? text : "", len, filename, DOC_AUTO, &d, err);
    if (rc < 0)
        return rc;
    problems pr = {.d = d, .file = doc_file(d)};
    varctx vc = {.pr = &pr, .vars = json_object()};
    plan *p = mem_calloc(1, sizeof *p);
    if (!p || !vc.vars || !(p->file = mem_strdup(doc_file(d)))) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    p->doc = d;
    d = NULL;
    json_t *root = doc_root(p->doc);
    if (!json_is_object(root)) {
        problem(&pr, "", "a plan is a mapping with steps: (a list of steps); see docs/plan.md");
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        char ptr[300];
        snprintf(ptr, sizeof ptr, "/%s", k);
        if (!in_list(k, top_keys, ARRAY_SIZE(top_keys)))
            key_problem(&pr, ptr, k, top_keys, ARRAY_SIZE(top_keys));
    }
    json_t *ver = json_object_get(root, "version");
    if (ver && !(json_is_integer(ver) && json_integer_value(ver) == 1))
        problem(&pr, "/version", "version must be 1 (the plan format of this venom)");
    json_t *name = json_object_get(root, "name");
    if (name && !json_is_string(name))
        problem(&pr, "/name", "name must be a string");
    else if (name && !(p->name = mem_strdup(json_string_value(name)))) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    json_t *desc = json_object_get(root, "description");
    if (desc && !json_is_string(desc))
        problem(&pr, "/description", "description must be a string");
    /* vars: defaults, then --set */
    json_t *jv = json_object_get(root, "vars");
    if (jv && !json_is_object(jv)) {
        problem(&pr, "/vars", "vars must be a mapping of names to default values (null: must be --set)");
    } else if (jv) {
        json_object_foreach(jv, k, v) {
            char ptr[300];
            snprintf(ptr, sizeof ptr, "/vars/%s", k);
            if (!valid_id(k))
                problem(&pr, ptr, "a var name is 1 to 64 letters, digits, _ and - (got '%s')", k);
            else
                json_object_set(vc.vars, k, v);
        }
    }
    for (size_t i = 0; i < n_vars; i++) {
        json_t *def = json_object_get(vc.vars, vars[i].name);
        if (!def) {
            problem(&pr, jv ? "/vars" : "", "--set %s: the plan has no var '%s'; declare it under vars: (with a "
                    "default, or null)", vars[i].name, vars[i].name);
            continue;
        }
        json_t *val = set_value(def, vars[i].value);
        if (!val) {
            problem(&pr, "/vars", "--set %s=%s: expected %s like the default of vars.%s", vars[i].name, vars[i].value,
                    jsonx_kind(def), vars[i].name);
            continue;
        }
        json_object_set_new(vc.vars, vars[i].name, val);
    }
    json_t *steps = json_object_get(root, "steps");
    if (!json_is_array(steps) || !json_array_size(steps)) {
        problem(&pr, steps ? "/steps" : "", "a plan needs steps: a list of at least one step (id, skill + args or "
                "agent + instruction)");
        goto done;
    }
    if (json_array_size(steps) > PLAN_MAX_STEPS) {
        problem(&pr, "/steps", "a plan has at most %d steps (this one has %zu)", PLAN_MAX_STEPS,
                json_array_size(steps));
        goto done;
    }
    p->n = json_array_size(steps);
    if (!(p->steps = mem_calloc(p->n, sizeof *p->steps))) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < p->n; i++)
        if (parse_step(p, &pr, &vc, json_array_get(steps, i), i) < 0) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto fail;
        }
done:
    json_decref(vc.vars);
    vc.vars = NULL;
    if ((rc = problems_end(&pr, err)) < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    buf_release(&pr.b);
    json_decref(vc.vars);
    doc_free(d);
    plan_free(p);
    return rc;
}

int plan_load(const char *path, const plan_var *vars, size_t n_vars, plan **out, char **err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, -errno, "%s: %s", path, strerror(errno));
    buf b = {0};
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rc = buf_append(&b, chunk, n);
        if (b.len > DOC_MAX_BYTES)
            rc = -E2BIG;
    }
    if (rc == 0 && ferror(f))
        rc = -EIO;
    fclose(f);
    if (rc == -E2BIG)
        rc = err_set(err, rc, "%s: larger than %u bytes; a plan file must be smaller", path, DOC_MAX_BYTES);
    else if (rc == -EIO)
        rc = err_set(err, rc, "%s: read error", path);
    else if (rc < 0)
        rc = err_set(err, -ENOMEM, "out of memory");
    else
        rc = plan_parse(buf_str(&b), b.len, path, vars, n_vars, out, err);
    buf_release(&b);
    return rc;
}

void plan_free(plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->steps && i < p->n; i++) {
        plan_step *s = &p->steps[i];
        mem_free(s->id);
        mem_free(s->skill);
        json_decref(s->args);
        mem_free(s->agent);
        mem_free(s->instruction);
        mem_free(s->task);
        for (size_t k = 0; k < s->n_needs; k++)
            mem_free(s->needs[k]);
        mem_free(s->needs);
        mem_free(s->deps);
        mem_free(s->when);
    }
    mem_free(p->steps);
    mem_free(p->order);
    mem_free(p->file);
    mem_free(p->name);
    doc_free(p->doc);
    mem_free(p);
}

/* ------------------------------------------------------------ check */

typedef struct idx_ent {
    const char *id;
    size_t i;
} idx_ent;

static int idx_cmp(const void *a, const void *b)
{
    const idx_ent *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->i < y->i ? -1 : x->i > y->i);
}

static long find_id(const idx_ent *idx, size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(idx[mid].id, id);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && !strcmp(idx[lo].id, id) ? (long)idx[lo].i : -1;
}

typedef struct checkctx {
    plan *p;
    problems *pr;
    const idx_ent *idx;
    size_t n_idx;
    size_t self;
    const char **all_ids;
    bool has_ref; /* the walked value holds a step reference */
} checkctx;

static void add_dep(plan_step *s, size_t d, bool *oom)
{
    for (size_t i = 0; i < s->n_deps; i++)
        if (s->deps[i] == d)
            return;
    size_t *nd = mem_realloc(s->deps, (s->n_deps + 1) * sizeof *nd);
    if (!nd) {
        *oom = true;
        return;
    }
    s->deps = nd;
    s->deps[s->n_deps++] = d;
}

static void unknown_step(checkctx *c, const char *ptr, const char *what, const char *id)
{
    const char *best[3];
    size_t nb = c->all_ids ? suggest_closest(id, c->all_ids, c->p->n, best, 3) : 0;
    char hint[300] = "";
    for (size_t i = 0; i < nb; i++)
        snprintf(hint + strlen(hint), sizeof hint - strlen(hint), "%s'%s'", i ? ", " : "; did you mean ", best[i]);
    problem(c->pr, ptr, "step '%s': %s names no step '%s'%s", c->p->steps[c->self].id, what, id,
            nb ? hint : "; the ids are in this file's steps:");
}

/* Collect the step references of one string (as dependencies). */
static int ref_deps(void *user, json_t *str, const char *ptr)
{
    checkctx *c = user;
    const char *s = json_string_value(str);
    size_t pos = 0;
    ref r;
    const char *why = NULL;
    int found;
    while ((found = next_ref(s, &pos, &r, &why)) == 1) {
        if (r.kind != REF_STEP)
            continue;
        c->has_ref = true;
        long d = find_id(c->idx, c->n_idx, r.name);
        if (d < 0) {
            char what[ID_MAX + 40];
            snprintf(what, sizeof what, "the reference ${steps.%s.result}", r.name);
            unknown_step(c, ptr, what, r.name);
        } else if ((size_t)d == c->self) {
            problem(c->pr, ptr, "step '%s' refers to its own result; refer to an earlier step", r.name);
        } else {
            add_dep(&c->p->steps[c->self], (size_t)d, &c->pr->oom);
        }
    }
    if (found < 0)
        problem(c->pr, ptr, "%s", why);
    return 0;
}

/* The parts of `when`: LHS [op RHS]. */
typedef struct cond {
    bool neg;
    char lhs[PTR_MAX + ID_MAX + 32];
    int op; /* 0 none, 1 ==, 2 != */
    json_t *rhs;
} cond;

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/* Parse a when string. 0 or -1 with *why. rhs is the caller's. */
static int cond_parse(const char *w, cond *c, const char **why)
{
    *c = (cond){0};
    const char *s = w, *e = w + strlen(w), *op = strstr(w, "==");
    const char *ne = strstr(w, "!=");
    if (ne && (!op || ne < op))
        op = ne;
    const char *le = op ? op : e;
    trim(&s, &le);
    if (!op && s < le && *s == '!')
        c->neg = true, s++;
    trim(&s, &le);
    if ((size_t)(le - s) >= sizeof c->lhs || le == s) {
        *why = "when: the left side must be a reference such as ${steps.check.result/ok}";
        return -1;
    }
    memcpy(c->lhs, s, (size_t)(le - s));
    c->lhs[le - s] = '\0';
    if (!strcmp(c->lhs, "true") || !strcmp(c->lhs, "false"))
        return 0;
    size_t pos = 0;
    ref r;
    if (next_ref(c->lhs, &pos, &r, why) != 1 || r.kind != REF_STEP || r.start != 0 || c->lhs[r.end]) {
        *why = "when: the left side must be one reference such as ${steps.check.result/ok} (forms: REF, !REF, "
               "REF == VALUE, REF != VALUE)";
        return -1;
    }
    if (op) {
        c->op = op[0] == '=' ? 1 : 2;
        const char *rs = op + 2, *re = e;
        trim(&rs, &re);
        if (rs == re) {
            *why = "when: a value must follow == or != (true, false, null, a number, \"text\" or a word)";
            return -1;
        }
        char *t = mem_strndup(rs, (size_t)(re - rs));
        if (!t) {
            *why = "out of memory";
            return -1;
        }
        c->rhs = json_loads(t, JSON_DECODE_ANY, NULL);
        if (!c->rhs)
            c->rhs = json_string(t);
        mem_free(t);
    }
    return 0;
}

static bool has_step_ref(const json_t *v)
{
    if (json_is_string(v)) {
        size_t pos = 0;
        ref r;
        const char *why;
        int f;
        while ((f = next_ref(json_string_value(v), &pos, &r, &why)) == 1)
            if (r.kind == REF_STEP)
                return true;
        return f < 0;
    }
    const char *k;
    json_t *e;
    if (json_is_object(v))
        json_object_foreach((json_t *)v, k, e) if (has_step_ref(e)) return true;
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++)
        if (has_step_ref(json_array_get(v, i)))
            return true;
    return false;
}

static void check_args(checkctx *c, plan_step *s, const char *base)
{
    const json_t *schema = reg_skill_args_schema(s->rs);
    if (!schema)
        return;
    char *e = NULL;
    char ptr[300];
    snprintf(ptr, sizeof ptr, "%s/args", base);
    if (!has_step_ref(s->args)) {
        if (schema_validate(schema, s->args, "argument", &e) < 0)
            problem(c->pr, ptr, "step '%s': %s; see venom skill info %s", s->id, e ? e : "invalid arguments",
                    s->skill);
        mem_free(e);
        return;
    }
    /* with references: each argument free of them against its property
     * schema, unknown names, required names present */
    json_t *props = json_object_get(schema, "properties"), *addl = json_object_get(schema, "additionalProperties");
    const char *k;
    json_t *v;
    json_object_foreach(s->args, k, v) {
        snprintf(ptr, sizeof ptr, "%s/args/%s", base, k);
        json_t *ps = json_object_get(props, k);
        if (!ps && json_is_false(addl)) {
            problem(c->pr, ptr, "step '%s': %s takes no argument '%s'; see venom skill info %s", s->id, s->skill, k,
                    s->skill);
            continue;
        }
        if (!ps || has_step_ref(v))
            continue;
        if (schema_validate(ps, v, k, &e) < 0)
            problem(c->pr, ptr, "step '%s': argument %s; see venom skill info %s", s->id, e ? e : "is invalid",
                    s->skill);
        mem_free(e);
        e = NULL;
    }
    json_t *req = json_object_get(schema, "required");
    for (size_t i = 0; i < json_array_size(req); i++) {
        const char *name = json_string_value(json_array_get(req, i));
        if (name && !json_object_get(s->args, name)) {
            snprintf(ptr, sizeof ptr, "%s/args", base);
            problem(c->pr, ptr, "step '%s': argument '%s' is required by %s", s->id, name, s->skill);
        }
    }
}

/* Kahn's algorithm; on a cycle, print one. */
static int order_steps(plan *p, problems *pr)
{
    size_t n = p->n;
    size_t *indeg = mem_calloc(n, sizeof *indeg), *q = mem_calloc(n, sizeof *q);
    size_t *rev_n = mem_calloc(n + 1, sizeof *rev_n), *rev = NULL;
    p->order = mem_calloc(n, sizeof *p->order);
    int rc = 0;
    if (!indeg || !q || !rev_n || !p->order) {
        rc = -ENOMEM;
        goto out;
    }
    size_t edges = 0;
    for (size_t i = 0; i < n; i++) {
        indeg[i] = p->steps[i].n_deps;
        for (size_t k = 0; k < p->steps[i].n_deps; k++)
            rev_n[p->steps[i].deps[k] + 1]++;
        edges += p->steps[i].n_deps;
    }
    for (size_t i = 0; i < n; i++)
        rev_n[i + 1] += rev_n[i];
    size_t *fill = mem_calloc(n, sizeof *fill);
    rev = mem_calloc(edges ? edges : 1, sizeof *rev);
    if (!fill || !rev) {
        mem_free(fill);
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < p->steps[i].n_deps; k++) {
            size_t d = p->steps[i].deps[k];
            rev[rev_n[d] + fill[d]++] = i;
        }
    mem_free(fill);
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if (!indeg[i])
            q[tail++] = i;
    size_t done = 0;
    while (head < tail) {
        size_t i = q[head++];
        p->order[done++] = i;
        for (size_t k = rev_n[i]; k < rev_n[i + 1]; k++)
            if (--indeg[rev[k]] == 0)
                q[tail++] = rev[k];
    }
    if (done < n) {
        /* walk dependencies among the unordered steps until one repeats */
        size_t start = 0;
        while (!indeg[start])
            start++;
        size_t *seen = q; /* reuse: position+1 in the walk, 0 = not seen */
        memset(seen, 0, n * sizeof *seen);
        size_t *path = rev_n; /* n + 1 slots */
        size_t len = 0, cur = start;
        while (!seen[cur]) {
            seen[cur] = ++len;
            path[len - 1] = cur;
            size_t next = cur;
            for (size_t k = 0; k < p->steps[cur].n_deps; k++)
                if (indeg[p->steps[cur].deps[k]]) {
                    next = p->steps[cur].deps[k];
                    break;
                }
            cur = next;
        }
        buf b = {0};
        bool ok = true;
        for (size_t k = seen[cur] - 1; k < len && ok; k++)
            ok = buf_printf(&b, "%s -> ", p->steps[path[k]].id) == 0;
        ok = ok && buf_puts(&b, p->steps[cur].id) == 0;
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/steps/%zu", cur);
        if (ok)
            problem(pr, ptr, "the steps form a cycle: %s (each depends on the next, through depends_on or a "
                    "${steps…} reference); remove one of these dependencies", buf_str(&b));
        else
            pr->oom = true;
        buf_release(&b);
    }
out:
    mem_free(indeg);
    mem_free(q);
    mem_free(rev_n);
    mem_free(rev);
    return rc;
}

/* ------------------------------------------------------------ agents */

const char *plan_step_task(const plan_step *s) { return s && s->task ? s->task : PLAN_DEFAULT_TASK; }

bool plan_skill_covers(const char *allow, const char *need)
{
    if (!allow || !need)
        return false;
    size_t la = strlen(allow), ln = strlen(need);
    if (la > 2 && !strcmp(allow + la - 2, ".*"))
        la -= 2;
    if (ln > 2 && !strcmp(need + ln - 2, ".*"))
        ln -= 2;
    if (la == ln && !strncmp(allow, need, la))
        return true;
    /* a whole pack allows each of its skills */
    return !memchr(allow, '.', la) && ln > la && need[la] == '.' && !strncmp(allow, need, la);
}

static void why_add(char *why, size_t n, bool *first, const char *head, const char *item)
{
    size_t at = strlen(why);
    if (at < n)
        snprintf(why + at, n - at, "%s%s", *first ? head : ", ", item);
    *first = false;
}

bool plan_agent_eligible(const plan_step *s, const json_t *def, char *why, size_t why_len)
{
    char tmp[1];
    if (!why || !why_len)
        why = tmp, why_len = sizeof tmp;
    why[0] = '\0';
    if (!s || !json_is_object(def))
        return false;
    const json_t *skills = json_object_get(def, "skills");
    bool ok = true, first = true;
    for (size_t k = 0; k < s->n_needs; k++) {
        bool cov = !skills;
        for (size_t j = 0; !cov && j < json_array_size(skills); j++)
            cov = plan_skill_covers(json_string_value(json_array_get(skills, j)), s->needs[k]);
        if (!cov) {
            why_add(why, why_len, &first, "lacks ", s->needs[k]);
            ok = false;
        }
    }
    const json_t *kinds = json_object_get(def, "kinds");
    if (s->task && json_array_size(kinds)) {
        bool has = false;
        for (size_t j = 0; !has && j < json_array_size(kinds); j++)
            has = json_is_string(json_array_get(kinds, j)) &&
                  !strcmp(json_string_value(json_array_get(kinds, j)), s->task);
        if (!has) {
            size_t at = strlen(why);
            if (at < why_len)
                snprintf(why + at, why_len - at, "%stakes kinds ", ok ? "" : "; ");
            bool f2 = true;
            for (size_t j = 0; j < json_array_size(kinds); j++)
                why_add(why, why_len, &f2, "", json_string_value(json_array_get(kinds, j)));
            at = strlen(why);
            if (at < why_len)
                snprintf(why + at, why_len - at, " only");
            ok = false;
        }
    }
    return ok;
}

/* Whether a `needs:` entry names a skill ("pack.skill") or a pack of r. */
static bool need_exists(const registry *r, const char *need)
{
    if (strchr(need, '.'))
        return registry_find(r, need) != NULL;
    size_t n = strlen(need);
    for (size_t i = 0; i < registry_skill_count(r); i++) {
        const char *name = reg_skill_name(registry_skill_at(r, i));
        if (!strncmp(name, need, n) && name[n] == '.')
            return true;
    }
    return false;
}

json_t *plan_agents(const json_t *config_agents, const registry *r)
{
    json_t *all = config_agents ? json_deep_copy(config_agents) : json_object();
    const manifest *seen[64];
    size_t n_seen = 0;
    for (size_t i = 0; all && r && i < registry_skill_count(r); i++) {
        const manifest *m = reg_skill_manifest(registry_skill_at(r, i));
        bool dup = false;
        for (size_t k = 0; k < n_seen && !dup; k++)
            dup = seen[k] == m;
        if (dup || !m || !m->n_agents)
            continue;
        if (n_seen < ARRAY_SIZE(seen))
            seen[n_seen++] = m;
        for (size_t k = 0; k < m->n_agents; k++) {
            char *qn = mem_printf("%s.%s", m->name, m->agents[k].name);
            char *src = mem_printf("%s:%d", m->path, m->agents[k].skills_line);
            json_t *def = json_deep_copy(m->agents[k].def);
            bool ok = qn && src && def && json_object_set_new(def, "pack", json_string(m->name)) == 0 &&
                      json_object_set_new(def, "source", json_string(src)) == 0;
            /* config.yaml wins a clash (none can happen: config names have no pack prefix to
             * collide with, but the rule is stated in docs/plan.md) */
            if (ok && !json_object_get(all, qn))
                ok = json_object_set(all, qn, def) == 0;
            json_decref(def);
            mem_free(qn);
            mem_free(src);
            if (!ok) {
                json_decref(all);
                return NULL;
            }
        }
    }
    return all;
}

/* A pack agent's skills allowlist names only installed skills or packs
 * (its own pack, other packs): else one problem at the step, naming the
 * manifest's file:line. */
static void check_pack_agent(problems *pr, const char *ptr, const plan_step *s, const char *name, const json_t *def,
                             const registry *r)
{
    const char *pack = json_string_value(json_object_get(def, "pack"));
    const json_t *skills = json_object_get(def, "skills");
    if (!pack || !r)
        return;
    for (size_t j = 0; j < json_array_size(skills); j++) {
        const char *allow = json_string_value(json_array_get(skills, j));
        if (!allow)
            continue;
        char need[256];
        snprintf(need, sizeof need, "%s", allow);
        size_t ln = strlen(need);
        if (ln > 2 && !strcmp(need + ln - 2, ".*"))
            need[ln - 2] = '\0';
        if (need_exists(r, need))
            continue;
        const char *best[1];
        size_t nb = registry_suggest(r, need, best, 1);
        const char *dot = strchr(name, '.');
        problem(pr, ptr, "step '%s': agent '%s' of pack %s (%s) allows '%s', which is no installed skill or pack%s%s%s; "
                "install it, or fix agents.%s.skills in the pack's manifest", s->id, name, pack,
                json_string_value(json_object_get(def, "source")) ?: "?", allow, nb ? " (did you mean '" : "",
                nb ? best[0] : "", nb ? "'?)" : "", dot ? dot + 1 : name);
    }
}

/* An agent step: its needs exist; its agent exists and can take it, or
 * (auction) some agent can. */
static void check_agent(problems *pr, const plan_step *s, const char *base, const registry *r, const json_t *agents)
{
    char ptr[128];
    for (size_t k = 0; r && k < s->n_needs; k++)
        if (!need_exists(r, s->needs[k])) {
            const char *best[1];
            size_t nb = registry_suggest(r, s->needs[k], best, 1);
            snprintf(ptr, sizeof ptr, "%s/needs", base);
            problem(pr, ptr, "step '%s': needs '%s', which is no installed skill or pack%s%s%s; see venom skill list",
                    s->id, s->needs[k], nb ? " (did you mean '" : "", nb ? best[0] : "", nb ? "'?)" : "");
        }
    const char *names[64];
    size_t nn = 0;
    const char *k;
    json_t *v;
    char list[300] = "";
    json_object_foreach((json_t *)agents, k, v) {
        if (nn < 64)
            names[nn++] = k;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", nn > 1 ? ", " : "", k);
    }
    char why[400];
    if (s->agent) {
        const json_t *def = json_object_get(agents, s->agent);
        snprintf(ptr, sizeof ptr, "%s/agent", base);
        if (!def && !strcmp(s->agent, "default"))
            return; /* the agent loop with the run's provider and skills, always there (planner.c) */
        if (!def) {
            const char *best[1];
            size_t nb = suggest_closest(s->agent, names, nn, best, 1);
            problem(pr, ptr, "step '%s': unknown agent '%s'%s%s%s; %s%s", s->id, s->agent, nb ? " (did you mean '" : "",
                    nb ? best[0] : "", nb ? "'?)" : "",
                    nn ? "the agents are: " : "define it in config.yaml under agents: (docs/plan.md)", nn ? list : "");
        } else if (!plan_agent_eligible(s, def, why, sizeof why)) {
            if (json_object_get(def, "pack"))
                problem(pr, ptr, "step '%s': agent '%s' cannot take it: it %s (its skills are in %s); name another "
                        "agent, or write agent: auto to let an auction pick an agent that can", s->id, s->agent, why,
                        json_string_value(json_object_get(def, "source")) ?: "its pack's manifest");
            else
                problem(pr, ptr, "step '%s': agent '%s' cannot take it: it %s; add that to agents.%s in config.yaml, "
                        "or write agent: auto to let an auction pick an agent that can", s->id, s->agent, why,
                        s->agent);
        } else {
            check_pack_agent(pr, ptr, s, s->agent, def, r);
        }
        return;
    }
    /* the auction: at least one eligible agent, else say what each lacks */
    buf b = {0};
    size_t n_ok = 0;
    json_object_foreach((json_t *)agents, k, v) {
        if (plan_agent_eligible(s, v, why, sizeof why)) {
            n_ok++;
            snprintf(ptr, sizeof ptr, "%s", base);
            check_pack_agent(pr, ptr, s, k, v, r); /* it would bid */
        }
        else if (b.len < 600)
            pr->oom |= buf_printf(&b, "%s%s %s", b.len ? "; " : "", k, why) != 0;
    }
    if (!n_ok) {
        snprintf(ptr, sizeof ptr, "%s", base);
        if (!nn)
            problem(pr, ptr, "step '%s' has no agent and no agents are defined to bid for it; define one in "
                    "config.yaml under agents: (docs/plan.md)", s->id);
        else
            problem(pr, ptr, "step '%s': no agent can take it (%s); give one of them the skills%s in config.yaml "
                    "agents:, or change the step's needs", s->id, buf_str(&b), s->task ? " (and kinds)" : "");
    }
    buf_release(&b);
}

int plan_check(plan *p, registry *r, const json_t *agents, char **err)
{
    if (!p)
        return err_set(err, -EINVAL, "plan_check: no plan");
    problems pr = {.d = p->doc, .file = p->file};
    idx_ent *idx = mem_calloc(p->n ? p->n : 1, sizeof *idx);
    const char **ids = mem_calloc(p->n ? p->n : 1, sizeof *ids);
    if (!idx || !ids) {
        mem_free(idx);
        mem_free(ids);
        return err_set(err, -ENOMEM, "out of memory");
    }
    size_t n_idx = 0;
    for (size_t i = 0; i < p->n; i++) {
        ids[i] = p->steps[i].id ? p->steps[i].id : "";
        if (p->steps[i].id)
            idx[n_idx++] = (idx_ent){p->steps[i].id, i};
    }
    qsort(idx, n_idx, sizeof *idx, idx_cmp);
    for (size_t k = 1; k < n_idx; k++)
        if (!strcmp(idx[k].id, idx[k - 1].id)) {
            char ptr[64];
            snprintf(ptr, sizeof ptr, "/steps/%zu/id", idx[k].i);
            problem(&pr, ptr, "duplicate step id '%s' (first at line %d); give each step its own id", idx[k].id,
                    p->steps[idx[k - 1].i].line);
        }
    checkctx c = {.p = p, .pr = &pr, .idx = idx, .n_idx = n_idx, .all_ids = ids};
    for (size_t i = 0; i < p->n; i++) {
        plan_step *s = &p->steps[i];
        if (!s->id)
            continue;
        c.self = i;
        char base[64], ptr[128];
        snprintf(base, sizeof base, "/steps/%zu", i);
        json_t *js = json_array_get(json_object_get(doc_root(p->doc), "steps"), i);
        json_t *dep = json_object_get(js, "depends_on");
        for (size_t k = 0; dep && k < (json_is_array(dep) ? json_array_size(dep) : 1); k++) {
            json_t *e = json_is_array(dep) ? json_array_get(dep, k) : dep;
            if (!json_is_string(e))
                continue;
            snprintf(ptr, sizeof ptr, json_is_array(dep) ? "%s/depends_on/%zu" : "%s/depends_on", base, k);
            long d = find_id(idx, n_idx, json_string_value(e));
            if (d < 0)
                unknown_step(&c, ptr, "depends_on", json_string_value(e));
            else if ((size_t)d == i)
                problem(&pr, ptr, "step '%s' depends on itself; remove it from depends_on", s->id);
            else
                add_dep(s, (size_t)d, &pr.oom);
        }
        if (s->args) {
            snprintf(ptr, sizeof ptr, "%s/args", base);
            if (walk_strings(s->args, ptr, ref_deps, &c) < 0)
                pr.oom = true;
        }
        if (s->instruction) {
            json_t *t = json_string(s->instruction);
            snprintf(ptr, sizeof ptr, "%s/instruction", base);
            if (!t || ref_deps(&c, t, ptr) < 0)
                pr.oom = true;
            json_decref(t);
        }
        if (s->when) {
            snprintf(ptr, sizeof ptr, "%s/when", base);
            cond cd;
            const char *why = NULL;
            if (cond_parse(s->when, &cd, &why) < 0) {
                problem(&pr, ptr, "%s", why);
            } else {
                json_t *t = json_string(cd.lhs);
                if (!t || ref_deps(&c, t, ptr) < 0)
                    pr.oom = true;
                json_decref(t);
            }
            json_decref(cd.rhs);
        }
        if (s->kind == PLAN_SKILL && s->skill && r) {
            s->rs = registry_find(r, s->skill);
            if (!s->rs) {
                const char *best[3];
                size_t nb = registry_suggest(r, s->skill, best, 3);
                char hint[400] = "";
                for (size_t k = 0; k < nb; k++)
                    snprintf(hint + strlen(hint), sizeof hint - strlen(hint), "%s'%s'", k ? ", " : "did you mean ",
                             best[k]);
                snprintf(ptr, sizeof ptr, "%s/skill", base);
                problem(&pr, ptr, "step '%s': unknown skill '%s'; %s%s", s->id, s->skill, hint,
                        nb ? "? (venom skill list)" : "see venom skill list");
            } else if (s->args) {
                check_args(&c, s, base);
            }
        }
        if (s->kind == PLAN_AGENT)
            check_agent(&pr, s, base, r, agents);
    }
    int rc = 0;
    if (pr.n == 0 && !pr.oom && (rc = order_steps(p, &pr)) < 0)
        pr.oom = true;
    mem_free(idx);
    mem_free(ids);
    return problems_end(&pr, err);
}

/* ------------------------------------------------------------ output */

json_t *plan_to_json(const plan *p)
{
    json_t *o = json_object(), *steps = json_array();
    if (!o || !steps)
        goto fail;
    json_object_set_new(o, "version", json_integer(1));
    if (p->name)
        json_object_set_new(o, "name", json_string(p->name));
    json_object_set(o, "steps", steps);
    for (size_t i = 0; i < p->n; i++) {
        const plan_step *s = &p->steps[i];
        json_t *js = json_pack("{s:s}", "id", s->id ? s->id : "");
        if (!js)
            goto fail;
        json_array_append_new(steps, js);
        if (s->kind == PLAN_SKILL) {
            json_object_set_new(js, "skill", json_string(s->skill ? s->skill : ""));
            json_object_set(js, "args", s->args ? s->args : json_object());
        } else {
            json_object_set_new(js, "agent", json_string(s->agent ? s->agent : "auto"));
            json_object_set_new(js, "instruction", json_string(s->instruction ? s->instruction : ""));
            if (s->task)
                json_object_set_new(js, "kind", json_string(s->task));
            if (s->n_needs) {
                json_t *nd = json_array();
                for (size_t k = 0; nd && k < s->n_needs; k++)
                    json_array_append_new(nd, json_string(s->needs[k]));
                json_object_set_new(js, "needs", nd);
            }
        }
        if (s->n_deps) {
            json_t *d = json_array();
            for (size_t k = 0; k < s->n_deps; k++)
                json_array_append_new(d, json_string(p->steps[s->deps[k]].id));
            json_object_set_new(js, "depends_on", d);
        }
        if (s->retries)
            json_object_set_new(js, "retries", json_integer(s->retries));
        if (s->timeout_ms)
            json_object_set_new(js, "timeout", json_real(s->timeout_ms / 1000.0));
        if (s->when)
            json_object_set_new(js, "when", json_string(s->when));
    }
    json_decref(steps);
    return o;
fail:
    json_decref(steps);
    json_decref(o);
    return NULL;
}

/* ------------------------------------------------------------ resolution */

typedef struct resctx {
    const plan *p;
    plan_result_fn fn;
    void *user;
    char **err;
} resctx;

static long step_index(const plan *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->steps[i].id && !strcmp(p->steps[i].id, id))
            return (long)i;
    return -1;
}

/* The value a step reference names (borrowed) or NULL with *err. */
static const json_t *ref_value(resctx *c, const ref *r)
{
    long i = step_index(c->p, r->name);
    const json_t *res = i >= 0 ? c->fn(c->user, (size_t)i) : NULL;
    if (!res) {
        err_set(c->err, -ENOENT, "${steps.%s.result%s}: step '%s' has no result", r->name, r->ptr, r->name);
        return NULL;
    }
    const json_t *v = pointer_get(res, r->ptr);
    if (!v) {
        char *t = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
        err_set(c->err, -ENOENT, "${steps.%s.result%s}: the result of '%s' has nothing at %s (it is %.200s)",
                r->name, r->ptr, r->name, r->ptr, t ? t : "?");
        free(t);
    }
    return v;
}

static json_t *resolve_string(resctx *c, const char *s, int *rc)
{
    buf b = {0};
    size_t pos = 0, last = 0;
    ref r;
    const char *why = NULL;
    int found;
    while ((found = next_ref(s, &pos, &r, &why)) == 1) {
        if (r.kind != REF_STEP)
            continue;
        const json_t *v = ref_value(c, &r);
        if (!v) {
            *rc = -ENOENT;
            buf_release(&b);
            return NULL;
        }
        if (r.start == 0 && !s[r.end]) {
            buf_release(&b);
            return json_deep_copy(v);
        }
        char *t = text_of(v);
        /* copy the text before, turning "$${" into "${" */
        for (size_t i = last; i < r.start; i++) {
            if (s[i] == '$' && s[i + 1] == '$' && s[i + 2] == '{')
                i++;
            if (buf_putc(&b, s[i]))
                *rc = -ENOMEM;
        }
        if (!t || buf_puts(&b, t))
            *rc = -ENOMEM;
        mem_free(t);
        last = r.end;
    }
    if (found < 0) {
        *rc = err_set(c->err, -EINVAL, "%s", why);
        buf_release(&b);
        return NULL;
    }
    for (size_t i = last; s[i]; i++) {
        if (s[i] == '$' && s[i + 1] == '$' && s[i + 2] == '{')
            i++;
        if (buf_putc(&b, s[i]))
            *rc = -ENOMEM;
    }
    json_t *out = *rc ? NULL : json_string(buf_str(&b));
    buf_release(&b);
    if (*rc == -ENOMEM)
        err_set(c->err, -ENOMEM, "out of memory");
    return out;
}

static json_t *resolve_tree(resctx *c, const json_t *v, int *rc)
{
    if (json_is_string(v))
        return resolve_string(c, json_string_value(v), rc);
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            json_t *f = resolve_tree(c, e, rc);
            if (!f) {
                json_decref(out);
                return NULL;
            }
            json_object_set_new(out, k, f);
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *f = resolve_tree(c, json_array_get(v, i), rc);
            if (!f) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, f);
        }
        return out;
    }
    return json_incref((json_t *)v);
}

int plan_resolve(const plan *p, const json_t *value, plan_result_fn fn, void *user, json_t **out, char **err)
{
    *out = NULL;
    resctx c = {.p = p, .fn = fn, .user = user, .err = err};
    int rc = 0;
    *out = resolve_tree(&c, value, &rc);
    if (!*out)
        return rc ? rc : err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static bool truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0;
    case JSON_STRING:
        return json_string_length(v) != 0;
    case JSON_ARRAY:
        return json_array_size(v) != 0;
    case JSON_OBJECT:
        return json_object_size(v) != 0;
    default:
        return true;
    }
}

int plan_when(const plan *p, const plan_step *s, plan_result_fn fn, void *user, bool *yes, char **err)
{
    *yes = true;
    if (!s->when)
        return 0;
    cond cd;
    const char *why = NULL;
    if (cond_parse(s->when, &cd, &why) < 0)
        return err_set(err, -EINVAL, "%s", why);
    const json_t *v = NULL;
    json_t *lit = NULL;
    if (!strcmp(cd.lhs, "true") || !strcmp(cd.lhs, "false")) {
        v = lit = json_boolean(!strcmp(cd.lhs, "true"));
    } else {
        size_t pos = 0;
        ref r;
        (void)next_ref(cd.lhs, &pos, &r, &why);
        resctx c = {.p = p, .fn = fn, .user = user, .err = err};
        if (!(v = ref_value(&c, &r))) {
            json_decref(cd.rhs);
            return -ENOENT;
        }
    }
    if (cd.op == 0)
        *yes = truthy(v) != cd.neg;
    else
        *yes = json_equal((json_t *)v, cd.rhs) == (cd.op == 1);
    json_decref(lit);
    json_decref(cd.rhs);
    return 0;
}
