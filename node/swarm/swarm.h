/*
 * The swarm's replicated state machine: every voter applies the same committed entries, in
 * index order, to the same state, and reaches the same state hash. Pure: no clock, no I/O,
 * no randomness; what it knows comes from the entries (index, term, time, kind, body), so
 * the agent, the simulators and `replay/` run the same code and agree bit for bit.
 *
 * Entry kinds it understands (each a ledger leaf; the body is one canonical msgpack map):
 *
 *   member_event   {node, event: join|alive|dead|left, inc}        gossip's verdicts
 *   incident       {node, id, seq, service, event, action, result, level, class, cause,
 *                   signal, outcome, t_ms, detail}                  a node's incident step
 *                  (a `diagnosed` step's result carries the facts the learning needs:
 *                   SWARM_FACTS_* in swarm_learn.h)
 *   decision       {node, service, action, incident, reason, rollout} the healer's order
 *   action_result  {decision, node, result, detail}                 what the named node did
 *   approval       {decision, by}                                    an operator's go-ahead
 *   placement      {service, node, prev}                             where a service runs
 *   policy         {max_in_flight, max_fleet_pct, window_ms}        the blast radius
 *   rollout        {service, op, max_unavailable, by}               an operator's rolling op
 *   cluster_incident {id, event: open|close, sig, service, cause, nodes, members, detail}
 *                  the same failure on many nodes (swarm_correlate): one incident for all
 *   council        {op: remove|add_learner|promote, node, voters, reason}  the council's
 *                  own healing (autopilot), as the leader changed it
 *
 * Other kinds (notes, Raft's own entries) are the ledger's, not ours: "foreign", counted.
 *
 * Apply is total: whatever a committed entry holds, every node records the same result
 * (applied, duplicate, foreign, or rejected with a reason) and goes on. Incident steps
 * carry (node, incident, seq), so a step proposed twice (an outbox resent after a crash)
 * is applied once. A decision's id is its entry's index. Decisions past the blast radius
 * (K = `max_in_flight` pending at once, or more than F = `max_fleet_pct` % of the members
 * touched by decisions within `window_ms` of the entry's time) wait for an approval entry.
 * A rollout lists the members alive when it is applied, sorted by name; the healer decides
 * for them in that order, at most `max_unavailable` at once, and apply refuses a second
 * decision for a node of a rollout while its first is not answered (two healers of
 * different terms cannot both order it). The acting node answers with action_result:
 * 0 done, PL_ESTALE refused (fenced: it knew a newer term), PL_ENOTFOUND skipped (it does
 * not run the service), else failed; a refused rollout step is decided again.
 *
 * The state hash is a multiset hash (the sum modulo 2^256 of BLAKE2b-256 of every item's
 * canonical bytes: members, incidents, placements, decisions, counters), kept up to date
 * in O(items changed) per entry (or per run of entries: swarm_state_hash_defer) and
 * recomputable from scratch (swarm_state_hash_full), so replay can prove it rebuilt the
 * same state. It detects divergence between honest nodes;
 * integrity against a forger is the ledger's Merkle root's job.
 */
#ifndef PL_SWARM_H
#define PL_SWARM_H

#include "pl_buf.h"
#include "swarm_learn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWARM_NAME_MAX 64       /* node and service names, with the NUL */
#define SWARM_ID_MAX 96         /* incident ids, with the NUL */
#define SWARM_TEXT_MAX 160
#define SWARM_MEMBERS_MAX 1024
#define SWARM_INCIDENTS_MAX 512 /* open and recent; the oldest closed goes first */
#define SWARM_PLACEMENTS_MAX 256
#define SWARM_DECISIONS_MAX 256 /* recent; the oldest done goes first */
#define SWARM_ROLLOUTS_MAX 16    /* recent; the oldest finished goes first */
#define SWARM_ROLLOUT_NODES_MAX 32
#define SWARM_HASH_BYTES 32
#define SWARM_BODY_BYTES_MAX 4096
#define SWARM_SIG_MAX 96        /* an anomaly signature ("web:check:status"), with the NUL */
#define SWARM_CLUSTERS_MAX 64   /* cluster incidents, open and recent */
#define SWARM_COUNCIL_LOG_MAX 16 /* the newest council changes */

