/*
 * The Raft core of raft.h. Each handler names the section of the Raft paper (Ongaro and
 * Ousterhout 2014, "paper") or of Ongaro's thesis (2014, "thesis") that it implements.
 * Nothing here reads a clock, draws randomness other than from r->rand, does I/O or
 * prints: time comes in as now_ms and everything else goes out in the update.
 */
#include "raft.h"

#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "raft_wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INFLIGHT_CAP 64
#define BLOCKS_MAX 64
#define DEFERRED_MAX 1024

enum prog_state { PROG_PROBE = 1, PROG_REPLICATE, PROG_SNAPSHOT };

/* What a leader knows of one follower (paper Figure 2 nextIndex/matchIndex, plus the
 * flow control of thesis §10.2.2 and the snapshot transfer of paper §7). */
struct raft_progress {
    uint64_t id;
    uint64_t match, next;
    uint8_t state;
    bool probe_sent;
    bool active; /* heard from since the last CheckQuorum round */
    uint64_t heard_ms; /* the last time it answered this leader (0: not yet) */
    bool sent_this_step;
    uint64_t inflight[INFLIGHT_CAP]; /* last index of each unacknowledged append */
    uint32_t n_inflight;
    uint64_t snap_index, snap_offset;
};

/* One ordered write handed to the caller, not yet reported durable. */
struct raft_block {
    uint64_t seq;
    uint64_t first; /* lowest log index it changes (UINT64_MAX: none) */
    uint64_t last;  /* last log index when it was issued */
    uint64_t issued_ms;
};

struct raft_deferred {
    uint64_t seq;
    struct raft_msg m;
};

struct raft_pending {
    uint64_t id;
    uint64_t index; /* 0 while forwarded and not yet placed by the leader */
    uint64_t term;
    uint64_t deadline_ms;
};

/* ---------------------------------------------------------------- helpers */

static void trace(struct raft *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(struct raft *r, const char *fmt, ...)
{
    if (r->o.tracer.trace_cb == NULL)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    r->o.tracer.trace_cb(r->o.tracer.ctx, r->o.id, r->now_ms, line);
}

static uint64_t last_index(const struct raft *r) { return r->log_offset + r->log_n; }

uint64_t raft_term_at(const struct raft *r, uint64_t index)
{
    if (index == r->log_offset)
        return r->log_offset_term;
    if (index < r->log_offset || index > last_index(r))
        return 0;
    return r->log[index - r->log_offset - 1].term;
}

const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index)
{
    if (index <= r->log_offset || index > last_index(r))
        return NULL;
    return &r->log[index - r->log_offset - 1];
}

static uint64_t last_term(const struct raft *r) { return raft_term_at(r, last_index(r)); }

const struct raft_server *raft_config_find(const struct raft_config *c, uint64_t id)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (c->servers[i].id == id)
            return &c->servers[i];
    return NULL;
}

uint32_t raft_config_voters(const struct raft_config *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n; i++)
        n += c->servers[i].role == RAFT_VOTER;
    return n;
}

static bool is_voter(const struct raft *r, uint64_t id)
{
    const struct raft_server *s = raft_config_find(&r->config, id);
    return s != NULL && s->role == RAFT_VOTER;
}

static uint32_t quorum(const struct raft *r) { return raft_config_voters(&r->config) / 2 + 1; }

static void reset_election_timer(struct raft *r)
{
    /* Randomised in [T, 2T) so split votes resolve (paper §5.2). */
    uint64_t t = r->o.election_timeout_ms;
    r->election_deadline_ms = r->now_ms + t + pl_rand_below(r->rand, t);
}

/* Records that log content from `index` on changes in this step. */
static void mark_changed(struct raft *r, uint64_t index)
{
    if (r->blk_first == 0 || index < r->blk_first)
        r->blk_first = index;
    if (r->persisted_index >= index)
        r->persisted_index = index - 1;
}

static struct raft_msg *msg_new(struct raft *r, uint8_t type, uint64_t to)
{
    if (r->n_msgs == r->cap_msgs) {
        uint32_t cap = r->cap_msgs ? r->cap_msgs * 2 : 16;
        struct raft_msg *m = realloc(r->msgs, cap * sizeof(*m));
        if (m == NULL)
            return NULL;
        r->msgs = m;
        uint8_t *d = realloc(r->msg_defer, cap);
        if (d == NULL)
            return NULL;
        r->msg_defer = d;
        r->cap_msgs = cap;
    }
    struct raft_msg *m = &r->msgs[r->n_msgs];
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->from = r->o.id;
    m->to = to;
    m->term = r->term;
    r->msg_defer[r->n_msgs] = 0;
    r->n_msgs++;
    return m;
}

static void result_add(struct raft *r, uint64_t id, int err, uint64_t index)
{
    if (r->n_results == r->cap_results) {
        uint32_t cap = r->cap_results ? r->cap_results * 2 : 16;
        struct raft_result *p = realloc(r->results, cap * sizeof(*p));
        if (p == NULL)
            return; /* the proposer will time out instead */
        r->results = p;
        r->cap_results = cap;
    }
    r->results[r->n_results++] = (struct raft_result){.id = id, .err = err, .index = index};
}

static void pending_remove(struct raft *r, uint32_t i)
{
    r->pending[i] = r->pending[--r->n_pending];
}

static int log_append(struct raft *r, uint64_t term, uint8_t type, const uint8_t *data,
                      uint32_t len)
{
    if (r->log_n == r->log_cap) {
        size_t cap = r->log_cap ? r->log_cap * 2 : 64;
        struct raft_entry *l = realloc(r->log, cap * sizeof(*l));
        if (l == NULL)
            return -ENOMEM;
        r->log = l;
        r->log_cap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return -ENOMEM;
    if (len)
        memcpy(copy, data, len);
    uint64_t index = last_index(r) + 1;
    r->log[r->log_n++] =
        (struct raft_entry){.term = term, .index = index, .type = type, .len = len, .data = copy};
    mark_changed(r, index);
    return 0;
}

/* Deletes entries >= index (a follower's conflicting suffix, paper §5.3). */
static void log_truncate(struct raft *r, uint64_t index)
{
    PL_ASSERT(index > r->log_offset);
    PL_ASSERT(index > r->commit);
    while (last_index(r) >= index)
        free(r->log[--r->log_n].data);
    if (r->blk_truncate == 0 || index < r->blk_truncate)
        r->blk_truncate = index;
    mark_changed(r, index);
}

/* Drops entries <= index from memory (they are in the snapshot). */
static void log_compact(struct raft *r, uint64_t index, uint64_t index_term)
{
    PL_ASSERT(index >= r->log_offset);
    uint64_t drop = PL_MIN(index, last_index(r)) - r->log_offset;
    for (uint64_t i = 0; i < drop; i++)
        free(r->log[i].data);
    if (drop > 0 && r->log_n > drop)
        memmove(r->log, r->log + drop, (r->log_n - drop) * sizeof(*r->log));
    r->log_n -= drop;
    r->log_offset = index;
    r->log_offset_term = index_term;
}

static void log_clear(struct raft *r)
{
    for (size_t i = 0; i < r->log_n; i++)
        free(r->log[i].data);
    r->log_n = 0;
}

/* The configuration in effect at the end of the log: config entries take effect as soon
 * as they are appended, committed or not (thesis §4.1). */
static void config_at(const struct raft *r, uint64_t index, struct raft_config *out,
                      uint64_t *out_index)
{
    for (uint64_t i = PL_MIN(index, last_index(r)); i > r->log_offset; i--) {
        const struct raft_entry *e = raft_entry_at(r, i);
        if (e->type == RAFT_ENTRY_CONFIG && raft_config_decode(e->data, e->len, out) == 0) {
            *out_index = i;
            return;
        }
    }
    *out = r->snap.config;
    *out_index = r->log_offset;
}

static void prog_sync(struct raft *r);

static void config_recompute(struct raft *r)
{
    config_at(r, last_index(r), &r->config, &r->config_index);
    if (r->role == RAFT_LEADER)
        prog_sync(r);
}

static struct raft_progress *prog_find(struct raft *r, uint64_t id)
{
    for (uint32_t i = 0; i < r->n_prog; i++)
        if (r->prog[i].id == id)
            return &r->prog[i];
    return NULL;
}

static void prog_reset(struct raft *r, struct raft_progress *p, uint64_t id)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->next = last_index(r) + 1;
    p->state = PROG_PROBE;
    p->active = true;
}

/* Makes the progress table match the configuration, keeping what is known. */
static void prog_sync(struct raft *r)
{
    struct raft_progress keep[RAFT_SERVERS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->config.n; i++) {
        uint64_t id = r->config.servers[i].id;
        if (id == r->o.id)
            continue;
        struct raft_progress *p = prog_find(r, id);
        if (p != NULL)
            keep[n] = *p;
        else
            prog_reset(r, &keep[n], id);
        n++;
    }
    memcpy(r->prog, keep, n * sizeof(*keep));
    r->n_prog = n;
}

/* -------------------------------------------------------------- role changes */

static void set_term(struct raft *r, uint64_t term)
{
    PL_ASSERT(term > r->term);
    r->term = term;
    r->vote = 0;
    r->blk_hs = true;
    r->leader_verified = 0;
}

static void clients_answer(struct raft *r, int err);

/* Paper §5.1: a server that sees a higher term, or a candidate that hears from the
 * leader of its term, becomes a follower. A leader's waiting clients learn that the fate
 * of their proposals is unknown. */
