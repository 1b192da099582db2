/*
 * The gossip protocol core (see gossip.h for the calling convention).
 *
 * Sections of this file and what they implement:
 *   - members: the member table (slots, a name index, a free list) and the state
 *     transitions of SWIM §4.2 (alive/suspect/dead with incarnations) plus "left";
 *   - broadcasts: memberlist's transmit-limited queue, newest and least sent first, with
 *     lazy invalidation (a newer claim about the same member or record replaces the older);
 *   - probing: SWIM §3/§4.3 round-robin probe over a shuffled list, indirect probes,
 *     the TCP fallback ping, and Lifeguard's Local Health Aware Probe (nacks, the local
 *     health multiplier) and Buddy System;
 *   - suspicion: Lifeguard's Local Health Aware Suspicion (the timeout shrinks with
 *     independent confirmations);
 *   - state records, tags and user events (Lamport clock, de-duplication window);
 *   - push-pull anti-entropy (memberlist) over a stream exchange the shell carries out.
 */
#include "gossip.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_mp.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum bcast_kind { BC_MEMBER, BC_STATE, BC_EVENT };

struct bcast
{
    uint64_t id;
    uint8_t kind;
    uint32_t ref; /* member slot or record index */
    uint32_t transmits;
    uint64_t stamp; /* the last bcast_fill that took it */
    uint8_t *bytes; /* a framed message; NULL when the entry is gone */
    uint32_t len;
};

struct gossip_suspicion
{
    uint64_t start_ms;
    uint64_t min_ms;
    uint64_t max_ms;
    uint64_t deadline_ms;
    uint32_t k;         /* confirmations expected */
    uint32_t confirmed; /* independent confirmations so far */
    uint32_t quorum;    /* fast_suspicion: suspecters that make a majority of the others */
    uint32_t names_max; /* room in names[] */
    uint32_t names_n;
    char names[][GOSSIP_NAME_MAX]; /* the original suspecter and each confirmer */
};

struct record
{
    bool used;
    char node[GOSSIP_NAME_MAX];
    char key[GOSSIP_STATE_KEY_MAX];
    uint8_t *value;
    size_t len;
    uint64_t version;
    uint64_t bcast_id;
};

struct relay
{
    bool used;
    uint32_t seq;        /* our ping to the target */
    uint32_t origin_seq; /* the asker's probe */
    char origin_addr[GOSSIP_ADDR_MAX];
    uint64_t deadline_ms;
    bool nack;
};

enum stream_kind { ST_JOIN, ST_PUSHPULL, ST_PING };

struct pending_stream
{
    bool used;
    uint64_t id;
    enum stream_kind kind;
    uint32_t probe_seq;
};

#define RELAYS_MAX 64
#define STREAMS_MAX 64
#define REAP_CHECK_MS 1000
#define EVENTS_REPLAY_MAX 64

struct probe
{
    bool active;
    bool acked;
    bool indirect_sent;
    uint32_t slot;
    char name[GOSSIP_NAME_MAX];
    uint32_t seq;
    uint64_t timeout_at;
    uint64_t end_at;
    uint32_t nacks_expected;
    uint32_t nacks;
    bool refused; /* the target's host refused our TCP ping: nothing listens there */
    bool tcp_sent; /* the TCP fallback ping is out */
};

struct gossip
{
    struct gossip_config cfg;
    struct pl_rand *rand;
    struct gossip_counters counters;

    struct gossip_member *members; /* members_max slots; slot 0 is us */
    uint32_t slots;                /* high-water mark */
    uint32_t *free_slots;
    uint32_t free_n;
    uint32_t *index; /* open addressing: slot + 1, 0 empty */
    uint32_t index_cap;
    uint32_t status_count[4];

    uint32_t *probe_list;
    uint32_t probe_n;
    uint32_t probe_pos;
    struct probe probe;
    uint32_t seq;
    uint32_t awareness;
    int32_t priority_probe; /* fast_suspicion: a suspect to probe next, or -1 */

    uint32_t *suspects;
    uint32_t suspects_n;

    struct relay relays[RELAYS_MAX];
    struct pending_stream streams[STREAMS_MAX];
    uint64_t stream_next_id;

    struct bcast *bc;
    uint32_t bc_n;
    uint64_t bcast_next_id;
    uint64_t fill_stamp;
    uint32_t bc_tmin; /* no queued broadcast has fewer transmits than this */
    uint32_t bc_big;  /* queued broadcasts too large for a datagram (an upper bound) */

    struct record *records;
    uint32_t records_n; /* high-water mark */
    uint32_t *rindex;
    uint32_t rindex_cap;
    uint32_t records_used;

    uint64_t lamport;
    /* The last EVENTS_REPLAY_MAX events (framed messages), carried in push-pull so a
     * member the gossip missed still gets them, once (de-duplication). */
    uint8_t *replay[EVENTS_REPLAY_MAX];
    uint32_t replay_len[EVENTS_REPLAY_MAX];
    uint32_t replay_pos;
    uint64_t *seen; /* ring of event ids */
    uint32_t seen_n;
    uint32_t seen_pos;

    uint64_t next_probe_ms;
    uint64_t next_gossip_ms;
    uint64_t next_pushpull_ms;
    uint64_t next_reap_ms;
    bool leaving;

    struct gossip_out *outs;
    size_t outs_n;
    struct pl_buf scratch; /* message encoding */
    struct gossip_wire_packet udp_pk;
    struct pl_buf udp_out;
};

/* ---- small helpers ----------------------------------------------------------------- */

