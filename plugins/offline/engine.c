/*
 * engine.c — the offline provider's decision engine (engine.h). No model,
 * no randomness: a goal is split into steps, each step is scored against
 * every tool with a small lexical model, the best tool's arguments are
 * filled from the goal, and the engine answers with one tool call, a final
 * text, or the questions it could not decide. Every table and weight lives
 * in the "tables" section below and is documented, with the formula, in
 * docs/providers/offline.md.
 */
#include "engine.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <venom/venom.h>

/* ================================================================ tables */

/* Weights of where a tool word comes from. */
#define W_NAME 3.0     /* a part of the skill name ("count" of text__count) */
#define W_PACK 1.0     /* the pack name ("text") */
#define W_DESC 1.0     /* a word of the tool's description */
#define W_PARAM 0.5    /* a parameter name */
#define W_EXAMPLE 0.5  /* a word of an example's description */
/* Weights of goal words. */
#define G_ACTION 1.0   /* a word of the synonym table (an action or a quantity) */
#define G_OTHER 0.5    /* any other word that is not a stop word */
/* Score adjustments. */
#define B_DIRECTION 3.0 /* "a_to_b" tool whose a and b appear in that order */
#define P_MISSING 1.5   /* penalty: a required argument cannot be filled */
#define FULL_SCORE 3.0  /* a score that is fully convincing on its own */
#define PLAN_GUESS 0.75 /* plan mode: confidence factor of a step whose reference is a guess */

/* Concepts: words that mean the same action. The first word names the
 * concept; "a_b" is a two-word phrase ("how many"). Words are compared after
 * stemming, on both sides (goal and tool text). */
static const struct concept_def {
    const char *name;
    const char *words;
} CONCEPTS[] = {
    {"count", "count tally how_many number_of word_count line_count"},
    {"read", "read show print display cat open view dump"},
    {"write", "write save create put store append"},
    {"list", "list ls"},
    {"search", "search find grep locate match look_for"},
    {"replace", "replace substitute swap change"},
    {"head", "head first top beginning"},
    {"tail", "tail last bottom"},
    {"convert", "convert conversion turn"},
    {"exec", "exec execute run"},
    {"stat", "stat info information inspect detail metadata exist"},
    {"size", "size big large byte"},
    {"get", "get fetch extract lookup retrieve"},
    {"set", "set assign update"},
    {"validate", "validate validation check verify valid"},
    {"pow", "pow power raise exponent"},
    {"sqrt", "sqrt square_root root"},
    {"abs", "abs absolute absolute_value"},
};
#define N_CONCEPTS (sizeof CONCEPTS / sizeof CONCEPTS[0])

/* Stop words (compared before stemming). */
static const char STOP_WORDS[] =
    "a an the of in on at to from for by with into onto about me my mine i you your we us our it its "
    "this that these those there here is are was were be been being am do does did done please can "
    "could would should will shall may might must what which who whom whose how why when where all any "
    "some each every and or but not no yes so as if than too very just also only then now want need "
    "like tell give let lets using use via it's what's i'd i'm hey hi ok okay";

/* Words after a number that name a temperature scale. */
static const struct {
    const char *word, *as;
} UNITS[] = {
    {"f", "fahrenheit"}, {"°f", "fahrenheit"}, {"degf", "fahrenheit"}, {"fahrenheit", "fahrenheit"},
    {"c", "celsius"},    {"°c", "celsius"},    {"degc", "celsius"},    {"celsius", "celsius"},
    {"centigrade", "celsius"},
};

/* Parameter roles, by parameter name. */
enum { R_OTHER, R_PATH, R_URL, R_POINTER, R_PATTERN, R_REPL, R_COMMAND, R_TEXT };
static const struct {
    const char *names;
    int role;
} ROLES[] = {
    {"path file filename dir directory folder target dest destination source src", R_PATH},
    {"url uri link href endpoint", R_URL},
    {"pointer", R_POINTER},
    {"pattern find search query needle regex_pattern", R_PATTERN},
    {"replace replacement with substitute", R_REPL},
    {"command cmd script", R_COMMAND},
    {"text content contents body input message string document value data", R_TEXT},
};

/* Words after which an unquoted replacement follows ("with dog"). */
static const char REPL_LEAD[] = " with by to into ";
/* Words before a target scale ("to celsius"). */
static const char TARGET_LEAD[] = " to into in as ";

/* ============================================================ utilities */

#define WMAX 48      /* longest word compared (longer words never match) */
#define HSIZE 1024   /* hash table slots (power of two) */
#define MAX_WORDS 256 /* words scanned per tool text */

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static bool ends(const char *s, size_t n, const char *suf)
{
    size_t m = strlen(suf);
    return n >= m && !memcmp(s + n - m, suf, m);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_alnum(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u >= 0x80;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Lower-case copy of s[0..n) into out (WMAX); false when too long. */
static bool lower_copy(const char *s, size_t n, char *out)
{
    if (n == 0 || n >= WMAX)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = lower(s[i]);
    out[n] = 0;
    return true;
}

/*
 * Light stemming of a lower-case word: plural -s/-es/-ies, -ing, -ed,
 * -ly, then a final -e ("lines" and "line" both give "lin"). Crude, but the
 * same function runs on both sides, so only consistency matters.
 */
static void stem(const char *w, char *out)
{
    size_t n = strlen(w);
    memcpy(out, w, n + 1);
    if (n <= 3)
        return;
    bool verb = false;
    if (n > 4 && ends(out, n, "ies")) {
        out[n - 3] = 'y';
        n -= 2;
    } else if (n > 4 && ends(out, n, "sses")) {
        n -= 2;
    } else if (ends(out, n, "es") &&
               (strchr("sxz", out[n - 3]) || (n > 4 && out[n - 3] == 'h' && (out[n - 4] == 'c' || out[n - 4] == 's')))) {
        n -= 2;
    } else if (out[n - 1] == 's' && !strchr("siu", out[n - 2])) {
        n -= 1;
    } else if (n > 5 && ends(out, n, "ing")) {
        n -= 3;
        verb = true;
    } else if (n > 4 && ends(out, n, "ied")) {
        out[n - 3] = 'y';
        n -= 2;
    } else if (n > 4 && ends(out, n, "ed")) {
        n -= 2;
        verb = true;
    } else if (n > 5 && ends(out, n, "ly")) {
        n -= 2;
    }
    out[n] = 0;
    if (verb && n >= 3 && out[n - 1] == out[n - 2] && !strchr("aeioulsz", out[n - 1]))
        out[--n] = 0;
    if (n > 3 && out[n - 1] == 'e')
        out[--n] = 0;
}

/* Cut s before a UTF-8 sequence that a bounded snprintf left incomplete
 * at its end (JSON strings must be valid UTF-8). */
static void utf8_trim(char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && n - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0 || ((unsigned char)s[i - 1]) < 0x80)
        return;
    unsigned char c = (unsigned char)s[i - 1];
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (n - (i - 1) < len)
        s[i - 1] = 0;
}

/* Is lower-case word w one of the space-separated words of list? */
static bool in_list(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; (p = strstr(p, w)) != NULL; p++)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return true;
    return false;
}

/* ----------------------------------------------------------- lookups */

typedef struct hent {
    const char *key;
    int val;
} hent;

static hent STEM_TAB[HSIZE];   /* stem -> concept index */
static hent STOP_TAB[HSIZE];   /* raw word -> 1 */
static hent PHRASE_TAB[HSIZE]; /* "w1 w2" -> concept index */
static hent PHEAD_TAB[HSIZE];  /* raw first word of a phrase -> 1 */
static uint32_t CONCEPT_HASH[N_CONCEPTS];
static char POOL[8192];
static size_t pool_used;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static const char *pool_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    if (pool_used + n > sizeof POOL)
        return NULL; /* the tables are fixed: a test checks they fit */
    char *p = POOL + pool_used;
    memcpy(p, s, n);
    pool_used += n;
    return p;
}

static void h_put(hent *tab, const char *key, int val)
{
    if (!key)
        return;
    for (uint32_t i = fnv(key) & (HSIZE - 1);; i = (i + 1) & (HSIZE - 1)) {
        if (!tab[i].key) {
            tab[i].key = key;
            tab[i].val = val;
            return;
        }
        if (!strcmp(tab[i].key, key))
            return; /* first definition wins */
    }
}

static int h_get(const hent *tab, const char *key, uint32_t h)
{
    for (uint32_t i = h & (HSIZE - 1); tab[i].key; i = (i + 1) & (HSIZE - 1))
        if (!strcmp(tab[i].key, key))
            return tab[i].val;
    return -1;
}

static void tables_init(void)
{
    char w[WMAX], s[WMAX];
    for (size_t c = 0; c < N_CONCEPTS; c++) {
        CONCEPT_HASH[c] = fnv(CONCEPTS[c].name);
        for (const char *p = CONCEPTS[c].words; *p;) {
            size_t n = strcspn(p, " ");
            if (n > 0 && n < WMAX) {
                memcpy(w, p, n);
                w[n] = 0;
                char *us = strchr(w, '_');
                if (us) { /* phrase */
                    *us = ' ';
                    h_put(PHRASE_TAB, pool_dup(w), (int)c);
                    *us = 0;
                    h_put(PHEAD_TAB, pool_dup(w), 1);
                } else {
                    stem(w, s);
                    h_put(STEM_TAB, pool_dup(s), (int)c);
                }
            }
            p += n;
            while (*p == ' ')
                p++;
        }
    }
    for (const char *p = STOP_WORDS; *p;) {
        size_t n = strcspn(p, " ");
        if (n > 0 && n < WMAX) {
            memcpy(w, p, n);
            w[n] = 0;
            h_put(STOP_TAB, pool_dup(w), 1);
        }
        p += n;
        while (*p == ' ')
            p++;
    }
}

static bool is_stop(const char *lw)
{
    return h_get(STOP_TAB, lw, fnv(lw)) >= 0;
}

/* Concept of the phrase "a b" (both lower-case), or -1. */
static int phrase_concept(const char *a, const char *b)
{
    if (h_get(PHEAD_TAB, a, fnv(a)) < 0)
        return -1;
    char k[2 * WMAX + 2];
    snprintf(k, sizeof k, "%s %s", a, b);
    return h_get(PHRASE_TAB, k, fnv(k));
}

static int stem_concept(const char *st)
{
    return h_get(STEM_TAB, st, fnv(st));
}

/* =========================================================== the goal */

enum { TK_WORD, TK_QUOTED, TK_NUMBER, TK_URL, TK_KV, TK_SEP, TK_COMMA };
enum { P_NONE, P_FILE, P_DIR, P_OTHER };

typedef struct tok {
    int kind;
    const char *text;   /* word as written; quoted content; number; URL; key of key=value */
    const char *val;    /* value of key=value */
    size_t off, end;    /* bytes of the goal it covers */
    char lw[WMAX];      /* WORD: lower-case ("" when too long) */
    char st[WMAX];      /* WORD: stem */
    const char *term;   /* WORD that counts for scoring: concept name or st; else NULL */
    uint32_t th;        /* fnv(term) */
    int concept;        /* -1 */
    bool stop;
    bool phrase_tail;   /* second word of a phrase: counted with the first */
    double num;         /* NUMBER */
    bool integral;
    int ptype;          /* P_*: what the word names in the workdir */
    bool pathlike;      /* looks like a file name (a.txt, src/x) */
    bool outside;       /* absolute, ~ or with "..": never looked up */
} tok;

typedef struct step {
    size_t a, b; /* tokens [a, b) */
} step;

typedef struct goal_t {
    const char *text;
    char *arena; /* strings of the tokens */
    size_t arena_used, arena_cap;
    tok *t;
    size_t nt, cap;
    step *s;
    size_t ns;
} goal_t;

