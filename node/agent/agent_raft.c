/*
 * The Raft shell of agent_raft.h.
 *
 * Every event goes through step(): the core answers with one update, which this file
 * carries out in the order raft.h prescribes: send, persist, apply to the ledger, deliver
 * results, snapshot. The persist goes to the Raft log writer (raft_writer.h), whose thread
 * commits it with sync off the loop (gossip's probes, the API and the healer share the
 * loop); when it is durable the writer's callback steps RAFT_EV_PERSISTED, which releases
 * what the core withheld (an AppendEntries reply, a vote). Committed entries reach the
 * ledger only once they are durable in the local log too (raft_persisted_index), and a
 * proposal is answered once its entry is in the ledger, so the ledger (written without
 * sync) is never durably ahead of the log and an answer is never ahead of the ledger.
 * Updates submitted while an fsync runs share the next one; proposals arriving in one loop
 * iteration are handed to the core together (a uv_check flushes them), so many proposals
 * share one append and one AppendEntries.
 */
#include "agent_raft.h"

#include "agent_gossip.h"
#include "pl_assert.h"
#include "pl_err.h"
#include "pl_log.h"
#include "pl_mp.h"
#include "pl_text.h"
#include "prom_write.h"
#include "ledger.h"
#include "ledger_proposal.h"
#include "pl_json.h"
#include "raft.h"
#include "raft_storage.h"
#include "raft_transport.h"
#include "raft_wire.h"
#include "raft_writer.h"
#include "replay.h"
#include "snapshot_store.h"
#include "swarm.h"
#include "autopilot.h"
#include "swarm_correlate.h"

#include <errno.h>
#include <malloc.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KNOWN_MAX 64
#define CALLS_MAX 4096
#define QUEUE_MAX 4096
/* Recent (ledger size, state hash) pairs kept to compare with the other voters' gossip. */
#define SWARM_RECENT_MAX 64
/* Member events the leader proposes at once (gossip's view -> the swarm's members). */
#define MEMBER_INFLIGHT_MAX 4
#define VOTERS_CFG_MAX RAFT_SERVERS_MAX
#define HOUSEKEEP_MS 500
#define ADD_VOTER_TIMEOUT_MS 30000
/* Rounds of proposals one flush hands to the core, each made while the last was carried out. */
#define FLUSH_ROUNDS_MAX 16

/* A Raft member as gossip tells us of it. */
struct known {
    uint64_t id;
    char name[AGENT_NAME_MAX];
    char addr[AGENT_ADDR_MAX];
    bool voter;
    bool alive;
    uint64_t dead_since_ms; /* when gossip last saw it stop being alive (0: alive) */
};

enum call_kind { CALL_PROPOSE = 1, CALL_CHANGE, CALL_ADD_VOTER };

/* An API request waiting for the core's outcome (or, on a client, the leader's answer). */
struct call {
    uint64_t id;
    enum call_kind kind;
    struct api_call *api; /* kept */
    uint64_t server;      /* CALL_ADD_VOTER: the server being added */
    uint64_t deadline_ms; /* CALL_ADD_VOTER; a client's proposal */
    /* a client's proposal: its bytes, and the leader it went to (0: to be sent) */
    uint8_t *data;
    uint32_t len;
    uint64_t sent_to;
    uint64_t retry_at_ms;
    /* a proposal from inside the agent (the heal module's outbox): answered here, not on
     * the API */
    agent_raft_propose_cb cb;
    void *cb_data;
    uint64_t started_ns; /* uv_hrtime() at the call: a proposal's latency to its answer */
};

/* A proposal waiting for the next flush. */
struct queued {
    uint64_t id;
    uint8_t *data;
    uint32_t len;
};

struct agent_raft {
    struct agent *agent;
    struct agent_gossip *gossip;
    struct raft raft;
    struct raft_options opts;
    bool raft_open;
    struct raft_transport transport;
    bool transport_open;
    struct ledger ledger;
    bool ledger_open;
    /* The swarm's replicated state machine, fed every ledger entry in order; its hash at
     * recent ledger sizes, to compare with what the other voters gossip. */
    struct swarm_state *swarm;
    struct {
        uint64_t size;
        uint8_t hash[SWARM_HASH_BYTES];
    } swarm_recent[SWARM_RECENT_MAX];
    uint32_t swarm_recent_next;
    uint64_t divergences;
    char divergence[256];
    /* member events the leader proposed and awaits (names), so each is proposed once */
    char member_inflight[MEMBER_INFLIGHT_MAX][AGENT_NAME_MAX];
    uint64_t last_published_size;
    /* gossip's members changed (or a member event failed, or we became leader) since the
     * last reconciliation: only then is the member table compared again */
    bool members_dirty;
    uint64_t last_time_ms; /* time of the newest applied ledger entry */
    /* swarm state snapshots (replay/replay_snap.h): every this many applied entries, the
     * newest `state_snapshots_keep` kept (0: all) */
    uint32_t state_snapshot_every;
    uint32_t state_snapshots_keep;
    uint64_t state_snapshot_last; /* the index of the last one stored or loaded */

    bool voter;
    uint32_t bootstrap_expect;
    char voters_cfg[VOTERS_CFG_MAX][AGENT_NAME_MAX];
    int n_voters_cfg;
    bool auto_join;
    char raft_addr[AGENT_ADDR_MAX];
    bool member; /* the core holds state (bootstrapped or joined) */

    struct known known[KNOWN_MAX];
    int n_known;

    struct call calls[CALLS_MAX];
    int n_calls;
    uint64_t next_id;
    struct queued queue[QUEUE_MAX];
    int n_queue;

    uv_timer_t timer;
    uv_timer_t housekeep;
    uv_check_t flush;
    uv_idle_t wake; /* active while proposals are queued: the loop turns without waiting */
    int fatal;
    uint64_t last_published_term, last_published_commit;
    char last_published_leader[AGENT_NAME_MAX];
    uint64_t logged_leader; /* the leader the log last named (0: none) */
    uint64_t space_dropped; /* messages dropped while the data dir was below its reserve */
    bool apply_behind; /* the ledger missed committed entries (a full disk); caught up later */
    /* InstallSnapshot: the newest snapshot whose leaves this node began to receive
     * (raft_storage.h), and the bytes and leaves moved either way */
    uint64_t receiving;
    uint64_t snap_sent_bytes, snap_received_leaves;
    /* a follower's time staging received leaves: the synced ledger appends, and feeding the
     * swarm state leaf by leaf (with the state snapshots that stores) */
    uint64_t snap_append_ns, snap_state_ns;
    uint64_t snap_taken, snap_taken_index; /* snapshots the core accepted since start */
    struct raft_wire_stats wire_stats;
    void (*stop_done)(struct agent *a);
    /* Added to the loop's clock for the core (see bootstrap: the first election of a new
     * cluster is not kept waiting a whole timeout). A constant shift is invisible to the
     * core otherwise: it only compares times it was given. */
    uint64_t clock_offset_ms;
    /* the leader's correlated failures and the council's autopilot (issue 10) */
    struct correlate_leader correlate;
    struct autopilot_cfg autopilot;
    uv_timer_t kick; /* runs the housekeeping at once after a membership change */
    bool caught_up;  /* applied what a leader had committed when first heard after start */
    char wait_msg[512]; /* why this voter is not in a council yet, as last logged */
    uint64_t wait_logged_ms;
    struct prom_hist proposal_hist; /* seconds from a proposal to its commit, for metrics */
    /* The Raft log writer (voters; NULL on a client or once stopped: writes are then
     * synchronous), and the outcomes of committed proposals whose entries are not in the
     * ledger yet (waiting for the local log's fsync), in the order the core gave them. */
    struct raft_writer *writer;
    struct raft_result held[CALLS_MAX];
    int n_held;
};

static int step(struct agent_raft *ar, const struct raft_event *ev);

static uint64_t now_ms(struct agent_raft *ar) { return pl_clock_mono_ms() + ar->clock_offset_ms; }

uint64_t agent_raft_id(const char *name)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const uint8_t *)name, strlen(name));
    uint64_t id = pl_be64_get(h);
    return id != 0 ? id : 1;
}

static struct known *known_by_id(struct agent_raft *ar, uint64_t id)
{
    for (int i = 0; i < ar->n_known; i++)
        if (ar->known[i].id == id)
            return &ar->known[i];
    return NULL;
}

static struct known *known_by_name(struct agent_raft *ar, const char *name)
{
    for (int i = 0; i < ar->n_known; i++)
        if (strcmp(ar->known[i].name, name) == 0)
            return &ar->known[i];
    return NULL;
}

/* The name of a Raft id, or its hex when we have not heard of it. */
static const char *id_name(struct agent_raft *ar, uint64_t id, char buf[24])
{
    if (id == 0)
        return "";
    struct known *k = known_by_id(ar, id);
    if (k != NULL)
        return k->name;
    snprintf(buf, 24, "%016llx", (unsigned long long)id);
    return buf;
}

static void fatal(struct agent_raft *ar, const char *what, int rc)
{
    if (ar->fatal)
        return;
    ar->fatal = 1;
    /* A store failure carries RocksDB's own words (a full disk, a file size limit). */
    const char *detail = rc == PL_ESTORE ? ar->agent->store.err_text : "";
    PL_ERROR("raft", "%s: %s%s%s; stopping the node rather than serve wrong data", what,
             pl_strerror(rc), detail[0] ? ": " : "", detail);
    agent_fail(ar->agent);
}

/* --- the ledger state machine -------------------------------------------------------- */

/*
 * Turns committed Raft entries into ledger entries. Everything here is a function of the
 * entries alone (and the previous entry's time), so every node writes the same leaves.
 * Apply is total: a NORMAL entry that is not a valid proposal (the same check the API ran)
 * is recorded as kind "raft.rejected" (ledger_entry_from_proposal) and the council goes
 * on. Only the local store failing stops the node.
 */
static int entry_to_ledger(struct agent_raft *ar, const struct raft_entry *e,
                           struct ledger_entry *le, struct pl_buf *body)
{
    le->index = e->index - 1;
    le->term = e->term;
    le->time_ms = ar->last_time_ms;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, body);
    if (e->type == RAFT_ENTRY_NORMAL) {
        struct ledger_problem prob;
        int rc = ledger_entry_from_proposal(e->index - 1, e->term, ar->last_time_ms, e->data,
                                            e->len, body, le, &prob);
        if (rc == 1) {
            PL_LOG_RATELIMITED(PL_LOG_WARN, "raft",
                               "committed entry %llu recorded as %s: %s",
                               (unsigned long long)e->index, LEDGER_KIND_REJECTED, prob.text);
            rc = 0;
        }
        return rc;
    } else if (e->type == RAFT_ENTRY_NOOP) {
        le->kind = "raft.noop";
        pl_mp_map(&w, 1);
        pl_mp_str(&w, "term");
        pl_mp_uint(&w, e->term);
    } else {
        le->kind = "raft.config";
        struct raft_config c;
        pl_mp_map(&w, 1);
        pl_mp_str(&w, "servers");
        if (raft_config_decode(e->data, e->len, &c) == 0) {
            pl_mp_array(&w, c.n);
            for (uint32_t i = 0; i < c.n; i++) {
                char name[24];
                pl_mp_map(&w, 2);
                pl_mp_str(&w, "id");
                snprintf(name, sizeof(name), "%016llx", (unsigned long long)c.servers[i].id);
                pl_mp_str(&w, name);
                pl_mp_str(&w, "role");
                pl_mp_str(&w, c.servers[i].role == RAFT_VOTER ? "voter" : "learner");
            }
        } else {
            pl_mp_nil(&w);
        }
    }
    le->kind_len = strlen(le->kind);
    le->body = body->data;
    le->body_len = body->len;
    return w.err;
}

/* --- the swarm's state machine on top of the ledger ----------------------------------- */

/* Applies one ledger entry to the swarm state (ledger index i is swarm index i + 1); total,
 * so nothing committed stops the node. */
static void swarm_feed(struct agent_raft *ar, const struct ledger_entry *le)
{
    struct swarm_entry se = {.index = le->index + 1, .term = le->term, .time_ms = le->time_ms,
                             .kind = le->kind, .kind_len = le->kind_len, .body = le->body,
                             .body_len = le->body_len};
    struct swarm_applied out;
    int rc = swarm_apply(ar->swarm, &se, &out);
    /* The ledger and the state advance together; a gap here is our own bug. */
    PL_ASSERT(rc == 0);
    if (out.outcome == SWARM_REJECTED)
        PL_LOG_RATELIMITED(PL_LOG_WARN, "swarm", "entry %llu rejected: %s",
                           (unsigned long long)se.index, out.reason);
    uint32_t k = ar->swarm_recent_next++ % SWARM_RECENT_MAX;
    ar->swarm_recent[k].size = ar->swarm->applied_index;
    memcpy(ar->swarm_recent[k].hash, ar->swarm->hash, SWARM_HASH_BYTES);
}

static int swarm_leaf_cb(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
    (void)index;
    struct ledger_entry e;
    int rc = ledger_entry_decode(leaf, len, &e);
    if (rc == 0)
        swarm_feed(ctx, &e);
    return rc;
}

/* The swarm state from the ledger's first entry (at start, and after a snapshot). */
static int swarm_rebuild(struct agent_raft *ar)
{
    swarm_state_init(ar->swarm);
    memset(ar->swarm_recent, 0, sizeof(ar->swarm_recent));
    ar->swarm_recent_next = 0;
    ar->state_snapshot_last = 0;
    if (ar->ledger.size == 0)
        return 0;
    /* From the newest state snapshot this ledger proves (none: from the first entry). */
    struct replay_snap_report rep;
    int rc = replay_snap_load(&ar->agent->store, &ar->ledger, ar->ledger.size, ar->swarm, &rep);
    if (rc != 0 && rc != PL_ENOTFOUND)
        return rc;
    if (rep.skipped > 0)
        PL_WARN("swarm", "%u state snapshot(s) skipped: %s", rep.skipped, rep.why);
    ar->state_snapshot_last = rep.index;
    if (rep.index > 0)
        PL_INFO("swarm", "state from its snapshot index=%llu, then %llu entries",
                (unsigned long long)rep.index,
                (unsigned long long)(ar->ledger.size - rep.index));
    return ledger_leaves_each(&ar->ledger, ar->swarm->applied_index, ar->ledger.size,
                              swarm_leaf_cb, ar);
}

