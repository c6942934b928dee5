/*
 * test_store.c — the SQLite event log: schema and migrations, the hash chain
 * (recomputed here without store_event_hash, and by the Python verifier of
 * docs/internals/store.md), tamper detection, the append-only triggers,
 * redaction (the secret is nowhere in the file), run.finished, killed-run
 * marking across processes, concurrent writers, lookups and clear errors.
 * Every test uses a real database file in a fresh directory.
 */
#include "testsupport.h"
#include "util/common.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static char *dir;
static char *dbpath;

static int setup(void **state)
{
    (void)state;
    dir = ts_mkdtemp();
    dbpath = mem_printf("%s/venom.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(dir);
    free(dir);
    mem_free(dbpath);
    return 0;
}

static store *open_ok(void)
{
    store *s = NULL;
    char *err = NULL;
    int rc = store_open(dbpath, &s, &err);
    if (rc < 0)
        fail_msg("store_open: %s", err);
    assert_non_null(s);
    return s;
}

static char *open_err(int *rc_out)
{
    store *s = NULL;
    char *err = NULL;
    int rc = store_open(dbpath, &s, &err);
    assert_true(rc < 0);
    assert_null(s);
    assert_non_null(err);
    assert_null(strchr(err, '\n'));
    if (rc_out)
        *rc_out = rc;
    return err;
}

static void new_run(store *s, const char *goal, char id[32])
{
    char *err = NULL;
    if (store_run_new(s, goal, id, &err) < 0)
        fail_msg("store_run_new: %s", err);
}

/* Append a payload given as JSON text; returns the stored event (new ref). */
static json_t *append(store *s, const char *id, const char *type, const char *payload)
{
    json_t *p = payload ? json_loads(payload, 0, NULL) : NULL;
    assert_true(!payload || p);
    json_t *ev = NULL;
    char *err = NULL;
    int rc = store_append(s, id, type, p, &ev, &err);
    json_decref(p);
    if (rc < 0)
        fail_msg("store_append %s: %s", type, err);
    assert_non_null(ev);
    return ev;
}

static char *append_err(store *s, const char *id, const char *type, const char *payload, int want)
{
    json_t *p = payload ? json_loads(payload, 0, NULL) : NULL;
    json_t *ev = NULL;
    char *err = NULL;
    int rc = store_append(s, id, type, p, &ev, &err);
    json_decref(p);
    assert_int_equal(rc, want);
    assert_null(ev);
    assert_non_null(err);
    return err;
}

static void verify_ok(store *s, const char *id)
{
    char *err = NULL;
    if (store_verify(s, id, &err) < 0)
        fail_msg("store_verify %s: %s", id, err);
}

static sqlite3 *raw_open(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *e = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK)
        fail_msg("%s: %s", sql, e);
}

static long long raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void get_ok(store *s, const char *id, store_run *r)
{
    char *err = NULL;
    if (store_run_get(s, id, r, &err) < 0)
        fail_msg("store_run_get %s: %s", id, err);
}

/* ---- schema ---- */

static void test_create_and_migrate(void **state)
{
    (void)state;
    store *s = open_ok();
    store_close(s);
    sqlite3 *db = raw_open();
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 5);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('events','runs','meta','events_type','events_no_update','events_no_delete')"),
                     6);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM meta WHERE key = 'event_version' AND value = '1'"), 1);
    sqlite3_close(db);
    /* opening again is a no-op migration, and the data stays */
    s = open_ok();
    char id[32];
    new_run(s, "again", id);
    store_close(s);
    s = open_ok();
    store_run r;
    get_ok(s, id, &r);
    assert_string_equal(r.goal, "again");
    assert_string_equal(r.status, "running");
    assert_null(r.finished);
    store_run_clear(&r);
    store_close(s);
}

/* ---- the chain ---- */

static bool is_crockford(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", s[i]))
            return false;
    return true;
}

typedef struct collect {
    int n;
    int64_t seq[16];
    char type[16][32];
} collect;

static int collect_fn(void *user, const json_t *ev)
{
    collect *c = user;
    c->seq[c->n] = json_integer_value(json_object_get(ev, "seq"));
    snprintf(c->type[c->n], sizeof c->type[0], "%s", json_string_value(json_object_get(ev, "type")));
    c->n++;
    return 0;
}

