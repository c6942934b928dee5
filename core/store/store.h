/*
 * store.h — venom's state: one SQLite database ($VENOM_HOME/venom.db, WAL,
 * busy timeout, schema version in PRAGMA user_version, forward-only
 * migrations) holding every run as an append-only, hash-chained event log.
 * Reference: docs/events.md (the events), docs/internals/store.md (schema).
 *
 * An event is one JSON object, stored exactly as `venom run --json` prints
 * it (one line, json_dumps JSON_COMPACT, keys in this order):
 * {"v":1,"type":…,"run_id":…,"seq":N,"ts":"2026-12-05T07:15:23.123Z",
 * <payload fields in the caller's order>, "prev":"<hex SHA-256 of the
 * previous event of the run, or 64 zeros>","hash":"<hex SHA-256>"}.
 * hash = SHA-256 of the stored line without its last member: the text up
 * to `,"hash":"…"}` plus "}" — json_dumps(event without "hash",
 * STORE_JSON_FLAGS) — so an outside verifier works on the text alone
 * (docs/internals/store.md).
 * Events are never updated or deleted (SQLite triggers refuse it); the runs
 * table is an index that store_append keeps in step (event count; status,
 * finished time and summary from run.finished).
 *
 * Thread-safe: one store may be used from several threads (a mutex around
 * the connection); several processes may share the file (WAL, busy timeout
 * 5 s, one short transaction per event — or per group of at most
 * max_events for a store_batch).
 */
#ifndef VENOM_STORE_STORE_H
#define VENOM_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define STORE_EVENT_VERSION 1 /* the "v" of every event */
/* How events are printed, stored and hashed: compact, one line, reals with
 * 12 significant digits (durations and money read as written). Print an
 * event with these flags and you get its stored text. */
#define STORE_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

typedef struct store store;

/* Open (create, migrate) the database at path, then mark runs left
 * "running" by a process that no longer exists (pid + its start time +
 * boot id differ) as killed: a run.finished {"status":"killed","reason"}
 * is appended through the normal chain. The caller owns *out (store_close).
 * Errors (-EINVAL not a database, -EPROTO schema too new, -EROFS, -ENOSPC,
 * -EBUSY, -EACCES, -EIO) come with a one-line *err. */
int store_open(const char *path, store **out, char **err) __attribute__((warn_unused_result));
void store_close(store *s);

/* Secret values (API keys, configured secrets) to scrub from every string
 * value (object members and array items, recursively; not object keys) of
 * every later payload, and from later goals, before it is hashed and
 * stored: each occurrence becomes "[REDACTED]". Replaces the previous list.
 * Values shorter than 4 bytes are ignored. Copied. 0, -EINVAL, -ENOMEM. */
int store_set_redactions(store *s, const char *const *values, size_t n) __attribute__((warn_unused_result));
/* Add values to the redaction list (kept: the earlier ones stay; duplicates
 * and values under 4 bytes are skipped). For secrets handed out during a
 * run (core/security/vault.c). Thread-safe. 0, -EINVAL, -ENOMEM. */
int store_add_redactions(store *s, const char *const *values, size_t n) __attribute__((warn_unused_result));

/* Start a run: a new id ("r" + 10 Crockford base32 digits of the ms time +
 * 6 random ones: 17 chars, sortable by time, e.g. "r01KBWQ3M4K7T2B9X"), a
 * runs row (status "running", this pid, its start time and the boot id; the
 * goal scrubbed like a payload), no events yet. */
int store_run_new(store *s, const char *goal, char id[32], char **err) __attribute__((warn_unused_result));

/* Append an event of `type` to run `id`: payload is an object whose fields
 * are copied into the event (it must not hold v/type/run_id/seq/ts/prev/hash).
 * Fills seq, ts, prev, hash; *out (new reference, may be NULL) receives the
 * complete event as stored. A "run.finished" payload ({"status","answer",
 * "usage","cost",…}) also updates the runs row. Durable when it returns
 * (synchronous=NORMAL in WAL: survives a process crash, not power loss).
 * While the run has a store_batch open on this store, the event joins the
 * batch and the batch is committed before this returns.
 * -ENOENT no such run, -EALREADY the run is finished (has run.finished),
 * -EINVAL bad type (1-64 of a-z 0-9 . _ -) or payload (not an object, a
 * reserved key, run.finished without a "status" string). */
