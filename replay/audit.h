/*
 * Audit trail export and offline verification.
 *
 * An exported trail is a JSON-lines file that anyone can check without Platelet's data
 * directory, with any RFC 6962 verifier. Line 1 is the header, the rest one entry each:
 *
 *   {"platelet_audit":1,"public_key":"<hex>","head":{"size":N,"root":"<hex>","time_ms":T,
 *    "public_key":"<hex>","signature":"<hex>"},"from":I,"to":J[,"since_ms":S][,"until_ms":U],
 *    "count":C,"proofs":true|false}
 *   {"index":I,"time":"<RFC 3339>","term":T,"kind":"<kind>","body":<JSON>,"leaf":"<base64>",
 *    "leaf_hash":"<hex>"[,"audit_path":["<hex>",...]]}
 *
 * `leaf` is the entry's canonical leaf bytes (snapshot/ledger_codec.h), the only thing that
 * is hashed; every other field of an entry line is derived from it. A line is therefore
 * valid only if it is byte for byte what the exporter writes for its leaf (and proof): the
 * decoder renders the line again and compares, so editing any byte of a line is caught even
 * before any hash is checked. `audit_path` is the RFC 6962 inclusion proof of the leaf in
 * the tree of the head's size. The head's signature is Ed25519 over ledger_codec.h's message.
 *
 * CSV (for spreadsheets, not for verification): index,time,term,kind,node,summary,leaf_hash.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include "ledger.h"
#include "ledger_codec.h"
#include "merkle.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define AUDIT_LINE_MAX (512 * 1024)
#define AUDIT_REASON_MAX 256

enum audit_format { AUDIT_JSONL, AUDIT_CSV };

struct audit_export_opts
{
    uint64_t from;
    uint64_t to; /* inclusive */
    bool has_to;
    uint64_t since_ms, until_ms; /* inclusive time bounds on the entries' time_ms */
    bool has_since, has_until;
    enum audit_format format;
    bool proofs;
};

/*
 * Writes the trail of the ledger's newest head to out. PL_ERANGE (with err) for an empty
 * ledger or a range outside it. *count_out (may be NULL) gets the entries written.
 */
int audit_export(struct ledger *l,
                 const struct audit_export_opts *o,
                 FILE *out,
                 uint64_t *count_out,
                 char *err,
                 size_t err_size);

/* ---- one line of a trail ---- */

enum audit_line_type { AUDIT_LINE_HEADER, AUDIT_LINE_ENTRY };

struct audit_header
{
    struct ledger_head head;
    uint8_t public_key[LEDGER_KEY_BYTES];
    uint64_t from, to, count;
    uint64_t since_ms, until_ms;
    bool has_since, has_until;
    bool proofs;
};

struct audit_entry_line
{
    uint8_t *leaf; /* malloc()ed */
    size_t leaf_len;
    struct ledger_entry entry; /* points into leaf */
    uint8_t leaf_hash[MERKLE_HASH_BYTES];
    uint8_t (*path)[MERKLE_HASH_BYTES]; /* malloc()ed, path_len hashes */
    size_t path_len;
    bool has_path;
};

struct audit_line
{
    enum audit_line_type type;
    struct audit_header header;
    struct audit_entry_line entry;
};

/*
 * Decodes one line (without its newline) as `expect`. Besides the JSON shape this checks
 * that the line is exactly the canonical rendering of what it carries: PL_EMALFORMED for a
 * line that is not a trail line at all, PL_EVERIFY for one whose fields do not match its
 * leaf (an edit). `reason` gets one human sentence. On success audit_line_free() after.
 */
int audit_line_decode(const char *line,
                      size_t len,
                      enum audit_line_type expect,
                      struct audit_line *out,
                      char *reason,
                      size_t reason_size);
void audit_line_free(struct audit_line *l);

/* Renders the canonical text of a header or entry line (no newline) into out. */
int audit_header_render(const struct audit_header *h, struct pl_buf *out);
int audit_entry_render(const uint8_t *leaf,
                       size_t leaf_len,
                       const uint8_t (*path)[MERKLE_HASH_BYTES],
                       size_t path_len,
                       bool with_path,
                       struct pl_buf *out);

/* ---- offline verification of a whole file ---- */

struct audit_verify_report
{
    bool ok;
    uint64_t fail_line; /* 1-based line number of the first failure (0 when ok) */
    char reason[AUDIT_REASON_MAX];
    struct ledger_head head;
    uint64_t entries;         /* entry lines checked */
    uint64_t proofs_verified; /* inclusion proofs verified against the head */
    bool root_recomputed;     /* the head's root recomputed from all leaves */
    bool inclusion_checked;   /* every entry is bound to the signed head */
};

/*
 * Verifies a JSON-lines trail read from `in`: the header's shape and head signature (and,
 * with pinned_key, that the head was signed by that key), every line's canonical form and
 * leaf hash, indexes in order, inside the head and the header's range (contiguous unless
 * a time filter was used), the entry count, and either every inclusion proof (files with
 * proofs) or the head's root recomputed from all leaves (files without proofs holding the
 * full range). Returns 0 when everything it could check holds, PL_EVERIFY with the report
 * naming the first failing line otherwise, or another code for an I/O error.
 */
int audit_verify(FILE *in, const uint8_t *pinned_key, struct audit_verify_report *report);

#endif
