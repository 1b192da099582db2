/*
 * The metrics route of agent_metrics.h.
 */
#include "agent_metrics.h"

#include "agent_gossip.h"
#include "agent_raft.h"
#include "heal_agent.h"
#include "pl_log.h"
#include "pl_err.h"
#include "prom_write.h"

#include <stdio.h>

/* Far above what a node writes (about 30 KB with a few services); a bound all the same. */
#define METRICS_BYTES_MAX (4u << 20)

static void agent_metrics_write(struct agent *a, struct prom_writer *w)
{
    char lab[192];
    snprintf(lab, sizeof(lab), "version=\"%s\"", PLATELET_VERSION);
    prom_family(w, "platelet_build_info", "gauge", "Always 1; the agent's version as a label.");
    prom_sample(w, "platelet_build_info", lab, 1);
    uint64_t up_ms = uv_now(&a->loop) - a->started_ms;
    prom_metric(w, "platelet_agent_start_time_seconds", "gauge",
                "When the agent started, in seconds since the Unix epoch.",
                (double)(pl_clock_wall_ms() - up_ms) / 1000.0);
    prom_metric(w, "platelet_api_connections", "gauge", "Open connections to the local API.",
                a->api.http.nconns);
    prom_family(w, "platelet_api_refused_requests_total", "counter",
                "API requests refused, by reason.");
    prom_sample(w, "platelet_api_refused_requests_total", "reason=\"auth\"",
                (double)a->api.refused_auth);
    prom_sample(w, "platelet_api_refused_requests_total", "reason=\"origin\"",
                (double)a->api.refused_origin);
    prom_family(w, "platelet_fault_injected_total", "counter",
                "Messages the fault table dropped, delayed or duplicated (tests and drills).");
    prom_sample(w, "platelet_fault_injected_total", "effect=\"dropped\"", (double)a->faults.dropped);
    prom_sample(w, "platelet_fault_injected_total", "effect=\"delayed\"", (double)a->faults.delayed);
    prom_sample(w, "platelet_fault_injected_total", "effect=\"duplicated\"",
                (double)a->faults.duplicated);
}

static void api_metrics(struct api_call *call, void *data)
{
    struct agent *a = data;
    struct prom_writer w;
    prom_writer_init(&w, METRICS_BYTES_MAX);
    agent_metrics_write(a, &w);
    struct agent_gossip *ag = agent_module_state(a, "gossip");
    if (ag != NULL)
        agent_gossip_metrics(ag, &w);
    struct agent_raft *ar = agent_module_state(a, "raft");
    if (ar != NULL)
        agent_raft_metrics(ar, &w);
    struct heal *h = agent_module_state(a, "heal");
    if (h != NULL)
        heal_metrics(h, &w);
    if (w.err != 0)
        api_reply_error(call, 500, "metrics: %s", pl_strerror(w.err));
    else
        http_respond(call->conn, 200, PROM_CONTENT_TYPE, w.buf.data, w.buf.len);
    prom_writer_close(&w);
}

void agent_metrics_register(struct agent *a)
{
    api_route_add(&a->api, "GET", "/v1/metrics", api_metrics, a);
}
