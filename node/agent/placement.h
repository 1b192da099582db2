/*
 * The placement shell: `replicas: 1` services (a service config's "placement") run on
 * exactly one of their declared nodes, the one the swarm's committed state names.
 *
 * Every node publishes, in its gossip record "placement", the placed services it declares
 * (it is in their `nodes`), those it runs, and its load (services running here). The
 * council's leader (the healer) places each declared service that is not placed, and moves
 * one whose node is dead, left or fenced in the committed state, to the least loaded
 * eligible declarer (swarm_place_next), as a guarded `placement` entry.
 *
 * A node runs a placed service only while (1) the applied state places it here, (2) it has
 * applied everything a leader had committed when it first heard from one after its start
 * (a returning node learns where its services went before it starts anything), and (3) it
 * holds the lease: it knew itself in touch with a council majority no longer than
 * `lease_ms` ago (a leader: a majority answered it; a follower: its leader spoke). A node
 * cut off from the majority stops its placed services once the lease is over, so a
 * partition never leaves two copies running past the lease.
 *
 * Only voters run placed services (a client keeps no log to learn placements from); a
 * member that is not a voter declares none and says so at start.
 *
 * API: GET /v1/placement.
 */
#ifndef PL_PLACEMENT_H
#define PL_PLACEMENT_H

#include "agent.h"

extern const struct agent_module placement_module;

#endif
