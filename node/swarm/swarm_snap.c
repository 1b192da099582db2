/*
 * Swarm state snapshots (swarm_snap.h): a table per struct, one generic encoder and one
 * strict decoder walking the tables. A new state field is one line in its struct's table.
 */
#include "swarm_snap.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_mp.h"

#include <sodium.h>
#include <string.h>

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))
#define FSIZE(T, f) sizeof(((T *)0)->f)
#define FCOUNT(T, f) (sizeof(((T *)0)->f) / sizeof(((T *)0)->f[0]))

#define S_STR(T, f) {#f, SWARM_SNAP_STR, offsetof(T, f), FSIZE(T, f), 0, 0, NULL, 0}
#define S_NUM(T, f, type) {#f, type, offsetof(T, f), FSIZE(T, f), 0, 0, NULL, 0}
#define S_ENUM(T, f, bound) {#f, SWARM_SNAP_ENUM, offsetof(T, f), FSIZE(T, f), (bound), 0, NULL, 0}
#define S_BIN(T, f) {#f, SWARM_SNAP_BIN, offsetof(T, f), FSIZE(T, f), 0, 0, NULL, 0}
#define S_DERIVED(T, f) {#f, SWARM_SNAP_DERIVED, offsetof(T, f), FSIZE(T, f), 0, 0, NULL, 0}
#define S_COUNT(T, f) {#f, SWARM_SNAP_COUNT, offsetof(T, f), FSIZE(T, f), 0, 0, NULL, 0}
#define S_STRUCT(T, f, tab) {#f, SWARM_SNAP_STRUCT, offsetof(T, f), FSIZE(T, f), 0, 0, &(tab), 0}
/* An array of structs counted by the uint32_t field `count`. */
#define S_ARRAY(T, f, count, tab)                                                              \
    {#f, SWARM_SNAP_ARRAY, offsetof(T, f), sizeof(((T *)0)->f[0]), FCOUNT(T, f),               \
     offsetof(T, count), &(tab), 0}
/* An array of numbers or strings counted by the uint32_t field `count`. */
#define S_ARRAY_OF(T, f, count, type)                                                          \
    {#f, SWARM_SNAP_ARRAY, offsetof(T, f), sizeof(((T *)0)->f[0]), FCOUNT(T, f),               \
     offsetof(T, count), NULL, (type)}
/* A fixed array of numbers, every element used (a posterior per action, say). */
#define S_VEC(T, f, type)                                                                      \
    {#f, SWARM_SNAP_ARRAY, offsetof(T, f), sizeof(((T *)0)->f[0]), FCOUNT(T, f),               \
     SWARM_SNAP_ALL, NULL, (type)}
#define S_TABLE(name, T, fields)                                                               \
    static const struct swarm_snap_struct name = {#T, sizeof(T), _Alignof(T), fields,          \
                                                  NFIELDS(fields)}

/* ---- the tables: one line per field of the state ---- */

static const struct swarm_snap_field member_fields[] = {
    S_STR(struct swarm_member, name),
    S_ENUM(struct swarm_member, status, SWARM_MEMBER_STATUS_COUNT),
    S_NUM(struct swarm_member, incarnation, SWARM_SNAP_U64),
    S_NUM(struct swarm_member, since_index, SWARM_SNAP_U64),
    S_VEC(struct swarm_member, deaths, SWARM_SNAP_U64),
    S_NUM(struct swarm_member, ndeaths, SWARM_SNAP_U32),
    S_NUM(struct swarm_member, fenced_until_ms, SWARM_SNAP_U64),
};
S_TABLE(member_table, struct swarm_member, member_fields);

