/*
 * What the swarm learns about healing: for each anomaly signature, a Beta(alpha, beta)
 * posterior of "this action heals it" per action the service may take, updated from the
 * outcome of every incident the ledger carries, and the action the next incident of that
 * signature starts with, chosen by Thompson sampling (Russo et al., "A Tutorial on
 * Thompson Sampling", 2018, section 3).
 *
 * Part of the swarm's replicated state (swarm.h), so it follows the same rules: pure, no
 * clock, no I/O; its randomness is a PRNG seeded from the entry that asks for a draw
 * (term, index, incident id), so every voter and `platelet replay` draw the same numbers.
 * No floating point: alpha and beta are Q16.16 fixed point and a Beta draw is the normal
 * of the same mean and variance (an Irwin-Hall sum of 12 uniforms, an integer square
 * root), so the choice and every posterior bit are the same on every platform.
 *
 * The signature (docs/ARCHITECTURE.md, "What the swarm learns"): service, failure class,
 * root cause, the signal that opened the incident, and one discretised feature of its
 * evidence (heal_diag.h's heal_feature: exit status class, which check failure, a trend or
 * a threshold). The node sends what the swarm cannot know (the feature, the actions its
 * policy lets it take without approval, the rules-only plan's first action) in the result
 * word of the incident's `diagnosed` step (SWARM_FACTS_*).
 *
 * Lessons, one per try: an incident closed "healed" credits a success to the last try (the one
 * verified healthy within the verify window; a config_sync just before a healing restart
 * shares it, since the restored file takes effect with that restart) and a failure to every
 * other try (a restart that healed at its third try failed twice); one that closed otherwise (recovered on its own while the node waited
 * out a back-off, stopped by an operator who fixed it by hand, abandoned) a failure to every
 * action taken, since none of them healed it. Each outcome first forgets: every arm of the signature
 * moves a fraction (1 - SWARM_LEARN_FORGET) back to its prior, so a lesson fades after some
 * fifty newer ones and a changed system can be learned again. The prior is the rules-only
 * plan: its first action starts at Beta(2, 1), every other action at Beta(1, 1).
 *
 * Safety: only actions in the node's candidate set are ever chosen (allowed by the policy,
 * possible for the service, needing no approval; never escalate or retry), and each
 * service may explore (choose an action other than the best posterior mean) in at most
 * SWARM_LEARN_EXPLORE_MAX of its last 32 choices, and never while the best arm's mean is
 * SWARM_LEARN_SATISFIED_Q16 or more (a cure that nearly always works is not gambled on;
 * once it starts failing its mean drops and exploring resumes), and never while the best
 * arm has not failed lately (its beta less than SWARM_LEARN_DOUBT_Q16 above its prior,
 * forgetting included): at first that arm is the rules' first action, and with no evidence
 * against it an exploration can only heal slower than rules-only; once a cure is found, it
 * is kept until it fails.
 */
#ifndef PL_SWARM_LEARN_H
#define PL_SWARM_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWARM_LEARN_NAME_MAX 64
#define SWARM_LEARN_SIGS_MAX 128     /* the least recently updated goes first */
#define SWARM_LEARN_SERVICES_MAX 128
#define SWARM_LEARN_ARMS 16          /* heal_action numbers below this */
#define SWARM_LEARN_ACTS_MAX 16      /* an incident's latest tries, remembered for its lesson */
#define SWARM_Q16_ONE 65536u
#define SWARM_LEARN_FORGET_Q16 64225u /* 0.98: about fifty outcomes of memory */
#define SWARM_LEARN_EXPLORE_MAX 4    /* explorations among a service's last 32 choices */
#define SWARM_LEARN_SATISFIED_Q16 58982u /* 0.9: a best arm this good is not gambled on */
#define SWARM_LEARN_DOUBT_Q16 32768u /* 0.5 of a failure: the best arm is doubted */

/* The result word of a `diagnosed` incident step: bits 0-15 the candidate actions
 * (heal_action bits), 16-23 the evidence feature, 24-27 the rules-only first action. */
