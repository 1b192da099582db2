/*
 * `platelet chaos run SCENARIO.json` and `platelet chaos html REPORT.json OUT.html`.
 *
 * A run starts the scenario's agents on loopback (child_agent.h), each supervising a
 * sample service, in a scratch folder it removes afterwards (--keep keeps it), with the
 * fault API on; with --netns (root), each in its own network namespace on a bridge, where
 * partitions and loss are nftables rules (chaos_netns.h) instead of the agents' fault API. It waits for a council, then runs three things at once until the
 * scenario's duration ends:
 *
 *   - the workload: `clients` threads proposing notes {"chaos": client, "n": i} to random
 *     agents, each answer recorded (acknowledged with its index, or the error), and one
 *     thread sending /work to the sample services round robin, each answer recorded;
 *   - the nemeses of the schedule, on the main thread (the only thread that forks:
 *     PR_SET_PDEATHSIG follows the thread), each logged with its targets and actions;
 *   - a poll every 500 ms of every running agent's Raft status and member list, for the
 *     timeline, the leader targets and the time each node fault took to be noticed (and,
 *     with a placed service, where it runs and where the council placed it).
 *
 * After the last fault it waits for liveness (one leader agreed by every voter, every
 * member alive, every service healthy) within the scenario's liveness_s, stops the
 * workload, lets the ledgers converge, reads every agent's incidents, stops the agents and
 * checks, from their data folders and logs:
 *
 *   safety.ledgers        every voter's ledger a prefix of the longest, equal at each index
 *   safety.acknowledged   every acknowledged proposal in the ledger at its index
 *   safety.leaders        at most one leader per term (the agents' "elected leader" lines)
 *   safety.decisions      no decision with more than one applied action_result
 *   healing.service       every injected service fault detected and healed
 *   healing.nodes         the cluster whole again within liveness_s of each node fault
 *   healing.false_heals   no incident during the no-fault control window
 *   liveness              a leader and healthy services within liveness_s of the end
 *   safety.placement      (a scenario with "placement") its replicas: 1 service never on
 *                         two nodes for longer than lease_ms + PLACED_MARGIN_MS, from the
 *                         polls' samples of each agent's /v1/placement and each copy's port
 *
 * Exit status 0 only when every check holds.
 */
#include "chaos.h"
#include "chaos_disk.h"
#include "chaos_netns.h"
#include "chaos_scenario.h"

#include "api_client.h"
#include "api_token.h"
#include "child_agent.h"
#include "cli.h"
#include "commands.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "pl_json.h"
#include "pl_rand.h"
#include "pl_text.h"
#include "replay.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "platelet chaos run"
#define POLL_MS 500
#define OPS_MAX 400000
#define HEALS_MAX 2048
#define LOG_LINES_MAX 2000000
#define CONVERGE_MS 30000
/* The placed service's stop grace (SIGTERM, then SIGKILL), as in swarm_placement.sh. */
#define PLACED_GRACE_MS 500
/* safety.placement's margin past the lease (docs/ARCHITECTURE.md): the stop grace, the
 * placement module's 100 ms tick, and a probe's own time (its timeout is 400 ms). */
#define PLACED_MARGIN_MS (PLACED_GRACE_MS + 100 + 400)

/* ---- the cluster ---- */

struct node {
    struct child_agent a;
    int svc_port;
    char svc_addr[64]; /* its sample service's HOST:PORT ("" with --cluster and no --services) */
    char placed_addr[64]; /* its placed service's HOST:PORT ("": none here) */
    bool placed_agent, placed_probe; /* last sample: its agent says it runs it; it answers */
    char data[300];    /* its data folder, read after the run for the ledger checks */
    bool voter;
    bool killed;
    bool stalled; /* its data dir frozen (disk_stall): not polled, as a paused one */
    /* from the last poll */
    bool up;
    char role[16];
    char leader[16];
    uint64_t term;
    char status_of[CHAOS_NODES_MAX][12]; /* how this node sees each member */
    uint64_t ledger_size;
    char root[72];
};

/* One workload operation. */
struct op {
    uint32_t t_ms;       /* sent, after the run's start */
    uint32_t latency_ms;
    uint8_t kind;        /* 0 proposal, 1 /work */
    uint8_t node;
    int16_t status;      /* HTTP status, or -1 for no answer */
    uint16_t client;
    uint32_t n;
    uint64_t index;      /* an acknowledged proposal's index */
};

/* A leader as one poll saw it. */
struct polled_leader {
    uint64_t term;
    int node;
};

/* One injected fault on one node, for the healing table. */
struct heal {
    int nemesis;     /* index into the run's nemesis log */
    int node;
    bool service;    /* a sample service fault (else a node or network fault) */
    uint64_t fault_ms, end_ms;     /* run-relative */
    uint64_t fault_wall;
    int64_t detect_ms, healthy_ms; /* -1: not seen */
    bool success;
    bool superseded; /* another fault began after its end, before the cluster was whole */
    char actions[160];
    char outcome[32];
};

struct run {
    const struct chaos_scenario *sc;
    uint64_t seed;
    const char *bin;
    char dir[200];
    bool keep;
    bool restart_only; /* --compare's baseline: restart is the only action */
    bool external;     /* --cluster: agents the run did not start (no restart, no logs) */
    const char *cluster, *services; /* --cluster and --services lists */
    bool netns;        /* --netns: each agent in its own namespace, links cut by nftables */
    struct chaos_netns net;
    struct chaos_disk *disk; /* each agent's data dir on a file system of its own (or NULL) */
    /* Leaders as polled, by term (term % 4096), for --cluster's one-leader check. */
    struct polled_leader polled_leader[4096];
    char polled_clash[200];
    struct node node[CHAOS_NODES_MAX];
    int n;
    uint64_t t0_wall, t0_mono;
    struct pl_rand rnd;
    /* workload */
    struct op *ops;
    atomic_int nops;
    pthread_mutex_t ops_lock;
    atomic_bool stop;
    /* what happened */
    cJSON *nemeses; /* array */
    cJSON *leaders; /* array of {t_ms, node, term} */
    char last_leader[16];
    struct heal heals[HEALS_MAX];
    int nheals;
    uint64_t last_fault_end_ms;
    uint64_t whole_since_ms; /* the cluster whole at every poll since then; UINT64_MAX: not now */
    /* The dependency every sample service checks (a dependency nemesis closes it). */
    int dep_port;
    atomic_int dep_fd; /* the listener, -1 while down */
    pthread_t dep_th;
    bool dep_running;
    /* safety.placement: when two nodes ran the placed service, and each poll's holder */
    struct chaos_overlaps overlaps;
    char placed_holder[64]; /* as the last voter asked named it */
    cJSON *holders;          /* array of {t_ms, node}: each change of the committed holder */
    cJSON *copies;           /* array of {t_ms, nodes, agents, answers}: each change */
    uint32_t copies_mask;
};

static uint64_t rel_ms(const struct run *r) { return child_mono_ms() - r->t0_mono; }

/* The nodes' names: n1..nN for the agents a run starts, their own with --cluster. */
static char names[CHAOS_NODES_MAX][64];

static const char *node_name(int i) { return names[i]; }

/* Where the dependency listens: loopback, or with --netns the bridge's address (the agents'
 * namespaces have loopbacks of their own). */
static const char *dep_host(const struct run *r)
{
    return r->netns ? r->net.gw : "127.0.0.1";
}

/* Disk nemeses: every agent's data dir on a file system of its own (chaos_disk.h), made
 * before any agent starts, then the guard that thaws them should the harness die. */
static int disks_mount(struct run *r)
{
    for (int i = 0; i < r->n; i++) {
        char dir[300], data[320], image[320], err[512];
        snprintf(dir, sizeof(dir), "%s/%s", r->dir, node_name(i));
        snprintf(data, sizeof(data), "%s/data", dir);
        snprintf(image, sizeof(image), "%s/disk.img", dir);
        int rc = mkdir(dir, 0700) != 0 && errno != EEXIST ? -errno : 0;
        if (rc == 0)
            rc = chaos_disk_mount(r->disk, i, data, image, err, sizeof(err));
        else
            snprintf(err, sizeof(err), "mkdir %s: %s", dir, strerror(-rc));
        if (rc != 0) {
            fprintf(stderr, "%s: %s's data dir: %s\n", CMD, node_name(i), err);
            return rc;
        }
    }
    int rc = chaos_disk_guard(r->disk);
    if (rc != 0)
        fprintf(stderr, "%s: cannot fork the guard that thaws the frozen disks: %s\n", CMD,
                pl_strerror(rc));
    else
        fprintf(stderr, "chaos: each agent's data dir on a %llu MiB %s of its own\n",
                (unsigned long long)(CHAOS_DISK_BYTES >> 20),
                r->disk->fs == CHAOS_FS_EXT4 ? "ext4 (loop device)" : "tmpfs");
    return rc;
}

static int cluster_start(struct run *r)
{
    const struct chaos_scenario *sc = r->sc;
    int rc = r->disk != NULL && r->disk->fs != CHAOS_FS_NONE ? disks_mount(r) : 0;
    if (rc != 0)
        return rc;
    char *cfg = malloc(8192);
    if (cfg == NULL)
        return -ENOMEM;
    for (int i = 0; i < r->n && rc == 0; i++) {
        struct node *nd = &r->node[i];
        nd->voter = (uint32_t)i < sc->voters;
        nd->svc_port = child_free_port(false);
        if (nd->svc_port < 0) {
            rc = nd->svc_port;
            break;
        }
        /* With --netns every address is the node's own on the bridge, which the harness
         * reaches from its side; else loopback. */
        const char *host = r->netns ? r->net.addr[i] : "127.0.0.1";
        snprintf(nd->svc_addr, sizeof(nd->svc_addr), "%s:%d", host, nd->svc_port);
        char svc[2048];
        if ((rc = child_sample_service(r->bin, "sample", host, nd->svc_port, svc, sizeof(svc))) != 0)
            break;
        /* A dependency the services check, when a nemesis is to take it down. */
        char *args = strstr(svc, "\"sample-service\", ");
        if (r->dep_port > 0 && args != NULL) {
            char rest[2048], dep[64];
            snprintf(dep, sizeof(dep), "\"--depends\", \"%s:%d\", ", dep_host(r), r->dep_port);
            snprintf(rest, sizeof(rest), "%s", args + strlen("\"sample-service\", "));
            snprintf(args + strlen("\"sample-service\", "),
                     sizeof(svc) - (size_t)(args - svc) - strlen("\"sample-service\", "), "%s%s",
                     dep, rest);
        }
        /* The baseline's policy: nothing but restart, and no waiting for a cluster incident,
         * as a plain supervisor does (the last '}' closes "policy"). */
        char *policy_end = strrchr(svc, '}');
        if (r->restart_only && policy_end != NULL && policy_end > svc && policy_end[-1] == '}') {
            policy_end[-1] = '\0';
            strncat(svc, ", \"allowed_actions\": [\"restart\"], \"cluster_wait_ms\": 0}}",
                    sizeof(svc) - strlen(svc) - 1);
        }
        /* The placed service, on its declared nodes: swarm_placement.sh's settings. */
        char placed[1024] = "";
        if (sc->placement.on[i]) {
            int port = child_free_port(false);
            if (port < 0) {
                rc = port;
                break;
            }
            snprintf(nd->placed_addr, sizeof(nd->placed_addr), "%s:%d", host, port);
            int off = snprintf(placed, sizeof(placed),
                               ", {\"name\": \"%s\", \"command\": \"%s\", \"args\": "
                               "[\"sample-service\", \"--host\", \"%s\", \"--port\", \"%d\"], "
                               "\"start_ms\": 300, "
                               "\"grace_ms\": %d, \"checks\": [{\"type\": \"http\", \"url\": "
                               "\"http://%s:%d/health\", \"interval_ms\": 300, "
                               "\"timeout_ms\": 300}], \"placement\": {\"replicas\": 1, "
                               "\"lease_ms\": %" PRIu64 ", \"nodes\": [",
                               sc->placement.service, r->bin, host, port, PLACED_GRACE_MS, host,
                               port, sc->placement.lease_ms);
            for (int k = 0; k < r->n && off > 0 && (size_t)off < sizeof(placed); k++)
                if (sc->placement.on[k])
                    off += snprintf(placed + off, sizeof(placed) - (size_t)off, "%s\"%s\"",
                                    placed[off - 1] == '[' ? "" : ", ", node_name(k));
            if (off > 0 && (size_t)off < sizeof(placed))
                snprintf(placed + off, sizeof(placed) - (size_t)off, "]}}");
        }
        /* --netns: the API on TCP over the bridge, with the run's token. */
        char api[400] = "", bind[64], api_addr[64];
        struct child_agent_net net = {r->net.path[i], bind, api_addr};
        if (r->netns) {
            int gport = child_free_port(true), aport = child_free_port(false);
            if (gport < 0 || aport < 0) {
                rc = PL_EFULL;
                break;
            }
            snprintf(bind, sizeof(bind), "%s:%d", host, gport);
            snprintf(api_addr, sizeof(api_addr), "%s:%d", host, aport);
            snprintf(api, sizeof(api), "\"api\": \"%s\", \"api_token_file\": \"%s/api.tokens\", ",
                     api_addr, r->dir);
        }
        /* The council's short timeouts of the Raft tests: a run sees many elections. */
        if (nd->voter)
            snprintf(cfg, 8192,
                     "{\"profile\": \"local\", %s\"raft\": {\"voter\": true, \"bootstrap_expect\": "
                     "%u, \"election_timeout_ms\": 500, \"heartbeat_ms\": 50}, \"services\": "
                     "[%s%s], \"webhooks\": []}\n", api, sc->voters, svc, placed);
        else
            snprintf(cfg, 8192, "{\"profile\": \"local\", %s\"services\": [%s], \"webhooks\": []}\n",
                     api, svc);
        char dir[300];
        snprintf(dir, sizeof(dir), "%s/%s", r->dir, node_name(i));
        snprintf(nd->data, sizeof(nd->data), "%s/data", dir);
        rc = child_agent_start(&nd->a, r->bin, dir, node_name(i), cfg,
                               i > 0 ? r->node[0].a.bind : NULL, true, r->netns ? &net : NULL);
        if (rc != 0)
            fprintf(stderr, "%s: agent %s did not start: %s (its log: %s)\n", CMD, node_name(i),
                    pl_strerror(rc), nd->a.log);
    }
    free(cfg);
    return rc;
}

