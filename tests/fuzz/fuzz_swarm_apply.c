/*
 * libFuzzer target for the swarm's replicated state machine: the input is cut into entries
 * (one byte picks the kind, two give the body's length, the body follows), applied in
 * order to one state. Whatever the bytes: apply returns 0 (it is total), the incremental
 * state hash equals the one recomputed from every item, and a body that decodes as its
 * kind re-encodes to exactly the same bytes (one body, one meaning, one hash), and the strict
 * one-pass decoder gives exactly the answer (and the struct) of the msgpack-c decoder it
 * replaced (swarm_body_decode_reference).
 */
#include "pl_assert.h"
#include "pl_buf.h"
#include "swarm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(enum swarm_kind k, const uint8_t *p, size_t n)
{
    union swarm_body u;
    struct pl_buf b;
    pl_buf_init(&b, SWARM_BODY_BYTES_MAX);
    int rc = -1;
    switch (k) {
#define CASE(K, name, field)                                                                   \
    case K:                                                                                    \
        if (swarm_##name##_decode(p, n, &u.field) == 0)                                        \
            rc = swarm_##name##_encode(&u.field, &b);                                          \
        break;
        CASE(SWARM_K_MEMBER, member_event, m)
        CASE(SWARM_K_INCIDENT, incident_event, i)
        CASE(SWARM_K_DECISION, decision, d)
        CASE(SWARM_K_ACTION_RESULT, action_result, r)
        CASE(SWARM_K_APPROVAL, approval, a)
        CASE(SWARM_K_PLACEMENT, placement, p)
        CASE(SWARM_K_POLICY, policy, pol)
        CASE(SWARM_K_ROLLOUT, rollout, ro)
        CASE(SWARM_K_CLUSTER_INCIDENT, cluster, x)
        CASE(SWARM_K_COUNCIL, council, k)
#undef CASE
    default:
        break;
    }
    if (rc == 0)
        PL_ASSERT(b.len == n && memcmp(b.data, p, n) == 0);
    pl_buf_close(&b);
    if (k != SWARM_K_FOREIGN && k < SWARM_K_COUNT) {
        union swarm_body s1, s2;
        memset(&s1, 0x55, sizeof(s1));
        memset(&s2, 0x55, sizeof(s2));
        int r1 = swarm_body_decode(k, p, n, &s1, sizeof(s1), NULL);
        int r2 = swarm_body_decode_reference(k, p, n, &s2, sizeof(s2));
        PL_ASSERT(r1 == r2);
        PL_ASSERT(r1 != 0 || memcmp(&s1, &s2, sizeof(s1)) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct swarm_state s;
    swarm_state_init(&s);
    size_t at = 0;
    while (at + 3 <= size) {
        enum swarm_kind k = (enum swarm_kind)(data[at] % (SWARM_K_COUNT + 1));
        size_t n = ((size_t)data[at + 1] << 8 | data[at + 2]) % 2048;
        at += 3;
        if (n > size - at)
            n = size - at;
        const char *kind = k < SWARM_K_COUNT ? swarm_kind_name(k) : "note";
        struct swarm_entry e = {.index = s.applied_index + 1, .term = 1 + at % 5,
                                .time_ms = at, .kind = kind, .kind_len = strlen(kind),
                                .body = data + at, .body_len = n};
        struct swarm_applied out;
        PL_ASSERT(swarm_apply(&s, &e, &out) == 0);
        check_roundtrip(k, data + at, n);
        at += n;
    }
    uint8_t full[SWARM_HASH_BYTES];
    swarm_state_hash_full(&s, full);
    PL_ASSERT(memcmp(full, s.hash, SWARM_HASH_BYTES) == 0);
    return 0;
}
