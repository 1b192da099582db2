/*
 * The gossip wire format: packet framing, typed msgpack message bodies, and the keyring
 * that seals packets with XChaCha20-Poly1305.
 *
 * One format serves both transports. A UDP datagram (at most udp_bytes_max, 1400 B by
 * default) and a TCP stream payload (push-pull, TCP fallback ping, large broadcasts; framed
 * by the shell with a 4-byte length) are both a "packet":
 *
 *     0       1       2         3
 *     +-------+-------+---------+---------+
 *     | 'P'   | 'G'   | version | flags   |   header, 4 bytes (the AEAD's associated data)
 *     +-------+-------+---------+---------+
 *     | nonce (24 bytes), only when flags & GOSSIP_WIRE_FLAG_SEALED |
 *     +-------------------------------------------------------------+
 *     | body (ciphertext when sealed)                               |
 *     +-------------------------------------------------------------+
 *     | Poly1305 tag (16 bytes), only when sealed                   |
 *     +-------------------------------------------------------------+
 *
 *     body:  | cluster_len u8 | cluster bytes | message | message | ...
 *     message: | type u8 | body_len u32 BE | msgpack map (body_len bytes) |
 *
 * The cluster name sits inside the (authenticated) body, so a packet of another cluster
 * is dropped even when both clusters share a key. Every decode path checks lengths first;
 * anything malformed, oversized, of an unknown version or type, of another cluster or
 * failing authentication is dropped and counted in struct gossip_wire_counters.
 *
 * Message bodies are msgpack maps with short keys, so fields can be added without a new
 * version: an unknown key is ignored, a missing required key is malformed.
 */
#ifndef GOSSIP_WIRE_H
#define GOSSIP_WIRE_H

#include "pl_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GOSSIP_WIRE_MAGIC0 0x50 /* 'P' */
#define GOSSIP_WIRE_MAGIC1 0x47 /* 'G' */
#define GOSSIP_WIRE_VERSION 1
#define GOSSIP_WIRE_FLAG_SEALED 0x01u
#define GOSSIP_WIRE_HEADER_BYTES 4
#define GOSSIP_WIRE_NONCE_BYTES 24
#define GOSSIP_WIRE_TAG_BYTES 16
#define GOSSIP_WIRE_SEAL_OVERHEAD (GOSSIP_WIRE_NONCE_BYTES + GOSSIP_WIRE_TAG_BYTES)
#define GOSSIP_WIRE_MSG_HEADER_BYTES 5

/* Limits; names and addresses are NUL-terminated in memory, so they hold one byte less. */
#define GOSSIP_NAME_MAX 64
#define GOSSIP_ADDR_MAX 64
#define GOSSIP_CLUSTER_MAX 64
#define GOSSIP_TAGS_BYTES_MAX 512
#define GOSSIP_STATE_KEY_MAX 64
#define GOSSIP_STATE_VALUE_BYTES_MAX 16384
#define GOSSIP_EVENT_NAME_MAX 64
#define GOSSIP_EVENT_PAYLOAD_BYTES_MAX 16384
/* The largest packet any transport may carry (stream payloads; UDP is far smaller). */
#define GOSSIP_WIRE_PACKET_BYTES_MAX (16u * 1024u * 1024u)

/* Messages in one packet: bounds the decoder's working memory (~300 B each). */
#define GOSSIP_WIRE_MESSAGES_MAX 32768

#define GOSSIP_KEY_BYTES 32
#define GOSSIP_KEYRING_KEYS_MAX 8

