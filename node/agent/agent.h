/*
 * The agent: one daemon per host (`platelet agent`). It owns the libuv loop, the data
 * directory, the local API and the random source, and runs the modules (gossip, Raft,
 * node-local healing) that plug in through struct agent_module.
 *
 * Lifecycle: config checked whole (flags, file, every module's section, the API token
 * file; nothing on disk is touched before) -> data dir locked -> store and keys open -> API
 * listening -> modules started in table order -> systemd told READY=1 (sd_notify.h) -> loop.
 * SIGTERM or SIGINT starts a graceful stop (systemd told STOPPING=1): modules stop in
 * reverse order,
 * each calling `done` when finished (gossip announces its leave first), then the API
 * closes and the loop ends. SIGKILL is a failure the others must detect.
 */
#ifndef PL_AGENT_H
#define PL_AGENT_H

#include "agent_config.h"
#include "api.h"
#include "fault.h"
#include "pl_keys.h"
#include "pl_rand.h"
#include "pl_store.h"
#include "sd_notify.h"

#include <uv.h>

struct agent;

struct agent_module {
    const char *name;
    /* Parses its config section, registers its API routes, starts its timers.
     * Returns 0 or a negative code after writing one line into err. */
    int (*start)(struct agent *a, void **state, char *err, size_t err_size);
    /* Begins a graceful stop; calls done(a) exactly once when finished (may be at once). */
    void (*stop)(struct agent *a, void *state, void (*done)(struct agent *a));
    /* Frees everything once the loop has ended. */
    void (*free)(struct agent *a, void *state);
};

#define AGENT_MODULES_MAX 8

struct agent {
    struct agent_config cfg;
    uv_loop_t loop;
    struct api api;
    struct api_tokens tokens; /* from api_token_file; checked on every TCP request */
    struct pl_rand rand; /* seeded from libsodium at start */
    struct fault_table faults; /* consulted by every transport */
    struct pl_store store;     /* the node's one RocksDB, open while the agent runs */
    struct pl_keys keys;       /* the node's Ed25519 key pair */
    int store_open, keys_open;
    uv_signal_t sigterm, sigint;
    struct sd_notifier sd;     /* systemd: READY, STOPPING, the watchdog */
    int lock_fd;
    char api_sock[PATH_MAX];
    uint64_t started_ms;
    int stopping;
    int failed;     /* stopping because something is wrong: the process exits non-zero */
    int stop_index; /* the module being stopped, counting down */
    void *module_state[AGENT_MODULES_MAX];
    int modules_started;
};

/*
 * Runs the agent until it stops. Returns 0 after a clean stop; PL_ECONFIG with one line in
 * err when the config is refused (before anything was created); another negative code
 * once it has logged why the start or the run failed.
 */
int agent_run(struct agent_config *cfg, char *err, size_t err_size);

/* The checks agent_run() makes before touching the disk: every module's config section
 * and the API token file (loaded into *tokens). 0 or PL_ECONFIG with one line in err. */
int agent_config_check_all(const struct agent_config *cfg, struct api_tokens *tokens, char *err,
                           size_t err_size);

/* Starts the graceful stop (as SIGTERM does). */
void agent_stop(struct agent *a);
/* Starts the same stop because something is wrong (the module has logged what): the
 * process then exits 1, so a supervisor (systemd's Restart=on-failure) sees the failure. */
void agent_fail(struct agent *a);

/* A module's state by name, for modules that talk to each other; NULL if not running. */
void *agent_module_state(struct agent *a, const char *name);

#endif
