/*
 * pl_mp_read.h: the msgpack spec's format table walked once, each token checked
 * against the form msgpack-c's packer (pack_template.h) would have chosen for
 * its value.
 */
#include "pl_mp_read.h"

#include "pl_err.h"

#include <string.h>

void pl_mp_reader_init(struct pl_mp_reader *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->n = n;
    r->pos = 0;
    r->err = NULL;
    r->err_at = 0;
}

static int fail_at(struct pl_mp_reader *r, size_t at, const char *why)
{
    if (r->err == NULL) {
        r->err = why;
        r->err_at = at;
    }
    return PL_EMALFORMED;
}

int pl_mp_read_fail(struct pl_mp_reader *r, size_t at, const char *why)
{
    return fail_at(r, at, why);
}

static uint64_t be(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* The type byte at r->pos, or a refusal when the input ended. */
static int type_byte(struct pl_mp_reader *r, const char *what, uint8_t *b)
{
    if (r->err != NULL)
        return PL_EMALFORMED;
    if (r->pos >= r->n)
        return fail_at(r, r->pos, what);
    *b = r->p[r->pos];
    return 0;
}

/* Reads `w` big-endian bytes after the type byte at `at`, moving past them. */
static int take(struct pl_mp_reader *r, size_t at, unsigned w, uint64_t *v)
{
    if (r->n - at - 1 < w)
        return fail_at(r, at, "truncated inside a value");
    *v = be(r->p + at + 1, w);
    r->pos = at + 1 + w;
    return 0;
}

/* Any integer token: *neg says whether it is below zero, *u holds it (two's
 * complement when negative). */
static int integer(struct pl_mp_reader *r, bool *neg, uint64_t *u)
{
    uint8_t b;
    if (type_byte(r, "truncated: an integer was expected", &b) != 0)
        return PL_EMALFORMED;
    size_t at = r->pos;
    if (b <= 0x7f || b >= 0xe0) {
        *neg = b >= 0xe0;
        *u = *neg ? (uint64_t)(int64_t)(int8_t)b : b;
        r->pos = at + 1;
        return 0;
    }
    uint64_t v;
    if (b >= 0xcc && b <= 0xcf) {
        unsigned w = 1u << (b - 0xcc);
        if (take(r, at, w, &v) != 0)
            return PL_EMALFORMED;
        /* uint 8 from 128, uint 16 from 256, uint 32 from 65,536, uint 64 from
         * 2^32. */
        static const uint64_t from[4] = {0x80, 0x100, 0x10000, UINT64_C(0x100000000)};
        if (v < from[b - 0xcc])
            return fail_at(r, at, "an integer not in its shortest encoding");
        *neg = false;
        *u = v;
        return 0;
    }
    if (b >= 0xd0 && b <= 0xd3) {
        unsigned w = 1u << (b - 0xd0);
        if (take(r, at, w, &v) != 0)
            return PL_EMALFORMED;
        int64_t s = w == 1 ? (int8_t)v : w == 2 ? (int16_t)v : w == 4 ? (int32_t)v : (int64_t)v;
        /* int 8 below -32, int 16 below -128, int 32 below -32,768, int 64 below
         * -2^31; a value >= 0 is written unsigned. */
        static const int64_t below[4] = {-32, -128, -32768, -INT64_C(2147483648)};
        if (s >= below[b - 0xd0])
            return fail_at(r, at, "an integer not in its shortest encoding");
        *neg = true;
        *u = (uint64_t)s;
        return 0;
    }
    return fail_at(r, at, "not an integer");
}

int pl_mp_read_uint(struct pl_mp_reader *r, uint64_t *v)
{
    size_t at = r->pos;
    bool neg;
    uint64_t u;
    if (integer(r, &neg, &u) != 0)
        return PL_EMALFORMED;
    if (neg)
        return fail_at(r, at, "a negative integer where one >= 0 is expected");
    *v = u;
    return 0;
}

int pl_mp_read_int(struct pl_mp_reader *r, int64_t *v)
{
    size_t at = r->pos;
    bool neg;
    uint64_t u;
    if (integer(r, &neg, &u) != 0)
        return PL_EMALFORMED;
    if (!neg && u > INT64_MAX)
        return fail_at(r, at, "an integer past the signed 64-bit range");
    *v = (int64_t)u;
    return 0;
}

/* A length header: fix forms carry it in the type byte
 * (fix_base..fix_base+fix_max), then the 8/16/32-bit forms at t8 (0 when the
 * type has none), t16 and any other byte (the caller checked it is the type's
 * 32-bit form). Each longer form is canonical only for a length the shorter
 * ones cannot say. */
static int length(struct pl_mp_reader *r,
                  uint8_t b,
                  uint8_t fix_base,
                  uint8_t fix_max,
                  uint8_t t8,
                  uint8_t t16,
                  uint64_t *len)
{
    size_t at = r->pos;
    uint64_t v;
    if (fix_max > 0 && b >= fix_base && b <= fix_base + fix_max) {
        *len = b - fix_base;
        r->pos = at + 1;
        return 0;
    }
    uint64_t from;
    if (t8 != 0 && b == t8) {
        if (take(r, at, 1, &v) != 0)
            return PL_EMALFORMED;
        from = fix_max > 0 ? (uint64_t)fix_max + 1 : 0;
    } else if (b == t16) {
        if (take(r, at, 2, &v) != 0)
            return PL_EMALFORMED;
        from = t8 != 0 ? 0x100 : (uint64_t)fix_max + 1;
    } else {
        if (take(r, at, 4, &v) != 0)
            return PL_EMALFORMED;
        from = 0x10000;
    }
    if (v < from)
        return fail_at(r, at, "a length not in its shortest encoding");
    *len = v;
    return 0;
}

/* Moves past `len` bytes of payload, refusing what would leave the input. */
static int skip(struct pl_mp_reader *r, size_t at, uint64_t len)
{
    if (len > r->n - r->pos)
        return fail_at(r, at, "a length past the end of the input");
    r->pos += (size_t)len;
    return 0;
}

int pl_mp_read_map_of(struct pl_mp_reader *r, uint32_t count)
{
    uint8_t b;
    if (type_byte(r, "truncated: a map was expected", &b) != 0)
        return PL_EMALFORMED;
    size_t at = r->pos;
    if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf))
        return fail_at(r, at, "not a map");
    uint64_t len;
    if (length(r, b, 0x80, 15, 0, 0xde, &len) != 0)
        return PL_EMALFORMED;
    if (len != count)
        return fail_at(r, at, "a map with another number of entries than its format has");
    return 0;
}

