/*
 * The Raft core: a pure state machine that implements Raft (Ongaro and Ousterhout,
 * "In Search of an Understandable Consensus Algorithm", 2014, cited as "paper §N") with
 * the extensions of Ongaro's thesis ("Consensus: Bridging Theory and Practice", 2014,
 * cited as "thesis §N"): PreVote (§9.6), CheckQuorum and leader stickiness (§6.2, §4.2.3),
 * leadership transfer (§3.10), single-server membership changes with learners (§4.1,
 * §4.2), snapshots with chunked InstallSnapshot (§5), parallel leader disk writes (§10.2.1)
 * and pipelined, batched AppendEntries (§10.2.2).
 *
 * The core does no I/O, reads no clock, draws randomness only from the caller-seeded
 * struct pl_rand it is given, and prints nothing (an injected tracer receives one line per
 * state change). It is driven like etcd raft's Step/Ready or cowsql's raft_step():
 *
 *     struct raft_update u;
 *     raft_step(r, now_ms, &event, &u);   // one event in, one update batch out
 *
 * THE ORDER IN WHICH A CALLER CARRIES OUT AN UPDATE:
 *   1. Persist, if u.persist_seq != 0, in this order and as one ordered write: the hard
 *      state (u.term, u.vote) when u.hs_changed; the snapshot u.snapshot; delete entries
 *      with index >= u.truncate_from (when non-zero); append u.entries; optionally delete
 *      entries with index <= u.compact_to. Writes may complete asynchronously, but they
 *      must become durable in the order of their persist_seq; when one is durable, step
 *      RAFT_EV_PERSISTED with its seq (a later seq implies all earlier ones).
 *   2. Send u.msgs. These may go out at once, before step 1 completes: the core withholds
 *      every message that depends on unpersisted state (a vote, a RequestVote, an
 *      acknowledgement in a term not yet durable, an InstallSnapshot reply) and releases it
 *      in the update of the RAFT_EV_PERSISTED that makes it safe. A leader's AppendEntries
 *      go out in parallel with its own write (thesis §10.2.1): it counts itself towards
 *      commitment only with entries reported persisted.
 *   3. If u.install is set, restore the state machine from it; then apply u.apply in order.
 *   4. Deliver u.results (proposal and membership-change outcomes) to whoever asked.
 *   5. If u.want_snapshot, take a snapshot of the state machine (which now reflects exactly
 *      raft_applied()) and step RAFT_EV_SNAPSHOT with it, now or later; a snapshot taken
 *      in the background names the index it was taken at, which may by then be behind.
 *   6. Carry out the snapshot transfer: for each u.reads[i] read the body chunk and step
 *      RAFT_EV_SNAPSHOT_READ with it; if u.stage, write its chunk durably and step
 *      RAFT_EV_SNAPSHOT_STAGED (struct raft_read and struct raft_stage). Either may be
 *      done later or not at all (a lost chunk is asked for again at the next heartbeat),
 *      but copy what they point to first if other steps come in between.
 * Everything an update points to is owned by the core and valid until the next raft_step
 * or raft_close. A synchronous caller simply persists, steps RAFT_EV_PERSISTED at once and
 * carries out that update too.
 *
 * A leader whose writes are not durable within an election timeout steps down (its disk
 * is stalled; see docs/ARCHITECTURE.md), and a candidate cannot ask for votes before its
 * own vote is durable, so a node with a stalled disk cannot lead.
 */
#ifndef RAFT_H
#define RAFT_H

#include "pl_rand.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_SERVERS_MAX 9

enum raft_role { RAFT_FOLLOWER = 1, RAFT_PRE_CANDIDATE, RAFT_CANDIDATE, RAFT_LEADER };
enum raft_server_role { RAFT_VOTER = 1, RAFT_LEARNER = 2 };
enum raft_entry_type { RAFT_ENTRY_NORMAL = 1, RAFT_ENTRY_NOOP = 2, RAFT_ENTRY_CONFIG = 3 };

