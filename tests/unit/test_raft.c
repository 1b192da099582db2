/*
 * Unit tests of the Raft core (raft/raft.c) and its wire codec (raft/raft_wire.c).
 *
 * One test per rule of the Raft paper's Figure 2 ("Rules for Servers", RequestVote and
 * AppendEntries receiver rules; the test name says which), then PreVote, CheckQuorum and
 * leader stickiness, leadership transfer, learners and membership changes, the
 * persist-before-send contract, snapshots, proposals, and the codec. Each test drives one
 * real core with hand-made events and looks at the update it returns, in the style of
 * etcd raft's raft_paper_test.go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pl_err.h"
#include "pl_rand.h"
#include "raft.h"
#include "raft_wire.h"

#define ET 100 /* election timeout */
#define HB 10

struct t {
    struct raft r;
    struct pl_rand rand;
    uint64_t now;
    struct raft_update u;
    struct raft_msg sent[256]; /* everything sent since the last clear */
    int n_sent;
    struct raft_result results[64];
    int n_results;
    uint64_t applied[256];
    int n_applied;
};

static void collect(struct t *t)
{
    for (uint32_t i = 0; i < t->u.n_msgs && t->n_sent < 256; i++)
        t->sent[t->n_sent++] = t->u.msgs[i];
    for (uint32_t i = 0; i < t->u.n_results && t->n_results < 64; i++)
        t->results[t->n_results++] = t->u.results[i];
    for (uint32_t i = 0; i < t->u.n_apply && t->n_applied < 256; i++)
        t->applied[t->n_applied++] = t->u.apply[i].index;
}

static int step(struct t *t, const struct raft_event *ev)
{
    int rc = raft_step(&t->r, t->now, ev, &t->u);
    collect(t);
    return rc;
}

static void clear(struct t *t)
{
    t->n_sent = 0;
    t->n_results = 0;
    t->n_applied = 0;
}

/* Makes the last update durable (a synchronous disk). */
static void persist(struct t *t)
{
    if (t->u.persist_seq == 0)
        return;
    struct raft_event ev = {.type = RAFT_EV_PERSISTED, .persisted_seq = t->u.persist_seq};
    step(t, &ev);
    persist(t);
}

static void tick(struct t *t, uint64_t ms)
{
    t->now += ms;
    struct raft_event ev = {.type = RAFT_EV_TICK};
    step(t, &ev);
    persist(t);
}

static void recv_msg(struct t *t, const struct raft_msg *m)
{
    struct raft_event ev = {.type = RAFT_EV_RECEIVE, .msg = m};
    step(t, &ev);
}

static struct raft_msg *find_sent(struct t *t, uint8_t type, uint64_t to)
{
    for (int i = t->n_sent - 1; i >= 0; i--)
        if (t->sent[i].type == type && (to == 0 || t->sent[i].to == to))
            return &t->sent[i];
    return NULL;
}

static int count_sent(struct t *t, uint8_t type)
{
    int n = 0;
    for (int i = 0; i < t->n_sent; i++)
        n += t->sent[i].type == type;
    return n;
}

/* Node `id` of a cluster whose voters are 1..voters (and learners after them), with the
 * bootstrap entry at index 1 and, optionally, more entries of given terms. */
static struct t *mk(uint64_t id, uint32_t voters, uint32_t learners, bool pre_vote,
                    bool check_quorum, const uint64_t *terms, int n_terms)
{
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    pl_rand_seed(&t->rand, id);
    struct raft_options o;
    raft_options_default(&o, id);
    o.election_timeout_ms = ET;
    o.heartbeat_ms = HB;
    o.pre_vote = pre_vote;
    o.check_quorum = check_quorum;
    o.snapshot_threshold = 0;
    assert_int_equal(raft_init(&t->r, &o, &t->rand), 0);
    struct raft_config c = {0};
    for (uint32_t i = 1; i <= voters; i++)
        c.servers[c.n++] = (struct raft_server){i, RAFT_VOTER};
    for (uint32_t i = voters + 1; i <= voters + learners; i++)
        c.servers[c.n++] = (struct raft_server){i, RAFT_LEARNER};
    struct raft_entry es[32];
    assert_int_equal(raft_bootstrap_entry(&c, &es[0]), 0);
    uint64_t term = 1;
    for (int i = 0; i < n_terms; i++) {
        es[i + 1] = (struct raft_entry){.term = terms[i], .index = (uint64_t)i + 2,
                                        .type = RAFT_ENTRY_NORMAL, .len = 1,
                                        .data = (uint8_t *)"x"};
        term = terms[i];
    }
    assert_int_equal(raft_load(&t->r, term, 0, NULL, es, (size_t)n_terms + 1), 0);
    free(es[0].data);
    t->now = 1000;
    struct raft_event ev = {.type = RAFT_EV_TICK};
    step(t, &ev);
    return t;
}

static void rm(struct t *t)
{
    raft_close(&t->r);
    free(t);
}

static struct raft_msg msg(uint8_t type, uint64_t from, uint64_t to, uint64_t term)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = from;
    m.to = to;
    m.term = term;
    return m;
}

/* An empty AppendEntries from leader 1 to node 2 in `term` (prev = the bootstrap entry),
 * made durable: node 2 follows 1 in that term. */
static void heartbeat_from_1(struct t *t, uint64_t term)
{
    struct raft_msg a = msg(RAFT_MSG_APPEND, 1, 2, term);
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    recv_msg(t, &a);
    persist(t);
}

static void grant(struct t *t, uint64_t from, bool pre)
{
    struct raft_msg m = msg(RAFT_MSG_VOTE_RESULT, from, t->r.o.id,
                            pre ? raft_term(&t->r) + 1 : raft_term(&t->r));
    m.vote_result.granted = true;
    m.vote_result.pre_vote = pre;
    recv_msg(t, &m);
    persist(t);
}

/* Elects node 1 (PreVote if configured) with votes from 2. */
static void make_leader(struct t *t)
{
    tick(t, 2 * ET);
    if (t->r.o.pre_vote) {
        assert_int_equal(raft_role(&t->r), RAFT_PRE_CANDIDATE);
        grant(t, 2, true);
    }
    assert_int_equal(raft_role(&t->r), RAFT_CANDIDATE);
    grant(t, 2, false);
    assert_int_equal(raft_role(&t->r), RAFT_LEADER);
    persist(t);
}

static void ack(struct t *t, uint64_t from, uint64_t index)
{
    struct raft_msg m = msg(RAFT_MSG_APPEND_RESULT, from, 1, raft_term(&t->r));
    m.append_result.success = true;
    m.append_result.match_index = index;
    m.append_result.last_index = index;
    recv_msg(t, &m);
    persist(t);
}

static void propose(struct t *t, uint64_t id, const char *data)
{
    struct raft_proposal p = {.id = id, .data = (const uint8_t *)data, .len = (uint32_t)strlen(data)};
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.items = &p;
    ev.propose.n = 1;
    step(t, &ev);
    persist(t);
}

/* ---------------------------------------------------------- All Servers */

/* Figure 2, All Servers 1: if commitIndex > lastApplied, apply entries in order. */
static void test_all_servers_apply_committed_in_order(void **state)
{
    (void)state;
    uint64_t terms[] = {1, 1, 1};
    struct t *t = mk(2, 3, 0, true, true, terms, 3);
    struct raft_msg m = msg(RAFT_MSG_APPEND, 1, 2, 1);
    m.append.prev_index = 4;
    m.append.prev_term = 1;
    m.append.commit = 3;
    clear(t);
    recv_msg(t, &m);
    assert_int_equal(t->n_applied, 3);
    assert_int_equal(t->applied[0], 1);
    assert_int_equal(t->applied[2], 3);
    assert_int_equal(raft_applied(&t->r), 3);
    rm(t);
}

