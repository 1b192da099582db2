/*
 * The restart budget, crash-loop back-off and full-jitter retry of heal_budget.h.
 */
#include "heal_budget.h"

#include "pl_assert.h"

#include <string.h>

void heal_budget_init(struct heal_budget *b)
{
    memset(b, 0, sizeof(*b));
}

static void forget_old(struct heal_budget *b, const struct heal_policy *p, uint64_t now_ms)
{
    uint32_t keep = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        if (now_ms - b->restarts[i] < p->restart_window_ms)
            b->restarts[keep++] = b->restarts[i];
    }
    b->count = keep;
}

uint32_t heal_budget_in_window(const struct heal_budget *b, const struct heal_policy *p,
                               uint64_t now_ms)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->count; i++)
        n += now_ms - b->restarts[i] < p->restart_window_ms;
    return n;
}

static void maybe_forgive(struct heal_budget *b, const struct heal_policy *p, uint64_t now_ms)
{
    if (b->healthy && now_ms - b->healthy_since_ms >= p->backoff_reset_ms) {
        b->count = 0;
        b->backoff_step = 0;
        b->escalated = false;
    }
}

void heal_budget_health(struct heal_budget *b, bool healthy, uint64_t now_ms)
{
    if (healthy && !b->healthy)
        b->healthy_since_ms = now_ms;
    b->healthy = healthy;
}

void heal_budget_next(struct heal_budget *b, const struct heal_policy *p, uint64_t now_ms,
                      struct heal_budget_decision *out)
{
    memset(out, 0, sizeof(*out));
    maybe_forgive(b, p, now_ms);
    forget_old(b, p, now_ms);
    out->restarts_in_window = b->count;
    if (b->count < p->restart_budget && b->backoff_step == 0)
        return;
    /* Once in a loop, stay in back-off until the service has run clean for the reset time,
     * even when old restarts leave the window: that is what stops a slow flap. */
    out->in_backoff = true;
    uint64_t delay = p->backoff_initial_ms;
    for (uint32_t i = 0; i < b->backoff_step && delay < p->backoff_max_ms; i++)
        delay *= 2;
    if (delay >= p->backoff_max_ms) {
        delay = p->backoff_max_ms;
        if (!b->escalated) {
            out->escalate = true;
            b->escalated = true;
        }
    }
    out->delay_ms = delay;
    if (b->backoff_step < UINT32_MAX)
        b->backoff_step++;
    PL_ASSERT(out->delay_ms <= p->backoff_max_ms);
}

void heal_budget_record(struct heal_budget *b, const struct heal_policy *p, uint64_t now_ms)
{
    forget_old(b, p, now_ms);
    if (b->count == HEAL_BUDGET_MAX) {
        memmove(&b->restarts[0], &b->restarts[1], (HEAL_BUDGET_MAX - 1) * sizeof(uint64_t));
        b->count--;
    }
    b->restarts[b->count++] = now_ms;
    b->healthy = false;
}

uint64_t heal_retry_delay_ms(uint32_t attempt, uint64_t base_ms, uint64_t cap_ms,
                             struct pl_rand *r)
{
    PL_ASSERT(base_ms > 0 && cap_ms >= base_ms);
    uint64_t ceiling = base_ms;
    for (uint32_t i = 0; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    return pl_rand_below(r, ceiling + 1);
}
