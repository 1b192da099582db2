/*
 * The learning world (learn_world.h): one external service with a restart command, a
 * config file, state_repair and cleanup commands and one check, healed by the real machine
 * in virtual time; every incident step is applied to the real swarm state at once (a
 * council that commits immediately), and the learned table goes back into the machine.
 */
#include "learn_world.h"

#include "heal_machine.h"
#include "pl_err.h"
#include "pl_rand.h"
#include "swarm_learn_heal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICE "svc"
#define CHECK_EVERY_MS 1000
#define ENTRIES_MAX (1u << 20)

static const char *const fault_names[LF_COUNT] = {"leak", "config_drift", "dependency",
                                                  "scratch_full", "poisoned_cache"};
static const char *const policy_names[LP_COUNT] = {"restart-only", "rules-only", "learned"};

const char *learn_fault_name(enum learn_fault f)
{
    return (unsigned)f < LF_COUNT ? fault_names[f] : "unknown";
}

const char *learn_policy_name(enum learn_policy p)
{
    return (unsigned)p < LP_COUNT ? policy_names[p] : "unknown";
}

enum heal_action learn_fault_fix(enum learn_fault f)
{
    static const enum heal_action fix[LF_COUNT] = {HEAL_ACT_RESTART, HEAL_ACT_CONFIG_SYNC,
                                                   HEAL_ACT_WAIT, HEAL_ACT_CLEANUP,
                                                   HEAL_ACT_STATE_REPAIR};
    return (unsigned)f < LF_COUNT ? fix[f] : HEAL_ACT_NONE;
}

struct entry {
    uint64_t term, time_ms;
    uint8_t *body;
    size_t len;
};

struct learn_world {
    struct learn_world_cfg cfg;
    struct pl_rand rng;
    /* The fault schedule (which fault, its outage, the check's phase at its start, the
     * quiet after it) from a stream of its own, and what the world does within an incident
     * (how long each command takes, whether a restart rebuilds the cache) from a stream
     * seeded from it per incident: every policy on one seed meets the same faults, and two
     * policies that take the same actions heal them in the same time (paired comparison). */
    struct pl_rand sched, inc;
    uint64_t now, seq;
    struct heal_case hc;
    struct swarm_state *sw;
    struct heal_learned learned;
    /* the action in flight: done at act_at */
    bool act_on;
    uint64_t act_at;
    enum heal_action act;
    /* the fault */
    bool active;
    enum learn_fault fault;
    uint64_t fault_at, ttl_end, dep_end, cleared_at;
    uint64_t next_check;
    /* the incident steps applied so far (for the open incident) */
    char inc_id[HEAL_INCIDENT_ID_MAX];
    int64_t inc_last_seq;
    struct entry *ents;
    uint32_t nents, capents;
};

static uint64_t between(struct pl_rand *r, uint64_t lo, uint64_t hi)
{
    return lo + pl_rand_below(r, hi - lo + 1);
}


/* ---- the ledger: every incident step becomes an entry, applied at once ---- */

static int commit(struct learn_world *w, const struct heal_incident *inc, uint32_t i)
{
    struct swarm_incident_event b;
    swarm_incident_step_of(inc, i, &b);
    struct pl_buf buf;
    pl_buf_init(&buf, SWARM_BODY_BYTES_MAX);
    int rc = swarm_incident_event_encode(&b, &buf);
    if (rc == 0 && w->nents == w->capents) {
        uint32_t cap = w->capents ? w->capents * 2 : 1024;
        struct entry *n = cap <= ENTRIES_MAX ? realloc(w->ents, cap * sizeof(*n)) : NULL;
        if (n == NULL)
            rc = -ENOMEM;
        else {
            w->ents = n;
            w->capents = cap;
        }
    }
    if (rc == 0) {
        struct entry *e = &w->ents[w->nents];
        e->term = 1;
        e->time_ms = w->now;
        e->len = buf.len;
        e->body = malloc(buf.len ? buf.len : 1);
        if (e->body == NULL)
            rc = -ENOMEM;
        else
            memcpy(e->body, buf.data, buf.len);
    }
    if (rc == 0) {
        struct swarm_entry se;
        learn_world_entry(w, w->nents++, &se);
        struct swarm_applied out;
        rc = swarm_apply(w->sw, &se, &out);
    }
    pl_buf_close(&buf);
    return rc;
}

