/*
 * The gossip simulator's world (see gossip_simnet.h): a binary heap of timed events
 * (timer, datagram, stream request, stream reply) and the fault model applied to each
 * packet as it is sent.
 */
#include "gossip_simnet.h"

#include "pl_assert.h"
#include "pl_err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ev_kind { EV_TIMER, EV_UDP, EV_STREAM_REQ, EV_STREAM_REPLY, EV_UNREACHABLE };

struct simnet_event
{
    uint64_t at;
    uint64_t seq;
    enum ev_kind kind;
    int to;
    int from;
    uint64_t gen;       /* EV_TIMER: valid when equal to the node's timer_gen */
    uint64_t stream_id; /* EV_STREAM_* */
    bool expects_response;
    int status; /* EV_STREAM_REPLY */
    uint8_t *bytes;
    size_t len;
};

static bool ev_less(const struct simnet_event *a, const struct simnet_event *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(struct simnet *net, struct simnet_event ev)
{
    if (net->heap_n == net->heap_cap) {
        uint32_t cap = net->heap_cap ? net->heap_cap * 2 : 1024;
        struct simnet_event *h = realloc(net->heap, cap * sizeof(*h));
        PL_ASSERT(h != NULL);
        net->heap = h;
        net->heap_cap = cap;
    }
    ev.seq = net->seq++;
    uint32_t i = net->heap_n++;
    net->heap[i] = ev;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!ev_less(&net->heap[i], &net->heap[p]))
            break;
        struct simnet_event t = net->heap[p];
        net->heap[p] = net->heap[i];
        net->heap[i] = t;
        i = p;
    }
}

static struct simnet_event heap_pop(struct simnet *net)
{
    struct simnet_event top = net->heap[0];
    net->heap[0] = net->heap[--net->heap_n];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < net->heap_n && ev_less(&net->heap[l], &net->heap[m]))
            m = l;
        if (r < net->heap_n && ev_less(&net->heap[r], &net->heap[m]))
            m = r;
        if (m == i)
            break;
        struct simnet_event t = net->heap[m];
        net->heap[m] = net->heap[i];
        net->heap[i] = t;
        i = m;
    }
    return top;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    PL_ASSERT(c != NULL);
    memcpy(c, p, n);
    return c;
}

bool simnet_up(const struct simnet *net, int i)
{
    return net->nodes[i].started && !net->nodes[i].crashed && !net->nodes[i].paused;
}

static int addr_index(const struct simnet *net, const char *addr)
{
    if (addr[0] != 's')
        return -1;
    char *end;
    long v = strtol(addr + 1, &end, 10);
    if (*end != '\0' || v < 0 || v >= net->n)
        return -1;
    return (int)v;
}

static bool link_cut(const struct simnet *net, int a, int b)
{
    return net->partitioned && net->nodes[a].group != net->nodes[b].group;
}

static uint64_t delay(struct simnet *net)
{
    uint32_t span = net->delay_max_ms - net->delay_min_ms + 1;
    return net->delay_min_ms + pl_rand_below(&net->rand, span);
}

/* A stream's one-way latency: TCP does not lose data, but each lost segment costs a
 * retransmission timeout (1 s initially), so a lossy link delays streams instead. */
static uint64_t stream_delay(struct simnet *net)
{
    uint64_t d = delay(net);
    for (int seg = 0; seg < 2; seg++)
        if (pl_rand_unit(&net->rand) < net->loss)
            d += 1000;
    return d;
}

static uint64_t slow_extra(struct simnet *net, int to)
{
    if (to != net->slow_node || net->slow_extra_ms_max == 0)
        return 0;
    /* A backlog: everything waits the same time and stays in order, as in the input queue
     * of a starved process (independent delays would let the earliest of many copies of a
     * message through quickly). */
    return net->slow_extra_ms_max;
}

static void timer_rearm(struct simnet *net, int i)
{
    struct simnet_node *nd = &net->nodes[i];
    if (!simnet_up(net, i))
        return;
    uint64_t at = gossip_deadline(nd->g);
    if (at < net->now)
        at = net->now;
    if (at == nd->timer_at)
        return;
    nd->timer_at = at;
    nd->timer_gen++;
    heap_push(net,
              (struct simnet_event){.at = at, .kind = EV_TIMER, .to = i, .gen = nd->timer_gen});
}