/* Stores the swarm state every state_snapshot_every entries (after a batch is applied, so
 * the state is at the ledger's size); a failure costs only a slower replay. */
static void swarm_snapshot_maybe(struct agent_raft *ar)
{
    if (ar->state_snapshot_every == 0 ||
        ar->swarm->applied_index < ar->state_snapshot_last + ar->state_snapshot_every)
        return;
    int rc = replay_snap_store(&ar->agent->store, &ar->ledger, ar->swarm);
    size_t gone = 0;
    if (rc == 0 && ar->state_snapshots_keep > 0)
        rc = snapshot_retain(&ar->agent->store, ar->state_snapshots_keep, &gone);
    if (rc != 0) {
        PL_LOG_RATELIMITED(PL_LOG_WARN, "swarm", "state snapshot at %llu failed: %s",
                           (unsigned long long)ar->swarm->applied_index, pl_strerror(rc));
        return;
    }
    ar->state_snapshot_last = ar->swarm->applied_index;
    PL_DEBUGF("swarm", "state snapshot index=%llu", (unsigned long long)ar->state_snapshot_last);
}

static int sm_apply(struct agent_raft *ar, const struct raft_entry *entries, uint32_t n)
{
    /* Entries the ledger already holds (re-applied after a restart) are skipped. */
    uint32_t first = 0;
    while (first < n && entries[first].index <= ar->ledger.size)
        first++;
    if (first == n)
        return 0;
    if (entries[first].index != ar->ledger.size + 1) {
        PL_ERROR("raft", "apply gap: ledger size %llu, next entry %llu",
                 (unsigned long long)ar->ledger.size, (unsigned long long)entries[first].index);
        return PL_ECORRUPT;
    }
    uint32_t count = n - first;
    uint64_t last_time_ms = ar->last_time_ms;
    struct ledger_entry *le = calloc(count, sizeof(*le));
    struct pl_buf *bodies = calloc(count, sizeof(*bodies));
    int rc = le != NULL && bodies != NULL ? 0 : -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        pl_buf_init(&bodies[i], LEDGER_LEAF_MAX);
        rc = entry_to_ledger(ar, &entries[first + i], &le[i], &bodies[i]);
        if (rc == 0)
            ar->last_time_ms = le[i].time_ms;
    }
    if (rc == 0)
        rc = ledger_append(&ar->ledger, le, count, pl_clock_wall_ms(), NULL);
    if (rc != 0)
        ar->last_time_ms = last_time_ms; /* applied again later: the same times then */
    for (uint32_t i = 0; rc == 0 && i < count; i++)
        swarm_feed(ar, &le[i]);
    if (rc == 0)
        swarm_snapshot_maybe(ar);
    for (uint32_t i = 0; i < count && bodies != NULL; i++)
        pl_buf_close(&bodies[i]);
    free(le);
    free(bodies);
    return rc;
}

/*
 * Applies the committed entries the ledger lacks, from the core's log, up to what is both
 * applied by the core and durable in this node's own log (raft_persisted_index): the ledger
 * is written without sync, so an entry written before its log record was synced could
 * outlive it in a crash and leave the ledger ahead of the log. Nothing the ledger still
 * needs has been compacted away: a snapshot is taken at most at the ledger's size, and none
 * while a full disk holds the ledger back (PL_ENOSPACE, apply_behind), which the same pass
 * catches up once space returns. 0 or the store's error.
 */
static int ledger_catch_up(struct agent_raft *ar)
{
    uint64_t upto = PL_MIN(raft_applied(&ar->raft), raft_persisted_index(&ar->raft));
    while (ar->ledger.size < upto) {
        uint64_t from = ar->ledger.size + 1;
        uint32_t n = (uint32_t)PL_MIN(upto - ar->ledger.size, (uint64_t)LEDGER_BATCH_MAX);
        const struct raft_entry *e = raft_entry_at(&ar->raft, from);
        if (PL_NEVER(e == NULL || raft_entry_at(&ar->raft, from + n - 1) == NULL))
            return PL_ECORRUPT;
        int rc = sm_apply(ar, e, n);
        if (rc != 0)
            return rc;
    }
    if (ar->apply_behind && ar->ledger.size >= upto) {
        ar->apply_behind = false;
        PL_INFO("raft", "the ledger caught up after its disk had been full size=%llu",
                (unsigned long long)ar->ledger.size);
    }
    return 0;
}

/*
 * The Raft snapshot of the ledger state machine (ledger_codec.h): its description is the
 * ledger's size and root at the applied index, O(1) to take; its body is the ledger's
 * leaves, which stay in RocksDB. A follower that needs them gets the ones it lacks in chunks
 * of snapshot_chunk_bytes (snapshot_read), and writes each chunk straight into its own
 * ledger (snapshot_stage): the leaves are committed entries, so every prefix of them is a
 * ledger this node could have reached by applying entries, and a crash mid-transfer leaves a
 * shorter, clean ledger from which the transfer resumes. Memory stays bounded by one chunk
 * whatever the ledger's size (docs/ARCHITECTURE.md, "InstallSnapshot").
 */
/* 0 once the core took it; PL_ESTATE while the ledger is ahead of the applied index (leaves
 * of a snapshot being received), behind it after a full disk, or the core has one at this
 * index already. The snapshot is at the ledger's size, which may trail the applied index
 * while the local log's fsync runs (ledger_catch_up): the entries after it stay in the log. */
static int snapshot_take(struct agent_raft *ar)
{
    if (ar->apply_behind || ar->ledger.size > raft_applied(&ar->raft))
        return PL_ESTATE;
    struct pl_buf desc;
    pl_buf_init(&desc, 256);
    int rc = ledger_snap_desc_encode(ar->ledger.size, ar->ledger.root, &desc);
    if (rc == 0) {
        struct raft_event ev = {.type = RAFT_EV_SNAPSHOT};
        ev.snapshot.index = ar->ledger.size;
        ev.snapshot.data = desc.data;
        ev.snapshot.len = desc.len;
        ev.snapshot.body_len = ar->ledger.size;
        rc = step(ar, &ev);
        if (rc == 0) {
            PL_INFO("raft", "snapshot taken index=%llu", (unsigned long long)ev.snapshot.index);
            ar->snap_taken++;
            ar->snap_taken_index = ev.snapshot.index;
        }
    } else {
        PL_WARN("raft", "snapshot not taken: %s", pl_strerror(rc));
    }
    pl_buf_close(&desc);
    return rc;
}

struct chunk_fill {
    struct pl_buf leaves; /* consecutive msgpack bins */
    uint32_t n;
    uint32_t bytes_max;
};

static int chunk_leaf_cb(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
    (void)index;
    struct chunk_fill *c = ctx;
    if (c->n > 0 && c->leaves.len + len > c->bytes_max)
        return 1; /* full: stop here */
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, &c->leaves);
    pl_mp_bin(&w, leaf, len);
    c->n++;
    return w.err;
}

/* Leader: the leaves [offset, ...) of the snapshot's body, about bytes_max of them, as one
 * chunk; stepped as RAFT_EV_SNAPSHOT_READ. */
static void snapshot_read(struct agent_raft *ar, const struct raft_read *rd, uint64_t index,
                          uint64_t body_len)
{
    struct chunk_fill c = {.bytes_max = rd->bytes_max};
    pl_buf_init(&c.leaves, (size_t)rd->bytes_max + LEDGER_LEAF_MAX + 16);
    struct pl_buf chunk;
    pl_buf_init(&chunk, (size_t)rd->bytes_max + LEDGER_LEAF_MAX + 32);
    int rc = rd->offset <= body_len && body_len <= ar->ledger.size ? 0 : PL_ESTATE;
    if (rc == 0)
        rc = ledger_leaves_each(&ar->ledger, rd->offset, body_len, chunk_leaf_cb, &c);
    if (rc == 1)
        rc = 0;
    if (rc == 0) {
        struct pl_mp_writer w;
        pl_mp_writer_init(&w, &chunk);
        ledger_chunk_begin(&w, c.n);
        rc = w.err != 0 ? w.err : pl_buf_append(&chunk, c.leaves.data, c.leaves.len);
    }
    if (rc == 0 && chunk.len > UINT32_MAX)
        rc = PL_ETOOBIG;
    if (rc == 0) {
        struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_READ};
        ev.read.to = rd->to;
        ev.read.index = index;
        ev.read.offset = rd->offset;
        ev.read.data = chunk.data;
        ev.read.len = (uint32_t)chunk.len;
        ar->snap_sent_bytes += chunk.len;
        step(ar, &ev);
    } else {
        PL_LOG_RATELIMITED(PL_LOG_WARN, "raft", "snapshot %llu: leaves from %llu not read: %s",
                           (unsigned long long)index, (unsigned long long)rd->offset,
                           pl_strerror(rc));
    }
    pl_buf_close(&chunk);
    pl_buf_close(&c.leaves);
}

/* Follower: appends the chunk's leaves that extend the ledger, synced, and feeds them to the
 * swarm state like applied entries. */
static int stage_cb(void *ctx, const struct ledger_entry *entries, uint32_t n)
{
    struct agent_raft *ar = ctx;
    uint32_t skip = 0;
    while (skip < n && entries[skip].index < ar->ledger.size)
        skip++;
    if (skip == n || entries[skip].index != ar->ledger.size)
        return 0; /* nothing new, or not next to what it holds */
    bool no_sync = ar->ledger.no_sync;
    ar->ledger.no_sync = false; /* the leader counts on what we say we hold */
    uint64_t t0 = uv_hrtime();
    int rc = ledger_append(&ar->ledger, entries + skip, n - skip, pl_clock_wall_ms(), NULL);
    ar->ledger.no_sync = no_sync;
    if (rc != 0)
        return rc;
    uint64_t t1 = uv_hrtime();
    for (uint32_t i = skip; i < n; i++)
        swarm_feed(ar, &entries[i]);
    ar->last_time_ms = entries[n - 1].time_ms;
    ar->snap_received_leaves += n - skip;
    swarm_snapshot_maybe(ar);
    ar->snap_append_ns += t1 - t0;
    ar->snap_state_ns += uv_hrtime() - t1;
    return 0;
}

static void snapshot_stage(struct agent_raft *ar, const struct raft_stage *sg, uint64_t index,
                           uint64_t body_len)
{
    uint64_t size;
    uint8_t root[MERKLE_HASH_BYTES];
    int rc = ledger_snap_desc_decode(sg->snap->data, sg->snap->len, &size, root);
    if (rc != 0 || size != index || body_len != size) {
        PL_LOG_RATELIMITED(PL_LOG_WARN, "raft", "snapshot %llu from the leader: bad description",
                           (unsigned long long)index);
        return;
    }
    /* Once: the ledger may now run ahead of the log (checked at start). */
    if (index > ar->receiving && (rc = raft_storage_receiving_put(&ar->agent->store, index)) == 0)
        ar->receiving = index;
    if (rc == 0 && sg->offset <= ar->ledger.size && ar->ledger.size < body_len)
        rc = ledger_chunk_decode(sg->data, sg->len, sg->offset, stage_cb, ar);
    if (rc != 0) {
        PL_LOG_RATELIMITED(PL_LOG_WARN, "raft", "snapshot %llu: chunk at %llu not kept: %s",
                           (unsigned long long)index, (unsigned long long)sg->offset,
                           pl_strerror(rc));
        if (rc != PL_EMALFORMED)
            return;
    }
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_STAGED};
    ev.staged.index = index;
    ev.staged.held = PL_MIN(ar->ledger.size, body_len);
    step(ar, &ev);
}

/* The ledger holds the snapshot's leaves: its root at the snapshot's size must be the
 * snapshot's. */
static int sm_install(struct agent_raft *ar, const struct raft_snapshot *snap)
{
    uint64_t size;
    uint8_t root[MERKLE_HASH_BYTES], have[MERKLE_HASH_BYTES];
    int rc = ledger_snap_desc_decode(snap->data, snap->len, &size, root);
    if (rc != 0 || size != snap->index)
        return PL_ECORRUPT;
    if (ar->ledger.size < size)
        return PL_ECORRUPT;
    rc = ledger_root_at(&ar->ledger, size, have);
    if (rc == 0 && sodium_memcmp(have, root, MERKLE_HASH_BYTES) != 0)
        rc = PL_EVERIFY;
    return rc;
}

/* At start: the stored snapshot's leaves must be in the ledger. A record from before
 * snapshots had a body holds the whole ledger as an image; the ledger holds those leaves
 * too (an image was only ever stored with them, or restored before its record was), so it
 * becomes a description read from the ledger. */
static int snapshot_loaded(struct agent_raft *ar, struct raft_snapshot *snap, char *err,
                           size_t err_size)
{
    uint64_t size;
    uint8_t root[MERKLE_HASH_BYTES];
    bool old = snap->body_len == 0 && ledger_snap_desc_decode(snap->data, snap->len, &size,
                                                             root) != 0;
    int rc = 0;
    if (old && ar->ledger.size >= snap->index) {
        struct pl_buf desc;
        pl_buf_init(&desc, 256);
        rc = ledger_root_at(&ar->ledger, snap->index, root);
        if (rc == 0)
            rc = ledger_snap_desc_encode(snap->index, root, &desc);
        if (rc == 0) {
            free(snap->data);
            snap->data = desc.data; /* taken over */
            snap->len = desc.len;
            snap->body_len = snap->index;
            desc.data = NULL;
        }
        pl_buf_close(&desc);
    }
    if (rc == 0 && !old)
        rc = sm_install(ar, snap);
    if (rc == 0 && old && ar->ledger.size < snap->index)
        rc = PL_ECORRUPT;
    if (rc != 0)
        snprintf(err, err_size,
                 "the Raft snapshot at %llu does not match the ledger (%llu entries): %s; move "
                 "the data dir aside and start with an empty one: the agent rejoins and catches "
                 "up from the council",
                 (unsigned long long)snap->index, (unsigned long long)ar->ledger.size,
                 pl_strerror(rc));
    return rc;
}

/* --- calls awaiting outcomes --------------------------------------------------------- */

