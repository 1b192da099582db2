/*
 * Unit tests of heal_core: policy defaults and ranges, the detectors, the least-squares
 * prediction, diagnosis and planning, the restart budget with crash-loop back-off, full
 * jitter, and the incident record's msgpack codec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pl_err.h"
#include "pl_rand.h"
#include "heal_budget.h"
#include "heal_detect.h"
#include "heal_diag.h"
#include "heal_incident.h"
#include "heal_machine.h"
#include "heal_policy.h"

static void test_policy_defaults(void **state)
{
    (void)state;
    struct heal_policy p;
    heal_policy_init(&p);
    assert_true(p.cpu == 0.90 && p.memory == 0.95 && p.error_rate == 0.05);
    assert_true(p.latency_factor == 2.0);
    assert_int_equal(p.error_window_ms, 60000);
    assert_int_equal(p.resource_window_ms, 120000);
    assert_int_equal(p.backoff_initial_ms, 10000);
    assert_int_equal(p.backoff_max_ms, 300000);
    const char *field = NULL;
    char why[128];
    assert_int_equal(heal_policy_check(&p, &field, why, sizeof(why)), 0);
    assert_true(heal_policy_allows(&p, HEAL_ACT_RESTART));
    assert_false(heal_policy_allows(&p, HEAL_ACT_ISOLATE));
    assert_true(heal_policy_allows(&p, HEAL_ACT_ESCALATE));

    p.cpu = 1.5;
    assert_int_equal(heal_policy_check(&p, &field, why, sizeof(why)), PL_ERANGE);
    assert_string_equal(field, "cpu");
    heal_policy_init(&p);
    p.backoff_max_ms = p.backoff_initial_ms - 1;
    assert_int_equal(heal_policy_check(&p, &field, why, sizeof(why)), PL_ERANGE);
    assert_string_equal(field, "backoff_max_ms");
    heal_policy_init(&p);
    p.latency_factor = 1.0;
    assert_int_equal(heal_policy_check(&p, &field, why, sizeof(why)), PL_ERANGE);
    assert_string_equal(field, "latency_factor");

    enum heal_action a;
    assert_int_equal(heal_action_parse("config_sync", &a), 0);
    assert_int_equal(a, HEAL_ACT_CONFIG_SYNC);
    assert_string_equal(heal_action_name(a), "config_sync");
    assert_int_equal(heal_action_parse("reboot", &a), PL_ENOTFOUND);
    assert_int_equal(heal_action_parse("none", &a), PL_ENOTFOUND);
}

static void test_check_state(void **state)
{
    (void)state;
    struct heal_check_state s;
    heal_check_state_init(&s, 3, 1);
    assert_int_equal(heal_check_state_feed(&s, false), 0);
    assert_int_equal(heal_check_state_feed(&s, false), 0);
    assert_int_equal(heal_check_state_feed(&s, true), 0); /* the run is broken */
    assert_int_equal(heal_check_state_feed(&s, false), 0);
    assert_int_equal(heal_check_state_feed(&s, false), 0);
    assert_int_equal(heal_check_state_feed(&s, false), -1);
    assert_false(s.healthy);
    assert_int_equal(heal_check_state_feed(&s, false), 0); /* fires once */
    assert_int_equal(heal_check_state_feed(&s, true), 1);
    assert_true(s.healthy);
}

