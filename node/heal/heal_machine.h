/*
 * The healing machine: one pure step function per supervised or checked service, shaped
 * like raft_step. Every fact the node learns about a service comes in as an input (the
 * process exited, a check answered, a detector fired, an action finished, a deadline
 * passed, an operator approved); what the node must do comes out as an ordered list of
 * outputs (persist the incident record, start, stop, kill, run a command, put the config
 * file back, call the webhooks) and the next deadline.
 *
 * The machine reads no clock, draws no randomness and makes no ids of its own: the input
 * carries the time (`now_ms`), a sequence number that names a new incident, and a random
 * word for jitter. The agent passes its monotonic clock anchored to the wall clock at
 * start, a counter and its PRNG; the simulator passes virtual time and a seed; under Raft
 * the same machine can take an entry's time, index and term. Detectors (windows, EWMA,
 * trends: floating point with libm) stay in the shell and hand the machine verdicts.
 *
 * The order of the outputs is the order of execution, and it is a promise:
 *   1. persist: when `out->persist` is set, the incident record (`heal_case_incident`) must
 *      be written before anything of 2. is done (events out->first_event .. nevents-1 are
 *      new in this step);
 *   2. the actions, in list order;
 *   3. arm one timer for `out->deadline_ms` (0: none) and call heal_step with
 *      HEAL_IN_TIMER when it passes (early or repeated calls are harmless).
 * The shell must not call heal_step again while it walks one step's outputs; inputs that
 * acting produces (a start that fails at once) are fed after the walk, in order.
 *
 * Rules the machine keeps whatever arrives when (tests/sim/heal_sim.c checks each one
 * after every step, heal_case_check() states them in code):
 *   1. At most one open incident per service.
 *   2. A failure signal is followed in the same step by an action, a scheduled retry or
 *      back-off, or an escalation event; never by nothing.
 *   3. A failing service always has something scheduled (an action in flight or a
 *      deadline), unless an operator stopped it or the only actions left need an approval
 *      that was escalated to a human. Escalation informs people; it does not end local
 *      healing: past the plan's end, restarts go on under the capped back-off while the
 *      incident stays open and escalated.
 *   4. A new failure while an action is being verified is acted on at once.
 *   5. Restarts at once never exceed the budget per window (past it each waits its back-off
 *      delay); escalation levels only rise within an incident; every incident ends closed
 *      with an outcome (healed, recovered, stopped, abandoned).
 *   6. A start that fails is retried with back-off as a crash is.
 *   7. A process that stopped answering its checks is stopped with the check's short
 *      kill grace, not the full stop grace.
 *   8. While the shell says the cluster sees the same failure on many nodes (HEAL_IN_HOLD:
 *      a shared dependency or the network is down, and restarting every instance would be
 *      a restart storm), a restart is held back (phase HELD, no escalation of its own: the
 *      cluster incident escalates once). The hold ends when the shell lifts it (then the
 *      restart goes ahead under the budget after the quiet time, unless the service
 *      recovered with the others meanwhile), when the service recovers (closed as
 *      recovered), or after the policy's cluster_wait_ms at most: then local healing
 *      resumes, and the same cluster incident does not hold again.
 *
 * Verification: an incident set off by the process (exit, failed checks, a failed start)
 * is healed when the process runs and its checks pass again. One set off by a detector's
 * verdict (error rate, latency, memory, disk, drift) also needs a quiet time with no new
 * verdict (HEAL_QUIET_MS, at most verify_ms): passing checks say nothing about latency.
 * A failure during verification that is new (an exit, a check crossing its threshold, a
 * verdict of a kind not yet seen, or the incident's own verdict again) means the action
 * did not hold: the machine re-diagnoses, takes the new plan if it differs, else restarts
 * (or takes the next step). A failing process that the plan cannot restart gets a restart
 * appended when the policy allows one. A symptom that outlives the whole plan (a verdict
 * still coming) runs the plan again after a back-off that doubles to backoff_max_ms.
 *
 * Pure; part of `heal_core` (pl_base only).
 */
#ifndef PL_HEAL_MACHINE_H
#define PL_HEAL_MACHINE_H

