/*
 * The acting node's side of the healer's decisions (swarm_actor.h): every 200 ms it looks
 * at the committed decisions naming this node, fences them, keeps the act-once record,
 * drives the healing shell through a restart, stop or start of one of its own services,
 * and commits the answer. Also the module's life and its GET and approve routes.
 */
#include "swarm_actor.h"

#include "agent_config.h"
#include "agent_gossip.h"
#include "gossip.h"
#include "agent_raft.h"
#include "api.h"
#include "heal_agent.h"
#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "pl_log.h"
#include "replay.h"
#include "swarm_record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "decisions"
#define TICK_MS 200
#define ACTION_TIMEOUT_MS 60000
#define ANSWER_RETRY_MS 1000
#define PRUNE_TICKS 300 /* a minute */

/* ---- the act-once record: `node` family, "decision/" + the id (8 bytes, big-endian) ---- */

enum { REC_BEGUN = 1, REC_FINISHED = 2 };
#define REC_PREFIX "decision/"
#define REC_KEY_BYTES (sizeof(REC_PREFIX) - 1 + 8)
#define REC_VAL_BYTES 5 /* state, result (int32, big-endian) */

static void rec_key(uint64_t decision, uint8_t key[REC_KEY_BYTES])
{
    memcpy(key, REC_PREFIX, sizeof(REC_PREFIX) - 1);
    pl_be64_put(key + sizeof(REC_PREFIX) - 1, decision);
}

/* 0 with the record, PL_ENOTFOUND, or another error (then the caller must not act). */
static int rec_get(struct swarm_decisions *sd, uint64_t decision, int *state, int32_t *result)
{
    uint8_t key[REC_KEY_BYTES], val[REC_VAL_BYTES];
    rec_key(decision, key);
    int rc = pl_store_get_fixed(&sd->a->store, PL_CF_NODE, key, sizeof(key), val, sizeof(val));
    if (rc != 0)
        return rc;
    if (val[0] != REC_BEGUN && val[0] != REC_FINISHED)
        return PL_ECORRUPT;
    *state = val[0];
    *result = (int32_t)pl_be32_get(val + 1);
    return 0;
}

/* Synced: once this returns 0 the record survives a kill -9. */
static int rec_put(struct swarm_decisions *sd, uint64_t decision, int state, int32_t result)
{
    uint8_t key[REC_KEY_BYTES], val[REC_VAL_BYTES];
    rec_key(decision, key);
    val[0] = (uint8_t)state;
    pl_be32_put(val + 1, (uint32_t)result);
    int rc = pl_store_put(&sd->a->store, PL_CF_NODE, key, sizeof(key), val, sizeof(val));
    if (rc != 0)
        PL_LOG_RATELIMITED(PL_LOG_ERROR, MOD, "cannot write the record of decision %llu: %s%s%s",
                           (unsigned long long)decision, pl_strerror(rc),
                           sd->a->store.err_text[0] ? ": " : "", sd->a->store.err_text);
    return rc;
}

static bool act_find_const(const struct swarm_decisions *sd, uint64_t decision)
{
    for (int i = 0; i < sd->nacts; i++)
        if (sd->acts[i].decision == decision)
            return true;
    return false;
}

/*
 * Walks the act-once records. With st NULL it counts them (for GET /v1/decisions). With a
 * state it deletes those no decision can need again: of decisions the applied state shows
 * answered, or no longer holds although it applied their index (its tables evict only
 * answered ones); it returns how many it deleted.
 */
