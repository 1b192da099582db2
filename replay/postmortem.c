/*
 * Post-mortems (postmortem.h): one pass over a replay picks the incident's steps and the
 * contributing factors of its window, keeps each entry's leaf and inclusion proof, and
 * renders the result as JSON, text or one HTML page; postmortem_verify checks the JSON form
 * against its own signed head.
 */
#include "postmortem.h"

#include "heal_incident.h"
#include "ledger_proposal.h"
#include "pl_err.h"
#include "pl_json.h"
#include "pl_text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const mark_names[PM_MARK_COUNT] = {
    "signal", "diagnosis", "action", "result", "outcome", "step", "duplicate",
    "member", "incident", "decision", "action_result", "approval", "placement", "config",
    "rejected",
};

const char *postmortem_mark_name(enum postmortem_mark m)
{
    return (unsigned)m < PM_MARK_COUNT ? mark_names[m] : "step";
}

static int fail(struct postmortem *pm, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct postmortem *pm, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pm->err, sizeof(pm->err), fmt, ap);
    va_end(ap);
    return rc;
}

static bool kind_is(const struct ledger_entry *e, const char *k)
{
    return e->kind_len == strlen(k) && memcmp(e->kind, k, e->kind_len) == 0;
}

static enum postmortem_mark step_mark(const struct swarm_incident_event *s)
{
    switch (s->event) {
    case HEAL_EV_OPENED: return PM_SIGNAL;
    case HEAL_EV_DIAGNOSED: return PM_DIAGNOSIS;
    case HEAL_EV_ACTION: return PM_ACTION;
    case HEAL_EV_RESULT: return PM_RESULT;
    case HEAL_EV_HEALTHY:
    case HEAL_EV_CLOSED: return PM_OUTCOME;
    default: return PM_STEP;
    }
}

/* The entry's mark, or -1 when a post-mortem does not list its kind (notes, raft.noop). */
static int classify(const struct ledger_entry *e, const struct swarm_applied *a, const char *id,
                    struct swarm_incident_event *step, bool *has_step)
{
    *has_step = kind_is(e, "incident") &&
                swarm_incident_event_decode(e->body, e->body_len, step) == 0;
    if (kind_is(e, "raft.config"))
        return PM_CONFIG;
    if (kind_is(e, LEDGER_KIND_REJECTED) || a->outcome == SWARM_REJECTED)
        return PM_REJECTED;
    switch (a->kind) {
    case SWARM_K_INCIDENT:
        if (!*has_step)
            return PM_REJECTED;
        if (strcmp(step->id, id) != 0)
            return PM_OTHER_INCIDENT;
        return a->outcome == SWARM_DUPLICATE ? PM_DUPLICATE : (int)step_mark(step);
    case SWARM_K_MEMBER: return PM_MEMBER;
    case SWARM_K_DECISION: return PM_DECISION;
    case SWARM_K_ACTION_RESULT: return PM_ACTION_RESULT;
    case SWARM_K_APPROVAL: return PM_APPROVAL;
    case SWARM_K_PLACEMENT: return PM_PLACEMENT;
    default: return -1;
    }
}

static void entry_free(struct postmortem_entry *x)
{
    free(x->leaf);
    free(x->path);
    x->leaf = NULL;
    x->path = NULL;
}

/* Drops listed context entries older than from_ms off the front (before the first step is
 * seen, the list holds only the last POSTMORTEM_BEFORE_MS of context). */
static void prune(struct postmortem *pm, uint64_t from_ms)
{
    while (pm->start < pm->n && pm->entries[pm->start].time_ms < from_ms)
        entry_free(&pm->entries[pm->start++]);
    if (pm->start > 0 && pm->start * 2 >= pm->n) {
        memmove(pm->entries, pm->entries + pm->start,
                (pm->n - pm->start) * sizeof(*pm->entries));
        pm->n -= pm->start;
        pm->start = 0;
    }
}

