/*
 * One line of an audit trail: canonical rendering and strict decoding (audit.h). The
 * decoder trusts nothing in the line: it takes the leaf bytes, derives every other field
 * from them, and demands the line be exactly that rendering.
 */
#include "audit.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_json.h"
#include "pl_text.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int say(char *reason, size_t size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *reason, size_t size, int rc, const char *fmt, ...)
{
    if (reason != NULL && size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, size, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int put_hex(struct pl_buf *out, const uint8_t *p, size_t n)
{
    char hex[2 * 64 + 1];
    PL_ASSERT(n <= 64);
    pl_hex_encode(p, n, hex);
    pl_buf_append(out, "\"", 1);
    pl_buf_append(out, hex, 2 * n);
    return pl_buf_append(out, "\"", 1);
}

int audit_header_render(const struct audit_header *h, struct pl_buf *out)
{
    pl_buf_append_str(out, "{\"platelet_audit\":1,\"public_key\":");
    put_hex(out, h->public_key, LEDGER_KEY_BYTES);
    pl_buf_printf(out, ",\"head\":{\"size\":%" PRIu64 ",\"root\":", h->head.size);
    put_hex(out, h->head.root, MERKLE_HASH_BYTES);
    pl_buf_printf(out, ",\"time_ms\":%" PRIu64 ",\"public_key\":", h->head.time_ms);
    put_hex(out, h->head.public_key, LEDGER_KEY_BYTES);
    pl_buf_append_str(out, ",\"signature\":");
    put_hex(out, h->head.signature, LEDGER_SIG_BYTES);
    pl_buf_printf(out, "},\"from\":%" PRIu64 ",\"to\":%" PRIu64, h->from, h->to);
    if (h->has_since)
        pl_buf_printf(out, ",\"since_ms\":%" PRIu64, h->since_ms);
    if (h->has_until)
        pl_buf_printf(out, ",\"until_ms\":%" PRIu64, h->until_ms);
    return pl_buf_printf(out, ",\"count\":%" PRIu64 ",\"proofs\":%s}", h->count,
                         h->proofs ? "true" : "false");
}

int audit_entry_render(const uint8_t *leaf,
                       size_t leaf_len,
                       const uint8_t (*path)[MERKLE_HASH_BYTES],
                       size_t path_len,
                       bool with_path,
                       struct pl_buf *out)
{
    struct ledger_entry e;
    int rc = ledger_entry_decode(leaf, leaf_len, &e);
    if (rc != 0)
        return rc;
    size_t start = out->len;
    char when[25];
    pl_time_format_rfc3339(e.time_ms, when);
    pl_buf_printf(out,
                  "{\"index\":%" PRIu64 ",\"time\":\"%s\",\"term\":%" PRIu64 ",\"kind\":", e.index,
                  when, e.term);
    pl_json_write_string(out, e.kind, e.kind_len);
    pl_buf_append_str(out, ",\"body\":");
    rc = pl_json_from_msgpack(e.body, e.body_len, out);
    if (rc != 0) {
        out->len = start;
        return rc;
    }
    char *b64 = malloc(pl_base64_len(leaf_len));
    if (b64 == NULL) {
        out->len = start;
        return -ENOMEM;
    }
    pl_base64_encode(leaf, leaf_len, b64);
    pl_buf_append_str(out, ",\"leaf\":\"");
    pl_buf_append_str(out, b64);
    free(b64);
    uint8_t h[MERKLE_HASH_BYTES];
    merkle_leaf_hash(leaf, leaf_len, h);
    pl_buf_append_str(out, "\",\"leaf_hash\":");
    put_hex(out, h, MERKLE_HASH_BYTES);
    if (with_path) {
        pl_buf_append_str(out, ",\"audit_path\":[");
        for (size_t i = 0; i < path_len; i++) {
            if (i > 0)
                pl_buf_append(out, ",", 1);
            put_hex(out, path[i], MERKLE_HASH_BYTES);
        }
        pl_buf_append(out, "]", 1);
    }
    rc = pl_buf_append(out, "}", 1);
    if (rc != 0)
        out->len = start;
    return rc;
}

/* An exact non-negative integer below 2^53 (what a double holds exactly). */
static int get_u64(const cJSON *obj, const char *name, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v))
        return PL_EMALFORMED;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d)
        return PL_EMALFORMED;
    *out = (uint64_t)d;
    return 0;
}

static int get_hex(const cJSON *obj, const char *name, uint8_t *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return PL_EMALFORMED;
    return pl_hex_decode(v->valuestring, strlen(v->valuestring), out, n);
}