#define ZERO64 "0000000000000000000000000000000000000000000000000000000000000000"

static void test_append_and_chain(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    new_run(s, "count the words", id);
    assert_int_equal(strlen(id), 17);
    assert_int_equal(id[0], 'r');
    assert_true(is_crockford(id + 1, 16));

    char prev[65] = ZERO64;
    for (int i = 0; i < 5; i++) {
        json_t *ev = append(s, id, i ? "step.started" : "run.started", "{\"zeta\":1,\"alpha\":{\"y\":2,\"x\":3}}");
        char *text = json_dumps(ev, STORE_JSON_FLAGS);
        char head[160];
        snprintf(head, sizeof head, "{\"v\":1,\"type\":\"%s\",\"run_id\":\"%s\",\"seq\":%d,\"ts\":\"",
                 i ? "step.started" : "run.started", id, i);
        assert_memory_equal(text, head, strlen(head));
        /* payload in the caller's order (not sorted), then prev, then hash */
        char tail[256];
        snprintf(tail, sizeof tail, "\",\"zeta\":1,\"alpha\":{\"y\":2,\"x\":3},\"prev\":\"%s\",\"hash\":\"", prev);
        assert_non_null(strstr(text, tail));
        const char *ts = json_string_value(json_object_get(ev, "ts"));
        assert_int_equal(strlen(ts), 24);
        assert_true(ts[4] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[19] == '.' && ts[23] == 'Z');
        const char *hash = json_string_value(json_object_get(ev, "hash"));
        assert_int_equal(strlen(hash), 64);
        assert_string_not_equal(hash, prev);
        snprintf(prev, sizeof prev, "%s", hash);
        assert_null(strchr(text, '\n'));
        mem_free(text);
        json_decref(ev);
    }
    verify_ok(s, id);

    collect c = {0};
    char *err = NULL;
    assert_int_equal(store_events(s, id, collect_fn, &c, &err), 0);
    assert_int_equal(c.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(c.seq[i], i);
    assert_string_equal(c.type[0], "run.started");
    store_run r;
    get_ok(s, id, &r);
    assert_int_equal(r.events, 5);
    store_run_clear(&r);

    /* bad input: clear errors, nothing appended */
    err = append_err(s, id, "Step Started", NULL, -EINVAL);
    assert_non_null(strstr(err, "event type"));
    mem_free(err);
    err = append_err(s, id, "step.done", "[1,2]", -EINVAL);
    assert_non_null(strstr(err, "must be an object"));
    mem_free(err);
    err = append_err(s, id, "step.done", "{\"seq\":9}", -EINVAL);
    assert_non_null(strstr(err, "\"seq\""));
    mem_free(err);
    err = append_err(s, "r01AAAAAAAAAAAAAAA", "step.done", NULL, -ENOENT);
    assert_non_null(strstr(err, "no run 'r01AAAAAAAAAAAAAAA'"));
    mem_free(err);
    get_ok(s, id, &r);
    assert_int_equal(r.events, 5);
    store_run_clear(&r);
    verify_ok(s, id);
    store_close(s);
}

/* ---- the hash, recomputed without store_event_hash ---- */

static const char tricky[] =
    "{\"text\":\"caf\\u00e9 \\u001b[1mbold\\u001b[0m\\ttab / slash \\u2028 \\\"q\\\" \\\\ \\u0001\","
    "\"cost\":0.1,\"big\":1e20,\"tiny\":1e-7,\"whole\":2.0,\"neg\":-3,\"ok\":true,\"no\":false,\"none\":null,"
    "\"list\":[1,2.5,\"x\",[],{}],\"nested\":{\"b\":1,\"a\":{\"d\":[],\"c\":{}}},\"\\u00e9t\\u00e9\":\"key\","
    "\"Zed\":\"upper\"}";

/* The Python verifier of docs/internals/store.md (between ```python and ```). */
static char *doc_verifier(void)
{
    const char *src = getenv("VENOM_SRC");
    if (!src || access("/usr/bin/python3", X_OK) != 0)
        return NULL;
    char *path = mem_printf("%s/docs/internals/store.md", src);
    char *doc = ts_read(path);
    mem_free(path);
    assert_non_null(doc);
    char *a = strstr(doc, "```python\n");
    assert_non_null(a);
    a += strlen("```python\n");
    char *b = strstr(a, "\n```");
    assert_non_null(b);
    b[1] = '\0';
    char *script = ts_write(dir, "verify.py", a);
    free(doc);
    return script;
}

static int run_verifier(const char *script, ts_proc *p)
{
    char *argv[] = {"/usr/bin/python3", (char *)script, dbpath, NULL};
    assert_int_equal(ts_run(argv, NULL, NULL, 60, p), 0);
    return p->status;
}

static void test_hash_recomputed_independently(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    new_run(s, "hash", id);
    json_decref(append(s, id, "run.started", "{\"goal\":\"hash\"}"));
    json_decref(append(s, id, "tool.result", tricky));
    json_decref(append(s, id, "run.finished", "{\"status\":\"done\",\"cost\":0.0123}"));
    store_close(s);

    sqlite3 *db = raw_open();
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, body, prev, hash FROM events WHERE run_id = ?1 ORDER BY seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    char prev[65] = ZERO64;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_int_equal(sqlite3_column_int(st, 0), n);
        const char *body = (const char *)sqlite3_column_text(st, 1);
        json_t *ev = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
        assert_non_null(ev);
        /* the stored text is exactly the compact print of the event */
        char *again = json_dumps(ev, STORE_JSON_FLAGS);
        assert_string_equal(again, body);
        free(again);
        char stored[65];
        snprintf(stored, sizeof stored, "%s", json_string_value(json_object_get(ev, "hash")));
        assert_string_equal(stored, (const char *)sqlite3_column_text(st, 3));
        assert_string_equal(json_string_value(json_object_get(ev, "prev")), prev);
        assert_string_equal((const char *)sqlite3_column_text(st, 2), prev);
        /* the hash covers the stored text up to ,"hash":"…" plus "}" */
        const char *cut = strstr(body, ",\"hash\":\"");
        assert_non_null(cut);
        assert_string_equal(cut + 9 + 64, "\"}");
        char *canon = mem_printf("%.*s}", (int)(cut - body), body);
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, (const unsigned char *)canon, strlen(canon));
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        assert_string_equal(hex, stored);
        if (n == 1) /* UTF-8 as is, control chars as \u00XX, reals at 17 digits: whatever jansson wrote */
            assert_non_null(strstr(canon, "\"text\":\"caf\xc3\xa9 \\u001B[1mbold\\u001B[0m\\ttab / slash \xe2\x80\xa8"));
        mem_free(canon);
        json_decref(ev);
        memcpy(prev, stored, sizeof prev);
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(n, 3);

    char *script = doc_verifier();
    if (!script) {
        print_message("python3 or VENOM_SRC missing: the documented Python verifier was not run\n");
        return;
    }
    ts_proc p;
    int status = run_verifier(script, &p);
    if (status != 0)
        fail_msg("python verifier: %s%s", p.out, p.err);
    assert_non_null(strstr(p.out, "ok: 1 runs, 3 events"));
    ts_proc_release(&p);
    free(script);
}

