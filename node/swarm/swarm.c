/*
 * The swarm's replicated state machine (swarm.h): table-driven canonical codecs for the
 * entry bodies, a total apply, and the incremental multiset state hash.
 */
#include "swarm.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_mp.h"
#include "pl_mp_read.h"

#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- names ---- */

static const char *const kind_names[SWARM_K_COUNT] = {
    "", "member_event", "incident", "decision", "action_result", "approval", "placement",
    "policy", "rollout", "cluster_incident", "council"};

const char *swarm_kind_name(enum swarm_kind k)
{
    return (unsigned)k < SWARM_K_COUNT ? kind_names[k] : "";
}

enum swarm_kind swarm_kind_parse(const char *kind, size_t len)
{
    for (int k = 1; k < SWARM_K_COUNT; k++)
        if (strlen(kind_names[k]) == len && memcmp(kind_names[k], kind, len) == 0)
            return (enum swarm_kind)k;
    return SWARM_K_FOREIGN;
}

static const char *const member_names[SWARM_MEMBER_STATUS_COUNT] = {"alive", "dead", "left"};
static const char *const decision_names[SWARM_DECISION_STATE_COUNT] = {
    "pending", "waiting", "done", "failed", "refused", "skipped"};
static const char *const rollout_names[SWARM_ROLLOUT_STATE_COUNT] = {"running", "done",
                                                                      "halted"};
static const char *const step_names[SWARM_STEP_STATE_COUNT] = {"todo", "decided", "done",
                                                                "failed", "skipped"};
static const char *const outcome_names[SWARM_OUTCOME_COUNT] = {"applied", "duplicate",
                                                               "foreign", "rejected"};

const char *swarm_member_status_name(enum swarm_member_status s)
{
    return (unsigned)s < SWARM_MEMBER_STATUS_COUNT ? member_names[s] : "unknown";
}

const char *swarm_decision_state_name(enum swarm_decision_state s)
{
    return (unsigned)s < SWARM_DECISION_STATE_COUNT ? decision_names[s] : "unknown";
}

bool swarm_decision_finished(enum swarm_decision_state s)
{
    return s == SWARM_DECISION_DONE || s == SWARM_DECISION_FAILED ||
           s == SWARM_DECISION_REFUSED || s == SWARM_DECISION_SKIPPED;
}

const char *swarm_rollout_state_name(enum swarm_rollout_state s)
{
    return (unsigned)s < SWARM_ROLLOUT_STATE_COUNT ? rollout_names[s] : "unknown";
}

const char *swarm_step_state_name(enum swarm_step_state s)
{
    return (unsigned)s < SWARM_STEP_STATE_COUNT ? step_names[s] : "unknown";
}

const char *swarm_op_name(uint8_t op)
{
    switch (op) {
    case SWARM_OP_RESTART:
        return "restart";
    case SWARM_OP_STOP:
        return "stop";
    case SWARM_OP_START:
        return "start";
    default:
        return "";
    }
}

int swarm_op_parse(const char *name, uint8_t *op)
{
    static const uint8_t ops[] = {SWARM_OP_RESTART, SWARM_OP_STOP, SWARM_OP_START};
    for (size_t i = 0; i < sizeof(ops); i++) {
        if (strcmp(name, swarm_op_name(ops[i])) == 0) {
            *op = ops[i];
            return 0;
        }
    }
    return PL_ENOTFOUND;
}

const char *swarm_outcome_name(enum swarm_outcome o)
{
    return (unsigned)o < SWARM_OUTCOME_COUNT ? outcome_names[o] : "unknown";
}

/* ---- table-driven codecs ---- */

/* F_ENUM fields are enums read and written as int. */
static_assert(sizeof(enum swarm_member_status) == sizeof(int), "enums are ints here");

enum ftype { F_STR, F_U64, F_U32, F_U8, F_I32, F_ENUM };

struct field {
    const char *key;
    size_t key_len;
    enum ftype type;
    size_t off;
    size_t size;                /* F_STR: the buffer; F_U8: the largest value + 1 */
    const char *const *names;   /* F_ENUM: value names (stored as an int) */
    int nnames;
};

#define FKEY(k) #k, sizeof(#k) - 1
#define FSTR(T, k) {FKEY(k), F_STR, offsetof(T, k), sizeof(((T *)0)->k), NULL, 0}
#define FU64(T, k) {FKEY(k), F_U64, offsetof(T, k), 0, NULL, 0}
#define FU32(T, k) {FKEY(k), F_U32, offsetof(T, k), 0, NULL, 0}
#define FU8(T, k, max) {FKEY(k), F_U8, offsetof(T, k), (max), NULL, 0}
#define FI32(T, k) {FKEY(k), F_I32, offsetof(T, k), 0, NULL, 0}

static const struct field member_fields[] = {
    FSTR(struct swarm_member_event, node),
    {FKEY(event), F_ENUM, offsetof(struct swarm_member_event, status), 0, member_names,
     SWARM_MEMBER_STATUS_COUNT},
    {FKEY(inc), F_U64, offsetof(struct swarm_member_event, incarnation), 0, NULL, 0},
};

/* Bounds of the healing machine's enums (heal_incident.h, heal_policy.h, heal_diag.h):
 * generous, since they only grow; what matters is that every node bounds alike. */
#define ENUM_BOUND 64

static const struct field incident_fields[] = {
    FSTR(struct swarm_incident_event, node),  FSTR(struct swarm_incident_event, id),
    FU32(struct swarm_incident_event, seq),   FSTR(struct swarm_incident_event, service),
    FU8(struct swarm_incident_event, event, ENUM_BOUND),
    FU8(struct swarm_incident_event, action, ENUM_BOUND),
    FI32(struct swarm_incident_event, result),
    FU8(struct swarm_incident_event, level, 6),
    FU8(struct swarm_incident_event, cls, ENUM_BOUND),
    FU8(struct swarm_incident_event, cause, ENUM_BOUND),
    FU8(struct swarm_incident_event, signal, ENUM_BOUND),
    FSTR(struct swarm_incident_event, outcome), FU64(struct swarm_incident_event, t_ms),
    FSTR(struct swarm_incident_event, detail),
};

static const struct field decision_fields[] = {
    FSTR(struct swarm_decision_body, node),     FSTR(struct swarm_decision_body, service),
    FU8(struct swarm_decision_body, action, ENUM_BOUND),
    FSTR(struct swarm_decision_body, incident), FSTR(struct swarm_decision_body, reason),
    FU64(struct swarm_decision_body, rollout),
};

static const struct field result_fields[] = {
    FU64(struct swarm_action_result, decision), FSTR(struct swarm_action_result, node),
    FI32(struct swarm_action_result, result),   FSTR(struct swarm_action_result, detail),
};

static const struct field approval_fields[] = {
    FU64(struct swarm_approval, decision),
    FSTR(struct swarm_approval, by),
};

static const struct field placement_fields[] = {
    FSTR(struct swarm_placement_body, service),
    FSTR(struct swarm_placement_body, node),
    FSTR(struct swarm_placement_body, prev),
};

static const struct field policy_fields[] = {
    FU32(struct swarm_policy_body, max_in_flight),
    FU32(struct swarm_policy_body, max_fleet_pct),
    FU64(struct swarm_policy_body, window_ms),
};

static const struct field rollout_fields[] = {
    FSTR(struct swarm_rollout_body, service),
    FU8(struct swarm_rollout_body, op, ENUM_BOUND),
    FU32(struct swarm_rollout_body, max_unavailable),
    FSTR(struct swarm_rollout_body, by),
};

static const char *const cluster_event_names[SWARM_CLUSTER_EVENT_COUNT] = {"open", "close"};
static const char *const council_op_names[SWARM_COUNCIL_OP_COUNT] = {"remove", "add_learner",
                                                                    "promote"};
static_assert(sizeof(enum swarm_cluster_event) == sizeof(int), "enums are ints here");
static_assert(sizeof(enum swarm_council_op) == sizeof(int), "enums are ints here");

const char *swarm_cluster_event_name(enum swarm_cluster_event e)
{
    return (unsigned)e < SWARM_CLUSTER_EVENT_COUNT ? cluster_event_names[e] : "unknown";
}

const char *swarm_council_op_name(enum swarm_council_op op)
{
    return (unsigned)op < SWARM_COUNCIL_OP_COUNT ? council_op_names[op] : "unknown";
}

static const struct field cluster_fields[] = {
    FSTR(struct swarm_cluster_body, id),
    {FKEY(event), F_ENUM, offsetof(struct swarm_cluster_body, event), 0, cluster_event_names,
     SWARM_CLUSTER_EVENT_COUNT},
    FSTR(struct swarm_cluster_body, sig),
    FSTR(struct swarm_cluster_body, service),
    FU8(struct swarm_cluster_body, cause, ENUM_BOUND),
    FU32(struct swarm_cluster_body, nodes),
    FU32(struct swarm_cluster_body, members),
    FSTR(struct swarm_cluster_body, detail),
};

static const struct field council_fields[] = {
    {FKEY(op), F_ENUM, offsetof(struct swarm_council_body, op), 0, council_op_names,
     SWARM_COUNCIL_OP_COUNT},
    FSTR(struct swarm_council_body, node),
    FU32(struct swarm_council_body, voters),
    FSTR(struct swarm_council_body, reason),
};

#define NFIELDS(t) ((int)(sizeof(t) / sizeof((t)[0])))

