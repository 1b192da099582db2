/*
 * Unit tests of the swarm's learning (node/swarm/swarm_learn.c) inside the replicated state:
 * replay determinism (the same committed entries applied to a fresh state reproduce every
 * choice, every draw and every posterior bit, and the state hash at every index), safety
 * (never an action outside the node's candidates, never retry or escalate, at most
 * SWARM_LEARN_EXPLORE_MAX explorations in a service's last 32 choices, none away from a
 * rules' first action that has not failed), learning (the one
 * action that heals becomes the choice) and forgetting (a changed system is learned again).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_rand.h"
#include "swarm.h"

/* heal_event_kind and heal_action numbers (append-only in heal_incident.h, heal_policy.h). */
#define EV_OPENED 0
#define EV_DIAGNOSED 1
#define EV_ACTION 2
#define EV_CLOSED 9
#define ACT_RESTART 1
#define ACT_RETRY 2
#define ACT_STATE_REPAIR 5
#define ACT_CONFIG_SYNC 6
#define ACT_ESCALATE 7
#define ACT_WAIT 8
#define CANDIDATES                                                                             \
    ((1u << ACT_RESTART) | (1u << ACT_STATE_REPAIR) | (1u << ACT_CONFIG_SYNC) | (1u << ACT_WAIT))

struct log {
    struct pl_buf bodies[4096];
    uint64_t terms[4096];
    uint32_t n;
};

static void apply_body(struct swarm_state *s, struct log *lg, uint64_t term,
                       const struct swarm_incident_event *b)
{
    assert_true(lg->n < 4096);
    struct pl_buf *buf = &lg->bodies[lg->n];
    pl_buf_init(buf, SWARM_BODY_BYTES_MAX);
    assert_int_equal(swarm_incident_event_encode(b, buf), 0);
    lg->terms[lg->n] = term;
    struct swarm_entry e = {.index = s->applied_index + 1, .term = term, .time_ms = 1000 + lg->n,
                            .kind = "incident", .kind_len = 8, .body = buf->data,
                            .body_len = buf->len};
    lg->n++;
    struct swarm_applied out;
    assert_int_equal(swarm_apply(s, &e, &out), 0);
    assert_int_equal(out.outcome, SWARM_APPLIED);
    uint8_t full[SWARM_HASH_BYTES];
    swarm_state_hash_full(s, full);
    assert_memory_equal(full, s->hash, SWARM_HASH_BYTES);
}

static struct swarm_incident_event step(const char *service, const char *id, uint32_t seq,
                                        uint8_t event, uint8_t action, int32_t result,
                                        const char *outcome)
{
    struct swarm_incident_event b;
    memset(&b, 0, sizeof(b));
    snprintf(b.node, sizeof(b.node), "n1");
    snprintf(b.id, sizeof(b.id), "%s", id);
    snprintf(b.service, sizeof(b.service), "%s", service);
    snprintf(b.outcome, sizeof(b.outcome), "%s", outcome);
    b.seq = seq;
    b.event = event;
    b.action = action;
    b.result = result;
    b.cls = 3;
    b.cause = 4;
    b.signal = 2;
    b.t_ms = 1700000000000ull + seq;
    return b;
}

/* One incident: diagnosed with the facts, the tries in order, closed with the outcome. */
static void incident(struct swarm_state *s, struct log *lg, uint64_t term, const char *service,
                     uint32_t n, uint16_t candidates, const uint8_t *tries, uint32_t ntries,
                     const char *outcome)
{
    char id[64];
    snprintf(id, sizeof(id), "n1-%s-%u", service, n);
    uint32_t seq = 0;
    struct swarm_incident_event b = step(service, id, seq++, EV_OPENED, 0, 0, "");
    apply_body(s, lg, term, &b);
    b = step(service, id, seq++, EV_DIAGNOSED, 0, SWARM_FACTS(candidates, 6, ACT_RESTART), "");
    apply_body(s, lg, term, &b);
    for (uint32_t i = 0; i < ntries; i++) {
        b = step(service, id, seq++, EV_ACTION, tries[i], 0, "");
        apply_body(s, lg, term, &b);
    }
    b = step(service, id, seq++, EV_CLOSED, 0, 0, outcome);
    apply_body(s, lg, term, &b);
}

