/*
 * test_store_batch.c — group commit in the event log (store_batch_*): a
 * batch stores the same bytes and the same chain as one store_append per
 * event; its thread commits within max_ms and per max_events; other
 * connections and processes write meanwhile; a failed commit (an injected
 * trigger error) loses nothing and leaves no partial chain; a run finished
 * behind the batch's back is reported with the events not recorded;
 * store_append joins an open batch; a crash loses only what was queued and
 * the killed marking still yields a valid chain; concurrent appenders.
 * Every test uses a real database file in a fresh directory.
 */
#include "testsupport.h"
#include "util/common.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/wait.h>
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
    if (store_open(dbpath, &s, &err) < 0)
        fail_msg("store_open: %s", err);
    return s;
}

static void new_run(store *s, char id[32])
{
    char *err = NULL;
    if (store_run_new(s, "batch test", id, &err) < 0)
        fail_msg("store_run_new: %s", err);
}

static void verify_ok(store *s, const char *id)
{
    char *err = NULL;
    if (store_verify(s, id, &err) < 0)
        fail_msg("store_verify %s: %s", id, err);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
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

/* Rows in events of run id, read through another connection. */
static long long rows_of(const char *id)
{
    sqlite3 *db = raw_open();
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE run_id = ?1", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The stored lines of a run, in seq order. */
typedef struct lines {
    char **v;
    size_t n;
} lines;

static lines bodies(const char *id)
{
    lines l = {0};
    sqlite3 *db = raw_open();
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT body FROM events WHERE run_id = ?1 ORDER BY seq", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        l.v = realloc(l.v, (l.n + 1) * sizeof *l.v);
        l.v[l.n++] = strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return l;
}

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* The payload part of a stored line: between the ts member and ,"prev". */
static char *payload_part(const char *line)
{
    const char *a = strstr(line, "\"ts\":\"");
    assert_non_null(a);
    a = strchr(a + 6, '"') + 1;
    const char *b = strstr(line, ",\"prev\":\"");
    assert_non_null(b);
    return strndup(a, (size_t)(b - a));
}

typedef struct seen {
    pthread_mutex_t m;
    json_t *events; /* array */
} seen;

static void on_commit(void *user, const json_t *ev)
{
    seen *s = user;
    pthread_mutex_lock(&s->m);
    json_array_append(s->events, (json_t *)ev);
    pthread_mutex_unlock(&s->m);
}

static store_batch *batch_ok(store *s, const char *id, size_t max_events, unsigned max_ms, seen *sn)
{
    store_batch_opts o = {.max_events = max_events, .max_ms = max_ms, .committed = sn ? on_commit : NULL, .user = sn};
    store_batch *b = NULL;
    char *err = NULL;
    if (store_batch_open(s, id, &o, &b, &err) < 0)
        fail_msg("store_batch_open: %s", err);
    assert_non_null(b);
    return b;
}

static void badd(store_batch *b, const char *type, const char *payload)
{
    json_t *p = payload ? json_loads(payload, 0, NULL) : NULL;
    assert_true(!payload || p);
    char *err = NULL;
    if (store_batch_append(b, type, p, &err) < 0)
        fail_msg("store_batch_append %s: %s", type, err);
    json_decref(p);
}

static const char *const payloads[] = {
    NULL,
    "{}",
    "{\"step\":\"s1\"}",
    "{\"text\":\"quote \\\" backslash \\\\ tab \\t nl \\n ctl \\u0001 slash / \\u00e9\\u4e2d \\ud83d\\ude00\"}",
    "{\"cost\":0.1,\"third\":0.3333333333333333,\"big\":1e300,\"tiny\":-2.5e-12,\"int\":9007199254740993}",
    "{\"nested\":{\"a\":[1,2,{\"b\":null,\"c\":true,\"d\":false}],\"e\":{}},\"arr\":[]}",
    "{\"z\":1,\"a\":2,\"m\":3}",
    "{\"step\":\"s2\",\"kind\":\"skill\",\"status\":\"done\",\"ok\":true,\"duration_ms\":0.0123,\"attempts\":1,"
    "\"result\":{\"n\":3}}",
};

/* A batch stores byte for byte what store_append stores, with the same
 * chain and the same runs row; the callback gets every event, in order. */
static void test_same_bytes_as_one_by_one(void **state)
{
    (void)state;
    store *s = open_ok();
    char a[32], b[32];
    new_run(s, a);
    new_run(s, b);
    seen sn = {.events = json_array()};
    pthread_mutex_init(&sn.m, NULL);
    store_batch *bt = batch_ok(s, b, 3, 1000, &sn);
    size_t n = ARRAY_SIZE(payloads);
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < n; i++) {
            json_t *p = payloads[i] ? json_loads(payloads[i], 0, NULL) : NULL;
            char *err = NULL;
            if (store_append(s, a, "step.test", p, NULL, &err) < 0)
                fail_msg("append: %s", err);
            json_decref(p);
            badd(bt, "step.test", payloads[i]);
        }
    char *err = NULL;
    json_t *fin = json_pack("{s:s, s:s}", "status", "done", "answer", "forty-two");
    assert_int_equal(store_append(s, a, "run.finished", fin, NULL, &err), 0);
    assert_int_equal(store_batch_append(bt, "run.finished", fin, &err), 0);
    /* run.finished is committed before the append returns */
    assert_int_equal(rows_of(b), 20 * n + 1);
    assert_int_equal(store_batch_append(bt, "step.late", NULL, &err), -EALREADY);
    mem_free(err);
    err = NULL;
    json_decref(fin);
    assert_int_equal(store_batch_close(bt, &err), 0);
    verify_ok(s, a);
    verify_ok(s, b);

    lines la = bodies(a), lb = bodies(b);
    assert_int_equal(la.n, 20 * n + 1);
    assert_int_equal(lb.n, la.n);
    assert_int_equal(json_array_size(sn.events), lb.n);
    for (size_t i = 0; i < lb.n; i++) {
        /* exactly what json_dumps prints for the event (the old way to store it) */
        json_t *ev = json_loads(lb.v[i], 0, NULL);
        assert_non_null(ev);
        char *again = json_dumps(ev, STORE_JSON_FLAGS);
        assert_string_equal(again, lb.v[i]);
        /* the callback's event prints as the stored line */
        char *cb = json_dumps(json_array_get(sn.events, i), STORE_JSON_FLAGS);
        assert_string_equal(cb, lb.v[i]);
        /* the payload bytes are the one-by-one append's */
        char *pa = payload_part(la.v[i]), *pb = payload_part(lb.v[i]);
        assert_string_equal(pa, pb);
        assert_int_equal(json_integer_value(json_object_get(ev, "seq")), (json_int_t)i);
        free(pa);
        free(pb);
        free(again);
        free(cb);
        json_decref(ev);
    }
    store_run ra, rb;
    assert_int_equal(store_run_get(s, a, &ra, &err), 0);
    assert_int_equal(store_run_get(s, b, &rb, &err), 0);
    assert_int_equal(ra.events, rb.events);
    assert_string_equal(rb.status, "done");
    assert_non_null(rb.finished);
    char *sa = json_dumps(ra.summary, STORE_JSON_FLAGS), *sb = json_dumps(rb.summary, STORE_JSON_FLAGS);
    assert_string_equal(sa, sb);
    free(sa);
    free(sb);
    store_run_clear(&ra);
    store_run_clear(&rb);
    lines_free(&la);
    lines_free(&lb);
    json_decref(sn.events);
    pthread_mutex_destroy(&sn.m);
    store_close(s);
}

/* Queued events are invisible until committed; the thread commits them
 * within max_ms without any call, and per max_events. */
static void test_commit_window(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    new_run(s, id);
    store_batch *b = batch_ok(s, id, 1000, 1000, NULL);
    for (int i = 0; i < 5; i++)
        badd(b, "step.ready", "{\"step\":\"x\"}");
    assert_int_equal(rows_of(id), 0);
    char *err = NULL;
    assert_int_equal(store_batch_flush(b, &err), 0);
    assert_int_equal(rows_of(id), 5);
    assert_int_equal(store_batch_close(b, &err), 0);

    /* time: 30 ms window, nobody flushes */
    b = batch_ok(s, id, 1000, 30, NULL);
    badd(b, "step.ready", "{\"step\":\"y\"}");
    long long got = 0;
    for (int t = 0; t < 100 && (got = rows_of(id)) < 6; t++)
        sleep_ms(20);
    assert_int_equal(got, 6);
    assert_int_equal(store_batch_close(b, &err), 0);

    /* count: 10 per transaction, 1 s window: 20 of 25 come before the window */
    b = batch_ok(s, id, 10, 1000, NULL);
    for (int i = 0; i < 25; i++)
        badd(b, "step.ready", "{\"step\":\"z\"}");
    for (int t = 0; t < 40 && (got = rows_of(id)) < 26; t++)
        sleep_ms(10);
    assert_true(got == 26 || got == 31); /* 6 + 20, or the window passed on a slow machine */
    assert_int_equal(store_batch_close(b, &err), 0);
    assert_int_equal(rows_of(id), 31);
    verify_ok(s, id);
    store_close(s);
}

/* While a batch holds queued events, another process appends to another
 * run and sets run_control at once: no transaction is held open. */
static void test_other_writers_meanwhile(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32], other[32];
    new_run(s, id);
    new_run(s, other);
    store_batch *b = batch_ok(s, id, 1000, 1000, NULL);
    for (int i = 0; i < 50; i++)
        badd(b, "step.ready", "{\"step\":\"a\"}");
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        store *c = NULL;
        char *err = NULL;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (store_open(dbpath, &c, &err) < 0)
            _exit(2);
        for (int i = 0; i < 20; i++) {
            json_t *p = json_pack("{s:i}", "i", i);
            int rc = store_append(c, other, "step.done", p, NULL, &err);
            json_decref(p);
            if (rc < 0)
                _exit(3);
        }
        if (store_control_set(c, id, "pause", &err) < 0)
            _exit(4);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        store_close(c);
        /* well under the busy timeout: nobody held the write lock */
        _exit((t1.tv_sec - t0.tv_sec) < 2 ? 0 : 5);
    }
    int st;
    assert_int_equal(waitpid(kid, &st, 0), kid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    char *err = NULL, req[16];
    assert_int_equal(store_control_get(s, id, req, &err), 0);
    assert_string_equal(req, "pause");
    assert_int_equal(store_batch_close(b, &err), 0);
    assert_int_equal(rows_of(id), 50);
    assert_int_equal(rows_of(other), 20);
    verify_ok(s, id);
    verify_ok(s, other);
    store_close(s);
}

