/* Path confinement (core/security/confine): real files in a temp dir. */
#include "testsupport.h"
#include "util/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <venom/venom.h>

#include "security/confine.h"

typedef struct fx {
    char *top;     /* temp dir */
    char *work;    /* top/work: the workdir (read + write) */
    char *extra;   /* top/extra: an extra read-only root */
    char *outside; /* top/outside: not permitted */
    confine *c;
} fx;

typedef int (*open_fn)(const confine *, const char *, uint32_t, uint32_t, char **);

static char *join(const char *a, const char *b)
{
    char *p = mem_printf("%s/%s", a, b);
    assert_non_null(p);
    return p;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->top = ts_mkdtemp();
    f->work = join(f->top, "work");
    f->extra = join(f->top, "extra");
    f->outside = join(f->top, "outside");
    free(ts_write(f->work, "notes.txt", "hello\n"));
    free(ts_write(f->work, "sub/inner.txt", "inner\n"));
    free(ts_write(f->extra, "data.txt", "extra data\n"));
    free(ts_write(f->outside, "secret.txt", "secret\n"));
    char *p;
    /* symlink inside -> inside, inside -> outside, a directory pointing out */
    p = join(f->work, "in_link");
    assert_int_equal(symlink("notes.txt", p), 0);
    mem_free(p);
    p = join(f->work, "out_link");
    char *target = join(f->outside, "secret.txt");
    assert_int_equal(symlink(target, p), 0);
    mem_free(target);
    mem_free(p);
    p = join(f->work, "out_dir");
    assert_int_equal(symlink(f->outside, p), 0);
    mem_free(p);
    p = join(f->work, "rel_up");
    assert_int_equal(symlink("../outside/secret.txt", p), 0);
    mem_free(p);

    const char *rd[] = {".", f->extra, "does-not-exist"};
    const char *wr[] = {"."};
    char *err = NULL;
    int rc = confine_new(f->work, rd, 3, wr, 1, &f->c, &err);
    if (rc)
        print_error("confine_new: %s\n", err);
    assert_int_equal(rc, 0);
    assert_null(err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    confine_free(f->c);
    ts_rmtree(f->top);
    free(f->top);
    mem_free(f->work);
    mem_free(f->extra);
    mem_free(f->outside);
    free(f);
    return 0;
}

/* Read the whole fd into a static buffer and close it. */
static const char *slurp(int fd)
{
    static char b[256];
    assert_true(fd >= 0);
    ssize_t n = read(fd, b, sizeof b - 1);
    assert_true(n >= 0);
    b[n] = '\0';
    close(fd);
    return b;
}

static void expect_fail(const confine *c, open_fn fn, const char *path, uint32_t flags, int code,
                        const char *needle)
{
    char *err = NULL;
    int rc = fn(c, path, flags, 0644, &err);
    if (rc >= 0)
        close(rc);
    assert_int_equal(rc, code);
    assert_non_null(err);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
    mem_free(err);
}

static void test_relative_ok(void **state)
{
    fx *f = *state;
    char *err = NULL;
    assert_string_equal(slurp(confine_open(f->c, "notes.txt", VENOM_FS_READ, 0, &err)), "hello\n");
    assert_string_equal(slurp(confine_open(f->c, "./sub/../sub/inner.txt", VENOM_FS_READ, 0, &err)),
                        "inner\n");
    assert_null(err);
    char *abs = join(f->work, "notes.txt");
    assert_string_equal(slurp(confine_open(f->c, abs, VENOM_FS_READ, 0, &err)), "hello\n");
    mem_free(abs);
    assert_string_equal(confine_workdir(f->c), f->work);
}

static void test_dotdot_escape_refused(void **state)
{
    fx *f = *state;
    char *err = NULL;
    int rc = confine_open(f->c, "../outside/secret.txt", VENOM_FS_READ, 0, &err);
    assert_int_equal(rc, -EACCES);
    char *want = mem_printf("path '../outside/secret.txt' escapes the workdir %s; permitted: %s (read, write), %s (read)",
                            f->work, f->work, f->extra);
    assert_string_equal(err, want);
    mem_free(want);
    mem_free(err);
    expect_fail(f->c, confine_open, "sub/../../outside/secret.txt", VENOM_FS_READ, -EACCES, "escapes the workdir");
    expect_fail(f->c, confine_open, "../../../../../../../../etc/passwd", VENOM_FS_READ, -EACCES,
                "escapes the workdir");
}

static void test_absolute_outside_refused(void **state)
{
    fx *f = *state;
    expect_fail(f->c, confine_open, "/etc/passwd", VENOM_FS_READ, -EACCES,
                "path '/etc/passwd' is outside the permitted directories; permitted: ");
    char *p = join(f->outside, "secret.txt");
    expect_fail(f->c, confine_open, p, VENOM_FS_READ, -EACCES, "is outside the permitted directories");
    mem_free(p);
    /* a sibling whose name merely starts like the workdir is not inside it */
    char *sib = mem_printf("%s2", f->work);
    free(ts_write(sib, "x.txt", "x"));
    char *sx = join(sib, "x.txt");
    expect_fail(f->c, confine_open, sx, VENOM_FS_READ, -EACCES, "outside the permitted");
    mem_free(sx);
    mem_free(sib);
}

static void test_extra_root(void **state)
{
    fx *f = *state;
    char *err = NULL;
    char *p = join(f->extra, "data.txt");
    assert_string_equal(slurp(confine_open(f->c, p, VENOM_FS_READ, 0, &err)), "extra data\n");
    /* read-only root: writing refused, naming what is writable */
    err = NULL;
    int rc = confine_open(f->c, p, VENOM_FS_WRITE | VENOM_FS_TRUNC, 0, &err);
    assert_int_equal(rc, -EACCES);
    char *want = mem_printf("path '%s': writing is not permitted here (permitted for writing: %s)", p, f->work);
    assert_string_equal(err, want);
    mem_free(want);
    mem_free(err);
    mem_free(p);
    /* the extra root's file was not truncated */
    char *q = join(f->extra, "data.txt");
    char *s = ts_read(q);
    assert_string_equal(s, "extra data\n");
    free(s);
    mem_free(q);
}

static void test_symlinks(void **state)
{
    fx *f = *state;
    char *err = NULL;
    assert_string_equal(slurp(confine_open(f->c, "in_link", VENOM_FS_READ, 0, &err)), "hello\n");
    assert_null(err);
    expect_fail(f->c, confine_open, "out_link", VENOM_FS_READ, -EACCES,
                "path 'out_link' resolves outside the permitted directories (symlink)");
    expect_fail(f->c, confine_open, "rel_up", VENOM_FS_READ, -EACCES, "(symlink)");
    expect_fail(f->c, confine_open, "out_dir/secret.txt", VENOM_FS_READ, -EACCES,
                "path 'out_dir/secret.txt' resolves outside the permitted directories (symlink)");
    expect_fail(f->c, confine_open, "out_dir", VENOM_FS_DIRECTORY, -EACCES, "(symlink)");
    /* creating through a symlinked dir must not create anything outside */
    expect_fail(f->c, confine_open, "out_dir/new.txt", VENOM_FS_WRITE | VENOM_FS_CREATE, -EACCES, "(symlink)");
    char *n = join(f->outside, "new.txt");
    assert_int_equal(access(n, F_OK), -1);
    mem_free(n);
    /* a symlink into another permitted root is followed */
    char *l = join(f->work, "to_extra");
    assert_int_equal(symlink(f->extra, l), 0);
    assert_string_equal(slurp(confine_open(f->c, "to_extra/data.txt", VENOM_FS_READ, 0, &err)), "extra data\n");
    /* ... but only with that root's permission */
    expect_fail(f->c, confine_open, "to_extra/data.txt", VENOM_FS_WRITE, -EACCES, "(symlink)");
    unlink(l);
    mem_free(l);
    /* magic links are refused */
    expect_fail(f->c, confine_open, "/proc/self/root/etc/passwd", VENOM_FS_READ, -EACCES, "outside");
}

static void test_write_permission(void **state)
{
    (void)state;
    char *top = ts_mkdtemp();
    free(ts_write(top, "ro.txt", "keep"));
    const char *rd[] = {"."};
    confine *c = NULL;
    char *err = NULL;
    assert_int_equal(confine_new(top, rd, 1, NULL, 0, &c, &err), 0);
    expect_fail(c, confine_open, "out.txt", VENOM_FS_WRITE | VENOM_FS_CREATE, -EACCES,
                "path 'out.txt': writing is not permitted here (permitted for writing: none)");
    expect_fail(c, confine_open, "ro.txt", VENOM_FS_WRITE | VENOM_FS_TRUNC, -EACCES, "writing is not permitted");
    expect_fail(c, confine_open, ".", VENOM_FS_DIRECTORY | VENOM_FS_WRITE, -EACCES, "writing is not permitted");
    char *p = join(top, "out.txt");
    assert_int_equal(access(p, F_OK), -1);
    mem_free(p);
    p = join(top, "ro.txt");
    char *s = ts_read(p);
    assert_string_equal(s, "keep");
    free(s);
    mem_free(p);
    assert_string_equal(slurp(confine_open(c, "ro.txt", VENOM_FS_READ, 0, &err)), "keep");
    confine_free(c);
    ts_rmtree(top);
    free(top);
}

static void flags_case(fx *f, open_fn fn)
{
    char *err = NULL;
    /* CREATE makes the file with the mode (under the umask) */
    mode_t old = umask(022);
    int fd = fn(f->c, "made.txt", VENOM_FS_WRITE | VENOM_FS_CREATE, 0640, &err);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    close(fd);
    umask(old);
    /* EXCL fails on an existing file */
    expect_fail(f->c, fn, "made.txt", VENOM_FS_WRITE | VENOM_FS_CREATE | VENOM_FS_EXCL, -EEXIST, "made.txt");
    /* TRUNC empties it */
    fd = fn(f->c, "made.txt", VENOM_FS_WRITE | VENOM_FS_TRUNC, 0, &err);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, 0);
    close(fd);
    /* without CREATE a missing file is ENOENT, naming the resolved path */
    expect_fail(f->c, fn, "missing.txt", VENOM_FS_READ, -ENOENT, "missing.txt");
    expect_fail(f->c, fn, "missing.txt", VENOM_FS_READ, -ENOENT, f->work);
    /* DIRECTORY gives a directory fd usable with openat */
    fd = fn(f->c, "sub", VENOM_FS_DIRECTORY, 0, &err);
    assert_true(fd >= 0);
    assert_string_equal(slurp(openat(fd, "inner.txt", O_RDONLY)), "inner\n");
    close(fd);
    fd = fn(f->c, ".", VENOM_FS_DIRECTORY | VENOM_FS_WRITE, 0, &err);
    assert_true(fd >= 0);
    close(fd);
    expect_fail(f->c, fn, "notes.txt", VENOM_FS_DIRECTORY, -ENOTDIR, "notes.txt");
    expect_fail(f->c, fn, "sub", VENOM_FS_WRITE, -EISDIR, "sub");
    /* bad combinations */
    expect_fail(f->c, fn, "x", VENOM_FS_READ | VENOM_FS_CREATE, -EINVAL, "need VENOM_FS_WRITE");
    expect_fail(f->c, fn, "x", VENOM_FS_WRITE | VENOM_FS_EXCL, -EINVAL, "VENOM_FS_EXCL needs VENOM_FS_CREATE");
    expect_fail(f->c, fn, "x", VENOM_FS_DIRECTORY | VENOM_FS_WRITE | VENOM_FS_CREATE, -EINVAL,
                "VENOM_FS_DIRECTORY cannot");
    expect_fail(f->c, fn, "x", 0, -EINVAL, "flags need");
    expect_fail(f->c, fn, "x", VENOM_FS_READ | 0x1000, -EINVAL, "unknown flag bits 0x1000");
    char *m = join(f->work, "made.txt");
    unlink(m);
    mem_free(m);
}