static void become_follower(struct raft *r, uint64_t term, uint64_t leader)
{
    uint8_t was = r->role;
    if (was == RAFT_LEADER)
        clients_answer(r, PL_ETIMEOUT);
    if (term > r->term)
        set_term(r, term);
    if (r->leader != leader)
        r->leader_verified = 0;
    r->role = RAFT_FOLLOWER;
    r->leader = leader;
    r->transfer_to = 0;
    r->campaign_transfer = false;
    r->n_prog = 0;
    if (leader != 0)
        r->leader_seen_ms = r->now_ms;
    reset_election_timer(r);
    if (was != RAFT_FOLLOWER)
        trace(r, "became follower term=%llu leader=%llu", (unsigned long long)r->term,
              (unsigned long long)leader);
}

static void send_append(struct raft *r, struct raft_progress *p, bool heartbeat);

/* Paper §5.2 and §8: the winner sends heartbeats at once and appends a no-op of its term,
 * the only way it can learn which entries are committed (§5.4.2). */
static void become_leader(struct raft *r)
{
    PL_ASSERT(r->role == RAFT_CANDIDATE);
    r->role = RAFT_LEADER;
    r->leader = r->o.id;
    r->transfer_to = 0;
    r->n_prog = 0;
    prog_sync(r);
    /* The voters that elected us answered us in this term, just now. */
    for (uint32_t i = 0; i < r->n_granted; i++) {
        struct raft_progress *p = prog_find(r, r->granted[i]);
        if (p != NULL)
            p->heard_ms = r->now_ms;
    }
    r->heartbeat_deadline_ms = r->now_ms + r->o.heartbeat_ms;
    r->quorum_deadline_ms = r->now_ms + r->o.election_timeout_ms;
    trace(r, "became leader term=%llu last=%llu", (unsigned long long)r->term,
          (unsigned long long)last_index(r));
    if (log_append(r, r->term, RAFT_ENTRY_NOOP, NULL, 0) == 0)
        r->term_start_index = last_index(r);
    else
        r->term_start_index = last_index(r) + 1;
    for (uint32_t i = 0; i < r->n_prog; i++)
        send_append(r, &r->prog[i], true);
}

static void check_votes(struct raft *r);

/* Paper §5.2 (election), thesis §9.6 (PreVote: ask "would you vote for me?" without
 * raising the term, so a rejoining partitioned server cannot depose a healthy leader),
 * thesis §3.10 (a transfer campaign skips PreVote and overrides stickiness). */
static void campaign(struct raft *r, bool pre_vote, bool transfer)
{
    if (!is_voter(r, r->o.id))
        return;
    r->stats.elections++;
    r->n_granted = r->n_refused = 0;
    r->leader = 0;
    r->leader_verified = 0;
    r->n_prog = 0;
    uint64_t term;
    if (pre_vote) {
        r->role = RAFT_PRE_CANDIDATE;
        term = r->term + 1;
        r->granted[r->n_granted++] = r->o.id;
    } else {
        r->role = RAFT_CANDIDATE;
        set_term(r, r->term + 1);
        r->vote = r->o.id;
        term = r->term;
        /* Our own vote counts once it is durable (see on_persisted). */
    }
    r->campaign_transfer = transfer;
    reset_election_timer(r);
    trace(r, "campaign %s term=%llu last=%llu/%llu", pre_vote ? "pre-vote" : "vote",
          (unsigned long long)term, (unsigned long long)last_index(r),
          (unsigned long long)last_term(r));
    for (uint32_t i = 0; i < r->config.n; i++) {
        const struct raft_server *s = &r->config.servers[i];
        if (s->id == r->o.id || s->role != RAFT_VOTER)
            continue;
        struct raft_msg *m = msg_new(r, RAFT_MSG_VOTE, s->id);
        if (m == NULL)
            continue;
        m->term = term;
        m->vote.last_index = last_index(r);
        m->vote.last_term = last_term(r);
        m->vote.pre_vote = pre_vote;
        m->vote.transfer = transfer;
    }
    if (pre_vote)
        check_votes(r);
}