/* ---- tampering ---- */

static void raw_execf(sqlite3 *db, const char *fmt, const char *a)
{
    char *sql = sqlite3_mprintf(fmt, a);
    raw_exec(db, sql);
    sqlite3_free(sql);
}

static void make_run(store *s, char id[32], int events)
{
    new_run(s, "tamper", id);
    for (int i = 0; i < events; i++) {
        char p[32];
        snprintf(p, sizeof p, "{\"n\":%d}", i);
        json_decref(append(s, id, "step.done", p));
    }
}

static void verify_broken_at(store *s, const char *id, const char *want)
{
    char *err = NULL;
    assert_int_equal(store_verify(s, id, &err), -EBADMSG);
    assert_non_null(err);
    if (!strstr(err, want))
        fail_msg("expected '%s' in: %s", want, err);
    mem_free(err);
}

static void test_tamper_detected(void **state)
{
    (void)state;
    store *s = open_ok();
    char a[32], b[32], c[32];
    make_run(s, a, 6);
    make_run(s, b, 6);
    make_run(s, c, 6);
    store_close(s);

    sqlite3 *db = raw_open();
    raw_exec(db, "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete");
    /* a: one body edited */
    raw_execf(db, "UPDATE events SET body = replace(body, '\"n\":3', '\"n\":33') WHERE run_id = %Q AND seq = 3", a);
    assert_int_equal(sqlite3_changes(db), 1);
    /* b: event 2 rewritten with a correct hash of its new content: event 3's prev breaks */
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT body FROM events WHERE run_id = ?1 AND seq = 2", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, b, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    json_t *ev = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    json_object_set_new(ev, "n", json_integer(222));
    json_object_del(ev, "hash");
    char hex[65];
    assert_int_equal(store_event_hash(ev, hex), 0);
    json_object_set_new(ev, "hash", json_string(hex));
    char *body = json_dumps(ev, STORE_JSON_FLAGS);
    json_decref(ev);
    char *sql = sqlite3_mprintf("UPDATE events SET body = %Q, hash = %Q WHERE run_id = %Q AND seq = 2", body, hex, b);
    raw_exec(db, sql);
    sqlite3_free(sql);
    free(body);
    /* c: the last event removed */
    raw_execf(db, "DELETE FROM events WHERE run_id = %Q AND seq = 5", c);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);

    s = open_ok();
    verify_broken_at(s, a, "chain broken at seq 3: its hash does not match its content");
    verify_broken_at(s, b, "chain broken at seq 3: its prev is not the hash of the event before it");
    verify_broken_at(s, c, "chain broken at seq 5");
    store_close(s);

    char *script = doc_verifier();
    if (script) {
        ts_proc p;
        assert_int_not_equal(run_verifier(script, &p), 0);
        char want[64];
        snprintf(want, sizeof want, "%s: chain broken at seq 3", a);
        assert_non_null(strstr(p.out, want));
        snprintf(want, sizeof want, "%s: chain broken at seq 3", b);
        assert_non_null(strstr(p.out, want));
        ts_proc_release(&p);
        free(script);
    }
}

