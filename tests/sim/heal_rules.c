/*
 * The one-step rules of the healing machine (heal_rules.h): output shape and order,
 * persist-before-act, one open incident, rising levels, rules 2, 4 and 6 of
 * heal_machine.h, and agent-side faults opening nothing.
 */
#include "heal_rules.h"

#include "pl_err.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int broken(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int broken(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return PL_ESTATE;
}

void heal_rules_before(const struct heal_case *c, struct heal_rules_pre *pre)
{
    memset(pre, 0, sizeof(*pre));
    pre->phase = c->phase;
    pre->proc = c->proc;
    pre->restart_on_exit = c->restart_on_exit;
    pre->operator_stopped = c->operator_stopped;
    for (int i = 0; i < c->cfg.nchecks && i < HEAL_CASE_CHECKS_MAX; i++)
        pre->check_healthy[i] = c->checks[i].healthy;
    pre->incidents_opened = c->incidents_opened;
    pre->noted_signals = c->noted_signals;
    pre->cluster_hold = c->cluster_hold;
    pre->hold_until_ms = c->hold_until_ms;
}

const struct heal_incident *heal_rules_record(const struct heal_case *c)
{
    const struct heal_incident *inc = heal_case_incident(c);
    return inc != NULL ? inc : heal_case_last_incident(c);
}

static bool is_action(enum heal_output_kind k)
{
    return k == HEAL_OUT_START || k == HEAL_OUT_STOP || k == HEAL_OUT_KILL || k == HEAL_OUT_RUN ||
           k == HEAL_OUT_CONFIG_SYNC;
}

static bool input_valid(const struct heal_case *c, const struct heal_input *in)
{
    if (in->kind < HEAL_IN_LAUNCH || in->kind >= HEAL_IN_KIND_COUNT)
        return false;
    if (in->kind == HEAL_IN_SIGNAL)
        return in->signal.kind > HEAL_SIG_NONE && in->signal.kind < HEAL_SIG_COUNT;
    return in->kind != HEAL_IN_CHECK || (in->check >= 0 && in->check < c->cfg.nchecks);
}

static bool run_configured(const struct heal_case *c, enum heal_action a)
{
    const struct heal_caps *k = &c->cfg.caps;
    switch (a) {
    case HEAL_ACT_RESTART:
        return !c->cfg.supervised && k->can_restart;
    case HEAL_ACT_ISOLATE:
        return k->has_isolate;
    case HEAL_ACT_SCALE:
        return k->has_scale;
    case HEAL_ACT_STATE_REPAIR:
        return k->has_state_repair;
    default:
        return false;
    }
}