void simnet_drain(struct simnet *net, int i)
{
    struct simnet_node *nd = &net->nodes[i];
    const struct gossip_out *outs;
    size_t n;
    gossip_outputs(nd->g, &outs, &n);
    for (size_t k = 0; k < n; k++) {
        const struct gossip_out *o = &outs[k];
        switch (o->kind) {
            case GOSSIP_OUT_MEMBER:
                if (net->hooks.member_cb)
                    net->hooks.member_cb(net->hooks.ctx, i, o);
                break;
            case GOSSIP_OUT_EVENT:
                if (net->hooks.event_cb)
                    net->hooks.event_cb(net->hooks.ctx, i, o);
                break;
            case GOSSIP_OUT_STATE:
                if (net->hooks.state_cb)
                    net->hooks.state_cb(net->hooks.ctx, i, o);
                break;
            case GOSSIP_OUT_UDP: {
                int j = addr_index(net, o->addr);
                if (j < 0 || link_cut(net, i, j) || pl_rand_unit(&net->rand) < net->loss) {
                    net->dropped++;
                    break;
                }
                int copies = pl_rand_unit(&net->rand) < net->dup ? 2 : 1;
                for (int c = 0; c < copies; c++)
                    heap_push(
                        net, (struct simnet_event){.at = net->now + delay(net) + slow_extra(net, j),
                                                   .kind = EV_UDP,
                                                   .to = j,
                                                   .from = i,
                                                   .bytes = dup_bytes(o->bytes, o->len),
                                                   .len = o->len});
                break;
            }
            case GOSSIP_OUT_STREAM: {
                int j = addr_index(net, o->addr);
                if (j < 0) {
                    if (o->expects_response)
                        heap_push(net, (struct simnet_event){.at = net->now + 1,
                                                             .kind = EV_STREAM_REPLY,
                                                             .to = i,
                                                             .from = -1,
                                                             .stream_id = o->stream_id,
                                                             .status = -ECONNREFUSED});
                    break;
                }
                heap_push(net, (struct simnet_event){
                                   .at = net->now + stream_delay(net) + slow_extra(net, j),
                                   .kind = EV_STREAM_REQ,
                                   .to = j,
                                   .from = i,
                                   .stream_id = o->stream_id,
                                   .expects_response = o->expects_response,
                                   .bytes = dup_bytes(o->bytes, o->len),
                                   .len = o->len});
                break;
            }
        }
    }
    gossip_outputs_clear(nd->g);
    timer_rearm(net, i);
}

int simnet_init(struct simnet *net, uint64_t seed, int n, const struct gossip_config *cfg)
{
    memset(net, 0, sizeof(*net));
    net->seed = seed;
    net->n = n;
    net->cfg = *cfg;
    net->delay_min_ms = 1;
    net->delay_max_ms = 5;
    net->slow_node = -1;
    pl_rand_seed(&net->rand, seed);
    net->nodes = calloc((size_t)n, sizeof(*net->nodes));
    if (net->nodes == NULL)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        snprintf(net->nodes[i].name, sizeof(net->nodes[i].name), "node%d", i);
        snprintf(net->nodes[i].addr, sizeof(net->nodes[i].addr), "s%d", i);
        pl_rand_seed(&net->nodes[i].rand, seed * 1000003u + (uint64_t)i + 1);
    }
    return 0;
}

void simnet_close(struct simnet *net)
{
    for (int i = 0; i < net->n; i++)
        gossip_free(net->nodes[i].g);
    for (uint32_t i = 0; i < net->heap_n; i++)
        free(net->heap[i].bytes);
    free(net->heap);
    free(net->nodes);
}

static void trace_cb(void *ctx, uint64_t now_ms, const char *line)
{
    printf("    trace t=%llu %s: %s\n", (unsigned long long)now_ms, (const char *)ctx, line);
}

void simnet_start(struct simnet *net, int i, int seed)
{
    struct simnet_node *nd = &net->nodes[i];
    PL_ASSERT(!nd->started);
    struct gossip_config cfg = net->cfg;
    /* SIM_TRACE=<index> prints that node's trace lines. */
    const char *t = getenv("SIM_TRACE");
    if (t != NULL && atoi(t) == i) {
        cfg.trace_cb = trace_cb;
        cfg.trace_ctx = nd->name;
    }
    int rc = gossip_new(&cfg, nd->name, nd->addr, 0, &nd->rand, net->now, &nd->g);
    PL_ASSERT(rc == 0);
    nd->started = true;
    nd->timer_at = UINT64_MAX;
    if (seed >= 0) {
        const char *addr = net->nodes[seed].addr;
        gossip_join(nd->g, net->now, &addr, 1);
    }
    simnet_drain(net, i);
}

