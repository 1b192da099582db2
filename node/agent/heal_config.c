/*
 * Parsing and checking the healing module's config (heal_config.h). Everything is checked
 * before the module starts anything, so a typo stops the agent with the JSON path named.
 */
#include "heal_config.h"

#include "pl_err.h"
#include "pl_text.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const struct config_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(const struct config_ctx *c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->err_size, "%s: %s", c->source, msg);
    return PL_ECONFIG;
}

int heal_signal_parse(const char *text, int *out)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"TERM", SIGTERM}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"HUP", SIGHUP},
                {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}};
    const char *p = strncmp(text, "SIG", 3) == 0 ? text + 3 : text;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (strcmp(p, sigs[i].name) == 0) {
            *out = sigs[i].sig;
            return 0;
        }
    }
    char *end;
    long n = strtol(text, &end, 10);
    if (text[0] != '\0' && *end == '\0' && n > 0 && n < 65) {
        *out = (int)n;
        return 0;
    }
    return PL_EMALFORMED;
}

static void argv_free(struct heal_argv *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    a->n = 0;
    a->v[0] = NULL;
}

static int argv_push(const struct config_ctx *c, struct heal_argv *a, const char *path,
                     const char *s)
{
    if (a->n >= HEAL_ARGV_MAX)
        return fail(c, "%s: more than %d words", path, HEAL_ARGV_MAX);
    a->v[a->n] = strdup(s);
    if (a->v[a->n] == NULL)
        return -ENOMEM;
    a->n++;
    a->v[a->n] = NULL;
    return 0;
}

/* A JSON array of strings into argv (appended). Absent: 0, untouched. */
static int get_argv(const struct config_ctx *c, const cJSON *obj, const char *path,
                    const char *key, struct heal_argv *a, bool required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL) {
        if (required)
            return fail(c, "%s.%s: missing (a list of strings)", path, key);
        return 0;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return fail(c, "%s.%s: expected a non-empty list of strings", path, key);
    const cJSON *item;
    int i = 0, rc;
    char p[160];
    snprintf(p, sizeof(p), "%s.%s", path, key);
    cJSON_ArrayForEach(item, v)
    {
        if (!cJSON_IsString(item))
            return fail(c, "%s[%d]: expected a string", p, i);
        if ((rc = argv_push(c, a, p, item->valuestring)) != 0)
            return rc;
        i++;
    }
    return 0;
}

/* Checks the "url" member of the object at path. */
static int check_url(const struct config_ctx *c, const char *path, const char *url)
{
    const char *rest = NULL;
    if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    if (rest == NULL || rest[0] == '\0' || rest[0] == '/' || rest[0] == ':' ||
        strpbrk(url, " \t\r\n") != NULL)
        return fail(c, "%s.url: '%s' is not an http:// or https:// URL with a host", path, url);
    return 0;
}

/* A relative command with a slash ("build/platelet") is relative to the config file's
 * folder when no cwd is given, so a config works whichever folder the agent starts in;
 * with a cwd it is relative to the cwd, as exec would see it. */