/* Each output on its own: a kind we know, asked of a service that can do it. */
static int check_shape(const struct heal_case *c, const struct heal_rules_pre *pre,
                       const struct heal_input *in, const struct heal_outputs *out,
                       bool strict_deadline, char *why, size_t n)
{
    const struct heal_case_cfg *cfg = &c->cfg;
    if (out->n < 0 || out->n > HEAL_OUTPUTS_MAX)
        return broken(why, n, "shape: %d outputs", out->n);
    bool stop_or_kill = false;
    for (int i = 0; i < out->n; i++) {
        const struct heal_output *o = &out->v[i];
        if (o->kind < HEAL_OUT_START || o->kind >= HEAL_OUT_KIND_COUNT)
            return broken(why, n, "shape: output %d has kind %d", i, (int)o->kind);
        const char *name = heal_output_kind_name(o->kind);
        if ((o->kind == HEAL_OUT_START || o->kind == HEAL_OUT_STOP || o->kind == HEAL_OUT_KILL) &&
            !cfg->supervised)
            return broken(why, n, "shape: %s for an external service", name);
        switch (o->kind) {
        case HEAL_OUT_START:
            /* A restart waits for the exit: a start beside a stop, or while the machine
             * believes a process runs, would run two copies. */
            if (stop_or_kill)
                return broken(why, n, "order: start after stop/kill in one step");
            if ((pre->proc == HEAL_PROC_RUNNING || pre->proc == HEAL_PROC_STOPPING) &&
                in->kind != HEAL_IN_EXITED)
                return broken(why, n, "shape: start while the process is %s (input %s)",
                              heal_proc_name(pre->proc), heal_input_kind_name(in->kind));
            break;
        case HEAL_OUT_STOP: {
            stop_or_kill = true;
            if (o->signal != cfg->stop_signal)
                return broken(why, n, "shape: stop with signal %d, configured %d", o->signal,
                              cfg->stop_signal);
            bool known = o->grace_ms == cfg->grace_ms;
            for (int k = 0; k < cfg->nchecks; k++)
                known = known || o->grace_ms == cfg->checks[k].kill_grace_ms;
            if (!known)
                return broken(why, n, "shape: stop grace %" PRIu64 " ms is neither grace_ms nor "
                              "a check's kill grace", o->grace_ms);
            break;
        }
        case HEAL_OUT_KILL:
            stop_or_kill = true;
            break;
        case HEAL_OUT_RUN:
            if (!run_configured(c, o->action))
                return broken(why, n, "shape: run %s, which the service has no command for",
                              heal_action_name(o->action));
            if (!heal_policy_allows(&cfg->policy, o->action))
                return broken(why, n, "shape: run %s, which the policy does not allow",
                              heal_action_name(o->action));
            if (o->timeout_ms == 0)
                return broken(why, n, "shape: run %s without a timeout",
                              heal_action_name(o->action));
            break;
        case HEAL_OUT_CONFIG_SYNC:
            if (!heal_policy_allows(&cfg->policy, HEAL_ACT_CONFIG_SYNC))
                return broken(why, n, "shape: config_sync, which the policy does not allow");
            break;
        case HEAL_OUT_WEBHOOK:
            if (o->level < HEAL_LEVEL_SELF || o->level >= HEAL_LEVEL_COUNT)
                return broken(why, n, "shape: webhook at level %d", (int)o->level);
            break;
        default:
            break;
        }
    }
    if (strict_deadline && out->deadline_ms != 0 && out->deadline_ms < in->now_ms)
        return broken(why, n, "shape: deadline %" PRIu64 " is in the past (now %" PRIu64 ")",
                      out->deadline_ms, in->now_ms);
    return 0;
}

/* Persist before act: a step that changed the record asks for it to be written; a record
 * only moves forward (same id: levels rise, closed stays closed; a new id only once the
 * old one closed). */
static int check_record(const struct heal_case *c, const struct heal_outputs *out,
                        struct heal_rules_track *t, struct heal_rules_step *st, char *why,
                        size_t n)
{
    const struct heal_incident *r = heal_rules_record(c);
    bool same = r != NULL && t->has && strcmp(t->id, r->id) == 0;
    bool changed = r != NULL && (!same || t->nevents != r->nevents || t->dropped != r->dropped ||
                                 t->state != r->state || t->level != r->level ||
                                 strcmp(t->outcome, r->outcome) != 0 ||
                                 t->closed_ms != r->closed_ms);
    if (changed && !out->persist)
        return broken(why, n, "persist: incident %s changed (events %u -> %u, %s, level %d) "
                      "without persist", r->id, t->nevents, r->nevents,
                      heal_incident_state_name(r->state), (int)r->level);
    if (!out->persist)
        return 0;
    if (r == NULL)
        return broken(why, n, "persist: asked with no incident record");
    if (out->first_event > r->nevents)
        return broken(why, n, "persist: first_event %u past nevents %u", out->first_event,
                      r->nevents);
    if (!same && t->has && t->state != HEAL_INC_CLOSED)
        return broken(why, n, "rule 1: incident %s replaced by %s before it closed", t->id,
                      r->id);
    if (same && r->level < t->level)
        return broken(why, n, "rule 5: incident %s level fell from %d to %d", r->id,
                      (int)t->level, (int)r->level);
    if (same && t->state == HEAL_INC_CLOSED && r->state != HEAL_INC_CLOSED)
        return broken(why, n, "rule 5: closed incident %s reopened", r->id);
    if (r->state == HEAL_INC_CLOSED && r->outcome[0] == '\0')
        return broken(why, n, "rule 5: incident %s closed without an outcome", r->id);
    if (r->state == HEAL_INC_CLOSED && r->closed_ms < r->opened_ms)
        return broken(why, n, "incident %s closed before it opened", r->id);
    st->opened = !same;
    st->closed = r->state == HEAL_INC_CLOSED && (!same || t->state != HEAL_INC_CLOSED);
    uint32_t from = same ? out->first_event : 0;
    for (uint32_t i = from; i < r->nevents; i++)
        st->escalated = st->escalated || r->events[i].kind == HEAL_EV_ESCALATED;
    if (same && r->level > t->level)
        st->escalated = true;
    t->has = true;
    snprintf(t->id, sizeof(t->id), "%s", r->id);
    t->nevents = r->nevents;
    t->dropped = r->dropped;
    t->state = r->state;
    t->level = r->level;
    snprintf(t->outcome, sizeof(t->outcome), "%s", r->outcome);
    t->closed_ms = r->closed_ms;
    return 0;
}