static void cluster_stop(struct run *r)
{
    if (r->external)
        return;
    for (int i = 0; i < r->n; i++)
        child_agent_stop(&r->node[i].a, true);
}

/* ---- polling ---- */

static int node_by_name(const struct run *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(name, node_name(i)) == 0)
            return i;
    return -1;
}

static void poll_node(struct run *r, int i)
{
    struct node *nd = &r->node[i];
    nd->up = false;
    /* A stalled agent blocks in its writes: asking it would hold the schedule up. */
    if (nd->a.pid <= 0 || nd->a.paused || nd->stalled)
        return;
    cJSON *st = child_get_json(nd->a.api, "/v1/raft/status");
    if (st == NULL)
        return;
    nd->up = true;
    snprintf(nd->role, sizeof(nd->role), "%s", child_str(st, "role"));
    snprintf(nd->leader, sizeof(nd->leader), "%s", child_str(st, "leader"));
    double term = child_num(st, "term");
    nd->term = isfinite(term) ? (uint64_t)term : 0;
    const cJSON *led = cJSON_GetObjectItemCaseSensitive(st, "ledger");
    double size = child_num(led, "size");
    nd->ledger_size = isfinite(size) ? (uint64_t)size : 0;
    snprintf(nd->root, sizeof(nd->root), "%s", child_str(led, "root"));
    cJSON_Delete(st);
    for (int j = 0; j < r->n; j++)
        snprintf(nd->status_of[j], sizeof(nd->status_of[j]), "unknown");
    cJSON *mem = child_get_json(nd->a.api, "/v1/members");
    const cJSON *m;
    cJSON_ArrayForEach(m, mem)
    {
        int j = node_by_name(r, child_str(m, "name"));
        if (j >= 0)
            snprintf(nd->status_of[j], sizeof(nd->status_of[j]), "%s", child_str(m, "status"));
    }
    cJSON_Delete(mem);
}

/* The leader a running voter says it is, with the highest term; "" when none. */
static const char *current_leader(const struct run *r)
{
    const char *best = "";
    uint64_t term = 0;
    for (int i = 0; i < r->n; i++)
        if (r->node[i].up && strcmp(r->node[i].role, "leader") == 0 && r->node[i].term >= term) {
            best = node_name(i);
            term = r->node[i].term;
        }
    return best;
}

/* Every node runs, every voter names the same leader, and every node sees every member
 * alive: the cluster is whole. */
static bool cluster_whole(const struct run *r)
{
    const char *leader = NULL;
    for (int i = 0; i < r->n; i++) {
        const struct node *nd = &r->node[i];
        if (!nd->up)
            return false;
        if (nd->voter) {
            if (nd->leader[0] == '\0' || (leader != NULL && strcmp(leader, nd->leader) != 0))
                return false;
            leader = nd->leader;
        }
        for (int j = 0; j < r->n; j++)
            if (strcmp(nd->status_of[j], "alive") != 0)
                return false;
    }
    return true;
}

/* Some running node sees node `t` other than alive. */
static bool seen_down(const struct run *r, int t)
{
    for (int i = 0; i < r->n; i++)
        if (i != t && r->node[i].up && strcmp(r->node[i].status_of[t], "alive") != 0 &&
            strcmp(r->node[i].status_of[t], "unknown") != 0)
            return true;
    return false;
}

/* The node the committed state places the placed service on, as the first voter that
 * answers sees it (the leader's view first); -1 when none answers or it is not placed.
 * `docs`, when not NULL, holds /v1/placement answers this poll already has, by node. */
static int placed_holder(struct run *r, cJSON *const *docs)
{
    const char *svc = r->sc->placement.service;
    int leader = node_by_name(r, current_leader(r));
    for (int k = -1; k < r->n; k++) {
        int i = k < 0 ? leader : k;
        if (i < 0 || (k >= 0 && i == leader) || !r->node[i].voter || r->node[i].a.pid <= 0 ||
            r->node[i].a.paused)
            continue;
        bool own = docs == NULL || docs[i] == NULL;
        cJSON *doc = own ? child_get_json(r->node[i].a.api, "/v1/placement") : docs[i];
        if (doc == NULL)
            continue;
        int found = -1;
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "placements"))
            if (strcmp(child_str(p, "service"), svc) == 0)
                found = node_by_name(r, child_str(p, "node"));
        if (own)
            cJSON_Delete(doc);
        return found;
    }
    return -1;
}

/* One sample for safety.placement: on each declared node, whether its agent says it runs
 * the placed service (local[].running) and whether the service answers its /health; either
 * counts as a copy (a paused or cut-off agent's copy answers all the same). */
static void placed_sample(struct run *r)
{
    /* r->copies exists from the run's start (a placement scenario, not --cluster): the
     * cluster's forming is not sampled; nor are the polls after the check's finish (while
     * the ledgers converge), which it would neither judge nor list. */
    if (r->copies == NULL || r->overlaps.finished)
        return;
    uint64_t t = rel_ms(r);
    uint32_t mask = 0;
    cJSON *docs[CHAOS_NODES_MAX] = {NULL};
    for (int i = 0; i < r->n; i++) {
        struct node *nd = &r->node[i];
        if (nd->placed_addr[0] == '\0')
            continue;
        nd->placed_agent = false;
        cJSON *doc = docs[i] = nd->up ? child_get_json(nd->a.api, "/v1/placement") : NULL;
        const cJSON *l;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(doc, "local"))
            if (strcmp(child_str(l, "service"), r->sc->placement.service) == 0)
                nd->placed_agent = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l, "running"));
        nd->placed_probe = child_http(nd->placed_addr, "GET", "/health", NULL, 400, NULL) == 200;
        if (nd->placed_agent || nd->placed_probe)
            mask |= 1u << i;
    }
    chaos_overlap_sample(&r->overlaps, t, mask);
    if (mask != r->copies_mask || cJSON_GetArraySize(r->copies) == 0) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "t_ms", (double)t);
        cJSON *on = cJSON_AddArrayToObject(e, "nodes");
        cJSON *ag = cJSON_AddArrayToObject(e, "agent_says");
        cJSON *an = cJSON_AddArrayToObject(e, "answers");
        for (int i = 0; i < r->n; i++) {
            if (mask & (1u << i))
                cJSON_AddItemToArray(on, cJSON_CreateString(node_name(i)));
            if (r->node[i].placed_agent)
                cJSON_AddItemToArray(ag, cJSON_CreateString(node_name(i)));
            if (r->node[i].placed_probe)
                cJSON_AddItemToArray(an, cJSON_CreateString(node_name(i)));
        }
        cJSON_AddItemToArray(r->copies, e);
        r->copies_mask = mask;
    }
    int h = placed_holder(r, docs);
    for (int i = 0; i < r->n; i++)
        cJSON_Delete(docs[i]);
    const char *name = h >= 0 ? node_name(h) : "";
    if (strcmp(name, r->placed_holder) != 0) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "t_ms", (double)t);
        cJSON_AddStringToObject(e, "node", name);
        cJSON_AddItemToArray(r->holders, e);
        snprintf(r->placed_holder, sizeof(r->placed_holder), "%s", name);
    }
}

static void poll_all(struct run *r)
{
    for (int i = 0; i < r->n; i++)
        poll_node(r, i);
    for (int i = 0; i < r->n; i++) {
        const struct node *nd = &r->node[i];
        if (!nd->up || strcmp(nd->role, "leader") != 0 || nd->term == 0)
            continue;
        struct polled_leader *pl = &r->polled_leader[nd->term % 4096];
        if (pl->term == nd->term && pl->node != i && r->polled_clash[0] == '\0')
            snprintf(r->polled_clash, sizeof(r->polled_clash),
                     "%s and %s both answered as leader of term %" PRIu64, node_name(pl->node),
                     node_name(i), nd->term);
        pl->term = nd->term;
        pl->node = i;
    }
    const char *l = current_leader(r);
    if (l[0] != '\0' && strcmp(l, r->last_leader) != 0) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "t_ms", (double)rel_ms(r));
        cJSON_AddStringToObject(e, "node", l);
        cJSON_AddNumberToObject(e, "term", (double)r->node[node_by_name(r, l)].term);
        cJSON_AddItemToArray(r->leaders, e);
        snprintf(r->last_leader, sizeof(r->last_leader), "%s", l);
    }
    placed_sample(r);
    /* Node faults: the first poll that shows them noticed, the first whole cluster after. */
    bool whole = cluster_whole(r);
    uint64_t now = rel_ms(r);
    if (!whole)
        r->whole_since_ms = UINT64_MAX;
    else if (r->whole_since_ms == UINT64_MAX)
        r->whole_since_ms = now;
    for (int h = 0; h < r->nheals; h++) {
        struct heal *x = &r->heals[h];
        if (x->service)
            continue;
        if (x->detect_ms < 0 && now < x->end_ms && seen_down(r, x->node))
            x->detect_ms = (int64_t)(now - x->fault_ms);
        if (x->healthy_ms < 0 && now >= x->end_ms && whole)
            x->healthy_ms = (int64_t)(now - x->fault_ms);
    }
}

/* ---- the workload ---- */

static void op_add(struct run *r, const struct op *o)
{
    /* Under ops_lock: a disk nemesis's end reads the operations while the workload runs. */
    pthread_mutex_lock(&r->ops_lock);
    int i = atomic_fetch_add(&r->nops, 1);
    if (i < OPS_MAX)
        r->ops[i] = *o;
    else
        atomic_store(&r->nops, OPS_MAX);
    pthread_mutex_unlock(&r->ops_lock);
}

struct client {
    struct run *r;
    pthread_t th;
    int id;
    uint64_t interval_ms;
    struct pl_rand rnd;
};

static void *proposer_main(void *arg)
{
    struct client *c = arg;
    struct run *r = c->r;
    uint64_t next = child_mono_ms();
    for (uint32_t n = 0; !atomic_load(&r->stop); n++) {
        int i = (int)pl_rand_below(&c->rnd, (uint64_t)r->n);
        char body[128], *answer = NULL;
        snprintf(body, sizeof(body), "{\"kind\": \"note\", \"body\": {\"chaos\": %d, \"n\": %u}}",
                 c->id, n);
        struct op o = {.t_ms = (uint32_t)rel_ms(r), .kind = 0, .node = (uint8_t)i,
                       .client = (uint16_t)c->id, .n = n};
        uint64_t t = child_mono_ms();
        long st = child_http(r->node[i].a.api, "POST", "/v1/propose", body, 3000, &answer);
        o.latency_ms = (uint32_t)(child_mono_ms() - t);
        o.status = st > 0 ? (int16_t)st : -1;
        if (st == 200 && answer != NULL) {
            cJSON *doc = cJSON_Parse(answer);
            double idx = child_num(doc, "index");
            o.index = isfinite(idx) && idx > 0 ? (uint64_t)idx : 0;
            cJSON_Delete(doc);
            if (o.index == 0)
                o.status = -1;
        }
        free(answer);
        op_add(r, &o);
        next += c->interval_ms;
        uint64_t now = child_mono_ms();
        if (next > now)
            child_sleep_ms(next - now);
        else
            next = now; /* behind (a paused node held us): no burst to catch up */
    }
    return NULL;
}

