/*
 * The gossip shell of agent_gossip.h.
 *
 * Everything protocol-shaped happens in the core; this file only moves bytes and time:
 * UDP datagrams in and out, one TCP exchange per GOSSIP_OUT_STREAM (4-byte big-endian
 * length, payload, optional one reply), a timer armed at gossip_deadline(), and the
 * outputs drained in the order the core produced them.
 */
#include "agent_gossip.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_file.h"
#include "pl_log.h"
#include "pl_mp.h"
#include "pl_text.h"
#include "prom_write.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBSCRIBERS_MAX 8
#define EVENTS_KEPT 256
#define LEAVE_TIMEOUT_MS 3000
#define KEYS_EVENT "_platelet.keys"
#define PEERS_REJOIN_MAX 8         /* addresses from the peers file tried at a restart */
#define PEERS_WRITE_DELAY_MS 1000  /* member changes coalesce into one write */
#define RTT_KEPT 1024              /* probe round trips kept for /v1/gossip/rtt */

struct kept_event {
    char name[GOSSIP_EVENT_NAME_MAX];
    char origin[GOSSIP_NAME_MAX];
    uint64_t ltime;
    char *payload; /* NUL-terminated copy */
    size_t len;
};

/* Work that must call back into the core, queued while its outputs are being walked and
 * done right after (a call into the core then would clear the list under the walk). */
struct after_op {
    int is_keys;        /* 1: a keyring event payload; 0: a failed stream */
    uint64_t stream_id;
    int status;
    uint8_t *payload;
    size_t len;
};
#define AFTER_OPS_MAX 256
#define UNREACH_MAX 16
#define JOIN_WAITS_MAX 8
#define JOIN_ADDRS_MAX (AGENT_JOIN_MAX + PEERS_REJOIN_MAX)

/* Join exchanges followed to their end: a `join` API call is answered once each of its
 * push-pulls has ended (the shell reports every stream it starts), so the caller learns
 * whether any address answered; the retried --join list is followed to log failures. */
struct join_wait {
    bool used;
    struct api_call *api; /* kept; NULL for the retried --join list (log only) */
    int n, pending, joined;
    uint64_t stream_id[JOIN_ADDRS_MAX];
    char addr[JOIN_ADDRS_MAX][AGENT_ADDR_MAX];
    int status[JOIN_ADDRS_MAX];
};

#define DNS_ADDRS_MAX 16 /* addresses of one dns: name joined per attempt */

/* One "dns:NAME[:PORT]" join entry: looked up (uv_getaddrinfo, on libuv's threads) at
 * every join attempt, so members that appear in DNS later are found by the next retry. */
struct dns_join {
    struct agent_gossip *ag;
    uv_getaddrinfo_t req;
    int pending;
    char name[AGENT_ADDR_MAX];
    char port[8];
};

struct agent_gossip {
    struct agent *agent;
    struct after_op after[AFTER_OPS_MAX];
    int nafter;
    struct gossip *core;
    struct gossip_config cfg;
    struct gossip_keyring keyring;
    cJSON *tags; /* our tags, an object of strings */
    char keyring_path[PATH_MAX + 16];
    uv_udp_t udp;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_timer_t leave_timer;
    uv_timer_t rejoin_timer; /* retries the join list until we know another member */
    uint64_t rejoin_ms;
    /* --join, then members known before a crash (the peers file) */
    char join[AGENT_JOIN_MAX + PEERS_REJOIN_MAX][AGENT_ADDR_MAX];
    int njoin;
    struct dns_join dns[AGENT_JOIN_MAX]; /* the dns: entries of --join and retry_join */
    int ndns;
    int family; /* of the bind address: joins go to addresses of this family only */
    char peers_path[PATH_MAX + 16];
    uv_timer_t peers_timer; /* a pending write of the peers file */
    uint64_t leave_started;
    void (*stop_done)(struct agent *a);
    struct {
        agent_gossip_member_cb cb;
        void *data;
    } subs[SUBSCRIBERS_MAX];
    int nsubs;
    struct kept_event events[EVENTS_KEPT];
    uint32_t events_next;
    uint64_t udp_send_failures;
    uint64_t stream_failures;
    int conns; /* TCP exchanges in flight */
    /* addresses an ICMP port unreachable named, told to the core after the output walk */
    char unreach[UNREACH_MAX][GOSSIP_ADDR_MAX];
    int nunreach;
    struct join_wait joins[JOIN_WAITS_MAX];
    /* Round trips of our probes, from the output walk that sent the ping to the one after
     * its ack, on the loop's high-resolution clock: the core counts in ms, and the time an
     * ack waits for a busy loop thread is what this is for. The last RTT_KEPT are kept. */
    struct {
        uint64_t probes_seen, acked_seen;
        uint64_t sent_ns;
        bool pending;
        uint32_t us[RTT_KEPT];
        uint64_t n; /* samples ever taken */
        struct prom_hist hist; /* every sample, for /v1/metrics */
    } rtt;
    uint64_t rx_bytes; /* UDP bytes received, before the fault table */
};

static void process(struct agent_gossip *ag);
static void join_ended(struct agent_gossip *ag, uint64_t id, int status);
static void udp_errors_drain(struct agent_gossip *ag);
static void rejoin_cb(uv_timer_t *t);
static void peers_changed(struct agent_gossip *ag);

static uint64_t now_ms(struct agent_gossip *ag)
{
    PL_UNUSED(ag);
    return pl_clock_mono_ms();
}

const struct gossip *agent_gossip_core(const struct agent_gossip *ag) { return ag->core; }
const struct gossip_keyring *agent_gossip_keyring(const struct agent_gossip *ag)
{
    return gossip_keyring_enabled(&ag->keyring) ? &ag->keyring : NULL;
}

bool agent_gossip_records_changed(struct agent_gossip_seen *seen, const struct gossip *g,
                                  const char *key)
{
    uint32_t slots = gossip_member_slots(g);
    bool changed = !seen->valid || slots != seen->n;
    if (slots != seen->n) {
        struct agent_gossip_seen_slot *v = realloc(seen->v, (slots ? slots : 1) * sizeof(*v));
        if (v == NULL) {
            seen->valid = false;
            return true;
        }
        memset(v, 0, slots * sizeof(*v));
        seen->v = v;
        seen->n = slots;
    }
    for (uint32_t slot = 0; slot < slots; slot++) {
        const struct gossip_member *m = gossip_member_at(g, slot);
        const uint8_t *val;
        size_t len;
        uint64_t version = 0;
        bool has = m != NULL && m->used &&
                   gossip_state_get(g, m->name, key, &val, &len, &version) == 0;
        struct agent_gossip_seen_slot *r = &seen->v[slot];
        if (r->has == has && (!has || (r->version == version && strcmp(r->name, m->name) == 0)))
            continue;
        changed = true;
        r->has = has;
        r->version = has ? version : 0;
        snprintf(r->name, sizeof(r->name), "%s", has ? m->name : "");
    }
    seen->valid = true;
    return changed;
}

void agent_gossip_seen_free(struct agent_gossip_seen *seen)
{
    free(seen->v);
    memset(seen, 0, sizeof(*seen));
}

int agent_gossip_subscribe(struct agent_gossip *ag, agent_gossip_member_cb cb, void *data)
{
    if (ag->nsubs >= SUBSCRIBERS_MAX)
        return PL_EFULL;
    ag->subs[ag->nsubs].cb = cb;
    ag->subs[ag->nsubs].data = data;
    ag->nsubs++;
    return 0;
}

/* --- addresses --------------------------------------------------------------------- */

static void addr_format(const struct sockaddr *sa, char *out, size_t size)
{
    char ip[64] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof(ip));
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
        snprintf(out, size, "%s:%d", ip, port);
    } else {
        uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof(ip));
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
        snprintf(out, size, "[%s]:%d", ip, port);
    }
}

/* The member name behind an address, for per-peer fault rules; NULL when unknown. Only
 * called while fault rules exist, so its linear scan costs nothing in normal running. */
static const char *peer_name(struct agent_gossip *ag, const char *addr)
{
    uint32_t slots = gossip_member_slots(ag->core);
    for (uint32_t i = 0; i < slots; i++) {
        const struct gossip_member *m = gossip_member_at(ag->core, i);
        if (m != NULL && m->used && strcmp(m->addr, addr) == 0)
            return m->name;
    }
    return NULL;
}

static bool fault_drop(struct agent_gossip *ag, const char *addr, enum fault_dir dir,
                       uint32_t *delay_ms)
{
    *delay_ms = 0;
    if (ag->agent->faults.n == 0)
        return false;
    return fault_decide(&ag->agent->faults, peer_name(ag, addr), dir, delay_ms);
}

/* --- UDP --------------------------------------------------------------------------- */

static void udp_send_now(struct agent_gossip *ag, const char *addr, const uint8_t *p, size_t len)
{
    struct sockaddr_storage sa;
    if (pl_addr_resolve(addr, &sa) != 0) {
        ag->udp_send_failures++;
        return;
    }
    uv_buf_t buf = uv_buf_init((char *)p, (unsigned)len);
    int rc = uv_udp_try_send(&ag->udp, &buf, 1, (const struct sockaddr *)&sa);
    if (rc == UV_ECONNREFUSED || rc == UV_EHOSTUNREACH || rc == UV_ENETUNREACH) {
        /* The socket's pending error belongs to an earlier datagram (IP_RECVERR); it is
         * cleared now, so this one can go. */
        udp_errors_drain(ag);
        rc = uv_udp_try_send(&ag->udp, &buf, 1, (const struct sockaddr *)&sa);
    }
    if (rc < 0) {
        ag->udp_send_failures++;
        PL_LOG_RATELIMITED(PL_LOG_WARN, "gossip", "udp send failed to=%s error=%s", addr,
                           uv_strerror(rc));
    }
}

