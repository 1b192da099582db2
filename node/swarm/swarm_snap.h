/*
 * Swarm state snapshots: one canonical encoding of the whole struct swarm_state (swarm.h),
 * so a node, `replay` and a lagging voter can start from a stored state instead of the
 * ledger's first entry. Pure: no I/O, no clock.
 *
 * The encoding is driven by one table per struct (swarm_snap.c): each field's key, type,
 * offset and size, arrays with the field that counts them. Adding a field to the state is
 * one line in its table; the unit test (tests/unit/test_swarm_snap.c) fails while a state
 * field is not in a table (the tables must tile every struct, padding aside) and while a
 * restored state's recomputed hash or re-encoding differs.
 *
 *   snapshot = [ "platelet-swarm-snap", schema (bin 32), state ]
 *   struct   = [ field value, ... ]         in table order
 *   array    = [ element, ... ]             the used elements only (count of them)
 *
 * schema is BLAKE2b-256 of the tables themselves (keys, types, sizes, bounds): a snapshot
 * written by a build whose state differs is refused as PL_EVERSION, and callers then fall
 * back to replaying the ledger (snapshots are a cache; the ledger is the record).
 *
 * Decoding is strict: every value's type and bound is checked, counts stay within the
 * arrays, the bytes must re-encode identically, and the state hash stored in the snapshot
 * must equal the one recomputed from every item (PL_EVERIFY otherwise). Nothing in the
 * input is trusted before that.
 */
#ifndef PL_SWARM_SNAP_H
#define PL_SWARM_SNAP_H

#include "pl_buf.h"
#include "swarm.h"

#include <stddef.h>
#include <stdint.h>

/* A snapshot of the fullest state fits (every array full, every string at its maximum). */
#define SWARM_SNAP_BYTES_MAX (4u * 1024 * 1024)
#define SWARM_SNAP_MAGIC "platelet-swarm-snap"

/* Appends the encoding of s to out. PL_ETOOBIG past out's limit (out unchanged then). */
int swarm_snap_encode(const struct swarm_state *s, struct pl_buf *out);

/*
 * Decodes a snapshot into *s (caller-allocated; overwritten whole, also on failure).
 * PL_EMALFORMED for bytes that are not a canonical snapshot, PL_EVERSION for another
 * schema, PL_EVERIFY when the state hash it carries is not the hash of its items.
 */
int swarm_snap_decode(const uint8_t *p, size_t n, struct swarm_state *s);

/* The schema hash of this build's tables. */
void swarm_snap_schema(uint8_t out[SWARM_HASH_BYTES]);

/* ---- the tables, for the coverage test ---- */

enum swarm_snap_type {
    SWARM_SNAP_STR = 0, /* char[size], NUL-terminated */
    SWARM_SNAP_U64,
    SWARM_SNAP_U32,
    SWARM_SNAP_U16,
    SWARM_SNAP_U8,
    SWARM_SNAP_I64,
    SWARM_SNAP_I32,
    SWARM_SNAP_F64,
    SWARM_SNAP_BOOL,
    SWARM_SNAP_ENUM,   /* an enum stored as int; values below `n` */
    SWARM_SNAP_BIN,    /* uint8_t[size], every byte */
    SWARM_SNAP_COUNT,  /* the uint32_t that counts an array: written by the array */
    SWARM_SNAP_ARRAY,  /* elem[n]; `count_off` names its count, or every element is used */
    SWARM_SNAP_STRUCT, /* a nested struct */
    SWARM_SNAP_DERIVED, /* made again from the rest on decode: neither written nor in the
                         * schema (the state hash's kept item hashes) */
    SWARM_SNAP_TYPE_COUNT
};

#define SWARM_SNAP_ALL ((size_t)-1) /* an ARRAY without a count field: all n are used */

struct swarm_snap_struct;

struct swarm_snap_field {
    const char *key;
    enum swarm_snap_type type;
    size_t off;
    size_t size;      /* bytes of the field (of one element for ARRAY) */
    size_t n;         /* ARRAY: capacity; ENUM: values allowed */
    size_t count_off; /* ARRAY: offset of its uint32_t count, or SWARM_SNAP_ALL */
    const struct swarm_snap_struct *elem; /* ARRAY, STRUCT; NULL for a primitive ARRAY */
    enum swarm_snap_type elem_type;       /* ARRAY of primitives: their type */
};

struct swarm_snap_struct {
    const char *name;
    size_t size;
    size_t align;
    const struct swarm_snap_field *fields;
    size_t nfields;
};

/* The bytes of a number type (0 for STR, BIN, ARRAY, STRUCT). */
size_t swarm_snap_type_bytes(enum swarm_snap_type t);

/* The table of struct swarm_state (and through its fields, of every nested struct). */
const struct swarm_snap_struct *swarm_snap_state_table(void);

#endif
