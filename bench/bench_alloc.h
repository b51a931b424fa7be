/*
 * bench_alloc.h - heap allocation counters for the engine benchmark.
 *
 * bench_alloc.c defines malloc, calloc, realloc, free and the aligned
 * variants in the benchmark binary itself; glibc lets an executable replace
 * them, and calls from every library (libmaxminddb, libc's own strdup, the
 * engine) then come here. Each call is counted and the bytes live are
 * tracked with malloc_usable_size(), then the call goes to glibc's
 * __libc_* implementation. Counters are atomic, so engine threads count
 * too. Under a sanitizer (BENCH_NO_ALLOC_HOOKS) nothing is replaced and
 * bench_alloc_enabled() is false.
 */
#ifndef LR_BENCH_ALLOC_H
#define LR_BENCH_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

struct bench_alloc_counts {
    uint64_t allocs;    /* malloc, calloc, aligned; realloc of NULL */
    uint64_t reallocs;  /* realloc of a live block */
    uint64_t frees;     /* free of a non-NULL pointer */
    int64_t live_bytes; /* usable bytes of the blocks now allocated */
    int64_t peak_bytes; /* highest live_bytes since the last reset */
};

/** True when the hooks are compiled in. */
bool bench_alloc_enabled(void);

/** A snapshot of the counters. */
void bench_alloc_get(struct bench_alloc_counts *out);

/** Sets peak_bytes to the current live_bytes. */
void bench_alloc_reset_peak(void);

#endif
