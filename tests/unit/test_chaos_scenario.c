/*
 * Unit tests of the chaos scenario (node/chaos/chaos_scenario.c): defaults, each kind of
 * error naming the file and the field, every library scenario in tests/chaos/ parsing, and
 * the schedule, fixed and drawn from the seed; the placement and its target, and
 * safety.placement's overlap intervals, including runs that must fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos_scenario.h"
#include "pl_err.h"

static struct chaos_scenario sc;

static int parse(const char *json, char *err, size_t n)
{
    return chaos_scenario_parse("t.json", json, strlen(json), &sc, err, n);
}

static void expect_error(const char *json, const char *want)
{
    char err[512] = "";
    assert_int_equal(parse(json, err, sizeof(err)), PL_ECONFIG);
    if (strstr(err, want) == NULL)
        fail_msg("expected '%s' in '%s'", want, err);
    assert_true(strncmp(err, "t.json", 6) == 0);
}

static void test_defaults(void **state)
{
    (void)state;
    char err[512] = "";
    int rc = parse("{\"name\": \"x\", \"nodes\": 5, \"nemeses\": [{\"type\": \"kill\", \"at_s\": 10}]}",
                   err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(sc.nodes, 5);
    assert_int_equal(sc.voters, 5);
    assert_int_equal(sc.duration_ms, 60000);
    assert_int_equal(sc.control_ms, 5000);
    assert_false(sc.random);
    assert_false(sc.has_seed);
    assert_int_equal(sc.n, 1);
    assert_int_equal(sc.nemeses[0].kind, CHAOS_KILL);
    assert_int_equal(sc.nemeses[0].target, CHAOS_T_ONE);
    assert_int_equal(sc.nemeses[0].duration_ms, 5000);
    assert_int_equal(sc.nemeses[0].at_ms, 10000);
    /* A duplicate nemesis: a rate, the copy's delay, and one link. */
    rc = parse("{\"name\": \"x\", \"nemeses\": [{\"type\": \"duplicate\", \"rate\": 0.5, "
               "\"ms\": 20, \"target\": \"n1\", \"peer\": \"n2\", \"at_s\": 10}]}",
               err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(sc.nemeses[0].kind, CHAOS_DUPLICATE);
    assert_true(sc.nemeses[0].rate == 0.5);
    assert_int_equal(sc.nemeses[0].delay_ms, 20);
    assert_int_equal(sc.nemeses[0].peer, 1);
    assert_int_equal(sc.nemeses[0].node, 0);
    /* The disk nemeses: a full disk on the leader, a stalled one on a named node. */
    rc = parse("{\"name\": \"x\", \"nemeses\": [{\"type\": \"disk_full\", \"target\": "
               "\"leader\", \"at_s\": 5, \"duration_s\": 9}, {\"type\": \"disk_stall\", "
               "\"target\": \"n3\", \"at_s\": 20}]}",
               err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(sc.n, 2);
    assert_int_equal(sc.nemeses[0].kind, CHAOS_DISK_FULL);
    assert_int_equal(sc.nemeses[0].target, CHAOS_T_LEADER);
    assert_int_equal(sc.nemeses[0].duration_ms, 9000);
    assert_int_equal(sc.nemeses[1].kind, CHAOS_DISK_STALL);
    assert_int_equal(sc.nemeses[1].target, CHAOS_T_NODE);
    assert_int_equal(sc.nemeses[1].node, 2);
    assert_string_equal(chaos_kind_name(CHAOS_DISK_STALL), "disk_stall");
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{\"name\": \"x\",", "t.json:1:13: not valid JSON");
    expect_error("{\"name\": \"x\", \"name\": \"y\"}", "name: given twice");
    expect_error("{\"name\": \"x\", \"nodez\": 3}", "nodez");
    expect_error("{\"nodes\": 3}", "name: required");
    expect_error("{\"name\": \"x\", \"nodes\": 10}", "nodes: expected");
    expect_error("{\"name\": \"x\", \"nodes\": 3, \"voters\": 5}", "voters: 5 is more than nodes");
    expect_error("{\"name\": \"x\", \"schedule\": \"sometimes\"}", "schedule: 'sometimes'");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"flood\", \"at_s\": 9}]}",
                 "nemeses[0].type: 'flood' is not one of kill");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"disk_full\", \"rate\": 0.5, "
                 "\"at_s\": 9}]}", "nemeses[0].rate");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"disk_stall\", \"mode\": "
                 "\"isolate\", \"at_s\": 9}]}", "nemeses[0].mode: only a partition");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"clock\", \"at_s\": 9}]}",
                 "nemeses[0].offset_ms: a clock jump needs");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"clock\", \"offset_ms\": 0.5, "
                 "\"at_s\": 9}]}", "nemeses[0].offset_ms: a clock jump needs");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"kill\", \"offset_ms\": 5, "
                 "\"at_s\": 9}]}", "nemeses[0].offset_ms: only a clock");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"loss\", \"at_s\": 9}]}",
                 "nemeses[0].rate: loss needs");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"loss\", \"rate\": 2, \"at_s\": 9}]}",
                 "nemeses[0].rate: expected a number from 0 to 1");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"kill\", \"target\": \"n4\", "
                 "\"at_s\": 9}]}", "nemeses[0].target: 'n4' is not one of");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"partition\", \"at_s\": 9}]}",
                 "nemeses[0].mode: required");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"partition\", \"mode\": \"ring\", "
                 "\"at_s\": 9}]}", "ring needs at least 4 nodes");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"service\", \"fault\": \"melt\", "
                 "\"at_s\": 9}]}", "nemeses[0].fault: 'melt' is not one of crash");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"service\", \"fault\": \"slow\", "
                 "\"query\": \"ms=1;rm\", \"at_s\": 9}]}", "nemeses[0].query: ';'");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"kill\"}]}",
                 "nemeses[0].at_s: a fixed schedule needs");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"kill\", \"at_s\": 2}]}",
                 "within the no-fault control window");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"kill\", \"at_s\": 50, "
                 "\"repeat\": 3, \"every_s\": 10}]}", "after duration_s");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"kill\", \"at_s\": 10, "
                 "\"repeat\": 3, \"every_s\": 1}]}", "every_s: with repeat");
    expect_error("{\"name\": \"x\", \"schedule\": \"random\", \"nemeses\": [{\"type\": \"kill\", "
                 "\"at_s\": 10}]}", "nemeses[0].at_s: a random schedule draws");
    expect_error("{\"name\": \"x\", \"schedule\": \"random\"}", "a random schedule needs");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"dependency\", \"target\": "
                 "\"one\", \"at_s\": 9}]}", "nemeses[0].target: a dependency is shared");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"kill\", \"ms\": 5, \"at_s\": 9}]}",
                 "nemeses[0].ms: only delay");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"duplicate\", \"at_s\": 9}]}",
                 "nemeses[0].rate: duplicate needs a rate");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"duplicate\", \"rate\": 1, "
                 "\"jitter_ms\": 5, \"at_s\": 9}]}", "nemeses[0].jitter_ms: only delay");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"kill\", \"peer\": \"n2\", "
                 "\"at_s\": 9}]}", "nemeses[0].peer: only loss, delay and duplicate");
}