/* A commit that fails (a trigger refuses one event) rolls back the whole
 * group: no partial chain; the events stay queued and the error reaches
 * the caller; once the cause is gone the same events commit. If it stays,
 * closing reports how many were not recorded. */
static void test_failed_commit_loses_nothing(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    new_run(s, id);
    seen sn = {.events = json_array()};
    pthread_mutex_init(&sn.m, NULL);
    store_batch *b = batch_ok(s, id, 1000, 1000, &sn);
    badd(b, "step.ready", "{\"step\":\"one\"}");
    char *err = NULL;
    assert_int_equal(store_batch_flush(b, &err), 0);
    sqlite3 *db = raw_open();
    raw_exec(db, "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.type = 'step.boom' "
                 "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    badd(b, "step.ready", "{\"step\":\"two\"}");
    badd(b, "step.boom", "{\"step\":\"three\"}");
    badd(b, "step.ready", "{\"step\":\"four\"}");
    int rc = store_batch_flush(b, &err);
    assert_true(rc < 0);
    assert_non_null(strstr(err, "injected failure"));
    mem_free(err);
    err = NULL;
    assert_int_equal(rows_of(id), 1); /* nothing of the group */
    verify_ok(s, id);
    assert_int_equal(json_array_size(sn.events), 1); /* the sink saw committed events only */
    raw_exec(db, "DROP TRIGGER boom");
    assert_int_equal(store_batch_flush(b, &err), 0);
    assert_int_equal(rows_of(id), 4);
    assert_int_equal(json_array_size(sn.events), 4);
    verify_ok(s, id);

    /* the cause stays: the thread retries, close reports the loss */
    raw_exec(db, "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.type = 'step.boom' "
                 "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    badd(b, "step.boom", "{}");
    badd(b, "step.ready", "{}");
    sleep_ms(50);
    rc = store_batch_close(b, &err);
    assert_true(rc < 0);
    assert_non_null(strstr(err, "2 events of run"));
    assert_non_null(strstr(err, "not recorded"));
    mem_free(err);
    assert_int_equal(rows_of(id), 4);
    verify_ok(s, id);
    /* the run goes on, one transaction per event */
    json_t *p = json_pack("{s:s}", "step", "five");
    err = NULL;
    assert_int_equal(store_append(s, id, "step.ready", p, NULL, &err), 0);
    json_decref(p);
    verify_ok(s, id);
    sqlite3_close(db);
    json_decref(sn.events);
    pthread_mutex_destroy(&sn.m);
    store_close(s);
}

/* The run is finished through another handle while events are queued: the
 * commit refuses them, says how many were not recorded, and the batch
 * takes no more; the log's chain stays valid. */
static void test_run_finished_behind_the_batch(void **state)
{
    (void)state;
    store *s = open_ok(), *s2 = open_ok();
    char id[32];
    new_run(s, id);
    store_batch *b = batch_ok(s, id, 1000, 1000, NULL);
    badd(b, "step.ready", "{}");
    char *err = NULL;
    assert_int_equal(store_batch_flush(b, &err), 0);
    badd(b, "step.ready", "{}");
    badd(b, "step.ready", "{}");
    badd(b, "step.ready", "{}");
    json_t *fin = json_pack("{s:s}", "status", "killed");
    assert_int_equal(store_append(s2, id, "run.finished", fin, NULL, &err), 0);
    json_decref(fin);
    int rc = store_batch_flush(b, &err);
    assert_int_equal(rc, -EALREADY);
    assert_non_null(strstr(err, "3 events of run"));
    assert_non_null(strstr(err, "not recorded"));
    assert_non_null(strstr(err, "is finished"));
    mem_free(err);
    err = NULL;
    json_t *p = json_object();
    assert_int_equal(store_batch_append(b, "step.ready", p, &err), -EALREADY);
    json_decref(p);
    mem_free(err);
    err = NULL;
    assert_int_equal(store_batch_close(b, &err), -EALREADY);
    mem_free(err);
    assert_int_equal(rows_of(id), 2);
    verify_ok(s, id);
    store_close(s2);
    store_close(s);
}

/* store_append on a batched run (the agent loop inside a plan) joins the
 * batch: it gets the next seq, everything queued before it is committed
 * with it before it returns, and the callback is not given its event. */
static void test_store_append_joins(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    new_run(s, id);
    seen sn = {.events = json_array()};
    pthread_mutex_init(&sn.m, NULL);
    store_batch *b = batch_ok(s, id, 1000, 1000, &sn);
    badd(b, "step.ready", "{}");
    badd(b, "step.started", "{}");
    badd(b, "step.ready", "{}");
    json_t *p = json_pack("{s:s}", "plan_step", "s1"), *ev = NULL;
    char *err = NULL;
    assert_int_equal(store_append(s, id, "model.request", p, &ev, &err), 0);
    json_decref(p);
    assert_int_equal(json_integer_value(json_object_get(ev, "seq")), 3);
    assert_int_equal(rows_of(id), 4);
    /* the joined event reaches the callback too, after the three before it */
    assert_int_equal(json_array_size(sn.events), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(sn.events, 3), "seq")), 3);
    lines l = bodies(id);
    char *printed = json_dumps(ev, STORE_JSON_FLAGS);
    assert_string_equal(printed, l.v[3]);
    free(printed);
    lines_free(&l);
    json_decref(ev);
    badd(b, "step.finished", "{}");
    assert_int_equal(store_batch_close(b, &err), 0);
    assert_int_equal(rows_of(id), 5);
    verify_ok(s, id);
    json_decref(sn.events);
    pthread_mutex_destroy(&sn.m);
    store_close(s);
}

