/*
 * store.c — the SQLite event log (docs/internals/store.md).
 *
 * One connection per store, guarded by a recursive mutex (store_events may
 * call back into the store). An event is prepared (checked, scrubbed, its
 * payload printed once) without the lock, then sealed (seq, ts, prev, hash,
 * the stored line spliced from the payload's text) and written: alone by
 * store_append (one BEGIN IMMEDIATE transaction: read the run's row and
 * last event, insert, update the row), or queued in a store_batch whose
 * thread commits up to max_events per transaction. The hot statements are
 * prepared once per connection.
 */
#include "util/common.h"
#include "store/store.h"

#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/jsonx.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define REDACTED "[REDACTED]"
#define REDACT_MIN 4
#define RUN_PREFIX_MIN 4
#define BUSY_TIMEOUT_MS 5000

/* Forward-only migrations: step i brings user_version from i to i + 1, in
 * one transaction. Never edit a step that has shipped; add a new one. */
static const char *const migrations[] = {
    /* 1: the event log, the runs index, meta */
    "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
    "CREATE TABLE runs(id TEXT PRIMARY KEY NOT NULL, goal TEXT NOT NULL, status TEXT NOT NULL,"
    " started TEXT NOT NULL, finished TEXT, pid INTEGER NOT NULL, pid_start INTEGER NOT NULL,"
    " boot_id TEXT NOT NULL, events INTEGER NOT NULL DEFAULT 0, summary TEXT);"
    "CREATE INDEX runs_started ON runs(started);"
    "CREATE INDEX runs_running ON runs(status) WHERE status = 'running';"
    "CREATE TABLE events(run_id TEXT NOT NULL, seq INTEGER NOT NULL, ts TEXT NOT NULL,"
    " type TEXT NOT NULL, body TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL,"
    " PRIMARY KEY(run_id, seq));"
    "CREATE INDEX events_type ON events(type);"
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN"
    " SELECT RAISE(ABORT, 'venom events are append-only: UPDATE refused'); END;"
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN"
    " SELECT RAISE(ABORT, 'venom events are append-only: DELETE refused'); END;"
    "INSERT INTO meta(key, value) VALUES('event_version', '1');"
    "INSERT INTO meta(key, value) VALUES('created', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));",
    /* 2: the secrets vault (core/security/vault.c): values sealed with
     * XChaCha20-Poly1305, never in clear */
    "CREATE TABLE secrets(name TEXT PRIMARY KEY NOT NULL, key_id TEXT NOT NULL, nonce BLOB NOT NULL,"
    " sealed BLOB NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);",
    /* 3: plans (core/plan, core/orchestrate): the plan cache (procedural
     * memory: a validated plan that succeeded, under its normalized goal) and
     * the control requests other processes make of a run (pause/resume/stop) */
    "CREATE TABLE plan_cache(goal_key TEXT PRIMARY KEY NOT NULL, goal TEXT NOT NULL, plan TEXT NOT NULL,"
    " source TEXT NOT NULL, created TEXT NOT NULL, used TEXT NOT NULL, uses INTEGER NOT NULL DEFAULT 0,"
    " successes INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE run_control(run_id TEXT PRIMARY KEY NOT NULL, request TEXT NOT NULL, updated TEXT NOT NULL);",
    /* 4: routing (core/route): per (model, task kind) Beta posteriors of
     * success and running totals, spend per day and agent, user feedback */
    "CREATE TABLE route_stats(model TEXT NOT NULL, kind TEXT NOT NULL, alpha REAL NOT NULL DEFAULT 1,"
    " beta REAL NOT NULL DEFAULT 1, calls INTEGER NOT NULL DEFAULT 0, successes INTEGER NOT NULL DEFAULT 0,"
    " failures INTEGER NOT NULL DEFAULT 0, turns INTEGER NOT NULL DEFAULT 0,"
    " retries INTEGER NOT NULL DEFAULT 0, latency_ms REAL NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,"
    " updated TEXT NOT NULL, PRIMARY KEY(model, kind));"
    "CREATE TABLE spend(day TEXT NOT NULL, agent TEXT NOT NULL, cost REAL NOT NULL DEFAULT 0,"
    " PRIMARY KEY(day, agent));"
    "CREATE TABLE feedback(run_id TEXT PRIMARY KEY NOT NULL, verdict TEXT NOT NULL, ts TEXT NOT NULL);",
    /* 5: agents (core/orchestrate auction): per (agent, task kind) Beta
     * posteriors of a step's success */
    "CREATE TABLE agent_stats(agent TEXT NOT NULL, kind TEXT NOT NULL, alpha REAL NOT NULL DEFAULT 1,"
    " beta REAL NOT NULL DEFAULT 1, steps INTEGER NOT NULL DEFAULT 0, successes INTEGER NOT NULL DEFAULT 0,"
    " failures INTEGER NOT NULL DEFAULT 0, updated TEXT NOT NULL, PRIMARY KEY(agent, kind));",
};
#define SCHEMA_VERSION ((int)ARRAY_SIZE(migrations))

/* The statements of the append path, prepared once per connection. */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_RUN,    /* status, finished of a run */
    ST_LAST,   /* seq, hash of a run's last event */
    ST_INSERT, /* one event */
    ST_BUMP,   /* events + k */
    ST_FINISH, /* events + k, status, finished, summary */
    ST_COUNT
};
static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_RUN] = "SELECT status, finished FROM runs WHERE id = ?1",
    [ST_LAST] = "SELECT seq, hash FROM events WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
    [ST_INSERT] = "INSERT INTO events(run_id, seq, ts, type, body, prev, hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_BUMP] = "UPDATE runs SET events = events + ?2 WHERE id = ?1",
    [ST_FINISH] = "UPDATE runs SET events = events + ?2, status = ?3, finished = ?4, summary = ?5 WHERE id = ?1",
};

struct store {
    pthread_mutex_t mu;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_COUNT];
    pthread_rwlock_t rl; /* redact, n_redact: written under mu and rl, read under either */
    char **redact;       /* longest first */
    size_t n_redact;
    store_batch *batches; /* open group commits, one per run (under mu) */
    char boot_id[64];
};

/* ---- small helpers ---- */

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc;
static void sodium_start(void) { sodium_rc = sodium_init() < 0 ? -1 : 0; }
static int crypto_ready(void)
{
    pthread_once(&sodium_once, sodium_start);
    return sodium_rc;
}

/* "2026-12-05T07:15:23.123Z" (UTC, milliseconds). */
static void now_iso(char out[96], uint64_t *ms_out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    time_t sec = ts.tv_sec;
    gmtime_r(&sec, &tm);
    int ms = (int)(ts.tv_nsec / 1000000);
    snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    if (ms_out)
        *ms_out = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ms;
}

/* The first line of a small file, without the newline; "" if unreadable. */
static void read_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (fgets(out, (int)n, f))
        out[strcspn(out, "\n")] = '\0';
    else
        out[0] = '\0';
    fclose(f);
}

/* Field 22 (starttime, clock ticks after boot) and field 3 (state) of
 * /proc/<pid>/stat. -errno when it cannot be read. */
static int proc_start(pid_t pid, long long *start, char *state)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')'); /* comm may hold spaces and ')' */
    if (!p)
        return -EPROTO;
    p++;
    /* after ")": field 3 is the first token, field 22 the twentieth */
    int field = 2;
    while (*p && field < 22) {
        while (*p == ' ')
            p++;
        field++;
        if (field == 3 && state)
            *state = *p;
        if (field == 22) {
            char *end;
            errno = 0;
            long long v = strtoll(p, &end, 10);
            if (errno || end == p)
                return -EPROTO;
            *start = v;
            return 0;
        }
        while (*p && *p != ' ')
            p++;
    }
    return -EPROTO;
}

/* Map a SQLite result to a negative errno and a one-line message:
 * "<path>: <what>: <sqlite's words>; <how to fix>". */
static int db_fail(const store *s, int src, const char *what, char **err)
{
    int rc;
    const char *hint = NULL;
    switch (src & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        rc = -EBUSY;
        hint = "another venom process held the database for more than 5 s; try again";
        break;
    case SQLITE_FULL:
        rc = -ENOSPC;
        hint = "free some space and try again";
        break;
    case SQLITE_READONLY:
        rc = -EROFS;
        hint = "venom must write it: check the permissions of the file and of its directory";
        break;
    case SQLITE_NOTADB:
        rc = -EINVAL;
        hint = "it is not a venom database; move it away (venom then creates a new one) or set VENOM_HOME "
               "to another directory";
        break;
    case SQLITE_CORRUPT:
        rc = -EIO;
        hint = "the database is damaged; move it away and restore a copy";
        break;
    case SQLITE_CANTOPEN:
        rc = -EACCES;
        hint = "check that its directory exists and is writable";
        break;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        rc = -EACCES;
        break;
    case SQLITE_NOMEM:
        rc = -ENOMEM;
        break;
    case SQLITE_CONSTRAINT:
        rc = -EPERM;
        break;
    case SQLITE_IOERR:
        switch (s->db ? sqlite3_system_errno(s->db) : 0) {
        case ENOSPC:
        case EDQUOT:
            rc = -ENOSPC;
            hint = "the disk is full (or the quota used up); free some space and try again";
            break;
        case EFBIG:
            rc = -EFBIG;
            hint = "the file size limit is reached (ulimit -f); raise it";
            break;
        case EROFS:
            rc = -EROFS;
            hint = "the file system is read-only";
            break;
        default:
            rc = -EIO;
            switch (src) {
            case SQLITE_IOERR_WRITE:
            case SQLITE_IOERR_FSYNC:
            case SQLITE_IOERR_TRUNCATE:
            case SQLITE_IOERR_SHMSIZE:
                hint = "writing failed: is the disk full or a file size limit (ulimit -f) reached?";
                break;
            default:
                hint = "the disk reported an error";
                break;
            }
            break;
        }
        break;
    default:
        rc = -EIO;
        break;
    }
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src);
    err_set(err, rc, "%s: %s: %s%s%s", s->path, what, msg, hint ? "; " : "", hint ? hint : "");
    if (err)
        jsonx_oneline(*err);
    return rc;
}

/* Run one cached statement that returns no row (BEGIN, COMMIT, ...). */
static int run_stmt(store *s, int which)
{
    sqlite3_stmt *st = s->st[which];
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    return src == SQLITE_DONE || src == SQLITE_ROW ? SQLITE_OK : src;
}

static void rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        (void)run_stmt(s, ST_ROLLBACK);
}

static int exec_sql(store *s, const char *sql, const char *what, char **err)
{
    int src = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? 0 : db_fail(s, src, what, err);
}

