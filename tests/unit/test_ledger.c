/*
 * Unit tests of the ledger, the snapshot store, pl_store and pl_keys on a real RocksDB in a
 * temporary directory under the test's working directory.
 *
 * Roots are checked against an independent recursive RFC 6962 MTH computed here from the
 * leaf bytes the test encodes itself; proofs against the RFC 9162 verifiers.
 */
/* cmocka needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "ledger.h"
#include "merkle.h"
#include "pl_err.h"
#include "pl_keys.h"
#include "pl_mp.h"
#include "pl_mp_read.h"
#include "pl_rand.h"
#include "pl_store.h"
#include "snapshot_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ENTRIES 2048 /* leaf hashes the fixture remembers */

typedef uint8_t hash_t[MERKLE_HASH_BYTES];

struct fixture
{
    char dir[64];
    struct pl_store store;
    struct pl_keys keys;
    struct ledger ledger;
    hash_t leaf_hashes[MAX_ENTRIES]; /* the test's own record */
    uint64_t n;
};

static void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static void ref_node(const hash_t l, const hash_t r, hash_t out)
{
    uint8_t buf[65];
    buf[0] = 1;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    crypto_hash_sha256(out, buf, 65);
}

static void ref_mth(hash_t *leaves, uint64_t a, uint64_t b, hash_t out)
{
    if (b == a) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    if (b - a == 1) {
        memcpy(out, leaves[a], 32);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < b - a)
        k *= 2;
    hash_t l, r;
    ref_mth(leaves, a, a + k, l);
    ref_mth(leaves, a + k, b, r);
    ref_node(l, r, out);
}

static int open_all(struct fixture *f)
{
    int rc = pl_store_open(&f->store, f->dir, PL_STORE_CREATE);
    if (rc != 0)
        return rc;
    rc = pl_keys_open(&f->keys, f->dir, true, NULL, 0);
    if (rc != 0)
        return rc;
    return ledger_open(&f->ledger, &f->store, &f->keys);
}

static void close_all(struct fixture *f)
{
    ledger_close(&f->ledger);
    pl_keys_close(&f->keys);
    pl_store_close(&f->store);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "test_ledger.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    if (open_all(f) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    close_all(f);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* Appends `count` entries with bodies {"n": i, "msg": "..."} and records their leaf hashes
 * as the test computes them from its own encoding. */
static void append_some(struct fixture *f, size_t count, uint64_t time_ms)
{
    assert_true(f->n + count <= MAX_ENTRIES);
    struct pl_buf bodies[64];
    struct ledger_entry entries[64];
    assert_true(count <= 64);
    for (size_t i = 0; i < count; i++) {
        uint64_t idx = f->n + i;
        pl_buf_init(&bodies[i], 1024);
        struct pl_mp_writer w;
        pl_mp_writer_init(&w, &bodies[i]);
        pl_mp_map(&w, 2);
        pl_mp_str(&w, "n");
        pl_mp_uint(&w, idx);
        pl_mp_str(&w, "msg");
        char text[64];
        snprintf(text, sizeof(text), "entry number %llu", (unsigned long long)idx);
        pl_mp_strn(&w, text, strlen(text) % 40);
        assert_int_equal(w.err, 0);
        entries[i] = (struct ledger_entry){.term = 7,
                                           .time_ms = time_ms + i,
                                           .kind = "detect",
                                           .kind_len = 6,
                                           .body = bodies[i].data,
                                           .body_len = bodies[i].len};
        /* The test's own leaf bytes: encode with the real index, hash with libsodium. */
        struct ledger_entry e = entries[i];
        e.index = idx;
        struct pl_buf leaf;
        pl_buf_init(&leaf, LEDGER_LEAF_MAX);
        assert_int_equal(ledger_entry_encode(&e, &leaf), 0);
        uint8_t pre[2048];
        pre[0] = 0;
        assert_true(leaf.len < sizeof(pre));
        memcpy(pre + 1, leaf.data, leaf.len);
        crypto_hash_sha256(f->leaf_hashes[idx], pre, leaf.len + 1);
        pl_buf_close(&leaf);
    }
    struct ledger_head h;
    assert_int_equal(ledger_append(&f->ledger, entries, count, time_ms, &h), 0);
    f->n += count;
    assert_int_equal(h.size, f->n);
    assert_int_equal(f->ledger.size, f->n);
    hash_t want;
    ref_mth(f->leaf_hashes, 0, f->n, want);
    assert_memory_equal(h.root, want, 32);
    assert_memory_equal(h.public_key, f->keys.public_key, 32);
    assert_int_equal(ledger_head_verify(&h), 0);
    for (size_t i = 0; i < count; i++)
        pl_buf_close(&bodies[i]);
}

static void check_proofs(struct fixture *f, uint64_t index, uint64_t size, uint64_t first)
{
    hash_t path[MERKLE_PROOF_MAX], root, root1;
    size_t n = 0;
    ref_mth(f->leaf_hashes, 0, size, root);
    hash_t got;
    assert_int_equal(ledger_root_at(&f->ledger, size, got), 0);
    assert_memory_equal(got, root, 32);
    assert_int_equal(ledger_inclusion_proof(&f->ledger, index, size, path, &n), 0);
    assert_int_equal(merkle_inclusion_verify(index, size, f->leaf_hashes[index], path, n, root), 0);
    ref_mth(f->leaf_hashes, 0, first, root1);
    assert_int_equal(ledger_consistency_proof(&f->ledger, first, size, path, &n), 0);
    assert_int_equal(merkle_consistency_verify(first, size, root1, root, path, n), 0);
}

static void test_append_reopen_proofs(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->ledger.size, 0);
    hash_t empty;
    crypto_hash_sha256(empty, NULL, 0);
    assert_memory_equal(f->ledger.root, empty, 32);

    append_some(f, 1, 1000);
    append_some(f, 2, 2000);
    append_some(f, 13, 3000);
    for (uint64_t size = 1; size <= f->n; size++)
        for (uint64_t i = 0; i < size; i++)
            check_proofs(f, i, size, i + 1);

    /* Reopen: the same size, root and head, and appends continue the same tree. */
    hash_t root_before;
    memcpy(root_before, f->ledger.root, 32);
    close_all(f);
    assert_int_equal(open_all(f), 0);
    assert_int_equal(f->ledger.size, 16);
    assert_memory_equal(f->ledger.root, root_before, 32);
    assert_int_equal(f->ledger.head.size, 16);
    append_some(f, 5, 4000);
    check_proofs(f, 20, 21, 16);

    /* Every stored head is there under its size. */
    struct ledger_head h;
    assert_int_equal(ledger_head_at(&f->ledger, 3, &h), 0);
    hash_t r3;
    ref_mth(f->leaf_hashes, 0, 3, r3);
    assert_memory_equal(h.root, r3, 32);
    assert_int_equal(ledger_head_at(&f->ledger, 4, &h), PL_ENOTFOUND);

    /* The stored leaf decodes to what was appended. */
    uint8_t *leaf = NULL;
    size_t len = 0;
    assert_int_equal(ledger_leaf_get(&f->ledger, 17, &leaf, &len), 0);
    struct ledger_entry e;
    assert_int_equal(ledger_entry_decode(leaf, len, &e), 0);
    assert_int_equal(e.index, 17);
    assert_int_equal(e.term, 7);
    assert_int_equal(e.time_ms, 4001);
    assert_int_equal(e.kind_len, 6);
    assert_memory_equal(e.kind, "detect", 6);
    free(leaf);

    /* Out of range requests. */
    hash_t path[MERKLE_PROOF_MAX];
    size_t n;
    assert_int_equal(ledger_inclusion_proof(&f->ledger, 21, 21, path, &n), PL_ERANGE);
    assert_int_equal(ledger_inclusion_proof(&f->ledger, 0, 22, path, &n), PL_ERANGE);
    assert_int_equal(ledger_consistency_proof(&f->ledger, 0, 21, path, &n), PL_ERANGE);
    assert_int_equal(ledger_consistency_proof(&f->ledger, 5, 22, path, &n), PL_ERANGE);
    assert_int_equal(ledger_root_at(&f->ledger, 22, path[0]), PL_ERANGE);

    struct ledger_check_report r;
    assert_int_equal(ledger_check(&f->ledger, &r), 0);
    assert_int_equal(r.leaves, 21);
    assert_int_equal(r.heads, 4);
    /* 21 leaves: their 21 stored hashes and the one stored subtree of 16 (levels 1..3 are
     * folded from leaf hashes, not stored). */
    assert_int_equal(r.nodes, 22);
    uint64_t stored_nodes = 0;
    struct pl_store_iter it;
    pl_store_iter_init(&f->store, &it, PL_CF_LEDGER_NODES);
    for (pl_store_iter_seek_first(&it); pl_store_iter_valid(&it); pl_store_iter_next(&it))
        stored_nodes++;
    pl_store_iter_close(&it);
    assert_int_equal(stored_nodes, 1);
}