static const char *arena_dup(goal_t *g, const char *s, size_t n)
{
    if (g->arena_used + n + 1 > g->arena_cap)
        return NULL;
    char *p = g->arena + g->arena_used;
    memcpy(p, s, n);
    p[n] = 0;
    g->arena_used += n + 1;
    return p;
}

static tok *tok_push(goal_t *g, int kind, size_t off, size_t end)
{
    if (g->nt == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 32;
        tok *nt = realloc(g->t, nc * sizeof *nt);
        if (!nt)
            return NULL;
        g->t = nt;
        g->cap = nc;
    }
    tok *t = &g->t[g->nt++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->off = off;
    t->end = end;
    t->concept = -1;
    return t;
}

static bool key_ok(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(is_alnum(s[i]) && (unsigned char)s[i] < 0x80) && s[i] != '_')
            return false;
    return true;
}

/* Length of an opening quote at s and its closing counterpart, or 0. */
static size_t quote_open(const char *s, const char **close)
{
    if (*s == '"') {
        *close = "\"";
        return 1;
    }
    if (*s == '\'') {
        *close = "'";
        return 1;
    }
    if (*s == '`') {
        *close = "`";
        return 1;
    }
    if (!strncmp(s, "\xe2\x80\x9c", 3)) { /* “ ” */
        *close = "\xe2\x80\x9d";
        return 3;
    }
    if (!strncmp(s, "\xe2\x80\x98", 3)) { /* ‘ ’ */
        *close = "\xe2\x80\x99";
        return 3;
    }
    return 0;
}

/* Closing quote for a quote opened at s+ol: its offset, or NULL. A closing
 * ASCII ' must not be followed by a letter (so "don't" is no quote). */
static const char *quote_close(const char *s, const char *close)
{
    size_t cl = strlen(close);
    for (const char *p = s; (p = strstr(p, close)) != NULL; p += cl)
        if (strcmp(close, "'") || !is_alnum(p[1]))
            return p;
    return NULL;
}

/* A number literal: [+-]digits[.digits] or [+-].digits; its length, or 0. */
static size_t number_len(const char *s, size_t n)
{
    size_t i = 0, d = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, d++;
    if (i < n && s[i] == '.' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, d++;
    }
    return d ? i : 0;
}

static const char *unit_word(const char *lw)
{
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++)
        if (!strcmp(UNITS[i].word, lw))
            return UNITS[i].as;
    return NULL;
}

static int push_word(goal_t *g, const char *s, size_t n, size_t off, size_t end)
{
    tok *t = tok_push(g, TK_WORD, off, end);
    if (!t || !(t->text = arena_dup(g, s, n)))
        return VENOM_E_NOMEM;
    return 0;
}

/* Classify one whitespace-delimited chunk g->text[off, end). */
static int push_chunk(goal_t *g, size_t off, size_t end)
{
    const char *s = g->text + off;
    size_t n = end - off;
    while (n > 0 && s[0] == '(')
        s++, n--, off++;
    while (n > 1 && strchr(".?!:)", s[n - 1]) && !(n == 2 && !strncmp(s, "..", 2)))
        n--;
    end = off + n;
    if (n == 0)
        return 0;
    if ((n > 7 && !strncmp(s, "http://", 7)) || (n > 8 && !strncmp(s, "https://", 8))) {
        tok *t = tok_push(g, TK_URL, off, end);
        return t && (t->text = arena_dup(g, s, n)) ? 0 : VENOM_E_NOMEM;
    }
    const char *eq = memchr(s, '=', n);
    if (eq && eq > s && (size_t)(eq - s) + 1 < n && key_ok(s, (size_t)(eq - s))) {
        tok *t = tok_push(g, TK_KV, off, end);
        if (!t || !(t->text = arena_dup(g, s, (size_t)(eq - s))) ||
            !(t->val = arena_dup(g, eq + 1, n - (size_t)(eq - s) - 1)))
            return VENOM_E_NOMEM;
        return 0;
    }
    size_t nl = number_len(s, n);
    if (nl) {
        char lw[WMAX] = "";
        const char *unit = nl < n && lower_copy(s + nl, n - nl, lw) ? unit_word(lw) : NULL;
        if (nl == n || unit) {
            tok *t = tok_push(g, TK_NUMBER, off, off + nl);
            if (!t || !(t->text = arena_dup(g, s, nl)))
                return VENOM_E_NOMEM;
            t->num = strtod(t->text, NULL);
            t->integral = !memchr(s, '.', nl) && fabs(t->num) < 9e15;
            return unit ? push_word(g, unit, strlen(unit), off + nl, end) : 0;
        }
    }
    return push_word(g, s, n, off, end);
}

static int tokenize(goal_t *g)
{
    const char *s = g->text;
    size_t i = 0, n = strlen(s);
    int rc;
    while (i < n) {
        if (is_space(s[i])) {
            i++;
            continue;
        }
        if (s[i] == ';' || s[i] == ',') {
            if (!tok_push(g, s[i] == ';' ? TK_SEP : TK_COMMA, i, i + 1))
                return VENOM_E_NOMEM;
            i++;
            continue;
        }
        const char *close;
        size_t ol = quote_open(s + i, &close);
        const char *ce = ol ? quote_close(s + i + ol, close) : NULL;
        if (ce) {
            size_t a = i + ol, b = (size_t)(ce - s);
            tok *t = tok_push(g, TK_QUOTED, i, b + strlen(close));
            if (!t || !(t->text = arena_dup(g, s + a, b - a)))
                return VENOM_E_NOMEM;
            i = b + strlen(close);
            continue;
        }
        size_t j = i;
        while (j < n && !is_space(s[j]) && s[j] != ';' && !(s[j] == ',' && (j + 1 == n || is_space(s[j + 1])))) {
            /* key="quoted value" */
            if (s[j] == '=' && key_ok(s + i, j - i) && (ol = quote_open(s + j + 1, &close)) != 0 &&
                (ce = quote_close(s + j + 1 + ol, close)) != NULL) {
                tok *t = tok_push(g, TK_KV, i, (size_t)(ce - s) + strlen(close));
                size_t va = j + 1 + ol, vb = (size_t)(ce - s);
                if (!t || !(t->text = arena_dup(g, s + i, j - i)) || !(t->val = arena_dup(g, s + va, vb - va)))
                    return VENOM_E_NOMEM;
                j = (size_t)(ce - s) + strlen(close);
                goto next;
            }
            j++;
        }
        if ((rc = push_chunk(g, i, j)) < 0)
            return rc;
    next:
        i = j;
    }
    return 0;
}

/* Words: lower case, stop words, phrases, stems, concepts, units. */
static void analyse_words(goal_t *g)
{
    for (size_t i = 0; i < g->nt; i++) {
        tok *t = &g->t[i];
        if (t->kind != TK_WORD || !lower_copy(t->text, strlen(t->text), t->lw))
            continue;
        /* "100 degrees f", "100 f" */
        if (i > 0) {
            size_t p = i - 1;
            if (p > 0 && g->t[p].kind == TK_WORD && !strncmp(g->t[p].lw, "degree", 6))
                p--;
            const char *u = g->t[p].kind == TK_NUMBER ? unit_word(t->lw) : NULL;
            if (u)
                snprintf(t->lw, sizeof t->lw, "%s", u);
        }
    }
    for (size_t i = 0; i < g->nt; i++) {
        tok *t = &g->t[i];
        if (t->kind != TK_WORD || !t->lw[0] || t->phrase_tail)
            continue;
        tok *nx = i + 1 < g->nt && g->t[i + 1].kind == TK_WORD && g->t[i + 1].lw[0] ? &g->t[i + 1] : NULL;
        int pc = nx ? phrase_concept(t->lw, nx->lw) : -1;
        if (pc >= 0) {
            t->concept = pc;
            nx->phrase_tail = true;
            nx->stop = true;
        } else if (is_stop(t->lw)) {
            t->stop = true;
            continue;
        } else {
            stem(t->lw, t->st);
            t->concept = stem_concept(t->st);
        }
        t->term = t->concept >= 0 ? CONCEPTS[t->concept].name : t->st;
        t->th = t->concept >= 0 ? CONCEPT_HASH[t->concept] : fnv(t->st);
    }
}

/* Steps: split at ";", "then", "and then", ", then". */
static int split_steps(goal_t *g)
{
    g->s = calloc(g->nt + 1, sizeof *g->s);
    if (!g->s)
        return VENOM_E_NOMEM;
    size_t a = 0;
    for (size_t i = 0; i <= g->nt; i++) {
        bool sep = i == g->nt || g->t[i].kind == TK_SEP || (g->t[i].kind == TK_WORD && !strcmp(g->t[i].lw, "then"));
        if (!sep)
            continue;
        size_t b = i;
        while (b > a && (g->t[b - 1].kind == TK_COMMA || g->t[b - 1].kind == TK_SEP ||
                         (g->t[b - 1].kind == TK_WORD && !strcmp(g->t[b - 1].lw, "and"))))
            b--;
        bool content = false;
        for (size_t k = a; k < b; k++)
            content |= g->t[k].kind != TK_COMMA;
        if (content)
            g->s[g->ns++] = (step){a, b};
        a = i + 1;
    }
    return 0;
}

/* ---------------------------------------------------------- the workdir */

typedef struct wdir {
    const char *path; /* metadata.workdir, or NULL */
    char real[PATH_MAX];
    int real_state; /* 0 not yet, 1 ok, -1 failed */
} wdir;

static bool has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == 0 || s[2] == '/'))
            return true;
    return false;
}

static bool looks_like_file(const char *p)
{
    if (strchr(p, '/'))
        return true;
    const char *dot = strrchr(p, '.');
    if (!dot || dot == p || !dot[1] || strlen(dot + 1) > 10)
        return false;
    for (const char *c = dot + 1; *c; c++)
        if (!is_alnum(*c))
            return false;
    return true;
}

/* What path p (relative to the workdir) is: P_NONE when missing, outside
 * (a symlink that leads out of the workdir) or unreadable. */
static int path_type(wdir *w, const char *p)
{
    char full[PATH_MAX];
    struct stat st;
    if (!w->path || snprintf(full, sizeof full, "%s/%s", w->path, p) >= (int)sizeof full || lstat(full, &st) < 0)
        return P_NONE;
    if (S_ISLNK(st.st_mode)) {
        char rp[PATH_MAX];
        if (w->real_state == 0)
            w->real_state = realpath(w->path, w->real) ? 1 : -1;
        size_t rl = strlen(w->real);
        if (w->real_state < 0 || !realpath(full, rp) || strncmp(rp, w->real, rl) || (rp[rl] != '/' && rp[rl] != 0) ||
            stat(full, &st) < 0)
            return P_NONE;
    }
    return S_ISREG(st.st_mode) ? P_FILE : S_ISDIR(st.st_mode) ? P_DIR : P_OTHER;
}

static void classify_paths(goal_t *g, wdir *w)
{
    for (size_t i = 0; i < g->nt; i++) {
        tok *t = &g->t[i];
        if (t->kind != TK_WORD || t->stop || t->phrase_tail)
            continue;
        t->pathlike = looks_like_file(t->text);
        if (t->concept >= 0 && !t->pathlike)
            continue;
        if (t->text[0] == '/' || t->text[0] == '~' || has_dotdot(t->text)) {
            t->outside = true;
            continue;
        }
        t->ptype = path_type(w, t->text);
    }
}

/* ============================================================== tools */

enum { T_STRING = 1, T_INT = 2, T_NUM = 4, T_BOOL = 8, T_OBJ = 16, T_ARR = 32, T_NULL = 64, T_ANY = 127 };
#define MAXP 32 /* parameters looked at per tool (more are ignored) */
#define MAXSETS 4
#define MAXALTS 8

typedef struct param {
    const char *name;
    const char *desc;
    const json_t *schema;
    unsigned types;
    int role;
    bool has_default, want_dir, want_file;
    int set; /* the oneOf/anyOf set it belongs to, or -1 */
} param;

