/*
 * The leader's "decisions" gossip record (swarm_actor.h): the pending decisions, for the
 * members that are not voters and so apply no state of their own.
 *
 *   {"term": T, "decisions": [{"id": I, "term": T, "node": N, "service": S, "op": O}, ...]}
 *
 * T is the leader's term when it wrote the record (the newest term's record wins), I a
 * decision's index, O its action (swarm.h). Parsing is strict: any other shape, a missing
 * or mistyped field, a number out of its range or a name too long is PL_EMALFORMED, and
 * nothing is used.
 */
#ifndef PL_SWARM_RECORD_H
#define PL_SWARM_RECORD_H

#include "swarm.h"

#include <stddef.h>
#include <stdint.h>

#define SWARM_RECORD_MAX 32
#define SWARM_RECORD_BYTES_MAX 16384

struct swarm_record {
    uint64_t term;
    uint32_t n;
    struct swarm_decision d[SWARM_RECORD_MAX]; /* index, term, node, service, action;
                                                  state PENDING */
};

/* The pending decisions of s (the first SWARM_RECORD_MAX) under `term`. */
void swarm_record_from_state(const struct swarm_state *s, uint64_t term, struct swarm_record *out);
/* A malloc()ed JSON text (the caller frees), or NULL when out of memory. */
char *swarm_record_encode(const struct swarm_record *r);
/* 0, PL_EMALFORMED or PL_ETOOBIG (past SWARM_RECORD_BYTES_MAX); *out untouched on failure. */
int swarm_record_parse(const char *text, size_t len, struct swarm_record *out);

#endif
