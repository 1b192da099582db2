/*
 * Diagnosis and planning: from a detector's signal and what else the node knows (restarts
 * in the window, host load, how many services on this host are failing, config drift) to
 * a failure class, a root cause with a confidence between 0 and 1 and the evidence behind
 * it, a severity 1-5, and the anomaly signature (class, cause, service) later issues learn
 * on; then the ordered list of actions the policy allows for it.
 *
 * Rules, not learning: each rule names the evidence it used, and its confidence says how
 * much a wrong guess is possible (a single exit is "transient" with 0.5; the same exit as
 * the fourth in five minutes is a code bug with 0.8). Pure; part of `heal_core`.
 */
#ifndef PL_HEAL_DIAG_H
#define PL_HEAL_DIAG_H

#include "heal_policy.h"

#include <stdbool.h>
#include <stdint.h>

/* Stored in incident records: values are append only. */
enum heal_class {
    HEAL_CLASS_NONE = 0,
    HEAL_CLASS_TRANSIENT = 1,
    HEAL_CLASS_DEGRADATION = 2,
    HEAL_CLASS_SERVICE_FAILURE = 3,
    HEAL_CLASS_DATA_CORRUPTION = 4,
    HEAL_CLASS_CONFIG_DRIFT = 5,
    HEAL_CLASS_CRITICAL = 6,
    HEAL_CLASS_COUNT
};

enum heal_cause {
    HEAL_CAUSE_NONE = 0,
    HEAL_CAUSE_NETWORK = 1,
    HEAL_CAUSE_RESOURCE_EXHAUSTION = 2,
    HEAL_CAUSE_OVERLOAD = 3,
    HEAL_CAUSE_CONFIG_ERROR = 4,
    HEAL_CAUSE_DATA_CORRUPTION = 5,
    HEAL_CAUSE_DEPENDENCY_FAILURE = 6,
    HEAL_CAUSE_CODE_BUG = 7,
    HEAL_CAUSE_COUNT
};

/* What set the incident off. Stored: append only. */
enum heal_signal_kind {
    HEAL_SIG_NONE = 0,
    HEAL_SIG_EXIT = 1,            /* a supervised process exited */
    HEAL_SIG_CHECK = 2,           /* a check failed N times in a row */
    HEAL_SIG_ERROR_RATE = 3,      /* error rate over its window above the threshold */
    HEAL_SIG_LATENCY = 4,         /* p95 above its bound */
    HEAL_SIG_CPU = 5,             /* CPU above the threshold for the window */
    HEAL_SIG_MEMORY = 6,          /* memory above the threshold for the window */
    HEAL_SIG_PREDICT_MEMORY = 7,  /* memory trend reaches the limit within the horizon */
    HEAL_SIG_PREDICT_DISK = 8,    /* disk trend reaches full within the horizon */
    HEAL_SIG_CONFIG_DRIFT = 9,    /* the service's config file no longer hashes to known-good */
    HEAL_SIG_START_FAILED = 10,   /* the process could not be started at all */
    HEAL_SIG_COUNT
};

const char *heal_class_name(enum heal_class c);
const char *heal_cause_name(enum heal_cause c);
const char *heal_signal_name(enum heal_signal_kind k);

#define HEAL_EVIDENCE_MAX 8
#define HEAL_TEXT_MAX 160
#define HEAL_SERVICE_NAME_MAX 64

struct heal_evidence {
    char source[32];  /* "process", "check:http", "metric", "host", "policy" */
    char metric[48];  /* "exit_code", "error_rate", "p95_ms", "rss_bytes", ... */
    double value;
    double threshold; /* NaN-free: 0 when there is none */
    char detail[HEAL_TEXT_MAX];
};

/* Kinds of check failure, as far as the diagnosis cares. */
enum heal_check_failure {
    HEAL_CHECKFAIL_NONE = 0,
    HEAL_CHECKFAIL_TIMEOUT = 1, /* no answer in time: hang or overload */
    HEAL_CHECKFAIL_REFUSED = 2, /* nothing listening */
    HEAL_CHECKFAIL_STATUS = 3,  /* answered with the wrong status / exit code */
    HEAL_CHECKFAIL_OTHER = 4,
    HEAL_CHECKFAIL_UNAVAILABLE = 5, /* HTTP 503: the service says it cannot serve for now */
};