static void test_randomised(void **state)
{
    struct fixture *f = *state;
    struct pl_rand rnd;
    pl_rand_seed(&rnd, 0x5eed1edbull);
    while (f->n < 1500) {
        size_t count = 1 + (size_t)pl_rand_below(&rnd, 64);
        if (f->n + count > 1500)
            count = 1500 - f->n;
        append_some(f, count, 10000 + f->n);
        for (int k = 0; k < 8; k++) {
            uint64_t size = 1 + pl_rand_below(&rnd, f->n);
            uint64_t index = pl_rand_below(&rnd, size);
            uint64_t first = 1 + pl_rand_below(&rnd, size);
            check_proofs(f, index, size, first);
        }
    }
    struct ledger_check_report r;
    assert_int_equal(ledger_check(&f->ledger, &r), 0);
    assert_int_equal(r.leaves, 1500);
}

/* Flips one byte of a stored value in a family and returns the original to restore it. */
static void flip(struct fixture *f,
                 enum pl_store_cf cf,
                 const uint8_t *key,
                 size_t key_len,
                 size_t at)
{
    uint8_t *v = NULL;
    size_t len = 0;
    assert_int_equal(pl_store_get(&f->store, cf, key, key_len, &v, &len), 0);
    v[at % len] ^= 0x20;
    assert_int_equal(pl_store_put(&f->store, cf, key, key_len, v, len), 0);
    free(v);
}

