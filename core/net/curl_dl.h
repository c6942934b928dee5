/*
 * curl_dl.h — libcurl, loaded on first use. venom links no libcurl: with
 * Debian's libcurl4 that is 29 shared libraries (TLS, IDN, SSH, LDAP,
 * Kerberos…), whose loading cost every command ~9 ms and ~3 MiB before
 * main() (bench/README.md) although most commands (skills, the offline
 * provider, runs) never make a request. curl_dl_load() dlopens
 * libcurl.so.4 once and fills curl_dl; the macros below turn the curl_*
 * calls of core/net into calls through it. Include this after
 * <curl/curl.h>, in core/net only, and call curl_dl_load() (cheap after the
 * first time) at every entry point before any curl_* call.
 */
#ifndef VENOM_NET_CURL_DL_H
#define VENOM_NET_CURL_DL_H

#include <curl/curl.h>

typedef struct curl_dl_api {
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *h);
    void (*easy_reset)(CURL *h);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    void (*free_)(void *p);
    time_t (*getdate)(const char *s, const time_t *unused);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *m);
    CURLMcode (*multi_add_handle)(CURLM *m, CURL *h);
    CURLMcode (*multi_remove_handle)(CURLM *m, CURL *h);
    CURLMcode (*multi_perform)(CURLM *m, int *running);
    CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd *extra, unsigned n, int timeout_ms, int *numfds);
    CURLMsg *(*multi_info_read)(CURLM *m, int *left);
    CURLSH *(*share_init)(void);
    CURLSHcode (*share_cleanup)(CURLSH *s);
    CURLSHcode (*share_setopt)(CURLSH *s, CURLSHoption opt, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
    CURLU *(*url)(void);
    void (*url_cleanup)(CURLU *u);
    CURLUcode (*url_get)(const CURLU *u, CURLUPart what, char **part, unsigned int flags);
    CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
    const char *(*url_strerror)(CURLUcode code);
} curl_dl_api;

extern curl_dl_api curl_dl;

/* Load libcurl.so.4 and resolve every function, once (thread-safe). 0, or
 * -ELIBACC with *err (may be NULL) saying what is missing and how to fix it. */
int curl_dl_load(char **err) __attribute__((warn_unused_result));

#ifndef CURL_DL_IMPLEMENTATION
#undef curl_easy_setopt
#undef curl_share_setopt
#define curl_global_init (*curl_dl.global_init)
#define curl_global_cleanup (*curl_dl.global_cleanup)
#define curl_easy_init (*curl_dl.easy_init)
#define curl_easy_cleanup (*curl_dl.easy_cleanup)
#define curl_easy_reset (*curl_dl.easy_reset)
#define curl_easy_setopt (*curl_dl.easy_setopt)
#define curl_free (*curl_dl.free_)
#define curl_getdate (*curl_dl.getdate)
#define curl_multi_init (*curl_dl.multi_init)
#define curl_multi_cleanup (*curl_dl.multi_cleanup)
#define curl_multi_add_handle (*curl_dl.multi_add_handle)
#define curl_multi_remove_handle (*curl_dl.multi_remove_handle)
#define curl_multi_perform (*curl_dl.multi_perform)
#define curl_multi_poll (*curl_dl.multi_poll)
#define curl_multi_info_read (*curl_dl.multi_info_read)
#define curl_share_init (*curl_dl.share_init)
#define curl_share_cleanup (*curl_dl.share_cleanup)
#define curl_share_setopt (*curl_dl.share_setopt)
#define curl_slist_append (*curl_dl.slist_append)
#define curl_slist_free_all (*curl_dl.slist_free_all)
#define curl_url (*curl_dl.url)
#define curl_url_cleanup (*curl_dl.url_cleanup)
#define curl_url_get (*curl_dl.url_get)
#define curl_url_set (*curl_dl.url_set)
#define curl_url_strerror (*curl_dl.url_strerror)
#endif

#endif
