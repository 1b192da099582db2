/*
 * Unit tests of the one check every proposal passes
 * (snapshot/ledger_proposal.h, ledger_entry_check in ledger_codec.h): each rule
 * refuses with its stable code and a text naming the field; what the check
 * accepts always makes a leaf the codec encodes and decodes; and turning
 * committed bytes into a ledger entry is total and deterministic.
 */
/* cmocka needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "ledger_codec.h"
#include "ledger_proposal.h"
#include "pl_err.h"
#include "pl_json.h"
#include "pl_mp.h"
#include "pl_rand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A proposal of `kind` with a body given as JSON, at time 1. */
struct made
{
    struct pl_buf body;
    struct ledger_proposal pr;
};

static void make(struct made *m, const char *kind, const char *json)
{
    pl_buf_init(&m->body, 1 << 20);
    assert_int_equal(pl_json_to_msgpack(json, strlen(json), &m->body, NULL, 0), 0);
    m->pr = (struct ledger_proposal){1, kind, strlen(kind), m->body.data, m->body.len};
}

static void made_close(struct made *m)
{
    pl_buf_close(&m->body);
}

/* Checks that `pr` is refused with `err` and `code`, and that the text names
 * `field`. */
static void refused(const struct ledger_proposal *pr, int err, const char *code, const char *field)
{
    struct ledger_problem p;
    memset(&p, 0, sizeof(p));
    int rc = ledger_proposal_check(pr, &p);
    if (rc != err || p.code == NULL || strcmp(p.code, code) != 0)
        fail_msg("expected %s (%d), got %s (%d): %s", code, err, p.code ? p.code : "-", rc, p.text);
    assert_string_equal(p.field, field);
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "%s: ", field);
    assert_memory_equal(p.text, prefix, strlen(prefix));
    /* Refused by encode too, which leaves the output untouched. */
    struct pl_buf out;
    pl_buf_init(&out, 1 << 20);
    assert_int_equal(ledger_proposal_encode(pr, &out, NULL), err);
    assert_int_equal(out.len, 0);
    pl_buf_close(&out);
}

