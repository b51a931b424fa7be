/*
 * risk_velocity.c - sliding-window velocity tables with a hard entry cap.
 *
 * Shape. A table is a chained hash (through 32-bit entry numbers; one head
 * array of the next power of two >= cap/2, never rehashed) over fixed-size
 * entries allocated lazily in slabs of 1024, up to the cap. At the cap an
 * entry is evicted and reused in place, so a flood of random keys costs no
 * allocation and no growth: memory stays under cap * risk_vtable_entry_bytes().
 *
 * Eviction is CLOCK (second chance), an approximation of least recently
 * used that costs a hit nothing but setting a bit in the entry it already
 * holds: a doubly-linked LRU list would touch two more random cache lines
 * per hit, which is most of the cost of a hit in a table larger than the
 * cache. A new key starts unreferenced and a hit marks it; the hand sweeps
 * the entries in order, clearing marks, and evicts the first unmarked one,
 * so keys seen once (a flood) go before keys seen again. The sweep is capped
 * at 1024 entries per eviction (then the entry under the hand goes), so no
 * single hit pays for a whole lap.
 *
 * Keys. An entry holds a 128-bit digest of its key, not the key: the
 * 128-bit output of SipHash-2-4 (one pass) under a random per-table key, or
 * a digest the caller made once under its own secret key and hands to the
 * *_id calls (the engine looks one key up in several tables). Every key
 * kind (an IP, a subnet, an ASN, a 256-byte account) then costs the same 16
 * bytes. A false merge needs a collision of a secret 128-bit PRF: about
 * n^2 / 2^129 for n keys (1e-25 for ten million), and no one outside can aim
 * at one. Nothing needs the keys back: the table is only ever asked about a
 * key the caller holds.
 *
 * Windows. A window of W seconds has B buckets of W/B (in ms, rounded down)
 * holding saturating 16-bit attempt and failure counts (tables with cap <=
 * 4096, such as the global attack-wave table, use 32-bit counts). A bucket
 * is addressed by its absolute number floor(t / width) modulo B. When a key's
 * newest time moves forward, the buckets it passes over are zeroed (all of
 * them when it moves B buckets or more), so the ring always holds exactly
 * the buckets (head - B, head]. An older event goes to its bucket if that
 * bucket is still in the ring, per window, and is dropped otherwise. The
 * divisions by the fixed widths are multiplications by reciprocals
 * (Granlund and Montgomery) for times in [0, 2^62) ms.
 *
 * Distinct members. A member is a 64-bit hash from the caller, mixed once
 * more here. Up to distinct_exact members within the longest window are kept
 * as (16-bit fingerprint, 16-bit time unit) pairs: the unit is the shortest
 * window's bucket width (coarser only if the longest window exceeds 32,000
 * of them), and the time is kept modulo 2^16, unambiguous because members
 * older than the longest window are dropped each time the key moves forward.
 * That gives exact sliding counts per window, except when two members share
 * a fingerprint: an undercount of about n^2 / 131072 members (0.002 at 16).
 * One more member within the longest window switches the key to estimates,
 * replaying the members: per window, two HyperLogLog sketches of 16 four-bit
 * registers (one uint64 each), for the current and the previous period of W,
 * a sketch being cleared when its period comes round again. The window
 * estimate is E(cur) + (E(cur u prev) - E(cur)) * (1 - f), f the elapsed
 * fraction of the current period: the previous period's members not seen
 * since are taken as spread evenly over it (the sliding-window-counter
 * approximation). With 16 registers one sketch has a standard error of about
 * 26% (linear counting below 40 members; ranks saturate at 15, so estimates
 * top out near 500,000). When every sketch of a key has rotated out, the key
 * counts exactly again. Members and sketches share the same bytes.
 *
 * Layout with 3 windows x 12 buckets and distinct_exact 16: a 32-byte header
 * (hash chain, CLOCK mark, member count, newest time, digest), 144 bytes of
 * counts, 64 bytes of members or sketches: 240 bytes, plus 6 to 12 bytes
 * of hash heads per entry (1.5 to 3 heads per entry, so chains stay short).
 * risk_vtable_entry_bytes() reports the figure.
 */
#include "risk/risk_velocity.h"

#include <endian.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#define VSLAB_SHIFT 10
#define VSLAB_ENTRIES (1u << VSLAB_SHIFT)
#define VCAP_MAX (1u << 28)
#define VBUCKETS_MAX 4096
#define VWINDOW_S_MAX (400u * 86400u)
#define VEXACT_MAX 4096
#define VWIDE_CAP 4096
#define VUNITS_MAX 32000 /* longest window in member time units */
#define VCLOCK_SCAN 1024 /* marked entries passed per eviction, at most */
#define VSKETCH 0xffff   /* n_exact of a key counting with sketches */
#define VDIV_BITS 62     /* reciprocal division for 0 <= n < 2^62 */
#define HLL_M 16
#define HLL_RANK_MAX 15
#define HLL_ALPHA_MM (0.673 * HLL_M * HLL_M)

/* Entry header; counts and members follow at offsets kept in the table. */
struct vent {
    uint32_t hnext;   /* next entry number in the hash chain, 0 = none */
    uint16_t n_exact; /* exact members held, or VSKETCH */
    uint8_t mark;     /* CLOCK: hit since the hand last passed */
    uint8_t spare;
    int64_t newest_ms;
    uint64_t id[2]; /* 128-bit keyed digest of the key */
};

