/*
 * The snapshot store: state-machine snapshots in the `snapshots` column family.
 *
 * A snapshot at index i holds the replicated state after applying entry i, the Merkle
 * frontier of the ledger at that point (so the tree can continue from it) and the root that
 * frontier gives. Keyed by index (u64 BE); the value is a msgpack map
 * {"index", "root" (bin 32), "tree_size", "frontier" (array of bin 32), "state" (bin)}.
 * The root is checked against the frontier before it is stored and after it is loaded.
 * Retention keeps the newest N snapshots.
 */
#ifndef SNAPSHOT_STORE_H
#define SNAPSHOT_STORE_H

#include "merkle.h"
#include "pl_buf.h"
#include "pl_store.h"

#include <stddef.h>
#include <stdint.h>

#define SNAPSHOT_STATE_MAX (256u * 1024 * 1024)

struct snapshot
{
    uint64_t index;
    uint8_t root[MERKLE_HASH_BYTES];
    struct merkle_frontier frontier;
    uint8_t *state; /* malloc()ed; snapshot_free() */
    size_t state_len;
};

/* The stored value: appends it to out (unchanged on failure). PL_EVERIFY when root is not
 * the frontier's root, PL_EMALFORMED for a frontier that does not match its size, PL_ETOOBIG
 * past SNAPSHOT_STATE_MAX or out's limit. */
int snapshot_encode(uint64_t index,
                    const uint8_t *state,
                    size_t state_len,
                    const struct merkle_frontier *frontier,
                    const uint8_t root[MERKLE_HASH_BYTES],
                    struct pl_buf *out);
/* Decodes a stored value found under key_index; out->state is malloc()ed (snapshot_free()).
 * PL_ECORRUPT when it does not decode, names another index, or its root disagrees with its
 * frontier; *out is untouched then. */
int snapshot_decode(const uint8_t *p, size_t len, uint64_t key_index, struct snapshot *out);

/* Stores (synced). PL_EVERIFY when root is not the frontier's root. */
int snapshot_put(struct pl_store *s,
                 uint64_t index,
                 const uint8_t *state,
                 size_t state_len,
                 const struct merkle_frontier *frontier,
                 const uint8_t root[MERKLE_HASH_BYTES]);
/* The newest snapshot with index <= `index`; PL_ENOTFOUND when there is none, PL_ECORRUPT
 * when the stored one does not decode or its root disagrees with its frontier. */
int snapshot_get_at_or_before(struct pl_store *s, uint64_t index, struct snapshot *out);
/* Up to `max` indexes in ascending order; *n gets how many were written. *total (may be
 * NULL) gets how many exist. */
int snapshot_list(struct pl_store *s, uint64_t *indexes, size_t max, size_t *n, size_t *total);
/* Deletes all but the newest keep_last snapshots (keep_last >= 1) in one synced batch;
 * *deleted (may be NULL) gets how many went. */
int snapshot_retain(struct pl_store *s, size_t keep_last, size_t *deleted);
void snapshot_free(struct snapshot *snap);

#endif