static int add(struct postmortem *pm, struct replay *r, const struct ledger_entry *e,
               const struct swarm_applied *a, int mark, const struct swarm_incident_event *step,
               bool has_step)
{
    if (pm->n - pm->start >= POSTMORTEM_ENTRIES_MAX) {
        pm->dropped++;
        if (pm->found)
            return 0;
        entry_free(&pm->entries[pm->start++]); /* keep the newest context before the step */
        prune(pm, 0);
    }
    if (pm->n == pm->cap) {
        size_t cap = pm->cap ? pm->cap * 2 : 64;
        void *p = realloc(pm->entries, cap * sizeof(*pm->entries));
        if (p == NULL)
            return fail(pm, -ENOMEM, "out of memory");
        pm->entries = p;
        pm->cap = cap;
    }
    struct postmortem_entry *x = &pm->entries[pm->n];
    memset(x, 0, sizeof(*x));
    x->index = e->index;
    x->term = e->term;
    x->time_ms = e->time_ms;
    snprintf(x->kind, sizeof(x->kind), "%.*s", (int)e->kind_len, e->kind);
    x->mark = (enum postmortem_mark)mark;
    x->outcome = a->outcome;
    if (a->outcome == SWARM_REJECTED)
        snprintf(x->reason, sizeof(x->reason), "%s", a->reason);
    x->has_step = has_step;
    if (has_step)
        x->step = *step;

    const uint8_t *leaf;
    size_t leaf_len, path_len;
    const uint8_t(*path)[MERKLE_HASH_BYTES];
    replay_last_leaf(r, &leaf, &leaf_len, &path, &path_len);
    x->path = malloc(MERKLE_PROOF_MAX * MERKLE_HASH_BYTES);
    x->leaf = malloc(leaf_len ? leaf_len : 1);
    if (x->leaf == NULL || x->path == NULL) {
        entry_free(x);
        return fail(pm, -ENOMEM, "out of memory");
    }
    memcpy(x->leaf, leaf, leaf_len);
    x->leaf_len = leaf_len;
    merkle_leaf_hash(leaf, leaf_len, x->leaf_hash);
    int rc = 0;
    if (r->from_audit) {
        if (path_len > MERKLE_PROOF_MAX)
            rc = PL_EMALFORMED;
        else
            memcpy(x->path, path, path_len * MERKLE_HASH_BYTES);
        x->path_len = path_len;
    } else {
        rc = ledger_inclusion_proof(&r->ledger, e->index, pm->head.size, x->path, &x->path_len);
    }
    if (rc == 0)
        rc = merkle_inclusion_verify(e->index, pm->head.size, x->leaf_hash,
                                     (const uint8_t(*)[MERKLE_HASH_BYTES])x->path, x->path_len,
                                     pm->head.root);
    if (rc != 0) {
        entry_free(x);
        return fail(pm, rc == PL_EVERIFY ? PL_ECORRUPT : rc,
                    "entry %" PRIu64 ": no valid inclusion proof against the head of size %"
                    PRIu64 ": %s", e->index, pm->head.size, pl_strerror(rc));
    }
    pm->n++;
    return 0;
}

