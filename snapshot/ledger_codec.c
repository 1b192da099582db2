/*
 * ledger_codec.h: the canonical leaf encoding and the signed tree head format.
 */
#include "ledger_codec.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_mp.h"
#include "pl_mp_check.h"
#include "pl_mp_read.h"
#include "pl_text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char head_magic[16] = "PLATELET-STH-V1\n";
static_assert(sizeof(head_magic) == 16, "head magic is 16 bytes, no NUL");
static_assert(LEDGER_HEAD_MSG_BYTES == 16 + 8 + 32 + 8 + 32, "signed head message layout");
static_assert(LEDGER_HEAD_BYTES == 8 + 32 + 8 + 32 + 64, "stored head layout");

/* The canonical bytes of everything before the body: map header, four pairs, "body". */
static void encode_prefix(struct pl_mp_writer *w, const struct ledger_entry *e)
{
    pl_mp_map(w, 5);
    pl_mp_str(w, "index");
    pl_mp_uint(w, e->index);
    pl_mp_str(w, "term");
    pl_mp_uint(w, e->term);
    pl_mp_str(w, "time_ms");
    pl_mp_uint(w, e->time_ms);
    pl_mp_str(w, "kind");
    pl_mp_strn(w, e->kind, e->kind_len);
    pl_mp_str(w, "body");
}

int ledger_problem_set(struct ledger_problem *p, int err, const char *code, const char *field,
                       const char *fmt, ...)
{
    if (p != NULL) {
        p->code = code;
        p->field = field;
        int n = snprintf(p->text, sizeof(p->text), "%s: ", field);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->text + n, sizeof(p->text) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return err;
}

#define KIND_RULE "a kind is 1..64 printable ASCII characters other than space, '\"', '\\' and ','"
static_assert(LEDGER_KIND_MAX == 64, "KIND_RULE names the limit");

int ledger_kind_check(const char *kind, size_t len, struct ledger_problem *p)
{
    if (len == 0)
        return ledger_problem_set(p, PL_EMALFORMED, "kind_empty", "kind", "empty; " KIND_RULE);
    if (len > LEDGER_KIND_MAX)
        return ledger_problem_set(p, PL_EMALFORMED, "kind_long", "kind", "%zu bytes long; " KIND_RULE, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)kind[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == ',')
            return ledger_problem_set(p, PL_EMALFORMED, "kind_char", "kind",
                           "byte %zu (0x%02x) is not allowed; " KIND_RULE, i + 1, c);
    }
    return 0;
}

/* Checks that body is exactly one msgpack object that still unpacks inside the leaf's map. */
static int body_ok(const uint8_t *body, size_t len)
{
    return pl_mp_check_depth(body, len, PL_MP_CHECK_DEPTH_MAX - 1) == 0;
}

/* Whether o says only what JSON can say (pl_json renders it): 0, or a problem. */
static int body_json(const msgpack_object *o, struct ledger_problem *p)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
    case MSGPACK_OBJECT_BOOLEAN:
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64))
            return ledger_problem_set(p, PL_EMALFORMED, "body_not_json", "body",
                           "holds a NaN or infinite number, which JSON cannot say");
        return 0;
    case MSGPACK_OBJECT_STR: {
        if (o->via.str.size == 0)
            return 0; /* msgpack-c gives NULL for "": no pointer arithmetic on it */
        const unsigned char *s = (const unsigned char *)o->via.str.ptr, *end = s + o->via.str.size;
        while (s < end) {
            size_t n = pl_utf8_seq(s, end);
            if (n == 0)
                return ledger_problem_set(p, PL_EMALFORMED, "body_not_json", "body",
                               "holds a string that is not valid UTF-8");
            s += n;
        }
        return 0;
    }
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            int rc = body_json(&o->via.array.ptr[i], p);
            if (rc != 0)
                return rc;
        }
        return 0;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR)
                return ledger_problem_set(p, PL_EMALFORMED, "body_not_json", "body",
                               "holds a map key that is not a string, which JSON cannot say");
            int rc = body_json(&kv->key, p);
            if (rc == 0)
                rc = body_json(&kv->val, p);
            if (rc != 0)
                return rc;
        }
        return 0;
    default:
        return ledger_problem_set(p, PL_EMALFORMED, "body_not_json", "body",
                       "holds binary or extension data, which JSON cannot say");
    }
}