/* Figure 2, All Servers 2: a higher term in any RPC makes the server a follower of it. */
static void test_all_servers_higher_term_steps_down(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    make_leader(t);
    uint64_t term = raft_term(&t->r);
    struct raft_msg m = msg(RAFT_MSG_APPEND_RESULT, 2, 1, term + 3);
    recv_msg(t, &m);
    assert_int_equal(raft_role(&t->r), RAFT_FOLLOWER);
    assert_int_equal(raft_term(&t->r), term + 3);
    assert_true(t->u.hs_changed);
    assert_int_equal(t->u.term, term + 3);
    assert_int_equal(raft_voted_for(&t->r), 0);
    rm(t);
}

/* ---------------------------------------------------------- Followers */

/* Figure 2, Followers 1: respond to RPCs from candidates and leaders. */
static void test_follower_responds_to_rpcs(void **state)
{
    (void)state;
    struct t *t = mk(2, 3, 0, false, false, NULL, 0);
    struct raft_msg v = msg(RAFT_MSG_VOTE, 3, 2, 2);
    v.vote.last_index = 1;
    v.vote.last_term = 1;
    clear(t);
    recv_msg(t, &v);
    persist(t);
    assert_non_null(find_sent(t, RAFT_MSG_VOTE_RESULT, 3));
    struct raft_msg a = msg(RAFT_MSG_APPEND, 3, 2, 2);
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    recv_msg(t, &a);
    assert_non_null(find_sent(t, RAFT_MSG_APPEND_RESULT, 3));
    rm(t);
}

/* Figure 2, Followers 2 (and paper §5.2): without hearing from a leader for a randomised
 * timeout in [ET, 2ET), a follower starts an election. */
static void test_follower_election_timeout(void **state)
{
    (void)state;
    for (uint64_t id = 1; id <= 3; id++) {
        struct t *t = mk(id, 3, 0, false, false, NULL, 0);
        tick(t, ET - 1);
        assert_int_equal(raft_role(&t->r), RAFT_FOLLOWER);
        tick(t, ET + 1);
        assert_int_equal(raft_role(&t->r), RAFT_CANDIDATE);
        assert_int_equal(raft_term(&t->r), 2);
        rm(t);
    }
}

/* Paper §5.2: a heartbeat from the leader resets the election timer. */
static void test_follower_heartbeat_resets_timer(void **state)
{
    (void)state;
    struct t *t = mk(2, 3, 0, false, false, NULL, 0);
    for (int i = 0; i < 20; i++) {
        struct raft_msg a = msg(RAFT_MSG_APPEND, 1, 2, 1);
        a.append.prev_index = 1;
        a.append.prev_term = 1;
        recv_msg(t, &a);
        tick(t, ET / 2);
    }
    assert_int_equal(raft_role(&t->r), RAFT_FOLLOWER);
    assert_int_equal(raft_leader(&t->r), 1);
    rm(t);
}

/* ---------------------------------------------------------- Candidates */

/* Figure 2, Candidates 1: increment term, vote for self, reset the timer, send RequestVote
 * to all others, and (our contract) only once term and vote are durable. */
static void test_candidate_on_conversion(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    t->now += 2 * ET;
    struct raft_event ev = {.type = RAFT_EV_TICK};
    clear(t);
    step(t, &ev);
    assert_int_equal(raft_role(&t->r), RAFT_CANDIDATE);
    assert_true(t->u.hs_changed);
    assert_int_equal(t->u.term, 2);
    assert_int_equal(t->u.vote, 1);
    assert_int_equal(count_sent(t, RAFT_MSG_VOTE), 0); /* withheld until durable */
    persist(t);
    assert_int_equal(count_sent(t, RAFT_MSG_VOTE), 2);
    struct raft_msg *v = find_sent(t, RAFT_MSG_VOTE, 2);
    assert_int_equal(v->term, 2);
    assert_int_equal(v->vote.last_index, 1);
    assert_int_equal(v->vote.last_term, 1);
    rm(t);
}

/* Our contract: a candidate's own vote counts only once durable, so a single voter cannot
 * lead before its term and vote are on disk. */
static void test_candidate_counts_own_vote_once_durable(void **state)
{
    (void)state;
    struct t *t = mk(1, 1, 0, false, false, NULL, 0);
    t->now += 2 * ET;
    struct raft_event ev = {.type = RAFT_EV_TICK};
    step(t, &ev);
    assert_int_equal(raft_role(&t->r), RAFT_CANDIDATE);
    assert_true(t->u.hs_changed);
    persist(t);
    assert_int_equal(raft_role(&t->r), RAFT_LEADER);
    rm(t);
}

/* Figure 2, Candidates 2: votes from a majority make it leader. */
static void test_candidate_wins_with_majority(void **state)
{
    (void)state;
    struct t *t = mk(1, 5, 0, false, false, NULL, 0);
    tick(t, 2 * ET);
    grant(t, 2, false);
    assert_int_equal(raft_role(&t->r), RAFT_CANDIDATE); /* 2 of 5 */
    grant(t, 3, false);
    assert_int_equal(raft_role(&t->r), RAFT_LEADER);
    rm(t);
}

/* Figure 2, Candidates 3: AppendEntries from a new leader of the term: become follower. */
static void test_candidate_steps_down_for_leader(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    tick(t, 2 * ET);
    struct raft_msg a = msg(RAFT_MSG_APPEND, 3, 1, raft_term(&t->r));
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    recv_msg(t, &a);
    assert_int_equal(raft_role(&t->r), RAFT_FOLLOWER);
    assert_int_equal(raft_leader(&t->r), 3);
    rm(t);
}

/* Figure 2, Candidates 4: if the election times out, start a new one in a new term. */
static void test_candidate_restarts_election(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    tick(t, 2 * ET);
    assert_int_equal(raft_term(&t->r), 2);
    tick(t, 2 * ET);
    assert_int_equal(raft_role(&t->r), RAFT_CANDIDATE);
    assert_int_equal(raft_term(&t->r), 3);
    rm(t);
}

/* ---------------------------------------------------------- Leaders */

/* Figure 2, Leaders 1: on election send AppendEntries to each server (here carrying the
 * term's no-op, paper §8), and heartbeats while idle. */
static void test_leader_heartbeats(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    clear(t);
    make_leader(t);
    struct raft_msg *a = find_sent(t, RAFT_MSG_APPEND, 2);
    assert_non_null(a);
    assert_non_null(find_sent(t, RAFT_MSG_APPEND, 3));
    assert_int_equal(raft_last_index(&t->r), 2);
    assert_int_equal(raft_entry_at(&t->r, 2)->type, RAFT_ENTRY_NOOP);
    clear(t);
    tick(t, HB);
    assert_int_equal(count_sent(t, RAFT_MSG_APPEND), 2);
    rm(t);
}

/* Figure 2, Leaders 2: a client command is appended, and answered once applied. */
static void test_leader_appends_and_answers_after_commit(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    make_leader(t);
    clear(t);
    propose(t, 77, "cmd");
    assert_int_equal(raft_last_index(&t->r), 3);
    assert_int_equal(t->n_results, 0);
    ack(t, 2, 3);
    assert_int_equal(raft_commit_index(&t->r), 3);
    assert_int_equal(t->n_results, 1);
    assert_int_equal(t->results[0].id, 77);
    assert_int_equal(t->results[0].err, 0);
    assert_int_equal(t->results[0].index, 3);
    rm(t);
}

