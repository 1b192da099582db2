/*
 * libFuzzer target for everything that restores a snapshot from bytes:
 *
 * - the Raft "snap" record (raft/raft_storage.c), read back from disk at start: it decodes
 *   or is refused, and what decodes re-encodes to bytes that decode to the same snapshot;
 * - the ledger image inside it, the Raft state machine's snapshot that a peer sends with
 *   InstallSnapshot (snapshot/ledger_codec.c): whatever ledger_image_decode() hands to its
 *   restore callback is a checked ledger (each leaf canonical and at its index, the root of
 *   the leaves the image's root), and writing those entries as an image again gives an
 *   image that decodes to the same root and leaves;
 * - the snapshot store's value (snapshot/snapshot_store.c): decode -> encode -> decode.
 *
 * The input is tried as each (a ledger image with its first byte as the leaf count, so the
 * fuzzer can reach the image without the record around it). Seeds:
 * tests/fuzz/corpus/fuzz_snapshot/ (a record holding a real image, images, store values).
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
struct image_copy
{
    int calls;
    uint8_t root[MERKLE_HASH_BYTES];
    uint32_t n;
    struct pl_buf image; /* the entries written again as an image */
};

static int write_again_cb(void *ctx, const uint8_t root[MERKLE_HASH_BYTES],
                          const struct ledger_entry *entries, uint32_t n)
{
    struct image_copy *c = ctx;
    c->calls++;
    memcpy(c->root, root, MERKLE_HASH_BYTES);
    c->n = n;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, &c->image);
    ledger_image_begin(&w, root, n);
    struct pl_buf leaf;
    pl_buf_init(&leaf, LEDGER_LEAF_MAX);
    for (uint32_t i = 0; i < n; i++) {
        PL_ASSERT(entries[i].index == i);
        pl_buf_reset(&leaf);
        PL_ASSERT(ledger_entry_encode(&entries[i], &leaf) == 0);
        pl_mp_bin(&w, leaf.data, leaf.len);
    }
    pl_buf_close(&leaf);
    PL_ASSERT(w.err == 0);
    return 0;
}

static int same_cb(void *ctx, const uint8_t root[MERKLE_HASH_BYTES],
                   const struct ledger_entry *entries, uint32_t n)
{
    const struct image_copy *c = ctx;
    (void)entries;
    PL_ASSERT(n == c->n && memcmp(root, c->root, MERKLE_HASH_BYTES) == 0);
    return PL_ESTATE; /* passed back as it is */
}

static void image(const uint8_t *p, size_t len, uint64_t count)
{
    struct image_copy c = {0};
    pl_buf_init(&c.image, len + 64);
    int rc = ledger_image_decode(p, len, count, write_again_cb, &c);
    PL_ASSERT(rc == 0 || rc == PL_ECORRUPT);
    PL_ASSERT(c.calls == (rc == 0));
    if (rc == 0) {
        /* The leaves were canonical, so the image written again has the same leaves. */
        PL_ASSERT(ledger_image_decode(c.image.data, c.image.len, count, same_cb, &c) ==
                  PL_ESTATE);
    }
    pl_buf_close(&c.image);
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
              memcmp(a.data, b.data, a.len) == 0);
    PL_ASSERT(a.config.n == b.config.n);
    for (uint32_t i = 0; i < a.config.n; i++)
        PL_ASSERT(a.config.servers[i].id == b.config.servers[i].id &&
                  a.config.servers[i].role == b.config.servers[i].role);
    image(a.data, a.len, a.index);
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
    if (size > 0)
        image(data + 1, size - 1, data[0]);
    store_value(data, size);
    return 0;
}
