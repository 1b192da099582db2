/*
 * Unit tests of swarm state snapshots in a real store (replay/replay_snap.c) and of replay
 * from them (replay.c): a ledger of swarm entries with a snapshot every 64, in RocksDB.
 * The replay reaches the same state hash from the nearest snapshot as from index 0; a
 * snapshot whose state was changed under its hash, or that belongs to another ledger, is
 * skipped (the next older one is used, the reason said); a store whose leaves were changed
 * under the ledger's tree fails replay_verify.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "pl_err.h"
#include "pl_keys.h"
#include "pl_store.h"
#include "replay.h"
#include "replay_snap.h"
#include "snapshot_store.h"
#include "swarm.h"
#include "swarm_snap.h"

#define EVERY 64
#define ENTRIES (EVERY * 6 + 17)

struct fx {
    char dir[64];
    struct pl_store store;
    struct pl_keys keys;
    struct ledger ledger;
    struct swarm_state *s;
};

/* Entry i: a member event, an incident step or a note, applied and appended one by one,
 * a snapshot every EVERY. */
static void build(struct fx *f)
{
    swarm_state_init(f->s);
    for (uint64_t i = 0; i < ENTRIES; i++) {
        struct pl_buf b;
        pl_buf_init(&b, SWARM_BODY_BYTES_MAX);
        const char *kind;
        if (i % 3 == 0) {
            struct swarm_member_event m = {.status = (enum swarm_member_status)(i % 2),
                                           .incarnation = i};
            snprintf(m.node, sizeof(m.node), "n%llu", (unsigned long long)(i % 5));
            assert_int_equal(swarm_member_event_encode(&m, &b), 0);
            kind = "member_event";
        } else if (i % 3 == 1) {
            struct swarm_incident_event e;
            memset(&e, 0, sizeof(e));
            snprintf(e.node, sizeof(e.node), "n%llu", (unsigned long long)(i % 5));
            snprintf(e.id, sizeof(e.id), "inc-%llu", (unsigned long long)(i / 30));
            snprintf(e.service, sizeof(e.service), "web");
            e.seq = (uint32_t)i;
            e.event = 2;
            e.t_ms = 1000 * i;
            assert_int_equal(swarm_incident_event_encode(&e, &b), 0);
            kind = "incident";
        } else {
            assert_int_equal(pl_buf_append(&b, "\x81\xa1n\x01", 4), 0);
            kind = "note";
        }
        struct ledger_entry le = {.term = 1, .time_ms = 1000 * i, .kind = kind,
                                  .kind_len = strlen(kind), .body = b.data, .body_len = b.len};
        assert_int_equal(ledger_append(&f->ledger, &le, 1, 1000 * i, NULL), 0);
        struct swarm_entry se = {.index = i + 1, .term = 1, .time_ms = 1000 * i, .kind = kind,
                                 .kind_len = strlen(kind), .body = b.data, .body_len = b.len};
        struct swarm_applied out;
        assert_int_equal(swarm_apply(f->s, &se, &out), 0);
        if ((i + 1) % EVERY == 0)
            assert_int_equal(replay_snap_store(&f->store, &f->ledger, f->s), 0);
        pl_buf_close(&b);
    }
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/platelet-replay-snap.XXXXXX");
    if (f == NULL || mkdtemp(f->dir) == NULL)
        return -1;
    f->s = malloc(sizeof(*f->s));
    if (f->s == NULL || pl_store_open(&f->store, f->dir, PL_STORE_CREATE) != 0 ||
        pl_keys_open(&f->keys, f->dir, true, NULL, 0) != 0 ||
        ledger_open(&f->ledger, &f->store, &f->keys) != 0)
        return -1;
    f->ledger.no_sync = true;
    build(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ledger_close(&f->ledger);
    pl_keys_close(&f->keys);
    pl_store_close(&f->store);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f->s);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Replays the fixture's store to `index` (closed for writing meanwhile: replay opens it
 * read-only as the CLI does). */
static int replay_at(struct fx *f, uint64_t index, bool no_snapshots, uint8_t hash[32],
                     struct replay_snap_report *rep)
{
    struct replay r;
    int rc = replay_open_dir(&r, f->dir);
    r.no_snapshots = no_snapshots;
    if (rc == 0)
        rc = replay_to_index(&r, index);
    memcpy(hash, r.state->hash, SWARM_HASH_BYTES);
    *rep = r.snap;
    if (rc != 0)
        print_message("replay: %s\n", r.err);
    replay_close(&r);
    return rc;
}