static void test_triggers_refuse_update_delete(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    make_run(s, id, 3);
    store_close(s);
    sqlite3 *db = raw_open();
    char *e = NULL;
    assert_int_equal(sqlite3_exec(db, "UPDATE events SET type = 'x' WHERE seq = 1", NULL, NULL, &e), SQLITE_CONSTRAINT);
    assert_non_null(strstr(e, "append-only: UPDATE refused"));
    sqlite3_free(e);
    e = NULL;
    assert_int_equal(sqlite3_exec(db, "DELETE FROM events", NULL, NULL, &e), SQLITE_CONSTRAINT);
    assert_non_null(strstr(e, "append-only: DELETE refused"));
    sqlite3_free(e);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM events WHERE type = 'step.done'"), 3);
    sqlite3_close(db);
    s = open_ok();
    verify_ok(s, id);
    store_close(s);
}

/* ---- redaction ---- */

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t cap = 1 << 16, len = 0;
    char *data = malloc(cap);
    size_t k;
    while ((k = fread(data + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap)
            data = realloc(data, cap *= 2);
    }
    fclose(f);
    bool hit = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return hit;
}

#define SECRET "sk-ant-api03-SECRETSECRET-0123456789"

static void test_redaction(void **state)
{
    (void)state;
    store *s = open_ok();
    const char *secrets[] = {SECRET, "SECRETSECRET", "abc", NULL};
    assert_int_equal(store_set_redactions(s, secrets, 4), 0);
    char id[32];
    new_run(s, "use key " SECRET " please", id);
    json_t *payload = json_pack("{s:{s:s,s:s},s:[s,i,[s]],s:s,s:s}", "headers", "x-api-key", SECRET, "accept",
                                "text/event-stream", "items", "a " SECRET " b " SECRET, 5, "deep " SECRET, "short",
                                "abc abc", "part", "only SECRETSECRET here");
    json_t *ev = NULL;
    char *err = NULL;
    assert_int_equal(store_append(s, id, "model.request", payload, &ev, &err), 0);
    /* the caller's payload is untouched */
    assert_string_equal(json_string_value(json_object_get(json_object_get(payload, "headers"), "x-api-key")), SECRET);
    json_decref(payload);
    char *text = json_dumps(ev, STORE_JSON_FLAGS);
    assert_null(strstr(text, "SECRETSECRET"));
    assert_non_null(strstr(text, "{\"x-api-key\":\"[REDACTED]\",\"accept\":\"text/event-stream\"}"));
    assert_non_null(strstr(text, "[\"a [REDACTED] b [REDACTED]\",5,[\"deep [REDACTED]\"]]"));
    assert_non_null(strstr(text, "\"short\":\"abc abc\"")); /* under 4 bytes: ignored */
    assert_non_null(strstr(text, "\"part\":\"only [REDACTED] here\""));
    mem_free(text);
    json_decref(ev);
    json_decref(append(s, id, "run.finished", "{\"status\":\"done\",\"answer\":\"the key is " SECRET "\"}"));
    verify_ok(s, id);
    store_run r;
    get_ok(s, id, &r);
    assert_string_equal(r.goal, "use key [REDACTED] please");
    assert_string_equal(json_string_value(json_object_get(r.summary, "answer")), "the key is [REDACTED]");
    store_run_clear(&r);
    store_close(s);

    /* the bytes of the database (and of any WAL left) never hold it */
    char *wal = mem_printf("%s-wal", dbpath);
    assert_true(file_contains(dbpath, "[REDACTED]"));
    assert_false(file_contains(dbpath, "SECRETSECRET"));
    assert_false(file_contains(wal, "SECRETSECRET"));
    mem_free(wal);
}

