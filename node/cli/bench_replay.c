/*
 * `platelet bench replay` (bench_replay.h): builds a ledger of N swarm entries (member
 * events, incident steps opened to closed, decisions, action results, approvals,
 * placements, notes) as a voter would, storing a state snapshot every K entries, then
 * measures on it, read-only like `platelet replay`:
 *
 *   - the verified replay rate from index 0 (every leaf read, decoded, hashed into the
 *     Merkle frontier and applied; the root checked against the signed head's at the end),
 *     beside two plain loops for reference: read + decode, and read + decode + apply;
 *   - `--at-index` at random indexes from the nearest snapshot (open, seek, apply, verify);
 *   - the post-mortem of a recent incident (from a snapshot) and of the oldest one the state
 *     still holds.
 */
#include "bench_replay.h"

#include "cli.h"
#include "ledger.h"
#include "merkle.h"
#include "pl_err.h"
#include "pl_keys.h"
#include "pl_mp.h"
#include "pl_rand.h"
#include "pl_store.h"
#include "postmortem.h"
#include "replay.h"
#include "replay_snap.h"
#include "swarm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "platelet bench replay"
#define NODES 24
#define SERVICES 12

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's CPU time: the figures stay readable on a machine other jobs share. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timing {
    double wall, cpu;
};

static struct timing since(struct timing t0)
{
    return (struct timing){now_s() - t0.wall, cpu_s() - t0.cpu};
}

static struct timing start(void)
{
    return (struct timing){now_s(), cpu_s()};
}

/* The generator of a plausible swarm ledger: incidents run from open to close over a few
 * steps; decisions get their results; members die and come back. */
struct gen {
    struct pl_rand rnd;
    uint64_t time_ms, term;
    struct {
        char id[32];
        uint32_t seq;
        bool open;
    } inc[NODES];
    uint32_t incidents;
    uint64_t pending[64];
    char pending_node[64][16];
    uint32_t npending;
    uint64_t inc_member[NODES];
};

