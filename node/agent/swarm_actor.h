/*
 * The healer's decisions on a node (issue 10), one agent module ("decisions") in two files:
 *
 * - swarm_actor.c, on every voter: acts on the committed decisions that name this node.
 *   Fencing first (swarm_decision_check: a decision of a term older than the newest term
 *   this node knows is refused, answered PL_ESTALE); then act once: a record per decision
 *   id in RocksDB's `node` family, written (synced) before the action begins and again
 *   with its result, so a decision begun before a kill -9 is never begun again (it is
 *   answered "interrupted" instead). It runs only its own config's services through the
 *   healing shell (heal_service_control): the log names a service, never a command. The
 *   answer is an `action_result` entry, re-sent until the state shows it applied.
 * - swarm_healer.c, on the leader: turns running rollouts into one decision per node, in
 *   the rollout's order, at most max_unavailable at once (swarm_rollout_next), and commits
 *   the `blast_radius` section of its config as a `policy` entry when the state differs.
 *
 * A member that is not a voter applies no state: the leader gossips the pending decisions
 * (record "decisions": its term and each decision's id, term, node, service and op), and
 * such a member acts on those naming it, fenced by the newest term the voters gossip, and
 * answers through the council as a client.
 *
 * API: GET /v1/decisions, POST /v1/decisions/ID/approve, POST /v1/rollouts (the last two
 * need an operate token on TCP, as every POST); a member that is not a voter answers them
 * 503 (it holds no state: ask a voter).
 */
#ifndef PL_SWARM_ACTOR_H
#define PL_SWARM_ACTOR_H

#include "agent.h"
#include "agent_gossip.h"
#include "pl_buf.h"
#include "swarm.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

extern const struct agent_module swarm_decisions_module;

/* Checks the `blast_radius` section ({max_in_flight, max_fleet_pct, window_ms}) without
 * starting anything. 0, or PL_ECONFIG with one line in err naming the key. */
int swarm_decisions_config_check(const struct agent_config *cfg, char *err, size_t err_size);

struct agent_gossip;
struct agent_raft;
struct heal;

#define SWARM_ACTS_MAX 16
#define SWARM_HEALER_PROPOSED_MAX 16

enum swarm_act_phase {
    SWARM_ACT_STOPPING = 1, /* the stop was asked for; waiting for the process to be down */
    SWARM_ACT_STARTING,     /* the start was asked for; waiting for it to run healthy */
    SWARM_ACT_ANSWERING,    /* finished: the result is being committed */
};

/* One decision this node is acting on or answering. */
struct swarm_act {
    uint64_t decision;
    uint8_t op;
    char service[SWARM_NAME_MAX];
    enum swarm_act_phase phase;
    uint64_t deadline_ms;       /* loop time: the action fails with PL_ETIMEOUT then */
    int32_t result;
    char detail[SWARM_TEXT_MAX];
    bool proposing;             /* an action_result is on its way */
    uint64_t retry_ms;          /* loop time of the next send */
};

/* A decision or policy the healer proposed and waits to see applied. */
struct swarm_proposed {
    uint64_t rollout;           /* 0: the policy */
    char node[SWARM_NAME_MAX];
    uint64_t at_ms;             /* loop time it was sent */
    bool in_flight;
};

struct swarm_decisions {
    struct agent *a;
    struct agent_raft *raft;    /* NULL without a council */
    struct heal *heal;          /* NULL without the healing module */
    struct agent_gossip *gossip;
    char *published;            /* the leader's last "decisions" gossip record (malloc()ed) */
    uint64_t published_index;   /* ... made of the state at this applied index */
    uint64_t published_term;    /* ... and this term */
    uv_timer_t timer;
    bool stopping;
    struct swarm_act acts[SWARM_ACTS_MAX];
    int nacts;
    uint64_t ticks;
    int last_mine;              /* pending decisions naming this node, last round */
    /* a member that is not a voter: the members' "raft" and "decisions" records it last
     * read, and what it made of them (pending_from_gossip) */
    struct agent_gossip_seen seen_raft, seen_decisions;
    struct swarm_record *gossip_best; /* malloc()ed; the newest term's record */
    bool gossip_have;
    uint64_t gossip_newest;
    /* the healer's side */
    bool have_policy;           /* the config has a blast_radius section */
    struct swarm_policy_body policy;
    struct swarm_proposed proposed[SWARM_HEALER_PROPOSED_MAX];
};

/* swarm_actor.c: proposes `body` for an API call kept until the entry is committed, then
 * answers 200 with reply(index, arg), or an error; it replies itself on every failure. */
struct api_call;
void swarm_decisions_propose_for(struct swarm_decisions *sd, struct api_call *call,
                                 enum swarm_kind kind, const struct pl_buf *body,
                                 cJSON *(*reply)(uint64_t index, uint64_t arg), uint64_t arg);

/* swarm_healer.c: one round of the leader's work, and its API route. */
void swarm_healer_tick(struct swarm_decisions *sd);
void swarm_healer_routes(struct swarm_decisions *sd);
int swarm_healer_config(const struct agent_config *cfg, struct swarm_policy_body *out,
                        bool *have, char *err, size_t err_size);

#endif
