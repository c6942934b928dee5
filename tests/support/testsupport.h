/*
 * testsupport.h — helpers shared by the cmocka tests: temp dirs, files, and
 * running the built `venom` binary (path from $VENOM_BIN) capturing output.
 * Add new helpers in new files under tests/support/ (one .c + a section here).
 */
#ifndef VENOM_TESTSUPPORT_H
#define VENOM_TESTSUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh directory under $TMPDIR (or /tmp); removed by ts_rmtree. Caller frees. */
char *ts_mkdtemp(void);
/* rm -rf path (no symlink following). */
void ts_rmtree(const char *path);
/* Write text to dir/name (creating parent dirs); returns the full path (caller frees). */
char *ts_write(const char *dir, const char *name, const char *text);
/* Copy the file from to the path to (created or truncated, mode bits mode). */
void ts_copy_file(const char *from, const char *to, unsigned mode);
/* Read a whole file into a new NUL-terminated string; NULL on error. */
char *ts_read(const char *path);

/* Result of running a command. */
typedef struct ts_proc {
    int status;    /* exit code, or 128+signal if killed */
    char *out;     /* captured stdout (NUL-terminated) */
    char *err;     /* captured stderr */
} ts_proc;

/* Run argv (argv[0] is a path) with extra environment "K=V" entries (NULL
 * terminated, may be NULL) in cwd (may be NULL); stdin is /dev/null.
 * Kills the child after timeout_s seconds. Returns 0 or -1 if it could not run. */
int ts_run(char *const argv[], char *const env_extra[], const char *cwd, int timeout_s, ts_proc *p);
/* Run the built venom binary: ts_venom(&p, home, cwd, "skill", "list", NULL). */
int ts_venom(ts_proc *p, const char *venom_home, const char *cwd, ...);
void ts_proc_release(ts_proc *p);
/* $VENOM_FIXTURES/<name>: the directory of a built fixture plugin pack. */
char *ts_fixture(const char *name);

/* ---- Archives (tarr.c): a .tar.gz in memory, entry by entry, to tamper with */

typedef struct ts_tent {
    char *path;
    int type, perm;
    char *data;
    size_t len;
    char *link; /* symlink target / hardlink target */
    bool hard;
    int64_t size; /* >= 0: declared size without data */
} ts_tent;

typedef struct ts_tarr {
    ts_tent v[64];
    size_t n;
} ts_tarr;

/* Read the entries of a .tar.gz (at most 64). */
void ts_tarr_load(const char *path, ts_tarr *t);
void ts_tarr_release(ts_tarr *t);
/* The entry at path (fails the test when there is none). */
ts_tent *ts_tarr_find(ts_tarr *t, const char *path);
/* Append an entry of type AE_IF* with data (may be NULL), mode 0644. */
ts_tent *ts_tarr_add(ts_tarr *t, const char *path, int type, const char *data);
void ts_tarr_remove(ts_tarr *t, const char *path);
/* The entries as a .tar.gz (malloc'd; at most 4 MiB compressed). */
unsigned char *ts_tarr_emit(const ts_tarr *t, size_t *len);

#endif
