/*
 * The Raft wire codec of raft_wire.h: msgpack arrays with a fixed five-field header and
 * positional bodies. The decoder never trusts a count or a length it has not checked
 * against the bytes actually present and against our limits.
 */
#include "raft_wire.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_mp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Body field counts, indexed by message type; the header adds 5. */
static const uint32_t body_fields[RAFT_MSG_TYPE_MAX + 1] = {
    [RAFT_MSG_VOTE] = 4,     [RAFT_MSG_VOTE_RESULT] = 2,     [RAFT_MSG_APPEND] = 5,
    [RAFT_MSG_APPEND_RESULT] = 6, [RAFT_MSG_SNAPSHOT] = 7,   [RAFT_MSG_SNAPSHOT_RESULT] = 3,
    [RAFT_MSG_TIMEOUT_NOW] = 0, [RAFT_MSG_PROPOSE] = 2,      [RAFT_MSG_PROPOSE_RESULT] = 4,
};
#define HEADER_FIELDS 5
static_assert(RAFT_SERVERS_MAX <= 16, "configuration arrays stay small");

static void config_write(struct pl_mp_writer *w, const struct raft_config *c)
{
    pl_mp_array(w, c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        pl_mp_array(w, 2);
        pl_mp_uint(w, c->servers[i].id);
        pl_mp_uint(w, c->servers[i].role);
    }
}

int raft_config_encode(const struct raft_config *c, struct pl_buf *out)
{
    if (c->n > RAFT_SERVERS_MAX)
        return PL_ERANGE;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    config_write(&w, c);
    return w.err;
}

static int config_read(const msgpack_object *o, struct raft_config *out)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > RAFT_SERVERS_MAX)
        return PL_EMALFORMED;
    struct raft_config c;
    memset(&c, 0, sizeof(c));
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *s = &o->via.array.ptr[i];
        uint64_t id, role;
        if (s->type != MSGPACK_OBJECT_ARRAY || s->via.array.size != 2)
            return PL_EMALFORMED;
        if (pl_mp_as_u64(&s->via.array.ptr[0], &id) || pl_mp_as_u64(&s->via.array.ptr[1], &role))
            return PL_EMALFORMED;
        if (id == 0 || (role != RAFT_VOTER && role != RAFT_LEARNER))
            return PL_EMALFORMED;
        for (uint32_t j = 0; j < c.n; j++)
            if (c.servers[j].id == id)
                return PL_EMALFORMED;
        c.servers[c.n].id = id;
        c.servers[c.n].role = (uint8_t)role;
        c.n++;
    }
    *out = c;
    return 0;
}

int raft_config_decode(const uint8_t *p, size_t n, struct raft_config *out)
{
    msgpack_unpacked up;
    int rc = pl_mp_parse(p, n, &up);
    if (rc != 0)
        return rc;
    rc = config_read(&up.data, out);
    msgpack_unpacked_destroy(&up);
    return rc;
}