static int commit_new(struct learn_world *w)
{
    const struct heal_incident *inc = heal_case_last_incident(&w->hc);
    if (inc == NULL)
        return 0;
    if (strcmp(inc->id, w->inc_id) != 0) {
        snprintf(w->inc_id, sizeof(w->inc_id), "%s", inc->id);
        w->inc_last_seq = -1;
    }
    for (uint32_t i = 0; i < inc->nevents; i++) {
        int64_t seq = inc->events[i].kind == HEAL_EV_CLOSED ? (int64_t)(i + inc->dropped) : i;
        if (seq <= w->inc_last_seq)
            continue;
        int rc = commit(w, inc, i);
        if (rc != 0)
            return rc;
        w->inc_last_seq = seq;
    }
    if (w->cfg.policy == LP_LEARNED)
        swarm_learn_table(&w->sw->learn, SERVICE, &w->learned);
    return 0;
}

/* ---- the machine ---- */

static int feed(struct learn_world *w, struct heal_input *in)
{
    in->now_ms = w->now;
    in->seq = ++w->seq;
    in->rand = pl_rand_next(&w->rng);
    in->learned = w->cfg.policy == LP_LEARNED ? &w->learned : NULL;
    struct heal_outputs out;
    int rc = heal_step(&w->hc, in, &out);
    if (rc != 0 && rc != PL_ESTATE)
        return rc;
    for (int i = 0; i < out.n; i++) {
        const struct heal_output *o = &out.v[i];
        if (o->kind == HEAL_OUT_RUN || o->kind == HEAL_OUT_CONFIG_SYNC) {
            w->act_on = true;
            w->act = o->action;
            w->act_at = w->now + (w->cfg.held_out ? between(&w->inc, 500, 3000)
                                                  : between(&w->inc, 200, 1500));
        }
    }
    return out.persist ? commit_new(w) : 0;
}

static void clear_fault(struct learn_world *w)
{
    w->active = false;
    w->cleared_at = w->now;
}

/* An action finished: what it does to the fault. */
static void act_effect(struct learn_world *w, enum heal_action a)
{
    if (!w->active)
        return;
    if (a == learn_fault_fix(w->fault) && w->fault != LF_DEPENDENCY) {
        clear_fault(w);
    } else if (a == HEAL_ACT_RESTART && w->fault == LF_POISONED_CACHE) {
        if (pl_rand_below(&w->inc, 100) < 30)
            clear_fault(w);
    } else if (w->fault == LF_DEPENDENCY) {
        /* Every action but waiting touches the service (a restart, a reload, a cache
         * refill, workers cycled by the cleanup) and its clients reconnect: load on a
         * dependency already down, which then needs longer than a verify window. */
        uint64_t back = w->now + (w->cfg.held_out ? 30000 : 25000);
        if (back > w->dep_end)
            w->dep_end = back;
    }
}

static bool check_fails(const struct learn_world *w)
{
    return w->active && (w->fault == LF_CONFIG_DRIFT || w->fault == LF_SCRATCH_FULL);
}

static int tick(struct learn_world *w)
{
    struct heal_input in;
    memset(&in, 0, sizeof(in));
    in.kind = HEAL_IN_CHECK;
    in.check = 0;
    in.ok = !check_fails(w);
    in.check_started_ms = w->now;
    in.failure = !in.ok ? (w->fault == LF_CONFIG_DRIFT ? HEAL_CHECKFAIL_STATUS : HEAL_CHECKFAIL_OTHER)
                        : HEAL_CHECKFAIL_NONE;
    snprintf(in.detail, sizeof(in.detail), "%s",
             in.ok ? "200" : w->fault == LF_CONFIG_DRIFT ? "500" : "write: no space left");
    snprintf(in.signal.ev.source, sizeof(in.signal.ev.source), "check:http");
    int rc = feed(w, &in);
    if (rc != 0 || !w->active || check_fails(w))
        return rc;
    memset(&in, 0, sizeof(in));
    in.kind = HEAL_IN_SIGNAL;
    struct heal_signal *s = &in.signal;
    s->host_cpu = s->host_memory = s->proc_cpu = s->proc_memory_fraction = -1;
    snprintf(s->ev.source, sizeof(s->ev.source), "metric");
    switch (w->fault) {
    case LF_LEAK:
        s->kind = HEAL_SIG_MEMORY;
        snprintf(s->ev.metric, sizeof(s->ev.metric), "memory_fraction");
        s->ev.value = 0.97;
        s->ev.threshold = 0.95;
        s->proc_memory_fraction = 0.97;
        break;
    case LF_DEPENDENCY:
        s->kind = HEAL_SIG_ERROR_RATE;
        snprintf(s->ev.metric, sizeof(s->ev.metric), "error_rate");
        s->ev.value = 0.4;
        s->ev.threshold = 0.05;
        break;
    default:
        s->kind = HEAL_SIG_LATENCY;
        snprintf(s->ev.metric, sizeof(s->ev.metric), "p95_ms");
        s->ev.value = 900;
        s->ev.threshold = 200;
        break;
    }
    snprintf(s->ev.detail, sizeof(s->ev.detail), "%s %.2f over %.2f", s->ev.metric, s->ev.value,
             s->ev.threshold);
    return feed(w, &in);
}