static void trace(struct gossip *g, uint64_t now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void trace(struct gossip *g, uint64_t now, const char *fmt, ...)
{
    if (g->cfg.trace_cb == NULL)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    g->cfg.trace_cb(g->cfg.trace_ctx, now, line);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
    return h;
}
#define HASH_SEED 14695981039346656037ull

static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

const char *gossip_status_name(enum gossip_status s)
{
    switch (s) {
        case GOSSIP_ALIVE:
            return "alive";
        case GOSSIP_SUSPECT:
            return "suspect";
        case GOSSIP_DEAD:
            return "dead";
        case GOSSIP_LEFT:
            return "left";
    }
    return "unknown";
}

const char *gossip_member_event_name(enum gossip_member_event e)
{
    switch (e) {
        case GOSSIP_MEMBER_JOIN:
            return "join";
        case GOSSIP_MEMBER_ALIVE:
            return "alive";
        case GOSSIP_MEMBER_SUSPECT:
            return "suspect";
        case GOSSIP_MEMBER_DEAD:
            return "dead";
        case GOSSIP_MEMBER_LEFT:
            return "left";
        case GOSSIP_MEMBER_UPDATE:
            return "update";
        case GOSSIP_MEMBER_REAP:
            return "reap";
    }
    return "unknown";
}

/* ---- configuration ----------------------------------------------------------------- */

void gossip_config_default(struct gossip_config *cfg, enum gossip_profile profile)
{
    memset(cfg, 0, sizeof(*cfg));
    copy_str(cfg->cluster, sizeof(cfg->cluster), "platelet");
    cfg->probe_interval_ms = 1000;
    cfg->probe_timeout_ms = 500;
    cfg->indirect_checks = 3;
    cfg->suspicion_mult = 4;
    cfg->suspicion_max_timeout_mult = 6;
    cfg->gossip_interval_ms = 200;
    cfg->gossip_nodes = 3;
    cfg->retransmit_mult = 4;
    cfg->pushpull_interval_ms = 30000;
    cfg->awareness_max_multiplier = 8;
    cfg->gossip_to_the_dead_ms = 30000;
    cfg->tcp_timeout_ms = 10000;
    if (profile == GOSSIP_PROFILE_WAN) {
        cfg->probe_interval_ms = 5000;
        cfg->probe_timeout_ms = 3000;
        cfg->suspicion_mult = 6;
        cfg->gossip_interval_ms = 500;
        cfg->gossip_nodes = 4;
        cfg->pushpull_interval_ms = 60000;
        cfg->gossip_to_the_dead_ms = 60000;
        cfg->tcp_timeout_ms = 30000;
    } else if (profile == GOSSIP_PROFILE_LOCAL) {
        cfg->probe_timeout_ms = 200;
        cfg->indirect_checks = 1;
        cfg->suspicion_mult = 3;
        cfg->gossip_interval_ms = 100;
        cfg->retransmit_mult = 2;
        cfg->pushpull_interval_ms = 15000;
        cfg->gossip_to_the_dead_ms = 15000;
        cfg->tcp_timeout_ms = 1000;
    }
    cfg->reap_dead_ms = 24ull * 3600 * 1000;
    cfg->reap_left_ms = 24ull * 3600 * 1000;
    cfg->udp_bytes_max = 1400;
    cfg->stream_bytes_max = 8u * 1024 * 1024;
    cfg->members_max = 4096;
    cfg->states_max = 65536;
    cfg->broadcasts_max = 8192;
    cfg->events_recent_max = 1024;
    cfg->outputs_max = 16384;
    cfg->lifeguard = true;
    cfg->fast_suspicion = true;
    cfg->tcp_ping = true;
}

int gossip_profile_parse(const char *text, enum gossip_profile *out)
{
    if (strcmp(text, "lan") == 0)
        *out = GOSSIP_PROFILE_LAN;
    else if (strcmp(text, "wan") == 0)
        *out = GOSSIP_PROFILE_WAN;
    else if (strcmp(text, "local") == 0)
        *out = GOSSIP_PROFILE_LOCAL;
    else
        return PL_EMALFORMED;
    return 0;
}

uint64_t gossip_suspicion_timeout_ms(const struct gossip_config *cfg, uint32_t n, uint32_t c)
{
    double nodes = n < 1 ? 1.0 : (double)n;
    double scale = log10(nodes);
    if (scale < 1.0)
        scale = 1.0;
    double min = (double)cfg->suspicion_mult * scale * (double)cfg->probe_interval_ms;
    double max = (double)cfg->suspicion_max_timeout_mult * min;
    if (!cfg->lifeguard)
        return (uint64_t)min;
    int64_t k = (int64_t)cfg->suspicion_mult - 2;
    if ((int64_t)n - 2 < k)
        k = 0;
    if (k < 1)
        return (uint64_t)min;
    double frac = log((double)c + 1.0) / log((double)k + 1.0);
    double t = max - (max - min) * frac;
    if (t < min)
        t = min;
    return (uint64_t)floor(t);
}

uint32_t gossip_retransmit_limit(const struct gossip_config *cfg, uint32_t n)
{
    double s = ceil(log10((double)n + 1.0));
    return cfg->retransmit_mult * (uint32_t)s;
}

/* ---- outputs ------------------------------------------------------------------------ */

static struct gossip_out *out_push(struct gossip *g, enum gossip_out_kind kind)
{
    if (g->outs_n >= g->cfg.outputs_max) {
        g->counters.dropped_full++;
        return NULL;
    }
    struct gossip_out *o = &g->outs[g->outs_n++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    return o;
}

static void emit_member(struct gossip *g,
                        const struct gossip_member *m,
                        enum gossip_member_event ev)
{
    struct gossip_out *o = out_push(g, GOSSIP_OUT_MEMBER);
    if (o == NULL)
        return;
    o->member_event = ev;
    o->status = m->status;
    o->incarnation = m->incarnation;
    copy_str(o->name, sizeof(o->name), m->name);
    copy_str(o->addr, sizeof(o->addr), m->addr);
}

static void emit_bytes(struct gossip *g,
                       enum gossip_out_kind kind,
                       const char *addr,
                       const struct pl_buf *bytes,
                       bool expects_response,
                       uint64_t stream_id)
{
    struct gossip_out *o = out_push(g, kind);
    if (o == NULL)
        return;
    o->bytes = malloc(bytes->len ? bytes->len : 1);
    if (o->bytes == NULL) {
        g->outs_n--;
        g->counters.dropped_full++;
        return;
    }
    memcpy(o->bytes, bytes->data, bytes->len);
    o->len = bytes->len;
    copy_str(o->addr, sizeof(o->addr), addr);
    o->expects_response = expects_response;
    o->stream_id = stream_id;
    o->timeout_ms = g->cfg.tcp_timeout_ms;
    if (kind == GOSSIP_OUT_UDP) {
        g->counters.tx_packets++;
        g->counters.tx_bytes += bytes->len;
    } else {
        g->counters.tx_streams++;
    }
}

void gossip_outputs(const struct gossip *g, const struct gossip_out **outs, size_t *n)
{
    *outs = g->outs;
    *n = g->outs_n;
}

void gossip_outputs_clear(struct gossip *g)
{
    for (size_t i = 0; i < g->outs_n; i++)
        free(g->outs[i].bytes);
    g->outs_n = 0;
}

/* ---- member table ------------------------------------------------------------------- */

static void index_put(struct gossip *g, uint32_t slot)
{
    uint32_t mask = g->index_cap - 1;
    uint32_t h = (uint32_t)hash_str(HASH_SEED, g->members[slot].name) & mask;
    while (g->index[h] != 0)
        h = (h + 1) & mask;
    g->index[h] = slot + 1;
}

static void index_rebuild(struct gossip *g)
{
    memset(g->index, 0, g->index_cap * sizeof(uint32_t));
    for (uint32_t s = 0; s < g->slots; s++)
        if (g->members[s].used)
            index_put(g, s);
}

static struct gossip_member *member_find(const struct gossip *g, const char *name)
{
    uint32_t mask = g->index_cap - 1;
    uint32_t h = (uint32_t)hash_str(HASH_SEED, name) & mask;
    while (g->index[h] != 0) {
        struct gossip_member *m = &g->members[g->index[h] - 1];
        if (strcmp(m->name, name) == 0)
            return m;
        h = (h + 1) & mask;
    }
    return NULL;
}

static uint32_t slot_of(const struct gossip *g, const struct gossip_member *m)
{
    return (uint32_t)(m - g->members);
}

static void set_status(struct gossip *g,
                       struct gossip_member *m,
                       enum gossip_status s,
                       uint64_t now)
{
    g->status_count[m->status]--;
    g->status_count[s]++;
    m->status = s;
    m->status_change_ms = now;
}

/* Members not dead or left: memberlist's estimate of n for timeouts and retransmits. */
static uint32_t live_count(const struct gossip *g)
{
    return g->status_count[GOSSIP_ALIVE] + g->status_count[GOSSIP_SUSPECT];
}

static int set_tags(struct gossip_member *m, const uint8_t *tags, size_t len)
{
    uint8_t *copy = NULL;
    if (len > 0) {
        copy = malloc(len);
        if (copy == NULL)
            return -ENOMEM;
        memcpy(copy, tags, len);
    }
    free(m->tags);
    m->tags = copy;
    m->tags_len = (uint32_t)len;
    return 0;
}

static bool tags_equal(const struct gossip_member *m, const uint8_t *tags, size_t len)
{
    return m->tags_len == len && (len == 0 || memcmp(m->tags, tags, len) == 0);
}

static void suspicion_clear(struct gossip *g, struct gossip_member *m)
{
    if (m->suspicion == NULL)
        return;
    free(m->suspicion);
    m->suspicion = NULL;
    uint32_t slot = slot_of(g, m);
    for (uint32_t i = 0; i < g->suspects_n; i++) {
        if (g->suspects[i] == slot) {
            g->suspects[i] = g->suspects[--g->suspects_n];
            break;
        }
    }
}

static struct gossip_member *member_add(struct gossip *g,
                                        const char *name,
                                        const char *addr,
                                        uint64_t now)
{
    uint32_t slot;
    if (g->free_n > 0) {
        slot = g->free_slots[--g->free_n];
    } else if (g->slots < g->cfg.members_max) {
        slot = g->slots++;
    } else {
        g->counters.dropped_full++;
        return NULL;
    }
    struct gossip_member *m = &g->members[slot];
    memset(m, 0, sizeof(*m));
    copy_str(m->name, sizeof(m->name), name);
    copy_str(m->addr, sizeof(m->addr), addr);
    m->used = true;
    m->status = GOSSIP_ALIVE;
    m->status_change_ms = now;
    g->status_count[GOSSIP_ALIVE]++;
    index_put(g, slot);
    /* memberlist inserts a new member at a random place in the probe order so a burst of
     * joins does not line up behind one another. */
    if (slot != 0 && g->probe_n < g->cfg.members_max) {
        uint32_t at = (uint32_t)pl_rand_below(g->rand, g->probe_n + 1);
        memmove(&g->probe_list[at + 1], &g->probe_list[at], (g->probe_n - at) * sizeof(uint32_t));
        g->probe_list[at] = slot;
        g->probe_n++;
        if (at < g->probe_pos)
            g->probe_pos++;
    }
    return m;
}

static void records_drop_node(struct gossip *g, const char *node);

static void member_reap(struct gossip *g, struct gossip_member *m, uint64_t now)
{
    PL_ASSERT(slot_of(g, m) != 0);
    emit_member(g, m, GOSSIP_MEMBER_REAP);
    trace(g, now, "reap name=%s status=%s", m->name, gossip_status_name(m->status));
    records_drop_node(g, m->name);
    suspicion_clear(g, m);
    g->status_count[m->status]--;
    free(m->tags);
    uint32_t slot = slot_of(g, m);
    memset(m, 0, sizeof(*m));
    g->free_slots[g->free_n++] = slot;
    for (uint32_t i = 0; i < g->probe_n; i++) {
        if (g->probe_list[i] == slot) {
            memmove(&g->probe_list[i], &g->probe_list[i + 1],
                    (g->probe_n - i - 1) * sizeof(uint32_t));
            g->probe_n--;
            if (i < g->probe_pos)
                g->probe_pos--;
            break;
        }
    }
}

/* ---- broadcast queue ---------------------------------------------------------------- */

static bool bcast_valid(const struct gossip *g, const struct bcast *b)
{
    switch (b->kind) {
        case BC_MEMBER:
            return g->members[b->ref].used && g->members[b->ref].bcast_id == b->id;
        case BC_STATE:
            return g->records[b->ref].used && g->records[b->ref].bcast_id == b->id;
        default:
            return true;
    }
}

static bool bcast_big(const struct gossip *g, const struct bcast *b);

static void bcast_compact(struct gossip *g)
{
    uint32_t w = 0;
    g->bc_big = 0;
    for (uint32_t r = 0; r < g->bc_n; r++) {
        if (g->bc[r].bytes != NULL) {
            g->bc_big += bcast_big(g, &g->bc[r]);
            g->bc[w++] = g->bc[r];
        }
    }
    g->bc_n = w;
}

/* Encodes m and queues it; returns the broadcast id (0 when it could not be queued). */
static uint64_t bcast_queue(struct gossip *g,
                            enum bcast_kind kind,
                            uint32_t ref,
                            const struct gossip_msg *m)
{
    pl_buf_reset(&g->scratch);
    if (gossip_wire_msg_encode(m, &g->scratch) != 0) {
        g->counters.dropped_full++;
        return 0;
    }
    if (g->bc_n >= g->cfg.broadcasts_max) {
        bcast_compact(g);
        if (g->bc_n >= g->cfg.broadcasts_max) {
            /* Drop the oldest: it has had the most chances to spread. */
            free(g->bc[0].bytes);
            memmove(&g->bc[0], &g->bc[1], (g->bc_n - 1) * sizeof(struct bcast));
            g->bc_n--;
            g->counters.dropped_full++;
        }
    }
    uint8_t *copy = malloc(g->scratch.len);
    if (copy == NULL)
        return 0;
    memcpy(copy, g->scratch.data, g->scratch.len);
    struct bcast *b = &g->bc[g->bc_n++];
    b->id = g->bcast_next_id++;
    b->kind = (uint8_t)kind;
    b->ref = ref;
    b->transmits = 0;
    g->bc_tmin = 0;
    b->bytes = copy;
    b->len = (uint32_t)g->scratch.len;
    g->bc_big += bcast_big(g, b);
    return b->id;
}

static size_t udp_body_max(const struct gossip *g)
{
    return gossip_wire_body_max(g->cfg.udp_bytes_max, g->cfg.keyring);
}

/* Too large to share a datagram with the cluster name: goes over TCP. */
static bool bcast_big(const struct gossip *g, const struct bcast *b)
{
    return b->len + GOSSIP_CLUSTER_MAX + 1 > udp_body_max(g);
}

/* Adds queued broadcasts to a packet, least transmitted first and newest first among
 * equals (memberlist's TransmitLimitedQueue). Broadcasts too large for a datagram are
 * skipped here and go over TCP in gossip rounds. */
static void bcast_fill(struct gossip *g, struct gossip_wire_packet *pk)
{
    if (g->bc_n == 0)
        return;
    uint32_t limit = gossip_retransmit_limit(&g->cfg, live_count(g));
    uint64_t stamp = ++g->fill_stamp;
    bool removed = false;
    /* Passes by transmit count from the lowest that may be queued (a hint kept low by
     * bcast_queue), newest first within a pass. Stale entries are dropped as met. */
    for (uint32_t t = g->bc_tmin; t < limit; t++) {
        bool seen = false;
        for (uint32_t n = g->bc_n; n > 0; n--) {
            struct bcast *b = &g->bc[n - 1];
            if (b->bytes == NULL)
                continue;
            if (b->transmits >= limit) {
                free(b->bytes);
                b->bytes = NULL;
                removed = true;
                continue;
            }
            /* The stamp keeps a broadcast raised to t+1 in this pass from going twice. */
            if (b->transmits != t || b->stamp == stamp)
                continue;
            if (!bcast_valid(g, b)) { /* checked late: it touches the member table */
                free(b->bytes);
                b->bytes = NULL;
                removed = true;
                continue;
            }
            seen = true;
            size_t room = gossip_wire_packet_room(pk);
            if (room < 16)
                goto done;
            if (b->len > room || gossip_wire_packet_add(pk, b->bytes, b->len) != 0)
                continue;
            b->stamp = stamp;
            b->transmits++;
            if (b->transmits >= limit) {
                free(b->bytes);
                b->bytes = NULL;
                removed = true;
            }
        }
        if (!seen && t == g->bc_tmin)
            g->bc_tmin = t + 1; /* nothing left at this level */
    }
done:
    if (removed)
        bcast_compact(g);
    if (g->bc_n == 0)
        g->bc_tmin = 0;
}

size_t gossip_broadcasts_pending(const struct gossip *g)
{
    /* Nobody left to tell: nothing can drain (a lone agent used to wait out its whole
     * leave timeout, 3 s, before it stopped). */
    const struct gossip_member *self = &g->members[0];
    bool self_live = self->status == GOSSIP_ALIVE || self->status == GOSSIP_SUSPECT;
    if (live_count(g) - (self_live ? 1 : 0) == 0)
        return 0;
    size_t n = 0;
    for (uint32_t i = 0; i < g->bc_n; i++)
        if (g->bc[i].bytes != NULL && bcast_valid(g, &g->bc[i]))
            n++;
    return n;
}

/* ---- sending ------------------------------------------------------------------------ */

/* Sends msgs[0..n) to addr in one datagram, topped up with piggybacked broadcasts. */
static void send_udp(struct gossip *g,
                     const char *addr,
                     const struct gossip_msg *msgs,
                     size_t n,
                     bool piggyback)
{
    /* One packet buffer and one output buffer, reused: datagrams are the hot path. */
    struct gossip_wire_packet *pk = &g->udp_pk;
    struct pl_buf *out = &g->udp_out;
    pl_buf_reset(out);
    if (gossip_wire_packet_restart(pk, g->cfg.cluster, udp_body_max(g)) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        pl_buf_reset(&g->scratch);
        if (gossip_wire_msg_encode(&msgs[i], &g->scratch) != 0 ||
            gossip_wire_packet_add(pk, g->scratch.data, g->scratch.len) != 0) {
            g->counters.dropped_full++;
            return;
        }
    }
    if (piggyback)
        bcast_fill(g, pk);
    if (pk->messages == 0)
        return;
    if (gossip_wire_packet_finish(pk, g->cfg.keyring, out) == 0)
        emit_bytes(g, GOSSIP_OUT_UDP, addr, out, false, 0);
}

static uint64_t stream_start(struct gossip *g,
                             const char *addr,
                             struct gossip_wire_packet *pk,
                             enum stream_kind kind,
                             bool expects_response,
                             uint32_t probe_seq)
{
    struct pl_buf out;
    uint64_t id = 0;
    pl_buf_init(&out, g->cfg.stream_bytes_max);
    if (gossip_wire_packet_finish(pk, g->cfg.keyring, &out) != 0)
        goto done;
    struct pending_stream *ps = NULL;
    if (expects_response) {
        for (size_t i = 0; i < STREAMS_MAX && ps == NULL; i++)
            if (!g->streams[i].used)
                ps = &g->streams[i];
        if (ps == NULL) {
            g->counters.dropped_full++;
            goto done;
        }
    }
    id = ++g->stream_next_id;
    if (ps != NULL) {
        ps->used = true;
        ps->id = id;
        ps->kind = kind;
        ps->probe_seq = probe_seq;
    }
    emit_bytes(g, GOSSIP_OUT_STREAM, addr, &out, expects_response, id);
done:
    pl_buf_close(&out);
    return id;
}

/* Picks up to k distinct random members other than us and `exclude`, accepting those
 * for which ok() holds. Probes random slots first (O(k) in a large table) and falls back
 * to a scan when that finds too few. */
static uint32_t pick_random(struct gossip *g,
                            uint32_t k,
                            uint32_t exclude,
                            bool (*ok)(const struct gossip *,
                                       const struct gossip_member *,
                                       uint64_t),
                            uint64_t now,
                            uint32_t *out)
{
    uint32_t n = 0;
    if (g->slots <= 1 || k == 0)
        return 0;
    uint32_t attempts = 4 * k + 8;
    for (uint32_t a = 0; a < attempts && n < k; a++) {
        uint32_t s = 1 + (uint32_t)pl_rand_below(g->rand, g->slots - 1);
        if (s == exclude || !g->members[s].used || !ok(g, &g->members[s], now))
            continue;
        bool dup = false;
        for (uint32_t i = 0; i < n; i++)
            dup |= (out[i] == s);
        if (!dup)
            out[n++] = s;
    }
    if (n < k) {
        /* Reservoir-sample the rest from a full scan. */
        uint32_t seen = 0;
        uint32_t start_n = n;
        for (uint32_t s = 1; s < g->slots; s++) {
            if (s == exclude || !g->members[s].used || !ok(g, &g->members[s], now))
                continue;
            bool dup = false;
            for (uint32_t i = 0; i < start_n; i++)
                dup |= (out[i] == s);
            if (dup)
                continue;
            seen++;
            if (n < k) {
                out[n++] = s;
            } else {
                uint64_t j = pl_rand_below(g->rand, seen);
                if (j < k - start_n)
                    out[start_n + j] = s;
            }
        }
    }
    return n;
}

static bool is_live(const struct gossip *g, const struct gossip_member *m, uint64_t now)
{
    PL_UNUSED(g);
    PL_UNUSED(now);
    return m->status == GOSSIP_ALIVE || m->status == GOSSIP_SUSPECT;
}

static bool is_alive(const struct gossip *g, const struct gossip_member *m, uint64_t now)
{
    PL_UNUSED(g);
    PL_UNUSED(now);
    return m->status == GOSSIP_ALIVE;
}

static bool is_dead(const struct gossip *g, const struct gossip_member *m, uint64_t now)
{
    PL_UNUSED(g);
    PL_UNUSED(now);
    return m->status == GOSSIP_DEAD;
}

/* Gossip targets: live members, and the dead for a while so they learn it and refute. */
static bool is_gossip_target(const struct gossip *g, const struct gossip_member *m, uint64_t now)
{
    if (m->status == GOSSIP_ALIVE || m->status == GOSSIP_SUSPECT)
        return true;
    return m->status == GOSSIP_DEAD && now - m->status_change_ms < g->cfg.gossip_to_the_dead_ms;
}

/* fast_suspicion: sends one membership message at once to gossip_nodes random members. */
static void send_now(struct gossip *g, uint64_t now, const struct gossip_msg *m, uint32_t exclude)
{
    uint32_t targets[16];
    uint32_t k = PL_MIN(g->cfg.gossip_nodes, PL_ARRAY_LEN(targets));
    uint32_t n = pick_random(g, k, exclude, is_live, now, targets);
    for (uint32_t i = 0; i < n; i++)
        send_udp(g, g->members[targets[i]].addr, m, 1, false);
}

/* ---- membership transitions (SWIM §4.2, memberlist state.go) ---------------------- */

static void queue_alive(struct gossip *g, struct gossip_member *m)
{
    struct gossip_msg msg = {.type = GOSSIP_MSG_ALIVE,
                             .incarnation = m->incarnation,
                             .bytes = m->tags,
                             .bytes_len = m->tags_len};
    copy_str(msg.name, sizeof(msg.name), m->name);
    copy_str(msg.addr, sizeof(msg.addr), m->addr);
    m->bcast_id = bcast_queue(g, BC_MEMBER, slot_of(g, m), &msg);
}

static void refute(struct gossip *g, uint64_t now, uint64_t seen_incarnation)
{
    struct gossip_member *self = &g->members[0];
    if (seen_incarnation >= self->incarnation)
        self->incarnation = seen_incarnation + 1;
    else
        self->incarnation++;
    g->counters.refutations++;
    /* Lifeguard (Local Health Aware Probe): being suspected hints we are the slow one. */
    if (g->cfg.lifeguard && g->awareness + 1 < g->cfg.awareness_max_multiplier)
        g->awareness++;
    trace(g, now, "refute incarnation=%llu", (unsigned long long)self->incarnation);
    queue_alive(g, self);
}

static void queue_alive(struct gossip *g, struct gossip_member *m);

/* Our own alive claim, sent straight to a member we just learned of (by gossip, or up to
 * WELCOMES_PER_MERGE of them from one push-pull, e.g. our join's reply). The new member then
 * learns of us as soon as we learn of it, which closes the race where members join at the
 * same time and one's announcement has died out before the other arrived (push-pull would
 * repair it, but only after pushpull_interval: 36 s once at N = 20 before joins welcomed
 * too). Tarantool's SWIM pings new members for the same reason. */
#define WELCOMES_PER_MERGE 32
static void welcome(struct gossip *g, const struct gossip_member *m)
{
    const struct gossip_member *self = &g->members[0];
    struct gossip_msg msg = {.type = GOSSIP_MSG_ALIVE,
                             .incarnation = self->incarnation,
                             .bytes = self->tags,
                             .bytes_len = self->tags_len};
    copy_str(msg.name, sizeof(msg.name), self->name);
    copy_str(msg.addr, sizeof(msg.addr), self->addr);
    /* No piggyback: these packets all go to the newest members, and retransmissions
     * spent on them would be missing from the random spread the epidemic relies on. */
    send_udp(g, m->addr, &msg, 1, false);
}

/* Returns whether msg named a member new to us. */
static bool on_alive_from(struct gossip *g,
                          uint64_t now,
                          const struct gossip_msg *msg,
                          bool may_welcome)
{
    struct gossip_member *self = &g->members[0];
    if (strcmp(msg->name, self->name) == 0) {
        if (g->leaving || msg->incarnation < self->incarnation)
            return false;
        if (msg->incarnation == self->incarnation && strcmp(msg->addr, self->addr) == 0 &&
            tags_equal(self, msg->bytes, msg->bytes_len))
            return false;
        /* Someone claims us at our incarnation or later with other facts: an old life of
         * ours (we restarted, perhaps at a new address). Out-number it. */
        refute(g, now, msg->incarnation);
        return false;
    }
    struct gossip_member *m = member_find(g, msg->name);
    if (m == NULL) {
        m = member_add(g, msg->name, msg->addr, now);
        if (m == NULL)
            return false;
        m->incarnation = msg->incarnation;
        if (set_tags(m, msg->bytes, msg->bytes_len) != 0)
            g->counters.dropped_full++;
        emit_member(g, m, GOSSIP_MEMBER_JOIN);
        trace(g, now, "join name=%s addr=%s inc=%llu", m->name, m->addr,
              (unsigned long long)m->incarnation);
        queue_alive(g, m);
        if (may_welcome && !g->leaving)
            welcome(g, m);
        return true;
    }
    if (msg->incarnation <= m->incarnation)
        return false;
    bool moved = strcmp(m->addr, msg->addr) != 0 || !tags_equal(m, msg->bytes, msg->bytes_len);
    enum gossip_status old = m->status;
    m->incarnation = msg->incarnation;
    copy_str(m->addr, sizeof(m->addr), msg->addr);
    if (set_tags(m, msg->bytes, msg->bytes_len) != 0)
        g->counters.dropped_full++;
    suspicion_clear(g, m);
    if (old != GOSSIP_ALIVE) {
        set_status(g, m, GOSSIP_ALIVE, now);
        emit_member(g, m, old == GOSSIP_SUSPECT ? GOSSIP_MEMBER_ALIVE : GOSSIP_MEMBER_JOIN);
        trace(g, now, "alive name=%s inc=%llu was=%s", m->name, (unsigned long long)m->incarnation,
              gossip_status_name(old));
    }
    if (moved)
        emit_member(g, m, GOSSIP_MEMBER_UPDATE);
    queue_alive(g, m);
    return false;
}

static void on_alive(struct gossip *g, uint64_t now, const struct gossip_msg *msg)
{
    (void)on_alive_from(g, now, msg, true);
}

static void queue_suspect(struct gossip *g, struct gossip_member *m, const char *from)
{
    struct gossip_msg msg = {.type = GOSSIP_MSG_SUSPECT, .incarnation = m->incarnation};
    copy_str(msg.name, sizeof(msg.name), m->name);
    copy_str(msg.from, sizeof(msg.from), from);
    m->bcast_id = bcast_queue(g, BC_MEMBER, slot_of(g, m), &msg);
}

/*
 * Lifeguard's dynamic suspicion timeout (memberlist suspicion.go), plus our quorum rule when
 * fast_suspicion is on: once a majority of the other live members have each failed to reach
 * the suspect on their own (the original suspecter and independent confirmations, each a
 * failed direct probe AND failed indirect probes), waiting out the rest of the minimum adds
 * nothing but delay. The suspect then gets a last grace of two probe timeouts from that
 * moment to refute (it was told first, by the buddy system), and is declared dead after.
 */
static void suspicion_rearm(struct gossip *g, struct gossip_member *m, uint64_t now)
{
    struct gossip_suspicion *s = m->suspicion;
    uint64_t t;
    if (!g->cfg.lifeguard || s->k < 1) {
        t = s->min_ms;
    } else {
        double frac = log((double)s->confirmed + 1.0) / log((double)s->k + 1.0);
        double v = (double)s->max_ms - ((double)s->max_ms - (double)s->min_ms) * frac;
        t = v < (double)s->min_ms ? s->min_ms : (uint64_t)floor(v);
    }
    s->deadline_ms = s->start_ms + t;
    if (g->cfg.fast_suspicion && g->cfg.lifeguard && s->quorum >= 2 && s->names_n >= s->quorum) {
        uint64_t quick = now + 2 * (uint64_t)g->cfg.probe_timeout_ms;
        if (quick < s->deadline_ms)
            s->deadline_ms = quick;
    }
}

static void suspicion_start(struct gossip *g,
                            struct gossip_member *m,
                            uint64_t now,
                            const char *from)
{
    uint32_t n = live_count(g);
    struct gossip_config nolg = g->cfg;
    nolg.lifeguard = false; /* gives the min timeout */
    uint64_t min = gossip_suspicion_timeout_ms(&nolg, n, 0);
    int64_t k = (int64_t)g->cfg.suspicion_mult - 2;
    if ((int64_t)n - 2 < k || k < 0)
        k = 0;
    /* n counts the live members including us and the suspect; a majority of the others
     * (everyone but the suspect) is the quorum rule's threshold. */
    uint32_t others = n > 1 ? n - 1 : 1;
    uint32_t quorum = others / 2 + 1;
    uint32_t names = PL_MAX((uint32_t)k + 1, quorum);
    struct gossip_suspicion *s = calloc(1, sizeof(*s) + names * sizeof(s->names[0]));
    if (s == NULL)
        return;
    s->start_ms = now;
    s->min_ms = min;
    s->max_ms = min * g->cfg.suspicion_max_timeout_mult;
    s->k = (uint32_t)k;
    s->quorum = quorum;
    s->names_max = names;
    copy_str(s->names[0], GOSSIP_NAME_MAX, from);
    s->names_n = 1;
    m->suspicion = s;
    g->suspects[g->suspects_n++] = slot_of(g, m);
    suspicion_rearm(g, m, now);
}

/* Counts an independent confirmation; true when it is new. Lifeguard's count stops at k;
 * the quorum rule keeps counting distinct suspecters up to its threshold. */
static bool suspicion_confirm(struct gossip *g, struct gossip_member *m, const char *from,
                              uint64_t now)
{
    struct gossip_suspicion *s = m->suspicion;
    if (s == NULL || s->names_n >= s->names_max)
        return false;
    if (s->confirmed >= s->k && !(g->cfg.fast_suspicion && s->names_n < s->quorum))
        return false;
    for (uint32_t i = 0; i < s->names_n; i++)
        if (strcmp(s->names[i], from) == 0)
            return false;
    copy_str(s->names[s->names_n++], GOSSIP_NAME_MAX, from);
    if (s->confirmed < s->k)
        s->confirmed++;
    suspicion_rearm(g, m, now);
    return true;
}

/* A suspect or dead claim about ourselves: refuted unless we are leaving or it names an
 * older incarnation of ours. True when the claim was about us (nothing more to do). */
static bool refute_if_self(struct gossip *g, uint64_t now, const struct gossip_msg *msg)
{
    const struct gossip_member *self = &g->members[0];
    if (strcmp(msg->name, self->name) != 0)
        return false;
    if (!g->leaving && msg->incarnation >= self->incarnation)
        refute(g, now, msg->incarnation);
    return true;
}

static void on_suspect(struct gossip *g, uint64_t now, const struct gossip_msg *msg)
{
    const struct gossip_member *self = &g->members[0];
    if (refute_if_self(g, now, msg))
        return;
    struct gossip_member *m = member_find(g, msg->name);
    if (m == NULL || msg->incarnation < m->incarnation)
        return;
    if (m->status == GOSSIP_SUSPECT && msg->incarnation == m->incarnation) {
        if (suspicion_confirm(g, m, msg->from, now)) {
            trace(g, now, "confirm name=%s from=%s n=%u", m->name, msg->from,
                  m->suspicion->confirmed);
            queue_suspect(g, m, msg->from);
        }
        return;
    }
    if (m->status != GOSSIP_ALIVE)
        return;
    m->incarnation = msg->incarnation;
    set_status(g, m, GOSSIP_SUSPECT, now);
    suspicion_start(g, m, now, msg->from);
    emit_member(g, m, GOSSIP_MEMBER_SUSPECT);
    trace(g, now, "suspect name=%s inc=%llu from=%s", m->name, (unsigned long long)m->incarnation,
          msg->from);
    queue_suspect(g, m, msg->from);
    if (strcmp(msg->from, self->name) == 0) {
        g->counters.suspicions_raised++;
        if (g->cfg.fast_suspicion)
            send_now(g, now, msg, slot_of(g, m));
    } else if (g->cfg.fast_suspicion && !g->leaving) {
        /* Probe the suspect ourselves at once: if it is gone our own failed probe is an
         * independent confirmation, and it arrives in one probe instead of whenever the
         * round-robin reaches it. */
        g->priority_probe = (int32_t)slot_of(g, m);
        if (!g->probe.active && g->next_probe_ms > now)
            g->next_probe_ms = now;
    }
}

static void on_dead(struct gossip *g, uint64_t now, const struct gossip_msg *msg)
{
    if (refute_if_self(g, now, msg))
        return;
    struct gossip_member *m = member_find(g, msg->name);
    if (m == NULL || msg->incarnation < m->incarnation)
        return;
    if (m->status == GOSSIP_DEAD || m->status == GOSSIP_LEFT)
        return;
    bool left = strcmp(msg->from, msg->name) == 0;
    m->incarnation = msg->incarnation;
    suspicion_clear(g, m);
    set_status(g, m, left ? GOSSIP_LEFT : GOSSIP_DEAD, now);
    emit_member(g, m, left ? GOSSIP_MEMBER_LEFT : GOSSIP_MEMBER_DEAD);
    trace(g, now, "%s name=%s inc=%llu from=%s", left ? "left" : "dead", m->name,
          (unsigned long long)m->incarnation, msg->from);
    struct gossip_msg fwd = *msg;
    m->bcast_id = bcast_queue(g, BC_MEMBER, slot_of(g, m), &fwd);
}

/* ---- state records ------------------------------------------------------------------ */

static uint32_t record_hash(const char *node, const char *key)
{
    return (uint32_t)hash_str(hash_str(HASH_SEED, node), key);
}

static void rindex_rebuild(struct gossip *g)
{
    uint32_t mask = g->rindex_cap - 1;
    memset(g->rindex, 0, g->rindex_cap * sizeof(uint32_t));
    for (uint32_t i = 0; i < g->records_n; i++) {
        if (!g->records[i].used)
            continue;
        uint32_t h = record_hash(g->records[i].node, g->records[i].key) & mask;
        while (g->rindex[h] != 0)
            h = (h + 1) & mask;
        g->rindex[h] = i + 1;
    }
}

static struct record *record_find(const struct gossip *g, const char *node, const char *key)
{
    uint32_t mask = g->rindex_cap - 1;
    uint32_t h = record_hash(node, key) & mask;
    while (g->rindex[h] != 0) {
        struct record *r = &g->records[g->rindex[h] - 1];
        if (r->used && strcmp(r->node, node) == 0 && strcmp(r->key, key) == 0)
            return r;
        h = (h + 1) & mask;
    }
    return NULL;
}

static struct record *record_add(struct gossip *g, const char *node, const char *key)
{
    uint32_t i;
    if (g->records_n < g->cfg.states_max) {
        i = g->records_n++;
    } else {
        /* Reuse a slot freed by a reap, then reindex (rare). */
        for (i = 0; i < g->records_n && g->records[i].used; i++)
            ;
        if (i == g->records_n) {
            g->counters.dropped_full++;
            return NULL;
        }
    }
    struct record *r = &g->records[i];
    memset(r, 0, sizeof(*r));
    r->used = true;
    copy_str(r->node, sizeof(r->node), node);
    copy_str(r->key, sizeof(r->key), key);
    g->records_used++;
    uint32_t mask = g->rindex_cap - 1;
    uint32_t h = record_hash(node, key) & mask;
    while (g->rindex[h] != 0)
        h = (h + 1) & mask;
    g->rindex[h] = i + 1;
    return r;
}

static void records_drop_node(struct gossip *g, const char *node)
{
    bool any = false;
    for (uint32_t i = 0; i < g->records_n; i++) {
        struct record *r = &g->records[i];
        if (r->used && strcmp(r->node, node) == 0) {
            free(r->value);
            memset(r, 0, sizeof(*r));
            g->records_used--;
            any = true;
        }
    }
    if (any)
        rindex_rebuild(g);
}

static int record_store(struct record *r, const uint8_t *value, size_t len, uint64_t version)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, value, len);
    free(r->value);
    r->value = copy;
    r->len = len;
    r->version = version;
    return 0;
}