int raft_wire_encode(const struct raft_msg *m, struct pl_buf *out)
{
    if (m->type < 1 || m->type > RAFT_MSG_TYPE_MAX)
        return PL_EMALFORMED;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    pl_mp_array(&w, HEADER_FIELDS + body_fields[m->type]);
    pl_mp_uint(&w, RAFT_WIRE_VERSION);
    pl_mp_uint(&w, m->type);
    pl_mp_uint(&w, m->from);
    pl_mp_uint(&w, m->to);
    pl_mp_uint(&w, m->term);
    switch (m->type) {
    case RAFT_MSG_VOTE:
        pl_mp_uint(&w, m->vote.last_index);
        pl_mp_uint(&w, m->vote.last_term);
        pl_mp_bool(&w, m->vote.pre_vote);
        pl_mp_bool(&w, m->vote.transfer);
        break;
    case RAFT_MSG_VOTE_RESULT:
        pl_mp_bool(&w, m->vote_result.granted);
        pl_mp_bool(&w, m->vote_result.pre_vote);
        break;
    case RAFT_MSG_APPEND:
        pl_mp_uint(&w, m->append.prev_index);
        pl_mp_uint(&w, m->append.prev_term);
        pl_mp_uint(&w, m->append.commit);
        pl_mp_array(&w, m->append.n_entries);
        for (uint32_t i = 0; i < m->append.n_entries; i++) {
            const struct raft_entry *e = &m->append.entries[i];
            pl_mp_array(&w, 3);
            pl_mp_uint(&w, e->term);
            pl_mp_uint(&w, e->type);
            pl_mp_bin(&w, e->data, e->len);
        }
        pl_mp_uint(&w, m->append.lease_age_ms);
        break;
    case RAFT_MSG_APPEND_RESULT:
        pl_mp_bool(&w, m->append_result.success);
        pl_mp_uint(&w, m->append_result.match_index);
        pl_mp_uint(&w, m->append_result.last_index);
        pl_mp_uint(&w, m->append_result.reject_index);
        pl_mp_uint(&w, m->append_result.conflict_term);
        pl_mp_uint(&w, m->append_result.conflict_index);
        break;
    case RAFT_MSG_SNAPSHOT: {
        pl_mp_uint(&w, m->snapshot.snap_index);
        pl_mp_uint(&w, m->snapshot.snap_term);
        /* The configuration travels as a nested msgpack value, not as bytes. */
        config_write(&w, &m->snapshot.config);
        pl_mp_bin(&w, m->snapshot.meta, m->snapshot.meta_len);
        pl_mp_uint(&w, m->snapshot.body_len);
        pl_mp_uint(&w, m->snapshot.offset);
        pl_mp_bin(&w, m->snapshot.data, m->snapshot.len);
        break;
    }
    case RAFT_MSG_SNAPSHOT_RESULT:
        pl_mp_uint(&w, m->snapshot_result.snap_index);
        pl_mp_uint(&w, m->snapshot_result.offset);
        pl_mp_bool(&w, m->snapshot_result.done);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break;
    case RAFT_MSG_PROPOSE:
        pl_mp_uint(&w, m->propose.id);
        pl_mp_bin(&w, m->propose.data, m->propose.len);
        break;
    case RAFT_MSG_PROPOSE_RESULT:
        pl_mp_uint(&w, m->propose_result.id);
        pl_mp_int(&w, m->propose_result.err);
        pl_mp_uint(&w, m->propose_result.index);
        pl_mp_uint(&w, m->propose_result.term);
        break;
    }
    return w.err;
}

static int get_bool(const msgpack_object *o, bool *out) { return pl_mp_as_bool(o, out); }
static int get_u64(const msgpack_object *o, uint64_t *out) { return pl_mp_as_u64(o, out); }

static int get_bin32(const msgpack_object *o, const uint8_t **p, uint32_t *n)
{
    size_t len;
    int rc = pl_mp_as_bin(o, p, &len);
    if (rc != 0)
        return rc;
    if (len > UINT32_MAX)
        return PL_ETOOBIG;
    *n = (uint32_t)len;
    return 0;
}

static int decode_append(const msgpack_object *f, struct raft_wire_msg *out)
{
    struct raft_msg *m = &out->msg;
    if (get_u64(&f[0], &m->append.prev_index) || get_u64(&f[1], &m->append.prev_term) ||
        get_u64(&f[2], &m->append.commit))
        return PL_EMALFORMED;
    const msgpack_object *arr = &f[3];
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return PL_EMALFORMED;
    uint32_t n = arr->via.array.size;
    if (n > RAFT_WIRE_ENTRIES_MAX)
        return PL_ETOOBIG;
    /* An index past 2^63 would overflow prev_index + n and is nonsense anyway. */
    if (m->append.prev_index > (UINT64_MAX >> 1))
        return PL_EMALFORMED;
    if (n > 0) {
        out->entries = calloc(n, sizeof(*out->entries));
        if (out->entries == NULL)
            return -ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *e = &arr->via.array.ptr[i];
        struct raft_entry *d = &out->entries[i];
        uint64_t type;
        const uint8_t *data;
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3)
            return PL_EMALFORMED;
        if (get_u64(&e->via.array.ptr[0], &d->term) || get_u64(&e->via.array.ptr[1], &type) ||
            get_bin32(&e->via.array.ptr[2], &data, &d->len))
            return PL_EMALFORMED;
        if (type < RAFT_ENTRY_NORMAL || type > RAFT_ENTRY_CONFIG)
            return PL_EMALFORMED;
        d->type = (uint8_t)type;
        d->index = m->append.prev_index + 1 + i;
        d->data = (uint8_t *)data; /* points into the unpacked zone; read-only */
    }
    m->append.n_entries = n;
    m->append.entries = out->entries;
    return get_u64(&f[4], &m->append.lease_age_ms) ? PL_EMALFORMED : 0;
}

