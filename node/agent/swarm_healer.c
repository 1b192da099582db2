/*
 * The leader's side of the healer's decisions (swarm_actor.h): each round it decides the
 * next steps of running rollouts (swarm_rollout_next: in the rollout's order, at most
 * max_unavailable at once, the next only after an answer) and commits its config's blast
 * radius as a `policy` entry when the state's differs. Everything it reads is the
 * committed state, so a new leader continues where the old one stopped, and apply drops a
 * step two leaders both decided. Also POST /v1/rollouts, an operator's rolling operation.
 */
#include "swarm_actor.h"

#include "agent_config.h"
#include "agent_gossip.h"
#include "agent_raft.h"
#include "api.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "pl_log.h"
#include "swarm_record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "healer"
/* A proposal not seen applied by then is sent again (apply drops the repeat). */
#define RESEND_MS 3000

int swarm_healer_config(const struct agent_config *cfg, struct swarm_policy_body *out,
                        bool *have, char *err, size_t err_size)
{
    *have = false;
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(cfg->root, "blast_radius");
    if (sec == NULL)
        return 0;
    struct config_ctx c = {cfg->source, err, err_size};
    if (!cJSON_IsObject(sec)) {
        snprintf(err, err_size, "%s: blast_radius: expected an object", cfg->source);
        return PL_ECONFIG;
    }
    static const char *const keys[] = {"max_in_flight", "max_fleet_pct", "window_ms", NULL};
    uint64_t k = 2, f = 100, w = 600000;
    int rc = config_check_keys(&c, sec, "blast_radius", keys);
    if (rc == 0)
        rc = config_get_u64(&c, sec, "blast_radius", "max_in_flight", 1, 1000, &k);
    if (rc == 0)
        rc = config_get_u64(&c, sec, "blast_radius", "max_fleet_pct", 1, 100, &f);
    if (rc == 0)
        rc = config_get_u64(&c, sec, "blast_radius", "window_ms", 1, 7 * 86400000ull, &w);
    if (rc != 0)
        return rc;
    *out = (struct swarm_policy_body){.max_in_flight = (uint32_t)k,
                                      .max_fleet_pct = (uint32_t)f, .window_ms = w};
    *have = true;
    return 0;
}

static uint64_t loop_ms(struct swarm_decisions *sd) { return uv_now(&sd->a->loop); }

/* The slot of what was proposed for (rollout, node); rollout 0 is the policy. */
static struct swarm_proposed *proposed_slot(struct swarm_decisions *sd, uint64_t rollout,
                                            const char *node, bool add)
{
    struct swarm_proposed *oldest = NULL;
    for (int i = 0; i < SWARM_HEALER_PROPOSED_MAX; i++) {
        struct swarm_proposed *p = &sd->proposed[i];
        if (p->at_ms != 0 && p->rollout == rollout && strcmp(p->node, node) == 0)
            return p;
        if (!p->in_flight && (oldest == NULL || p->at_ms < oldest->at_ms))
            oldest = p;
    }
    if (!add || oldest == NULL)
        return NULL;
    memset(oldest, 0, sizeof(*oldest));
    oldest->rollout = rollout;
    snprintf(oldest->node, sizeof(oldest->node), "%s", node);
    return oldest;
}

static void proposed_cb(void *data, int err, uint64_t index)
{
    struct swarm_proposed *p = data;
    (void)index;
    p->in_flight = false;
    if (err != 0)
        p->at_ms = 1; /* failed: may go again at once */
}

/* Proposes one entry for slot p unless one is on its way or was sent lately. */
static void propose_once(struct swarm_decisions *sd, struct swarm_proposed *p,
                         enum swarm_kind kind, const struct pl_buf *body)
{
    if (p->in_flight || (p->at_ms > 1 && loop_ms(sd) < p->at_ms + RESEND_MS))
        return;
    p->at_ms = loop_ms(sd) ? loop_ms(sd) : 2;
    p->in_flight = true;
    if (agent_raft_propose(sd->raft, swarm_kind_name(kind), body->data, body->len,
                           proposed_cb, p) != 0) {
        p->in_flight = false;
        p->at_ms = 1;
    }
}

/* Gossips the pending decisions (record "decisions") for the members that are not voters
 * and so apply no state; only when the list or the term changed (the list only with an
 * applied entry: not built again while neither moved). */
static void publish(struct swarm_decisions *sd, const struct swarm_state *st)
{
    uint64_t term = agent_raft_known_term(sd->raft);
    if (sd->gossip == NULL || (sd->published != NULL && sd->published_index == st->applied_index &&
                               sd->published_term == term))
        return;
    static struct swarm_record rec; /* one loop thread; too big for the stack */
    swarm_record_from_state(st, term, &rec);
    char *text = swarm_record_encode(&rec);
    if (text == NULL)
        return;
    if (sd->published != NULL && strcmp(text, sd->published) == 0) {
        free(text);
    } else if (agent_gossip_state_set(sd->gossip, "decisions", text) == 0) {
        free(sd->published);
        sd->published = text;
    } else {
        free(text);
        return;
    }
    sd->published_index = st->applied_index;
    sd->published_term = term;
}