static void held_send(const struct fault_held *h)
{
    udp_send_now(h->ctx, h->addr, h->bytes, h->len);
}

static void udp_send(struct agent_gossip *ag, const char *addr, const uint8_t *p, size_t len)
{
    if (ag->agent->faults.n == 0 || fault_pass(&ag->agent->faults, peer_name(ag, addr), FAULT_OUT,
                                               held_send, ag, 0, addr, p, len))
        udp_send_now(ag, addr, p, len);
}

static void held_recv(const struct fault_held *h)
{
    struct agent_gossip *ag = h->ctx;
    if (ag->core != NULL) {
        gossip_step(ag->core, now_ms(ag), h->addr, h->bytes, h->len);
        process(ag);
    }
}

/* One receive buffer for every socket of the shell: the loop is single-threaded and each
 * read is consumed before the next allocation. */
static void slab_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[65536];
    buf->base = slab;
    buf->len = sizeof(slab);
}

/* The socket has IP_RECVERR (UV_UDP_LINUX_RECVERR), so the ICMP errors our datagrams
 * provoke are queued on it, and the socket's pending error fails the next read (libuv
 * reports it) or the next send. Either way the queue must be drained here: left full it
 * keeps the socket polling as readable. Each port unreachable (the host of that address
 * has nothing listening: the member's process is gone) is kept for the core, told after
 * the output walk (process()). */
static void udp_errors_drain(struct agent_gossip *ag)
{
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *)&ag->udp, &fd) != 0)
        return;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage dst;
        char control[512];
        struct msghdr mh = {.msg_name = &dst, .msg_namelen = sizeof(dst),
                            .msg_control = control, .msg_controllen = sizeof(control)};
        if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
            return;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
            bool v4 = cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR;
            bool v6 = cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR;
            if (!v4 && !v6)
                continue;
            const struct sock_extended_err *ee = (const void *)CMSG_DATA(cm);
            bool unreachable = v4 ? ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == 3 &&
                                        ee->ee_code == 3
                                  : ee->ee_origin == SO_EE_ORIGIN_ICMP6 && ee->ee_type == 1 &&
                                        ee->ee_code == 4;
            if (!unreachable || mh.msg_namelen == 0)
                continue;
            char addr[GOSSIP_ADDR_MAX];
            addr_format((const struct sockaddr *)&dst, addr, sizeof(addr));
            bool known = false;
            for (int k = 0; k < ag->nunreach; k++)
                known |= strcmp(ag->unreach[k], addr) == 0;
            if (!known && ag->nunreach < UNREACH_MAX)
                memcpy(ag->unreach[ag->nunreach++], addr, sizeof(addr));
        }
    }
}

static void udp_recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *from, unsigned flags)
{
    struct agent_gossip *ag = h->data;
    (void)flags;
    if (nread < 0) {
        udp_errors_drain(ag);
        process(ag); /* tells the core */
        return;
    }
    if (nread == 0 || from == NULL)
        return;
    ag->rx_bytes += (uint64_t)nread;
    char addr[GOSSIP_ADDR_MAX];
    addr_format(from, addr, sizeof(addr));
    if (ag->agent->faults.n > 0 &&
        !fault_pass(&ag->agent->faults, peer_name(ag, addr), FAULT_IN, held_recv, ag, 0, addr,
                    (const uint8_t *)buf->base, (size_t)nread))
        return;
    int rc = gossip_step(ag->core, now_ms(ag), addr, (const uint8_t *)buf->base, (size_t)nread);
    if (rc != 0)
        PL_LOG_RATELIMITED(PL_LOG_WARN, "gossip", "packet dropped from=%s reason=%s", addr,
                           pl_err_name(rc));
    process(ag);
}

/* --- joins followed to their end ---------------------------------------------------- */

/* Starts a join through each address, followed in a join_wait. With no slot free a join
 * call gets NULL and nothing starts; the retried --join list starts unfollowed. Call
 * process() afterwards. */
static struct join_wait *join_begin(struct agent_gossip *ag, const char *const *addrs, int n,
                                    struct api_call *api)
{
    struct join_wait *w = NULL;
    int free_slots = 0;
    for (int i = 0; i < JOIN_WAITS_MAX; i++)
        if (!ag->joins[i].used) {
            free_slots++;
            w = &ag->joins[i];
        }
    if (api == NULL && free_slots <= 2)
        w = NULL; /* the log-only kind leaves room for join calls */
    if (w == NULL && api != NULL)
        return NULL; /* a call that cannot be followed is refused, nothing started */
    if (w != NULL) {
        memset(w, 0, sizeof(*w));
        w->used = true;
        w->api = api;
    }
    for (int i = 0; i < n && i < JOIN_ADDRS_MAX; i++) {
        uint64_t id = gossip_join_start(ag->core, now_ms(ag), addrs[i]);
        if (w == NULL)
            continue;
        snprintf(w->addr[w->n], AGENT_ADDR_MAX, "%s", addrs[i]);
        w->stream_id[w->n] = id;
        w->status[w->n] = id != 0 ? 0 : PL_EFULL;
        w->pending += id != 0;
        w->n++;
    }
    return w;
}

static void join_reply(struct join_wait *w)
{
    if (w->joined > 0) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddNumberToObject(doc, "joined", w->joined);
        cJSON_AddNumberToObject(doc, "tried", w->n);
        cJSON *failed = cJSON_AddArrayToObject(doc, "failed");
        for (int i = 0; i < w->n; i++) {
            if (w->status[i] == 0)
                continue;
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "addr", w->addr[i]);
            cJSON_AddStringToObject(f, "error", pl_strerror(w->status[i]));
            cJSON_AddItemToArray(failed, f);
        }
        api_kept_reply_json(w->api, 200, doc);
    } else {
        char msg[512];
        int len = snprintf(msg, sizeof(msg), "could not join through any address:");
        for (int i = 0; i < w->n && len > 0 && (size_t)len < sizeof(msg); i++)
            len += snprintf(msg + len, sizeof(msg) - (size_t)len, "%s %s (%s)", i ? ";" : "",
                            w->addr[i], pl_strerror(w->status[i]));
        api_kept_reply_error(w->api, 502, msg);
    }
    w->api = NULL;
}

/* Stream `id` ended with `status` (0: the reply was taken in); answers its join call once
 * the last of its exchanges has ended. */
static void join_ended(struct agent_gossip *ag, uint64_t id, int status)
{
    for (int i = 0; i < JOIN_WAITS_MAX; i++) {
        struct join_wait *w = &ag->joins[i];
        for (int k = 0; w->used && k < w->n; k++) {
            if (w->stream_id[k] != id || id == 0)
                continue;
            w->stream_id[k] = 0;
            w->status[k] = status;
            w->pending--;
            if (status == 0)
                w->joined++;
            else
                PL_LOG_RATELIMITED(PL_LOG_WARN, "gossip", "join through %s failed: %s",
                                   w->addr[k], pl_strerror(status));
            if (w->pending == 0) {
                if (w->api != NULL)
                    join_reply(w);
                w->used = false;
            }
            return;
        }
    }
}

/* The agent stops: join calls still waiting are answered. */
static void joins_abandon(struct agent_gossip *ag)
{
    for (int i = 0; i < JOIN_WAITS_MAX; i++) {
        struct join_wait *w = &ag->joins[i];
        if (w->used && w->api != NULL)
            api_kept_reply_error(w->api, 503, "the agent is stopping");
        w->used = false;
        w->api = NULL;
    }
}

/* --- TCP exchanges ----------------------------------------------------------------- */

struct gconn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t timer;
    uv_write_t write;
    struct agent_gossip *ag;
    int outgoing;
    int expects_response;
    uint64_t stream_id;
    int reported;   /* outgoing: gossip_stream_done was called */
    int handles;    /* open libuv handles of this exchange */
    int closing;
    char addr[GOSSIP_ADDR_MAX];
    uint8_t hdr[4];
    size_t hdr_got;
    uint32_t want;
    struct pl_buf in;
    uint8_t *out;   /* frame being written */
};

static void gconn_handle_closed(uv_handle_t *h)
{
    struct gconn *c = h->data;
    if (--c->handles > 0)
        return;
    c->ag->conns--;
    pl_buf_close(&c->in);
    free(c->out);
    free(c);
}

static void gconn_report(struct gconn *c, int status)
{
    if (!c->outgoing || !c->expects_response || c->reported || c->ag->core == NULL)
        return;
    c->reported = 1;
    if (status < 0)
        c->ag->stream_failures++;
    int rc = gossip_stream_done(c->ag->core, now_ms(c->ag), c->stream_id, status,
                                status == 0 ? c->in.data : NULL, status == 0 ? c->in.len : 0);
    join_ended(c->ag, c->stream_id, status < 0 ? status : rc);
    process(c->ag);
}

static void gconn_close(struct gconn *c, int status)
{
    if (c->closing)
        return;
    c->closing = 1;
    gconn_report(c, status);
    /* After a failed start the agent closes every handle itself (uv_walk); then ours are
     * closing already and their memory goes with the process. */
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, gconn_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, gconn_handle_closed);
}

static void gconn_timeout(uv_timer_t *t)
{
    struct gconn *c = t->data;
    gconn_close(c, PL_ETIMEOUT);
}

static struct gconn *gconn_new(struct agent_gossip *ag, int outgoing, uint32_t timeout_ms)
{
    struct gconn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->ag = ag;
    c->outgoing = outgoing;
    pl_buf_init(&c->in, ag->cfg.stream_bytes_max);
    uv_tcp_init(&ag->agent->loop, &c->tcp);
    uv_timer_init(&ag->agent->loop, &c->timer);
    c->tcp.data = c->timer.data = c->connect.data = c->write.data = c;
    c->handles = 2;
    ag->conns++;
    uv_timer_start(&c->timer, gconn_timeout, timeout_ms, 0);
    return c;
}

