/*
 * pl_json.h: a small strict JSON reader (RFC 8259 grammar) that writes msgpack as it goes,
 * and a msgpack -> JSON writer.
 */
#include "pl_json.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_mp.h"
#include "pl_text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser
{
    const char *start, *p, *end;
    int depth;
    char *err;
    size_t err_size;
};

static int fail(struct parser *ps, const char *what)
{
    if (ps->err != NULL && ps->err_size > 0) {
        size_t off = (size_t)(ps->p - ps->start);
        if (ps->p < ps->end && (unsigned char)*ps->p >= 0x20 && (unsigned char)*ps->p < 0x7f)
            snprintf(ps->err, ps->err_size, "%s ('%c') at offset %zu", what, *ps->p, off);
        else if (ps->p >= ps->end)
            snprintf(ps->err, ps->err_size, "%s at end of input", what);
        else
            snprintf(ps->err, ps->err_size, "%s at offset %zu", what, off);
    }
    return PL_EMALFORMED;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static void put_utf8(struct pl_buf *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | (cp >> 6));
        u[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | (cp >> 12));
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | (cp >> 18));
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    pl_buf_append(b, u, n);
}

static int hex4(struct parser *ps, uint32_t *out)
{
    if (ps->end - ps->p < 4)
        return fail(ps, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = ps->p[i];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0)
            return fail(ps, "bad \\u escape");
        v = v << 4 | (uint32_t)d;
    }
    ps->p += 4;
    *out = v;
    return 0;
}

/* Reads a string (ps->p at the opening quote) into `text` (unescaped UTF-8). */
static int parse_string(struct parser *ps, struct pl_buf *text)
{
    ps->p++;
    for (;;) {
        if (ps->p >= ps->end)
            return fail(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            return 0;
        }
        if (c < 0x20)
            return fail(ps, "control character in string");
        if (c == '\\') {
            ps->p++;
            if (ps->p >= ps->end)
                return fail(ps, "unterminated string");
            char e = *ps->p++;
            /* The two-character escapes of RFC 8259 §7, in and out. */
            static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
            const char *q = e != '\0' ? strchr(esc_in, e) : NULL;
            if (q != NULL) {
                pl_buf_append(text, &esc_out[q - esc_in], 1);
                continue;
            }
            if (e != 'u') {
                ps->p--;
                return fail(ps, "bad escape");
            }
            uint32_t cp = 0;
            if (hex4(ps, &cp) != 0)
                return PL_EMALFORMED;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo = 0;
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
                    return fail(ps, "unpaired surrogate");
                ps->p += 2;
                if (hex4(ps, &lo) != 0)
                    return PL_EMALFORMED;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(ps, "unpaired surrogate");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return fail(ps, "unpaired surrogate");
            }
            put_utf8(text, cp);
            continue;
        }
        size_t n = pl_utf8_seq((const unsigned char *)ps->p, (const unsigned char *)ps->end);
        if (n == 0)
            return fail(ps, "invalid UTF-8");
        pl_buf_append(text, ps->p, n);
        ps->p += n;
    }
}