enum swarm_kind {
    SWARM_K_FOREIGN = 0,
    SWARM_K_MEMBER,
    SWARM_K_INCIDENT,
    SWARM_K_DECISION,
    SWARM_K_ACTION_RESULT,
    SWARM_K_APPROVAL,
    SWARM_K_PLACEMENT,
    SWARM_K_POLICY,
    SWARM_K_ROLLOUT,
    SWARM_K_CLUSTER_INCIDENT,
    SWARM_K_COUNCIL,
    SWARM_K_COUNT
};

/* "member_event", ...; "" for foreign. */
const char *swarm_kind_name(enum swarm_kind k);
enum swarm_kind swarm_kind_parse(const char *kind, size_t len);

enum swarm_member_status {
    SWARM_MEMBER_ALIVE = 0,
    SWARM_MEMBER_DEAD,
    SWARM_MEMBER_LEFT,
    SWARM_MEMBER_STATUS_COUNT
};

enum swarm_decision_state {
    SWARM_DECISION_PENDING = 0,   /* the named node must act */
    SWARM_DECISION_WAITING,       /* past the blast radius: waits for an approval */
    SWARM_DECISION_DONE,          /* an action_result came back: ok */
    SWARM_DECISION_FAILED,        /* an action_result came back: failed */
    SWARM_DECISION_REFUSED,       /* the named node refused it: its term was stale */
    SWARM_DECISION_SKIPPED,       /* the named node does not run the service */
    SWARM_DECISION_STATE_COUNT
};

const char *swarm_member_status_name(enum swarm_member_status s);
const char *swarm_decision_state_name(enum swarm_decision_state s);
/* Done, failed, refused or skipped: an action_result answered it. */
bool swarm_decision_finished(enum swarm_decision_state s);

/* A decision's action is a heal_action (heal_policy.h: 1 = restart); an operator's
 * rolling stop or start, which the healing machine has no action for, takes these. */
#define SWARM_OP_RESTART 1
#define SWARM_OP_STOP 32
#define SWARM_OP_START 33
/* "restart", "stop", "start"; "" for another action. */
const char *swarm_op_name(uint8_t op);
/* 0 and the op, or PL_ENOTFOUND. */
int swarm_op_parse(const char *name, uint8_t *op);

enum swarm_rollout_state {
    SWARM_ROLLOUT_RUNNING = 0,
    SWARM_ROLLOUT_DONE,           /* every node done or skipped */
    SWARM_ROLLOUT_HALTED,         /* a node failed: nothing more is decided */
    SWARM_ROLLOUT_STATE_COUNT
};

/* Where one node of a rollout stands. */
enum swarm_step_state {
    SWARM_STEP_TODO = 0,
    SWARM_STEP_DECIDED,           /* its decision is pending or waiting */
    SWARM_STEP_DONE,
    SWARM_STEP_FAILED,
    SWARM_STEP_SKIPPED,
    SWARM_STEP_STATE_COUNT
};

const char *swarm_rollout_state_name(enum swarm_rollout_state s);
const char *swarm_step_state_name(enum swarm_step_state s);

/* ---- entry bodies ---- */

struct swarm_member_event {
    char node[SWARM_NAME_MAX];
    enum swarm_member_status status; /* join and alive both mean ALIVE */
    uint64_t incarnation;            /* gossip's: an older one never overrides a newer */
};

/* One step of a node's incident, as its healing machine recorded it. Enums are the
 * healing machine's numbers (heal_incident.h, append-only), bounded on decode. */
struct swarm_incident_event {
    char node[SWARM_NAME_MAX];
    char id[SWARM_ID_MAX];
    uint32_t seq;               /* the event's place in the incident's timeline */
    char service[SWARM_NAME_MAX];
    uint8_t event;              /* heal_event_kind */
    uint8_t action;             /* heal_action */
    int32_t result;
    uint8_t level;              /* escalation level reached */
    uint8_t cls, cause, signal; /* the diagnosis: heal_class, heal_cause, heal_signal_kind */
    char outcome[16];           /* "" while open */
    uint64_t t_ms;
    char detail[SWARM_TEXT_MAX];
};

