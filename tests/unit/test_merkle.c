/*
 * Unit tests of the pure Merkle core (snapshot/merkle.h).
 *
 * The expected values come from outside the code under test: hashes computed here straight
 * from the RFC 6962 definitions with libsodium's SHA-256 (the core uses OpenSSL's) over
 * hand-built byte strings, a
 * recursive transcription of MTH / PATH / SUBPROOF written independently of the unrolled
 * core, and transparency-dev/merkle's known-answer roots (testonly/constants.go) for its
 * 8-leaf vector set.
 */
/* cmocka needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "merkle.h"
#include "pl_err.h"
#include "pl_text.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define N_MAX 64

typedef uint8_t hash_t[MERKLE_HASH_BYTES];

/* ---- the reference: RFC 6962 §2.1 read literally, recursively ---- */

static void ref_leaf(const uint8_t *d, size_t n, hash_t out)
{
    uint8_t buf[256];
    buf[0] = 0x00;
    memcpy(buf + 1, d, n);
    crypto_hash_sha256(out, buf, n + 1);
}

static void ref_node(const hash_t l, const hash_t r, hash_t out)
{
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    crypto_hash_sha256(out, buf, sizeof(buf));
}

static uint64_t ref_k(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

/* MTH(D[a:b]) over leaf hashes. */
static void ref_mth(hash_t *leaves, uint64_t a, uint64_t b, hash_t out)
{
    if (b - a == 1) {
        memcpy(out, leaves[a], 32);
        return;
    }
    uint64_t k = ref_k(b - a);
    hash_t l, r;
    ref_mth(leaves, a, a + k, l);
    ref_mth(leaves, a + k, b, r);
    ref_node(l, r, out);
}

static void ref_path(hash_t *leaves, uint64_t m, uint64_t a, uint64_t b, hash_t *out, size_t *n)
{
    if (b - a == 1)
        return;
    uint64_t k = ref_k(b - a);
    if (m < k) {
        ref_path(leaves, m, a, a + k, out, n);
        ref_mth(leaves, a + k, b, out[(*n)++]);
    } else {
        ref_path(leaves, m - k, a + k, b, out, n);
        ref_mth(leaves, a, a + k, out[(*n)++]);
    }
}

static void
ref_subproof(hash_t *leaves, uint64_t m, uint64_t a, uint64_t b, int whole, hash_t *out, size_t *n)
{
    if (m == b - a) {
        if (!whole)
            ref_mth(leaves, a, b, out[(*n)++]);
        return;
    }
    uint64_t k = ref_k(b - a);
    if (m <= k) {
        ref_subproof(leaves, m, a, a + k, whole, out, n);
        ref_mth(leaves, a + k, b, out[(*n)++]);
    } else {
        ref_subproof(leaves, m - k, a + k, b, 0, out, n);
        ref_mth(leaves, a, a + k, out[(*n)++]);
    }
}

/* ---- the callback the core reads the tree through: perfect subtrees from leaf hashes ---- */

struct tree
{
    hash_t leaves[N_MAX];
    uint64_t size;
    unsigned calls;
};

static int tree_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    struct tree *t = ctx;
    uint64_t a = index << level, b = a + (UINT64_C(1) << level);
    t->calls++;
    if (b > t->size)
        return PL_ENOTFOUND;
    ref_mth(t->leaves, a, b, out);
    return 0;
}

static void tree_build(struct tree *t, uint64_t n)
{
    memset(t, 0, sizeof(*t));
    for (uint64_t i = 0; i < n; i++) {
        uint8_t d[16];
        for (int j = 0; j < 16; j++)
            d[j] = (uint8_t)(i * 31 + (uint64_t)j);
        ref_leaf(d, (size_t)(i % 17), t->leaves[i]);
    }
    t->size = n;
}

static void hex_to(const char *hex, hash_t out)
{
    assert_int_equal(pl_hex_decode(hex, strlen(hex), out, 32), 0);
}

/* ---- tests ---- */