struct raft_server {
    uint64_t id; /* non-zero */
    uint8_t role; /* enum raft_server_role */
};

/* A membership configuration. Ids are unique; order is not significant. */
struct raft_config {
    uint32_t n;
    struct raft_server servers[RAFT_SERVERS_MAX];
};

/* A log entry. CONFIG entries carry a configuration encoded by raft_config_encode(). */
struct raft_entry {
    uint64_t term;
    uint64_t index;
    uint8_t type; /* enum raft_entry_type */
    uint32_t len;
    uint8_t *data;
};

/*
 * A snapshot is the caller's small description of its state machine (`data`: for the
 * daemon the ledger's size and root) plus a body the core never holds: positions
 * [0, body_len) of a stream the caller reads from its own storage when a follower needs
 * it (u.reads) and writes durably where a follower keeps it (u.stage). The units of a
 * position are the caller's (the daemon's are ledger leaves, so a follower that already
 * holds a prefix resumes after it); the core only moves positions between the two ends.
 * Memory stays bounded by the chunk size whatever the body's length.
 */
struct raft_snapshot {
    uint64_t index; /* last entry the snapshot covers */
    uint64_t term;
    struct raft_config config; /* the configuration as of index */
    size_t len;
    uint8_t *data;
    uint64_t body_len;
};

/* Leader: read the body of u.reads[i].snap (the core's current snapshot) from `offset`,
 * at most bytes_max bytes (one unit of the caller's may be larger alone), and step
 * RAFT_EV_SNAPSHOT_READ with it. */
struct raft_read {
    uint64_t to;
    uint64_t offset;
    uint32_t bytes_max;
    const struct raft_snapshot *snap; /* index, term, config, data, body_len */
};

/* Follower: a chunk of an incoming snapshot's body, to be written durably where the
 * caller keeps the snapshot it is receiving (data, body_len and index describe it). The
 * caller keeps what extends the prefix it holds, ignores the rest, and once that is
 * durable steps RAFT_EV_SNAPSHOT_STAGED with the position it now holds up to (a caller
 * that held part of the body already, from before a restart, answers more than the
 * chunk; one that holds another snapshot's body answers 0 and starts over). */
struct raft_stage {
    const struct raft_snapshot *snap;
    uint64_t offset;
    const uint8_t *data;
    uint32_t len;
};

enum raft_msg_type {
    RAFT_MSG_VOTE = 1,        /* RequestVote, paper §5.2; pre_vote per thesis §9.6 */
    RAFT_MSG_VOTE_RESULT,
    RAFT_MSG_APPEND,          /* AppendEntries, paper §5.3; heartbeat when empty */
    RAFT_MSG_APPEND_RESULT,
    RAFT_MSG_SNAPSHOT,        /* InstallSnapshot chunk, paper §7 */
    RAFT_MSG_SNAPSHOT_RESULT,
    RAFT_MSG_TIMEOUT_NOW,     /* leadership transfer, thesis §3.10 */
    RAFT_MSG_PROPOSE,         /* a proposal forwarded to the leader */
    RAFT_MSG_PROPOSE_RESULT,  /* the leader's answer: where it appended it, or why not */
    RAFT_MSG_TYPE_MAX = RAFT_MSG_PROPOSE_RESULT
};

