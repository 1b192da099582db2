/*
 * Unit tests of the "strategies" gossip record (node/swarm/swarm_learn_record.c): the record
 * of a learned table names the entry that last changed it and every signature with a
 * choice; it round-trips byte for byte; a member's table from it is the voter's table from
 * the state; the largest record fits its byte bound; every malformed or non-canonical shape
 * is refused whole and leaves the output untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_err.h"
#include "pl_mp.h"
#include "swarm_learn_heal.h"
#include "swarm_learn_record.h"

#define ACT_RESTART 1
#define ACT_CONFIG_SYNC 6
#define ACT_CLEANUP 9
#define CAND ((1u << ACT_RESTART) | (1u << ACT_CONFIG_SYNC) | (1u << ACT_CLEANUP))

static struct swarm_learn_key key(const char *service, uint8_t feature)
{
    struct swarm_learn_key k;
    memset(&k, 0, sizeof(k));
    snprintf(k.service, sizeof(k.service), "%s", service);
    k.cls = 3;
    k.cause = 4;
    k.signal = 2;
    k.feature = feature;
    return k;
}

/* A table with lessons: two signatures of web, one of db, one of a service whose every
 * action needs approval (no choice). */
static void learned_table(struct swarm_learn *l)
{
    swarm_learn_init(l);
    struct swarm_learn_key web6 = key("web", 6), web4 = key("web", 4), db = key("db", 6),
                           locked = key("locked", 6);
    struct swarm_learn_draw d = {.index = 5, .term = 2, .incident = "n1-a"};
    swarm_learn_note(l, &web6, CAND, ACT_RESTART, &d, NULL);
    d = (struct swarm_learn_draw){.index = 6, .term = 2, .incident = "n1-b"};
    swarm_learn_note(l, &web4, CAND, ACT_RESTART, &d, NULL);
    d = (struct swarm_learn_draw){.index = 7, .term = 2, .incident = "n2-a"};
    swarm_learn_note(l, &db, CAND, ACT_RESTART, &d, NULL);
    d = (struct swarm_learn_draw){.index = 8, .term = 3, .incident = "n3-a"};
    swarm_learn_note(l, &locked, 0, ACT_RESTART, &d, NULL);
    /* The latest change: web6's restarts failed, its cleanup healed, at index 11, term 4. */
    for (uint64_t i = 9; i <= 11; i++) {
        const uint8_t acts[] = {ACT_RESTART, ACT_CLEANUP};
        d = (struct swarm_learn_draw){.index = i, .term = 4, .incident = "n1-c"};
        swarm_learn_outcome(l, &web6, acts, 2, true, &d, NULL);
    }
}

static void test_roundtrip(void **state)
{
    (void)state;
    static struct swarm_learn l;
    static struct swarm_learn_record r, back;
    learned_table(&l);
    swarm_learn_record_of(&l, &r);
    assert_int_equal(r.index, 11);
    assert_int_equal(r.term, 4);
    assert_int_equal(r.n, 3); /* "locked" has no choice */
    for (uint32_t i = 0; i < r.n; i++) {
        const struct swarm_learn_sig *s = swarm_learn_find(&l, &r.v[i].key);
        assert_non_null(s);
        assert_int_equal(r.v[i].action, s->choice);
        assert_true(s->choice != 0);
    }
    struct pl_buf b;
    pl_buf_init(&b, SWARM_LEARN_RECORD_BYTES_MAX);
    assert_int_equal(swarm_learn_record_encode(&r, &b), 0);
    assert_true(b.len < 64); /* 3 entries of 10 bytes and the header */
    assert_int_equal(swarm_learn_record_decode(b.data, b.len, &back), 0);
    assert_memory_equal(&back, &r, sizeof(r));
    /* The member's table from the record is the voter's from the state, per service. */
    static struct heal_learned from_state, from_record;
    for (int i = 0; i < 3; i++) {
        const char *svc = (const char *[]){"web", "db", "locked"}[i];
        swarm_learn_table(&l, svc, &from_state);
        swarm_learn_record_table(&back, svc, &from_record);
        assert_int_equal(from_state.n, i == 0 ? 2 : i == 1 ? 1 : 0);
        assert_memory_equal(&from_state, &from_record, sizeof(from_state));
    }
    /* Newer: the higher index, the term on a tie. */
    back.index = 10;
    assert_true(swarm_learn_record_newer(&r, &back));
    assert_false(swarm_learn_record_newer(&back, &r));
    back.index = 11;
    back.term = 3;
    assert_true(swarm_learn_record_newer(&r, &back));
    assert_false(swarm_learn_record_newer(&r, &r));
    /* Nothing learned: index 0, no entries. */
    swarm_learn_init(&l);
    swarm_learn_record_of(&l, &r);
    assert_int_equal(r.index, 0);
    assert_int_equal(r.n, 0);
    pl_buf_close(&b);
}

