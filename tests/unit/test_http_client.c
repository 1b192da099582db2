/*
 * Tests of node/http_client.c against a real http_server on 127.0.0.1 (port 0) in the
 * same libuv loop, over real sockets: answers (200, 404, bodies, methods), a slow handler
 * that hits the timeout, connection refused on a closed port, an answer over body_max,
 * many concurrent requests, freeing with requests in flight (also from inside a
 * callback), and arguments refused before anything starts. A raw TCP server in the same
 * loop gives what http_server never does: a body without Content-Length, an answer that
 * is not HTTP, and no answer at all (a crashed service). Every fixture ends with
 * uv_loop_close() == 0, so a handle the client forgot to close fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "pl_assert.h"
#include "pl_err.h"
#include "http_client.h"
#include "http_server.h"

#define MAX_RESULTS 256

struct slow_reply {
    uv_timer_t timer;
    struct http_conn *conn;
    struct fx *fx;
    struct slow_reply *next, *prev;
};

struct got {
    int called;
    int err;
    long status;
    char body[128];
    size_t body_len;
    uint64_t elapsed_ms;
    char error[160];
};

struct fx {
    uv_loop_t loop;
    uv_timer_t tick;
    struct http_server server;
    int port;
    struct http_client *client;
    struct slow_reply *slow; /* handlers that answer later */
    int slow_started;
    int server_closed;
    struct got got[MAX_RESULTS];
    int completed;
    /* test_free_from_callback */
    int free_in_callback;
    /* test_request_from_callback */
    int chain_left;
    /* A raw TCP server for answers http_server never gives (no length, garbage, none). */
    uv_tcp_t raw;
    int raw_open;
    int raw_port;
    const char *raw_answer;
    size_t raw_answer_len;
};

static void record_cb(const struct http_client_result *res, void *data);

/* ---- the server side ---- */

static void slow_closed_cb(uv_handle_t *h)
{
    free(h->data);
}

static void slow_unlink(struct slow_reply *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        s->fx->slow = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
}

static void slow_fire_cb(uv_timer_t *t)
{
    struct slow_reply *s = t->data;
    slow_unlink(s);
    http_respond(s->conn, 200, "text/plain", "slow", 4);
    uv_close((uv_handle_t *)&s->timer, slow_closed_cb);
}

static void handler(struct http_conn *conn, const struct http_request *req, void *data)
{
    struct fx *fx = data;
    char arg[32];
    if (strcmp(req->path, "/ok") == 0) {
        http_respond(conn, 200, "text/plain", "hello", 5);
    } else if (strcmp(req->path, "/echo") == 0) {
        char out[256];
        int n = snprintf(out, sizeof(out), "%s %.*s", req->method, (int)req->body_len, req->body);
        http_respond(conn, 200, "text/plain", out, PL_MIN((size_t)n, sizeof(out) - 1));
    } else if (strcmp(req->path, "/big") == 0 && http_query_get(req->query, "n", arg, sizeof(arg)) == 0) {
        size_t n = (size_t)strtoul(arg, NULL, 10);
        char *buf = malloc(n + 1);
        memset(buf, 'x', n);
        http_respond(conn, 200, "text/plain", buf, n);
        free(buf);
    } else if (strcmp(req->path, "/slow") == 0 && http_query_get(req->query, "ms", arg, sizeof(arg)) == 0) {
        struct slow_reply *s = calloc(1, sizeof(*s));
        s->conn = conn;
        s->fx = fx;
        uv_timer_init(&fx->loop, &s->timer);
        s->timer.data = s;
        s->next = fx->slow;
        if (fx->slow != NULL)
            fx->slow->prev = s;
        fx->slow = s;
        fx->slow_started++;
        uv_timer_start(&s->timer, slow_fire_cb, strtoull(arg, NULL, 10), 0);
    } else {
        http_respond(conn, 404, "text/plain", "no", 2);
    }
}

/* ---- the raw server: reads a request, writes raw_answer as is, closes ---- */