static void *http_main(void *arg)
{
    struct client *c = arg;
    struct run *r = c->r;
    uint64_t next = child_mono_ms();
    for (uint32_t n = 0; !atomic_load(&r->stop); n++) {
        int i = (int)(n % (uint32_t)r->n);
        const char *addr = r->node[i].svc_addr;
        if (addr[0] == '\0') {
            child_sleep_ms(c->interval_ms);
            continue;
        }
        struct op o = {.t_ms = (uint32_t)rel_ms(r), .kind = 1, .node = (uint8_t)i, .n = n};
        uint64_t t = child_mono_ms();
        long st = child_http(addr, "GET", "/work", NULL, 2000, NULL);
        o.latency_ms = (uint32_t)(child_mono_ms() - t);
        o.status = st > 0 ? (int16_t)st : -1;
        op_add(r, &o);
        next += c->interval_ms;
        uint64_t now = child_mono_ms();
        if (next > now)
            child_sleep_ms(next - now);
        else
            next = now;
    }
    return NULL;
}

/* ---- the nemeses ---- */

/* One running nemesis: what it did, so its end can undo exactly that. */
struct active {
    int nemesis;         /* the scenario's */
    cJSON *log;          /* its entry in r->nemeses */
    uint64_t end_ms;
    bool targets[CHAOS_NODES_MAX];
    bool cut[CHAOS_NODES_MAX][CHAOS_NODES_MAX]; /* partition: i drops j */
    long log_off[CHAOS_NODES_MAX]; /* disk: each target's agent.log size at the start */
    double dropped0[CHAOS_NODES_MAX]; /* disk_full: its dropped_below_reserve at the start */
    int log_index;       /* its entry's index in r->nemeses */
    bool done;
};

static void action(cJSON *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void action(cJSON *log, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(log, "actions"),
                         cJSON_CreateString(text));
}

static void count_error(cJSON *log)
{
    cJSON *e = cJSON_GetObjectItemCaseSensitive(log, "errors");
    cJSON_SetNumberValue(e, e->valuedouble + 1);
}

/* Picks `k` of the nodes in `pool` at random into `out`. */
static void pick(struct run *r, const bool *pool, int k, bool *out)
{
    int idx[CHAOS_NODES_MAX], m = 0;
    for (int i = 0; i < r->n; i++)
        if (pool[i])
            idx[m++] = i;
    pl_rand_shuffle(&r->rnd, idx, (uint32_t)m, sizeof(idx[0]));
    for (int i = 0; i < k && i < m; i++)
        out[idx[i]] = true;
}

static void resolve_targets(struct run *r, const struct chaos_nemesis *nm, bool *t)
{
    bool alive[CHAOS_NODES_MAX] = {false}, voters[CHAOS_NODES_MAX] = {false};
    for (int i = 0; i < r->n; i++) {
        alive[i] = !r->node[i].killed;
        voters[i] = alive[i] && r->node[i].voter;
    }
    memset(t, 0, sizeof(bool) * CHAOS_NODES_MAX);
    int leader = node_by_name(r, current_leader(r));
    switch (nm->target) {
    case CHAOS_T_ONE: pick(r, alive, 1, t); break;
    case CHAOS_T_MINORITY: pick(r, alive, (r->n - 1) / 2 > 0 ? (r->n - 1) / 2 : 1, t); break;
    case CHAOS_T_MAJORITY: pick(r, alive, r->n / 2 + 1, t); break;
    case CHAOS_T_ALL: memcpy(t, alive, sizeof(alive)); break;
    case CHAOS_T_LEADER:
        if (leader >= 0)
            t[leader] = true;
        else
            pick(r, voters, 1, t); /* no leader now: a voter, the next one likely */
        break;
    case CHAOS_T_FOLLOWER:
        if (leader >= 0)
            voters[leader] = false;
        pick(r, voters, 1, t);
        break;
    case CHAOS_T_NODE: t[nm->node] = true; break;
    case CHAOS_T_PLACED: {
        /* Asked now, when the nemesis fires: the holder may have moved since the last poll. */
        int h = placed_holder(r, NULL);
        if (h >= 0)
            t[h] = true;
        break;
    }
    default: break;
    }
}

static long fault_post(struct run *r, int i, const char *body)
{
    if (r->node[i].a.pid <= 0 || r->node[i].a.paused)
        return PL_ESTATE;
    return child_http(r->node[i].a.api, "POST", "/v1/fault", body, 2000, NULL);
}

static void partition_plan(struct run *r, const struct chaos_nemesis *nm, struct active *a)
{
    int order[CHAOS_NODES_MAX], n = r->n;
    for (int i = 0; i < n; i++)
        order[i] = i;
    pl_rand_shuffle(&r->rnd, order, (uint32_t)n, sizeof(order[0]));
    int group[CHAOS_NODES_MAX] = {0};
    switch (nm->mode) {
    case CHAOS_P_HALVES:
        for (int k = 0; k < n; k++)
            group[order[k]] = k < n / 2;
        break;
    case CHAOS_P_MAJORITY_MINORITY:
        for (int k = 0; k < n; k++)
            group[order[k]] = k < (n - 1) / 2 || (n == 2 && k == 0);
        break;
    case CHAOS_P_ISOLATE:
        resolve_targets(r, nm, a->targets);
        for (int i = 0; i < n; i++)
            group[i] = a->targets[i];
        break;
    case CHAOS_P_BRIDGE:
        /* Two sides, and one node (the last) that reaches both. */
        for (int k = 0; k < n - 1; k++)
            group[order[k]] = k < (n - 1) / 2;
        group[order[n - 1]] = 2;
        break;
    case CHAOS_P_RING:
        break;
    default: break;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j)
                continue;
            if (nm->mode == CHAOS_P_RING) {
                int pi = 0, pj = 0;
                for (int k = 0; k < n; k++) {
                    if (order[k] == i)
                        pi = k;
                    if (order[k] == j)
                        pj = k;
                }
                int d = (pi - pj + n) % n;
                a->cut[i][j] = d != 1 && d != n - 1;
            } else if (nm->mode == CHAOS_P_BRIDGE) {
                a->cut[i][j] = group[i] != 2 && group[j] != 2 && group[i] != group[j];
            } else {
                a->cut[i][j] = group[i] != group[j];
            }
        }
    if (nm->mode != CHAOS_P_ISOLATE)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                a->targets[i] |= a->cut[i][j];
}

/* ---- the shared dependency ---- */