static void test_largest_fits(void **state)
{
    (void)state;
    static struct swarm_learn_record r, back;
    memset(&r, 0, sizeof(r));
    r.index = UINT64_MAX;
    r.term = UINT64_MAX;
    r.n = SWARM_LEARN_RECORD_MAX;
    for (uint32_t i = 0; i < r.n; i++) {
        memset(r.v[i].key.service, 'a' + (char)(i % 26), SWARM_LEARN_NAME_MAX - 1);
        r.v[i].key.service[0] = (char)('A' + i / 26);
        r.v[i].key.cls = r.v[i].key.cause = r.v[i].key.signal = r.v[i].key.feature = 255;
        r.v[i].action = SWARM_LEARN_ARMS - 1;
    }
    struct pl_buf b;
    pl_buf_init(&b, SWARM_LEARN_RECORD_BYTES_MAX);
    assert_int_equal(swarm_learn_record_encode(&r, &b), 0);
    assert_true(b.len <= SWARM_LEARN_RECORD_BYTES_MAX);
    assert_int_equal(swarm_learn_record_decode(b.data, b.len, &back), 0);
    assert_memory_equal(&back, &r, sizeof(r));
    r.n = SWARM_LEARN_RECORD_MAX + 1;
    assert_int_equal(swarm_learn_record_encode(&r, &b), PL_ERANGE);
    pl_buf_close(&b);
}

/* A record whose entries are written by `entry` (n of them, i = 0..n-1). */
static void record_bytes(struct pl_buf *b, uint32_t n,
                         void (*entry)(struct pl_mp_writer *w, uint32_t i))
{
    b->len = 0;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, b);
    pl_mp_map(&w, 3);
    pl_mp_str(&w, "index");
    pl_mp_uint(&w, 9);
    pl_mp_str(&w, "term");
    pl_mp_uint(&w, 2);
    pl_mp_str(&w, "sigs");
    pl_mp_array(&w, n);
    for (uint32_t i = 0; i < n; i++)
        entry(&w, i);
    assert_int_equal(w.err, 0);
}

static void entry6(struct pl_mp_writer *w, const char *svc, uint64_t f, uint64_t action)
{
    pl_mp_array(w, 6);
    pl_mp_str(w, svc);
    for (int k = 0; k < 3; k++)
        pl_mp_uint(w, 3);
    pl_mp_uint(w, f);
    pl_mp_uint(w, action);
}

