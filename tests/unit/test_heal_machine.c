/*
 * Unit tests of the healing machine (node/heal/heal_machine.c): one case driven input by
 * input, each test a story an operator would recognise, checked against the rules of
 * heal_machine.h after every step. The simulator (tests/sim/heal_sim.c) covers the random
 * interleavings; these pin the stories down one output at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "heal_machine.h"
#include "pl_buf.h"
#include "pl_err.h"

struct rig {
    struct heal_case c;
    struct heal_outputs out;
    uint64_t now;
    uint64_t seq;
    const struct heal_learned *learned; /* handed in with every input */
};

static void rig_init(struct rig *r, int nchecks, bool supervised)
{
    struct heal_case_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.node, sizeof(cfg.node), "n1");
    snprintf(cfg.service, sizeof(cfg.service), "web");
    cfg.supervised = supervised;
    cfg.caps.can_restart = true;
    cfg.stop_signal = SIGTERM;
    cfg.grace_ms = 5000;
    cfg.start_ms = 500;
    cfg.verify_ms = 30000;
    cfg.command_timeout_ms = 10000;
    cfg.nchecks = nchecks;
    for (int i = 0; i < nchecks; i++) {
        cfg.checks[i].failures = 3;
        cfg.checks[i].successes = 1;
        cfg.checks[i].kill_grace_ms = 300;
    }
    heal_policy_init(&cfg.policy);
    memset(r, 0, sizeof(*r));
    r->now = 1700000000000ull;
    heal_case_init(&r->c, &cfg);
}

/* Feeds one input at the rig's time; checks the state rules after it. */
static int step(struct rig *r, struct heal_input *in)
{
    in->now_ms = r->now;
    in->seq = ++r->seq;
    in->rand = r->seq * 0x9e3779b97f4a7c15ull;
    in->learned = r->learned;
    int rc = heal_step(&r->c, in, &r->out);
    char why[200];
    if (heal_case_check(&r->c, r->now, why, sizeof(why)) != 0)
        fail_msg("after %s: %s", heal_input_kind_name(in->kind), why);
    return rc;
}

static int feed(struct rig *r, enum heal_input_kind kind)
{
    struct heal_input in;
    memset(&in, 0, sizeof(in));
    in.kind = kind;
    return step(r, &in);
}

static void check(struct rig *r, bool ok, enum heal_check_failure why)
{
    struct heal_input in;
    memset(&in, 0, sizeof(in));
    in.kind = HEAL_IN_CHECK;
    in.check = 0;
    in.ok = ok;
    in.failure = ok ? HEAL_CHECKFAIL_NONE : why;
    in.check_started_ms = r->now;
    assert_int_equal(step(r, &in), 0);
}

static void exited(struct rig *r, int64_t status, int sig)
{
    struct heal_input in;
    memset(&in, 0, sizeof(in));
    in.kind = HEAL_IN_EXITED;
    in.exit_status = status;
    in.term_signal = sig;
    assert_int_equal(step(r, &in), 0);
}

/* The index of the first output of `kind`, or -1. */
static int find(const struct rig *r, enum heal_output_kind kind)
{
    for (int i = 0; i < r->out.n; i++)
        if (r->out.v[i].kind == kind)
            return i;
    return -1;
}

static void launch_healthy(struct rig *r)
{
    feed(r, HEAL_IN_LAUNCH);
    assert_int_equal(find(r, HEAL_OUT_START), 0);
    assert_false(r->out.persist); /* no incident, nothing to record */
    feed(r, HEAL_IN_STARTED);
    r->now += 600;
    check(r, true, HEAL_CHECKFAIL_NONE);
    assert_true(r->c.healthy);
    assert_null(heal_case_incident(&r->c));
}

