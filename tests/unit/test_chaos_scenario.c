/*
 * Unit tests of the chaos scenario (node/chaos/chaos_scenario.c): defaults, each kind of
 * error naming the file and the field, every library scenario in tests/chaos/ parsing, and
 * the schedule, fixed and drawn from the seed.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_schedule_fixed),
        cmocka_unit_test(test_schedule_random),
        cmocka_unit_test(test_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
