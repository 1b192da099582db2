/*
 * `platelet replay`: the swarm's state as a node had it at any point, rebuilt offline from a
 * data directory (read-only, beside a running agent) or from a verified audit trail.
 *
 *   platelet replay (--data-dir D | --audit FILE) [--at-index N | --at-time T] [--json]
 *   platelet replay (--data-dir D | --audit FILE) --step [--from A] [--to B] [--json]
 *   platelet replay diff (--data-dir D | --audit FILE) --from A --to B [--json]
 *   platelet replay snapshots --data-dir D [--json]
 *
 * A and B are indexes (entries applied) or times (RFC 3339, or milliseconds since 1970 when
 * larger than any index could be). A progress bar goes to stderr when it is a terminal and
 * the replay is long. From a data directory the replay starts from the nearest state snapshot
 * at or before where it goes (`--no-snapshots`: from the first entry).
 */
#include "api_client.h"
#include "cli.h"
#include "commands.h"
#include "pl_err.h"
#include "pl_text.h"
#include "replay.h"
#include "snapshot_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_AFTER_S 0.5
#define PROGRESS_WIDTH 30
/* A bare number above this is a time in ms, not an index (2001-09-09 in ms). */
#define INDEX_MAX_AS_NUMBER 1000000000000ull

/* Where to stop: after `index` entries, or before the first entry later than `time_ms`. */
struct point {
    bool is_time;
    uint64_t index;
    uint64_t time_ms;
};

static int parse_point(const char *cmd, const char *flag, const char *text, struct point *p)
{
    memset(p, 0, sizeof(*p));
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (end != text && *end == '\0' && text[0] != '-') {
        p->is_time = v >= INDEX_MAX_AS_NUMBER;
        p->index = v;
        p->time_ms = v;
        return 0;
    }
    if (pl_time_parse(text, &p->time_ms) == 0) {
        p->is_time = true;
        return 0;
    }
    return cli_fail(cmd, "%s: '%s' is neither an index nor a time (RFC 3339)", flag, text);
}

static bool reached(const struct point *p, const struct swarm_state *s, uint64_t next_time_ms)
{
    return p->is_time ? next_time_ms > p->time_ms : s->applied_index >= p->index;
}

