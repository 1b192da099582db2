/*
 * The swarm's learning (swarm_learn.h): Beta posteriors in Q16.16, forgetting towards the
 * rules' prior, and Thompson sampling with integer-only draws seeded from the entry.
 */
#include "swarm_learn.h"

#include "pl_assert.h"
#include "pl_rand.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static_assert(SWARM_LEARN_ARMS == 16, "the candidate set is a 16-bit mask");

/* heal_policy.h's numbers the learning must not choose (append-only there). */
#define ACT_NONE 0
#define ACT_RETRY 2
#define ACT_RESTART 1
#define ACT_CONFIG_SYNC 6
#define ACT_ESCALATE 7
#define NEVER_CHOSEN ((1u << ACT_NONE) | (1u << ACT_RETRY) | (1u << ACT_ESCALATE))

void swarm_learn_init(struct swarm_learn *l)
{
    memset(l, 0, sizeof(*l));
}

bool swarm_learn_key_eq(const struct swarm_learn_key *a, const struct swarm_learn_key *b)
{
    return a->cls == b->cls && a->cause == b->cause && a->signal == b->signal &&
           a->feature == b->feature && strcmp(a->service, b->service) == 0;
}

const struct swarm_learn_sig *swarm_learn_find(const struct swarm_learn *l,
                                               const struct swarm_learn_key *k)
{
    for (uint32_t i = 0; i < l->nsigs; i++)
        if (swarm_learn_key_eq(&l->sigs[i].key, k))
            return &l->sigs[i];
    return NULL;
}

static void mix(const struct swarm_learn_hook *h, const struct swarm_learn_sig *s,
                const struct swarm_learn_svc *v, int sign)
{
    if (h != NULL && h->mix_cb != NULL)
        h->mix_cb(h->ctx, s, v, sign);
}

void swarm_learn_prior(const struct swarm_learn_sig *s, int action, uint32_t *alpha,
                       uint32_t *beta)
{
    *alpha = (action == s->rules_first ? 2 : 1) * SWARM_Q16_ONE;
    *beta = SWARM_Q16_ONE;
}

/* ---- integer maths ---- */

static uint64_t isqrt64(uint64_t x)
{
    uint64_t r = 0, bit = 1ull << 62;
    while (bit > x)
        bit >>= 2;
    while (bit != 0) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

uint32_t swarm_learn_mean(const struct swarm_learn_arm *a)
{
    uint64_t n = (uint64_t)a->alpha + a->beta;
    return n == 0 ? SWARM_Q16_ONE / 2 : (uint32_t)(((uint64_t)a->alpha << 16) / n);
}

/* Standard deviation of Beta(alpha, beta), Q16.16: sqrt(m (1 - m) / (alpha + beta + 1)). */
static uint32_t sd_q16(const struct swarm_learn_arm *a)
{
    uint64_t m = swarm_learn_mean(a);
    uint64_t n = (uint64_t)a->alpha + a->beta + SWARM_Q16_ONE; /* Q16 */
    uint64_t var_q32 = ((m * (SWARM_Q16_ONE - m)) << 16) / n;
    return (uint32_t)isqrt64(var_q32);
}

static uint32_t clamp_q16(int64_t x)
{
    return x < 0 ? 0 : x > (int64_t)SWARM_Q16_ONE ? SWARM_Q16_ONE : (uint32_t)x;
}

void swarm_learn_interval(const struct swarm_learn_arm *a, uint32_t *lo, uint32_t *hi)
{
    int64_t m = swarm_learn_mean(a);
    int64_t w = ((int64_t)sd_q16(a) * 107807) >> 16; /* 1.645 in Q16.16 */
    *lo = clamp_q16(m - w);
    *hi = clamp_q16(m + w);
}

/* One draw of Beta(alpha, beta) approximated by N(mean, sd): z is the Irwin-Hall sum of 12
 * uniforms on [0, 1) minus 6 (mean 0, variance 1), clamped to [0, 1]. */
static uint32_t draw(struct pl_rand *r, const struct swarm_learn_arm *a)
{
    int64_t z = 0;
    for (int i = 0; i < 12; i++)
        z += (int64_t)(pl_rand_next(r) >> 48);
    z -= 6 * (int64_t)SWARM_Q16_ONE;
    return clamp_q16((int64_t)swarm_learn_mean(a) + ((z * (int64_t)sd_q16(a)) / 65536));
}

/* The seed: FNV-1a over the incident id, mixed with the entry's term and index. */
static uint64_t seed_of(const struct swarm_learn_draw *d)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = d->incident ? d->incident : ""; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    h ^= d->term * 0x9e3779b97f4a7c15ull;
    h ^= d->index * 0xbf58476d1ce4e5b9ull;
    return h;
}

