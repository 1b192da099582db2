/*
 * merkle.h: RFC 6962 §2.1 tree hash, audit paths and consistency proofs, written over the
 * "perfect subtree" callback, and the RFC 9162 §2.1.3.2 / §2.1.4.2 verifiers, which need no
 * tree at all. Pure: no I/O, no clock, no allocation.
 */
#include "merkle.h"

#include "pl_assert.h"
#include "pl_err.h"

/* OpenSSL's SHA-256 with its state on the stack (no allocation, unlike EVP's contexts); its
 * assembly uses the CPU's SHA extensions, about 4x libsodium's portable C here. These calls
 * are marked deprecated in OpenSSL 3.0 but remain in every 3.x release. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <sodium.h>
#include <string.h>

static_assert(MERKLE_HASH_BYTES == SHA256_DIGEST_LENGTH, "SHA-256 digests");

void merkle_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[MERKLE_HASH_BYTES])
{
    static const uint8_t prefix = 0x00;
    SHA256_CTX st;
    SHA256_Init(&st);
    SHA256_Update(&st, &prefix, 1);
    SHA256_Update(&st, leaf, len);
    SHA256_Final(out, &st);
}

void merkle_node_hash(const uint8_t left[MERKLE_HASH_BYTES],
                      const uint8_t right[MERKLE_HASH_BYTES],
                      uint8_t out[MERKLE_HASH_BYTES])
{
    uint8_t buf[1 + 2 * MERKLE_HASH_BYTES];
    buf[0] = 0x01;
    memcpy(buf + 1, left, MERKLE_HASH_BYTES);
    memcpy(buf + 1 + MERKLE_HASH_BYTES, right, MERKLE_HASH_BYTES);
    SHA256_CTX st;
    SHA256_Init(&st);
    SHA256_Update(&st, buf, sizeof(buf));
    SHA256_Final(out, &st);
}

void merkle_empty_root(uint8_t out[MERKLE_HASH_BYTES])
{
    SHA256_CTX st;
    SHA256_Init(&st);
    SHA256_Final(out, &st);
}

/* The largest power of two strictly smaller than n (n >= 2), the RFC's k. */
static uint64_t split_point(uint64_t n)
{
    PL_ASSERT(n >= 2);
    uint64_t k = 1;
    while (k < n - k)
        k <<= 1;
    /* k is now the smallest power of two >= n/2, i.e. the largest < n. */
    return k;
}

static unsigned log2_exact(uint64_t n)
{
    unsigned l = 0;
    while ((UINT64_C(1) << l) < n)
        l++;
    PL_ASSERT((UINT64_C(1) << l) == n);
    return l;
}

/*
 * MTH(D[a:b]) for a range that the RFC's recursion produces: a is a multiple of the largest
 * power of two <= b-a, so the range is the perfect subtrees of the set bits of b-a, largest
 * first, and MTH folds them from the right.
 */
static int range_hash(merkle_get_cb get,
                      void *ctx,
                      uint64_t a,
                      uint64_t b,
                      uint8_t out[MERKLE_HASH_BYTES])
{
    PL_ASSERT(b > a);
    uint8_t parts[MERKLE_LEVEL_MAX][MERKLE_HASH_BYTES];
    unsigned count = 0;
    uint64_t n = b - a, at = a;
    for (int level = 63; level >= 0; level--) {
        uint64_t width = UINT64_C(1) << level;
        if ((n & width) == 0)
            continue;
        PL_ASSERT(at % width == 0);
        int rc = get(ctx, (unsigned)level, at >> level, parts[count]);
        if (rc != 0)
            return rc;
        count++;
        at += width;
    }
    uint8_t acc[MERKLE_HASH_BYTES];
    memcpy(acc, parts[count - 1], MERKLE_HASH_BYTES);
    for (unsigned i = count - 1; i-- > 0;)
        merkle_node_hash(parts[i], acc, acc);
    memcpy(out, acc, MERKLE_HASH_BYTES);
    return 0;
}

int merkle_root(merkle_get_cb get, void *ctx, uint64_t size, uint8_t out[MERKLE_HASH_BYTES])
{
    if (size == 0) {
        merkle_empty_root(out);
        return 0;
    }
    return range_hash(get, ctx, 0, size, out);
}

