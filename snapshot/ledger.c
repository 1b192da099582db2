/*
 * ledger.h: the Merkle ledger's shell over pl_store. The tree maths is merkle.c's; this file
 * decides what goes into each WriteBatch and checks the stored tree against its heads.
 */
#include "ledger.h"

#include "pl_assert.h"
#include "pl_err.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ledger_index_key(uint64_t index, uint8_t key[8])
{
    pl_be64_put(key, index);
}

void ledger_node_key(unsigned level, uint64_t index, uint8_t key[9])
{
    key[0] = (uint8_t)level;
    pl_be64_put(key + 1, index);
}

/* A leaf value is the leaf's hash followed by its bytes. */
static int leaf_value_split(const uint8_t *v,
                            size_t len,
                            const uint8_t **hash,
                            const uint8_t **leaf,
                            size_t *leaf_len)
{
    if (len <= MERKLE_HASH_BYTES)
        return PL_ECORRUPT;
    *hash = v;
    *leaf = v + MERKLE_HASH_BYTES;
    *leaf_len = len - MERKLE_HASH_BYTES;
    return 0;
}

static int node_damaged(struct ledger *l, unsigned level, uint64_t index, int rc)
{
    snprintf(l->err_text, sizeof(l->err_text), "stored %s (level %u, index %" PRIu64 ") is %s",
             level < LEDGER_NODE_LEVEL_MIN ? "leaf hash under tree node" : "tree node", level,
             index, rc == PL_ENOTFOUND ? "missing" : "malformed");
    return PL_ECORRUPT;
}

/* Perfect subtrees below LEDGER_NODE_LEVEL_MIN are folded from the stored leaf hashes of
 * their block of 2^LEDGER_NODE_LEVEL_MIN leaves. The block last read is kept, so the several
 * low siblings of one proof cost one iterator. */
static int block_load(struct ledger *l, uint64_t block)
{
    if (l->block_valid && l->block_index == block)
        return 0;
    l->block_valid = false;
    uint8_t key[8];
    uint64_t first = block << LEDGER_NODE_LEVEL_MIN;
    struct pl_store_iter it;
    pl_store_iter_init(l->store, &it, PL_CF_LEDGER_LEAVES);
    ledger_index_key(first, key);
    pl_store_iter_seek(&it, key, sizeof(key));
    unsigned count = 0;
    int rc = 0;
    for (; count < PL_ARRAY_LEN(l->block_hashes) && pl_store_iter_valid(&it);
         count++, pl_store_iter_next(&it)) {
        size_t klen = 0, vlen = 0, leaf_len;
        const uint8_t *hash, *leaf;
        const uint8_t *k = pl_store_iter_key(&it, &klen);
        const uint8_t *v = pl_store_iter_value(&it, &vlen);
        if (klen != 8 || pl_be64_get(k) != first + count)
            break;
        if (leaf_value_split(v, vlen, &hash, &leaf, &leaf_len) != 0) {
            rc = PL_ECORRUPT;
            break;
        }
        memcpy(l->block_hashes[count], hash, MERKLE_HASH_BYTES);
    }
    if (rc == 0 && pl_store_iter_status(&it) != 0)
        rc = PL_ESTORE;
    pl_store_iter_close(&it);
    if (rc != 0)
        return rc;
    l->block_index = block;
    l->block_count = count;
    l->block_valid = true;
    return 0;
}