static void good(struct pl_mp_writer *w, uint32_t i) { entry6(w, "web", i, 9); }
static void action0(struct pl_mp_writer *w, uint32_t i) { (void)i, entry6(w, "web", 6, 0); }
static void action16(struct pl_mp_writer *w, uint32_t i) { (void)i, entry6(w, "web", 6, 16); }
static void byte256(struct pl_mp_writer *w, uint32_t i) { (void)i, entry6(w, "web", 256, 9); }
static void noname(struct pl_mp_writer *w, uint32_t i) { (void)i, entry6(w, "", 6, 9); }
static void twice(struct pl_mp_writer *w, uint32_t i) { (void)i, entry6(w, "web", 6, 9); }
static void five(struct pl_mp_writer *w, uint32_t i)
{
    (void)i;
    pl_mp_array(w, 5);
    pl_mp_str(w, "web");
    for (int k = 0; k < 4; k++)
        pl_mp_uint(w, 3);
}
static void signed_num(struct pl_mp_writer *w, uint32_t i)
{
    (void)i;
    pl_mp_array(w, 6);
    pl_mp_str(w, "web");
    pl_mp_int(w, -1);
    for (int k = 0; k < 4; k++)
        pl_mp_uint(w, 3);
}
static void long_name(struct pl_mp_writer *w, uint32_t i)
{
    (void)i;
    char name[SWARM_LEARN_NAME_MAX + 1];
    memset(name, 'n', SWARM_LEARN_NAME_MAX);
    name[SWARM_LEARN_NAME_MAX] = '\0';
    entry6(w, name, 6, 9);
}

static void refused(const struct pl_buf *b, int want)
{
    static struct swarm_learn_record r;
    r.index = 77;
    assert_int_equal(swarm_learn_record_decode(b->data, b->len, &r), want);
    assert_int_equal(r.index, 77); /* untouched */
}

static void test_refused(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    record_bytes(&b, 2, good);
    static struct swarm_learn_record r;
    assert_int_equal(swarm_learn_record_decode(b.data, b.len, &r), 0);
    assert_int_equal(r.n, 2);
    /* Trailing bytes, a truncated record, nothing at all. */
    pl_buf_append(&b, "\xc0", 1);
    refused(&b, PL_EMALFORMED);
    b.len -= 3;
    refused(&b, PL_EMALFORMED);
    b.len = 0;
    refused(&b, PL_EMALFORMED);
    void (*const bad[])(struct pl_mp_writer *, uint32_t) = {action0, action16, byte256, noname,
                                                             five,    signed_num, long_name};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        record_bytes(&b, 1, bad[i]);
        refused(&b, PL_EMALFORMED);
    }
    record_bytes(&b, 2, twice); /* one signature listed twice */
    refused(&b, PL_EMALFORMED);
    record_bytes(&b, SWARM_LEARN_RECORD_MAX + 1, good);
    refused(&b, PL_EMALFORMED);
    /* Keys in another order, an extra key, a longer form of a number: not canonical. */
    struct pl_mp_writer w;
    b.len = 0;
    pl_mp_writer_init(&w, &b);
    pl_mp_map(&w, 3);
    pl_mp_str(&w, "term");
    pl_mp_uint(&w, 2);
    pl_mp_str(&w, "index");
    pl_mp_uint(&w, 9);
    pl_mp_str(&w, "sigs");
    pl_mp_array(&w, 0);
    refused(&b, PL_EMALFORMED);
    record_bytes(&b, 0, good);
    b.data[0] = 0x84;
    pl_buf_append(&b, "\xa1x\x01", 3);
    refused(&b, PL_EMALFORMED);
    static const uint8_t wide[] = {0x83, 0xa5, 'i', 'n', 'd', 'e', 'x', 0xcc, 0x09, 0xa4,
                                   't',  'e',  'r', 'm', 0x02, 0xa4, 's', 'i', 'g', 's', 0x90};
    b.len = 0;
    pl_buf_append(&b, wide, sizeof(wide));
    refused(&b, PL_EMALFORMED);
    memmove(b.data + 7, b.data + 8, b.len - 8); /* the shortest form: accepted */
    b.len--;
    assert_int_equal(swarm_learn_record_decode(b.data, b.len, &r), 0);
    pl_buf_close(&b);
    /* Past the byte bound: refused before it is parsed. */
    static uint8_t big[SWARM_LEARN_RECORD_BYTES_MAX + 1];
    r.index = 77;
    assert_int_equal(swarm_learn_record_decode(big, sizeof(big), &r), PL_ETOOBIG);
    assert_int_equal(r.index, 77);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_largest_fits),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
