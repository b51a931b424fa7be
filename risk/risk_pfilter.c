/*
 * risk_pfilter.c - which accounts have a profile on disk: a Bloom filter
 * read from the store when the engine starts, so a profile-cache miss for
 * an account that never logged in successfully costs no disk read.
 *
 * Why. Every account seen for the first time since the start misses the
 * profile cache, and most of them (attackers' guesses, users who never got
 * in) have no profile at all: each miss was a SQLite read on a gRPC thread
 * that found nothing. A filter answers "certainly not on disk" for them.
 *
 * Correctness. A Bloom filter has no false negatives, so an account whose
 * profile is on disk is always read. Every account on disk when the engine
 * starts is added (store_profile_ids), and every profile this engine saves
 * is added before its save is queued; nothing else writes profiles to the
 * embedded store. (A store shared by several agents would need each agent
 * to see the others' saves: such a backend must not use the filter.)
 * False positives only cost the read they would have cost anyway.
 *
 * Shape. Blocked: each account sets RISK_PF_K bits inside one 64-byte block
 * (one cache miss per question) chosen by a keyed hash of its id, the same
 * one that indexes the profile cache. The size is fixed at start, 16 bits
 * per account on disk plus limits.profile_cache, between 8 KiB and 16 MiB:
 * about 0.1% false positives at start, rising slowly as this engine saves
 * new profiles (about 1% at 10 bits per account); a restart resizes it.
 */
#include "risk/risk_internal.h"

#include <stdlib.h>
#include <string.h>

#define RISK_PF_K 7           /* bits per account */
#define RISK_PF_BLOCK_WORDS 8 /* 512-bit blocks */
#define RISK_PF_MIN_BITS (1u << 16)
#define RISK_PF_MAX_BITS (1u << 27)
#define RISK_PF_BITS_PER_KEY 16

struct risk_pfilter {
    uint64_t *words;
    uint64_t block_mask; /* blocks - 1 */
    uint64_t seed;
};

/* splitmix64's finaliser */
static uint64_t pf_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The block of @p h and the word/bit pairs of its RISK_PF_K bits. */
static uint64_t *pf_block(const struct risk_pfilter *f, uint64_t h,
                          uint64_t *bits)
{
    uint64_t g = pf_mix(h ^ 0x6a09e667f3bcc909ULL);

    *bits = pf_mix(g); /* 7 x 9 bits of positions in the block */
    return f->words + (g & f->block_mask) * RISK_PF_BLOCK_WORDS;
}

void risk_pfilter_add(struct risk_pfilter *f, uint64_t h)
{
    uint64_t q, *b = pf_block(f, h, &q);

    for (int i = 0; i < RISK_PF_K; i++, q >>= 9)
        b[(q & 511) >> 6] |= UINT64_C(1) << (q & 63);
}

bool risk_pfilter_maybe(const struct risk_pfilter *f, uint64_t h)
{
    uint64_t q;
    const uint64_t *b = pf_block(f, h, &q);

    for (int i = 0; i < RISK_PF_K; i++, q >>= 9) {
        if (!(b[(q & 511) >> 6] & (UINT64_C(1) << (q & 63))))
            return false;
    }
    return true;
}

/* The ids read at start, hashed, in a growing array. */
struct pf_ids {
    uint64_t *h;
    size_t n, cap;
    uint64_t seed;
    bool nomem;
};

static void pf_collect(const char *account_id, void *arg)
{
    struct pf_ids *ids = arg;
    uint64_t *v;

    if (ids->nomem)
        return;
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 1024;

        v = realloc(ids->h, cap * sizeof(*v));
        if (!v) {
            ids->nomem = true;
            return;
        }
        ids->h = v;
        ids->cap = cap;
    }
    ids->h[ids->n++] = risk_hash64(account_id, strlen(account_id), ids->seed);
}

static size_t pf_bits_for(size_t keys)
{
    size_t want = keys > RISK_PF_MAX_BITS / RISK_PF_BITS_PER_KEY
                      ? RISK_PF_MAX_BITS
                      : keys * RISK_PF_BITS_PER_KEY;
    size_t bits = RISK_PF_MIN_BITS;

    while (bits < want && bits < RISK_PF_MAX_BITS)
        bits *= 2;
    return bits;
}

int risk_pfilter_new(struct store *st, uint64_t seed, size_t extra,
                     struct risk_pfilter **out)
{
    struct pf_ids ids = {.seed = seed};
    struct risk_pfilter *f = NULL;
    size_t bits;
    int rc;

    rc = store_profile_ids(st, pf_collect, &ids);
    if (rc == LR_OK && ids.nomem)
        rc = LR_NOMEM;
    if (rc)
        goto out;
    rc = LR_NOMEM;
    bits = pf_bits_for(ids.n + extra);
    f = calloc(1, sizeof(*f));
    if (!f)
        goto out;
    f->words = calloc(bits / 64, sizeof(*f->words));
    if (!f->words)
        goto out;
    f->block_mask = bits / 64 / RISK_PF_BLOCK_WORDS - 1;
    f->seed = seed;
    for (size_t i = 0; i < ids.n; i++)
        risk_pfilter_add(f, ids.h[i]);
    lr_log(LR_LOG_INFO,
           "risk: %zu stored profiles, existence filter of %zu KiB", ids.n,
           bits / 8 / 1024);
    *out = f;
    f = NULL;
    rc = LR_OK;
out:
    risk_pfilter_free(f);
    free(ids.h);
    return rc;
}

void risk_pfilter_free(struct risk_pfilter *f)
{
    if (!f)
        return;
    free(f->words);
    free(f);
}

size_t risk_pfilter_bytes(const struct risk_pfilter *f)
{
    return f ? sizeof(*f) + (f->block_mask + 1) * RISK_PF_BLOCK_WORDS * 8 : 0;
}
