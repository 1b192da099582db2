/*
 * The asynchronous HTTP client of http_client.h: libcurl's multi socket API driven by the
 * agent's libuv loop, after the pattern of curl's docs/examples/multi-uv.c.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one uv_poll_t per socket,
 * remembered with curl_multi_assign) and when it next wants a call (CURLMOPT_TIMERFUNCTION:
 * one uv_timer_t). When a poll or the timer fires we call curl_multi_socket_action, then
 * drain curl_multi_info_read for finished transfers; each finished transfer ends in
 * exactly one user callback. Nothing blocks the loop: IP literals and "localhost" need no
 * DNS, and other names go to curl's resolver thread.
 *
 * User callbacks never run inside a curl callback, so they may start new requests or free
 * the client. Freeing cancels every transfer at once (each callback gets -ECANCELED), then
 * closes the libuv handles; the struct is released by the last close callback.
 */
#include "http_client.h"

#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "pl_log.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Used when a caller passes body_max 0. */
#define BODY_MAX_DEFAULT ((size_t)1 << 20)
#define METHOD_MAX 16

struct http_request_state {
    struct http_client *client;
    struct http_request_state *next, *prev;
    CURL *easy;
    struct curl_slist *headers;
    struct pl_buf body;
    size_t body_max;
    int body_too_big;
    int out_of_memory;
    uint64_t start_ns;
    uint64_t timeout_ms;
    http_client_cb cb;
    void *data;
    char errbuf[CURL_ERROR_SIZE];
};

/* One per socket curl asks us to watch; `poll` first so a handle pointer is a watch. */
struct socket_watch {
    uv_poll_t poll;
    struct http_client *client;
    curl_socket_t fd;
    struct socket_watch *next, *prev;
};

struct http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct http_request_state *requests; /* in flight */
    struct socket_watch *watches;        /* open polls (not yet being closed) */
    int pending;
    int open_handles; /* libuv handles not yet closed: the timer and the polls */
    int closing;
};

static int curl_ready;

static int curl_init_once(void)
{
    /* The agent is single-threaded; curl_global_init runs before any transfer. */
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return PL_EPROTO;
        curl_ready = 1;
    }
    return 0;
}

static void client_release_if_done(struct http_client *c)
{
    if (c->closing && c->open_handles == 0) {
        PL_ASSERT(c->requests == NULL && c->watches == NULL);
        free(c);
    }
}

static void timer_closed_cb(uv_handle_t *h)
{
    struct http_client *c = h->data;
    c->open_handles--;
    client_release_if_done(c);
}

static void watch_closed_cb(uv_handle_t *h)
{
    struct socket_watch *w = (struct socket_watch *)h;
    struct http_client *c = w->client;
    free(w);
    c->open_handles--;
    client_release_if_done(c);
}

static void watch_close(struct socket_watch *w)
{
    struct http_client *c = w->client;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        c->watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, watch_closed_cb);
}

static void request_unlink(struct http_request_state *r)
{
    struct http_client *c = r->client;
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        c->requests = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->next = r->prev = NULL;
    c->pending--;
}

static void request_destroy(struct http_request_state *r)
{
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    pl_buf_close(&r->body);
    free(r);
}

/* Translates curl's outcome into our result (CURLcode never leaves this file). */
static void result_fill(struct http_request_state *r, CURLcode code,
                        struct http_client_result *res)
{
    memset(res, 0, sizeof(*res));
    res->elapsed_ms = (uv_hrtime() - r->start_ns) / 1000000u;
    res->body = "";
    if (code == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        res->status = status;
        /* The buffer's max leaves room for the NUL. */
        if (pl_buf_append(&r->body, "", 1) == 0) {
            r->body.len--;
            res->body = (const char *)r->body.data;
            res->body_len = r->body.len;
        } else {
            res->err = -ENOMEM;
            snprintf(res->error, sizeof(res->error), "out of memory for the response body");
        }
        return;
    }
    const char *detail = r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(code);
    if (r->body_too_big || code == CURLE_FILESIZE_EXCEEDED) {
        res->err = PL_ETOOBIG;
        snprintf(res->error, sizeof(res->error), "response body larger than %zu bytes",
                 r->body_max);
    } else if (r->out_of_memory) {
        res->err = -ENOMEM;
        snprintf(res->error, sizeof(res->error), "out of memory for the response body");
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        res->err = PL_ETIMEOUT;
        snprintf(res->error, sizeof(res->error), "no answer within %llu ms: %s",
                 (unsigned long long)r->timeout_ms, detail);
    } else {
        long os_errno = 0;
        curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
        if (code == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED)
            res->err = -ECONNREFUSED;
        else
            res->err = PL_EPROTO;
        snprintf(res->error, sizeof(res->error), "%s", detail);
    }
}

