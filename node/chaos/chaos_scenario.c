/*
 * The chaos scenario's parser and schedule (chaos_scenario.h).
 */
#include "chaos_scenario.h"

#include "agent_config.h"
#include "pl_err.h"
#include "pl_rand.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[CHAOS_KINDS] = {"kill",    "pause",      "partition",
                                                    "loss",    "delay",      "service",
                                                    "clock",   "dependency", "duplicate",
                                                    "disk_full", "disk_stall"};
static const char *const target_names[CHAOS_TARGETS] = {"one", "minority", "majority", "all",
                                                        "leader", "follower", "node",
                                                        "placed"};
static const char *const partition_names[CHAOS_PARTITIONS] = {"halves", "majority_minority",
                                                              "isolate", "ring", "bridge"};
/* The sample service's faults (node/sample/sample_service.c) but clear, which ends one. */
static const char *const service_faults[] = {"crash", "hang",      "errors", "slow",
                                             "unhealthy", "cpu", "leak",   NULL};

const char *chaos_kind_name(enum chaos_kind k) { return k < CHAOS_KINDS ? kind_names[k] : "?"; }
const char *chaos_target_name(enum chaos_target t)
{
    return t < CHAOS_TARGETS ? target_names[t] : "?";
}
const char *chaos_partition_name(enum chaos_partition p)
{
    return p < CHAOS_PARTITIONS ? partition_names[p] : "?";
}

static int fail(const struct config_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(const struct config_ctx *c, const char *fmt, ...)
{
    int n = snprintf(c->err, c->err_size, "%s: ", c->source);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < c->err_size)
        vsnprintf(c->err + n, c->err_size - (size_t)n, fmt, ap);
    va_end(ap);
    return PL_ECONFIG;
}

/* Seconds (a number, fractions allowed) as milliseconds. */
static int get_seconds(const struct config_ctx *c, const cJSON *o, const char *path,
                       const char *key, double min, double max, uint64_t *ms)
{
    double s = -1;
    int rc = config_get_double(c, o, path, key, min, max, &s);
    if (rc == 0 && s >= 0)
        *ms = (uint64_t)(s * 1000.0 + 0.5);
    return rc;
}

/* `name` in a NULL-terminated or counted list; its index, or -1. */
static int lookup(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n && names[i] != NULL; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

static int list_text(const char *const *names, int n, char *out, size_t size)
{
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < n && names[i] != NULL && off < size; i++)
        off += (size_t)snprintf(out + off, size - off, "%s%s", i ? ", " : "", names[i]);
    return 0;
}

/* A node's name "n1".."nN" as its index, or -1. */
static int node_index(const char *name, uint32_t nodes)
{
    if (name[0] != 'n' || name[1] < '1' || name[1] > '9' || name[2] != '\0')
        return -1;
    int i = name[1] - '1';
    return (uint32_t)i < nodes ? i : -1;
}

