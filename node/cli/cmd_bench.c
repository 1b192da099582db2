/*
 * `platelet bench <name>`: benchmarks, one per subsystem, in a table (bench ledger here;
 * gossip and healing add theirs). Figures go to docs/BENCHMARKS.md; nothing here is a test.
 *
 * bench ledger appends N entries of about 200 bytes in synced batches and reports the
 * append rate, inclusion- and consistency-proof times and check's rate. In the same run it
 * measures the machine's raw limits for the same sizes: libsodium SHA-256 hashes per second
 * and RocksDB synced batched puts per second, and gives the ledger's rate as a ratio of the
 * slower of the two (the goal is >= 0.5). It also shows the rate of the ledger's own leaf
 * hash (OpenSSL's SHA-256), which is why the ledger can outrun the libsodium figure.
 */
#include "pl_err.h"
#include "pl_mp.h"
#include "pl_rand.h"
#include "bench_heal.h"
#include "bench_replay.h"
#include "bench_learn.h"
#include "cli.h"
#include "commands.h"
#include "ledger.h"
#include "merkle.h"
#include "pl_keys.h"
#include "pl_store.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEAF_TARGET_BYTES 200

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_rf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Incident-like bodies padded so the whole leaf is about LEAF_TARGET_BYTES. */
static int make_body(struct pl_buf *b, uint64_t i, size_t pad)
{
    static const char *actions[] = {"restart", "drain", "rollback", "escalate"};
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, b);
    char node[16], sig[32];
    snprintf(node, sizeof(node), "n%03" PRIu64, i % 997);
    snprintf(sig, sizeof(sig), "svc-%" PRIu64 "-latency-p95", i % 13);
    pl_mp_map(&w, 5);
    pl_mp_str(&w, "node");
    pl_mp_str(&w, node);
    pl_mp_str(&w, "signature");
    pl_mp_str(&w, sig);
    pl_mp_str(&w, "action");
    pl_mp_str(&w, actions[i % 4]);
    pl_mp_str(&w, "confidence");
    pl_mp_double(&w, 0.5 + (double)(i % 50) / 100.0);
    pl_mp_str(&w, "detail");
    char detail[256];
    memset(detail, 'x', sizeof(detail));
    pl_mp_strn(&w, detail, pad < sizeof(detail) ? pad : sizeof(detail));
    return w.err;
}

struct bench_ledger_result
{
    size_t leaf_bytes;
    double sha_per_s, ledger_sha_per_s, rocks_per_s, append_per_s, ratio;
    double incl_us, cons_us, check_per_s;
    uint64_t entries, batch;
};

/* SHA-256 of `n` inputs of leaf_bytes + 1 bytes (the 0x00 prefix); returns seconds. */
static double sha_chunk(uint64_t n, size_t leaf_bytes, uint8_t *buf)
{
    uint8_t out[32];
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        buf[1] = (uint8_t)i; /* a different input each time */
        crypto_hash_sha256(out, buf, leaf_bytes + 1);
        buf[2] ^= out[0];
    }
    return now_s() - t0;
}

/* The same hashes through the ledger's own leaf hash (OpenSSL's SHA-256); returns seconds. */
static double ledger_sha_chunk(uint64_t n, size_t leaf_bytes, uint8_t *buf)
{
    uint8_t out[32];
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        buf[1] = (uint8_t)i;
        merkle_leaf_hash(buf + 1, leaf_bytes, out);
        buf[2] ^= out[0];
    }
    return now_s() - t0;
}

/* `n` puts of leaf_bytes values in synced batches of `batch`, keys from *next; returns
 * seconds, or a negative value on a storage error. */
static double rocks_chunk(struct pl_store *s,
                          uint64_t n,
                          uint64_t batch,
                          size_t leaf_bytes,
                          uint64_t *next,
                          struct pl_store_batch *b)
{
    uint8_t val[1024];
    memset(val, 0xcd, sizeof(val));
    double t0 = now_s();
    for (uint64_t i = 0; i < n;) {
        pl_store_batch_clear(b);
        for (uint64_t j = 0; j < batch && i < n; j++, i++) {
            uint8_t key[8];
            pl_be64_put(key, *next);
            val[0] = (uint8_t)*next;
            (*next)++;
            pl_store_batch_put(s, b, PL_CF_LEDGER_LEAVES, key, 8, val, leaf_bytes);
        }
        if (pl_store_batch_commit(s, b) != 0)
            return -1;
    }
    return now_s() - t0;
}

