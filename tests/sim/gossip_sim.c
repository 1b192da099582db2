/*
 * The gossip simulator: N gossip cores in one process under virtual time (see
 * gossip_simnet.h), running scenarios that print what they measure and assert bounds:
 *
 *   spread     on one cluster, in turn:
 *     converge   time and gossip rounds until every member knows every other alive
 *     state      rounds for a state record to reach every member (~ log N)
 *     event      rounds for a user event to reach every member, each delivering it once
 *     crash      time until every live member declares a crashed member dead
 *     leave      time until every member shows a member that left as left
 *   pause      a member paused (SIGSTOP-like) past its suspicion comes back alive
 *   partition  two halves cut apart for a minute, then healed, converge again
 *   fp         false positives (live members declared dead) at 5% and 20% loss, with and
 *              without Lifeguard, printed side by side
 *   slow       one CPU-starved member (input handled 1.5x the suspicion minimum late):
 *              healthy members it
 *              gets declared dead, with and without Lifeguard
 *   all        spread, pause, partition, fp, slow
 *   converge, state, event, crash: one phase alone on its own cluster
 *
 * Usage: gossip_sim --seed S --nodes N --scenario X [--minutes M] [--profile lan|local]
 *        [--no-lifeguard] [--no-fast-suspicion] [--verbose]
 * One seed drives the whole run, and a failing run prints the command that replays it.
 * A safety invariant is checked on every membership change: what one member believes of
 * another never goes back to a lower incarnation.
 */
#include "gossip_simnet.h"

#include "pl_assert.h"
#include "pl_err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts
{
    uint64_t seed;
    int nodes;
    const char *scenario;
    double minutes; /* fp: simulated minutes per run; 0 = by size */
    enum gossip_profile profile;
    bool lifeguard;
    bool fast;
    bool verbose;
};

struct obs
{
    int n;
    uint64_t *inc;          /* n*n: last incarnation observer believes of subject */
    bool *crashed;          /* subjects crashed on purpose */
    uint64_t fp_events;     /* dead declarations about members that were not crashed */
    bool *fp_subject;       /* subjects ever declared dead while live */
    int *events;            /* user events delivered per node */
    int slow;               /* the slow member, or -1 */
    uint64_t slow_declared; /* dead declarations about the slow member */
    int failures;
};

static struct opts g_opts;
static int g_failed;
static const char *g_run = "all"; /* the top-level scenario running, for the replay line */

static void fail(const char *scenario, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const char *scenario, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: ", scenario);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    char minutes[32] = "";
    if (g_opts.minutes > 0)
        snprintf(minutes, sizeof(minutes), " --minutes %g", g_opts.minutes);
    fprintf(stderr, "\n  replay: gossip_sim --seed %llu --nodes %d --scenario %s%s%s%s\n",
            (unsigned long long)g_opts.seed, g_opts.nodes, g_run, minutes,
            g_opts.lifeguard ? "" : " --no-lifeguard", g_opts.fast ? "" : " --no-fast-suspicion");
    g_failed = 1;
}

static int name_index(const char *name)
{
    return strncmp(name, "node", 4) == 0 ? atoi(name + 4) : -1;
}

static void member_cb(void *ctx, int observer, const struct gossip_out *o)
{
    struct obs *ob = ctx;
    int s = name_index(o->name);
    if (s < 0 || s >= ob->n)
        return;
    uint64_t *last = &ob->inc[(size_t)observer * (size_t)ob->n + (size_t)s];
    if (o->member_event == GOSSIP_MEMBER_REAP) {
        *last = 0;
        return;
    }
    /* Safety: beliefs about a member only move forward in incarnation. */
    if (o->incarnation < *last) {
        fail("invariant", "node%d went back from incarnation %llu to %llu for %s", observer,
             (unsigned long long)*last, (unsigned long long)o->incarnation, o->name);
        ob->failures++;
    }
    *last = o->incarnation;
    if (o->member_event == GOSSIP_MEMBER_DEAD && s == ob->slow)
        ob->slow_declared++;
    if (o->member_event == GOSSIP_MEMBER_DEAD && !ob->crashed[s]) {
        ob->fp_events++;
        ob->fp_subject[s] = true;
        if (g_opts.verbose)
            printf("    false positive: node%d declared %s dead\n", observer, o->name);
    }
}