/* Figure 2, Leaders 3: send entries from nextIndex; on a consistency failure move
 * nextIndex back (here in one step, using the follower's conflict hint) and retry. */
static void test_leader_backs_off_on_conflict(void **state)
{
    (void)state;
    uint64_t terms[] = {1, 1, 1, 1};
    struct t *t = mk(1, 3, 0, false, false, terms, 4);
    make_leader(t); /* last = 6 */
    clear(t);
    struct raft_msg r = msg(RAFT_MSG_APPEND_RESULT, 2, 1, raft_term(&t->r));
    r.append_result.reject_index = 5;
    r.append_result.conflict_index = 3; /* follower's log ends at 2 */
    recv_msg(t, &r);
    struct raft_msg *a = find_sent(t, RAFT_MSG_APPEND, 2);
    assert_non_null(a);
    assert_int_equal(a->append.prev_index, 2);
    assert_int_equal(a->append.n_entries, 4);
    assert_int_equal(a->append.entries[0].index, 3);
    rm(t);
}

/* Thesis §10.2.2: a follower in REPLICATE whose last append was lost (a connection reset)
 * while the leader then goes idle is caught up at the next heartbeat: it names the last
 * index sent, so the follower rejects it and the leader rewinds and resends. */
static void test_leader_resends_lost_append_when_idle(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    make_leader(t); /* last = 2 */
    ack(t, 2, 2);   /* 2 moves to REPLICATE */
    clear(t);
    propose(t, 1, "lost");
    struct raft_msg *a = find_sent(t, RAFT_MSG_APPEND, 2);
    assert_non_null(a);
    assert_int_equal(a->append.prev_index, 2);
    assert_int_equal(a->append.n_entries, 1); /* index 3: the network drops it */
    clear(t);
    tick(t, HB);
    a = find_sent(t, RAFT_MSG_APPEND, 2);
    assert_non_null(a);
    assert_int_equal(a->append.prev_index, 3);
    /* The follower does not have 3: it rejects, and the leader resends from 3. */
    struct raft_msg r = msg(RAFT_MSG_APPEND_RESULT, 2, 1, raft_term(&t->r));
    r.append_result.reject_index = 3;
    r.append_result.conflict_index = 3;
    clear(t);
    recv_msg(t, &r);
    a = find_sent(t, RAFT_MSG_APPEND, 2);
    assert_non_null(a);
    assert_int_equal(a->append.prev_index, 2);
    assert_int_equal(a->append.n_entries, 1);
    assert_int_equal(a->append.entries[0].index, 3);
    rm(t);
}

/* A lost connection from the leader is a hint, taken only with PreVote and only about the
 * leader: the follower forgets it (its lease ends) and pre-votes within half an election
 * timeout; a lost connection from anyone else changes nothing. */
static void test_leader_connection_lost(void **state)
{
    (void)state;
    for (int pre_vote = 0; pre_vote < 2; pre_vote++) {
        struct t *t = mk(2, 3, 0, pre_vote, true, NULL, 0);
        heartbeat_from_1(t, 1);
        assert_int_equal(raft_leader(&t->r), 1);
        struct raft_event lost = {.type = RAFT_EV_PEER_LOST, .peer = 3};
        step(t, &lost);
        assert_int_equal(raft_leader(&t->r), 1);
        lost.peer = 1;
        step(t, &lost);
        assert_int_equal(raft_leader(&t->r), pre_vote ? 0 : 1);
        tick(t, ET / 2);
        assert_int_equal(raft_role(&t->r), pre_vote ? RAFT_PRE_CANDIDATE : RAFT_FOLLOWER);
        assert_int_equal(raft_term(&t->r), 1); /* a pre-vote changes no term */
        rm(t);
    }
}

/* Figure 2, Leaders 4 (and Figure 8, §5.4.2): commit N only if a majority stores it and
 * log[N] is of the current term; earlier entries commit only with it. */
static void test_leader_commits_only_current_term(void **state)
{
    (void)state;
    uint64_t terms[] = {1, 1};
    struct t *t = mk(1, 3, 0, false, false, terms, 2); /* log 1..3, term 1 */
    make_leader(t);                                    /* term 2, no-op at 4 */
    ack(t, 2, 3);
    assert_int_equal(raft_commit_index(&t->r), 0); /* term-1 entries: not by counting */
    ack(t, 2, 4);
    assert_int_equal(raft_commit_index(&t->r), 4);
    rm(t);
}

/* ---------------------------------------------------------- RequestVote receiver */

/* Figure 2, RequestVote 1: reply false if term < currentTerm. */
static void test_vote_refused_for_stale_term(void **state)
{
    (void)state;
    struct t *t = mk(2, 3, 0, false, false, NULL, 0);
    heartbeat_from_1(t, 5);
    clear(t);
    struct raft_msg v = msg(RAFT_MSG_VOTE, 3, 2, 4);
    v.vote.last_index = 9;
    v.vote.last_term = 4;
    recv_msg(t, &v);
    struct raft_msg *r = find_sent(t, RAFT_MSG_VOTE_RESULT, 3);
    assert_non_null(r);
    assert_false(r->vote_result.granted);
    assert_int_equal(r->term, 5);
    rm(t);
}

/* Figure 2, RequestVote 2: grant if not voted for another in the term and the candidate's
 * log is at least as up-to-date (§5.4.1); the grant is sent once the vote is durable. */
static void test_vote_granted_once_per_term_and_only_up_to_date(void **state)
{
    (void)state;
    uint64_t terms[] = {1, 2};
    struct t *t = mk(2, 3, 0, false, false, terms, 2); /* last 3/2 */
    clear(t);
    struct raft_msg v = msg(RAFT_MSG_VOTE, 3, 2, 3);
    v.vote.last_index = 9;
    v.vote.last_term = 1; /* longer but older: not up-to-date */
    recv_msg(t, &v);
    persist(t);
    assert_false(find_sent(t, RAFT_MSG_VOTE_RESULT, 3)->vote_result.granted);
    clear(t);
    v = msg(RAFT_MSG_VOTE, 1, 2, 3);
    v.vote.last_index = 3;
    v.vote.last_term = 2;
    recv_msg(t, &v);
    assert_true(t->u.hs_changed);
    assert_int_equal(t->u.vote, 1);
    assert_null(find_sent(t, RAFT_MSG_VOTE_RESULT, 1)); /* not before the vote is durable */
    persist(t);
    assert_true(find_sent(t, RAFT_MSG_VOTE_RESULT, 1)->vote_result.granted);
    clear(t);
    v = msg(RAFT_MSG_VOTE, 3, 2, 3);
    v.vote.last_index = 5;
    v.vote.last_term = 2;
    recv_msg(t, &v);
    assert_false(find_sent(t, RAFT_MSG_VOTE_RESULT, 3)->vote_result.granted);
    rm(t);
}

/* ---------------------------------------------------------- AppendEntries receiver */

/* Figure 2, AppendEntries 1: reply false if term < currentTerm (so the stale leader
 * learns the newer term). */