static int decode_header(const cJSON *j, struct audit_header *h, char *reason, size_t rs)
{
    memset(h, 0, sizeof(*h));
    uint64_t version = 0;
    if (get_u64(j, "platelet_audit", &version) != 0)
        return say(reason, rs, PL_EMALFORMED, "not a Platelet audit trail header");
    if (version != 1)
        return say(reason, rs, PL_EMALFORMED, "unsupported audit trail version %" PRIu64, version);
    if (get_hex(j, "public_key", h->public_key, LEDGER_KEY_BYTES) != 0)
        return say(reason, rs, PL_EMALFORMED, "header: public_key is not 64 hex digits");
    const cJSON *head = cJSON_GetObjectItemCaseSensitive(j, "head");
    if (!cJSON_IsObject(head) || get_u64(head, "size", &h->head.size) != 0 ||
        get_hex(head, "root", h->head.root, MERKLE_HASH_BYTES) != 0 ||
        get_u64(head, "time_ms", &h->head.time_ms) != 0 ||
        get_hex(head, "public_key", h->head.public_key, LEDGER_KEY_BYTES) != 0 ||
        get_hex(head, "signature", h->head.signature, LEDGER_SIG_BYTES) != 0)
        return say(reason, rs, PL_EMALFORMED,
                   "header: head needs size, root, time_ms, public_key and signature");
    if (get_u64(j, "from", &h->from) != 0 || get_u64(j, "to", &h->to) != 0 ||
        get_u64(j, "count", &h->count) != 0)
        return say(reason, rs, PL_EMALFORMED, "header: from, to and count must be integers");
    const cJSON *since = cJSON_GetObjectItemCaseSensitive(j, "since_ms");
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(j, "until_ms");
    h->has_since = since != NULL;
    h->has_until = until != NULL;
    if ((since && get_u64(j, "since_ms", &h->since_ms) != 0) ||
        (until && get_u64(j, "until_ms", &h->until_ms) != 0))
        return say(reason, rs, PL_EMALFORMED, "header: since_ms/until_ms must be integers");
    const cJSON *proofs = cJSON_GetObjectItemCaseSensitive(j, "proofs");
    if (!cJSON_IsBool(proofs))
        return say(reason, rs, PL_EMALFORMED, "header: proofs must be true or false");
    h->proofs = cJSON_IsTrue(proofs);
    return 0;
}

static int decode_entry(const cJSON *j, struct audit_entry_line *e, char *reason, size_t rs)
{
    memset(e, 0, sizeof(*e));
    const cJSON *leaf = cJSON_GetObjectItemCaseSensitive(j, "leaf");
    if (!cJSON_IsString(leaf) || leaf->valuestring == NULL)
        return say(reason, rs, PL_EMALFORMED, "entry has no \"leaf\" string");
    size_t b64_len = strlen(leaf->valuestring);
    if (b64_len > pl_base64_len(LEDGER_LEAF_MAX))
        return say(reason, rs, PL_EMALFORMED, "leaf is larger than %d bytes", LEDGER_LEAF_MAX);
    e->leaf = malloc(b64_len / 4 * 3 + 3);
    if (e->leaf == NULL)
        return -ENOMEM;
    if (pl_base64_decode(leaf->valuestring, b64_len, e->leaf, b64_len / 4 * 3 + 3, &e->leaf_len) !=
        0)
        return say(reason, rs, PL_EVERIFY, "leaf is not valid base64");
    if (ledger_entry_decode(e->leaf, e->leaf_len, &e->entry) != 0)
        return say(reason, rs, PL_EVERIFY, "leaf bytes are not a canonical ledger entry");
    merkle_leaf_hash(e->leaf, e->leaf_len, e->leaf_hash);
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(j, "audit_path");
    if (path != NULL) {
        if (!cJSON_IsArray(path))
            return say(reason, rs, PL_EMALFORMED, "audit_path is not an array");
        int n = cJSON_GetArraySize(path);
        if (n < 0 || n > MERKLE_PROOF_MAX)
            return say(reason, rs, PL_EVERIFY, "audit_path has %d hashes (at most %d)", n,
                       MERKLE_PROOF_MAX);
        e->has_path = true;
        e->path = malloc(sizeof(*e->path) * (size_t)(n ? n : 1));
        if (e->path == NULL)
            return -ENOMEM;
        int i = 0;
        const cJSON *item;
        cJSON_ArrayForEach(item, path)
        {
            if (!cJSON_IsString(item) || item->valuestring == NULL ||
                pl_hex_decode(item->valuestring, strlen(item->valuestring), e->path[i],
                              MERKLE_HASH_BYTES) != 0)
                return say(reason, rs, PL_EVERIFY, "audit_path[%d] is not 64 hex digits", i);
            i++;
        }
        e->path_len = (size_t)n;
    }
    return 0;
}

