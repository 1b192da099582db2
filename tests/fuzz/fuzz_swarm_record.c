/*
 * libFuzzer target for the leader's "decisions" gossip record (node/agent/swarm_record.h),
 * read by members that are not voters from whatever a peer gossips: parse never crashes,
 * and what it accepts encodes to a record that parses to the same decisions.
 */
#include "pl_assert.h"
#include "swarm_record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct swarm_record a, b;
    if (swarm_record_parse((const char *)data, size, &a) != 0)
        return 0;
    char *text = swarm_record_encode(&a);
    PL_ASSERT(text != NULL);
    PL_ASSERT(swarm_record_parse(text, strlen(text), &b) == 0);
    PL_ASSERT(a.term == b.term && a.n == b.n);
    for (uint32_t i = 0; i < a.n; i++) {
        PL_ASSERT(a.d[i].index == b.d[i].index && a.d[i].term == b.d[i].term);
        PL_ASSERT(a.d[i].action == b.d[i].action);
        PL_ASSERT(strcmp(a.d[i].node, b.d[i].node) == 0);
        PL_ASSERT(strcmp(a.d[i].service, b.d[i].service) == 0);
    }
    free(text);
    return 0;
}