static int rec_sweep(struct swarm_decisions *sd, const struct swarm_state *st)
{
    struct pl_store *store = &sd->a->store;
    struct pl_store_iter it;
    struct pl_store_batch b;
    int n = 0;
    pl_store_batch_init(&b);
    pl_store_iter_init(store, &it, PL_CF_NODE);
    for (pl_store_iter_seek(&it, REC_PREFIX, sizeof(REC_PREFIX) - 1); pl_store_iter_valid(&it);
         pl_store_iter_next(&it)) {
        size_t klen;
        const uint8_t *k = pl_store_iter_key(&it, &klen);
        if (klen != REC_KEY_BYTES || memcmp(k, REC_PREFIX, sizeof(REC_PREFIX) - 1) != 0)
            break;
        uint64_t id = pl_be64_get(k + sizeof(REC_PREFIX) - 1);
        const struct swarm_decision *d = st != NULL ? swarm_decision_find(st, id) : NULL;
        if (st != NULL && (id > st->applied_index ||
                           (d != NULL && !swarm_decision_finished(d->state)) ||
                           act_find_const(sd, id)))
            continue;
        if (st != NULL)
            pl_store_batch_delete(store, &b, PL_CF_NODE, k, klen);
        n++;
    }
    pl_store_iter_close(&it);
    int rc = st != NULL && n > 0 ? pl_store_batch_commit(store, &b) : 0;
    pl_store_batch_close(&b);
    if (rc != 0)
        PL_LOG_RATELIMITED(PL_LOG_WARN, MOD, "cannot delete %d decision record(s): %s", n,
                           pl_strerror(rc));
    return rc == 0 ? n : 0;
}

/* ---- acts ---- */

static struct swarm_act *act_find(struct swarm_decisions *sd, uint64_t decision)
{
    for (int i = 0; i < sd->nacts; i++)
        if (sd->acts[i].decision == decision)
            return &sd->acts[i];
    return NULL;
}

static struct swarm_act *act_add(struct swarm_decisions *sd, const struct swarm_decision *d)
{
    if (sd->nacts == SWARM_ACTS_MAX)
        return NULL;
    struct swarm_act *x = &sd->acts[sd->nacts++];
    memset(x, 0, sizeof(*x));
    x->decision = d->index;
    x->op = d->action;
    snprintf(x->service, sizeof(x->service), "%s", d->service);
    return x;
}

static uint64_t loop_ms(struct swarm_decisions *sd) { return uv_now(&sd->a->loop); }

struct answer_ctx {
    struct swarm_decisions *sd;
    uint64_t decision;
};

static void answer_cb(void *data, int err, uint64_t index)
{
    struct answer_ctx *ctx = data;
    (void)index;
    struct swarm_act *x = ctx->sd->stopping ? NULL : act_find(ctx->sd, ctx->decision);
    if (x != NULL) {
        x->proposing = false;
        /* Committed or not, look again a little later: the state shows whether it was
         * applied (then the act goes), and a lost answer is sent again. */
        x->retry_ms = loop_ms(ctx->sd) + ANSWER_RETRY_MS;
        if (err != 0)
            PL_LOG_RATELIMITED(PL_LOG_INFO, MOD, "answer to decision %llu not committed: %s",
                               (unsigned long long)ctx->decision, pl_err_name(err));
    }
    free(ctx);
}

static void answer_send(struct swarm_decisions *sd, struct swarm_act *x)
{
    if (x->proposing || loop_ms(sd) < x->retry_ms)
        return;
    struct swarm_action_result r = {.decision = x->decision, .result = x->result};
    snprintf(r.node, sizeof(r.node), "%s", sd->a->cfg.name);
    snprintf(r.detail, sizeof(r.detail), "%s", x->detail);
    struct pl_buf body;
    pl_buf_init(&body, SWARM_BODY_BYTES_MAX);
    struct answer_ctx *ctx = malloc(sizeof(*ctx));
    int rc = ctx != NULL ? swarm_action_result_encode(&r, &body) : -ENOMEM;
    if (rc == 0) {
        ctx->sd = sd;
        ctx->decision = x->decision;
        x->proposing = true;
        rc = agent_raft_propose(sd->raft, swarm_kind_name(SWARM_K_ACTION_RESULT), body.data,
                                body.len, answer_cb, ctx);
        if (rc != 0)
            x->proposing = false;
    }
    if (rc != 0) {
        free(ctx);
        x->retry_ms = loop_ms(sd) + ANSWER_RETRY_MS;
    }
    pl_buf_close(&body);
}

/* The action is over: the record says so (synced) before the answer leaves. */
static void act_finish(struct swarm_decisions *sd, struct swarm_act *x, int32_t result,
                       const char *detail)
{
    x->phase = SWARM_ACT_ANSWERING;
    x->result = result;
    snprintf(x->detail, sizeof(x->detail), "%s", detail);
    if (rec_put(sd, x->decision, REC_FINISHED, result) != 0)
        return; /* answered anyway; a restart finds it begun and answers "interrupted" */
    PL_INFO(MOD, "decision %llu %s service=%s result=%s %s", (unsigned long long)x->decision,
            swarm_op_name(x->op), x->service, result ? pl_err_name(result) : "ok", detail);
}

