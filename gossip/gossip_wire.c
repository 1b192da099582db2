/*
 * The gossip wire codec and keyring (see gossip_wire.h for the packet drawing).
 *
 * Decoding never trusts its input: every length is checked against what remains before it
 * is read, every msgpack field is type-checked through pl_mp getters, strings are copied
 * into bounded arrays and must not contain NUL, and each drop reason is counted.
 */
#include "gossip_wire.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_mp.h"
#include "pl_mp_check.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static_assert(GOSSIP_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
static_assert(GOSSIP_WIRE_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
              "nonce size");
static_assert(GOSSIP_WIRE_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
static_assert(GOSSIP_CLUSTER_MAX <= 256, "cluster length is one byte on the wire");

/* ---- keyring ---------------------------------------------------------------------- */

int gossip_keyring_init(struct gossip_keyring *kr)
{
    memset(kr, 0, sizeof(*kr));
    if (sodium_init() < 0)
        return PL_ECRYPTO;
    kr->keys = sodium_malloc(GOSSIP_KEYRING_KEYS_MAX * GOSSIP_KEY_BYTES);
    if (kr->keys == NULL)
        return -ENOMEM;
    sodium_memzero(kr->keys, GOSSIP_KEYRING_KEYS_MAX * GOSSIP_KEY_BYTES);
    return 0;
}

void gossip_keyring_close(struct gossip_keyring *kr)
{
    if (kr->keys != NULL)
        sodium_free(kr->keys); /* wipes before freeing */
    kr->keys = NULL;
    kr->count = 0;
}

static int key_find(const struct gossip_keyring *kr, const uint8_t *key)
{
    for (uint32_t i = 0; i < kr->count; i++)
        if (sodium_memcmp(kr->keys + i * GOSSIP_KEY_BYTES, key, GOSSIP_KEY_BYTES) == 0)
            return (int)i;
    return -1;
}

int gossip_keyring_install(struct gossip_keyring *kr, const uint8_t key[GOSSIP_KEY_BYTES])
{
    PL_ASSERT(kr->keys != NULL);
    if (key_find(kr, key) >= 0)
        return 0;
    if (kr->count >= GOSSIP_KEYRING_KEYS_MAX)
        return PL_EFULL;
    memcpy(kr->keys + kr->count * GOSSIP_KEY_BYTES, key, GOSSIP_KEY_BYTES);
    if (kr->count == 0)
        kr->primary = 0;
    kr->count++;
    return 0;
}

int gossip_keyring_use(struct gossip_keyring *kr, const uint8_t key[GOSSIP_KEY_BYTES])
{
    int i = key_find(kr, key);
    if (i < 0)
        return PL_ENOTFOUND;
    kr->primary = (uint32_t)i;
    return 0;
}

int gossip_keyring_remove(struct gossip_keyring *kr, const uint8_t key[GOSSIP_KEY_BYTES])
{
    int i = key_find(kr, key);
    if (i < 0)
        return PL_ENOTFOUND;
    if ((uint32_t)i == kr->primary)
        return PL_ESTATE;
    uint32_t last = kr->count - 1;
    if ((uint32_t)i != last)
        memcpy(kr->keys + (uint32_t)i * GOSSIP_KEY_BYTES, kr->keys + last * GOSSIP_KEY_BYTES,
               GOSSIP_KEY_BYTES);
    sodium_memzero(kr->keys + last * GOSSIP_KEY_BYTES, GOSSIP_KEY_BYTES);
    if (kr->primary == last)
        kr->primary = (uint32_t)i;
    kr->count--;
    return 0;
}

int gossip_keyring_get(const struct gossip_keyring *kr,
                       uint32_t i,
                       uint8_t out[GOSSIP_KEY_BYTES],
                       bool *is_primary)
{
    if (i >= kr->count)
        return PL_ERANGE;
    memcpy(out, kr->keys + i * GOSSIP_KEY_BYTES, GOSSIP_KEY_BYTES);
    *is_primary = (i == kr->primary);
    return 0;
}

bool gossip_keyring_enabled(const struct gossip_keyring *kr)
{
    return kr != NULL && kr->keys != NULL && kr->count > 0;
}

int gossip_keyring_seal(const struct gossip_keyring *kr,
                        const uint8_t *aad,
                        size_t aad_len,
                        const uint8_t *plain,
                        size_t len,
                        struct pl_buf *out)
{
    if (!gossip_keyring_enabled(kr))
        return PL_ESTATE;
    int rc = pl_buf_reserve(out, GOSSIP_WIRE_SEAL_OVERHEAD + len);
    if (rc != 0)
        return rc;
    uint8_t *nonce = out->data + out->len;
    if (kr->nonce_cb != NULL)
        kr->nonce_cb(nonce, GOSSIP_WIRE_NONCE_BYTES, kr->nonce_ctx);
    else
        randombytes_buf(nonce, GOSSIP_WIRE_NONCE_BYTES);
    unsigned long long clen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + GOSSIP_WIRE_NONCE_BYTES, &clen, plain,
                                                   len, aad, aad_len, NULL, nonce,
                                                   kr->keys + kr->primary * GOSSIP_KEY_BYTES) != 0)
        return PL_ECRYPTO;
    PL_ASSERT(clen == len + GOSSIP_WIRE_TAG_BYTES);
    out->len += GOSSIP_WIRE_NONCE_BYTES + (size_t)clen;
    return 0;
}

