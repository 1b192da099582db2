/*
 * Child agents on loopback (child_agent.h): ports, quiet HTTP and agent processes for the
 * commands that run a cluster of their own.
 */
#include "child_agent.h"

#include "pl_err.h"
#include "pl_rand.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t child_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t child_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void child_sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- loopback ports from the kernel ---- */

int child_bind(int type, const char *ip, int port)
{
    /* CLOEXEC: an agent forked later must not hold our probes open. */
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
        close(fd);
        return PL_EMALFORMED;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int child_bind_loopback(int type, int port)
{
    return child_bind(type, "127.0.0.1", port);
}

static bool port_free(int port)
{
    int t = child_bind_loopback(SOCK_STREAM, port), u = child_bind_loopback(SOCK_DGRAM, port);
    if (t >= 0)
        close(t);
    if (u >= 0)
        close(u);
    return t >= 0 && u >= 0;
}

/* The first port of the kernel's ephemeral range (where connect() takes source ports). */
static int ephemeral_low(void)
{
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2)
            lo = 32768;
        fclose(f);
    }
    return lo;
}

static pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pl_rand port_rnd;
static bool port_seeded;

void child_ports_seed(uint64_t seed)
{
    pthread_mutex_lock(&port_lock);
    pl_rand_seed(&port_rnd, seed ^ 0x9e3779b97f4a7c15ull);
    port_seeded = true;
    pthread_mutex_unlock(&port_lock);
}

/*
 * Taken below the kernel's ephemeral range: a port that is closed and bound again (a
 * restarted sample service, a flipped listener) must not meanwhile be the source port of
 * one of the thousands of check connections in TIME_WAIT, which would refuse the bind.
 */
int child_free_port(bool pair)
{
    static int given[512];
    static int ngiven;
    int lo = 15000, hi = ephemeral_low() - 2;
    if (hi - lo < 1000)
        return PL_ERANGE;
    pthread_mutex_lock(&port_lock);
    if (!port_seeded) {
        pl_rand_seed(&port_rnd, child_wall_ms() ^ (uint64_t)getpid());
        port_seeded = true;
    }
    int found = PL_EFULL;
    for (int attempt = 0; attempt < 1000 && found < 0; attempt++) {
        int p = lo + (int)pl_rand_below(&port_rnd, (uint64_t)(hi - lo));
        bool taken = false;
        for (int i = 0; i < ngiven; i++)
            taken |= given[i] == p || given[i] == p + 1 || given[i] + 1 == p;
        if (taken || !port_free(p) || (pair && !port_free(p + 1)))
            continue;
        if (ngiven < (int)(sizeof(given) / sizeof(given[0])))
            given[ngiven++] = p;
        found = p;
    }
    pthread_mutex_unlock(&port_lock);
    return found;
}

/* ---- quiet HTTP ---- */

struct body {
    char *p;
    size_t n;
};

static size_t body_write_cb(char *p, size_t size, size_t nmemb, void *data)
{
    struct body *b = data;
    size_t add = size * nmemb;
    if (b->n + add > 16u << 20)
        return 0;
    char *q = realloc(b->p, b->n + add + 1);
    if (q == NULL)
        return 0;
    memcpy(q + b->n, p, add);
    b->n += add;
    q[b->n] = '\0';
    b->p = q;
    return add;
}

long child_http(const char *addr, const char *method, const char *path, const char *body,
                long timeout_ms, char **out)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return -ENOMEM;
    char url[512];
    int unix_socket = strncmp(addr, "unix:", 5) == 0;
    snprintf(url, sizeof(url), "http://%s%s", unix_socket ? "localhost" : addr, path);
    struct body b = {NULL, 0};
    struct curl_slist *headers = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (unix_socket)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, addr + 5);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    /* A TCP API wants a token; the CLI's own variable gives it (api_client.c). */
    const char *token = getenv("PLATELET_TOKEN");
    if (!unix_socket && token != NULL && token[0] != '\0' && strpbrk(token, "\r\n") == NULL) {
        char line[600];
        snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, line);
    }
    if (body != NULL) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (headers != NULL)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (method != NULL && strcmp(method, body != NULL ? "POST" : "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    long status = PL_EPROTO;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    if (out != NULL)
        *out = b.p;
    else
        free(b.p);
    return status;
}

cJSON *child_get_json(const char *addr, const char *path)
{
    char *text = NULL;
    long st = child_http(addr, "GET", path, NULL, 5000, &text);
    cJSON *doc = st == 200 && text != NULL ? cJSON_Parse(text) : NULL;
    free(text);
    return doc;
}

double child_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *child_str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s != NULL ? s : "";
}

