/*
 * bench_hist.c - the log-linear histogram (see bench_hist.h).
 *
 * Index layout: [0, SUB) holds values 0..SUB-1 exactly. A value v >= SUB
 * with highest set bit e (e >= SUB_BITS) goes to
 * SUB + (e - SUB_BITS) * SUB + (the SUB_BITS bits under the top bit).
 * So each bucket above the exact range spans 2^(e - SUB_BITS) values.
 */
#include "bench/bench_hist.h"

#include <math.h>
#include <string.h>

void bench_hist_reset(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

static unsigned hist_index(uint64_t v)
{
    unsigned e;
    unsigned sub;

    if (v < BENCH_HIST_SUB) {
        return (unsigned)v;
    }
    e = 63u - (unsigned)__builtin_clzll(v);
    if (e > BENCH_HIST_MAX_EXP) {
        return BENCH_HIST_BUCKETS - 1;
    }
    sub = (unsigned)(v >> (e - BENCH_HIST_SUB_BITS)) & (BENCH_HIST_SUB - 1);
    return BENCH_HIST_SUB + (e - BENCH_HIST_SUB_BITS) * BENCH_HIST_SUB + sub;
}

/* Highest value that maps to bucket @p i. */
static uint64_t hist_upper(unsigned i)
{
    unsigned e;
    uint64_t sub;
    uint64_t width;

    if (i < BENCH_HIST_SUB) {
        return i;
    }
    e = (i - BENCH_HIST_SUB) / BENCH_HIST_SUB + BENCH_HIST_SUB_BITS;
    sub = (i - BENCH_HIST_SUB) % BENCH_HIST_SUB;
    width = (uint64_t)1 << (e - BENCH_HIST_SUB_BITS);
    return ((BENCH_HIST_SUB + sub) << (e - BENCH_HIST_SUB_BITS)) + width - 1;
}

void bench_hist_record(struct bench_hist *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v < h->min) {
        h->min = v;
    }
    if (v > h->max) {
        h->max = v;
    }
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    size_t i;

    for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
        dst->counts[i] += src->counts[i];
    }
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->min < dst->min) {
        dst->min = src->min;
    }
    if (src->max > dst->max) {
        dst->max = src->max;
    }
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
    uint64_t rank;
    uint64_t seen = 0;
    unsigned i;

    if (h->total == 0) {
        return 0;
    }
    if (q <= 0.0) {
        return h->min;
    }
    rank = (uint64_t)ceil(q * (double)h->total);
    if (rank < 1) {
        rank = 1;
    }
    for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_upper(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
    if (h->total == 0) {
        return 0.0;
    }
    return h->sum / (double)h->total;
}
