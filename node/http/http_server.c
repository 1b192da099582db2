/*
 * The libuv + libhttp-parser server of http_server.h.
 *
 * Each connection owns a parser and bounded buffers for the URL and body. When a message
 * completes we pause the parser and stop reading; bytes that arrived after it (a
 * pipelined request) are kept and fed again once the response is written.
 *
 * Each connection has one deadline for the phase it is in (idle, head, body; none while
 * a handler works on its request); one timer per server sweeps the list, so a thousand
 * slow peers cost no timer each.
 */
#include "http_server.h"

#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "pl_log.h"

#include <errno.h>
#include <http_parser.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define URL_MAX 8192
#define HEADERS_MAX 16384
#define HEADER_NAME_MAX 32 /* longer names are none of the captured ones */
#define SWEEP_MS_MIN 50
#define SWEEP_MS_MAX 1000

/* The headers kept for the handler (http_request.host, .origin, .authorization). */
enum captured { CAP_HOST, CAP_ORIGIN, CAP_AUTHORIZATION, CAP_N, CAP_NONE = CAP_N };
static const char *const captured_names[CAP_N] = {"host", "origin", "authorization"};

struct http_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    struct http_server *srv;
    struct http_conn *next, *prev;
    http_parser parser;
    struct pl_buf url;
    struct pl_buf body;
    struct pl_buf pending; /* bytes read after a complete message */
    size_t header_bytes;
    char method[16];
    char *path;
    char *query;
    int message_done; /* a request is waiting for http_respond */
    int too_large;    /* the URL or body passed its limit: the answer is 413 */
    int keep_alive;
    int closed;       /* uv_close was called */
    int writes;       /* writes in flight */
    int via_unix;
    uint64_t deadline_ms; /* close when uv_now passes it; 0 while a handler works */
    uint64_t active_ms;   /* accepted or last read; who goes first at the limit */
    int heard;            /* a byte has been read from the peer */
    const char *phase;    /* what the deadline waits for, for the log */
    /* Header capture: the name being read, then which captured header its value fills. */
    char name[HEADER_NAME_MAX];
    size_t name_len;
    int in_value;
    enum captured cap;
    char cap_value[CAP_N][HTTP_HEADER_VALUE_MAX + 1];
    size_t cap_len[CAP_N];
    int cap_seen[CAP_N];
};

static http_parser_settings parser_settings;

static void conn_close(struct http_conn *c);
static void conn_feed(struct http_conn *c, const char *data, size_t len);

void http_limits_default(struct http_limits *l)
{
    l->body_max = 1 << 20;
    l->conns_max = HTTP_CONNS_MAX_DEFAULT;
    l->header_timeout_ms = 10000;
    l->body_timeout_ms = 30000;
    l->idle_timeout_ms = 60000;
}

static void conn_deadline(struct http_conn *c, uint32_t in_ms, const char *phase)
{
    c->deadline_ms = uv_now(c->srv->loop) + in_ms;
    c->phase = phase;
}

static void conn_reset_message(struct http_conn *c)
{
    pl_buf_reset(&c->url);
    pl_buf_reset(&c->body);
    c->header_bytes = 0;
    free(c->path);
    c->path = NULL;
    c->query = NULL;
    c->message_done = 0;
    c->too_large = 0;
    c->name_len = 0;
    c->in_value = 0;
    c->cap = CAP_NONE;
    memset(c->cap_len, 0, sizeof(c->cap_len));
    memset(c->cap_seen, 0, sizeof(c->cap_seen));
}

