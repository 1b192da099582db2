/*
 * Correlated failures (swarm_correlate.h): from the nodes' gossiped heal records to the
 * signatures the cluster shares.
 */
#include "swarm_correlate.h"

#include "agent.h"
#include "agent_gossip.h"
#include "agent_raft.h"
#include "heal_agent.h"
#include "heal_diag.h"
#include "pl_log.h"
#include "pl_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void correlate_cfg_default(struct correlate_cfg *c)
{
    c->enabled = true;
    c->share = 0.5;
    c->window_ms = 30000;
    /* Two nodes failing alike at once happens by chance (two hangs in one chaos round);
     * holding their restarts for minutes would cost more than a restart storm of two. */
    c->min_nodes = 3;
}

int correlate_cfg_parse(const cJSON *root, const char *source, struct correlate_cfg *out,
                        char *err, size_t err_size)
{
    correlate_cfg_default(out);
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "correlate");
    if (sec == NULL)
        return 0;
    struct config_ctx c = {source, err, err_size};
    if (!cJSON_IsObject(sec)) {
        snprintf(err, err_size, "%s: correlate: expected an object", source);
        return PL_ECONFIG;
    }
    static const char *const known[] = {"enabled", "share", "window_ms", "min_nodes", NULL};
    uint64_t min_nodes = out->min_nodes;
    int rc = config_check_keys(&c, sec, "correlate", known);
    if (rc == 0)
        rc = config_get_bool(&c, sec, "correlate", "enabled", &out->enabled);
    if (rc == 0)
        rc = config_get_double(&c, sec, "correlate", "share", 0.01, 1.0, &out->share);
    if (rc == 0)
        rc = config_get_u64(&c, sec, "correlate", "window_ms", 100, 3600000, &out->window_ms);
    if (rc == 0)
        rc = config_get_u64(&c, sec, "correlate", "min_nodes", 2, 1000, &min_nodes);
    out->min_nodes = (uint32_t)min_nodes;
    return rc;
}

/*
 * The correlation is two passes over the records, whatever their number: the first finds
 * each signature's earliest start and which services run where, the second counts the
 * nodes that show a signature within window_ms of its first. Only the tallies are kept
 * (at most CORRELATE_TRACK_MAX signatures and services), never the records, so a fleet of
 * thousands costs two decodes per record and about 130 KiB. Every tally is independent
 * of the order the records come in; the names kept are the smallest, sorted.
 */
/* Distinct signatures come from the services' configs (a few per check and detector, 16
 * services a record): 256 leave room; past it the smallest by name are kept. */
#define CORRELATE_TRACK_MAX 256
#define NAMES_KEPT 4

struct tally_sig {
    char sig[SWARM_SIG_MAX];
    char service[SWARM_NAME_MAX];
    uint64_t first_ms;
    uint32_t nodes;
    uint32_t nnames;
    char names[NAMES_KEPT][SWARM_NAME_MAX];
};

struct tally_svc {
    char service[SWARM_NAME_MAX];
    uint32_t runners; /* nodes running it or showing one of its signatures */
};

struct tally {
    uint32_t nsigs, nsvcs;
    struct tally_sig sigs[CORRELATE_TRACK_MAX];
    struct tally_svc svcs[CORRELATE_TRACK_MAX];
};

static struct tally_sig *tally_sig_find(struct tally *t, const char *sig)
{
    for (uint32_t i = 0; i < t->nsigs; i++)
        if (strcmp(t->sigs[i].sig, sig) == 0)
            return &t->sigs[i];
    return NULL;
}

static struct tally_svc *tally_svc_find(struct tally *t, const char *service)
{
    for (uint32_t i = 0; i < t->nsvcs; i++)
        if (strcmp(t->svcs[i].service, service) == 0)
            return &t->svcs[i];
    return NULL;
}

static bool shows_service(const struct swarm_heal_record *r, const char *service)
{
    for (uint32_t i = 0; i < r->nbase; i++)
        if (strcmp(r->base[i].service, service) == 0)
            return true;
    for (uint32_t i = 0; i < r->nsigs; i++)
        if (strcmp(r->sigs[i].service, service) == 0)
            return true;
    return false;
}

/* Pass 1: signatures and their earliest start. Past CORRELATE_TRACK_MAX distinct
 * signatures the smallest (by name) are kept, so every node tracks the same ones. */