int postmortem_build(struct postmortem *pm, struct replay *r, const char *id)
{
    memset(pm, 0, sizeof(*pm));
    if (strlen(id) == 0 || strlen(id) >= sizeof(pm->id))
        return fail(pm, PL_EUSAGE, "incident id: 1 to %d bytes", SWARM_ID_MAX - 1);
    memcpy(pm->id, id, strlen(id) + 1);
    pm->head = r->head;
    pm->total = r->total;
    if (r->from_audit && !r->audit_proofs)
        return fail(pm, PL_EUSAGE, "the trail carries no inclusion proofs; export it with "
                    "`platelet audit export --proofs`");
    uint64_t last_time_ms = 0;
    for (;;) {
        struct ledger_entry e;
        struct swarm_applied a;
        int rc = replay_step(r, &e, &a);
        if (rc == 1)
            break;
        if (rc != 0)
            return fail(pm, rc, "%s", r->err);
        last_time_ms = e.time_ms;
        struct swarm_incident_event step;
        bool has_step;
        int mark = classify(&e, &a, pm->id, &step, &has_step);
        if (mark < 0)
            continue;
        bool chain = mark < PM_CHAIN_END;
        if (!pm->found) {
            uint64_t from = e.time_ms > POSTMORTEM_BEFORE_MS ? e.time_ms - POSTMORTEM_BEFORE_MS
                                                             : 0;
            prune(pm, from);
            if (chain) {
                pm->found = true;
                pm->first_index = e.index;
                pm->first_time_ms = e.time_ms;
                pm->window_from_ms = from;
            }
        }
        if ((rc = add(pm, r, &e, &a, mark, &step, has_step)) != 0)
            return rc;
        if (chain && mark != PM_DUPLICATE &&
            (step.event == HEAL_EV_CLOSED || step.outcome[0] != '\0')) {
            pm->closed = true;
            pm->close_index = e.index;
            pm->close_time_ms = e.time_ms;
            break;
        }
    }
    if (!pm->found)
        return fail(pm, PL_ENOTFOUND, "incident '%s': no step of it among the %" PRIu64
                    " ledger entries", id, r->total);
    pm->window_to_ms = pm->closed ? pm->close_time_ms : last_time_ms;
    return 0;
}

void postmortem_close(struct postmortem *pm)
{
    for (size_t i = pm->start; i < pm->n; i++)
        entry_free(&pm->entries[i]);
    free(pm->entries);
    memset(pm, 0, sizeof(*pm));
}

/* ---- JSON ---- */

static void add_hex(cJSON *o, const char *key, const uint8_t *p, size_t n)
{
    char hex[2 * LEDGER_SIG_BYTES + 1];
    pl_hex_encode(p, n, hex);
    cJSON_AddStringToObject(o, key, hex);
}

static void add_time(cJSON *o, const char *key, uint64_t ms)
{
    char t[25];
    pl_time_format_rfc3339(ms, t);
    cJSON_AddStringToObject(o, key, t);
}

static cJSON *entry_json(const struct postmortem_entry *x)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", (double)x->index);
    cJSON_AddNumberToObject(o, "swarm_index", (double)(x->index + 1));
    cJSON_AddNumberToObject(o, "term", (double)x->term);
    add_time(o, "time", x->time_ms);
    cJSON_AddNumberToObject(o, "time_ms", (double)x->time_ms);
    cJSON_AddStringToObject(o, "kind", x->kind);
    cJSON_AddStringToObject(o, "mark", postmortem_mark_name(x->mark));
    cJSON_AddStringToObject(o, "outcome", swarm_outcome_name(x->outcome));
    if (x->outcome == SWARM_REJECTED)
        cJSON_AddStringToObject(o, "reason", x->reason);
    struct ledger_entry e;
    cJSON *body = NULL;
    if (ledger_entry_decode(x->leaf, x->leaf_len, &e) == 0) {
        struct pl_buf b;
        pl_buf_init(&b, AUDIT_LINE_MAX);
        if (pl_json_from_msgpack(e.body, e.body_len, &b) == 0)
            body = cJSON_ParseWithLength((const char *)b.data, b.len);
        pl_buf_close(&b);
    }
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(body, "node");
    cJSON_AddStringToObject(o, "node", cJSON_IsString(node) ? node->valuestring : "");
    if (x->has_step) {
        const struct swarm_incident_event *s = &x->step;
        cJSON *j = cJSON_AddObjectToObject(o, "step");
        cJSON_AddStringToObject(j, "incident", s->id);
        cJSON_AddNumberToObject(j, "seq", s->seq);
        cJSON_AddStringToObject(j, "service", s->service);
        cJSON_AddStringToObject(j, "event", heal_event_kind_name(s->event));
        cJSON_AddStringToObject(j, "action", heal_action_name(s->action));
        cJSON_AddNumberToObject(j, "result", s->result);
        cJSON_AddNumberToObject(j, "level", s->level);
        cJSON_AddStringToObject(j, "class", heal_class_name(s->cls));
        cJSON_AddStringToObject(j, "cause", heal_cause_name(s->cause));
        cJSON_AddStringToObject(j, "signal", heal_signal_name(s->signal));
        cJSON_AddStringToObject(j, "outcome", s->outcome);
        add_time(j, "t", s->t_ms);
        cJSON_AddStringToObject(j, "detail", s->detail);
    }
    cJSON_AddItemToObject(o, "body", body ? body : cJSON_CreateNull());
    char *b64 = malloc(pl_base64_len(x->leaf_len) + 1);
    if (b64 != NULL) {
        pl_base64_encode(x->leaf, x->leaf_len, b64);
        cJSON_AddStringToObject(o, "leaf", b64);
        free(b64);
    }
    add_hex(o, "leaf_hash", x->leaf_hash, MERKLE_HASH_BYTES);
    cJSON *path = cJSON_AddArrayToObject(o, "audit_path");
    for (size_t i = 0; i < x->path_len; i++) {
        char hex[2 * MERKLE_HASH_BYTES + 1];
        pl_hex_encode(x->path[i], MERKLE_HASH_BYTES, hex);
        cJSON_AddItemToArray(path, cJSON_CreateString(hex));
    }
    return o;
}