/* One word of a tool's vocabulary: its term (concept name or stem) and the
 * highest weight it has in the tool's texts. */
typedef struct vterm {
    uint32_t h;
    float w;
    char term[WMAX];
} vterm;

typedef struct tool {
    const char *name;
    char pack[WMAX + 16], skill[2 * WMAX];
    const char *desc;
    const json_t *examples;
    param p[MAXP];
    size_t np;
    uint64_t req, nodefault;
    int nsets, nalts[MAXSETS];
    uint64_t alts[MAXSETS][MAXALTS];
    int intent; /* concept of the first name part, or -1 */
    const char *intent_s;
    bool write_like;
    char dir_a[WMAX], dir_b[WMAX]; /* "a_to_b": terms of a and b */
    uint32_t ha, hb;
    vterm *v; /* vocabulary (owned by the offline_tools) */
    size_t nv, capv;
    const json_t *out_schema; /* "output_schema" (plan mode), or NULL */
    const json_t *out_example; /* the first example's "result", or NULL */
    /* per step */
    double lex, score;
    bool ok;
    uint64_t filled;
    json_t *args;
    /* per step, plan mode: the parameters that got a ${steps…} reference,
     * whether one of them was guessed (no output_schema), and why a
     * chained parameter stayed empty */
    uint64_t chained, chain_fail;
    bool guessed;
    char chain_why[320];
} tool;

static unsigned schema_types(const json_t *s)
{
    const json_t *t = json_object_get(s, "type");
    const char *names[] = {"string", "integer", "number", "boolean", "object", "array", "null"};
    unsigned bits = 0;
    if (json_is_string(t) || json_is_array(t)) {
        size_t n = json_is_array(t) ? json_array_size(t) : 1;
        for (size_t i = 0; i < n; i++) {
            const char *v = json_string_value(json_is_array(t) ? json_array_get(t, i) : t);
            for (unsigned k = 0; v && k < 7; k++)
                if (!strcmp(v, names[k]))
                    bits |= 1u << k;
        }
        if (bits & T_NUM)
            bits |= T_INT;
    }
    return bits ? bits : T_ANY;
}

static int param_role(const char *name, unsigned types, const char *desc)
{
    char lw[WMAX];
    if (!lower_copy(name, strlen(name), lw))
        return R_OTHER;
    if (desc && strstr(desc, "JSON Pointer") && (types & T_STRING))
        return R_POINTER;
    for (size_t i = 0; i < sizeof ROLES / sizeof ROLES[0]; i++)
        if (in_list(ROLES[i].names, lw)) {
            if (ROLES[i].role != R_TEXT && !(types & T_STRING))
                return R_OTHER;
            return ROLES[i].role;
        }
    size_t n = strlen(lw);
    if ((types & T_STRING) && (ends(lw, n, "_path") || ends(lw, n, "_file") || ends(lw, n, "_dir")))
        return R_PATH;
    return R_OTHER;
}

static int param_index(const tool *tl, const char *name)
{
    for (size_t i = 0; i < tl->np; i++)
        if (!strcmp(tl->p[i].name, name))
            return (int)i;
    return -1;
}

static uint64_t names_mask(const tool *tl, const json_t *arr)
{
    uint64_t m = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        int k = json_is_string(v) ? param_index(tl, json_string_value(v)) : -1;
        if (k >= 0)
            m |= 1ull << k;
    }
    return m;
}

/* Term of a name part (lower-case): concept name or stem. */
static const char *part_term(const char *lw, char *buf, uint32_t *h)
{
    stem(lw, buf);
    int c = stem_concept(buf);
    const char *t = c >= 0 ? CONCEPTS[c].name : buf;
    *h = fnv(t);
    return t;
}

static int tool_parse(const json_t *j, size_t idx, tool *tl, char *err, size_t errlen)
{
    memset(tl, 0, sizeof *tl);
    tl->intent = -1;
    const json_t *name = json_object_get(j, "name");
    if (!json_is_object(j) || !json_is_string(name) || !json_string_length(name)) {
        snprintf(err, errlen, "request.tools[%zu] is not an object with a \"name\" string", idx);
        return VENOM_E_INVAL;
    }
    tl->name = json_string_value(name);
    const char *us = strstr(tl->name, "__");
    snprintf(tl->pack, sizeof tl->pack, "%.*s", us ? (int)(us - tl->name) : 0, tl->name);
    snprintf(tl->skill, sizeof tl->skill, "%s", us ? us + 2 : tl->name);
    tl->desc = json_string_value(json_object_get(j, "description"));
    tl->examples = json_object_get(j, "examples");
    tl->out_schema = json_is_object(json_object_get(j, "output_schema")) ? json_object_get(j, "output_schema") : NULL;
    tl->out_example = json_object_get(json_array_get(tl->examples, 0), "result");
    const json_t *schema = json_object_get(j, "parameters");
    const json_t *props = json_object_get(schema, "properties");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)props, k, v)
    {
        if (tl->np == MAXP)
            break;
        param *p = &tl->p[tl->np];
        p->name = k;
        p->schema = v;
        p->desc = json_string_value(json_object_get(v, "description"));
        p->types = schema_types(v);
        p->role = param_role(k, p->types, p->desc);
        p->has_default = json_object_get(v, "default") != NULL;
        p->set = -1;
        if (p->role == R_PATH) {
            char d[256] = "";
            if (p->desc)
                for (size_t i = 0; p->desc[i] && i < sizeof d - 1; i++)
                    d[i] = lower(p->desc[i]);
            p->want_dir = strstr(d, "director") != NULL;
            p->want_file = strstr(d, "file") != NULL;
        }
        if (!p->has_default)
            tl->nodefault |= 1ull << tl->np;
        tl->np++;
    }
    tl->req = names_mask(tl, json_object_get(schema, "required"));
    const char *setkeys[] = {"oneOf", "anyOf"};
    for (int s = 0; s < 2; s++) {
        const json_t *arr = json_object_get(schema, setkeys[s]);
        if (!json_is_array(arr) || tl->nsets == MAXSETS)
            continue;
        int si = tl->nsets++;
        size_t i;
        json_array_foreach(arr, i, v)
        {
            if (tl->nalts[si] == MAXALTS)
                break;
            uint64_t m = names_mask(tl, json_object_get(v, "required"));
            if (!m)
                continue;
            tl->alts[si][tl->nalts[si]++] = m;
            for (size_t b = 0; b < tl->np; b++)
                if (m & (1ull << b))
                    tl->p[b].set = si;
        }
        if (!tl->nalts[si])
            tl->nsets--;
    }
    /* intent, direction */
    char parts[8][WMAX];
    int np = 0;
    for (const char *s = tl->skill; *s && np < 8;) {
        size_t n = strcspn(s, "_");
        if (lower_copy(s, n, parts[np]))
            np++;
        s += n;
        s += strspn(s, "_");
    }
    if (np > 0) {
        char st[WMAX];
        stem(parts[0], st);
        tl->intent = stem_concept(st);
    }
    tl->intent_s = tl->intent >= 0 ? CONCEPTS[tl->intent].name : tl->skill;
    tl->write_like = tl->intent >= 0 && !strcmp(CONCEPTS[tl->intent].name, "write");
    for (int i = 1; i + 1 < np; i++)
        if (!strcmp(parts[i], "to")) {
            char b1[WMAX], b2[WMAX];
            snprintf(tl->dir_a, sizeof tl->dir_a, "%s", part_term(parts[i - 1], b1, &tl->ha));
            snprintf(tl->dir_b, sizeof tl->dir_b, "%s", part_term(parts[i + 1], b2, &tl->hb));
            break;
        }
    return 0;
}

/* ============================================================ scoring */

#define MAXG 32

typedef struct gterm {
    const char *term;
    uint32_t h;
    double w;
    size_t pos; /* token index of its first occurrence */
} gterm;

static size_t goal_terms(const goal_t *g, const step *s, gterm *out)
{
    size_t n = 0;
    for (size_t i = s->a; i < s->b && n < MAXG; i++) {
        const tok *t = &g->t[i];
        if (t->kind != TK_WORD || !t->term || t->ptype != P_NONE || t->outside || (t->pathlike && t->concept < 0))
            continue;
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = out[k].h == t->th && !strcmp(out[k].term, t->term);
        if (!dup)
            out[n++] = (gterm){t->term, t->th, t->concept >= 0 ? G_ACTION : G_OTHER, i};
        if (t->concept >= 0 && !strcmp(CONCEPTS[t->concept].name, "exec"))
            break; /* "run ls -la": what follows is the command, not a request */
    }
    return n;
}

static int vocab_put(tool *tl, const char *term, uint32_t h, double weight)
{
    for (size_t i = 0; i < tl->nv; i++)
        if (tl->v[i].h == h && !strcmp(tl->v[i].term, term)) {
            if (tl->v[i].w < weight)
                tl->v[i].w = (float)weight;
            return 0;
        }
    if (tl->nv == tl->capv) {
        size_t nc = tl->capv ? tl->capv * 2 : 32;
        vterm *nv = realloc(tl->v, nc * sizeof *nv);
        if (!nv)
            return VENOM_E_NOMEM;
        tl->v = nv;
        tl->capv = nc;
    }
    vterm *e = &tl->v[tl->nv++];
    e->h = h;
    e->w = (float)weight;
    snprintf(e->term, sizeof e->term, "%s", term);
    return 0;
}