static bool id_in(const uint64_t *ids, uint32_t n, uint64_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Paper §5.2: a candidate wins with votes from a majority of the voters. */
static void check_votes(struct raft *r)
{
    uint32_t yes = 0, no = 0;
    for (uint32_t i = 0; i < r->config.n; i++) {
        const struct raft_server *s = &r->config.servers[i];
        if (s->role != RAFT_VOTER)
            continue;
        yes += id_in(r->granted, r->n_granted, s->id);
        no += id_in(r->refused, r->n_refused, s->id);
    }
    uint32_t q = quorum(r);
    if (yes >= q) {
        if (r->role == RAFT_PRE_CANDIDATE)
            campaign(r, false, false);
        else if (r->role == RAFT_CANDIDATE)
            become_leader(r);
    } else if (no >= q) {
        become_follower(r, r->term, 0);
    }
}

/* ------------------------------------------------------------- replication */

/* Asks the caller for the body chunk at p->snap_offset (u.reads); the chunk comes back as
 * RAFT_EV_SNAPSHOT_READ and leaves in snapshot_chunk_send(). One request per follower and
 * step; a lost chunk or reply is asked for again at the next heartbeat. */
static void send_snapshot_chunk(struct raft *r, struct raft_progress *p)
{
    if (p->snap_index != r->snap.index) {
        /* A newer snapshot replaced the one being sent: start over with it. */
        p->snap_index = r->snap.index;
        p->snap_offset = 0;
    }
    if (p->snap_offset > r->snap.body_len)
        p->snap_offset = 0;
    p->sent_this_step = true;
    for (uint32_t i = 0; i < r->n_reads; i++)
        if (r->reads[i].to == p->id) {
            r->reads[i].offset = p->snap_offset;
            return;
        }
    if (PL_NEVER(r->n_reads == RAFT_SERVERS_MAX))
        return;
    r->reads[r->n_reads++] = (struct raft_read){.to = p->id, .offset = p->snap_offset,
                                                .bytes_max = r->o.snapshot_chunk_bytes,
                                                .snap = &r->snap};
}

/* Copies `len` bytes into a buffer of the core's that grows to the largest chunk seen. */
static const uint8_t *chunk_copy(uint8_t **buf, uint32_t *cap, const uint8_t *data, uint32_t len)
{
    if (len > *cap) {
        uint8_t *b = realloc(*buf, len);
        if (b == NULL)
            return NULL;
        *buf = b;
        *cap = len;
    }
    if (len)
        memcpy(*buf, data, len);
    return *buf;
}

/* RAFT_EV_SNAPSHOT_READ: the chunk goes out if the follower still waits for it. */
static int on_snapshot_read(struct raft *r, const struct raft_event *ev)
{
    struct raft_progress *p = r->role == RAFT_LEADER ? prog_find(r, ev->read.to) : NULL;
    if (p == NULL || p->state != PROG_SNAPSHOT || ev->read.index != r->snap.index ||
        p->snap_index != r->snap.index || ev->read.offset != p->snap_offset)
        return 0; /* overtaken: a newer request went out */
    const uint8_t *data = chunk_copy(&r->read_buf, &r->read_cap, ev->read.data, ev->read.len);
    if (data == NULL)
        return -ENOMEM;
    struct raft_msg *m = msg_new(r, RAFT_MSG_SNAPSHOT, p->id);
    if (m == NULL)
        return -ENOMEM;
    m->snapshot.snap_index = r->snap.index;
    m->snapshot.snap_term = r->snap.term;
    m->snapshot.config = r->snap.config;
    m->snapshot.meta = r->snap.data;
    m->snapshot.meta_len = (uint32_t)r->snap.len;
    m->snapshot.body_len = r->snap.body_len;
    m->snapshot.offset = ev->read.offset;
    m->snapshot.len = ev->read.len;
    m->snapshot.data = data;
    return 0;
}

/* How long ago this leader last knew a majority in touch (a very large age when never). */
static uint64_t lease_age(const struct raft *r)
{
    uint64_t t = raft_majority_contact_ms(r);
    return t == 0 ? UINT64_MAX >> 2 : r->now_ms - PL_MIN(t, r->now_ms);
}

static void send_empty(struct raft *r, struct raft_progress *p, uint64_t prev)
{
    struct raft_msg *m = msg_new(r, RAFT_MSG_APPEND, p->id);
    if (m == NULL)
        return;
    m->append.prev_index = prev;
    m->append.prev_term = raft_term_at(r, prev);
    m->append.commit = r->commit;
    m->append.lease_age_ms = lease_age(r);
    p->sent_this_step = true;
}

/* Paper §5.3 AppendEntries from nextIndex, with thesis §10.2.2 pipelining: in REPLICATE a
 * leader sends up to inflight_max batches without waiting; in PROBE one at a time. Entry
 * pointers are resolved when the update is finished (the log may grow in between). */
static void send_append(struct raft *r, struct raft_progress *p, bool heartbeat)
{
    if (p->state == PROG_SNAPSHOT) {
        if (heartbeat)
            send_snapshot_chunk(r, p);
        return;
    }
    if (p->next <= r->log_offset) {
        /* The entries it needs are compacted: paper §7, InstallSnapshot. */
        if (PL_NEVER(r->snap.index == 0))
            return;
        p->state = PROG_SNAPSHOT;
        p->snap_index = r->snap.index;
        p->snap_offset = 0;
        p->n_inflight = 0;
        trace(r, "sending snapshot index=%llu to=%llu", (unsigned long long)r->snap.index,
              (unsigned long long)p->id);
        send_snapshot_chunk(r, p);
        return;
    }
    if (p->state == PROG_PROBE && p->probe_sent && !heartbeat)
        return;
    uint64_t last = last_index(r);
    bool full = p->state == PROG_REPLICATE && p->n_inflight >= r->o.inflight_max;
    if (full || p->next > last) {
        /* The heartbeat names the last index sent, not the last matched: it travels behind
         * every append on the same ordered stream, so the follower rejects it only when one
         * of them was lost, and the rejection rewinds us. Naming the match would be
         * acknowledged and leave lost entries unsent for as long as no proposal comes. */
        if (heartbeat)
            send_empty(r, p, p->next - 1);
        return;
    }
    uint32_t n = 0;
    uint64_t bytes = 0;
    for (uint64_t i = p->next; i <= last && n < r->o.append_entries_max; i++) {
        uint32_t len = raft_entry_at(r, i)->len;
        if (n > 0 && bytes + len > r->o.append_bytes_max)
            break;
        bytes += len;
        n++;
    }
    struct raft_msg *m = msg_new(r, RAFT_MSG_APPEND, p->id);
    if (m == NULL)
        return;
    m->append.prev_index = p->next - 1;
    m->append.prev_term = raft_term_at(r, p->next - 1);
    m->append.commit = r->commit;
    m->append.lease_age_ms = lease_age(r);
    m->append.n_entries = n;
    p->sent_this_step = true;
    if (p->state == PROG_REPLICATE) {
        p->next += n;
        p->inflight[p->n_inflight++] = p->next - 1;
    } else {
        p->probe_sent = true;
    }
}

static void broadcast_append(struct raft *r)
{
    for (uint32_t i = 0; i < r->n_prog; i++)
        send_append(r, &r->prog[i], false);
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Paper §5.3/§5.4.2: commit the highest index stored on a majority, but only by counting
 * replicas of an entry of the current term. The leader counts itself only with what it has
 * persisted (thesis §10.2.1). A leader that is not a voter of the committed configuration
 * steps down (thesis §4.2.2). */
static void maybe_commit(struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return;
    uint64_t match[RAFT_SERVERS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->config.n; i++) {
        const struct raft_server *s = &r->config.servers[i];
        if (s->role != RAFT_VOTER)
            continue;
        if (s->id == r->o.id) {
            match[n++] = r->persisted_index;
        } else {
            struct raft_progress *p = prog_find(r, s->id);
            match[n++] = p ? p->match : 0;
        }
    }
    if (n > 0) {
        qsort(match, n, sizeof(match[0]), cmp_desc);
        uint64_t c = match[n / 2];
        if (c > r->commit && raft_term_at(r, c) == r->term) {
            PL_ASSERT(c <= last_index(r));
            r->commit = c;
        }
    }
    if (r->commit >= r->config_index && !is_voter(r, r->o.id)) {
        trace(r, "stepping down: not a voter of the committed configuration");
        become_follower(r, r->term, 0);
    }
}

/* ------------------------------------------------------------ message handlers */

/* Leader stickiness (thesis §4.2.3): a server that heard from a leader within the minimum
 * election timeout, or is the leader, ignores a RequestVote that would depose it. This is
 * what stops servers removed from the configuration (which no longer hear heartbeats) from
 * disrupting the cluster, so it is on whether or not CheckQuorum is; a leader cut off without
 * CheckQuorum still learns of a newer term from the replies to its AppendEntries. */
static bool in_lease(const struct raft *r)
{
    if (r->role == RAFT_LEADER)
        return true;
    return r->leader != 0 && r->now_ms < r->leader_seen_ms + r->o.election_timeout_ms;
}

/* Paper §5.2 and §5.4.1 (RequestVote receiver rules 1 and 2), thesis §9.6 (PreVote). */
static void on_vote(struct raft *r, const struct raft_msg *m)
{
    uint64_t li = last_index(r), lt = last_term(r);
    bool up_to_date = m->vote.last_term > lt || (m->vote.last_term == lt && m->vote.last_index >= li);
    bool grant;
    if (m->vote.pre_vote) {
        grant = up_to_date &&
                (m->term > r->term ||
                 (m->term == r->term && (r->vote == m->from || (r->vote == 0 && r->leader == 0))));
    } else {
        grant = m->term == r->term && up_to_date && (r->vote == 0 || r->vote == m->from);
        if (grant && r->vote == 0) {
            r->vote = m->from;
            r->blk_hs = true;
        }
        if (grant)
            reset_election_timer(r);
    }
    struct raft_msg *out = msg_new(r, RAFT_MSG_VOTE_RESULT, m->from);
    if (out == NULL)
        return;
    out->term = grant && m->vote.pre_vote ? m->term : r->term;
    out->vote_result.granted = grant;
    out->vote_result.pre_vote = m->vote.pre_vote;
}

static void on_vote_result(struct raft *r, const struct raft_msg *m)
{
    bool pre = m->vote_result.pre_vote;
    if (pre ? r->role != RAFT_PRE_CANDIDATE : r->role != RAFT_CANDIDATE)
        return;
    if (pre && m->vote_result.granted && m->term != r->term + 1)
        return;
    if (!pre && m->term != r->term)
        return;
    if (m->vote_result.granted) {
        if (!id_in(r->granted, r->n_granted, m->from) && r->n_granted < RAFT_SERVERS_MAX)
            r->granted[r->n_granted++] = m->from;
    } else {
        if (!id_in(r->refused, r->n_refused, m->from) && r->n_refused < RAFT_SERVERS_MAX)
            r->refused[r->n_refused++] = m->from;
    }
    check_votes(r);
}

static void reply_append(struct raft *r, uint64_t to)
{
    struct raft_msg *out = msg_new(r, RAFT_MSG_APPEND_RESULT, to);
    if (out == NULL)
        return;
    out->append_result.success = true;
    out->append_result.last_index = r->leader_verified;
    out->append_result.match_index = PL_MIN(r->leader_verified, r->persisted_index);
}

static void reject_append(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg *out = msg_new(r, RAFT_MSG_APPEND_RESULT, m->from);
    if (out == NULL)
        return;
    uint64_t prev = m->append.prev_index;
    out->append_result.reject_index = prev;
    if (prev > last_index(r)) {
        out->append_result.conflict_index = last_index(r) + 1;
    } else {
        /* Fast back-off (paper §5.3, end): name the conflicting term and where it starts,
         * so the leader skips the whole term in one round trip. */
        uint64_t ct = raft_term_at(r, prev), ci = prev;
        while (ci > r->log_offset + 1 && raft_term_at(r, ci - 1) == ct)
            ci--;
        out->append_result.conflict_term = ct;
        out->append_result.conflict_index = ci;
    }
}

/* A message from the leader of our term: follow it (paper §5.2 candidate rule 3). */
static void follow(struct raft *r, uint64_t leader)
{
    if (r->role != RAFT_FOLLOWER || r->leader != leader)
        become_follower(r, r->term, leader);
    r->leader_seen_ms = r->now_ms;
    reset_election_timer(r);
}

/* Paper Figure 2, AppendEntries receiver rules 2-5 (rule 1, the term, is checked by the
 * caller). */
static void on_append(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER) {
        /* Two leaders in one term: a peer breaks the protocol. Outside input, so counted
         * and dropped, not asserted; the simulator checks Election Safety itself. */
        r->stats.dropped_invalid++;
        return;
    }
    follow(r, m->from);
    if (m->append.commit > r->leader_commit)
        r->leader_commit = m->append.commit;
    if (!r->lease_waiting && m->append.lease_age_ms < r->now_ms) {
        r->lease_waiting = true;
        r->lease_wait_ms = r->now_ms - m->append.lease_age_ms;
        r->lease_wait_commit = m->append.commit;
    }
    uint64_t prev = m->append.prev_index, prev_term = m->append.prev_term;
    const struct raft_entry *es = m->append.entries;
    uint64_t n = m->append.n_entries;
    if (prev < r->log_offset) {
        /* Entries up to our snapshot are committed, hence identical: skip them. */
        uint64_t skip = r->log_offset - prev;
        if (skip > n) {
            reply_append(r, m->from);
            return;
        }
        if (skip > 0 && es[skip - 1].term != r->log_offset_term) {
            r->stats.dropped_invalid++;
            return;
        }
        es += skip;
        n -= skip;
        prev = r->log_offset;
        prev_term = r->log_offset_term;
    }
    /* Rule 2: reply false if the log does not contain prev with prev_term. */
    if (prev > last_index(r) || raft_term_at(r, prev) != prev_term) {
        reject_append(r, m);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (es[i].type == RAFT_ENTRY_CONFIG) {
            struct raft_config c;
            if (raft_config_decode(es[i].data, es[i].len, &c) != 0 || es[i].term > r->term) {
                r->stats.dropped_invalid++;
                return;
            }
        }
        /* Terms never decrease along a log; a leader that says otherwise would leave us a
         * store that raft_load() refuses as corrupt. */
        uint64_t before = i > 0 ? es[i - 1].term : prev_term;
        if (es[i].term > r->term || es[i].term < before) {
            r->stats.dropped_invalid++;
            return;
        }
    }
    /* Rules 3 and 4: delete a conflicting suffix, append what is new. */
    bool config_changed = false;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t idx = prev + 1 + i;
        if (idx <= last_index(r)) {
            if (raft_term_at(r, idx) == es[i].term)
                continue;
            if (idx <= r->commit) {
                r->stats.dropped_invalid++; /* a "leader" contradicting a committed entry */
                return;
            }
            if (idx <= r->config_index)
                config_changed = true;
            log_truncate(r, idx);
        }
        if (log_append(r, es[i].term, es[i].type, es[i].data, es[i].len) != 0)
            break; /* out of memory: acknowledge what we have */
        if (es[i].type == RAFT_ENTRY_CONFIG)
            config_changed = true;
    }
    if (config_changed)
        config_recompute(r);
    uint64_t verified = PL_MIN(prev + n, last_index(r));
    if (verified > r->leader_verified)
        r->leader_verified = verified;
    /* Rule 5: commit up to min(leaderCommit, last entry known to match the leader). */
    uint64_t c = PL_MIN(m->append.commit, r->leader_verified);
    if (c > r->commit)
        r->commit = c;
    reply_append(r, m->from);
}