static void event_cb(void *ctx, int observer, const struct gossip_out *o)
{
    struct obs *ob = ctx;
    PL_UNUSED(o);
    ob->events[observer]++;
}

static void obs_init(struct obs *ob, int n)
{
    memset(ob, 0, sizeof(*ob));
    ob->n = n;
    ob->slow = -1;
    ob->inc = calloc((size_t)n * (size_t)n, sizeof(uint64_t));
    ob->crashed = calloc((size_t)n, sizeof(bool));
    ob->fp_subject = calloc((size_t)n, sizeof(bool));
    ob->events = calloc((size_t)n, sizeof(int));
    PL_ASSERT(ob->inc && ob->crashed && ob->fp_subject && ob->events);
}

static void obs_close(struct obs *ob)
{
    free(ob->inc);
    free(ob->crashed);
    free(ob->fp_subject);
    free(ob->events);
}

static void config(struct gossip_config *cfg, bool lifeguard)
{
    gossip_config_default(cfg, g_opts.profile);
    cfg->lifeguard = lifeguard;
    cfg->fast_suspicion = g_opts.fast;
    cfg->members_max = (uint32_t)g_opts.nodes + 16;
    cfg->states_max = (uint32_t)g_opts.nodes * 2 + 16;
    cfg->broadcasts_max = (uint32_t)g_opts.nodes * 4 + 256;
    cfg->outputs_max = (uint32_t)g_opts.nodes * 4 + 1024;
    cfg->events_recent_max = 256;
}

/* Starts every node, each joining through a random node started before it; joins are
 * spread over up to two seconds. Returns when the last has started. */
static void boot(struct simnet *net, struct obs *ob, uint64_t seed, bool lifeguard)
{
    struct gossip_config cfg;
    config(&cfg, lifeguard);
    int n = g_opts.nodes;
    PL_ASSERT(simnet_init(net, seed, n, &cfg) == 0);
    obs_init(ob, n);
    net->hooks = (struct simnet_hooks){.member_cb = member_cb, .event_cb = event_cb, .ctx = ob};
    uint64_t spacing = n > 1 ? PL_MAX(1, 2000 / n) : 0;
    simnet_start(net, 0, -1);
    for (int i = 1; i < n; i++) {
        simnet_run_until(net, (uint64_t)i * spacing);
        simnet_start(net, i, (int)pl_rand_below(&net->rand, (uint64_t)i));
    }
}

static bool all_know_all(struct simnet *net)
{
    uint32_t expect = 0;
    for (int i = 0; i < net->n; i++)
        expect += !net->nodes[i].crashed;
    for (int i = 0; i < net->n; i++)
        if (simnet_up(net, i) && gossip_member_count(net->nodes[i].g, GOSSIP_ALIVE) != expect)
            return false;
    return true;
}

/* Steps simulated time until pred holds or limit passes; the time it took, or UINT64_MAX. */
static uint64_t wait_for(struct simnet *net,
                         bool (*pred)(struct simnet *, void *),
                         void *arg,
                         uint64_t step_ms,
                         uint64_t limit_ms)
{
    uint64_t start = net->now;
    while (net->now - start <= limit_ms) {
        if (pred(net, arg))
            return net->now - start;
        simnet_run_until(net, net->now + step_ms);
    }
    return UINT64_MAX;
}