static int parse_nemesis(const struct config_ctx *c, const cJSON *o, const char *path,
                         const struct chaos_scenario *s, struct chaos_nemesis *n)
{
    static const char *const known[] = {"type",  "label", "target", "mode",   "peer",
                                        "rate",  "ms",    "jitter_ms", "fault", "query", "offset_ms",
                                        "at_s",  "duration_s", "repeat", "every_s", NULL};
    if (!cJSON_IsObject(o))
        return fail(c, "%s: expected an object", path);
    int rc = config_check_keys(c, o, path, known);
    if (rc != 0)
        return rc;
    char type[16] = "", target[48] = "", mode[24] = "", peer[8] = "", list[160];
    memset(n, 0, sizeof(*n));
    n->peer = -1;
    n->repeat = 1;
    n->duration_ms = 5000;
    if ((rc = config_get_str(c, o, path, "type", type, sizeof(type))) != 0)
        return rc;
    int k = lookup(kind_names, CHAOS_KINDS, type);
    list_text(kind_names, CHAOS_KINDS, list, sizeof(list));
    if (type[0] == '\0')
        return fail(c, "%s.type: required (one of %s)", path, list);
    if (k < 0)
        return fail(c, "%s.type: '%s' is not one of %s", path, type, list);
    n->kind = (enum chaos_kind)k;
    snprintf(n->label, sizeof(n->label), "%s", type);
    if ((rc = config_get_str(c, o, path, "label", n->label, sizeof(n->label))) != 0 ||
        (rc = config_get_str(c, o, path, "target", target, sizeof(target))) != 0 ||
        (rc = config_get_str(c, o, path, "mode", mode, sizeof(mode))) != 0 ||
        (rc = config_get_str(c, o, path, "peer", peer, sizeof(peer))) != 0)
        return rc;
    /* Targets: a kind's default, a named group, or a node. */
    n->target = n->kind == CHAOS_PARTITION    ? CHAOS_T_MINORITY
                : n->kind == CHAOS_DEPENDENCY ? CHAOS_T_ALL
                                              : CHAOS_T_ONE;
    if (n->kind == CHAOS_DEPENDENCY && target[0] != '\0' && strcmp(target, "all") != 0)
        return fail(c, "%s.target: a dependency is shared by every node's service (all)", path);
    if (target[0] != '\0') {
        int t = lookup(target_names, CHAOS_T_NODE, target);
        if (t >= 0) {
            n->target = (enum chaos_target)t;
        } else if ((n->node = node_index(target, s->nodes)) >= 0) {
            n->target = CHAOS_T_NODE;
        } else if (strncmp(target, "placed:", 7) == 0) {
            if (s->placement.service[0] == '\0' || strcmp(target + 7, s->placement.service) != 0)
                return fail(c, "%s.target: '%s' names no service of the scenario's placement "
                               "(%s)", path, target,
                            s->placement.service[0] ? s->placement.service : "none");
            if (n->kind == CHAOS_DEPENDENCY || (n->kind == CHAOS_PARTITION &&
                                                 cJSON_HasObjectItem(o, "mode") &&
                                                 strcmp(mode, "isolate") != 0))
                return fail(c, "%s.target: placed:%s only with a nemesis that acts on its "
                               "targets (a partition's mode isolate)", path, target + 7);
            n->target = CHAOS_T_PLACED;
            n->node = -1;
        } else {
            list_text(target_names, CHAOS_T_NODE, list, sizeof(list));
            return fail(c, "%s.target: '%s' is not one of %s, a node n1..n%u or "
                           "placed:SERVICE", path, target, list, s->nodes);
        }
    }
    if (n->kind == CHAOS_PARTITION) {
        list_text(partition_names, CHAOS_PARTITIONS, list, sizeof(list));
        int m = lookup(partition_names, CHAOS_PARTITIONS, mode);
        if (m < 0)
            return fail(c, "%s.mode: %s%s%s is not one of %s", path, mode[0] ? "'" : "",
                        mode[0] ? mode : "required; nothing", mode[0] ? "'" : "", list);
        n->mode = (enum chaos_partition)m;
        if (s->nodes < 2 || (n->mode == CHAOS_P_BRIDGE && s->nodes < 3) ||
            (n->mode == CHAOS_P_RING && s->nodes < 4))
            return fail(c, "%s.mode: %s needs at least %d nodes", path, mode,
                        n->mode == CHAOS_P_RING ? 4 : n->mode == CHAOS_P_BRIDGE ? 3 : 2);
    } else if (mode[0] != '\0') {
        return fail(c, "%s.mode: only a partition has a mode", path);
    }
    bool per_link = n->kind == CHAOS_LOSS || n->kind == CHAOS_DELAY || n->kind == CHAOS_DUPLICATE;
    if (peer[0] != '\0') {
        if (!per_link)
            return fail(c, "%s.peer: only loss, delay and duplicate act on one link", path);
        if ((n->peer = node_index(peer, s->nodes)) < 0)
            return fail(c, "%s.peer: '%s' is not a node n1..n%u", path, peer, s->nodes);
    }
    n->rate = -1;
    uint64_t ms = UINT64_MAX, jitter = 0;
    if ((rc = config_get_double(c, o, path, "rate", 0, 1, &n->rate)) != 0 ||
        (rc = config_get_u64(c, o, path, "ms", 0, 60000, &ms)) != 0 ||
        (rc = config_get_u64(c, o, path, "jitter_ms", 0, 60000, &jitter)) != 0 ||
        (rc = config_get_str(c, o, path, "fault", n->fault, sizeof(n->fault))) != 0 ||
        (rc = config_get_str(c, o, path, "query", n->query, sizeof(n->query))) != 0)
        return rc;
    bool has_rate = n->kind == CHAOS_LOSS || n->kind == CHAOS_DUPLICATE;
    if (has_rate && n->rate < 0)
        return fail(c, "%s.rate: %s needs a rate from 0 to 1 (the chance for each message)",
                    path, type);
    if (!has_rate && n->rate >= 0)
        return fail(c, "%s.rate: only loss and duplicate have a rate", path);
    if (n->kind == CHAOS_DELAY && ms == UINT64_MAX)
        return fail(c, "%s.ms: delay needs the added milliseconds (0 to 60000)", path);
    if (n->kind != CHAOS_DELAY && n->kind != CHAOS_DUPLICATE && ms != UINT64_MAX)
        return fail(c, "%s.ms: only delay and duplicate have it", path);
    if (n->kind != CHAOS_DELAY && cJSON_HasObjectItem(o, "jitter_ms"))
        return fail(c, "%s.jitter_ms: only delay has it", path);
    n->delay_ms = ms == UINT64_MAX ? 0 : (uint32_t)ms;
    /* The agent's own bound: a year either way (node/agent/fault.h). */
    double offset = NAN;
    if ((rc = config_get_double(c, o, path, "offset_ms", -31536000000.0, 31536000000.0,
                                &offset)) != 0)
        return rc;
    if (n->kind == CHAOS_CLOCK && (isnan(offset) || offset != (double)(int64_t)offset || offset == 0))
        return fail(c, "%s.offset_ms: a clock jump needs a whole, non-zero number of "
                       "milliseconds within a year either way", path);
    if (n->kind != CHAOS_CLOCK && !isnan(offset))
        return fail(c, "%s.offset_ms: only a clock nemesis has it", path);
    n->offset_ms = isnan(offset) ? 0 : (int64_t)offset;
    n->jitter_ms = (uint32_t)jitter;
    if (n->kind == CHAOS_SERVICE) {
        list_text(service_faults, 100, list, sizeof(list));
        if (lookup(service_faults, 100, n->fault) < 0)
            return fail(c, "%s.fault: %s%s%s is not one of %s", path, n->fault[0] ? "'" : "",
                        n->fault[0] ? n->fault : "required; nothing", n->fault[0] ? "'" : "",
                        list);
        for (const char *p = n->query; *p; p++)
            if (!(((*p | 32) >= 'a' && (*p | 32) <= 'z') || (*p >= '0' && *p <= '9') ||
                  strchr("=&._", *p) != NULL))
                return fail(c, "%s.query: '%c' is not allowed (letters, digits, = & . _)", path,
                            *p);
    } else if (n->fault[0] != '\0' || n->query[0] != '\0') {
        return fail(c, "%s.%s: only a service nemesis has it", path,
                    n->fault[0] ? "fault" : "query");
    }
    /* When and how long. */
    uint64_t repeat = 1;
    bool has_at = cJSON_HasObjectItem(o, "at_s");
    if ((rc = get_seconds(c, o, path, "duration_s", 0.1, 3600, &n->duration_ms)) != 0 ||
        (rc = get_seconds(c, o, path, "at_s", 0, 86400, &n->at_ms)) != 0 ||
        (rc = get_seconds(c, o, path, "every_s", 0.1, 86400, &n->every_ms)) != 0 ||
        (rc = config_get_u64(c, o, path, "repeat", 1, 1000, &repeat)) != 0)
        return rc;
    n->repeat = (uint32_t)repeat;
    if (s->random) {
        const char *fixed_only = has_at                               ? "at_s"
                                 : cJSON_HasObjectItem(o, "repeat")  ? "repeat"
                                 : cJSON_HasObjectItem(o, "every_s") ? "every_s"
                                                                     : NULL;
        if (fixed_only != NULL)
            return fail(c, "%s.%s: a random schedule draws the times itself; only a fixed one "
                           "takes it", path, fixed_only);
        return 0;
    }
    if (!has_at)
        return fail(c, "%s.at_s: a fixed schedule needs the start (seconds from the start)",
                    path);
    if (n->repeat > 1 && n->every_ms < n->duration_ms)
        return fail(c, "%s.every_s: with repeat, at least duration_s (one run ends before "
                       "the next)", path);
    if (n->at_ms < s->control_ms)
        return fail(c, "%s.at_s: within the no-fault control window (control_s)", path);
    uint64_t last_end = n->at_ms + (uint64_t)(n->repeat - 1) * n->every_ms + n->duration_ms;
    if (last_end > s->duration_ms)
        return fail(c, "%s: its last run ends at %.1f s, after duration_s", path,
                    (double)last_end / 1000.0);
    return 0;
}