int store_append(store *s, const char *id, const char *type, json_t *payload, json_t **out, char **err)
    __attribute__((warn_unused_result));

/*
 * Group commit: many events of one run in few transactions, for writers
 * that append faster than one transaction per event allows (the
 * orchestrator's step events). A batch belongs to one run and one store;
 * store_batch_append seals the event at once (its seq, ts, prev and hash
 * are fixed in append order: the chain is exact) and queues it; the
 * batch's own thread commits the queue in one BEGIN IMMEDIATE transaction
 * (inserts, one update of the runs row) when max_events are queued or the
 * oldest queued event is max_ms old, so a transaction holds the write lock
 * for at most max_events inserts (a few ms) and other processes writing the
 * file (other runs, `venom runs stop`) wait no longer than that.
 * store_batch_flush commits at once; so do run.finished (committed with
 * everything before it before store_batch_append returns) and
 * store_append on the batch's run from this store (it joins the batch and
 * commits it: still durable when it returns). Readers (store_events,
 * store_verify, other processes) see committed events only.
 *
 * Durability: an event is committed within max_ms of its append (plus one
 * commit's time), and before its run's run.finished. A crash loses at most
 * the events queued in the last max_ms; they were never handed to
 * `committed`, and the run, left "running", is marked killed after its
 * last committed event by the next store_open (the chain stays valid).
 *
 * Failures lose nothing silently. A commit that fails (-EBUSY past the
 * busy timeout, -ENOSPC, -EIO, …) is rolled back whole and its events stay
 * queued, retried by the next commit; the error is returned by the call
 * that ran the commit, or — when the batch's thread ran it — by the next
 * store_batch_append/flush/close (once). If the chain moved under the
 * batch (the run was finished, or another store handle appended to it) the
 * queued events cannot be committed: they are dropped, every later call
 * returns the error ("N events of run … not recorded: why"), and the log
 * keeps its valid chain up to the last commit.
 */
typedef struct store_batch store_batch;
typedef struct store_batch_opts {
    size_t max_events;  /* commit when this many are queued; 0 = STORE_BATCH_EVENTS, at most STORE_BATCH_EVENTS_MAX */
    unsigned max_ms;    /* commit when the oldest queued is this old; 0 = STORE_BATCH_MS, at most STORE_BATCH_MS_MAX */
    /* Called with each event once it is committed, in seq order, from the
     * thread that committed it (the store is locked: it may call the store,
     * other threads wait). Events that came through store_append (an agent
     * step's) are passed too, so the callback sees every event of the run
     * exactly once and in seq order. May be NULL. */
    void (*committed)(void *user, const json_t *event);
    void *user;
} store_batch_opts;
#define STORE_BATCH_EVENTS 1000
#define STORE_BATCH_EVENTS_MAX 10000
#define STORE_BATCH_MS 10
#define STORE_BATCH_MS_MAX 1000
#define STORE_BATCH_BACKLOG 4 /* an append commits itself when 4 x max_events are queued */
/* Open a batch on run id (which must exist and not be finished; one batch
 * per run and store: -EBUSY otherwise). o may be NULL (the defaults). The
 * caller owns *out: store_batch_close it before store_close. */
int store_batch_open(store *s, const char *id, const store_batch_opts *o, store_batch **out, char **err)
    __attribute__((warn_unused_result));
/* Append an event like store_append (same checks, same stored text) but
 * queued: committed later as described above. payload is borrowed. Any
 * thread. 0 queued; < 0 the event was not queued (bad type or payload,
 * -EALREADY after run.finished, the batch broken), or a commit this call
 * ran or an earlier background commit failed (*err says which; queued
 * events stay queued). */
int store_batch_append(store_batch *b, const char *type, const json_t *payload, char **err)
    __attribute__((warn_unused_result));
/* Commit everything queued now (several transactions when more than
 * max_events are queued). 0, or the error of a failed commit. */