static int encode_fields(const struct field *f, int n, const void *b, struct pl_buf *out)
{
    const char *base = b;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    pl_mp_map(&w, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        const void *p = base + f[i].off;
        pl_mp_str(&w, f[i].key);
        switch (f[i].type) {
        case F_STR:
            pl_mp_str(&w, p);
            break;
        case F_U64:
            pl_mp_uint(&w, *(const uint64_t *)p);
            break;
        case F_U32:
            pl_mp_uint(&w, *(const uint32_t *)p);
            break;
        case F_U8:
            pl_mp_uint(&w, *(const uint8_t *)p);
            break;
        case F_I32:
            pl_mp_int(&w, *(const int32_t *)p);
            break;
        case F_ENUM: {
            int v = *(const int *)p;
            if (v < 0 || v >= f[i].nnames)
                return PL_EMALFORMED;
            pl_mp_str(&w, f[i].names[v]);
            break;
        }
        }
    }
    return w.err;
}

static int decode_field_reference(const struct field *f, const msgpack_object *m, void *b)
{
    char *p = (char *)b + f->off;
    uint64_t u;
    int64_t i;
    int rc;
    switch (f->type) {
    case F_STR:
        return pl_mp_get_cstr(m, f->key, p, f->size);
    case F_U64:
        return pl_mp_get_u64(m, f->key, (uint64_t *)(void *)p);
    case F_U32:
        if ((rc = pl_mp_get_u64(m, f->key, &u)) != 0)
            return rc;
        if (u > UINT32_MAX)
            return PL_EMALFORMED;
        *(uint32_t *)(void *)p = (uint32_t)u;
        return 0;
    case F_U8:
        if ((rc = pl_mp_get_u64(m, f->key, &u)) != 0)
            return rc;
        if (u >= f->size)
            return PL_EMALFORMED;
        *(uint8_t *)p = (uint8_t)u;
        return 0;
    case F_I32:
        if ((rc = pl_mp_get_i64(m, f->key, &i)) != 0)
            return rc;
        if (i < INT32_MIN || i > INT32_MAX)
            return PL_EMALFORMED;
        *(int32_t *)(void *)p = (int32_t)i;
        return 0;
    case F_ENUM: {
        char name[32];
        if ((rc = pl_mp_get_cstr(m, f->key, name, sizeof(name))) != 0)
            return rc;
        for (int k = 0; k < f->nnames; k++) {
            if (strcmp(name, f->names[k]) == 0) {
                *(int *)(void *)p = k;
                return 0;
            }
        }
        return PL_EMALFORMED;
    }
    }
    return PL_EMALFORMED;
}

/* One field's value at the reader's position into b (its table says where and how). The
 * rules are those of decode_field_reference and the re-encode check together: a string
 * shorter than its buffer with no NUL byte (the copy would end there and re-encode
 * shorter), an enum spelled exactly as one of its names, numbers in range. */
static int read_field(const struct field *f, struct pl_mp_reader *r, void *b)
{
    char *p = (char *)b + f->off;
    size_t at = r->pos;
    const char *s;
    size_t n;
    uint64_t u;
    int64_t i;
    switch (f->type) {
    case F_STR:
        if (pl_mp_read_str(r, &s, &n) != 0)
            return PL_EMALFORMED;
        if (n >= f->size)
            return pl_mp_read_fail(r, at, "a string longer than its field holds");
        if (memchr(s, '\0', n) != NULL)
            return pl_mp_read_fail(r, at, "a string with a NUL byte");
        memcpy(p, s, n);
        p[n] = '\0';
        return 0;
    case F_U64:
        if (pl_mp_read_uint(r, &u) != 0)
            return PL_EMALFORMED;
        memcpy(p, &u, sizeof(u));
        return 0;
    case F_U32:
        if (pl_mp_read_uint(r, &u) != 0)
            return PL_EMALFORMED;
        if (u > UINT32_MAX)
            return pl_mp_read_fail(r, at, "a number past its field's 32 bits");
        *(uint32_t *)(void *)p = (uint32_t)u;
        return 0;
    case F_U8:
        if (pl_mp_read_uint(r, &u) != 0)
            return PL_EMALFORMED;
        if (u >= f->size)
            return pl_mp_read_fail(r, at, "a number past its field's range");
        *(uint8_t *)p = (uint8_t)u;
        return 0;
    case F_I32:
        if (pl_mp_read_int(r, &i) != 0)
            return PL_EMALFORMED;
        if (i < INT32_MIN || i > INT32_MAX)
            return pl_mp_read_fail(r, at, "a number past its field's 32 bits");
        *(int32_t *)(void *)p = (int32_t)i;
        return 0;
    case F_ENUM:
        if (pl_mp_read_str(r, &s, &n) != 0)
            return PL_EMALFORMED;
        for (int k = 0; k < f->nnames; k++) {
            if (strlen(f->names[k]) == n && memcmp(s, f->names[k], n) == 0) {
                *(int *)(void *)p = k;
                return 0;
            }
        }
        return pl_mp_read_fail(r, at, "a name its field does not know");
    }
    return pl_mp_read_fail(r, at, "a field of no known type");
}

/* Only the canonical bytes of a body are accepted, so one body has one meaning and one hash
 * on every node: a map of exactly the table's keys in its order, each value in the form
 * encode_fields writes. One pass of pl_mp_read.h, nothing unpacked, nothing allocated.
 * PL_ETOOBIG past SWARM_BODY_BYTES_MAX, else 0 or PL_EMALFORMED with *why (may be NULL)
 * saying what and where. */
static int decode_fields(const struct field *f, int n, const uint8_t *p, size_t len, void *b,
                         size_t b_size, struct pl_mp_reader *why)
{
    if (len > SWARM_BODY_BYTES_MAX)
        return PL_ETOOBIG;
    memset(b, 0, b_size);
    struct pl_mp_reader r;
    pl_mp_reader_init(&r, p, len);
    pl_mp_read_map_of(&r, (uint32_t)n);
    for (int i = 0; i < n && r.err == NULL; i++)
        if (pl_mp_read_key(&r, f[i].key, f[i].key_len) == 0)
            read_field(&f[i], &r, b);
    int rc = pl_mp_read_end(&r);
    if (why != NULL)
        *why = r;
    return rc;
}

/* The decoder decode_fields replaced: msgpack-c unpacks, the fields are read by key, then
 * re-encoded and compared. Kept as the oracle of swarm_body_decode_reference. */
static int decode_fields_reference(const struct field *f, int n, const uint8_t *p, size_t len, void *b,
                         size_t b_size)
{
    if (len > SWARM_BODY_BYTES_MAX)
        return PL_ETOOBIG;
    msgpack_unpacked u;
    int rc = pl_mp_parse(p, len, &u);
    if (rc != 0)
        return rc;
    memset(b, 0, b_size);
    if (u.data.type != MSGPACK_OBJECT_MAP || u.data.via.map.size != (uint32_t)n)
        rc = PL_EMALFORMED;
    for (int i = 0; rc == 0 && i < n; i++)
        rc = decode_field_reference(&f[i], &u.data, b);
    msgpack_unpacked_destroy(&u);
    if (rc != 0)
        return rc == PL_ETOOBIG ? PL_EMALFORMED : rc;
    struct pl_buf again;
    pl_buf_init(&again, SWARM_BODY_BYTES_MAX);
    rc = encode_fields(f, n, b, &again);
    if (rc == 0 && (again.len != len || memcmp(again.data, p, len) != 0))
        rc = PL_EMALFORMED;
    pl_buf_close(&again);
    return rc;
}

#define CODEC(name, T, table)                                                                  \
    int swarm_##name##_encode(const T *b, struct pl_buf *out)                                  \
    {                                                                                          \
        return encode_fields(table, NFIELDS(table), b, out);                                   \
    }                                                                                          \
    int swarm_##name##_decode(const uint8_t *p, size_t n, T *b)                                \
    {                                                                                          \
        return decode_fields(table, NFIELDS(table), p, n, b, sizeof(*b), NULL);                \
    }

CODEC(member_event, struct swarm_member_event, member_fields)
CODEC(incident_event, struct swarm_incident_event, incident_fields)
CODEC(decision, struct swarm_decision_body, decision_fields)
CODEC(action_result, struct swarm_action_result, result_fields)
CODEC(approval, struct swarm_approval, approval_fields)
CODEC(placement, struct swarm_placement_body, placement_fields)
CODEC(policy, struct swarm_policy_body, policy_fields)
CODEC(rollout, struct swarm_rollout_body, rollout_fields)
CODEC(cluster, struct swarm_cluster_body, cluster_fields)
CODEC(council, struct swarm_council_body, council_fields)

static const struct codec {
    const struct field *f;
    int n;
    size_t size;
} codecs[SWARM_K_COUNT] = {
#define K(k, T, table) [k] = {table, NFIELDS(table), sizeof(T)}
    K(SWARM_K_MEMBER, struct swarm_member_event, member_fields),
    K(SWARM_K_INCIDENT, struct swarm_incident_event, incident_fields),
    K(SWARM_K_DECISION, struct swarm_decision_body, decision_fields),
    K(SWARM_K_ACTION_RESULT, struct swarm_action_result, result_fields),
    K(SWARM_K_APPROVAL, struct swarm_approval, approval_fields),
    K(SWARM_K_PLACEMENT, struct swarm_placement_body, placement_fields),
    K(SWARM_K_POLICY, struct swarm_policy_body, policy_fields),
    K(SWARM_K_ROLLOUT, struct swarm_rollout_body, rollout_fields),
    K(SWARM_K_CLUSTER_INCIDENT, struct swarm_cluster_body, cluster_fields),
    K(SWARM_K_COUNCIL, struct swarm_council_body, council_fields),
#undef K
};

