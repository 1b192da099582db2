/*
 * `platelet sample-service`: a small real HTTP service on libuv that the demo, the tests
 * and the chaos harness supervise and break on purpose.
 *
 * It serves /health, /work (a little real CPU work whose latency it observes) and
 * /metrics (Prometheus text: request counters by code, an error counter, a latency
 * histogram, the process's RSS and CPU time), and takes faults by request:
 *
 *   /fault/crash[?how=exit|abort]  exits at once with status 70 (or dies of SIGABRT)
 *   /fault/hang                    answers, then blocks the event loop for ever
 *   /fault/slow?ms=N               every /work answers N ms late (a timer, not a sleep)
 *   /fault/errors?rate=R           that fraction of /work answers 500
 *   /fault/leak?mb_per_s=N[&max_mb=M]  allocates and touches N MiB/s; at M MiB (default
 *                                  1024) it kills itself with SIGKILL as the OOM killer would
 *   /fault/cpu[?percent=P]         burns P % (default 95) of a core in slices on a timer,
 *                                  so it still answers
 *   /fault/unhealthy               /health answers 503 (a failing check without a hang)
 *   /fault/clear                   all back to normal (leaked memory is given back)
 *
 * With --state-dir DIR, four faults whose working action is not a restart: they live in
 * files of DIR, so a restarted process finds them again (issue 11, what the swarm learns):
 *
 *   /fault/drift                   a setting drifts: the --config file's line becomes
 *                                  "mode=drifted" and /health answers 500 while the file says
 *                                  so; config_sync (the known-good file back, then the
 *                                  restart that reads it) heals it, a restart alone does not
 *   /fault/dependency[?s=N]        a dependency is down for N s (default 5-30 at random):
 *                                  /health answers 503; each start while it is down adds
 *                                  10 s (reconnecting clients load it): waiting heals
 *   /fault/scratch[?mb=N]          fills DIR/scratch with N MiB (default 1-8 at random):
 *                                  /health answers 507 while DIR/scratch holds a file; a
 *                                  cleanup command that empties it heals it
 *   /fault/poison                  poisons the cache (DIR/cache): /health answers 500 after
 *                                  POISON_SLOW_MS (every lookup misses and retries); a
 *                                  state_repair command that removes DIR/cache heals it, a
 *                                  restart rebuilds the cache 30 % of the time
 * With --depends HOST:PORT it has a dependency (another service, say a database): every
 * DEP_PROBE_MS it opens a TCP connection to it, and while the last try failed /health
 * answers 503 "dependency down" (what a shared dependency's outage looks like to every
 * instance at once: tests/integration/swarm_correlated.sh).
 *
 * /work is the service's traffic: only its answers are counted in sample_requests_total,
 * so probes and scrapes do not dilute the error rate. SIGTERM and SIGINT stop it cleanly
 * with exit status 0.
 */
#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "pl_rand.h"
#include "cli.h"
#include "commands.h"
#include "http_server.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define BODY_MAX 4096
#define CODES_MAX 8
#define WORK_ITERS_DEFAULT 20000
#define WORK_ITERS_MAX 10000000
#define SLOW_MS_MAX 600000
#define LEAK_TICK_MS 100
#define LEAK_MB_PER_S_MAX 1024
#define LEAK_MAX_MB_DEFAULT 1024
#define CPU_SLICE_MS 20
#define METRICS_MAX (64 * 1024)
#define DEP_PROBE_MS 200
#define POISON_SLOW_MS 1500

/* Prometheus' default buckets, in seconds. */
static const double bucket_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define BUCKETS ((int)PL_ARRAY_LEN(bucket_le))

struct pending_work {
    uv_timer_t timer; /* first: the handle pointer is the struct */
    struct sample *s;
    struct http_conn *conn;
    uint64_t start_ns;
    int status;
    char body[64];
    int counted; /* a /work answer: in the metrics when it goes */
    struct pending_work *next, *prev;
};

/* A leaked chunk is its own mmap; the header sits in its first page. */
struct leak_chunk {
    struct leak_chunk *next;
    size_t bytes;
};

struct code_count {
    int code;
    uint64_t count;
};