static bool pred_converged(struct simnet *net, void *arg)
{
    PL_UNUSED(arg);
    static uint64_t last_print;
    if (g_opts.verbose && net->now >= last_print + 1000) {
        last_print = net->now;
        uint32_t lo = UINT32_MAX, hi = 0;
        size_t q = 0, sus = 0, dead = 0;
        uint32_t known_lo = UINT32_MAX;
        for (int i = 0; i < net->n; i++) {
            if (!simnet_up(net, i))
                continue;
            uint32_t a = gossip_member_count(net->nodes[i].g, GOSSIP_ALIVE);
            lo = PL_MIN(lo, a);
            hi = PL_MAX(hi, a);
            q += gossip_broadcasts_pending(net->nodes[i].g);
            sus += gossip_member_count(net->nodes[i].g, GOSSIP_SUSPECT);
            dead += gossip_member_count(net->nodes[i].g, GOSSIP_DEAD);
            known_lo = PL_MIN(known_lo, gossip_member_count(net->nodes[i].g, GOSSIP_ALIVE) +
                                            gossip_member_count(net->nodes[i].g, GOSSIP_SUSPECT) +
                                            gossip_member_count(net->nodes[i].g, GOSSIP_DEAD));
        }
        if (getenv("SIM_DEBUG") && net->now > 5000) {
            for (int i = 0; i < net->n; i++) {
                if (gossip_member_count(net->nodes[i].g, GOSSIP_ALIVE) == (uint32_t)net->n)
                    continue;
                const struct gossip_counters *c = gossip_counters_get(net->nodes[i].g);
                printf("[full=%llu malformed=%llu big=%llu unk=%llu] ",
                       (unsigned long long)c->dropped_full,
                       (unsigned long long)c->wire.rx_malformed,
                       (unsigned long long)c->wire.rx_oversized,
                       (unsigned long long)c->wire.rx_unknown_type);
                printf("node%d misses:", i);
                for (int j = 0; j < net->n; j++)
                    if (!gossip_member_find(net->nodes[i].g, net->nodes[j].name))
                        printf(" %d", j);
                printf("\n");
            }
            exit(0);
        }
        printf(
            "    t=%llu alive known min=%u max=%u queued=%zu suspect=%zu dead=%zu known_min=%u\n",
            (unsigned long long)net->now, lo, hi, q, sus, dead, known_lo);
    }
    return all_know_all(net);
}

static uint64_t converge(struct simnet *net, const char *scenario)
{
    uint64_t t = wait_for(net, pred_converged, NULL, 50, 600000);
    if (t == UINT64_MAX)
        fail(scenario, "no convergence within 600 s");
    return t;
}

static double log2n(void)
{
    return log2((double)PL_MAX(g_opts.nodes, 2));
}

/* ---- scenarios -------------------------------------------------------------------- */

/* ---- scenarios -------------------------------------------------------------------- */

/* Phases on a converged cluster; each prints and checks, and returns false on failure. */

static bool ph_converge(struct simnet *net, struct obs *ob)
{
    uint64_t t = converge(net, "converge");
    if (t == UINT64_MAX)
        return false;
    printf(
        "  converge   n=%-5d %7.1f s after the last join  (%.0f gossip rounds, %.1f probe "
        "periods)\n",
        net->n, t / 1000.0, (double)t / net->cfg.gossip_interval_ms,
        (double)t / net->cfg.probe_interval_ms);
    if (ob->fp_events > 0) {
        fail("converge", "%llu false dead declarations without faults",
             (unsigned long long)ob->fp_events);
        return false;
    }
    /* Agreement: every member holds every other at the incarnation that member holds for
     * itself, at its own address. */
    for (int i = 0; i < net->n; i++) {
        for (int j = 0; j < net->n; j++) {
            const struct gossip_member *self = gossip_member_at(net->nodes[j].g, 0);
            const struct gossip_member *m = gossip_member_find(net->nodes[i].g, self->name);
            if (m == NULL || m->incarnation != self->incarnation ||
                strcmp(m->addr, self->addr) != 0) {
                fail("converge", "node%d's view of node%d disagrees with node%d's own", i, j, j);
                return false;
            }
        }
    }
    return true;
}

