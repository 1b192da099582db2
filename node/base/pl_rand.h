/*
 * The random-number interface of the deterministic cores: xoshiro256** seeded by the
 * caller. The daemon seeds it from libsodium's randombytes at start; the simulator seeds
 * it from the run's seed, so a failing seed replays exactly. Not for key material: keys
 * come from libsodium.
 */
#ifndef PL_RAND_H
#define PL_RAND_H

#include <stdint.h>

struct pl_rand {
    uint64_t s[4];
};

/* Seeds the state from one 64-bit seed (expanded with splitmix64). */
void pl_rand_seed(struct pl_rand *r, uint64_t seed);
uint64_t pl_rand_next(struct pl_rand *r);
/* Uniform in [0, n); n must be > 0. Unbiased (rejection sampling). */
uint64_t pl_rand_below(struct pl_rand *r, uint64_t n);
/* Uniform in [0, 1). */
double pl_rand_unit(struct pl_rand *r);
/* In-place Fisher-Yates shuffle of `n` elements of `size` bytes (size <= 64). */
void pl_rand_shuffle(struct pl_rand *r, void *base, uint32_t n, uint32_t size);

#endif
