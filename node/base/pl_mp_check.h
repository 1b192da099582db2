/*
 * A bounds pre-check for untrusted msgpack, run before msgpack-c's unpacker.
 *
 * msgpack_unpack_next() allocates room for a container's claimed element count before it
 * reads the elements, so eight bytes announcing an array of 2^32 items make it ask for
 * gigabytes (found by fuzz_audit_line). This walk needs no memory: it checks that every
 * announced element could still fit in the bytes that remain (each takes at least one), that
 * every length stays inside the input, that nesting stays within what msgpack-c unpacks, and
 * that the input is exactly one object.
 */
#ifndef PL_MP_CHECK_H
#define PL_MP_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* msgpack-c's unpacker holds 32 nested containers (MSGPACK_EMBED_STACK_SIZE); 33 fail. */
#define PL_MP_CHECK_DEPTH_MAX 32

/* 0 when [p, p+n) is one msgpack object that does not lie about its sizes and that
 * msgpack-c can unpack (at most PL_MP_CHECK_DEPTH_MAX nested containers), else
 * PL_EMALFORMED. */
int pl_mp_check(const uint8_t *p, size_t n);
/* The same with at most `containers_max` nested containers (for an object that will be
 * embedded in others). */
int pl_mp_check_depth(const uint8_t *p, size_t n, unsigned containers_max);

#endif