/* One member v and the status every other live member must come to hold it at. */
struct victim
{
    int v;
    enum gossip_status status;
};

static bool pred_all_see(struct simnet *net, void *arg)
{
    const struct victim *vi = arg;
    for (int i = 0; i < net->n; i++) {
        if (!simnet_up(net, i) || i == vi->v)
            continue;
        const struct gossip_member *m =
            gossip_member_find(net->nodes[i].g, net->nodes[vi->v].name);
        if (m == NULL || m->status != vi->status)
            return false;
    }
    return true;
}

static bool ph_crash(struct simnet *net, struct obs *ob)
{
    simnet_run_until(net, net->now + (uint64_t)pl_rand_below(&net->rand, 1000));
    struct victim vi = {.v = 1 + (int)pl_rand_below(&net->rand, (uint64_t)net->n - 1),
                        .status = GOSSIP_DEAD};
    ob->crashed[vi.v] = true;
    simnet_crash(net, vi.v);
    uint64_t limit = gossip_suspicion_timeout_ms(&net->cfg, (uint32_t)net->n, 0) + 60000;
    uint64_t t = wait_for(net, pred_all_see, &vi, 10, limit);
    if (t == UINT64_MAX) {
        fail("crash", "node%d not declared dead by every live member within %llu ms", vi.v,
             (unsigned long long)limit);
        return false;
    }
    uint64_t min = gossip_suspicion_timeout_ms(&net->cfg, (uint32_t)net->n, 1000);
    printf(
        "  crash      n=%-5d %7.1f s until every live member declared it dead (suspicion "
        "min %.1f s)\n",
        net->n, t / 1000.0, min / 1000.0);
    if (ob->fp_events > 0) {
        fail("crash", "%llu false dead declarations", (unsigned long long)ob->fp_events);
        return false;
    }
    return true;
}

struct rec_wait
{
    const char *node;
    uint64_t version;
};

static bool pred_state(struct simnet *net, void *arg)
{
    struct rec_wait *w = arg;
    for (int i = 0; i < net->n; i++) {
        if (!simnet_up(net, i))
            continue;
        const uint8_t *v;
        size_t len;
        uint64_t ver;
        if (gossip_state_get(net->nodes[i].g, w->node, "health", &v, &len, &ver) != 0 ||
            ver < w->version)
            return false;
    }
    return true;
}

static bool pred_event(struct simnet *net, void *arg)
{
    struct obs *ob = arg;
    for (int i = 0; i < net->n; i++)
        if (simnet_up(net, i) && ob->events[i] < 1)
            return false;
    return true;
}

/* Dissemination must grow like log N: rounds <= 3 log2 N + 6 (loose enough for any seed,
 * tight enough that linear growth fails at N = 100 and 1000). */
static bool check_rounds(const char *scenario, double rounds)
{
    double bound = 3.0 * log2n() + 6.0;
    if (rounds > bound) {
        fail(scenario, "%.0f rounds > bound 3 log2 N + 6 = %.1f", rounds, bound);
        return false;
    }
    return true;
}

/* Lets the join traffic drain so a measurement competes with steady-state gossip only. */
static void settle(struct simnet *net)
{
    for (int k = 0; k < 120; k++) {
        size_t q = 0;
        for (int i = 0; i < net->n; i++)
            if (simnet_up(net, i))
                q += gossip_broadcasts_pending(net->nodes[i].g);
        if (q == 0)
            break;
        simnet_run_until(net, net->now + 1000);
    }
    simnet_run_until(net, net->now + 2000);
}