struct swarm_decision_body {
    char node[SWARM_NAME_MAX];  /* who must act */
    char service[SWARM_NAME_MAX];
    uint8_t action;             /* heal_action */
    char incident[SWARM_ID_MAX]; /* "" when none */
    char reason[SWARM_TEXT_MAX];
    uint64_t rollout;           /* the rollout's index this step belongs to; 0 none */
};

struct swarm_action_result {
    uint64_t decision;          /* the decision's index */
    char node[SWARM_NAME_MAX];
    int32_t result;             /* 0 done, else an error code */
    char detail[SWARM_TEXT_MAX];
};

struct swarm_approval {
    uint64_t decision;
    char by[SWARM_NAME_MAX];
};

/* A placement is guarded: `prev` names the node the service moves from ("" for its first
 * placement), and apply rejects (and records) a move whose `prev` is not where the state
 * has it, so a stale leader's move, or one proposed twice, changes nothing. */
struct swarm_placement_body {
    char service[SWARM_NAME_MAX];
    char node[SWARM_NAME_MAX];
    char prev[SWARM_NAME_MAX];
};

struct swarm_policy_body {
    uint32_t max_in_flight;     /* K: decisions pending at once (>= 1) */
    uint32_t max_fleet_pct;     /* F: % of the members touched per window (1..100) */
    uint64_t window_ms;         /* the window, against entries' times (>= 1) */
};

struct swarm_rollout_body {
    char service[SWARM_NAME_MAX];
    uint8_t op;                 /* SWARM_OP_* */
    uint32_t max_unavailable;   /* nodes acting at once (>= 1) */
    char by[SWARM_NAME_MAX];
};

enum swarm_cluster_event { SWARM_CLUSTER_OPEN = 0, SWARM_CLUSTER_CLOSE, SWARM_CLUSTER_EVENT_COUNT };

/* The leader saw the same signature on many nodes (open), or no longer (close). */
struct swarm_cluster_body {
    char id[SWARM_ID_MAX];
    enum swarm_cluster_event event;
    char sig[SWARM_SIG_MAX];
    char service[SWARM_NAME_MAX];
    uint8_t cause;              /* heal_cause: dependency_failure or network */
    uint32_t nodes, members;    /* nodes showing it, of the live members */
    char detail[SWARM_TEXT_MAX];
};

enum swarm_council_op { SWARM_COUNCIL_REMOVE = 0, SWARM_COUNCIL_ADD_LEARNER,
                        SWARM_COUNCIL_PROMOTE, SWARM_COUNCIL_OP_COUNT };

/* A change of the council the leader made (Raft's configuration is the truth; this is its
 * record in the swarm, with why). */
struct swarm_council_body {
    enum swarm_council_op op;
    char node[SWARM_NAME_MAX];
    uint32_t voters;            /* voters after the change */
    char reason[SWARM_TEXT_MAX];
};

const char *swarm_cluster_event_name(enum swarm_cluster_event e);
const char *swarm_council_op_name(enum swarm_council_op op);

/* Canonical encodings (fixed key order) and strict decodings: decode accepts only bytes
 * that re-encode identically, PL_EMALFORMED otherwise, naming nothing it did not check. */
