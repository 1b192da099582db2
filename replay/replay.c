/*
 * Replay (replay.h): read entries in order from a data directory or a verified trail and
 * apply them to a fresh swarm state.
 */
#include "replay.h"

#include "heal_diag.h"
#include "pl_err.h"
#include "pl_json.h"
#include "pl_mp_read.h"
#include "pl_text.h"
#include "snapshot_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int fail(struct replay *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct replay *r, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    return rc;
}

static int replay_init(struct replay *r)
{
    memset(r, 0, sizeof(*r));
    r->state = malloc(sizeof(*r->state));
    if (r->state == NULL)
        return fail(r, -ENOMEM, "out of memory");
    swarm_state_init(r->state);
    merkle_frontier_init(&r->frontier);
    return 0;
}

int replay_open_dir(struct replay *r, const char *data_dir)
{
    int rc = replay_init(r);
    if (rc != 0)
        return rc;
    rc = pl_store_open(&r->store, data_dir, PL_STORE_READ_ONLY);
    if (rc != 0)
        return fail(r, rc, "cannot open %s: %s", data_dir, r->store.err_text);
    r->store_open = true;
    rc = ledger_open(&r->ledger, &r->store, NULL);
    if (rc != 0)
        return fail(r, rc, "cannot open the ledger in %s: %s", data_dir, r->ledger.err_text);
    r->ledger_open = true;
    r->total = r->ledger.size;
    if (r->total > 0)
        r->head = r->ledger.head;
    return 0;
}

/* Reads the next line of the trail (without its newline) into r->line; 1 at the end. */
static int read_line(struct replay *r, size_t *len)
{
    ssize_t n = getline(&r->line, &r->line_cap, r->audit);
    if (n < 0)
        return ferror(r->audit) ? -EIO : 1;
    r->line_no++;
    if (n > 0 && r->line[n - 1] == '\n')
        n--;
    *len = (size_t)n;
    return 0;
}

int replay_open_audit(struct replay *r, const char *path)
{
    int rc = replay_init(r);
    if (rc != 0)
        return rc;
    r->from_audit = true;
    r->audit = fopen(path, "r");
    if (r->audit == NULL)
        return fail(r, -errno, "cannot read %s: %s", path, strerror(errno));
    struct audit_verify_report rep;
    rc = audit_verify(r->audit, NULL, &rep);
    if (rc == PL_EVERIFY)
        return fail(r, rc, "%s line %" PRIu64 ": %s", path, rep.fail_line, rep.reason);
    if (rc != 0)
        return fail(r, rc, "cannot verify %s: %s", path, pl_strerror(rc));
    rewind(r->audit);
    size_t len;
    struct audit_line hl;
    char reason[AUDIT_REASON_MAX];
    if (read_line(r, &len) != 0 ||
        audit_line_decode(r->line, len, AUDIT_LINE_HEADER, &hl, reason, sizeof(reason)) != 0)
        return fail(r, PL_EMALFORMED, "%s line 1: not an audit header", path);
    bool whole = hl.header.from == 0 && !hl.header.has_since;
    r->total = hl.header.count;
    r->head = hl.header.head;
    r->audit_proofs = hl.header.proofs;
    audit_line_free(&hl);
    if (!whole)
        return fail(r, PL_ERANGE, "%s: the trail starts after index 0 or is filtered by time; "
                    "a state can only be rebuilt from the first entry (export without "
                    "--from/--since)", path);
    return 0;
}

void replay_close(struct replay *r)
{
    if (r->cur_valid)
        audit_line_free(&r->cur);
    if (r->audit != NULL)
        fclose(r->audit);
    free(r->line);
    free(r->chunk_buf);
    free(r->chunk_off);
    if (r->ledger_open)
        ledger_close(&r->ledger);
    if (r->store_open)
        pl_store_close(&r->store);
    free(r->state);
    memset(r, 0, sizeof(*r));
}

int replay_seek(struct replay *r, uint64_t index)
{
    if (r->from_audit || r->no_snapshots || r->state->applied_index != 0 || r->peeked)
        return 0;
    int rc = replay_snap_load(&r->store, &r->ledger, index, r->state, &r->snap);
    if (rc != 0 && rc != PL_ENOTFOUND)
        return fail(r, rc, "reading the state snapshots: %s", pl_strerror(rc));
    r->frontier = r->snap.frontier;
    return 0;
}