void simnet_crash(struct simnet *net, int i)
{
    net->nodes[i].crashed = true;
}

void simnet_pause(struct simnet *net, int i)
{
    net->nodes[i].paused = true;
}

void simnet_resume(struct simnet *net, int i)
{
    struct simnet_node *nd = &net->nodes[i];
    nd->paused = false;
    nd->timer_at = UINT64_MAX;
    timer_rearm(net, i);
}

static void handle(struct simnet *net, struct simnet_event *ev)
{
    int i = ev->to;
    struct simnet_node *nd = &net->nodes[i];
    switch (ev->kind) {
        case EV_TIMER:
            if (ev->gen != nd->timer_gen || !simnet_up(net, i))
                return;
            nd->timer_at = UINT64_MAX;
            gossip_tick(nd->g, net->now);
            simnet_drain(net, i);
            return;
        case EV_UDP:
            if (!simnet_up(net, i)) {
                net->dropped++;
                /* A crashed process's host answers a datagram with an ICMP port
                 * unreachable (a paused one queues it and says nothing). */
                if (nd->crashed && !link_cut(net, i, ev->from))
                    heap_push(net, (struct simnet_event){.at = net->now + delay(net),
                                                         .kind = EV_UNREACHABLE,
                                                         .to = ev->from,
                                                         .from = i});
                return;
            }
            net->delivered++;
            gossip_step(nd->g, net->now, net->nodes[ev->from].addr, ev->bytes, ev->len);
            simnet_drain(net, i);
            return;
        case EV_STREAM_REQ: {
            bool reachable = simnet_up(net, i) && !link_cut(net, i, ev->from);
            if (nd->crashed && !link_cut(net, i, ev->from)) {
                /* A crashed process's host answers with a reset after one round trip. */
                if (ev->expects_response)
                    heap_push(net, (struct simnet_event){.at = net->now + delay(net),
                                                         .kind = EV_STREAM_REPLY,
                                                         .to = ev->from,
                                                         .from = i,
                                                         .stream_id = ev->stream_id,
                                                         .status = -ECONNREFUSED});
                return;
            }
            if (!reachable) {
                /* A paused process's kernel accepts the connection but nobody answers; a
                 * cut-off peer never answers: both fail after the TCP timeout. */
                if (ev->expects_response)
                    heap_push(net, (struct simnet_event){.at = net->now + net->cfg.tcp_timeout_ms,
                                                         .kind = EV_STREAM_REPLY,
                                                         .to = ev->from,
                                                         .from = i,
                                                         .stream_id = ev->stream_id,
                                                         .status = PL_ETIMEOUT});
                return;
            }
            struct pl_buf reply;
            pl_buf_init(&reply, net->cfg.stream_bytes_max);
            int rc = gossip_stream_serve(nd->g, net->now, net->nodes[ev->from].addr, ev->bytes,
                                         ev->len, &reply);
            simnet_drain(net, i);
            if (ev->expects_response)
                heap_push(net, (struct simnet_event){
                                   .at = net->now + stream_delay(net) + slow_extra(net, ev->from),
                                   .kind = EV_STREAM_REPLY,
                                   .to = ev->from,
                                   .from = i,
                                   .stream_id = ev->stream_id,
                                   .status = rc < 0 ? rc : 0,
                                   .bytes = dup_bytes(reply.data, reply.len),
                                   .len = reply.len});
            pl_buf_close(&reply);
            return;
        }
        case EV_UNREACHABLE:
            if (!simnet_up(net, i))
                return;
            gossip_udp_unreachable(nd->g, net->now, net->nodes[ev->from].addr);
            simnet_drain(net, i);
            return;
        case EV_STREAM_REPLY:
            if (nd->crashed)
                return;
            if (nd->paused) {
                /* The reply waits in the socket until the process runs again. */
                struct simnet_event later = *ev;
                later.at = net->now + 100;
                later.bytes = ev->bytes ? dup_bytes(ev->bytes, ev->len) : NULL;
                heap_push(net, later);
                return;
            }
            gossip_stream_done(nd->g, net->now, ev->stream_id, ev->status, ev->bytes, ev->len);
            simnet_drain(net, i);
            return;
    }
}

void simnet_run_until(struct simnet *net, uint64_t until)
{
    while (net->heap_n > 0 && net->heap[0].at <= until) {
        struct simnet_event ev = heap_pop(net);
        PL_ASSERT(ev.at >= net->now);
        net->now = ev.at;
        net->events_processed++;
        handle(net, &ev);
        free(ev.bytes);
    }
    if (net->now < until)
        net->now = until;
}
