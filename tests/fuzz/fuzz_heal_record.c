/*
 * libFuzzer target: the gossiped heal record's decoder (node/swarm/swarm_heal_record.c)
 * and the correlation over what it accepts. Whatever the bytes, decode either refuses them
 * or yields a record that re-encodes to exactly the same bytes and decodes again to the
 * same record; a few copies of it under other node names go through swarm_correlate_find,
 * whose hits stay within their bounds.
 */
#include "pl_assert.h"
#include "swarm_correlate.h"
#include "swarm_heal_record.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct swarm_heal_record r, back;
    if (swarm_heal_record_decode(data, size, &r) != 0)
        return 0;
    struct pl_buf b;
    pl_buf_init(&b, SWARM_HEAL_RECORD_BYTES_MAX);
    PL_ASSERT(swarm_heal_record_encode(&r, &b) == 0);
    PL_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
    PL_ASSERT(swarm_heal_record_decode(b.data, b.len, &back) == 0);
    PL_ASSERT(memcmp(&back, &r, sizeof(r)) == 0);
    pl_buf_close(&b);
    struct correlate_cfg cfg;
    correlate_cfg_default(&cfg);
    struct correlate_view views[3] = {{"a", &r}, {"b", &back}, {"c", &r}};
    struct correlate_hit hits[CORRELATE_HITS_MAX];
    int n = swarm_correlate_find(&cfg, views, 3, size % 2 == 0, hits, CORRELATE_HITS_MAX);
    PL_ASSERT(n >= 0 && n <= CORRELATE_HITS_MAX);
    for (int i = 0; i < n; i++)
        PL_ASSERT(hits[i].nodes <= 3 && hits[i].nodes <= hits[i].members && hits[i].nodes >= 2);
    return 0;
}