/* The body's object must say only what JSON can, and re-pack to the same bytes. */
static int body_check(const uint8_t *body, size_t len, struct ledger_problem *p)
{
    msgpack_unpacked u;
    if (pl_mp_check_depth(body, len, PL_MP_CHECK_DEPTH_MAX - 1) != 0 ||
        pl_mp_parse(body, len, &u) != 0)
        return ledger_problem_set(p, PL_EMALFORMED, "body_malformed", "body",
                       "not exactly one msgpack object nested at most %d deep",
                       PL_MP_CHECK_DEPTH_MAX - 1);
    int rc = body_json(&u.data, p);
    if (rc == 0) {
        struct pl_buf again;
        pl_buf_init(&again, LEDGER_LEAF_MAX);
        struct pl_mp_writer w;
        pl_mp_writer_init(&w, &again);
        if (msgpack_pack_object(&w.pk, u.data) != 0 || w.err != 0 || again.len != len ||
            memcmp(again.data, body, len) != 0)
            rc = ledger_problem_set(p, PL_EMALFORMED, "body_noncanonical", "body",
                         "not in canonical msgpack form (shortest encodings)");
        pl_buf_close(&again);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int ledger_entry_check(const struct ledger_entry *e, struct ledger_problem *p)
{
    int rc = ledger_kind_check(e->kind, e->kind_len, p);
    if (rc != 0)
        return rc;
    if (e->time_ms > LEDGER_TIME_MS_MAX)
        return ledger_problem_set(p, PL_EMALFORMED, "time_range", "time_ms",
                       "%" PRIu64 " is past 9999-12-31T23:59:59.999Z", e->time_ms);
    if (e->body == NULL || e->body_len == 0)
        return ledger_problem_set(p, PL_EMALFORMED, "body_missing", "body", "missing");
    /* Size first: a body too big is refused without unpacking it. */
    struct pl_buf prefix;
    pl_buf_init(&prefix, 256);
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, &prefix);
    encode_prefix(&w, e);
    PL_ASSERT(w.err == 0);
    size_t prefix_len = prefix.len;
    pl_buf_close(&prefix);
    if (e->body_len > LEDGER_LEAF_MAX - prefix_len)
        return ledger_problem_set(p, PL_ETOOBIG, "too_big", "body",
                       "%zu bytes; with its envelope the entry must fit %d bytes", e->body_len,
                       LEDGER_LEAF_MAX);
    return body_check(e->body, e->body_len, p);
}

int ledger_entry_encode(const struct ledger_entry *e, struct pl_buf *out)
{
    if (ledger_kind_check(e->kind, e->kind_len, NULL) != 0 || e->time_ms > LEDGER_TIME_MS_MAX ||
        e->body == NULL || !body_ok(e->body, e->body_len))
        return PL_EMALFORMED;
    size_t start = out->len;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    encode_prefix(&w, e);
    pl_mp_raw(&w, e->body, e->body_len);
    if (w.err != 0) {
        out->len = start;
        return w.err;
    }
    if (out->len - start > LEDGER_LEAF_MAX) {
        out->len = start;
        return PL_ETOOBIG;
    }
    return 0;
}

static int key_is(const msgpack_object_kv *kv, const char *key)
{
    size_t n = strlen(key);
    return kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
           memcmp(kv->key.via.str.ptr, key, n) == 0;
}

/* A key literal and its length without the NUL. */
#define KEY(s) s, sizeof(s) - 1

/* The leaf's bytes into *d; the body walked too (whole) or only located (the rest of the
 * leaf, at least one byte). The reader is left where it stopped. */
static void decode_leaf(struct pl_mp_reader *r, const uint8_t *leaf, size_t len,
                        struct ledger_entry *d, bool whole)
{
    pl_mp_reader_init(r, leaf, len);
    memset(d, 0, sizeof(*d));
    /* Straight-line: the reader's errors are sticky, so after the first refusal the rest
     * reads nothing and the end says so. */
    if (len == 0 || len > LEDGER_LEAF_MAX)
        pl_mp_read_fail(r, 0, "a leaf is 1 to 65,536 bytes");
    pl_mp_read_map_of(r, 5);
    pl_mp_read_key(r, KEY("index"));
    pl_mp_read_uint(r, &d->index);
    pl_mp_read_key(r, KEY("term"));
    pl_mp_read_uint(r, &d->term);
    pl_mp_read_key(r, KEY("time_ms"));
    size_t at = r->pos;
    if (pl_mp_read_uint(r, &d->time_ms) == 0 && d->time_ms > LEDGER_TIME_MS_MAX)
        pl_mp_read_fail(r, at, "time_ms past 9999-12-31T23:59:59.999Z");
    pl_mp_read_key(r, KEY("kind"));
    at = r->pos;
    if (pl_mp_read_str(r, &d->kind, &d->kind_len) == 0 &&
        ledger_kind_check(d->kind, d->kind_len, NULL) != 0)
        pl_mp_read_fail(r, at, KIND_RULE);
    pl_mp_read_key(r, KEY("body"));
    at = r->pos;
    if (r->err == NULL && at == len)
        pl_mp_read_fail(r, at, "truncated: a value was expected");
    if (r->err != NULL)
        return;
    d->body = leaf + at;
    d->body_len = len - at;
    /* The leaf's map is one of msgpack-c's 32 nested containers. */
    if (whole && pl_mp_read_any(r, PL_MP_CHECK_DEPTH_MAX - 1) == 0)
        pl_mp_read_end(r);
}

/* decode_leaf with the public functions' contract: *e set only on success. */
static int decode_into(const uint8_t *leaf, size_t len, struct ledger_entry *e,
                       struct pl_mp_reader *why, bool whole)
{
    struct pl_mp_reader r;
    struct ledger_entry d;
    decode_leaf(&r, leaf, len, &d, whole);
    if (why != NULL)
        *why = r;
    if (r.err != NULL)
        return PL_EMALFORMED;
    *e = d;
    return 0;
}

int ledger_entry_decode_why(const uint8_t *leaf, size_t len, struct ledger_entry *e,
                            struct pl_mp_reader *why)
{
    return decode_into(leaf, len, e, why, true);
}

int ledger_entry_decode_envelope(const uint8_t *leaf, size_t len, struct ledger_entry *e,
                                 struct pl_mp_reader *why)
{
    return decode_into(leaf, len, e, why, false);
}

int ledger_entry_body_check(const uint8_t *leaf, const struct ledger_entry *e,
                            struct pl_mp_reader *why)
{
    struct pl_mp_reader r;
    size_t len = (size_t)(e->body - leaf) + e->body_len;
    pl_mp_reader_init(&r, leaf, len);
    r.pos = (size_t)(e->body - leaf);
    if (pl_mp_read_any(&r, PL_MP_CHECK_DEPTH_MAX - 1) == 0)
        pl_mp_read_end(&r);
    if (why != NULL)
        *why = r;
    return r.err != NULL ? PL_EMALFORMED : 0;
}

int ledger_entry_decode(const uint8_t *leaf, size_t len, struct ledger_entry *e)
{
    return ledger_entry_decode_why(leaf, len, e, NULL);
}

int ledger_entry_decode_reference(const uint8_t *leaf, size_t len, struct ledger_entry *e)
{
    if (len == 0 || len > LEDGER_LEAF_MAX)
        return PL_EMALFORMED;
    msgpack_unpacked u;
    if (pl_mp_parse(leaf, len, &u) != 0)
        return PL_EMALFORMED;
    int rc = PL_EMALFORMED;
    const msgpack_object *o = &u.data;
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != 5)
        goto done;
    const msgpack_object_kv *kv = o->via.map.ptr;
    struct ledger_entry d;
    memset(&d, 0, sizeof(d));
    if (!key_is(&kv[0], "index") || pl_mp_as_u64(&kv[0].val, &d.index) != 0)
        goto done;
    if (!key_is(&kv[1], "term") || pl_mp_as_u64(&kv[1].val, &d.term) != 0)
        goto done;
    if (!key_is(&kv[2], "time_ms") || pl_mp_as_u64(&kv[2].val, &d.time_ms) != 0 ||
        d.time_ms > LEDGER_TIME_MS_MAX)
        goto done;
    const char *kind = NULL;
    size_t kind_len = 0;
    if (!key_is(&kv[3], "kind") || pl_mp_as_str(&kv[3].val, &kind, &kind_len) != 0 ||
        ledger_kind_check(kind, kind_len, NULL) != 0 || !key_is(&kv[4], "body"))
        goto done;
    /* Canonical form, part one: re-encode the prefix from the decoded values and demand
     * the same bytes. That also locates the kind and the body inside `leaf` itself, so the
     * entry never points into msgpack-c's memory. */
    d.kind_len = kind_len;
    {
        uint8_t tmp[LEDGER_KIND_MAX];
        memcpy(tmp, kind, kind_len);
        d.kind = (const char *)tmp;
        struct pl_buf prefix;
        pl_buf_init(&prefix, 256);
        struct pl_mp_writer w;
        pl_mp_writer_init(&w, &prefix);
        encode_prefix(&w, &d);
        int same = w.err == 0 && prefix.len < len && memcmp(prefix.data, leaf, prefix.len) == 0;
        size_t prefix_len = prefix.len;
        pl_buf_close(&prefix);
        if (!same)
            goto done;
        /* The kind's bytes end right before the 5-byte "body" key (0xa4 b o d y). */
        d.kind = (const char *)leaf + prefix_len - 5 - kind_len;
        d.body = leaf + prefix_len;
        d.body_len = len - prefix_len;
    }
    /* The body must be canonical too: msgpack-c's packer of the decoded object gives the
     * same bytes. */
    {
        struct pl_buf again;
        pl_buf_init(&again, LEDGER_LEAF_MAX);
        struct pl_mp_writer w;
        pl_mp_writer_init(&w, &again);
        if (msgpack_pack_object(&w.pk, kv[4].val) != 0 || w.err != 0)
            w.err = PL_EMALFORMED;
        int same =
            w.err == 0 && again.len == d.body_len && memcmp(again.data, d.body, d.body_len) == 0;
        pl_buf_close(&again);
        if (!same)
            goto done;
    }
    *e = d;
    rc = 0;
done:
    msgpack_unpacked_destroy(&u);
    return rc;
}