static void test_append_refused_for_stale_term(void **state)
{
    (void)state;
    struct t *t = mk(2, 3, 0, false, false, NULL, 0);
    heartbeat_from_1(t, 3);
    clear(t);
    struct raft_msg a = msg(RAFT_MSG_APPEND, 3, 2, 2);
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    recv_msg(t, &a);
    struct raft_msg *r = find_sent(t, RAFT_MSG_APPEND_RESULT, 3);
    assert_false(r->append_result.success);
    assert_int_equal(r->term, 3);
    assert_int_equal(raft_leader(&t->r), 1);
    rm(t);
}

/* Figure 2, AppendEntries 2: reply false if the log lacks prevLogIndex/prevLogTerm, with
 * the conflict hint (first index of the conflicting term). */
static void test_append_consistency_check(void **state)
{
    (void)state;
    uint64_t terms[] = {1, 2, 2, 2};
    struct t *t = mk(2, 3, 0, false, false, terms, 4); /* 1:1 2:1 3:2 4:2 5:2 */
    clear(t);
    struct raft_msg a = msg(RAFT_MSG_APPEND, 1, 2, 3);
    a.append.prev_index = 5;
    a.append.prev_term = 3;
    recv_msg(t, &a);
    persist(t);
    struct raft_msg *r = find_sent(t, RAFT_MSG_APPEND_RESULT, 1);
    assert_false(r->append_result.success);
    assert_int_equal(r->append_result.conflict_term, 2);
    assert_int_equal(r->append_result.conflict_index, 3);
    clear(t);
    a.append.prev_index = 9;
    recv_msg(t, &a);
    r = find_sent(t, RAFT_MSG_APPEND_RESULT, 1);
    assert_false(r->append_result.success);
    assert_int_equal(r->append_result.conflict_term, 0);
    assert_int_equal(r->append_result.conflict_index, 6);
    /* prev_index 0 with a made-up term: refused, and in bounded time (the fuzzer found
     * the hint search running off the start of the log). */
    clear(t);
    a.append.prev_index = 0;
    a.append.prev_term = 5;
    recv_msg(t, &a);
    r = find_sent(t, RAFT_MSG_APPEND_RESULT, 1);
    assert_false(r->append_result.success);
    rm(t);
}

/* Figure 2, AppendEntries 3 and 4: delete a conflicting entry and all that follow, append
 * new entries, skip those already present; the store is told to truncate. */
static void test_append_truncates_conflict_and_appends(void **state)
{
    (void)state;
    uint64_t terms[] = {1, 2, 2};
    struct t *t = mk(2, 3, 0, false, false, terms, 3); /* 1:1 2:1 3:2 4:2 */
    heartbeat_from_1(t, 3); /* learn term 3 first */
    struct raft_entry es[3] = {
        {.term = 2, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = (uint8_t *)"x"},
        {.term = 3, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = (uint8_t *)"y"},
        {.term = 3, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = (uint8_t *)"z"},
    };
    struct raft_msg a = msg(RAFT_MSG_APPEND, 1, 2, 3);
    a.append.prev_index = 2;
    a.append.prev_term = 1;
    a.append.n_entries = 3;
    a.append.entries = es;
    clear(t);
    recv_msg(t, &a);
    assert_int_equal(t->u.truncate_from, 4);
    assert_int_equal(t->u.n_entries, 2);
    assert_int_equal(t->u.entries[0].index, 4);
    assert_int_equal(raft_last_index(&t->r), 5);
    assert_int_equal(raft_term_at(&t->r, 3), 2);
    assert_int_equal(raft_term_at(&t->r, 4), 3);
    assert_memory_equal(raft_entry_at(&t->r, 5)->data, "z", 1);
    struct raft_msg *r = find_sent(t, RAFT_MSG_APPEND_RESULT, 1);
    assert_true(r->append_result.success);
    assert_int_equal(r->append_result.last_index, 5);
    assert_true(r->append_result.match_index < 5); /* not durable yet */
    clear(t);
    persist(t);
    r = find_sent(t, RAFT_MSG_APPEND_RESULT, 1);
    assert_non_null(r);
    assert_int_equal(r->append_result.match_index, 5);
    rm(t);
}

/* Figure 2, AppendEntries 4 on its own: entries already present are not written again (a
 * retransmitted or reordered append changes nothing), only the new tail is. */
static void test_append_skips_entries_already_present(void **state)
{
    (void)state;
    uint64_t terms[] = {1, 1};
    struct t *t = mk(2, 3, 0, false, false, terms, 2); /* 1:1 2:1 3:1 */
    struct raft_entry es[3] = {
        {.term = 1, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = (uint8_t *)"x"},
        {.term = 1, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = (uint8_t *)"x"},
        {.term = 1, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = (uint8_t *)"n"},
    };
    struct raft_msg a = msg(RAFT_MSG_APPEND, 1, 2, 1);
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    a.append.n_entries = 2; /* indexes 2 and 3: both present */
    a.append.entries = es;
    recv_msg(t, &a);
    assert_int_equal(t->u.persist_seq, 0);
    assert_int_equal(raft_last_index(&t->r), 3);
    a.append.n_entries = 3; /* and index 4, new */
    recv_msg(t, &a);
    assert_int_equal(t->u.truncate_from, 0);
    assert_int_equal(t->u.n_entries, 1);
    assert_int_equal(t->u.entries[0].index, 4);
    assert_int_equal(raft_last_index(&t->r), 4);
    rm(t);
}

/* Figure 2, AppendEntries 5: commitIndex = min(leaderCommit, index of last new entry). */
static void test_append_commit_is_min(void **state)
{
    (void)state;
    struct t *t = mk(2, 3, 0, false, false, NULL, 0);
    struct raft_entry e = {.term = 1, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = (uint8_t *)"x"};
    struct raft_msg a = msg(RAFT_MSG_APPEND, 1, 2, 1);
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    a.append.n_entries = 1;
    a.append.entries = &e;
    a.append.commit = 10;
    recv_msg(t, &a);
    assert_int_equal(raft_commit_index(&t->r), 2);
    rm(t);
}

/* ---------------------------------------------------------- PreVote, CheckQuorum */

/* Thesis §9.6: a pre-candidate asks without raising its term; voters do not change theirs. */
static void test_prevote_keeps_terms(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, true, false, NULL, 0);
    clear(t);
    tick(t, 2 * ET);
    assert_int_equal(raft_role(&t->r), RAFT_PRE_CANDIDATE);
    assert_int_equal(raft_term(&t->r), 1);
    struct raft_msg *v = find_sent(t, RAFT_MSG_VOTE, 2);
    assert_true(v->vote.pre_vote);
    assert_int_equal(v->term, 2);
    struct t *f = mk(2, 3, 0, true, false, NULL, 0);
    clear(f);
    recv_msg(f, v);
    assert_int_equal(raft_term(&f->r), 1);
    assert_false(f->u.hs_changed);
    assert_true(find_sent(f, RAFT_MSG_VOTE_RESULT, 1)->vote_result.granted);
    /* Refusals from a majority send it back to follower, term unchanged. */
    struct raft_msg no = msg(RAFT_MSG_VOTE_RESULT, 2, 1, 1);
    no.vote_result.pre_vote = true;
    recv_msg(t, &no);
    no.from = 3;
    recv_msg(t, &no);
    assert_int_equal(raft_role(&t->r), RAFT_FOLLOWER);
    assert_int_equal(raft_term(&t->r), 1);
    rm(t);
    rm(f);
}

/* With CheckQuorum, a server that heard from its leader within the election timeout
 * ignores (pre-)votes (thesis §4.2.3): a partitioned server cannot disrupt. */
