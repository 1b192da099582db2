/*
 * The incident writer: one thread that writes incident records (and the outbox that carries
 * their steps to the council) in synced batches, off the event loop (whose thread also runs gossip probes). The
 * healing shell hands it a record and gets a ticket; when every write up to a ticket is
 * durable, `done_cb` runs on the loop with the newest durable ticket, and the shell then
 * carries out the actions that were waiting for that record (persist before act).
 *
 * Writes of the same key still queued are merged (the newer record replaces the older one
 * before it reaches the disk), so a stalled disk holds at most one pending record per
 * incident; past HEAL_WRITER_PENDING_MAX distinct keys a put fails with PL_EFULL. A batch
 * the store refuses (a full disk) is queued again and retried every second until it goes
 * through; its ticket is reported done with the error, so no action waits for the disk.
 */
#ifndef PL_HEAL_WRITER_H
#define PL_HEAL_WRITER_H

#include "pl_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define HEAL_WRITER_PENDING_MAX 1024
#define HEAL_WRITER_SUBMIT_MAX 16 /* writes in one atomic submit */

struct heal_writer;

/* Runs on the loop thread. `err` is 0, or the error of the last batch up to `ticket`
 * (those records are then not durable; the shell acts anyway and logs it). */
typedef void (*heal_writer_done_cb)(struct heal_writer *w, uint64_t ticket, int err, void *data);

/* Starts the thread. `store` must outlive the writer. */
int heal_writer_new(uv_loop_t *loop, struct pl_store *store, heal_writer_done_cb cb, void *data,
                    struct heal_writer **out);
/* One write: a put, or with `del` a delete (val unused). */
struct heal_write {
    enum pl_store_cf cf;
    const void *key;
    size_t key_len;
    const uint8_t *val;
    size_t len;
    bool del;
};

/* Queues writes that reach the disk in one batch, atomically (keys and values are copied).
 * Returns the ticket (> 0) in *ticket, or PL_EFULL / -ENOMEM with nothing queued. */
int heal_writer_submit(struct heal_writer *w, const struct heal_write *items, int n,
                       uint64_t *ticket);
/* The newest ticket known durable (or failed) on the loop thread. */
uint64_t heal_writer_done(const struct heal_writer *w);
/* Writes what is queued and joins the thread (a graceful stop, on the loop thread). */
void heal_writer_stop(struct heal_writer *w);
/* Stops if not yet stopped and frees `w`. Its uv_async handle must be closed by then (the
 * agent closes every handle before its modules are freed). */
void heal_writer_free(struct heal_writer *w);

#endif
