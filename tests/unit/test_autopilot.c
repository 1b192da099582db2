/*
 * Unit tests of the council's autopilot choice (node/agent/autopilot.c): a long-dead voter
 * goes (never below a majority of the configured size), a learner is promoted, a healthy
 * candidate joins, one change at a time and the same one whatever the view's order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "autopilot.h"
#include "pl_err.h"

static struct autopilot_server srv(const char *name, bool in_config, bool voter, bool alive,
                                   uint64_t dead_since)
{
    struct autopilot_server s;
    memset(&s, 0, sizeof(s));
    s.name = name;
    s.id = (uint64_t)name[1];
    s.in_config = in_config;
    s.voter = voter;
    s.may_vote = true;
    s.alive = alive;
    s.dead_since_ms = dead_since;
    return s;
}

static void test_replace_dead_voter(void **state)
{
    (void)state;
    struct autopilot_cfg cfg = {.enabled = true, .voters = 3, .dead_after_ms = 5000};
    struct autopilot_server v[5] = {
        srv("n1", true, true, true, 0),      srv("n2", true, true, true, 0),
        srv("n3", true, true, false, 10000), srv("n4", false, false, true, 0),
        srv("n5", false, false, true, 0)};
    v[0].self = true;
    struct autopilot_action a;
    /* Dead, but not long enough. */
    autopilot_decide(&cfg, v, 5, 14999, &a);
    assert_int_equal(a.op, AUTOPILOT_NONE);
    autopilot_decide(&cfg, v, 5, 15000, &a);
    assert_int_equal(a.op, AUTOPILOT_REMOVE);
    assert_string_equal(v[a.server].name, "n3");
    assert_int_equal(a.voters, 2);
    /* Removed: a candidate joins as a learner (the first by name), then is promoted. */
    v[2].in_config = false;
    v[2].voter = false;
    autopilot_decide(&cfg, v, 5, 16000, &a);
    assert_int_equal(a.op, AUTOPILOT_ADD_LEARNER);
    assert_string_equal(v[a.server].name, "n4");
    v[3].in_config = true;
    autopilot_decide(&cfg, v, 5, 16500, &a);
    assert_int_equal(a.op, AUTOPILOT_PROMOTE);
    assert_string_equal(v[a.server].name, "n4");
    assert_int_equal(a.voters, 3);
    v[3].voter = true;
    autopilot_decide(&cfg, v, 5, 17000, &a);
    assert_int_equal(a.op, AUTOPILOT_NONE);
    /* The same view in another order: the same choice. */
    struct autopilot_server w[5] = {v[4], v[3], v[2], v[1], v[0]};
    w[1].voter = false;
    autopilot_decide(&cfg, w, 5, 17000, &a);
    assert_int_equal(a.op, AUTOPILOT_PROMOTE);
    assert_string_equal(w[a.server].name, "n4");
}

/* Two of three voters dead: removing one would leave 1 < majority(3) = 2: nothing. */
static void test_never_below_majority(void **state)
{
    (void)state;
    struct autopilot_cfg cfg = {.enabled = true, .voters = 3, .dead_after_ms = 1000};
    struct autopilot_server v[4] = {srv("n1", true, true, true, 0), srv("n2", true, true, false, 5),
                                    srv("n3", true, true, false, 7), srv("n4", false, false, true, 0)};
    v[0].self = true;
    struct autopilot_action a;
    autopilot_decide(&cfg, v, 4, 100000, &a);
    /* Not a removal; not adding past the configured size either (3 voters in config). */
    assert_int_equal(a.op, AUTOPILOT_NONE);
    /* Five configured: majority 3; four voters with one dead: it may go (3 left). */
    cfg.voters = 5;
    struct autopilot_server u[5] = {srv("n1", true, true, true, 0), srv("n2", true, true, true, 0),
                                    srv("n3", true, true, true, 0), srv("n4", true, true, false, 1),
                                    srv("n5", false, false, false, 1)};
    autopilot_decide(&cfg, u, 5, 100000, &a);
    assert_int_equal(a.op, AUTOPILOT_REMOVE);
    assert_string_equal(u[a.server].name, "n4");
    /* Removed; the dead are no candidates, nor one that may not vote. */
    u[3].in_config = u[3].voter = false;
    autopilot_decide(&cfg, u, 5, 100000, &a);
    assert_int_equal(a.op, AUTOPILOT_NONE);
    u[4].alive = true;
    u[4].dead_since_ms = 0;
    u[4].may_vote = false;
    autopilot_decide(&cfg, u, 5, 100000, &a);
    assert_int_equal(a.op, AUTOPILOT_NONE);
    u[4].may_vote = true;
    autopilot_decide(&cfg, u, 5, 100000, &a);
    assert_int_equal(a.op, AUTOPILOT_ADD_LEARNER);
    assert_string_equal(u[a.server].name, "n5");
    cfg.enabled = false;
    autopilot_decide(&cfg, u, 5, 100000, &a);
    assert_int_equal(a.op, AUTOPILOT_NONE);
}

static void test_config(void **state)
{
    (void)state;
    struct autopilot_cfg c;
    char err[256];
    cJSON *root = cJSON_Parse("{\"autopilot\": {\"voters\": 5, \"dead_after_ms\": 3000}}");
    assert_int_equal(autopilot_cfg_parse(root, "x.json", &c, err, sizeof(err)), 0);
    assert_true(c.enabled);
    assert_int_equal(c.voters, 5);
    assert_int_equal(c.dead_after_ms, 3000);
    cJSON_Delete(root);
    root = cJSON_Parse("{\"autopilot\": {\"voters\": 4}}");
    assert_int_equal(autopilot_cfg_parse(root, "x.json", &c, err, sizeof(err)), PL_ECONFIG);
    assert_non_null(strstr(err, "autopilot.voters"));
    cJSON_Delete(root);
    root = cJSON_Parse("{}");
    assert_int_equal(autopilot_cfg_parse(root, "x.json", &c, err, sizeof(err)), 0);
    assert_false(c.enabled);
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replace_dead_voter),
        cmocka_unit_test(test_never_below_majority),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
