/*
 * libFuzzer target for the audit-file line decoder (replay/audit.h) and the JSON reader
 * under it (node/json/pl_json.h).
 *
 * Whatever the bytes, decoding must not crash, leak or trip a sanitizer; and whatever
 * decodes must survive decode -> encode -> decode unchanged: an accepted line is exactly the
 * rendering of what it carries, and an accepted JSON text reaches a fixed point after one
 * msgpack round trip.
 */
#include "audit.h"
#include "ledger_codec.h"
#include "pl_assert.h"
#include "pl_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_line(const char *line, size_t len, enum audit_line_type type)
{
    struct audit_line l;
    char reason[AUDIT_REASON_MAX];
    if (audit_line_decode(line, len, type, &l, reason, sizeof(reason)) != 0)
        return;
    struct pl_buf again;
    pl_buf_init(&again, AUDIT_LINE_MAX);
    int rc;
    if (type == AUDIT_LINE_HEADER) {
        rc = audit_header_render(&l.header, &again);
    } else {
        rc = audit_entry_render(l.entry.leaf, l.entry.leaf_len,
                                (const uint8_t(*)[MERKLE_HASH_BYTES])l.entry.path, l.entry.path_len,
                                l.entry.has_path, &again);
        /* The leaf itself: decode -> encode gives the same bytes. */
        struct pl_buf leaf;
        pl_buf_init(&leaf, LEDGER_LEAF_MAX);
        PL_ASSERT(ledger_entry_encode(&l.entry.entry, &leaf) == 0);
        PL_ASSERT(leaf.len == l.entry.leaf_len && memcmp(leaf.data, l.entry.leaf, leaf.len) == 0);
        pl_buf_close(&leaf);
    }
    PL_ASSERT(rc == 0);
    PL_ASSERT(again.len == len && memcmp(again.data, line, len) == 0);
    struct audit_line l2;
    PL_ASSERT(audit_line_decode((const char *)again.data, again.len, type, &l2, reason,
                                sizeof(reason)) == 0);
    audit_line_free(&l2);
    pl_buf_close(&again);
    audit_line_free(&l);
}

static void check_json(const char *text, size_t len)
{
    struct pl_buf mp, js, mp2;
    pl_buf_init(&mp, 1 << 20);
    pl_buf_init(&js, 1 << 21);
    pl_buf_init(&mp2, 1 << 20);
    if (pl_json_to_msgpack(text, len, &mp, NULL, 0) == 0) {
        PL_ASSERT(pl_json_from_msgpack(mp.data, mp.len, &js) == 0);
        PL_ASSERT(pl_json_to_msgpack((const char *)js.data, js.len, &mp2, NULL, 0) == 0);
        PL_ASSERT(mp2.len == mp.len && memcmp(mp2.data, mp.data, mp.len) == 0);
    }
    pl_buf_close(&mp);
    pl_buf_close(&js);
    pl_buf_close(&mp2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    check_line(line, size, AUDIT_LINE_HEADER);
    check_line(line, size, AUDIT_LINE_ENTRY);
    check_json(line, size);
    return 0;
}
