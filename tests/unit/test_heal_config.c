/*
 * Unit tests of the healing config (node/heal_config.c): defaults, every kind of error
 * naming the file and the JSON path, and the policy's values reaching heal_core.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <string.h>

#include "pl_err.h"
#include "heal_config.h"

static int parse(const char *json, struct heal_config *cfg, char *err, size_t n)
{
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    int rc = heal_config_parse(root, "t.json", cfg, err, n);
    cJSON_Delete(root);
    return rc;
}

static void expect_error(const char *json, const char *want)
{
    struct heal_config cfg;
    char err[512] = "";
    assert_int_equal(parse(json, &cfg, err, sizeof(err)), PL_ECONFIG);
    if (strstr(err, want) == NULL)
        fail_msg("expected '%s' in '%s'", want, err);
    assert_true(strncmp(err, "t.json: ", 8) == 0);
}

static void test_defaults(void **state)
{
    (void)state;
    struct heal_config cfg;
    char err[512];
    int rc = parse("{\"services\": [{\"name\": \"web\", \"command\": \"/bin/true\", \"args\": "
                   "[\"a\", \"b\"], \"env\": {\"K\": \"V\"}, \"checks\": [{\"type\": \"http\", "
                   "\"url\": \"http://127.0.0.1:1/health\"}]}], \"webhooks\": [{\"url\": "
                   "\"http://127.0.0.1:2/h\"}]}",
                   &cfg, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(cfg.nservices, 1);
    const struct heal_service_cfg *s = &cfg.services[0];
    assert_true(s->supervised);
    assert_int_equal(s->argv.n, 3);
    assert_string_equal(s->argv.v[0], "/bin/true");
    assert_string_equal(s->argv.v[2], "b");
    assert_null(s->argv.v[3]);
    assert_string_equal(s->env.v[0], "K=V");
    assert_int_equal(s->stop_signal, SIGTERM);
    assert_int_equal(s->grace_ms, 5000);
    assert_int_equal(s->nchecks, 1);
    assert_int_equal(s->checks[0].interval_ms, 2000);
    assert_int_equal(s->checks[0].timeout_ms, 1000);
    assert_int_equal(s->checks[0].failures, 3);
    assert_int_equal(s->checks[0].status, 200);
    assert_string_equal(s->checks[0].method, "GET");
    assert_true(s->policy.cpu == 0.90 && s->policy.error_rate == 0.05);
    assert_int_equal(s->policy.restart_budget, 3);
    assert_int_equal(cfg.nwebhooks, 1);
    assert_int_equal(cfg.webhooks[0].min_level, 2);
    heal_config_free(&cfg);
}

static void test_policy_values(void **state)
{
    (void)state;
    struct heal_config cfg;
    char err[512];
    int rc = parse("{\"services\": [{\"name\": \"x\", \"type\": \"external\", \"restart\": "
                   "[\"systemctl\", \"restart\", \"x\"], \"stop_signal\": \"SIGINT\", "
                   "\"checks\": [{\"type\": \"tcp\", \"address\": \"127.0.0.1:80\"}], "
                   "\"policy\": {\"thresholds\": {\"cpu\": 0.5, \"latency_ms\": 250}, "
                   "\"memory_limit_mb\": 300, \"allowed_actions\": [\"restart\", \"isolate\"], "
                   "\"requires_approval\": true, \"restart_budget\": 5}}]}",
                   &cfg, err, sizeof(err));
    assert_int_equal(rc, 0);
    const struct heal_service_cfg *s = &cfg.services[0];
    assert_false(s->supervised);
    assert_int_equal(s->restart_cmd.n, 3);
    assert_int_equal(s->stop_signal, SIGINT);
    assert_string_equal(s->checks[0].host, "127.0.0.1");
    assert_int_equal(s->checks[0].port, 80);
    assert_true(s->policy.cpu == 0.5 && s->policy.latency_ms == 250);
    assert_int_equal(s->policy.memory_limit_bytes, 300ull << 20);
    assert_int_equal(s->policy.allowed_actions,
                     HEAL_ACT_BIT(HEAL_ACT_RESTART) | HEAL_ACT_BIT(HEAL_ACT_ISOLATE));
    assert_true(heal_policy_needs_approval(&s->policy, HEAL_ACT_RESTART));
    assert_false(heal_policy_needs_approval(&s->policy, HEAL_ACT_ESCALATE));
    assert_int_equal(s->policy.restart_budget, 5);
    assert_true(s->policy.learning); /* the default */
    heal_config_free(&cfg);
    rc = parse("{\"services\": [{\"name\": \"x\", \"command\": \"x\", \"policy\": "
               "{\"learning\": false}}]}", &cfg, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_false(cfg.services[0].policy.learning);
    heal_config_free(&cfg);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{\"services\": {}}", "services: expected a list");
    expect_error("{\"services\": [{\"command\": \"/bin/true\"}]}", "services[0].name: missing");
    expect_error("{\"services\": [{\"name\": \"a b\", \"command\": \"/bin/true\"}]}",
                 "services[0].name: expected letters");
    expect_error("{\"services\": [{\"name\": \"a\"}]}", "services[0].command: missing");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \" \\t \"}]}",
                 "services[0].command: blank");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": 7}]}",
                 "services[0].command: expected a string");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"colour\": 1}]}",
                 "services[0].colour: unknown setting");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"args\": [1]}]}",
                 "services[0].args[0]: expected a string");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"stop_signal\": "
                 "\"SIGNOPE\"}]}",
                 "services[0].stop_signal: expected a signal name");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"checks\": "
                 "[{\"type\": \"ping\"}]}]}",
                 "services[0].checks[0].type: expected");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"checks\": "
                 "[{\"type\": \"http\", \"url\": \"ftp://x/\"}]}]}",
                 "services[0].checks[0].url: 'ftp://x/' is not an http");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"checks\": "
                 "[{\"type\": \"tcp\", \"address\": \"nohost\"}]}]}",
                 "services[0].checks[0].address: expected HOST:PORT");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"checks\": "
                 "[{\"type\": \"exec\"}]}]}",
                 "services[0].checks[0].command: missing");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"checks\": "
                 "[{\"type\": \"tcp\", \"address\": \"h:1\", \"failures\": 0}]}]}",
                 "services[0].checks[0].failures: expected an integer from 1");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"policy\": "
                 "{\"thresholds\": {\"error_rate\": 0}}}]}",
                 "services[0].policy.thresholds.error_rate: out of range");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"policy\": "
                 "{\"backoff_initial_ms\": 5000, \"backoff_max_ms\": 1000}}]}",
                 "services[0].policy.backoff_max_ms: out of range");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"policy\": "
                 "{\"requires_approval\": \"yes\"}}]}",
                 "services[0].policy.requires_approval: expected a list of action names or");
    expect_error("{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"policy\": "
                 "{\"learning\": \"off\"}}]}",
                 "services[0].policy.learning: expected true or false");
    expect_error("{\"services\": [{\"name\": \"a\", \"type\": \"external\"}]}",
                 "services[0]: an external service needs checks");
    expect_error("{\"services\": [{\"name\": \"a\", \"type\": \"external\", \"command\": \"x\"}]}",
                 "services[0].command: an external service is not started");
    expect_error("{\"webhooks\": [{\"url\": \"nope\"}]}", "webhooks[0].url: 'nope' is not");
}

