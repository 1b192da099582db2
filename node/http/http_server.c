/*
 * The libuv + libhttp-parser server of http_server.h.
 *
 * Each connection owns a parser and bounded buffers for the URL and body. When a message
 * completes we pause the parser and stop reading; bytes that arrived after it (a
 * pipelined request) are kept and fed again once the response is written.
 */
#include "http_server.h"

#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "pl_log.h"

#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define URL_MAX 8192
#define HEADERS_MAX 16384

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
    int keep_alive;
    int closed;       /* uv_close was called */
    int writes;       /* writes in flight */
};

static http_parser_settings parser_settings;

static void conn_close(struct http_conn *c);
static void conn_feed(struct http_conn *c, const char *data, size_t len);

static void conn_reset_message(struct http_conn *c)
{
    pl_buf_reset(&c->url);
    pl_buf_reset(&c->body);
    c->header_bytes = 0;
    free(c->path);
    c->path = NULL;
    c->query = NULL;
    c->message_done = 0;
}

static int on_message_begin(http_parser *p)
{
    conn_reset_message(p->data);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    return pl_buf_append(&c->url, at, len) == 0 ? 0 : -1;
}

static int on_header_bytes(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    (void)at;
    c->header_bytes += len;
    return c->header_bytes > HEADERS_MAX ? -1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    return pl_buf_append(&c->body, at, len) == 0 ? 0 : -1;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    c->message_done = 1;
    c->keep_alive = http_should_keep_alive(p);
    snprintf(c->method, sizeof(c->method), "%s", http_method_str((enum http_method)p->method));
    http_parser_pause(p, 1);
    return 0;
}

static void dispatch(struct http_conn *c)
{
    /* NUL-terminate URL and body for the handler. */
    if (pl_buf_append(&c->url, "", 1) != 0 || pl_buf_append(&c->body, "", 1) != 0) {
        conn_close(c);
        return;
    }
    c->body.len--;
    c->path = strdup((const char *)c->url.data);
    if (c->path == NULL) {
        conn_close(c);
        return;
    }
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
        if (c->body.len >= c->body.max || c->url.len >= c->url.max)
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
    conn_feed(c, buf->base, (size_t)nread);
}

static void close_done(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    struct http_server *s = c->srv;
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
    PL_ASSERT(c->message_done);
    c->message_done = 0;
    if (c->closed) {
        /* The peer left while the handler worked; nothing to send. */
        if (c->writes == 0)
            uv_close(&c->h.handle, close_done);
        return;
    }
    char head[512];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: %s\r\n\r\n",
                      status, http_status_text(status), content_type, body_len,
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
    s->open_handles++;
    pl_buf_init(&c->url, URL_MAX);
    pl_buf_init(&c->body, s->body_max);
    pl_buf_init(&c->pending, s->body_max + HEADERS_MAX + URL_MAX);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    if (uv_accept(listener, &c->h.stream) != 0 || uv_read_start(&c->h.stream, alloc_cb, read_cb) != 0)
        conn_close(c);
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

void http_server_init(struct http_server *s, uv_loop_t *loop, http_handler_cb handler, void *data,
                      size_t body_max)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->handler = handler;
    s->data = data;
    s->body_max = body_max;
    http_parser_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_bytes;
    parser_settings.on_header_value = on_header_bytes;
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
