/*
 * The detectors and the least-squares trend of heal_detect.h.
 */
#include "heal_detect.h"

#include "pl_assert.h"
#include "pl_err.h"

#include <math.h>
#include <string.h>

/* ---- error rate ---- */

void heal_rate_init(struct heal_rate_detector *d, uint64_t window_ms, double threshold,
                    double min_requests)
{
    memset(d, 0, sizeof(*d));
    d->window_ms = window_ms;
    d->threshold = threshold;
    d->min_requests = min_requests;
}

void heal_rate_reset(struct heal_rate_detector *d)
{
    d->head = 0;
    d->count = 0;
}

static struct heal_counter_sample *rate_at(struct heal_rate_detector *d, uint32_t i)
{
    /* i = 0 is the oldest sample kept. */
    return &d->ring[(d->head + HEAL_WINDOW_MAX - d->count + i) % HEAL_WINDOW_MAX];
}

int heal_rate_feed(struct heal_rate_detector *d, uint64_t t_ms, double total, double errors,
                   struct heal_rate_verdict *v)
{
    if (!isfinite(total) || !isfinite(errors) || total < 0 || errors < 0)
        return 0;
    if (d->count > 0) {
        struct heal_counter_sample *last = rate_at(d, d->count - 1);
        /* A counter that goes down means the process restarted: start over. */
        if (total < last->total || errors < last->errors || t_ms < last->t_ms)
            heal_rate_reset(d);
    }
    d->ring[d->head] = (struct heal_counter_sample){t_ms, total, errors};
    d->head = (d->head + 1) % HEAL_WINDOW_MAX;
    if (d->count < HEAL_WINDOW_MAX)
        d->count++;
    /* Drop samples older than the window, keeping one at or before its start as the base. */
    while (d->count >= 2 && t_ms - rate_at(d, 1)->t_ms >= d->window_ms)
        d->count--;
    if (d->count < 2)
        return 0;
    const struct heal_counter_sample *base = rate_at(d, 0);
    double req = total - base->total;
    double err = errors - base->errors;
    PL_ASSERT(req >= 0 && err >= 0);
    if (req < d->min_requests || req <= 0)
        return 0;
    double rate = err / req;
    if (rate <= d->threshold)
        return 0;
    v->rate = rate > 1 ? 1 : rate;
    v->requests = req;
    v->errors = err;
    v->span_ms = t_ms - base->t_ms;
    return 1;
}

/* ---- latency ---- */

void heal_latency_init(struct heal_latency_detector *d, double alpha, double factor,
                       double absolute_ms, uint32_t warmup, uint64_t sustain_ms)
{
    PL_ASSERT(alpha > 0 && alpha <= 1);
    memset(d, 0, sizeof(*d));
    d->alpha = alpha;
    d->factor = factor;
    d->absolute_ms = absolute_ms;
    d->warmup = warmup;
    d->sustain_ms = sustain_ms;
}

int heal_latency_feed(struct heal_latency_detector *d, uint64_t t_ms, double p95_ms,
                      struct heal_latency_verdict *v)
{
    if (!isfinite(p95_ms) || p95_ms < 0)
        return 0;
    double bound;
    bool trusted;
    if (d->absolute_ms > 0) {
        bound = d->absolute_ms;
        trusted = true;
    } else {
        bound = d->factor * d->baseline_ms;
        trusted = d->samples >= d->warmup;
    }
    bool over = trusted && p95_ms > bound;
    if (!over) {
        /* Only normal samples teach the baseline. */
        d->baseline_ms =
            d->samples == 0 ? p95_ms : d->alpha * p95_ms + (1 - d->alpha) * d->baseline_ms;
        if (d->samples < UINT32_MAX)
            d->samples++;
        d->anomalous = false;
        d->anomalous_since_ms = 0;
        return 0;
    }
    if (!d->anomalous) {
        d->anomalous = true;
        d->anomalous_since_ms = t_ms;
    }
    uint64_t for_ms = t_ms - d->anomalous_since_ms;
    if (for_ms < d->sustain_ms)
        return 0;
    v->p95_ms = p95_ms;
    v->baseline_ms = d->baseline_ms;
    v->bound_ms = bound;
    v->for_ms = for_ms;
    return 1;
}

/* ---- sustained threshold ---- */

void heal_sustain_init(struct heal_sustain *s, double threshold, uint64_t window_ms)
{
    memset(s, 0, sizeof(*s));
    s->threshold = threshold;
    s->window_ms = window_ms;
}