/* ---- run.finished ---- */

static void test_run_finished(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    new_run(s, "finish", id);
    json_decref(append(s, id, "run.started", NULL));
    char *err = append_err(s, id, "run.finished", "{\"answer\":\"x\"}", -EINVAL);
    assert_non_null(strstr(err, "\"status\""));
    mem_free(err);
    json_decref(append(s, id, "run.finished",
                       "{\"status\":\"done\",\"answer\":\"42\",\"usage\":{\"input_tokens\":10},\"cost\":0.5}"));
    store_run r;
    get_ok(s, id, &r);
    assert_string_equal(r.status, "done");
    assert_non_null(r.finished);
    assert_int_equal(strlen(r.finished), 24);
    assert_int_equal(r.events, 2);
    assert_string_equal(json_string_value(json_object_get(r.summary, "answer")), "42");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.summary, "usage"), "input_tokens")), 10);
    store_run_clear(&r);

    err = append_err(s, id, "step.started", NULL, -EALREADY);
    char want[96];
    snprintf(want, sizeof want, "run '%s' is finished (status done)", id);
    assert_non_null(strstr(err, want));
    mem_free(err);
    mem_free(append_err(s, id, "run.finished", "{\"status\":\"failed\"}", -EALREADY));
    get_ok(s, id, &r);
    assert_int_equal(r.events, 2);
    assert_string_equal(r.status, "done");
    store_run_clear(&r);
    verify_ok(s, id);
    store_close(s);
}

/* ---- killed runs ---- */

/* In a child: open, start a run, append one event, report the id and die
 * without finishing. */
static pid_t doomed_child(char id[32])
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        store *c = NULL;
        char cid[32] = "";
        if (store_open(dbpath, &c, NULL) < 0 || store_run_new(c, "doomed", cid, NULL) < 0)
            _exit(2);
        json_t *p = json_pack("{s:i}", "step", 1);
        if (store_append(c, cid, "step.started", p, NULL, NULL) < 0)
            _exit(3);
        if (write(fd[1], cid, sizeof cid) != (ssize_t)sizeof cid)
            _exit(4);
        _exit(0); /* no run.finished, no store_close */
    }
    close(fd[1]);
    assert_int_equal(read(fd[0], id, 32), 32);
    close(fd[0]);
    return pid;
}

static void assert_killed(store *s, const char *id, const char *reason_part)
{
    store_run r;
    get_ok(s, id, &r);
    assert_string_equal(r.status, "killed");
    assert_non_null(r.finished);
    assert_string_equal(json_string_value(json_object_get(r.summary, "status")), "killed");
    const char *reason = json_string_value(json_object_get(r.summary, "reason"));
    assert_non_null(reason);
    if (!strstr(reason, reason_part))
        fail_msg("reason '%s' lacks '%s'", reason, reason_part);
    store_run_clear(&r);
    verify_ok(s, id);
}

static void assert_status(store *s, const char *id, const char *status)
{
    store_run r;
    get_ok(s, id, &r);
    assert_string_equal(r.status, status);
    store_run_clear(&r);
}