static void test_error_rate(void **state)
{
    (void)state;
    struct heal_rate_detector d;
    struct heal_rate_verdict v = {0};
    heal_rate_init(&d, 60000, 0.05, 20);
    /* 100 requests per 5 s with 2 % errors: quiet. */
    double total = 0, errors = 0;
    uint64_t t = 1000;
    for (int i = 0; i < 30; i++, t += 5000) {
        total += 100;
        errors += 2;
        assert_int_equal(heal_rate_feed(&d, t, total, errors, &v), 0);
    }
    /* Now 20 % errors: the window still holds the quiet minute, so the rate climbs until it
     * crosses 5 %. */
    int fired_at = -1;
    for (int i = 0; i < 20; i++, t += 5000) {
        total += 100;
        errors += 20;
        if (heal_rate_feed(&d, t, total, errors, &v) == 1) {
            fired_at = i;
            break;
        }
    }
    assert_true(fired_at >= 1 && fired_at <= 4);
    assert_true(v.rate > 0.05 && v.rate < 0.2);
    assert_true(v.requests >= 20);
    assert_true(v.span_ms <= 60000);
    /* After a full window of 20 % the rate is 20 %. */
    for (int i = 0; i < 13; i++, t += 5000) {
        total += 100;
        errors += 20;
        heal_rate_feed(&d, t, total, errors, &v);
    }
    assert_true(fabs(v.rate - 0.2) < 1e-9);
    /* A restart resets the counters: no verdict from the first sample after it. */
    assert_int_equal(heal_rate_feed(&d, t, 10, 9, &v), 0);
    /* Too few requests: no verdict even at 100 %. */
    assert_int_equal(heal_rate_feed(&d, t + 1000, 15, 14, &v), 0);
}

static void test_latency(void **state)
{
    (void)state;
    struct heal_latency_detector d;
    struct heal_latency_verdict v = {0};
    heal_latency_init(&d, 0.2, 2.0, 0, 5, 10000);
    uint64_t t = 0;
    for (int i = 0; i < 20; i++, t += 1000)
        assert_int_equal(heal_latency_feed(&d, t, 10.0 + (i % 3), &v), 0);
    double base = d.baseline_ms;
    assert_true(base > 9 && base < 13);
    /* Slow: 50 ms. It must stay slow for 10 s before firing, and never teach the baseline. */
    int fired = 0;
    for (int i = 0; i < 15 && !fired; i++, t += 1000)
        fired = heal_latency_feed(&d, t, 50.0, &v);
    assert_true(fired);
    assert_true(v.for_ms >= 10000);
    assert_true(v.p95_ms == 50.0 && v.baseline_ms == base && v.bound_ms == 2 * base);
    /* NaN (no requests) is ignored. */
    assert_int_equal(heal_latency_feed(&d, t, NAN, &v), 0);
    /* Absolute bound mode with no warm-up. */
    heal_latency_init(&d, 0.2, 2.0, 100, 5, 0);
    assert_int_equal(heal_latency_feed(&d, 0, 150, &v), 1);
    assert_true(v.bound_ms == 100);
}

static void test_sustain(void **state)
{
    (void)state;
    struct heal_sustain s;
    uint64_t for_ms = 0;
    heal_sustain_init(&s, 0.90, 120000);
    assert_int_equal(heal_sustain_feed(&s, 0, 0.95, &for_ms), 0);
    assert_int_equal(heal_sustain_feed(&s, 60000, 0.97, &for_ms), 0);
    assert_int_equal(heal_sustain_feed(&s, 90000, 0.50, &for_ms), 0); /* dip resets */
    assert_int_equal(heal_sustain_feed(&s, 100000, 0.95, &for_ms), 0);
    assert_int_equal(heal_sustain_feed(&s, 219999, 0.95, &for_ms), 0);
    assert_int_equal(heal_sustain_feed(&s, 220000, 0.95, &for_ms), 1);
    assert_int_equal(for_ms, 120000);
    assert_true(s.peak == 0.95);
}

