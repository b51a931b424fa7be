/*
 * agent_jobs.h - a small bounded pool of threads for work that may block.
 *
 * The completion-queue threads also drive gRPC's network I/O, so nothing
 * that may wait on a disk (a lock made durable with fsync, an audit row) or
 * burn milliseconds of CPU runs on them. Such handlers decode and validate
 * on the worker, then hand the rest to this pool, whose thread finishes the
 * call. The queue is bounded: a full pool answers LR_BUSY at once and the
 * handler turns that into RESOURCE_EXHAUSTED, never an unbounded queue.
 */
#ifndef LR_AGENT_JOBS_H
#define LR_AGENT_JOBS_H

#include "lr/lr.h"

#include <stddef.h>

#define AGENT_JOBS_THREADS 2 /* default threads */
#define AGENT_JOBS_QUEUE 256 /* default jobs waiting before LR_BUSY */

struct agent_jobs;

/** One job: runs once on a pool thread. */
typedef void (*agent_job_fn)(void *arg);

/**
 * Starts @p threads threads (1..64) with room for @p queue waiting jobs
 * (1..65536). LR_INVALID, LR_NOMEM, LR_INTERNAL (a thread did not start).
 * Free with agent_jobs_free().
 */
LR_WUR int agent_jobs_new(unsigned threads, unsigned queue,
                          struct agent_jobs **out);

/**
 * Queues @p fn(@p arg). LR_BUSY when the queue is full and LR_SHUTDOWN once
 * the pool is stopping; then nothing is queued and @p fn never runs. Any
 * thread.
 */
LR_WUR int agent_jobs_submit(struct agent_jobs *j, agent_job_fn fn, void *arg);

/** Jobs waiting now (for metrics). */
size_t agent_jobs_queued(struct agent_jobs *j);

/**
 * Refuses new jobs, runs every job already queued, joins the threads and
 * frees the pool. NULL is a no-op.
 */
void agent_jobs_free(struct agent_jobs *j);

#endif