static void tally_first(struct tally *t, const struct swarm_heal_record *r)
{
    for (uint32_t k = 0; k < r->nsigs; k++) {
        const struct swarm_heal_sig *sg = &r->sigs[k];
        struct tally_sig *x = tally_sig_find(t, sg->sig);
        if (x == NULL) {
            uint32_t slot = t->nsigs;
            if (slot == CORRELATE_TRACK_MAX) {
                uint32_t big = 0;
                for (uint32_t i = 1; i < t->nsigs; i++)
                    if (strcmp(t->sigs[i].sig, t->sigs[big].sig) > 0)
                        big = i;
                if (strcmp(sg->sig, t->sigs[big].sig) >= 0)
                    continue;
                slot = big;
            } else {
                t->nsigs++;
            }
            x = &t->sigs[slot];
            memset(x, 0, sizeof(*x));
            snprintf(x->sig, sizeof(x->sig), "%s", sg->sig);
            snprintf(x->service, sizeof(x->service), "%s", sg->service);
            x->first_ms = sg->since_ms;
        }
        if (sg->since_ms < x->first_ms)
            x->first_ms = sg->since_ms;
    }
}

/* Pass 2: the nodes within the window, and the runners of each tracked service. */
static void tally_second(struct tally *t, const char *node, const struct swarm_heal_record *r,
                         uint64_t window_ms)
{
    for (uint32_t i = 0; i < t->nsigs; i++) {
        struct tally_sig *x = &t->sigs[i];
        if (shows_service(r, x->service)) {
            struct tally_svc *v = tally_svc_find(t, x->service);
            if (v == NULL && t->nsvcs < CORRELATE_TRACK_MAX) {
                v = &t->svcs[t->nsvcs++];
                memset(v, 0, sizeof(*v));
                memcpy(v->service, x->service, sizeof(v->service));
            }
            /* Counted once per node: by the first tracked signature of the service. */
            bool first = true;
            for (uint32_t j = 0; j < i && first; j++)
                first = strcmp(t->sigs[j].service, x->service) != 0;
            if (v != NULL && first)
                v->runners++;
        }
        const struct swarm_heal_sig *o = NULL;
        for (uint32_t k = 0; k < r->nsigs && o == NULL; k++)
            if (strcmp(r->sigs[k].sig, x->sig) == 0)
                o = &r->sigs[k];
        if (o == NULL || o->since_ms > x->first_ms + window_ms)
            continue;
        x->nodes++;
        /* The smallest names, sorted. */
        uint32_t at = x->nnames;
        while (at > 0 && strcmp(x->names[at - 1], node) > 0)
            at--;
        if (at == NAMES_KEPT)
            continue;
        uint32_t last = x->nnames < NAMES_KEPT ? x->nnames : NAMES_KEPT - 1;
        memmove(x->names[at + 1], x->names[at], (last - at) * sizeof(x->names[0]));
        snprintf(x->names[at], sizeof(x->names[at]), "%s", node);
        if (x->nnames < NAMES_KEPT)
            x->nnames++;
    }
}

static int hit_cmp(const void *a, const void *b)
{
    return strcmp(((const struct correlate_hit *)a)->sig, ((const struct correlate_hit *)b)->sig);
}

static int tally_hits(const struct correlate_cfg *cfg, const struct tally *t, bool lenient,
                      struct correlate_hit *hits, int max)
{
    int n = 0;
    for (uint32_t i = 0; i < t->nsigs && n < max; i++) {
        const struct tally_sig *x = &t->sigs[i];
        const struct tally_svc *v = NULL;
        for (uint32_t j = 0; j < t->nsvcs && v == NULL; j++)
            if (strcmp(t->svcs[j].service, x->service) == 0)
                v = &t->svcs[j];
        uint32_t members = v != NULL ? v->runners : x->nodes;
        bool share_ok = (double)x->nodes >= cfg->share * (double)members - 1e-9;
        if (x->nodes < cfg->min_nodes || (!lenient && !share_ok))
            continue;
        struct correlate_hit *h = &hits[n++];
        memset(h, 0, sizeof(*h));
        snprintf(h->sig, sizeof(h->sig), "%s", x->sig);
        snprintf(h->service, sizeof(h->service), "%s", x->service);
        h->nodes = x->nodes;
        h->members = members;
        h->since_ms = x->first_ms;
        for (uint32_t k = 0; k < x->nnames; k++) {
            size_t len = strlen(h->names);
            if (len + strlen(x->names[k]) + 2 < sizeof(h->names))
                snprintf(h->names + len, sizeof(h->names) - len, "%s%s", len ? "," : "",
                         x->names[k]);
        }
    }
    qsort(hits, (size_t)n, sizeof(hits[0]), hit_cmp);
    /* Unrelated services failing together share nothing but the network. */
    bool network = false;
    for (int i = 1; i < n && !network; i++)
        network = strcmp(hits[i].service, hits[0].service) != 0;
    for (int i = 0; i < n; i++)
        hits[i].cause = network ? HEAL_CAUSE_NETWORK : HEAL_CAUSE_DEPENDENCY_FAILURE;
    return n;
}