/* An integer PRAGMA's value (user_version, ...). */
static int pragma_int(store *s, const char *sql, int *out, char **err)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            *out = sqlite3_column_int(st, 0);
            src = SQLITE_OK;
        }
    }
    int rc = src == SQLITE_OK ? 0 : db_fail(s, src, "cannot read it", err);
    sqlite3_finalize(st);
    return rc;
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? mem_strdup((const char *)t) : NULL;
}

/* ---- redaction ---- */

/* A copy of s[0..n) with every secret replaced, or NULL (with *changed
 * false) when none occurs. -ENOMEM on allocation failure. */
static int redact_text(const store *s, const char *text, size_t n, buf *out, bool *changed)
{
    *changed = false;
    bool any = false;
    for (size_t k = 0; k < s->n_redact && !any; k++)
        any = memmem(text, n, s->redact[k], strlen(s->redact[k])) != NULL;
    if (!any)
        return 0;
    buf_reset(out);
    size_t i = 0;
    while (i < n) {
        /* the earliest occurrence of any secret; the longest on a tie */
        const char *best = NULL;
        size_t best_len = 0;
        for (size_t k = 0; k < s->n_redact; k++) {
            size_t len = strlen(s->redact[k]);
            const char *hit = memmem(text + i, n - i, s->redact[k], len);
            if (hit && (!best || hit < best))
                best = hit, best_len = len;
        }
        size_t stop = best ? (size_t)(best - text) : n;
        if (buf_append(out, text + i, stop - i) < 0)
            return -ENOMEM;
        if (!best)
            break;
        if (buf_puts(out, REDACTED) < 0)
            return -ENOMEM;
        i = stop + best_len;
    }
    *changed = true;
    return 0;
}

/* Scrub every string value (object members, array items) of v in place. */
static int redact_json(const store *s, json_t *v, buf *tmp)
{
    if (s->n_redact == 0)
        return 0;
    if (json_is_string(v)) {
        bool changed;
        int rc = redact_text(s, json_string_value(v), json_string_length(v), tmp, &changed);
        if (rc < 0)
            return rc;
        if (changed && json_string_setn(v, tmp->data, tmp->len) < 0)
            return -ENOMEM;
        return 0;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *m;
        json_object_foreach(v, key, m) {
            int rc = redact_json(s, m, tmp);
            if (rc < 0)
                return rc;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) {
            int rc = redact_json(s, m, tmp);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static void redactions_clear(store *s)
{
    for (size_t i = 0; i < s->n_redact; i++) {
        sodium_memzero(s->redact[i], strlen(s->redact[i]));
        mem_free(s->redact[i]);
    }
    mem_free(s->redact);
    s->redact = NULL;
    s->n_redact = 0;
}

static int by_length_desc(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

static int store_redactions_put(store *s, const char *const *values, size_t n, bool add);

int store_set_redactions(store *s, const char *const *values, size_t n)
{
    return store_redactions_put(s, values, n, false);
}

int store_add_redactions(store *s, const char *const *values, size_t n)
{
    return store_redactions_put(s, values, n, true);
}

static int store_redactions_put(store *s, const char *const *values, size_t n, bool add)
{
    if (!s || (n && !values))
        return -EINVAL;
    char **list = n ? mem_calloc(n, sizeof *list) : NULL;
    if (n && !list)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!values[i] || strlen(values[i]) < REDACT_MIN)
            continue;
        if (!(list[k] = mem_strdup(values[i]))) {
            for (size_t j = 0; j < k; j++)
                mem_free(list[j]);
            mem_free(list);
            return -ENOMEM;
        }
        k++;
    }
    pthread_mutex_lock(&s->mu);
    if (add) { /* the old list plus the new values it lacks */
        char **all = mem_realloc(list, (k + s->n_redact) * sizeof *all + 1);
        if (!all) {
            pthread_mutex_unlock(&s->mu);
            for (size_t j = 0; j < k; j++) {
                sodium_memzero(list[j], strlen(list[j]));
                mem_free(list[j]);
            }
            mem_free(list);
            return -ENOMEM;
        }
        list = all;
        size_t fresh = k;
        for (size_t i = 0; i < fresh; i++) {
            bool dup = false;
            for (size_t j = 0; j < s->n_redact && !dup; j++)
                dup = !strcmp(s->redact[j], list[i]);
            for (size_t j = 0; j < i && !dup; j++)
                dup = list[j] && !strcmp(list[j], list[i]);
            if (dup) {
                sodium_memzero(list[i], strlen(list[i]));
                mem_free(list[i]);
                list[i] = NULL;
            }
        }
        size_t w = 0;
        for (size_t i = 0; i < fresh; i++)
            if (list[i])
                list[w++] = list[i];
        for (size_t j = 0; j < s->n_redact; j++)
            list[w++] = s->redact[j];
        k = w;
        mem_free(s->redact); /* the strings moved to list */
        s->redact = NULL;
        s->n_redact = 0;
    }
    qsort(list, k, sizeof *list, by_length_desc);
    pthread_rwlock_wrlock(&s->rl);
    redactions_clear(s);
    s->redact = list;
    s->n_redact = k;
    pthread_rwlock_unlock(&s->rl);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* ---- hashing ---- */

int store_event_hash(const json_t *event_without_hash, char hex[65])
{
    if (!json_is_object(event_without_hash) || !hex)
        return -EINVAL;
    if (crypto_ready() < 0)
        return -EIO;
    const json_t *ev = event_without_hash;
    json_t *copy = NULL;
    if (json_object_get(ev, "hash")) { /* hash never covers itself */
        if (!(copy = json_copy((json_t *)ev)) || json_object_del(copy, "hash") < 0) {
            json_decref(copy);
            return -ENOMEM;
        }
        ev = copy;
    }
    char *text = json_dumps(ev, STORE_JSON_FLAGS);
    json_decref(copy);
    if (!text)
        return -ENOMEM;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
    mem_free(text);
    sodium_bin2hex(hex, 65, h, sizeof h);
    return 0;
}

/* ---- open, migrate, sweep ---- */

static int migrate(store *s, char **err)
{
    int uv = 0, rc = pragma_int(s, "PRAGMA user_version", &uv, err);
    if (rc < 0)
        return rc;
    while (uv < SCHEMA_VERSION) {
        int src = run_stmt(s, ST_BEGIN);
        if (src != SQLITE_OK)
            return db_fail(s, src, "cannot start the schema migration", err);
        /* another process may have migrated since we looked */
        if ((rc = pragma_int(s, "PRAGMA user_version", &uv, err)) < 0)
            goto fail;
        if (uv >= SCHEMA_VERSION)
            break;
        char what[64];
        snprintf(what, sizeof what, "schema migration %d -> %d failed", uv, uv + 1);
        if ((rc = exec_sql(s, migrations[uv], what, err)) < 0)
            goto fail;
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", uv + 1);
        if ((rc = exec_sql(s, sql, what, err)) < 0)
            goto fail;
        if ((src = run_stmt(s, ST_COMMIT)) != SQLITE_OK) {
            rc = db_fail(s, src, what, err);
            goto fail;
        }
        uv++;
    }
    if (!sqlite3_get_autocommit(s->db) && run_stmt(s, ST_COMMIT) != SQLITE_OK)
        rollback(s);
    if (uv > SCHEMA_VERSION)
        return err_set(err, -EPROTO, "%s has schema version %d, this venom knows up to %d; upgrade venom",
                       s->path, uv, SCHEMA_VERSION);
    return 0;
fail:
    rollback(s);
    return rc;
}

/* Is the process that recorded a running run still there? Another boot, no
 * such pid, a pid now started at another time, or a zombie: gone. When in
 * doubt (cannot read /proc), it is alive: a live run is never marked. */
static bool run_alive(const store *s, long long pid, long long start, const char *boot, char *why, size_t n)
{
    if (s->boot_id[0] && boot && strcmp(boot, s->boot_id) != 0) {
        snprintf(why, n, "the machine restarted after process %lld started the run", pid);
        return false;
    }
    if (pid <= 0 || pid > INT_MAX || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
        snprintf(why, n, "process %lld ended without finishing the run", pid);
        return false;
    }
    long long now = 0;
    char state = '?';
    if (proc_start((pid_t)pid, &now, &state) == 0) {
        if (now != start) {
            snprintf(why, n, "process %lld ended without finishing the run (its pid was reused)", pid);
            return false;
        }
        if (state == 'Z' || state == 'X') {
            snprintf(why, n, "process %lld ended without finishing the run", pid);
            return false;
        }
    }
    return true;
}

/* Append run.finished {"status":"killed"} to every run whose process is gone. */

/* ---- killed runs ---- */

typedef struct tally {
    json_int_t steps, in, cached, write, out;
    double cost, first_ms, last_ms;
    bool priced;
} tally;

static double ts_ms(const char *ts)
{
    struct tm tm = {0};
    int ms = 0;
    if (!ts || sscanf(ts, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                      &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) * 1000 + ms;
}

static int tally_event(void *user, const json_t *ev)
{
    tally *t = user;
    const char *type = json_string_value(json_object_get(ev, "type"));
    double ms = ts_ms(json_string_value(json_object_get(ev, "ts")));
    if (t->first_ms < 0)
        t->first_ms = ms;
    t->last_ms = ms;
    if (type && !strcmp(type, "step.started"))
        t->steps++;
    if (type && !strcmp(type, "model.response")) {
        json_t *u = json_object_get(ev, "usage");
        t->in += json_integer_value(json_object_get(u, "input_tokens"));
        t->cached += json_integer_value(json_object_get(u, "cached_input_tokens"));
        t->write += json_integer_value(json_object_get(u, "cache_write_tokens"));
        t->out += json_integer_value(json_object_get(u, "output_tokens"));
        t->cost += json_number_value(json_object_get(ev, "cost"));
        t->priced &= !json_is_false(json_object_get(ev, "priced"));
    }
    return 0;
}

/* The run.finished of a run whose process died: the same fields as any
 * run.finished (docs/events.md), totalled from the events it left. */
static json_t *killed_summary(store *s, const char *id, const char *why)
{
    tally t = {.priced = true, .first_ms = -1, .last_ms = -1};
    char *err = NULL;
    (void)store_events(s, id, tally_event, &t, &err); /* what could be read counts */
    mem_free(err);
    double dur = t.first_ms >= 0 && t.last_ms >= t.first_ms ? t.last_ms - t.first_ms : 0;
    return json_pack("{s:s, s:I, s:{s:I, s:I, s:I, s:I}, s:f, s:b, s:f, s:n, s:s}", "status", "killed", "steps",
                     t.steps, "usage", "input_tokens", t.in, "cached_input_tokens", t.cached, "cache_write_tokens",
                     t.write, "output_tokens", t.out, "cost", t.cost, "priced", t.priced, "duration_ms", dur,
                     "answer", "reason", why);
}

static int sweep(store *s, char **err)
{
    sqlite3_stmt *st = NULL;
    char **ids = NULL, **whys = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    int src = sqlite3_prepare_v2(s->db,
                                 "SELECT id, pid, pid_start, boot_id FROM runs WHERE status = 'running' ORDER BY id",
                                 -1, &st, NULL);
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        char why[160];
        const char *boot = (const char *)sqlite3_column_text(st, 3);
        if (run_alive(s, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2), boot, why, sizeof why))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **a = mem_realloc(ids, nc * sizeof *a), **b = a ? mem_realloc(whys, nc * sizeof *b) : NULL;
            if (a)
                ids = a;
            if (b)
                whys = b;
            if (!a || !b) {
                rc = err_set(err, -ENOMEM, "out of memory");
                goto out;
            }
            cap = nc;
        }
        ids[n] = col_strdup(st, 0);
        whys[n] = mem_strdup(why);
        n++;
        if (!ids[n - 1] || !whys[n - 1]) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
    }
    if (src != SQLITE_DONE) {
        rc = db_fail(s, src, "cannot look for interrupted runs", err);
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *p = killed_summary(s, ids[i], whys[i]);
        if (!p) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        rc = store_append(s, ids[i], "run.finished", p, NULL, err);
        json_decref(p);
        if (rc == -EALREADY) /* another process marked it first */
            rc = 0;
        if (rc < 0)
            goto out;
    }
out:
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++) {
        mem_free(ids[i]);
        mem_free(whys[i]);
    }
    mem_free(ids);
    mem_free(whys);
    return rc;
}