static void reverse(uint8_t items[][MERKLE_HASH_BYTES], size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t t[MERKLE_HASH_BYTES];
        memcpy(t, items[i], MERKLE_HASH_BYTES);
        memcpy(items[i], items[n - 1 - i], MERKLE_HASH_BYTES);
        memcpy(items[n - 1 - i], t, MERKLE_HASH_BYTES);
    }
}

/* RFC 6962 §2.1.1, unrolled: walk from the root towards the leaf, collecting the sibling
 * of each step, then reverse into the RFC's leaf-to-root order. */
int merkle_inclusion_proof(merkle_get_cb get,
                           void *ctx,
                           uint64_t index,
                           uint64_t size,
                           uint8_t path[][MERKLE_HASH_BYTES],
                           size_t *path_len)
{
    if (index >= size)
        return PL_ERANGE;
    uint64_t a = 0, b = size;
    size_t n = 0;
    while (b - a > 1) {
        uint64_t k = split_point(b - a);
        PL_ASSERT(n < MERKLE_PROOF_MAX);
        int rc;
        if (index < a + k) {
            rc = range_hash(get, ctx, a + k, b, path[n]);
            b = a + k;
        } else {
            rc = get(ctx, log2_exact(k), a / k, path[n]);
            a = a + k;
        }
        if (rc != 0)
            return rc;
        n++;
    }
    reverse(path, n);
    *path_len = n;
    return 0;
}

/* RFC 6962 §2.1.2 SUBPROOF, unrolled the same way. */
int merkle_consistency_proof(merkle_get_cb get,
                             void *ctx,
                             uint64_t first,
                             uint64_t second,
                             uint8_t proof[][MERKLE_HASH_BYTES],
                             size_t *proof_len)
{
    if (first == 0 || first > second)
        return PL_ERANGE;
    uint64_t a = 0, b = second;
    int whole = 1; /* the RFC's b: this range's root is the old root itself */
    size_t n = 0;
    for (;;) {
        PL_ASSERT(first > a && first <= b);
        int rc = 0;
        if (first == b) {
            if (!whole) {
                rc = range_hash(get, ctx, a, b, proof[n]);
                if (rc != 0)
                    return rc;
                n++;
            }
            break;
        }
        uint64_t k = split_point(b - a);
        PL_ASSERT(n < MERKLE_PROOF_MAX);
        if (first <= a + k) {
            rc = range_hash(get, ctx, a + k, b, proof[n]);
            b = a + k;
        } else {
            rc = get(ctx, log2_exact(k), a / k, proof[n]);
            a = a + k;
            whole = 0;
        }
        if (rc != 0)
            return rc;
        n++;
    }
    reverse(proof, n);
    *proof_len = n;
    return 0;
}