void swarm_healer_tick(struct swarm_decisions *sd)
{
    const struct swarm_state *st = agent_raft_swarm(sd->raft);
    publish(sd, st);
    struct pl_buf body;
    pl_buf_init(&body, SWARM_BODY_BYTES_MAX);
    if (sd->have_policy && (st->max_in_flight != sd->policy.max_in_flight ||
                            st->max_fleet_pct != sd->policy.max_fleet_pct ||
                            st->window_ms != sd->policy.window_ms)) {
        struct swarm_proposed *p = proposed_slot(sd, 0, "", true);
        if (p != NULL && swarm_policy_encode(&sd->policy, &body) == 0)
            propose_once(sd, p, SWARM_K_POLICY, &body);
    }
    for (uint32_t i = 0; i < st->nrollouts; i++) {
        const struct swarm_rollout *r = &st->rollouts[i];
        const char *node;
        if (swarm_rollout_next(r, &node) != 0)
            continue;
        struct swarm_decision_body d;
        swarm_rollout_step(r, node, &d);
        struct swarm_proposed *p = proposed_slot(sd, r->index, node, true);
        body.len = 0;
        if (p != NULL && swarm_decision_encode(&d, &body) == 0) {
            if (!p->in_flight && p->at_ms == 0)
                PL_INFO(MOD, "decide %s", d.reason);
            propose_once(sd, p, SWARM_K_DECISION, &body);
        }
    }
    pl_buf_close(&body);
}

/* ---- POST /v1/rollouts ---- */

static cJSON *rollout_reply(uint64_t index, uint64_t arg)
{
    (void)arg;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "rollout", (double)index);
    return doc;
}

/* {"service": S, "op": "restart"|"stop"|"start", "max_unavailable": N}: committed as a
 * rollout entry; apply checks it again (and names the nodes) on every voter. */
static void api_rollout(struct api_call *call, void *data)
{
    struct swarm_decisions *sd = data;
    if (sd->raft == NULL || !agent_raft_voter(sd->raft)) {
        api_reply_error(call, 503, "this agent is not a voter: send the rollout to a voter");
        return;
    }
    cJSON *doc = api_body_json(call);
    if (doc == NULL)
        return;
    const char *service = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "service"));
    const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "op"));
    const cJSON *mu = cJSON_GetObjectItemCaseSensitive(doc, "max_unavailable");
    struct swarm_rollout_body b = {.max_unavailable = 1};
    const char *bad = NULL;
    if (service == NULL || service[0] == '\0' || strlen(service) >= sizeof(b.service))
        bad = "service: expected a service name";
    else if (op == NULL || swarm_op_parse(op, &b.op) != 0)
        bad = "op: expected restart, stop or start";
    else if (mu != NULL && (!cJSON_IsNumber(mu) || mu->valuedouble < 1 ||
                            mu->valuedouble > SWARM_ROLLOUT_NODES_MAX ||
                            mu->valuedouble != (double)(uint32_t)mu->valuedouble))
        bad = "max_unavailable: expected an integer from 1 to 32";
    if (bad != NULL) {
        cJSON_Delete(doc);
        api_reply_error(call, 400, "%s", bad);
        return;
    }
    snprintf(b.service, sizeof(b.service), "%s", service);
    if (mu != NULL)
        b.max_unavailable = (uint32_t)mu->valuedouble;
    snprintf(b.by, sizeof(b.by), "operator@%s", sd->a->cfg.name);
    cJSON_Delete(doc);
    const struct swarm_state *st = agent_raft_swarm(sd->raft);
    for (uint32_t i = 0; i < st->nrollouts; i++) {
        if (st->rollouts[i].state == SWARM_ROLLOUT_RUNNING &&
            strcmp(st->rollouts[i].service, b.service) == 0) {
            api_reply_error(call, 409, "rollout %llu of %s is still running",
                            (unsigned long long)st->rollouts[i].index, b.service);
            return;
        }
    }
    struct pl_buf body;
    pl_buf_init(&body, SWARM_BODY_BYTES_MAX);
    if (swarm_rollout_encode(&b, &body) == 0) {
        PL_INFO(MOD, "rollout %s %s max_unavailable=%u asked", swarm_op_name(b.op), b.service,
                b.max_unavailable);
        swarm_decisions_propose_for(sd, call, SWARM_K_ROLLOUT, &body, rollout_reply, 0);
    } else {
        api_reply_error(call, 500, "cannot encode the rollout");
    }
    pl_buf_close(&body);
}

void swarm_healer_routes(struct swarm_decisions *sd)
{
    api_route_add(&sd->a->api, "POST", "/v1/rollouts", api_rollout, sd);
}
