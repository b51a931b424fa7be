/*
 * store_hist.c - login history as packed batches, and reading them back.
 *
 * A row per login with six indexes cost ~28 us of CPU per login in SQLite
 * (an index insert is a random page write each), most of the agent's CPU
 * under load. So the writer thread packs logins into batches of up to
 * STORE_HIST_BATCH_ROWS rows or STORE_HIST_BATCH_BYTES bytes, and each
 * batch is ONE SQLite row (store_sqlite.c: history_batch) with its time
 * range, its row count, a small Bloom filter of its accounts and the packed
 * rows. Reads decode the batches in C: lock-by-query scans the batches
 * that overlap its time range, an account's recent logins skip the batches
 * whose Bloom filter says the account is absent.
 *
 * The body of a batch (all integers little-endian):
 *
 *   u8 version (1), u8[3] zero, u32 n
 *   n records:  u16 len (bytes that follow), i64 ts_ms, u8[16] ip key,
 *               u32 asn, i32 credential, i32 action, i32 score,
 *               u8 flags (1 = has location), u8[2] country,
 *               f64 lat, f64 lon (bit patterns),
 *               u16 account_len, u16 device_len, u8 request_len,
 *               u8 city_len, u16 reasons_len, then those bytes
 *
 * Decoding checks every length against what is left and against the field
 * caps, and that no string holds a NUL byte (the encoder writes none), so a
 * damaged blob gives LR_CORRUPT, never a read out of bounds or a string
 * that a copy would cut short.
 *
 * The Bloom filter has 8 bits per row (a power of two from 64 to
 * STORE_HIST_BLOOM_MAX * 8 bits) and 3 probes: about 3% false positives.
 * A second one holds the rows' query terms - ASN, country, device, the
 * /16 of an IPv4 address, the /48 of an IPv6 one - so lock-by-query skips
 * the batches that cannot match without reading their rows.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define STORE_HB_VERSION 1
#define STORE_HB_HEAD 8
#define STORE_HB_FIXED 69 /* record bytes before the strings, len included */
#define STORE_HB_PROBES 3
#define STORE_HB_BLOOM_MIN 8 /* bytes */
#define STORE_REASONS_TEXT_MAX (STORE_REASONS_MAX * 72)
#define STORE_HB_TERMS 5      /* query terms per row, at most */
#define STORE_HB_V4_PREFIX 14 /* key bytes of an IPv4 /16 */
#define STORE_HB_V6_PREFIX 6  /* key bytes of an IPv6 /48 */

struct store_hist_batch {
    unsigned char *buf; /* STORE_HIST_BATCH_BYTES */
    size_t len;
    uint32_t n;
    int64_t ts_min;
    int64_t ts_max;
    int64_t opened_ns;
    uint64_t hashes[STORE_HIST_BATCH_ROWS]; /* account hashes, for the bloom */
    unsigned char bloom[STORE_HIST_BLOOM_MAX];
    uint64_t terms[STORE_HIST_BATCH_ROWS * STORE_HB_TERMS];
    size_t n_terms;
    unsigned char terms_bloom[STORE_HIST_TERMS_BLOOM_MAX];
};

/* ---- little-endian helpers --------------------------------------------- */

