/*
 * `platelet bench heal`: how fast node-local healing brings a service back, what writing
 * incidents costs the loop thread that also answers gossip, and what the agent costs while
 * it watches. Figures, not assertions: nothing here fails on a slow machine.
 *
 * Faults (parts crash, hang, errors). A real agent (this binary, or --agent) supervises a
 * real `platelet sample-service` with the settings of deploy/examples/node-sample.json
 * (SAMPLE_* in child_agent.h; keep the two in step): an HTTP check every 1 s with a 500 ms timeout and
 * 3 failures, a 300 ms kill grace for a hung process, checks from 300 ms after a start, a
 * 5 s stop grace, a metrics scrape every 1 s. The one change is a restart budget raised to
 * 1000, so back-to-back faults each measure one restart and not the crash-loop back-off.
 * Each kind gets a fresh agent. Each run waits until the previous incident closed and the
 * service is healthy, then a random 300-1300 ms (so a fault lands anywhere in the check
 * period, not always at the same phase), injects /fault/crash, /fault/hang or
 * /fault/errors?rate=R, and reads the incident the fault opened: detection = opened - fault
 * sent, action = the "healthy" event - opened (stop, start, first good check), total = the
 * two together. For errors a load thread sends /work at a fixed rate through the whole part,
 * and each run first lets the error window fill with good traffic (--error-settle-ms,
 * default the policy's 60 s window), as on a service that has been up for a while.
 *
 * Gossip under incidents (part gossip). A second agent on loopback gives the agent under
 * test a member to probe, both probing every 20 ms (a sampling rate, not a tuning: it
 * gives enough round trips for a p99 in seconds). The agent under test watches N external
 * services through TCP checks (every 100 ms, 1 failure) on listeners this process holds.
 * Idle: the listeners stay up. Loaded: all of them close and open together every 300 ms,
 * so each flip opens or closes N incidents, until 1,000 incidents have been opened; idle
 * and loaded alternate in rounds so other load on the machine weighs on both. Both agents'
 * /v1/gossip/rtt give the round trips (high-resolution, timed in the gossip shell): the
 * agent's own probes, as asked, and its peer's probes of it. The second matters as much: a
 * blocked loop also delays the agent's own probes, so they sample it less (the probe rate
 * is printed), while the peer's pings arrive at any time and wait, and late ones fail and
 * get the agent suspected. Flipping listeners, not crashing processes, keeps process
 * spawning (a fork on the loop thread) out of the figure, which is about writing incident
 * records.
 *
 * Idle cost (part idle): an agent watching ten sample services, its CPU (utime+stime from
 * /proc) and RSS over --idle-s.
 */
#include "api_client.h"
#include "pl_err.h"
#include "pl_rand.h"
#include "bench_heal.h"
#include "child_agent.h"
#include "cli.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CMD "platelet bench heal"
#define RUNS_MAX 1000
#define SERVICES_IDLE 10
#define FLIP_SERVICES_MAX 64   /* the agent's HEAL_SERVICES_MAX */
#define RTT_SAMPLES_MAX 200000 /* per phase: 50 probes/s for over an hour */
#define RUN_TIMEOUT_MS 120000  /* one fault, from injection to calm */
#define LOADED_TIMEOUT_MS 180000
#define POLL_MS 250

/* The gossip part's sampling. */
#define PROBE_INTERVAL_MS 20
#define PROBE_TIMEOUT_MS 15
#define FLIP_CHECK_INTERVAL_MS 100
#define FLIP_PERIOD_MS 300

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct stats {
    double p50, p99, max;
    int n;
};

/* Nearest-rank percentiles (sorts v): with 20 values p99 is the largest. */
static struct stats stats_of(double *v, int n)
{
    struct stats s = {NAN, NAN, NAN, n};
    if (n == 0)
        return s;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    s.p50 = v[(int)ceil(0.50 * n) - 1];
    s.p99 = v[(int)ceil(0.99 * n) - 1];
    s.max = v[n - 1];
    return s;
}

static void stats_json(cJSON *out, const char *name, struct stats s, const char *unit)
{
    char k[64];
    cJSON *o = cJSON_AddObjectToObject(out, name);
    cJSON_AddNumberToObject(o, "n", s.n);
    snprintf(k, sizeof(k), "p50_%s", unit);
    cJSON_AddNumberToObject(o, k, s.p50);
    snprintf(k, sizeof(k), "p99_%s", unit);
    cJSON_AddNumberToObject(o, k, s.p99);
    snprintf(k, sizeof(k), "max_%s", unit);
    cJSON_AddNumberToObject(o, k, s.max);
}

/* ---- /work traffic for the error runs ---- */

struct load {
    pthread_t th;
    char url[128];
    uint64_t interval_ms;
    uint64_t max_requests; /* bounds the thread in count ... */
    uint64_t deadline_ms;  /* ... and in time (monotonic) */
    atomic_bool stop;
    atomic_uint_fast64_t sent;
};