int swarm_correlate_find(const struct correlate_cfg *cfg, const struct correlate_view *views,
                         int nviews, bool lenient, struct correlate_hit *hits, int max)
{
    if (!cfg->enabled || nviews <= 0 || max <= 0)
        return 0;
    struct tally *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return 0;
    for (int v = 0; v < nviews; v++)
        tally_first(t, views[v].rec);
    for (int v = 0; v < nviews; v++)
        tally_second(t, views[v].node, views[v].rec, cfg->window_ms);
    int n = tally_hits(cfg, t, lenient, hits, max);
    free(t);
    return n;
}

/* Calls fn for every live member's heal record that decodes (the others are counted in
 * *bad, once per scan). */
static void each_record(const struct gossip *g, struct swarm_heal_record *rec, uint64_t *bad,
                        void (*fn)(void *ctx, const char *node, const struct swarm_heal_record *r),
                        void *ctx)
{
    uint32_t cursor = 0;
    const char *node, *key;
    const uint8_t *value;
    size_t len;
    uint64_t version;
    while (gossip_state_at(g, &cursor, &node, &key, &value, &len, &version) == 0) {
        if (strcmp(key, CORRELATE_RECORD_KEY) != 0 || strlen(node) >= SWARM_NAME_MAX)
            continue;
        const struct gossip_member *m = gossip_member_find(g, node);
        if (m == NULL || (m->status != GOSSIP_ALIVE && m->status != GOSSIP_SUSPECT))
            continue;
        if (swarm_heal_record_decode(value, len, rec) != 0) {
            if (bad != NULL)
                (*bad)++;
            continue;
        }
        fn(ctx, node, rec);
    }
}

struct scan_ctx {
    struct tally *t;
    uint64_t window_ms;
};

static void scan_first(void *ctx, const char *node, const struct swarm_heal_record *r)
{
    (void)node;
    tally_first(((struct scan_ctx *)ctx)->t, r);
}

static void scan_second(void *ctx, const char *node, const struct swarm_heal_record *r)
{
    struct scan_ctx *x = ctx;
    tally_second(x->t, node, r, x->window_ms);
}

void swarm_correlate_scan(const struct gossip *g, const struct correlate_cfg *cfg,
                          struct correlate_hit *strict, int *nstrict,
                          struct correlate_hit *loose, int *nloose, int max, uint64_t *bad)
{
    *nstrict = *nloose = 0;
    if (!cfg->enabled || max <= 0)
        return;
    struct tally *t = calloc(1, sizeof(*t));
    struct swarm_heal_record *rec = malloc(sizeof(*rec));
    if (t != NULL && rec != NULL) {
        struct scan_ctx ctx = {t, cfg->window_ms};
        each_record(g, rec, bad, scan_first, &ctx);
        each_record(g, rec, NULL, scan_second, &ctx);
        *nstrict = tally_hits(cfg, t, false, strict, max);
        *nloose = tally_hits(cfg, t, true, loose, max);
    }
    free(t);
    free(rec);
}

/* ---- the leader's side ---- */

struct cluster_prop {
    struct correlate_leader *cl;
    int slot;
    struct swarm_cluster_body body;
};