int store_batch_flush(store_batch *b, char **err) __attribute__((warn_unused_result));
/* Commit what is queued, stop the batch's thread and free it (NULL is
 * fine). Later appends to the run are single transactions again. < 0 when
 * a commit failed: "N events of run … not recorded: why". Call it when no
 * other thread appends to the batch. */
int store_batch_close(store_batch *b, char **err);

/* A row of the runs index. */
typedef struct store_run {
    char id[32];
    char *goal;
    char *status;   /* running, done, failed, limit, provider_error, sandbox_unavailable, interrupted, killed */
    char *started;  /* ISO 8601 UTC */
    char *finished; /* NULL while running */
    int64_t events;
    json_t *summary;/* the run.finished payload or NULL */
} store_run;
void store_run_clear(store_run *r);

/* Newest first; at most limit (0 = all). *runs and *n owned by the caller
 * (store_run_clear each, then mem_free). */
int store_runs_list(store *s, size_t limit, store_run **runs, size_t *n, char **err) __attribute__((warn_unused_result));
/* One run by id or unique id prefix (at least 4 chars with the "r"; case
 * and Crockford look-alikes I/L/O are forgiven). -ENOENT / -EINVAL
 * (ambiguous prefix, not a run id) with a message. Clear *out when done. */
int store_run_get(store *s, const char *id_or_prefix, store_run *out, char **err) __attribute__((warn_unused_result));

/* Call fn for each event of the run in seq order (the event is borrowed).
 * A non-zero return from fn stops and is returned. fn may call the store
 * (the lock is recursive) but other threads wait until the walk ends. */
typedef int (*store_event_fn)(void *user, const json_t *event);
int store_events(store *s, const char *id, store_event_fn fn, void *user, char **err);

/* Re-hash the run's chain: 0 when every prev/hash matches, seq has no
 * gaps and the runs index counts as many events; -EBADMSG with "chain
 * broken at seq N: why" in the message otherwise. */
int store_verify(store *s, const char *id, char **err) __attribute__((warn_unused_result));

/* Hash helper: hex SHA-256 (65 bytes with NUL) of the event text as the
 * store computes it; a "hash" member of the event is left out. 0, -EINVAL
 * (not an object), -ENOMEM. */
int store_event_hash(const json_t *event_without_hash, char hex[65]);

/*
 * The secrets table, for the vault (core/security/vault.h), which seals and
 * opens the values: the store keeps bytes and never sees a value in clear.
 * Names are the vault's to check. Times are ISO 8601 UTC like the runs'.
 */
typedef struct store_secret {
    char *name;
    char *key_id;  /* which vault key sealed it (hex) */
    char *created; /* first set */
    char *updated; /* last set */
    unsigned char *nonce;
    size_t nonce_len;
    unsigned char *sealed; /* ciphertext + tag */
    size_t sealed_len;
} store_secret;
void store_secret_clear(store_secret *sec);
/* Insert or replace sec (name, key_id, nonce, sealed; the times are the
 * store's: created kept on replace). *replaced (may be NULL): the name
 * existed. One transaction. */
int store_secret_put(store *s, const store_secret *sec, bool *replaced, char **err) __attribute__((warn_unused_result));
/* One secret with its sealed bytes; -ENOENT "no secret named 'X'". Clear *out. */
int store_secret_get(store *s, const char *name, store_secret *out, char **err) __attribute__((warn_unused_result));
/* Every secret by name, without nonce and sealed bytes (NULL there); the
 * caller clears each and frees *out. */
int store_secret_list(store *s, store_secret **out, size_t *n, char **err) __attribute__((warn_unused_result));
/* Remove one; -ENOENT when there is none. */
int store_secret_delete(store *s, const char *name, char **err) __attribute__((warn_unused_result));

/*
 * Run control (core/orchestrate): the latest request to a running run from
 * another process — "stop", "pause" or "resume" — one row per run.
 * store_control_set records it (replacing the previous one); -EINVAL for
 * another request. store_control_get copies it into request ("" when none).
 */
int store_control_set(store *s, const char *run_id, const char *request, char **err)
    __attribute__((warn_unused_result));
