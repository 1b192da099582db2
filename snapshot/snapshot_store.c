/*
 * snapshot_store.h over pl_store.
 */
#include "snapshot_store.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_mp.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int snapshot_encode(uint64_t index,
                    const uint8_t *state,
                    size_t state_len,
                    const struct merkle_frontier *frontier,
                    const uint8_t root[MERKLE_HASH_BYTES],
                    struct pl_buf *out)
{
    if (state_len > SNAPSHOT_STATE_MAX)
        return PL_ETOOBIG;
    if (!merkle_frontier_valid(frontier))
        return PL_EMALFORMED;
    uint8_t check[MERKLE_HASH_BYTES];
    merkle_frontier_root(frontier, check);
    if (sodium_memcmp(check, root, MERKLE_HASH_BYTES) != 0)
        return PL_EVERIFY;
    size_t start = out->len;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    pl_mp_map(&w, 5);
    pl_mp_str(&w, "index");
    pl_mp_uint(&w, index);
    pl_mp_str(&w, "root");
    pl_mp_bin(&w, root, MERKLE_HASH_BYTES);
    pl_mp_str(&w, "tree_size");
    pl_mp_uint(&w, frontier->size);
    pl_mp_str(&w, "frontier");
    pl_mp_array(&w, frontier->count);
    for (unsigned i = 0; i < frontier->count; i++)
        pl_mp_bin(&w, frontier->hash[i], MERKLE_HASH_BYTES);
    pl_mp_str(&w, "state");
    pl_mp_bin(&w, state, state_len);
    if (w.err != 0)
        out->len = start;
    return w.err;
}

int snapshot_put(struct pl_store *s,
                 uint64_t index,
                 const uint8_t *state,
                 size_t state_len,
                 const struct merkle_frontier *frontier,
                 const uint8_t root[MERKLE_HASH_BYTES])
{
    struct pl_buf buf;
    pl_buf_init(&buf, SNAPSHOT_STATE_MAX + 4096);
    int rc = snapshot_encode(index, state, state_len, frontier, root, &buf);
    if (rc == 0) {
        uint8_t key[8];
        pl_be64_put(key, index);
        rc = pl_store_put(s, PL_CF_SNAPSHOTS, key, sizeof(key), buf.data, buf.len);
    }
    pl_buf_close(&buf);
    return rc;
}

int snapshot_decode(const uint8_t *p, size_t len, uint64_t key_index, struct snapshot *out)
{
    msgpack_unpacked u;
    if (pl_mp_parse(p, len, &u) != 0)
        return PL_ECORRUPT;
    int rc = PL_ECORRUPT;
    struct snapshot snap;
    memset(&snap, 0, sizeof(snap));
    const msgpack_object *m = &u.data;
    const uint8_t *root = NULL, *state = NULL;
    size_t root_len = 0, state_len = 0;
    uint64_t tree_size = 0;
    if (pl_mp_get_u64(m, "index", &snap.index) != 0 || snap.index != key_index ||
        pl_mp_get_bin(m, "root", &root, &root_len) != 0 || root_len != MERKLE_HASH_BYTES ||
        pl_mp_get_u64(m, "tree_size", &tree_size) != 0 ||
        pl_mp_get_bin(m, "state", &state, &state_len) != 0)
        goto done;
    const msgpack_object *fr = pl_mp_get(m, "frontier");
    if (fr == NULL || fr->type != MSGPACK_OBJECT_ARRAY ||
        fr->via.array.size != (uint32_t)__builtin_popcountll(tree_size))
        goto done;
    snap.frontier.size = tree_size;
    snap.frontier.count = fr->via.array.size;
    for (uint32_t i = 0; i < fr->via.array.size; i++) {
        const uint8_t *h = NULL;
        size_t hl = 0;
        if (pl_mp_as_bin(&fr->via.array.ptr[i], &h, &hl) != 0 || hl != MERKLE_HASH_BYTES)
            goto done;
        memcpy(snap.frontier.hash[i], h, MERKLE_HASH_BYTES);
    }
    memcpy(snap.root, root, MERKLE_HASH_BYTES);
    /* Check the root after loading. */
    uint8_t check[MERKLE_HASH_BYTES];
    merkle_frontier_root(&snap.frontier, check);
    if (sodium_memcmp(check, snap.root, MERKLE_HASH_BYTES) != 0)
        goto done;
    snap.state = malloc(state_len ? state_len : 1);
    if (snap.state == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    if (state_len)
        memcpy(snap.state, state, state_len);
    snap.state_len = state_len;
    *out = snap;
    rc = 0;
done:
    msgpack_unpacked_destroy(&u);
    return rc;
}

int snapshot_get_at_or_before(struct pl_store *s, uint64_t index, struct snapshot *out)
{
    struct pl_store_iter it;
    pl_store_iter_init(s, &it, PL_CF_SNAPSHOTS);
    uint8_t key[8];
    pl_be64_put(key, index);
    pl_store_iter_seek_for_prev(&it, key, sizeof(key));
    int rc;
    if (!pl_store_iter_valid(&it)) {
        rc = pl_store_iter_status(&it);
        if (rc == 0)
            rc = PL_ENOTFOUND;
    } else {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = pl_store_iter_key(&it, &klen);
        const uint8_t *v = pl_store_iter_value(&it, &vlen);
        rc = klen == 8 ? snapshot_decode(v, vlen, pl_be64_get(k), out) : PL_ECORRUPT;
    }
    pl_store_iter_close(&it);
    return rc;
}

int snapshot_list(struct pl_store *s, uint64_t *indexes, size_t max, size_t *n, size_t *total)
{
    struct pl_store_iter it;
    pl_store_iter_init(s, &it, PL_CF_SNAPSHOTS);
    size_t count = 0, written = 0;
    for (pl_store_iter_seek_first(&it); pl_store_iter_valid(&it); pl_store_iter_next(&it)) {
        size_t klen = 0;
        const uint8_t *k = pl_store_iter_key(&it, &klen);
        if (klen != 8)
            continue;
        if (written < max)
            indexes[written++] = pl_be64_get(k);
        count++;
    }
    int rc = pl_store_iter_status(&it);
    pl_store_iter_close(&it);
    if (rc != 0)
        return rc;
    *n = written;
    if (total)
        *total = count;
    return 0;
}

int snapshot_retain(struct pl_store *s, size_t keep_last, size_t *deleted)
{
    if (keep_last == 0)
        return PL_ERANGE;
    struct pl_store_iter it;
    pl_store_iter_init(s, &it, PL_CF_SNAPSHOTS);
    struct pl_store_batch b;
    pl_store_batch_init(&b);
    size_t kept = 0, gone = 0;
    /* Walk from the newest: the first keep_last stay, the rest go. */
    for (pl_store_iter_seek_last(&it); pl_store_iter_valid(&it); pl_store_iter_prev(&it)) {
        if (kept < keep_last) {
            kept++;
            continue;
        }
        size_t klen = 0;
        const uint8_t *k = pl_store_iter_key(&it, &klen);
        pl_store_batch_delete(s, &b, PL_CF_SNAPSHOTS, k, klen);
        gone++;
    }
    int rc = pl_store_iter_status(&it);
    pl_store_iter_close(&it);
    if (rc == 0 && gone > 0)
        rc = pl_store_batch_commit(s, &b);
    pl_store_batch_close(&b);
    if (rc == 0 && deleted)
        *deleted = gone;
    return rc;
}

void snapshot_free(struct snapshot *snap)
{
    free(snap->state);
    snap->state = NULL;
}
