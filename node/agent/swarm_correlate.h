/*
 * Correlated failures: the same anomaly signature on many nodes at once (a shared
 * dependency down, the network) is one cluster incident, not many local ones, and must not
 * set off a restart storm.
 *
 * Every node gossips its heal record (node/swarm/swarm_heal_record.h: per-service
 * baselines and recent anomaly signatures). swarm_correlate_find() reads every live
 * member's record and returns the signatures that stand on at least `share` of the live
 * nodes that run the service (and at least `min_nodes`), begun within `window_ms` of the
 * first: deterministic for a given set of records. Two users:
 *   - every node's healing shell (heal_agent.c) tells its machine to hold a restart
 *     (HEAL_IN_HOLD) while a hit names a signature the node itself shows;
 *   - the council's leader (agent_raft.c) commits one `cluster_incident` per hit (open),
 *     and its close once the hit is gone, so the incident and its single escalation are
 *     in the ledger.
 * The root cause is `network` when hits stand for two services or more at once (nothing
 * but the network is shared by unrelated services), else `dependency_failure`.
 *
 * Config (top level): "correlate": {"share": 0.5, "window_ms": 30000, "min_nodes": 3,
 * "enabled": true}. Only failures of a running service are signatures (a check failing, a
 * detector's verdict): a process that exits or cannot start is restarted whatever the
 * cluster sees, since nothing else brings it back.
 */
#ifndef PL_SWARM_CORRELATE_H
#define PL_SWARM_CORRELATE_H

#include "agent_config.h"
#include "gossip.h"
#include "swarm.h"
#include "swarm_heal_record.h"

#include <stdbool.h>
#include <stdint.h>

#define CORRELATE_HITS_MAX 16
#define CORRELATE_RECORD_KEY "heal"

struct correlate_cfg {
    bool enabled;
    double share;        /* of the live nodes running the service, (0, 1] */
    uint64_t window_ms;  /* the nodes' failures began within this of the first */
    uint32_t min_nodes;  /* and at least this many nodes */
};

struct correlate_hit {
    char sig[SWARM_SIG_MAX];
    char service[SWARM_NAME_MAX];
    uint8_t cause;               /* heal_cause */
    uint32_t nodes, members;     /* showing it / live nodes running the service */
    uint64_t since_ms;           /* the first node's */
    char names[SWARM_TEXT_MAX];  /* the nodes showing it, comma-separated (cut) */
};

void correlate_cfg_default(struct correlate_cfg *c);
/* Reads root.correlate; 0 or PL_ECONFIG with err naming the file and key. */
int correlate_cfg_parse(const cJSON *root, const char *source, struct correlate_cfg *out,
                        char *err, size_t err_size);

/* One node's record, as the caller read it (borrowed). */
struct correlate_view {
    const char *node;
    const struct swarm_heal_record *rec;
};

/* The hits among `views` (pure; the order of views does not matter). Returns how many were
 * written to hits (at most max). `lenient`: count a signature that stands on min_nodes
 * whatever the share (to keep an incident that is already open from flapping). */
int swarm_correlate_find(const struct correlate_cfg *cfg, const struct correlate_view *views,
                         int nviews, bool lenient, struct correlate_hit *hits, int max);

/* Reads every live member's heal record from the gossip core (records that do not decode
 * are skipped and counted in *bad) and correlates them as swarm_correlate_find does, in
 * two passes that keep tallies, never the records: any number of members, bounded memory
 * (256 signatures and services tracked, the smallest by name past that). One tally gives
 * both answers: the strict hits (*nstrict in strict) and the lenient ones (*nloose in
 * loose), at most max each. */
void swarm_correlate_scan(const struct gossip *g, const struct correlate_cfg *cfg,
                          struct correlate_hit *strict, int *nstrict,
                          struct correlate_hit *loose, int *nloose, int max, uint64_t *bad);

/* The leader's side: commits one cluster_incident per hit (open; its escalation once it is
 * committed) and its close once the hit is gone. The caller owns it (zeroed, then fields
 * set) for the agent's life; run it on the leader, after each housekeeping round. */
#define CORRELATE_INFLIGHT_MAX 8
struct agent;
struct agent_raft;
struct agent_gossip;
struct correlate_leader {
    struct agent *agent;
    struct agent_raft *raft;
    struct agent_gossip *gossip;
    struct correlate_cfg cfg;
    char inflight[CORRELATE_INFLIGHT_MAX][SWARM_SIG_MAX]; /* proposed, not answered yet */
    uint64_t proposed, committed;
};
void correlate_leader_run(struct correlate_leader *cl, const struct swarm_state *s);

#endif
