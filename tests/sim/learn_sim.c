/*
 * The learning curve through the real machine (node/cli/learn_world.c: the healing machine
 * in virtual time, every incident step applied to the swarm state and its learning): for
 * each fault whose only working action is X, after at most 15 incidents X is the first
 * action in at least 90 % of the next 20. Then replay: the entries the run committed,
 * applied to a fresh state, give the same state hash at every index and the same learning
 * state byte for byte (every posterior, every draw, every choice).
 *
 *   learn_sim --seeds A..B     (a failing seed prints the command that replays it)
 */
#include "learn_world.h"
#include "swarm.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WARMUP 15
#define JUDGED 20

static int replay_check(const struct learn_world *w, uint64_t seed)
{
    const struct swarm_state *live = learn_world_swarm(w);
    struct swarm_state *s = malloc(sizeof(*s));
    if (s == NULL)
        return 1;
    swarm_state_init(s);
    int bad = 0;
    for (uint32_t i = 0; i < learn_world_entries(w) && !bad; i++) {
        struct swarm_entry e;
        struct swarm_applied out;
        if (learn_world_entry(w, i, &e) != 0 || swarm_apply(s, &e, &out) != 0) {
            bad = 1;
            break;
        }
        uint8_t full[SWARM_HASH_BYTES];
        swarm_state_hash_full(s, full);
        if (memcmp(full, s->hash, SWARM_HASH_BYTES) != 0) {
            fprintf(stderr, "seed %" PRIu64 ": incremental hash differs from full at %u\n", seed,
                    i + 1);
            bad = 1;
        }
    }
    if (!bad && (memcmp(s->hash, live->hash, SWARM_HASH_BYTES) != 0 ||
                 memcmp(&s->learn, &live->learn, sizeof(s->learn)) != 0)) {
        fprintf(stderr, "seed %" PRIu64 ": the replayed learning state differs\n", seed);
        bad = 1;
    }
    free(s);
    return bad;
}

static int run_seed(uint64_t seed, int verbose)
{
    int failed = 0;
    for (int f = 0; f < LF_COUNT; f++) {
        struct learn_world_cfg cfg = {.seed = seed * 131 + (uint64_t)f, .policy = LP_LEARNED};
        cfg.weights[f] = 1;
        struct learn_world *w = learn_world_new(&cfg);
        if (w == NULL) {
            fprintf(stderr, "seed %" PRIu64 ": cannot make the world\n", seed);
            return 1;
        }
        int right = 0, rc = 0;
        char firsts[WARMUP + JUDGED + 1] = "";
        for (int i = 0; i < WARMUP + JUDGED && rc == 0; i++) {
            struct learn_result r;
            rc = learn_world_incident(w, f, &r);
            bool ok = r.first == learn_fault_fix((enum learn_fault)f);
            firsts[i] = ok ? '+' : '-';
            if (i >= WARMUP && ok)
                right++;
        }
        bool pass = rc == 0 && right * 10 >= JUDGED * 9;
        if (verbose || !pass)
            fprintf(stderr, "seed %" PRIu64 " %-15s %s first action right in %d of the last %d: %s\n",
                    seed, learn_fault_name((enum learn_fault)f), firsts, right, JUDGED,
                    pass ? "ok" : "FAIL");
        if (verbose > 1) {
            const struct swarm_learn *l = &learn_world_swarm(w)->learn;
            for (uint32_t k = 0; k < l->nsigs; k++) {
                const struct swarm_learn_sig *g = &l->sigs[k];
                fprintf(stderr, "  sig cls %u cause %u signal %u feat %u cand %x first %u choice %u n %u:",
                        g->key.cls, g->key.cause, g->key.signal, g->key.feature, g->candidates,
                        g->rules_first, g->choice, g->outcomes);
                for (int a = 0; a < SWARM_LEARN_ARMS; a++)
                    if (g->candidates & (1u << a))
                        fprintf(stderr, " %d:%u/%u", a, g->arms[a].successes, g->arms[a].failures);
                fprintf(stderr, "\n");
            }
        }
        if (!pass || replay_check(w, seed))
            failed = 1;
        learn_world_free(w);
    }
    if (failed)
        fprintf(stderr, "replay: learn_sim --seeds %" PRIu64 "..%" PRIu64 " -v\n", seed, seed);
    return failed;
}

int main(int argc, char **argv)
{
    uint64_t lo = 1, hi = 1;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%" SCNu64 "..%" SCNu64, &lo, &hi) != 2 || hi < lo) {
                fprintf(stderr, "learn_sim: --seeds wants A..B with A <= B\n");
                return 2;
            }
        } else if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "-vv") == 0) {
            verbose = 2;
        } else {
            fprintf(stderr, "usage: learn_sim [--seeds A..B] [-v]\n");
            return 2;
        }
    }
    int failed = 0;
    for (uint64_t s = lo; s <= hi; s++)
        failed += run_seed(s, verbose);
    printf("learn_sim: %" PRIu64 " seeds, %d failed\n", hi - lo + 1, failed);
    return failed ? 1 : 0;
}
