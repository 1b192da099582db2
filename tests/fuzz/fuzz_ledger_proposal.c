/*
 * libFuzzer target for the proposal decoder and its check (snapshot/ledger_proposal.h),
 * the bytes every voter applies once Raft has committed them. Any input must:
 *  - decode and pass the check, or be refused with a problem that names a code and a
 *    field, never crash, over-read or allocate without bound;
 *  - if it decodes, re-encode to the same bytes (the format is canonical);
 *  - become, through ledger_entry_from_proposal, a ledger entry the leaf codec accepts and
 *    decodes back, at the smallest and the largest index: apply is total, so no committed
 *    entry can stop a node;
 *  - give the same entry twice (every node writes the same leaf).
 * Seeds: tests/fuzz/corpus/fuzz_ledger_proposal/ (valid proposals and a few refused ones).
 */
#include "ledger_codec.h"
#include "ledger_proposal.h"
#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_err.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void leaf_round_trip(const struct ledger_entry *e)
{
    PL_ASSERT(ledger_entry_check(e, NULL) == 0);
    struct pl_buf leaf;
    pl_buf_init(&leaf, LEDGER_LEAF_MAX);
    PL_ASSERT(ledger_entry_encode(e, &leaf) == 0);
    struct ledger_entry d;
    PL_ASSERT(ledger_entry_decode(leaf.data, leaf.len, &d) == 0);
    PL_ASSERT(d.index == e->index && d.term == e->term && d.time_ms == e->time_ms);
    PL_ASSERT(d.kind_len == e->kind_len && memcmp(d.kind, e->kind, d.kind_len) == 0);
    PL_ASSERT(d.body_len == e->body_len && memcmp(d.body, e->body, d.body_len) == 0);
    pl_buf_close(&leaf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ledger_proposal pr;
    struct ledger_problem p;
    memset(&p, 0, sizeof(p));
    int rc = ledger_proposal_decode(data, size, &pr, &p);
    if (rc == 0) {
        struct pl_buf again;
        pl_buf_init(&again, size + 1);
        PL_ASSERT(ledger_proposal_encode(&pr, &again, NULL) == 0);
        PL_ASSERT(again.len == size && memcmp(again.data, data, size) == 0);
        pl_buf_close(&again);
    } else {
        PL_ASSERT(rc == PL_EMALFORMED || rc == PL_ETOOBIG);
        PL_ASSERT(p.code != NULL && p.field != NULL && p.text[0] != '\0');
    }
    static const uint64_t indexes[2] = {0, UINT64_MAX};
    for (int i = 0; i < 2; i++) {
        struct pl_buf b1, b2;
        pl_buf_init(&b1, LEDGER_LEAF_MAX);
        pl_buf_init(&b2, LEDGER_LEAF_MAX);
        struct ledger_entry e1, e2;
        int r1 = ledger_entry_from_proposal(indexes[i], indexes[i], LEDGER_TIME_MS_MAX, data, size,
                                            &b1, &e1, NULL);
        int r2 = ledger_entry_from_proposal(indexes[i], indexes[i], LEDGER_TIME_MS_MAX, data, size,
                                            &b2, &e2, NULL);
        PL_ASSERT(r1 == (rc == 0 ? 0 : 1) && r2 == r1);
        PL_ASSERT(e1.body_len == e2.body_len && memcmp(e1.body, e2.body, e1.body_len) == 0);
        leaf_round_trip(&e1);
        pl_buf_close(&b1);
        pl_buf_close(&b2);
    }
    return 0;
}