/* Ends one transfer: out of the multi handle, one callback, freed. */
static void request_finish(struct http_request_state *r, CURLcode code)
{
    struct http_client *c = r->client;
    request_unlink(r);
    curl_multi_remove_handle(c->multi, r->easy);
    struct http_client_result res;
    result_fill(r, code, &res);
    if (res.err != 0)
        PL_DEBUGF("http_client", "request failed err=%s elapsed_ms=%llu error=\"%s\"",
                  pl_err_name(res.err), (unsigned long long)res.elapsed_ms, res.error);
    r->cb(&res, r->data);
    request_destroy(r);
}

static void drain_done(struct http_client *c)
{
    CURLMsg *msg;
    int left;
    /* A callback may free the client: then the multi handle is gone and we stop. */
    while (!c->closing && (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct http_request_state *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (PL_NEVER(r == NULL))
            continue;
        request_finish(r, msg->data.result);
    }
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    struct socket_watch *w = (struct socket_watch *)h;
    struct http_client *c = w->client;
    if (c->closing)
        return;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(c->multi, w->fd, flags, &running);
    drain_done(c);
}

static void timer_cb(uv_timer_t *t)
{
    struct http_client *c = t->data;
    if (c->closing)
        return;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done(c);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer; otherwise call us back in timeout_ms. */
static int timer_func(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct http_client *c = userp;
    if (timeout_ms < 0) {
        uv_timer_stop(&c->timer);
        return 0;
    }
    /* 0 means "as soon as possible, but not from inside this callback": a 1 ms timer
     * also keeps a timer callback from re-arming itself in the same loop pass. */
    uv_timer_start(&c->timer, timer_cb, timeout_ms == 0 ? 1 : (uint64_t)timeout_ms, 0);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch `s` for what curl wants, or stop watching it. */
static int socket_func(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    struct http_client *c = userp;
    struct socket_watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w != NULL) {
            watch_close(w);
            /* Not while curl_multi_cleanup runs: the handle is half torn down. */
            if (!c->closing)
                curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }
    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        if (w == NULL)
            return -1;
        if (uv_poll_init_socket(c->loop, &w->poll, s) != 0) {
            free(w);
            return -1;
        }
        w->client = c;
        w->fd = s;
        w->poll.data = w;
        w->next = c->watches;
        if (c->watches != NULL)
            c->watches->prev = w;
        c->watches = w;
        c->open_handles++;
        curl_multi_assign(c->multi, s, w);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&w->poll, events, poll_cb) == 0 ? 0 : -1;
}

static size_t write_func(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_request_state *r = userdata;
    size_t n = size * nmemb;
    if (n > r->body_max - r->body.len) {
        r->body_too_big = 1;
        return 0; /* less than given: curl ends the transfer with CURLE_WRITE_ERROR */
    }
    if (pl_buf_append(&r->body, ptr, n) != 0) {
        r->out_of_memory = 1;
        return 0;
    }
    return n;
}

int http_client_new(uv_loop_t *loop, struct http_client **out)
{
    int rc = curl_init_once();
    if (rc != 0)
        return rc;
    struct http_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->loop = loop;
    c->multi = curl_multi_init();
    if (c->multi == NULL) {
        rc = -ENOMEM;
        goto fail_multi;
    }
    if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_func) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_func) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK) {
        rc = PL_EPROTO;
        goto fail_setopt;
    }
    rc = uv_timer_init(loop, &c->timer);
    if (rc != 0)
        goto fail_setopt;
    c->timer.data = c;
    c->open_handles = 1;
    *out = c;
    return 0;

fail_setopt:
    curl_multi_cleanup(c->multi);
fail_multi:
    free(c);
    return rc;
}

void http_client_free(struct http_client *c)
{
    if (c == NULL || c->closing)
        return; /* a second free from a cancelled request's callback is harmless */
    c->closing = 1;
    /* Each transfer in flight gets exactly one callback, now; none can start any more. */
    while (c->requests != NULL) {
        struct http_request_state *r = c->requests;
        request_unlink(r);
        curl_multi_remove_handle(c->multi, r->easy);
        struct http_client_result res;
        memset(&res, 0, sizeof(res));
        res.err = -ECANCELED;
        res.body = "";
        res.elapsed_ms = (uv_hrtime() - r->start_ns) / 1000000u;
        snprintf(res.error, sizeof(res.error), "cancelled: the HTTP client was closed");
        r->cb(&res, r->data);
        request_destroy(r);
    }
    /* curl may report sockets it closes now through socket_func (REMOVE). */
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->watches != NULL)
        watch_close(c->watches);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, timer_closed_cb);
}

