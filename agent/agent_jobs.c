/*
 * agent_jobs.c - the bounded pool for blocking work (see agent_jobs.h).
 *
 * A fixed ring of job slots under one mutex: submit never allocates and
 * never waits, and free runs what is already queued before the threads
 * stop, so a call handed to the pool is always finished.
 */
#include "agent/agent_jobs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define AGENT_JOBS_THREADS_MAX 64
#define AGENT_JOBS_QUEUE_MAX 65536

struct agent_job {
    agent_job_fn fn;
    void *arg;
};

struct agent_jobs {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct agent_job *ring;
    size_t cap;
    size_t head;
    size_t len;
    bool stopping;
    pthread_t threads[AGENT_JOBS_THREADS_MAX];
    unsigned n_threads;
};

static void *agent_jobs_main(void *arg)
{
    struct agent_jobs *j = arg;

    pthread_mutex_lock(&j->mu);
    for (;;) {
        struct agent_job job;
        while (j->len == 0 && !j->stopping)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->len == 0)
            break; /* stopping and nothing left */
        job = j->ring[j->head];
        j->head = (j->head + 1) % j->cap;
        j->len--;
        pthread_mutex_unlock(&j->mu);
        job.fn(job.arg);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int agent_jobs_new(unsigned threads, unsigned queue, struct agent_jobs **out)
{
    struct agent_jobs *j;
    int rc = LR_OK;

    if (threads == 0 || threads > AGENT_JOBS_THREADS_MAX || queue == 0 ||
        queue > AGENT_JOBS_QUEUE_MAX)
        return LR_INVALID;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return LR_NOMEM;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->cap = queue;
    j->ring = calloc(queue, sizeof(*j->ring));
    if (j->ring == NULL) {
        rc = LR_NOMEM;
        goto out;
    }
    for (; j->n_threads < threads; j->n_threads++) {
        if (pthread_create(&j->threads[j->n_threads], NULL, agent_jobs_main,
                           j) != 0) {
            rc = LR_INTERNAL;
            goto out;
        }
    }
    *out = j;
    j = NULL;
out:
    agent_jobs_free(j);
    return rc;
}

int agent_jobs_submit(struct agent_jobs *j, agent_job_fn fn, void *arg)
{
    int rc = LR_OK;

    pthread_mutex_lock(&j->mu);
    if (j->stopping) {
        rc = LR_SHUTDOWN;
    } else if (j->len == j->cap) {
        rc = LR_BUSY;
    } else {
        j->ring[(j->head + j->len) % j->cap] = (struct agent_job){fn, arg};
        j->len++;
        pthread_cond_signal(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

size_t agent_jobs_queued(struct agent_jobs *j)
{
    size_t n;

    pthread_mutex_lock(&j->mu);
    n = j->len;
    pthread_mutex_unlock(&j->mu);
    return n;
}

void agent_jobs_free(struct agent_jobs *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->mu);
    j->stopping = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (unsigned i = 0; i < j->n_threads; i++)
        pthread_join(j->threads[i], NULL);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->ring);
    free(j);
}
