/*
 * The Raft log writer: one thread that carries out step 1 of the core's updates (raft.h:
 * hard state, snapshot record, truncation, entries, compaction) as synced RocksDB writes,
 * off the event loop, the way etcd raft's asynchronous storage writes do. The loop thread
 * submits each update's writes; they are copied into the batch being filled, in order, and
 * the thread takes the whole batch at once (all updates submitted while the last fsync ran
 * share the next one). When a batch is durable `done_cb` runs on the loop with the newest
 * durable persist_seq, and the shell steps RAFT_EV_PERSISTED with it: only then does the
 * core release what waited for those writes (an AppendEntries reply, a vote).
 *
 * Order: one thread writes batches in submission order, so persist_seqs become durable in
 * order (raft.h, step 1). A batch the store refuses is reported with its error and every
 * later submission fails with it too: a write must never land after one that was lost.
 * The batch being filled is bounded by RAFT_WRITER_PENDING_BYTES_MAX; past it submit waits
 * for the thread (the loop stalls rather than hold unbounded memory for a stalled disk).
 */
#ifndef PL_RAFT_WRITER_H
#define PL_RAFT_WRITER_H

#include "pl_store.h"
#include "raft.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define RAFT_WRITER_PENDING_BYTES_MAX (64u << 20)

struct raft_writer;

/* Runs on the loop thread. `seq` is the newest persist_seq durable (0 if none yet); `err`
 * is 0, or the store's error for a batch that was not written (the caller stops the node). */
typedef void (*raft_writer_done_cb)(struct raft_writer *w, uint64_t seq, int err, void *data);

/* Starts the thread. `store` must outlive the writer. 0, or a libuv error code. */
int raft_writer_new(uv_loop_t *loop, struct pl_store *store, raft_writer_done_cb cb, void *data,
                    struct raft_writer **out);
/* Queues step 1 of `u` (u->persist_seq != 0, greater than every seq submitted before) behind
 * everything submitted before; what u points to is copied before this returns. 0, -ENOMEM,
 * or the error of an earlier batch that failed (nothing more is written then). */
int raft_writer_submit(struct raft_writer *w, const struct raft_update *u);
/* Writes what is queued and joins the thread (a graceful stop, on the loop thread). */
void raft_writer_stop(struct raft_writer *w);
/* Whether the thread was stopped (or `w` is NULL): the caller then writes synchronously. */
bool raft_writer_stopped(const struct raft_writer *w);
/* Stops if not yet stopped and frees `w` (NULL is fine). Its uv_async handle must be
 * closed by then (the agent closes every handle before its modules are freed). */
void raft_writer_free(struct raft_writer *w);

#endif