static void test_kinds(void **state)
{
    (void)state;
    static const struct
    {
        const char *kind;
        const char *code;
    } cases[] = {
        {"my note", "kind_char"},
        {"a,b", "kind_char"},
        {"q\"x", "kind_char"},
        {"x\\y", "kind_char"},
        {"tab\there", "kind_char"},
        {"new\nline", "kind_char"},
        {"del\x7f", "kind_char"},
        {"caf\xc3\xa9", "kind_char"},
        {"", "kind_empty"},
        {"raft.noop", "kind_reserved"},
        {"raft.rejected", "kind_reserved"},
        {"raft.", "kind_reserved"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct made m;
        make(&m, cases[i].kind, "{\"x\":1}");
        refused(&m.pr, PL_EMALFORMED, cases[i].code, "kind");
        made_close(&m);
    }
    /* The byte named is the first bad one, counted from 1. */
    struct ledger_problem p;
    assert_int_equal(ledger_kind_check("my note", 7, &p), PL_EMALFORMED);
    assert_non_null(strstr(p.text, "byte 3 (0x20)"));
    char long_kind[LEDGER_KIND_MAX + 2];
    memset(long_kind, 'k', sizeof(long_kind));
    long_kind[LEDGER_KIND_MAX + 1] = '\0';
    struct made m;
    make(&m, long_kind, "1");
    refused(&m.pr, PL_EMALFORMED, "kind_long", "kind");
    m.pr.kind_len = LEDGER_KIND_MAX; /* exactly the limit is fine */
    assert_int_equal(ledger_proposal_check(&m.pr, NULL), 0);
    /* "raft" alone and kinds that merely contain "raft." are the user's. */
    m.pr.kind = "raft";
    m.pr.kind_len = 4;
    assert_int_equal(ledger_proposal_check(&m.pr, NULL), 0);
    m.pr.kind = "x.raft.y";
    m.pr.kind_len = 8;
    assert_int_equal(ledger_proposal_check(&m.pr, NULL), 0);
    made_close(&m);
}

static void test_time(void **state)
{
    (void)state;
    struct made m;
    make(&m, "note", "{}");
    m.pr.time_ms = LEDGER_TIME_MS_MAX;
    assert_int_equal(ledger_proposal_check(&m.pr, NULL), 0);
    m.pr.time_ms = LEDGER_TIME_MS_MAX + 1;
    refused(&m.pr, PL_EMALFORMED, "time_range", "time_ms");
    m.pr.time_ms = UINT64_MAX;
    refused(&m.pr, PL_EMALFORMED, "time_range", "time_ms");
    made_close(&m);
}

static void test_bodies(void **state)
{
    (void)state;
    static const struct
    {
        const char *bytes;
        size_t len;
        const char *code;
    } cases[] = {
        {"", 0, "body_missing"},
        {"\xc1", 1, "body_malformed"},                                /* never used */
        {"\x01\x02", 2, "body_malformed"},                            /* two objects */
        {"\x92\x01", 2, "body_malformed"},                            /* array cut short */
        {"\xc4\x01x", 3, "body_not_json"},                            /* bin */
        {"\xd4\x01\x02", 3, "body_not_json"},                         /* fixext 1 */
        {"\x81\x01\x02", 3, "body_not_json"},                         /* an integer key */
        {"\xa2\xff\xfe", 3, "body_not_json"},                         /* not UTF-8 */
        {"\xa2\xed\xa0", 3, "body_not_json"},                         /* half a surrogate */
        {"\x81\xa1\xff\x01", 4, "body_not_json"},                     /* a key that is not UTF-8 */
        {"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 9, "body_not_json"}, /* NaN */
        {"\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", 9, "body_not_json"}, /* infinity */
        {"\xcc\x05", 2, "body_noncanonical"},                         /* 5 as uint8 */
        {"\xd9\x01\x61", 3, "body_noncanonical"},                     /* "a" as str8 */
        {"\xdc\x00\x00", 3, "body_noncanonical"},                     /* [] as array16 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ledger_proposal pr = {1, "note", 4, (const uint8_t *)cases[i].bytes, cases[i].len};
        if (cases[i].len == 0)
            pr.body = NULL;
        refused(&pr, PL_EMALFORMED, cases[i].code, "body");
    }
    /* 31 levels of arrays fit inside a leaf's map, 32 do not. */
    uint8_t deep[40];
    memset(deep, 0x91, sizeof(deep));
    for (size_t depth = 30; depth <= 32; depth++) {
        deep[depth] = 0xc0;
        struct ledger_proposal pr = {1, "note", 4, deep, depth + 1};
        if (depth <= 31)
            assert_int_equal(ledger_proposal_check(&pr, NULL), 0);
        else
            refused(&pr, PL_EMALFORMED, "body_malformed", "body");
        deep[depth] = 0x91;
    }
    /* What the JSON reader makes is always accepted: canonical and renderable. */
    static const char *const json[] = {
        "null",
        "true",
        "-1",
        "18446744073709551615",
        "-9223372036854775808",
        "0.1",
        "1e300",
        "\"caf\\u00e9 \\ud83d\\ude00\"",
        "{\"a\":[1,{\"b\":null}],\"a\":2}",
        "[]",
        "{}",
    };
    for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
        struct made m;
        make(&m, "note", json[i]);
        struct ledger_problem p;
        if (ledger_proposal_check(&m.pr, &p) != 0)
            fail_msg("%s refused: %s", json[i], p.text);
        made_close(&m);
    }
}

/* Replaces b's bytes with a string of n 'x's. */
static void str_body(struct pl_buf *b, size_t n)
{
    pl_buf_reset(b);
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, b);
    char *s = malloc(n);
    assert_non_null(s);
    memset(s, 'x', n);
    pl_mp_strn(&w, s, n);
    free(s);
    assert_int_equal(w.err, 0);
}

/* The biggest body the check accepts still fits a leaf at the largest index and
 * term; one byte more is refused as too big, with PL_ETOOBIG. */
static void test_size_limit(void **state)
{
    (void)state;
    struct pl_buf body;
    pl_buf_init(&body, 1 << 20);
    size_t n = LEDGER_LEAF_MAX - 200;
    struct ledger_proposal pr;
    for (;; n++) {
        str_body(&body, n);
        pr = (struct ledger_proposal){LEDGER_TIME_MS_MAX, "note", 4, body.data, body.len};
        if (ledger_proposal_check(&pr, NULL) != 0)
            break;
    }
    refused(&pr, PL_ETOOBIG, "too_big", "body");
    /* n - 1 was the last accepted: its leaf at the largest index and term fits.
     */
    str_body(&body, n - 1);
    struct ledger_entry e = {UINT64_MAX, UINT64_MAX, LEDGER_TIME_MS_MAX, "note", 4,
                             body.data,  body.len};
    struct pl_buf leaf;
    pl_buf_init(&leaf, 1 << 20);
    assert_int_equal(ledger_entry_encode(&e, &leaf), 0);
    assert_true(leaf.len <= LEDGER_LEAF_MAX);
    assert_true(leaf.len >= LEDGER_LEAF_MAX - 8);
    pl_buf_close(&leaf);
    pl_buf_close(&body);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct made m;
    make(&m, "deploy.note", "{\"who\":\"ops\",\"n\":7}");
    m.pr.time_ms = 1700000000123;
    struct pl_buf bytes;
    pl_buf_init(&bytes, 1 << 20);
    assert_int_equal(ledger_proposal_encode(&m.pr, &bytes, NULL), 0);
    struct ledger_proposal d;
    assert_int_equal(ledger_proposal_decode(bytes.data, bytes.len, &d, NULL), 0);
    assert_int_equal(d.time_ms, m.pr.time_ms);
    assert_int_equal(d.kind_len, 11);
    assert_memory_equal(d.kind, "deploy.note", 11);
    assert_int_equal(d.body_len, m.pr.body_len);
    assert_memory_equal(d.body, m.pr.body, d.body_len);
    /* Pointers are into the input bytes, not msgpack-c's memory. */
    assert_true((const uint8_t *)d.kind > bytes.data && d.body > bytes.data &&
                d.body + d.body_len == bytes.data + bytes.len);

    /* The shape is exact: any other map, order, key or encoding is refused. */
    static const struct
    {
        const char *bytes;
        size_t len;
    } bad[] = {
        /* clang-format off */
        {"", 0},
        {"\x80", 1},                                             /* {} */
        {"\x93\x01\xa1k\x01", 5},                                /* an array */
        {"\x83\xa1k\xa1x\xa1t\x01\xa1\x62\x01", 11},              /* k before t */
        {"\x83\xa1t\xff\xa1k\xa1x\xa1\x62\x01", 11},              /* t negative */
        {"\x83\xa1t\xcc\x01\xa1k\xa1x\xa1\x62\x01", 12},          /* t not shortest */
        {"\x83\xa1t\x01\xa1k\xc4\x01x\xa1\x62\x01", 12},          /* kind as bin */
        {"\x83\xa1t\x01\xa1k\xd9\x01x\xa1\x62\x01", 12},          /* kind as str8 */
        {"\x84\xa1t\x01\xa1k\xa1x\xa1\x62\x01\xa1z\x01", 14},     /* a fourth key */
        {"\x83\xa1t\x01\xa1k\xa1x\xa1\x62\x01\x01", 12},          /* trailing bytes */
        {"\x83\xa1t\x01\xa1k\xa1x\xa1\x63\x01", 11},              /* c for b */
        /* clang-format on */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ledger_problem p;
        d = (struct ledger_proposal){0};
        int rc = ledger_proposal_decode((const uint8_t *)bad[i].bytes, bad[i].len, &d, &p);
        if (rc != PL_EMALFORMED || strcmp(p.code, "proposal_shape") != 0)
            fail_msg("case %zu: %d %s", i, rc, rc ? p.code : "accepted");
        assert_null(d.kind); /* untouched */
    }
    /* A well-shaped proposal with a bad field is refused by the field's own rule. */
    struct ledger_problem p;
    static const char bad_kind[] = "\x83\xa1t\x01\xa1k\xa3\x61\x20\x62\xa1\x62\x01";
    assert_int_equal(ledger_proposal_decode((const uint8_t *)bad_kind, 13, &d, &p), PL_EMALFORMED);
    assert_string_equal(p.code, "kind_char");
    pl_buf_close(&bytes);
    made_close(&m);
}

/* Encodes e, decodes the leaf, and checks the decoded entry is e and passes the
 * check. */
static void leaf_ok(const struct ledger_entry *e)
{
    struct pl_buf leaf;
    pl_buf_init(&leaf, LEDGER_LEAF_MAX);
    struct ledger_problem p;
    if (ledger_entry_check(e, &p) != 0)
        fail_msg("entry refused: %s", p.text);
    assert_int_equal(ledger_entry_encode(e, &leaf), 0);
    struct ledger_entry d;
    assert_int_equal(ledger_entry_decode(leaf.data, leaf.len, &d), 0);
    assert_int_equal(d.index, e->index);
    assert_int_equal(d.kind_len, e->kind_len);
    assert_memory_equal(d.kind, e->kind, e->kind_len);
    assert_int_equal(d.body_len, e->body_len);
    pl_buf_close(&leaf);
}

static void test_from_proposal(void **state)
{
    (void)state;
    /* A valid proposal keeps its own time, kind and body. */
    struct made m;
    make(&m, "note", "{\"x\":1}");
    struct pl_buf bytes, body;
    pl_buf_init(&bytes, 1 << 20);
    pl_buf_init(&body, LEDGER_LEAF_MAX);
    assert_int_equal(ledger_proposal_encode(&m.pr, &bytes, NULL), 0);
    struct ledger_entry e;
    assert_int_equal(ledger_entry_from_proposal(4, 2, 99, bytes.data, bytes.len, &body, &e, NULL),
                     0);
    assert_int_equal(e.time_ms, 1);
    assert_int_equal(body.len, 0);
    leaf_ok(&e);

    /* "my note" committed (an older API let it through): recorded as refused, at
     * the previous entry's time, with the code, the field, the size, the hash and
     * the bytes. */
    m.pr.kind = "my note";
    m.pr.kind_len = 7;
    pl_buf_reset(&bytes);
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, &bytes);
    pl_mp_map(&w, 3);
    pl_mp_str(&w, "t");
    pl_mp_uint(&w, 5);
    pl_mp_str(&w, "k");
    pl_mp_str(&w, "my note");
    pl_mp_str(&w, "b");
    pl_mp_raw(&w, m.body.data, m.body.len);
    struct ledger_problem p;
    assert_int_equal(ledger_entry_from_proposal(4, 2, 99, bytes.data, bytes.len, &body, &e, &p), 1);
    assert_string_equal(p.code, "kind_char");
    assert_int_equal(e.time_ms, 99);
    assert_int_equal(e.index, 4);
    assert_int_equal(e.term, 2);
    assert_int_equal(e.kind_len, strlen(LEDGER_KIND_REJECTED));
    assert_memory_equal(e.kind, LEDGER_KIND_REJECTED, e.kind_len);
    leaf_ok(&e);
    struct pl_buf json;
    pl_buf_init(&json, 1 << 20);
    assert_int_equal(pl_json_from_msgpack(e.body, e.body_len, &json), 0);
    assert_int_equal(pl_buf_append(&json, "", 1), 0);
    assert_non_null(strstr((char *)json.data,
                           "{\"code\":\"kind_char\",\"field\":\"kind\",\"bytes\":20,"
                           "\"sha256\":\""));
    assert_non_null(strstr((char *)json.data, "\"data\":\"83a174"));
    /* The same bytes give the same record (every node writes the same leaf). */
    struct pl_buf body2;
    pl_buf_init(&body2, LEDGER_LEAF_MAX);
    struct ledger_entry e2;
    assert_int_equal(ledger_entry_from_proposal(4, 2, 99, bytes.data, bytes.len, &body2, &e2, NULL),
                     1);
    assert_int_equal(e2.body_len, e.body_len);
    assert_memory_equal(e2.body, e.body, e.body_len);
    pl_buf_close(&body2);

    /* Big bytes keep their hash only; empty bytes are recorded too. */
    uint8_t *big = calloc(1, 1 << 20);
    pl_buf_reset(&body);
    assert_int_equal(ledger_entry_from_proposal(5, 2, 99, big, 1 << 20, &body, &e, &p), 1);
    assert_string_equal(p.code, "proposal_shape");
    leaf_ok(&e);
    pl_buf_reset(&json);
    assert_int_equal(pl_json_from_msgpack(e.body, e.body_len, &json), 0);
    assert_null(memmem(json.data, json.len, "\"data\"", 6));
    pl_buf_reset(&body);
    assert_int_equal(ledger_entry_from_proposal(6, 2, 99, big, 0, &body, &e, NULL), 1);
    leaf_ok(&e);
    free(big);
    pl_buf_close(&json);
    pl_buf_close(&body);
    pl_buf_close(&bytes);
    made_close(&m);
}

