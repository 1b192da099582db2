/*
 * Unit tests of the gossip core and its wire codec: message round trips and the
 * rejection of bad packets (each counted), keyring rotation, Lifeguard's suspicion
 * timeout formula against memberlist's values, refutation by incarnation, local health
 * awareness, a returning node at a new address, events delivered once, and state records.
 * Several cores talk through a tiny in-test network that delivers outputs directly.
 */
#include "gossip.h"
#include "gossip_wire.h"
#include "pl_err.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- codec ------------------------------------------------------------------------- */

struct collect
{
    struct gossip_msg msgs[16];
    uint8_t bytes[16][256];
    int n;
};

static int collect_cb(void *ctx, const struct gossip_msg *m)
{
    struct collect *c = ctx;
    if (c->n >= 16)
        return -1;
    c->msgs[c->n] = *m;
    if (m->bytes_len > 0 && m->bytes_len <= 256) {
        memcpy(c->bytes[c->n], m->bytes, m->bytes_len);
        c->msgs[c->n].bytes = c->bytes[c->n];
    }
    c->n++;
    return 0;
}

static void build(const struct gossip_msg *msgs,
                  int n,
                  const char *cluster,
                  const struct gossip_keyring *kr,
                  struct pl_buf *out)
{
    struct gossip_wire_packet pk;
    assert_int_equal(gossip_wire_packet_begin(&pk, cluster, gossip_wire_body_max(1400, kr)), 0);
    for (int i = 0; i < n; i++) {
        struct pl_buf m;
        pl_buf_init(&m, 4096);
        assert_int_equal(gossip_wire_msg_encode(&msgs[i], &m), 0);
        assert_int_equal(gossip_wire_packet_add(&pk, m.data, m.len), 0);
        pl_buf_close(&m);
    }
    assert_int_equal(gossip_wire_packet_finish(&pk, kr, out), 0);
    gossip_wire_packet_close(&pk);
}

static void test_codec_round_trip(void **state)
{
    (void)state;
    static const uint8_t tags[] = {0x81, 0xa1, 'r', 0xa2, 'd', 'b'}; /* {"r":"db"} */
    struct gossip_msg msgs[11];
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < 11; i++) {
        msgs[i].type = (enum gossip_msg_type)(i + 1);
        strcpy(msgs[i].name, "node-a");
        strcpy(msgs[i].from, "node-b");
        strcpy(msgs[i].addr, "127.0.0.1:7946");
        strcpy(msgs[i].key, "health");
        msgs[i].seq = 42 + (uint32_t)i;
        msgs[i].incarnation = 7;
        msgs[i].version = 99;
        msgs[i].flag = true;
        msgs[i].response = true;
        msgs[i].status = GOSSIP_SUSPECT;
        msgs[i].bytes = tags;
        msgs[i].bytes_len = sizeof(tags);
    }
    struct pl_buf pkt;
    pl_buf_init(&pkt, 1400);
    /* One message of every type in one compound datagram. */
    build(msgs, 11, "c1", NULL, &pkt);
    assert_true(pkt.len <= 1400);
    struct collect c = {0};
    struct gossip_wire_counters ctr = {0};
    assert_int_equal(
        gossip_wire_packet_decode(pkt.data, pkt.len, 1400, NULL, "c1", collect_cb, &c, &ctr), 0);
    assert_int_equal(c.n, 11);
    assert_int_equal(ctr.rx_ok, 1);
    assert_int_equal(c.msgs[0].seq, 42);
    assert_string_equal(c.msgs[0].name, "node-a");
    assert_string_equal(c.msgs[0].from, "node-b");
    assert_true(c.msgs[0].flag);
    assert_string_equal(c.msgs[1].addr, "127.0.0.1:7946");
    assert_int_equal(c.msgs[4].incarnation, 7);
    assert_int_equal(c.msgs[4].bytes_len, sizeof(tags));
    assert_memory_equal(c.msgs[4].bytes, tags, sizeof(tags));
    assert_string_equal(c.msgs[7].key, "health");
    assert_int_equal(c.msgs[7].version, 99);
    assert_int_equal(c.msgs[10].status, GOSSIP_SUSPECT);
    /* Canonical: re-encoding each decoded message gives the same bytes. */
    for (int i = 0; i < 11; i++) {
        struct pl_buf a, b;
        pl_buf_init(&a, 4096);
        pl_buf_init(&b, 4096);
        assert_int_equal(gossip_wire_msg_encode(&msgs[i], &a), 0);
        assert_int_equal(gossip_wire_msg_encode(&c.msgs[i], &b), 0);
        /* Only the fields of the type are encoded, so the bytes must agree. */
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        pl_buf_close(&a);
        pl_buf_close(&b);
    }
    assert_string_equal(c.msgs[9].from, "node-b"); /* a push-pull names its sender */
    /* An older agent's push-pull names none: it still decodes, with no sender. */
    struct gossip_msg old = {.type = GOSSIP_MSG_PUSHPULL, .flag = true}, back;
    struct pl_buf ob;
    pl_buf_init(&ob, 4096);
    assert_int_equal(gossip_wire_msg_encode(&old, &ob), 0);
    assert_int_equal(gossip_wire_msg_decode(GOSSIP_MSG_PUSHPULL, ob.data + GOSSIP_WIRE_MSG_HEADER_BYTES,
                                            ob.len - GOSSIP_WIRE_MSG_HEADER_BYTES, &back),
                     0);
    assert_string_equal(back.from, "");
    assert_true(back.flag);
    pl_buf_close(&ob);
    pl_buf_close(&pkt);
}

