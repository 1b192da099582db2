/*
 * libFuzzer target for the swarm state snapshot decoder (node/swarm/swarm_snap.c): whatever
 * the bytes, decode either refuses them or yields a state whose recomputed hash is the one
 * it carries, whose counts stay within their arrays, and which encodes to exactly the input
 * (one state, one snapshot). Seeds: real snapshots (`test_swarm_snap --seeds DIR`).
 */
#include "pl_assert.h"
#include "pl_buf.h"
#include "swarm.h"
#include "swarm_snap.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct swarm_state s;
    if (swarm_snap_decode(data, size, &s) != 0)
        return 0;
    PL_ASSERT(s.nmembers <= SWARM_MEMBERS_MAX && s.nincidents <= SWARM_INCIDENTS_MAX &&
              s.nplacements <= SWARM_PLACEMENTS_MAX && s.ndecisions <= SWARM_DECISIONS_MAX);
    uint8_t full[SWARM_HASH_BYTES];
    swarm_state_hash_full(&s, full);
    PL_ASSERT(memcmp(full, s.hash, SWARM_HASH_BYTES) == 0);
    struct pl_buf b;
    pl_buf_init(&b, SWARM_SNAP_BYTES_MAX);
    PL_ASSERT(swarm_snap_encode(&s, &b) == 0);
    PL_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
    pl_buf_close(&b);
    return 0;
}