/* Runs the world until `until` (virtual ms) or, with stop_idle, until the fault is gone and
 * the case has no open incident. */
static int run(struct learn_world *w, uint64_t until, bool stop_idle)
{
    for (uint32_t guard = 0; guard < 10u * 1000u * 1000u; guard++) {
        if (stop_idle && !w->active && w->hc.phase == HEAL_PHASE_IDLE)
            return 0;
        uint64_t next = w->next_check;
        uint64_t d = heal_case_deadline(&w->hc);
        if (d != 0 && d < next)
            next = d;
        if (w->act_on && w->act_at < next)
            next = w->act_at;
        if (w->active && w->ttl_end < next)
            next = w->ttl_end;
        if (w->active && w->fault == LF_DEPENDENCY && w->dep_end < next)
            next = w->dep_end;
        if (next > until)
            next = until;
        if (next > w->now)
            w->now = next;
        if (w->now >= until)
            return 0;
        int rc = 0;
        if (w->active && w->now >= w->ttl_end) {
            /* An operator fixes it by hand: stop, fix, start. The incident closes
             * "stopped", which teaches the swarm nothing. */
            clear_fault(w);
            struct heal_input in;
            memset(&in, 0, sizeof(in));
            in.kind = HEAL_IN_STOP;
            rc = feed(w, &in);
            memset(&in, 0, sizeof(in));
            in.kind = HEAL_IN_START;
            if (rc == 0)
                rc = feed(w, &in);
            w->act_on = false;
        }
        if (w->active && w->fault == LF_DEPENDENCY && w->now >= w->dep_end)
            clear_fault(w);
        if (rc == 0 && w->act_on && w->now >= w->act_at) {
            w->act_on = false;
            act_effect(w, w->act);
            struct heal_input in;
            memset(&in, 0, sizeof(in));
            in.kind = HEAL_IN_ACTION_DONE;
            in.action = w->act;
            snprintf(in.detail, sizeof(in.detail), "done");
            rc = feed(w, &in);
        }
        d = heal_case_deadline(&w->hc);
        if (rc == 0 && d != 0 && w->now >= d) {
            struct heal_input in;
            memset(&in, 0, sizeof(in));
            in.kind = HEAL_IN_TIMER;
            rc = feed(w, &in);
        }
        if (rc == 0 && w->now >= w->next_check) {
            w->next_check = w->now + CHECK_EVERY_MS;
            rc = tick(w);
        }
        if (rc != 0)
            return rc;
    }
    return PL_ETIMEOUT;
}

struct learn_world *learn_world_new(const struct learn_world_cfg *cfg)
{
    struct learn_world *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->sw = malloc(sizeof(*w->sw));
    if (w->sw == NULL) {
        free(w);
        return NULL;
    }
    swarm_state_init(w->sw);
    w->cfg = *cfg;
    pl_rand_seed(&w->rng, cfg->seed);
    pl_rand_seed(&w->sched, cfg->seed ^ 0x5ced5ced5ced5cedull);
    w->now = 1700000000000ull;
    struct heal_case_cfg hc;
    memset(&hc, 0, sizeof(hc));
    snprintf(hc.node, sizeof(hc.node), "n1");
    snprintf(hc.service, sizeof(hc.service), SERVICE);
    hc.supervised = false;
    hc.caps = (struct heal_caps){.can_restart = true,
                                 .has_state_repair = true,
                                 .has_config_file = true,
                                 .has_cleanup = true};
    hc.stop_signal = 15;
    hc.grace_ms = 5000;
    hc.start_ms = 1000;
    hc.verify_ms = 20000;
    hc.command_timeout_ms = 30000;
    hc.nchecks = 1;
    hc.checks[0].failures = 2;
    hc.checks[0].successes = 1;
    hc.checks[0].kill_grace_ms = 1000;
    heal_policy_init(&hc.policy);
    hc.policy.allowed_actions = HEAL_ACT_BIT(HEAL_ACT_RESTART) | HEAL_ACT_BIT(HEAL_ACT_RETRY);
    if (cfg->policy != LP_RESTART_ONLY)
        hc.policy.allowed_actions |=
            HEAL_ACT_BIT(HEAL_ACT_CONFIG_SYNC) | HEAL_ACT_BIT(HEAL_ACT_STATE_REPAIR) |
            HEAL_ACT_BIT(HEAL_ACT_CLEANUP) | HEAL_ACT_BIT(HEAL_ACT_WAIT);
    heal_case_init(&w->hc, &hc);
    w->inc_last_seq = -1;
    w->next_check = w->now + CHECK_EVERY_MS;
    struct heal_input in;
    memset(&in, 0, sizeof(in));
    in.kind = HEAL_IN_LAUNCH;
    if (feed(w, &in) != 0 || run(w, w->now + 5000, false) != 0) {
        learn_world_free(w);
        return NULL;
    }
    return w;
}