static int bench_ledger_run(const char *dir, const char *raw_dir, struct bench_ledger_result *r)
{
    struct pl_store store, raw;
    bool raw_open = false;
    struct pl_keys keys;
    struct ledger l;
    int rc = pl_store_open(&store, dir, PL_STORE_CREATE);
    if (rc != 0) {
        fprintf(stderr, "platelet bench ledger: %s\n", store.err_text);
        return rc;
    }
    char err[256] = "";
    rc = pl_keys_open(&keys, dir, true, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "platelet bench ledger: %s\n", err);
        pl_store_close(&store);
        return rc;
    }
    rc = ledger_open(&l, &store, &keys);
    if (rc != 0) {
        fprintf(stderr, "platelet bench ledger: %s\n", l.err_text);
        goto fail_keys;
    }
    rc = pl_store_open(&raw, raw_dir, PL_STORE_CREATE);
    if (rc != 0) {
        fprintf(stderr, "platelet bench ledger: %s\n", raw.err_text);
        ledger_close(&l);
        goto fail_keys;
    }
    raw_open = true;

    /* One batch worth of bodies, reused: every leaf still differs by its index. */
    uint64_t batch = r->batch;
    struct pl_buf *bodies = calloc(batch, sizeof(*bodies));
    struct ledger_entry *entries = calloc(batch, sizeof(*entries));
    if (bodies == NULL || entries == NULL) {
        rc = -ENOMEM;
        goto fail_mem;
    }
    /* Size the padding so the leaf is about LEAF_TARGET_BYTES. */
    size_t pad = 0;
    {
        struct pl_buf probe, leaf;
        pl_buf_init(&probe, 4096);
        pl_buf_init(&leaf, 4096);
        make_body(&probe, 123456, 0);
        struct ledger_entry e = {.index = 123456,
                                 .term = 3,
                                 .time_ms = 1795300000000,
                                 .kind = "decision",
                                 .kind_len = 8,
                                 .body = probe.data,
                                 .body_len = probe.len};
        ledger_entry_encode(&e, &leaf);
        pad = leaf.len < LEAF_TARGET_BYTES ? LEAF_TARGET_BYTES - leaf.len - 1 : 0;
        pl_buf_reset(&leaf);
        pl_buf_reset(&probe);
        make_body(&probe, 123456, pad);
        e.body = probe.data;
        e.body_len = probe.len;
        ledger_entry_encode(&e, &leaf);
        r->leaf_bytes = leaf.len;
        pl_buf_close(&probe);
        pl_buf_close(&leaf);
    }
    for (uint64_t i = 0; i < batch; i++) {
        pl_buf_init(&bodies[i], 4096);
        make_body(&bodies[i], i, pad);
        entries[i] = (struct ledger_entry){.term = 3,
                                           .time_ms = 1795300000000 + i,
                                           .kind = "decision",
                                           .kind_len = 8,
                                           .body = bodies[i].data,
                                           .body_len = bodies[i].len};
    }

    /*
     * The three rates are measured in interleaved rounds (ledger, raw RocksDB, raw SHA-256,
     * ten times over) so that other load on the machine weighs on all three alike and the
     * ratio stays meaningful on a shared box.
     */
    const uint64_t rounds = r->entries >= 10 * batch ? 10 : 1;
    double t_ledger = 0, t_rocks = 0, t_sha = 0, t_ledger_sha = 0;
    uint64_t done = 0, raw_next = 0;
    uint8_t sha_buf[1 + 1024];
    memset(sha_buf, 0xab, sizeof(sha_buf));
    sha_buf[0] = 0;
    struct pl_store_batch raw_batch;
    pl_store_batch_init(&raw_batch);
    for (uint64_t round = 0; round < rounds && rc == 0; round++) {
        uint64_t target = r->entries * (round + 1) / rounds, chunk = target - done;
        double t0 = now_s();
        while (done < target && rc == 0) {
            uint64_t n = target - done < batch ? target - done : batch;
            rc = ledger_append(&l, entries, n, 1795300000000 + done, NULL);
            done += n;
        }
        t_ledger += now_s() - t0;
        double t = rocks_chunk(&raw, chunk, batch, r->leaf_bytes, &raw_next, &raw_batch);
        if (t < 0) {
            fprintf(stderr, "platelet bench ledger: raw RocksDB: %s\n", raw.err_text);
            rc = PL_ESTORE;
        }
        t_rocks += t;
        t_sha += sha_chunk(chunk, r->leaf_bytes, sha_buf);
        t_ledger_sha += ledger_sha_chunk(chunk, r->leaf_bytes, sha_buf);
    }
    pl_store_batch_close(&raw_batch);
    double dt = t_ledger;
    if (rc != 0) {
        fprintf(stderr, "platelet bench ledger: append: %s\n", l.err_text);
        goto fail_mem;
    }
    r->rocks_per_s = (double)r->entries / t_rocks;
    r->sha_per_s = (double)r->entries / t_sha;
    r->ledger_sha_per_s = (double)r->entries / t_ledger_sha;
    r->append_per_s = (double)r->entries / dt;

    /* Proofs at the full size, random indexes and first sizes (fixed seed). */
    struct pl_rand rnd;
    pl_rand_seed(&rnd, 42);
    const int proofs = 1000;
    double t0;
    uint8_t path[MERKLE_PROOF_MAX][MERKLE_HASH_BYTES];
    size_t pn = 0;
    t0 = now_s();
    for (int i = 0; i < proofs && rc == 0; i++)
        rc = ledger_inclusion_proof(&l, pl_rand_below(&rnd, l.size), l.size, path, &pn);
    r->incl_us = (now_s() - t0) * 1e6 / proofs;
    t0 = now_s();
    for (int i = 0; i < proofs && rc == 0; i++)
        rc = ledger_consistency_proof(&l, 1 + pl_rand_below(&rnd, l.size), l.size, path, &pn);
    r->cons_us = (now_s() - t0) * 1e6 / proofs;
    if (rc != 0) {
        fprintf(stderr, "platelet bench ledger: proof: %s\n", pl_strerror(rc));
        goto fail_mem;
    }

    struct ledger_check_report report;
    t0 = now_s();
    rc = ledger_check(&l, &report);
    dt = now_s() - t0;
    if (rc != 0) {
        fprintf(stderr, "platelet bench ledger: check failed: %s\n", report.reason);
        goto fail_mem;
    }
    r->check_per_s = (double)report.leaves / dt;

