/*
 * The diagnosis rules and the action planner of heal_diag.h.
 */
#include "heal_diag.h"

#include "pl_assert.h"
#include "pl_err.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char *const class_names[HEAL_CLASS_COUNT] = {
    "none", "transient", "degradation", "service_failure", "data_corruption", "config_drift",
    "critical",
};
static const char *const cause_names[HEAL_CAUSE_COUNT] = {
    "none",           "network",          "resource_exhaustion", "overload",
    "config_error",   "data_corruption",  "dependency_failure",  "code_bug",
};
static const char *const signal_names[HEAL_SIG_COUNT] = {
    "none",   "exit",   "check",          "error_rate",   "latency",      "cpu",
    "memory", "predict_memory", "predict_disk", "config_drift", "start_failed",
};

const char *heal_class_name(enum heal_class c)
{
    return (unsigned)c < HEAL_CLASS_COUNT ? class_names[c] : "none";
}
const char *heal_cause_name(enum heal_cause c)
{
    return (unsigned)c < HEAL_CAUSE_COUNT ? cause_names[c] : "none";
}
const char *heal_signal_name(enum heal_signal_kind k)
{
    return (unsigned)k < HEAL_SIG_COUNT ? signal_names[k] : "none";
}

int heal_diag_evidence_add(struct heal_diagnosis *d, const char *source, const char *metric,
                           double value, double threshold, const char *detail)
{
    if (d->nevidence >= HEAL_EVIDENCE_MAX)
        return PL_EFULL;
    struct heal_evidence *e = &d->evidence[d->nevidence++];
    memset(e, 0, sizeof(*e));
    snprintf(e->source, sizeof(e->source), "%s", source);
    snprintf(e->metric, sizeof(e->metric), "%s", metric);
    e->value = isfinite(value) ? value : 0;
    e->threshold = isfinite(threshold) ? threshold : 0;
    snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
    return 0;
}

static void set(struct heal_diagnosis *d, enum heal_class cls, enum heal_cause cause,
                double confidence, int severity)
{
    d->cls = cls;
    d->cause = cause;
    d->confidence = confidence;
    d->severity = (uint8_t)severity;
}

/* Host-wide pressure makes a service's trouble someone else's, but only when the service
 * takes part in it (busy itself, or others failing too): a hung process idling on a busy
 * host is still hung. */
static bool host_hot(const struct heal_signal *s)
{
    bool hot = s->host_cpu >= 0.9 || s->host_memory >= 0.95;
    return hot && (s->proc_cpu >= 0.5 || s->services_failing > 0);
}

/* More than half of several services failing together points away from this service. */
static bool shared_trouble(const struct heal_signal *s)
{
    return s->services_total >= 3 && s->services_failing * 2 > s->services_total;
}

/* A drifted config file outranks whatever the exit or check looked like. */
static void drift_override(const struct heal_signal *s, struct heal_diagnosis *d)
{
    if (s->config_drifted) {
        set(d, HEAL_CLASS_CONFIG_DRIFT, HEAL_CAUSE_CONFIG_ERROR, 0.85, 3);
        heal_diag_evidence_add(d, "config", "drifted", 1, 0,
                               "the config file no longer matches its known-good copy");
    }
}

static void diagnose_exit(const struct heal_signal *s, struct heal_diagnosis *d)
{
    bool oom_like = s->term_signal == SIGKILL && s->proc_memory_fraction >= 0.9;
    if (oom_like) {
        set(d, HEAL_CLASS_SERVICE_FAILURE, HEAL_CAUSE_RESOURCE_EXHAUSTION, 0.75, 4);
        heal_diag_evidence_add(d, "process", "memory_fraction", s->proc_memory_fraction, 0.9,
                               "killed with SIGKILL while close to its memory limit");
    } else if (s->crash_loop) {
        set(d, HEAL_CLASS_SERVICE_FAILURE, HEAL_CAUSE_CODE_BUG, 0.8, 4);
        heal_diag_evidence_add(d, "policy", "restarts_in_window", s->restarts_in_window, 0,
                               "exits again and again: crash loop");
    } else if (s->restarts_in_window > 0) {
        set(d, HEAL_CLASS_SERVICE_FAILURE, HEAL_CAUSE_CODE_BUG, 0.6, 3);
        heal_diag_evidence_add(d, "policy", "restarts_in_window", s->restarts_in_window, 0,
                               "exited again after a recent restart");
    } else {
        /* One exit on its own: most likely transient, a restart should hold. */
        set(d, HEAL_CLASS_TRANSIENT, HEAL_CAUSE_CODE_BUG, 0.5, 2);
    }
    drift_override(s, d);
}