static void gconn_frame_done(struct gconn *c);

static void gconn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct gconn *c = s->data;
    if (nread < 0) {
        gconn_close(c, nread == UV_EOF ? PL_EPROTO : (int)nread);
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
            if (c->hdr_got == 4) {
                c->want = pl_be32_get(c->hdr);
                if (c->want > c->ag->cfg.stream_bytes_max) {
                    PL_LOG_RATELIMITED(PL_LOG_WARN, "gossip", "stream too large from=%s bytes=%u",
                                       c->addr, c->want);
                    gconn_close(c, PL_ETOOBIG);
                    return;
                }
            }
            if (c->hdr_got < 4 || c->want > 0)
                continue;
        } else {
            size_t take = PL_MIN((size_t)c->want - c->in.len, n);
            if (pl_buf_append(&c->in, p, take) != 0) {
                gconn_close(c, PL_ETOOBIG);
                return;
            }
            p += take;
            n -= take;
        }
        if (c->hdr_got == 4 && c->in.len == c->want) {
            uv_read_stop(s);
            gconn_frame_done(c);
            return;
        }
    }
}

static void gconn_write_cb(uv_write_t *w, int status)
{
    struct gconn *c = w->data;
    free(c->out);
    c->out = NULL;
    if (c->closing)
        return;
    if (status < 0) {
        gconn_close(c, status);
        return;
    }
    if (c->outgoing && c->expects_response)
        uv_read_start((uv_stream_t *)&c->tcp, slab_alloc_cb, gconn_read_cb);
    else
        gconn_close(c, 0);
}

static int gconn_write_frame(struct gconn *c, const uint8_t *p, size_t len)
{
    c->out = malloc(4 + len);
    if (c->out == NULL)
        return -ENOMEM;
    pl_be32_put(c->out, (uint32_t)len);
    memcpy(c->out + 4, p, len);
    uv_buf_t buf = uv_buf_init((char *)c->out, (unsigned)(4 + len));
    return uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, gconn_write_cb);
}

static void gconn_frame_done(struct gconn *c)
{
    struct agent_gossip *ag = c->ag;
    if (c->outgoing) {
        gconn_close(c, 0); /* reports the reply in c->in */
        return;
    }
    /* An incoming request. The fault rules know peers by name, and the dialer's address
     * (an ephemeral port) names no one, so the request's own ping or push-pull says who
     * sent it: a rule on its way in drops the request, one on its way out the answer. */
    bool answer = true;
    if (ag->agent->faults.n > 0 && ag->core != NULL) {
        char from[GOSSIP_NAME_MAX];
        uint32_t delay;
        bool named = gossip_stream_sender(ag->core, c->in.data, c->in.len, from) == 0;
        if (fault_decide(&ag->agent->faults, named ? from : NULL, FAULT_IN, &delay)) {
            gconn_close(c, 0);
            return;
        }
        answer = !fault_decide(&ag->agent->faults, named ? from : NULL, FAULT_OUT, &delay);
    }
    /* Serve it and answer with one frame, or none. */
    struct pl_buf reply;
    pl_buf_init(&reply, ag->cfg.stream_bytes_max);
    int rc = ag->core != NULL ? gossip_stream_serve(ag->core, now_ms(ag), c->addr, c->in.data,
                                                    c->in.len, &reply)
                              : PL_ESTATE;
    if (rc != 0)
        PL_LOG_RATELIMITED(PL_LOG_WARN, "gossip", "stream dropped from=%s reason=%s", c->addr,
                           pl_err_name(rc));
    if (rc == 0 && answer && reply.len > 0 &&
        gconn_write_frame(c, reply.data, reply.len) == 0) {
        pl_buf_close(&reply);
        process(ag);
        return;
    }
    pl_buf_close(&reply);
    gconn_close(c, rc);
    process(ag);
}

static void gconn_connect_cb(uv_connect_t *req, int status)
{
    struct gconn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        gconn_close(c, status);
        return;
    }
    /* The payload waits in c->in until the connection is up. */
    int rc = gconn_write_frame(c, c->in.data, c->in.len);
    pl_buf_reset(&c->in);
    if (rc != 0)
        gconn_close(c, rc);
}

static void stream_start(struct agent_gossip *ag, const struct gossip_out *o)
{
    uint32_t delay;
    struct sockaddr_storage sa;
    int fail_status = 0;
    if (fault_drop(ag, o->addr, FAULT_OUT, &delay))
        fail_status = PL_ETIMEOUT;
    else if (pl_addr_resolve(o->addr, &sa) != 0)
        fail_status = PL_EMALFORMED;
    if (fail_status != 0) {
        if (o->expects_response && ag->nafter < AFTER_OPS_MAX) {
            ag->stream_failures++;
            ag->after[ag->nafter++] = (struct after_op){0, o->stream_id, fail_status, NULL, 0};
        }
        return;
    }
    struct gconn *c = gconn_new(ag, 1, o->timeout_ms > 0 ? o->timeout_ms : ag->cfg.tcp_timeout_ms);
    if (c == NULL) {
        if (o->expects_response && ag->nafter < AFTER_OPS_MAX)
            ag->after[ag->nafter++] = (struct after_op){0, o->stream_id, -ENOMEM, NULL, 0};
        return;
    }
    c->expects_response = o->expects_response;
    c->stream_id = o->stream_id;
    snprintf(c->addr, sizeof(c->addr), "%s", o->addr);
    int rc = pl_buf_append(&c->in, o->bytes, o->len);
    if (rc == 0)
        rc = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&sa, gconn_connect_cb);
    if (rc != 0)
        gconn_close(c, rc);
}

static void tcp_connection_cb(uv_stream_t *listener, int status)
{
    struct agent_gossip *ag = listener->data;
    if (status < 0 || ag->core == NULL)
        return;
    struct gconn *c = gconn_new(ag, 0, ag->cfg.tcp_timeout_ms);
    if (c == NULL)
        return;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        gconn_close(c, PL_EPROTO);
        return;
    }
    struct sockaddr_storage sa;
    int len = sizeof(sa);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0)
        addr_format((struct sockaddr *)&sa, c->addr, sizeof(c->addr));
    uv_read_start((uv_stream_t *)&c->tcp, slab_alloc_cb, gconn_read_cb);
}

/* --- outputs ----------------------------------------------------------------------- */

static void keys_event_apply(struct agent_gossip *ag, const uint8_t *payload, size_t len);

static void keep_event(struct agent_gossip *ag, const struct gossip_out *o)
{
    struct kept_event *e = &ag->events[ag->events_next++ % EVENTS_KEPT];
    free(e->payload);
    e->payload = malloc(o->len + 1);
    if (e->payload == NULL) {
        e->len = 0;
        return;
    }
    memcpy(e->payload, o->bytes, o->len);
    e->payload[o->len] = '\0';
    e->len = o->len;
    snprintf(e->name, sizeof(e->name), "%s", o->name);
    snprintf(e->origin, sizeof(e->origin), "%s", o->origin);
    e->ltime = o->version;
}

static void timer_cb(uv_timer_t *t);

static void arm_timer(struct agent_gossip *ag)
{
    uint64_t deadline = gossip_deadline(ag->core), now = now_ms(ag);
    uint64_t wait = deadline > now ? deadline - now : 0;
    uv_timer_start(&ag->timer, timer_cb, wait, 0);
}

/* Called at each output walk: a probe acked since the last walk ends its round trip, a
 * probe started since then (its ping is in this walk) begins one. */
static void rtt_note(struct agent_gossip *ag)
{
    const struct gossip_counters *c = gossip_counters_get(ag->core);
    uint64_t now = uv_hrtime();
    if (c->probes_acked != ag->rtt.acked_seen) {
        ag->rtt.acked_seen = c->probes_acked;
        if (ag->rtt.pending) {
            uint64_t us = (now - ag->rtt.sent_ns) / 1000;
            ag->rtt.us[ag->rtt.n % RTT_KEPT] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
            ag->rtt.n++;
            prom_hist_observe(&ag->rtt.hist, (double)us / 1e6);
        }
        ag->rtt.pending = false;
    }
    if (c->probes != ag->rtt.probes_seen) {
        ag->rtt.probes_seen = c->probes;
        ag->rtt.sent_ns = now;
        ag->rtt.pending = true;
    }
}