static void *load_main(void *arg)
{
    struct load *l = arg;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_URL, l->url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
    uint64_t next = child_mono_ms();
    while (!atomic_load(&l->stop) && atomic_load(&l->sent) < l->max_requests &&
           child_mono_ms() < l->deadline_ms) {
        curl_easy_perform(c);
        atomic_fetch_add(&l->sent, 1);
        next += l->interval_ms;
        uint64_t now = child_mono_ms();
        if (next > now)
            child_sleep_ms(next - now);
        else
            next = now; /* behind (the service was down): no burst to catch up */
    }
    curl_easy_cleanup(c);
    if (null != NULL)
        fclose(null);
    return NULL;
}

/* ---- the fault runs ---- */

enum fault_kind { FAULT_CRASH, FAULT_HANG, FAULT_ERRORS, FAULT_KINDS };
static const char *const fault_names[FAULT_KINDS] = {"crash", "hang", "errors"};
static const double fault_goal_ms[FAULT_KINDS] = {1000, 5000, 10000};

struct fault_result {
    double detect[RUNS_MAX], act[RUNS_MAX], total[RUNS_MAX];
    int n, not_measured, extra_incidents;
};

struct opts {
    const char *bin;
    uint64_t runs, error_settle_ms, load_rps, incidents, services, gossip_idle_s, gossip_rounds;
    uint64_t idle_s;
    double error_rate;
    bool keep;
};

/* An agent config with `n` sample services on ports[]. */
static int sample_config(const char *bin, const int *ports, int n, char *out, size_t size)
{
    size_t off = (size_t)snprintf(out, size, "{\"services\": [");
    for (int i = 0; i < n; i++) {
        char name[16] = "sample";
        if (n > 1)
            snprintf(name, sizeof(name), "s%d", i);
        if (off + 2 >= size)
            return PL_ETOOBIG;
        off += (size_t)snprintf(out + off, size - off, "%s", i ? ", " : "");
        int rc = child_sample_service(bin, name, NULL, ports[i], out + off, size - off);
        if (rc != 0)
            return rc;
        off += strlen(out + off);
    }
    int w = snprintf(out + off, size - off, "], \"webhooks\": []}\n");
    return w > 0 && (size_t)w < size - off ? 0 : PL_ETOOBIG;
}

/* The sum of the services' opened incidents once every service is healthy with no open
 * incident; PL_ETIMEOUT if that does not happen within timeout_ms. */
static int wait_calm(const char *api, uint64_t timeout_ms, double *incidents)
{
    for (uint64_t end = child_mono_ms() + timeout_ms; child_mono_ms() < end; child_sleep_ms(50)) {
        cJSON *doc = child_get_json(api, "/v1/services");
        if (doc == NULL)
            continue;
        bool calm = true;
        double sum = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "services"))
        {
            calm &= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "healthy")) &&
                    cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s, "open_incident"));
            sum += child_num(s, "incidents");
        }
        cJSON_Delete(doc);
        if (calm) {
            *incidents = sum;
            return 0;
        }
    }
    return PL_ETIMEOUT;
}

/*
 * The first incident opened at or after fault_ms, once its stored record is closed: its
 * detection and action times. -EAGAIN while the store still holds an open version (the
 * agent writes records off its loop, so /v1/incidents can lag /v1/services by a write),
 * PL_ENOTFOUND when it closed without a "healthy" event or as anything but healed.
 */
static int read_incident_once(const char *api, uint64_t fault_ms, double *detect, double *act)
{
    cJSON *doc = child_get_json(api, "/v1/incidents");
    if (doc == NULL)
        return PL_EPROTO;
    const cJSON *inc, *first = NULL;
    cJSON_ArrayForEach(inc, cJSON_GetObjectItemCaseSensitive(doc, "incidents"))
    {
        /* 100 ms of slack: the agent's clock is its loop's cached time. */
        if (child_num(inc, "opened_ms") + 100 >= (double)fault_ms &&
            (first == NULL || child_num(inc, "opened_ms") < child_num(first, "opened_ms")))
            first = inc;
    }
    int rc = -EAGAIN;
    if (first != NULL && strcmp(child_str(first, "state"), "closed") == 0) {
        rc = PL_ENOTFOUND;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(first, "timeline"))
        {
            if (strcmp(child_str(e, "kind"), "healthy") == 0 && rc != 0 &&
                strcmp(child_str(first, "outcome"), "healed") == 0) {
                *detect = child_num(first, "opened_ms") - (double)fault_ms;
                *act = child_num(e, "t_ms") - child_num(first, "opened_ms");
                rc = 0;
            }
        }
    }
    cJSON_Delete(doc);
    return rc;
}

static int read_incident(const char *api, uint64_t fault_ms, double *detect, double *act)
{
    int rc = -EAGAIN;
    for (uint64_t end = child_mono_ms() + 10000; child_mono_ms() < end; child_sleep_ms(50))
        if ((rc = read_incident_once(api, fault_ms, detect, act)) != -EAGAIN)
            break;
    return rc;
}