#define SWARM_FACTS_CANDIDATES(r) ((uint16_t)((uint32_t)(r)&0xffffu))
#define SWARM_FACTS_FEATURE(r) ((uint8_t)(((uint32_t)(r) >> 16) & 0xffu))
#define SWARM_FACTS_RULES_FIRST(r) ((uint8_t)(((uint32_t)(r) >> 24) & 0x0fu))
#define SWARM_FACTS(cand, feat, first)                                                         \
    ((int32_t)((uint32_t)(cand) | ((uint32_t)(feat) << 16) | ((uint32_t)((first)&0x0f) << 24)))

struct swarm_learn_key {
    char service[SWARM_LEARN_NAME_MAX];
    uint8_t cls, cause, signal, feature; /* heal_class, heal_cause, heal_signal_kind, feature */
};

struct swarm_learn_arm {
    uint32_t alpha, beta;        /* Q16.16 */
    uint32_t successes, failures; /* raw counts, never forgotten (for the operator) */
    uint32_t drawn;              /* Q16.16: what the last choice drew for this arm */
};

struct swarm_learn_sig {
    struct swarm_learn_key key;
    uint16_t candidates;         /* heal_action bits the node may take without approval */
    uint8_t rules_first;         /* the rules-only plan's first action: the prior's choice */
    uint8_t choice;              /* what the next incident starts with (0: the rules) */
    bool explored;               /* the choice is not the best posterior mean */
    uint64_t choice_index, choice_term; /* the entry whose seed drew it */
    uint64_t updated_index;
    uint32_t outcomes;           /* lessons taken */
    struct swarm_learn_arm arms[SWARM_LEARN_ARMS];
};

struct swarm_learn_svc {
    char service[SWARM_LEARN_NAME_MAX];
    uint32_t history;            /* bit i: the i-th last choice explored */
    uint32_t choices;
};

struct swarm_learn {
    uint32_t nsigs, nsvcs;
    uint64_t evicted;
    struct swarm_learn_sig sigs[SWARM_LEARN_SIGS_MAX];
    struct swarm_learn_svc svcs[SWARM_LEARN_SERVICES_MAX];
};

/* The owner's state hash follows every item change: `cb(ctx, item, -1)` before, +1 after.
 * `sig` or `svc` is set, the other NULL; both NULL: the table's own counters (evicted). */
struct swarm_learn_hook {
    void *ctx;
    void (*mix_cb)(void *ctx, const struct swarm_learn_sig *sig, const struct swarm_learn_svc *svc,
                   int sign);
};

/* The entry that asks for a draw: its seed. */
struct swarm_learn_draw {
    uint64_t index, term;
    const char *incident;
};

void swarm_learn_init(struct swarm_learn *l);

/* A `diagnosed` step: the signature is known (created with its prior and a first choice
 * when new; its candidates and rules' choice refreshed when the node's policy changed). */
void swarm_learn_note(struct swarm_learn *l, const struct swarm_learn_key *k, uint16_t candidates,
                      uint8_t rules_first, const struct swarm_learn_draw *d,
                      const struct swarm_learn_hook *h);

/* An incident of signature `k` closed with `healed` (else failed) after `acts` (in order);
 * forgets, learns, and draws the next choice. Nothing for an unknown signature. */
void swarm_learn_outcome(struct swarm_learn *l, const struct swarm_learn_key *k,
                         const uint8_t *acts, uint32_t nacts, bool healed,
                         const struct swarm_learn_draw *d, const struct swarm_learn_hook *h);

/* The same signature (service, class, cause, signal, feature). */
bool swarm_learn_key_eq(const struct swarm_learn_key *a, const struct swarm_learn_key *b);

const struct swarm_learn_sig *swarm_learn_find(const struct swarm_learn *l,
                                               const struct swarm_learn_key *k);

/* Posterior mean of an arm, Q16.16; its 90 % interval (mean -/+ 1.645 sd, clamped). */
uint32_t swarm_learn_mean(const struct swarm_learn_arm *a);
void swarm_learn_interval(const struct swarm_learn_arm *a, uint32_t *lo, uint32_t *hi);

/* The prior of an arm: Beta(2, 1) for the rules' first action, Beta(1, 1) otherwise. */
void swarm_learn_prior(const struct swarm_learn_sig *s, int action, uint32_t *alpha,
                       uint32_t *beta);

#endif
