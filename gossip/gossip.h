/*
 * The gossip protocol core: SWIM membership (Das, Gupta, Motivala 2002) with the Lifeguard
 * refinements (Dadgar, Phillips, Currey 2017), infection-style dissemination, push-pull
 * anti-entropy, per-node versioned state records, tags and user events.
 *
 * The core is pure: no I/O, no clock, no randomness of its own, no printing. The caller
 * hands it time (`now_ms` on every call), randomness (a seeded struct pl_rand), packets in
 * (gossip_step for UDP, gossip_stream_serve / gossip_stream_done for TCP) and drains what
 * it produced from an output list. The libuv shell in the agent and the simulator in
 * tests/sim are the two callers.
 *
 * Calling convention, after every call that takes `now_ms` (new, step, tick, join, leave,
 * state_set, tags_set, event_send, stream_serve, stream_done):
 *
 *   1. gossip_outputs() gives the outputs in the order they were produced. Carry them out
 *      in that order: deliver GOSSIP_OUT_MEMBER / _EVENT / _STATE to the application,
 *      send GOSSIP_OUT_UDP datagrams, start GOSSIP_OUT_STREAM exchanges (connect, write
 *      the 4-byte big-endian length and the bytes, and when expects_response read one
 *      length-prefixed reply within timeout_ms, then call gossip_stream_done with it or
 *      with a negative status). Application deliveries come before the sends that
 *      follow them, so an application that persists membership sees a change before any
 *      peer can learn that we acted on it.
 *   2. gossip_outputs_clear(). Output bytes stay valid until then (copy what async I/O
 *      needs past it).
 *   3. Arm one timer for gossip_deadline() and call gossip_tick() when it fires. Calling
 *      tick early or late is harmless; it does what is due.
 *
 * Member identity is the node name; the incarnation orders claims about it. A node that
 * returns under its name at another address refutes the old claims with a higher
 * incarnation and is taken as the same node with a new address (GOSSIP_MEMBER_UPDATE).
 */
#ifndef GOSSIP_H
#define GOSSIP_H

#include "gossip_wire.h"
#include "pl_buf.h"
#include "pl_rand.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gossip_status { GOSSIP_ALIVE = 0, GOSSIP_SUSPECT = 1, GOSSIP_DEAD = 2, GOSSIP_LEFT = 3 };

enum gossip_profile { GOSSIP_PROFILE_LAN, GOSSIP_PROFILE_WAN, GOSSIP_PROFILE_LOCAL };

struct gossip_config
{
    char cluster[GOSSIP_CLUSTER_MAX]; /* carried in every packet; others' are dropped */
    /* memberlist's names and meanings (facts/gossip.md §1). */
    uint32_t probe_interval_ms;
    uint32_t probe_timeout_ms;
    uint32_t indirect_checks;
    uint32_t suspicion_mult;
    uint32_t suspicion_max_timeout_mult;
    uint32_t gossip_interval_ms;
    uint32_t gossip_nodes;
    uint32_t retransmit_mult;
    uint32_t pushpull_interval_ms;
    uint32_t awareness_max_multiplier;
    uint32_t gossip_to_the_dead_ms;
    uint32_t tcp_timeout_ms;
    /* Reaping: dead and left members are forgotten after these. */
    uint64_t reap_dead_ms;
    uint64_t reap_left_ms;
    /* Sizes and hard maxima. */
    uint32_t udp_bytes_max;    /* a whole datagram, sealing included (1400) */
    uint32_t stream_bytes_max; /* a whole TCP payload */
    uint32_t members_max;
    uint32_t states_max;        /* state records over all members */
    uint32_t broadcasts_max;    /* the retransmit queue */
    uint32_t events_recent_max; /* de-duplication window of user events */
    uint32_t outputs_max;
    /* Switches. lifeguard: local health awareness, nacks, dynamic suspicion timeout and
     * the buddy system; off gives plain SWIM with a fixed suspicion timeout (the min).
     * fast_suspicion: send each suspicion, confirmation and death at once to
     * gossip_nodes random members, probe a suspect as soon as we hear of it, and end a
     * failing probe when the TCP fallback ping is refused (our addition,
     * docs/ARCHITECTURE.md). tcp_ping: TCP fallback probe. */
    bool lifeguard;
    bool fast_suspicion;
    bool tcp_ping;
    /* Borrowed; may be NULL (plaintext). Must outlive the core. */
    const struct gossip_keyring *keyring;
    /* Tracer: one formatted line per notable event; NULL for none. */
    void (*trace_cb)(void *ctx, uint64_t now_ms, const char *line);
    void *trace_ctx;
};

/* Fills cfg with a profile's values (memberlist's LAN/WAN/Local) and our limits. */
void gossip_config_default(struct gossip_config *cfg, enum gossip_profile profile);
/* "lan", "wan", "local"; PL_EMALFORMED otherwise. */
int gossip_profile_parse(const char *text, enum gossip_profile *out);

