/*
 * audit_export(): the ledger's entries as a JSON-lines trail (with the newest signed head
 * and, optionally, an inclusion proof per entry) or as CSV. Reads only: it never writes
 * to the store.
 */
#include "audit.h"

#include "pl_err.h"
#include "pl_json.h"
#include "pl_mp.h"
#include "pl_text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CSV_SUMMARY_MAX 160

struct export_ctx
{
    struct ledger *l;
    const struct audit_export_opts *o;
    FILE *out;
    struct pl_buf line;
    uint64_t count;
    bool counting; /* first pass of a time-filtered export: count only */
    char *err;
    size_t err_size;
};

static int set_err(struct export_ctx *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_err(struct export_ctx *c, int rc, const char *fmt, ...)
{
    if (c->err != NULL && c->err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->err_size, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static bool in_time(const struct audit_export_opts *o, uint64_t time_ms)
{
    return (!o->has_since || time_ms >= o->since_ms) && (!o->has_until || time_ms <= o->until_ms);
}

/* One CSV field: quoted when it holds a comma, quote, CR or LF; quotes doubled. */
static void csv_field(struct pl_buf *b, const char *s, size_t n)
{
    bool needs = false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            needs = true;
    if (!needs) {
        pl_buf_append(b, s, n);
        return;
    }
    pl_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            pl_buf_append(b, "\"\"", 2);
        else
            pl_buf_append(b, &s[i], 1);
    }
    pl_buf_append(b, "\"", 1);
}

/* The body's string member `key`, if it has one. */
static void body_str_field(const msgpack_object *body, const char *key, struct pl_buf *out)
{
    const msgpack_object *v = pl_mp_get(body, key);
    if (v != NULL && v->type == MSGPACK_OBJECT_STR)
        pl_buf_append(out, v->via.str.ptr, v->via.str.size);
}

static int csv_line(struct export_ctx *c,
                    const struct ledger_entry *e,
                    const uint8_t *leaf,
                    size_t len)
{
    struct pl_buf *b = &c->line;
    char when[25], hex[65];
    uint8_t h[MERKLE_HASH_BYTES];
    pl_time_format_rfc3339(e->time_ms, when);
    merkle_leaf_hash(leaf, len, h);
    pl_hex_encode(h, sizeof(h), hex);
    pl_buf_printf(b, "%" PRIu64 ",%s,%" PRIu64 ",", e->index, when, e->term);
    csv_field(b, e->kind, e->kind_len);
    pl_buf_append(b, ",", 1);

    msgpack_unpacked u;
    if (pl_mp_parse(e->body, e->body_len, &u) != 0)
        return PL_ECORRUPT;
    struct pl_buf node, summary;
    pl_buf_init(&node, 4096);
    pl_buf_init(&summary, LEDGER_LEAF_MAX * 2);
    body_str_field(&u.data, "node", &node);
    body_str_field(&u.data, "summary", &summary);
    if (summary.len == 0)
        pl_json_from_object(&u.data, &summary);
    /* One line: newlines become spaces; long summaries are cut on a UTF-8 boundary. */
    for (size_t i = 0; i < summary.len; i++)
        if (summary.data[i] == '\n' || summary.data[i] == '\r')
            summary.data[i] = ' ';
    if (summary.len > CSV_SUMMARY_MAX) {
        size_t cut = CSV_SUMMARY_MAX;
        while (cut > 0 && (summary.data[cut] & 0xc0) == 0x80)
            cut--;
        summary.len = cut;
        pl_buf_append_str(&summary, "...");
    }
    csv_field(b, node.len ? (const char *)node.data : "", node.len);
    pl_buf_append(b, ",", 1);
    csv_field(b, summary.len ? (const char *)summary.data : "", summary.len);
    pl_buf_close(&node);
    pl_buf_close(&summary);
    msgpack_unpacked_destroy(&u);
    return pl_buf_printf(b, ",%s\n", hex);
}

static int leaf_cb(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
    struct export_ctx *c = ctx;
    struct ledger_entry e;
    if (ledger_entry_decode(leaf, len, &e) != 0 || e.index != index)
        return set_err(c, PL_ECORRUPT,
                       "stored entry %" PRIu64
                       " does not decode (run 'platelet "
                       "ledger check')",
                       index);
    if (!in_time(c->o, e.time_ms))
        return 0;
    c->count++;
    if (c->counting)
        return 0;
    pl_buf_reset(&c->line);
    int rc;
    if (c->o->format == AUDIT_CSV) {
        rc = csv_line(c, &e, leaf, len);
    } else {
        uint8_t path[MERKLE_PROOF_MAX][MERKLE_HASH_BYTES];
        size_t n = 0;
        if (c->o->proofs) {
            rc = ledger_inclusion_proof(c->l, index, c->l->size, path, &n);
            if (rc != 0)
                return set_err(c, rc, "inclusion proof of entry %" PRIu64 ": %s", index,
                               pl_strerror(rc));
        }
        rc = audit_entry_render(leaf, len, (const uint8_t(*)[MERKLE_HASH_BYTES])path, n,
                                c->o->proofs, &c->line);
        if (rc == 0)
            rc = pl_buf_append(&c->line, "\n", 1);
    }
    if (rc != 0)
        return set_err(c, rc, "entry %" PRIu64 ": %s", index, pl_strerror(rc));
    if (fwrite(c->line.data, 1, c->line.len, c->out) != c->line.len)
        return set_err(c, -EIO, "write failed");
    return 0;
}

int audit_export(struct ledger *l,
                 const struct audit_export_opts *o,
                 FILE *out,
                 uint64_t *count_out,
                 char *err,
                 size_t err_size)
{
    struct export_ctx c = {.l = l, .o = o, .out = out, .err = err, .err_size = err_size};
    if (l->size == 0)
        return set_err(&c, PL_ERANGE, "the ledger is empty: nothing to export");
    uint64_t last = o->has_to ? o->to : l->size - 1;
    if (o->from >= l->size || last >= l->size)
        return set_err(&c, PL_ERANGE,
                       "index %" PRIu64 " is beyond the ledger (size %" PRIu64
                       ", last index %" PRIu64 ")",
                       o->from >= l->size ? o->from : last, l->size, l->size - 1);
    if (o->from > last)
        return set_err(&c, PL_ERANGE, "--from %" PRIu64 " is after --to %" PRIu64, o->from, last);
    if (o->has_since && o->has_until && o->since_ms > o->until_ms)
        return set_err(&c, PL_ERANGE, "--since is after --until");

    pl_buf_init(&c.line, AUDIT_LINE_MAX);
    int rc = 0;
    uint64_t count = last - o->from + 1;
    if (o->has_since || o->has_until) {
        c.counting = true;
        rc = ledger_leaves_each(l, o->from, last + 1, leaf_cb, &c);
        count = c.count;
        c.counting = false;
        c.count = 0;
    }
    if (rc == 0) {
        if (o->format == AUDIT_CSV) {
            pl_buf_append_str(&c.line, "index,time,term,kind,node,summary,leaf_hash\n");
        } else {
            struct audit_header h = {.head = l->head,
                                     .from = o->from,
                                     .to = last,
                                     .count = count,
                                     .since_ms = o->since_ms,
                                     .until_ms = o->until_ms,
                                     .has_since = o->has_since,
                                     .has_until = o->has_until,
                                     .proofs = o->proofs};
            memcpy(h.public_key, l->head.public_key, LEDGER_KEY_BYTES);
            rc = audit_header_render(&h, &c.line);
            pl_buf_append(&c.line, "\n", 1);
        }
        if (rc == 0 && fwrite(c.line.data, 1, c.line.len, out) != c.line.len)
            rc = set_err(&c, -EIO, "write failed");
    }
    if (rc == 0)
        rc = ledger_leaves_each(l, o->from, last + 1, leaf_cb, &c);
    if (rc != 0 && err != NULL && err[0] == '\0')
        set_err(&c, rc, "%s", l->err_text[0] ? l->err_text : pl_strerror(rc));
    if (rc == 0 && fflush(out) != 0)
        rc = set_err(&c, -EIO, "write failed");
    pl_buf_close(&c.line);
    if (rc == 0 && c.count != count)
        rc = set_err(&c, PL_ECORRUPT, "entry count changed during export");
    if (rc == 0 && count_out != NULL)
        *count_out = c.count;
    return rc;
}
