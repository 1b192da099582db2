/*
 * Unit tests of node/base: errors, buffers, msgpack helpers, PRNG, text codecs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pl_buf.h"
#include "pl_clock.h"
#include "pl_err.h"
#include "pl_file.h"
#include "pl_mp.h"
#include "pl_rand.h"
#include "pl_text.h"

static void test_err_names(void **state)
{
    (void)state;
    assert_string_equal(pl_err_name(PL_ECORRUPT), "PL_ECORRUPT");
    assert_string_equal(pl_strerror(PL_ECORRUPT), "stored data is corrupt");
    assert_string_equal(pl_err_name(-ENOENT), "ENOENT");
    assert_string_equal(pl_strerror(0), "success");
    assert_string_equal(pl_err_name(-999999), "PL_EUNKNOWN");
}

static void test_buf_limit(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 10);
    assert_int_equal(pl_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(pl_buf_append(&b, "x", 1), PL_ETOOBIG);
    assert_int_equal(b.len, 10);
    pl_buf_reset(&b);
    assert_int_equal(pl_buf_printf(&b, "%d-%s", 42, "ab"), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "42-ab", 5);
    pl_buf_close(&b);
}

static void test_mp_roundtrip(void **state)
{
    (void)state;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 16);
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, &b);
    pl_mp_map(&w, 5);
    pl_mp_str(&w, "u");
    pl_mp_uint(&w, 1ULL << 40);
    pl_mp_str(&w, "i");
    pl_mp_int(&w, -7);
    pl_mp_str(&w, "s");
    pl_mp_str(&w, "hello");
    pl_mp_str(&w, "b");
    pl_mp_bin(&w, "\x00\x01", 2);
    pl_mp_str(&w, "t");
    pl_mp_bool(&w, true);
    assert_int_equal(w.err, 0);

    msgpack_unpacked u;
    assert_int_equal(pl_mp_parse(b.data, b.len, &u), 0);
    uint64_t uv;
    int64_t iv;
    bool bv;
    char s[8];
    const uint8_t *bin;
    size_t binlen;
    assert_int_equal(pl_mp_get_u64(&u.data, "u", &uv), 0);
    assert_true(uv == 1ULL << 40);
    assert_int_equal(pl_mp_get_i64(&u.data, "i", &iv), 0);
    assert_int_equal(iv, -7);
    assert_int_equal(pl_mp_get_cstr(&u.data, "s", s, sizeof(s)), 0);
    assert_string_equal(s, "hello");
    assert_int_equal(pl_mp_get_cstr(&u.data, "s", s, 5), PL_ETOOBIG);
    assert_int_equal(pl_mp_get_bin(&u.data, "b", &bin, &binlen), 0);
    assert_int_equal(binlen, 2);
    assert_int_equal(pl_mp_get_bool(&u.data, "t", &bv), 0);
    assert_true(bv);
    assert_int_equal(pl_mp_get_u64(&u.data, "missing", &uv), PL_EMALFORMED);
    assert_int_equal(pl_mp_get_u64(&u.data, "s", &uv), PL_EMALFORMED);
    msgpack_unpacked_destroy(&u);

    /* Truncated input and trailing bytes are both refused. */
    assert_int_equal(pl_mp_parse(b.data, b.len - 1, &u), PL_EMALFORMED);
    msgpack_unpacked_destroy(&u);
    uint8_t extra[256];
    memcpy(extra, b.data, b.len);
    extra[b.len] = 0xc0;
    assert_int_equal(pl_mp_parse(extra, b.len + 1, &u), PL_EMALFORMED);
    msgpack_unpacked_destroy(&u);

    /* A writer over a small buffer reports the overflow once, sticky. */
    struct pl_buf small;
    pl_buf_init(&small, 4);
    pl_mp_writer_init(&w, &small);
    pl_mp_str(&w, "too long for four bytes");
    pl_mp_uint(&w, 1);
    assert_int_equal(w.err, PL_ETOOBIG);
    pl_buf_close(&small);
    pl_buf_close(&b);
}

static void test_rand_deterministic(void **state)
{
    (void)state;
    struct pl_rand a, b;
    pl_rand_seed(&a, 42);
    pl_rand_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        assert_true(pl_rand_next(&a) == pl_rand_next(&b));
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++)
        counts[pl_rand_below(&a, 10)]++;
    for (int i = 0; i < 10; i++)
        assert_in_range(counts[i], 9000, 11000);
}

/* Each shuffle is a permutation, and over many draws every value lands in every position
 * about equally often (Fisher-Yates is uniform): a shuffle that moved nothing, never left an
 * element in place (Sattolo's off-by-one) or favoured one end would fail. */
static void test_rand_shuffle(void **state)
{
    (void)state;
    enum { N = 20, DRAWS = 4000 };
    struct pl_rand r;
    pl_rand_seed(&r, 7);
    static uint32_t lands[N][N];
    uint32_t unmoved_draws = 0;
    for (int d = 0; d < DRAWS; d++) {
        uint32_t v[N];
        for (uint32_t i = 0; i < N; i++)
            v[i] = i;
        pl_rand_shuffle(&r, v, N, sizeof(v[0]));
        bool seen[N] = {false};
        bool moved = false;
        for (uint32_t i = 0; i < N; i++) {
            assert_in_range(v[i], 0, N - 1);
            assert_false(seen[v[i]]);
            seen[v[i]] = true;
            moved |= v[i] != i;
            lands[i][v[i]]++;
        }
        unmoved_draws += !moved;
    }
    assert_int_equal(unmoved_draws, 0);
    /* Expected DRAWS / N = 200 per cell, standard deviation about 14. */
    for (uint32_t i = 0; i < N; i++)
        for (uint32_t j = 0; j < N; j++)
            assert_in_range(lands[i][j], 120, 280);

    /* Elements wider than a word move whole. */
    struct wide {
        uint64_t key;
        uint8_t pad[13];
    } w[N];
    for (uint32_t i = 0; i < N; i++) {
        w[i].key = i;
        memset(w[i].pad, (int)i, sizeof(w[i].pad));
    }
    pl_rand_shuffle(&r, w, N, sizeof(w[0]));
    bool seen[N] = {false};
    for (uint32_t i = 0; i < N; i++) {
        assert_in_range(w[i].key, 0, N - 1);
        assert_false(seen[w[i].key]);
        seen[w[i].key] = true;
        for (size_t k = 0; k < sizeof(w[i].pad); k++)
            assert_int_equal(w[i].pad[k], w[i].key);
    }
}