static void test_stickiness_ignores_votes_in_lease(void **state)
{
    (void)state;
    struct t *f = mk(2, 3, 0, true, true, NULL, 0);
    struct raft_msg a = msg(RAFT_MSG_APPEND, 1, 2, 1);
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    recv_msg(f, &a);
    clear(f);
    struct raft_msg v = msg(RAFT_MSG_VOTE, 3, 2, 2);
    v.vote.last_index = 5;
    v.vote.last_term = 1;
    recv_msg(f, &v);
    assert_int_equal(raft_term(&f->r), 1);
    assert_int_equal(f->n_sent, 0);
    /* After the lease, the same request is considered. */
    tick(f, ET);
    clear(f);
    v.vote.pre_vote = true;
    recv_msg(f, &v);
    assert_true(find_sent(f, RAFT_MSG_VOTE_RESULT, 3)->vote_result.granted);
    rm(f);
}

/* CheckQuorum (thesis §6.2): a leader that hears from no majority for an election timeout
 * steps down; one that does, stays. */
static void test_check_quorum_steps_down(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, true, NULL, 0);
    make_leader(t);
    for (int i = 0; i < 2 * ET / HB; i++) {
        ack(t, 2, 2);
        tick(t, HB);
    }
    assert_int_equal(raft_role(&t->r), RAFT_LEADER);
    uint64_t silent_since = t->now;
    while (raft_role(&t->r) == RAFT_LEADER && t->now < silent_since + 3 * ET)
        tick(t, HB);
    assert_int_equal(raft_role(&t->r), RAFT_FOLLOWER);
    assert_true(t->now - silent_since >= ET);
    assert_true(t->now - silent_since <= 2 * ET + HB);
    assert_true(raft_stats_get(&t->r)->quorum_stepdowns >= 1);
    rm(t);
}

/* Leases: a leader's majority contact is the quorum-th newest answer (itself now); a
 * follower's is the last time it heard from its leader. */
static void test_majority_contact(void **state)
{
    (void)state;
    struct t *t = mk(1, 5, 0, false, false, NULL, 0);
    assert_int_equal(raft_majority_contact_ms(&t->r), 0);
    tick(t, 2 * ET);
    grant(t, 2, false);
    grant(t, 3, false);
    assert_int_equal(raft_role(&t->r), RAFT_LEADER);
    persist(t);
    uint64_t elected = t->now;
    /* Elected by 2 and 3: in touch with a majority (1, 2, 3) as of the election. */
    assert_int_equal(raft_majority_contact_ms(&t->r), elected);
    tick(t, HB);
    ack(t, 2, 2);
    /* Only 2 answered since: 1 and 2 of 5 is no majority; 3's vote still counts. */
    assert_int_equal(raft_majority_contact_ms(&t->r), elected);
    tick(t, HB);
    uint64_t t4 = t->now;
    ack(t, 4, 2);
    assert_int_equal(raft_majority_contact_ms(&t->r), elected + HB);
    tick(t, HB);
    ack(t, 3, 2);
    assert_int_equal(raft_majority_contact_ms(&t->r), t4);
    /* Silence: the contact time stays while the clock moves on. */
    tick(t, 3 * HB);
    assert_int_equal(raft_majority_contact_ms(&t->r), t4);
    rm(t);
    /* A follower: the last time its leader spoke. */
    t = mk(2, 3, 0, false, false, NULL, 0);
    tick(t, HB);
    heartbeat_from_1(t, 2);
    uint64_t heard = t->now;
    tick(t, HB);
    assert_int_equal(raft_majority_contact_ms(&t->r), heard);
    /* The leader says index 3 is committed, and this node holds only 1: hearing it is no
     * contact for the lease until the node has applied that far. */
    struct raft_msg a = msg(RAFT_MSG_APPEND, 1, 2, 2);
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    a.append.commit = 3;
    recv_msg(t, &a);
    persist(t);
    tick(t, HB);
    heartbeat_from_1(t, 2);
    assert_int_equal(raft_majority_contact_ms(&t->r), heard);
    assert_int_equal(raft_leader_commit(&t->r), 3);
    rm(t);
    /* The leader's own contact counts, not the message: one that last heard a majority 70 ms
     * before sending gives a lease from 70 ms before receipt; a leader that never did (a
     * deposed one still sending), none. */
    t = mk(2, 3, 0, false, false, NULL, 0);
    tick(t, HB);
    a = msg(RAFT_MSG_APPEND, 1, 2, 2);
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    a.append.lease_age_ms = 70;
    recv_msg(t, &a);
    persist(t);
    assert_int_equal(raft_majority_contact_ms(&t->r), t->now - 70);
    uint64_t before = t->now - 70;
    tick(t, HB);
    a.append.lease_age_ms = UINT64_MAX >> 2;
    recv_msg(t, &a);
    persist(t);
    assert_int_equal(raft_majority_contact_ms(&t->r), before);
    rm(t);
}

/* A leader whose writes never become durable steps down after an election timeout. */
static void test_disk_stall_steps_down(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    make_leader(t);
    struct raft_proposal p = {.id = 1, .data = (const uint8_t *)"a", .len = 1};
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.items = &p;
    ev.propose.n = 1;
    step(t, &ev); /* never persisted */
    for (int i = 0; i < ET / HB + 1; i++) {
        t->now += HB;
        struct raft_event tk = {.type = RAFT_EV_TICK};
        step(t, &tk);
    }
    assert_int_equal(raft_role(&t->r), RAFT_FOLLOWER);
    assert_int_equal(raft_stats_get(&t->r)->disk_stall_stepdowns, 1);
    rm(t);
}

/* ---------------------------------------------------------- transfer, learners */

/* Thesis §3.10: transfer waits until the target is caught up, then sends TimeoutNow; the
 * target campaigns at once, and its request overrides the voters' stickiness. */
static void test_transfer(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, true, true, NULL, 0);
    make_leader(t);
    clear(t);
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.to = 2;
    assert_int_equal(step(t, &ev), 0);
    assert_null(find_sent(t, RAFT_MSG_TIMEOUT_NOW, 2));
    propose(t, 5, "refused");
    assert_int_equal(t->results[0].err, PL_ENOLEADER); /* no proposals while handing over */
    ack(t, 2, 2);
    assert_non_null(find_sent(t, RAFT_MSG_TIMEOUT_NOW, 2));

    struct t *f = mk(2, 3, 0, true, true, NULL, 0);
    struct raft_msg tn = msg(RAFT_MSG_TIMEOUT_NOW, 1, 2, 1);
    clear(f);
    recv_msg(f, &tn);
    assert_int_equal(raft_role(&f->r), RAFT_CANDIDATE); /* no pre-vote round */
    persist(f);
    struct raft_msg *v = find_sent(f, RAFT_MSG_VOTE, 3);
    assert_true(v->vote.transfer);
    struct t *g = mk(3, 3, 0, true, true, NULL, 0);
    struct raft_msg a = msg(RAFT_MSG_APPEND, 1, 3, 1);
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    recv_msg(g, &a); /* g is in its lease */
    clear(g);
    recv_msg(g, v);
    persist(g);
    assert_true(find_sent(g, RAFT_MSG_VOTE_RESULT, 2)->vote_result.granted);
    rm(t);
    rm(f);
    rm(g);
}