/* The leader's progress of the peer a reply came from, marked active; NULL when we are not
 * the leader or the peer is unknown (counted as dropped). */
static struct raft_progress *reply_progress(struct raft *r, uint64_t from)
{
    if (r->role != RAFT_LEADER)
        return NULL;
    struct raft_progress *p = prog_find(r, from);
    if (p == NULL) {
        r->stats.dropped_unknown++;
        return NULL;
    }
    p->active = true;
    p->heard_ms = r->now_ms;
    return p;
}

/* Paper §5.3: the leader's side of AppendEntries, with the fast back-off hint. */
static void on_append_result(struct raft *r, const struct raft_msg *m)
{
    struct raft_progress *p = reply_progress(r, m->from);
    if (p == NULL)
        return;
    uint64_t last = last_index(r);
    if (m->append_result.success) {
        uint64_t mi = PL_MIN(m->append_result.match_index, last);
        uint64_t li = PL_MIN(m->append_result.last_index, last);
        if (mi > p->match)
            p->match = mi;
        if (li + 1 > p->next)
            p->next = li + 1;
        if (p->next <= p->match)
            p->next = p->match + 1;
        uint32_t k = 0;
        while (k < p->n_inflight && p->inflight[k] <= li)
            k++;
        memmove(p->inflight, p->inflight + k, (p->n_inflight - k) * sizeof(p->inflight[0]));
        p->n_inflight -= k;
        if (p->state == PROG_PROBE) {
            p->state = PROG_REPLICATE;
            p->probe_sent = false;
            p->n_inflight = 0;
        } else if (p->state == PROG_SNAPSHOT && p->match >= p->snap_index) {
            p->state = PROG_PROBE;
            p->probe_sent = false;
        }
        maybe_commit(r);
        if (r->role != RAFT_LEADER)
            return;
        if (r->transfer_to == p->id && p->match == last) {
            msg_new(r, RAFT_MSG_TIMEOUT_NOW, p->id);
            trace(r, "transfer: timeout-now to=%llu", (unsigned long long)p->id);
        }
        send_append(r, p, false);
        return;
    }
    if (p->state == PROG_SNAPSHOT || m->append_result.reject_index < p->match)
        return; /* stale */
    uint64_t next;
    uint64_t ct = m->append_result.conflict_term;
    if (ct != 0) {
        uint64_t k = PL_MIN(m->append_result.reject_index, last);
        while (k > r->log_offset && raft_term_at(r, k) > ct)
            k--;
        next = (k > r->log_offset && raft_term_at(r, k) == ct) ? k + 1
                                                               : m->append_result.conflict_index;
    } else {
        next = m->append_result.conflict_index;
    }
    next = PL_MIN(next, m->append_result.reject_index);
    next = PL_MIN(next, last + 1);
    if (next < p->match + 1)
        next = p->match + 1;
    p->next = next;
    p->state = PROG_PROBE;
    p->probe_sent = false;
    p->n_inflight = 0;
    send_append(r, p, false);
}

static void install_snapshot(struct raft *r);

static void reply_snapshot(struct raft *r, uint64_t to, uint64_t index, uint64_t offset, bool done)
{
    struct raft_msg *out = msg_new(r, RAFT_MSG_SNAPSHOT_RESULT, to);
    if (out == NULL)
        return;
    out->snapshot_result.snap_index = index;
    out->snapshot_result.offset = offset;
    out->snapshot_result.done = done;
}

/* Paper §7 and Figure 13: InstallSnapshot receiver, chunk by chunk. The chunk goes to the
 * caller (u.stage), which writes it where it keeps the incoming body; the reply waits for
 * RAFT_EV_SNAPSHOT_STAGED, which says how much of the body is durable there. */
static void on_snapshot(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER) {
        r->stats.dropped_invalid++; /* as in on_append */
        return;
    }
    follow(r, m->from);
    if (m->snapshot.snap_index <= r->commit) {
        /* We hold it already; say so only once it is durable here, since the leader will
         * never resend what we acknowledge (it comes back at the next heartbeat). */
        if (m->snapshot.snap_index <= r->persisted_index)
            reply_snapshot(r, m->from, m->snapshot.snap_index, m->snapshot.body_len, true);
        return;
    }
    if (m->snapshot.snap_term > r->term || m->snapshot.snap_term == 0 ||
        m->snapshot.meta_len > r->o.snapshot_bytes_max ||
        m->snapshot.offset > m->snapshot.body_len) {
        r->stats.dropped_invalid++;
        return;
    }
    struct raft_snapshot *in = &r->rcv;
    if (in->index != m->snapshot.snap_index || in->term != m->snapshot.snap_term ||
        in->body_len != m->snapshot.body_len || in->len != m->snapshot.meta_len ||
        (in->len && memcmp(in->data, m->snapshot.meta, in->len) != 0)) {
        /* Another snapshot: take its description; the caller decides whether the body it
         * holds belongs to it. */
        uint8_t *meta = malloc(m->snapshot.meta_len ? m->snapshot.meta_len : 1);
        if (meta == NULL)
            return;
        if (m->snapshot.meta_len)
            memcpy(meta, m->snapshot.meta, m->snapshot.meta_len);
        free(in->data);
        in->index = m->snapshot.snap_index;
        in->term = m->snapshot.snap_term;
        in->config = m->snapshot.config;
        in->data = meta;
        in->len = m->snapshot.meta_len;
        in->body_len = m->snapshot.body_len;
    }
    const uint8_t *data = chunk_copy(&r->stage_buf, &r->stage_cap, m->snapshot.data,
                                     m->snapshot.len);
    if (data == NULL)
        return;
    r->rcv_from = m->from;
    r->stage = (struct raft_stage){.snap = in, .offset = m->snapshot.offset, .data = data,
                                   .len = m->snapshot.len};
}

/* RAFT_EV_SNAPSHOT_STAGED: answer the leader; install once the whole body is held. */
static int on_snapshot_staged(struct raft *r, const struct raft_event *ev)
{
    if (r->rcv.index == 0 || ev->staged.index != r->rcv.index)
        return 0; /* a newer snapshot is being received */
    if (ev->staged.held > r->rcv.body_len)
        return PL_ERANGE;
    if (r->rcv.index <= r->commit) {
        if (r->rcv.index <= r->persisted_index)
            reply_snapshot(r, r->rcv_from, r->rcv.index, r->rcv.body_len, true);
        return 0;
    }
    if (ev->staged.held < r->rcv.body_len) {
        reply_snapshot(r, r->rcv_from, r->rcv.index, ev->staged.held, false);
        return 0;
    }
    install_snapshot(r);
    reply_snapshot(r, r->rcv_from, r->snap.index, r->snap.body_len, true);
    r->msg_defer[r->n_msgs - 1] = 1; /* only once the snapshot is durable */
    return 0;
}

/* Figure 13 rules 6-8: keep a log suffix that follows the snapshot, else drop the log;
 * the state machine is reset from the snapshot. */
static void install_snapshot(struct raft *r)
{
    uint64_t idx = r->rcv.index, term = r->rcv.term;
    PL_ASSERT(idx > r->commit);
    bool keep = idx <= last_index(r) && raft_term_at(r, idx) == term;
    free(r->snap.data);
    r->snap = r->rcv;
    memset(&r->rcv, 0, sizeof(r->rcv));
    if (keep) {
        log_compact(r, idx, term);
    } else {
        log_clear(r);
        r->log_offset = idx;
        r->log_offset_term = term;
        r->blk_truncate = idx + 1;
        mark_changed(r, 1);
        r->persisted_index = 0;
    }
    r->commit = idx;
    r->applied = idx;
    r->leader_verified = PL_MAX(r->leader_verified, idx);
    r->blk_snapshot = true;
    r->blk_compact = idx;
    r->installed = true;
    config_recompute(r);
    /* Proposals the snapshot swallowed have an unknown fate. */
    for (uint32_t i = 0; i < r->n_pending;) {
        if (r->pending[i].index != 0 && r->pending[i].index <= idx) {
            result_add(r, r->pending[i].id, PL_ETIMEOUT, 0);
            pending_remove(r, i);
        } else {
            i++;
        }
    }
    trace(r, "installed snapshot index=%llu term=%llu keep_log=%d", (unsigned long long)idx,
          (unsigned long long)term, keep);
}