static int dep_listen(const struct run *r, int port)
{
    int fd = child_bind(SOCK_STREAM, dep_host(r), port);
    if (fd >= 0 && listen(fd, 64) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Accepts and closes the services' probes while the dependency listens. */
static void *dep_main(void *arg)
{
    struct run *r = arg;
    while (!atomic_load(&r->stop)) {
        int fd = atomic_load(&r->dep_fd);
        if (fd < 0) {
            child_sleep_ms(50);
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0 && (p.revents & POLLIN)) {
            int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c >= 0)
                close(c);
        }
    }
    return NULL;
}

/* How a nemesis of kind k is done, for the report. */
static const char *mechanism(const struct run *r, enum chaos_kind k)
{
    switch (k) {
    case CHAOS_KILL: return "signal: SIGKILL, then the agent started again";
    case CHAOS_PAUSE: return "signal: SIGSTOP, then SIGCONT";
    case CHAOS_PARTITION:
    case CHAOS_LOSS:
        return r->netns ? "kernel: nftables (netdev ingress and egress on eth0) in the agents' "
                          "network namespaces"
                        : "agent transport: the agents' fault API drops messages";
    case CHAOS_DELAY:
        return "agent transport: the agents' fault API holds messages (the kernel has no "
               "netem)";
    case CHAOS_DUPLICATE:
        return "agent transport: the agents' fault API delivers messages twice (the kernel "
               "has no netem)";
    case CHAOS_SERVICE: return "the sample service's /fault API";
    case CHAOS_CLOCK: return "the agents' clock offset (fault API)";
    case CHAOS_DEPENDENCY: return "the harness's dependency listener closes";
    case CHAOS_DISK_FULL:
        return "kernel: the agent's data dir is a tmpfs of its own (ext4 with a disk_stall "
               "too), filled to the last byte by a filler file, deleted at the end";
    case CHAOS_DISK_STALL:
        return "kernel: the agent's data dir is an ext4 image on a loop device, frozen "
               "(FIFREEZE, as fsfreeze -f): every write blocks until FITHAW";
    case CHAOS_KINDS: break;
    }
    return "";
}

/* --netns: node i's nftables table for the nemesis run `a` drops its packets from and to
 * `peers` at `rate` (cut), or goes, its dropped packets added to the log's kernel_dropped. */
static void kernel_drop(struct run *r, struct active *a, int i, uint32_t peers, double rate,
                        bool cut)
{
    char table[32], err[300];
    snprintf(table, sizeof(table), "chaos%d", a->log_index);
    if (cut) {
        if (chaos_netns_drop(&r->net, i, table, peers, rate, err, sizeof(err)) != 0) {
            action(a->log, "%s", err);
            count_error(a->log);
        }
        return;
    }
    uint64_t dropped = 0;
    if (chaos_netns_undrop(&r->net, i, table, &dropped) != 0)
        count_error(a->log);
    cJSON *k = cJSON_GetObjectItemCaseSensitive(a->log, "kernel_dropped");
    if (k == NULL)
        k = cJSON_AddNumberToObject(a->log, "kernel_dropped", 0);
    cJSON_SetNumberValue(k, k->valuedouble + (double)dropped);
    action(a->log, "%s's kernel dropped %" PRIu64 " packets", node_name(i), dropped);
}

/* A loss nemesis's peers of node i: its one peer, or every other node. */
static uint32_t loss_peers(const struct run *r, const struct chaos_nemesis *nm, int i)
{
    if (nm->peer >= 0)
        return 1u << nm->peer;
    return ((1u << r->n) - 1) & ~(1u << i);
}

/* Node i drops (cut) or lets through again (!cut) its links to the nodes a->cut names. */
static void partition_links(struct run *r, struct active *a, int i, bool cut)
{
    char body[160];
    if (r->netns) {
        uint32_t peers = 0;
        for (int j = 0; j < r->n; j++)
            if (a->cut[i][j]) {
                peers |= 1u << j;
                if (cut)
                    action(a->log, "%s drops %s (nftables)", node_name(i), node_name(j));
            }
        kernel_drop(r, a, i, peers, 1.0, cut);
        return;
    }
    for (int j = 0; j < r->n; j++) {
        if (!a->cut[i][j])
            continue;
        snprintf(body, sizeof(body), "{\"action\": \"%s\", \"peer\": \"%s\"}",
                 cut ? "partition" : "clear", node_name(j));
        /* A node killed meanwhile came back with no rules to clear. */
        if (fault_post(r, i, body) != 200 && (cut || r->node[i].a.pid > 0))
            count_error(a->log);
        if (cut)
            action(a->log, "%s drops %s", node_name(i), node_name(j));
    }
    if (!cut)
        action(a->log, "%s heals its cut links", node_name(i));
}

/* An isolate partition's other ends: the rest drop the isolated nodes too, as every other
 * mode sets its cuts at both ends (as a real partition cuts both ways; one end alone now
 * holds too, since an agent names the sender of a gossip TCP exchange it accepts by the
 * request's ping or push-pull). Its targets stay the isolated nodes. */
static void isolate_far_ends(struct run *r, struct active *a, bool cut)
{
    const struct chaos_nemesis *nm = &r->sc->nemeses[a->nemesis];
    if (nm->kind != CHAOS_PARTITION || nm->mode != CHAOS_P_ISOLATE)
        return;
    for (int i = 0; i < r->n; i++) {
        bool any = false;
        for (int j = 0; j < r->n; j++)
            any |= a->cut[i][j];
        if (!a->targets[i] && any)
            partition_links(r, a, i, cut);
    }
}

static void heal_add(struct run *r, int log_index, int node, bool service, const struct active *a)
{
    if (r->nheals >= HEALS_MAX)
        return;
    struct heal *h = &r->heals[r->nheals++];
    memset(h, 0, sizeof(*h));
    h->nemesis = log_index;
    h->node = node;
    h->service = service;
    h->fault_ms = rel_ms(r);
    h->fault_wall = child_wall_ms();
    h->end_ms = a->end_ms;
    h->detect_ms = h->healthy_ms = -1;
    /* Earlier node faults that ended and were not yet followed by a whole cluster: their
     * recovery is cut short by this one, which takes over the wait. */
    for (int k = 0; k < r->nheals - 1; k++) {
        struct heal *e = &r->heals[k];
        if (!e->service && e->healthy_ms < 0 && e->end_ms <= h->fault_ms)
            e->superseded = true;
    }
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Lines of `path` from byte `from` on that contain `what`. */
static int count_lines(const char *path, long from, const char *what)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    int n = 0;
    char line[2048];
    if (fseek(f, from, SEEK_SET) == 0)
        while (fgets(line, sizeof(line), f) != NULL)
            n += strstr(line, what) != NULL;
    fclose(f);
    return n;
}

/* A number of node i's Raft status (NAN when it does not answer). */
static double raft_number(struct node *nd, const char *key)
{
    cJSON *st = nd->a.pid > 0 && !nd->a.paused ? child_get_json(nd->a.api, "/v1/raft/status")
                                               : NULL;
    double v = child_num(st, key);
    cJSON_Delete(st);
    return v;
}

/* A disk nemesis on node i: its file system filled or frozen. */
static int disk_start(struct run *r, struct active *a, int i)
{
    const struct chaos_nemesis *nm = &r->sc->nemeses[a->nemesis];
    struct node *nd = &r->node[i];
    a->log_off[i] = file_size(nd->a.log);
    if (nm->kind == CHAOS_DISK_FULL) {
        a->dropped0[i] = raft_number(nd, "dropped_below_reserve");
        uint64_t filled = 0, left = 0;
        int rc = chaos_disk_fill(r->disk, i, &filled, &left);
        if (rc != 0) {
            action(a->log, "cannot fill %s's data dir: %s", node_name(i), pl_strerror(rc));
            return rc;
        }
        action(a->log, "%s's data dir filled: %.1f MiB written, %" PRIu64 " bytes left",
               node_name(i), (double)filled / 1048576.0, left);
        return 0;
    }
    int rc = chaos_disk_freeze(r->disk, i, true);
    if (rc == 0)
        nd->stalled = true;
    action(a->log, "%s's data dir frozen (FIFREEZE)%s%s", node_name(i), rc ? ": " : "",
           rc ? pl_strerror(rc) : "");
    return rc;
}

/* The end of a disk nemesis on node i: first what the agent did meanwhile, from the
 * workload's answers, its log and (a full disk) its Raft status, into the nemesis's "disk"
 * record; then the filler deleted or the file system thawed. */
static int disk_end(struct run *r, struct active *a, int i)
{
    const struct chaos_nemesis *nm = &r->sc->nemeses[a->nemesis];
    struct node *nd = &r->node[i];
    double start = cJSON_GetObjectItemCaseSensitive(a->log, "start_ms")->valuedouble;
    uint64_t now = rel_ms(r);
    int sent = 0, ok = 0, refused = 0, unanswered = 0;
    pthread_mutex_lock(&r->ops_lock);
    int nops = atomic_load(&r->nops);
    for (int k = 0; k < nops && k < OPS_MAX; k++) {
        const struct op *o = &r->ops[k];
        if (o->kind != 0 || o->node != i || o->t_ms < start || o->t_ms >= now)
            continue;
        sent++;
        ok += o->status == 200;
        refused += o->status == 507;
        unanswered += o->status < 0;
    }
    pthread_mutex_unlock(&r->ops_lock);
    int no_space = count_lines(nd->a.log, a->log_off[i], "no space");
    cJSON *disk = cJSON_GetObjectItemCaseSensitive(a->log, "disk");
    if (disk == NULL)
        disk = cJSON_AddObjectToObject(a->log, "disk");
    cJSON *e = cJSON_AddObjectToObject(disk, node_name(i));
    cJSON_AddNumberToObject(e, "proposals_sent", sent);
    cJSON_AddNumberToObject(e, "proposals_acknowledged", ok);
    cJSON_AddNumberToObject(e, "proposals_refused_no_space", refused);
    cJSON_AddNumberToObject(e, "proposals_unanswered", unanswered);
    cJSON_AddNumberToObject(e, "log_lines_no_space", no_space);
    int rc;
    if (nm->kind == CHAOS_DISK_FULL) {
        double dropped = raft_number(nd, "dropped_below_reserve") - a->dropped0[i];
        if (isfinite(dropped))
            cJSON_AddNumberToObject(e, "dropped_below_reserve", dropped);
        action(a->log, "%s while full: %d of %d proposals to it refused for no space (507), "
               "%d log lines saying no space, %.0f appends dropped below its reserve",
               node_name(i), refused, sent, no_space, isfinite(dropped) ? dropped : -1);
        rc = chaos_disk_unfill(r->disk, i);
        action(a->log, "%s's filler deleted%s%s", node_name(i), rc ? ": " : "",
               rc ? pl_strerror(rc) : "");
    } else {
        /* Does it still answer? An agent whose writes block on its event loop does not. */
        long api = nd->a.pid > 0 && !nd->a.paused
                       ? child_http(nd->a.api, "GET", "/v1/raft/status", NULL, 500, NULL)
                       : -1;
        cJSON_AddBoolToObject(e, "api_answered_while_frozen", api == 200);
        rc = chaos_disk_freeze(r->disk, i, false);
        nd->stalled = false;
        action(a->log, "%s while frozen: %d of %d proposals to it acknowledged, %d unanswered; "
               "its API %s at the end", node_name(i), ok, sent, unanswered,
               api == 200 ? "answered" : "did not answer in 500 ms");
        action(a->log, "%s's data dir thawed (FITHAW)%s%s", node_name(i), rc ? ": " : "",
               rc ? pl_strerror(rc) : "");
    }
    return rc;
}

static void nemesis_start(struct run *r, struct active *a, uint64_t duration_ms)
{
    const struct chaos_nemesis *nm = &r->sc->nemeses[a->nemesis];
    uint64_t now = rel_ms(r);
    a->end_ms = now + duration_ms;
    a->log = cJSON_CreateObject();
    cJSON_AddStringToObject(a->log, "label", nm->label);
    cJSON_AddStringToObject(a->log, "type", chaos_kind_name(nm->kind));
    cJSON_AddNumberToObject(a->log, "nemesis", a->nemesis);
    cJSON_AddNumberToObject(a->log, "start_ms", (double)now);
    cJSON_AddNumberToObject(a->log, "end_ms", (double)a->end_ms);
    cJSON_AddStringToObject(a->log, "mechanism", mechanism(r, nm->kind));
    cJSON_AddArrayToObject(a->log, "actions");
    cJSON_AddNumberToObject(a->log, "errors", 0);
    int log_index = a->log_index = cJSON_GetArraySize(r->nemeses);
    cJSON_AddItemToArray(r->nemeses, a->log);
    if (nm->kind == CHAOS_PARTITION)
        partition_plan(r, nm, a);
    else
        resolve_targets(r, nm, a->targets);
    cJSON *tj = cJSON_AddArrayToObject(a->log, "targets");
    for (int i = 0; i < r->n; i++)
        if (a->targets[i])
            cJSON_AddItemToArray(tj, cJSON_CreateString(node_name(i)));
    if (nm->target == CHAOS_T_PLACED && cJSON_GetArraySize(tj) == 0) {
        action(a->log, "no voter named a node running %s", r->sc->placement.service);
        count_error(a->log);
    }
    char body[256];
    bool dep_once = false; /* the dependency is one for every target */
    for (int i = 0; i < r->n; i++) {
        struct node *nd = &r->node[i];
        if (!a->targets[i])
            continue;
        long st = 200;
        switch (nm->kind) {
        case CHAOS_KILL:
            if (nd->a.pid > 0) {
                child_agent_kill(&nd->a);
                nd->killed = true;
                action(a->log, "SIGKILL %s", node_name(i));
            }
            break;
        case CHAOS_PAUSE:
            st = child_agent_pause(&nd->a, true) == 0 ? 200 : -1;
            action(a->log, "SIGSTOP %s", node_name(i));
            break;
        case CHAOS_PARTITION:
            partition_links(r, a, i, true);
            break;
        case CHAOS_LOSS:
            snprintf(body, sizeof(body), "{\"action\": \"drop\", \"peer\": \"%s\", \"rate\": %g}",
                     nm->peer >= 0 ? node_name(nm->peer) : "*", nm->rate);
            if (r->netns)
                kernel_drop(r, a, i, loss_peers(r, nm, i), nm->rate, true);
            else
                st = fault_post(r, i, body);
            action(a->log, "%s drops %.0f %% to and from %s", node_name(i), nm->rate * 100,
                   nm->peer >= 0 ? node_name(nm->peer) : "every peer");
            break;
        case CHAOS_DELAY:
            snprintf(body, sizeof(body),
                     "{\"action\": \"delay\", \"peer\": \"%s\", \"ms\": %u, \"jitter_ms\": %u}",
                     nm->peer >= 0 ? node_name(nm->peer) : "*", nm->delay_ms, nm->jitter_ms);
            st = fault_post(r, i, body);
            action(a->log, "%s delays %u ms (+%u) to and from %s", node_name(i), nm->delay_ms,
                   nm->jitter_ms, nm->peer >= 0 ? node_name(nm->peer) : "every peer");
            break;
        case CHAOS_DUPLICATE:
            snprintf(body, sizeof(body),
                     "{\"action\": \"dup\", \"peer\": \"%s\", \"rate\": %g, \"ms\": %u}",
                     nm->peer >= 0 ? node_name(nm->peer) : "*", nm->rate, nm->delay_ms);
            st = fault_post(r, i, body);
            action(a->log, "%s duplicates %.0f %% (+%u ms) to and from %s", node_name(i),
                   nm->rate * 100, nm->delay_ms,
                   nm->peer >= 0 ? node_name(nm->peer) : "every peer");
            break;
        case CHAOS_DEPENDENCY:
            if (!dep_once) {
                dep_once = true;
                int fd = atomic_exchange(&r->dep_fd, -1);
                if (fd >= 0)
                    close(fd);
                action(a->log, "the dependency %s:%d stops listening", dep_host(r), r->dep_port);
            }
            break;
        case CHAOS_DISK_FULL:
        case CHAOS_DISK_STALL:
            st = disk_start(r, a, i) == 0 ? 200 : -1;
            break;
        case CHAOS_CLOCK:
            snprintf(body, sizeof(body), "{\"clock_offset_ms\": %" PRId64 "}", nm->offset_ms);
            st = fault_post(r, i, body);
            action(a->log, "%s's clocks jump %+" PRId64 " ms", node_name(i), nm->offset_ms);
            break;
        case CHAOS_SERVICE: {
            char path[128];
            const char *addr = nd->svc_addr;
            snprintf(path, sizeof(path), "/fault/%s%s%s", nm->fault, nm->query[0] ? "?" : "",
                     nm->query);
            st = child_http(addr, "GET", path, NULL, 1000, NULL);
            /* A crash may close the connection before it answers. */
            if (strcmp(nm->fault, "crash") == 0 && st < 0)
                st = 200;
            action(a->log, "GET %s on %s's sample service", path, node_name(i));
            break;
        }
        default: break;
        }
        if (st != 200)
            count_error(a->log);
        heal_add(r, log_index, i, nm->kind == CHAOS_SERVICE || nm->kind == CHAOS_DEPENDENCY, a);
    }
    isolate_far_ends(r, a, true);
    fprintf(stderr, "chaos: %6.1f s  %s starts\n", (double)now / 1000.0, nm->label);
}

static void nemesis_end(struct run *r, struct active *a)
{
    const struct chaos_nemesis *nm = &r->sc->nemeses[a->nemesis];
    char body[160];
    bool dep_once = false; /* the dependency is one for every target */
    for (int i = 0; i < r->n; i++) {
        struct node *nd = &r->node[i];
        if (!a->targets[i])
            continue;
        long st = 200;
        switch (nm->kind) {
        case CHAOS_KILL:
            if (nd->killed) {
                int rc = child_agent_restart(&nd->a);
                nd->killed = false;
                st = rc == 0 ? 200 : -1;
                action(a->log, "restart %s%s", node_name(i), rc == 0 ? "" : " (failed)");
            }
            break;
        case CHAOS_PAUSE:
            st = child_agent_pause(&nd->a, false) == 0 ? 200 : -1;
            action(a->log, "SIGCONT %s", node_name(i));
            break;
        case CHAOS_PARTITION:
            partition_links(r, a, i, false);
            break;
        case CHAOS_LOSS:
        case CHAOS_DELAY:
        case CHAOS_DUPLICATE:
            snprintf(body, sizeof(body), "{\"action\": \"clear\", \"peer\": \"%s\"}",
                     nm->peer >= 0 ? node_name(nm->peer) : "*");
            if (r->netns && nm->kind == CHAOS_LOSS)
                kernel_drop(r, a, i, loss_peers(r, nm, i), nm->rate, false);
            else
                st = fault_post(r, i, body);
            action(a->log, "%s clears its %s rule", node_name(i), chaos_kind_name(nm->kind));
            break;
        case CHAOS_DEPENDENCY:
            if (!dep_once) {
                dep_once = true;
                int fd = dep_listen(r, r->dep_port);
                atomic_store(&r->dep_fd, fd);
                st = fd >= 0 ? 200 : -1;
                action(a->log, "the dependency listens again%s", fd >= 0 ? "" : " (failed)");
            }
            break;
        case CHAOS_DISK_FULL:
        case CHAOS_DISK_STALL:
            st = disk_end(r, a, i) == 0 ? 200 : -1;
            break;
        case CHAOS_CLOCK:
            /* A node killed meanwhile came back with its clock right. */
            st = nd->a.pid > 0 ? fault_post(r, i, "{\"clock_offset_ms\": 0}") : 200;
            action(a->log, "%s's clocks set right", node_name(i));
            break;
        case CHAOS_SERVICE:
            if (strcmp(nm->fault, "crash") != 0 && strcmp(nm->fault, "hang") != 0) {
                const char *addr = nd->svc_addr;
                /* Healing may have restarted it already, with no fault left to clear. */
                child_http(addr, "GET", "/fault/clear", NULL, 1000, NULL);
                action(a->log, "GET /fault/clear on %s's sample service", node_name(i));
            }
            break;
        default: break;
        }
        if (st != 200 && !(nm->kind == CHAOS_LOSS || nm->kind == CHAOS_DELAY ||
                           nm->kind == CHAOS_DUPLICATE))
            count_error(a->log);
    }
    isolate_far_ends(r, a, false);
    uint64_t now = rel_ms(r);
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(a->log, "end_ms"), (double)now);
    if (now > r->last_fault_end_ms)
        r->last_fault_end_ms = now;
    a->done = true;
    fprintf(stderr, "chaos: %6.1f s  %s ends\n", (double)now / 1000.0, nm->label);
}

