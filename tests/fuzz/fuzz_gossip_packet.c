/*
 * libFuzzer target for the gossip packet decoder (gossip/gossip_wire.h).
 *
 * The first input byte picks a mode: 0 decodes the rest as a plaintext packet of cluster
 * "c", 1 as a packet sealed with a fixed test key, anything else decodes one message body
 * whose type is that byte minus 1. Every message that decodes is encoded again, decoded
 * again and encoded a third time; the two encodings must be byte-identical
 * (decode -> encode -> decode equality). Nothing may crash, leak or read out of bounds.
 */
#include "gossip_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_message(const struct gossip_msg *m)
{
    struct pl_buf a, b;
    pl_buf_init(&a, GOSSIP_WIRE_PACKET_BYTES_MAX);
    pl_buf_init(&b, GOSSIP_WIRE_PACKET_BYTES_MAX);
    if (gossip_wire_msg_encode(m, &a) != 0)
        abort(); /* whatever decodes must encode */
    struct gossip_msg again;
    if (gossip_wire_msg_decode(a.data[0], a.data + GOSSIP_WIRE_MSG_HEADER_BYTES,
                               a.len - GOSSIP_WIRE_MSG_HEADER_BYTES, &again) != 0)
        abort();
    if (gossip_wire_msg_encode(&again, &b) != 0 || a.len != b.len ||
        memcmp(a.data, b.data, a.len) != 0)
        abort();
    pl_buf_close(&a);
    pl_buf_close(&b);
}

static int visit_cb(void *ctx, const struct gossip_msg *m)
{
    (void)ctx;
    check_message(m);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gossip_keyring kr;
    static int kr_ready;
    if (!kr_ready) {
        uint8_t key[GOSSIP_KEY_BYTES];
        memset(key, 0x42, sizeof(key));
        if (gossip_keyring_init(&kr) != 0 || gossip_keyring_install(&kr, key) != 0)
            abort();
        kr_ready = 1;
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    struct gossip_wire_counters c = {0};
    if (mode == 0) {
        gossip_wire_packet_decode(data, size, 65536, NULL, "c", visit_cb, NULL, &c);
    } else if (mode == 1) {
        gossip_wire_packet_decode(data, size, 65536, &kr, "c", visit_cb, NULL, &c);
    } else {
        struct gossip_msg m;
        if (gossip_wire_msg_decode((uint8_t)(mode - 1), data, size, &m) == 0)
            check_message(&m);
    }
    return 0;
}