/* Begins a new action on one of this node's own services. */
static void act_begin(struct swarm_decisions *sd, struct swarm_act *x)
{
    char err[160] = "";
    enum heal_proc proc;
    bool healthy;
    if (sd->heal == NULL || heal_service_state(sd->heal, x->service, &proc, &healthy) != 0) {
        act_finish(sd, x, PL_ENOTFOUND, "this node has no such service");
        return;
    }
    if (x->op != SWARM_OP_RESTART && x->op != SWARM_OP_STOP && x->op != SWARM_OP_START) {
        act_finish(sd, x, PL_EPROTO, "not an action a node takes for the healer");
        return;
    }
    /* Written before anything is done: a kill -9 from here on never leads to a second go. */
    if (rec_put(sd, x->decision, REC_BEGUN, 0) != 0) {
        sd->nacts--; /* x is the last one added: forget it, try again next round */
        return;
    }
    x->deadline_ms = loop_ms(sd) + ACTION_TIMEOUT_MS;
    bool stop = x->op != SWARM_OP_START;
    PL_INFO(MOD, "decision %llu: %s service=%s", (unsigned long long)x->decision,
            swarm_op_name(x->op), x->service);
    if (heal_service_control(sd->heal, x->service, stop, err, sizeof(err)) != 0) {
        act_finish(sd, x, PL_ESTATE, err);
        return;
    }
    x->phase = stop ? SWARM_ACT_STOPPING : SWARM_ACT_STARTING;
}

/* Moves an action along as the healing shell reports its process. */
static void act_progress(struct swarm_decisions *sd, struct swarm_act *x)
{
    enum heal_proc proc;
    bool healthy;
    char err[160] = "";
    if (heal_service_state(sd->heal, x->service, &proc, &healthy) != 0) {
        act_finish(sd, x, PL_ENOTFOUND, "the service is gone from this node");
        return;
    }
    if (x->phase == SWARM_ACT_STOPPING && proc == HEAL_PROC_DOWN) {
        if (x->op == SWARM_OP_STOP) {
            act_finish(sd, x, 0, "stopped");
            return;
        }
        if (heal_service_control(sd->heal, x->service, false, err, sizeof(err)) != 0) {
            act_finish(sd, x, PL_ESTATE, err);
            return;
        }
        x->phase = SWARM_ACT_STARTING;
        return;
    }
    if (x->phase == SWARM_ACT_STARTING && proc == HEAL_PROC_RUNNING && healthy) {
        act_finish(sd, x, 0, x->op == SWARM_OP_RESTART ? "restarted, healthy" : "started, healthy");
        return;
    }
    if (loop_ms(sd) >= x->deadline_ms)
        act_finish(sd, x, PL_ETIMEOUT, x->phase == SWARM_ACT_STOPPING
                                           ? "the process did not stop in time"
                                           : "the service was not healthy in time");
}

/* A pending decision naming this node that it holds no act for. */
static void consider(struct swarm_decisions *sd, const struct swarm_decision *d, uint64_t known)
{
    int state = 0;
    int32_t result = 0;
    int rc = rec_get(sd, d->index, &state, &result);
    if (rc != 0 && rc != PL_ENOTFOUND) {
        PL_LOG_RATELIMITED(PL_LOG_WARN, MOD, "decision %llu: its record cannot be read (%s); "
                           "not acting", (unsigned long long)d->index, pl_err_name(rc));
        return;
    }
    struct swarm_act *x = act_add(sd, d);
    if (x == NULL)
        return; /* busy: next round */
    if (rc == 0 && state == REC_FINISHED) {
        /* Done in an earlier life; only the answer was lost. */
        x->phase = SWARM_ACT_ANSWERING;
        x->result = result;
        snprintf(x->detail, sizeof(x->detail), "answered again after a restart");
        return;
    }
    if (rc == 0) {
        act_finish(sd, x, PL_ESTATE, "interrupted by a restart of the agent; not done again");
        return;
    }
    if (swarm_decision_check(d, sd->a->cfg.name, known) == SWARM_ACT_STALE_TERM) {
        char why[SWARM_TEXT_MAX];
        snprintf(why, sizeof(why), "fenced: decided in term %llu, this node knows term %llu",
                 (unsigned long long)d->term, (unsigned long long)known);
        act_finish(sd, x, PL_ESTALE, why);
        return;
    }
    act_begin(sd, x);
}