static int fault_part(const struct opts *o, struct pl_rand *rnd, enum fault_kind kind,
                      struct fault_result *r)
{
    int port = child_free_port(false);
    if (port < 0)
        return port;
    char config[4096];
    int rc = sample_config(o->bin, &port, 1, config, sizeof(config));
    struct child_agent ap;
    memset(&ap, 0, sizeof(ap));
    if (rc == 0)
        rc = child_agent_start(&ap, o->bin, NULL, "bench", config, NULL, false, NULL);
    if (rc != 0) {
        child_agent_stop(&ap, o->keep);
        return rc;
    }
    struct load load;
    bool loading = false;
    if (kind == FAULT_ERRORS) {
        memset(&load, 0, sizeof(load));
        snprintf(load.url, sizeof(load.url), "http://127.0.0.1:%d/work", port);
        load.interval_ms = 1000 / o->load_rps;
        uint64_t part_ms = o->runs * (o->error_settle_ms + 1300 + RUN_TIMEOUT_MS);
        load.deadline_ms = child_mono_ms() + part_ms;
        load.max_requests = o->load_rps * (part_ms / 1000 + 1);
        loading = pthread_create(&load.th, NULL, load_main, &load) == 0;
    }
    char fault_path[64];
    if (kind == FAULT_CRASH)
        snprintf(fault_path, sizeof(fault_path), "/fault/crash");
    else if (kind == FAULT_HANG)
        snprintf(fault_path, sizeof(fault_path), "/fault/hang");
    else
        snprintf(fault_path, sizeof(fault_path), "/fault/errors?rate=%g", o->error_rate);
    char svc[64];
    snprintf(svc, sizeof(svc), "127.0.0.1:%d", port);
    memset(r, 0, sizeof(*r));
    for (uint64_t i = 0; i < o->runs && rc == 0; i++) {
        double before, after = 0;
        if ((rc = wait_calm(ap.api, RUN_TIMEOUT_MS, &before)) != 0)
            break;
        uint64_t settle = 300 + pl_rand_below(rnd, 1000);
        if (kind == FAULT_ERRORS)
            settle += o->error_settle_ms;
        child_sleep_ms(settle);
        uint64_t fault_ms = child_wall_ms();
        child_http(svc, "GET", fault_path, NULL, 500, NULL);
        /* The incident opens, acts and closes; calm again with one more incident. */
        uint64_t end = child_mono_ms() + RUN_TIMEOUT_MS;
        while (child_mono_ms() < end && (wait_calm(ap.api, end - child_mono_ms(), &after) != 0 ||
                                   after <= before))
            child_sleep_ms(50);
        double d = NAN, a = NAN;
        if (after > before && read_incident(ap.api, fault_ms, &d, &a) == 0) {
            r->detect[r->n] = d;
            r->act[r->n] = a;
            r->total[r->n] = d + a;
            r->n++;
            r->extra_incidents += (int)(after - before) - 1;
            fprintf(stderr, "  %s %" PRIu64 "/%" PRIu64 ": detected %.0f ms, healthy %.0f ms "
                    "after that, %.0f ms in all\n", fault_names[kind], i + 1, o->runs, d, a, d + a);
        } else {
            r->not_measured++;
            fprintf(stderr, "  %s %" PRIu64 "/%" PRIu64 ": not measured (incidents %.0f -> %.0f)\n",
                    fault_names[kind], i + 1, o->runs, before, after);
        }
    }
    if (loading) {
        atomic_store(&load.stop, true);
        pthread_join(load.th, NULL);
    }
    child_agent_stop(&ap, o->keep);
    return rc;
}

/* ---- gossip probe round trips while incidents are written ---- */

/* Listeners the checks of the gossip part connect to, accepted and closed on a thread;
 * while `flipping`, all of them close and open again every FLIP_PERIOD_MS. */
struct flipper {
    pthread_t th;
    int n;
    int port[FLIP_SERVICES_MAX];
    int fd[FLIP_SERVICES_MAX]; /* -1 while closed */
    atomic_bool flipping;
    atomic_bool stop;
    atomic_uint_fast64_t flips;
    uint64_t deadline_ms; /* the thread's bound in time (monotonic) */
};

static int listener_open(int port)
{
    int fd = child_bind_loopback(SOCK_STREAM, port);
    if (fd < 0)
        return fd;
    if (listen(fd, 128) != 0) {
        close(fd);
        return -errno;
    }
    return fd;
}

static void *flipper_main(void *arg)
{
    struct flipper *f = arg;
    uint64_t next_flip = 0;
    bool up = true;
    while (!atomic_load(&f->stop) && child_mono_ms() < f->deadline_ms) {
        uint64_t now = child_mono_ms();
        bool flipping = atomic_load(&f->flipping);
        if ((flipping && now >= next_flip) || (!flipping && !up)) {
            up = !up;
            for (int i = 0; i < f->n; i++) {
                if (!up && f->fd[i] >= 0) {
                    close(f->fd[i]);
                    f->fd[i] = -1;
                } else if (up && f->fd[i] < 0) {
                    f->fd[i] = listener_open(f->port[i]);
                }
            }
            next_flip = now + FLIP_PERIOD_MS;
            atomic_fetch_add(&f->flips, 1);
        }
        struct pollfd pfd[FLIP_SERVICES_MAX];
        int map[FLIP_SERVICES_MAX], np = 0;
        for (int i = 0; i < f->n; i++)
            if (f->fd[i] >= 0) {
                pfd[np] = (struct pollfd){.fd = f->fd[i], .events = POLLIN};
                map[np++] = i;
            }
        if (poll(pfd, (nfds_t)np, 10) <= 0)
            continue;
        for (int k = 0; k < np; k++)
            if (pfd[k].revents & POLLIN) {
                int c = accept4(f->fd[map[k]], NULL, NULL, SOCK_CLOEXEC);
                if (c >= 0)
                    close(c);
            }
    }
    for (int i = 0; i < f->n; i++)
        if (f->fd[i] >= 0)
            close(f->fd[i]);
    return NULL;
}

