/*
 * The healing module's local API and its JSON views:
 *
 *   GET  /v1/services             each service's state, health, last check results, metrics
 *   GET  /v1/incidents[?open=1]   incident records, newest last
 *   GET  /v1/incidents/ID         one record with its timeline
 *   POST /v1/incidents/ID/approve  lets an action waiting for approval go ahead
 *   POST /v1/services/NAME/stop    an operator stops a service: no healing until ...
 *   POST /v1/services/NAME/start   ... it is started again
 */
#include "heal_agent.h"
#include "heal_json.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_text.h"

#include <stdlib.h>
#include <string.h>

#define INCIDENTS_LIST_MAX 1000

static cJSON *heal_svc_json(const struct heal_svc *s)
{
    static const char *const types[] = {"http", "tcp", "exec"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->cfg->name);
    cJSON_AddStringToObject(o, "type", s->cfg->supervised ? "supervised" : "external");
    const struct heal_case *mc = &s->mc;
    cJSON_AddStringToObject(o, "process", s->cfg->supervised ? heal_proc_name(mc->proc) : "external");
    cJSON_AddStringToObject(o, "healing", heal_phase_name(mc->phase));
    cJSON_AddNumberToObject(o, "pid", s->pid);
    cJSON_AddBoolToObject(o, "healthy", mc->healthy);
    cJSON_AddNumberToObject(o, "starts", (double)mc->start_count);
    cJSON_AddNumberToObject(o, "restarts_in_window",
                            heal_budget_in_window(&mc->budget, &s->cfg->policy, heal_now(s->h)));
    cJSON_AddBoolToObject(o, "crash_loop", mc->budget.backoff_step > 0);
    cJSON_AddNumberToObject(o, "last_exit_status", (double)s->last_exit_status);
    cJSON_AddNumberToObject(o, "last_term_signal", s->last_term_signal);
    cJSON_AddNumberToObject(o, "incidents", mc->incidents_opened);
    cJSON_AddBoolToObject(o, "acting", mc->phase == HEAL_PHASE_ACTING);
    if (heal_case_incident(mc) != NULL)
        cJSON_AddStringToObject(o, "open_incident", heal_case_incident(mc)->id);
    else
        cJSON_AddNullToObject(o, "open_incident");
    cJSON_AddItemToObject(o, "learning", heal_learned_json(s));
    cJSON *checks = cJSON_AddArrayToObject(o, "checks");
    for (int i = 0; i < s->nchecks; i++) {
        const struct heal_check_rt *c = &s->checks[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "type", types[c->cfg->type]);
        cJSON_AddBoolToObject(x, "healthy", mc->checks[i].healthy);
        if (c->ever_ran)
            cJSON_AddBoolToObject(x, "last_ok", c->last_ok);
        else
            cJSON_AddNullToObject(x, "last_ok");
        heal_json_add_time(x, "last_time", c->last_t_wall_ms);
        cJSON_AddNumberToObject(x, "last_elapsed_ms", (double)c->last_elapsed_ms);
        cJSON_AddStringToObject(x, "last_detail", c->last_detail);
        cJSON_AddNumberToObject(x, "consecutive_failures", mc->checks[i].consecutive_failures);
        cJSON_AddItemToArray(checks, x);
    }
    cJSON *m = cJSON_AddObjectToObject(o, "metrics");
    if (s->cpu >= 0)
        cJSON_AddNumberToObject(m, "cpu", s->cpu);
    else
        cJSON_AddNullToObject(m, "cpu");
    cJSON_AddNumberToObject(m, "rss_bytes", (double)s->rss_bytes);
    if (s->cfg->metrics.enabled) {
        if (s->metrics.last_error_rate >= 0)
            cJSON_AddNumberToObject(m, "error_rate", s->metrics.last_error_rate);
        else
            cJSON_AddNullToObject(m, "error_rate");
        if (s->metrics.last_p95_ms >= 0)
            cJSON_AddNumberToObject(m, "p95_ms", s->metrics.last_p95_ms);
        else
            cJSON_AddNullToObject(m, "p95_ms");
        cJSON_AddNumberToObject(m, "p95_baseline_ms", s->metrics.latency.baseline_ms);
        cJSON_AddNumberToObject(m, "requests_total", s->metrics.last_requests);
        cJSON_AddNumberToObject(m, "errors_total", s->metrics.last_errors);
        cJSON_AddStringToObject(m, "scrape_error", s->metrics.last_error);
    }
    if (s->cfg->disk_path[0]) {
        cJSON *dk = cJSON_AddObjectToObject(o, "disk");
        cJSON_AddStringToObject(dk, "path", s->cfg->disk_path);
        cJSON_AddNumberToObject(dk, "used_bytes", (double)s->disk_used);
        cJSON_AddNumberToObject(dk, "total_bytes", (double)s->disk_total);
    }
    if (s->cfg->config_file[0]) {
        cJSON *cf = cJSON_AddObjectToObject(o, "config_file");
        cJSON_AddStringToObject(cf, "path", s->cfg->config_file);
        cJSON_AddStringToObject(cf, "known_good_sha256", s->good_hash);
        cJSON_AddBoolToObject(cf, "drifted", s->drifted);
    }
    return o;
}

