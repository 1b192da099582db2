/*
 * The incident writer of heal_writer.h: a queue under a mutex, one thread that takes the
 * whole queue as one synced WriteBatch, and a uv_async that reports the durable ticket.
 */
#include "heal_writer.h"

#include "pl_err.h"
#include "pl_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct job {
    enum pl_store_cf cf;
    uint8_t *key;
    size_t key_len;
    uint8_t *val; /* NULL: a delete */
    size_t len;
    uint64_t ticket;
};

struct heal_writer {
    struct pl_store *store;
    heal_writer_done_cb cb;
    void *data;
    uv_async_t async;
    uv_thread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    struct job queue[HEAL_WRITER_PENDING_MAX];
    int n;
    uint64_t next_ticket;     /* the last ticket handed out */
    uint64_t durable_ticket;  /* written (or failed) by the thread */
    int last_err;
    bool stop;
    /* loop thread only */
    uint64_t done_ticket;
    bool joined;
};

static void job_free(struct job *j)
{
    free(j->key);
    free(j->val);
}

static bool same_key(const struct job *a, const struct job *b)
{
    return a->cf == b->cf && a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* Puts a refused batch back in front of the queue (under mu); a job superseded by a newer
 * one of the same key, or past the queue's bound, is dropped. */
static void requeue(struct heal_writer *w, struct job *batch, int n)
{
    static struct job merged[HEAL_WRITER_PENDING_MAX];
    int m = 0;
    for (int i = 0; i < n; i++) {
        bool newer = false;
        for (int k = 0; k < w->n && !newer; k++)
            newer = same_key(&w->queue[k], &batch[i]);
        if (newer || m + w->n >= HEAL_WRITER_PENDING_MAX)
            job_free(&batch[i]);
        else
            merged[m++] = batch[i];
    }
    memcpy(merged + m, w->queue, (size_t)w->n * sizeof(merged[0]));
    w->n += m;
    memcpy(w->queue, merged, (size_t)w->n * sizeof(merged[0]));
}

static void writer_main(void *arg)
{
    struct heal_writer *w = arg;
    static struct job batch[HEAL_WRITER_PENDING_MAX];
    struct pl_store_batch b;
    pl_store_batch_init(&b);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->n == 0 && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->n == 0 && w->stop)
            break;
        int n = w->n;
        memcpy(batch, w->queue, (size_t)n * sizeof(batch[0]));
        w->n = 0;
        pthread_mutex_unlock(&w->mu);

        uint64_t top = 0;
        pl_store_batch_clear(&b);
        for (int i = 0; i < n; i++) {
            if (batch[i].val != NULL)
                pl_store_batch_put(w->store, &b, batch[i].cf, batch[i].key, batch[i].key_len,
                                   batch[i].val, batch[i].len);
            else
                pl_store_batch_delete(w->store, &b, batch[i].cf, batch[i].key, batch[i].key_len);
            if (batch[i].ticket > top)
                top = batch[i].ticket;
        }
        int rc = pl_store_batch_commit(w->store, &b);

        pthread_mutex_lock(&w->mu);
        if (rc != 0 && !w->stop) {
            /* The store refused the batch (a full disk): its writes go back in front of
             * what came meanwhile, except where a newer write of the same key supersedes
             * them, and are tried again after a pause. The actions waiting for them go
             * ahead (done below, with the error): healing must not wait for the disk. */
            requeue(w, batch, n);
            n = 0;
        }
        for (int i = 0; i < n; i++)
            job_free(&batch[i]);
        if (top > w->durable_ticket)
            w->durable_ticket = top;
        if (rc != 0)
            w->last_err = rc;
        uv_async_send(&w->async);
        if (rc != 0 && !w->stop) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until); /* the cv waits on it (see init) */
            until.tv_sec += 1;
            pthread_cond_timedwait(&w->cv, &w->mu, &until);
        }
    }
    pthread_mutex_unlock(&w->mu);
    pl_store_batch_close(&b);
}

static void async_cb(uv_async_t *a)
{
    struct heal_writer *w = a->data;
    pthread_mutex_lock(&w->mu);
    uint64_t t = w->durable_ticket;
    int err = w->last_err;
    w->last_err = 0;
    pthread_mutex_unlock(&w->mu);
    if (t <= w->done_ticket && err == 0)
        return;
    w->done_ticket = t;
    w->cb(w, t, err, w->data);
}

int heal_writer_new(uv_loop_t *loop, struct pl_store *store, heal_writer_done_cb cb, void *data,
                    struct heal_writer **out)
{
    struct heal_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->store = store;
    w->cb = cb;
    w->data = data;
    pthread_mutex_init(&w->mu, NULL);
    /* The retry pause is a duration: on CLOCK_MONOTONIC a step of the wall clock back
     * cannot stretch it. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* The thread touches the async handle only once a job was queued, after we return. */
    int rc = uv_thread_create(&w->thread, writer_main, w);
    if (rc != 0) {
        w->joined = true;
        heal_writer_free(w);
        return rc;
    }
    rc = uv_async_init(loop, &w->async, async_cb);
    if (rc != 0) {
        heal_writer_free(w);
        return rc;
    }
    w->async.data = w;
    *out = w;
    return 0;
}

static uint8_t *copy_bytes(const void *p, size_t n)
{
    uint8_t *c = malloc(n > 0 ? n : 1);
    if (c != NULL)
        memcpy(c, p, n);
    return c;
}

int heal_writer_submit(struct heal_writer *w, const struct heal_write *items, int n,
                       uint64_t *ticket)
{
    /* Copies first, outside the lock; a failure queues nothing. */
    struct job jobs[HEAL_WRITER_SUBMIT_MAX];
    if (n <= 0 || n > (int)(sizeof(jobs) / sizeof(jobs[0])))
        return PL_ETOOBIG;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct job){.cf = items[i].cf, .key_len = items[i].key_len,
                               .len = items[i].len};
        jobs[i].key = copy_bytes(items[i].key, items[i].key_len);
        jobs[i].val = items[i].del ? NULL : copy_bytes(items[i].val, items[i].len);
        if (jobs[i].key == NULL || (!items[i].del && jobs[i].val == NULL))
            rc = -ENOMEM;
    }
    pthread_mutex_lock(&w->mu);
    int fresh = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        bool queued = false;
        for (int k = 0; k < w->n && !queued; k++)
            queued = same_key(&w->queue[k], &jobs[i]);
        fresh += !queued;
    }
    if (rc == 0 && w->n + fresh > HEAL_WRITER_PENDING_MAX)
        rc = PL_EFULL;
    if (rc == 0) {
        uint64_t t = ++w->next_ticket;
        for (int i = 0; i < n; i++) {
            jobs[i].ticket = t;
            int k = 0;
            while (k < w->n && !same_key(&w->queue[k], &jobs[i]))
                k++;
            if (k < w->n) {
                /* A newer write of the same key replaces the one not yet on disk. */
                job_free(&w->queue[k]);
                w->queue[k] = jobs[i];
            } else {
                w->queue[w->n++] = jobs[i];
            }
        }
        *ticket = t;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc != 0)
        for (int i = 0; i < n; i++)
            job_free(&jobs[i]);
    return rc;
}

uint64_t heal_writer_done(const struct heal_writer *w)
{
    return w->done_ticket;
}

void heal_writer_stop(struct heal_writer *w)
{
    if (w == NULL || w->joined)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    uv_thread_join(&w->thread);
    w->joined = true;
}

void heal_writer_free(struct heal_writer *w)
{
    if (w == NULL)
        return;
    heal_writer_stop(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
