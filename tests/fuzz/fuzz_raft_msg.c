/*
 * libFuzzer target for the Raft wire decoder (raft/raft_wire.c): any bytes must decode
 * cleanly or be refused, never crash, over-read or allocate without bound; and whatever
 * decodes must re-encode to bytes that decode to an equal message (decode -> encode ->
 * decode). Configurations inside snapshots get the same treatment through the decoder.
 * Seeds: tests/fuzz/corpus/fuzz_raft_msg/ (one encoded message of each type).
 */
#include "pl_assert.h"
#include "pl_buf.h"
#include "raft_wire.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    raft_wire_msg_close(&c);
    pl_buf_close(&b);
    raft_wire_msg_close(&a);
    return 0;
}
