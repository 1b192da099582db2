/*
 * The fault table of fault.h and its API routes.
 */
#include "fault.h"

#include "pl_clock.h"
#include "pl_err.h"
#include "pl_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fault_table_init(struct fault_table *t, uv_loop_t *loop, struct pl_rand *rand)
{
    memset(t, 0, sizeof(*t));
    t->loop = loop;
    t->rand = rand;
}

int fault_rule_set(struct fault_table *t, const struct fault_rule *rule)
{
    for (int i = 0; i < t->n; i++) {
        if (strcmp(t->rules[i].peer, rule->peer) == 0 && t->rules[i].dir == rule->dir) {
            t->rules[i] = *rule;
            return 0;
        }
    }
    if (t->n >= FAULT_RULES_MAX)
        return PL_EFULL;
    t->rules[t->n++] = *rule;
    return 0;
}

void fault_clear(struct fault_table *t, const char *peer)
{
    int kept = 0;
    for (int i = 0; i < t->n; i++)
        if (peer != NULL && strcmp(t->rules[i].peer, peer) != 0)
            t->rules[kept++] = t->rules[i];
    t->n = kept;
}

/* Whether rule r applies to a message to or from `peer` in direction `dir`. */
static bool rule_matches(const struct fault_rule *r, const char *peer, enum fault_dir dir)
{
    if ((r->dir & dir) == 0)
        return false;
    return strcmp(r->peer, "*") == 0 || (peer != NULL && strcmp(r->peer, peer) == 0);
}

bool fault_decide(struct fault_table *t, const char *peer, enum fault_dir dir, uint32_t *delay_ms)
{
    *delay_ms = 0;
    for (int i = 0; i < t->n; i++) {
        const struct fault_rule *r = &t->rules[i];
        if (!rule_matches(r, peer, dir))
            continue;
        if (r->partitioned || (r->drop_rate > 0 && pl_rand_unit(t->rand) < r->drop_rate)) {
            t->dropped++;
            return true;
        }
        if (r->delay_ms > 0 || r->jitter_ms > 0) {
            uint32_t d = r->delay_ms;
            if (r->jitter_ms > 0)
                d += (uint32_t)pl_rand_below(t->rand, r->jitter_ms + 1);
            if (d > *delay_ms)
                *delay_ms = d;
        }
    }
    if (*delay_ms > 0)
        t->delayed++;
    return false;
}

bool fault_decide_dup(struct fault_table *t, const char *peer, enum fault_dir dir,
                      uint32_t *delay_ms)
{
    *delay_ms = 0;
    for (int i = 0; i < t->n; i++) {
        const struct fault_rule *r = &t->rules[i];
        if (rule_matches(r, peer, dir) && r->dup_rate > 0 &&
            pl_rand_unit(t->rand) < r->dup_rate) {
            *delay_ms = r->dup_delay_ms;
            t->duplicated++;
            return true;
        }
    }
    return false;
}

struct deferred {
    uv_timer_t timer;
    struct fault_table *table;
    void (*fn)(void *arg);
    void *arg;
};

static void deferred_closed(uv_handle_t *h) { free(h->data); }

static void deferred_fire(uv_timer_t *timer)
{
    struct deferred *d = timer->data;
    d->table->delayed_pending--;
    d->fn(d->arg);
    uv_close((uv_handle_t *)&d->timer, deferred_closed);
}

/* Runs fn(arg) after delay_ms on a timer; with `now_if_zero` and no delay, at once. */
static int defer(struct fault_table *t, uint32_t delay_ms, bool now_if_zero, void (*fn)(void *arg),
                 void *arg)
{
    if (delay_ms == 0 && now_if_zero) {
        fn(arg);
        return 0;
    }
    if (t->delayed_pending >= FAULT_DELAYED_MAX)
        return PL_EFULL;
    struct deferred *d = malloc(sizeof(*d));
    if (d == NULL)
        return PL_EFULL;
    d->table = t;
    d->fn = fn;
    d->arg = arg;
    uv_timer_init(t->loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, deferred_fire, delay_ms, 0);
    t->delayed_pending++;
    return 0;
}

int fault_defer(struct fault_table *t, uint32_t delay_ms, void (*fn)(void *arg), void *arg)
{
    return defer(t, delay_ms, true, fn, arg);
}

static void held_fire(void *arg)
{
    struct fault_held *h = arg;
    h->fn(h);
    free(h);
}