void store_close(store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    if (s->db)
        sqlite3_close_v2(s->db);
    redactions_clear(s);
    mem_free(s->path);
    pthread_rwlock_destroy(&s->rl);
    pthread_mutex_destroy(&s->mu);
    mem_free(s);
}

int store_open(const char *path, store **out, char **err)
{
    if (!out)
        return err_set(err, -EINVAL, "store_open: no place for the result");
    *out = NULL;
    if (!path || !*path)
        return err_set(err, -EINVAL, "store_open: no database path");
    if (crypto_ready() < 0)
        return err_set(err, -EIO, "libsodium could not start (sodium_init failed)");
    store *s = mem_calloc(1, sizeof *s);
    if (!s)
        return err_set(err, -ENOMEM, "out of memory");
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->mu, &ma);
    pthread_rwlock_init(&s->rl, NULL);
    pthread_mutexattr_destroy(&ma);
    int rc = 0;
    if (!(s->path = mem_strdup(path))) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    read_line("/proc/sys/kernel/random/boot_id", s->boot_id, sizeof s->boot_id);

    int src = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = db_fail(s, src, "cannot open the database", err);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        rc = err_set(err, -EROFS,
                     "%s is read-only; venom must write its database: check the permissions of the file "
                     "and of its directory",
                     path);
        goto fail;
    }
    /* The first read: a file that is not SQLite fails here. */
    int uv = 0;
    if ((rc = pragma_int(s, "PRAGMA user_version", &uv, err)) < 0)
        goto fail;
    if (uv > SCHEMA_VERSION) {
        rc = err_set(err, -EPROTO, "%s has schema version %d, this venom knows up to %d; upgrade venom", path, uv,
                     SCHEMA_VERSION);
        goto fail;
    }
    /* Switching a new database to WAL needs an exclusive lock, and SQLite
     * answers SQLITE_BUSY at once (no busy handler) while another process
     * opens it at the same moment: retry for the busy timeout. */
    struct timespec jt0, jnow;
    clock_gettime(CLOCK_MONOTONIC, &jt0);
    for (unsigned attempt = 0;; attempt++) {
        sqlite3_stmt *jm = NULL;
        src = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &jm, NULL);
        if (src == SQLITE_OK && (src = sqlite3_step(jm)) == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(jm, 0);
            if (!mode || strcmp(mode, "wal") != 0) {
                rc = err_set(err, -ENOTSUP,
                             "%s: cannot switch the database to WAL mode (it stays in '%s' mode); keep VENOM_HOME "
                             "on a local file system",
                             path, mode ? mode : "?");
                sqlite3_finalize(jm);
                goto fail;
            }
            src = SQLITE_OK;
        }
        sqlite3_finalize(jm);
        clock_gettime(CLOCK_MONOTONIC, &jnow);
        double waited = (double)(jnow.tv_sec - jt0.tv_sec) * 1e3 + (double)(jnow.tv_nsec - jt0.tv_nsec) / 1e6;
        if ((src & 0xff) != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
            break;
        struct timespec pause = {0, (long)(2 + attempt % 8) * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (src != SQLITE_OK) {
        rc = db_fail(s, src, "cannot switch the database to WAL mode", err);
        goto fail;
    }
    if ((rc = exec_sql(s, "PRAGMA synchronous = NORMAL", "cannot set it up", err)) < 0)
        goto fail;
    for (int i = 0; i < ST_COUNT; i++) {
        if (i >= ST_RUN)
            continue; /* the table statements need the schema first */
        src = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (src != SQLITE_OK) {
            rc = db_fail(s, src, "cannot prepare a statement", err);
            goto fail;
        }
    }
    if ((rc = migrate(s, err)) < 0)
        goto fail;
    for (int i = ST_RUN; i < ST_COUNT; i++) {
        src = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (src != SQLITE_OK) {
            rc = db_fail(s, src, "its schema is not venom's (cannot prepare a statement)", err);
            goto fail;
        }
    }
    if ((rc = sweep(s, err)) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    store_close(s);
    return rc;
}

/* ---- runs ---- */

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* "r" + 10 base32 digits of the ms time + 6 random base32 digits. */
static void new_run_id(uint64_t ms, char id[32])
{
    unsigned char rnd[6];
    randombytes_buf(rnd, sizeof rnd);
    id[0] = 'r';
    for (int i = 10; i >= 1; i--) {
        id[i] = crockford[ms & 31];
        ms >>= 5;
    }
    for (int i = 0; i < 6; i++)
        id[11 + i] = crockford[rnd[i] & 31];
    id[17] = '\0';
}

int store_run_new(store *s, const char *goal, char id[32], char **err)
{
    if (!s || !id)
        return err_set(err, -EINVAL, "store_run_new: no store or id buffer");
    if (!goal)
        goal = "";
    int rc = 0;
    buf tmp = BUF_INIT;
    char *clean = NULL;
    sqlite3_stmt *st = NULL;
    long long pstart = 0;
    if (proc_start(getpid(), &pstart, NULL) < 0)
        pstart = 0;
    pthread_mutex_lock(&s->mu);
    bool changed = false;
    if (redact_text(s, goal, strlen(goal), &tmp, &changed) < 0) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    clean = changed ? buf_detach(&tmp) : NULL;
    int src = sqlite3_prepare_v2(s->db,
                                 "INSERT INTO runs(id, goal, status, started, pid, pid_start, boot_id, events)"
                                 " VALUES(?1, ?2, 'running', ?3, ?4, ?5, ?6, 0)",
                                 -1, &st, NULL);
    for (int attempt = 0; src == SQLITE_OK; attempt++) {
        char ts[96];
        uint64_t ms;
        now_iso(ts, &ms);
        new_run_id(ms, id);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, clean ? clean : goal, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, ts, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)getpid());
        sqlite3_bind_int64(st, 5, pstart);
        sqlite3_bind_text(st, 6, s->boot_id, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        sqlite3_reset(st);
        if (src == SQLITE_DONE) {
            src = SQLITE_OK;
            break;
        }
        if ((src & 0xff) != SQLITE_CONSTRAINT || attempt == 3)
            break;
        src = SQLITE_OK; /* an id taken in the same ms: draw again */
    }
    if (src != SQLITE_OK) {
        id[0] = '\0';
        rc = db_fail(s, src, "cannot record a new run", err);
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    mem_free(clean);
    buf_release(&tmp);
    return rc;
}

/* ---- append ---- */

static const char *const reserved[] = {"v", "type", "run_id", "seq", "ts", "prev", "hash"};

static bool type_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Does any string value of v (members, items, at any depth) hold a secret?
 * Called with mu or rl held. */
static bool redact_needed(const store *s, const json_t *v)
{
    if (json_is_string(v)) {
        const char *t = json_string_value(v);
        size_t n = json_string_length(v);
        for (size_t k = 0; k < s->n_redact; k++)
            if (memmem(t, n, s->redact[k], strlen(s->redact[k])))
                return true;
        return false;
    }
    const char *key;
    json_t *m;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, m) {
            if (redact_needed(s, m))
                return true;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) {
            if (redact_needed(s, m))
                return true;
        }
    }
    return false;
}

/* An event before it has a place in a chain: checked, scrubbed, printed. */
typedef struct ev_prep {
    const char *type; /* borrowed */
    bool finished;    /* run.finished */
    bool own;         /* body is the store's scrubbed copy (not the caller's payload) */
    json_t *body;     /* the payload (a reference) or its scrubbed copy */
    char *body_text;  /* json_dumps(body, STORE_JSON_FLAGS): "{...}", NUL-terminated; small or allocated */
    size_t body_len;
    char small[1024]; /* most payloads print into this: no allocation */
} ev_prep;

static void prep_release(ev_prep *p)
{
    json_decref(p->body);
    if (p->body_text != p->small)
        mem_free(p->body_text);
    p->body = NULL;
    p->body_text = NULL;
}

/* Check type and payload, scrub secrets (copying the payload only when one
 * occurs) and print the payload once. Needs no lock held; any thread. */
static int prep_event(store *s, const char *type, const json_t *payload, ev_prep *p, char **err)
{
    p->type = type;
    p->finished = p->own = false;
    p->body = NULL;
    p->body_text = NULL;
    if (!type_ok(type))
        return err_set(err, -EINVAL, "event type '%s' is not valid: 1 to 64 of a-z 0-9 . _ -",
                       jsonx_clipped(type).s);
    p->finished = strcmp(type, "run.finished") == 0;
    if (p->finished) {
        const char *status = json_string_value(json_object_get(payload, "status"));
        if (!status || !*status || strcmp(status, "running") == 0)
            return err_set(err, -EINVAL, "a run.finished event needs a \"status\" string other than \"running\"");
    }
    if (payload && !json_is_object(payload))
        return err_set(err, -EINVAL, "an event payload must be an object, not %s", jsonx_kind(payload));
    for (size_t i = 0; payload && i < ARRAY_SIZE(reserved); i++)
        if (json_object_get(payload, reserved[i]))
            return err_set(err, -EINVAL, "an event payload must not set \"%s\" (the store fills it)", reserved[i]);
    int rc = 0;
    pthread_rwlock_rdlock(&s->rl);
    if (!payload) {
        p->body = json_object();
        p->own = true;
    } else if (!s->n_redact || !redact_needed(s, payload)) {
        p->body = json_incref((json_t *)payload);
    } else if ((p->body = json_deep_copy(payload))) {
        buf tmp = BUF_INIT;
        rc = redact_json(s, p->body, &tmp);
        buf_release(&tmp);
        p->own = true;
    }
    pthread_rwlock_unlock(&s->rl);
    if (!p->body || rc < 0)
        goto oom;
    /* json_dumpb prints into a given buffer (0 = failed, else the size it needs) */
    size_t need = json_dumpb(p->body, p->small, sizeof p->small - 1, STORE_JSON_FLAGS);
    if (!need)
        goto oom;
    if (need < sizeof p->small) {
        p->body_text = p->small;
    } else if (!(p->body_text = mem_alloc(need + 1)) ||
               json_dumpb(p->body, p->body_text, need, STORE_JSON_FLAGS) != need) {
        goto oom;
    }
    p->body_text[need] = '\0';
    p->body_len = need;
    return 0;
oom:
    prep_release(p);
    return err_set(err, -ENOMEM, "out of memory");
}

