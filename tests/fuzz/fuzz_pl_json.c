/*
 * libFuzzer target for pl_json (node/json/pl_json.c), both directions, because entry bodies
 * arrive as JSON from clients and audit files and come back out of the ledger as msgpack:
 *
 * - The bytes as JSON text: they parse or are refused with a reason and the output left as it
 *   was. What parses writes back as JSON, and that JSON parses to the same msgpack bytes and
 *   writes to the same text (msgpack -> JSON -> msgpack is the identity on what the reader
 *   produces; the writer's text is a fixed point).
 * - The bytes as msgpack: they write as JSON or are refused with the output left as it was;
 *   JSON that was written reads back (unless it nests deeper than the reader allows) to
 *   msgpack that writes the same text again.
 *
 * Each write is repeated into a buffer too small for it: it must fail whole (PL_ETOOBIG and
 * nothing appended), never succeed with bytes missing. Seeds: tests/fuzz/corpus/fuzz_pl_json/.
 */
#include "pl_assert.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "pl_json.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX (256 * 1024)
/* A prefix already in every output buffer: failures must leave it, and only it, there. */
#define PREFIX "pre:"
#define PREFIX_LEN 4

static void buf_with_prefix(struct pl_buf *b, size_t max)
{
    pl_buf_init(b, max);
    PL_ASSERT(pl_buf_append(b, PREFIX, PREFIX_LEN) == 0);
}

static void assert_untouched(const struct pl_buf *b)
{
    PL_ASSERT(b->len == PREFIX_LEN && memcmp(b->data, PREFIX, PREFIX_LEN) == 0);
}

/* JSON of msgpack `m` (known to write as `json`, json_len bytes) into buffers one byte too
 * small and half the size: each fails whole. */
static void assert_tight_write_fails(const uint8_t *m, size_t m_len, size_t json_len)
{
    size_t maxes[2] = {PREFIX_LEN + json_len - 1, PREFIX_LEN + json_len / 2};
    for (int i = 0; i < 2; i++) {
        struct pl_buf t;
        buf_with_prefix(&t, maxes[i]);
        int rc = pl_json_from_msgpack(m, m_len, &t);
        PL_ASSERT(rc == PL_ETOOBIG);
        assert_untouched(&t);
        pl_buf_close(&t);
    }
}

static void from_json(const uint8_t *data, size_t size)
{
    struct pl_buf m1, j1, m2, j2;
    buf_with_prefix(&m1, OUT_MAX);
    char err[128] = "";
    int rc = pl_json_to_msgpack((const char *)data, size, &m1, err, sizeof(err));
    if (rc != 0) {
        PL_ASSERT(rc == PL_EMALFORMED || rc == PL_ETOOBIG);
        PL_ASSERT(err[0] != '\0');
        assert_untouched(&m1);
        pl_buf_close(&m1);
        return;
    }
    const uint8_t *mp = m1.data + PREFIX_LEN;
    size_t mp_len = m1.len - PREFIX_LEN;
    buf_with_prefix(&j1, OUT_MAX * 8);
    PL_ASSERT(pl_json_from_msgpack(mp, mp_len, &j1) == 0);
    size_t j1_len = j1.len - PREFIX_LEN;
    assert_tight_write_fails(mp, mp_len, j1_len);
    buf_with_prefix(&m2, OUT_MAX * 8);
    PL_ASSERT(pl_json_to_msgpack((const char *)j1.data + PREFIX_LEN, j1_len, &m2, err,
                                 sizeof(err)) == 0);
    PL_ASSERT(m2.len == m1.len && memcmp(m2.data, m1.data, m1.len) == 0);
    buf_with_prefix(&j2, OUT_MAX * 8);
    PL_ASSERT(pl_json_from_msgpack(m2.data + PREFIX_LEN, m2.len - PREFIX_LEN, &j2) == 0);
    PL_ASSERT(j2.len == j1.len && memcmp(j2.data, j1.data, j1.len) == 0);
    pl_buf_close(&m1);
    pl_buf_close(&j1);
    pl_buf_close(&m2);
    pl_buf_close(&j2);
}

static void from_msgpack(const uint8_t *data, size_t size)
{
    struct pl_buf j1, m2, j2;
    buf_with_prefix(&j1, OUT_MAX);
    int rc = pl_json_from_msgpack(data, size, &j1);
    if (rc != 0) {
        PL_ASSERT(rc == PL_EMALFORMED || rc == PL_ETOOBIG);
        assert_untouched(&j1);
        pl_buf_close(&j1);
        return;
    }
    size_t j1_len = j1.len - PREFIX_LEN;
    assert_tight_write_fails(data, size, j1_len);
    buf_with_prefix(&m2, OUT_MAX * 8);
    char err[128] = "";
    rc = pl_json_to_msgpack((const char *)j1.data + PREFIX_LEN, j1_len, &m2, err, sizeof(err));
    if (rc != 0) {
        /* The writer nests deeper than the reader accepts; nothing else may fail. */
        PL_ASSERT(rc == PL_EMALFORMED && strstr(err, "nesting too deep") != NULL);
    } else {
        buf_with_prefix(&j2, OUT_MAX * 8);
        PL_ASSERT(pl_json_from_msgpack(m2.data + PREFIX_LEN, m2.len - PREFIX_LEN, &j2) == 0);
        PL_ASSERT(j2.len == j1.len && memcmp(j2.data, j1.data, j1.len) == 0);
        pl_buf_close(&j2);
    }
    pl_buf_close(&j1);
    pl_buf_close(&m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    from_json(data, size);
    from_msgpack(data, size);
    return 0;
}
