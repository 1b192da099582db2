/*
 * Incident records of heal_incident.h: building the timeline and the msgpack codec.
 */
#include "heal_incident.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_mp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[HEAL_EV_KIND_COUNT] = {
    "opened",        "diagnosed", "action",    "result",  "backoff", "approval_wait",
    "approved",      "escalated", "healthy",   "closed",  "note",
};
static const char *const state_names[HEAL_INC_STATE_COUNT] = {"open", "waiting_approval",
                                                              "closed"};
static const char *const level_names[HEAL_LEVEL_COUNT] = {"none",  "self_healing", "retry",
                                                          "swarm", "operator",     "human"};

const char *heal_event_kind_name(enum heal_event_kind k)
{
    return (unsigned)k < HEAL_EV_KIND_COUNT ? kind_names[k] : "note";
}
const char *heal_incident_state_name(enum heal_incident_state s)
{
    return (unsigned)s < HEAL_INC_STATE_COUNT ? state_names[s] : "open";
}
const char *heal_level_name(enum heal_level l)
{
    return (unsigned)l < HEAL_LEVEL_COUNT ? level_names[l] : "none";
}

static int name_find(const char *const *names, int n, const char *p, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], p, len) == 0)
            return i;
    return -1;
}

int heal_incident_open(struct heal_incident *inc, const char *id, const char *node,
                       const char *service, uint64_t opened_ms)
{
    if (strlen(id) >= sizeof(inc->id) || strlen(node) >= sizeof(inc->node) ||
        strlen(service) >= sizeof(inc->service))
        return PL_ETOOBIG;
    memset(inc, 0, sizeof(*inc));
    memcpy(inc->id, id, strlen(id) + 1);
    memcpy(inc->node, node, strlen(node) + 1);
    memcpy(inc->service, service, strlen(service) + 1);
    inc->opened_ms = opened_ms;
    inc->state = HEAL_INC_OPEN;
    heal_incident_event(inc, opened_ms, HEAL_EV_OPENED, HEAL_ACT_NONE, 0, "%s", "");
    return 0;
}

void heal_incident_event(struct heal_incident *inc, uint64_t t_ms, enum heal_event_kind kind,
                         enum heal_action action, int32_t result, const char *fmt, ...)
{
    /* The last slot is reserved for CLOSED so every record shows how it ended. */
    uint32_t limit = kind == HEAL_EV_CLOSED ? HEAL_TIMELINE_MAX : HEAL_TIMELINE_MAX - 1;
    if (inc->nevents >= limit) {
        inc->dropped++;
        return;
    }
    struct heal_event *e = &inc->events[inc->nevents++];
    memset(e, 0, sizeof(*e));
    e->t_ms = t_ms;
    e->kind = kind;
    e->action = action;
    e->result = result;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
}

void heal_incident_diagnosed(struct heal_incident *inc, uint64_t t_ms,
                             const struct heal_diagnosis *d)
{
    heal_incident_diagnosed_facts(inc, t_ms, d, 0);
}

void heal_incident_diagnosed_facts(struct heal_incident *inc, uint64_t t_ms,
                                   const struct heal_diagnosis *d, int32_t facts)
{
    inc->diag = *d;
    heal_incident_event(inc, t_ms, HEAL_EV_DIAGNOSED, HEAL_ACT_NONE, facts, "%s", d->summary);
}

void heal_incident_close(struct heal_incident *inc, uint64_t t_ms, const char *outcome)
{
    PL_ASSERT(inc->state != HEAL_INC_CLOSED);
    inc->state = HEAL_INC_CLOSED;
    inc->closed_ms = t_ms;
    snprintf(inc->outcome, sizeof(inc->outcome), "%s", outcome);
    heal_incident_event(inc, t_ms, HEAL_EV_CLOSED, HEAL_ACT_NONE, 0, "%s", outcome);
}

/* ---- encoding ---- */

static void encode_evidence(struct pl_mp_writer *w, const struct heal_evidence *e)
{
    pl_mp_map(w, 5);
    pl_mp_str(w, "source");
    pl_mp_str(w, e->source);
    pl_mp_str(w, "metric");
    pl_mp_str(w, e->metric);
    pl_mp_str(w, "value");
    pl_mp_double(w, isfinite(e->value) ? e->value : 0);
    pl_mp_str(w, "threshold");
    pl_mp_double(w, isfinite(e->threshold) ? e->threshold : 0);
    pl_mp_str(w, "detail");
    pl_mp_str(w, e->detail);
}