static int decode_body(const msgpack_object *f, struct raft_wire_msg *out)
{
    struct raft_msg *m = &out->msg;
    int64_t err;
    switch (m->type) {
    case RAFT_MSG_VOTE:
        if (get_u64(&f[0], &m->vote.last_index) || get_u64(&f[1], &m->vote.last_term) ||
            get_bool(&f[2], &m->vote.pre_vote) || get_bool(&f[3], &m->vote.transfer))
            return PL_EMALFORMED;
        return 0;
    case RAFT_MSG_VOTE_RESULT:
        if (get_bool(&f[0], &m->vote_result.granted) || get_bool(&f[1], &m->vote_result.pre_vote))
            return PL_EMALFORMED;
        return 0;
    case RAFT_MSG_APPEND:
        return decode_append(f, out);
    case RAFT_MSG_APPEND_RESULT:
        if (get_bool(&f[0], &m->append_result.success) ||
            get_u64(&f[1], &m->append_result.match_index) ||
            get_u64(&f[2], &m->append_result.last_index) ||
            get_u64(&f[3], &m->append_result.reject_index) ||
            get_u64(&f[4], &m->append_result.conflict_term) ||
            get_u64(&f[5], &m->append_result.conflict_index))
            return PL_EMALFORMED;
        return 0;
    case RAFT_MSG_SNAPSHOT:
        if (get_u64(&f[0], &m->snapshot.snap_index) || get_u64(&f[1], &m->snapshot.snap_term) ||
            config_read(&f[2], &m->snapshot.config) ||
            get_bin32(&f[3], &m->snapshot.meta, &m->snapshot.meta_len) ||
            get_u64(&f[4], &m->snapshot.body_len) || get_u64(&f[5], &m->snapshot.offset) ||
            get_bin32(&f[6], &m->snapshot.data, &m->snapshot.len))
            return PL_EMALFORMED;
        /* The chunk starts inside the announced body. Its positions are the caller's units
         * (not bytes), so its length is the caller's to check. */
        if (m->snapshot.offset > m->snapshot.body_len)
            return PL_EMALFORMED;
        return 0;
    case RAFT_MSG_SNAPSHOT_RESULT:
        if (get_u64(&f[0], &m->snapshot_result.snap_index) ||
            get_u64(&f[1], &m->snapshot_result.offset) ||
            get_bool(&f[2], &m->snapshot_result.done))
            return PL_EMALFORMED;
        return 0;
    case RAFT_MSG_TIMEOUT_NOW:
        return 0;
    case RAFT_MSG_PROPOSE:
        if (get_u64(&f[0], &m->propose.id) ||
            get_bin32(&f[1], &m->propose.data, &m->propose.len))
            return PL_EMALFORMED;
        return 0;
    case RAFT_MSG_PROPOSE_RESULT:
        if (get_u64(&f[0], &m->propose_result.id) || pl_mp_as_i64(&f[1], &err) ||
            get_u64(&f[2], &m->propose_result.index) || get_u64(&f[3], &m->propose_result.term))
            return PL_EMALFORMED;
        if (err > 0 || err < INT32_MIN)
            return PL_EMALFORMED;
        m->propose_result.err = (int32_t)err;
        return 0;
    }
    return PL_EMALFORMED;
}

int raft_wire_decode(const uint8_t *p, size_t n, struct raft_wire_msg *out)
{
    memset(out, 0, sizeof(*out));
    msgpack_unpacked_init(&out->up);
    out->open = true;
    if (n > RAFT_WIRE_MSG_BYTES_MAX)
        return PL_ETOOBIG;
    /* pl_mp_parse refuses containers that claim more elements than bytes remain, so no
     * message makes msgpack-c allocate more than its own size allows. */
    msgpack_unpacked_destroy(&out->up);
    int rc = pl_mp_parse(p, n, &out->up);
    if (rc != 0)
        return rc;
    const msgpack_object *o = &out->up.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < HEADER_FIELDS)
        return PL_EMALFORMED;
    const msgpack_object *f = o->via.array.ptr;
    uint64_t version, type;
    if (get_u64(&f[0], &version))
        return PL_EMALFORMED;
    if (version != RAFT_WIRE_VERSION)
        return PL_EVERSION;
    if (get_u64(&f[1], &type) || type < 1 || type > RAFT_MSG_TYPE_MAX)
        return PL_EMALFORMED;
    if (o->via.array.size != HEADER_FIELDS + body_fields[type])
        return PL_EMALFORMED;
    struct raft_msg *m = &out->msg;
    m->type = (uint8_t)type;
    if (get_u64(&f[2], &m->from) || get_u64(&f[3], &m->to) || get_u64(&f[4], &m->term))
        return PL_EMALFORMED;
    if (m->from == 0)
        return PL_EMALFORMED;
    return decode_body(&f[HEADER_FIELDS], out);
}

