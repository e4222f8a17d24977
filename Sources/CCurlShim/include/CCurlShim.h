#ifndef C_CURL_TYPED_SHIM_H
#define C_CURL_TYPED_SHIM_H
/*
 * curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are C variadic functions,
 * which Swift cannot call. These wrappers fix the argument type per call.
 */
#include <curl/curl.h>

#ifdef __linux__
/* The transfer thread waits on curl's sockets with epoll and is woken through an eventfd. */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ccurl_easy_setopt_write_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode ccurl_easy_setopt_header_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode ccurl_easy_setopt_read_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode ccurl_easy_setopt_xferinfo_callback(CURL *handle, int (*callback)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t));
/* Called before every send of the request, a resend on a fresh connection included. */
CURLcode ccurl_easy_setopt_prereq_callback(CURL *handle, int (*callback)(void *, char *, char *, int, int));

CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ccurl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode ccurl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value);
CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);

CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value);
CURLMcode ccurl_multi_setopt_pointer(CURLM *handle, CURLMoption option, void *value);
CURLMcode ccurl_multi_setopt_socket_callback(CURLM *handle, int (*callback)(CURL *, curl_socket_t, int, void *, void *));
CURLMcode ccurl_multi_setopt_timer_callback(CURLM *handle, int (*callback)(CURLM *, long, void *));

/* curl_version_info(CURLVERSION_NOW): the macro is not visible to Swift. */
curl_version_info_data *ccurl_version_info_now(void);

#endif