int swarm_member_event_encode(const struct swarm_member_event *b, struct pl_buf *out);
int swarm_member_event_decode(const uint8_t *p, size_t n, struct swarm_member_event *b);
int swarm_incident_event_encode(const struct swarm_incident_event *b, struct pl_buf *out);
int swarm_incident_event_decode(const uint8_t *p, size_t n, struct swarm_incident_event *b);
int swarm_decision_encode(const struct swarm_decision_body *b, struct pl_buf *out);
int swarm_decision_decode(const uint8_t *p, size_t n, struct swarm_decision_body *b);
int swarm_action_result_encode(const struct swarm_action_result *b, struct pl_buf *out);
int swarm_action_result_decode(const uint8_t *p, size_t n, struct swarm_action_result *b);
int swarm_approval_encode(const struct swarm_approval *b, struct pl_buf *out);
int swarm_approval_decode(const uint8_t *p, size_t n, struct swarm_approval *b);
int swarm_placement_encode(const struct swarm_placement_body *b, struct pl_buf *out);
int swarm_placement_decode(const uint8_t *p, size_t n, struct swarm_placement_body *b);
int swarm_policy_encode(const struct swarm_policy_body *b, struct pl_buf *out);
int swarm_policy_decode(const uint8_t *p, size_t n, struct swarm_policy_body *b);
int swarm_rollout_encode(const struct swarm_rollout_body *b, struct pl_buf *out);
int swarm_rollout_decode(const uint8_t *p, size_t n, struct swarm_rollout_body *b);
int swarm_cluster_encode(const struct swarm_cluster_body *b, struct pl_buf *out);
int swarm_cluster_decode(const uint8_t *p, size_t n, struct swarm_cluster_body *b);
int swarm_council_encode(const struct swarm_council_body *b, struct pl_buf *out);
int swarm_council_decode(const uint8_t *p, size_t n, struct swarm_council_body *b);
/* The decoder of kind k's body into `out` (out_size bytes, at least the kind's struct):
 * the same as the kind's own _decode, with *why (may be NULL) saying what was refused and
 * at which byte. -EINVAL for a kind without a body codec. */
struct pl_mp_reader;
/* Room for the body of any kind. */
union swarm_body {
    struct swarm_member_event m;
    struct swarm_incident_event i;
    struct swarm_decision_body d;
    struct swarm_action_result r;
    struct swarm_approval a;
    struct swarm_placement_body p;
    struct swarm_policy_body pol;
    struct swarm_rollout_body ro;
    struct swarm_cluster_body x;
    struct swarm_council_body k;
};
int swarm_body_decode(enum swarm_kind k, const uint8_t *p, size_t n, void *out, size_t out_size,
                      struct pl_mp_reader *why);
/* The msgpack-c decoder the strict one replaced (unpack, read by key, re-encode, compare),
 * kept as the oracle tests/fuzz/fuzz_swarm_apply.c and test_swarm compare it with. */
int swarm_body_decode_reference(enum swarm_kind k, const uint8_t *p, size_t n, void *out,
                                size_t out_size);

/* ---- the state ---- */

/* A member that died more than SWARM_FLAP_DEATHS - 1 times within SWARM_FLAP_WINDOW_MS
 * (by its committed member events' times) is fenced for SWARM_FLAP_WINDOW_MS after the
 * death that made it flap: not eligible for placement, and its services move. */
#define SWARM_FLAP_DEATHS 4
#define SWARM_FLAP_WINDOW_MS (10 * 60 * 1000)

struct swarm_member {
    char name[SWARM_NAME_MAX];
    enum swarm_member_status status;
    uint64_t incarnation;
    uint64_t since_index;
    uint64_t deaths[SWARM_FLAP_DEATHS]; /* the newest deaths' entry times, a ring */
    uint32_t ndeaths;                   /* deaths applied, ever */
    uint64_t fenced_until_ms;           /* 0: never fenced */
};

struct swarm_incident {
    char node[SWARM_NAME_MAX];
    char id[SWARM_ID_MAX];
    char service[SWARM_NAME_MAX];
    uint32_t last_seq;
    bool closed;
    char outcome[16];
    uint8_t level, cls, cause, signal;
    uint32_t actions;           /* action events seen */
    /* What the learning needs at the close (swarm_learn.h): the signature of the first
     * diagnosis (the one the first action was chosen for) and the actions taken. */
    bool learnable;             /* a `diagnosed` step carried the node's facts */
    uint8_t learn_cls, learn_cause, learn_signal, learn_feature;
    uint32_t nacts;
    uint8_t acts[SWARM_LEARN_ACTS_MAX];
    uint64_t opened_ms, closed_ms;
    uint64_t first_index, last_index;
};

struct swarm_placement {
    char service[SWARM_NAME_MAX];
    char node[SWARM_NAME_MAX];
    char prev[SWARM_NAME_MAX];  /* where it ran before ("" first placement) */
    uint64_t index, term;
    uint32_t moves;             /* placements applied after the first */
};