/* A crash: one incident, recorded before the start it asks for; healthy closes it. */
static void test_crash_healed(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 1, true);
    launch_healthy(&r);
    r.now += 1000;
    exited(&r, 70, 0);
    const struct heal_incident *inc = heal_case_incident(&r.c);
    assert_non_null(inc);
    assert_true(r.out.persist);
    assert_int_equal(r.out.first_event, 0);
    assert_int_equal(r.out.n, 1);
    assert_int_equal(r.out.v[0].kind, HEAL_OUT_START);
    assert_int_equal(inc->diag.signal, HEAL_SIG_EXIT);
    feed(&r, HEAL_IN_STARTED);
    assert_int_equal(r.c.phase, HEAL_PHASE_VERIFYING);
    assert_int_equal(r.out.deadline_ms, r.now + 30000);
    r.now += 600;
    check(&r, true, HEAL_CHECKFAIL_NONE);
    assert_null(heal_case_incident(&r.c));
    inc = heal_case_last_incident(&r.c);
    assert_string_equal(inc->outcome, "healed");
    assert_int_equal(inc->level, HEAL_LEVEL_SELF);
    assert_true(find(&r, HEAL_OUT_RESET_DETECTORS) >= 0);
    assert_int_equal(r.c.incidents_opened, 1);
}

/* The first action the machine takes for three failed status checks: the rules' restart, or
 * the table's learned action. *d gets the incident's diagnosis. */
static enum heal_action first_action(const struct heal_learned *l, bool learning,
                                     struct heal_diagnosis *d)
{
    struct rig r;
    rig_init(&r, 1, true);
    r.c.cfg.caps.has_cleanup = true;
    r.c.cfg.policy.allowed_actions |= HEAL_ACT_BIT(HEAL_ACT_CLEANUP);
    r.c.cfg.policy.learning = learning;
    r.learned = l;
    launch_healthy(&r);
    for (int i = 0; i < 3; i++) {
        r.now += 300;
        check(&r, false, HEAL_CHECKFAIL_STATUS);
    }
    const struct heal_incident *inc = heal_case_incident(&r.c);
    assert_non_null(inc);
    *d = inc->diag;
    for (uint32_t i = 0; i < inc->nevents; i++)
        if (inc->events[i].kind == HEAL_EV_ACTION)
            return inc->events[i].action;
    fail_msg("no action taken");
    return HEAL_ACT_NONE;
}

/* The swarm's learned first action goes before the rules' plan; a policy with `learning`
 * off takes the rules' plan alone, whatever the table says. */
static void test_learned_first(void **state)
{
    (void)state;
    struct heal_diagnosis d;
    assert_int_equal(first_action(NULL, true, &d), HEAL_ACT_RESTART);
    struct heal_learned l = {.n = 1};
    l.v[0] = (struct heal_learned_entry){.cls = (uint8_t)d.cls, .cause = (uint8_t)d.cause,
                                         .signal = (uint8_t)d.signal,
                                         .feature = HEAL_FEAT_CHECK_STATUS,
                                         .action = HEAL_ACT_CLEANUP};
    assert_int_equal(first_action(&l, true, &d), HEAL_ACT_CLEANUP);
    assert_int_equal(first_action(&l, false, &d), HEAL_ACT_RESTART);
    /* Another signature's lesson is not this one's. */
    l.v[0].feature = HEAL_FEAT_CHECK_TIMEOUT;
    assert_int_equal(first_action(&l, true, &d), HEAL_ACT_RESTART);
}

/* The first-minute case: a hang while the crash's restart is being verified is
 * acted on at once (restart, with the check's kill grace), not noted and left hung. */
