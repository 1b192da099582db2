/*
 * The TCP transport of raft_transport.h.
 */
#include "raft_transport.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_log.h"
#include "pl_text.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

struct frame {
    uv_write_t req;
    struct raft_transport_conn *conn;
    struct frame *next; /* queued before the connection is up */
    size_t len;
    uint8_t bytes[];
};

struct raft_transport_conn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    struct raft_transport *t;
    struct raft_transport_peer *peer; /* outgoing only; NULL once detached */
    uint64_t from_id;                 /* the sender its frames name (0: none yet) */
    struct raft_transport_conn *next; /* incoming list */
    uint8_t hdr[4];
    size_t hdr_got;
    uint32_t want;
    struct pl_buf in;
    int writes;
    int closing;
};

struct raft_transport_peer {
    uint64_t id;
    char addr[RAFT_TRANSPORT_ADDR_MAX];
    struct raft_transport_conn *conn; /* outgoing; NULL when none */
    int connected;
    struct frame *queue_head, *queue_tail; /* frames waiting for the connection */
    size_t queued_bytes;                   /* queued + being written */
    uint64_t retry_at_ms;
    uint32_t backoff_ms;
};

static void maybe_close_done(struct raft_transport *t)
{
    if (t->closing && t->open_handles == 0 && t->close_cb != NULL)
        t->close_cb(t);
}

static void conn_freed(uv_handle_t *h)
{
    struct raft_transport_conn *c = h->data;
    struct raft_transport *t = c->t;
    pl_buf_close(&c->in);
    free(c);
    t->open_handles--;
    maybe_close_done(t);
}

static void frames_free(struct frame *f)
{
    while (f != NULL) {
        struct frame *next = f->next;
        free(f);
        f = next;
    }
}

/* Closes a connection; an outgoing one detaches from its peer, whose queued frames are
 * dropped (Raft resends what matters) and whose next dial waits for the back-off. */
static void conn_close(struct raft_transport_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    struct raft_transport *t = c->t;
    if (c->peer != NULL) {
        struct raft_transport_peer *p = c->peer;
        p->conn = NULL;
        p->connected = 0;
        frames_free(p->queue_head);
        p->queue_head = p->queue_tail = NULL;
        p->queued_bytes = 0;
        p->retry_at_ms = uv_now(t->loop) + p->backoff_ms;
        p->backoff_ms = PL_MIN(p->backoff_ms * 2, BACKOFF_MAX_MS);
        c->peer = NULL;
    } else {
        struct raft_transport_conn **pp = &t->incoming;
        while (*pp != NULL && *pp != c)
            pp = &(*pp)->next;
        if (*pp == c)
            *pp = c->next;
    }
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, conn_freed);
}

static struct raft_transport_conn *conn_new(struct raft_transport *t)
{
    struct raft_transport_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->t = t;
    pl_buf_init(&c->in, RAFT_TRANSPORT_FRAME_MAX);
    uv_tcp_init(t->loop, &c->tcp);
    uv_tcp_nodelay(&c->tcp, 1);
    c->tcp.data = c->connect.data = c;
    t->open_handles++;
    return c;
}

static void write_cb(uv_write_t *req, int status)
{
    struct frame *f = req->data;
    struct raft_transport_conn *c = f->conn;
    c->writes--;
    if (c->peer != NULL)
        c->peer->queued_bytes -= f->len;
    free(f);
    if (status < 0 && !c->closing)
        conn_close(c);
}

