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
 * /v1/raft/remove, /v1/raft/snapshot (build one now).
 */
#ifndef PL_AGENT_RAFT_H
#define PL_AGENT_RAFT_H

#include "agent.h"

extern const struct agent_module agent_raft_module;

/* The Raft id of a node name: the first 8 bytes of SHA-256(name), never 0. */
uint64_t agent_raft_id(const char *name);

struct agent_raft;

/* The outcome of an internal proposal: err 0 with the entry's Raft index once committed
 * (a voter: applied here; a client: acknowledged by the leader), else PL_ENOLEADER (not
 * appended, safe to send again), PL_ETIMEOUT (outcome unknown), or another code. */
typedef void (*agent_raft_propose_cb)(void *data, int err, uint64_t index);

/*
 * Proposes one entry from inside the agent (the healing module's outbox): the same
 * proposal check as POST /v1/propose, then through the Raft core or, on a member that is
 * not a voter, to the leader as a client. Returns 0 (cb runs exactly once, later) or an
 * error (cb never runs).
 */
int agent_raft_propose(struct agent_raft *ar, const char *kind, const uint8_t *body, size_t len,
                       agent_raft_propose_cb cb, void *data);

struct prom_writer;
/* Writes the Raft, ledger and swarm metrics of GET /v1/metrics (agent_metrics.h). */
void agent_raft_metrics(struct agent_raft *ar, struct prom_writer *w);

/* For placement (placement.c). The applied swarm state (read-only; a client's stays empty). */
const struct swarm_state *agent_raft_swarm(const struct agent_raft *ar);
/* Whether this agent is configured as a voter (raft.voter). */
bool agent_raft_voter(const struct agent_raft *ar);
/* Whether this voter leads the council now. */
bool agent_raft_leads(const struct agent_raft *ar);
/* How long ago this voter last knew itself in touch with a council majority (a leader: a
 * majority answered; a follower: its leader spoke); UINT64_MAX when never or a client. */
uint64_t agent_raft_contact_age_ms(const struct agent_raft *ar);
/* Whether this voter has applied every entry a leader had committed when it first heard
 * from one after this start (stays true once it was). */
bool agent_raft_caught_up(struct agent_raft *ar);
/* The newest term this node knows: its Raft term, or a newer one an applied entry carried
 * (what the acting node fences decisions with). */
uint64_t agent_raft_known_term(const struct agent_raft *ar);

/* Checks the `raft` section of the config without starting anything (agent start runs it
 * before it creates the data dir). 0, or PL_ECONFIG with one line in err. */
int agent_raft_config_check(const struct agent_config *cfg, char *err, size_t err_size);

#endif