static int resolve_command(const struct config_ctx *c, const char *path,
                           struct heal_service_cfg *s)
{
    const char *cmd = s->argv.v[0];
    if (cmd[0] == '/' || strchr(cmd, '/') == NULL || s->cwd[0] != '\0')
        return 0;
    const char *slash = strrchr(c->source, '/');
    char dir[PATH_MAX];
    if (strcmp(c->source, "flags") == 0 || slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - c->source), c->source);
    /* Absolute now: the agent's folder could change, the file's place does not. A missing
     * file is not refused here; the start fails and is retried like any crash. */
    char cwd[PATH_MAX] = "";
    if (dir[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
        return fail(c, "%s.command: cannot resolve '%s': %s", path, cmd, strerror(errno));
    char joined[PATH_MAX * 3];
    snprintf(joined, sizeof(joined), "%s%s%s/%s", cwd, cwd[0] ? "/" : "", dir, cmd);
    char *copy = strdup(joined);
    if (copy == NULL)
        return fail(c, "%s.command: out of memory", path);
    free(s->argv.v[0]);
    s->argv.v[0] = copy;
    return 0;
}

static int parse_check(const struct config_ctx *c, const cJSON *o, const char *path,
                       struct heal_check_cfg *k)
{
    static const char *const known[] = {"type",     "url",         "method",   "status",
                                        "address",  "command",     "timeout_ms", "interval_ms",
                                        "failures", "successes",   "kill_grace_ms", NULL};
    int rc;
    if (!cJSON_IsObject(o))
        return fail(c, "%s: expected an object", path);
    if ((rc = config_check_keys(c, o, path, known)) != 0)
        return rc;
    char type[16] = "";
    if ((rc = config_get_str(c, o, path, "type", type, sizeof(type))) != 0)
        return rc;
    k->timeout_ms = 1000;
    k->interval_ms = 2000;
    k->failures = 3;
    k->successes = 1;
    k->status = 200;
    snprintf(k->method, sizeof(k->method), "GET");
    uint64_t u;
    if (strcmp(type, "http") == 0) {
        k->type = HEAL_CHECK_HTTP;
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(o, "url");
        if (url == NULL)
            return fail(c, "%s.url: missing (an http check needs a URL)", path);
        if ((rc = config_get_str(c, o, path, "url", k->url, sizeof(k->url))) != 0)
            return rc;
        if ((rc = check_url(c, path, k->url)) != 0)
            return rc;
        if ((rc = config_get_str(c, o, path, "method", k->method, sizeof(k->method))) != 0)
            return rc;
        if (strcmp(k->method, "GET") != 0 && strcmp(k->method, "HEAD") != 0 &&
            strcmp(k->method, "POST") != 0)
            return fail(c, "%s.method: expected GET, HEAD or POST", path);
        u = (uint64_t)k->status;
        if ((rc = config_get_u64(c, o, path, "status", 100, 599, &u)) != 0)
            return rc;
        k->status = (long)u;
    } else if (strcmp(type, "tcp") == 0) {
        k->type = HEAL_CHECK_TCP;
        char addr[160] = "";
        if ((rc = config_get_str(c, o, path, "address", addr, sizeof(addr))) != 0)
            return rc;
        if (addr[0] == '\0' || pl_addr_split(addr, k->host, sizeof(k->host), &k->port) != 0 ||
            k->port == 0)
            return fail(c, "%s.address: expected HOST:PORT", path);
    } else if (strcmp(type, "exec") == 0) {
        k->type = HEAL_CHECK_EXEC;
        if ((rc = get_argv(c, o, path, "command", &k->command, true)) != 0)
            return rc;
    } else {
        return fail(c, "%s.type: expected \"http\", \"tcp\" or \"exec\"", path);
    }
    if ((rc = config_get_u64(c, o, path, "timeout_ms", 10, 600000, &k->timeout_ms)) != 0 ||
        (rc = config_get_u64(c, o, path, "interval_ms", 50, 3600000, &k->interval_ms)) != 0)
        return rc;
    u = k->failures;
    if ((rc = config_get_u64(c, o, path, "failures", 1, 1000, &u)) != 0)
        return rc;
    k->failures = (uint32_t)u;
    u = k->successes;
    if ((rc = config_get_u64(c, o, path, "successes", 1, 1000, &u)) != 0)
        return rc;
    k->successes = (uint32_t)u;
    k->kill_grace_ms = 1000;
    if ((rc = config_get_u64(c, o, path, "kill_grace_ms", 0, 600000, &k->kill_grace_ms)) != 0)
        return rc;
    return 0;
}

static int parse_metrics(const struct config_ctx *c, const cJSON *o, const char *path,
                         struct heal_metrics_cfg *m)
{
    static const char *const known[] = {"url",      "interval_ms", "timeout_ms", "requests",
                                        "errors",   "latency",     NULL};
    int rc;
    if (!cJSON_IsObject(o))
        return fail(c, "%s: expected an object", path);
    if ((rc = config_check_keys(c, o, path, known)) != 0)
        return rc;
    m->enabled = true;
    m->interval_ms = 1000;
    m->timeout_ms = 1000;
    if (cJSON_GetObjectItemCaseSensitive(o, "url") == NULL)
        return fail(c, "%s.url: missing", path);
    if ((rc = config_get_str(c, o, path, "url", m->url, sizeof(m->url))) != 0)
        return rc;
    if ((rc = check_url(c, path, m->url)) != 0)
        return rc;
    if ((rc = config_get_u64(c, o, path, "interval_ms", 100, 3600000, &m->interval_ms)) != 0 ||
        (rc = config_get_u64(c, o, path, "timeout_ms", 10, 600000, &m->timeout_ms)) != 0 ||
        (rc = config_get_str(c, o, path, "requests", m->requests, sizeof(m->requests))) != 0 ||
        (rc = config_get_str(c, o, path, "errors", m->errors, sizeof(m->errors))) != 0 ||
        (rc = config_get_str(c, o, path, "latency", m->latency, sizeof(m->latency))) != 0)
        return rc;
    return 0;
}

static int get_actions(const struct config_ctx *c, const cJSON *o, const char *path,
                       const char *key, uint32_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL)
        return 0;
    if (cJSON_IsBool(v) && strcmp(key, "requires_approval") == 0) {
        /* true: every action but escalation waits for a human. */
        *out = cJSON_IsTrue(v) ? ((1u << HEAL_ACT_COUNT) - 1) & ~HEAL_ACT_BIT(HEAL_ACT_NONE) &
                                     ~HEAL_ACT_BIT(HEAL_ACT_ESCALATE)
                               : 0;
        return 0;
    }
    if (!cJSON_IsArray(v))
        return fail(c, "%s.%s: expected a list of action names%s", path, key,
                    strcmp(key, "requires_approval") == 0 ? " or true/false" : "");
    uint32_t set = 0;
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, v)
    {
        enum heal_action a;
        if (!cJSON_IsString(item) || heal_action_parse(item->valuestring, &a) != 0)
            return fail(c,
                        "%s.%s[%d]: expected one of restart, retry, isolate, scale, "
                        "state_repair, config_sync, escalate, wait, cleanup",
                        path, key, i);
        set |= HEAL_ACT_BIT(a);
        i++;
    }
    *out = set;
    return 0;
}