/* Add the words of text to the tool's vocabulary with this weight. */
static int vocab_add(tool *tl, const char *text, double weight)
{
    if (!text)
        return 0;
    char words[MAX_WORDS][WMAX];
    size_t n = 0;
    for (const char *s = text; *s && n < MAX_WORDS;) {
        while (*s && !is_alnum(*s))
            s++;
        const char *b = s;
        while (is_alnum(*s))
            s++;
        if (s > b && lower_copy(b, (size_t)(s - b), words[n]))
            n++;
    }
    char st[WMAX];
    for (size_t i = 0; i < n; i++) {
        int c = i + 1 < n ? phrase_concept(words[i], words[i + 1]) : -1;
        if (c >= 0) {
            i++;
        } else if (is_stop(words[i])) {
            continue;
        } else {
            stem(words[i], st);
            c = stem_concept(st);
        }
        int rc = c >= 0 ? vocab_put(tl, CONCEPTS[c].name, CONCEPT_HASH[c], weight) : vocab_put(tl, st, fnv(st), weight);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int vocab_build(tool *tl)
{
    int rc = vocab_add(tl, tl->skill, W_NAME);
    rc = rc ? rc : vocab_add(tl, tl->pack, W_PACK);
    rc = rc ? rc : vocab_add(tl, tl->desc, W_DESC);
    for (size_t i = 0; i < tl->np && !rc; i++)
        rc = vocab_add(tl, tl->p[i].name, W_PARAM);
    size_t i;
    const json_t *ex;
    json_array_foreach(tl->examples, i, ex)
        if (!rc)
            rc = vocab_add(tl, json_string_value(json_object_get(ex, "description")), W_EXAMPLE);
    return rc;
}

static double lexical(const tool *tl, const goal_t *g, const gterm *gt, size_t ng)
{
    double tw[MAXG] = {0};
    for (size_t k = 0; k < ng; k++)
        for (size_t i = 0; i < tl->nv; i++)
            if (tl->v[i].h == gt[k].h && !strcmp(tl->v[i].term, gt[k].term)) {
                tw[k] = tl->v[i].w;
                break;
            }
    double score = 0;
    for (size_t k = 0; k < ng; k++)
        score += gt[k].w * tw[k];
    /* direction of an "a_to_b" tool */
    if (tl->dir_a[0] && score > 0) {
        long pa = -1, pb = -1;
        for (size_t k = 0; k < ng; k++) {
            if (gt[k].h == tl->ha && !strcmp(gt[k].term, tl->dir_a))
                pa = (long)gt[k].pos;
            if (gt[k].h == tl->hb && !strcmp(gt[k].term, tl->dir_b))
                pb = (long)gt[k].pos;
        }
        bool target_b = pb > 0 && g->t[pb - 1].kind == TK_WORD && in_list(TARGET_LEAD, g->t[pb - 1].lw);
        bool target_a = pa > 0 && g->t[pa - 1].kind == TK_WORD && in_list(TARGET_LEAD, g->t[pa - 1].lw);
        if ((pa >= 0 && pb >= 0 && pa < pb) || (pa < 0 && target_b) || (pb < 0 && pa >= 0 && !target_a))
            score += B_DIRECTION;
    }
    return score;
}

/* ============================================================ filling */

typedef struct created { /* files earlier write steps create */
    char name[16][256];
    size_t n;
} created;

typedef struct fillctx {
    const goal_t *g;
    const step *s;
    unsigned char *used; /* per token */
    const created *cr;
    const json_t *prev;  /* the previous tool result (JSON), or NULL */
    bool chain;          /* a previous step exists (its result may feed this one) */
    bool assume_chain;   /* future step: assume the result will feed it */
    bool plan;           /* plan mode: feed it a ${steps…} reference instead */
    const tool *prev_tool; /* plan mode: the previous step's tool (NULL: undecided) */
    size_t prev_step;    /* plan mode: the previous step's number (its id is "s<n>") */
} fillctx;

static bool is_created(const created *cr, const char *s)
{
    for (size_t i = 0; cr && i < cr->n; i++)
        if (!strcmp(cr->name[i], s))
            return true;
    return false;
}

static json_t *number_json(const tok *t, unsigned types)
{
    if (t->integral && (types & T_INT))
        return json_integer((json_int_t)t->num);
    if (types & T_NUM)
        return json_real(t->num);
    return NULL;
}

/* A key=value value typed for parameter p (NULL: does not fit). */
static json_t *kv_value(const param *p, const char *v)
{
    unsigned ty = p->types;
    if (ty == T_BOOL) {
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
            return json_true();
        if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
            return json_false();
        return NULL;
    }
    if ((ty & (T_INT | T_NUM)) && !(ty & T_STRING)) {
        size_t n = strlen(v), nl = number_len(v, n);
        if (nl != n)
            return NULL;
        tok t = {.num = strtod(v, NULL), .integral = !strchr(v, '.')};
        return number_json(&t, ty);
    }
    if (ty == T_STRING)
        return json_string(v);
    json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
    if (j)
        return j;
    return (ty & T_STRING) ? json_string(v) : NULL;
}

static void set_arg(tool *tl, size_t i, json_t *v)
{
    if (!v)
        return;
    if (json_object_set_new(tl->args, tl->p[i].name, v) == 0)
        tl->filled |= 1ull << i;
}

static bool filled(const tool *tl, size_t i)
{
    return tl->filled & (1ull << i);
}

/* Another member of i's oneOf/anyOf set is filled already. */
static bool set_taken(const tool *tl, size_t i)
{
    int s = tl->p[i].set;
    if (s < 0)
        return false;
    for (size_t k = 0; k < tl->np; k++)
        if (k != i && tl->p[k].set == s && filled(tl, k))
            return true;
    return false;
}

static bool path_fits(const param *p, int ptype)
{
    if (ptype == P_DIR)
        return p->want_dir || !p->want_file;
    if (ptype == P_FILE)
        return p->want_file || !p->want_dir;
    return false;
}

/* Token index of the step's action word for this tool (a word whose concept
 * is the tool's intent; else the first action word), or -1. */
static long verb_index(const tool *tl, const fillctx *fc)
{
    long first = -1;
    for (size_t i = fc->s->a; i < fc->s->b; i++) {
        const tok *t = &fc->g->t[i];
        if (t->kind != TK_WORD || t->concept < 0)
            continue;
        if (t->concept == tl->intent)
            return (long)i;
        if (first < 0)
            first = (long)i;
    }
    return first;
}

/* The first unused word or number after token i that is no stop word and
 * names nothing in the workdir; or -1. */
static long free_word_after(const fillctx *fc, long i)
{
    for (size_t k = (size_t)(i + 1); i >= 0 && k < fc->s->b; k++) {
        const tok *t = &fc->g->t[k];
        if (fc->used[k])
            continue;
        if (t->kind == TK_NUMBER || (t->kind == TK_WORD && !t->stop && t->ptype == P_NONE && !t->outside))
            return (long)k;
        if (t->kind != TK_WORD || !t->stop)
            return -1;
    }
    return -1;
}

static long next_quoted(const fillctx *fc)
{
    for (size_t k = fc->s->a; k < fc->s->b; k++)
        if (!fc->used[k] && fc->g->t[k].kind == TK_QUOTED)
            return (long)k;
    return -1;
}

static void fill_path(tool *tl, size_t i, fillctx *fc)
{
    const param *p = &tl->p[i];
    const goal_t *g = fc->g;
    for (int pass = 0; pass < 3; pass++) {
        for (size_t k = fc->s->a; k < fc->s->b; k++) {
            const tok *t = &g->t[k];
            if (fc->used[k] || t->outside)
                continue;
            bool take = false;
            if (pass == 0 && t->kind == TK_WORD)
                take = path_fits(p, t->ptype) || (t->ptype == P_NONE && is_created(fc->cr, t->text) && path_fits(p, P_FILE));
            else if (pass == 1 && t->kind == TK_WORD)
                take = tl->write_like && t->ptype == P_NONE && t->pathlike && !p->want_dir;
            else if (pass == 2 && t->kind == TK_QUOTED)
                take = tl->write_like && looks_like_file(t->text) && !has_dotdot(t->text) && t->text[0] != '/';
            if (take) {
                set_arg(tl, i, json_string(t->text));
                fc->used[k] = 1;
                return;
            }
        }
    }
}

static void fill_number_params(tool *tl, fillctx *fc)
{
    const goal_t *g = fc->g;
    size_t nnum = 0, last = 0;
    for (size_t i = 0; i < tl->np; i++)
        if ((tl->p[i].types & (T_INT | T_NUM)) && !(tl->p[i].types & T_STRING))
            nnum++, last = i;
    if (!nnum)
        return;
    /* "3 lines" -> lines */
    for (size_t k = fc->s->a; k + 1 < fc->s->b; k++) {
        const tok *t = &g->t[k], *nx = &g->t[k + 1];
        if (fc->used[k] || t->kind != TK_NUMBER || nx->kind != TK_WORD || !nx->st[0])
            continue;
        for (size_t i = 0; i < tl->np; i++) {
            char lw[WMAX], st[WMAX];
            if (filled(tl, i) || !(tl->p[i].types & (T_INT | T_NUM)) ||
                !lower_copy(tl->p[i].name, strlen(tl->p[i].name), lw))
                continue;
            stem(lw, st);
            if (!strcmp(st, nx->st)) {
                json_t *v = number_json(t, tl->p[i].types);
                if (v) {
                    set_arg(tl, i, v);
                    fc->used[k] = 1;
                    break;
                }
            }
        }
    }
    /* the rest in order: required numeric params, then a lone numeric param */
    for (size_t i = 0; i < tl->np; i++) {
        bool lone = nnum == 1 && i == last;
        if (filled(tl, i) || !(tl->p[i].types & (T_INT | T_NUM)) || (tl->p[i].types & T_STRING) ||
            !((tl->req & (1ull << i)) || lone))
            continue;
        for (size_t k = fc->s->a; k < fc->s->b; k++) {
            const tok *t = &g->t[k];
            json_t *v;
            if (!fc->used[k] && t->kind == TK_NUMBER && (v = number_json(t, tl->p[i].types)) != NULL) {
                set_arg(tl, i, v);
                fc->used[k] = 1;
                break;
            }
        }
    }
}

/* A string from the previous result for parameter p, or NULL. */
static json_t *prev_value(const json_t *prev, const param *p)
{
    if (!prev)
        return NULL;
    if (json_is_string(prev))
        return p->role == R_PATH ? NULL : json_copy((json_t *)prev);
    if (!json_is_object(prev))
        return NULL;
    const json_t *v = json_object_get(prev, p->name);
    if (json_is_string(v))
        return json_copy((json_t *)v);
    static const char *const path_keys[] = {"path", "file", NULL};
    static const char *const text_keys[] = {"text", "content", "stdout", "value", NULL};
    const char *const *keys = p->role == R_PATH ? path_keys : text_keys;
    for (size_t i = 0; keys[i]; i++)
        if (json_is_string(v = json_object_get(prev, keys[i])))
            return json_copy((json_t *)v);
    if (p->role == R_PATH)
        return NULL;
    const char *k;
    json_object_foreach((json_t *)prev, k, v)
        if (json_is_string(v))
            return json_copy((json_t *)v);
    /* an array of strings ("lines" of text.head): one text, a line each */
    json_object_foreach((json_t *)prev, k, v)
    {
        if (!json_is_array(v) || !json_array_size(v))
            continue;
        size_t i, len = 0;
        const json_t *e;
        bool strings = true;
        json_array_foreach(v, i, e)
        {
            strings &= json_is_string(e);
            len += json_string_length(e) + 1;
        }
        if (!strings)
            continue;
        char *buf = malloc(len + 1), *w = buf;
        if (!buf)
            return NULL;
        json_array_foreach(v, i, e)
        {
            memcpy(w, json_string_value(e), json_string_length(e));
            w += json_string_length(e);
            *w++ = '\n';
        }
        json_t *s = json_stringn(buf, (size_t)(w - buf));
        free(buf);
        return s;
    }
    return NULL;
}

static bool satisfied(const tool *tl, uint64_t f)
{
    if ((f & tl->req) != tl->req)
        return false;
    for (int s = 0; s < tl->nsets; s++) {
        bool ok = false;
        for (int a = 0; a < tl->nalts[s] && !ok; a++)
            ok = (f & tl->alts[s][a]) == tl->alts[s][a];
        if (!ok)
            return false;
    }
    if (!tl->req && !tl->nsets && tl->nodefault && !(f & tl->nodefault))
        return false; /* nothing required, but nothing at all given (shell.exec) */
    return true;
}

/* What a value (or, from a schema, the value it describes) is to chaining. */
enum { K_NONE, K_STRING, K_STRINGS, K_OTHER };

static int value_kind(const json_t *v, bool schema)
{
    if (!v)
        return K_NONE;
    if (schema) {
        unsigned t = schema_types(v);
        if (t == T_ANY)
            return K_OTHER; /* untyped: nothing to go by */
        if (t == T_STRING)
            return K_STRING;
        if (t == T_ARR && schema_types(json_object_get(v, "items")) == T_STRING)
            return K_STRINGS;
        return K_OTHER;
    }
    if (json_is_string(v))
        return K_STRING;
    if (json_is_array(v) && json_array_size(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
            if (!json_is_string(e))
                return K_OTHER;
        return K_STRINGS;
    }
    return K_OTHER;
}

/* Can field name k go into a reference ("${steps.ID.result/<k>}")? */
static bool field_ok(const char *k)
{
    return *k && strlen(k) <= 200 && !strchr(k, '}');
}

/*
 * The chaining rule of prev_value applied to what the previous tool's
 * result looks like: its output_schema (schema true) or an example result.
 * *field: the field chosen ("" = the whole result); 0 when one fits, -1
 * when none does (*why then says what it found).
 */
static int chain_pick(const json_t *shape, bool schema, const param *p, const char **field, const char **why)
{
    const json_t *props = schema ? json_object_get(shape, "properties") : shape;
    *field = "";
    if (!json_is_object(props) || (schema && schema_types(shape) != T_ANY && !(schema_types(shape) & T_OBJ))) {
        /* not an object: a string result is the text itself */
        if (p->role != R_PATH && value_kind(shape, schema) == K_STRING)
            return 0;
        *why = "it is not an object with a string field";
        return -1;
    }
    static const char *const path_keys[] = {"path", "file", NULL};
    static const char *const text_keys[] = {"text", "content", "stdout", "value", NULL};
    const char *const *keys = p->role == R_PATH ? path_keys : text_keys;
    if (field_ok(p->name) && value_kind(json_object_get(props, p->name), schema) == K_STRING) {
        *field = p->name;
        return 0;
    }
    for (size_t i = 0; keys[i]; i++)
        if (value_kind(json_object_get(props, keys[i]), schema) == K_STRING) {
            *field = keys[i];
            return 0;
        }
    *why = p->role == R_PATH ? "it has no path or file field" : "it has no string field";
    if (p->role == R_PATH)
        return -1;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)props, k, v)
        if (field_ok(k) && value_kind(v, schema) == K_STRING) {
            *field = k;
            return 0;
        }
    /* a list of strings ("lines" of text.head): only where a list may go */
    json_object_foreach((json_t *)props, k, v)
        if (field_ok(k) && value_kind(v, schema) == K_STRINGS) {
            if (p->types & T_ARR) {
                *field = k;
                return 0;
            }
            *why = "its only text is a list of strings, and this argument takes no list";
            return -1;
        }
    return -1;
}

/* "${steps.s<n>.result/<field as a JSON Pointer token>}" (field "" : the
 * whole result). */
static json_t *step_ref(size_t n, const char *field)
{
    char buf[512];
    size_t k = (size_t)snprintf(buf, sizeof buf, "${steps.s%zu.result%s", n, *field ? "/" : "");
    for (const char *c = field; *c && k + 4 < sizeof buf; c++) {
        if (*c == '~' || *c == '/') {
            buf[k++] = '~';
            buf[k++] = *c == '~' ? '0' : '1';
        } else {
            buf[k++] = *c;
        }
    }
    buf[k++] = '}';
    buf[k] = 0;
    return json_string(buf);
}

/* Plan mode: parameter i gets a reference to the previous step's result,
 * chosen by the chaining rule from the previous tool's output_schema (else
 * its example result, else the field of the same name: a guess). */
static void chain_ref(tool *tl, size_t i, fillctx *fc)
{
    const param *p = &tl->p[i];
    const tool *pt = fc->prev_tool;
    const char *field = NULL, *why = NULL;
    bool schema = pt->out_schema != NULL;
    const json_t *shape = schema ? pt->out_schema : pt->out_example;
    int rc = shape ? chain_pick(shape, schema, p, &field, &why) : -1;
    if (!schema && rc < 0) {
        field = field_ok(p->name) ? p->name : ""; /* no output schema: the same name, a guess */
        rc = 0;
    }
    if (rc < 0) {
        tl->chain_fail |= 1ull << i;
        if (!tl->chain_why[0])
            snprintf(tl->chain_why, sizeof tl->chain_why,
                     "what should %s get as %s from step %zu? (%s's result has no field for it: %s; put the "
                     "text in quotes)",
                     tl->name, p->name, fc->prev_step, pt->name, why);
        utf8_trim(tl->chain_why);
        return;
    }
    json_t *ref = step_ref(fc->prev_step, field);
    if (!ref)
        return;
    set_arg(tl, i, ref);
    tl->chained |= 1ull << i;
    tl->guessed |= !schema;
}

/* Feed the previous step's result into an empty required string parameter
 * (or set), e.g. fs.read's content into text.count's text. */
static void fill_chain(tool *tl, fillctx *fc)
{
    if (!fc->chain || satisfied(tl, tl->filled))
        return;
    for (int pass = 0; pass < 2; pass++) /* text-like parameters first, then paths */
        for (size_t i = 0; i < tl->np; i++) {
            const param *p = &tl->p[i];
            bool needed = (tl->req & (1ull << i)) || (p->set >= 0 && !set_taken(tl, i));
            if (filled(tl, i) || !needed || !(p->types & T_STRING) || (pass == 0) == (p->role == R_PATH))
                continue;
            if (fc->assume_chain) {
                tl->filled |= 1ull << i; /* the result is not known yet */
                tl->chained |= fc->plan ? 1ull << i : 0;
                continue;
            }
            if (fc->plan)
                chain_ref(tl, i, fc);
            else
                set_arg(tl, i, prev_value(fc->prev, p));
        }
}

/* Fill tl->args for the step. Returns VENOM_E_NOMEM or 0. */
static int fill(tool *tl, fillctx *fc)
{
    const goal_t *g = fc->g;
    tl->filled = 0;
    tl->chained = tl->chain_fail = 0;
    tl->guessed = false;
    tl->chain_why[0] = 0;
    if (!(tl->args = json_object()))
        return VENOM_E_NOMEM;
    memset(fc->used, 0, g->nt);
    /* 1. key=value */
    for (size_t k = fc->s->a; k < fc->s->b; k++) {
        const tok *t = &g->t[k];
        int i = t->kind == TK_KV ? param_index(tl, t->text) : -1;
        if (i >= 0 && !filled(tl, (size_t)i)) {
            set_arg(tl, (size_t)i, kv_value(&tl->p[i], t->val));
            fc->used[k] = 1;
        }
    }
    /* 2. paths, URLs, JSON pointers */
    for (size_t i = 0; i < tl->np; i++) {
        const param *p = &tl->p[i];
        if (filled(tl, i))
            continue;
        if (p->role == R_PATH) {
            fill_path(tl, i, fc);
        } else if (p->role == R_URL || p->role == R_POINTER) {
            for (size_t k = fc->s->a; k < fc->s->b; k++) {
                const tok *t = &g->t[k];
                bool take = p->role == R_URL ? t->kind == TK_URL
                                             : (t->kind == TK_WORD || t->kind == TK_QUOTED) && t->text[0] == '/';
                if (!fc->used[k] && take) {
                    set_arg(tl, i, json_string(t->text));
                    fc->used[k] = 1;
                    break;
                }
            }
        }
    }
    /* 3. what to find, its replacement, a command: quoted strings in order */
    long verb = verb_index(tl, fc);
    static const int order[] = {R_PATTERN, R_REPL, R_COMMAND};
    for (size_t r = 0; r < 3; r++)
        for (size_t i = 0; i < tl->np; i++) {
            if (filled(tl, i) || tl->p[i].role != order[r])
                continue;
            long k = next_quoted(fc);
            if (k < 0 && order[r] == R_PATTERN) {
                k = free_word_after(fc, verb);
            } else if (k < 0 && order[r] == R_REPL) {
                for (size_t j = fc->s->a; j < fc->s->b && k < 0; j++)
                    if (g->t[j].kind == TK_WORD && in_list(REPL_LEAD, g->t[j].lw))
                        k = free_word_after(fc, (long)j);
            } else if (k < 0 && order[r] == R_COMMAND && verb >= 0 && (size_t)verb + 1 < fc->s->b) {
                size_t a = g->t[verb + 1].off, b = g->t[fc->s->b - 1].end;
                set_arg(tl, i, json_stringn(g->text + a, b - a));
                for (size_t j = (size_t)verb + 1; j < fc->s->b; j++)
                    fc->used[j] = 1;
                continue;
            }
            if (k >= 0) {
                set_arg(tl, i, json_string(g->t[k].text));
                fc->used[k] = 1;
            }
        }
    /* 4. text: a quoted string, for a required parameter or an empty set */
    for (size_t i = 0; i < tl->np; i++) {
        const param *p = &tl->p[i];
        bool wanted = (tl->req & (1ull << i)) || (p->set >= 0 && !set_taken(tl, i));
        if (filled(tl, i) || p->role != R_TEXT || !wanted)
            continue;
        long k = next_quoted(fc);
        if (k < 0)
            continue;
        const char *s = g->t[k].text;
        json_t *v = p->types == T_STRING ? json_string(s) : kv_value(p, s);
        set_arg(tl, i, v);
        fc->used[k] = 1;
    }
    /* 5. enums, numbers, booleans */
    for (size_t i = 0; i < tl->np; i++) {
        const json_t *en = json_object_get(tl->p[i].schema, "enum");
        if (filled(tl, i) || !json_is_array(en))
            continue;
        for (size_t k = fc->s->a; k < fc->s->b && !filled(tl, i); k++) {
            size_t e;
            const json_t *ev;
            json_array_foreach(en, e, ev)
                if (json_is_string(ev) && g->t[k].kind == TK_WORD && !fc->used[k] &&
                    !strcasecmp(json_string_value(ev), g->t[k].text)) {
                    set_arg(tl, i, json_copy((json_t *)ev));
                    fc->used[k] = 1;
                    break;
                }
        }
    }
    fill_number_params(tl, fc);
    for (size_t i = 0; i < tl->np; i++) {
        if (filled(tl, i) || tl->p[i].types != T_BOOL)
            continue;
        bool all = true;
        int parts = 0;
        for (const char *s = tl->p[i].name; *s && all;) {
            size_t n = strcspn(s, "_");
            char lw[WMAX], st[WMAX];
            bool found = false;
            if (lower_copy(s, n, lw)) {
                stem(lw, st);
                for (size_t k = fc->s->a; k < fc->s->b && !found; k++)
                    found = g->t[k].kind == TK_WORD && !g->t[k].stop && !strcmp(g->t[k].st, st);
            }
            all = found;
            parts++;
            s += n;
            s += strspn(s, "_");
        }
        if (all && parts)
            set_arg(tl, i, json_true());
    }
    /* 6. the previous result */
    fill_chain(tl, fc);
    return 0;
}

/* ========================================================== questions */

static int q_add(json_t *qs, const char *prefix, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int q_add(json_t *qs, const char *prefix, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    int n = snprintf(msg, sizeof msg, "%s", prefix);
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    utf8_trim(msg);
    return json_array_append_new(qs, json_string(msg)) ? VENOM_E_NOMEM : 0;
}

/* Why no path could be used: names the offending words. */
static void path_reason(const fillctx *fc, bool dir, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (size_t k = fc->s->a; k < fc->s->b && n < cap; k++) {
        const tok *t = &fc->g->t[k];
        if (t->kind == TK_WORD && t->outside)
            n += (size_t)snprintf(out + n, cap - n, "%s%s is outside the workdir", n ? "; " : "", t->text);
        else if (t->kind == TK_WORD && t->pathlike && t->ptype == P_NONE)
            n += (size_t)snprintf(out + n, cap - n, "%s%s is not in the workdir", n ? "; " : "", t->text);
        else if (t->kind == TK_WORD && (t->ptype == P_DIR || t->ptype == P_FILE) && (t->ptype == P_DIR) != dir)
            n += (size_t)snprintf(out + n, cap - n, "%s%s is a %s", n ? "; " : "", t->text,
                                  t->ptype == P_DIR ? "directory" : "file");
    }
    if (!n)
        snprintf(out, cap, "none of the words names a %s in the workdir", dir ? "directory" : "file");
    utf8_trim(out);
}

static int missing_questions(const tool *tl, const fillctx *fc, const char *pre, json_t *qs)
{
    char why[512];
    int rc = 0;
    for (size_t i = 0; i < tl->np && !rc; i++) {
        const param *p = &tl->p[i];
        if (filled(tl, i) || !(tl->req & (1ull << i)))
            continue;
        if (tl->chain_fail & (1ull << i)) {
            rc = q_add(qs, pre, "%s", tl->chain_why);
            continue;
        }
        switch (p->role) {
        case R_PATH:
            path_reason(fc, p->want_dir && !p->want_file, why, sizeof why);
            rc = q_add(qs, pre, "which %s should %s use? (%s)", p->want_dir && !p->want_file ? "directory" : "file",
                       tl->name, why);
            break;
        case R_TEXT:
            rc = q_add(qs, pre, "what %s should %s get? (put it in quotes)", p->name, tl->name);
            break;
        case R_PATTERN:
            rc = q_add(qs, pre, "what should %s look for? (put it in quotes, or give %s=...)", tl->name, p->name);
            break;
        case R_REPL:
            rc = q_add(qs, pre, "what should %s put instead? (put it in quotes after \"with\")", tl->name);
            break;
        default:
            if (p->types & (T_INT | T_NUM))
                rc = q_add(qs, pre, "what number is %s for %s? (give %s=...)", p->name, tl->name, p->name);
            else
                rc = q_add(qs, pre, "what is %s for %s? (give %s=...)", p->name, tl->name, p->name);
        }
    }
    for (int s = 0; s < tl->nsets && !rc; s++) {
        bool ok = false, has_path = false, has_dir = false;
        char names[256] = "";
        size_t n = 0;
        for (int a = 0; a < tl->nalts[s]; a++) {
            ok |= (tl->filled & tl->alts[s][a]) == tl->alts[s][a];
            for (size_t i = 0; i < tl->np; i++) {
                if (!(tl->alts[s][a] & (1ull << i)))
                    continue;
                if (tl->p[i].role == R_PATH) {
                    has_path = true;
                    has_dir |= tl->p[i].want_dir && !tl->p[i].want_file;
                } else if (n < sizeof names) {
                    n += (size_t)snprintf(names + n, sizeof names - n, " or %s", tl->p[i].name);
                }
            }
        }
        if (ok)
            continue;
        bool chain_failed = false;
        for (int a = 0; a < tl->nalts[s]; a++)
            chain_failed |= (tl->alts[s][a] & tl->chain_fail) != 0;
        if (chain_failed) {
            rc = q_add(qs, pre, "%s", tl->chain_why);
        } else if (has_path) {
            path_reason(fc, has_dir, why, sizeof why);
            rc = q_add(qs, pre, "which %s%s should %s work on? (%s%s)", has_dir ? "directory" : "file", names, tl->name,
                       why, n ? "; or put the text in quotes" : "");
        } else {
            rc = q_add(qs, pre, "which of%s should %s get? (put it in quotes, or give name=...)", names + 3, tl->name);
        }
    }
    if (!rc && !tl->req && !tl->nsets && tl->nodefault && !(tl->filled & tl->nodefault)) {
        char names[256] = "";
        size_t n = 0;
        for (size_t i = 0; i < tl->np && n < sizeof names; i++)
            if (tl->nodefault & (1ull << i))
                n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", tl->p[i].name);
        rc = q_add(qs, pre, "what should %s get: %s? (quote it, or give name=...)", tl->name, names);
    }
    return rc;
}

/* ============================================================ a step */

typedef struct decision {
    long tool;     /* chosen tool, or -1 */
    json_t *args;  /* its arguments (owned) */
    double conf;
} decision;

static int by_score(const tool *tools, size_t a, size_t b)
{
    if (tools[a].score != tools[b].score)
        return tools[a].score > tools[b].score ? -1 : 1;
    return strcmp(tools[a].name, tools[b].name);
}

static double round2(double x)
{
    return floor(x * 100.0 + 0.5) / 100.0;
}

static void step_text(const goal_t *g, const step *s, char *out, size_t cap)
{
    size_t a = g->t[s->a].off, b = g->t[s->b - 1].end;
    snprintf(out, cap, "%.*s", (int)(b - a > 200 ? 200 : b - a), g->text + a);
    utf8_trim(out);
}

/*
 * Decide one step: score every tool, fill the best candidates, pick one.
 * Questions go to qs (prefixed with pre); d->tool is -1 when there are any.
 */
static int decide(const offline_opts *o, tool *tools, size_t nt, fillctx *fc, const char *pre, json_t *qs,
                  decision *d)
{
    gterm gt[MAXG];
    size_t ng = goal_terms(fc->g, fc->s, gt);
    int rc = 0;
    d->tool = -1;
    d->args = NULL;
    d->conf = 0;
    size_t order[256], n = nt < 256 ? nt : 256;
    for (size_t i = 0; i < n; i++) {
        tool *tl = &tools[i];
        tl->lex = tl->score = lexical(tl, fc->g, gt, ng);
        tl->ok = false;
        json_decref(tl->args);
        tl->args = NULL;
        size_t j = i; /* insertion by lexical score, then name */
        while (j > 0 && (tools[order[j - 1]].lex < tl->lex ||
                         (tools[order[j - 1]].lex == tl->lex && strcmp(tools[order[j - 1]].name, tl->name) > 0))) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    /* Fill the candidates best first, until the rest (whose score is at
     * most their lexical score) can change neither the best, the second
     * best, nor the rival of another intent. */
    size_t nf = 0;
    double s1 = 0, s2 = 0, r = 0;
    bool have_rival = false;
    for (size_t i = 0; i < n; i++) {
        tool *tl = &tools[order[i]];
        if (tl->lex <= 0 || (nf >= 2 && tl->lex < s2 && (have_rival ? tl->lex < r : tl->lex <= s1 - OFFLINE_MARGIN)))
            break;
        if ((rc = fill(tl, fc)) < 0)
            return rc;
        tl->ok = satisfied(tl, tl->filled);
        if (!tl->ok)
            tl->score = fmax(0, tl->lex - P_MISSING);
        size_t idx = order[i], j = nf++; /* nf == i: order[0..nf) by final score, then name */
        while (j > 0 && by_score(tools, idx, order[j - 1]) < 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = idx;
        s1 = tools[order[0]].score;
        s2 = nf > 1 ? tools[order[1]].score : 0;
        have_rival = false;
        for (size_t k = 1; k < nf && !have_rival; k++)
            if (strcmp(tools[order[k]].intent_s, tools[order[0]].intent_s))
                have_rival = true, r = tools[order[k]].score;
    }
    n = nf;
    char what[256];
    step_text(fc->g, fc->s, what, sizeof what);
    tool *best = n ? &tools[order[0]] : NULL;
    if (!best) {
        char with[WMAX + 16] = "";
        for (size_t k = fc->s->a; k < fc->s->b && !with[0]; k++)
            if (fc->g->t[k].kind == TK_WORD && (fc->g->t[k].ptype == P_FILE || fc->g->t[k].ptype == P_DIR))
                snprintf(with, sizeof with, " with %s", fc->g->t[k].text);
        utf8_trim(with);
        return q_add(qs, pre, "what should I do%s? (no word of \"%s\" matches what one of the %zu tools does)", with,
                     what, nt);
    }
    double second = n > 1 ? tools[order[1]].score : 0, other = 0;
    const tool *rival = NULL;
    for (size_t i = 1; i < n && !rival; i++)
        if (strcmp(tools[order[i]].intent_s, best->intent_s))
            rival = &tools[order[i]], other = rival->score;
    double strength = fmin(1.0, best->score / FULL_SCORE);
    d->conf = best->score > 0 ? round2(strength * (1.0 - 0.5 * second / best->score)) : 0;
    if (best->guessed)
        d->conf = round2(d->conf * PLAN_GUESS);
    if (rival && other > 0 && best->score - other < OFFLINE_MARGIN)
        return q_add(qs, pre, "did you mean %s or %s? (\"%s\" fits both)", best->name, rival->name, what);
    if (!best->ok)
        return missing_questions(best, fc, pre, qs);
    if (d->conf < o->threshold && best->guessed) {
        size_t i = 0;
        while (i + 1 < best->np && !(best->chained & (1ull << i)))
            i++;
        return q_add(qs, pre,
                     "is %s right for %s's %s? (%s declares no output schema, so it is a guess, only %.2f sure; the "
                     "threshold is %.2f)",
                     json_string_value(json_object_get(best->args, best->p[i].name)) ?: "?", best->name, best->p[i].name,
                     fc->prev_tool ? fc->prev_tool->name : "the previous tool", d->conf, o->threshold);
    }
    if (d->conf < o->threshold)
        return q_add(qs, pre, "which tool should do \"%s\"? (the best match, %s, is only %.2f sure; the threshold is %.2f)",
                     what, best->name, d->conf, o->threshold);
    d->tool = (long)order[0];
    d->args = best->args;
    best->args = NULL;
    return 0;
}

/* ========================================================== the answer */

/* The text of a message's content (string, or the text parts joined). */
static char *content_text(const json_t *c)
{
    if (json_is_string(c))
        return strdup(json_string_value(c));
    size_t len = 1, i;
    const json_t *p;
    json_array_foreach(c, i, p)
        len += json_string_length(json_object_get(p, "text")) + 1;
    char *s = malloc(len), *w = s;
    if (!s)
        return NULL;
    json_array_foreach(c, i, p)
    {
        const json_t *t = json_object_get(p, "text");
        if (!json_is_string(t))
            continue;
        if (w > s)
            *w++ = ' ';
        memcpy(w, json_string_value(t), json_string_length(t));
        w += json_string_length(t);
    }
    *w = 0;
    return s;
}

typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (b->n + (size_t)n + 1 > b->cap)) {
        size_t nc = (b->cap + (size_t)(n < 0 ? 0 : n) + 64) * 2;
        char *ns = n < 0 ? NULL : realloc(b->s, nc);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static void sb_json(sbuf *b, const json_t *v)
{
    if (json_is_string(v)) {
        sb_add(b, "%s", json_string_value(v));
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        b->oom = true;
        return;
    }
    sb_add(b, "%s", s);
    free(s);
}

/* A short human sentence for a tool result, or its compact JSON. */
static char *summarize(const char *content)
{
    json_t *v = json_loads(content, JSON_DECODE_ANY, NULL);
    sbuf b = {0};
    const json_t *x, *e;
    const char *k;
    size_t i;
    if (!v) {
        sb_add(&b, "%s", content);
        goto out;
    }
    if (json_is_real(v)) {
        sb_add(&b, "%.10g", json_real_value(v));
        goto out;
    }
    if (!json_is_object(v)) {
        sb_json(&b, v);
        goto out;
    }
    bool numbers = json_object_size(v) > 0;
    json_object_foreach(v, k, x)
        numbers &= json_is_number(x);
    if (numbers) { /* {"lines":2,"words":4} -> "2 lines, 4 words" */
        json_object_foreach(v, k, x)
        {
            size_t kl = strlen(k);
            bool one = json_is_integer(x) && json_integer_value(x) == 1 && kl > 1 && k[kl - 1] == 's';
            sb_add(&b, "%s", b.n ? ", " : "");
            sb_json(&b, x);
            sb_add(&b, " %.*s", (int)(one ? kl - 1 : kl), k);
        }
    } else if (json_is_integer(x = json_object_get(v, "replacements"))) {
        json_int_t r = json_integer_value(x);
        sb_add(&b, "%lld replacement%s", (long long)r, r == 1 ? "" : "s");
        if (json_is_string(x = json_object_get(v, "path")))
            sb_add(&b, " in %s", json_string_value(x));
        if (json_is_string(x = json_object_get(v, "text")))
            sb_add(&b, ": %s", json_string_value(x));
    } else if (json_is_string(x = json_object_get(v, "content")) || json_is_string(x = json_object_get(v, "text"))) {
        sb_add(&b, "%s", json_string_value(x));
    } else if (json_is_array(x = json_object_get(v, "lines"))) {
        json_array_foreach(x, i, e)
        {
            sb_add(&b, "%s", i ? "\n" : "");
            sb_json(&b, e);
        }
    } else if (json_is_array(x = json_object_get(v, "entries"))) {
        sb_add(&b, "%zu entr%s", json_array_size(x), json_array_size(x) == 1 ? "y" : "ies");
        json_array_foreach(x, i, e)
        {
            const char *ty = json_string_value(json_object_get(e, "type"));
            sb_add(&b, "%s", i ? ", " : ": ");
            sb_json(&b, json_object_get(e, "name"));
            sb_add(&b, "%s", ty && !strcmp(ty, "dir") ? "/" : "");
        }
    } else if (json_is_array(x = json_object_get(v, "matches"))) {
        size_t nm = json_array_size(x);
        sb_add(&b, "%zu match%s", nm, nm == 1 ? "" : "es");
        json_array_foreach(x, i, e)
        {
            if (json_object_get(e, "file")) {
                sb_add(&b, "\n");
                sb_json(&b, json_object_get(e, "file"));
                sb_add(&b, ":");
                sb_json(&b, json_object_get(e, "line"));
                sb_add(&b, ": ");
                sb_json(&b, json_object_get(e, "text"));
            } else {
                sb_add(&b, "%s", i ? ", " : ": ");
                sb_json(&b, json_object_get(e, "match"));
            }
        }
    } else if ((x = json_object_get(v, "value")) != NULL && json_object_size(v) == 1) {
        sb_json(&b, x);
    } else if (json_is_boolean(x = json_object_get(v, "valid"))) {
        sb_add(&b, "%s", json_is_true(x) ? "valid" : "not valid");
        json_array_foreach(json_object_get(v, "errors"), i, e)
        {
            sb_add(&b, "%s", i ? "; " : ": ");
            sb_json(&b, e);
        }
    } else if ((x = json_object_get(v, "exit_code")) != NULL && json_object_get(v, "stdout")) {
        if (!json_is_integer(x) || json_integer_value(x) != 0) {
            sb_add(&b, "exit code ");
            sb_json(&b, x);
            sb_add(&b, "\n");
        }
        sb_json(&b, json_object_get(v, "stdout"));
    } else if (json_is_string(x = json_object_get(v, "path")) && json_is_integer(json_object_get(v, "bytes")) &&
               json_object_size(v) == 2) {
        sb_add(&b, "wrote %lld bytes to %s", (long long)json_integer_value(json_object_get(v, "bytes")),
               json_string_value(x));
    } else {
        sb_json(&b, v);
    }
out:
    json_decref(v);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s ? b.s : strdup("");
}

/* The error message of a failed tool result. */
static char *error_text(const char *content)
{
    json_t *v = json_loads(content, JSON_DECODE_ANY, NULL);
    const json_t *e = json_object_get(v, "error");
    const char *s = json_string_value(e);
    if (!s)
        s = json_string_value(json_object_get(e, "message"));
    if (!s)
        s = json_string_value(json_object_get(v, "message"));
    if (!s)
        s = json_string_value(v);
    char *out = strdup(s ? s : content);
    json_decref(v);
    return out;
}

static json_t *response_new(const offline_opts *o, const json_t *req, const char *content, json_t *calls,
                            const char *finish, double conf, json_t *unresolved)
{
    const char *model = json_string_value(json_object_get(req, "model"));
    if (!model || !*model)
        model = o->model && *o->model ? o->model : "offline";
    json_t *msg = json_pack("{s:s, s:s}", "role", "assistant", "content", content);
    if (msg && calls && json_object_set(msg, "tool_calls", calls) < 0) {
        json_decref(msg);
        msg = NULL;
    }
    if (!msg)
        return NULL;
    return json_pack("{s:s, s:o, s:s, s:{s:i, s:i, s:i, s:i, s:b, s:{}}, s:f, s:O}", "model", model, "message", msg,
                     "finish", finish, "usage", "input_tokens", 0, "cached_input_tokens", 0, "cache_write_tokens", 0,
                     "output_tokens", 0, "missing", 0, "raw", "confidence", conf, "unresolved", unresolved);
}

/* ========================================================== plan mode */

/* Tool name "pack__skill" as the skill name "pack.skill" (new reference). */
static json_t *skill_name(const char *tool_name)
{
    size_t n = strlen(tool_name), k = 0;
    char *b = malloc(n + 1);
    if (!b)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (tool_name[i] == '_' && tool_name[i + 1] == '_') {
            b[k++] = '.';
            i++;
        } else {
            b[k++] = tool_name[i];
        }
    }
    json_t *j = json_stringn(b, k);
    free(b);
    return j;
}

/* A copy of v in which every "${" of a string is "$${" (a literal in a
 * plan: text from the goal is never a reference). New reference or NULL. */
static json_t *literal(const json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), extra = 0;
        for (size_t i = 0; i + 1 < n; i++)
            extra += s[i] == '$' && s[i + 1] == '{';
        if (!extra)
            return json_copy((json_t *)v);
        char *b = malloc(n + extra), *w = b;
        if (!b)
            return NULL;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '$' && i + 1 < n && s[i + 1] == '{')
                *w++ = '$';
            *w++ = s[i];
        }
        json_t *j = json_stringn(b, n + extra);
        free(b);
        return j;
    }
    json_t *out = json_is_object(v) ? json_object() : json_is_array(v) ? json_array() : NULL;
    if (!out)
        return json_is_object(v) || json_is_array(v) ? NULL : json_copy((json_t *)v);
    const char *k;
    const json_t *e;
    size_t i;
    json_object_foreach((json_t *)v, k, e)
        if (json_object_set_new(out, k, literal(e)) < 0)
            goto fail;
    json_array_foreach(v, i, e)
        if (json_array_append_new(out, literal(e)) < 0)
            goto fail;
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* One step of the plan: {"id", "skill", "args", "depends_on"?,
 * "description"}. after: the number of the step it must follow without a
 * reference to it (0: none). New reference or NULL. */