static struct call *call_add(struct agent_raft *ar, enum call_kind kind, struct api_call *api)
{
    if (ar->n_calls >= CALLS_MAX)
        return NULL;
    struct call *c = &ar->calls[ar->n_calls++];
    memset(c, 0, sizeof(*c));
    c->id = ++ar->next_id;
    c->kind = kind;
    c->started_ns = uv_hrtime();
    c->api = api != NULL ? api_call_keep(api) : NULL;
    return c;
}

static void call_remove(struct agent_raft *ar, struct call *c)
{
    free(c->data);
    *c = ar->calls[--ar->n_calls];
}

static struct call *call_find(struct agent_raft *ar, uint64_t id)
{
    for (int i = 0; i < ar->n_calls; i++)
        if (ar->calls[i].id == id)
            return &ar->calls[i];
    return NULL;
}

static int err_status(int err)
{
    switch (err) {
    case PL_ENOLEADER: return 503;
    case PL_ETIMEOUT: return 504;
    case PL_ETOOBIG: return 413;
    case PL_ESTATE: return 409;
    case PL_ERANGE: return 400;
    default: return 500;
    }
}

static void call_fail(struct call *c, int err, const char *why)
{
    if (c->cb != NULL) {
        c->cb(c->cb_data, err, 0);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "%s: %s", why, pl_strerror(err));
    api_kept_reply_error(c->api, err_status(err), msg);
}

static void change_submit(struct agent_raft *ar, uint64_t id, uint8_t op, uint64_t server,
                          int *rc_out);

/* Answers a call whose entry committed at `index` (a proposal's ledger index is one less). */
static void call_done(struct agent_raft *ar, struct call *c, uint64_t index, uint64_t term)
{
    if (c->kind == CALL_PROPOSE)
        prom_hist_observe(&ar->proposal_hist, (double)(uv_hrtime() - c->started_ns) / 1e9);
    if (c->cb != NULL) {
        agent_raft_propose_cb cb = c->cb;
        void *data = c->cb_data;
        call_remove(ar, c);
        cb(data, 0, index);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "index", (double)index);
    if (c->kind == CALL_PROPOSE)
        cJSON_AddNumberToObject(doc, "ledger_index", (double)(index - 1));
    cJSON_AddNumberToObject(doc, "term", (double)term);
    api_kept_reply_json(c->api, 200, doc);
    call_remove(ar, c);
}

static void deliver_result(struct agent_raft *ar, const struct raft_result *res)
{
    struct call *c = call_find(ar, res->id);
    if (c == NULL)
        return;
    if (c->kind == CALL_ADD_VOTER && res->err == 0) {
        /* The learner is in; keep asking to promote it until it has caught up. */
        return;
    }
    if (res->err != 0) {
        if (c->kind == CALL_ADD_VOTER && res->err == PL_ESTATE && now_ms(ar) < c->deadline_ms)
            return;
        call_fail(c, res->err, c->kind == CALL_PROPOSE ? "proposal not committed"
                                                        : "membership change failed");
        call_remove(ar, c);
        return;
    }
    call_done(ar, c, res->index, raft_term(&ar->raft));
}

/* --- sending --------------------------------------------------------------------------- */

static void held_send(const struct fault_held *h)
{
    struct agent_raft *ar = h->ctx;
    if (ar->transport_open && !ar->transport.closing)
        raft_transport_send(&ar->transport, h->peer_id, h->bytes, h->len);
}

static void send_msg(struct agent_raft *ar, const struct raft_msg *m)
{
    struct pl_buf buf;
    pl_buf_init(&buf, RAFT_WIRE_MSG_BYTES_MAX);
    if (raft_wire_encode(m, &buf) != 0) {
        pl_buf_close(&buf);
        return;
    }
    struct known *k = ar->agent->faults.n > 0 ? known_by_id(ar, m->to) : NULL;
    if (ar->agent->faults.n == 0 ||
        fault_pass(&ar->agent->faults, k != NULL ? k->name : NULL, FAULT_OUT, held_send, ar, m->to,
                   NULL, buf.data, buf.len))
        raft_transport_send(&ar->transport, m->to, buf.data, buf.len);
    pl_buf_close(&buf);
}

/* --- the update ------------------------------------------------------------------------ */

static void timer_cb(uv_timer_t *t);

/* Drops held outcomes nobody waits for any more (their calls timed out or failed). Each call
 * has one outcome, so what stays is fewer than CALLS_MAX once a new call's is to be added. */
static void held_prune(struct agent_raft *ar)
{
    int kept = 0;
    for (int i = 0; i < ar->n_held; i++)
        if (call_find(ar, ar->held[i].id) != NULL)
            ar->held[kept++] = ar->held[i];
    ar->n_held = kept;
}

/* Delivers the held outcomes that may go now, then the new ones `res` (n of them), holding
 * back each success whose entry is not in the ledger yet. Only outcomes somebody here waits
 * for are held (deliver_result ignores the others), so at most CALLS_MAX. */
static void results_deliver(struct agent_raft *ar, const struct raft_result *res, uint32_t n)
{
    int kept = 0;
    for (int i = 0; i < ar->n_held; i++) {
        struct raft_result r = ar->held[i];
        if (r.index <= ar->ledger.size)
            deliver_result(ar, &r);
        else
            ar->held[kept++] = r;
    }
    /* A delivery may queue a proposal (propose_bytes) but never steps the core, so nothing
     * re-enters here while the array is compacted. */
    ar->n_held = kept;
    for (uint32_t i = 0; i < n; i++) {
        if (res[i].err != 0 || res[i].index <= ar->ledger.size) {
            deliver_result(ar, &res[i]);
        } else if (call_find(ar, res[i].id) != NULL) {
            if (ar->n_held == CALLS_MAX)
                held_prune(ar);
            PL_ASSERT(ar->n_held < CALLS_MAX);
            ar->held[ar->n_held++] = res[i];
        }
    }
}

/* The Raft log writer's report: everything up to persist_seq `seq` is durable. */
static void writer_done_cb(struct raft_writer *w, uint64_t seq, int err, void *data)
{
    struct agent_raft *ar = data;
    (void)w;
    if (err != 0) {
        fatal(ar, "cannot persist Raft state", err);
        return;
    }
    struct raft_event ev = {.type = RAFT_EV_PERSISTED, .persisted_seq = seq};
    step(ar, &ev);
}

static void handle_update(struct agent_raft *ar, const struct raft_update *u)
{
    int rc;
    /* 2. send, before 1: raft.h allows it (the core withholds every message that depends on
     * state not yet durable), and it lets followers write in parallel with our own fsync
     * (thesis §10.2.1) instead of after it. */
    for (uint32_t i = 0; i < u->n_msgs; i++)
        send_msg(ar, &u->msgs[i]);
    /* 1. persist: on the writer's thread, whose callback steps RAFT_EV_PERSISTED; at once
     * (and stepped below) when the writer is stopped. */
    bool sync = raft_writer_stopped(ar->writer);
    if (u->persist_seq != 0) {
        rc = sync ? raft_storage_persist(&ar->agent->store, u)
                  : raft_writer_submit(ar->writer, u);
        if (rc != 0) {
            fatal(ar, "cannot persist Raft state", rc);
            return;
        }
    }
    /* 3. state machine */
    if (u->install != NULL && (rc = sm_install(ar, u->install)) != 0) {
        fatal(ar, "the ledger does not match the snapshot it received", rc);
        return;
    }
    if (u->install != NULL)
        PL_INFO("raft", "snapshot installed index=%llu: the ledger holds its leaves and root "
                "(%llu leaves received since start)", (unsigned long long)u->install->index,
                (unsigned long long)ar->snap_received_leaves);
    /* u->apply is what the core applied; the ledger takes it (and what came before it)
     * as far as the local log is durable, the rest in the update of its RAFT_EV_PERSISTED. */
    if (ar->ledger.size < raft_applied(&ar->raft)) {
        /* A full disk (PL_ENOSPACE) leaves the ledger behind the core's applied index: the
         * entries stay in the core's log and are applied again once space returns. */
        rc = ledger_catch_up(ar);
        if (rc == PL_ENOSPACE) {
            if (!ar->apply_behind)
                PL_WARN("raft", "committed entries wait for disk space: %s",
                        ar->agent->store.err_text);
            ar->apply_behind = true;
            rc = 0;
        }
        if (rc != 0) {
            fatal(ar, "cannot apply committed entries to the ledger", rc);
            return;
        }
    }
    /* 4. outcomes: a success once its entry is in the ledger */
    results_deliver(ar, u->results, u->n_results);
    /* 5. and 6. snapshots (taken and transferred after the update is done with, since
     * stepping reuses it; the core keeps what the requests point to until then) */
    bool want_snapshot = u->want_snapshot;
    uint64_t seq = u->persist_seq;
    uint64_t deadline = u->deadline_ms;
    struct raft_read reads[RAFT_SERVERS_MAX];
    uint32_t n_reads = PL_MIN(u->n_reads, (uint32_t)RAFT_SERVERS_MAX);
    memcpy(reads, u->reads, n_reads * sizeof(reads[0]));
    struct raft_stage stage = u->stage != NULL ? *u->stage : (struct raft_stage){0};
    if (deadline != 0) {
        uint64_t now = now_ms(ar);
        uv_timer_start(&ar->timer, timer_cb, deadline > now ? deadline - now : 0, 0);
    }
    if (seq != 0 && sync) {
        struct raft_event ev = {.type = RAFT_EV_PERSISTED, .persisted_seq = seq};
        step(ar, &ev);
    }
    if (want_snapshot && !ar->fatal && !ar->apply_behind)
        (void)snapshot_take(ar);
    /* A read or stage names the snapshot by index; if another replaced it meanwhile, the
     * core ignores the answer. */
    for (uint32_t i = 0; i < n_reads && !ar->fatal; i++)
        snapshot_read(ar, &reads[i], reads[i].snap->index, reads[i].snap->body_len);
    if (stage.snap != NULL && !ar->fatal)
        snapshot_stage(ar, &stage, stage.snap->index, stage.snap->body_len);
}

/* One line each time the leader we follow changes: what an operator reads first when
 * asking why a proposal stalled. */
static void log_leader(struct agent_raft *ar)
{
    uint64_t leader = raft_leader(&ar->raft);
    if (leader == ar->logged_leader)
        return;
    ar->logged_leader = leader;
    char buf[24];
    if (leader == 0)
        PL_INFO("raft", "no leader term=%llu", (unsigned long long)raft_term(&ar->raft));
    else if (raft_role(&ar->raft) == RAFT_LEADER) {
        PL_INFO("raft", "elected leader term=%llu", (unsigned long long)raft_term(&ar->raft));
        ar->members_dirty = true; /* what the last leader may have missed */
    } else
        PL_INFO("raft", "leader is %s term=%llu", id_name(ar, leader, buf),
                (unsigned long long)raft_term(&ar->raft));
}

/* Returns what the core said of the event (0: taken). */
static int step(struct agent_raft *ar, const struct raft_event *ev)
{
    if (!ar->raft_open || ar->fatal)
        return PL_ESTATE;
    struct raft_update u;
    int rc = raft_step(&ar->raft, now_ms(ar), ev, &u);
    handle_update(ar, &u);
    log_leader(ar);
    return rc;
}

#define SPACE_RECHECK_MS 100

static void timer_cb(uv_timer_t *t)
{
    struct agent_raft *ar = t->data;
    /* Below its reserve a follower starts no election: a won one's first entry (the no-op)
     * would have to be persisted. Its timers wait until space returns. */
    if (raft_role(&ar->raft) != RAFT_LEADER && pl_store_space_check(&ar->agent->store) != 0) {
        uv_timer_start(&ar->timer, timer_cb, SPACE_RECHECK_MS, 0);
        return;
    }
    struct raft_event ev = {.type = RAFT_EV_TICK};
    step(ar, &ev);
}

/* --- a client of the council (an agent that is not a voter) ---------------------------- */

/* DESIGN.md's roles: a member that is not a voter reaches the healer over the Raft
 * transport as a client. It runs no core and keeps no Raft log: it sends each proposal to
 * the leader the voters' gossiped "raft" records name, the leader answers on the same
 * connection once the entry is committed (raft.c, on_propose), and a leader that no longer
 * leads answers "no leader", which is safe to send again (it appended nothing). */

#define CLIENT_RETRY_MS 100

/* The "raft" record a member publishes through gossip (publish()), parsed; NULL when it
 * has none. The caller deletes it. */
static cJSON *raft_record(struct agent_raft *ar, const char *name)
{
    const uint8_t *v;
    size_t len;
    uint64_t version;
    if (gossip_state_get(agent_gossip_core(ar->gossip), name, "raft", &v, &len, &version) != 0)
        return NULL;
    return cJSON_ParseWithLength((const char *)v, len);
}

/* The leader named in the newest term of the voters' "raft" records, if it is a live voter
 * we can dial; 0 otherwise. */
static uint64_t client_leader(struct agent_raft *ar)
{
    double best_term = 0;
    uint64_t best = 0;
    for (int i = 0; i < ar->n_known; i++) {
        cJSON *doc = ar->known[i].voter ? raft_record(ar, ar->known[i].name) : NULL;
        if (doc == NULL)
            continue;
        const cJSON *term = cJSON_GetObjectItemCaseSensitive(doc, "term");
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "leader"));
        const struct known *k = name != NULL ? known_by_name(ar, name) : NULL;
        if (cJSON_IsNumber(term) && term->valuedouble > best_term && k != NULL && k->alive &&
            k->voter) {
            best_term = term->valuedouble;
            best = k->id;
        }
        cJSON_Delete(doc);
    }
    return best;
}

static void client_send(struct agent_raft *ar, struct call *c)
{
    c->sent_to = client_leader(ar);
    c->retry_at_ms = now_ms(ar) + CLIENT_RETRY_MS;
    if (c->sent_to == 0)
        return;
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_PROPOSE;
    m.from = agent_raft_id(ar->agent->cfg.name);
    m.to = c->sent_to;
    m.propose.id = c->id;
    m.propose.data = c->data;
    m.propose.len = c->len;
    send_msg(ar, &m);
}

static void client_result(struct agent_raft *ar, const struct raft_msg *m)
{
    struct call *c = call_find(ar, m->propose_result.id);
    if (c == NULL || c->data == NULL)
        return;
    int err = m->propose_result.err;
    if (err == PL_ENOLEADER) {
        c->sent_to = 0; /* nothing was appended: ask the next leader gossip names */
        return;
    }
    if (err != 0) {
        call_fail(c, err, err == PL_ETIMEOUT ? "outcome unknown (the leader changed)"
                                             : "proposal not committed");
        call_remove(ar, c);
        return;
    }
    call_done(ar, c, m->propose_result.index, m->propose_result.term);
}