struct raft_msg {
    uint8_t type; /* enum raft_msg_type */
    uint64_t from;
    uint64_t to;
    uint64_t term;
    union {
        struct {
            uint64_t last_index;
            uint64_t last_term;
            bool pre_vote;
            bool transfer; /* sent after TimeoutNow: overrides leader stickiness */
        } vote;
        struct {
            bool granted;
            bool pre_vote;
        } vote_result;
        struct {
            uint64_t prev_index;
            uint64_t prev_term;
            uint64_t commit;
            uint32_t n_entries;
            const struct raft_entry *entries; /* contiguous, indexes prev_index+1.. */
            /* How long before sending this the leader last knew a majority of the voters
             * answered it (raft_majority_contact_ms): a follower's lease counts from its
             * receipt minus this, so a leader cut off from the majority extends no lease. */
            uint64_t lease_age_ms;
        } append;
        struct {
            bool success;
            uint64_t match_index;  /* success: entries durable and matching up to here */
            uint64_t last_index;   /* success: entries matching (maybe not yet durable) */
            uint64_t reject_index; /* failure: the prev_index that was refused */
            uint64_t conflict_term;  /* failure: term at reject_index, 0 if none */
            uint64_t conflict_index; /* failure: first index of conflict_term, or last+1 */
        } append_result;
        struct {
            uint64_t snap_index;
            uint64_t snap_term;
            struct raft_config config;
            uint32_t meta_len; /* the snapshot's description (raft_snapshot.data) */
            const uint8_t *meta;
            uint64_t body_len;
            uint64_t offset; /* the body position `data` starts at */
            uint32_t len;
            const uint8_t *data;
        } snapshot;
        struct {
            uint64_t snap_index;
            uint64_t offset; /* next body position expected */
            bool done;
        } snapshot_result;
        struct {
            uint64_t id;
            uint32_t len;
            const uint8_t *data;
        } propose;
        struct {
            uint64_t id;
            int32_t err;
            uint64_t index;
            uint64_t term;
        } propose_result;
    };
};

/* The outcome of a proposal or membership change: err 0 means committed at `index`. */
struct raft_result {
    uint64_t id;
    int err; /* 0, PL_ENOLEADER, PL_ETIMEOUT (not committed in time), PL_ESTALE
                (overwritten by another leader), PL_ETOOBIG, PL_EFULL */
    uint64_t index;
};

struct raft_proposal {
    /* chosen by the proposer, never reused, not even after a restart: a leader answers a
     * repeat of a recent (sender, id) with the first placement (a network duplicate) */
    uint64_t id;
    const uint8_t *data;
    uint32_t len;
};

enum raft_change_op { RAFT_ADD_LEARNER = 1, RAFT_ADD_VOTER, RAFT_PROMOTE, RAFT_REMOVE };

enum raft_event_type {
    RAFT_EV_TICK = 1,  /* time passed; timers fire */
    RAFT_EV_RECEIVE,   /* a message arrived */
    RAFT_EV_PERSISTED, /* the write with this persist_seq (and all before it) is durable */
    RAFT_EV_SNAPSHOT,  /* the caller's state machine snapshot at an index <= raft_applied() */
    RAFT_EV_PROPOSE,   /* proposals submitted on this node (forwarded if follower) */
    RAFT_EV_TRANSFER,  /* leader: hand leadership to `to` (0: the most up-to-date voter) */
    RAFT_EV_CHANGE,    /* leader: one membership change */
    RAFT_EV_PEER_LOST, /* the connection from `peer` ended (its process exited or reset it) */
    RAFT_EV_SNAPSHOT_READ,   /* leader: the body chunk a u.reads[] asked for */
    RAFT_EV_SNAPSHOT_STAGED, /* follower: a u.stage is durable; how much of the body it holds */
};

struct raft_event {
    uint8_t type;
    union {
        const struct raft_msg *msg; /* borrowed for the call */
        uint64_t persisted_seq;
        struct {
            uint64_t index;
            const uint8_t *data; /* copied */
            size_t len;
            uint64_t body_len;
        } snapshot;
        struct {
            uint64_t to;
            uint64_t index; /* the snapshot read (raft_read.snap->index) */
            uint64_t offset;
            const uint8_t *data; /* copied */
            uint32_t len;
        } read;
        struct {
            uint64_t index; /* the snapshot staged (raft_stage.snap->index) */
            uint64_t held;  /* body positions [0, held) are durable */
        } staged;
        struct {
            /* Copied on a leader; a follower forwards the bytes as they are, so they must
             * stay valid until the next raft_step. */
            const struct raft_proposal *items;
            uint32_t n;
        } propose;
        struct {
            uint64_t to;
        } transfer;
        struct {
            uint64_t id; /* result reported like a proposal's */
            uint8_t op;  /* enum raft_change_op */
            uint64_t server;
        } change;
        uint64_t peer;
    };
};