static void test_trend(void **state)
{
    (void)state;
    struct heal_trend t;
    struct heal_trend_verdict v;
    heal_trend_init(&t, 120000, 6, 0.8);
    /* RSS grows 10 MB/s from 100 MB, sampled every second with +-1 MB of wiggle. */
    const double mb = 1024.0 * 1024.0;
    for (int i = 0; i <= 5; i++)
        heal_trend_add(&t, 1000 + (uint64_t)i * 1000, (100 + 10.0 * i + (i % 2 ? 1 : -1)) * mb);
    assert_int_equal(heal_trend_eta(&t, 6000, 400 * mb, &v), 0);
    assert_int_equal(v.samples, 6);
    assert_true(fabs(v.slope_per_s / mb - 10.0) < 1.0);
    assert_true(v.r2 > 0.95);
    /* At 150 MB now and 10 MB/s, 400 MB is ~25 s away. */
    assert_true(v.eta_ms > 22000 && v.eta_ms < 28000);
    /* Too few samples. */
    struct heal_trend t2;
    heal_trend_init(&t2, 120000, 6, 0.8);
    for (int i = 0; i < 5; i++)
        heal_trend_add(&t2, (uint64_t)i * 1000, i * mb);
    assert_int_equal(heal_trend_eta(&t2, 4000, 10 * mb, &v), PL_ESTATE);
    /* Flat or noisy: no prediction. */
    struct heal_pattern { double v; } noise[] = {{5}, {1}, {9}, {2}, {8}, {1}, {7}, {3}};
    heal_trend_init(&t2, 120000, 6, 0.8);
    for (int i = 0; i < 8; i++)
        heal_trend_add(&t2, (uint64_t)i * 1000, noise[i].v * mb);
    assert_int_equal(heal_trend_eta(&t2, 7000, 100 * mb, &v), PL_ESTATE);
    assert_true(v.eta_ms == UINT64_MAX);
    /* Falling: no prediction. */
    heal_trend_init(&t2, 120000, 6, 0.8);
    for (int i = 0; i < 8; i++)
        heal_trend_add(&t2, (uint64_t)i * 1000, (100 - i) * mb);
    assert_int_equal(heal_trend_eta(&t2, 7000, 200 * mb, &v), PL_ESTATE);
    /* Flat for 14 s, then rising 10 MiB/s: the whole 20 s window fits badly (r2 0.57), its
     * recent half sees the climb (r2 0.87) and predicts the limit in ~39 s. */
    heal_trend_init(&t2, 20000, 5, 0.8);
    for (int i = 0; i <= 20; i++)
        heal_trend_add(&t2, (uint64_t)i * 1000, (i <= 14 ? 100 : 100 + 10.0 * (i - 14)) * mb);
    assert_int_equal(heal_trend_eta(&t2, 20000, 400 * mb, &v), 0);
    assert_int_equal(v.samples, 11);
    assert_true(v.r2 > 0.85 && v.r2 < 0.9);
    assert_true(v.eta_ms > 37000 && v.eta_ms < 41000);
    /* Old samples fall out of the window. */
    heal_trend_init(&t2, 5000, 3, 0.8);
    for (int i = 0; i < 20; i++)
        heal_trend_add(&t2, (uint64_t)i * 1000, i * mb);
    assert_int_equal(heal_trend_eta(&t2, 19000, 100 * mb, &v), 0);
    assert_int_equal(v.samples, 6);
    assert_true(v.eta_ms > 80000 && v.eta_ms < 82000);
}

static struct heal_signal signal_base(enum heal_signal_kind k)
{
    struct heal_signal s;
    memset(&s, 0, sizeof(s));
    s.kind = k;
    s.host_cpu = 0.2;
    s.host_memory = 0.3;
    s.proc_memory_fraction = 0.1;
    s.proc_cpu = 0.05;
    s.services_total = 1;
    s.process_alive = true;
    return s;
}

