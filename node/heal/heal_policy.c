/*
 * Defaults and range checks of the per-service healing policy (heal_policy.h).
 */
#include "heal_policy.h"

#include "pl_assert.h"
#include "pl_err.h"

#include <stdio.h>
#include <string.h>

static const char *const action_names[HEAL_ACT_COUNT] = {
    [HEAL_ACT_NONE] = "none",
    [HEAL_ACT_RESTART] = "restart",
    [HEAL_ACT_RETRY] = "retry",
    [HEAL_ACT_ISOLATE] = "isolate",
    [HEAL_ACT_SCALE] = "scale",
    [HEAL_ACT_STATE_REPAIR] = "state_repair",
    [HEAL_ACT_CONFIG_SYNC] = "config_sync",
    [HEAL_ACT_ESCALATE] = "escalate",
    [HEAL_ACT_WAIT] = "wait",
    [HEAL_ACT_CLEANUP] = "cleanup",
};

const char *heal_action_name(enum heal_action a)
{
    if ((unsigned)a >= HEAL_ACT_COUNT)
        return "none";
    return action_names[a];
}

int heal_action_parse(const char *name, enum heal_action *out)
{
    for (int i = 1; i < HEAL_ACT_COUNT; i++) {
        if (strcmp(name, action_names[i]) == 0) {
            *out = (enum heal_action)i;
            return 0;
        }
    }
    return PL_ENOTFOUND;
}

void heal_policy_init(struct heal_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->cpu = 0.90;
    p->memory = 0.95;
    p->latency_ms = 0;
    p->latency_factor = 2.0;
    p->error_rate = 0.05;
    p->error_window_ms = 60 * 1000;
    p->resource_window_ms = 120 * 1000;
    p->latency_window_ms = 30 * 1000;
    p->error_min_requests = 20;
    p->ewma_alpha = 0.2;
    p->latency_warmup = 5;
    p->horizon_ms = 10 * 60 * 1000;
    p->trend_window_ms = 2 * 60 * 1000;
    p->trend_min_samples = 6;
    p->trend_min_r2 = 0.8;
    p->memory_limit_bytes = 0;
    p->allowed_actions = HEAL_ACTS_DEFAULT;
    p->requires_approval = 0;
    p->approval_timeout_ms = 5 * 60 * 1000;
    p->restart_budget = 3;
    p->restart_window_ms = 5 * 60 * 1000;
    p->backoff_initial_ms = 10 * 1000;
    p->backoff_max_ms = 5 * 60 * 1000;
    p->backoff_reset_ms = 10 * 60 * 1000;
    p->retry_max = 3;
    p->retry_base_ms = 500;
    p->retry_cap_ms = 30 * 1000;
    p->cluster_wait_ms = 5 * 60 * 1000;
    p->learning = true;
}

static int bad(const char **field, const char *name, char *why, size_t why_size, const char *what)
{
    *field = name;
    snprintf(why, why_size, "%s", what);
    return PL_ERANGE;
}

