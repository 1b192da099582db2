/*
 * GET /v1/metrics: the agent's state in the Prometheus text format (prom_write.h), for a
 * scrape with a `read` token (or on the Unix socket). Each module writes its own families
 * (agent_gossip_metrics, agent_raft_metrics, heal_metrics); this file adds the agent's and
 * serves them. Names follow Prometheus' conventions: a `platelet_` prefix, the unit spelled
 * out last (`_seconds`, `_bytes`), `_total` on counters only. deploy/grafana/platelet.json
 * charts them.
 */
#ifndef PL_AGENT_METRICS_H
#define PL_AGENT_METRICS_H

#include "agent.h"

/* Adds the route. */
void agent_metrics_register(struct agent *a);

#endif
