/*
 * The heal record: what each node gossips (state key "heal") so that diagnosis sees the
 * cluster. Bounded: per-service baselines (the latency baseline, error rate, CPU and
 * memory as the node measures them) and the node's recent anomaly signatures, each with
 * the time it began. The leader correlates the signatures of all nodes
 * (node/agent/swarm_correlate.c); every node uses them to hold a restart the cluster
 * already explains.
 *
 * Wire (canonical msgpack, fixed key order, shortest forms; a record that does not
 * re-encode to the same bytes is refused):
 *
 *   {"t": u64 wall ms,
 *    "base": [[service, p95_ms u32, error_ppm u32, cpu_permille u32, rss_mb u32], ...],
 *    "sigs": [[signature, service, since_ms u64], ...]}
 *
 * A signature names a failure independently of the node: "<service>:<signal>[:<detail>]",
 * e.g. "web:check:status" (the web service's check answered with the wrong status).
 *
 * Pure; part of swarm_core.
 */
#ifndef PL_SWARM_HEAL_RECORD_H
#define PL_SWARM_HEAL_RECORD_H

#include "pl_buf.h"
#include "swarm.h"

#include <stdint.h>

#define SWARM_HEAL_BASE_MAX 16
#define SWARM_HEAL_SIGS_MAX 16
/* Larger than any valid record (16 x 5 + 16 x 3 fields, names bounded): a bigger one is
 * refused before it is parsed. */
#define SWARM_HEAL_RECORD_BYTES_MAX 6144

struct swarm_heal_base {
    char service[SWARM_NAME_MAX];
    uint32_t p95_ms;
    uint32_t error_ppm;
    uint32_t cpu_permille;
    uint32_t rss_mb;
};

struct swarm_heal_sig {
    char sig[SWARM_SIG_MAX];
    char service[SWARM_NAME_MAX];
    uint64_t since_ms;
};

struct swarm_heal_record {
    uint64_t t_ms;
    uint32_t nbase, nsigs;
    struct swarm_heal_base base[SWARM_HEAL_BASE_MAX];
    struct swarm_heal_sig sigs[SWARM_HEAL_SIGS_MAX];
};

/* 0, or PL_ERANGE for counts past the bounds (or what the buffer refuses). */
int swarm_heal_record_encode(const struct swarm_heal_record *r, struct pl_buf *out);
/* 0, PL_ETOOBIG, or PL_EMALFORMED for anything but a canonical record within the bounds
 * (names non-empty and shorter than their buffers). *r is left untouched on failure. */
int swarm_heal_record_decode(const uint8_t *p, size_t n, struct swarm_heal_record *r);

#endif