/* Sends what waits for a leader; fails what ran out of time (outcome unknown if sent). */
static void client_tick(struct agent_raft *ar)
{
    uint64_t now = now_ms(ar);
    for (int i = ar->n_calls - 1; i >= 0; i--) {
        struct call *c = &ar->calls[i];
        if (now >= c->deadline_ms) {
            call_fail(c, PL_ETIMEOUT, c->sent_to != 0 ? "outcome unknown (no answer from the leader)"
                                                      : "no council leader known");
            call_remove(ar, c);
        } else if (c->sent_to == 0 && now >= c->retry_at_ms) {
            client_send(ar, c);
        }
    }
}

/* --- receiving ------------------------------------------------------------------------- */

/* A sender we accept: a Raft member gossip told us of, a server of the configuration, or
 * any live gossip member (a client proposing through us; rare, so a scan is fine). */
static bool known_cb(void *ctx, uint64_t id)
{
    struct agent_raft *ar = ctx;
    if (known_by_id(ar, id) != NULL ||
        (ar->raft_open && raft_config_find(raft_config_get(&ar->raft), id) != NULL))
        return true;
    const struct gossip *g = agent_gossip_core(ar->gossip);
    uint32_t slots = gossip_member_slots(g);
    for (uint32_t i = 0; i < slots; i++) {
        const struct gossip_member *m = gossip_member_at(g, i);
        if (m != NULL && m->used && m->status == GOSSIP_ALIVE && agent_raft_id(m->name) == id)
            return true;
    }
    return false;
}

/*
 * A voter whose data dir is below its free-space reserve (pl_store_space_check) must not
 * take a message that makes it write: a newer term, entries to append, a snapshot chunk, a
 * forwarded proposal, or a commit index that would apply entries to the ledger. Refused in the store, that write would
 * stop the node (a persist that fails is fatal); dropped here, the leader's progress for
 * us stays behind and it sends the same again after space returns. Heartbeats that change
 * nothing still pass, so we keep following the leader and start no election.
 */
static bool below_reserve_drop(struct agent_raft *ar, const struct raft_msg *m)
{
    /* A newer term must be persisted before it is acted on, so it counts as a write. */
    bool writes = m->term > raft_term(&ar->raft);
    if (m->type == RAFT_MSG_SNAPSHOT || m->type == RAFT_MSG_PROPOSE)
        writes = true;
    else if (m->type == RAFT_MSG_APPEND)
        writes = writes || m->append.n_entries > 0 ||
                 PL_MIN(m->append.commit, raft_last_index(&ar->raft)) > raft_applied(&ar->raft);
    if (!writes || pl_store_space_check(&ar->agent->store) == 0)
        return false;
    ar->space_dropped++;
    PL_LOG_RATELIMITED(PL_LOG_WARN, "raft",
                       "dropped a message that would write: %s (dropped %llu so far)",
                       ar->agent->store.err_text, (unsigned long long)ar->space_dropped);
    return true;
}

/* Steps a received message (a client has no core: it takes only answers). */
static void deliver(struct agent_raft *ar, const uint8_t *p, size_t n)
{
    struct raft_wire_msg w;
    uint64_t self = agent_raft_id(ar->agent->cfg.name);
    int rc = raft_wire_receive(p, n, self, known_cb, ar, &w, &ar->wire_stats);
    if (rc != 0) {
        PL_LOG_RATELIMITED(PL_LOG_WARN, "raft", "message refused: %s", pl_strerror(rc));
        raft_wire_msg_close(&w);
        return;
    }
    raft_transport_sender_is(&ar->transport, w.msg.from);
    if (!ar->raft_open) {
        if (w.msg.type == RAFT_MSG_PROPOSE_RESULT)
            client_result(ar, &w.msg);
    } else if (!below_reserve_drop(ar, &w.msg)) {
        struct raft_event ev = {.type = RAFT_EV_RECEIVE, .msg = &w.msg};
        step(ar, &ev);
    }
    raft_wire_msg_close(&w);
}

static void held_recv(const struct fault_held *h) { deliver(h->ctx, h->bytes, h->len); }

static void recv_cb(void *ctx, const uint8_t *p, size_t n)
{
    struct agent_raft *ar = ctx;
    if (ar->agent->faults.n > 0) {
        /* The sender is field 3 of the message array; peek at it for per-peer rules. */
        msgpack_unpacked up;
        const char *from_name = NULL;
        uint64_t from = 0;
        if (pl_mp_parse(p, n, &up) == 0) {
            if (up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size > 2 &&
                pl_mp_as_u64(&up.data.via.array.ptr[2], &from) == 0) {
                struct known *k = known_by_id(ar, from);
                from_name = k != NULL ? k->name : NULL;
            }
        }
        msgpack_unpacked_destroy(&up);
        raft_transport_sender_is(&ar->transport, from);
        if (!fault_pass(&ar->agent->faults, from_name, FAULT_IN, held_recv, ar, 0, NULL, p, n))
            return;
    }
    deliver(ar, p, n);
}

/* The connection from a peer ended: if it was our leader, the core campaigns early. */
static void lost_cb(void *ctx, uint64_t id)
{
    struct agent_raft *ar = ctx;
    struct raft_event ev = {.type = RAFT_EV_PEER_LOST, .peer = id};
    step(ar, &ev);
}

/* Sealing with the gossip keyring: 'P' 'R' version flags | sealed payload. */
static int seal_cb(void *ctx, const uint8_t *p, size_t n, struct pl_buf *out)
{
    struct agent_raft *ar = ctx;
    const struct gossip_keyring *kr = agent_gossip_keyring(ar->gossip);
    uint8_t hdr[4] = {'P', 'R', 1, kr != NULL ? 1 : 0};
    int rc = pl_buf_append(out, hdr, 4);
    if (rc != 0)
        return rc;
    if (kr == NULL)
        return pl_buf_append(out, p, n);
    return gossip_keyring_seal(kr, hdr, 4, p, n, out);
}

static int open_cb(void *ctx, const uint8_t *p, size_t n, struct pl_buf *out)
{
    struct agent_raft *ar = ctx;
    const struct gossip_keyring *kr = agent_gossip_keyring(ar->gossip);
    if (n < 4 || p[0] != 'P' || p[1] != 'R' || p[2] != 1) {
        ar->wire_stats.malformed++;
        return PL_EMALFORMED;
    }
    if (kr == NULL) {
        if (p[3] != 0)
            return PL_EAUTH;
        return pl_buf_append(out, p + 4, n - 4);
    }
    if (p[3] != 1)
        return PL_EAUTH; /* a keyring refuses plaintext */
    return gossip_keyring_open(kr, p, 4, p + 4, n - 4, out);
}

/* --- peers from gossip ----------------------------------------------------------------- */

static int tags_get(const struct gossip_member *m, const char *key, char *out, size_t out_size)
{
    msgpack_unpacked up;
    if (m->tags == NULL || pl_mp_parse(m->tags, m->tags_len, &up) != 0)
        return PL_ENOTFOUND;
    int rc = pl_mp_get_cstr(&up.data, key, out, out_size);
    msgpack_unpacked_destroy(&up);
    return rc;
}

static void known_update(struct agent_raft *ar, const struct gossip_member *m)
{
    char addr[AGENT_ADDR_MAX], voter[8] = "";
    if (tags_get(m, "raft", addr, sizeof(addr)) != 0)
        return;
    tags_get(m, "voter", voter, sizeof(voter));
    struct known *k = known_by_name(ar, m->name);
    if (k == NULL) {
        if (ar->n_known >= KNOWN_MAX)
            return;
        k = &ar->known[ar->n_known++];
        memset(k, 0, sizeof(*k));
        snprintf(k->name, sizeof(k->name), "%s", m->name);
        k->id = agent_raft_id(m->name);
    }
    snprintf(k->addr, sizeof(k->addr), "%s", addr);
    k->voter = strcmp(voter, "true") == 0;
    bool was = k->alive || k->dead_since_ms == 0;
    k->alive = m->status == GOSSIP_ALIVE || m->status == GOSSIP_SUSPECT;
    if (k->alive)
        k->dead_since_ms = 0;
    else if (was)
        k->dead_since_ms = now_ms(ar);
    if (ar->transport_open && strcmp(m->name, ar->agent->cfg.name) != 0)
        raft_transport_peer_set(&ar->transport, k->id, k->addr);
}

static void known_refresh(struct agent_raft *ar)
{
    const struct gossip *g = agent_gossip_core(ar->gossip);
    uint32_t slots = gossip_member_slots(g);
    for (uint32_t i = 0; i < slots; i++) {
        const struct gossip_member *m = gossip_member_at(g, i);
        if (m != NULL && m->used)
            known_update(ar, m);
    }
}

static void housekeep_cb(uv_timer_t *t);

static void member_cb(void *data, const struct gossip_out *change)
{
    struct agent_raft *ar = data;
    ar->members_dirty = true;
    /* Bootstrap and auto-join act on membership: look again at once, not at the next round. */
    if (!uv_is_active((uv_handle_t *)&ar->kick) && !ar->agent->stopping)
        uv_timer_start(&ar->kick, housekeep_cb, 0, 0);
    /* Only read the core here (we are inside its output walk); housekeeping acts later. */
    const struct gossip_member *m = gossip_member_find(agent_gossip_core(ar->gossip), change->name);
    if (m != NULL)
        known_update(ar, m);
    else if (change->member_event == GOSSIP_MEMBER_REAP) {
        struct known *k = known_by_name(ar, change->name);
        if (k != NULL && k->alive)
            k->dead_since_ms = now_ms(ar);
        if (k != NULL)
            k->alive = false;
    }
}

/* --- bootstrap and housekeeping -------------------------------------------------------- */

static int name_cmp(const void *a, const void *b) { return strcmp(a, b); }

/* Loads a brand new cluster's first entry on this node and persists it. */
static int bootstrap(struct agent_raft *ar, char names[][AGENT_NAME_MAX], int n)
{
    struct raft_config c = {0};
    for (int i = 0; i < n && c.n < RAFT_SERVERS_MAX; i++) {
        c.servers[c.n].id = agent_raft_id(names[i]);
        c.servers[c.n].role = RAFT_VOTER;
        c.n++;
    }
    struct raft_entry e;
    int rc = raft_bootstrap_entry(&c, &e);
    if (rc != 0)
        return rc;
    struct raft_update u = {0};
    u.persist_seq = 1;
    u.hs_changed = true;
    u.term = 1;
    u.entries = &e;
    u.n_entries = 1;
    rc = raft_storage_persist(&ar->agent->store, &u);
    if (rc == 0) {
        raft_close(&ar->raft);
        ar->raft_open = false;
        rc = raft_init(&ar->raft, &ar->opts, &ar->agent->rand);
        if (rc == 0) {
            ar->raft_open = true;
            rc = raft_load(&ar->raft, 1, 0, NULL, &e, 1);
        }
    }
    free(e.data);
    if (rc == 0) {
        ar->member = true;
        char list[512] = "";
        for (int i = 0; i < n; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "", names[i]);
        PL_INFO("raft", "bootstrapped a new cluster voters=%s", list);
        struct raft_event ev = {.type = RAFT_EV_TICK};
        step(ar, &ev);
        /* The first tick armed an election timer in [T, 2T). Nobody can be leader of a
         * cluster that did not exist a moment ago, so skip the first T (as etcd advances
         * its ticks at boot): the first election now comes within [0, T). */
        ar->clock_offset_ms = ar->opts.election_timeout_ms;
        step(ar, &ev);
    }
    return rc;
}

/* Whether any member reports, through gossip, that it already belongs to a Raft cluster. */
static bool cluster_exists(struct agent_raft *ar)
{
    for (int i = 0; i < ar->n_known; i++) {
        cJSON *doc = raft_record(ar, ar->known[i].name);
        if (doc == NULL)
            continue;
        const cJSON *commit = cJSON_GetObjectItemCaseSensitive(doc, "commit_index");
        bool exists = cJSON_IsNumber(commit) && commit->valuedouble > 0;
        cJSON_Delete(doc);
        if (exists)
            return true;
    }
    return false;
}

#define WAIT_LOG_MS 10000

/* Says why a voter is not in a council yet: when the reason changes, and at most once per
 * WAIT_LOG_MS while it stays the same (two voters of three used to wait in silence). */
