/*
 * bench_hist.h - a log-linear latency histogram in the manner of
 * HdrHistogram, for the load generator and the engine benchmark.
 *
 * Values (nanoseconds) below 2^BENCH_HIST_SUB_BITS are kept exactly; above,
 * each power of two is cut into 2^BENCH_HIST_SUB_BITS equal buckets, so a
 * recorded value is known to within 1/128 (0.8 %) of itself. The table is a
 * fixed array (no allocation while recording) and histograms of several
 * threads merge by adding counts.
 */
#ifndef LR_BENCH_HIST_H
#define LR_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
/* Highest exponent kept: 2^40 ns is about 18 minutes. */
#define BENCH_HIST_MAX_EXP 40
#define BENCH_HIST_BUCKETS                                                     \
    (BENCH_HIST_SUB +                                                          \
     (BENCH_HIST_MAX_EXP - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB)

/** Caller-allocated; zero it with bench_hist_reset() before use. */
struct bench_hist {
    uint64_t counts[BENCH_HIST_BUCKETS];
    uint64_t total;
    uint64_t min;
    uint64_t max;
    double sum;
};

/** Empties @p h. */
void bench_hist_reset(struct bench_hist *h);

/** Records one value; values past the range land in the last bucket. */
void bench_hist_record(struct bench_hist *h, uint64_t v);

/** Adds the counts of @p src into @p dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/**
 * The value at quantile @p q (0..1): the highest value equivalent to the
 * bucket that holds the rank ceil(q * total), capped at the maximum seen.
 * 0 for an empty histogram.
 */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

/** Mean of the recorded values; 0 for an empty histogram. */
double bench_hist_mean(const struct bench_hist *h);

#endif