/* "placement": {"service", "nodes": [voters' names], "lease_ms"}, after nodes and voters. */
static int parse_placement(const struct config_ctx *c, const cJSON *o, struct chaos_scenario *s)
{
    static const char *const known[] = {"service", "nodes", "lease_ms", NULL};
    if (o == NULL)
        return 0;
    if (!cJSON_IsObject(o))
        return fail(c, "placement: expected an object");
    int rc = config_check_keys(c, o, "placement", known);
    uint64_t lease = 2000;
    struct chaos_placement *p = &s->placement;
    if (rc == 0) rc = config_get_str(c, o, "placement", "service", p->service, sizeof(p->service));
    if (rc == 0) rc = config_get_u64(c, o, "placement", "lease_ms", 100, 600000, &lease);
    if (rc != 0)
        return rc;
    p->lease_ms = lease;
    if (p->service[0] == '\0')
        return fail(c, "placement.service: required (the placed service's name)");
    for (const char *q = p->service; *q; q++)
        if (!(((*q | 32) >= 'a' && (*q | 32) <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' ||
              *q == '_'))
            return fail(c, "placement.service: '%c' is not allowed (letters, digits, - _)", *q);
    if (strcmp(p->service, "sample") == 0)
        return fail(c, "placement.service: 'sample' is every node's own service; name another");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(o, "nodes");
    if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) == 0)
        return fail(c, "placement.nodes: required, an array of voters' names (n1..n%u)",
                    s->voters);
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, nodes)
    {
        int i = cJSON_IsString(it) ? node_index(it->valuestring, s->nodes) : -1;
        if (i < 0 || (uint32_t)i >= s->voters)
            return fail(c, "placement.nodes[%d]: expected a voter's name n1..n%u (only voters "
                           "run placed services)", k, s->voters);
        if (p->on[i])
            return fail(c, "placement.nodes[%d]: '%s' given twice", k, it->valuestring);
        p->on[i] = true;
        k++;
    }
    return 0;
}