void learn_world_free(struct learn_world *w)
{
    if (w == NULL)
        return;
    for (uint32_t i = 0; i < w->nents; i++)
        free(w->ents[i].body);
    free(w->ents);
    free(w->sw);
    free(w);
}

static enum learn_fault pick(struct learn_world *w)
{
    uint32_t total = 0;
    for (int i = 0; i < LF_COUNT; i++)
        total += w->cfg.weights[i];
    if (total == 0)
        return LF_LEAK;
    uint32_t r = (uint32_t)pl_rand_below(&w->sched, total);
    for (int i = 0; i < LF_COUNT; i++) {
        if (r < w->cfg.weights[i])
            return (enum learn_fault)i;
        r -= w->cfg.weights[i];
    }
    return LF_LEAK;
}

int learn_world_incident(struct learn_world *w, int fault, struct learn_result *out)
{
    memset(out, 0, sizeof(*out));
    w->fault = fault >= 0 && fault < LF_COUNT ? (enum learn_fault)fault : pick(w);
    w->active = true;
    w->fault_at = w->now;
    w->ttl_end = w->now + LEARN_TTL_MS;
    w->dep_end = w->now + (w->cfg.held_out ? between(&w->sched, 10000, 60000)
                                           : between(&w->sched, 5000, 30000));
    w->next_check = w->now + between(&w->sched, 1, CHECK_EVERY_MS);
    pl_rand_seed(&w->inc, pl_rand_next(&w->sched));
    uint32_t opened = w->hc.incidents_opened;
    int rc = run(w, w->now + LEARN_TTL_MS + 30 * 60 * 1000ull, true);
    if (rc != 0)
        return rc;
    out->fault = w->fault;
    const struct heal_incident *inc = heal_case_last_incident(&w->hc);
    if (w->hc.incidents_opened != opened && inc != NULL) {
        out->healed = strcmp(inc->outcome, "healed") == 0 && inc->closed_ms < w->ttl_end;
        out->ttr_ms = inc->closed_ms - w->fault_at;
        for (uint32_t i = 0; i < inc->nevents; i++) {
            if (inc->events[i].kind == HEAL_EV_ACTION) {
                out->first = inc->events[i].action;
                break;
            }
        }
    } else {
        out->ttr_ms = w->cleared_at - w->fault_at;
    }
    /* Quiet between incidents: the budget's window and the detectors settle. */
    /* Ten to twenty minutes: past the restart budget's clean-running reset, so one
     * incident's back-off does not slow the next. */
    return run(w, w->now + between(&w->sched, 600000, 1200000), false);
}

void learn_world_mix(struct learn_world *w, const uint32_t weights[LF_COUNT], bool held_out)
{
    memcpy(w->cfg.weights, weights, sizeof(w->cfg.weights));
    w->cfg.held_out = held_out;
}

const struct swarm_state *learn_world_swarm(const struct learn_world *w)
{
    return w->sw;
}

uint32_t learn_world_entries(const struct learn_world *w)
{
    return w->nents;
}

int learn_world_entry(const struct learn_world *w, uint32_t i, struct swarm_entry *e)
{
    if (i >= w->nents)
        return PL_ENOTFOUND;
    memset(e, 0, sizeof(*e));
    e->index = (uint64_t)i + 1;
    e->term = w->ents[i].term;
    e->time_ms = w->ents[i].time_ms;
    e->kind = "incident";
    e->kind_len = strlen("incident");
    e->body = w->ents[i].body;
    e->body_len = w->ents[i].len;
    return 0;
}
