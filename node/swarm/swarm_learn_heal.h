/*
 * Between the swarm's learning (swarm_learn.h, which knows heal numbers only as numbers)
 * and the healing machine (heal_machine.h): the learned table a service's machine takes,
 * and a signature's name for people ("web/service_failure/none/check/check_status").
 * Pure; links swarm_core and heal_core.
 */
#ifndef PL_SWARM_LEARN_HEAL_H
#define PL_SWARM_LEARN_HEAL_H

#include "heal_machine.h"
#include "swarm.h"
#include "swarm_learn.h"
#include "swarm_learn_record.h"

#include <stddef.h>

/* The learned first actions for `service` (every signature with a choice). */
void swarm_learn_table(const struct swarm_learn *l, const char *service, struct heal_learned *out);
/* The same from a gossiped "strategies" record (a member that is not a voter). */
void swarm_learn_record_table(const struct swarm_learn_record *r, const char *service,
                              struct heal_learned *out);

/* Event i of a node's incident record as a swarm `incident` step. Its seq is its place in
 * the timeline; a close that took the full timeline's last slot counts the dropped events
 * before it. */
void swarm_incident_step_of(const struct heal_incident *inc, uint32_t i,
                            struct swarm_incident_event *b);

/* "service/class/cause/signal/feature" into buf (truncated to fit). */
void swarm_learn_key_name(const struct swarm_learn_key *k, char *buf, size_t size);

#endif
