#ifndef GATEHOUSE_CURL_H
#define GATEHOUSE_CURL_H
// curl_easy_setopt and curl_easy_getinfo are variadic: Swift cannot call them. These typed
// wrappers cover the options the kiosk's check-in client and the service's mail sender set.
#include <curl/curl.h>
#include <stddef.h>

typedef size_t (*gh_curl_write_callback)(char *data, size_t size, size_t count, void *context);
typedef size_t (*gh_curl_read_callback)(char *buffer, size_t size, size_t count, void *context);
typedef int (*gh_curl_debug_callback)(CURL *handle, curl_infotype kind, char *data, size_t size, void *context);

CURLcode gh_curl_set_long(CURL *handle, CURLoption option, long value);
CURLcode gh_curl_set_string(CURL *handle, CURLoption option, const char *value);
CURLcode gh_curl_set_pointer(CURL *handle, CURLoption option, void *value);
CURLcode gh_curl_set_write_function(CURL *handle, gh_curl_write_callback callback);
CURLcode gh_curl_set_read_function(CURL *handle, gh_curl_read_callback callback);
CURLcode gh_curl_set_debug_function(CURL *handle, gh_curl_debug_callback callback);
CURLcode gh_curl_get_response_code(CURL *handle, long *code);
#endif