static void diagnose_check(const struct heal_signal *s, struct heal_diagnosis *d)
{
    if (shared_trouble(s)) {
        set(d, HEAL_CLASS_SERVICE_FAILURE, HEAL_CAUSE_DEPENDENCY_FAILURE, 0.6, 4);
        heal_diag_evidence_add(d, "host", "services_failing", s->services_failing,
                               s->services_total, "most services on this host fail together");
        return;
    }
    if (host_hot(s)) {
        set(d, HEAL_CLASS_DEGRADATION, HEAL_CAUSE_OVERLOAD, 0.6, 3);
        heal_diag_evidence_add(d, "host", "cpu", s->host_cpu, 0.9, "the host is saturated");
        return;
    }
    switch (s->check_failure) {
    case HEAL_CHECKFAIL_TIMEOUT:
        /* Alive but not answering: a hang (deadlock, stuck loop). */
        set(d, HEAL_CLASS_SERVICE_FAILURE, HEAL_CAUSE_CODE_BUG, s->process_alive ? 0.7 : 0.5, 4);
        break;
    case HEAL_CHECKFAIL_REFUSED:
        set(d, HEAL_CLASS_SERVICE_FAILURE,
            s->process_alive ? HEAL_CAUSE_CONFIG_ERROR : HEAL_CAUSE_CODE_BUG, 0.55, 4);
        break;
    case HEAL_CHECKFAIL_STATUS:
    case HEAL_CHECKFAIL_UNAVAILABLE:
        set(d, HEAL_CLASS_DEGRADATION, HEAL_CAUSE_DEPENDENCY_FAILURE, 0.5, 3);
        break;
    default:
        set(d, HEAL_CLASS_SERVICE_FAILURE, HEAL_CAUSE_NETWORK, 0.4, 3);
        break;
    }
    drift_override(s, d);
}

static void diagnose_rate_or_latency(const struct heal_signal *s, struct heal_diagnosis *d)
{
    if (host_hot(s)) {
        set(d, HEAL_CLASS_DEGRADATION, HEAL_CAUSE_OVERLOAD, 0.7, 3);
        heal_diag_evidence_add(d, "host", "cpu", s->host_cpu, 0.9, "the host is saturated");
    } else if (shared_trouble(s)) {
        set(d, HEAL_CLASS_DEGRADATION, HEAL_CAUSE_DEPENDENCY_FAILURE, 0.6, 3);
        heal_diag_evidence_add(d, "host", "services_failing", s->services_failing,
                               s->services_total, "most services on this host degrade together");
    } else if (s->kind == HEAL_SIG_ERROR_RATE) {
        set(d, HEAL_CLASS_DEGRADATION, HEAL_CAUSE_CODE_BUG, 0.5, s->ev.value >= 0.5 ? 4 : 3);
    } else {
        set(d, HEAL_CLASS_DEGRADATION, HEAL_CAUSE_DEPENDENCY_FAILURE, 0.45, 2);
    }
}

void heal_diagnose(const struct heal_signal *s, const char *service, struct heal_diagnosis *out)
{
    memset(out, 0, sizeof(*out));
    out->signal = s->kind;
    heal_diag_evidence_add(out, s->ev.source, s->ev.metric, s->ev.value, s->ev.threshold,
                           s->ev.detail);
    switch (s->kind) {
    case HEAL_SIG_EXIT:
        diagnose_exit(s, out);
        break;
    case HEAL_SIG_START_FAILED:
        set(out, HEAL_CLASS_SERVICE_FAILURE, HEAL_CAUSE_CONFIG_ERROR, 0.8, 4);
        break;
    case HEAL_SIG_CHECK:
        diagnose_check(s, out);
        break;
    case HEAL_SIG_ERROR_RATE:
    case HEAL_SIG_LATENCY:
        diagnose_rate_or_latency(s, out);
        break;
    case HEAL_SIG_CPU:
        set(out, HEAL_CLASS_DEGRADATION, host_hot(s) ? HEAL_CAUSE_OVERLOAD : HEAL_CAUSE_CODE_BUG,
            0.6, 3);
        break;
    case HEAL_SIG_MEMORY:
        set(out, HEAL_CLASS_DEGRADATION, HEAL_CAUSE_RESOURCE_EXHAUSTION, 0.8, 3);
        break;
    case HEAL_SIG_PREDICT_MEMORY:
        /* A steady climb to the limit is a leak: act before the OOM killer does. */
        set(out, HEAL_CLASS_DEGRADATION, HEAL_CAUSE_RESOURCE_EXHAUSTION, 0.8, 3);
        break;
    case HEAL_SIG_PREDICT_DISK:
        set(out, HEAL_CLASS_DEGRADATION, HEAL_CAUSE_RESOURCE_EXHAUSTION, 0.75, 3);
        break;
    case HEAL_SIG_CONFIG_DRIFT:
        set(out, HEAL_CLASS_CONFIG_DRIFT, HEAL_CAUSE_CONFIG_ERROR, 0.9, 3);
        break;
    default:
        set(out, HEAL_CLASS_TRANSIENT, HEAL_CAUSE_NONE, 0.1, 1);
        break;
    }
    if (s->crash_loop && out->cls != HEAL_CLASS_CRITICAL && out->severity < 5)
        out->severity++;
    out->sig.cls = out->cls;
    out->sig.cause = out->cause;
    snprintf(out->sig.service, sizeof(out->sig.service), "%s", service);
    snprintf(out->summary, sizeof(out->summary), "%s: %s, likely %s (confidence %.2f)",
             heal_signal_name(s->kind), heal_class_name(out->cls), heal_cause_name(out->cause),
             out->confidence);
    PL_ASSERT(out->confidence >= 0 && out->confidence <= 1);
    PL_ASSERT(out->severity >= 1 && out->severity <= 5);
}