static void log_waiting(struct agent_raft *ar, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void log_waiting(struct agent_raft *ar, const char *fmt, ...)
{
    char msg[sizeof(ar->wait_msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    uint64_t now = now_ms(ar);
    if (strcmp(msg, ar->wait_msg) == 0 && now < ar->wait_logged_ms + WAIT_LOG_MS)
        return;
    snprintf(ar->wait_msg, sizeof(ar->wait_msg), "%s", msg);
    ar->wait_logged_ms = now;
    PL_INFO("raft", "%s", msg);
}

/* "a, b, c" of the first n names, into out. */
static const char *names_list(char names[][AGENT_NAME_MAX], int n, char *out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? ", " : "", names[i]);
    return n > 0 ? out : "none";
}

static void maybe_bootstrap(struct agent_raft *ar)
{
    if (ar->member || !ar->voter)
        return;
    /* Someone's election or AppendEntries reached us before we bootstrapped: we already
     * hold (durable) Raft state, so we are part of that cluster now. Bootstrapping on top
     * would rewrite our term and vote, which could let us vote twice in one term. */
    if (raft_term(&ar->raft) > 0 || raft_last_index(&ar->raft) > 0) {
        ar->member = true;
        PL_INFO("raft", "joined through the cluster's messages term=%llu",
                (unsigned long long)raft_term(&ar->raft));
        return;
    }
    char names[KNOWN_MAX][AGENT_NAME_MAX];
    int n = 0;
    if (ar->n_voters_cfg > 0) {
        for (int i = 0; i < ar->n_voters_cfg; i++)
            snprintf(names[n++], AGENT_NAME_MAX, "%s", ar->voters_cfg[i]);
    } else if (ar->bootstrap_expect > 0) {
        for (int i = 0; i < ar->n_known; i++)
            if (ar->known[i].voter && ar->known[i].alive)
                snprintf(names[n++], AGENT_NAME_MAX, "%s", ar->known[i].name);
        qsort(names, (size_t)n, AGENT_NAME_MAX, name_cmp);
        if (cluster_exists(ar)) {
            log_waiting(ar, "a council exists already; waiting for its leader to add this "
                            "voter");
            return;
        }
        if ((uint32_t)n < ar->bootstrap_expect) {
            char list[512];
            log_waiting(ar,
                        "waiting for %u voters to bootstrap the council (raft.bootstrap_expect): "
                        "%d alive so far (%s); %u more must start with raft.voter true and join",
                        ar->bootstrap_expect, n, names_list(names, n, list, sizeof(list)),
                        ar->bootstrap_expect - (uint32_t)n);
            return;
        }
        n = (int)ar->bootstrap_expect;
    } else {
        log_waiting(ar, "waiting for a council's leader to add this voter (neither "
                        "raft.bootstrap_expect nor raft.voters is set)");
        return;
    }
    bool self_in = false;
    for (int i = 0; i < n; i++)
        self_in |= strcmp(names[i], ar->agent->cfg.name) == 0;
    if (!self_in) {
        /* a leader will add us (auto_join) or an operator will */
        char list[512];
        log_waiting(ar, "not among the voters that bootstrap the council (%s); waiting for its "
                        "leader to add this voter", names_list(names, n, list, sizeof(list)));
        return;
    }
    int rc = bootstrap(ar, names, n);
    if (rc != 0)
        fatal(ar, "cannot bootstrap the Raft cluster", rc);
}

static void change_submit(struct agent_raft *ar, uint64_t id, uint8_t op, uint64_t server,
                          int *rc_out)
{
    struct raft_event ev = {.type = RAFT_EV_CHANGE};
    ev.change.id = id;
    ev.change.op = op;
    ev.change.server = server;
    struct raft_update u;
    int rc = raft_step(&ar->raft, now_ms(ar), &ev, &u);
    handle_update(ar, &u);
    if (rc_out != NULL)
        *rc_out = rc;
}

/* The leader brings gossip-tagged voters into the configuration: as a learner first, then
 * promoted once it has caught up (thesis §4.2.1). One change at a time. */
static void auto_join(struct agent_raft *ar)
{
    /* With an autopilot, it alone sizes the council. */
    if (!ar->auto_join || ar->autopilot.enabled || raft_role(&ar->raft) != RAFT_LEADER)
        return;
    const struct raft_config *c = raft_config_get(&ar->raft);
    for (int i = 0; i < ar->n_known; i++) {
        struct known *k = &ar->known[i];
        if (!k->voter || !k->alive)
            continue;
        const struct raft_server *s = raft_config_find(c, k->id);
        int rc = 0;
        if (s == NULL) {
            change_submit(ar, ++ar->next_id, RAFT_ADD_LEARNER, k->id, &rc);
            if (rc == 0)
                PL_INFO("raft", "adding %s as a learner", k->name);
            return;
        }
        if (s->role == RAFT_LEARNER) {
            change_submit(ar, ++ar->next_id, RAFT_PROMOTE, k->id, &rc);
            if (rc == 0) {
                PL_INFO("raft", "promoting %s to voter", k->name);
                return;
            }
        }
    }
}

/* Publishes our Raft view in gossip (what `cluster_exists` and operators read). */
static void publish(struct agent_raft *ar)
{
    char leader_buf[24];
    const char *leader = id_name(ar, raft_leader(&ar->raft), leader_buf);
    uint64_t term = raft_term(&ar->raft), commit = raft_commit_index(&ar->raft);
    if (term == ar->last_published_term && commit == ar->last_published_commit &&
        strcmp(leader, ar->last_published_leader) == 0 &&
        ar->last_published_size == ar->ledger.size)
        return;
    ar->last_published_size = ar->ledger.size;
    ar->last_published_term = term;
    ar->last_published_commit = commit;
    snprintf(ar->last_published_leader, sizeof(ar->last_published_leader), "%s", leader);
    /* The ledger's (size, root) and the swarm's state hash at that size: two voters that
     * differ at the same size raise the divergence alarm (swarm_compare). */
    char root[2 * MERKLE_HASH_BYTES + 1], hash[2 * SWARM_HASH_BYTES + 1];
    pl_hex_encode(ar->ledger.root, MERKLE_HASH_BYTES, root);
    pl_hex_encode(ar->swarm->hash, SWARM_HASH_BYTES, hash);
    char json[512];
    snprintf(json, sizeof(json),
             "{\"term\":%llu,\"leader\":\"%s\",\"commit_index\":%llu,\"ledger_size\":%llu,"
             "\"root\":\"%s\",\"state_hash\":\"%s\"}",
             (unsigned long long)term, leader, (unsigned long long)commit,
             (unsigned long long)ar->ledger.size, root, hash);
    agent_gossip_state_set(ar->gossip, "raft", json);
}

struct member_prop {
    struct agent_raft *ar;
    int slot;
};

static void member_prop_cb(void *data, int err, uint64_t index)
{
    struct member_prop *mp = data;
    (void)index;
    if (err != 0) {
        PL_LOG_RATELIMITED(PL_LOG_INFO, "swarm", "member event for %s not committed: %s",
                           mp->ar->member_inflight[mp->slot], pl_err_name(err));
        mp->ar->members_dirty = true;
    }
    mp->ar->member_inflight[mp->slot][0] = '\0';
    free(mp);
}

/* The leader commits gossip's verdicts as member_event entries: whatever gossip holds that
 * the swarm's state does not (a newer incarnation, or dead/left at the same one), so a
 * verdict missed during a change of leader is made good by the next leader. Apply has the
 * same order, so a proposal that would change nothing is never made. */
static void members_reconcile(struct agent_raft *ar)
{
    /* Every round would compare every member with the table (quadratic at a thousand
     * members, twice a second): only after a change. */
    if (!ar->raft_open || raft_role(&ar->raft) != RAFT_LEADER || ar->agent->stopping ||
        !ar->members_dirty)
        return;
    ar->members_dirty = false;
    const struct gossip *g = agent_gossip_core(ar->gossip);
    for (uint32_t slot = 0; slot < gossip_member_slots(g); slot++) {
        const struct gossip_member *m = gossip_member_at(g, slot);
        if (m == NULL || !m->used)
            continue;
        enum swarm_member_status st = m->status == GOSSIP_DEAD   ? SWARM_MEMBER_DEAD
                                      : m->status == GOSSIP_LEFT ? SWARM_MEMBER_LEFT
                                                                 : SWARM_MEMBER_ALIVE;
        const struct swarm_member *sm = swarm_member_find(ar->swarm, m->name);
        if (sm != NULL && (m->incarnation < sm->incarnation ||
                           (m->incarnation == sm->incarnation && st <= sm->status)))
            continue;
        int free_slot = -1;
        bool inflight = false;
        for (int i = 0; i < MEMBER_INFLIGHT_MAX; i++) {
            inflight |= strcmp(ar->member_inflight[i], m->name) == 0;
            if (ar->member_inflight[i][0] == '\0' && free_slot < 0)
                free_slot = i;
        }
        if (inflight || free_slot < 0) {
            ar->members_dirty = true; /* the answer will tell; look again after it */
            if (free_slot < 0)
                return;
            continue;
        }
        struct swarm_member_event ev = {.status = st, .incarnation = m->incarnation};
        snprintf(ev.node, sizeof(ev.node), "%s", m->name);
        struct pl_buf body;
        pl_buf_init(&body, SWARM_BODY_BYTES_MAX);
        struct member_prop *mp = malloc(sizeof(*mp));
        int rc = mp != NULL ? swarm_member_event_encode(&ev, &body) : -ENOMEM;
        if (rc == 0) {
            mp->ar = ar;
            mp->slot = free_slot;
            snprintf(ar->member_inflight[free_slot], AGENT_NAME_MAX, "%s", m->name);
            rc = agent_raft_propose(ar, swarm_kind_name(SWARM_K_MEMBER), body.data, body.len,
                                    member_prop_cb, mp);
            if (rc != 0)
                ar->member_inflight[free_slot][0] = '\0';
        }
        if (rc != 0)
            free(mp);
        pl_buf_close(&body);
    }
}

/* Compares the other voters' gossiped (ledger size, state hash) with ours at the same
 * size: the same committed entries must give the same state everywhere, so a difference is
 * an alarm (logged on every node that sees it, counted, shown by /v1/swarm). */
static void swarm_compare(struct agent_raft *ar)
{
    for (int i = 0; i < ar->n_known; i++) {
        const struct known *k = &ar->known[i];
        if (!k->voter || !k->alive || strcmp(k->name, ar->agent->cfg.name) == 0)
            continue;
        cJSON *doc = raft_record(ar, k->name);
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(doc, "ledger_size");
        const char *hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "state_hash"));
        if (cJSON_IsNumber(sz) && hash != NULL && sz->valuedouble > 0) {
            uint64_t size = (uint64_t)sz->valuedouble;
            for (uint32_t j = 0; j < SWARM_RECENT_MAX; j++) {
                if (ar->swarm_recent[j].size != size)
                    continue;
                char mine[2 * SWARM_HASH_BYTES + 1];
                pl_hex_encode(ar->swarm_recent[j].hash, SWARM_HASH_BYTES, mine);
                if (strcmp(mine, hash) != 0) {
                    ar->divergences++;
                    snprintf(ar->divergence, sizeof(ar->divergence),
                             "at ledger size %llu %s has state hash %.16s..., this node %.16s...",
                             (unsigned long long)size, k->name, hash, mine);
                    PL_LOG_RATELIMITED(PL_LOG_ERROR, "swarm", "DIVERGENCE %s", ar->divergence);
                }
                break;
            }
        }
        cJSON_Delete(doc);
    }
}

/* --- the council's autopilot (autopilot.h) ---------------------------------------------- */

struct council_prop {
    struct swarm_council_body body;
};

static void council_prop_cb(void *data, int err, uint64_t index)
{
    struct council_prop *cp = data;
    if (err != 0)
        PL_LOG_RATELIMITED(PL_LOG_WARN, "raft", "council change (%s %s) not recorded: %s",
                           swarm_council_op_name(cp->body.op), cp->body.node, pl_err_name(err));
    else
        PL_INFO("raft", "council change recorded at index %llu: %s %s, %u voters",
                (unsigned long long)index, swarm_council_op_name(cp->body.op), cp->body.node,
                cp->body.voters);
    free(cp);
}

static void council_record(struct agent_raft *ar, enum swarm_council_op op, const char *node,
                           uint32_t voters, const char *reason)
{
    struct council_prop *cp = calloc(1, sizeof(*cp));
    if (cp == NULL)
        return;
    cp->body.op = op;
    snprintf(cp->body.node, sizeof(cp->body.node), "%s", node);
    cp->body.voters = voters;
    snprintf(cp->body.reason, sizeof(cp->body.reason), "%s", reason);
    struct pl_buf body;
    pl_buf_init(&body, SWARM_BODY_BYTES_MAX);
    int rc = swarm_council_encode(&cp->body, &body);
    if (rc == 0)
        rc = agent_raft_propose(ar, swarm_kind_name(SWARM_K_COUNCIL), body.data, body.len,
                                council_prop_cb, cp);
    if (rc != 0)
        free(cp);
    pl_buf_close(&body);
}

/* The leader's one council change per round: a long-dead voter out, a healthy member in. */
static void autopilot_run(struct agent_raft *ar)
{
    if (!ar->autopilot.enabled)
        return;
    const struct raft_config *c = raft_config_get(&ar->raft);
    struct autopilot_server view[KNOWN_MAX + RAFT_SERVERS_MAX];
    char names[RAFT_SERVERS_MAX][24];
    int n = 0;
    uint64_t self = agent_raft_id(ar->agent->cfg.name);
    for (uint32_t i = 0; i < c->n; i++) {
        const struct known *k = known_by_id(ar, c->servers[i].id);
        struct autopilot_server *v = &view[n++];
        memset(v, 0, sizeof(*v));
        v->id = c->servers[i].id;
        v->in_config = true;
        v->voter = c->servers[i].role == RAFT_VOTER;
        v->self = v->id == self;
        /* A server gossip never told us of is not judged dead: we cannot see it. */
        v->alive = k == NULL || k->alive;
        v->dead_since_ms = k != NULL ? k->dead_since_ms : 0;
        v->may_vote = k == NULL || k->voter;
        v->name = k != NULL ? k->name : id_name(ar, v->id, names[i]);
    }
    for (int i = 0; i < ar->n_known && n < (int)PL_ARRAY_LEN(view); i++) {
        const struct known *k = &ar->known[i];
        if (raft_config_find(c, k->id) != NULL)
            continue;
        struct autopilot_server *v = &view[n++];
        memset(v, 0, sizeof(*v));
        v->id = k->id;
        v->name = k->name;
        v->may_vote = k->voter;
        v->alive = k->alive;
        v->dead_since_ms = k->dead_since_ms;
    }
    struct autopilot_action act;
    autopilot_decide(&ar->autopilot, view, n, now_ms(ar), &act);
    if (act.op == AUTOPILOT_NONE)
        return;
    static const uint8_t ops[] = {0, RAFT_REMOVE, RAFT_ADD_LEARNER, RAFT_PROMOTE};
    static const enum swarm_council_op council_ops[] = {0, SWARM_COUNCIL_REMOVE,
                                                        SWARM_COUNCIL_ADD_LEARNER,
                                                        SWARM_COUNCIL_PROMOTE};
    const struct autopilot_server *v = &view[act.server];
    int rc = 0;
    change_submit(ar, ++ar->next_id, ops[act.op], v->id, &rc);
    if (rc != 0) {
        /* A learner not caught up yet, or a change still uncommitted: again next round. */
        PL_LOG_RATELIMITED(PL_LOG_DEBUG, "raft", "autopilot: %s %s not yet: %s",
                           swarm_council_op_name(council_ops[act.op]), v->name, pl_err_name(rc));
        return;
    }
    PL_INFO("raft", "autopilot: %s %s (%s)", swarm_council_op_name(council_ops[act.op]), v->name,
            act.reason);
    council_record(ar, council_ops[act.op], v->name, act.voters, act.reason);
}