static void encode_diag(struct pl_mp_writer *w, const struct heal_diagnosis *d)
{
    pl_mp_map(w, 8);
    pl_mp_str(w, "signal");
    pl_mp_str(w, heal_signal_name(d->signal));
    pl_mp_str(w, "class");
    pl_mp_str(w, heal_class_name(d->cls));
    pl_mp_str(w, "cause");
    pl_mp_str(w, heal_cause_name(d->cause));
    pl_mp_str(w, "confidence");
    pl_mp_double(w, d->confidence);
    pl_mp_str(w, "severity");
    pl_mp_uint(w, d->severity);
    pl_mp_str(w, "signature");
    pl_mp_map(w, 3);
    pl_mp_str(w, "class");
    pl_mp_str(w, heal_class_name(d->sig.cls));
    pl_mp_str(w, "cause");
    pl_mp_str(w, heal_cause_name(d->sig.cause));
    pl_mp_str(w, "service");
    pl_mp_str(w, d->sig.service);
    pl_mp_str(w, "summary");
    pl_mp_str(w, d->summary);
    pl_mp_str(w, "evidence");
    uint32_t n = PL_MIN(d->nevidence, (uint32_t)HEAL_EVIDENCE_MAX);
    pl_mp_array(w, n);
    for (uint32_t i = 0; i < n; i++)
        encode_evidence(w, &d->evidence[i]);
}

int heal_incident_encode(const struct heal_incident *inc, struct pl_buf *out)
{
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    pl_mp_map(&w, 12);
    pl_mp_str(&w, "v");
    pl_mp_uint(&w, HEAL_INCIDENT_VERSION);
    pl_mp_str(&w, "id");
    pl_mp_str(&w, inc->id);
    pl_mp_str(&w, "node");
    pl_mp_str(&w, inc->node);
    pl_mp_str(&w, "service");
    pl_mp_str(&w, inc->service);
    pl_mp_str(&w, "opened_ms");
    pl_mp_uint(&w, inc->opened_ms);
    pl_mp_str(&w, "closed_ms");
    pl_mp_uint(&w, inc->closed_ms);
    pl_mp_str(&w, "state");
    pl_mp_str(&w, heal_incident_state_name(inc->state));
    pl_mp_str(&w, "level");
    pl_mp_uint(&w, inc->level);
    pl_mp_str(&w, "outcome");
    pl_mp_str(&w, inc->outcome);
    pl_mp_str(&w, "diagnosis");
    encode_diag(&w, &inc->diag);
    pl_mp_str(&w, "timeline");
    uint32_t n = PL_MIN(inc->nevents, (uint32_t)HEAL_TIMELINE_MAX);
    pl_mp_array(&w, n);
    for (uint32_t i = 0; i < n; i++) {
        const struct heal_event *e = &inc->events[i];
        pl_mp_map(&w, 5);
        pl_mp_str(&w, "t_ms");
        pl_mp_uint(&w, e->t_ms);
        pl_mp_str(&w, "kind");
        pl_mp_str(&w, heal_event_kind_name(e->kind));
        pl_mp_str(&w, "action");
        pl_mp_str(&w, heal_action_name(e->action));
        pl_mp_str(&w, "result");
        pl_mp_int(&w, e->result);
        pl_mp_str(&w, "detail");
        pl_mp_str(&w, e->detail);
    }
    pl_mp_str(&w, "dropped");
    pl_mp_uint(&w, inc->dropped);
    return w.err;
}

/* ---- decoding ---- */

static int get_enum(const msgpack_object *map, const char *key, const char *const *names, int n,
                    int *out)
{
    const char *p;
    size_t len;
    int rc = pl_mp_get_str(map, key, &p, &len);
    if (rc != 0)
        return rc;
    int i = name_find(names, n, p, len);
    if (i < 0)
        return PL_EMALFORMED;
    *out = i;
    return 0;
}

