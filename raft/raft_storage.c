/*
 * The RocksDB persistence of raft_storage.h.
 */
#include "raft_storage.h"

#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "pl_mp.h"
#include "raft_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char KEY_FORMAT[] = "format";
static const char KEY_HS[] = "hs";
static const char KEY_SNAP[] = "snap";
static const char KEY_RECEIVING[] = "receiving";

static void index_key(uint64_t index, uint8_t key[8]) { pl_be64_put(key, index); }

int raft_storage_snapshot_encode(const struct raft_snapshot *snap, struct pl_buf *out)
{
    struct pl_buf cfg;
    pl_buf_init(&cfg, 4096);
    int rc = raft_config_encode(&snap->config, &cfg);
    if (rc == 0) {
        struct pl_mp_writer w;
        pl_mp_writer_init(&w, out);
        pl_mp_array(&w, 5);
        pl_mp_uint(&w, snap->index);
        pl_mp_uint(&w, snap->term);
        pl_mp_bin(&w, cfg.data, cfg.len);
        pl_mp_bin(&w, snap->data, snap->len);
        pl_mp_uint(&w, snap->body_len);
        rc = w.err;
    }
    pl_buf_close(&cfg);
    return rc;
}

int raft_storage_snapshot_decode(const uint8_t *p, size_t n, struct raft_snapshot *out)
{
    msgpack_unpacked u;
    int rc = pl_mp_parse(p, n, &u);
    if (rc != 0)
        return PL_ECORRUPT;
    const msgpack_object *o = &u.data;
    const uint8_t *cfg, *data;
    size_t cfg_len, data_len;
    struct raft_snapshot snap;
    memset(&snap, 0, sizeof(snap));
    rc = PL_ECORRUPT;
    /* Four fields: a record from before snapshots had a body (body_len 0, data the whole
     * state); the caller tells the two apart. */
    uint32_t nf = o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size : 0;
    if ((nf == 4 || (nf == 5 && pl_mp_as_u64(&o->via.array.ptr[4], &snap.body_len) == 0)) &&
        pl_mp_as_u64(&o->via.array.ptr[0], &snap.index) == 0 &&
        pl_mp_as_u64(&o->via.array.ptr[1], &snap.term) == 0 &&
        pl_mp_as_bin(&o->via.array.ptr[2], &cfg, &cfg_len) == 0 &&
        pl_mp_as_bin(&o->via.array.ptr[3], &data, &data_len) == 0 &&
        raft_config_decode(cfg, cfg_len, &snap.config) == 0) {
        snap.data = malloc(data_len ? data_len : 1);
        if (snap.data == NULL) {
            rc = -ENOMEM;
        } else {
            memcpy(snap.data, data, data_len);
            snap.len = data_len;
            *out = snap;
            rc = 0;
        }
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int raft_storage_receiving_put(struct pl_store *s, uint64_t index)
{
    uint8_t v[8];
    pl_be64_put(v, index);
    return pl_store_put(s, PL_CF_RAFT_META, KEY_RECEIVING, sizeof(KEY_RECEIVING) - 1, v, 8);
}

void raft_storage_state_free(struct raft_storage_state *st)
{
    free(st->snapshot.data);
    for (size_t i = 0; i < st->n_entries; i++)
        free(st->entries[i].data);
    free(st->entries);
    memset(st, 0, sizeof(*st));
}

int raft_storage_in_use(struct pl_store *s, bool *in_use)
{
    uint8_t fmt[4];
    int rc = pl_store_get_fixed(s, PL_CF_RAFT_META, KEY_FORMAT, sizeof(KEY_FORMAT) - 1, fmt, 4);
    if (rc != 0 && rc != PL_ENOTFOUND && rc != PL_ECORRUPT)
        return rc;
    bool any = rc != PL_ENOTFOUND;
    if (!any) {
        struct pl_store_iter it;
        pl_store_iter_init(s, &it, PL_CF_RAFT_LOG);
        pl_store_iter_seek_first(&it);
        any = pl_store_iter_valid(&it);
        pl_store_iter_close(&it);
    }
    *in_use = any;
    return 0;
}

int raft_storage_load(struct pl_store *s, struct raft_storage_state *out, char *err,
                      size_t err_size)
{
    memset(out, 0, sizeof(*out));
    uint8_t fmt[4], hs[16];
    int rc = pl_store_get_fixed(s, PL_CF_RAFT_META, KEY_FORMAT, sizeof(KEY_FORMAT) - 1, fmt, 4);
    if (rc == PL_ENOTFOUND) {
        out->empty = true;
        /* A store without a format record must also hold no log: anything else is damage. */
        struct pl_store_iter it;
        pl_store_iter_init(s, &it, PL_CF_RAFT_LOG);
        pl_store_iter_seek_first(&it);
        bool any = pl_store_iter_valid(&it);
        pl_store_iter_close(&it);
        if (any) {
            snprintf(err, err_size, "raft_meta has no format record but raft_log has entries");
            return PL_ECORRUPT;
        }
        return 0;
    }
    if (rc != 0) {
        snprintf(err, err_size, "raft_meta/format: %s", pl_strerror(rc));
        return rc == PL_ECORRUPT ? PL_ECORRUPT : rc;
    }
    if (pl_be32_get(fmt) > RAFT_STORAGE_FORMAT) {
        snprintf(err, err_size, "the Raft store was written by a newer version (format %u, this "
                                "build reads up to %u)", pl_be32_get(fmt), RAFT_STORAGE_FORMAT);
        return PL_EVERSION;
    }
    rc = pl_store_get_fixed(s, PL_CF_RAFT_META, KEY_HS, sizeof(KEY_HS) - 1, hs, 16);
    if (rc == 0) {
        out->term = pl_be64_get(hs);
        out->vote = pl_be64_get(hs + 8);
    } else if (rc != PL_ENOTFOUND) {
        snprintf(err, err_size, "raft_meta/hs: %s", pl_strerror(rc));
        return rc;
    }
    uint8_t *val;
    size_t len;
    rc = pl_store_get(s, PL_CF_RAFT_META, KEY_SNAP, sizeof(KEY_SNAP) - 1, &val, &len);
    if (rc == 0) {
        rc = raft_storage_snapshot_decode(val, len, &out->snapshot);
        free(val);
        if (rc != 0) {
            snprintf(err, err_size, "raft_meta/snap: undecodable snapshot record");
            return rc;
        }
        out->has_snapshot = true;
    } else if (rc != PL_ENOTFOUND) {
        snprintf(err, err_size, "raft_meta/snap: %s", pl_strerror(rc));
        return rc;
    }
    uint8_t recv[8];
    rc = pl_store_get_fixed(s, PL_CF_RAFT_META, KEY_RECEIVING, sizeof(KEY_RECEIVING) - 1, recv, 8);
    if (rc == 0) {
        out->receiving = pl_be64_get(recv);
    } else if (rc != PL_ENOTFOUND) {
        snprintf(err, err_size, "raft_meta/receiving: %s", pl_strerror(rc));
        return rc;
    }

    size_t cap = 0;
    struct pl_store_iter it;
    pl_store_iter_init(s, &it, PL_CF_RAFT_LOG);
    uint8_t start[8];
    index_key(out->has_snapshot ? out->snapshot.index + 1 : 0, start);
    rc = 0;
    for (pl_store_iter_seek(&it, start, 8); pl_store_iter_valid(&it); pl_store_iter_next(&it)) {
        size_t klen, vlen;
        const uint8_t *k = pl_store_iter_key(&it, &klen);
        const uint8_t *v = pl_store_iter_value(&it, &vlen);
        if (klen != 8 || vlen < 9 || vlen - 9 > UINT32_MAX) {
            snprintf(err, err_size, "raft_log: a record of %zu/%zu bytes is not an entry", klen, vlen);
            rc = PL_ECORRUPT;
            break;
        }
        if (out->n_entries == cap) {
            cap = cap ? cap * 2 : 256;
            struct raft_entry *e = realloc(out->entries, cap * sizeof(*e));
            if (e == NULL) {
                rc = -ENOMEM;
                break;
            }
            out->entries = e;
        }
        struct raft_entry *e = &out->entries[out->n_entries];
        e->index = pl_be64_get(k);
        e->term = pl_be64_get(v);
        e->type = v[8];
        e->len = (uint32_t)(vlen - 9);
        e->data = malloc(e->len ? e->len : 1);
        if (e->data == NULL) {
            rc = -ENOMEM;
            break;
        }
        memcpy(e->data, v + 9, e->len);
        out->n_entries++;
    }
    if (rc == 0 && pl_store_iter_status(&it) != 0) {
        snprintf(err, err_size, "raft_log: iteration failed");
        rc = PL_ESTORE;
    }
    pl_store_iter_close(&it);
    if (rc != 0)
        raft_storage_state_free(out);
    return rc;
}

int raft_storage_batch_add(struct pl_store *s, struct pl_store_batch *b,
                           const struct raft_update *u)
{
    if (u->persist_seq == 0)
        return 0;
    uint8_t fmt[4];
    pl_be32_put(fmt, RAFT_STORAGE_FORMAT);
    pl_store_batch_put(s, b, PL_CF_RAFT_META, KEY_FORMAT, sizeof(KEY_FORMAT) - 1, fmt, 4);
    if (u->hs_changed) {
        uint8_t hs[16];
        pl_be64_put(hs, u->term);
        pl_be64_put(hs + 8, u->vote);
        pl_store_batch_put(s, b, PL_CF_RAFT_META, KEY_HS, sizeof(KEY_HS) - 1, hs, 16);
    }
    int rc = 0;
    if (u->snapshot != NULL) {
        struct pl_buf buf;
        pl_buf_init(&buf, (size_t)u->snapshot->len + 8192);
        rc = raft_storage_snapshot_encode(u->snapshot, &buf);
        if (rc == 0)
            pl_store_batch_put(s, b, PL_CF_RAFT_META, KEY_SNAP, sizeof(KEY_SNAP) - 1, buf.data,
                               buf.len);
        pl_buf_close(&buf);
    }
    uint8_t lo[8], hi[8];
    if (rc == 0 && u->truncate_from != 0) {
        index_key(u->truncate_from, lo);
        index_key(UINT64_MAX, hi);
        rocksdb_writebatch_delete_range_cf(b->wb, s->cf[PL_CF_RAFT_LOG], (const char *)lo, 8,
                                           (const char *)hi, 8);
    }
    struct pl_buf val;
    pl_buf_init(&val, (size_t)UINT32_MAX + 16);
    for (uint32_t i = 0; rc == 0 && i < u->n_entries; i++) {
        const struct raft_entry *e = &u->entries[i];
        uint8_t key[8], head[9];
        index_key(e->index, key);
        pl_be64_put(head, e->term);
        head[8] = e->type;
        pl_buf_reset(&val);
        rc = pl_buf_append(&val, head, 9);
        if (rc == 0)
            rc = pl_buf_append(&val, e->data, e->len);
        if (rc == 0)
            pl_store_batch_put(s, b, PL_CF_RAFT_LOG, key, 8, val.data, val.len);
    }
    pl_buf_close(&val);
    if (rc == 0 && u->compact_to != 0) {
        index_key(0, lo);
        index_key(u->compact_to + 1, hi);
        rocksdb_writebatch_delete_range_cf(b->wb, s->cf[PL_CF_RAFT_LOG], (const char *)lo, 8,
                                           (const char *)hi, 8);
    }
    return rc;
}

int raft_storage_persist(struct pl_store *s, const struct raft_update *u)
{
    if (u->persist_seq == 0)
        return 0;
    struct pl_store_batch b;
    pl_store_batch_init(&b);
    int rc = raft_storage_batch_add(s, &b, u);
    if (rc == 0)
        rc = pl_store_batch_commit(s, &b);
    pl_store_batch_close(&b);
    return rc;
}
