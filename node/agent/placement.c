/*
 * The placement shell of placement.h: one timer that (on every node) starts or stops the
 * placed services the applied state places here, and (on the leader) proposes the moves
 * swarm_place_next() asks for. Every choice is the pure core's or the committed state's;
 * this file reads gossip, the Raft shell and the healing shell, and tells them what to do.
 */
#include "placement.h"

#include "agent_gossip.h"
#include "agent_raft.h"
#include "heal_agent.h"
#include "pl_clock.h"
#include "pl_err.h"
#include "pl_log.h"
#include "swarm.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "placement"
#define TICK_MS 100
/* A move not committed (no leader, refused) is proposed again after this. */
#define RETRY_MS 1000
/* Services the leader places at once, and members it reads declarations from. */
#define LEADER_SERVICES_MAX 64
#define LEADER_CANDS_MAX 64
#define RECORD_BYTES_MAX 2048

/* The lease this node acts on: lease_ms less a drift margin of 2 %. The majority counts
 * lease_ms on its own clocks; this node's may run slow against them, and 2 % is 40 times
 * the 500 ppm NTP may slew a clock by (docs/ARCHITECTURE.md, "The lease keeper"). The
 * agent's own stop and its lease keeper's deadline are the same instant. */
static uint64_t lease_keep_ms(uint64_t lease_ms) { return lease_ms - lease_ms / 50; }

/* publish() keeps the declared and running services as bits of a uint64_t. */
_Static_assert(HEAL_SERVICES_MAX <= 64, "placement: services as bits of a uint64_t");

/* One placed service of this node's config. */
struct placed {
    const struct heal_service_cfg *cfg;
    int index;       /* in the healing shell's services */
    bool listed;     /* this node is in its placement.nodes */
    bool run;        /* what the healing shell was last told */
    char why[96];    /* why it runs here or not, for the API */
};

/* A service the leader places: its declarers (from gossip) and the proposal in flight. */
struct leader_svc {
    char name[SWARM_NAME_MAX];
    uint32_t ncands;
    struct swarm_candidate cands[LEADER_CANDS_MAX];
};

struct pending {
    char service[SWARM_NAME_MAX];
    bool busy;
    uint64_t retry_at_ms;
    uint64_t undeclared_since_ms; /* the holder stopped declaring it then (0: it declares) */
};

/* A holder whose gossip record no longer lists the service for this long (its config
 * dropped it) gives it up: long enough that a record in flight is not mistaken for it. */
#define UNDECLARED_GRACE_MS 5000

struct placement {
    struct agent *a;
    struct heal *heal;
    struct agent_raft *ar;
    struct agent_gossip *gossip;
    bool voter;
    int n;
    struct placed svcs[HEAL_SERVICES_MAX];
    uv_timer_t timer;
    char published[RECORD_BYTES_MAX];
    /* what the published record says: declared and running services (bit i: svcs[i]),
     * and the load; publish() builds the text only when these changed */
    bool pub_valid;
    uint64_t pub_decl, pub_run;
    int pub_load;
    /* the records leader_gather() last read, by gossip slot: it reads them again only
     * when one changed */
    struct agent_gossip_seen seen;
    /* the leader's view, rebuilt when a member's record changed */
    uint32_t nlsvcs;
    struct leader_svc lsvcs[LEADER_SERVICES_MAX];
    struct pending pending[LEADER_SERVICES_MAX];
    uint64_t moves_proposed, moves_committed, moves_failed;
};

static uint64_t loop_ms(const struct placement *p) { return uv_now(&p->a->loop); }

/* ---- this node: declare, run, stop ---- */

static bool running(const struct placement *p, const struct placed *x)
{
    return p->heal->svcs[x->index].pid > 0;
}

/* What the healing shell does now: its lease keeper may have stopped the copy (x->run
 * is what placement last told it). */
static bool placed_here(const struct placement *p, const struct placed *x)
{
    return p->heal->svcs[x->index].placed_here;
}