static int low_node_get(struct ledger *l,
                        unsigned level,
                        uint64_t index,
                        uint8_t out[MERKLE_HASH_BYTES])
{
    uint64_t first = index << level, count = UINT64_C(1) << level;
    uint64_t block = first >> LEDGER_NODE_LEVEL_MIN;
    uint64_t at = first - (block << LEDGER_NODE_LEVEL_MIN);
    int rc = block_load(l, block);
    if (rc == 0 && at + count > l->block_count)
        rc = PL_ENOTFOUND;
    if (rc != 0)
        return rc == PL_ESTORE ? rc : node_damaged(l, level, index, rc);
    uint8_t hashes[1u << (LEDGER_NODE_LEVEL_MIN - 1)][MERKLE_HASH_BYTES];
    if (count == 1) {
        memcpy(out, l->block_hashes[at], MERKLE_HASH_BYTES);
        return 0;
    }
    PL_ASSERT(count <= PL_ARRAY_LEN(hashes));
    for (uint64_t i = 0; i < count / 2; i++)
        merkle_node_hash(l->block_hashes[at + 2 * i], l->block_hashes[at + 2 * i + 1], hashes[i]);
    for (uint64_t n = count / 2; n > 1; n /= 2)
        for (uint64_t i = 0; i < n / 2; i++)
            merkle_node_hash(hashes[2 * i], hashes[2 * i + 1], hashes[i]);
    memcpy(out, hashes[0], MERKLE_HASH_BYTES);
    return 0;
}

int ledger_node_get(struct ledger *l,
                    unsigned level,
                    uint64_t index,
                    uint8_t out[MERKLE_HASH_BYTES])
{
    if (level < LEDGER_NODE_LEVEL_MIN)
        return low_node_get(l, level, index, out);
    uint8_t key[9];
    ledger_node_key(level, index, key);
    int rc =
        pl_store_get_fixed(l->store, PL_CF_LEDGER_NODES, key, sizeof(key), out, MERKLE_HASH_BYTES);
    /* Every node the tree of l->size needs was written with its leaves: absence is damage. */
    if (rc == PL_ENOTFOUND || rc == PL_ECORRUPT)
        return node_damaged(l, level, index, rc);
    return rc;
}

static int node_get_cb(void *ctx, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_BYTES])
{
    return ledger_node_get(ctx, level, index, out);
}

int ledger_head_at(struct ledger *l, uint64_t size, struct ledger_head *out)
{
    uint8_t key[8], *v = NULL;
    size_t len = 0;
    ledger_index_key(size, key);
    int rc = pl_store_get(l->store, PL_CF_LEDGER_HEADS, key, sizeof(key), &v, &len);
    if (rc != 0)
        return rc;
    struct ledger_head h;
    rc = ledger_head_decode(v, len, &h);
    free(v);
    if (rc != 0 || h.size != size)
        return PL_ECORRUPT;
    *out = h;
    return 0;
}