static int get_u32(const struct config_ctx *c, const cJSON *o, const char *path, const char *key,
                   uint32_t *out)
{
    uint64_t u = *out;
    int rc = config_get_u64(c, o, path, key, 0, UINT32_MAX, &u);
    if (rc == 0)
        *out = (uint32_t)u;
    return rc;
}

static int parse_policy(const struct config_ctx *c, const cJSON *o, const char *path,
                        struct heal_policy *p)
{
    static const char *const known[] = {
        "thresholds",         "error_window_ms",     "resource_window_ms", "latency_window_ms",
        "error_min_requests", "ewma_alpha",          "latency_warmup",     "horizon_ms",
        "trend_window_ms",    "trend_min_samples",   "trend_min_r2",       "memory_limit_mb",
        "allowed_actions",    "requires_approval",   "approval_timeout_ms", "restart_budget",
        "restart_window_ms",  "backoff_initial_ms",  "backoff_max_ms",     "backoff_reset_ms",
        "retry_max",          "retry_base_ms",       "retry_cap_ms",       "cluster_wait_ms",
        "learning",           NULL};
    static const char *const known_thr[] = {"cpu",        "memory",     "latency_ms",
                                            "latency_factor", "error_rate", NULL};
    int rc;
    if (!cJSON_IsObject(o))
        return fail(c, "%s: expected an object", path);
    if ((rc = config_check_keys(c, o, path, known)) != 0)
        return rc;
    char tp[160];
    snprintf(tp, sizeof(tp), "%s.thresholds", path);
    const cJSON *thr = cJSON_GetObjectItemCaseSensitive(o, "thresholds");
    if (thr != NULL) {
        if (!cJSON_IsObject(thr))
            return fail(c, "%s: expected an object", tp);
        if ((rc = config_check_keys(c, thr, tp, known_thr)) != 0)
            return rc;
        if ((rc = config_get_double(c, thr, tp, "cpu", -1e9, 1e9, &p->cpu)) != 0 ||
            (rc = config_get_double(c, thr, tp, "memory", -1e9, 1e9, &p->memory)) != 0 ||
            (rc = config_get_double(c, thr, tp, "latency_ms", -1e9, 1e9, &p->latency_ms)) != 0 ||
            (rc = config_get_double(c, thr, tp, "latency_factor", -1e9, 1e9,
                                    &p->latency_factor)) != 0 ||
            (rc = config_get_double(c, thr, tp, "error_rate", -1e9, 1e9, &p->error_rate)) != 0)
            return rc;
    }
    uint64_t mem_mb = p->memory_limit_bytes >> 20;
    if ((rc = config_get_u64(c, o, path, "error_window_ms", 0, UINT32_MAX, &p->error_window_ms)) ||
        (rc = config_get_u64(c, o, path, "resource_window_ms", 0, UINT32_MAX,
                             &p->resource_window_ms)) ||
        (rc = config_get_u64(c, o, path, "latency_window_ms", 0, UINT32_MAX,
                             &p->latency_window_ms)) ||
        (rc = config_get_u64(c, o, path, "error_min_requests", 0, UINT32_MAX,
                             &p->error_min_requests)) ||
        (rc = config_get_double(c, o, path, "ewma_alpha", -1e9, 1e9, &p->ewma_alpha)) ||
        (rc = get_u32(c, o, path, "latency_warmup", &p->latency_warmup)) ||
        (rc = config_get_u64(c, o, path, "horizon_ms", 0, UINT64_MAX / 2, &p->horizon_ms)) ||
        (rc = config_get_u64(c, o, path, "trend_window_ms", 0, UINT64_MAX / 2,
                             &p->trend_window_ms)) ||
        (rc = get_u32(c, o, path, "trend_min_samples", &p->trend_min_samples)) ||
        (rc = config_get_double(c, o, path, "trend_min_r2", -1e9, 1e9, &p->trend_min_r2)) ||
        (rc = config_get_u64(c, o, path, "memory_limit_mb", 0, 1u << 30, &mem_mb)) ||
        (rc = get_actions(c, o, path, "allowed_actions", &p->allowed_actions)) ||
        (rc = get_actions(c, o, path, "requires_approval", &p->requires_approval)) ||
        (rc = config_get_u64(c, o, path, "approval_timeout_ms", 0, UINT64_MAX / 2,
                             &p->approval_timeout_ms)) ||
        (rc = get_u32(c, o, path, "restart_budget", &p->restart_budget)) ||
        (rc = config_get_u64(c, o, path, "restart_window_ms", 0, UINT64_MAX / 2,
                             &p->restart_window_ms)) ||
        (rc = config_get_u64(c, o, path, "backoff_initial_ms", 0, UINT64_MAX / 2,
                             &p->backoff_initial_ms)) ||
        (rc = config_get_u64(c, o, path, "backoff_max_ms", 0, UINT64_MAX / 2,
                             &p->backoff_max_ms)) ||
        (rc = config_get_u64(c, o, path, "backoff_reset_ms", 0, UINT64_MAX / 2,
                             &p->backoff_reset_ms)) ||
        (rc = get_u32(c, o, path, "retry_max", &p->retry_max)) ||
        (rc = config_get_u64(c, o, path, "retry_base_ms", 0, UINT64_MAX / 2, &p->retry_base_ms)) ||
        (rc = config_get_u64(c, o, path, "retry_cap_ms", 0, UINT64_MAX / 2, &p->retry_cap_ms)) ||
        (rc = config_get_u64(c, o, path, "cluster_wait_ms", 0, UINT64_MAX / 2,
                             &p->cluster_wait_ms)) ||
        (rc = config_get_bool(c, o, path, "learning", &p->learning)))
        return rc;
    p->memory_limit_bytes = mem_mb << 20;
    const char *field = NULL;
    char why[128];
    if (heal_policy_check(p, &field, why, sizeof(why)) != 0) {
        bool is_thr = strcmp(field, "cpu") == 0 || strcmp(field, "memory") == 0 ||
                      strcmp(field, "latency_ms") == 0 || strcmp(field, "latency_factor") == 0 ||
                      strcmp(field, "error_rate") == 0;
        return fail(c, "%s.%s: out of range: expected %s", is_thr ? tp : path, field, why);
    }
    return 0;
}