static bool ph_state(struct simnet *net, struct obs *ob)
{
    PL_UNUSED(ob);
    int r = (int)pl_rand_below(&net->rand, (uint64_t)net->n);
    gossip_state_set(net->nodes[r].g, net->now, "health", (const uint8_t *)"{\"ok\":true}", 11);
    simnet_drain(net, r);
    struct rec_wait w = {.node = net->nodes[r].name, .version = 1};
    uint64_t t = wait_for(net, pred_state, &w, 10, 120000);
    if (t == UINT64_MAX) {
        fail("state", "record of node%d did not reach everyone in 120 s", r);
        return false;
    }
    double rounds = ceil((double)t / net->cfg.gossip_interval_ms);
    printf("  state      n=%-5d %7.2f s  = %3.0f gossip rounds  (log2 N = %.1f)\n", net->n,
           t / 1000.0, rounds, log2n());
    return check_rounds("state", rounds);
}

static bool ph_event(struct simnet *net, struct obs *ob)
{
    int r = (int)pl_rand_below(&net->rand, (uint64_t)net->n);
    gossip_event_send(net->nodes[r].g, net->now, "deploy", (const uint8_t *)"v2", 2);
    simnet_drain(net, r);
    uint64_t t = wait_for(net, pred_event, ob, 10, 120000);
    if (t == UINT64_MAX) {
        fail("event", "event did not reach everyone in 120 s");
        return false;
    }
    double rounds = ceil((double)t / net->cfg.gossip_interval_ms);
    printf("  event      n=%-5d %7.2f s  = %3.0f gossip rounds  (log2 N = %.1f)\n", net->n,
           t / 1000.0, rounds, log2n());
    if (!check_rounds("event", rounds))
        return false;
    /* Let every retransmission die out: still exactly one delivery each. */
    simnet_run_until(net, net->now + 30000);
    for (int i = 0; i < net->n; i++) {
        if (ob->events[i] != 1) {
            fail("event", "node%d delivered the event %d times", i, ob->events[i]);
            return false;
        }
    }
    return true;
}

static bool ph_leave(struct simnet *net, struct obs *ob)
{
    struct victim vi = {.status = GOSSIP_LEFT};
    do
        vi.v = 1 + (int)pl_rand_below(&net->rand, (uint64_t)net->n - 1);
    while (ob->crashed[vi.v]);
    gossip_leave(net->nodes[vi.v].g, net->now);
    simnet_drain(net, vi.v);
    uint64_t t = wait_for(net, pred_all_see, &vi, 10, 60000);
    if (t == UINT64_MAX) {
        for (int i = 0; i < net->n; i++) {
            const struct gossip_member *m =
                simnet_up(net, i) && i != vi.v
                    ? gossip_member_find(net->nodes[i].g, net->nodes[vi.v].name)
                    : NULL;
            if (m != NULL && m->status != GOSSIP_LEFT)
                printf("    node%d holds node%d %s at incarnation %llu\n", i, vi.v,
                       gossip_status_name(m->status), (unsigned long long)m->incarnation);
        }
        fail("leave", "node%d not seen as left by everyone within 60 s", vi.v);
        return false;
    }
    printf("  leave      n=%-5d %7.2f s until every member shows it left\n", net->n, t / 1000.0);
    if (ob->fp_events > 0) {
        fail("leave", "%llu false dead declarations", (unsigned long long)ob->fp_events);
        return false;
    }
    return true;
}

enum { PH_CONVERGE = 1, PH_STATE = 2, PH_EVENT = 4, PH_CRASH = 8, PH_LEAVE = 16 };

static void run_phases(uint64_t seed, int phases)
{
    struct simnet net;
    struct obs ob;
    boot(&net, &ob, seed, g_opts.lifeguard);
    bool ok = true;
    if (phases & PH_CONVERGE)
        ok = ph_converge(&net, &ob);
    else
        ok = converge(&net, g_run) != UINT64_MAX;
    if (ok && (phases & (PH_STATE | PH_EVENT | PH_CRASH)))
        settle(&net);
    if (ok && (phases & PH_STATE))
        ok = ph_state(&net, &ob);
    if (ok && (phases & PH_EVENT))
        ok = ph_event(&net, &ob);
    if (ok && (phases & PH_CRASH))
        ok = ph_crash(&net, &ob);
    if (ok && (phases & PH_LEAVE))
        ok = ph_leave(&net, &ob);
    simnet_close(&net);
    obs_close(&ob);
}