static void api_services(struct api_call *call, void *data)
{
    struct heal *h = data;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "node", h->a->cfg.name);
    cJSON_AddNumberToObject(doc, "children", h->cmds_running);
    cJSON *host = cJSON_AddObjectToObject(doc, "host");
    if (h->host_cpu >= 0)
        cJSON_AddNumberToObject(host, "cpu", h->host_cpu);
    else
        cJSON_AddNullToObject(host, "cpu");
    if (h->host_mem >= 0)
        cJSON_AddNumberToObject(host, "memory", h->host_mem);
    else
        cJSON_AddNullToObject(host, "memory");
    cJSON *arr = cJSON_AddArrayToObject(doc, "services");
    for (int i = 0; i < h->nsvcs; i++)
        cJSON_AddItemToArray(arr, heal_svc_json(&h->svcs[i]));
    api_reply_json(call, 200, doc);
}

static void api_service_control(struct api_call *call, void *data)
{
    struct heal *h = data;
    const char *tail = api_path_tail(call, "/v1/services/*");
    const char *slash = strrchr(tail, '/');
    char name[sizeof(((struct heal_service_cfg *)0)->name)];
    size_t n = slash ? (size_t)(slash - tail) : 0;
    bool stop = slash != NULL && strcmp(slash, "/stop") == 0;
    if (n == 0 || n >= sizeof(name) || (!stop && (slash == NULL || strcmp(slash, "/start") != 0))) {
        api_reply_error(call, 404, "expected POST /v1/services/NAME/stop or /start");
        return;
    }
    memcpy(name, tail, n);
    name[n] = '\0';
    char err[160];
    int rc = heal_service_control(h, name, stop, err, sizeof(err));
    if (rc != 0) {
        api_reply_error(call, rc == PL_ENOTFOUND ? 404 : 409, "%s", err);
        return;
    }
    for (int i = 0; i < h->nsvcs; i++)
        if (strcmp(h->svcs[i].cfg->name, name) == 0) {
            api_reply_json(call, 200, heal_svc_json(&h->svcs[i]));
            return;
        }
}

static bool query_flag(const char *query, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = query; p != NULL && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, key, n) == 0 && (p[n] == '\0' || p[n] == '&'))
            return true;
        if (strncmp(p, key, n) == 0 && p[n] == '=')
            return p[n + 1] == '1' || p[n + 1] == 't' || p[n + 1] == 'y';
    }
    return false;
}

static void api_incidents(struct api_call *call, void *data)
{
    struct heal *h = data;
    bool only_open = query_flag(call->req->query, "open");
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "incidents");
    int n = 0;
    if (only_open) {
        /* The open ones are in memory, one at most per service: no scan of the store. */
        for (int i = 0; i < h->nsvcs; i++) {
            const struct heal_incident *inc = heal_case_incident(&h->svcs[i].mc);
            if (inc != NULL) {
                cJSON_AddItemToArray(arr, heal_incident_json(inc));
                n++;
            }
        }
    } else if (h->store != NULL) {
        static struct heal_incident inc;
        bool listed[HEAL_SERVICES_MAX] = {false};
        struct pl_store_iter it;
        pl_store_iter_init(h->store, &it, PL_CF_INCIDENTS);
        /* Newest first while collecting, so the bound keeps the recent ones. */
        for (pl_store_iter_seek_last(&it); pl_store_iter_valid(&it) && n < INCIDENTS_LIST_MAX;
             pl_store_iter_prev(&it)) {
            size_t len;
            const uint8_t *v = pl_store_iter_value(&it, &len);
            if (heal_incident_decode(v, len, &inc) != 0)
                continue;
            /* A record still queued in the incident writer is newer in memory than on
             * disk: show what the machine holds, as /v1/services does. */
            const struct heal_incident *shown = &inc;
            for (int i = 0; i < h->nsvcs; i++) {
                const struct heal_incident *mem = heal_case_last_incident(&h->svcs[i].mc);
                if (mem != NULL && strcmp(mem->id, inc.id) == 0) {
                    shown = mem;
                    listed[i] = true;
                }
            }
            cJSON_InsertItemInArray(arr, 0, heal_incident_json(shown));
            n++;
        }
        pl_store_iter_close(&it);
        /* One opened so recently that its first write is still queued. */
        for (int i = 0; i < h->nsvcs && n < INCIDENTS_LIST_MAX; i++) {
            const struct heal_incident *mem = heal_case_last_incident(&h->svcs[i].mc);
            if (mem != NULL && !listed[i]) {
                cJSON_AddItemToArray(arr, heal_incident_json(mem));
                n++;
            }
        }
    }
    cJSON_AddNumberToObject(doc, "count", n);
    api_reply_json(call, 200, doc);
}