static int on_message_begin(http_parser *p)
{
    struct http_conn *c = p->data;
    conn_reset_message(c);
    conn_deadline(c, c->srv->limits.header_timeout_ms, "a complete request head");
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    if (c->url.len + len > URL_MAX) {
        c->too_large = 1;
        return -1;
    }
    return pl_buf_append(&c->url, at, len) == 0 ? 0 : -1;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    c->header_bytes += len;
    if (c->header_bytes > HEADERS_MAX)
        return -1;
    if (c->in_value) { /* a new header begins */
        c->in_value = 0;
        c->name_len = 0;
    }
    /* A name longer than any captured one is none of them: keep only that it was long. */
    if (c->name_len + len > HEADER_NAME_MAX) {
        c->name_len = HEADER_NAME_MAX + 1;
        return 0;
    }
    memcpy(c->name + c->name_len, at, len);
    c->name_len += len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    c->header_bytes += len;
    if (c->header_bytes > HEADERS_MAX)
        return -1;
    if (!c->in_value) {
        c->in_value = 1;
        c->cap = CAP_NONE;
        for (int i = 0; i < CAP_N && c->name_len <= HEADER_NAME_MAX; i++)
            if (c->name_len == strlen(captured_names[i]) &&
                strncasecmp(c->name, captured_names[i], c->name_len) == 0)
                c->cap = (enum captured)i;
        if (c->cap != CAP_NONE) {
            /* Two Host or Authorization headers: which one counts is how smuggling starts. */
            if (c->cap_seen[c->cap])
                return -1;
            c->cap_seen[c->cap] = 1;
        }
    }
    if (c->cap == CAP_NONE)
        return 0;
    if (c->cap_len[c->cap] + len > HTTP_HEADER_VALUE_MAX)
        return -1;
    memcpy(c->cap_value[c->cap] + c->cap_len[c->cap], at, len);
    c->cap_len[c->cap] += len;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    conn_deadline(c, c->srv->limits.body_timeout_ms, "the request body");
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    if (c->body.len + len > c->srv->limits.body_max) {
        c->too_large = 1;
        return -1;
    }
    return pl_buf_append(&c->body, at, len) == 0 ? 0 : -1;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    c->message_done = 1;
    c->deadline_ms = 0; /* the handler takes its own time (a proposal waits for its commit) */
    c->keep_alive = http_should_keep_alive(p);
    snprintf(c->method, sizeof(c->method), "%s", http_method_str((enum http_method)p->method));
    http_parser_pause(p, 1);
    return 0;
}

static const char *captured(struct http_conn *c, enum captured which)
{
    if (!c->cap_seen[which])
        return NULL;
    c->cap_value[which][c->cap_len[which]] = '\0';
    return c->cap_value[which];
}

static void dispatch(struct http_conn *c)
{
    /* NUL-terminate URL and body for the handler (their buffers keep a byte for it). */
    if (pl_buf_append(&c->url, "", 1) != 0 || pl_buf_append(&c->body, "", 1) != 0 ||
        (c->path = strdup((const char *)c->url.data)) == NULL) {
        /* No handler will answer: the connection is ours to close now. */
        c->message_done = 0;
        conn_close(c);
        return;
    }
    c->body.len--;
    char *q = strchr(c->path, '?');
    if (q != NULL) {
        *q = '\0';
        c->query = q + 1;
    } else {
        c->query = c->path + strlen(c->path);
    }
    char *frag = strchr(c->query, '#');
    if (frag != NULL)
        *frag = '\0';
    struct http_request req = {
        .method = c->method,
        .path = c->path,
        .query = c->query,
        .body = (const char *)c->body.data,
        .body_len = c->body.len,
        .host = captured(c, CAP_HOST),
        .origin = captured(c, CAP_ORIGIN),
        .authorization = captured(c, CAP_AUTHORIZATION),
        .via_unix = c->via_unix,
    };
    c->srv->handler(c, &req, c->srv->data);
}

static void send_error_and_close(struct http_conn *c, int status)
{
    c->keep_alive = 0;
    c->message_done = 1;
    http_respond(c, status, "text/plain", http_status_text(status), strlen(http_status_text(status)));
}