static const struct swarm_snap_field incident_fields[] = {
    S_STR(struct swarm_incident, node),
    S_STR(struct swarm_incident, id),
    S_STR(struct swarm_incident, service),
    S_NUM(struct swarm_incident, last_seq, SWARM_SNAP_U32),
    S_NUM(struct swarm_incident, closed, SWARM_SNAP_BOOL),
    S_STR(struct swarm_incident, outcome),
    S_NUM(struct swarm_incident, level, SWARM_SNAP_U8),
    S_NUM(struct swarm_incident, cls, SWARM_SNAP_U8),
    S_NUM(struct swarm_incident, cause, SWARM_SNAP_U8),
    S_NUM(struct swarm_incident, signal, SWARM_SNAP_U8),
    S_NUM(struct swarm_incident, actions, SWARM_SNAP_U32),
    S_NUM(struct swarm_incident, opened_ms, SWARM_SNAP_U64),
    S_NUM(struct swarm_incident, closed_ms, SWARM_SNAP_U64),
    S_NUM(struct swarm_incident, first_index, SWARM_SNAP_U64),
    S_NUM(struct swarm_incident, last_index, SWARM_SNAP_U64),
    S_NUM(struct swarm_incident, learnable, SWARM_SNAP_BOOL),
    S_NUM(struct swarm_incident, learn_cls, SWARM_SNAP_U8),
    S_NUM(struct swarm_incident, learn_cause, SWARM_SNAP_U8),
    S_NUM(struct swarm_incident, learn_signal, SWARM_SNAP_U8),
    S_NUM(struct swarm_incident, learn_feature, SWARM_SNAP_U8),
    S_COUNT(struct swarm_incident, nacts),
    S_ARRAY_OF(struct swarm_incident, acts, nacts, SWARM_SNAP_U8),
};
S_TABLE(incident_table, struct swarm_incident, incident_fields);

static const struct swarm_snap_field placement_fields[] = {
    S_STR(struct swarm_placement, service),
    S_STR(struct swarm_placement, node),
    S_STR(struct swarm_placement, prev),
    S_NUM(struct swarm_placement, index, SWARM_SNAP_U64),
    S_NUM(struct swarm_placement, term, SWARM_SNAP_U64),
    S_NUM(struct swarm_placement, moves, SWARM_SNAP_U32),
};
S_TABLE(placement_table, struct swarm_placement, placement_fields);

static const struct swarm_snap_field decision_fields[] = {
    S_NUM(struct swarm_decision, index, SWARM_SNAP_U64),
    S_NUM(struct swarm_decision, term, SWARM_SNAP_U64),
    S_NUM(struct swarm_decision, time_ms, SWARM_SNAP_U64),
    S_STR(struct swarm_decision, node),
    S_STR(struct swarm_decision, service),
    S_NUM(struct swarm_decision, action, SWARM_SNAP_U8),
    S_STR(struct swarm_decision, incident),
    S_ENUM(struct swarm_decision, state, SWARM_DECISION_STATE_COUNT),
    S_NUM(struct swarm_decision, result, SWARM_SNAP_I32),
    S_NUM(struct swarm_decision, result_index, SWARM_SNAP_U64),
    S_NUM(struct swarm_decision, rollout, SWARM_SNAP_U64),
};
S_TABLE(decision_table, struct swarm_decision, decision_fields);

/* Three arrays share one count (nnodes): decode sets it from each, and a snapshot whose
 * arrays disagree does not re-encode to itself, so it is refused. */
static const struct swarm_snap_field rollout_fields[] = {
    S_NUM(struct swarm_rollout, index, SWARM_SNAP_U64),
    S_NUM(struct swarm_rollout, term, SWARM_SNAP_U64),
    S_NUM(struct swarm_rollout, time_ms, SWARM_SNAP_U64),
    S_STR(struct swarm_rollout, service),
    S_NUM(struct swarm_rollout, op, SWARM_SNAP_U8),
    S_NUM(struct swarm_rollout, max_unavailable, SWARM_SNAP_U32),
    S_STR(struct swarm_rollout, by),
    S_ENUM(struct swarm_rollout, state, SWARM_ROLLOUT_STATE_COUNT),
    S_COUNT(struct swarm_rollout, nnodes),
    S_ARRAY_OF(struct swarm_rollout, nodes, nnodes, SWARM_SNAP_STR),
    S_ARRAY_OF(struct swarm_rollout, step, nnodes, SWARM_SNAP_U8),
    S_ARRAY_OF(struct swarm_rollout, decision, nnodes, SWARM_SNAP_U64),
};
S_TABLE(rollout_table, struct swarm_rollout, rollout_fields);