/* Learners replicate but neither campaign nor count towards a majority. */
static void test_learner(void **state)
{
    (void)state;
    struct t *l = mk(4, 3, 1, false, false, NULL, 0);
    tick(l, 10 * ET);
    assert_int_equal(raft_role(&l->r), RAFT_FOLLOWER);
    assert_int_equal(raft_stats_get(&l->r)->elections, 0);
    struct t *t = mk(1, 3, 1, false, false, NULL, 0);
    make_leader(t);
    ack(t, 4, 2);
    assert_int_equal(raft_commit_index(&t->r), 0); /* a learner's ack is not a majority */
    ack(t, 3, 2);
    assert_int_equal(raft_commit_index(&t->r), 2);
    rm(l);
    rm(t);
}

/* Thesis §4.1: one change at a time, effective on append; promotion needs a caught-up
 * learner; removing the leader makes it step down once committed (§4.2.2). */
static void test_membership_changes(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    make_leader(t);
    struct raft_event ev = {.type = RAFT_EV_CHANGE};
    ev.change.id = 100;
    ev.change.op = RAFT_ADD_LEARNER;
    ev.change.server = 4;
    assert_int_equal(step(t, &ev), PL_ESTATE); /* no entry of this term committed yet */
    ack(t, 2, 2);
    assert_int_equal(step(t, &ev), 0);
    persist(t);
    assert_non_null(raft_config_find(raft_config_get(&t->r), 4)); /* effective at once */
    ev.change.id = 101;
    ev.change.op = RAFT_PROMOTE;
    assert_int_equal(step(t, &ev), PL_ESTATE); /* previous change not committed */
    clear(t);
    ack(t, 2, 3);
    assert_int_equal(t->results[0].id, 100);
    assert_int_equal(step(t, &ev), PL_ESTATE); /* learner not caught up */
    ack(t, 4, 3);
    assert_int_equal(step(t, &ev), 0);
    persist(t);
    assert_int_equal(raft_config_find(raft_config_get(&t->r), 4)->role, RAFT_VOTER);
    assert_int_equal(raft_config_voters(raft_config_get(&t->r)), 4);
    ack(t, 2, 4);
    ack(t, 4, 4);
    ev.change.id = 102;
    ev.change.op = RAFT_REMOVE;
    ev.change.server = 1;
    assert_int_equal(step(t, &ev), 0);
    persist(t);
    assert_int_equal(raft_role(&t->r), RAFT_LEADER);
    ack(t, 2, 5);
    ack(t, 4, 5);
    assert_int_equal(raft_role(&t->r), RAFT_FOLLOWER);
    rm(t);
}

/* ---------------------------------------------------------- proposals, snapshots */

/* A follower forwards a proposal to the leader and learns its outcome from its own log. */
static void test_forwarded_proposal(void **state)
{
    (void)state;
    struct t *f = mk(2, 3, 0, false, false, NULL, 0);
    propose(f, 9, "no leader");
    assert_int_equal(f->results[0].err, PL_ENOLEADER);
    struct raft_msg a = msg(RAFT_MSG_APPEND, 1, 2, 1);
    a.append.prev_index = 1;
    a.append.prev_term = 1;
    recv_msg(f, &a);
    clear(f);
    propose(f, 10, "hello");
    struct raft_msg *p = find_sent(f, RAFT_MSG_PROPOSE, 1);
    assert_non_null(p);
    assert_int_equal(p->propose.id, 10);
    struct raft_msg r = msg(RAFT_MSG_PROPOSE_RESULT, 1, 2, 1);
    r.propose_result.id = 10;
    r.propose_result.index = 2;
    r.propose_result.term = 1;
    recv_msg(f, &r);
    struct raft_entry e = {.term = 1, .type = RAFT_ENTRY_NORMAL, .len = 5, .data = (uint8_t *)"hello"};
    a.append.n_entries = 1;
    a.append.entries = &e;
    a.append.commit = 2;
    recv_msg(f, &a);
    assert_int_equal(f->results[0].id, 10);
    assert_int_equal(f->results[0].err, 0);
    assert_int_equal(f->results[0].index, 2);
    /* An unanswered proposal times out with a clear error. */
    clear(f);
    propose(f, 11, "lost");
    tick(f, 6000);
    assert_int_equal(f->results[0].id, 11);
    assert_true(f->results[0].err == PL_ETIMEOUT || f->results[0].err == PL_ENOLEADER);
    rm(f);
}

/* A client (node 9, outside the configuration: an agent that is not a voter) keeps no log,
 * so the leader answers its proposal only once committed; a repeat of it is not appended
 * twice; and when the leader steps down, a waiting client is told the outcome is unknown. */
static void test_client_proposal_answered_at_commit(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    make_leader(t); /* no-op at 2 */
    ack(t, 2, 2);
    clear(t);
    struct raft_msg p = msg(RAFT_MSG_PROPOSE, 9, 1, 0);
    p.propose.id = 5;
    p.propose.data = (const uint8_t *)"from a client";
    p.propose.len = 13;
    recv_msg(t, &p);
    persist(t);
    assert_int_equal(raft_last_index(&t->r), 3);
    assert_null(find_sent(t, RAFT_MSG_PROPOSE_RESULT, 9)); /* not committed yet */
    recv_msg(t, &p); /* the network repeats it */
    assert_int_equal(raft_last_index(&t->r), 3);
    assert_null(find_sent(t, RAFT_MSG_PROPOSE_RESULT, 9));
    ack(t, 2, 3);
    struct raft_msg *r = find_sent(t, RAFT_MSG_PROPOSE_RESULT, 9);
    assert_non_null(r);
    assert_int_equal(r->propose_result.id, 5);
    assert_int_equal(r->propose_result.err, 0);
    assert_int_equal(r->propose_result.index, 3);
    /* A second one waits; then a higher term deposes the leader before it commits. */
    clear(t);
    p.propose.id = 6;
    recv_msg(t, &p);
    persist(t);
    assert_null(find_sent(t, RAFT_MSG_PROPOSE_RESULT, 9));
    struct raft_msg up = msg(RAFT_MSG_APPEND, 2, 1, raft_term(&t->r) + 1);
    up.append.prev_index = 3;
    up.append.prev_term = raft_term(&t->r);
    recv_msg(t, &up);
    r = find_sent(t, RAFT_MSG_PROPOSE_RESULT, 9);
    assert_non_null(r);
    assert_int_equal(r->propose_result.id, 6);
    assert_int_equal(r->propose_result.err, PL_ETIMEOUT);
    rm(t);
}

/* A forwarded proposal that the network delivers twice is appended once, and both copies
 * are answered with the same placement. */
static void test_duplicate_forward_placed_once(void **state)
{
    (void)state;
    struct t *t = mk(1, 3, 0, false, false, NULL, 0);
    make_leader(t); /* last 2 */
    struct raft_msg p = msg(RAFT_MSG_PROPOSE, 2, 1, raft_term(&t->r));
    p.propose.id = 42;
    p.propose.data = (const uint8_t *)"once";
    p.propose.len = 4;
    clear(t);
    recv_msg(t, &p);
    persist(t);
    recv_msg(t, &p);
    persist(t);
    assert_int_equal(raft_last_index(&t->r), 3);
    int answers = 0;
    for (int i = 0; i < t->n_sent; i++) {
        if (t->sent[i].type != RAFT_MSG_PROPOSE_RESULT)
            continue;
        answers++;
        assert_int_equal(t->sent[i].propose_result.err, 0);
        assert_int_equal(t->sent[i].propose_result.index, 3);
    }
    assert_int_equal(answers, 2);
    rm(t);
}