static void test_hang_during_verification(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 1, true);
    launch_healthy(&r);
    exited(&r, 70, 0);
    feed(&r, HEAL_IN_STARTED);
    assert_int_equal(r.c.phase, HEAL_PHASE_VERIFYING);
    for (int i = 0; i < 3; i++) {
        r.now += 1000;
        check(&r, false, HEAL_CHECKFAIL_TIMEOUT);
    }
    int stop = find(&r, HEAL_OUT_STOP);
    assert_true(stop >= 0);
    assert_int_equal(r.out.v[stop].grace_ms, 300);
    assert_int_equal(r.out.v[stop].signal, SIGTERM);
    assert_int_equal(r.c.proc, HEAL_PROC_STOPPING);
    assert_int_equal(r.out.deadline_ms, r.now + 300);
    /* A hung process ignores SIGTERM: KILL at the deadline, then a new start. */
    r.now += 300;
    feed(&r, HEAL_IN_TIMER);
    assert_true(find(&r, HEAL_OUT_KILL) >= 0);
    exited(&r, -1, SIGKILL);
    assert_int_equal(find(&r, HEAL_OUT_START), 0);
    assert_int_equal(heal_case_incident(&r.c)->diag.signal, HEAL_SIG_EXIT);
    feed(&r, HEAL_IN_STARTED);
    r.now += 600;
    check(&r, true, HEAL_CHECKFAIL_NONE);
    assert_string_equal(heal_case_last_incident(&r.c)->outcome, "healed");
}

/* A start that fails is retried like a crash: at once within the budget, then with
 * back-off, never left down with nothing scheduled (heal_case_check in step()). */
static void test_start_failure_retried(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 1, true);
    feed(&r, HEAL_IN_LAUNCH);
    int starts = 1, backoffs = 0;
    for (int i = 0; i < 12; i++) {
        struct heal_input in;
        memset(&in, 0, sizeof(in));
        in.kind = HEAL_IN_START_FAILED;
        in.err = -2;
        snprintf(in.detail, sizeof(in.detail), "no such file");
        step(&r, &in);
        assert_non_null(heal_case_incident(&r.c));
        while (find(&r, HEAL_OUT_START) < 0) {
            assert_int_not_equal(r.out.deadline_ms, 0);
            assert_true(r.out.deadline_ms > r.now);
            r.now = r.out.deadline_ms;
            backoffs++;
            feed(&r, HEAL_IN_TIMER);
        }
        starts++;
    }
    assert_int_equal(starts, 13);
    assert_true(backoffs >= 9);                 /* past the budget of 3, every start waits */
    assert_true(heal_case_incident(&r.c)->level >= HEAL_LEVEL_RETRY);
    assert_int_equal(r.c.incidents_opened, 1); /* one incident for the whole episode */
}

/* Immediate restarts never exceed the budget per window. */
static void test_budget(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 0, true);
    feed(&r, HEAL_IN_LAUNCH);
    feed(&r, HEAL_IN_STARTED);
    int immediate = 0;
    for (int i = 0; i < 10; i++) {
        r.now += 100;
        exited(&r, 1, 0);
        if (find(&r, HEAL_OUT_START) >= 0) {
            immediate++;
        } else {
            r.now = r.out.deadline_ms;
            feed(&r, HEAL_IN_TIMER);
            assert_true(find(&r, HEAL_OUT_START) >= 0);
        }
        feed(&r, HEAL_IN_STARTED);
    }
    assert_int_equal(immediate, (int)r.c.cfg.policy.restart_budget);
}

/* Nobody approves: a human is told (level 5) and the incident stays open, watching, until
 * an approval comes after all. */
