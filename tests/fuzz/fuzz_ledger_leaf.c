/*
 * libFuzzer target for the ledger's leaf decoder (snapshot/ledger_codec.c): leaves come from
 * disk, from Raft snapshots and from audit files, so any bytes must decode or be refused,
 * never crash or over-read. The decoder accepts only canonical leaves, so a leaf that decodes
 * re-encodes to exactly its own bytes, and those decode to the same entry (decode -> encode
 * -> decode). Seeds: tests/fuzz/corpus/fuzz_ledger_leaf/ (leaves with bodies of each type).
 */
#include "ledger_codec.h"
#include "pl_assert.h"
#include "pl_buf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ledger_entry a, b;
    if (ledger_entry_decode(data, size, &a) != 0)
        return 0;
    /* The entry points into the leaf itself. */
    PL_ASSERT(a.kind >= (const char *)data && a.kind + a.kind_len <= (const char *)data + size);
    PL_ASSERT(a.body >= data && a.body + a.body_len == data + size);
    PL_ASSERT(a.kind_len >= 1 && a.kind_len <= LEDGER_KIND_MAX && a.time_ms <= LEDGER_TIME_MS_MAX);
    struct pl_buf e;
    pl_buf_init(&e, LEDGER_LEAF_MAX);
    PL_ASSERT(ledger_entry_encode(&a, &e) == 0);
    PL_ASSERT(e.len == size && memcmp(e.data, data, size) == 0);
    PL_ASSERT(ledger_entry_decode(e.data, e.len, &b) == 0);
    PL_ASSERT(a.index == b.index && a.term == b.term && a.time_ms == b.time_ms);
    PL_ASSERT(a.kind_len == b.kind_len && memcmp(a.kind, b.kind, a.kind_len) == 0);
    PL_ASSERT(a.body_len == b.body_len && memcmp(a.body, b.body, a.body_len) == 0);
    pl_buf_close(&e);
    return 0;
}