static void test_check_detects_flips(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 10; i++)
        append_some(f, 10, 5000 + (uint64_t)i);
    struct ledger_check_report r;
    assert_int_equal(ledger_check(&f->ledger, &r), 0);

    /* Every byte position of a leaf: flip, check names entry 37, flip back. */
    uint8_t key[9];
    ledger_index_key(37, key);
    uint8_t *leaf = NULL;
    size_t len = 0;
    assert_int_equal(pl_store_get(&f->store, PL_CF_LEDGER_LEAVES, key, 8, &leaf, &len), 0);
    free(leaf);
    for (size_t at = 0; at < len; at++) {
        flip(f, PL_CF_LEDGER_LEAVES, key, 8, at);
        assert_int_equal(ledger_check(&f->ledger, &r), PL_ECORRUPT);
        assert_int_equal(r.bad_index, 37);
        flip(f, PL_CF_LEDGER_LEAVES, key, 8, at);
    }
    assert_int_equal(ledger_check(&f->ledger, &r), 0);

    /* A stored leaf hash (the first 32 bytes of the value) and a stored interior node
     * (level 4, index 2 covers entries 32..47). */
    ledger_index_key(63, key);
    flip(f, PL_CF_LEDGER_LEAVES, key, 8, 11);
    assert_int_equal(ledger_check(&f->ledger, &r), PL_ECORRUPT);
    assert_int_equal(r.bad_index, 63);
    assert_non_null(strstr(r.reason, "leaf hash"));
    /* Proofs through a damaged leaf hash do not verify. */
    {
        hash_t path[MERKLE_PROOF_MAX], root;
        size_t n = 0;
        ref_mth(f->leaf_hashes, 0, 100, root);
        assert_int_equal(ledger_inclusion_proof(&f->ledger, 62, 100, path, &n), 0);
        assert_int_equal(merkle_inclusion_verify(62, 100, f->leaf_hashes[62], path, n, root),
                         PL_EVERIFY);
    }
    flip(f, PL_CF_LEDGER_LEAVES, key, 8, 11);
    ledger_node_key(4, 2, key);
    flip(f, PL_CF_LEDGER_NODES, key, 9, 0);
    assert_int_equal(ledger_check(&f->ledger, &r), PL_ECORRUPT);
    assert_int_equal(r.bad_index, 32);
    assert_non_null(strstr(r.reason, "level 4"));
    flip(f, PL_CF_LEDGER_NODES, key, 9, 0);

    /* Heads: the root, the time (breaks the signature) and the signature itself. */
    ledger_index_key(50, key);
    for (size_t at = 8; at < LEDGER_HEAD_BYTES; at += 17) {
        flip(f, PL_CF_LEDGER_HEADS, key, 8, at);
        assert_int_equal(ledger_check(&f->ledger, &r), PL_ECORRUPT);
        assert_non_null(strstr(r.reason, "size 50"));
        flip(f, PL_CF_LEDGER_HEADS, key, 8, at);
    }
    assert_int_equal(ledger_check(&f->ledger, &r), 0);

    /* A deleted leaf and a stray node. */
    ledger_index_key(99, key);
    uint8_t *v = NULL;
    assert_int_equal(pl_store_get(&f->store, PL_CF_LEDGER_LEAVES, key, 8, &v, &len), 0);
    struct pl_store_batch b;
    pl_store_batch_init(&b);
    pl_store_batch_delete(&f->store, &b, PL_CF_LEDGER_LEAVES, key, 8);
    assert_int_equal(pl_store_batch_commit(&f->store, &b), 0);
    assert_int_equal(ledger_check(&f->ledger, &r), PL_ECORRUPT);
    assert_int_equal(r.bad_index, 99);
    assert_int_equal(pl_store_put(&f->store, PL_CF_LEDGER_LEAVES, key, 8, v, len), 0);
    free(v);
    pl_store_batch_close(&b);
    assert_int_equal(ledger_check(&f->ledger, &r), 0);
    uint8_t h[32] = {0};
    ledger_node_key(4, 1000, key);
    assert_int_equal(pl_store_put(&f->store, PL_CF_LEDGER_NODES, key, 9, h, 32), 0);
    assert_int_equal(ledger_check(&f->ledger, &r), PL_ECORRUPT);
    assert_non_null(strstr(r.reason, "stray"));
    struct pl_store_batch nb;
    pl_store_batch_init(&nb);
    pl_store_batch_delete(&f->store, &nb, PL_CF_LEDGER_NODES, key, 9);
    ledger_node_key(1, 3, key); /* levels below LEDGER_NODE_LEVEL_MIN are never stored */
    pl_store_batch_put(&f->store, &nb, PL_CF_LEDGER_NODES, key, 9, h, 32);
    assert_int_equal(pl_store_batch_commit(&f->store, &nb), 0);
    pl_store_batch_close(&nb);
    assert_int_equal(ledger_check(&f->ledger, &r), PL_ECORRUPT);
    assert_non_null(strstr(r.reason, "stray"));

    /* Reopening a ledger whose newest head was altered fails. */
    ledger_index_key(100, key);
    flip(f, PL_CF_LEDGER_HEADS, key, 8, 9);
    close_all(f);
    assert_int_equal(open_all(f), PL_ECORRUPT);
    flip(f, PL_CF_LEDGER_HEADS, key, 8, 9);
    ledger_close(&f->ledger);
    assert_int_equal(ledger_open(&f->ledger, &f->store, &f->keys), 0);
}

