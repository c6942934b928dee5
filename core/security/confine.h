/*
 * confine.h — path confinement: the host side of the SDK's fs_open service.
 *
 * A confine holds a run's workdir and the directories a skill's manifest
 * permits for reading and for writing, each resolved once (realpath) and held
 * open as an O_PATH directory fd. confine_open() checks a path lexically
 * against those roots, then opens it relative to the root's fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so that neither ".." nor
 * a symlink can lead outside a permitted directory, even if the tree changes
 * between the check and the open. Where openat2 is missing (ENOSYS), a
 * component-by-component walk with O_NOFOLLOW refuses every symlink instead.
 *
 * Invariants: roots are absolute, symlink-free, distinct; the workdir is
 * absolute and symlink-free. A confine is immutable after confine_new, so
 * confine_open may be called from any number of threads at once.
 */
#ifndef VENOM_SECURITY_CONFINE_H
#define VENOM_SECURITY_CONFINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct confine confine;

/* Build a confine. workdir: absolute or relative directory (resolved with
 * realpath; must exist). read/write: the manifest's permitted paths ("." is
 * the workdir, relative paths are under the workdir, absolute ones as is).
 * A permitted path that does not exist is skipped; one that exists but
 * cannot be opened is an error. A permitted regular file permits exactly
 * that file. Returns 0 and *out (free with confine_free) or a negative errno
 * with *err set. Thread: any. */
int confine_new(const char *workdir, const char *const *read, size_t n_read,
                const char *const *write, size_t n_write, confine **out, char **err);

/* Open `path` for a skill. Relative paths are relative to the workdir. The
 * lexically normalized absolute path must lie under a permitted root for the
 * mode asked: VENOM_FS_WRITE needs a write root, reading is allowed under a
 * read or a write root. flags are VENOM_FS_* (venom.h); mode is used when
 * the file is created (subject to the umask). Returns an fd (O_CLOEXEC,
 * the caller's) or a negative errno with *err (if not NULL) saying which
 * path, why, and what is permitted:
 *   -EINVAL bad flags or empty path, -ENAMETOOLONG, -EACCES not permitted
 *   (outside the roots, symlink leading out, write without permission),
 *   -ENOENT, -EEXIST, -ENOTDIR, -EISDIR, ... from the open itself.
 * FIFOs and sockets are refused (-EACCES), so an open never blocks.
 * Thread-safe. */
int confine_open(const confine *c, const char *path, uint32_t flags, uint32_t mode, char **err);

/* The resolved absolute workdir (owned by c). */
const char *confine_workdir(const confine *c);

/* Close the root fds and free c. NULL is fine. */
void confine_free(confine *c);

/* For tests: confine_open, but always with the O_NOFOLLOW walk that is used
 * when openat2 is unavailable (it refuses every symlink). */
int confine_open_nofollow_walk(const confine *c, const char *path, uint32_t flags, uint32_t mode,
                               char **err);

#endif