static void process(struct agent_gossip *ag)
{
    if (ag->core == NULL)
        return;
    rtt_note(ag);
    const struct gossip_out *outs;
    size_t n;
    gossip_outputs(ag->core, &outs, &n);
    /* Nothing in this walk may call into the core (that would clear the list under it);
     * what must is queued in ag->after and done below. Subscribers obey the same rule. */
    for (size_t i = 0; i < n; i++) {
        const struct gossip_out *o = &outs[i];
        switch (o->kind) {
        case GOSSIP_OUT_UDP:
            udp_send(ag, o->addr, o->bytes, o->len);
            break;
        case GOSSIP_OUT_STREAM:
            stream_start(ag, o);
            break;
        case GOSSIP_OUT_MEMBER:
            if (o->member_event == GOSSIP_MEMBER_SUSPECT || o->member_event == GOSSIP_MEMBER_DEAD)
                PL_WARN("gossip", "member %s name=%s addr=%s incarnation=%llu",
                        gossip_member_event_name(o->member_event), o->name, o->addr,
                        (unsigned long long)o->incarnation);
            else
                PL_INFO("gossip", "member %s name=%s addr=%s incarnation=%llu",
                        gossip_member_event_name(o->member_event), o->name, o->addr,
                        (unsigned long long)o->incarnation);
            for (int s = 0; s < ag->nsubs; s++)
                ag->subs[s].cb(ag->subs[s].data, o);
            peers_changed(ag);
            break;
        case GOSSIP_OUT_EVENT:
            PL_INFO("gossip", "event name=%s origin=%s ltime=%llu bytes=%zu", o->name, o->origin,
                    (unsigned long long)o->version, o->len);
            if (strcmp(o->name, KEYS_EVENT) == 0) {
                uint8_t *copy = malloc(o->len);
                if (copy != NULL && ag->nafter < AFTER_OPS_MAX) {
                    memcpy(copy, o->bytes, o->len);
                    ag->after[ag->nafter++] = (struct after_op){1, 0, 0, copy, o->len};
                } else {
                    free(copy);
                }
            } else
                keep_event(ag, o);
            break;
        case GOSSIP_OUT_STATE:
            PL_DEBUGF("gossip", "state node=%s key=%s version=%llu", o->name, o->key,
                      (unsigned long long)o->version);
            break;
        }
    }
    gossip_outputs_clear(ag->core);
    while (ag->nafter > 0) {
        struct after_op op = ag->after[--ag->nafter];
        if (op.is_keys) {
            keys_event_apply(ag, op.payload, op.len);
            free(op.payload);
        } else {
            gossip_stream_done(ag->core, now_ms(ag), op.stream_id, op.status, NULL, 0);
            join_ended(ag, op.stream_id, op.status);
            process(ag);
        }
    }
    if (ag->nunreach > 0) {
        int count = ag->nunreach;
        ag->nunreach = 0;
        for (int i = 0; i < count; i++)
            gossip_udp_unreachable(ag->core, now_ms(ag), ag->unreach[i]);
        process(ag);
    }
    if (!uv_is_closing((uv_handle_t *)&ag->timer))
        arm_timer(ag);
}

static void timer_cb(uv_timer_t *t)
{
    struct agent_gossip *ag = t->data;
    gossip_tick(ag->core, now_ms(ag));
    process(ag);
}

/* --- keyring ----------------------------------------------------------------------- */

static void key_fingerprint(const uint8_t key[GOSSIP_KEY_BYTES], char out[17])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, key, GOSSIP_KEY_BYTES);
    pl_hex_encode(h, 8, out);
}

static int key_decode(const char *b64, uint8_t key[GOSSIP_KEY_BYTES])
{
    size_t n = 0;
    uint8_t tmp[64];
    if (pl_base64_decode(b64, strlen(b64), tmp, sizeof(tmp), &n) != 0 || n != GOSSIP_KEY_BYTES)
        return PL_EMALFORMED;
    memcpy(key, tmp, GOSSIP_KEY_BYTES);
    sodium_memzero(tmp, sizeof(tmp));
    return 0;
}

/* Writes the keyring file (primary first), replacing it whole (pl_file.h); mode 0600. */
static int keyring_save(struct agent_gossip *ag)
{
    struct pl_buf text;
    pl_buf_init(&text, (size_t)GOSSIP_KEYRING_KEYS_MAX * 64);
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (uint32_t i = 0; i < ag->keyring.count && rc == 0; i++) {
            uint8_t key[GOSSIP_KEY_BYTES];
            bool primary;
            gossip_keyring_get(&ag->keyring, i, key, &primary);
            if ((pass == 0) != primary)
                continue;
            char line[64];
            pl_base64_encode(key, GOSSIP_KEY_BYTES, line);
            size_t n = strlen(line);
            line[n++] = '\n';
            rc = pl_buf_append(&text, line, n);
            sodium_memzero(key, sizeof(key));
            sodium_memzero(line, sizeof(line));
        }
    }
    if (rc == 0)
        rc = pl_file_write_atomic(ag->keyring_path, text.data, text.len, 0600);
    if (text.data != NULL)
        sodium_memzero(text.data, text.len);
    pl_buf_close(&text);
    return rc;
}

static int keyring_load(struct agent_gossip *ag, const char *encrypt, char *err, size_t err_size)
{
    snprintf(ag->keyring_path, sizeof(ag->keyring_path), "%s/keyring", ag->agent->cfg.data_dir);
    int rc = gossip_keyring_init(&ag->keyring);
    if (rc != 0) {
        snprintf(err, err_size, "cannot set up the keyring: %s", pl_strerror(rc));
        return rc;
    }
    FILE *f = fopen(ag->keyring_path, "r");
    if (f != NULL) {
        char line[128];
        int lineno = 0;
        while (fgets(line, sizeof(line), f) != NULL) {
            lineno++;
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] == '\0')
                continue;
            uint8_t key[GOSSIP_KEY_BYTES];
            if (key_decode(line, key) != 0) {
                snprintf(err, err_size, "%s:%d: not a base64 32-byte key", ag->keyring_path, lineno);
                fclose(f);
                return PL_ECONFIG;
            }
            gossip_keyring_install(&ag->keyring, key);
            sodium_memzero(key, sizeof(key));
        }
        sodium_memzero(line, sizeof(line));
        fclose(f);
    }
    if (encrypt != NULL && encrypt[0] != '\0') {
        uint8_t key[GOSSIP_KEY_BYTES];
        if (key_decode(encrypt, key) != 0) {
            snprintf(err, err_size, "%s: encrypt: " AGENT_KEY_EXPECTED, ag->agent->cfg.source);
            return PL_ECONFIG;
        }
        gossip_keyring_install(&ag->keyring, key);
        sodium_memzero(key, sizeof(key));
        rc = keyring_save(ag);
        if (rc != 0) {
            snprintf(err, err_size, "cannot write %s: %s", ag->keyring_path, pl_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* Publishes which keys we hold, so `keys list` and `keys use` can see the whole cluster. */
static void keys_publish(struct agent_gossip *ag)
{
    char json[GOSSIP_KEYRING_KEYS_MAX * 24 + 64];
    size_t off = (size_t)snprintf(json, sizeof(json), "{\"keys\":[");
    char primary_fp[17] = "";
    for (uint32_t i = 0; i < ag->keyring.count; i++) {
        uint8_t key[GOSSIP_KEY_BYTES];
        bool primary;
        char fp[17];
        gossip_keyring_get(&ag->keyring, i, key, &primary);
        key_fingerprint(key, fp);
        sodium_memzero(key, sizeof(key));
        if (primary)
            memcpy(primary_fp, fp, sizeof(fp));
        off += (size_t)snprintf(json + off, sizeof(json) - off, "%s\"%s\"", i ? "," : "", fp);
    }
    snprintf(json + off, sizeof(json) - off, "],\"primary\":\"%s\"}", primary_fp);
    agent_gossip_state_set(ag, "keys", json);
}

static int keys_apply(struct agent_gossip *ag, const char *op, const uint8_t key[GOSSIP_KEY_BYTES])
{
    int rc;
    if (strcmp(op, "install") == 0)
        rc = gossip_keyring_install(&ag->keyring, key);
    else if (strcmp(op, "use") == 0)
        rc = gossip_keyring_use(&ag->keyring, key);
    else if (strcmp(op, "remove") == 0)
        rc = gossip_keyring_remove(&ag->keyring, key);
    else
        return PL_EMALFORMED;
    if (rc == 0)
        rc = keyring_save(ag);
    char fp[17];
    key_fingerprint(key, fp);
    if (rc == 0)
        PL_INFO("gossip", "keyring %s key=%s", op, fp);
    else
        PL_WARN("gossip", "keyring %s failed key=%s error=%s", op, fp, pl_strerror(rc));
    return rc;
}

/* A cluster-wide key operation arriving by gossip: {"op":..., "key": base64}. It is only
 * ever sent sealed (keys operations need encryption on), so its content is trusted as far
 * as the cluster key is. */
static void keys_event_apply(struct agent_gossip *ag, const uint8_t *payload, size_t len)
{
    cJSON *doc = cJSON_ParseWithLength((const char *)payload, len);
    const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "op"));
    const char *b64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "key"));
    uint8_t key[GOSSIP_KEY_BYTES];
    if (op != NULL && b64 != NULL && key_decode(b64, key) == 0) {
        keys_apply(ag, op, key);
        sodium_memzero(key, sizeof(key));
    } else {
        PL_WARN("gossip", "malformed keyring event ignored");
    }
    if (doc != NULL && b64 != NULL)
        sodium_memzero(cJSON_GetObjectItemCaseSensitive(doc, "key")->valuestring, strlen(b64));
    cJSON_Delete(doc);
    keys_publish(ag);
}

/* --- API --------------------------------------------------------------------------- */

int agent_gossip_state_set(struct agent_gossip *ag, const char *key, const char *json)
{
    int rc = gossip_state_set(ag->core, now_ms(ag), key, (const uint8_t *)json, strlen(json));
    process(ag);
    return rc;
}

int agent_gossip_state_set_bytes(struct agent_gossip *ag, const char *key, const uint8_t *p,
                                 size_t len)
{
    int rc = gossip_state_set(ag->core, now_ms(ag), key, p, len);
    process(ag);
    return rc;
}

static cJSON *tags_json(const uint8_t *tags, size_t len)
{
    cJSON *o = cJSON_CreateObject();
    msgpack_unpacked u;
    if (tags == NULL || len == 0 || pl_mp_parse(tags, len, &u) != 0)
        return o;
    if (u.data.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            char k[128], v[512];
            if (pl_mp_as_cstr(&u.data.via.map.ptr[i].key, k, sizeof(k)) == 0 &&
                pl_mp_as_cstr(&u.data.via.map.ptr[i].val, v, sizeof(v)) == 0)
                cJSON_AddStringToObject(o, k, v);
        }
    }
    msgpack_unpacked_destroy(&u);
    return o;
}

static int member_cmp(const void *a, const void *b)
{
    const struct gossip_member *x = *(const struct gossip_member *const *)a;
    const struct gossip_member *y = *(const struct gossip_member *const *)b;
    return strcmp(x->name, y->name);
}

