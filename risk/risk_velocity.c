/*
 * risk_velocity.c - sliding-window velocity tables with a hard entry cap.
 *
 * Shape. A table is a chained hash (through 32-bit entry numbers; one head
 * array of the next power of two >= cap/2, never rehashed) over fixed-size
 * entries allocated lazily in slabs of 1024, up to the cap. At the cap the
 * least recently used entry (tail of a doubly-linked list, also through
 * entry numbers) is unlinked and reused in place, so a flood of random keys
 * costs no allocation and no growth: memory stays under about
 * cap * risk_vtable_entry_bytes().
 *
 * Keys. An entry holds a 128-bit digest of its key, not the key: two
 * SipHash-2-4 values under two independent random per-table keys. Every key
 * kind (an IP, a subnet, an ASN, a 64-byte account) then costs the same 16
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
 * bucket is still in the ring, per window, and is dropped otherwise.
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
 * Layout with 3 windows x 12 buckets and distinct_exact 16: a 40-byte header
 * (hash chain, LRU links, newest time, member count, digest), 144 bytes of
 * counts, 64 bytes of members or sketches: 248 bytes, plus 2 to 4 bytes of
 * hash heads per entry. risk_vtable_entry_bytes() reports the figure.
 */
#include "risk/risk_velocity.h"

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
#define VSKETCH 0xffff   /* n_exact of a key counting with sketches */
#define HLL_M 16
#define HLL_RANK_MAX 15
#define HLL_ALPHA_MM (0.673 * HLL_M * HLL_M)

/* Entry header; counts and members follow at offsets kept in the table. */
struct vent {
    uint32_t hnext;   /* next entry number in the hash chain, 0 = none */
    uint32_t prev;    /* LRU neighbour towards the most recent, 0 = none */
    uint32_t next;    /* LRU neighbour towards the least recent, 0 = none */
    uint16_t n_exact; /* exact members held, or VSKETCH */
    uint16_t spare;
    int64_t newest_ms;
    uint64_t id[2]; /* 128-bit keyed digest of the key */
};

struct vmember {
    uint16_t h; /* top 16 bits of the mixed member hash */
    uint16_t t; /* last seen, in time units, modulo 2^16 */
};

struct risk_vtable {
    struct risk_vtable_opts o;
    int64_t width_ms[CFG_WINDOWS_MAX];  /* one bucket */
    int64_t period_ms[CFG_WINDOWS_MAX]; /* the whole window */
    int64_t unit_ms;                    /* member time unit */
    uint64_t k[4];                      /* two SipHash keys */
    bool wide;                          /* 32-bit counts */
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
    uint32_t mru;
    uint32_t lru;
    uint64_t evictions;
    size_t mem;
    double lc[HLL_M + 1]; /* linear counting: m ln(m / zeros) */
};

/* ---- SipHash-2-4 (Aumasson and Bernstein, 2012), from the paper -------- */

static uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl64(v[1], 13);
    v[1] ^= v[0];
    v[0] = rotl64(v[0], 32);
    v[2] += v[3];
    v[3] = rotl64(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = rotl64(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = rotl64(v[1], 17);
    v[1] ^= v[2];
    v[2] = rotl64(v[2], 32);
}

static uint64_t load_le64(const uint8_t *p, size_t n)
{
    uint64_t x = 0;

    for (size_t i = 0; i < n; i++) {
        x |= (uint64_t)p[i] << (8 * i);
    }
    return x;
}

static void sip_absorb(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

static uint64_t sip24(const void *data, size_t len, uint64_t k0, uint64_t k1)
{
    const uint8_t *p = data;
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                     k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    size_t full = len & ~(size_t)7;

    for (size_t i = 0; i < full; i += 8) {
        sip_absorb(v, load_le64(p + i, 8));
    }
    sip_absorb(v, ((uint64_t)len << 56) | load_le64(p + full, len - full));
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++) {
        sip_round(v);
    }
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t risk_siphash24(const void *p, size_t len, const uint8_t key[16])
{
    return sip24(p, len, load_le64(key, 8), load_le64(key + 8, 8));
}

uint64_t risk_hash64(const void *p, size_t len, uint64_t seed)
{
    /* the second key word is derived, so the secret is the 64-bit seed */
    return sip24(p, len, seed, seed ^ 0x9e3779b97f4a7c15ULL);
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

static uint32_t mod_u(int64_t a, uint32_t b)
{
    int64_t r = a % (int64_t)b;

    return (uint32_t)(r < 0 ? r + b : r);
}

/* True when time @p ms falls in a bucket of window @p w that the ring holds
 * when the newest time is @p head_ms. */
static bool in_window(const struct risk_vtable *t, int w, int64_t ms,
                      int64_t head_ms)
{
    int64_t width = t->width_ms[w];

    return floor_div(ms, width) >
           floor_div(head_ms, width) - (int64_t)t->o.buckets;
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

static void layout_init(struct risk_vtable *t)
{
    const struct risk_vtable_opts *o = &t->o;
    size_t per = (size_t)o->n_windows * o->buckets * (t->wide ? 4 : 2);
    int64_t longest;

    for (int w = 0; w < o->n_windows; w++) {
        t->period_ms[w] = (int64_t)o->windows_s[w] * 1000;
        t->width_ms[w] = t->period_ms[w] / o->buckets;
    }
    longest = t->period_ms[o->n_windows - 1];
    t->unit_ms = t->width_ms[0];
    if (longest / t->unit_ms > VUNITS_MAX) {
        t->unit_ms = (longest + VUNITS_MAX - 1) / VUNITS_MAX;
    }
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
    layout_init(t);
    /* at most two entries per chain on average */
    while (nb < (opts->cap + 1) / 2) {
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

/* ---- entries, chains, LRU ----------------------------------------------- */

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

static void lru_unlink(struct risk_vtable *t, struct vent *e)
{
    if (e->prev) {
        ent(t, e->prev)->next = e->next;
    } else {
        t->mru = e->next;
    }
    if (e->next) {
        ent(t, e->next)->prev = e->prev;
    } else {
        t->lru = e->prev;
    }
}

static void lru_push(struct risk_vtable *t, uint32_t i, struct vent *e)
{
    e->prev = 0;
    e->next = t->mru;
    if (t->mru) {
        ent(t, t->mru)->prev = i;
    } else {
        t->lru = i;
    }
    t->mru = i;
}

static void chain_unlink(struct risk_vtable *t, uint32_t i, struct vent *e)
{
    uint32_t *link = &t->heads[e->id[0] & t->mask];

    while (*link != i) {
        link = &ent(t, *link)->hnext;
    }
    *link = e->hnext;
}

static void key_digest(const struct risk_vtable *t, const void *key,
                       size_t keylen, uint64_t id[2])
{
    id[0] = sip24(key, keylen, t->k[0], t->k[1]);
    id[1] = sip24(key, keylen, t->k[2], t->k[3]);
}

static uint32_t vt_find(const struct risk_vtable *t, const uint64_t id[2])
{
    uint32_t i = t->heads[id[0] & t->mask];

    while (i) {
        const struct vent *e = ent(t, i);

        if (e->id[0] == id[0] && e->id[1] == id[1]) {
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
    t->slabs[s] = malloc(bytes);
    if (!t->slabs[s]) {
        return LR_NOMEM;
    }
    t->mem += bytes;
    return LR_OK;
}

/* A free entry number: a fresh one below the cap, else the LRU victim. */
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
    uint32_t v = t->lru;
    struct vent *e = ent(t, v);

    chain_unlink(t, v, e);
    lru_unlink(t, e);
    t->evictions++;
    *out = v;
    return LR_OK;
}

static int vt_insert(struct risk_vtable *t, const uint64_t id[2],
                     int64_t now_ms, uint32_t *out)
{
    uint32_t i = 0;
    int rc = vt_take(t, &i);

    if (rc) {
        return rc;
    }
    struct vent *e = ent(t, i);

    memset(e, 0, t->esize);
    e->id[0] = id[0];
    e->id[1] = id[1];
    e->newest_ms = now_ms;
    e->hnext = t->heads[id[0] & t->mask];
    t->heads[id[0] & t->mask] = i;
    lru_push(t, i, e);
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

static uint64_t sketch_union(uint64_t a, uint64_t b)
{
    uint64_t u = 0;

    for (unsigned j = 0; j < HLL_M; j++) {
        unsigned ra = reg_get(a, j), rb = reg_get(b, j);

        u |= (uint64_t)(ra > rb ? ra : rb) << (4 * j);
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
    for (unsigned j = 0; j < HLL_M; j++) {
        unsigned r = reg_get(s, j);

        sum += ldexp(1.0, -(int)r);
        zeros += r == 0;
    }
    double e = HLL_ALPHA_MM / sum;

    if (e <= 2.5 * HLL_M && zeros > 0) {
        e = t->lc[zeros];
    }
    return e;
}

/* The sketches of window @p w seen at @p ref_ms: [0] current, [1] previous */
static void sketch_pair(const struct risk_vtable *t, struct vent *e, int w,
                        int64_t ref_ms, uint64_t out[2])
{
    int64_t kh = floor_div(e->newest_ms, t->period_ms[w]);
    int64_t kr = floor_div(ref_ms, t->period_ms[w]);

    out[0] = 0;
    out[1] = 0;
    if (kr == kh) {
        out[0] = sk_get(t, e, 2 * w + (int)(kh & 1));
        out[1] = sk_get(t, e, 2 * w + (int)((kh - 1) & 1));
    } else if (kr == kh + 1) {
        out[1] = sk_get(t, e, 2 * w + (int)(kh & 1));
    }
}

static uint32_t sketch_count(const struct risk_vtable *t, struct vent *e, int w,
                             int64_t ref_ms)
{
    uint64_t s[2];
    int64_t p = t->period_ms[w];

    sketch_pair(t, e, w, ref_ms, s);
    double f = (double)(ref_ms - floor_div(ref_ms, p) * p) / (double)p;
    double cur = sketch_estimate(t, s[0]);
    double all = sketch_estimate(t, sketch_union(s[0], s[1]));
    double est = cur + (all - cur) * (1.0 - f);

    return (uint32_t)lround(est > 0 ? est : 0);
}

/* Adds @p v (rank from @p bits bits) seen at @p ms to each window whose
 * current or previous period holds @p ms. */
static void sketches_add(const struct risk_vtable *t, struct vent *e,
                         int64_t ms, uint64_t v, unsigned bits)
{
    for (int w = 0; w < t->o.n_windows; w++) {
        int64_t kh = floor_div(e->newest_ms, t->period_ms[w]);
        int64_t k = floor_div(ms, t->period_ms[w]);

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
        int64_t kh = floor_div(e->newest_ms, t->period_ms[w]);
        int64_t k = floor_div(ms, t->period_ms[w]);

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

/* The start of the time unit a member was last seen in. Its age against the
 * newest time is below 2^16 units: members are dropped past the longest
 * window, which is under 32,000 units, every time the key moves forward. */
static int64_t mb_ms(const struct risk_vtable *t, const struct vent *e,
                     struct vmember m)
{
    int64_t head = floor_div(e->newest_ms, t->unit_ms);
    uint16_t age = (uint16_t)((uint16_t)head - m.t);

    return (head - age) * t->unit_ms;
}

static uint32_t exact_count(const struct risk_vtable *t, struct vent *e, int w,
                            int64_t ref_ms)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < e->n_exact; i++) {
        n += in_window(t, w, mb_ms(t, e, mb_get(t, e, i)), ref_ms);
    }
    return n;
}

/* Drops the members that left the longest window on a move to @p ms. */
static void exact_purge(const struct risk_vtable *t, struct vent *e, int64_t ms)
{
    int lw = t->o.n_windows - 1;
    unsigned n = 0;

    if (ms - e->newest_ms >= t->period_ms[lw]) {
        e->n_exact = 0;
        return;
    }
    for (unsigned i = 0; i < e->n_exact; i++) {
        struct vmember m = mb_get(t, e, i);

        if (in_window(t, lw, mb_ms(t, e, m), ms)) {
            mb_set(t, e, n++, m);
        }
    }
    e->n_exact = (uint16_t)n;
}

/* Switches @p e to sketches, replaying the exact members into them. */
static void exact_to_sketch(const struct risk_vtable *t, struct vent *e)
{
    uint8_t *d = ent_dist(t, e);
    unsigned n = e->n_exact;
    struct vmember m[VEXACT_MAX];
    int64_t when[VEXACT_MAX];

    for (unsigned i = 0; i < n; i++) {
        m[i] = mb_get(t, e, i);
        when[i] = mb_ms(t, e, m[i]);
    }
    memset(d, 0, t->dist_bytes);
    e->n_exact = VSKETCH;
    for (unsigned i = 0; i < n; i++) {
        sketches_add(t, e, when[i], (uint64_t)m[i].h << 48, 12);
    }
}

static void member_add(const struct risk_vtable *t, struct vent *e, int64_t ms,
                       uint64_t member)
{
    uint64_t v = mix64(member);
    struct vmember m = {(uint16_t)(v >> 48), 0};

    if (e->n_exact != VSKETCH) {
        m.t = (uint16_t)floor_div(ms, t->unit_ms);
        for (unsigned i = 0; i < e->n_exact; i++) {
            struct vmember o = mb_get(t, e, i);

            if (o.h == m.h) {
                if (ms > mb_ms(t, e, o)) {
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
                         int64_t ms)
{
    uint32_t nb = t->o.buckets;
    void *att = ent_att(e), *fail = ent_fail(t, e);
    int64_t h0 = floor_div(e->newest_ms, t->width_ms[w]);
    int64_t h1 = floor_div(ms, t->width_ms[w]);

    if (h1 - h0 >= (int64_t)nb) {
        cnt_zero(t, att, (uint32_t)w * nb, nb);
        cnt_zero(t, fail, (uint32_t)w * nb, nb);
        return;
    }
    for (int64_t b = h0 + 1; b <= h1; b++) {
        uint32_t i = (uint32_t)w * nb + mod_u(b, nb);

        cnt_zero(t, att, i, 1);
        cnt_zero(t, fail, i, 1);
    }
}

/* Moves @p e's newest time forward to @p ms, forgetting what left. */
static void vt_advance(const struct risk_vtable *t, struct vent *e, int64_t ms)
{
    for (int w = 0; w < t->o.n_windows; w++) {
        ring_advance(t, e, w, ms);
    }
    if (t->o.track_distinct) {
        if (e->n_exact == VSKETCH) {
            sketches_rotate(t, e, ms);
        } else {
            exact_purge(t, e, ms);
        }
    }
    e->newest_ms = ms;
}

/* Counts one event at @p ms in every window still holding its bucket. */
static void vt_count(const struct risk_vtable *t, struct vent *e, int64_t ms,
                     bool failure)
{
    uint32_t nb = t->o.buckets;
    void *att = ent_att(e), *fail = ent_fail(t, e);

    for (int w = 0; w < t->o.n_windows; w++) {
        if (!in_window(t, w, ms, e->newest_ms)) {
            continue;
        }
        uint32_t i =
            (uint32_t)w * nb + mod_u(floor_div(ms, t->width_ms[w]), nb);

        cnt_inc(t, att, i);
        if (failure) {
            cnt_inc(t, fail, i);
        }
    }
}

/* Sums the buckets of each window as seen at @p ref_ms >= newest. */
static void vt_counts(const struct risk_vtable *t, struct vent *e,
                      int64_t ref_ms, struct risk_vcounts *out)
{
    uint32_t nb = t->o.buckets;
    void *att = ent_att(e), *fail = ent_fail(t, e);

    memset(out, 0, sizeof(*out));
    for (int w = 0; w < t->o.n_windows; w++) {
        int64_t head = floor_div(e->newest_ms, t->width_ms[w]);
        int64_t lo = floor_div(ref_ms, t->width_ms[w]) - nb;

        for (int64_t b = head; b > lo && b > head - (int64_t)nb; b--) {
            uint32_t i = (uint32_t)w * nb + mod_u(b, nb);

            out->attempts[w] += cnt_get(t, att, i);
            out->failures[w] += cnt_get(t, fail, i);
        }
        if (!t->o.track_distinct) {
            continue;
        }
        out->distinct[w] = e->n_exact == VSKETCH ? sketch_count(t, e, w, ref_ms)
                                                 : exact_count(t, e, w, ref_ms);
    }
}

/* ---- public ------------------------------------------------------------- */

static bool key_ok(const void *key, size_t keylen)
{
    return (key || !keylen) && keylen <= RISK_VKEY_MAX;
}

int risk_vtable_hit(struct risk_vtable *t, const void *key, size_t keylen,
                    int64_t now_ms, bool failure, uint64_t member,
                    struct risk_vcounts *out)
{
    uint64_t id[2];
    uint32_t i;
    int rc;

    if (!t || !out || !key_ok(key, keylen)) {
        return LR_INVALID;
    }
    key_digest(t, key, keylen, id);
    i = vt_find(t, id);
    if (i) {
        lru_unlink(t, ent(t, i));
        lru_push(t, i, ent(t, i));
    } else {
        rc = vt_insert(t, id, now_ms, &i);
        if (rc) {
            return rc;
        }
    }
    struct vent *e = ent(t, i);

    if (now_ms > e->newest_ms) {
        vt_advance(t, e, now_ms);
    }
    vt_count(t, e, now_ms, failure);
    if (t->o.track_distinct &&
        in_window(t, t->o.n_windows - 1, now_ms, e->newest_ms)) {
        member_add(t, e, now_ms, member);
    }
    vt_counts(t, e, e->newest_ms, out);
    return LR_OK;
}

void risk_vtable_peek(struct risk_vtable *t, const void *key, size_t keylen,
                      int64_t now_ms, struct risk_vcounts *out)
{
    uint64_t id[2];
    uint32_t i;

    if (!out) {
        return;
    }
    memset(out, 0, sizeof(*out));
    if (!t || !key_ok(key, keylen)) {
        return;
    }
    key_digest(t, key, keylen, id);
    i = vt_find(t, id);
    if (i) {
        struct vent *e = ent(t, i);

        vt_counts(t, e, now_ms > e->newest_ms ? now_ms : e->newest_ms, out);
    }
}

void risk_vtable_clear_failures(struct risk_vtable *t, const void *key,
                                size_t keylen)
{
    uint64_t id[2];
    uint32_t i;

    if (!t || !key_ok(key, keylen)) {
        return;
    }
    key_digest(t, key, keylen, id);
    i = vt_find(t, id);
    if (i) {
        cnt_zero(t, ent_fail(t, ent(t, i)), 0,
                 (uint32_t)t->o.n_windows * t->o.buckets);
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