static void test_diagnose(void **state)
{
    (void)state;
    struct heal_diagnosis d;
    struct heal_signal s = signal_base(HEAL_SIG_EXIT);
    snprintf(s.ev.source, sizeof(s.ev.source), "process");
    snprintf(s.ev.metric, sizeof(s.ev.metric), "exit_status");
    s.ev.value = 1;
    s.exit_status = 1;
    heal_diagnose(&s, "web", &d);
    assert_int_equal(d.cls, HEAL_CLASS_TRANSIENT);
    assert_int_equal(d.cause, HEAL_CAUSE_CODE_BUG);
    assert_true(d.confidence > 0 && d.confidence <= 1);
    assert_true(d.severity >= 1 && d.severity <= 5);
    assert_int_equal(d.nevidence, 1);
    assert_string_equal(d.evidence[0].metric, "exit_status");
    assert_string_equal(d.sig.service, "web");
    assert_int_equal(d.sig.cls, d.cls);

    s.crash_loop = true;
    s.restarts_in_window = 3;
    heal_diagnose(&s, "web", &d);
    assert_int_equal(d.cls, HEAL_CLASS_SERVICE_FAILURE);
    assert_true(d.confidence >= 0.8);
    assert_int_equal(d.severity, 5);
    assert_int_equal(d.nevidence, 2);

    /* Killed near its memory limit: resource exhaustion. */
    s = signal_base(HEAL_SIG_EXIT);
    s.term_signal = SIGKILL;
    s.proc_memory_fraction = 0.97;
    heal_diagnose(&s, "web", &d);
    assert_int_equal(d.cause, HEAL_CAUSE_RESOURCE_EXHAUSTION);

    /* A hang: check times out while the process is alive. */
    s = signal_base(HEAL_SIG_CHECK);
    s.check_failure = HEAL_CHECKFAIL_TIMEOUT;
    heal_diagnose(&s, "web", &d);
    assert_int_equal(d.cls, HEAL_CLASS_SERVICE_FAILURE);
    assert_int_equal(d.cause, HEAL_CAUSE_CODE_BUG);
    /* A saturated host while the service idles: still a hang of its own. */
    s.host_cpu = 0.99;
    s.proc_cpu = 0.01;
    heal_diagnose(&s, "web", &d);
    assert_int_equal(d.cause, HEAL_CAUSE_CODE_BUG);
    /* The same with the service busy in it: overload, not this service's bug. */
    s.proc_cpu = 0.95;
    heal_diagnose(&s, "web", &d);
    assert_int_equal(d.cls, HEAL_CLASS_DEGRADATION);
    assert_int_equal(d.cause, HEAL_CAUSE_OVERLOAD);
    /* Most services failing together: a shared dependency. */
    s = signal_base(HEAL_SIG_CHECK);
    s.check_failure = HEAL_CHECKFAIL_TIMEOUT;
    s.services_total = 4;
    s.services_failing = 3;
    heal_diagnose(&s, "web", &d);
    assert_int_equal(d.cause, HEAL_CAUSE_DEPENDENCY_FAILURE);

    s = signal_base(HEAL_SIG_ERROR_RATE);
    s.ev.value = 0.2;
    s.ev.threshold = 0.05;
    heal_diagnose(&s, "web", &d);
    assert_int_equal(d.cls, HEAL_CLASS_DEGRADATION);
    assert_true(d.evidence[0].value == 0.2 && d.evidence[0].threshold == 0.05);

    s = signal_base(HEAL_SIG_PREDICT_MEMORY);
    heal_diagnose(&s, "web", &d);
    assert_int_equal(d.cause, HEAL_CAUSE_RESOURCE_EXHAUSTION);

    s = signal_base(HEAL_SIG_CONFIG_DRIFT);
    heal_diagnose(&s, "web", &d);
    assert_int_equal(d.cls, HEAL_CLASS_CONFIG_DRIFT);
    assert_string_equal(heal_class_name(d.cls), "config_drift");
    assert_string_equal(heal_cause_name(d.cause), "config_error");
}