struct raw_conn {
    uv_tcp_t tcp;
    uv_write_t write;
    struct fx *fx;
    int answered;
};

static void raw_closed_cb(uv_handle_t *h)
{
    free(h->data);
}

static void raw_close(struct raw_conn *rc)
{
    if (!uv_is_closing((uv_handle_t *)&rc->tcp))
        uv_close((uv_handle_t *)&rc->tcp, raw_closed_cb);
}

static void raw_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[4096];
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void raw_written_cb(uv_write_t *w, int status)
{
    (void)status;
    raw_close(w->data);
}

static void raw_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct raw_conn *rc = st->data;
    if (nread < 0) {
        raw_close(rc);
        return;
    }
    if (nread == 0 || rc->answered)
        return;
    rc->answered = 1;
    uv_read_stop(st);
    if (rc->fx->raw_answer_len == 0) {
        raw_close(rc); /* no answer at all: what a crashed process gives */
        return;
    }
    uv_buf_t out = uv_buf_init((char *)rc->fx->raw_answer, (unsigned)rc->fx->raw_answer_len);
    rc->write.data = rc;
    if (uv_write(&rc->write, st, &out, 1, raw_written_cb) != 0)
        raw_close(rc);
}

static void raw_connection_cb(uv_stream_t *listener, int status)
{
    struct fx *fx = listener->data;
    if (status != 0)
        return;
    struct raw_conn *rc = calloc(1, sizeof(*rc));
    rc->fx = fx;
    uv_tcp_init(&fx->loop, &rc->tcp);
    rc->tcp.data = rc;
    if (uv_accept(listener, (uv_stream_t *)&rc->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&rc->tcp, raw_alloc_cb, raw_read_cb) != 0)
        raw_close(rc);
}

static void raw_start(struct fx *fx, const char *answer, size_t len)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_init(&fx->loop, &fx->raw), 0);
    fx->raw.data = fx;
    fx->raw_open = 1;
    assert_int_equal(uv_tcp_bind(&fx->raw, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&fx->raw, 16, raw_connection_cb), 0);
    int len_a = sizeof(a);
    assert_int_equal(uv_tcp_getsockname(&fx->raw, (struct sockaddr *)&a, &len_a), 0);
    fx->raw_port = ntohs(a.sin_port);
    fx->raw_answer = answer;
    fx->raw_answer_len = len;
}

static void raw_get(struct fx *fx, size_t body_max)
{
    char u[128];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", fx->raw_port);
    assert_int_equal(http_client_request(fx->client, "GET", u, NULL, NULL, 0, 5000, body_max,
                                         record_cb, fx),
                     0);
}

/* ---- the loop ---- */

static void tick_cb(uv_timer_t *t)
{
    (void)t; /* only wakes uv_run(UV_RUN_ONCE) so deadlines are checked */
}