#define THREADS 4
#define PER_THREAD 2000

typedef struct targ {
    store_batch *b;
    store *s;
    const char *id;
    int fails;
} targ;

static void *appender(void *p)
{
    targ *a = p;
    for (int i = 0; i < PER_THREAD; i++) {
        json_t *pl = json_pack("{s:i}", "i", i);
        if (a->b ? store_batch_append(a->b, "step.done", pl, NULL) < 0
                 : store_append(a->s, a->id, "step.direct", pl, NULL, NULL) < 0)
            a->fails++;
        json_decref(pl);
        if (!a->b && i == 50)
            break;
    }
    return NULL;
}

/* Four threads append into one batch (small groups: many commits and the
 * backlog path), one more through store_append: one exact chain; the
 * callback sees every batch event once, in seq order. */
static void test_threads(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    new_run(s, id);
    seen sn = {.events = json_array()};
    pthread_mutex_init(&sn.m, NULL);
    store_batch *b = batch_ok(s, id, 64, 5, &sn);
    pthread_t t[THREADS + 1];
    targ a[THREADS + 1];
    for (int i = 0; i <= THREADS; i++) {
        a[i] = (targ){.b = i < THREADS ? b : NULL, .s = s, .id = id};
        assert_int_equal(pthread_create(&t[i], NULL, appender, &a[i]), 0);
    }
    for (int i = 0; i <= THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].fails, 0);
    }
    char *err = NULL;
    assert_int_equal(store_batch_close(b, &err), 0);
    assert_int_equal(rows_of(id), THREADS * PER_THREAD + 51);
    /* every event of the run: the batched ones and the direct appender's (51) */
    assert_int_equal(json_array_size(sn.events), THREADS * PER_THREAD + 51);
    json_int_t last = -1;
    for (size_t i = 0; i < json_array_size(sn.events); i++) {
        json_int_t seq = json_integer_value(json_object_get(json_array_get(sn.events, i), "seq"));
        assert_true(seq > last);
        last = seq;
    }
    verify_ok(s, id);
    json_decref(sn.events);
    pthread_mutex_destroy(&sn.m);
    store_close(s);
}