static void housekeep_cb(uv_timer_t *t)
{
    struct agent_raft *ar = t->data;
    if (ar->fatal)
        return;
    if (!ar->raft_open) {
        client_tick(ar);
        return;
    }
    /* The known table is kept current by member_cb (every join, status, address and tag
     * change is a member event), so nothing here rescans gossip's members. */
    maybe_bootstrap(ar);
    if (ar->apply_behind && pl_store_space_check(&ar->agent->store) == 0) {
        int rc = ledger_catch_up(ar);
        if (rc != 0 && rc != PL_ENOSPACE) {
            fatal(ar, "cannot apply committed entries to the ledger", rc);
            return;
        }
    }
    /* A leader below its reserve refuses every proposal: hand the council to the most
     * up-to-date voter instead (again each round until someone else leads). */
    if (ar->member && raft_role(&ar->raft) == RAFT_LEADER &&
        raft_config_voters(raft_config_get(&ar->raft)) > 1 &&
        pl_store_space_check(&ar->agent->store) != 0) {
        PL_LOG_RATELIMITED(PL_LOG_WARN, "raft", "handing leadership over: %s",
                           ar->agent->store.err_text);
        struct raft_event ev = {.type = RAFT_EV_TRANSFER};
        ev.transfer.to = 0;
        step(ar, &ev);
    }
    if (ar->member) {
        auto_join(ar);
        /* add-voter calls: retry the promotion until it succeeds or times out */
        for (int i = 0; i < ar->n_calls; i++) {
            struct call *c = &ar->calls[i];
            if (c->kind != CALL_ADD_VOTER)
                continue;
            const struct raft_server *s = raft_config_find(raft_config_get(&ar->raft), c->server);
            if (s != NULL && s->role == RAFT_VOTER) {
                cJSON *doc = cJSON_CreateObject();
                cJSON_AddBoolToObject(doc, "voter", 1);
                api_kept_reply_json(c->api, 200, doc);
                call_remove(ar, c);
                i--;
                continue;
            }
            if (now_ms(ar) >= c->deadline_ms) {
                call_fail(c, PL_ETIMEOUT, "the server did not catch up in time");
                call_remove(ar, c);
                i--;
                continue;
            }
            if (s != NULL && raft_role(&ar->raft) == RAFT_LEADER)
                change_submit(ar, c->id, RAFT_PROMOTE, c->server, NULL);
        }
        publish(ar);
        swarm_compare(ar);
        members_reconcile(ar);
        if (raft_role(&ar->raft) == RAFT_LEADER && !ar->agent->stopping) {
            correlate_leader_run(&ar->correlate, ar->swarm);
            autopilot_run(ar);
        }
    }
}

/* --- proposals ------------------------------------------------------------------------- */

/* Hands the queued proposals to the core in one step. Proposals made while its update is
 * carried out (a one-voter council commits and answers within the step, and an answer's
 * callback, such as the heal outbox's, proposes the next entry at once) are queued behind
 * them and stay for the next round. */
static void flush_round(struct agent_raft *ar)
{
    static struct raft_proposal items[QUEUE_MAX];
    int n = ar->n_queue;
    for (int i = 0; i < n; i++) {
        items[i].id = ar->queue[i].id;
        items[i].data = ar->queue[i].data;
        items[i].len = ar->queue[i].len;
    }
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.items = items;
    ev.propose.n = (uint32_t)n;
    struct raft_update u;
    int rc = raft_step(&ar->raft, now_ms(ar), &ev, &u);
    /* The core copies on a leader and forwards on a follower within this step; the bytes
     * must live until the update is carried out. */
    handle_update(ar, &u);
    for (int i = 0; i < n; i++)
        free(ar->queue[i].data);
    PL_ASSERT(ar->n_queue >= n);
    memmove(ar->queue, ar->queue + n, (size_t)(ar->n_queue - n) * sizeof(ar->queue[0]));
    ar->n_queue -= n;
    if (rc != 0) {
        for (int i = 0; i < n; i++) {
            struct call *c = call_find(ar, items[i].id);
            if (c != NULL) {
                call_fail(c, rc, "proposal refused");
                call_remove(ar, c);
            }
        }
    }
}

static void flush_cb(uv_check_t *h)
{
    struct agent_raft *ar = h->data;
    for (int round = 0; ar->n_queue > 0 && round < FLUSH_ROUNDS_MAX; round++)
        flush_round(ar);
    if (ar->n_queue == 0)
        uv_idle_stop(&ar->wake);
}

/* Nothing to do: an active idle handle only keeps the loop from sleeping in its poll, so the
 * check (flush_cb) runs on this turn for a proposal made in a timer or by the last round. */
static void wake_cb(uv_idle_t *h) { (void)h; }

/* Hands encoded proposal bytes (owned by `prop`, taken) to the core, or to the leader when
 * this agent is a client. The outcome goes to the API call, or to cb. A voter whose data
 * dir is below its free-space reserve refuses with PL_ENOSPACE here: once the core has the
 * entry it must persist it, and a voter that cannot persist stops. */
static int propose_bytes(struct agent_raft *ar, struct pl_buf *prop, struct api_call *call,
                         agent_raft_propose_cb cb, void *cb_data, struct call **out)
{
    if (ar->raft_open && pl_store_space_check(&ar->agent->store) != 0) {
        pl_buf_close(prop);
        return PL_ENOSPACE;
    }
    if (ar->raft_open && ar->n_queue >= QUEUE_MAX) {
        pl_buf_close(prop);
        return PL_EFULL;
    }
    struct call *c = call_add(ar, CALL_PROPOSE, call);
    if (c == NULL || (call != NULL && c->api == NULL)) {
        if (c != NULL)
            call_remove(ar, c);
        pl_buf_close(prop);
        return -ENOMEM;
    }
    c->cb = cb;
    c->cb_data = cb_data;
    *out = c;
    size_t len;
    if (!ar->raft_open) {
        c->data = pl_buf_steal(prop, &len);
        c->len = (uint32_t)len;
        c->deadline_ms = now_ms(ar) + ar->opts.proposal_timeout_ms;
        client_send(ar, c);
        return 0;
    }
    ar->queue[ar->n_queue].id = c->id;
    ar->queue[ar->n_queue].data = pl_buf_steal(prop, &len);
    ar->queue[ar->n_queue].len = (uint32_t)len;
    ar->n_queue++;
    if (!ar->agent->stopping)
        uv_idle_start(&ar->wake, wake_cb);
    return 0;
}

const struct swarm_state *agent_raft_swarm(const struct agent_raft *ar) { return ar->swarm; }

bool agent_raft_voter(const struct agent_raft *ar) { return ar->voter; }

bool agent_raft_leads(const struct agent_raft *ar)
{
    return ar->raft_open && ar->member && raft_role(&ar->raft) == RAFT_LEADER;
}

uint64_t agent_raft_contact_age_ms(const struct agent_raft *ar)
{
    if (!ar->raft_open || !ar->member)
        return UINT64_MAX;
    uint64_t t = raft_majority_contact_ms(&ar->raft), now = now_ms((struct agent_raft *)ar);
    return t == 0 ? UINT64_MAX : now > t ? now - t : 0;
}

bool agent_raft_caught_up(struct agent_raft *ar)
{
    if (ar->caught_up || !ar->raft_open || !ar->member)
        return ar->caught_up;
    uint64_t target = raft_leader_commit(&ar->raft);
    if (target == 0 || ar->swarm->applied_index < target)
        return false;
    ar->caught_up = true;
    PL_INFO("raft", "caught up: applied %llu, every entry a leader had committed since start",
            (unsigned long long)ar->swarm->applied_index);
    return true;
}

int agent_raft_propose(struct agent_raft *ar, const char *kind, const uint8_t *body, size_t len,
                       agent_raft_propose_cb cb, void *data)
{
    if (ar->voter && !ar->member)
        return PL_ENOLEADER;
    if (ar->agent->stopping)
        return PL_ESTATE;
    struct pl_buf prop;
    pl_buf_init(&prop, LEDGER_LEAF_MAX);
    struct ledger_problem prob;
    struct ledger_proposal pr = {pl_clock_wall_ms(), kind, strlen(kind), body, len};
    int rc = ledger_proposal_encode(&pr, &prop, &prob);
    if (rc != 0) {
        PL_LOG_RATELIMITED(PL_LOG_WARN, "raft", "internal proposal refused: %s", prob.text);
        pl_buf_close(&prop);
        return rc;
    }
    struct call *c;
    return propose_bytes(ar, &prop, NULL, cb, data, &c);
}

uint64_t agent_raft_known_term(const struct agent_raft *ar)
{
    uint64_t t = ar->raft_open ? raft_term(&ar->raft) : 0;
    return PL_MAX(t, ar->swarm->max_term);
}

/* Kinds only the agent itself proposes: a client forging a decision, its result, an
 * approval, a placement, the blast radius or a rollout would bypass the healer's checks
 * and the operator routes' tokens. */
static bool healer_only(const char *kind)
{
    static const enum swarm_kind kinds[] = {SWARM_K_DECISION, SWARM_K_ACTION_RESULT,
                                            SWARM_K_APPROVAL, SWARM_K_PLACEMENT,
                                            SWARM_K_POLICY,   SWARM_K_ROLLOUT};
    enum swarm_kind k = swarm_kind_parse(kind, strlen(kind));
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (k == kinds[i])
            return true;
    return false;
}

static void api_propose(struct api_call *call, void *data)
{
    struct agent_raft *ar = data;
    if (ar->voter && !ar->member) {
        api_reply_error(call, 503, "this agent is not a member of a Raft cluster yet");
        return;
    }
    cJSON *doc = api_body_json(call);
    if (doc == NULL)
        return;
    const cJSON *kind_item = cJSON_GetObjectItemCaseSensitive(doc, "kind");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(doc, "body");
    const char *kind = kind_item == NULL ? "note" : cJSON_GetStringValue(kind_item);
    if (kind == NULL || body == NULL) {
        cJSON_Delete(doc);
        api_reply_error(call, 400, "%s: need {\"kind\": a string (default \"note\"), "
                                   "\"body\": any JSON}", kind == NULL ? "kind" : "body");
        return;
    }
    if (healer_only(kind)) {
        api_reply_error(call, 400, "kind: \"%s\" entries are the healer's own; use platelet "
                                   "approve or platelet rollout", kind);
        cJSON_Delete(doc);
        return;
    }
    /* The same check runs again on every node at apply (ledger_proposal.h). */
    char *text = cJSON_PrintUnformatted(body);
    struct pl_buf mp, prop;
    pl_buf_init(&mp, LEDGER_LEAF_MAX);
    pl_buf_init(&prop, LEDGER_LEAF_MAX);
    struct ledger_problem prob;
    char err[128] = "";
    int rc = text != NULL ? pl_json_to_msgpack(text, strlen(text), &mp, err, sizeof(err)) : -ENOMEM;
    if (rc == PL_ETOOBIG)
        ledger_problem_set(&prob, rc, "too_big", "body", "larger than %d bytes", LEDGER_LEAF_MAX);
    else if (rc != 0)
        ledger_problem_set(&prob, rc, "body_malformed", "body", "%s", err);
    if (rc == 0) {
        struct ledger_proposal pr = {pl_clock_wall_ms(), kind, strlen(kind), mp.data, mp.len};
        rc = ledger_proposal_encode(&pr, &prop, &prob);
    }
    free(text);
    cJSON_Delete(doc);
    pl_buf_close(&mp);
    if (rc != 0) {
        pl_buf_close(&prop);
        api_reply_error(call, rc == PL_ETOOBIG ? 413 : rc == -ENOMEM ? 500 : 400, "%s",
                        rc == -ENOMEM ? "out of memory" : prob.text);
        return;
    }
    struct call *c = NULL;
    rc = propose_bytes(ar, &prop, call, NULL, NULL, &c);
    if (rc == PL_ENOSPACE)
        api_reply_error(call, 507, "%s", ar->agent->store.err_text);
    else if (rc != 0)
        api_reply_error(call, 503, "%s", rc == PL_EFULL ? "too many proposals queued"
                                                         : "too many proposals waiting");
}

/* --- status and membership API --------------------------------------------------------- */

/* GET /v1/swarm: the replicated state (replay.h's view), this node's ledger size and root,
 * every voter's gossiped (size, root, state hash), and the divergence alarm. */
static void api_swarm(struct api_call *call, void *data)
{
    struct agent_raft *ar = data;
    cJSON *doc = cJSON_CreateObject();
    char buf[24];
    cJSON_AddStringToObject(doc, "node", ar->agent->cfg.name);
    /* A client runs no core: the healer is what the voters' records name. */
    cJSON_AddStringToObject(doc, "healer", ar->raft_open ? id_name(ar, raft_leader(&ar->raft), buf)
                                                         : "");
    cJSON_AddNumberToObject(doc, "term", ar->raft_open ? (double)raft_term(&ar->raft) : 0);
    cJSON *ledger = cJSON_AddObjectToObject(doc, "ledger");
    char root[2 * MERKLE_HASH_BYTES + 1];
    pl_hex_encode(ar->ledger.root, MERKLE_HASH_BYTES, root);
    cJSON_AddNumberToObject(ledger, "size", (double)ar->ledger.size);
    cJSON_AddStringToObject(ledger, "root", root);
    cJSON_AddItemToObject(doc, "state", replay_state_json(ar->swarm));
    /* The council as Raft's configuration holds it (what the autopilot changes). */
    cJSON *council = cJSON_AddObjectToObject(doc, "council");
    cJSON *cv = cJSON_AddArrayToObject(council, "voters");
    cJSON *cl = cJSON_AddArrayToObject(council, "learners");
    const struct raft_config *rc = ar->raft_open ? raft_config_get(&ar->raft) : NULL;
    for (uint32_t i = 0; rc != NULL && i < rc->n; i++)
        cJSON_AddItemToArray(rc->servers[i].role == RAFT_VOTER ? cv : cl,
                             cJSON_CreateString(id_name(ar, rc->servers[i].id, buf)));
    cJSON_AddBoolToObject(council, "autopilot", ar->autopilot.enabled);
    cJSON *nodes = cJSON_AddArrayToObject(doc, "voters");
    for (int i = 0; i < ar->n_known; i++) {
        if (!ar->known[i].voter)
            continue;
        cJSON *rec = raft_record(ar, ar->known[i].name);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", ar->known[i].name);
        cJSON_AddBoolToObject(x, "alive", ar->known[i].alive);
        static const char *const keys[] = {"ledger_size", "root", "state_hash", "term", "leader"};
        for (size_t k = 0; rec != NULL && k < sizeof(keys) / sizeof(keys[0]); k++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, keys[k]);
            if (v != NULL)
                cJSON_AddItemToObject(x, keys[k], cJSON_Duplicate(v, 1));
        }
        cJSON_Delete(rec);
        cJSON_AddItemToArray(nodes, x);
    }
    cJSON *alarm = cJSON_AddObjectToObject(doc, "divergence");
    cJSON_AddNumberToObject(alarm, "count", (double)ar->divergences);
    cJSON_AddStringToObject(alarm, "last", ar->divergence);
    api_reply_json(call, 200, doc);
}