int child_proc_cpu_rss(pid_t pid, double *cpu_s, double *rss_mb)
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

/* ---- the sample service ---- */

/* One sample service object, `name` on host:`port`, with node-sample.json's settings. */
int child_sample_service(const char *bin, const char *name, const char *host, int port, char *out,
                         size_t size)
{
    host = host != NULL ? host : "127.0.0.1";
    int n = snprintf(
        out, size,
        "{\"name\": \"%s\", \"type\": \"supervised\", \"command\": \"%s\", "
        "\"args\": [\"sample-service\", \"--host\", \"%s\", \"--port\", \"%d\"], "
        "\"stop_signal\": \"SIGTERM\", "
        "\"grace_ms\": %d, \"start_ms\": %d, \"log\": {\"max_bytes\": 1048576, \"keep\": 3}, "
        "\"checks\": [{\"type\": \"http\", \"url\": \"http://%s:%d/health\", "
        "\"method\": \"GET\", \"status\": 200, \"timeout_ms\": %d, \"interval_ms\": %d, "
        "\"failures\": %d, \"kill_grace_ms\": %d}], "
        "\"metrics\": {\"url\": \"http://%s:%d/metrics\", \"interval_ms\": %d, "
        "\"requests\": \"sample_requests_total\", \"errors\": \"sample_errors_total\", "
        "\"latency\": \"sample_request_duration_seconds\"}, "
        "\"policy\": {\"restart_budget\": 1000}}",
        name, bin, host, port, SAMPLE_GRACE_MS, SAMPLE_START_MS, host, port,
        SAMPLE_CHECK_TIMEOUT_MS, SAMPLE_CHECK_INTERVAL_MS, SAMPLE_CHECK_FAILURES,
        SAMPLE_KILL_GRACE_MS, host, port, SAMPLE_METRICS_INTERVAL_MS);
    return n > 0 && (size_t)n < size ? 0 : PL_ETOOBIG;
}

/* ---- agents ---- */

int child_agent_binary(const char *given, char *out, size_t size)
{
    char path[PATH_MAX];
    if (given == NULL) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        if (n <= 0)
            return -errno;
        path[n] = '\0';
    } else if (realpath(given, path) == NULL) {
        return -errno;
    }
    if (access(path, X_OK) != 0)
        return -errno;
    if (strlen(path) >= size)
        return PL_ETOOBIG;
    memcpy(out, path, strlen(path) + 1);
    return 0;
}

