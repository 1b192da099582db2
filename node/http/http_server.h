/*
 * A small HTTP/1.1 server on libuv, for the agent's local API and the sample service.
 *
 * Parsing is Debian's libhttp-parser (nodejs/http-parser 2.9): a mature, allocation-free
 * parser is a better bet than a hand-written one for input from outside. One request at
 * a time per connection, keep-alive, bounded URL, header and body sizes. It listens on
 * loopback TCP and/or a Unix socket.
 *
 * A handler may answer at once or later (a Raft proposal answers when it commits): the
 * connection stays valid until http_respond() is called for it, even if the peer went
 * away in between (then the response is dropped).
 */
#ifndef PL_HTTP_SERVER_H
#define PL_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http_conn;

struct http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* the raw path without the query, NUL-terminated */
    const char *query;  /* raw query string without '?', "" when none */
    const char *body;   /* NUL-terminated for convenience; body_len excludes the NUL */
    size_t body_len;
};

/* Called once per complete request. `req` is valid until http_respond(conn). */
typedef void (*http_handler_cb)(struct http_conn *conn, const struct http_request *req, void *data);

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    int tcp_open, pipe_open;
    http_handler_cb handler;
    void *data;
    size_t body_max;
    struct http_conn *conns; /* open connections, for close */
    int closing;
    int open_handles;
    void (*close_cb)(struct http_server *s);
};

void http_server_init(struct http_server *s, uv_loop_t *loop, http_handler_cb handler, void *data,
                      size_t body_max);
/* Listens on host:port (port 0 picks one; http_server_port() tells which). */
int http_server_listen_tcp(struct http_server *s, const char *host, int port);
int http_server_port(struct http_server *s);
/* Listens on a Unix socket at `path` (an old socket file there is replaced; mode 0600). */
int http_server_listen_unix(struct http_server *s, const char *path);
/* Stops listening, closes every connection; close_cb (may be NULL) runs when all is closed.
 * Pending requests are dropped. */
void http_server_close(struct http_server *s, void (*close_cb)(struct http_server *s));

/* Answers the request on `conn`. Copies what it needs; `conn` must not be used after. */
void http_respond(struct http_conn *conn, int status, const char *content_type, const void *body,
                  size_t body_len);

/* The value of `key` in a query string, URL-decoded into out. 0, PL_ENOTFOUND or PL_ETOOBIG. */
int http_query_get(const char *query, const char *key, char *out, size_t out_size);

/* The reason phrase for a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
