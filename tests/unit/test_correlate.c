/*
 * Unit tests of correlated failures: the heal record's canonical codec
 * (node/swarm/swarm_heal_record.c) and the correlation of the nodes' records
 * (node/agent/swarm_correlate.c): which signatures stand on enough nodes, in the window,
 * with which root cause, whatever the order the records come in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "heal_diag.h"
#include "pl_err.h"
#include "swarm_correlate.h"
#include "swarm_heal_record.h"

static void rec_init(struct swarm_heal_record *r, const char *service)
{
    memset(r, 0, sizeof(*r));
    r->t_ms = 1700000000000ull;
    r->nbase = 1;
    snprintf(r->base[0].service, sizeof(r->base[0].service), "%s", service);
    r->base[0].p95_ms = 12;
    r->base[0].error_ppm = 1500;
    r->base[0].cpu_permille = 40;
    r->base[0].rss_mb = 9;
}

static void rec_sig(struct swarm_heal_record *r, const char *sig, const char *service,
                    uint64_t since)
{
    struct swarm_heal_sig *s = &r->sigs[r->nsigs++];
    snprintf(s->sig, sizeof(s->sig), "%s", sig);
    snprintf(s->service, sizeof(s->service), "%s", service);
    s->since_ms = since;
}

static void test_record_codec(void **state)
{
    (void)state;
    struct swarm_heal_record r, back;
    rec_init(&r, "web");
    rec_sig(&r, "web:check:status", "web", 1700000000500ull);
    struct pl_buf b;
    pl_buf_init(&b, SWARM_HEAL_RECORD_BYTES_MAX);
    assert_int_equal(swarm_heal_record_encode(&r, &b), 0);
    memset(&back, 0xee, sizeof(back));
    assert_int_equal(swarm_heal_record_decode(b.data, b.len, &back), 0);
    assert_int_equal(back.nsigs, 1);
    assert_string_equal(back.sigs[0].sig, "web:check:status");
    assert_int_equal(back.base[0].error_ppm, 1500);
    assert_int_equal(back.t_ms, r.t_ms);
    /* Every byte cut short, every byte flipped: refused or decoded to a record that
     * re-encodes to exactly those bytes. */
    for (size_t i = 0; i < b.len; i++) {
        assert_int_not_equal(swarm_heal_record_decode(b.data, i, &back), 0);
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1u << bit);
            if (swarm_heal_record_decode(b.data, b.len, &back) == 0) {
                struct pl_buf again;
                pl_buf_init(&again, SWARM_HEAL_RECORD_BYTES_MAX);
                assert_int_equal(swarm_heal_record_encode(&back, &again), 0);
                assert_int_equal(again.len, b.len);
                assert_memory_equal(again.data, b.data, b.len);
                pl_buf_close(&again);
            }
            b.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Past the bounds. */
    r.nsigs = SWARM_HEAL_SIGS_MAX + 1;
    assert_int_equal(swarm_heal_record_encode(&r, &b), PL_ERANGE);
    /* An empty name, a non-canonical integer. */
    uint8_t empty[] = {0x83, 0xa1, 't', 0x00, 0xa4, 'b', 'a', 's', 'e', 0x90, 0xa4, 's', 'i',
                       'g', 's', 0x91, 0x93, 0xa0, 0xa1, 'w', 0x01};
    assert_int_equal(swarm_heal_record_decode(empty, sizeof(empty), &back), PL_EMALFORMED);
    uint8_t wide[] = {0x83, 0xa1, 't', 0xcd, 0x00, 0x01, 0xa4, 'b', 'a', 's', 'e', 0x90,
                      0xa4, 's', 'i', 'g', 's', 0x90};
    assert_int_equal(swarm_heal_record_decode(wide, sizeof(wide), &back), PL_EMALFORMED);
    wide[3] = 0x01;
    assert_int_equal(swarm_heal_record_decode(wide, 4, &back), PL_EMALFORMED);
    pl_buf_close(&b);
}

struct fleet {
    struct swarm_heal_record recs[8];
    struct correlate_view views[8];
    char names[8][16];
    int n;
};

static void fleet_init(struct fleet *f, int n, const char *service)
{
    memset(f, 0, sizeof(*f));
    f->n = n;
    for (int i = 0; i < n; i++) {
        rec_init(&f->recs[i], service);
        snprintf(f->names[i], sizeof(f->names[i]), "n%d", i + 1);
        f->views[i].node = f->names[i];
        f->views[i].rec = &f->recs[i];
    }
}

