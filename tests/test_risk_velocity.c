/*
 * test_risk_velocity.c - velocity tables: bucket rollover, time jumps,
 * out-of-order events, failures, LRU eviction at the cap, bounded memory
 * under a flood, exact and estimated distinct counts, entry size, SipHash.
 */
#include "risk/risk_velocity.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- allocation faults: linked with -Wl,--wrap=malloc,--wrap=calloc, so
 * the allocations of this binary's own objects (not libc's or the shared
 * libraries') come here; a test fails the Nth one, SQLite-style. ---------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);

static unsigned long fail_at; /* fail the fail_at-th allocation; 0 = off */

static bool fail_now(void)
{
    return fail_at && --fail_at == 0;
}

void *__wrap_malloc(size_t size)
{
    return fail_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

/* A day boundary, so every window's buckets start at T. */
#define T ((int64_t)19675 * 86400000)
#define SEC ((int64_t)1000)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define HASH64_PINNED 0x0535a5d80f885c86ULL

static struct risk_vtable_opts std_opts(uint32_t cap, bool distinct)
{
    struct risk_vtable_opts o = {
        .windows_s = {60, 3600, 86400},
        .n_windows = 3,
        .buckets = 12,
        .cap = cap,
        .track_distinct = distinct,
        .distinct_exact = 16,
    };
    return o;
}

static struct risk_vtable *new_table(uint32_t cap, bool distinct)
{
    struct risk_vtable_opts o = std_opts(cap, distinct);
    struct risk_vtable *t = NULL;

    assert_int_equal(risk_vtable_new(&o, &t), LR_OK);
    assert_non_null(t);
    return t;
}

static struct risk_vcounts hit(struct risk_vtable *t, const char *key,
                               int64_t ms, bool failure, uint64_t member)
{
    struct risk_vcounts c;

    assert_int_equal(
        risk_vtable_hit(t, key, strlen(key), ms, failure, member, &c), LR_OK);
    return c;
}

static uint64_t member(uint64_t i)
{
    return risk_hash64(&i, sizeof(i), 42);
}

static void test_risk_vtable_hit_counts_each_window(void **state)
{
    struct risk_vtable *t = new_table(16, false);
    struct risk_vcounts c;

    (void)state;
    hit(t, "k", T, false, 0);
    hit(t, "k", T + 30 * MIN, true, 0);
    hit(t, "k", T + 2 * HOUR, true, 0);
    c = hit(t, "k", T + 2 * HOUR + 10 * SEC, false, 0);
    assert_int_equal(c.attempts[0], 2); /* last minute */
    assert_int_equal(c.failures[0], 1);
    assert_int_equal(c.attempts[1], 2); /* last hour */
    assert_int_equal(c.attempts[2], 4); /* last day */
    assert_int_equal(c.failures[2], 2);
    assert_int_equal(c.distinct[2], 0); /* not tracked */
    risk_vtable_free(t);
}

static void test_risk_vtable_hit_bucket_rollover(void **state)
{
    struct risk_vtable *t = new_table(16, false);
    struct risk_vcounts c;

    (void)state;
    /* 60 s in 12 buckets of 5 s */
    hit(t, "k", T, false, 0);
    hit(t, "k", T + 30 * SEC, false, 0);
    c = hit(t, "k", T + 59999, false, 0);
    assert_int_equal(c.attempts[0], 3);
    /* the bucket of T leaves the window when the 13th bucket starts */
    c = hit(t, "k", T + 60 * SEC, false, 0);
    assert_int_equal(c.attempts[0], 3);
    c = hit(t, "k", T + 64999, false, 0);
    assert_int_equal(c.attempts[0], 4);
    /* T + 30 s (bucket 6) leaves when bucket 18 starts */
    c = hit(t, "k", T + 90 * SEC, false, 0);
    assert_int_equal(c.attempts[0], 4);
    assert_int_equal(c.attempts[1], 6);
    risk_vtable_free(t);
}

static void test_risk_vtable_hit_whole_window_jump(void **state)
{
    struct risk_vtable *t = new_table(16, false);
    struct risk_vcounts c;

    (void)state;
    for (int i = 0; i < 10; i++) {
        hit(t, "k", T + i * SEC, true, 0);
    }
    /* past the minute and a bit: only the hour and day remember */
    c = hit(t, "k", T + 2 * MIN, false, 0);
    assert_int_equal(c.attempts[0], 1);
    assert_int_equal(c.attempts[1], 11);
    /* more than a window on every ring, and far past it */
    c = hit(t, "k", T + 2 * DAY + 7 * SEC, true, 0);
    for (int w = 0; w < 3; w++) {
        assert_int_equal(c.attempts[w], 1);
        assert_int_equal(c.failures[w], 1);
    }
    c = hit(t, "k", T + 400 * DAY, false, 0);
    assert_int_equal(c.attempts[2], 1);
    assert_int_equal(c.failures[2], 0);
    risk_vtable_free(t);
}

static void test_risk_vtable_hit_out_of_order(void **state)
{
    struct risk_vtable *t = new_table(16, true);
    struct risk_vcounts c;

    (void)state;
    hit(t, "k", T + 100 * SEC, false, member(1));
    /* 10 s late: still in every window */
    c = hit(t, "k", T + 90 * SEC, true, member(2));
    assert_int_equal(c.attempts[0], 2);
    assert_int_equal(c.failures[0], 1);
    assert_int_equal(c.distinct[0], 2);
    /* 70 s late: out of the minute, in the hour and the day */
    c = hit(t, "k", T + 30 * SEC, true, member(3));
    assert_int_equal(c.attempts[0], 2);
    assert_int_equal(c.attempts[1], 3);
    assert_int_equal(c.failures[1], 2);
    assert_int_equal(c.distinct[0], 2);
    assert_int_equal(c.distinct[1], 3);
    /* older than the longest window: dropped, member too */
    c = hit(t, "k", T + 100 * SEC - 2 * DAY, true, member(4));
    assert_int_equal(c.attempts[2], 3);
    assert_int_equal(c.failures[2], 2);
    assert_int_equal(c.distinct[2], 3);
    risk_vtable_free(t);
}

static void test_risk_vtable_peek_slides_without_recording(void **state)
{
    struct risk_vtable *t = new_table(16, true);
    struct risk_vcounts c;

    (void)state;
    risk_vtable_peek(t, "k", 1, T, &c);
    assert_int_equal(c.attempts[2], 0);
    hit(t, "k", T, true, member(1));
    hit(t, "k", T + 50 * SEC, false, member(2));
    risk_vtable_peek(t, "k", 1, T + 61 * SEC, &c);
    assert_int_equal(c.attempts[0], 1);
    assert_int_equal(c.failures[0], 0);
    assert_int_equal(c.distinct[0], 1);
    assert_int_equal(c.attempts[1], 2);
    assert_int_equal(c.distinct[1], 2);
    risk_vtable_peek(t, "k", 1, T + 50 * SEC, &c);
    assert_int_equal(c.attempts[0], 2);
    assert_int_equal(c.failures[0], 1);
    risk_vtable_peek(t, "k", 1, T + 3 * DAY, &c);
    assert_int_equal(c.attempts[2], 0);
    assert_int_equal(c.distinct[2], 0);
    assert_int_equal(risk_vtable_size(t), 1);
    risk_vtable_free(t);
}

static void test_risk_vtable_clear_failures_keeps_attempts(void **state)
{
    struct risk_vtable *t = new_table(16, false);
    struct risk_vcounts c;

    (void)state;
    for (int i = 0; i < 5; i++) {
        hit(t, "acct", T + i * SEC, true, 0);
    }
    risk_vtable_clear_failures(t, "acct", 4);
    risk_vtable_clear_failures(t, "unknown", 7);
    risk_vtable_peek(t, "acct", 4, T + 5 * SEC, &c);
    for (int w = 0; w < 3; w++) {
        assert_int_equal(c.attempts[w], 5);
        assert_int_equal(c.failures[w], 0);
    }
    c = hit(t, "acct", T + 6 * SEC, true, 0);
    assert_int_equal(c.failures[0], 1);
    assert_int_equal(c.attempts[0], 6);
    risk_vtable_free(t);
}

static void test_risk_vtable_hit_evicts_unused_first(void **state)
{
    struct risk_vtable *t = new_table(3, false);
    struct risk_vcounts c;

    (void)state;
    hit(t, "a", T, false, 0);
    hit(t, "b", T, false, 0);
    hit(t, "c", T, false, 0);
    hit(t, "a", T + 1, false, 0); /* a is now the most recent */
    hit(t, "d", T + 2, false, 0); /* b, least recent, goes */
    assert_int_equal(risk_vtable_size(t), 3);
    assert_int_equal(risk_vtable_evictions(t), 1);
    risk_vtable_peek(t, "b", 1, T + 2, &c);
    assert_int_equal(c.attempts[2], 0);
    risk_vtable_peek(t, "a", 1, T + 2, &c);
    assert_int_equal(c.attempts[2], 2);
    hit(t, "e", T + 3, false, 0); /* then c */
    risk_vtable_peek(t, "c", 1, T + 3, &c);
    assert_int_equal(c.attempts[2], 0);
    risk_vtable_peek(t, "a", 1, T + 3, &c);
    assert_int_equal(c.attempts[2], 2);
    assert_int_equal(risk_vtable_evictions(t), 2);
    /* an evicted key comes back fresh */
    c = hit(t, "b", T + 4, false, 0);
    assert_int_equal(c.attempts[2], 1);
    assert_int_equal(risk_vtable_evictions(t), 3);
    risk_vtable_free(t);
}

static void test_risk_vtable_hit_flood_does_not_grow(void **state)
{
    const uint32_t cap = 10000;
    struct risk_vtable *t = new_table(cap, true);
    struct risk_vcounts c;
    uint64_t x = 0x1234567;
    size_t mem_full = 0;

    (void)state;
    for (uint32_t i = 0; i < 1000000; i++) {
        uint8_t key[17] = {6};

        for (int j = 1; j < 17; j += 8) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            memcpy(key + j, &x, 8);
        }
        assert_int_equal(
            risk_vtable_hit(t, key, sizeof(key), T + i, true, member(i), &c),
            LR_OK);
        assert_int_equal(c.attempts[0], 1);
        if (i == cap - 1) {
            mem_full = risk_vtable_mem_bytes(t);
        }
    }
    assert_int_equal(risk_vtable_size(t), cap);
    assert_int_equal(risk_vtable_evictions(t), 1000000 - cap);
    assert_int_equal(risk_vtable_mem_bytes(t), mem_full);
    assert_true(risk_vtable_mem_bytes(t) <=
                (size_t)cap * risk_vtable_entry_bytes(t));
    risk_vtable_free(t);
}