struct vmember {
    uint16_t h; /* top 16 bits of the mixed member hash */
    uint16_t t; /* last seen, in time units, modulo 2^16 */
};

/* Division by a constant d as a multiplication (Granlund-Montgomery). */
struct vdiv {
    int64_t d;
    uint64_t m;
    unsigned shift;
};

struct risk_vtable {
    struct risk_vtable_opts o;
    struct vdiv width[CFG_WINDOWS_MAX];  /* one bucket, ms */
    struct vdiv period[CFG_WINDOWS_MAX]; /* the whole window, ms */
    struct vdiv unit;                    /* member time unit, ms */
    struct vdiv nbuckets;
    uint64_t k[2]; /* the SipHash key of the byte-keyed calls */
    bool wide;     /* 32-bit counts */
    size_t esize;
    size_t fail_off; /* attempt counts start right after the header */
    size_t dist_off;
    size_t dist_bytes;
    uint32_t exact_cap; /* members kept exactly */
    uint8_t **slabs;
    uint32_t n_slabs;
    uint32_t *heads;
    uint32_t mask;
    uint32_t used; /* entries handed out, numbered 1..used */
    uint32_t hand; /* CLOCK hand, 1..cap */
    uint64_t evictions;
    size_t mem;
    double lc[HLL_M + 1];    /* linear counting: m ln(m / zeros) */
    double pair_sum[256];    /* 2^-lo + 2^-hi for a byte of two registers */
    uint8_t pair_zeros[256]; /* zero registers in that byte */
};

/* Where one key's windows stand at a reference time: per window, the
 * newest bucket held and the oldest bucket that counts. */
struct vview {
    int64_t head[CFG_WINDOWS_MAX];
    int64_t oldest[CFG_WINDOWS_MAX];
};

/* ---- SipHash-2-4 (Aumasson and Bernstein, 2012), from the paper -------- */

static uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

/* One SipRound; inlined by force, as a call per round costs more than it */
__attribute__((always_inline)) static inline void
sip_round(uint64_t *v0, uint64_t *v1, uint64_t *v2, uint64_t *v3)
{
    *v0 += *v1;
    *v1 = rotl64(*v1, 13);
    *v1 ^= *v0;
    *v0 = rotl64(*v0, 32);
    *v2 += *v3;
    *v3 = rotl64(*v3, 16);
    *v3 ^= *v2;
    *v0 += *v3;
    *v3 = rotl64(*v3, 21);
    *v3 ^= *v0;
    *v2 += *v1;
    *v1 = rotl64(*v1, 17);
    *v1 ^= *v2;
    *v2 = rotl64(*v2, 32);
}

static uint64_t load_le64(const uint8_t *p, size_t n)
{
    uint64_t x = 0;

    if (n == 8) {
        memcpy(&x, p, 8);
        return le64toh(x);
    }
    for (size_t i = 0; i < n; i++) {
        x |= (uint64_t)p[i] << (8 * i);
    }
    return x;
}

struct sip {
    uint64_t v0, v1, v2, v3;
};

/* Initialises and absorbs @p len bytes with two rounds per block; the last
 * block holds the tail and the length in its top byte. @p wide selects the
 * 128-bit output variant. */
static void sip_absorb(struct sip *s, const void *data, size_t len, uint64_t k0,
                       uint64_t k1, bool wide)
{
    const uint8_t *p = data;
    size_t full = len & ~(size_t)7;
    uint64_t m;

    s->v0 = k0 ^ 0x736f6d6570736575ULL;
    s->v1 = k1 ^ 0x646f72616e646f6dULL ^ (wide ? 0xee : 0);
    s->v2 = k0 ^ 0x6c7967656e657261ULL;
    s->v3 = k1 ^ 0x7465646279746573ULL;
    for (size_t i = 0; i <= full; i += 8) {
        m = i < full ? load_le64(p + i, 8)
                     : ((uint64_t)len << 56) | load_le64(p + i, len - full);
        s->v3 ^= m;
        sip_round(&s->v0, &s->v1, &s->v2, &s->v3);
        sip_round(&s->v0, &s->v1, &s->v2, &s->v3);
        s->v0 ^= m;
    }
}

/* Four finalisation rounds after xoring @p x into v2 (first word) or v1
 * (second word of the 128-bit output). */