struct swarm_decision {
    uint64_t index, term, time_ms;
    char node[SWARM_NAME_MAX];
    char service[SWARM_NAME_MAX];
    uint8_t action;
    char incident[SWARM_ID_MAX];
    enum swarm_decision_state state;
    int32_t result;
    uint64_t result_index;
    uint64_t rollout;           /* 0: not a rollout's step */
};

struct swarm_rollout {
    uint64_t index, term, time_ms;
    char service[SWARM_NAME_MAX];
    uint8_t op;
    uint32_t max_unavailable;
    char by[SWARM_NAME_MAX];
    enum swarm_rollout_state state;
    uint32_t nnodes;
    char nodes[SWARM_ROLLOUT_NODES_MAX][SWARM_NAME_MAX]; /* in the order they go */
    uint8_t step[SWARM_ROLLOUT_NODES_MAX];              /* enum swarm_step_state */
    uint64_t decision[SWARM_ROLLOUT_NODES_MAX];         /* the newest decision for it */
};

/* One cluster incident: open while its signature is on many nodes; it escalates once, when
 * it opens (`escalated`), whatever the nodes it holds do. */
struct swarm_cluster {
    char id[SWARM_ID_MAX];
    char sig[SWARM_SIG_MAX];
    char service[SWARM_NAME_MAX];
    uint8_t cause;
    bool closed;
    bool escalated;
    uint32_t nodes, members, nodes_max;
    uint64_t opened_index, closed_index;
    uint64_t opened_ms, closed_ms; /* the entries' times */
};

struct swarm_council_change {
    uint64_t index, time_ms;
    enum swarm_council_op op;
    char node[SWARM_NAME_MAX];
    uint32_t voters;
};

struct swarm_counters {
    uint64_t applied, foreign, duplicates, rejected;
    uint64_t evicted_incidents, evicted_decisions;
};

/*
 * What keeps the state hash cheap (swarm.c); derived from the items, so not part of the
 * state: snapshots skip it and swarm_state_hash_rebuild makes it again. Every table item
 * (member, incident, placement, decision, rollout, cluster incident, council change) has
 * its BLAKE2b-256 kept in the slot beside it. An item that changed since `hash` was last
 * brought up to date is dirty: its kept hash is already out of `acc`, and the new one goes
 * in when the hash is next synced, once however many entries changed it. The counters item
 * changes with every entry, so it is hashed only at a sync; the learning's items change
 * rarely and are mixed at once. The hash itself is defined as before (the multiset sum of
 * every item's hash): this only decides when the additions are done.
 */
#define SWARM_HASH_SLOTS                                                                       \
    (SWARM_MEMBERS_MAX + SWARM_INCIDENTS_MAX + SWARM_PLACEMENTS_MAX + SWARM_DECISIONS_MAX +    \
     SWARM_ROLLOUTS_MAX + SWARM_CLUSTERS_MAX + SWARM_COUNCIL_LOG_MAX)
#define SWARM_HASH_DIRTY_MAX 512

struct swarm_hash_cache {
    uint8_t acc[SWARM_HASH_BYTES];   /* the sum over clean table items and the learning's */
    bool stale;                      /* `hash` lags the items: swarm_state_hash_sync */
    bool defer;                      /* swarm_apply leaves `hash` stale (swarm_state_hash_defer) */
    bool overflow;                   /* more dirty slots than `dirty` lists: sync scans all */
    uint32_t ndirty;
    uint16_t dirty[SWARM_HASH_DIRTY_MAX];        /* slots made dirty since the last sync */
    uint8_t is_dirty[SWARM_HASH_SLOTS];
    uint8_t item[SWARM_HASH_SLOTS][SWARM_HASH_BYTES]; /* a clean slot's item hash */
};

/* Incidents by (node, id): chains of slots in buckets by a hash of the two, so an incident
 * step finds its incident without comparing the ids of up to SWARM_INCIDENTS_MAX others.
 * Derived from `incidents` (not snapshotted); trusted only while `n` equals nincidents,
 * else lookups scan. */