static int parse_env(const struct config_ctx *c, const cJSON *o, const char *path,
                     struct heal_argv *env)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "env");
    if (v == NULL)
        return 0;
    if (!cJSON_IsObject(v))
        return fail(c, "%s.env: expected an object of strings", path);
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        if (!cJSON_IsString(item) || item->string[0] == '\0' || strchr(item->string, '=') != NULL)
            return fail(c, "%s.env.%s: expected a string value and a name without '='", path,
                        item->string);
        char kv[1024];
        if ((size_t)snprintf(kv, sizeof(kv), "%s=%s", item->string, item->valuestring) >=
            sizeof(kv))
            return fail(c, "%s.env.%s: longer than %zu characters", path, item->string,
                        sizeof(kv) - 1);
        int rc = argv_push(c, env, path, kv);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int parse_placement(const struct config_ctx *c, const cJSON *o, const char *path,
                           struct heal_placement_cfg *p)
{
    static const char *const known[] = {"replicas", "nodes", "lease_ms", NULL};
    int rc;
    if (!cJSON_IsObject(o))
        return fail(c, "%s: expected an object {\"replicas\": 1, \"nodes\": [...], "
                       "\"lease_ms\": N}", path);
    if ((rc = config_check_keys(c, o, path, known)) != 0)
        return rc;
    p->enabled = true;
    p->replicas = 1;
    p->lease_ms = 5000;
    uint64_t replicas = 1;
    if ((rc = config_get_u64(c, o, path, "replicas", 0, UINT32_MAX, &replicas)) != 0)
        return rc;
    if (replicas != 1)
        return fail(c, "%s.replicas: only 1 is supported (one copy, moved off dead nodes)",
                    path);
    if ((rc = config_get_u64(c, o, path, "lease_ms", 100, 3600000, &p->lease_ms)) != 0)
        return rc;
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(o, "nodes");
    if (nodes == NULL)
        return fail(c, "%s.nodes: missing (the nodes that may run it)", path);
    if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) == 0 ||
        cJSON_GetArraySize(nodes) > HEAL_PLACEMENT_NODES_MAX)
        return fail(c, "%s.nodes: expected a list of 1 to %d node names", path,
                    HEAL_PLACEMENT_NODES_MAX);
    const cJSON *item;
    cJSON_ArrayForEach(item, nodes)
    {
        int i = p->nnodes;
        if (!cJSON_IsString(item) || item->valuestring[0] == '\0' ||
            strlen(item->valuestring) >= HEAL_NODE_NAME_MAX)
            return fail(c, "%s.nodes[%d]: expected a node name of 1 to %d bytes", path, i,
                        HEAL_NODE_NAME_MAX - 1);
        for (int k = 0; k < i; k++)
            if (strcmp(p->nodes[k], item->valuestring) == 0)
                return fail(c, "%s.nodes[%d]: '%s' is already nodes[%d]", path, i,
                            item->valuestring, k);
        snprintf(p->nodes[i], sizeof(p->nodes[i]), "%s", item->valuestring);
        p->nnodes++;
    }
    return 0;
}