/* The detector's finding plus the context the node has at that moment. */
struct heal_signal {
    enum heal_signal_kind kind;
    struct heal_evidence ev;   /* the detector's own evidence */
    /* EXIT */
    int64_t exit_status;       /* exit code, or -1 when killed by a signal */
    int term_signal;           /* signal number or 0 */
    bool exit_expected;        /* we stopped it ourselves */
    /* CHECK */
    enum heal_check_failure check_failure;
    bool process_alive;        /* supervised and running (or external: unknown = true) */
    /* context */
    uint32_t restarts_in_window; /* restarts already done in the policy's window */
    bool crash_loop;             /* the restart budget is spent */
    double host_cpu;             /* 0..1, NaN-free: negative when unknown */
    double host_memory;          /* 0..1, negative when unknown */
    double proc_memory_fraction; /* RSS / limit, negative when unknown */
    double proc_cpu;             /* the service's own CPU (fraction of a core), negative unknown */
    uint32_t services_failing;   /* other services on this host failing right now */
    uint32_t services_total;
    bool config_drifted;
};

struct heal_signature {
    enum heal_class cls;
    enum heal_cause cause;
    char service[HEAL_SERVICE_NAME_MAX];
};

struct heal_diagnosis {
    enum heal_signal_kind signal;
    enum heal_class cls;
    enum heal_cause cause;
    double confidence; /* 0..1 */
    uint8_t severity;  /* 1..5 */
    struct heal_signature sig;
    uint32_t nevidence;
    struct heal_evidence evidence[HEAL_EVIDENCE_MAX];
    char summary[HEAL_TEXT_MAX];
};

/* Fills *out. `service` is copied (truncated to the signature's size). */
void heal_diagnose(const struct heal_signal *s, const char *service, struct heal_diagnosis *out);

/* What the service can do besides restart (configured commands and files). */
struct heal_caps {
    bool can_restart;      /* supervised, or an external service with a restart command */
    bool has_isolate;
    bool has_scale;
    bool has_state_repair;
    bool has_config_file; /* a config file with a known-good copy */
    bool has_cleanup;     /* a cleanup command */
};

/* One discretised feature of the evidence, part of the anomaly signature the swarm learns
 * on (swarm_learn.h): two incidents with the same class and cause but one a clean exit and
 * one a SIGKILL, or one a refused check and one a timeout, may want different actions.
 * Stored in the ledger: append only. */
enum heal_feature {
    HEAL_FEAT_NONE = 0,
    HEAL_FEAT_EXIT_CLEAN = 1,     /* exit status 0 */
    HEAL_FEAT_EXIT_ERROR = 2,     /* a non-zero exit status */
    HEAL_FEAT_EXIT_SIGNAL = 3,    /* killed by a signal */
    HEAL_FEAT_CHECK_TIMEOUT = 4,
    HEAL_FEAT_CHECK_REFUSED = 5,
    HEAL_FEAT_CHECK_STATUS = 6,
    HEAL_FEAT_CHECK_OTHER = 7,
    HEAL_FEAT_TREND = 8,          /* a prediction: the trend reaches the limit */
    HEAL_FEAT_THRESHOLD = 9,      /* a detector's value over its threshold */
    HEAL_FEAT_CHECK_UNAVAILABLE = 10, /* 503: not the service's own fault, often a dependency */
    HEAL_FEAT_COUNT
};

enum heal_feature heal_signal_feature(const struct heal_signal *s);
const char *heal_feature_name(enum heal_feature f);

#define HEAL_PLAN_MAX 8

/*
 * The ordered actions for a diagnosis: the ones the policy allows and the service can do,
 * ending with escalation (always allowed). Returns the number written (>= 1).
 */
int heal_plan(const struct heal_diagnosis *d, const struct heal_policy *p,
              const struct heal_caps *caps, enum heal_action out[HEAL_PLAN_MAX]);

/* Appends one piece of evidence when there is room; returns 0 or PL_EFULL. */
int heal_diag_evidence_add(struct heal_diagnosis *d, const char *source, const char *metric,
                           double value, double threshold, const char *detail);

#endif
