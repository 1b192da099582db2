/*
 * The Raft wire codec: versioned, typed msgpack messages, and the encoding of membership
 * configurations inside CONFIG log entries.
 *
 * Every message is one msgpack array whose first five elements are fixed:
 *
 *     +---------+------+------+----+------+---------------------------------+
 *     | version | type | from | to | term | body fields (per type, below)   |
 *     |  uint=3 | uint | uint |uint| uint |                                 |
 *     +---------+------+------+----+------+---------------------------------+
 *
 *     VOTE            last_index, last_term, pre_vote(bool), transfer(bool)
 *     VOTE_RESULT     granted(bool), pre_vote(bool)
 *     APPEND          prev_index, prev_term, commit, [[term, type, data(bin)], ...],
 *                     lease_age_ms
 *     APPEND_RESULT   success(bool), match_index, last_index, reject_index,
 *                     conflict_term, conflict_index
 *     SNAPSHOT        snap_index, snap_term, config, meta(bin), body_len, offset,
 *                     data(bin): the snapshot's description, then the body chunk that
 *                     starts at body position `offset` (raft.h, struct raft_snapshot)
 *     SNAPSHOT_RESULT snap_index, offset, done(bool)
 *     TIMEOUT_NOW     (none)
 *     PROPOSE         id, data(bin)
 *     PROPOSE_RESULT  id, err(int), index, term
 *
 * Entry indexes are not sent: they follow from prev_index. A configuration is
 * [[id, role], ...]. Decoding checks every length, type and bound before it trusts a field
 * and refuses anything else with PL_EMALFORMED (PL_EVERSION for another version); the
 * caller drops and counts the packet. The transport frames messages; these functions see
 * exactly one message.
 */
#ifndef RAFT_WIRE_H
#define RAFT_WIRE_H

#include "pl_buf.h"
#include "raft.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_WIRE_VERSION 3 /* 2: APPEND carries lease_age_ms; 3: SNAPSHOT's meta and body */
#define RAFT_WIRE_ENTRIES_MAX 4096
#define RAFT_WIRE_MSG_BYTES_MAX (64u << 20)

/* A decoded message. Its pointers reference the input bytes' unpacked copy held here;
 * valid until raft_wire_msg_close(). */
struct raft_wire_msg {
    struct raft_msg msg;
    msgpack_unpacked up;
    struct raft_entry *entries; /* malloc'd, msg.append.n_entries long */
    bool open;
};

/* Appends the encoding of `m` to `out`. 0, PL_ETOOBIG, PL_EMALFORMED (bad type). */
int raft_wire_encode(const struct raft_msg *m, struct pl_buf *out);

/* Decodes exactly one message from [p, p+n) into `out` (initialised here; close it even
 * on failure). 0, PL_EMALFORMED, PL_EVERSION, PL_ETOOBIG, -ENOMEM. */
int raft_wire_decode(const uint8_t *p, size_t n, struct raft_wire_msg *out);
void raft_wire_msg_close(struct raft_wire_msg *w);

/* Counters a receiver keeps of refused packets. */
struct raft_wire_stats {
    uint64_t malformed;
    uint64_t version;
    uint64_t unknown_node;
};

/* Decodes, then refuses (PL_ECLUSTER) a message not addressed to `self` or from a node
 * `known_cb` does not know; counts each refusal in `stats`. */
int raft_wire_receive(const uint8_t *p, size_t n, uint64_t self,
                      bool (*known_cb)(void *ctx, uint64_t id), void *ctx,
                      struct raft_wire_msg *out, struct raft_wire_stats *stats);

/* A membership configuration as msgpack bytes (for CONFIG entries and snapshots). */
int raft_config_encode(const struct raft_config *c, struct pl_buf *out);
/* PL_EMALFORMED unless it is a valid configuration: ids non-zero and unique, roles known,
 * at most RAFT_SERVERS_MAX servers. */
int raft_config_decode(const uint8_t *p, size_t n, struct raft_config *out);

/* Field-by-field equality (entries and data compared by content), for tests and fuzzing. */
bool raft_msg_equal(const struct raft_msg *a, const struct raft_msg *b);

#endif
