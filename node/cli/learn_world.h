/*
 * A simulated service with faults whose working action is not always a restart, healed by
 * the real healing machine (heal_machine.h) while every incident step goes, as a committed
 * entry, through the real swarm state machine (swarm.h) and its learning (swarm_learn.h).
 * Virtual time, one seed: the same seed gives the same run, bit for bit.
 *
 * The faults (the sample service has the same ones, node/sample/sample_service.c):
 *   leak            memory verdicts; restart heals
 *   config_drift    checks answer 500; config_sync (then the restart it comes with) heals,
 *                   a restart alone does not (the drift is in a setting the agent does not
 *                   hash, so the rules cannot see it)
 *   dependency      error-rate verdicts until the dependency is back (a random outage);
 *                   waiting heals, each restart adds load and lengthens the outage
 *   scratch_full    checks fail (write errors); the cleanup command heals
 *   poisoned_cache  latency verdicts; state_repair heals, a restart 30 % of the time
 * A fault nobody heals is fixed by an operator after LEARN_TTL_MS (a failure).
 *
 * Used by `platelet bench learn` (cmd_bench.c) and tests/sim/learn_sim.c.
 */
#ifndef PL_LEARN_WORLD_H
#define PL_LEARN_WORLD_H

#include "heal_policy.h"
#include "swarm.h"

#include <stdbool.h>
#include <stdint.h>

#define LEARN_TTL_MS (10 * 60 * 1000ull)

enum learn_fault {
    LF_LEAK = 0,
    LF_CONFIG_DRIFT,
    LF_DEPENDENCY,
    LF_SCRATCH_FULL,
    LF_POISONED_CACHE,
    LF_COUNT
};

enum learn_policy {
    LP_RESTART_ONLY = 0, /* the policy allows restart alone */
    LP_RULES,            /* today's plans, no learned table */
    LP_LEARNED,          /* the same plans with the swarm's learned first action */
    LP_COUNT
};

const char *learn_fault_name(enum learn_fault f);
const char *learn_policy_name(enum learn_policy p);
/* The action that heals the fault. */
enum heal_action learn_fault_fix(enum learn_fault f);

struct learn_world_cfg {
    uint64_t seed;
    enum learn_policy policy;
    uint32_t weights[LF_COUNT]; /* the mix: relative frequency of each fault */
    bool held_out;              /* the held-out parameter ranges (longer outages, ...) */
};

struct learn_result {
    enum learn_fault fault;
    bool healed;                /* closed "healed" by the node before the operator's fix */
    uint64_t ttr_ms;            /* fault to healthy */
    enum heal_action first;     /* the incident's first action */
};

struct learn_world;

/* Allocates a world with its own swarm state; NULL without memory. */
struct learn_world *learn_world_new(const struct learn_world_cfg *cfg);
void learn_world_free(struct learn_world *w);

/* Injects one fault of the mix (or `fault` when >= 0), runs until it is healed or fixed,
 * then until the service has been quiet for a while; fills *out. */
int learn_world_incident(struct learn_world *w, int fault, struct learn_result *out);

/* Changes the mix and its parameter ranges from the next incident on (the held-out mix
 * after training); what was learned stays. */
void learn_world_mix(struct learn_world *w, const uint32_t weights[LF_COUNT], bool held_out);

/* The swarm state the run built (every incident step applied as a ledger entry). */
const struct swarm_state *learn_world_swarm(const struct learn_world *w);

/* The committed entries, in order, for replay checks: kind is always "incident". */
uint32_t learn_world_entries(const struct learn_world *w);
int learn_world_entry(const struct learn_world *w, uint32_t i, struct swarm_entry *e);

#endif
