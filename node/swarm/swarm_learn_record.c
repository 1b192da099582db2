/*
 * The "strategies" record's canonical codec (swarm_learn_record.h): the decoder checks the
 * shape field by field, then re-encodes and compares, so a record has one encoding.
 */
#include "swarm_learn_record.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_mp.h"

#include <string.h>

void swarm_learn_record_of(const struct swarm_learn *l, struct swarm_learn_record *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < l->nsigs && i < SWARM_LEARN_SIGS_MAX; i++) {
        const struct swarm_learn_sig *s = &l->sigs[i];
        /* Every change of a signature draws its choice again (swarm_learn_note/_outcome),
         * so the newest choice_index is the entry that last changed the table. */
        if (s->choice_index > out->index) {
            out->index = s->choice_index;
            out->term = s->choice_term;
        }
        if (s->choice == 0)
            continue;
        PL_ASSERT(out->n < SWARM_LEARN_RECORD_MAX);
        out->v[out->n].key = s->key;
        out->v[out->n].action = s->choice;
        out->n++;
    }
}

int swarm_learn_record_encode(const struct swarm_learn_record *r, struct pl_buf *out)
{
    if (r->n > SWARM_LEARN_RECORD_MAX)
        return PL_ERANGE;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    pl_mp_map(&w, 3);
    pl_mp_str(&w, "index");
    pl_mp_uint(&w, r->index);
    pl_mp_str(&w, "term");
    pl_mp_uint(&w, r->term);
    pl_mp_str(&w, "sigs");
    pl_mp_array(&w, r->n);
    for (uint32_t i = 0; i < r->n; i++) {
        const struct swarm_learn_choice *c = &r->v[i];
        pl_mp_array(&w, 6);
        pl_mp_strn(&w, c->key.service, strnlen(c->key.service, sizeof(c->key.service)));
        pl_mp_uint(&w, c->key.cls);
        pl_mp_uint(&w, c->key.cause);
        pl_mp_uint(&w, c->key.signal);
        pl_mp_uint(&w, c->key.feature);
        pl_mp_uint(&w, c->action);
    }
    return w.err != 0 ? PL_ERANGE : 0;
}

static int u8(const msgpack_object *o, uint8_t *out)
{
    uint64_t v;
    if (pl_mp_as_u64(o, &v) != 0 || v > UINT8_MAX)
        return PL_EMALFORMED;
    *out = (uint8_t)v;
    return 0;
}

static int choice(const msgpack_object *t, struct swarm_learn_choice *c)
{
    if (t->type != MSGPACK_OBJECT_ARRAY || t->via.array.size != 6)
        return PL_EMALFORMED;
    const msgpack_object *f = t->via.array.ptr;
    if (pl_mp_as_cstr(&f[0], c->key.service, sizeof(c->key.service)) != 0 ||
        c->key.service[0] == '\0' || u8(&f[1], &c->key.cls) != 0 ||
        u8(&f[2], &c->key.cause) != 0 || u8(&f[3], &c->key.signal) != 0 ||
        u8(&f[4], &c->key.feature) != 0 || u8(&f[5], &c->action) != 0 || c->action == 0 ||
        c->action >= SWARM_LEARN_ARMS)
        return PL_EMALFORMED;
    return 0;
}

static int decode(const msgpack_object *m, void *rec)
{
    struct swarm_learn_record *r = rec;
    const msgpack_object *sigs = pl_mp_get(m, "sigs");
    if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size != 3 ||
        pl_mp_get_u64(m, "index", &r->index) != 0 || pl_mp_get_u64(m, "term", &r->term) != 0 ||
        sigs == NULL || sigs->type != MSGPACK_OBJECT_ARRAY ||
        sigs->via.array.size > SWARM_LEARN_RECORD_MAX)
        return PL_EMALFORMED;
    r->n = sigs->via.array.size;
    for (uint32_t i = 0; i < r->n; i++) {
        if (choice(&sigs->via.array.ptr[i], &r->v[i]) != 0)
            return PL_EMALFORMED;
        for (uint32_t k = 0; k < i; k++)
            if (swarm_learn_key_eq(&r->v[k].key, &r->v[i].key))
                return PL_EMALFORMED;
    }
    return 0;
}

static int encode(const void *r, struct pl_buf *out) { return swarm_learn_record_encode(r, out); }

int swarm_learn_record_decode(const uint8_t *p, size_t n, struct swarm_learn_record *out)
{
    if (n > SWARM_LEARN_RECORD_BYTES_MAX)
        return PL_ETOOBIG;
    return pl_mp_decode_canonical(p, n, sizeof(*out), decode, encode, out);
}

bool swarm_learn_record_newer(const struct swarm_learn_record *a,
                              const struct swarm_learn_record *b)
{
    return a->index > b->index || (a->index == b->index && a->term > b->term);
}
