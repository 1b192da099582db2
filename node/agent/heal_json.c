/*
 * JSON views of incident records, shared by the local API and the escalation webhooks.
 */
#include "heal_json.h"

#include "pl_err.h"
#include "pl_text.h"

void heal_json_add_time(cJSON *o, const char *key, uint64_t ms)
{
    if (ms == 0) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char t[25];
    pl_time_format_rfc3339(ms, t);
    cJSON_AddStringToObject(o, key, t);
}

cJSON *heal_incident_json(const struct heal_incident *inc)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", inc->id);
    cJSON_AddStringToObject(o, "node", inc->node);
    cJSON_AddStringToObject(o, "service", inc->service);
    cJSON_AddStringToObject(o, "state", heal_incident_state_name(inc->state));
    cJSON_AddStringToObject(o, "outcome", inc->outcome);
    cJSON_AddNumberToObject(o, "opened_ms", (double)inc->opened_ms);
    heal_json_add_time(o, "opened", inc->opened_ms);
    cJSON_AddNumberToObject(o, "closed_ms", (double)inc->closed_ms);
    heal_json_add_time(o, "closed", inc->closed_ms);
    cJSON_AddNumberToObject(o, "level", inc->level);
    cJSON_AddStringToObject(o, "level_name", heal_level_name(inc->level));
    const struct heal_diagnosis *d = &inc->diag;
    cJSON *dj = cJSON_AddObjectToObject(o, "diagnosis");
    cJSON_AddStringToObject(dj, "signal", heal_signal_name(d->signal));
    cJSON_AddStringToObject(dj, "class", heal_class_name(d->cls));
    cJSON_AddStringToObject(dj, "cause", heal_cause_name(d->cause));
    cJSON_AddNumberToObject(dj, "confidence", d->confidence);
    cJSON_AddNumberToObject(dj, "severity", d->severity);
    cJSON_AddStringToObject(dj, "summary", d->summary);
    cJSON *sig = cJSON_AddObjectToObject(dj, "signature");
    cJSON_AddStringToObject(sig, "class", heal_class_name(d->sig.cls));
    cJSON_AddStringToObject(sig, "cause", heal_cause_name(d->sig.cause));
    cJSON_AddStringToObject(sig, "service", d->sig.service);
    cJSON *ev = cJSON_AddArrayToObject(dj, "evidence");
    for (uint32_t i = 0; i < d->nevidence && i < HEAL_EVIDENCE_MAX; i++) {
        const struct heal_evidence *e = &d->evidence[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "source", e->source);
        cJSON_AddStringToObject(x, "metric", e->metric);
        cJSON_AddNumberToObject(x, "value", e->value);
        cJSON_AddNumberToObject(x, "threshold", e->threshold);
        cJSON_AddStringToObject(x, "detail", e->detail);
        cJSON_AddItemToArray(ev, x);
    }
    cJSON *tl = cJSON_AddArrayToObject(o, "timeline");
    for (uint32_t i = 0; i < inc->nevents && i < HEAL_TIMELINE_MAX; i++) {
        const struct heal_event *e = &inc->events[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "t_ms", (double)e->t_ms);
        heal_json_add_time(x, "time", e->t_ms);
        cJSON_AddStringToObject(x, "kind", heal_event_kind_name(e->kind));
        cJSON_AddStringToObject(x, "action", heal_action_name(e->action));
        cJSON_AddNumberToObject(x, "result", e->result);
        cJSON_AddStringToObject(x, "result_name", e->result ? pl_err_name(e->result) : "ok");
        cJSON_AddStringToObject(x, "detail", e->detail);
        cJSON_AddItemToArray(tl, x);
    }
    cJSON_AddNumberToObject(o, "dropped_events", inc->dropped);
    return o;
}
