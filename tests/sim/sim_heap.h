/*
 * The simulators' queue of timed events: a binary min-heap over an array of events of one
 * type whose first members are `uint64_t at, seq;`. Ordered by (at, seq), and every push
 * takes the next seq, so events due at the same time run in the order they were pushed and
 * a seed replays exactly (any heap over that total order pops the same sequence).
 *
 *     struct event { uint64_t at, seq; ... };
 *     struct sim { struct event *heap; size_t n_heap, cap_heap; uint64_t ev_seq; ... };
 *     SIM_HEAP_DEFINE(struct sim, struct event, ev_push, ev_pop)
 *
 * defines `static void ev_push(struct sim *, struct event)` and
 * `static struct event ev_pop(struct sim *)` (the heap must not be empty).
 */
#ifndef PL_SIM_HEAP_H
#define PL_SIM_HEAP_H

#include "pl_assert.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SIM_HEAP_EVENT_MAX 256 /* bytes of one event */

static inline bool sim_heap_before(const void *a, const void *b)
{
    uint64_t at_a, seq_a, at_b, seq_b;
    memcpy(&at_a, a, 8);
    memcpy(&seq_a, (const uint8_t *)a + 8, 8);
    memcpy(&at_b, b, 8);
    memcpy(&seq_b, (const uint8_t *)b + 8, 8);
    return at_a < at_b || (at_a == at_b && seq_a < seq_b);
}

/* Pushes *e, first giving it seq = (*next_seq)++; grows the array (aborts out of memory). */
static inline void sim_heap_push(void **base, size_t *n, size_t *cap, size_t size, void *e,
                                 uint64_t *next_seq)
{
    PL_ASSERT(size >= 16 && size <= SIM_HEAP_EVENT_MAX);
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        *base = realloc(*base, *cap * size);
        PL_ASSERT(*base != NULL);
    }
    uint64_t seq = (*next_seq)++;
    memcpy((uint8_t *)e + 8, &seq, 8);
    uint8_t *h = *base;
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!sim_heap_before(e, h + p * size))
            break;
        memcpy(h + i * size, h + p * size, size);
        i = p;
    }
    memcpy(h + i * size, e, size);
}

/* Pops the earliest event into *out; the heap must not be empty. */
static inline void sim_heap_pop(void *base, size_t *n, size_t size, void *out)
{
    PL_ASSERT(*n > 0 && size <= SIM_HEAP_EVENT_MAX);
    uint8_t *h = base, last[SIM_HEAP_EVENT_MAX];
    memcpy(out, h, size);
    memcpy(last, h + --*n * size, size);
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const void *best = last;
        if (l < *n && sim_heap_before(h + l * size, best)) {
            m = l;
            best = h + l * size;
        }
        if (r < *n && sim_heap_before(h + r * size, best))
            m = r;
        if (m == i)
            break;
        memcpy(h + i * size, h + m * size, size);
        i = m;
    }
    if (*n > 0)
        memcpy(h + i * size, last, size);
}

#define SIM_HEAP_DEFINE(sim_type, event_type, push_name, pop_name)                            \
    static_assert(offsetof(event_type, seq) == sizeof(uint64_t), "sim_heap's event layout");  \
    static void push_name(sim_type *s, event_type e)                                          \
    {                                                                                         \
        sim_heap_push((void **)&s->heap, &s->n_heap, &s->cap_heap, sizeof(e), &e, &s->ev_seq); \
    }                                                                                         \
    static event_type pop_name(sim_type *s)                                                   \
    {                                                                                         \
        event_type e;                                                                         \
        sim_heap_pop(s->heap, &s->n_heap, sizeof(e), &e);                                     \
        return e;                                                                             \
    }

#endif