int http_client_url_check(const char *url)
{
    if (url == NULL)
        return PL_EMALFORMED;
    if (curl_init_once() != 0)
        return PL_EPROTO;
    CURLU *u = curl_url();
    if (u == NULL)
        return -ENOMEM;
    int rc = PL_EMALFORMED;
    char *scheme = NULL, *host = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0' &&
        (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0))
        rc = 0;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

static int method_valid(const char *method)
{
    size_t n = strlen(method);
    if (n == 0 || n >= METHOD_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (method[i] < 'A' || method[i] > 'Z')
            return 0;
    }
    return 1;
}

/* Sets the method and the request body: GET and HEAD are curl's own, POST sends the body,
 * any other verb is a custom request that may carry a body. */
static CURLcode set_method(CURL *e, const char *method, const void *body, size_t body_len)
{
    CURLcode rc = CURLE_OK;
    int with_body = body != NULL || strcmp(method, "POST") == 0;
    if (strcmp(method, "GET") == 0 && !with_body)
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (strcmp(method, "HEAD") == 0 && !with_body)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (with_body) {
        /* The size first, so COPYPOSTFIELDS copies exactly body_len bytes. */
        rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body != NULL ? body : "");
    }
    if (rc == CURLE_OK && strcmp(method, "POST") != 0)
        rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    return rc;
}

int http_client_request(struct http_client *c, const char *method, const char *url,
                        const char *content_type, const void *body, size_t body_len,
                        uint64_t timeout_ms, size_t body_max, http_client_cb cb, void *data)
{
    PL_ASSERT(c != NULL && cb != NULL);
    if (c->closing)
        return PL_ESTATE;
    if (method == NULL || !method_valid(method) || http_client_url_check(url) != 0)
        return PL_EMALFORMED;
    if (timeout_ms == 0 || timeout_ms > (uint64_t)LONG_MAX)
        return PL_ERANGE;
    if (content_type != NULL && (strchr(content_type, '\r') || strchr(content_type, '\n')))
        return PL_EMALFORMED;
    if (body_max == 0)
        body_max = BODY_MAX_DEFAULT;

    int rc;
    struct http_request_state *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    r->client = c;
    r->cb = cb;
    r->data = data;
    r->body_max = body_max;
    r->timeout_ms = timeout_ms;
    pl_buf_init(&r->body, body_max + 1);
    r->easy = curl_easy_init();
    if (r->easy == NULL) {
        rc = -ENOMEM;
        goto fail_easy;
    }
    r->headers = curl_slist_append(NULL, "Expect:"); /* no 100-continue round trip */
    if (r->headers == NULL) {
        rc = -ENOMEM;
        goto fail_setup;
    }
    if (content_type != NULL) {
        char line[256];
        if (snprintf(line, sizeof(line), "Content-Type: %s", content_type) >= (int)sizeof(line)) {
            rc = PL_EMALFORMED;
            goto fail_setup;
        }
        struct curl_slist *h = curl_slist_append(r->headers, line);
        if (h == NULL) {
            rc = -ENOMEM;
            goto fail_setup;
        }
        r->headers = h;
    }

    CURL *e = r->easy;
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                                \
    do {                                             \
        if (cc == CURLE_OK)                          \
            cc = curl_easy_setopt(e, (opt), (val));  \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PRIVATE, (void *)r);
    SET(CURLOPT_WRITEFUNCTION, write_func);
    SET(CURLOPT_WRITEDATA, (void *)r);
    SET(CURLOPT_ERRORBUFFER, r->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_PROXY, ""); /* checks go straight to the service, whatever the environment */
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)body_max);
    SET(CURLOPT_USERAGENT, "platelet/" PLATELET_VERSION);
    SET(CURLOPT_HTTPHEADER, r->headers);
#undef SET
    if (cc == CURLE_OK)
        cc = set_method(e, method, body, body_len);
    if (cc != CURLE_OK) {
        rc = cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : PL_EPROTO;
        goto fail_setup;
    }

    r->start_ns = uv_hrtime();
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        rc = PL_EPROTO;
        goto fail_setup;
    }
    r->next = c->requests;
    if (c->requests != NULL)
        c->requests->prev = r;
    c->requests = r;
    c->pending++;
    return 0;

fail_setup:
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
fail_easy:
    pl_buf_close(&r->body);
    free(r);
    return rc;
}

int http_client_pending(const struct http_client *c)
{
    return c->pending;
}