static void test_plan(void **state)
{
    (void)state;
    struct heal_policy p;
    heal_policy_init(&p);
    struct heal_caps caps = {.can_restart = true};
    struct heal_diagnosis d;
    memset(&d, 0, sizeof(d));
    enum heal_action plan[HEAL_PLAN_MAX];

    d.cls = HEAL_CLASS_SERVICE_FAILURE;
    d.cause = HEAL_CAUSE_CODE_BUG;
    int n = heal_plan(&d, &p, &caps, plan);
    assert_int_equal(n, 2);
    assert_int_equal(plan[0], HEAL_ACT_RESTART);
    assert_int_equal(plan[1], HEAL_ACT_ESCALATE);

    /* Restart not allowed: straight to escalation. */
    p.allowed_actions = HEAL_ACT_BIT(HEAL_ACT_ISOLATE);
    n = heal_plan(&d, &p, &caps, plan);
    assert_int_equal(n, 1);
    assert_int_equal(plan[0], HEAL_ACT_ESCALATE);

    /* Overload with scale and isolate configured and allowed. */
    p.allowed_actions = HEAL_ACTS_DEFAULT | HEAL_ACT_BIT(HEAL_ACT_SCALE) |
                        HEAL_ACT_BIT(HEAL_ACT_ISOLATE);
    caps.has_scale = caps.has_isolate = true;
    d.cls = HEAL_CLASS_DEGRADATION;
    d.cause = HEAL_CAUSE_OVERLOAD;
    n = heal_plan(&d, &p, &caps, plan);
    assert_int_equal(n, 4);
    assert_int_equal(plan[0], HEAL_ACT_SCALE);
    assert_int_equal(plan[1], HEAL_ACT_ISOLATE);
    assert_int_equal(plan[2], HEAL_ACT_RESTART);
    assert_int_equal(plan[3], HEAL_ACT_ESCALATE);

    /* Config drift: sync first, but only with a known-good copy. */
    d.cls = HEAL_CLASS_CONFIG_DRIFT;
    n = heal_plan(&d, &p, &caps, plan);
    assert_int_equal(n, 2);
    assert_int_equal(plan[0], HEAL_ACT_RESTART);
    assert_int_equal(plan[1], HEAL_ACT_ESCALATE);
    caps.has_config_file = true;
    n = heal_plan(&d, &p, &caps, plan);
    assert_int_equal(n, 3);
    assert_int_equal(plan[0], HEAL_ACT_CONFIG_SYNC);
    assert_int_equal(plan[1], HEAL_ACT_RESTART);
    assert_int_equal(plan[2], HEAL_ACT_ESCALATE);

    /* A disk filling up: clean-up if there is one, never a restart. */
    memset(&d, 0, sizeof(d));
    struct heal_signal ds = signal_base(HEAL_SIG_PREDICT_DISK);
    heal_diagnose(&ds, "web", &d);
    caps.has_state_repair = false;
    p.allowed_actions |= HEAL_ACT_BIT(HEAL_ACT_STATE_REPAIR);
    n = heal_plan(&d, &p, &caps, plan);
    assert_int_equal(n, 1);
    assert_int_equal(plan[0], HEAL_ACT_ESCALATE);
    caps.has_state_repair = true;
    n = heal_plan(&d, &p, &caps, plan);
    assert_int_equal(n, 2);
    assert_int_equal(plan[0], HEAL_ACT_STATE_REPAIR);

    p.requires_approval = HEAL_ACT_BIT(HEAL_ACT_RESTART) | HEAL_ACT_BIT(HEAL_ACT_ESCALATE);
    assert_true(heal_policy_needs_approval(&p, HEAL_ACT_RESTART));
    assert_false(heal_policy_needs_approval(&p, HEAL_ACT_ESCALATE));
}

static void test_budget_backoff(void **state)
{
    (void)state;
    struct heal_policy p;
    heal_policy_init(&p);
    struct heal_budget b;
    struct heal_budget_decision dec;
    heal_budget_init(&b);
    uint64_t t = 1000;
    /* Three restarts at once. */
    for (int i = 0; i < 3; i++) {
        heal_budget_next(&b, &p, t, &dec);
        assert_int_equal(dec.delay_ms, 0);
        assert_false(dec.in_backoff);
        heal_budget_record(&b, &p, t);
        t += 2000;
    }
    /* Then 10 s doubling to 5 min, escalating once when the cap is reached. */
    uint64_t want[] = {10000, 20000, 40000, 80000, 160000, 300000, 300000};
    int escalations = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        heal_budget_next(&b, &p, t, &dec);
        assert_true(dec.in_backoff);
        assert_int_equal(dec.delay_ms, want[i]);
        escalations += dec.escalate;
        if (dec.escalate)
            assert_int_equal(want[i], 300000);
        t += dec.delay_ms;
        heal_budget_record(&b, &p, t);
        t += 1000;
    }
    assert_int_equal(escalations, 1);
    /* Healthy for 10 minutes forgives the loop. */
    heal_budget_health(&b, true, t);
    t += 10 * 60 * 1000;
    heal_budget_next(&b, &p, t, &dec);
    assert_false(dec.in_backoff);
    assert_int_equal(dec.delay_ms, 0);
    assert_int_equal(dec.restarts_in_window, 0);

    /* Restarts spread wider than the window never enter back-off. */
    heal_budget_init(&b);
    t = 0;
    for (int i = 0; i < 10; i++) {
        heal_budget_next(&b, &p, t, &dec);
        assert_false(dec.in_backoff);
        heal_budget_record(&b, &p, t);
        t += 2 * 60 * 1000;
    }
}