static int frame_write(struct raft_transport_conn *c, struct frame *f)
{
    f->conn = c;
    f->req.data = f;
    uv_buf_t buf = uv_buf_init((char *)f->bytes, (unsigned)f->len);
    int rc = uv_write(&f->req, (uv_stream_t *)&c->tcp, &buf, 1, write_cb);
    if (rc == 0)
        c->writes++;
    return rc;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void connect_cb(uv_connect_t *req, int status)
{
    struct raft_transport_conn *c = req->data;
    struct raft_transport_peer *p = c->peer;
    if (c->closing || p == NULL)
        return;
    if (status < 0) {
        c->t->stats.connect_failures++;
        conn_close(c);
        return;
    }
    p->connected = 1;
    p->backoff_ms = BACKOFF_MIN_MS;
    c->t->stats.connects++;
    /* A server answers a client on the connection the client opened (see send). */
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    struct frame *f = p->queue_head;
    p->queue_head = p->queue_tail = NULL;
    while (f != NULL) {
        struct frame *next = f->next;
        if (c->closing || frame_write(c, f) != 0) {
            p->queued_bytes -= f->len;
            free(f);
        }
        f = next;
    }
}

static void dial(struct raft_transport *t, struct raft_transport_peer *p)
{
    struct sockaddr_storage sa;
    if (pl_addr_resolve(p->addr, &sa) != 0)
        return;
    struct raft_transport_conn *c = conn_new(t);
    if (c == NULL)
        return;
    c->peer = p;
    p->conn = c;
    if (uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&sa, connect_cb) != 0) {
        t->stats.connect_failures++;
        conn_close(c);
    }
}

static struct raft_transport_peer *peer_find(const struct raft_transport *t, uint64_t id)
{
    for (int i = 0; i < RAFT_TRANSPORT_PEERS_MAX; i++)
        if (t->peers[i] != NULL && t->peers[i]->id == id)
            return t->peers[i];
    return NULL;
}

/* The newest open incoming connection whose frames name `id`, or NULL. */
static struct raft_transport_conn *incoming_find(struct raft_transport *t, uint64_t id)
{
    for (struct raft_transport_conn *c = t->incoming; c != NULL; c = c->next)
        if (c->from_id == id && !c->closing)
            return c;
    return NULL;
}

int raft_transport_send(struct raft_transport *t, uint64_t id, const uint8_t *p, size_t n)
{
    struct raft_transport_peer *peer = peer_find(t, id);
    /* Not a peer we dial: a client (it has no address for us to dial); answer on the
     * connection it opened. */
    struct raft_transport_conn *back = peer == NULL ? incoming_find(t, id) : NULL;
    if ((peer == NULL && back == NULL) || t->closing) {
        t->stats.dropped_no_peer++;
        return PL_ENOTFOUND;
    }
    if (peer != NULL && peer->conn == NULL && uv_now(t->loop) < peer->retry_at_ms) {
        /* Still backing off after a failure: the peer is unreachable; drop before any work. */
        t->stats.dropped_queue_full++;
        return PL_EFULL;
    }
    /* The frame is built in one buffer: its bookkeeping, the 4-byte length, then the
     * payload, sealed in place when a seal hook is set (one allocation, no second copy). */
    const size_t head = offsetof(struct frame, bytes) + 4;
    struct pl_buf fb;
    pl_buf_init(&fb, head + RAFT_TRANSPORT_FRAME_MAX);
    int rc = pl_buf_reserve(&fb, head + n + 64);
    if (rc == 0) {
        fb.len = head;
        rc = t->hooks.seal_cb != NULL ? t->hooks.seal_cb(t->hooks.ctx, p, n, &fb)
                                      : pl_buf_append(&fb, p, n);
        if (rc != 0 && rc != PL_ETOOBIG)
            rc = PL_ECRYPTO;
    }
    size_t payload = fb.len > head ? fb.len - head : 0;
    size_t queued = peer != NULL ? peer->queued_bytes : back->tcp.write_queue_size;
    if (rc == PL_ETOOBIG || (rc == 0 && queued + payload + 4 > RAFT_TRANSPORT_QUEUE_BYTES_MAX)) {
        t->stats.dropped_queue_full++;
        rc = PL_EFULL;
    }
    if (rc != 0) {
        pl_buf_close(&fb);
        return rc;
    }
    size_t total;
    struct frame *f = (struct frame *)pl_buf_steal(&fb, &total);
    f->next = NULL;
    f->len = 4 + payload;
    pl_be32_put(f->bytes, (uint32_t)payload);
    t->stats.frames_sent++;
    if (back != NULL) {
        if (frame_write(back, f) != 0) {
            free(f);
            conn_close(back);
            return PL_EFULL;
        }
        return 0;
    }
    peer->queued_bytes += f->len;

    if (peer->conn == NULL) {
        dial(t, peer);
        if (peer->conn == NULL) {
            peer->queued_bytes -= f->len;
            free(f);
            return PL_EFULL;
        }
    }
    if (!peer->connected) {
        if (peer->queue_tail != NULL)
            peer->queue_tail->next = f;
        else
            peer->queue_head = f;
        peer->queue_tail = f;
        return 0;
    }
    if (frame_write(peer->conn, f) != 0) {
        peer->queued_bytes -= f->len;
        free(f);
        conn_close(peer->conn);
        return PL_EFULL;
    }
    return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[65536];
    buf->base = slab;
    buf->len = sizeof(slab);
}