static void test_flags(void **state)
{
    flags_case(*state, confine_open);
}

static void test_bad_paths(void **state)
{
    fx *f = *state;
    expect_fail(f->c, confine_open, "", VENOM_FS_READ, -EINVAL, "empty path");
    expect_fail(f->c, confine_open, NULL, VENOM_FS_READ, -EINVAL, "empty path");
    /* A C string ends at its NUL: nothing after it can smuggle an escape. */
    char *err = NULL;
    assert_string_equal(slurp(confine_open(f->c, "notes.txt\0/../../outside/secret.txt", VENOM_FS_READ, 0, &err)),
                        "hello\n");
    size_t n = PATH_MAX + 100;
    char *longp = mem_alloc(n + 1);
    memset(longp, 'a', n);
    longp[n] = '\0';
    expect_fail(f->c, confine_open, longp, VENOM_FS_READ, -ENAMETOOLONG, "is too long");
    /* long once joined to the workdir */
    longp[PATH_MAX - 3] = '\0';
    expect_fail(f->c, confine_open, longp, VENOM_FS_READ, -ENAMETOOLONG, "too long");
    /* a component longer than NAME_MAX */
    longp[300] = '\0';
    expect_fail(f->c, confine_open, longp, VENOM_FS_READ, -ENAMETOOLONG, "aaaa");
    mem_free(longp);
    /* control characters are not echoed raw into the one-line message */
    expect_fail(f->c, confine_open, "../bad\nname", VENOM_FS_READ, -EACCES, "'../bad?name'");
    /* a FIFO is refused instead of blocking */
    char *fifo = join(f->work, "pipe");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_fail(f->c, confine_open, "pipe", VENOM_FS_READ, -EACCES, "is a FIFO");
    unlink(fifo);
    mem_free(fifo);
}