void raft_wire_msg_close(struct raft_wire_msg *w)
{
    if (!w->open)
        return;
    msgpack_unpacked_destroy(&w->up);
    free(w->entries);
    w->entries = NULL;
    w->open = false;
}

int raft_wire_receive(const uint8_t *p, size_t n, uint64_t self,
                      bool (*known_cb)(void *ctx, uint64_t id), void *ctx,
                      struct raft_wire_msg *out, struct raft_wire_stats *stats)
{
    int rc = raft_wire_decode(p, n, out);
    if (rc == PL_EVERSION) {
        stats->version++;
        return rc;
    }
    if (rc != 0) {
        stats->malformed++;
        return rc;
    }
    if (out->msg.to != self || (known_cb != NULL && !known_cb(ctx, out->msg.from))) {
        stats->unknown_node++;
        return PL_ECLUSTER;
    }
    return 0;
}

static bool config_equal(const struct raft_config *a, const struct raft_config *b)
{
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (a->servers[i].id != b->servers[i].id || a->servers[i].role != b->servers[i].role)
            return false;
    return true;
}

static bool bytes_equal(const void *a, size_t an, const void *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

bool raft_msg_equal(const struct raft_msg *a, const struct raft_msg *b)
{
    if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term)
        return false;
    switch (a->type) {
    case RAFT_MSG_VOTE:
        return a->vote.last_index == b->vote.last_index &&
               a->vote.last_term == b->vote.last_term && a->vote.pre_vote == b->vote.pre_vote &&
               a->vote.transfer == b->vote.transfer;
    case RAFT_MSG_VOTE_RESULT:
        return a->vote_result.granted == b->vote_result.granted &&
               a->vote_result.pre_vote == b->vote_result.pre_vote;
    case RAFT_MSG_APPEND:
        if (a->append.prev_index != b->append.prev_index ||
            a->append.prev_term != b->append.prev_term || a->append.commit != b->append.commit ||
            a->append.n_entries != b->append.n_entries ||
            a->append.lease_age_ms != b->append.lease_age_ms)
            return false;
        for (uint32_t i = 0; i < a->append.n_entries; i++) {
            const struct raft_entry *x = &a->append.entries[i], *y = &b->append.entries[i];
            if (x->term != y->term || x->type != y->type ||
                !bytes_equal(x->data, x->len, y->data, y->len))
                return false;
        }
        return true;
    case RAFT_MSG_APPEND_RESULT:
        return (a->append_result.success == b->append_result.success &&
                a->append_result.match_index == b->append_result.match_index &&
                a->append_result.last_index == b->append_result.last_index &&
                a->append_result.reject_index == b->append_result.reject_index &&
                a->append_result.conflict_term == b->append_result.conflict_term &&
                a->append_result.conflict_index == b->append_result.conflict_index);
    case RAFT_MSG_SNAPSHOT:
        return a->snapshot.snap_index == b->snapshot.snap_index &&
               a->snapshot.snap_term == b->snapshot.snap_term &&
               config_equal(&a->snapshot.config, &b->snapshot.config) &&
               bytes_equal(a->snapshot.meta, a->snapshot.meta_len, b->snapshot.meta,
                           b->snapshot.meta_len) &&
               a->snapshot.body_len == b->snapshot.body_len &&
               a->snapshot.offset == b->snapshot.offset &&
               bytes_equal(a->snapshot.data, a->snapshot.len, b->snapshot.data, b->snapshot.len);
    case RAFT_MSG_SNAPSHOT_RESULT:
        return a->snapshot_result.snap_index == b->snapshot_result.snap_index &&
               a->snapshot_result.offset == b->snapshot_result.offset &&
               a->snapshot_result.done == b->snapshot_result.done;
    case RAFT_MSG_TIMEOUT_NOW:
        return true;
    case RAFT_MSG_PROPOSE:
        return a->propose.id == b->propose.id &&
               bytes_equal(a->propose.data, a->propose.len, b->propose.data, b->propose.len);
    case RAFT_MSG_PROPOSE_RESULT:
        return a->propose_result.id == b->propose_result.id &&
               a->propose_result.err == b->propose_result.err &&
               a->propose_result.index == b->propose_result.index &&
               a->propose_result.term == b->propose_result.term;
    }
    return false;
}