static void frame_deliver(struct raft_transport_conn *c)
{
    struct raft_transport *t = c->t;
    t->stats.frames_received++;
    t->delivering = c;
    if (t->hooks.open_cb != NULL) {
        struct pl_buf plain;
        pl_buf_init(&plain, RAFT_TRANSPORT_FRAME_MAX);
        if (t->hooks.open_cb(t->hooks.ctx, c->in.data, c->in.len, &plain) != 0) {
            t->stats.dropped_unopened++;
            PL_LOG_RATELIMITED(PL_LOG_WARN, "raft", "frame dropped: it does not open with our keys");
        } else {
            t->hooks.recv_cb(t->hooks.ctx, plain.data, plain.len);
        }
        pl_buf_close(&plain);
    } else {
        t->hooks.recv_cb(t->hooks.ctx, c->in.data, c->in.len);
    }
    t->delivering = NULL;
}

void raft_transport_sender_is(struct raft_transport *t, uint64_t id)
{
    if (t->delivering != NULL && id != 0)
        t->delivering->from_id = id;
}

/* The other end closed a connection (EOF or reset): tell the caller who it was, unless
 * another incoming connection from the same sender is still open (it redialled). */
static void conn_ended(struct raft_transport_conn *c)
{
    struct raft_transport *t = c->t;
    uint64_t id = c->from_id;
    conn_close(c);
    if (id == 0 || t->hooks.lost_cb == NULL || t->closing)
        return;
    for (struct raft_transport_conn *o = t->incoming; o != NULL; o = o->next)
        if (o->from_id == id && !o->closing)
            return;
    t->hooks.lost_cb(t->hooks.ctx, id);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct raft_transport_conn *c = s->data;
    if (nread < 0) {
        conn_ended(c);
        return;
    }
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t n = (size_t)nread;
    while (n > 0 && !c->closing) {
        if (c->hdr_got < 4) {
            size_t take = PL_MIN(4 - c->hdr_got, n);
            memcpy(c->hdr + c->hdr_got, p, take);
            c->hdr_got += take;
            p += take;
            n -= take;
            if (c->hdr_got < 4)
                break;
            c->want = pl_be32_get(c->hdr);
            if (c->want > RAFT_TRANSPORT_FRAME_MAX) {
                c->t->stats.dropped_oversized++;
                PL_LOG_RATELIMITED(PL_LOG_WARN, "raft", "oversized frame (%u bytes); closing",
                                   c->want);
                conn_close(c);
                return;
            }
            pl_buf_reset(&c->in);
        }
        size_t take = PL_MIN((size_t)c->want - c->in.len, n);
        if (take > 0 && pl_buf_append(&c->in, p, take) != 0) {
            conn_close(c);
            return;
        }
        p += take;
        n -= take;
        if (c->in.len == c->want) {
            frame_deliver(c);
            c->hdr_got = 0;
            pl_buf_reset(&c->in);
        }
    }
}