static int parse_number(struct parser *ps, struct pl_mp_writer *w)
{
    const char *s = ps->p;
    bool neg = false, is_float = false;
    if (ps->p < ps->end && *ps->p == '-') {
        neg = true;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return fail(ps, "bad number");
    if (*ps->p == '0') {
        ps->p++;
    } else {
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && *ps->p == '.') {
        is_float = true;
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, "bad number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        is_float = true;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, "bad number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    size_t n = (size_t)(ps->p - s);
    char tmp[400];
    if (n >= sizeof(tmp))
        return fail(ps, "number too long");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    if (is_float) {
        double d = strtod(tmp, NULL);
        if (!isfinite(d))
            return fail(ps, "number out of range");
        pl_mp_double(w, d);
    } else if (neg) {
        long long v = strtoll(tmp, NULL, 10);
        if (errno == ERANGE)
            return fail(ps, "integer out of the 64-bit range");
        if (v == 0)
            pl_mp_uint(w, 0);
        else
            pl_mp_int(w, v);
    } else {
        unsigned long long v = strtoull(tmp, NULL, 10);
        if (errno == ERANGE)
            return fail(ps, "integer out of the 64-bit range");
        pl_mp_uint(w, v);
    }
    return 0;
}

static int parse_value(struct parser *ps, struct pl_buf *out);

/* Arrays and objects: the children go to a scratch buffer first because msgpack's header
 * carries the element count. */
static int parse_container(struct parser *ps, struct pl_buf *out, bool object)
{
    if (++ps->depth > PL_JSON_DEPTH_MAX)
        return fail(ps, "nesting too deep");
    ps->p++;
    struct pl_buf kids;
    pl_buf_init(&kids, out->max);
    uint32_t count = 0;
    int rc = 0;
    skip_ws(ps);
    char close = object ? '}' : ']';
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
    } else {
        for (;;) {
            skip_ws(ps);
            if (object) {
                if (ps->p >= ps->end || *ps->p != '"') {
                    rc = fail(ps, "expected a string key");
                    goto done;
                }
                struct pl_buf key;
                pl_buf_init(&key, out->max);
                rc = parse_string(ps, &key);
                if (rc == 0) {
                    struct pl_mp_writer kw;
                    pl_mp_writer_init(&kw, &kids);
                    pl_mp_strn(&kw, key.len ? (const char *)key.data : "", key.len);
                    rc = kw.err;
                }
                pl_buf_close(&key);
                if (rc != 0)
                    goto done;
                skip_ws(ps);
                if (ps->p >= ps->end || *ps->p != ':') {
                    rc = fail(ps, "expected ':'");
                    goto done;
                }
                ps->p++;
            }
            rc = parse_value(ps, &kids);
            if (rc != 0)
                goto done;
            if (count == UINT32_MAX) {
                rc = fail(ps, "too many elements");
                goto done;
            }
            count++;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                break;
            }
            rc = fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
            goto done;
        }
    }
    {
        struct pl_mp_writer w;
        pl_mp_writer_init(&w, out);
        if (object)
            pl_mp_map(&w, count);
        else
            pl_mp_array(&w, count);
        if (kids.len)
            pl_mp_raw(&w, kids.data, kids.len);
        rc = w.err;
    }
done:
    pl_buf_close(&kids);
    ps->depth--;
    return rc;
}

static int literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "unexpected character");
    ps->p += n;
    return 0;
}

static int parse_value(struct parser *ps, struct pl_buf *out)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "expected a value");
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    int rc = 0;
    switch (*ps->p) {
        case '{':
            return parse_container(ps, out, true);
        case '[':
            return parse_container(ps, out, false);
        case '"': {
            struct pl_buf s;
            pl_buf_init(&s, out->max);
            rc = parse_string(ps, &s);
            if (rc == 0)
                pl_mp_strn(&w, s.len ? (const char *)s.data : "", s.len);
            pl_buf_close(&s);
            break;
        }
        case 't':
            if ((rc = literal(ps, "true")) == 0)
                pl_mp_bool(&w, true);
            break;
        case 'f':
            if ((rc = literal(ps, "false")) == 0)
                pl_mp_bool(&w, false);
            break;
        case 'n':
            if ((rc = literal(ps, "null")) == 0)
                pl_mp_nil(&w);
            break;
        default:
            if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
                rc = parse_number(ps, &w);
            else
                rc = fail(ps, "unexpected character");
    }
    if (rc == 0 && w.err != 0)
        rc = w.err;
    return rc;
}

int pl_json_to_msgpack(const char *text, size_t len, struct pl_buf *out, char *err, size_t err_size)
{
    struct parser ps = {text, text, text + len, 0, err, err_size};
    size_t start = out->len;
    int rc = parse_value(&ps, out);
    if (rc == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            rc = fail(&ps, "trailing characters");
    }
    if (rc == PL_ETOOBIG && err != NULL && err_size > 0)
        snprintf(err, err_size, "value larger than %zu bytes", out->max);
    if (rc != 0)
        out->len = start;
    return rc;
}

/* ---- writer ---- */

