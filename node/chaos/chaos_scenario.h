/*
 * A chaos scenario (`platelet chaos run SCENARIO.json`): the cluster, the workload, the
 * nemeses with their targets, and the schedule, read from a short JSON file by a strict
 * parser (unknown keys, keys given twice, wrong types and out-of-range values are refused
 * with the file and the field named), and the schedule expanded into nemesis intervals,
 * fixed or drawn from the seed (Jepsen's stagger). Pure: no clock, no I/O but the text.
 *
 *   {"name": "leader-kill-loop", "nodes": 3, "voters": 3, "duration_s": 60, "seed": 7,
 *    "control_s": 10, "liveness_s": 30, "schedule": "fixed",
 *    "workload": {"clients": 3, "proposals_per_s": 20, "http_per_s": 20},
 *    "nemeses": [{"type": "kill", "target": "leader", "at_s": 15, "duration_s": 5,
 *                 "repeat": 3, "every_s": 12}]}
 *
 * Nemesis types: kill (SIGKILL, restarted at the end), pause (SIGSTOP, SIGCONT at the end),
 * partition (mode halves, majority_minority, isolate, ring, bridge), loss (rate, per link
 * with "peer"), delay (ms, jitter_ms), duplicate (rate: the chance each message is delivered
 * once more, ms: the copy's delay; per link with "peer", as loss), service (one of the
 * sample service's /fault/ faults),
 * clock (the agent's clocks jump by offset_ms, through `platelet fault clock`'s API),
 * dependency (the TCP dependency every sample service checks, `sample-service --depends`,
 * held by the harness, stops listening: a correlated outage on every node at once),
 * disk_full (the agent's data directory, on a tmpfs of its own, filled to the last byte),
 * disk_stall (the same on a loop-mounted ext4, frozen: every write blocks); both need root
 * (chaos_disk.h).
 * Targets: one, minority, majority, all, leader, follower, a node's name (n1..nN), or
 * "placed:SERVICE", the node running the scenario's placed service (below) when the nemesis
 * fires, from a voter's GET /v1/placement.
 *
 * "placement": {"service": "web", "nodes": ["n1", "n2", "n3"], "lease_ms": 2000} adds a
 * second sample service, `replicas: 1`, on those nodes (voters: only voters run placed
 * services), and the check safety.placement: never two copies past the lease (below).
 */
#ifndef PL_CHAOS_SCENARIO_H
#define PL_CHAOS_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAOS_NODES_MAX 9
#define CHAOS_NEMESES_MAX 32
#define CHAOS_INTERVALS_MAX 1024
#define CHAOS_NAME_MAX 64

enum chaos_kind { CHAOS_KILL, CHAOS_PAUSE, CHAOS_PARTITION, CHAOS_LOSS, CHAOS_DELAY,
                  CHAOS_SERVICE, CHAOS_CLOCK, CHAOS_DEPENDENCY, CHAOS_DUPLICATE,
                  CHAOS_DISK_FULL, CHAOS_DISK_STALL, CHAOS_KINDS };
enum chaos_target { CHAOS_T_ONE, CHAOS_T_MINORITY, CHAOS_T_MAJORITY, CHAOS_T_ALL,
                    CHAOS_T_LEADER, CHAOS_T_FOLLOWER, CHAOS_T_NODE, CHAOS_T_PLACED,
                    CHAOS_TARGETS };
enum chaos_partition { CHAOS_P_HALVES, CHAOS_P_MAJORITY_MINORITY, CHAOS_P_ISOLATE,
                       CHAOS_P_RING, CHAOS_P_BRIDGE, CHAOS_PARTITIONS };

const char *chaos_kind_name(enum chaos_kind k);
const char *chaos_target_name(enum chaos_target t);
const char *chaos_partition_name(enum chaos_partition p);

struct chaos_nemesis {
    char label[CHAOS_NAME_MAX]; /* "label", default "<type>" */
    enum chaos_kind kind;
    enum chaos_target target;
    int node;                  /* CHAOS_T_NODE: 0-based index */
    int peer;                  /* loss/delay/duplicate: one link to node `peer` (-1: all) */
    enum chaos_partition mode; /* partition */
    double rate;               /* loss, duplicate */
    uint32_t delay_ms, jitter_ms; /* delay; duplicate: the copy's delay in delay_ms */
    int64_t offset_ms;         /* clock: the jump, either way */
    char fault[16];            /* service: crash, hang, errors, slow, unhealthy, cpu, leak */
    char query[64];            /* service: the query after '?', e.g. "rate=1" */
    uint64_t at_ms, duration_ms, every_ms;
    uint32_t repeat;
};