static void conn_feed(struct http_conn *c, const char *data, size_t len)
{
    size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
    enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
    if (err == HPE_PAUSED) {
        /* A complete message; keep what follows it for later. */
        if (n < len && pl_buf_append(&c->pending, data + n, len - n) != 0) {
            conn_close(c);
            return;
        }
        uv_read_stop(&c->h.stream);
        dispatch(c);
        return;
    }
    if (err != HPE_OK) {
        int status = 400;
        if (c->too_large)
            status = 413;
        PL_LOG_RATELIMITED(PL_LOG_WARN, "http", "bad request dropped error=%s",
                           http_errno_name(err));
        uv_read_stop(&c->h.stream);
        send_error_and_close(c, status);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[65536];
    /* The loop is single-threaded and each read is consumed before the next alloc. */
    buf->base = slab;
    buf->len = sizeof(slab);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = stream->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    c->active_ms = uv_now(c->srv->loop);
    c->heard = 1;
    conn_feed(c, buf->base, (size_t)nread);
}

static void close_done(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    struct http_server *s = c->srv;
    /* The Authorization header held a token. */
    sodium_memzero(c->cap_value, sizeof(c->cap_value));
    pl_buf_close(&c->url);
    pl_buf_close(&c->body);
    pl_buf_close(&c->pending);
    free(c->path);
    free(c);
    s->open_handles--;
    if (s->closing && s->open_handles == 0 && s->close_cb != NULL)
        s->close_cb(s);
}

static void conn_close(struct http_conn *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    c->srv->nconns--;
    c->srv->nconns_on[c->via_unix]--;
    /* A handler still holding the connection answers later; free it then. */
    if (c->message_done)
        return;
    if (c->writes == 0 && !uv_is_closing(&c->h.handle))
        uv_close(&c->h.handle, close_done);
}

struct write_req {
    uv_write_t req;
    struct http_conn *conn;
    char data[];
};

static void write_cb(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct http_conn *c = w->conn;
    free(w);
    c->writes--;
    if (c->closed) {
        if (c->writes == 0 && !c->message_done)
            uv_close(&c->h.handle, close_done);
        return;
    }
    if (status < 0 || !c->keep_alive) {
        conn_close(c);
        return;
    }
    /* Ready for the next request: resume parsing what was pipelined, then read more. */
    http_parser_pause(&c->parser, 0);
    conn_reset_message(c);
    if (c->pending.len > 0) {
        struct pl_buf pending = c->pending;
        pl_buf_init(&c->pending, pending.max);
        conn_feed(c, (const char *)pending.data, pending.len);
        pl_buf_close(&pending);
        if (c->closed || c->message_done)
            return;
    }
    uv_read_start(&c->h.stream, alloc_cb, read_cb);
}

void http_respond(struct http_conn *c, int status, const char *content_type, const void *body,
                  size_t body_len)
{
    http_respond_headers(c, status, content_type, "", body, body_len);
}

void http_respond_headers(struct http_conn *c, int status, const char *content_type,
                          const char *headers, const void *body, size_t body_len)
{
    PL_ASSERT(c->message_done);
    PL_ASSERT(strlen(headers) <= 256);
    c->message_done = 0;
    if (c->closed) {
        /* The peer left while the handler worked; nothing to send. */
        if (c->writes == 0)
            uv_close(&c->h.handle, close_done);
        return;
    }
    /* A peer that does not take the answer, or sends no next request, is idle. */
    conn_deadline(c, c->srv->limits.idle_timeout_ms, "a new request");
    char head[768];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "%sConnection: %s\r\n\r\n",
                      status, http_status_text(status), content_type, body_len, headers,
                      c->keep_alive ? "keep-alive" : "close");
    PL_ASSERT(hn > 0 && (size_t)hn < sizeof(head));
    struct write_req *w = malloc(sizeof(*w) + (size_t)hn + body_len);
    if (w == NULL) {
        conn_close(c);
        return;
    }
    memcpy(w->data, head, (size_t)hn);
    if (body_len > 0)
        memcpy(w->data + hn, body, body_len);
    w->conn = c;
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)((size_t)hn + body_len));
    c->writes++;
    int rc = uv_write(&w->req, &c->h.stream, &buf, 1, write_cb);
    if (rc != 0) {
        c->writes--;
        free(w);
        conn_close(c);
    }
}