static void test_codec_rejects(void **state)
{
    (void)state;
    struct gossip_msg ping = {.type = GOSSIP_MSG_PING, .seq = 1};
    strcpy(ping.name, "a");
    strcpy(ping.from, "b");
    struct pl_buf pkt;
    pl_buf_init(&pkt, 1400);
    build(&ping, 1, "c1", NULL, &pkt);
    struct gossip_wire_counters ctr = {0};
    struct collect c = {0};
    uint8_t bad[1500];

    /* Every truncation is malformed, and none visits anything. */
    for (size_t n = 0; n < pkt.len; n++) {
        assert_int_not_equal(
            gossip_wire_packet_decode(pkt.data, n, 1400, NULL, "c1", collect_cb, &c, &ctr), 0);
    }
    assert_int_equal(c.n, 0);
    assert_int_equal(ctr.rx_malformed, pkt.len);

    /* Wrong cluster. */
    assert_int_equal(
        gossip_wire_packet_decode(pkt.data, pkt.len, 1400, NULL, "c2", NULL, NULL, &ctr),
        PL_ECLUSTER);
    assert_int_equal(ctr.rx_cluster, 1);

    /* Unknown version. */
    memcpy(bad, pkt.data, pkt.len);
    bad[2] = 9;
    assert_int_equal(gossip_wire_packet_decode(bad, pkt.len, 1400, NULL, "c1", NULL, NULL, &ctr),
                     PL_EVERSION);
    assert_int_equal(ctr.rx_version, 1);

    /* Unknown message type. */
    memcpy(bad, pkt.data, pkt.len);
    bad[4 + 1 + 2] = 77; /* header, cluster length, "c1", then the type byte */
    assert_int_equal(gossip_wire_packet_decode(bad, pkt.len, 1400, NULL, "c1", NULL, NULL, &ctr),
                     PL_EPROTO);
    assert_int_equal(ctr.rx_unknown_type, 1);

    /* A message length that runs past the end. */
    memcpy(bad, pkt.data, pkt.len);
    bad[4 + 3 + 1] = 0x7f;
    assert_int_equal(gossip_wire_packet_decode(bad, pkt.len, 1400, NULL, "c1", NULL, NULL, &ctr),
                     PL_EMALFORMED);

    /* Oversized. */
    memset(bad, 0, sizeof(bad));
    assert_int_equal(
        gossip_wire_packet_decode(bad, sizeof(bad), 1400, NULL, "c1", NULL, NULL, &ctr),
        PL_ETOOBIG);
    assert_int_equal(ctr.rx_oversized, 1);

    /* A good frame around a body of the wrong shape: an ACK whose seq is a string. */
    struct gossip_wire_packet pk;
    assert_int_equal(gossip_wire_packet_begin(&pk, "c1", 1000), 0);
    static const uint8_t ack_bad[] = {GOSSIP_MSG_ACK, 0, 0, 0, 4, 0x81, 0xa1, 's', 0xa0};
    assert_int_equal(gossip_wire_packet_add(&pk, ack_bad, sizeof(ack_bad)), 0);
    struct pl_buf out;
    pl_buf_init(&out, 1400);
    assert_int_equal(gossip_wire_packet_finish(&pk, NULL, &out), 0);
    assert_int_equal(
        gossip_wire_packet_decode(out.data, out.len, 1400, NULL, "c1", NULL, NULL, &ctr),
        PL_EMALFORMED);
    gossip_wire_packet_close(&pk);
    pl_buf_close(&out);

    /* Tags must be a map of strings. */
    struct gossip_msg alive = {.type = GOSSIP_MSG_ALIVE, .incarnation = 1};
    strcpy(alive.name, "a");
    strcpy(alive.addr, "x:1");
    static const uint8_t not_map[] = {0x92, 0x01, 0x02};
    alive.bytes = not_map;
    alive.bytes_len = sizeof(not_map);
    pl_buf_reset(&pkt);
    build(&alive, 1, "c1", NULL, &pkt);
    assert_int_equal(
        gossip_wire_packet_decode(pkt.data, pkt.len, 1400, NULL, "c1", NULL, NULL, &ctr),
        PL_EMALFORMED);
    pl_buf_close(&pkt);
}