/* GET /v1/strategies: what the swarm learned, from the state this node applied. */
static void api_strategies(struct api_call *call, void *data)
{
    struct agent_raft *ar = data;
    api_reply_json(call, 200, replay_strategies_json(ar->swarm));
}

static void api_status(struct api_call *call, void *data)
{
    struct agent_raft *ar = data;
    char buf[24];
    uint64_t self = agent_raft_id(ar->agent->cfg.name);
    const struct raft_config *c = raft_config_get(&ar->raft);
    const struct raft_server *me = raft_config_find(c, self);
    const char *role;
    switch (raft_role(&ar->raft)) {
    case RAFT_LEADER: role = "leader"; break;
    case RAFT_CANDIDATE:
    case RAFT_PRE_CANDIDATE: role = "candidate"; break;
    default: role = me != NULL && me->role == RAFT_LEARNER ? "learner" : "follower";
    }
    if (!ar->member)
        role = "none";
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "id", ar->agent->cfg.name);
    cJSON_AddStringToObject(doc, "role", role);
    if (!ar->member && ar->wait_msg[0] != '\0')
        cJSON_AddStringToObject(doc, "waiting", ar->wait_msg);
    cJSON_AddNumberToObject(doc, "term", (double)raft_term(&ar->raft));
    cJSON_AddStringToObject(doc, "leader", id_name(ar, raft_leader(&ar->raft), buf));
    cJSON_AddNumberToObject(doc, "commit_index", (double)raft_commit_index(&ar->raft));
    cJSON_AddNumberToObject(doc, "last_applied", (double)raft_applied(&ar->raft));
    cJSON_AddNumberToObject(doc, "last_index", (double)raft_last_index(&ar->raft));
    cJSON_AddNumberToObject(doc, "dropped_below_reserve", (double)ar->space_dropped);
    cJSON_AddBoolToObject(doc, "ledger_behind", ar->apply_behind);
    uint64_t log_bytes, snap_bytes;
    raft_memory_get(&ar->raft, &log_bytes, &snap_bytes);
    cJSON *mem = cJSON_AddObjectToObject(doc, "memory");
    cJSON_AddNumberToObject(mem, "log_bytes", (double)log_bytes);
    cJSON_AddNumberToObject(mem, "snapshot_bytes", (double)snap_bytes);
    cJSON *snap = cJSON_AddObjectToObject(doc, "snapshots");
    cJSON_AddNumberToObject(snap, "taken", (double)ar->snap_taken);
    cJSON_AddNumberToObject(snap, "last_index", (double)ar->snap_taken_index);
    /* A snapshot is the ledger's size and root, taken at once: nothing is ever built. */
    cJSON_AddNumberToObject(snap, "last_build_ms", 0);
    cJSON_AddBoolToObject(snap, "building", false);
    cJSON *xfer = cJSON_AddObjectToObject(doc, "snapshot_transfer");
    cJSON_AddNumberToObject(xfer, "sent_bytes", (double)ar->snap_sent_bytes);
    cJSON_AddNumberToObject(xfer, "received_leaves", (double)ar->snap_received_leaves);
    cJSON_AddNumberToObject(xfer, "append_ms", (double)ar->snap_append_ns / 1e6);
    cJSON_AddNumberToObject(xfer, "state_ms", (double)ar->snap_state_ns / 1e6);
    cJSON *voters = cJSON_AddArrayToObject(doc, "voters");
    cJSON *learners = cJSON_AddArrayToObject(doc, "learners");
    for (uint32_t i = 0; i < c->n; i++)
        cJSON_AddItemToArray(c->servers[i].role == RAFT_VOTER ? voters : learners,
                             cJSON_CreateString(id_name(ar, c->servers[i].id, buf)));
    cJSON *ledger = cJSON_AddObjectToObject(doc, "ledger");
    char root[2 * MERKLE_HASH_BYTES + 1];
    pl_hex_encode(ar->ledger.root, MERKLE_HASH_BYTES, root);
    cJSON_AddNumberToObject(ledger, "size", (double)ar->ledger.size);
    cJSON_AddStringToObject(ledger, "root", root);
    const struct raft_stats *st = raft_stats_get(&ar->raft);
    cJSON *stats = cJSON_AddObjectToObject(doc, "stats");
    cJSON_AddNumberToObject(stats, "elections", (double)st->elections);
    cJSON_AddNumberToObject(stats, "dropped_stale", (double)st->dropped_stale);
    cJSON_AddNumberToObject(stats, "dropped_unknown", (double)(st->dropped_unknown + ar->wire_stats.unknown_node));
    cJSON_AddNumberToObject(stats, "dropped_malformed", (double)(ar->wire_stats.malformed + ar->wire_stats.version));
    cJSON_AddNumberToObject(stats, "dropped_unopened", (double)ar->transport.stats.dropped_unopened);
    cJSON_AddNumberToObject(stats, "disk_stall_stepdowns", (double)st->disk_stall_stepdowns);
    cJSON_AddNumberToObject(stats, "quorum_stepdowns", (double)st->quorum_stepdowns);
    api_reply_json(call, 200, doc);
}

/* Resolves "name" in a body to a Raft id of a known member; replies itself on failure. */
static int body_server(struct agent_raft *ar, struct api_call *call, bool required, uint64_t *id)
{
    cJSON *doc = api_body_json(call);
    if (doc == NULL)
        return PL_EUSAGE;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "name"));
    int rc = 0;
    *id = 0;
    if (name == NULL || name[0] == '\0') {
        if (required) {
            api_reply_error(call, 400, "need {\"name\": member name}");
            rc = PL_EUSAGE;
        }
    } else {
        struct known *k = known_by_name(ar, name);
        *id = k != NULL ? k->id : agent_raft_id(name);
        if (k == NULL && raft_config_find(raft_config_get(&ar->raft), *id) == NULL) {
            api_reply_error(call, 404, "no Raft member or gossip member named %s", name);
            rc = PL_ENOTFOUND;
        }
    }
    cJSON_Delete(doc);
    return rc;
}

static void api_transfer(struct api_call *call, void *data)
{
    struct agent_raft *ar = data;
    uint64_t to;
    if (body_server(ar, call, false, &to) != 0)
        return;
    if (raft_role(&ar->raft) != RAFT_LEADER) {
        char buf[24];
        api_reply_error(call, 421, "this agent is not the leader (the leader is %s)",
                        id_name(ar, raft_leader(&ar->raft), buf));
        return;
    }
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.to = to;
    struct raft_update u;
    int rc = raft_step(&ar->raft, now_ms(ar), &ev, &u);
    handle_update(ar, &u);
    if (rc != 0) {
        api_reply_error(call, err_status(rc), "transfer refused: %s", pl_strerror(rc));
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "transferring", 1);
    api_reply_json(call, 200, doc);
}

/* POST /v1/raft/snapshot: takes a snapshot of the applied ledger now (its size and root, as
 * the threshold's are); /v1/raft/status's "snapshots" counts it. 202 as when snapshots were
 * built in the background, so clients that wait for the count keep working. */
static void api_snapshot(struct api_call *call, void *data)
{
    struct agent_raft *ar = data;
    if (ar->fatal || !ar->raft_open) {
        api_reply_error(call, 409, "no Raft state to snapshot on this agent");
        return;
    }
    if (ar->snap_taken > 0 && ar->ledger.size <= ar->snap_taken_index) {
        api_reply_error(call, 409, "snapshot not taken: nothing applied since the last one at %llu",
                        (unsigned long long)ar->snap_taken_index);
        return;
    }
    uint64_t at = ar->ledger.size;
    int rc = snapshot_take(ar);
    if (rc != 0) {
        api_reply_error(call, 409, "snapshot not taken: %s",
                        rc == PL_ESTATE ? "the ledger is ahead of the applied index or held "
                                          "back by a full disk, or a snapshot at this "
                                          "index exists"
                                        : pl_strerror(rc));
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "index", (double)at);
    api_reply_json(call, 202, doc);
}

static void api_change(struct api_call *call, struct agent_raft *ar, uint8_t op)
{
    uint64_t server;
    if (body_server(ar, call, true, &server) != 0)
        return;
    if (raft_role(&ar->raft) != RAFT_LEADER) {
        char buf[24];
        api_reply_error(call, 421, "membership changes go to the leader (%s)",
                        id_name(ar, raft_leader(&ar->raft), buf));
        return;
    }
    struct call *c = call_add(ar, op == RAFT_ADD_LEARNER ? CALL_ADD_VOTER : CALL_CHANGE, call);
    if (c == NULL || c->api == NULL) {
        api_reply_error(call, 503, "too many requests waiting");
        return;
    }
    c->server = server;
    c->deadline_ms = now_ms(ar) + ADD_VOTER_TIMEOUT_MS;
    const struct raft_server *s = raft_config_find(raft_config_get(&ar->raft), server);
    if (op == RAFT_ADD_LEARNER && s != NULL) {
        /* Already a learner or voter: the housekeeping loop promotes or answers. */
        return;
    }
    int rc;
    change_submit(ar, c->id, op, server, &rc);
    if (rc != 0) {
        call_fail(c, rc, "membership change refused");
        call_remove(ar, c);
    }
}

static void api_add_voter(struct api_call *call, void *data) { api_change(call, data, RAFT_ADD_LEARNER); }
static void api_remove(struct api_call *call, void *data) { api_change(call, data, RAFT_REMOVE); }

/* --- config and lifecycle -------------------------------------------------------------- */