#include "heal_budget.h"
#include "heal_diag.h"
#include "heal_incident.h"
#include "heal_policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAL_CASE_CHECKS_MAX 8
/* The quiet time after an action that a verdict-set incident needs before it is healed. */
#define HEAL_QUIET_MS 5000
#define HEAL_OUTPUTS_MAX 16
/* The wait action (HEAL_ACT_WAIT) watches this many verify windows before the next step. */
#define HEAL_WAIT_WINDOWS 3

/* Consecutive check results (Kubernetes' failureThreshold / successThreshold). */
struct heal_check_state {
    uint32_t failures_needed;  /* consecutive failures to become unhealthy (>= 1) */
    uint32_t successes_needed; /* consecutive successes to become healthy again (>= 1) */
    uint32_t consecutive_failures;
    uint32_t consecutive_successes;
    bool healthy; /* starts healthy */
};

void heal_check_state_init(struct heal_check_state *s, uint32_t failures_needed,
                           uint32_t successes_needed);
/* Feeds one result; returns +1 when it just became healthy, -1 when it just became
 * unhealthy, 0 when nothing changed. */
int heal_check_state_feed(struct heal_check_state *s, bool ok);

/* What the machine needs to know of a service (the shell copies it from the config). */
struct heal_case_cfg {
    char node[HEAL_NODE_NAME_MAX];
    char service[HEAL_SERVICE_NAME_MAX];
    bool supervised;        /* we start and stop its process; else external */
    struct heal_caps caps;  /* has_config_file is kept up to date by HEAL_IN_CONFIG */
    int stop_signal;
    uint64_t grace_ms;      /* stop signal, then SIGKILL after this */
    uint64_t start_ms;      /* checks judge a new process only after this; without checks,
                               running this long is healthy */
    uint64_t verify_ms;     /* after an action: healthy within this, or the next step */
    uint64_t command_timeout_ms; /* a configured command (restart, isolate, ...) */
    int nchecks;
    struct {
        uint32_t failures, successes;
        uint64_t kill_grace_ms; /* stop grace when this check found the process hung */
    } checks[HEAL_CASE_CHECKS_MAX];
    struct heal_policy policy;
};

/*
 * What the swarm learned for this service (swarm_learn.h), handed in by the shell: per
 * signature, the action its next incident starts with. A voter hands in the table of the
 * state it applied, a member that is not a voter the newest one the voters gossip
 * (swarm_learn_record.h); without a council either keeps the last one it took. The machine
 * puts the learned action first in the rules' plan when the policy takes lessons
 * (`learning`), allows the action without approval and the service can take it; otherwise
 * the rules' plan stands.
 */
#define HEAL_LEARNED_MAX 64

struct heal_learned_entry {
    uint8_t cls, cause, signal, feature; /* heal_class, heal_cause, heal_signal_kind, feature */
    enum heal_action action;
};

struct heal_learned {
    uint32_t n;
    struct heal_learned_entry v[HEAL_LEARNED_MAX];
};

enum heal_input_kind {
    HEAL_IN_LAUNCH = 1,       /* the agent is up: start the service (supervised) */
    HEAL_IN_STARTED,          /* the process we asked for runs */
    HEAL_IN_START_FAILED,     /* it could not be started (err) */
    HEAL_IN_EXITED,           /* the process exited (status or signal) */
    HEAL_IN_CHECK,            /* a check answered (check, ok, failure) */
    HEAL_IN_SIGNAL,           /* a detector's verdict (error rate, latency, cpu, ...) */
    HEAL_IN_ACTION_DONE,      /* a command or config_sync finished (action, err) */
    HEAL_IN_TIMER,            /* the deadline passed */
    HEAL_IN_APPROVE,          /* an operator approved the waiting action */
    HEAL_IN_WEBHOOK,          /* a webhook delivery ended (err) */
    HEAL_IN_CONFIG,           /* the config file's state (drifted, known-good copy) */
    HEAL_IN_STOP,             /* an operator stopped the service */
    HEAL_IN_START,            /* an operator started it again */
    HEAL_IN_HOLD,             /* the cluster sees this failure on many nodes (hold, detail:
                                 the cluster incident), or no longer (!hold) */
    HEAL_IN_KIND_COUNT
};