static void api_incident(struct api_call *call, void *data)
{
    struct heal *h = data;
    const char *tail = api_path_tail(call, "/v1/incidents/*");
    char id[HEAL_INCIDENT_ID_MAX];
    const char *slash = strchr(tail, '/');
    size_t n = slash ? (size_t)(slash - tail) : strlen(tail);
    if (n == 0 || n >= sizeof(id)) {
        api_reply_error(call, 400, "expected /v1/incidents/ID");
        return;
    }
    memcpy(id, tail, n);
    id[n] = '\0';
    if (strcmp(call->req->method, "POST") == 0) {
        if (slash == NULL || strcmp(slash, "/approve") != 0) {
            api_reply_error(call, 404, "expected POST /v1/incidents/ID/approve");
            return;
        }
        char err[256];
        int rc = heal_approve(h, id, err, sizeof(err));
        if (rc != 0) {
            api_reply_error(call, rc == PL_ENOTFOUND ? 404 : 409, "%s", err);
            return;
        }
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "id", id);
        cJSON_AddBoolToObject(doc, "approved", 1);
        api_reply_json(call, 200, doc);
        return;
    }
    if (slash != NULL) {
        api_reply_error(call, 404, "expected /v1/incidents/ID");
        return;
    }
    static struct heal_incident inc;
    int rc = heal_incident_load(h, id, &inc);
    if (rc != 0) {
        api_reply_error(call, rc == PL_ENOTFOUND ? 404 : 500, "incident %s: %s", id,
                        rc == PL_ENOTFOUND ? "not found" : pl_strerror(rc));
        return;
    }
    api_reply_json(call, 200, heal_incident_json(&inc));
}

/* ---- metrics (GET /v1/metrics, agent_metrics.h) ---- */

static const char *const outcomes[HEAL_OUTCOMES_COUNTED] = {"healed", "recovered", "stopped",
                                                            "abandoned"};

void heal_stats_init(struct heal_stats *st)
{
    static const double bounds[] = {0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600};
    memset(st, 0, sizeof(*st));
    prom_hist_init(&st->time_to_heal, bounds, (int)PL_ARRAY_LEN(bounds));
}

void heal_stats_count(struct heal *h, const struct heal_incident *inc, uint32_t from)
{
    struct heal_stats *st = &h->stats;
    int cls = (unsigned)inc->diag.cls < HEAL_CLASS_COUNT ? (int)inc->diag.cls : 0;
    for (uint32_t i = from; i < inc->nevents && i < HEAL_TIMELINE_MAX; i++) {
        const struct heal_event *e = &inc->events[i];
        switch (e->kind) {
        case HEAL_EV_OPENED: st->opened[cls]++; break;
        case HEAL_EV_RESULT:
            if (e->action > HEAL_ACT_NONE && e->action < HEAL_ACT_COUNT)
                st->actions[e->action][e->result != 0]++;
            break;
        case HEAL_EV_CLOSED:
            for (int o = 0; o < HEAL_OUTCOMES_COUNTED; o++)
                if (strcmp(inc->outcome, outcomes[o]) == 0)
                    st->closed[cls][o]++;
            if (strcmp(inc->outcome, "healed") == 0 && inc->closed_ms >= inc->opened_ms)
                prom_hist_observe(&st->time_to_heal,
                                  (double)(inc->closed_ms - inc->opened_ms) / 1000.0);
            break;
        default: break;
        }
    }
}