static int hold(struct fault_table *t, uint32_t delay_ms, bool now_if_zero,
                void (*fn)(const struct fault_held *h), void *ctx, uint64_t peer_id,
                const char *addr, const uint8_t *p, size_t len)
{
    struct fault_held *h = malloc(sizeof(*h) + len);
    if (h == NULL)
        return -ENOMEM;
    h->fn = fn;
    h->ctx = ctx;
    h->peer_id = peer_id;
    snprintf(h->addr, sizeof(h->addr), "%s", addr != NULL ? addr : "");
    h->len = len;
    memcpy(h->bytes, p, len);
    int rc = defer(t, delay_ms, now_if_zero, held_fire, h);
    if (rc != 0)
        free(h);
    return rc;
}

int fault_hold(struct fault_table *t, uint32_t delay_ms, void (*fn)(const struct fault_held *h),
               void *ctx, uint64_t peer_id, const char *addr, const uint8_t *p, size_t len)
{
    return hold(t, delay_ms, true, fn, ctx, peer_id, addr, p, len);
}

bool fault_pass(struct fault_table *t, const char *peer, enum fault_dir dir,
                void (*fn)(const struct fault_held *h), void *ctx, uint64_t peer_id,
                const char *addr, const uint8_t *p, size_t len)
{
    uint32_t delay, dup_delay;
    if (fault_decide(t, peer, dir, &delay))
        return false;
    /* The copy is held first: with no delay it still waits for a later loop turn, so it
     * comes after the message itself, as a retransmitted or echoed packet would. */
    if (fault_decide_dup(t, peer, dir, &dup_delay) &&
        hold(t, delay + dup_delay, false, fn, ctx, peer_id, addr, p, len) != 0)
        t->duplicated--; /* no room to hold it: not duplicated after all */
    if (delay == 0)
        return true;
    hold(t, delay, true, fn, ctx, peer_id, addr, p, len);
    return false;
}

static const char *dir_name(enum fault_dir d)
{
    return d == FAULT_IN ? "in" : d == FAULT_OUT ? "out" : "both";
}

static cJSON *table_doc(const struct fault_table *t)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *rules = cJSON_AddArrayToObject(doc, "rules");
    for (int i = 0; i < t->n; i++) {
        const struct fault_rule *r = &t->rules[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "peer", r->peer);
        cJSON_AddStringToObject(o, "direction", dir_name(r->dir));
        cJSON_AddBoolToObject(o, "partitioned", r->partitioned);
        cJSON_AddNumberToObject(o, "drop_rate", r->drop_rate);
        cJSON_AddNumberToObject(o, "delay_ms", r->delay_ms);
        cJSON_AddNumberToObject(o, "jitter_ms", r->jitter_ms);
        cJSON_AddNumberToObject(o, "dup_rate", r->dup_rate);
        cJSON_AddNumberToObject(o, "dup_delay_ms", r->dup_delay_ms);
        cJSON_AddItemToArray(rules, o);
    }
    cJSON_AddNumberToObject(doc, "dropped", (double)t->dropped);
    cJSON_AddNumberToObject(doc, "delayed", (double)t->delayed);
    cJSON_AddNumberToObject(doc, "duplicated", (double)t->duplicated);
    cJSON_AddNumberToObject(doc, "clock_offset_ms", (double)pl_clock_offset_get());
    return doc;
}

/* Answers 403 and returns 1 when the fault API is off. */
static int api_off(struct api_call *call, const struct fault_table *t)
{
    if (t->api_enabled)
        return 0;
    api_reply_error(call, 403, "fault injection is off on this agent; start it with "
                               "--enable-faults (or \"enable_faults\": true in its config) to "
                               "use it");
    return 1;
}

static void api_fault_get(struct api_call *call, void *data)
{
    if (api_off(call, data))
        return;
    api_reply_json(call, 200, table_doc(data));
}

/* POST /v1/fault {"action":"drop|delay|dup|partition|clear","peer":"n2","rate":0.3,
 *                 "ms":200,"jitter_ms":0,"direction":"in|out|both"}
 *   (dup: "rate" the chance of one more copy, "ms" its delay after the message)
 *   or {"clock_offset_ms": N}: the agent's clocks jump (pl_clock.h); "clear" without a peer
 *   sets it back to 0. */