struct heal_input {
    enum heal_input_kind kind;
    uint64_t now_ms;          /* the machine's clock: monotonic, wall-anchored */
    uint64_t seq;             /* names an incident opened by this step (unique per node) */
    uint64_t rand;            /* a random word for jitter */
    const struct heal_learned *learned; /* NULL: the rules alone (borrowed for the step) */
    /* EXITED */
    int64_t exit_status;      /* -1 when killed by a signal */
    int term_signal;
    /* CHECK */
    int check;
    bool ok;
    enum heal_check_failure failure;
    bool agent_fault;         /* the agent could not run the check (EMFILE, ENOMEM): no
                                 evidence about the service either way */
    uint64_t check_started_ms; /* when the check began: older than the process, dropped */
    /* SIGNAL: kind, evidence and the host context filled by the shell's detector */
    struct heal_signal signal;
    /* ACTION_DONE: action, err (0 done); START_FAILED, WEBHOOK: err */
    enum heal_action action;
    int32_t err;
    /* CONFIG */
    bool drifted;
    bool has_good_copy;
    /* HOLD: on or off; the cluster's root cause (network or dependency_failure) and, in
     * signal.ev, what it saw (value: nodes showing the failure, threshold: nodes running
     * the service, detail: which) */
    bool hold;
    enum heal_cause cluster_cause;
    /* any: what the shell has to say (exit or check detail, command result, webhook url) */
    char detail[HEAL_TEXT_MAX];
};

enum heal_output_kind {
    HEAL_OUT_START = 1,       /* start the supervised process */
    HEAL_OUT_STOP,            /* send `signal`; the machine asks for KILL when grace ends */
    HEAL_OUT_KILL,            /* SIGKILL the process */
    HEAL_OUT_RUN,             /* run the command configured for `action`, within timeout_ms;
                                 answer with HEAL_IN_ACTION_DONE */
    HEAL_OUT_CONFIG_SYNC,     /* put the config file back; answer with HEAL_IN_ACTION_DONE */
    HEAL_OUT_WEBHOOK,         /* send the incident to the webhooks of `level` and above;
                                 answer with HEAL_IN_WEBHOOK */
    HEAL_OUT_RESET_DETECTORS, /* the incident closed: its evidence is spent */
    HEAL_OUT_KIND_COUNT
};

struct heal_output {
    enum heal_output_kind kind;
    enum heal_action action;  /* RUN */
    int signal;               /* STOP */
    uint64_t grace_ms;        /* STOP: for the log; the machine keeps the deadline */
    uint64_t timeout_ms;      /* RUN */
    enum heal_level level;    /* WEBHOOK */
};

struct heal_outputs {
    bool persist;             /* write the incident record first */
    uint32_t first_event;     /* its events new in this step start here */
    int n;
    struct heal_output v[HEAL_OUTPUTS_MAX];
    uint64_t deadline_ms;     /* call again with HEAL_IN_TIMER then; 0 = nothing pending */
};

/* The process as the machine sees it. */
enum heal_proc {
    HEAL_PROC_DOWN = 0,       /* not running (or external: never ours to run) */
    HEAL_PROC_STARTING,       /* START was asked for */
    HEAL_PROC_RUNNING,
    HEAL_PROC_STOPPING,       /* STOP was sent; KILL at kill_deadline_ms */
    HEAL_PROC_COUNT
};

/* Where the open incident stands. */
enum heal_phase {
    HEAL_PHASE_IDLE = 0,      /* no open incident */
    HEAL_PHASE_ACTING,        /* an action is in flight (restart's stop/start, a command) */
    HEAL_PHASE_VERIFYING,     /* the action is done: healthy within verify_ms? */
    HEAL_PHASE_BACKOFF,       /* waiting to restart (budget spent) or to retry a command */
    HEAL_PHASE_APPROVAL,      /* waiting for `platelet approve` */
    HEAL_PHASE_WATCHING,      /* nothing left to do on our own: escalated, waiting to heal */
    HEAL_PHASE_HELD,          /* a restart held back: the cluster sees the same failure */
    HEAL_PHASE_COUNT
};