static void add_name(cJSON *arr, const char *name)
{
    if (name[0] == '\0')
        return;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) if (strcmp(it->valuestring, name) == 0) return;
    cJSON_AddItemToArray(arr, cJSON_CreateString(name));
}

cJSON *postmortem_json(const struct postmortem *pm)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "postmortem", 1);
    cJSON_AddStringToObject(o, "incident", pm->id);
    cJSON_AddStringToObject(o, "state", pm->closed ? "closed" : "open");
    cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
    cJSON *chain = cJSON_CreateArray(), *factors = cJSON_CreateArray();
    cJSON *decisions = cJSON_CreateArray();
    const struct swarm_incident_event *last = NULL;
    const cJSON *posterior = NULL;
    uint32_t counts[PM_MARK_COUNT] = {0};
    for (size_t i = pm->start; i < pm->n; i++) {
        const struct postmortem_entry *x = &pm->entries[i];
        cJSON *j = entry_json(x);
        counts[x->mark]++;
        if (x->mark < PM_CHAIN_END) {
            add_name(nodes, x->step.node);
            if (x->mark != PM_DUPLICATE)
                last = &x->step;
            cJSON_AddItemToArray(chain, j);
            continue;
        }
        /* A decision about this incident belongs to its chain's "decision" step. */
        const cJSON *inc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(j, "body"),
                                                            "incident");
        if (x->mark == PM_DECISION && cJSON_IsString(inc) && strcmp(inc->valuestring, pm->id) == 0) {
            cJSON_AddItemToArray(decisions, cJSON_CreateNumber((double)x->index));
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(j, "body"),
                                                              "posterior");
            if (p != NULL)
                posterior = p;
        }
        cJSON_AddItemToArray(factors, j);
    }
    cJSON_AddStringToObject(o, "service", last ? last->service : "");
    cJSON_AddStringToObject(o, "outcome", last ? last->outcome : "");
    cJSON *d = cJSON_AddObjectToObject(o, "diagnosis");
    cJSON_AddStringToObject(d, "signal", last ? heal_signal_name(last->signal) : "none");
    cJSON_AddStringToObject(d, "class", last ? heal_class_name(last->cls) : "none");
    cJSON_AddStringToObject(d, "cause", last ? heal_cause_name(last->cause) : "none");
    cJSON_AddNumberToObject(d, "level", last ? last->level : 0);
    cJSON_AddNullToObject(d, "confidence");
    cJSON_AddStringToObject(d, "confidence_note",
                            "not recorded: the ledger's incident steps carry no confidence");
    cJSON_AddItemToObject(o, "decisions", decisions);
    if (cJSON_GetArraySize(decisions) == 0)
        cJSON_AddStringToObject(o, "decisions_note", "none recorded");
    if (posterior != NULL) {
        cJSON_AddItemToObject(o, "posterior", cJSON_Duplicate(posterior, true));
    } else {
        cJSON_AddNullToObject(o, "posterior");
        cJSON_AddStringToObject(o, "posterior_note", "none recorded");
    }
    cJSON_AddNumberToObject(o, "first_index", (double)pm->first_index);
    if (pm->closed)
        cJSON_AddNumberToObject(o, "close_index", (double)pm->close_index);
    else
        cJSON_AddNullToObject(o, "close_index");
    cJSON *w = cJSON_AddObjectToObject(o, "window");
    add_time(w, "from", pm->window_from_ms);
    add_time(w, "to", pm->window_to_ms);
    cJSON_AddNumberToObject(w, "from_ms", (double)pm->window_from_ms);
    cJSON_AddNumberToObject(w, "to_ms", (double)pm->window_to_ms);
    cJSON_AddNumberToObject(w, "before_ms", POSTMORTEM_BEFORE_MS);
    cJSON_AddItemToObject(o, "chain", chain);
    cJSON_AddItemToObject(o, "factors", factors);
    cJSON_AddNumberToObject(o, "dropped", (double)pm->dropped);
    cJSON *m = cJSON_AddObjectToObject(o, "marks");
    for (int k = 0; k < PM_MARK_COUNT; k++)
        cJSON_AddNumberToObject(m, mark_names[k], counts[k]);
    cJSON *h = cJSON_AddObjectToObject(o, "head");
    cJSON_AddNumberToObject(h, "size", (double)pm->head.size);
    add_hex(h, "root", pm->head.root, MERKLE_HASH_BYTES);
    cJSON_AddNumberToObject(h, "time_ms", (double)pm->head.time_ms);
    add_hex(h, "public_key", pm->head.public_key, LEDGER_KEY_BYTES);
    add_hex(h, "signature", pm->head.signature, LEDGER_SIG_BYTES);
    return o;
}

