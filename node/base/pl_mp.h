/*
 * MessagePack helpers over msgpack-c.
 *
 * Writing: a msgpack_packer whose output goes into a bounded pl_buf; errors are sticky
 * (the first failure is kept in `err` and later calls do nothing), so an encoder writes
 * straight-line code and checks once at the end. msgpack-c always picks the shortest
 * encoding of an integer, which makes our encodings canonical: the same value gives the
 * same bytes, which the ledger's leaf hashes rely on.
 *
 * Reading: pl_mp_parse() unpacks exactly one object that must span the whole input, then
 * typed getters look keys up in maps. Every getter checks type and presence and returns
 * PL_EMALFORMED rather than trusting the input.
 */
#ifndef PL_MP_H
#define PL_MP_H

#include "pl_buf.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pl_mp_writer {
    msgpack_packer pk;
    struct pl_buf *buf; /* borrowed; must outlive the writer */
    int err;
};

void pl_mp_writer_init(struct pl_mp_writer *w, struct pl_buf *buf);
void pl_mp_map(struct pl_mp_writer *w, uint32_t n);
void pl_mp_array(struct pl_mp_writer *w, uint32_t n);
void pl_mp_uint(struct pl_mp_writer *w, uint64_t v);
void pl_mp_int(struct pl_mp_writer *w, int64_t v);
void pl_mp_double(struct pl_mp_writer *w, double v);
void pl_mp_bool(struct pl_mp_writer *w, bool v);
void pl_mp_nil(struct pl_mp_writer *w);
void pl_mp_str(struct pl_mp_writer *w, const char *s);
void pl_mp_strn(struct pl_mp_writer *w, const char *s, size_t n);
void pl_mp_bin(struct pl_mp_writer *w, const void *p, size_t n);
/* Appends already-encoded msgpack bytes (one or more whole objects). */
void pl_mp_raw(struct pl_mp_writer *w, const void *p, size_t n);

/* Unpacks one object spanning exactly [p, p+n). On success *out must be destroyed with
 * msgpack_unpacked_destroy(). PL_EMALFORMED for anything else (truncated, trailing
 * bytes, nesting deeper than msgpack-c's stack, a container claiming more elements than
 * the bytes could hold: pl_mp_check() runs first, so no input makes us allocate more than
 * its own size allows). */
int pl_mp_parse(const uint8_t *p, size_t n, msgpack_unpacked *out);

/* Looks up a string key in a map object; NULL when absent or when `map` is not a map. */
const msgpack_object *pl_mp_get(const msgpack_object *map, const char *key);

/* Typed reads of one object. */
int pl_mp_as_u64(const msgpack_object *o, uint64_t *out);
int pl_mp_as_i64(const msgpack_object *o, int64_t *out);
int pl_mp_as_f64(const msgpack_object *o, double *out);
int pl_mp_as_bool(const msgpack_object *o, bool *out);
/* Points into the unpacked object; not NUL-terminated. */
int pl_mp_as_str(const msgpack_object *o, const char **p, size_t *n);
int pl_mp_as_bin(const msgpack_object *o, const uint8_t **p, size_t *n);
/* Copies a string into `dst` (NUL-terminated); PL_ETOOBIG if it does not fit. */
int pl_mp_as_cstr(const msgpack_object *o, char *dst, size_t dst_size);

/* Keyed variants: PL_EMALFORMED when the key is missing or of the wrong type. */
int pl_mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out);
int pl_mp_get_i64(const msgpack_object *map, const char *key, int64_t *out);
int pl_mp_get_f64(const msgpack_object *map, const char *key, double *out);
int pl_mp_get_bool(const msgpack_object *map, const char *key, bool *out);
int pl_mp_get_str(const msgpack_object *map, const char *key, const char **p, size_t *n);
int pl_mp_get_bin(const msgpack_object *map, const char *key, const uint8_t **p, size_t *n);
int pl_mp_get_cstr(const msgpack_object *map, const char *key, char *dst, size_t dst_size);

/* A strict decoder of a record with one encoding: unpacks [p, p+n), has `decode` fill a
 * zeroed scratch struct of `size` bytes (0 or PL_EMALFORMED), then `encode` it again; only
 * when that gives the same n bytes is the struct copied to *out. 0, PL_EMALFORMED or
 * -ENOMEM; *out untouched on failure. The caller bounds n first. */
int pl_mp_decode_canonical(const uint8_t *p, size_t n, size_t size,
                           int (*decode)(const msgpack_object *m, void *r),
                           int (*encode)(const void *r, struct pl_buf *out), void *out);

#endif