/* An event with its place in the chain: what goes into the events row. */
typedef struct ev_node {
    struct ev_node *next;
    int64_t seq;
    int64_t queued_ms; /* monotonic ms it joined a batch */
    bool finished;     /* run.finished: also sets the runs row's status */
    bool notify;       /* hand it to the batch's committed callback */
    char type[65], ts[32], prev[65], hash[65];
    char *text;    /* the stored line */
    char *summary; /* run.finished: the payload as compact JSON (runs.summary) */
    char *status;  /* run.finished: its status (runs.status) */
    json_t *ev;    /* the complete event as an object, when someone wants it */
} ev_node;

static void node_free(ev_node *n)
{
    if (!n)
        return;
    mem_free(n->text);
    mem_free(n->summary);
    mem_free(n->status);
    json_decref(n->ev);
    mem_free(n);
}

static void nodes_free(ev_node *n)
{
    while (n) {
        ev_node *next = n->next;
        node_free(n);
        n = next;
    }
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Run ids the store makes need no JSON escaping; anything else is printed
 * by jansson. */
static bool id_plain(const char *id)
{
    if (!*id)
        return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' ||
              *c == '-' || *c == '.'))
            return false;
    return true;
}

/* Give prepared event p its place (seq, prev) in run id's chain: stamp it,
 * print it and hash it. The stored line is spliced, not printed twice:
 * "{"v":1,"type":…,"run_id":…,"seq":N,"ts":…" + the members of p's body
 * text + ","prev":"…"}" is exactly what json_dumps prints for the event
 * without "hash" (jansson keeps insertion order), i.e. the hashed text; the
 * stored line is that with its last "}" replaced by ","hash":"…"}".
 * want_obj: also build the event as an object (n->ev). */
static int seal_event(const char *id, ev_prep *p, int64_t seq, const char prev[65], bool want_obj, ev_node **out,
                      char **err)
{
    *out = NULL;
    char *idj = NULL;
    ev_node *n = mem_calloc(1, sizeof *n);
    if (!n)
        goto oom;
    n->seq = seq;
    n->finished = p->finished;
    snprintf(n->type, sizeof n->type, "%s", p->type);
    snprintf(n->prev, sizeof n->prev, "%s", prev);
    char ts[96];
    now_iso(ts, NULL);
    size_t tl = strnlen(ts, sizeof n->ts - 1); /* 24 */
    memcpy(n->ts, ts, tl);
    n->ts[tl] = '\0';
    bool plain = id_plain(id);
    if (!plain) {
        json_t *js = json_string(id);
        idj = js ? json_dumps(js, JSON_ENCODE_ANY | STORE_JSON_FLAGS) : NULL;
        json_decref(js);
        if (!js) {
            node_free(n);
            return err_set(err, -EINVAL, "run id '%s' is not valid UTF-8", jsonx_clipped(id).s);
        }
        if (!idj)
            goto oom;
    }
    size_t inner = p->body_len > 2 ? p->body_len - 2 : 0;
    char head[96];
    int hl = snprintf(head, sizeof head, "{\"v\":%d,\"type\":\"", STORE_EVENT_VERSION);
    char mid[64];
    int ml = snprintf(mid, sizeof mid, ",\"seq\":%lld,\"ts\":\"", (long long)seq);
    size_t tyl = strlen(n->type), idl = plain ? strlen(id) + 2 : strlen(idj), tsl = strlen(n->ts),
           prl = strlen(n->prev); /* 64, unless the log was tampered with */
    /* head type ","run_id": id mid ts " [,inner] ,"prev":"<64>"} then ,"hash":"<64>"} */
    size_t cap = (size_t)hl + tyl + 11 + idl + (size_t)ml + tsl + 1 + 1 + inner + 10 + prl + 2 + 10 + 64 + 2 + 1;
    char *w = n->text = mem_alloc(cap);
    if (!w)
        goto oom;
#define PUT(src, len) (memcpy(w, (src), (len)), w += (len))
    PUT(head, (size_t)hl);
    PUT(n->type, tyl);
    PUT("\",\"run_id\":", 11);
    if (plain) {
        *w++ = '"';
        PUT(id, idl - 2);
        *w++ = '"';
    } else {
        PUT(idj, idl);
    }
    PUT(mid, (size_t)ml);
    PUT(n->ts, tsl);
    *w++ = '"';
    if (inner) {
        *w++ = ',';
        PUT(p->body_text + 1, inner);
    }
    PUT(",\"prev\":\"", 9);
    PUT(n->prev, prl);
    PUT("\"}", 2);
    size_t len = (size_t)(w - n->text);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)n->text, (unsigned long long)len);
    sodium_bin2hex(n->hash, sizeof n->hash, h, sizeof h);
    w--; /* the last "}" */
    PUT(",\"hash\":\"", 9);
    PUT(n->hash, 64);
    PUT("\"}", 3); /* with the NUL */
#undef PUT
    assert((size_t)(w - n->text) <= cap);
    if (p->finished) {
        n->status = mem_strdup(json_string_value(json_object_get(p->body, "status")));
        n->summary = mem_strndup(p->body_text, p->body_len);
        if (!n->status || !n->summary)
            goto oom;
    }
    if (want_obj) {
        json_t *body = p->own ? json_incref(p->body) : json_deep_copy(p->body);
        json_t *ev = json_object();
        n->ev = ev;
        if (!body || !ev || json_object_set_new(ev, "v", json_integer(STORE_EVENT_VERSION)) < 0 ||
            json_object_set_new(ev, "type", json_string(n->type)) < 0 ||
            json_object_set_new(ev, "run_id", json_string(id)) < 0 ||
            json_object_set_new(ev, "seq", json_integer(seq)) < 0 ||
            json_object_set_new(ev, "ts", json_string(n->ts)) < 0 || json_object_update(ev, body) < 0 ||
            json_object_set_new(ev, "prev", json_string(n->prev)) < 0 ||
            json_object_set_new(ev, "hash", json_string(n->hash)) < 0) {
            json_decref(body);
            goto oom;
        }
        json_decref(body);
    }
    mem_free(idj);
    *out = n;
    return 0;
oom:
    mem_free(idj);
    node_free(n);
    return err_set(err, -ENOMEM, "out of memory");
}

/* In a transaction (or alone, for a first look): run id exists and takes
 * events; *next and prev receive the seq and hash its next event follows. */
static int txn_head(store *s, const char *id, int64_t *next, char prev[65], char **err)
{
    sqlite3_stmt *st = s->st[ST_RUN];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        sqlite3_reset(st);
        return err_set(err, -ENOENT, "no run '%s'; run 'venom runs list' to see the runs", jsonx_clipped(id).s);
    }
    if (src != SQLITE_ROW) {
        sqlite3_reset(st);
        return db_fail(s, src, "cannot append an event", err);
    }
    if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
        int rc = err_set(err, -EALREADY, "run '%s' is finished (status %s); a finished run takes no more events", id,
                         (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    *next = 0;
    snprintf(prev, 65, "%s", ZERO_HASH);
    st = s->st[ST_LAST];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *next = sqlite3_column_int64(st, 0) + 1;
        const char *h = (const char *)sqlite3_column_text(st, 1);
        snprintf(prev, 65, "%s", h ? h : "");
    }
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return db_fail(s, src, "cannot append an event", err);
    return 0;
}

/* In a transaction: insert the k events from first on (a run.finished can
 * only be the last) and move the runs row once. */
static int txn_write(store *s, const char *id, const ev_node *first, size_t k, char **err)
{
    const ev_node *last = NULL;
    sqlite3_stmt *st = s->st[ST_INSERT];
    for (const ev_node *n = first; n && k; n = n->next, k--) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, n->seq);
        sqlite3_bind_text(st, 3, n->ts, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, n->type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, n->text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, n->prev, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, n->hash, -1, SQLITE_STATIC);
        int src = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (src != SQLITE_DONE)
            return db_fail(s, src, "cannot append an event", err);
        last = n;
    }
    if (!last)
        return 0;
    int64_t count = last->seq - first->seq + 1;
    st = s->st[last->finished ? ST_FINISH : ST_BUMP];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, count);
    if (last->finished) {
        sqlite3_bind_text(st, 3, last->status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, last->ts, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, last->summary, -1, SQLITE_STATIC);
    }
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return src == SQLITE_DONE ? 0 : db_fail(s, src, "cannot append an event", err);
}

/* ---- group commit ---- */

struct store_batch {
    store *s;
    struct store_batch *next; /* s->batches (under s->mu) */
    char id[32];
    size_t max_events;
    unsigned max_ms;
    void (*committed)(void *user, const json_t *event);
    void *user;
    /* q guards the rest; lock order: s->mu, then q */
    pthread_mutex_t q;
    pthread_cond_t wake;
    ev_node *head, *tail;
    size_t count;
    int64_t next_seq; /* the chain as far as it is queued */
    char last[65];
    bool finished;    /* run.finished is queued: no more events */
    bool closing;
    bool broken;      /* the chain cannot go on (fail_rc/fail_msg say why; every append returns it) */
    int fail_rc;      /* not broken: a background commit failed, reported once by the next call */
    char *fail_msg;
    pthread_t th;
    bool th_on;
};

static store_batch *batch_find(store *s, const char *id)
{
    for (store_batch *b = s->batches; b; b = b->next)
        if (!strcmp(b->id, id))
            return b;
    return NULL;
}

/* A background failure to report (once), or 0. Under q. */
static int batch_take_fail(store_batch *b, char **err)
{
    if (b->broken)
        return err_set(err, b->fail_rc, "%s", b->fail_msg);
    if (!b->fail_rc)
        return 0;
    int rc = err_set(err, b->fail_rc, "%s", b->fail_msg);
    b->fail_rc = 0;
    mem_free(b->fail_msg);
    b->fail_msg = NULL;
    return rc;
}