int ledger_open(struct ledger *l, struct pl_store *store, const struct pl_keys *keys)
{
    memset(l, 0, sizeof(*l));
    l->store = store;
    l->keys = keys;
    merkle_frontier_init(&l->frontier);
    merkle_empty_root(l->root);

    int rc = 0;
    struct pl_store_iter it;
    pl_store_iter_init(store, &it, PL_CF_LEDGER_HEADS);
    pl_store_iter_seek_last(&it);
    if (pl_store_iter_valid(&it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = pl_store_iter_key(&it, &klen);
        const uint8_t *v = pl_store_iter_value(&it, &vlen);
        if (klen != 8 || ledger_head_decode(v, vlen, &l->head) != 0 ||
            l->head.size != pl_be64_get(k)) {
            snprintf(l->err_text, sizeof(l->err_text), "newest signed head is malformed");
            rc = PL_ECORRUPT;
        }
    } else if ((rc = pl_store_iter_status(&it)) == 0) {
        /* No head: there must be no leaves either. */
        struct pl_store_iter lit;
        pl_store_iter_init(store, &lit, PL_CF_LEDGER_LEAVES);
        pl_store_iter_seek_first(&lit);
        if (pl_store_iter_valid(&lit)) {
            snprintf(l->err_text, sizeof(l->err_text), "ledger has leaves but no signed head");
            rc = PL_ECORRUPT;
        }
        pl_store_iter_close(&lit);
        pl_store_iter_close(&it);
        return rc;
    }
    pl_store_iter_close(&it);
    if (rc != 0)
        goto fail;
    if (ledger_head_verify(&l->head) != 0) {
        snprintf(l->err_text, sizeof(l->err_text),
                 "signature of the newest head (size %" PRIu64 ") is invalid", l->head.size);
        rc = PL_ECORRUPT;
        goto fail;
    }
    rc = merkle_frontier_load(&l->frontier, l->head.size, node_get_cb, l);
    if (rc != 0)
        goto fail;
    merkle_frontier_root(&l->frontier, l->root);
    /* Check the root after loading: the stored frontier must reproduce the signed root. */
    if (sodium_memcmp(l->root, l->head.root, MERKLE_HASH_BYTES) != 0) {
        snprintf(l->err_text, sizeof(l->err_text),
                 "stored tree does not reproduce the root of the newest head (size %" PRIu64 ")",
                 l->head.size);
        rc = PL_ECORRUPT;
        goto fail;
    }
    l->size = l->head.size;
    return 0;
fail:
    return rc;
}

void ledger_close(struct ledger *l)
{
    /* Nothing is owned beyond the struct; kept for the _open/_close pairing. */
    (void)l;
}

/* Everything one append writes, collected before the single commit. */
struct append_ctx
{
    struct ledger *l;
    struct pl_store_batch *batch;
#ifdef PL_DEBUG
    /* Debug builds keep the new nodes to recompute the root independently. */
    struct pending_node
    {
        unsigned level;
        uint64_t index;
        uint8_t hash[MERKLE_HASH_BYTES];
    } * pending;
    size_t n_pending, cap_pending;
#endif
};

static int append_emit_cb(void *ctx,
                          unsigned level,
                          uint64_t index,
                          const uint8_t hash[MERKLE_HASH_BYTES])
{
    struct append_ctx *a = ctx;
    if (level >= LEDGER_NODE_LEVEL_MIN) {
        uint8_t key[9];
        ledger_node_key(level, index, key);
        pl_store_batch_put(a->l->store, a->batch, PL_CF_LEDGER_NODES, key, sizeof(key), hash,
                           MERKLE_HASH_BYTES);
    }
#ifdef PL_DEBUG
    if (a->n_pending == a->cap_pending) {
        size_t cap = a->cap_pending ? 2 * a->cap_pending : 256;
        void *p = realloc(a->pending, cap * sizeof(*a->pending));
        if (p == NULL)
            return -ENOMEM;
        a->pending = p;
        a->cap_pending = cap;
    }
    a->pending[a->n_pending].level = level;
    a->pending[a->n_pending].index = index;
    memcpy(a->pending[a->n_pending].hash, hash, MERKLE_HASH_BYTES);
    a->n_pending++;
#endif
    return 0;
}

#ifdef PL_DEBUG
static int pending_get_cb(void *ctx, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_BYTES])
{
    struct append_ctx *a = ctx;
    for (size_t i = a->n_pending; i-- > 0;) {
        if (a->pending[i].level == level && a->pending[i].index == index) {
            memcpy(out, a->pending[i].hash, MERKLE_HASH_BYTES);
            return 0;
        }
    }
    return ledger_node_get(a->l, level, index, out);
}
#endif

int ledger_append(struct ledger *l,
                  const struct ledger_entry *entries,
                  size_t n,
                  uint64_t head_time_ms,
                  struct ledger_head *head_out)
{
    if (l->keys == NULL || l->keys->secret_key == NULL || l->store->read_only)
        return PL_ESTATE;
    if (n == 0) {
        if (head_out != NULL)
            *head_out = l->head;
        return 0;
    }
    if (n > LEDGER_BATCH_MAX)
        return PL_ETOOBIG;

    struct pl_store_batch batch;
    pl_store_batch_init(&batch);
    struct append_ctx a;
    memset(&a, 0, sizeof(a));
    a.l = l;
    a.batch = &batch;
    struct merkle_frontier f = l->frontier;
    int rc = 0;