/* Whether the peer's next bytes are already in the socket, unread. */
static int bytes_waiting(struct http_conn *c)
{
    uv_os_fd_t fd;
    char byte;
    if (uv_fileno(&c->h.handle, &fd) != 0)
        return 0;
    return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* How readily a connection goes at the limit, most first: one we have heard from that
 * sits idle or sends its request slowly (it had its chance); one accepted but not read
 * yet, nothing waiting; one whose request waits unread in the socket (a client that
 * arrived in the same turn of the loop as a burst of others). Among those heard from, the
 * one quiet the longest goes; among the others the newest, so in a burst the latecomers
 * are dropped, not the first. */
static int evict_rank(struct http_conn *c)
{
    if (c->heard)
        return 0;
    return bytes_waiting(c) ? 2 : 1;
}

/* At the connection limit: closes, among the connections of the same listener that no
 * handler is working on, the first by evict_rank(), so a new client gets in while slow
 * ones hold the rest. 0, or PL_EFULL when none may go. */
static int evict_oldest(struct http_server *s, int via_unix)
{
    struct http_conn *best = NULL;
    int best_rank = 3;
    for (struct http_conn *c = s->conns; c != NULL; c = c->next) { /* newest first */
        if (c->via_unix != via_unix || c->message_done)
            continue;
        if (best != NULL && best_rank == 0 && (!c->heard || c->active_ms > best->active_ms))
            continue; /* cannot beat the best without a syscall */
        int rank = evict_rank(c);
        if (rank < best_rank || (rank == 0 && best_rank == 0 && c->active_ms <= best->active_ms)) {
            best = c;
            best_rank = rank;
        }
    }
    if (best == NULL)
        return PL_EFULL;
    s->evicted++;
    PL_LOG_RATELIMITED(PL_LOG_WARN, "http",
                       "connection limit reached; closed the oldest idle or slow connection "
                       "limit=%u evicted=%llu",
                       s->limits.conns_max, (unsigned long long)s->evicted);
    conn_close(best);
    return 0;
}

static void accept_conn(struct http_server *s, uv_stream_t *listener, int is_pipe)
{
    struct http_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->srv = s;
    int rc = is_pipe ? uv_pipe_init(s->loop, &c->h.pipe, 0) : uv_tcp_init(s->loop, &c->h.tcp);
    if (rc != 0) {
        free(c);
        return;
    }
    c->h.handle.data = c;
    c->via_unix = is_pipe;
    s->open_handles++;
    /* One byte more than the limits: dispatch NUL-terminates a URL or body at its limit. */
    pl_buf_init(&c->url, URL_MAX + 1);
    pl_buf_init(&c->body, s->limits.body_max + 1);
    pl_buf_init(&c->pending, s->limits.body_max + HEADERS_MAX + URL_MAX);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->cap = CAP_NONE;
    int full = s->nconns_on[is_pipe] >= s->limits.conns_max && evict_oldest(s, is_pipe) != 0;
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->nconns_on[is_pipe]++;
    conn_deadline(c, s->limits.idle_timeout_ms, "a first request");
    c->active_ms = uv_now(s->loop);
    if (uv_accept(listener, &c->h.stream) != 0)
        full = 1;
    if (full) {
        /* Accepted only to be closed: a connection left in the backlog would be answered
         * later by nobody. */
        s->refused++;
        PL_LOG_RATELIMITED(PL_LOG_WARN, "http",
                           "connection refused: %u connections, none idle or slow for long",
                           s->nconns_on[is_pipe] - 1);
        conn_close(c);
        return;
    }
    if (uv_read_start(&c->h.stream, alloc_cb, read_cb) != 0)
        conn_close(c);
}

static void sweep_cb(uv_timer_t *t)
{
    struct http_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    struct http_conn *c = s->conns;
    while (c != NULL) {
        struct http_conn *next = c->next;
        if (c->deadline_ms != 0 && now >= c->deadline_ms && !c->message_done) {
            s->timed_out++;
            PL_LOG_RATELIMITED(PL_LOG_INFO, "http", "connection closed: no %s in time (timed out: %llu)",
                               c->phase, (unsigned long long)s->timed_out);
            conn_close(c);
        }
        c = next;
    }
}

/* The sweep runs at a quarter of the shortest timeout, between 50 ms and 1 s. */
static int sweep_start(struct http_server *s)
{
    if (s->sweep_open)
        return 0;
    int rc = uv_timer_init(s->loop, &s->sweep);
    if (rc != 0)
        return rc;
    s->sweep.data = s;
    s->sweep_open = 1;
    s->open_handles++;
    uint32_t shortest = PL_MIN(s->limits.idle_timeout_ms,
                               PL_MIN(s->limits.header_timeout_ms, s->limits.body_timeout_ms));
    uint64_t every = PL_MAX(SWEEP_MS_MIN, PL_MIN(SWEEP_MS_MAX, shortest / 4));
    uv_timer_start(&s->sweep, sweep_cb, every, every);
    uv_unref((uv_handle_t *)&s->sweep); /* the listeners keep the loop alive, not the sweep */
    return 0;
}

static void tcp_connection_cb(uv_stream_t *listener, int status)
{
    struct http_server *s = listener->data;
    if (status == 0 && !s->closing)
        accept_conn(s, listener, 0);
}

static void pipe_connection_cb(uv_stream_t *listener, int status)
{
    struct http_server *s = listener->data;
    if (status == 0 && !s->closing)
        accept_conn(s, listener, 1);
}

/* A quarter of the descriptors a process may open, for each of TCP and the Unix socket,
 * so a flood of connections leaves half to its own work (a supervised service's pipes,
 * checks, the store's files). */
static uint32_t fd_share(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return UINT32_MAX;
    return (uint32_t)PL_MAX(4, PL_MIN((rlim_t)UINT32_MAX, rl.rlim_cur / 4));
}

void http_server_init(struct http_server *s, uv_loop_t *loop, http_handler_cb handler, void *data,
                      const struct http_limits *limits)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->handler = handler;
    s->data = data;
    if (limits != NULL)
        s->limits = *limits;
    else
        http_limits_default(&s->limits);
    s->limits.conns_max = PL_MAX(1, PL_MIN(s->limits.conns_max, fd_share()));
    http_parser_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_message_complete = on_message_complete;
}