/* ---- verification of the JSON form ---- */

static int hex_item(const cJSON *v, uint8_t *out, size_t n)
{
    if (!cJSON_IsString(v) || strlen(v->valuestring) != 2 * n)
        return PL_EMALFORMED;
    return pl_hex_decode(v->valuestring, 2 * n, out, n) == 0 ? 0 : PL_EMALFORMED;
}

static int hex_field(const cJSON *o, const char *key, uint8_t *out, size_t n)
{
    return hex_item(cJSON_GetObjectItemCaseSensitive(o, key), out, n);
}

static bool num_field(const cJSON *o, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0)
        return false;
    *out = (uint64_t)v->valuedouble;
    return (double)*out == v->valuedouble;
}

static int say(char *err, size_t n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *err, size_t n, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return rc;
}

/* One listed entry against its leaf and the head. */
static int verify_entry(const cJSON *j, const struct ledger_head *h, char *err, size_t n)
{
    uint64_t index = 0, term = 0, time_ms = 0;
    const cJSON *leaf64 = cJSON_GetObjectItemCaseSensitive(j, "leaf");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(j, "audit_path");
    if (!num_field(j, "index", &index) || !num_field(j, "term", &term) ||
        !num_field(j, "time_ms", &time_ms) || !cJSON_IsString(leaf64) ||
        !cJSON_IsString(kind) || !cJSON_IsArray(path) ||
        cJSON_GetArraySize(path) > MERKLE_PROOF_MAX)
        return say(err, n, PL_EMALFORMED, "an entry lacks index, term, time_ms, kind, leaf or "
                   "audit_path");
    size_t cap = strlen(leaf64->valuestring), len = 0;
    uint8_t *leaf = malloc(cap + 1);
    if (leaf == NULL)
        return -ENOMEM;
    int rc = 0;
    uint8_t want[MERKLE_HASH_BYTES], got[MERKLE_HASH_BYTES];
    uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_BYTES];
    size_t plen = 0;
    struct ledger_entry e;
    if (pl_base64_decode(leaf64->valuestring, cap, leaf, cap + 1, &len) != 0 ||
        hex_field(j, "leaf_hash", want, MERKLE_HASH_BYTES) != 0) {
        rc = say(err, n, PL_EMALFORMED, "entry %" PRIu64 ": leaf or leaf_hash is not "
                 "base64/hex", index);
        goto done;
    }
    merkle_leaf_hash(leaf, len, got);
    if (memcmp(got, want, MERKLE_HASH_BYTES) != 0) {
        rc = say(err, n, PL_EVERIFY, "entry %" PRIu64 ": the leaf does not hash to leaf_hash",
                 index);
        goto done;
    }
    if (ledger_entry_decode(leaf, len, &e) != 0 || e.index != index || e.term != term ||
        e.time_ms != time_ms || e.kind_len != strlen(kind->valuestring) ||
        memcmp(e.kind, kind->valuestring, e.kind_len) != 0) {
        rc = say(err, n, PL_EVERIFY, "entry %" PRIu64 ": index, term, time or kind differ "
                 "from its leaf", index);
        goto done;
    }
    struct pl_buf b;
    pl_buf_init(&b, AUDIT_LINE_MAX);
    cJSON *body = NULL;
    if (pl_json_from_msgpack(e.body, e.body_len, &b) == 0)
        body = cJSON_ParseWithLength((const char *)b.data, b.len);
    pl_buf_close(&b);
    bool same = body != NULL &&
                cJSON_Compare(body, cJSON_GetObjectItemCaseSensitive(j, "body"), true);
    cJSON_Delete(body);
    if (!same) {
        rc = say(err, n, PL_EVERIFY, "entry %" PRIu64 ": the body shown is not its leaf's",
                 index);
        goto done;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, path)
    {
        if (hex_item(it, proof[plen], MERKLE_HASH_BYTES) != 0) {
            rc = say(err, n, PL_EMALFORMED, "entry %" PRIu64 ": audit_path holds a non-hash",
                     index);
            goto done;
        }
        plen++;
    }
    if (merkle_inclusion_verify(index, h->size, got, (const uint8_t(*)[MERKLE_HASH_BYTES])proof,
                                plen, h->root) != 0)
        rc = say(err, n, PL_EVERIFY, "entry %" PRIu64 ": the inclusion proof does not verify "
                 "against the head of size %" PRIu64, index, h->size);
