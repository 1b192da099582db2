/*
 * `platelet bench heal`: how fast node-local healing brings a service back, and what the
 * agent costs while it watches.
 *
 * It starts a real agent (this binary, `agent --config ...`) supervising a real sample
 * service with the default policy (HTTP check every 2 s, 1 s timeout, 3 failures; grace
 * 5 s) except a restart budget raised so back-to-back faults each measure one restart, not
 * the crash-loop back-off. Each run injects a fault (/fault/crash or /fault/hang), waits for
 * the incident to close, and reads its record: detection = opened - fault, fault-to-healthy
 * = the "healthy" event - fault (same host, same wall clock). Then it starts an agent with
 * ten sample services and samples the agent's own CPU (utime+stime from /proc) and RSS over
 * an idle period. Figures, not assertions: nothing here fails on a slow machine.
 */
#include "api_client.h"
#include "pl_err.h"
#include "bench_heal.h"
#include "cli.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS_MAX 1000
#define SERVICES_IDLE 10

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void http_get_quiet(const char *url, long timeout_ms)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    if (null)
        fclose(null);
}

struct agent_proc {
    pid_t pid;
    char dir[256];
    char api[64];
};

static int agent_start(const char *self, struct agent_proc *ap, int port_base, int nservices,
                       bool with_checks)
{
    snprintf(ap->dir, sizeof(ap->dir), "%s/platelet-bench-heal.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(ap->dir) == NULL)
        return -errno;
    char cfg[300];
    snprintf(cfg, sizeof(cfg), "%s/agent.json", ap->dir);
    FILE *f = fopen(cfg, "w");
    if (f == NULL)
        return -errno;
    fprintf(f, "{\"services\": [");
    for (int i = 0; i < nservices; i++) {
        int port = port_base + 10 + i;
        fprintf(f,
                "%s{\"name\": \"s%d\", \"command\": \"%s\", \"args\": [\"sample-service\", "
                "\"--port\", \"%d\"], \"policy\": {\"restart_budget\": 1000}",
                i ? ", " : "", i, self, port);
        if (with_checks)
            fprintf(f,
                    ", \"checks\": [{\"type\": \"http\", \"url\": "
                    "\"http://127.0.0.1:%d/health\"}], \"metrics\": {\"url\": "
                    "\"http://127.0.0.1:%d/metrics\", \"requests\": \"sample_requests_total\", "
                    "\"errors\": \"sample_errors_total\", \"latency\": "
                    "\"sample_request_duration_seconds\"}",
                    port, port);
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
    fclose(f);
    snprintf(ap->api, sizeof(ap->api), "127.0.0.1:%d", port_base);
    char data[300], bind[64], log[300];
    snprintf(data, sizeof(data), "%s/data", ap->dir);
    snprintf(bind, sizeof(bind), "127.0.0.1:%d", port_base + 1);
    snprintf(log, sizeof(log), "%s/agent.log", ap->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        FILE *lf = freopen(log, "w", stderr);
        (void)lf;
        execl(self, self, "agent", "--config", cfg, "--name", "bench", "--data-dir", data,
              "--bind", bind, "--api", ap->api, (char *)NULL);
        _exit(127);
    }
    ap->pid = pid;
    for (int i = 0; i < 200; i++) {
        cJSON *doc = NULL;
        if (api_client_json("bench", ap->api, "GET", "/v1/services", NULL, 1000, &doc) == 0) {
            cJSON_Delete(doc);
            return 0;
        }
        sleep_ms(100);
    }
    return PL_ETIMEOUT;
}

static void agent_stop(struct agent_proc *ap)
{
    if (ap->pid > 0) {
        kill(ap->pid, SIGTERM);
        int st;
        for (int i = 0; i < 150 && waitpid(ap->pid, &st, WNOHANG) == 0; i++)
            sleep_ms(100);
        if (waitpid(ap->pid, &st, WNOHANG) == 0) {
            kill(ap->pid, SIGKILL);
            waitpid(ap->pid, &st, 0);
        }
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ap->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "platelet bench heal: could not remove %s\n", ap->dir);
}

static cJSON *get_json(const char *api, const char *path)
{
    cJSON *doc = NULL;
    if (api_client_json("platelet bench heal", api, "GET", path, NULL, 3000, &doc) != 0)
        return NULL;
    return doc;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Waits until the service is healthy with no open incident; returns its incident count. */
static int wait_calm(const char *api, uint64_t timeout_ms, double *incidents)
{
    uint64_t end = wall_ms() + timeout_ms;
    while (wall_ms() < end) {
        cJSON *doc = get_json(api, "/v1/services");
        if (doc != NULL) {
            const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "services"), 0);
            bool ok = s && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "healthy")) &&
                      cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s, "open_incident"));
            double n = s ? num(s, "incidents") : NAN;
            cJSON_Delete(doc);
            if (ok) {
                *incidents = n;
                return 0;
            }
        }
        sleep_ms(50);
    }
    return PL_ETIMEOUT;
}