static void test_bad_entries(void **state)
{
    struct fixture *f = *state;
    uint8_t body[] = {0x01};
    struct ledger_entry e = {.kind = "x", .kind_len = 1, .body = body, .body_len = 1};
    struct ledger_entry bad[3] = {e, e, e};
    bad[1].kind_len = 0;
    assert_int_equal(ledger_append(&f->ledger, bad, 3, 1, NULL), PL_EMALFORMED);
    bad[1] = e;
    uint8_t two[] = {0x01, 0x02}; /* two objects, not one */
    bad[2].body = two;
    bad[2].body_len = 2;
    assert_int_equal(ledger_append(&f->ledger, bad, 3, 1, NULL), PL_EMALFORMED);
    /* Nothing of either batch was written. */
    assert_int_equal(f->ledger.size, 0);
    struct ledger_check_report r;
    assert_int_equal(ledger_check(&f->ledger, &r), 0);
    assert_int_equal(r.leaves, 0);

    /* The decoder rejects non-canonical leaves: 0x01 re-encoded as uint8 (0xcc 0x01). */
    struct pl_buf leaf;
    pl_buf_init(&leaf, 1024);
    e.index = 3;
    assert_int_equal(ledger_entry_encode(&e, &leaf), 0);
    struct ledger_entry d;
    assert_int_equal(ledger_entry_decode(leaf.data, leaf.len, &d), 0);
    uint8_t longer[256];
    memcpy(longer, leaf.data, leaf.len);
    longer[leaf.len - 1] = 0xcc;
    longer[leaf.len] = 0x01;
    assert_int_equal(ledger_entry_decode(longer, leaf.len + 1, &d), PL_EMALFORMED);
    assert_int_equal(ledger_entry_decode(leaf.data, leaf.len - 1, &d), PL_EMALFORMED);
    pl_buf_close(&leaf);
}

/* A batch big enough to be encoded and hashed on two threads: the same tree as appending the
 * entries one by one would give, and a bad entry in the second half stops the whole batch. */
static void test_big_batch(void **state)
{
    struct fixture *f = *state;
    enum { N = 1500 };
    struct pl_buf bodies;
    pl_buf_init(&bodies, 1 << 20);
    size_t offsets[N + 1];
    for (size_t i = 0; i < N; i++) {
        offsets[i] = bodies.len;
        struct pl_mp_writer w;
        pl_mp_writer_init(&w, &bodies);
        pl_mp_map(&w, 1);
        pl_mp_str(&w, "i");
        pl_mp_uint(&w, i * 7919);
        assert_int_equal(w.err, 0);
    }
    offsets[N] = bodies.len;
    struct ledger_entry *entries = calloc(N, sizeof(*entries));
    assert_non_null(entries);
    for (size_t i = 0; i < N; i++) {
        entries[i] = (struct ledger_entry){.term = 2,
                                           .time_ms = 77,
                                           .kind = "outcome",
                                           .kind_len = 7,
                                           .body = bodies.data + offsets[i],
                                           .body_len = offsets[i + 1] - offsets[i]};
        struct ledger_entry e = entries[i];
        e.index = i;
        struct pl_buf leaf;
        pl_buf_init(&leaf, LEDGER_LEAF_MAX);
        assert_int_equal(ledger_entry_encode(&e, &leaf), 0);
        merkle_leaf_hash(leaf.data, leaf.len, f->leaf_hashes[i]);
        pl_buf_close(&leaf);
    }
    /* Entry 1400 (in the second half) is bad: nothing of the batch may be written. */
    entries[1400].kind_len = 0;
    assert_int_equal(ledger_append(&f->ledger, entries, N, 1, NULL), PL_EMALFORMED);
    assert_non_null(strstr(f->ledger.err_text, "entry 1400"));
    assert_int_equal(f->ledger.size, 0);
    entries[1400].kind_len = 7;

    struct ledger_head h;
    assert_int_equal(ledger_append(&f->ledger, entries, N, 1, &h), 0);
    f->n = N;
    hash_t want;
    ref_mth(f->leaf_hashes, 0, N, want);
    assert_memory_equal(h.root, want, 32);
    check_proofs(f, 0, N, 1);
    check_proofs(f, 777, N, 1024);
    check_proofs(f, N - 1, N, N - 1);
    struct ledger_check_report r;
    assert_int_equal(ledger_check(&f->ledger, &r), 0);
    assert_int_equal(r.leaves, N);
    free(entries);
    pl_buf_close(&bodies);
}