struct raft_update {
    /* 1. persist */
    uint64_t persist_seq; /* 0: nothing to persist */
    bool hs_changed;
    uint64_t term;
    uint64_t vote;
    const struct raft_snapshot *snapshot;
    uint64_t truncate_from;
    const struct raft_entry *entries;
    uint32_t n_entries;
    uint64_t compact_to;
    /* 2. send */
    const struct raft_msg *msgs;
    uint32_t n_msgs;
    /* 3. state machine */
    const struct raft_snapshot *install;
    const struct raft_entry *apply;
    uint32_t n_apply;
    /* 4. outcomes */
    const struct raft_result *results;
    uint32_t n_results;
    /* 5. */
    bool want_snapshot;
    /* 6. snapshot transfer */
    const struct raft_read *reads;
    uint32_t n_reads;
    const struct raft_stage *stage;
    /* the next time the core wants a tick */
    uint64_t deadline_ms;
};

/* The state machine interface a caller supplies. The core itself never calls it (it stays
 * pure); raft_fsm_apply() and raft_fsm_snapshot() carry out steps 3 and 5 through it. */
struct raft_fsm {
    void *ctx;
    /* Applies one committed entry (every type; NOOP and CONFIG may be ignored). */
    int (*apply_cb)(void *ctx, const struct raft_entry *e);
    /* Describes the state as of the last applied entry in a malloc'd buffer, and the
     * length of the body the caller will serve for it (struct raft_snapshot). */
    int (*snapshot_cb)(void *ctx, uint8_t **data_out, size_t *len_out, uint64_t *body_len_out);
    /* Replaces the state with the snapshot's. */
    int (*restore_cb)(void *ctx, const struct raft_snapshot *s);
};

struct raft_tracer {
    void *ctx;
    void (*trace_cb)(void *ctx, uint64_t node_id, uint64_t now_ms, const char *line);
};

struct raft_options {
    uint64_t id;
    uint32_t election_timeout_ms;  /* randomised in [t, 2t) */
    uint32_t heartbeat_ms;
    bool pre_vote;                 /* ask "would you vote?" before raising the term */
    bool check_quorum;             /* a leader steps down when no majority answered within
                                      an election timeout (stickiness is always on) */
    uint32_t snapshot_threshold;   /* entries applied since the last snapshot */
    uint32_t snapshot_trailing;    /* entries kept behind a snapshot */
    uint32_t snapshot_chunk_bytes; /* body bytes per InstallSnapshot chunk */
    uint32_t snapshot_bytes_max;   /* refuse bigger incoming snapshot descriptions */
    uint32_t append_entries_max;   /* entries per AppendEntries */
    uint32_t append_bytes_max;     /* payload bytes per AppendEntries */
    uint32_t inflight_max;         /* pipelined AppendEntries per follower */
    uint32_t entry_bytes_max;      /* largest proposal */
    uint32_t proposal_timeout_ms;
    uint32_t pending_max;          /* proposals awaiting an outcome */
    struct raft_tracer tracer;
};

/* Fills defaults: election 1000 ms, heartbeat 100 ms, pre_vote and check_quorum on. */
void raft_options_default(struct raft_options *o, uint64_t id);

struct raft_stats {
    uint64_t dropped_stale;   /* messages from an older term */
    uint64_t dropped_unknown; /* replies from servers not in the configuration */
    uint64_t dropped_invalid; /* well-formed bytes that break a protocol rule */
    uint64_t elections;
    uint64_t disk_stall_stepdowns;
    uint64_t quorum_stepdowns;
};

struct raft_progress;
struct raft_pending;
struct raft_deferred;
struct raft_block;