static void test_nofollow_walk(void **state)
{
    fx *f = *state;
    char *err = NULL;
    assert_string_equal(slurp(confine_open_nofollow_walk(f->c, "sub/inner.txt", VENOM_FS_READ, 0, &err)),
                        "inner\n");
    char *abs = join(f->extra, "data.txt");
    assert_string_equal(slurp(confine_open_nofollow_walk(f->c, abs, VENOM_FS_READ, 0, &err)), "extra data\n");
    mem_free(abs);
    assert_null(err);
    /* every symlink is refused by the walk, even one pointing inside */
    expect_fail(f->c, confine_open_nofollow_walk, "in_link", VENOM_FS_READ, -EACCES, "goes through a symlink");
    expect_fail(f->c, confine_open_nofollow_walk, "out_link", VENOM_FS_READ, -EACCES, "goes through a symlink");
    expect_fail(f->c, confine_open_nofollow_walk, "out_dir/secret.txt", VENOM_FS_READ, -EACCES,
                "path 'out_dir/secret.txt' goes through a symlink");
    expect_fail(f->c, confine_open_nofollow_walk, "out_dir/new.txt", VENOM_FS_WRITE | VENOM_FS_CREATE, -EACCES,
                "symlink");
    expect_fail(f->c, confine_open_nofollow_walk, "out_dir", VENOM_FS_DIRECTORY, -EACCES, "symlink");
    expect_fail(f->c, confine_open_nofollow_walk, "../outside/secret.txt", VENOM_FS_READ, -EACCES, "escapes");
    flags_case(f, confine_open_nofollow_walk);
}

