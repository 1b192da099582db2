/*
 * The heal record's canonical codec (swarm_heal_record.h): the decoder checks the shape
 * field by field, then re-encodes and compares, so a record has one encoding.
 */
#include "swarm_heal_record.h"

#include "pl_err.h"
#include "pl_mp.h"

#include <string.h>

int swarm_heal_record_encode(const struct swarm_heal_record *r, struct pl_buf *out)
{
    if (r->nbase > SWARM_HEAL_BASE_MAX || r->nsigs > SWARM_HEAL_SIGS_MAX)
        return PL_ERANGE;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    pl_mp_map(&w, 3);
    pl_mp_str(&w, "t");
    pl_mp_uint(&w, r->t_ms);
    pl_mp_str(&w, "base");
    pl_mp_array(&w, r->nbase);
    for (uint32_t i = 0; i < r->nbase; i++) {
        const struct swarm_heal_base *b = &r->base[i];
        pl_mp_array(&w, 5);
        pl_mp_str(&w, b->service);
        pl_mp_uint(&w, b->p95_ms);
        pl_mp_uint(&w, b->error_ppm);
        pl_mp_uint(&w, b->cpu_permille);
        pl_mp_uint(&w, b->rss_mb);
    }
    pl_mp_str(&w, "sigs");
    pl_mp_array(&w, r->nsigs);
    for (uint32_t i = 0; i < r->nsigs; i++) {
        const struct swarm_heal_sig *s = &r->sigs[i];
        pl_mp_array(&w, 3);
        pl_mp_str(&w, s->sig);
        pl_mp_str(&w, s->service);
        pl_mp_uint(&w, s->since_ms);
    }
    return w.err != 0 ? PL_ERANGE : 0;
}

static bool key_is(const msgpack_object_kv *kv, const char *key)
{
    size_t n = strlen(key);
    return kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
           memcmp(kv->key.via.str.ptr, key, n) == 0;
}

/* A non-empty name that fits its buffer. */
static int name(const msgpack_object *o, char *dst, size_t size)
{
    int rc = pl_mp_as_cstr(o, dst, size);
    if (rc != 0 || dst[0] == '\0')
        return PL_EMALFORMED;
    return 0;
}

static int u32(const msgpack_object *o, uint32_t *out)
{
    uint64_t v;
    if (pl_mp_as_u64(o, &v) != 0 || v > UINT32_MAX)
        return PL_EMALFORMED;
    *out = (uint32_t)v;
    return 0;
}

static int tuple(const msgpack_object *o, uint32_t n)
{
    return o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == n ? 0 : PL_EMALFORMED;
}

static int decode(const msgpack_object *m, void *rec)
{
    struct swarm_heal_record *r = rec;
    if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size != 3)
        return PL_EMALFORMED;
    const msgpack_object_kv *kv = m->via.map.ptr;
    if (!key_is(&kv[0], "t") || !key_is(&kv[1], "base") || !key_is(&kv[2], "sigs") ||
        pl_mp_as_u64(&kv[0].val, &r->t_ms) != 0 || kv[1].val.type != MSGPACK_OBJECT_ARRAY ||
        kv[2].val.type != MSGPACK_OBJECT_ARRAY ||
        kv[1].val.via.array.size > SWARM_HEAL_BASE_MAX ||
        kv[2].val.via.array.size > SWARM_HEAL_SIGS_MAX)
        return PL_EMALFORMED;
    r->nbase = kv[1].val.via.array.size;
    for (uint32_t i = 0; i < r->nbase; i++) {
        const msgpack_object *t = &kv[1].val.via.array.ptr[i];
        struct swarm_heal_base *b = &r->base[i];
        if (tuple(t, 5) != 0)
            return PL_EMALFORMED;
        const msgpack_object *f = t->via.array.ptr;
        if (name(&f[0], b->service, sizeof(b->service)) != 0 || u32(&f[1], &b->p95_ms) != 0 ||
            u32(&f[2], &b->error_ppm) != 0 || u32(&f[3], &b->cpu_permille) != 0 ||
            u32(&f[4], &b->rss_mb) != 0)
            return PL_EMALFORMED;
    }
    r->nsigs = kv[2].val.via.array.size;
    for (uint32_t i = 0; i < r->nsigs; i++) {
        const msgpack_object *t = &kv[2].val.via.array.ptr[i];
        struct swarm_heal_sig *s = &r->sigs[i];
        if (tuple(t, 3) != 0)
            return PL_EMALFORMED;
        const msgpack_object *f = t->via.array.ptr;
        if (name(&f[0], s->sig, sizeof(s->sig)) != 0 ||
            name(&f[1], s->service, sizeof(s->service)) != 0 ||
            pl_mp_as_u64(&f[2], &s->since_ms) != 0)
            return PL_EMALFORMED;
    }
    return 0;
}

static int encode(const void *r, struct pl_buf *out) { return swarm_heal_record_encode(r, out); }

int swarm_heal_record_decode(const uint8_t *p, size_t n, struct swarm_heal_record *out)
{
    if (n > SWARM_HEAL_RECORD_BYTES_MAX)
        return PL_ETOOBIG;
    return pl_mp_decode_canonical(p, n, sizeof(*out), decode, encode, out);
}
