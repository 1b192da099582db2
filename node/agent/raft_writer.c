/*
 * The Raft log writer of raft_writer.h: two RocksDB write batches, one filled by the loop
 * under a mutex while the thread commits the other with sync, and a uv_async that reports
 * the newest durable persist_seq.
 */
#include "raft_writer.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "raft_storage.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct raft_writer {
    struct pl_store *store;
    raft_writer_done_cb cb;
    void *data;
    uv_async_t async;
    uv_thread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the thread waits for a batch */
    pthread_cond_t room; /* submit waits while the filled batch is at its bound */
    /* under mu */
    struct pl_store_batch batches[2];
    int fill;             /* the batch the loop adds to; the thread commits the other */
    uint64_t fill_seq;    /* the newest persist_seq in it, 0 while it is empty */
    size_t fill_bytes;
    uint64_t durable_seq; /* the newest persist_seq committed with sync */
    int err;              /* the first failure; nothing is written after it */
    bool stop;
    /* loop thread only */
    uint64_t done_seq;
    bool err_reported;
    bool joined;
};

/* How often a batch waiting for space looks again. */
#define RAFT_WRITER_SPACE_POLL_NS (100 * 1000 * 1000L)

static bool stopping(struct raft_writer *w)
{
    pthread_mutex_lock(&w->mu);
    bool stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    return stop;
}

static void writer_main(void *arg)
{
    struct raft_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->fill_seq == 0 && !w->stop)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->fill_seq == 0)
            break; /* stopping, and everything submitted is written */
        struct pl_store_batch *b = &w->batches[w->fill];
        uint64_t seq = w->fill_seq;
        int rc = w->err;
        w->fill ^= 1; /* cleared below on the previous turn */
        w->fill_seq = 0;
        w->fill_bytes = 0;
        pthread_cond_broadcast(&w->room);
        pthread_mutex_unlock(&w->mu);

        /* Below the store's reserve the commit would refuse the batch: it waits for space,
         * as the loop's own writes do (nothing in it was acknowledged), instead of stopping
         * the node; a stop while the disk is full leaves it unwritten. */
        while (rc == 0 && !pl_store_space_ok(w->store) && !stopping(w))
            nanosleep(&(struct timespec){.tv_nsec = RAFT_WRITER_SPACE_POLL_NS}, NULL);
        /* Never a batch behind one that failed: it would leave a hole in the log. */
        if (rc == 0)
            rc = pl_store_batch_commit(w->store, b);
        pl_store_batch_clear(b);

        pthread_mutex_lock(&w->mu);
        if (rc == 0 && seq > w->durable_seq)
            w->durable_seq = seq;
        if (rc != 0 && w->err == 0)
            w->err = rc;
        uv_async_send(&w->async);
    }
    pthread_mutex_unlock(&w->mu);
}

static void async_cb(uv_async_t *a)
{
    struct raft_writer *w = a->data;
    pthread_mutex_lock(&w->mu);
    uint64_t seq = w->durable_seq;
    int err = w->err;
    pthread_mutex_unlock(&w->mu);
    if (err != 0 && !w->err_reported) {
        w->err_reported = true;
        w->cb(w, seq, err, w->data);
        return;
    }
    if (seq <= w->done_seq)
        return;
    w->done_seq = seq;
    w->cb(w, seq, 0, w->data);
}

int raft_writer_new(uv_loop_t *loop, struct pl_store *store, raft_writer_done_cb cb, void *data,
                    struct raft_writer **out)
{
    struct raft_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->store = store;
    w->cb = cb;
    w->data = data;
    pl_store_batch_init(&w->batches[0]);
    pl_store_batch_init(&w->batches[1]);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->room, NULL);
    /* The thread touches the async handle only once a batch was submitted, after we return. */
    int rc = uv_thread_create(&w->thread, writer_main, w);
    if (rc != 0) {
        w->joined = true;
        raft_writer_free(w);
        return rc;
    }
    rc = uv_async_init(loop, &w->async, async_cb);
    if (rc != 0) {
        raft_writer_free(w);
        return rc;
    }
    w->async.data = w;
    *out = w;
    return 0;
}

int raft_writer_submit(struct raft_writer *w, const struct raft_update *u)
{
    PL_ASSERT(u->persist_seq != 0 && !w->joined);
    pthread_mutex_lock(&w->mu);
    PL_ASSERT(u->persist_seq > w->fill_seq && u->persist_seq > w->durable_seq);
    while (w->err == 0 && w->fill_bytes >= RAFT_WRITER_PENDING_BYTES_MAX)
        pthread_cond_wait(&w->room, &w->mu);
    int rc = w->err;
    if (rc == 0) {
        struct pl_store_batch *b = &w->batches[w->fill];
        rc = raft_storage_batch_add(w->store, b, u);
        if (rc == 0) {
            size_t size;
            (void)rocksdb_writebatch_data(b->wb, &size);
            w->fill_seq = u->persist_seq;
            w->fill_bytes = size;
            pthread_cond_signal(&w->work);
        } else {
            w->err = rc; /* the batch is half built: it must never be written */
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void raft_writer_stop(struct raft_writer *w)
{
    if (w == NULL || w->joined)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    uv_thread_join(&w->thread);
    w->joined = true;
}

bool raft_writer_stopped(const struct raft_writer *w)
{
    return w == NULL || w->joined;
}

void raft_writer_free(struct raft_writer *w)
{
    if (w == NULL)
        return;
    raft_writer_stop(w);
    pthread_cond_destroy(&w->room);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    pl_store_batch_close(&w->batches[0]);
    pl_store_batch_close(&w->batches[1]);
    free(w);
}