static void test_approval_timeout_stays_open(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 0, true);
    r.c.cfg.policy.requires_approval = HEAL_ACT_BIT(HEAL_ACT_RESTART);
    feed(&r, HEAL_IN_LAUNCH);
    feed(&r, HEAL_IN_STARTED);
    exited(&r, 1, 0);
    assert_int_equal(r.c.phase, HEAL_PHASE_APPROVAL);
    assert_int_equal(find(&r, HEAL_OUT_START), -1);
    assert_int_equal(heal_case_incident(&r.c)->state, HEAL_INC_WAITING_APPROVAL);
    r.now = r.out.deadline_ms;
    feed(&r, HEAL_IN_TIMER);
    int hook = find(&r, HEAL_OUT_WEBHOOK);
    assert_true(hook >= 0);
    assert_int_equal(r.out.v[hook].level, HEAL_LEVEL_HUMAN);
    assert_non_null(heal_case_incident(&r.c));
    assert_int_equal(r.c.phase, HEAL_PHASE_WATCHING);
    /* The human answers late: the restart goes ahead then, the incident still open. */
    assert_int_equal(feed(&r, HEAL_IN_APPROVE), 0);
    assert_true(find(&r, HEAL_OUT_START) >= 0);
    /* An approval with nothing waiting for one is refused. */
    assert_int_equal(feed(&r, HEAL_IN_APPROVE), PL_ESTATE);
    feed(&r, HEAL_IN_STOP);
    assert_string_equal(heal_case_last_incident(&r.c)->outcome, "stopped");
}

/* An approval lets the waiting restart go ahead. */
static void test_approval_given(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 0, true);
    r.c.cfg.policy.requires_approval = HEAL_ACT_BIT(HEAL_ACT_RESTART);
    feed(&r, HEAL_IN_LAUNCH);
    feed(&r, HEAL_IN_STARTED);
    exited(&r, 1, 0);
    assert_int_equal(feed(&r, HEAL_IN_APPROVE), 0);
    assert_true(find(&r, HEAL_OUT_START) >= 0);
    feed(&r, HEAL_IN_STARTED);
    r.now += 600;
    feed(&r, HEAL_IN_TIMER);
    assert_string_equal(heal_case_last_incident(&r.c)->outcome, "healed");
}

/* The agent's own shortage is no evidence: no incident from checks it could not run. */
static void test_agent_fault_ignored(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 1, true);
    launch_healthy(&r);
    for (int i = 0; i < 10; i++) {
        struct heal_input in;
        memset(&in, 0, sizeof(in));
        in.kind = HEAL_IN_CHECK;
        in.check = 0;
        in.failure = HEAL_CHECKFAIL_OTHER;
        in.agent_fault = true;
        in.check_started_ms = r.now;
        step(&r, &in);
        assert_int_equal(r.out.n, 0);
    }
    assert_null(heal_case_incident(&r.c));
    assert_true(r.c.healthy);
}

/* A service whose every new process fails its checks: restarts go on past the plan's end,
 * at once within the budget and then under the capped back-off, the incident open and its
 * level rising to the operator when the back-off reaches its cap: escalation informs, it
 * does not end healing. */
static void test_escalation_keeps_healing(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 1, true);
    launch_healthy(&r);
    exited(&r, 1, 0);
    int restarts = 0;
    for (int round = 0; round < 200 && r.c.inc.level < HEAL_LEVEL_OPERATOR; round++) {
        if (find(&r, HEAL_OUT_STOP) >= 0) {
            exited(&r, 0, 0);
            continue;
        }
        if (find(&r, HEAL_OUT_START) >= 0) {
            restarts++;
            feed(&r, HEAL_IN_STARTED);
            for (int i = 0; i < 3; i++) {
                r.now += 1000;
                check(&r, false, HEAL_CHECKFAIL_STATUS);
            }
            continue;
        }
        assert_int_not_equal(r.out.deadline_ms, 0);
        r.now = r.out.deadline_ms;
        feed(&r, HEAL_IN_TIMER);
        assert_non_null(heal_case_incident(&r.c));
    }
    assert_non_null(heal_case_incident(&r.c));
    assert_int_equal(r.c.inc.level, HEAL_LEVEL_OPERATOR);
    assert_true(restarts >= 8);
    assert_int_equal(r.c.incidents_opened, 1);
}

/* Operator stop: the incident ends "stopped", the process is stopped, nothing restarts it;
 * start brings it back. */
