/*
 * Unit tests of node/json/pl_json.h: JSON -> msgpack -> JSON round trips, exact integers,
 * key order, escapes and UTF-8, and the errors a malformed line must give.
 */
/* cmocka needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "pl_err.h"
#include "pl_json.h"
#include "pl_mp.h"

#include <string.h>

static void roundtrip(const char *in, const char *want)
{
    struct pl_buf mp, js;
    pl_buf_init(&mp, 1 << 20);
    pl_buf_init(&js, 1 << 20);
    char err[128] = "";
    assert_int_equal(pl_json_to_msgpack(in, strlen(in), &mp, err, sizeof(err)), 0);
    assert_int_equal(pl_json_from_msgpack(mp.data, mp.len, &js), 0);
    assert_int_equal(pl_buf_append(&js, "", 1), 0);
    assert_string_equal((const char *)js.data, want);
    /* And once more: the output is a fixed point. */
    struct pl_buf mp2;
    pl_buf_init(&mp2, 1 << 20);
    assert_int_equal(pl_json_to_msgpack((const char *)js.data, js.len - 1, &mp2, NULL, 0), 0);
    assert_int_equal(mp2.len, mp.len);
    assert_memory_equal(mp2.data, mp.data, mp.len);
    pl_buf_close(&mp);
    pl_buf_close(&mp2);
    pl_buf_close(&js);
}

static void test_roundtrips(void **state)
{
    (void)state;
    roundtrip(" {\"b\": 1, \"a\": [true, false, null], \"c\": \"x\"} ",
              "{\"b\":1,\"a\":[true,false,null],\"c\":\"x\"}");
    roundtrip("18446744073709551615", "18446744073709551615");
    roundtrip("-9223372036854775808", "-9223372036854775808");
    roundtrip("9007199254740993", "9007199254740993"); /* not representable as a double */
    roundtrip("-0", "0");
    roundtrip("1.5", "1.5");
    roundtrip("0.1", "0.1");
    roundtrip("1e2", "100.0");
    roundtrip("-2.5e-300", "-2.5e-300");
    roundtrip("\"tab\\there \\\"q\\\" \\u00e9 \\ud83d\\ude00 \\u0001\"",
              "\"tab\\there \\\"q\\\" \xc3\xa9 \xf0\x9f\x98\x80 \\u0001\"");
    roundtrip("{}", "{}");
    roundtrip("[[],[[]],{\"\":{}}]", "[[],[[]],{\"\":{}}]");
}

static void test_integers_are_integers(void **state)
{
    (void)state;
    struct pl_buf mp;
    pl_buf_init(&mp, 1024);
    assert_int_equal(pl_json_to_msgpack("5", 1, &mp, NULL, 0), 0);
    assert_int_equal(mp.len, 1);
    assert_int_equal(mp.data[0], 0x05); /* positive fixint */
    pl_buf_reset(&mp);
    assert_int_equal(pl_json_to_msgpack("5.0", 3, &mp, NULL, 0), 0);
    assert_int_equal(mp.data[0], 0xcb); /* float64 */
    pl_buf_close(&mp);
}

static void bad(const char *in, const char *reason)
{
    struct pl_buf mp;
    pl_buf_init(&mp, 4096);
    char err[128] = "";
    assert_int_equal(pl_json_to_msgpack(in, strlen(in), &mp, err, sizeof(err)), PL_EMALFORMED);
    assert_int_equal(mp.len, 0);
    if (strstr(err, reason) == NULL)
        fail_msg("'%s': got '%s', want '%s'", in, err, reason);
    pl_buf_close(&mp);
}

static void test_errors(void **state)
{
    (void)state;
    bad("", "expected a value");
    bad("{\"a\":1,}", "expected a string key");
    bad("{\"a\" 1}", "expected ':'");
    bad("[1 2]", "expected ',' or ']'");
    bad("{\"a\":1} x", "trailing characters");
    bad("01", "trailing characters");
    bad("1.", "bad number");
    bad("18446744073709551616", "64-bit range");
    bad("-9223372036854775809", "64-bit range");
    bad("1e999", "out of range");
    bad("\"abc", "unterminated string");
    bad("\"a\x01\"", "control character");
    bad("\"\\x\"", "bad escape");
    bad("\"\\ud800\"", "unpaired surrogate");
    bad("\"\xff\"", "invalid UTF-8");
    bad("\"\xc0\xaf\"", "invalid UTF-8");
    bad("tru", "unexpected character");
    bad("NaN", "unexpected character");
    char deep[64];
    memset(deep, '[', sizeof(deep));
    deep[sizeof(deep) - 1] = '\0';
    bad(deep, "nesting too deep");
    /* Too big for the output's limit. */
    struct pl_buf small;
    pl_buf_init(&small, 4);
    assert_int_equal(pl_json_to_msgpack("\"0123456789\"", 12, &small, NULL, 0), PL_ETOOBIG);
    pl_buf_close(&small);
}