static int parse_service(const struct config_ctx *c, const cJSON *o, const char *path,
                         struct heal_service_cfg *s, const struct heal_config *cfg, int index)
{
    static const char *const known[] = {
        "name",      "type",    "command",      "args",        "env",    "cwd",
        "stop_signal", "grace_ms", "restart",   "isolate",     "scale",  "state_repair",
        "config_file", "log",   "checks",       "metrics",     "policy", "verify_ms",
        "start_ms",  "disk_path", "placement", "cleanup", NULL};
    int rc;
    if (!cJSON_IsObject(o))
        return fail(c, "%s: expected an object", path);
    if ((rc = config_check_keys(c, o, path, known)) != 0)
        return rc;
    if (cJSON_GetObjectItemCaseSensitive(o, "name") == NULL)
        return fail(c, "%s.name: missing", path);
    if ((rc = config_get_str(c, o, path, "name", s->name, sizeof(s->name))) != 0)
        return rc;
    if (s->name[0] == '\0' || strspn(s->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_.-") != strlen(s->name))
        return fail(c, "%s.name: expected letters, digits, '_', '.' or '-'", path);
    for (int i = 0; i < index; i++)
        if (strcmp(cfg->services[i].name, s->name) == 0)
            return fail(c, "%s.name: '%s' is already services[%d]", path, s->name, i);
    char type[16] = "supervised";
    if ((rc = config_get_str(c, o, path, "type", type, sizeof(type))) != 0)
        return rc;
    if (strcmp(type, "supervised") == 0)
        s->supervised = true;
    else if (strcmp(type, "external") == 0)
        s->supervised = false;
    else
        return fail(c, "%s.type: expected \"supervised\" or \"external\"", path);

    s->stop_signal = SIGTERM;
    s->grace_ms = 5000;
    s->log_max_bytes = 1 << 20;
    s->log_keep = 3;
    s->verify_ms = 30000;
    s->start_ms = 500;
    if (s->supervised) {
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(o, "command");
        if (cmd == NULL)
            return fail(c, "%s.command: missing (a supervised service needs its command)", path);
        if (!cJSON_IsString(cmd))
            return fail(c, "%s.command: expected a string", path);
        if (cmd->valuestring[strspn(cmd->valuestring, " \t\r\n")] == '\0')
            return fail(c, "%s.command: blank; expected a program name or path", path);
        if ((rc = argv_push(c, &s->argv, path, cmd->valuestring)) != 0)
            return rc;
        if ((rc = get_argv(c, o, path, "args", &s->argv, false)) != 0)
            return rc;
    } else if (cJSON_GetObjectItemCaseSensitive(o, "command") != NULL) {
        return fail(c, "%s.command: an external service is not started by the agent; "
                       "give \"restart\" instead", path);
    }
    if ((rc = parse_env(c, o, path, &s->env)) != 0 ||
        (rc = config_get_str(c, o, path, "cwd", s->cwd, sizeof(s->cwd))) != 0)
        return rc;
    if (s->supervised && (rc = resolve_command(c, path, s)) != 0)
        return rc;
    char sig[16] = "";
    if ((rc = config_get_str(c, o, path, "stop_signal", sig, sizeof(sig))) != 0)
        return rc;
    if (sig[0] != '\0' && heal_signal_parse(sig, &s->stop_signal) != 0)
        return fail(c, "%s.stop_signal: expected a signal name like \"SIGTERM\"", path);
    uint64_t keep = s->log_keep;
    if ((rc = config_get_u64(c, o, path, "grace_ms", 0, 3600000, &s->grace_ms)) != 0 ||
        (rc = config_get_u64(c, o, path, "verify_ms", 100, 3600000, &s->verify_ms)) != 0 ||
        (rc = config_get_u64(c, o, path, "start_ms", 0, 3600000, &s->start_ms)) != 0 ||
        (rc = get_argv(c, o, path, "restart", &s->restart_cmd, false)) != 0 ||
        (rc = get_argv(c, o, path, "isolate", &s->isolate_cmd, false)) != 0 ||
        (rc = get_argv(c, o, path, "scale", &s->scale_cmd, false)) != 0 ||
        (rc = get_argv(c, o, path, "state_repair", &s->state_repair_cmd, false)) != 0 ||
        (rc = get_argv(c, o, path, "cleanup", &s->cleanup_cmd, false)) != 0 ||
        (rc = config_get_str(c, o, path, "config_file", s->config_file,
                             sizeof(s->config_file))) != 0 ||
        (rc = config_get_str(c, o, path, "disk_path", s->disk_path, sizeof(s->disk_path))) != 0)
        return rc;
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(o, "log");
    if (log != NULL) {
        static const char *const known_log[] = {"max_bytes", "keep", NULL};
        char lp[160];
        snprintf(lp, sizeof(lp), "%s.log", path);
        if (!cJSON_IsObject(log))
            return fail(c, "%s: expected an object", lp);
        if ((rc = config_check_keys(c, log, lp, known_log)) != 0 ||
            (rc = config_get_u64(c, log, lp, "max_bytes", 4096, 1ull << 34, &s->log_max_bytes)) ||
            (rc = config_get_u64(c, log, lp, "keep", 0, 100, &keep)) != 0)
            return rc;
        s->log_keep = (uint32_t)keep;
    }
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(o, "checks");
    if (checks != NULL) {
        if (!cJSON_IsArray(checks))
            return fail(c, "%s.checks: expected a list", path);
        if (cJSON_GetArraySize(checks) > HEAL_CHECKS_MAX)
            return fail(c, "%s.checks: more than %d checks", path, HEAL_CHECKS_MAX);
        const cJSON *item;
        cJSON_ArrayForEach(item, checks)
        {
            char cp[160];
            snprintf(cp, sizeof(cp), "%s.checks[%d]", path, s->nchecks);
            if ((rc = parse_check(c, item, cp, &s->checks[s->nchecks])) != 0)
                return rc;
            s->nchecks++;
        }
    }
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(o, "metrics");
    if (metrics != NULL) {
        char mp[160];
        snprintf(mp, sizeof(mp), "%s.metrics", path);
        if ((rc = parse_metrics(c, metrics, mp, &s->metrics)) != 0)
            return rc;
    }
    heal_policy_init(&s->policy);
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(o, "policy");
    if (policy != NULL) {
        char pp[160];
        snprintf(pp, sizeof(pp), "%s.policy", path);
        if ((rc = parse_policy(c, policy, pp, &s->policy)) != 0)
            return rc;
    }
    const cJSON *placement = cJSON_GetObjectItemCaseSensitive(o, "placement");
    if (placement != NULL) {
        char pp[160];
        snprintf(pp, sizeof(pp), "%s.placement", path);
        if ((rc = parse_placement(c, placement, pp, &s->placement)) != 0)
            return rc;
        if (!s->supervised)
            return fail(c, "%s: an external service cannot be placed (the agent must start "
                           "and stop it; use \"type\": \"supervised\")", pp);
    }
    if (!s->supervised && s->restart_cmd.n == 0 && s->nchecks == 0)
        return fail(c, "%s: an external service needs checks (there is nothing else to watch)",
                    path);
    return 0;
}

static void service_free(struct heal_service_cfg *s)
{
    argv_free(&s->argv);
    argv_free(&s->env);
    argv_free(&s->restart_cmd);
    argv_free(&s->isolate_cmd);
    argv_free(&s->scale_cmd);
    argv_free(&s->state_repair_cmd);
    argv_free(&s->cleanup_cmd);
    for (int i = 0; i < s->nchecks; i++)
        argv_free(&s->checks[i].command);
}

void heal_config_free(struct heal_config *cfg)
{
    if (cfg->services != NULL) {
        for (int i = 0; i < cfg->nservices; i++)
            service_free(&cfg->services[i]);
        free(cfg->services);
    }
    cfg->services = NULL;
    cfg->nservices = 0;
}

int heal_config_parse(const cJSON *root, const char *source, struct heal_config *out, char *err,
                      size_t err_size)
{
    struct config_ctx c = {source, err, err_size};
    struct heal_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.webhook_timeout_ms = 5000;
    int rc = correlate_cfg_parse(root, source, &cfg.correlate, err, err_size);
    if (rc != 0)
        goto fail;
    const cJSON *services = cJSON_GetObjectItemCaseSensitive(root, "services");
    if (services != NULL) {
        if (!cJSON_IsArray(services)) {
            rc = fail(&c, "services: expected a list of services");
            goto fail;
        }
        int n = cJSON_GetArraySize(services);
        if (n > HEAL_SERVICES_MAX) {
            rc = fail(&c, "services: more than %d services", HEAL_SERVICES_MAX);
            goto fail;
        }
        cfg.services = calloc((size_t)(n > 0 ? n : 1), sizeof(*cfg.services));
        if (cfg.services == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, services)
        {
            char path[64];
            snprintf(path, sizeof(path), "services[%d]", cfg.nservices);
            /* Count it first so heal_config_free() releases a half-parsed service too. */
            cfg.nservices++;
            rc = parse_service(&c, item, path, &cfg.services[cfg.nservices - 1], &cfg,
                               cfg.nservices - 1);
            if (rc != 0)
                goto fail;
        }
    }
    const cJSON *hooks = cJSON_GetObjectItemCaseSensitive(root, "webhooks");
    if (hooks != NULL) {
        if (!cJSON_IsArray(hooks)) {
            rc = fail(&c, "webhooks: expected a list of {\"url\": ..., \"min_level\": 1-5}");
            goto fail;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, hooks)
        {
            static const char *const known[] = {"url", "min_level", NULL};
            char path[64];
            snprintf(path, sizeof(path), "webhooks[%d]", cfg.nwebhooks);
            if (cfg.nwebhooks >= HEAL_WEBHOOKS_MAX) {
                rc = fail(&c, "webhooks: more than %d", HEAL_WEBHOOKS_MAX);
                goto fail;
            }
            struct heal_webhook_cfg *w = &cfg.webhooks[cfg.nwebhooks];
            uint64_t lvl = 2;
            if (!cJSON_IsObject(item)) {
                rc = fail(&c, "%s: expected an object", path);
                goto fail;
            }
            if ((rc = config_check_keys(&c, item, path, known)) != 0 ||
                (rc = config_get_str(&c, item, path, "url", w->url, sizeof(w->url))) != 0 ||
                (rc = config_get_u64(&c, item, path, "min_level", 1, 5, &lvl)) != 0)
                goto fail;
            if ((rc = check_url(&c, path, w->url)) != 0)
                goto fail;
            w->min_level = (int)lvl;
            cfg.nwebhooks++;
        }
    }
    *out = cfg;
    return 0;

fail:
    heal_config_free(&cfg);
    return rc;
}