/* A process that dies with events queued loses those (at most max_ms of
 * them) and nothing committed; the next store_open marks the run killed
 * right after its last committed event, on a valid chain. */
static void test_crash_with_queued_events(void **state)
{
    (void)state;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        store *c = NULL;
        store_batch *b = NULL;
        char *err = NULL, id[32];
        store_batch_opts o = {.max_ms = 1000};
        if (store_open(dbpath, &c, &err) < 0 || store_run_new(c, "crash", id, &err) < 0 ||
            store_batch_open(c, id, &o, &b, &err) < 0)
            _exit(2);
        for (int i = 0; i < 5; i++)
            if (store_batch_append(b, "step.ready", NULL, &err) < 0)
                _exit(3);
        if (store_batch_flush(b, &err) < 0)
            _exit(4);
        for (int i = 0; i < 3; i++)
            if (store_batch_append(b, "step.started", NULL, &err) < 0)
                _exit(5);
        if (write(pfd[1], id, 32) != 32)
            _exit(6);
        _exit(0); /* no close, no flush: a crash */
    }
    close(pfd[1]);
    char id[32] = "";
    assert_int_equal(read(pfd[0], id, 32), 32);
    close(pfd[0]);
    int st;
    assert_int_equal(waitpid(kid, &st, 0), kid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    store *s = open_ok(); /* the sweep */
    store_run r;
    char *err = NULL;
    assert_int_equal(store_run_get(s, id, &r, &err), 0);
    assert_string_equal(r.status, "killed");
    assert_int_equal(r.events, 6);
    store_run_clear(&r);
    lines l = bodies(id);
    assert_int_equal(l.n, 6);
    assert_non_null(strstr(l.v[5], "\"type\":\"run.finished\""));
    assert_non_null(strstr(l.v[4], "\"type\":\"step.ready\""));
    lines_free(&l);
    verify_ok(s, id);
    store_close(s);
}