/* Where one agent's round trips were read up to (an agent-wide cursor). */
struct rtt_source {
    char api[64];
    double samples, probes, failures;
};

/* The round trips of one agent's own probes within one phase. */
struct rtt_side {
    double *us; /* RTT_SAMPLES_MAX */
    int n;
    uint64_t missed; /* samples its ring dropped between two polls */
    double probes, probe_failures;
    struct stats s;
};

struct rtt_phase {
    struct rtt_side own;  /* the agent under test's probes of its peer */
    struct rtt_side peer; /* the peer's probes of the agent under test */
    double incidents;     /* opened in the phase */
    uint64_t ms;
};

/* Takes the round trips `src` took since its cursor into `side` (NULL: skips them). */
static void rtt_take(struct rtt_source *src, struct rtt_side *side)
{
    cJSON *doc = child_get_json(src->api, "/v1/gossip/rtt");
    if (doc == NULL)
        return;
    double samples = child_num(doc, "samples"), probes = child_num(doc, "probes");
    double failures = child_num(doc, "probe_failures");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "rtt_us");
    int k = cJSON_GetArraySize(arr);
    if (side != NULL && isfinite(samples) && samples > src->samples) {
        double fresh = samples - src->samples;
        if (fresh > k) {
            side->missed += (uint64_t)(fresh - k);
            fresh = k;
        }
        for (int i = k - (int)fresh; i < k; i++)
            if (side->n < RTT_SAMPLES_MAX)
                side->us[side->n++] = cJSON_GetArrayItem(arr, i)->valuedouble;
    }
    if (side != NULL && isfinite(probes) && isfinite(failures)) {
        side->probes += probes - src->probes;
        side->probe_failures += failures - src->failures;
    }
    if (isfinite(samples) && isfinite(probes) && isfinite(failures)) {
        src->samples = samples;
        src->probes = probes;
        src->failures = failures;
    }
    cJSON_Delete(doc);
}

/* The sum of the services' opened incidents, or -1. */
static double incidents_opened(const char *api)
{
    cJSON *doc = child_get_json(api, "/v1/services");
    if (doc == NULL)
        return -1;
    double sum = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "services"))
        sum += child_num(s, "incidents");
    cJSON_Delete(doc);
    return sum;
}

/* Polls both agents' round trips and the incident count every POLL_MS (the same in both
 * phases, so the polling weighs on both alike) until `until_ms` or, when target > 0, until
 * `target` incidents were opened; adds what it saw to ph. */
static void rtt_phase_run(struct rtt_source *own, struct rtt_source *peer, struct rtt_phase *ph,
                          uint64_t until_ms, double target)
{
    double base = incidents_opened(own->api), last = base;
    uint64_t t0 = child_mono_ms();
    while (child_mono_ms() < until_ms) {
        child_sleep_ms(POLL_MS);
        rtt_take(own, &ph->own);
        rtt_take(peer, &ph->peer);
        double now = incidents_opened(own->api);
        if (now >= 0)
            last = now;
        if (target > 0 && last - base >= target)
            break;
    }
    ph->incidents += last - base;
    ph->ms += child_mono_ms() - t0;
}

struct gossip_result {
    struct rtt_phase idle, loaded;
    double stored; /* records listed by /v1/incidents afterwards (it lists 1000 at most) */
    int services;
    uint64_t rounds;
};

/* Waits until every service is calm; the round trips meanwhile belong to neither phase. */
static int gossip_calm(struct rtt_source *own, struct rtt_source *peer)
{
    double calm;
    int rc = wait_calm(own->api, 30000, &calm);
    rtt_take(own, NULL);
    rtt_take(peer, NULL);
    return rc;
}

/*
 * With both agents up: waits for the agent under test to settle, then measures idle and
 * loaded in interleaved rounds (idle, then flipping until its share of the incidents is
 * opened, then calm again), so that other load on a shared machine weighs on both alike.
 */