static void test_killed_runs_marked(void **state)
{
    (void)state;
    store *s = open_ok();
    char live[32];
    new_run(s, "live", live);
    json_decref(append(s, live, "run.started", NULL));

    /* a child that exited (reaped) */
    char gone[32];
    pid_t pid = doomed_child(gone);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* a child that exited but is not reaped yet (a zombie) */
    char zombie[32];
    pid_t zpid = doomed_child(zombie);
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)zpid, &si, WEXITED | WNOWAIT), 0);

    store *s2 = open_ok();
    assert_killed(s2, gone, "ended without finishing the run");
    assert_killed(s2, zombie, "ended without finishing the run");
    store_run r;
    get_ok(s2, gone, &r);
    assert_int_equal(r.events, 2); /* step.started + run.finished */
    store_run_clear(&r);
    /* this process is alive: its run is left alone, and still takes events */
    assert_status(s2, live, "running");
    json_decref(append(s, live, "step.started", NULL));
    store_close(s2);
    assert_int_equal(waitpid(zpid, &st, 0), zpid);

    /* the same pid started at another time (reused) */
    sqlite3 *db = raw_open();
    raw_execf(db, "UPDATE runs SET pid_start = pid_start + 1 WHERE id = %Q", live);
    sqlite3_close(db);
    s2 = open_ok();
    assert_killed(s2, live, "pid was reused");
    store_close(s2);

    /* another boot */
    char old[32];
    new_run(s, "before the reboot", old);
    db = raw_open();
    raw_execf(db, "UPDATE runs SET boot_id = '00000000-0000-0000-0000-000000000000' WHERE id = %Q", old);
    sqlite3_close(db);
    s2 = open_ok();
    assert_killed(s2, old, "the machine restarted");
    /* the killed run is finished for everyone */
    mem_free(append_err(s, old, "step.started", NULL, -EALREADY));
    store_close(s2);
    store_close(s);
}

/* ---- concurrency ---- */

#define WRITERS 4
#define PER_WRITER 200

static void test_concurrent_processes(void **state)
{
    (void)state;
    store *s = open_ok();
    pid_t kids[WRITERS];
    for (int k = 0; k < WRITERS; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            store *c = NULL;
            char *err = NULL;
            char id[32];
            if (store_open(dbpath, &c, &err) < 0 || store_run_new(c, "writer", id, &err) < 0) {
                fprintf(stderr, "writer %d: %s\n", k, err);
                _exit(1);
            }
            for (int i = 0; i < PER_WRITER; i++) {
                json_t *p = json_pack("{s:i,s:i}", "writer", k, "i", i);
                int rc = store_append(c, id, "step.done", p, NULL, &err);
                json_decref(p);
                if (rc < 0) {
                    fprintf(stderr, "writer %d event %d: %s\n", k, i, err);
                    _exit(1);
                }
            }
            /* finished, or a writer that opens after this one exits marks it killed */
            json_t *fin = json_pack("{s:s}", "status", "done");
            if (store_append(c, id, "run.finished", fin, NULL, &err) < 0) {
                fprintf(stderr, "writer %d run.finished: %s\n", k, err);
                _exit(1);
            }
            json_decref(fin);
            store_close(c);
            _exit(0);
        }
    }
    char mine[32];
    new_run(s, "parent", mine);
    for (int i = 0; i < PER_WRITER; i++) {
        char p[32];
        snprintf(p, sizeof p, "{\"i\":%d}", i);
        json_decref(append(s, mine, "step.done", p));
    }
    json_decref(append(s, mine, "run.finished", "{\"status\":\"done\"}"));
    for (int k = 0; k < WRITERS; k++) {
        int st;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    store_run *runs = NULL;
    size_t n = 0;
    char *err = NULL;
    assert_int_equal(store_runs_list(s, 0, &runs, &n, &err), 0);
    assert_int_equal(n, WRITERS + 1);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(runs[i].events, PER_WRITER + 1);
        assert_string_equal(runs[i].status, "done");
        verify_ok(s, runs[i].id);
        store_run_clear(&runs[i]);
    }
    mem_free(runs);
    store_close(s);
}

typedef struct thread_arg {
    store *s;
    const char *id;
    int fails;
} thread_arg;

static void *thread_writer(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 100; i++) {
        json_t *pl = json_pack("{s:i}", "i", i);
        if (store_append(a->s, a->id, "step.done", pl, NULL, NULL) < 0)
            a->fails++;
        json_decref(pl);
    }
    return NULL;
}