static const struct swarm_snap_field cluster_fields[] = {
    S_STR(struct swarm_cluster, id),
    S_STR(struct swarm_cluster, sig),
    S_STR(struct swarm_cluster, service),
    S_NUM(struct swarm_cluster, cause, SWARM_SNAP_U8),
    S_NUM(struct swarm_cluster, closed, SWARM_SNAP_BOOL),
    S_NUM(struct swarm_cluster, escalated, SWARM_SNAP_BOOL),
    S_NUM(struct swarm_cluster, nodes, SWARM_SNAP_U32),
    S_NUM(struct swarm_cluster, members, SWARM_SNAP_U32),
    S_NUM(struct swarm_cluster, nodes_max, SWARM_SNAP_U32),
    S_NUM(struct swarm_cluster, opened_index, SWARM_SNAP_U64),
    S_NUM(struct swarm_cluster, closed_index, SWARM_SNAP_U64),
    S_NUM(struct swarm_cluster, opened_ms, SWARM_SNAP_U64),
    S_NUM(struct swarm_cluster, closed_ms, SWARM_SNAP_U64),
};
S_TABLE(cluster_table, struct swarm_cluster, cluster_fields);

static const struct swarm_snap_field council_fields[] = {
    S_NUM(struct swarm_council_change, index, SWARM_SNAP_U64),
    S_NUM(struct swarm_council_change, time_ms, SWARM_SNAP_U64),
    S_ENUM(struct swarm_council_change, op, SWARM_COUNCIL_OP_COUNT),
    S_STR(struct swarm_council_change, node),
    S_NUM(struct swarm_council_change, voters, SWARM_SNAP_U32),
};
S_TABLE(council_table, struct swarm_council_change, council_fields);

/* What the swarm learns (swarm_learn.h). */
static const struct swarm_snap_field learn_key_fields[] = {
    S_STR(struct swarm_learn_key, service),
    S_NUM(struct swarm_learn_key, cls, SWARM_SNAP_U8),
    S_NUM(struct swarm_learn_key, cause, SWARM_SNAP_U8),
    S_NUM(struct swarm_learn_key, signal, SWARM_SNAP_U8),
    S_NUM(struct swarm_learn_key, feature, SWARM_SNAP_U8),
};
S_TABLE(learn_key_table, struct swarm_learn_key, learn_key_fields);

static const struct swarm_snap_field learn_arm_fields[] = {
    S_NUM(struct swarm_learn_arm, alpha, SWARM_SNAP_U32),
    S_NUM(struct swarm_learn_arm, beta, SWARM_SNAP_U32),
    S_NUM(struct swarm_learn_arm, successes, SWARM_SNAP_U32),
    S_NUM(struct swarm_learn_arm, failures, SWARM_SNAP_U32),
    S_NUM(struct swarm_learn_arm, drawn, SWARM_SNAP_U32),
};
S_TABLE(learn_arm_table, struct swarm_learn_arm, learn_arm_fields);

/* A fixed array of structs, every element used. */
#define S_VEC_OF(T, f, tab)                                                                    \
    {#f, SWARM_SNAP_ARRAY, offsetof(T, f), sizeof(((T *)0)->f[0]), FCOUNT(T, f),               \
     SWARM_SNAP_ALL, &(tab), 0}

static const struct swarm_snap_field learn_sig_fields[] = {
    S_STRUCT(struct swarm_learn_sig, key, learn_key_table),
    S_NUM(struct swarm_learn_sig, candidates, SWARM_SNAP_U16),
    S_NUM(struct swarm_learn_sig, rules_first, SWARM_SNAP_U8),
    S_NUM(struct swarm_learn_sig, choice, SWARM_SNAP_U8),
    S_NUM(struct swarm_learn_sig, explored, SWARM_SNAP_BOOL),
    S_NUM(struct swarm_learn_sig, choice_index, SWARM_SNAP_U64),
    S_NUM(struct swarm_learn_sig, choice_term, SWARM_SNAP_U64),
    S_NUM(struct swarm_learn_sig, updated_index, SWARM_SNAP_U64),
    S_NUM(struct swarm_learn_sig, outcomes, SWARM_SNAP_U32),
    S_VEC_OF(struct swarm_learn_sig, arms, learn_arm_table),
};
S_TABLE(learn_sig_table, struct swarm_learn_sig, learn_sig_fields);