static void test_snapshot_store(void **state)
{
    struct fixture *f = *state;
    struct merkle_frontier fr[6];
    hash_t roots[6];
    struct merkle_frontier cur;
    merkle_frontier_init(&cur);
    for (int s = 1; s <= 5; s++) {
        for (int i = 0; i < 10; i++) {
            hash_t h;
            uint8_t b = (uint8_t)(s * 10 + i);
            merkle_leaf_hash(&b, 1, h);
            assert_int_equal(merkle_frontier_append(&cur, h, NULL, NULL), 0);
        }
        fr[s] = cur;
        merkle_frontier_root(&cur, roots[s]);
        char state_text[32];
        snprintf(state_text, sizeof(state_text), "state after %d", s * 10 - 1);
        assert_int_equal(snapshot_put(&f->store, (uint64_t)s * 10 - 1, (uint8_t *)state_text,
                                      strlen(state_text), &fr[s], roots[s]),
                         0);
    }
    /* A root that is not the frontier's is refused. */
    assert_int_equal(snapshot_put(&f->store, 100, (const uint8_t *)"x", 1, &fr[2], roots[3]),
                     PL_EVERIFY);

    struct snapshot snap;
    assert_int_equal(snapshot_get_at_or_before(&f->store, 25, &snap), 0);
    assert_int_equal(snap.index, 19);
    assert_int_equal(snap.frontier.size, 20);
    assert_memory_equal(snap.root, roots[2], 32);
    assert_int_equal(snap.state_len, strlen("state after 19"));
    assert_memory_equal(snap.state, "state after 19", snap.state_len);
    snapshot_free(&snap);
    assert_int_equal(snapshot_get_at_or_before(&f->store, 49, &snap), 0);
    assert_int_equal(snap.index, 49);
    snapshot_free(&snap);
    assert_int_equal(snapshot_get_at_or_before(&f->store, 1000, &snap), 0);
    assert_int_equal(snap.index, 49);
    snapshot_free(&snap);
    assert_int_equal(snapshot_get_at_or_before(&f->store, 8, &snap), PL_ENOTFOUND);

    uint64_t idx[8];
    size_t n = 0, total = 0;
    assert_int_equal(snapshot_list(&f->store, idx, 8, &n, &total), 0);
    assert_int_equal(n, 5);
    assert_int_equal(total, 5);
    assert_int_equal(idx[0], 9);
    assert_int_equal(idx[4], 49);

    size_t deleted = 0;
    assert_int_equal(snapshot_retain(&f->store, 2, &deleted), 0);
    assert_int_equal(deleted, 3);
    assert_int_equal(snapshot_list(&f->store, idx, 8, &n, &total), 0);
    assert_int_equal(n, 2);
    assert_int_equal(idx[0], 39);
    assert_int_equal(idx[1], 49);
    assert_int_equal(snapshot_get_at_or_before(&f->store, 38, &snap), PL_ENOTFOUND);
    assert_int_equal(snapshot_retain(&f->store, 0, &deleted), PL_ERANGE);

    /* A damaged snapshot (root byte) is reported, not trusted. */
    uint8_t key[8];
    pl_be64_put(key, 49);
    uint8_t *v = NULL;
    size_t len = 0;
    assert_int_equal(pl_store_get(&f->store, PL_CF_SNAPSHOTS, key, 8, &v, &len), 0);
    /* The root's bytes follow "root" (0xa4 r o o t) and the bin8 header (0xc4 0x20). */
    uint8_t *p = memmem(v, len, "\xa4root\xc4\x20", 7);
    assert_non_null(p);
    p[7] ^= 1;
    assert_int_equal(pl_store_put(&f->store, PL_CF_SNAPSHOTS, key, 8, v, len), 0);
    free(v);
    assert_int_equal(snapshot_get_at_or_before(&f->store, 49, &snap), PL_ECORRUPT);
}

/* A ledger image (the Raft snapshot of the ledger) is checked whole before restore_cb runs:
 * the image of a real ledger decodes to its entries, restores a second ledger to the same
 * root, and every damage (a wrong root, count, leaf, order, trailing byte, truncation) is
 * refused without calling back. */
struct chunk_seen
{
    int calls;
    uint32_t n;
    struct ledger *into; /* append here when not NULL */
};

static int chunk_cb(void *ctx, const struct ledger_entry *entries, uint32_t n)
{
    struct chunk_seen *seen = ctx;
    seen->calls++;
    seen->n = n;
    for (uint32_t i = 0; i < n; i++)
        if (entries[i].kind_len != 6)
            return PL_EVERIFY;
    return seen->into != NULL ? ledger_append(seen->into, entries, n, 1, NULL) : 0;
}

static int chunk_leaf(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
    (void)index;
    pl_mp_bin(ctx, leaf, len);
    return ((struct pl_mp_writer *)ctx)->err;
}

/* The chunk of leaves [from, to), the first two swapped when `swap`. */
static void chunk_of(struct fixture *f, struct pl_buf *out, uint64_t from, uint64_t to, int swap)
{
    pl_buf_reset(out);
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    ledger_chunk_begin(&w, (uint32_t)(to - from));
    if (swap) {
        assert_int_equal(ledger_leaves_each(&f->ledger, from + 1, from + 2, chunk_leaf, &w), 0);
        assert_int_equal(ledger_leaves_each(&f->ledger, from, from + 1, chunk_leaf, &w), 0);
        assert_int_equal(ledger_leaves_each(&f->ledger, from + 2, to, chunk_leaf, &w), 0);
    } else {
        assert_int_equal(ledger_leaves_each(&f->ledger, from, to, chunk_leaf, &w), 0);
    }
    assert_int_equal(w.err, 0);
}

/* A Raft snapshot of the ledger: its description, and its leaves in chunks that a second
 * ledger appends to reach the same root; a chunk wrong in any way is refused whole. */