struct sample {
    uv_loop_t *loop;
    struct http_server http;
    uv_signal_t sigterm, sigint;
    uv_timer_t leak_timer, cpu_timer, hang_timer;
    struct pl_rand rand;
    int stopping;

    /* Metrics of /work. */
    struct code_count codes[CODES_MAX];
    int ncodes;
    uint64_t errors_total;
    uint64_t buckets[BUCKETS]; /* non-cumulative; summed when rendered */
    uint64_t observations;
    double seconds_sum;

    /* Faults. */
    uint64_t slow_ms;
    double error_rate;
    int unhealthy;
    /* --depends: the dependency's address and whether the last probe reached it */
    struct sockaddr_storage dep_addr;
    bool has_dep, dep_ok, dep_probing;
    uv_timer_t dep_timer;
    uv_tcp_t dep_tcp;
    uv_connect_t dep_connect;
    double leak_mb_per_s;
    uint64_t leak_max_mb;
    uint64_t leak_last_ns;
    size_t leaked_bytes;
    struct leak_chunk *leaks;
    int cpu_percent; /* 0 = off */
    struct pending_work *pending;
    /* Faults kept in files (--state-dir, --config). */
    const char *state_dir;
    const char *config_file;
};

/* ---- metrics ---- */

static void count_code(struct sample *s, int code)
{
    for (int i = 0; i < s->ncodes; i++) {
        if (s->codes[i].code == code) {
            s->codes[i].count++;
            return;
        }
    }
    if (s->ncodes < CODES_MAX) {
        s->codes[s->ncodes].code = code;
        s->codes[s->ncodes].count = 1;
        s->ncodes++;
    }
}

static void observe(struct sample *s, int status, uint64_t start_ns)
{
    double seconds = (double)(uv_hrtime() - start_ns) / 1e9;
    count_code(s, status);
    if (status >= 500)
        s->errors_total++;
    int b = 0;
    while (b < BUCKETS && seconds > bucket_le[b])
        b++;
    if (b < BUCKETS)
        s->buckets[b]++;
    s->observations++;
    s->seconds_sum += seconds;
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int render_metrics(struct sample *s, struct pl_buf *b)
{
    int rc = 0;
#define P(...)                                   \
    do {                                         \
        if (rc == 0)                             \
            rc = pl_buf_printf(b, __VA_ARGS__);  \
    } while (0)
    P("# HELP sample_requests_total Answers to /work by HTTP status code.\n"
      "# TYPE sample_requests_total counter\n");
    /* 200 and 500 are always there, so a rate exists from the first scrape. */
    uint64_t c200 = 0, c500 = 0;
    for (int i = 0; i < s->ncodes; i++) {
        if (s->codes[i].code == 200)
            c200 = s->codes[i].count;
        else if (s->codes[i].code == 500)
            c500 = s->codes[i].count;
    }
    P("sample_requests_total{code=\"200\"} %llu\n", (unsigned long long)c200);
    P("sample_requests_total{code=\"500\"} %llu\n", (unsigned long long)c500);
    for (int i = 0; i < s->ncodes; i++) {
        if (s->codes[i].code != 200 && s->codes[i].code != 500)
            P("sample_requests_total{code=\"%d\"} %llu\n", s->codes[i].code,
              (unsigned long long)s->codes[i].count);
    }
    P("# HELP sample_errors_total Answers to /work with a 5xx status.\n"
      "# TYPE sample_errors_total counter\n"
      "sample_errors_total %llu\n",
      (unsigned long long)s->errors_total);
    P("# HELP sample_request_duration_seconds Latency of /work from request to answer.\n"
      "# TYPE sample_request_duration_seconds histogram\n");
    uint64_t cumulative = 0;
    for (int i = 0; i < BUCKETS; i++) {
        cumulative += s->buckets[i];
        P("sample_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[i],
          (unsigned long long)cumulative);
    }
    P("sample_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
      (unsigned long long)s->observations);
    P("sample_request_duration_seconds_sum %.9f\n", s->seconds_sum);
    P("sample_request_duration_seconds_count %llu\n", (unsigned long long)s->observations);
    P("# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
      "# TYPE process_resident_memory_bytes gauge\n"
      "process_resident_memory_bytes %llu\n",
      (unsigned long long)rss_bytes());
    P("# HELP process_cpu_seconds_total User and system CPU time spent in seconds.\n"
      "# TYPE process_cpu_seconds_total counter\n"
      "process_cpu_seconds_total %.6f\n",
      cpu_seconds());
    P("# HELP sample_leaked_bytes Memory held by the leak fault.\n"
      "# TYPE sample_leaked_bytes gauge\n"
      "sample_leaked_bytes %zu\n",
      s->leaked_bytes);
    int held = 0;
    for (struct pending_work *w = s->pending; w != NULL; w = w->next)
        held++;
    P("# HELP sample_held_requests Answers to /work held back by the slow fault.\n"
      "# TYPE sample_held_requests gauge\n"
      "sample_held_requests %d\n",
      held);
    P("# HELP sample_fault_active Faults switched on (1) or off (0).\n"
      "# TYPE sample_fault_active gauge\n");
    P("sample_fault_active{fault=\"slow\"} %d\n", s->slow_ms > 0);
    P("sample_fault_active{fault=\"errors\"} %d\n", s->error_rate > 0);
    P("sample_fault_active{fault=\"leak\"} %d\n", s->leak_mb_per_s > 0);
    P("sample_fault_active{fault=\"cpu\"} %d\n", s->cpu_percent > 0);
    P("sample_fault_active{fault=\"unhealthy\"} %d\n", s->unhealthy);
#undef P
    return rc;
}

/* ---- /work ---- */

/* A little real CPU work: xorshift mixing that the compiler cannot drop (it is answered). */
static uint64_t do_work(uint64_t iters)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ iters;
    for (uint64_t i = 0; i < iters; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x += i;
    }
    return x;
}