    /* Each entry's stored value (leaf hash || leaf bytes) is built in one scratch buffer,
     * copied into the batch, and its hash grows the tree. One thread: with SHA-256 in
     * hardware a helper thread no longer paid for itself (docs/BENCHMARKS.md). */
    struct pl_buf value;
    pl_buf_init(&value, MERKLE_HASH_BYTES + LEDGER_LEAF_MAX);
    for (size_t i = 0; i < n; i++) {
        struct ledger_entry e = entries[i];
        e.index = l->size + i;
        pl_buf_reset(&value);
        rc = pl_buf_reserve(&value, MERKLE_HASH_BYTES);
        if (rc == 0) {
            value.len = MERKLE_HASH_BYTES;
            rc = ledger_entry_encode(&e, &value);
        }
        if (rc != 0) {
            snprintf(l->err_text, sizeof(l->err_text), "entry %zu of the batch: %s", i,
                     pl_strerror(rc));
            goto fail_batch;
        }
        const uint8_t *leaf = value.data + MERKLE_HASH_BYTES;
        size_t leaf_len = value.len - MERKLE_HASH_BYTES;
#ifdef PL_DEBUG
        /* Decode after encode: what we hash is what a verifier will read. */
        struct ledger_entry back;
        PL_ALWAYS(ledger_entry_decode(leaf, leaf_len, &back) == 0 && back.index == e.index &&
                  back.body_len == e.body_len);
#endif
        merkle_leaf_hash(leaf, leaf_len, value.data);
        uint8_t key[8];
        ledger_index_key(e.index, key);
        pl_store_batch_put(l->store, &batch, PL_CF_LEDGER_LEAVES, key, sizeof(key), value.data,
                           value.len);
        rc = merkle_frontier_append(&f, value.data, append_emit_cb, &a);
        if (rc != 0)
            goto fail_batch;
    }

    struct ledger_head h;
    memset(&h, 0, sizeof(h));
    h.size = l->size + n;
    h.time_ms = head_time_ms;
    merkle_frontier_root(&f, h.root);
    /* Check the root before persisting. */
    if (PL_NEVER(!merkle_frontier_valid(&f) || f.size != h.size)) {
        rc = PL_ECORRUPT;
        goto fail_batch;
    }
#ifdef PL_DEBUG
    {
        uint8_t again[MERKLE_HASH_BYTES];
        PL_ALWAYS(merkle_root(pending_get_cb, &a, h.size, again) == 0 &&
                  memcmp(again, h.root, MERKLE_HASH_BYTES) == 0);
    }
#endif
    memcpy(h.public_key, l->keys->public_key, LEDGER_KEY_BYTES);
    rc = ledger_head_sign(&h, l->keys->secret_key);
    if (rc != 0)
        goto fail_batch;
    uint8_t head_key[8], head_val[LEDGER_HEAD_BYTES];
    ledger_index_key(h.size, head_key);
    ledger_head_encode(&h, head_val);
    pl_store_batch_put(l->store, &batch, PL_CF_LEDGER_HEADS, head_key, sizeof(head_key), head_val,
                       sizeof(head_val));
    rc = l->no_sync ? pl_store_batch_commit_nosync(l->store, &batch)
                    : pl_store_batch_commit(l->store, &batch);
    if (rc != 0) {
        snprintf(l->err_text, sizeof(l->err_text), "%s", l->store->err_text);
        goto fail_batch;
    }
    l->frontier = f;
    l->block_valid = false; /* the last block may have grown */
    l->size = h.size;
    memcpy(l->root, h.root, MERKLE_HASH_BYTES);
    l->head = h;
    if (head_out != NULL)
        *head_out = h;
fail_batch:
#ifdef PL_DEBUG
    free(a.pending);
#endif
    pl_buf_close(&value);
    pl_store_batch_close(&batch);
    return rc;
}

int ledger_root_at(struct ledger *l, uint64_t size, uint8_t root[MERKLE_HASH_BYTES])
{
    if (size > l->size)
        return PL_ERANGE;
    if (size == l->size) {
        memcpy(root, l->root, MERKLE_HASH_BYTES);
        return 0;
    }
    return merkle_root(node_get_cb, l, size, root);
}