static void test_correlate_find(void **state)
{
    (void)state;
    struct correlate_cfg cfg;
    correlate_cfg_default(&cfg);
    cfg.share = 0.6;
    cfg.window_ms = 10000;
    cfg.min_nodes = 2;
    struct fleet f;
    fleet_init(&f, 5, "web");
    struct correlate_hit hits[4];
    /* One node alone: its own trouble. */
    rec_sig(&f.recs[0], "web:check:status", "web", 1000);
    assert_int_equal(swarm_correlate_find(&cfg, f.views, f.n, false, hits, 4), 0);
    /* Two of five: below the share, but enough to keep an open one (lenient). */
    rec_sig(&f.recs[3], "web:check:status", "web", 1500);
    assert_int_equal(swarm_correlate_find(&cfg, f.views, f.n, false, hits, 4), 0);
    assert_int_equal(swarm_correlate_find(&cfg, f.views, f.n, true, hits, 4), 1);
    /* Three of five within the window: a shared dependency. */
    rec_sig(&f.recs[4], "web:check:status", "web", 4000);
    assert_int_equal(swarm_correlate_find(&cfg, f.views, f.n, false, hits, 4), 1);
    assert_string_equal(hits[0].sig, "web:check:status");
    assert_int_equal(hits[0].nodes, 3);
    assert_int_equal(hits[0].members, 5);
    assert_int_equal(hits[0].cause, HEAL_CAUSE_DEPENDENCY_FAILURE);
    assert_string_equal(hits[0].names, "n1,n4,n5");
    assert_int_equal(hits[0].since_ms, 1000);
    /* The same records in another order: the same answer. */
    struct correlate_view rev[8];
    for (int i = 0; i < f.n; i++)
        rev[i] = f.views[f.n - 1 - i];
    struct correlate_hit again[4];
    assert_int_equal(swarm_correlate_find(&cfg, rev, f.n, false, again, 4), 1);
    assert_memory_equal(&again[0], &hits[0], sizeof(hits[0]));
    /* A failure that began long after the others is not the same event. */
    f.recs[4].sigs[0].since_ms = 1000 + cfg.window_ms + 1;
    assert_int_equal(swarm_correlate_find(&cfg, f.views, f.n, false, hits, 4), 0);
    f.recs[4].sigs[0].since_ms = 4000;
    /* Two unrelated services failing together: the network. */
    for (int i = 0; i < f.n; i++) {
        f.recs[i].nbase = 2;
        snprintf(f.recs[i].base[1].service, sizeof(f.recs[i].base[1].service), "db");
    }
    for (int i = 0; i < 3; i++)
        rec_sig(&f.recs[i], "db:check:timeout", "db", 2000);
    assert_int_equal(swarm_correlate_find(&cfg, f.views, f.n, false, hits, 4), 2);
    assert_int_equal(hits[0].cause, HEAL_CAUSE_NETWORK);
    assert_int_equal(hits[1].cause, HEAL_CAUSE_NETWORK);
    /* Disabled: nothing. */
    cfg.enabled = false;
    assert_int_equal(swarm_correlate_find(&cfg, f.views, f.n, false, hits, 4), 0);
}

/* The share counts the live nodes that run the service, not the whole fleet. */
static void test_share_of_runners(void **state)
{
    (void)state;
    struct correlate_cfg cfg;
    correlate_cfg_default(&cfg);
    cfg.share = 1.0;
    cfg.min_nodes = 2;
    struct fleet f;
    fleet_init(&f, 5, "web");
    for (int i = 2; i < 5; i++)
        snprintf(f.recs[i].base[0].service, sizeof(f.recs[i].base[0].service), "other");
    rec_sig(&f.recs[0], "web:error_rate", "web", 10);
    rec_sig(&f.recs[1], "web:error_rate", "web", 20);
    struct correlate_hit hits[2];
    assert_int_equal(swarm_correlate_find(&cfg, f.views, f.n, false, hits, 2), 1);
    assert_int_equal(hits[0].members, 2);
}

/* A thousand nodes (the records are tallied, not kept) and a hundred signatures of one node
 * each: the same hit whatever the order, the first names kept. */
static void test_many(void **state)
{
    (void)state;
    enum { N = 1000 };
    static struct swarm_heal_record recs[N];
    static struct correlate_view views[N], rev[N];
    static char names[N][16];
    struct correlate_cfg cfg;
    correlate_cfg_default(&cfg);
    cfg.share = 0.5;
    for (int i = 0; i < N; i++) {
        rec_init(&recs[i], "web");
        snprintf(names[i], sizeof(names[i]), "n%04d", i);
        views[i].node = names[i];
        views[i].rec = &recs[i];
        if (i % 4 != 0) /* 750 of 1000 */
            rec_sig(&recs[i], "web:check:status", "web", 1000 + (uint64_t)i);
        /* 100 signatures of one node each: noise */
        char sig[32];
        snprintf(sig, sizeof(sig), "a%03d:check:timeout", i % 100);
        if (i < 100)
            rec_sig(&recs[i], sig, "web", 5);
    }
    for (int i = 0; i < N; i++)
        rev[i] = views[N - 1 - i];
    struct correlate_hit a[4], b[4];
    int na = swarm_correlate_find(&cfg, views, N, false, a, 4);
    int nb = swarm_correlate_find(&cfg, rev, N, false, b, 4);
    assert_int_equal(na, 1);
    assert_int_equal(nb, 1);
    assert_memory_equal(&a[0], &b[0], sizeof(a[0]));
    assert_string_equal(a[0].sig, "web:check:status");
    assert_int_equal(a[0].nodes, 750);
    assert_int_equal(a[0].members, 1000);
    assert_string_equal(a[0].names, "n0001,n0002,n0003,n0005");
}

static void test_config(void **state)
{
    (void)state;
    struct correlate_cfg c;
    char err[256];
    cJSON *root = cJSON_Parse("{\"correlate\": {\"share\": 0.75, \"min_nodes\": 3}}");
    assert_int_equal(correlate_cfg_parse(root, "x.json", &c, err, sizeof(err)), 0);
    assert_true(c.share > 0.74 && c.share < 0.76);
    assert_int_equal(c.min_nodes, 3);
    cJSON_Delete(root);
    root = cJSON_Parse("{\"correlate\": {\"share\": 1.5}}");
    assert_int_equal(correlate_cfg_parse(root, "x.json", &c, err, sizeof(err)), PL_ECONFIG);
    assert_non_null(strstr(err, "correlate.share"));
    cJSON_Delete(root);
    root = cJSON_Parse("{\"correlate\": {\"windw_ms\": 5}}");
    assert_int_equal(correlate_cfg_parse(root, "x.json", &c, err, sizeof(err)), PL_ECONFIG);
    assert_non_null(strstr(err, "windw_ms"));
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_codec),
        cmocka_unit_test(test_correlate_find),
        cmocka_unit_test(test_share_of_runners),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