/* Commit up to max_events queued events in one transaction (BEGIN
 * IMMEDIATE: the run still takes events and its last event is the one the
 * first queued event follows; insert; one runs update; COMMIT), then hand
 * them to the committed callback in seq order. 1 committed some, 0 nothing
 * queued, < 0 failed: rolled back, the events stay queued (retried by the
 * next commit) — unless the chain moved under the batch (the run finished
 * or another writer appended to it), which drops every queued event and
 * breaks the batch. */
static int batch_commit(store_batch *b, char **err)
{
    store *s = b->s;
    pthread_mutex_lock(&s->mu);
    pthread_mutex_lock(&b->q);
    ev_node *first = b->head, *last = NULL;
    size_t k = 0;
    for (ev_node *n = first; n && k < b->max_events; n = n->next)
        last = n, k++;
    if (k) {
        b->head = last->next;
        if (!b->head)
            b->tail = NULL;
        b->count -= k;
        last->next = NULL;
    }
    pthread_mutex_unlock(&b->q);
    if (!k) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    int rc = 0, src;
    bool moved = false;
    int64_t seq = 0;
    char prev[65];
    if ((src = run_stmt(s, ST_BEGIN)) != SQLITE_OK) {
        rc = db_fail(s, src, "cannot commit events", err);
    } else if ((rc = txn_head(s, b->id, &seq, prev, err)) < 0) {
        moved = rc == -ENOENT || rc == -EALREADY;
    } else if (seq != first->seq || strcmp(prev, first->prev) != 0) {
        rc = err_set(err, -ESTALE, "run '%s': another writer appended event %lld while a batch of its events was open",
                     b->id, (long long)seq - 1);
        moved = true;
    } else if ((rc = txn_write(s, b->id, first, k, err)) == 0 && (src = run_stmt(s, ST_COMMIT)) != SQLITE_OK) {
        rc = db_fail(s, src, "cannot commit events", err);
    }
    if (rc < 0) {
        rollback(s);
        pthread_mutex_lock(&b->q);
        if (moved) {
            size_t lost = k + b->count;
            long long from = (long long)first->seq;
            nodes_free(first);
            nodes_free(b->head);
            b->head = b->tail = NULL;
            b->count = 0;
            b->broken = true;
            b->fail_rc = rc;
            mem_free(b->fail_msg);
            b->fail_msg = mem_printf("%zu event%s of run '%s' (seq %lld on) not recorded: %s", lost,
                                     lost == 1 ? "" : "s", b->id, from,
                                     err && *err ? *err : "the chain moved");
            if (err && b->fail_msg)
                (void)err_set(err, rc, "%s", b->fail_msg);
        } else {
            last->next = b->head;
            b->head = first;
            if (!b->tail)
                b->tail = last;
            b->count += k;
        }
        pthread_mutex_unlock(&b->q);
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    for (ev_node *n = first; n; n = n->next)
        if (n->notify && b->committed && n->ev)
            b->committed(b->user, n->ev);
    nodes_free(first);
    pthread_mutex_unlock(&s->mu);
    return 1;
}

/* Commit everything queued (several transactions when more than max_events
 * are). 0 or the first failure. */
static int batch_commit_all(store_batch *b, char **err)
{
    int rc;
    while ((rc = batch_commit(b, err)) > 0)
        ;
    return rc;
}

/* The batch's own thread: commits when max_events are queued or the oldest
 * queued event is max_ms old; after a failure it waits STORE_BATCH_RETRY_MS
 * before trying again. */
#define STORE_BATCH_RETRY_MS 100
static void abs_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L)
        ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

static void *batch_thread(void *arg)
{
    store_batch *b = arg;
    pthread_mutex_lock(&b->q);
    while (!b->closing) {
        if (!b->count) {
            pthread_cond_wait(&b->wake, &b->q);
            continue;
        }
        int64_t wait = b->head->queued_ms + b->max_ms - mono_ms();
        if (b->count < b->max_events && wait > 0) {
            struct timespec ts;
            abs_in(&ts, wait);
            pthread_cond_timedwait(&b->wake, &b->q, &ts);
            continue;
        }
        pthread_mutex_unlock(&b->q);
        char *e = NULL;
        int rc = batch_commit(b, &e);
        pthread_mutex_lock(&b->q);
        if (rc < 0 && !b->broken && !b->fail_rc) {
            b->fail_rc = rc;
            b->fail_msg = e;
            e = NULL;
        }
        mem_free(e);
        if (rc < 0 && !b->closing) {
            struct timespec ts;
            abs_in(&ts, STORE_BATCH_RETRY_MS);
            pthread_cond_timedwait(&b->wake, &b->q, &ts);
        }
    }
    pthread_mutex_unlock(&b->q);
    return NULL;
}

/* Queue prepared event p (its place: the batch's chain). sync: commit the
 * queue before returning (store_append's promise); run.finished always
 * does. *out (may be NULL): the event, new reference. */
static int batch_add(store_batch *b, ev_prep *p, bool notify, bool sync, json_t **out, char **err)
{
    ev_node *n = NULL;
    pthread_mutex_lock(&b->q);
    int rc = 0;
    if (b->broken) {
        rc = err_set(err, b->fail_rc, "%s", b->fail_msg);
    } else if (b->finished) {
        rc = err_set(err, -EALREADY, "run '%s' is finished; a finished run takes no more events", b->id);
    } else {
        rc = seal_event(b->id, p, b->next_seq, b->last, out || (notify && b->committed), &n, err);
    }
    if (rc < 0) {
        pthread_mutex_unlock(&b->q);
        return rc;
    }
    n->notify = notify;
    n->queued_ms = mono_ms();
    b->next_seq++;
    memcpy(b->last, n->hash, sizeof b->last);
    b->finished = n->finished;
    if (b->tail)
        b->tail->next = n;
    else
        b->head = n;
    b->tail = n;
    b->count++;
    if (out)
        *out = json_incref(n->ev);
    bool wake = b->count == 1 || b->count == b->max_events;
    bool self = sync || n->finished || b->count >= STORE_BATCH_BACKLOG * b->max_events;
    int bg = batch_take_fail(b, self ? NULL : err);
    pthread_mutex_unlock(&b->q);
    if (wake && !self)
        pthread_cond_signal(&b->wake);
    if (self)
        rc = batch_commit_all(b, err);
    if (rc == 0 && bg < 0 && self) /* reported now, after the commit that may have cured it */
        rc = bg;
    else if (rc == 0)
        rc = bg;
    if (rc < 0 && sync && out) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int store_batch_open(store *s, const char *id, const store_batch_opts *o, store_batch **out, char **err)
{
    if (out)
        *out = NULL;
    if (!s || !id || !out)
        return err_set(err, -EINVAL, "store_batch_open: missing store, run id or result");
    if (strlen(id) >= sizeof((store_batch *)0)->id)
        return err_set(err, -ENOENT, "no run '%s'; run 'venom runs list' to see the runs", jsonx_clipped(id).s);
    store_batch *b = mem_calloc(1, sizeof *b);
    if (!b)
        return err_set(err, -ENOMEM, "out of memory");
    b->s = s;
    snprintf(b->id, sizeof b->id, "%s", id);
    b->max_events = o && o->max_events ? o->max_events : STORE_BATCH_EVENTS;
    if (b->max_events > STORE_BATCH_EVENTS_MAX)
        b->max_events = STORE_BATCH_EVENTS_MAX;
    b->max_ms = o && o->max_ms ? o->max_ms : STORE_BATCH_MS;
    if (b->max_ms > STORE_BATCH_MS_MAX)
        b->max_ms = STORE_BATCH_MS_MAX;
    b->committed = o ? o->committed : NULL;
    b->user = o ? o->user : NULL;
    pthread_mutex_init(&b->q, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (batch_find(s, id))
        rc = err_set(err, -EBUSY, "run '%s' has a batch open already", id);
    else
        rc = txn_head(s, id, &b->next_seq, b->last, err);
    if (rc == 0 && pthread_create(&b->th, NULL, batch_thread, b) != 0)
        rc = err_set(err, -EAGAIN, "cannot start the event log's commit thread");
    if (rc == 0) {
        b->th_on = true;
        b->next = s->batches;
        s->batches = b;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) {
        pthread_cond_destroy(&b->wake);
        pthread_mutex_destroy(&b->q);
        mem_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

int store_batch_append(store_batch *b, const char *type, const json_t *payload, char **err)
{
    if (!b || !type)
        return err_set(err, -EINVAL, "store_batch_append: missing batch or type");
    ev_prep p;
    int rc = prep_event(b->s, type, payload, &p, err);
    if (rc < 0)
        return rc;
    rc = batch_add(b, &p, true, false, NULL, err);
    prep_release(&p);
    return rc;
}

int store_batch_flush(store_batch *b, char **err)
{
    if (!b)
        return err_set(err, -EINVAL, "store_batch_flush: no batch");
    int rc = batch_commit_all(b, err);
    pthread_mutex_lock(&b->q);
    int bg = batch_take_fail(b, rc < 0 ? NULL : err);
    pthread_mutex_unlock(&b->q);
    return rc < 0 ? rc : bg;
}

int store_batch_close(store_batch *b, char **err)
{
    if (!b)
        return 0;
    store *s = b->s;
    if (b->th_on) {
        pthread_mutex_lock(&b->q);
        b->closing = true;
        pthread_cond_signal(&b->wake);
        pthread_mutex_unlock(&b->q);
        pthread_join(b->th, NULL);
    }
    char *e = NULL;
    int rc = batch_commit_all(b, &e);
    pthread_mutex_lock(&s->mu);
    for (store_batch **pp = &s->batches; *pp; pp = &(*pp)->next)
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    pthread_mutex_lock(&b->q);
    size_t lost = b->count;
    if (rc < 0) {
        rc = err_set(err, rc, "%zu event%s of run '%s' not recorded: %s", lost, lost == 1 ? "" : "s", b->id,
                     e ? e : "write failed");
    } else {
        rc = batch_take_fail(b, err);
    }
    nodes_free(b->head);
    pthread_mutex_unlock(&b->q);
    pthread_mutex_unlock(&s->mu);
    mem_free(e);
    mem_free(b->fail_msg);
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->q);
    mem_free(b);
    return rc;
}

int store_append(store *s, const char *id, const char *type, json_t *payload, json_t **out, char **err)
{
    if (out)
        *out = NULL;
    if (!s || !id || !type)
        return err_set(err, -EINVAL, "store_append: missing store, run id or type");
    ev_prep p;
    int rc = prep_event(s, type, payload, &p, err);
    if (rc < 0)
        return rc;
    ev_node *n = NULL;
    int src;
    pthread_mutex_lock(&s->mu);
    store_batch *b = batch_find(s, id);
    if (b) { /* the run's events are batched: join the batch and commit it */
        rc = batch_add(b, &p, true, true, out, err);
        goto out;
    }
    if ((src = run_stmt(s, ST_BEGIN)) != SQLITE_OK) {
        rc = db_fail(s, src, "cannot append an event", err);
        goto out;
    }
    int64_t seq = 0;
    char prev[65];
    if ((rc = txn_head(s, id, &seq, prev, err)) < 0 || (rc = seal_event(id, &p, seq, prev, out != NULL, &n, err)) < 0 ||
        (rc = txn_write(s, id, n, 1, err)) < 0)
        goto fail;
    if ((src = run_stmt(s, ST_COMMIT)) != SQLITE_OK) {
        rc = db_fail(s, src, "cannot append an event", err);
        goto fail;
    }
    if (out) {
        *out = n->ev;
        n->ev = NULL;
    }
    goto out;
fail:
    rollback(s);
out:
    pthread_mutex_unlock(&s->mu);
    node_free(n);
    prep_release(&p);
    return rc;
}

/* ---- reading ---- */

void store_run_clear(store_run *r)
{
    if (!r)
        return;
    mem_free(r->goal);
    mem_free(r->status);
    mem_free(r->started);
    mem_free(r->finished);
    json_decref(r->summary);
    memset(r, 0, sizeof *r);
}

#define RUN_COLS "id, goal, status, started, finished, events, summary"

static int run_from_row(sqlite3_stmt *st, store_run *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", (const char *)sqlite3_column_text(st, 0));
    r->goal = col_strdup(st, 1);
    r->status = col_strdup(st, 2);
    r->started = col_strdup(st, 3);
    r->finished = col_strdup(st, 4);
    r->events = sqlite3_column_int64(st, 5);
    const char *sum = (const char *)sqlite3_column_text(st, 6);
    if (sum)
        r->summary = json_loads(sum, 0, NULL);
    if (!r->goal || !r->status || !r->started || (sqlite3_column_type(st, 4) != SQLITE_NULL && !r->finished)) {
        store_run_clear(r);
        return -ENOMEM;
    }
    return 0;
}

int store_runs_list(store *s, size_t limit, store_run **runs, size_t *n, char **err)
{
    if (!s || !runs || !n)
        return err_set(err, -EINVAL, "store_runs_list: missing argument");
    *runs = NULL;
    *n = 0;
    store_run *a = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db, "SELECT " RUN_COLS " FROM runs ORDER BY started DESC, id DESC LIMIT ?1", -1,
                                 &st, NULL);
    if (src == SQLITE_OK)
        sqlite3_bind_int64(st, 1, limit ? (sqlite3_int64)limit : -1);
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            store_run *g = mem_realloc(a, nc * sizeof *g);
            if (!g) {
                rc = err_set(err, -ENOMEM, "out of memory");
                goto out;
            }
            a = g;
            cap = nc;
        }
        if (run_from_row(st, &a[len]) < 0) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        len++;
    }
    if (src != SQLITE_DONE)
        rc = db_fail(s, src, "cannot list the runs", err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) {
        for (size_t i = 0; i < len; i++)
            store_run_clear(&a[i]);
        mem_free(a);
        return rc;
    }
    *runs = a;
    *n = len;
    return 0;
}

