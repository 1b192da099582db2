/*
 * The healing shell: it turns libuv callbacks into inputs of the pure healing machine
 * (heal/heal_machine.h) and carries out the machine's outputs. It supervises the
 * configured services (uv_spawn, output to a rotating log in the data dir), runs their
 * checks (http through http_client, tcp with uv_tcp_connect, exec with uv_spawn), scrapes
 * their metrics (Prometheus text through http_client and prom.h) and /proc, feeds the
 * detectors of heal_detect, and acts: start, stop, kill, configured commands,
 * config_sync, webhooks. Every decision is the machine's; the shell branches on no
 * healing state of its own.
 *
 * Incident records go to RocksDB's `incidents` family through the incident writer
 * (heal_writer.h), off the loop; the actions of a step wait until its record is durable.
 *
 * Shared by the module's files (heal_agent.c: the shell, heal_api.c: the API routes and
 * the module table entry); nothing else of the agent needs its insides.
 */
#ifndef PL_HEAL_AGENT_H
#define PL_HEAL_AGENT_H

#include "agent.h"
#include "agent_gossip.h"
#include "heal_config.h"
#include "heal_detect.h"
#include "heal_machine.h"
#include "heal_writer.h"
#include "swarm.h"
#include "swarm_heal_record.h"
#include "swarm_learn_record.h"
#include "http_client.h"
#include "pl_store.h"
#include "prom_write.h"

#include <sys/types.h>
#include <time.h>
#include <uv.h>

extern const struct agent_module heal_module;

struct heal;
struct heal_svc;