int gossip_keyring_open(const struct gossip_keyring *kr,
                        const uint8_t *aad,
                        size_t aad_len,
                        const uint8_t *sealed,
                        size_t len,
                        struct pl_buf *out)
{
    if (len < GOSSIP_WIRE_SEAL_OVERHEAD)
        return PL_EMALFORMED;
    if (!gossip_keyring_enabled(kr))
        return PL_EAUTH;
    size_t plen = len - GOSSIP_WIRE_SEAL_OVERHEAD;
    int rc = pl_buf_reserve(out, plen + 1);
    if (rc != 0)
        return rc;
    /* Try the primary key first: during normal operation it is the one in use. */
    for (uint32_t n = 0; n < kr->count; n++) {
        uint32_t i = (kr->primary + n) % kr->count;
        unsigned long long mlen = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                out->data + out->len, &mlen, NULL, sealed + GOSSIP_WIRE_NONCE_BYTES,
                len - GOSSIP_WIRE_NONCE_BYTES, aad, aad_len, sealed,
                kr->keys + i * GOSSIP_KEY_BYTES) == 0) {
            out->len += (size_t)mlen;
            return 0;
        }
    }
    return PL_EAUTH;
}

/* ---- message codec ------------------------------------------------------------------ */

const char *gossip_msg_type_name(int type)
{
    switch (type) {
        case GOSSIP_MSG_PING:
            return "ping";
        case GOSSIP_MSG_INDIRECT_PING:
            return "indirect_ping";
        case GOSSIP_MSG_ACK:
            return "ack";
        case GOSSIP_MSG_NACK:
            return "nack";
        case GOSSIP_MSG_ALIVE:
            return "alive";
        case GOSSIP_MSG_SUSPECT:
            return "suspect";
        case GOSSIP_MSG_DEAD:
            return "dead";
        case GOSSIP_MSG_STATE:
            return "state";
        case GOSSIP_MSG_EVENT:
            return "event";
        case GOSSIP_MSG_PUSHPULL:
            return "pushpull";
        case GOSSIP_MSG_MEMBER:
            return "member";
        default:
            return "unknown";
    }
}

static void put_kv_str(struct pl_mp_writer *w, const char *k, const char *v)
{
    pl_mp_str(w, k);
    pl_mp_str(w, v);
}

static void put_kv_uint(struct pl_mp_writer *w, const char *k, uint64_t v)
{
    pl_mp_str(w, k);
    pl_mp_uint(w, v);
}

static void put_kv_bin(struct pl_mp_writer *w, const char *k, const uint8_t *p, size_t n)
{
    pl_mp_str(w, k);
    pl_mp_bin(w, p != NULL ? p : (const uint8_t *)"", n);
}

static void put_kv_bool(struct pl_mp_writer *w, const char *k, bool v)
{
    pl_mp_str(w, k);
    pl_mp_bool(w, v);
}

