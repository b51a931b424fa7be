/*
 * risk_index.c - a fixed-capacity open-addressing index from a 64-bit key
 * hash to an element pointer, for the profile cache and the recent-decision
 * table.
 *
 * Why not uthash: a lookup that misses (every new request_id, every
 * account seen for the first time) walks a whole uthash chain, one cache
 * miss per element. Here the probe sequence is a run of 16-byte slots in
 * one array, so a lookup usually costs one cache line plus the element
 * whose hash matched. Linear probing at a load of at most one half, with
 * backward-shift deletion (no tombstones), keeps runs short under any
 * churn. Hashes are keyed by the caller, so chosen keys cannot pile up.
 */
#include "risk/risk_internal.h"

#include <stdlib.h>

static size_t slots_for(size_t cap)
{
    size_t n = 16;

    while (n < 2 * cap && n < ((size_t)1 << 40))
        n *= 2;
    return n;
}

int risk_index_init(struct risk_index *ix, size_t cap)
{
    size_t n = slots_for(cap);

    ix->slots = calloc(n, sizeof(*ix->slots));
    if (!ix->slots)
        return LR_NOMEM;
    ix->mask = n - 1;
    ix->n = 0;
    return LR_OK;
}

void risk_index_free(struct risk_index *ix)
{
    free(ix->slots);
    ix->slots = NULL;
    ix->mask = 0;
    ix->n = 0;
}

size_t risk_index_room(const struct risk_index *ix)
{
    return (ix->mask + 1) / 2;
}

void risk_index_prefetch(const struct risk_index *ix, uint64_t h)
{
    /* atomic loads: a grow may swap the array under its owner's lock, and
     * a stale pointer only prefetches a line for nothing */
    struct risk_islot *slots = __atomic_load_n(&ix->slots, __ATOMIC_RELAXED);
    size_t mask = __atomic_load_n(&ix->mask, __ATOMIC_RELAXED);

    if (slots)
        __builtin_prefetch(&slots[h & mask]);
}

void *risk_index_find(const struct risk_index *ix, uint64_t h,
                      bool (*eq)(const void *elem, const void *key),
                      const void *key)
{
    for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        const struct risk_islot *s = &ix->slots[i];

        if (!s->p)
            return NULL;
        if (s->h == h && eq(s->p, key))
            return s->p;
    }
}

static void put_slot(struct risk_index *ix, uint64_t h, void *p)
{
    size_t i = h & ix->mask;

    while (ix->slots[i].p)
        i = (i + 1) & ix->mask;
    ix->slots[i].h = h;
    ix->slots[i].p = p;
    ix->n++;
}

int risk_index_put(struct risk_index *ix, uint64_t h, void *p)
{
    if (ix->n >= risk_index_room(ix))
        return LR_FULL;
    put_slot(ix, h, p);
    return LR_OK;
}

/* True when @p k (an ideal slot) lies cyclically in (@p i, @p j]. */
static bool between(size_t i, size_t k, size_t j)
{
    return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

void risk_index_del(struct risk_index *ix, uint64_t h, const void *p)
{
    size_t i = h & ix->mask, j;

    while (ix->slots[i].p != p) {
        if (!ix->slots[i].p)
            return; /* not indexed */
        i = (i + 1) & ix->mask;
    }
    /* Backward shift: pull later members of the run into the hole unless
     * their ideal slot lies after it. */
    for (j = (i + 1) & ix->mask; ix->slots[j].p; j = (j + 1) & ix->mask) {
        if (between(i, ix->slots[j].h & ix->mask, j))
            continue;
        ix->slots[i] = ix->slots[j];
        i = j;
    }
    ix->slots[i].p = NULL;
    ix->slots[i].h = 0;
    ix->n--;
}

int risk_index_grow(struct risk_index *ix, size_t cap)
{
    struct risk_index nx;
    int rc;

    if (cap <= risk_index_room(ix))
        return LR_OK;
    rc = risk_index_init(&nx, cap);
    if (rc)
        return rc;
    for (size_t i = 0; i <= ix->mask; i++) {
        if (ix->slots[i].p)
            put_slot(&nx, ix->slots[i].h, ix->slots[i].p);
    }
    free(ix->slots);
    /* risk_index_prefetch() reads these two without the owner's lock */
    __atomic_store_n(&ix->slots, nx.slots, __ATOMIC_RELAXED);
    __atomic_store_n(&ix->mask, nx.mask, __ATOMIC_RELAXED);
    ix->n = nx.n;
    return LR_OK;
}