static const char *kind_body(struct gen *g, uint64_t index, struct pl_buf *b)
{
    uint32_t node = (uint32_t)pl_rand_below(&g->rnd, NODES);
    char name[16], svc[16];
    snprintf(name, sizeof(name), "node-%02u", node);
    snprintf(svc, sizeof(svc), "svc-%02u", (unsigned)pl_rand_below(&g->rnd, SERVICES));
    uint32_t pick = (uint32_t)pl_rand_below(&g->rnd, 100);
    if (pick < 50) {
        struct swarm_incident_event e;
        memset(&e, 0, sizeof(e));
        if (!g->inc[node].open) {
            snprintf(g->inc[node].id, sizeof(g->inc[node].id), "%s-%u", name, g->incidents++);
            g->inc[node].seq = 0;
            g->inc[node].open = true;
        }
        snprintf(e.node, sizeof(e.node), "%s", name);
        snprintf(e.id, sizeof(e.id), "%s", g->inc[node].id);
        snprintf(e.service, sizeof(e.service), "%s", svc);
        e.seq = g->inc[node].seq++;
        e.event = (uint8_t)(e.seq == 0 ? 0 : e.seq % 3 == 1 ? 2 : 3);
        e.action = 1;
        e.cls = 2;
        e.cause = 3;
        e.signal = 1;
        e.level = (uint8_t)(e.seq > 4 ? 2 : 1);
        e.t_ms = g->time_ms;
        snprintf(e.detail, sizeof(e.detail), "step %u of the incident", e.seq);
        if (e.seq >= 4 && pl_rand_below(&g->rnd, 3) == 0) {
            e.event = 9;
            snprintf(e.outcome, sizeof(e.outcome), "healed");
            g->inc[node].open = false;
        }
        swarm_incident_event_encode(&e, b);
        return "incident";
    }
    if (pick < 60) {
        struct swarm_member_event m = {.status = pl_rand_below(&g->rnd, 4) ? SWARM_MEMBER_ALIVE
                                                                            : SWARM_MEMBER_DEAD,
                                       .incarnation = ++g->inc_member[node]};
        snprintf(m.node, sizeof(m.node), "%s", name);
        swarm_member_event_encode(&m, b);
        return "member_event";
    }
    if (pick < 68 && g->npending < 64) {
        struct swarm_decision_body d = {.action = 1};
        snprintf(d.node, sizeof(d.node), "%s", name);
        snprintf(d.service, sizeof(d.service), "%s", svc);
        snprintf(d.reason, sizeof(d.reason), "the service failed its checks");
        swarm_decision_encode(&d, b);
        g->pending[g->npending] = index;
        snprintf(g->pending_node[g->npending], sizeof(g->pending_node[0]), "%s", name);
        g->npending++;
        return "decision";
    }
    if (pick < 76 && g->npending > 0) {
        uint32_t k = (uint32_t)pl_rand_below(&g->rnd, g->npending);
        if (pl_rand_below(&g->rnd, 4) == 0) {
            struct swarm_approval a = {.decision = g->pending[k], .by = "operator"};
            swarm_approval_encode(&a, b);
            return "approval";
        }
        struct swarm_action_result r = {.decision = g->pending[k], .result = 0};
        snprintf(r.node, sizeof(r.node), "%s", g->pending_node[k]);
        snprintf(r.detail, sizeof(r.detail), "restarted");
        swarm_action_result_encode(&r, b);
        g->pending[k] = g->pending[--g->npending];
        memcpy(g->pending_node[k], g->pending_node[g->npending], sizeof(g->pending_node[0]));
        return "action_result";
    }
    if (pick < 80) {
        struct swarm_placement_body p;
        memset(&p, 0, sizeof(p));
        snprintf(p.service, sizeof(p.service), "%s", svc);
        snprintf(p.node, sizeof(p.node), "%s", name);
        swarm_placement_encode(&p, b);
        return "placement";
    }
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, b);
    pl_mp_map(&w, 2);
    pl_mp_str(&w, "text");
    pl_mp_str(&w, "a deploy note from the operator's pipeline");
    pl_mp_str(&w, "n");
    pl_mp_uint(&w, index);
    return "note";
}