static int config_parse(struct agent_raft *ar, const struct agent_config *cfg, char *err,
                        size_t err_size)
{
    raft_options_default(&ar->opts, agent_raft_id(cfg->name));
    /* This stage's state machine is the whole ledger, so a snapshot costs O(ledger): take
     * one rarely (the in-memory log holds up to this many entries meanwhile). */
    ar->opts.snapshot_threshold = 100000;
    ar->opts.snapshot_trailing = 10000;
    ar->state_snapshot_every = 4096;
    ar->state_snapshots_keep = 0;
    ar->auto_join = true;
    /* Default Raft address: the gossip bind host, port + 1. */
    char host[AGENT_ADDR_MAX];
    int port;
    pl_addr_split(cfg->advertise, host, sizeof(host), &port);
    snprintf(ar->raft_addr, sizeof(ar->raft_addr), "%s:%d", host, port + 1);
    /* --raft-bind wins over raft.bind, like every flag over the file. */
    const char *flag = cfg->raft_bind;
    if (flag[0] != '\0')
        snprintf(ar->raft_addr, sizeof(ar->raft_addr), "%s", flag);
    int prc = correlate_cfg_parse(cfg->root, cfg->source, &ar->correlate.cfg, err, err_size);
    if (prc == 0)
        prc = autopilot_cfg_parse(cfg->root, cfg->source, &ar->autopilot, err, err_size);
    if (prc != 0)
        return prc;
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(cfg->root, "raft");
    if (sec == NULL)
        return 0;
    struct config_ctx c = {cfg->source, err, err_size};
    if (!cJSON_IsObject(sec)) {
        snprintf(err, err_size, "%s: raft: expected an object", cfg->source);
        return PL_ECONFIG;
    }
    static const char *const known_keys[] = {
        "voter", "bootstrap_expect", "voters", "bind", "election_timeout_ms", "heartbeat_ms",
        "pre_vote", "check_quorum", "snapshot_threshold", "snapshot_trailing",
        "snapshot_chunk_bytes", "auto_join",
        "proposal_timeout_ms", "state_snapshot_every", "state_snapshots_keep", NULL};
    int rc = config_check_keys(&c, sec, "raft", known_keys);
    uint64_t v;
    if (rc == 0)
        rc = config_get_bool(&c, sec, "raft", "voter", &ar->voter);
    if (rc == 0)
        rc = config_get_bool(&c, sec, "raft", "auto_join", &ar->auto_join);
    v = 0;
    if (rc == 0 && (rc = config_get_u64(&c, sec, "raft", "bootstrap_expect", 1, RAFT_SERVERS_MAX, &v)) == 0)
        ar->bootstrap_expect = (uint32_t)v;
    if (rc == 0 && flag[0] == '\0')
        rc = config_get_str(&c, sec, "raft", "bind", ar->raft_addr, sizeof(ar->raft_addr));
    if (rc == 0 && agent_config_addr_check(ar->raft_addr) != 0) {
        snprintf(err, err_size, "%s: raft.bind: " AGENT_ADDR_EXPECTED ", got \"%s\"%s",
                 cfg->source, ar->raft_addr,
                 cJSON_GetObjectItemCaseSensitive(sec, "bind") == NULL
                     ? " (the default, the gossip port + 1)" : "");
        rc = PL_ECONFIG;
    }
#define OPT(key, min, max)                                                 \
    if (rc == 0) {                                                         \
        v = ar->opts.key;                                                  \
        rc = config_get_u64(&c, sec, "raft", #key, min, max, &v);          \
        ar->opts.key = (uint32_t)v;                                        \
    }
    OPT(election_timeout_ms, 10, 600000);
    OPT(heartbeat_ms, 5, 60000);
    OPT(snapshot_threshold, 16, 100000000);
    OPT(snapshot_trailing, 0, 100000000);
    /* Below one leaf a chunk still carries one leaf; the wire's limit leaves room for it. */
    OPT(snapshot_chunk_bytes, 256, RAFT_WIRE_MSG_BYTES_MAX / 2);
    OPT(proposal_timeout_ms, 100, 600000);
#undef OPT
    /* 0: no state snapshots (replay and restarts then apply the whole ledger). */
    v = ar->state_snapshot_every;
    if (rc == 0 && (rc = config_get_u64(&c, sec, "raft", "state_snapshot_every", 0, 100000000,
                                        &v)) == 0)
        ar->state_snapshot_every = (uint32_t)v;
    v = ar->state_snapshots_keep;
    if (rc == 0 && (rc = config_get_u64(&c, sec, "raft", "state_snapshots_keep", 0, 100000000,
                                        &v)) == 0)
        ar->state_snapshots_keep = (uint32_t)v;
    if (rc == 0)
        rc = config_get_bool(&c, sec, "raft", "pre_vote", &ar->opts.pre_vote);
    if (rc == 0)
        rc = config_get_bool(&c, sec, "raft", "check_quorum", &ar->opts.check_quorum);
    if (rc == 0 && ar->opts.heartbeat_ms >= ar->opts.election_timeout_ms) {
        snprintf(err, err_size, "%s: raft.heartbeat_ms must be below election_timeout_ms",
                 cfg->source);
        rc = PL_ECONFIG;
    }
    const cJSON *voters = cJSON_GetObjectItemCaseSensitive(sec, "voters");
    if (rc == 0 && voters != NULL) {
        const cJSON *n;
        if (!cJSON_IsArray(voters) || cJSON_GetArraySize(voters) == 0 ||
            cJSON_GetArraySize(voters) > VOTERS_CFG_MAX) {
            snprintf(err, err_size, "%s: raft.voters: expected 1 to %d node names", cfg->source,
                     VOTERS_CFG_MAX);
            return PL_ECONFIG;
        }
        cJSON_ArrayForEach(n, voters)
        {
            if (!cJSON_IsString(n) || n->valuestring[0] == '\0' ||
                strlen(n->valuestring) >= AGENT_NAME_MAX) {
                snprintf(err, err_size, "%s: raft.voters[%d]: expected a node name", cfg->source,
                         ar->n_voters_cfg);
                return PL_ECONFIG;
            }
            snprintf(ar->voters_cfg[ar->n_voters_cfg++], AGENT_NAME_MAX, "%s", n->valuestring);
        }
    }
    return rc;
}

int agent_raft_config_check(const struct agent_config *cfg, char *err, size_t err_size)
{
    struct agent_raft *ar = calloc(1, sizeof(*ar));
    if (ar == NULL)
        return -ENOMEM;
    int rc = config_parse(ar, cfg, err, err_size);
    free(ar);
    return rc;
}

static int raft_module_start(struct agent *a, void **state, char *err, size_t err_size)
{
    struct agent_raft *ar = calloc(1, sizeof(*ar));
    if (ar == NULL)
        return -ENOMEM;
    *state = ar;
    ar->agent = a;
    ar->gossip = agent_module_state(a, "gossip");
    /* Proposal ids must never repeat, across restarts too: the leader remembers recent
     * placements by (sender, id) to drop a duplicate, and would answer a new proposal
     * under a reused id with an old entry's index. Counting up from a random start
     * (62 bits: room to count) keeps them apart with no stored counter. */
    ar->next_id = pl_rand_next(&a->rand) >> 2;
    int rc = config_parse(ar, &a->cfg, err, err_size);
    if (rc != 0)
        return rc;
    ar->correlate.agent = a;
    ar->correlate.raft = ar;
    ar->correlate.gossip = ar->gossip;
    uv_timer_init(&a->loop, &ar->timer);
    uv_timer_init(&a->loop, &ar->housekeep);
    uv_timer_init(&a->loop, &ar->kick);
    uv_check_init(&a->loop, &ar->flush);
    uv_idle_init(&a->loop, &ar->wake);
    static const double proposal_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    prom_hist_init(&ar->proposal_hist, proposal_bounds, (int)PL_ARRAY_LEN(proposal_bounds));
    ar->timer.data = ar->housekeep.data = ar->flush.data = ar->kick.data = ar;

    /* The ledger is the state machine; open it first so a corrupt one stops us early. */
    rc = ledger_open(&ar->ledger, &a->store, &a->keys);
    if (rc != 0) {
        snprintf(err, err_size, "ledger: %s", ar->ledger.err_text[0] ? ar->ledger.err_text : pl_strerror(rc));
        return rc;
    }
    ar->ledger_open = true;
    ar->swarm = malloc(sizeof(*ar->swarm));
    if (ar->swarm == NULL || (rc = swarm_rebuild(ar)) != 0) {
        snprintf(err, err_size, "swarm: cannot rebuild the state from the ledger: %s",
                 ar->swarm == NULL ? "out of memory" : pl_strerror(rc));
        return ar->swarm == NULL ? -ENOMEM : rc;
    }
    /* The Raft log is synced and re-applied after a crash, so the ledger need not wait for
     * the disk on every apply (one fsync per commit instead of two). */
    ar->ledger.no_sync = true;
    if (ar->ledger.size > 0) {
        uint8_t *leaf;
        size_t len;
        struct ledger_entry e;
        if (ledger_leaf_get(&ar->ledger, ar->ledger.size - 1, &leaf, &len) == 0) {
            if (ledger_entry_decode(leaf, len, &e) == 0)
                ar->last_time_ms = e.time_ms;
            free(leaf);
        }
    }
    api_route_add(&a->api, "GET", "/v1/raft/status", api_status, ar);
    api_route_add(&a->api, "GET", "/v1/swarm", api_swarm, ar);
    api_route_add(&a->api, "GET", "/v1/strategies", api_strategies, ar);
    api_route_add(&a->api, "POST", "/v1/propose", api_propose, ar);
    if (!ar->voter) {
        struct raft_transport_hooks hooks = {ar, recv_cb, seal_cb, open_cb, NULL};
        rc = raft_transport_init(&ar->transport, &a->loop, NULL, &hooks);
        ar->transport_open = true;
        if (rc != 0) {
            snprintf(err, err_size, "Raft client transport: %s", pl_strerror(rc));
            return rc;
        }
        agent_gossip_subscribe(ar->gossip, member_cb, ar);
        known_refresh(ar);
        uv_timer_start(&ar->housekeep, housekeep_cb, CLIENT_RETRY_MS, CLIENT_RETRY_MS);
        PL_INFO("raft", "not a voter: proposals go to the council's leader as a client");
        return 0;
    }

    struct raft_storage_state st;
    rc = raft_storage_load(&a->store, &st, err, err_size);
    if (rc != 0)
        return rc;
    rc = st.has_snapshot ? snapshot_loaded(ar, &st.snapshot, err, err_size) : 0;
    if (rc != 0) {
        raft_storage_state_free(&st);
        return rc;
    }
    rc = raft_init(&ar->raft, &ar->opts, &a->rand);
    if (rc == 0) {
        ar->raft_open = true;
        rc = raft_load(&ar->raft, st.term, st.vote, st.has_snapshot ? &st.snapshot : NULL,
                       st.entries, st.n_entries);
    }
    ar->member = !st.empty;
    ar->receiving = st.receiving;
    raft_storage_state_free(&st);
    if (rc != 0) {
        snprintf(err, err_size, "the Raft store is inconsistent: %s", pl_strerror(rc));
        return rc;
    }
    /* A snapshot's leaves, received before a restart, may run ahead of the log. */
    if (ar->ledger.size > PL_MAX(raft_last_index(&ar->raft), ar->receiving)) {
        snprintf(err, err_size,
                 "the ledger holds %llu entries but the Raft log ends at %llu: entries were "
                 "written outside Raft (ledger append?); keep them with 'platelet audit export "
                 "--data-dir %s', then move the data dir aside and start with an empty one: "
                 "the agent rejoins and catches up from the council",
                 (unsigned long long)ar->ledger.size, (unsigned long long)raft_last_index(&ar->raft),
                 a->cfg.data_dir);
        return PL_ECORRUPT;
    }

    rc = raft_writer_new(&a->loop, &a->store, writer_done_cb, ar, &ar->writer);
    if (rc != 0) {
        snprintf(err, err_size, "cannot start the Raft log writer: %s", uv_strerror(rc));
        return rc;
    }
    struct raft_transport_hooks hooks = {ar, recv_cb, seal_cb, open_cb, lost_cb};
    rc = raft_transport_init(&ar->transport, &a->loop, ar->raft_addr, &hooks);
    ar->transport_open = true;
    if (rc != 0) {
        snprintf(err, err_size, "cannot listen for Raft on %s: %s", ar->raft_addr,
                 rc < 0 && rc > -4096 ? uv_strerror(rc) : pl_strerror(rc));
        return rc;
    }
    agent_gossip_subscribe(ar->gossip, member_cb, ar);
    agent_gossip_tag_set(ar->gossip, "raft", ar->raft_addr);
    agent_gossip_tag_set(ar->gossip, "voter", "true");
    known_refresh(ar);

    api_route_add(&a->api, "POST", "/v1/raft/transfer", api_transfer, ar);
    api_route_add(&a->api, "POST", "/v1/raft/snapshot", api_snapshot, ar);
    api_route_add(&a->api, "POST", "/v1/raft/add-voter", api_add_voter, ar);
    api_route_add(&a->api, "POST", "/v1/raft/remove", api_remove, ar);
    uv_check_start(&ar->flush, flush_cb);
    uv_timer_start(&ar->housekeep, housekeep_cb, 0, HOUSEKEEP_MS);
    struct raft_event ev = {.type = RAFT_EV_TICK};
    step(ar, &ev);
    PL_INFO("raft", "started addr=%s member=%s term=%llu last_index=%llu ledger_size=%llu",
            ar->raft_addr, ar->member ? "yes" : "no", (unsigned long long)raft_term(&ar->raft),
            (unsigned long long)raft_last_index(&ar->raft), (unsigned long long)ar->ledger.size);
    return 0;
}

static void transport_closed(struct raft_transport *t)
{
    struct agent_raft *ar = (struct agent_raft *)((char *)t - offsetof(struct agent_raft, transport));
    void (*done)(struct agent *) = ar->stop_done;
    ar->stop_done = NULL;
    /* Nothing more arrives: what the core handed over reaches the disk before the agent
     * closes the store (a write after this is synchronous). */
    raft_writer_stop(ar->writer);
    if (done != NULL)
        done(ar->agent);
}

/* Closes the transport a moment after the stop began, so a TimeoutNow gets out first. */
static void stop_close_cb(uv_timer_t *t)
{
    struct agent_raft *ar = t->data;
    raft_transport_close(&ar->transport, transport_closed);
}

static void raft_module_stop(struct agent *a, void *state, void (*done)(struct agent *a))
{
    struct agent_raft *ar = state;
    /* Hand leadership over so the cluster does not wait an election timeout for us. */
    if (ar->raft_open && ar->member && raft_role(&ar->raft) == RAFT_LEADER &&
        raft_config_voters(raft_config_get(&ar->raft)) > 1 && !ar->fatal) {
        struct raft_event ev = {.type = RAFT_EV_TRANSFER};
        ev.transfer.to = 0;
        step(ar, &ev);
    }
    while (ar->n_calls > 0) {
        call_fail(&ar->calls[0], PL_ENOLEADER, "the agent is stopping");
        call_remove(ar, &ar->calls[0]);
    }
    uv_check_stop(&ar->flush);
    uv_idle_stop(&ar->wake);
    if (!ar->transport_open) {
        uv_timer_stop(&ar->housekeep);
        done(a);
        return;
    }
    ar->stop_done = done;
    uv_timer_stop(&ar->timer);
    uv_timer_stop(&ar->kick);
    uv_timer_start(&ar->housekeep, stop_close_cb, 100, 0);
}

static void raft_module_free(struct agent *a, void *state)
{
    struct agent_raft *ar = state;
    (void)a;
    if (ar == NULL)
        return;
    for (int i = 0; i < ar->n_queue; i++)
        free(ar->queue[i].data);
    raft_writer_free(ar->writer);
    if (ar->raft_open)
        raft_close(&ar->raft);
    if (ar->ledger_open)
        ledger_close(&ar->ledger);
    free(ar->swarm);
    free(ar);
}

const struct agent_module agent_raft_module = {
    .name = "raft",
    .start = raft_module_start,
    .stop = raft_module_stop,
    .free = raft_module_free,
};

/* --- metrics ------------------------------------------------------------------------- */

void agent_raft_metrics(struct agent_raft *ar, struct prom_writer *w)
{
    /* A member that is not a voter runs no core: it has only its ledger and proposals. */
    if (ar->raft_open) {
        uint64_t self = agent_raft_id(ar->agent->cfg.name);
        uint64_t leader = ar->member ? raft_leader(&ar->raft) : 0;
        const struct raft_stats *st = raft_stats_get(&ar->raft);
        prom_metric(w, "platelet_raft_term", "gauge", "This voter's current Raft term.",
                    (double)raft_term(&ar->raft));
        prom_metric(w, "platelet_raft_leader", "gauge",
                    "1 if this voter is the council's leader (the healer), else 0.",
                    (double)(leader != 0 && leader == self));
        prom_metric(w, "platelet_raft_leader_known", "gauge",
                    "1 if this voter knows a leader for its term, else 0.", (double)(leader != 0));
        prom_metric(w, "platelet_raft_commit_index", "gauge", "The highest committed log index.",
                    (double)raft_commit_index(&ar->raft));
        prom_metric(w, "platelet_raft_applied_index", "gauge",
                    "The highest log index applied to the ledger.", (double)raft_applied(&ar->raft));
        prom_metric(w, "platelet_raft_last_index", "gauge", "The last index of this voter's log.",
                    (double)raft_last_index(&ar->raft));
        prom_metric(w, "platelet_raft_voters", "gauge", "Voters in the council's configuration.",
                    (double)raft_config_voters(raft_config_get(&ar->raft)));
        prom_metric(w, "platelet_raft_elections_total", "counter",
                    "Elections this voter started.", (double)st->elections);
    }
    prom_family(w, "platelet_raft_proposal_duration_seconds", "histogram",
                "Time from a proposal made on this node to its commit (a voter: applied here).");
    prom_hist_write(w, "platelet_raft_proposal_duration_seconds", NULL, &ar->proposal_hist);
    prom_metric(w, "platelet_ledger_entries", "gauge", "Entries in this node's ledger.",
                (double)ar->ledger.size);
    prom_metric(w, "platelet_swarm_divergences_total", "counter",
                "Times another voter's state hash differed from this node's at the same size.",
                (double)ar->divergences);
}