/* Each type writes the same keys in the same order, so encode(decode(x)) is canonical. */
static int encode_body(const struct gossip_msg *m, struct pl_mp_writer *w)
{
    switch (m->type) {
        case GOSSIP_MSG_PING:
            pl_mp_map(w, 4);
            put_kv_uint(w, "s", m->seq);
            put_kv_str(w, "n", m->name);
            put_kv_str(w, "f", m->from);
            put_kv_bool(w, "t", m->flag);
            break;
        case GOSSIP_MSG_INDIRECT_PING:
            pl_mp_map(w, 5);
            put_kv_uint(w, "s", m->seq);
            put_kv_str(w, "n", m->name);
            put_kv_str(w, "a", m->addr);
            put_kv_str(w, "f", m->from);
            put_kv_bool(w, "k", m->flag);
            break;
        case GOSSIP_MSG_ACK:
        case GOSSIP_MSG_NACK:
            pl_mp_map(w, 1);
            put_kv_uint(w, "s", m->seq);
            break;
        case GOSSIP_MSG_ALIVE:
            pl_mp_map(w, 4);
            put_kv_str(w, "n", m->name);
            put_kv_str(w, "a", m->addr);
            put_kv_uint(w, "i", m->incarnation);
            put_kv_bin(w, "g", m->bytes, m->bytes_len);
            break;
        case GOSSIP_MSG_SUSPECT:
        case GOSSIP_MSG_DEAD:
            pl_mp_map(w, 3);
            put_kv_str(w, "n", m->name);
            put_kv_uint(w, "i", m->incarnation);
            put_kv_str(w, "f", m->from);
            break;
        case GOSSIP_MSG_STATE:
            pl_mp_map(w, 4);
            put_kv_str(w, "n", m->name);
            put_kv_str(w, "k", m->key);
            put_kv_bin(w, "v", m->bytes, m->bytes_len);
            put_kv_uint(w, "r", m->version);
            break;
        case GOSSIP_MSG_EVENT:
            pl_mp_map(w, 4);
            put_kv_str(w, "n", m->name);
            put_kv_str(w, "f", m->from);
            put_kv_uint(w, "l", m->version);
            put_kv_bin(w, "p", m->bytes, m->bytes_len);
            break;
        case GOSSIP_MSG_PUSHPULL:
            pl_mp_map(w, m->from[0] != '\0' ? 3 : 2);
            put_kv_bool(w, "j", m->flag);
            put_kv_bool(w, "r", m->response);
            if (m->from[0] != '\0')
                put_kv_str(w, "f", m->from);
            break;
        case GOSSIP_MSG_MEMBER:
            pl_mp_map(w, 5);
            put_kv_str(w, "n", m->name);
            put_kv_str(w, "a", m->addr);
            put_kv_uint(w, "i", m->incarnation);
            put_kv_uint(w, "s", m->status);
            put_kv_bin(w, "g", m->bytes, m->bytes_len);
            break;
        default:
            return PL_EMALFORMED;
    }
    return w->err;
}

int gossip_wire_msg_encode(const struct gossip_msg *m, struct pl_buf *out)
{
    size_t start = out->len;
    uint8_t hdr[GOSSIP_WIRE_MSG_HEADER_BYTES] = {(uint8_t)m->type, 0, 0, 0, 0};
    int rc = pl_buf_append(out, hdr, sizeof(hdr));
    if (rc != 0)
        return rc;
    struct pl_mp_writer w;
    pl_mp_writer_init(&w, out);
    rc = encode_body(m, &w);
    if (rc != 0) {
        out->len = start;
        return rc;
    }
    size_t body = out->len - start - GOSSIP_WIRE_MSG_HEADER_BYTES;
    pl_be32_put(out->data + start + 1, (uint32_t)body);
    return 0;
}


/* Copies a required string field that must be non-empty, fit, and contain no NUL. */
static int get_name(const msgpack_object *map, const char *key, char *dst, size_t size)
{
    const char *p;
    size_t n;
    int rc = pl_mp_get_str(map, key, &p, &n);
    if (rc != 0)
        return rc;
    if (n >= size || n == 0 || memchr(p, '\0', n) != NULL)
        return PL_EMALFORMED;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return 0;
}