/* ---- against a model: every event kept, the documented rules applied -- */

#define MODEL_EVENTS 3000

struct mevent {
    int64_t ms;
    bool failure;
    uint64_t member;
    bool counted[3]; /* its bucket was in the window when it came */
};

static const int64_t mwidth[3] = {2000, 12000, 60000}; /* 10/60/300 s / 5 */

static int64_t mbucket(int w, int64_t ms)
{
    return ms / mwidth[w];
}

/* The model's counts at @p ref (>= every event's time that moved newest). */
static void model_counts(const struct mevent *ev, int n, int64_t ref,
                         struct risk_vcounts *c)
{
    memset(c, 0, sizeof(*c));
    for (int w = 0; w < 3; w++) {
        int64_t oldest = mbucket(w, ref) - 5 + 1;
        int64_t last_seen[12];

        for (int m = 0; m < 12; m++) {
            last_seen[m] = -1;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].counted[w] && mbucket(w, ev[i].ms) >= oldest) {
                c->attempts[w]++;
                c->failures[w] += ev[i].failure;
            }
            /* members: the latest time seen within the longest window,
             * at the resolution of the shortest bucket (2 s) */
            if (ev[i].counted[2] && ev[i].ms > last_seen[ev[i].member]) {
                last_seen[ev[i].member] = ev[i].ms;
            }
        }
        for (int m = 0; m < 12; m++) {
            int64_t at = last_seen[m] - last_seen[m] % 2000;

            c->distinct[w] += last_seen[m] >= 0 && mbucket(w, at) >= oldest;
        }
    }
}