static unsigned char *hb_put(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static uint64_t hb_get(const unsigned char *p, int bytes)
{
    uint64_t v = 0;

    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t hb_double_bits(double d)
{
    uint64_t v;

    memcpy(&v, &d, sizeof(v));
    return v;
}

static double hb_bits_double(uint64_t v)
{
    double d;

    memcpy(&d, &v, sizeof(d));
    return d;
}

/* ---- account hash and Bloom filter ------------------------------------- */

uint64_t store_hist_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    /* splitmix64's finalizer: FNV's low bits alone are poor probes */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static void hb_bloom_set(unsigned char *bloom, size_t bits, uint64_t h)
{
    uint64_t a = h, b = (h >> 32) | 1;

    for (int i = 0; i < STORE_HB_PROBES; i++) {
        uint64_t pos = (a + (uint64_t)i * b) & (bits - 1);

        bloom[pos >> 3] |= (unsigned char)(1u << (pos & 7));
    }
}

static bool hb_bloom_may(const void *bloom, size_t len, size_t max, uint64_t h)
{
    const unsigned char *b = bloom;
    uint64_t a = h, step = (h >> 32) | 1, bits = (uint64_t)len * 8;

    /* Not a filter this build writes: say "maybe", the rows decide. */
    if (bloom == NULL || len < STORE_HB_BLOOM_MIN || len > max ||
        (len & (len - 1)) != 0)
        return true;
    for (int i = 0; i < STORE_HB_PROBES; i++) {
        uint64_t pos = (a + (uint64_t)i * step) & (bits - 1);

        if (!(b[pos >> 3] & (1u << (pos & 7))))
            return false;
    }
    return true;
}

bool store_hist_bloom_may(const void *bloom, size_t len, uint64_t h)
{
    return hb_bloom_may(bloom, len, STORE_HIST_BLOOM_MAX, h);
}

/* The hash of one query term: a tag byte, then the value's bytes. */
static uint64_t hb_term(char tag, const void *v, size_t len)
{
    char buf[1 + STORE_ID_MAX];

    buf[0] = tag;
    memcpy(buf + 1, v, len);
    return store_hist_hash(buf, len + 1);
}

static uint64_t hb_term_asn(uint32_t asn)
{
    unsigned char b[4];

    hb_put(b, asn, 4);
    return hb_term('a', b, 4);
}

static uint64_t hb_term_country(const char *c)
{
    char b[2] = {c[0], c[0] != '\0' ? c[1] : '\0'};

    return hb_term('c', b, 2);
}

static const uint8_t hb_v4_mapped[12] = {0, 0, 0, 0, 0,    0,
                                         0, 0, 0, 0, 0xff, 0xff};

/* True when @p key is an IPv6 address (not an IPv4-mapped one). */
static bool hb_v6_term_ok(const uint8_t key[16])
{
    return memcmp(key, hb_v4_mapped, 12) != 0;
}

/* True when the first @p bits (<= 96) of @p key are those of ::ffff:0:0/96,
 * i.e. the CIDR holds every IPv4 address. */
static bool hb_holds_v4(const uint8_t key[16], unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(key, hb_v4_mapped, whole) != 0)
        return false;
    return rest == 0 ||
           ((key[whole] ^ hb_v4_mapped[whole]) & (0xffu << (8 - rest))) == 0;
}

/* ---- the writer's open batch ------------------------------------------- */

int store_hist_batch_new(struct store_hist_batch **out)
{
    struct store_hist_batch *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return LR_NOMEM;
    b->buf = malloc(STORE_HIST_BATCH_BYTES);
    if (b->buf == NULL) {
        free(b);
        return LR_NOMEM;
    }
    store_hist_batch_reset(b);
    *out = b;
    return LR_OK;
}

void store_hist_batch_free(struct store_hist_batch *b)
{
    if (b == NULL)
        return;
    free(b->buf);
    free(b);
}

void store_hist_batch_reset(struct store_hist_batch *b)
{
    b->len = STORE_HB_HEAD;
    b->n = 0;
    b->ts_min = 0;
    b->ts_max = 0;
    b->opened_ns = 0;
    b->n_terms = 0;
}

static size_t hb_rec_size(const struct store_hist_rec *r)
{
    return STORE_HB_FIXED + r->account_len + r->device_len + r->request_len +
           r->city_len + r->reasons_len;
}

bool store_hist_batch_fits(const struct store_hist_batch *b,
                           const struct store_hist_rec *r)
{
    if (b->n == 0)
        return true;
    if (b->n >= STORE_HIST_BATCH_ROWS ||
        b->len + hb_rec_size(r) > STORE_HIST_BATCH_BYTES)
        return false;
    /* A batch spans little time, so retention and time ranges stay sharp
     * even when callers' clocks jump (backfills, injected clocks). */
    if (r->ts_ms < b->ts_max &&
        (uint64_t)b->ts_max - (uint64_t)r->ts_ms > STORE_HIST_SPAN_MS)
        return false; /* differences in uint64_t: no overflow at extremes */
    return !(r->ts_ms > b->ts_min &&
             (uint64_t)r->ts_ms - (uint64_t)b->ts_min > STORE_HIST_SPAN_MS);
}

void store_hist_batch_add(struct store_hist_batch *b,
                          const struct store_hist_rec *r, int64_t now_ns)
{
    unsigned char *p = b->buf + b->len;
    size_t size = hb_rec_size(r);

    p = hb_put(p, size - 2, 2);
    p = hb_put(p, (uint64_t)r->ts_ms, 8);
    memcpy(p, r->ip, 16);
    p = hb_put(p + 16, r->asn, 4);
    p = hb_put(p, (uint32_t)r->credential, 4);
    p = hb_put(p, (uint32_t)r->action, 4);
    p = hb_put(p, (uint32_t)r->score, 4);
    *p++ = r->has_location ? 1 : 0;
    *p++ = (unsigned char)r->country[0];
    *p++ = r->country[0] != '\0' ? (unsigned char)r->country[1] : 0;
    p = hb_put(p, hb_double_bits(r->has_location ? r->lat : 0), 8);
    p = hb_put(p, hb_double_bits(r->has_location ? r->lon : 0), 8);
    p = hb_put(p, r->account_len, 2);
    p = hb_put(p, r->device_len, 2);
    *p++ = (unsigned char)r->request_len;
    *p++ = (unsigned char)r->city_len;
    p = hb_put(p, r->reasons_len, 2);
    memcpy(p, r->account, r->account_len);
    p += r->account_len;
    memcpy(p, r->device, r->device_len);
    p += r->device_len;
    memcpy(p, r->request, r->request_len);
    p += r->request_len;
    memcpy(p, r->city, r->city_len);
    p += r->city_len;
    memcpy(p, r->reasons, r->reasons_len);
    b->len += size;
    if (b->n == 0 || r->ts_ms < b->ts_min)
        b->ts_min = r->ts_ms;
    if (b->n == 0 || r->ts_ms > b->ts_max)
        b->ts_max = r->ts_ms;
    if (b->n == 0)
        b->opened_ns = now_ns;
    b->hashes[b->n++] = store_hist_hash(r->account, r->account_len);
    b->terms[b->n_terms++] = hb_term_asn(r->asn);
    b->terms[b->n_terms++] = hb_term_country(r->country);
    if (r->device_len > 0)
        b->terms[b->n_terms++] = hb_term('d', r->device, r->device_len);
    if (hb_v6_term_ok(r->ip))
        b->terms[b->n_terms++] = hb_term('q', r->ip, STORE_HB_V6_PREFIX);
    else
        b->terms[b->n_terms++] = hb_term('p', r->ip, STORE_HB_V4_PREFIX);
}

void store_hist_batch_seal(struct store_hist_batch *b,
                           struct store_hist_sealed *out)
{
    size_t bytes = STORE_HB_BLOOM_MIN;

    while (bytes < b->n && bytes < STORE_HIST_BLOOM_MAX)
        bytes *= 2; /* 8 bits per row */
    memset(b->bloom, 0, bytes);
    for (uint32_t i = 0; i < b->n; i++)
        hb_bloom_set(b->bloom, bytes * 8, b->hashes[i]);
    out->terms_len = STORE_HB_BLOOM_MIN;
    while (out->terms_len < b->n_terms &&
           out->terms_len < STORE_HIST_TERMS_BLOOM_MAX)
        out->terms_len *= 2; /* 8 bits per term */
    memset(b->terms_bloom, 0, out->terms_len);
    for (size_t i = 0; i < b->n_terms; i++)
        hb_bloom_set(b->terms_bloom, out->terms_len * 8, b->terms[i]);
    b->buf[0] = STORE_HB_VERSION;
    b->buf[1] = b->buf[2] = b->buf[3] = 0;
    hb_put(b->buf + 4, b->n, 4);
    out->ts_min = b->ts_min;
    out->ts_max = b->ts_max;
    out->n = b->n;
    out->bloom = b->bloom;
    out->bloom_len = bytes;
    out->terms = b->terms_bloom;
    out->body = b->buf;
    out->body_len = b->len;
}

uint32_t store_hist_batch_rows(const struct store_hist_batch *b)
{
    return b->n;
}

int64_t store_hist_batch_opened_ns(const struct store_hist_batch *b)
{
    return b->opened_ns;
}

/* ---- decoding ---------------------------------------------------------- */

int store_hist_iter_init(struct store_hist_iter *it, const void *body,
                         size_t len)
{
    const unsigned char *p = body;

    if (p == NULL || len < STORE_HB_HEAD || p[0] != STORE_HB_VERSION ||
        p[1] != 0 || p[2] != 0 || p[3] != 0)
        return LR_CORRUPT;
    it->p = p + STORE_HB_HEAD;
    it->left = len - STORE_HB_HEAD;
    it->n = (uint32_t)hb_get(p + 4, 4);
    it->i = 0;
    if (it->n > STORE_HIST_BATCH_ROWS)
        return LR_CORRUPT;
    return LR_OK;
}

/* The string lengths of a record; LR_CORRUPT when over a cap or a sum. */
static int hb_view_lens(const unsigned char *p, size_t size,
                        struct store_hist_view *v)
{
    v->account_len = (size_t)hb_get(p + 61, 2);
    v->device_len = (size_t)hb_get(p + 63, 2);
    v->request_len = p[65];
    v->city_len = p[66];
    v->reasons_len = (size_t)hb_get(p + 67, 2);
    if (v->account_len == 0 || v->account_len >= STORE_ID_MAX ||
        v->device_len >= STORE_ID_MAX || v->request_len >= 65 ||
        v->city_len >= 96 || v->reasons_len > STORE_REASONS_TEXT_MAX)
        return LR_CORRUPT;
    if (STORE_HB_FIXED + v->account_len + v->device_len + v->request_len +
            v->city_len + v->reasons_len !=
        size)
        return LR_CORRUPT;
    /* The encoder's strings never hold a NUL; a reader's copy would end at
     * one (an account id cut short, a reason code read as empty). */
    if (memchr(p + STORE_HB_FIXED, '\0', size - STORE_HB_FIXED) != NULL)
        return LR_CORRUPT;
    return LR_OK;
}

int store_hist_iter_next(struct store_hist_iter *it, struct store_hist_view *v)
{
    const unsigned char *p = it->p;
    const char *s;
    size_t size;

    if (it->i == it->n)
        return it->left == 0 ? LR_NOTFOUND : LR_CORRUPT;
    if (it->left < STORE_HB_FIXED)
        return LR_CORRUPT;
    size = (size_t)hb_get(p, 2) + 2;
    if (size < STORE_HB_FIXED || size > it->left || hb_view_lens(p, size, v))
        return LR_CORRUPT;
    v->ts_ms = (int64_t)hb_get(p + 2, 8);
    v->ip = p + 10;
    v->asn = (uint32_t)hb_get(p + 26, 4);
    v->credential = (int32_t)(uint32_t)hb_get(p + 30, 4);
    v->action = (int32_t)(uint32_t)hb_get(p + 34, 4);
    v->score = (int32_t)(uint32_t)hb_get(p + 38, 4);
    v->has_location = (p[42] & 1) != 0;
    v->country[0] = (char)p[43];
    v->country[1] = (char)p[44];
    v->country[2] = '\0';
    v->lat = hb_bits_double(hb_get(p + 45, 8));
    v->lon = hb_bits_double(hb_get(p + 53, 8));
    s = (const char *)p + STORE_HB_FIXED;
    v->account = s;
    v->device = s += v->account_len;
    v->request = s += v->device_len;
    v->city = s += v->request_len;
    v->reasons = s + v->city_len;
    it->p += size;
    it->left -= size;
    it->i++;
    return LR_OK;
}

static void hb_copy(char *dst, size_t cap, const char *s, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

void store_hist_view_login(const struct store_hist_view *v,
                           struct store_login *l)
{
    memset(l, 0, sizeof(*l));
    l->ts_ms = v->ts_ms;
    hb_copy(l->account_id, sizeof(l->account_id), v->account, v->account_len);
    store_ip_unkey(v->ip, l->ip, &l->ip_family);
    hb_copy(l->device_id, sizeof(l->device_id), v->device, v->device_len);
    l->credential = v->credential;
    l->action = v->action;
    l->score = v->score;
    memcpy(l->country, v->country, sizeof(l->country));
    hb_copy(l->city, sizeof(l->city), v->city, v->city_len);
    l->has_location = v->has_location;
    l->lat = v->lat;
    l->lon = v->lon;
    l->asn = v->asn;
    store_reasons_split(v->reasons, v->reasons_len, l);
    hb_copy(l->request_id, sizeof(l->request_id), v->request, v->request_len);
}

bool store_hist_view_is(const struct store_hist_view *v, const char *account,
                        size_t len)
{
    return v->account_len == len && memcmp(v->account, account, len) == 0;
}

/* ---- lock-by-query filter ---------------------------------------------- */

static bool hb_match_cidrs(const struct store_hist_view *v,
                           const struct store_query *q,
                           const uint8_t (*ranges)[2][16])
{
    if (q->n_cidrs == 0)
        return true;
    for (size_t i = 0; i < q->n_cidrs; i++) {
        if (memcmp(v->ip, ranges[i][0], 16) >= 0 &&
            memcmp(v->ip, ranges[i][1], 16) <= 0)
            return true;
    }
    return false;
}

static bool hb_match_places(const struct store_hist_view *v,
                            const struct store_query *q)
{
    bool hit = q->n_asns == 0;

    for (size_t i = 0; !hit && i < q->n_asns; i++)
        hit = q->asns[i] == v->asn;
    if (!hit)
        return false;
    hit = q->n_countries == 0;
    for (size_t i = 0; !hit && i < q->n_countries; i++)
        hit = strcmp(q->countries[i], v->country) == 0;
    return hit;
}

bool store_hist_match(const struct store_hist_view *v,
                      const struct store_query *q,
                      const uint8_t (*ranges)[2][16])
{
    if ((q->since_ms != 0 && v->ts_ms < q->since_ms) ||
        (q->until_ms != 0 && v->ts_ms > q->until_ms))
        return false;
    if (q->successful_only && (v->credential != LR_CRED_VALID ||
                               (v->action != LR_ACTION_ALLOW &&
                                v->action != LR_ACTION_CHALLENGE_2FA)))
        return false;
    if (q->device_id != NULL &&
        (v->device_len == 0 || v->device_len != strlen(q->device_id) ||
         memcmp(v->device, q->device_id, v->device_len) != 0))
        return false;
    return hb_match_places(v, q) && hb_match_cidrs(v, q, ranges);
}

/* True when a CIDR's addresses may be in the filter (or it cannot say). */
static bool hb_cidr_may(const void *bloom, size_t len, const uint8_t lo[16],
                        unsigned total_bits)
{
    if (total_bits >= STORE_HB_V4_PREFIX * 8 && !hb_v6_term_ok(lo))
        return hb_bloom_may(bloom, len, STORE_HIST_TERMS_BLOOM_MAX,
                            hb_term('p', lo, STORE_HB_V4_PREFIX));
    /* an IPv6 range such as ::/64 also holds the IPv4-mapped addresses,
     * which are filed under their IPv4 term: no single term can say */
    if (total_bits < 96 && hb_holds_v4(lo, total_bits))
        return true;
    if (total_bits >= STORE_HB_V6_PREFIX * 8 && hb_v6_term_ok(lo))
        return hb_bloom_may(bloom, len, STORE_HIST_TERMS_BLOOM_MAX,
                            hb_term('q', lo, STORE_HB_V6_PREFIX));
    return true;
}

bool store_hist_terms_may(const void *bloom, size_t len,
                          const struct store_query *q,
                          const uint8_t (*ranges)[2][16])
{
    bool may = q->n_asns == 0;

    if (bloom == NULL)
        return true; /* a batch written before schema 4 */
    for (size_t i = 0; !may && i < q->n_asns; i++)
        may = hb_bloom_may(bloom, len, STORE_HIST_TERMS_BLOOM_MAX,
                           hb_term_asn(q->asns[i]));
    if (!may)
        return false;
    may = q->n_countries == 0;
    for (size_t i = 0; !may && i < q->n_countries; i++)
        may = hb_bloom_may(bloom, len, STORE_HIST_TERMS_BLOOM_MAX,
                           hb_term_country(q->countries[i]));
    if (!may)
        return false;
    if (q->device_id != NULL &&
        !hb_bloom_may(bloom, len, STORE_HIST_TERMS_BLOOM_MAX,
                      hb_term('d', q->device_id, strlen(q->device_id))))
        return false;
    may = q->n_cidrs == 0;
    for (size_t i = 0; !may && i < q->n_cidrs; i++)
        may = hb_cidr_may(bloom, len, ranges[i][0],
                          q->cidr_families[i] == 4 ? 96u + q->cidr_bits[i]
                                                   : q->cidr_bits[i]);
    return may;
}

/* ---- distinct accounts ------------------------------------------------- */

/*
 * An open-addressing set of account ids (hash + offset into one string
 * arena). Without a limit it is capped at STORE_QUERY_ACCOUNTS_MAX: a query
 * that matches more distinct accounts fails with LR_FULL rather than
 * growing without bound. With a limit only the smallest ids can be
 * emitted, so the set is cut back to the @c limit smallest whenever it
 * holds @c keep_max, and the largest id kept becomes a bound: a later id
 * above it can never be among the first @c limit and is turned away at
 * once. Cutting back costs a sort of keep_max ids and happens at most once
 * per keep_max - limit (>= limit) added ids, so the work stays
 * O(n log limit) amortized and the memory O(limit).
 */
struct store_acctset {
    uint64_t *hashes; /* 0 = empty slot */
    uint32_t *offs;
    size_t cap, n;
    char *arena;
    size_t arena_len, arena_cap;
    uint64_t limit;  /* ids that can be emitted; 0 = all */
    size_t keep_max; /* cut back at this size; 0 = never (capped) */
    bool bounded;    /* ids above bound are not kept */
    size_t bound_len;
    char bound[STORE_ID_MAX];
};

int store_acctset_new(uint64_t limit, struct store_acctset **out)
{
    struct store_acctset *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return LR_NOMEM;
    s->limit = limit;
    if (limit != 0 && limit < STORE_QUERY_ACCOUNTS_MAX)
        s->keep_max =
            (size_t)limit +
            (limit > STORE_ACCTSET_FLOOR ? (size_t)limit : STORE_ACCTSET_FLOOR);
    *out = s;
    return LR_OK;
}

void store_acctset_free(struct store_acctset *s)
{
    if (s == NULL)
        return;
    free(s->hashes);
    free(s->offs);
    free(s->arena);
    free(s);
}

size_t store_acctset_size(const struct store_acctset *s)
{
    return s->n;
}

static int acctset_rehash(struct store_acctset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *h = calloc(cap, sizeof(*h));
    uint32_t *o = calloc(cap, sizeof(*o));

    if (h == NULL || o == NULL) {
        free(h);
        free(o);
        return LR_NOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        size_t j;

        if (s->hashes[i] == 0)
            continue;
        j = s->hashes[i] & (cap - 1);
        while (h[j] != 0)
            j = (j + 1) & (cap - 1);
        h[j] = s->hashes[i];
        o[j] = s->offs[i];
    }
    free(s->hashes);
    free(s->offs);
    s->hashes = h;
    s->offs = o;
    s->cap = cap;
    return LR_OK;
}

static int acctset_store(struct store_acctset *s, const char *id, size_t len,
                         uint32_t *off)
{
    size_t need = s->arena_len + len + 1, cap = s->arena_cap;
    char *a;

    if (need > UINT32_MAX)
        return LR_FULL;
    if (need > cap) {
        cap = cap ? cap : 65536;
        while (cap < need)
            cap *= 2;
        a = realloc(s->arena, cap);
        if (a == NULL)
            return LR_NOMEM;
        s->arena = a;
        s->arena_cap = cap;
    }
    memcpy(s->arena + s->arena_len, id, len);
    s->arena[s->arena_len + len] = '\0';
    *off = (uint32_t)s->arena_len;
    s->arena_len = need;
    return LR_OK;
}

/* Inserts @p id unless present; no cap, no bound (cutting back uses it). */
static int acctset_insert(struct store_acctset *s, const char *id, size_t len,
                          uint64_t h)
{
    size_t j;
    int rc;

    if ((s->n + 1) * 4 > s->cap * 3) {
        rc = acctset_rehash(s);
        if (rc)
            return rc;
    }
    for (j = h & (s->cap - 1); s->hashes[j] != 0; j = (j + 1) & (s->cap - 1)) {
        const char *have = s->arena + s->offs[j];

        if (s->hashes[j] == h && strncmp(have, id, len) == 0 &&
            have[len] == '\0')
            return LR_OK;
    }
    if (s->keep_max == 0 && s->n >= STORE_QUERY_ACCOUNTS_MAX)
        return LR_FULL;
    rc = acctset_store(s, id, len, &s->offs[j]);
    if (rc)
        return rc;
    s->hashes[j] = h;
    s->n++;
    return LR_OK;
}

static int acctset_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The ids of @p s sorted (strcmp order) in a malloc'd array. */
static int acctset_sorted(const struct store_acctset *s, const char ***out)
{
    const char **ids = malloc((s->n ? s->n : 1) * sizeof(*ids));
    size_t k = 0;

    if (ids == NULL)
        return LR_NOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->hashes[i] != 0)
            ids[k++] = s->arena + s->offs[i];
    }
    qsort(ids, k, sizeof(*ids), acctset_cmp);
    *out = ids;
    return LR_OK;
}