static void test_keyring(void **state)
{
    (void)state;
    uint8_t k1[32], k2[32], k3[32], got[32];
    memset(k1, 1, 32);
    memset(k2, 2, 32);
    memset(k3, 3, 32);
    struct gossip_keyring a, b, none;
    assert_int_equal(gossip_keyring_init(&a), 0);
    assert_int_equal(gossip_keyring_init(&b), 0);
    assert_int_equal(gossip_keyring_init(&none), 0);
    assert_int_equal(gossip_keyring_install(&a, k1), 0);
    assert_int_equal(gossip_keyring_install(&b, k1), 0);
    bool primary = false;
    assert_int_equal(gossip_keyring_get(&a, 0, got, &primary), 0);
    assert_true(primary);
    assert_memory_equal(got, k1, 32);

    struct gossip_msg ping = {.type = GOSSIP_MSG_PING, .seq = 5};
    strcpy(ping.name, "a");
    strcpy(ping.from, "b");
    struct pl_buf pkt;
    pl_buf_init(&pkt, 1400);
    build(&ping, 1, "c", &a, &pkt);
    struct gossip_wire_counters ctr = {0};
    assert_int_equal(gossip_wire_packet_decode(pkt.data, pkt.len, 1400, &b, "c", NULL, NULL, &ctr),
                     0);
    /* Without keys, and with a plaintext packet when keys are set: unauthenticated. */
    assert_int_equal(
        gossip_wire_packet_decode(pkt.data, pkt.len, 1400, &none, "c", NULL, NULL, &ctr), PL_EAUTH);
    struct pl_buf plain;
    pl_buf_init(&plain, 1400);
    build(&ping, 1, "c", NULL, &plain);
    assert_int_equal(
        gossip_wire_packet_decode(plain.data, plain.len, 1400, &b, "c", NULL, NULL, &ctr),
        PL_EAUTH);
    /* A flipped ciphertext bit fails authentication. */
    pkt.data[pkt.len - 1] ^= 1;
    assert_int_equal(gossip_wire_packet_decode(pkt.data, pkt.len, 1400, &b, "c", NULL, NULL, &ctr),
                     PL_EAUTH);
    assert_int_equal(ctr.rx_unauthenticated, 3);

    /* Rotation: install k2 on both, a switches primary, b still opens; remove k1. */
    assert_int_equal(gossip_keyring_install(&a, k2), 0);
    assert_int_equal(gossip_keyring_install(&b, k2), 0);
    assert_int_equal(gossip_keyring_use(&a, k2), 0);
    assert_int_equal(gossip_keyring_remove(&a, k2), PL_ESTATE);
    assert_int_equal(gossip_keyring_use(&a, k3), PL_ENOTFOUND);
    pl_buf_reset(&pkt);
    build(&ping, 1, "c", &a, &pkt);
    assert_int_equal(gossip_keyring_remove(&b, k1), PL_ESTATE); /* still b's primary */
    assert_int_equal(gossip_keyring_use(&b, k2), 0);
    assert_int_equal(gossip_keyring_remove(&b, k1), 0);
    pl_buf_reset(&pkt);
    build(&ping, 1, "c", &a, &pkt);
    assert_int_equal(gossip_keyring_remove(&a, k1), 0);
    assert_int_equal(a.count, 1);
    assert_int_equal(gossip_keyring_remove(&a, k1), PL_ENOTFOUND);
    assert_int_equal(gossip_wire_packet_decode(pkt.data, pkt.len, 1400, &b, "c", NULL, NULL, &ctr),
                     0);
    /* A ring that only has k1 can no longer read a's packets. */
    struct gossip_keyring old;
    assert_int_equal(gossip_keyring_init(&old), 0);
    assert_int_equal(gossip_keyring_install(&old, k1), 0);
    assert_int_equal(
        gossip_wire_packet_decode(pkt.data, pkt.len, 1400, &old, "c", NULL, NULL, &ctr), PL_EAUTH);
    pl_buf_close(&pkt);
    pl_buf_close(&plain);
    gossip_keyring_close(&a);
    gossip_keyring_close(&b);
    gossip_keyring_close(&none);
    gossip_keyring_close(&old);
}

