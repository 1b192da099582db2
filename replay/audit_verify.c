/*
 * audit_verify(): offline verification of a JSON-lines trail, with no data directory
 * (audit.h says what is checked). It stops at the first failing line and names it.
 */
#include "audit.h"

#include "pl_err.h"
#include "pl_text.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int fail(struct audit_verify_report *r, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct audit_verify_report *r, uint64_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    r->ok = false;
    r->fail_line = line;
    return PL_EVERIFY;
}

/* Reads one line into buf without its newline; NUL bytes are kept and counted, so nothing
 * in a line can hide from the decoder. 1 = a line, 0 = end of file, -1 = longer than cap
 * (the rest of the file is not read), -2 = read error. */
static int read_line(FILE *in, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int c;
    while ((c = getc(in)) != EOF && c != '\n') {
        if (n + 1 >= cap)
            return -1;
        buf[n++] = (char)c;
    }
    if (c == EOF) {
        if (ferror(in))
            return -2;
        if (n == 0)
            return 0;
    }
    buf[n] = '\0';
    *len = n;
    return 1;
}

int audit_verify(FILE *in, const uint8_t *pinned_key, struct audit_verify_report *r)
{
    memset(r, 0, sizeof(*r));
    size_t cap = AUDIT_LINE_MAX + 2;
    char *buf = malloc(cap);
    if (buf == NULL)
        return -ENOMEM;
    int rc = 0;
    uint64_t lineno = 0;
    size_t len = 0;
    struct audit_line hl;
    char reason[AUDIT_REASON_MAX];

    int got = read_line(in, buf, cap, &len);
    lineno = 1;
    if (got == -2) {
        rc = -EIO;
        goto done;
    }
    if (got == 0) {
        rc = fail(r, 1, "the file is empty");
        goto done;
    }
    if (got < 0 || memchr(buf, '\0', len) != NULL) {
        rc = fail(r, 1, "header line is too long or holds a NUL byte");
        goto done;
    }
    if (audit_line_decode(buf, len, AUDIT_LINE_HEADER, &hl, reason, sizeof(reason)) != 0) {
        rc = fail(r, 1, "%s", reason);
        goto done;
    }
    struct audit_header h = hl.header;
    audit_line_free(&hl);
    r->head = h.head;
    if (memcmp(h.public_key, h.head.public_key, LEDGER_KEY_BYTES) != 0) {
        rc = fail(r, 1, "the header's public_key is not the key in its head");
        goto done;
    }
    if (pinned_key != NULL && memcmp(pinned_key, h.head.public_key, LEDGER_KEY_BYTES) != 0) {
        char hex[65];
        pl_hex_encode(h.head.public_key, LEDGER_KEY_BYTES, hex);
        rc = fail(r, 1, "the head is signed by key %s, not the pinned --public-key", hex);
        goto done;
    }
    if (ledger_head_verify(&h.head) != 0) {
        rc = fail(r, 1, "the signature of the head (size %" PRIu64 ") is invalid", h.head.size);
        goto done;
    }
    if (h.head.size == 0 || h.from > h.to || h.to >= h.head.size) {
        rc = fail(r, 1,
                  "range %" PRIu64 "..%" PRIu64 " is not inside the head's tree of size %" PRIu64,
                  h.from, h.to, h.head.size);
        goto done;
    }
    bool time_filtered = h.has_since || h.has_until;
    if (!time_filtered && h.count != h.to - h.from + 1) {
        rc = fail(r, 1,
                  "the header's count %" PRIu64 " does not match its range %" PRIu64 "..%" PRIu64,
                  h.count, h.from, h.to);
        goto done;
    }
    bool full = !time_filtered && h.from == 0 && h.to == h.head.size - 1;
    struct merkle_frontier f;
    merkle_frontier_init(&f);
    uint64_t next = h.from;
    bool any = false;

    for (;;) {
        got = read_line(in, buf, cap, &len);
        if (got == 0)
            break;
        lineno++;
        if (got == -2) {
            rc = -EIO;
            goto done;
        }
        if (got < 0 || memchr(buf, '\0', len) != NULL) {
            rc = fail(r, lineno, "line is too long or holds a NUL byte");
            goto done;
        }
        struct audit_line el;
        if (audit_line_decode(buf, len, AUDIT_LINE_ENTRY, &el, reason, sizeof(reason)) != 0) {
            rc = fail(r, lineno, "%s", reason);
            goto done;
        }
        const struct audit_entry_line *e = &el.entry;
        uint64_t index = e->entry.index;
        const char *why = NULL;
        if (index >= h.head.size)
            why = "index is beyond the signed head";
        else if (index < h.from || index > h.to)
            why = "index is outside the header's range";
        else if (any && index < next)
            why = "index is out of order or repeated";
        else if (!time_filtered && index != next)
            why = "an entry before it is missing";
        else if ((h.has_since && e->entry.time_ms < h.since_ms) ||
                 (h.has_until && e->entry.time_ms > h.until_ms))
            why = "time is outside the header's since/until";
        else if (h.proofs != e->has_path)
            why = h.proofs ? "entry has no audit_path but the header says proofs"
                           : "entry has an audit_path but the header says no proofs";
        else if (h.proofs && merkle_inclusion_verify(index, h.head.size, e->leaf_hash,
                                                     (const uint8_t(*)[MERKLE_HASH_BYTES])e->path,
                                                     e->path_len, h.head.root) != 0)
            why = "inclusion proof does not verify against the signed head";
        if (why != NULL) {
            rc = fail(r, lineno, "entry %" PRIu64 ": %s", index, why);
            audit_line_free(&el);
            goto done;
        }
        if (h.proofs)
            r->proofs_verified++;
        if (full)
            merkle_frontier_append(&f, e->leaf_hash, NULL, NULL);
        audit_line_free(&el);
        next = index + 1;
        any = true;
        r->entries++;
    }
    if (r->entries != h.count) {
        rc = fail(r, lineno + 1,
                  "the header promises %" PRIu64 " entries but the file holds %" PRIu64
                  " (lines removed or added at the end?)",
                  h.count, r->entries);
        goto done;
    }
    if (!time_filtered && r->entries > 0 && next != h.to + 1) {
        rc = fail(r, lineno + 1, "entries stop at %" PRIu64 ", the header's range ends at %" PRIu64,
                  next - 1, h.to);
        goto done;
    }
    if (full) {
        uint8_t root[MERKLE_HASH_BYTES];
        merkle_frontier_root(&f, root);
        if (f.size != h.head.size || sodium_memcmp(root, h.head.root, MERKLE_HASH_BYTES) != 0) {
            rc = fail(r, 1,
                      "the root recomputed from all %" PRIu64
                      " leaves does not match the signed head (an entry was altered together "
                      "with its leaf)",
                      f.size);
            goto done;
        }
        r->root_recomputed = true;
    }
    r->inclusion_checked = h.proofs || r->root_recomputed;
    r->ok = true;
done:
    free(buf);
    return rc;
}
