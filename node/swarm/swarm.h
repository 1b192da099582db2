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
 *   decision       {node, service, action, incident, reason}        the healer's order
 *   action_result  {decision, node, result, detail}                 what the named node did
 *   approval       {decision, by}                                    an operator's go-ahead
 *   placement      {service, node, prev}                             where a service runs
 *
 * Other kinds (notes, Raft's own entries) are the ledger's, not ours: "foreign", counted.
 *
 * Apply is total: whatever a committed entry holds, every node records the same result
 * (applied, duplicate, foreign, or rejected with a reason) and goes on. Incident steps
 * carry (node, incident, seq), so a step proposed twice (an outbox resent after a crash)
 * is applied once. A decision's id is its entry's index. Decisions past the blast radius
 * (more than `max_in_flight` not yet done) wait for an approval entry.
 *
 * The state hash is a multiset hash (the sum modulo 2^256 of BLAKE2b-256 of every item's
 * canonical bytes: members, incidents, placements, decisions, counters), kept up to date
 * in O(items changed) per entry and recomputable from scratch (swarm_state_hash_full), so
 * replay can prove it rebuilt the same state. It detects divergence between honest nodes;
 * integrity against a forger is the ledger's Merkle root's job.
 */
#ifndef PL_SWARM_H
#define PL_SWARM_H

#include "pl_buf.h"

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
#define SWARM_HASH_BYTES 32
#define SWARM_BODY_BYTES_MAX 4096

enum swarm_kind {
    SWARM_K_FOREIGN = 0,
    SWARM_K_MEMBER,
    SWARM_K_INCIDENT,
    SWARM_K_DECISION,
    SWARM_K_ACTION_RESULT,
    SWARM_K_APPROVAL,
    SWARM_K_PLACEMENT,
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
    SWARM_DECISION_STATE_COUNT
};

const char *swarm_member_status_name(enum swarm_member_status s);
const char *swarm_decision_state_name(enum swarm_decision_state s);

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
};

struct swarm_counters {
    uint64_t applied, foreign, duplicates, rejected;
    uint64_t evicted_incidents, evicted_decisions;
};

struct swarm_state {
    uint64_t applied_index;     /* the last entry applied (0: none) */
    uint64_t applied_term;
    uint64_t max_term;          /* the newest term any applied entry carried */
    uint32_t max_in_flight;     /* decisions pending at once before approval is needed */
    struct swarm_counters counters;
    char last_rejection[SWARM_TEXT_MAX];
    uint8_t hash[SWARM_HASH_BYTES];
    uint32_t nmembers, nincidents, nplacements, ndecisions;
    struct swarm_member members[SWARM_MEMBERS_MAX];
    struct swarm_incident incidents[SWARM_INCIDENTS_MAX];
    struct swarm_placement placements[SWARM_PLACEMENTS_MAX];
    struct swarm_decision decisions[SWARM_DECISIONS_MAX];
};

/* A committed entry, as the ledger holds it (the pointers are borrowed). */
struct swarm_entry {
    uint64_t index, term, time_ms;
    const char *kind;
    size_t kind_len;
    const uint8_t *body;
    size_t body_len;
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

/* Lookups (NULL when absent). */
const struct swarm_member *swarm_member_find(const struct swarm_state *s, const char *name);
const struct swarm_incident *swarm_incident_find(const struct swarm_state *s, const char *node,
                                                 const char *id);
const struct swarm_placement *swarm_placement_find(const struct swarm_state *s,
                                                   const char *service);
const struct swarm_decision *swarm_decision_find(const struct swarm_state *s, uint64_t index);

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

#endif
