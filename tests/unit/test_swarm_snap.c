/*
 * Unit tests of the swarm state snapshot codec (node/swarm/swarm_snap.c).
 *
 * The coverage test is the point: a field added to struct swarm_state (or to one of its
 * items) and not to the codec's tables fails here, two ways. The tables must tile every
 * struct (each gap between the fields they name smaller than the next field's alignment:
 * padding, not a forgotten field), and a state built through entries of every kind and
 * outcome must come back from encode -> decode byte for byte (strings' tails and unused
 * slots aside), with the same recomputed hash and the same re-encoding, and then go on
 * applying entries in lockstep with the original.
 *
 * `test_swarm_snap --seeds DIR` writes real snapshots as fuzz seeds (tests/fuzz/corpus).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_err.h"
#include "pl_rand.h"
#include "swarm.h"
#include "swarm_snap.h"

/* ---- building states through entries ---- */

struct rig {
    struct swarm_state *s;
    uint64_t term;
    uint64_t time_ms;
    struct swarm_applied out;
};

static void rig_init(struct rig *r)
{
    r->s = malloc(sizeof(*r->s));
    assert_non_null(r->s);
    swarm_state_init(r->s);
    r->term = 1;
    r->time_ms = 1700000000000ull;
}

static enum swarm_outcome apply_raw(struct rig *r, const char *kind, const uint8_t *body,
                                    size_t len)
{
    r->time_ms += 1000;
    struct swarm_entry e = {.index = r->s->applied_index + 1, .term = r->term,
                            .time_ms = r->time_ms, .kind = kind, .kind_len = strlen(kind),
                            .body = body, .body_len = len};
    assert_int_equal(swarm_apply(r->s, &e, &r->out), 0);
    return r->out.outcome;
}

#define APPLY(r, kind, fn, body)                                                              \
    ({                                                                                         \
        struct pl_buf b_;                                                                      \
        pl_buf_init(&b_, SWARM_BODY_BYTES_MAX);                                                \
        assert_int_equal(fn(body, &b_), 0);                                                    \
        enum swarm_outcome o_ = apply_raw(r, kind, b_.data, b_.len);                           \
        pl_buf_close(&b_);                                                                     \
        o_;                                                                                    \
    })

static void member(struct rig *r, const char *node, enum swarm_member_status st, uint64_t inc)
{
    struct swarm_member_event m = {.status = st, .incarnation = inc};
    snprintf(m.node, sizeof(m.node), "%s", node);
    APPLY(r, "member_event", swarm_member_event_encode, &m);
}

static void step(struct rig *r, const char *node, const char *id, uint32_t seq, uint8_t event,
                 const char *outcome)
{
    struct swarm_incident_event b;
    memset(&b, 0, sizeof(b));
    snprintf(b.node, sizeof(b.node), "%s", node);
    snprintf(b.id, sizeof(b.id), "%s", id);
    snprintf(b.service, sizeof(b.service), "svc-%s", node);
    snprintf(b.outcome, sizeof(b.outcome), "%s", outcome);
    b.seq = seq;
    b.event = event;
    b.cls = (uint8_t)(1 + seq % 5);
    b.cause = (uint8_t)(2 + seq % 7);
    b.signal = (uint8_t)(1 + seq % 3);
    b.level = (uint8_t)(seq % 4);
    b.result = -(int32_t)seq;
    /* A diagnosis carries the learning's facts; an action names what was tried. */
    if (event == 1)
        b.result = SWARM_FACTS(0x362, seq % 10, 1);
    if (event == 2)
        b.action = (uint8_t)(seq % 10);
    b.t_ms = r->time_ms;
    snprintf(b.detail, sizeof(b.detail), "step %u", seq);
    APPLY(r, "incident", swarm_incident_event_encode, &b);
}

static uint64_t decide(struct rig *r, const char *node, const char *svc, const char *incident)
{
    struct swarm_decision_body d = {.action = 3};
    snprintf(d.node, sizeof(d.node), "%s", node);
    snprintf(d.service, sizeof(d.service), "%s", svc);
    snprintf(d.incident, sizeof(d.incident), "%s", incident);
    snprintf(d.reason, sizeof(d.reason), "because");
    APPLY(r, "decision", swarm_decision_encode, &d);
    return r->s->applied_index;
}