static json_t *plan_step_json(const goal_t *g, size_t j, const tool *tl, const json_t *args, size_t after)
{
    char id[32];
    snprintf(id, sizeof id, "s%zu", j + 1);
    json_t *st = json_object(), *a = json_object();
    if (!st || !a || json_object_set_new(st, "id", json_string(id)) < 0 ||
        json_object_set_new(st, "skill", skill_name(tl->name)) < 0)
        goto fail;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)args, k, v)
    {
        int i = param_index(tl, k);
        bool ref = i >= 0 && (tl->chained & (1ull << i));
        if (json_object_set_new(a, k, ref ? json_copy((json_t *)v) : literal(v)) < 0)
            goto fail;
    }
    if (json_object_set(st, "args", a) < 0)
        goto fail;
    if (after) {
        snprintf(id, sizeof id, "s%zu", after);
        if (json_object_set_new(st, "depends_on", json_pack("[s]", id)) < 0)
            goto fail;
    }
    const step *s = &g->s[j];
    size_t x = g->t[s->a].off, y = g->t[s->b - 1].end;
    json_t *d = json_stringn(g->text + x, y - x);
    if (d && json_object_set_new(st, "description", d) < 0)
        goto fail;
    json_decref(a);
    return st;
fail:
    json_decref(a);
    json_decref(st);
    return NULL;
}