int swarm_body_decode(enum swarm_kind k, const uint8_t *p, size_t n, void *out, size_t out_size,
                      struct pl_mp_reader *why)
{
    if ((unsigned)k >= SWARM_K_COUNT || codecs[k].f == NULL || out_size < codecs[k].size)
        return -EINVAL;
    return decode_fields(codecs[k].f, codecs[k].n, p, n, out, codecs[k].size, why);
}

int swarm_body_decode_reference(enum swarm_kind k, const uint8_t *p, size_t n, void *out,
                                size_t out_size)
{
    if ((unsigned)k >= SWARM_K_COUNT || codecs[k].f == NULL || out_size < codecs[k].size)
        return -EINVAL;
    return decode_fields_reference(codecs[k].f, codecs[k].n, p, n, out, codecs[k].size);
}

/* ---- the multiset state hash ---- */

/* acc += sign * h, little-endian 4 x 64-bit limbs modulo 2^256. */
static void acc_add(uint8_t acc[SWARM_HASH_BYTES], const uint8_t h[SWARM_HASH_BYTES], int sign)
{
    uint64_t a[4], x[4];
    memcpy(a, acc, sizeof(a));
    memcpy(x, h, sizeof(x));
    if (sign > 0) {
        unsigned carry = 0;
        for (int i = 0; i < 4; i++) {
            uint64_t s = a[i] + x[i];
            unsigned c1 = s < a[i];
            uint64_t t = s + carry;
            unsigned c2 = t < s;
            a[i] = t;
            carry = c1 | c2;
        }
    } else {
        unsigned borrow = 0;
        for (int i = 0; i < 4; i++) {
            uint64_t d = a[i] - x[i];
            unsigned b1 = a[i] < x[i];
            uint64_t t = d - borrow;
            unsigned b2 = d < borrow;
            a[i] = t;
            borrow = b1 | b2;
        }
    }
    memcpy(acc, a, sizeof(a));
}

/* Items are tagged msgpack arrays of every field that state hashing must see. */
static void item_member(struct pl_mp_writer *w, const struct swarm_member *m)
{
    pl_mp_array(w, 7 + SWARM_FLAP_DEATHS);
    pl_mp_str(w, "m");
    pl_mp_str(w, m->name);
    pl_mp_uint(w, m->status);
    pl_mp_uint(w, m->incarnation);
    pl_mp_uint(w, m->since_index);
    for (int i = 0; i < SWARM_FLAP_DEATHS; i++)
        pl_mp_uint(w, m->deaths[i]);
    pl_mp_uint(w, m->ndeaths);
    pl_mp_uint(w, m->fenced_until_ms);
}

static void item_incident(struct pl_mp_writer *w, const struct swarm_incident *x)
{
    pl_mp_array(w, 17);
    pl_mp_str(w, "i");
    pl_mp_str(w, x->node);
    pl_mp_str(w, x->id);
    pl_mp_str(w, x->service);
    pl_mp_uint(w, x->last_seq);
    pl_mp_bool(w, x->closed);
    pl_mp_str(w, x->outcome);
    pl_mp_uint(w, x->level);
    pl_mp_uint(w, x->cls);
    pl_mp_uint(w, x->cause);
    pl_mp_uint(w, x->signal);
    pl_mp_uint(w, x->actions);
    pl_mp_uint(w, x->opened_ms);
    pl_mp_uint(w, x->closed_ms);
    pl_mp_uint(w, x->first_index);
    pl_mp_uint(w, x->last_index);
    /* What the learning keeps for the close. */
    pl_mp_array(w, 6 + x->nacts);
    pl_mp_bool(w, x->learnable);
    pl_mp_uint(w, x->learn_cls);
    pl_mp_uint(w, x->learn_cause);
    pl_mp_uint(w, x->learn_signal);
    pl_mp_uint(w, x->learn_feature);
    pl_mp_uint(w, x->nacts);
    for (uint32_t i = 0; i < x->nacts; i++)
        pl_mp_uint(w, x->acts[i]);
}

/* A signature's posteriors and last draw; a service's exploration history. */
static void item_learn_sig(struct pl_mp_writer *w, const struct swarm_learn_sig *g)
{
    pl_mp_array(w, 14 + 5 * SWARM_LEARN_ARMS);
    pl_mp_str(w, "ls");
    pl_mp_str(w, g->key.service);
    pl_mp_uint(w, g->key.cls);
    pl_mp_uint(w, g->key.cause);
    pl_mp_uint(w, g->key.signal);
    pl_mp_uint(w, g->key.feature);
    pl_mp_uint(w, g->candidates);
    pl_mp_uint(w, g->rules_first);
    pl_mp_uint(w, g->choice);
    pl_mp_bool(w, g->explored);
    pl_mp_uint(w, g->choice_index);
    pl_mp_uint(w, g->choice_term);
    pl_mp_uint(w, g->updated_index);
    pl_mp_uint(w, g->outcomes);
    for (int i = 0; i < SWARM_LEARN_ARMS; i++) {
        pl_mp_uint(w, g->arms[i].alpha);
        pl_mp_uint(w, g->arms[i].beta);
        pl_mp_uint(w, g->arms[i].successes);
        pl_mp_uint(w, g->arms[i].failures);
        pl_mp_uint(w, g->arms[i].drawn);
    }
}

static void item_learn_svc(struct pl_mp_writer *w, const struct swarm_learn_svc *v)
{
    pl_mp_array(w, 4);
    pl_mp_str(w, "lv");
    pl_mp_str(w, v->service);
    pl_mp_uint(w, v->history);
    pl_mp_uint(w, v->choices);
}

static void item_placement(struct pl_mp_writer *w, const struct swarm_placement *p)
{
    pl_mp_array(w, 7);
    pl_mp_str(w, "p");
    pl_mp_str(w, p->service);
    pl_mp_str(w, p->node);
    pl_mp_str(w, p->prev);
    pl_mp_uint(w, p->index);
    pl_mp_uint(w, p->term);
    pl_mp_uint(w, p->moves);
}

static void item_decision(struct pl_mp_writer *w, const struct swarm_decision *d)
{
    pl_mp_array(w, 12);
    pl_mp_str(w, "d");
    pl_mp_uint(w, d->index);
    pl_mp_uint(w, d->term);
    pl_mp_uint(w, d->time_ms);
    pl_mp_str(w, d->node);
    pl_mp_str(w, d->service);
    pl_mp_uint(w, d->action);
    pl_mp_str(w, d->incident);
    pl_mp_uint(w, d->state);
    pl_mp_int(w, d->result);
    pl_mp_uint(w, d->result_index);
    pl_mp_uint(w, d->rollout);
}

static void item_rollout(struct pl_mp_writer *w, const struct swarm_rollout *r)
{
    pl_mp_array(w, 10);
    pl_mp_str(w, "r");
    pl_mp_uint(w, r->index);
    pl_mp_uint(w, r->term);
    pl_mp_uint(w, r->time_ms);
    pl_mp_str(w, r->service);
    pl_mp_uint(w, r->op);
    pl_mp_uint(w, r->max_unavailable);
    pl_mp_str(w, r->by);
    pl_mp_uint(w, r->state);
    pl_mp_array(w, r->nnodes);
    for (uint32_t i = 0; i < r->nnodes; i++) {
        pl_mp_array(w, 3);
        pl_mp_str(w, r->nodes[i]);
        pl_mp_uint(w, r->step[i]);
        pl_mp_uint(w, r->decision[i]);
    }
}

static void item_counters(struct pl_mp_writer *w, const struct swarm_state *s)
{
    const struct swarm_counters *c = &s->counters;
    pl_mp_array(w, 15);
    pl_mp_uint(w, s->council_changes);
    pl_mp_str(w, "c");
    pl_mp_uint(w, s->applied_index);
    pl_mp_uint(w, s->applied_term);
    pl_mp_uint(w, s->max_term);
    pl_mp_uint(w, s->max_in_flight);
    pl_mp_uint(w, s->max_fleet_pct);
    pl_mp_uint(w, s->window_ms);
    pl_mp_uint(w, s->policy_index);
    pl_mp_uint(w, c->applied);
    pl_mp_uint(w, c->foreign);
    pl_mp_uint(w, c->duplicates);
    pl_mp_uint(w, c->rejected);
    pl_mp_uint(w, c->evicted_incidents);
    pl_mp_uint(w, c->evicted_decisions);
}

static void item_cluster(struct pl_mp_writer *w, const struct swarm_cluster *x)
{
    pl_mp_array(w, 14);
    pl_mp_str(w, "x");
    pl_mp_str(w, x->id);
    pl_mp_str(w, x->sig);
    pl_mp_str(w, x->service);
    pl_mp_uint(w, x->cause);
    pl_mp_bool(w, x->closed);
    pl_mp_bool(w, x->escalated);
    pl_mp_uint(w, x->nodes);
    pl_mp_uint(w, x->members);
    pl_mp_uint(w, x->nodes_max);
    pl_mp_uint(w, x->opened_index);
    pl_mp_uint(w, x->closed_index);
    pl_mp_uint(w, x->opened_ms);
    pl_mp_uint(w, x->closed_ms);
}