static int64_t model_step(uint64_t *x, int64_t newest)
{
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t r = *x >> 33;

    if (r % 50 == 0) {
        return newest + 200000 + (int64_t)(r % 400000); /* a long quiet */
    }
    if (r % 5 == 0) {
        return newest - (int64_t)(r % 100000); /* up to 100 s late */
    }
    return newest + (int64_t)(r % 9000);
}

static void test_risk_vtable_hit_matches_model(void **state)
{
    struct risk_vtable_opts o = {
        .windows_s = {10, 60, 300},
        .n_windows = 3,
        .buckets = 5,
        .cap = 4,
        .track_distinct = true,
        .distinct_exact = 16,
    };
    struct mevent *ev = calloc(MODEL_EVENTS, sizeof(*ev));
    struct risk_vtable *t = NULL;
    struct risk_vcounts got, want;
    int64_t newest = T;
    uint64_t x = 7;

    (void)state;
    assert_non_null(ev);
    assert_int_equal(risk_vtable_new(&o, &t), LR_OK);
    for (int i = 0; i < MODEL_EVENTS; i++) {
        int64_t ms = model_step(&x, newest);

        newest = ms > newest ? ms : newest;
        ev[i] = (struct mevent){ms, (x >> 20) & 1, (x >> 24) % 12, {0}};
        for (int w = 0; w < 3; w++) {
            ev[i].counted[w] = mbucket(w, ms) > mbucket(w, newest) - 5;
        }
        assert_int_equal(risk_vtable_hit(t, "k", 1, ms, ev[i].failure,
                                         member(ev[i].member), &got),
                         LR_OK);
        model_counts(ev, i + 1, newest, &want);
        assert_memory_equal(&got, &want, sizeof(got));
        int64_t later = newest + (int64_t)((x >> 40) % 400000);

        risk_vtable_peek(t, "k", 1, later, &got);
        model_counts(ev, i + 1, later, &want);
        assert_memory_equal(&got, &want, sizeof(got));
    }
    risk_vtable_free(t);
    free(ev);
}