static void api_members(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    uint32_t slots = gossip_member_slots(ag->core), n = 0;
    const struct gossip_member **list = calloc(slots ? slots : 1, sizeof(*list));
    if (list == NULL) {
        api_reply_error(call, 500, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < slots; i++) {
        const struct gossip_member *m = gossip_member_at(ag->core, i);
        if (m != NULL && m->used)
            list[n++] = m;
    }
    qsort(list, n, sizeof(*list), member_cmp);
    cJSON *doc = cJSON_CreateArray();
    for (uint32_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", list[i]->name);
        cJSON_AddStringToObject(o, "addr", list[i]->addr);
        cJSON_AddStringToObject(o, "status", gossip_status_name(list[i]->status));
        cJSON_AddNumberToObject(o, "incarnation", (double)list[i]->incarnation);
        cJSON_AddItemToObject(o, "tags", tags_json(list[i]->tags, list[i]->tags_len));
        cJSON_AddItemToArray(doc, o);
    }
    free(list);
    api_reply_json(call, 200, doc);
}

static void api_join(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    cJSON *body = api_body_json(call);
    if (body == NULL)
        return;
    const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(body, "addrs");
    const char *list[AGENT_JOIN_MAX];
    size_t n = 0;
    const cJSON *a;
    int bad = !cJSON_IsArray(addrs) || cJSON_GetArraySize(addrs) == 0;
    cJSON_ArrayForEach(a, addrs)
    {
        char host[AGENT_ADDR_MAX];
        int port;
        if (n >= AGENT_JOIN_MAX || !cJSON_IsString(a) ||
            pl_addr_split(a->valuestring, host, sizeof(host), &port) != 0) {
            bad = 1;
            break;
        }
        list[n++] = a->valuestring;
    }
    if (bad) {
        cJSON_Delete(body);
        api_reply_error(call, 400, "\"addrs\" must be a non-empty array of \"HOST:PORT\" (at most %d)",
                        AGENT_JOIN_MAX);
        return;
    }
    struct api_call *kept = api_call_keep(call);
    struct join_wait *w = kept != NULL ? join_begin(ag, list, (int)n, kept) : NULL;
    cJSON_Delete(body);
    if (w == NULL) {
        free(kept);
        api_reply_error(call, 503, "too many joins in progress");
        return;
    }
    if (w->pending == 0) { /* none could start */
        join_reply(w);
        w->used = false;
    }
    process(ag);
}

static void api_leave(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "leaving", 1);
    api_reply_json(call, 200, doc);
    agent_stop(ag->agent);
}

static void api_event_post(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    cJSON *body = api_body_json(call);
    if (body == NULL)
        return;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "name"));
    const char *payload = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "payload"));
    if (payload == NULL)
        payload = "";
    int rc;
    if (name == NULL || name[0] == '\0' || name[0] == '_')
        rc = PL_EUSAGE;
    else
        rc = gossip_event_send(ag->core, now_ms(ag), name, (const uint8_t *)payload,
                               strlen(payload));
    process(ag);
    if (rc == PL_EUSAGE)
        api_reply_error(call, 400, "\"name\" must be a non-empty string not starting with '_'");
    else if (rc != 0)
        api_reply_error(call, 400, "event refused: %s (name at most %d bytes, payload at most %d)",
                        pl_strerror(rc), GOSSIP_EVENT_NAME_MAX - 1, GOSSIP_EVENT_PAYLOAD_BYTES_MAX);
    else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddNumberToObject(doc, "ltime", (double)gossip_lamport_time(ag->core));
        api_reply_json(call, 200, doc);
    }
    cJSON_Delete(body);
}

static void api_events_get(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    cJSON *doc = cJSON_CreateArray();
    uint32_t total = ag->events_next, first = total > EVENTS_KEPT ? total - EVENTS_KEPT : 0;
    for (uint32_t i = first; i < total; i++) {
        const struct kept_event *e = &ag->events[i % EVENTS_KEPT];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", e->name);
        cJSON_AddStringToObject(o, "origin", e->origin);
        cJSON_AddNumberToObject(o, "ltime", (double)e->ltime);
        cJSON_AddStringToObject(o, "payload", e->payload != NULL ? e->payload : "");
        cJSON_AddItemToArray(doc, o);
    }
    api_reply_json(call, 200, doc);
}

static void api_state_get(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    cJSON *doc = cJSON_CreateArray();
    uint32_t cursor = 0;
    const char *node, *key;
    const uint8_t *value;
    size_t len;
    uint64_t version;
    while (gossip_state_at(ag->core, &cursor, &node, &key, &value, &len, &version) == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "node", node);
        cJSON_AddStringToObject(o, "key", key);
        cJSON_AddNumberToObject(o, "version", (double)version);
        cJSON *v = cJSON_ParseWithLength((const char *)value, len);
        if (v == NULL) {
            char *b64 = malloc(pl_base64_len(len));
            if (b64 != NULL) {
                pl_base64_encode(value, len, b64);
                v = cJSON_CreateObject();
                cJSON_AddStringToObject(v, "base64", b64);
                free(b64);
            }
        }
        cJSON_AddItemToObject(o, "value", v != NULL ? v : cJSON_CreateNull());
        cJSON_AddItemToArray(doc, o);
    }
    api_reply_json(call, 200, doc);
}

static void api_state_put(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    cJSON *body = api_body_json(call);
    if (body == NULL)
        return;
    const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "key"));
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(body, "value");
    char *text = value != NULL ? cJSON_PrintUnformatted(value) : NULL;
    int rc = key == NULL || key[0] == '\0' || text == NULL ? PL_EUSAGE
                                                           : agent_gossip_state_set(ag, key, text);
    if (rc == PL_EUSAGE)
        api_reply_error(call, 400, "need {\"key\": string, \"value\": any JSON}");
    else if (rc != 0)
        api_reply_error(call, 400, "state record refused: %s (key at most %d bytes, value %d)",
                        pl_strerror(rc), GOSSIP_STATE_KEY_MAX - 1, GOSSIP_STATE_VALUE_BYTES_MAX);
    else
        api_reply_json(call, 200, cJSON_CreateObject());
    free(text);
    cJSON_Delete(body);
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The kept round trips, oldest first, into out[]; returns how many. */
static uint32_t rtt_kept(const struct agent_gossip *ag, uint32_t out[RTT_KEPT])
{
    uint32_t k = ag->rtt.n < RTT_KEPT ? (uint32_t)ag->rtt.n : RTT_KEPT;
    for (uint32_t i = 0; i < k; i++)
        out[i] = ag->rtt.us[(ag->rtt.n - k + i) % RTT_KEPT];
    return k;
}

/* Nearest-rank percentile of the kept round trips (sorted copy), 0 when there are none. */
static uint32_t rtt_percentile(const uint32_t sorted[RTT_KEPT], uint32_t k, double q)
{
    if (k == 0)
        return 0;
    uint32_t rank = (uint32_t)(q * k + 0.999999);
    return sorted[(rank < 1 ? 1 : rank > k ? k : rank) - 1];
}

static void api_counters(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    const struct gossip_counters *c = gossip_counters_get(ag->core);
    cJSON *doc = cJSON_CreateObject();
#define NUM(name, v) cJSON_AddNumberToObject(doc, name, (double)(v))
    NUM("rx_packets", c->wire.rx_packets);
    NUM("rx_ok", c->wire.rx_ok);
    NUM("rx_malformed", c->wire.rx_malformed);
    NUM("rx_oversized", c->wire.rx_oversized);
    NUM("rx_unknown_version", c->wire.rx_version);
    NUM("rx_other_cluster", c->wire.rx_cluster);
    NUM("rx_unauthenticated", c->wire.rx_unauthenticated);
    NUM("rx_unknown_type", c->wire.rx_unknown_type);
    NUM("tx_packets", c->tx_packets);
    NUM("tx_bytes", c->tx_bytes);
    NUM("tx_streams", c->tx_streams);
    NUM("probes", c->probes);
    NUM("probes_acked", c->probes_acked);
    NUM("probe_failures", c->probe_failures);
    NUM("indirect_probes", c->indirect_probes);
    NUM("tcp_pings", c->tcp_pings);
    NUM("udp_unreachable", c->udp_unreachable);
    NUM("suspicions_raised", c->suspicions_raised);
    NUM("refutations", c->refutations);
    NUM("deaths_declared", c->deaths_declared);
    NUM("events_delivered", c->events_delivered);
    NUM("events_duplicate", c->events_duplicate);
    NUM("pushpulls", c->pushpulls);
    NUM("dropped_full", c->dropped_full);
    NUM("udp_send_failures", ag->udp_send_failures);
    NUM("stream_failures", ag->stream_failures);
    NUM("fault_dropped", ag->agent->faults.dropped);
    NUM("fault_delayed", ag->agent->faults.delayed);
    NUM("fault_duplicated", ag->agent->faults.duplicated);
    NUM("awareness", gossip_awareness(ag->core));
    static uint32_t kept[RTT_KEPT];
    uint32_t k = rtt_kept(ag, kept);
    qsort(kept, k, sizeof(kept[0]), u32_cmp);
    NUM("probe_rtt_p50_us", rtt_percentile(kept, k, 0.50));
    NUM("probe_rtt_p99_us", rtt_percentile(kept, k, 0.99));
#undef NUM
    api_reply_json(call, 200, doc);
}

/* GET /v1/gossip/rtt: our probes' round trips in microseconds, the last RTT_KEPT oldest
 * first, and how many were ever taken (a reader that polls takes the newest
 * samples - last_samples ones and misses none while it polls faster than RTT_KEPT probes). */