#define MINE_MAX 32

/* The newest term a member's "raft" record names (0 when none). */
static uint64_t raft_record_term(const struct gossip *g, const char *node)
{
    const uint8_t *v;
    size_t len;
    uint64_t version, term = 0;
    if (gossip_state_get(g, node, "raft", &v, &len, &version) != 0)
        return 0;
    cJSON *doc = cJSON_ParseWithLength((const char *)v, len);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "term");
    if (cJSON_IsNumber(t) && t->valuedouble > 0 && t->valuedouble < 9007199254740992.0)
        term = (uint64_t)t->valuedouble;
    cJSON_Delete(doc);
    return term;
}

/* A member that is not a voter applies no state: it learns the pending decisions naming it
 * from the "decisions" record the leader gossips (swarm_record.h; the newest term's record
 * wins, a malformed one is ignored), and the newest term from every voter's "raft" record,
 * so fencing holds for it too. It reads them again only when one of them changed. */
static int pending_from_gossip(struct swarm_decisions *sd, struct swarm_decision *out,
                               uint64_t *known)
{
    const struct gossip *g = agent_gossip_core(sd->gossip);
    static struct swarm_record rec; /* one loop thread; too big for the stack */
    if (sd->gossip_best == NULL && (sd->gossip_best = malloc(sizeof(*sd->gossip_best))) == NULL)
        return 0;
    struct swarm_record *best = sd->gossip_best;
    /* Both asked: each notes what it saw. */
    bool raft_changed = agent_gossip_records_changed(&sd->seen_raft, g, "raft");
    bool decisions_changed = agent_gossip_records_changed(&sd->seen_decisions, g, "decisions");
    bool changed = raft_changed || decisions_changed;
    bool have = !changed && sd->gossip_have;
    uint64_t newest = changed ? 0 : sd->gossip_newest;
    for (uint32_t slot = 0; changed && slot < gossip_member_slots(g); slot++) {
        const struct gossip_member *m = gossip_member_at(g, slot);
        const uint8_t *v;
        size_t len;
        uint64_t version;
        if (m == NULL || !m->used)
            continue;
        newest = PL_MAX(newest, raft_record_term(g, m->name));
        if (gossip_state_get(g, m->name, "decisions", &v, &len, &version) != 0)
            continue;
        int rc = swarm_record_parse((const char *)v, len, &rec);
        if (rc != 0) {
            PL_LOG_RATELIMITED(PL_LOG_WARN, MOD, "the decisions record of %s is refused: %s",
                               m->name, pl_err_name(rc));
            continue;
        }
        if (!have || rec.term > best->term) {
            *best = rec;
            have = true;
        }
    }
    sd->gossip_have = have;
    sd->gossip_newest = newest;
    *known = PL_MAX(newest, have ? best->term : 0);
    int n = 0;
    for (uint32_t i = 0; have && i < best->n && n < MINE_MAX; i++)
        if (strcmp(best->d[i].node, sd->a->cfg.name) == 0)
            out[n++] = best->d[i];
    return n;
}

/* The pending decisions naming this node (copies), and the newest term it knows. */
static int pending_mine(struct swarm_decisions *sd, struct swarm_decision *out, uint64_t *known)
{
    if (!agent_raft_voter(sd->raft))
        return sd->gossip != NULL ? pending_from_gossip(sd, out, known) : 0;
    const struct swarm_state *st = agent_raft_swarm(sd->raft);
    *known = agent_raft_known_term(sd->raft);
    int n = 0;
    for (uint32_t i = 0; i < st->ndecisions && n < MINE_MAX; i++) {
        const struct swarm_decision *d = &st->decisions[i];
        if (d->state == SWARM_DECISION_PENDING && strcmp(d->node, sd->a->cfg.name) == 0)
            out[n++] = *d;
    }
    return n;
}