static void test_operator_stop_start(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 1, true);
    launch_healthy(&r);
    feed(&r, HEAL_IN_STOP);
    assert_true(find(&r, HEAL_OUT_STOP) >= 0);
    exited(&r, 0, 0);
    assert_int_equal(r.out.n, 0);
    assert_null(heal_case_incident(&r.c));
    feed(&r, HEAL_IN_TIMER);
    assert_int_equal(r.out.n, 0);
    feed(&r, HEAL_IN_START);
    assert_true(find(&r, HEAL_OUT_START) >= 0);
}

/* A disk filling up is answered by the clean-up command, never a restart; a failed command
 * is retried with full jitter from the input's random word. */
static void test_command_retry(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 0, true);
    r.c.cfg.caps.has_state_repair = true;
    r.c.cfg.policy.allowed_actions |= HEAL_ACT_BIT(HEAL_ACT_STATE_REPAIR);
    feed(&r, HEAL_IN_LAUNCH);
    feed(&r, HEAL_IN_STARTED);
    struct heal_input in;
    memset(&in, 0, sizeof(in));
    in.kind = HEAL_IN_SIGNAL;
    in.signal.kind = HEAL_SIG_PREDICT_DISK;
    step(&r, &in);
    int run = find(&r, HEAL_OUT_RUN);
    assert_true(run >= 0);
    assert_int_equal(r.out.v[run].action, HEAL_ACT_STATE_REPAIR);
    assert_int_equal(find(&r, HEAL_OUT_STOP), -1);
    memset(&in, 0, sizeof(in));
    in.kind = HEAL_IN_ACTION_DONE;
    in.action = HEAL_ACT_STATE_REPAIR;
    in.err = PL_ESTATE;
    step(&r, &in);
    assert_int_equal(r.c.phase, HEAL_PHASE_BACKOFF);
    assert_true(r.out.deadline_ms > r.now);
    r.now = r.out.deadline_ms;
    feed(&r, HEAL_IN_TIMER);
    assert_true(find(&r, HEAL_OUT_RUN) >= 0);
    memset(&in, 0, sizeof(in));
    in.kind = HEAL_IN_ACTION_DONE;
    in.action = HEAL_ACT_STATE_REPAIR;
    step(&r, &in);
    assert_int_equal(r.c.phase, HEAL_PHASE_VERIFYING);
    r.now += 600; /* no checks: running start_ms is healthy */
    feed(&r, HEAL_IN_TIMER);
    /* Set off by a verdict: healthy is recorded, healed needs the quiet time too. */
    assert_non_null(heal_case_incident(&r.c));
    assert_int_equal(r.out.deadline_ms, r.c.action_done_ms + HEAL_QUIET_MS);
    r.now = r.out.deadline_ms;
    feed(&r, HEAL_IN_TIMER);
    assert_string_equal(heal_case_last_incident(&r.c)->outcome, "healed");
}

/* The longest names the config allows still make an incident. */
static void test_long_names(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 0, true);
    memset(r.c.cfg.node, 'n', sizeof(r.c.cfg.node) - 1);
    memset(r.c.cfg.service, 's', sizeof(r.c.cfg.service) - 1);
    r.seq = UINT64_MAX - 10;
    feed(&r, HEAL_IN_LAUNCH);
    feed(&r, HEAL_IN_STARTED);
    exited(&r, 1, 0);
    assert_non_null(heal_case_incident(&r.c));
    assert_int_equal(strlen(heal_case_incident(&r.c)->node), sizeof(r.c.cfg.node) - 1);
}