static bool is_str(uint8_t b)
{
    return (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb);
}

int pl_mp_read_str(struct pl_mp_reader *r, const char **s, size_t *len)
{
    uint8_t b;
    if (type_byte(r, "truncated: a string was expected", &b) != 0)
        return PL_EMALFORMED;
    size_t at = r->pos;
    if (!is_str(b))
        return fail_at(r, at, "not a string");
    uint64_t n;
    if (length(r, b, 0xa0, 31, 0xd9, 0xda, &n) != 0 || skip(r, at, n) != 0)
        return PL_EMALFORMED;
    *s = (const char *)r->p + r->pos - n;
    *len = (size_t)n;
    return 0;
}

int pl_mp_read_key(struct pl_mp_reader *r, const char *key, size_t len)
{
    size_t at = r->pos;
    const char *s;
    size_t n;
    if (pl_mp_read_str(r, &s, &n) != 0)
        return PL_EMALFORMED;
    if (n != len || memcmp(s, key, len) != 0)
        return fail_at(r, at, "a map key other than the format's at this place");
    return 0;
}

/* Whether float 32 bits come back the same through msgpack-c's unpack (float ->
 * double) and pack (double -> float). Only a signalling NaN does not (it comes
 * back quiet); the volatile keeps the compiler from folding the round trip
 * away. */
static bool float32_survives(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof(f));
    volatile double d = f;
    float g = (float)d;
    uint32_t back;
    memcpy(&back, &g, sizeof(back));
    return back == bits;
}

static int any(struct pl_mp_reader *r, unsigned containers_left)
{
    uint8_t b;
    if (type_byte(r, "truncated: a value was expected", &b) != 0)
        return PL_EMALFORMED;
    size_t at = r->pos;
    uint64_t len, items;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        r->pos = at + 1; /* fixint, nil, false, true */
        return 0;
    }
    if ((b >= 0xcc && b <= 0xd3)) {
        bool neg;
        return integer(r, &neg, &len);
    }
    if (is_str(b))
        return length(r, b, 0xa0, 31, 0xd9, 0xda, &len) == 0 ? skip(r, at, len) : PL_EMALFORMED;
    if (b >= 0xc4 && b <= 0xc6) /* bin 8/16/32: no fix form */
        return length(r, b, 0, 0, 0xc4, 0xc5, &len) == 0 ? skip(r, at, len) : PL_EMALFORMED;
    if (b >= 0xd4 && b <= 0xd8) { /* fixext 1..16: type, then the data */
        r->pos = at + 1;
        return skip(r, at, 1 + (1u << (b - 0xd4)));
    }
    if (b >= 0xc7 && b <= 0xc9) {
        if (length(r, b, 0, 0, 0xc7, 0xc8, &len) != 0)
            return PL_EMALFORMED;
        if (len == 1 || len == 2 || len == 4 || len == 8 || len == 16)
            return fail_at(r, at, "an extension not in its fixext encoding");
        return skip(r, at, 1 + len);
    }
    if (b == 0xca) {
        uint64_t v;
        if (take(r, at, 4, &v) != 0)
            return PL_EMALFORMED;
        return float32_survives((uint32_t)v) ? 0 : fail_at(r, at, "a signalling NaN float");
    }
    if (b == 0xcb) {
        r->pos = at + 1;
        return skip(r, at, 8);
    }
    bool map = (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
    bool array = (b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd;
    if (!map && !array)
        return fail_at(r, at, "type byte 0xc1, which msgpack never uses");
    if (containers_left == 0)
        return fail_at(r, at, "arrays and maps nested too deep");
    if (map ? length(r, b, 0x80, 15, 0, 0xde, &items) != 0
            : length(r, b, 0x90, 15, 0, 0xdc, &items) != 0)
        return PL_EMALFORMED;
    if (map)
        items *= 2;
    /* Every element takes a byte at least: a count the input cannot hold ends in
     * a refusal after at most n steps, without allocating for it. */
    for (uint64_t i = 0; i < items; i++)
        if (any(r, containers_left - 1) != 0)
            return PL_EMALFORMED;
    return 0;
}

int pl_mp_read_any(struct pl_mp_reader *r, unsigned containers_max)
{
    return any(r, containers_max);
}

int pl_mp_read_end(struct pl_mp_reader *r)
{
    if (r->err != NULL)
        return PL_EMALFORMED;
    return r->pos == r->n ? 0 : fail_at(r, r->pos, "trailing bytes after the object");
}