static void test_keyring_remove_primary_refused(void **state)
{
    (void)state;
    uint8_t k1[32];
    memset(k1, 9, 32);
    struct gossip_keyring kr;
    assert_int_equal(gossip_keyring_init(&kr), 0);
    assert_int_equal(gossip_keyring_install(&kr, k1), 0);
    assert_int_equal(gossip_keyring_remove(&kr, k1), PL_ESTATE);
    gossip_keyring_close(&kr);
}

/* ---- formulas ---------------------------------------------------------------------- */

static void test_suspicion_timeout(void **state)
{
    (void)state;
    struct gossip_config lan, local;
    gossip_config_default(&lan, GOSSIP_PROFILE_LAN);
    gossip_config_default(&local, GOSSIP_PROFILE_LOCAL);
    /* facts/gossip.md §1: LAN n<=10 min 4 s / max 24 s, k = 2. */
    assert_int_equal(gossip_suspicion_timeout_ms(&lan, 5, 0), 24000);
    assert_int_equal(gossip_suspicion_timeout_ms(&lan, 10, 0), 24000);
    /* One of two confirmations: 24000 - 20000 * log(2)/log(3) = 11381.4. */
    assert_int_equal(gossip_suspicion_timeout_ms(&lan, 10, 1), 11381);
    assert_int_equal(gossip_suspicion_timeout_ms(&lan, 10, 2), 4000);
    assert_int_equal(gossip_suspicion_timeout_ms(&lan, 10, 9), 4000);
    /* n = 20: min 5.2 s, max 31.2 s; n = 40: 6.4 / 38.4 s. */
    assert_int_equal(gossip_suspicion_timeout_ms(&lan, 20, 2), 5204);
    assert_int_equal(gossip_suspicion_timeout_ms(&lan, 20, 0), 31224);
    assert_int_equal(gossip_suspicion_timeout_ms(&lan, 40, 2), 6408);
    /* Too few members to expect confirmations (n - 2 < k): min at once. */
    assert_int_equal(gossip_suspicion_timeout_ms(&lan, 3, 0), 4000);
    /* Local n<=10: 3 s / 18 s, k = 1. */
    assert_int_equal(gossip_suspicion_timeout_ms(&local, 10, 0), 18000);
    assert_int_equal(gossip_suspicion_timeout_ms(&local, 10, 1), 3000);
    /* Lifeguard off: the fixed min. */
    lan.lifeguard = false;
    assert_int_equal(gossip_suspicion_timeout_ms(&lan, 10, 0), 4000);
    /* Retransmit limits: LAN 4 for n<=9, 8 for 10..99; Local 2 / 4. */
    gossip_config_default(&lan, GOSSIP_PROFILE_LAN);
    assert_int_equal(gossip_retransmit_limit(&lan, 9), 4);
    assert_int_equal(gossip_retransmit_limit(&lan, 10), 8);
    assert_int_equal(gossip_retransmit_limit(&lan, 99), 8);
    assert_int_equal(gossip_retransmit_limit(&local, 5), 2);
    assert_int_equal(gossip_retransmit_limit(&local, 50), 4);
}

/* ---- a tiny network of cores ------------------------------------------------------- */

#define NET_MAX 8

struct net
{
    struct gossip *g[NET_MAX];
    struct pl_rand rand[NET_MAX];
    char names[NET_MAX][16];
    char addrs[NET_MAX][16];
    bool down[NET_MAX]; /* drops everything to and from it */
    int n;
    uint64_t now;
    int events[NET_MAX]; /* user events delivered */
    int member_events[NET_MAX][8];
};

static int net_find(struct net *net, const char *addr)
{
    for (int i = 0; i < net->n; i++)
        if (strcmp(net->addrs[i], addr) == 0)
            return i;
    return -1;
}

