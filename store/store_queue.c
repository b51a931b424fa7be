/*
 * store_queue.c - the bounded queue in front of the writer thread.
 *
 * Profile and history writes come from gRPC threads that must never wait on
 * disk, so they are pushed into a fixed ring of pointers and one thread
 * commits them: as soon as `trigger` records wait, or at the latest
 * STORE_QUEUE_LINGER_MS after the previous commit, or at once when someone
 * flushes or stops. A commit takes everything waiting, up to `txn_max`:
 * random-key index inserts cost a page write each, so under load larger
 * transactions (more rows per dirty page) are what keeps up. When the ring
 * is full a push drops its record and counts it: the queue never blocks a
 * caller and never grows.
 *
 * Flushing uses two counters: every accepted push increments `pushed`, every
 * record the writer finishes (committed or failed) increments `done`. Both
 * follow the ring's FIFO order, so a flusher waits for done >= pushed-at-call.
 * The commit callback may hold rows back (history rows wait in the open
 * batch, store.c), so a flush is also a request (`flush_req`) that the
 * writer answers (`flush_done`) after a commit told to write everything.
 * The callback also runs with no records on every wake-up, so rows it holds
 * back can be written when they are due.
 */
#include "store/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define STORE_QUEUE_LINGER_MS 50

struct store_queue {
    pthread_mutex_t mu;
    pthread_cond_t work; /* the writer waits here */
    pthread_cond_t done_cv;
    struct store_rec **ring;
    size_t cap, head, len, trigger, txn_max;
    uint64_t pushed, done, dropped, failed_batches;
    uint64_t flush_req, flush_done;
    bool stop;
    store_queue_commit_fn commit;
    store_queue_tick_fn tick;
    void *ctx;
    struct store_rec **taken; /* the writer's batch, txn_max entries */
    pthread_t thread;
};

static void store_deadline(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_nsec += ms * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

/* Waits (mutex held) until a batch is due; false when stopped and empty. */
static bool store_queue_wait(struct store_queue *q)
{
    struct timespec until;

    store_deadline(&until, STORE_QUEUE_LINGER_MS);
    while (!q->stop && q->flush_req == q->flush_done && q->len < q->trigger) {
        if (pthread_cond_timedwait(&q->work, &q->mu, &until) == ETIMEDOUT)
            break;
    }
    return !(q->stop && q->len == 0);
}

/*
 * Commits up to one batch (maybe none: the callback still runs); called and
 * returns with the mutex held. A flush or stop pending makes the last
 * chunk write everything the callback holds back, and answers the flush.
 */
static void store_queue_drain_one(struct store_queue *q)
{
    size_t n = q->len < q->txn_max ? q->len : q->txn_max;
    uint64_t req = q->flush_req, lost = 0;
    bool flush = (q->stop || req != q->flush_done) && n == q->len;
    int rc;

    for (size_t i = 0; i < n; i++) {
        q->taken[i] = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
    }
    q->len -= n;
    pthread_mutex_unlock(&q->mu);
    rc = q->commit(q->ctx, q->taken, n, flush, &lost);
    for (size_t i = 0; i < n; i++)
        free(q->taken[i]);
    pthread_mutex_lock(&q->mu);
    q->done += n;
    q->dropped += lost;
    if (rc)
        q->failed_batches++;
    if (flush)
        q->flush_done = req;
    pthread_cond_broadcast(&q->done_cv);
}

static void *store_queue_main(void *arg)
{
    struct store_queue *q = arg;
    uint64_t lost = 0;

    pthread_mutex_lock(&q->mu);
    while (store_queue_wait(q)) {
        store_queue_drain_one(q);
        pthread_mutex_unlock(&q->mu);
        q->tick(q->ctx);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    /* Stopped and empty: what the callback still holds goes out now. */
    if (q->commit(q->ctx, NULL, 0, true, &lost) != LR_OK) {
        pthread_mutex_lock(&q->mu);
        q->dropped += lost;
        q->failed_batches++;
        pthread_mutex_unlock(&q->mu);
    }
    return NULL;
}

static int store_queue_init_sync(struct store_queue *q)
{
    pthread_condattr_t attr;
    int rc = LR_NOMEM;

    if (pthread_condattr_init(&attr) != 0)
        return LR_NOMEM;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&q->mu, NULL) != 0)
        goto out;
    if (pthread_cond_init(&q->work, &attr) != 0) {
        pthread_mutex_destroy(&q->mu);
        goto out;
    }
    if (pthread_cond_init(&q->done_cv, NULL) != 0) {
        pthread_cond_destroy(&q->work);
        pthread_mutex_destroy(&q->mu);
        goto out;
    }
    rc = LR_OK;
out:
    pthread_condattr_destroy(&attr);
    return rc;
}

int store_queue_start(size_t cap, size_t trigger, size_t txn_max,
                      store_queue_commit_fn commit, store_queue_tick_fn tick,
                      void *ctx, struct store_queue **out)
{
    struct store_queue *q = NULL;
    int rc = LR_NOMEM;

    if (cap == 0 || trigger == 0 || txn_max < trigger)
        return LR_INVALID;
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return LR_NOMEM;
    q->cap = cap;
    q->trigger = trigger;
    q->txn_max = txn_max;
    q->commit = commit;
    q->tick = tick;
    q->ctx = ctx;
    q->ring = calloc(cap, sizeof(*q->ring));
    q->taken = calloc(txn_max, sizeof(*q->taken));
    if (q->ring == NULL || q->taken == NULL)
        goto fail;
    rc = store_queue_init_sync(q);
    if (rc)
        goto fail;
    if (pthread_create(&q->thread, NULL, store_queue_main, q) != 0) {
        pthread_cond_destroy(&q->done_cv);
        pthread_cond_destroy(&q->work);
        pthread_mutex_destroy(&q->mu);
        rc = LR_NOMEM;
        goto fail;
    }
    *out = q;
    return LR_OK;
fail:
    free(q->taken);
    free(q->ring);
    free(q);
    return rc;
}

int store_queue_push(struct store_queue *q, struct store_rec *r)
{
    int rc = LR_OK;

    pthread_mutex_lock(&q->mu);
    if (q->stop) {
        rc = LR_SHUTDOWN;
    } else if (q->len == q->cap) {
        q->dropped++;
        rc = LR_FULL;
    } else {
        q->ring[(q->head + q->len) % q->cap] = r;
        q->len++;
        q->pushed++;
        if (q->len == q->trigger)
            pthread_cond_signal(&q->work);
    }
    pthread_mutex_unlock(&q->mu);
    if (rc)
        free(r);
    return rc;
}

int store_queue_flush(struct store_queue *q)
{
    uint64_t target, failed, mine;
    int rc;

    pthread_mutex_lock(&q->mu);
    target = q->pushed;
    failed = q->failed_batches;
    mine = ++q->flush_req;
    pthread_cond_signal(&q->work);
    while (q->done < target || q->flush_done < mine)
        pthread_cond_wait(&q->done_cv, &q->mu);
    rc = q->failed_batches != failed ? LR_STORE : LR_OK;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void store_queue_stop(struct store_queue *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    pthread_cond_destroy(&q->done_cv);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->mu);
    free(q->taken);
    free(q->ring);
    free(q);
}

uint64_t store_queue_dropped(struct store_queue *q)
{
    uint64_t n;

    pthread_mutex_lock(&q->mu);
    n = q->dropped;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t store_queue_len(struct store_queue *q)
{
    size_t n;

    pthread_mutex_lock(&q->mu);
    n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}