int replay_verify(struct replay *r)
{
    if (r->from_audit)
        return 0;
    uint64_t size = r->state->applied_index;
    uint8_t want[MERKLE_HASH_BYTES], got[MERKLE_HASH_BYTES];
    int rc = ledger_root_at(&r->ledger, size, want);
    if (rc != 0)
        return fail(r, rc, "the ledger's root at %" PRIu64 ": %s", size, pl_strerror(rc));
    merkle_frontier_root(&r->frontier, got);
    if (r->frontier.size != size || memcmp(want, got, MERKLE_HASH_BYTES) != 0)
        return fail(r, PL_EVERIFY, "the %" PRIu64 " leaves replayed do not hash to the ledger's "
                    "root at that size: the store was changed under its tree", size);
    return 0;
}

/* Reads ahead: copies leaves [from, ...) into the chunk until about REPLAY_CHUNK_BYTES. */
#define REPLAY_CHUNK_BYTES (1u << 20)
#define REPLAY_CHUNK_LEAVES 8192u

static int chunk_cb(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
    (void)index;
    struct replay *r = ctx;
    if (r->chunk_n == REPLAY_CHUNK_LEAVES || (r->chunk_len >= REPLAY_CHUNK_BYTES && r->chunk_n))
        return 1; /* full: stop the walk */
    if (r->chunk_len + len > r->chunk_cap) {
        size_t cap = r->chunk_cap ? r->chunk_cap : REPLAY_CHUNK_BYTES + LEDGER_LEAF_MAX;
        while (cap < r->chunk_len + len)
            cap *= 2;
        uint8_t *p = realloc(r->chunk_buf, cap);
        if (p == NULL)
            return -ENOMEM;
        r->chunk_buf = p;
        r->chunk_cap = cap;
    }
    memcpy(r->chunk_buf + r->chunk_len, leaf, len);
    r->chunk_off[r->chunk_n++] = (uint32_t)r->chunk_len;
    r->chunk_off[r->chunk_n] = (uint32_t)(r->chunk_len += len);
    return 0;
}

static int chunk_fill(struct replay *r, uint64_t from)
{
    if (r->chunk_off == NULL &&
        (r->chunk_off = malloc((REPLAY_CHUNK_LEAVES + 1) * sizeof(*r->chunk_off))) == NULL)
        return -ENOMEM;
    r->chunk_from = from;
    r->chunk_n = 0;
    r->chunk_len = 0;
    int rc = ledger_leaves_each(&r->ledger, from, r->total, chunk_cb, r);
    return rc == 1 ? 0 : rc;
}

/* The time of leaf `index`. */
static int leaf_time(struct replay *r, uint64_t index, uint64_t *time_ms)
{
    uint8_t *leaf = NULL;
    size_t len;
    struct ledger_entry e;
    int rc = ledger_leaf_get(&r->ledger, index, &leaf, &len);
    if (rc == 0)
        rc = ledger_entry_decode(leaf, len, &e);
    if (rc == 0)
        *time_ms = e.time_ms;
    free(leaf);
    return rc != 0 ? fail(r, rc, "entry %" PRIu64 ": %s", index, pl_strerror(rc)) : 0;
}

int replay_seek_time(struct replay *r, uint64_t time_ms)
{
    if (r->from_audit || r->no_snapshots || r->state->applied_index != 0 || r->peeked)
        return 0;
    /* The most leaves whose last is not later than time_ms, by a binary search on the
     * leaves' times (they grow with the index): O(log n) reads, whatever the snapshots. */
    uint64_t lo = 0, hi = r->total; /* answer in [lo, hi] */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2, t = 0;
        int rc = leaf_time(r, mid - 1, &t);
        if (rc != 0)
            return rc;
        if (t <= time_ms)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo > 0 ? replay_seek(r, lo) : 0;
}

struct tail_find {
    const char *id;
    uint64_t index;
};

/* Stops (1) at the first incident step of f->id. */
static int tail_find_cb(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
    struct tail_find *f = ctx;
    struct ledger_entry e;
    struct swarm_incident_event b;
    if (ledger_entry_decode(leaf, len, &e) != 0 ||
        swarm_kind_parse(e.kind, e.kind_len) != SWARM_K_INCIDENT ||
        swarm_incident_event_decode(e.body, e.body_len, &b) != 0 || strcmp(b.id, f->id) != 0)
        return 0;
    f->index = index;
    return 1;
}