/* Runs the loop until *counter >= target or timeout_ms passes. 0 or -1. */
static int run_until(struct fx *fx, const int *counter, int target, uint64_t timeout_ms)
{
    uint64_t start = uv_hrtime();
    uv_timer_start(&fx->tick, tick_cb, 10, 10);
    while (*counter < target) {
        if ((uv_hrtime() - start) / 1000000u > timeout_ms) {
            uv_timer_stop(&fx->tick);
            return -1;
        }
        uv_run(&fx->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&fx->tick);
    return 0;
}

static void record_cb(const struct http_client_result *res, void *data)
{
    struct fx *fx = data;
    int i = fx->completed++;
    if (i >= MAX_RESULTS)
        return;
    struct got *g = &fx->got[i];
    g->called = 1;
    g->err = res->err;
    g->status = res->status;
    g->body_len = res->body_len;
    snprintf(g->body, sizeof(g->body), "%s", res->body);
    g->elapsed_ms = res->elapsed_ms;
    snprintf(g->error, sizeof(g->error), "%s", res->error);
    if (fx->free_in_callback && i == 0) {
        http_client_free(fx->client);
        fx->client = NULL;
    }
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    uv_timer_init(&fx->loop, &fx->tick);
    struct http_limits limits;
    http_limits_default(&limits);
    limits.body_max = 1 << 16;
    http_server_init(&fx->server, &fx->loop, handler, fx, &limits);
    assert_int_equal(http_server_listen_tcp(&fx->server, "127.0.0.1", 0), 0);
    fx->port = http_server_port(&fx->server);
    assert_true(fx->port > 0);
    assert_int_equal(http_client_new(&fx->loop, &fx->client), 0);
    *state = fx;
    return 0;
}

static void server_closed_cb(struct http_server *s)
{
    struct fx *fx = (struct fx *)((char *)s - offsetof(struct fx, server));
    fx->server_closed = 1;
}

static void tick_closed_cb(uv_handle_t *h)
{
    (void)h;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    if (fx->client != NULL)
        http_client_free(fx->client);
    /* Answer what the slow handler still holds (the peers have gone; the answers drop). */
    while (fx->slow != NULL) {
        struct slow_reply *s = fx->slow;
        uv_timer_stop(&s->timer);
        slow_unlink(s);
        http_respond(s->conn, 503, "text/plain", "", 0);
        uv_close((uv_handle_t *)&s->timer, slow_closed_cb);
    }
    http_server_close(&fx->server, server_closed_cb);
    uv_close((uv_handle_t *)&fx->tick, tick_closed_cb);
    if (fx->raw_open)
        uv_close((uv_handle_t *)&fx->raw, tick_closed_cb);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(fx->server_closed, 1);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    free(fx);
    return 0;
}

static void url(struct fx *fx, char *out, size_t size, const char *path)
{
    snprintf(out, size, "http://127.0.0.1:%d%s", fx->port, path);
}

static void get(struct fx *fx, const char *path, uint64_t timeout_ms, size_t body_max)
{
    char u[128];
    url(fx, u, sizeof(u), path);
    assert_int_equal(http_client_request(fx->client, "GET", u, NULL, NULL, 0, timeout_ms, body_max,
                                         record_cb, fx),
                     0);
}

/* ---- the tests ---- */

static void test_ok_and_not_found(void **state)
{
    struct fx *fx = *state;
    get(fx, "/ok", 5000, 1024);
    assert_int_equal(http_client_pending(fx->client), 1);
    assert_int_equal(fx->completed, 0); /* never called before returning */
    assert_int_equal(run_until(fx, &fx->completed, 1, 10000), 0);
    assert_int_equal(fx->got[0].err, 0);
    assert_int_equal(fx->got[0].status, 200);
    assert_string_equal(fx->got[0].body, "hello");
    assert_int_equal(fx->got[0].body_len, 5);
    assert_int_equal(http_client_pending(fx->client), 0);

    get(fx, "/nothing-here", 5000, 1024);
    assert_int_equal(run_until(fx, &fx->completed, 2, 10000), 0);
    assert_int_equal(fx->got[1].err, 0);
    assert_int_equal(fx->got[1].status, 404);
    assert_string_equal(fx->got[1].body, "no");
}

static void test_host_name(void **state)
{
    struct fx *fx = *state;
    /* A name, not an IP literal: resolved without blocking the loop. */
    char u[128];
    snprintf(u, sizeof(u), "http://localhost:%d/ok", fx->port);
    assert_int_equal(http_client_request(fx->client, "GET", u, NULL, NULL, 0, 5000, 1024,
                                         record_cb, fx),
                     0);
    assert_int_equal(run_until(fx, &fx->completed, 1, 10000), 0);
    assert_int_equal(fx->got[0].err, 0);
    assert_string_equal(fx->got[0].body, "hello");
}

static void test_methods_and_bodies(void **state)
{
    struct fx *fx = *state;
    char u[128];
    url(fx, u, sizeof(u), "/echo");
    assert_int_equal(http_client_request(fx->client, "POST", u, "application/json", "{\"a\":1}", 7,
                                         5000, 1024, record_cb, fx),
                     0);
    assert_int_equal(run_until(fx, &fx->completed, 1, 10000), 0);
    assert_int_equal(fx->got[0].err, 0);
    assert_string_equal(fx->got[0].body, "POST {\"a\":1}");

    assert_int_equal(http_client_request(fx->client, "PUT", u, "text/plain", "xyz", 3, 5000, 1024,
                                         record_cb, fx),
                     0);
    assert_int_equal(run_until(fx, &fx->completed, 2, 10000), 0);
    assert_string_equal(fx->got[1].body, "PUT xyz");

    assert_int_equal(http_client_request(fx->client, "DELETE", u, NULL, NULL, 0, 5000, 1024,
                                         record_cb, fx),
                     0);
    assert_int_equal(run_until(fx, &fx->completed, 3, 10000), 0);
    assert_string_equal(fx->got[2].body, "DELETE ");

    /* A POST without a body sends an empty one. */
    assert_int_equal(http_client_request(fx->client, "POST", u, NULL, NULL, 0, 5000, 1024,
                                         record_cb, fx),
                     0);
    assert_int_equal(run_until(fx, &fx->completed, 4, 10000), 0);
    assert_string_equal(fx->got[3].body, "POST ");
}

static void test_timeout(void **state)
{
    struct fx *fx = *state;
    get(fx, "/slow?ms=5000", 200, 1024);
    assert_int_equal(run_until(fx, &fx->completed, 1, 10000), 0);
    assert_int_equal(fx->got[0].err, PL_ETIMEOUT);
    assert_true(fx->got[0].elapsed_ms >= 190);
    assert_true(fx->got[0].elapsed_ms < 5000); /* it did not wait for the answer */
    assert_non_null(strstr(fx->got[0].error, "200 ms"));
    assert_int_equal(fx->slow_started, 1);

    /* A slow answer inside the timeout arrives, and its elapsed time shows the wait. */
    get(fx, "/slow?ms=150", 5000, 1024);
    assert_int_equal(run_until(fx, &fx->completed, 2, 10000), 0);
    assert_int_equal(fx->got[1].err, 0);
    assert_string_equal(fx->got[1].body, "slow");
    assert_true(fx->got[1].elapsed_ms >= 140);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd); /* bound but never listening, now closed: connecting is refused */
    return ntohs(a.sin_port);
}