static void queue_record(struct gossip *g, struct record *r)
{
    struct gossip_msg msg = {
        .type = GOSSIP_MSG_STATE, .version = r->version, .bytes = r->value, .bytes_len = r->len};
    copy_str(msg.name, sizeof(msg.name), r->node);
    copy_str(msg.key, sizeof(msg.key), r->key);
    r->bcast_id = bcast_queue(g, BC_STATE, (uint32_t)(r - g->records), &msg);
}

static void emit_record(struct gossip *g, const struct record *r)
{
    struct gossip_out *o = out_push(g, GOSSIP_OUT_STATE);
    if (o == NULL)
        return;
    copy_str(o->name, sizeof(o->name), r->node);
    copy_str(o->key, sizeof(o->key), r->key);
    o->version = r->version;
    o->bytes = malloc(r->len ? r->len : 1);
    if (o->bytes != NULL) {
        memcpy(o->bytes, r->value, r->len);
        o->len = r->len;
    }
}

static void on_state(struct gossip *g, uint64_t now, const struct gossip_msg *msg)
{
    PL_UNUSED(now);
    struct gossip_member *self = &g->members[0];
    struct record *r = record_find(g, msg->name, msg->key);
    if (strcmp(msg->name, self->name) == 0) {
        /* A record of ours from an earlier life: keep ours, numbered past it. */
        if (r != NULL) {
            if (msg->version > r->version) {
                r->version = msg->version + 1;
                queue_record(g, r);
            }
            return;
        }
    } else if (member_find(g, msg->name) == NULL) {
        return; /* records of unknown members would let anyone fill our table */
    }
    if (r != NULL && msg->version <= r->version)
        return;
    if (r == NULL && (r = record_add(g, msg->name, msg->key)) == NULL)
        return;
    if (record_store(r, msg->bytes, msg->bytes_len, msg->version) != 0)
        return;
    emit_record(g, r);
    queue_record(g, r);
}

