/*
 * JSON views of incident records (cJSON), shared by the local API (heal_api.c) and the
 * escalation webhooks (heal_agent.c), so both show a record the same way.
 */
#ifndef PL_HEAL_JSON_H
#define PL_HEAL_JSON_H

#include "heal_incident.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* The whole record: diagnosis, evidence, timeline. The caller owns the result. */
cJSON *heal_incident_json(const struct heal_incident *inc);
/* Adds key as an RFC 3339 time, or null for 0. */
void heal_json_add_time(cJSON *o, const char *key, uint64_t ms);

#endif