enum gossip_msg_type {
    GOSSIP_MSG_PING = 1,          /* direct probe; answered by ACK */
    GOSSIP_MSG_INDIRECT_PING = 2, /* ask a relay to probe target for us */
    GOSSIP_MSG_ACK = 3,
    GOSSIP_MSG_NACK = 4,      /* Lifeguard: the relay reached us but not the target */
    GOSSIP_MSG_ALIVE = 5,     /* membership: alive at incarnation, with address and tags */
    GOSSIP_MSG_SUSPECT = 6,   /* membership: suspicion raised or confirmed by `from` */
    GOSSIP_MSG_DEAD = 7,      /* membership: declared dead; from == name means it left */
    GOSSIP_MSG_STATE = 8,     /* a versioned state record of one node */
    GOSSIP_MSG_EVENT = 9,     /* a user event with its Lamport time */
    GOSSIP_MSG_PUSHPULL = 10, /* opens a push-pull exchange; MEMBER and STATE follow */
    GOSSIP_MSG_MEMBER = 11,   /* one member of a push-pull full state */
};
#define GOSSIP_MSG_TYPE_MAX GOSSIP_MSG_MEMBER

/* A decoded message. Strings are copied and NUL-terminated; byte fields (tags, value,
 * payload) point into the packet being decoded and are valid only during the visit
 * callback. Encoders read the same struct. */
struct gossip_msg
{
    enum gossip_msg_type type;
    uint32_t seq;                   /* PING, INDIRECT_PING, ACK, NACK */
    bool flag;                      /* INDIRECT_PING: nack wanted; PUSHPULL: join;
                                       PING: sent over TCP */
    bool response;                  /* PUSHPULL: this is the answer */
    char name[GOSSIP_NAME_MAX];     /* PING/INDIRECT_PING target; member; state node;
                                       event name */
    char from[GOSSIP_NAME_MAX];     /* sender (PING, SUSPECT, DEAD, INDIRECT_PING;
                                       PUSHPULL, optional); event origin */
    char addr[GOSSIP_ADDR_MAX];     /* ALIVE, MEMBER, INDIRECT_PING target address */
    uint64_t incarnation;           /* ALIVE, SUSPECT, DEAD, MEMBER */
    uint64_t version;               /* STATE version, EVENT Lamport time */
    uint32_t status;                /* MEMBER: enum gossip_status */
    char key[GOSSIP_STATE_KEY_MAX]; /* STATE */
    const uint8_t *bytes;           /* ALIVE/MEMBER tags, STATE value, EVENT payload */
    size_t bytes_len;
};

/* Why packets were dropped. Every field only grows. */
struct gossip_wire_counters
{
    uint64_t rx_packets;
    uint64_t rx_ok;
    uint64_t rx_malformed;
    uint64_t rx_oversized;
    uint64_t rx_version;
    uint64_t rx_cluster;
    uint64_t rx_unauthenticated;
    uint64_t rx_unknown_type;
};

/*
 * The keyring. Keys live in sodium_malloc memory (guard pages, mlock where allowed) and
 * are wiped on removal and close. The primary key seals; every installed key opens, which
 * is what lets a cluster rotate keys without downtime: install the new key everywhere,
 * make it primary everywhere, remove the old one.
 */
struct gossip_keyring
{
    uint8_t *keys; /* sodium_malloc'd, GOSSIP_KEYRING_KEYS_MAX * GOSSIP_KEY_BYTES */
    uint32_t count;
    uint32_t primary; /* index into keys; meaningful when count > 0 */
    /* Nonce source; NULL means libsodium's randombytes_buf. The simulator may inject a
     * deterministic one so a seed replays exactly. */
    void (*nonce_cb)(uint8_t *out, size_t n, void *ctx);
    void *nonce_ctx;
};

/* 0, or -ENOMEM / PL_ECRYPTO when libsodium cannot start. */
int gossip_keyring_init(struct gossip_keyring *kr);
void gossip_keyring_close(struct gossip_keyring *kr);
/* Adds a key (no-op when present). The first key installed becomes primary. PL_EFULL. */
int gossip_keyring_install(struct gossip_keyring *kr, const uint8_t key[GOSSIP_KEY_BYTES]);
/* Makes an installed key primary. PL_ENOTFOUND. */
int gossip_keyring_use(struct gossip_keyring *kr, const uint8_t key[GOSSIP_KEY_BYTES]);
/* Removes a key; the primary key cannot be removed (PL_ESTATE). PL_ENOTFOUND. */
int gossip_keyring_remove(struct gossip_keyring *kr, const uint8_t key[GOSSIP_KEY_BYTES]);
/* Copies key `i` (0..count-1) out; *is_primary says whether it seals. PL_ERANGE. */
int gossip_keyring_get(const struct gossip_keyring *kr,
                       uint32_t i,
                       uint8_t out[GOSSIP_KEY_BYTES],
                       bool *is_primary);