/* Publishes {"services": [declared], "running": [...], "load": N} when it changed. */
static void publish(struct placement *p)
{
    uint64_t decl_mask = 0, run_mask = 0;
    for (int i = 0; i < p->n; i++) {
        if (p->svcs[i].listed && p->voter)
            decl_mask |= UINT64_C(1) << i;
        if (running(p, &p->svcs[i]))
            run_mask |= UINT64_C(1) << i;
    }
    /* The load: every service with a process here, placed or not. */
    int load = 0;
    for (int i = 0; i < p->heal->nsvcs; i++)
        load += p->heal->svcs[i].pid > 0;
    if (p->pub_valid && decl_mask == p->pub_decl && run_mask == p->pub_run &&
        load == p->pub_load)
        return;
    cJSON *doc = cJSON_CreateObject();
    cJSON *decl = cJSON_AddArrayToObject(doc, "services");
    cJSON *run = cJSON_AddArrayToObject(doc, "running");
    for (int i = 0; i < p->n; i++) {
        if (decl_mask & (UINT64_C(1) << i))
            cJSON_AddItemToArray(decl, cJSON_CreateString(p->svcs[i].cfg->name));
        if (run_mask & (UINT64_C(1) << i))
            cJSON_AddItemToArray(run, cJSON_CreateString(p->svcs[i].cfg->name));
    }
    cJSON_AddNumberToObject(doc, "load", load);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (text != NULL && strlen(text) < sizeof(p->published)) {
        if (strcmp(text, p->published) != 0) {
            snprintf(p->published, sizeof(p->published), "%s", text);
            agent_gossip_state_set(p->gossip, "placement", text);
        }
        p->pub_valid = true;
        p->pub_decl = decl_mask;
        p->pub_run = run_mask;
        p->pub_load = load;
    }
    free(text);
}

/* Runs each placed service here exactly while the state places it here, this node has
 * caught up with the log, and it holds the lease. */
static void local_tick(struct placement *p)
{
    const struct swarm_state *st = agent_raft_swarm(p->ar);
    bool caught_up = p->voter && agent_raft_caught_up(p->ar);
    uint64_t age = agent_raft_contact_age_ms(p->ar);
    const char *self = p->a->cfg.name;
    for (int i = 0; i < p->n; i++) {
        struct placed *x = &p->svcs[i];
        const struct swarm_placement *pl = swarm_placement_find(st, x->cfg->name);
        bool here = pl != NULL && strcmp(pl->node, self) == 0;
        uint64_t keep = lease_keep_ms(x->cfg->placement.lease_ms);
        bool lease = age <= keep;
        bool want = x->listed && p->voter && caught_up && here && lease;
        char why[sizeof(x->why)];
        if (!x->listed)
            snprintf(why, sizeof(why), "this node is not in placement.nodes");
        else if (!p->voter)
            snprintf(why, sizeof(why), "not a council voter");
        else if (!caught_up)
            snprintf(why, sizeof(why), "catching up with the council's log");
        else if (!here)
            snprintf(why, sizeof(why), "placed on %s", pl != NULL ? pl->node : "no node yet");
        else if (!lease)
            snprintf(why, sizeof(why), "lease lost: no council majority for %llu ms",
                     age == UINT64_MAX ? 0ull : (unsigned long long)age);
        else
            snprintf(why, sizeof(why), "placed here (index %llu)", (unsigned long long)pl->index);
        snprintf(x->why, sizeof(x->why), "%s", why);
        /* Renewed on every tick it holds: the running copy's keeper stops it this long
         * after the majority's last contact (the keeper's clock counts from now). */
        if (want)
            heal_placed_lease(p->heal, x->index, pl_clock_boot_ms() - age + keep);
        if (want == x->run && want == placed_here(p, x))
            continue;
        if (heal_placed_run(p->heal, x->index, want) != 0)
            continue;
        x->run = want;
        if (want)
            PL_INFO(MOD, "start service=%s %s", x->cfg->name, why);
        else
            PL_WARN(MOD, "stop service=%s %s", x->cfg->name, why);
    }
}

/* ---- the leader: place and move ---- */

static struct leader_svc *lsvc_get(struct placement *p, const char *name)
{
    for (uint32_t i = 0; i < p->nlsvcs; i++)
        if (strcmp(p->lsvcs[i].name, name) == 0)
            return &p->lsvcs[i];
    if (p->nlsvcs == LEADER_SERVICES_MAX || strlen(name) >= SWARM_NAME_MAX)
        return NULL;
    struct leader_svc *s = &p->lsvcs[p->nlsvcs++];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    return s;
}