static void item_council(struct pl_mp_writer *w, const struct swarm_council_change *k)
{
    pl_mp_array(w, 6);
    pl_mp_str(w, "k");
    pl_mp_uint(w, k->index);
    pl_mp_uint(w, k->time_ms);
    pl_mp_uint(w, k->op);
    pl_mp_str(w, k->node);
    pl_mp_uint(w, k->voters);
}

enum item_kind { IT_MEMBER, IT_INCIDENT, IT_PLACEMENT, IT_DECISION, IT_COUNTERS, IT_ROLLOUT,
                 IT_CLUSTER, IT_COUNCIL, IT_LEARN_SIG, IT_LEARN_SVC, IT_LEARN };

/* BLAKE2b-256 of the item's canonical bytes. */
static void item_hash(enum item_kind k, const void *item, uint8_t out[SWARM_HASH_BYTES])
{
    uint8_t space[4096];
    struct pl_buf b = {.data = space, .len = 0, .cap = sizeof(space), .max = sizeof(space)};
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, &b);
    switch (k) {
    case IT_MEMBER:
        item_member(&w, item);
        break;
    case IT_INCIDENT:
        item_incident(&w, item);
        break;
    case IT_PLACEMENT:
        item_placement(&w, item);
        break;
    case IT_DECISION:
        item_decision(&w, item);
        break;
    case IT_COUNTERS:
        item_counters(&w, item);
        break;
    case IT_ROLLOUT:
        item_rollout(&w, item);
        break;
    case IT_CLUSTER:
        item_cluster(&w, item);
        break;
    case IT_COUNCIL:
        item_council(&w, item);
        break;
    case IT_LEARN_SIG:
        item_learn_sig(&w, item);
        break;
    case IT_LEARN_SVC:
        item_learn_svc(&w, item);
        break;
    case IT_LEARN:
        pl_mp_array(&w, 2);
        pl_mp_str(&w, "l");
        pl_mp_uint(&w, ((const struct swarm_learn *)item)->evicted);
        break;
    }
    /* Every item is bounded by its fixed-size fields: 4 KiB always holds it. */
    PL_ASSERT(w.err == 0);
    crypto_generichash(out, SWARM_HASH_BYTES, b.data, b.len, NULL, 0);
}

static void item_mix(uint8_t acc[SWARM_HASH_BYTES], enum item_kind k, const void *item, int sign)
{
    uint8_t h[SWARM_HASH_BYTES];
    item_hash(k, item, h);
    acc_add(acc, h, sign);
}

/* ---- the kept item hashes (struct swarm_hash_cache in swarm.h) ---- */

/* The tables whose items keep their hash, and where their slots start. */
#define NTABLES 7
static const enum item_kind table_kinds[NTABLES] = {IT_MEMBER,   IT_INCIDENT, IT_PLACEMENT,
                                                    IT_DECISION, IT_ROLLOUT,  IT_CLUSTER,
                                                    IT_COUNCIL};
static const uint32_t table_caps[NTABLES] = {SWARM_MEMBERS_MAX,   SWARM_INCIDENTS_MAX,
                                             SWARM_PLACEMENTS_MAX, SWARM_DECISIONS_MAX,
                                             SWARM_ROLLOUTS_MAX,   SWARM_CLUSTERS_MAX,
                                             SWARM_COUNCIL_LOG_MAX};
static_assert(SWARM_HASH_SLOTS <= UINT16_MAX + 1, "slots are listed as uint16_t");

static uint32_t table_of(enum item_kind k)
{
    for (uint32_t t = 0; t < NTABLES; t++)
        if (table_kinds[t] == k)
            return t;
    PL_ASSERT(0);
    return 0;
}

static uint32_t table_base(uint32_t t)
{
    uint32_t base = 0;
    for (uint32_t i = 0; i < t; i++)
        base += table_caps[i];
    return base;
}

static uint32_t table_used(const struct swarm_state *s, uint32_t t)
{
    const uint32_t used[NTABLES] = {s->nmembers,   s->nincidents, s->nplacements, s->ndecisions,
                                    s->nrollouts,  s->nclusters,  s->ncouncil};
    return used[t];
}

static const void *table_item(const struct swarm_state *s, uint32_t t, uint32_t i)
{
    switch (table_kinds[t]) {
    case IT_MEMBER:
        return &s->members[i];
    case IT_INCIDENT:
        return &s->incidents[i];
    case IT_PLACEMENT:
        return &s->placements[i];
    case IT_DECISION:
        return &s->decisions[i];
    case IT_ROLLOUT:
        return &s->rollouts[i];
    case IT_CLUSTER:
        return &s->clusters[i];
    default:
        return &s->council[i];
    }
}

static void dirty_push(struct swarm_hash_cache *c, uint32_t slot)
{
    if (c->is_dirty[slot])
        return;
    c->is_dirty[slot] = 1;
    if (c->ndirty < SWARM_HASH_DIRTY_MAX)
        c->dirty[c->ndirty++] = (uint16_t)slot;
    else
        c->overflow = true;
}

/* Before item i of kind k changes: its kept hash leaves the sum (once until the sync). */
static void item_touch(struct swarm_state *s, enum item_kind k, uint32_t i)
{
    uint32_t slot = table_base(table_of(k)) + i;
    if (!s->hc.is_dirty[slot])
        acc_add(s->hc.acc, s->hc.item[slot], -1);
    dirty_push(&s->hc, slot);
}

/* A new item in slot i: nothing of it is in the sum (the slot's kept hash is stale). */
static void item_fresh(struct swarm_state *s, enum item_kind k, uint32_t i)
{
    dirty_push(&s->hc, table_base(table_of(k)) + i);
}

/* Item `victim` is evicted and the table's last item, `last`, moves into its slot (the
 * caller copies the item itself). */
static void item_evict(struct swarm_state *s, enum item_kind k, uint32_t victim, uint32_t last)
{
    struct swarm_hash_cache *c = &s->hc;
    uint32_t base = table_base(table_of(k)), v = base + victim, l = base + last;
    if (!c->is_dirty[v])
        acc_add(c->acc, c->item[v], -1);
    c->is_dirty[v] = 0;
    if (v == l)
        return;
    memcpy(c->item[v], c->item[l], SWARM_HASH_BYTES);
    bool dirty = c->is_dirty[l];
    c->is_dirty[l] = 0;
    if (dirty)
        dirty_push(c, v);
}

/* Hashes every dirty item still in use into the sum. */
static void hash_flush(struct swarm_state *s)
{
    struct swarm_hash_cache *c = &s->hc;
    for (uint32_t t = 0, base = 0; t < NTABLES; base += table_caps[t++]) {
        uint32_t used = table_used(s, t);
        for (uint32_t n = 0; n < (c->overflow ? used : c->ndirty); n++) {
            uint32_t slot = c->overflow ? base + n : c->dirty[n];
            if (slot < base || slot >= base + used || !c->is_dirty[slot])
                continue;
            item_hash(table_kinds[t], table_item(s, t, slot - base), c->item[slot]);
            acc_add(c->acc, c->item[slot], +1);
            c->is_dirty[slot] = 0;
        }
    }
    c->ndirty = 0;
    c->overflow = false;
}

void swarm_state_hash_sync(struct swarm_state *s)
{
    if (!s->hc.stale)
        return;
    hash_flush(s);
    uint8_t h[SWARM_HASH_BYTES];
    item_hash(IT_COUNTERS, s, h);
    memcpy(s->hash, s->hc.acc, SWARM_HASH_BYTES);
    acc_add(s->hash, h, +1);
    s->hc.stale = false;
}

void swarm_state_hash_defer(struct swarm_state *s, bool on)
{
    s->hc.defer = on;
    if (!on)
        swarm_state_hash_sync(s);
}

/* The sum over every item but the counters; each table item's hash also into keep[slot]
 * when keep is not NULL. */
static void items_sum(const struct swarm_state *s, uint8_t out[SWARM_HASH_BYTES],
                      uint8_t (*keep)[SWARM_HASH_BYTES])
{
    memset(out, 0, SWARM_HASH_BYTES);
    for (uint32_t t = 0, base = 0; t < NTABLES; base += table_caps[t++]) {
        for (uint32_t i = 0; i < table_used(s, t); i++) {
            uint8_t h[SWARM_HASH_BYTES];
            item_hash(table_kinds[t], table_item(s, t, i), h);
            acc_add(out, h, +1);
            if (keep != NULL)
                memcpy(keep[base + i], h, SWARM_HASH_BYTES);
        }
    }
    for (uint32_t i = 0; i < s->learn.nsigs; i++)
        item_mix(out, IT_LEARN_SIG, &s->learn.sigs[i], +1);
    for (uint32_t i = 0; i < s->learn.nsvcs; i++)
        item_mix(out, IT_LEARN_SVC, &s->learn.svcs[i], +1);
    item_mix(out, IT_LEARN, &s->learn, +1);
}

void swarm_state_hash_full(const struct swarm_state *s, uint8_t out[SWARM_HASH_BYTES])
{
    items_sum(s, out, NULL);
    item_mix(out, IT_COUNTERS, s, +1);
}

static void iidx_rebuild(struct swarm_state *s);

void swarm_state_hash_rebuild(struct swarm_state *s)
{
    /* What is derived from the items is made again with it (a loaded snapshot comes here). */
    iidx_rebuild(s);
    bool defer = s->hc.defer;
    memset(&s->hc, 0, sizeof(s->hc));
    s->hc.defer = defer;
    items_sum(s, s->hc.acc, s->hc.item);
    s->hc.stale = true;
    swarm_state_hash_sync(s);
}

