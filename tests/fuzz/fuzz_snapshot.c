/*
 * libFuzzer target for everything that restores a snapshot from bytes:
 *
 * - the Raft "snap" record (raft/raft_storage.c), read back from disk at start: it decodes
 *   or is refused, and what decodes re-encodes to bytes that decode to the same snapshot;
 * - the ledger's description inside it (snapshot/ledger_codec.c), which a peer also sends
 *   with every InstallSnapshot chunk: decode -> encode -> decode;
 * - a chunk of the snapshot's body, the ledger leaves a peer sends (ledger_chunk_decode):
 *   whatever it hands to its callback are canonical leaves at their indexes, and writing
 *   those entries as a chunk again gives one that decodes to the same leaves;
 * - the snapshot store's value (snapshot/snapshot_store.c): decode -> encode -> decode.
 *
 * The input is tried as each (a chunk with its first byte as the offset of its first leaf,
 * so the fuzzer can reach the chunk without the message around it). Seeds:
 * tests/fuzz/corpus/fuzz_snapshot/ (a record with a description, chunks, store values).
 */
#include "ledger_codec.h"
#include "merkle.h"
#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "pl_mp.h"
#include "raft_storage.h"
#include "snapshot_store.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first decode's result, for the second to compare with. */
struct chunk_copy
{
    int calls;
    uint64_t offset;
    uint32_t n;
    struct pl_buf chunk; /* the entries written again as a chunk */
};

static int write_again_cb(void *ctx, const struct ledger_entry *entries, uint32_t n)
{
    struct chunk_copy *c = ctx;
    c->calls++;
    c->n = n;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, &c->chunk);
    ledger_chunk_begin(&w, n);
    struct pl_buf leaf;
    pl_buf_init(&leaf, LEDGER_LEAF_MAX);
    for (uint32_t i = 0; i < n; i++) {
        PL_ASSERT(entries[i].index == c->offset + i);
        pl_buf_reset(&leaf);
        PL_ASSERT(ledger_entry_encode(&entries[i], &leaf) == 0);
        pl_mp_bin(&w, leaf.data, leaf.len);
    }
    pl_buf_close(&leaf);
    PL_ASSERT(w.err == 0);
    return 0;
}

static int same_cb(void *ctx, const struct ledger_entry *entries, uint32_t n)
{
    const struct chunk_copy *c = ctx;
    (void)entries;
    PL_ASSERT(n == c->n);
    return PL_ESTATE; /* passed back as it is */
}

static void chunk(const uint8_t *p, size_t len, uint64_t offset)
{
    struct chunk_copy c = {.offset = offset};
    pl_buf_init(&c.chunk, len + 64);
    int rc = ledger_chunk_decode(p, len, offset, write_again_cb, &c);
    PL_ASSERT(rc == 0 || rc == PL_EMALFORMED);
    PL_ASSERT(c.calls == (rc == 0));
    if (rc == 0) {
        /* The leaves were canonical, so the chunk written again has the same leaves. */
        PL_ASSERT(ledger_chunk_decode(c.chunk.data, c.chunk.len, offset, same_cb, &c) ==
                  PL_ESTATE);
    }
    pl_buf_close(&c.chunk);
}

static void desc(const uint8_t *p, size_t len)
{
    uint64_t size, size2;
    uint8_t root[MERKLE_HASH_BYTES], root2[MERKLE_HASH_BYTES];
    if (ledger_snap_desc_decode(p, len, &size, root) != 0)
        return;
    struct pl_buf e;
    pl_buf_init(&e, 256);
    PL_ASSERT(ledger_snap_desc_encode(size, root, &e) == 0);
    PL_ASSERT(ledger_snap_desc_decode(e.data, e.len, &size2, root2) == 0);
    PL_ASSERT(size == size2 && memcmp(root, root2, MERKLE_HASH_BYTES) == 0);
    pl_buf_close(&e);
}

static void raft_record(const uint8_t *data, size_t size)
{
    struct raft_snapshot a, b;
    memset(&a, 0x5a, sizeof(a));
    struct raft_snapshot before = a;
    int rc = raft_storage_snapshot_decode(data, size, &a);
    if (rc != 0) {
        PL_ASSERT(rc == PL_ECORRUPT);
        PL_ASSERT(memcmp(&a, &before, sizeof(a)) == 0);
        return;
    }
    struct pl_buf e;
    pl_buf_init(&e, size + 64);
    PL_ASSERT(raft_storage_snapshot_encode(&a, &e) == 0);
    PL_ASSERT(raft_storage_snapshot_decode(e.data, e.len, &b) == 0);
    PL_ASSERT(a.index == b.index && a.term == b.term && a.len == b.len &&
              a.body_len == b.body_len && memcmp(a.data, b.data, a.len) == 0);
    PL_ASSERT(a.config.n == b.config.n);
    for (uint32_t i = 0; i < a.config.n; i++)
        PL_ASSERT(a.config.servers[i].id == b.config.servers[i].id &&
                  a.config.servers[i].role == b.config.servers[i].role);
    desc(a.data, a.len);
    free(a.data);
    free(b.data);
    pl_buf_close(&e);
}

static void store_value(const uint8_t *data, size_t size)
{
    /* The key's index must match the value's: take it from the value itself when it has one. */
    msgpack_unpacked u;
    uint64_t index = 0;
    if (pl_mp_parse(data, size, &u) == 0) {
        (void)pl_mp_get_u64(&u.data, "index", &index);
        msgpack_unpacked_destroy(&u);
    }
    struct snapshot a, b;
    if (snapshot_decode(data, size, index, &a) != 0)
        return;
    struct pl_buf e;
    pl_buf_init(&e, size + 64);
    PL_ASSERT(snapshot_encode(a.index, a.state, a.state_len, &a.frontier, a.root, &e) == 0);
    PL_ASSERT(snapshot_decode(e.data, e.len, index, &b) == 0);
    PL_ASSERT(a.index == b.index && memcmp(a.root, b.root, MERKLE_HASH_BYTES) == 0);
    PL_ASSERT(a.frontier.size == b.frontier.size && a.frontier.count == b.frontier.count &&
              memcmp(a.frontier.hash, b.frontier.hash,
                     a.frontier.count * sizeof(a.frontier.hash[0])) == 0);
    PL_ASSERT(a.state_len == b.state_len && memcmp(a.state, b.state, a.state_len) == 0);
    snapshot_free(&a);
    snapshot_free(&b);
    pl_buf_close(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raft_record(data, size);
    desc(data, size);
    if (size > 0)
        chunk(data + 1, size - 1, data[0]);
    store_value(data, size);
    return 0;
}