static void on_snapshot_result(struct raft *r, const struct raft_msg *m)
{
    struct raft_progress *p = reply_progress(r, m->from);
    if (p == NULL)
        return;
    if (p->state != PROG_SNAPSHOT || m->snapshot_result.snap_index != p->snap_index)
        return;
    if (m->snapshot_result.done) {
        if (p->snap_index > p->match)
            p->match = PL_MIN(p->snap_index, last_index(r));
        p->next = p->match + 1;
        p->state = PROG_PROBE;
        p->probe_sent = false;
        maybe_commit(r);
        if (r->role == RAFT_LEADER)
            send_append(r, p, false);
        return;
    }
    /* A reply that moves nothing answers a duplicate (a heartbeat's resend): answering it
     * too would keep two chunks in flight from then on, and one more per heartbeat. A lost
     * chunk or reply is resent at the next heartbeat. */
    uint64_t offset = PL_MIN(m->snapshot_result.offset, r->snap.body_len);
    if (offset == p->snap_offset)
        return;
    p->snap_offset = offset;
    send_snapshot_chunk(r, p);
}

static int propose_local(struct raft *r, const uint8_t *data, uint32_t len, uint64_t *index)
{
    if (len > r->o.entry_bytes_max)
        return PL_ETOOBIG;
    if (r->transfer_to != 0)
        return PL_ENOLEADER;
    int rc = log_append(r, r->term, RAFT_ENTRY_NORMAL, data, len);
    if (rc != 0)
        return rc;
    *index = last_index(r);
    return 0;
}

static int pending_add(struct raft *r, uint64_t id, uint64_t index, uint64_t term)
{
    if (r->n_pending >= r->o.pending_max)
        return PL_EFULL;
    r->pending[r->n_pending++] = (struct raft_pending){
        .id = id, .index = index, .term = term,
        .deadline_ms = r->now_ms + r->o.proposal_timeout_ms};
    return 0;
}

static void propose_answer(struct raft *r, uint64_t to, uint64_t id, int err, uint64_t index,
                           uint64_t term)
{
    struct raft_msg *out = msg_new(r, RAFT_MSG_PROPOSE_RESULT, to);
    if (out == NULL)
        return;
    out->propose_result.id = id;
    out->propose_result.err = err;
    out->propose_result.index = index;
    out->propose_result.term = term;
}

/* Answers every client proposal committed by now, and with `err` every other one when
 * err != 0 (we stopped leading: its fate is unknown) or its deadline passed. */
static void clients_answer(struct raft *r, int err)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->n_clients; i++) {
        const struct raft_client_wait *w = &r->clients[i];
        if (w->index <= r->commit && raft_term_at(r, w->index) == w->term)
            propose_answer(r, w->from, w->id, 0, w->index, w->term);
        else if (err != 0 || r->now_ms >= w->deadline_ms)
            propose_answer(r, w->from, w->id, err != 0 ? err : PL_ETIMEOUT, 0, 0);
        else
            r->clients[k++] = *w;
    }
    r->n_clients = k;
}

/* A proposal forwarded to us. A member of the configuration is told at once where it was
 * placed, and learns the outcome from its own log; a client (outside the configuration,
 * e.g. an agent that is not a voter) keeps no log, so it is answered once the entry is
 * committed, or with an error when we stop leading or time runs out. */
static void on_propose(struct raft *r, const struct raft_msg *m)
{
    bool client = raft_config_find(&r->config, m->from) == NULL;
    if (r->role != RAFT_LEADER) {
        propose_answer(r, m->from, m->propose.id, PL_ENOLEADER, 0, 0);
        return;
    }
    /* The network may deliver a request twice: answer a repeat with the first placement
     * while that entry is still in the log (or compacted, hence committed). A member
     * checks (index, term) against its own log, so an answer can never fake a success. */
    for (uint32_t i = 0; i < PL_ARRAY_LEN(r->placed); i++) {
        const struct raft_placed *pl = &r->placed[i];
        if (pl->index != 0 && pl->from == m->from && pl->id == m->propose.id &&
            (pl->index <= r->log_offset || raft_term_at(r, pl->index) == pl->term)) {
            if (!client || pl->index <= r->commit)
                propose_answer(r, m->from, m->propose.id, 0, pl->index, pl->term);
            return; /* a client's repeat is answered at commit, with the first */
        }
    }
    if (client && r->n_clients == PL_ARRAY_LEN(r->clients)) {
        propose_answer(r, m->from, m->propose.id, PL_EFULL, 0, 0);
        return;
    }
    uint64_t index = 0;
    int rc = propose_local(r, m->propose.data, m->propose.len, &index);
    if (rc == 0) {
        r->placed[r->placed_next] = (struct raft_placed){m->from, m->propose.id, index, r->term};
        r->placed_next = (r->placed_next + 1) % PL_ARRAY_LEN(r->placed);
        broadcast_append(r);
    }
    if (rc == 0 && client) {
        r->clients[r->n_clients++] = (struct raft_client_wait){
            m->from, m->propose.id, index, r->term, r->now_ms + r->o.proposal_timeout_ms};
        return;
    }
    propose_answer(r, m->from, m->propose.id, rc, index, r->term);
}

static void on_propose_result(struct raft *r, const struct raft_msg *m)
{
    for (uint32_t i = 0; i < r->n_pending; i++) {
        struct raft_pending *p = &r->pending[i];
        if (p->id != m->propose_result.id || p->index != 0)
            continue;
        if (m->propose_result.err != 0 || m->propose_result.index == 0) {
            result_add(r, p->id, m->propose_result.err ? m->propose_result.err : PL_EPROTO, 0);
            pending_remove(r, i);
            return;
        }
        p->index = m->propose_result.index;
        p->term = m->propose_result.term;
        if (p->index <= r->applied) {
            /* Applied before we heard where it went: decide from our log. */
            uint64_t t = raft_term_at(r, p->index);
            result_add(r, p->id, t == p->term ? 0 : t == 0 ? PL_ETIMEOUT : PL_ESTALE,
                       p->index);
            pending_remove(r, i);
        }
        return;
    }
}

static void on_timeout_now(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER)
        return;
    follow(r, m->from);
    trace(r, "timeout-now from=%llu", (unsigned long long)m->from);
    campaign(r, false, true);
}

/* Paper Figure 2 "Rules for Servers, All Servers": a higher term makes us a follower; a
 * lower term is refused (and answered, so a stale leader learns it is deposed). */