/* A `replicas: 1` sample service placed on some of the voters. */
struct chaos_placement {
    char service[32];           /* "" when the scenario places nothing */
    bool on[CHAOS_NODES_MAX];   /* its declared nodes */
    uint64_t lease_ms;
};

struct chaos_scenario {
    char name[CHAOS_NAME_MAX];
    char description[512];
    uint32_t nodes, voters;
    uint64_t duration_ms;
    uint64_t seed;
    bool has_seed;
    uint64_t control_ms;  /* a no-fault window first: every incident in it is a false heal */
    uint64_t liveness_ms; /* a leader and healthy services within this of the last fault */
    bool random;          /* schedule "random": nemeses drawn one at a time from the seed */
    uint64_t stagger_ms;  /* random: the mean gap between two nemeses */
    uint32_t clients, proposals_per_s, http_per_s;
    struct chaos_placement placement;
    struct chaos_nemesis nemeses[CHAOS_NEMESES_MAX];
    int n;
};

/*
 * Parses a scenario. `path` names the file in messages. 0, or PL_ECONFIG with `err`:
 * "PATH: nemeses[2].rate: expected a number from 0 to 1".
 */
int chaos_scenario_parse(const char *path, const char *text, size_t len,
                         struct chaos_scenario *out, char *err, size_t err_size);

/* One run of one nemesis: [start_ms, end_ms) after the start of the run. */
struct chaos_interval {
    uint64_t start_ms, end_ms;
    int nemesis;
    int run; /* which of the nemesis's runs (0 for the first); no padding, so memcmp works */
};
_Static_assert(sizeof(struct chaos_interval) == 24, "struct chaos_interval has no padding");

/*
 * The schedule's intervals, sorted by start, within the scenario's duration: fixed (each
 * nemesis at at_ms, then every every_ms, `repeat` times), or random with `seed` (after the
 * control window, a nemesis drawn at random, then a gap drawn from [0, 2 * stagger), one
 * at a time until the duration ends). Returns how many (at most `max`).
 */
int chaos_schedule_build(const struct chaos_scenario *s, uint64_t seed, struct chaos_interval *out,
                         int max);

/*
 * safety.placement's record: the intervals in which two or more nodes ran the same
 * `replicas: 1` service, from samples taken during the run (each a bit mask of the nodes
 * seen running it). An interval runs from the first sample that saw two copies to the
 * first that did not; `last_ms` is the last sample that still saw two, so last_ms - start_ms
 * is a lower bound of the overlap (end_ms - start_ms an upper bound, up to one sampling gap
 * more). Pure: the caller samples.
 */
#define CHAOS_OVERLAPS_MAX 64

struct chaos_overlap {
    uint64_t start_ms, last_ms, end_ms;
    uint32_t nodes; /* every node seen running it during the interval (bit i: node i) */
    bool open_at_end; /* still two copies when the run ended */
};

struct chaos_overlaps {
    struct chaos_overlap iv[CHAOS_OVERLAPS_MAX]; /* the first CHAOS_OVERLAPS_MAX */
    int n;
    uint32_t more;               /* overlaps past those kept */
    struct chaos_overlap longest; /* by lower bound, over all of them */
    bool open;
    struct chaos_overlap cur;
    uint64_t samples;
    bool finished; /* chaos_overlap_finish was called: later samples are ignored */
};

/* One sample at `t_ms` (not before the last): bit i set when node i runs the service. */
void chaos_overlap_sample(struct chaos_overlaps *o, uint64_t t_ms, uint32_t running);
/* The run ended at `t_ms`: an open overlap closes there, marked open_at_end, and samples
 * after it are ignored (what is judged is what the report lists). */
void chaos_overlap_finish(struct chaos_overlaps *o, uint64_t t_ms);
/* The check: no overlap's lower bound longer than lease_ms + margin_ms, and none open at
 * the end for longer than that either. */
bool chaos_overlap_holds(const struct chaos_overlaps *o, uint64_t lease_ms, uint64_t margin_ms);

#endif