int replay_seek_incident(struct replay *r, const char *id, uint64_t before_ms)
{
    if (r->from_audit || r->no_snapshots || r->state->applied_index != 0 || r->peeked)
        return 0;
    struct swarm_state *s = malloc(sizeof(*s));
    if (s == NULL)
        return fail(r, -ENOMEM, "out of memory");
    struct replay_snap_report rep;
    int rc = replay_snap_load(&r->store, &r->ledger, r->total, s, &rep);
    uint64_t from_ms = 0;
    bool seek = false;
    if (rc == 0) {
        /* The incident's first entry, if the newest snapshot knows it (any node's). */
        uint64_t first = 0;
        for (uint32_t i = 0; i < s->nincidents; i++)
            if (strcmp(s->incidents[i].id, id) == 0 &&
                (first == 0 || s->incidents[i].first_index < first))
                first = s->incidents[i].first_index;
        uint64_t t = 0;
        if (first == 0) {
            /* Not in the snapshot's state: it began after it (found in the tail, at most
             * one snapshot interval long) or was evicted before (full replay). */
            struct tail_find f = {.id = id};
            rc = ledger_leaves_each(&r->ledger, rep.index, r->total, tail_find_cb, &f);
            first = rc == 1 ? f.index + 1 : 0;
            rc = rc == 1 ? 0 : rc;
        }
        if (rc == 0 && first > 0) {
            rc = leaf_time(r, first - 1, &t);
            seek = true;
        }
        from_ms = t > before_ms ? t - before_ms : 0;
    }
    free(s);
    if (rc != 0 && rc != PL_ENOTFOUND)
        return rc;
    /* Every entry at from_ms or later is in the window: start before the first of them. */
    return seek && from_ms > 0 ? replay_seek_time(r, from_ms - 1) : 0;
}

int replay_to_index(struct replay *r, uint64_t index)
{
    int rc = replay_seek(r, index);
    /* Nobody looks at the states in between: the state hash is brought up to date once, at
     * the end, from the items that changed (swarm_state_hash_defer). */
    swarm_state_hash_defer(r->state, true);
    while (rc == 0 && r->state->applied_index < index) {
        struct ledger_entry e;
        struct swarm_applied a;
        rc = replay_step(r, &e, &a);
        if (rc == 1)
            rc = fail(r, PL_ERANGE, "the source holds %" PRIu64 " entries, not %" PRIu64,
                      r->total, index);
    }
    swarm_state_hash_defer(r->state, false);
    return rc == 0 ? replay_verify(r) : rc;
}

int replay_peek(struct replay *r, struct ledger_entry *e)
{
    uint64_t index = r->state->applied_index; /* the leaf index of the next entry */
    if (r->peeked) {
        *e = r->next;
        return 0;
    }
    if (index >= r->total)
        return 1;
    int rc;
    if (r->from_audit) {
        if (r->cur_valid)
            audit_line_free(&r->cur);
        r->cur_valid = false;
        size_t len;
        if ((rc = read_line(r, &len)) != 0)
            return rc == 1 ? fail(r, PL_EMALFORMED, "line %" PRIu64 ": the trail ends early",
                                  r->line_no + 1)
                           : fail(r, rc, "reading the trail: %s", pl_strerror(rc));
        char reason[AUDIT_REASON_MAX];
        rc = audit_line_decode(r->line, len, AUDIT_LINE_ENTRY, &r->cur, reason, sizeof(reason));
        if (rc != 0)
            return fail(r, rc, "line %" PRIu64 ": %s", r->line_no, reason);
        r->cur_valid = true;
        r->next = r->cur.entry.entry;
    } else {
        rc = 0;
        if (index < r->chunk_from || index >= r->chunk_from + r->chunk_n)
            rc = chunk_fill(r, index);
        if (rc == 0 && (index < r->chunk_from || index >= r->chunk_from + r->chunk_n))
            rc = PL_ECORRUPT;
        struct pl_mp_reader why = {.err = NULL};
        if (rc == 0) {
            uint32_t k = (uint32_t)(index - r->chunk_from);
            r->leaf = r->chunk_buf + r->chunk_off[k];
            r->leaf_len = r->chunk_off[k + 1] - r->chunk_off[k];
            /* The body is checked in replay_step, once, by its kind's decoder. */
            rc = ledger_entry_decode_envelope(r->leaf, r->leaf_len, &r->next, &why);
        }
        if (rc != 0 && why.err != NULL)
            return fail(r, rc, "entry %" PRIu64 ": %s: %s at byte %zu of its %zu", index,
                        pl_strerror(rc), why.err, why.err_at, r->leaf_len);
        if (rc != 0)
            return fail(r, rc, "entry %" PRIu64 ": %s", index, pl_strerror(rc));
    }
    if (r->next.index != index)
        return fail(r, PL_ECORRUPT, "expected entry %" PRIu64 ", found %" PRIu64, index,
                    r->next.index);
    r->peeked = true;
    *e = r->next;
    return 0;
}

