/*
 * The clock interface the deterministic cores are driven by.
 *
 * Cores never read a clock: they are handed `now_ms` in every tick or step. Shells and
 * the simulator own a struct pl_clock and pass its readings in. The daemon's clock is
 * pl_clock_monotonic() (for timeouts) plus the wall clock for timestamps that are stored
 * or shown; the simulator installs its own virtual clock with any drift it wants.
 */
#ifndef PL_CLOCK_H
#define PL_CLOCK_H

#include <stdint.h>

struct pl_clock {
    /* Milliseconds on a clock that never goes backwards. */
    uint64_t (*now_ms)(struct pl_clock *clock);
    /* Milliseconds since the Unix epoch, for timestamps that leave the process. */
    uint64_t (*wall_ms)(struct pl_clock *clock);
    void *ctx; /* the owner's */
};

/* The process's real clocks (CLOCK_MONOTONIC and CLOCK_REALTIME). */
struct pl_clock *pl_clock_system(void);

/* A manual clock for tests and the simulator: readings are whatever was last set. */
struct pl_clock_manual {
    struct pl_clock clock;
    uint64_t now_ms;
    uint64_t wall_offset_ms; /* wall = now + offset */
};
void pl_clock_manual_init(struct pl_clock_manual *m, uint64_t start_ms, uint64_t wall_offset_ms);

/*
 * The shells' own clock readings, with the fault API's clock jump (`platelet fault clock`).
 * pl_clock_wall_ms() is CLOCK_REALTIME plus the offset, forwards or back, as an NTP step or
 * an operator's `date` would move it: only timestamps that are stored or shown may read it.
 * pl_clock_mono_ms() is CLOCK_MONOTONIC plus the largest offset ever set (never negative):
 * like the kernel's, it never goes back, while a forward jump stands for a paused VM or a
 * stopped process. Every duration and timeout reads the monotonic one. Safe from any thread.
 */
uint64_t pl_clock_wall_ms(void);
uint64_t pl_clock_mono_ms(void);
/* CLOCK_BOOTTIME, with no offset: it counts a suspended machine too, and every process on
 * the host reads the same one, so a deadline on it may be handed to another process (the
 * placement lease keeper of `platelet _exec`). */
uint64_t pl_clock_boot_ms(void);
/* Sets the offset (0 undoes it for the wall clock; the monotonic one keeps its jump). */
void pl_clock_offset_set(int64_t offset_ms);
int64_t pl_clock_offset_get(void);

#endif