struct heal_check_rt {
    struct heal_svc *svc;
    const struct heal_check_cfg *cfg;
    int index;
    uv_timer_t timer;
    bool in_flight;
    bool agent_fault; /* the check could not run for the agent's own shortage */
    bool last_ok;
    enum heal_check_failure last_failure; /* of the last failed result */
    bool ever_ran;
    uint64_t last_t_wall_ms;
    uint64_t last_elapsed_ms;
    char last_detail[HEAL_TEXT_MAX];
    /* tcp */
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t deadline;
    int tcp_open;
    uint64_t started_ms; /* loop time the check began */
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

/* An output of the machine waiting for its step's record to be durable. */
struct heal_pending {
    struct heal_output out;
    uint64_t ticket;
};

/* The learned tables' sources (heal_learned.c): a voter gossips the record of the table it
 * applied; a member that is not a voter takes the newest one gossiped. */
struct heal_strategies {
    bool published;                    /* a voter's: the record gossiped ... */
    uint64_t published_index;          /* ... is that of this table */
    uint64_t checked_applied;          /* the applied index its table was last looked at */
    struct swarm_learn_record *taken;  /* a member's: the newest record (malloc()ed), or NULL */
    char taken_from[GOSSIP_NAME_MAX];  /* the voter that gossiped it */
    struct agent_gossip_seen seen;     /* the "strategies" records last read */
    uint64_t records_bad;              /* records that did not decode */
};

#define HEAL_INPUTS_QUEUED_MAX 32
#define HEAL_PENDING_MAX 128
#define HEAL_SVC_SIGS_MAX 4

struct heal_svc {
    struct heal *h;
    const struct heal_service_cfg *cfg;
    int index;
    struct heal_case mc;        /* the machine's state for this service */
    struct heal_learned learned; /* the swarm's learned first actions (heal_learned.c) */
    bool learned_set;            /* learned is the table of learned_index, from ... */
    bool learned_gossip;         /* ... a gossiped record (else the applied state) */
    uint64_t learned_index;
    uv_timer_t deadline;        /* the machine's next deadline */
    /* inputs produced while the outputs are walked, fed after it, in order */
    struct heal_input inputs[HEAL_INPUTS_QUEUED_MAX];
    int in_head, in_count;
    bool pumping;
    /* outputs waiting for the incident writer */
    struct heal_pending pending[HEAL_PENDING_MAX];
    int pend_head, pend_count;
    uint64_t last_ticket;       /* of this service's newest record write */
    /* process */
    bool placed_here;           /* placement (placement.c) runs this placed service here */
    uint64_t lease_until_ms;    /* its lease keeper's deadline (pl_clock_boot_ms; 0: none) */
    struct heal_run *run;       /* the running process, or NULL */
    int pid;
    uint64_t proc_started_ms;   /* loop time */
    int64_t last_exit_status;
    int last_term_signal;
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
    /* config_sync */
    char good_hash[65];         /* hex SHA-256 of the known-good config file; "" none */
    uint64_t file_seen_ms;
    bool drifted;
    bool file_stat_known;       /* the file matched known-good with this size, inode, ctime */
    off_t file_size;
    ino_t file_ino;
    struct timespec file_ctime;
    bool told_drifted, told_good; /* what the machine was last told */
    /* the anomaly signatures it shows now (gossiped in the heal record), since when */
    struct swarm_heal_sig sigs[HEAL_SVC_SIGS_MAX];
    int nsigs;
};

/* Incident outcomes counted by class (the machine's and the shell's "abandoned"). */
#define HEAL_OUTCOMES_COUNTED 4

/* What GET /v1/metrics reports of healing, counted from the events of every step. */
struct heal_stats {
    uint64_t opened[HEAL_CLASS_COUNT];
    uint64_t closed[HEAL_CLASS_COUNT][HEAL_OUTCOMES_COUNTED];
    uint64_t actions[HEAL_ACT_COUNT][2]; /* [action][0: done, 1: failed] */
    struct prom_hist time_to_heal;       /* seconds from opened to closed "healed" */
};

/* One step of an incident waiting in the outbox to be committed through the council. */
struct heal_outbox_item {
    uint64_t seq;               /* its key in the outbox family (big-endian) */
    uint8_t *body;              /* a swarm `incident` body (swarm.h), malloc()ed */
    size_t len;
    struct heal_outbox_item *next;
};

struct heal {
    struct agent *a;
    struct heal_config cfg;
    struct pl_store *store;     /* the agent's; NULL when it has none (no incidents kept) */
    struct heal_writer *writer; /* NULL without a store */
    struct http_client *http;
    uv_timer_t tick;            /* 1 s: /proc samples, detectors, config watch */
    struct heal_svc *svcs;
    int nsvcs;
    uint64_t seq;               /* inputs fed: names incidents */
    uint64_t clock_wall0_ms;    /* the machine's clock: wall time at start ... */
    uint64_t clock_loop0_ms;    /* ... plus the loop's monotonic time since */
    double host_cpu, host_mem;  /* -1 unknown */
    uint64_t host_prev_busy, host_prev_total;
    uint64_t host_mem_total;
    char dir[PATH_MAX];         /* <data_dir>/heal */
    bool launched;              /* services started (on the loop's first turn) */
    bool stopping;
    void (*stop_done)(struct agent *a);
    int cmds_running;           /* child processes: services and commands */
    /* the outbox: incident steps, proposed in order; deleted once committed */
    struct heal_outbox_item *outbox_head, *outbox_tail;
    uint64_t outbox_count;
    uint64_t outbox_next_seq;
    bool outbox_in_flight;
    uint32_t outbox_backoff_ms;
    uv_timer_t outbox_timer;
    struct heal_stats stats;
    /* correlated failures (swarm_correlate.h): our heal record, the cluster's hits */
    uv_timer_t correlate_timer;
    uint8_t *record;            /* the record last published (malloc()ed), for "changed?" */
    size_t record_len;
    uint64_t records_bad;       /* other nodes' records that did not decode */
    uint64_t holds;             /* restarts the cluster held back (HOLD inputs fed) */
    /* what the swarm learned, on a member that is not a voter (heal_learned.c) */
    struct heal_strategies strategies;
};

/* heal_agent.c: the module's life, for heal_api.c's table entry */
int heal_agent_start(struct agent *a, void **state, char *err, size_t err_size);
void heal_agent_stop(struct agent *a, void *state, void (*done)(struct agent *a));
void heal_agent_free(struct agent *a, void *state);

/* heal_agent.c, for the API */
int heal_approve(struct heal *h, const char *id, char *err, size_t err_size);
/* An operator stops a service (no healing until started again) or starts it. */
int heal_service_control(struct heal *h, const char *name, bool stop, char *err,
                         size_t err_size);
/* Placement (placement.c) runs a placed service here, or stops it: services[index]. */
int heal_placed_run(struct heal *h, int index, bool run);
/* Placement renews the lease of services[index] until `until_ms` (pl_clock_boot_ms): the
 * deadline its running copy's lease keeper stops it at, and a new copy's first one. */
void heal_placed_lease(struct heal *h, int index, uint64_t until_ms);
/* A service's process as the machine sees it, and whether it is healthy since it last
 * started (every check answered since, and the machine judges it healthy): what a rolling
 * restart waits for. PL_ENOTFOUND when this node has no such service. */
int heal_service_state(struct heal *h, const char *name, enum heal_proc *proc, bool *healthy);
/* Loads one incident from the store (open ones from memory first). */
int heal_incident_load(struct heal *h, const char *id, struct heal_incident *out);
/* heal_api.c: metrics. Counts the events from..nevents-1 of a step's record; writes the
 * healing metrics of GET /v1/metrics. */
void heal_stats_init(struct heal_stats *st);
void heal_stats_count(struct heal *h, const struct heal_incident *inc, uint32_t from);
void heal_metrics(struct heal *h, struct prom_writer *w);
/* The leader committed a cluster incident: its one escalation (log, webhooks). */
void heal_cluster_escalate(struct heal *h, const struct swarm_cluster_body *b);
/* The machine's clock now. */
uint64_t heal_now(const struct heal *h);
/* heal_learned.c: the table service s's machine takes now (its policy may still ignore it). */
const struct heal_learned *heal_learned_for(struct heal_svc *s);
/* Each correlation round: a voter gossips its table's record when the table changed; a
 * member that is not a voter takes the newest record gossiped when one changed. */
void heal_learned_tick(struct heal *h);
void heal_learned_free(struct heal *h);
/* The service's "learning" object of GET /v1/services. */
cJSON *heal_learned_json(const struct heal_svc *s);

#endif
