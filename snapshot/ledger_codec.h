/*
 * The ledger's byte formats, pure: the canonical leaf encoding of an entry and the signed
 * tree head.
 *
 * Leaf bytes (what the Merkle tree hashes) are one msgpack map with exactly these keys in
 * this order, every integer in its shortest form (msgpack-c's packer), so one entry has one
 * encoding:
 *
 *     { "index": uint, "term": uint, "time_ms": uint, "kind": str (1..64 bytes), "body": any }
 *
 * The body is any msgpack object (it arrives as JSON, see node/json/pl_json.h). Decoding is
 * strict: a leaf is accepted only if re-encoding what was decoded gives the same bytes.
 *
 * A signed tree head binds a tree size and root to a time and a node key. The signature is
 * Ed25519 over 96 fixed bytes:
 *
 *     "PLATELET-STH-V1\n" (16) | size u64 BE | root (32) | time_ms u64 BE | public key (32)
 *
 * and a head is stored as 144 bytes: size | root | time_ms | public key | signature (64).
 */
#ifndef LEDGER_CODEC_H
#define LEDGER_CODEC_H

#include "merkle.h"
#include "pl_buf.h"

#include <stddef.h>
#include <stdint.h>

#define LEDGER_KIND_MAX 64
#define LEDGER_LEAF_MAX (64 * 1024)
#define LEDGER_KEY_BYTES 32
#define LEDGER_SIG_BYTES 64
#define LEDGER_HEAD_MSG_BYTES 96
#define LEDGER_HEAD_BYTES 144
/* 9999-12-31T23:59:59.999Z: times past it cannot be shown in RFC 3339 and are refused. */
#define LEDGER_TIME_MS_MAX UINT64_C(253402300799999)

struct ledger_entry
{
    uint64_t index;
    uint64_t term;
    uint64_t time_ms;
    const char *kind; /* not NUL-terminated when decoded: use kind_len */
    size_t kind_len;
    const uint8_t *body; /* one whole msgpack object */
    size_t body_len;
};

/*
 * Why an entry is refused. `code` is a stable name (it is written into the ledger when a
 * committed proposal is refused at apply, so a code never changes meaning or spelling),
 * `field` the part of the entry it concerns, `text` a sentence for the person who sent it.
 */
struct ledger_problem
{
    const char *code;  /* static: kind_empty, kind_long, kind_char, kind_reserved, time_range,
                          body_missing, body_malformed, body_not_json, body_noncanonical,
                          too_big, proposal_shape */
    const char *field; /* static: "kind", "time_ms", "body", "proposal" */
    char text[192];
};

/* Fills *p (when not NULL) with code, field and "field: " + the formatted text; returns
 * err. Codes and fields are static strings. */