int chaos_scenario_parse(const char *path, const char *text, size_t len,
                         struct chaos_scenario *out, char *err, size_t err_size)
{
    cJSON *root = config_parse_strict(path, text, len, err, err_size);
    if (root == NULL)
        return PL_ECONFIG;
    struct config_ctx c = {path, err, err_size};
    static const char *const known[] = {"name", "description", "nodes", "voters", "duration_s",
                                        "seed", "control_s", "liveness_s", "schedule",
                                        "stagger_s", "workload", "placement", "nemeses", NULL};
    static const char *const wl_known[] = {"clients", "proposals_per_s", "http_per_s", NULL};
    struct chaos_scenario *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        cJSON_Delete(root);
        snprintf(err, err_size, "%s: out of memory", path);
        return -1;
    }
    uint64_t nodes = 3, voters = 0, seed = 0, clients = 3, pps = 20, hps = 20;
    char schedule[16] = "fixed";
    s->duration_ms = 60000;
    s->control_ms = 5000;
    s->liveness_ms = 30000;
    s->stagger_ms = 5000;
    int rc = config_check_keys(&c, root, "", known);
    if (rc == 0) rc = config_get_str(&c, root, "", "name", s->name, sizeof(s->name));
    if (rc == 0) rc = config_get_str(&c, root, "", "description", s->description, sizeof(s->description));
    if (rc == 0) rc = config_get_u64(&c, root, "", "nodes", 1, CHAOS_NODES_MAX, &nodes);
    if (rc == 0) rc = config_get_u64(&c, root, "", "voters", 1, 7, &voters);
    if (rc == 0) rc = config_get_u64(&c, root, "", "seed", 1, UINT64_MAX, &seed);
    if (rc == 0) rc = get_seconds(&c, root, "", "duration_s", 1, 86400, &s->duration_ms);
    if (rc == 0) rc = get_seconds(&c, root, "", "control_s", 0, 3600, &s->control_ms);
    if (rc == 0) rc = get_seconds(&c, root, "", "liveness_s", 1, 3600, &s->liveness_ms);
    if (rc == 0) rc = get_seconds(&c, root, "", "stagger_s", 0.1, 3600, &s->stagger_ms);
    if (rc == 0) rc = config_get_str(&c, root, "", "schedule", schedule, sizeof(schedule));
    const cJSON *wl = cJSON_GetObjectItemCaseSensitive(root, "workload");
    if (rc == 0 && wl != NULL) {
        if (!cJSON_IsObject(wl))
            rc = fail(&c, "workload: expected an object");
        if (rc == 0) rc = config_check_keys(&c, wl, "workload", wl_known);
        if (rc == 0) rc = config_get_u64(&c, wl, "workload", "clients", 0, 16, &clients);
        if (rc == 0) rc = config_get_u64(&c, wl, "workload", "proposals_per_s", 1, 1000, &pps);
        if (rc == 0) rc = config_get_u64(&c, wl, "workload", "http_per_s", 0, 1000, &hps);
    }
    if (rc == 0 && s->name[0] == '\0')
        rc = fail(&c, "name: required (a short name for the report)");
    if (rc == 0 && voters > nodes)
        rc = fail(&c, "voters: %llu is more than nodes (%llu)", (unsigned long long)voters,
                  (unsigned long long)nodes);
    if (rc == 0 && strcmp(schedule, "fixed") != 0 && strcmp(schedule, "random") != 0)
        rc = fail(&c, "schedule: '%s' is not fixed or random", schedule);
    if (rc == 0 && s->control_ms >= s->duration_ms)
        rc = fail(&c, "control_s: the no-fault window must end before duration_s");
    s->nodes = (uint32_t)nodes;
    s->voters = voters != 0 ? (uint32_t)voters : (uint32_t)(nodes >= 5 ? 5 : nodes >= 3 ? 3 : 1);
    s->seed = seed;
    s->has_seed = cJSON_HasObjectItem(root, "seed");
    s->random = strcmp(schedule, "random") == 0;
    s->clients = (uint32_t)clients;
    s->proposals_per_s = (uint32_t)pps;
    s->http_per_s = (uint32_t)hps;
    if (rc == 0)
        rc = parse_placement(&c, cJSON_GetObjectItemCaseSensitive(root, "placement"), s);
    const cJSON *nem = cJSON_GetObjectItemCaseSensitive(root, "nemeses");
    if (rc == 0 && nem != NULL && !cJSON_IsArray(nem))
        rc = fail(&c, "nemeses: expected an array of objects");
    if (rc == 0 && cJSON_GetArraySize(nem) > CHAOS_NEMESES_MAX)
        rc = fail(&c, "nemeses: more than %d", CHAOS_NEMESES_MAX);
    if (rc == 0 && s->random && cJSON_GetArraySize(nem) == 0)
        rc = fail(&c, "nemeses: a random schedule needs at least one to draw from");
    const cJSON *item;
    cJSON_ArrayForEach(item, nem)
    {
        if (rc != 0)
            break;
        char path_n[32];
        snprintf(path_n, sizeof(path_n), "nemeses[%d]", s->n);
        rc = parse_nemesis(&c, item, path_n, s, &s->nemeses[s->n]);
        s->n++;
    }
    cJSON_Delete(root);
    if (rc == 0)
        *out = *s;
    free(s);
    return rc;
}

