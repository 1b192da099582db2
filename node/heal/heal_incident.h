/*
 * Incident records: one per anomaly, from "opened" through the diagnosis, each action and
 * its result, approvals and escalations, to "closed", every step with its time.
 *
 * The record is self-contained (node name, service, the diagnosis with its evidence, wall
 * times given by the caller) and msgpack-encoded canonically, so a later issue can propose
 * the same bytes to the Raft log unchanged. Encoding (version 1), a map:
 *
 *   v: 1, id: str, node: str, service: str, opened_ms: u64, closed_ms: u64 (0 = open),
 *   state: "open"|"waiting_approval"|"closed", level: u8 (escalation level reached, 0-5),
 *   outcome: "healed"|"failed"|"escalated"|"" ,
 *   diagnosis: {signal, class, cause, confidence, severity,
 *               signature: {class, cause, service}, summary,
 *               evidence: [{source, metric, value, threshold, detail}]},
 *   timeline: [{t_ms, kind, action, result, detail}], dropped: u32
 *
 * Names, not numbers, go on the wire for enums so a reader never needs our headers. The
 * timeline is bounded; what does not fit is counted in `dropped` (the last slot is kept for
 * "closed"). Pure; part of `heal_core`.
 */
#ifndef PL_HEAL_INCIDENT_H
#define PL_HEAL_INCIDENT_H

#include "pl_buf.h"
#include "heal_diag.h"

#include <stdint.h>

#define HEAL_INCIDENT_VERSION 1
#define HEAL_INCIDENT_ID_MAX 96
#define HEAL_NODE_NAME_MAX 64
#define HEAL_TIMELINE_MAX 48
/* A generous bound for one encoded record, used for buffers and decode limits. */
#define HEAL_INCIDENT_BYTES_MAX (64 * 1024)

enum heal_incident_state {
    HEAL_INC_OPEN = 0,
    HEAL_INC_WAITING_APPROVAL = 1,
    HEAL_INC_CLOSED = 2,
    HEAL_INC_STATE_COUNT
};

enum heal_event_kind {
    HEAL_EV_OPENED = 0,
    HEAL_EV_DIAGNOSED,
    HEAL_EV_ACTION,     /* an action started */
    HEAL_EV_RESULT,     /* an action ended (result 0 = done, else an error code) */
    HEAL_EV_BACKOFF,    /* the restart waits (crash-loop back-off or retry) */
    HEAL_EV_APPROVAL_WAIT,
    HEAL_EV_APPROVED,
    HEAL_EV_ESCALATED,
    HEAL_EV_HEALTHY,    /* the service is healthy again */
    HEAL_EV_CLOSED,
    HEAL_EV_NOTE,
    HEAL_EV_KIND_COUNT
};

/* The five escalation levels, from self-healing up to a human. */
enum heal_level {
    HEAL_LEVEL_NONE = 0,
    HEAL_LEVEL_SELF = 1,     /* the node healed it on its own; informational */
    HEAL_LEVEL_RETRY = 2,    /* the node is retrying under back-off */
    HEAL_LEVEL_SWARM = 3,    /* beyond this node: the healer should decide */
    HEAL_LEVEL_OPERATOR = 4, /* the on-call operator must look */
    HEAL_LEVEL_HUMAN = 5,    /* a human must decide (approval timed out, critical) */
    HEAL_LEVEL_COUNT
};

struct heal_event {
    uint64_t t_ms;
    enum heal_event_kind kind;
    enum heal_action action;
    int32_t result;
    char detail[HEAL_TEXT_MAX];
};

struct heal_incident {
    char id[HEAL_INCIDENT_ID_MAX];
    char node[HEAL_NODE_NAME_MAX];
    char service[HEAL_SERVICE_NAME_MAX];
    uint64_t opened_ms;
    uint64_t closed_ms;
    enum heal_incident_state state;
    enum heal_level level;
    char outcome[16];
    struct heal_diagnosis diag;
    uint32_t nevents;
    uint32_t dropped;
    struct heal_event events[HEAL_TIMELINE_MAX];
};

const char *heal_event_kind_name(enum heal_event_kind k);
const char *heal_incident_state_name(enum heal_incident_state s);
const char *heal_level_name(enum heal_level l);

/* Starts a record (state open, an "opened" event at opened_ms). Strings are copied and
 * must fit (PL_ETOOBIG otherwise, *inc untouched). */
int heal_incident_open(struct heal_incident *inc, const char *id, const char *node,
                       const char *service, uint64_t opened_ms);
/* Appends an event; when the timeline is full, counts it in `dropped` (a CLOSED event
 * always finds the last slot). */
void heal_incident_event(struct heal_incident *inc, uint64_t t_ms, enum heal_event_kind kind,
                         enum heal_action action, int32_t result, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Sets the diagnosis and appends a "diagnosed" event. */
void heal_incident_diagnosed(struct heal_incident *inc, uint64_t t_ms,
                             const struct heal_diagnosis *d);
/* The same, with the learning's facts (swarm_learn.h's SWARM_FACTS) as the event's result. */
void heal_incident_diagnosed_facts(struct heal_incident *inc, uint64_t t_ms,
                                   const struct heal_diagnosis *d, int32_t facts);
/* Closes with an outcome ("healed", "failed", "escalated"). */
void heal_incident_close(struct heal_incident *inc, uint64_t t_ms, const char *outcome);

/* Canonical msgpack into `out` (appended). 0 or the buffer's error. */
int heal_incident_encode(const struct heal_incident *inc, struct pl_buf *out);
/* Decodes a record; PL_EMALFORMED/PL_EVERSION for bad input, never trusting it. */
int heal_incident_decode(const uint8_t *p, size_t n, struct heal_incident *out);

#endif