static uint64_t sip_final(struct sip *s, uint64_t *lane, uint64_t x)
{
    *lane ^= x;
    for (int i = 0; i < 4; i++) {
        sip_round(&s->v0, &s->v1, &s->v2, &s->v3);
    }
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

static uint64_t sip24(const void *data, size_t len, uint64_t k0, uint64_t k1)
{
    struct sip s;

    sip_absorb(&s, data, len, k0, k1, false);
    return sip_final(&s, &s.v2, 0xff);
}

static void sip24_128(const void *data, size_t len, uint64_t k0, uint64_t k1,
                      struct risk_vid *out)
{
    struct sip s;

    sip_absorb(&s, data, len, k0, k1, true);
    out->w[0] = sip_final(&s, &s.v2, 0xee);
    out->w[1] = sip_final(&s, &s.v1, 0xdd);
}

uint64_t risk_siphash24(const void *p, size_t len, const uint8_t key[16])
{
    return sip24(p, len, load_le64(key, 8), load_le64(key + 8, 8));
}

void risk_siphash24_128(const void *p, size_t len, const uint8_t key[16],
                        struct risk_vid *out)
{
    sip24_128(p, len, load_le64(key, 8), load_le64(key + 8, 8), out);
}

/* the second key word is derived, so the secret is the 64-bit seed */
#define SIP_SEED_K1(seed) ((seed) ^ 0x9e3779b97f4a7c15ULL)

uint64_t risk_hash64(const void *p, size_t len, uint64_t seed)
{
    return sip24(p, len, seed, SIP_SEED_K1(seed));
}

void risk_vid_of(const void *p, size_t len, uint64_t seed, struct risk_vid *out)
{
    sip24_128(p, len, seed, SIP_SEED_K1(seed), out);
}

/* splitmix64's finaliser: spreads members the caller did not hash well */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- time arithmetic ---------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static void vdiv_init(struct vdiv *v, int64_t d)
{
    unsigned l = 0;

    while (((uint64_t)1 << l) < (uint64_t)d) {
        l++;
    }
    /* m = ceil(2^(N+l) / d) < 2^(N+1): exact for every n < 2^N */
    v->d = d;
    v->shift = VDIV_BITS + l;
    v->m = (uint64_t)((((unsigned __int128)1 << v->shift) + (uint64_t)d - 1) /
                      (uint64_t)d);
}

static int64_t vdiv_floor(const struct vdiv *v, int64_t n)
{
    if (n >= 0 && n < ((int64_t)1 << VDIV_BITS)) {
        return (int64_t)(((unsigned __int128)(uint64_t)n * v->m) >> v->shift);
    }
    return floor_div(n, v->d);
}

/* Ring slot of absolute bucket @p b. */
static uint32_t slot_of(const struct risk_vtable *t, int64_t b)
{
    return (uint32_t)(b - vdiv_floor(&t->nbuckets, b) * t->nbuckets.d);
}

static int64_t bucket_of(const struct risk_vtable *t, int w, int64_t ms)
{
    return vdiv_floor(&t->width[w], ms);
}

/* The buckets of @p e's windows that count at @p ref_ms >= newest. */
static void view_at(const struct risk_vtable *t, const struct vent *e,
                    int64_t ref_ms, struct vview *v)
{
    int64_t nb = t->o.buckets;

    for (int w = 0; w < t->o.n_windows; w++) {
        int64_t href;

        v->head[w] = bucket_of(t, w, e->newest_ms);
        href = ref_ms == e->newest_ms ? v->head[w] : bucket_of(t, w, ref_ms);
        v->oldest[w] = href - nb + 1;
    }
}

/* ---- creation ----------------------------------------------------------- */

static bool opts_valid(const struct risk_vtable_opts *o)
{
    if (o->n_windows < 1 || o->n_windows > CFG_WINDOWS_MAX) {
        return false;
    }
    if (o->buckets < 1 || o->buckets > VBUCKETS_MAX || o->cap < 1 ||
        o->cap > VCAP_MAX) {
        return false;
    }
    if (o->track_distinct && o->distinct_exact > VEXACT_MAX) {
        return false;
    }
    for (int w = 0; w < o->n_windows; w++) {
        uint32_t s = o->windows_s[w];

        if (s < 1 || s > VWINDOW_S_MAX || (uint64_t)s * 1000 < o->buckets) {
            return false;
        }
        if (w > 0 && s <= o->windows_s[w - 1]) {
            return false;
        }
    }
    return true;
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static void layout_times(struct risk_vtable *t)
{
    const struct risk_vtable_opts *o = &t->o;
    int64_t longest = (int64_t)o->windows_s[o->n_windows - 1] * 1000;
    int64_t unit;

    for (int w = 0; w < o->n_windows; w++) {
        int64_t p = (int64_t)o->windows_s[w] * 1000;

        vdiv_init(&t->period[w], p);
        vdiv_init(&t->width[w], p / o->buckets);
    }
    vdiv_init(&t->nbuckets, o->buckets);
    unit = t->width[0].d;
    if (longest / unit > VUNITS_MAX) {
        unit = (longest + VUNITS_MAX - 1) / VUNITS_MAX;
    }
    vdiv_init(&t->unit, unit);
}

static void layout_init(struct risk_vtable *t)
{
    const struct risk_vtable_opts *o = &t->o;
    size_t per = (size_t)o->n_windows * o->buckets * (t->wide ? 4 : 2);

    layout_times(t);
    t->fail_off = sizeof(struct vent) + per;
    t->dist_off = align8(t->fail_off + per);
    t->dist_bytes = 0;
    t->exact_cap = 0;
    if (o->track_distinct) {
        size_t exact = (size_t)o->distinct_exact * sizeof(struct vmember);
        size_t sketches = (size_t)o->n_windows * 2 * sizeof(uint64_t);

        t->exact_cap = o->distinct_exact;
        t->dist_bytes = align8(exact > sketches ? exact : sketches);
    }
    t->esize = t->dist_off + t->dist_bytes;
    for (int v = 1; v <= HLL_M; v++) {
        t->lc[v] = HLL_M * log((double)HLL_M / v);
    }
    for (int b = 0; b < 256; b++) {
        t->pair_sum[b] = ldexp(1.0, -(b & 15)) + ldexp(1.0, -(b >> 4));
        t->pair_zeros[b] = (uint8_t)(((b & 15) == 0) + ((b >> 4) == 0));
    }
}

int risk_vtable_new(const struct risk_vtable_opts *opts,
                    struct risk_vtable **out)
{
    struct risk_vtable *t = NULL;
    uint32_t nb = 1;
    int rc = LR_INVALID;

    if (!opts || !out || !opts_valid(opts)) {
        goto out;
    }
    rc = LR_NOMEM;
    t = calloc(1, sizeof(*t));
    if (!t) {
        goto out;
    }
    t->o = *opts;
    t->wide = opts->cap <= VWIDE_CAP;
    t->hand = 1;
    layout_init(t);
    /* at most two thirds of an entry per chain on average: each step past
     * the first is a cache miss the prefetch cannot see coming */
    while (nb < opts->cap + opts->cap / 2) {
        nb <<= 1;
    }
    t->mask = nb - 1;
    t->n_slabs = (opts->cap + VSLAB_ENTRIES - 1) >> VSLAB_SHIFT;
    t->heads = calloc(nb, sizeof(*t->heads));
    t->slabs = calloc(t->n_slabs, sizeof(*t->slabs));
    if (!t->heads || !t->slabs) {
        goto out;
    }
    t->mem = sizeof(*t) + (size_t)nb * sizeof(*t->heads) +
             (size_t)t->n_slabs * sizeof(*t->slabs);
    rc = LR_IO;
    if (getrandom(t->k, sizeof(t->k), 0) != (ssize_t)sizeof(t->k)) {
        goto out;
    }
    *out = t;
    t = NULL;
    rc = LR_OK;
out:
    risk_vtable_free(t);
    return rc;
}

void risk_vtable_free(struct risk_vtable *t)
{
    if (!t) {
        return;
    }
    for (uint32_t i = 0; t->slabs && i < t->n_slabs; i++) {
        free(t->slabs[i]);
    }
    free(t->slabs);
    free(t->heads);
    lr_wipe(t->k, sizeof(t->k));
    free(t);
}

/* ---- entries, chains, CLOCK --------------------------------------------- */

static struct vent *ent(const struct risk_vtable *t, uint32_t i)
{
    uint32_t z = i - 1;
    uint8_t *slab = t->slabs[z >> VSLAB_SHIFT];

    return (struct vent *)(slab + (size_t)(z & (VSLAB_ENTRIES - 1)) * t->esize);
}

static void *ent_att(struct vent *e)
{
    return (uint8_t *)e + sizeof(struct vent);
}

static void *ent_fail(const struct risk_vtable *t, struct vent *e)
{
    return (uint8_t *)e + t->fail_off;
}

static uint8_t *ent_dist(const struct risk_vtable *t, struct vent *e)
{
    return (uint8_t *)e + t->dist_off;
}

static uint32_t cnt_get(const struct risk_vtable *t, const void *base,
                        uint32_t i)
{
    if (t->wide) {
        return ((const uint32_t *)base)[i];
    }
    return ((const uint16_t *)base)[i];
}

static void cnt_inc(const struct risk_vtable *t, void *base, uint32_t i)
{
    if (t->wide) {
        uint32_t *c = (uint32_t *)base + i;

        *c += *c != UINT32_MAX;
    } else {
        uint16_t *c = (uint16_t *)base + i;

        *c = (uint16_t)(*c + (*c != UINT16_MAX));
    }
}

static void cnt_zero(const struct risk_vtable *t, void *base, uint32_t i,
                     uint32_t n)
{
    size_t cs = t->wide ? 4 : 2;

    memset((uint8_t *)base + (size_t)i * cs, 0, (size_t)n * cs);
}

/* Sum of @p n counts from slot @p i of @p base. */
static uint32_t cnt_sum(const struct risk_vtable *t, const void *base,
                        uint32_t i, uint32_t n)
{
    uint32_t s = 0;

    if (t->wide) {
        const uint32_t *c = (const uint32_t *)base + i;

        for (uint32_t k = 0; k < n; k++) {
            s += c[k];
        }
    } else {
        const uint16_t *c = (const uint16_t *)base + i;

        for (uint32_t k = 0; k < n; k++) {
            s += c[k];
        }
    }
    return s;
}

static void chain_unlink(struct risk_vtable *t, uint32_t i, struct vent *e)
{
    uint32_t *link = &t->heads[e->id[0] & t->mask];

    while (*link != i) {
        link = &ent(t, *link)->hnext;
    }
    /* atomic: risk_vtable_prefetch_entry() reads heads without the lock */
    __atomic_store_n(link, e->hnext, __ATOMIC_RELAXED);
}

static void key_digest(const struct risk_vtable *t, const void *key,
                       size_t keylen, struct risk_vid *id)
{
    sip24_128(key, keylen, t->k[0], t->k[1], id);
}

static uint32_t vt_find(const struct risk_vtable *t, const struct risk_vid *id)
{
    uint32_t i = t->heads[id->w[0] & t->mask];

    while (i) {
        const struct vent *e = ent(t, i);

        if (e->id[0] == id->w[0] && e->id[1] == id->w[1]) {
            return i;
        }
        i = e->hnext;
    }
    return 0;
}

static int slab_alloc(struct risk_vtable *t, uint32_t s)
{
    uint32_t n = t->o.cap - (s << VSLAB_SHIFT);
    size_t bytes;

    n = n < VSLAB_ENTRIES ? n : VSLAB_ENTRIES;
    bytes = (size_t)n * t->esize;
    uint8_t *slab = malloc(bytes);

    if (!slab) {
        return LR_NOMEM;
    }
    /* atomic: risk_vtable_prefetch_entry() reads slabs without the lock */
    __atomic_store_n(&t->slabs[s], slab, __ATOMIC_RELAXED);
    t->mem += bytes;
    return LR_OK;
}

/* The entry under the CLOCK hand after passing (and unmarking) at most
 * VCLOCK_SCAN marked ones; the hand moves past it. */
static uint32_t clock_victim(struct risk_vtable *t)
{
    uint32_t v = t->hand;

    for (int k = 0; k < VCLOCK_SCAN; k++) {
        struct vent *e = ent(t, v);

        if (!e->mark) {
            break;
        }
        e->mark = 0;
        v = v == t->o.cap ? 1 : v + 1;
    }
    t->hand = v == t->o.cap ? 1 : v + 1;
    return v;
}

/* A free entry number: a fresh one below the cap, else a victim. */
static int vt_take(struct risk_vtable *t, uint32_t *out)
{
    if (t->used < t->o.cap) {
        uint32_t s = t->used >> VSLAB_SHIFT;

        if (!t->slabs[s] && slab_alloc(t, s)) {
            return LR_NOMEM;
        }
        *out = ++t->used;
        return LR_OK;
    }
    uint32_t v = clock_victim(t);

    chain_unlink(t, v, ent(t, v));
    t->evictions++;
    *out = v;
    return LR_OK;
}

static int vt_insert(struct risk_vtable *t, const struct risk_vid *id,
                     int64_t now_ms, uint32_t *out)
{
    uint32_t i = 0;
    int rc = vt_take(t, &i);

    if (rc) {
        return rc;
    }
    struct vent *e = ent(t, i);

    memset(e, 0, t->esize);
    e->id[0] = id->w[0];
    e->id[1] = id->w[1];
    e->newest_ms = now_ms;
    e->hnext = t->heads[id->w[0] & t->mask];
    __atomic_store_n(&t->heads[id->w[0] & t->mask], i, __ATOMIC_RELAXED);
    *out = i;
    return LR_OK;
}

/* ---- distinct members: HyperLogLog of 16 nibbles ------------------------ */

static uint64_t sk_get(const struct risk_vtable *t, struct vent *e, int i)
{
    uint64_t s;

    memcpy(&s, ent_dist(t, e) + (size_t)i * 8, 8);
    return s;
}

static void sk_set(const struct risk_vtable *t, struct vent *e, int i,
                   uint64_t s)
{
    memcpy(ent_dist(t, e) + (size_t)i * 8, &s, 8);
}

static unsigned reg_get(uint64_t s, unsigned j)
{
    return (unsigned)(s >> (4 * j)) & 0xf;
}

/* Register from the top 4 bits of @p v, rank from the next @p bits. */
static uint64_t reg_add(uint64_t s, uint64_t v, unsigned bits)
{
    unsigned j = (unsigned)(v >> 60);
    uint64_t rest = v << 4;
    unsigned rank = rest ? (unsigned)__builtin_clzll(rest) + 1 : bits + 1;

    rank = rank < HLL_RANK_MAX ? rank : HLL_RANK_MAX;
    if (rank > reg_get(s, j)) {
        s &= ~((uint64_t)0xf << (4 * j));
        s |= (uint64_t)rank << (4 * j);
    }
    return s;
}

/* Register-wise maximum, eight registers at a time in byte lanes. */
static uint64_t sketch_union(uint64_t a, uint64_t b)
{
    const uint64_t lo = 0x0f0f0f0f0f0f0f0fULL, bit4 = 0x1010101010101010ULL;
    uint64_t u = 0;

    for (int sh = 0; sh < 8; sh += 4) {
        uint64_t x = (a >> sh) & lo, y = (b >> sh) & lo;
        /* (16 + x) - y never borrows across lanes; bit 4 says x >= y */
        uint64_t ge = ((((x | bit4) - y) & bit4) >> 4) * 0x0f;

        u |= ((x & ge) | (y & ~ge & lo)) << sh;
    }
    return u;
}

static double sketch_estimate(const struct risk_vtable *t, uint64_t s)
{
    double sum = 0;
    int zeros = 0;

    if (!s) {
        return 0;
    }
    for (int i = 0; i < 8; i++, s >>= 8) {
        sum += t->pair_sum[s & 0xff];
        zeros += t->pair_zeros[s & 0xff];
    }
    double e = HLL_ALPHA_MM / sum;

    if (e <= 2.5 * HLL_M && zeros > 0) {
        e = t->lc[zeros];
    }
    return e;
}

static uint32_t sketch_count(const struct risk_vtable *t, struct vent *e, int w,
                             int64_t ref_ms)
{
    const struct vdiv *p = &t->period[w];
    int64_t kh = vdiv_floor(p, e->newest_ms);
    int64_t kr = ref_ms == e->newest_ms ? kh : vdiv_floor(p, ref_ms);
    uint64_t cur = 0, prev = 0;

    if (kr == kh) {
        cur = sk_get(t, e, 2 * w + (int)(kh & 1));
        prev = sk_get(t, e, 2 * w + (int)((kh - 1) & 1));
    } else if (kr == kh + 1) {
        prev = sk_get(t, e, 2 * w + (int)(kh & 1));
    }
    double f = (double)(ref_ms - kr * p->d) / (double)p->d;
    double ec = sketch_estimate(t, cur);
    double eu = prev ? sketch_estimate(t, sketch_union(cur, prev)) : ec;
    double est = ec + (eu - ec) * (1.0 - f);

    return (uint32_t)lround(est > 0 ? est : 0);
}

/* Adds @p v (rank from @p bits bits) seen at @p ms to each window whose
 * current or previous period holds @p ms. */
static void sketches_add(const struct risk_vtable *t, struct vent *e,
                         int64_t ms, uint64_t v, unsigned bits)
{
    for (int w = 0; w < t->o.n_windows; w++) {
        int64_t kh = vdiv_floor(&t->period[w], e->newest_ms);
        int64_t k = ms == e->newest_ms ? kh : vdiv_floor(&t->period[w], ms);

        if (k == kh || k == kh - 1) {
            int i = 2 * w + (int)(k & 1);

            sk_set(t, e, i, reg_add(sk_get(t, e, i), v, bits));
        }
    }
}

/* Clears the sketches whose period came round again on a move to @p ms. */
static void sketches_rotate(const struct risk_vtable *t, struct vent *e,
                            int64_t ms)
{
    bool any = false;

    for (int w = 0; w < t->o.n_windows; w++) {
        int64_t kh = vdiv_floor(&t->period[w], e->newest_ms);
        int64_t k = vdiv_floor(&t->period[w], ms);

        if (k - kh >= 2) {
            sk_set(t, e, 2 * w, 0);
            sk_set(t, e, 2 * w + 1, 0);
        } else if (k - kh == 1) {
            sk_set(t, e, 2 * w + (int)(k & 1), 0);
        }
        any |= sk_get(t, e, 2 * w) || sk_get(t, e, 2 * w + 1);
    }
    if (!any) {
        e->n_exact = 0; /* nothing left to estimate: exact again */
    }
}

/* ---- distinct members: exact list --------------------------------------- */

static struct vmember mb_get(const struct risk_vtable *t, struct vent *e,
                             unsigned i)
{
    struct vmember m;

    memcpy(&m, ent_dist(t, e) + (size_t)i * sizeof(m), sizeof(m));
    return m;
}

static void mb_set(const struct risk_vtable *t, struct vent *e, unsigned i,
                   struct vmember m)
{
    memcpy(ent_dist(t, e) + (size_t)i * sizeof(m), &m, sizeof(m));
}

/* A member's age in time units against @p head_unit (the newest time's).
 * Below 2^16: members are dropped past the longest window, which is under
 * 32,000 units, every time the key moves forward. */
static int64_t mb_age(struct vmember m, int64_t head_unit)
{
    return (uint16_t)((uint16_t)head_unit - m.t);
}

/* The oldest member age, in units, that window @p w still counts: a member
 * seen in unit u counts when u * unit >= the start of the oldest bucket. */
static int64_t max_age(const struct risk_vtable *t, const struct vview *v,
                       int w, int64_t head_unit)
{
    int64_t start = v->oldest[w] * t->width[w].d;
    int64_t u = t->unit.d;
    /* ceil(start / u): by the reciprocal for the usual non-negative times
     * (a hardware division costs more than the rest of the count) */
    int64_t first = start >= 0 && start < ((int64_t)1 << VDIV_BITS) - u
                        ? vdiv_floor(&t->unit, start + u - 1)
                        : -floor_div(-start, u);

    return head_unit - first;
}

static void exact_counts(const struct risk_vtable *t, struct vent *e,
                         const struct vview *v, unsigned want,
                         struct risk_vcounts *out)
{
    int64_t head_unit = vdiv_floor(&t->unit, e->newest_ms);
    int64_t lim[CFG_WINDOWS_MAX];
    int nw = t->o.n_windows;

    for (int w = 0; w < nw; w++) {
        /* a window not wanted counts nothing: no age is below -1 */
        lim[w] = want & RISK_VC_DIST(w) ? max_age(t, v, w, head_unit) : -1;
    }
    for (unsigned i = 0; i < e->n_exact; i++) {
        int64_t age = mb_age(mb_get(t, e, i), head_unit);

        for (int w = 0; w < nw; w++) {
            out->distinct[w] += age <= lim[w];
        }
    }
}

/* Drops the members that left the longest window; @p e is at its new
 * newest time, and the ages are still those against @p old_unit. */
static void exact_purge(const struct risk_vtable *t, struct vent *e,
                        int64_t old_ms)
{
    int lw = t->o.n_windows - 1;
    int64_t old_unit = vdiv_floor(&t->unit, old_ms);
    int64_t new_unit = vdiv_floor(&t->unit, e->newest_ms);
    struct vview v;
    unsigned n = 0;

    if (e->newest_ms - old_ms >= t->period[lw].d) {
        e->n_exact = 0;
        return;
    }
    view_at(t, e, e->newest_ms, &v);
    int64_t lim = max_age(t, &v, lw, new_unit) - (new_unit - old_unit);

    for (unsigned i = 0; i < e->n_exact; i++) {
        struct vmember m = mb_get(t, e, i);

        if (mb_age(m, old_unit) <= lim) {
            mb_set(t, e, n++, m);
        }
    }
    e->n_exact = (uint16_t)n;
}

/* Switches @p e to sketches, replaying the exact members into them. */
static void exact_to_sketch(const struct risk_vtable *t, struct vent *e)
{
    int64_t head_unit = vdiv_floor(&t->unit, e->newest_ms);
    unsigned n = e->n_exact;
    struct vmember m[VEXACT_MAX];

    for (unsigned i = 0; i < n; i++) {
        m[i] = mb_get(t, e, i);
    }
    memset(ent_dist(t, e), 0, t->dist_bytes);
    e->n_exact = VSKETCH;
    for (unsigned i = 0; i < n; i++) {
        int64_t ms = (head_unit - mb_age(m[i], head_unit)) * t->unit.d;

        sketches_add(t, e, ms, (uint64_t)m[i].h << 48, 12);
    }
}

static void member_add(const struct risk_vtable *t, struct vent *e, int64_t ms,
                       uint64_t member)
{
    uint64_t v = mix64(member);
    struct vmember m = {(uint16_t)(v >> 48), 0};

    if (e->n_exact != VSKETCH) {
        int64_t head_unit = vdiv_floor(&t->unit, e->newest_ms);
        int64_t unit = vdiv_floor(&t->unit, ms);

        m.t = (uint16_t)unit;
        for (unsigned i = 0; i < e->n_exact; i++) {
            struct vmember o = mb_get(t, e, i);

            if (o.h == m.h) {
                if (head_unit - unit < mb_age(o, head_unit)) {
                    mb_set(t, e, i, m);
                }
                return;
            }
        }
        if (e->n_exact < t->exact_cap) {
            mb_set(t, e, e->n_exact++, m);
            return;
        }
        exact_to_sketch(t, e);
    }
    sketches_add(t, e, ms, v, 60);
}

/* ---- counts ------------------------------------------------------------- */

static void ring_advance(const struct risk_vtable *t, struct vent *e, int w,
                         int64_t h0, int64_t h1)
{
    uint32_t nb = t->o.buckets;
    void *att = ent_att(e), *fail = ent_fail(t, e);
    uint32_t base = (uint32_t)w * nb;

    if (h1 - h0 >= (int64_t)nb) {
        cnt_zero(t, att, base, nb);
        cnt_zero(t, fail, base, nb);
        return;
    }
    uint32_t s = slot_of(t, h0);

    for (int64_t b = h0 + 1; b <= h1; b++) {
        s = s + 1 == nb ? 0 : s + 1;
        cnt_zero(t, att, base + s, 1);
        cnt_zero(t, fail, base + s, 1);
    }
}

/* Moves @p e's newest time forward to @p ms, forgetting what left. */
static void vt_advance(const struct risk_vtable *t, struct vent *e, int64_t ms)
{
    int64_t old = e->newest_ms;

    for (int w = 0; w < t->o.n_windows; w++) {
        int64_t h0 = bucket_of(t, w, old);
        int64_t h1 = bucket_of(t, w, ms);

        if (h1 != h0) {
            ring_advance(t, e, w, h0, h1);
        }
    }
    if (t->o.track_distinct && e->n_exact == VSKETCH) {
        sketches_rotate(t, e, ms);
    }
    e->newest_ms = ms;
    if (t->o.track_distinct && e->n_exact != VSKETCH && e->n_exact) {
        exact_purge(t, e, old);
    }
}

/* Counts one event at @p ms in every window still holding its bucket;
 * true when the longest window holds it. */
static bool vt_count(const struct risk_vtable *t, struct vent *e,
                     const struct vview *v, int64_t ms, bool failure)
{
    uint32_t nb = t->o.buckets;
    void *att = ent_att(e), *fail = ent_fail(t, e);
    bool in = false;

    for (int w = 0; w < t->o.n_windows; w++) {
        int64_t b = ms == e->newest_ms ? v->head[w] : bucket_of(t, w, ms);

        in = b >= v->oldest[w];
        if (!in) {
            continue;
        }
        uint32_t i = (uint32_t)w * nb + slot_of(t, b);

        cnt_inc(t, att, i);
        if (failure) {
            cnt_inc(t, fail, i);
        }
    }
    return in;
}

/* The sum of one window's counts in @p base that count in @p v. */
static uint32_t window_sum(const struct risk_vtable *t, const void *base,
                           const struct vview *v, int w)
{
    uint32_t nb = t->o.buckets;
    uint32_t first = (uint32_t)w * nb;
    int64_t live = v->head[w] - v->oldest[w] + 1;
    uint32_t sum = 0;

    if (live >= (int64_t)nb) {
        return cnt_sum(t, base, first, nb);
    }
    for (uint32_t k = 0, s = slot_of(t, v->head[w]); k < live; k++) {
        sum += cnt_get(t, base, first + s);
        s = s == 0 ? nb - 1 : s - 1;
    }
    return sum;
}

/* Sums the buckets of each window that count in @p v, for the counts in
 * @p want; the others are 0. */
static void vt_counts(const struct risk_vtable *t, struct vent *e,
                      const struct vview *v, int64_t ref_ms, unsigned want,
                      struct risk_vcounts *out)
{
    memset(out, 0, sizeof(*out));
    for (int w = 0; w < t->o.n_windows; w++) {
        if (want & RISK_VC_ATT(w)) {
            out->attempts[w] = window_sum(t, ent_att(e), v, w);
        }
        if (want & RISK_VC_FAIL(w)) {
            out->failures[w] = window_sum(t, ent_fail(t, e), v, w);
        }
    }
    if (!t->o.track_distinct) {
        return;
    }
    if (e->n_exact != VSKETCH) {
        exact_counts(t, e, v, want, out);
        return;
    }
    for (int w = 0; w < t->o.n_windows; w++) {
        if (want & RISK_VC_DIST(w)) {
            out->distinct[w] = sketch_count(t, e, w, ref_ms);
        }
    }
}

/* ---- public ------------------------------------------------------------- */

static bool key_ok(const void *key, size_t keylen)
{
    return (key || !keylen) && keylen <= RISK_VKEY_MAX;
}

static int vt_lookup(struct risk_vtable *t, const struct risk_vid *id,
                     int64_t now_ms, uint32_t *out)
{
    uint32_t i = vt_find(t, id);

    if (i) {
        ent(t, i)->mark = 1;
        *out = i;
        return LR_OK;
    }
    return vt_insert(t, id, now_ms, out);
}

int risk_vtable_hit_id(struct risk_vtable *t, const struct risk_vid *id,
                       int64_t now_ms, bool failure, uint64_t member,
                       unsigned want, struct risk_vcounts *out)
{
    struct vview v;
    uint32_t i;
    int rc;

    if (!t || !id || !out) {
        return LR_INVALID;
    }
    rc = vt_lookup(t, id, now_ms, &i);
    if (rc) {
        return rc;
    }
    struct vent *e = ent(t, i);

    if (now_ms > e->newest_ms) {
        vt_advance(t, e, now_ms);
    }
    view_at(t, e, e->newest_ms, &v);
    if (vt_count(t, e, &v, now_ms, failure) && t->o.track_distinct) {
        member_add(t, e, now_ms, member);
    }
    vt_counts(t, e, &v, e->newest_ms, want, out);
    return LR_OK;
}

int risk_vtable_hit(struct risk_vtable *t, const void *key, size_t keylen,
                    int64_t now_ms, bool failure, uint64_t member,
                    struct risk_vcounts *out)
{
    struct risk_vid id;

    if (!t || !out || !key_ok(key, keylen)) {
        return LR_INVALID;
    }
    key_digest(t, key, keylen, &id);
    return risk_vtable_hit_id(t, &id, now_ms, failure, member, RISK_VC_ALL,
                              out);
}

void risk_vtable_peek_id(struct risk_vtable *t, const struct risk_vid *id,
                         int64_t now_ms, unsigned want,
                         struct risk_vcounts *out)
{
    struct vview v;
    uint32_t i;

    if (!out) {
        return;
    }
    memset(out, 0, sizeof(*out));
    if (!t || !id) {
        return;
    }
    i = vt_find(t, id);
    if (i) {
        struct vent *e = ent(t, i);
        int64_t ref = now_ms > e->newest_ms ? now_ms : e->newest_ms;

        view_at(t, e, ref, &v);
        vt_counts(t, e, &v, ref, want, out);
    }
}

void risk_vtable_peek(struct risk_vtable *t, const void *key, size_t keylen,
                      int64_t now_ms, struct risk_vcounts *out)
{
    struct risk_vid id;

    if (!out) {
        return;
    }
    memset(out, 0, sizeof(*out));
    if (!t || !key_ok(key, keylen)) {
        return;
    }
    key_digest(t, key, keylen, &id);
    risk_vtable_peek_id(t, &id, now_ms, RISK_VC_ALL, out);
}

void risk_vtable_clear_failures_id(struct risk_vtable *t,
                                   const struct risk_vid *id)
{
    uint32_t i;

    if (!t || !id) {
        return;
    }
    i = vt_find(t, id);
    if (i) {
        cnt_zero(t, ent_fail(t, ent(t, i)), 0,
                 (uint32_t)t->o.n_windows * t->o.buckets);
    }
}

void risk_vtable_clear_failures(struct risk_vtable *t, const void *key,
                                size_t keylen)
{
    struct risk_vid id;

    if (!t || !key_ok(key, keylen)) {
        return;
    }
    key_digest(t, key, keylen, &id);
    risk_vtable_clear_failures_id(t, &id);
}

/*
 * Prefetching. A table far larger than the caches costs two dependent
 * misses per hit (the hash head, then the entry), and an evaluation hits
 * five or six tables in a row. The engine starts every head load as soon as
 * the keys are known and every entry load just before counting, so the
 * misses overlap instead of queueing. Neither call needs the table's lock:
 * heads, mask, slabs and entry size never move, and the head and slab words
 * the second call reads are written atomically; a stale answer only fetches
 * a line for nothing.
 */
void risk_vtable_prefetch_head(const struct risk_vtable *t,
                               const struct risk_vid *id)
{
    __builtin_prefetch(&t->heads[id->w[0] & t->mask]);
}

void risk_vtable_prefetch_entry(const struct risk_vtable *t,
                                const struct risk_vid *id)
{
    uint32_t i =
        __atomic_load_n(&t->heads[id->w[0] & t->mask], __ATOMIC_RELAXED);
    const uint8_t *slab;

    if (!i) {
        return;
    }
    slab = __atomic_load_n(&t->slabs[(i - 1) >> VSLAB_SHIFT], __ATOMIC_RELAXED);
    if (!slab) {
        return;
    }
    slab += (size_t)((i - 1) & (VSLAB_ENTRIES - 1)) * t->esize;
    for (size_t off = 0; off < t->esize; off += 64) {
        __builtin_prefetch(slab + off, 1);
    }
}

size_t risk_vtable_size(const struct risk_vtable *t)
{
    return t ? t->used : 0;
}

uint64_t risk_vtable_evictions(const struct risk_vtable *t)
{
    return t ? t->evictions : 0;
}

size_t risk_vtable_entry_bytes(const struct risk_vtable *t)
{
    size_t fixed;

    if (!t) {
        return 0;
    }
    /* hash heads, slab pointers and the table struct, spread over the cap */
    fixed = sizeof(*t) + ((size_t)t->mask + 1) * sizeof(*t->heads) +
            (size_t)t->n_slabs * sizeof(*t->slabs);
    return t->esize + (fixed + t->o.cap - 1) / t->o.cap;
}

size_t risk_vtable_mem_bytes(const struct risk_vtable *t)
{
    return t ? t->mem : 0;
}