int gossip_state_set(struct gossip *g,
                     uint64_t now_ms,
                     const char *key,
                     const uint8_t *value,
                     size_t len)
{
    PL_UNUSED(now_ms);
    size_t klen = strlen(key);
    if (klen == 0 || klen >= GOSSIP_STATE_KEY_MAX || len > GOSSIP_STATE_VALUE_BYTES_MAX)
        return PL_ERANGE;
    struct gossip_member *self = &g->members[0];
    struct record *r = record_find(g, self->name, key);
    if (r == NULL && (r = record_add(g, self->name, key)) == NULL)
        return PL_EFULL;
    int rc = record_store(r, value, len, r->version + 1);
    if (rc != 0)
        return rc;
    queue_record(g, r);
    return 0;
}

int gossip_state_get(const struct gossip *g,
                     const char *node,
                     const char *key,
                     const uint8_t **value,
                     size_t *len,
                     uint64_t *version)
{
    const struct record *r = record_find(g, node, key);
    if (r == NULL)
        return PL_ENOTFOUND;
    *value = r->value;
    *len = r->len;
    *version = r->version;
    return 0;
}

int gossip_state_at(const struct gossip *g,
                    uint32_t *cursor,
                    const char **node,
                    const char **key,
                    const uint8_t **value,
                    size_t *len,
                    uint64_t *version)
{
    for (uint32_t i = *cursor; i < g->records_n; i++) {
        const struct record *r = &g->records[i];
        if (!r->used)
            continue;
        *node = r->node;
        *key = r->key;
        *value = r->value;
        *len = r->len;
        *version = r->version;
        *cursor = i + 1;
        return 0;
    }
    return PL_ENOTFOUND;
}