static void test_text(void **state)
{
    (void)state;
    uint8_t bytes[3] = {0x00, 0xab, 0xff}, back[3];
    char hex[7];
    pl_hex_encode(bytes, 3, hex);
    assert_string_equal(hex, "00abff");
    assert_int_equal(pl_hex_decode(hex, 6, back, 3), 0);
    assert_memory_equal(back, bytes, 3);
    assert_int_equal(pl_hex_decode("00abfg", 6, back, 3), PL_EMALFORMED);
    assert_int_equal(pl_hex_decode("00ab", 4, back, 3), PL_EMALFORMED);

    char b64[16];
    pl_base64_encode((const uint8_t *)"hi!", 3, b64);
    assert_string_equal(b64, "aGkh");
    uint8_t dec[8];
    size_t n;
    assert_int_equal(pl_base64_decode("aGkh", 4, dec, sizeof(dec), &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(pl_base64_decode("aG*h", 4, dec, sizeof(dec), &n), PL_EMALFORMED);

    char ts[25];
    pl_time_format_rfc3339(1763719200123ULL, ts);
    assert_string_equal(ts, "2025-11-21T10:00:00.123Z");
    uint64_t ms;
    assert_int_equal(pl_time_parse(ts, &ms), 0);
    assert_true(ms == 1763719200123ULL);
    assert_int_equal(pl_time_parse("2025-11-21T12:00:00+02:00", &ms), 0);
    assert_true(ms == 1763719200000ULL);
    assert_int_equal(pl_time_parse("1763719200000", &ms), 0);
    assert_true(ms == 1763719200000ULL);
    assert_int_equal(pl_time_parse("yesterday", &ms), PL_EMALFORMED);
    assert_int_equal(pl_time_parse("2025-13-01T00:00:00Z", &ms), PL_EMALFORMED);
}

static void test_addr(void **state)
{
    (void)state;
    char host[64];
    int port;
    assert_int_equal(pl_addr_split("127.0.0.1:7946", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7946);
    assert_int_equal(pl_addr_split("[::1]:80", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(pl_addr_split("node-a:0", host, sizeof(host), &port), 0);
    assert_int_equal(pl_addr_split("nope", host, sizeof(host), &port), PL_EMALFORMED);
    assert_int_equal(pl_addr_split(":80", host, sizeof(host), &port), PL_EMALFORMED);
    assert_int_equal(pl_addr_split("h:65536", host, sizeof(host), &port), PL_EMALFORMED);
    assert_int_equal(pl_addr_split("h:12x", host, sizeof(host), &port), PL_EMALFORMED);
    assert_int_equal(pl_addr_split("h:", host, sizeof(host), &port), PL_EMALFORMED);
    assert_int_equal(pl_addr_split("[::1:80", host, sizeof(host), &port), PL_EMALFORMED);
    assert_int_equal(pl_addr_split("abcdef:1", host, 4, &port), PL_EMALFORMED);

    struct sockaddr_storage sa;
    assert_int_equal(pl_addr_resolve("127.0.0.1:8080", &sa), 0);
    assert_int_equal(sa.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 8080);
    assert_int_equal(pl_addr_resolve("[::1]:9", &sa), 0);
    assert_int_equal(sa.ss_family, AF_INET6);
    assert_int_equal(pl_addr_resolve("localhost:80", &sa), PL_EMALFORMED);
}

static void test_manual_clock(void **state)
{
    (void)state;
    struct pl_clock_manual m;
    pl_clock_manual_init(&m, 100, 1000);
    assert_true(m.clock.now_ms(&m.clock) == 100);
    m.now_ms = 250;
    assert_true(m.clock.wall_ms(&m.clock) == 1250);
}

/* pl_file_write_atomic: the content and mode land, a shorter rewrite leaves nothing of the
 * old content and no temporary, and a missing directory is an error that changes nothing. */
static void test_file_write_atomic(void **state)
{
    (void)state;
    char dir[] = "/tmp/pl_file_test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], tmp[160], got[64] = "";
    snprintf(path, sizeof(path), "%s/f", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(pl_file_write_atomic(path, "first, longer", 13, 0600), 0);
    assert_int_equal(pl_file_write_atomic(path, "second", 6, 0640), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(got, 1, sizeof(got) - 1, f);
    fclose(f);
    assert_int_equal(n, 6);
    assert_string_equal(got, "second");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_not_equal(access(tmp, F_OK), 0);
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/no/such/dir", dir);
    assert_int_equal(pl_file_write_atomic(missing, "x", 1, 0600), -ENOENT);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_names),        cmocka_unit_test(test_buf_limit),
        cmocka_unit_test(test_mp_roundtrip),     cmocka_unit_test(test_rand_deterministic),
        cmocka_unit_test(test_rand_shuffle),     cmocka_unit_test(test_text),
        cmocka_unit_test(test_manual_clock),     cmocka_unit_test(test_addr),
        cmocka_unit_test(test_file_write_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
