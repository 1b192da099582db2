/*
 * `platelet chaos` (chaos_run.c): runs a scenario (chaos_scenario.h) against a cluster of
 * agents it starts on loopback, with a workload, the nemeses and the checkers, and writes a
 * report as JSON and as a self-contained HTML page (chaos_html.c).
 */
#ifndef PL_CHAOS_H
#define PL_CHAOS_H

#include <cjson/cJSON.h>
#include <stdio.h>

/* The report's page: verdicts at the top, then a timeline (inline SVG) of the nemeses
 * shaded over the workload's latency and errors, the leaders and each node's incidents,
 * then the healing table beside Kubernetes' and systemd's defaults. Nothing is fetched. */
int chaos_html_write(const cJSON *report, FILE *out);

#endif