static void pending_unlink(struct pending_work *w)
{
    struct sample *s = w->s;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        s->pending = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
}

static void pending_closed_cb(uv_handle_t *h)
{
    free(h); /* the timer is the first member */
}

static void pending_answer(struct pending_work *w, int status)
{
    pending_unlink(w);
    http_respond(w->conn, status, "text/plain", w->body, strlen(w->body));
    if (w->counted)
        observe(w->s, status, w->start_ns);
    uv_close((uv_handle_t *)&w->timer, pending_closed_cb);
}

static void pending_fire_cb(uv_timer_t *t)
{
    struct pending_work *w = (struct pending_work *)t;
    pending_answer(w, w->status);
}

/* Answers `status` with `body` after `ms`, on a timer (the loop stays free); `counted`: a
 * /work answer, observed in the metrics. */
static void answer_late(struct sample *s, struct http_conn *conn, int status, const char *body,
                        uint64_t ms, uint64_t start_ns, int counted)
{
    struct pending_work *w = calloc(1, sizeof(*w));
    if (w == NULL || uv_timer_init(s->loop, &w->timer) != 0) {
        free(w);
        http_respond(conn, 503, "text/plain", "out of memory\n", 14);
        return;
    }
    w->s = s;
    w->conn = conn;
    w->start_ns = start_ns;
    w->status = status;
    w->counted = counted;
    snprintf(w->body, sizeof(w->body), "%s", body);
    w->next = s->pending;
    if (s->pending != NULL)
        s->pending->prev = w;
    s->pending = w;
    uv_timer_start(&w->timer, pending_fire_cb, ms, 0);
}

static void handle_work(struct sample *s, struct http_conn *conn, const struct http_request *req,
                        uint64_t start_ns)
{
    uint64_t iters = WORK_ITERS_DEFAULT;
    char arg[32];
    if (http_query_get(req->query, "iters", arg, sizeof(arg)) == 0) {
        char *end;
        errno = 0;
        iters = strtoull(arg, &end, 10);
        if (errno != 0 || *end != '\0' || arg[0] == '-' || iters > WORK_ITERS_MAX) {
            http_respond(conn, 400, "text/plain", "iters: 0..10000000\n", 19);
            return;
        }
    }
    uint64_t result = do_work(iters);
    int status = 200;
    if (s->error_rate > 0 && pl_rand_unit(&s->rand) < s->error_rate)
        status = 500;
    char body[64];
    if (status == 200)
        snprintf(body, sizeof(body), "ok %016llx\n", (unsigned long long)result);
    else
        snprintf(body, sizeof(body), "error (injected)\n");
    if (s->slow_ms == 0) {
        http_respond(conn, status, "text/plain", body, strlen(body));
        observe(s, status, start_ns);
        return;
    }
    /* The loop's cached time may be older than this request, and it counts whole
     * milliseconds: count from now, one more, so the answer is never early. */
    uv_update_time(s->loop);
    answer_late(s, conn, status, body, s->slow_ms + 1, start_ns, 1);
}

