/*
 * Raft's durable state in the node's RocksDB (pl_store.h), the storage half of the Raft
 * shell. It carries out step 1 of an update (raft.h): hard state, snapshot, truncation,
 * entries and compaction in ONE synced WriteBatch, so after a crash the store holds either
 * all of an update's writes or none, and nothing the core was told is durable is lost.
 *
 * Layout:
 *   raft_log   index (u64 BE) -> term (u64 BE) | type (u8) | data
 *   raft_meta  "format"       -> u32 BE, RAFT_STORAGE_FORMAT (a newer one is refused)
 *              "hs"           -> term (u64 BE) | vote (u64 BE)
 *              "snap"         -> msgpack [index, term, config (bin), data (bin)]
 */
#ifndef RAFT_STORAGE_H
#define RAFT_STORAGE_H

#include "pl_buf.h"
#include "pl_store.h"
#include "raft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_STORAGE_FORMAT 1

/* What raft_storage_load() found; free with raft_storage_loaded_free(). */
struct raft_storage_state {
    bool empty;       /* nothing was ever stored: a new member */
    uint64_t term;
    uint64_t vote;
    bool has_snapshot;
    struct raft_snapshot snapshot; /* data malloc'd */
    struct raft_entry *entries;    /* malloc'd, each data malloc'd */
    size_t n_entries;
    /* The index of the newest snapshot whose body (the state machine's own records) this
     * node began to receive (raft_storage_receiving_put), 0 if none: the state machine may
     * hold up to that much beyond the log. */
    uint64_t receiving;
};

/* Reads the whole durable state. PL_EVERSION for a store of a newer format, PL_ECORRUPT for
 * undecodable records (with `err` naming the key), PL_ESTORE for RocksDB failures. */
int raft_storage_load(struct pl_store *s, struct raft_storage_state *out, char *err,
                      size_t err_size);
void raft_storage_state_free(struct raft_storage_state *st);

/* Whether Raft ever stored anything here (a council member's store, whose ledger only the
 * council writes). 0 or PL_ESTORE; *in_use set on success. */
int raft_storage_in_use(struct pl_store *s, bool *in_use);

/* Carries out step 1 of `u` (when u->persist_seq != 0) with one synced write. */
int raft_storage_persist(struct pl_store *s, const struct raft_update *u);

/* Adds step 1 of `u` to `b` (copying what u points to), behind what `b` holds already, so
 * several updates can go to the disk in one synced write, in their order (the Raft log
 * writer, node/agent/raft_writer.h). Nothing is written; -ENOMEM leaves `b` partly filled
 * (the caller stops the node: a batch cannot be left half built). */
int raft_storage_batch_add(struct pl_store *s, struct pl_store_batch *b,
                           const struct raft_update *u);

/* Records, with one synced write, that the state machine may from now on hold up to
 * `index` beyond the log, because a snapshot's body is being written into it (raft.h,
 * struct raft_stage). */
int raft_storage_receiving_put(struct pl_store *s, uint64_t index);

/* The "snap" record: appends its bytes to out; decodes them into *out (data malloc'd;
 * untouched on failure). PL_ECORRUPT for bytes that are not exactly one such record. */
int raft_storage_snapshot_encode(const struct raft_snapshot *snap, struct pl_buf *out);
int raft_storage_snapshot_decode(const uint8_t *p, size_t n, struct raft_snapshot *out);

#endif
