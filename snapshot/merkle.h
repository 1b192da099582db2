/*
 * The RFC 6962 / RFC 9162 Merkle tree, as a pure core.
 *
 * Hashes are SHA-256 (libsodium): leaf = H(0x00 || bytes), interior = H(0x01 || left ||
 * right), the empty tree's root = H(""). Nothing here does I/O: every function that needs
 * the tree reads it through one callback, "the hash of the perfect subtree at (level, index)"
 * (the 2^level leaves starting at index * 2^level; level 0 are the leaf hashes). The ledger
 * answers it from RocksDB, the tests from an array. Because perfect subtrees never change
 * once complete, any root, inclusion proof or consistency proof of any size up to the
 * current one needs only O(log n) of them (transparency-dev "compact ranges").
 *
 * The frontier is the compact range [0, size): one perfect subtree per set bit of size,
 * largest first. Appending a leaf completes zero or more perfect subtrees; each is handed
 * to an emit callback so the caller can store it.
 */
#ifndef MERKLE_H
#define MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_BYTES 32
#define MERKLE_LEVEL_MAX 64
/* A proof of a tree of at most 2^63 leaves has at most 63 hashes (plus one for the
 * consistency verifier's prepended first root). */
#define MERKLE_PROOF_MAX 64

/* Returns the hash of the perfect subtree (level, index) into out; 0 or a negative code
 * (PL_ENOTFOUND, PL_ESTORE, ...), passed back unchanged to the caller. */
typedef int (*merkle_get_cb)(void *ctx,
                             unsigned level,
                             uint64_t index,
                             uint8_t out[MERKLE_HASH_BYTES]);

void merkle_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[MERKLE_HASH_BYTES]);
void merkle_node_hash(const uint8_t left[MERKLE_HASH_BYTES],
                      const uint8_t right[MERKLE_HASH_BYTES],
                      uint8_t out[MERKLE_HASH_BYTES]);
void merkle_empty_root(uint8_t out[MERKLE_HASH_BYTES]);

/* MTH(D[0:size]) (RFC 6962 §2.1). */
int merkle_root(merkle_get_cb get, void *ctx, uint64_t size, uint8_t out[MERKLE_HASH_BYTES]);

/* PATH(index, D[0:size]) (RFC 6962 §2.1.1), leaf to root. PL_ERANGE unless index < size. */
int merkle_inclusion_proof(merkle_get_cb get,
                           void *ctx,
                           uint64_t index,
                           uint64_t size,
                           uint8_t path[][MERKLE_HASH_BYTES],
                           size_t *path_len);

/* PROOF(first, D[0:second]) (RFC 6962 §2.1.2). PL_ERANGE unless 0 < first <= second. */
int merkle_consistency_proof(merkle_get_cb get,
                             void *ctx,
                             uint64_t first,
                             uint64_t second,
                             uint8_t proof[][MERKLE_HASH_BYTES],
                             size_t *proof_len);

/* RFC 9162 §2.1.3.2. 0 when leaf_hash is at index in the tree of `size` with `root`;
 * PL_EVERIFY otherwise (wrong length, wrong hash, index out of range). */
int merkle_inclusion_verify(uint64_t index,
                            uint64_t size,
                            const uint8_t leaf_hash[MERKLE_HASH_BYTES],
                            const uint8_t path[][MERKLE_HASH_BYTES],
                            size_t path_len,
                            const uint8_t root[MERKLE_HASH_BYTES]);

/* RFC 9162 §2.1.4.2 with transparency-dev's strictness: first == 0 is rejected, first ==
 * second needs an empty proof and equal roots, first < second a non-empty one. */
int merkle_consistency_verify(uint64_t first,
                              uint64_t second,
                              const uint8_t first_root[MERKLE_HASH_BYTES],
                              const uint8_t second_root[MERKLE_HASH_BYTES],
                              const uint8_t proof[][MERKLE_HASH_BYTES],
                              size_t proof_len);

/* The compact range [0, size). hash[i] covers the i-th set bit of size from the top. */
struct merkle_frontier
{
    uint64_t size;
    unsigned count;
    uint8_t hash[MERKLE_LEVEL_MAX][MERKLE_HASH_BYTES];
};

typedef int (*merkle_emit_cb)(void *ctx,
                              unsigned level,
                              uint64_t index,
                              const uint8_t hash[MERKLE_HASH_BYTES]);

void merkle_frontier_init(struct merkle_frontier *f);
/* Level of the i-th perfect subtree of the frontier. */
unsigned merkle_frontier_level(const struct merkle_frontier *f, unsigned i);
/* Appends one leaf hash; emits (0, size, leaf_hash) and then every perfect subtree the leaf
 * completes, lowest level first. A non-zero return of emit stops and is returned (the
 * frontier is then unusable). */
int merkle_frontier_append(struct merkle_frontier *f,
                           const uint8_t leaf_hash[MERKLE_HASH_BYTES],
                           merkle_emit_cb emit,
                           void *ctx);
/* The root of the tree the frontier describes. */
void merkle_frontier_root(const struct merkle_frontier *f, uint8_t out[MERKLE_HASH_BYTES]);
/* Loads the frontier of `size` through get (popcount(size) reads). */
int merkle_frontier_load(struct merkle_frontier *f, uint64_t size, merkle_get_cb get, void *ctx);
/* 1 when count and levels agree with size. */
int merkle_frontier_valid(const struct merkle_frontier *f);

#endif