int ledger_inclusion_proof(struct ledger *l,
                           uint64_t index,
                           uint64_t size,
                           uint8_t path[][MERKLE_HASH_BYTES],
                           size_t *path_len)
{
    if (size > l->size || index >= size)
        return PL_ERANGE;
    return merkle_inclusion_proof(node_get_cb, l, index, size, path, path_len);
}

int ledger_consistency_proof(struct ledger *l,
                             uint64_t first,
                             uint64_t second,
                             uint8_t proof[][MERKLE_HASH_BYTES],
                             size_t *proof_len)
{
    if (second > l->size || first == 0 || first > second)
        return PL_ERANGE;
    return merkle_consistency_proof(node_get_cb, l, first, second, proof, proof_len);
}

int ledger_leaf_get(struct ledger *l, uint64_t index, uint8_t **leaf, size_t *len)
{
    if (index >= l->size)
        return PL_ERANGE;
    uint8_t key[8], *v = NULL;
    size_t vlen = 0, leaf_len = 0;
    const uint8_t *hash, *bytes;
    ledger_index_key(index, key);
    int rc = pl_store_get(l->store, PL_CF_LEDGER_LEAVES, key, sizeof(key), &v, &vlen);
    if (rc == PL_ENOTFOUND)
        return PL_ECORRUPT;
    if (rc != 0)
        return rc;
    if (leaf_value_split(v, vlen, &hash, &bytes, &leaf_len) != 0) {
        free(v);
        return PL_ECORRUPT;
    }
    memmove(v, bytes, leaf_len);
    *leaf = v;
    *len = leaf_len;
    return 0;
}

int ledger_leaves_each(struct ledger *l, uint64_t from, uint64_t to, ledger_leaf_cb cb, void *ctx)
{
    if (to > l->size)
        to = l->size;
    if (from >= to)
        return 0;
    struct pl_store_iter it;
    pl_store_iter_init_scan(l->store, &it, PL_CF_LEDGER_LEAVES);
    uint8_t key[8];
    ledger_index_key(from, key);
    pl_store_iter_seek(&it, key, sizeof(key));
    uint64_t want = from;
    int rc = 0;
    for (; want < to; want++) {
        if (!pl_store_iter_valid(&it)) {
            rc = pl_store_iter_status(&it) ? PL_ESTORE : PL_ECORRUPT;
            break;
        }
        size_t klen = 0, vlen = 0;
        const uint8_t *k = pl_store_iter_key(&it, &klen);
        const uint8_t *v = pl_store_iter_value(&it, &vlen);
        if (klen != 8 || pl_be64_get(k) != want) {
            snprintf(l->err_text, sizeof(l->err_text), "leaf %" PRIu64 " is missing", want);
            rc = PL_ECORRUPT;
            break;
        }
        const uint8_t *hash, *leaf;
        size_t leaf_len = 0;
        if (leaf_value_split(v, vlen, &hash, &leaf, &leaf_len) != 0) {
            snprintf(l->err_text, sizeof(l->err_text), "leaf %" PRIu64 " is malformed", want);
            rc = PL_ECORRUPT;
            break;
        }
        rc = cb(ctx, want, leaf, leaf_len);
        if (rc != 0)
            break;
        pl_store_iter_next(&it);
    }
    pl_store_iter_close(&it);
    return rc;
}

/* ---- check ---- */

struct check_ctx
{
    struct ledger *l;
    struct ledger_check_report *r;
};