static void test_malformed_inputs(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 1, true);
    struct heal_input in;
    memset(&in, 0, sizeof(in));
    in.kind = HEAL_IN_CHECK;
    in.check = 5;
    assert_int_equal(step(&r, &in), PL_EMALFORMED);
    in.check = -1;
    assert_int_equal(step(&r, &in), PL_EMALFORMED);
    memset(&in, 0, sizeof(in));
    in.kind = (enum heal_input_kind)99;
    assert_int_equal(step(&r, &in), PL_EMALFORMED);
    in.kind = HEAL_IN_SIGNAL;
    in.signal.kind = (enum heal_signal_kind)77;
    assert_int_equal(step(&r, &in), PL_EMALFORMED);
    assert_null(heal_case_incident(&r.c));
    assert_int_equal(r.c.proc, HEAL_PROC_DOWN);
}

/* The same inputs give the same record, byte for byte: what Raft and replay need. */
static void run_story(struct rig *r, struct pl_buf *out)
{
    rig_init(r, 1, true);
    launch_healthy(r);
    exited(r, 70, 0);
    feed(r, HEAL_IN_STARTED);
    for (int i = 0; i < 3; i++) {
        r->now += 1000;
        check(r, false, HEAL_CHECKFAIL_TIMEOUT);
    }
    r->now += 300;
    feed(r, HEAL_IN_TIMER);
    exited(r, -1, SIGKILL);
    feed(r, HEAL_IN_STARTED);
    r->now += 600;
    check(r, true, HEAL_CHECKFAIL_NONE);
    assert_int_equal(heal_incident_encode(heal_case_last_incident(&r->c), out), 0);
}

static void test_deterministic(void **state)
{
    (void)state;
    static struct rig a, b;
    struct pl_buf ba, bb;
    pl_buf_init(&ba, HEAL_INCIDENT_BYTES_MAX);
    pl_buf_init(&bb, HEAL_INCIDENT_BYTES_MAX);
    run_story(&a, &ba);
    run_story(&b, &bb);
    assert_int_equal(ba.len, bb.len);
    assert_memory_equal(ba.data, bb.data, ba.len);
    assert_int_equal(memcmp(&a.c.budget, &b.c.budget, sizeof(a.c.budget)), 0);
    pl_buf_close(&ba);
    pl_buf_close(&bb);
}

static void hold(struct rig *r, bool on, const char *id)
{
    struct heal_input in;
    memset(&in, 0, sizeof(in));
    in.kind = HEAL_IN_HOLD;
    in.hold = on;
    in.cluster_cause = HEAL_CAUSE_DEPENDENCY_FAILURE;
    in.signal.ev.value = 4;
    in.signal.ev.threshold = 5;
    snprintf(in.detail, sizeof(in.detail), "%s", id);
    assert_int_equal(step(r, &in), 0);
}

static void fail_checks(struct rig *r, int n)
{
    for (int i = 0; i < n; i++) {
        r->now += 1000;
        check(r, false, HEAL_CHECKFAIL_STATUS);
    }
}

/* Rule 8: the cluster sees the failure everywhere: the node holds its restart, the
 * dependency comes back, the incident closes as recovered with no restart at all. */
static void test_cluster_hold_recovered(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 1, true);
    launch_healthy(&r);
    hold(&r, true, "ci-7");
    uint64_t until = r.now + r.c.cfg.policy.cluster_wait_ms;
    assert_null(heal_case_incident(&r.c));
    fail_checks(&r, 3);
    assert_non_null(heal_case_incident(&r.c));
    assert_int_equal(r.c.phase, HEAL_PHASE_HELD);
    assert_int_equal(find(&r, HEAL_OUT_STOP), -1);
    assert_int_equal(find(&r, HEAL_OUT_START), -1);
    assert_int_equal(find(&r, HEAL_OUT_WEBHOOK), -1);
    assert_int_equal(r.c.restarts_held, 1);
    /* The cluster's root cause, with its evidence. */
    const struct heal_incident *held_inc = heal_case_incident(&r.c);
    assert_int_equal(held_inc->diag.cause, HEAL_CAUSE_DEPENDENCY_FAILURE);
    assert_string_equal(held_inc->diag.evidence[held_inc->diag.nevidence - 1].source, "cluster");
    assert_int_equal(r.c.phase_deadline_ms, until);
    fail_checks(&r, 5); /* the symptom goes on: still held */
    assert_int_equal(r.c.phase, HEAL_PHASE_HELD);
    assert_int_equal(find(&r, HEAL_OUT_STOP), -1);
    r.now += 1000;
    check(&r, true, HEAL_CHECKFAIL_NONE); /* the dependency is back */
    if (heal_case_incident(&r.c) != NULL) { /* the quiet time first */
        r.now += HEAL_QUIET_MS;
        feed(&r, HEAL_IN_TIMER);
    }
    assert_null(heal_case_incident(&r.c));
    assert_string_equal(heal_case_last_incident(&r.c)->outcome, "recovered");
    assert_int_equal(r.c.start_count, 1);
}

