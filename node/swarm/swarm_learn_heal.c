/*
 * The learned table and signature names (swarm_learn_heal.h).
 */
#include "swarm_learn_heal.h"

#include "heal_diag.h"

#include <stdio.h>
#include <string.h>

/* One signature's learned first action, when it is for `service` and there is room. */
static void table_add(struct heal_learned *out, const char *service,
                      const struct swarm_learn_key *k, uint8_t action)
{
    if (action == 0 || out->n >= HEAL_LEARNED_MAX || strcmp(k->service, service) != 0)
        return;
    struct heal_learned_entry *e = &out->v[out->n++];
    e->cls = k->cls;
    e->cause = k->cause;
    e->signal = k->signal;
    e->feature = k->feature;
    e->action = (enum heal_action)action;
}

void swarm_learn_table(const struct swarm_learn *l, const char *service, struct heal_learned *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < l->nsigs; i++)
        table_add(out, service, &l->sigs[i].key, l->sigs[i].choice);
}

void swarm_learn_record_table(const struct swarm_learn_record *r, const char *service,
                              struct heal_learned *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < r->n && i < SWARM_LEARN_RECORD_MAX; i++)
        table_add(out, service, &r->v[i].key, r->v[i].action);
}

void swarm_learn_key_name(const struct swarm_learn_key *k, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s/%s/%s/%s", k->service, heal_class_name((enum heal_class)k->cls),
             heal_cause_name((enum heal_cause)k->cause),
             heal_signal_name((enum heal_signal_kind)k->signal),
             heal_feature_name((enum heal_feature)k->feature));
}

void swarm_incident_step_of(const struct heal_incident *inc, uint32_t i,
                            struct swarm_incident_event *b)
{
    const struct heal_event *e = &inc->events[i];
    memset(b, 0, sizeof(*b));
    snprintf(b->node, sizeof(b->node), "%s", inc->node);
    snprintf(b->id, sizeof(b->id), "%s", inc->id);
    b->seq = e->kind == HEAL_EV_CLOSED ? i + inc->dropped : i;
    snprintf(b->service, sizeof(b->service), "%s", inc->service);
    b->event = (uint8_t)e->kind;
    b->action = (uint8_t)e->action;
    b->result = e->result;
    b->level = (uint8_t)inc->level;
    b->cls = (uint8_t)inc->diag.cls;
    b->cause = (uint8_t)inc->diag.cause;
    b->signal = (uint8_t)inc->diag.signal;
    if (e->kind == HEAL_EV_CLOSED)
        snprintf(b->outcome, sizeof(b->outcome), "%s", inc->outcome);
    b->t_ms = e->t_ms;
    snprintf(b->detail, sizeof(b->detail), "%s", e->detail);
}