static const struct swarm_snap_field learn_svc_fields[] = {
    S_STR(struct swarm_learn_svc, service),
    S_NUM(struct swarm_learn_svc, history, SWARM_SNAP_U32),
    S_NUM(struct swarm_learn_svc, choices, SWARM_SNAP_U32),
};
S_TABLE(learn_svc_table, struct swarm_learn_svc, learn_svc_fields);

static const struct swarm_snap_field learn_fields[] = {
    S_COUNT(struct swarm_learn, nsigs),
    S_COUNT(struct swarm_learn, nsvcs),
    S_NUM(struct swarm_learn, evicted, SWARM_SNAP_U64),
    S_ARRAY(struct swarm_learn, sigs, nsigs, learn_sig_table),
    S_ARRAY(struct swarm_learn, svcs, nsvcs, learn_svc_table),
};
S_TABLE(learn_table, struct swarm_learn, learn_fields);

static const struct swarm_snap_field counter_fields[] = {
    S_NUM(struct swarm_counters, applied, SWARM_SNAP_U64),
    S_NUM(struct swarm_counters, foreign, SWARM_SNAP_U64),
    S_NUM(struct swarm_counters, duplicates, SWARM_SNAP_U64),
    S_NUM(struct swarm_counters, rejected, SWARM_SNAP_U64),
    S_NUM(struct swarm_counters, evicted_incidents, SWARM_SNAP_U64),
    S_NUM(struct swarm_counters, evicted_decisions, SWARM_SNAP_U64),
};
S_TABLE(counter_table, struct swarm_counters, counter_fields);

static const struct swarm_snap_field state_fields[] = {
    S_NUM(struct swarm_state, applied_index, SWARM_SNAP_U64),
    S_NUM(struct swarm_state, applied_term, SWARM_SNAP_U64),
    S_NUM(struct swarm_state, max_term, SWARM_SNAP_U64),
    S_NUM(struct swarm_state, max_in_flight, SWARM_SNAP_U32),
    S_NUM(struct swarm_state, max_fleet_pct, SWARM_SNAP_U32),
    S_NUM(struct swarm_state, window_ms, SWARM_SNAP_U64),
    S_NUM(struct swarm_state, policy_index, SWARM_SNAP_U64),
    S_STRUCT(struct swarm_state, counters, counter_table),
    S_STR(struct swarm_state, last_rejection),
    S_BIN(struct swarm_state, hash),
    S_COUNT(struct swarm_state, nmembers),
    S_COUNT(struct swarm_state, nincidents),
    S_COUNT(struct swarm_state, nplacements),
    S_COUNT(struct swarm_state, ndecisions),
    S_COUNT(struct swarm_state, nrollouts),
    S_ARRAY(struct swarm_state, members, nmembers, member_table),
    S_ARRAY(struct swarm_state, incidents, nincidents, incident_table),
    S_ARRAY(struct swarm_state, placements, nplacements, placement_table),
    S_ARRAY(struct swarm_state, decisions, ndecisions, decision_table),
    S_ARRAY(struct swarm_state, rollouts, nrollouts, rollout_table),
    S_NUM(struct swarm_state, council_changes, SWARM_SNAP_U32),
    S_COUNT(struct swarm_state, nclusters),
    S_COUNT(struct swarm_state, ncouncil),
    S_ARRAY(struct swarm_state, clusters, nclusters, cluster_table),
    S_ARRAY(struct swarm_state, council, ncouncil, council_table),
    S_STRUCT(struct swarm_state, learn, learn_table),
    S_DERIVED(struct swarm_state, hc),
    S_DERIVED(struct swarm_state, iidx),
};
S_TABLE(state_table, struct swarm_state, state_fields);

const struct swarm_snap_struct *swarm_snap_state_table(void)
{
    return &state_table;
}

/* ---- schema ---- */