static void test_bad_use(void **state)
{
    (void)state;
    store *s = open_ok();
    char id[32];
    new_run(s, id);
    store_batch *b = NULL, *b2 = NULL;
    char *err = NULL;
    assert_int_equal(store_batch_open(s, "r0000NOSUCHRUN", NULL, &b, &err), -ENOENT);
    assert_null(b);
    assert_non_null(strstr(err, "no run"));
    mem_free(err);
    err = NULL;
    assert_int_equal(store_batch_open(s, id, NULL, &b, &err), 0);
    assert_int_equal(store_batch_open(s, id, NULL, &b2, &err), -EBUSY);
    assert_null(b2);
    mem_free(err);
    err = NULL;
    json_t *arr = json_array();
    assert_int_equal(store_batch_append(b, "step.x", arr, &err), -EINVAL);
    json_decref(arr);
    mem_free(err);
    err = NULL;
    json_t *res = json_pack("{s:i}", "seq", 3);
    assert_int_equal(store_batch_append(b, "step.x", res, &err), -EINVAL);
    assert_non_null(strstr(err, "\"seq\""));
    json_decref(res);
    mem_free(err);
    err = NULL;
    assert_int_equal(store_batch_append(b, "Bad Type", NULL, &err), -EINVAL);
    mem_free(err);
    err = NULL;
    assert_int_equal(store_batch_append(b, "run.finished", NULL, &err), -EINVAL);
    mem_free(err);
    err = NULL;
    assert_int_equal(store_batch_close(b, &err), 0);
    assert_int_equal(store_batch_close(NULL, &err), 0);
    assert_int_equal(rows_of(id), 0);
    /* finished runs take no batch */
    json_t *fin = json_pack("{s:s}", "status", "done");
    assert_int_equal(store_append(s, id, "run.finished", fin, NULL, &err), 0);
    json_decref(fin);
    assert_int_equal(store_batch_open(s, id, NULL, &b, &err), -EALREADY);
    mem_free(err);
    store_close(s);
}

