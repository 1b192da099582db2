/*
 * The msgpack-c wrappers of pl_mp.h.
 */
#include "pl_mp.h"

#include "pl_err.h"
#include "pl_mp_check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int buf_write_cb(void *data, const char *p, size_t n)
{
    struct pl_mp_writer *w = data;
    if (w->err != 0)
        return -1;
    if (n == 0)
        return 0; /* msgpack-c writes an empty body as (NULL, 0): nothing to copy */
    /* The common case, a token that fits what is allocated (cap <= max): no call. */
    struct pl_buf *b = w->buf;
    if (b->data != NULL && n <= b->cap - b->len) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
    }
    int rc = pl_buf_append(w->buf, p, n);
    if (rc != 0) {
        w->err = rc;
        return -1;
    }
    return 0;
}

void pl_mp_writer_init(struct pl_mp_writer *w, struct pl_buf *buf)
{
    w->buf = buf;
    w->err = 0;
    msgpack_packer_init(&w->pk, w, buf_write_cb);
}

/* msgpack-c returns -1 from a pack call only when our callback failed, and the
 * callback already recorded why; these wrappers just stop after the first failure. */
#define GUARD(w)          \
    do {                  \
        if ((w)->err)     \
            return;       \
    } while (0)

void pl_mp_map(struct pl_mp_writer *w, uint32_t n) { GUARD(w); msgpack_pack_map(&w->pk, n); }
void pl_mp_array(struct pl_mp_writer *w, uint32_t n) { GUARD(w); msgpack_pack_array(&w->pk, n); }
void pl_mp_uint(struct pl_mp_writer *w, uint64_t v) { GUARD(w); msgpack_pack_uint64(&w->pk, v); }
void pl_mp_int(struct pl_mp_writer *w, int64_t v) { GUARD(w); msgpack_pack_int64(&w->pk, v); }
void pl_mp_double(struct pl_mp_writer *w, double v) { GUARD(w); msgpack_pack_double(&w->pk, v); }
void pl_mp_nil(struct pl_mp_writer *w) { GUARD(w); msgpack_pack_nil(&w->pk); }

void pl_mp_bool(struct pl_mp_writer *w, bool v)
{
    GUARD(w);
    if (v)
        msgpack_pack_true(&w->pk);
    else
        msgpack_pack_false(&w->pk);
}

void pl_mp_strn(struct pl_mp_writer *w, const char *s, size_t n)
{
    GUARD(w);
    if (n > UINT32_MAX) {
        w->err = PL_ETOOBIG;
        return;
    }
    msgpack_pack_str(&w->pk, n);
    msgpack_pack_str_body(&w->pk, s, n);
}

void pl_mp_str(struct pl_mp_writer *w, const char *s) { pl_mp_strn(w, s, strlen(s)); }

void pl_mp_bin(struct pl_mp_writer *w, const void *p, size_t n)
{
    GUARD(w);
    if (n > UINT32_MAX) {
        w->err = PL_ETOOBIG;
        return;
    }
    msgpack_pack_bin(&w->pk, n);
    msgpack_pack_bin_body(&w->pk, p, n);
}

void pl_mp_raw(struct pl_mp_writer *w, const void *p, size_t n)
{
    GUARD(w);
    buf_write_cb(w, p, n);
}

int pl_mp_parse(const uint8_t *p, size_t n, msgpack_unpacked *out)
{
    msgpack_unpacked_init(out);
    /* msgpack-c reserves a container's claimed size before reading it: refuse lies first. */
    if (pl_mp_check(p, n) != 0)
        return PL_EMALFORMED;
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(out, (const char *)p, n, &off);
    if (ret != MSGPACK_UNPACK_SUCCESS || off != n) {
        msgpack_unpacked_destroy(out);
        msgpack_unpacked_init(out);
        return PL_EMALFORMED;
    }
    return 0;
}