/* ---- user events (Serf's Lamport clock and de-duplication) ------------------------- */

static uint64_t event_id(const char *origin, uint64_t ltime, const char *name)
{
    uint64_t h = hash_str(HASH_SEED, origin);
    h ^= ltime;
    h *= 1099511628211ull;
    return hash_str(h, name);
}

static bool event_seen(struct gossip *g, uint64_t id)
{
    for (uint32_t i = 0; i < g->seen_n; i++)
        if (g->seen[i] == id)
            return true;
    g->seen[g->seen_pos] = id;
    g->seen_pos = (g->seen_pos + 1) % g->cfg.events_recent_max;
    if (g->seen_n < g->cfg.events_recent_max)
        g->seen_n++;
    return false;
}

static void deliver_event(struct gossip *g, const struct gossip_msg *msg)
{
    struct gossip_out *o = out_push(g, GOSSIP_OUT_EVENT);
    g->counters.events_delivered++;
    if (o == NULL)
        return;
    copy_str(o->name, sizeof(o->name), msg->name);
    copy_str(o->origin, sizeof(o->origin), msg->from);
    o->version = msg->version;
    o->bytes = malloc(msg->bytes_len ? msg->bytes_len : 1);
    if (o->bytes != NULL) {
        memcpy(o->bytes, msg->bytes, msg->bytes_len);
        o->len = msg->bytes_len;
    }
}

static void replay_keep(struct gossip *g, const struct gossip_msg *msg)
{
    pl_buf_reset(&g->scratch);
    if (gossip_wire_msg_encode(msg, &g->scratch) != 0)
        return;
    uint8_t *copy = malloc(g->scratch.len);
    if (copy == NULL)
        return;
    memcpy(copy, g->scratch.data, g->scratch.len);
    uint32_t i = g->replay_pos;
    free(g->replay[i]);
    g->replay[i] = copy;
    g->replay_len[i] = (uint32_t)g->scratch.len;
    g->replay_pos = (i + 1) % EVENTS_REPLAY_MAX;
}

static void on_event(struct gossip *g, uint64_t now, const struct gossip_msg *msg, bool history)
{
    PL_UNUSED(now);
    if (msg->version >= g->lamport)
        g->lamport = msg->version + 1;
    /* Events older than the de-duplication window could be duplicates we forgot. */
    if (g->lamport > g->cfg.events_recent_max &&
        msg->version < g->lamport - g->cfg.events_recent_max) {
        g->counters.events_too_old++;
        return;
    }
    if (event_seen(g, event_id(msg->from, msg->version, msg->name))) {
        g->counters.events_duplicate++;
        return;
    }
    /* Serf's default on join: events from before we joined are marked seen, not
     * delivered, so a new member does not act on old news. */
    if (history)
        return;
    deliver_event(g, msg);
    replay_keep(g, msg);
    bcast_queue(g, BC_EVENT, 0, msg);
}

int gossip_event_send(struct gossip *g,
                      uint64_t now_ms,
                      const char *name,
                      const uint8_t *payload,
                      size_t len)
{
    PL_UNUSED(now_ms);
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen >= GOSSIP_EVENT_NAME_MAX || len > GOSSIP_EVENT_PAYLOAD_BYTES_MAX)
        return PL_ERANGE;
    struct gossip_msg msg = {
        .type = GOSSIP_MSG_EVENT, .version = g->lamport++, .bytes = payload, .bytes_len = len};
    copy_str(msg.name, sizeof(msg.name), name);
    copy_str(msg.from, sizeof(msg.from), g->members[0].name);
    event_seen(g, event_id(msg.from, msg.version, msg.name));
    deliver_event(g, &msg);
    replay_keep(g, &msg);
    return bcast_queue(g, BC_EVENT, 0, &msg) != 0 ? 0 : PL_EFULL;
}

int gossip_tags_set(struct gossip *g, uint64_t now_ms, const uint8_t *tags, size_t len)
{
    if (len > GOSSIP_TAGS_BYTES_MAX)
        return PL_ETOOBIG;
    /* Validate through the wire decoder: encode an ALIVE carrying the tags and decode it. */
    struct gossip_msg probe_msg = {
        .type = GOSSIP_MSG_ALIVE, .incarnation = 0, .bytes = tags, .bytes_len = len};
    copy_str(probe_msg.name, sizeof(probe_msg.name), "x");
    copy_str(probe_msg.addr, sizeof(probe_msg.addr), "x");
    pl_buf_reset(&g->scratch);
    int rc = gossip_wire_msg_encode(&probe_msg, &g->scratch);
    struct gossip_msg back;
    if (rc == 0)
        rc = gossip_wire_msg_decode(g->scratch.data[0],
                                    g->scratch.data + GOSSIP_WIRE_MSG_HEADER_BYTES,
                                    g->scratch.len - GOSSIP_WIRE_MSG_HEADER_BYTES, &back);
    if (rc != 0)
        return PL_EMALFORMED;
    struct gossip_member *self = &g->members[0];
    if ((rc = set_tags(self, tags, len)) != 0)
        return rc;
    self->incarnation++;
    trace(g, now_ms, "tags inc=%llu", (unsigned long long)self->incarnation);
    queue_alive(g, self);
    return 0;
}

/* ---- receiving ---------------------------------------------------------------------- */

struct rx
{
    struct gossip *g;
    uint64_t now;
    const char *from_addr;
    bool stream;
    bool reply_ack;
    uint32_t ack_seq;
    bool reply_pushpull;
    bool pushpull_join;
    bool join_reply; /* the answer to our join: its events are history, not news */
    uint32_t welcomes; /* sent for members new to us in this push-pull */
};

static void probe_acked(struct gossip *g, uint64_t now, bool via_tcp)
{
    if (g->probe.acked)
        return;
    g->probe.acked = true;
    g->counters.probes_acked++;
    if (via_tcp && g->probe.indirect_sent)
        g->counters.tcp_ping_rescues++;
    /* Lifeguard (Local Health Aware Probe): a successful probe lowers the health score. */
    if (g->cfg.lifeguard && g->awareness > 0)
        g->awareness--;
    PL_UNUSED(now);
}

static void on_ping(struct rx *rx, const struct gossip_msg *msg)
{
    struct gossip *g = rx->g;
    if (strcmp(msg->name, g->members[0].name) != 0) {
        /* Meant for another node that used to live at this address. */
        g->counters.misdirected_pings++;
        return;
    }
    if (rx->stream) {
        rx->reply_ack = true;
        rx->ack_seq = msg->seq;
        return;
    }
    struct gossip_msg ack[2] = {{.type = GOSSIP_MSG_ACK, .seq = msg->seq}};
    size_t n = 1;
    if (g->leaving) {
        /* Whoever still probes us missed our leave (gossip reaches each member only with
         * high probability): tell it with the ack. */
        const struct gossip_member *self = &g->members[0];
        ack[1].type = GOSSIP_MSG_DEAD;
        ack[1].incarnation = self->incarnation;
        copy_str(ack[1].name, sizeof(ack[1].name), self->name);
        copy_str(ack[1].from, sizeof(ack[1].from), self->name);
        n = 2;
    }
    send_udp(g, rx->from_addr, ack, n, true);
}

