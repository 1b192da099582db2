/*
 * Run-time fault injection in the agent's own transports (this kernel has no tc netem,
 * and tests must cut links without root). The gossip and Raft shells ask the table before
 * every send and after every receive: drop it, delay it, deliver it twice, or let it through.
 *
 * Rules are per peer name ("*" for every peer) and direction. Set them through the API
 * (`platelet fault drop --peer n2 --rate 0.3`, `delay`, `dup`, `partition`, `clear`). The same API
 * makes the agent's clocks jump (`platelet fault clock --offset-ms N`, see pl_clock.h). The API is
 * off unless the agent starts with --enable-faults ("enable_faults": true): a production
 * node must not be one request away from cutting itself off. Off, /v1/fault answers 403.
 */
#ifndef PL_FAULT_H
#define PL_FAULT_H

#include "api.h"
#include "pl_rand.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

enum fault_dir { FAULT_IN = 1, FAULT_OUT = 2, FAULT_BOTH = 3 };

#define FAULT_RULES_MAX 64
#define FAULT_PEER_MAX 64
#define FAULT_DELAYED_MAX 10000
#define FAULT_ADDR_MAX 64
#define FAULT_CLOCK_OFFSET_MS_MAX 31536000000.0 /* a year, either way */

struct fault_rule {
    char peer[FAULT_PEER_MAX]; /* a member name, or "*" */
    enum fault_dir dir;
    double drop_rate;          /* 0..1; 1 with `partitioned` */
    uint32_t delay_ms;
    uint32_t jitter_ms;
    double dup_rate;           /* 0..1: the chance a message is delivered once more */
    uint32_t dup_delay_ms;     /* the copy that long after the message itself */
    bool partitioned;
};

struct fault_table {
    struct fault_rule rules[FAULT_RULES_MAX];
    int n;
    struct pl_rand *rand;      /* borrowed: the agent's */
    uv_loop_t *loop;
    uint64_t dropped, delayed, duplicated; /* counters */
    uint32_t delayed_pending;
    bool api_enabled;          /* --enable-faults: /v1/fault may be used */
};

void fault_table_init(struct fault_table *t, uv_loop_t *loop, struct pl_rand *rand);

/* Adds or replaces the rule for (peer, dir). */
int fault_rule_set(struct fault_table *t, const struct fault_rule *rule);
/* Removes the rules for `peer` (NULL: all). */
void fault_clear(struct fault_table *t, const char *peer);

/*
 * Decides for one message to or from `peer` in direction `dir` (FAULT_IN or FAULT_OUT).
 * Returns true to drop it. Otherwise *delay_ms is how long to hold it (0: at once).
 */
bool fault_decide(struct fault_table *t, const char *peer, enum fault_dir dir, uint32_t *delay_ms);

/* Decides whether one message that was not dropped is delivered once more: true, with the
 * copy's *delay_ms after the message itself (dup rules). */
bool fault_decide_dup(struct fault_table *t, const char *peer, enum fault_dir dir,
                      uint32_t *delay_ms);

/*
 * Runs fn(arg) after delay_ms on the loop (at once when 0). Returns 0, or PL_EFULL when
 * too many are pending (then the caller drops the message and frees arg itself).
 */
int fault_defer(struct fault_table *t, uint32_t delay_ms, void (*fn)(void *arg), void *arg);

/* A message held back by a delay rule: a copy of its bytes and what the caller needs to
 * carry it out later (a peer address or id). */
struct fault_held {
    void (*fn)(const struct fault_held *h);
    void *ctx;
    uint64_t peer_id;
    char addr[FAULT_ADDR_MAX];
    size_t len;
    uint8_t bytes[];
};

/*
 * Holds a copy of one message for delay_ms, then runs fn(held) (the copy is freed after).
 * `addr` may be NULL. Returns 0, or PL_EFULL / -ENOMEM when it cannot hold it (the
 * message is then dropped, as a full queue on a real link would).
 */
int fault_hold(struct fault_table *t, uint32_t delay_ms, void (*fn)(const struct fault_held *h),
               void *ctx, uint64_t peer_id, const char *addr, const uint8_t *p, size_t len);

/*
 * The whole decision for one message to or from `peer` carried out: dropped, held for a
 * delay rule, and, for a dup rule, a copy held to be delivered after it (always on a later
 * loop turn, so after the message itself). Held messages reach fn(held) as with
 * fault_hold. Returns true when the caller must deliver the message now itself.
 */
bool fault_pass(struct fault_table *t, const char *peer, enum fault_dir dir,
                void (*fn)(const struct fault_held *h), void *ctx, uint64_t peer_id,
                const char *addr, const uint8_t *p, size_t len);

/* Registers GET/POST /v1/fault on the API (answering 403 unless t->api_enabled). */
void fault_api_register(struct fault_table *t, struct api *api);

#endif