/* Drains node i's outputs, delivering packets and streams at once (zero latency). */
static void net_drain(struct net *net, int i)
{
    const struct gossip_out *outs;
    size_t n;
    gossip_outputs(net->g[i], &outs, &n);
    /* Copy first: delivering may make other cores produce outputs, never this one's
     * (streams answer synchronously through serve and done, which append to i's list),
     * so work on a snapshot and clear before the callbacks. */
    struct gossip_out copy[256];
    uint8_t *bytes[256];
    size_t m = n < 256 ? n : 256;
    for (size_t k = 0; k < m; k++) {
        copy[k] = outs[k];
        bytes[k] = NULL;
        if (outs[k].bytes != NULL) {
            bytes[k] = malloc(outs[k].len + 1);
            memcpy(bytes[k], outs[k].bytes, outs[k].len);
            copy[k].bytes = bytes[k];
        }
    }
    gossip_outputs_clear(net->g[i]);
    for (size_t k = 0; k < m; k++) {
        const struct gossip_out *o = &copy[k];
        if (o->kind == GOSSIP_OUT_EVENT)
            net->events[i]++;
        if (o->kind == GOSSIP_OUT_MEMBER)
            net->member_events[i][o->member_event]++;
        int j = (o->kind == GOSSIP_OUT_UDP || o->kind == GOSSIP_OUT_STREAM) ? net_find(net, o->addr)
                                                                            : -1;
        bool lost = j < 0 || net->down[i] || net->down[j];
        if (o->kind == GOSSIP_OUT_UDP && !lost) {
            gossip_step(net->g[j], net->now, net->addrs[i], o->bytes, o->len);
            net_drain(net, j);
        } else if (o->kind == GOSSIP_OUT_STREAM) {
            struct pl_buf reply;
            pl_buf_init(&reply, 1 << 24);
            /* A crashed peer's host refuses; when we are the one cut off, it times out. */
            int rc = lost ? (j >= 0 && !net->down[i] ? -ECONNREFUSED : -ETIMEDOUT)
                          : gossip_stream_serve(net->g[j], net->now, net->addrs[i], o->bytes,
                                                o->len, &reply);
            if (!lost)
                net_drain(net, j);
            if (o->expects_response) {
                gossip_stream_done(net->g[i], net->now, o->stream_id, rc < 0 ? rc : 0, reply.data,
                                   reply.len);
                net_drain(net, i);
            }
            pl_buf_close(&reply);
        }
        free(bytes[k]);
    }
}

static uint64_t g_reap_ms; /* when set, reap_dead_ms and reap_left_ms of new cores */

static void net_add(struct net *net, const char *name, const char *addr, uint64_t inc)
{
    int i = net->n++;
    struct gossip_config cfg;
    gossip_config_default(&cfg, GOSSIP_PROFILE_LAN);
    if (g_reap_ms != 0)
        cfg.reap_dead_ms = cfg.reap_left_ms = g_reap_ms;
    cfg.members_max = 32;
    cfg.states_max = 64;
    cfg.broadcasts_max = 256;
    cfg.outputs_max = 256;
    cfg.stream_bytes_max = 1 << 20;
    pl_rand_seed(&net->rand[i], 1000 + (uint64_t)i);
    snprintf(net->names[i], sizeof(net->names[i]), "%s", name);
    snprintf(net->addrs[i], sizeof(net->addrs[i]), "%s", addr);
    assert_int_equal(gossip_new(&cfg, name, addr, inc, &net->rand[i], net->now, &net->g[i]), 0);
}

/* Adds n cores named n0..n<n-1> at addresses a0..a<n-1>, all at incarnation 0. */
static void net_add_n(struct net *net, int n)
{
    for (int i = 0; i < n; i++) {
        char name[16], addr[16];
        snprintf(name, sizeof(name), "n%d", i);
        snprintf(addr, sizeof(addr), "a%d", i);
        net_add(net, name, addr, 0);
    }
}

static void net_run(struct net *net, uint64_t until)
{
    while (net->now < until) {
        uint64_t next = until;
        for (int i = 0; i < net->n; i++)
            if (!net->down[i] && gossip_deadline(net->g[i]) < next)
                next = gossip_deadline(net->g[i]);
        if (next > net->now)
            net->now = next;
        for (int i = 0; i < net->n; i++) {
            if (net->down[i] || gossip_deadline(net->g[i]) > net->now)
                continue;
            gossip_tick(net->g[i], net->now);
            net_drain(net, i);
        }
    }
}

static void net_free(struct net *net)
{
    for (int i = 0; i < net->n; i++)
        gossip_free(net->g[i]);
}

static void net_join_all(struct net *net)
{
    for (int i = 1; i < net->n; i++) {
        const char *seed = net->addrs[0];
        assert_int_equal(gossip_join(net->g[i], net->now, &seed, 1), 1);
        net_drain(net, i);
    }
}

/* A fresh net of n cores named n0..n<n-1>, joined through n0 and run to `until` ms. */
static void net_cluster(struct net *net, int n, uint64_t until)
{
    memset(net, 0, sizeof(*net));
    net_add_n(net, n);
    net_join_all(net);
    net_run(net, until);
}

static void test_join_and_converge(void **state)
{
    (void)state;
    static struct net net;
    net_cluster(&net, 5, 10000);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(gossip_member_count(net.g[i], GOSSIP_ALIVE), 5);
        /* No loss, no delay: every probe is answered (the agent times these round trips). */
        const struct gossip_counters *c = gossip_counters_get(net.g[i]);
        assert_true(c->probes >= 5);
        assert_int_equal(c->probes_acked, c->probes);
        assert_int_equal(c->probe_failures, 0);
    }
    net_free(&net);
}

