/*
 * The system and manual clocks of pl_clock.h and the xoshiro256** generator of
 * pl_rand.h (Blackman and Vigna, "Scrambled linear pseudorandom number generators").
 */
#include "pl_assert.h"
#include "pl_clock.h"
#include "pl_rand.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

static uint64_t timespec_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t system_now(struct pl_clock *c)
{
    PL_UNUSED(c);
    return timespec_ms(CLOCK_MONOTONIC);
}

static uint64_t system_wall(struct pl_clock *c)
{
    PL_UNUSED(c);
    return timespec_ms(CLOCK_REALTIME);
}

/* The fault API's clock jump; the monotonic clock takes its high-water mark. */
static _Atomic int64_t clock_offset_ms;
static _Atomic int64_t clock_mono_jump_ms;

void pl_clock_offset_set(int64_t offset_ms)
{
    atomic_store_explicit(&clock_offset_ms, offset_ms, memory_order_relaxed);
    int64_t jump = atomic_load_explicit(&clock_mono_jump_ms, memory_order_relaxed);
    while (offset_ms > jump &&
           !atomic_compare_exchange_weak_explicit(&clock_mono_jump_ms, &jump, offset_ms,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

int64_t pl_clock_offset_get(void)
{
    return atomic_load_explicit(&clock_offset_ms, memory_order_relaxed);
}

uint64_t pl_clock_wall_ms(void)
{
    int64_t off = pl_clock_offset_get();
    uint64_t real = timespec_ms(CLOCK_REALTIME);
    if (off < 0)
        return (uint64_t)-off > real ? 0 : real - (uint64_t)-off;
    return real + (uint64_t)off;
}

uint64_t pl_clock_mono_ms(void)
{
    return timespec_ms(CLOCK_MONOTONIC) +
           (uint64_t)atomic_load_explicit(&clock_mono_jump_ms, memory_order_relaxed);
}

uint64_t pl_clock_boot_ms(void) { return timespec_ms(CLOCK_BOOTTIME); }

struct pl_clock *pl_clock_system(void)
{
    static struct pl_clock sys = {system_now, system_wall, NULL};
    return &sys;
}

static uint64_t manual_now(struct pl_clock *c) { return ((struct pl_clock_manual *)c->ctx)->now_ms; }

static uint64_t manual_wall(struct pl_clock *c)
{
    struct pl_clock_manual *m = c->ctx;
    return m->now_ms + m->wall_offset_ms;
}

void pl_clock_manual_init(struct pl_clock_manual *m, uint64_t start_ms, uint64_t wall_offset_ms)
{
    m->clock.now_ms = manual_now;
    m->clock.wall_ms = manual_wall;
    m->clock.ctx = m;
    m->now_ms = start_ms;
    m->wall_offset_ms = wall_offset_ms;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void pl_rand_seed(struct pl_rand *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t pl_rand_next(struct pl_rand *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t pl_rand_below(struct pl_rand *r, uint64_t n)
{
    PL_ASSERT(n > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = pl_rand_next(r);
    while (x >= limit);
    return x % n;
}

double pl_rand_unit(struct pl_rand *r) { return (double)(pl_rand_next(r) >> 11) * 0x1.0p-53; }

void pl_rand_shuffle(struct pl_rand *r, void *base, uint32_t n, uint32_t size)
{
    PL_ASSERT(size <= 64);
    unsigned char tmp[64];
    unsigned char *a = base;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)pl_rand_below(r, i);
        if (j == i - 1)
            continue;
        memcpy(tmp, a + (size_t)(i - 1) * size, size);
        memcpy(a + (size_t)(i - 1) * size, a + (size_t)j * size, size);
        memcpy(a + (size_t)j * size, tmp, size);
    }
}
