/*
 * A bounds pre-check for untrusted msgpack, run before msgpack-c's unpacker.
 *
 * msgpack_unpack_next() allocates room for a container's claimed element count before it
 * reads the elements, so eight bytes announcing an array of 2^32 items make it ask for
 * gigabytes (found by fuzz_audit_line). This walk needs no memory: it checks that every
 * announced element could still fit in the bytes that remain (each takes at least one), that
 * every length stays inside the input, and that the input is exactly one object.
 */
#ifndef PL_MP_CHECK_H
#define PL_MP_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* 0 when [p, p+n) can be one msgpack object without lying about its sizes, else
 * PL_EMALFORMED. */
int pl_mp_check(const uint8_t *p, size_t n);

#endif