static void actor_tick(struct swarm_decisions *sd)
{
    struct swarm_decision mine[MINE_MAX];
    uint64_t known = 0;
    int n = pending_mine(sd, mine, &known);
    /* Acts whose decision is no longer pending (answered, or forgotten) are over. */
    for (int i = sd->nacts - 1; i >= 0; i--) {
        struct swarm_act *x = &sd->acts[i];
        bool pending = false;
        for (int k = 0; k < n && !pending; k++)
            pending = mine[k].index == x->decision;
        if (x->phase == SWARM_ACT_ANSWERING && !x->proposing && !pending)
            sd->acts[i] = sd->acts[--sd->nacts];
    }
    /* A voter drops the records of what its state shows answered; a member that is not a
     * voter cannot tell answered from a stale leader's record, and keeps them. */
    if (agent_raft_voter(sd->raft) && n < sd->last_mine)
        rec_sweep(sd, agent_raft_swarm(sd->raft));
    sd->last_mine = n;
    for (int k = 0; k < n; k++)
        if (act_find(sd, mine[k].index) == NULL)
            consider(sd, &mine[k], known);
    for (int i = 0; i < sd->nacts; i++) {
        struct swarm_act *x = &sd->acts[i];
        if (x->phase != SWARM_ACT_ANSWERING)
            act_progress(sd, x);
        if (x->phase == SWARM_ACT_ANSWERING)
            answer_send(sd, x);
    }
}

static void tick_cb(uv_timer_t *t)
{
    struct swarm_decisions *sd = t->data;
    if (sd->stopping || sd->a->stopping)
        return;
    actor_tick(sd);
    if (agent_raft_voter(sd->raft) && ++sd->ticks % PRUNE_TICKS == 1)
        rec_sweep(sd, agent_raft_swarm(sd->raft));
    if (agent_raft_leads(sd->raft))
        swarm_healer_tick(sd);
}

/* ---- API ---- */

static bool need_state(struct swarm_decisions *sd, struct api_call *call)
{
    if (sd->raft != NULL && agent_raft_voter(sd->raft))
        return true;
    api_reply_error(call, 503, "this agent is not a voter: it applies no swarm state (ask a "
                               "voter)");
    return false;
}

/* GET /v1/decisions: the decisions, rollouts and blast radius of the replicated state. */
static void api_decisions(struct api_call *call, void *data)
{
    struct swarm_decisions *sd = data;
    if (!need_state(sd, call))
        return;
    cJSON *state = replay_state_json(agent_raft_swarm(sd->raft));
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "node", sd->a->cfg.name);
    cJSON_AddBoolToObject(doc, "healer", agent_raft_leads(sd->raft));
    cJSON_AddNumberToObject(doc, "act_records", rec_sweep(sd, NULL));
    static const char *const keys[] = {"decisions", "rollouts", "policy"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        cJSON_AddItemToObject(doc, keys[i], cJSON_DetachItemFromObject(state, keys[i]));
    cJSON_Delete(state);
    api_reply_json(call, 200, doc);
}

struct call_ctx {
    struct api_call *call; /* kept */
    uint64_t arg;
    cJSON *(*reply)(uint64_t index, uint64_t arg);
};

static void call_cb(void *data, int err, uint64_t index)
{
    struct call_ctx *ctx = data;
    if (err != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "not committed: %s", pl_strerror(err));
        api_kept_reply_error(ctx->call, err == PL_ENOLEADER ? 503 : 504, msg);
    } else {
        api_kept_reply_json(ctx->call, 200, ctx->reply(index, ctx->arg));
    }
    free(ctx);
}

void swarm_decisions_propose_for(struct swarm_decisions *sd, struct api_call *call,
                                 enum swarm_kind kind, const struct pl_buf *body,
                                 cJSON *(*reply)(uint64_t index, uint64_t arg), uint64_t arg)
{
    struct call_ctx *ctx = malloc(sizeof(*ctx));
    if (ctx == NULL || (ctx->call = api_call_keep(call)) == NULL) {
        free(ctx);
        api_reply_error(call, 500, "out of memory");
        return;
    }
    ctx->arg = arg;
    ctx->reply = reply;
    int rc = agent_raft_propose(sd->raft, swarm_kind_name(kind), body->data, body->len,
                                call_cb, ctx);
    if (rc != 0) {
        api_kept_reply_error(ctx->call, 503, pl_strerror(rc));
        free(ctx);
    }
}

