/*
 * A growable byte buffer with a hard maximum.
 *
 * Every buffer that grows on behalf of a peer gets a limit from config, so no input can
 * make us allocate without bound. The caller owns the struct; pl_buf_init() then
 * pl_buf_close() when done.
 */
#ifndef PL_BUF_H
#define PL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct pl_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len; appends past it fail with PL_ETOOBIG */
};

void pl_buf_init(struct pl_buf *b, size_t max);
void pl_buf_close(struct pl_buf *b);
void pl_buf_reset(struct pl_buf *b);
/* Makes room for `n` more bytes. 0, PL_ETOOBIG or -ENOMEM. */
int pl_buf_reserve(struct pl_buf *b, size_t n);
int pl_buf_append(struct pl_buf *b, const void *p, size_t n);
int pl_buf_append_str(struct pl_buf *b, const char *s);
int pl_buf_printf(struct pl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (free() them) and leaves the buffer empty. */
uint8_t *pl_buf_steal(struct pl_buf *b, size_t *len_out);

/* Big-endian fixed-width helpers for keys and frames. */
static inline void pl_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline uint64_t pl_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline void pl_be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint32_t pl_be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#endif