static void test_retry_jitter(void **state)
{
    (void)state;
    struct pl_rand r1, r2;
    pl_rand_seed(&r1, 42);
    pl_rand_seed(&r2, 42);
    uint64_t max_seen[6] = {0};
    for (int i = 0; i < 2000; i++) {
        for (uint32_t a = 0; a < 6; a++) {
            uint64_t d1 = heal_retry_delay_ms(a, 100, 1000, &r1);
            uint64_t d2 = heal_retry_delay_ms(a, 100, 1000, &r2);
            assert_int_equal(d1, d2); /* same seed, same delays */
            uint64_t ceiling = a < 4 ? 100u << a : 1000;
            if (ceiling > 1000)
                ceiling = 1000;
            assert_true(d1 <= ceiling);
            if (d1 > max_seen[a])
                max_seen[a] = d1;
        }
    }
    /* Full jitter spreads over the whole range. */
    assert_true(max_seen[0] > 90);
    assert_true(max_seen[5] > 900);
}

static void fill_incident(struct heal_incident *inc)
{
    assert_int_equal(heal_incident_open(inc, "n1-1763700000000-1", "n1", "web", 1763700000000),
                     0);
    struct heal_signal s = signal_base(HEAL_SIG_ERROR_RATE);
    snprintf(s.ev.source, sizeof(s.ev.source), "metric");
    snprintf(s.ev.metric, sizeof(s.ev.metric), "error_rate");
    s.ev.value = 0.2;
    s.ev.threshold = 0.05;
    snprintf(s.ev.detail, sizeof(s.ev.detail), "60 of 300 requests failed in 60 s");
    struct heal_diagnosis d;
    heal_diagnose(&s, "web", &d);
    heal_incident_diagnosed(inc, 1763700000001, &d);
    heal_incident_event(inc, 1763700000002, HEAL_EV_ACTION, HEAL_ACT_RESTART, 0, "restart %d", 1);
    heal_incident_event(inc, 1763700000500, HEAL_EV_RESULT, HEAL_ACT_RESTART, PL_ETIMEOUT,
                        "timed out");
    inc->level = HEAL_LEVEL_SELF;
    heal_incident_close(inc, 1763700001000, "healed");
}