static uint16_t choosable(const struct swarm_learn_sig *s)
{
    return (uint16_t)(s->candidates & ~NEVER_CHOSEN);
}

/* The arm with the best posterior mean; ties go to the rules' choice, then the lowest. */
static uint8_t greedy(const struct swarm_learn_sig *s)
{
    uint16_t c = choosable(s);
    int best = -1;
    uint32_t best_mean = 0;
    for (int i = 0; i < SWARM_LEARN_ARMS; i++) {
        if (!(c & (1u << i)))
            continue;
        uint32_t m = swarm_learn_mean(&s->arms[i]);
        if (best < 0 || m > best_mean || (m == best_mean && i == s->rules_first)) {
            best = i;
            best_mean = m;
        }
    }
    return best < 0 ? 0 : (uint8_t)best;
}

static struct swarm_learn_svc *svc_get(struct swarm_learn *l, const char *service,
                                       const struct swarm_learn_hook *h)
{
    for (uint32_t i = 0; i < l->nsvcs; i++)
        if (strcmp(l->svcs[i].service, service) == 0)
            return &l->svcs[i];
    struct swarm_learn_svc *v;
    if (l->nsvcs < SWARM_LEARN_SERVICES_MAX) {
        v = &l->svcs[l->nsvcs++];
    } else {
        /* Full: the service with the fewest choices makes room (the lowest slot on ties). */
        uint32_t victim = 0;
        for (uint32_t i = 1; i < l->nsvcs; i++)
            if (l->svcs[i].choices < l->svcs[victim].choices)
                victim = i;
        v = &l->svcs[victim];
        mix(h, NULL, v, -1);
    }
    memset(v, 0, sizeof(*v));
    snprintf(v->service, sizeof(v->service), "%s", service);
    mix(h, NULL, v, +1);
    return v;
}

static int popcount32(uint32_t x)
{
    int n = 0;
    for (; x != 0; x &= x - 1)
        n++;
    return n;
}

/* Whether arm `a` carries evidence against it: its beta, forgetting included, is at least
 * half a failure above its prior (a failure among its signature's last ~34 lessons). */
static bool doubted(const struct swarm_learn_sig *s, int a)
{
    uint32_t pa, pb;
    swarm_learn_prior(s, a, &pa, &pb);
    return s->arms[a].beta >= pb + SWARM_LEARN_DOUBT_Q16;
}

/* Thompson sampling: one draw per choosable arm in action order, the highest wins (ties to
 * the lower action); an exploration past the service's budget takes the greedy arm. The
 * caller has taken the signature out of the hash. */
static void choose(struct swarm_learn *l, struct swarm_learn_sig *s,
                   const struct swarm_learn_draw *d, const struct swarm_learn_hook *h)
{
    struct pl_rand r;
    pl_rand_seed(&r, seed_of(d));
    uint16_t c = choosable(s);
    int best = -1;
    uint32_t best_draw = 0;
    for (int i = 0; i < SWARM_LEARN_ARMS; i++) {
        s->arms[i].drawn = 0;
        if (!(c & (1u << i)))
            continue;
        s->arms[i].drawn = draw(&r, &s->arms[i]);
        if (best < 0 || s->arms[i].drawn > best_draw) {
            best = i;
            best_draw = s->arms[i].drawn;
        }
    }
    s->choice_index = d->index;
    s->choice_term = d->term;
    if (best < 0) {
        s->choice = 0;
        s->explored = false;
        return;
    }
    uint8_t g = greedy(s);
    bool explore = (uint8_t)best != g;
    struct swarm_learn_svc *v = svc_get(l, s->key.service, h);
    mix(h, NULL, v, -1);
    /* No gamble while the best arm heals nearly always, nor past the service's budget, nor
     * while it has not failed lately (at first the rules' first action: with no evidence
     * against it a gamble can only heal slower than rules-only; later the cure found). */
    if (explore && (swarm_learn_mean(&s->arms[g]) >= SWARM_LEARN_SATISFIED_Q16 ||
                    popcount32(v->history) >= SWARM_LEARN_EXPLORE_MAX ||
                    !doubted(s, g))) {
        best = g;
        explore = false;
    }
    v->history = (v->history << 1) | (explore ? 1u : 0u);
    if (v->choices < UINT32_MAX)
        v->choices++;
    mix(h, NULL, v, +1);
    s->choice = (uint8_t)best;
    s->explored = explore;
    PL_ALWAYS((c & (1u << s->choice)) != 0);
}

static void prior_reset(struct swarm_learn_sig *s, int i)
{
    swarm_learn_prior(s, i, &s->arms[i].alpha, &s->arms[i].beta);
}