/*
 * Plan mode (metadata.purpose "plan"): decide every step at once and answer
 * with the whole plan as the text of one JSON object {"steps", "confidence",
 * "questions"} (docs/providers/offline.md "Plan mode"). A step that takes
 * the previous step's result gets a ${steps.sK.result/FIELD} reference; any
 * other step after the first depends_on the step before it. qs collects the
 * questions.
 */
/* A goal planned again with the user's answer (venom run on a terminal,
 * docs/plan.md "Planning a goal"): "GOAL\n\nQuestions asked:\nQ…\nThe
 * user's answer: A", once per round. The questions are the engine's own
 * words ("…; or put the text in quotes"): read as goal they would split
 * steps and match tools, so each block up to the answer is dropped, in
 * place, leaving the goal and the answers. */
static void drop_questions(char *text)
{
    static const char head[] = "\n\nQuestions asked:\n", tail[] = "\nThe user's answer: ";
    char *at = text;
    while ((at = strstr(at, head)) != NULL) {
        char *end = strstr(at + sizeof head - 1, tail);
        if (!end)
            break;
        end += sizeof tail - 1;
        *at++ = '\n'; /* the answer stays a line of its own */
        memmove(at, end, strlen(end) + 1);
    }
}

static int plan_answer(const offline_opts *o, const json_t *req, goal_t *g, tool *tools, size_t ntools,
                       unsigned char *used, json_t *qs, json_t **res)
{
    json_t *steps = json_array(), *body = NULL;
    char *text = NULL;
    created cr = {0};
    double cmin = 1.0, low = fmax(0, round2(o->threshold - 0.01));
    long prev = -1;   /* tool of the previous step, -1 when it is undecided */
    size_t last = 0;  /* number of the last step in the plan */
    int rc = VENOM_E_NOMEM;
    if (!steps)
        goto out;
    if (!ntools || g->ns == 0) {
        if (q_add(qs, "", "%s",
                  !ntools ? "which tool should I use? (the request lists no tools; install a skill pack)"
                          : "what should I do? (the goal is empty)") < 0)
            goto out;
        cmin = 0;
    }
    for (size_t j = 0; ntools && j < g->ns; j++) {
        fillctx fc = {.g = g, .s = &g->s[j], .used = used, .cr = &cr, .chain = j > 0, .assume_chain = j > 0 && prev < 0,
                      .plan = true, .prev_tool = prev >= 0 ? &tools[prev] : NULL, .prev_step = j};
        char pre[32] = "";
        if (g->ns > 1)
            snprintf(pre, sizeof pre, "step %zu: ", j + 1);
        size_t before = json_array_size(qs);
        decision d;
        if ((rc = decide(o, tools, ntools, &fc, pre, qs, &d)) < 0)
            goto out;
        rc = VENOM_E_NOMEM;
        bool asked = json_array_size(qs) > before || d.tool < 0;
        /* it needs the result of an undecided step: undecided too (the
         * question about that step covers it) */
        bool blocked = !asked && fc.assume_chain && tools[d.tool].chained;
        cmin = fmin(cmin, asked ? fmin(d.conf, low) : d.conf);
        if (d.tool >= 0 && tools[d.tool].write_like && cr.n < 16) {
            const tool *tl = &tools[d.tool];
            for (size_t p = 0; p < tl->np; p++)
                if (tl->p[p].role == R_PATH && json_is_string(json_object_get(d.args, tl->p[p].name)) && cr.n < 16)
                    snprintf(cr.name[cr.n++], sizeof cr.name[0], "%s",
                             json_string_value(json_object_get(d.args, tl->p[p].name)));
        }
        if (asked || blocked) {
            prev = -1;
            json_decref(d.args);
            continue;
        }
        json_t *st = plan_step_json(g, j, &tools[d.tool], d.args, tools[d.tool].chained ? 0 : last);
        json_decref(d.args);
        if (!st || json_array_append_new(steps, st) < 0)
            goto out;
        prev = d.tool;
        last = j + 1;
    }
    if (!(body = json_pack("{s:O, s:f, s:O}", "steps", steps, "confidence", cmin, "questions", qs)) ||
        !(text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15))))
        goto out;
    *res = response_new(o, req, text, NULL, "stop", cmin, qs);
    rc = *res ? 0 : VENOM_E_NOMEM;