static void test_risk_vtable_hit_hot_keys_survive_flood(void **state)
{
    struct risk_vtable *t = new_table(1000, false);
    struct risk_vcounts c;
    char key[32];

    (void)state;
    for (int round = 0; round < 1000; round++) {
        for (int k = 0; k < 100; k++) {
            snprintf(key, sizeof(key), "hot-%d", k);
            c = hit(t, key, T + round, false, 0);
            assert_int_equal(c.attempts[2], round + 1);
        }
        for (int k = 0; k < 100; k++) {
            snprintf(key, sizeof(key), "flood-%d-%d", round, k);
            hit(t, key, T + round, false, 0);
        }
    }
    assert_int_equal(risk_vtable_size(t), 1000);
    assert_true(risk_vtable_evictions(t) >= 100000 - 1000);
    risk_vtable_free(t);
}

static void test_risk_vtable_distinct_exact_then_estimated(void **state)
{
    struct risk_vtable *t = new_table(16, true);
    struct risk_vcounts c;

    (void)state;
    for (uint64_t i = 0; i < 6; i++) {
        c = hit(t, "ip", T + (int64_t)i, true, member(i));
        hit(t, "ip", T + (int64_t)i, true, member(i)); /* repeats: no more */
    }
    for (int w = 0; w < 3; w++) {
        assert_int_equal(c.distinct[w], 6);
    }
    /* past distinct_exact: estimates, within 35% */
    static const uint32_t sizes[] = {7, 20, 100, 1000, 5000};
    uint64_t next = 6;

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (; next < sizes[s]; next++) {
            c = hit(t, "ip", T + 10 * SEC, true, member(next));
        }
        for (int w = 0; w < 3; w++) {
            double err = ((double)c.distinct[w] - sizes[s]) / sizes[s];

            assert_true(err > -0.35 && err < 0.35);
        }
    }
    risk_vtable_free(t);
}

