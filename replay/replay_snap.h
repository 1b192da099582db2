/*
 * Swarm state snapshots in a node's store: the state (node/swarm/swarm_snap.h) after the
 * first N ledger entries, kept in the snapshot store (snapshot/snapshot_store.h) under N
 * with the ledger's frontier and root at size N. Written by the agent every
 * `raft.state_snapshot_every` applied entries; read by the agent at start and by `replay`
 * and `postmortem`, which start from the nearest snapshot at or before where they go.
 *
 * A snapshot is used only when everything binds it to this ledger: its root is the ledger's
 * root at its size, the state decodes under this build's schema, its applied index is its
 * size, and its state hash is the one recomputed from its items. One that fails is skipped
 * (the next older one is tried) and counted; the ledger is the record, snapshots a cache.
 */
#ifndef REPLAY_SNAP_H
#define REPLAY_SNAP_H

#include "ledger.h"
#include "pl_store.h"
#include "swarm.h"

#include <stddef.h>
#include <stdint.h>

/* Snapshots tried (newest first) before giving up and replaying from the first entry. */
#define REPLAY_SNAP_TRIES 8

/* Stores s, whose applied index must be the ledger's size (PL_ESTATE otherwise), with the
 * ledger's frontier and root, synced. */
int replay_snap_store(struct pl_store *store, const struct ledger *l,
                      const struct swarm_state *s);

struct replay_snap_report {
    uint64_t index;   /* the snapshot used (0: none) */
    struct merkle_frontier frontier; /* the ledger's at its index (empty when none) */
    uint32_t skipped; /* newer ones refused */
    char why[256];    /* the last refusal, "" when none */
};

/*
 * Loads into *s the newest usable snapshot with index <= `index` (and <= the ledger's
 * size). 0 with *s its state; PL_ENOTFOUND when none is usable (*s then the initial state);
 * another code for a storage failure. rep (may be NULL) says which and what was skipped.
 */
int replay_snap_load(struct pl_store *store, struct ledger *l, uint64_t index,
                     struct swarm_state *s, struct replay_snap_report *rep);

/* Reads and checks the snapshot stored at exactly `index` into *s: 0, PL_ENOTFOUND, or the
 * reason it cannot be used (why says it). */
int replay_snap_read(struct pl_store *store, struct ledger *l, uint64_t index,
                     struct swarm_state *s, char *why, size_t why_size);

#endif