static void cluster_prop_cb(void *data, int err, uint64_t index)
{
    struct cluster_prop *cp = data;
    struct correlate_leader *cl = cp->cl;
    cl->inflight[cp->slot][0] = '\0';
    if (err != 0) {
        PL_LOG_RATELIMITED(PL_LOG_INFO, "swarm", "cluster incident %s (%s) not committed: %s",
                           cp->body.id, swarm_cluster_event_name(cp->body.event),
                           pl_err_name(err));
    } else {
        cl->committed++;
        PL_INFO("swarm", "cluster incident %s %s at index %llu: %s on %u of %u nodes",
                cp->body.id, swarm_cluster_event_name(cp->body.event),
                (unsigned long long)index, cp->body.sig, cp->body.nodes, cp->body.members);
        /* The one escalation of the whole cluster, once its incident is committed. */
        if (cp->body.event == SWARM_CLUSTER_OPEN)
            heal_cluster_escalate(agent_module_state(cl->agent, "heal"), &cp->body);
    }
    free(cp);
}

static void propose_cluster(struct correlate_leader *cl, const struct swarm_cluster_body *b)
{
    int slot = -1;
    for (int i = 0; i < CORRELATE_INFLIGHT_MAX; i++) {
        if (strcmp(cl->inflight[i], b->sig) == 0)
            return; /* its answer comes first */
        if (slot < 0 && cl->inflight[i][0] == '\0')
            slot = i;
    }
    if (slot < 0)
        return;
    struct cluster_prop *cp = malloc(sizeof(*cp));
    if (cp == NULL)
        return;
    cp->cl = cl;
    cp->slot = slot;
    cp->body = *b;
    struct pl_buf body;
    pl_buf_init(&body, SWARM_BODY_BYTES_MAX);
    int rc = swarm_cluster_encode(b, &body);
    if (rc == 0) {
        snprintf(cl->inflight[slot], SWARM_SIG_MAX, "%s", b->sig);
        rc = agent_raft_propose(cl->raft, swarm_kind_name(SWARM_K_CLUSTER_INCIDENT), body.data,
                                body.len, cluster_prop_cb, cp);
        if (rc != 0)
            cl->inflight[slot][0] = '\0';
    }
    if (rc != 0)
        free(cp);
    else
        cl->proposed++;
    pl_buf_close(&body);
}

void correlate_leader_run(struct correlate_leader *cl, const struct swarm_state *s)
{
    if (!cl->cfg.enabled || cl->gossip == NULL || cl->raft == NULL)
        return;
    const struct gossip *g = agent_gossip_core(cl->gossip);
    struct correlate_hit strict[CORRELATE_HITS_MAX], loose[CORRELATE_HITS_MAX];
    int ns, nl;
    swarm_correlate_scan(g, &cl->cfg, strict, &ns, loose, &nl, CORRELATE_HITS_MAX, NULL);
    for (int i = 0; i < ns; i++) {
        if (swarm_cluster_open_find(s, strict[i].sig) != NULL)
            continue;
        struct swarm_cluster_body b;
        memset(&b, 0, sizeof(b));
        b.event = SWARM_CLUSTER_OPEN;
        /* Named by its signature and when its first node began: the same hit proposed by
         * two leaders is one incident (apply keeps one open per signature anyway). */
        snprintf(b.id, sizeof(b.id), "%.70s@%llu", strict[i].sig,
                 (unsigned long long)strict[i].since_ms);
        snprintf(b.sig, sizeof(b.sig), "%s", strict[i].sig);
        snprintf(b.service, sizeof(b.service), "%s", strict[i].service);
        b.cause = strict[i].cause;
        b.nodes = strict[i].nodes;
        b.members = strict[i].members;
        snprintf(b.detail, sizeof(b.detail), "%s", strict[i].names);
        propose_cluster(cl, &b);
    }
    for (uint32_t k = 0; k < s->nclusters; k++) {
        const struct swarm_cluster *x = &s->clusters[k];
        if (x->closed)
            continue;
        bool still = false;
        for (int i = 0; i < nl && !still; i++)
            still = strcmp(loose[i].sig, x->sig) == 0;
        if (still)
            continue;
        struct swarm_cluster_body b;
        memset(&b, 0, sizeof(b));
        b.event = SWARM_CLUSTER_CLOSE;
        snprintf(b.id, sizeof(b.id), "%s", x->id);
        snprintf(b.sig, sizeof(b.sig), "%s", x->sig);
        snprintf(b.service, sizeof(b.service), "%s", x->service);
        b.cause = x->cause;
        snprintf(b.detail, sizeof(b.detail), "fewer than %u nodes show it", cl->cfg.min_nodes);
        propose_cluster(cl, &b);
    }
}