/* The leaf's body, walked once: a body its kind's strict decoder takes is canonical msgpack
 * (and apply uses that decoding: *decoded), any other must pass the leaf's generic check, as
 * ledger_entry_decode would have demanded, before anything is applied. */
static int body_check(struct replay *r, bool *decoded)
{
    const struct ledger_entry *n = &r->next;
    enum swarm_kind k = swarm_kind_parse(n->kind, n->kind_len);
    *decoded = k != SWARM_K_FOREIGN &&
               swarm_body_decode(k, n->body, n->body_len, &r->body, sizeof(r->body), NULL) == 0;
    struct pl_mp_reader why;
    if (*decoded || ledger_entry_body_check(r->leaf, n, &why) == 0)
        return 0;
    return fail(r, PL_EMALFORMED, "entry %" PRIu64 ": %s: %s at byte %zu of its %zu", n->index,
                pl_strerror(PL_EMALFORMED), why.err, why.err_at, r->leaf_len);
}

int replay_step(struct replay *r, struct ledger_entry *e, struct swarm_applied *applied)
{
    int rc = replay_peek(r, e);
    if (rc != 0)
        return rc;
    bool decoded = false;
    if (!r->from_audit && (rc = body_check(r, &decoded)) != 0)
        return rc;
    r->peeked = false;
    if (!r->from_audit) {
        uint8_t h[MERKLE_HASH_BYTES];
        merkle_leaf_hash(r->leaf, r->leaf_len, h);
        rc = merkle_frontier_append(&r->frontier, h, NULL, NULL);
        if (rc != 0)
            return fail(r, rc, "entry %" PRIu64 ": %s", r->next.index, pl_strerror(rc));
    }
    /* From r->next, which replay_peek set: gcc -O3 cannot see that its errors are nonzero. */
    const struct ledger_entry *n = &r->next;
    struct swarm_entry se = {.index = n->index + 1, .term = n->term, .time_ms = n->time_ms,
                             .kind = n->kind, .kind_len = n->kind_len, .body = n->body,
                             .body_len = n->body_len, .decoded = decoded ? &r->body : NULL};
    rc = swarm_apply(r->state, &se, applied);
    if (rc != 0)
        return fail(r, rc, "entry %" PRIu64 ": %s", n->index, pl_strerror(rc));
    return 0;
}

void replay_last_leaf(const struct replay *r, const uint8_t **leaf, size_t *leaf_len,
                      const uint8_t (**path)[MERKLE_HASH_BYTES], size_t *path_len)
{
    *path = NULL;
    *path_len = 0;
    if (r->from_audit) {
        *leaf = r->cur.entry.leaf;
        *leaf_len = r->cur.entry.leaf_len;
        if (r->cur.entry.has_path) {
            *path = (const uint8_t(*)[MERKLE_HASH_BYTES])r->cur.entry.path;
            *path_len = r->cur.entry.path_len;
        }
    } else {
        *leaf = r->leaf;
        *leaf_len = r->leaf_len;
    }
}

/* ---- JSON views ---- */

static void add_hash(cJSON *o, const char *key, const uint8_t h[SWARM_HASH_BYTES])
{
    char hex[SWARM_HASH_BYTES * 2 + 1];
    pl_hex_encode(h, SWARM_HASH_BYTES, hex);
    cJSON_AddStringToObject(o, key, hex);
}

static void add_time(cJSON *o, const char *key, uint64_t ms)
{
    char t[25];
    pl_time_format_rfc3339(ms, t);
    cJSON_AddStringToObject(o, key, ms ? t : "");
}