static int cmp_interval(const void *a, const void *b)
{
    const struct chaos_interval *x = a, *y = b;
    if (x->start_ms != y->start_ms)
        return x->start_ms < y->start_ms ? -1 : 1;
    return x->nemesis - y->nemesis;
}

int chaos_schedule_build(const struct chaos_scenario *s, uint64_t seed, struct chaos_interval *out,
                         int max)
{
    int n = 0;
    if (!s->random) {
        for (int i = 0; i < s->n; i++)
            for (uint32_t r = 0; r < s->nemeses[i].repeat && n < max; r++) {
                uint64_t at = s->nemeses[i].at_ms + (uint64_t)r * s->nemeses[i].every_ms;
                out[n++] = (struct chaos_interval){at, at + s->nemeses[i].duration_ms, i, (int)r};
            }
        qsort(out, (size_t)n, sizeof(*out), cmp_interval);
        return n;
    }
    struct pl_rand rnd;
    pl_rand_seed(&rnd, seed);
    uint64_t t = s->control_ms + pl_rand_below(&rnd, 2 * s->stagger_ms);
    while (n < max && s->n > 0) {
        int i = (int)pl_rand_below(&rnd, (uint64_t)s->n);
        uint64_t end = t + s->nemeses[i].duration_ms;
        if (end > s->duration_ms)
            break;
        out[n] = (struct chaos_interval){t, end, i, n};
        n++;
        t = end + pl_rand_below(&rnd, 2 * s->stagger_ms);
    }
    return n;
}