static int get_u32(const msgpack_object *map, const char *key, uint32_t *out)
{
    uint64_t v;
    int rc = pl_mp_get_u64(map, key, &v);
    if (rc != 0)
        return rc;
    if (v > UINT32_MAX)
        return PL_EMALFORMED;
    *out = (uint32_t)v;
    return 0;
}

static int get_bytes(const msgpack_object *map, const char *key, size_t max, struct gossip_msg *m)
{
    const uint8_t *p;
    size_t n;
    int rc = pl_mp_get_bin(map, key, &p, &n);
    if (rc != 0)
        return rc;
    if (n > max)
        return PL_EMALFORMED;
    m->bytes = p;
    m->bytes_len = n;
    return 0;
}

/* Unpacks one object spanning exactly [p, p+n) into a caller's zone, so decoding a packet
 * of many messages reuses one allocation (msgpack_unpacked makes a new zone each time).
 * Strings and binaries point into p. */
static int zone_parse(msgpack_zone *z, const uint8_t *p, size_t n, msgpack_object *out)
{
    /* msgpack-c reserves a container's claimed size before reading it: refuse lies first. */
    if (pl_mp_check(p, n) != 0)
        return PL_EMALFORMED;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack((const char *)p, n, &off, z, out);
    if (r != MSGPACK_UNPACK_SUCCESS || off != n)
        return PL_EMALFORMED;
    return 0;
}

/* Tags are a msgpack map of str -> str, at most GOSSIP_TAGS_BYTES_MAX bytes. */
static int check_tags(msgpack_zone *z, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    msgpack_object obj;
    int rc = zone_parse(z, p, n, &obj);
    if (rc != 0)
        return rc;
    const msgpack_object *o = &obj;
    if (o->type != MSGPACK_OBJECT_MAP) {
        rc = PL_EMALFORMED;
    } else {
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR ||
                o->via.map.ptr[i].val.type != MSGPACK_OBJECT_STR)
                rc = PL_EMALFORMED;
    }
    return rc;
}