static void on_indirect_ping(struct rx *rx, const struct gossip_msg *msg)
{
    struct gossip *g = rx->g;
    struct relay *r = NULL;
    for (size_t i = 0; i < RELAYS_MAX && r == NULL; i++)
        if (!g->relays[i].used)
            r = &g->relays[i];
    if (r == NULL) {
        g->counters.dropped_full++;
        return;
    }
    r->used = true;
    r->seq = ++g->seq;
    r->origin_seq = msg->seq;
    copy_str(r->origin_addr, sizeof(r->origin_addr), rx->from_addr);
    /* The nack must reach the prober before its probe period ends: the prober sent this
     * at probe_timeout into a period of probe_interval (>= 2 probe_timeout by default),
     * so we wait 80% of probe_timeout for the target's ack. */
    r->deadline_ms = rx->now + (uint64_t)g->cfg.probe_timeout_ms * 4 / 5;
    r->nack = msg->flag;
    struct gossip_msg ping = {.type = GOSSIP_MSG_PING, .seq = r->seq};
    copy_str(ping.name, sizeof(ping.name), msg->name);
    copy_str(ping.from, sizeof(ping.from), g->members[0].name);
    send_udp(g, msg->addr, &ping, 1, false);
}

static void on_ack(struct rx *rx, const struct gossip_msg *msg, bool nack)
{
    struct gossip *g = rx->g;
    if (g->probe.active && msg->seq == g->probe.seq) {
        if (nack) {
            g->counters.nacks_received++;
            g->probe.nacks++;
        } else {
            probe_acked(g, rx->now, rx->stream);
        }
        return;
    }
    if (nack)
        return;
    for (size_t i = 0; i < RELAYS_MAX; i++) {
        struct relay *r = &g->relays[i];
        if (r->used && r->seq == msg->seq) {
            struct gossip_msg fwd = {.type = GOSSIP_MSG_ACK, .seq = r->origin_seq};
            send_udp(g, r->origin_addr, &fwd, 1, false);
            r->used = false;
            return;
        }
    }
}

static void on_member(struct rx *rx, const struct gossip_msg *msg)
{
    /* memberlist mergeState: trust alive and left; a remote "dead" or "suspect" only
     * becomes a suspicion here, which the member can still refute. */
    struct gossip_msg m = *msg;
    switch (msg->status) {
        case GOSSIP_ALIVE:
            m.type = GOSSIP_MSG_ALIVE;
            if (on_alive_from(rx->g, rx->now, &m, rx->welcomes < WELCOMES_PER_MERGE))
                rx->welcomes++;
            break;
        case GOSSIP_LEFT:
            m.type = GOSSIP_MSG_DEAD;
            copy_str(m.from, sizeof(m.from), msg->name);
            on_dead(rx->g, rx->now, &m);
            break;
        default:
            m.type = GOSSIP_MSG_SUSPECT;
            copy_str(m.from, sizeof(m.from), "pushpull");
            on_suspect(rx->g, rx->now, &m);
            break;
    }
}

static int visit(void *ctx, const struct gossip_msg *msg)
{
    struct rx *rx = ctx;
    switch (msg->type) {
        case GOSSIP_MSG_PING:
            on_ping(rx, msg);
            break;
        case GOSSIP_MSG_INDIRECT_PING:
            on_indirect_ping(rx, msg);
            break;
        case GOSSIP_MSG_ACK:
            on_ack(rx, msg, false);
            break;
        case GOSSIP_MSG_NACK:
            on_ack(rx, msg, true);
            break;
        case GOSSIP_MSG_ALIVE:
            on_alive(rx->g, rx->now, msg);
            break;
        case GOSSIP_MSG_SUSPECT:
            on_suspect(rx->g, rx->now, msg);
            break;
        case GOSSIP_MSG_DEAD:
            on_dead(rx->g, rx->now, msg);
            break;
        case GOSSIP_MSG_STATE:
            on_state(rx->g, rx->now, msg);
            break;
        case GOSSIP_MSG_EVENT:
            on_event(rx->g, rx->now, msg, rx->join_reply);
            break;
        case GOSSIP_MSG_PUSHPULL:
            if (rx->stream && !msg->response) {
                rx->reply_pushpull = true;
                rx->pushpull_join = msg->flag;
            }
            break;
        case GOSSIP_MSG_MEMBER:
            if (rx->stream)
                on_member(rx, msg);
            break;
    }
    return 0;
}

int gossip_step(struct gossip *g,
                uint64_t now_ms,
                const char *from_addr,
                const uint8_t *p,
                size_t len)
{
    struct rx rx = {.g = g, .now = now_ms, .from_addr = from_addr};
    int rc = gossip_wire_packet_decode(p, len, g->cfg.udp_bytes_max, g->cfg.keyring, g->cfg.cluster,
                                       visit, &rx, &g->counters.wire);
    if (rc != 0)
        trace(g, now_ms, "drop udp from=%s reason=%s", from_addr, pl_err_name(rc));
    return rc;
}

/* Builds our full state as a push-pull packet: us and every member, then every record. */
static int pushpull_build(struct gossip *g, bool join, bool response, struct gossip_wire_packet *pk)
{
    int rc = gossip_wire_packet_begin(
        pk, g->cfg.cluster, gossip_wire_body_max(g->cfg.stream_bytes_max, g->cfg.keyring));
    if (rc != 0)
        return rc;
    struct gossip_msg hdr = {.type = GOSSIP_MSG_PUSHPULL, .flag = join, .response = response};
    copy_str(hdr.from, sizeof(hdr.from), g->members[0].name);
    pl_buf_reset(&g->scratch);
    if ((rc = gossip_wire_msg_encode(&hdr, &g->scratch)) != 0 ||
        (rc = gossip_wire_packet_add(pk, g->scratch.data, g->scratch.len)) != 0)
        return rc;
    for (uint32_t s = 0; s < g->slots; s++) {
        const struct gossip_member *m = &g->members[s];
        if (!m->used)
            continue;
        struct gossip_msg mm = {.type = GOSSIP_MSG_MEMBER,
                                .incarnation = m->incarnation,
                                .status = (uint32_t)m->status,
                                .bytes = m->tags,
                                .bytes_len = m->tags_len};
        copy_str(mm.name, sizeof(mm.name), m->name);
        copy_str(mm.addr, sizeof(mm.addr), m->addr);
        pl_buf_reset(&g->scratch);
        if (gossip_wire_msg_encode(&mm, &g->scratch) != 0 ||
            gossip_wire_packet_add(pk, g->scratch.data, g->scratch.len) != 0)
            return PL_ETOOBIG;
    }
    for (uint32_t i = 0; i < g->records_n; i++) {
        const struct record *r = &g->records[i];
        if (!r->used)
            continue;
        struct gossip_msg sm = {.type = GOSSIP_MSG_STATE,
                                .version = r->version,
                                .bytes = r->value,
                                .bytes_len = r->len};
        copy_str(sm.name, sizeof(sm.name), r->node);
        copy_str(sm.key, sizeof(sm.key), r->key);
        pl_buf_reset(&g->scratch);
        if (gossip_wire_msg_encode(&sm, &g->scratch) != 0 ||
            gossip_wire_packet_add(pk, g->scratch.data, g->scratch.len) != 0)
            return PL_ETOOBIG;
    }
    for (uint32_t i = 0; i < EVENTS_REPLAY_MAX; i++) {
        if (g->replay[i] != NULL && gossip_wire_packet_add(pk, g->replay[i], g->replay_len[i]) != 0)
            return PL_ETOOBIG;
    }
    return 0;
}

/* gossip_stream_sender's visit: the sender a ping or a push-pull names. */
static int sender_visit(void *ctx, const struct gossip_msg *msg)
{
    char *out = ctx;
    if (out[0] == '\0' && (msg->type == GOSSIP_MSG_PING || msg->type == GOSSIP_MSG_PUSHPULL))
        copy_str(out, GOSSIP_NAME_MAX, msg->from);
    return 0;
}

int gossip_stream_sender(const struct gossip *g, const uint8_t *p, size_t len,
                         char out[GOSSIP_NAME_MAX])
{
    struct gossip_wire_counters scratch = {0};
    out[0] = '\0';
    int rc = gossip_wire_packet_decode(p, len, g->cfg.stream_bytes_max, g->cfg.keyring,
                                       g->cfg.cluster, sender_visit, out, &scratch);
    if (rc == 0 && out[0] == '\0')
        rc = PL_ENOTFOUND;
    return rc;
}

int gossip_stream_serve(struct gossip *g,
                        uint64_t now_ms,
                        const char *from_addr,
                        const uint8_t *p,
                        size_t len,
                        struct pl_buf *reply)
{
    struct rx rx = {.g = g, .now = now_ms, .from_addr = from_addr, .stream = true};
    int rc = gossip_wire_packet_decode(p, len, g->cfg.stream_bytes_max, g->cfg.keyring,
                                       g->cfg.cluster, visit, &rx, &g->counters.wire);
    if (rc != 0) {
        trace(g, now_ms, "drop stream from=%s reason=%s", from_addr, pl_err_name(rc));
        return rc;
    }
    if (!rx.reply_ack && !rx.reply_pushpull)
        return 0;
    struct gossip_wire_packet pk;
    if (rx.reply_pushpull) {
        g->counters.pushpulls++;
        rc = pushpull_build(g, false, true, &pk);
    } else {
        rc = gossip_wire_packet_begin(
            &pk, g->cfg.cluster, gossip_wire_body_max(g->cfg.stream_bytes_max, g->cfg.keyring));
        struct gossip_msg ack = {.type = GOSSIP_MSG_ACK, .seq = rx.ack_seq};
        pl_buf_reset(&g->scratch);
        if (rc == 0 && (rc = gossip_wire_msg_encode(&ack, &g->scratch)) == 0)
            rc = gossip_wire_packet_add(&pk, g->scratch.data, g->scratch.len);
    }
    if (rc == 0)
        rc = gossip_wire_packet_finish(&pk, g->cfg.keyring, reply);
    gossip_wire_packet_close(&pk);
    return rc;
}

int gossip_stream_done(struct gossip *g,
                       uint64_t now_ms,
                       uint64_t stream_id,
                       int status,
                       const uint8_t *p,
                       size_t len)
{
    struct pending_stream *ps = NULL;
    for (size_t i = 0; i < STREAMS_MAX && ps == NULL; i++)
        if (g->streams[i].used && g->streams[i].id == stream_id)
            ps = &g->streams[i];
    if (ps == NULL)
        return PL_ENOTFOUND;
    ps->used = false;
    if (status < 0) {
        trace(g, now_ms, "stream failed id=%llu kind=%d err=%s", (unsigned long long)stream_id,
              (int)ps->kind, pl_err_name(status));
        struct probe *pr = &g->probe;
        if (g->cfg.fast_suspicion && ps->kind == ST_PING && status == -ECONNREFUSED && pr->active &&
            !pr->acked && pr->seq == ps->probe_seq && now_ms < pr->end_at) {
            /* The target's host answers our TCP ping with a reset (after the direct ping
             * went unanswered, or at once after an ICMP port unreachable): its process is
             * gone (a stopped process would still have its connection accepted by the
             * kernel). End the probe now instead of waiting out the probe period; the
             * suspicion timeout still applies in full. */
            pr->refused = true;
            pr->end_at = now_ms;
        }
        return 0;
    }
    struct rx rx = {
        .g = g, .now = now_ms, .from_addr = "", .stream = true, .join_reply = ps->kind == ST_JOIN};
    int rc = gossip_wire_packet_decode(p, len, g->cfg.stream_bytes_max, g->cfg.keyring,
                                       g->cfg.cluster, visit, &rx, &g->counters.wire);
    if (rc != 0)
        trace(g, now_ms, "drop stream reply id=%llu reason=%s", (unsigned long long)stream_id,
              pl_err_name(rc));
    return rc;
}