#define SWARM_INCIDENT_BUCKETS 1024
struct swarm_incident_index {
    uint32_t n;                                 /* nincidents it indexes */
    uint16_t head[SWARM_INCIDENT_BUCKETS];      /* slot + 1 of a chain's first; 0 none */
    uint16_t next[SWARM_INCIDENTS_MAX];         /* slot + 1 of the next in the chain */
    uint32_t hash[SWARM_INCIDENTS_MAX];         /* each slot's hash of (node, id) */
};

struct swarm_state {
    uint64_t applied_index;     /* the last entry applied (0: none) */
    uint64_t applied_term;
    uint64_t max_term;          /* the newest term any applied entry carried */
    uint32_t max_in_flight;     /* decisions pending at once before approval is needed */
    uint32_t max_fleet_pct;     /* % of the members touched per window before approval */
    uint64_t window_ms;
    uint64_t policy_index;      /* the policy entry in force (0: the defaults) */
    struct swarm_counters counters;
    char last_rejection[SWARM_TEXT_MAX];
    uint8_t hash[SWARM_HASH_BYTES];
    uint32_t nmembers, nincidents, nplacements, ndecisions, nrollouts;
    struct swarm_member members[SWARM_MEMBERS_MAX];
    struct swarm_incident incidents[SWARM_INCIDENTS_MAX];
    struct swarm_placement placements[SWARM_PLACEMENTS_MAX];
    struct swarm_decision decisions[SWARM_DECISIONS_MAX];
    struct swarm_rollout rollouts[SWARM_ROLLOUTS_MAX];
    uint32_t nclusters;
    struct swarm_cluster clusters[SWARM_CLUSTERS_MAX];
    uint32_t council_changes;   /* council entries applied, ever */
    uint32_t ncouncil;          /* the newest of them, a ring at council_changes % MAX */
    struct swarm_council_change council[SWARM_COUNCIL_LOG_MAX];
    struct swarm_learn learn;   /* what heals which signature (swarm_learn.h) */
    struct swarm_hash_cache hc; /* derived from the items: not snapshotted */
    struct swarm_incident_index iidx; /* derived from incidents: not snapshotted */
};

/* A committed entry, as the ledger holds it (the pointers are borrowed). */
struct swarm_entry {
    uint64_t index, term, time_ms;
    const char *kind;
    size_t kind_len;
    const uint8_t *body;
    size_t body_len;
    /* Optional (NULL: apply decodes the body itself): the body as swarm_body_decode gave it
     * for this entry's kind, when the caller decoded it already (replay checks a leaf's body
     * that way instead of walking it twice). */
    const union swarm_body *decoded;
};

enum swarm_outcome {
    SWARM_APPLIED = 0,
    SWARM_DUPLICATE,            /* an incident step already applied: no change */
    SWARM_IGNORED_FOREIGN,      /* not a swarm kind: only the counters move */
    SWARM_REJECTED,             /* a swarm kind it cannot use: recorded, no other change */
    SWARM_OUTCOME_COUNT
};

const char *swarm_outcome_name(enum swarm_outcome o);

/* What one apply did, for the shell (act on a decision, start a placed service) and for
 * the replay's step view. Valid until the next apply. */
struct swarm_applied {
    enum swarm_outcome outcome;
    enum swarm_kind kind;
    char reason[SWARM_TEXT_MAX]; /* REJECTED: why */
    const struct swarm_decision *decision;   /* DECISION, ACTION_RESULT, APPROVAL: it */
    const struct swarm_placement *placement; /* PLACEMENT: the new one */
    const struct swarm_rollout *rollout;     /* ROLLOUT; a rollout's DECISION or result */
    const struct swarm_cluster *cluster;     /* CLUSTER_INCIDENT: it */
};

/* The state is big (members, incidents, ...): allocate it, then init. */
void swarm_state_init(struct swarm_state *s);

/*
 * Applies the entry that follows the last one applied (e->index == applied_index + 1,
 * else PL_ESTATE and nothing changes: a gap is the caller's bug). Otherwise returns 0,
 * whatever the entry holds, with the outcome in *out.
 */
int swarm_apply(struct swarm_state *s, const struct swarm_entry *e, struct swarm_applied *out);

/* The state hash recomputed from every item (for tests, the simulator and replay). */
void swarm_state_hash_full(const struct swarm_state *s, uint8_t out[SWARM_HASH_BYTES]);