static void test_risk_vtable_distinct_slides_per_window(void **state)
{
    struct risk_vtable *t = new_table(16, true);
    struct risk_vcounts c;

    (void)state;
    hit(t, "acct", T, false, member(1));
    c = hit(t, "acct", T + 61 * SEC, false, member(2));
    assert_int_equal(c.distinct[0], 1);
    assert_int_equal(c.distinct[1], 2);
    assert_int_equal(c.distinct[2], 2);
    /* member 1 again refreshes its last-seen time */
    c = hit(t, "acct", T + 62 * SEC, false, member(1));
    assert_int_equal(c.distinct[0], 2);
    risk_vtable_free(t);
}

static void test_risk_vtable_distinct_back_to_exact(void **state)
{
    struct risk_vtable *t = new_table(16, true);
    struct risk_vcounts c;

    (void)state;
    for (uint64_t i = 0; i < 200; i++) {
        c = hit(t, "dev", T + (int64_t)i, false, member(i));
    }
    assert_true(c.distinct[2] > 100);
    /* two quiet days rotate every sketch out: exact counting again */
    c = hit(t, "dev", T + 3 * DAY, false, member(7));
    for (int w = 0; w < 3; w++) {
        assert_int_equal(c.distinct[w], 1);
    }
    c = hit(t, "dev", T + 3 * DAY, false, member(8));
    assert_int_equal(c.distinct[0], 2);
    risk_vtable_free(t);
}

static void test_risk_vtable_hit_saturates_16_bit_counts(void **state)
{
    struct risk_vtable *t = new_table(100000, false);
    struct risk_vcounts c;

    (void)state;
    for (int i = 0; i < 70000; i++) {
        c = hit(t, "asn", T, true, 0);
    }
    assert_int_equal(c.attempts[0], 65535);
    assert_int_equal(c.failures[2], 65535);
    c = hit(t, "asn", T + 5 * SEC, false, 0);
    assert_int_equal(c.attempts[0], 65536);
    risk_vtable_free(t);
}

static void test_risk_vtable_wide_counts_for_small_tables(void **state)
{
    struct risk_vtable *t = new_table(1, false);
    struct risk_vcounts c;

    (void)state;
    for (int i = 0; i < 70000; i++) {
        c = hit(t, "", T, true, 0);
    }
    assert_int_equal(c.attempts[0], 70000);
    risk_vtable_free(t);
}

static void test_risk_vtable_hit_long_keys(void **state)
{
    struct risk_vtable *t = new_table(16, false);
    struct risk_vcounts c;
    char a[65], b[65];

    (void)state;
    memset(a, 'x', 64);
    memcpy(b, a, 64);
    b[63] = 'y';
    c = hit(t, "short", T, false, 0);
    assert_int_equal(risk_vtable_hit(t, a, 64, T, false, 0, &c), LR_OK);
    assert_int_equal(risk_vtable_hit(t, a, 64, T, false, 0, &c), LR_OK);
    assert_int_equal(c.attempts[0], 2);
    assert_int_equal(risk_vtable_hit(t, b, 64, T, false, 0, &c), LR_OK);
    assert_int_equal(c.attempts[0], 1);
    /* same bytes, other length: another key */
    assert_int_equal(risk_vtable_hit(t, a, 40, T, false, 0, &c), LR_OK);
    assert_int_equal(c.attempts[0], 1);
    assert_int_equal(risk_vtable_size(t), 4);
    assert_int_equal(risk_vtable_hit(t, a, 65, T, false, 0, &c), LR_INVALID);
    assert_int_equal(risk_vtable_hit(t, NULL, 3, T, false, 0, &c), LR_INVALID);
    risk_vtable_free(t);
}

