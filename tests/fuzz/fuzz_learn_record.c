/*
 * libFuzzer target: the gossiped "strategies" record's decoder
 * (node/swarm/swarm_learn_record.c) and the member's table built from what it accepts.
 * Whatever the bytes, decode either refuses them or yields a record that re-encodes to
 * exactly the same bytes and decodes again to the same record; the table of any of its
 * services holds only that service's entries, each with an action the record named.
 */
#include "pl_assert.h"
#include "swarm_learn_heal.h"
#include "swarm_learn_record.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct swarm_learn_record r, back;
    static struct heal_learned t;
    if (swarm_learn_record_decode(data, size, &r) != 0)
        return 0;
    struct pl_buf b;
    pl_buf_init(&b, SWARM_LEARN_RECORD_BYTES_MAX);
    PL_ASSERT(swarm_learn_record_encode(&r, &b) == 0);
    PL_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
    PL_ASSERT(swarm_learn_record_decode(b.data, b.len, &back) == 0);
    PL_ASSERT(memcmp(&back, &r, sizeof(r)) == 0);
    pl_buf_close(&b);
    PL_ASSERT(r.n <= SWARM_LEARN_RECORD_MAX);
    if (r.n == 0)
        return 0;
    const char *svc = r.v[size % r.n].key.service;
    swarm_learn_record_table(&r, svc, &t);
    PL_ASSERT(t.n >= 1 && t.n <= r.n && t.n <= HEAL_LEARNED_MAX);
    for (uint32_t i = 0; i < t.n; i++) {
        bool named = false;
        for (uint32_t k = 0; k < r.n && !named; k++)
            named = strcmp(r.v[k].key.service, svc) == 0 && r.v[k].key.cls == t.v[i].cls &&
                    r.v[k].key.cause == t.v[i].cause && r.v[k].key.signal == t.v[i].signal &&
                    r.v[k].key.feature == t.v[i].feature &&
                    (int)r.v[k].action == (int)t.v[i].action;
        PL_ASSERT(named);
    }
    return 0;
}
