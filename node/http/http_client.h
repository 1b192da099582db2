/*
 * Asynchronous HTTP client on the agent's libuv loop: libcurl's multi socket API
 * (curl_multi_socket_action) driven by uv_poll and a uv_timer, so no thread per request
 * and no blocking call on the loop. Used by HTTP checks, metric scrapes and webhooks.
 *
 * Every request ends in exactly one callback, also when the client is closed first
 * (then with err PL_ECANCELED-like code -ECANCELED). Bodies are bounded by body_max.
 */
#ifndef PL_HTTP_CLIENT_H
#define PL_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http_client;

struct http_client_result {
    int err;              /* 0 when an HTTP answer arrived; else PL_ETIMEOUT, -ECONNREFUSED, ... */
    long status;          /* HTTP status when err == 0 */
    const char *body;     /* NUL-terminated; valid only during the callback */
    size_t body_len;
    uint64_t elapsed_ms;  /* from request start to answer or failure */
    char error[160];      /* a human-readable reason when err != 0 */
};

typedef void (*http_client_cb)(const struct http_client_result *res, void *data);

int http_client_new(uv_loop_t *loop, struct http_client **out);
/* Cancels what is in flight (each gets its callback with -ECANCELED) and frees the client
 * once libuv has closed its handles. */
void http_client_free(struct http_client *c);

/* Starts a request. `body` may be NULL. Returns 0 (the callback will run) or an error
 * (the callback will not run): PL_EMALFORMED for a bad method or URL (only http and https),
 * PL_ERANGE for timeout_ms 0, PL_ESTATE once the client is being freed. body_max 0 means
 * 1 MiB; a longer answer ends with PL_ETOOBIG. Other outcomes: PL_ETIMEOUT, -ECONNREFUSED,
 * PL_EPROTO (curl's message in `error`). Never runs the callback before returning. */
int http_client_request(struct http_client *c, const char *method, const char *url,
                        const char *content_type, const void *body, size_t body_len,
                        uint64_t timeout_ms, size_t body_max, http_client_cb cb, void *data);

/* 0 when `url` is an http or https URL with a host that libcurl accepts, else
 * PL_EMALFORMED: for validating configuration before anything starts. */
int http_client_url_check(const char *url);

/* Requests in flight. */
int http_client_pending(const struct http_client *c);

#endif