static void test_risk_vtable_new_rejects_bad_opts(void **state)
{
    struct risk_vtable *t = NULL;
    struct risk_vtable_opts o;

    (void)state;
    o = std_opts(16, true);
    o.n_windows = 0;
    assert_int_equal(risk_vtable_new(&o, &t), LR_INVALID);
    o = std_opts(16, true);
    o.windows_s[1] = 60; /* not ascending */
    assert_int_equal(risk_vtable_new(&o, &t), LR_INVALID);
    o = std_opts(16, true);
    o.buckets = 0;
    assert_int_equal(risk_vtable_new(&o, &t), LR_INVALID);
    o = std_opts(0, true);
    assert_int_equal(risk_vtable_new(&o, &t), LR_INVALID);
    o = std_opts(16, true);
    o.distinct_exact = 4097;
    assert_int_equal(risk_vtable_new(&o, &t), LR_INVALID);
    o = std_opts(16, true);
    o.windows_s[0] = 0;
    assert_int_equal(risk_vtable_new(&o, &t), LR_INVALID);
    assert_int_equal(risk_vtable_new(NULL, &t), LR_INVALID);
    assert_null(t);
    risk_vtable_free(NULL);
    /* the largest the config accepts */
    o = std_opts(4, true);
    o.distinct_exact = 4096;
    o.buckets = 3600;
    o.windows_s[2] = 2592000;
    assert_int_equal(risk_vtable_new(&o, &t), LR_OK);
    risk_vtable_free(t);
}

static void test_risk_vtable_entry_bytes_at_most_256(void **state)
{
    /* 43691 ends exactly at a head-array doubling (fewest heads per key),
     * 87382 just past one (most heads per key) */
    static const uint32_t caps[] = {100000,  1000000, 1u << 20,
                                    5000000, 43691,   87382};

    (void)state;
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        struct risk_vtable *t = new_table(caps[i], true);

        assert_true(risk_vtable_entry_bytes(t) <= 256);
        print_message("cap %u: %zu bytes per key\n", caps[i],
                      risk_vtable_entry_bytes(t));
        risk_vtable_free(t);
    }
}

static void test_risk_vtable_new_out_of_memory(void **state)
{
    struct risk_vtable_opts o = std_opts(5000, true);

    (void)state;
    for (unsigned long k = 1;; k++) {
        struct risk_vtable *t = NULL;
        int rc;

        fail_at = k;
        rc = risk_vtable_new(&o, &t);
        if (fail_at) { /* k is past the last allocation */
            fail_at = 0;
            assert_int_equal(rc, LR_OK);
            risk_vtable_free(t);
            break;
        }
        assert_int_equal(rc, LR_NOMEM);
        assert_null(t);
    }
}

static void test_risk_vtable_hit_out_of_memory(void **state)
{
    struct risk_vtable *t = new_table(5000, false);
    struct risk_vcounts c = {.attempts = {7}};
    uint32_t k;

    (void)state;
    for (k = 0; k < 1024; k++) {
        assert_int_equal(risk_vtable_hit(t, &k, sizeof(k), T, false, 0, &c),
                         LR_OK);
    }
    /* the 1025th key needs the second slab */
    c.attempts[0] = 7;
    fail_at = 1;
    assert_int_equal(risk_vtable_hit(t, &k, sizeof(k), T, false, 0, &c),
                     LR_NOMEM);
    assert_int_equal(c.attempts[0], 7); /* out untouched */
    assert_int_equal(risk_vtable_size(t), 1024);
    assert_int_equal(risk_vtable_hit(t, &k, sizeof(k), T, false, 0, &c), LR_OK);
    assert_int_equal(risk_vtable_size(t), 1025);
    risk_vtable_free(t);
}