/* Fields are private; read them through the accessors below. */
struct raft {
    struct raft_options o;
    struct pl_rand *rand;
    uint64_t now_ms;
    bool started;
    /* persistent state (paper Figure 2) */
    uint64_t term;
    uint64_t vote;
    /* the log after the snapshot: log[i].index == log_offset + 1 + i */
    struct raft_entry *log;
    size_t log_n, log_cap;
    uint64_t log_offset, log_offset_term;
    struct raft_snapshot snap; /* snap.data NULL when none */
    struct raft_config config;
    uint64_t config_index;
    /* volatile state */
    uint8_t role;
    uint64_t leader;
    uint64_t commit;
    uint64_t applied;
    uint64_t election_deadline_ms;
    uint64_t heartbeat_deadline_ms;
    uint64_t quorum_deadline_ms;
    uint64_t leader_seen_ms;
    uint64_t leader_verified;
    uint64_t leader_commit; /* the highest commit index a leader has told us */
    /* leases: the last leader contact whose commit index we had applied, and the oldest
     * contact still waiting for the apply to reach its commit index */
    uint64_t lease_fresh_ms;
    bool lease_waiting;
    uint64_t lease_wait_ms, lease_wait_commit;
    bool campaign_transfer;
    uint64_t granted[RAFT_SERVERS_MAX];
    uint64_t refused[RAFT_SERVERS_MAX];
    uint32_t n_granted, n_refused;
    /* leader state */
    struct raft_progress *prog;
    uint32_t n_prog;
    uint64_t term_start_index;
    uint64_t transfer_to;
    uint64_t transfer_deadline_ms;
    /* persistence tracking */
    uint64_t seq_last, seq_durable, hs_seq;
    uint64_t persisted_index;
    struct raft_block *blocks;
    uint32_t n_blocks;
    struct raft_deferred *deferred;
    uint32_t n_deferred;
    /* incoming snapshot: its description; its body is the caller's (u.stage) */
    struct raft_snapshot rcv;
    uint64_t rcv_from;
    struct raft_stage stage;
    uint8_t *stage_buf, *read_buf;
    uint32_t stage_cap, read_cap;
    struct raft_read reads[RAFT_SERVERS_MAX];
    uint32_t n_reads;
    /* proposals awaiting an outcome */
    struct raft_pending *pending;
    uint32_t n_pending;
    /* forwarded proposals placed by this node as leader, so that a request the network
     * delivers twice is not appended twice */
    struct raft_placed {
        uint64_t from, id, index, term;
    } placed[256];
    uint32_t placed_next;
    /* proposals forwarded by clients (nodes outside the configuration, which keep no log to
     * check a placement against): answered once committed, or with an error */
    struct raft_client_wait {
        uint64_t from, id, index, term, deadline_ms;
    } clients[64];
    uint32_t n_clients;
    /* the update being built */
    struct raft_msg *msgs;
    uint8_t *msg_defer;
    uint32_t n_msgs, cap_msgs;
    struct raft_result *results;
    uint32_t n_results, cap_results;
    uint64_t blk_first; /* lowest log index changed in this step, 0 if none */
    bool blk_hs, blk_snapshot;
    uint64_t blk_truncate, blk_compact;
    bool installed;
    struct raft_stats stats;
};

/* The caller owns `r` and `rand` (which must outlive it). 0 or -ENOMEM/PL_ECONFIG. */
int raft_init(struct raft *r, const struct raft_options *o, struct pl_rand *rand);
void raft_close(struct raft *r);

/* Loads durable state before the first step: term, vote, the snapshot (NULL if none;
 * copied) and the entries after it (copied). PL_ECORRUPT if they are inconsistent
 * (a gap, decreasing terms, a term above `term`, an undecodable configuration). A brand
 * new cluster member is bootstrapped by loading, on each initial voter, term 1 and one
 * CONFIG entry at index 1, term 1 (raft_bootstrap_entry()). The caller restores its state
 * machine from the snapshot itself. */
int raft_load(struct raft *r, uint64_t term, uint64_t vote, const struct raft_snapshot *snap,
              const struct raft_entry *entries, size_t n);