int heal_rules_after(const struct heal_case *c, const struct heal_rules_pre *pre,
                     const struct heal_input *in, int rc, const struct heal_outputs *out,
                     struct heal_rules_track *track, bool strict_deadline,
                     struct heal_rules_step *st, char *why, size_t why_size)
{
    memset(st, 0, sizeof(*st));
    st->went_unhealthy = -1;
    /* An approval with nothing waiting is the operator's mistake: refused, and the step
     * still judges health as any other. */
    bool stray_approval = in->kind == HEAL_IN_APPROVE && pre->phase != HEAL_PHASE_APPROVAL;
    if (rc != 0 && !stray_approval) {
        if (input_valid(c, in))
            return broken(why, why_size, "heal_step refused a valid %s input: %d",
                          heal_input_kind_name(in->kind), rc);
        if (out->n != 0 || out->persist)
            return broken(why, why_size, "a refused input still has %d outputs", out->n);
        return 0;
    }
    if (!input_valid(c, in))
        return broken(why, why_size, "heal_step accepted an invalid input (kind %d, check %d)",
                      (int)in->kind, in->check);
    char what[256];
    if (heal_case_check(c, in->now_ms, what, sizeof(what)) != 0)
        return broken(why, why_size, "heal_case_check: %s", what);
    int rv = check_shape(c, pre, in, out, strict_deadline, why, why_size);
    if (rv == 0)
        rv = check_record(c, out, track, st, why, why_size);
    if (rv != 0)
        return rv;

    /* Rule 8: no restart is taken while the cluster's hold lasts. */
    const struct heal_incident *rec = heal_rules_record(c);
    if (pre->cluster_hold && in->now_ms < pre->hold_until_ms && in->kind != HEAL_IN_HOLD &&
        rec != NULL) {
        for (uint32_t i = out->first_event; i < rec->nevents && i < HEAL_TIMELINE_MAX; i++)
            if (rec->events[i].kind == HEAL_EV_ACTION && rec->events[i].action == HEAL_ACT_RESTART)
                return broken(why, why_size, "rule 8: a restart under the cluster's hold "
                              "(%" PRIu64 " ms before it ends)", pre->hold_until_ms - in->now_ms);
    }
    for (int i = 0; i < out->n; i++) {
        st->acted = st->acted || is_action(out->v[i].kind);
        st->escalated = st->escalated || out->v[i].kind == HEAL_OUT_WEBHOOK;
    }
    if (in->kind == HEAL_IN_CHECK && pre->check_healthy[in->check] &&
        !c->checks[in->check].healthy)
        st->went_unhealthy = in->check;

    /* Agent-side faults are no evidence about the service: nothing opens, nothing acts. */
    if (in->kind == HEAL_IN_CHECK && in->agent_fault) {
        if (c->incidents_opened != pre->incidents_opened || st->acted)
            return broken(why, why_size, "agent fault: a check the agent could not run opened "
                          "an incident or acted");
        if (st->went_unhealthy >= 0)
            return broken(why, why_size, "agent fault: check %d became unhealthy", in->check);
        return 0;
    }

