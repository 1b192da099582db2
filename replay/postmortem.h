/*
 * Post-mortems: one incident's chain, as the ledger proves it, with what else happened
 * around it. Built from a replay (replay.h: a data directory, or a verified audit trail
 * with proofs) in one pass over the entries, applying each to the swarm state so every
 * entry carries the outcome the live nodes recorded (applied, duplicate, rejected).
 *
 * The window, in ledger time (the entries' time_ms, the same on every voter): from
 * POSTMORTEM_BEFORE_MS before the entry of the incident's first step to the entry of its
 * closing step (an "outcome" or a "closed" event), or to the end of the ledger while it is
 * open. Listed: every `incident` entry of that id (the chain: signal, diagnosis, actions,
 * results, outcome, as the steps carry them) and, inside the window, the contributing
 * factors: member events, other incidents' steps (any node), decisions, action results,
 * approvals, placements, Raft configuration changes, and rejected entries. Notes and other
 * foreign kinds are not listed.
 *
 * Every listed entry keeps its leaf bytes and its RFC 6962 inclusion proof against the
 * source's signed head, so the JSON form can be checked with no Platelet data at all
 * (postmortem_verify does exactly that, and so can any RFC 6962 verifier).
 */
#ifndef POSTMORTEM_H
#define POSTMORTEM_H

#include "replay.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define POSTMORTEM_BEFORE_MS 60000
/* Entries listed at most; what the window holds beyond it is counted in `dropped`. */
#define POSTMORTEM_ENTRIES_MAX 20000

/* What a listed entry is to the post-mortem: its mark on the timeline. Chain marks first. */
enum postmortem_mark {
    PM_SIGNAL = 0,     /* the incident opened (its signal) */
    PM_DIAGNOSIS,
    PM_ACTION,
    PM_RESULT,
    PM_OUTCOME,        /* healthy again, or closed */
    PM_STEP,           /* another step (back-off, approval wait, escalation, note) */
    PM_DUPLICATE,      /* a step applied before (an outbox resent it) */
    PM_CHAIN_END,      /* marks from here on are contributing factors */
    PM_MEMBER = PM_CHAIN_END,
    PM_OTHER_INCIDENT,
    PM_DECISION,
    PM_ACTION_RESULT,
    PM_APPROVAL,
    PM_PLACEMENT,
    PM_CONFIG,
    PM_REJECTED,
    PM_MARK_COUNT
};

/* "signal", "diagnosis", ..., "config", "rejected". */
const char *postmortem_mark_name(enum postmortem_mark m);

struct postmortem_entry {
    uint64_t index;            /* the ledger's leaf index (the swarm's index is index + 1) */
    uint64_t term, time_ms;
    char kind[LEDGER_KIND_MAX + 1];
    enum postmortem_mark mark;
    enum swarm_outcome outcome;
    char reason[SWARM_TEXT_MAX]; /* REJECTED: why */
    uint8_t *leaf;             /* malloc()ed */
    size_t leaf_len;
    uint8_t leaf_hash[MERKLE_HASH_BYTES];
    uint8_t (*path)[MERKLE_HASH_BYTES]; /* malloc()ed, path_len hashes */
    size_t path_len;
    bool has_step;             /* an incident step that decodes */
    struct swarm_incident_event step;
};

struct postmortem {
    char id[SWARM_ID_MAX];
    struct ledger_head head;
    uint64_t total;            /* entries the source holds */
    bool found, closed;
    uint64_t first_index, close_index; /* ledger leaf indexes */
    uint64_t first_time_ms, close_time_ms, window_from_ms, window_to_ms;
    uint64_t dropped;
    struct postmortem_entry *entries; /* in index order */
    size_t n, cap;
    size_t start;              /* entries before it were pruned from the window */
    char err[REPLAY_ERR_MAX];
};

/*
 * Reads the opened replay `r` (borrowed, at its first entry or at a snapshot before the
 * window: replay_seek_incident) and fills *pm for incident
 * `id`. PL_ENOTFOUND with pm->err when no step of that id is in the ledger; PL_EUSAGE for
 * a trail exported without proofs; r->err for a source that fails. postmortem_close after,
 * whatever it returned.
 */
int postmortem_build(struct postmortem *pm, struct replay *r, const char *id);
void postmortem_close(struct postmortem *pm);

/* The whole post-mortem, with every entry's leaf (base64), leaf hash, audit path, the head
 * and the mark counts. The caller cJSON_Delete()s it. */
cJSON *postmortem_json(const struct postmortem *pm);
/* The human summary, from the JSON form. */
void postmortem_text(const cJSON *doc, FILE *out);
/* One self-contained HTML page (inline CSS and SVG, no script source fetched) rendered
 * from the JSON form; it counts its own marks into #pm-selfcheck when opened. */
int postmortem_html(const cJSON *doc, FILE *out);

/*
 * Checks a post-mortem JSON document with nothing but itself: the head's signature, and for
 * every entry that its leaf hashes to leaf_hash, decodes to the index, term, time and kind
 * listed, and is included in the head's tree by its audit path. 0 with *verified set, or
 * PL_EVERIFY / PL_EMALFORMED with err naming the entry.
 */
int postmortem_verify(const cJSON *doc, uint64_t *verified, char *err, size_t err_size);

#endif
