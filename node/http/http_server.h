/*
 * A small HTTP/1.1 server on libuv, for the agent's local API and the sample service.
 *
 * Parsing is Debian's libhttp-parser (nodejs/http-parser 2.9): a mature, allocation-free
 * parser is a better bet than a hand-written one for input from outside. One request at
 * a time per connection, keep-alive, bounded URL, header and body sizes. It listens on
 * loopback TCP and/or a Unix socket.
 *
 * Bounded against slow or idle peers (struct http_limits): a request's head must arrive
 * within header_timeout_ms of its first byte and its body within body_timeout_ms of the
 * head, a connection with no request under way closes after idle_timeout_ms, and at most
 * conns_max connections are open on TCP and as many on the Unix socket (a flood on one
 * never locks the owner out of the other), together at most half the process's descriptor
 * limit so the rest stay for its own work. A new connection over the limit closes the one
 * that has been quiet the longest among those no handler is working on and that have had
 * a second to send their request (a slow client loses its place, a new one keeps it); when
 * none may go, the new connection is refused.
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
    /* The headers the API checks, NULL when absent (a repeated one is a 400 already). */
    const char *host;
    const char *origin;
    const char *authorization;
    int via_unix; /* 1: arrived on the Unix socket (the owner's), 0: on TCP */
};

/* Sizes and times that bound what one peer can hold. */
struct http_limits {
    size_t body_max;            /* bytes of one request body */
    uint32_t conns_max;         /* open connections on TCP, and as many on the Unix socket;
                                 * capped at a quarter of the descriptor limit each */
    uint32_t header_timeout_ms; /* a request's head, from its first byte */
    uint32_t body_timeout_ms;   /* its body, from the end of the head */
    uint32_t idle_timeout_ms;   /* no request under way (before the first, between two) */
};

#define HTTP_CONNS_MAX_DEFAULT 256
#define HTTP_HEADER_VALUE_MAX 1024 /* a captured header (Host, Origin, Authorization) */

/* 1 MiB bodies, 256 connections, 10 s head, 30 s body, 60 s idle. */
void http_limits_default(struct http_limits *l);

/* Called once per complete request. `req` is valid until http_respond(conn). */
typedef void (*http_handler_cb)(struct http_conn *conn, const struct http_request *req, void *data);

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_timer_t sweep; /* closes connections past their deadline */
    int tcp_open, pipe_open, sweep_open;
    http_handler_cb handler;
    void *data;
    struct http_limits limits; /* conns_max already capped by the descriptor limit */
    struct http_conn *conns;   /* open connections, newest first */
    uint32_t nconns;           /* in `conns` */
    uint32_t nconns_on[2];     /* of them on TCP [0] and on the Unix socket [1] */
    uint64_t evicted, timed_out, refused; /* counters */
    int closing;
    int open_handles;
    void (*close_cb)(struct http_server *s);
};

/* `limits` NULL: http_limits_default(). */
void http_server_init(struct http_server *s, uv_loop_t *loop, http_handler_cb handler, void *data,
                      const struct http_limits *limits);
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
/* The same with extra header lines (each ending in CRLF, at most 256 bytes in all). */
void http_respond_headers(struct http_conn *conn, int status, const char *content_type,
                          const char *headers, const void *body, size_t body_len);

/* The value of `key` in a query string, URL-decoded into out. 0, PL_ENOTFOUND or PL_ETOOBIG. */
int http_query_get(const char *query, const char *key, char *out, size_t out_size);

/* The reason phrase for a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