/* Secrets are scrubbed from batched events too (the payload is copied only
 * then: the caller's payload is left alone). */
static void test_redaction(void **state)
{
    (void)state;
    store *s = open_ok();
    const char *secrets[] = {"sk-VERYSECRET123"};
    assert_int_equal(store_set_redactions(s, secrets, 1), 0);
    char id[32];
    new_run(s, id);
    store_batch *b = batch_ok(s, id, 1000, 1000, NULL);
    json_t *p = json_pack("{s:s, s:[s]}", "text", "key sk-VERYSECRET123 here", "list", "sk-VERYSECRET123");
    char *err = NULL;
    assert_int_equal(store_batch_append(b, "step.x", p, &err), 0);
    assert_string_equal(json_string_value(json_object_get(p, "text")), "key sk-VERYSECRET123 here");
    json_decref(p);
    assert_int_equal(store_batch_close(b, &err), 0);
    lines l = bodies(id);
    assert_int_equal(l.n, 1);
    assert_null(strstr(l.v[0], "VERYSECRET"));
    assert_non_null(strstr(l.v[0], "\"text\":\"key [REDACTED] here\""));
    lines_free(&l);
    verify_ok(s, id);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_bytes_as_one_by_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_writers_meanwhile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_finished_behind_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_append_joins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_with_queued_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redaction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