static void api_rtt(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    static uint32_t kept[RTT_KEPT];
    uint32_t k = rtt_kept(ag, kept);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "samples", (double)ag->rtt.n);
    cJSON_AddNumberToObject(doc, "probes", (double)gossip_counters_get(ag->core)->probes);
    cJSON_AddNumberToObject(doc, "probe_failures",
                            (double)gossip_counters_get(ag->core)->probe_failures);
    cJSON *arr = cJSON_AddArrayToObject(doc, "rtt_us");
    for (uint32_t i = 0; i < k; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(kept[i]));
    api_reply_json(call, 200, doc);
}

/* Counts, per key fingerprint, the alive members whose "keys" record lists it. */
static int key_holders(struct agent_gossip *ag, const char *fp, const char **missing)
{
    int holders = 0;
    *missing = NULL;
    uint32_t slots = gossip_member_slots(ag->core);
    for (uint32_t i = 0; i < slots; i++) {
        const struct gossip_member *m = gossip_member_at(ag->core, i);
        if (m == NULL || !m->used || m->status != GOSSIP_ALIVE)
            continue;
        const uint8_t *v;
        size_t len;
        uint64_t version;
        int has = 0;
        if (gossip_state_get(ag->core, m->name, "keys", &v, &len, &version) == 0) {
            cJSON *doc = cJSON_ParseWithLength((const char *)v, len);
            const cJSON *k;
            cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(doc, "keys"))
                has |= cJSON_IsString(k) && strcmp(k->valuestring, fp) == 0;
            cJSON_Delete(doc);
        }
        if (has)
            holders++;
        else if (*missing == NULL)
            *missing = m->name;
    }
    return holders;
}

static void api_keys_get(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    cJSON *doc = cJSON_CreateObject();
    cJSON *keys = cJSON_AddArrayToObject(doc, "keys");
    cJSON_AddNumberToObject(doc, "members", gossip_member_count(ag->core, GOSSIP_ALIVE));
    for (uint32_t i = 0; i < ag->keyring.count; i++) {
        uint8_t key[GOSSIP_KEY_BYTES];
        bool primary;
        char fp[17];
        const char *missing;
        /* Key material never leaves the agent: the API names keys by fingerprint. */
        gossip_keyring_get(&ag->keyring, i, key, &primary);
        key_fingerprint(key, fp);
        sodium_memzero(key, sizeof(key));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "fingerprint", fp);
        cJSON_AddBoolToObject(o, "primary", primary);
        cJSON_AddNumberToObject(o, "members_with_key", key_holders(ag, fp, &missing));
        cJSON_AddItemToArray(keys, o);
    }
    api_reply_json(call, 200, doc);
}

static void api_keys_post(struct api_call *call, void *data)
{
    struct agent_gossip *ag = data;
    cJSON *body = api_body_json(call);
    if (body == NULL)
        return;
    const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "op"));
    const char *b64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "key"));
    uint8_t key[GOSSIP_KEY_BYTES];
    char fp[17];
    const char *missing = NULL;
    int status = 200;
    char msg[256] = "";
    if (op == NULL || (strcmp(op, "install") != 0 && strcmp(op, "use") != 0 &&
                       strcmp(op, "remove") != 0)) {
        status = 400;
        snprintf(msg, sizeof(msg), "\"op\" must be install, use or remove");
    } else if (b64 == NULL || key_decode(b64, key) != 0) {
        status = 400;
        snprintf(msg, sizeof(msg), "\"key\" must be a base64-encoded 32-byte key");
    } else if (!gossip_keyring_enabled(&ag->keyring)) {
        status = 409;
        snprintf(msg, sizeof(msg), "encryption is not enabled on this agent (start it with "
                                   "--encrypt); keys are never sent over plaintext gossip");
    } else {
        key_fingerprint(key, fp);
        if (strcmp(op, "use") == 0 &&
            key_holders(ag, fp, &missing) < (int)gossip_member_count(ag->core, GOSSIP_ALIVE)) {
            status = 409;
            snprintf(msg, sizeof(msg), "member %s does not have key %s yet; install it first",
                     missing != NULL ? missing : "?", fp);
        } else {
            int rc = keys_apply(ag, op, key);
            if (rc != 0) {
                status = rc == PL_ESTATE ? 409 : 400;
                snprintf(msg, sizeof(msg), "%s %s: %s", op, fp,
                         rc == PL_ESTATE ? "the primary key cannot be removed; use another first"
                                         : pl_strerror(rc));
            } else {
                /* Tell the cluster; this packet is sealed with the current primary. */
                char payload[160];
                snprintf(payload, sizeof(payload), "{\"op\":\"%s\",\"key\":\"%s\"}", op, b64);
                gossip_event_send(ag->core, now_ms(ag), KEYS_EVENT, (const uint8_t *)payload,
                                  strlen(payload));
                sodium_memzero(payload, sizeof(payload));
                process(ag);
                keys_publish(ag);
            }
        }
        sodium_memzero(key, sizeof(key));
    }
    cJSON_Delete(body);
    if (status != 200) {
        api_reply_error(call, status, "%s", msg);
        return;
    }
    api_keys_get(call, ag);
}

/* --- config and lifecycle ---------------------------------------------------------- */

static int config_parse(const struct agent_config *ac, struct gossip_config *cfg, char *err,
                        size_t err_size)
{
    enum gossip_profile profile;
    if (gossip_profile_parse(ac->profile, &profile) != 0) {
        snprintf(err, err_size, "%s: profile: expected lan, local or wan", ac->source);
        return PL_ECONFIG;
    }
    gossip_config_default(cfg, profile);
    snprintf(cfg->cluster, sizeof(cfg->cluster), "%s", ac->cluster);
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(ac->root, "gossip");
    if (sec == NULL)
        return 0;
    struct config_ctx c = {ac->source, err, err_size};
    if (!cJSON_IsObject(sec)) {
        snprintf(err, err_size, "%s: gossip: expected an object", ac->source);
        return PL_ECONFIG;
    }
    static const char *const known[] = {
        "probe_interval_ms", "probe_timeout_ms", "indirect_checks", "suspicion_mult",
        "suspicion_max_timeout_mult", "gossip_interval_ms", "gossip_nodes", "retransmit_mult",
        "pushpull_interval_ms", "awareness_max_multiplier", "gossip_to_the_dead_ms",
        "tcp_timeout_ms", "reap_dead_ms", "reap_left_ms", "lifeguard", "fast_suspicion",
        "tcp_ping", "tags", NULL};
    int rc = config_check_keys(&c, sec, "gossip", known);
    uint64_t v;
#define U32(key, min, max)                                                          \
    if (rc == 0) {                                                                  \
        v = cfg->key;                                                               \
        rc = config_get_u64(&c, sec, "gossip", #key, min, max, &v);                 \
        cfg->key = (uint32_t)v;                                                     \
    }
    U32(probe_interval_ms, 10, 600000);
    U32(probe_timeout_ms, 5, 600000);
    U32(indirect_checks, 0, 16);
    U32(suspicion_mult, 1, 100);
    U32(suspicion_max_timeout_mult, 1, 100);
    U32(gossip_interval_ms, 5, 600000);
    U32(gossip_nodes, 1, 64);
    U32(retransmit_mult, 1, 100);
    U32(pushpull_interval_ms, 0, 86400000);
    U32(awareness_max_multiplier, 1, 64);
    U32(gossip_to_the_dead_ms, 0, 86400000);
    U32(tcp_timeout_ms, 10, 600000);
#undef U32
    if (rc == 0)
        rc = config_get_u64(&c, sec, "gossip", "reap_dead_ms", 0, UINT64_MAX / 2, &cfg->reap_dead_ms);
    if (rc == 0)
        rc = config_get_u64(&c, sec, "gossip", "reap_left_ms", 0, UINT64_MAX / 2, &cfg->reap_left_ms);
    if (rc == 0)
        rc = config_get_bool(&c, sec, "gossip", "lifeguard", &cfg->lifeguard);
    if (rc == 0)
        rc = config_get_bool(&c, sec, "gossip", "fast_suspicion", &cfg->fast_suspicion);
    if (rc == 0)
        rc = config_get_bool(&c, sec, "gossip", "tcp_ping", &cfg->tcp_ping);
    if (rc == 0 && cfg->probe_timeout_ms >= cfg->probe_interval_ms) {
        snprintf(err, err_size, "%s: gossip.probe_timeout_ms must be below probe_interval_ms",
                 ac->source);
        rc = PL_ECONFIG;
    }
    return rc;
}

static int tags_parse(const struct agent_config *ac, cJSON *into, char *err, size_t err_size);

int agent_gossip_config_check(const struct agent_config *ac, char *err, size_t err_size)
{
    struct gossip_config cfg;
    int rc = config_parse(ac, &cfg, err, err_size);
    if (rc == 0)
        rc = tags_parse(ac, NULL, err, err_size);
    return rc;
}

/* Encodes our tags object as the core's msgpack map and publishes it. */
static int tags_publish(struct agent_gossip *ag)
{
    struct pl_buf buf;
    pl_buf_init(&buf, GOSSIP_TAGS_BYTES_MAX);
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, &buf);
    pl_mp_map(&w, (uint32_t)cJSON_GetArraySize(ag->tags));
    const cJSON *t;
    cJSON_ArrayForEach(t, ag->tags)
    {
        pl_mp_str(&w, t->string);
        pl_mp_str(&w, t->valuestring);
    }
    int rc = w.err != 0 ? PL_ETOOBIG : gossip_tags_set(ag->core, now_ms(ag), buf.data, buf.len);
    pl_buf_close(&buf);
    process(ag);
    return rc;
}

int agent_gossip_tag_set(struct agent_gossip *ag, const char *key, const char *value)
{
    cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(ag->tags, key);
    cJSON_AddStringToObject(ag->tags, key, value);
    int rc = tags_publish(ag);
    if (rc != 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(ag->tags, key);
        if (old != NULL)
            cJSON_AddItemToObject(ag->tags, key, old);
        return rc;
    }
    cJSON_Delete(old);
    return 0;
}

