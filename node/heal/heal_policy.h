/*
 * The per-service healing policy, modelled on ReCiSt's SelfHealingPolicy: thresholds (cpu,
 * memory, latency_ms or latency_factor, error_rate), the windows they are judged over, the
 * actions the node may take on its own, the restart budget and crash-loop back-off, and the
 * actions that need a human's approval first.
 *
 * Pure: part of the `heal_core` library (links pl_base only). The shell fills a policy from
 * the `services[i].policy` JSON section (heal_config.c); heal_policy_check() is the one place
 * that says what values are acceptable, so the config error and the unit tests agree.
 */
#ifndef PL_HEAL_POLICY_H
#define PL_HEAL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The healing actions. Values are stored in incident records: append only. */
enum heal_action {
    HEAL_ACT_NONE = 0,
    HEAL_ACT_RESTART = 1,     /* supervised: stop signal, grace, SIGKILL, start; external: command */
    HEAL_ACT_RETRY = 2,       /* run the action again with exponential back-off and full jitter */
    HEAL_ACT_ISOLATE = 3,     /* configured command (take it out of routing) */
    HEAL_ACT_SCALE = 4,       /* configured command */
    HEAL_ACT_STATE_REPAIR = 5, /* configured command */
    HEAL_ACT_CONFIG_SYNC = 6, /* put the config file back from its last known-good copy */
    HEAL_ACT_ESCALATE = 7,    /* POST the incident to the webhooks */
    HEAL_ACT_WAIT = 8,        /* do nothing for verify_ms: a dependency that comes back heals it,
                                 where restarts would only add load */
    HEAL_ACT_CLEANUP = 9,     /* configured command (free scratch space, temporary files) */
    HEAL_ACT_COUNT
};

#define HEAL_ACT_BIT(a) (1u << (a))
/* The default allowed set: what systemd or a kubelet would do, plus our record of it. */
#define HEAL_ACTS_DEFAULT                                                                      \
    (HEAL_ACT_BIT(HEAL_ACT_RESTART) | HEAL_ACT_BIT(HEAL_ACT_RETRY) |                           \
     HEAL_ACT_BIT(HEAL_ACT_CONFIG_SYNC) | HEAL_ACT_BIT(HEAL_ACT_ESCALATE))

/* "restart", "config_sync", ...; "none" for anything unknown. */
const char *heal_action_name(enum heal_action a);
/* PL_ENOTFOUND for an unknown name. */
int heal_action_parse(const char *name, enum heal_action *out);

struct heal_policy {
    /* Thresholds. cpu and memory are fractions (0..1] of one core / of the memory limit
     * (the service's memory_limit_bytes, else the host's memory). */
    double cpu;              /* default 0.90 */
    double memory;           /* default 0.95 */
    double latency_ms;       /* absolute p95 bound; 0 = use latency_factor (default 0) */
    double latency_factor;   /* p95 > factor x EWMA baseline (default 2.0) */
    double error_rate;       /* default 0.05 */
    /* Windows. */
    uint64_t error_window_ms;    /* error rate judged over (default 60 s) */
    uint64_t resource_window_ms; /* cpu/memory must stay above for (default 120 s) */
    uint64_t latency_window_ms;  /* p95 must stay above for (default 30 s) */
    uint64_t error_min_requests; /* fewer requests than this in the window: no verdict (20) */
    double ewma_alpha;           /* baseline smoothing (default 0.2) */
    uint32_t latency_warmup;     /* samples before the baseline is trusted (default 5) */
    /* Prediction: act when the time to exhaustion falls under the horizon. */
    uint64_t horizon_ms;         /* default 10 min */
    uint64_t trend_window_ms;    /* samples used for the fit (default 2 min) */
    uint32_t trend_min_samples;  /* default 6 */
    double trend_min_r2;         /* fit quality needed to believe the trend (default 0.8) */
    uint64_t memory_limit_bytes; /* 0 = the host's memory */
    /* Actions. */
    uint32_t allowed_actions;    /* HEAL_ACT_BIT set (default HEAL_ACTS_DEFAULT) */
    uint32_t requires_approval;  /* HEAL_ACT_BIT set needing `platelet approve` (default 0) */
    uint64_t approval_timeout_ms; /* then escalate (default 5 min) */
    /* Restart budget and crash-loop back-off (Kubernetes: 10 s doubling to 5 min, reset
     * after 10 min of clean running). */
    uint32_t restart_budget;     /* restarts allowed per window before back-off (default 3) */
    uint64_t restart_window_ms;  /* default 5 min */
    uint64_t backoff_initial_ms; /* default 10 s */
    uint64_t backoff_max_ms;     /* default 5 min */
    uint64_t backoff_reset_ms;   /* clean running that forgives the past (default 10 min) */
    /* Retry of a failed action (full jitter, AWS architecture blog 2015). */
    uint32_t retry_max;          /* default 3 */
    uint64_t retry_base_ms;      /* default 500 ms */
    uint64_t retry_cap_ms;       /* default 30 s */
    /* The longest a restart is held back while the cluster sees the same failure on many
     * nodes (a shared dependency down): past it, local healing resumes (default 5 min). */
    uint64_t cluster_wait_ms;
    /* Whether the swarm's learned first action (heal_input.learned) is taken; off, the
     * rules' plan alone (the service's incidents still teach the swarm). Default on. */
    bool learning;
};

/* The design's defaults. */
void heal_policy_init(struct heal_policy *p);

/*
 * Checks every field's range. Returns 0, or PL_ERANGE with *field set to the offending
 * key's name (as spelled in the config) and `why` filled with what is expected.
 */
int heal_policy_check(const struct heal_policy *p, const char **field, char *why,
                      size_t why_size);

/* Whether the policy lets the node take `a` at all, and whether it must wait for approval. */
bool heal_policy_allows(const struct heal_policy *p, enum heal_action a);
bool heal_policy_needs_approval(const struct heal_policy *p, enum heal_action a);

#endif