static void test_ledger_snapshot_chunks(void **state)
{
    struct fixture *f = *state;
    append_some(f, 37, 5000);
    struct pl_buf desc;
    pl_buf_init(&desc, 256);
    assert_int_equal(ledger_snap_desc_encode(f->ledger.size, f->ledger.root, &desc), 0);
    uint64_t size;
    uint8_t root[MERKLE_HASH_BYTES];
    assert_int_equal(ledger_snap_desc_decode(desc.data, desc.len, &size, root), 0);
    assert_int_equal(size, 37);
    assert_memory_equal(root, f->ledger.root, MERKLE_HASH_BYTES);
    assert_int_equal(ledger_snap_desc_decode(desc.data, desc.len - 1, &size, root), PL_EMALFORMED);
    desc.data[2] ^= 1; /* "ledger" misspelt */
    assert_int_equal(ledger_snap_desc_decode(desc.data, desc.len, &size, root), PL_EMALFORMED);
    pl_buf_close(&desc);

    /* A second ledger takes [0, 20) and [20, 37) in two chunks: the same root. */
    struct pl_buf c;
    pl_buf_init(&c, 1 << 20);
    struct fixture g;
    memset(&g, 0, sizeof(g));
    snprintf(g.dir, sizeof(g.dir), "test_ledger.XXXXXX");
    assert_non_null(mkdtemp(g.dir));
    assert_int_equal(open_all(&g), 0);
    struct chunk_seen seen = {.into = &g.ledger};
    chunk_of(f, &c, 0, 20, 0);
    assert_int_equal(ledger_chunk_decode(c.data, c.len, 0, chunk_cb, &seen), 0);
    chunk_of(f, &c, 20, 37, 0);
    assert_int_equal(ledger_chunk_decode(c.data, c.len, 20, chunk_cb, &seen), 0);
    assert_int_equal(seen.calls, 2);
    assert_int_equal(seen.n, 17);
    assert_int_equal(g.ledger.size, 37);
    assert_memory_equal(g.ledger.root, f->ledger.root, MERKLE_HASH_BYTES);
    close_all(&g);
    rm_rf(g.dir);

    /* Damage of every kind: PL_EMALFORMED and no call. */
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(ledger_chunk_decode(c.data, c.len, 21, chunk_cb, &seen), PL_EMALFORMED);
    assert_int_equal(ledger_chunk_decode(c.data, c.len - 1, 20, chunk_cb, &seen), PL_EMALFORMED);
    uint8_t *longer = malloc(c.len + 1);
    memcpy(longer, c.data, c.len);
    longer[c.len] = 0xc0;
    assert_int_equal(ledger_chunk_decode(longer, c.len + 1, 20, chunk_cb, &seen), PL_EMALFORMED);
    free(longer);
    /* The first two leaves swapped: each is fine, not at its index. */
    chunk_of(f, &c, 20, 37, 1);
    assert_int_equal(ledger_chunk_decode(c.data, c.len, 20, chunk_cb, &seen), PL_EMALFORMED);
    assert_int_equal(seen.calls, 0);
    /* What cb returns is returned. */
    chunk_of(f, &c, 0, 3, 0);
    assert_int_equal(ledger_chunk_decode(c.data, c.len, 0, chunk_cb, &seen), 0);
    pl_buf_close(&c);
}

static void test_lock_and_read_only(void **state)
{
    struct fixture *f = *state;
    append_some(f, 3, 1);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct pl_store other;
        int rc = pl_store_open(&other, f->dir, PL_STORE_CREATE);
        int ok = rc == PL_ELOCKED && strstr(other.err_text, "locked") != NULL;
        /* A read-only open takes no lock and sees the ledger. */
        struct pl_store ro;
        int rc2 = pl_store_open(&ro, f->dir, PL_STORE_READ_ONLY);
        struct ledger l;
        if (rc2 == 0 && ledger_open(&l, &ro, NULL) == 0) {
            ok = ok && l.size == 3;
            uint8_t body[] = {0xc0};
            struct ledger_entry e = {.kind = "x", .kind_len = 1, .body = body, .body_len = 1};
            ok = ok && ledger_append(&l, &e, 1, 1, NULL) == PL_ESTATE;
            ledger_close(&l);
            pl_store_close(&ro);
        } else {
            ok = 0;
        }
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* A missing data dir is not created by a read-only open. */
    struct pl_store s;
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/nope", f->dir);
    assert_int_equal(pl_store_open(&s, missing, PL_STORE_READ_ONLY), PL_ENOTFOUND);
    struct stat st;
    assert_int_not_equal(stat(missing, &st), 0);
    assert_int_equal(pl_store_open(&s, missing, 0), PL_ENOTFOUND);
}

static void test_keys(void **state)
{
    struct fixture *f = *state;
    char path[128];
    snprintf(path, sizeof(path), "%s/node.key", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 64);
    struct pl_keys again;
    assert_int_equal(pl_keys_open(&again, f->dir, false, NULL, 0), 0);
    assert_memory_equal(again.public_key, f->keys.public_key, 32);
    uint8_t sig[64];
    assert_int_equal(pl_keys_sign(&again, (const uint8_t *)"hi", 2, sig), 0);
    assert_int_equal(pl_keys_verify(f->keys.public_key, (const uint8_t *)"hi", 2, sig), 0);
    assert_int_equal(pl_keys_verify(f->keys.public_key, (const uint8_t *)"ho", 2, sig), PL_EVERIFY);
    pl_keys_close(&again);

    /* Group-readable secret key: refused. A public key file that disagrees: refused. */
    assert_int_equal(chmod(path, 0640), 0);
    char err[256] = "";
    assert_int_equal(pl_keys_open(&again, f->dir, false, err, sizeof(err)), PL_ECORRUPT);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);
    char pub[128];
    snprintf(pub, sizeof(pub), "%s/node.pub", f->dir);
    FILE *fp = fopen(pub, "w");
    assert_non_null(fp);
    fputs("00000000000000000000000000000000000000000000000000000000000000ff\n", fp);
    fclose(fp);
    assert_int_equal(pl_keys_open(&again, f->dir, false, err, sizeof(err)), PL_ECORRUPT);
    /* No key and no create: not found. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(pl_keys_open(&again, f->dir, false, err, sizeof(err)), PL_ENOTFOUND);
}


/* ---- the strict leaf decoder beside the msgpack-c one it replaced ---- */