static void result(struct rig *r, uint64_t decision, const char *node, int32_t rc)
{
    struct swarm_action_result b = {.decision = decision, .result = rc};
    snprintf(b.node, sizeof(b.node), "%s", node);
    APPLY(r, "action_result", swarm_action_result_encode, &b);
}

static void approve(struct rig *r, uint64_t decision)
{
    struct swarm_approval b = {.decision = decision, .by = "operator"};
    APPLY(r, "approval", swarm_approval_encode, &b);
}

static void place(struct rig *r, const char *svc, const char *node, const char *prev)
{
    struct swarm_placement_body p;
    memset(&p, 0, sizeof(p));
    snprintf(p.service, sizeof(p.service), "%s", svc);
    snprintf(p.node, sizeof(p.node), "%s", node);
    snprintf(p.prev, sizeof(p.prev), "%s", prev);
    APPLY(r, "placement", swarm_placement_encode, &p);
}

static void policy(struct rig *r, uint32_t k, uint32_t pct, uint64_t window_ms)
{
    struct swarm_policy_body b = {.max_in_flight = k, .max_fleet_pct = pct,
                                  .window_ms = window_ms};
    APPLY(r, "policy", swarm_policy_encode, &b);
}

static void rollout(struct rig *r, const char *svc, uint32_t max_unavailable)
{
    struct swarm_rollout_body b = {.op = SWARM_OP_RESTART, .max_unavailable = max_unavailable};
    snprintf(b.service, sizeof(b.service), "%s", svc);
    snprintf(b.by, sizeof(b.by), "operator");
    APPLY(r, "rollout", swarm_rollout_encode, &b);
}

/* The healer's next decision for a running rollout, as the agent would propose it. */
static void rollout_step(struct rig *r)
{
    for (uint32_t i = 0; i < r->s->nrollouts; i++) {
        const struct swarm_rollout *ro = &r->s->rollouts[i];
        const char *node;
        if (ro->state != SWARM_ROLLOUT_RUNNING || swarm_rollout_next(ro, &node) != 0)
            continue;
        struct swarm_decision_body d = {.action = ro->op, .rollout = ro->index};
        snprintf(d.node, sizeof(d.node), "%s", node);
        snprintf(d.service, sizeof(d.service), "%s", ro->service);
        APPLY(r, "decision", swarm_decision_encode, &d);
        return;
    }
}

/*
 * Step `i` of a stream that, over a few hundred steps, reaches every kind and every outcome
 * the machine has: members joining, dying (often enough to be fenced), leaving and coming
 * back; incidents opened, stepped, duplicated, closed, stepped after their close, and
 * evicted; decisions pending, waiting, approved, done, failed and evicted; placements and
 * guarded moves (some refused); foreign entries; bodies that do not decode.
 * Extend it when the machine learns a new kind: the coverage test only sees what it builds.
 */