void swarm_state_init(struct swarm_state *s)
{
    memset(s, 0, sizeof(*s));
    s->max_in_flight = 2;
    s->max_fleet_pct = 100;
    s->window_ms = 600000;
    swarm_learn_init(&s->learn);
    swarm_state_hash_rebuild(s);
}

/* ---- lookups ---- */

const struct swarm_member *swarm_member_find(const struct swarm_state *s, const char *name)
{
    for (uint32_t i = 0; i < s->nmembers; i++)
        if (strcmp(s->members[i].name, name) == 0)
            return &s->members[i];
    return NULL;
}

/* FNV-1a over node, a NUL, and id: the same on every node (the index only speeds lookups;
 * nothing derived from it is hashed into the state or written). */
static uint32_t incident_key(const char *node, const char *id)
{
    uint32_t h = 2166136261u;
    for (const char *p = node; *p != '\0'; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h *= 16777619u;
    for (const char *p = id; *p != '\0'; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h;
}

static_assert(SWARM_INCIDENTS_MAX < UINT16_MAX, "index slots are uint16_t + 1");
static_assert((SWARM_INCIDENT_BUCKETS & (SWARM_INCIDENT_BUCKETS - 1)) == 0, "a power of two");

static void iidx_link(struct swarm_incident_index *x, uint32_t slot, uint32_t h)
{
    uint32_t b = h & (SWARM_INCIDENT_BUCKETS - 1);
    x->hash[slot] = h;
    x->next[slot] = x->head[b];
    x->head[b] = (uint16_t)(slot + 1);
}

static void iidx_unlink(struct swarm_incident_index *x, uint32_t slot)
{
    uint16_t *at = &x->head[x->hash[slot] & (SWARM_INCIDENT_BUCKETS - 1)];
    while (*at != 0 && *at != slot + 1)
        at = &x->next[*at - 1];
    if (PL_ALWAYS(*at != 0))
        *at = x->next[slot];
}

static void iidx_rebuild(struct swarm_state *s)
{
    struct swarm_incident_index *x = &s->iidx;
    memset(x->head, 0, sizeof(x->head));
    for (uint32_t i = 0; i < s->nincidents; i++)
        iidx_link(x, i, incident_key(s->incidents[i].node, s->incidents[i].id));
    x->n = s->nincidents;
}

static const struct swarm_incident *incident_scan(const struct swarm_state *s, const char *node,
                                                  const char *id)
{
    for (uint32_t i = s->nincidents; i-- > 0;)
        if (strcmp(s->incidents[i].id, id) == 0 && strcmp(s->incidents[i].node, node) == 0)
            return &s->incidents[i];
    return NULL;
}

const struct swarm_incident *swarm_incident_find(const struct swarm_state *s, const char *node,
                                                 const char *id)
{
    const struct swarm_incident_index *x = &s->iidx;
    if (x->n != s->nincidents)
        return incident_scan(s, node, id); /* a state built by hand: no index yet */
    /* (node, id) is unique: the first of the chain with both equal is the one. */
    uint32_t h = incident_key(node, id);
    const struct swarm_incident *found = NULL;
    for (uint16_t k = x->head[h & (SWARM_INCIDENT_BUCKETS - 1)]; k != 0 && found == NULL;
         k = x->next[k - 1]) {
        const struct swarm_incident *c = &s->incidents[k - 1];
        if (x->hash[k - 1] == h && strcmp(c->id, id) == 0 && strcmp(c->node, node) == 0)
            found = c;
    }
#ifdef PL_DEBUG
    PL_ALWAYS(found == incident_scan(s, node, id));
#endif
    return found;
}

const struct swarm_placement *swarm_placement_find(const struct swarm_state *s,
                                                   const char *service)
{
    for (uint32_t i = 0; i < s->nplacements; i++)
        if (strcmp(s->placements[i].service, service) == 0)
            return &s->placements[i];
    return NULL;
}

const struct swarm_decision *swarm_decision_find(const struct swarm_state *s, uint64_t index)
{
    for (uint32_t i = 0; i < s->ndecisions; i++)
        if (s->decisions[i].index == index)
            return &s->decisions[i];
    return NULL;
}

const struct swarm_rollout *swarm_rollout_find(const struct swarm_state *s, uint64_t index)
{
    for (uint32_t i = 0; i < s->nrollouts; i++)
        if (s->rollouts[i].index == index)
            return &s->rollouts[i];
    return NULL;
}

enum swarm_act_verdict swarm_decision_check(const struct swarm_decision *d, const char *self,
                                            uint64_t known_term)
{
    if (strcmp(d->node, self) != 0)
        return SWARM_ACT_NOT_MINE;
    if (d->state != SWARM_DECISION_PENDING)
        return SWARM_ACT_NOT_PENDING;
    /* Fencing: a healer of a newer term may have decided otherwise since. */
    if (d->term < known_term)
        return SWARM_ACT_STALE_TERM;
    return SWARM_ACT_GO;
}

int swarm_rollout_next(const struct swarm_rollout *r, const char **node)
{
    if (r->state != SWARM_ROLLOUT_RUNNING)
        return PL_ENOTFOUND;
    uint32_t decided = 0;
    for (uint32_t i = 0; i < r->nnodes; i++)
        decided += r->step[i] == SWARM_STEP_DECIDED;
    if (decided >= r->max_unavailable)
        return PL_ENOTFOUND;
    for (uint32_t i = 0; i < r->nnodes; i++) {
        if (r->step[i] == SWARM_STEP_TODO) {
            *node = r->nodes[i];
            return 0;
        }
    }
    return PL_ENOTFOUND;
}

const struct swarm_cluster *swarm_cluster_open_find(const struct swarm_state *s, const char *sig)
{
    for (uint32_t i = 0; i < s->nclusters; i++)
        if (!s->clusters[i].closed && strcmp(s->clusters[i].sig, sig) == 0)
            return &s->clusters[i];
    return NULL;
}

void swarm_rollout_step(const struct swarm_rollout *r, const char *node,
                        struct swarm_decision_body *out)
{
    memset(out, 0, sizeof(*out));
    out->action = r->op;
    out->rollout = r->index;
    snprintf(out->node, sizeof(out->node), "%s", node);
    snprintf(out->service, sizeof(out->service), "%s", r->service);
    snprintf(out->reason, sizeof(out->reason), "rollout %llu: %s %s on %s",
             (unsigned long long)r->index, swarm_op_name(r->op), r->service, node);
}

/* ---- apply ---- */

struct apply {
    struct swarm_state *s;
    const struct swarm_entry *e;
    struct swarm_applied *out;
};

static int reject(struct apply *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reject(struct apply *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->out->reason, sizeof(a->out->reason), fmt, ap);
    va_end(ap);
    a->out->outcome = SWARM_REJECTED;
    return 0;
}

/* The entry's body as kind k's struct: the caller's decoding when it gave one, else decoded
 * here (the same strict decoder either way). */
static int body_get(const struct apply *a, enum swarm_kind k, void *b, size_t size)
{
    if (a->e->decoded != NULL) {
        memcpy(b, a->e->decoded, size);
        return 0;
    }
    return swarm_body_decode(k, a->e->body, a->e->body_len, b, size, NULL);
}

static const char *decode_error(int rc)
{
    return rc == PL_ETOOBIG ? "body too large" : "body is not the kind's canonical encoding";
}

static void apply_member(struct apply *a)
{
    struct swarm_state *s = a->s;
    struct swarm_member_event b;
    int rc = body_get(a, SWARM_K_MEMBER, &b, sizeof(b));
    if (rc != 0 || b.node[0] == '\0') {
        reject(a, "member_event: %s", rc ? decode_error(rc) : "empty node name");
        return;
    }
    struct swarm_member *m = (struct swarm_member *)swarm_member_find(s, b.node);
    if (m == NULL) {
        if (s->nmembers == SWARM_MEMBERS_MAX) {
            reject(a, "member_event: more than %d members", SWARM_MEMBERS_MAX);
            return;
        }
        m = &s->members[s->nmembers++];
        memset(m, 0, sizeof(*m));
        snprintf(m->name, sizeof(m->name), "%s", b.node);
        item_fresh(s, IT_MEMBER, s->nmembers - 1);
    } else {
        /* An older life's news never overrides a newer one; at the same incarnation a
         * verdict of dead or left outranks alive (gossip's own order). */
        if (b.incarnation < m->incarnation ||
            (b.incarnation == m->incarnation && b.status <= m->status)) {
            a->out->outcome = SWARM_DUPLICATE;
            return;
        }
        item_touch(s, IT_MEMBER, (uint32_t)(m - s->members));
    }
    if (b.status == SWARM_MEMBER_DEAD && m->status != SWARM_MEMBER_DEAD) {
        /* Flapping: the death SWARM_FLAP_DEATHS - 1 before this one was inside the window
         * (times are the entries', so every node fences alike). */
        uint64_t t = a->e->time_ms;
        uint32_t k = m->ndeaths % SWARM_FLAP_DEATHS; /* the oldest of the ring */
        if (m->ndeaths >= SWARM_FLAP_DEATHS - 1) {
            uint64_t first = m->deaths[(m->ndeaths + 1) % SWARM_FLAP_DEATHS];
            if (t - PL_MIN(first, t) <= SWARM_FLAP_WINDOW_MS)
                m->fenced_until_ms = t + SWARM_FLAP_WINDOW_MS;
        }
        m->deaths[k] = t;
        if (m->ndeaths < UINT32_MAX)
            m->ndeaths++;
    }
    m->status = b.status;
    m->incarnation = b.incarnation;
    m->since_index = a->e->index;
}

/* Evicts the oldest closed incident (or, all open, the oldest) to make room. */
static void incident_evict(struct swarm_state *s)
{
    uint32_t victim = 0;
    for (uint32_t i = 1; i < s->nincidents; i++) {
        const struct swarm_incident *x = &s->incidents[i], *v = &s->incidents[victim];
        if (x->closed != v->closed ? x->closed : x->last_index < v->last_index)
            victim = i;
    }
    item_evict(s, IT_INCIDENT, victim, s->nincidents - 1);
    uint32_t last = s->nincidents - 1;
    struct swarm_incident_index *x = &s->iidx;
    bool indexed = x->n == s->nincidents;
    if (indexed) {
        /* The last slot's incident moves into the victim's. */
        uint32_t h = x->hash[last];
        iidx_unlink(x, victim);
        if (last != victim) {
            iidx_unlink(x, last);
            iidx_link(x, victim, h);
        }
    }
    s->incidents[victim] = s->incidents[--s->nincidents];
    if (indexed)
        x->n = s->nincidents;
    s->counters.evicted_incidents++;
}

static void learn_mix_cb(void *ctx, const struct swarm_learn_sig *sig,
                         const struct swarm_learn_svc *svc, int sign)
{
    struct swarm_state *s = ctx;
    if (sig != NULL)
        item_mix(s->hc.acc, IT_LEARN_SIG, sig, sign);
    else if (svc != NULL)
        item_mix(s->hc.acc, IT_LEARN_SVC, svc, sign);
    else
        item_mix(s->hc.acc, IT_LEARN, &s->learn, sign);
}

static void learn_key(const struct swarm_incident *x, struct swarm_learn_key *k)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->service, sizeof(k->service), "%s", x->service);
    k->cls = x->learn_cls;
    k->cause = x->learn_cause;
    k->signal = x->learn_signal;
    k->feature = x->learn_feature;
}

