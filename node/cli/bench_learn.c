/*
 * `platelet bench learn [--seed S] [--train N] [--held-out M] [--json]`: the learning curve
 * through the real healing machine and the real swarm state in virtual time
 * (learn_world.c). Three policies side by side on the same seed: restart-only, rules-only
 * (today's plans) and learned (the same plans with the swarm's learned first action). Each
 * runs N incidents of the training mix, then M of a held-out mix (other fault weights,
 * longer outages and slower commands) that no tuning looked at. Reported per fault type
 * and overall, for the held-out mix: success rate (healed by the node before an operator's
 * fix at 10 minutes), MTTR mean, p50 and p99, and regret (incidents whose first action was
 * not the fault's working action) over time. Figures go to docs/BENCHMARKS.md.
 */
#include "bench_learn.h"

#include "cli.h"
#include "learn_world.h"
#include "pl_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUARTERS 4

static const uint32_t train_mix[LF_COUNT] = {3, 2, 2, 2, 2};
static const uint32_t held_mix[LF_COUNT] = {1, 3, 3, 2, 3};

struct stats {
    uint32_t n, healed;
    uint64_t *ttr; /* n of them, sorted at the end */
};

struct run {
    struct stats type[LF_COUNT], all;
    uint32_t regret_train[QUARTERS], regret_held[QUARTERS];
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void stats_add(struct stats *s, const struct learn_result *r)
{
    s->ttr[s->n++] = r->ttr_ms;
    s->healed += r->healed;
}

static double mean_s(const struct stats *s)
{
    double t = 0;
    for (uint32_t i = 0; i < s->n; i++)
        t += (double)s->ttr[i];
    return s->n ? t / s->n / 1000.0 : 0;
}

static double pct_s(const struct stats *s, double p)
{
    if (s->n == 0)
        return 0;
    uint32_t k = (uint32_t)(p * (s->n - 1) + 0.5);
    return (double)s->ttr[k] / 1000.0;
}

static int run_policy(enum learn_policy p, uint64_t seed, uint32_t ntrain, uint32_t nheld,
                      struct run *out)
{
    struct learn_world_cfg cfg = {.seed = seed, .policy = p};
    memcpy(cfg.weights, train_mix, sizeof(cfg.weights));
    struct learn_world *w = learn_world_new(&cfg);
    if (w == NULL)
        return -1;
    int rc = 0;
    for (uint32_t i = 0; i < ntrain + nheld && rc == 0; i++) {
        if (i == ntrain)
            learn_world_mix(w, held_mix, true);
        struct learn_result r;
        rc = learn_world_incident(w, -1, &r);
        if (rc != 0)
            break;
        bool wrong = r.first != learn_fault_fix(r.fault);
        if (i < ntrain) {
            for (uint32_t q = i * QUARTERS / ntrain; q < QUARTERS; q++)
                out->regret_train[q] += wrong;
            continue;
        }
        uint32_t j = i - ntrain;
        for (uint32_t q = j * QUARTERS / nheld; q < QUARTERS; q++)
            out->regret_held[q] += wrong;
        stats_add(&out->type[r.fault], &r);
        stats_add(&out->all, &r);
    }
    learn_world_free(w);
    for (int f = 0; f < LF_COUNT; f++)
        qsort(out->type[f].ttr, out->type[f].n, sizeof(uint64_t), cmp_u64);
    qsort(out->all.ttr, out->all.n, sizeof(uint64_t), cmp_u64);
    return rc;
}

static void print_row(const char *name, const struct stats *s)
{
    printf("  %-15s %4u %6.1f %% %9.1f %9.1f %9.1f\n", name, s->n,
           s->n ? 100.0 * s->healed / s->n : 0, mean_s(s), pct_s(s, 0.5), pct_s(s, 0.99));
}

int bench_learn(int argc, char **argv)
{
    static const char cmd[] = "platelet bench learn";
    uint64_t seed = 1, ntrain = 300, nheld = 300;
    bool json = false;
    struct cli_flag flags[] = {
        {"--seed", CLI_U64, &seed, "the run's seed (default 1)", false, false},
        {"--train", CLI_U64, &ntrain, "incidents of the training mix (default 300)", false,
         false},
        {"--held-out", CLI_U64, &nheld, "incidents of the held-out mix (default 300)", false,
         false},
        {"--json", CLI_BOOL, &json, "one JSON document", false, false},
        {NULL, 0, NULL, NULL, false, false}};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet bench learn [--seed S] [--train N] [--held-out M] [--json]",
                       flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (ntrain < QUARTERS || nheld < QUARTERS || ntrain > 100000 || nheld > 100000)
        return cli_fail(cmd, "--train and --held-out: %d to 100000", QUARTERS);
    struct run *runs = calloc(LP_COUNT, sizeof(*runs));
    uint64_t *space = calloc((size_t)LP_COUNT * 2 * nheld, sizeof(uint64_t));
    if (runs == NULL || space == NULL) {
        free(runs);
        free(space);
        return -12;
    }
    for (int p = 0; p < LP_COUNT && rc == 0; p++) {
        /* Per type and overall: each sees at most nheld results. */
        uint64_t *base = space + (size_t)p * 2 * nheld;
        runs[p].all.ttr = base;
        for (int f = 0; f < LF_COUNT; f++)
            runs[p].type[f].ttr = malloc(nheld * sizeof(uint64_t));
        for (int f = 0; f < LF_COUNT && rc == 0; f++)
            if (runs[p].type[f].ttr == NULL)
                rc = -12;
        if (rc == 0)
            rc = run_policy((enum learn_policy)p, seed, (uint32_t)ntrain, (uint32_t)nheld,
                            &runs[p]);
    }
    if (rc != 0) {
        fprintf(stderr, "%s: the run failed: %s\n", cmd, pl_strerror(rc));
    } else if (json) {
        printf("{\"seed\": %" PRIu64 ", \"train\": %" PRIu64 ", \"held_out\": %" PRIu64
               ", \"policies\": {",
               seed, ntrain, nheld);
        for (int p = 0; p < LP_COUNT; p++) {
            printf("%s\"%s\": {", p ? ", " : "", learn_policy_name((enum learn_policy)p));
            for (int f = 0; f <= LF_COUNT; f++) {
                const struct stats *s = f < LF_COUNT ? &runs[p].type[f] : &runs[p].all;
                printf("%s\"%s\": {\"n\": %u, \"success\": %.4f, \"mttr_mean_s\": %.2f, "
                       "\"mttr_p50_s\": %.2f, \"mttr_p99_s\": %.2f}",
                       f ? ", " : "", f < LF_COUNT ? learn_fault_name((enum learn_fault)f) : "all",
                       s->n, s->n ? (double)s->healed / s->n : 0, mean_s(s), pct_s(s, 0.5),
                       pct_s(s, 0.99));
            }
            printf(", \"regret_train\": [%u, %u, %u, %u], \"regret_held_out\": [%u, %u, %u, %u]}",
                   runs[p].regret_train[0], runs[p].regret_train[1], runs[p].regret_train[2],
                   runs[p].regret_train[3], runs[p].regret_held[0], runs[p].regret_held[1],
                   runs[p].regret_held[2], runs[p].regret_held[3]);
        }
        printf("}}\n");
    } else {
        printf("platelet bench learn --seed %" PRIu64 " --train %" PRIu64 " --held-out %" PRIu64
               " (virtual time, the real machine and swarm state)\n",
               seed, ntrain, nheld);
        for (int p = 0; p < LP_COUNT; p++) {
            printf("\n%s, held-out mix:\n  %-15s %4s %8s %9s %9s %9s\n",
                   learn_policy_name((enum learn_policy)p), "fault", "n", "healed", "mttr s",
                   "p50 s", "p99 s");
            for (int f = 0; f < LF_COUNT; f++)
                print_row(learn_fault_name((enum learn_fault)f), &runs[p].type[f]);
            print_row("all", &runs[p].all);
            printf("  regret (first action not the working one), cumulative by quarter:\n"
                   "    training %u %u %u %u; held-out %u %u %u %u\n",
                   runs[p].regret_train[0], runs[p].regret_train[1], runs[p].regret_train[2],
                   runs[p].regret_train[3], runs[p].regret_held[0], runs[p].regret_held[1],
                   runs[p].regret_held[2], runs[p].regret_held[3]);
        }
        const struct run *rules = &runs[LP_RULES], *learned = &runs[LP_LEARNED];
        double ratio = mean_s(&rules->all) > 0 ? mean_s(&learned->all) / mean_s(&rules->all) : 0;
        printf("\nlearned / rules-only MTTR on the held-out mix: %.2f (goal <= 0.63)\n", ratio);
        for (int f = 0; f < LF_COUNT; f++) {
            double r = mean_s(&rules->type[f]) > 0
                           ? mean_s(&learned->type[f]) / mean_s(&rules->type[f])
                           : 0;
            printf("  %-15s %.2f%s\n", learn_fault_name((enum learn_fault)f), r,
                   r > 1.05 ? "  (worse than rules-only by more than 5 %)" : "");
        }
    }
    for (int p = 0; p < LP_COUNT; p++)
        for (int f = 0; f < LF_COUNT; f++)
            free(runs[p].type[f].ttr);
    free(runs);
    free(space);
    return rc;
}