static void test_incident_codec(void **state)
{
    (void)state;
    static struct heal_incident inc, back;
    fill_incident(&inc);
    struct pl_buf b1, b2;
    pl_buf_init(&b1, HEAL_INCIDENT_BYTES_MAX);
    pl_buf_init(&b2, HEAL_INCIDENT_BYTES_MAX);
    assert_int_equal(heal_incident_encode(&inc, &b1), 0);
    assert_int_equal(heal_incident_decode(b1.data, b1.len, &back), 0);
    assert_string_equal(back.id, inc.id);
    assert_string_equal(back.node, "n1");
    assert_string_equal(back.service, "web");
    assert_int_equal(back.state, HEAL_INC_CLOSED);
    assert_int_equal(back.closed_ms, 1763700001000);
    assert_string_equal(back.outcome, "healed");
    assert_int_equal(back.level, HEAL_LEVEL_SELF);
    assert_int_equal(back.diag.cls, HEAL_CLASS_DEGRADATION);
    assert_true(back.diag.confidence == inc.diag.confidence);
    assert_string_equal(back.diag.evidence[0].detail, "60 of 300 requests failed in 60 s");
    assert_int_equal(back.nevents, inc.nevents);
    assert_int_equal(back.events[3].result, PL_ETIMEOUT);
    assert_int_equal(back.events[3].action, HEAL_ACT_RESTART);
    /* Canonical: encoding the decoded record gives the same bytes. */
    assert_int_equal(heal_incident_encode(&back, &b2), 0);
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(b1.data, b2.data, b1.len);
    /* Every truncation is refused. Every single-byte corruption is either refused with a
     * decoder's error, leaving the output untouched, or decodes to a record that re-encodes
     * canonically (encode -> decode -> encode gives the same bytes). Both happen: a flipped
     * byte inside a string decodes, one in the structure does not. */
    for (size_t n = 0; n < b1.len; n++)
        assert_int_not_equal(heal_incident_decode(b1.data, n, &back), 0);
    static struct heal_incident before, again;
    size_t refused = 0, decoded = 0;
    for (size_t i = 0; i < b1.len; i++) {
        uint8_t saved = b1.data[i];
        b1.data[i] ^= 0x5a;
        memcpy(&before, &back, sizeof(back));
        int rc = heal_incident_decode(b1.data, b1.len, &back);
        if (rc != 0) {
            assert_true(rc == PL_EMALFORMED || rc == PL_EVERSION);
            assert_memory_equal(&back, &before, sizeof(back));
            refused++;
        } else {
            pl_buf_reset(&b2);
            assert_int_equal(heal_incident_encode(&back, &b2), 0);
            struct pl_buf b3;
            pl_buf_init(&b3, HEAL_INCIDENT_BYTES_MAX);
            assert_int_equal(heal_incident_decode(b2.data, b2.len, &again), 0);
            assert_int_equal(heal_incident_encode(&again, &b3), 0);
            assert_int_equal(b2.len, b3.len);
            assert_memory_equal(b2.data, b3.data, b2.len);
            pl_buf_close(&b3);
            decoded++;
        }
        b1.data[i] = saved;
    }
    assert_true(refused > 0);
    assert_true(decoded > 0);
    /* Trailing garbage is refused. */
    pl_buf_append(&b1, "x", 1);
    assert_int_not_equal(heal_incident_decode(b1.data, b1.len, &back), 0);
    pl_buf_close(&b1);
    pl_buf_close(&b2);
}

static void test_incident_timeline_full(void **state)
{
    (void)state;
    static struct heal_incident inc;
    assert_int_equal(heal_incident_open(&inc, "x", "n1", "web", 1), 0);
    for (int i = 0; i < 100; i++)
        heal_incident_event(&inc, 2 + (uint64_t)i, HEAL_EV_BACKOFF, HEAL_ACT_RESTART, 0, "%d", i);
    assert_int_equal(inc.nevents, HEAL_TIMELINE_MAX - 1);
    heal_incident_close(&inc, 200, "escalated");
    assert_int_equal(inc.nevents, HEAL_TIMELINE_MAX);
    assert_int_equal(inc.events[HEAL_TIMELINE_MAX - 1].kind, HEAL_EV_CLOSED);
    assert_true(inc.dropped == 100 - (HEAL_TIMELINE_MAX - 2));
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(heal_incident_open(&inc, big, "n1", "web", 1), PL_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_defaults), cmocka_unit_test(test_check_state),
        cmocka_unit_test(test_error_rate),      cmocka_unit_test(test_latency),
        cmocka_unit_test(test_sustain),         cmocka_unit_test(test_trend),
        cmocka_unit_test(test_diagnose),        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_budget_backoff),  cmocka_unit_test(test_retry_jitter),
        cmocka_unit_test(test_incident_codec),  cmocka_unit_test(test_incident_timeline_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
