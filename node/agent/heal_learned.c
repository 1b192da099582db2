/*
 * The learned table each service's machine takes (heal_input.learned; heal_agent.h). A voter
 * takes the table of the swarm state it applied, rebuilt only when it applied an entry, and
 * gossips that table as the "strategies" record (swarm_learn_record.h), built again only
 * when the table changed. A member that is not a voter applies no state: it takes the
 * newest record any voter gossips (the highest index: the table of a later committed
 * entry), read again only when a record changed, and keeps it while no council answers,
 * so its first local action for a signature is the one a voter would take.
 *
 * Every voter publishes, not only the leader: the record is a function of the applied table
 * alone, so voters at the same table gossip the same bytes, and a member hears the lessons
 * while the council has no leader or the leader's gossip does not reach it.
 */
#include "heal_agent.h"

#include "agent_raft.h"
#include "pl_err.h"
#include "pl_log.h"
#include "swarm_learn_heal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "heal"

static_assert(SWARM_LEARN_RECORD_BYTES_MAX <= GOSSIP_STATE_VALUE_BYTES_MAX,
              "a strategies record fits a gossip state value");

/* The voter's applied state, or NULL on a member that is not a voter (or without Raft). */
static const struct swarm_state *applied_state(struct heal *h)
{
    struct agent_raft *ar = agent_module_state(h->a, "raft");
    return ar != NULL && agent_raft_voter(ar) ? agent_raft_swarm(ar) : NULL;
}

const struct heal_learned *heal_learned_for(struct heal_svc *s)
{
    struct heal *h = s->h;
    const struct swarm_state *st = applied_state(h);
    if (st != NULL) {
        /* The table changes only with an applied entry. */
        if (!s->learned_set || s->learned_gossip || s->learned_index != st->applied_index) {
            swarm_learn_table(&st->learn, s->cfg->name, &s->learned);
            s->learned_set = true;
            s->learned_gossip = false;
            s->learned_index = st->applied_index;
        }
    } else if (h->strategies.taken != NULL) {
        const struct swarm_learn_record *r = h->strategies.taken;
        if (!s->learned_set || !s->learned_gossip || s->learned_index != r->index) {
            swarm_learn_record_table(r, s->cfg->name, &s->learned);
            s->learned_set = true;
            s->learned_gossip = true;
            s->learned_index = r->index;
        }
    }
    /* Neither: the last table taken stands (empty before any). */
    return &s->learned;
}

/* A voter: the record of its table, gossiped when the table changed since the last one. */
static void publish(struct heal *h, struct agent_gossip *ag, const struct swarm_state *st)
{
    struct heal_strategies *hs = &h->strategies;
    if (hs->published && hs->checked_applied == st->applied_index)
        return;
    hs->checked_applied = st->applied_index;
    static struct swarm_learn_record rec; /* one loop thread; too big for the stack */
    swarm_learn_record_of(&st->learn, &rec);
    if (rec.index == 0 || (hs->published && rec.index == hs->published_index))
        return;
    struct pl_buf b;
    pl_buf_init(&b, SWARM_LEARN_RECORD_BYTES_MAX);
    int rc = swarm_learn_record_encode(&rec, &b);
    if (rc == 0)
        rc = agent_gossip_state_set_bytes(ag, SWARM_LEARN_RECORD_KEY, b.data, b.len);
    pl_buf_close(&b);
    if (rc != 0) {
        PL_LOG_RATELIMITED(PL_LOG_WARN, MOD, "the strategies record (index %llu) is not "
                           "gossiped: %s", (unsigned long long)rec.index, pl_err_name(rc));
        hs->published = false; /* tried again next round */
        return;
    }
    hs->published = true;
    hs->published_index = rec.index;
}

/* A member that is not a voter: the newest record gossiped, when one changed. */
static void take(struct heal *h, struct agent_gossip *ag)
{
    struct heal_strategies *hs = &h->strategies;
    const struct gossip *g = agent_gossip_core(ag);
    if (!agent_gossip_records_changed(&hs->seen, g, SWARM_LEARN_RECORD_KEY))
        return;
    static struct swarm_learn_record rec; /* one loop thread; too big for the stack */
    for (uint32_t slot = 0; slot < gossip_member_slots(g); slot++) {
        const struct gossip_member *m = gossip_member_at(g, slot);
        const uint8_t *v;
        size_t len;
        uint64_t version;
        if (m == NULL || !m->used ||
            gossip_state_get(g, m->name, SWARM_LEARN_RECORD_KEY, &v, &len, &version) != 0)
            continue;
        int rc = swarm_learn_record_decode(v, len, &rec);
        if (rc != 0) {
            hs->records_bad++;
            PL_LOG_RATELIMITED(PL_LOG_WARN, MOD, "the strategies record of %s is refused: %s",
                               m->name, pl_err_name(rc));
            continue;
        }
        if (hs->taken != NULL && !swarm_learn_record_newer(&rec, hs->taken))
            continue;
        if (hs->taken == NULL && (hs->taken = malloc(sizeof(*hs->taken))) == NULL)
            return;
        *hs->taken = rec;
        snprintf(hs->taken_from, sizeof(hs->taken_from), "%s", m->name);
        PL_INFO(MOD, "learned first actions from the strategies record of %s: index %llu, "
                "%u signatures", m->name, (unsigned long long)rec.index, rec.n);
    }
}

void heal_learned_tick(struct heal *h)
{
    struct agent_gossip *ag = agent_module_state(h->a, "gossip");
    if (ag == NULL)
        return;
    const struct swarm_state *st = applied_state(h);
    if (st != NULL)
        publish(h, ag, st);
    else
        take(h, ag);
    /* Each service's table follows now, not only at its next input (GET /v1/services). */
    for (int i = 0; i < h->nsvcs; i++)
        heal_learned_for(&h->svcs[i]);
}

void heal_learned_free(struct heal *h)
{
    free(h->strategies.taken);
    h->strategies.taken = NULL;
    agent_gossip_seen_free(&h->strategies.seen);
}

cJSON *heal_learned_json(const struct heal_svc *s)
{
    const struct heal_strategies *hs = &s->h->strategies;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "enabled", s->cfg->policy.learning);
    cJSON_AddStringToObject(o, "source", !s->learned_set  ? "none"
                                         : s->learned_gossip ? "gossip"
                                                             : "applied");
    if (s->learned_set && s->learned_gossip)
        cJSON_AddStringToObject(o, "from", hs->taken_from);
    cJSON_AddNumberToObject(o, "index", s->learned_set ? (double)s->learned_index : 0);
    cJSON *list = cJSON_AddArrayToObject(o, "first_actions");
    for (uint32_t i = 0; list != NULL && i < s->learned.n; i++) {
        const struct heal_learned_entry *e = &s->learned.v[i];
        struct swarm_learn_key k = {.cls = e->cls, .cause = e->cause, .signal = e->signal,
                                    .feature = e->feature};
        snprintf(k.service, sizeof(k.service), "%s", s->cfg->name);
        char name[160];
        swarm_learn_key_name(&k, name, sizeof(name));
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "signature", name);
        cJSON_AddStringToObject(x, "action", heal_action_name(e->action));
        cJSON_AddItemToArray(list, x);
    }
    return o;
}