static int get_action(const msgpack_object *map, const char *key, enum heal_action *out)
{
    const char *p;
    size_t len;
    int rc = pl_mp_get_str(map, key, &p, &len);
    if (rc != 0)
        return rc;
    for (int i = 0; i < HEAL_ACT_COUNT; i++) {
        const char *name = heal_action_name((enum heal_action)i);
        if (strlen(name) == len && memcmp(name, p, len) == 0) {
            *out = (enum heal_action)i;
            return 0;
        }
    }
    return PL_EMALFORMED;
}

static int get_named(const msgpack_object *map, const char *key, const char *(*name)(int),
                     int count, int *out)
{
    const char *p;
    size_t len;
    int rc = pl_mp_get_str(map, key, &p, &len);
    if (rc != 0)
        return rc;
    for (int i = 0; i < count; i++) {
        const char *s = name(i);
        if (strlen(s) == len && memcmp(s, p, len) == 0) {
            *out = i;
            return 0;
        }
    }
    return PL_EMALFORMED;
}

static const char *class_name_i(int i)
{
    return heal_class_name((enum heal_class)i);
}
static const char *cause_name_i(int i)
{
    return heal_cause_name((enum heal_cause)i);
}
static const char *signal_name_i(int i)
{
    return heal_signal_name((enum heal_signal_kind)i);
}

static int decode_diag(const msgpack_object *m, struct heal_diagnosis *d)
{
    int v, rc;
    uint64_t u;
    if ((rc = get_named(m, "signal", signal_name_i, HEAL_SIG_COUNT, &v)) != 0)
        return rc;
    d->signal = (enum heal_signal_kind)v;
    if ((rc = get_named(m, "class", class_name_i, HEAL_CLASS_COUNT, &v)) != 0)
        return rc;
    d->cls = (enum heal_class)v;
    if ((rc = get_named(m, "cause", cause_name_i, HEAL_CAUSE_COUNT, &v)) != 0)
        return rc;
    d->cause = (enum heal_cause)v;
    if ((rc = pl_mp_get_f64(m, "confidence", &d->confidence)) != 0)
        return rc;
    if (!(d->confidence >= 0 && d->confidence <= 1))
        return PL_EMALFORMED;
    if ((rc = pl_mp_get_u64(m, "severity", &u)) != 0)
        return rc;
    if (u > 5)
        return PL_EMALFORMED;
    d->severity = (uint8_t)u;
    const msgpack_object *sig = pl_mp_get(m, "signature");
    if (sig == NULL || sig->type != MSGPACK_OBJECT_MAP)
        return PL_EMALFORMED;
    if ((rc = get_named(sig, "class", class_name_i, HEAL_CLASS_COUNT, &v)) != 0)
        return rc;
    d->sig.cls = (enum heal_class)v;
    if ((rc = get_named(sig, "cause", cause_name_i, HEAL_CAUSE_COUNT, &v)) != 0)
        return rc;
    d->sig.cause = (enum heal_cause)v;
    if ((rc = pl_mp_get_cstr(sig, "service", d->sig.service, sizeof(d->sig.service))) != 0)
        return rc;
    if ((rc = pl_mp_get_cstr(m, "summary", d->summary, sizeof(d->summary))) != 0)
        return rc;
    const msgpack_object *ev = pl_mp_get(m, "evidence");
    if (ev == NULL || ev->type != MSGPACK_OBJECT_ARRAY || ev->via.array.size > HEAL_EVIDENCE_MAX)
        return PL_EMALFORMED;
    d->nevidence = ev->via.array.size;
    for (uint32_t i = 0; i < d->nevidence; i++) {
        const msgpack_object *e = &ev->via.array.ptr[i];
        struct heal_evidence *x = &d->evidence[i];
        if ((rc = pl_mp_get_cstr(e, "source", x->source, sizeof(x->source))) != 0 ||
            (rc = pl_mp_get_cstr(e, "metric", x->metric, sizeof(x->metric))) != 0 ||
            (rc = pl_mp_get_f64(e, "value", &x->value)) != 0 ||
            (rc = pl_mp_get_f64(e, "threshold", &x->threshold)) != 0 ||
            (rc = pl_mp_get_cstr(e, "detail", x->detail, sizeof(x->detail))) != 0)
            return rc == PL_ETOOBIG ? PL_EMALFORMED : rc;
    }
    return 0;
}

