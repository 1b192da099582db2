/*
 * The ledger: an append-only, Merkle-verified log of entries in the node's RocksDB.
 *
 * Layout (column families of pl_store.h):
 *   ledger_leaves  index (u64 BE)                -> leaf hash (32) | the entry's leaf bytes
 *   ledger_nodes   level (u8) | index (u64 BE)   -> hash of the perfect subtree (level, index),
 *                                                   for levels >= LEDGER_NODE_LEVEL_MIN
 *   ledger_heads   size (u64 BE)                 -> signed tree head (ledger_codec.h)
 *
 * Perfect subtrees below LEDGER_NODE_LEVEL_MIN (at most 8 leaves) are folded from the
 * leaves' stored hashes when needed, as Trillian keeps only the bottom of each stratum: an
 * append then costs about 1.07 RocksDB puts per entry instead of 3, and a proof still reads
 * O(log n) values (at most 15 extra leaf hashes, next to each other).
 *
 * An append of a batch writes its leaves, every perfect subtree it completes and the new
 * signed head in ONE synced WriteBatch, so after any crash the store holds a whole number of
 * batches and the newest head describes exactly the leaves present. The size of the ledger is
 * the size of its newest head. Roots of any earlier size and all proofs are O(log n) reads of
 * stored perfect subtrees (merkle.h).
 *
 * The struct is owned by the caller: ledger_open() then ledger_close(). The store and keys
 * are borrowed and must outlive the ledger; keys may be NULL for a read-only ledger.
 */
#ifndef LEDGER_H
#define LEDGER_H

#include "ledger_codec.h"
#include "merkle.h"
#include "pl_buf.h"
#include "pl_keys.h"
#include "pl_store.h"

#include <stdbool.h>
#include <stdint.h>

#define LEDGER_BATCH_MAX (1u << 20)
#define LEDGER_NODE_LEVEL_MIN 4
#define LEDGER_ERR_TEXT_MAX 256

struct ledger
{
    struct pl_store *store;     /* borrowed */
    const struct pl_keys *keys; /* borrowed; NULL when read-only */
    uint64_t size;
    struct merkle_frontier frontier;
    uint8_t root[MERKLE_HASH_BYTES];
    struct ledger_head head; /* newest; valid when size > 0 */
    /* The leaf hashes of the block of 2^LEDGER_NODE_LEVEL_MIN leaves last read. */
    bool block_valid;
    unsigned block_count;
    uint64_t block_index;
    uint8_t block_hashes[1u << LEDGER_NODE_LEVEL_MIN][MERKLE_HASH_BYTES];
    /* false (the default): every append is synced before it returns. true: appends are
     * written without waiting for the disk, for a ledger that a synced log can rebuild
     * (the Raft state machine re-applies its log after a crash). Set after ledger_open. */
    bool no_sync;
    char err_text[LEDGER_ERR_TEXT_MAX];
};

/* Loads size, frontier and newest head, and checks that the frontier's root is the head's
 * (PL_ECORRUPT otherwise, with err_text saying so). */
int ledger_open(struct ledger *l, struct pl_store *store, const struct pl_keys *keys);
void ledger_close(struct ledger *l);

/*
 * Appends n entries (their index fields are ignored: entry i gets index size + i) and a new
 * head signed at head_time_ms, in one synced write. On success the ledger's size, root and
 * head describe the new tree and *head_out (may be NULL) is a copy of the head. On failure
 * nothing was written and the ledger is unchanged.
 */
int ledger_append(struct ledger *l,
                  const struct ledger_entry *entries,
                  size_t n,
                  uint64_t head_time_ms,
                  struct ledger_head *head_out);

/* Root of the tree of the first `size` leaves (size <= l->size, else PL_ERANGE). */
int ledger_root_at(struct ledger *l, uint64_t size, uint8_t root[MERKLE_HASH_BYTES]);
int ledger_inclusion_proof(struct ledger *l,
                           uint64_t index,
                           uint64_t size,
                           uint8_t path[][MERKLE_HASH_BYTES],
                           size_t *path_len);
int ledger_consistency_proof(struct ledger *l,
                             uint64_t first,
                             uint64_t second,
                             uint8_t proof[][MERKLE_HASH_BYTES],
                             size_t *proof_len);
/* The leaf bytes of one entry (malloc()ed; the caller frees). */
int ledger_leaf_get(struct ledger *l, uint64_t index, uint8_t **leaf, size_t *len);
/* The hash of perfect subtree (level, index): stored, or folded from stored leaf hashes. */
int ledger_node_get(struct ledger *l,
                    unsigned level,
                    uint64_t index,
                    uint8_t out[MERKLE_HASH_BYTES]);
/* The signed head stored under exactly `size` (PL_ENOTFOUND if none). */
int ledger_head_at(struct ledger *l, uint64_t size, struct ledger_head *out);

/* Visits the leaves with from <= index < to, in order; a non-zero return of cb stops the
 * walk and is returned. `leaf` is valid during the call only. A scan: the blocks it reads
 * are not kept in the store's block cache (pl_store_iter_init_scan). */
typedef int (*ledger_leaf_cb)(void *ctx, uint64_t index, const uint8_t *leaf, size_t len);
int ledger_leaves_each(struct ledger *l, uint64_t from, uint64_t to, ledger_leaf_cb cb, void *ctx);

struct ledger_check_report
{
    uint64_t leaves;   /* leaves recomputed */
    uint64_t nodes;    /* stored hashes compared (leaf hashes and tree nodes) */
    uint64_t heads;    /* heads whose root and signature were checked */
    uint64_t size;     /* size of the newest head checked */
    int64_t bad_index; /* first bad entry index, -1 when the fault is not in one entry */
    char reason[LEDGER_ERR_TEXT_MAX];
};

/*
 * Recomputes every leaf hash and every perfect subtree from the leaf bytes, compares them with
 * the stored nodes, every stored head's root and signature, and the newest head's size. 0 when
 * everything agrees; PL_ECORRUPT with the report naming the first fault otherwise (another
 * code for a storage failure).
 */
int ledger_check(struct ledger *l, struct ledger_check_report *report);
/* The same over a store alone, without ledger_open() (which refuses a ledger whose newest
 * head does not match its tree): what `platelet ledger check` runs. */
int ledger_check_store(struct pl_store *store, struct ledger_check_report *report);

/* Keys, for tools and tests that look at the families directly. */
void ledger_index_key(uint64_t index, uint8_t key[8]);
void ledger_node_key(unsigned level, uint64_t index, uint8_t key[9]);

#endif