static void test_refutation(void **state)
{
    (void)state;
    static struct net net;
    memset(&net, 0, sizeof(net));
    net_add(&net, "n0", "a0", 0);
    net_add(&net, "n1", "a1", 0);
    net_add(&net, "n2", "a2", 0);
    net_join_all(&net);
    net_run(&net, 5000);
    assert_int_equal(gossip_member_find(net.g[0], "n1")->incarnation, 0);
    /* Someone (a stale or slow node) tells everybody n1 is suspect at incarnation 0. */
    struct gossip_msg s = {.type = GOSSIP_MSG_SUSPECT, .incarnation = 0};
    strcpy(s.name, "n1");
    strcpy(s.from, "n2");
    struct pl_buf pkt;
    pl_buf_init(&pkt, 1400);
    build(&s, 1, "platelet", NULL, &pkt);
    assert_int_equal(gossip_step(net.g[0], net.now, "a2", pkt.data, pkt.len), 0);
    assert_int_equal(gossip_member_find(net.g[0], "n1")->status, GOSSIP_SUSPECT);
    net_drain(&net, 0);
    /* n1 hears of it (piggyback, buddy ping or gossip) and refutes with incarnation 1. */
    net_run(&net, net.now + 3000);
    assert_int_equal(gossip_member_find(net.g[1], "n1")->incarnation, 1);
    assert_true(gossip_counters_get(net.g[1])->refutations >= 1);
    assert_int_equal(gossip_member_find(net.g[0], "n1")->status, GOSSIP_ALIVE);
    assert_int_equal(gossip_member_find(net.g[0], "n1")->incarnation, 1);
    assert_true(net.member_events[0][GOSSIP_MEMBER_ALIVE] >= 1);
    /* A dead claim about an older incarnation changes nothing. */
    struct gossip_msg d = {.type = GOSSIP_MSG_DEAD, .incarnation = 0};
    strcpy(d.name, "n1");
    strcpy(d.from, "n2");
    pl_buf_reset(&pkt);
    build(&d, 1, "platelet", NULL, &pkt);
    assert_int_equal(gossip_step(net.g[0], net.now, "a2", pkt.data, pkt.len), 0);
    assert_int_equal(gossip_member_find(net.g[0], "n1")->status, GOSSIP_ALIVE);
    pl_buf_close(&pkt);
    net_drain(&net, 0);
    net_free(&net);
}