int pl_json_write_string(struct pl_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    /* msgpack-c gives an empty string a NULL pointer; NULL + 0 is undefined. */
    const unsigned char *p = (const unsigned char *)s, *end = len > 0 ? p + len : p;
    /* Every append is checked: one that does not fit must fail the whole string, never
     * leave it with an escape missing and the rest written. */
    size_t start = out->len;
    int rc = pl_buf_append(out, "\"", 1);
    while (rc == 0 && p < end) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = pl_buf_append(out, e, 2);
            p++;
        } else if (c < 0x20) {
            const char *e = NULL;
            switch (c) {
                case '\b':
                    e = "\\b";
                    break;
                case '\f':
                    e = "\\f";
                    break;
                case '\n':
                    e = "\\n";
                    break;
                case '\r':
                    e = "\\r";
                    break;
                case '\t':
                    e = "\\t";
                    break;
            }
            if (e != NULL) {
                rc = pl_buf_append(out, e, 2);
            } else {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                rc = pl_buf_append(out, u, 6);
            }
            p++;
        } else {
            size_t n = pl_utf8_seq(p, end);
            if (n == 0) {
                rc = PL_EMALFORMED;
                break;
            }
            rc = pl_buf_append(out, p, n);
            p += n;
        }
    }
    if (rc == 0)
        rc = pl_buf_append(out, "\"", 1);
    if (rc != 0)
        out->len = start;
    return rc;
}

static int write_double(struct pl_buf *out, double d)
{
    if (!isfinite(d))
        return PL_EMALFORMED;
    char tmp[40];
    /* The shortest of %.15g..%.17g that reads back to the same double. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    /* Keep it a float on the way back: "100" would come back an integer. */
    if (strpbrk(tmp, ".eEn") == NULL)
        strcat(tmp, ".0");
    return pl_buf_append_str(out, tmp);
}

static int write_object(const msgpack_object *o, struct pl_buf *out, int depth)
{
    if (depth > 64)
        return PL_EMALFORMED;
    int rc = 0;
    switch (o->type) {
        case MSGPACK_OBJECT_NIL:
            return pl_buf_append_str(out, "null");
        case MSGPACK_OBJECT_BOOLEAN:
            return pl_buf_append_str(out, o->via.boolean ? "true" : "false");
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return pl_buf_printf(out, "%" PRIu64, o->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return pl_buf_printf(out, "%" PRId64, o->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return write_double(out, o->via.f64);
        case MSGPACK_OBJECT_STR:
            return pl_json_write_string(out, o->via.str.ptr, o->via.str.size);
        case MSGPACK_OBJECT_ARRAY:
            rc = pl_buf_append(out, "[", 1);
            for (uint32_t i = 0; rc == 0 && i < o->via.array.size; i++) {
                if (i > 0)
                    rc = pl_buf_append(out, ",", 1);
                if (rc == 0)
                    rc = write_object(&o->via.array.ptr[i], out, depth + 1);
            }
            return rc ? rc : pl_buf_append(out, "]", 1);
        case MSGPACK_OBJECT_MAP:
            rc = pl_buf_append(out, "{", 1);
            for (uint32_t i = 0; rc == 0 && i < o->via.map.size; i++) {
                const msgpack_object_kv *kv = &o->via.map.ptr[i];
                if (kv->key.type != MSGPACK_OBJECT_STR)
                    return PL_EMALFORMED;
                if (i > 0)
                    rc = pl_buf_append(out, ",", 1);
                if (rc == 0)
                    rc = pl_json_write_string(out, kv->key.via.str.ptr, kv->key.via.str.size);
                if (rc == 0)
                    rc = pl_buf_append(out, ":", 1);
                if (rc == 0)
                    rc = write_object(&kv->val, out, depth + 1);
            }
            return rc ? rc : pl_buf_append(out, "}", 1);
        default:
            return PL_EMALFORMED;
    }
}

int pl_json_from_object(const msgpack_object *o, struct pl_buf *out)
{
    size_t start = out->len;
    int rc = write_object(o, out, 0);
    if (rc != 0)
        out->len = start;
    return rc;
}

int pl_json_from_msgpack(const uint8_t *p, size_t len, struct pl_buf *out)
{
    msgpack_unpacked u;
    if (pl_mp_parse(p, len, &u) != 0)
        return PL_EMALFORMED;
    int rc = pl_json_from_object(&u.data, out);
    msgpack_unpacked_destroy(&u);
    return rc;
}
