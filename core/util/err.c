#include "util/common.h"
#include "util/err.h"

int err_set(char **err, int rc, const char *fmt, ...)
{
    if (!err)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    char *m = mem_vprintf(fmt, ap);
    va_end(ap);
    mem_free(*err);
    *err = m;
    return rc;
}

int err_prefix(char **err, int rc, const char *fmt, ...)
{
    if (!err)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    char *p = mem_vprintf(fmt, ap);
    va_end(ap);
    char *m = p ? mem_printf("%s: %s", p, *err ? *err : "error") : NULL;
    mem_free(p);
    if (m) {
        mem_free(*err);
        *err = m;
    }
    return rc;
}