static cJSON *decision_json(const struct swarm_decision *d)
{
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "index", (double)d->index);
    cJSON_AddNumberToObject(x, "term", (double)d->term);
    add_time(x, "time", d->time_ms);
    cJSON_AddStringToObject(x, "node", d->node);
    cJSON_AddStringToObject(x, "service", d->service);
    cJSON_AddNumberToObject(x, "action", d->action);
    cJSON_AddStringToObject(x, "incident", d->incident);
    cJSON_AddStringToObject(x, "state", swarm_decision_state_name(d->state));
    cJSON_AddNumberToObject(x, "result", d->result);
    cJSON_AddNumberToObject(x, "result_index", (double)d->result_index);
    cJSON_AddStringToObject(x, "op", swarm_op_name(d->action));
    cJSON_AddNumberToObject(x, "rollout", (double)d->rollout);
    return x;
}

static cJSON *rollout_json(const struct swarm_rollout *r)
{
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "index", (double)r->index);
    cJSON_AddNumberToObject(x, "term", (double)r->term);
    add_time(x, "time", r->time_ms);
    cJSON_AddStringToObject(x, "service", r->service);
    cJSON_AddStringToObject(x, "op", swarm_op_name(r->op));
    cJSON_AddNumberToObject(x, "max_unavailable", r->max_unavailable);
    cJSON_AddStringToObject(x, "by", r->by);
    cJSON_AddStringToObject(x, "state", swarm_rollout_state_name(r->state));
    cJSON *n = cJSON_AddArrayToObject(x, "nodes");
    for (uint32_t i = 0; i < r->nnodes; i++) {
        cJSON *y = cJSON_CreateObject();
        cJSON_AddStringToObject(y, "node", r->nodes[i]);
        cJSON_AddStringToObject(y, "step", swarm_step_state_name(r->step[i]));
        cJSON_AddNumberToObject(y, "decision", (double)r->decision[i]);
        cJSON_AddItemToArray(n, y);
    }
    return x;
}