/* Builds the ledger in batches of `every`, applying each batch to a state and storing it. */
static int build(const char *dir, uint64_t n, uint32_t every, double *secs)
{
    struct pl_store store;
    struct pl_keys keys;
    struct ledger l;
    char err[256] = "";
    int rc = pl_store_open(&store, dir, PL_STORE_CREATE);
    if (rc != 0) {
        fprintf(stderr, CMD ": %s\n", store.err_text);
        return rc;
    }
    if ((rc = pl_keys_open(&keys, dir, true, err, sizeof(err))) != 0) {
        fprintf(stderr, CMD ": %s\n", err);
        pl_store_close(&store);
        return rc;
    }
    if ((rc = ledger_open(&l, &store, &keys)) != 0) {
        fprintf(stderr, CMD ": %s\n", l.err_text);
        goto fail_keys;
    }
    l.no_sync = true;
    struct swarm_state *s = malloc(sizeof(*s));
    struct ledger_entry *le = calloc(every, sizeof(*le));
    struct pl_buf *bodies = calloc(every, sizeof(*bodies));
    struct gen *g = calloc(1, sizeof(*g));
    if (s == NULL || le == NULL || bodies == NULL || g == NULL) {
        rc = -ENOMEM;
        goto fail_mem;
    }
    swarm_state_init(s);
    pl_rand_seed(&g->rnd, 12);
    g->time_ms = 1790000000000ull;
    g->term = 1;
    for (uint32_t i = 0; i < every; i++)
        pl_buf_init(&bodies[i], SWARM_BODY_BYTES_MAX);
    double t0 = now_s();
    for (uint64_t done = 0; rc == 0 && done < n;) {
        uint32_t k = (uint32_t)(n - done < every ? n - done : every);
        for (uint32_t i = 0; i < k; i++) {
            pl_buf_reset(&bodies[i]);
            g->time_ms += 1 + pl_rand_below(&g->rnd, 40);
            if (pl_rand_below(&g->rnd, 200000) == 0)
                g->term++;
            const char *kind = kind_body(g, done + i + 1, &bodies[i]);
            le[i] = (struct ledger_entry){.term = g->term, .time_ms = g->time_ms, .kind = kind,
                                          .kind_len = strlen(kind), .body = bodies[i].data,
                                          .body_len = bodies[i].len};
        }
        rc = ledger_append(&l, le, k, g->time_ms, NULL);
        for (uint32_t i = 0; rc == 0 && i < k; i++) {
            struct swarm_entry se = {.index = done + i + 1, .term = le[i].term,
                                     .time_ms = le[i].time_ms, .kind = le[i].kind,
                                     .kind_len = le[i].kind_len, .body = le[i].body,
                                     .body_len = le[i].body_len};
            struct swarm_applied out;
            rc = swarm_apply(s, &se, &out);
        }
        done += k;
        if (rc == 0 && k == every)
            rc = replay_snap_store(&store, &l, s);
        if (rc != 0)
            fprintf(stderr, CMD ": building the ledger at %" PRIu64 ": %s\n", done,
                    pl_strerror(rc));
    }
    *secs = now_s() - t0;
    for (uint32_t i = 0; i < every; i++)
        pl_buf_close(&bodies[i]);
fail_mem:
    free(g);
    free(bodies);
    free(le);
    free(s);
    ledger_close(&l);
fail_keys:
    pl_keys_close(&keys);
    pl_store_close(&store);
    return rc;
}

/* The plain reference loops: read (+ decode) (+ apply) every leaf, nothing verified. */
struct plain {
    struct swarm_state *s;
    bool apply;
    int rc;
};

static int plain_cb(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
    struct plain *p = ctx;
    struct ledger_entry e;
    int rc = ledger_entry_decode(leaf, len, &e);
    if (rc != 0 || !p->apply)
        return rc;
    struct swarm_entry se = {.index = index + 1, .term = e.term, .time_ms = e.time_ms,
                             .kind = e.kind, .kind_len = e.kind_len, .body = e.body,
                             .body_len = e.body_len};
    struct swarm_applied out;
    return swarm_apply(p->s, &se, &out);
}

static int plain_loop(const char *dir, bool apply, struct timing *secs)
{
    struct replay r;
    int rc = replay_open_dir(&r, dir);
    struct plain p = {.s = r.state, .apply = apply};
    struct timing t0 = start();
    if (rc == 0)
        rc = ledger_leaves_each(&r.ledger, 0, r.total, plain_cb, &p);
    *secs = since(t0);
    if (rc != 0)
        fprintf(stderr, CMD ": plain loop: %s %s\n", pl_strerror(rc), r.err);
    replay_close(&r);
    return rc;
}

/* What `platelet replay --at-index` does: open, seek (unless no_snapshots), apply, verify. */
static int replay_to(const char *dir, uint64_t index, bool no_snapshots, struct timing *secs,
                     uint64_t *from, uint8_t hash[SWARM_HASH_BYTES])
{
    struct timing t0 = start();
    struct replay r;
    int rc = replay_open_dir(&r, dir);
    r.no_snapshots = no_snapshots;
    if (rc == 0)
        rc = replay_to_index(&r, index);
    *secs = since(t0);
    *from = r.snap.index;
    memcpy(hash, r.state->hash, SWARM_HASH_BYTES);
    if (rc != 0)
        fprintf(stderr, CMD ": replay to %" PRIu64 ": %s %s\n", index, pl_strerror(rc), r.err);
    replay_close(&r);
    return rc;
}

