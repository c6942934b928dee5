/*
 * testsupport.h — helpers shared by the cmocka tests: temp dirs, files, and
 * running the built `venom` binary (path from $VENOM_BIN) capturing output.
 * Add new helpers in new files under tests/support/ (one .c + a section here).
 */
#ifndef VENOM_TESTSUPPORT_H
#define VENOM_TESTSUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh directory under $TMPDIR (or /tmp); removed by ts_rmtree. Caller frees. */
char *ts_mkdtemp(void);
/* rm -rf path (no symlink following). */
void ts_rmtree(const char *path);
/* Write text to dir/name (creating parent dirs); returns the full path (caller frees). */
char *ts_write(const char *dir, const char *name, const char *text);
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

#endif
