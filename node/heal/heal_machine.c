/*
 * The healing machine of heal_machine.h: one incident per service, run step by step.
 *
 * Life of an incident: a failure signal (exit, a check crossing its failure threshold, a
 * detector's verdict, a start that failed) opens it -> heal_diagnose and heal_plan give
 * the ordered actions -> each step in turn: the approval gate, then the action (a restart
 * under the budget and its back-off, a configured command with full-jitter retries,
 * config_sync, escalation) -> verification (healthy within verify_ms closes it as healed;
 * otherwise the next step). Past the plan's end the restart step runs again under the
 * capped back-off: escalation informs people, it does not end local healing.
 */
#include "heal_machine.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_rand.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static_assert(48 + 1 + 13 + 1 + 20 < HEAL_INCIDENT_ID_MAX, "an incident id always fits");

/* ---- names ---- */

const char *heal_proc_name(enum heal_proc p)
{
    static const char *const names[HEAL_PROC_COUNT] = {"down", "starting", "running",
                                                       "stopping"};
    return (unsigned)p < HEAL_PROC_COUNT ? names[p] : "unknown";
}

const char *heal_phase_name(enum heal_phase p)
{
    static const char *const names[HEAL_PHASE_COUNT] = {
        "idle", "acting", "verifying", "backoff", "approval", "watching", "held"};
    return (unsigned)p < HEAL_PHASE_COUNT ? names[p] : "unknown";
}

const char *heal_input_kind_name(enum heal_input_kind k)
{
    static const char *const names[HEAL_IN_KIND_COUNT] = {
        "none",     "launch",  "started", "start_failed", "exited", "check", "signal",
        "action_done", "timer", "approve", "webhook",      "config", "stop",  "start",
        "hold"};
    return (unsigned)k < HEAL_IN_KIND_COUNT ? names[k] : "unknown";
}

const char *heal_output_kind_name(enum heal_output_kind k)
{
    static const char *const names[HEAL_OUT_KIND_COUNT] = {
        "none", "start", "stop", "kill", "run", "config_sync", "webhook", "reset_detectors"};
    return (unsigned)k < HEAL_OUT_KIND_COUNT ? names[k] : "unknown";
}

/* ---- consecutive check results ---- */

void heal_check_state_init(struct heal_check_state *s, uint32_t failures_needed,
                           uint32_t successes_needed)
{
    PL_ASSERT(failures_needed >= 1 && successes_needed >= 1);
    memset(s, 0, sizeof(*s));
    s->failures_needed = failures_needed;
    s->successes_needed = successes_needed;
    s->healthy = true;
}

int heal_check_state_feed(struct heal_check_state *s, bool ok)
{
    if (ok) {
        s->consecutive_failures = 0;
        if (s->consecutive_successes < UINT32_MAX)
            s->consecutive_successes++;
        if (!s->healthy && s->consecutive_successes >= s->successes_needed) {
            s->healthy = true;
            return 1;
        }
        return 0;
    }
    s->consecutive_successes = 0;
    if (s->consecutive_failures < UINT32_MAX)
        s->consecutive_failures++;
    if (s->healthy && s->consecutive_failures >= s->failures_needed) {
        s->healthy = false;
        return -1;
    }
    return 0;
}

/* ---- one step's context ---- */

struct step {
    struct heal_case *c;
    const struct heal_input *in;
    struct heal_outputs *out;
    uint64_t now;
    bool failure; /* a failure signal arrived in this step */
};