static int postmortem_time(const char *dir, const char *id, struct timing *secs,
                           size_t *listed, uint64_t *from)
{
    struct timing t0 = start();
    struct replay r;
    struct postmortem pm;
    memset(&pm, 0, sizeof(pm));
    int rc = replay_open_dir(&r, dir);
    if (rc == 0)
        rc = replay_seek_incident(&r, id, POSTMORTEM_BEFORE_MS);
    *from = r.snap.index;
    if (rc == 0)
        rc = postmortem_build(&pm, &r, id);
    cJSON *doc = rc == 0 ? postmortem_json(&pm) : NULL;
    *secs = since(t0);
    *listed = pm.n - pm.start;
    if (rc != 0)
        fprintf(stderr, CMD ": postmortem %s: %s %s %s\n", id, pl_strerror(rc), r.err, pm.err);
    cJSON_Delete(doc);
    postmortem_close(&pm);
    replay_close(&r);
    return rc;
}

int bench_replay(int argc, char **argv)
{
    uint64_t n = 1000000, every = 4096, probes = 5;
    const char *dir = NULL;
    bool keep = false, settle = false;
    struct cli_flag flags[] = {
        {"--entries", CLI_U64, &n, "ledger entries to build (default 1,000,000)", false, false},
        {"--every", CLI_U64, &every, "a state snapshot every this many (default 4096)", false,
         false},
        {"--probes", CLI_U64, &probes, "random --at-index replays (default 5)", false, false},
        {"--dir", CLI_STR, &dir, "build (or reuse, with a ledger there) in DIR", false, false},
        {"--keep", CLI_BOOL, &keep, "keep the built data directory", false, false},
        {"--settle", CLI_BOOL, &settle, "open the store read-write once first (as an agent's "
         "restart does: RocksDB's log flushed into a table)", false, false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(CMD, CMD " [--entries N] [--every K] [--probes P] [--dir DIR] [--keep] [--settle]",
                       flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (n < 1 || every < 16 || every > 1000000 || probes > 100)
        return cli_fail(CMD, "--entries >= 1, --every 16..1000000, --probes <= 100");
    char tmp[] = "/tmp/platelet-bench-replay.XXXXXX";
    bool made = dir == NULL;
    if (made && (dir = mkdtemp(tmp)) == NULL)
        return cli_fail(CMD, "cannot make a directory in /tmp: %s", strerror(errno));

    /* Reuse a ledger already there (of any size): building 10 M entries takes a while. */
    struct replay probe;
    bool have = replay_open_dir(&probe, dir) == 0 && probe.total > 0;
    uint64_t size = have ? probe.total : 0;
    replay_close(&probe);
    double build_s = 0;
    if (!have) {
        printf("building %" PRIu64 " entries with a state snapshot every %" PRIu64 " ...\n", n,
               every);
        fflush(stdout);
        if ((rc = build(dir, n, (uint32_t)every, &build_s)) != 0)
            goto done;
        size = n;
    }
    if (settle) {
        struct pl_store st;
        if ((rc = pl_store_open(&st, dir, 0)) != 0) {
            fprintf(stderr, CMD ": %s\n", st.err_text);
            goto done;
        }
        pl_store_close(&st);
    }
    struct timing t_read, t_apply, t_full, t;
    uint64_t from;
    uint8_t full_hash[SWARM_HASH_BYTES], hash[SWARM_HASH_BYTES];
    if ((rc = plain_loop(dir, false, &t_read)) != 0 || (rc = plain_loop(dir, true, &t_apply)) ||
        (rc = replay_to(dir, size, true, &t_full, &from, full_hash)) != 0)
        goto done;
    double z = (double)size;
    printf("ledger                 %" PRIu64 " entries%s", size, have ? " (reused)\n" : "");
    if (!have)
        printf(", built and applied at %.0f entries/s\n", z / build_s);
    printf("(rates: per second of wall time / of this process's CPU time)\n");
    printf("read + decode          %.0f / %.0f entries/s (plain loop)\n", z / t_read.wall,
           z / t_read.cpu);
    printf("read + decode + apply  %.0f / %.0f entries/s (plain loop, nothing verified)\n",
           z / t_apply.wall, z / t_apply.cpu);
    printf("verified replay        %.0f / %.0f entries/s (from index 0, leaves rehashed, root "
           "checked; %.2f s wall, %.2f s CPU, with the store's open)\n", z / t_full.wall,
           z / t_full.cpu, t_full.wall, t_full.cpu);

    /* What every --at-index pays before its first entry: the store opened read-only. */
    struct timing t_open = start();
    struct replay o;
    rc = replay_open_dir(&o, dir);
    replay_close(&o);
    t_open = since(t_open);
    if (rc != 0)
        goto done;
    printf("open read-only         %.1f ms wall, %.1f ms CPU (RocksDB open and its log replayed; "
           "the ledger's head checked)\n", t_open.wall * 1000, t_open.cpu * 1000);

    struct pl_rand rnd;
    pl_rand_seed(&rnd, size);
    double worst = 0, sum = 0, worst_cpu = 0;
    for (uint64_t i = 0; i < probes; i++) {
        uint64_t at = i == 0 ? size : 1 + pl_rand_below(&rnd, size);
        if ((rc = replay_to(dir, at, false, &t, &from, hash)) != 0)
            goto done;
        if (at == size && memcmp(hash, full_hash, SWARM_HASH_BYTES) != 0) {
            fprintf(stderr, CMD ": the replay from a snapshot differs from the full one\n");
            rc = PL_EVERIFY;
            goto done;
        }
        printf("--at-index %-11" PRIu64 " %7.1f ms wall, %6.1f ms CPU (from the snapshot at %"
               PRIu64 ", %" PRIu64 " entries applied)\n", at, t.wall * 1000, t.cpu * 1000, from,
               at - from);
        worst = t.wall > worst ? t.wall : worst;
        worst_cpu = t.cpu > worst_cpu ? t.cpu : worst_cpu;
        sum += t.wall;
    }
    if (probes > 0)
        printf("--at-index             mean %.1f ms, worst %.1f ms wall (%.1f ms CPU) over %"
               PRIu64 " (goal < 100)\n", sum * 1000 / (double)probes, worst * 1000,
               worst_cpu * 1000, probes);

    /* Post-mortems: the newest incident the final state holds, and its oldest. */
    struct replay r;
    if ((rc = replay_open_dir(&r, dir)) == 0)
        rc = replay_to_index(&r, size);
    char newest[SWARM_ID_MAX] = "", oldest[SWARM_ID_MAX] = "";
    uint64_t hi = 0, lo = UINT64_MAX;
    for (uint32_t i = 0; rc == 0 && i < r.state->nincidents; i++) {
        const struct swarm_incident *x = &r.state->incidents[i];
        if (x->closed && x->first_index > hi) {
            hi = x->first_index;
            snprintf(newest, sizeof(newest), "%s", x->id);
        }
        if (x->first_index < lo) {
            lo = x->first_index;
            snprintf(oldest, sizeof(oldest), "%s", x->id);
        }
    }
    replay_close(&r);
    const char *ids[] = {newest, oldest};
    for (int i = 0; rc == 0 && i < 2; i++) {
        size_t listed;
        if (ids[i][0] == '\0')
            continue;
        if ((rc = postmortem_time(dir, ids[i], &t, &listed, &from)) != 0)
            break;
        printf("postmortem %-12s %7.1f ms wall, %6.1f ms CPU (%s incident, %zu entries listed, "
               "from the snapshot at %" PRIu64 "; goal < 1000)\n", ids[i], t.wall * 1000,
               t.cpu * 1000, i == 0 ? "newest" : "oldest", listed, from);
    }
done:
    if (made && !keep) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, CMD ": could not remove %s\n", dir);
    } else {
        printf("data directory: %s\n", dir);
    }
    return rc;
}