static void connection_cb(uv_stream_t *listener, int status)
{
    struct raft_transport *t = listener->data;
    if (status < 0 || t->closing)
        return;
    struct raft_transport_conn *c = conn_new(t);
    if (c == NULL)
        return;
    c->next = t->incoming;
    t->incoming = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        conn_close(c);
}

int raft_transport_init(struct raft_transport *t, uv_loop_t *loop, const char *bind_addr,
                        const struct raft_transport_hooks *hooks)
{
    memset(t, 0, sizeof(*t));
    t->loop = loop;
    t->hooks = *hooks;
    uv_tcp_init(loop, &t->listener);
    t->listener.data = t;
    t->open_handles = 1;
    if (bind_addr == NULL)
        return 0; /* a client: it dials servers and is answered on those connections */
    struct sockaddr_storage sa;
    if (pl_addr_resolve(bind_addr, &sa) != 0)
        return PL_EMALFORMED;
    int rc = uv_tcp_bind(&t->listener, (const struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&t->listener, 64, connection_cb);
    return rc;
}

static void listener_closed(uv_handle_t *h)
{
    struct raft_transport *t = h->data;
    t->open_handles--;
    maybe_close_done(t);
}

static void peer_free(struct raft_transport_peer *p)
{
    if (p->conn != NULL)
        conn_close(p->conn);
    frames_free(p->queue_head);
    free(p);
}

void raft_transport_close(struct raft_transport *t, void (*close_cb)(struct raft_transport *t))
{
    if (t->closing)
        return;
    t->closing = 1;
    t->close_cb = close_cb;
    for (int i = 0; i < RAFT_TRANSPORT_PEERS_MAX; i++) {
        if (t->peers[i] != NULL) {
            peer_free(t->peers[i]);
            t->peers[i] = NULL;
        }
    }
    while (t->incoming != NULL)
        conn_close(t->incoming);
    if (!uv_is_closing((uv_handle_t *)&t->listener))
        uv_close((uv_handle_t *)&t->listener, listener_closed);
}

int raft_transport_peer_set(struct raft_transport *t, uint64_t id, const char *addr)
{
    if (strlen(addr) >= RAFT_TRANSPORT_ADDR_MAX)
        return PL_ETOOBIG;
    struct raft_transport_peer *p = peer_find(t, id);
    if (p != NULL) {
        if (strcmp(p->addr, addr) != 0) {
            snprintf(p->addr, sizeof(p->addr), "%s", addr);
            if (p->conn != NULL)
                conn_close(p->conn);
            p->retry_at_ms = 0;
            p->backoff_ms = BACKOFF_MIN_MS;
        }
        return 0;
    }
    for (int i = 0; i < RAFT_TRANSPORT_PEERS_MAX; i++) {
        if (t->peers[i] == NULL) {
            p = calloc(1, sizeof(*p));
            if (p == NULL)
                return -ENOMEM;
            p->id = id;
            p->backoff_ms = BACKOFF_MIN_MS;
            snprintf(p->addr, sizeof(p->addr), "%s", addr);
            t->peers[i] = p;
            return 0;
        }
    }
    return PL_EFULL;
}

void raft_transport_peer_remove(struct raft_transport *t, uint64_t id)
{
    for (int i = 0; i < RAFT_TRANSPORT_PEERS_MAX; i++) {
        if (t->peers[i] != NULL && t->peers[i]->id == id) {
            peer_free(t->peers[i]);
            t->peers[i] = NULL;
        }
    }
}

const char *raft_transport_peer_addr(const struct raft_transport *t, uint64_t id)
{
    const struct raft_transport_peer *p = peer_find(t, id);
    return p != NULL ? p->addr : NULL;
}