/* A body holding one of each msgpack form at the edges where the shortest encoding changes. */
static void edge_body(struct pl_mp_writer *w, int variant)
{
    static const uint64_t u[] = {0, 127, 128, 255, 256, 65535, 65536, UINT32_MAX,
                                 (uint64_t)UINT32_MAX + 1, UINT64_MAX};
    static const int64_t i[] = {-1, -32, -33, -128, -129, -32768, -32769, INT32_MIN,
                                (int64_t)INT32_MIN - 1, INT64_MIN};
    static const size_t slen[] = {0, 31, 32, 255, 256};
    static char text[300];
    memset(text, 'a' + variant % 26, sizeof(text));
    pl_mp_map(w, 6);
    pl_mp_str(w, "u");
    pl_mp_array(w, 10);
    for (int k = 0; k < 10; k++)
        pl_mp_uint(w, u[k]);
    pl_mp_str(w, "i");
    pl_mp_array(w, 10);
    for (int k = 0; k < 10; k++)
        pl_mp_int(w, i[k]);
    pl_mp_str(w, "s");
    pl_mp_array(w, 5);
    for (int k = 0; k < 5; k++)
        pl_mp_strn(w, text, slen[(k + variant) % 5]);
    pl_mp_str(w, "x"); /* bin, ext of fixext and other sizes, floats, nil, bools */
    pl_mp_array(w, 16);
    pl_mp_bin(w, text, (size_t)variant % 3 == 0 ? 0 : 256);
    static const size_t ext[] = {1, 2, 3, 4, 8, 16, 17, 0};
    for (int k = 0; k < 8; k++) {
        msgpack_pack_ext(&w->pk, ext[k], (int8_t)(k - 1));
        msgpack_pack_ext_body(&w->pk, text, ext[k]);
    }
    msgpack_pack_float(&w->pk, 1.5f);
    pl_mp_double(w, -0.25);
    pl_mp_nil(w);
    pl_mp_bool(w, true);
    pl_mp_bool(w, false);
    pl_mp_map(w, 0);
    pl_mp_array(w, 0);
    pl_mp_str(w, "n"); /* nested containers, 16 entries (map 16 / array 16) */
    pl_mp_array(w, 16);
    for (int k = 0; k < 16; k++) {
        pl_mp_map(w, 1);
        pl_mp_uint(w, (uint64_t)k); /* a key that is not a string */
        pl_mp_array(w, 1);
        pl_mp_int(w, -k);
    }
    pl_mp_str(w, "deep");
    for (int k = 0; k < 29 + variant % 4; k++) /* 30..33 levels in the body */
        pl_mp_array(w, 1);
    pl_mp_nil(w);
}

/* Decodes with both decoders and demands the same answer (and the same entry). */
static void same_answer(const uint8_t *p, size_t n)
{
    struct ledger_entry a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    struct pl_mp_reader why;
    int ra = ledger_entry_decode_why(p, n, &a, &why);
    int rb = ledger_entry_decode_reference(p, n, &b);
    if (ra != rb)
        fail_msg("strict %d, reference %d on %zu bytes (strict: %s at %zu)", ra, rb, n,
                 why.err ? why.err : "-", why.err_at);
    /* The envelope and the body checked apart give the same answer (what replay does). */
    struct ledger_entry c;
    int rc = ledger_entry_decode_envelope(p, n, &c, NULL);
    if (rc == 0)
        rc = ledger_entry_body_check(p, &c, NULL);
    assert_int_equal(rc, ra);
    if (ra == 0) {
        assert_true(c.body == a.body && c.body_len == a.body_len && c.index == a.index);
        assert_true(a.index == b.index && a.term == b.term && a.time_ms == b.time_ms);
        assert_true(a.kind == b.kind && a.kind_len == b.kind_len);
        assert_true(a.body == b.body && a.body_len == b.body_len);
    } else {
        assert_non_null(why.err);
        assert_true(why.err_at <= n);
    }
}

static size_t edge_leaf(int variant, uint8_t *out, size_t cap)
{
    struct pl_buf body, leaf;
    pl_buf_init(&body, LEDGER_LEAF_MAX);
    pl_buf_init(&leaf, LEDGER_LEAF_MAX);
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, &body);
    edge_body(&w, variant);
    assert_int_equal(w.err, 0);
    static const uint64_t nums[] = {0, 5, 200, 70000, UINT64_C(5000000000)};
    struct ledger_entry e = {.index = nums[variant % 5], .term = nums[(variant + 1) % 5],
                             .time_ms = nums[(variant + 2) % 5], .kind = "incident",
                             .kind_len = 8, .body = body.data, .body_len = body.len};
    /* Written by hand: ledger_entry_encode refuses bodies nested too deep, and those are
     * among the cases (variants 2 and 3: 32 and 33 levels in the body). */
    struct pl_mp_writer lw;
    pl_mp_writer_init(&lw, &leaf);
    pl_mp_map(&lw, 5);
    pl_mp_str(&lw, "index");
    pl_mp_uint(&lw, e.index);
    pl_mp_str(&lw, "term");
    pl_mp_uint(&lw, e.term);
    pl_mp_str(&lw, "time_ms");
    pl_mp_uint(&lw, e.time_ms);
    pl_mp_str(&lw, "kind");
    pl_mp_strn(&lw, e.kind, e.kind_len);
    pl_mp_str(&lw, "body");
    pl_mp_raw(&lw, e.body, e.body_len);
    int rc = lw.err;
    size_t n = 0;
    if (rc == 0 && leaf.len <= cap) {
        memcpy(out, leaf.data, leaf.len);
        n = leaf.len;
    }
    pl_buf_close(&body);
    pl_buf_close(&leaf);
    return n;
}