cJSON *replay_state_json(const struct swarm_state *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "applied_index", (double)s->applied_index);
    cJSON_AddNumberToObject(o, "applied_term", (double)s->applied_term);
    add_hash(o, "state_hash", s->hash);
    cJSON *c = cJSON_AddObjectToObject(o, "counters");
    cJSON_AddNumberToObject(c, "applied", (double)s->counters.applied);
    cJSON_AddNumberToObject(c, "duplicates", (double)s->counters.duplicates);
    cJSON_AddNumberToObject(c, "foreign", (double)s->counters.foreign);
    cJSON_AddNumberToObject(c, "rejected", (double)s->counters.rejected);
    cJSON_AddStringToObject(c, "last_rejection", s->last_rejection);
    cJSON *m = cJSON_AddArrayToObject(o, "members");
    for (uint32_t i = 0; i < s->nmembers; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", s->members[i].name);
        cJSON_AddStringToObject(x, "status", swarm_member_status_name(s->members[i].status));
        cJSON_AddNumberToObject(x, "incarnation", (double)s->members[i].incarnation);
        cJSON_AddNumberToObject(x, "since_index", (double)s->members[i].since_index);
        cJSON_AddItemToArray(m, x);
    }
    cJSON *inc = cJSON_AddArrayToObject(o, "incidents");
    for (uint32_t i = 0; i < s->nincidents; i++) {
        const struct swarm_incident *x = &s->incidents[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "node", x->node);
        cJSON_AddStringToObject(j, "id", x->id);
        cJSON_AddStringToObject(j, "service", x->service);
        cJSON_AddStringToObject(j, "state", x->closed ? "closed" : "open");
        cJSON_AddStringToObject(j, "outcome", x->outcome);
        cJSON_AddNumberToObject(j, "level", x->level);
        cJSON_AddNumberToObject(j, "actions", x->actions);
        cJSON_AddNumberToObject(j, "steps", x->last_seq + 1);
        add_time(j, "opened", x->opened_ms);
        add_time(j, "closed", x->closed_ms);
        cJSON_AddNumberToObject(j, "first_index", (double)x->first_index);
        cJSON_AddNumberToObject(j, "last_index", (double)x->last_index);
        cJSON_AddItemToArray(inc, j);
    }
    cJSON *p = cJSON_AddArrayToObject(o, "placements");
    for (uint32_t i = 0; i < s->nplacements; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "service", s->placements[i].service);
        cJSON_AddStringToObject(x, "node", s->placements[i].node);
        cJSON_AddNumberToObject(x, "index", (double)s->placements[i].index);
        cJSON_AddNumberToObject(x, "term", (double)s->placements[i].term);
        cJSON_AddItemToArray(p, x);
    }
    cJSON *d = cJSON_AddArrayToObject(o, "decisions");
    for (uint32_t i = 0; i < s->ndecisions; i++)
        cJSON_AddItemToArray(d, decision_json(&s->decisions[i]));
    cJSON *r = cJSON_AddArrayToObject(o, "rollouts");
    for (uint32_t i = 0; i < s->nrollouts; i++)
        cJSON_AddItemToArray(r, rollout_json(&s->rollouts[i]));
    cJSON *pol = cJSON_AddObjectToObject(o, "policy");
    cJSON_AddNumberToObject(pol, "max_in_flight", s->max_in_flight);
    cJSON_AddNumberToObject(pol, "max_fleet_pct", s->max_fleet_pct);
    cJSON_AddNumberToObject(pol, "window_ms", (double)s->window_ms);
    cJSON_AddNumberToObject(pol, "index", (double)s->policy_index);
    cJSON *cl = cJSON_AddArrayToObject(o, "cluster_incidents");
    for (uint32_t i = 0; i < s->nclusters; i++) {
        const struct swarm_cluster *x = &s->clusters[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", x->id);
        cJSON_AddStringToObject(j, "signature", x->sig);
        cJSON_AddStringToObject(j, "service", x->service);
        cJSON_AddStringToObject(j, "cause", heal_cause_name((enum heal_cause)x->cause));
        cJSON_AddStringToObject(j, "state", x->closed ? "closed" : "open");
        cJSON_AddBoolToObject(j, "escalated", x->escalated);
        cJSON_AddNumberToObject(j, "nodes", x->nodes);
        cJSON_AddNumberToObject(j, "members", x->members);
        cJSON_AddNumberToObject(j, "opened_index", (double)x->opened_index);
        cJSON_AddNumberToObject(j, "closed_index", (double)x->closed_index);
        add_time(j, "opened", x->opened_ms);
        if (x->closed)
            add_time(j, "closed", x->closed_ms);
        cJSON_AddItemToArray(cl, j);
    }
    cJSON *co = cJSON_AddObjectToObject(o, "council");
    cJSON_AddNumberToObject(co, "changes", s->council_changes);
    cJSON *ch = cJSON_AddArrayToObject(co, "recent");
    /* Oldest first: the ring's slots from the oldest kept. */
    for (uint32_t i = 0; i < s->ncouncil; i++) {
        uint32_t k = (s->council_changes - s->ncouncil + i) % SWARM_COUNCIL_LOG_MAX;
        const struct swarm_council_change *cc = &s->council[k];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "index", (double)cc->index);
        add_time(j, "time", cc->time_ms);
        cJSON_AddStringToObject(j, "op", swarm_council_op_name(cc->op));
        cJSON_AddStringToObject(j, "node", cc->node);
        cJSON_AddNumberToObject(j, "voters", cc->voters);
        cJSON_AddItemToArray(ch, j);
    }
    return o;
}

cJSON *replay_entry_json(const struct ledger_entry *e, const struct swarm_applied *a,
                         const struct swarm_state *after)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", (double)(e->index + 1));
    cJSON_AddNumberToObject(o, "term", (double)e->term);
    add_time(o, "time", e->time_ms);
    char kind[LEDGER_KIND_MAX + 1];
    snprintf(kind, sizeof(kind), "%.*s", (int)e->kind_len, e->kind);
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(o, "outcome", swarm_outcome_name(a->outcome));
    if (a->outcome == SWARM_REJECTED)
        cJSON_AddStringToObject(o, "reason", a->reason);
    struct pl_buf body;
    pl_buf_init(&body, AUDIT_LINE_MAX);
    if (pl_json_from_msgpack(e->body, e->body_len, &body) == 0) {
        cJSON *b = cJSON_ParseWithLength((const char *)body.data, body.len);
        if (b != NULL)
            cJSON_AddItemToObject(o, "body", b);
    }
    pl_buf_close(&body);
    if (a->decision != NULL)
        cJSON_AddItemToObject(o, "decision", decision_json(a->decision));
    if (a->rollout != NULL)
        cJSON_AddItemToObject(o, "rollout", rollout_json(a->rollout));
    if (a->placement != NULL) {
        cJSON *p = cJSON_AddObjectToObject(o, "placement");
        cJSON_AddStringToObject(p, "service", a->placement->service);
        cJSON_AddStringToObject(p, "node", a->placement->node);
    }
    add_hash(o, "state_hash", after->hash);
    return o;
}