static void test_schedule_fixed(void **state)
{
    (void)state;
    char err[512] = "";
    assert_int_equal(parse("{\"name\": \"x\", \"nemeses\": [{\"type\": \"kill\", \"at_s\": 20, "
                           "\"duration_s\": 3, \"repeat\": 3, \"every_s\": 10}, "
                           "{\"type\": \"pause\", \"at_s\": 6}]}", err, sizeof(err)), 0);
    struct chaos_interval iv[16];
    int n = chaos_schedule_build(&sc, 1, iv, 16);
    assert_int_equal(n, 4);
    assert_int_equal(iv[0].nemesis, 1);
    assert_int_equal(iv[0].start_ms, 6000);
    assert_int_equal(iv[0].end_ms, 11000);
    assert_int_equal(iv[3].start_ms, 40000);
    assert_int_equal(iv[3].end_ms, 43000);
}

static void test_schedule_random(void **state)
{
    (void)state;
    char err[512] = "";
    assert_int_equal(parse("{\"name\": \"x\", \"schedule\": \"random\", \"stagger_s\": 2, "
                           "\"duration_s\": 120, \"nemeses\": [{\"type\": \"kill\", "
                           "\"duration_s\": 3}, {\"type\": \"pause\", \"duration_s\": 4}]}",
                           err, sizeof(err)), 0);
    struct chaos_interval a[128], b[128], c[128];
    int na = chaos_schedule_build(&sc, 7, a, 128), nb = chaos_schedule_build(&sc, 7, b, 128);
    int nc = chaos_schedule_build(&sc, 8, c, 128);
    assert_true(na > 10);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, sizeof(a[0]) * (size_t)na); /* the seed decides it all */
    bool differs = nc != na;
    for (int i = 0; i < na && i < nc; i++)
        differs |= a[i].start_ms != c[i].start_ms || a[i].nemesis != c[i].nemesis;
    assert_true(differs);
    for (int i = 0; i < na; i++) {
        assert_true(a[i].start_ms >= sc.control_ms);
        assert_true(a[i].end_ms <= sc.duration_ms);
        if (i > 0)
            assert_true(a[i].start_ms >= a[i - 1].end_ms); /* one at a time */
    }
}

