/*
 * file.c — whole small files (file.h).
 */
#include "util/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/file.h"

int file_read(const char *path, size_t cap, bool nofollow, char **out, size_t *len, char **err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0));
    if (fd < 0) {
        if (errno == ENOENT)
            return -ENOENT;
        if (errno == ELOOP && nofollow)
            return err_set(err, -EINVAL, "%s is a symbolic link; give the file itself", path);
        return err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
    }
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    size_t n = 0;
    if (fstat(fd, &st) < 0)
        rc = err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = err_set(err, -EINVAL, "%s is not a regular file", path);
    else if ((uint64_t)st.st_size > cap)
        rc = err_set(err, -E2BIG, "%s is larger than %zu %s, the most it may have", path,
                     cap >= (1u << 20) ? cap >> 20 : cap >> 10, cap >= (1u << 20) ? "MiB" : "KiB");
    else if (!(buf = mem_alloc((size_t)st.st_size + 1)))
        rc = err_set(err, -ENOMEM, "out of memory");
    /* the size fstat gave (a file that shrinks meanwhile gives what is there) */
    while (rc == 0 && n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc < 0) {
        mem_free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char **err)
{
    char *tmp = mem_printf("%s.XXXXXX", path);
    if (!tmp)
        return err_set(err, -ENOMEM, "out of memory");
    int fd = mkostemp(tmp, O_CLOEXEC), rc = 0;
    if (fd < 0) {
        rc = err_set(err, -errno, "cannot write %s: %s", path, strerror(errno));
        mem_free(tmp);
        return rc;
    }
    const char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = err_set(err, -errno, "cannot write %s: %s", path, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
        rc = err_set(err, -errno, "cannot write %s: %s", path, strerror(errno));
    if (close(fd) < 0 && rc == 0)
        rc = err_set(err, -errno, "cannot write %s: %s", path, strerror(errno));
    if (rc == 0 && rename(tmp, path) < 0)
        rc = err_set(err, -errno, "cannot replace %s: %s", path, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    mem_free(tmp);
    return rc;
}