static void test_failure_and_awareness(void **state)
{
    (void)state;
    static struct net net;
    net_cluster(&net, 5, 5000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(gossip_awareness(net.g[i]), 0);
    /* n4 crashes: everyone else must declare it dead within the max suspicion time. */
    net.down[4] = true;
    net_run(&net, net.now + 30000);
    for (int i = 0; i < 4; i++) {
        const struct gossip_member *m = gossip_member_find(net.g[i], "n4");
        assert_int_equal(m->status, GOSSIP_DEAD);
        /* A probe of the crashed member is a failure, not an ack. */
        const struct gossip_counters *c = gossip_counters_get(net.g[i]);
        assert_true(c->probe_failures >= 1);
        assert_true(c->probes_acked + c->probe_failures <= c->probes);
    }
    /* Relays answered with nacks, so the probers' health stayed good. */
    for (int i = 0; i < 4; i++)
        assert_true(gossip_awareness(net.g[i]) <= 1);
    /* Now n0 is cut off from everyone: its probes fail and no nacks come back, so its
     * local health score rises (Lifeguard) and stays capped below the multiplier. */
    net.down[4] = false;
    net.down[0] = true;
    for (int k = 0; k < 20; k++) {
        net.now += 1000;
        gossip_tick(net.g[0], net.now);
        net_drain(&net, 0);
    }
    assert_true(gossip_awareness(net.g[0]) >= 3);
    assert_true(gossip_awareness(net.g[0]) <= 7);
    net_free(&net);
}

/* An ICMP port unreachable for the member being probed sends the TCP fallback ping at once
 * (not after the probe timeout); one for any other address does nothing. */
static void test_unreachable_starts_tcp_ping(void **state)
{
    (void)state;
    static struct net net;
    net_cluster(&net, 3, 3000);
    net.down[2] = true;
    bool seen = false;
    for (int k = 0; k < 50 && !seen; k++) {
        net.now = gossip_deadline(net.g[0]);
        gossip_tick(net.g[0], net.now);
        const struct gossip_out *outs;
        size_t n;
        gossip_outputs(net.g[0], &outs, &n);
        bool pinged = false;
        for (size_t i = 0; i < n; i++)
            pinged |= outs[i].kind == GOSSIP_OUT_UDP && strcmp(outs[i].addr, "a2") == 0;
        bool streamed = false;
        for (size_t i = 0; i < n; i++)
            streamed |= outs[i].kind == GOSSIP_OUT_STREAM && strcmp(outs[i].addr, "a2") == 0;
        gossip_outputs_clear(net.g[0]);
        if (!pinged || streamed)
            continue;
        /* A report about an address we are not probing changes nothing. */
        gossip_udp_unreachable(net.g[0], net.now, "a9");
        gossip_outputs(net.g[0], &outs, &n);
        assert_int_equal(n, 0);
        gossip_udp_unreachable(net.g[0], net.now, "a2");
        gossip_outputs(net.g[0], &outs, &n);
        for (size_t i = 0; i < n; i++)
            seen |= outs[i].kind == GOSSIP_OUT_STREAM && strcmp(outs[i].addr, "a2") == 0 &&
                    outs[i].expects_response;
        gossip_outputs_clear(net.g[0]);
    }
    assert_true(seen);
    assert_true(gossip_counters_get(net.g[0])->udp_unreachable >= 2);
    net_free(&net);
}

static void test_new_address_same_node(void **state)
{
    (void)state;
    static struct net net;
    memset(&net, 0, sizeof(net));
    net_add(&net, "n0", "a0", 0);
    net_add(&net, "n1", "a1", 0);
    net_add(&net, "n2", "a2", 0);
    net_join_all(&net);
    net_run(&net, 5000);
    /* n2 restarts at a new address with a fresh incarnation 0. */
    net.down[2] = true;
    net_add(&net, "n2", "a3", 0);
    const char *seed = "a0";
    gossip_join(net.g[3], net.now, &seed, 1);
    net_drain(&net, 3);
    net_run(&net, net.now + 10000);
    const struct gossip_member *m = gossip_member_find(net.g[0], "n2");
    assert_string_equal(m->addr, "a3");
    assert_int_equal(m->status, GOSSIP_ALIVE);
    assert_true(m->incarnation >= 1);
    assert_string_equal(gossip_member_find(net.g[1], "n2")->addr, "a3");
    assert_true(net.member_events[0][GOSSIP_MEMBER_UPDATE] >= 1);
    net_free(&net);
}

static void test_events_once_and_state(void **state)
{
    (void)state;
    static struct net net;
    net_cluster(&net, 5, 5000);
    assert_int_equal(gossip_event_send(net.g[2], net.now, "deploy", (const uint8_t *)"v2", 2), 0);
    net_drain(&net, 2);
    assert_int_equal(gossip_state_set(net.g[3], net.now, "health", (const uint8_t *)"ok", 2), 0);
    assert_int_equal(gossip_state_set(net.g[3], net.now, "health", (const uint8_t *)"bad", 3), 0);
    net_drain(&net, 3);
    net_run(&net, net.now + 5000);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(net.events[i], 1);
        const uint8_t *v;
        size_t len;
        uint64_t ver;
        assert_int_equal(gossip_state_get(net.g[i], "n3", "health", &v, &len, &ver), 0);
        assert_int_equal(ver, 2);
        assert_int_equal(len, 3);
        assert_memory_equal(v, "bad", 3);
        assert_true(gossip_lamport_time(net.g[i]) >= 1);
    }
    /* A record too large for a datagram travels over TCP and still reaches everyone. */
    static uint8_t big[5000];
    for (size_t k = 0; k < sizeof(big); k++)
        big[k] = (uint8_t)(k * 7);
    assert_int_equal(gossip_state_set(net.g[0], net.now, "baseline", big, sizeof(big)), 0);
    net_drain(&net, 0);
    net_run(&net, net.now + 10000);
    for (int i = 1; i < 5; i++) {
        const uint8_t *v;
        size_t len;
        uint64_t ver;
        assert_int_equal(gossip_state_get(net.g[i], "n0", "baseline", &v, &len, &ver), 0);
        assert_int_equal(len, sizeof(big));
        assert_memory_equal(v, big, sizeof(big));
    }
    assert_true(gossip_counters_get(net.g[0])->tx_streams > 0);
    /* Tags: an update raises the incarnation and reaches the others. */
    static const uint8_t tags[] = {0x81, 0xa4, 'r', 'o', 'l', 'e', 0xa2, 'd', 'b'};
    assert_int_equal(gossip_tags_set(net.g[1], net.now, tags, sizeof(tags)), 0);
    static const uint8_t bad_tags[] = {0x01};
    assert_int_equal(gossip_tags_set(net.g[1], net.now, bad_tags, sizeof(bad_tags)), PL_EMALFORMED);
    net_drain(&net, 1);
    net_run(&net, net.now + 5000);
    const struct gossip_member *m = gossip_member_find(net.g[4], "n1");
    assert_int_equal(m->tags_len, sizeof(tags));
    assert_memory_equal(m->tags, tags, sizeof(tags));
    /* Leave: everyone marks n1 left. */
    assert_int_equal(gossip_leave(net.g[1], net.now), 0);
    net_drain(&net, 1);
    net_run(&net, net.now + 5000);
    for (int i = 0; i < 5; i++)
        if (i != 1)
            assert_int_equal(gossip_member_find(net.g[i], "n1")->status, GOSSIP_LEFT);
    net_free(&net);
}