static void test_connection_refused(void **state)
{
    struct fx *fx = *state;
    char u[128];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/health", closed_port());
    assert_int_equal(http_client_request(fx->client, "GET", u, NULL, NULL, 0, 5000, 1024,
                                         record_cb, fx),
                     0);
    assert_int_equal(run_until(fx, &fx->completed, 1, 10000), 0);
    assert_int_equal(fx->got[0].err, -ECONNREFUSED);
    assert_true(fx->got[0].error[0] != '\0');
}

static void test_body_max(void **state)
{
    struct fx *fx = *state;
    get(fx, "/big?n=5000", 5000, 1000);
    get(fx, "/big?n=1000", 5000, 1000); /* exactly the limit is fine */
    get(fx, "/big?n=60000", 5000, 0);   /* 0: the 1 MiB default */
    assert_int_equal(run_until(fx, &fx->completed, 3, 10000), 0);
    int too_big = 0, exact = 0, large = 0;
    for (int i = 0; i < 3; i++) {
        struct got *g = &fx->got[i];
        if (g->err == PL_ETOOBIG) {
            too_big++;
            assert_non_null(strstr(g->error, "larger than 1000 bytes"));
        } else if (g->err == 0 && g->body_len == 1000) {
            exact++;
        } else if (g->err == 0 && g->body_len == 60000) {
            large++;
        }
    }
    assert_int_equal(too_big, 1);
    assert_int_equal(exact, 1);
    assert_int_equal(large, 1);
}