struct run {
    const char *cmd;
    struct replay r;
    bool progress;       /* stderr is a terminal */
    bool drawn;          /* the bar is on the screen */
    double started_s;    /* when the first entry was applied (0: not yet) */
    uint64_t started_at; /* the index it was applied at */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A bar on stderr, drawn only once a replay has run PROGRESS_AFTER_S (a short one, from a
 * snapshot say, draws nothing), then every 8192 entries; the last draw ends the line. */
static void progress(struct run *x, bool done)
{
    if (!x->progress)
        return;
    uint64_t n = x->r.state->applied_index, total = x->r.total;
    if (x->started_s == 0) {
        x->started_s = mono_s();
        x->started_at = n;
    }
    if (!done && n % 8192 != 0)
        return;
    double el = mono_s() - x->started_s;
    if (!x->drawn && (done || el < PROGRESS_AFTER_S))
        return;
    double part = total ? (double)n / (double)total : 1.0;
    char bar[PROGRESS_WIDTH + 1];
    int full = (int)(part * PROGRESS_WIDTH);
    for (int i = 0; i < PROGRESS_WIDTH; i++)
        bar[i] = i < full ? '#' : '.';
    bar[PROGRESS_WIDTH] = '\0';
    double rate = el > 0 ? (double)(n - x->started_at) / el : 0;
    double eta = rate > 0 ? (double)(total - n) / rate : 0;
    fprintf(stderr, "\rreplay [%s] %3.0f%% %" PRIu64 "/%" PRIu64 " %.0f entries/s, %s %.0f s  ",
            bar, 100.0 * part, n, total, rate, done ? "took" : "ETA", done ? el : eta);
    if (done)
        fputc('\n', stderr);
    x->drawn = true;
}

/* Applies entries until `to` is reached (or the end); with `each`, calls it per entry. The
 * leaves replayed are then checked against the ledger's root at that size. */
static int run_to(struct run *x, const struct point *to,
                  void (*each)(struct run *, const struct ledger_entry *,
                               const struct swarm_applied *, void *),
                  void *data)
{
    /* Without a look at each entry's state, its hash is brought up to date once, at the
     * end (swarm_state_hash_defer); `each` sees every state's hash. */
    swarm_state_hash_defer(x->r.state, each == NULL);
    int rc;
    for (;;) {
        struct ledger_entry e;
        if ((rc = replay_peek(&x->r, &e)) != 0 ||
            (to != NULL && reached(to, x->r.state, e.time_ms)))
            break;
        struct swarm_applied a;
        if ((rc = replay_step(&x->r, &e, &a)) != 0)
            break;
        if (each != NULL)
            each(x, &e, &a, data);
        progress(x, false);
    }
    swarm_state_hash_defer(x->r.state, false);
    return rc == 0 || rc == 1 ? replay_verify(&x->r) : rc;
}

static void print_state(const struct swarm_state *s)
{
    char hash[SWARM_HASH_BYTES * 2 + 1];
    pl_hex_encode(s->hash, SWARM_HASH_BYTES, hash);
    printf("state at index %" PRIu64 " (term %" PRIu64 "), hash %s\n", s->applied_index,
           s->applied_term, hash);
    printf("entries   %" PRIu64 " applied, %" PRIu64 " duplicates, %" PRIu64 " foreign, %" PRIu64
           " rejected\n",
           s->counters.applied, s->counters.duplicates, s->counters.foreign,
           s->counters.rejected);
    if (s->last_rejection[0])
        printf("rejected  last: %s\n", s->last_rejection);
    for (uint32_t i = 0; i < s->nmembers; i++)
        printf("member    %-20s %-6s incarnation %" PRIu64 " since %" PRIu64 "\n",
               s->members[i].name, swarm_member_status_name(s->members[i].status),
               s->members[i].incarnation, s->members[i].since_index);
    for (uint32_t i = 0; i < s->nincidents; i++) {
        const struct swarm_incident *x = &s->incidents[i];
        printf("incident  %-34s %-10s on %-12s %-6s %-9s level %u, %u action(s)\n", x->id,
               x->service, x->node, x->closed ? "closed" : "open", x->outcome, x->level,
               x->actions);
    }
    for (uint32_t i = 0; i < s->nplacements; i++)
        printf("placement %-20s on %-12s since %" PRIu64 " (term %" PRIu64 ")\n",
               s->placements[i].service, s->placements[i].node, s->placements[i].index,
               s->placements[i].term);
    for (uint32_t i = 0; i < s->ndecisions; i++) {
        const struct swarm_decision *d = &s->decisions[i];
        printf("decision  %-6" PRIu64 " %-8s %s on %s (term %" PRIu64 ")\n", d->index,
               swarm_decision_state_name(d->state), d->service, d->node, d->term);
    }
}

/* data: a cJSON array to collect into, or NULL to print each entry as it comes. */
static void collect_entry(struct run *x, const struct ledger_entry *e,
                          const struct swarm_applied *a, void *data)
{
    cJSON_AddItemToArray(data, replay_entry_json(e, a, x->r.state));
}

static void emit_entry(struct run *x, const struct ledger_entry *e, const struct swarm_applied *a,
                       void *data)
{
    bool json = *(bool *)data;
    cJSON *j = replay_entry_json(e, a, x->r.state);
    if (json) {
        char *t = cJSON_PrintUnformatted(j);
        printf("%s\n", t);
        free(t);
    } else {
        printf("%-7.0f %s  %-14s %-9s %s%s\n", json_num(j, "index"), json_str(j, "time"),
               json_str(j, "kind"), json_str(j, "outcome"),
               a->outcome == SWARM_REJECTED ? a->reason : "",
               a->decision ? " (decision)" : a->placement ? " (placement)" : "");
    }
    cJSON_Delete(j);
}

static int open_source(struct run *x, const char *data_dir, const char *audit,
                       bool no_snapshots)
{
    if ((data_dir == NULL) == (audit == NULL))
        return cli_fail(x->cmd, "give exactly one of --data-dir D and --audit FILE");
    int rc = data_dir ? replay_open_dir(&x->r, data_dir) : replay_open_audit(&x->r, audit);
    if (rc != 0)
        return rc; /* finish() prints x->r.err */
    x->r.no_snapshots = no_snapshots;
    x->progress = isatty(STDERR_FILENO);
    return 0;
}

/* Starts from the nearest snapshot before point p (or before the end when p is NULL). */
static int seek(struct run *x, const struct point *p)
{
    if (p == NULL)
        return replay_seek(&x->r, x->r.total);
    return p->is_time ? replay_seek_time(&x->r, p->time_ms) : replay_seek(&x->r, p->index);
}

static int finish(struct run *x, int rc)
{
    if (rc != 0 && rc != PL_EUSAGE && x->r.err[0])
        fprintf(stderr, "%s: %s\n", x->cmd, x->r.err);
    replay_close(&x->r);
    return rc;
}

static int cmd_replay_diff(int argc, char **argv)
{
    struct run x = {.cmd = "platelet replay diff"};
    const char *data_dir = NULL, *audit = NULL, *from = NULL, *to = NULL;
    bool json = false, no_snapshots = false;
    struct cli_flag flags[] = {
        {"--data-dir", CLI_STR, &data_dir, "a node's data directory (read-only)", false, false},
        {"--audit", CLI_STR, &audit, "an exported audit trail (verified first)", false, false},
        {"--from", CLI_STR, &from, "index or time: the state before", true, false},
        {"--to", CLI_STR, &to, "index or time: the state after", true, false},
        {"--json", CLI_BOOL, &json, "one JSON document", false, false},
        {"--no-snapshots", CLI_BOOL, &no_snapshots, "replay from the first entry", false,
         false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(x.cmd, "platelet replay diff (--data-dir D | --audit FILE) --from A --to B"
                       " [--json] [--no-snapshots]", flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    struct point a, b;
    if ((rc = parse_point(x.cmd, "--from", from, &a)) != 0 ||
        (rc = parse_point(x.cmd, "--to", to, &b)) != 0)
        return rc;
    if ((rc = open_source(&x, data_dir, audit, no_snapshots)) != 0 || (rc = seek(&x, &a)) != 0)
        return finish(&x, rc);
    if ((rc = run_to(&x, &a, NULL, NULL)) != 0)
        return finish(&x, rc);
    cJSON *before = replay_state_json(x.r.state);
    cJSON *entries = cJSON_CreateArray();
    if (!json)
        printf("from index %" PRIu64 ":\n", x.r.state->applied_index);
    rc = json ? run_to(&x, &b, collect_entry, entries) : run_to(&x, &b, emit_entry, &json);
    progress(&x, true);
    if (rc == 0) {
        cJSON *after = replay_state_json(x.r.state);
        if (json) {
            cJSON *doc = cJSON_CreateObject();
            cJSON_AddItemToObject(doc, "from", before);
            cJSON_AddItemToObject(doc, "entries", entries);
            cJSON_AddItemToObject(doc, "to", after);
            char *t = cJSON_PrintUnformatted(doc);
            printf("%s\n", t);
            free(t);
            cJSON_Delete(doc);
            before = entries = NULL;
        } else {
            printf("to index %" PRIu64 ": state hash %s -> %s\n", x.r.state->applied_index,
                   json_str(before, "state_hash"), json_str(after, "state_hash"));
            cJSON_Delete(after);
        }
    }
    cJSON_Delete(before);
    cJSON_Delete(entries);
    return finish(&x, rc);
}

/* `platelet replay snapshots`: the state snapshots a data directory holds, each checked. */
static int cmd_replay_snapshots(int argc, char **argv)
{
    struct run x = {.cmd = "platelet replay snapshots"};
    const char *data_dir = NULL;
    bool json = false;
    struct cli_flag flags[] = {
        {"--data-dir", CLI_STR, &data_dir, "a node's data directory (read-only)", true, false},
        {"--json", CLI_BOOL, &json, "one JSON document", false, false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(x.cmd, "platelet replay snapshots --data-dir D [--json]", flags, argc,
                       argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if ((rc = replay_open_dir(&x.r, data_dir)) != 0)
        return finish(&x, rc);
    size_t n = 0, total = 0;
    uint64_t *idx = NULL;
    rc = snapshot_list(&x.r.store, NULL, 0, &n, &total);
    if (rc == 0 && total > 0 && (idx = malloc(total * sizeof(*idx))) == NULL)
        rc = -ENOMEM;
    if (rc == 0 && total > 0)
        rc = snapshot_list(&x.r.store, idx, total, &n, NULL);
    if (rc != 0) {
        snprintf(x.r.err, sizeof(x.r.err), "listing the snapshots: %s", pl_strerror(rc));
        free(idx);
        return finish(&x, rc);
    }
    cJSON *list = cJSON_CreateArray();
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        char why[256] = "", hash[SWARM_HASH_BYTES * 2 + 1] = "";
        int c = replay_snap_read(&x.r.store, &x.r.ledger, idx[i], x.r.state, why, sizeof(why));
        if (c == 0)
            pl_hex_encode(x.r.state->hash, SWARM_HASH_BYTES, hash);
        bad += c != 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", (double)idx[i]);
        cJSON_AddBoolToObject(o, "usable", c == 0);
        cJSON_AddStringToObject(o, "state_hash", hash);
        cJSON_AddStringToObject(o, "why", why);
        cJSON_AddItemToArray(list, o);
        if (!json)
            printf("%-10" PRIu64 " %s\n", idx[i], c == 0 ? hash : why);
    }
    free(idx);
    if (json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddNumberToObject(doc, "ledger_size", (double)x.r.total);
        cJSON_AddItemToObject(doc, "snapshots", list);
        char *t = cJSON_PrintUnformatted(doc);
        printf("%s\n", t);
        free(t);
        cJSON_Delete(doc);
    } else {
        printf("%zu state snapshot(s), %" PRIu64 " unusable, ledger of %" PRIu64 " entries\n", n,
               bad, x.r.total);
        cJSON_Delete(list);
    }
    return finish(&x, 0);
}

int cmd_replay(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "diff") == 0)
        return cmd_replay_diff(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "snapshots") == 0)
        return cmd_replay_snapshots(argc - 1, argv + 1);
    struct run x = {.cmd = "platelet replay"};
    const char *data_dir = NULL, *audit = NULL, *at_time = NULL, *from = NULL, *to = NULL;
    uint64_t at_index = 0;
    bool json = false, step = false, no_snapshots = false;
    struct cli_flag flags[] = {
        {"--data-dir", CLI_STR, &data_dir, "a node's data directory (read-only)", false, false},
        {"--audit", CLI_STR, &audit, "an exported audit trail (verified first)", false, false},
        {"--at-index", CLI_U64, &at_index, "the state after this many entries", false, false},
        {"--at-time", CLI_STR, &at_time, "the state at this time (RFC 3339 or ms)", false,
         false},
        {"--step", CLI_BOOL, &step, "every entry with what it did to the state", false, false},
        {"--from", CLI_STR, &from, "with --step: start after this index or time", false,
         false},
        {"--to", CLI_STR, &to, "with --step: stop at this index or time", false, false},
        {"--json", CLI_BOOL, &json, "JSON (one document; with --step one line each)", false,
         false},
        {"--no-snapshots", CLI_BOOL, &no_snapshots, "replay from the first entry, not from the "
         "nearest state snapshot", false, false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(x.cmd,
                       "platelet replay (--data-dir D | --audit FILE) [--at-index N | --at-time T]"
                       " [--step [--from A] [--to B]] [--json] [--no-snapshots]\n"
                       "       platelet replay diff (--data-dir D | --audit FILE) --from A --to B\n"
                       "       platelet replay snapshots --data-dir D [--json]",
                       flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    bool has_index = flags[2].seen;
    if (has_index && at_time != NULL)
        return cli_fail(x.cmd, "give at most one of --at-index and --at-time");
    if ((from != NULL || to != NULL) && !step)
        return cli_fail(x.cmd, "--from and --to go with --step (or use `platelet replay diff`)");
    struct point stop = {0}, start = {0};
    bool has_stop = has_index || at_time != NULL || to != NULL;
    if (has_index)
        stop.index = at_index;
    else if (at_time != NULL && (rc = parse_point(x.cmd, "--at-time", at_time, &stop)) != 0)
        return rc;
    else if (at_time != NULL)
        stop.is_time = true;
    if (to != NULL && (rc = parse_point(x.cmd, "--to", to, &stop)) != 0)
        return rc;
    if (from != NULL && (rc = parse_point(x.cmd, "--from", from, &start)) != 0)
        return rc;
    if ((rc = open_source(&x, data_dir, audit, no_snapshots)) != 0)
        return finish(&x, rc);
    if (has_index && at_index > x.r.total) {
        snprintf(x.r.err, sizeof(x.r.err), "--at-index %" PRIu64 ": the source holds %" PRIu64
                 " entries", at_index, x.r.total);
        return finish(&x, PL_ERANGE);
    }
    if (step) {
        if (from != NULL && ((rc = seek(&x, &start)) != 0 ||
                             (rc = run_to(&x, &start, NULL, NULL)) != 0))
            return finish(&x, rc);
        rc = run_to(&x, has_stop ? &stop : NULL, emit_entry, &json);
        progress(&x, true);
        return finish(&x, rc);
    }
    if ((rc = seek(&x, has_stop ? &stop : NULL)) != 0)
        return finish(&x, rc);
    rc = run_to(&x, has_stop ? &stop : NULL, NULL, NULL);
    progress(&x, true);
    if (rc == 0) {
        if (json) {
            cJSON *j = replay_state_json(x.r.state);
            cJSON_AddNumberToObject(j, "from_snapshot", (double)x.r.snap.index);
            char *t = cJSON_PrintUnformatted(j);
            printf("%s\n", t);
            free(t);
            cJSON_Delete(j);
        } else {
            if (x.r.snap.index > 0)
                printf("from the state snapshot at index %" PRIu64 "\n", x.r.snap.index);
            print_state(x.r.state);
        }
        if (x.r.snap.skipped > 0)
            fprintf(stderr, "%s: %u newer state snapshot(s) skipped: %s\n", x.cmd,
                    x.r.snap.skipped, x.r.snap.why);
    }
    return finish(&x, rc);
}