static void test_threads_share_a_run(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    new_run(s, "threads", id);
    pthread_t t[4];
    thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){.s = s, .id = id};
        assert_int_equal(pthread_create(&t[i], NULL, thread_writer, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].fails, 0);
    }
    store_run r;
    get_ok(s, id, &r);
    assert_int_equal(r.events, 400);
    store_run_clear(&r);
    verify_ok(s, id);
    store_close(s);
}

/* ---- lookups ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_list_and_get(void **state)
{
    (void)state;
    store *s = open_ok();
    char ids[3][32];
    for (int i = 0; i < 3; i++) {
        char goal[16];
        snprintf(goal, sizeof goal, "goal %d", i);
        new_run(s, goal, ids[i]);
        sleep_ms(3);
    }
    store_run *runs = NULL;
    size_t n = 0;
    char *err = NULL;
    assert_int_equal(store_runs_list(s, 0, &runs, &n, &err), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) { /* newest first */
        assert_string_equal(runs[i].id, ids[2 - i]);
        store_run_clear(&runs[i]);
    }
    mem_free(runs);
    assert_int_equal(store_runs_list(s, 2, &runs, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(runs[0].goal, "goal 2");
    for (size_t i = 0; i < n; i++)
        store_run_clear(&runs[i]);
    mem_free(runs);

    /* by id, by lowercase id, by unique prefix */
    store_run r;
    get_ok(s, ids[1], &r);
    assert_string_equal(r.goal, "goal 1");
    store_run_clear(&r);
    char lower[32];
    for (size_t i = 0; i <= strlen(ids[1]); i++)
        lower[i] = (char)((ids[1][i] >= 'A' && ids[1][i] <= 'Z') ? ids[1][i] - 'A' + 'a' : ids[1][i]);
    get_ok(s, lower, &r);
    assert_string_equal(r.id, ids[1]);
    store_run_clear(&r);
    char pre[32];
    snprintf(pre, sizeof pre, "%.15s", ids[0]);
    get_ok(s, pre, &r);
    assert_string_equal(r.id, ids[0]);
    store_run_clear(&r);

    /* an ambiguous prefix: what all three share */
    size_t common = 0;
    while (ids[0][common] && ids[0][common] == ids[1][common] && ids[0][common] == ids[2][common])
        common++;
    assert_true(common >= 4);
    snprintf(pre, sizeof pre, "%.*s", (int)common, ids[0]);
    assert_int_equal(store_run_get(s, pre, &r, &err), -EINVAL);
    char want[96];
    snprintf(want, sizeof want, "'%s' matches 3 runs; give more characters", pre);
    assert_string_equal(err, want);
    assert_int_equal(store_run_get(s, "rZZZZZZZ", &r, &err), -ENOENT);
    assert_string_equal(err, "no run 'rZZZZZZZ'; run 'venom runs list' to see the runs");
    assert_int_equal(store_run_get(s, "r0", &r, &err), -ENOENT);
    assert_non_null(strstr(err, "at least 4 characters"));
    assert_int_equal(store_run_get(s, "hello world", &r, &err), -EINVAL);
    assert_non_null(strstr(err, "'hello world' is not a run id"));
    mem_free(err);
    store_close(s);
}

/* ---- errors ---- */

static void test_bad_files(void **state)
{
    (void)state;
    /* not a database */
    char junk[4096];
    memset(junk, 'x', sizeof junk - 1);
    junk[sizeof junk - 1] = '\0';
    free(ts_write(dir, "venom.db", junk));
    int rc;
    char *err = open_err(&rc);
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, dbpath));
    assert_non_null(strstr(err, "not a venom database"));
    mem_free(err);
    assert_int_equal(unlink(dbpath), 0);

    /* a schema from a newer venom */
    sqlite3 *db = raw_open();
    raw_exec(db, "PRAGMA user_version = 7");
    sqlite3_close(db);
    err = open_err(&rc);
    assert_int_equal(rc, -EPROTO);
    char want[512];
    snprintf(want, sizeof want, "%s has schema version 7, this venom knows up to 5; upgrade venom", dbpath);
    assert_string_equal(err, want);
    mem_free(err);

    /* a directory that does not exist */
    mem_free(dbpath);
    dbpath = mem_printf("%s/missing/venom.db", dir);
    err = open_err(&rc);
    assert_non_null(strstr(err, "cannot open the database"));
    assert_non_null(strstr(err, "directory exists"));
    mem_free(err);
}

