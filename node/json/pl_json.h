/*
 * JSON <-> msgpack for the ledger's entry bodies and the audit files.
 *
 * Entry bodies arrive as JSON lines and are stored as msgpack; exports show them as JSON
 * again. The conversion keeps what a reader would expect to survive a round trip:
 * integers stay integers (exactly, over the whole int64/uint64 range; beyond it is an
 * error, never a silent float), numbers with a fraction or exponent become float64, object
 * keys keep the order they were given in, and strings must be valid UTF-8. The writer prints
 * floats in the shortest form that reads back to the same double, so msgpack -> JSON ->
 * msgpack is the identity on everything the reader produces.
 *
 * The parser is our own (not cJSON) because cJSON keeps every number as a double.
 */
#ifndef PL_JSON_H
#define PL_JSON_H

#include "pl_buf.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting limit. msgpack-c's unpacker holds at most 32 levels, and a stored body sits one
 * level down inside its leaf, so bodies stay well within that. */
#define PL_JSON_DEPTH_MAX 24

/*
 * Parses exactly one JSON value spanning [text, text+len) (whitespace around it allowed)
 * and appends its msgpack encoding to out. On failure out is unchanged, and `err` (may be
 * NULL) gets a short reason with the byte offset ("unexpected character '}' at offset 12").
 * PL_EMALFORMED or PL_ETOOBIG (out's limit).
 */
int pl_json_to_msgpack(const char *text,
                       size_t len,
                       struct pl_buf *out,
                       char *err,
                       size_t err_size);

/* Appends the compact JSON text (no spaces) of one msgpack object. PL_EMALFORMED for what JSON
 * cannot say: bin, ext, non-string map keys, NaN or infinities, invalid UTF-8. */
int pl_json_from_object(const msgpack_object *o, struct pl_buf *out);
/* The same from msgpack bytes holding exactly one object. */
int pl_json_from_msgpack(const uint8_t *p, size_t len, struct pl_buf *out);

/* Appends s as a quoted JSON string. PL_EMALFORMED when s is not valid UTF-8. */
int pl_json_write_string(struct pl_buf *out, const char *s, size_t len);

#endif