struct run_result {
    double detect_ms, healthy_ms;
};

/* The newest incident's detection and fault-to-healthy times, relative to fault_ms. */
static int read_incident(const char *api, uint64_t fault_ms, struct run_result *r)
{
    cJSON *doc = get_json(api, "/v1/incidents");
    if (doc == NULL)
        return PL_EPROTO;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "incidents");
    const cJSON *inc = cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1);
    int rc = PL_ENOTFOUND;
    if (inc != NULL && strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inc, "outcome"))
                                  ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inc, "outcome"))
                                  : "",
                              "healed") == 0) {
        r->detect_ms = num(inc, "opened_ms") - (double)fault_ms;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(inc, "timeline"))
        {
            const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "kind"));
            if (k && strcmp(k, "healthy") == 0) {
                r->healthy_ms = num(e, "t_ms") - (double)fault_ms;
                rc = 0;
            }
        }
    }
    cJSON_Delete(doc);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct stats {
    double min, p50, p95, max, mean;
    int n;
};

static struct stats stats_of(double *v, int n)
{
    struct stats s = {NAN, NAN, NAN, NAN, NAN, n};
    if (n == 0)
        return s;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    s.min = v[0];
    s.max = v[n - 1];
    s.mean = sum / n;
    s.p50 = v[(n - 1) / 2];
    s.p95 = v[(int)ceil(0.95 * n) - 1];
    return s;
}

static int fault_runs(const char *api, int svc_port, const char *fault, int runs, double *detect,
                      double *healthy, int *failed)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", svc_port, fault);
    int n = 0;
    *failed = 0;
    for (int i = 0; i < runs; i++) {
        double before;
        if (wait_calm(api, 120000, &before) != 0)
            return PL_ETIMEOUT;
        sleep_ms(300); /* let the check and scrape timers settle on the new process */
        uint64_t fault_ms = wall_ms();
        http_get_quiet(url, 500);
        double after = before;
        uint64_t end = wall_ms() + 120000;
        while (wall_ms() < end && (wait_calm(api, 120000, &after) != 0 || after <= before))
            sleep_ms(50);
        struct run_result r;
        bool measured = after > before && read_incident(api, fault_ms, &r) == 0;
        if (measured) {
            detect[n] = r.detect_ms;
            healthy[n] = r.healthy_ms;
            n++;
            fprintf(stderr, "  %s run %d/%d: detected %.0f ms, healthy %.0f ms\n", fault, i + 1,
                    runs, r.detect_ms, r.healthy_ms);
        } else {
            (*failed)++;
            fprintf(stderr, "  %s run %d/%d: not measured\n", fault, i + 1, runs);
        }
    }
    return n;
}

static int proc_cpu_rss(pid_t pid, double *cpu_s, double *rss_mb)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return PL_EMALFORMED;
    *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    char line[256];
    *rss_mb = NAN;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss_mb = strtod(line + 6, NULL) / 1024.0;
    fclose(f);
    return 0;
}

static void print_stats(const char *name, struct stats s, bool json, cJSON *out)
{
    if (json) {
        cJSON *o = cJSON_AddObjectToObject(out, name);
        cJSON_AddNumberToObject(o, "n", s.n);
        cJSON_AddNumberToObject(o, "min_ms", s.min);
        cJSON_AddNumberToObject(o, "p50_ms", s.p50);
        cJSON_AddNumberToObject(o, "p95_ms", s.p95);
        cJSON_AddNumberToObject(o, "max_ms", s.max);
        cJSON_AddNumberToObject(o, "mean_ms", s.mean);
        return;
    }
    printf("%-24s n=%-3d min %7.0f  p50 %7.0f  p95 %7.0f  max %7.0f  mean %7.0f ms\n", name, s.n,
           s.min, s.p50, s.p95, s.max, s.mean);
}