int merkle_inclusion_verify(uint64_t index,
                            uint64_t size,
                            const uint8_t leaf_hash[MERKLE_HASH_BYTES],
                            const uint8_t path[][MERKLE_HASH_BYTES],
                            size_t path_len,
                            const uint8_t root[MERKLE_HASH_BYTES])
{
    if (index >= size || path_len > MERKLE_PROOF_MAX)
        return PL_EVERIFY;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[MERKLE_HASH_BYTES];
    memcpy(r, leaf_hash, MERKLE_HASH_BYTES);
    for (size_t i = 0; i < path_len; i++) {
        if (sn == 0)
            return PL_EVERIFY;
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(path[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            merkle_node_hash(r, path[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || sodium_memcmp(r, root, MERKLE_HASH_BYTES) != 0)
        return PL_EVERIFY;
    return 0;
}

int merkle_consistency_verify(uint64_t first,
                              uint64_t second,
                              const uint8_t first_root[MERKLE_HASH_BYTES],
                              const uint8_t second_root[MERKLE_HASH_BYTES],
                              const uint8_t proof[][MERKLE_HASH_BYTES],
                              size_t proof_len)
{
    if (first == 0 || first > second || proof_len > MERKLE_PROOF_MAX)
        return PL_EVERIFY;
    if (first == second) {
        if (proof_len != 0 || sodium_memcmp(first_root, second_root, MERKLE_HASH_BYTES) != 0)
            return PL_EVERIFY;
        return 0;
    }
    if (proof_len == 0)
        return PL_EVERIFY;
    /* When first is a power of two its root is itself a node of the path: prepend it. */
    const uint8_t *items[MERKLE_PROOF_MAX + 1];
    size_t n = 0;
    if ((first & (first - 1)) == 0)
        items[n++] = first_root;
    for (size_t i = 0; i < proof_len; i++)
        items[n++] = proof[i];

    uint64_t fn = first - 1, sn = second - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[MERKLE_HASH_BYTES], sr[MERKLE_HASH_BYTES];
    memcpy(fr, items[0], MERKLE_HASH_BYTES);
    memcpy(sr, items[0], MERKLE_HASH_BYTES);
    for (size_t i = 1; i < n; i++) {
        if (sn == 0)
            return PL_EVERIFY;
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(items[i], fr, fr);
            merkle_node_hash(items[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            merkle_node_hash(sr, items[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || sodium_memcmp(fr, first_root, MERKLE_HASH_BYTES) != 0 ||
        sodium_memcmp(sr, second_root, MERKLE_HASH_BYTES) != 0)
        return PL_EVERIFY;
    return 0;
}

void merkle_frontier_init(struct merkle_frontier *f)
{
    f->size = 0;
    f->count = 0;
}

unsigned merkle_frontier_level(const struct merkle_frontier *f, unsigned i)
{
    unsigned seen = 0;
    for (int level = 63; level >= 0; level--) {
        if ((f->size >> level) & 1) {
            if (seen == i)
                return (unsigned)level;
            seen++;
        }
    }
    PL_ASSERT(0 && "frontier index out of range");
    return 0;
}

int merkle_frontier_append(struct merkle_frontier *f,
                           const uint8_t leaf_hash[MERKLE_HASH_BYTES],
                           merkle_emit_cb emit,
                           void *ctx)
{
    PL_ASSERT(f->count == (unsigned)__builtin_popcountll(f->size));
    uint8_t cur[MERKLE_HASH_BYTES];
    memcpy(cur, leaf_hash, MERKLE_HASH_BYTES);
    uint64_t index = f->size;
    if (emit != NULL) {
        int rc = emit(ctx, 0, index, cur);
        if (rc != 0)
            return rc;
    }
    /* Each trailing 1 bit of size is a perfect subtree of that level that the new leaf's
     * subtree now completes into one of the next level. */
    for (unsigned level = 0; (f->size >> level) & 1; level++) {
        PL_ASSERT(f->count > 0);
        merkle_node_hash(f->hash[f->count - 1], cur, cur);
        f->count--;
        index >>= 1;
        if (emit != NULL) {
            int rc = emit(ctx, level + 1, index, cur);
            if (rc != 0)
                return rc;
        }
    }
    memcpy(f->hash[f->count], cur, MERKLE_HASH_BYTES);
    f->count++;
    f->size++;
    PL_ALWAYS(f->count == (unsigned)__builtin_popcountll(f->size));
    return 0;
}

void merkle_frontier_root(const struct merkle_frontier *f, uint8_t out[MERKLE_HASH_BYTES])
{
    if (f->count == 0) {
        merkle_empty_root(out);
        return;
    }
    uint8_t acc[MERKLE_HASH_BYTES];
    memcpy(acc, f->hash[f->count - 1], MERKLE_HASH_BYTES);
    for (unsigned i = f->count - 1; i-- > 0;)
        merkle_node_hash(f->hash[i], acc, acc);
    memcpy(out, acc, MERKLE_HASH_BYTES);
}

int merkle_frontier_load(struct merkle_frontier *f, uint64_t size, merkle_get_cb get, void *ctx)
{
    struct merkle_frontier tmp;
    merkle_frontier_init(&tmp);
    uint64_t at = 0;
    for (int level = 63; level >= 0; level--) {
        uint64_t width = UINT64_C(1) << level;
        if ((size & width) == 0)
            continue;
        int rc = get(ctx, (unsigned)level, at >> level, tmp.hash[tmp.count]);
        if (rc != 0)
            return rc;
        tmp.count++;
        at += width;
    }
    tmp.size = size;
    *f = tmp;
    return 0;
}

int merkle_frontier_valid(const struct merkle_frontier *f)
{
    return f->count == (unsigned)__builtin_popcountll(f->size) && f->count <= MERKLE_LEVEL_MAX;
}