static cJSON *approved_reply(uint64_t index, uint64_t decision)
{
    cJSON *doc = cJSON_CreateObject();
    char id[24];
    snprintf(id, sizeof(id), "%llu", (unsigned long long)decision);
    cJSON_AddStringToObject(doc, "id", id);
    cJSON_AddBoolToObject(doc, "approved", 1);
    cJSON_AddNumberToObject(doc, "index", (double)index);
    return doc;
}

/* POST /v1/decisions/ID/approve: commits an approval for a waiting decision. */
static void api_decision_post(struct api_call *call, void *data)
{
    struct swarm_decisions *sd = data;
    const char *tail = api_path_tail(call, "/v1/decisions/*");
    char *end = NULL;
    unsigned long long id = strtoull(tail, &end, 10);
    if (tail[0] < '0' || tail[0] > '9' || end == NULL || strcmp(end, "/approve") != 0) {
        api_reply_error(call, 404, "expected POST /v1/decisions/ID/approve (ID: a decision's "
                                   "index)");
        return;
    }
    if (!need_state(sd, call))
        return;
    const struct swarm_decision *d = swarm_decision_find(agent_raft_swarm(sd->raft), id);
    if (d == NULL) {
        api_reply_error(call, 404, "no decision %llu (platelet decisions lists them)", id);
        return;
    }
    if (d->state != SWARM_DECISION_WAITING) {
        api_reply_error(call, 409, "decision %llu is %s, not waiting for an approval", id,
                        swarm_decision_state_name(d->state));
        return;
    }
    struct swarm_approval ap = {.decision = id};
    snprintf(ap.by, sizeof(ap.by), "operator@%s", sd->a->cfg.name);
    struct pl_buf body;
    pl_buf_init(&body, SWARM_BODY_BYTES_MAX);
    if (swarm_approval_encode(&ap, &body) == 0)
        swarm_decisions_propose_for(sd, call, SWARM_K_APPROVAL, &body, approved_reply, id);
    else
        api_reply_error(call, 500, "cannot encode the approval");
    pl_buf_close(&body);
}

/* ---- the module ---- */

int swarm_decisions_config_check(const struct agent_config *cfg, char *err, size_t err_size)
{
    struct swarm_policy_body p;
    bool have;
    return swarm_healer_config(cfg, &p, &have, err, err_size);
}

static int decisions_start(struct agent *a, void **state, char *err, size_t err_size)
{
    struct swarm_decisions *sd = calloc(1, sizeof(*sd));
    if (sd == NULL)
        return -ENOMEM;
    *state = sd;
    sd->a = a;
    sd->raft = agent_module_state(a, "raft");
    sd->heal = agent_module_state(a, "heal");
    sd->gossip = agent_module_state(a, "gossip");
    int rc = swarm_healer_config(&a->cfg, &sd->policy, &sd->have_policy, err, err_size);
    if (rc != 0)
        return rc;
    api_route_add(&a->api, "GET", "/v1/decisions", api_decisions, sd);
    api_route_add(&a->api, "POST", "/v1/decisions/*", api_decision_post, sd);
    swarm_healer_routes(sd);
    uv_timer_init(&a->loop, &sd->timer);
    sd->timer.data = sd;
    if (sd->raft != NULL)
        uv_timer_start(&sd->timer, tick_cb, TICK_MS, TICK_MS);
    return 0;
}

static void decisions_stop(struct agent *a, void *state, void (*done)(struct agent *a))
{
    struct swarm_decisions *sd = state;
    sd->stopping = true;
    uv_timer_stop(&sd->timer);
    done(a);
}

static void decisions_free(struct agent *a, void *state)
{
    (void)a;
    struct swarm_decisions *sd = state;
    if (sd != NULL) {
        free(sd->published);
        free(sd->gossip_best);
        agent_gossip_seen_free(&sd->seen_raft);
        agent_gossip_seen_free(&sd->seen_decisions);
    }
    free(sd);
}

const struct agent_module swarm_decisions_module = {
    .name = "decisions",
    .start = decisions_start,
    .stop = decisions_stop,
    .free = decisions_free,
};