/* Reads every member's "placement" record into the table of declared services, when one
 * of them changed since the last read. */
static void leader_gather(struct placement *p)
{
    const struct gossip *g = agent_gossip_core(p->gossip);
    if (!agent_gossip_records_changed(&p->seen, g, "placement"))
        return;
    p->nlsvcs = 0;
    for (uint32_t slot = 0; slot < gossip_member_slots(g); slot++) {
        const struct gossip_member *m = gossip_member_at(g, slot);
        const uint8_t *v;
        size_t len;
        uint64_t version;
        if (m == NULL || !m->used || strlen(m->name) >= SWARM_NAME_MAX ||
            gossip_state_get(g, m->name, "placement", &v, &len, &version) != 0)
            continue;
        cJSON *doc = cJSON_ParseWithLength((const char *)v, len);
        const cJSON *decl = cJSON_GetObjectItemCaseSensitive(doc, "services");
        const cJSON *load = cJSON_GetObjectItemCaseSensitive(doc, "load");
        const cJSON *it;
        cJSON_ArrayForEach(it, decl)
        {
            const char *name = cJSON_GetStringValue(it);
            struct leader_svc *s = name != NULL ? lsvc_get(p, name) : NULL;
            if (s == NULL || s->ncands == LEADER_CANDS_MAX)
                continue;
            struct swarm_candidate *c = &s->cands[s->ncands++];
            snprintf(c->node, sizeof(c->node), "%s", m->name);
            /* A peer's number: bounded before it becomes an integer. */
            c->load = cJSON_IsNumber(load) && load->valuedouble >= 0 && load->valuedouble < 1e15
                          ? (uint64_t)load->valuedouble
                          : UINT64_MAX / 2;
        }
        cJSON_Delete(doc);
    }
}

static struct pending *pending_get(struct placement *p, const char *service, bool make)
{
    struct pending *free_slot = NULL;
    for (int i = 0; i < LEADER_SERVICES_MAX; i++) {
        if (strcmp(p->pending[i].service, service) == 0)
            return &p->pending[i];
        if (free_slot == NULL && p->pending[i].service[0] == '\0')
            free_slot = &p->pending[i];
    }
    if (!make || free_slot == NULL)
        return NULL;
    snprintf(free_slot->service, sizeof(free_slot->service), "%s", service);
    return free_slot;
}

struct move_ctx {
    struct placement *p;
    struct swarm_placement_body move;
};

static void move_done_cb(void *data, int err, uint64_t index)
{
    struct move_ctx *m = data;
    struct placement *p = m->p;
    struct pending *pd = pending_get(p, m->move.service, false);
    if (pd != NULL) {
        pd->busy = false;
        pd->retry_at_ms = err != 0 ? loop_ms(p) + RETRY_MS : 0;
    }
    if (err == 0) {
        p->moves_committed++;
        PL_INFO(MOD, "placement committed service=%s node=%s prev=%s index=%llu",
                m->move.service, m->move.node, m->move.prev[0] ? m->move.prev : "-",
                (unsigned long long)index);
    } else {
        p->moves_failed++;
        PL_LOG_RATELIMITED(PL_LOG_INFO, MOD, "placement of %s on %s not committed: %s",
                           m->move.service, m->move.node, pl_err_name(err));
    }
    free(m);
}