int store_control_get(store *s, const char *run_id, char request[16], char **err) __attribute__((warn_unused_result));

/*
 * Routing (core/route, docs/internals/route.md): per (model, task kind)
 * Beta posteriors of success with running totals, spend per UTC day and
 * agent, and user feedback on runs. Models are catalog ids
 * ("provider/model"); a pair never seen reads as alpha = beta = 1.
 */
/* alpha[i], beta[i] of models[i] for kind. */
int store_route_get(store *s, const char *kind, const char *const *models, size_t n, double *alpha, double *beta,
                    char **err) __attribute__((warn_unused_result));
typedef struct store_route_out {
    const char *model, *kind;
    int success;       /* 1 success (alpha + 1), 0 failure (beta + 1), -1 neither (a limit, an interruption) */
    unsigned turns;    /* model calls made */
    unsigned retries;  /* the step came to this model as a fallback */
    double latency_ms; /* summed over the calls */
    double cost;
} store_route_out;
/* Add one step's outcome (calls + 1 unless success is -1). */
int store_route_outcome(store *s, const store_route_out *o, char **err) __attribute__((warn_unused_result));
typedef struct store_route_row {
    char *model, *kind, *updated;
    double alpha, beta, latency_ms, cost;
    int64_t calls, successes, failures, turns, retries;
} store_route_row;
void store_route_row_clear(store_route_row *r);
/* Every row, by model then kind; clear each and mem_free(*out). */
int store_route_stats(store *s, store_route_row **out, size_t *n, char **err) __attribute__((warn_unused_result));
/* Spend of a day ("YYYY-MM-DD", UTC) by an agent. */
int store_route_spend_add(store *s, const char *day, const char *agent, double cost, char **err)
    __attribute__((warn_unused_result));
/* Total spend of the day, of one agent or (agent NULL) of all. */
int store_route_spent(store *s, const char *day, const char *agent, double *out, char **err)
    __attribute__((warn_unused_result));
/* Record a verdict on a run and move the posteriors of the (model, kind)
 * pairs it used: good alpha + 1, bad beta + 1; a changed verdict takes the
 * earlier one back. -EALREADY when the run has this verdict already. One
 * transaction. */
int store_route_feedback(store *s, const char *run_id, bool good, const char *const *models,
                         const char *const *kinds, size_t n, char **err) __attribute__((warn_unused_result));

/*
 * The plan cache (procedural memory, docs/plan.md "Plan cache"): a plan
 * that ran "done" is kept under its normalized goal (plan_goal_key) with
 * where it came from; a later run of the same goal reuses it. uses counts
 * the runs that took it from the cache, successes those that ended done.
 */
typedef struct store_plan_row {
    char *goal_key, *goal, *plan, *source, *created, *used;
    int64_t uses, successes;
} store_plan_row;
void store_plan_row_clear(store_plan_row *r);
/* The entry of key: 0 and *out filled (clear it), -ENOENT when none. */
int store_plan_get(store *s, const char *key, store_plan_row *out, char **err) __attribute__((warn_unused_result));
/* Store (or replace, counters reset) the plan (JSON text) of key. */
int store_plan_put(store *s, const char *key, const char *goal, const char *plan_json, const char *source,
                   char **err) __attribute__((warn_unused_result));
/* A run used the cached plan of key: uses + 1, successes + 1 when ok. */
int store_plan_used(store *s, const char *key, bool ok, char **err) __attribute__((warn_unused_result));
/* Forget the plan of key (0 also when there was none). */
int store_plan_del(store *s, const char *key, char **err) __attribute__((warn_unused_result));

/*
 * Agents (core/orchestrate's auction): per (agent, task kind) a Beta
 * posterior of an agent step's success, alpha = 1 + successes and
 * beta = 1 + failures; a pair never seen reads as 1, 1.
 */
int store_agent_get(store *s, const char *agent, const char *kind, double *alpha, double *beta, char **err)
    __attribute__((warn_unused_result));
/* Add one step's outcome. */
int store_agent_outcome(store *s, const char *agent, const char *kind, bool success, char **err)
    __attribute__((warn_unused_result));

#endif