static int check_emit_cb(void *ctx,
                         unsigned level,
                         uint64_t index,
                         const uint8_t hash[MERKLE_HASH_BYTES])
{
    struct check_ctx *c = ctx;
    if (level < LEDGER_NODE_LEVEL_MIN)
        return 0; /* not stored: leaf hashes are compared with their leaves below */
    uint8_t key[9], stored[MERKLE_HASH_BYTES];
    ledger_node_key(level, index, key);
    int rc = pl_store_get_fixed(c->l->store, PL_CF_LEDGER_NODES, key, sizeof(key), stored,
                                MERKLE_HASH_BYTES);
    if (rc == PL_ESTORE)
        return rc;
    c->r->nodes++;
    if (rc != 0 || sodium_memcmp(stored, hash, MERKLE_HASH_BYTES) != 0) {
        uint64_t first = index << level, last = ((index + 1) << level) - 1;
        c->r->bad_index = (int64_t)first;
        snprintf(c->r->reason, sizeof(c->r->reason),
                 "stored tree node (level %u, index %" PRIu64 ") over entries %" PRIu64 "..%" PRIu64
                 " %s",
                 level, index, first, last,
                 rc == 0 ? "differs from the one recomputed from the leaves"
                         : (rc == PL_ENOTFOUND ? "is missing" : "is not 32 bytes"));
        return PL_ECORRUPT;
    }
    return 0;
}