struct gossip_suspicion; /* private */

/* A member as this node sees it. Read-only for the caller. */
struct gossip_member
{
    char name[GOSSIP_NAME_MAX];
    char addr[GOSSIP_ADDR_MAX];
    uint64_t incarnation;
    enum gossip_status status;
    uint64_t status_change_ms;
    uint8_t *tags; /* msgpack map str->str, or NULL */
    uint32_t tags_len;
    /* private */
    bool used;
    uint64_t bcast_id;
    struct gossip_suspicion *suspicion;
};

enum gossip_out_kind {
    GOSSIP_OUT_UDP,    /* send bytes to addr */
    GOSSIP_OUT_STREAM, /* open a TCP exchange with addr */
    GOSSIP_OUT_MEMBER, /* a member changed */
    GOSSIP_OUT_EVENT,  /* a user event to deliver (once) */
    GOSSIP_OUT_STATE,  /* a state record changed */
};

enum gossip_member_event {
    GOSSIP_MEMBER_JOIN,  /* first seen, alive */
    GOSSIP_MEMBER_ALIVE, /* back to alive (refuted a suspicion, or revived) */
    GOSSIP_MEMBER_SUSPECT,
    GOSSIP_MEMBER_DEAD,
    GOSSIP_MEMBER_LEFT,
    GOSSIP_MEMBER_UPDATE, /* address or tags changed */
    GOSSIP_MEMBER_REAP,   /* forgotten */
};

struct gossip_out
{
    enum gossip_out_kind kind;
    char addr[GOSSIP_ADDR_MAX]; /* UDP, STREAM destination; MEMBER address */
    uint8_t *bytes;             /* UDP/STREAM payload, EVENT payload, STATE value */
    size_t len;
    uint64_t stream_id;                    /* STREAM: pass back to gossip_stream_done */
    bool expects_response;                 /* STREAM */
    uint32_t timeout_ms;                   /* STREAM */
    enum gossip_member_event member_event; /* MEMBER */
    enum gossip_status status;             /* MEMBER */
    uint64_t incarnation;                  /* MEMBER */
    uint64_t version;                      /* EVENT: Lamport time; STATE: version */
    char name[GOSSIP_NAME_MAX];            /* MEMBER name; EVENT name; STATE node */
    char origin[GOSSIP_NAME_MAX];          /* EVENT origin */
    char key[GOSSIP_STATE_KEY_MAX];        /* STATE key */
};

struct gossip_counters
{
    struct gossip_wire_counters wire;
    uint64_t tx_packets;
    uint64_t tx_bytes;
    uint64_t tx_streams;
    uint64_t probes;
    uint64_t probes_acked; /* probes answered (directly, indirectly or by TCP) in time */
    uint64_t probe_failures;
    uint64_t indirect_probes;
    uint64_t tcp_pings;
    uint64_t udp_unreachable; /* ICMP port unreachable reports from the shell */
    uint64_t tcp_ping_rescues;
    uint64_t nacks_received;
    uint64_t suspicions_raised;
    uint64_t refutations;
    uint64_t deaths_declared;
    uint64_t events_delivered;
    uint64_t events_duplicate;
    uint64_t events_too_old;
    uint64_t misdirected_pings;
    uint64_t dropped_full; /* a member, record, broadcast or output dropped at a maximum */
    uint64_t pushpulls;
};

struct gossip;

/*
 * Creates a core for node `name` advertising `addr` (the address peers reach us at, which
 * may differ from the bind address behind NAT). cfg is copied; rand is borrowed and must
 * outlive the core. 0, PL_ECONFIG or -ENOMEM.
 */
int gossip_new(const struct gossip_config *cfg,
               const char *name,
               const char *addr,
               uint64_t incarnation,
               struct pl_rand *rand,
               uint64_t now_ms,
               struct gossip **out);
void gossip_free(struct gossip *g);

/* A UDP datagram from `from_addr`. Dropped packets are counted; the return value says why
 * (0 when accepted) and needs no action. */
int gossip_step(struct gossip *g,
                uint64_t now_ms,
                const char *from_addr,
                const uint8_t *p,
                size_t len);
/* Does what is due at now_ms. */
void gossip_tick(struct gossip *g, uint64_t now_ms);
/* When gossip_tick must next be called. */
uint64_t gossip_deadline(const struct gossip *g);

/* The member an incoming TCP request comes from, as its ping or push-pull names it (the
 * dialer's port is ephemeral, so its address names no one), for the shell's per-peer fault
 * rules; the packet is only decoded, nothing changes. 0, PL_ENOTFOUND when it names none
 * (an older agent's push-pull), or why it does not decode. */
int gossip_stream_sender(const struct gossip *g, const uint8_t *p, size_t len,
                         char out[GOSSIP_NAME_MAX]);