/* Checks the config's "gossip.tags" object (strings only) and copies it into `into`
 * (NULL: only checks). */
static int tags_parse(const struct agent_config *ac, cJSON *into, char *err, size_t err_size)
{
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(ac->root, "gossip");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(sec, "tags");
    if (tags == NULL)
        return 0;
    if (!cJSON_IsObject(tags)) {
        snprintf(err, err_size, "%s: gossip.tags: expected an object of strings", ac->source);
        return PL_ECONFIG;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        if (!cJSON_IsString(t)) {
            snprintf(err, err_size, "%s: gossip.tags.%s: expected a string", ac->source,
                     t->string);
            return PL_ECONFIG;
        }
        if (into != NULL)
            cJSON_AddStringToObject(into, t->string, t->valuestring);
    }
    return 0;
}

/* Takes the config's "gossip.tags" as our first tags. */
static int tags_from_config(struct agent_gossip *ag, char *err, size_t err_size)
{
    ag->tags = cJSON_CreateObject();
    return tags_parse(&ag->agent->cfg, ag->tags, err, err_size);
}

static void trace_cb(void *ctx, uint64_t now, const char *line)
{
    (void)ctx;
    (void)now;
    PL_TRACE("gossip", "%s", line);
}

/* --- the peers file ------------------------------------------------------------------ */
/* Like Serf's snapshot: DATA/peers names the members we last knew, one "NAME ADDR" a line,
 * so an agent restarted after a crash finds its cluster again without --join (the seed
 * node of a cluster has none). A graceful leave removes it: the operator asked to leave.
 * It is a hint, replaced whole (pl_file.h); a bad line is skipped, named. */

static void peers_write_cb(uv_timer_t *t)
{
    struct agent_gossip *ag = t->data;
    struct pl_buf text;
    pl_buf_init(&text, (size_t)1 << 24);
    int rc = 0;
    uint32_t slots = gossip_member_slots(ag->core);
    for (uint32_t i = 0; i < slots && rc == 0; i++) {
        const struct gossip_member *m = gossip_member_at(ag->core, i);
        if (m != NULL && m->used && strcmp(m->name, ag->agent->cfg.name) != 0 &&
            (m->status == GOSSIP_ALIVE || m->status == GOSSIP_SUSPECT))
            rc = pl_buf_printf(&text, "%s %s\n", m->name, m->addr);
    }
    if (rc == 0)
        rc = pl_file_write_atomic(ag->peers_path, text.data, text.len, 0644);
    if (rc != 0)
        PL_WARN("gossip", "cannot write %s: %s", ag->peers_path, pl_strerror(rc));
    pl_buf_close(&text);
}

static void peers_changed(struct agent_gossip *ag)
{
    if (!ag->agent->stopping && !uv_is_active((uv_handle_t *)&ag->peers_timer))
        uv_timer_start(&ag->peers_timer, peers_write_cb, PEERS_WRITE_DELAY_MS, 0);
}

static void join_add(struct agent_gossip *ag, const char *addr)
{
    for (int i = 0; i < ag->njoin; i++)
        if (strcmp(ag->join[i], addr) == 0)
            return;
    if (ag->njoin < (int)PL_ARRAY_LEN(ag->join))
        snprintf(ag->join[ag->njoin++], AGENT_ADDR_MAX, "%s", addr);
}

/* Adds up to PEERS_REJOIN_MAX addresses of the peers file, a uniform sample of them. */
static void peers_load(struct agent_gossip *ag)
{
    snprintf(ag->peers_path, sizeof(ag->peers_path), "%s/peers", ag->agent->cfg.data_dir);
    FILE *f = fopen(ag->peers_path, "r");
    if (f == NULL)
        return;
    char pick[PEERS_REJOIN_MAX][AGENT_ADDR_MAX];
    int seen = 0, lineno = 0;
    char line[GOSSIP_NAME_MAX + GOSSIP_ADDR_MAX + 8];
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *sp = strchr(line, ' ');
        struct sockaddr_storage sa;
        if (sp == NULL || sp == line || strlen(sp + 1) >= AGENT_ADDR_MAX ||
            pl_addr_resolve(sp + 1, &sa) != 0) {
            PL_WARN("gossip", "%s:%d: not \"NAME HOST:PORT\"; line skipped", ag->peers_path,
                    lineno);
            continue;
        }
        if (strcmp(sp + 1, ag->agent->cfg.advertise) == 0)
            continue;
        /* Reservoir sampling (Algorithm R). */
        int k = seen < PEERS_REJOIN_MAX ? seen : (int)pl_rand_below(&ag->agent->rand, (uint32_t)seen + 1);
        if (k < PEERS_REJOIN_MAX)
            snprintf(pick[k], AGENT_ADDR_MAX, "%s", sp + 1);
        seen++;
    }
    fclose(f);
    int n = PL_MIN(seen, PEERS_REJOIN_MAX);
    for (int i = 0; i < n; i++)
        join_add(ag, pick[i]);
    if (n > 0)
        PL_INFO("gossip", "rejoining through %d member(s) known before the last stop (%s)", n,
                ag->peers_path);
}

/* A config join entry: numeric ones join as they are, dns: ones are looked up first. */
static void join_entry_add(struct agent_gossip *ag, const char *entry)
{
    char host[AGENT_ADDR_MAX];
    int port;
    if (agent_join_parse(entry, host, sizeof(host), &port) != AGENT_JOIN_DNS) {
        join_add(ag, entry);
        return;
    }
    struct dns_join *d = &ag->dns[ag->ndns++]; /* at most AGENT_JOIN_MAX config entries */
    d->ag = ag;
    snprintf(d->name, sizeof(d->name), "%s", host);
    snprintf(d->port, sizeof(d->port), "%d", port);
}

static void dns_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct dns_join *d = req->data;
    struct agent_gossip *ag = d->ag;
    d->pending = 0;
    if (status != 0 || ag->agent->stopping) {
        if (status != 0 && status != UV_ECANCELED)
            PL_LOG_RATELIMITED(PL_LOG_WARN, "gossip", "join: dns:%s:%s: cannot look up: %s",
                               d->name, d->port, uv_strerror(status));
        uv_freeaddrinfo(res);
        return;
    }
    char addrs[DNS_ADDRS_MAX][GOSSIP_ADDR_MAX];
    const char *list[DNS_ADDRS_MAX];
    int n = 0, other_family = 0;
    for (const struct addrinfo *ai = res; ai != NULL && n < DNS_ADDRS_MAX; ai = ai->ai_next) {
        if (ai->ai_family != ag->family) {
            other_family++;
            continue;
        }
        addr_format(ai->ai_addr, addrs[n], sizeof(addrs[n]));
        int seen = strcmp(addrs[n], ag->agent->cfg.advertise) == 0;
        for (int i = 0; i < n && !seen; i++)
            seen = strcmp(addrs[i], addrs[n]) == 0;
        if (!seen) {
            list[n] = addrs[n];
            n++;
        }
    }
    uv_freeaddrinfo(res);
    if (n == 0) {
        PL_LOG_RATELIMITED(PL_LOG_WARN, "gossip", "join: dns:%s:%s: no %s address but our own "
                           "(%d of the other family)", d->name, d->port,
                           ag->family == AF_INET ? "IPv4" : "IPv6", other_family);
        return;
    }
    PL_INFO("gossip", "joining through dns:%s:%s addresses=%d first=%s", d->name, d->port, n,
            list[0]);
    gossip_join(ag->core, now_ms(ag), list, (size_t)n);
    process(ag);
}

static void join_all(struct agent_gossip *ag)
{
    const char *list[AGENT_JOIN_MAX + PEERS_REJOIN_MAX];
    for (int i = 0; i < ag->njoin; i++)
        list[i] = ag->join[i];
    join_begin(ag, list, ag->njoin, NULL);
    /* Every A/AAAA record, one entry per address (SOCK_DGRAM), no AI_ADDRCONFIG: it
     * hides 127.0.0.1 on a host whose only address is loopback. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    for (int i = 0; i < ag->ndns; i++) {
        struct dns_join *d = &ag->dns[i];
        if (d->pending)
            continue; /* a slow resolver: the last lookup is still running */
        d->req.data = d;
        int rc = uv_getaddrinfo(&ag->agent->loop, &d->req, dns_resolved_cb, d->name, d->port,
                                &hints);
        if (rc != 0)
            PL_LOG_RATELIMITED(PL_LOG_WARN, "gossip", "join: dns:%s:%s: cannot start a lookup: %s",
                               d->name, d->port, uv_strerror(rc));
        else
            d->pending = 1;
    }
}