int heal_incident_decode(const uint8_t *p, size_t n, struct heal_incident *out)
{
    if (n > HEAL_INCIDENT_BYTES_MAX)
        return PL_ETOOBIG;
    /* Records come from disk (and later from the Raft log); pl_mp_parse checks the claimed
     * sizes before msgpack-c allocates for them. */
    msgpack_unpacked u;
    int rc = pl_mp_parse(p, n, &u);
    if (rc != 0)
        return rc;
    static struct heal_incident zero;
    struct heal_incident inc = zero;
    const msgpack_object *m = &u.data;
    uint64_t ver, level, dropped;
    int st;
    if (m->type != MSGPACK_OBJECT_MAP) {
        rc = PL_EMALFORMED;
        goto fail;
    }
    if ((rc = pl_mp_get_u64(m, "v", &ver)) != 0)
        goto fail;
    if (ver != HEAL_INCIDENT_VERSION) {
        rc = PL_EVERSION;
        goto fail;
    }
    if ((rc = pl_mp_get_cstr(m, "id", inc.id, sizeof(inc.id))) != 0 ||
        (rc = pl_mp_get_cstr(m, "node", inc.node, sizeof(inc.node))) != 0 ||
        (rc = pl_mp_get_cstr(m, "service", inc.service, sizeof(inc.service))) != 0 ||
        (rc = pl_mp_get_u64(m, "opened_ms", &inc.opened_ms)) != 0 ||
        (rc = pl_mp_get_u64(m, "closed_ms", &inc.closed_ms)) != 0 ||
        (rc = get_enum(m, "state", state_names, HEAL_INC_STATE_COUNT, &st)) != 0 ||
        (rc = pl_mp_get_u64(m, "level", &level)) != 0 ||
        (rc = pl_mp_get_cstr(m, "outcome", inc.outcome, sizeof(inc.outcome))) != 0 ||
        (rc = pl_mp_get_u64(m, "dropped", &dropped)) != 0)
        goto fail;
    if (level >= HEAL_LEVEL_COUNT || dropped > UINT32_MAX) {
        rc = PL_EMALFORMED;
        goto fail;
    }
    inc.state = (enum heal_incident_state)st;
    inc.level = (enum heal_level)level;
    inc.dropped = (uint32_t)dropped;
    const msgpack_object *d = pl_mp_get(m, "diagnosis");
    if (d == NULL || d->type != MSGPACK_OBJECT_MAP) {
        rc = PL_EMALFORMED;
        goto fail;
    }
    if ((rc = decode_diag(d, &inc.diag)) != 0)
        goto fail;
    const msgpack_object *tl = pl_mp_get(m, "timeline");
    if (tl == NULL || tl->type != MSGPACK_OBJECT_ARRAY || tl->via.array.size > HEAL_TIMELINE_MAX) {
        rc = PL_EMALFORMED;
        goto fail;
    }
    inc.nevents = tl->via.array.size;
    for (uint32_t i = 0; i < inc.nevents; i++) {
        const msgpack_object *e = &tl->via.array.ptr[i];
        struct heal_event *x = &inc.events[i];
        int k;
        int64_t res;
        if ((rc = pl_mp_get_u64(e, "t_ms", &x->t_ms)) != 0 ||
            (rc = get_enum(e, "kind", kind_names, HEAL_EV_KIND_COUNT, &k)) != 0 ||
            (rc = get_action(e, "action", &x->action)) != 0 ||
            (rc = pl_mp_get_i64(e, "result", &res)) != 0 ||
            (rc = pl_mp_get_cstr(e, "detail", x->detail, sizeof(x->detail))) != 0)
            goto fail;
        if (res < INT32_MIN || res > INT32_MAX) {
            rc = PL_EMALFORMED;
            goto fail;
        }
        x->kind = (enum heal_event_kind)k;
        x->result = (int32_t)res;
    }
    msgpack_unpacked_destroy(&u);
    *out = inc;
    return 0;

fail:
    msgpack_unpacked_destroy(&u);
    return rc == PL_ETOOBIG ? PL_EMALFORMED : rc;
}