/* The server's own body limit is inclusive: a request body of exactly body_max is
 * answered (it once held the connection open forever, with no room for the NUL the
 * handler gets), one byte more is refused with 413. */
static void test_server_body_limit(void **state)
{
    struct fx *fx = *state;
    size_t max = 1 << 16;
    char *body = malloc(max + 1);
    assert_non_null(body);
    memset(body, 'b', max + 1);
    char u[128];
    url(fx, u, sizeof(u), "/echo");
    assert_int_equal(http_client_request(fx->client, "POST", u, NULL, body, max, 5000, 1024,
                                         record_cb, fx),
                     0);
    assert_int_equal(run_until(fx, &fx->completed, 1, 10000), 0);
    assert_int_equal(fx->got[0].err, 0);
    assert_int_equal(fx->got[0].status, 200);
    assert_int_equal(http_client_request(fx->client, "POST", u, NULL, body, max + 1, 5000, 1024,
                                         record_cb, fx),
                     0);
    assert_int_equal(run_until(fx, &fx->completed, 2, 10000), 0);
    assert_int_equal(fx->got[1].err, 0);
    assert_int_equal(fx->got[1].status, 413);
    free(body);
}

static void test_body_max_without_length(void **state)
{
    struct fx *fx = *state;
    /* No Content-Length: the limit is enforced while the body streams in. */
    static char answer[64 + 5000];
    int n = snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    memset(answer + n, 'x', 5000);
    raw_start(fx, answer, (size_t)n + 5000);
    raw_get(fx, 1000);
    raw_get(fx, 5000);
    assert_int_equal(run_until(fx, &fx->completed, 2, 10000), 0);
    int too_big = 0, whole = 0;
    for (int i = 0; i < 2; i++) {
        if (fx->got[i].err == PL_ETOOBIG)
            too_big++;
        else if (fx->got[i].err == 0 && fx->got[i].body_len == 5000)
            whole++;
    }
    assert_int_equal(too_big, 1);
    assert_int_equal(whole, 1);
}

static void test_not_http(void **state)
{
    struct fx *fx = *state;
    static const char garbage[] = "this is not HTTP at all\r\n\r\n";
    raw_start(fx, garbage, sizeof(garbage) - 1);
    raw_get(fx, 1000);
    assert_int_equal(run_until(fx, &fx->completed, 1, 10000), 0);
    assert_int_equal(fx->got[0].err, PL_EPROTO);
    assert_true(fx->got[0].error[0] != '\0');
}

static void test_no_answer(void **state)
{
    struct fx *fx = *state;
    raw_start(fx, "", 0); /* reads the request, closes without a word */
    raw_get(fx, 1000);
    assert_int_equal(run_until(fx, &fx->completed, 1, 10000), 0);
    assert_int_equal(fx->got[0].err, PL_EPROTO);
    assert_non_null(strstr(fx->got[0].error, "Empty reply"));
}

static void test_many_concurrent(void **state)
{
    struct fx *fx = *state;
    enum { N = 200 };
    for (int i = 0; i < N; i++)
        get(fx, i % 2 ? "/ok" : "/slow?ms=30", 10000, 1024);
    assert_int_equal(http_client_pending(fx->client), N);
    assert_int_equal(run_until(fx, &fx->completed, N, 30000), 0);
    int ok = 0, slow = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(fx->got[i].err, 0);
        assert_int_equal(fx->got[i].status, 200);
        if (strcmp(fx->got[i].body, "hello") == 0)
            ok++;
        else if (strcmp(fx->got[i].body, "slow") == 0)
            slow++;
    }
    assert_int_equal(ok, N / 2);
    assert_int_equal(slow, N / 2);
    assert_int_equal(http_client_pending(fx->client), 0);
}