static const struct swarm_learn_sig *sig_of(const struct swarm_state *s, const char *service)
{
    struct swarm_learn_key k;
    memset(&k, 0, sizeof(k));
    snprintf(k.service, sizeof(k.service), "%s", service);
    k.cls = 3;
    k.cause = 4;
    k.signal = 2;
    k.feature = 6;
    return swarm_learn_find(&s->learn, &k);
}

/* The world of the tests: only `fix` heals; the node takes the learned choice first, then
 * restart when that failed. */
static void run(struct swarm_state *s, struct log *lg, const char *service, uint32_t from,
                uint32_t n, uint8_t fix, uint16_t candidates, struct pl_rand *r)
{
    for (uint32_t i = from; i < from + n; i++) {
        const struct swarm_learn_sig *g = sig_of(s, service);
        uint8_t first = g != NULL && g->choice != 0 ? g->choice : ACT_RESTART;
        uint8_t tries[3] = {first, 0, 0};
        uint32_t nt = 1;
        if (first != fix) {
            tries[nt++] = ACT_RESTART;
            if (fix != ACT_RESTART && pl_rand_below(r, 2) == 0)
                tries[nt++] = fix; /* an operator-like second chance */
        }
        bool healed = tries[nt - 1] == fix;
        incident(s, lg, 1 + i / 7, service, i, candidates, tries, nt,
                 healed ? "healed" : (pl_rand_below(r, 2) ? "recovered" : "stopped"));
    }
}

static void test_learns_and_replays(void **state)
{
    (void)state;
    struct swarm_state *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    struct log *lg = calloc(1, sizeof(*lg));
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(lg);
    swarm_state_init(a);
    struct pl_rand r;
    pl_rand_seed(&r, 42);
    /* Two services, two different cures; retry and escalate offered but never chosen. */
    uint16_t cand = CANDIDATES | (1u << ACT_RETRY) | (1u << ACT_ESCALATE);
    run(a, lg, "web", 0, 40, ACT_CONFIG_SYNC, cand, &r);
    run(a, lg, "db", 0, 40, ACT_WAIT, cand, &r);
    const struct swarm_learn_sig *web = sig_of(a, "web"), *db = sig_of(a, "db");
    assert_non_null(web);
    assert_non_null(db);
    assert_int_equal(web->choice, ACT_CONFIG_SYNC);
    assert_int_equal(db->choice, ACT_WAIT);
    assert_true(swarm_learn_mean(&web->arms[ACT_CONFIG_SYNC]) >
                swarm_learn_mean(&web->arms[ACT_RESTART]));
    uint32_t lo, hi;
    swarm_learn_interval(&web->arms[ACT_CONFIG_SYNC], &lo, &hi);
    assert_true(lo <= swarm_learn_mean(&web->arms[ACT_CONFIG_SYNC]) && hi <= SWARM_Q16_ONE);
    /* The system changes: config_sync stops working, state_repair starts. Forgetting lets
     * the swarm learn it again. */
    run(a, lg, "web", 40, 120, ACT_STATE_REPAIR, cand, &r);
    web = sig_of(a, "web");
    assert_int_equal(web->choice, ACT_STATE_REPAIR);

    /* Replay: the same entries on a fresh state give the same state; the same entries but
     * one term changed in the entry that first drew give other draws at that index (the
     * seed is the entry). */
    swarm_state_init(b);
    struct swarm_state *c = malloc(sizeof(*c));
    assert_non_null(c);
    swarm_state_init(c);
    for (uint32_t i = 0; i < lg->n; i++) {
        struct swarm_entry e = {.index = i + 1, .term = lg->terms[i], .time_ms = 1000 + i,
                                .kind = "incident", .kind_len = 8,
                                .body = lg->bodies[i].data, .body_len = lg->bodies[i].len};
        struct swarm_applied out;
        assert_int_equal(swarm_apply(b, &e, &out), 0);
        if (i <= 1) {
            e.term += i == 1;
            assert_int_equal(swarm_apply(c, &e, &out), 0);
        }
        if (i == 1) {
            const struct swarm_learn_sig *x = &b->learn.sigs[0], *y = &c->learn.sigs[0];
            assert_int_not_equal(x->choice_term, y->choice_term);
            assert_memory_not_equal(x->arms, y->arms, sizeof(x->arms));
        }
    }
    assert_memory_equal(a->hash, b->hash, SWARM_HASH_BYTES);
    assert_memory_equal(&a->learn, &b->learn, sizeof(a->learn));
    for (uint32_t i = 0; i < lg->n; i++)
        pl_buf_close(&lg->bodies[i]);
    free(a);
    free(b);
    free(c);
    free(lg);
}