/* ---- faults ---- */

static void leak_free_all(struct sample *s)
{
    while (s->leaks != NULL) {
        struct leak_chunk *c = s->leaks;
        s->leaks = c->next;
        munmap(c, c->bytes);
    }
    s->leaked_bytes = 0;
}

static void leak_tick_cb(uv_timer_t *t)
{
    struct sample *s = t->data;
    uint64_t now = uv_hrtime();
    double seconds = (double)(now - s->leak_last_ns) / 1e9;
    size_t bytes = (size_t)(s->leak_mb_per_s * seconds * 1048576.0);
    if (bytes < 4096)
        return; /* a slow leak takes a page at a time */
    s->leak_last_ns = now;
    if (s->leaked_bytes + bytes > s->leak_max_mb * 1048576u) {
        /* What the kernel's OOM killer would do to a process that leaks without end. */
        fprintf(stderr, "sample-service: leaked %zu MiB, the limit of %llu MiB: killed as the OOM "
                        "killer would\n",
                s->leaked_bytes >> 20, (unsigned long long)s->leak_max_mb);
        fflush(stderr);
        raise(SIGKILL);
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    memset(p, 0xa5, bytes); /* touch every page so it is resident */
    struct leak_chunk *c = p;
    c->bytes = bytes;
    c->next = s->leaks;
    s->leaks = c;
    s->leaked_bytes += bytes;
}

static void cpu_slice_cb(uv_timer_t *t)
{
    struct sample *s = t->data;
    uint64_t start = uv_hrtime();
    uint64_t busy_ns = (uint64_t)s->cpu_percent * CPU_SLICE_MS * 1000000u / 100u;
    volatile uint64_t sink = 0;
    while (uv_hrtime() - start < busy_ns)
        sink += do_work(1000);
    (void)sink;
}

static void hang_cb(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "sample-service: hanging (the event loop is blocked for ever)\n");
    fflush(stderr);
    for (;;)
        pause();
}

static void faults_clear(struct sample *s)
{
    s->slow_ms = 0;
    s->error_rate = 0;
    s->unhealthy = 0;
    s->leak_mb_per_s = 0;
    s->cpu_percent = 0;
    uv_timer_stop(&s->leak_timer);
    uv_timer_stop(&s->cpu_timer);
    leak_free_all(s);
}

/* Reads a number query parameter in [lo, hi]; *out unchanged when absent and optional. */
static int query_number(const struct http_request *req, const char *key, double lo, double hi,
                        int required, double *out)
{
    char arg[48];
    int rc = http_query_get(req->query, key, arg, sizeof(arg));
    if (rc == PL_ENOTFOUND && !required)
        return 0;
    if (rc != 0)
        return PL_EMALFORMED;
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || isnan(v) || v < lo || v > hi)
        return PL_ERANGE;
    *out = v;
    return 0;
}