int bench_heal(int argc, char **argv)
{
    static const char cmd[] = "platelet bench heal";
    uint64_t runs = 20, idle_s = 30, port_base = 29400;
    bool json = false;
    struct cli_flag flags[] = {
        {"--runs", CLI_U64, &runs, "faults of each kind (default 20)", false, false},
        {"--idle-s", CLI_U64, &idle_s, "idle measurement with 10 services (default 30 s)", false,
         false},
        {"--port-base", CLI_U64, &port_base, "first loopback port used (default 29400)", false,
         false},
        {"--json", CLI_BOOL, &json, "print one JSON document", false, false},
        {NULL, 0, NULL, NULL, false, false},
    };
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet bench heal [--runs N] [--idle-s S] [--json]", flags, argc,
                       argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (runs < 1 || runs > RUNS_MAX || idle_s < 1 || idle_s > 3600 || port_base < 1024 ||
        port_base > 65000)
        return cli_fail(cmd, "--runs 1..%d, --idle-s 1..3600, --port-base 1024..65000", RUNS_MAX);
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0)
        return cli_fail(cmd, "cannot find this binary: %s", strerror(errno));
    self[sl] = '\0';

    static double detect[2][RUNS_MAX], healthy[2][RUNS_MAX];
    int n[2] = {0, 0}, failed[2] = {0, 0};
    const char *faults[2] = {"/fault/crash", "/fault/hang"};
    struct agent_proc ap;
    memset(&ap, 0, sizeof(ap));
    rc = agent_start(self, &ap, (int)port_base, 1, true);
    if (rc != 0) {
        agent_stop(&ap);
        return cli_fail(cmd, "cannot start the agent: %s", pl_strerror(rc));
    }
    for (int k = 0; k < 2; k++) {
        int got = fault_runs(ap.api, (int)port_base + 10, faults[k], (int)runs, detect[k],
                             healthy[k], &failed[k]);
        if (got < 0) {
            agent_stop(&ap);
            return cli_fail(cmd, "%s: the service did not come back: %s", faults[k],
                            pl_strerror(got));
        }
        n[k] = got;
    }
    agent_stop(&ap);

    /* Idle cost: ten services with an HTTP check and a metrics scrape each. */
    memset(&ap, 0, sizeof(ap));
    rc = agent_start(self, &ap, (int)port_base + 100, SERVICES_IDLE, true);
    double cpu0 = NAN, cpu1 = NAN, rss = NAN, rss_max = 0;
    if (rc == 0) {
        sleep_ms(5000); /* past start-up */
        proc_cpu_rss(ap.pid, &cpu0, &rss);
        for (uint64_t i = 0; i < idle_s; i++) {
            sleep_ms(1000);
            if (proc_cpu_rss(ap.pid, &cpu1, &rss) == 0 && rss > rss_max)
                rss_max = rss;
        }
    }
    agent_stop(&ap);
    double idle_cpu = (cpu1 - cpu0) / (double)idle_s;

    struct stats sd0 = stats_of(detect[0], n[0]), sh0 = stats_of(healthy[0], n[0]);
    struct stats sd1 = stats_of(detect[1], n[1]), sh1 = stats_of(healthy[1], n[1]);
    if (json) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "bench", "heal");
        cJSON_AddNumberToObject(out, "runs", (double)runs);
        print_stats("crash_detect", sd0, true, out);
        print_stats("crash_fault_to_healthy", sh0, true, out);
        cJSON_AddNumberToObject(out, "crash_not_measured", failed[0]);
        print_stats("hang_detect", sd1, true, out);
        print_stats("hang_fault_to_healthy", sh1, true, out);
        cJSON_AddNumberToObject(out, "hang_not_measured", failed[1]);
        cJSON_AddNumberToObject(out, "idle_services", SERVICES_IDLE);
        cJSON_AddNumberToObject(out, "idle_cpu_fraction", idle_cpu);
        cJSON_AddNumberToObject(out, "idle_rss_mb_max", rss_max);
        api_client_print_json(out, 1);
        cJSON_Delete(out);
    } else {
        printf("bench heal: %" PRIu64 " runs per fault, default policy (check 2 s x 3, timeout "
               "1 s, grace 5 s)\n", runs);
        print_stats("crash: detection", sd0, false, NULL);
        print_stats("crash: fault->healthy", sh0, false, NULL);
        print_stats("hang: detection", sd1, false, NULL);
        print_stats("hang: fault->healthy", sh1, false, NULL);
        printf("not measured: crash %d, hang %d\n", failed[0], failed[1]);
        printf("agent idle with %d services: CPU %.2f %% of a core over %" PRIu64
               " s, RSS max %.1f MiB\n", SERVICES_IDLE, idle_cpu * 100, idle_s, rss_max);
    }
    return 0;
}
