/*
 * loadgen.h - internal to the load generator: the gRPC engine
 * (loadgen_run.c) and the command line and reports (loadgen.c).
 *
 * The engine keeps C channels open to one agent (each with its own
 * subchannel pool, so they are really C connections) and, per run, starts T
 * threads, each with its own completion queue and a share of the N call
 * slots. A slot always has one call in flight: when its call completes, the
 * thread records it and starts the next on the same channel, at once or,
 * with a rate, when the next call is due.
 */
#ifndef LR_BENCH_LOADGEN_H
#define LR_BENCH_LOADGEN_H

#include "bench/bench_hist.h"
#include "bench/bench_model.h"
#include "lr/lr.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Hard caps on the command line's numbers. */
#define BENCH_LG_INFLIGHT_MAX 100000u
#define BENCH_LG_CONNECTIONS_MAX 1024u
#define BENCH_LG_THREADS_MAX 64u
#define BENCH_LG_DURATION_MAX 86400.0
#define BENCH_LG_PROBES_MAX 10000u
#define BENCH_LG_RATE_MAX 10000000.0
#define BENCH_LG_ROUNDS_MAX 1000u

enum bench_method {
    BENCH_METHOD_HEALTH = 0,
    BENCH_METHOD_EVALUATE = 1,
};

/* Error classes: the gRPC status codes 1..16, then local ones. */
enum bench_err {
    BENCH_ERR_LOCAL = 17,        /* the call could not be started */
    BENCH_ERR_BAD_RESPONSE = 18, /* OK status but an undecodable message */
    BENCH_ERR_NOT_SERVING = 19,  /* Health/Check answered NOT_SERVING */
    BENCH_ERR_COUNT = 20
};

struct bench_lg_opts {
    const char *target;
    double duration_s;
    double warmup_s;
    uint32_t inflight;
    uint32_t connections;
    uint32_t threads;
    uint32_t timeout_ms;
    uint64_t count; /* > 0: stop after this many calls, not after duration */
    double rate;    /* > 0: start at most this many calls/s (open loop, with
                       latency counted from when each call was due) */
    struct bench_model_opts model;
    int only_kind; /* -1 = the mix, else one enum bench_kind */
    int agent_pid; /* > 0: also measure that process's CPU time */
};

/* Actions as in loginrisk.v1.Action, 0..4. */
#define BENCH_ACTIONS 5

struct bench_lg_result {
    struct bench_hist hist; /* latency of OK calls, nanoseconds */
    uint64_t ok;
    uint64_t errors[BENCH_ERR_COUNT]; /* index: status code or bench_err */
    uint64_t actions[BENCH_KIND_COUNT][BENCH_ACTIONS];
    double seconds;      /* length of the measured window */
    double client_cpu_s; /* this process, user + system, in the window */
    double agent_cpu_s;  /* the agent's, in the window; < 0 = unknown */
};

struct bench_lg;

/**
 * Creates the channels and waits (up to 10 s, or timeout_ms if longer)
 * until each is connected.
 * LR_INVALID for bad options, LR_IO when the target cannot be reached,
 * LR_NOMEM. Free with bench_lg_free().
 */
LR_WUR int bench_lg_new(const struct bench_lg_opts *opts,
                        struct bench_lg **out);

/** Closes the channels. NULL is a no-op. */
void bench_lg_free(struct bench_lg *lg);

/**
 * Runs @p method: warm-up, then the measured window (or --count calls),
 * then waits for the calls in flight. Fills *@p out.
 * LR_NOMEM or LR_INTERNAL when threads cannot start.
 */
LR_WUR int bench_lg_run(struct bench_lg *lg, enum bench_method method,
                        struct bench_lg_result *out);

/** An empty result, ready for bench_lg_result_add(). */
void bench_lg_result_init(struct bench_lg_result *r);

/** Adds @p src (another window of the same method) into @p dst. */
void bench_lg_result_add(struct bench_lg_result *dst,
                         const struct bench_lg_result *src);

/**
 * Sends the probe users 0..@p n-1 (bench_model_probe_login) one at a time
 * and writes one line per user to @p f: "account ACTION score CODE,CODE".
 * LR_GRPC when a call fails (the line says why).
 */
LR_WUR int bench_lg_probe(struct bench_lg *lg, uint32_t n, FILE *f);

/** "OK", "CANCELLED", ..., "LOCAL", "BAD_RESPONSE", "NOT_SERVING". */
const char *bench_err_name(unsigned code);

/** "UNSPECIFIED", "ALLOW", "CAPTCHA", "CHALLENGE_2FA", "LOCK". */
const char *bench_action_name(unsigned action);

#endif