static void test_reap(void **state)
{
    (void)state;
    static struct net net;
    memset(&net, 0, sizeof(net));
    g_reap_ms = 10000;
    net_add_n(&net, 4);
    g_reap_ms = 0;
    net_join_all(&net);
    net_run(&net, 5000);
    assert_int_equal(gossip_state_set(net.g[3], net.now, "k", (const uint8_t *)"v", 1), 0);
    net_drain(&net, 3);
    net_run(&net, net.now + 2000);
    const uint8_t *v;
    size_t len;
    uint64_t ver;
    assert_int_equal(gossip_state_get(net.g[0], "n3", "k", &v, &len, &ver), 0);
    net.down[3] = true;
    net_run(&net, net.now + 30000); /* dead within the max suspicion, then 10 s more */
    for (int i = 0; i < 3; i++) {
        assert_null(gossip_member_find(net.g[i], "n3"));
        assert_int_equal(net.member_events[i][GOSSIP_MEMBER_DEAD], 1);
        assert_int_equal(net.member_events[i][GOSSIP_MEMBER_REAP], 1);
        /* Its records go with it. */
        assert_int_equal(gossip_state_get(net.g[i], "n3", "k", &v, &len, &ver), PL_ENOTFOUND);
        assert_int_equal(gossip_member_count(net.g[i], GOSSIP_ALIVE), 3);
        assert_int_equal(gossip_member_count(net.g[i], GOSSIP_DEAD), 0);
    }
    net_free(&net);
}

static void test_event_repaired_by_pushpull(void **state)
{
    (void)state;
    static struct net net;
    net_cluster(&net, 5, 5000);
    /* n4 is cut off while the event spreads and its retransmissions die out. */
    net.down[4] = true;
    assert_int_equal(gossip_event_send(net.g[2], net.now, "deploy", (const uint8_t *)"v3", 2), 0);
    net_drain(&net, 2);
    net_run(&net, net.now + 10000);
    assert_int_equal(net.events[4], 0);
    /* Back: the next push-pull either way carries the recent events; delivered once. */
    net.down[4] = false;
    net_run(&net, net.now + 130000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(net.events[i], 1);
    /* A member joining now gets the event as history: marked seen, not delivered. */
    net_add(&net, "n5", "a5", 0);
    const char *seed = "a0";
    gossip_join(net.g[5], net.now, &seed, 1);
    net_drain(&net, 5);
    net_run(&net, net.now + 60000);
    assert_int_equal(net.events[5], 0);
    assert_int_equal(gossip_member_count(net.g[5], GOSSIP_ALIVE), 6);
    net_free(&net);
}

static void test_other_cluster_dropped(void **state)
{
    (void)state;
    static struct net net;
    memset(&net, 0, sizeof(net));
    net_add(&net, "n0", "a0", 0);
    struct gossip_msg alive = {.type = GOSSIP_MSG_ALIVE, .incarnation = 1};
    strcpy(alive.name, "intruder");
    strcpy(alive.addr, "x:1");
    struct pl_buf pkt;
    pl_buf_init(&pkt, 1400);
    build(&alive, 1, "other", NULL, &pkt);
    assert_int_equal(gossip_step(net.g[0], 0, "x:1", pkt.data, pkt.len), PL_ECLUSTER);
    assert_null(gossip_member_find(net.g[0], "intruder"));
    assert_int_equal(gossip_counters_get(net.g[0])->wire.rx_cluster, 1);
    pl_buf_close(&pkt);
    net_free(&net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_codec_rejects),
        cmocka_unit_test(test_keyring),
        cmocka_unit_test(test_keyring_remove_primary_refused),
        cmocka_unit_test(test_suspicion_timeout),
        cmocka_unit_test(test_join_and_converge),
        cmocka_unit_test(test_refutation),
        cmocka_unit_test(test_failure_and_awareness),
        cmocka_unit_test(test_unreachable_starts_tcp_ping),
        cmocka_unit_test(test_new_address_same_node),
        cmocka_unit_test(test_events_once_and_state),
        cmocka_unit_test(test_reap),
        cmocka_unit_test(test_event_repaired_by_pushpull),
        cmocka_unit_test(test_other_cluster_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
