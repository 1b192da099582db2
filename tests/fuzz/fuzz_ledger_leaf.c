/*
 * libFuzzer target for the ledger's leaf decoder (snapshot/ledger_codec.c): leaves come from
 * disk, from Raft snapshots and from audit files, so any bytes must decode or be refused,
 * never crash or over-read. The decoder accepts only canonical leaves, so a leaf that decodes
 * re-encodes to exactly its own bytes, and those decode to the same entry (decode -> encode
 * -> decode). The strict one-pass decoder must also give exactly the answer of the
 * msgpack-c decoder it replaced (ledger_entry_decode_reference: unpack, re-encode, compare),
 * refusals included, and say why it refused. Seeds: tests/fuzz/corpus/fuzz_ledger_leaf/
 * (leaves with bodies of each type).
 */
#include "ledger_codec.h"
#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_mp_read.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ledger_entry a, b, ref;
    struct pl_mp_reader why;
    int rc = ledger_entry_decode_why(data, size, &a, &why);
    int rc_ref = ledger_entry_decode_reference(data, size, &ref);
    PL_ASSERT(rc == rc_ref);
    /* Replay's way: the envelope, then the body on its own; the same answer. */
    struct ledger_entry env;
    int rc_env = ledger_entry_decode_envelope(data, size, &env, NULL);
    if (rc_env == 0)
        rc_env = ledger_entry_body_check(data, &env, NULL);
    PL_ASSERT(rc_env == rc);
    if (rc != 0) {
        PL_ASSERT(why.err != NULL && why.err_at <= size);
        return 0;
    }
    PL_ASSERT(a.index == ref.index && a.term == ref.term && a.time_ms == ref.time_ms);
    PL_ASSERT(a.kind == ref.kind && a.kind_len == ref.kind_len);
    PL_ASSERT(a.body == ref.body && a.body_len == ref.body_len);
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