int ledger_problem_set(struct ledger_problem *p, int err, const char *code, const char *field,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* 0 when kind is 1..LEDGER_KIND_MAX printable ASCII characters other than space, '"',
 * '\\' and ','; otherwise PL_EMALFORMED and *p (may be NULL) says which byte is wrong. */
int ledger_kind_check(const char *kind, size_t len, struct ledger_problem *p);

/*
 * Everything the leaf codec and its readers demand of an entry, with a reason: the kind
 * (ledger_kind_check), a time up to LEDGER_TIME_MS_MAX, a body that is exactly one msgpack
 * object nested at most PL_MP_CHECK_DEPTH_MAX - 1 deep, says only what JSON can say (no
 * bin or ext, string keys, finite floats, valid UTF-8: `audit export` must render it), is
 * in canonical form (ledger_entry_decode demands it), and a leaf of at most LEDGER_LEAF_MAX
 * bytes. 0, PL_EMALFORMED or PL_ETOOBIG; *p (may be NULL) says why.
 * ledger_entry_encode checks only the cheap part (kind, time, one object, size) on every
 * append; callers that take entries from outside run this first.
 */
int ledger_entry_check(const struct ledger_entry *e, struct ledger_problem *p);

/* Appends the leaf bytes of e to out. PL_EMALFORMED for an empty or too long kind (or one
 * with spaces, quotes, commas or control characters), a time past LEDGER_TIME_MS_MAX, or a
 * body that is not exactly one msgpack object; PL_ETOOBIG past LEDGER_LEAF_MAX. */
int ledger_entry_encode(const struct ledger_entry *e, struct pl_buf *out);
/* Decodes leaf bytes; the pointers of *e point into `leaf`. PL_EMALFORMED unless the
 * bytes are exactly the canonical encoding of an entry. One pass of pl_mp_read.h over the
 * bytes, the body included: nothing is unpacked, re-encoded or allocated. */
int ledger_entry_decode(const uint8_t *leaf, size_t len, struct ledger_entry *e);
/* The same; on a refusal *why (when not NULL) holds the reader, whose `err` says what was
 * wrong and `err_at` at which byte of the leaf. */
struct pl_mp_reader;
int ledger_entry_decode_why(const uint8_t *leaf, size_t len, struct ledger_entry *e,
                            struct pl_mp_reader *why);
/* The leaf's envelope only, for a caller that checks the body with a decoder of its own:
 * everything ledger_entry_decode_why checks except the body's bytes, which are located (the
 * rest of the leaf, at least one byte) but not walked. The leaf is canonical only once
 * ledger_entry_body_check() accepted the body, or a stricter decoder did (one whose
 * accepted bodies are all canonical msgpack objects, as swarm_body_decode's are). */
int ledger_entry_decode_envelope(const uint8_t *leaf, size_t len, struct ledger_entry *e,
                                 struct pl_mp_reader *why);
/* The rest of ledger_entry_decode_why after ledger_entry_decode_envelope gave *e from
 * `leaf`: 0, or PL_EMALFORMED with *why (may be NULL) saying what, at which byte of the
 * leaf. */
int ledger_entry_body_check(const uint8_t *leaf, const struct ledger_entry *e,
                            struct pl_mp_reader *why);
/* The decoder ledger_entry_decode replaced (msgpack-c unpacks, then the prefix and the body
 * are re-encoded and compared): kept as the oracle that tests/fuzz/fuzz_ledger_leaf.c and
 * test_ledger compare the strict one with. Not for production paths. */
int ledger_entry_decode_reference(const uint8_t *leaf, size_t len, struct ledger_entry *e);

/* The entries of a snapshot chunk (ledger_chunk_decode), valid during the call. */
typedef int (*ledger_chunk_cb)(void *ctx, const struct ledger_entry *entries, uint32_t n);
struct pl_mp_writer;

/*
 * The Raft snapshot of the ledger (raft.h, struct raft_snapshot) is a description and a body.
 * The description is one msgpack array
 *
 *     [ "ledger", size (uint), root (bin 32) ]
 *
 * (a record from before had the whole ledger there: [root (bin), [leaf (bin), ...]]). The
 * body is the ledger's leaves, one body position per leaf index, [0, size). A chunk of it is one
 * msgpack array of consecutive leaves, [ leaf (bin), ... ], starting at a position the
 * message carries: ledger_chunk_decode() checks each is a canonical leaf at its index
 * (offset + i) and hands the decoded entries to cb (valid during the call). A chunk from a
 * peer that is wrong in any way is refused with PL_EMALFORMED before cb sees any of it.
 */
int ledger_snap_desc_encode(uint64_t size, const uint8_t root[MERKLE_HASH_BYTES], struct pl_buf *out);
int ledger_snap_desc_decode(const uint8_t *p, size_t len, uint64_t *size,
                            uint8_t root[MERKLE_HASH_BYTES]);
void ledger_chunk_begin(struct pl_mp_writer *w, uint32_t count);
int ledger_chunk_decode(const uint8_t *p, size_t len, uint64_t offset, ledger_chunk_cb cb,
                        void *ctx);

struct ledger_head
{
    uint64_t size;
    uint8_t root[MERKLE_HASH_BYTES];
    uint64_t time_ms;
    uint8_t public_key[LEDGER_KEY_BYTES];
    uint8_t signature[LEDGER_SIG_BYTES];
};

void ledger_head_message(const struct ledger_head *h, uint8_t msg[LEDGER_HEAD_MSG_BYTES]);
/* Signs with a 64-byte libsodium Ed25519 secret key whose public half is h->public_key. */
int ledger_head_sign(struct ledger_head *h, const uint8_t *secret_key);
/* 0 when the signature is valid for the head's own public key, PL_EVERIFY otherwise. */
int ledger_head_verify(const struct ledger_head *h);
void ledger_head_encode(const struct ledger_head *h, uint8_t out[LEDGER_HEAD_BYTES]);
int ledger_head_decode(const uint8_t *p, size_t len, struct ledger_head *h);

#endif