static void sc_converge(uint64_t seed)
{
    run_phases(seed, PH_CONVERGE);
}
static void sc_crash(uint64_t seed)
{
    run_phases(seed, PH_CRASH);
}
static void sc_state(uint64_t seed)
{
    run_phases(seed, PH_STATE);
}
static void sc_event(uint64_t seed)
{
    run_phases(seed, PH_EVENT);
}
/* All four on one cluster: one boot instead of four (what the 1000-node test runs). */
static void sc_spread(uint64_t seed)
{
    run_phases(seed, PH_CONVERGE | PH_STATE | PH_EVENT | PH_CRASH | PH_LEAVE);
}

static void sc_pause(uint64_t seed)
{
    struct simnet net;
    struct obs ob;
    boot(&net, &ob, seed, g_opts.lifeguard);
    if (converge(&net, "pause") == UINT64_MAX)
        goto done;
    struct victim b = {.v = 1 + (int)pl_rand_below(&net.rand, (uint64_t)net.n - 1),
                       .status = GOSSIP_ALIVE};
    uint64_t pause_ms = gossip_suspicion_timeout_ms(&net.cfg, (uint32_t)net.n, 0) + 5000;
    simnet_pause(&net, b.v);
    ob.crashed[b.v] = true; /* being declared dead while stopped is correct */
    simnet_run_until(&net, net.now + pause_ms);
    simnet_resume(&net, b.v);
    uint64_t t = wait_for(&net, pred_all_see, &b, 50, 300000);
    if (t == UINT64_MAX) {
        fail("pause", "node%d not alive again everywhere 300 s after resuming", b.v);
        goto done;
    }
    printf("  pause      n=%-5d paused %.0f s, alive everywhere %.1f s after resuming\n", net.n,
           pause_ms / 1000.0, t / 1000.0);
done:
    simnet_close(&net);
    obs_close(&ob);
}

static void sc_partition(uint64_t seed)
{
    struct simnet net;
    struct obs ob;
    boot(&net, &ob, seed, g_opts.lifeguard);
    if (converge(&net, "partition") == UINT64_MAX)
        goto done;
    for (int i = 0; i < net.n; i++) {
        net.nodes[i].group = i % 2;
        ob.crashed[i] = true; /* each half rightly declares the other dead */
    }
    net.partitioned = true;
    simnet_run_until(&net, net.now + 60000);
    net.partitioned = false;
    uint64_t t = wait_for(&net, pred_converged, NULL, 100, 600000);
    if (t == UINT64_MAX) {
        fail("partition", "halves did not merge within 600 s of healing");
        goto done;
    }
    printf("  partition  n=%-5d cut 60 s, all alive everywhere %.1f s after healing\n", net.n,
           t / 1000.0);
done:
    simnet_close(&net);
    obs_close(&ob);
}

struct fp_result
{
    uint64_t events;
    int subjects;
    uint64_t refutes;
};

static struct fp_result fp_run(uint64_t seed, double loss, bool lifeguard, uint64_t run_ms)
{
    struct fp_result r = {0};
    struct simnet net;
    struct obs ob;
    boot(&net, &ob, seed, lifeguard);
    if (converge(&net, "fp") != UINT64_MAX) {
        ob.fp_events = 0;
        memset(ob.fp_subject, 0, (size_t)net.n);
        net.loss = loss;
        net.dup = 0.01;
        net.delay_max_ms = 20; /* with reordering */
        simnet_run_until(&net, net.now + run_ms);
        r.events = ob.fp_events;
        for (int i = 0; i < net.n; i++) {
            r.subjects += ob.fp_subject[i];
            r.refutes += gossip_counters_get(net.nodes[i].g)->refutations;
        }
    }
    simnet_close(&net);
    obs_close(&ob);
    return r;
}

