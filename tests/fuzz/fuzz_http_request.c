/*
 * libFuzzer target for the HTTP request path of node/http_server.c (the agent's API and the
 * sample service), driven whole and for real: the server listens on a Unix socket in a
 * temporary directory, and each input is sent by a client on the same libuv loop in chunks
 * (the first byte picks their size, so requests arrive split anywhere), then the client shuts
 * its side. Whatever the bytes:
 *
 * - every request handed to the handler is well formed: a method, a NUL-terminated path
 *   without '?', a query without '#', a NUL-terminated body within the body limit, and
 *   http_query_get() on it stays inside its output;
 * - every handled request gets exactly one response, a malformed or oversized one at most one
 *   error response more, in order, and the server then closes the connection and frees all
 *   of it (the loop settles; LeakSanitizer checks the rest).
 *
 * Seeds: tests/fuzz/corpus/fuzz_http_request/ (API requests, pipelined, chunked, oversized).
 */
#include "pl_assert.h"
#include "pl_err.h"
#include "http_server.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_MAX 2048
#define RECEIVED_MAX (1 << 20)
#define ROUNDS_MAX 100000

static uv_loop_t loop;
static struct http_server server;
static char sock_path[128];
static int baseline_handles;

static int handled;

struct client
{
    uv_pipe_t pipe;
    uv_connect_t connect;
    uv_shutdown_t shutdown;
    int connected, eof, closed;
    char received[RECEIVED_MAX];
    size_t received_len;
};

static void handler(struct http_conn *conn, const struct http_request *req, void *data)
{
    (void)data;
    PL_ASSERT(req->method != NULL && req->method[0] != '\0' && strlen(req->method) < 16);
    PL_ASSERT(req->path != NULL && strchr(req->path, '?') == NULL);
    PL_ASSERT(req->query != NULL && strchr(req->query, '#') == NULL);
    PL_ASSERT(req->body != NULL && req->body_len <= BODY_MAX && req->body[req->body_len] == '\0');
    char value[8];
    memset(value, 0x7f, sizeof(value));
    int rc = http_query_get(req->query, "a", value, sizeof(value));
    PL_ASSERT(rc == 0 || rc == PL_ENOTFOUND || rc == PL_ETOOBIG);
    if (rc == 0)
        PL_ASSERT(memchr(value, '\0', sizeof(value)) != NULL);
    handled++;
    /* Echo the path so that responses can be told apart. */
    http_respond(conn, 200, "text/plain", req->path, strlen(req->path));
}

static void teardown(void)
{
    unlink(sock_path);
    char *slash = strrchr(sock_path, '/');
    if (slash != NULL) {
        *slash = '\0';
        rmdir(sock_path);
    }
}

static void setup(void)
{
    char dir[] = "/tmp/fuzz_http.XXXXXX";
    PL_ASSERT(mkdtemp(dir) != NULL);
    snprintf(sock_path, sizeof(sock_path), "%s/s", dir);
    /* A write to a connection the server already closed must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    PL_ASSERT(uv_loop_init(&loop) == 0);
    struct http_limits limits;
    http_limits_default(&limits);
    limits.body_max = BODY_MAX;
    http_server_init(&server, &loop, handler, NULL, &limits);
    PL_ASSERT(http_server_listen_unix(&server, sock_path) == 0);
    baseline_handles = server.open_handles;
    atexit(teardown);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct client *c = h->data;
    buf->base = c->received + c->received_len;
    buf->len = RECEIVED_MAX - c->received_len;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct client *c = s->data;
    if (n < 0) {
        c->eof = 1;
        uv_read_stop(s);
        return;
    }
    c->received_len += (size_t)n;
    PL_ASSERT(c->received_len < RECEIVED_MAX);
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct client *c = req->data;
    PL_ASSERT(status == 0);
    c->connected = 1;
    PL_ASSERT(uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb) == 0);
}

static void write_cb(uv_write_t *req, int status)
{
    /* The server may close on a bad request before the rest arrives: EPIPE is fine. */
    (void)status;
    free(req);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

static void closed_cb(uv_handle_t *h)
{
    ((struct client *)h->data)->closed = 1;
}

static void run_until(const int *flag)
{
    for (int i = 0; !*flag; i++) {
        PL_ASSERT(i < ROUNDS_MAX);
        uv_run(&loop, UV_RUN_ONCE);
    }
}

/* Counts the responses in what the client received and checks each is complete. */
static int responses(const char *p, size_t len)
{
    int n = 0;
    size_t at = 0;
    while (at < len) {
        PL_ASSERT(len - at > 9 && memcmp(p + at, "HTTP/1.1 ", 9) == 0);
        const char *end = memmem(p + at, len - at, "\r\n\r\n", 4);
        PL_ASSERT(end != NULL);
        const char *cl = memmem(p + at, (size_t)(end - (p + at)), "Content-Length: ", 16);
        PL_ASSERT(cl != NULL);
        size_t body = strtoul(cl + 16, NULL, 10);
        size_t total = (size_t)(end + 4 - (p + at)) + body;
        PL_ASSERT(total <= len - at);
        at += total;
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sock_path[0] == '\0')
        setup();
    if (size == 0)
        return 0;
    static struct client c;
    memset(&c, 0, sizeof(c));
    handled = 0;
    size_t chunk = 1 + data[0] % 64;
    if (data[0] >= 128)
        chunk = size; /* all at once */
    data++;
    size--;

    PL_ASSERT(uv_pipe_init(&loop, &c.pipe, 0) == 0);
    c.pipe.data = &c;
    c.connect.data = &c;
    uv_pipe_connect(&c.connect, &c.pipe, sock_path, connect_cb);
    run_until(&c.connected);
    for (size_t at = 0; at < size && !c.eof; at += chunk) {
        size_t n = size - at < chunk ? size - at : chunk;
        uv_write_t *w = malloc(sizeof(*w));
        PL_ASSERT(w != NULL);
        uv_buf_t b = uv_buf_init((char *)data + at, (unsigned)n);
        if (uv_write(w, (uv_stream_t *)&c.pipe, &b, 1, write_cb) != 0) {
            free(w);
            break;
        }
        /* Let the server read this piece on its own. */
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    if (!c.eof)
        uv_shutdown(&c.shutdown, (uv_stream_t *)&c.pipe, shutdown_cb);
    /* The server answers what it can and then closes: the client sees its EOF. */
    run_until(&c.eof);
    uv_close((uv_handle_t *)&c.pipe, closed_cb);
    run_until(&c.closed);
    /* And the server frees the connection. */
    for (int i = 0; server.open_handles != baseline_handles || server.conns != NULL; i++) {
        PL_ASSERT(i < ROUNDS_MAX);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    int got = responses(c.received, c.received_len);
    PL_ASSERT(got == handled || got == handled + 1);
    return 0;
}