static void on_receive(struct raft *r, const struct raft_msg *m)
{
    if (m->to != r->o.id || m->from == r->o.id || m->from == 0) {
        r->stats.dropped_invalid++;
        return;
    }
    if (m->type == RAFT_MSG_PROPOSE) {
        on_propose(r, m);
        return;
    }
    if (m->type == RAFT_MSG_PROPOSE_RESULT) {
        on_propose_result(r, m);
        return;
    }
    if (m->term > r->term) {
        bool is_vote = m->type == RAFT_MSG_VOTE;
        if (is_vote && !m->vote.transfer && in_lease(r)) {
            r->stats.dropped_stale++;
            return;
        }
        if (is_vote && m->vote.pre_vote) {
            /* a pre-vote does not change our term */
        } else if (m->type == RAFT_MSG_VOTE_RESULT && m->vote_result.pre_vote &&
                   m->vote_result.granted) {
            /* carries the term we would campaign in */
        } else {
            bool from_leader = m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT ||
                               m->type == RAFT_MSG_TIMEOUT_NOW;
            trace(r, "higher term %llu from=%llu", (unsigned long long)m->term,
                  (unsigned long long)m->from);
            become_follower(r, m->term, from_leader ? m->from : 0);
        }
    } else if (m->term < r->term) {
        r->stats.dropped_stale++;
        if (m->type == RAFT_MSG_APPEND) {
            struct raft_msg *out = msg_new(r, RAFT_MSG_APPEND_RESULT, m->from);
            if (out)
                out->append_result.reject_index = m->append.prev_index;
        } else if (m->type == RAFT_MSG_SNAPSHOT) {
            reply_snapshot(r, m->from, m->snapshot.snap_index, 0, false);
        } else if (m->type == RAFT_MSG_VOTE) {
            struct raft_msg *out = msg_new(r, RAFT_MSG_VOTE_RESULT, m->from);
            if (out)
                out->vote_result.pre_vote = m->vote.pre_vote;
        }
        return;
    }
    switch (m->type) {
    case RAFT_MSG_VOTE:
        on_vote(r, m);
        break;
    case RAFT_MSG_VOTE_RESULT:
        on_vote_result(r, m);
        break;
    case RAFT_MSG_APPEND:
        on_append(r, m);
        break;
    case RAFT_MSG_APPEND_RESULT:
        on_append_result(r, m);
        break;
    case RAFT_MSG_SNAPSHOT:
        on_snapshot(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESULT:
        on_snapshot_result(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        on_timeout_now(r, m);
        break;
    default:
        r->stats.dropped_invalid++;
    }
}

/* --------------------------------------------------------------- timers */

static void on_heartbeat(struct raft *r)
{
    for (uint32_t i = 0; i < r->n_prog; i++) {
        struct raft_progress *p = &r->prog[i];
        p->probe_sent = false;
        send_append(r, p, true);
    }
}

/* The connection from our leader ended: its process most likely died (a crashed machine
 * says nothing, and then the election timeout still applies). Forget the leader, which ends
 * its lease here, and campaign within [0, T/2) instead of waiting out [T, 2T): followers
 * that saw the same grant the pre-vote at once. Only a hint, so only with PreVote: if the
 * leader is in fact alive, a majority still in its lease refuses the pre-vote, no term
 * changes, and its next append is followed as before. */
static void on_peer_lost(struct raft *r, uint64_t peer)
{
    if (r->role != RAFT_FOLLOWER || r->leader != peer || peer == 0 || !r->o.pre_vote)
        return;
    trace(r, "connection from leader %llu lost", (unsigned long long)peer);
    become_follower(r, r->term, 0);
    uint64_t window = PL_MAX(r->o.election_timeout_ms / 2, 1);
    r->election_deadline_ms = r->now_ms + pl_rand_below(r->rand, window);
}

static void on_tick(struct raft *r)
{
    for (uint32_t i = 0; i < r->n_pending;) {
        if (r->now_ms >= r->pending[i].deadline_ms) {
            result_add(r, r->pending[i].id, r->leader ? PL_ETIMEOUT : PL_ENOLEADER, 0);
            pending_remove(r, i);
        } else {
            i++;
        }
    }
    if (r->role != RAFT_LEADER) {
        if (r->now_ms >= r->election_deadline_ms) {
            if (is_voter(r, r->o.id))
                campaign(r, r->o.pre_vote, false);
            else
                reset_election_timer(r);
        }
        return;
    }
    /* A leader whose writes have not become durable within an election timeout has a
     * stalled disk: its heartbeats would keep followers from electing a working leader
     * (hashicorp/raft#503), so it steps down. */
    if (r->n_blocks > 0 && r->now_ms >= r->blocks[0].issued_ms + r->o.election_timeout_ms) {
        r->stats.disk_stall_stepdowns++;
        trace(r, "stepping down: disk stalled for %llu ms",
              (unsigned long long)(r->now_ms - r->blocks[0].issued_ms));
        become_follower(r, r->term, 0);
        return;
    }
    /* CheckQuorum (thesis §6.2): step down after an election timeout without hearing
     * from a majority. */
    if (r->o.check_quorum && r->now_ms >= r->quorum_deadline_ms) {
        uint32_t active = is_voter(r, r->o.id) ? 1 : 0;
        for (uint32_t i = 0; i < r->n_prog; i++) {
            if (r->prog[i].active && is_voter(r, r->prog[i].id))
                active++;
            r->prog[i].active = false;
        }
        r->quorum_deadline_ms = r->now_ms + r->o.election_timeout_ms;
        if (active < quorum(r)) {
            r->stats.quorum_stepdowns++;
            trace(r, "stepping down: quorum not heard from (%u)", active);
            become_follower(r, r->term, 0);
            return;
        }
    }
    if (r->transfer_to != 0 && r->now_ms >= r->transfer_deadline_ms) {
        trace(r, "transfer to %llu timed out", (unsigned long long)r->transfer_to);
        r->transfer_to = 0;
    }
    if (r->now_ms >= r->heartbeat_deadline_ms) {
        r->heartbeat_deadline_ms = r->now_ms + r->o.heartbeat_ms;
        on_heartbeat(r);
    }
}

/* ------------------------------------------------------------ persistence */

static void on_persisted(struct raft *r, uint64_t seq)
{
    if (seq <= r->seq_durable)
        return;
    r->seq_durable = seq;
    uint32_t k = 0;
    uint64_t last = 0;
    while (k < r->n_blocks && r->blocks[k].seq <= seq)
        last = r->blocks[k++].last;
    if (k > 0) {
        memmove(r->blocks, r->blocks + k, (r->n_blocks - k) * sizeof(*r->blocks));
        r->n_blocks -= k;
        uint64_t p = PL_MIN(last, last_index(r));
        for (uint32_t i = 0; i < r->n_blocks; i++)
            if (r->blocks[i].first <= p)
                p = r->blocks[i].first - 1;
        if (p > r->persisted_index)
            r->persisted_index = p;
    }
    /* Release what waited for this write. */
    uint32_t kept = 0;
    for (uint32_t i = 0; i < r->n_deferred; i++) {
        if (r->deferred[i].seq <= seq) {
            struct raft_msg *m = msg_new(r, r->deferred[i].m.type, r->deferred[i].m.to);
            if (m != NULL)
                *m = r->deferred[i].m;
        } else {
            r->deferred[kept++] = r->deferred[i];
        }
    }
    r->n_deferred = kept;
    if (r->role == RAFT_CANDIDATE && r->hs_seq <= seq && !id_in(r->granted, r->n_granted, r->o.id)) {
        r->granted[r->n_granted++] = r->o.id;
        check_votes(r);
    }
    if (r->role == RAFT_FOLLOWER && r->leader != 0 && r->leader_verified > 0)
        reply_append(r, r->leader);
    if (r->role == RAFT_LEADER)
        maybe_commit(r);
}

/* ------------------------------------------------------------ requests */

static int on_local_snapshot(struct raft *r, const struct raft_event *ev)
{
    uint64_t idx = ev->snapshot.index;
    /* At most the applied index: a snapshot taken off the caller's loop describes the state
     * as of when it began, and entries applied since stay in the log after it. */
    if (idx > r->applied || idx <= r->snap.index || raft_entry_at(r, idx) == NULL)
        return PL_ESTATE;
    uint8_t *copy = malloc(ev->snapshot.len ? ev->snapshot.len : 1);
    if (copy == NULL)
        return -ENOMEM;
    if (ev->snapshot.len)
        memcpy(copy, ev->snapshot.data, ev->snapshot.len);
    struct raft_config c;
    uint64_t ci;
    config_at(r, idx, &c, &ci);
    free(r->snap.data);
    r->snap.index = idx;
    r->snap.term = raft_term_at(r, idx);
    r->snap.config = c;
    r->snap.data = copy;
    r->snap.len = ev->snapshot.len;
    r->snap.body_len = ev->snapshot.body_len;
    /* Thesis §5.1.3: keep some entries behind the snapshot so a follower that is only a
     * little behind gets entries, not the whole snapshot. */
    if (idx > r->o.snapshot_trailing && idx - r->o.snapshot_trailing > r->log_offset) {
        uint64_t to = idx - r->o.snapshot_trailing;
        log_compact(r, to, raft_term_at(r, to));
    }
    r->blk_snapshot = true;
    r->blk_compact = r->log_offset;
    trace(r, "snapshot taken index=%llu log_offset=%llu", (unsigned long long)idx,
          (unsigned long long)r->log_offset);
    return 0;
}

static int on_propose_event(struct raft *r, const struct raft_event *ev)
{
    bool appended = false;
    for (uint32_t i = 0; i < ev->propose.n; i++) {
        const struct raft_proposal *p = &ev->propose.items[i];
        if (r->n_pending >= r->o.pending_max) {
            result_add(r, p->id, PL_EFULL, 0);
            continue;
        }
        if (p->len > r->o.entry_bytes_max) {
            result_add(r, p->id, PL_ETOOBIG, 0);
            continue;
        }
        if (r->role == RAFT_LEADER) {
            uint64_t index = 0;
            int rc = propose_local(r, p->data, p->len, &index);
            if (rc != 0) {
                result_add(r, p->id, rc, 0);
                continue;
            }
            pending_add(r, p->id, index, r->term);
            appended = true;
        } else if (r->leader != 0) {
            struct raft_msg *m = msg_new(r, RAFT_MSG_PROPOSE, r->leader);
            if (m == NULL) {
                result_add(r, p->id, -ENOMEM, 0);
                continue;
            }
            m->propose.id = p->id;
            m->propose.data = p->data; /* the caller's bytes: valid for this call only */
            m->propose.len = p->len;
            pending_add(r, p->id, 0, 0);
        } else {
            result_add(r, p->id, PL_ENOLEADER, 0);
        }
    }
    if (appended)
        broadcast_append(r);
    return 0;
}

/* Thesis §3.10: bring the target up to date, then tell it to campaign at once. */
static int on_transfer(struct raft *r, uint64_t to)
{
    if (r->role != RAFT_LEADER)
        return PL_ENOLEADER;
    if (to == 0) {
        uint64_t best = 0;
        for (uint32_t i = 0; i < r->n_prog; i++)
            if (is_voter(r, r->prog[i].id) && (to == 0 || r->prog[i].match > best)) {
                to = r->prog[i].id;
                best = r->prog[i].match;
            }
    }
    struct raft_progress *p = prog_find(r, to);
    if (to == 0 || to == r->o.id || p == NULL || !is_voter(r, to))
        return PL_ERANGE;
    r->transfer_to = to;
    r->transfer_deadline_ms = r->now_ms + r->o.election_timeout_ms;
    trace(r, "transfer to %llu requested", (unsigned long long)to);
    if (p->match == last_index(r))
        msg_new(r, RAFT_MSG_TIMEOUT_NOW, to);
    else
        send_append(r, p, false);
    return 0;
}

/* Thesis §4.1: one server at a time; the next change waits until the previous one is
 * committed, and until the leader has committed an entry of its own term (the fix to
 * the single-server change bug, thesis §4.1 and the raft-dev post of 2015). */
static int on_change(struct raft *r, const struct raft_event *ev)
{
    if (r->role != RAFT_LEADER || r->transfer_to != 0)
        return PL_ENOLEADER;
    if (r->config_index > r->commit || r->commit < r->term_start_index)
        return PL_ESTATE;
    uint64_t id = ev->change.server;
    if (id == 0)
        return PL_ERANGE;
    struct raft_config c = r->config;
    struct raft_server *s = NULL;
    for (uint32_t i = 0; i < c.n; i++)
        if (c.servers[i].id == id)
            s = &c.servers[i];
    switch (ev->change.op) {
    case RAFT_ADD_LEARNER:
    case RAFT_ADD_VOTER:
        if (s != NULL) {
            if (ev->change.op == RAFT_ADD_LEARNER || s->role == RAFT_VOTER)
                return PL_ESTATE;
            s->role = RAFT_VOTER;
            break;
        }
        if (c.n >= RAFT_SERVERS_MAX)
            return PL_EFULL;
        c.servers[c.n].id = id;
        c.servers[c.n].role = ev->change.op == RAFT_ADD_VOTER ? RAFT_VOTER : RAFT_LEARNER;
        c.n++;
        break;
    case RAFT_PROMOTE: {
        if (s == NULL || s->role != RAFT_LEARNER)
            return PL_ESTATE;
        struct raft_progress *p = prog_find(r, id);
        if (p == NULL || p->match < r->commit)
            return PL_ESTATE; /* not caught up yet */
        s->role = RAFT_VOTER;
        break;
    }
    case RAFT_REMOVE:
        if (s == NULL)
            return PL_ESTATE;
        *s = c.servers[--c.n];
        if (raft_config_voters(&c) == 0)
            return PL_ERANGE;
        break;
    default:
        return PL_ERANGE;
    }
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    int rc = raft_config_encode(&c, &b);
    if (rc == 0)
        rc = log_append(r, r->term, RAFT_ENTRY_CONFIG, b.data, (uint32_t)b.len);
    pl_buf_close(&b);
    if (rc != 0)
        return rc;
    uint64_t index = last_index(r);
    config_recompute(r);
    pending_add(r, ev->change.id, index, r->term);
    trace(r, "membership change op=%u server=%llu at index=%llu", ev->change.op,
          (unsigned long long)id, (unsigned long long)index);
    broadcast_append(r);
    maybe_commit(r); /* a single voter commits alone */
    return 0;
}

/* ------------------------------------------------------------ the update */

static bool needs_durable_term(const struct raft_msg *m)
{
    if (m->type == RAFT_MSG_PROPOSE || m->type == RAFT_MSG_PROPOSE_RESULT)
        return false;
    if (m->type == RAFT_MSG_VOTE && m->vote.pre_vote)
        return false;
    if (m->type == RAFT_MSG_VOTE_RESULT && m->vote_result.pre_vote)
        return false;
    return true;
}

static void defer(struct raft *r, const struct raft_msg *m, uint64_t seq)
{
    if (PL_NEVER(m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT))
        return; /* they point into memory that will not last */
    if (r->n_deferred == DEFERRED_MAX) {
        memmove(r->deferred, r->deferred + 1, (DEFERRED_MAX - 1) * sizeof(*r->deferred));
        r->n_deferred--;
    }
    r->deferred[r->n_deferred].seq = seq;
    r->deferred[r->n_deferred].m = *m;
    r->n_deferred++;
}

static void finish(struct raft *r, struct raft_update *u)
{
    /* Committed entries to apply (paper Figure 2, All Servers rule 1). */
    if (r->installed)
        u->install = &r->snap;
    if (r->commit > r->applied) {
        PL_ASSERT(r->applied >= r->log_offset);
        u->apply = raft_entry_at(r, r->applied + 1);
        u->n_apply = (uint32_t)(r->commit - r->applied);
        /* One pass over the pending proposals, not one per applied entry: the proposer
         * learns success if its (index, term) is what got applied. */
        for (uint32_t k = 0; k < r->n_pending;) {
            struct raft_pending *p = &r->pending[k];
            if (p->index > r->applied && p->index <= r->commit) {
                const struct raft_entry *e = raft_entry_at(r, p->index);
                result_add(r, p->id, e->term == p->term ? 0 : PL_ESTALE, p->index);
                pending_remove(r, k);
            } else {
                k++;
            }
        }
        r->applied = r->commit;
    }
    /* A contact counts for the lease once everything it said was committed is applied. */
    if (r->lease_waiting && r->applied >= r->lease_wait_commit) {
        r->lease_fresh_ms = r->lease_wait_ms;
        r->lease_waiting = false;
    }
    /* The ordered write. */
    if (r->blk_hs || r->blk_snapshot || r->blk_truncate || r->blk_first) {
        uint64_t seq = ++r->seq_last;
        u->persist_seq = seq;
        u->hs_changed = r->blk_hs;
        u->term = r->term;
        u->vote = r->vote;
        if (r->blk_hs)
            r->hs_seq = seq;
        u->snapshot = r->blk_snapshot ? &r->snap : NULL;
        u->truncate_from = r->blk_truncate;
        u->compact_to = r->blk_compact;
        if (r->blk_first) {
            uint64_t from = PL_MAX(r->blk_first, r->log_offset + 1);
            if (from <= last_index(r)) {
                u->entries = raft_entry_at(r, from);
                u->n_entries = (uint32_t)(last_index(r) - from + 1);
            }
        }
        struct raft_block b = {seq, r->blk_first ? r->blk_first : UINT64_MAX, last_index(r),
                               r->now_ms};
        if (r->n_blocks == BLOCKS_MAX) {
            /* Merge into the newest: durable when this one is. */
            struct raft_block *t = &r->blocks[r->n_blocks - 1];
            t->seq = seq;
            t->first = PL_MIN(t->first, b.first);
            t->last = b.last;
        } else {
            r->blocks[r->n_blocks++] = b;
        }
    }
    /* Messages: resolve entry pointers, withhold what needs durability. */
    bool hs_pending = r->hs_seq > r->seq_durable;
    uint32_t out = 0;
    for (uint32_t i = 0; i < r->n_msgs; i++) {
        struct raft_msg *m = &r->msgs[i];
        if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0)
            m->append.entries = raft_entry_at(r, m->append.prev_index + 1);
        if (r->msg_defer[i]) {
            defer(r, m, u->persist_seq ? u->persist_seq : r->seq_last);
            continue;
        }
        if (hs_pending && needs_durable_term(m)) {
            defer(r, m, r->hs_seq);
            continue;
        }
        if (out != i)
            r->msgs[out] = *m;
        out++;
    }
    r->n_msgs = out;
    u->msgs = r->msgs;
    u->n_msgs = r->n_msgs;
    u->results = r->results;
    u->n_results = r->n_results;
    u->reads = r->reads;
    u->n_reads = r->n_reads;
    u->stage = r->stage.snap != NULL ? &r->stage : NULL;
    u->want_snapshot = r->o.snapshot_threshold > 0 &&
                       r->applied >= r->snap.index + r->o.snapshot_threshold;
    uint64_t d = r->role == RAFT_LEADER ? r->heartbeat_deadline_ms : r->election_deadline_ms;
    for (uint32_t i = 0; i < r->n_pending; i++)
        d = PL_MIN(d, r->pending[i].deadline_ms);
    u->deadline_ms = d;
    r->blk_hs = r->blk_snapshot = r->installed = false;
    r->blk_first = r->blk_truncate = r->blk_compact = 0;
}

int raft_step(struct raft *r, uint64_t now_ms, const struct raft_event *ev, struct raft_update *u)
{
    memset(u, 0, sizeof(*u));
    r->n_msgs = 0;
    r->n_results = 0;
    r->n_reads = 0;
    r->stage.snap = NULL;
    if (now_ms > r->now_ms)
        r->now_ms = now_ms;
    if (!r->started) {
        r->started = true;
        reset_election_timer(r);
    }
    for (uint32_t i = 0; i < r->n_prog; i++)
        r->prog[i].sent_this_step = false;
    uint64_t commit_before = r->commit;
    int rc = 0;
    switch (ev->type) {
    case RAFT_EV_TICK:
        on_tick(r);
        break;
    case RAFT_EV_RECEIVE:
        on_receive(r, ev->msg);
        break;
    case RAFT_EV_PERSISTED:
        if (ev->persisted_seq > r->seq_last)
            rc = PL_ERANGE;
        else
            on_persisted(r, ev->persisted_seq);
        break;
    case RAFT_EV_SNAPSHOT:
        rc = on_local_snapshot(r, ev);
        break;
    case RAFT_EV_PROPOSE:
        rc = on_propose_event(r, ev);
        break;
    case RAFT_EV_TRANSFER:
        rc = on_transfer(r, ev->transfer.to);
        break;
    case RAFT_EV_CHANGE:
        rc = on_change(r, ev);
        break;
    case RAFT_EV_PEER_LOST:
        on_peer_lost(r, ev->peer);
        break;
    case RAFT_EV_SNAPSHOT_READ:
        rc = on_snapshot_read(r, ev);
        break;
    case RAFT_EV_SNAPSHOT_STAGED:
        rc = on_snapshot_staged(r, ev);
        break;
    default:
        rc = PL_ERANGE;
    }
    if (r->role == RAFT_LEADER && r->n_clients > 0)
        clients_answer(r, 0);
    if (r->role == RAFT_LEADER && r->commit > commit_before) {
        /* Tell followers about the new commit index without waiting for a heartbeat. */
        for (uint32_t i = 0; i < r->n_prog; i++) {
            struct raft_progress *p = &r->prog[i];
            if (p->sent_this_step || p->state == PROG_SNAPSHOT)
                continue;
            send_append(r, p, false);
            if (!p->sent_this_step && p->state == PROG_REPLICATE && p->match >= r->log_offset)
                send_empty(r, p, p->match);
        }
    }
    PL_ASSERT(r->commit <= last_index(r));
    PL_ASSERT(r->applied <= r->commit);
    finish(r, u);
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

void raft_options_default(struct raft_options *o, uint64_t id)
{
    memset(o, 0, sizeof(*o));
    o->id = id;
    o->election_timeout_ms = 1000;
    o->heartbeat_ms = 100;
    o->pre_vote = true;
    o->check_quorum = true;
    o->snapshot_threshold = 1024;
    o->snapshot_trailing = 128;
    o->snapshot_chunk_bytes = 256 * 1024;
    o->snapshot_bytes_max = 256u << 20;
    o->append_entries_max = 64;
    o->append_bytes_max = 1u << 20;
    o->inflight_max = 16;
    o->entry_bytes_max = 1u << 20;
    o->proposal_timeout_ms = 5000;
    o->pending_max = 4096;
}

int raft_init(struct raft *r, const struct raft_options *o, struct pl_rand *rand)
{
    memset(r, 0, sizeof(*r));
    if (o->id == 0 || o->election_timeout_ms == 0 || o->heartbeat_ms == 0 ||
        o->heartbeat_ms >= o->election_timeout_ms || o->append_entries_max == 0 ||
        o->inflight_max == 0 || o->inflight_max > INFLIGHT_CAP || o->snapshot_chunk_bytes == 0 ||
        o->pending_max == 0)
        return PL_ECONFIG;
    r->o = *o;
    r->rand = rand;
    r->role = RAFT_FOLLOWER;
    r->prog = calloc(RAFT_SERVERS_MAX, sizeof(*r->prog));
    r->blocks = calloc(BLOCKS_MAX, sizeof(*r->blocks));
    r->deferred = calloc(DEFERRED_MAX, sizeof(*r->deferred));
    r->pending = calloc(o->pending_max, sizeof(*r->pending));
    if (!r->prog || !r->blocks || !r->deferred || !r->pending) {
        raft_close(r);
        return -ENOMEM;
    }
    return 0;
}

void raft_close(struct raft *r)
{
    log_clear(r);
    free(r->log);
    free(r->snap.data);
    free(r->rcv.data);
    free(r->stage_buf);
    free(r->read_buf);
    free(r->prog);
    free(r->blocks);
    free(r->deferred);
    free(r->pending);
    free(r->msgs);
    free(r->msg_defer);
    free(r->results);
    memset(r, 0, sizeof(*r));
}

int raft_load(struct raft *r, uint64_t term, uint64_t vote, const struct raft_snapshot *snap,
              const struct raft_entry *entries, size_t n)
{
    if (r->started || r->log_n != 0)
        return PL_ESTATE;
    if (snap != NULL) {
        if (snap->term > term || snap->index == 0 || snap->term == 0)
            return PL_ECORRUPT;
        r->snap = *snap;
        r->snap.data = malloc(snap->len ? snap->len : 1);
        if (r->snap.data == NULL)
            return -ENOMEM;
        if (snap->len)
            memcpy(r->snap.data, snap->data, snap->len);
        r->log_offset = snap->index;
        r->log_offset_term = snap->term;
        r->commit = r->applied = snap->index;
    }
    uint64_t prev_term = r->log_offset_term;
    for (size_t i = 0; i < n; i++) {
        const struct raft_entry *e = &entries[i];
        if (e->index <= r->log_offset) {
            if (e->index == r->log_offset && e->term != r->log_offset_term)
                return PL_ECORRUPT;
            continue;
        }
        struct raft_config c;
        if (e->index != last_index(r) + 1 || e->term < prev_term || e->term > term ||
            e->term == 0 || e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_CONFIG ||
            (e->type == RAFT_ENTRY_CONFIG && raft_config_decode(e->data, e->len, &c) != 0))
            goto fail_corrupt;
        int rc = log_append(r, e->term, e->type, e->data, e->len);
        if (rc != 0) {
            log_clear(r);
            return rc;
        }
        prev_term = e->term;
    }
    r->term = term;
    r->vote = vote;
    r->blk_first = 0;
    r->persisted_index = last_index(r);
    config_recompute(r);
    return 0;

fail_corrupt:
    log_clear(r);
    return PL_ECORRUPT;
}

int raft_bootstrap_entry(const struct raft_config *c, struct raft_entry *out)
{
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    int rc = raft_config_encode(c, &b);
    if (rc != 0) {
        pl_buf_close(&b);
        return rc;
    }
    size_t len;
    uint8_t *data = pl_buf_steal(&b, &len);
    pl_buf_close(&b);
    *out = (struct raft_entry){.term = 1, .index = 1, .type = RAFT_ENTRY_CONFIG,
                               .len = (uint32_t)len, .data = data};
    return 0;
}

/* ------------------------------------------------------------ state machine */

int raft_fsm_apply(struct raft_fsm *fsm, const struct raft_update *u)
{
    int rc;
    if (u->install != NULL && (rc = fsm->restore_cb(fsm->ctx, u->install)) != 0)
        return rc;
    for (uint32_t i = 0; i < u->n_apply; i++)
        if ((rc = fsm->apply_cb(fsm->ctx, &u->apply[i])) != 0)
            return rc;
    return 0;
}

int raft_fsm_snapshot(struct raft *r, uint64_t now_ms, struct raft_fsm *fsm,
                      struct raft_update *u)
{
    uint8_t *data = NULL;
    size_t len = 0;
    uint64_t body_len = 0;
    int rc = fsm->snapshot_cb(fsm->ctx, &data, &len, &body_len);
    if (rc != 0)
        return rc;
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT};
    ev.snapshot.index = r->applied;
    ev.snapshot.data = data;
    ev.snapshot.len = len;
    ev.snapshot.body_len = body_len;
    rc = raft_step(r, now_ms, &ev, u);
    free(data);
    return rc;
}

/* ------------------------------------------------------------ accessors */

uint8_t raft_role(const struct raft *r) { return r->role; }
uint64_t raft_term(const struct raft *r) { return r->term; }
uint64_t raft_leader(const struct raft *r) { return r->leader; }

uint64_t raft_leader_commit(const struct raft *r)
{
    if (r->role == RAFT_LEADER)
        return r->commit >= r->term_start_index ? r->commit : 0;
    return r->leader_commit;
}

uint64_t raft_majority_contact_ms(const struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return r->lease_fresh_ms;
    /* The quorum-th newest answer among the voters, ourselves answering now. */
    uint64_t t[RAFT_SERVERS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->config.n; i++) {
        const struct raft_server *sv = &r->config.servers[i];
        if (sv->role != RAFT_VOTER)
            continue;
        const struct raft_progress *p =
            sv->id == r->o.id ? NULL : prog_find((struct raft *)r, sv->id);
        t[n++] = sv->id == r->o.id ? r->now_ms : p != NULL ? p->heard_ms : 0;
    }
    uint32_t q = quorum(r);
    if (n < q)
        return 0;
    /* Selection by insertion sort, descending: at most RAFT_SERVERS_MAX items. */
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t k = i; k > 0 && t[k] > t[k - 1]; k--) {
            uint64_t x = t[k];
            t[k] = t[k - 1];
            t[k - 1] = x;
        }
    return t[q - 1];
}
uint64_t raft_commit_index(const struct raft *r) { return r->commit; }
uint64_t raft_applied(const struct raft *r) { return r->applied; }
uint64_t raft_last_index(const struct raft *r) { return last_index(r); }
uint64_t raft_persisted_index(const struct raft *r) { return r->persisted_index; }