/* The leader's shell in test_snapshot_chunks: answers the core's one read from `body`. */
static void serve_read(struct t *t, const char *body, uint64_t to)
{
    assert_int_equal(t->u.n_reads, 1);
    struct raft_read rd = t->u.reads[0];
    assert_int_equal(rd.to, to);
    assert_non_null(rd.snap);
    assert_int_equal(rd.snap->len, 2); /* the description, never the body */
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_READ};
    ev.read.to = rd.to;
    ev.read.index = rd.snap->index;
    ev.read.offset = rd.offset;
    ev.read.len = (uint32_t)(rd.snap->body_len - rd.offset < rd.bytes_max
                                 ? rd.snap->body_len - rd.offset
                                 : rd.bytes_max);
    ev.read.data = (const uint8_t *)body + rd.offset;
    clear(t);
    assert_int_equal(step(t, &ev), 0);
}

/* The follower's shell: checks the staged chunk against `body`, then reports `held`. */
static void stage_chunk(struct t *f, const struct raft_stage *staged, const char *body,
                        uint64_t held)
{
    assert_non_null(staged);
    struct raft_stage sg = *staged;
    assert_memory_equal(sg.data, body + sg.offset, sg.len);
    assert_memory_equal(sg.snap->data, "ab", 2);
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_STAGED};
    ev.staged.index = sg.snap->index;
    ev.staged.held = held;
    clear(f);
    assert_int_equal(step(f, &ev), 0);
}

/* Paper §7: a leader compacts after a snapshot and sends InstallSnapshot in chunks to a
 * follower that needs compacted entries: the core holds the snapshot's description only;
 * its shell reads each body chunk when asked, the follower's shell stages it and says how
 * much it holds (more than was sent, when it held a prefix already), and the follower
 * installs once it holds the whole body. */
static void test_snapshot_chunks(void **state)
{
    (void)state;
    const char *body = "0123456789";
    uint64_t terms[] = {1, 1, 1, 1, 1, 1, 1, 1};
    struct t *t = mk(1, 3, 0, false, false, terms, 8);
    t->r.o.snapshot_chunk_bytes = 4;
    t->r.o.snapshot_trailing = 0;
    make_leader(t); /* last 10 */
    ack(t, 2, 10);
    assert_int_equal(raft_commit_index(&t->r), 10);
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT};
    ev.snapshot.data = (const uint8_t *)"ab";
    ev.snapshot.len = 2;
    ev.snapshot.body_len = 10;
    /* Never past what is applied; an index behind it (a snapshot built in the background)
     * is taken like one at it. */
    ev.snapshot.index = 11;
    assert_int_equal(step(t, &ev), PL_ESTATE);
    clear(t);
    ev.snapshot.index = 10;
    assert_int_equal(step(t, &ev), 0);
    assert_non_null(t->u.snapshot);
    assert_int_equal(t->u.snapshot->body_len, 10);
    assert_int_equal(t->u.compact_to, 10);
    persist(t);
    uint64_t log_bytes, snap_bytes;
    raft_memory_get(&t->r, &log_bytes, &snap_bytes);
    assert_int_equal(snap_bytes, 2);
    clear(t);
    struct raft_msg r = msg(RAFT_MSG_APPEND_RESULT, 3, 1, raft_term(&t->r));
    r.append_result.reject_index = 10;
    r.append_result.conflict_index = 2;
    recv_msg(t, &r);
    assert_null(find_sent(t, RAFT_MSG_SNAPSHOT, 3)); /* asked of the shell first */
    serve_read(t, body, 3);
    struct raft_msg *s = find_sent(t, RAFT_MSG_SNAPSHOT, 3);
    assert_non_null(s);
    assert_int_equal(s->snapshot.offset, 0);
    assert_int_equal(s->snapshot.len, 4);
    assert_int_equal(s->snapshot.body_len, 10);
    assert_int_equal(s->snapshot.meta_len, 2);

    /* The follower held 6 positions already: the leader goes on from there. */
    struct t *f = mk(3, 3, 0, false, false, NULL, 0);
    struct raft_msg c = *s;
    clear(f);
    recv_msg(f, &c);
    assert_null(find_sent(f, RAFT_MSG_SNAPSHOT_RESULT, 1)); /* not before it is staged */
    assert_non_null(f->u.stage);
    struct raft_stage sg = *f->u.stage; /* the core's copy lasts until the next chunk */
    persist(f); /* the chunk raised f's term */
    stage_chunk(f, &sg, body, 6);
    struct raft_msg *res = find_sent(f, RAFT_MSG_SNAPSHOT_RESULT, 1);
    assert_non_null(res);
    assert_int_equal(res->snapshot_result.offset, 6);
    assert_false(res->snapshot_result.done);
    clear(t);
    recv_msg(t, res);
    serve_read(t, body, 3);
    c = *find_sent(t, RAFT_MSG_SNAPSHOT, 3);
    assert_int_equal(c.snapshot.offset, 6);
    assert_int_equal(c.snapshot.len, 4);
    clear(f);
    recv_msg(f, &c);
    stage_chunk(f, f->u.stage, body, 10);
    assert_non_null(f->u.install);
    assert_int_equal(f->u.install->index, 10);
    assert_int_equal(f->u.install->body_len, 10);
    assert_int_equal(raft_commit_index(&f->r), 10);
    assert_null(find_sent(f, RAFT_MSG_SNAPSHOT_RESULT, 1)); /* done only once durable */
    persist(f);
    struct raft_msg *done = find_sent(f, RAFT_MSG_SNAPSHOT_RESULT, 1);
    assert_true(done->snapshot_result.done);
    clear(t);
    recv_msg(t, done);
    struct raft_peer_info pi;
    assert_int_equal(raft_peer_get(&t->r, 3, &pi), 0);
    assert_int_equal(pi.match, 10);
    rm(t);
    rm(f);
}

/* A read answered after the follower moved on, or a stage report for another snapshot, is
 * ignored: nothing goes out for either. */
static void test_snapshot_stale_events(void **state)
{
    (void)state;
    uint64_t terms[] = {1, 1, 1, 1, 1, 1, 1, 1};
    struct t *t = mk(1, 3, 0, false, false, terms, 8);
    t->r.o.snapshot_trailing = 0;
    make_leader(t);
    ack(t, 2, 10);
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT};
    ev.snapshot.data = (const uint8_t *)"ab";
    ev.snapshot.len = 2;
    ev.snapshot.body_len = 10;
    ev.snapshot.index = 10;
    assert_int_equal(step(t, &ev), 0);
    persist(t);
    struct raft_event rd = {.type = RAFT_EV_SNAPSHOT_READ};
    rd.read.to = 3;
    rd.read.index = 10;
    rd.read.data = (const uint8_t *)"0123";
    rd.read.len = 4;
    clear(t);
    assert_int_equal(step(t, &rd), 0); /* 3 is not being sent a snapshot */
    assert_null(find_sent(t, RAFT_MSG_SNAPSHOT, 3));
    struct t *f = mk(3, 3, 0, false, false, NULL, 0);
    struct raft_event st = {.type = RAFT_EV_SNAPSHOT_STAGED};
    st.staged.index = 10;
    st.staged.held = 10;
    clear(f);
    assert_int_equal(step(f, &st), 0); /* nothing is being received */
    assert_null(f->u.install);
    assert_int_equal(f->n_sent, 0);
    rm(t);
    rm(f);
}

