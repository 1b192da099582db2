/*
 * The agent daemon of agent.h: data directory, local API, signals, and the modules.
 */
#include "agent.h"

#include "agent_gossip.h"
#include "agent_metrics.h"
#include "agent_raft.h"
#include "swarm_actor.h"
#include "heal_agent.h"
#include "heal_config.h"
#include "placement.h"

#include "pl_assert.h"
#include "pl_text.h"
#include "pl_err.h"
#include "pl_log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <malloc.h>
#include <unistd.h>

/* The modules, started in this order and stopped in reverse. */
static const struct agent_module *const modules[] = {
    &heal_module, /* first: its config is checked before anything else starts */
    &agent_gossip_module,
    &agent_raft_module,
    &placement_module, /* after heal, gossip and raft: it drives all three */
    &swarm_decisions_module, /* after raft: it acts on the state raft applies */
};
#define NMODULES ((int)PL_ARRAY_LEN(modules))

void *agent_module_state(struct agent *a, const char *name)
{
    for (int i = 0; i < a->modules_started; i++)
        if (modules[i] != NULL && strcmp(modules[i]->name, name) == 0)
            return a->module_state[i];
    return NULL;
}

/* GET /v1/store/memory: where the agent's memory goes (bench/raft_bench_mem.py). */
static void api_store_memory(struct api_call *call, void *data)
{
    struct agent *a = data;
    struct pl_store_memory m;
    if (pl_store_memory_get(&a->store, &m) != 0) {
        api_reply_error(call, 500, "cannot read RocksDB's memory properties");
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "memtables_bytes", (double)m.memtables_bytes);
    cJSON_AddNumberToObject(doc, "memtables_max_bytes",
                            (double)(a->cfg.store_limits.write_buffer_bytes *
                                     a->cfg.store_limits.max_write_buffers));
    cJSON_AddNumberToObject(doc, "block_cache_bytes", (double)m.block_cache_bytes);
    cJSON_AddNumberToObject(doc, "block_cache_max_bytes",
                            (double)a->cfg.store_limits.block_cache_bytes);
    cJSON_AddNumberToObject(doc, "table_readers_bytes", (double)m.table_readers_bytes);
    struct mallinfo2 mi = mallinfo2();
    cJSON_AddNumberToObject(doc, "malloc_heap_in_use_bytes", (double)mi.uordblks);
    cJSON_AddNumberToObject(doc, "malloc_heap_free_bytes", (double)mi.fordblks);
    cJSON_AddNumberToObject(doc, "malloc_mmapped_bytes", (double)mi.hblkhd);
    api_reply_json(call, 200, doc);
}

static void api_self(struct api_call *call, void *data)
{
    struct agent *a = data;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "name", a->cfg.name);
    cJSON_AddStringToObject(doc, "cluster", a->cfg.cluster);
    cJSON_AddStringToObject(doc, "version", PLATELET_VERSION);
    cJSON_AddNumberToObject(doc, "pid", (double)getpid());
    cJSON_AddStringToObject(doc, "data_dir", a->cfg.data_dir);
    cJSON_AddStringToObject(doc, "bind", a->cfg.bind);
    cJSON_AddStringToObject(doc, "advertise", a->cfg.advertise);
    cJSON_AddBoolToObject(doc, "faults_enabled", a->cfg.enable_faults);
    cJSON_AddNumberToObject(doc, "uptime_ms", (double)(uv_now(&a->loop) - a->started_ms));
    const struct http_server *h = &a->api.http;
    cJSON *http = cJSON_AddObjectToObject(doc, "api_connections");
    cJSON_AddNumberToObject(http, "open", h->nconns);
    cJSON_AddNumberToObject(http, "max", h->limits.conns_max);
    cJSON_AddNumberToObject(http, "evicted", (double)h->evicted);
    cJSON_AddNumberToObject(http, "timed_out", (double)h->timed_out);
    cJSON_AddNumberToObject(http, "refused", (double)h->refused);
    cJSON_AddNumberToObject(http, "refused_token", (double)a->api.refused_auth);
    cJSON_AddNumberToObject(http, "refused_origin", (double)a->api.refused_origin);
    cJSON *mods = cJSON_AddArrayToObject(doc, "modules");
    for (int i = 0; i < a->modules_started; i++)
        if (modules[i] != NULL)
            cJSON_AddItemToArray(mods, cJSON_CreateString(modules[i]->name));
    api_reply_json(call, 200, doc);
}

static void api_shutdown(struct api_call *call, void *data)
{
    struct agent *a = data;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "stopping", 1);
    api_reply_json(call, 200, doc);
    agent_stop(a);
}

