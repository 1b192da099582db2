/*
 * Child agents for the commands that run a cluster of their own on loopback (`platelet bench
 * heal`, `platelet chaos run`): free loopback ports from the kernel, quiet HTTP to an
 * agent's Unix socket or a service's TCP port, and an agent process started, killed,
 * paused, restarted on the same data and ports, and stopped.
 *
 * One rule for every function that forks: call it from the main thread. A child dies with
 * its parent through PR_SET_PDEATHSIG, which the kernel ties to the thread that forked it,
 * so a child forked on a worker thread would die when that thread ends.
 */
#ifndef PL_CHILD_AGENT_H
#define PL_CHILD_AGENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

uint64_t child_wall_ms(void);
uint64_t child_mono_ms(void);
void child_sleep_ms(uint64_t ms);

/* Seeds the choice of ports (the run's seed, so a run picks the same ports again). */
void child_ports_seed(uint64_t seed);
/*
 * A loopback port P, free for TCP and UDP now, with P+1 free too when `pair` (an agent
 * takes P for gossip and P+1 for Raft); ports handed out by this process are never reused.
 * Negative on failure.
 */
int child_free_port(bool pair);
/* A socket of `type` bound to IPv4 address `ip` (127.0.0.1 for _loopback), port `port`
 * (close-on-exec), or a negative code. */
int child_bind(int type, const char *ip, int port);
int child_bind_loopback(int type, int port);

/*
 * One HTTP request to http://addr/path (addr "unix:PATH": through that socket), quiet (a
 * poller must not print every refused connection). `body` NULL: GET, else POST with that
 * JSON. The status, or a negative code; the answer's body goes to *out (NULL-able; the
 * caller frees it). Safe from any thread.
 */
long child_http(const char *addr, const char *method, const char *path, const char *body,
                long timeout_ms, char **out);
/* GET that answered 200 with JSON, parsed; NULL otherwise. The caller deletes it. */
cJSON *child_get_json(const char *addr, const char *path);
/* A number member (NAN when missing) and a string member ("" when missing). */
double child_num(const cJSON *o, const char *key);
const char *child_str(const cJSON *o, const char *key);

/* CPU seconds (user + system) and resident MiB of a process, from /proc. */
int child_proc_cpu_rss(pid_t pid, double *cpu_s, double *rss_mb);

/* deploy/examples/node-sample.json's settings for the sample service. */
#define SAMPLE_CHECK_INTERVAL_MS 1000
#define SAMPLE_CHECK_TIMEOUT_MS 500
#define SAMPLE_CHECK_FAILURES 3
#define SAMPLE_KILL_GRACE_MS 300
#define SAMPLE_START_MS 300
#define SAMPLE_GRACE_MS 5000
#define SAMPLE_METRICS_INTERVAL_MS 1000

/* One sample service object, `name` on `host`:`port` (host NULL: 127.0.0.1), with
 * node-sample.json's settings and a restart budget of 1000 (back-to-back faults each measure
 * one restart, not the crash-loop back-off), written into out; PL_ETOOBIG when it does not
 * fit. */
int child_sample_service(const char *bin, const char *name, const char *host, int port, char *out,
                         size_t size);

/* The agent binary: `given` made absolute when it is an executable file, or this process's
 * own (NULL). 0, or a negative code. */
int child_agent_binary(const char *given, char *out, size_t size);

struct child_agent {
    pid_t pid; /* 0 when not running */
    bool paused;
    bool own_dir; /* dir was made by child_agent_start and is removed by _stop */
    const char *bin;
    char name[64];
    char dir[256];  /* the agent's folder: agent.json, agent.log, data/ */
    char api[320];  /* "unix:DIR/data/api.sock" */
    char bind[64];  /* gossip "127.0.0.1:P" (Raft on P+1) */
    char join[64];  /* "" or the gossip address it joins through */
    char log[300];
    char netns[64]; /* "" or the network namespace it runs in (a /run/netns/NAME path) */
    bool enable_faults;
};

/* Where an agent runs when not on loopback: inside the network namespace at `netns`, gossip
 * on `bind` (Raft on its port + 1), its API reached at `api` (HOST:PORT: the config must
 * give that "api" and its token file, and PLATELET_TOKEN the token). */
struct child_agent_net {
    const char *netns;
    const char *bind;
    const char *api;
};

/*
 * Starts `bin agent` named `name` with the config `config` (JSON text) and waits up to
 * 20 s for its API. The agent's folder is `dir` (created; NULL: a fresh one under $TMPDIR,
 * removed by child_agent_stop). `join` may be NULL. `net` NULL: on loopback, its gossip on a
 * free port and its API on its Unix socket. Its log (stderr) is appended to DIR/agent.log,
 * so a restarted agent's lines follow the earlier ones.
 */
int child_agent_start(struct child_agent *a, const char *bin, const char *dir, const char *name,
                      const char *config, const char *join, bool enable_faults,
                      const struct child_agent_net *net);
/* Starts the agent again on the same folder, data and ports (after a kill or a stop). */
int child_agent_restart(struct child_agent *a);
/* Waits up to timeout_ms for the agent's API (0: it answered). */
int child_agent_wait_api(struct child_agent *a, uint64_t timeout_ms);
/* SIGKILL and reap (its supervised services die with it: PR_SET_PDEATHSIG). */
void child_agent_kill(struct child_agent *a);
/* SIGSTOP (pause true) or SIGCONT. */
int child_agent_pause(struct child_agent *a, bool pause);
/* SIGTERM, SIGKILL after 15 s; removes its folder when it made it, unless `keep`. */
void child_agent_stop(struct child_agent *a, bool keep);

#endif