void swarm_learn_note(struct swarm_learn *l, const struct swarm_learn_key *k, uint16_t candidates,
                      uint8_t rules_first, const struct swarm_learn_draw *d,
                      const struct swarm_learn_hook *h)
{
    if (rules_first >= SWARM_LEARN_ARMS)
        rules_first = 0;
    struct swarm_learn_sig *s = (struct swarm_learn_sig *)swarm_learn_find(l, k);
    if (s != NULL) {
        if (s->candidates == candidates && s->rules_first == rules_first)
            return;
        /* The node's policy changed: new arms start at their prior, the choice is drawn
         * again within what may now be taken. */
        mix(h, s, NULL, -1);
        uint8_t old_first = s->rules_first;
        s->rules_first = rules_first;
        for (int i = 0; i < SWARM_LEARN_ARMS; i++)
            if (((candidates & ~s->candidates) & (1u << i)) || i == old_first ||
                i == rules_first) {
                if (s->arms[i].successes == 0 && s->arms[i].failures == 0)
                    prior_reset(s, i);
            }
        s->candidates = candidates;
        s->updated_index = d->index;
        choose(l, s, d, h);
        mix(h, s, NULL, +1);
        return;
    }
    if (l->nsigs < SWARM_LEARN_SIGS_MAX) {
        s = &l->sigs[l->nsigs++];
    } else {
        uint32_t victim = 0;
        for (uint32_t i = 1; i < l->nsigs; i++)
            if (l->sigs[i].updated_index < l->sigs[victim].updated_index)
                victim = i;
        s = &l->sigs[victim];
        mix(h, s, NULL, -1);
        mix(h, NULL, NULL, -1);
        l->evicted++;
        mix(h, NULL, NULL, +1);
    }
    memset(s, 0, sizeof(*s));
    s->key = *k;
    s->key.service[sizeof(s->key.service) - 1] = '\0';
    s->candidates = candidates;
    s->rules_first = rules_first;
    for (int i = 0; i < SWARM_LEARN_ARMS; i++)
        prior_reset(s, i);
    s->updated_index = d->index;
    choose(l, s, d, h);
    mix(h, s, NULL, +1);
}

/* alpha' = prior + (alpha - prior) * forget: the evidence fades, the prior stays. */
static uint32_t forget(uint32_t x, uint32_t prior)
{
    if (x <= prior)
        return prior;
    return prior + (uint32_t)(((uint64_t)(x - prior) * SWARM_LEARN_FORGET_Q16) >> 16);
}

void swarm_learn_outcome(struct swarm_learn *l, const struct swarm_learn_key *k,
                         const uint8_t *acts, uint32_t nacts, bool healed,
                         const struct swarm_learn_draw *d, const struct swarm_learn_hook *h)
{
    struct swarm_learn_sig *s = (struct swarm_learn_sig *)swarm_learn_find(l, k);
    if (s == NULL || nacts == 0)
        return;
    mix(h, s, NULL, -1);
    for (int i = 0; i < SWARM_LEARN_ARMS; i++) {
        uint32_t pa, pb;
        swarm_learn_prior(s, i, &pa, &pb);
        s->arms[i].alpha = forget(s->arms[i].alpha, pa);
        s->arms[i].beta = forget(s->arms[i].beta, pb);
    }
    uint8_t last = acts[nacts - 1];
    /* A restored config file takes effect with the restart that follows it (heal_machine):
     * a heal by that restart is config_sync's success too. */
    bool sync_then_restart = nacts >= 2 && last == ACT_RESTART && acts[nacts - 2] == ACT_CONFIG_SYNC;
    /* Each try is a lesson: a restart that healed at the third try failed twice first. */
    for (uint32_t j = 0; j < nacts; j++) {
        uint8_t a = acts[j];
        if (a >= SWARM_LEARN_ARMS || (NEVER_CHOSEN & (1u << a)))
            continue;
        struct swarm_learn_arm *arm = &s->arms[a];
        bool won = healed && (j == nacts - 1 || (j == nacts - 2 && sync_then_restart));
        if (won) {
            arm->alpha += SWARM_Q16_ONE;
            arm->successes += arm->successes < UINT32_MAX;
        } else {
            arm->beta += SWARM_Q16_ONE;
            arm->failures += arm->failures < UINT32_MAX;
        }
        /* Forgetting bounds alpha near 2 + 1 / (1 - forget) and beta near 1 + 16 / (1 - forget)
         * (one success, at most SWARM_LEARN_ACTS_MAX failures per outcome): far below 1000. */
        PL_ALWAYS(arm->alpha < 1000u * SWARM_Q16_ONE && arm->beta < 1000u * SWARM_Q16_ONE);
    }
    if (s->outcomes < UINT32_MAX)
        s->outcomes++;
    s->updated_index = d->index;
    choose(l, s, d, h);
    mix(h, s, NULL, +1);
}