static void stream_step(struct rig *r, struct pl_rand *rnd, int i)
{
    char node[16], id[32], svc[16];
    uint32_t k = (uint32_t)pl_rand_below(rnd, 6);
    snprintf(node, sizeof(node), "n%u", k);
    snprintf(id, sizeof(id), "inc-%u-%d", k, i / 40);
    snprintf(svc, sizeof(svc), "svc%u", k % 3);
    if (i % 97 == 0)
        r->term++;
    switch (pl_rand_below(rnd, 14)) {
    case 0:
        member(r, node, (enum swarm_member_status)pl_rand_below(rnd, 3), pl_rand_below(rnd, 3));
        break;
    case 1:
        member(r, node, SWARM_MEMBER_DEAD, (uint64_t)i);
        member(r, node, SWARM_MEMBER_ALIVE, (uint64_t)i + 1);
        break;
    case 2:
    case 3:
        step(r, node, id, (uint32_t)(i % 40) / 4 + (uint32_t)pl_rand_below(rnd, 2),
             (uint8_t)pl_rand_below(rnd, 9), "");
        break;
    case 4:
        step(r, node, id, 20, 9, pl_rand_below(rnd, 2) ? "healed" : "failed");
        break;
    case 5: {
        uint64_t d = decide(r, node, svc, pl_rand_below(rnd, 2) ? id : "");
        if (pl_rand_below(rnd, 3) == 0)
            approve(r, d);
        break;
    }
    case 6:
        if (r->s->ndecisions > 0) {
            const struct swarm_decision *d =
                &r->s->decisions[pl_rand_below(rnd, r->s->ndecisions)];
            uint64_t di = d->index;
            char dn[SWARM_NAME_MAX];
            snprintf(dn, sizeof(dn), "%s", d->node);
            if (d->state == SWARM_DECISION_WAITING)
                approve(r, di);
            result(r, di, pl_rand_below(rnd, 8) ? dn : "stranger",
                   pl_rand_below(rnd, 3) ? 0 : -1013);
        }
        break;
    case 7: {
        const struct swarm_placement *p = swarm_placement_find(r->s, svc);
        char prev[SWARM_NAME_MAX];
        snprintf(prev, sizeof(prev), "%s", p ? p->node : "");
        place(r, svc, node, pl_rand_below(rnd, 5) ? prev : "nowhere");
        break;
    }
    case 11:
        if (pl_rand_below(rnd, 4) == 0)
            policy(r, 1 + (uint32_t)pl_rand_below(rnd, 4), 10 + (uint32_t)pl_rand_below(rnd, 91),
                   1000 + pl_rand_below(rnd, 100000));
        else
            rollout(r, svc, 1 + (uint32_t)pl_rand_below(rnd, 2));
        break;
    case 12:
        rollout_step(r);
        break;
    case 13: {
        /* Cluster incidents opened and closed (some closes for nothing), council changes. */
        char sig[32], cid[48];
        snprintf(sig, sizeof(sig), "%s:check:status", svc);
        const struct swarm_cluster *x = swarm_cluster_open_find(r->s, sig);
        struct swarm_cluster_body c = {.event = SWARM_CLUSTER_OPEN, .cause = 6, .nodes = 3,
                                       .members = 5};
        snprintf(c.id, sizeof(c.id), "%s@%d", sig, i);
        if (x != NULL && pl_rand_below(rnd, 2) == 0) {
            snprintf(cid, sizeof(cid), "%s", pl_rand_below(rnd, 4) ? x->id : "nothing");
            snprintf(c.id, sizeof(c.id), "%s", cid);
            c.event = SWARM_CLUSTER_CLOSE;
        }
        snprintf(c.sig, sizeof(c.sig), "%s", sig);
        snprintf(c.service, sizeof(c.service), "%s", svc);
        if (pl_rand_below(rnd, 3) == 0) {
            struct swarm_council_body kb = {.op = (enum swarm_council_op)pl_rand_below(rnd, 3),
                                            .voters = 3};
            snprintf(kb.node, sizeof(kb.node), "%s", node);
            APPLY(r, "council", swarm_council_encode, &kb);
        } else {
            APPLY(r, "cluster_incident", swarm_cluster_encode, &c);
        }
        break;
    }
    case 8:
        apply_raw(r, "note", (const uint8_t *)"\x81\xa1x\x01", 4);
        break;
    case 9:
        apply_raw(r, swarm_kind_name((enum swarm_kind)(1 + pl_rand_below(rnd, SWARM_K_COUNT - 1))),
                  (const uint8_t *)"\x92\x01\x02", 3);
        break;
    default:
        step(r, node, id, (uint32_t)(i % 40) / 4, 2, ""); /* often a duplicate */
        break;
    }
}

/* ---- comparing states through the tables ---- */

/* Zeroes what the codec does not carry on purpose: the bytes after a string's NUL and the
 * slots past an array's count (stale items left by eviction). Everything else must match. */
static void canon_struct(const struct swarm_snap_struct *t, uint8_t *base)
{
    for (size_t i = 0; i < t->nfields; i++) {
        const struct swarm_snap_field *f = &t->fields[i];
        uint8_t *p = base + f->off;
        if (f->type == SWARM_SNAP_STR) {
            size_t n = strnlen((char *)p, f->size);
            memset(p + n, 0, f->size - n);
        } else if (f->type == SWARM_SNAP_DERIVED) {
            memset(p, 0, f->size);
        } else if (f->type == SWARM_SNAP_STRUCT) {
            canon_struct(f->elem, p);
        } else if (f->type == SWARM_SNAP_ARRAY) {
            uint32_t used = (uint32_t)f->n;
            if (f->count_off != SWARM_SNAP_ALL)
                memcpy(&used, base + f->count_off, sizeof(used));
            for (uint32_t k = 0; k < used && f->elem != NULL; k++)
                canon_struct(f->elem, p + k * f->size);
            memset(p + used * f->size, 0, (f->n - used) * f->size);
        }
    }
}

