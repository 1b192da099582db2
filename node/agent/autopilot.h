/*
 * Autopilot: the council heals itself (Consul's autopilot). The leader keeps `voters` (3 or
 * 5) voters: a voter that gossip has seen dead for longer than `dead_after_ms` is removed
 * from Raft's configuration, and a healthy member that may vote (raft.voter true) takes
 * its place, first as a learner, then promoted once it has caught up (thesis §4.2.1; the
 * core refuses a promotion until then). It never removes a voter when that would leave
 * fewer than a majority of the configured size, so a council that lost its quorum's worth
 * of voters is not shrunk into a smaller one that could decide alone, and it changes nothing
 * while the council has no live quorum (no change could commit).
 *
 * autopilot_decide() is pure (one change at a time, the same answer for the same view);
 * the Raft shell (agent_raft.c) builds the view from its configuration and gossip, carries
 * the change out and records it as a `council` entry.
 *
 * Config (top level): "autopilot": {"voters": 3, "dead_after_ms": 10000}; absent, the
 * council only grows by raft.auto_join and shrinks by hand.
 */
#ifndef PL_AUTOPILOT_H
#define PL_AUTOPILOT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct autopilot_cfg {
    bool enabled;
    uint32_t voters;        /* 3 or 5 */
    uint64_t dead_after_ms; /* a voter dead this long is replaced */
};

/* Reads root.autopilot; 0 or PL_ECONFIG with err naming the file and key. */
int autopilot_cfg_parse(const cJSON *root, const char *source, struct autopilot_cfg *out,
                        char *err, size_t err_size);

/* One server as the leader sees it. */
struct autopilot_server {
    uint64_t id;
    const char *name;
    bool in_config;     /* in Raft's configuration ... */
    bool voter;         /* ... as a voter (else a learner) */
    bool may_vote;      /* tagged raft.voter: a candidate for the council */
    bool alive;         /* gossip: alive or suspect */
    uint64_t dead_since_ms; /* when gossip last saw it stop being alive (0: alive) */
    bool self;
};

enum autopilot_op { AUTOPILOT_NONE = 0, AUTOPILOT_REMOVE, AUTOPILOT_ADD_LEARNER,
                    AUTOPILOT_PROMOTE };

struct autopilot_action {
    enum autopilot_op op;
    int server;          /* index into the view */
    uint32_t voters;     /* voters after the change */
    char reason[128];
};

/* The one change to make now, or AUTOPILOT_NONE. */
void autopilot_decide(const struct autopilot_cfg *cfg, const struct autopilot_server *view,
                      int n, uint64_t now_ms, struct autopilot_action *out);

#endif
