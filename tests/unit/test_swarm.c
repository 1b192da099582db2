/*
 * Unit tests of the swarm's replicated state machine (node/swarm/swarm.c): the canonical
 * codecs, a total apply (every entry yields a recorded outcome), the de-duplication of
 * incident steps, the decisions' blast radius and approvals, placements, and the state
 * hash: incremental equals recomputed after every entry, equal on two states fed the same
 * entries, different when one entry differs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_err.h"
#include "pl_mp_read.h"
#include "pl_rand.h"
#include "swarm.h"

struct rig {
    struct swarm_state *s;
    uint64_t term;
    uint64_t later_ms; /* added to every entry's time: the clock moves on */
    struct swarm_applied out;
};

static void rig_init(struct rig *r)
{
    r->s = malloc(sizeof(*r->s));
    assert_non_null(r->s);
    swarm_state_init(r->s);
    r->term = 1;
    r->later_ms = 0;
}

static void rig_close(struct rig *r)
{
    free(r->s);
}

static void check_hash(const struct swarm_state *s)
{
    uint8_t full[SWARM_HASH_BYTES];
    swarm_state_hash_full(s, full);
    assert_memory_equal(full, s->hash, SWARM_HASH_BYTES);
}

static enum swarm_outcome apply_raw(struct rig *r, const char *kind, const uint8_t *body,
                                    size_t len)
{
    struct swarm_entry e = {.index = r->s->applied_index + 1, .term = r->term,
                            .time_ms = 1700000000000ull + r->s->applied_index + r->later_ms,
                            .kind = kind, .kind_len = strlen(kind), .body = body,
                            .body_len = len};
    assert_int_equal(swarm_apply(r->s, &e, &r->out), 0);
    assert_int_equal(r->s->applied_index, e.index);
    check_hash(r->s);
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

static struct swarm_incident_event step_of(const char *node, const char *id, uint32_t seq,
                                           uint8_t event, const char *outcome)
{
    struct swarm_incident_event b;
    memset(&b, 0, sizeof(b));
    snprintf(b.node, sizeof(b.node), "%s", node);
    snprintf(b.id, sizeof(b.id), "%s", id);
    snprintf(b.service, sizeof(b.service), "web");
    snprintf(b.outcome, sizeof(b.outcome), "%s", outcome);
    b.seq = seq;
    b.event = event;
    b.cls = 3;
    b.cause = 7;
    b.signal = 1;
    b.level = event == 2 ? 1 : 0;
    b.t_ms = 1700000000000ull + seq;
    snprintf(b.detail, sizeof(b.detail), "step %u", seq);
    return b;
}

static void test_codecs(void **state)
{
    (void)state;
    struct swarm_incident_event a = step_of("n1", "n1-1-2", 3, 2, ""), b;
    a.result = -1013;
    struct pl_buf buf;
    pl_buf_init(&buf, SWARM_BODY_BYTES_MAX);
    assert_int_equal(swarm_incident_event_encode(&a, &buf), 0);
    assert_int_equal(swarm_incident_event_decode(buf.data, buf.len, &b), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    /* One byte off anywhere: refused or a different value, never accepted as the same. */
    for (size_t i = 0; i < buf.len; i++) {
        buf.data[i] ^= 0x01;
        if (swarm_incident_event_decode(buf.data, buf.len, &b) == 0)
            assert_memory_not_equal(&a, &b, sizeof(a));
        buf.data[i] ^= 0x01;
    }
    /* Truncated or with a byte more: refused. */
    assert_int_not_equal(swarm_incident_event_decode(buf.data, buf.len - 1, &b), 0);
    pl_buf_append(&buf, "\xc0", 1);
    assert_int_not_equal(swarm_incident_event_decode(buf.data, buf.len, &b), 0);
    /* A member event names its status. */
    struct swarm_member_event m = {.node = "n2", .status = SWARM_MEMBER_DEAD, .incarnation = 9},
                              m2;
    pl_buf_reset(&buf);
    assert_int_equal(swarm_member_event_encode(&m, &buf), 0);
    assert_non_null(memmem(buf.data, buf.len, "dead", 4));
    assert_int_equal(swarm_member_event_decode(buf.data, buf.len, &m2), 0);
    assert_int_equal(m2.status, SWARM_MEMBER_DEAD);
    assert_int_equal(m2.incarnation, 9);
    pl_buf_close(&buf);
}

static void test_members(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    struct swarm_member_event m = {.node = "n2", .status = SWARM_MEMBER_ALIVE, .incarnation = 5};
    assert_int_equal(APPLY(&r, "member_event", swarm_member_event_encode, &m), SWARM_APPLIED);
    m.status = SWARM_MEMBER_DEAD;
    assert_int_equal(APPLY(&r, "member_event", swarm_member_event_encode, &m), SWARM_APPLIED);
    assert_int_equal(swarm_member_find(r.s, "n2")->status, SWARM_MEMBER_DEAD);
    /* Alive again at the same incarnation is stale gossip; a newer life is news. */
    m.status = SWARM_MEMBER_ALIVE;
    assert_int_equal(APPLY(&r, "member_event", swarm_member_event_encode, &m), SWARM_DUPLICATE);
    m.incarnation = 6;
    assert_int_equal(APPLY(&r, "member_event", swarm_member_event_encode, &m), SWARM_APPLIED);
    assert_int_equal(swarm_member_find(r.s, "n2")->status, SWARM_MEMBER_ALIVE);
    assert_int_equal(swarm_member_find(r.s, "n2")->since_index, 4);
    rig_close(&r);
}

static void test_incident_steps_once(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    struct swarm_incident_event b = step_of("n1", "inc-1", 0, 0, "");
    assert_int_equal(APPLY(&r, "incident", swarm_incident_event_encode, &b), SWARM_APPLIED);
    b = step_of("n1", "inc-1", 3, 2, "");
    assert_int_equal(APPLY(&r, "incident", swarm_incident_event_encode, &b), SWARM_APPLIED);
    /* The outbox resent after a crash: applied once. */
    assert_int_equal(APPLY(&r, "incident", swarm_incident_event_encode, &b), SWARM_DUPLICATE);
    b = step_of("n1", "inc-1", 2, 1, "");
    assert_int_equal(APPLY(&r, "incident", swarm_incident_event_encode, &b), SWARM_DUPLICATE);
    const struct swarm_incident *x = swarm_incident_find(r.s, "n1", "inc-1");
    assert_non_null(x);
    assert_int_equal(x->actions, 1);
    assert_false(x->closed);
    b = step_of("n1", "inc-1", 5, 9, "healed");
    assert_int_equal(APPLY(&r, "incident", swarm_incident_event_encode, &b), SWARM_APPLIED);
    assert_true(x->closed);
    assert_string_equal(x->outcome, "healed");
    b = step_of("n1", "inc-1", 6, 10, "");
    assert_int_equal(APPLY(&r, "incident", swarm_incident_event_encode, &b), SWARM_REJECTED);
    assert_non_null(strstr(r.s->last_rejection, "closed"));
    /* The same id from another node is another incident. */
    b = step_of("n2", "inc-1", 0, 0, "");
    assert_int_equal(APPLY(&r, "incident", swarm_incident_event_encode, &b), SWARM_APPLIED);
    assert_int_equal(r.s->nincidents, 2);
    assert_int_equal(r.s->counters.duplicates, 2);
    assert_int_equal(r.s->counters.rejected, 1);
    rig_close(&r);
}

static void test_decisions(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    struct swarm_decision_body d = {.node = "n3", .service = "web", .action = 1};
    uint64_t idx[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(APPLY(&r, "decision", swarm_decision_encode, &d), SWARM_APPLIED);
        idx[i] = r.s->applied_index;
        assert_int_equal(r.out.decision->index, idx[i]);
    }
    /* Past max_in_flight (2) the third waits for an approval. */
    assert_int_equal(swarm_decision_find(r.s, idx[0])->state, SWARM_DECISION_PENDING);
    assert_int_equal(swarm_decision_find(r.s, idx[2])->state, SWARM_DECISION_WAITING);
    struct swarm_approval ap = {.decision = idx[2], .by = "operator"};
    assert_int_equal(APPLY(&r, "approval", swarm_approval_encode, &ap), SWARM_APPLIED);
    assert_int_equal(swarm_decision_find(r.s, idx[2])->state, SWARM_DECISION_PENDING);
    /* Done once; a second result is a duplicate; a result from another node is refused. */
    struct swarm_action_result res = {.decision = idx[0], .node = "n3", .result = 0};
    assert_int_equal(APPLY(&r, "action_result", swarm_action_result_encode, &res), SWARM_APPLIED);
    assert_int_equal(swarm_decision_find(r.s, idx[0])->state, SWARM_DECISION_DONE);
    assert_int_equal(APPLY(&r, "action_result", swarm_action_result_encode, &res),
                     SWARM_DUPLICATE);
    snprintf(res.node, sizeof(res.node), "n9");
    res.decision = idx[1];
    assert_int_equal(APPLY(&r, "action_result", swarm_action_result_encode, &res),
                     SWARM_REJECTED);
    res.decision = 999;
    assert_int_equal(APPLY(&r, "action_result", swarm_action_result_encode, &res),
                     SWARM_REJECTED);
    /* The decision carries its entry's term, for fencing by the acting node. */
    assert_int_equal(swarm_decision_find(r.s, idx[1])->term, 1);
    rig_close(&r);
}

static enum swarm_outcome member_at(struct rig *r, const char *node,
                                    enum swarm_member_status st, uint64_t inc)
{
    struct swarm_member_event m = {.status = st, .incarnation = inc};
    snprintf(m.node, sizeof(m.node), "%s", node);
    return APPLY(r, "member_event", swarm_member_event_encode, &m);
}

static enum swarm_outcome place(struct rig *r, const char *svc, const char *node,
                                const char *prev)
{
    struct swarm_placement_body p;
    memset(&p, 0, sizeof(p));
    snprintf(p.service, sizeof(p.service), "%s", svc);
    snprintf(p.node, sizeof(p.node), "%s", node);
    snprintf(p.prev, sizeof(p.prev), "%s", prev);
    return APPLY(r, "placement", swarm_placement_encode, &p);
}

/* Placements are guarded moves: from where the state has the service, to an alive member. */
static void test_placement(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    /* Not a member yet: refused. */
    assert_int_equal(place(&r, "db", "n1", ""), SWARM_REJECTED);
    member_at(&r, "n1", SWARM_MEMBER_ALIVE, 1);
    member_at(&r, "n2", SWARM_MEMBER_ALIVE, 1);
    /* A first placement names no prev; one that does is stale. */
    assert_int_equal(place(&r, "db", "n1", "n2"), SWARM_REJECTED);
    assert_int_equal(place(&r, "db", "n1", ""), SWARM_APPLIED);
    r.term = 4;
    /* A second first placement, or a move from the wrong node, is stale: recorded, no move. */
    assert_int_equal(place(&r, "db", "n2", ""), SWARM_REJECTED);
    assert_non_null(strstr(r.s->last_rejection, "stale move"));
    assert_int_equal(place(&r, "db", "n1", "n1"), SWARM_REJECTED);
    assert_int_equal(place(&r, "db", "n2", "n1"), SWARM_APPLIED);
    const struct swarm_placement *pl = swarm_placement_find(r.s, "db");
    assert_string_equal(pl->node, "n2");
    assert_string_equal(pl->prev, "n1");
    assert_int_equal(pl->term, 4);
    assert_int_equal(pl->moves, 1);
    /* The same move proposed twice: the second is stale. */
    assert_int_equal(place(&r, "db", "n2", "n1"), SWARM_REJECTED);
    /* Never onto a dead member. */
    member_at(&r, "n1", SWARM_MEMBER_DEAD, 1);
    assert_int_equal(place(&r, "db", "n1", "n2"), SWARM_REJECTED);
    assert_int_equal(r.s->nplacements, 1);
    assert_int_equal(r.s->max_term, 4);
    rig_close(&r);
}

/* Applies one member event at an explicit time. */
static void member_event_at(struct rig *r, const char *node, enum swarm_member_status st,
                            uint64_t inc, uint64_t t_ms)
{
    struct swarm_member_event m = {.status = st, .incarnation = inc};
    snprintf(m.node, sizeof(m.node), "%s", node);
    struct pl_buf b;
    pl_buf_init(&b, SWARM_BODY_BYTES_MAX);
    assert_int_equal(swarm_member_event_encode(&m, &b), 0);
    struct swarm_entry e = {.index = r->s->applied_index + 1, .term = r->term, .time_ms = t_ms,
                            .kind = "member_event", .kind_len = 12, .body = b.data,
                            .body_len = b.len};
    assert_int_equal(swarm_apply(r->s, &e, &r->out), 0);
    check_hash(r->s);
    pl_buf_close(&b);
}

/* More than 3 deaths within 10 minutes fence a member for 10 minutes after the last. */
static void test_flapping_fence(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    const uint64_t min = 60000, t0 = 1700000000000ull;
    uint64_t inc = 1;
    /* Four deaths 4 minutes apart: never 4 within 10 minutes, no fence. */
    for (int i = 0; i < 4; i++) {
        member_event_at(&r, "a", SWARM_MEMBER_ALIVE, inc, t0 + (uint64_t)i * 4 * min);
        member_event_at(&r, "a", SWARM_MEMBER_DEAD, inc++, t0 + (uint64_t)i * 4 * min + 1000);
    }
    const struct swarm_member *m = swarm_member_find(r.s, "a");
    assert_int_equal(m->ndeaths, 4);
    assert_int_equal(m->fenced_until_ms, 0);
    /* Four deaths in 3 minutes: the fourth fences. */
    uint64_t t1 = t0 + 60 * min, last = 0;
    for (int i = 0; i < 4; i++) {
        member_event_at(&r, "b", SWARM_MEMBER_ALIVE, inc, t1 + (uint64_t)i * min);
        last = t1 + (uint64_t)i * min + 1000;
        member_event_at(&r, "b", SWARM_MEMBER_DEAD, inc++, last);
        m = swarm_member_find(r.s, "b");
        assert_int_equal(m->fenced_until_ms != 0, i == 3);
    }
    member_event_at(&r, "b", SWARM_MEMBER_ALIVE, inc, last + 1000);
    assert_true(swarm_member_fenced(m, last + 1000));
    assert_false(swarm_member_fenced(m, last + SWARM_FLAP_WINDOW_MS));
    /* A repeated dead verdict (same incarnation) is no new death. */
    member_event_at(&r, "c", SWARM_MEMBER_DEAD, 1, t1);
    member_event_at(&r, "c", SWARM_MEMBER_DEAD, 1, t1 + 1);
    assert_int_equal(swarm_member_find(r.s, "c")->ndeaths, 1);
    /* A fenced member is not eligible: apply refuses a placement on it (by entry time). */
    assert_int_equal(place(&r, "web", "b", ""), SWARM_REJECTED);
    assert_non_null(strstr(r.s->last_rejection, "fenced"));
    rig_close(&r);
}

/* The healer's choice: stays while the holder is fine; else least loaded, ties by name. */
static void test_place_next(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    member_at(&r, "a", SWARM_MEMBER_ALIVE, 1);
    member_at(&r, "b", SWARM_MEMBER_ALIVE, 1);
    member_at(&r, "c", SWARM_MEMBER_ALIVE, 1);
    struct swarm_candidate c[3] = {{"c", 1}, {"b", 0}, {"a", 0}};
    struct swarm_placement_body out;
    const char *why;
    uint64_t now = 1700000000000ull;
    assert_int_equal(swarm_place_next(r.s, "web", c, 0, now, &out, &why), PL_ENOTFOUND);
    assert_int_equal(swarm_place_next(r.s, "web", c, 3, now, &out, &why), 0);
    assert_string_equal(out.node, "a");
    assert_string_equal(out.prev, "");
    assert_int_equal(APPLY(&r, "placement", swarm_placement_encode, &out), SWARM_APPLIED);
    assert_int_equal(swarm_place_next(r.s, "web", c, 3, now, &out, &why), PL_ENOTFOUND);
    /* a dies: to b (load 0), never back to a. */
    member_at(&r, "a", SWARM_MEMBER_DEAD, 1);
    assert_int_equal(swarm_place_next(r.s, "web", c, 3, now, &out, &why), 0);
    assert_string_equal(out.node, "b");
    assert_string_equal(out.prev, "a");
    assert_int_equal(APPLY(&r, "placement", swarm_placement_encode, &out), SWARM_APPLIED);
    /* b and c dead too: nowhere to go. */
    member_at(&r, "b", SWARM_MEMBER_DEAD, 1);
    member_at(&r, "c", SWARM_MEMBER_LEFT, 1);
    assert_int_equal(swarm_place_next(r.s, "web", c, 3, now, &out, &why), PL_ENOTFOUND);
    /* a back (a newer incarnation): eligible again. */
    member_at(&r, "a", SWARM_MEMBER_ALIVE, 2);
    assert_int_equal(swarm_place_next(r.s, "web", c, 3, now, &out, &why), 0);
    assert_string_equal(out.node, "a");
    assert_string_equal(out.prev, "b");
    assert_int_equal(APPLY(&r, "placement", swarm_placement_encode, &out), SWARM_APPLIED);
    /* a is fine but no longer declares web (only c does, alive again): it goes away. */
    member_at(&r, "c", SWARM_MEMBER_ALIVE, 2);
    struct swarm_candidate only_c[1] = {{"c", 5}};
    assert_int_equal(swarm_place_next(r.s, "web", only_c, 1, now, &out, &why), PL_ENOTFOUND);
    assert_int_equal(swarm_place_away(r.s, "web", only_c, 1, now, &out, &why), 0);
    assert_string_equal(out.node, "c");
    assert_string_equal(out.prev, "a");
    assert_string_equal(why, "its member no longer declares it");
    rig_close(&r);
}

static struct swarm_cluster_body cluster_of(const char *id, enum swarm_cluster_event ev,
                                            const char *sig)
{
    struct swarm_cluster_body b;
    memset(&b, 0, sizeof(b));
    snprintf(b.id, sizeof(b.id), "%s", id);
    snprintf(b.sig, sizeof(b.sig), "%s", sig);
    snprintf(b.service, sizeof(b.service), "web");
    b.event = ev;
    b.cause = 6; /* dependency_failure */
    b.nodes = 4;
    b.members = 5;
    return b;
}

/* One cluster incident per signature: opened once (escalated then), closed once; a
 * signature may open again after its close; the codecs refuse what is not canonical. */
static void test_cluster_incidents(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    struct swarm_cluster_body b = cluster_of("ci-1", SWARM_CLUSTER_OPEN, "web:check:status");
    assert_int_equal(APPLY(&r, "cluster_incident", swarm_cluster_encode, &b), SWARM_APPLIED);
    const struct swarm_cluster *x = swarm_cluster_open_find(r.s, "web:check:status");
    assert_non_null(x);
    assert_true(x->escalated);
    assert_int_equal(x->nodes, 4);
    /* Another leader's open of the same signature: the same incident. */
    b = cluster_of("ci-2", SWARM_CLUSTER_OPEN, "web:check:status");
    assert_int_equal(APPLY(&r, "cluster_incident", swarm_cluster_encode, &b), SWARM_DUPLICATE);
    assert_int_equal(r.s->nclusters, 1);
    b = cluster_of("ci-9", SWARM_CLUSTER_CLOSE, "web:check:status");
    assert_int_equal(APPLY(&r, "cluster_incident", swarm_cluster_encode, &b), SWARM_REJECTED);
    b = cluster_of("ci-1", SWARM_CLUSTER_CLOSE, "web:check:status");
    assert_int_equal(APPLY(&r, "cluster_incident", swarm_cluster_encode, &b), SWARM_APPLIED);
    assert_null(swarm_cluster_open_find(r.s, "web:check:status"));
    assert_int_equal(APPLY(&r, "cluster_incident", swarm_cluster_encode, &b), SWARM_DUPLICATE);
    b = cluster_of("ci-3", SWARM_CLUSTER_OPEN, "web:check:status");
    assert_int_equal(APPLY(&r, "cluster_incident", swarm_cluster_encode, &b), SWARM_APPLIED);
    b = cluster_of("", SWARM_CLUSTER_OPEN, "x");
    assert_int_equal(APPLY(&r, "cluster_incident", swarm_cluster_encode, &b), SWARM_REJECTED);
    /* Room: the oldest closed goes; with all open a new one is refused. */
    for (int i = 0; i < SWARM_CLUSTERS_MAX + 2; i++) {
        char id[32], sig[32];
        snprintf(id, sizeof(id), "ci-x%d", i);
        snprintf(sig, sizeof(sig), "s%d:check", i);
        b = cluster_of(id, SWARM_CLUSTER_OPEN, sig);
        enum swarm_outcome o = APPLY(&r, "cluster_incident", swarm_cluster_encode, &b);
        /* Two before the loop (ci-1 closed, ci-3 open): i = 62 evicts ci-1, then all open. */
        assert_int_equal(o, i < SWARM_CLUSTERS_MAX - 1 ? SWARM_APPLIED : SWARM_REJECTED);
    }
    assert_int_equal(r.s->nclusters, SWARM_CLUSTERS_MAX);
    rig_close(&r);
}

/* Council changes: a ring of the newest, counted, in the state hash. */
static void test_council(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    for (int i = 0; i < SWARM_COUNCIL_LOG_MAX + 5; i++) {
        struct swarm_council_body k = {.op = (enum swarm_council_op)(i % SWARM_COUNCIL_OP_COUNT),
                                       .voters = 3};
        snprintf(k.node, sizeof(k.node), "n%d", i);
        snprintf(k.reason, sizeof(k.reason), "dead for 12 s");
        assert_int_equal(APPLY(&r, "council", swarm_council_encode, &k), SWARM_APPLIED);
    }
    assert_int_equal(r.s->council_changes, SWARM_COUNCIL_LOG_MAX + 5);
    assert_int_equal(r.s->ncouncil, SWARM_COUNCIL_LOG_MAX);
    struct swarm_council_body k = {.op = SWARM_COUNCIL_REMOVE};
    assert_int_equal(APPLY(&r, "council", swarm_council_encode, &k), SWARM_REJECTED);
    uint8_t junk[] = {0x84, 0xa2, 'o', 'p', 0xa4, 'k', 'i', 'l', 'l'};
    assert_int_equal(apply_raw(&r, "council", junk, sizeof(junk)), SWARM_REJECTED);
    rig_close(&r);
}

/* Apply is total: any body of any kind yields a recorded outcome and the node goes on. */
static void test_total(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    static const char *const kinds[] = {"member_event", "incident", "decision", "action_result",
                                        "approval",     "placement", "note",   "raft.noop",
                                        "cluster_incident", "council"};
    struct pl_rand rnd;
    pl_rand_seed(&rnd, 42);
    uint8_t body[256];
    for (int i = 0; i < 4000; i++) {
        size_t n = pl_rand_below(&rnd, sizeof(body));
        for (size_t k = 0; k < n; k++)
            body[k] = (uint8_t)pl_rand_next(&rnd);
        if (n > 0 && i % 2 == 0)
            body[0] = 0x80 | (uint8_t)pl_rand_below(&rnd, 15); /* a fixmap, often */
        const char *kind = kinds[pl_rand_below(&rnd, sizeof(kinds) / sizeof(kinds[0]))];
        enum swarm_outcome o = apply_raw(&r, kind, body, n);
        bool ours = swarm_kind_parse(kind, strlen(kind)) != SWARM_K_FOREIGN;
        assert_int_equal(o, ours ? SWARM_REJECTED : SWARM_IGNORED_FOREIGN);
    }
    assert_int_equal(r.s->counters.rejected + r.s->counters.foreign, 4000);
    /* A gap is the caller's bug: refused, nothing changes. */
    uint8_t before[SWARM_HASH_BYTES];
    memcpy(before, r.s->hash, sizeof(before));
    struct swarm_entry e = {.index = r.s->applied_index + 2, .term = 1, .kind = "note",
                            .kind_len = 4, .body = body, .body_len = 0};
    assert_int_equal(swarm_apply(r.s, &e, &r.out), PL_ESTATE);
    assert_memory_equal(before, r.s->hash, sizeof(before));
    rig_close(&r);
}

/* One pseudo-random stream of valid and invalid entries; the same seed gives the same. */
static void feed_stream(struct rig *r, uint64_t seed, int n, int flip_at)
{
    struct pl_rand rnd;
    pl_rand_seed(&rnd, seed);
    uint32_t seqs[8] = {0};
    for (int i = 0; i < n; i++) {
        char node[16], id[32];
        uint32_t which = (uint32_t)pl_rand_below(&rnd, 8);
        snprintf(node, sizeof(node), "n%u", which);
        snprintf(id, sizeof(id), "inc-%u", which);
        if (i == flip_at)
            snprintf(node, sizeof(node), "other"); /* one entry differs: so must the hash */
        switch (pl_rand_below(&rnd, 4)) {
        case 0: {
            struct swarm_member_event m = {.status = (enum swarm_member_status)pl_rand_below(&rnd, 3),
                                           .incarnation = pl_rand_below(&rnd, 4)};
            snprintf(m.node, sizeof(m.node), "%s", node);
            APPLY(r, "member_event", swarm_member_event_encode, &m);
            break;
        }
        case 1: {
            struct swarm_incident_event b =
                step_of(node, id, seqs[which]++, 2, "");
            APPLY(r, "incident", swarm_incident_event_encode, &b);
            break;
        }
        case 2: {
            struct swarm_decision_body d = {.action = 1};
            snprintf(d.node, sizeof(d.node), "%s", node);
            snprintf(d.service, sizeof(d.service), "svc%u", which);
            APPLY(r, "decision", swarm_decision_encode, &d);
            break;
        }
        default: {
            struct swarm_placement_body p;
            memset(&p, 0, sizeof(p));
            snprintf(p.service, sizeof(p.service), "svc%u", which);
            snprintf(p.node, sizeof(p.node), "%s", node);
            APPLY(r, "placement", swarm_placement_encode, &p);
            break;
        }
        }
    }
}

static void test_hash_agrees(void **state)
{
    (void)state;
    struct rig a, b, c;
    rig_init(&a);
    rig_init(&b);
    rig_init(&c);
    feed_stream(&a, 7, 1500, -1);
    feed_stream(&b, 7, 1500, -1);
    feed_stream(&c, 7, 1500, 700);
    assert_memory_equal(a.s->hash, b.s->hash, SWARM_HASH_BYTES);
    assert_memory_not_equal(a.s->hash, c.s->hash, SWARM_HASH_BYTES);
    rig_close(&a);
    rig_close(&b);
    rig_close(&c);
}

/* Past the bound the oldest closed incident goes; the hash stays exact. */
static void test_eviction(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    for (int i = 0; i < SWARM_INCIDENTS_MAX + 100; i++) {
        char id[32];
        snprintf(id, sizeof(id), "inc-%d", i);
        struct swarm_incident_event b = step_of("n1", id, 0, 0, i % 2 ? "healed" : "");
        APPLY(&r, "incident", swarm_incident_event_encode, &b);
    }
    assert_int_equal(r.s->nincidents, SWARM_INCIDENTS_MAX);
    assert_int_equal(r.s->counters.evicted_incidents, 100);
    /* The open ones were kept over older closed ones. */
    assert_non_null(swarm_incident_find(r.s, "n1", "inc-0"));
    assert_null(swarm_incident_find(r.s, "n1", "inc-1"));
    rig_close(&r);
}

static void members_alive(struct rig *r, int n)
{
    for (int i = 1; i <= n; i++) {
        struct swarm_member_event m = {.status = SWARM_MEMBER_ALIVE, .incarnation = 1};
        snprintf(m.node, sizeof(m.node), "n%d", i);
        assert_int_equal(APPLY(r, "member_event", swarm_member_event_encode, &m), SWARM_APPLIED);
    }
}

static enum swarm_outcome decide(struct rig *r, const char *node, uint64_t rollout, uint8_t op)
{
    struct swarm_decision_body d = {.action = op, .rollout = rollout};
    snprintf(d.node, sizeof(d.node), "%s", node);
    snprintf(d.service, sizeof(d.service), "web");
    return APPLY(r, "decision", swarm_decision_encode, &d);
}

static enum swarm_outcome answer(struct rig *r, uint64_t decision, const char *node, int32_t rc)
{
    struct swarm_action_result res = {.decision = decision, .result = rc};
    snprintf(res.node, sizeof(res.node), "%s", node);
    return APPLY(r, "action_result", swarm_action_result_encode, &res);
}

/* The blast radius's share of the fleet per window, from the entries' times alone. */
static void test_blast_radius_fleet(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    members_alive(&r, 4);
    struct swarm_policy_body bad = {.max_in_flight = 0, .max_fleet_pct = 50, .window_ms = 1000};
    assert_int_equal(APPLY(&r, "policy", swarm_policy_encode, &bad), SWARM_REJECTED);
    struct swarm_policy_body p = {.max_in_flight = 10, .max_fleet_pct = 50, .window_ms = 60000};
    assert_int_equal(APPLY(&r, "policy", swarm_policy_encode, &p), SWARM_APPLIED);
    assert_int_equal(r.s->max_fleet_pct, 50);
    /* Two nodes of four: 50 %, allowed; a second order for n1 touches no one new. */
    assert_int_equal(decide(&r, "n1", 0, 1), SWARM_APPLIED);
    assert_int_equal(r.out.decision->state, SWARM_DECISION_PENDING);
    assert_int_equal(decide(&r, "n2", 0, 1), SWARM_APPLIED);
    assert_int_equal(r.out.decision->state, SWARM_DECISION_PENDING);
    assert_int_equal(decide(&r, "n1", 0, 1), SWARM_APPLIED);
    assert_int_equal(r.out.decision->state, SWARM_DECISION_PENDING);
    /* A third node is 75 %: it waits for an approval. */
    assert_int_equal(decide(&r, "n3", 0, 1), SWARM_APPLIED);
    assert_int_equal(r.out.decision->state, SWARM_DECISION_WAITING);
    uint64_t waiting = r.out.decision->index;
    struct swarm_approval ap = {.decision = waiting, .by = "op"};
    assert_int_equal(APPLY(&r, "approval", swarm_approval_encode, &ap), SWARM_APPLIED);
    assert_int_equal(swarm_decision_find(r.s, waiting)->state, SWARM_DECISION_PENDING);
    /* Once the window has passed, the touched nodes are forgotten. */
    r.later_ms = 61000;
    assert_int_equal(decide(&r, "n4", 0, 1), SWARM_APPLIED);
    assert_int_equal(r.out.decision->state, SWARM_DECISION_PENDING);
    rig_close(&r);
}

/* A rollout: members alive at its apply, by name; one decision per node until answered;
 * refused is decided again; done and skipped finish it; failed halts it. */
static void test_rollout(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    members_alive(&r, 3);
    struct swarm_member_event dead = {.node = "n0", .status = SWARM_MEMBER_DEAD, .incarnation = 1};
    APPLY(&r, "member_event", swarm_member_event_encode, &dead);
    struct swarm_rollout_body b = {.service = "web", .op = SWARM_OP_RESTART,
                                   .max_unavailable = 1, .by = "op"};
    assert_int_equal(APPLY(&r, "rollout", swarm_rollout_encode, &b), SWARM_APPLIED);
    uint64_t ro = r.out.rollout->index;
    const struct swarm_rollout *x = swarm_rollout_find(r.s, ro);
    assert_int_equal(x->nnodes, 3);
    assert_string_equal(x->nodes[0], "n1");
    assert_string_equal(x->nodes[2], "n3");
    assert_int_equal(APPLY(&r, "rollout", swarm_rollout_encode, &b), SWARM_REJECTED);
    const char *next = NULL;
    assert_int_equal(swarm_rollout_next(x, &next), 0);
    assert_string_equal(next, "n1");
    assert_int_equal(decide(&r, "n1", ro, SWARM_OP_RESTART), SWARM_APPLIED);
    uint64_t d1 = r.out.decision->index;
    /* A second healer's order for the same step, or for a node not in it, is refused. */
    assert_int_equal(decide(&r, "n1", ro, SWARM_OP_RESTART), SWARM_REJECTED);
    assert_int_equal(decide(&r, "n0", ro, SWARM_OP_RESTART), SWARM_REJECTED);
    assert_int_equal(decide(&r, "n2", ro, SWARM_OP_STOP), SWARM_REJECTED);
    assert_int_equal(swarm_rollout_next(x, &next), PL_ENOTFOUND); /* max_unavailable 1 */
    /* Fencing: a newer term known refuses; the step is to be decided again. */
    const struct swarm_decision *d = swarm_decision_find(r.s, d1);
    assert_int_equal(swarm_decision_check(d, "n2", 1), SWARM_ACT_NOT_MINE);
    assert_int_equal(swarm_decision_check(d, "n1", 2), SWARM_ACT_STALE_TERM);
    assert_int_equal(swarm_decision_check(d, "n1", 1), SWARM_ACT_GO);
    assert_int_equal(answer(&r, d1, "n1", PL_ESTALE), SWARM_APPLIED);
    assert_int_equal(swarm_decision_find(r.s, d1)->state, SWARM_DECISION_REFUSED);
    assert_int_equal(swarm_decision_check(d, "n1", 1), SWARM_ACT_NOT_PENDING);
    assert_int_equal(swarm_rollout_next(x, &next), 0);
    assert_string_equal(next, "n1");
    r.term = 2;
    assert_int_equal(decide(&r, "n1", ro, SWARM_OP_RESTART), SWARM_APPLIED);
    assert_int_equal(answer(&r, r.out.decision->index, "n1", 0), SWARM_APPLIED);
    assert_int_equal(x->step[0], SWARM_STEP_DONE);
    assert_int_equal(decide(&r, "n2", ro, SWARM_OP_RESTART), SWARM_APPLIED);
    assert_int_equal(answer(&r, r.out.decision->index, "n2", PL_ENOTFOUND), SWARM_APPLIED);
    assert_int_equal(x->step[1], SWARM_STEP_SKIPPED);
    assert_int_equal(r.out.decision->state, SWARM_DECISION_SKIPPED);
    assert_int_equal(decide(&r, "n3", ro, SWARM_OP_RESTART), SWARM_APPLIED);
    assert_int_equal(answer(&r, r.out.decision->index, "n3", 0), SWARM_APPLIED);
    assert_int_equal(x->state, SWARM_ROLLOUT_DONE);
    assert_int_equal(swarm_rollout_next(x, &next), PL_ENOTFOUND);
    /* A new rollout of the same service may start; a failure halts it. */
    b.max_unavailable = 2;
    assert_int_equal(APPLY(&r, "rollout", swarm_rollout_encode, &b), SWARM_APPLIED);
    const struct swarm_rollout *y = r.out.rollout;
    assert_int_equal(decide(&r, "n1", y->index, SWARM_OP_RESTART), SWARM_APPLIED);
    assert_int_equal(decide(&r, "n2", y->index, SWARM_OP_RESTART), SWARM_APPLIED);
    assert_int_equal(answer(&r, r.out.decision->index, "n2", PL_ETIMEOUT), SWARM_APPLIED);
    assert_int_equal(y->state, SWARM_ROLLOUT_HALTED);
    assert_int_equal(swarm_rollout_next(y, &next), PL_ENOTFOUND);
    assert_int_equal(decide(&r, "n3", y->index, SWARM_OP_RESTART), SWARM_REJECTED);
    rig_close(&r);
}



/* The incident index kept step by step through evictions finds what a scan finds, and
 * agrees with one rebuilt before every step (a state whose index was dropped). */
static void test_incident_index(void **state)
{
    (void)state;
    struct rig a, b;
    rig_init(&a);
    rig_init(&b);
    struct pl_rand rnd;
    pl_rand_seed(&rnd, 3);
    struct pl_buf buf;
    pl_buf_init(&buf, SWARM_BODY_BYTES_MAX);
    uint32_t seqs[64] = {0};
    for (int i = 0; i < 4 * SWARM_INCIDENTS_MAX; i++) {
        /* New incidents on 4 nodes, or a further step of a recent one (some close). */
        uint32_t k = (uint32_t)pl_rand_below(&rnd, 64);
        char node[8], id[32];
        snprintf(node, sizeof(node), "n%u", k % 4);
        snprintf(id, sizeof(id), "%s-%d", node, pl_rand_below(&rnd, 3) == 0 ? i : (int)k);
        struct swarm_incident_event e =
            step_of(node, id, seqs[k]++, (uint8_t)pl_rand_below(&rnd, 3),
                    pl_rand_below(&rnd, 8) == 0 ? "healed" : "");
        pl_buf_reset(&buf);
        assert_int_equal(swarm_incident_event_encode(&e, &buf), 0);
        b.s->iidx.n = UINT32_MAX; /* b's apply rebuilds the index from the incidents */
        enum swarm_outcome oa = apply_raw(&a, "incident", buf.data, buf.len);
        assert_int_equal(apply_raw(&b, "incident", buf.data, buf.len), oa);
        assert_memory_equal(a.s->hash, b.s->hash, SWARM_HASH_BYTES);
        assert_int_equal(a.s->iidx.n, a.s->nincidents);
        for (uint32_t j = 0; j < a.s->nincidents; j++) {
            const struct swarm_incident *x = &a.s->incidents[j];
            assert_ptr_equal(swarm_incident_find(a.s, x->node, x->id), x);
        }
        assert_null(swarm_incident_find(a.s, node, "absent"));
    }
    assert_true(a.s->counters.evicted_incidents > 0);
    pl_buf_close(&buf);
    rig_close(&a);
    rig_close(&b);
}

/* ---- the strict body decoder beside the msgpack-c one it replaced ---- */


static void body_same_answer(enum swarm_kind k, const uint8_t *p, size_t n)
{
    union swarm_body a, b;
    memset(&a, 0x55, sizeof(a));
    memset(&b, 0x55, sizeof(b));
    struct pl_mp_reader why;
    why.err = NULL;
    int ra = swarm_body_decode(k, p, n, &a, sizeof(a), &why);
    int rb = swarm_body_decode_reference(k, p, n, &b, sizeof(b));
    if (ra != rb)
        fail_msg("%s: strict %d, reference %d on %zu bytes (strict: %s at %zu)",
                 swarm_kind_name(k), ra, rb, n, why.err ? why.err : "-", why.err_at);
    if (ra == 0)
        assert_memory_equal(&a, &b, sizeof(a));
    else if (ra == PL_EMALFORMED)
        assert_non_null(why.err);
}

/* Canonical bodies of every kind: zeroed, and with long strings and numbers at the edges
 * of their encodings. */
static size_t kind_body(enum swarm_kind k, int variant, struct pl_buf *out)
{
    union swarm_body u;
    memset(&u, 0, sizeof(u));
    static const uint64_t nums[] = {0, 127, 128, 255, 256, 65536, UINT32_MAX, UINT64_MAX};
    static const int32_t ints[] = {0, -1, -32, -33, -129, INT32_MIN, 127, INT32_MAX};
    uint64_t n64 = nums[variant % 8];
    uint32_t n32 = (uint32_t)(n64 > UINT32_MAX ? 65535 : n64);
    int32_t i32 = ints[variant % 8];
    size_t slen = variant == 0 ? 0 : (size_t)variant * 7 % 40;
#define FILL(f) memset((f), 'a' + variant, slen < sizeof(f) ? slen : sizeof(f) - 1)
    pl_buf_reset(out);
    int rc = -1;
    switch (k) {
    case SWARM_K_MEMBER:
        FILL(u.m.node);
        u.m.status = (enum swarm_member_status)(variant % SWARM_MEMBER_STATUS_COUNT);
        u.m.incarnation = n64;
        rc = swarm_member_event_encode(&u.m, out);
        break;
    case SWARM_K_INCIDENT:
        FILL(u.i.node), FILL(u.i.id), FILL(u.i.service), FILL(u.i.outcome), FILL(u.i.detail);
        u.i.seq = n32;
        u.i.event = u.i.action = u.i.cls = u.i.cause = u.i.signal = (uint8_t)(variant * 9 % 64);
        u.i.level = (uint8_t)(variant % 6);
        u.i.result = i32;
        u.i.t_ms = n64;
        rc = swarm_incident_event_encode(&u.i, out);
        break;
    case SWARM_K_DECISION:
        FILL(u.d.node), FILL(u.d.service), FILL(u.d.incident), FILL(u.d.reason);
        u.d.action = (uint8_t)(variant * 9 % 64);
        u.d.rollout = n64;
        rc = swarm_decision_encode(&u.d, out);
        break;
    case SWARM_K_ACTION_RESULT:
        FILL(u.r.node), FILL(u.r.detail);
        u.r.decision = n64;
        u.r.result = i32;
        rc = swarm_action_result_encode(&u.r, out);
        break;
    case SWARM_K_APPROVAL:
        FILL(u.a.by);
        u.a.decision = n64;
        rc = swarm_approval_encode(&u.a, out);
        break;
    case SWARM_K_PLACEMENT:
        FILL(u.p.service), FILL(u.p.node), FILL(u.p.prev);
        rc = swarm_placement_encode(&u.p, out);
        break;
    case SWARM_K_POLICY:
        u.pol.max_in_flight = u.pol.max_fleet_pct = n32;
        u.pol.window_ms = n64;
        rc = swarm_policy_encode(&u.pol, out);
        break;
    case SWARM_K_ROLLOUT:
        FILL(u.ro.service), FILL(u.ro.by);
        u.ro.op = (uint8_t)(variant * 9 % 64);
        u.ro.max_unavailable = n32;
        rc = swarm_rollout_encode(&u.ro, out);
        break;
    case SWARM_K_CLUSTER_INCIDENT:
        FILL(u.x.id), FILL(u.x.sig), FILL(u.x.service), FILL(u.x.detail);
        u.x.event = (enum swarm_cluster_event)(variant % SWARM_CLUSTER_EVENT_COUNT);
        u.x.cause = (uint8_t)(variant * 9 % 64);
        u.x.nodes = u.x.members = n32;
        rc = swarm_cluster_encode(&u.x, out);
        break;
    case SWARM_K_COUNCIL:
        FILL(u.k.node), FILL(u.k.reason);
        u.k.op = (enum swarm_council_op)(variant % SWARM_COUNCIL_OP_COUNT);
        u.k.voters = n32;
        rc = swarm_council_encode(&u.k, out);
        break;
    default:
        break;
    }
#undef FILL
    assert_int_equal(rc, 0);
    return out->len;
}

static void test_strict_body_decoder(void **state)
{
    (void)state;
    struct pl_buf buf;
    pl_buf_init(&buf, SWARM_BODY_BYTES_MAX);
    /* Reasons a person can act on, with the byte they concern. */
    struct swarm_member_event m = {.node = "n2", .status = SWARM_MEMBER_DEAD, .incarnation = 9};
    assert_int_equal(swarm_member_event_encode(&m, &buf), 0);
    uint8_t b[64];
    memcpy(b, buf.data, buf.len);
    b[buf.len] = 0xc0;
    struct pl_mp_reader why;
    union swarm_body u;
    assert_int_equal(swarm_body_decode(SWARM_K_MEMBER, b, buf.len + 1, &u, sizeof(u), &why),
                     PL_EMALFORMED);
    assert_string_equal(why.err, "trailing bytes after the object");
    assert_int_equal(why.err_at, buf.len);
    uint8_t *dead = memmem(b, buf.len, "dead", 4);
    assert_non_null(dead);
    dead[0] = 'D';
    assert_int_equal(swarm_body_decode(SWARM_K_MEMBER, b, buf.len, &u, sizeof(u), &why),
                     PL_EMALFORMED);
    assert_string_equal(why.err, "a name its field does not know");
    assert_int_equal(why.err_at, (size_t)(dead - b) - 1);
    body_same_answer(SWARM_K_MEMBER, b, buf.len);
    assert_int_equal(swarm_body_decode(SWARM_K_FOREIGN, b, buf.len, &u, sizeof(u), &why), -EINVAL);

    struct pl_rand rnd;
    pl_rand_seed(&rnd, 7);
    static const uint8_t forms[] = {0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xd9, 0xda,
                                    0xdb, 0xde, 0xdf, 0x00, 0x7f, 0x80, 0x8f, 0xa0, 0xbf, 0xe0,
                                    0xff, 'a', 'd', 'e', 'o', 'p', 'r'};
    static uint8_t mut[SWARM_BODY_BYTES_MAX + 8];
    for (int k = SWARM_K_MEMBER; k < SWARM_K_COUNT; k++) {
        for (int variant = 0; variant < 8; variant++) {
            size_t n = kind_body((enum swarm_kind)k, variant, &buf);
            body_same_answer((enum swarm_kind)k, buf.data, n);
            assert_int_equal(swarm_body_decode((enum swarm_kind)k, buf.data, n, &u, sizeof(u), NULL), 0);
            for (int t = 0; t < 2000; t++) {
                size_t len = n;
                memcpy(mut, buf.data, n);
                int edits = 1 + (int)pl_rand_below(&rnd, 2);
                for (int j = 0; j < edits && len > 1; j++) {
                    size_t at = pl_rand_below(&rnd, len);
                    switch (pl_rand_below(&rnd, 4)) {
                    case 0:
                        mut[at] ^= (uint8_t)(1u << pl_rand_below(&rnd, 8));
                        break;
                    case 1:
                        mut[at] = forms[pl_rand_below(&rnd, sizeof(forms))];
                        break;
                    case 2:
                        memmove(mut + at + 1, mut + at, len - at);
                        mut[at] = forms[pl_rand_below(&rnd, sizeof(forms))];
                        len++;
                        break;
                    default:
                        memmove(mut + at, mut + at + 1, len - at - 1);
                        len--;
                        break;
                    }
                }
                body_same_answer((enum swarm_kind)k, mut, len);
            }
        }
    }
    pl_buf_close(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codecs),     cmocka_unit_test(test_members),
        cmocka_unit_test(test_strict_body_decoder), cmocka_unit_test(test_incident_index),
        cmocka_unit_test(test_incident_steps_once), cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_placement),  cmocka_unit_test(test_total),
        cmocka_unit_test(test_flapping_fence), cmocka_unit_test(test_place_next),
        cmocka_unit_test(test_hash_agrees), cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_blast_radius_fleet), cmocka_unit_test(test_rollout),
        cmocka_unit_test(test_cluster_incidents), cmocka_unit_test(test_council),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