static uint64_t pushpull_start(struct gossip *g, const char *addr, bool join)
{
    struct gossip_wire_packet pk;
    uint64_t id = 0;
    int rc = pushpull_build(g, join, false, &pk);
    if (rc == 0)
        id = stream_start(g, addr, &pk, join ? ST_JOIN : ST_PUSHPULL, true, 0);
    else
        g->counters.dropped_full++;
    gossip_wire_packet_close(&pk);
    g->counters.pushpulls++;
    return id;
}

uint64_t gossip_join_start(struct gossip *g, uint64_t now_ms, const char *addr)
{
    if (strlen(addr) >= GOSSIP_ADDR_MAX)
        return 0;
    trace(g, now_ms, "join via=%s", addr);
    return pushpull_start(g, addr, true);
}

int gossip_join(struct gossip *g, uint64_t now_ms, const char *const *addrs, size_t n)
{
    int started = 0;
    for (size_t i = 0; i < n; i++)
        started += gossip_join_start(g, now_ms, addrs[i]) != 0;
    return started;
}

int gossip_leave(struct gossip *g, uint64_t now_ms)
{
    if (g->leaving)
        return 0;
    struct gossip_member *self = &g->members[0];
    g->leaving = true;
    g->probe.active = false;
    set_status(g, self, GOSSIP_LEFT, now_ms);
    struct gossip_msg msg = {.type = GOSSIP_MSG_DEAD, .incarnation = self->incarnation};
    copy_str(msg.name, sizeof(msg.name), self->name);
    copy_str(msg.from, sizeof(msg.from), self->name);
    self->bcast_id = bcast_queue(g, BC_MEMBER, 0, &msg);
    send_now(g, now_ms, &msg, 0);
    trace(g, now_ms, "leave inc=%llu", (unsigned long long)self->incarnation);
    return 0;
}

/* ---- timers ------------------------------------------------------------------------- */

static uint32_t health_scale(const struct gossip *g)
{
    return g->cfg.lifeguard ? g->awareness + 1 : 1;
}

/* The next member to probe: a suspect we were told of (fast_suspicion), else the next in
 * the shuffled round-robin list, reshuffled at the end of each round (SWIM §4.3). */
static int32_t probe_next_target(struct gossip *g)
{
    if (g->priority_probe > 0) {
        int32_t s = g->priority_probe;
        g->priority_probe = -1;
        if (g->members[s].used && g->members[s].status == GOSSIP_SUSPECT)
            return s;
    }
    for (uint32_t tries = 0; tries < 2; tries++) {
        while (g->probe_pos < g->probe_n) {
            uint32_t s = g->probe_list[g->probe_pos++];
            const struct gossip_member *m = &g->members[s];
            if (m->used && (m->status == GOSSIP_ALIVE || m->status == GOSSIP_SUSPECT))
                return (int32_t)s;
        }
        pl_rand_shuffle(g->rand, g->probe_list, g->probe_n, sizeof(uint32_t));
        g->probe_pos = 0;
    }
    return -1;
}

static void probe_start(struct gossip *g, uint64_t now)
{
    uint32_t scale = health_scale(g);
    g->next_probe_ms = now + (uint64_t)g->cfg.probe_interval_ms * scale;
    int32_t s = probe_next_target(g);
    if (s < 0)
        return;
    struct gossip_member *m = &g->members[s];
    struct probe *pr = &g->probe;
    memset(pr, 0, sizeof(*pr));
    pr->active = true;
    pr->slot = (uint32_t)s;
    copy_str(pr->name, sizeof(pr->name), m->name);
    pr->seq = ++g->seq;
    pr->timeout_at = now + (uint64_t)g->cfg.probe_timeout_ms * scale;
    pr->end_at = g->next_probe_ms;
    g->counters.probes++;
    trace(g, now, "probe name=%s seq=%u scale=%u", m->name, pr->seq, scale);
    struct gossip_msg msgs[2] = {{.type = GOSSIP_MSG_PING, .seq = pr->seq}};
    copy_str(msgs[0].name, sizeof(msgs[0].name), m->name);
    copy_str(msgs[0].from, sizeof(msgs[0].from), g->members[0].name);
    size_t n = 1;
    if (g->cfg.lifeguard && m->status == GOSSIP_SUSPECT) {
        /* Lifeguard's Buddy System: tell the suspect so it can refute at once. */
        msgs[1].type = GOSSIP_MSG_SUSPECT;
        msgs[1].incarnation = m->incarnation;
        copy_str(msgs[1].name, sizeof(msgs[1].name), m->name);
        copy_str(msgs[1].from, sizeof(msgs[1].from), g->members[0].name);
        n = 2;
    }
    send_udp(g, m->addr, msgs, n, true);
}

/* memberlist's TCP fallback: the probe's ping over a stream, in parallel with the rest. */
static void probe_tcp_ping(struct gossip *g, const struct gossip_member *m)
{
    struct probe *pr = &g->probe;
    pr->tcp_sent = true;
    struct gossip_wire_packet pk;
    struct gossip_msg ping = {.type = GOSSIP_MSG_PING, .seq = pr->seq, .flag = true};
    copy_str(ping.name, sizeof(ping.name), m->name);
    copy_str(ping.from, sizeof(ping.from), g->members[0].name);
    pl_buf_reset(&g->scratch);
    if (gossip_wire_packet_begin(&pk, g->cfg.cluster, udp_body_max(g)) == 0 &&
        gossip_wire_msg_encode(&ping, &g->scratch) == 0 &&
        gossip_wire_packet_add(&pk, g->scratch.data, g->scratch.len) == 0) {
        stream_start(g, m->addr, &pk, ST_PING, true, pr->seq);
        g->counters.tcp_pings++;
    }
    gossip_wire_packet_close(&pk);
}

void gossip_udp_unreachable(struct gossip *g, uint64_t now_ms, const char *addr)
{
    struct probe *pr = &g->probe;
    g->counters.udp_unreachable++;
    if (!g->cfg.fast_suspicion || !g->cfg.tcp_ping || !pr->active || pr->acked || pr->tcp_sent ||
        g->leaving)
        return;
    const struct gossip_member *m = &g->members[pr->slot];
    if (!m->used || strcmp(m->name, pr->name) != 0 || strcmp(m->addr, addr) != 0)
        return;
    /* The host says nothing listens on the member's port. Hearsay (an ICMP message can be
     * stale or forged), so it only sends the TCP ping now instead of after the probe
     * timeout; a refused connection is what ends the probe. */
    trace(g, now_ms, "udp unreachable name=%s: tcp ping now", m->name);
    probe_tcp_ping(g, m);
}

static void probe_indirect(struct gossip *g, uint64_t now)
{
    struct probe *pr = &g->probe;
    pr->indirect_sent = true;
    const struct gossip_member *m = &g->members[pr->slot];
    if (!m->used || strcmp(m->name, pr->name) != 0)
        return;
    uint32_t relays[16];
    uint32_t k = PL_MIN(g->cfg.indirect_checks, PL_ARRAY_LEN(relays));
    uint32_t n = pick_random(g, k, pr->slot, is_alive, now, relays);
    struct gossip_msg ip = {
        .type = GOSSIP_MSG_INDIRECT_PING, .seq = pr->seq, .flag = g->cfg.lifeguard};
    copy_str(ip.name, sizeof(ip.name), m->name);
    copy_str(ip.addr, sizeof(ip.addr), m->addr);
    copy_str(ip.from, sizeof(ip.from), g->members[0].name);
    for (uint32_t i = 0; i < n; i++)
        send_udp(g, g->members[relays[i]].addr, &ip, 1, false);
    g->counters.indirect_probes += n;
    pr->nacks_expected = g->cfg.lifeguard ? n : 0;
    if (g->cfg.tcp_ping && !pr->tcp_sent)
        probe_tcp_ping(g, m);
}

static void probe_finish(struct gossip *g, uint64_t now)
{
    struct probe *pr = &g->probe;
    pr->active = false;
    if (pr->acked)
        return;
    g->counters.probe_failures++;
    if (g->cfg.lifeguard && !pr->refused) {
        /* Lifeguard (Local Health Aware Probe): missing nacks mean our own links are the
         * problem. (Not when the target's host refused us: we reached it.) */
        uint32_t delta = 1;
        if (pr->nacks_expected > 0)
            delta = pr->nacks < pr->nacks_expected ? pr->nacks_expected - pr->nacks : 0;
        g->awareness = PL_MIN(g->awareness + delta, g->cfg.awareness_max_multiplier - 1);
    }
    struct gossip_member *m = &g->members[pr->slot];
    if (!m->used || strcmp(m->name, pr->name) != 0)
        return;
    trace(g, now, "probe failed name=%s nacks=%u/%u", m->name, pr->nacks, pr->nacks_expected);
    struct gossip_msg s = {.type = GOSSIP_MSG_SUSPECT, .incarnation = m->incarnation};
    copy_str(s.name, sizeof(s.name), m->name);
    copy_str(s.from, sizeof(s.from), g->members[0].name);
    if (m->status == GOSSIP_SUSPECT) {
        /* Our own failed probe of a suspect is a confirmation. */
        if (suspicion_confirm(g, m, s.from, now)) {
            queue_suspect(g, m, s.from);
            if (g->cfg.fast_suspicion)
                send_now(g, now, &s, pr->slot);
        }
        return;
    }
    on_suspect(g, now, &s);
}

static void suspicions_check(struct gossip *g, uint64_t now)
{
    for (uint32_t i = 0; i < g->suspects_n;) {
        struct gossip_member *m = &g->members[g->suspects[i]];
        PL_ASSERT(m->suspicion != NULL);
        if (now < m->suspicion->deadline_ms) {
            i++;
            continue;
        }
        trace(g, now, "suspicion timeout name=%s confirmations=%u", m->name,
              m->suspicion->confirmed);
        struct gossip_msg d = {.type = GOSSIP_MSG_DEAD, .incarnation = m->incarnation};
        copy_str(d.name, sizeof(d.name), m->name);
        copy_str(d.from, sizeof(d.from), g->members[0].name);
        g->counters.deaths_declared++;
        on_dead(g, now, &d); /* removes it from suspects */
        if (g->cfg.fast_suspicion)
            send_now(g, now, &d, slot_of(g, m));
    }
}

static void relays_check(struct gossip *g, uint64_t now)
{
    for (size_t i = 0; i < RELAYS_MAX; i++) {
        struct relay *r = &g->relays[i];
        if (!r->used || now < r->deadline_ms)
            continue;
        r->used = false;
        if (r->nack) {
            struct gossip_msg nack = {.type = GOSSIP_MSG_NACK, .seq = r->origin_seq};
            send_udp(g, r->origin_addr, &nack, 1, false);
        }
    }
}

