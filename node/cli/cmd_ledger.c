/*
 * `platelet ledger append|status|proof|consistency|check`: the ledger from the command
 * line. Writers (append) open the data dir's RocksDB read-write, which takes its lock and
 * creates the dir and the node key at first use; readers open it read-only and never create
 * anything, so a mistyped --data-dir is an error rather than a new empty ledger.
 */
#include "pl_assert.h"
#include "pl_clock.h"
#include "pl_err.h"
#include "pl_text.h"
#include "cli.h"
#include "commands.h"
#include "ledger.h"
#include "merkle.h"
#include "pl_json.h"
#include "pl_keys.h"
#include "pl_store.h"
#include "raft_storage.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JSON lines longer than this are refused (a body must fit a 64 KiB leaf anyway). */
#define APPEND_LINE_MAX (256 * 1024)
/* One batch's parsed bodies together. */
#define APPEND_BATCH_BYTES_MAX (512u * 1024 * 1024)
#define APPEND_BATCH_DEFAULT_MAX 1000000

struct opened
{
    struct pl_store store;
    struct pl_keys keys;
    struct ledger ledger;
    bool have_keys;
};

static int open_ledger(const char *cmd, const char *data_dir, bool write, struct opened *o)
{
    memset(o, 0, sizeof(*o));
    int rc = pl_store_open(&o->store, data_dir, write ? PL_STORE_CREATE : PL_STORE_READ_ONLY);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", cmd, o->store.err_text);
        return rc;
    }
    if (write) {
        char err[512] = "";
        rc = pl_keys_open(&o->keys, data_dir, true, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "%s: %s\n", cmd, err);
            pl_store_close(&o->store);
            return rc;
        }
        o->have_keys = true;
    }
    rc = ledger_open(&o->ledger, &o->store, o->have_keys ? &o->keys : NULL);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot open the ledger: %s (run 'platelet ledger check')\n", cmd,
                o->ledger.err_text[0] ? o->ledger.err_text : pl_strerror(rc));
        if (o->have_keys)
            pl_keys_close(&o->keys);
        pl_store_close(&o->store);
        return rc;
    }
    return 0;
}

static void close_ledger(struct opened *o)
{
    ledger_close(&o->ledger);
    if (o->have_keys)
        pl_keys_close(&o->keys);
    pl_store_close(&o->store);
}

static void print_hex(const uint8_t *p, size_t n)
{
    char hex[2 * 64 + 1];
    PL_ASSERT(n <= 64);
    pl_hex_encode(p, n, hex);
    fputs(hex, stdout);
}

/* ---- append ---- */

struct batch
{
    struct pl_buf bodies;
    size_t *offsets; /* start of body i in bodies; offsets[n] = bodies.len */
    size_t n, cap;
    uint64_t first_line;
    uint64_t time_ms; /* the entries' time; 0: the time of the append */
};