const msgpack_object *pl_mp_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

int pl_mp_as_u64(const msgpack_object *o, uint64_t *out)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return PL_EMALFORMED;
    *out = o->via.u64;
    return 0;
}

int pl_mp_as_i64(const msgpack_object *o, int64_t *out)
{
    if (o == NULL)
        return PL_EMALFORMED;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return 0;
    }
    return PL_EMALFORMED;
}

int pl_mp_as_f64(const msgpack_object *o, double *out)
{
    if (o == NULL)
        return PL_EMALFORMED;
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = o->via.f64;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)o->via.i64;
        return 0;
    default:
        return PL_EMALFORMED;
    }
}

int pl_mp_as_bool(const msgpack_object *o, bool *out)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN)
        return PL_EMALFORMED;
    *out = o->via.boolean;
    return 0;
}

int pl_mp_as_str(const msgpack_object *o, const char **p, size_t *n)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR)
        return PL_EMALFORMED;
    *p = o->via.str.ptr;
    *n = o->via.str.size;
    return 0;
}

int pl_mp_as_bin(const msgpack_object *o, const uint8_t **p, size_t *n)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_BIN)
        return PL_EMALFORMED;
    *p = (const uint8_t *)o->via.bin.ptr;
    *n = o->via.bin.size;
    return 0;
}

int pl_mp_as_cstr(const msgpack_object *o, char *dst, size_t dst_size)
{
    const char *p;
    size_t n;
    int rc = pl_mp_as_str(o, &p, &n);
    if (rc != 0)
        return rc;
    if (n >= dst_size)
        return PL_ETOOBIG;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return 0;
}

int pl_mp_get_u64(const msgpack_object *m, const char *k, uint64_t *out) { return pl_mp_as_u64(pl_mp_get(m, k), out); }
int pl_mp_get_i64(const msgpack_object *m, const char *k, int64_t *out) { return pl_mp_as_i64(pl_mp_get(m, k), out); }
int pl_mp_get_f64(const msgpack_object *m, const char *k, double *out) { return pl_mp_as_f64(pl_mp_get(m, k), out); }
int pl_mp_get_bool(const msgpack_object *m, const char *k, bool *out) { return pl_mp_as_bool(pl_mp_get(m, k), out); }
int pl_mp_get_str(const msgpack_object *m, const char *k, const char **p, size_t *n) { return pl_mp_as_str(pl_mp_get(m, k), p, n); }
int pl_mp_get_bin(const msgpack_object *m, const char *k, const uint8_t **p, size_t *n) { return pl_mp_as_bin(pl_mp_get(m, k), p, n); }
int pl_mp_get_cstr(const msgpack_object *m, const char *k, char *dst, size_t sz) { return pl_mp_as_cstr(pl_mp_get(m, k), dst, sz); }

int pl_mp_decode_canonical(const uint8_t *p, size_t n, size_t size,
                           int (*decode)(const msgpack_object *m, void *r),
                           int (*encode)(const void *r, struct pl_buf *out), void *out)
{
    msgpack_unpacked u;
    if (pl_mp_parse(p, n, &u) != 0)
        return PL_EMALFORMED;
    void *r = calloc(1, size);
    if (r == NULL) {
        msgpack_unpacked_destroy(&u);
        return -ENOMEM;
    }
    int rc = decode(&u.data, r);
    msgpack_unpacked_destroy(&u);
    if (rc == 0) {
        /* One value, one encoding: what does not re-encode to the same bytes is refused
         * (this also fixes the key order and refuses longer forms of a number). */
        struct pl_buf again;
        pl_buf_init(&again, n);
        rc = encode(r, &again);
        if (rc != 0 || again.len != n || memcmp(again.data, p, n) != 0)
            rc = PL_EMALFORMED;
        pl_buf_close(&again);
    }
    if (rc == 0)
        memcpy(out, r, size);
    free(r);
    return rc;
}