static void test_new_errors(void **state)
{
    (void)state;
    confine *c = NULL;
    char *err = NULL;
    const char *rd[] = {"."};
    assert_int_equal(confine_new("/nonexistent/venom-dir", rd, 1, NULL, 0, &c, &err), -ENOENT);
    assert_non_null(strstr(err, "workdir '/nonexistent/venom-dir'"));
    assert_null(c);
    mem_free(err);
    err = NULL;
    assert_int_equal(confine_new("", rd, 1, NULL, 0, &c, &err), -EINVAL);
    mem_free(err);
    err = NULL;
    char *top = ts_mkdtemp();
    char *file = ts_write(top, "f.txt", "f");
    assert_int_equal(confine_new(file, rd, 1, NULL, 0, &c, &err), -ENOTDIR);
    assert_non_null(strstr(err, "is not a directory"));
    mem_free(err);
    err = NULL;
    const char *empty[] = {""};
    assert_int_equal(confine_new(top, empty, 1, NULL, 0, &c, &err), -EINVAL);
    assert_non_null(strstr(err, "permitted path is empty"));
    mem_free(err);
    err = NULL;
    /* a permitted file permits exactly that file; relative workdir works */
    free(ts_write(top, "g.txt", "g"));
    const char *one[] = {file};
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(top), 0);
    int rc = confine_new(".", NULL, 0, one, 1, &c, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_string_equal(slurp(confine_open(c, "f.txt", VENOM_FS_READ, 0, &err)), "f");
    int fd = confine_open(c, file, VENOM_FS_WRITE | VENOM_FS_TRUNC, 0, &err);
    assert_true(fd >= 0);
    close(fd);
    expect_fail(c, confine_open, "g.txt", VENOM_FS_READ, -EACCES, "escapes the workdir");
    confine_free(c);
    confine_free(NULL);
    free(file);
    ts_rmtree(top);
    free(top);
}

static void test_alloc_failures(void **state)
{
    fx *f = *state;
    for (long i = 0; i < 20; i++) {
        char *err = NULL;
        mem_fail_after(i);
        int fd = confine_open(f->c, "notes.txt", VENOM_FS_READ, 0, &err);
        mem_fail_after(-1);
        if (fd >= 0)
            close(fd);
        else
            assert_int_equal(fd, -ENOMEM);
        mem_free(err);
        confine *c = NULL;
        const char *rd[] = {".", f->extra};
        mem_fail_after(i);
        int rc = confine_new(f->work, rd, 2, rd, 1, &c, &err);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        confine_free(c);
        mem_free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_relative_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot_escape_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_outside_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extra_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
        cmocka_unit_test(test_write_permission),
        cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nofollow_walk, setup, teardown),
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