static int decode_map(msgpack_zone *z, uint8_t type, const msgpack_object *o, struct gossip_msg *m)
{
    int rc = 0;
    if (o->type != MSGPACK_OBJECT_MAP)
        return PL_EMALFORMED;
    memset(m, 0, sizeof(*m));
    m->type = (enum gossip_msg_type)type;
    switch (type) {
        case GOSSIP_MSG_PING:
            if ((rc = get_u32(o, "s", &m->seq)) ||
                (rc = get_name(o, "n", m->name, GOSSIP_NAME_MAX)) ||
                (rc = get_name(o, "f", m->from, GOSSIP_NAME_MAX)) ||
                (rc = pl_mp_get_bool(o, "t", &m->flag)))
                return rc;
            break;
        case GOSSIP_MSG_INDIRECT_PING:
            if ((rc = get_u32(o, "s", &m->seq)) ||
                (rc = get_name(o, "n", m->name, GOSSIP_NAME_MAX)) ||
                (rc = get_name(o, "a", m->addr, GOSSIP_ADDR_MAX)) ||
                (rc = get_name(o, "f", m->from, GOSSIP_NAME_MAX)) ||
                (rc = pl_mp_get_bool(o, "k", &m->flag)))
                return rc;
            break;
        case GOSSIP_MSG_ACK:
        case GOSSIP_MSG_NACK:
            if ((rc = get_u32(o, "s", &m->seq)))
                return rc;
            break;
        case GOSSIP_MSG_ALIVE:
        case GOSSIP_MSG_MEMBER:
            if ((rc = get_name(o, "n", m->name, GOSSIP_NAME_MAX)) ||
                (rc = get_name(o, "a", m->addr, GOSSIP_ADDR_MAX)) ||
                (rc = pl_mp_get_u64(o, "i", &m->incarnation)) ||
                (rc = get_bytes(o, "g", GOSSIP_TAGS_BYTES_MAX, m)) ||
                (rc = check_tags(z, m->bytes, m->bytes_len)))
                return rc;
            if (type == GOSSIP_MSG_MEMBER) {
                if ((rc = get_u32(o, "s", &m->status)))
                    return rc;
                if (m->status > 3) /* enum gossip_status */
                    return PL_EMALFORMED;
            }
            break;
        case GOSSIP_MSG_SUSPECT:
        case GOSSIP_MSG_DEAD:
            if ((rc = get_name(o, "n", m->name, GOSSIP_NAME_MAX)) ||
                (rc = pl_mp_get_u64(o, "i", &m->incarnation)) ||
                (rc = get_name(o, "f", m->from, GOSSIP_NAME_MAX)))
                return rc;
            break;
        case GOSSIP_MSG_STATE:
            if ((rc = get_name(o, "n", m->name, GOSSIP_NAME_MAX)) ||
                (rc = get_name(o, "k", m->key, GOSSIP_STATE_KEY_MAX)) ||
                (rc = get_bytes(o, "v", GOSSIP_STATE_VALUE_BYTES_MAX, m)) ||
                (rc = pl_mp_get_u64(o, "r", &m->version)))
                return rc;
            break;
        case GOSSIP_MSG_EVENT:
            if ((rc = get_name(o, "n", m->name, GOSSIP_EVENT_NAME_MAX)) ||
                (rc = get_name(o, "f", m->from, GOSSIP_NAME_MAX)) ||
                (rc = pl_mp_get_u64(o, "l", &m->version)) ||
                (rc = get_bytes(o, "p", GOSSIP_EVENT_PAYLOAD_BYTES_MAX, m)))
                return rc;
            break;
        case GOSSIP_MSG_PUSHPULL:
            if ((rc = pl_mp_get_bool(o, "j", &m->flag)) ||
                (rc = pl_mp_get_bool(o, "r", &m->response)))
                return rc;
            /* The sender, optional: agents before it sent none. */
            if (pl_mp_get_str(o, "f", &(const char *){NULL}, &(size_t){0}) == 0 &&
                (rc = get_name(o, "f", m->from, GOSSIP_NAME_MAX)))
                return rc;
            break;
        default:
            return PL_EPROTO;
    }
    return 0;
}

static int msg_decode_z(msgpack_zone *z,
                        uint8_t type,
                        const uint8_t *body,
                        size_t len,
                        struct gossip_msg *out)
{
    if (type == 0 || type > GOSSIP_MSG_TYPE_MAX)
        return PL_EPROTO;
    msgpack_zone_clear(z);
    msgpack_object obj;
    int rc = zone_parse(z, body, len, &obj);
    if (rc != 0)
        return rc;
    struct gossip_msg m;
    /* Byte fields point into `body` (msgpack-c references its input for str/bin), so
     * they outlive the zone's objects. */
    rc = decode_map(z, type, &obj, &m);
    if (rc != 0)
        return rc;
    *out = m;
    return 0;
}

int gossip_wire_msg_decode(uint8_t type, const uint8_t *body, size_t len, struct gossip_msg *out)
{
    msgpack_zone z;
    if (!msgpack_zone_init(&z, 1024))
        return -ENOMEM;
    int rc = msg_decode_z(&z, type, body, len, out);
    msgpack_zone_destroy(&z);
    return rc;
}

/* ---- packets ---------------------------------------------------------------------- */

size_t gossip_wire_body_max(size_t packet_max, const struct gossip_keyring *kr)
{
    size_t over = GOSSIP_WIRE_HEADER_BYTES;
    if (gossip_keyring_enabled(kr))
        over += GOSSIP_WIRE_SEAL_OVERHEAD;
    return packet_max > over ? packet_max - over : 0;
}

int gossip_wire_packet_begin(struct gossip_wire_packet *p, const char *cluster, size_t body_max)
{
    size_t clen = strlen(cluster);
    PL_ASSERT(clen < GOSSIP_CLUSTER_MAX);
    pl_buf_init(&p->body, body_max);
    p->body_max = body_max;
    p->messages = 0;
    uint8_t c = (uint8_t)clen;
    int rc = pl_buf_append(&p->body, &c, 1);
    if (rc == 0)
        rc = pl_buf_append(&p->body, cluster, clen);
    return rc;
}