static void test_same_hash_from_snapshots(void **state)
{
    struct fx *f = *state;
    for (uint64_t at = 1; at <= ENTRIES; at += 37) {
        uint8_t a[32], b[32];
        struct replay_snap_report ra, rb;
        assert_int_equal(replay_at(f, at, false, a, &ra), 0);
        assert_int_equal(replay_at(f, at, true, b, &rb), 0);
        assert_memory_equal(a, b, 32);
        assert_int_equal(ra.index, at / EVERY * EVERY);
        assert_int_equal(rb.index, 0);
        assert_int_equal(ra.skipped, 0);
    }
}

/* Re-stores the snapshot at `index` with its state changed by `change`. */
static void tamper(struct fx *f, uint64_t index, void (*change)(struct swarm_state *))
{
    struct snapshot snap;
    assert_int_equal(snapshot_get_at_or_before(&f->store, index, &snap), 0);
    assert_int_equal(snap.index, index);
    struct swarm_state *s = malloc(sizeof(*s));
    assert_non_null(s);
    assert_int_equal(swarm_snap_decode(snap.state, snap.state_len, s), 0);
    change(s);
    struct pl_buf b;
    pl_buf_init(&b, SWARM_SNAP_BYTES_MAX);
    assert_int_equal(swarm_snap_encode(s, &b), 0);
    assert_int_equal(snapshot_put(&f->store, index, b.data, b.len, &snap.frontier, snap.root), 0);
    pl_buf_close(&b);
    snapshot_free(&snap);
    free(s);
}

static void change_item(struct swarm_state *s)
{
    s->members[0].incarnation += 1; /* under the stored hash */
}

static void test_tampered_snapshot_skipped(void **state)
{
    struct fx *f = *state;
    uint8_t full[32], h[32];
    struct replay_snap_report rep;
    assert_int_equal(replay_at(f, ENTRIES, true, full, &rep), 0);
    tamper(f, EVERY * 6, change_item);
    assert_int_equal(replay_at(f, ENTRIES, false, h, &rep), 0);
    assert_memory_equal(h, full, 32);
    assert_int_equal(rep.index, EVERY * 5);
    assert_int_equal(rep.skipped, 1);
    assert_non_null(strstr(rep.why, "state hash"));
    /* The CLI's listing says the same. */
    struct swarm_state *s = malloc(sizeof(*s));
    char why[256];
    assert_int_equal(replay_snap_read(&f->store, &f->ledger, EVERY * 6, s, why, sizeof(why)),
                     PL_EVERIFY);
    assert_int_equal(replay_snap_read(&f->store, &f->ledger, EVERY * 5, s, why, sizeof(why)), 0);
    free(s);
}

static void test_other_ledger_skipped(void **state)
{
    struct fx *f = *state;
    /* A snapshot whose root is not this ledger's at its size (another cluster's, say). */
    struct snapshot snap;
    assert_int_equal(snapshot_get_at_or_before(&f->store, EVERY * 4, &snap), 0);
    struct merkle_frontier other;
    merkle_frontier_init(&other);
    uint8_t leaf[32] = {1}, root[32];
    for (uint64_t i = 0; i < EVERY * 4; i++)
        assert_int_equal(merkle_frontier_append(&other, leaf, NULL, NULL), 0);
    merkle_frontier_root(&other, root);
    assert_int_equal(snapshot_put(&f->store, EVERY * 4, snap.state, snap.state_len, &other, root),
                     0);
    snapshot_free(&snap);
    uint8_t full[32], h[32];
    struct replay_snap_report rep;
    assert_int_equal(replay_at(f, EVERY * 4 + 3, true, full, &rep), 0);
    assert_int_equal(replay_at(f, EVERY * 4 + 3, false, h, &rep), 0);
    assert_memory_equal(h, full, 32);
    assert_int_equal(rep.index, EVERY * 3);
    assert_non_null(strstr(rep.why, "not this ledger's"));
}

static void test_changed_leaf_fails_verify(void **state)
{
    struct fx *f = *state;
    /* A leaf's bytes changed in place (its stored hash kept): the tree no longer agrees. */
    uint8_t key[8];
    ledger_index_key(EVERY + 2, key);
    uint8_t *v;
    size_t len;
    assert_int_equal(pl_store_get(&f->store, PL_CF_LEDGER_LEAVES, key, 8, &v, &len), 0);
    v[len - 1] ^= 0x01; /* the last byte of the body: still msgpack, another value */
    assert_int_equal(pl_store_put(&f->store, PL_CF_LEDGER_LEAVES, key, 8, v, len), 0);
    free(v);
    uint8_t h[32];
    struct replay_snap_report rep;
    int rc = replay_at(f, ENTRIES, true, h, &rep);
    assert_true(rc == PL_EVERIFY || rc == PL_EMALFORMED);
    /* From the newest snapshot on, the changed leaf is not replayed: that replay verifies. */
    assert_int_equal(replay_at(f, ENTRIES, false, h, &rep), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_hash_from_snapshots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_snapshot_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_ledger_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_leaf_fails_verify, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
