/*
 * The learned table and signature names (swarm_learn_heal.h).
 */
#include "swarm_learn_heal.h"

#include "heal_diag.h"

#include <stdio.h>
#include <string.h>

void swarm_learn_table(const struct swarm_learn *l, const char *service, struct heal_learned *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < l->nsigs && out->n < HEAL_LEARNED_MAX; i++) {
        const struct swarm_learn_sig *s = &l->sigs[i];
        if (s->choice == 0 || strcmp(s->key.service, service) != 0)
            continue;
        struct heal_learned_entry *e = &out->v[out->n++];
        e->cls = s->key.cls;
        e->cause = s->key.cause;
        e->signal = s->key.signal;
        e->feature = s->key.feature;
        e->action = (enum heal_action)s->choice;
    }
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