const char *heal_proc_name(enum heal_proc p);
const char *heal_phase_name(enum heal_phase p);
const char *heal_input_kind_name(enum heal_input_kind k);
const char *heal_output_kind_name(enum heal_output_kind k);

/* One service's healing state. Caller-owned; all fields are the machine's (read them for
 * views, never write them). */
struct heal_case {
    struct heal_case_cfg cfg;
    /* process */
    enum heal_proc proc;
    uint64_t started_ms;       /* the running process started (machine clock) */
    uint64_t kill_deadline_ms; /* STOPPING: SIGKILL then */
    bool restart_on_exit;      /* the stop in progress is a restart's */
    bool operator_stopped;
    uint64_t start_count;
    /* health */
    struct heal_check_state checks[HEAL_CASE_CHECKS_MAX];
    bool check_ran[HEAL_CASE_CHECKS_MAX]; /* answered since the process started */
    int hung_check;            /* a check that timed out its way to unhealthy; -1 none */
    bool healthy;
    uint64_t healthy_since_ms;
    bool drifted;
    struct heal_budget budget;
    /* the incident: open while phase != IDLE; the last closed one stays for views */
    struct heal_incident inc;
    bool has_inc;
    enum heal_phase phase;
    uint64_t phase_deadline_ms;
    enum heal_action plan[HEAL_PLAN_MAX];
    int nplan, step;
    uint32_t attempt;          /* retries of the current command */
    bool approved;
    uint64_t action_done_ms;
    uint32_t successes_after_action;
    uint32_t noted_signals;    /* signal kinds noted in the open incident (bits) */
    uint32_t unanswered_signals; /* new kinds noted while an action ran, not yet acted on */
    uint64_t last_failure_ms;  /* the newest failure signal of the open incident */
    uint64_t quiet_deadline_ms; /* a verdict-set incident's quiet time ends (0: none) */
    bool said_healthy;         /* the HEALTHY event is recorded; waiting out the quiet time */
    uint32_t plan_rounds;      /* times the whole plan ran again because the symptom stayed */
    struct heal_signal last_signal; /* the newest failure signal: what a plan again answers */
    bool plan_retry;           /* the back-off under way ends in the plan's first step */
    uint32_t incidents_opened;
    /* the cluster's hold (HEAL_IN_HOLD): restarts wait while it lasts, cluster_wait_ms at
     * most; a hold that ran out is not taken again for the same cluster incident */
    bool cluster_hold;
    bool hold_spent;
    uint64_t hold_until_ms;
    char hold_id[HEAL_INCIDENT_ID_MAX];
    enum heal_cause hold_cause;
    struct heal_evidence hold_evidence;
    uint32_t restarts_held; /* restarts held back (for views and tests) */
};

/* Starts a case for `cfg` (copied). Nothing happens until HEAL_IN_LAUNCH. */
void heal_case_init(struct heal_case *c, const struct heal_case_cfg *cfg);

/*
 * Feeds one input. `out` is overwritten and stays valid until the next call. Returns 0;
 * PL_EMALFORMED for an input that names no such check or carries an unknown kind or
 * signal (the case is then unchanged and out is empty but for the deadline); PL_ESTATE
 * for an approval when no action waits for one.
 */
int heal_step(struct heal_case *c, const struct heal_input *in, struct heal_outputs *out);

/* The open incident, or NULL. After a step that closed one, out->persist refers to
 * heal_case_last_incident(). */
const struct heal_incident *heal_case_incident(const struct heal_case *c);
const struct heal_incident *heal_case_last_incident(const struct heal_case *c);

/* The earliest deadline the case waits for (0: none). */
uint64_t heal_case_deadline(const struct heal_case *c);

/*
 * Checks the rules above that can be judged from the state alone (1, 3, 5's levels and
 * budget). Returns 0 or PL_ESTATE with `why` naming the rule broken. For tests and the
 * simulator; cheap enough for debug builds after every step.
 */
int heal_case_check(const struct heal_case *c, uint64_t now_ms, char *why, size_t why_size);

#endif