static void schema_struct(crypto_generichash_state *h, const struct swarm_snap_struct *t)
{
    crypto_generichash_update(h, (const uint8_t *)t->name, strlen(t->name) + 1);
    for (size_t i = 0; i < t->nfields; i++) {
        const struct swarm_snap_field *f = &t->fields[i];
        if (f->type == SWARM_SNAP_DERIVED)
            continue; /* not in the bytes: snapshots from before it stay readable */
        uint64_t v[5] = {f->type, f->size, f->n, f->count_off == SWARM_SNAP_ALL, f->elem_type};
        crypto_generichash_update(h, (const uint8_t *)f->key, strlen(f->key) + 1);
        crypto_generichash_update(h, (const uint8_t *)v, sizeof(v));
        if (f->elem != NULL)
            schema_struct(h, f->elem);
    }
}

void swarm_snap_schema(uint8_t out[SWARM_HASH_BYTES])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, SWARM_HASH_BYTES);
    crypto_generichash_update(&h, (const uint8_t *)SWARM_SNAP_MAGIC, sizeof(SWARM_SNAP_MAGIC));
    schema_struct(&h, &state_table);
    crypto_generichash_final(&h, out, SWARM_HASH_BYTES);
}

/* ---- encode ---- */

/* COUNT fields are written by their array; DERIVED ones not at all. */
static bool written(const struct swarm_snap_field *f)
{
    return f->type != SWARM_SNAP_COUNT && f->type != SWARM_SNAP_DERIVED;
}

size_t swarm_snap_type_bytes(enum swarm_snap_type t)
{
    switch (t) {
    case SWARM_SNAP_U64:
    case SWARM_SNAP_I64:
    case SWARM_SNAP_F64:
        return 8;
    case SWARM_SNAP_U32:
    case SWARM_SNAP_I32:
    case SWARM_SNAP_ENUM:
    case SWARM_SNAP_COUNT:
        return 4;
    case SWARM_SNAP_U16:
        return 2;
    case SWARM_SNAP_U8:
    case SWARM_SNAP_BOOL:
        return 1;
    default:
        return 0;
    }
}

static uint64_t load_u(const uint8_t *p, size_t size)
{
    uint64_t u64;
    uint32_t u32;
    uint16_t u16;
    switch (size) {
    case 8:
        memcpy(&u64, p, 8);
        return u64;
    case 4:
        memcpy(&u32, p, 4);
        return u32;
    case 2:
        memcpy(&u16, p, 2);
        return u16;
    default:
        return p[0];
    }
}

static void store_u(uint8_t *p, size_t size, uint64_t v)
{
    uint32_t u32 = (uint32_t)v;
    uint16_t u16 = (uint16_t)v;
    switch (size) {
    case 8:
        memcpy(p, &v, 8);
        break;
    case 4:
        memcpy(p, &u32, 4);
        break;
    case 2:
        memcpy(p, &u16, 2);
        break;
    default:
        p[0] = (uint8_t)v;
        break;
    }
}

static void encode_struct(struct pl_mp_writer *w, const struct swarm_snap_struct *t,
                          const uint8_t *base);

static void encode_value(struct pl_mp_writer *w, enum swarm_snap_type type, size_t size,
                         const uint8_t *p)
{
    int32_t i32;
    int64_t i64;
    double f64;
    bool b;
    switch (type) {
    case SWARM_SNAP_STR:
        pl_mp_strn(w, (const char *)p, strnlen((const char *)p, size - 1));
        break;
    case SWARM_SNAP_U64:
    case SWARM_SNAP_U32:
    case SWARM_SNAP_U16:
    case SWARM_SNAP_U8:
    case SWARM_SNAP_ENUM:
        pl_mp_uint(w, load_u(p, swarm_snap_type_bytes(type)));
        break;
    case SWARM_SNAP_I64:
        memcpy(&i64, p, 8);
        pl_mp_int(w, i64);
        break;
    case SWARM_SNAP_I32:
        memcpy(&i32, p, 4);
        pl_mp_int(w, i32);
        break;
    case SWARM_SNAP_F64:
        memcpy(&f64, p, 8);
        pl_mp_double(w, f64);
        break;
    case SWARM_SNAP_BOOL:
        memcpy(&b, p, 1);
        pl_mp_bool(w, b);
        break;
    case SWARM_SNAP_BIN:
        pl_mp_bin(w, p, size);
        break;
    default:
        /* COUNT, ARRAY and STRUCT are the caller's; anything else is a table bug. */
        PL_ASSERT(0);
    }
}