out:
    free(text);
    json_decref(body);
    json_decref(steps);
    return rc;
}

int offline_opts_parse(const json_t *config, offline_opts *o, char *err, size_t errlen)
{
    o->threshold = OFFLINE_DEFAULT_THRESHOLD;
    o->model = NULL;
    if (!config)
        return 0;
    if (!json_is_object(config)) {
        snprintf(err, errlen, "offline: the provider configuration is not an object");
        return VENOM_E_INVAL;
    }
    o->model = json_string_value(json_object_get(config, "model"));
    const json_t *opts = json_object_get(config, "options");
    if (!opts || json_is_null(opts))
        return 0;
    if (!json_is_object(opts)) {
        snprintf(err, errlen, "providers.offline.options must be an object, e.g. {\"threshold\": 0.5}");
        return VENOM_E_INVAL;
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)opts, k, v)
    {
        if (strcmp(k, "threshold")) {
            /* the key as written, on one line: control characters shown as
             * '?', at most 64 bytes, not cut inside a character */
            char shown[65];
            size_t n = 0;
            for (const unsigned char *q = (const unsigned char *)k; *q && n < sizeof shown - 1; q++)
                shown[n++] = *q < 0x20 || *q == 0x7f ? '?' : (char)*q;
            size_t lead = n;
            while (lead > 0 && ((unsigned char)shown[lead - 1] & 0xc0) == 0x80)
                lead--;
            if (lead > 0 && (unsigned char)shown[lead - 1] >= 0xc0) {
                unsigned char b = (unsigned char)shown[lead - 1];
                size_t want = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
                if (n - (lead - 1) < want)
                    n = lead - 1; /* the last character was cut */
            }
            shown[n] = '\0';
            snprintf(err, errlen, "providers.offline.options.%s is not an option of the offline provider; the only one is threshold",
                     shown);
            return VENOM_E_INVAL;
        }
        double t = json_number_value(v);
        if (!json_is_number(v) || !(t >= 0 && t <= 1)) {
            snprintf(err, errlen, "providers.offline.options.threshold must be a number from 0 to 1 (default 0.5)");
            return VENOM_E_INVAL;
        }
        o->threshold = t;
    }
    return 0;
}

