/*
 * agent_grpc.h - the gRPC-typed internals shared by agent_grpc.c (servers,
 * queues, workers) and agent_call.c (one call). Nothing else includes it:
 * the rest of the agent sees only agent.h.
 *
 * Threading: each worker owns one completion queue and is the only thread
 * that takes events from it, so a call's arrival and its completion are both
 * handled on its worker without locks. The call's pool of recycled objects is
 * worker-local for the same reason. Only agent_call_reply()/_fail() may run
 * on other threads (the blocking-work pool of ReportOutcome and the admin
 * calls); they touch nothing but the call itself.
 */
#ifndef LR_AGENT_GRPC_H
#define LR_AGENT_GRPC_H

#include "agent/agent.h"

#include <pthread.h>
#include <stdatomic.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>

struct agent_server;

/* One gRPC server: the listeners that share one set of services. */
struct agent_endpoint {
    grpc_server *server;
    unsigned services;                /* CFG_SVC_* bits */
    void *handles[AGENT_METHODS_MAX]; /* registered methods; NULL = off */
    char unix_paths[AGENT_LISTENERS_MAX][108]; /* to remove at stop */
    size_t n_unix;
    bool shut_down; /* its shutdown tag has come back */
};

struct agent_worker {
    struct agent_server *srv;
    grpc_completion_queue *cq;
    pthread_t thread;
    bool running;
    unsigned index;
    atomic_uint inflight;    /* calls arrived and not yet closed */
    struct agent_call *pool; /* recycled calls; worker thread only */
    size_t n_pool;
};

struct agent_server {
    struct agent_endpoint eps[AGENT_LISTENERS_MAX];
    size_t n_eps;
    struct agent_worker workers[AGENT_WORKERS_MAX];
    size_t n_workers;
    const struct agent_method *methods;
    size_t n_methods;
    void *ctx;
    void (*observe)(void *ctx, const char *path, int status,
                    int64_t duration_ns);
    size_t arena_limit; /* per call */
    size_t max_send;    /* bytes in one response */
    size_t max_recv;    /* request bytes, method without .bulk */
    size_t max_bulk;    /* request bytes, method with .bulk */
    atomic_uint max_inflight;
    atomic_bool stopping;     /* do not post new requests */
    atomic_uint posting;      /* agent_post()s between their stopping check and
                               * gRPC taking the request (see agent_post) */
    atomic_size_t live_calls; /* call objects out of the pools */
    grpc_completion_queue *shutdown_cq;
};

enum agent_call_state {
    AGENT_CALL_POSTED = 0, /* waiting for a client */
    AGENT_CALL_ACTIVE = 1, /* arrived; handler owns it */
    AGENT_CALL_CLOSING = 2 /* final batch started */
};

struct agent_call {
    struct agent_worker *w;
    struct agent_endpoint *ep;
    int method;       /* index into the server's table; -1 = any other method */
    atomic_int state; /* enum agent_call_state */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details; /* method = -1 only */
    grpc_byte_buffer *payload;
    uint8_t *req;
    size_t req_len;
    grpc_byte_buffer *resp;
    grpc_slice status_msg;
    bool has_status_msg;
    int cancelled;
    int status;         /* sent, for the observer */
    int64_t arrived_ns; /* lr_mono_ns() at arrival */
    atomic_bool finished;
    ProtobufCAllocator pb_alloc;
    struct agent_call *next; /* in the worker's pool */
    struct agent_arena arena;
};

/**
 * A clean call object for @p w; recycled from the worker's pool when
 * @p pooled (worker thread only), else new. NULL when out of memory.
 */
struct agent_call *agent_call_get(struct agent_worker *w, bool pooled);

/**
 * Releases everything the call holds; recycles the object into the worker's
 * pool when @p pooled (worker thread only), else frees it.
 */
void agent_call_put(struct agent_call *c, bool pooled);

/** Frees the worker's recycled calls (at stop). */
void agent_call_pool_free(struct agent_worker *w);

/**
 * A call has arrived (event success @p ok): checks the in-flight cap, the
 * deadline and the payload, copies the request and runs the handler.
 */
void agent_call_arrived(struct agent_call *c);

/** The final batch completed: drop the call. Worker thread. */
void agent_call_closed(struct agent_call *c);

#endif