done:
    free(leaf);
    return rc;
}

int postmortem_verify(const cJSON *doc, uint64_t *verified, char *err, size_t err_size)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(doc, "head");
    struct ledger_head head;
    memset(&head, 0, sizeof(head));
    if (!cJSON_IsObject(h) || !num_field(h, "size", &head.size) ||
        !num_field(h, "time_ms", &head.time_ms) ||
        hex_field(h, "root", head.root, MERKLE_HASH_BYTES) != 0 ||
        hex_field(h, "public_key", head.public_key, LEDGER_KEY_BYTES) != 0 ||
        hex_field(h, "signature", head.signature, LEDGER_SIG_BYTES) != 0)
        return say(err, err_size, PL_EMALFORMED, "head: needs size, time_ms, root, public_key "
                   "and signature");
    if (ledger_head_verify(&head) != 0)
        return say(err, err_size, PL_EVERIFY, "head: the signature of the head of size %" PRIu64
                   " is invalid", head.size);
    uint64_t n = 0;
    static const char *const lists[] = {"chain", "factors"};
    for (size_t l = 0; l < 2; l++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, lists[l]);
        if (!cJSON_IsArray(arr))
            return say(err, err_size, PL_EMALFORMED, "%s: missing or not a list", lists[l]);
        const cJSON *it;
        cJSON_ArrayForEach(it, arr)
        {
            int rc = verify_entry(it, &head, err, err_size);
            if (rc != 0)
                return rc;
            n++;
        }
    }
    *verified = n;
    return 0;
}
