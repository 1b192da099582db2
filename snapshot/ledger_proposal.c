/*
 * ledger_proposal.h: the proposal bytes and their one check.
 */
#include "ledger_proposal.h"

#include "pl_err.h"
#include "pl_mp.h"
#include "pl_text.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void encode_prefix(struct pl_mp_writer *w, const struct ledger_proposal *pr)
{
    pl_mp_map(w, 3);
    pl_mp_str(w, "t");
    pl_mp_uint(w, pr->time_ms);
    pl_mp_str(w, "k");
    pl_mp_strn(w, pr->kind, pr->kind_len);
    pl_mp_str(w, "b");
}

int ledger_proposal_check(const struct ledger_proposal *pr, struct ledger_problem *p)
{
    size_t rn = strlen(LEDGER_KIND_RESERVED);
    if (pr->kind_len >= rn && memcmp(pr->kind, LEDGER_KIND_RESERVED, rn) == 0)
        return ledger_problem_set(p, PL_EMALFORMED, "kind_reserved", "kind",
                                  "kinds starting with '%s' are the council's own records",
                                  LEDGER_KIND_RESERVED);
    struct ledger_entry e = {
        .index = UINT64_MAX,
        .term = UINT64_MAX,
        .time_ms = pr->time_ms,
        .kind = pr->kind,
        .kind_len = pr->kind_len,
        .body = pr->body,
        .body_len = pr->body_len,
    };
    return ledger_entry_check(&e, p);
}

int ledger_proposal_encode(const struct ledger_proposal *pr,
                           struct pl_buf *out,
                           struct ledger_problem *p)
{
    int rc = ledger_proposal_check(pr, p);
    if (rc != 0)
        return rc;
    size_t start = out->len;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    encode_prefix(&w, pr);
    pl_mp_raw(&w, pr->body, pr->body_len);
    if (w.err != 0)
        out->len = start;
    return w.err;
}

static int shape(struct ledger_problem *p)
{
    return ledger_problem_set(p, PL_EMALFORMED, "proposal_shape", "proposal",
                              "not the canonical msgpack map {\"t\": time_ms, \"k\": kind, "
                              "\"b\": body}");
}

int ledger_proposal_decode(const uint8_t *data,
                           size_t len,
                           struct ledger_proposal *pr,
                           struct ledger_problem *p)
{
    msgpack_unpacked u;
    if (len == 0 || pl_mp_parse(data, len, &u) != 0)
        return shape(p);
    int rc = PL_EMALFORMED;
    struct ledger_proposal d;
    memset(&d, 0, sizeof(d));
    const msgpack_object *o = &u.data;
    const msgpack_object_kv *kv = o->via.map.ptr;
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != 3 ||
        kv[0].key.type != MSGPACK_OBJECT_STR || kv[0].key.via.str.size != 1 ||
        kv[0].key.via.str.ptr[0] != 't' || pl_mp_as_u64(&kv[0].val, &d.time_ms) != 0 ||
        kv[1].key.type != MSGPACK_OBJECT_STR || kv[1].key.via.str.size != 1 ||
        kv[1].key.via.str.ptr[0] != 'k' || pl_mp_as_str(&kv[1].val, &d.kind, &d.kind_len) != 0 ||
        kv[2].key.type != MSGPACK_OBJECT_STR || kv[2].key.via.str.size != 1 ||
        kv[2].key.via.str.ptr[0] != 'b') {
        rc = shape(p);
        goto done;
    }
    if (d.kind_len == 0)
        d.kind = ""; /* msgpack-c gives NULL for an empty string */
    /* Canonical prefix: re-encode it and demand the same bytes; that also places
     * the kind and the body inside `data` itself rather than in msgpack-c's
     * memory. */
    {
        struct pl_buf prefix;
        pl_buf_init(&prefix, 64 + d.kind_len);
        struct pl_mp_writer w;
        pl_mp_writer_init(&w, &prefix);
        encode_prefix(&w, &d);
        bool same = w.err == 0 && prefix.len < len && memcmp(prefix.data, data, prefix.len) == 0;
        size_t prefix_len = prefix.len;
        pl_buf_close(&prefix);
        if (!same) {
            rc = shape(p);
            goto done;
        }
        /* The kind's bytes end right before the 2-byte "b" key (0xa1 'b'). */
        d.kind = (const char *)data + prefix_len - 2 - d.kind_len;
        d.body = data + prefix_len;
        d.body_len = len - prefix_len;
    }
    rc = ledger_proposal_check(&d, p);
    if (rc == 0)
        *pr = d;
done:
    msgpack_unpacked_destroy(&u);
    return rc;
}

int ledger_entry_from_proposal(uint64_t index,
                               uint64_t term,
                               uint64_t prev_time_ms,
                               const uint8_t *data,
                               size_t len,
                               struct pl_buf *body,
                               struct ledger_entry *out,
                               struct ledger_problem *p)
{
    struct ledger_problem local;
    if (p == NULL)
        p = &local;
    struct ledger_entry e = {.index = index, .term = term};
    struct ledger_proposal pr;
    if (ledger_proposal_decode(data, len, &pr, p) == 0) {
        e.time_ms = pr.time_ms;
        e.kind = pr.kind;
        e.kind_len = pr.kind_len;
        e.body = pr.body;
        e.body_len = pr.body_len;
        *out = e;
        return 0;
    }
    uint8_t h[crypto_hash_sha256_BYTES];
    char hex[2 * LEDGER_REJECTED_DATA_MAX + 1];
    crypto_hash_sha256(h, data, len);
    bool keep = len <= LEDGER_REJECTED_DATA_MAX;
    size_t start = body->len;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, body);
    pl_mp_map(&w, keep ? 5 : 4);
    pl_mp_str(&w, "code");
    pl_mp_str(&w, p->code);
    pl_mp_str(&w, "field");
    pl_mp_str(&w, p->field);
    pl_mp_str(&w, "bytes");
    pl_mp_uint(&w, len);
    pl_mp_str(&w, "sha256");
    pl_hex_encode(h, sizeof(h), hex);
    pl_mp_str(&w, hex);
    if (keep) {
        pl_mp_str(&w, "data");
        pl_hex_encode(data, len, hex);
        pl_mp_str(&w, hex);
    }
    if (w.err != 0) {
        body->len = start;
        return w.err;
    }
    e.time_ms = prev_time_ms;
    e.kind = LEDGER_KIND_REJECTED;
    e.kind_len = strlen(LEDGER_KIND_REJECTED);
    e.body = body->data + start;
    e.body_len = body->len - start;
    *out = e;
    return 1;
}