static void api_fault_post(struct api_call *call, void *data)
{
    struct fault_table *t = data;
    if (api_off(call, t))
        return;
    cJSON *body = api_body_json(call);
    if (body == NULL)
        return;
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(body, "action");
    const cJSON *peer = cJSON_GetObjectItemCaseSensitive(body, "peer");
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(body, "direction");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(body, "rate");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(body, "ms");
    const cJSON *jitter = cJSON_GetObjectItemCaseSensitive(body, "jitter_ms");
    const cJSON *clock = cJSON_GetObjectItemCaseSensitive(body, "clock_offset_ms");
    struct fault_rule r = {.dir = FAULT_BOTH};
    const char *err = NULL;

    if (clock != NULL && action == NULL) {
        if (!cJSON_IsNumber(clock) || !(clock->valuedouble >= -FAULT_CLOCK_OFFSET_MS_MAX) ||
            clock->valuedouble > FAULT_CLOCK_OFFSET_MS_MAX ||
            clock->valuedouble != (double)(int64_t)clock->valuedouble) {
            err = "\"clock_offset_ms\" must be a whole number of milliseconds within a year "
                  "either way";
            goto reply;
        }
        pl_clock_offset_set((int64_t)clock->valuedouble);
        PL_INFO("fault", "clock offset_ms=%" PRId64, (int64_t)clock->valuedouble);
        goto reply;
    }
    if (!cJSON_IsString(action)) {
        err = "\"action\" must be one of drop, delay, dup, partition, clear";
        goto reply;
    }
    if (peer != NULL && (!cJSON_IsString(peer) || peer->valuestring[0] == '\0' ||
                         strlen(peer->valuestring) >= FAULT_PEER_MAX)) {
        err = "\"peer\" must be a member name or \"*\"";
        goto reply;
    }
    if (strcmp(action->valuestring, "clear") == 0) {
        fault_clear(t, peer != NULL ? peer->valuestring : NULL);
        if (peer == NULL)
            pl_clock_offset_set(0);
        PL_INFO("fault", "cleared peer=%s", peer != NULL ? peer->valuestring : "all");
        goto reply;
    }
    snprintf(r.peer, sizeof(r.peer), "%s", peer != NULL ? peer->valuestring : "*");
    if (dir != NULL) {
        if (!cJSON_IsString(dir)) {
            err = "\"direction\" must be in, out or both";
            goto reply;
        }
        if (strcmp(dir->valuestring, "in") == 0)
            r.dir = FAULT_IN;
        else if (strcmp(dir->valuestring, "out") == 0)
            r.dir = FAULT_OUT;
        else if (strcmp(dir->valuestring, "both") != 0) {
            err = "\"direction\" must be in, out or both";
            goto reply;
        }
    }
    if (strcmp(action->valuestring, "drop") == 0) {
        if (!cJSON_IsNumber(rate) || rate->valuedouble < 0 || rate->valuedouble > 1) {
            err = "drop needs \"rate\" between 0 and 1";
            goto reply;
        }
        r.drop_rate = rate->valuedouble;
    } else if (strcmp(action->valuestring, "delay") == 0) {
        if (!cJSON_IsNumber(ms) || ms->valuedouble < 0 || ms->valuedouble > 60000 ||
            (jitter != NULL && (!cJSON_IsNumber(jitter) || jitter->valuedouble < 0 ||
                                jitter->valuedouble > 60000))) {
            err = "delay needs \"ms\" (and optional \"jitter_ms\") between 0 and 60000";
            goto reply;
        }
        r.delay_ms = (uint32_t)ms->valuedouble;
        r.jitter_ms = jitter != NULL ? (uint32_t)jitter->valuedouble : 0;
    } else if (strcmp(action->valuestring, "dup") == 0) {
        if (!cJSON_IsNumber(rate) || rate->valuedouble < 0 || rate->valuedouble > 1 ||
            (ms != NULL && (!cJSON_IsNumber(ms) || ms->valuedouble < 0 ||
                            ms->valuedouble > 60000))) {
            err = "dup needs \"rate\" between 0 and 1 (and optional \"ms\", the copy's delay, "
                  "between 0 and 60000)";
            goto reply;
        }
        r.dup_rate = rate->valuedouble;
        r.dup_delay_ms = ms != NULL ? (uint32_t)ms->valuedouble : 0;
    } else if (strcmp(action->valuestring, "partition") == 0) {
        r.partitioned = true;
        r.drop_rate = 1;
    } else {
        err = "\"action\" must be one of drop, delay, dup, partition, clear";
        goto reply;
    }
    if (fault_rule_set(t, &r) != 0) {
        err = "too many fault rules; clear some first";
        goto reply;
    }
    PL_INFO("fault", "set action=%s peer=%s direction=%s rate=%g delay_ms=%u jitter_ms=%u "
            "dup_rate=%g dup_delay_ms=%u", action->valuestring, r.peer, dir_name(r.dir),
            r.drop_rate, r.delay_ms, r.jitter_ms, r.dup_rate, r.dup_delay_ms);
reply:
    cJSON_Delete(body);
    if (err != NULL)
        api_reply_error(call, 400, "%s", err);
    else
        api_reply_json(call, 200, table_doc(t));
}

void fault_api_register(struct fault_table *t, struct api *api)
{
    api_route_add(api, "GET", "/v1/fault", api_fault_get, t);
    api_route_add(api, "POST", "/v1/fault", api_fault_post, t);
}