static void test_free_in_flight(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 10; i++)
        get(fx, "/slow?ms=20000", 30000, 1024);
    /* Wait until the server holds all ten, so they are truly in flight. */
    assert_int_equal(run_until(fx, &fx->slow_started, 10, 10000), 0);
    assert_int_equal(fx->completed, 0);
    http_client_free(fx->client);
    fx->client = NULL;
    assert_int_equal(fx->completed, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(fx->got[i].err, -ECANCELED);
        assert_true(fx->got[i].error[0] != '\0');
    }
    /* The loop runs on: no callback runs twice. */
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_int_equal(fx->completed, 10);
}

static void test_free_from_callback(void **state)
{
    struct fx *fx = *state;
    fx->free_in_callback = 1;
    get(fx, "/ok", 5000, 1024);
    for (int i = 0; i < 5; i++)
        get(fx, "/slow?ms=20000", 30000, 1024);
    assert_int_equal(run_until(fx, &fx->completed, 6, 10000), 0);
    assert_null(fx->client);
    assert_int_equal(fx->got[0].err, 0);
    for (int i = 1; i < 6; i++)
        assert_int_equal(fx->got[i].err, -ECANCELED);
}

static void chain_cb(const struct http_client_result *res, void *data)
{
    struct fx *fx = data;
    record_cb(res, data);
    if (fx->chain_left-- > 0) {
        char u[128];
        url(fx, u, sizeof(u), "/ok");
        assert_int_equal(http_client_request(fx->client, "GET", u, NULL, NULL, 0, 5000, 1024,
                                             chain_cb, fx),
                         0);
    }
}

static void test_request_from_callback(void **state)
{
    struct fx *fx = *state;
    fx->chain_left = 4;
    char u[128];
    url(fx, u, sizeof(u), "/ok");
    assert_int_equal(http_client_request(fx->client, "GET", u, NULL, NULL, 0, 5000, 1024, chain_cb,
                                         fx),
                     0);
    assert_int_equal(run_until(fx, &fx->completed, 5, 10000), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fx->got[i].status, 200);
}

static void test_bad_arguments(void **state)
{
    struct fx *fx = *state;
    char u[128];
    url(fx, u, sizeof(u), "/ok");
    assert_int_equal(http_client_request(fx->client, "GET", "not a url", NULL, NULL, 0, 1000, 1024,
                                         record_cb, fx),
                     PL_EMALFORMED);
    assert_int_equal(http_client_request(fx->client, "GET", "ftp://127.0.0.1/x", NULL, NULL, 0,
                                         1000, 1024, record_cb, fx),
                     PL_EMALFORMED);
    assert_int_equal(http_client_request(fx->client, "get", u, NULL, NULL, 0, 1000, 1024,
                                         record_cb, fx),
                     PL_EMALFORMED);
    assert_int_equal(http_client_request(fx->client, "GET", u, "text/plain\r\nX: y", NULL, 0, 1000,
                                         1024, record_cb, fx),
                     PL_EMALFORMED);
    assert_int_equal(http_client_request(fx->client, "GET", u, NULL, NULL, 0, 0, 1024, record_cb,
                                         fx),
                     PL_ERANGE);
    assert_int_equal(http_client_pending(fx->client), 0);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_int_equal(fx->completed, 0);

    assert_int_equal(http_client_url_check("http://127.0.0.1:8080/health"), 0);
    assert_int_equal(http_client_url_check("https://example.org"), 0);
    assert_int_equal(http_client_url_check("http://"), PL_EMALFORMED);
    assert_int_equal(http_client_url_check("file:///etc/passwd"), PL_EMALFORMED);
    assert_int_equal(http_client_url_check(""), PL_EMALFORMED);
    assert_int_equal(http_client_url_check(NULL), PL_EMALFORMED);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_ok_and_not_found),   T(test_methods_and_bodies), T(test_timeout),
        T(test_connection_refused), T(test_body_max), T(test_server_body_limit),           T(test_many_concurrent),
        T(test_free_in_flight),     T(test_free_from_callback), T(test_request_from_callback),
        T(test_bad_arguments),      T(test_body_max_without_length), T(test_not_http),
        T(test_no_answer),          T(test_host_name),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
