/*
 * Restart budget, crash-loop back-off and retry delays. Pure; part of `heal_core`.
 *
 * Budget: at most `restart_budget` restarts per `restart_window_ms` at once; past it the
 * service is in a crash loop and each further restart waits backoff_initial_ms doubling to
 * backoff_max_ms (Kubernetes' CrashLoopBackOff: 10 s, 20 s, ... 300 s). When the delay
 * reaches its cap the node escalates once for that loop (where systemd's StartLimitBurst
 * and supervisord's startretries give up in silence) and keeps retrying at the cap.
 * backoff_reset_ms of healthy running forgives everything (Kubernetes: 10 min).
 *
 * Retry: full jitter, delay = uniform[0, min(cap, base * 2^attempt)] (M. Brooker,
 * "Exponential Backoff and Jitter", AWS Architecture Blog, 2015), with the caller's PRNG.
 */
#ifndef PL_HEAL_BUDGET_H
#define PL_HEAL_BUDGET_H

#include "pl_rand.h"
#include "heal_policy.h"

#include <stdbool.h>
#include <stdint.h>

#define HEAL_BUDGET_MAX 64

struct heal_budget {
    uint64_t restarts[HEAL_BUDGET_MAX]; /* times of recent restarts, oldest first */
    uint32_t count;
    uint32_t backoff_step;     /* restarts done in back-off during this loop */
    bool escalated;            /* this loop already escalated */
    bool healthy;
    uint64_t healthy_since_ms;
};

struct heal_budget_decision {
    uint64_t delay_ms;         /* wait this long before restarting (0 = now) */
    bool in_backoff;           /* the budget is spent */
    bool escalate;             /* the back-off reached its cap: escalate (once per loop) */
    uint32_t restarts_in_window;
};

void heal_budget_init(struct heal_budget *b);
/* Decides the next restart at now_ms. Does not record it: call heal_budget_record() when
 * the restart actually happens. */
void heal_budget_next(struct heal_budget *b, const struct heal_policy *p, uint64_t now_ms,
                      struct heal_budget_decision *out);
void heal_budget_record(struct heal_budget *b, const struct heal_policy *p, uint64_t now_ms);
/* The service is healthy (checks pass, process up) or not, as of now_ms. */
void heal_budget_health(struct heal_budget *b, bool healthy, uint64_t now_ms);
/* Restarts inside the window ending at now_ms. */
uint32_t heal_budget_in_window(const struct heal_budget *b, const struct heal_policy *p,
                               uint64_t now_ms);

/* Full-jitter delay for retry number `attempt` (0 = the first retry). */
uint64_t heal_retry_delay_ms(uint32_t attempt, uint64_t base_ms, uint64_t cap_ms,
                             struct pl_rand *r);

#endif
