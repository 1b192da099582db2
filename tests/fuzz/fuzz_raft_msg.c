/*
 * libFuzzer target for the Raft wire decoder (raft/raft_wire.c): any bytes must decode
 * cleanly or be refused, never crash, over-read or allocate without bound; and whatever
 * decodes must re-encode to bytes that decode to an equal message (decode -> encode ->
 * decode). Whatever decodes is then delivered to two real cores, a follower and a freshly
 * elected leader, so a hostile peer's message can never trip an assertion in the core (we
 * never assert on outside input). Seeds: tests/fuzz/corpus/fuzz_raft_msg/ (one encoded
 * message of each type).
 */
#include "pl_assert.h"
#include "pl_buf.h"
#include "raft_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Carries out updates synchronously until there is nothing left to persist, staging a
 * snapshot chunk as a shell would (holding up to its end, or the whole body when the chunk
 * has a byte that says so) and answering a read with a few bytes. */
static void settle(struct raft *r, uint64_t now, struct raft_update *u)
{
    for (int i = 0; i < 8; i++) {
        if (u->persist_seq != 0) {
            struct raft_event ev = {.type = RAFT_EV_PERSISTED, .persisted_seq = u->persist_seq};
            raft_step(r, now, &ev, u);
        } else if (u->stage != NULL) {
            const struct raft_stage *sg = u->stage;
            struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_STAGED};
            ev.staged.index = sg->snap->index;
            uint64_t end = sg->offset + sg->len;
            bool all = sg->len > 0 && sg->data[0] == 0xff;
            ev.staged.held = all || end > sg->snap->body_len ? sg->snap->body_len : end;
            raft_step(r, now, &ev, u);
        } else if (u->n_reads > 0) {
            struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_READ};
            ev.read.to = u->reads[0].to;
            ev.read.index = u->reads[0].snap->index;
            ev.read.offset = u->reads[0].offset;
            ev.read.data = (const uint8_t *)"chunk";
            ev.read.len = 5;
            raft_step(r, now, &ev, u);
        } else {
            break;
        }
    }
}

static void deliver_to_core(const struct raft_msg *in, uint64_t id, bool leader)
{
    struct pl_rand rnd;
    pl_rand_seed(&rnd, id);
    struct raft_options o;
    raft_options_default(&o, id);
    o.pre_vote = false;
    o.election_timeout_ms = 100;
    o.heartbeat_ms = 10;
    o.snapshot_bytes_max = 1 << 16;
    struct raft r;
    PL_ASSERT(raft_init(&r, &o, &rnd) == 0);
    struct raft_config c = {3, {{1, RAFT_VOTER}, {2, RAFT_VOTER}, {3, RAFT_VOTER}}};
    struct raft_entry es[4];
    PL_ASSERT(raft_bootstrap_entry(&c, &es[0]) == 0);
    for (int i = 1; i < 4; i++)
        es[i] = (struct raft_entry){.term = i < 3 ? 1 : 2, .index = (uint64_t)i + 1,
                                    .type = RAFT_ENTRY_NORMAL, .len = 1, .data = (uint8_t *)"x"};
    PL_ASSERT(raft_load(&r, 2, 0, NULL, es, 4) == 0);
    free(es[0].data);
    uint64_t now = 1000;
    struct raft_update u;
    struct raft_event tick = {.type = RAFT_EV_TICK};
    raft_step(&r, now, &tick, &u);
    if (leader) {
        now += 300;
        raft_step(&r, now, &tick, &u);
        settle(&r, now, &u);
        struct raft_msg g = {.type = RAFT_MSG_VOTE_RESULT, .from = 2, .to = id,
                             .term = raft_term(&r)};
        g.vote_result.granted = true;
        struct raft_event ev = {.type = RAFT_EV_RECEIVE, .msg = &g};
        raft_step(&r, now, &ev, &u);
        settle(&r, now, &u);
        PL_ASSERT(raft_role(&r) == RAFT_LEADER);
    }
    struct raft_msg m = *in;
    m.to = id;
    if (m.from == id)
        m.from = id == 1 ? 2 : 1;
    struct raft_event ev = {.type = RAFT_EV_RECEIVE, .msg = &m};
    raft_step(&r, now, &ev, &u);
    settle(&r, now, &u);
    now += 50;
    raft_step(&r, now, &tick, &u);
    settle(&r, now, &u);
    PL_ASSERT(raft_commit_index(&r) <= raft_last_index(&r));
    raft_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raft_wire_msg a;
    if (raft_wire_decode(data, size, &a) != 0) {
        raft_wire_msg_close(&a);
        struct raft_config c;
        (void)raft_config_decode(data, size, &c);
        return 0;
    }
    struct pl_buf b;
    pl_buf_init(&b, RAFT_WIRE_MSG_BYTES_MAX);
    PL_ASSERT(raft_wire_encode(&a.msg, &b) == 0);
    struct raft_wire_msg c;
    PL_ASSERT(raft_wire_decode(b.data, b.len, &c) == 0);
    PL_ASSERT(raft_msg_equal(&a.msg, &c.msg));
    /* Our own encoding is canonical: encoding again gives the same bytes. */
    struct pl_buf b2;
    pl_buf_init(&b2, RAFT_WIRE_MSG_BYTES_MAX);
    PL_ASSERT(raft_wire_encode(&c.msg, &b2) == 0);
    PL_ASSERT(b2.len == b.len && memcmp(b2.data, b.data, b.len) == 0);
    pl_buf_close(&b2);
    deliver_to_core(&a.msg, 2, false);
    deliver_to_core(&a.msg, 1, true);
    raft_wire_msg_close(&c);
    pl_buf_close(&b);
    raft_wire_msg_close(&a);
    return 0;
}