/* ---- after the run: incidents, convergence, ledgers, logs ---- */

/* Reads every node's incidents into `out` (run-relative times) and matches the service
 * faults to the first incident each opened. */
static void read_incidents(struct run *r, cJSON *out, int *false_heals)
{
    *false_heals = 0;
    for (int i = 0; i < r->n; i++) {
        cJSON *doc = child_get_json(r->node[i].a.api, "/v1/incidents");
        const cJSON *inc;
        cJSON_ArrayForEach(inc, cJSON_GetObjectItemCaseSensitive(doc, "incidents"))
        {
            double opened = child_num(inc, "opened_ms"), closed = child_num(inc, "closed_ms");
            if (!isfinite(opened) || opened < (double)r->t0_wall)
                continue;
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "node", node_name(i));
            cJSON_AddStringToObject(x, "id", child_str(inc, "id"));
            cJSON_AddStringToObject(x, "service", child_str(inc, "service"));
            cJSON_AddStringToObject(x, "outcome", child_str(inc, "outcome"));
            cJSON_AddStringToObject(x, "state", child_str(inc, "state"));
            const cJSON *dg = cJSON_GetObjectItemCaseSensitive(inc, "diagnosis");
            cJSON_AddStringToObject(x, "signal", child_str(dg, "signal"));
            cJSON_AddStringToObject(x, "cause", child_str(dg, "cause"));
            cJSON *steps = cJSON_AddArrayToObject(x, "timeline");
            const cJSON *st;
            cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(inc, "timeline"))
            {
                char line[200];
                snprintf(line, sizeof(line), "%+.0f ms %s %s %s",
                         child_num(st, "t_ms") - opened, child_str(st, "kind"),
                         strcmp(child_str(st, "action"), "none") != 0 ? child_str(st, "action") : "",
                         child_str(st, "detail"));
                cJSON_AddItemToArray(steps, cJSON_CreateString(line));
            }
            cJSON_AddNumberToObject(x, "opened_ms", opened - (double)r->t0_wall);
            if (isfinite(closed) && closed > 0)
                cJSON_AddNumberToObject(x, "closed_ms", closed - (double)r->t0_wall);
            else
                cJSON_AddNullToObject(x, "closed_ms");
            cJSON_AddItemToArray(out, x);
            if (opened - (double)r->t0_wall < (double)r->sc->control_ms)
                (*false_heals)++;
            /* An incident belongs to the last service fault on its node that came before it
             * (100 ms of slack: the agent's clock is its loop's cached time); each fault
             * keeps the first incident it got. */
            struct heal *f = NULL;
            for (int h = 0; h < r->nheals; h++) {
                struct heal *c = &r->heals[h];
                if (c->service && c->node == i && (double)c->fault_wall <= opened + 100 &&
                    (f == NULL || c->fault_wall > f->fault_wall))
                    f = c;
            }
            if (f != NULL && (f->detect_ms < 0 ||
                              (double)f->detect_ms > opened - (double)f->fault_wall)) {
                f->detect_ms = (int64_t)(opened > (double)f->fault_wall ? opened - (double)f->fault_wall : 0);
                snprintf(f->outcome, sizeof(f->outcome), "%s", child_str(inc, "outcome"));
                f->healthy_ms = -1;
                f->actions[0] = '\0';
                size_t off = 0;
                bool held = false;
                const cJSON *e;
                cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(inc, "timeline"))
                {
                    const char *kind = child_str(e, "kind");
                    /* The same failure on many nodes (a dependency): restarts are held. */
                    if (strcmp(kind, "note") == 0 &&
                        strstr(child_str(e, "detail"), "cluster incident") != NULL && !held) {
                        held = true;
                        off += (size_t)snprintf(f->actions + off, sizeof(f->actions) - off,
                                                "%sheld for a cluster incident", off ? ", " : "");
                    }
                    if (strcmp(kind, "healthy") == 0 && f->healthy_ms < 0)
                        f->healthy_ms = (int64_t)(child_num(e, "t_ms") - (double)f->fault_wall);
                    if (strcmp(kind, "action") == 0 && off < sizeof(f->actions) - 20)
                        off += (size_t)snprintf(f->actions + off, sizeof(f->actions) - off,
                                                "%s%s", off ? ", " : "", child_str(e, "action"));
                }
                /* Healed by an action, or, held as part of a cluster-wide failure, back
                 * by itself when the cause went: both are what the policy asks. */
                f->success = strcmp(f->outcome, "healed") == 0 ||
                             (held && strcmp(f->outcome, "recovered") == 0);
            }
        }
        cJSON_Delete(doc);
    }
}

/* Each agent's own fault counters (GET /v1/fault): the messages its transports dropped and
 * held. With --netns and no delay nemesis they stay 0: the kernel did the cutting. */
static cJSON *transport_faults_json(struct run *r)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < r->n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "node", node_name(i));
        cJSON *doc = child_get_json(r->node[i].a.api, "/v1/fault");
        double dropped = child_num(doc, "dropped"), delayed = child_num(doc, "delayed");
        if (isfinite(dropped) && isfinite(delayed)) {
            cJSON_AddNumberToObject(o, "dropped", dropped);
            cJSON_AddNumberToObject(o, "delayed", delayed);
        } else {
            cJSON_AddNullToObject(o, "dropped");
            cJSON_AddNullToObject(o, "delayed");
        }
        cJSON_Delete(doc);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* Every voter reports the same ledger size and root (or time runs out). */
static bool ledgers_converge(struct run *r, uint64_t timeout_ms)
{
    for (uint64_t end = child_mono_ms() + timeout_ms; child_mono_ms() < end; child_sleep_ms(200)) {
        poll_all(r);
        const struct node *first = NULL;
        bool same = true;
        for (int i = 0; i < r->n && same; i++) {
            const struct node *nd = &r->node[i];
            if (!nd->voter)
                continue;
            if (!nd->up)
                same = false;
            else if (first == NULL)
                first = nd;
            else
                same = first->ledger_size == nd->ledger_size && strcmp(first->root, nd->root) == 0;
        }
        if (same)
            return true;
    }
    return false;
}

/* Services all healthy on every node. */
static bool services_healthy(struct run *r)
{
    for (int i = 0; i < r->n; i++) {
        cJSON *doc = child_get_json(r->node[i].a.api, "/v1/services");
        bool ok = doc != NULL;
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "services"))
            /* The placed service runs on one node only: safety.placement judges it. */
            if (strcmp(child_str(s, "name"), r->sc->placement.service) != 0)
                ok &= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "healthy"));
        cJSON_Delete(doc);
        if (!ok)
            return false;
    }
    return true;
}

struct ledger_copy {
    uint64_t size;
    uint8_t (*hash)[16];
};