int heal_sustain_feed(struct heal_sustain *s, uint64_t t_ms, double value, uint64_t *for_ms)
{
    if (!isfinite(value) || value <= s->threshold) {
        s->above = false;
        s->peak = 0;
        return 0;
    }
    if (!s->above) {
        s->above = true;
        s->above_since_ms = t_ms;
        s->peak = value;
    }
    if (value > s->peak)
        s->peak = value;
    uint64_t d = t_ms >= s->above_since_ms ? t_ms - s->above_since_ms : 0;
    if (d < s->window_ms)
        return 0;
    *for_ms = d;
    return 1;
}

/* ---- trend ---- */

void heal_trend_init(struct heal_trend *t, uint64_t window_ms, uint32_t min_samples,
                     double min_r2)
{
    PL_ASSERT(min_samples >= 2);
    memset(t, 0, sizeof(*t));
    t->window_ms = window_ms;
    t->min_samples = min_samples;
    t->min_r2 = min_r2;
}

void heal_trend_reset(struct heal_trend *t)
{
    t->head = 0;
    t->count = 0;
}

void heal_trend_add(struct heal_trend *t, uint64_t t_ms, double value)
{
    if (!isfinite(value))
        return;
    if (t->count > 0) {
        uint32_t last = (t->head + HEAL_WINDOW_MAX - 1) % HEAL_WINDOW_MAX;
        if (t_ms < t->t_ms[last])
            heal_trend_reset(t);
    }
    t->t_ms[t->head] = t_ms;
    t->v[t->head] = value;
    t->head = (t->head + 1) % HEAL_WINDOW_MAX;
    if (t->count < HEAL_WINDOW_MAX)
        t->count++;
}

/* One least-squares fit over the samples no older than max_age_ms. */
static int fit(const struct heal_trend *t, uint64_t now_ms, uint64_t max_age_ms, double limit,
               struct heal_trend_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->limit = limit;
    v->eta_ms = UINT64_MAX;
    /* Ordinary least squares on (seconds relative to now, value); centring on the means
     * keeps the sums small enough that doubles lose nothing. */
    double sx = 0, sy = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->count; i++) {
        uint32_t k = (t->head + HEAL_WINDOW_MAX - 1 - i) % HEAL_WINDOW_MAX;
        if (now_ms >= t->t_ms[k] && now_ms - t->t_ms[k] > max_age_ms)
            break;
        sx += -((double)now_ms - (double)t->t_ms[k]) / 1000.0;
        sy += t->v[k];
        n++;
    }
    v->samples = n;
    if (n < t->min_samples)
        return PL_ESTATE;
    double mx = sx / n, my = sy / n;
    double sxx = 0, sxy = 0, syy = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = (t->head + HEAL_WINDOW_MAX - 1 - i) % HEAL_WINDOW_MAX;
        double x = -((double)now_ms - (double)t->t_ms[k]) / 1000.0 - mx;
        double y = t->v[k] - my;
        sxx += x * x;
        sxy += x * y;
        syy += y * y;
    }
    if (sxx <= 0)
        return PL_ESTATE;
    double b = sxy / sxx;
    double a = my - b * mx; /* value at x = 0, i.e. now */
    v->slope_per_s = b;
    v->current = a;
    v->r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 0;
    PL_ASSERT(v->r2 >= -1e-9 && v->r2 <= 1 + 1e-9);
    if (b <= 0 || v->r2 < t->min_r2)
        return PL_ESTATE;
    double secs = (limit - a) / b;
    v->eta_ms = secs <= 0 ? 0 : (secs * 1000.0 >= 1.8e19 ? UINT64_MAX : (uint64_t)(secs * 1000.0));
    return 0;
}

int heal_trend_eta(const struct heal_trend *t, uint64_t now_ms, double limit,
                   struct heal_trend_verdict *v)
{
    /* The whole window, and its recent half: a leak that just started is diluted by the
     * flat samples before it, so the recent fit sees its real slope first. The earlier of the
     * two believable exhaustion times wins: acting early is the safe mistake. */
    struct heal_trend_verdict whole, recent;
    int rc_whole = fit(t, now_ms, t->window_ms, limit, &whole);
    int rc_recent = fit(t, now_ms, t->window_ms / 2, limit, &recent);
    if (rc_recent == 0 && (rc_whole != 0 || recent.eta_ms < whole.eta_ms)) {
        *v = recent;
        return 0;
    }
    *v = whole;
    return rc_whole;
}