static int gossip_measure(const struct opts *o, struct flipper *f, struct rtt_source *own,
                          struct rtt_source *peer, struct gossip_result *g)
{
    double calm;
    for (uint64_t end = child_mono_ms() + 30000;; child_sleep_ms(100)) {
        cJSON *doc = child_get_json(own->api, "/v1/gossip/rtt");
        double samples = doc != NULL ? child_num(doc, "samples") : 0;
        cJSON_Delete(doc);
        if (samples > 10 && wait_calm(own->api, 100, &calm) == 0)
            break;
        if (child_mono_ms() > end) {
            fprintf(stderr, "%s: the gossip agents did not settle in 30 s\n", CMD);
            return PL_ETIMEOUT;
        }
    }
    child_sleep_ms(2000); /* past start-up's first pushes and pulls */
    gossip_calm(own, peer);
    uint64_t done = 0, deadline = child_mono_ms() + LOADED_TIMEOUT_MS;
    for (uint64_t r = 0; r < o->gossip_rounds && child_mono_ms() < deadline; r++) {
        fprintf(stderr, "  gossip round %" PRIu64 "/%" PRIu64 ": idle %.1f s, then flipping %d "
                "checks\n", r + 1, o->gossip_rounds,
                (double)o->gossip_idle_s / (double)o->gossip_rounds, f->n);
        rtt_phase_run(own, peer, &g->idle, child_mono_ms() + o->gossip_idle_s * 1000 / o->gossip_rounds,
                      0);
        uint64_t share = o->incidents * (r + 1) / o->gossip_rounds - done;
        double before = g->loaded.incidents;
        atomic_store(&f->flipping, true);
        rtt_phase_run(own, peer, &g->loaded, deadline, (double)share);
        atomic_store(&f->flipping, false);
        done += (uint64_t)(g->loaded.incidents - before);
        if (gossip_calm(own, peer) != 0)
            fprintf(stderr, "%s: the flipped services were not calm 30 s later\n", CMD);
    }
    if (g->loaded.incidents < (double)o->incidents)
        fprintf(stderr, "%s: only %.0f incidents in %d s\n", CMD, g->loaded.incidents,
                LOADED_TIMEOUT_MS / 1000);
    struct rtt_side *sides[4] = {&g->idle.own, &g->idle.peer, &g->loaded.own, &g->loaded.peer};
    for (int i = 0; i < 4; i++)
        sides[i]->s = stats_of(sides[i]->us, sides[i]->n);
    cJSON *doc = child_get_json(own->api, "/v1/incidents");
    g->stored = doc != NULL ? child_num(doc, "count") : NAN;
    cJSON_Delete(doc);
    g->services = f->n;
    g->rounds = o->gossip_rounds;
    return 0;
}

static int gossip_part(const struct opts *o, struct gossip_result *g)
{
    static struct flipper f;
    memset(&f, 0, sizeof(f));
    f.n = (int)o->services;
    f.deadline_ms = child_mono_ms() + 3600000;
    int rc = 0;
    for (int i = 0; i < f.n; i++)
        f.fd[i] = -1;
    for (int i = 0; i < f.n && rc == 0; i++) {
        f.port[i] = child_free_port(false);
        f.fd[i] = f.port[i] > 0 ? listener_open(f.port[i]) : f.port[i];
        if (f.fd[i] < 0)
            rc = f.fd[i];
    }
    if (rc != 0 || pthread_create(&f.th, NULL, flipper_main, &f) != 0) {
        for (int i = 0; i < f.n; i++)
            if (f.fd[i] >= 0)
                close(f.fd[i]);
        return rc != 0 ? rc : PL_ESTATE;
    }
    char gossip_cfg[160];
    snprintf(gossip_cfg, sizeof(gossip_cfg),
             "\"gossip\": {\"probe_interval_ms\": %d, \"probe_timeout_ms\": %d}",
             PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS);
    size_t cap = 4096 + (size_t)f.n * 400;
    char *cfg = malloc(cap);
    struct child_agent peer, ap;
    memset(&peer, 0, sizeof(peer));
    memset(&ap, 0, sizeof(ap));
    rc = cfg != NULL ? 0 : -ENOMEM;
    if (rc == 0) {
        snprintf(cfg, cap, "{%s}\n", gossip_cfg);
        rc = child_agent_start(&peer, o->bin, NULL, "peer", cfg, NULL, false, NULL);
    }
    if (rc == 0) {
        size_t off = (size_t)snprintf(cfg, cap, "{%s, \"services\": [", gossip_cfg);
        for (int i = 0; i < f.n; i++)
            off += (size_t)snprintf(
                cfg + off, cap - off,
                "%s{\"name\": \"flip%d\", \"type\": \"external\", \"checks\": [{\"type\": "
                "\"tcp\", \"address\": \"127.0.0.1:%d\", \"interval_ms\": %d, "
                "\"timeout_ms\": %d, \"failures\": 1, \"successes\": 1}]}",
                i ? ", " : "", i, f.port[i], FLIP_CHECK_INTERVAL_MS, FLIP_CHECK_INTERVAL_MS);
        snprintf(cfg + off, cap - off, "], \"webhooks\": []}\n");
        rc = child_agent_start(&ap, o->bin, NULL, "bench", cfg, peer.bind, false, NULL);
    }
    struct rtt_side *sides[4] = {&g->idle.own, &g->idle.peer, &g->loaded.own, &g->loaded.peer};
    for (int i = 0; i < 4 && rc == 0; i++)
        if ((sides[i]->us = calloc(RTT_SAMPLES_MAX, sizeof(double))) == NULL)
            rc = -ENOMEM;
    if (rc == 0) {
        struct rtt_source own = {.samples = 0}, other = {.samples = 0};
        snprintf(own.api, sizeof(own.api), "%s", ap.api);
        snprintf(other.api, sizeof(other.api), "%s", peer.api);
        rc = gossip_measure(o, &f, &own, &other, g);
    }
    for (int i = 0; i < 4; i++) {
        free(sides[i]->us);
        sides[i]->us = NULL;
    }
    atomic_store(&f.stop, true);
    pthread_join(f.th, NULL);
    child_agent_stop(&ap, o->keep);
    child_agent_stop(&peer, o->keep);
    free(cfg);
    return rc;
}

