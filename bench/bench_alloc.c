/*
 * bench_alloc.c - counting replacements of the C allocator (see
 * bench_alloc.h).
 *
 * glibc exports its allocator under __libc_malloc and friends, so a
 * replacement can forward to it without dlsym (which itself allocates and
 * would recurse). Only the benchmark links this file.
 */
#include "bench/bench_alloc.h"

#ifndef BENCH_NO_ALLOC_HOOKS

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

static _Atomic uint64_t ba_allocs;
static _Atomic uint64_t ba_reallocs;
static _Atomic uint64_t ba_frees;
static _Atomic int64_t ba_live;
static _Atomic int64_t ba_peak;

static void ba_add(int64_t delta)
{
    int64_t now =
        atomic_fetch_add_explicit(&ba_live, delta, memory_order_relaxed) +
        delta;
    int64_t peak = atomic_load_explicit(&ba_peak, memory_order_relaxed);

    while (now > peak && !atomic_compare_exchange_weak_explicit(
                             &ba_peak, &peak, now, memory_order_relaxed,
                             memory_order_relaxed)) {
    }
}

static void *ba_note_new(void *p)
{
    if (p) {
        atomic_fetch_add_explicit(&ba_allocs, 1, memory_order_relaxed);
        ba_add((int64_t)malloc_usable_size(p));
    }
    return p;
}

void *malloc(size_t n)
{
    return ba_note_new(__libc_malloc(n));
}

void *calloc(size_t n, size_t size)
{
    return ba_note_new(__libc_calloc(n, size));
}

void free(void *p)
{
    if (p == NULL) {
        return;
    }
    atomic_fetch_add_explicit(&ba_frees, 1, memory_order_relaxed);
    ba_add(-(int64_t)malloc_usable_size(p));
    __libc_free(p);
}

void *realloc(void *p, size_t n)
{
    int64_t old;
    void *q;

    if (p == NULL) {
        return ba_note_new(__libc_malloc(n));
    }
    old = (int64_t)malloc_usable_size(p);
    q = __libc_realloc(p, n);
    if (q == NULL) {
        /* realloc(p, 0) may free p and return NULL */
        if (n == 0) {
            atomic_fetch_add_explicit(&ba_frees, 1, memory_order_relaxed);
            ba_add(-old);
        }
        return NULL;
    }
    atomic_fetch_add_explicit(&ba_reallocs, 1, memory_order_relaxed);
    ba_add((int64_t)malloc_usable_size(q) - old);
    return q;
}

void *memalign(size_t align, size_t n)
{
    return ba_note_new(__libc_memalign(align, n));
}

void *aligned_alloc(size_t align, size_t n)
{
    return ba_note_new(__libc_memalign(align, n));
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p;

    if (align < sizeof(void *) || (align & (align - 1)) != 0) {
        return EINVAL;
    }
    p = ba_note_new(__libc_memalign(align, n));
    if (p == NULL) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}

bool bench_alloc_enabled(void)
{
    return true;
}

void bench_alloc_get(struct bench_alloc_counts *out)
{
    out->allocs = atomic_load(&ba_allocs);
    out->reallocs = atomic_load(&ba_reallocs);
    out->frees = atomic_load(&ba_frees);
    out->live_bytes = atomic_load(&ba_live);
    out->peak_bytes = atomic_load(&ba_peak);
}

void bench_alloc_reset_peak(void)
{
    atomic_store(&ba_peak, atomic_load(&ba_live));
}

#else /* BENCH_NO_ALLOC_HOOKS */

#include <string.h>

bool bench_alloc_enabled(void)
{
    return false;
}

void bench_alloc_get(struct bench_alloc_counts *out)
{
    memset(out, 0, sizeof(*out));
}

void bench_alloc_reset_peak(void)
{
}

#endif