static void stop_next(struct agent *a);

static void module_stopped(struct agent *a)
{
    a->stop_index--;
    stop_next(a);
}

static void api_closed(struct http_server *s)
{
    (void)s;
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void stop_next(struct agent *a)
{
    while (a->stop_index >= 0) {
        const struct agent_module *m = modules[a->stop_index];
        if (m != NULL && m->stop != NULL && a->stop_index < a->modules_started) {
            m->stop(a, a->module_state[a->stop_index], module_stopped);
            return;
        }
        a->stop_index--;
    }
    PL_INFO("agent", "stopped; closing the API");
    api_close(&a->api, api_closed);
    uv_walk(&a->loop, close_walk_cb, NULL);
}

void agent_stop(struct agent *a)
{
    if (a->stopping)
        return;
    a->stopping = 1;
    PL_INFO("agent", "stopping");
    sd_notifier_stopping(&a->sd);
    a->stop_index = a->modules_started - 1;
    stop_next(a);
}

void agent_fail(struct agent *a)
{
    a->failed = 1;
    agent_stop(a);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    struct agent *a = h->data;
    PL_INFO("agent", "signal %s received", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    agent_stop(a);
}

static int data_dir_prepare(struct agent *a, char *err, size_t err_size)
{
    if (mkdir(a->cfg.data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "data dir %s: cannot create: %s", a->cfg.data_dir, strerror(errno));
        return -errno;
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/agent.lock", a->cfg.data_dir);
    a->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (a->lock_fd < 0) {
        snprintf(err, err_size, "data dir %s: cannot open %s: %s", a->cfg.data_dir, path,
                 strerror(errno));
        return -errno;
    }
    if (flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, err_size, "data dir %s is in use by another agent (lock %s)",
                 a->cfg.data_dir, path);
        close(a->lock_fd);
        a->lock_fd = -1;
        return PL_ELOCKED;
    }
    return 0;
}

static void agent_close_storage(struct agent *a)
{
    if (a->keys_open)
        pl_keys_close(&a->keys);
    if (a->store_open)
        pl_store_close(&a->store);
    a->keys_open = a->store_open = 0;
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    a->lock_fd = -1;
}

int agent_config_check_all(const struct agent_config *cfg, struct api_tokens *tokens, char *err,
                           size_t err_size)
{
    struct heal_config heal;
    int rc = heal_config_parse(cfg->root, cfg->source, &heal, err, err_size);
    if (rc != 0)
        return PL_ECONFIG;
    heal_config_free(&heal);
    if (agent_gossip_config_check(cfg, err, err_size) != 0 ||
        agent_raft_config_check(cfg, err, err_size) != 0 ||
        swarm_decisions_config_check(cfg, err, err_size) != 0)
        return PL_ECONFIG;
    memset(tokens, 0, sizeof(*tokens));
    if (cfg->api_token_file[0] != '\0' &&
        api_tokens_load(cfg->api_token_file, tokens, err, err_size) != 0)
        return PL_ECONFIG;
    return 0;
}

/*
 * glibc's malloc, tuned before any thread starts. Each thread that allocates gets its own
 * arena (RocksDB's flush and compaction threads, libuv's pool, the healing writer), each
 * keeping what it freed; and after a large buffer is freed (a Raft snapshot image) the
 * mmap threshold rises to its size, so the next large buffers come from the heap and
 * fragment it. Two arenas and a fixed threshold keep a loaded node's heap close to what it
 * uses (bench/raft_bench_mem.py, docs/BENCHMARKS.md).
 */
static void malloc_tune(void)
{
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

int agent_run(struct agent_config *cfg, char *cfg_err, size_t cfg_err_size)
{
    static struct agent agent; /* one per process; static keeps it off the stack */
    struct agent *a = &agent;
    char err[512] = "";
    char status[sizeof(err) + 32]; /* a STATUS= line for systemd */
    int rc;

    memset(a, 0, sizeof(*a));
    malloc_tune();
    a->cfg = *cfg;
    a->lock_fd = -1;
    pl_log_set_level(cfg->log_level);
    pl_log_set_json(cfg->log_json);
    pl_log_set_node(cfg->name);
    if (sodium_init() < 0) {
        PL_ERROR("agent", "libsodium failed to initialise");
        return PL_ECRYPTO;
    }
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    pl_rand_seed(&a->rand, seed);
    signal(SIGPIPE, SIG_IGN);
    if (agent_config_check_all(cfg, &a->tokens, cfg_err, cfg_err_size) != 0)
        return PL_ECONFIG;

    rc = data_dir_prepare(a, err, sizeof(err));
    if (rc != 0)
        goto fail;
    rc = pl_store_open_limits(&a->store, cfg->data_dir, PL_STORE_CREATE, &cfg->store_limits);
    if (rc != 0) {
        snprintf(err, sizeof(err), "data dir %s: %s", cfg->data_dir, a->store.err_text);
        goto fail;
    }
    a->store_open = 1;
    a->store.reserve_bytes = cfg->store_reserve_bytes;
    rc = pl_keys_open(&a->keys, cfg->data_dir, true, err, sizeof(err));
    if (rc != 0)
        goto fail;
    a->keys_open = 1;
    uv_loop_init(&a->loop);
    a->started_ms = uv_now(&a->loop);
    sd_notifier_init(&a->sd, &a->loop); /* before any module starts a child process */

    api_init(&a->api, &a->loop, &a->tokens);
    api_route_add(&a->api, "GET", "/v1/agent/self", api_self, a);
    api_route_add(&a->api, "GET", "/v1/store/memory", api_store_memory, a);
    api_route_add(&a->api, "POST", "/v1/agent/shutdown", api_shutdown, a);
    fault_table_init(&a->faults, &a->loop, &a->rand);
    a->faults.api_enabled = cfg->enable_faults;
    fault_api_register(&a->faults, &a->api);
    agent_metrics_register(a);
    snprintf(a->api_sock, sizeof(a->api_sock), "%s/api.sock", cfg->data_dir);
    rc = api_listen_unix(&a->api, a->api_sock);
    if (rc != 0) {
        snprintf(err, sizeof(err), "cannot listen on %s: %s", a->api_sock, pl_strerror(rc));
        goto fail_loop;
    }
    if (cfg->api[0] != '\0') {
        char host[AGENT_ADDR_MAX];
        int port;
        pl_addr_split(cfg->api, host, sizeof(host), &port);
        rc = api_listen_tcp(&a->api, host, port);
        if (rc != 0) {
            snprintf(err, sizeof(err), "cannot listen on %s for the API: %s", cfg->api,
                     pl_strerror(rc));
            goto fail_loop;
        }
    }

    for (int i = 0; i < NMODULES; i++) {
        if (modules[i] == NULL) {
            a->modules_started = i + 1;
            continue;
        }
        rc = modules[i]->start(a, &a->module_state[i], err, sizeof(err));
        if (rc != 0)
            goto fail_loop;
        a->modules_started = i + 1;
    }

    uv_signal_init(&a->loop, &a->sigterm);
    uv_signal_init(&a->loop, &a->sigint);
    a->sigterm.data = a->sigint.data = a;
    uv_signal_start(&a->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&a->sigint, signal_cb, SIGINT);
    PL_INFO("agent", "started name=%s cluster=%s bind=%s api=%s data_dir=%s faults=%s", cfg->name,
            cfg->cluster, cfg->bind, cfg->api[0] ? cfg->api : a->api_sock, cfg->data_dir,
            cfg->enable_faults ? "enabled" : "off");
    snprintf(status, sizeof(status), "running: name=%s bind=%s", cfg->name, cfg->bind);
    sd_notifier_ready(&a->sd, status);

    uv_run(&a->loop, UV_RUN_DEFAULT);
    for (int i = a->modules_started - 1; i >= 0; i--)
        if (modules[i] != NULL && modules[i]->free != NULL)
            modules[i]->free(a, a->module_state[i]);
    uv_loop_close(&a->loop);
    unlink(a->api_sock);
    agent_close_storage(a);
    api_tokens_clear(&a->tokens);
    if (a->failed) {
        PL_ERROR("agent", "exited after an error (see above)");
        return PL_ESTATE;
    }
    PL_INFO("agent", "exited");
    return 0;

fail_loop:
    /* Close every handle and let the loop drain before freeing the modules that own
     * them; the module that failed is freed too (its state may be half set up). */
    api_close(&a->api, NULL);
    uv_walk(&a->loop, close_walk_cb, NULL);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    snprintf(status, sizeof(status), "STATUS=failed: %s", err[0] ? err : pl_strerror(rc));
    sd_notifier_send(&a->sd, status);
    for (int i = PL_MIN(a->modules_started, NMODULES - 1); i >= 0; i--)
        if (modules[i] != NULL && modules[i]->free != NULL && a->module_state[i] != NULL)
            modules[i]->free(a, a->module_state[i]);
    uv_loop_close(&a->loop);
    unlink(a->api_sock);
fail:
    agent_close_storage(a);
    api_tokens_clear(&a->tokens);
    PL_ERROR("agent", "%s", err[0] ? err : pl_strerror(rc));
    return rc < 0 ? rc : PL_ESTATE;
}