void raft_memory_get(const struct raft *r, uint64_t *log_bytes, uint64_t *snapshot_bytes)
{
    uint64_t bytes = (uint64_t)r->log_cap * sizeof(r->log[0]);
    for (size_t i = 0; i < r->log_n; i++)
        bytes += r->log[i].len;
    *log_bytes = bytes;
    *snapshot_bytes = (r->snap.data != NULL ? r->snap.len : 0) + r->rcv.len + r->stage_cap +
                      r->read_cap;
}
uint64_t raft_voted_for(const struct raft *r) { return r->vote; }
const struct raft_config *raft_config_get(const struct raft *r) { return &r->config; }
const struct raft_stats *raft_stats_get(const struct raft *r) { return &r->stats; }

const char *raft_role_name(uint8_t role)
{
    switch (role) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_PRE_CANDIDATE:
        return "pre-candidate";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    }
    return "unknown";
}

int raft_peer_get(const struct raft *r, uint64_t id, struct raft_peer_info *out)
{
    if (r->role != RAFT_LEADER)
        return PL_ENOTFOUND;
    for (uint32_t i = 0; i < r->n_prog; i++) {
        const struct raft_progress *p = &r->prog[i];
        if (p->id != id)
            continue;
        *out = (struct raft_peer_info){
            .id = id, .match = p->match, .next = p->next,
            .state = p->state == PROG_PROBE ? "probe"
                     : p->state == PROG_REPLICATE ? "replicate" : "snapshot",
            .inflight = p->n_inflight, .snap_index = p->snap_index,
            .snap_offset = p->snap_offset, .active = p->active};
        return 0;
    }
    return PL_ENOTFOUND;
}
