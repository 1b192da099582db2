/*
 * The Raft shell: runs the pure Raft core (raft/raft.h) for voters, with its log in the
 * node's RocksDB (raft/raft_storage.h), its messages on the libuv TCP transport
 * (raft/raft_transport.h) sealed with the gossip keyring, and the agent's fault table on
 * every message. Peers are found through gossip: each agent tags itself with its Raft
 * address and whether it is a voter.
 *
 * The state machine of this stage appends every committed entry to the node's ledger
 * (snapshot/ledger.h), so ledger index = Raft index - 1 on every node and the roots can be
 * compared across nodes. Later stages replace it with the healing state machine.
 *
 * API: GET /v1/raft/status, POST /v1/propose, /v1/raft/transfer, /v1/raft/add-voter,
 * /v1/raft/remove.
 */
#ifndef PL_AGENT_RAFT_H
#define PL_AGENT_RAFT_H

#include "agent.h"

extern const struct agent_module agent_raft_module;

/* The Raft id of a node name: the first 8 bytes of SHA-256(name), never 0. */
uint64_t agent_raft_id(const char *name);

#endif