/* Load refuses an inconsistent store rather than serving wrong data. */
static void test_load_refuses_corrupt(void **state)
{
    (void)state;
    struct raft r;
    struct pl_rand rnd;
    pl_rand_seed(&rnd, 1);
    struct raft_options o;
    raft_options_default(&o, 1);
    assert_int_equal(raft_init(&r, &o, &rnd), 0);
    struct raft_entry es[2] = {
        {.term = 1, .index = 1, .type = RAFT_ENTRY_NORMAL, .len = 0, .data = (uint8_t *)""},
        {.term = 1, .index = 3, .type = RAFT_ENTRY_NORMAL, .len = 0, .data = (uint8_t *)""},
    };
    assert_int_equal(raft_load(&r, 1, 0, NULL, es, 2), PL_ECORRUPT); /* a gap */
    es[1].index = 2;
    assert_int_equal(raft_load(&r, 0, 0, NULL, es, 2), PL_ECORRUPT); /* term above hs */
    raft_close(&r);
}

/* ---------------------------------------------------------- wire */

static void roundtrip(const struct raft_msg *m)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(raft_wire_encode(m, &b), 0);
    struct raft_wire_msg w;
    assert_int_equal(raft_wire_decode(b.data, b.len, &w), 0);
    assert_true(raft_msg_equal(m, &w.msg));
    raft_wire_msg_close(&w);
    /* Every truncation is refused, never trusted. */
    for (size_t n = 0; n < b.len; n++) {
        assert_int_not_equal(raft_wire_decode(b.data, n, &w), 0);
        raft_wire_msg_close(&w);
    }
    pl_buf_close(&b);
}

static void test_wire_roundtrip_and_truncation(void **state)
{
    (void)state;
    struct raft_entry es[2] = {
        {.term = 3, .index = 8, .type = RAFT_ENTRY_NORMAL, .len = 3, .data = (uint8_t *)"abc"},
        {.term = 4, .index = 9, .type = RAFT_ENTRY_NOOP, .len = 0, .data = (uint8_t *)""},
    };
    struct raft_msg m = msg(RAFT_MSG_APPEND, 1, 2, 4);
    m.append.prev_index = 7;
    m.append.prev_term = 3;
    m.append.commit = 6;
    m.append.lease_age_ms = 1234;
    m.append.n_entries = 2;
    m.append.entries = es;
    roundtrip(&m);
    m = msg(RAFT_MSG_VOTE, 3, 1, 9);
    m.vote.last_index = 100;
    m.vote.pre_vote = true;
    roundtrip(&m);
    m = msg(RAFT_MSG_SNAPSHOT, 1, 2, 4);
    m.snapshot.snap_index = 50;
    m.snapshot.snap_term = 3;
    m.snapshot.config.n = 2;
    m.snapshot.config.servers[0] = (struct raft_server){1, RAFT_VOTER};
    m.snapshot.config.servers[1] = (struct raft_server){2, RAFT_LEARNER};
    m.snapshot.meta = (const uint8_t *)"ab";
    m.snapshot.meta_len = 2;
    m.snapshot.body_len = 10;
    m.snapshot.offset = 4;
    m.snapshot.len = 3;
    m.snapshot.data = (const uint8_t *)"xyz";
    roundtrip(&m);
    m = msg(RAFT_MSG_PROPOSE_RESULT, 1, 2, 4);
    m.propose_result.id = 5;
    m.propose_result.err = PL_ENOLEADER;
    roundtrip(&m);
}

static bool known_1_2(void *ctx, uint64_t id)
{
    (void)ctx;
    return id == 1 || id == 2;
}

static void test_wire_refusals_counted(void **state)
{
    (void)state;
    struct raft_wire_stats st = {0};
    struct raft_wire_msg w;
    const uint8_t junk[] = {0x93, 0x01, 0x02};
    assert_int_equal(raft_wire_receive(junk, sizeof(junk), 2, known_1_2, NULL, &w, &st),
                     PL_EMALFORMED);
    raft_wire_msg_close(&w);
    assert_int_equal(st.malformed, 1);
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    struct raft_msg m = msg(RAFT_MSG_TIMEOUT_NOW, 7, 2, 1);
    assert_int_equal(raft_wire_encode(&m, &b), 0);
    assert_int_equal(raft_wire_receive(b.data, b.len, 2, known_1_2, NULL, &w, &st), PL_ECLUSTER);
    raft_wire_msg_close(&w);
    assert_int_equal(st.unknown_node, 1);
    b.data[1] = 9; /* version 9 */
    assert_int_equal(raft_wire_receive(b.data, b.len, 2, known_1_2, NULL, &w, &st), PL_EVERSION);
    raft_wire_msg_close(&w);
    assert_int_equal(st.version, 1);
    pl_buf_close(&b);
    /* A stale term is refused and counted by the core. */
    struct t *t = mk(2, 3, 0, false, false, NULL, 0);
    struct raft_msg up = msg(RAFT_MSG_APPEND, 1, 2, 3);
    up.append.prev_index = 1;
    up.append.prev_term = 1;
    recv_msg(t, &up);
    struct raft_msg old = msg(RAFT_MSG_VOTE_RESULT, 3, 2, 2);
    recv_msg(t, &old);
    assert_int_equal(raft_stats_get(&t->r)->dropped_stale, 1);
    rm(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_servers_apply_committed_in_order),
        cmocka_unit_test(test_all_servers_higher_term_steps_down),
        cmocka_unit_test(test_follower_responds_to_rpcs),
        cmocka_unit_test(test_follower_election_timeout),
        cmocka_unit_test(test_follower_heartbeat_resets_timer),
        cmocka_unit_test(test_candidate_on_conversion),
        cmocka_unit_test(test_candidate_counts_own_vote_once_durable),
        cmocka_unit_test(test_candidate_wins_with_majority),
        cmocka_unit_test(test_candidate_steps_down_for_leader),
        cmocka_unit_test(test_candidate_restarts_election),
        cmocka_unit_test(test_leader_heartbeats),
        cmocka_unit_test(test_leader_appends_and_answers_after_commit),
        cmocka_unit_test(test_leader_backs_off_on_conflict),
        cmocka_unit_test(test_leader_resends_lost_append_when_idle),
        cmocka_unit_test(test_leader_connection_lost),
        cmocka_unit_test(test_leader_commits_only_current_term),
        cmocka_unit_test(test_vote_refused_for_stale_term),
        cmocka_unit_test(test_vote_granted_once_per_term_and_only_up_to_date),
        cmocka_unit_test(test_append_refused_for_stale_term),
        cmocka_unit_test(test_append_consistency_check),
        cmocka_unit_test(test_append_truncates_conflict_and_appends),
        cmocka_unit_test(test_append_skips_entries_already_present),
        cmocka_unit_test(test_append_commit_is_min),
        cmocka_unit_test(test_prevote_keeps_terms),
        cmocka_unit_test(test_stickiness_ignores_votes_in_lease),
        cmocka_unit_test(test_check_quorum_steps_down),
        cmocka_unit_test(test_majority_contact),
        cmocka_unit_test(test_disk_stall_steps_down),
        cmocka_unit_test(test_transfer),
        cmocka_unit_test(test_learner),
        cmocka_unit_test(test_membership_changes),
        cmocka_unit_test(test_forwarded_proposal),
        cmocka_unit_test(test_duplicate_forward_placed_once),
        cmocka_unit_test(test_client_proposal_answered_at_commit),
        cmocka_unit_test(test_snapshot_chunks),
        cmocka_unit_test(test_snapshot_stale_events),
        cmocka_unit_test(test_load_refuses_corrupt),
        cmocka_unit_test(test_wire_roundtrip_and_truncation),
        cmocka_unit_test(test_wire_refusals_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