static void gossip_round(struct gossip *g, uint64_t now)
{
    if (g->bc_n == 0) /* may hold stale entries; then the packets come out empty */
        return;
    uint32_t targets[16];
    uint32_t k = PL_MIN(g->cfg.gossip_nodes, PL_ARRAY_LEN(targets));
    uint32_t n = pick_random(g, k, 0, is_gossip_target, now, targets);
    for (uint32_t i = 0; i < n; i++) {
        const char *addr = g->members[targets[i]].addr;
        send_udp(g, addr, NULL, 0, true);
        /* One broadcast too large for a datagram per target per round, over TCP. */
        uint32_t limit = gossip_retransmit_limit(&g->cfg, live_count(g));
        for (uint32_t b = 0; g->bc_big > 0 && b < g->bc_n; b++) {
            struct bcast *bc = &g->bc[b];
            if (bc->bytes == NULL || !bcast_big(g, bc) || !bcast_valid(g, bc) ||
                bc->transmits >= limit)
                continue;
            struct gossip_wire_packet pk;
            if (gossip_wire_packet_begin(
                    &pk, g->cfg.cluster,
                    gossip_wire_body_max(g->cfg.stream_bytes_max, g->cfg.keyring)) == 0 &&
                gossip_wire_packet_add(&pk, bc->bytes, bc->len) == 0) {
                stream_start(g, addr, &pk, ST_PUSHPULL, false, 0);
                bc->transmits++;
            }
            gossip_wire_packet_close(&pk);
            break;
        }
    }
}

static uint64_t pushpull_interval(const struct gossip *g)
{
    /* memberlist pushPullScale: slower above 32 members so the load per member stays
     * bounded. */
    uint32_t n = live_count(g);
    uint64_t base = g->cfg.pushpull_interval_ms;
    if (n <= 32)
        return base;
    double mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
    return (uint64_t)((double)base * mult);
}

static void reap(struct gossip *g, uint64_t now)
{
    for (uint32_t s = 1; s < g->slots; s++) {
        struct gossip_member *m = &g->members[s];
        if (!m->used)
            continue;
        if ((m->status == GOSSIP_DEAD && now - m->status_change_ms >= g->cfg.reap_dead_ms) ||
            (m->status == GOSSIP_LEFT && now - m->status_change_ms >= g->cfg.reap_left_ms)) {
            member_reap(g, m, now);
            index_rebuild(g);
        }
    }
}

void gossip_tick(struct gossip *g, uint64_t now_ms)
{
    relays_check(g, now_ms);
    suspicions_check(g, now_ms);
    if (!g->leaving) {
        for (int guard = 0; guard < 4; guard++) {
            struct probe *pr = &g->probe;
            if (pr->active && !pr->acked && !pr->indirect_sent && now_ms >= pr->timeout_at) {
                probe_indirect(g, now_ms);
            } else if (pr->active && now_ms >= pr->end_at) {
                probe_finish(g, now_ms);
            } else if (!pr->active && now_ms >= g->next_probe_ms) {
                probe_start(g, now_ms);
            } else {
                break;
            }
        }
    }
    if (now_ms >= g->next_gossip_ms) {
        gossip_round(g, now_ms);
        g->next_gossip_ms += g->cfg.gossip_interval_ms;
        if (g->next_gossip_ms <= now_ms)
            g->next_gossip_ms = now_ms + g->cfg.gossip_interval_ms;
    }
    if (now_ms >= g->next_pushpull_ms) {
        g->next_pushpull_ms = now_ms + pushpull_interval(g);
        /* Set only when pick_random() returns 1; gcc -O2 cannot see that, so start it at
         * slot 0 (ourselves), which no caller below ever uses. */
        uint32_t t = 0;
        if (!g->leaving && pick_random(g, 1, 0, is_alive, now_ms, &t) == 1)
            pushpull_start(g, g->members[t].addr, false);
        /* Serf's reconnect: also try one member we hold dead, so that both sides of a
         * healed partition, or a member back from a long pause, find each other (the
         * exchange makes the other side refute our "dead" claim). */
        if (!g->leaving && g->status_count[GOSSIP_DEAD] > 0 &&
            pick_random(g, 1, 0, is_dead, now_ms, &t) == 1)
            pushpull_start(g, g->members[t].addr, false);
    }
    if (now_ms >= g->next_reap_ms) {
        g->next_reap_ms = now_ms + REAP_CHECK_MS;
        reap(g, now_ms);
    }
}

uint64_t gossip_deadline(const struct gossip *g)
{
    uint64_t d = g->next_gossip_ms;
    d = PL_MIN(d, g->next_pushpull_ms);
    d = PL_MIN(d, g->next_reap_ms);
    if (!g->leaving) {
        if (g->probe.active) {
            if (!g->probe.acked && !g->probe.indirect_sent)
                d = PL_MIN(d, g->probe.timeout_at);
            d = PL_MIN(d, g->probe.end_at);
        } else {
            d = PL_MIN(d, g->next_probe_ms);
        }
    }
    for (size_t i = 0; i < RELAYS_MAX; i++)
        if (g->relays[i].used)
            d = PL_MIN(d, g->relays[i].deadline_ms);
    for (uint32_t i = 0; i < g->suspects_n; i++)
        d = PL_MIN(d, g->members[g->suspects[i]].suspicion->deadline_ms);
    return d;
}

/* ---- lifecycle and queries ---------------------------------------------------------- */

int gossip_new(const struct gossip_config *cfg,
               const char *name,
               const char *addr,
               uint64_t incarnation,
               struct pl_rand *rand,
               uint64_t now_ms,
               struct gossip **out)
{
    if (strlen(name) == 0 || strlen(name) >= GOSSIP_NAME_MAX || strlen(addr) == 0 ||
        strlen(addr) >= GOSSIP_ADDR_MAX ||
        strnlen(cfg->cluster, GOSSIP_CLUSTER_MAX) >= GOSSIP_CLUSTER_MAX || cfg->members_max < 2 ||
        cfg->probe_interval_ms == 0 || cfg->gossip_interval_ms == 0 ||
        cfg->probe_timeout_ms > cfg->probe_interval_ms || cfg->awareness_max_multiplier == 0 ||
        cfg->suspicion_mult == 0 || cfg->suspicion_max_timeout_mult == 0 ||
        cfg->events_recent_max == 0 || cfg->states_max == 0 || cfg->broadcasts_max == 0 ||
        cfg->outputs_max == 0 || cfg->udp_bytes_max < 256 ||
        cfg->stream_bytes_max < cfg->udp_bytes_max ||
        cfg->stream_bytes_max > GOSSIP_WIRE_PACKET_BYTES_MAX || cfg->pushpull_interval_ms == 0)
        return PL_ECONFIG;
    struct gossip *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return -ENOMEM;
    g->cfg = *cfg;
    g->rand = rand;
    g->index_cap = pow2_at_least(cfg->members_max * 2);
    g->rindex_cap = pow2_at_least(cfg->states_max * 2);
    g->members = calloc(cfg->members_max, sizeof(*g->members));
    g->free_slots = calloc(cfg->members_max, sizeof(uint32_t));
    g->index = calloc(g->index_cap, sizeof(uint32_t));
    g->probe_list = calloc(cfg->members_max, sizeof(uint32_t));
    g->suspects = calloc(cfg->members_max, sizeof(uint32_t));
    g->bc = calloc(cfg->broadcasts_max, sizeof(*g->bc));
    g->records = calloc(cfg->states_max, sizeof(*g->records));
    g->rindex = calloc(g->rindex_cap, sizeof(uint32_t));
    g->seen = calloc(cfg->events_recent_max, sizeof(uint64_t));
    g->outs = calloc(cfg->outputs_max, sizeof(*g->outs));
    pl_buf_init(&g->scratch, GOSSIP_WIRE_PACKET_BYTES_MAX);
    pl_buf_init(&g->udp_out, cfg->udp_bytes_max);
    if (gossip_wire_packet_begin(&g->udp_pk, cfg->cluster,
                                 gossip_wire_body_max(cfg->udp_bytes_max, NULL)) != 0) {
        gossip_free(g);
        return -ENOMEM;
    }
    if (g->members == NULL || g->free_slots == NULL || g->index == NULL || g->probe_list == NULL ||
        g->suspects == NULL || g->bc == NULL || g->records == NULL || g->rindex == NULL ||
        g->seen == NULL || g->outs == NULL) {
        gossip_free(g);
        return -ENOMEM;
    }
    struct gossip_member *self = member_add(g, name, addr, now_ms);
    PL_ASSERT(self == &g->members[0]);
    self->incarnation = incarnation;
    g->priority_probe = -1;
    /* Announce ourselves once we know someone (memberlist's setAlive). */
    queue_alive(g, self);
    /* Spread the first timers so nodes started together do not tick in lock step. */
    g->next_probe_ms = now_ms + pl_rand_below(rand, cfg->probe_interval_ms);
    g->next_gossip_ms = now_ms + pl_rand_below(rand, cfg->gossip_interval_ms);
    g->next_pushpull_ms =
        now_ms + cfg->pushpull_interval_ms + pl_rand_below(rand, cfg->pushpull_interval_ms);
    g->next_reap_ms = now_ms + REAP_CHECK_MS;
    *out = g;
    return 0;
}

void gossip_free(struct gossip *g)
{
    if (g == NULL)
        return;
    gossip_outputs_clear(g);
    if (g->members != NULL) {
        for (uint32_t s = 0; s < g->slots; s++) {
            free(g->members[s].tags);
            free(g->members[s].suspicion);
        }
    }
    if (g->records != NULL)
        for (uint32_t i = 0; i < g->records_n; i++)
            free(g->records[i].value);
    if (g->bc != NULL)
        for (uint32_t i = 0; i < g->bc_n; i++)
            free(g->bc[i].bytes);
    for (uint32_t i = 0; i < EVENTS_REPLAY_MAX; i++)
        free(g->replay[i]);
    pl_buf_close(&g->scratch);
    pl_buf_close(&g->udp_out);
    gossip_wire_packet_close(&g->udp_pk);
    free(g->members);
    free(g->free_slots);
    free(g->index);
    free(g->probe_list);
    free(g->suspects);
    free(g->bc);
    free(g->records);
    free(g->rindex);
    free(g->seen);
    free(g->outs);
    free(g);
}

uint32_t gossip_member_slots(const struct gossip *g)
{
    return g->slots;
}

const struct gossip_member *gossip_member_at(const struct gossip *g, uint32_t slot)
{
    return slot < g->slots ? &g->members[slot] : NULL;
}

const struct gossip_member *gossip_member_find(const struct gossip *g, const char *name)
{
    return member_find(g, name);
}

uint32_t gossip_member_count(const struct gossip *g, enum gossip_status status)
{
    return g->status_count[status];
}

const struct gossip_counters *gossip_counters_get(const struct gossip *g)
{
    return &g->counters;
}

uint32_t gossip_awareness(const struct gossip *g)
{
    return g->awareness;
}

uint64_t gossip_lamport_time(const struct gossip *g)
{
    return g->lamport;
}