static void assert_same_state(const struct swarm_state *a, const struct swarm_state *b)
{
    struct swarm_state *x = malloc(sizeof(*x)), *y = malloc(sizeof(*y));
    assert_non_null(x);
    assert_non_null(y);
    memcpy(x, a, sizeof(*x));
    memcpy(y, b, sizeof(*y));
    canon_struct(swarm_snap_state_table(), (uint8_t *)x);
    canon_struct(swarm_snap_state_table(), (uint8_t *)y);
    /* Compare field by field first, so a failure names the field. */
    const struct swarm_snap_struct *t = swarm_snap_state_table();
    for (size_t i = 0; i < t->nfields; i++) {
        const struct swarm_snap_field *f = &t->fields[i];
        size_t bytes = f->type == SWARM_SNAP_ARRAY ? f->size * f->n : f->size;
        if (memcmp((uint8_t *)x + f->off, (uint8_t *)y + f->off, bytes) != 0)
            fail_msg("state field %s differs after a snapshot round trip", f->key);
    }
    if (memcmp(x, y, sizeof(*x)) != 0) {
        for (size_t i = 0; i < sizeof(*x); i++)
            if (((uint8_t *)x)[i] != ((uint8_t *)y)[i])
                fail_msg("byte %zu of struct swarm_state differs after a snapshot round trip: "
                         "a field the codec's tables do not name (swarm_snap.c)", i);
    }
    free(x);
    free(y);
}

