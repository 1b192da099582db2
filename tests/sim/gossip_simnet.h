/*
 * The simulated world of the gossip simulator: N gossip cores in one process under
 * virtual time, and a network between them with loss, delay (hence reordering),
 * duplication, partitions, crashed members and paused members (a stopped process: it
 * neither runs its timers nor reads its sockets until it resumes).
 *
 * One seed drives everything: the network's decisions come from one pl_rand seeded with
 * it and each core's pl_rand is seeded from it and the node's index. Events are ordered by
 * (time, sequence number), so a run replays exactly.
 */
#ifndef GOSSIP_SIMNET_H
#define GOSSIP_SIMNET_H

#include "gossip.h"
#include "pl_rand.h"

#include <stdbool.h>
#include <stdint.h>

struct simnet_node
{
    struct gossip *g;
    struct pl_rand rand;
    char name[16];
    char addr[16];
    bool started;
    bool crashed;
    bool paused;
    int group; /* partition group */
    uint64_t timer_at;
    uint64_t timer_gen;
};

struct simnet_event; /* private */

/* What the scenario wants to see of each core's outputs. */
struct simnet_hooks
{
    void (*member_cb)(void *ctx, int observer, const struct gossip_out *o);
    void (*event_cb)(void *ctx, int observer, const struct gossip_out *o);
    void (*state_cb)(void *ctx, int observer, const struct gossip_out *o);
    void *ctx;
};

struct simnet
{
    uint64_t seed;
    uint64_t now;
    struct pl_rand rand;
    int n;
    struct simnet_node *nodes;
    struct gossip_config cfg;
    /* Faults. */
    double loss; /* probability a datagram is lost */
    double dup;  /* probability a datagram is delivered twice */
    uint32_t delay_min_ms;
    uint32_t delay_max_ms;
    bool partitioned; /* packets between different groups are dropped */
    /* A slow member (CPU-starved): everything it receives waits slow_extra_ms_max in its
     * input backlog. -1 for none. */
    int slow_node;
    uint32_t slow_extra_ms_max;
    struct simnet_hooks hooks;
    /* The event heap. */
    struct simnet_event *heap;
    uint32_t heap_n;
    uint32_t heap_cap;
    uint64_t seq;
    /* Totals. */
    uint64_t delivered;
    uint64_t dropped;
    uint64_t events_processed;
};

/* Creates n nodes (not started) with cfg; 0 or -ENOMEM. */
int simnet_init(struct simnet *net, uint64_t seed, int n, const struct gossip_config *cfg);
void simnet_close(struct simnet *net);
/* Starts node i (creates its core) and, when seed >= 0, joins it through node `seed`. */
void simnet_start(struct simnet *net, int i, int seed);
void simnet_crash(struct simnet *net, int i);
void simnet_pause(struct simnet *net, int i);
void simnet_resume(struct simnet *net, int i);
/* Runs events up to and including time `until`. */
void simnet_run_until(struct simnet *net, uint64_t until);
/* Hands outputs of node i to the network (after calling into its core directly). */
void simnet_drain(struct simnet *net, int i);
bool simnet_up(const struct simnet *net, int i);

#endif