/* A run id as typed: "r" then Crockford base32 (case-insensitive, I/L are 1,
 * O is 0). false when it cannot be one. */
static bool norm_run_id(const char *in, char out[32])
{
    size_t n = strlen(in);
    if (n < 1 || n > 31 || (in[0] != 'r' && in[0] != 'R'))
        return false;
    out[0] = 'r';
    for (size_t i = 1; i < n; i++) {
        char c = in[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c == 'I' || c == 'L')
            c = '1';
        else if (c == 'O')
            c = '0';
        if (!strchr(crockford, c) || c == '\0')
            return false;
        out[i] = c;
    }
    out[n] = '\0';
    return true;
}

int store_run_get(store *s, const char *id_or_prefix, store_run *out, char **err)
{
    if (!s || !id_or_prefix || !out)
        return err_set(err, -EINVAL, "store_run_get: missing argument");
    memset(out, 0, sizeof *out);
    char id[32];
    if (!norm_run_id(id_or_prefix, id))
        return err_set(err, -EINVAL, "'%s' is not a run id (run ids look like r01KBWQ3M4K7T2B9X); run 'venom runs list'",
                       jsonx_clipped(id_or_prefix).s);
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db,
                                 "SELECT " RUN_COLS ", 0 FROM runs WHERE id = ?1 UNION ALL "
                                 "SELECT * FROM (SELECT " RUN_COLS ", 1 FROM runs WHERE ?2 AND id GLOB ?1 || '*'"
                                 " AND id <> ?1 ORDER BY id LIMIT 2)",
                                 -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = db_fail(s, src, "cannot read the runs", err);
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, strlen(id) >= RUN_PREFIX_MIN);
    src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        if (strlen(id) < RUN_PREFIX_MIN)
            rc = err_set(err, -ENOENT, "no run '%s'; give at least %d characters of a run id (see 'venom runs list')",
                         id, RUN_PREFIX_MIN);
        else
            rc = err_set(err, -ENOENT, "no run '%s'; run 'venom runs list' to see the runs", id);
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = db_fail(s, src, "cannot read the runs", err);
        goto out;
    }
    if (sqlite3_column_int(st, 7) == 1) { /* a prefix match: unique? */
        store_run first;
        if (run_from_row(st, &first) < 0) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        src = sqlite3_step(st);
        if (src == SQLITE_DONE) {
            *out = first;
            goto out;
        }
        store_run_clear(&first);
        if (src != SQLITE_ROW) {
            rc = db_fail(s, src, "cannot read the runs", err);
            goto out;
        }
        sqlite3_finalize(st);
        st = NULL;
        int count = 0;
        src = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM runs WHERE id GLOB ?1 || '*'", -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                count = sqlite3_column_int(st, 0);
        }
        rc = err_set(err, -EINVAL, "'%s' matches %d runs; give more characters", id, count);
        goto out;
    }
    if (run_from_row(st, out) < 0)
        rc = err_set(err, -ENOMEM, "out of memory");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The runs row's event count; -ENOENT with a message when there is no run. */
static int run_events(store *s, const char *id, int64_t *count, char **err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    int src = sqlite3_prepare_v2(s->db, "SELECT events FROM runs WHERE id = ?1", -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src == SQLITE_ROW)
        *count = sqlite3_column_int64(st, 0);
    else if (src == SQLITE_DONE)
        rc = err_set(err, -ENOENT, "no run '%s'; run 'venom runs list' to see the runs", jsonx_clipped(id).s);
    else
        rc = db_fail(s, src, "cannot read the run", err);
    sqlite3_finalize(st);
    return rc;
}

int store_events(store *s, const char *id, store_event_fn fn, void *user, char **err)
{
    if (!s || !id || !fn)
        return err_set(err, -EINVAL, "store_events: missing argument");
    int rc = 0;
    int64_t count = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    if ((rc = run_events(s, id, &count, err)) < 0)
        goto out;
    int src = sqlite3_prepare_v2(s->db, "SELECT seq, body FROM events WHERE run_id = ?1 ORDER BY seq", -1, &st, NULL);
    if (src == SQLITE_OK)
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        json_error_t je;
        json_t *ev = json_loads((const char *)sqlite3_column_text(st, 1), JSON_REJECT_DUPLICATES, &je);
        if (!ev) {
            rc = err_set(err, -EBADMSG, "run '%s': event %lld is not valid JSON (%s); run 'venom runs verify'", id,
                         (long long)sqlite3_column_int64(st, 0), je.text);
            goto out;
        }
        rc = fn(user, ev);
        json_decref(ev);
        if (rc != 0)
            goto out;
    }
    if (src != SQLITE_DONE)
        rc = db_fail(s, src, "cannot read the events", err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Check one stored event against its row and the chain so far. NULL when it
 * holds, else what is wrong (static). */
static const char *check_event(sqlite3_stmt *st, const char *id, int64_t seq, const char *prev, char hash_out[65])
{
    const char *type = (const char *)sqlite3_column_text(st, 1);
    const char *text = (const char *)sqlite3_column_text(st, 2);
    const char *col_prev = (const char *)sqlite3_column_text(st, 3);
    const char *col_hash = (const char *)sqlite3_column_text(st, 4);
    if (!type || !text || !col_prev || !col_hash)
        return "a column is empty";
    json_t *ev = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return "the stored text is not a JSON object";
    }
    const char *why = NULL;
    const char *b_hash = json_string_value(json_object_get(ev, "hash"));
    const char *b_prev = json_string_value(json_object_get(ev, "prev"));
    const char *b_type = json_string_value(json_object_get(ev, "type"));
    const char *b_run = json_string_value(json_object_get(ev, "run_id"));
    json_t *b_seq = json_object_get(ev, "seq");
    if (!b_hash || !b_prev || !b_type || !b_run || !json_is_integer(b_seq))
        why = "a field of the event is missing";
    else if (strcmp(b_run, id) != 0 || json_integer_value(b_seq) != seq || strcmp(b_type, type) != 0)
        why = "the event's run_id, seq or type differs from its row";
    else if (strcmp(b_prev, prev) != 0 || strcmp(col_prev, prev) != 0)
        why = "its prev is not the hash of the event before it";
    else if (strcmp(b_hash, col_hash) != 0)
        why = "the hash in the event differs from its row";
    else if (store_event_hash(ev, hash_out) < 0)
        why = "out of memory";
    else if (strcmp(hash_out, b_hash) != 0)
        why = "its hash does not match its content";
    json_decref(ev);
    return why;
}