static void emit(struct step *st, enum heal_output_kind kind, enum heal_action action,
                 enum heal_level level)
{
    struct heal_outputs *out = st->out;
    /* A step emits a handful at most (stop + webhooks + reset); the bound is static. */
    PL_ASSERT(out->n < HEAL_OUTPUTS_MAX);
    struct heal_output *o = &out->v[out->n++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->action = action;
    o->level = level;
}

static void event(struct step *st, enum heal_event_kind kind, enum heal_action action,
                  int32_t result, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void event(struct step *st, enum heal_event_kind kind, enum heal_action action,
                  int32_t result, const char *fmt, ...)
{
    struct heal_case *c = st->c;
    if (c->phase == HEAL_PHASE_IDLE)
        return;
    char detail[HEAL_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    heal_incident_event(&c->inc, st->now, kind, action, result, "%s", detail);
    st->out->persist = true;
}

static bool running(const struct heal_case *c)
{
    return !c->cfg.supervised || c->proc == HEAL_PROC_RUNNING;
}

static bool checks_pass(const struct heal_case *c)
{
    for (int i = 0; i < c->cfg.nchecks; i++)
        if (!c->checks[i].healthy || !c->check_ran[i])
            return false;
    return true;
}

static bool judge_healthy(const struct heal_case *c, uint64_t now)
{
    if (!running(c) || !checks_pass(c))
        return false;
    if (c->cfg.nchecks == 0 && c->cfg.supervised)
        return now - c->started_ms >= c->cfg.start_ms;
    return true;
}

/* The process is down or a check says it is unhealthy: something must be under way. */
static bool failing(const struct heal_case *c)
{
    if (c->operator_stopped)
        return false;
    if (c->cfg.supervised && c->proc == HEAL_PROC_DOWN && c->start_count > 0)
        return true;
    for (int i = 0; i < c->cfg.nchecks; i++)
        if (!c->checks[i].healthy)
            return true;
    return false;
}

/* Whether the policy lets the node take `a` now (approval given or not needed). */
static bool may_take(const struct heal_case *c, enum heal_action a)
{
    return !heal_policy_needs_approval(&c->cfg.policy, a) || c->approved;
}

static int restart_step(const struct heal_case *c)
{
    for (int i = 0; i < c->nplan; i++)
        if (c->plan[i] == HEAL_ACT_RESTART)
            return i;
    return -1;
}

/* Failures of the process itself; anything else is a detector's verdict. */
static bool process_signal(enum heal_signal_kind k)
{
    return k == HEAL_SIG_EXIT || k == HEAL_SIG_CHECK || k == HEAL_SIG_START_FAILED;
}

/* The node may restart this service at all (whatever the plan says). */
static bool can_restart(const struct heal_case *c)
{
    return c->cfg.caps.can_restart && heal_policy_allows(&c->cfg.policy, HEAL_ACT_RESTART);
}

static uint64_t quiet_ms(const struct heal_case *c)
{
    return c->cfg.verify_ms < HEAL_QUIET_MS ? c->cfg.verify_ms : HEAL_QUIET_MS;
}

/* Checks start over: a new process, or a service an operator stopped or started. */
static void checks_reset(struct heal_case *c)
{
    c->hung_check = -1;
    for (int i = 0; i < c->cfg.nchecks; i++) {
        heal_check_state_init(&c->checks[i], c->cfg.checks[i].failures,
                              c->cfg.checks[i].successes);
        c->check_ran[i] = false;
    }
}

/* ---- process control ---- */

static void start_process(struct step *st)
{
    struct heal_case *c = st->c;
    PL_ASSERT(c->cfg.supervised && c->proc == HEAL_PROC_DOWN);
    emit(st, HEAL_OUT_START, HEAL_ACT_NONE, HEAL_LEVEL_NONE);
    c->proc = HEAL_PROC_STARTING;
    c->start_count++;
}

/* A process that stopped answering cannot act on the stop signal: it gets the short
 * kill grace of the check that found it hung (rule 7). */
static uint64_t stop_grace(const struct heal_case *c)
{
    if (c->hung_check >= 0 && c->cfg.checks[c->hung_check].kill_grace_ms < c->cfg.grace_ms)
        return c->cfg.checks[c->hung_check].kill_grace_ms;
    return c->cfg.grace_ms;
}

static void stop_process(struct step *st)
{
    struct heal_case *c = st->c;
    PL_ASSERT(c->proc == HEAL_PROC_RUNNING);
    uint64_t grace = stop_grace(c);
    emit(st, HEAL_OUT_STOP, HEAL_ACT_NONE, HEAL_LEVEL_NONE);
    st->out->v[st->out->n - 1].signal = c->cfg.stop_signal;
    st->out->v[st->out->n - 1].grace_ms = grace;
    c->proc = HEAL_PROC_STOPPING;
    c->kill_deadline_ms = st->now + grace;
}

/* ---- the incident ---- */

static void close_incident(struct step *st, const char *outcome)
{
    struct heal_case *c = st->c;
    PL_ASSERT(c->phase != HEAL_PHASE_IDLE);
    heal_incident_close(&c->inc, st->now, outcome);
    st->out->persist = true;
    c->phase = HEAL_PHASE_IDLE;
    c->phase_deadline_ms = 0;
    c->approved = false;
    c->attempt = 0;
    c->noted_signals = 0;
    /* What the detectors saw belongs to the closed incident: a new one needs new evidence,
     * or one lingering symptom would reopen incidents back to back. */
    emit(st, HEAL_OUT_RESET_DETECTORS, HEAL_ACT_NONE, HEAL_LEVEL_NONE);
}

/* Escalation levels only rise within an incident: a lower or equal level is not sent. */
static void escalate(struct step *st, enum heal_level level, const char *why)
{
    struct heal_case *c = st->c;
    if (level <= c->inc.level)
        return;
    c->inc.level = level;
    emit(st, HEAL_OUT_WEBHOOK, HEAL_ACT_ESCALATE, level);
    event(st, HEAL_EV_ESCALATED, HEAL_ACT_ESCALATE, 0, "level %d (%s): %s", (int)level,
          heal_level_name(level), why);
}

static void run_step(struct step *st);
static bool replan(struct step *st, const struct heal_signal *signal);

static void verify_from(struct step *st)
{
    struct heal_case *c = st->c;
    c->phase = HEAL_PHASE_VERIFYING;
    c->action_done_ms = st->now;
    c->successes_after_action = 0;
    c->said_healthy = false;
    c->phase_deadline_ms = st->now + c->cfg.verify_ms;
}

static void do_restart(struct step *st)
{
    struct heal_case *c = st->c;
    heal_budget_record(&c->budget, &c->cfg.policy, st->now);
    c->phase = HEAL_PHASE_ACTING;
    c->phase_deadline_ms = 0;
    if (!c->cfg.supervised) {
        event(st, HEAL_EV_ACTION, HEAL_ACT_RESTART, 0, "run the restart command");
        emit(st, HEAL_OUT_RUN, HEAL_ACT_RESTART, HEAL_LEVEL_NONE);
        st->out->v[st->out->n - 1].timeout_ms = c->cfg.command_timeout_ms;
        return;
    }
    switch (c->proc) {
    case HEAL_PROC_STARTING:
        /* The start under way is the restart: its report starts the verification. */
        event(st, HEAL_EV_ACTION, HEAL_ACT_RESTART, 0, "a start is already under way");
        return;
    case HEAL_PROC_RUNNING:
        event(st, HEAL_EV_ACTION, HEAL_ACT_RESTART, 0,
              "stop signal, %" PRIu64 " ms grace, then start", stop_grace(c));
        c->restart_on_exit = true;
        stop_process(st);
        return;
    case HEAL_PROC_STOPPING:
        event(st, HEAL_EV_ACTION, HEAL_ACT_RESTART, 0, "start once the stopping process exits");
        c->restart_on_exit = true;
        return;
    case HEAL_PROC_DOWN:
    default:
        event(st, HEAL_EV_ACTION, HEAL_ACT_RESTART, 0, "start");
        start_process(st);
        return;
    }
}

static void run_command(struct step *st, enum heal_action a)
{
    struct heal_case *c = st->c;
    c->phase = HEAL_PHASE_ACTING;
    c->phase_deadline_ms = 0;
    if (a == HEAL_ACT_CONFIG_SYNC) {
        event(st, HEAL_EV_ACTION, a, 0, "put the config file back");
        emit(st, HEAL_OUT_CONFIG_SYNC, a, HEAL_LEVEL_NONE);
        return;
    }
    event(st, HEAL_EV_ACTION, a, 0, "run the %s command", heal_action_name(a));
    emit(st, HEAL_OUT_RUN, a, HEAL_LEVEL_NONE);
    st->out->v[st->out->n - 1].timeout_ms = c->cfg.command_timeout_ms;
}

/* The plan is spent. Restarts go on under the capped back-off where the node may restart
 * on its own; otherwise nothing is left to it and it watches, escalated, for the service
 * to heal (or an operator to act). */
static void past_plan(struct step *st)
{
    struct heal_case *c = st->c;
    int r = restart_step(c);
    if (r < 0 && failing(c) && can_restart(c) && c->nplan < HEAL_PLAN_MAX) {
        /* A plan for another symptom (a disk filling up) had no restart; the process is
         * failing now, and the node may restart it. */
        r = c->nplan;
        c->plan[c->nplan++] = HEAL_ACT_RESTART;
        event(st, HEAL_EV_NOTE, HEAL_ACT_RESTART, 0, "the process is failing: restart added");
    }
    if (r >= 0 && may_take(c, HEAL_ACT_RESTART) && failing(c)) {
        c->step = r;
        run_step(st);
        return;
    }
    /* The symptom outlived the plan (a verdict came after its last action): the plan again,
     * after a back-off that doubles to its cap, as long as one of its actions may run. */
    bool persists = c->last_failure_ms > c->action_done_ms;
    /* What still comes may be another symptom than the one the plan answered. */
    if (persists)
        replan(st, &c->last_signal);
    bool actionable = false;
    for (int i = 0; i < c->nplan; i++)
        actionable |= c->plan[i] != HEAL_ACT_ESCALATE && may_take(c, c->plan[i]);
    if (persists && actionable) {
        const struct heal_policy *p = &c->cfg.policy;
        uint64_t delay = p->backoff_initial_ms;
        for (uint32_t i = 0; i < c->plan_rounds && delay < p->backoff_max_ms; i++)
            delay *= 2;
        if (delay > p->backoff_max_ms)
            delay = p->backoff_max_ms;
        c->plan_rounds++;
        c->step = 0;
        c->plan_retry = true;
        c->phase = HEAL_PHASE_BACKOFF;
        c->phase_deadline_ms = st->now + delay;
        event(st, HEAL_EV_BACKOFF, c->plan[0], 0,
              "the symptom outlived the plan: the plan again in %" PRIu64 " ms", delay);
        return;
    }
    c->phase = HEAL_PHASE_WATCHING;
    c->phase_deadline_ms = 0;
    c->successes_after_action = 0;
    c->said_healthy = false;
    event(st, HEAL_EV_NOTE, HEAL_ACT_NONE, 0,
          "no action left to the node: open until healthy or an operator acts");
}

/* Rule 8: whether a restart waits for the cluster now. A hold that reached cluster_wait_ms
 * ends here, once, and says so: local healing resumes. */
static bool held(struct step *st)
{
    struct heal_case *c = st->c;
    if (!c->cluster_hold)
        return false;
    if (st->now < c->hold_until_ms)
        return true;
    c->cluster_hold = false;
    c->hold_spent = true;
    event(st, HEAL_EV_NOTE, HEAL_ACT_RESTART, PL_ETIMEOUT,
          "cluster incident %s still open after %" PRIu64 " ms (cluster_wait_ms): local "
          "healing resumes", c->hold_id, c->cfg.policy.cluster_wait_ms);
    return false;
}

static void cluster_diagnosis(struct step *st);

static void hold_restart(struct step *st)
{
    struct heal_case *c = st->c;
    cluster_diagnosis(st);
    c->phase = HEAL_PHASE_HELD;
    c->phase_deadline_ms = c->hold_until_ms;
    c->successes_after_action = 0;
    c->said_healthy = false;
    if (c->restarts_held < UINT32_MAX)
        c->restarts_held++;
    event(st, HEAL_EV_NOTE, HEAL_ACT_RESTART, 0,
          "restart held back: the cluster sees this failure on many nodes (cluster incident "
          "%s); at most %" PRIu64 " ms more", c->hold_id, c->hold_until_ms - st->now);
}

static void run_step(struct step *st)
{
    struct heal_case *c = st->c;
    const struct heal_policy *p = &c->cfg.policy;
    if (c->step >= c->nplan) {
        past_plan(st);
        return;
    }
    enum heal_action a = c->plan[c->step];
    if (a != HEAL_ACT_ESCALATE && !may_take(c, a)) {
        c->phase = HEAL_PHASE_APPROVAL;
        c->phase_deadline_ms = st->now + p->approval_timeout_ms;
        c->inc.state = HEAL_INC_WAITING_APPROVAL;
        event(st, HEAL_EV_APPROVAL_WAIT, a, 0, "%s needs approval: platelet approve %s",
              heal_action_name(a), c->inc.id);
        return;
    }
    switch (a) {
    case HEAL_ACT_RESTART: {
        if (held(st)) {
            hold_restart(st);
            return;
        }
        struct heal_budget_decision dec;
        heal_budget_next(&c->budget, p, st->now, &dec);
        if (dec.escalate)
            escalate(st, HEAL_LEVEL_OPERATOR, "crash loop: back-off reached its cap");
        if (dec.delay_ms > 0) {
            escalate(st, HEAL_LEVEL_RETRY, "restart budget spent: crash-loop back-off");
            event(st, HEAL_EV_BACKOFF, HEAL_ACT_RESTART, 0,
                  "%u restarts in %" PRIu64 " s: next start in %" PRIu64 " ms",
                  dec.restarts_in_window, p->restart_window_ms / 1000, dec.delay_ms);
            c->phase = HEAL_PHASE_BACKOFF;
            c->phase_deadline_ms = st->now + dec.delay_ms;
            return;
        }
        do_restart(st);
        return;
    }
    case HEAL_ACT_ISOLATE:
    case HEAL_ACT_SCALE:
    case HEAL_ACT_STATE_REPAIR:
    case HEAL_ACT_CONFIG_SYNC:
    case HEAL_ACT_CLEANUP:
        run_command(st, a);
        return;
    case HEAL_ACT_WAIT:
        /* Waiting is the action: verification runs its window with nothing done. */
        /* A wait spans HEAL_WAIT_WINDOWS verify windows: outages outlast one restart. */
        event(st, HEAL_EV_ACTION, a, 0, "wait up to %" PRIu64 " ms for the service to recover",
              HEAL_WAIT_WINDOWS * c->cfg.verify_ms);
        verify_from(st);
        c->phase_deadline_ms = st->now + HEAL_WAIT_WINDOWS * c->cfg.verify_ms;
        return;
    case HEAL_ACT_ESCALATE:
    default: {
        enum heal_level lvl = c->inc.diag.cls == HEAL_CLASS_CRITICAL ? HEAL_LEVEL_HUMAN
                              : c->inc.diag.severity >= 4           ? HEAL_LEVEL_OPERATOR
                                                                     : HEAL_LEVEL_SWARM;
        escalate(st, lvl, "the node's own actions are used up");
        c->step++;
        past_plan(st);
        return;
    }
    }
}

/* The diagnosis of a signal with what the machine knows (budget, drift, the process). */
static void diagnose(struct step *st, struct heal_signal *sig, struct heal_diagnosis *d)
{
    struct heal_case *c = st->c;
    const struct heal_policy *p = &c->cfg.policy;
    sig->restarts_in_window = heal_budget_in_window(&c->budget, p, st->now);
    sig->crash_loop = c->budget.backoff_step > 0 || sig->restarts_in_window >= p->restart_budget;
    sig->config_drifted = c->drifted;
    sig->process_alive = running(c);
    heal_diagnose(sig, c->cfg.service, d);
}

/* Whether the service can take `a` at all (a command configured, a file to restore). */
static bool capable(const struct heal_caps *k, enum heal_action a)
{
    switch (a) {
    case HEAL_ACT_RESTART:
        return k->can_restart;
    case HEAL_ACT_ISOLATE:
        return k->has_isolate;
    case HEAL_ACT_SCALE:
        return k->has_scale;
    case HEAL_ACT_STATE_REPAIR:
        return k->has_state_repair;
    case HEAL_ACT_CONFIG_SYNC:
        return k->has_config_file;
    case HEAL_ACT_CLEANUP:
        return k->has_cleanup;
    case HEAL_ACT_WAIT:
        return true;
    default:
        return false;
    }
}

/* The actions the swarm may choose for this service: allowed, possible, no approval. */
static uint16_t candidates(const struct heal_case *c)
{
    uint16_t m = 0;
    for (int a = HEAL_ACT_RESTART; a < HEAL_ACT_COUNT; a++) {
        enum heal_action x = (enum heal_action)a;
        if (x == HEAL_ACT_RETRY || x == HEAL_ACT_ESCALATE)
            continue;
        if (capable(&c->cfg.caps, x) && heal_policy_allows(&c->cfg.policy, x) &&
            !heal_policy_needs_approval(&c->cfg.policy, x))
            m |= (uint16_t)(1u << a);
    }
    return m;
}

/* The rules' plan for `d`, with the swarm's learned action first when it has one for this
 * signature that the service may take now; *facts gets what the swarm needs to learn. */
static int plan_for(struct step *st, const struct heal_signal *sig, const struct heal_diagnosis *d,
                    enum heal_action plan[HEAL_PLAN_MAX], int32_t *facts)
{
    struct heal_case *c = st->c;
    int n = heal_plan(d, &c->cfg.policy, &c->cfg.caps, plan);
    enum heal_feature feat = heal_signal_feature(sig);
    uint16_t cand = candidates(c);
    *facts = (int32_t)((uint32_t)cand | ((uint32_t)feat << 16) | ((uint32_t)(plan[0] & 0x0f) << 24));
    const struct heal_learned *l = st->in->learned;
    if (l == NULL || !c->cfg.policy.learning)
        return n;
    enum heal_action learned = HEAL_ACT_NONE;
    for (uint32_t i = 0; i < l->n && i < HEAL_LEARNED_MAX; i++) {
        const struct heal_learned_entry *e = &l->v[i];
        if (e->cls == d->cls && e->cause == d->cause && e->signal == d->signal &&
            e->feature == feat)
            learned = e->action;
    }
    if ((unsigned)learned >= HEAL_ACT_COUNT || !(cand & (1u << learned)) || plan[0] == learned)
        return n;
    /* The learned action first; the rules' steps after it, without it. */
    enum heal_action out[HEAL_PLAN_MAX];
    int m = 0;
    out[m++] = learned;
    for (int i = 0; i < n && m < HEAL_PLAN_MAX; i++)
        if (plan[i] != learned)
            out[m++] = plan[i];
    if (out[m - 1] != HEAL_ACT_ESCALATE)
        out[m - 1] = HEAL_ACT_ESCALATE; /* the plan always ends in escalation */
    memcpy(plan, out, sizeof(out));
    return m;
}

static void note_plan(struct step *st, const char *what)
{
    struct heal_case *c = st->c;
    char plan[160] = "";
    for (int i = 0; i < c->nplan; i++)
        snprintf(plan + strlen(plan), sizeof(plan) - strlen(plan), "%s%s", i ? ", " : "",
                 heal_action_name(c->plan[i]));
    event(st, HEAL_EV_NOTE, HEAL_ACT_NONE, 0, "%s: %s", what, plan);
}

static void open_incident(struct step *st, struct heal_signal *sig)
{
    struct heal_case *c = st->c;
    char id[HEAL_INCIDENT_ID_MAX];
    /* 48 + 1 + 13 + 1 + 20 digits fit HEAL_INCIDENT_ID_MAX whatever the node's name. */
    snprintf(id, sizeof(id), "%.48s-%013" PRIu64 "-%" PRIu64, c->cfg.node, st->now, st->in->seq);
    struct heal_diagnosis d;
    diagnose(st, sig, &d);
    if (heal_incident_open(&c->inc, id, c->cfg.node, c->cfg.service, st->now) != 0) {
        /* The id fits by construction and names are bounded by the config. */
        PL_NEVER(true);
        return;
    }
    c->has_inc = true;
    c->phase = HEAL_PHASE_ACTING;
    c->incidents_opened++;
    c->last_failure_ms = st->now;
    c->last_signal = *sig;
    c->said_healthy = false;
    c->plan_rounds = 0;
    c->plan_retry = false;
    c->action_done_ms = 0;
    c->noted_signals = 1u << sig->kind;
    c->unanswered_signals = 0;
    c->approved = false;
    c->attempt = 0;
    st->out->persist = true;
    int32_t facts;
    c->nplan = plan_for(st, sig, &d, c->plan, &facts);
    heal_incident_diagnosed_facts(&c->inc, st->now, &d, facts);
    c->step = 0;
    /* The rules' first action rides in the facts' bits 24-27. */
    bool learned = (int)(((uint32_t)facts >> 24) & 0x0f) != (int)c->plan[0];
    note_plan(st, learned ? "plan (learned first)" : "plan");
    run_step(st);
}

/* A new failure while the last action was verified or the node watched: that action did
 * not hold. The new signal is diagnosed; a different plan is taken from its start (a
 * drifted config during a crash's restart gets config_sync), the same plan restarts (or
 * goes on to its next step). */
/* Diagnoses `sig` again; when its plan differs from the one under way, takes it from its
 * first step and says so. Returns whether it did. */
static bool replan(struct step *st, const struct heal_signal *signal)
{
    struct heal_case *c = st->c;
    struct heal_signal sig = *signal;
    struct heal_diagnosis d;
    diagnose(st, &sig, &d);
    enum heal_action plan[HEAL_PLAN_MAX];
    int32_t facts;
    int n = plan_for(st, &sig, &d, plan, &facts);
    if (n == c->nplan && memcmp(plan, c->plan, (size_t)n * sizeof(plan[0])) == 0)
        return false;
    heal_incident_diagnosed_facts(&c->inc, st->now, &d, facts);
    st->out->persist = true;
    memcpy(c->plan, plan, sizeof(plan));
    c->nplan = n;
    c->step = 0;
    c->plan_rounds = 0; /* a new plan's back-off starts over */
    note_plan(st, "new diagnosis, new plan");
    return true;
}

static void action_failed(struct step *st, struct heal_signal *sig)
{
    struct heal_case *c = st->c;
    c->attempt = 0;
    if (replan(st, sig)) {
        run_step(st);
        return;
    }
    int r = restart_step(c);
    c->step = r >= 0 ? r : c->step + 1;
    run_step(st);
}

/* A failure: open an incident, or tell the open one. */
static void on_failure(struct step *st, struct heal_signal *sig)
{
    struct heal_case *c = st->c;
    if (c->operator_stopped)
        return;
    if (c->phase == HEAL_PHASE_IDLE) {
        open_incident(st, sig);
        return;
    }
    /* Already healing. An exit always counts; other signals repeat on every scrape or tick
     * while the symptom lasts, so each kind is noted once (the record stays readable). */
    uint32_t bit = 1u << sig->kind;
    bool first = (c->noted_signals & bit) == 0;
    c->noted_signals |= bit;
    c->last_failure_ms = st->now;
    st->failure = true;
    c->last_signal = *sig;
    /* A verdict repeating itself pushes the quiet time back; the service did not stop being
     * healthy in between, so "healthy again" is not recorded again (the timeline would fill
     * with it and drop the actions that matter). */
    if (process_signal(sig->kind) || first)
        c->said_healthy = false;
    if (sig->kind == HEAL_SIG_EXIT || first)
        event(st, HEAL_EV_NOTE, HEAL_ACT_NONE, 0, "%s again: %s", heal_signal_name(sig->kind),
              sig->ev.detail);
    /* Rule 4: a new failure while an action is verified (or while the node watches) means
     * it did not hold: act now, not at verify_ms. A verdict repeating what it already said
     * only pushes the quiet time back. */
    bool fresh = process_signal(sig->kind) || first || (c->unanswered_signals & bit) != 0;
    bool judging = c->phase == HEAL_PHASE_VERIFYING || c->phase == HEAL_PHASE_WATCHING;
    if (fresh && judging) {
        c->unanswered_signals &= ~bit;
        action_failed(st, sig);
    } else if (fresh) {
        /* An action or a back-off is under way: answered when it is judged. */
        c->unanswered_signals |= bit;
    } else if (c->phase == HEAL_PHASE_WATCHING) {
        past_plan(st); /* the symptom persists: the plan again, after a back-off */
    }
}

static void fill_signal(struct heal_signal *sig, enum heal_signal_kind kind, const char *source,
                        const char *metric, double value, double threshold, const char *detail)
{
    memset(sig, 0, sizeof(*sig));
    sig->kind = kind;
    snprintf(sig->ev.source, sizeof(sig->ev.source), "%s", source);
    snprintf(sig->ev.metric, sizeof(sig->ev.metric), "%s", metric);
    sig->ev.value = value;
    sig->ev.threshold = threshold;
    snprintf(sig->ev.detail, sizeof(sig->ev.detail), "%s", detail);
    sig->host_cpu = sig->host_memory = sig->proc_cpu = sig->proc_memory_fraction = -1;
}

/* The host and process context the shell measured, which diagnosis weighs. */
static void copy_context(struct heal_signal *sig, const struct heal_signal *from)
{
    sig->proc_memory_fraction = from->proc_memory_fraction;
    sig->proc_cpu = from->proc_cpu;
    sig->host_cpu = from->host_cpu;
    sig->host_memory = from->host_memory;
    sig->services_failing = from->services_failing;
    sig->services_total = from->services_total;
}

/* ---- health ---- */

/* Judges health now, and closes an incident whose action is verified (or that healed on
 * its own while the node watched). A verdict-set incident also needs its quiet time. */
static void evaluate(struct step *st)
{
    struct heal_case *c = st->c;
    bool healthy = judge_healthy(c, st->now);
    if (healthy && !c->healthy)
        c->healthy_since_ms = st->now;
    c->healthy = healthy;
    heal_budget_health(&c->budget, healthy, st->now);
    c->quiet_deadline_ms = 0;
    if (c->phase != HEAL_PHASE_VERIFYING && c->phase != HEAL_PHASE_WATCHING &&
        c->phase != HEAL_PHASE_HELD)
        return;
    uint64_t from = c->last_failure_ms;
    if (c->phase == HEAL_PHASE_VERIFYING && c->action_done_ms > from)
        from = c->action_done_ms;
    /* Healed after a process failure: at once. After a verdict, or "recovered" without an
     * action of ours: only once no failure came for the quiet time (never in the step of a
     * failure itself). */
    bool needs_quiet = c->phase != HEAL_PHASE_VERIFYING || !process_signal(c->inc.diag.signal);
    bool quiet = !needs_quiet || st->now >= from + quiet_ms(c);
    if (!quiet)
        c->quiet_deadline_ms = from + quiet_ms(c);
    /* With checks, one must have passed since the action (or since watching began). */
    bool seen = c->cfg.nchecks == 0 || c->successes_after_action > 0;
    if (!healthy || !seen)
        return;
    if (st->failure) {
        /* Never closed in the step of a failure: judged again at once, on the next timer. */
        c->quiet_deadline_ms = c->quiet_deadline_ms ? c->quiet_deadline_ms : st->now + 1;
        return;
    }
    if (c->phase == HEAL_PHASE_VERIFYING) {
        if (!c->said_healthy) {
            event(st, HEAL_EV_HEALTHY, HEAL_ACT_NONE, 0, "healthy again %.1f s after the action",
                  (double)(st->now - c->action_done_ms) / 1000.0);
            c->said_healthy = true;
        }
        if (!quiet)
            return;
        if (c->inc.level < HEAL_LEVEL_SELF)
            c->inc.level = HEAL_LEVEL_SELF;
        close_incident(st, "healed");
        return;
    }
    if (failing(c) || !quiet)
        return;
    /* Not "healed": no action of the node's was verified to do it. */
    event(st, HEAL_EV_HEALTHY, HEAL_ACT_NONE, 0, "healthy again without the node's action%s",
          c->phase == HEAL_PHASE_HELD ? " (its restart was held back for the cluster)" : "");
    close_incident(st, "recovered");
}

/* ---- inputs ---- */

static void on_started(struct step *st)
{
    struct heal_case *c = st->c;
    if (c->proc != HEAL_PROC_STARTING)
        return; /* stale: a start we no longer wait for */
    c->proc = HEAL_PROC_RUNNING;
    c->started_ms = st->now;
    checks_reset(c); /* a fresh count for the new process */
    if (c->operator_stopped) {
        stop_process(st);
        return;
    }
    if (c->phase == HEAL_PHASE_ACTING && c->plan[c->step] == HEAL_ACT_RESTART) {
        event(st, HEAL_EV_RESULT, HEAL_ACT_RESTART, 0, "started again%s%s",
              st->in->detail[0] ? ": " : "", st->in->detail);
        verify_from(st);
    }
}

static void on_start_failed(struct step *st)
{
    struct heal_case *c = st->c;
    if (c->proc != HEAL_PROC_STARTING)
        return;
    c->proc = HEAL_PROC_DOWN;
    if (c->operator_stopped)
        return;
    if (c->phase == HEAL_PHASE_ACTING && c->plan[c->step] == HEAL_ACT_RESTART) {
        event(st, HEAL_EV_RESULT, HEAL_ACT_RESTART, st->in->err, "cannot start: %s",
              st->in->detail);
        /* Rule 6: retried as a crash is, under the budget and its back-off. */
        run_step(st);
        return;
    }
    struct heal_signal sig;
    fill_signal(&sig, HEAL_SIG_START_FAILED, "process", "spawn_error", st->in->err, 0,
                st->in->detail);
    on_failure(st, &sig);
}

static void on_exited(struct step *st)
{
    struct heal_case *c = st->c;
    const struct heal_input *in = st->in;
    if (c->proc != HEAL_PROC_RUNNING && c->proc != HEAL_PROC_STOPPING)
        return; /* no process of ours was running */
    uint64_t uptime = st->now - c->started_ms;
    c->proc = HEAL_PROC_DOWN;
    c->kill_deadline_ms = 0;
    if (c->restart_on_exit) {
        c->restart_on_exit = false;
        if (!c->operator_stopped && c->phase == HEAL_PHASE_ACTING) {
            start_process(st);
            return;
        }
    }
    if (c->operator_stopped)
        return;
    struct heal_signal sig;
    char detail[HEAL_TEXT_MAX];
    if (in->term_signal != 0)
        snprintf(detail, sizeof(detail), "killed by signal %d after %.1f s%s%s", in->term_signal,
                 (double)uptime / 1000.0, in->detail[0] ? ": " : "", in->detail);
    else
        snprintf(detail, sizeof(detail), "exited with status %" PRId64 " after %.1f s",
                 in->exit_status, (double)uptime / 1000.0);
    fill_signal(&sig, HEAL_SIG_EXIT, "process", in->term_signal ? "term_signal" : "exit_status",
                in->term_signal ? in->term_signal : (double)in->exit_status, 0, detail);
    sig.exit_status = in->term_signal ? -1 : in->exit_status;
    sig.term_signal = in->term_signal;
    /* The shell's context (memory near the limit before an OOM kill, host load). */
    copy_context(&sig, &in->signal);
    on_failure(st, &sig);
}

static void on_check(struct step *st)
{
    struct heal_case *c = st->c;
    const struct heal_input *in = st->in;
    /* The agent's own trouble (no fd, no memory) says nothing about the service. */
    if (in->agent_fault || c->operator_stopped)
        return;
    /* A result from before the current process (or an external service's last restart)
     * says nothing about it; a process that is down is the exit's business. */
    if (!running(c) || in->check_started_ms < c->started_ms)
        return;
    c->check_ran[in->check] = true;
    int change = heal_check_state_feed(&c->checks[in->check], in->ok);
    if (in->ok &&
        (c->phase == HEAL_PHASE_VERIFYING || c->phase == HEAL_PHASE_WATCHING ||
         c->phase == HEAL_PHASE_HELD) &&
        c->successes_after_action < UINT32_MAX)
        c->successes_after_action++;
    if (change < 0) {
        if (in->failure == HEAL_CHECKFAIL_TIMEOUT)
            c->hung_check = in->check;
        struct heal_signal sig;
        char detail[HEAL_TEXT_MAX];
        snprintf(detail, sizeof(detail), "checks[%d] failed %u times: %s", in->check,
                 c->checks[in->check].consecutive_failures, in->detail);
        /* The shell names the check's kind ("check:http") in the input's evidence. */
        fill_signal(&sig, HEAL_SIG_CHECK,
                    in->signal.ev.source[0] ? in->signal.ev.source : "check",
                    "consecutive_failures", c->checks[in->check].consecutive_failures,
                    c->checks[in->check].failures_needed, detail);
        sig.check_failure = in->failure;
        copy_context(&sig, &in->signal);
        on_failure(st, &sig);
    }
}

static void on_action_done(struct step *st)
{
    struct heal_case *c = st->c;
    const struct heal_input *in = st->in;
    const struct heal_policy *p = &c->cfg.policy;
    if (c->phase != HEAL_PHASE_ACTING || c->plan[c->step] != in->action ||
        (in->action == HEAL_ACT_RESTART && c->cfg.supervised))
        return; /* stale: not the action we wait for */
    if (in->action == HEAL_ACT_CONFIG_SYNC) {
        event(st, HEAL_EV_RESULT, in->action, in->err, "%s", in->detail);
        if (in->err == 0)
            c->action_done_ms = st->now;
        /* The restored file takes effect with the restart that follows in the plan. */
        c->step++;
        run_step(st);
        return;
    }
    if (in->err == 0) {
        event(st, HEAL_EV_RESULT, in->action, 0, "command exited 0%s%s",
              in->detail[0] ? ": " : "", in->detail);
        c->attempt = 0;
        if (in->action == HEAL_ACT_RESTART) {
            /* An external service restarted: checks begun before now judged the old one. */
            c->started_ms = st->now;
            checks_reset(c);
        }
        verify_from(st);
        /* A supervised process that died meanwhile is a failure during verification. */
        if (c->cfg.supervised && c->proc == HEAL_PROC_DOWN) {
            struct heal_signal sig;
            fill_signal(&sig, HEAL_SIG_EXIT, "process", "down", 0, 0,
                        "the process is down after the command");
            on_failure(st, &sig);
        }
        return;
    }
    event(st, HEAL_EV_RESULT, in->action, in->err, "command failed: %s", in->detail);
    if (heal_policy_allows(p, HEAL_ACT_RETRY) && c->attempt < p->retry_max) {
        struct pl_rand r;
        pl_rand_seed(&r, in->rand);
        uint64_t d = heal_retry_delay_ms(c->attempt, p->retry_base_ms, p->retry_cap_ms, &r);
        c->attempt++;
        event(st, HEAL_EV_BACKOFF, HEAL_ACT_RETRY, 0,
              "retry %u of %u in %" PRIu64 " ms (full jitter)", c->attempt, p->retry_max, d);
        c->phase = HEAL_PHASE_BACKOFF;
        /* A zero delay still waits for the next timer call: every retry is scheduled. */
        c->phase_deadline_ms = st->now + (d > 0 ? d : 1);
        return;
    }
    c->attempt = 0;
    c->step++;
    run_step(st);
}

/* Running, its checks passing, no failure for the quiet time. */
static bool recovered_meanwhile(const struct heal_case *c, uint64_t now)
{
    return judge_healthy(c, now) && !failing(c) && now >= c->last_failure_ms + quiet_ms(c);
}

static void on_timer(struct step *st)
{
    struct heal_case *c = st->c;
    uint64_t now = st->now;
    if (c->proc == HEAL_PROC_STOPPING && c->kill_deadline_ms != 0 && now >= c->kill_deadline_ms) {
        emit(st, HEAL_OUT_KILL, HEAL_ACT_NONE, HEAL_LEVEL_NONE);
        event(st, HEAL_EV_NOTE, HEAL_ACT_RESTART, 0, "grace period over: SIGKILL");
        /* Again later should the process outlive the kill (it cannot, but a stuck exit
         * report must not leave the service with nothing scheduled). */
        c->kill_deadline_ms = now + (c->cfg.grace_ms > 1000 ? c->cfg.grace_ms : 1000);
    }
    if (c->phase_deadline_ms == 0 || now < c->phase_deadline_ms)
        return;
    c->phase_deadline_ms = 0;
    switch (c->phase) {
    case HEAL_PHASE_VERIFYING:
        event(st, HEAL_EV_NOTE, c->plan[c->step], PL_ETIMEOUT,
              "not healthy %" PRIu64 " ms after %s: next step", c->cfg.verify_ms,
              heal_action_name(c->plan[c->step]));
        c->step++;
        run_step(st);
        return;
    case HEAL_PHASE_BACKOFF:
        if (recovered_meanwhile(c, now)) {
            /* The symptom ended during the back-off: acting now would take the credit for
             * what time did (and a restart may hurt a dependency that just came back). */
            c->plan_retry = false;
            /* Healed when an action of ours finished after the last failure (a config_sync
             * whose restart was still waiting for the budget); else time did it. */
            bool ours = c->action_done_ms > c->last_failure_ms;
            event(st, HEAL_EV_HEALTHY, HEAL_ACT_NONE, 0, "healthy again during the back-off");
            if (ours && c->inc.level < HEAL_LEVEL_SELF)
                c->inc.level = HEAL_LEVEL_SELF;
            close_incident(st, ours ? "healed" : "recovered");
        } else if (c->plan_retry) {
            /* The plan again from its start: through its gates (approval, budget). */
            c->plan_retry = false;
            run_step(st);
        } else if (c->plan[c->step] == HEAL_ACT_RESTART) {
            if (held(st))
                hold_restart(st);
            else
                do_restart(st);
        } else {
            run_command(st, c->plan[c->step]);
        }
        return;
    case HEAL_PHASE_HELD:
        /* The hold ran out (held() says so): the restart, through the budget. */
        run_step(st);
        return;
    case HEAL_PHASE_APPROVAL:
        c->inc.state = HEAL_INC_OPEN;
        event(st, HEAL_EV_NOTE, c->plan[c->step], PL_ETIMEOUT, "no approval within %" PRIu64 " ms",
              c->cfg.policy.approval_timeout_ms);
        escalate(st, HEAL_LEVEL_HUMAN, "approval timed out");
        /* Skip the action nobody approved; what is left may not need approval. */
        c->step++;
        run_step(st);
        return;
    default:
        return;
    }
}

/* The plan's first action that needs an approval, or HEAL_ACT_NONE. */
static enum heal_action waits_for_approval(const struct heal_case *c)
{
    for (int i = 0; i < c->nplan; i++)
        if (heal_policy_needs_approval(&c->cfg.policy, c->plan[i]))
            return c->plan[i];
    return HEAL_ACT_NONE;
}

static int on_approve(struct step *st)
{
    struct heal_case *c = st->c;
    /* Also late, while watching after the wait timed out: the human answered after all. */
    bool late = c->phase == HEAL_PHASE_WATCHING && !c->approved &&
                waits_for_approval(c) != HEAL_ACT_NONE;
    if (c->phase != HEAL_PHASE_APPROVAL && !late)
        return PL_ESTATE;
    c->approved = true;
    c->inc.state = HEAL_INC_OPEN;
    event(st, HEAL_EV_APPROVED, late ? waits_for_approval(c) : c->plan[c->step], 0,
          late ? "approved by an operator after the wait timed out" : "approved by an operator");
    if (late)
        past_plan(st);
    else
        run_step(st);
    return 0;
}

static void on_stop(struct step *st)
{
    struct heal_case *c = st->c;
    c->operator_stopped = true;
    c->restart_on_exit = false;
    checks_reset(c);
    if (c->phase != HEAL_PHASE_IDLE) {
        event(st, HEAL_EV_NOTE, HEAL_ACT_NONE, 0, "stopped by an operator");
        close_incident(st, "stopped");
    }
    if (c->cfg.supervised && (c->proc == HEAL_PROC_RUNNING))
        stop_process(st);
    /* STARTING: stopped when it reports started (on_started). */
}

static void on_start(struct step *st)
{
    struct heal_case *c = st->c;
    c->operator_stopped = false;
    checks_reset(c);
    c->started_ms = st->now; /* results begun while stopped are no evidence */
    if (c->cfg.supervised && c->proc == HEAL_PROC_DOWN)
        start_process(st);
}

/* The cluster explains the failure better than the node alone: the open incident's
 * diagnosis takes the cluster's root cause, with what the cluster saw as evidence. */
static void cluster_diagnosis(struct step *st)
{
    struct heal_case *c = st->c;
    if (c->phase == HEAL_PHASE_IDLE || c->hold_cause == HEAL_CAUSE_NONE)
        return;
    /* Once per incident. */
    for (uint32_t i = 0; i < c->inc.diag.nevidence && i < HEAL_EVIDENCE_MAX; i++)
        if (strcmp(c->inc.diag.evidence[i].source, "cluster") == 0)
            return;
    struct heal_diagnosis d = c->inc.diag;
    d.cause = c->hold_cause;
    d.sig.cause = c->hold_cause;
    if (d.confidence < 0.9)
        d.confidence = 0.9;
    if (d.nevidence < HEAL_EVIDENCE_MAX)
        d.evidence[d.nevidence++] = c->hold_evidence;
    snprintf(d.summary, sizeof(d.summary), "%s: %s, cause %s from the cluster (%s)",
             heal_signal_name(d.signal), heal_class_name(d.cls), heal_cause_name(d.cause),
             c->hold_id);
    heal_incident_diagnosed(&c->inc, st->now, &d);
    st->out->persist = true;
}

static void on_hold(struct step *st)
{
    struct heal_case *c = st->c;
    const struct heal_input *in = st->in;
    if (!in->hold) {
        if (!c->cluster_hold)
            return;
        c->cluster_hold = false;
        if (c->phase == HEAL_PHASE_HELD) {
            /* The others are recovering: this one most likely with them, a moment later
             * (its checks lag). The held restart waits that moment, then goes ahead. */
            uint64_t settle = quiet_ms(c);
            if (c->phase_deadline_ms > st->now + settle)
                c->phase_deadline_ms = st->now + settle;
            event(st, HEAL_EV_NOTE, HEAL_ACT_RESTART, 0,
                  "cluster incident %s is over: restart in %" PRIu64 " ms unless healthy "
                  "again by then", c->hold_id, c->phase_deadline_ms - st->now);
        }
        return;
    }
    /* A hold is taken once per cluster incident; with no wait configured, never. */
    bool same = strncmp(c->hold_id, in->detail, sizeof(c->hold_id) - 1) == 0;
    if (c->cfg.policy.cluster_wait_ms == 0 || (same && (c->cluster_hold || c->hold_spent)))
        return;
    c->cluster_hold = true;
    c->hold_spent = false;
    c->hold_until_ms = st->now + c->cfg.policy.cluster_wait_ms;
    snprintf(c->hold_id, sizeof(c->hold_id), "%s", in->detail);
    c->hold_cause = (unsigned)in->cluster_cause < HEAL_CAUSE_COUNT ? in->cluster_cause
                                                                    : HEAL_CAUSE_NONE;
    c->hold_evidence = in->signal.ev;
    snprintf(c->hold_evidence.source, sizeof(c->hold_evidence.source), "cluster");
    snprintf(c->hold_evidence.metric, sizeof(c->hold_evidence.metric), "nodes_showing");
    event(st, HEAL_EV_NOTE, HEAL_ACT_NONE, 0,
          "cluster incident %s: the same failure on many nodes; restarts wait for it",
          c->hold_id);
    cluster_diagnosis(st);
    /* A restart waiting out its back-off waits for the cluster instead: held() when the
     * back-off's timer comes. */
}

/* ---- the step ---- */

void heal_case_init(struct heal_case *c, const struct heal_case_cfg *cfg)
{
    PL_ASSERT(cfg->nchecks >= 0 && cfg->nchecks <= HEAL_CASE_CHECKS_MAX);
    memset(c, 0, sizeof(*c));
    c->cfg = *cfg;
    c->hung_check = -1;
    for (int i = 0; i < cfg->nchecks; i++)
        heal_check_state_init(&c->checks[i], cfg->checks[i].failures, cfg->checks[i].successes);
    heal_budget_init(&c->budget);
}

uint64_t heal_case_deadline(const struct heal_case *c)
{
    uint64_t d = 0;
#define EARLIER(t) ((t) != 0 && (d == 0 || (t) < d))
    if (c->proc == HEAL_PROC_STOPPING && EARLIER(c->kill_deadline_ms))
        d = c->kill_deadline_ms;
    if (c->phase != HEAL_PHASE_IDLE && EARLIER(c->phase_deadline_ms))
        d = c->phase_deadline_ms;
    if ((c->phase == HEAL_PHASE_VERIFYING || c->phase == HEAL_PHASE_WATCHING ||
         c->phase == HEAL_PHASE_HELD) &&
        EARLIER(c->quiet_deadline_ms))
        d = c->quiet_deadline_ms;
    /* Without checks, a process becomes healthy by running start_ms. */
    if (c->cfg.supervised && c->cfg.nchecks == 0 && c->proc == HEAL_PROC_RUNNING && !c->healthy) {
        uint64_t t = c->started_ms + c->cfg.start_ms;
        if (EARLIER(t))
            d = t;
    }
#undef EARLIER
    return d;
}

int heal_step(struct heal_case *c, const struct heal_input *in, struct heal_outputs *out)
{
    memset(out, 0, sizeof(*out));
    out->first_event = c->has_inc ? c->inc.nevents : 0;
    if (in->kind <= 0 || in->kind >= HEAL_IN_KIND_COUNT ||
        (in->kind == HEAL_IN_CHECK && (in->check < 0 || in->check >= c->cfg.nchecks)) ||
        (in->kind == HEAL_IN_SIGNAL &&
         (in->signal.kind <= HEAL_SIG_NONE || in->signal.kind >= HEAL_SIG_COUNT))) {
        out->deadline_ms = heal_case_deadline(c);
        return PL_EMALFORMED;
    }
    struct step st = {.c = c, .in = in, .out = out, .now = in->now_ms};
    uint32_t opened = c->incidents_opened;
    enum heal_level level = c->inc.level;
    int rc = 0;
    switch (in->kind) {
    case HEAL_IN_LAUNCH:
        if (!c->cfg.supervised)
            c->started_ms = st.now; /* checks judge the external service from now on */
        if (c->cfg.supervised && c->proc == HEAL_PROC_DOWN && !c->operator_stopped &&
            c->start_count == 0)
            start_process(&st);
        break;
    case HEAL_IN_STARTED:
        on_started(&st);
        break;
    case HEAL_IN_START_FAILED:
        on_start_failed(&st);
        break;
    case HEAL_IN_EXITED:
        on_exited(&st);
        break;
    case HEAL_IN_CHECK:
        on_check(&st);
        break;
    case HEAL_IN_SIGNAL: {
        struct heal_signal sig = in->signal;
        on_failure(&st, &sig);
        break;
    }
    case HEAL_IN_ACTION_DONE:
        on_action_done(&st);
        break;
    case HEAL_IN_TIMER:
        on_timer(&st);
        break;
    case HEAL_IN_APPROVE:
        rc = on_approve(&st);
        break;
    case HEAL_IN_WEBHOOK:
        event(&st, HEAL_EV_RESULT, HEAL_ACT_ESCALATE, in->err, "%s", in->detail);
        break;
    case HEAL_IN_CONFIG:
        c->drifted = in->drifted;
        c->cfg.caps.has_config_file = in->has_good_copy;
        break;
    case HEAL_IN_STOP:
        on_stop(&st);
        break;
    case HEAL_IN_START:
        on_start(&st);
        break;
    case HEAL_IN_HOLD:
        on_hold(&st);
        break;
    default:
        break;
    }
    evaluate(&st);
    /* A step that opened an incident reports all of its events as new. */
    if (c->incidents_opened != opened)
        out->first_event = 0;
    PL_ALWAYS(c->incidents_opened != opened || c->phase == HEAL_PHASE_IDLE ||
              c->inc.level >= level);
    out->deadline_ms = heal_case_deadline(c);
    return rc;
}

const struct heal_incident *heal_case_incident(const struct heal_case *c)
{
    return c->phase != HEAL_PHASE_IDLE ? &c->inc : NULL;
}

const struct heal_incident *heal_case_last_incident(const struct heal_case *c)
{
    return c->has_inc ? &c->inc : NULL;
}

int heal_case_check(const struct heal_case *c, uint64_t now_ms, char *why, size_t why_size)
{
    (void)now_ms;
    bool open = c->phase != HEAL_PHASE_IDLE;
    if (open != (c->has_inc && c->inc.state != HEAL_INC_CLOSED)) {
        snprintf(why, why_size, "rule 1: phase %s but the incident is %s",
                 heal_phase_name(c->phase),
                 c->has_inc ? heal_incident_state_name(c->inc.state) : "absent");
        return PL_ESTATE;
    }
    if (c->has_inc && c->inc.state == HEAL_INC_CLOSED && c->inc.outcome[0] == '\0') {
        snprintf(why, why_size, "rule 5: incident %s closed without an outcome", c->inc.id);
        return PL_ESTATE;
    }
    if (failing(c)) {
        bool in_flight = c->proc == HEAL_PROC_STARTING || c->proc == HEAL_PROC_STOPPING ||
                         c->phase == HEAL_PHASE_ACTING;
        bool waits_for_human = c->phase == HEAL_PHASE_APPROVAL && c->inc.level >= HEAL_LEVEL_HUMAN;
        bool nothing_left = c->phase == HEAL_PHASE_WATCHING &&
                            (!can_restart(c) || !may_take(c, HEAL_ACT_RESTART));
        if (!open) {
            snprintf(why, why_size, "rule 3: failing (process %s) with no incident open",
                     heal_proc_name(c->proc));
            return PL_ESTATE;
        }
        if (!in_flight && heal_case_deadline(c) == 0 && !waits_for_human && !nothing_left) {
            snprintf(why, why_size, "rule 3: failing with nothing scheduled (phase %s, process %s)",
                     heal_phase_name(c->phase), heal_proc_name(c->proc));
            return PL_ESTATE;
        }
        if (nothing_left && c->inc.level < HEAL_LEVEL_SWARM) {
            snprintf(why, why_size, "rule 3: nothing left to the node but not escalated");
            return PL_ESTATE;
        }
    }
    if (c->proc == HEAL_PROC_STOPPING && c->kill_deadline_ms == 0) {
        snprintf(why, why_size, "stopping with no kill deadline");
        return PL_ESTATE;
    }
    return 0;
}