static int gossip_module_start(struct agent *a, void **state, char *err, size_t err_size)
{
    struct agent_gossip *ag = calloc(1, sizeof(*ag));
    if (ag == NULL)
        return -ENOMEM;
    ag->agent = a;
    *state = ag;
    int rc = config_parse(&a->cfg, &ag->cfg, err, err_size);
    if (rc != 0)
        return rc;
    rc = keyring_load(ag, a->cfg.encrypt, err, err_size);
    if (rc != 0)
        return rc;
    if (gossip_keyring_enabled(&ag->keyring))
        ag->cfg.keyring = &ag->keyring;
    ag->cfg.trace_cb = trace_cb;

    struct sockaddr_storage sa;
    if (pl_addr_resolve(a->cfg.bind, &sa) != 0) {
        snprintf(err, err_size, "bind: cannot parse %s", a->cfg.bind);
        return PL_ECONFIG;
    }
    static const double rtt_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
    prom_hist_init(&ag->rtt.hist, rtt_bounds, (int)PL_ARRAY_LEN(rtt_bounds));
    uv_udp_init(&a->loop, &ag->udp);
    uv_tcp_init(&a->loop, &ag->tcp);
    uv_timer_init(&a->loop, &ag->timer);
    uv_timer_init(&a->loop, &ag->leave_timer);
    uv_timer_init(&a->loop, &ag->rejoin_timer);
    uv_timer_init(&a->loop, &ag->peers_timer);
    ag->udp.data = ag->tcp.data = ag->timer.data = ag->leave_timer.data = ag;
    ag->rejoin_timer.data = ag->peers_timer.data = ag;
    rc = uv_udp_bind(&ag->udp, (const struct sockaddr *)&sa, UV_UDP_LINUX_RECVERR);
    if (rc == 0)
        rc = uv_tcp_bind(&ag->tcp, (const struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&ag->tcp, 128, tcp_connection_cb);
    if (rc != 0) {
        snprintf(err, err_size, "cannot bind gossip to %s: %s", a->cfg.bind, uv_strerror(rc));
        return rc;
    }

    /* A restart gets a fresh, higher incarnation so our new claims beat the old ones. */
    uint64_t incarnation = pl_clock_wall_ms() / 1000;
    rc = gossip_new(&ag->cfg, a->cfg.name, a->cfg.advertise, incarnation, &a->rand, now_ms(ag),
                    &ag->core);
    if (rc != 0) {
        snprintf(err, err_size, "gossip: %s", pl_strerror(rc));
        return rc;
    }
    rc = tags_from_config(ag, err, err_size);
    if (rc == 0 && cJSON_GetArraySize(ag->tags) > 0 && (rc = tags_publish(ag)) != 0)
        snprintf(err, err_size, "%s: gossip.tags: more than %d bytes encoded", a->cfg.source,
                 GOSSIP_TAGS_BYTES_MAX);
    if (rc != 0)
        return rc;
    uv_udp_recv_start(&ag->udp, slab_alloc_cb, udp_recv_cb);

    api_route_add(&a->api, "GET", "/v1/members", api_members, ag);
    api_route_add(&a->api, "POST", "/v1/join", api_join, ag);
    api_route_add(&a->api, "POST", "/v1/leave", api_leave, ag);
    api_route_add(&a->api, "POST", "/v1/event", api_event_post, ag);
    api_route_add(&a->api, "GET", "/v1/events", api_events_get, ag);
    api_route_add(&a->api, "GET", "/v1/state", api_state_get, ag);
    api_route_add(&a->api, "POST", "/v1/state", api_state_put, ag);
    api_route_add(&a->api, "GET", "/v1/keys", api_keys_get, ag);
    api_route_add(&a->api, "POST", "/v1/keys", api_keys_post, ag);
    api_route_add(&a->api, "GET", "/v1/gossip/counters", api_counters, ag);
    api_route_add(&a->api, "GET", "/v1/gossip/rtt", api_rtt, ag);

    if (gossip_keyring_enabled(&ag->keyring))
        keys_publish(ag);
    ag->family = sa.ss_family;
    for (int i = 0; i < a->cfg.njoin; i++)
        join_entry_add(ag, a->cfg.join[i]);
    peers_load(ag);
    if (ag->njoin + ag->ndns > 0) {
        join_all(ag);
        ag->rejoin_ms = 50;
        uv_timer_start(&ag->rejoin_timer, rejoin_cb, ag->rejoin_ms, 0);
    }
    process(ag);
    PL_INFO("gossip", "listening bind=%s advertise=%s encrypted=%s profile=%s", a->cfg.bind,
            a->cfg.advertise, gossip_keyring_enabled(&ag->keyring) ? "yes" : "no", a->cfg.profile);
    return 0;
}

/* Like Consul's retry_join: while we know nobody else, try the --join addresses again,
 * with the wait doubling from 50 ms to 30 s, so agents may start in any order. */
static void rejoin_cb(uv_timer_t *t)
{
    struct agent_gossip *ag = t->data;
    struct agent *a = ag->agent;
    uint32_t others = gossip_member_slots(ag->core) > 0
                          ? gossip_member_count(ag->core, GOSSIP_ALIVE) +
                                gossip_member_count(ag->core, GOSSIP_SUSPECT) - 1
                          : 0;
    if (others > 0 || a->stopping)
        return;
    PL_INFO("gossip", "no other member known; joining again through %d address(es) and %d name(s)",
            ag->njoin, ag->ndns);
    join_all(ag);
    process(ag);
    ag->rejoin_ms = PL_MIN(ag->rejoin_ms * 2, 30000);
    uv_timer_start(&ag->rejoin_timer, rejoin_cb, ag->rejoin_ms, 0);
}

static void leave_poll(uv_timer_t *t)
{
    struct agent_gossip *ag = t->data;
    if (gossip_broadcasts_pending(ag->core) > 0 &&
        now_ms(ag) - ag->leave_started < LEAVE_TIMEOUT_MS)
        return;
    uv_timer_stop(t);
    uv_timer_stop(&ag->peers_timer);
    if (unlink(ag->peers_path) != 0 && errno != ENOENT)
        PL_WARN("gossip", "cannot remove %s: %s", ag->peers_path, strerror(errno));
    PL_INFO("gossip", "left the cluster");
    void (*done)(struct agent *) = ag->stop_done;
    ag->stop_done = NULL;
    if (done != NULL)
        done(ag->agent);
}

static void gossip_module_stop(struct agent *a, void *state, void (*done)(struct agent *a))
{
    struct agent_gossip *ag = state;
    (void)a;
    ag->stop_done = done;
    uv_timer_stop(&ag->rejoin_timer);
    joins_abandon(ag);
    for (int i = 0; i < ag->ndns; i++)
        if (ag->dns[i].pending)
            uv_cancel((uv_req_t *)&ag->dns[i].req); /* one already running finishes */
    ag->leave_started = now_ms(ag);
    gossip_leave(ag->core, now_ms(ag));
    process(ag);
    uv_timer_start(&ag->leave_timer, leave_poll, 20, 20);
}

static void gossip_module_free(struct agent *a, void *state)
{
    struct agent_gossip *ag = state;
    (void)a;
    if (ag == NULL)
        return;
    gossip_free(ag->core);
    ag->core = NULL;
    gossip_keyring_close(&ag->keyring);
    cJSON_Delete(ag->tags);
    for (int i = 0; i < EVENTS_KEPT; i++)
        free(ag->events[i].payload);
    for (int i = 0; i < ag->nafter; i++)
        free(ag->after[i].payload);
    free(ag);
}

const struct agent_module agent_gossip_module = {
    .name = "gossip",
    .start = gossip_module_start,
    .stop = gossip_module_stop,
    .free = gossip_module_free,
};

/* --- metrics ------------------------------------------------------------------------- */

void agent_gossip_metrics(struct agent_gossip *ag, struct prom_writer *w)
{
    const struct gossip_counters *c = gossip_counters_get(ag->core);
    prom_family(w, "platelet_gossip_members", "gauge", "Members this node knows, by status.");
    static const enum gossip_status statuses[] = {GOSSIP_ALIVE, GOSSIP_SUSPECT, GOSSIP_DEAD,
                                                  GOSSIP_LEFT};
    for (size_t i = 0; i < PL_ARRAY_LEN(statuses); i++) {
        char lab[48];
        snprintf(lab, sizeof(lab), "status=\"%s\"", gossip_status_name(statuses[i]));
        prom_sample(w, "platelet_gossip_members", lab,
                    (double)gossip_member_count(ag->core, statuses[i]));
    }
#define COUNTER(name, help, v) prom_metric(w, "platelet_gossip_" name, "counter", help, (double)(v))
    COUNTER("probes_total", "Probes this node started.", c->probes);
    COUNTER("probe_failures_total", "Probes that got no ack in time.", c->probe_failures);
    COUNTER("indirect_probes_total", "Probes that asked other members to ping.", c->indirect_probes);
    COUNTER("suspicions_total", "Members this node began to suspect.", c->suspicions_raised);
    COUNTER("refutations_total", "Suspicions of this node it refuted.", c->refutations);
    COUNTER("deaths_declared_total", "Suspects this node declared dead.", c->deaths_declared);
    COUNTER("sent_messages_total", "UDP packets sent.", c->tx_packets);
    COUNTER("sent_bytes_total", "UDP bytes sent.", c->tx_bytes);
    COUNTER("received_messages_total", "UDP packets received.", c->wire.rx_packets);
    COUNTER("received_bytes_total", "UDP bytes received.", ag->rx_bytes);
    COUNTER("pushpulls_total", "Full state exchanges over TCP.", c->pushpulls);
#undef COUNTER
    prom_family(w, "platelet_gossip_dropped_messages_total", "counter",
                "Received packets dropped, by reason.");
    const struct {
        const char *reason;
        uint64_t v;
    } dropped[] = {{"malformed", c->wire.rx_malformed},
                   {"oversized", c->wire.rx_oversized},
                   {"version", c->wire.rx_version},
                   {"other_cluster", c->wire.rx_cluster},
                   {"unauthenticated", c->wire.rx_unauthenticated},
                   {"unknown_type", c->wire.rx_unknown_type}};
    for (size_t i = 0; i < PL_ARRAY_LEN(dropped); i++) {
        char lab[48];
        snprintf(lab, sizeof(lab), "reason=\"%s\"", dropped[i].reason);
        prom_sample(w, "platelet_gossip_dropped_messages_total", lab, (double)dropped[i].v);
    }
    prom_metric(w, "platelet_gossip_awareness", "gauge",
                "Lifeguard's local health score (0 healthy).", (double)gossip_awareness(ag->core));
    prom_family(w, "platelet_gossip_probe_rtt_seconds", "histogram",
                "Round trips of this node's acked probes.");
    prom_hist_write(w, "platelet_gossip_probe_rtt_seconds", NULL, &ag->rtt.hist);
}
