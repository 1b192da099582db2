/*
 * Unit tests of Raft's durable state on a real RocksDB (raft/raft_storage.c): a round trip
 * of hard state, entries and snapshot; truncation and compaction in the same batch as new
 * entries; several updates in one batch, in order; refusal of a store written by a newer
 * format and of undecodable records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pl_err.h"
#include "pl_store.h"
#include "raft.h"
#include "raft_storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    struct pl_store store;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "raft-storage-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    if (pl_store_open(&f->store, f->dir, PL_STORE_CREATE) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pl_store_close(&f->store);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void reopen(struct fixture *f)
{
    pl_store_close(&f->store);
    assert_int_equal(pl_store_open(&f->store, f->dir, PL_STORE_CREATE), 0);
}

/* The store's memory limits hold: with 64 KiB memtables and 2 of them in all, writing 2 MiB
 * leaves at most the budget in memtables (RocksDB flushes the rest), and the one block
 * cache stays within its capacity after reading everything back. */
static void test_memory_limits(void **state)
{
    struct fixture *f = *state;
    struct pl_store_limits l = {.block_cache_bytes = 256u << 10,
                                .write_buffer_bytes = 64u << 10,
                                .max_write_buffers = 2};
    pl_store_close(&f->store);
    assert_int_equal(pl_store_open_limits(&f->store, f->dir, PL_STORE_CREATE, &l), 0);
    uint8_t val[1024];
    memset(val, 0xab, sizeof(val));
    for (uint32_t i = 0; i < 2048; i++) {
        uint8_t key[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        struct pl_store_batch b;
        pl_store_batch_init(&b);
        rocksdb_writebatch_put_cf(b.wb, f->store.cf[PL_CF_NODE], (char *)key, 4, (char *)val,
                                  sizeof(val));
        assert_int_equal(pl_store_batch_commit_nosync(&f->store, &b), 0);
        pl_store_batch_close(&b);
    }
    for (uint32_t i = 0; i < 2048; i += 7) {
        uint8_t key[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        uint8_t *v = NULL;
        size_t n = 0;
        assert_int_equal(pl_store_get(&f->store, PL_CF_NODE, key, 4, &v, &n), 0);
        assert_int_equal(n, sizeof(val));
        free(v);
    }
    struct pl_store_memory m;
    assert_int_equal(pl_store_memory_get(&f->store, &m), 0);
    /* RocksDB's arena blocks round a memtable up; allow one more buffer of slack. */
    assert_true(m.memtables_bytes <= 3 * l.write_buffer_bytes);
    assert_true(m.block_cache_bytes <= l.block_cache_bytes);
    assert_true(m.block_cache_bytes > 0);
}

static struct raft_entry entry(uint64_t index, uint64_t term, const char *data)
{
    struct raft_entry e = {term, index, RAFT_ENTRY_NORMAL, (uint32_t)strlen(data), (uint8_t *)data};
    return e;
}

/* The first write of both round trips: term 2, vote 42 and entries e[0..n). */
static struct raft_update first_update(const struct raft_entry *e, uint32_t n)
{
    struct raft_update u = {0};
    u.persist_seq = 1;
    u.hs_changed = true;
    u.term = 2;
    u.vote = 42;
    u.entries = e;
    u.n_entries = n;
    return u;
}

static void test_empty_store(void **state)
{
    struct fixture *f = *state;
    struct raft_storage_state st;
    char err[128];
    assert_int_equal(raft_storage_load(&f->store, &st, err, sizeof(err)), 0);
    assert_true(st.empty);
    assert_int_equal(st.n_entries, 0);
    raft_storage_state_free(&st);
}

static void test_round_trip_truncate_compact(void **state)
{
    struct fixture *f = *state;
    struct raft_entry e[5] = {entry(1, 1, "a"), entry(2, 1, "bb"), entry(3, 2, "ccc"),
                              entry(4, 2, "dddd"), entry(5, 2, "eeeee")};
    struct raft_update u = first_update(e, 5);
    assert_int_equal(raft_storage_persist(&f->store, &u), 0);

    /* A new leader overwrites 4..5 with one entry of term 3, in one batch. */
    struct raft_entry e2 = entry(4, 3, "new");
    memset(&u, 0, sizeof(u));
    u.persist_seq = 2;
    u.truncate_from = 4;
    u.entries = &e2;
    u.n_entries = 1;
    assert_int_equal(raft_storage_persist(&f->store, &u), 0);

    /* A snapshot at 2 and compaction of 1..2. */
    struct raft_snapshot snap = {0};
    snap.index = 2;
    snap.term = 1;
    snap.config.n = 1;
    snap.config.servers[0].id = 7;
    snap.config.servers[0].role = RAFT_VOTER;
    snap.data = (uint8_t *)"STATE";
    snap.len = 5;
    memset(&u, 0, sizeof(u));
    u.persist_seq = 3;
    u.snapshot = &snap;
    u.compact_to = 2;
    assert_int_equal(raft_storage_persist(&f->store, &u), 0);

    reopen(f);
    struct raft_storage_state st;
    char err[128];
    assert_int_equal(raft_storage_load(&f->store, &st, err, sizeof(err)), 0);
    assert_false(st.empty);
    assert_int_equal(st.term, 2);
    assert_int_equal(st.vote, 42);
    assert_true(st.has_snapshot);
    assert_int_equal(st.snapshot.index, 2);
    assert_int_equal(st.snapshot.config.n, 1);
    assert_int_equal(st.snapshot.config.servers[0].id, 7);
    assert_memory_equal(st.snapshot.data, "STATE", 5);
    assert_int_equal(st.n_entries, 2);
    assert_int_equal(st.entries[0].index, 3);
    assert_int_equal(st.entries[0].term, 2);
    assert_memory_equal(st.entries[0].data, "ccc", 3);
    assert_int_equal(st.entries[1].index, 4);
    assert_int_equal(st.entries[1].term, 3);
    assert_memory_equal(st.entries[1].data, "new", 3);
    raft_storage_state_free(&st);
}

/* The Raft log writer (node/agent/raft_writer.c) adds the updates submitted during one
 * fsync to one batch: the same three updates as above, added in order to one batch and
 * committed once, leave the same log (the truncation of the second update removes entries
 * of the first), and what an update points to is copied when it is added (the core reuses
 * it at its next step, before the thread commits). */
static void test_updates_share_one_batch(void **state)
{
    struct fixture *f = *state;
    char d4[] = "dddd", d5[] = "eeeee", dnew[] = "new";
    struct raft_entry e[5] = {entry(1, 1, "a"), entry(2, 1, "bb"), entry(3, 2, "ccc"),
                              entry(4, 2, d4), entry(5, 2, d5)};
    struct pl_store_batch b;
    pl_store_batch_init(&b);
    struct raft_update u = first_update(e, 5);
    assert_int_equal(raft_storage_batch_add(&f->store, &b, &u), 0);
    memcpy(d4, "XXXX", 4); /* the core's buffers change after the add */

    struct raft_entry e2 = entry(4, 3, dnew);
    memset(&u, 0, sizeof(u));
    u.persist_seq = 2;
    u.truncate_from = 4;
    u.entries = &e2;
    u.n_entries = 1;
    assert_int_equal(raft_storage_batch_add(&f->store, &b, &u), 0);
    memcpy(dnew, "ZZZ", 3);

    memset(&u, 0, sizeof(u));
    u.persist_seq = 0; /* nothing to persist: adds nothing */
    u.truncate_from = 1;
    assert_int_equal(raft_storage_batch_add(&f->store, &b, &u), 0);
    assert_int_equal(pl_store_batch_commit(&f->store, &b), 0);
    pl_store_batch_close(&b);

    reopen(f);
    struct raft_storage_state st;
    char err[128];
    assert_int_equal(raft_storage_load(&f->store, &st, err, sizeof(err)), 0);
    assert_int_equal(st.term, 2);
    assert_int_equal(st.vote, 42);
    assert_false(st.has_snapshot);
    assert_int_equal(st.n_entries, 4);
    assert_int_equal(st.entries[2].index, 3);
    assert_memory_equal(st.entries[2].data, "ccc", 3);
    assert_int_equal(st.entries[3].index, 4);
    assert_int_equal(st.entries[3].term, 3);
    assert_int_equal(st.entries[3].len, 3);
    assert_memory_equal(st.entries[3].data, "new", 3);
    raft_storage_state_free(&st);
}

static void test_newer_format_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t fmt[4] = {0, 0, 0, RAFT_STORAGE_FORMAT + 1};
    assert_int_equal(pl_store_put(&f->store, PL_CF_RAFT_META, "format", 6, fmt, 4), 0);
    struct raft_storage_state st;
    char err[256] = "";
    assert_int_equal(raft_storage_load(&f->store, &st, err, sizeof(err)), PL_EVERSION);
    assert_non_null(strstr(err, "newer version"));
}

static void test_corrupt_records_refused(void **state)
{
    struct fixture *f = *state;
    struct raft_entry e = entry(1, 1, "x");
    struct raft_update u = {0};
    u.persist_seq = 1;
    u.hs_changed = true;
    u.term = 1;
    u.entries = &e;
    u.n_entries = 1;
    assert_int_equal(raft_storage_persist(&f->store, &u), 0);
    struct raft_storage_state st;
    char err[256] = "";

    /* A hard state of the wrong size. */
    assert_int_equal(pl_store_put(&f->store, PL_CF_RAFT_META, "hs", 2, "short", 5), 0);
    assert_int_not_equal(raft_storage_load(&f->store, &st, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "hs"));
    uint8_t hs[16] = {0};
    hs[7] = 1;
    assert_int_equal(pl_store_put(&f->store, PL_CF_RAFT_META, "hs", 2, hs, 16), 0);

    /* A snapshot record that is not one. */
    assert_int_equal(pl_store_put(&f->store, PL_CF_RAFT_META, "snap", 4, "\xc1", 1), 0);
    assert_int_equal(raft_storage_load(&f->store, &st, err, sizeof(err)), PL_ECORRUPT);
    assert_non_null(strstr(err, "snap"));
}

static void test_log_without_format_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t val[10] = {0, 0, 0, 0, 0, 0, 0, 1, RAFT_ENTRY_NORMAL, 'x'};
    assert_int_equal(pl_store_put(&f->store, PL_CF_RAFT_LOG, key, 8, val, 10), 0);
    struct raft_storage_state st;
    char err[256] = "";
    assert_int_equal(raft_storage_load(&f->store, &st, err, sizeof(err)), PL_ECORRUPT);
    assert_non_null(strstr(err, "format"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_truncate_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates_share_one_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_format_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_records_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_without_format_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