#define PLACED(p) "{\"services\": [{\"name\": \"a\", \"command\": \"x\", \"placement\": " p "}]}"

static void test_placement(void **state)
{
    (void)state;
    struct heal_config cfg;
    char err[512] = "";
    assert_int_equal(parse(PLACED("{\"replicas\": 1, \"nodes\": [\"n1\", \"n2\"], "
                                  "\"lease_ms\": 3000}"), &cfg, err, sizeof(err)), 0);
    const struct heal_placement_cfg *p = &cfg.services[0].placement;
    assert_true(p->enabled);
    assert_int_equal(p->replicas, 1);
    assert_int_equal(p->nnodes, 2);
    assert_string_equal(p->nodes[1], "n2");
    assert_int_equal(p->lease_ms, 3000);
    heal_config_free(&cfg);
    assert_int_equal(parse(PLACED("{\"nodes\": [\"n1\"]}"), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.services[0].placement.lease_ms, 5000);
    heal_config_free(&cfg);
    assert_int_equal(parse("{\"services\": [{\"name\": \"a\", \"command\": \"x\"}]}", &cfg,
                           err, sizeof(err)), 0);
    assert_false(cfg.services[0].placement.enabled);
    heal_config_free(&cfg);
    expect_error(PLACED("[]"), "services[0].placement: expected an object");
    expect_error(PLACED("{\"nodes\": [\"n1\"], \"replicas\": 2}"),
                 "services[0].placement.replicas: only 1 is supported");
    expect_error(PLACED("{\"replicas\": 1}"), "services[0].placement.nodes: missing");
    expect_error(PLACED("{\"nodes\": []}"), "services[0].placement.nodes: expected a list of 1");
    expect_error(PLACED("{\"nodes\": [\"n1\", 3]}"), "services[0].placement.nodes[1]: expected");
    expect_error(PLACED("{\"nodes\": [\"n1\", \"n1\"]}"),
                 "services[0].placement.nodes[1]: 'n1' is already nodes[0]");
    expect_error(PLACED("{\"nodes\": [\"n1\"], \"lease_ms\": 5}"),
                 "services[0].placement.lease_ms: expected an integer from 100");
    expect_error(PLACED("{\"nodes\": [\"n1\"], \"zone\": 1}"),
                 "services[0].placement.zone: unknown setting");
    expect_error("{\"services\": [{\"name\": \"a\", \"type\": \"external\", \"checks\": "
                 "[{\"type\": \"tcp\", \"address\": \"h:1\"}], \"placement\": "
                 "{\"nodes\": [\"n1\"]}}]}",
                 "services[0].placement: an external service cannot be placed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_policy_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_placement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