/* ---- safety.placement's overlaps ---- */

static void overlap_close(struct chaos_overlaps *o, uint64_t t_ms, bool open_at_end)
{
    o->cur.end_ms = t_ms;
    o->cur.open_at_end = open_at_end;
    if (o->n < CHAOS_OVERLAPS_MAX)
        o->iv[o->n++] = o->cur;
    else
        o->more++;
    if (o->cur.last_ms - o->cur.start_ms >= o->longest.last_ms - o->longest.start_ms)
        o->longest = o->cur;
    o->open = false;
}

void chaos_overlap_sample(struct chaos_overlaps *o, uint64_t t_ms, uint32_t running)
{
    if (o->finished)
        return;
    o->samples++;
    bool two = (running & (running - 1)) != 0;
    if (two && !o->open) {
        o->open = true;
        o->cur = (struct chaos_overlap){.start_ms = t_ms, .last_ms = t_ms, .end_ms = t_ms,
                                        .nodes = running};
    } else if (two) {
        o->cur.last_ms = t_ms;
        o->cur.nodes |= running;
    } else if (o->open) {
        overlap_close(o, t_ms, false);
    }
}

void chaos_overlap_finish(struct chaos_overlaps *o, uint64_t t_ms)
{
    if (o->open)
        overlap_close(o, t_ms, true);
    o->finished = true;
}

bool chaos_overlap_holds(const struct chaos_overlaps *o, uint64_t lease_ms, uint64_t margin_ms)
{
    const struct chaos_overlap *w = &o->longest;
    if (o->open && o->cur.last_ms - o->cur.start_ms > w->last_ms - w->start_ms)
        w = &o->cur;
    return w->last_ms - w->start_ms <= lease_ms + margin_ms;
}
