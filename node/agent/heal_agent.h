/*
 * The node-local healing module of the agent (struct agent_module `heal`): it supervises
 * the configured services (uv_spawn, output to a rotating log in the data dir), runs their
 * checks (http through http_client, tcp with uv_tcp_connect, exec with uv_spawn), scrapes
 * their metrics (Prometheus text through http_client and prom.h) and /proc, feeds the pure
 * detectors of heal_core, and acts: diagnosis, plan, restart under the budget and back-off,
 * configured commands, config_sync, escalation to webhooks, approval gates. Every step goes
 * into the incident record, written to RocksDB's `incidents` family as it happens.
 *
 * This header is shared by the module's files (heal_agent.c: runtime, heal_api.c: the
 * local API and JSON views); nothing else of the agent needs its insides.
 */
#ifndef PL_HEAL_AGENT_H
#define PL_HEAL_AGENT_H

#include "agent.h"
#include "pl_store.h"
#include "heal_budget.h"
#include "heal_config.h"
#include "heal_detect.h"
#include "heal_diag.h"
#include "heal_incident.h"
#include "http_client.h"

#include <cjson/cJSON.h>
#include <uv.h>

extern const struct agent_module heal_module;

struct heal;
struct heal_svc;

enum heal_proc_state {
    HEAL_PROC_NONE,     /* external, or never started */
    HEAL_PROC_RUNNING,
    HEAL_PROC_STOPPING, /* we sent the stop signal; SIGKILL after the grace period */
    HEAL_PROC_EXITED,
    HEAL_PROC_BACKOFF,  /* waiting for the next start */
    HEAL_PROC_WAITING,  /* waiting for approval */
};

struct heal_check_rt {
    struct heal_svc *svc;
    const struct heal_check_cfg *cfg;
    int index;
    uv_timer_t timer;
    struct heal_check_state state;
    bool in_flight;
    bool last_ok;
    bool ever_ran;
    uint64_t last_t_wall_ms;
    uint64_t last_elapsed_ms;
    enum heal_check_failure last_failure;
    char last_detail[HEAL_TEXT_MAX];
    /* tcp */
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t deadline;
    int tcp_open;
    uint64_t started_ms;
};

struct heal_metrics_rt {
    uv_timer_t timer;
    bool in_flight;
    bool have_prev_hist;
    double prev_le[32];
    double prev_cum[32];
    int prev_n;
    struct heal_rate_detector rate;
    struct heal_latency_detector latency;
    double last_error_rate; /* over the window; -1 unknown */
    double last_p95_ms;     /* -1 unknown */
    double last_requests, last_errors;
    char last_error[HEAL_TEXT_MAX];
};

struct heal_svc {
    struct heal *h;
    const struct heal_service_cfg *cfg;
    int index;
    /* process */
    uv_process_t proc;
    bool proc_open;        /* handle not yet closed */
    enum heal_proc_state pstate;
    int pid;
    uint64_t started_ms;   /* monotonic */
    uint64_t start_count;
    int64_t last_exit_status;
    int last_term_signal;
    bool restart_after_exit; /* the exit we are waiting for is a restart's stop */
    uv_timer_t kill_timer;   /* grace period, then SIGKILL */
    uv_timer_t restart_timer; /* back-off / retry / verify deadline */
    uv_pipe_t out, err;
    bool out_open, err_open;
    int log_fd;
    uint64_t log_bytes;
    /* resources */
    uint64_t prev_cpu_ticks;
    uint64_t prev_cpu_ms;
    double cpu;           /* fraction of one core; -1 unknown */
    uint64_t rss_bytes;
    struct heal_sustain cpu_sustain, mem_sustain;
    struct heal_trend mem_trend;
    struct heal_trend disk_trend;
    uint64_t disk_used, disk_total;
    /* checks and metrics */
    int nchecks;
    struct heal_check_rt checks[HEAL_CHECKS_MAX];
    struct heal_metrics_rt metrics;
    /* healing */
    struct heal_budget budget;
    bool healthy;
    uint64_t healthy_since_ms;
    struct heal_incident *inc;  /* the open incident, or NULL */
    enum heal_action plan[HEAL_PLAN_MAX];
    int nplan, step;
    uint32_t attempt;           /* retries of the current step */
    bool approved;              /* this incident's actions were approved */
    bool verifying;             /* an action is done; waiting to see it healthy */
    uint64_t action_done_ms;
    uint64_t success_after_action; /* check successes seen since the action ended */
    bool action_running;        /* a command is running for this incident */
    uv_timer_t approval_timer;
    /* config_sync */
    char good_hash[65];         /* hex SHA-256 of the known-good config file; "" none */
    uint64_t file_seen_ms;
    bool drifted;
    uint32_t incidents_opened;
    uint32_t noted_signals;     /* signal kinds already noted in the open incident (bits) */
};

struct heal {
    struct agent *a;
    struct heal_config cfg;
    struct pl_store *store;     /* the agent's; NULL when it has none (no incidents kept) */
    struct http_client *http;
    uv_timer_t tick;            /* 1 s: /proc samples, detectors, verification */
    struct heal_svc *svcs;
    int nsvcs;
    uint64_t seq;
    double host_cpu, host_mem;  /* -1 unknown */
    uint64_t host_prev_busy, host_prev_total;
    uint64_t host_mem_total;
    char dir[PATH_MAX];         /* <data_dir>/heal */
    bool launched;              /* services started (on the loop's first turn) */
    bool stopping;
    void (*stop_done)(struct agent *a);
    int cmds_running;           /* child processes: services and commands */
};

/* heal_api.c */
void heal_api_register(struct heal *h);
cJSON *heal_incident_json(const struct heal_incident *inc);
cJSON *heal_svc_json(const struct heal_svc *s);

/* heal_agent.c, for the API */
int heal_approve(struct heal *h, const char *id, char *err, size_t err_size);
/* Loads one incident from the store (open ones from memory first). */
int heal_incident_load(struct heal *h, const char *id, struct heal_incident *out);

#endif