/*
 * s->hash is up to date after every swarm_apply, unless deferral is on: then it is stale
 * until swarm_state_hash_sync, which costs one hash per item changed since the last sync
 * plus one for the counters. Replay turns it on for a run of entries nobody looks at one
 * by one; the agent and the simulators leave it off. Turning it off syncs.
 */
void swarm_state_hash_defer(struct swarm_state *s, bool on);
void swarm_state_hash_sync(struct swarm_state *s);
/* Rebuilds the kept item hashes and s->hash from the items themselves (after a snapshot
 * decode, or a test that set items directly). */
void swarm_state_hash_rebuild(struct swarm_state *s);

/* Lookups (NULL when absent). */
const struct swarm_member *swarm_member_find(const struct swarm_state *s, const char *name);
const struct swarm_incident *swarm_incident_find(const struct swarm_state *s, const char *node,
                                                 const char *id);
const struct swarm_placement *swarm_placement_find(const struct swarm_state *s,
                                                   const char *service);
const struct swarm_decision *swarm_decision_find(const struct swarm_state *s, uint64_t index);
const struct swarm_rollout *swarm_rollout_find(const struct swarm_state *s, uint64_t index);

/*
 * The acting node's fencing, the same on every node and in the simulator: whether `self`
 * may act on `d` now, knowing `known_term` as the newest term (its Raft term, or the
 * state's max_term if larger). Act-once (a decision id already done is never redone) is
 * the caller's durable record, checked before this.
 */
enum swarm_act_verdict {
    SWARM_ACT_GO = 0,
    SWARM_ACT_NOT_MINE,         /* another node must act */
    SWARM_ACT_NOT_PENDING,      /* waiting for approval, or already answered */
    SWARM_ACT_STALE_TERM,       /* a newer term is known: refuse (answer PL_ESTALE) */
};
enum swarm_act_verdict swarm_decision_check(const struct swarm_decision *d, const char *self,
                                            uint64_t known_term);

/*
 * The healer's next step of a running rollout: the first node still to do, when fewer
 * than max_unavailable of its nodes are decided and none failed; 0 with *node set, or
 * PL_ENOTFOUND when there is nothing to decide now. Pure, so a new leader continues
 * where the old one stopped.
 */
int swarm_rollout_next(const struct swarm_rollout *r, const char **node);
/* The open cluster incident of a signature, or NULL. */
const struct swarm_cluster *swarm_cluster_open_find(const struct swarm_state *s, const char *sig);
/* The decision body of a rollout's step for `node` (what the healer proposes). */
void swarm_rollout_step(const struct swarm_rollout *r, const char *node,
                        struct swarm_decision_body *out);

/* ---- placement (swarm_place.c) ---- */

/* Whether the member is fenced for flapping at `now_ms` (an entry's time, or the caller's). */
bool swarm_member_fenced(const struct swarm_member *m, uint64_t now_ms);

/* A node that could run a placed service, as the leader learns it from gossip: it declares
 * the service in its own config (placement.nodes names it) and reports its load. */
struct swarm_candidate {
    char node[SWARM_NAME_MAX];
    uint64_t load;              /* lower is better: services it runs */
};

/*
 * The healer's placement decision for one service (pure: the caller gives the time and the
 * candidates). The service stays where the state has it while that member is alive and not
 * fenced; otherwise (or when it is not placed yet) it goes to the candidate that is an
 * alive, unfenced member, with the least load, ties broken by name. Returns 0 with the
 * guarded move in *out (prev = where the state has it now), or PL_ENOTFOUND when nothing
 * should change or no candidate is eligible (*why says which, when not NULL).
 */
int swarm_place_next(const struct swarm_state *s, const char *service,
                     const struct swarm_candidate *cands, uint32_t ncands, uint64_t now_ms,
                     struct swarm_placement_body *out, const char **why);
/* The same, for a holder that no longer declares the service (its config dropped it): the
 * service moves even though the holder is alive and unfenced. */
int swarm_place_away(const struct swarm_state *s, const char *service,
                     const struct swarm_candidate *cands, uint32_t ncands, uint64_t now_ms,
                     struct swarm_placement_body *out, const char **why);

#endif