static int batch_add(struct batch *b, const char *line, size_t len, char *err, size_t err_size)
{
    if (b->n + 1 >= b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 1024;
        size_t *p = realloc(b->offsets, cap * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        b->offsets = p;
        b->cap = cap;
    }
    size_t start = b->bodies.len;
    int rc = pl_json_to_msgpack(line, len, &b->bodies, err, err_size);
    if (rc != 0)
        return rc;
    /* The body plus the entry's envelope must fit one leaf. */
    if (b->bodies.len - start > LEDGER_LEAF_MAX - 128) {
        b->bodies.len = start;
        snprintf(err, err_size, "body is larger than %d bytes", LEDGER_LEAF_MAX - 128);
        return PL_ETOOBIG;
    }
    b->offsets[b->n] = start;
    b->n++;
    b->offsets[b->n] = b->bodies.len;
    return 0;
}

static int batch_commit(const char *cmd,
                        struct opened *o,
                        struct batch *b,
                        const char *kind,
                        bool json,
                        uint64_t *appended)
{
    if (b->n == 0)
        return 0;
    struct ledger_entry *entries = calloc(b->n, sizeof(*entries));
    if (entries == NULL)
        return -ENOMEM;
    uint64_t now = pl_clock_system()->wall_ms(pl_clock_system());
    for (size_t i = 0; i < b->n; i++) {
        entries[i].term = 0;
        entries[i].time_ms = b->time_ms ? b->time_ms : now;
        entries[i].kind = kind;
        entries[i].kind_len = strlen(kind);
        entries[i].body = b->bodies.data + b->offsets[i];
        entries[i].body_len = b->offsets[i + 1] - b->offsets[i];
    }
    struct ledger_head h;
    int rc = ledger_append(&o->ledger, entries, b->n, now, &h);
    free(entries);
    if (rc != 0) {
        fprintf(stderr, "%s: appending lines %" PRIu64 "..: %s\n", cmd, b->first_line,
                o->ledger.err_text[0] ? o->ledger.err_text : pl_strerror(rc));
        return rc;
    }
    *appended += b->n;
    if (!json) {
        /* The acknowledgement: this batch is durable (synced) once this line is out. */
        printf("appended %zu size %" PRIu64 " root ", b->n, h.size);
        print_hex(h.root, MERKLE_HASH_BYTES);
        putchar('\n');
        fflush(stdout);
    }
    pl_buf_reset(&b->bodies);
    b->n = 0;
    return 0;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* A council member's ledger is the council's state machine: only Raft may append to it. An
 * entry written here would leave the ledger longer than the Raft log, and the agent would
 * then refuse to start. */
static int refuse_council_ledger(const char *cmd, const char *data_dir, struct opened *o)
{
    bool in_use = false;
    int rc = raft_storage_in_use(&o->store, &in_use);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", cmd, data_dir, o->store.err_text);
        return rc;
    }
    if (!in_use)
        return 0;
    fprintf(stderr,
            "%s: %s is a council member's data dir: its ledger is written by Raft alone, and an "
            "entry appended here would stop the agent from starting; propose it through the "
            "council instead (platelet propose --api unix:%s/api.sock)\n",
            cmd, data_dir, data_dir);
    return PL_ESTATE;
}

static int cmd_ledger_append(int argc, char **argv)
{
    const char *cmd = "platelet ledger append";
    const char *data_dir = NULL, *kind = "event", *time_text = NULL;
    uint64_t batch_size = 0, time_ms = 0;
    bool json = false;
    struct cli_flag flags[] = {
        {"--data-dir", CLI_STR, &data_dir, "the node's data directory (created if missing)", true,
         false},
        {"--kind", CLI_STR, &kind, "entry kind, e.g. detect, decision (default event)", false,
         false},
        {"--batch", CLI_U64, &batch_size,
         "commit every N lines and print one acknowledgement line per batch (default: all "
         "input is one batch)",
         false, false},
        {"--time", CLI_STR, &time_text,
         "stamp the entries with this time (RFC 3339 or ms) instead of now: records imported "
         "with their own times, test ledgers",
         false, false},
        {"--json", CLI_BOOL, &json, "print one JSON document at the end", false, false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(
        cmd, "platelet ledger append --data-dir D [--kind K] [--batch N] [--time T] [--json] "
        "< lines.jsonl",
        flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    struct ledger_problem problem;
    if (ledger_kind_check(kind, strlen(kind), &problem) != 0)
        return cli_fail(cmd, "--%s", problem.text);
    if (batch_size > LEDGER_BATCH_MAX)
        return cli_fail(cmd, "--batch: at most %u", LEDGER_BATCH_MAX);
    if (time_text != NULL) {
        char *end = NULL;
        unsigned long long v = strtoull(time_text, &end, 10);
        if (end != time_text && *end == '\0' && time_text[0] != '-')
            time_ms = v;
        else if (pl_time_parse(time_text, &time_ms) != 0)
            time_ms = 0;
        if (time_ms == 0 || time_ms > LEDGER_TIME_MS_MAX)
            return cli_fail(cmd, "--time: '%s' is not a time (RFC 3339, or ms since 1970)",
                            time_text);
    }
    uint64_t max_batch = batch_size ? batch_size : APPEND_BATCH_DEFAULT_MAX;

    struct opened o;
    rc = open_ledger(cmd, data_dir, true, &o);
    if (rc != 0)
        return rc;
    rc = refuse_council_ledger(cmd, data_dir, &o);
    if (rc != 0) {
        close_ledger(&o);
        return rc;
    }

    struct batch b;
    memset(&b, 0, sizeof(b));
    b.time_ms = time_ms;
    pl_buf_init(&b.bodies, APPEND_BATCH_BYTES_MAX);
    char *line = malloc(APPEND_LINE_MAX + 2);
    uint64_t lineno = 0, appended = 0;
    if (line == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    for (;;) {
        size_t len = 0;
        int c = 0;
        while ((c = getchar()) != EOF && c != '\n') {
            if (len > APPEND_LINE_MAX) {
                fprintf(stderr,
                        "%s: line %" PRIu64
                        ": longer than %d bytes; its batch was not "
                        "appended\n",
                        cmd, lineno + 1, APPEND_LINE_MAX);
                rc = PL_ETOOBIG;
                goto done;
            }
            line[len++] = (char)c;
        }
        if (c == EOF && ferror(stdin)) {
            fprintf(stderr, "%s: reading stdin failed\n", cmd);
            rc = -EIO;
            goto done;
        }
        if (c == EOF && len == 0)
            break;
        lineno++;
        if (!is_blank(line, len)) {
            if (b.n == 0)
                b.first_line = lineno;
            char err[160] = "";
            rc = batch_add(&b, line, len, err, sizeof(err));
            if (rc != 0) {
                fprintf(stderr,
                        "%s: line %" PRIu64 ": %s; its batch (from line %" PRIu64
                        ") was not appended\n",
                        cmd, lineno, err[0] ? err : pl_strerror(rc), b.first_line);
                goto done;
            }
            if (b.n >= max_batch) {
                if (batch_size == 0) {
                    fprintf(stderr, "%s: more than %" PRIu64 " lines in one batch; use --batch N\n",
                            cmd, max_batch);
                    rc = PL_ETOOBIG;
                    goto done;
                }
                rc = batch_commit(cmd, &o, &b, kind, json, &appended);
                if (rc != 0)
                    goto done;
            }
        }
        if (c == EOF)
            break;
    }
    rc = batch_commit(cmd, &o, &b, kind, json, &appended);
    if (rc != 0)
        goto done;
    if (json) {
        printf("{\"appended\":%" PRIu64 ",\"size\":%" PRIu64 ",\"root\":\"", appended,
               o.ledger.size);
        print_hex(o.ledger.root, MERKLE_HASH_BYTES);
        printf("\"}\n");
    } else if (appended == 0) {
        printf("appended 0 size %" PRIu64 " root ", o.ledger.size);
        print_hex(o.ledger.root, MERKLE_HASH_BYTES);
        putchar('\n');
    }
done:
    free(line);
    free(b.offsets);
    pl_buf_close(&b.bodies);
    close_ledger(&o);
    return rc;
}

/* ---- status ---- */

static void print_head_json(const struct ledger_head *h)
{
    printf("{\"size\":%" PRIu64 ",\"root\":\"", h->size);
    print_hex(h->root, MERKLE_HASH_BYTES);
    printf("\",\"time_ms\":%" PRIu64 ",\"public_key\":\"", h->time_ms);
    print_hex(h->public_key, LEDGER_KEY_BYTES);
    printf("\",\"signature\":\"");
    print_hex(h->signature, LEDGER_SIG_BYTES);
    printf("\"}");
}

/* The flags of the commands that take only --data-dir and --json; cli_parse's return. */
static int parse_dir_json(const char *cmd, const char *usage, int argc, char **argv,
                          const char **data_dir, bool *json)
{
    struct cli_flag flags[] = {
        {"--data-dir", CLI_STR, data_dir, "the node's data directory", true, false},
        {"--json", CLI_BOOL, json, "print one JSON document", false, false},
        {0},
    };
    struct cli_args args;
    return cli_parse(cmd, usage, flags, argc, argv, 0, 0, &args);
}

static int cmd_ledger_status(int argc, char **argv)
{
    const char *cmd = "platelet ledger status";
    const char *data_dir = NULL;
    bool json = false;
    int rc = parse_dir_json(cmd, "platelet ledger status --data-dir D [--json]", argc, argv,
                            &data_dir, &json);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    struct opened o;
    rc = open_ledger(cmd, data_dir, false, &o);
    if (rc != 0)
        return rc;
    struct ledger *l = &o.ledger;
    if (json) {
        printf("{\"size\":%" PRIu64 ",\"root\":\"", l->size);
        print_hex(l->root, MERKLE_HASH_BYTES);
        printf("\",\"head\":");
        if (l->size > 0)
            print_head_json(&l->head);
        else
            printf("null");
        printf("}\n");
    } else {
        printf("size        %" PRIu64 "\nroot        ", l->size);
        print_hex(l->root, MERKLE_HASH_BYTES);
        putchar('\n');
        if (l->size > 0) {
            char when[25];
            pl_time_format_rfc3339(l->head.time_ms, when);
            printf("head        size %" PRIu64 ", signed %s\npublic key  ", l->head.size, when);
            print_hex(l->head.public_key, LEDGER_KEY_BYTES);
            printf("\nsignature   ");
            print_hex(l->head.signature, LEDGER_SIG_BYTES);
            putchar('\n');
        } else {
            printf("head        none (empty ledger)\n");
        }
    }
    close_ledger(&o);
    return 0;
}

/* ---- proof ---- */

static void print_path_json(uint8_t path[][MERKLE_HASH_BYTES], size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        printf(i ? ",\"" : "\"");
        print_hex(path[i], MERKLE_HASH_BYTES);
        putchar('"');
    }
    putchar(']');
}

/* One hash a line, indented, for the text output of proof and consistency. */
static void print_path_text(uint8_t path[][MERKLE_HASH_BYTES], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("  ");
        print_hex(path[i], MERKLE_HASH_BYTES);
        putchar('\n');
    }
}

static int cmd_ledger_proof(int argc, char **argv)
{
    const char *cmd = "platelet ledger proof";
    const char *data_dir = NULL;
    uint64_t index = 0, size = 0;
    bool json = false;
    struct cli_flag flags[] = {
        {"--data-dir", CLI_STR, &data_dir, "the node's data directory", true, false},
        {"--index", CLI_U64, &index, "the entry's index", true, false},
        {"--size", CLI_U64, &size, "tree size to prove against (default: the current size)", false,
         false},
        {"--json", CLI_BOOL, &json, "print one JSON document", false, false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet ledger proof --data-dir D --index I [--size N] [--json]",
                       flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    bool size_given = flags[2].seen;
    struct opened o;
    rc = open_ledger(cmd, data_dir, false, &o);
    if (rc != 0)
        return rc;
    struct ledger *l = &o.ledger;
    if (!size_given)
        size = l->size;
    uint8_t *leaf = NULL;
    size_t leaf_len = 0;
    if (size > l->size) {
        fprintf(stderr, "%s: --size %" PRIu64 " is larger than the ledger (size %" PRIu64 ")\n",
                cmd, size, l->size);
        rc = PL_ERANGE;
        goto done;
    }
    if (index >= size) {
        fprintf(stderr, "%s: --index %" PRIu64 " is not in a tree of size %" PRIu64 "\n", cmd,
                index, size);
        rc = PL_ERANGE;
        goto done;
    }
    uint8_t path[MERKLE_PROOF_MAX][MERKLE_HASH_BYTES], root[MERKLE_HASH_BYTES],
        leaf_hash[MERKLE_HASH_BYTES];
    size_t n = 0;
    rc = ledger_inclusion_proof(l, index, size, path, &n);
    if (rc == 0)
        rc = ledger_root_at(l, size, root);
    if (rc == 0)
        rc = ledger_leaf_get(l, index, &leaf, &leaf_len);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", cmd, l->err_text[0] ? l->err_text : pl_strerror(rc));
        goto done;
    }
    merkle_leaf_hash(leaf, leaf_len, leaf_hash);
    /* What we print must verify; if it does not, the store is damaged. */
    if (PL_NEVER(merkle_inclusion_verify(index, size, leaf_hash,
                                         (const uint8_t(*)[MERKLE_HASH_BYTES])path, n,
                                         root) != 0)) {
        fprintf(stderr,
                "%s: the stored tree does not prove entry %" PRIu64
                " (run 'platelet ledger check')\n",
                cmd, index);
        rc = PL_ECORRUPT;
        goto done;
    }
    char *b64 = malloc(pl_base64_len(leaf_len));
    if (b64 == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    pl_base64_encode(leaf, leaf_len, b64);
    if (json) {
        printf("{\"leaf_index\":%" PRIu64 ",\"tree_size\":%" PRIu64
               ",\"leaf\":\"%s\",\"leaf_hash\":\"",
               index, size, b64);
        print_hex(leaf_hash, MERKLE_HASH_BYTES);
        printf("\",\"audit_path\":");
        print_path_json(path, n);
        printf(",\"root\":\"");
        print_hex(root, MERKLE_HASH_BYTES);
        printf("\"}\n");
    } else {
        printf("leaf index  %" PRIu64 "\ntree size   %" PRIu64 "\nleaf hash   ", index, size);
        print_hex(leaf_hash, MERKLE_HASH_BYTES);
        printf("\nroot        ");
        print_hex(root, MERKLE_HASH_BYTES);
        printf("\naudit path  %zu hashes (leaf to root)\n", n);
        print_path_text(path, n);
        printf("leaf        %s\n", b64);
    }
    free(b64);
done:
    free(leaf);
    close_ledger(&o);
    return rc;
}

/* ---- consistency ---- */

static int cmd_ledger_consistency(int argc, char **argv)
{
    const char *cmd = "platelet ledger consistency";
    const char *data_dir = NULL;
    uint64_t first = 0, second = 0;
    bool json = false;
    struct cli_flag flags[] = {
        {"--data-dir", CLI_STR, &data_dir, "the node's data directory", true, false},
        {"--from", CLI_U64, &first, "the older tree size (>= 1)", true, false},
        {"--to", CLI_U64, &second, "the newer tree size (default: the current size)", false, false},
        {"--json", CLI_BOOL, &json, "print one JSON document", false, false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet ledger consistency --data-dir D --from M [--to N] [--json]",
                       flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    bool to_given = flags[2].seen;
    struct opened o;
    rc = open_ledger(cmd, data_dir, false, &o);
    if (rc != 0)
        return rc;
    struct ledger *l = &o.ledger;
    if (!to_given)
        second = l->size;
    if (second > l->size || first == 0 || first > second) {
        fprintf(stderr,
                "%s: need 1 <= --from (%" PRIu64 ") <= --to (%" PRIu64
                ") <= the ledger's size (%" PRIu64 ")\n",
                cmd, first, second, l->size);
        close_ledger(&o);
        return PL_ERANGE;
    }
    uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_BYTES], r1[MERKLE_HASH_BYTES],
        r2[MERKLE_HASH_BYTES];
    size_t n = 0;
    rc = ledger_consistency_proof(l, first, second, proof, &n);
    if (rc == 0)
        rc = ledger_root_at(l, first, r1);
    if (rc == 0)
        rc = ledger_root_at(l, second, r2);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", cmd, l->err_text[0] ? l->err_text : pl_strerror(rc));
        close_ledger(&o);
        return rc;
    }
    if (PL_NEVER(merkle_consistency_verify(first, second, r1, r2,
                                           (const uint8_t(*)[MERKLE_HASH_BYTES])proof, n) != 0)) {
        fprintf(stderr,
                "%s: the stored tree does not prove its own consistency (run 'platelet "
                "ledger check')\n",
                cmd);
        close_ledger(&o);
        return PL_ECORRUPT;
    }
    if (json) {
        printf("{\"first\":%" PRIu64 ",\"second\":%" PRIu64 ",\"first_root\":\"", first, second);
        print_hex(r1, MERKLE_HASH_BYTES);
        printf("\",\"second_root\":\"");
        print_hex(r2, MERKLE_HASH_BYTES);
        printf("\",\"proof\":");
        print_path_json(proof, n);
        printf("}\n");
    } else {
        printf("first       %" PRIu64 "  root ", first);
        print_hex(r1, MERKLE_HASH_BYTES);
        printf("\nsecond      %" PRIu64 "  root ", second);
        print_hex(r2, MERKLE_HASH_BYTES);
        printf("\nproof       %zu hashes\n", n);
        print_path_text(proof, n);
    }
    close_ledger(&o);
    return 0;
}

/* ---- check ---- */

/* {"ok":false,"bad_index":I,"reason":"..."} with the reason escaped as JSON. */
static void print_json_reason(const char *prefix, int64_t index, const char *reason)
{
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    if (pl_json_write_string(&b, reason, strlen(reason)) != 0) {
        pl_buf_reset(&b);
        pl_buf_append_str(&b, "\"?\"");
    }
    printf("%s%" PRId64 ",\"reason\":%.*s}\n", prefix, index, (int)b.len, (const char *)b.data);
    pl_buf_close(&b);
}

static int cmd_ledger_check(int argc, char **argv)
{
    const char *cmd = "platelet ledger check";
    const char *data_dir = NULL;
    bool json = false;
    int rc = parse_dir_json(cmd, "platelet ledger check --data-dir D [--json]", argc, argv,
                            &data_dir, &json);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    /* Not through ledger_open(): it refuses a damaged ledger, and check must name the damage. */
    struct pl_store store;
    rc = pl_store_open(&store, data_dir, PL_STORE_READ_ONLY);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", cmd, store.err_text);
        return rc;
    }
    struct ledger_check_report r;
    rc = ledger_check_store(&store, &r);
    pl_store_close(&store);
    if (rc == PL_ECORRUPT) {
        if (json)
            print_json_reason("{\"ok\":false,\"bad_index\":", r.bad_index, r.reason);
        if (r.bad_index >= 0)
            fprintf(stderr, "%s: FAILED at index %" PRId64 ": %s\n", cmd, r.bad_index, r.reason);
        else
            fprintf(stderr, "%s: FAILED: %s\n", cmd, r.reason);
        return rc;
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", cmd, r.reason[0] ? r.reason : pl_strerror(rc));
        return rc;
    }
    if (json)
        printf("{\"ok\":true,\"size\":%" PRIu64 ",\"leaves\":%" PRIu64 ",\"nodes\":%" PRIu64
               ",\"heads\":%" PRIu64 "}\n",
               r.size, r.leaves, r.nodes, r.heads);
    else
        printf("ok: %" PRIu64 " entries, %" PRIu64 " tree nodes and %" PRIu64
               " signed heads recomputed and checked; size %" PRIu64 "\n",
               r.leaves, r.nodes, r.heads, r.size);
    return 0;
}

static const struct
{
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommands[] = {
    {"append", cmd_ledger_append, "append JSON lines from stdin as entries"},
    {"status", cmd_ledger_status, "size, root and the newest signed tree head"},
    {"proof", cmd_ledger_proof, "inclusion proof of one entry (RFC 6962 audit path)"},
    {"consistency", cmd_ledger_consistency, "consistency proof between two tree sizes"},
    {"check", cmd_ledger_check, "recompute every hash and compare with the store and heads"},
};

int cmd_ledger(int argc, char **argv)
{
    if (argc < 1)
        return cli_fail("platelet ledger",
                        "missing command: append, status, proof, consistency or check");
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        printf("usage: platelet ledger <command> [flags]\n\ncommands:\n");
        for (size_t i = 0; i < PL_ARRAY_LEN(subcommands); i++)
            printf("  %-12s %s\n", subcommands[i].name, subcommands[i].summary);
        return 0;
    }
    for (size_t i = 0; i < PL_ARRAY_LEN(subcommands); i++)
        if (strcmp(argv[0], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    return cli_fail("platelet ledger", "unknown command '%s' (see 'platelet ledger --help')",
                    argv[0]);
}
