/*
 * Swarm state snapshots in a node's store (replay_snap.h).
 */
#include "replay_snap.h"

#include "pl_err.h"
#include "snapshot_store.h"
#include "swarm_snap.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int replay_snap_store(struct pl_store *store, const struct ledger *l,
                      const struct swarm_state *s)
{
    if (s->applied_index != l->size || l->frontier.size != l->size)
        return PL_ESTATE;
    struct pl_buf b;
    pl_buf_init(&b, SWARM_SNAP_BYTES_MAX);
    int rc = swarm_snap_encode(s, &b);
    if (rc == 0)
        rc = snapshot_put(store, l->size, b.data, b.len, &l->frontier, l->root);
    pl_buf_close(&b);
    return rc;
}

/* Why one stored snapshot cannot stand for the state after its first `snap->index` entries
 * of this ledger (0 when it can). */
static int check(struct ledger *l, const struct snapshot *snap, struct swarm_state *s,
                 char *why, size_t why_size)
{
    uint8_t root[MERKLE_HASH_BYTES];
    int rc = ledger_root_at(l, snap->index, root);
    if (rc != 0) {
        snprintf(why, why_size, "snapshot %" PRIu64 ": no ledger root at its size: %s",
                 snap->index, pl_strerror(rc));
        return rc;
    }
    if (snap->frontier.size != snap->index ||
        sodium_memcmp(root, snap->root, MERKLE_HASH_BYTES) != 0) {
        snprintf(why, why_size, "snapshot %" PRIu64 ": its ledger root is not this ledger's",
                 snap->index);
        return PL_EVERIFY;
    }
    rc = swarm_snap_decode(snap->state, snap->state_len, s);
    if (rc != 0) {
        snprintf(why, why_size, "snapshot %" PRIu64 ": %s", snap->index,
                 rc == PL_EVERSION  ? "written by a build with another state schema"
                 : rc == PL_EVERIFY ? "its state hash is not the hash of its state"
                                    : "its state does not decode");
        return rc;
    }
    if (s->applied_index != snap->index) {
        snprintf(why, why_size, "snapshot %" PRIu64 ": its state is at index %" PRIu64,
                 snap->index, s->applied_index);
        return PL_ECORRUPT;
    }
    return 0;
}

int replay_snap_load(struct pl_store *store, struct ledger *l, uint64_t index,
                     struct swarm_state *s, struct replay_snap_report *rep)
{
    struct replay_snap_report local;
    if (rep == NULL)
        rep = &local;
    memset(rep, 0, sizeof(*rep));
    merkle_frontier_init(&rep->frontier);
    uint64_t at = index < l->size ? index : l->size;
    int rc = PL_ENOTFOUND;
    for (int tries = 0; tries < REPLAY_SNAP_TRIES && at > 0; tries++) {
        struct snapshot snap;
        rc = snapshot_get_at_or_before(store, at, &snap);
        if (rc == PL_ENOTFOUND)
            break;
        if (rc == PL_ECORRUPT) {
            /* Its index is unknown: step below the key the store found. */
            snprintf(rep->why, sizeof(rep->why), "a stored snapshot at or before %" PRIu64
                     " does not decode", at);
            rep->skipped++;
            at--;
            continue;
        }
        if (rc != 0)
            break;
        rc = snap.index == 0 ? PL_ENOTFOUND : check(l, &snap, s, rep->why, sizeof(rep->why));
        uint64_t found = snap.index;
        if (rc == 0)
            rep->frontier = snap.frontier;
        snapshot_free(&snap);
        if (rc == 0) {
            rep->index = found;
            return 0;
        }
        if (rc != PL_EVERSION && rc != PL_EVERIFY && rc != PL_EMALFORMED && rc != PL_ECORRUPT &&
            rc != PL_ENOTFOUND)
            break;
        rep->skipped++;
        if (found == 0)
            break;
        at = found - 1;
        rc = PL_ENOTFOUND;
    }
    swarm_state_init(s);
    return rc == 0 || rc == PL_ECORRUPT || rc == PL_EVERIFY || rc == PL_EVERSION ||
                   rc == PL_EMALFORMED
               ? PL_ENOTFOUND
               : rc;
}

int replay_snap_read(struct pl_store *store, struct ledger *l, uint64_t index,
                     struct swarm_state *s, char *why, size_t why_size)
{
    struct snapshot snap;
    int rc = snapshot_get_at_or_before(store, index, &snap);
    if (rc != 0) {
        snprintf(why, why_size, "snapshot %" PRIu64 ": %s", index, pl_strerror(rc));
        return rc;
    }
    if (snap.index != index) {
        snprintf(why, why_size, "snapshot %" PRIu64 ": none stored", index);
        rc = PL_ENOTFOUND;
    } else if (index > l->size) {
        snprintf(why, why_size, "snapshot %" PRIu64 ": past the ledger's %" PRIu64 " entries",
                 index, l->size);
        rc = PL_ERANGE;
    } else {
        rc = check(l, &snap, s, why, why_size);
    }
    snapshot_free(&snap);
    return rc;
}