/* The incident's first diagnosis with the node's facts: its signature is learned on. */
static void learn_note(struct apply *a, struct swarm_incident *x,
                       const struct swarm_incident_event *b)
{
    x->learnable = true;
    x->learn_cls = b->cls;
    x->learn_cause = b->cause;
    x->learn_signal = b->signal;
    x->learn_feature = SWARM_FACTS_FEATURE(b->result);
    struct swarm_learn_key k;
    learn_key(x, &k);
    struct swarm_learn_draw d = {.index = a->e->index, .term = a->e->term, .incident = x->id};
    struct swarm_learn_hook h = {.ctx = a->s, .mix_cb = learn_mix_cb};
    swarm_learn_note(&a->s->learn, &k, SWARM_FACTS_CANDIDATES(b->result),
                     SWARM_FACTS_RULES_FIRST(b->result), &d, &h);
}

/* The lesson of a closed incident: healed (verified within the verify window) or not (an
 * operator stopped it after the node's actions, it recovered on its own, ...). */
static void learn_outcome(struct apply *a, struct swarm_incident *x)
{
    struct swarm_learn_key k;
    learn_key(x, &k);
    struct swarm_learn_draw d = {.index = a->e->index, .term = a->e->term, .incident = x->id};
    struct swarm_learn_hook h = {.ctx = a->s, .mix_cb = learn_mix_cb};
    swarm_learn_outcome(&a->s->learn, &k, x->acts, x->nacts, strcmp(x->outcome, "healed") == 0,
                        &d, &h);
}

static void apply_incident(struct apply *a)
{
    struct swarm_state *s = a->s;
    struct swarm_incident_event b;
    int rc = body_get(a, SWARM_K_INCIDENT, &b, sizeof(b));
    if (rc != 0 || b.node[0] == '\0' || b.id[0] == '\0') {
        reject(a, "incident: %s", rc ? decode_error(rc) : "empty node or incident id");
        return;
    }
    if (s->iidx.n != s->nincidents)
        iidx_rebuild(s);
    struct swarm_incident *x = (struct swarm_incident *)swarm_incident_find(s, b.node, b.id);
    if (x != NULL && b.seq <= x->last_seq) {
        a->out->outcome = SWARM_DUPLICATE;
        return;
    }
    if (x != NULL && x->closed) {
        reject(a, "incident: %s of %s is closed; step %u comes after its close", b.id, b.node,
               b.seq);
        return;
    }
    if (x == NULL) {
        if (s->nincidents == SWARM_INCIDENTS_MAX)
            incident_evict(s);
        x = &s->incidents[s->nincidents++];
        memset(x, 0, sizeof(*x));
        snprintf(x->node, sizeof(x->node), "%s", b.node);
        snprintf(x->id, sizeof(x->id), "%s", b.id);
        snprintf(x->service, sizeof(x->service), "%s", b.service);
        if (s->iidx.n + 1 == s->nincidents) {
            iidx_link(&s->iidx, s->nincidents - 1, incident_key(x->node, x->id));
            s->iidx.n = s->nincidents;
        }
        x->opened_ms = b.t_ms;
        x->first_index = a->e->index;
        item_fresh(s, IT_INCIDENT, s->nincidents - 1);
    } else {
        item_touch(s, IT_INCIDENT, (uint32_t)(x - s->incidents));
    }
    x->last_seq = b.seq;
    x->last_index = a->e->index;
    if (b.level > x->level)
        x->level = b.level;
    if (b.cls != 0) {
        x->cls = b.cls;
        x->cause = b.cause;
        x->signal = b.signal;
    }
    /* heal_event_kind: 1 = diagnosed, 2 = action, 9 = closed (append-only numbers). */
    if (b.event == 2 && x->actions < UINT32_MAX)
        x->actions++;
    if (b.event == 2) {
        /* The latest tries are kept: the last one is what a heal credits. */
        if (x->nacts == SWARM_LEARN_ACTS_MAX) {
            memmove(x->acts, x->acts + 1, SWARM_LEARN_ACTS_MAX - 1);
            x->nacts--;
        }
        x->acts[x->nacts++] = b.action;
    }
    bool close = b.event == 9 || b.outcome[0] != '\0';
    if (close) {
        x->closed = true;
        x->closed_ms = b.t_ms;
        snprintf(x->outcome, sizeof(x->outcome), "%s", b.outcome[0] ? b.outcome : "closed");
    }
    if (b.event == 1 && b.result > 0 && !x->learnable && !close)
        learn_note(a, x, &b);
    else if (close && x->learnable)
        learn_outcome(a, x);
}

static uint32_t decisions_in_flight(const struct swarm_state *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->ndecisions; i++)
        n += s->decisions[i].state == SWARM_DECISION_PENDING;
    return n;
}

/* The rollout and position of `node` in it, for a decision that names the rollout. */
static struct swarm_rollout *rollout_slot(struct swarm_state *s, uint64_t index, const char *node,
                                          uint32_t *pos)
{
    struct swarm_rollout *r = (struct swarm_rollout *)swarm_rollout_find(s, index);
    for (uint32_t i = 0; r != NULL && i < r->nnodes; i++) {
        if (strcmp(r->nodes[i], node) == 0) {
            *pos = i;
            return r;
        }
    }
    return NULL;
}

/* Whether `d` touched its node within the window before `time_ms`; refused and skipped
 * decisions touched nothing. */
static bool touched_in_window(const struct swarm_state *s, const struct swarm_decision *d,
                              uint64_t time_ms)
{
    return d->state != SWARM_DECISION_REFUSED && d->state != SWARM_DECISION_SKIPPED &&
           d->time_ms + s->window_ms > time_ms;
}

/* The blast radius (swarm.h): whether a new decision for `node` at `time_ms` must wait. */
static bool past_blast_radius(const struct swarm_state *s, const char *node, uint64_t time_ms)
{
    if (decisions_in_flight(s) >= s->max_in_flight)
        return true;
    if (s->max_fleet_pct >= 100)
        return false;
    /* Distinct nodes touched within the window (the new one included). Times are the
     * entries', so every node counts alike. */
    uint32_t touched = 1, fleet = 0;
    for (uint32_t i = 0; i < s->ndecisions; i++) {
        const struct swarm_decision *d = &s->decisions[i];
        if (!touched_in_window(s, d, time_ms) || strcmp(d->node, node) == 0)
            continue;
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = strcmp(s->decisions[j].node, d->node) == 0 &&
                   touched_in_window(s, &s->decisions[j], time_ms);
        touched += !seen;
    }
    for (uint32_t i = 0; i < s->nmembers; i++)
        fleet += s->members[i].status != SWARM_MEMBER_LEFT;
    if (fleet == 0)
        fleet = touched;
    return (uint64_t)touched * 100 > (uint64_t)s->max_fleet_pct * fleet;
}

