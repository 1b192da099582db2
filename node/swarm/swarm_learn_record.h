/*
 * The "strategies" gossip record: what the swarm learned (swarm_learn.h), as the healing
 * machine takes it, for the members that are not voters and so apply no state of their
 * own. Each voter gossips the record of the table it applied; a member hands the newest
 * (highest index) to its machines, so its first local action for a signature is the one a
 * voter would take, and it keeps the last one it took while no council answers.
 *
 * Wire (canonical msgpack, fixed key order, shortest forms; a record that does not
 * re-encode to the same bytes is refused):
 *
 *   {"index": u64, "term": u64,
 *    "sigs": [[service, class u8, cause u8, signal u8, feature u8, action u8], ...]}
 *
 * index and term name the committed entry that last changed the table (the newest
 * choice_index of its signatures and that entry's term), so every voter that applied it
 * writes the same bytes, and a higher index is always a newer table. A signature is listed
 * with the action its next incident starts with (never 0: one without a choice is left
 * out), at most once.
 *
 * Bounded by the table itself: at most SWARM_LEARN_SIGS_MAX signatures (a member takes
 * exactly what a voter takes; nothing is cut). An entry is 10 bytes with a 3-byte service
 * name, so a fleet's few dozen signatures fit one datagram; the worst case (128 entries
 * with 63-byte names and numbers past 127) stays under SWARM_LEARN_RECORD_BYTES_MAX, which
 * is below gossip's 16 KiB state value.
 *
 * Pure; part of swarm_core.
 */
#ifndef PL_SWARM_LEARN_RECORD_H
#define PL_SWARM_LEARN_RECORD_H

#include "pl_buf.h"
#include "swarm_learn.h"

#include <stddef.h>
#include <stdint.h>

#define SWARM_LEARN_RECORD_KEY "strategies"
#define SWARM_LEARN_RECORD_MAX SWARM_LEARN_SIGS_MAX
/* The three keys and their numbers, then per entry an array header, a string header of 2
 * bytes and 63 bytes, and five numbers of 2 bytes: 40 + 128 x 76 = 9768. */
#define SWARM_LEARN_RECORD_BYTES_MAX 10240

struct swarm_learn_choice {
    struct swarm_learn_key key;
    uint8_t action; /* heal_action number, 1..SWARM_LEARN_ARMS-1 */
};

struct swarm_learn_record {
    uint64_t index, term; /* the entry that last changed the table; 0 when nothing learned */
    uint32_t n;
    struct swarm_learn_choice v[SWARM_LEARN_RECORD_MAX];
};

/* The record of table l: every signature with a choice, in the table's order. */
void swarm_learn_record_of(const struct swarm_learn *l, struct swarm_learn_record *out);

/* 0, or PL_ERANGE for a record past the bounds (or what the buffer refuses). */
int swarm_learn_record_encode(const struct swarm_learn_record *r, struct pl_buf *out);

/* 0, PL_ETOOBIG (past SWARM_LEARN_RECORD_BYTES_MAX), or PL_EMALFORMED for anything but a
 * canonical record within the bounds (service names non-empty and shorter than their
 * buffer, numbers within a byte, actions 1..15, no signature twice). *out is left
 * untouched on failure. */
int swarm_learn_record_decode(const uint8_t *p, size_t n, struct swarm_learn_record *out);

/* Whether record a is newer than b (a higher index; the term breaks a tie). */
bool swarm_learn_record_newer(const struct swarm_learn_record *a,
                              const struct swarm_learn_record *b);

#endif