int store_verify(store *s, const char *id, char **err)
{
    if (!s || !id)
        return err_set(err, -EINVAL, "store_verify: missing argument");
    int rc = 0;
    int64_t count = 0, seq = 0;
    char prev[65] = ZERO_HASH;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    if ((rc = run_events(s, id, &count, err)) < 0)
        goto out;
    int src = sqlite3_prepare_v2(s->db, "SELECT seq, type, body, prev, hash FROM events WHERE run_id = ?1 ORDER BY seq",
                                 -1, &st, NULL);
    if (src == SQLITE_OK)
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t got = sqlite3_column_int64(st, 0);
        char hash[65];
        const char *why = got != seq ? "the event is missing" : check_event(st, id, seq, prev, hash);
        if (why) {
            rc = err_set(err, -EBADMSG, "run '%s': chain broken at seq %lld: %s", id, (long long)seq, why);
            goto out;
        }
        memcpy(prev, hash, sizeof prev);
        seq++;
    }
    if (src != SQLITE_DONE) {
        rc = db_fail(s, src, "cannot read the events", err);
        goto out;
    }
    if (seq != count)
        rc = err_set(err, -EBADMSG, "run '%s': chain broken at seq %lld: the log has %lld events, the runs index %lld",
                     id, (long long)(seq < count ? seq : count), (long long)seq, (long long)count);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- secrets (the vault's table; sealed values only) ---- */

void store_secret_clear(store_secret *sec)
{
    if (!sec)
        return;
    mem_free(sec->name);
    mem_free(sec->key_id);
    mem_free(sec->created);
    mem_free(sec->updated);
    mem_free(sec->nonce);
    mem_free(sec->sealed);
    memset(sec, 0, sizeof *sec);
}

static int blob_dup(sqlite3_stmt *st, int i, unsigned char **out, size_t *n)
{
    int len = sqlite3_column_bytes(st, i);
    const void *b = sqlite3_column_blob(st, i);
    *out = mem_alloc(len > 0 ? (size_t)len : 1);
    if (!*out)
        return -ENOMEM;
    if (len > 0)
        memcpy(*out, b, (size_t)len);
    *n = len > 0 ? (size_t)len : 0;
    return 0;
}

int store_secret_put(store *s, const store_secret *sec, bool *replaced, char **err)
{
    if (!s || !sec || !sec->name || !sec->key_id || !sec->nonce || !sec->sealed || sec->nonce_len > INT_MAX ||
        sec->sealed_len > INT_MAX)
        return err_set(err, -EINVAL, "store_secret_put: missing argument");
    if (replaced)
        *replaced = false;
    char ts[96];
    now_iso(ts, NULL);
    int rc = 0;
    sqlite3_stmt *q = NULL, *w = NULL;
    pthread_mutex_lock(&s->mu);
    int src = run_stmt(s, ST_BEGIN);
    if (src != SQLITE_OK) {
        rc = db_fail(s, src, "cannot store the secret", err);
        goto out;
    }
    src = sqlite3_prepare_v2(s->db, "SELECT 1 FROM secrets WHERE name = ?1", -1, &q, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(q, 1, sec->name, -1, SQLITE_STATIC);
        src = sqlite3_step(q);
        if (src == SQLITE_ROW && replaced)
            *replaced = true;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = db_fail(s, src, "cannot store the secret", err);
        goto out;
    }
    src = sqlite3_prepare_v2(s->db,
                             "INSERT INTO secrets(name, key_id, nonce, sealed, created, updated)"
                             " VALUES(?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(name) DO UPDATE SET"
                             " key_id = excluded.key_id, nonce = excluded.nonce, sealed = excluded.sealed,"
                             " updated = excluded.updated",
                             -1, &w, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(w, 1, sec->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(w, 2, sec->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(w, 3, sec->nonce, (int)sec->nonce_len, SQLITE_STATIC);
        sqlite3_bind_blob(w, 4, sec->sealed, (int)sec->sealed_len, SQLITE_STATIC);
        sqlite3_bind_text(w, 5, ts, -1, SQLITE_STATIC);
        src = sqlite3_step(w);
    }
    if (src != SQLITE_DONE) {
        rc = db_fail(s, src, "cannot store the secret", err);
        goto out;
    }
    if ((src = run_stmt(s, ST_COMMIT)) != SQLITE_OK)
        rc = db_fail(s, src, "cannot store the secret", err);
out:
    sqlite3_finalize(q);
    sqlite3_finalize(w);
    if (rc < 0)
        rollback(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

#define SECRET_COLS "name, key_id, created, updated, nonce, sealed"

static int secret_from_row(sqlite3_stmt *st, store_secret *sec, bool blobs)
{
    memset(sec, 0, sizeof *sec);
    if (!(sec->name = col_strdup(st, 0)) || !(sec->key_id = col_strdup(st, 1)) ||
        !(sec->created = col_strdup(st, 2)) || !(sec->updated = col_strdup(st, 3)) ||
        (blobs && (blob_dup(st, 4, &sec->nonce, &sec->nonce_len) < 0 ||
                   blob_dup(st, 5, &sec->sealed, &sec->sealed_len) < 0))) {
        store_secret_clear(sec);
        return -ENOMEM;
    }
    return 0;
}

int store_secret_get(store *s, const char *name, store_secret *out, char **err)
{
    if (!s || !name || !out)
        return err_set(err, -EINVAL, "store_secret_get: missing argument");
    memset(out, 0, sizeof *out);
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db, "SELECT " SECRET_COLS " FROM secrets WHERE name = ?1", -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src == SQLITE_ROW)
        rc = secret_from_row(st, out, true) < 0 ? err_set(err, -ENOMEM, "out of memory") : 0;
    else if (src == SQLITE_DONE)
        rc = err_set(err, -ENOENT, "no secret named '%s'", name);
    else
        rc = db_fail(s, src, "cannot read the secret", err);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_secret_list(store *s, store_secret **out, size_t *n, char **err)
{
    if (!s || !out || !n)
        return err_set(err, -EINVAL, "store_secret_list: missing argument");
    *out = NULL;
    *n = 0;
    store_secret *a = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db, "SELECT " SECRET_COLS " FROM secrets ORDER BY name", -1, &st, NULL);
    while (src == SQLITE_OK || src == SQLITE_ROW) {
        if ((src = sqlite3_step(st)) != SQLITE_ROW)
            break;
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            store_secret *g = mem_realloc(a, nc * sizeof *g);
            if (!g) {
                rc = err_set(err, -ENOMEM, "out of memory");
                goto out;
            }
            a = g;
            cap = nc;
        }
        if (secret_from_row(st, &a[len], false) < 0) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        len++;
    }
    if (src != SQLITE_DONE)
        rc = db_fail(s, src, "cannot list the secrets", err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) {
        for (size_t i = 0; i < len; i++)
            store_secret_clear(&a[i]);
        mem_free(a);
        return rc;
    }
    *out = a;
    *n = len;
    return 0;
}

int store_secret_delete(store *s, const char *name, char **err)
{
    if (!s || !name)
        return err_set(err, -EINVAL, "store_secret_delete: missing argument");
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db, "DELETE FROM secrets WHERE name = ?1", -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src != SQLITE_DONE)
        rc = db_fail(s, src, "cannot remove the secret", err);
    else if (sqlite3_changes(s->db) == 0)
        rc = err_set(err, -ENOENT, "no secret named '%s'", name);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ------------------------------------------------------------ run control
 * Requests from another process to a running run (`venom runs stop|pause|
 * resume ID`), read by the orchestrator (core/orchestrate) while it runs.
 * Migration 3's run_control table: one row per run, the latest request. */

int store_control_set(store *s, const char *run_id, const char *request, char **err)
{
    if (!s || !run_id || !request ||
        (strcmp(request, "stop") && strcmp(request, "pause") && strcmp(request, "resume")))
        return err_set(err, -EINVAL, "store_control_set: the request is stop, pause or resume");
    char ts[96];
    now_iso(ts, NULL);
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db,
                                 "INSERT INTO run_control(run_id, request, updated) VALUES(?1, ?2, ?3) "
                                 "ON CONFLICT(run_id) DO UPDATE SET request = ?2, updated = ?3",
                                 -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, request, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, ts, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src != SQLITE_DONE)
        rc = db_fail(s, src, "cannot record the request", err);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_control_get(store *s, const char *run_id, char request[16], char **err)
{
    request[0] = '\0';
    if (!s || !run_id)
        return err_set(err, -EINVAL, "store_control_get: missing argument");
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db, "SELECT request FROM run_control WHERE run_id = ?1", -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            snprintf(request, 16, "%s", (const char *)sqlite3_column_text(st, 0) ?: "");
            src = SQLITE_DONE;
        }
    }
    if (src != SQLITE_DONE)
        rc = db_fail(s, src, "cannot read run requests", err);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- routing (core/route): posteriors, spend, feedback ---- */

/* Run one prepared statement with text/real bindings given as a format:
 * 't' text, 'd' double, 'i' int64. Returns the sqlite code of the step. */
static int route_exec(store *s, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (src == SQLITE_OK) {
        va_list ap;
        va_start(ap, fmt);
        for (int i = 0; fmt[i]; i++) {
            if (fmt[i] == 't')
                sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
            else if (fmt[i] == 'd')
                sqlite3_bind_double(st, i + 1, va_arg(ap, double));
            else
                sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        }
        va_end(ap);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return src == SQLITE_ROW ? SQLITE_DONE : src;
}

int store_route_get(store *s, const char *kind, const char *const *models, size_t n, double *alpha, double *beta,
                    char **err)
{
    if (!s || !kind || (n && (!models || !alpha || !beta)))
        return err_set(err, -EINVAL, "store_route_get: missing argument");
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db, "SELECT alpha, beta FROM route_stats WHERE model = ?1 AND kind = ?2", -1, &st,
                                 NULL);
    for (size_t i = 0; src == SQLITE_OK && i < n; i++) {
        alpha[i] = beta[i] = 1;
        sqlite3_bind_text(st, 1, models[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            alpha[i] = sqlite3_column_double(st, 0);
            beta[i] = sqlite3_column_double(st, 1);
        } else if (r != SQLITE_DONE) {
            src = r;
        }
        sqlite3_reset(st);
    }
    if (src != SQLITE_OK)
        rc = db_fail(s, src, "cannot read the routing statistics", err);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_route_outcome(store *s, const store_route_out *o, char **err)
{
    if (!s || !o || !o->model || !o->kind)
        return err_set(err, -EINVAL, "store_route_outcome: missing argument");
    char ts[96];
    now_iso(ts, NULL);
    pthread_mutex_lock(&s->mu);
    int src = route_exec(
        s,
        "INSERT INTO route_stats(model, kind, alpha, beta, calls, successes, failures, turns, retries, latency_ms,"
        " cost, updated) VALUES(?1, ?2, 1 + ?3, 1 + ?4, ?5, ?3, ?4, ?6, ?7, ?8, ?9, ?10)"
        " ON CONFLICT(model, kind) DO UPDATE SET alpha = alpha + ?3, beta = beta + ?4, calls = calls + ?5,"
        " successes = successes + ?3, failures = failures + ?4, turns = turns + ?6, retries = retries + ?7,"
        " latency_ms = latency_ms + ?8, cost = cost + ?9, updated = ?10",
        "ttiiiiiddt", o->model, o->kind, (int64_t)(o->success > 0), (int64_t)(o->success == 0),
        (int64_t)(o->success >= 0), (int64_t)o->turns, (int64_t)o->retries, o->latency_ms, o->cost, ts);
    int rc = src == SQLITE_DONE ? 0 : db_fail(s, src, "cannot record the routing outcome", err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void store_route_row_clear(store_route_row *r)
{
    if (!r)
        return;
    mem_free(r->model);
    mem_free(r->kind);
    mem_free(r->updated);
    memset(r, 0, sizeof *r);
}

int store_route_stats(store *s, store_route_row **out, size_t *n, char **err)
{
    if (!s || !out || !n)
        return err_set(err, -EINVAL, "store_route_stats: missing argument");
    *out = NULL;
    *n = 0;
    store_route_row *a = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db,
                                 "SELECT model, kind, alpha, beta, calls, successes, failures, turns, retries,"
                                 " latency_ms, cost, updated FROM route_stats ORDER BY model, kind",
                                 -1, &st, NULL);
    while (src == SQLITE_OK || src == SQLITE_ROW) {
        if ((src = sqlite3_step(st)) != SQLITE_ROW)
            break;
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            store_route_row *g = mem_realloc(a, nc * sizeof *g);
            if (!g) {
                rc = err_set(err, -ENOMEM, "out of memory");
                goto out;
            }
            a = g;
            cap = nc;
        }
        store_route_row *r = &a[len];
        *r = (store_route_row){.alpha = sqlite3_column_double(st, 2),
                               .beta = sqlite3_column_double(st, 3),
                               .calls = sqlite3_column_int64(st, 4),
                               .successes = sqlite3_column_int64(st, 5),
                               .failures = sqlite3_column_int64(st, 6),
                               .turns = sqlite3_column_int64(st, 7),
                               .retries = sqlite3_column_int64(st, 8),
                               .latency_ms = sqlite3_column_double(st, 9),
                               .cost = sqlite3_column_double(st, 10)};
        r->model = col_strdup(st, 0);
        r->kind = col_strdup(st, 1);
        r->updated = col_strdup(st, 11);
        len++;
        if (!r->model || !r->kind || !r->updated) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
    }
    if (src != SQLITE_DONE)
        rc = db_fail(s, src, "cannot read the routing statistics", err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) {
        for (size_t i = 0; i < len; i++)
            store_route_row_clear(&a[i]);
        mem_free(a);
        return rc;
    }
    *out = a;
    *n = len;
    return 0;
}

int store_route_spend_add(store *s, const char *day, const char *agent, double cost, char **err)
{
    if (!s || !day || !agent)
        return err_set(err, -EINVAL, "store_route_spend_add: missing argument");
    pthread_mutex_lock(&s->mu);
    int src = route_exec(s,
                         "INSERT INTO spend(day, agent, cost) VALUES(?1, ?2, ?3)"
                         " ON CONFLICT(day, agent) DO UPDATE SET cost = cost + ?3",
                         "ttd", day, agent, cost);
    int rc = src == SQLITE_DONE ? 0 : db_fail(s, src, "cannot record the spend", err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_route_spent(store *s, const char *day, const char *agent, double *out, char **err)
{
    if (!s || !day || !out)
        return err_set(err, -EINVAL, "store_route_spent: missing argument");
    *out = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db,
                                 agent ? "SELECT TOTAL(cost) FROM spend WHERE day = ?1 AND agent = ?2"
                                       : "SELECT TOTAL(cost) FROM spend WHERE day = ?1",
                                 -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
        if (agent)
            sqlite3_bind_text(st, 2, agent, -1, SQLITE_STATIC);
        if ((src = sqlite3_step(st)) == SQLITE_ROW) {
            *out = sqlite3_column_double(st, 0);
            src = SQLITE_OK;
        }
    }
    int rc = src == SQLITE_OK ? 0 : db_fail(s, src, "cannot read the spend", err);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_route_feedback(store *s, const char *run_id, bool good, const char *const *models,
                         const char *const *kinds, size_t n, char **err)
{
    if (!s || !run_id || (n && (!models || !kinds)))
        return err_set(err, -EINVAL, "store_route_feedback: missing argument");
    const char *verdict = good ? "good" : "bad";
    char ts[96];
    now_iso(ts, NULL);
    int rc = 0;
    sqlite3_stmt *q = NULL;
    pthread_mutex_lock(&s->mu);
    int src = run_stmt(s, ST_BEGIN);
    if (src != SQLITE_OK)
        goto fail;
    char *old = NULL;
    src = sqlite3_prepare_v2(s->db, "SELECT verdict FROM feedback WHERE run_id = ?1", -1, &q, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(q, 1, run_id, -1, SQLITE_STATIC);
        src = sqlite3_step(q);
        if (src == SQLITE_ROW)
            old = col_strdup(q, 0);
        src = src == SQLITE_ROW || src == SQLITE_DONE ? SQLITE_OK : src;
    }
    if (src != SQLITE_OK)
        goto fail;
    if (old && !strcmp(old, verdict)) {
        mem_free(old);
        rc = err_set(err, -EALREADY, "run %s already has the feedback '%s'", run_id, verdict);
        goto out;
    }
    bool undo = old != NULL; /* the other verdict: take its pseudo-observation back */
    mem_free(old);
    for (size_t i = 0; i < n && src == SQLITE_OK; i++) {
        int r = route_exec(s,
                           "INSERT INTO route_stats(model, kind, alpha, beta, updated) VALUES(?1, ?2, 1 + ?3, 1 + ?4, ?5)"
                           " ON CONFLICT(model, kind) DO UPDATE SET alpha = max(0.01, alpha + ?3),"
                           " beta = max(0.01, beta + ?4), updated = ?5",
                           "ttddt", models[i], kinds[i], good ? 1.0 : (undo ? -1.0 : 0.0),
                           good ? (undo ? -1.0 : 0.0) : 1.0, ts);
        src = r == SQLITE_DONE ? SQLITE_OK : r;
    }
    if (src == SQLITE_OK) {
        int r = route_exec(s,
                           "INSERT INTO feedback(run_id, verdict, ts) VALUES(?1, ?2, ?3) ON CONFLICT(run_id) DO UPDATE"
                           " SET verdict = ?2, ts = ?3",
                           "ttt", run_id, verdict, ts);
        src = r == SQLITE_DONE ? SQLITE_OK : r;
    }
    if (src == SQLITE_OK)
        src = run_stmt(s, ST_COMMIT);
    if (src == SQLITE_OK)
        goto out;
fail:
    rc = db_fail(s, src, "cannot record the feedback", err);
out:
    sqlite3_finalize(q);
    if (rc < 0)
        rollback(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- the plan cache (docs/plan.md "Plan cache") ---- */

void store_plan_row_clear(store_plan_row *r)
{
    if (!r)
        return;
    mem_free(r->goal_key);
    mem_free(r->goal);
    mem_free(r->plan);
    mem_free(r->source);
    mem_free(r->created);
    mem_free(r->used);
    *r = (store_plan_row){0};
}

int store_plan_get(store *s, const char *key, store_plan_row *out, char **err)
{
    *out = (store_plan_row){0};
    if (!s || !key)
        return err_set(err, -EINVAL, "store_plan_get: missing argument");
    int rc = -ENOENT;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db, "SELECT goal_key, goal, plan, source, created, used, uses, successes"
                                        " FROM plan_cache WHERE goal_key = ?1", -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            out->goal_key = col_strdup(st, 0);
            out->goal = col_strdup(st, 1);
            out->plan = col_strdup(st, 2);
            out->source = col_strdup(st, 3);
            out->created = col_strdup(st, 4);
            out->used = col_strdup(st, 5);
            out->uses = sqlite3_column_int64(st, 6);
            out->successes = sqlite3_column_int64(st, 7);
            rc = out->goal_key && out->goal && out->plan && out->source && out->created && out->used
                     ? 0 : err_set(err, -ENOMEM, "out of memory");
            src = SQLITE_DONE;
        }
    }
    if (src != SQLITE_DONE)
        rc = db_fail(s, src, "cannot read the plan cache", err);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0 && rc != -ENOENT)
        store_plan_row_clear(out);
    return rc;
}

int store_plan_put(store *s, const char *key, const char *goal, const char *plan_json, const char *source,
                   char **err)
{
    if (!s || !key || !goal || !plan_json || !source)
        return err_set(err, -EINVAL, "store_plan_put: missing argument");
    char ts[96];
    now_iso(ts, NULL);
    pthread_mutex_lock(&s->mu);
    int src = route_exec(s,
                         "INSERT INTO plan_cache(goal_key, goal, plan, source, created, used, uses, successes)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?5, 0, 0) ON CONFLICT(goal_key) DO UPDATE SET goal = ?2,"
                         " plan = ?3, source = ?4, created = ?5, used = ?5, uses = 0, successes = 0",
                         "ttttt", key, goal, plan_json, source, ts);
    int rc = src == SQLITE_DONE ? 0 : db_fail(s, src, "cannot store the plan", err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_plan_used(store *s, const char *key, bool ok, char **err)
{
    if (!s || !key)
        return err_set(err, -EINVAL, "store_plan_used: missing argument");
    char ts[96];
    now_iso(ts, NULL);
    pthread_mutex_lock(&s->mu);
    int src = route_exec(s, "UPDATE plan_cache SET uses = uses + 1, successes = successes + ?2, used = ?3"
                            " WHERE goal_key = ?1", "tit", key, (int64_t)ok, ts);
    int rc = src == SQLITE_DONE ? 0 : db_fail(s, src, "cannot count the plan's use", err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_plan_del(store *s, const char *key, char **err)
{
    if (!s || !key)
        return err_set(err, -EINVAL, "store_plan_del: missing argument");
    pthread_mutex_lock(&s->mu);
    int src = route_exec(s, "DELETE FROM plan_cache WHERE goal_key = ?1", "t", key);
    int rc = src == SQLITE_DONE ? 0 : db_fail(s, src, "cannot forget the plan", err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- agents (core/orchestrate auction): success per (agent, kind) ---- */

int store_agent_get(store *s, const char *agent, const char *kind, double *alpha, double *beta, char **err)
{
    if (!s || !agent || !kind || !alpha || !beta)
        return err_set(err, -EINVAL, "store_agent_get: missing argument");
    *alpha = *beta = 1;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int src = sqlite3_prepare_v2(s->db, "SELECT alpha, beta FROM agent_stats WHERE agent = ?1 AND kind = ?2", -1, &st,
                                 NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            *alpha = sqlite3_column_double(st, 0);
            *beta = sqlite3_column_double(st, 1);
            src = SQLITE_DONE;
        }
    }
    int rc = src == SQLITE_DONE ? 0 : db_fail(s, src, "cannot read the agent statistics", err);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_agent_outcome(store *s, const char *agent, const char *kind, bool success, char **err)
{
    if (!s || !agent || !kind)
        return err_set(err, -EINVAL, "store_agent_outcome: missing argument");
    char ts[96];
    now_iso(ts, NULL);
    pthread_mutex_lock(&s->mu);
    int src = route_exec(s,
                         "INSERT INTO agent_stats(agent, kind, alpha, beta, steps, successes, failures, updated)"
                         " VALUES(?1, ?2, 1 + ?3, 1 + ?4, 1, ?3, ?4, ?5) ON CONFLICT(agent, kind) DO UPDATE SET"
                         " alpha = alpha + ?3, beta = beta + ?4, steps = steps + 1, successes = successes + ?3,"
                         " failures = failures + ?4, updated = ?5",
                         "ttiit", agent, kind, (int64_t)success, (int64_t)!success, ts);
    int rc = src == SQLITE_DONE ? 0 : db_fail(s, src, "cannot record the agent outcome", err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