static void apply_decision(struct apply *a)
{
    struct swarm_state *s = a->s;
    struct swarm_decision_body b;
    int rc = body_get(a, SWARM_K_DECISION, &b, sizeof(b));
    if (rc != 0 || b.node[0] == '\0' || b.service[0] == '\0') {
        reject(a, "decision: %s", rc ? decode_error(rc) : "empty node or service");
        return;
    }
    uint32_t pos = 0;
    struct swarm_rollout *r = NULL;
    if (b.rollout != 0) {
        /* A rollout's step: one decision per node until it is answered, so a second
         * healer (an older term's, or a retry) cannot order the same node twice. */
        r = rollout_slot(s, b.rollout, b.node, &pos);
        if (r == NULL) {
            reject(a, "decision: rollout %llu has no node %s", (unsigned long long)b.rollout,
                   b.node);
            return;
        }
        if (r->state != SWARM_ROLLOUT_RUNNING || r->step[pos] != SWARM_STEP_TODO ||
            strcmp(r->service, b.service) != 0 || r->op != b.action) {
            reject(a, "decision: rollout %llu: %s is %s (rollout %s)",
                   (unsigned long long)b.rollout, b.node, swarm_step_state_name(r->step[pos]),
                   swarm_rollout_state_name(r->state));
            return;
        }
    }
    if (s->ndecisions == SWARM_DECISIONS_MAX) {
        /* The oldest finished one goes; with none finished the council is stuck, and a new
         * order is refused rather than forgetting one that may still be acted on. */
        uint32_t victim = UINT32_MAX;
        for (uint32_t i = 0; i < s->ndecisions; i++) {
            const struct swarm_decision *d = &s->decisions[i];
            if (swarm_decision_finished(d->state) &&
                (victim == UINT32_MAX || d->index < s->decisions[victim].index))
                victim = i;
        }
        if (victim == UINT32_MAX) {
            reject(a, "decision: %d decisions not yet done", SWARM_DECISIONS_MAX);
            return;
        }
        item_evict(s, IT_DECISION, victim, s->ndecisions - 1);
        s->decisions[victim] = s->decisions[--s->ndecisions];
        s->counters.evicted_decisions++;
    }
    bool wait = past_blast_radius(s, b.node, a->e->time_ms);
    struct swarm_decision *d = &s->decisions[s->ndecisions++];
    memset(d, 0, sizeof(*d));
    d->index = a->e->index;
    d->term = a->e->term;
    d->time_ms = a->e->time_ms;
    snprintf(d->node, sizeof(d->node), "%s", b.node);
    snprintf(d->service, sizeof(d->service), "%s", b.service);
    d->action = b.action;
    snprintf(d->incident, sizeof(d->incident), "%s", b.incident);
    d->rollout = b.rollout;
    d->state = wait ? SWARM_DECISION_WAITING : SWARM_DECISION_PENDING;
    item_fresh(s, IT_DECISION, s->ndecisions - 1);
    a->out->decision = d;
    if (r != NULL) {
        item_touch(s, IT_ROLLOUT, (uint32_t)(r - s->rollouts));
        r->step[pos] = SWARM_STEP_DECIDED;
        r->decision[pos] = d->index;
        a->out->rollout = r;
    }
}

/* A rollout's step answered: done, skipped, failed (the rollout halts) or refused (to be
 * decided again). */
static void rollout_answer(struct apply *a, const struct swarm_decision *d)
{
    uint32_t pos = 0;
    struct swarm_rollout *r = rollout_slot(a->s, d->rollout, d->node, &pos);
    if (r == NULL || r->decision[pos] != d->index || r->step[pos] != SWARM_STEP_DECIDED)
        return;
    item_touch(a->s, IT_ROLLOUT, (uint32_t)(r - a->s->rollouts));
    switch (d->state) {
    case SWARM_DECISION_DONE:
        r->step[pos] = SWARM_STEP_DONE;
        break;
    case SWARM_DECISION_SKIPPED:
        r->step[pos] = SWARM_STEP_SKIPPED;
        break;
    case SWARM_DECISION_REFUSED:
        r->step[pos] = SWARM_STEP_TODO;
        break;
    default:
        r->step[pos] = SWARM_STEP_FAILED;
        r->state = SWARM_ROLLOUT_HALTED;
        break;
    }
    bool all = r->state == SWARM_ROLLOUT_RUNNING;
    for (uint32_t i = 0; all && i < r->nnodes; i++)
        all = r->step[i] == SWARM_STEP_DONE || r->step[i] == SWARM_STEP_SKIPPED;
    if (all)
        r->state = SWARM_ROLLOUT_DONE;
    a->out->rollout = r;
}

static void apply_action_result(struct apply *a)
{
    struct swarm_state *s = a->s;
    struct swarm_action_result b;
    int rc = body_get(a, SWARM_K_ACTION_RESULT, &b, sizeof(b));
    if (rc != 0) {
        reject(a, "action_result: %s", decode_error(rc));
        return;
    }
    struct swarm_decision *d = (struct swarm_decision *)swarm_decision_find(s, b.decision);
    if (d == NULL) {
        reject(a, "action_result: no decision at index %llu", (unsigned long long)b.decision);
        return;
    }
    if (strcmp(d->node, b.node) != 0) {
        reject(a, "action_result: decision %llu names %s, not %s",
               (unsigned long long)b.decision, d->node, b.node);
        return;
    }
    if (swarm_decision_finished(d->state)) {
        a->out->outcome = SWARM_DUPLICATE;
        a->out->decision = d;
        return;
    }
    item_touch(s, IT_DECISION, (uint32_t)(d - s->decisions));
    d->state = b.result == 0               ? SWARM_DECISION_DONE
               : b.result == PL_ESTALE     ? SWARM_DECISION_REFUSED
               : b.result == PL_ENOTFOUND  ? SWARM_DECISION_SKIPPED
                                           : SWARM_DECISION_FAILED;
    d->result = b.result;
    d->result_index = a->e->index;
    a->out->decision = d;
    if (d->rollout != 0)
        rollout_answer(a, d);
}

static void apply_approval(struct apply *a)
{
    struct swarm_state *s = a->s;
    struct swarm_approval b;
    int rc = body_get(a, SWARM_K_APPROVAL, &b, sizeof(b));
    if (rc != 0) {
        reject(a, "approval: %s", decode_error(rc));
        return;
    }
    struct swarm_decision *d = (struct swarm_decision *)swarm_decision_find(s, b.decision);
    if (d == NULL) {
        reject(a, "approval: no decision at index %llu", (unsigned long long)b.decision);
        return;
    }
    if (d->state != SWARM_DECISION_WAITING) {
        a->out->outcome = SWARM_DUPLICATE;
        a->out->decision = d;
        return;
    }
    item_touch(s, IT_DECISION, (uint32_t)(d - s->decisions));
    d->state = SWARM_DECISION_PENDING;
    a->out->decision = d;
}

static void apply_placement(struct apply *a)
{
    struct swarm_state *s = a->s;
    struct swarm_placement_body b;
    int rc = body_get(a, SWARM_K_PLACEMENT, &b, sizeof(b));
    if (rc != 0 || b.service[0] == '\0' || b.node[0] == '\0') {
        reject(a, "placement: %s", rc ? decode_error(rc) : "empty service or node");
        return;
    }
    struct swarm_placement *p = (struct swarm_placement *)swarm_placement_find(s, b.service);
    /* The guard: a move names where it moves from, and must find the service there. */
    const char *at = p != NULL ? p->node : "";
    if (strcmp(at, b.prev) != 0) {
        reject(a, "placement: stale move of %s from '%s': it is on '%s'", b.service, b.prev, at);
        return;
    }
    if (strcmp(at, b.node) == 0) {
        reject(a, "placement: %s is already on %s", b.service, b.node);
        return;
    }
    const struct swarm_member *m = swarm_member_find(s, b.node);
    if (m == NULL || m->status != SWARM_MEMBER_ALIVE) {
        reject(a, "placement: %s is not an alive member", b.node);
        return;
    }
    if (swarm_member_fenced(m, a->e->time_ms)) {
        reject(a, "placement: %s is fenced for flapping", b.node);
        return;
    }
    if (p == NULL) {
        if (s->nplacements == SWARM_PLACEMENTS_MAX) {
            reject(a, "placement: more than %d placed services", SWARM_PLACEMENTS_MAX);
            return;
        }
        p = &s->placements[s->nplacements++];
        memset(p, 0, sizeof(*p));
        snprintf(p->service, sizeof(p->service), "%s", b.service);
        item_fresh(s, IT_PLACEMENT, s->nplacements - 1);
    } else {
        item_touch(s, IT_PLACEMENT, (uint32_t)(p - s->placements));
        p->moves++;
    }
    snprintf(p->prev, sizeof(p->prev), "%s", b.prev);
    snprintf(p->node, sizeof(p->node), "%s", b.node);
    p->index = a->e->index;
    p->term = a->e->term;
    a->out->placement = p;
}

static void apply_policy(struct apply *a)
{
    struct swarm_state *s = a->s;
    struct swarm_policy_body b;
    int rc = body_get(a, SWARM_K_POLICY, &b, sizeof(b));
    if (rc != 0) {
        reject(a, "policy: %s", decode_error(rc));
        return;
    }
    if (b.max_in_flight < 1 || b.max_fleet_pct < 1 || b.max_fleet_pct > 100 || b.window_ms < 1) {
        reject(a, "policy: need max_in_flight >= 1, max_fleet_pct 1..100, window_ms >= 1 "
                  "(got %u, %u, %llu)", b.max_in_flight, b.max_fleet_pct,
               (unsigned long long)b.window_ms);
        return;
    }
    /* The policy lives in the counters item, mixed out and in by swarm_apply. */
    s->max_in_flight = b.max_in_flight;
    s->max_fleet_pct = b.max_fleet_pct;
    s->window_ms = b.window_ms;
    s->policy_index = a->e->index;
}