static void test_risk_hash64_stable(void **state)
{
    uint8_t key[16], msg[64];

    (void)state;
    for (int i = 0; i < 16; i++) {
        key[i] = (uint8_t)i;
    }
    for (int i = 0; i < 64; i++) {
        msg[i] = (uint8_t)i;
    }
    /* the SipHash-2-4 paper's vectors (key 00..0f, message 00..len-1) */
    assert_true(risk_siphash24(msg, 0, key) == 0x726fdb47dd0e0e31ULL);
    assert_true(risk_siphash24(msg, 1, key) == 0x74f839c593dc67fdULL);
    assert_true(risk_siphash24(msg, 2, key) == 0x0d6c8009d9a94f5aULL);
    assert_true(risk_siphash24(msg, 15, key) == 0xa129ca6149be45e5ULL);
    /* pinned: counters in a shared store must agree across builds */
    assert_true(risk_hash64("alice", 5, 1) == risk_hash64("alice", 5, 1));
    assert_true(risk_hash64("alice", 5, 1) != risk_hash64("alice", 5, 2));
    assert_true(risk_hash64("alice", 5, 1) != risk_hash64("alicf", 5, 1));
    assert_true(risk_hash64(msg, 15, 0x0706050403020100ULL) == HASH64_PINNED);
}

static void assert_tag(const struct risk_vid *v, const uint8_t want[16])
{
    uint8_t got[16];

    for (int i = 0; i < 8; i++) {
        got[i] = (uint8_t)(v->w[0] >> (8 * i));
        got[8 + i] = (uint8_t)(v->w[1] >> (8 * i));
    }
    assert_memory_equal(got, want, 16);
}

static void test_risk_siphash24_128_vectors(void **state)
{
    /* the reference implementation's vectors_sip128 (key 00..0f, message
     * 00..len-1), for lengths 0, 1, 7, 8, 15 and 16 */
    static const struct {
        size_t len;
        uint8_t tag[16];
    } v[] = {
        {0,
         {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72,
          0x14, 0xc7, 0x55, 0x02, 0x93}},
        {1,
         {0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59,
          0x11, 0x9b, 0x22, 0xfc, 0x45}},
        {7,
         {0xa1, 0xf1, 0xeb, 0xbe, 0xd8, 0xdb, 0xc1, 0x53, 0xc0, 0xb8, 0x4a,
          0xa6, 0x1f, 0xf0, 0x82, 0x39}},
        {8,
         {0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61, 0x0f, 0x83, 0xe2,
          0x64, 0xf3, 0x14, 0x97, 0xb4}},
        {15,
         {0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11, 0x7e, 0x08, 0xec,
          0x0f, 0x97, 0xcf, 0xc3, 0xd9}},
        {16,
         {0x6e, 0xe2, 0xa4, 0xca, 0x67, 0xb0, 0x54, 0xbb, 0xfd, 0x33, 0x15,
          0xbf, 0x85, 0x23, 0x05, 0x77}},
    };
    uint8_t key[16], msg[64];
    struct risk_vid a, b;

    (void)state;
    for (int i = 0; i < 16; i++) {
        key[i] = (uint8_t)i;
    }
    for (int i = 0; i < 64; i++) {
        msg[i] = (uint8_t)i;
    }
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        risk_siphash24_128(msg, v[i].len, key, &a);
        assert_tag(&a, v[i].tag);
    }
    risk_vid_of("alice", 5, 1, &a);
    risk_vid_of("alice", 5, 1, &b);
    assert_memory_equal(&a, &b, sizeof(a));
    risk_vid_of("alice", 5, 2, &b);
    assert_memory_not_equal(&a, &b, sizeof(a));
}