static void sc_fp(uint64_t seed)
{
    double minutes = g_opts.minutes;
    if (minutes <= 0)
        minutes = g_opts.nodes <= 10 ? 60 : g_opts.nodes <= 100 ? 10 : 1;
    uint64_t run_ms = (uint64_t)(minutes * 60000);
    printf(
        "  fp         n=%-5d %.0f simulated min per run; live members declared dead "
        "(declarations / distinct members / refutations)\n",
        g_opts.nodes, minutes);
    printf("             loss   lifeguard on            lifeguard off\n");
    static const double losses[] = {0.05, 0.20};
    for (size_t k = 0; k < 2; k++) {
        struct fp_result on = fp_run(seed, losses[k], true, run_ms);
        struct fp_result off = fp_run(seed, losses[k], false, run_ms);
        printf("             %3.0f%%   %6llu / %4d / %6llu   %6llu / %4d / %6llu\n",
               losses[k] * 100, (unsigned long long)on.events, on.subjects,
               (unsigned long long)on.refutes, (unsigned long long)off.events, off.subjects,
               (unsigned long long)off.refutes);
        /* At 5% loss the detector must stay quiet with Lifeguard on. */
        if (k == 0 && on.events > 0)
            fail("fp", "%llu false positives at 5%% loss with Lifeguard",
                 (unsigned long long)on.events);
    }
}

struct slow_result
{
    uint64_t healthy; /* dead declarations about healthy members */
    int healthy_members;
    uint64_t slow; /* dead declarations about the slow member */
    uint32_t awareness;
};

static struct slow_result slow_run(uint64_t seed,
                                   bool lifeguard,
                                   uint64_t run_ms,
                                   uint32_t extra_ms)
{
    struct slow_result r = {0};
    struct simnet net;
    struct obs ob;
    boot(&net, &ob, seed, lifeguard);
    if (converge(&net, "slow") != UINT64_MAX) {
        int x = 1 + (int)pl_rand_below(&net.rand, (uint64_t)net.n - 1);
        ob.fp_events = 0;
        ob.slow = x;
        ob.crashed[x] = true; /* declarations about the slow one are counted apart */
        net.slow_node = x;
        net.slow_extra_ms_max = extra_ms;
        simnet_run_until(&net, net.now + run_ms);
        r.healthy = ob.fp_events;
        for (int i = 0; i < net.n; i++)
            r.healthy_members += ob.fp_subject[i];
        r.slow = ob.slow_declared;
        r.awareness = gossip_awareness(net.nodes[x].g);
        if (g_opts.verbose) {
            const struct gossip_counters *c = gossip_counters_get(net.nodes[x].g);
            printf("    slow node%d: probes %llu failed %llu suspicions %llu refutations %llu\n", x,
                   (unsigned long long)c->probes, (unsigned long long)c->probe_failures,
                   (unsigned long long)c->suspicions_raised, (unsigned long long)c->refutations);
        }
    }
    simnet_close(&net);
    obs_close(&ob);
    return r;
}

/* Lifeguard's own case: one member is CPU-starved and handles what it receives late. Plain SWIM
 * lets it accuse healthy members, and its accusations outlive their refutations; Lifeguard's local
 * health makes it slow down and its lone suspicions long. */