static void encode_field(struct pl_mp_writer *w, const struct swarm_snap_field *f,
                         const uint8_t *base)
{
    const uint8_t *p = base + f->off;
    if (f->type == SWARM_SNAP_STRUCT) {
        encode_struct(w, f->elem, p);
    } else if (f->type == SWARM_SNAP_ARRAY) {
        size_t n = f->count_off == SWARM_SNAP_ALL ? f->n : load_u(base + f->count_off, 4);
        if (n > f->n) {
            /* A count past its array is a state no apply produces: refuse to write it. */
            w->err = w->err ? w->err : PL_ERANGE;
            return;
        }
        pl_mp_array(w, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
            if (f->elem != NULL)
                encode_struct(w, f->elem, p + i * f->size);
            else
                encode_value(w, f->elem_type, f->size, p + i * f->size);
        }
    } else {
        encode_value(w, f->type, f->size, p);
    }
}

static uint32_t encoded_fields(const struct swarm_snap_struct *t)
{
    uint32_t n = 0;
    for (size_t i = 0; i < t->nfields; i++)
        n += written(&t->fields[i]);
    return n;
}

static void encode_struct(struct pl_mp_writer *w, const struct swarm_snap_struct *t,
                          const uint8_t *base)
{
    pl_mp_array(w, encoded_fields(t));
    for (size_t i = 0; i < t->nfields; i++)
        if (written(&t->fields[i]))
            encode_field(w, &t->fields[i], base);
}

int swarm_snap_encode(const struct swarm_state *s, struct pl_buf *out)
{
    /* The hash written must be the items' (swarm_state_hash_sync after deferred applies). */
    PL_ASSERT(!s->hc.stale);
    uint8_t schema[SWARM_HASH_BYTES];
    swarm_snap_schema(schema);
    size_t before = out->len;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    pl_mp_array(&w, 3);
    pl_mp_str(&w, SWARM_SNAP_MAGIC);
    pl_mp_bin(&w, schema, sizeof(schema));
    encode_struct(&w, &state_table, (const uint8_t *)s);
    if (w.err == 0 && out->len - before > SWARM_SNAP_BYTES_MAX)
        w.err = PL_ETOOBIG;
    if (w.err != 0)
        out->len = before;
    return w.err;
}

/* ---- decode ---- */

static int decode_struct(const msgpack_object *o, const struct swarm_snap_struct *t,
                         uint8_t *base);

static int decode_value(const msgpack_object *o, enum swarm_snap_type type, size_t size,
                        size_t bound, uint8_t *p)
{
    uint64_t u;
    int64_t i;
    double d;
    bool b;
    const char *s;
    const uint8_t *bin;
    size_t n;
    switch (type) {
    case SWARM_SNAP_STR:
        if (pl_mp_as_str(o, &s, &n) != 0 || n >= size || (n > 0 && memchr(s, '\0', n) != NULL))
            return PL_EMALFORMED;
        if (n > 0)
            memcpy(p, s, n);
        p[n] = '\0';
        return 0;
    case SWARM_SNAP_U64:
    case SWARM_SNAP_U32:
    case SWARM_SNAP_U16:
    case SWARM_SNAP_U8:
    case SWARM_SNAP_ENUM:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || pl_mp_as_u64(o, &u) != 0)
            return PL_EMALFORMED;
        if (swarm_snap_type_bytes(type) < 8 && u >> (8 * swarm_snap_type_bytes(type)) != 0)
            return PL_EMALFORMED;
        if (type == SWARM_SNAP_ENUM && u >= bound)
            return PL_EMALFORMED;
        store_u(p, swarm_snap_type_bytes(type), u);
        return 0;
    case SWARM_SNAP_I64:
    case SWARM_SNAP_I32:
        if (pl_mp_as_i64(o, &i) != 0)
            return PL_EMALFORMED;
        if (type == SWARM_SNAP_I32) {
            if (i < INT32_MIN || i > INT32_MAX)
                return PL_EMALFORMED;
            int32_t v = (int32_t)i;
            memcpy(p, &v, 4);
        } else {
            memcpy(p, &i, 8);
        }
        return 0;
    case SWARM_SNAP_F64:
        if (o->type != MSGPACK_OBJECT_FLOAT64 || pl_mp_as_f64(o, &d) != 0)
            return PL_EMALFORMED;
        memcpy(p, &d, 8);
        return 0;
    case SWARM_SNAP_BOOL:
        if (pl_mp_as_bool(o, &b) != 0)
            return PL_EMALFORMED;
        memcpy(p, &b, 1);
        return 0;
    case SWARM_SNAP_BIN:
        if (pl_mp_as_bin(o, &bin, &n) != 0 || n != size)
            return PL_EMALFORMED;
        memcpy(p, bin, n);
        return 0;
    default:
        return PL_EMALFORMED;
    }
}