int gossip_wire_packet_restart(struct gossip_wire_packet *p, const char *cluster, size_t body_max)
{
    size_t clen = strlen(cluster);
    PL_ASSERT(clen < GOSSIP_CLUSTER_MAX && body_max <= p->body.max);
    pl_buf_reset(&p->body);
    p->body_max = body_max;
    p->messages = 0;
    uint8_t c = (uint8_t)clen;
    int rc = pl_buf_append(&p->body, &c, 1);
    if (rc == 0)
        rc = pl_buf_append(&p->body, cluster, clen);
    return rc;
}

size_t gossip_wire_packet_room(const struct gossip_wire_packet *p)
{
    return p->body_max > p->body.len ? p->body_max - p->body.len : 0;
}

int gossip_wire_packet_add(struct gossip_wire_packet *p, const uint8_t *framed, size_t len)
{
    if (len > gossip_wire_packet_room(p))
        return PL_EFULL;
    int rc = pl_buf_append(&p->body, framed, len);
    if (rc != 0)
        return rc;
    p->messages++;
    return 0;
}

int gossip_wire_packet_finish(struct gossip_wire_packet *p,
                              const struct gossip_keyring *kr,
                              struct pl_buf *out)
{
    bool sealed = gossip_keyring_enabled(kr);
    uint8_t hdr[GOSSIP_WIRE_HEADER_BYTES] = {GOSSIP_WIRE_MAGIC0, GOSSIP_WIRE_MAGIC1,
                                             GOSSIP_WIRE_VERSION,
                                             sealed ? GOSSIP_WIRE_FLAG_SEALED : 0};
    size_t start = out->len;
    int rc = pl_buf_append(out, hdr, sizeof(hdr));
    if (rc != 0)
        return rc;
    if (sealed)
        rc = gossip_keyring_seal(kr, hdr, sizeof(hdr), p->body.data, p->body.len, out);
    else
        rc = pl_buf_append(out, p->body.data, p->body.len);
    if (rc != 0)
        out->len = start;
    return rc;
}

void gossip_wire_packet_close(struct gossip_wire_packet *p)
{
    pl_buf_close(&p->body);
}

static void count(struct gossip_wire_counters *c, int rc)
{
    if (c == NULL)
        return;
    switch (rc) {
        case 0:
            c->rx_ok++;
            break;
        case PL_ETOOBIG:
            c->rx_oversized++;
            break;
        case PL_EVERSION:
            c->rx_version++;
            break;
        case PL_ECLUSTER:
            c->rx_cluster++;
            break;
        case PL_EAUTH:
            c->rx_unauthenticated++;
            break;
        case PL_EPROTO:
            c->rx_unknown_type++;
            break;
        default:
            c->rx_malformed++;
            break;
    }
}

/* Decodes every message of a plaintext body (after the cluster name) into *msgs, which
 * starts as the caller's array of *cap entries and grows on the heap (doubling) up to
 * GOSSIP_WIRE_MESSAGES_MAX; the caller frees *msgs when it is not its array. */
static int walk(const uint8_t *p,
                size_t n,
                struct gossip_msg **msgs,
                size_t *cap,
                size_t *count,
                const struct gossip_msg *stack)
{
    msgpack_zone z;
    if (!msgpack_zone_init(&z, 2048))
        return -ENOMEM;
    size_t off = 0, k = 0;
    int rc = 0;
    while (off < n) {
        if (n - off < GOSSIP_WIRE_MSG_HEADER_BYTES) {
            rc = PL_EMALFORMED;
            break;
        }
        uint8_t type = p[off];
        uint32_t blen = pl_be32_get(p + off + 1);
        off += GOSSIP_WIRE_MSG_HEADER_BYTES;
        if (blen > n - off) {
            rc = PL_EMALFORMED;
            break;
        }
        if (k == *cap) {
            if (*cap >= GOSSIP_WIRE_MESSAGES_MAX) {
                rc = PL_ETOOBIG;
                break;
            }
            size_t ncap = PL_MIN(*cap * 2, (size_t)GOSSIP_WIRE_MESSAGES_MAX);
            struct gossip_msg *grown = malloc(ncap * sizeof(*grown));
            if (grown == NULL) {
                rc = -ENOMEM;
                break;
            }
            memcpy(grown, *msgs, k * sizeof(*grown));
            if (*msgs != stack)
                free(*msgs);
            *msgs = grown;
            *cap = ncap;
        }
        if ((rc = msg_decode_z(&z, type, p + off, blen, &(*msgs)[k])) != 0)
            break;
        k++;
        off += blen;
    }
    msgpack_zone_destroy(&z);
    *count = k;
    return rc;
}