static int push(enum heal_action *out, int n, enum heal_action a, const struct heal_policy *p,
                bool capable)
{
    if (!capable || !heal_policy_allows(p, a))
        return n;
    for (int i = 0; i < n; i++)
        if (out[i] == a)
            return n;
    if (n < HEAL_PLAN_MAX - 1)
        out[n++] = a;
    return n;
}

enum heal_feature heal_signal_feature(const struct heal_signal *s)
{
    switch (s->kind) {
    case HEAL_SIG_EXIT:
        return s->term_signal != 0 || s->exit_status < 0 ? HEAL_FEAT_EXIT_SIGNAL
               : s->exit_status == 0                     ? HEAL_FEAT_EXIT_CLEAN
                                                         : HEAL_FEAT_EXIT_ERROR;
    case HEAL_SIG_CHECK:
        switch (s->check_failure) {
        case HEAL_CHECKFAIL_TIMEOUT:
            return HEAL_FEAT_CHECK_TIMEOUT;
        case HEAL_CHECKFAIL_REFUSED:
            return HEAL_FEAT_CHECK_REFUSED;
        case HEAL_CHECKFAIL_STATUS:
            return HEAL_FEAT_CHECK_STATUS;
        case HEAL_CHECKFAIL_UNAVAILABLE:
            return HEAL_FEAT_CHECK_UNAVAILABLE;
        default:
            return HEAL_FEAT_CHECK_OTHER;
        }
    case HEAL_SIG_PREDICT_MEMORY:
    case HEAL_SIG_PREDICT_DISK:
        return HEAL_FEAT_TREND;
    case HEAL_SIG_NONE:
    case HEAL_SIG_START_FAILED:
    case HEAL_SIG_CONFIG_DRIFT:
        return HEAL_FEAT_NONE;
    default:
        return HEAL_FEAT_THRESHOLD;
    }
}

const char *heal_feature_name(enum heal_feature f)
{
    static const char *const names[HEAL_FEAT_COUNT] = {
        "none",          "exit_clean",    "exit_error", "exit_signal", "check_timeout",
        "check_refused", "check_status", "check_other", "trend",       "threshold",
        "check_unavailable"};
    return (unsigned)f < HEAL_FEAT_COUNT ? names[f] : "unknown";
}

int heal_plan(const struct heal_diagnosis *d, const struct heal_policy *p,
              const struct heal_caps *caps, enum heal_action out[HEAL_PLAN_MAX])
{
    int n = 0;
    switch (d->cls) {
    case HEAL_CLASS_CONFIG_DRIFT:
        n = push(out, n, HEAL_ACT_CONFIG_SYNC, p, caps->has_config_file);
        n = push(out, n, HEAL_ACT_RESTART, p, caps->can_restart);
        break;
    case HEAL_CLASS_DATA_CORRUPTION:
        n = push(out, n, HEAL_ACT_STATE_REPAIR, p, caps->has_state_repair);
        n = push(out, n, HEAL_ACT_RESTART, p, caps->can_restart);
        break;
    case HEAL_CLASS_DEGRADATION:
        if (d->signal == HEAL_SIG_PREDICT_DISK) {
            /* A restart frees no disk: only the operator's clean-up command can. */
            n = push(out, n, HEAL_ACT_CLEANUP, p, caps->has_cleanup);
            n = push(out, n, HEAL_ACT_STATE_REPAIR, p, caps->has_state_repair);
            break;
        }
        if (d->cause == HEAL_CAUSE_OVERLOAD)
            n = push(out, n, HEAL_ACT_SCALE, p, caps->has_scale);
        if (d->cause == HEAL_CAUSE_DEPENDENCY_FAILURE || d->cause == HEAL_CAUSE_OVERLOAD ||
            d->cause == HEAL_CAUSE_CODE_BUG)
            n = push(out, n, HEAL_ACT_ISOLATE, p, caps->has_isolate);
        n = push(out, n, HEAL_ACT_RESTART, p, caps->can_restart);
        break;
    case HEAL_CLASS_TRANSIENT:
    case HEAL_CLASS_SERVICE_FAILURE:
        if (d->cause == HEAL_CAUSE_CONFIG_ERROR)
            n = push(out, n, HEAL_ACT_CONFIG_SYNC, p, caps->has_config_file);
        n = push(out, n, HEAL_ACT_RESTART, p, caps->can_restart);
        break;
    default:
        break;
    }
    out[n++] = HEAL_ACT_ESCALATE;
    PL_ASSERT(n >= 1 && n <= HEAL_PLAN_MAX);
    return n;
}
