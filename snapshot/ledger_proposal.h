/*
 * The bytes a proposal carries through Raft to become a ledger entry, pure, and the one
 * check every proposal passes: at the API before it is proposed (a 400 naming the field)
 * and at apply on every node (a committed proposal that fails it is recorded as refused,
 * never applied, and never stops the node). Both run the same function on the same bytes,
 * so an entry the API accepted is never refused at apply, and every node refuses the same.
 *
 *     { "t": uint (time_ms, stamped by the proposer), "k": str (kind), "b": body }
 *
 * A msgpack map with exactly these keys in this order, in canonical form. The index and
 * term of the entry come from Raft at apply; the check assumes the largest ones so that
 * no index makes an accepted proposal too big for a leaf.
 */
#ifndef LEDGER_PROPOSAL_H
#define LEDGER_PROPOSAL_H

#include "ledger_codec.h"
#include "pl_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Kinds that start with this are the council's own records (raft.noop, raft.config,
 * raft.rejected): a proposal cannot forge one. */
#define LEDGER_KIND_RESERVED "raft."
/* The kind a committed entry that is not a valid proposal is recorded under. */
#define LEDGER_KIND_REJECTED "raft.rejected"
/* A refused entry's bytes up to this size are kept in its record (as hex). */
#define LEDGER_REJECTED_DATA_MAX 512

struct ledger_proposal
{
    uint64_t time_ms;
    const char *kind; /* not NUL-terminated when decoded: use kind_len */
    size_t kind_len;
    const uint8_t *body; /* one whole msgpack object */
    size_t body_len;
};

/* 0 when the proposal would make a valid ledger entry at any index and term and its kind
 * is not reserved; else PL_EMALFORMED or PL_ETOOBIG with *p (may be NULL) saying why. */
int ledger_proposal_check(const struct ledger_proposal *pr, struct ledger_problem *p);
/* Checks, then appends the proposal's bytes to out. out is unchanged on failure. */
int ledger_proposal_encode(const struct ledger_proposal *pr,
                           struct pl_buf *out,
                           struct ledger_problem *p);
/* Decodes and checks proposal bytes; the pointers of *pr point into `data`, and *pr is
 * left untouched on failure. Deterministic: the same bytes give the same answer and
 * problem code everywhere. */
int ledger_proposal_decode(const uint8_t *data,
                           size_t len,
                           struct ledger_proposal *pr,
                           struct ledger_problem *p);

/*
 * The ledger entry that committed proposal bytes become at Raft (index, term): total, so
 * any bytes at all give an entry that ledger_entry_encode accepts. A valid proposal gives
 * its own entry (return 0); anything else gives kind LEDGER_KIND_REJECTED at prev_time_ms
 * (the ledger's newest time) with the body
 *
 *     {"code": problem code, "field": field, "bytes": len, "sha256": hex[, "data": hex]}
 *
 * written to `body` (return 1, *p says why). Only the stable code goes into the ledger, so
 * a reworded message in a later version cannot fork the ledger during a rolling upgrade.
 * *out points into data or body. A negative code when `body` refuses to grow.
 */
int ledger_entry_from_proposal(uint64_t index,
                               uint64_t term,
                               uint64_t prev_time_ms,
                               const uint8_t *data,
                               size_t len,
                               struct pl_buf *body,
                               struct ledger_entry *out,
                               struct ledger_problem *p);

#endif