static void test_empty_root(void **state)
{
    (void)state;
    hash_t got, want;
    merkle_empty_root(got);
    hex_to("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
    assert_memory_equal(got, want, 32);
    struct tree t;
    tree_build(&t, 0);
    assert_int_equal(merkle_root(tree_get, &t, 0, got), 0);
    assert_memory_equal(got, want, 32);
}

/* The core hashes with OpenSSL; libsodium's SHA-256, an independent implementation, must
 * agree on leaves of every length across several blocks, and on interior nodes. */
static void test_hash_agrees_with_libsodium(void **state)
{
    (void)state;
    uint8_t buf[1 + 300];
    hash_t got, want;
    for (size_t len = 0; len < sizeof(buf); len++) {
        randombytes_buf(buf + 1, len);
        buf[0] = 0x00;
        merkle_leaf_hash(buf + 1, len, got);
        crypto_hash_sha256(want, buf, len + 1);
        assert_memory_equal(got, want, 32);
        uint8_t node[1 + 64];
        node[0] = 0x01;
        randombytes_buf(node + 1, 64);
        merkle_node_hash(node + 1, node + 33, got);
        crypto_hash_sha256(want, node, sizeof(node));
        assert_memory_equal(got, want, 32);
    }
}

/* Hashes written out by hand from the definitions. */
static void test_hand_vectors(void **state)
{
    (void)state;
    hash_t got, want;
    /* Leaf "": SHA-256 of the single byte 0x00. */
    uint8_t zero = 0;
    crypto_hash_sha256(want, &zero, 1);
    merkle_leaf_hash(NULL, 0, got);
    assert_memory_equal(got, want, 32);
    hex_to("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", want);
    assert_memory_equal(got, want, 32);

    /* Leaf "abc" = SHA-256(00 61 62 63). */
    uint8_t abc_prefixed[4] = {0x00, 'a', 'b', 'c'};
    crypto_hash_sha256(want, abc_prefixed, 4);
    merkle_leaf_hash((const uint8_t *)"abc", 3, got);
    assert_memory_equal(got, want, 32);

    /* Three leaves: MTH = H(01 || H(01 || l0 || l1) || l2). */
    hash_t l[3];
    merkle_leaf_hash((const uint8_t *)"a", 1, l[0]);
    merkle_leaf_hash((const uint8_t *)"b", 1, l[1]);
    merkle_leaf_hash((const uint8_t *)"c", 1, l[2]);
    uint8_t buf[65];
    hash_t n01;
    buf[0] = 1;
    memcpy(buf + 1, l[0], 32);
    memcpy(buf + 33, l[1], 32);
    crypto_hash_sha256(n01, buf, 65);
    memcpy(buf + 1, n01, 32);
    memcpy(buf + 33, l[2], 32);
    crypto_hash_sha256(want, buf, 65);

    struct merkle_frontier f;
    merkle_frontier_init(&f);
    for (int i = 0; i < 3; i++)
        assert_int_equal(merkle_frontier_append(&f, l[i], NULL, NULL), 0);
    merkle_frontier_root(&f, got);
    assert_memory_equal(got, want, 32);

    /* The audit path of leaf 2 in that tree is [n01]; of leaf 0 it is [l1, l2]. */
    struct tree t;
    memset(&t, 0, sizeof(t));
    memcpy(t.leaves, l, sizeof(l));
    t.size = 3;
    hash_t path[MERKLE_PROOF_MAX];
    size_t n = 0;
    assert_int_equal(merkle_inclusion_proof(tree_get, &t, 2, 3, path, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(path[0], n01, 32);
    assert_int_equal(merkle_inclusion_proof(tree_get, &t, 0, 3, path, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(path[0], l[1], 32);
    assert_memory_equal(path[1], l[2], 32);
    /* Consistency 2 -> 3 is [l2] (the old root n01 is a node of the new tree, omitted). */
    assert_int_equal(merkle_consistency_proof(tree_get, &t, 2, 3, path, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(path[0], l[2], 32);
    assert_int_equal(merkle_consistency_verify(2, 3, n01, want, path, n), 0);
}

/* transparency-dev/merkle testonly/constants.go: LeafInputs and RootHashes. */
static void test_transparency_dev_roots(void **state)
{
    (void)state;
    static const char *leaves_hex[8] = {"",
                                        "00",
                                        "10",
                                        "2021",
                                        "3031",
                                        "40414243",
                                        "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f"};
    static const char *roots_hex[9] = {
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    };
    struct tree t;
    memset(&t, 0, sizeof(t));
    struct merkle_frontier f;
    merkle_frontier_init(&f);
    hash_t want, got;
    hex_to(roots_hex[0], want);
    merkle_frontier_root(&f, got);
    assert_memory_equal(got, want, 32);
    for (int i = 0; i < 8; i++) {
        uint8_t d[16];
        size_t n = strlen(leaves_hex[i]) / 2;
        assert_int_equal(pl_hex_decode(leaves_hex[i], 2 * n, d, n), 0);
        merkle_leaf_hash(d, n, t.leaves[i]);
        t.size = (uint64_t)i + 1;
        assert_int_equal(merkle_frontier_append(&f, t.leaves[i], NULL, NULL), 0);
        hex_to(roots_hex[i + 1], want);
        merkle_frontier_root(&f, got);
        assert_memory_equal(got, want, 32);
        assert_int_equal(merkle_root(tree_get, &t, t.size, got), 0);
        assert_memory_equal(got, want, 32);
    }
}

/* Every root, audit path and consistency proof up to 64 leaves equals the reference, and
 * verifies; the frontier emits exactly the perfect subtrees. */
static void test_all_proofs_to_64(void **state)
{
    (void)state;
    struct tree t;
    tree_build(&t, N_MAX);
    hash_t roots[N_MAX + 1];
    merkle_empty_root(roots[0]);
    for (uint64_t n = 1; n <= N_MAX; n++) {
        ref_mth(t.leaves, 0, n, roots[n]);
        hash_t got;
        assert_int_equal(merkle_root(tree_get, &t, n, got), 0);
        assert_memory_equal(got, roots[n], 32);
    }
    unsigned checked_incl = 0, checked_cons = 0;
    for (uint64_t n = 1; n <= N_MAX; n++) {
        for (uint64_t i = 0; i < n; i++) {
            hash_t want[MERKLE_PROOF_MAX], got[MERKLE_PROOF_MAX];
            size_t wn = 0, gn = 0;
            ref_path(t.leaves, i, 0, n, want, &wn);
            t.calls = 0;
            assert_int_equal(merkle_inclusion_proof(tree_get, &t, i, n, got, &gn), 0);
            assert_int_equal(gn, wn);
            assert_memory_equal(got, want, 32 * wn);
            /* O(log n) reads: at most one per level plus the right spine. */
            assert_true(t.calls <= 2 * 7 * 7);
            assert_int_equal(merkle_inclusion_verify(i, n, t.leaves[i], got, gn, roots[n]), 0);
            checked_incl++;
        }
        for (uint64_t m = 1; m <= n; m++) {
            hash_t want[MERKLE_PROOF_MAX], got[MERKLE_PROOF_MAX];
            size_t wn = 0, gn = 0;
            ref_subproof(t.leaves, m, 0, n, 1, want, &wn);
            assert_int_equal(merkle_consistency_proof(tree_get, &t, m, n, got, &gn), 0);
            assert_int_equal(gn, wn);
            assert_memory_equal(got, want, 32 * wn);
            assert_int_equal(merkle_consistency_verify(m, n, roots[m], roots[n], got, gn), 0);
            checked_cons++;
        }
    }
    assert_int_equal(checked_incl, N_MAX * (N_MAX + 1) / 2);
    assert_int_equal(checked_cons, N_MAX * (N_MAX + 1) / 2);
}

struct emitted
{
    unsigned count;
    int ok;
    struct tree *t;
};

static int check_emit(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    struct emitted *e = ctx;
    hash_t want;
    e->count++;
    if (tree_get(e->t, level, index, want) != 0 || memcmp(want, hash, 32) != 0)
        e->ok = 0;
    return 0;
}

static void test_frontier(void **state)
{
    (void)state;
    struct tree t;
    tree_build(&t, N_MAX);
    struct merkle_frontier f, loaded;
    merkle_frontier_init(&f);
    struct emitted e = {0, 1, &t};
    for (uint64_t n = 1; n <= N_MAX; n++) {
        unsigned before = e.count;
        assert_int_equal(merkle_frontier_append(&f, t.leaves[n - 1], check_emit, &e), 0);
        /* The leaf itself plus one node per trailing zero bit of the new size. */
        assert_int_equal(e.count - before, 1 + (unsigned)__builtin_ctzll(n));
        assert_true(merkle_frontier_valid(&f));
        hash_t got, want;
        merkle_frontier_root(&f, got);
        ref_mth(t.leaves, 0, n, want);
        assert_memory_equal(got, want, 32);
        assert_int_equal(merkle_frontier_load(&loaded, n, tree_get, &t), 0);
        assert_int_equal(loaded.size, n);
        assert_int_equal(loaded.count, f.count);
        assert_memory_equal(loaded.hash, f.hash, 32 * f.count);
    }
    assert_true(e.ok);
    /* Every perfect subtree of 64 leaves was emitted exactly once: 64+32+...+1. */
    assert_int_equal(e.count, 127);
}

static void test_verifiers_reject(void **state)
{
    (void)state;
    struct tree t;
    tree_build(&t, 21);
    hash_t root, root13, path[MERKLE_PROOF_MAX], bad[MERKLE_PROOF_MAX + 1];
    size_t n = 0;
    assert_int_equal(merkle_root(tree_get, &t, 21, root), 0);
    assert_int_equal(merkle_root(tree_get, &t, 13, root13), 0);

    assert_int_equal(merkle_inclusion_proof(tree_get, &t, 5, 21, path, &n), 0);
    assert_int_equal(merkle_inclusion_verify(5, 21, t.leaves[5], path, n, root), 0);
    /* Each flipped bit in each path element. */
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, path, sizeof(hash_t) * n);
        bad[i][i % 32] ^= 0x01;
        assert_int_equal(merkle_inclusion_verify(5, 21, t.leaves[5], bad, n, root), PL_EVERIFY);
    }
    /* Wrong leaf, index, size, root; short and long paths. */
    assert_int_equal(merkle_inclusion_verify(5, 21, t.leaves[6], path, n, root), PL_EVERIFY);
    assert_int_equal(merkle_inclusion_verify(4, 21, t.leaves[5], path, n, root), PL_EVERIFY);
    /* (Size 22 would give the same path shape for index 5: sizes are bound by the signed head.) */
    assert_int_equal(merkle_inclusion_verify(5, 33, t.leaves[5], path, n, root), PL_EVERIFY);
    assert_int_equal(merkle_inclusion_verify(5, 21, t.leaves[5], path, n, root13), PL_EVERIFY);
    assert_int_equal(merkle_inclusion_verify(5, 21, t.leaves[5], path, n - 1, root), PL_EVERIFY);
    memcpy(bad, path, sizeof(hash_t) * n);
    memcpy(bad[n], root, 32);
    assert_int_equal(merkle_inclusion_verify(5, 21, t.leaves[5], bad, n + 1, root), PL_EVERIFY);
    assert_int_equal(merkle_inclusion_verify(21, 21, t.leaves[5], path, n, root), PL_EVERIFY);
    assert_int_equal(merkle_inclusion_verify(0, 0, t.leaves[0], path, 0, root), PL_EVERIFY);
    /* A one-leaf tree: empty path, root = leaf hash. */
    assert_int_equal(merkle_inclusion_verify(0, 1, t.leaves[0], path, 0, t.leaves[0]), 0);

    assert_int_equal(merkle_consistency_proof(tree_get, &t, 13, 21, path, &n), 0);
    assert_int_equal(merkle_consistency_verify(13, 21, root13, root, path, n), 0);
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, path, sizeof(hash_t) * n);
        bad[i][31 - i % 32] ^= 0x80;
        assert_int_equal(merkle_consistency_verify(13, 21, root13, root, bad, n), PL_EVERIFY);
    }
    assert_int_equal(merkle_consistency_verify(12, 21, root13, root, path, n), PL_EVERIFY);
    assert_int_equal(merkle_consistency_verify(13, 40, root13, root, path, n), PL_EVERIFY);
    assert_int_equal(merkle_consistency_verify(13, 21, root, root, path, n), PL_EVERIFY);
    assert_int_equal(merkle_consistency_verify(13, 21, root13, root13, path, n), PL_EVERIFY);
    assert_int_equal(merkle_consistency_verify(13, 21, root13, root, path, n - 1), PL_EVERIFY);
    memcpy(bad, path, sizeof(hash_t) * n);
    memcpy(bad[n], root, 32);
    assert_int_equal(merkle_consistency_verify(13, 21, root13, root, bad, n + 1), PL_EVERIFY);
    assert_int_equal(merkle_consistency_verify(13, 21, root13, root, path, 0), PL_EVERIFY);
    /* From size 0 is meaningless; equal sizes need an empty proof and equal roots. */
    assert_int_equal(merkle_consistency_verify(0, 21, root13, root, path, n), PL_EVERIFY);
    assert_int_equal(merkle_consistency_verify(21, 21, root, root, path, 0), 0);
    assert_int_equal(merkle_consistency_verify(21, 21, root, root, path, 1), PL_EVERIFY);
    assert_int_equal(merkle_consistency_verify(21, 21, root13, root, path, 0), PL_EVERIFY);
    assert_int_equal(merkle_consistency_verify(22, 21, root, root, path, 0), PL_EVERIFY);

    /* Proof requests out of range. */
    assert_int_equal(merkle_inclusion_proof(tree_get, &t, 21, 21, path, &n), PL_ERANGE);
    assert_int_equal(merkle_consistency_proof(tree_get, &t, 0, 21, path, &n), PL_ERANGE);
    assert_int_equal(merkle_consistency_proof(tree_get, &t, 22, 21, path, &n), PL_ERANGE);
    /* A callback error comes back unchanged. */
    assert_int_equal(merkle_root(tree_get, &t, 30, root), PL_ENOTFOUND);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_root),
        cmocka_unit_test(test_hand_vectors),
        cmocka_unit_test(test_hash_agrees_with_libsodium),
        cmocka_unit_test(test_transparency_dev_roots),
        cmocka_unit_test(test_all_proofs_to_64),
        cmocka_unit_test(test_frontier),
        cmocka_unit_test(test_verifiers_reject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