static int check_add(cJSON *checks, const char *name, bool holds, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int check_add(cJSON *checks, const char *name, bool holds, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", name);
    cJSON_AddBoolToObject(c, "holds", holds);
    cJSON_AddStringToObject(c, "evidence", text);
    cJSON_AddItemToArray(checks, c);
    fprintf(stderr, "chaos: %-22s %s  %s\n", name, holds ? "holds" : "FAILS", text);
    return holds ? 0 : 1;
}

/*
 * Reads every voter's ledger from its data folder (the agents are stopped): the leaf hashes
 * for the prefix check, the longest ledger's notes for the acknowledged proposals, and the
 * action results per decision.
 */
static int check_ledgers(struct run *r, cJSON *checks)
{
    int failed = 0;
    struct ledger_copy lc[CHAOS_NODES_MAX];
    memset(lc, 0, sizeof(lc));
    int longest = -1;
    char err[400] = "";
    uint64_t max_results = 0, decisions = 0;
    /* notes of the longest ledger: index -> (client, n) */
    int32_t *note_client = NULL;
    uint32_t *note_n = NULL;
    for (int i = 0; i < r->n; i++) {
        if (!r->node[i].voter)
            continue;
        const char *data = r->node[i].data;
        struct replay *rp = calloc(1, sizeof(*rp));
        if (rp == NULL)
            return 1;
        int rc = replay_open_dir(rp, data);
        uint64_t cap = rc == 0 ? rp->total : 0;
        lc[i].hash = calloc(cap + 1, sizeof(*lc[i].hash));
        int32_t *nc = calloc(cap + 1, sizeof(*nc));
        uint32_t *nn = calloc(cap + 1, sizeof(*nn));
        uint64_t *results = NULL;
        size_t nresults = 0;
        if (rc != 0)
            snprintf(err, sizeof(err), "%s: %s", node_name(i), rp->err);
        for (uint64_t k = 0; rc == 0 && k < cap && lc[i].hash != NULL && nc && nn; k++) {
            struct ledger_entry e;
            struct swarm_applied ap;
            int s = replay_step(rp, &e, &ap);
            if (s != 0) {
                if (s < 0)
                    snprintf(err, sizeof(err), "%s: %s", node_name(i), rp->err);
                break;
            }
            const uint8_t *leaf;
            size_t leaf_len, path_len;
            const uint8_t(*path)[MERKLE_HASH_BYTES];
            replay_last_leaf(rp, &leaf, &leaf_len, &path, &path_len);
            crypto_generichash(lc[i].hash[k], 16, leaf, leaf_len, NULL, 0);
            lc[i].size = k + 1;
            nc[k] = -1;
            if (e.kind_len == 4 && memcmp(e.kind, "note", 4) == 0) {
                struct pl_buf b;
                pl_buf_init(&b, 1 << 16);
                if (pl_json_from_msgpack(e.body, e.body_len, &b) == 0) {
                    cJSON *doc = cJSON_ParseWithLength((const char *)b.data, b.len);
                    double cl = child_num(doc, "chaos"), n = child_num(doc, "n");
                    if (isfinite(cl) && isfinite(n)) {
                        nc[k] = (int32_t)cl;
                        nn[k] = (uint32_t)n;
                    }
                    cJSON_Delete(doc);
                }
                pl_buf_close(&b);
            }
            if (ap.kind == SWARM_K_DECISION && ap.outcome == SWARM_APPLIED)
                decisions++;
            if (ap.kind == SWARM_K_ACTION_RESULT && ap.outcome == SWARM_APPLIED &&
                ap.decision != NULL) {
                uint64_t *q = realloc(results, (nresults + 1) * sizeof(*results));
                if (q != NULL) {
                    results = q;
                    results[nresults++] = ap.decision->index;
                }
            }
        }
        replay_close(rp);
        free(rp);
        /* The most applied action results of one decision on this voter. */
        for (size_t a = 0; a < nresults; a++) {
            uint64_t same = 0;
            for (size_t b = 0; b < nresults; b++)
                same += results[a] == results[b];
            if (same > max_results)
                max_results = same;
        }
        free(results);
        if (longest < 0 || lc[i].size > lc[longest].size) {
            longest = i;
            free(note_client);
            free(note_n);
            note_client = nc;
            note_n = nn;
        } else {
            free(nc);
            free(nn);
        }
    }
    /* Prefix: every voter's leaf k equals the longest's. */
    char where[200] = "";
    bool prefix = err[0] == '\0' && longest >= 0;
    for (int i = 0; i < r->n && prefix; i++)
        for (uint64_t k = 0; k < lc[i].size && prefix; k++)
            if (memcmp(lc[i].hash[k], lc[longest].hash[k], 16) != 0) {
                prefix = false;
                snprintf(where, sizeof(where), "%s and %s differ at entry %" PRIu64,
                         node_name(i), node_name(longest), k);
            }
    char sizes[200] = "";
    size_t off = 0;
    for (int i = 0; i < r->n; i++)
        if (r->node[i].voter && off < sizeof(sizes))
            off += (size_t)snprintf(sizes + off, sizeof(sizes) - off, "%s%s %" PRIu64,
                                    off ? ", " : "", node_name(i), lc[i].size);
    failed += check_add(checks, "safety.ledgers", prefix,
                        "%s; ledger sizes: %s", err[0] ? err : prefix ? "every voter's ledger is a prefix of the longest" : where,
                        sizes);
    /* Every acknowledged proposal at its index in the longest ledger. */
    int nops = atomic_load(&r->nops);
    uint64_t acked = 0, missing = 0;
    char first_missing[160] = "";
    uint64_t size = longest >= 0 ? lc[longest].size : 0;
    for (int k = 0; k < nops; k++) {
        const struct op *o = &r->ops[k];
        if (o->kind != 0 || o->status != 200)
            continue;
        acked++;
        uint64_t at = o->index - 1;
        if (at >= size || note_client[at] != o->client || note_n[at] != o->n) {
            if (missing++ == 0)
                snprintf(first_missing, sizeof(first_missing),
                         "; first missing: client %u's proposal %u, acknowledged at index %" PRIu64,
                         o->client, o->n, o->index);
        }
    }
    failed += check_add(checks, "safety.acknowledged", missing == 0 && longest >= 0,
                        "%" PRIu64 " acknowledged proposals, %" PRIu64 " missing from the "
                        "ledger at their index%s", acked, missing, first_missing);
    failed += check_add(checks, "safety.decisions", max_results <= 1,
                        "%" PRIu64 " decisions applied; the most action results applied for one "
                        "decision: %" PRIu64, decisions, max_results);
    for (int i = 0; i < r->n; i++)
        free(lc[i].hash);
    free(note_client);
    free(note_n);
    return failed;
}

/* At most one node logged "elected leader" in each term. */
static int check_leaders_from_logs(struct run *r, cJSON *checks)
{
    enum { TERMS_MAX = 100000 };
    int8_t *who = malloc(TERMS_MAX);
    if (who == NULL)
        return 1;
    memset(who, -1, TERMS_MAX);
    uint64_t elections = 0, max_term = 0;
    char clash[200] = "";
    for (int i = 0; i < r->n; i++) {
        FILE *f = fopen(r->node[i].a.log, "r");
        if (f == NULL)
            continue;
        char line[1024];
        for (int k = 0; k < LOG_LINES_MAX && fgets(line, sizeof(line), f); k++) {
            const char *p = strstr(line, "mod=raft elected leader term=");
            if (p == NULL)
                continue;
            uint64_t term = strtoull(p + strlen("mod=raft elected leader term="), NULL, 10);
            if (term >= TERMS_MAX)
                continue;
            elections++;
            if (term > max_term)
                max_term = term;
            if (who[term] >= 0 && who[term] != i && clash[0] == '\0')
                snprintf(clash, sizeof(clash), "; %s and %s were both elected in term %" PRIu64,
                         node_name(who[term]), node_name(i), term);
            who[term] = (int8_t)i;
        }
        fclose(f);
    }
    free(who);
    return check_add(checks, "safety.leaders", clash[0] == '\0',
                     "%" PRIu64 " elections in the agents' logs, terms up to %" PRIu64 "%s",
                     elections, max_term, clash[0] ? clash : "; one leader per term");
}

/* ---- the report ---- */

static cJSON *heals_json(const struct run *r)
{
    cJSON *arr = cJSON_CreateArray();
    for (int h = 0; h < r->nheals; h++) {
        const struct heal *x = &r->heals[h];
        cJSON *o = cJSON_CreateObject();
        const cJSON *log = cJSON_GetArrayItem(r->nemeses, x->nemesis);
        char kind[64];
        const char *type = child_str(log, "type");
        double k = child_num(log, "nemesis");
        const struct chaos_nemesis *nm = k >= 0 && k < r->sc->n ? &r->sc->nemeses[(int)k] : NULL;
        bool svc = x->service && nm != NULL && nm->kind == CHAOS_SERVICE;
        snprintf(kind, sizeof(kind), "%s%s%s", type, svc ? ":" : "", svc ? nm->fault : "");
        cJSON_AddStringToObject(o, "fault", kind);
        cJSON_AddStringToObject(o, "label", child_str(log, "label"));
        cJSON_AddStringToObject(o, "node", node_name(x->node));
        cJSON_AddNumberToObject(o, "fault_ms", (double)x->fault_ms);
        cJSON_AddNumberToObject(o, "end_ms", child_num(log, "end_ms"));
        if (x->detect_ms >= 0)
            cJSON_AddNumberToObject(o, "detect_ms", (double)x->detect_ms);
        else
            cJSON_AddNullToObject(o, "detect_ms");
        if (x->healthy_ms >= 0)
            cJSON_AddNumberToObject(o, "healthy_ms", (double)x->healthy_ms);
        else
            cJSON_AddNullToObject(o, "healthy_ms");
        cJSON_AddBoolToObject(o, "success", x->success);
        if (x->superseded)
            cJSON_AddBoolToObject(o, "superseded", true);
        cJSON_AddStringToObject(o, "actions", x->actions);
        if (x->service)
            cJSON_AddStringToObject(o, "outcome", x->outcome);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* Kubernetes' and systemd's documented defaults for the faults (docs/BENCHMARKS.md and
 * the project's facts file give the sources). */
static cJSON *reference_json(void)
{
    static const struct {
        const char *fault, *k8s, *systemd;
    } rows[] = {
        {"service:crash", "restart at once (restartPolicy Always), then CrashLoopBackOff 10 s, "
                          "20 s ... 300 s",
         "restart after RestartSec 100 ms, only with Restart= set (default no); 5 starts in "
         "10 s and it gives up"},
        {"service:hang", "liveness probe every 10 s, 3 failures: ~30 s to detect, then restart",
         "not detected unless WatchdogSec= is set and the service notifies (default off)"},
        {"service:unhealthy", "liveness probe: ~30 s to detect, then restart",
         "not detected (systemd has no health checks)"},
        {"service:errors", "not detected (probes do not see the error rate)", "not detected"},
        {"kill", "node NotReady after 40-50 s; pods evicted ~5 min 40 s after the node is lost",
         "not its job (one host)"},
        {"pause", "as a lost node: 40-50 s to NotReady, ~5 min 40 s to move pods",
         "not its job (one host)"},
        {"partition", "as a lost node for the unreachable side", "not its job (one host)"},
    };
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "fault", rows[i].fault);
        cJSON_AddStringToObject(o, "kubernetes", rows[i].k8s);
        cJSON_AddStringToObject(o, "systemd", rows[i].systemd);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *ops_json(const struct run *r, cJSON *summary)
{
    cJSON *arr = cJSON_CreateArray();
    int nops = atomic_load(&r->nops);
    uint64_t sent[2] = {0, 0}, ok[2] = {0, 0};
    for (int k = 0; k < nops; k++) {
        const struct op *o = &r->ops[k];
        cJSON *row = cJSON_CreateArray();
        cJSON_AddItemToArray(row, cJSON_CreateNumber(o->t_ms));
        cJSON_AddItemToArray(row, cJSON_CreateNumber(o->kind));
        cJSON_AddItemToArray(row, cJSON_CreateNumber(o->node));
        cJSON_AddItemToArray(row, cJSON_CreateNumber(o->latency_ms));
        cJSON_AddItemToArray(row, cJSON_CreateNumber(o->status));
        cJSON_AddItemToArray(arr, row);
        sent[o->kind]++;
        ok[o->kind] += o->status == 200;
    }
    cJSON *p = cJSON_AddObjectToObject(summary, "proposals");
    cJSON_AddNumberToObject(p, "sent", (double)sent[0]);
    cJSON_AddNumberToObject(p, "acknowledged", (double)ok[0]);
    cJSON *h = cJSON_AddObjectToObject(summary, "http");
    cJSON_AddNumberToObject(h, "sent", (double)sent[1]);
    cJSON_AddNumberToObject(h, "ok", (double)ok[1]);
    return arr;
}

/* ---- the command ---- */

static int read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -errno;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            if (cap >= (64u << 20)) {
                free(buf);
                buf = NULL;
                break;
            }
            char *b = realloc(buf, cap * 2);
            if (b == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL)
        return PL_ETOOBIG;
    *text = buf;
    *len = n;
    return 0;
}

static int write_report(const char *cmd, const cJSON *report, const char *json_path,
                        const char *html_path)
{
    int rc = 0;
    if (json_path != NULL) {
        char *text = cJSON_PrintUnformatted(report);
        FILE *f = fopen(json_path, "w");
        if (text == NULL || f == NULL || fputs(text, f) < 0 || fputc('\n', f) < 0) {
            fprintf(stderr, "%s: cannot write %s: %s\n", cmd, json_path, strerror(errno));
            rc = -EIO;
        }
        if (f != NULL && fclose(f) != 0 && rc == 0) {
            fprintf(stderr, "%s: cannot write %s: %s\n", cmd, json_path, strerror(errno));
            rc = -EIO;
        }
        free(text);
    }
    if (html_path != NULL) {
        FILE *f = fopen(html_path, "w");
        int hrc = f != NULL ? chaos_html_write(report, f) : -errno;
        if (f != NULL && fclose(f) != 0 && hrc == 0)
            hrc = -errno;
        if (hrc != 0) {
            fprintf(stderr, "%s: cannot write %s: %s\n", cmd, html_path, pl_strerror(hrc));
            rc = hrc;
        }
    }
    return rc;
}

/* Splits a comma-separated list into at most `max` items of `out` (each < 320 bytes). */
static int split_list(const char *list, char (*out)[320], int max)
{
    int n = 0;
    for (const char *p = list; p != NULL && *p && n < max + 1;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n < max) {
            snprintf(out[n], 320, "%.*s", (int)(len < 319 ? len : 319), p);
        }
        n++;
        p = comma != NULL ? comma + 1 : NULL;
    }
    return n;
}

/*
 * --cluster: the agents named by their APIs, in the scenario's node order (the first is n1
 * of the scenario's targets). Each must have its fault API on; their names, processes (for
 * pause, when they run on this machine) and data folders (for the ledger checks) come from
 * /v1/agent/self, the voters from /v1/raft/status.
 */
static int cluster_attach(struct run *r)
{
    static char apis[CHAOS_NODES_MAX][320], svcs[CHAOS_NODES_MAX][320];
    int n = split_list(r->cluster, apis, CHAOS_NODES_MAX);
    int ns = r->services != NULL ? split_list(r->services, svcs, CHAOS_NODES_MAX) : 0;
    if (n != r->n) {
        fprintf(stderr, "%s: --cluster: %d agents, but the scenario has %d nodes\n", CMD, n, r->n);
        return PL_EUSAGE;
    }
    if (r->services != NULL && ns != n) {
        fprintf(stderr, "%s: --services: %d addresses for %d agents\n", CMD, ns, n);
        return PL_EUSAGE;
    }
    for (int i = 0; i < n; i++) {
        struct node *nd = &r->node[i];
        snprintf(nd->a.api, sizeof(nd->a.api), "%s", apis[i]);
        cJSON *self = child_get_json(apis[i], "/v1/agent/self");
        cJSON *st = child_get_json(apis[i], "/v1/raft/status");
        int rc = 0;
        if (self == NULL || st == NULL) {
            fprintf(stderr, "%s: --cluster: no agent answers at %s (a TCP API needs "
                    "PLATELET_TOKEN)\n", CMD, apis[i]);
            rc = PL_EUSAGE;
        } else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(self, "faults_enabled"))) {
            fprintf(stderr, "%s: --cluster: the agent at %s has its fault API off; start it "
                    "with --enable-faults\n", CMD, apis[i]);
            rc = PL_EUSAGE;
        } else {
            snprintf(names[i], sizeof(names[i]), "%s", child_str(self, "name"));
            snprintf(nd->a.name, sizeof(nd->a.name), "%s", names[i]);
            snprintf(nd->data, sizeof(nd->data), "%s", child_str(self, "data_dir"));
            double pid = child_num(self, "pid");
            nd->a.pid = isfinite(pid) && pid > 1 && kill((pid_t)pid, 0) == 0 ? (pid_t)pid : 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(st, "voters"))
                nd->voter |= cJSON_IsString(v) && strcmp(v->valuestring, names[i]) == 0;
            if (ns > 0)
                snprintf(nd->svc_addr, sizeof(nd->svc_addr), "%s", svcs[i]);
        }
        cJSON_Delete(self);
        cJSON_Delete(st);
        if (rc != 0)
            return rc;
    }
    /* What the nemeses need and an attached cluster may not give. */
    for (int k = 0; k < r->sc->n; k++) {
        const struct chaos_nemesis *nm = &r->sc->nemeses[k];
        const char *why = NULL;
        bool pids = true;
        for (int i = 0; i < n; i++)
            pids &= r->node[i].a.pid > 0;
        if (nm->kind == CHAOS_KILL)
            why = "kill needs to restart its agents, which --cluster did not start";
        else if (nm->kind == CHAOS_PAUSE && !pids)
            why = "pause needs the agents' processes on this machine";
        else if (nm->kind == CHAOS_DEPENDENCY)
            why = "a dependency nemesis needs the services started with the harness's dependency";
        else if (nm->kind == CHAOS_DISK_FULL || nm->kind == CHAOS_DISK_STALL)
            why = "a disk nemesis mounts the agents' data dirs, which only agents the harness "
                  "starts can be given";
        else if (nm->kind == CHAOS_SERVICE && ns == 0)
            why = "a service nemesis needs --services (the sample services' HOST:PORT)";
        if (why != NULL) {
            fprintf(stderr, "%s: --cluster: nemeses[%d] (%s): %s\n", CMD, k, nm->label, why);
            return PL_EUSAGE;
        }
    }
    return 0;
}