static void leader_tick(struct placement *p)
{
    if (!agent_raft_leads(p->ar) || !agent_raft_caught_up(p->ar))
        return;
    leader_gather(p);
    const struct swarm_state *st = agent_raft_swarm(p->ar);
    uint64_t now = loop_ms(p), wall = pl_clock_wall_ms();
    for (uint32_t i = 0; i < p->nlsvcs; i++) {
        struct leader_svc *s = &p->lsvcs[i];
        struct pending *pd = pending_get(p, s->name, true);
        if (pd == NULL || pd->busy || now < pd->retry_at_ms)
            continue;
        struct move_ctx *m = malloc(sizeof(*m));
        if (m == NULL)
            return;
        m->p = p;
        /* Does the holder still declare it? */
        const struct swarm_placement *pl = swarm_placement_find(st, s->name);
        bool declared = pl == NULL;
        for (uint32_t k = 0; !declared && k < s->ncands; k++)
            declared = strcmp(s->cands[k].node, pl->node) == 0;
        if (declared)
            pd->undeclared_since_ms = 0;
        else if (pd->undeclared_since_ms == 0)
            pd->undeclared_since_ms = now;
        bool away = !declared && now - pd->undeclared_since_ms >= UNDECLARED_GRACE_MS;
        const char *why;
        int rc = away ? swarm_place_away(st, s->name, s->cands, s->ncands, wall, &m->move, &why)
                      : swarm_place_next(st, s->name, s->cands, s->ncands, wall, &m->move, &why);
        if (rc != 0) {
            free(m);
            continue;
        }
        struct pl_buf body;
        pl_buf_init(&body, SWARM_BODY_BYTES_MAX);
        rc = swarm_placement_encode(&m->move, &body);
        if (rc == 0)
            rc = agent_raft_propose(p->ar, swarm_kind_name(SWARM_K_PLACEMENT), body.data,
                                    body.len, move_done_cb, m);
        pl_buf_close(&body);
        if (rc != 0) {
            free(m);
            pd->retry_at_ms = now + RETRY_MS;
            continue;
        }
        pd->busy = true;
        p->moves_proposed++;
        PL_INFO(MOD, "placing service=%s on node=%s prev=%s (%s)", s->name, m->move.node,
                m->move.prev[0] ? m->move.prev : "-", why);
    }
}

static void tick_cb(uv_timer_t *t)
{
    struct placement *p = t->data;
    if (p->a->stopping)
        return;
    local_tick(p);
    leader_tick(p);
    publish(p);
}

/* ---- API ---- */

static void api_placement(struct api_call *call, void *data)
{
    struct placement *p = data;
    const struct swarm_state *st = agent_raft_swarm(p->ar);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "node", p->a->cfg.name);
    cJSON_AddBoolToObject(doc, "voter", p->voter);
    cJSON_AddBoolToObject(doc, "healer", agent_raft_leads(p->ar));
    cJSON_AddBoolToObject(doc, "caught_up", p->voter && agent_raft_caught_up(p->ar));
    uint64_t age = agent_raft_contact_age_ms(p->ar);
    if (age == UINT64_MAX)
        cJSON_AddNullToObject(doc, "majority_contact_age_ms");
    else
        cJSON_AddNumberToObject(doc, "majority_contact_age_ms", (double)age);
    cJSON_AddNumberToObject(doc, "applied_index", (double)st->applied_index);
    cJSON *pls = cJSON_AddArrayToObject(doc, "placements");
    for (uint32_t i = 0; i < st->nplacements; i++) {
        const struct swarm_placement *x = &st->placements[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "service", x->service);
        cJSON_AddStringToObject(o, "node", x->node);
        cJSON_AddStringToObject(o, "prev", x->prev);
        cJSON_AddNumberToObject(o, "index", (double)x->index);
        cJSON_AddNumberToObject(o, "term", (double)x->term);
        cJSON_AddNumberToObject(o, "moves", (double)x->moves);
        cJSON_AddItemToArray(pls, o);
    }
    cJSON *fenced = cJSON_AddArrayToObject(doc, "fenced");
    uint64_t wall = pl_clock_wall_ms();
    for (uint32_t i = 0; i < st->nmembers; i++)
        if (swarm_member_fenced(&st->members[i], wall)) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "node", st->members[i].name);
            cJSON_AddNumberToObject(o, "until_ms", (double)st->members[i].fenced_until_ms);
            cJSON_AddItemToArray(fenced, o);
        }
    /* Who declares what, as the healer reads it from gossip, and who may hold it now. */
    leader_gather(p);
    cJSON *decl = cJSON_AddArrayToObject(doc, "declared");
    for (uint32_t i = 0; i < p->nlsvcs; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "service", p->lsvcs[i].name);
        cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
        for (uint32_t k = 0; k < p->lsvcs[i].ncands; k++) {
            const struct swarm_candidate *c = &p->lsvcs[i].cands[k];
            const struct swarm_member *m = swarm_member_find(st, c->node);
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "node", c->node);
            cJSON_AddNumberToObject(x, "load", (double)c->load);
            cJSON_AddStringToObject(x, "member", m == NULL ? "unknown"
                                                  : swarm_member_fenced(m, wall)
                                                      ? "fenced"
                                                      : swarm_member_status_name(m->status));
            cJSON_AddItemToArray(nodes, x);
        }
        cJSON_AddItemToArray(decl, o);
    }
    cJSON *local = cJSON_AddArrayToObject(doc, "local");
    for (int i = 0; i < p->n; i++) {
        const struct placed *x = &p->svcs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "service", x->cfg->name);
        cJSON_AddBoolToObject(o, "running", running(p, x));
        cJSON_AddBoolToObject(o, "wanted", x->run);
        cJSON_AddNumberToObject(o, "lease_ms", (double)x->cfg->placement.lease_ms);
        cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
        for (int k = 0; k < x->cfg->placement.nnodes; k++)
            cJSON_AddItemToArray(nodes, cJSON_CreateString(x->cfg->placement.nodes[k]));
        cJSON_AddStringToObject(o, "why", x->why);
        cJSON_AddItemToArray(local, o);
    }
    cJSON *c = cJSON_AddObjectToObject(doc, "moves");
    cJSON_AddNumberToObject(c, "proposed", (double)p->moves_proposed);
    cJSON_AddNumberToObject(c, "committed", (double)p->moves_committed);
    cJSON_AddNumberToObject(c, "failed", (double)p->moves_failed);
    api_reply_json(call, 200, doc);
}