int http_server_listen_tcp(struct http_server *s, const char *host, int port)
{
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc != 0 && uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0)
        return PL_EMALFORMED;
    rc = uv_tcp_init(s->loop, &s->tcp);
    if (rc != 0)
        return rc;
    s->tcp.data = s;
    s->tcp_open = 1;
    s->open_handles++;
    rc = uv_tcp_bind(&s->tcp, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->tcp, 128, tcp_connection_cb);
    if (rc == 0)
        rc = sweep_start(s);
    return rc;
}

int http_server_port(struct http_server *s)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);
    if (!s->tcp_open || uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    if (addr.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
}

int http_server_listen_unix(struct http_server *s, const char *path)
{
    int rc = uv_pipe_init(s->loop, &s->pipe, 0);
    if (rc != 0)
        return rc;
    s->pipe.data = s;
    s->pipe_open = 1;
    s->open_handles++;
    unlink(path);
    rc = uv_pipe_bind(&s->pipe, path);
    /* The owner only. (uv_pipe_chmod's READABLE | WRITABLE means everyone: 0777.) */
    if (rc == 0 && chmod(path, 0600) != 0)
        rc = -errno;
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->pipe, 128, pipe_connection_cb);
    if (rc == 0)
        rc = sweep_start(s);
    return rc;
}

static void listener_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;
    s->open_handles--;
    if (s->closing && s->open_handles == 0 && s->close_cb != NULL)
        s->close_cb(s);
}

void http_server_close(struct http_server *s, void (*close_cb)(struct http_server *s))
{
    s->closing = 1;
    s->close_cb = close_cb;
    int before = s->open_handles;
    if (s->tcp_open)
        uv_close((uv_handle_t *)&s->tcp, listener_closed);
    if (s->pipe_open)
        uv_close((uv_handle_t *)&s->pipe, listener_closed);
    if (s->sweep_open)
        uv_close((uv_handle_t *)&s->sweep, listener_closed);
    while (s->conns != NULL) {
        /* A connection whose handler still works stays until that handler answers
         * (http_respond then closes it); the close callback waits for it. */
        conn_close(s->conns);
    }
    if (before == 0 && close_cb != NULL)
        close_cb(s);
}

static int unhex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int http_query_get(const char *query, const char *key, char *out, size_t out_size)
{
    size_t klen = strlen(key);
    const char *p = query;
    while (p != NULL && *p != '\0') {
        const char *amp = strchr(p, '&');
        const char *end = amp != NULL ? amp : p + strlen(p);
        if ((size_t)(end - p) >= klen && strncmp(p, key, klen) == 0 &&
            (p[klen] == '=' || p + klen == end)) {
            const char *v = p[klen] == '=' ? p + klen + 1 : end;
            size_t o = 0;
            while (v < end) {
                char ch = *v++;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && end - v >= 2 && unhex(v[0]) >= 0 && unhex(v[1]) >= 0) {
                    ch = (char)(unhex(v[0]) << 4 | unhex(v[1]));
                    v += 2;
                }
                if (o + 1 >= out_size)
                    return PL_ETOOBIG;
                out[o++] = ch;
            }
            out[o] = '\0';
            return 0;
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    return PL_ENOTFOUND;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 421: return "Misdirected Request";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}