static int fail_report(struct ledger_check_report *r, int64_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_report(struct ledger_check_report *r, int64_t index, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    r->bad_index = index;
    return PL_ECORRUPT;
}

/* Compares the recomputed frontier with the head stored at its size, if there is one. */
static int check_heads_at(struct ledger *l,
                          struct pl_store_iter *hit,
                          const struct merkle_frontier *f,
                          struct ledger_check_report *r)
{
    while (pl_store_iter_valid(hit)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = pl_store_iter_key(hit, &klen);
        const uint8_t *v = pl_store_iter_value(hit, &vlen);
        if (klen != 8)
            return fail_report(r, -1, "a signed head has a malformed key");
        uint64_t size = pl_be64_get(k);
        if (size > f->size)
            return 0;
        struct ledger_head h;
        if (ledger_head_decode(v, vlen, &h) != 0 || h.size != size)
            return fail_report(r, size ? (int64_t)size - 1 : -1,
                               "signed head at size %" PRIu64 " is malformed", size);
        if (size < f->size)
            return fail_report(r, -1, "signed head at size %" PRIu64 " was skipped over", size);
        uint8_t root[MERKLE_HASH_BYTES];
        merkle_frontier_root(f, root);
        if (sodium_memcmp(root, h.root, MERKLE_HASH_BYTES) != 0)
            return fail_report(r, -1,
                               "signed head at size %" PRIu64
                               " does not match the root recomputed from the leaves",
                               size);
        if (ledger_head_verify(&h) != 0)
            return fail_report(r, -1, "signature of the head at size %" PRIu64 " is invalid", size);
        r->heads++;
        r->size = size;
        pl_store_iter_next(hit);
    }
    (void)l;
    return pl_store_iter_status(hit);
}

int ledger_check(struct ledger *l, struct ledger_check_report *r)
{
    int rc = ledger_check_store(l->store, r);
    if (rc == 0 && r->size != l->size)
        rc = fail_report(r, -1,
                         "the ledger was opened at size %" PRIu64
                         " but the store now "
                         "holds %" PRIu64,
                         l->size, r->size);
    return rc;
}

int ledger_check_store(struct pl_store *store, struct ledger_check_report *r)
{
    memset(r, 0, sizeof(*r));
    r->bad_index = -1;
    struct ledger shell;
    memset(&shell, 0, sizeof(shell));
    shell.store = store;
    struct ledger *l = &shell;
    struct check_ctx c = {l, r};
    struct merkle_frontier f;
    merkle_frontier_init(&f);

    struct pl_store_iter lit, hit;
    pl_store_iter_init(l->store, &lit, PL_CF_LEDGER_LEAVES);
    pl_store_iter_init(l->store, &hit, PL_CF_LEDGER_HEADS);
    pl_store_iter_seek_first(&lit);
    pl_store_iter_seek_first(&hit);
    int rc = check_heads_at(l, &hit, &f, r); /* a head at size 0 would be checked here */
    uint64_t index = 0;
    for (; rc == 0 && pl_store_iter_valid(&lit); pl_store_iter_next(&lit), index++) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = pl_store_iter_key(&lit, &klen);
        const uint8_t *v = pl_store_iter_value(&lit, &vlen);
        if (klen != 8) {
            rc = fail_report(r, (int64_t)index, "a leaf key after entry %" PRIu64 " is malformed",
                             index);
            break;
        }
        uint64_t key_index = pl_be64_get(k);
        if (key_index != index) {
            rc = fail_report(r, (int64_t)index,
                             "entry %" PRIu64 " is missing (next stored is %" PRIu64 ")", index,
                             key_index);
            break;
        }
        const uint8_t *stored_hash, *leaf;
        size_t leaf_len = 0;
        if (leaf_value_split(v, vlen, &stored_hash, &leaf, &leaf_len) != 0) {
            rc = fail_report(r, (int64_t)index, "stored value of entry %" PRIu64 " is too short",
                             index);
            break;
        }
        struct ledger_entry e;
        if (ledger_entry_decode(leaf, leaf_len, &e) != 0) {
            rc = fail_report(r, (int64_t)index,
                             "leaf bytes of entry %" PRIu64 " are not a canonical entry", index);
            break;
        }
        if (e.index != index) {
            rc = fail_report(r, (int64_t)index,
                             "leaf stored as entry %" PRIu64 " says it is entry %" PRIu64, index,
                             e.index);
            break;
        }
        uint8_t h[MERKLE_HASH_BYTES];
        merkle_leaf_hash(leaf, leaf_len, h);
        if (sodium_memcmp(h, stored_hash, MERKLE_HASH_BYTES) != 0) {
            rc = fail_report(r, (int64_t)index,
                             "stored leaf hash of entry %" PRIu64
                             " differs from the hash of its leaf bytes",
                             index);
            break;
        }
        r->nodes++;
        rc = merkle_frontier_append(&f, h, check_emit_cb, &c);
        if (rc != 0)
            break;
        r->leaves++;
        rc = check_heads_at(l, &hit, &f, r);
    }
    if (rc == 0 && (rc = pl_store_iter_status(&lit)) != 0)
        snprintf(r->reason, sizeof(r->reason), "reading the leaves failed");
    if (rc == 0 && pl_store_iter_valid(&hit)) {
        size_t klen = 0;
        const uint8_t *k = pl_store_iter_key(&hit, &klen);
        rc = fail_report(r, (int64_t)index,
                         "signed head at size %" PRIu64 " but only %" PRIu64 " leaves are stored",
                         klen == 8 ? pl_be64_get(k) : 0, index);
    }
    pl_store_iter_close(&lit);
    pl_store_iter_close(&hit);
    if (rc != 0)
        return rc;
    if (f.size != r->size)
        return fail_report(r, (int64_t)r->size,
                           "entries %" PRIu64 "..%" PRIu64
                           " are not covered by a signed head "
                           "(the newest is at size %" PRIu64 ")",
                           r->size, f.size - 1, r->size);

    /* No stray nodes: every stored node lies inside the tree of f.size. */
    struct pl_store_iter nit;
    pl_store_iter_init(l->store, &nit, PL_CF_LEDGER_NODES);
    for (pl_store_iter_seek_first(&nit); rc == 0 && pl_store_iter_valid(&nit);
         pl_store_iter_next(&nit)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = pl_store_iter_key(&nit, &klen);
        pl_store_iter_value(&nit, &vlen);
        if (klen != 9 || k[0] >= 64 || vlen != MERKLE_HASH_BYTES) {
            rc = fail_report(r, -1, "a stored tree node has a malformed key or value");
            break;
        }
        uint64_t idx = pl_be64_get(k + 1);
        unsigned level = k[0];
        if (level < LEDGER_NODE_LEVEL_MIN || idx >= (f.size >> level))
            rc = fail_report(r, -1,
                             "stray tree node (level %u, index %" PRIu64 ") beyond size %" PRIu64,
                             level, idx, f.size);
    }
    if (rc == 0)
        rc = pl_store_iter_status(&nit);
    pl_store_iter_close(&nit);
    return rc;
}