    if (!pre->operator_stopped) {
        switch (in->kind) {
        case HEAL_IN_EXITED:
            /* (The shell reports STARTED before any exit of that process: an exit while the
             * machine still waits for STARTED is out of protocol, and may be ignored.) */
            st->failure = pre->proc == HEAL_PROC_RUNNING ||
                          (pre->proc == HEAL_PROC_STOPPING && pre->restart_on_exit);
            break;
        case HEAL_IN_START_FAILED:
            st->failure = pre->proc == HEAL_PROC_STARTING;
            break;
        case HEAL_IN_SIGNAL:
            st->failure = in->signal.kind > HEAL_SIG_NONE && in->signal.kind < HEAL_SIG_COUNT;
            break;
        case HEAL_IN_CHECK:
            st->failure = st->went_unhealthy >= 0;
            break;
        default:
            break;
        }
    }
    /* With an arbitrary clock (a fuzzer feeds TIMER when it likes) an overdue deadline is
     * still the machine's plan: due at once. */
    bool scheduled = out->deadline_ms != 0 && (out->deadline_ms >= in->now_ms || !strict_deadline);
    /* An action already under way answers by itself (the shell bounds a command by its
     * timeout, a start or stop by the process's report and the kill deadline). */
    bool in_flight = c->phase == HEAL_PHASE_ACTING || c->proc == HEAL_PROC_STARTING ||
                     c->proc == HEAL_PROC_STOPPING;
    /* Rule 3's exceptions: the actions left wait for an approval a human was asked for, or
     * none is left to the node and people were told (heal_case_check judges which). */
    const struct heal_incident *open = heal_case_incident(c);
    bool human_gate = open != NULL && ((c->phase == HEAL_PHASE_APPROVAL &&
                                        open->level >= HEAL_LEVEL_HUMAN) ||
                                       (c->phase == HEAL_PHASE_WATCHING &&
                                        open->level >= HEAL_LEVEL_SWARM));
    if (st->failure && !st->acted && !scheduled && !st->escalated && !in_flight && !human_gate)
        return broken(why, why_size, "rule 2: %s (phase %s) followed by no action, no deadline, "
                      "no escalation", heal_input_kind_name(in->kind),
                      heal_phase_name(pre->phase));
    if (in->kind == HEAL_IN_START_FAILED && st->failure && !human_gate) {
        /* The retry may come after a step the plan puts first (config_sync): the
         * simulator checks that it comes within the back-off cap. */
        if (!st->acted && !scheduled && !in_flight)
            return broken(why, why_size, "rule 6: a failed start with no retry scheduled");
    }
    st->verify_failure = pre->phase == HEAL_PHASE_VERIFYING && st->failure &&
                         (in->kind != HEAL_IN_SIGNAL ||
                          (pre->noted_signals & (1u << in->signal.kind)) == 0);
    /* When the node may not restart at all (no way to, not allowed, or not approved),
     * escalating and watching is all that is left to it. */
    const struct heal_policy *p = &c->cfg.policy;
    bool may_restart = c->cfg.caps.can_restart && heal_policy_allows(p, HEAL_ACT_RESTART) &&
                       (!heal_policy_needs_approval(p, HEAL_ACT_RESTART) || c->approved);
    /* ... or the process runs and the plan for the verdict holds no action the node may
     * take (a restart frees no disk): people were told, the node watches. */
    bool process_ok = !c->cfg.supervised || c->proc == HEAL_PROC_RUNNING;
    bool nothing_left = c->phase == HEAL_PHASE_WATCHING && (!may_restart || process_ok) &&
                        open != NULL && open->level >= HEAL_LEVEL_SWARM;
    /* A new diagnosis whose plan holds no action the node may take (a disk filling up with
     * no clean-up command: a restart frees nothing) is answered by escalating. */
    if (st->verify_failure && !st->acted && !st->escalated && c->phase != HEAL_PHASE_ACTING &&
        c->phase != HEAL_PHASE_BACKOFF && c->phase != HEAL_PHASE_APPROVAL &&
        c->phase != HEAL_PHASE_HELD && !nothing_left)
        return broken(why, why_size, "rule 4: %s while verifying left the case %s with no "
                      "action", heal_input_kind_name(in->kind), heal_phase_name(c->phase));
    return 0;
}
