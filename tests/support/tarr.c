/*
 * tarr.c — archives built entry by entry for tests that tamper with packs
 * (testsupport.h, "Archives").
 */
#include "testsupport.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

void ts_tarr_load(const char *path, ts_tarr *t)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
    struct archive_entry *e;
    t->n = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        assert_true(t->n < 64);
        ts_tent *x = &t->v[t->n++];
        *x = (ts_tent){.path = strdup(archive_entry_pathname(e)), .type = (int)archive_entry_filetype(e),
                    .perm = (int)archive_entry_perm(e), .size = -1};
        x->len = (size_t)archive_entry_size(e);
        x->data = malloc(x->len + 1);
        assert_non_null(x->data);
        assert_int_equal(archive_read_data(a, x->data, x->len + 1), (la_ssize_t)x->len);
        x->data[x->len] = '\0';
    }
    archive_read_free(a);
}

void ts_tarr_release(ts_tarr *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].path);
        free(t->v[i].data);
        free(t->v[i].link);
    }
    t->n = 0;
}

ts_tent *ts_tarr_find(ts_tarr *t, const char *path)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].path, path))
            return &t->v[i];
    fail_msg("no entry %s", path);
    return NULL;
}

ts_tent *ts_tarr_add(ts_tarr *t, const char *path, int type, const char *data)
{
    assert_true(t->n < 64);
    ts_tent *x = &t->v[t->n++];
    *x = (ts_tent){.path = strdup(path), .type = type, .perm = 0644, .data = strdup(data ? data : ""),
                .len = data ? strlen(data) : 0, .size = -1};
    return x;
}

void ts_tarr_remove(ts_tarr *t, const char *path)
{
    ts_tent *x = ts_tarr_find(t, path);
    free(x->path);
    free(x->data);
    free(x->link);
    memmove(x, x + 1, (size_t)(&t->v[t->n] - (x + 1)) * sizeof *x);
    t->n--;
}

unsigned char *ts_tarr_emit(const ts_tarr *t, size_t *len)
{
    size_t cap = 4u << 20;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_memory(a, buf, cap, len), ARCHIVE_OK);
    for (size_t i = 0; i < t->n; i++) {
        const ts_tent *x = &t->v[i];
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, x->path);
        archive_entry_set_filetype(e, (unsigned)x->type);
        archive_entry_set_perm(e, (mode_t)x->perm);
        if (x->link && x->hard)
            archive_entry_set_hardlink(e, x->link);
        else if (x->link)
            archive_entry_set_symlink(e, x->link);
        bool data = x->type == AE_IFREG && !x->link;
        archive_entry_set_size(e, x->size >= 0 ? x->size : data ? (la_int64_t)x->len : 0);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (data && x->size < 0 && x->len)
            assert_int_equal(archive_write_data(a, x->data, x->len), (la_ssize_t)x->len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return buf;
}