static void test_writer_rejects(void **state)
{
    (void)state;
    struct pl_buf js;
    pl_buf_init(&js, 1024);
    uint8_t bin[] = {0xc4, 0x01, 0x00};    /* bin 8 */
    uint8_t intkey[] = {0x81, 0x01, 0x02}; /* {1: 2} */
    uint8_t badutf[] = {0xa2, 0xc3, 0x28}; /* "\xc3(" */
    uint8_t nan[] = {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
    assert_int_equal(pl_json_from_msgpack(bin, sizeof(bin), &js), PL_EMALFORMED);
    assert_int_equal(pl_json_from_msgpack(intkey, sizeof(intkey), &js), PL_EMALFORMED);
    assert_int_equal(pl_json_from_msgpack(badutf, sizeof(badutf), &js), PL_EMALFORMED);
    assert_int_equal(pl_json_from_msgpack(nan, sizeof(nan), &js), PL_EMALFORMED);
    /* Containers that claim more elements than bytes remain are refused before msgpack-c
     * would allocate for them (fuzz_audit_line found the 2^32-element array). */
    uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    uint8_t huge_map[] = {0x91, 0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x02};
    uint8_t long_str[] = {0xdb, 0x00, 0x01, 0x00, 0x00, 'a'};
    assert_int_equal(pl_json_from_msgpack(huge_array, sizeof(huge_array), &js), PL_EMALFORMED);
    assert_int_equal(pl_json_from_msgpack(huge_map, sizeof(huge_map), &js), PL_EMALFORMED);
    assert_int_equal(pl_json_from_msgpack(long_str, sizeof(long_str), &js), PL_EMALFORMED);
    assert_int_equal(js.len, 0);
    /* msgpack-c unpacks 32 nested containers and not 33; the pre-check agrees. */
    uint8_t nested[40];
    memset(nested, 0x91, sizeof(nested));
    nested[32] = 0xc0;
    assert_int_equal(pl_json_from_msgpack(nested, 33, &js), 0);
    pl_buf_reset(&js);
    nested[32] = 0x91;
    nested[33] = 0xc0;
    assert_int_equal(pl_json_from_msgpack(nested, 34, &js), PL_EMALFORMED);
    assert_int_equal(js.len, 0);
    uint8_t fine[] = {0x92, 0xc0, 0x81, 0xa1, 'k', 0xcd, 0x01, 0x00};
    assert_int_equal(pl_json_from_msgpack(fine, sizeof(fine), &js), 0);
    assert_int_equal(pl_buf_append(&js, "", 1), 0);
    assert_string_equal((const char *)js.data, "[null,{\"k\":256}]");
    pl_buf_close(&js);
}

/* A write that does not fit fails whole: the output is left as it was, never cut short with
 * an escape missing (fuzz_pl_json found a string of NULs that came back "written", with the
 * \u0000 escapes that did not fit dropped). */
static void test_writer_tight_buffer(void **state)
{
    (void)state;
    const uint8_t nuls[] = {0xa5, 0, 'p', 0, 'q', 0}; /* "\0p\0q\0" */
    const char *want = "\"\\u0000p\\u0000q\\u0000\"";
    struct pl_buf js;
    for (size_t max = 0; max <= strlen(want); max++) {
        pl_buf_init(&js, max + 3);
        assert_int_equal(pl_buf_append(&js, "ab:", 3), 0);
        int rc = pl_json_from_msgpack(nuls, sizeof(nuls), &js);
        if (max < strlen(want)) {
            assert_int_equal(rc, PL_ETOOBIG);
            assert_int_equal(js.len, 3);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(js.len, 3 + strlen(want));
            assert_memory_equal(js.data + 3, want, strlen(want));
        }
        /* The string writer on its own, too. */
        js.len = 3;
        rc = pl_json_write_string(&js, "\0p\0q\0", 5);
        assert_int_equal(rc, max < strlen(want) ? PL_ETOOBIG : 0);
        assert_int_equal(js.len, max < strlen(want) ? 3 : 3 + strlen(want));
        pl_buf_close(&js);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_integers_are_integers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_writer_rejects),
        cmocka_unit_test(test_writer_tight_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
