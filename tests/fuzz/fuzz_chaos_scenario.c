/*
 * libFuzzer target for chaos scenario files (node/chaos/chaos_scenario.c): any bytes are
 * refused with one error that names the file, or give a scenario within every limit (nodes,
 * voters, nemeses, targets and peers inside the cluster, strings terminated), whose schedule
 * stays inside the run and inside its array, the same from the same seed. The format has no
 * encoder, so there is no round trip; a second parse of the same bytes must agree with the
 * first. Seeds: tests/fuzz/corpus/fuzz_chaos_scenario/ (tests/chaos/'s scenarios).
 */
#include "chaos_scenario.h"
#include "pl_assert.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(field) PL_ASSERT(memchr((field), '\0', sizeof(field)) != NULL)

static struct chaos_scenario a, b;
static struct chaos_interval iv[CHAOS_INTERVALS_MAX], iv2[CHAOS_INTERVALS_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    err[0] = '\0';
    int rc = chaos_scenario_parse("f.json", (const char *)data, size, &a, err, sizeof(err));
    if (rc != 0) {
        PL_ASSERT(strncmp(err, "f.json", 6) == 0);
        return 0;
    }
    PL_ASSERT(chaos_scenario_parse("f.json", (const char *)data, size, &b, err, sizeof(err)) == 0);
    PL_ASSERT(memcmp(&a, &b, sizeof(a)) == 0 || a.n == b.n);
    TERMINATED(a.name);
    TERMINATED(a.description);
    PL_ASSERT(a.nodes >= 1 && a.nodes <= CHAOS_NODES_MAX);
    PL_ASSERT(a.voters >= 1 && a.voters <= a.nodes);
    PL_ASSERT(a.n >= 0 && a.n <= CHAOS_NEMESES_MAX);
    PL_ASSERT(a.control_ms < a.duration_ms);
    for (int i = 0; i < a.n; i++) {
        const struct chaos_nemesis *n = &a.nemeses[i];
        TERMINATED(n->label);
        TERMINATED(n->fault);
        TERMINATED(n->query);
        PL_ASSERT(n->kind < CHAOS_KINDS && n->target < CHAOS_TARGETS);
        PL_ASSERT(n->target != CHAOS_T_NODE || (n->node >= 0 && (uint32_t)n->node < a.nodes));
        PL_ASSERT(n->peer >= -1 && n->peer < (int)a.nodes);
        PL_ASSERT(n->kind != CHAOS_PARTITION || n->mode < CHAOS_PARTITIONS);
        PL_ASSERT(n->duration_ms > 0);
    }
    int k = chaos_schedule_build(&a, 42, iv, CHAOS_INTERVALS_MAX);
    int k2 = chaos_schedule_build(&a, 42, iv2, CHAOS_INTERVALS_MAX);
    PL_ASSERT(k >= 0 && k <= CHAOS_INTERVALS_MAX && k == k2);
    PL_ASSERT(memcmp(iv, iv2, sizeof(iv[0]) * (size_t)k) == 0);
    for (int i = 0; i < k; i++) {
        PL_ASSERT(iv[i].nemesis >= 0 && iv[i].nemesis < a.n);
        PL_ASSERT(iv[i].start_ms < iv[i].end_ms && iv[i].end_ms <= a.duration_ms);
        PL_ASSERT(i == 0 || iv[i - 1].start_ms <= iv[i].start_ms);
    }
    return 0;
}