/* By digest: only the wanted counts are summed, and they are the ones a
 * full read gives; two digests never share counts. */
static void test_risk_vtable_hit_id_wanted_counts_only(void **state)
{
    struct risk_vtable *t = new_table(16, true);
    struct risk_vid a = {{1, 2}}, b = {{1, 3}};
    struct risk_vcounts c, all;

    (void)state;
    for (uint64_t i = 0; i < 5; i++) {
        assert_int_equal(risk_vtable_hit_id(t, &a, T + (int64_t)i * MIN,
                                            i % 2 == 0, member(i), 0, &c),
                         LR_OK);
    }
    assert_int_equal(
        risk_vtable_hit_id(t, &a, T + 5 * MIN, true, member(0),
                           RISK_VC_ATT(0) | RISK_VC_FAIL(1) | RISK_VC_DIST(2),
                           &c),
        LR_OK);
    risk_vtable_peek_id(t, &a, T + 5 * MIN, RISK_VC_ALL, &all);
    assert_int_equal(all.attempts[1], 6);
    assert_int_equal(all.failures[1], 4);
    assert_int_equal(all.distinct[2], 5);
    assert_int_equal(c.attempts[0], all.attempts[0]);
    assert_int_equal(c.failures[1], all.failures[1]);
    assert_int_equal(c.distinct[2], all.distinct[2]);
    assert_int_equal(c.attempts[1] + c.attempts[2] + c.failures[0], 0);
    assert_int_equal(c.failures[2] + c.distinct[0] + c.distinct[1], 0);
    risk_vtable_peek_id(t, &b, T + 5 * MIN, RISK_VC_ALL, &c);
    assert_int_equal(c.attempts[2], 0);
    risk_vtable_clear_failures_id(t, &a);
    risk_vtable_peek_id(t, &a, T + 5 * MIN, RISK_VC_FAIL(2), &c);
    assert_int_equal(c.failures[2], 0);
    risk_vtable_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_risk_vtable_hit_counts_each_window),
        cmocka_unit_test(test_risk_vtable_hit_bucket_rollover),
        cmocka_unit_test(test_risk_vtable_hit_whole_window_jump),
        cmocka_unit_test(test_risk_vtable_hit_out_of_order),
        cmocka_unit_test(test_risk_vtable_peek_slides_without_recording),
        cmocka_unit_test(test_risk_vtable_clear_failures_keeps_attempts),
        cmocka_unit_test(test_risk_vtable_hit_evicts_unused_first),
        cmocka_unit_test(test_risk_vtable_hit_flood_does_not_grow),
        cmocka_unit_test(test_risk_vtable_hit_matches_model),
        cmocka_unit_test(test_risk_vtable_hit_hot_keys_survive_flood),
        cmocka_unit_test(test_risk_vtable_distinct_exact_then_estimated),
        cmocka_unit_test(test_risk_vtable_distinct_slides_per_window),
        cmocka_unit_test(test_risk_vtable_distinct_back_to_exact),
        cmocka_unit_test(test_risk_vtable_hit_saturates_16_bit_counts),
        cmocka_unit_test(test_risk_vtable_wide_counts_for_small_tables),
        cmocka_unit_test(test_risk_vtable_hit_long_keys),
        cmocka_unit_test(test_risk_vtable_new_rejects_bad_opts),
        cmocka_unit_test(test_risk_vtable_entry_bytes_at_most_256),
        cmocka_unit_test(test_risk_vtable_new_out_of_memory),
        cmocka_unit_test(test_risk_vtable_hit_out_of_memory),
        cmocka_unit_test(test_risk_hash64_stable),
        cmocka_unit_test(test_risk_siphash24_128_vectors),
        cmocka_unit_test(test_risk_vtable_hit_id_wanted_counts_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