static void sc_slow(uint64_t seed)
{
    double minutes = g_opts.minutes > 0 ? g_opts.minutes : g_opts.nodes <= 10 ? 30 : 5;
    uint64_t run_ms = (uint64_t)(minutes * 60000);
    /* A backlog of 1.5 times the shortest suspicion timeout: long enough that a plain
     * SWIM accusation outlives the refutation, shorter than Lifeguard's lone-suspicion
     * timeout. */
    struct gossip_config cfg;
    config(&cfg, true);
    uint32_t extra =
        (uint32_t)(3 * gossip_suspicion_timeout_ms(&cfg, (uint32_t)g_opts.nodes, 1000) / 2);
    struct slow_result on = slow_run(seed, true, run_ms, extra);
    struct slow_result off = slow_run(seed, false, run_ms, extra);
    printf("  slow       n=%-5d one member handles its input %.0f s late, %.0f simulated min\n",
           g_opts.nodes, extra / 1000.0, minutes);
    printf(
        "             healthy members declared dead (declarations / members), slow one "
        "declared dead, its health score\n");
    printf("             lifeguard on:  %5llu / %4d   %5llu   %u\n", (unsigned long long)on.healthy,
           on.healthy_members, (unsigned long long)on.slow, on.awareness);
    printf("             lifeguard off: %5llu / %4d   %5llu   %u\n",
           (unsigned long long)off.healthy, off.healthy_members, (unsigned long long)off.slow,
           off.awareness);
    if (on.healthy > off.healthy)
        fail("slow", "Lifeguard declared more healthy members dead (%llu) than plain SWIM (%llu)",
             (unsigned long long)on.healthy, (unsigned long long)off.healthy);
}

struct scenario
{
    const char *name;
    void (*run)(uint64_t seed);
};

static const struct scenario scenarios[] = {
    {"spread", sc_spread}, {"pause", sc_pause},       {"partition", sc_partition},
    {"fp", sc_fp},         {"converge", sc_converge}, {"crash", sc_crash},
    {"state", sc_state},   {"event", sc_event},       {"slow", sc_slow},
};

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: gossip_sim --seed S --nodes N --scenario "
            "spread|pause|partition|fp|slow|all|converge|crash|state|event [--minutes M] "
            "[--profile lan|local|wan] [--no-lifeguard] [--no-fast-suspicion] "
            "[--verbose]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    g_opts = (struct opts){.seed = 1,
                           .nodes = 10,
                           .scenario = "all",
                           .lifeguard = true,
                           .fast = true,
                           .profile = GOSSIP_PROFILE_LAN};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--seed") == 0 && v) {
            g_opts.seed = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--nodes") == 0 && v) {
            g_opts.nodes = atoi(v);
            i++;
        } else if (strcmp(a, "--scenario") == 0 && v) {
            g_opts.scenario = v;
            i++;
        } else if (strcmp(a, "--minutes") == 0 && v) {
            g_opts.minutes = atof(v);
            i++;
        } else if (strcmp(a, "--profile") == 0 && v) {
            if (gossip_profile_parse(v, &g_opts.profile) != 0)
                usage();
            i++;
        } else if (strcmp(a, "--no-lifeguard") == 0) {
            g_opts.lifeguard = false;
        } else if (strcmp(a, "--no-fast-suspicion") == 0) {
            g_opts.fast = false;
        } else if (strcmp(a, "--verbose") == 0) {
            g_opts.verbose = true;
        } else {
            usage();
        }
    }
    if (g_opts.nodes < 3 || g_opts.nodes > 5000)
        usage();
    printf("gossip_sim seed=%llu nodes=%d scenario=%s lifeguard=%s fast_suspicion=%s\n",
           (unsigned long long)g_opts.seed, g_opts.nodes, g_opts.scenario,
           g_opts.lifeguard ? "on" : "off", g_opts.fast ? "on" : "off");
    bool any = false;
    bool all = strcmp(g_opts.scenario, "all") == 0;
    for (size_t i = 0; i < PL_ARRAY_LEN(scenarios); i++) {
        /* "all" runs the first four (and slow); converge..event are spread's phases one by
         * one. */
        if ((all && (i < 4 || strcmp(scenarios[i].name, "slow") == 0)) ||
            strcmp(g_opts.scenario, scenarios[i].name) == 0) {
            g_run = scenarios[i].name;
            /* Each scenario's seed depends on the run's seed only, so `--scenario X`
             * replays exactly what X did inside "all". */
            scenarios[i].run(g_opts.seed * 7919u + hash_name(scenarios[i].name));
            any = true;
            fflush(stdout);
        }
    }
    if (!any)
        usage();
    printf("%s\n", g_failed ? "FAILED" : "ok");
    return g_failed ? 1 : 0;
}
