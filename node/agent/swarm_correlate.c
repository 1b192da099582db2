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

static bool runs(const struct swarm_heal_record *r, const char *service)
{
    for (uint32_t i = 0; i < r->nbase; i++)
        if (strcmp(r->base[i].service, service) == 0)
            return true;
    return false;
}

static const struct swarm_heal_sig *shows(const struct swarm_heal_record *r, const char *sig)
{
    for (uint32_t i = 0; i < r->nsigs; i++)
        if (strcmp(r->sigs[i].sig, sig) == 0)
            return &r->sigs[i];
    return NULL;
}

static int view_cmp(const void *a, const void *b)
{
    return strcmp(((const struct correlate_view *)a)->node, ((const struct correlate_view *)b)->node);
}

int swarm_correlate_find(const struct correlate_cfg *cfg, const struct correlate_view *views_in,
                         int nviews, bool lenient, struct correlate_hit *hits, int max)
{
    if (!cfg->enabled || nviews <= 0 || max <= 0)
        return 0;
    /* Sorted by node, so names and the result do not depend on the gossip table's order. */
    struct correlate_view *views = malloc((size_t)nviews * sizeof(*views));
    if (views == NULL)
        return 0;
    memcpy(views, views_in, (size_t)nviews * sizeof(*views));
    qsort(views, (size_t)nviews, sizeof(*views), view_cmp);
    int n = 0;
    for (int v = 0; v < nviews && n < max; v++) {
        const struct swarm_heal_record *r = views[v].rec;
        for (uint32_t k = 0; k < r->nsigs && n < max; k++) {
            const struct swarm_heal_sig *sg = &r->sigs[k];
            bool seen = false;
            for (int h = 0; h < n && !seen; h++)
                seen = strcmp(hits[h].sig, sg->sig) == 0;
            /* Judged once, from the first node (in name order) that shows it. */
            for (int u = 0; u < v && !seen; u++)
                seen = shows(views[u].rec, sg->sig) != NULL;
            if (seen)
                continue;
            uint64_t first = UINT64_MAX;
            for (int u = 0; u < nviews; u++) {
                const struct swarm_heal_sig *o = shows(views[u].rec, sg->sig);
                if (o != NULL && o->since_ms < first)
                    first = o->since_ms;
            }
            struct correlate_hit hit;
            memset(&hit, 0, sizeof(hit));
            for (int u = 0; u < nviews; u++) {
                const struct swarm_heal_sig *o = shows(views[u].rec, sg->sig);
                hit.members += runs(views[u].rec, sg->service) || o != NULL;
                if (o == NULL || o->since_ms > first + cfg->window_ms)
                    continue;
                size_t len = strlen(hit.names);
                if (len + strlen(views[u].node) + 2 < sizeof(hit.names))
                    snprintf(hit.names + len, sizeof(hit.names) - len, "%s%s", len ? "," : "",
                             views[u].node);
                hit.nodes++;
            }
            bool share_ok = (double)hit.nodes >= cfg->share * (double)hit.members - 1e-9;
            if (hit.nodes < cfg->min_nodes || (!lenient && !share_ok))
                continue;
            snprintf(hit.sig, sizeof(hit.sig), "%s", sg->sig);
            snprintf(hit.service, sizeof(hit.service), "%s", sg->service);
            hit.since_ms = first;
            hits[n++] = hit;
        }
    }
    free(views);
    /* Unrelated services failing together share nothing but the network. */
    bool network = false;
    for (int i = 1; i < n && !network; i++)
        network = strcmp(hits[i].service, hits[0].service) != 0;
    for (int i = 0; i < n; i++)
        hits[i].cause = network ? HEAL_CAUSE_NETWORK : HEAL_CAUSE_DEPENDENCY_FAILURE;
    return n;
}

#define SCAN_MAX 256

int swarm_correlate_scan(const struct gossip *g, const struct correlate_cfg *cfg, bool lenient,
                         struct correlate_hit *hits, int max, uint64_t *bad)
{
    if (!cfg->enabled)
        return 0;
    struct swarm_heal_record *recs = malloc(SCAN_MAX * sizeof(*recs));
    struct correlate_view *views = malloc(SCAN_MAX * sizeof(*views));
    char(*names)[SWARM_NAME_MAX] = malloc(SCAN_MAX * sizeof(*names));
    int nv = 0, n = 0;
    if (recs == NULL || views == NULL || names == NULL)
        goto out;
    uint32_t cursor = 0;
    const char *node, *key;
    const uint8_t *value;
    size_t len;
    uint64_t version;
    while (nv < SCAN_MAX &&
           gossip_state_at(g, &cursor, &node, &key, &value, &len, &version) == 0) {
        if (strcmp(key, CORRELATE_RECORD_KEY) != 0)
            continue;
        const struct gossip_member *m = gossip_member_find(g, node);
        if (m == NULL || (m->status != GOSSIP_ALIVE && m->status != GOSSIP_SUSPECT) ||
            strlen(node) >= SWARM_NAME_MAX)
            continue;
        if (swarm_heal_record_decode(value, len, &recs[nv]) != 0) {
            if (bad != NULL)
                (*bad)++;
            continue;
        }
        snprintf(names[nv], SWARM_NAME_MAX, "%s", node);
        views[nv].node = names[nv];
        views[nv].rec = &recs[nv];
        nv++;
    }
    n = swarm_correlate_find(cfg, views, nv, lenient, hits, max);
out:
    free(recs);
    free(views);
    free(names);
    return n;
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
    int ns = swarm_correlate_scan(g, &cl->cfg, false, strict, CORRELATE_HITS_MAX, NULL);
    int nl = swarm_correlate_scan(g, &cl->cfg, true, loose, CORRELATE_HITS_MAX, NULL);
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