static int check_placement(struct run *r, cJSON *report, cJSON *checks);

static int run_scenario(struct run *r, cJSON *report)
{
    const struct chaos_scenario *sc = r->sc;
    static struct chaos_interval iv[CHAOS_INTERVALS_MAX];
    int niv = chaos_schedule_build(sc, r->seed, iv, CHAOS_INTERVALS_MAX);
    atomic_store(&r->dep_fd, -1);
    for (int k = 0; k < sc->n && !r->external; k++)
        if (sc->nemeses[k].kind == CHAOS_DEPENDENCY && r->dep_port == 0) {
            r->dep_port = child_free_port(false);
            int fd = r->dep_port > 0 ? dep_listen(r, r->dep_port) : -1;
            if (fd < 0)
                return PL_EFULL;
            atomic_store(&r->dep_fd, fd);
            r->dep_running = pthread_create(&r->dep_th, NULL, dep_main, r) == 0;
        }
    int rc = r->external ? cluster_attach(r) : cluster_start(r);
    if (rc != 0)
        return rc;
    /* A council first: every voter names the same leader and every member is alive. */
    uint64_t ready_end = child_mono_ms() + 60000;
    r->t0_mono = child_mono_ms();
    while (child_mono_ms() < ready_end) {
        poll_all(r);
        if (cluster_whole(r) && services_healthy(r))
            break;
        child_sleep_ms(200);
    }
    if (!cluster_whole(r)) {
        fprintf(stderr, "%s: the cluster did not form in 60 s (logs in %s)\n", CMD, r->dir);
        return PL_ETIMEOUT;
    }
    r->t0_wall = child_wall_ms();
    r->t0_mono = child_mono_ms();
    r->last_leader[0] = '\0';
    r->whole_since_ms = UINT64_MAX;
    cJSON_Delete(r->leaders);
    r->leaders = cJSON_CreateArray();
    memset(&r->overlaps, 0, sizeof(r->overlaps));
    r->placed_holder[0] = '\0';
    if (sc->placement.service[0] != '\0' && !r->external) {
        r->holders = cJSON_AddArrayToObject(report, "placement_holders");
        r->copies = cJSON_AddArrayToObject(report, "placement_copies");
        placed_sample(r);
    }
    fprintf(stderr, "chaos: %s: %d nodes (%u voters) formed a council; %d nemesis runs over "
            "%.0f s, seed %" PRIu64 "\n", sc->name, r->n, sc->voters, niv,
            (double)sc->duration_ms / 1000.0, r->seed);
    /* The workload. */
    struct client cl[17];
    int ncl = 0;
    for (uint32_t k = 0; k < sc->clients; k++, ncl++) {
        cl[ncl] = (struct client){.r = r, .id = (int)k,
                                  .interval_ms = 1000ull * sc->clients / sc->proposals_per_s};
        pl_rand_seed(&cl[ncl].rnd, r->seed + k + 1);
    }
    int nprop = ncl;
    if (sc->http_per_s > 0)
        cl[ncl++] = (struct client){.r = r, .id = 100, .interval_ms = 1000 / sc->http_per_s};
    int started = 0;
    for (int k = 0; k < ncl; k++, started++)
        if (pthread_create(&cl[k].th, NULL, k < nprop ? proposer_main : http_main, &cl[k]) != 0)
            break;
    /* The schedule. */
    static struct active act[CHAOS_INTERVALS_MAX];
    memset(act, 0, sizeof(act));
    int next = 0;
    uint64_t next_poll = 0;
    for (;;) {
        uint64_t now = rel_ms(r);
        while (next < niv && iv[next].start_ms <= now) {
            act[next].nemesis = iv[next].nemesis;
            nemesis_start(r, &act[next], iv[next].end_ms - iv[next].start_ms);
            next++;
        }
        bool running = false;
        for (int k = 0; k < next; k++) {
            if (!act[k].done && act[k].end_ms <= rel_ms(r))
                nemesis_end(r, &act[k]);
            running |= !act[k].done;
        }
        now = rel_ms(r);
        if (now >= next_poll) {
            poll_all(r);
            next_poll = now + POLL_MS;
        }
        if (now >= sc->duration_ms && !running && next >= niv)
            break;
        child_sleep_ms(50);
    }
    /* Liveness: whole, with every service healthy, within liveness_s of the last fault. */
    uint64_t from = r->last_fault_end_ms, live_ms = 0;
    bool live = false;
    for (uint64_t end = child_mono_ms() + sc->liveness_ms; child_mono_ms() < end;
         child_sleep_ms(200)) {
        poll_all(r);
        if (cluster_whole(r) && services_healthy(r)) {
            /* Whole since the first poll that found it so (the schedule may have gone on
             * quietly after the last fault), services healthy now. */
            live = true;
            live_ms = (r->whole_since_ms > from ? r->whole_since_ms : from) - from;
            break;
        }
    }
    atomic_store(&r->stop, true);
    for (int k = 0; k < started; k++)
        pthread_join(cl[k].th, NULL);
    if (r->dep_running)
        pthread_join(r->dep_th, NULL);
    r->dep_running = false;
    int dep_fd = atomic_exchange(&r->dep_fd, -1);
    if (dep_fd >= 0)
        close(dep_fd);
    /* Nodes whose fault outlived the run get a last chance to be seen whole. */
    for (int k = 0; k < 3; k++)
        poll_all(r);
    chaos_overlap_finish(&r->overlaps, rel_ms(r));
    bool converged = ledgers_converge(r, CONVERGE_MS);
    cJSON *checks = cJSON_GetObjectItemCaseSensitive(report, "checks");
    cJSON *incidents = cJSON_AddArrayToObject(report, "incidents");
    int false_heals = 0;
    read_incidents(r, incidents, &false_heals);
    cJSON_AddItemToObject(report, "transport_faults", transport_faults_json(r));
    cluster_stop(r);

    int failed = 0;
    failed += check_add(checks, "liveness", live,
                        live ? "whole (one leader, every member alive) %.1f s after the last "
                               "fault ended, and every service healthy"
                             : "not whole within %.0f s of the last fault's end",
                        live ? (double)live_ms / 1000.0 : (double)sc->liveness_ms / 1000.0);
    failed += check_add(checks, "safety.converged", converged,
                        converged ? "every voter reached the same ledger size and root"
                                  : "the voters' ledgers did not reach the same size and root "
                                    "within %d s",
                        CONVERGE_MS / 1000);
    failed += check_ledgers(r, checks);
    if (r->external)
        failed += check_add(checks, "safety.leaders", r->polled_clash[0] == '\0',
                            "%s (from the polls every %d ms: --cluster has no agents' logs)",
                            r->polled_clash[0] ? r->polled_clash : "one leader per term polled",
                            POLL_MS);
    else
        failed += check_leaders_from_logs(r, checks);
    int svc = 0, svc_ok = 0, nodef = 0, node_ok = 0, superseded = 0;
    for (int h = 0; h < r->nheals; h++) {
        struct heal *x = &r->heals[h];
        if (x->service) {
            svc++;
            svc_ok += x->success;
        } else if (x->superseded) {
            superseded++;
        } else {
            nodef++;
            x->success = x->healthy_ms >= 0 &&
                         (uint64_t)x->healthy_ms <= x->end_ms - x->fault_ms + sc->liveness_ms;
            node_ok += x->success;
        }
    }
    failed += check_add(checks, "healing.service", svc_ok == svc,
                        "%d of %d injected service faults detected and healed (or, held for a "
                        "cluster-wide failure, recovered when it went)", svc_ok, svc);
    failed += check_add(checks, "healing.nodes", node_ok == nodef,
                        "%d of %d node and network faults followed by a whole cluster within "
                        "liveness_s of their end (%d more cut short by a later fault before "
                        "it was whole)", node_ok, nodef, superseded);
    failed += check_add(checks, "healing.false_heals", false_heals == 0,
                        "%d incidents opened in the %.0f s no-fault control window", false_heals,
                        (double)sc->control_ms / 1000.0);
    if (sc->placement.service[0] != '\0' && !r->external)
        failed += check_placement(r, report, checks);
    cJSON *wl = cJSON_AddObjectToObject(report, "workload");
    cJSON_AddItemToObject(wl, "ops", ops_json(r, wl));
    cJSON_AddItemToObject(report, "healing", heals_json(r));
    return failed > 0 ? PL_EVERIFY : 0;
}

/* safety.placement: the replicas: 1 service never on two nodes for longer than its lease
 * plus PLACED_MARGIN_MS, judged on each overlap's lower bound (first to last sample that
 * saw two copies); the report's "placement" keeps every overlap. */
static int check_placement(struct run *r, cJSON *report, cJSON *checks)
{
    const struct chaos_placement *pl = &r->sc->placement;
    const struct chaos_overlaps *o = &r->overlaps;
    cJSON *pj = cJSON_AddObjectToObject(report, "placement");
    cJSON_AddStringToObject(pj, "service", pl->service);
    cJSON_AddNumberToObject(pj, "lease_ms", (double)pl->lease_ms);
    cJSON_AddNumberToObject(pj, "margin_ms", PLACED_MARGIN_MS);
    cJSON_AddNumberToObject(pj, "samples", (double)o->samples);
    cJSON_AddNumberToObject(pj, "overlaps_not_listed", o->more);
    cJSON *ov = cJSON_AddArrayToObject(pj, "overlaps");
    for (int k = 0; k < o->n; k++) {
        const struct chaos_overlap *x = &o->iv[k];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "start_ms", (double)x->start_ms);
        cJSON_AddNumberToObject(e, "last_ms", (double)x->last_ms);
        cJSON_AddNumberToObject(e, "end_ms", (double)x->end_ms);
        cJSON_AddNumberToObject(e, "at_least_ms", (double)(x->last_ms - x->start_ms));
        cJSON_AddBoolToObject(e, "open_at_end", x->open_at_end);
        cJSON *nodes = cJSON_AddArrayToObject(e, "nodes");
        for (int i = 0; i < r->n; i++)
            if (x->nodes & (1u << i))
                cJSON_AddItemToArray(nodes, cJSON_CreateString(node_name(i)));
        cJSON_AddItemToArray(ov, e);
    }
    bool holds = chaos_overlap_holds(o, pl->lease_ms, PLACED_MARGIN_MS);
    const struct chaos_overlap *w = &o->longest;
    int moves = cJSON_GetArraySize(r->holders);
    char who[160] = "";
    for (int i = 0, off = 0; i < r->n && off < (int)sizeof(who); i++)
        if (w->nodes & (1u << i))
            off += snprintf(who + off, sizeof(who) - (size_t)off, "%s%s", off ? " and " : "",
                            node_name(i));
    if (o->n + (int)o->more == 0)
        return check_add(checks, "safety.placement", holds,
                         "%s never ran on two nodes at once in %" PRIu64 " samples (every %d "
                         "ms); its holder changed %d times", pl->service, o->samples, POLL_MS,
                         moves > 0 ? moves - 1 : 0);
    return check_add(checks, "safety.placement", holds,
                     "%d times on two nodes; the longest, %s, at least %.1f s (%.1f to %.1f s%s)"
                     ", %s the lease %.1f s + margin %.1f s; its holder changed %d times",
                     o->n + (int)o->more, who, (double)(w->last_ms - w->start_ms) / 1000.0,
                     (double)w->start_ms / 1000.0, (double)w->last_ms / 1000.0,
                     w->open_at_end ? ", still at the end" : "", holds ? "within" : "PAST",
                     (double)pl->lease_ms / 1000.0, PLACED_MARGIN_MS / 1000.0,
                     moves > 0 ? moves - 1 : 0);
}

/* --netns: the run's bridge and namespaces, and the API token file its agents take (the
 * token itself is in PLATELET_TOKEN, which child_http sends). */
static int netns_up(struct run *r)
{
    char err[512], path[300];
    int rc = chaos_netns_up(&r->net, r->n, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "%s: --netns: %s\n", CMD, err);
        return rc;
    }
    snprintf(path, sizeof(path), "%s/api.tokens", r->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *token = getenv("PLATELET_TOKEN");
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL || token == NULL || fprintf(f, "operate %s\n", token) < 0) {
        rc = -EIO;
        fprintf(stderr, "%s: cannot write %s: %s\n", CMD, path, strerror(errno));
    }
    if (f != NULL)
        fclose(f);
    else if (fd >= 0)
        close(fd);
    if (rc == 0)
        fprintf(stderr, "chaos: --netns: bridge %s on %s (the harness %s), nodes at .11 to .%d "
                "in namespaces %sn1 to n%d\n", r->net.id, r->net.subnet, r->net.gw, 10 + r->n,
                r->net.id, r->n);
    return rc;
}