void heal_metrics(struct heal *h, struct prom_writer *w)
{
    const struct heal_stats *st = &h->stats;
    char lab[256], name[2 * HEAL_SERVICE_NAME_MAX];
    uint64_t open[HEAL_CLASS_COUNT] = {0};
    prom_family(w, "platelet_heal_service_healthy", "gauge",
                "1 if the service passes its checks (or runs, without checks), else 0.");
    for (int i = 0; i < h->nsvcs; i++) {
        const struct heal_svc *s = &h->svcs[i];
        prom_label_escape(s->cfg->name, name, sizeof(name));
        snprintf(lab, sizeof(lab), "service=\"%s\"", name);
        prom_sample(w, "platelet_heal_service_healthy", lab, s->mc.healthy);
        const struct heal_incident *inc = heal_case_incident(&s->mc);
        if (inc != NULL && (unsigned)inc->diag.cls < HEAL_CLASS_COUNT)
            open[inc->diag.cls]++;
    }
    prom_family(w, "platelet_heal_service_starts_total", "counter",
                "Times the agent started the service's process.");
    for (int i = 0; i < h->nsvcs; i++) {
        const struct heal_svc *s = &h->svcs[i];
        prom_label_escape(s->cfg->name, name, sizeof(name));
        snprintf(lab, sizeof(lab), "service=\"%s\"", name);
        prom_sample(w, "platelet_heal_service_starts_total", lab, (double)s->mc.start_count);
    }
    /* Every class and action is written, zeros too, so a rate exists from the first scrape. */
    prom_family(w, "platelet_heal_incidents_open", "gauge", "Open incidents, by class.");
    for (int c = 0; c < HEAL_CLASS_COUNT; c++) {
        snprintf(lab, sizeof(lab), "class=\"%s\"", heal_class_name(c));
        prom_sample(w, "platelet_heal_incidents_open", lab, (double)open[c]);
    }
    prom_family(w, "platelet_heal_incidents_total", "counter", "Incidents opened, by class.");
    for (int c = 0; c < HEAL_CLASS_COUNT; c++) {
        snprintf(lab, sizeof(lab), "class=\"%s\"", heal_class_name(c));
        prom_sample(w, "platelet_heal_incidents_total", lab, (double)st->opened[c]);
    }
    prom_family(w, "platelet_heal_incidents_closed_total", "counter",
                "Incidents closed, by class and outcome.");
    for (int c = 0; c < HEAL_CLASS_COUNT; c++)
        for (int o = 0; o < HEAL_OUTCOMES_COUNTED; o++) {
            snprintf(lab, sizeof(lab), "class=\"%s\",outcome=\"%s\"", heal_class_name(c),
                     outcomes[o]);
            prom_sample(w, "platelet_heal_incidents_closed_total", lab, (double)st->closed[c][o]);
        }
    prom_family(w, "platelet_heal_actions_total", "counter",
                "Healing actions that ended, by action and result.");
    for (int a = HEAL_ACT_NONE + 1; a < HEAL_ACT_COUNT; a++)
        for (int r = 0; r < 2; r++) {
            snprintf(lab, sizeof(lab), "action=\"%s\",result=\"%s\"", heal_action_name(a),
                     r == 0 ? "done" : "failed");
            prom_sample(w, "platelet_heal_actions_total", lab, (double)st->actions[a][r]);
        }
    prom_family(w, "platelet_heal_time_to_heal_seconds", "histogram",
                "Time from an incident's opening to its close as healed.");
    prom_hist_write(w, "platelet_heal_time_to_heal_seconds", NULL, &st->time_to_heal);
    prom_metric(w, "platelet_heal_outbox_steps", "gauge",
                "Incident steps waiting in the outbox for the council to commit.",
                (double)h->outbox_count);
}

static int heal_start(struct agent *a, void **state, char *err, size_t err_size)
{
    int rc = heal_agent_start(a, state, err, err_size);
    if (rc != 0)
        return rc;
    struct heal *h = *state;
    struct api *api = &a->api;
    api_route_add(api, "GET", "/v1/services", api_services, h);
    api_route_add(api, "GET", "/v1/incidents", api_incidents, h);
    api_route_add(api, "GET", "/v1/incidents/*", api_incident, h);
    api_route_add(api, "POST", "/v1/incidents/*", api_incident, h);
    api_route_add(api, "POST", "/v1/services/*", api_service_control, h);
    return 0;
}

/* The module's table entry (agent.c): the shell's life plus these routes. */
const struct agent_module heal_module = {
    .name = "heal",
    .start = heal_start,
    .stop = heal_agent_stop,
    .free = heal_agent_free,
};