static int spawn(struct child_agent *a)
{
    char cfg[300], data[300];
    snprintf(cfg, sizeof(cfg), "%s/agent.json", a->dir);
    snprintf(data, sizeof(data), "%s/data", a->dir);
    const char *argv[16];
    int n = 0;
    argv[n++] = a->bin;
    argv[n++] = "agent";
    argv[n++] = "--config";
    argv[n++] = cfg;
    argv[n++] = "--name";
    argv[n++] = a->name;
    argv[n++] = "--data-dir";
    argv[n++] = data;
    argv[n++] = "--bind";
    argv[n++] = a->bind;
    if (a->join[0] != '\0') {
        argv[n++] = "--join";
        argv[n++] = a->join;
    }
    if (a->enable_faults)
        argv[n++] = "--enable-faults";
    argv[n] = NULL;
    /* Its network namespace, entered by the child before it execs (as `ip netns exec`). */
    int nsfd = -1;
    if (a->netns[0] != '\0' && (nsfd = open(a->netns, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        if (nsfd >= 0)
            close(nsfd);
        return e;
    }
    if (pid == 0) {
        /* The agent (and through it its services) dies with us, even when we are killed. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(a->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0))
            _exit(126);
        signal(SIGPIPE, SIG_DFL); /* a harness that ignores it must not pass that on */
        execv(a->bin, (char *const *)argv);
        _exit(127);
    }
    if (nsfd >= 0)
        close(nsfd);
    a->pid = pid;
    a->paused = false;
    return 0;
}

int child_agent_wait_api(struct child_agent *a, uint64_t timeout_ms)
{
    for (uint64_t end = child_mono_ms() + timeout_ms; child_mono_ms() < end;) {
        if (child_http(a->api, "GET", "/v1/gossip/counters", NULL, 1000, NULL) == 200)
            return 0;
        int st;
        if (a->pid > 0 && waitpid(a->pid, &st, WNOHANG) == a->pid) {
            a->pid = 0;
            fprintf(stderr, "platelet: agent %s exited at start; its log: %s\n", a->name, a->log);
            return PL_ESTATE;
        }
        child_sleep_ms(100);
    }
    return PL_ETIMEOUT;
}

int child_agent_start(struct child_agent *a, const char *bin, const char *dir, const char *name,
                      const char *config, const char *join, bool enable_faults,
                      const struct child_agent_net *net)
{
    memset(a, 0, sizeof(*a));
    a->bin = bin;
    a->enable_faults = enable_faults;
    snprintf(a->name, sizeof(a->name), "%s", name);
    snprintf(a->join, sizeof(a->join), "%s", join != NULL ? join : "");
    if (dir == NULL) {
        const char *tmp = getenv("TMPDIR");
        snprintf(a->dir, sizeof(a->dir), "%s/platelet-agent.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(a->dir) == NULL) {
            a->dir[0] = '\0';
            return -errno;
        }
        a->own_dir = true;
    } else {
        snprintf(a->dir, sizeof(a->dir), "%s", dir);
        if (mkdir(a->dir, 0700) != 0 && errno != EEXIST)
            return -errno;
    }
    char cfg[300];
    snprintf(cfg, sizeof(cfg), "%s/agent.json", a->dir);
    snprintf(a->log, sizeof(a->log), "%s/agent.log", a->dir);
    FILE *f = fopen(cfg, "w");
    if (f == NULL)
        return -errno;
    fputs(config, f);
    if (fclose(f) != 0)
        return -errno;
    if (net != NULL) {
        snprintf(a->netns, sizeof(a->netns), "%s", net->netns);
        snprintf(a->bind, sizeof(a->bind), "%s", net->bind);
        snprintf(a->api, sizeof(a->api), "%s", net->api);
    } else {
        int gport = child_free_port(true);
        if (gport < 0)
            return PL_EFULL;
        snprintf(a->bind, sizeof(a->bind), "127.0.0.1:%d", gport);
        /* The agent's own Unix socket: no TCP port and no API token to hand around. */
        snprintf(a->api, sizeof(a->api), "unix:%s/data/api.sock", a->dir);
    }
    int rc = spawn(a);
    return rc != 0 ? rc : child_agent_wait_api(a, 20000);
}

int child_agent_restart(struct child_agent *a)
{
    if (a->pid > 0)
        return PL_ESTATE;
    int rc = spawn(a);
    return rc != 0 ? rc : child_agent_wait_api(a, 20000);
}

void child_agent_kill(struct child_agent *a)
{
    if (a->pid <= 0)
        return;
    kill(a->pid, SIGKILL);
    int st;
    waitpid(a->pid, &st, 0);
    a->pid = 0;
    a->paused = false;
}

int child_agent_pause(struct child_agent *a, bool pause)
{
    if (a->pid <= 0)
        return PL_ESTATE;
    if (kill(a->pid, pause ? SIGSTOP : SIGCONT) != 0)
        return -errno;
    a->paused = pause;
    return 0;
}

void child_agent_stop(struct child_agent *a, bool keep)
{
    if (a->pid > 0) {
        if (a->paused)
            kill(a->pid, SIGCONT);
        kill(a->pid, SIGTERM);
        int st;
        for (int i = 0; i < 150 && waitpid(a->pid, &st, WNOHANG) == 0; i++)
            child_sleep_ms(100);
        if (waitpid(a->pid, &st, WNOHANG) == 0) {
            kill(a->pid, SIGKILL);
            waitpid(a->pid, &st, 0);
        }
        a->pid = 0;
    }
    if (a->own_dir && a->dir[0] != '\0' && !keep) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "platelet: could not remove %s\n", a->dir);
        a->dir[0] = '\0';
    }
}