static void test_strict_decoder(void **state)
{
    (void)state;
    static uint8_t leaf[4096], m[4096];
    /* Hand-made refusals, each with its reason. */
    uint8_t ok[] = {0x85, 0xa5, 'i', 'n', 'd', 'e', 'x', 0x05, 0xa4, 't', 'e', 'r', 'm', 0x01,
                    0xa7, 't', 'i', 'm', 'e', '_', 'm', 's', 0x00, 0xa4, 'k', 'i', 'n', 'd',
                    0xa1, 'x', 0xa4, 'b', 'o', 'd', 'y', 0x81, 0xa1, 'a', 0xc3};
    struct ledger_entry e;
    struct pl_mp_reader why;
    assert_int_equal(ledger_entry_decode_why(ok, sizeof(ok), &e, &why), 0);
    assert_int_equal(e.index, 5);
    assert_int_equal(e.body_len, 4);
    struct {
        size_t at;
        uint8_t b;
        const char *why;
    } one[] = {
        {7, 0xcc, "not a string"}, /* uint 8 eats the next key's header */
        {0, 0xde, "a map with another number of entries than its format has"},
        {28, 0xd9, "a length past the end of the input"}, /* str 8 of 'x' (120) bytes */
        {38, 0xc1, "type byte 0xc1, which msgpack never uses"},
        {38, 0xca, "truncated inside a value"},
    };
    for (size_t k = 0; k < sizeof(one) / sizeof(one[0]); k++) {
        memcpy(m, ok, sizeof(ok));
        m[one[k].at] = one[k].b;
        assert_int_equal(ledger_entry_decode_why(m, sizeof(ok), &e, &why), PL_EMALFORMED);
        assert_string_equal(why.err, one[k].why);
        same_answer(m, sizeof(ok));
    }
    /* Longer forms of values the short ones can say, and what follows the object. */
    const uint8_t idx8[] = {0xcc, 0x05}, str8[] = {0xd9, 0x01, 'x'}, t[] = {0xc3, 0x00};
    struct {
        size_t at, cut;
        const uint8_t *put;
        size_t put_len;
        const char *why;
    } wide[] = {
        {7, 1, idx8, 2, "an integer not in its shortest encoding"},
        {28, 2, str8, 3, "a length not in its shortest encoding"},
        {38, 1, t, 2, "trailing bytes after the object"},
    };
    for (size_t k = 0; k < sizeof(wide) / sizeof(wide[0]); k++) {
        size_t n = 0;
        memcpy(m, ok, wide[k].at);
        n = wide[k].at;
        memcpy(m + n, wide[k].put, wide[k].put_len);
        n += wide[k].put_len;
        memcpy(m + n, ok + wide[k].at + wide[k].cut, sizeof(ok) - wide[k].at - wide[k].cut);
        n += sizeof(ok) - wide[k].at - wide[k].cut;
        assert_int_equal(ledger_entry_decode_why(m, n, &e, &why), PL_EMALFORMED);
        assert_string_equal(why.err, wide[k].why);
        same_answer(m, n);
    }
    /* A signalling NaN float 32 does not survive msgpack-c's round trip; a quiet one does. */
    uint8_t f32[sizeof(ok) + 4];
    memcpy(f32, ok, sizeof(ok) - 1);
    memcpy(f32 + sizeof(ok) - 1, (uint8_t[]){0xca, 0x7f, 0x80, 0x00, 0x01}, 5);
    assert_int_equal(ledger_entry_decode_why(f32, sizeof(f32), &e, &why), PL_EMALFORMED);
    assert_string_equal(why.err, "a signalling NaN float");
    same_answer(f32, sizeof(f32));
    f32[sizeof(ok) + 1] = 0xc0; /* 0x7fc00001 */
    assert_int_equal(ledger_entry_decode(f32, sizeof(f32), &e), 0);
    same_answer(f32, sizeof(f32));

    /* Edge bodies, then seeded mutations of them: both decoders always agree. */
    struct pl_rand rnd;
    pl_rand_seed(&rnd, 12);
    static const uint8_t forms[] = {0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xd9,
                                    0xda, 0xdb, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xd4,
                                    0xd8, 0xca, 0xcb, 0xdc, 0xdd, 0xde, 0xdf, 0xc1, 0x00,
                                    0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xe0, 0xff};
    for (int variant = 0; variant < 8; variant++) {
        size_t n = edge_leaf(variant, leaf, sizeof(leaf));
        assert_true(n > 0);
        same_answer(leaf, n);
        assert_int_equal(ledger_entry_decode(leaf, n, &e), variant % 4 <= 1 ? 0 : PL_EMALFORMED);
        for (int k = 0; k < 20000; k++) {
            size_t len = n;
            memcpy(m, leaf, n);
            int edits = 1 + (int)pl_rand_below(&rnd, 3);
            for (int j = 0; j < edits && len > 1; j++) {
                size_t at = pl_rand_below(&rnd, len);
                switch (pl_rand_below(&rnd, 5)) {
                case 0:
                    m[at] ^= (uint8_t)(1u << pl_rand_below(&rnd, 8));
                    break;
                case 1:
                    m[at] = forms[pl_rand_below(&rnd, sizeof(forms))];
                    break;
                case 2: /* insert a byte */
                    if (len < sizeof(m)) {
                        memmove(m + at + 1, m + at, len - at);
                        m[at] = forms[pl_rand_below(&rnd, sizeof(forms))];
                        len++;
                    }
                    break;
                case 3: /* delete a byte */
                    memmove(m + at, m + at + 1, len - at - 1);
                    len--;
                    break;
                default:
                    len = at + 1;
                    break;
                }
            }
            same_answer(m, len);
        }
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_reopen_proofs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_randomised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_detects_flips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_entries, setup, teardown),
        cmocka_unit_test(test_strict_decoder),
        cmocka_unit_test_setup_teardown(test_big_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ledger_snapshot_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_and_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
