/*
 * The node's one RocksDB database, generic over its users.
 *
 * A node keeps everything durable in `<data-dir>/db`, one RocksDB with one column family
 * per concern (the table in docs/ARCHITECTURE.md): Raft's log and metadata, the ledger's
 * leaves, tree nodes and signed heads, state snapshots, node-local records and healing
 * incidents. This module opens that database with every family (creating the missing ones),
 * translates RocksDB's string errors into our codes at the boundary, and offers the few
 * operations the users need: get, put, a write batch committed with sync, and iterators.
 * It knows nothing of what the keys mean.
 *
 * Errors: PL_ELOCKED when another process holds the database's LOCK file, PL_ENOTFOUND when
 * a read-only open finds no database, PL_ENOSPACE when a write meets a data dir below its
 * free-space reserve, PL_ESTORE for anything else RocksDB reports. The
 * RocksDB message of the last failure is kept in `err_text` for the caller's one-line error.
 */
#ifndef PL_STORE_H
#define PL_STORE_H

#include <rocksdb/c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pl_store_cf {
    PL_CF_DEFAULT,
    PL_CF_RAFT_LOG,
    PL_CF_RAFT_META,
    PL_CF_LEDGER_LEAVES,
    PL_CF_LEDGER_NODES,
    PL_CF_LEDGER_HEADS,
    PL_CF_SNAPSHOTS,
    PL_CF_NODE,
    PL_CF_INCIDENTS,
    PL_CF_OUTBOX, /* what this node did, waiting to be committed through the council */
    PL_CF_COUNT
};

/* The family's name in RocksDB ("ledger_leaves", ...). */
const char *pl_store_cf_name(enum pl_store_cf cf);

enum pl_store_flags {
    PL_STORE_CREATE = 1 << 0,    /* create the data dir (0700) and the database if missing */
    PL_STORE_READ_ONLY = 1 << 1, /* offline tools: no writes, no lock taken */
};

#define PL_STORE_ERR_TEXT_MAX 512
#define PL_STORE_EXTRA_CF_MAX 16

/*
 * What RocksDB may hold in memory (store.* in the agent's config; docs/ARCHITECTURE.md). A
 * node's writes are small and synced one commit at a time, so big memtables and caches buy
 * little: the defaults keep a loaded node's RocksDB within about 8 MiB.
 */
struct pl_store_limits
{
    uint64_t block_cache_bytes;  /* one LRU block cache shared by every family */
    uint64_t write_buffer_bytes; /* one memtable */
    uint32_t max_write_buffers;  /* memtables of all families together, in write buffers */
};
#define PL_STORE_BLOCK_CACHE_DEFAULT (2u << 20)
#define PL_STORE_WRITE_BUFFER_DEFAULT (1u << 20)
#define PL_STORE_MAX_WRITE_BUFFERS_DEFAULT 6
void pl_store_limits_default(struct pl_store_limits *l);

/* RocksDB's memory right now (pl_store_memory_get). */
struct pl_store_memory
{
    uint64_t memtables_bytes;     /* every family's memtables, flushing ones included */
    uint64_t block_cache_bytes;   /* used of the shared block cache */
    uint64_t table_readers_bytes; /* index and filter blocks outside the cache */
};

struct pl_store
{
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_block_based_table_options_t *table_opts;
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *wo_sync;
    rocksdb_writeoptions_t *wo_nosync;
    rocksdb_readoptions_t *ro;
    rocksdb_readoptions_t *ro_scan; /* pl_store_iter_init_scan's */
    /* NULL for a family that a read-only open did not find (reads then see it empty). */
    rocksdb_column_family_handle_t *cf[PL_CF_COUNT];
    /* Families found on disk that this build does not know; opened because RocksDB insists. */
    rocksdb_column_family_handle_t *extra_cf[PL_STORE_EXTRA_CF_MAX];
    int extra_cf_count;
    bool read_only;
    /* Writes are refused with PL_ENOSPACE while the data dir's file system has less than
     * this many bytes free (0: never), before RocksDB sees them: a write that fails inside
     * RocksDB on a full disk leaves it in a background error that only a reopen clears,
     * while a refusal here leaves nothing to repair once space returns. Set after open. */
    uint64_t reserve_bytes;
    char dir[4096];
    char err_text[PL_STORE_ERR_TEXT_MAX];
};

/*
 * Opens `<data_dir>/db`. Without PL_STORE_CREATE a missing data dir or database is
 * PL_ENOTFOUND. On failure `s->err_text` says why and nothing needs closing; on success
 * pl_store_close() must follow. `data_dir` is only read during the call.
 */
