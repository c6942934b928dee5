#define CURL_DL_IMPLEMENTATION
#include "util/common.h"

#include <dlfcn.h>
#include <pthread.h>

#include "net/curl_dl.h"
#include "util/err.h"

curl_dl_api curl_dl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[512];

/* name in the library -> slot in curl_dl */
#define SLOT(field, sym) {sym, offsetof(curl_dl_api, field)}
static const struct {
    const char *sym;
    size_t off;
} slots[] = {
    SLOT(global_init, "curl_global_init"),
    SLOT(global_cleanup, "curl_global_cleanup"),
    SLOT(easy_init, "curl_easy_init"),
    SLOT(easy_cleanup, "curl_easy_cleanup"),
    SLOT(easy_reset, "curl_easy_reset"),
    SLOT(easy_setopt, "curl_easy_setopt"),
    SLOT(free_, "curl_free"),
    SLOT(getdate, "curl_getdate"),
    SLOT(multi_init, "curl_multi_init"),
    SLOT(multi_cleanup, "curl_multi_cleanup"),
    SLOT(multi_add_handle, "curl_multi_add_handle"),
    SLOT(multi_remove_handle, "curl_multi_remove_handle"),
    SLOT(multi_perform, "curl_multi_perform"),
    SLOT(multi_poll, "curl_multi_poll"),
    SLOT(multi_info_read, "curl_multi_info_read"),
    SLOT(share_init, "curl_share_init"),
    SLOT(share_cleanup, "curl_share_cleanup"),
    SLOT(share_setopt, "curl_share_setopt"),
    SLOT(slist_append, "curl_slist_append"),
    SLOT(slist_free_all, "curl_slist_free_all"),
    SLOT(url, "curl_url"),
    SLOT(url_cleanup, "curl_url_cleanup"),
    SLOT(url_get, "curl_url_get"),
    SLOT(url_set, "curl_url_set"),
    SLOT(url_strerror, "curl_url_strerror"),
};

static void load(void)
{
    /* libcurl stays loaded for the life of the process (never dlclosed):
     * its handles and global state outlive any one caller. */
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error,
                 "cannot load libcurl (%s); install it: apt-get install libcurl4", dlerror());
        return;
    }
    curl_dl_api api;
    for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
        void *f = dlsym(h, slots[i].sym);
        if (!f) {
            snprintf(load_error, sizeof load_error,
                     "libcurl.so.4 lacks %s: it is older than venom needs (7.80 or newer); upgrade libcurl4",
                     slots[i].sym);
            return;
        }
        memcpy((char *)&api + slots[i].off, &f, sizeof f);
    }
    curl_dl = api;
}

int curl_dl_load(char **err)
{
    pthread_once(&once, load);
    if (load_error[0])
        return err ? err_set(err, -ELIBACC, "%s", load_error) : -ELIBACC;
    return 0;
}