/* Builds the first entry of a new cluster into `out` (out->data malloc'd; free it). */
int raft_bootstrap_entry(const struct raft_config *c, struct raft_entry *out);

/* One event in, one update out (see the order above). Returns 0, or an error for a
 * request refused outright (PL_ENOLEADER, PL_ESTATE, PL_ERANGE, PL_EMALFORMED, -ENOMEM);
 * even then `u` is valid and must be carried out. */
int raft_step(struct raft *r, uint64_t now_ms, const struct raft_event *ev,
              struct raft_update *u);

/* Step 3 of an update through `fsm`: restore from u->install, then apply u->apply in order.
 * Returns 0 or the first callback error (the caller must then stop: its state machine no
 * longer matches the log). */
int raft_fsm_apply(struct raft_fsm *fsm, const struct raft_update *u);
/* Step 5: takes a snapshot through fsm->snapshot_cb and steps RAFT_EV_SNAPSHOT with it.
 * `u` receives that step's update, which the caller carries out like any other. */
int raft_fsm_snapshot(struct raft *r, uint64_t now_ms, struct raft_fsm *fsm,
                      struct raft_update *u);

uint8_t raft_role(const struct raft *r);
uint64_t raft_term(const struct raft *r);
uint64_t raft_leader(const struct raft *r);
/* For leases: the newest time (the core's clock, as given to raft_step) at which this node
 * knew itself in touch with a majority of the voters. A leader: the time by which a majority
 * (itself included) had last answered it (the quorum-th newest answer). Any other role: the
 * time its leader last knew a majority in touch (a message's receipt minus its lease_age_ms),
 * counted once it had applied every entry that message said was committed (0: never): a
 * deposed leader still sending, or a follower that hears the leader but cannot apply (a
 * stalled disk), extends no lease. A holder of a lease stops what it holds once
 * now - this exceeds the lease. */
uint64_t raft_majority_contact_ms(const struct raft *r);
/* The highest commit index a leader has told this node since it started (a leader: its own
 * commit once its term's first entry is committed); 0 before that. A node that has applied
 * this much knows every entry committed before it started. */
uint64_t raft_leader_commit(const struct raft *r);
uint64_t raft_commit_index(const struct raft *r);
uint64_t raft_applied(const struct raft *r);
uint64_t raft_last_index(const struct raft *r);
/* The log is durable up to here (every entry at or below it was reported persisted, in its
 * current form). A caller whose writes complete asynchronously applies committed entries
 * only up to it, so its state machine never gets durably ahead of its own log. */
uint64_t raft_persisted_index(const struct raft *r);
/* What the core holds in memory: its log after the snapshot (entries, their data and the
 * array's spare room), and for snapshots their descriptions and the one-chunk buffers of
 * a transfer (never a snapshot's body). O(log). */
void raft_memory_get(const struct raft *r, uint64_t *log_bytes, uint64_t *snapshot_bytes);
uint64_t raft_voted_for(const struct raft *r);
const struct raft_config *raft_config_get(const struct raft *r);
const struct raft_stats *raft_stats_get(const struct raft *r);
/* The term of the entry at `index`, or 0 if the log does not hold it (compacted or past
 * the end; the snapshot's last index still answers). */
uint64_t raft_term_at(const struct raft *r, uint64_t index);
/* The entry at `index` if the in-memory log holds it, else NULL. */
const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index);

const char *raft_role_name(uint8_t role);

/* What a leader knows of one peer (for status output and the simulator's dumps). */
struct raft_peer_info {
    uint64_t id;
    uint64_t match, next;
    const char *state; /* "probe", "replicate", "snapshot" */
    uint32_t inflight;
    uint64_t snap_index, snap_offset;
    bool active;
};
/* 0, or PL_ENOTFOUND when not leader or `id` is not a peer. */
int raft_peer_get(const struct raft *r, uint64_t id, struct raft_peer_info *out);

/* Configuration helpers. */
const struct raft_server *raft_config_find(const struct raft_config *c, uint64_t id);
uint32_t raft_config_voters(const struct raft_config *c);

#endif
