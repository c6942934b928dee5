/*
 * file.h — whole small files: read one into memory (with a cap), write one
 * atomically (a temp file next to it, fsync, rename: readers see the old or
 * the new content, never a mix). Any thread.
 */
#ifndef VENOM_UTIL_FILE_H
#define VENOM_UTIL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Read the regular file at path, at most cap bytes, into *out (mem_alloc'd,
 * NUL-terminated; *len may be NULL). -ENOENT without a message when it does
 * not exist; -E2BIG when larger than cap; -EINVAL when not a regular file;
 * -errno otherwise. A final symlink is followed unless nofollow.
 */
int file_read(const char *path, size_t cap, bool nofollow, char **out, size_t *len, char **err)
    __attribute__((warn_unused_result));

/* Replace path with len bytes of data, mode bits `mode`, atomically. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char **err)
    __attribute__((warn_unused_result));

#endif