static int decode_field(const msgpack_object *o, const struct swarm_snap_field *f,
                        uint8_t *base)
{
    uint8_t *p = base + f->off;
    if (f->type == SWARM_SNAP_STRUCT)
        return decode_struct(o, f->elem, p);
    if (f->type != SWARM_SNAP_ARRAY)
        return decode_value(o, f->type, f->size, f->n, p);
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > f->n ||
        (f->count_off == SWARM_SNAP_ALL && o->via.array.size != f->n))
        return PL_EMALFORMED;
    uint32_t n = o->via.array.size;
    if (f->count_off != SWARM_SNAP_ALL)
        store_u(base + f->count_off, 4, n);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *x = &o->via.array.ptr[i];
        int rc = f->elem != NULL ? decode_struct(x, f->elem, p + i * f->size)
                                 : decode_value(x, f->elem_type, f->size, 0, p + i * f->size);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int decode_struct(const msgpack_object *o, const struct swarm_snap_struct *t,
                         uint8_t *base)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != encoded_fields(t))
        return PL_EMALFORMED;
    uint32_t k = 0;
    for (size_t i = 0; i < t->nfields; i++) {
        if (!written(&t->fields[i]))
            continue;
        int rc = decode_field(&o->via.array.ptr[k++], &t->fields[i], base);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int swarm_snap_decode(const uint8_t *p, size_t n, struct swarm_state *s)
{
    memset(s, 0, sizeof(*s));
    if (n > SWARM_SNAP_BYTES_MAX)
        return PL_EMALFORMED;
    msgpack_unpacked u;
    int rc = pl_mp_parse(p, n, &u);
    if (rc != 0)
        return PL_EMALFORMED;
    const msgpack_object *top = &u.data;
    const char *magic;
    size_t magic_len;
    const uint8_t *schema;
    size_t schema_len;
    uint8_t mine[SWARM_HASH_BYTES];
    swarm_snap_schema(mine);
    if (top->type != MSGPACK_OBJECT_ARRAY || top->via.array.size != 3 ||
        pl_mp_as_str(&top->via.array.ptr[0], &magic, &magic_len) != 0 ||
        magic_len != strlen(SWARM_SNAP_MAGIC) || memcmp(magic, SWARM_SNAP_MAGIC, magic_len) ||
        pl_mp_as_bin(&top->via.array.ptr[1], &schema, &schema_len) != 0 ||
        schema_len != SWARM_HASH_BYTES)
        rc = PL_EMALFORMED;
    else if (memcmp(schema, mine, SWARM_HASH_BYTES) != 0)
        rc = PL_EVERSION;
    else
        rc = decode_struct(&top->via.array.ptr[2], &state_table, (uint8_t *)s);
    msgpack_unpacked_destroy(&u);

    /* One state, one encoding: bytes that do not re-encode identically are refused. */
    if (rc == 0) {
        struct pl_buf again;
        pl_buf_init(&again, SWARM_SNAP_BYTES_MAX);
        rc = swarm_snap_encode(s, &again);
        if (rc != 0 || again.len != n || memcmp(again.data, p, n) != 0)
            rc = PL_EMALFORMED;
        pl_buf_close(&again);
    }
    if (rc == 0) {
        uint8_t stored[SWARM_HASH_BYTES];
        memcpy(stored, s->hash, SWARM_HASH_BYTES);
        swarm_state_hash_rebuild(s);
        if (memcmp(stored, s->hash, SWARM_HASH_BYTES) != 0)
            rc = PL_EVERIFY;
    }
    if (rc != 0)
        memset(s, 0, sizeof(*s));
    return rc;
}
