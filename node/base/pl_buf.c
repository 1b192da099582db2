/*
 * The bounded growable buffer of pl_buf.h.
 */
#include "pl_buf.h"

#include "pl_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pl_buf_init(struct pl_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void pl_buf_close(struct pl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void pl_buf_reset(struct pl_buf *b) { b->len = 0; }

int pl_buf_reserve(struct pl_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return PL_ETOOBIG;
    size_t need = b->len + n;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max)
        cap = b->max;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int pl_buf_append(struct pl_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = pl_buf_reserve(b, n);
    if (rc != 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int pl_buf_append_str(struct pl_buf *b, const char *s) { return pl_buf_append(b, s, strlen(s)); }

int pl_buf_printf(struct pl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PL_EMALFORMED;
    int rc = pl_buf_reserve(b, (size_t)n + 1);
    if (rc != 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

uint8_t *pl_buf_steal(struct pl_buf *b, size_t *len_out)
{
    uint8_t *p = b->data;
    *len_out = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