static void goal_release(goal_t *g)
{
    free(g->arena);
    free(g->t);
    free(g->s);
}

struct offline_tools {
    json_t *json; /* the tools array: the tools' strings point into it */
    tool *t;
    size_t n;
};

void offline_tools_free(offline_tools *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < ts->n; i++)
        free(ts->t[i].v);
    free(ts->t);
    json_decref(ts->json);
    free(ts);
}

int offline_tools_new(const json_t *tools, offline_tools **out, char *err, size_t errlen)
{
    *out = NULL;
    pthread_once(&tables_once, tables_init);
    if (tools && !json_is_array(tools)) {
        snprintf(err, errlen, "offline: request.tools is not an array");
        return VENOM_E_INVAL;
    }
    offline_tools *ts = calloc(1, sizeof *ts);
    size_t n = json_array_size(tools);
    if (n > 256)
        n = 256;
    if (!ts || (n && !(ts->t = calloc(n, sizeof *ts->t)))) {
        free(ts);
        snprintf(err, errlen, "offline: out of memory");
        return VENOM_E_NOMEM;
    }
    ts->json = json_incref((json_t *)tools);
    for (size_t i = 0; i < n; i++) {
        int rc = tool_parse(json_array_get(tools, i), i, &ts->t[i], err, errlen);
        ts->n = i + 1;
        if (rc == 0 && vocab_build(&ts->t[i]) < 0) {
            snprintf(err, errlen, "offline: out of memory");
            rc = VENOM_E_NOMEM;
        }
        if (rc < 0) {
            offline_tools_free(ts);
            return rc;
        }
    }
    *out = ts;
    return 0;
}

int offline_engine_answer(const offline_opts *o, const json_t *req, const offline_tools *ts, json_t **response,
                          char *err, size_t errlen)
{
    goal_t g = {0};
    offline_tools *own = NULL;
    tool *tools = NULL;
    size_t ntools = 0;
    unsigned char *used = NULL;
    char *gtext = NULL, *text = NULL;
    json_t *qs = NULL, *calls = NULL, *res = NULL;
    const json_t **results = NULL;
    json_t **parsed = NULL;
    size_t nres = 0;
    decision cur = {.tool = -1};
    int rc = VENOM_E_NOMEM;
    *response = NULL;
    pthread_once(&tables_once, tables_init);
    if (!o || !json_is_object(req)) {
        snprintf(err, errlen, "offline: the request is not a JSON object");
        return VENOM_E_INVAL;
    }
    /* the goal: the last user message; the tool results after it */
    const json_t *msgs = json_object_get(req, "messages"), *m;
    size_t i, user = SIZE_MAX;
    if (!json_is_array(msgs)) {
        snprintf(err, errlen, "offline: request.messages is not an array");
        return VENOM_E_INVAL;
    }
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role) {
            snprintf(err, errlen, "offline: request.messages[%zu] has no role", i);
            return VENOM_E_INVAL;
        }
        if (!strcmp(role, "user"))
            user = i;
    }
    if (user == SIZE_MAX) {
        snprintf(err, errlen, "offline: the request has no user message (nothing to do)");
        return VENOM_E_INVAL;
    }
    const char *purpose = json_string_value(json_object_get(json_object_get(req, "metadata"), "purpose"));
    bool plan = purpose && !strcmp(purpose, "plan");
    if (!(results = calloc(json_array_size(msgs) + 1, sizeof *results)) ||
        !(parsed = calloc(json_array_size(msgs) + 1, sizeof *parsed)))
        goto out;
    for (i = user + 1; !plan && i < json_array_size(msgs); i++) { /* a plan ignores results */
        m = json_array_get(msgs, i);
        if (!strcmp(json_string_value(json_object_get(m, "role")), "tool"))
            results[nres++] = m;
    }
    if (!(gtext = content_text(json_object_get(json_array_get(msgs, user), "content"))))
        goto out;
    if (plan)
        drop_questions(gtext);
    if (!(qs = json_array()))
        goto out;

    /* the last tool call failed: stop there */
    if (nres > 0 && json_is_true(json_object_get(results[nres - 1], "is_error"))) {
        const json_t *c = json_object_get(results[nres - 1], "content");
        char *dumped = json_is_string(c) ? NULL : json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
        char *msg = error_text(json_is_string(c) ? json_string_value(c) : dumped ? dumped : "");
        const char *tname = json_string_value(json_object_get(results[nres - 1], "name"));
        free(dumped);
        if (!msg)
            goto out;
        size_t n = strlen(msg) + 128 + (tname ? strlen(tname) : 0);
        if ((text = malloc(n)) != NULL)
            snprintf(text, n, "step %zu (%s) failed: %s", nres, tname ? tname : "?", msg);
        free(msg);
        if (!text || !(res = response_new(o, req, text, NULL, "error", 1.0, qs)))
            goto out;
        rc = 0;
        goto out;
    }

    /* tools: analysed once per tool set, copied for this call's scores */
    if (!ts) {
        if ((rc = offline_tools_new(json_object_get(req, "tools"), &own, err, errlen)) < 0)
            goto out;
        ts = own;
    }
    ntools = ts->n;
    rc = VENOM_E_NOMEM;
    if (ntools && !(tools = malloc(ntools * sizeof *tools)))
        goto out;
    if (ntools)
        memcpy(tools, ts->t, ntools * sizeof *tools);
    rc = VENOM_E_NOMEM;

    /* the goal */
    g.text = gtext;
    g.arena_cap = 3 * strlen(gtext) + 64;
    if (!(g.arena = malloc(g.arena_cap)) || tokenize(&g) < 0)
        goto out;
    analyse_words(&g);
    wdir w = {.path = json_string_value(json_object_get(json_object_get(req, "metadata"), "workdir"))};
    classify_paths(&g, &w);
    if (split_steps(&g) < 0 || !(used = calloc(g.nt + 1, 1)))
        goto out;
    if (plan) {
        rc = plan_answer(o, req, &g, tools, ntools, used, qs, &res);
        goto out;
    }
    const char *choice = json_string_value(json_object_get(req, "tool_choice"));
    if (!ntools || g.ns == 0 || (choice && !strcmp(choice, "none") && nres == 0)) {
        const char *q = !ntools         ? "which tool should I use? (the request lists no tools; install a skill pack)"
                        : g.ns == 0     ? "what should I do? (the goal is empty)"
                                        : "may I use a tool? (tool_choice is \"none\" and I cannot answer without one)";
        if (q_add(qs, "", "%s", q) < 0 || !(text = malloc(strlen(q) + 32)))
            goto out;
        snprintf(text, strlen(q) + 32, "I could not decide: %s", q);
        res = response_new(o, req, text, NULL, "stop", 0.0, qs);
        rc = res ? 0 : VENOM_E_NOMEM;
        goto out;
    }

    /* every step in order: executed ones (to know the files they create),
     * the current one (its call), the later ones (can they be decided?) */
    created cr = {0};
    double conf_min = 1.0, conf_q = -1;
    for (size_t j = 0; j < g.ns; j++) {
        if (j > 0 && j <= nres && !parsed[j - 1]) {
            const json_t *c = json_object_get(results[j - 1], "content");
            parsed[j - 1] = json_is_string(c) ? json_loads(json_string_value(c), JSON_DECODE_ANY, NULL) : NULL;
            if (!parsed[j - 1] && json_is_string(c))
                parsed[j - 1] = json_copy((json_t *)c);
        }
        fillctx fc = {.g = &g, .s = &g.s[j], .used = used, .cr = &cr, .prev = j > 0 && j <= nres ? parsed[j - 1] : NULL,
                      .chain = j > 0, .assume_chain = j > nres};
        char pre[32] = "";
        if (g.ns > 1)
            snprintf(pre, sizeof pre, "step %zu: ", j + 1);
        size_t before = json_array_size(qs);
        decision d;
        if ((rc = decide(o, tools, ntools, &fc, pre, qs, &d)) < 0)
            goto out;
        rc = VENOM_E_NOMEM;
        if (j < nres) /* already done: its questions do not matter now */
            while (json_array_size(qs) > before)
                json_array_remove(qs, json_array_size(qs) - 1);
        else if (json_array_size(qs) > before && conf_q < 0)
            conf_q = d.conf;
        if (d.conf < conf_min)
            conf_min = d.conf;
        if (d.tool >= 0 && tools[d.tool].write_like && cr.n < 16) {
            const tool *tl = &tools[d.tool];
            for (size_t p = 0; p < tl->np; p++)
                if (tl->p[p].role == R_PATH && json_is_string(json_object_get(d.args, tl->p[p].name)) && cr.n < 16)
                    snprintf(cr.name[cr.n++], sizeof cr.name[0], "%s",
                             json_string_value(json_object_get(d.args, tl->p[p].name)));
        }
        if (j == nres)
            cur = d;
        else
            json_decref(d.args);
    }

    /* tool_choice "none" after results (the answer turn of a plan run): no
     * more calls, the final text from what was done */
    bool none = choice && !strcmp(choice, "none");
    if (json_array_size(qs) > 0 && !none) {
        sbuf b = {0};
        sb_add(&b, "I could not decide:");
        json_array_foreach(qs, i, m)
            sb_add(&b, " %s", json_string_value(m));
        if (b.oom) {
            free(b.s);
            goto out;
        }
        text = b.s;
        res = response_new(o, req, text, NULL, "stop", conf_q < 0 ? 0 : conf_q, qs);
    } else if (nres < g.ns && !none) {
        const tool *tl = &tools[cur.tool];
        char id[32];
        snprintf(id, sizeof id, "call_%zu", nres + 1);
        if (!(calls = json_pack("[{s:s, s:s, s:O}]", "id", id, "name", tl->name, "arguments", cur.args)))
            goto out;
        res = response_new(o, req, "", calls, "tool_calls", cur.conf, qs);
    } else {
        const json_t *c = json_object_get(results[nres - 1], "content");
        char *dumped = json_is_string(c) ? NULL : json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
        text = summarize(json_is_string(c) ? json_string_value(c) : dumped ? dumped : "");
        free(dumped);
        if (!text)
            goto out;
        json_array_clear(qs);
        res = response_new(o, req, text, NULL, "stop", conf_min, qs);
    }
    rc = res ? 0 : VENOM_E_NOMEM;
out:
    if (rc == VENOM_E_NOMEM)
        snprintf(err, errlen, "offline: out of memory");
    if (rc == 0)
        *response = res;
    else
        json_decref(res);
    json_decref(cur.args);
    json_decref(calls);
    json_decref(qs);
    if (parsed)
        for (i = 0; i <= json_array_size(msgs); i++)
            json_decref(parsed[i]);
    free(parsed);
    free(results);
    for (i = 0; tools && i < ntools; i++)
        json_decref(tools[i].args);
    free(tools);
    offline_tools_free(own);
    free(used);
    free(text);
    free(gtext);
    goal_release(&g);
    return rc;
}
