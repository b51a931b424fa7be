/*
 * risk_velocity.h - internal to risk/: sliding-window counters keyed by
 * bytes, with a hard entry cap and least-recently-used eviction (CLOCK, an
 * approximation of LRU that keeps a hit free of list updates).
 *
 * One table per key kind (IP, /24 or /64 subnet, ASN, account, device, and a
 * one-key global table for the attack-wave baseline). Each key counts
 * attempts and failures per configured window (sub-window buckets, so a
 * window slides in steps of window/buckets) and, when asked, distinct members
 * (accounts per IP, IPs per account): exact up to a small cap, then an
 * estimate. A flood of random keys evicts the least recently used ones and
 * counts the evictions; memory never grows past the cap.
 *
 * Not thread-safe by itself: the engine serialises access per table.
 */
#ifndef LR_RISK_VELOCITY_H
#define LR_RISK_VELOCITY_H

#include "config/config.h"
#include "lr/lr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RISK_VKEY_MAX 64 /* longer keys are hashed by the caller */

struct risk_vtable;

struct risk_vtable_opts {
    uint32_t windows_s[CFG_WINDOWS_MAX]; /* ascending, e.g. 60, 3600, 86400 */
    int n_windows;
    uint32_t buckets;    /* per window, >= 1 */
    uint32_t cap;        /* hard entry cap, 1..2^28; <= 4096 => 32-bit counts,
                            else per-bucket counts saturate at 65535 */
    bool track_distinct; /* count distinct members too */
    uint32_t distinct_exact; /* exact up to this many (<= 64), then
                                estimate; see risk_velocity.c */
};

/**
 * A key as the tables see it: a 128-bit keyed digest (risk_vid_of). Callers
 * that look one key up in several tables, or already hold a secret-keyed
 * hash of it, make the digest once and use the *_id calls.
 */
struct risk_vid {
    uint64_t w[2];
};

/* Which counts a caller wants (risk_vtable_hit_id, risk_vtable_peek_id):
 * the others read 0 and are not summed. */
#define RISK_VC_ATT(w) (1u << (w))
#define RISK_VC_FAIL(w) (1u << (8 + (w)))
#define RISK_VC_DIST(w) (1u << (16 + (w)))
#define RISK_VC_ALL 0x00ffffffu

/** Counts of one key after an update, per window (index as in opts). */
struct risk_vcounts {
    uint32_t attempts[CFG_WINDOWS_MAX];
    uint32_t failures[CFG_WINDOWS_MAX];
    uint32_t distinct[CFG_WINDOWS_MAX]; /* 0 unless track_distinct */
};

/** Creates an empty table. LR_INVALID for bad opts, LR_NOMEM. */
LR_WUR int risk_vtable_new(const struct risk_vtable_opts *opts,
                           struct risk_vtable **out);

/** Frees the table and its entries. NULL is a no-op. */
void risk_vtable_free(struct risk_vtable *t);

/**
 * Records one event for @p key at @p now_ms: an attempt, a failure when
 * @p failure, and @p member (a 64-bit hash; ignored when the table does not
 * track distinct members) and writes the key's counts after the update to
 * @p out. Creates the key, evicting (approximately) the least recently used
 * one at the cap.
 * Events older than the newest seen for the key still count in the windows
 * they fall into, or are dropped if older than the longest window.
 * @p keylen <= RISK_VKEY_MAX, else LR_INVALID.
 */
LR_WUR int risk_vtable_hit(struct risk_vtable *t, const void *key,
                           size_t keylen, int64_t now_ms, bool failure,
                           uint64_t member, struct risk_vcounts *out);

/**
 * risk_vtable_hit() for a key given by its digest @p id, filling only the
 * counts in @p want (RISK_VC_*) and zeroing the rest.
 */
LR_WUR int risk_vtable_hit_id(struct risk_vtable *t, const struct risk_vid *id,
                              int64_t now_ms, bool failure, uint64_t member,
                              unsigned want, struct risk_vcounts *out);

/** risk_vtable_peek() by digest, the counts in @p want only. */
void risk_vtable_peek_id(struct risk_vtable *t, const struct risk_vid *id,
                         int64_t now_ms, unsigned want,
                         struct risk_vcounts *out);

/** risk_vtable_clear_failures() by digest. */
void risk_vtable_clear_failures_id(struct risk_vtable *t,
                                   const struct risk_vid *id);

/** The counts of @p key at @p now_ms without recording anything (zeros if
 * the key is unknown). */
void risk_vtable_peek(struct risk_vtable *t, const void *key, size_t keylen,
                      int64_t now_ms, struct risk_vcounts *out);

/** Forgets the failures of @p key (after a passed challenge). */
void risk_vtable_clear_failures(struct risk_vtable *t, const void *key,
                                size_t keylen);

/**
 * Starts loading the hash-chain head of @p id into the cache, and (second
 * call, later) the entry it names. Hints only: they change nothing, need no
 * lock, and may be called while other threads use the table.
 */
void risk_vtable_prefetch_head(const struct risk_vtable *t,
                               const struct risk_vid *id);
void risk_vtable_prefetch_entry(const struct risk_vtable *t,
                                const struct risk_vid *id);

/** Entries now, and entries evicted since creation. */
size_t risk_vtable_size(const struct risk_vtable *t);
uint64_t risk_vtable_evictions(const struct risk_vtable *t);

/** Bytes one entry takes (struct and key, plus the hash heads and slab
 * pointers spread over the cap), for the benchmarks. */
size_t risk_vtable_entry_bytes(const struct risk_vtable *t);

/** Bytes the table has allocated so far; never more than about
 * cap * risk_vtable_entry_bytes(). */
size_t risk_vtable_mem_bytes(const struct risk_vtable *t);

/** 64-bit keyed hash of @p len bytes (SipHash-2-4 keyed by @p seed and a
 * word derived from it), for members/keys. Stable across runs and builds. */
uint64_t risk_hash64(const void *p, size_t len, uint64_t seed);

/** SipHash-2-4 of @p len bytes under the 128-bit @p key (little-endian
 * words, as in the paper's test vectors). */
uint64_t risk_siphash24(const void *p, size_t len, const uint8_t key[16]);

/** SipHash-2-4 with its 128-bit output (the reference's vectors_sip128):
 * the first eight bytes of the tag in out->w[0], little-endian. */
void risk_siphash24_128(const void *p, size_t len, const uint8_t key[16],
                        struct risk_vid *out);

/** The digest of @p len key bytes under the 64-bit secret @p seed (and a
 * word derived from it): one SipHash-2-4-128 pass. */
void risk_vid_of(const void *p, size_t len, uint64_t seed,
                 struct risk_vid *out);

#endif