int pl_store_open(struct pl_store *s, const char *data_dir, unsigned flags);
/* The same with memory limits other than the defaults (copied). */
int pl_store_open_limits(struct pl_store *s, const char *data_dir, unsigned flags,
                         const struct pl_store_limits *limits);
void pl_store_close(struct pl_store *s);
/* Fills *out from RocksDB's properties; 0 or PL_ESTORE. */
int pl_store_memory_get(struct pl_store *s, struct pl_store_memory *out);

/* Reads one value into a malloc()ed buffer the caller frees. PL_ENOTFOUND when absent. */
int pl_store_get(struct pl_store *s,
                 enum pl_store_cf cf,
                 const void *key,
                 size_t key_len,
                 uint8_t **val_out,
                 size_t *val_len_out);
/* Reads one value that must be exactly `val_len` bytes long into `val` (PL_ECORRUPT if
 * the stored length differs, PL_ENOTFOUND when absent). */
int pl_store_get_fixed(struct pl_store *s,
                       enum pl_store_cf cf,
                       const void *key,
                       size_t key_len,
                       void *val,
                       size_t val_len);
/* 0 when the data dir's file system has at least `reserve_bytes` free (or the check is
 * off); PL_ENOSPACE otherwise, with the figures in `err_text`. Every write calls it. */
int pl_store_space_check(struct pl_store *s);
/* The same test without touching `err_text`, for a thread other than the store's owner. */
bool pl_store_space_ok(const struct pl_store *s);

/* One synced put. */
int pl_store_put(struct pl_store *s,
                 enum pl_store_cf cf,
                 const void *key,
                 size_t key_len,
                 const void *val,
                 size_t val_len);

/* A write batch: collect puts and deletes, then commit them atomically with sync. */
struct pl_store_batch
{
    rocksdb_writebatch_t *wb;
};
void pl_store_batch_init(struct pl_store_batch *b);
void pl_store_batch_close(struct pl_store_batch *b);
void pl_store_batch_clear(struct pl_store_batch *b);
void pl_store_batch_put(struct pl_store *s,
                        struct pl_store_batch *b,
                        enum pl_store_cf cf,
                        const void *key,
                        size_t key_len,
                        const void *val,
                        size_t val_len);
void pl_store_batch_delete(struct pl_store *s,
                           struct pl_store_batch *b,
                           enum pl_store_cf cf,
                           const void *key,
                           size_t key_len);
/* Writes the batch with sync (write + fdatasync): once this returns 0 the batch survives
 * a crash of the process or the machine. The batch is left as it was (clear it to reuse). */
int pl_store_batch_commit(struct pl_store *s, struct pl_store_batch *b);
/* Writes the batch without waiting for the disk: it survives a crash of the process (the
 * WAL is in the page cache, and the next synced write makes it durable too, in order) but
 * not of the machine. For state that a synced log can rebuild (the ledger under Raft). */
int pl_store_batch_commit_nosync(struct pl_store *s, struct pl_store_batch *b);

/* An iterator over one family, in key order. Keys and values point into RocksDB's
 * memory and stay valid until the iterator moves or closes. */
struct pl_store_iter
{
    rocksdb_iterator_t *it; /* NULL over a family that does not exist (always invalid) */
};
void pl_store_iter_init(struct pl_store *s, struct pl_store_iter *it, enum pl_store_cf cf);
/* The same for a long scan in key order: the blocks it reads are not kept in the block
 * cache. */
void pl_store_iter_init_scan(struct pl_store *s, struct pl_store_iter *it, enum pl_store_cf cf);
void pl_store_iter_close(struct pl_store_iter *it);
void pl_store_iter_seek_first(struct pl_store_iter *it);
void pl_store_iter_seek_last(struct pl_store_iter *it);
void pl_store_iter_seek(struct pl_store_iter *it, const void *key, size_t key_len);
/* Positions at the last key <= `key`. */
void pl_store_iter_seek_for_prev(struct pl_store_iter *it, const void *key, size_t key_len);
bool pl_store_iter_valid(const struct pl_store_iter *it);
void pl_store_iter_next(struct pl_store_iter *it);
void pl_store_iter_prev(struct pl_store_iter *it);
const uint8_t *pl_store_iter_key(const struct pl_store_iter *it, size_t *len_out);
const uint8_t *pl_store_iter_value(const struct pl_store_iter *it, size_t *len_out);
/* 0, or PL_ESTORE when the iteration stopped because of an error rather than the end. */
int pl_store_iter_status(const struct pl_store_iter *it);

#endif