bool gossip_keyring_enabled(const struct gossip_keyring *kr);

/* Seals `len` plaintext bytes for the given 4-byte header into out (nonce||ct||tag),
 * appending. PL_ESTATE when no key, PL_ETOOBIG when out is full. Reusable by raft. */
int gossip_keyring_seal(const struct gossip_keyring *kr,
                        const uint8_t *aad,
                        size_t aad_len,
                        const uint8_t *plain,
                        size_t len,
                        struct pl_buf *out);
/* Opens nonce||ct||tag with any installed key into out (appending). PL_EAUTH when no key
 * opens it, PL_EMALFORMED when too short. */
int gossip_keyring_open(const struct gossip_keyring *kr,
                        const uint8_t *aad,
                        size_t aad_len,
                        const uint8_t *sealed,
                        size_t len,
                        struct pl_buf *out);

/* Encodes one framed message (type, length, body) and appends it to out. PL_EMALFORMED
 * for an unknown type, PL_ETOOBIG past out's maximum. */
int gossip_wire_msg_encode(const struct gossip_msg *m, struct pl_buf *out);

/* Builds a packet: begin writes the cluster name into the body, add appends framed
 * messages, finish produces the wire bytes (sealed when the keyring has a key).
 * `body_max` bounds the plaintext body so the finished packet fits the transport. */
struct gossip_wire_packet
{
    struct pl_buf body;
    size_t body_max;
    uint32_t messages;
};
int gossip_wire_packet_begin(struct gossip_wire_packet *p, const char *cluster, size_t body_max);
/* Begins another packet in a packet already begun (its buffer is reused); body_max may
 * not exceed the first begin's. */
int gossip_wire_packet_restart(struct gossip_wire_packet *p, const char *cluster, size_t body_max);
/* PL_EFULL (nothing appended) when the framed message does not fit. */
int gossip_wire_packet_add(struct gossip_wire_packet *p, const uint8_t *framed, size_t len);
/* The body space left. */
size_t gossip_wire_packet_room(const struct gossip_wire_packet *p);
/* Appends the finished packet to out. `kr` may be NULL (plaintext). */
int gossip_wire_packet_finish(struct gossip_wire_packet *p,
                              const struct gossip_keyring *kr,
                              struct pl_buf *out);
void gossip_wire_packet_close(struct gossip_wire_packet *p);

/* The plaintext body budget for a packet of at most packet_max bytes. */
size_t gossip_wire_body_max(size_t packet_max, const struct gossip_keyring *kr);

/* Called once per decoded message; a non-zero return stops decoding and is returned. */
typedef int (*gossip_wire_visit_cb)(void *ctx, const struct gossip_msg *m);

/*
 * Decodes a packet of at most packet_max bytes: checks header, opens it with the keyring
 * (a keyring with keys rejects plaintext packets), checks the cluster name, then visits
 * each message in order. Messages are validated fully before any is visited, so a
 * malformed packet has no effect at all. Returns 0 or the reason it was dropped
 * (PL_EMALFORMED, PL_ETOOBIG, PL_EVERSION, PL_ECLUSTER, PL_EAUTH, PL_EPROTO for an unknown
 * type) and counts it. `kr` and `counters` may be NULL.
 */
int gossip_wire_packet_decode(const uint8_t *p,
                              size_t len,
                              size_t packet_max,
                              const struct gossip_keyring *kr,
                              const char *cluster,
                              gossip_wire_visit_cb cb,
                              void *ctx,
                              struct gossip_wire_counters *counters);

/* Decodes one message body of the given type (used by the fuzz target and tests). */
int gossip_wire_msg_decode(uint8_t type, const uint8_t *body, size_t len, struct gossip_msg *out);

const char *gossip_msg_type_name(int type);

#endif