int ledger_snap_desc_encode(uint64_t size, const uint8_t root[MERKLE_HASH_BYTES], struct pl_buf *out)
{
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    pl_mp_array(&w, 3);
    pl_mp_str(&w, "ledger");
    pl_mp_uint(&w, size);
    pl_mp_bin(&w, root, MERKLE_HASH_BYTES);
    return w.err;
}

int ledger_snap_desc_decode(const uint8_t *p, size_t len, uint64_t *size,
                            uint8_t root[MERKLE_HASH_BYTES])
{
    msgpack_unpacked up;
    if (pl_mp_parse(p, len, &up) != 0)
        return PL_EMALFORMED;
    const msgpack_object *o = &up.data;
    const uint8_t *r;
    size_t r_len;
    uint64_t n;
    int rc = PL_EMALFORMED;
    if (o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 3 &&
        o->via.array.ptr[0].type == MSGPACK_OBJECT_STR &&
        o->via.array.ptr[0].via.str.size == 6 &&
        memcmp(o->via.array.ptr[0].via.str.ptr, "ledger", 6) == 0 &&
        pl_mp_as_u64(&o->via.array.ptr[1], &n) == 0 &&
        pl_mp_as_bin(&o->via.array.ptr[2], &r, &r_len) == 0 && r_len == MERKLE_HASH_BYTES) {
        *size = n;
        memcpy(root, r, MERKLE_HASH_BYTES);
        rc = 0;
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

void ledger_chunk_begin(struct pl_mp_writer *w, uint32_t count) { pl_mp_array(w, count); }

int ledger_chunk_decode(const uint8_t *p, size_t len, uint64_t offset, ledger_chunk_cb cb,
                        void *ctx)
{
    msgpack_unpacked up;
    if (pl_mp_parse(p, len, &up) != 0)
        return PL_EMALFORMED;
    int rc = PL_EMALFORMED;
    struct ledger_entry *entries = NULL;
    const msgpack_object *o = &up.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || offset > UINT64_MAX / 2)
        goto done;
    uint32_t n = o->via.array.size;
    /* pl_mp_parse() bounded n by the input's size, so this allocation is bounded too. */
    entries = calloc(n ? n : 1, sizeof(*entries));
    if (entries == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *leaf;
        size_t leaf_len;
        if (pl_mp_as_bin(&o->via.array.ptr[i], &leaf, &leaf_len) != 0 ||
            ledger_entry_decode(leaf, leaf_len, &entries[i]) != 0 ||
            entries[i].index != offset + i)
            goto done;
    }
    rc = cb(ctx, entries, n);
done:
    free(entries);
    msgpack_unpacked_destroy(&up);
    return rc;
}

void ledger_head_message(const struct ledger_head *h, uint8_t msg[LEDGER_HEAD_MSG_BYTES])
{
    memcpy(msg, head_magic, 16);
    pl_be64_put(msg + 16, h->size);
    memcpy(msg + 24, h->root, 32);
    pl_be64_put(msg + 56, h->time_ms);
    memcpy(msg + 64, h->public_key, 32);
}

int ledger_head_sign(struct ledger_head *h, const uint8_t *secret_key)
{
    uint8_t msg[LEDGER_HEAD_MSG_BYTES];
    ledger_head_message(h, msg);
    if (crypto_sign_detached(h->signature, NULL, msg, sizeof(msg), secret_key) != 0)
        return PL_ECRYPTO;
    return 0;
}

int ledger_head_verify(const struct ledger_head *h)
{
    uint8_t msg[LEDGER_HEAD_MSG_BYTES];
    ledger_head_message(h, msg);
    if (sodium_init() < 0)
        return PL_ECRYPTO;
    return crypto_sign_verify_detached(h->signature, msg, sizeof(msg), h->public_key) == 0
               ? 0
               : PL_EVERIFY;
}

void ledger_head_encode(const struct ledger_head *h, uint8_t out[LEDGER_HEAD_BYTES])
{
    pl_be64_put(out, h->size);
    memcpy(out + 8, h->root, 32);
    pl_be64_put(out + 40, h->time_ms);
    memcpy(out + 48, h->public_key, 32);
    memcpy(out + 80, h->signature, 64);
}

int ledger_head_decode(const uint8_t *p, size_t len, struct ledger_head *h)
{
    if (len != LEDGER_HEAD_BYTES)
        return PL_EMALFORMED;
    h->size = pl_be64_get(p);
    memcpy(h->root, p + 8, 32);
    h->time_ms = pl_be64_get(p + 40);
    memcpy(h->public_key, p + 48, 32);
    memcpy(h->signature, p + 80, 64);
    return 0;
}