static void apply_rollout(struct apply *a)
{
    struct swarm_state *s = a->s;
    struct swarm_rollout_body b;
    int rc = body_get(a, SWARM_K_ROLLOUT, &b, sizeof(b));
    if (rc != 0 || b.service[0] == '\0' || swarm_op_name(b.op)[0] == '\0' ||
        b.max_unavailable < 1) {
        reject(a, "rollout: %s", rc ? decode_error(rc)
                                    : "need a service, op restart|stop|start and "
                                      "max_unavailable >= 1");
        return;
    }
    for (uint32_t i = 0; i < s->nrollouts; i++) {
        if (s->rollouts[i].state == SWARM_ROLLOUT_RUNNING &&
            strcmp(s->rollouts[i].service, b.service) == 0) {
            reject(a, "rollout: rollout %llu of %s is still running",
                   (unsigned long long)s->rollouts[i].index, b.service);
            return;
        }
    }
    /* Its nodes: the members alive now, by name (the same order on every node). */
    const char *names[SWARM_ROLLOUT_NODES_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nmembers; i++) {
        if (s->members[i].status != SWARM_MEMBER_ALIVE)
            continue;
        if (n == SWARM_ROLLOUT_NODES_MAX) {
            reject(a, "rollout: more than %d members alive", SWARM_ROLLOUT_NODES_MAX);
            return;
        }
        const char *x = s->members[i].name;
        uint32_t j = n++;
        for (; j > 0 && strcmp(names[j - 1], x) > 0; j--)
            names[j] = names[j - 1];
        names[j] = x;
    }
    if (n == 0) {
        reject(a, "rollout: no member is alive");
        return;
    }
    if (s->nrollouts == SWARM_ROLLOUTS_MAX) {
        uint32_t victim = UINT32_MAX;
        for (uint32_t i = 0; i < s->nrollouts; i++)
            if (s->rollouts[i].state != SWARM_ROLLOUT_RUNNING &&
                (victim == UINT32_MAX || s->rollouts[i].index < s->rollouts[victim].index))
                victim = i;
        if (victim == UINT32_MAX) {
            reject(a, "rollout: %d rollouts running", SWARM_ROLLOUTS_MAX);
            return;
        }
        item_evict(s, IT_ROLLOUT, victim, s->nrollouts - 1);
        s->rollouts[victim] = s->rollouts[--s->nrollouts];
    }
    struct swarm_rollout *r = &s->rollouts[s->nrollouts++];
    memset(r, 0, sizeof(*r));
    r->index = a->e->index;
    r->term = a->e->term;
    r->time_ms = a->e->time_ms;
    snprintf(r->service, sizeof(r->service), "%s", b.service);
    r->op = b.op;
    r->max_unavailable = b.max_unavailable;
    snprintf(r->by, sizeof(r->by), "%s", b.by);
    r->state = SWARM_ROLLOUT_RUNNING;
    r->nnodes = n;
    for (uint32_t i = 0; i < n; i++)
        snprintf(r->nodes[i], sizeof(r->nodes[i]), "%s", names[i]);
    item_fresh(s, IT_ROLLOUT, s->nrollouts - 1);
    a->out->rollout = r;
}

/* A cluster incident opens once per signature (a second open while one is open is a
 * duplicate: two leaders, or one proposing twice), closes once, and escalates when it
 * opens: one escalation for the cluster, whatever the number of nodes. The oldest closed
 * one makes room; with all open, a new one is rejected. */
static void apply_cluster(struct apply *a)
{
    struct swarm_state *s = a->s;
    struct swarm_cluster_body b;
    int rc = body_get(a, SWARM_K_CLUSTER_INCIDENT, &b, sizeof(b));
    if (rc != 0 || b.id[0] == '\0' || b.sig[0] == '\0') {
        reject(a, "cluster_incident: %s", rc ? decode_error(rc) : "empty id or signature");
        return;
    }
    struct swarm_cluster *x = NULL;
    for (uint32_t i = 0; i < s->nclusters && x == NULL; i++)
        if (strcmp(s->clusters[i].id, b.id) == 0)
            x = &s->clusters[i];
    if (b.event == SWARM_CLUSTER_CLOSE) {
        if (x == NULL) {
            reject(a, "cluster_incident: no cluster incident %s to close", b.id);
            return;
        }
        a->out->cluster = x;
        if (x->closed) {
            a->out->outcome = SWARM_DUPLICATE;
            return;
        }
        item_touch(s, IT_CLUSTER, (uint32_t)(x - s->clusters));
        x->closed = true;
        x->closed_index = a->e->index;
        x->closed_ms = a->e->time_ms;
        return;
    }
    if (x != NULL || swarm_cluster_open_find(s, b.sig) != NULL) {
        a->out->outcome = SWARM_DUPLICATE;
        a->out->cluster = x != NULL ? x : swarm_cluster_open_find(s, b.sig);
        return;
    }
    if (s->nclusters == SWARM_CLUSTERS_MAX) {
        uint32_t victim = UINT32_MAX;
        for (uint32_t i = 0; i < s->nclusters; i++)
            if (s->clusters[i].closed &&
                (victim == UINT32_MAX || s->clusters[i].closed_index < s->clusters[victim].closed_index))
                victim = i;
        if (victim == UINT32_MAX) {
            reject(a, "cluster_incident: %d cluster incidents open", SWARM_CLUSTERS_MAX);
            return;
        }
        item_evict(s, IT_CLUSTER, victim, s->nclusters - 1);
        s->clusters[victim] = s->clusters[--s->nclusters];
    }
    x = &s->clusters[s->nclusters++];
    memset(x, 0, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", b.id);
    snprintf(x->sig, sizeof(x->sig), "%s", b.sig);
    snprintf(x->service, sizeof(x->service), "%s", b.service);
    x->cause = b.cause;
    x->nodes = x->nodes_max = b.nodes;
    x->members = b.members;
    x->escalated = true;
    x->opened_index = a->e->index;
    x->opened_ms = a->e->time_ms;
    item_fresh(s, IT_CLUSTER, s->nclusters - 1);
    a->out->cluster = x;
}

/* Council changes are the leader's record of what it did to Raft's configuration: kept in
 * a ring of the newest, counted ever. */
static void apply_council(struct apply *a)
{
    struct swarm_state *s = a->s;
    struct swarm_council_body b;
    int rc = body_get(a, SWARM_K_COUNCIL, &b, sizeof(b));
    if (rc != 0 || b.node[0] == '\0') {
        reject(a, "council: %s", rc ? decode_error(rc) : "empty node name");
        return;
    }
    struct swarm_council_change *k = &s->council[s->council_changes % SWARM_COUNCIL_LOG_MAX];
    if (s->ncouncil == SWARM_COUNCIL_LOG_MAX) {
        item_touch(s, IT_COUNCIL, (uint32_t)(k - s->council));
    } else {
        s->ncouncil++;
        item_fresh(s, IT_COUNCIL, (uint32_t)(k - s->council));
    }
    memset(k, 0, sizeof(*k));
    k->index = a->e->index;
    k->time_ms = a->e->time_ms;
    k->op = b.op;
    snprintf(k->node, sizeof(k->node), "%s", b.node);
    k->voters = b.voters;
    s->council_changes++;
}

int swarm_apply(struct swarm_state *s, const struct swarm_entry *e, struct swarm_applied *out)
{
    memset(out, 0, sizeof(*out));
    if (e->index != s->applied_index + 1)
        return PL_ESTATE;
    struct apply a = {.s = s, .e = e, .out = out};
    /* The counters item changes with every entry: it is hashed when the hash is synced. */
    s->hc.stale = true;
    out->kind = swarm_kind_parse(e->kind, e->kind_len);
    out->outcome = SWARM_APPLIED;
    switch (out->kind) {
    case SWARM_K_MEMBER:
        apply_member(&a);
        break;
    case SWARM_K_INCIDENT:
        apply_incident(&a);
        break;
    case SWARM_K_DECISION:
        apply_decision(&a);
        break;
    case SWARM_K_ACTION_RESULT:
        apply_action_result(&a);
        break;
    case SWARM_K_APPROVAL:
        apply_approval(&a);
        break;
    case SWARM_K_PLACEMENT:
        apply_placement(&a);
        break;
    case SWARM_K_POLICY:
        apply_policy(&a);
        break;
    case SWARM_K_ROLLOUT:
        apply_rollout(&a);
        break;
    case SWARM_K_CLUSTER_INCIDENT:
        apply_cluster(&a);
        break;
    case SWARM_K_COUNCIL:
        apply_council(&a);
        break;
    default:
        out->outcome = SWARM_IGNORED_FOREIGN;
        break;
    }
    s->applied_index = e->index;
    s->applied_term = e->term;
    if (e->term > s->max_term)
        s->max_term = e->term;
    switch (out->outcome) {
    case SWARM_APPLIED:
        s->counters.applied++;
        break;
    case SWARM_DUPLICATE:
        s->counters.duplicates++;
        break;
    case SWARM_IGNORED_FOREIGN:
        s->counters.foreign++;
        break;
    default:
        s->counters.rejected++;
        snprintf(s->last_rejection, sizeof(s->last_rejection), "%s", out->reason);
        break;
    }
    if (!s->hc.defer)
        swarm_state_hash_sync(s);
    return 0;
}