/* Where the agents ran: loopback, their namespaces and addresses, or attached. */
static cJSON *network_json(const struct run *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "mode", r->netns ? "netns" : r->external ? "attached" : "loopback");
    if (!r->netns)
        return o;
    cJSON_AddStringToObject(o, "bridge", r->net.id);
    cJSON_AddStringToObject(o, "subnet", r->net.subnet);
    cJSON_AddStringToObject(o, "gateway", r->net.gw);
    cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
    for (int i = 0; i < r->n; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "node", node_name(i));
        cJSON_AddStringToObject(x, "netns", r->net.ns[i]);
        cJSON_AddStringToObject(x, "addr", r->net.addr[i]);
        cJSON_AddItemToArray(nodes, x);
    }
    return o;
}

/*
 * One run of the scenario in a fresh scratch folder, into `report` (checks, workload,
 * healing, incidents, nemeses, leaders, wall time and the harness's CPU, verdict). With
 * `restart_only`, every sample service's policy allows nothing but restart (the baseline of
 * --compare). 0 when every check holds, PL_EVERIFY when one fails, else why it could not run.
 */
static int one_run(const struct chaos_scenario *sc, uint64_t seed, const char *bin, bool keep,
                   bool restart_only, const char *cluster, const char *services,
                   const struct chaos_netns *netns, struct chaos_disk *disk, cJSON *report)
{
    struct run *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    r->external = cluster != NULL;
    r->cluster = cluster;
    r->services = services;
    for (int i = 0; i < CHAOS_NODES_MAX; i++)
        snprintf(names[i], sizeof(names[i]), "n%d", i + 1);
    r->sc = sc;
    r->seed = seed;
    r->bin = bin;
    r->keep = keep;
    r->restart_only = restart_only;
    r->disk = disk;
    pthread_mutex_init(&r->ops_lock, NULL);
    r->n = (int)sc->nodes;
    pl_rand_seed(&r->rnd, seed);
    child_ports_seed(seed);
    r->ops = calloc(OPS_MAX, sizeof(*r->ops));
    r->nemeses = cJSON_CreateArray();
    r->leaders = cJSON_CreateArray();
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof(r->dir), "%s/platelet-chaos.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (r->ops == NULL || mkdtemp(r->dir) == NULL) {
        fprintf(stderr, "%s: cannot make a scratch folder: %s\n", CMD, strerror(errno));
        cJSON_Delete(r->nemeses);
        cJSON_Delete(r->leaders);
        free(r->ops);
        free(r);
        return -EIO;
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t wall0 = child_mono_ms();
    cJSON_AddArrayToObject(report, "checks");
    int rc = 0;
    if (netns != NULL) {
        r->netns = true;
        r->net = *netns;
        rc = netns_up(r);
    }
    cJSON_AddItemToObject(report, "network", network_json(r));
    if (rc == 0)
        rc = run_scenario(r, report);
    cluster_stop(r);
    if (r->disk != NULL) {
        /* The data dirs were read for the checks: now thawed (should a nemesis have been
         * cut short) and unmounted, before the scratch folder goes. */
        if (keep && r->disk->fs == CHAOS_FS_TMPFS)
            fprintf(stderr, "chaos: --keep: the agents' data dirs were tmpfs and go with the "
                    "run (their logs are kept)\n");
        chaos_disk_down(r->disk);
    }
    if (r->netns)
        chaos_netns_down(&r->net);
    /* A run that stopped early leaves no thread behind. */
    atomic_store(&r->stop, true);
    if (r->dep_running)
        pthread_join(r->dep_th, NULL);
    if (atomic_load(&r->dep_fd) >= 0)
        close(atomic_load(&r->dep_fd));
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    double wall = (double)(child_mono_ms() - wall0) / 1000.0;
    char started[25];
    pl_time_format_rfc3339(r->t0_wall, started);
    cJSON_AddStringToObject(report, "policy", restart_only ? "restart-only" : "platelet");
    cJSON_AddStringToObject(report, "cluster", r->external ? "attached (--cluster)" : "started");
    cJSON_AddStringToObject(report, "started", started);
    cJSON_AddNumberToObject(report, "wall_s", wall);
    cJSON_AddNumberToObject(report, "harness_cpu_s", cpu);
    cJSON_AddNumberToObject(report, "harness_cpu_fraction", wall > 0 ? cpu / wall : 0);
    cJSON_AddStringToObject(report, "verdict", rc == 0 ? "pass" : "fail");
    if (rc != 0 && rc != PL_EVERIFY)
        cJSON_AddStringToObject(report, "error", pl_strerror(rc));
    cJSON_AddItemToObject(report, "nemeses", r->nemeses);
    cJSON_AddItemToObject(report, "leaders", r->leaders);
    free(r->ops);
    pthread_mutex_destroy(&r->ops_lock);
    if (rc != PL_EUSAGE)
        fprintf(stderr, "chaos: %s%s in %.1f s wall, harness CPU %.1f s (%.1f %%)\n",
            restart_only ? "restart-only: " : "",
            rc == 0 ? "every check holds" : rc == PL_EVERIFY ? "a check FAILS" : "the run failed",
            wall, cpu, wall > 0 ? 100 * cpu / wall : 0);
    if (keep || (rc != 0 && rc != PL_EVERIFY && rc != PL_EUSAGE)) {
        fprintf(stderr, "chaos: the agents' folders are kept in %s\n", r->dir);
    } else {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "%s: could not remove %s\n", CMD, r->dir);
    }
    free(r);
    return rc;
}

static int chaos_run_cmd(int argc, char **argv)
{
    const char *json_path = NULL, *html_path = NULL, *agent_bin = NULL, *cluster = NULL;
    const char *services = NULL;
    uint64_t seed = 0;
    bool keep = false, compare = false, netns = false;
    struct cli_flag flags[] = {
        {"--seed", CLI_U64, &seed, "the run's seed (default: the scenario's, else the clock)",
         false, false},
        {"--json", CLI_STR, &json_path, "write the report as JSON to FILE", false, false},
        {"--html", CLI_STR, &html_path, "write the report as an HTML page to FILE", false,
         false},
        {"--compare", CLI_BOOL, &compare, "run the scenario again with a restart-only policy "
         "and put its healing figures beside", false, false},
        {"--cluster", CLI_STR, &cluster, "API,API,...: run against these agents, already "
         "running with --enable-faults, in the scenario's node order (no kill)", false, false},
        {"--services", CLI_STR, &services, "HOST:PORT,...: with --cluster, each agent's sample "
         "service (for /work traffic and service nemeses)", false, false},
        {"--netns", CLI_BOOL, &netns, "(root) each agent in its own network namespace on a "
         "bridge: partitions and loss by the kernel (nftables)", false, false},
        {"--agent", CLI_STR, &agent_bin, "the platelet binary to run as agents (default this "
         "one)", false, false},
        {"--keep", CLI_BOOL, &keep, "keep the scratch folder (agents' logs and data)", false,
         false},
        CLI_FLAGS_END,
    };
    struct cli_args args;
    int rc = cli_parse(CMD, "platelet chaos run SCENARIO.json [--seed S] [--json FILE] "
                       "[--html FILE] [--compare] [--netns | --cluster API,... [--services ADDR,...]] "
                       "[--keep]", flags, argc, argv, 1, 1, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (compare && cluster != NULL)
        return cli_fail(CMD, "--compare restarts agents with another policy; it cannot with "
                        "--cluster");
    if (services != NULL && cluster == NULL)
        return cli_fail(CMD, "--services goes with --cluster");
    if (netns && cluster != NULL)
        return cli_fail(CMD, "--netns starts agents in namespaces of its own; it cannot with "
                        "--cluster");
    static struct chaos_netns net;
    char nerr[512];
    if (netns && chaos_netns_check(&net, nerr, sizeof(nerr)) != 0)
        return cli_fail(CMD, "%s", nerr);
    char *text = NULL;
    size_t len = 0;
    if ((rc = read_file(args.pos[0], &text, &len)) != 0)
        return cli_fail(CMD, "%s: cannot read: %s", args.pos[0], pl_strerror(rc));
    static struct chaos_scenario sc;
    char err[512];
    rc = chaos_scenario_parse(args.pos[0], text, len, &sc, err, sizeof(err));
    free(text);
    if (rc != 0)
        return cli_fail(CMD, "%s", err);
    static char self[4096];
    if (child_agent_binary(agent_bin, self, sizeof(self)) != 0)
        return cli_fail(CMD, agent_bin != NULL ? "--agent: '%s' is not an executable file"
                                               : "cannot find this binary%s", agent_bin ? agent_bin : "");
    if (!flags[0].seen)
        seed = sc.has_seed ? sc.seed : child_wall_ms();
    /* Disk nemeses: a private mount namespace, entered while this is the only thread. */
    static struct chaos_disk disk;
    if (cluster == NULL && chaos_disk_enter(&disk, &sc, err, sizeof(err)) != 0)
        return cli_fail(CMD, "%s: %s", args.pos[0], err);
    curl_global_init(CURL_GLOBAL_ALL);
    if (sodium_init() < 0)
        return cli_fail(CMD, "libsodium did not start");
    if (netns) {
        /* What an earlier harness that died left behind, then the token of this run's TCP
         * APIs (set before any thread runs). */
        int stale = chaos_netns_clean_stale(&net);
        if (stale > 0)
            fprintf(stderr, "chaos: --netns: removed %d namespaces and links an earlier run "
                    "left behind\n", stale);
        char token[API_TOKEN_NEW_CHARS + 1];
        api_token_new(token);
        setenv("PLATELET_TOKEN", token, 1);
        sodium_memzero(token, sizeof(token));
    }
    cJSON *report = cJSON_CreateObject();
    cJSON *scj = cJSON_AddObjectToObject(report, "scenario");
    cJSON_AddStringToObject(scj, "name", sc.name);
    cJSON_AddStringToObject(scj, "description", sc.description);
    cJSON_AddStringToObject(scj, "file", args.pos[0]);
    cJSON_AddNumberToObject(scj, "nodes", sc.nodes);
    cJSON_AddNumberToObject(scj, "voters", sc.voters);
    cJSON_AddNumberToObject(scj, "duration_ms", (double)sc.duration_ms);
    cJSON_AddNumberToObject(scj, "control_ms", (double)sc.control_ms);
    cJSON_AddNumberToObject(scj, "liveness_ms", (double)sc.liveness_ms);
    cJSON_AddStringToObject(scj, "schedule", sc.random ? "random" : "fixed");
    cJSON_AddNumberToObject(report, "seed", (double)seed);
    rc = one_run(&sc, seed, self, keep, false, cluster, services, netns ? &net : NULL,
                 cluster == NULL ? &disk : NULL, report);
    if (compare && (rc == 0 || rc == PL_EVERIFY)) {
        fprintf(stderr, "chaos: the same scenario and seed again, restart-only\n");
        cJSON *cmp = cJSON_AddObjectToObject(report, "compare");
        int crc = one_run(&sc, seed, self, keep, true, NULL, NULL, netns ? &net : NULL, &disk,
                          cmp);
        if (crc != 0 && crc != PL_EVERIFY)
            fprintf(stderr, "%s: the restart-only run failed: %s\n", CMD, pl_strerror(crc));
    }
    cJSON_AddItemToObject(report, "reference", reference_json());
    int wrc = write_report(CMD, report, json_path, html_path);
    cJSON_Delete(report);
    return rc == 0 ? wrc : rc;
}

static int chaos_html_cmd(int argc, char **argv)
{
    const char *cmd = "platelet chaos html";
    struct cli_flag flags[] = {CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet chaos html REPORT.json OUT.html", flags, argc, argv, 2, 2,
                       &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    char *text = NULL;
    size_t len = 0;
    if ((rc = read_file(args.pos[0], &text, &len)) != 0)
        return cli_fail(cmd, "%s: cannot read: %s", args.pos[0], pl_strerror(rc));
    cJSON *report = cJSON_ParseWithLength(text, len);
    free(text);
    if (report == NULL || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(report, "scenario")))
        rc = cli_fail(cmd, "%s: not a chaos report (JSON with a \"scenario\" object)",
                      args.pos[0]);
    else
        rc = write_report(cmd, report, NULL, args.pos[1]);
    cJSON_Delete(report);
    return rc;
}

int cmd_chaos(int argc, char **argv)
{
    static const char usage[] = "platelet chaos run SCENARIO.json [flags] | platelet chaos html "
                                "REPORT.json OUT.html";
    if (argc < 1)
        return cli_fail("platelet chaos", "missing verb (usage: %s)", usage);
    if (strcmp(argv[0], "run") == 0) {
        /* A guard or agent whose pipe or socket closed is an error to report, not a signal
         * that ends the harness with its nemeses in force. */
        signal(SIGPIPE, SIG_IGN);
        return chaos_run_cmd(argc - 1, argv + 1);
    }
    if (strcmp(argv[0], "html") == 0)
        return chaos_html_cmd(argc - 1, argv + 1);
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        printf("usage: platelet chaos <command> [flags]\n\ncommands:\n"
               "  run    run a scenario's nemeses over a workload on a cluster; check and report\n"
               "  html   draw a run's JSON report as a self-contained HTML page\n");
        return 0;
    }
    return cli_fail("platelet chaos", "unknown verb '%s' (usage: %s)", argv[0], usage);
}