/*
 * Keeps the @c limit smallest ids of @p s in a rebuilt set and makes the
 * largest of them the bound. On an error @p s is unchanged.
 */
static int acctset_cut(struct store_acctset *s)
{
    struct store_acctset t = {.limit = s->limit, .keep_max = s->keep_max};
    const char **ids = NULL;
    size_t keep = (size_t)s->limit, len;
    int rc;

    rc = acctset_sorted(s, &ids);
    for (size_t i = 0; rc == 0 && i < keep; i++) {
        len = strlen(ids[i]);
        rc = acctset_insert(&t, ids[i], len, store_hist_hash(ids[i], len) | 1);
    }
    if (rc == 0) {
        len = strlen(ids[keep - 1]);
        memcpy(t.bound, ids[keep - 1], len + 1);
        t.bound_len = len;
        t.bounded = true;
        free(s->hashes);
        free(s->offs);
        free(s->arena);
        *s = t;
    } else {
        free(t.hashes);
        free(t.offs);
        free(t.arena);
    }
    free(ids);
    return rc;
}

/* True when @p id sorts after the bound, or is it (so it is held). */
static bool acctset_past_bound(const struct store_acctset *s, const char *id,
                               size_t len)
{
    size_t m = len < s->bound_len ? len : s->bound_len;
    int c = memcmp(id, s->bound, m);

    return c > 0 || (c == 0 && len >= s->bound_len);
}

int store_acctset_add(struct store_acctset *s, const char *id, size_t len)
{
    int rc;

    if (s->bounded && acctset_past_bound(s, id, len))
        return LR_OK;
    rc = acctset_insert(s, id, len, store_hist_hash(id, len) | 1);
    if (rc == 0 && s->keep_max != 0 && s->n >= s->keep_max)
        rc = acctset_cut(s);
    return rc;
}

int store_acctset_emit(struct store_acctset *s, uint64_t limit,
                       void (*fn)(const char *, void *), void *arg)
{
    const char **ids = NULL;
    int rc;

    rc = acctset_sorted(s, &ids);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->n && (limit == 0 || i < limit); i++)
        fn(ids[i], arg);
    free(ids);
    return LR_OK;
}