/* The line differs from the rendering of its leaf: name the first field that does. */
static int explain_mismatch(const cJSON *j,
                            const struct audit_entry_line *e,
                            char *reason,
                            size_t rs)
{
    uint64_t index = 0, term = 0;
    char when[25];
    pl_time_format_rfc3339(e->entry.time_ms, when);
    const cJSON *time = cJSON_GetObjectItemCaseSensitive(j, "time");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    char leaf_hash[65];
    uint8_t lh[MERKLE_HASH_BYTES];
    pl_hex_encode(e->leaf_hash, MERKLE_HASH_BYTES, leaf_hash);
    if (get_u64(j, "index", &index) != 0 || index != e->entry.index)
        return say(reason, rs, PL_EVERIFY, "index does not match the leaf (which says %" PRIu64 ")",
                   e->entry.index);
    if (!cJSON_IsString(time) || strcmp(time->valuestring, when) != 0)
        return say(reason, rs, PL_EVERIFY, "entry %" PRIu64 ": time does not match its leaf",
                   e->entry.index);
    if (get_u64(j, "term", &term) != 0 || term != e->entry.term)
        return say(reason, rs, PL_EVERIFY, "entry %" PRIu64 ": term does not match its leaf",
                   e->entry.index);
    if (!cJSON_IsString(kind) || strlen(kind->valuestring) != e->entry.kind_len ||
        memcmp(kind->valuestring, e->entry.kind, e->entry.kind_len) != 0)
        return say(reason, rs, PL_EVERIFY, "entry %" PRIu64 ": kind does not match its leaf",
                   e->entry.index);
    if (get_hex(j, "leaf_hash", lh, sizeof(lh)) != 0 ||
        memcmp(lh, e->leaf_hash, MERKLE_HASH_BYTES) != 0)
        return say(reason, rs, PL_EVERIFY,
                   "entry %" PRIu64 ": leaf_hash is not the hash of its leaf (%s)", e->entry.index,
                   leaf_hash);
    return say(reason, rs, PL_EVERIFY,
               "entry %" PRIu64 ": body (or the line's layout) does not match its leaf bytes",
               e->entry.index);
}

int audit_line_decode(const char *line,
                      size_t len,
                      enum audit_line_type expect,
                      struct audit_line *out,
                      char *reason,
                      size_t rs)
{
    memset(out, 0, sizeof(*out));
    out->type = expect;
    if (len == 0)
        return say(reason, rs, PL_EMALFORMED, "empty line");
    if (len > AUDIT_LINE_MAX)
        return say(reason, rs, PL_EMALFORMED, "line longer than %d bytes", AUDIT_LINE_MAX);
    cJSON *j = cJSON_ParseWithLength(line, len);
    if (j == NULL || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return say(reason, rs, PL_EMALFORMED, "not a JSON object");
    }
    struct pl_buf canon;
    pl_buf_init(&canon, AUDIT_LINE_MAX);
    int rc;
    if (expect == AUDIT_LINE_HEADER) {
        rc = decode_header(j, &out->header, reason, rs);
        if (rc == 0) {
            rc = audit_header_render(&out->header, &canon);
            if (rc == 0 && (canon.len != len || memcmp(canon.data, line, len) != 0))
                rc = say(reason, rs, PL_EVERIFY, "header is not in canonical form (edited?)");
        }
    } else {
        rc = decode_entry(j, &out->entry, reason, rs);
        if (rc == 0) {
            struct audit_entry_line *e = &out->entry;
            rc = audit_entry_render(e->leaf, e->leaf_len,
                                    (const uint8_t(*)[MERKLE_HASH_BYTES])e->path, e->path_len,
                                    e->has_path, &canon);
            if (rc != 0)
                rc = say(reason, rs, PL_EVERIFY,
                         "entry %" PRIu64 ": body in the leaf cannot be shown as JSON",
                         e->entry.index);
            else if (canon.len != len || memcmp(canon.data, line, len) != 0)
                rc = explain_mismatch(j, e, reason, rs);
        }
    }
    pl_buf_close(&canon);
    cJSON_Delete(j);
    if (rc != 0)
        audit_line_free(out);
    return rc;
}

void audit_line_free(struct audit_line *l)
{
    free(l->entry.leaf);
    free(l->entry.path);
    l->entry.leaf = NULL;
    l->entry.path = NULL;
}