/* A hold never lasts forever: past cluster_wait_ms local healing resumes, and the same
 * cluster incident does not hold again. */
static void test_cluster_hold_bounded(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 1, true);
    r.c.cfg.policy.cluster_wait_ms = 20000;
    launch_healthy(&r);
    hold(&r, true, "ci-8");
    uint64_t until = r.now + 20000;
    fail_checks(&r, 3);
    assert_int_equal(r.c.phase, HEAL_PHASE_HELD);
    assert_int_equal(r.c.phase_deadline_ms, until);
    r.now = until - 1;
    feed(&r, HEAL_IN_TIMER);
    assert_int_equal(r.c.phase, HEAL_PHASE_HELD);
    r.now = until;
    feed(&r, HEAL_IN_TIMER);
    assert_int_equal(r.c.phase, HEAL_PHASE_ACTING);
    assert_true(find(&r, HEAL_OUT_STOP) >= 0);
    assert_false(r.c.cluster_hold);
    hold(&r, true, "ci-8"); /* the same incident, told again: no second hold */
    assert_false(r.c.cluster_hold);
    hold(&r, true, "ci-9"); /* a new one holds again */
    assert_true(r.c.cluster_hold);
}

/* The cluster incident ends while the service still fails: the held restart goes ahead. A
 * policy without cluster_wait_ms never holds. */
static void test_cluster_hold_lifted(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 1, true);
    launch_healthy(&r);
    hold(&r, true, "ci-1");
    fail_checks(&r, 3);
    assert_int_equal(r.c.phase, HEAL_PHASE_HELD);
    hold(&r, false, "ci-1");
    /* The quiet time first: the others recovering, this one may too. */
    assert_int_equal(r.c.phase, HEAL_PHASE_HELD);
    assert_int_equal(find(&r, HEAL_OUT_STOP), -1);
    r.now += HEAL_QUIET_MS;
    feed(&r, HEAL_IN_TIMER);
    assert_int_equal(r.c.phase, HEAL_PHASE_ACTING);
    assert_true(find(&r, HEAL_OUT_STOP) >= 0);

    rig_init(&r, 1, true);
    r.c.cfg.policy.cluster_wait_ms = 0;
    launch_healthy(&r);
    hold(&r, true, "ci-2");
    fail_checks(&r, 3);
    assert_int_equal(r.c.phase, HEAL_PHASE_ACTING);
    assert_true(find(&r, HEAL_OUT_STOP) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_healed),
        cmocka_unit_test(test_learned_first),
        cmocka_unit_test(test_hang_during_verification),
        cmocka_unit_test(test_start_failure_retried),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_approval_timeout_stays_open),
        cmocka_unit_test(test_approval_given),
        cmocka_unit_test(test_agent_fault_ignored),
        cmocka_unit_test(test_escalation_keeps_healing),
        cmocka_unit_test(test_operator_stop_start),
        cmocka_unit_test(test_command_retry),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_malformed_inputs),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_cluster_hold_recovered),
        cmocka_unit_test(test_cluster_hold_bounded),
        cmocka_unit_test(test_cluster_hold_lifted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
