/*
 * pl_mp_check.h: one pass over the msgpack format's type bytes (the msgpack spec's format
 * table), counting the items still owed instead of recursing.
 */
#include "pl_mp_check.h"

#include "pl_err.h"

#include <stdbool.h>

static uint64_t be(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

int pl_mp_check(const uint8_t *p, size_t n)
{
    return pl_mp_check_depth(p, n, PL_MP_CHECK_DEPTH_MAX);
}

int pl_mp_check_depth(const uint8_t *p, size_t n, unsigned containers_max)
{
    size_t pos = 0;
    uint64_t owed = 1; /* items still to read, all levels together */
    /* Items left in each open container; level 0 is the top-level object. */
    uint64_t left[PL_MP_CHECK_DEPTH_MAX + 1];
    unsigned depth = 1;
    left[0] = 1;
    if (containers_max > PL_MP_CHECK_DEPTH_MAX)
        containers_max = PL_MP_CHECK_DEPTH_MAX;
    while (owed > 0) {
        while (left[depth - 1] == 0)
            depth--;
        if (pos >= n)
            return PL_EMALFORMED;
        owed--;
        left[depth - 1]--;
        uint8_t b = p[pos++];
        uint64_t skip = 0, items = 0;
        unsigned len_bytes = 0, extra = 0;
        bool is_container = (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool: nothing follows */
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else if (b >= 0x90 && b <= 0x9f) {
            items = b & 0x0f;
        } else if (b >= 0x80 && b <= 0x8f) {
            items = 2u * (b & 0x0f);
        } else {
            switch (b) {
                case 0xc4:
                    len_bytes = 1;
                    break; /* bin 8/16/32 */
                case 0xc5:
                    len_bytes = 2;
                    break;
                case 0xc6:
                    len_bytes = 4;
                    break;
                case 0xc7:
                    len_bytes = 1;
                    extra = 1;
                    break; /* ext 8/16/32: + type byte */
                case 0xc8:
                    len_bytes = 2;
                    extra = 1;
                    break;
                case 0xc9:
                    len_bytes = 4;
                    extra = 1;
                    break;
                case 0xca:
                    skip = 4;
                    break; /* float 32/64 */
                case 0xcb:
                    skip = 8;
                    break;
                case 0xcc:
                case 0xd0:
                    skip = 1;
                    break; /* (u)int 8..64 */
                case 0xcd:
                case 0xd1:
                    skip = 2;
                    break;
                case 0xce:
                case 0xd2:
                    skip = 4;
                    break;
                case 0xcf:
                case 0xd3:
                    skip = 8;
                    break;
                case 0xd4:
                    skip = 2;
                    break; /* fixext 1..16: type + data */
                case 0xd5:
                    skip = 3;
                    break;
                case 0xd6:
                    skip = 5;
                    break;
                case 0xd7:
                    skip = 9;
                    break;
                case 0xd8:
                    skip = 17;
                    break;
                case 0xd9:
                    len_bytes = 1;
                    break; /* str 8/16/32 */
                case 0xda:
                    len_bytes = 2;
                    break;
                case 0xdb:
                    len_bytes = 4;
                    break;
                case 0xdc:
                case 0xdd:
                case 0xde:
                case 0xdf: {
                    unsigned w = (b == 0xdc || b == 0xde) ? 2 : 4;
                    if (n - pos < w)
                        return PL_EMALFORMED;
                    items = be(p + pos, w);
                    if (b >= 0xde)
                        items *= 2;
                    pos += w;
                    break;
                }
                default:
                    return PL_EMALFORMED; /* 0xc1 is never used */
            }
        }
        if (len_bytes > 0) {
            if (n - pos < len_bytes)
                return PL_EMALFORMED;
            skip = be(p + pos, len_bytes) + extra;
            pos += len_bytes;
        }
        if (skip > n - pos)
            return PL_EMALFORMED;
        pos += (size_t)skip;
        owed += items;
        if (owed > n - pos)
            return PL_EMALFORMED;
        if (items > 0) {
            /* depth - 1 containers are open around this one. */
            if (depth > containers_max)
                return PL_EMALFORMED;
            left[depth++] = items;
        } else if (is_container) {
            if (depth > containers_max)
                return PL_EMALFORMED;
        }
    }
    return pos == n ? 0 : PL_EMALFORMED;
}
