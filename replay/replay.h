/*
 * Time-travel replay: the swarm's state (node/swarm/swarm.h) rebuilt from the ledger, entry
 * by entry, exactly as a live node applied it: the same code, the same entries, the same
 * state hash. The entries come from a data directory (opened read-only, beside a running
 * agent) or from an exported audit trail, which is verified whole first (signature, every
 * line, proofs or root), so a post-mortem can happen far from the cluster.
 *
 * Swarm entry index = ledger leaf index + 1 (= the Raft index), so "at index N" means the
 * state after the first N leaves.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include "audit.h"
#include "ledger.h"
#include "pl_store.h"
#include "replay_snap.h"
#include "swarm.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define REPLAY_ERR_MAX 320

struct replay {
    struct swarm_state *state; /* malloc()ed */
    uint64_t total;            /* entries the source holds */
    bool from_audit;
    struct ledger_head head;   /* the signed head the source is bound to (total > 0) */
    bool audit_proofs;         /* the trail carries an inclusion proof per entry */
    /* a data directory */
    struct pl_store store;
    struct ledger ledger;
    bool store_open, ledger_open;
    /* an audit trail */
    FILE *audit;
    uint64_t line_no;
    char *line;
    size_t line_cap;
    struct audit_line cur;
    bool cur_valid;
    /* a data directory's leaves, read ahead in chunks: leaves [chunk_from, chunk_from +
     * chunk_n), their bytes in chunk_buf at chunk_off[i] */
    uint8_t *chunk_buf;
    size_t chunk_len, chunk_cap;
    uint32_t *chunk_off;
    uint64_t chunk_from;
    uint32_t chunk_n;
    /* every applied leaf's hash folded into a Merkle frontier, checked by replay_verify */
    struct merkle_frontier frontier;
    /* the next entry, read ahead by replay_peek (valid until the next step) */
    const uint8_t *leaf;
    size_t leaf_len;
    struct ledger_entry next;
    bool peeked;
    /* the next entry's body decoded by its kind (replay_step) */
    union swarm_body body;
    /* state snapshots (a data directory): off with --no-snapshots; what the last seek used */
    bool no_snapshots;
    struct replay_snap_report snap;
    char err[REPLAY_ERR_MAX];
};

/* Opens a data directory read-only. On failure r->err says why and replay_close follows. */
int replay_open_dir(struct replay *r, const char *data_dir);
/* Verifies the trail at `path` whole, then reads it from its first entry; a trail that
 * does not start at index 0 cannot rebuild a state and is refused. */
int replay_open_audit(struct replay *r, const char *path);
void replay_close(struct replay *r);

/*
 * Starts from the nearest usable state snapshot at or before `index` (a data directory,
 * before the first step, unless r->no_snapshots); otherwise nothing changes and the replay
 * starts from the first entry. r->snap says which snapshot was used and what was skipped.
 * The state reached at any index is the same either way (the snapshot's hash is checked).
 */
int replay_seek(struct replay *r, uint64_t index);
/* The same for a time: the nearest snapshot before the first entry later than time_ms.
 * (Entries' times are the leaders' clocks: if one ever went back, a full replay stops at the
 * first later entry, this at the snapshot after it.) */
int replay_seek_time(struct replay *r, uint64_t time_ms);
/* For a post-mortem of incident `id`: the nearest snapshot whose entries all come before
 * the incident's window (`before_ms` before its first step). The first step is found in the
 * newest snapshot's state, or in the entries after it; otherwise (an incident evicted from
 * the state before that snapshot) nothing changes and the replay starts at index 0. */
int replay_seek_incident(struct replay *r, const char *id, uint64_t before_ms);

/* Proves what was replayed is the ledger: the root of the leaves applied (hashed again
 * from their bytes, from the snapshot's frontier on) equals the ledger's root at that size
 * (the signed head's at the end). PL_EVERIFY with r->err otherwise. An audit trail was
 * verified whole when it was opened: 0. */
int replay_verify(struct replay *r);

/* The state after `index` entries: replay_seek, replay_step up to it, replay_verify. */
int replay_to_index(struct replay *r, uint64_t index);

/* Reads the next entry without applying it (0, 1 at the end, or an error), so a caller can
 * stop before an entry later than a given time. */
int replay_peek(struct replay *r, struct ledger_entry *e);
/* Applies the next entry. 0 with *e and *applied filled (valid until the next call), 1 at
 * the end, or an error with r->err naming the index or line. */
int replay_step(struct replay *r, struct ledger_entry *e, struct swarm_applied *applied);

/* The leaf bytes of the entry the last replay_step applied and, from a trail with proofs,
 * its inclusion proof against r->head (path_len 0 otherwise). Borrowed: valid until the
 * next peek or step. */
void replay_last_leaf(const struct replay *r, const uint8_t **leaf, size_t *leaf_len,
                      const uint8_t (**path)[MERKLE_HASH_BYTES], size_t *path_len);

/* The state as JSON (members, incidents, placements, decisions, counters, hash). */
cJSON *replay_state_json(const struct swarm_state *s);
/* What the swarm learned (replay_strategies.c): every signature, its choice, and per action
 * the posterior mean, 90 % interval, counts and last draw; one signature's object. */
cJSON *replay_strategies_json(const struct swarm_state *s);
cJSON *replay_strategy_json(const struct swarm_learn_sig *g);
/* One entry's line for --step and diff: index, time, kind, outcome, a summary. */
cJSON *replay_entry_json(const struct ledger_entry *e, const struct swarm_applied *a,
                         const struct swarm_state *after);

#endif
