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

struct job {
    char *key;
    uint8_t *val;
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
            pl_store_batch_put(w->store, &b, PL_CF_INCIDENTS, batch[i].key, strlen(batch[i].key),
                               batch[i].val, batch[i].len);
            if (batch[i].ticket > top)
                top = batch[i].ticket;
        }
        int rc = pl_store_batch_commit(w->store, &b);
        for (int i = 0; i < n; i++)
            job_free(&batch[i]);

        pthread_mutex_lock(&w->mu);
        if (top > w->durable_ticket)
            w->durable_ticket = top;
        if (rc != 0)
            w->last_err = rc;
        uv_async_send(&w->async);
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
    pthread_cond_init(&w->cv, NULL);
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

int heal_writer_put(struct heal_writer *w, const char *key, const uint8_t *val, size_t len,
                    uint64_t *ticket)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, val, len);
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    int i = 0;
    while (i < w->n && strcmp(w->queue[i].key, key) != 0)
        i++;
    if (i < w->n) {
        /* The newer record of the same incident replaces the one not yet written. */
        free(w->queue[i].val);
        w->queue[i].val = copy;
        w->queue[i].len = len;
        w->queue[i].ticket = ++w->next_ticket;
    } else if (w->n == HEAL_WRITER_PENDING_MAX) {
        rc = PL_EFULL;
    } else {
        char *k = strdup(key);
        if (k == NULL) {
            rc = -ENOMEM;
        } else {
            w->queue[w->n++] = (struct job){.key = k, .val = copy, .len = len,
                                            .ticket = ++w->next_ticket};
        }
    }
    if (rc == 0) {
        *ticket = w->next_ticket;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc != 0)
        free(copy);
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