/* ---- the agent's idle cost ---- */

static int idle_part(const struct opts *o, double *cpu_fraction, double *rss_max)
{
    static char cfg[SERVICES_IDLE * 1200 + 64];
    int ports[SERVICES_IDLE];
    for (int i = 0; i < SERVICES_IDLE; i++)
        if ((ports[i] = child_free_port(false)) < 0)
            return ports[i];
    int rc = sample_config(o->bin, ports, SERVICES_IDLE, cfg, sizeof(cfg));
    struct child_agent ap;
    memset(&ap, 0, sizeof(ap));
    if (rc == 0)
        rc = child_agent_start(&ap, o->bin, NULL, "bench", cfg, NULL, false, NULL);
    double cpu0 = NAN, cpu1 = NAN, rss = NAN;
    *rss_max = 0;
    if (rc == 0) {
        child_sleep_ms(5000); /* past start-up */
        child_proc_cpu_rss(ap.pid, &cpu0, &rss);
        for (uint64_t i = 0; i < o->idle_s; i++) {
            child_sleep_ms(1000);
            if (child_proc_cpu_rss(ap.pid, &cpu1, &rss) == 0 && rss > *rss_max)
                *rss_max = rss;
        }
    }
    child_agent_stop(&ap, o->keep);
    *cpu_fraction = (cpu1 - cpu0) / (double)o->idle_s;
    return rc;
}

/* ---- the command ---- */