int gossip_wire_packet_decode(const uint8_t *p,
                              size_t len,
                              size_t packet_max,
                              const struct gossip_keyring *kr,
                              const char *cluster,
                              gossip_wire_visit_cb cb,
                              void *ctx,
                              struct gossip_wire_counters *counters)
{
    struct pl_buf plain;
    pl_buf_init(&plain, packet_max);
    const uint8_t *body;
    size_t body_len;
    int rc;
    if (counters != NULL)
        counters->rx_packets++;
    if (len > packet_max || len > GOSSIP_WIRE_PACKET_BYTES_MAX) {
        rc = PL_ETOOBIG;
        goto done;
    }
    if (len < GOSSIP_WIRE_HEADER_BYTES || p[0] != GOSSIP_WIRE_MAGIC0 ||
        p[1] != GOSSIP_WIRE_MAGIC1) {
        rc = PL_EMALFORMED;
        goto done;
    }
    if (p[2] != GOSSIP_WIRE_VERSION) {
        rc = PL_EVERSION;
        goto done;
    }
    if ((p[3] & ~GOSSIP_WIRE_FLAG_SEALED) != 0) {
        rc = PL_EMALFORMED;
        goto done;
    }
    bool sealed = (p[3] & GOSSIP_WIRE_FLAG_SEALED) != 0;
    if (gossip_keyring_enabled(kr) != sealed) {
        /* With a keyring, plaintext is unauthenticated; without one we cannot open. */
        rc = PL_EAUTH;
        goto done;
    }
    if (sealed) {
        rc = gossip_keyring_open(kr, p, GOSSIP_WIRE_HEADER_BYTES, p + GOSSIP_WIRE_HEADER_BYTES,
                                 len - GOSSIP_WIRE_HEADER_BYTES, &plain);
        if (rc == PL_ETOOBIG) /* plaintext larger than the buffer: malformed, not oversize */
            rc = PL_EMALFORMED;
        if (rc != 0)
            goto done;
        body = plain.data;
        body_len = plain.len;
    } else {
        body = p + GOSSIP_WIRE_HEADER_BYTES;
        body_len = len - GOSSIP_WIRE_HEADER_BYTES;
    }
    if (body_len < 1 || (size_t)body[0] + 1 > body_len) {
        rc = PL_EMALFORMED;
        goto done;
    }
    size_t clen = body[0];
    if (clen != strlen(cluster) || memcmp(body + 1, cluster, clen) != 0) {
        rc = PL_ECLUSTER;
        goto done;
    }
    if (body_len == 1 + clen) { /* a packet carries at least one message */
        rc = PL_EMALFORMED;
        goto done;
    }
    /* Decode everything first so a bad message leaves no partial effect. */
    struct gossip_msg stack_msgs[48];
    struct gossip_msg *msgs = stack_msgs;
    size_t cap = PL_ARRAY_LEN(stack_msgs), n = 0;
    rc = walk(body + 1 + clen, body_len - 1 - clen, &msgs, &cap, &n, stack_msgs);
    count(counters, rc);
    for (size_t i = 0; rc == 0 && cb != NULL && i < n; i++)
        rc = cb(ctx, &msgs[i]);
    if (msgs != stack_msgs)
        free(msgs);
    pl_buf_close(&plain);
    return rc;
done:
    count(counters, rc);
    pl_buf_close(&plain);
    return rc;
}