/* ---- module ---- */

static int placement_start(struct agent *a, void **state, char *err, size_t err_size)
{
    struct placement *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(err, err_size, "placement: out of memory");
        return -ENOMEM;
    }
    *state = p;
    p->a = a;
    p->heal = agent_module_state(a, "heal");
    p->ar = agent_module_state(a, "raft");
    p->gossip = agent_module_state(a, "gossip");
    if (p->heal == NULL || p->ar == NULL || p->gossip == NULL) {
        snprintf(err, err_size, "placement: needs the heal, gossip and raft modules");
        return PL_ESTATE;
    }
    p->voter = agent_raft_voter(p->ar);
    for (int i = 0; i < p->heal->nsvcs; i++) {
        const struct heal_service_cfg *cfg = p->heal->svcs[i].cfg;
        if (!cfg->placement.enabled)
            continue;
        struct placed *x = &p->svcs[p->n++];
        x->cfg = cfg;
        x->index = i;
        for (int k = 0; k < cfg->placement.nnodes; k++)
            x->listed |= strcmp(cfg->placement.nodes[k], a->cfg.name) == 0;
        snprintf(x->why, sizeof(x->why), "starting");
        if (!x->listed)
            PL_WARN(MOD, "service=%s is placed on %d node(s) and this node (%s) is not one: it "
                         "never runs here", cfg->name, cfg->placement.nnodes, a->cfg.name);
        else if (cfg->placement.lease_ms < 5 * TICK_MS)
            PL_WARN(MOD, "service=%s: lease_ms %llu is under five of placement's %d ms "
                         "renewals: a short stall of this agent stops the service",
                    cfg->name, (unsigned long long)cfg->placement.lease_ms, TICK_MS);
        if (x->listed && !p->voter)
            PL_WARN(MOD, "service=%s is placed, but only council voters run placed services "
                         "(they learn placements from the log): it never runs here", cfg->name);
    }
    api_route_add(&a->api, "GET", "/v1/placement", api_placement, p);
    uv_timer_init(&a->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, tick_cb, TICK_MS, TICK_MS);
    return 0;
}

static void placement_stop(struct agent *a, void *state, void (*done)(struct agent *a))
{
    struct placement *p = state;
    uv_timer_stop(&p->timer);
    done(a);
}

static void placement_free(struct agent *a, void *state)
{
    (void)a;
    struct placement *p = state;
    agent_gossip_seen_free(&p->seen);
    free(p);
}

const struct agent_module placement_module = {
    .name = "placement",
    .start = placement_start,
    .stop = placement_stop,
    .free = placement_free,
};
