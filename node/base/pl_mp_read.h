/*
 * A strict msgpack reader: one pass over the bytes, no unpacking into objects,
 * no allocation, and only the canonical encoding accepted.
 *
 * Canonical here means what msgpack-c's packer writes for the value read
 * (pl_mp.h writes with it, and the ledger's leaf hashes rely on one value
 * having one encoding): an integer >= 0 in the shortest unsigned form (positive
 * fixint, uint 8/16/32/64), one < 0 in the shortest signed form (negative
 * fixint, int 8/16/32/64); the shortest length header of a string (fixstr, str
 * 8/16/32), binary (bin 8/16/32), array or map (fix, 16, 32); an extension in
 * fixext when its size is 1, 2, 4, 8 or 16, else ext 8/16/32, shortest; a float
 * 32 whose bits survive msgpack-c's float -> double -> float (a signalling NaN
 * does not). The decoders this replaced unpacked with msgpack-c and refused
 * what did not re-pack to the same bytes; tests/fuzz/fuzz_ledger_leaf.c and
 * fuzz_swarm_apply.c check that both refuse the same inputs.
 *
 * Errors are sticky: the first refusal keeps a static sentence in `err` and its
 * byte offset in `err_at`, and every later call returns PL_EMALFORMED without
 * reading.
 */
#ifndef PL_MP_READ_H
#define PL_MP_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pl_mp_reader
{
    const uint8_t *p; /* borrowed: the bytes outlive the reader */
    size_t n;
    size_t pos;
    const char *err; /* static; NULL while nothing was refused */
    size_t err_at;
};

void pl_mp_reader_init(struct pl_mp_reader *r, const uint8_t *p, size_t n);

/* A map header of exactly `count` entries: 0 or PL_EMALFORMED. */
int pl_mp_read_map_of(struct pl_mp_reader *r, uint32_t count);
/* A string: *s points into the input (not NUL-terminated), *len its length. */
int pl_mp_read_str(struct pl_mp_reader *r, const char **s, size_t *len);
/* A string equal to the `len` bytes of `key` (a map key the format fixes). */
int pl_mp_read_key(struct pl_mp_reader *r, const char *key, size_t len);
/* An integer >= 0. */
int pl_mp_read_uint(struct pl_mp_reader *r, uint64_t *v);
/* An integer of either sign that fits an int64_t. */
int pl_mp_read_int(struct pl_mp_reader *r, int64_t *v);
/* Any one object, canonical throughout, with at most `containers_max` nested
 * arrays and maps (an empty one counts), every element inside the input. */
int pl_mp_read_any(struct pl_mp_reader *r, unsigned containers_max);
/* 0 when every byte was read; PL_EMALFORMED ("trailing bytes") otherwise. */
int pl_mp_read_end(struct pl_mp_reader *r);

/* Refuses at byte `at` with a static reason (for a caller's own rules, such as
 * a value out of range); returns PL_EMALFORMED. The first reason is kept. */
int pl_mp_read_fail(struct pl_mp_reader *r, size_t at, const char *why);

#endif
