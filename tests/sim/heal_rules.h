/*
 * The rules of the healing machine (node/heal/heal_machine.h) that can be judged from one
 * step alone, from the machine's side: what came in, what the case looked like before, and
 * what came out. Shared by the simulator (tests/sim/heal_sim.c), which adds the rules only
 * a world can judge (restarts per window, kill grace of a hung process, approvals, liveness),
 * and the fuzz target (tests/fuzz/fuzz_heal_machine.c), which feeds arbitrary sequences.
 *
 * Usage, around every heal_step():
 *
 *     struct heal_rules_pre pre;
 *     heal_rules_before(&c, &pre);
 *     int rc = heal_step(&c, &in, &out);
 *     if (heal_rules_after(&c, &pre, &in, rc, &out, &track, &flags, why, sizeof(why)) != 0)
 *         ... a rule is broken: `why` says which ...
 *
 * `track` is the incident record as the shell last wrote it (persist): the rules compare
 * the machine's record with it to see whether a step changed the record without asking
 * for it to be written, and whether an escalation level fell.
 */
#ifndef PL_HEAL_RULES_H
#define PL_HEAL_RULES_H

#include "heal_machine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the rules need from the case before a step. */
struct heal_rules_pre {
    enum heal_phase phase;
    enum heal_proc proc;
    bool restart_on_exit;
    bool operator_stopped;
    bool check_healthy[HEAL_CASE_CHECKS_MAX];
    uint32_t incidents_opened;
    uint32_t noted_signals;
    bool cluster_hold;
    uint64_t hold_until_ms;
};

/* The incident record as last persisted. */
struct heal_rules_track {
    bool has;
    char id[HEAL_INCIDENT_ID_MAX];
    uint32_t nevents, dropped;
    enum heal_incident_state state;
    enum heal_level level;
    char outcome[16];
    uint64_t closed_ms;
};

/* What a step did, as the rules saw it (for the simulator's own checks and counters). */
struct heal_rules_step {
    bool failure;          /* the input was a failure signal (rule 2): the same step acts,
                              sets a deadline or escalates, or an action is already under
                              way (a command's answer is bounded by the shell's timeout) */
    bool acted;            /* an action output (start, stop, kill, run, config_sync) */
    bool escalated;        /* a new "escalated" event */
    bool opened, closed;   /* an incident opened / closed in this step */
    bool verify_failure;   /* a new failure while verifying (rule 4): an exit, a failed
                              start, a check turning unhealthy, or a detector's first
                              verdict of its kind in the incident (a repeat of a noted
                              symptom is not new) */
    int went_unhealthy;    /* the check that became unhealthy in this step, or -1 */
};

void heal_rules_before(const struct heal_case *c, struct heal_rules_pre *pre);

/*
 * Judges one step. Returns 0, or PL_ESTATE with `why` naming the rule broken. Updates
 * `track` as the shell would after writing the record (when out->persist asks for it).
 * `strict_deadline`: a deadline in the past is a bug (the simulator calls TIMER on time);
 * without it (a fuzzer's arbitrary clock) an overdue deadline counts as scheduled.
 */
int heal_rules_after(const struct heal_case *c, const struct heal_rules_pre *pre,
                     const struct heal_input *in, int rc, const struct heal_outputs *out,
                     struct heal_rules_track *track, bool strict_deadline,
                     struct heal_rules_step *step, char *why, size_t why_size);

/* The record the output list refers to: the open incident, else the last closed one. */
const struct heal_incident *heal_rules_record(const struct heal_case *c);

#endif