static void test_read_only(void **state)
{
    (void)state;
    store *s = open_ok();
    store_close(s);
    if (geteuid() == 0) {
        print_message("running as root: file permissions do not apply, read-only case not run\n");
        skip();
    }
    assert_int_equal(chmod(dbpath, 0444), 0);
    int rc;
    char *err = open_err(&rc);
    assert_int_equal(rc, -EROFS);
    assert_non_null(strstr(err, "is read-only"));
    mem_free(err);
}

/* A child fills the disk: a 256 KiB tmpfs in its own mount namespace when
 * it may mount (root), else a 256 KiB file size limit. The failed append is
 * a clean error and what was committed before it still verifies. */
static void test_disk_full(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        char *tiny = mem_printf("%s/tiny", dir);
        const char *mode = "tmpfs";
        if (mkdir(tiny, 0700) < 0 || unshare(CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("venom-test", tiny, "tmpfs", 0, "size=256k") < 0) {
            mode = "ulimit";
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {.rlim_cur = 256 << 10, .rlim_max = 256 << 10};
            setrlimit(RLIMIT_FSIZE, &rl);
        } else {
            mem_free(dbpath);
            dbpath = mem_printf("%s/venom.db", tiny);
        }
        store *c = NULL;
        char *err = NULL;
        char id[32];
        if (store_open(dbpath, &c, &err) < 0 || store_run_new(c, "big", id, &err) < 0)
            _exit(2);
        char *big = malloc(20000);
        memset(big, 'y', 19999);
        big[19999] = '\0';
        int rc = 0, n = 0;
        for (; n < 100 && rc == 0; n++) {
            json_t *p = json_pack("{s:s}", "text", big);
            rc = store_append(c, id, "tool.result", p, NULL, &err);
            json_decref(p);
        }
        char *verr = NULL;
        int vrc = store_verify(c, id, &verr);
        store_run r = {0};
        int grc = store_run_get(c, id, &r, NULL);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s|%d|%d|%d|%lld|%s", mode, rc, vrc, grc, (long long)r.events,
                 rc < 0 && err ? err : "");
        if (write(fd[1], msg, strlen(msg) + 1) < 0)
            _exit(5);
        _exit(0);
    }
    close(fd[1]);
    char msg[1024] = "";
    ssize_t n = read(fd[0], msg, sizeof msg - 1);
    close(fd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(n > 0);
    print_message("disk full: %s\n", msg);
    char mode[16];
    int rc, vrc, grc;
    long long events;
    int off = 0;
    assert_int_equal(sscanf(msg, "%15[^|]|%d|%d|%d|%lld|%n", mode, &rc, &vrc, &grc, &events, &off), 5);
    const char *text = msg + off;
    if (strcmp(mode, "tmpfs") == 0) {
        assert_int_equal(rc, -ENOSPC);
        assert_non_null(strstr(text, "disk is full; free some space"));
    } else {
        assert_true(rc == -EFBIG || rc == -EIO);
        assert_non_null(strstr(text, "ulimit -f"));
    }
    assert_non_null(strstr(text, "venom.db: cannot append an event"));
    assert_null(strchr(text, '\n'));
    assert_int_equal(vrc, 0);
    assert_int_equal(grc, 0);
    assert_true(events > 0 && events < 100);
}

/* ---- speed (printed, not asserted) ---- */

static void test_append_rate(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    new_run(s, "speed", id);
    json_t *p = json_pack("{s:s,s:{s:i,s:i}}", "text", "a typical small step result of a few words", "usage",
                          "input_tokens", 1200, "output_tokens", 80);
    enum { N = 2000 };
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < N; i++) {
        char *err = NULL;
        if (store_append(s, id, "step.done", p, NULL, &err) < 0)
            fail_msg("append %d: %s", i, err);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    json_decref(p);
    double sec = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    print_message("store: %d appends in %.3f s = %.0f appends/s\n", N, sec, N / sec);
    clock_gettime(CLOCK_MONOTONIC, &a);
    verify_ok(s, id);
    clock_gettime(CLOCK_MONOTONIC, &b);
    sec = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    print_message("store: verify of %d events in %.3f s\n", N, sec);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_and_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_recomputed_independently, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_triggers_refuse_update_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_runs_marked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_share_a_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_rate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
