/*
 * The healing module's configuration: the `services` array and the `webhooks` array of the
 * agent's JSON config, parsed and checked in full before anything is started, every error
 * naming the file and the JSON path ("node.json: services[1].checks[0].url: ...").
 *
 *   "services": [{
 *     "name": "web", "type": "supervised" | "external",
 *     "command": "/usr/bin/web", "args": ["--port", "8080"], "env": {"K": "V"},
 *     "cwd": "/srv/web", "stop_signal": "SIGTERM", "grace_ms": 5000,
 *     "restart": [...], "isolate": [...], "scale": [...], "state_repair": [...],
 *     "cleanup": [...],
 *     "config_file": "/etc/web.conf", "disk_path": "/var/lib/web",
 *     "log": {"max_bytes": 1048576, "keep": 3},
 *     "checks": [{"type": "http", "url": "http://127.0.0.1:8080/health", "method": "GET",
 *                 "status": 200, "timeout_ms": 1000, "interval_ms": 2000,
 *                 "failures": 3, "successes": 1, "kill_grace_ms": 1000},
 *                {"type": "tcp", "address": "127.0.0.1:8080"},
 *                {"type": "exec", "command": ["sh", "-c", "test -f /run/ok"]}],
 *     "metrics": {"url": "http://127.0.0.1:8080/metrics", "interval_ms": 1000,
 *                 "requests": "http_requests_total", "errors": "http_errors_total",
 *                 "latency": "http_request_duration_seconds"},
 *     "policy": {"thresholds": {"cpu": 0.9, "memory": 0.95, "latency_factor": 2,
 *                               "error_rate": 0.05}, "allowed_actions": [...],
 *                "restart_budget": 3, "requires_approval": false, ...},
 *     "placement": {"replicas": 1, "nodes": ["a", "b", "c"], "lease_ms": 5000}
 *   }],
 *   "webhooks": [{"url": "http://127.0.0.1:9000/hook", "min_level": 2}]
 */
#ifndef PL_HEAL_CONFIG_H
#define PL_HEAL_CONFIG_H

#include "agent_config.h"
#include "heal_policy.h"
#include "swarm_correlate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAL_SERVICES_MAX 64
#define HEAL_CHECKS_MAX 8
#define HEAL_ARGV_MAX 32
#define HEAL_ENV_MAX 32
#define HEAL_WEBHOOKS_MAX 8
#define HEAL_URL_MAX 512
#define HEAL_METRIC_NAME_MAX 128
#define HEAL_PLACEMENT_NODES_MAX 16
#define HEAL_NODE_NAME_MAX 64

/* A NULL-terminated argv whose strings are owned by the struct. */
struct heal_argv {
    char *v[HEAL_ARGV_MAX + 1];
    int n;
};

enum heal_check_type { HEAL_CHECK_HTTP, HEAL_CHECK_TCP, HEAL_CHECK_EXEC };

struct heal_check_cfg {
    enum heal_check_type type;
    char url[HEAL_URL_MAX];   /* http */
    char method[8];           /* http, default GET */
    long status;              /* http expected status, default 200 */
    char host[128];           /* tcp */
    int port;                 /* tcp */
    struct heal_argv command; /* exec: exit code 0 = ok */
    uint64_t timeout_ms;      /* default 1000 */
    uint64_t interval_ms;     /* default 2000 */
    uint32_t failures;        /* default 3 */
    uint32_t successes;       /* default 1 */
    uint64_t kill_grace_ms;   /* stop grace when this check found the process hung (1000;
                                 Kubernetes' probe-level terminationGracePeriodSeconds) */
};

struct heal_metrics_cfg {
    bool enabled;
    char url[HEAL_URL_MAX];
    uint64_t interval_ms;      /* default 1000 */
    uint64_t timeout_ms;       /* default 1000 */
    char requests[HEAL_METRIC_NAME_MAX]; /* counter of all requests (summed over labels) */
    char errors[HEAL_METRIC_NAME_MAX];   /* counter of failed requests */
    char latency[HEAL_METRIC_NAME_MAX];  /* histogram base name (its _bucket series) */
};

/* A placed service runs on exactly one of `nodes`, the one the swarm's committed state
 * names (node/agent/placement.c); a node that cannot reach a council majority for longer
 * than lease_ms stops it. */
struct heal_placement_cfg {
    bool enabled;
    uint32_t replicas;     /* 1: the only count supported */
    int nnodes;
    char nodes[HEAL_PLACEMENT_NODES_MAX][HEAL_NODE_NAME_MAX];
    uint64_t lease_ms;     /* default 5000 */
};

struct heal_service_cfg {
    char name[64];
    bool supervised;
    struct heal_argv argv; /* supervised: command then args */
    struct heal_argv env;  /* "K=V" strings added to the agent's environment */
    char cwd[PATH_MAX];
    int stop_signal;       /* default SIGTERM */
    uint64_t grace_ms;     /* default 5000 */
    struct heal_argv restart_cmd, isolate_cmd, scale_cmd, state_repair_cmd, cleanup_cmd;
    char config_file[PATH_MAX];
    char disk_path[PATH_MAX]; /* a file system whose filling up is predicted ("" none) */
    uint64_t log_max_bytes; /* default 1 MiB */
    uint32_t log_keep;      /* rotated files kept, default 3 */
    uint64_t verify_ms;     /* after an action: healthy within this or the next step (30 s) */
    uint64_t start_ms;      /* a supervised process running this long without checks is
                               healthy; also the startup grace for checks (default 500) */
    int nchecks;
    struct heal_check_cfg checks[HEAL_CHECKS_MAX];
    struct heal_metrics_cfg metrics;
    struct heal_policy policy;
    struct heal_placement_cfg placement;
};

struct heal_webhook_cfg {
    char url[HEAL_URL_MAX];
    int min_level; /* 1..5, default 2 */
};

struct heal_config {
    int nservices;
    struct heal_service_cfg *services; /* calloc'ed array of nservices */
    int nwebhooks;
    struct heal_webhook_cfg webhooks[HEAL_WEBHOOKS_MAX];
    uint64_t webhook_timeout_ms;
    struct correlate_cfg correlate; /* root.correlate (swarm_correlate.h) */
};

/* Parses `root.services` and `root.webhooks`. On failure err names the file and the path
 * and nothing needs freeing. On success heal_config_free() must follow. */
int heal_config_parse(const cJSON *root, const char *source, struct heal_config *out, char *err,
                      size_t err_size);
void heal_config_free(struct heal_config *cfg);

/* "SIGTERM"/"TERM"/"15" -> 15; PL_EMALFORMED otherwise. */
int heal_signal_parse(const char *text, int *out);

#endif