/* A fresh state and an empty log; done() frees both. */
static void fresh(struct swarm_state **s, struct log **lg)
{
    *s = malloc(sizeof(**s));
    *lg = calloc(1, sizeof(**lg));
    assert_non_null(*s);
    assert_non_null(*lg);
    swarm_state_init(*s);
}

static void done(struct swarm_state *s, struct log *lg)
{
    for (uint32_t i = 0; i < lg->n; i++)
        pl_buf_close(&lg->bodies[i]);
    free(s);
    free(lg);
}

static int popcount(uint32_t x)
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

static void test_safe_choices(void **state)
{
    (void)state;
    struct swarm_state *s;
    struct log *lg;
    fresh(&s, &lg);
    struct pl_rand r;
    pl_rand_seed(&r, 7);
    /* Nothing heals: every arm keeps looking alike and the draws want to explore. */
    uint16_t cand = (1u << ACT_RESTART) | (1u << ACT_WAIT) | (1u << ACT_RETRY) |
                    (1u << ACT_ESCALATE);
    for (uint32_t i = 0; i < 200; i++) {
        const struct swarm_learn_sig *g = sig_of(s, "api");
        uint8_t first = g != NULL && g->choice ? g->choice : ACT_RESTART;
        incident(s, lg, 1, "api", i, cand, &first, 1, "recovered");
        g = sig_of(s, "api");
        assert_non_null(g);
        assert_true(g->choice == ACT_RESTART || g->choice == ACT_WAIT);
        const struct swarm_learn_svc *v = NULL;
        for (uint32_t k = 0; k < s->learn.nsvcs; k++)
            if (strcmp(s->learn.svcs[k].service, "api") == 0)
                v = &s->learn.svcs[k];
        assert_non_null(v);
        assert_true(popcount(v->history) <= SWARM_LEARN_EXPLORE_MAX);
    }
    /* No candidates at all (everything needs approval): no choice, the rules stand. */
    incident(s, lg, 1, "locked", 0, 0, (const uint8_t[]){ACT_RESTART}, 1, "healed");
    const struct swarm_learn_sig *g = sig_of(s, "locked");
    assert_non_null(g);
    assert_int_equal(g->choice, 0);
    done(s, lg);
}

/* A rules' first action that keeps healing is never explored away from (every other
 * arm's wide prior would win draws now and then, and each such gamble is an incident healed
 * slower than rules-only would); once it fails, the swarm looks for what heals; a cure
 * found is kept while it keeps healing. */
static void test_rules_kept_until_they_fail(void **state)
{
    (void)state;
    struct swarm_state *s;
    struct log *lg;
    fresh(&s, &lg);
    for (uint32_t i = 0; i < 120; i++) {
        const struct swarm_learn_sig *g = sig_of(s, "crashy");
        uint8_t tries[2] = {g != NULL && g->choice ? g->choice : ACT_RESTART, ACT_RESTART};
        uint32_t nt = tries[0] == ACT_RESTART ? 1 : 2;
        incident(s, lg, 1 + i / 9, "crashy", i, CANDIDATES, tries, nt, "healed");
        g = sig_of(s, "crashy");
        assert_non_null(g);
        assert_int_equal(g->choice, ACT_RESTART);
        assert_false(g->explored);
    }
    /* The system changes: restart stops healing, waiting does; the swarm looks for it. */
    struct pl_rand r;
    pl_rand_seed(&r, 11);
    run(s, lg, "crashy", 120, 60, ACT_WAIT, CANDIDATES, &r);
    assert_int_equal(sig_of(s, "crashy")->choice, ACT_WAIT);
    /* A new signature whose restart failed once and state_repair healed after it: the cure
     * found is kept while it keeps healing, no gamble against it though the failed restart
     * is remembered. */
    incident(s, lg, 30, "cachey", 0, CANDIDATES, (const uint8_t[]){ACT_RESTART, ACT_STATE_REPAIR},
             2, "healed");
    for (uint32_t i = 1; i < 40; i++) {
        const struct swarm_learn_sig *g = sig_of(s, "cachey");
        assert_int_equal(g->choice, ACT_STATE_REPAIR);
        assert_false(g->explored);
        incident(s, lg, 30, "cachey", i, CANDIDATES, &g->choice, 1, "healed");
    }
    done(s, lg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_and_replays),
        cmocka_unit_test(test_safe_choices),
        cmocka_unit_test(test_rules_kept_until_they_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