static bool part_on(const char *parts, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = parts; p != NULL && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static void print_fault_row(const char *name, struct stats d, struct stats a, struct stats t,
                            double goal_ms, int not_measured)
{
    printf("%-7s %3d  %6.0f %6.0f  %6.0f %6.0f  %6.0f %6.0f %6.0f  < %5.0f  %s%s\n", name, t.n,
           d.p50, d.p99, a.p50, a.p99, t.p50, t.p99, t.max, goal_ms,
           t.n > 0 && t.p99 < goal_ms ? "met" : "NOT met",
           not_measured ? " (some runs not measured)" : "");
}

int bench_heal(int argc, char **argv)
{
    struct opts o = {.runs = 20,
                     .error_settle_ms = 60000,
                     .load_rps = 50,
                     .incidents = 1000,
                     .services = 50,
                     .gossip_idle_s = 20,
                     .gossip_rounds = 5,
                     .idle_s = 30,
                     .error_rate = 1.0};
    const char *parts = "crash,hang,errors,gossip,idle", *agent_bin = NULL;
    uint64_t seed = 0;
    bool json = false;
    struct cli_flag flags[] = {
        {"--parts", CLI_STR, &parts,
         "comma-separated: crash,hang,errors,gossip,idle (default all)", false, false},
        {"--runs", CLI_U64, &o.runs, "faults of each kind (default 20)", false, false},
        {"--error-rate", CLI_DOUBLE, &o.error_rate, "fraction of /work answers that fail in an "
         "error burst (default 1)", false, false},
        {"--error-settle-ms", CLI_U64, &o.error_settle_ms, "good traffic before each error burst "
         "(default 60000, the policy's error window)", false, false},
        {"--load-rps", CLI_U64, &o.load_rps, "/work requests per second in the error runs "
         "(default 50)", false, false},
        {"--incidents", CLI_U64, &o.incidents, "incidents written in the gossip part (default "
         "1000)", false, false},
        {"--services", CLI_U64, &o.services, "flipping services in the gossip part (default 50)",
         false, false},
        {"--gossip-idle-s", CLI_U64, &o.gossip_idle_s, "idle baseline of the gossip part, all "
         "rounds together (default 20 s)", false, false},
        {"--gossip-rounds", CLI_U64, &o.gossip_rounds, "interleaved idle and loaded rounds of "
         "the gossip part (default 5)", false, false},
        {"--idle-s", CLI_U64, &o.idle_s, "idle cost measurement with 10 services (default 30 s)",
         false, false},
        {"--agent", CLI_STR, &agent_bin, "the platelet binary whose agent is measured (default "
         "this one)", false, false},
        {"--seed", CLI_U64, &seed, "seed of the random settle times (default: from the clock)",
         false, false},
        {"--keep", CLI_BOOL, &o.keep, "keep the agents' folders (logs, data)", false, false},
        {"--json", CLI_BOOL, &json, "print one JSON document", false, false},
        {NULL, 0, NULL, NULL, false, false},
    };
    struct cli_args args;
    int rc = cli_parse(CMD, "platelet bench heal [--parts LIST] [--runs N] [--json] ...", flags,
                       argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (o.runs < 1 || o.runs > RUNS_MAX)
        return cli_fail(CMD, "--runs: expected 1..%d", RUNS_MAX);
    if (!(o.error_rate > 0 && o.error_rate <= 1))
        return cli_fail(CMD, "--error-rate: expected a fraction above 0 and at most 1");
    if (o.error_settle_ms > 3600000 || o.load_rps < 1 || o.load_rps > 1000)
        return cli_fail(CMD, "--error-settle-ms: expected 0..3600000; --load-rps: 1..1000");
    if (o.incidents < 1 || o.incidents > 100000 || o.services < 1 ||
        o.services > FLIP_SERVICES_MAX)
        return cli_fail(CMD, "--incidents: expected 1..100000; --services: 1..%d",
                        FLIP_SERVICES_MAX);
    if (o.gossip_idle_s < 1 || o.gossip_idle_s > 3600 || o.idle_s < 1 || o.idle_s > 3600)
        return cli_fail(CMD, "--gossip-idle-s and --idle-s: expected 1..3600");
    if (o.gossip_rounds < 1 || o.gossip_rounds > o.incidents || o.gossip_rounds > 100)
        return cli_fail(CMD, "--gossip-rounds: expected 1..100 and at most --incidents");
    static const char *const known[] = {"crash", "hang", "errors", "gossip", "idle"};
    for (const char *p = parts; p != NULL && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            size_t n = strlen(known[i]);
            ok |= strncmp(p, known[i], n) == 0 && (p[n] == ',' || p[n] == '\0');
        }
        if (!ok)
            return cli_fail(CMD, "--parts: unknown part in '%s' (crash, hang, errors, gossip, "
                            "idle)", parts);
    }
    static char self[4096];
    if (child_agent_binary(agent_bin, self, sizeof(self)) != 0)
        return cli_fail(CMD, agent_bin != NULL ? "--agent: '%s' is not an executable file"
                                               : "cannot find this binary%s", agent_bin ? agent_bin : "");
    o.bin = self;
    if (seed == 0)
        seed = child_wall_ms();
    struct pl_rand rnd;
    pl_rand_seed(&rnd, seed);
    child_ports_seed(seed);
    fprintf(stderr, "bench heal: agent %s, seed %" PRIu64 "\n", o.bin, seed);

    static struct fault_result fr[FAULT_KINDS];
    bool ran[FAULT_KINDS] = {false, false, false};
    for (int k = 0; k < FAULT_KINDS; k++) {
        if (!part_on(parts, fault_names[k]))
            continue;
        rc = fault_part(&o, &rnd, (enum fault_kind)k, &fr[k]);
        if (rc != 0)
            return cli_fail(CMD, "%s: the service did not come back: %s", fault_names[k],
                            pl_strerror(rc));
        ran[k] = true;
    }
    static struct gossip_result g;
    bool ran_gossip = part_on(parts, "gossip");
    if (ran_gossip) {
        rc = gossip_part(&o, &g);
        if (rc != 0)
            return cli_fail(CMD, "gossip: %s", pl_strerror(rc));
    }
    double idle_cpu = NAN, rss_max = NAN;
    bool ran_idle = part_on(parts, "idle");
    if (ran_idle && (rc = idle_part(&o, &idle_cpu, &rss_max)) != 0)
        fprintf(stderr, "%s: idle: %s\n", CMD, pl_strerror(rc));

    struct stats sd[FAULT_KINDS], sa[FAULT_KINDS], st[FAULT_KINDS];
    for (int k = 0; k < FAULT_KINDS; k++) {
        sd[k] = stats_of(fr[k].detect, fr[k].n);
        sa[k] = stats_of(fr[k].act, fr[k].n);
        st[k] = stats_of(fr[k].total, fr[k].n);
    }
    double ratio = g.loaded.own.s.p99 / g.idle.own.s.p99;
    double peer_ratio = g.loaded.peer.s.p99 / g.idle.peer.s.p99;
    if (json) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "bench", "heal");
        cJSON_AddNumberToObject(out, "seed", (double)seed);
        for (int k = 0; k < FAULT_KINDS; k++) {
            if (!ran[k])
                continue;
            cJSON *f = cJSON_AddObjectToObject(out, fault_names[k]);
            stats_json(f, "detect", sd[k], "ms");
            stats_json(f, "act", sa[k], "ms");
            stats_json(f, "total", st[k], "ms");
            cJSON_AddNumberToObject(f, "goal_ms", fault_goal_ms[k]);
            cJSON_AddNumberToObject(f, "not_measured", fr[k].not_measured);
            cJSON_AddNumberToObject(f, "extra_incidents", fr[k].extra_incidents);
        }
        if (ran_gossip) {
            cJSON *gj = cJSON_AddObjectToObject(out, "gossip");
            cJSON_AddNumberToObject(gj, "services", g.services);
            const struct rtt_phase *ph[2] = {&g.idle, &g.loaded};
            for (int i = 0; i < 2; i++) {
                cJSON *p = cJSON_AddObjectToObject(gj, i ? "loaded" : "idle");
                cJSON_AddNumberToObject(p, "seconds", (double)ph[i]->ms / 1000.0);
                cJSON_AddNumberToObject(p, "incidents", ph[i]->incidents);
                const struct rtt_side *sd2[2] = {&ph[i]->own, &ph[i]->peer};
                for (int j = 0; j < 2; j++) {
                    cJSON *q = cJSON_AddObjectToObject(p, j ? "peer_probes" : "own_probes");
                    stats_json(q, "rtt", sd2[j]->s, "us");
                    cJSON_AddNumberToObject(q, "probes", sd2[j]->probes);
                    cJSON_AddNumberToObject(q, "probe_failures", sd2[j]->probe_failures);
                    cJSON_AddNumberToObject(q, "samples_missed", (double)sd2[j]->missed);
                }
            }
            cJSON_AddNumberToObject(gj, "rounds", (double)g.rounds);
            cJSON_AddNumberToObject(gj, "probe_interval_ms", PROBE_INTERVAL_MS);
            cJSON_AddNumberToObject(gj, "own_p99_ratio", ratio);
            cJSON_AddNumberToObject(gj, "peer_p99_ratio", peer_ratio);
            cJSON_AddNumberToObject(gj, "incidents_listed", g.stored);
        }
        if (ran_idle) {
            cJSON_AddNumberToObject(out, "idle_services", SERVICES_IDLE);
            cJSON_AddNumberToObject(out, "idle_cpu_fraction", idle_cpu);
            cJSON_AddNumberToObject(out, "idle_rss_mb_max", rss_max);
        }
        api_client_print_json(out, 1);
        cJSON_Delete(out);
    } else {
        printf("bench heal: the sample service with deploy/examples/node-sample.json's settings "
               "(HTTP check %d ms, timeout %d ms, %d failures, kill grace %d ms, start %d ms), "
               "restart budget 1000; %" PRIu64 " faults of each kind; errors at rate %g after "
               "%" PRIu64 " ms of good traffic at %" PRIu64 " req/s; seed %" PRIu64 "\n",
               SAMPLE_CHECK_INTERVAL_MS, SAMPLE_CHECK_TIMEOUT_MS, SAMPLE_CHECK_FAILURES,
               SAMPLE_KILL_GRACE_MS, SAMPLE_START_MS, o.runs, o.error_rate, o.error_settle_ms,
               o.load_rps, seed);
        printf("fault     n   detect p50/p99   action p50/p99  total p50/p99/max     goal   p99\n");
        for (int k = 0; k < FAULT_KINDS; k++)
            if (ran[k])
                print_fault_row(fault_names[k], sd[k], sa[k], st[k], fault_goal_ms[k],
                                fr[k].not_measured);
        for (int k = 0; k < FAULT_KINDS; k++)
            if (ran[k] && (fr[k].not_measured || fr[k].extra_incidents))
                printf("%s: %d runs not measured, %d incidents beyond one per fault\n",
                       fault_names[k], fr[k].not_measured, fr[k].extra_incidents);
        if (ran_gossip) {
            printf("gossip probe round trips, agent under test <-> a second agent (both probe "
                   "every %d ms; %d services flipping every %d ms; %" PRIu64 " interleaved "
                   "rounds):\n", PROBE_INTERVAL_MS, g.services, FLIP_PERIOD_MS, g.rounds);
            const struct rtt_phase *ph[2] = {&g.idle, &g.loaded};
            for (int i = 0; i < 2; i++) {
                printf("  %-6s %5.1f s, %4.0f incidents\n", i ? "loaded" : "idle",
                       (double)ph[i]->ms / 1000.0, ph[i]->incidents);
                const struct rtt_side *sd2[2] = {&ph[i]->own, &ph[i]->peer};
                for (int j = 0; j < 2; j++)
                    printf("    %-13s n=%-5d p50 %5.0f us  p99 %6.0f us  max %6.0f us  "
                           "%4.1f probes/s, %.0f failed%s\n",
                           j ? "its peer's:" : "its own:", sd2[j]->s.n, sd2[j]->s.p50,
                           sd2[j]->s.p99, sd2[j]->s.max,
                           sd2[j]->probes * 1000.0 / (double)(ph[i]->ms ? ph[i]->ms : 1),
                           sd2[j]->probe_failures, sd2[j]->missed ? " (samples missed)" : "");
            }
            printf("  p99 loaded / idle: own probes %.2f, peer's probes %.2f (goal <= 1.10); "
                   "%.0f incidents listed afterwards (the list stops at 1000)\n",
                   ratio, peer_ratio, g.stored);
        }
        if (ran_idle)
            printf("agent idle with %d sample services: CPU %.2f %% of a core over %" PRIu64
                   " s, RSS max %.1f MiB\n",
                   SERVICES_IDLE, idle_cpu * 100, o.idle_s, rss_max);
    }
    return 0;
}
