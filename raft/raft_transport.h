/*
 * Raft's libuv TCP transport: one outgoing connection per peer (dialled on demand,
 * redialled with back-off after a failure) and any number of incoming ones, each carrying
 * frames of a 4-byte big-endian length and a payload. The payload is a raft_wire message,
 * sealed and opened by optional hooks (the agent passes the gossip keyring's, so one key
 * set covers both transports). Messages are datagrams to Raft: a frame that cannot be
 * queued is dropped and counted, and the protocol retries.
 *
 * A client (an agent outside the Raft configuration) does not listen: it dials a server,
 * and the server answers on that connection, found by the sender id its frames carry.
 *
 * It knows addresses and bytes, not the protocol: the caller decodes what arrives.
 */
#ifndef RAFT_TRANSPORT_H
#define RAFT_TRANSPORT_H

#include "pl_buf.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define RAFT_TRANSPORT_PEERS_MAX 16
#define RAFT_TRANSPORT_ADDR_MAX 64
#define RAFT_TRANSPORT_FRAME_MAX (64u << 20)
#define RAFT_TRANSPORT_QUEUE_BYTES_MAX (32u << 20)

struct raft_transport_hooks {
    void *ctx;
    /* A whole frame payload arrived (already opened); valid during the call only. The
     * callee names the sender with raft_transport_sender_is() once it has decoded it. */
    void (*recv_cb)(void *ctx, const uint8_t *p, size_t n);
    /* Optional: seal `n` bytes into out / open a payload into out; non-zero refuses it. */
    int (*seal_cb)(void *ctx, const uint8_t *p, size_t n, struct pl_buf *out);
    int (*open_cb)(void *ctx, const uint8_t *p, size_t n, struct pl_buf *out);
    /* Optional: the peer ended (EOF or reset) the last open connection tagged with its id:
     * its process most likely exited. Not called when we close a connection ourselves. */
    void (*lost_cb)(void *ctx, uint64_t id);
};

struct raft_transport_stats {
    uint64_t frames_sent;
    uint64_t frames_received;
    uint64_t dropped_queue_full;  /* outgoing frame refused: too much already queued */
    uint64_t dropped_no_peer;     /* outgoing frame for an unknown peer id */
    uint64_t dropped_unopened;    /* incoming frame the open hook refused */
    uint64_t dropped_oversized;   /* incoming frame over the limit (connection closed) */
    uint64_t connects;
    uint64_t connect_failures;
};

struct raft_transport_peer; /* private */
struct raft_transport_conn; /* private */

struct raft_transport {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct raft_transport_hooks hooks;
    struct raft_transport_peer *peers[RAFT_TRANSPORT_PEERS_MAX];
    struct raft_transport_conn *incoming; /* list */
    struct raft_transport_conn *delivering; /* the connection inside recv_cb, or NULL */
    struct raft_transport_stats stats;
    int closing;
    int open_handles;
    void (*close_cb)(struct raft_transport *t);
};

/* Listens on bind_addr ("HOST:PORT"), or nowhere when it is NULL (a client). 0 or a libuv
 * error code. */
int raft_transport_init(struct raft_transport *t, uv_loop_t *loop, const char *bind_addr,
                        const struct raft_transport_hooks *hooks);
/* Closes every connection and the listener; close_cb (may be NULL) runs when all are closed. */
void raft_transport_close(struct raft_transport *t, void (*close_cb)(struct raft_transport *t));

/* Adds a peer or changes its address (an open connection to the old address is dropped). */
int raft_transport_peer_set(struct raft_transport *t, uint64_t id, const char *addr);
void raft_transport_peer_remove(struct raft_transport *t, uint64_t id);
/* The address known for a peer, or NULL. */
const char *raft_transport_peer_addr(const struct raft_transport *t, uint64_t id);

/* Inside recv_cb: the frame being delivered came from `id`. Tags its connection, so that
 * the end of it is reported (lost_cb) and a client is answered on it, even by a message
 * sent before recv_cb returns. */
void raft_transport_sender_is(struct raft_transport *t, uint64_t id);

/* Queues one message for peer `id` (copied); with no peer of that id, on the newest incoming
 * connection whose frames named it (a client). 0, PL_ENOTFOUND (neither), PL_EFULL. */
int raft_transport_send(struct raft_transport *t, uint64_t id, const uint8_t *p, size_t n);

#endif