/* An incoming TCP request; the reply (possibly empty: send none) is appended to `reply`. */
int gossip_stream_serve(struct gossip *g,
                        uint64_t now_ms,
                        const char *from_addr,
                        const uint8_t *p,
                        size_t len,
                        struct pl_buf *reply);
/* The result of a GOSSIP_OUT_STREAM that expects_response: status < 0 when it failed.
 * Pass -ECONNREFUSED exactly when the peer's host refused the connection (a reset):
 * with fast_suspicion a refused TCP ping ends a failing probe early. Timeouts and other
 * failures are any other negative code. */
int gossip_stream_done(struct gossip *g,
                       uint64_t now_ms,
                       uint64_t stream_id,
                       int status,
                       const uint8_t *p,
                       size_t len);

/* The host of `addr` reported that nothing listens there (an ICMP port unreachable for a
 * datagram we sent it). If we are probing the member at that address, its TCP fallback
 * ping goes out now rather than after the probe timeout. */
void gossip_udp_unreachable(struct gossip *g, uint64_t now_ms, const char *addr);

/* Starts a push-pull join with each address; returns how many were started. */
int gossip_join(struct gossip *g, uint64_t now_ms, const char *const *addrs, size_t n);
/* Starts one, returning the id its GOSSIP_OUT_STREAM (and so gossip_stream_done) carries,
 * or 0 when it could not start: a caller that must report how a join went follows it. */
uint64_t gossip_join_start(struct gossip *g, uint64_t now_ms, const char *addr);
/* Announces that we leave; keep driving the core until gossip_broadcasts_pending() is 0
 * or a timeout, then stop. */
int gossip_leave(struct gossip *g, uint64_t now_ms);
/* Broadcasts still to send; 0 also when no other member is alive or suspect, since nobody
 * could receive them. */
size_t gossip_broadcasts_pending(const struct gossip *g);

/* Publishes our record `key`; it wins everywhere by its higher version. */
int gossip_state_set(struct gossip *g,
                     uint64_t now_ms,
                     const char *key,
                     const uint8_t *value,
                     size_t len);
/* Looks a record up; *value points into the core until the next call. PL_ENOTFOUND. */
int gossip_state_get(const struct gossip *g,
                     const char *node,
                     const char *key,
                     const uint8_t **value,
                     size_t *len,
                     uint64_t *version);
/* Iterates over all records: start with *cursor = 0 and call while it returns 0; each
 * call yields the next record and advances the cursor. PL_ENOTFOUND past the end. */
int gossip_state_at(const struct gossip *g,
                    uint32_t *cursor,
                    const char **node,
                    const char **key,
                    const uint8_t **value,
                    size_t *len,
                    uint64_t *version);
/* Sets our tags (a msgpack map of str -> str, at most GOSSIP_TAGS_BYTES_MAX). */
int gossip_tags_set(struct gossip *g, uint64_t now_ms, const uint8_t *tags, size_t len);
/* Sends a user event to every member (and delivers it locally). */
int gossip_event_send(struct gossip *g,
                      uint64_t now_ms,
                      const char *name,
                      const uint8_t *payload,
                      size_t len);

void gossip_outputs(const struct gossip *g, const struct gossip_out **outs, size_t *n);
void gossip_outputs_clear(struct gossip *g);

/* Members: slots 0..gossip_member_slots()-1, skip those with !used. Slot 0 is us. */
uint32_t gossip_member_slots(const struct gossip *g);
const struct gossip_member *gossip_member_at(const struct gossip *g, uint32_t slot);
const struct gossip_member *gossip_member_find(const struct gossip *g, const char *name);
/* Members in each status, ourselves included. */
uint32_t gossip_member_count(const struct gossip *g, enum gossip_status status);

const struct gossip_counters *gossip_counters_get(const struct gossip *g);
/* Lifeguard's local health score, 0 (healthy) .. awareness_max_multiplier-1. */
uint32_t gossip_awareness(const struct gossip *g);
uint64_t gossip_lamport_time(const struct gossip *g);
const char *gossip_status_name(enum gossip_status s);
const char *gossip_member_event_name(enum gossip_member_event e);

/*
 * Lifeguard's suspicion timeout (memberlist suspicion.go / util.go): with n members known,
 * min = suspicion_mult * max(1, log10(max(1, n))) * probe_interval, max =
 * suspicion_max_timeout_mult * min, k = suspicion_mult - 2 (0 when n - 2 < k); after c
 * independent confirmations the timeout is max - (max - min) * log(c + 1) / log(k + 1),
 * never below min, and min when k < 1 or Lifeguard is off.
 */
uint64_t gossip_suspicion_timeout_ms(const struct gossip_config *cfg, uint32_t n, uint32_t c);
/* retransmit_mult * ceil(log10(n + 1)). */
uint32_t gossip_retransmit_limit(const struct gossip_config *cfg, uint32_t n);

#endif