static void reply_text(struct http_conn *conn, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_text(struct http_conn *conn, int status, const char *fmt, ...)
{
    char body[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    http_respond(conn, status, "text/plain", body, PL_MIN((size_t)n, sizeof(body) - 1));
}

/* ---- faults in files: a restart finds them again ---- */

static int state_path(const struct sample *s, const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", s->state_dir ? s->state_dir : "", name);
    return s->state_dir == NULL || n < 0 || (size_t)n >= size ? -1 : 0;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    int rc = fputs(text, f) < 0 ? -EIO : 0;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* The first line of a file into buf ("" when absent). */
static void read_line(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fgets(buf, (int)size, f) == NULL)
        buf[0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static uint64_t wall_s(void)
{
    uv_timeval64_t tv;
    return uv_gettimeofday(&tv) == 0 ? (uint64_t)tv.tv_sec : 0;
}

/* The dependency is down until the time in DIR/dependency (seconds since the epoch). */
static uint64_t dependency_until(const struct sample *s)
{
    char path[512], line[64];
    if (state_path(s, "dependency", path, sizeof(path)) != 0)
        return 0;
    read_line(path, line, sizeof(line));
    return strtoull(line, NULL, 10);
}

static int scratch_full(const struct sample *s)
{
    char path[512];
    if (state_path(s, "scratch/fill", path, sizeof(path)) != 0)
        return 0;
    return access(path, F_OK) == 0;
}

/* 0 healthy, else the status /health answers and why (negative: after POISON_SLOW_MS). */
static int file_fault(const struct sample *s, const char **why)
{
    char path[512], line[64];
    if (s->config_file != NULL) {
        read_line(s->config_file, line, sizeof(line));
        if (strcmp(line, "mode=drifted") == 0) {
            *why = "config drift: mode=drifted\n";
            return 500;
        }
    }
    if (dependency_until(s) > wall_s()) {
        *why = "dependency down\n";
        return 503;
    }
    if (scratch_full(s)) {
        *why = "scratch disk full\n";
        return 507;
    }
    if (state_path(s, "cache", path, sizeof(path)) == 0) {
        read_line(path, line, sizeof(line));
        if (strcmp(line, "poisoned") == 0) {
            *why = "cache poisoned\n";
            return -500; /* late: every lookup misses */
        }
    }
    return 0;
}

/* At start: a dependency still down gets the reconnect's load; a poisoned cache is rebuilt
 * 30 % of the time. */
static void file_faults_at_start(struct sample *s)
{
    char path[512], line[64];
    uint64_t until = dependency_until(s);
    if (until > wall_s() && state_path(s, "dependency", path, sizeof(path)) == 0) {
        snprintf(line, sizeof(line), "%llu\n", (unsigned long long)(until + 10));
        (void)write_text(path, line);
    }
    if (state_path(s, "cache", path, sizeof(path)) == 0 && pl_rand_below(&s->rand, 100) < 30)
        (void)unlink(path);
}

static int file_fault_set(struct sample *s, const char *what, const struct http_request *req,
                          char *msg, size_t size)
{
    char path[512], line[64];
    double v = 0;
    if (s->state_dir == NULL || (strcmp(what, "drift") == 0 && s->config_file == NULL)) {
        snprintf(msg, size, "%s needs --state-dir%s\n", what,
                 strcmp(what, "drift") == 0 ? " and --config" : "");
        return 400;
    }
    if (strcmp(what, "drift") == 0) {
        if (write_text(s->config_file, "mode=drifted\n") != 0) {
            snprintf(msg, size, "cannot write %s\n", s->config_file);
            return 500;
        }
        snprintf(msg, size, "drift\n");
    } else if (strcmp(what, "dependency") == 0) {
        v = 5 + (double)pl_rand_below(&s->rand, 26);
        if (query_number(req, "s", 1, 3600, 0, &v) != 0) {
            snprintf(msg, size, "dependency: s=N with N in 1..3600\n");
            return 400;
        }
        snprintf(line, sizeof(line), "%llu\n", (unsigned long long)(wall_s() + (uint64_t)v));
        if (state_path(s, "dependency", path, sizeof(path)) != 0 || write_text(path, line) != 0) {
            snprintf(msg, size, "cannot write the dependency file\n");
            return 500;
        }
        snprintf(msg, size, "dependency down for %.0f s\n", v);
    } else if (strcmp(what, "scratch") == 0) {
        v = 1 + (double)pl_rand_below(&s->rand, 8);
        if (query_number(req, "mb", 1, 64, 0, &v) != 0) {
            snprintf(msg, size, "scratch: mb=N with N in 1..64\n");
            return 400;
        }
        if (state_path(s, "scratch", path, sizeof(path)) != 0 ||
            (mkdir(path, 0700) != 0 && errno != EEXIST) ||
            state_path(s, "scratch/fill", path, sizeof(path)) != 0) {
            snprintf(msg, size, "cannot make the scratch directory\n");
            return 500;
        }
        FILE *f = fopen(path, "w");
        static const char mib[1 << 20];
        int bad = f == NULL;
        for (int i = 0; !bad && i < (int)v; i++)
            bad = fwrite(mib, 1, sizeof(mib), f) != sizeof(mib);
        if (f != NULL && fclose(f) != 0)
            bad = 1;
        if (bad) {
            snprintf(msg, size, "cannot fill %s\n", path);
            return 500;
        }
        snprintf(msg, size, "scratch filled with %.0f MiB\n", v);
    } else {
        if (state_path(s, "cache", path, sizeof(path)) != 0 || write_text(path, "poisoned\n") != 0) {
            snprintf(msg, size, "cannot write the cache file\n");
            return 500;
        }
        snprintf(msg, size, "cache poisoned\n");
    }
    return 200;
}

static void handle_fault(struct sample *s, struct http_conn *conn, const struct http_request *req)
{
    const char *what = req->path + strlen("/fault/");
    double v = 0;
    if (strcmp(what, "crash") == 0) {
        char how[16] = "exit";
        (void)http_query_get(req->query, "how", how, sizeof(how));
        fprintf(stderr, "sample-service: crashing (how=%s)\n", how);
        fflush(stderr);
        if (strcmp(how, "abort") == 0) {
            struct rlimit no_core = {0, 0};
            setrlimit(RLIMIT_CORE, &no_core); /* no core file left behind */
            abort();
        }
        _exit(70);
    } else if (strcmp(what, "hang") == 0) {
        /* Answer first, then block once the answer is on its way. */
        reply_text(conn, 200, "hanging\n");
        uv_timer_start(&s->hang_timer, hang_cb, 50, 0);
    } else if (strcmp(what, "slow") == 0) {
        if (query_number(req, "ms", 0, SLOW_MS_MAX, 1, &v) != 0) {
            reply_text(conn, 400, "slow: ms=N with N in 0..%d\n", SLOW_MS_MAX);
            return;
        }
        s->slow_ms = (uint64_t)v;
        reply_text(conn, 200, "slow ms=%llu\n", (unsigned long long)s->slow_ms);
    } else if (strcmp(what, "errors") == 0) {
        if (query_number(req, "rate", 0, 1, 1, &v) != 0) {
            reply_text(conn, 400, "errors: rate=R with R in 0..1\n");
            return;
        }
        s->error_rate = v;
        reply_text(conn, 200, "errors rate=%g\n", s->error_rate);
    } else if (strcmp(what, "leak") == 0) {
        double max_mb = LEAK_MAX_MB_DEFAULT;
        if (query_number(req, "mb_per_s", 0.001, LEAK_MB_PER_S_MAX, 1, &v) != 0 ||
            query_number(req, "max_mb", 1, 1 << 20, 0, &max_mb) != 0) {
            reply_text(conn, 400, "leak: mb_per_s=N with N in (0, %d], max_mb=M >= 1\n",
                       LEAK_MB_PER_S_MAX);
            return;
        }
        s->leak_mb_per_s = v;
        s->leak_max_mb = (uint64_t)max_mb;
        s->leak_last_ns = uv_hrtime();
        uv_timer_start(&s->leak_timer, leak_tick_cb, LEAK_TICK_MS, LEAK_TICK_MS);
        reply_text(conn, 200, "leak mb_per_s=%g max_mb=%llu\n", v,
                   (unsigned long long)s->leak_max_mb);
    } else if (strcmp(what, "cpu") == 0) {
        v = 95;
        if (query_number(req, "percent", 1, 99, 0, &v) != 0) {
            reply_text(conn, 400, "cpu: percent=P with P in 1..99\n");
            return;
        }
        s->cpu_percent = (int)v;
        uv_timer_start(&s->cpu_timer, cpu_slice_cb, 0, CPU_SLICE_MS);
        reply_text(conn, 200, "cpu percent=%d\n", s->cpu_percent);
    } else if (strcmp(what, "unhealthy") == 0) {
        s->unhealthy = 1;
        reply_text(conn, 200, "unhealthy\n");
    } else if (strcmp(what, "drift") == 0 || strcmp(what, "dependency") == 0 ||
               strcmp(what, "scratch") == 0 || strcmp(what, "poison") == 0) {
        char msg[160];
        int status = file_fault_set(s, what, req, msg, sizeof(msg));
        reply_text(conn, status, "%s", msg);
    } else if (strcmp(what, "clear") == 0) {
        faults_clear(s);
        reply_text(conn, 200, "cleared\n");
    } else {
        reply_text(conn, 404, "unknown fault '%s'\n", what);
    }
}

static void dep_closed_cb(uv_handle_t *h)
{
    struct sample *s = h->data;
    s->dep_probing = false;
}

static void dep_connect_cb(uv_connect_t *req, int status)
{
    struct sample *s = req->data;
    s->dep_ok = status == 0;
    uv_close((uv_handle_t *)&s->dep_tcp, dep_closed_cb);
}

/* One TCP connect to the dependency at a time; its answer is the dependency's health. */
static void dep_probe_cb(uv_timer_t *t)
{
    struct sample *s = t->data;
    if (s->dep_probing || s->stopping)
        return;
    uv_tcp_init(s->loop, &s->dep_tcp);
    s->dep_tcp.data = s;
    s->dep_connect.data = s;
    s->dep_probing = true;
    if (uv_tcp_connect(&s->dep_connect, &s->dep_tcp, (const struct sockaddr *)&s->dep_addr,
                       dep_connect_cb) != 0) {
        s->dep_ok = false;
        uv_close((uv_handle_t *)&s->dep_tcp, dep_closed_cb);
    }
}

static void handler(struct http_conn *conn, const struct http_request *req, void *data)
{
    struct sample *s = data;
    uint64_t start_ns = uv_hrtime();
    if (s->stopping) {
        reply_text(conn, 503, "stopping\n");
    } else if (strcmp(req->path, "/health") == 0) {
        const char *why = "";
        int status = file_fault(s, &why);
        if (s->unhealthy)
            reply_text(conn, 503, "unhealthy\n");
        else if (status < 0)
            answer_late(s, conn, -status, why, POISON_SLOW_MS, start_ns, 0);
        else if (status != 0)
            reply_text(conn, status, "%s", why);
        else if (s->has_dep && !s->dep_ok)
            reply_text(conn, 503, "dependency down\n");
        else
            reply_text(conn, 200, "ok\n");
    } else if (strcmp(req->path, "/work") == 0) {
        handle_work(s, conn, req, start_ns);
    } else if (strcmp(req->path, "/metrics") == 0) {
        struct pl_buf b;
        pl_buf_init(&b, METRICS_MAX);
        if (render_metrics(s, &b) == 0)
            http_respond(conn, 200, "text/plain; version=0.0.4", b.data, b.len);
        else
            reply_text(conn, 500, "metrics too large\n");
        pl_buf_close(&b);
    } else if (strncmp(req->path, "/fault/", 7) == 0) {
        handle_fault(s, conn, req);
    } else {
        reply_text(conn, 404, "not found\n");
    }
}

/* ---- start and stop ---- */

static void noop_closed_cb(uv_handle_t *h)
{
    (void)h;
}

static void stop_cb(uv_signal_t *sig, int signum)
{
    struct sample *s = sig->data;
    (void)signum;
    if (s->stopping)
        return;
    s->stopping = 1;
    /* Late answers are answered now, so the server can close every connection. */
    while (s->pending != NULL) {
        struct pending_work *w = s->pending;
        uv_timer_stop(&w->timer);
        snprintf(w->body, sizeof(w->body), "stopping\n");
        pending_answer(w, 503);
    }
    faults_clear(s);
    uv_close((uv_handle_t *)&s->leak_timer, noop_closed_cb);
    uv_close((uv_handle_t *)&s->cpu_timer, noop_closed_cb);
    uv_close((uv_handle_t *)&s->hang_timer, noop_closed_cb);
    uv_close((uv_handle_t *)&s->dep_timer, noop_closed_cb);
    uv_close((uv_handle_t *)&s->sigterm, noop_closed_cb);
    uv_close((uv_handle_t *)&s->sigint, noop_closed_cb);
    http_server_close(&s->http, NULL);
}

int cmd_sample_service(int argc, char **argv)
{
    static const char cmd[] = "platelet sample-service";
    uint64_t port = 0;
    const char *host = "127.0.0.1";
    const char *state_dir = NULL, *config_file = NULL;
    const char *depends = NULL;
    struct cli_flag flags[] = {
        {"--depends", CLI_STR, &depends,
         "HOST:PORT of a dependency: /health fails while a TCP connection to it fails", false,
         false},
        {"--port", CLI_U64, &port, "TCP port to listen on (0 picks a free one)", true, false},
        {"--host", CLI_STR, &host, "address to listen on (default 127.0.0.1)", false, false},
        {"--state-dir", CLI_STR, &state_dir,
         "directory for the faults a restart does not clear (drift, dependency, scratch, poison)",
         false, false},
        {"--config", CLI_STR, &config_file, "the config file the drift fault changes", false,
         false},
        {NULL, 0, NULL, NULL, false, false},
    };
    struct cli_args args;
    int rc = cli_parse(cmd,
                       "platelet sample-service --port P [--host H] [--state-dir DIR] [--config F] "
                       "[--depends HOST:PORT]",
                       flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (port > 65535)
        return cli_fail(cmd, "--port: %llu is not a TCP port (0..65535)", (unsigned long long)port);

    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill us */
    uv_loop_t loop;
    rc = uv_loop_init(&loop);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", cmd, uv_strerror(rc));
        return rc;
    }
    struct sample *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        uv_loop_close(&loop);
        return -ENOMEM;
    }
    s->loop = &loop;
    if (depends != NULL) {
        char dh[64];
        int dp = -1;
        const char *colon = strrchr(depends, ':');
        if (colon != NULL && (size_t)(colon - depends) < sizeof(dh)) {
            snprintf(dh, sizeof(dh), "%.*s", (int)(colon - depends), depends);
            char *end;
            long v = strtol(colon + 1, &end, 10);
            dp = *end == '\0' && v > 0 && v < 65536 ? (int)v : -1;
        }
        if (dp < 0 || uv_ip4_addr(dh, dp, (struct sockaddr_in *)&s->dep_addr) != 0) {
            free(s);
            uv_loop_close(&loop);
            return cli_fail(cmd, "--depends: '%s' is not IPv4-ADDRESS:PORT", depends);
        }
        s->has_dep = true;
    }
    pl_rand_seed(&s->rand, uv_hrtime() ^ ((uint64_t)getpid() << 32));
    s->state_dir = state_dir;
    s->config_file = config_file;
    file_faults_at_start(s);
    uv_timer_init(&loop, &s->leak_timer);
    uv_timer_init(&loop, &s->cpu_timer);
    uv_timer_init(&loop, &s->hang_timer);
    uv_timer_init(&loop, &s->dep_timer);
    s->dep_timer.data = s;
    if (s->has_dep) {
        s->dep_ok = true; /* until a probe says otherwise */
        uv_timer_start(&s->dep_timer, dep_probe_cb, 0, DEP_PROBE_MS);
    }
    s->leak_timer.data = s->cpu_timer.data = s->hang_timer.data = s;
    uv_signal_init(&loop, &s->sigterm);
    uv_signal_init(&loop, &s->sigint);
    s->sigterm.data = s->sigint.data = s;
    uv_signal_start(&s->sigterm, stop_cb, SIGTERM);
    uv_signal_start(&s->sigint, stop_cb, SIGINT);

    struct http_limits limits;
    http_limits_default(&limits);
    limits.body_max = BODY_MAX;
    http_server_init(&s->http, &loop, handler, s, &limits);
    rc = http_server_listen_tcp(&s->http, host, (int)port);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot listen on %s:%llu: %s\n", cmd, host, (unsigned long long)port,
                rc == PL_EMALFORMED ? "not an IP address" : uv_strerror(rc));
        /* Closes everything through the same path as SIGTERM. */
        stop_cb(&s->sigterm, SIGTERM);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        free(s);
        return rc == PL_EMALFORMED ? PL_EUSAGE : rc;
    }
    printf("sample-service listening on %s:%d\n", host, http_server_port(&s->http));
    fflush(stdout);

    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    free(s);
    if (rc != 0) {
        fprintf(stderr, "%s: handles left open at exit: %s\n", cmd, uv_strerror(rc));
        return rc;
    }
    return 0;
}
