/*
 * Detectors and prediction: the pure arithmetic that turns check results and metric samples
 * into verdicts. Nothing here reads a clock or does I/O; every sample carries the caller's
 * `now_ms` (monotonic). Part of `heal_core`.
 *
 * - heal_rate_detector: error rate from cumulative counters (total and errors) over a
 *   sliding window; a counter going down (the process restarted) restarts the window.
 * - heal_latency_detector: p95 against an EWMA baseline, or an absolute bound; the baseline
 *   does not learn from samples it judges anomalous, so a slow fault cannot become "normal".
 * - heal_sustain: "above the threshold for the whole window" (CPU > 90 % for 120 s).
 * - heal_trend: least-squares line through recent (time, value) samples, giving the time
 *   until the value reaches a limit (memory or disk exhaustion).
 */
#ifndef PL_HEAL_DETECT_H
#define PL_HEAL_DETECT_H

#include <stdbool.h>
#include <stdint.h>

/* ---- error rate ---- */

#define HEAL_WINDOW_MAX 256

struct heal_counter_sample {
    uint64_t t_ms;
    double total;
    double errors;
};

struct heal_rate_detector {
    struct heal_counter_sample ring[HEAL_WINDOW_MAX];
    uint32_t head, count;
    uint64_t window_ms;
    double threshold;     /* fraction */
    double min_requests;  /* fewer requests in the window: no verdict */
};

/* What a detector saw when it fired, for the incident's evidence. */
struct heal_rate_verdict {
    double rate;     /* errors / total over the window */
    double requests; /* total in the window */
    double errors;
    uint64_t span_ms; /* time actually covered by the samples */
};

void heal_rate_init(struct heal_rate_detector *d, uint64_t window_ms, double threshold,
                    double min_requests);
/* Adds cumulative counters at t_ms (t must not go backwards). Returns 1 with *v filled when
 * the rate over the window exceeds the threshold, 0 otherwise (v untouched). */
int heal_rate_feed(struct heal_rate_detector *d, uint64_t t_ms, double total, double errors,
                   struct heal_rate_verdict *v);
/* Forgets the history (after a restart, so the old errors do not count twice). */
void heal_rate_reset(struct heal_rate_detector *d);

/* ---- latency ---- */

struct heal_latency_detector {
    double alpha;        /* EWMA weight of a new sample */
    double factor;       /* fire when p95 > factor x baseline */
    double absolute_ms;  /* > 0: fire when p95 > absolute_ms instead */
    uint32_t warmup;     /* samples before the baseline is trusted */
    uint64_t sustain_ms; /* must stay anomalous this long */
    double baseline_ms;
    uint32_t samples;
    uint64_t anomalous_since_ms; /* 0 when not anomalous */
    bool anomalous;
};

struct heal_latency_verdict {
    double p95_ms;
    double baseline_ms;
    double bound_ms;
    uint64_t for_ms;
};

void heal_latency_init(struct heal_latency_detector *d, double alpha, double factor,
                       double absolute_ms, uint32_t warmup, uint64_t sustain_ms);
/* Feeds one p95 sample (NaN = no observations: ignored). Returns 1 with *v when the p95 has
 * been above its bound for sustain_ms, else 0. */
int heal_latency_feed(struct heal_latency_detector *d, uint64_t t_ms, double p95_ms,
                      struct heal_latency_verdict *v);

/* ---- sustained threshold (CPU, memory) ---- */

struct heal_sustain {
    double threshold;
    uint64_t window_ms;
    uint64_t above_since_ms;
    bool above;
    double peak;
};

void heal_sustain_init(struct heal_sustain *s, double threshold, uint64_t window_ms);
/* Returns 1 (with *for_ms the time above) once the value has stayed above the threshold for
 * the window; 0 otherwise. A value at or below the threshold resets it. */
int heal_sustain_feed(struct heal_sustain *s, uint64_t t_ms, double value, uint64_t *for_ms);

/* ---- trend and time to exhaustion ---- */

struct heal_trend {
    uint64_t t_ms[HEAL_WINDOW_MAX];
    double v[HEAL_WINDOW_MAX];
    uint32_t head, count;
    uint64_t window_ms;
    uint32_t min_samples;
    double min_r2;
};

struct heal_trend_verdict {
    double slope_per_s;  /* units per second */
    double r2;           /* goodness of fit, 0..1 */
    double current;      /* the fitted value now */
    double limit;
    uint64_t eta_ms;     /* time until the fit reaches the limit; UINT64_MAX if never */
    uint32_t samples;
};

void heal_trend_init(struct heal_trend *t, uint64_t window_ms, uint32_t min_samples,
                     double min_r2);
void heal_trend_add(struct heal_trend *t, uint64_t t_ms, double value);
void heal_trend_reset(struct heal_trend *t);
/*
 * Fits value = a + b*t by ordinary least squares over the samples in the window, and again
 * over its recent half, and projects when it reaches `limit` (the earlier of the two fits
 * that pass the r2 gate: a trend that just began is not diluted by the flat past). Returns 0 with *v filled when there are enough samples
 * and the fit is good (r2 >= min_r2) and rising; PL_ESTATE otherwise (v still filled with
 * what was computed, eta UINT64_MAX).
 */
int heal_trend_eta(const struct heal_trend *t, uint64_t now_ms, double limit,
                   struct heal_trend_verdict *v);

#endif