/* Totality over many random and mutated inputs: every one gives an entry the
 * leaf codec accepts and decodes (the fuzz target checks the same with coverage
 * guidance). */
static void test_total(void **state)
{
    (void)state;
    struct pl_rand rnd;
    pl_rand_seed(&rnd, 15);
    struct made m;
    make(&m, "note", "{\"a\":[1,2,{\"b\":\"c\"}],\"d\":-5,\"e\":0.5}");
    struct pl_buf valid, body;
    pl_buf_init(&valid, 1 << 20);
    pl_buf_init(&body, LEDGER_LEAF_MAX);
    assert_int_equal(ledger_proposal_encode(&m.pr, &valid, NULL), 0);
    uint8_t buf[256];
    int accepted = 0, rejected = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n;
        if (i % 2 == 0) { /* a valid proposal with a few bytes changed */
            n = valid.len;
            memcpy(buf, valid.data, n);
            for (uint64_t k = 0, flips = 1 + pl_rand_below(&rnd, 3); k < flips; k++)
                buf[pl_rand_below(&rnd, n)] = (uint8_t)pl_rand_next(&rnd);
            if (pl_rand_below(&rnd, 4) == 0)
                n = pl_rand_below(&rnd, n + 1);
        } else {
            n = pl_rand_below(&rnd, sizeof(buf));
            for (size_t k = 0; k < n; k++)
                buf[k] = (uint8_t)pl_rand_next(&rnd);
        }
        pl_buf_reset(&body);
        struct ledger_entry e;
        int rc = ledger_entry_from_proposal((uint64_t)i, 3, 1000, buf, n, &body, &e, NULL);
        assert_true(rc == 0 || rc == 1);
        rc == 0 ? accepted++ : rejected++;
        leaf_ok(&e);
    }
    assert_true(accepted > 100 && rejected > 100);
    pl_buf_close(&valid);
    pl_buf_close(&body);
    made_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),      cmocka_unit_test(test_time),
        cmocka_unit_test(test_bodies),     cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_from_proposal),
        cmocka_unit_test(test_total),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