int heal_policy_check(const struct heal_policy *p, const char **field, char *why,
                      size_t why_size)
{
    if (!(p->cpu > 0 && p->cpu <= 1))
        return bad(field, "cpu", why, why_size, "a fraction above 0 and at most 1");
    if (!(p->memory > 0 && p->memory <= 1))
        return bad(field, "memory", why, why_size, "a fraction above 0 and at most 1");
    if (!(p->error_rate > 0 && p->error_rate <= 1))
        return bad(field, "error_rate", why, why_size, "a fraction above 0 and at most 1");
    if (!(p->latency_ms >= 0 && p->latency_ms <= 3600e3))
        return bad(field, "latency_ms", why, why_size, "0 (off) to 3600000 ms");
    if (!(p->latency_factor > 1 && p->latency_factor <= 100))
        return bad(field, "latency_factor", why, why_size, "a factor above 1 and at most 100");
    if (p->error_window_ms < 1000 || p->error_window_ms > 3600e3)
        return bad(field, "error_window_ms", why, why_size, "1000 to 3600000 ms");
    if (p->resource_window_ms > 3600e3)
        return bad(field, "resource_window_ms", why, why_size, "0 to 3600000 ms");
    if (p->latency_window_ms > 3600e3)
        return bad(field, "latency_window_ms", why, why_size, "0 to 3600000 ms");
    if (!(p->ewma_alpha > 0 && p->ewma_alpha <= 1))
        return bad(field, "ewma_alpha", why, why_size, "a weight above 0 and at most 1");
    if (p->horizon_ms < 1000 || p->horizon_ms > 7 * 24 * 3600e3)
        return bad(field, "horizon_ms", why, why_size, "1000 ms to 7 days");
    if (p->trend_window_ms < 1000 || p->trend_window_ms > 24 * 3600e3)
        return bad(field, "trend_window_ms", why, why_size, "1000 ms to 1 day");
    if (p->trend_min_samples < 3 || p->trend_min_samples > 1000)
        return bad(field, "trend_min_samples", why, why_size, "3 to 1000");
    if (!(p->trend_min_r2 >= 0 && p->trend_min_r2 <= 1))
        return bad(field, "trend_min_r2", why, why_size, "0 to 1");
    if ((p->allowed_actions & ~((1u << HEAL_ACT_COUNT) - 1)) != 0 ||
        (p->allowed_actions & HEAL_ACT_BIT(HEAL_ACT_NONE)) != 0)
        return bad(field, "allowed_actions", why, why_size, "known action names");
    if ((p->requires_approval & ~((1u << HEAL_ACT_COUNT) - 1)) != 0)
        return bad(field, "requires_approval", why, why_size, "known action names");
    if (p->approval_timeout_ms < 100 || p->approval_timeout_ms > 7 * 24 * 3600e3)
        return bad(field, "approval_timeout_ms", why, why_size, "100 ms to 7 days");
    if (p->restart_budget < 1 || p->restart_budget > 1000)
        return bad(field, "restart_budget", why, why_size, "1 to 1000");
    if (p->restart_window_ms < 1000 || p->restart_window_ms > 24 * 3600e3)
        return bad(field, "restart_window_ms", why, why_size, "1000 ms to 1 day");
    if (p->backoff_initial_ms < 10 || p->backoff_initial_ms > 3600e3)
        return bad(field, "backoff_initial_ms", why, why_size, "10 to 3600000 ms");
    if (p->backoff_max_ms < p->backoff_initial_ms || p->backoff_max_ms > 24 * 3600e3)
        return bad(field, "backoff_max_ms", why, why_size,
                   "at least backoff_initial_ms and at most 1 day");
    if (p->backoff_reset_ms < 1000 || p->backoff_reset_ms > 7 * 24 * 3600e3)
        return bad(field, "backoff_reset_ms", why, why_size, "1000 ms to 7 days");
    if (p->retry_max > 100)
        return bad(field, "retry_max", why, why_size, "0 to 100");
    if (p->retry_base_ms < 1 || p->retry_base_ms > 3600e3)
        return bad(field, "retry_base_ms", why, why_size, "1 to 3600000 ms");
    if (p->retry_cap_ms < p->retry_base_ms || p->retry_cap_ms > 24 * 3600e3)
        return bad(field, "retry_cap_ms", why, why_size, "at least retry_base_ms, at most 1 day");
    if (p->cluster_wait_ms > 24 * 3600e3)
        return bad(field, "cluster_wait_ms", why, why_size, "0 (never hold) to 86400000 ms");
    return 0;
}

bool heal_policy_allows(const struct heal_policy *p, enum heal_action a)
{
    PL_ASSERT((unsigned)a < HEAL_ACT_COUNT);
    /* Escalation is always possible: giving up silently is the one thing we never do. */
    if (a == HEAL_ACT_ESCALATE)
        return true;
    return (p->allowed_actions & HEAL_ACT_BIT(a)) != 0;
}

bool heal_policy_needs_approval(const struct heal_policy *p, enum heal_action a)
{
    PL_ASSERT((unsigned)a < HEAL_ACT_COUNT);
    return a != HEAL_ACT_ESCALATE && (p->requires_approval & HEAL_ACT_BIT(a)) != 0;
}