fail_mem:
    if (bodies != NULL)
        for (uint64_t i = 0; i < batch; i++)
            pl_buf_close(&bodies[i]);
    free(bodies);
    free(entries);
    ledger_close(&l);
fail_keys:
    if (raw_open)
        pl_store_close(&raw);
    pl_keys_close(&keys);
    pl_store_close(&store);
    return rc;
}

static int bench_ledger(int argc, char **argv)
{
    const char *cmd = "platelet bench ledger";
    uint64_t entries = 1000000, batch = 1000;
    const char *dir = NULL;
    bool json = false;
    struct cli_flag flags[] = {
        {"--entries", CLI_U64, &entries, "entries to append (default 1000000)", false, false},
        {"--batch", CLI_U64, &batch, "entries per synced batch (default 1000)", false, false},
        {"--dir", CLI_STR, &dir, "scratch directory (default: a new one under $TMPDIR or /tmp)",
         false, false},
        {"--json", CLI_BOOL, &json, "print one JSON document", false, false},
        {0},
    };
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet bench ledger [--entries N] [--batch B] [--dir D] [--json]",
                       flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (entries == 0 || batch == 0 || batch > LEDGER_BATCH_MAX)
        return cli_fail(cmd, "--entries must be > 0 and --batch in 1..%u", LEDGER_BATCH_MAX);
    if (sodium_init() < 0)
        return PL_ECRYPTO;

    char base[4096];
    if (dir != NULL) {
        snprintf(base, sizeof(base), "%s/platelet-bench.XXXXXX", dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(base, sizeof(base), "%s/platelet-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    }
    if (mkdtemp(base) == NULL) {
        fprintf(stderr, "%s: cannot create a scratch directory %s\n", cmd, base);
        return -errno;
    }
    char raw_dir[4200], ledger_dir[4200];
    snprintf(raw_dir, sizeof(raw_dir), "%s/raw", base);
    snprintf(ledger_dir, sizeof(ledger_dir), "%s/ledger", base);

    struct bench_ledger_result r = {.entries = entries, .batch = batch};
    if (!json)
        fprintf(stderr, "bench ledger: %" PRIu64 " entries in batches of %" PRIu64 " under %s\n",
                entries, batch, base);
    rc = bench_ledger_run(ledger_dir, raw_dir, &r);
    rm_rf(base);
    if (rc != 0)
        return rc;
    double slower = r.sha_per_s < r.rocks_per_s ? r.sha_per_s : r.rocks_per_s;
    r.ratio = r.append_per_s / slower;
    if (json) {
        printf("{\"entries\":%" PRIu64 ",\"batch\":%" PRIu64
               ",\"leaf_bytes\":%zu,"
               "\"append_per_s\":%.0f,\"inclusion_proof_us\":%.2f,\"consistency_proof_us\":%.2f,"
               "\"check_per_s\":%.0f,\"raw_sha256_per_s\":%.0f,\"ledger_sha256_per_s\":%.0f,"
               "\"raw_rocksdb_puts_per_s\":%.0f,\"ratio_to_slower_limit\":%.3f}\n",
               r.entries, r.batch, r.leaf_bytes, r.append_per_s, r.incl_us, r.cons_us,
               r.check_per_s, r.sha_per_s, r.ledger_sha_per_s, r.rocks_per_s, r.ratio);
    } else {
        printf("ledger: %" PRIu64 " entries, leaf %zu bytes, synced batches of %" PRIu64 "\n",
               r.entries, r.leaf_bytes, r.batch);
        printf("  append                    %12.0f entries/s\n", r.append_per_s);
        printf("  inclusion proof (size %" PRIu64 ") %9.2f us (mean of 1000, random index)\n",
               r.entries, r.incl_us);
        printf("  consistency proof         %12.2f us (mean of 1000, random first size)\n",
               r.cons_us);
        printf("  check                     %12.0f entries/s (every leaf and node recomputed)\n",
               r.check_per_s);
        printf("raw limits, same sizes:\n");
        printf("  SHA-256 (libsodium)       %12.0f hashes/s of %zu bytes\n", r.sha_per_s,
               r.leaf_bytes + 1);
        printf("  SHA-256 (OpenSSL; the ledger's) %6.0f hashes/s of %zu bytes\n",
               r.ledger_sha_per_s, r.leaf_bytes + 1);
        printf("  RocksDB batched puts      %12.0f puts/s of %zu bytes (synced batches of %" PRIu64
               ")\n",
               r.rocks_per_s, r.leaf_bytes, r.batch);
        printf("ledger append rate = %.2f x the slower raw limit (%s; goal >= 0.5)\n", r.ratio,
               r.sha_per_s < r.rocks_per_s ? "SHA-256" : "RocksDB puts");
    }
    return 0;
}

static const struct
{
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} benches[] = {
    {"ledger", bench_ledger, "ledger appends, proofs and check vs raw SHA-256 and RocksDB"},
    {"heal", bench_heal, "crash, hang and error burst to healthy; gossip round trips while "
                         "1,000 incidents are written; the agent's idle CPU and RSS"},
    {"replay", bench_replay, "verified replay rate, --at-index from the nearest state snapshot, "
                             "post-mortem time"},
    {"learn", bench_learn, "restart-only, rules-only and learned healing side by side, "
                           "training and held-out fault mixes, in virtual time"},
};

int cmd_bench(int argc, char **argv)
{
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        printf("usage: platelet bench <name> [flags]\n\nbenchmarks:\n");
        for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
            printf("  %-10s %s\n", benches[i].name, benches[i].summary);
        return 0;
    }
    if (argc < 1)
        return cli_fail("platelet bench", "missing benchmark name (see 'platelet bench --help')");
    for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
        if (strcmp(argv[0], benches[i].name) == 0)
            return benches[i].run(argc - 1, argv + 1);
    return cli_fail("platelet bench", "unknown benchmark '%s' (see 'platelet bench --help')",
                    argv[0]);
}