/* Every scenario of the library parses. */
static void test_library(void **state)
{
    (void)state;
    const char *dir = getenv("CHAOS_SCENARIOS");
    if (dir == NULL)
        dir = CHAOS_SCENARIOS_DIR;
    DIR *d = opendir(dir);
    assert_non_null(d);
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char path[1024], text[65536];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t n = fread(text, 1, sizeof(text), f);
        fclose(f);
        char err[512] = "";
        if (chaos_scenario_parse(path, text, n, &sc, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        struct chaos_interval iv[CHAOS_INTERVALS_MAX];
        assert_true(chaos_scenario_parse(path, text, n, &sc, err, sizeof(err)) == 0 &&
                    chaos_schedule_build(&sc, 1, iv, CHAOS_INTERVALS_MAX) > 0);
        seen++;
    }
    closedir(d);
    assert_true(seen >= 1);
}

static void test_placement_parse(void **state)
{
    (void)state;
    char err[512] = "";
    const char *ok = "{\"name\": \"x\", \"nodes\": 5, \"voters\": 3, \"placement\": "
                     "{\"service\": \"web\", \"nodes\": [\"n1\", \"n3\"], \"lease_ms\": 1500}, "
                     "\"nemeses\": [{\"type\": \"kill\", \"target\": \"placed:web\", \"at_s\": 10},"
                     " {\"type\": \"partition\", \"mode\": \"isolate\", "
                     "\"target\": \"placed:web\", \"at_s\": 20}]}";
    if (parse(ok, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(sc.placement.service, "web");
    assert_true(sc.placement.on[0] && !sc.placement.on[1] && sc.placement.on[2]);
    assert_int_equal(sc.placement.lease_ms, 1500);
    assert_int_equal(sc.nemeses[0].target, CHAOS_T_PLACED);
    assert_int_equal(sc.nemeses[1].target, CHAOS_T_PLACED);
    assert_string_equal(chaos_target_name(CHAOS_T_PLACED), "placed");
    expect_error("{\"name\": \"x\", \"nemeses\": [{\"type\": \"kill\", \"target\": "
                 "\"placed:web\", \"at_s\": 10}]}",
                 "nemeses[0].target: 'placed:web' names no service of the scenario's placement "
                 "(none)");
    expect_error("{\"name\": \"x\", \"placement\": {\"service\": \"web\", \"nodes\": "
                 "[\"n1\"]}, \"nemeses\": [{\"type\": \"kill\", \"target\": \"placed:db\", "
                 "\"at_s\": 10}]}",
                 "'placed:db' names no service of the scenario's placement (web)");
    expect_error("{\"name\": \"x\", \"placement\": {\"service\": \"web\", \"nodes\": "
                 "[\"n1\"]}, \"nemeses\": [{\"type\": \"partition\", \"mode\": \"halves\", "
                 "\"target\": \"placed:web\", \"at_s\": 10}]}",
                 "nemeses[0].target: placed:web only with a nemesis that acts on its targets");
    expect_error("{\"name\": \"x\", \"nodes\": 5, \"voters\": 3, \"placement\": {\"service\": "
                 "\"web\", \"nodes\": [\"n1\", \"n4\"]}}",
                 "placement.nodes[1]: expected a voter's name n1..n3");
    expect_error("{\"name\": \"x\", \"placement\": {\"service\": \"web\", \"nodes\": "
                 "[\"n1\", \"n1\"]}}", "placement.nodes[1]: 'n1' given twice");
    expect_error("{\"name\": \"x\", \"placement\": {\"nodes\": [\"n1\"]}}",
                 "placement.service: required");
    expect_error("{\"name\": \"x\", \"placement\": {\"service\": \"sample\", \"nodes\": "
                 "[\"n1\"]}}", "placement.service: 'sample' is every node's own service");
    expect_error("{\"name\": \"x\", \"placement\": {\"service\": \"w b\", \"nodes\": "
                 "[\"n1\"]}}", "placement.service: ' ' is not allowed");
    expect_error("{\"name\": \"x\", \"placement\": {\"service\": \"web\"}}",
                 "placement.nodes: required");
    expect_error("{\"name\": \"x\", \"placement\": {\"service\": \"web\", \"nodes\": "
                 "[\"n1\"], \"lease_ms\": 50}}", "placement.lease_ms");
    expect_error("{\"name\": \"x\", \"placement\": {\"service\": \"web\", \"nodes\": "
                 "[\"n1\"], \"replicas\": 2}}", "placement");
}

/* Samples every 500 ms from `from`, `count` of them, all with the mask `m`. */
static uint64_t feed(struct chaos_overlaps *o, uint64_t from, int count, uint32_t m)
{
    for (int k = 0; k < count; k++)
        chaos_overlap_sample(o, from + (uint64_t)k * 500, m);
    return from + (uint64_t)count * 500;
}

static void test_overlaps(void **state)
{
    (void)state;
    static struct chaos_overlaps o;
    /* One copy moving from node 0 to node 1, with a gap: never two, holds. */
    memset(&o, 0, sizeof(o));
    uint64_t t = feed(&o, 0, 10, 1u);
    t = feed(&o, t, 4, 0);
    t = feed(&o, t, 10, 2u);
    chaos_overlap_finish(&o, t);
    assert_int_equal(o.n, 0);
    assert_int_equal(o.samples, 24);
    assert_true(chaos_overlap_holds(&o, 2000, 1000));
    /* Two copies seen at 5.0 s .. 7.0 s (five samples), gone at 7.5 s: at least 2 s, within
     * a 2 s lease + 1 s margin; the nodes seen are the union (0, 1 and 2). */
    memset(&o, 0, sizeof(o));
    t = feed(&o, 0, 10, 1u);
    t = feed(&o, t, 2, 3u);
    t = feed(&o, t, 3, 6u);
    t = feed(&o, t, 10, 4u);
    chaos_overlap_finish(&o, t);
    assert_int_equal(o.n, 1);
    assert_int_equal(o.iv[0].start_ms, 5000);
    assert_int_equal(o.iv[0].last_ms, 7000);
    assert_int_equal(o.iv[0].end_ms, 7500);
    assert_int_equal(o.iv[0].nodes, 7u);
    assert_false(o.iv[0].open_at_end);
    assert_true(chaos_overlap_holds(&o, 2000, 1000));
    /* Must fail: two copies for at least 3.5 s (eight samples) past 2 s + 1 s; and exactly
     * at the limit it still holds (judged on the lower bound, last - start). */
    assert_false(chaos_overlap_holds(&o, 1000, 999));
    assert_true(chaos_overlap_holds(&o, 1000, 1000));
    memset(&o, 0, sizeof(o));
    t = feed(&o, 0, 2, 1u);
    t = feed(&o, t, 8, 5u);
    t = feed(&o, t, 2, 4u);
    /* A short one later does not hide the long one. */
    t = feed(&o, t, 2, 6u);
    t = feed(&o, t, 2, 2u);
    chaos_overlap_finish(&o, t);
    assert_int_equal(o.n, 2);
    assert_int_equal(o.longest.start_ms, 1000);
    assert_int_equal(o.longest.last_ms, 4500);
    assert_false(chaos_overlap_holds(&o, 2000, 1000));
    /* Must fail: still two copies when the run ends, for 4.5 s. */
    memset(&o, 0, sizeof(o));
    t = feed(&o, 0, 2, 1u);
    t = feed(&o, t, 10, 3u);
    assert_false(chaos_overlap_holds(&o, 2000, 1000)); /* judged while still open too */
    chaos_overlap_finish(&o, t);
    assert_int_equal(o.n, 1);
    assert_true(o.iv[0].open_at_end);
    assert_int_equal(o.iv[0].end_ms, t);
    assert_false(chaos_overlap_holds(&o, 2000, 1000));
    /* A single sample with two copies: at least 0 ms, holds at any lease. */
    memset(&o, 0, sizeof(o));
    t = feed(&o, 0, 1, 3u);
    t = feed(&o, t, 1, 1u);
    chaos_overlap_finish(&o, t);
    assert_int_equal(o.n, 1);
    assert_true(chaos_overlap_holds(&o, 0, 0));
    /* More overlaps than kept: counted, and the longest is still the longest. */
    memset(&o, 0, sizeof(o));
    t = 0;
    for (int k = 0; k < CHAOS_OVERLAPS_MAX + 5; k++) {
        t = feed(&o, t, 2, 3u);
        t = feed(&o, t, 1, 1u);
    }
    t = feed(&o, t, 9, 3u);
    t = feed(&o, t, 1, 1u);
    chaos_overlap_finish(&o, t);
    assert_int_equal(o.n, CHAOS_OVERLAPS_MAX);
    assert_int_equal(o.more, 6);
    assert_int_equal(o.longest.last_ms - o.longest.start_ms, 4000);
    assert_false(chaos_overlap_holds(&o, 2000, 1000));
    assert_true(chaos_overlap_holds(&o, 3000, 1000));
    /* Samples after the finish (the harness polls on while the ledgers converge) are not
     * judged, as they could not be listed: a long overlap then changes nothing. */
    memset(&o, 0, sizeof(o));
    t = feed(&o, 0, 4, 1u);
    chaos_overlap_finish(&o, t);
    uint64_t samples = o.samples;
    t = feed(&o, t, 20, 3u);
    assert_true(o.finished);
    assert_int_equal(o.n, 0);
    assert_int_equal(o.samples, samples);
    assert_true(chaos_overlap_holds(&o, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_schedule_fixed),
        cmocka_unit_test(test_schedule_random),
        cmocka_unit_test(test_library),
        cmocka_unit_test(test_placement_parse),
        cmocka_unit_test(test_overlaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