static void roundtrip(const struct swarm_state *s, struct swarm_state *back)
{
    struct pl_buf a, b;
    pl_buf_init(&a, SWARM_SNAP_BYTES_MAX);
    pl_buf_init(&b, SWARM_SNAP_BYTES_MAX);
    assert_int_equal(swarm_snap_encode(s, &a), 0);
    assert_int_equal(swarm_snap_decode(a.data, a.len, back), 0);
    uint8_t full[SWARM_HASH_BYTES];
    swarm_state_hash_full(back, full);
    assert_memory_equal(full, s->hash, SWARM_HASH_BYTES);
    assert_int_equal(swarm_snap_encode(back, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_same_state(s, back);
    pl_buf_close(&a);
    pl_buf_close(&b);
}

/* ---- tests ---- */

static size_t field_align(const struct swarm_snap_field *f)
{
    if (f->elem != NULL)
        return f->elem->align;
    size_t n = swarm_snap_type_bytes(f->type == SWARM_SNAP_ARRAY ? f->elem_type : f->type);
    return n ? n : 1;
}

static int by_offset(const void *a, const void *b)
{
    const struct swarm_snap_field *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* The tables tile each struct: a field of the struct missing from its table leaves a gap at
 * least as wide as the alignment of what follows it (or of the struct), which padding never
 * does. (A new one-byte field dropped into existing padding escapes this check; the round
 * trip below catches it once the stream sets it.) */
static void check_tiles(const struct swarm_snap_struct *t)
{
    struct swarm_snap_field f[64];
    assert_true(t->nfields <= 64);
    memcpy(f, t->fields, t->nfields * sizeof(f[0]));
    qsort(f, t->nfields, sizeof(f[0]), by_offset);
    size_t at = 0;
    for (size_t i = 0; i < t->nfields; i++) {
        size_t bytes = f[i].type == SWARM_SNAP_ARRAY ? f[i].size * f[i].n : f[i].size;
        if (f[i].type == SWARM_SNAP_ARRAY && f[i].elem == NULL &&
            swarm_snap_type_bytes(f[i].elem_type) != 0)
            assert_int_equal(f[i].size, swarm_snap_type_bytes(f[i].elem_type));
        else if (f[i].elem != NULL)
            assert_int_equal(f[i].size, f[i].elem->size);
        else if (swarm_snap_type_bytes(f[i].type) != 0 &&
                 f[i].size != swarm_snap_type_bytes(f[i].type))
            fail_msg("%s.%s: %zu bytes, its type says %zu", t->name, f[i].key, f[i].size,
                     swarm_snap_type_bytes(f[i].type));
        if (f[i].off < at)
            fail_msg("%s.%s overlaps the field before it", t->name, f[i].key);
        if (f[i].off - at >= field_align(&f[i]))
            fail_msg("%s: %zu bytes before .%s are in no table: a field missing from "
                     "swarm_snap.c", t->name, f[i].off - at, f[i].key);
        at = f[i].off + bytes;
        if (f[i].elem != NULL)
            check_tiles(f[i].elem);
    }
    if (t->size - at >= t->align)
        fail_msg("%s: its last %zu bytes are in no table: a field missing from swarm_snap.c",
                 t->name, t->size - at);
}

static void test_tables_tile(void **state)
{
    (void)state;
    check_tiles(swarm_snap_state_table());
}

static void test_every_kind(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    struct swarm_state *back = malloc(sizeof(*back));
    assert_non_null(back);
    struct pl_rand rnd;
    pl_rand_seed(&rnd, 12);
    roundtrip(r.s, back); /* the empty state */
    for (int i = 0; i < 3000; i++) {
        stream_step(&r, &rnd, i);
        if (i % 250 == 249)
            roundtrip(r.s, back);
    }
    /* The stream reached what it is meant to (else the round trips prove less). */
    const struct swarm_counters *c = &r.s->counters;
    assert_true(c->applied > 0 && c->foreign > 0 && c->duplicates > 0 && c->rejected > 0);
    assert_true(r.s->last_rejection[0] != '\0');
    assert_true(r.s->nmembers > 0 && r.s->nincidents > 0 && r.s->nplacements > 0);
    /* What the swarm learns: signatures with lessons and draws, a service's history. */
    uint32_t lessons = 0;
    for (uint32_t i = 0; i < r.s->learn.nsigs; i++)
        lessons += r.s->learn.sigs[i].outcomes;
    assert_true(r.s->learn.nsigs > 0 && r.s->learn.nsvcs > 0 && lessons > 0);
    int states[SWARM_DECISION_STATE_COUNT] = {0}, fenced = 0, moved = 0, closed = 0;
    for (uint32_t i = 0; i < r.s->ndecisions; i++)
        states[r.s->decisions[i].state]++;
    for (uint32_t i = 0; i < r.s->nmembers; i++)
        fenced += r.s->members[i].fenced_until_ms != 0;
    for (uint32_t i = 0; i < r.s->nplacements; i++)
        moved += r.s->placements[i].moves != 0 && r.s->placements[i].prev[0] != '\0';
    for (uint32_t i = 0; i < r.s->nincidents; i++)
        closed += r.s->incidents[i].closed;
    assert_true(states[SWARM_DECISION_PENDING] > 0 && states[SWARM_DECISION_WAITING] > 0 &&
                states[SWARM_DECISION_DONE] > 0 && states[SWARM_DECISION_FAILED] > 0);
    assert_true(fenced > 0 && moved > 0 && closed > 0);
    int rollout_states[SWARM_ROLLOUT_STATE_COUNT] = {0}, steps = 0;
    for (uint32_t i = 0; i < r.s->nrollouts; i++) {
        rollout_states[r.s->rollouts[i].state]++;
        for (uint32_t k = 0; k < r.s->rollouts[i].nnodes; k++)
            steps += r.s->rollouts[i].step[k] != SWARM_STEP_TODO;
    }
    assert_true(r.s->policy_index > 0 && steps > 0);
    assert_true(rollout_states[SWARM_ROLLOUT_RUNNING] + rollout_states[SWARM_ROLLOUT_DONE] > 0);
    assert_true(r.s->nclusters > 0 && r.s->ncouncil > 0);

    /* The restored state goes on exactly like the original. */
    roundtrip(r.s, back);
    struct rig b = {.s = back, .term = r.term, .time_ms = r.time_ms};
    struct pl_rand r1, r2;
    pl_rand_seed(&r1, 99);
    pl_rand_seed(&r2, 99);
    for (int i = 3000; i < 3500; i++) {
        stream_step(&r, &r1, i);
        stream_step(&b, &r2, i);
        assert_memory_equal(r.s->hash, back->hash, SWARM_HASH_BYTES);
    }
    assert_same_state(r.s, back);
    free(back);
    free(r.s);
}

/* The hash with deferral (swarm_state_hash_defer, what replay uses) is the hash without it
 * at every sync, through evictions (incidents past their maximum), slots moved while dirty,
 * and more dirty slots than the list holds (a thousand members joining at once). */
static void test_deferred_hash(void **state)
{
    (void)state;
    struct rig r, d;
    rig_init(&r);
    rig_init(&d);
    swarm_state_hash_defer(d.s, true);
    struct pl_rand r1, r2, gaps;
    pl_rand_seed(&r1, 7);
    pl_rand_seed(&r2, 7);
    pl_rand_seed(&gaps, 8);
    uint64_t syncs = 0, evicted = 0;
    for (int i = 0; i < 8000;) {
        int gap = 1 + (int)pl_rand_below(&gaps, 600);
        for (int k = 0; k < gap && i < 8000; k++, i++) {
            stream_step(&r, &r1, i);
            stream_step(&d, &r2, i);
        }
        assert_true(d.s->hc.stale);
        swarm_state_hash_sync(d.s);
        uint8_t full[SWARM_HASH_BYTES];
        swarm_state_hash_full(d.s, full);
        assert_memory_equal(full, d.s->hash, SWARM_HASH_BYTES);
        assert_memory_equal(r.s->hash, d.s->hash, SWARM_HASH_BYTES);
        syncs++;
    }
    evicted = d.s->counters.evicted_incidents;
    assert_true(syncs > 10 && evicted > 0);
    for (uint32_t n = 0; n < 1000; n++) {
        char node[16];
        snprintf(node, sizeof(node), "m%u", n);
        member(&r, node, SWARM_MEMBER_ALIVE, 1);
        member(&d, node, SWARM_MEMBER_ALIVE, 1);
    }
    assert_true(d.s->hc.overflow);
    swarm_state_hash_defer(d.s, false); /* off: synced */
    assert_false(d.s->hc.stale);
    assert_memory_equal(r.s->hash, d.s->hash, SWARM_HASH_BYTES);
    free(r.s);
    free(d.s);
}

/* Every array full and every string at its longest: the bound holds it. */
static void test_fullest(void **state)
{
    (void)state;
    struct swarm_state *s = calloc(1, sizeof(*s)), *back = malloc(sizeof(*back));
    assert_non_null(s);
    assert_non_null(back);
    swarm_state_init(s);
    s->nmembers = SWARM_MEMBERS_MAX;
    s->nincidents = SWARM_INCIDENTS_MAX;
    s->nplacements = SWARM_PLACEMENTS_MAX;
    s->ndecisions = SWARM_DECISIONS_MAX;
#define FILLSTR(x, i) (memset((x), 'a' + (int)((i) % 26), sizeof(x) - 1), (x)[sizeof(x) - 1] = 0)
    for (uint32_t i = 0; i < SWARM_MEMBERS_MAX; i++) {
        FILLSTR(s->members[i].name, i);
        s->members[i].incarnation = UINT64_MAX - i;
        s->members[i].since_index = UINT64_MAX;
    }
    for (uint32_t i = 0; i < SWARM_INCIDENTS_MAX; i++) {
        FILLSTR(s->incidents[i].node, i);
        FILLSTR(s->incidents[i].id, i);
        FILLSTR(s->incidents[i].service, i);
        FILLSTR(s->incidents[i].outcome, i);
        s->incidents[i].opened_ms = s->incidents[i].last_index = UINT64_MAX;
    }
    for (uint32_t i = 0; i < SWARM_PLACEMENTS_MAX; i++) {
        FILLSTR(s->placements[i].service, i);
        FILLSTR(s->placements[i].node, i);
        FILLSTR(s->placements[i].prev, i);
    }
    for (uint32_t i = 0; i < SWARM_DECISIONS_MAX; i++) {
        FILLSTR(s->decisions[i].node, i);
        FILLSTR(s->decisions[i].service, i);
        FILLSTR(s->decisions[i].incident, i);
        s->decisions[i].result = INT32_MIN;
    }
    FILLSTR(s->last_rejection, 0);
#undef FILLSTR
    swarm_state_hash_full(s, s->hash);
    roundtrip(s, back);
    free(s);
    free(back);
}

static void test_strict(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    struct pl_rand rnd;
    pl_rand_seed(&rnd, 5);
    for (int i = 0; i < 60; i++)
        stream_step(&r, &rnd, i);
    struct swarm_state *back = malloc(sizeof(*back));
    assert_non_null(back);
    struct pl_buf b;
    pl_buf_init(&b, SWARM_SNAP_BYTES_MAX);
    assert_int_equal(swarm_snap_encode(r.s, &b), 0);
    /* One bit off anywhere: refused, or (a string the hash does not cover, the last
     * rejection) a state that encodes to exactly those bytes. */
    int accepted = 0;
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0x01;
        int rc = swarm_snap_decode(b.data, b.len, back);
        if (rc == 0) {
            struct pl_buf again;
            pl_buf_init(&again, SWARM_SNAP_BYTES_MAX);
            assert_int_equal(swarm_snap_encode(back, &again), 0);
            assert_memory_equal(again.data, b.data, b.len);
            pl_buf_close(&again);
            accepted++;
        }
        b.data[i] ^= 0x01;
    }
    assert_true(accepted <= (int)strlen(r.s->last_rejection));
    /* The stored hash is checked against the items. */
    struct swarm_state *x = malloc(sizeof(*x));
    assert_non_null(x);
    memcpy(x, r.s, sizeof(*x));
    x->hash[0] ^= 1;
    struct pl_buf t;
    pl_buf_init(&t, SWARM_SNAP_BYTES_MAX);
    assert_int_equal(swarm_snap_encode(x, &t), 0);
    assert_int_equal(swarm_snap_decode(t.data, t.len, back), PL_EVERIFY);
    /* An item changed under its hash: refused too. */
    memcpy(x, r.s, sizeof(*x));
    x->members[0].incarnation++;
    pl_buf_reset(&t);
    assert_int_equal(swarm_snap_encode(x, &t), 0);
    assert_int_equal(swarm_snap_decode(t.data, t.len, back), PL_EVERIFY);
    /* Another build's schema. */
    pl_buf_reset(&t);
    pl_buf_append(&t, b.data, b.len);
    uint8_t schema[SWARM_HASH_BYTES];
    swarm_snap_schema(schema);
    uint8_t *at = memmem(t.data, t.len, schema, sizeof(schema));
    assert_non_null(at);
    at[5] ^= 0x40;
    assert_int_equal(swarm_snap_decode(t.data, t.len, back), PL_EVERSION);
    /* Truncated, a byte more, empty. */
    assert_int_equal(swarm_snap_decode(b.data, b.len - 1, back), PL_EMALFORMED);
    pl_buf_append(&b, "\xc0", 1);
    assert_int_equal(swarm_snap_decode(b.data, b.len, back), PL_EMALFORMED);
    assert_int_equal(swarm_snap_decode(b.data, 0, back), PL_EMALFORMED);
    /* A count past its array is never written. */
    memcpy(x, r.s, sizeof(*x));
    x->nmembers = SWARM_MEMBERS_MAX + 1;
    pl_buf_reset(&t);
    assert_int_equal(swarm_snap_encode(x, &t), PL_ERANGE);
    assert_int_equal(t.len, 0);
    pl_buf_close(&t);
    pl_buf_close(&b);
    free(x);
    free(back);
    free(r.s);
}

static int write_seeds(const char *dir)
{
    struct rig r;
    rig_init(&r);
    struct pl_rand rnd;
    pl_rand_seed(&rnd, 3);
    const int at[] = {0, 5, 40, 400};
    int i = 0;
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        for (; i < at[k]; i++)
            stream_step(&r, &rnd, i);
        struct pl_buf b;
        pl_buf_init(&b, SWARM_SNAP_BYTES_MAX);
        if (swarm_snap_encode(r.s, &b) != 0)
            return 1;
        char path[512];
        snprintf(path, sizeof(path), "%s/state_%d", dir, at[k]);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
            return 1;
        pl_buf_close(&b);
    }
    free(r.s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--seeds") == 0)
        return write_seeds(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_tile),
        cmocka_unit_test(test_every_kind),
        cmocka_unit_test(test_deferred_hash),
        cmocka_unit_test(test_fullest),
        cmocka_unit_test(test_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
