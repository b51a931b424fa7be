/*
 * fuzz_history.c - libFuzzer target: decoding a login-history batch
 * (store_hist_iter_init/next, what GetAccount's recent logins and
 * LockByQuery run over every batch BLOB they read from SQLite).
 *
 * The input is a batch body. Every row the decoder gives must lie inside
 * the input, with an account and its strings within their caps and free
 * of NUL bytes (a copy would cut an account id short); a batch
 * has at most STORE_HIST_BATCH_ROWS rows, and reading ends with LR_NOTFOUND
 * only when the header's count was read and no byte is left. The rows go
 * through the encoder again (store_hist_batch_add/seal, a new batch when
 * one would not fit) and must decode to the same rows, the new Bloom
 * filter must hold their accounts and the term filter a query made of
 * their fields. Each row copied into a store_login (what GetAccount
 * returns) must have NUL-terminated fields; when store_hist_pack takes
 * that login, writing and reading it again gives it back unchanged. The
 * input is also read as the two filters a batch row stores beside its
 * body (store_hist_bloom_may, store_hist_terms_may): any bytes at all.
 */
#include "store/store_int.h"
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TERMINATED(f) (strnlen((f), sizeof(f)) < sizeof(f))

/* The encoder's batches, made once (they are large and fixed-size). */
static struct store_hist_batch *fuzz_batch;
static struct store_hist_batch *fuzz_one;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_util_init("fuzz_history");
    if (store_hist_batch_new(&fuzz_batch) != LR_OK ||
        store_hist_batch_new(&fuzz_one) != LR_OK)
        fuzz_die("no memory for the batches", NULL);
    return 0;
}

/* A query that every row of its own fields must match. */
struct fuzz_query {
    struct store_query q;
    uint8_t net[1][16];
    uint8_t family;
    uint8_t bits;
    uint8_t ranges[1][2][16];
    uint32_t asn;
    char country[3];
    const char *countries[1];
    char device[STORE_ID_MAX];
};

static void fuzz_query_of(const struct store_hist_view *v, struct fuzz_query *f)
{
    memset(f, 0, sizeof(*f));
    store_ip_unkey(v->ip, f->net[0], &f->family);
    f->bits = f->family == 4 ? 32 : 128;
    if (store_cidr_range(f->net[0], f->family, f->bits, f->ranges[0][0],
                         f->ranges[0][1]) != LR_OK)
        fuzz_die("a decoded address has no /32 or /128", NULL);
    f->q.cidr_nets = (const uint8_t(*)[16])f->net;
    f->q.cidr_families = &f->family;
    f->q.cidr_bits = &f->bits;
    f->q.n_cidrs = 1;
    f->asn = v->asn;
    f->q.asns = &f->asn;
    f->q.n_asns = 1;
    memcpy(f->country, v->country, sizeof(f->country));
    f->countries[0] = f->country;
    f->q.countries = f->countries;
    f->q.n_countries = 1;
    if (v->device_len > 0) { /* no NUL inside: fuzz_check_view() */
        memcpy(f->device, v->device, v->device_len);
        f->device[v->device_len] = '\0';
        f->q.device_id = f->device;
    }
    f->q.since_ms = v->ts_ms;
    f->q.until_ms = v->ts_ms;
}

static bool fuzz_inside(const void *p, size_t len, const uint8_t *data,
                        size_t size)
{
    const uint8_t *b = p;

    return b >= data && b <= data + size && len <= (size_t)(data + size - b);
}

/* What the decoder promises about one row of @p data. */
static void fuzz_check_view(const struct store_hist_view *v,
                            const uint8_t *data, size_t size)
{
    if (v->account_len == 0 || v->account_len >= STORE_ID_MAX ||
        v->device_len >= STORE_ID_MAX || v->request_len >= 65 ||
        v->city_len >= 96 || v->reasons_len > STORE_REASONS_MAX * 72)
        fuzz_die("a decoded string over its cap", NULL);
    if (!fuzz_inside(v->ip, 16, data, size) ||
        !fuzz_inside(v->account, v->account_len, data, size) ||
        !fuzz_inside(v->device, v->device_len, data, size) ||
        !fuzz_inside(v->request, v->request_len, data, size) ||
        !fuzz_inside(v->city, v->city_len, data, size) ||
        !fuzz_inside(v->reasons, v->reasons_len, data, size))
        fuzz_die("a decoded field outside the input", NULL);
    /* a reader's copy would end at a NUL: an account id cut short */
    if (memchr(v->account, '\0', v->account_len) != NULL ||
        memchr(v->device, '\0', v->device_len) != NULL ||
        memchr(v->request, '\0', v->request_len) != NULL ||
        memchr(v->city, '\0', v->city_len) != NULL ||
        memchr(v->reasons, '\0', v->reasons_len) != NULL)
        fuzz_die("a decoded string with a NUL inside", NULL);
    if (v->country[2] != '\0')
        fuzz_die("a country without its NUL", NULL);
    if (!store_hist_view_is(v, v->account, v->account_len))
        fuzz_die("a row is not its own account's", NULL);
}

/* What GetAccount gets from a row. */
static void fuzz_check_login(const struct store_login *l)
{
    if (!FUZZ_TERMINATED(l->request_id) || !FUZZ_TERMINATED(l->account_id) ||
        !FUZZ_TERMINATED(l->device_id) || !FUZZ_TERMINATED(l->country) ||
        !FUZZ_TERMINATED(l->city))
        fuzz_die("a login field without its NUL", NULL);
    if (l->ip_family != 4 && l->ip_family != 6)
        fuzz_die("a login address of no family", NULL);
    if (l->n_reasons > STORE_REASONS_MAX)
        fuzz_die("too many reasons", NULL);
    for (size_t i = 0; i < l->n_reasons; i++) {
        if (!FUZZ_TERMINATED(l->reasons[i]) || l->reasons[i][0] == '\0' ||
            strchr(l->reasons[i], ',') != NULL)
            fuzz_die("a reason code that is not one", l->reasons[i]);
    }
}

static bool fuzz_same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static bool fuzz_same_text(const char *a, size_t alen, const char *b,
                           size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/*
 * True when @p b (re-encoded) is @p a as the encoder writes it: the
 * position and the second country byte are written only when they mean
 * something.
 */
static bool fuzz_same_row(const struct store_hist_view *a,
                          const struct store_hist_view *b)
{
    bool loc = a->has_location;
    double zero = 0;

    return a->ts_ms == b->ts_ms && memcmp(a->ip, b->ip, 16) == 0 &&
           a->asn == b->asn && a->credential == b->credential &&
           a->action == b->action && a->score == b->score &&
           loc == b->has_location &&
           fuzz_same_bits(loc ? a->lat : zero, b->lat) &&
           fuzz_same_bits(loc ? a->lon : zero, b->lon) &&
           a->country[0] == b->country[0] &&
           (a->country[0] != '\0' ? a->country[1] : '\0') == b->country[1] &&
           fuzz_same_text(a->account, a->account_len, b->account,
                          b->account_len) &&
           fuzz_same_text(a->device, a->device_len, b->device, b->device_len) &&
           fuzz_same_text(a->request, a->request_len, b->request,
                          b->request_len) &&
           fuzz_same_text(a->city, a->city_len, b->city, b->city_len) &&
           fuzz_same_text(a->reasons, a->reasons_len, b->reasons,
                          b->reasons_len);
}

static void fuzz_rec_of(const struct store_hist_view *v,
                        struct store_hist_rec *r)
{
    memset(r, 0, sizeof(*r));
    r->hdr.kind = STORE_REC_HISTORY;
    r->ts_ms = v->ts_ms;
    r->lat = v->lat;
    r->lon = v->lon;
    r->asn = v->asn;
    r->credential = v->credential;
    r->action = v->action;
    r->score = v->score;
    r->has_location = v->has_location;
    memcpy(r->ip, v->ip, 16);
    memcpy(r->country, v->country, sizeof(r->country));
    r->account = v->account;
    r->account_len = v->account_len;
    r->device = v->device;
    r->device_len = v->device_len;
    r->request = v->request;
    r->request_len = v->request_len;
    r->city = v->city;
    r->city_len = v->city_len;
    r->reasons = v->reasons;
    r->reasons_len = v->reasons_len;
}

/* Seals fuzz_batch, which holds @p rows, and reads it back. */
static void fuzz_check_sealed(const struct store_hist_view *rows, uint32_t n)
{
    struct store_hist_sealed s;
    struct store_hist_iter it;
    struct store_hist_view v;
    struct fuzz_query f;
    int64_t lo = rows[0].ts_ms, hi = rows[0].ts_ms;
    uint32_t i = 0;
    int rc;

    store_hist_batch_seal(fuzz_batch, &s);
    if (s.n != n || s.body_len > STORE_HIST_BATCH_BYTES ||
        s.bloom_len > STORE_HIST_BLOOM_MAX ||
        s.terms_len > STORE_HIST_TERMS_BLOOM_MAX)
        fuzz_die("a sealed batch over its limits", NULL);
    if (store_hist_iter_init(&it, s.body, s.body_len) != LR_OK)
        fuzz_die("a sealed batch has a bad header", NULL);
    while ((rc = store_hist_iter_next(&it, &v)) == LR_OK) {
        if (i >= n || !fuzz_same_row(&rows[i], &v))
            fuzz_die("a re-encoded row decodes differently", NULL);
        fuzz_check_view(&v, s.body, s.body_len);
        if (!store_hist_bloom_may(s.bloom, s.bloom_len,
                                  store_hist_hash(v.account, v.account_len)))
            fuzz_die("the Bloom filter lost an account", NULL);
        fuzz_query_of(&v, &f);
        if (!store_hist_terms_may(s.terms, s.terms_len, &f.q,
                                  (const uint8_t(*)[2][16])f.ranges))
            fuzz_die("the term filter lost a row's terms", NULL);
        if (!store_hist_match(&v, &f.q, (const uint8_t(*)[2][16])f.ranges))
            fuzz_die("a row does not match its own fields", NULL);
        lo = v.ts_ms < lo ? v.ts_ms : lo;
        hi = v.ts_ms > hi ? v.ts_ms : hi;
        i++;
    }
    if (rc != LR_NOTFOUND || i != n)
        fuzz_die("a re-encoded batch does not read back whole", NULL);
    if (s.ts_min != lo || s.ts_max != hi)
        fuzz_die("a sealed batch's time range is not its rows'", NULL);
    store_hist_batch_reset(fuzz_batch);
}

/* Decoded rows written again in as many batches as the encoder wants. */
static void fuzz_reencode(const struct store_hist_view *rows, uint32_t n)
{
    struct store_hist_rec r;
    uint32_t first = 0;

    store_hist_batch_reset(fuzz_batch);
    for (uint32_t i = 0; i < n; i++) {
        fuzz_rec_of(&rows[i], &r);
        if (!store_hist_batch_fits(fuzz_batch, &r)) {
            fuzz_check_sealed(rows + first, i - first);
            first = i;
        }
        store_hist_batch_add(fuzz_batch, &r, 1);
    }
    if (n > first)
        fuzz_check_sealed(rows + first, n - first);
}

static bool fuzz_same_login(const struct store_login *a,
                            const struct store_login *b)
{
    bool loc = a->has_location;

    if (a->n_reasons != b->n_reasons)
        return false;
    for (size_t i = 0; i < a->n_reasons; i++) {
        if (strcmp(a->reasons[i], b->reasons[i]) != 0)
            return false;
    }
    return strcmp(a->request_id, b->request_id) == 0 &&
           strcmp(a->account_id, b->account_id) == 0 &&
           strcmp(a->device_id, b->device_id) == 0 &&
           strcmp(a->country, b->country) == 0 &&
           strcmp(a->city, b->city) == 0 && a->ts_ms == b->ts_ms &&
           memcmp(a->ip, b->ip, 16) == 0 && a->ip_family == b->ip_family &&
           a->credential == b->credential && a->action == b->action &&
           a->score == b->score && loc == b->has_location &&
           (!loc || (fuzz_same_bits(a->lat, b->lat) &&
                     fuzz_same_bits(a->lon, b->lon))) &&
           a->asn == b->asn;
}

/* A row as GetAccount returns it, and that login stored and read again. */
static void fuzz_login_trip(const struct store_hist_view *v)
{
    static struct store_login l, back;
    struct store_hist_rec *r = NULL;
    struct store_hist_sealed s;
    struct store_hist_iter it;
    struct store_hist_view w;

    store_hist_view_login(v, &l);
    fuzz_check_login(&l);
    if (store_hist_pack(&l, &r) != LR_OK)
        return; /* not UTF-8, an empty account after a NUL: not storable */
    store_hist_batch_reset(fuzz_one);
    store_hist_batch_add(fuzz_one, r, 1);
    free(r); /* the batch has copied it */
    store_hist_batch_seal(fuzz_one, &s);
    if (store_hist_iter_init(&it, s.body, s.body_len) != LR_OK ||
        store_hist_iter_next(&it, &w) != LR_OK)
        fuzz_die("a stored login does not read back", l.account_id);
    store_hist_view_login(&w, &back);
    if (store_hist_iter_next(&it, &w) != LR_NOTFOUND)
        fuzz_die("a stored login reads back as more", l.account_id);
    if (!fuzz_same_login(&l, &back))
        fuzz_die("a login changed when stored again", l.account_id);
}

/* The input as a batch row's filters: any bytes, any length. */
static void fuzz_filters(const uint8_t *data, size_t size)
{
    static const uint8_t net6[16] = {0x20, 0x01, 0x0d, 0xb8};
    static const uint8_t net4[16] = {192, 0, 2, 0};
    static const char *const countries[] = {"GB", "", "X"};
    static const uint32_t asns[] = {0, 13335, 4294967295u};
    uint8_t nets[2][16], families[2] = {6, 4}, bits[2] = {48, 24};
    uint8_t ranges[2][2][16];
    struct store_query q = {0};

    memcpy(nets[0], net6, 16);
    memcpy(nets[1], net4, 16);
    for (size_t i = 0; i < 2; i++) {
        if (store_cidr_range(nets[i], families[i], bits[i], ranges[i][0],
                             ranges[i][1]) != LR_OK)
            fuzz_die("a fixed CIDR is refused", NULL);
    }
    (void)store_hist_bloom_may(data, size, store_hist_hash("alice", 5));
    q.cidr_nets = (const uint8_t(*)[16])nets;
    q.cidr_families = families;
    q.cidr_bits = bits;
    q.n_cidrs = 2;
    q.asns = asns;
    q.n_asns = 3;
    q.countries = countries;
    q.n_countries = 3;
    q.device_id = "device-1";
    (void)store_hist_terms_may(data, size, &q, (const uint8_t(*)[2][16])ranges);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct store_hist_view rows[STORE_HIST_BATCH_ROWS];
    struct store_hist_iter it;
    struct store_hist_view v;
    uint32_t n = 0;
    int rc;

    fuzz_filters(data, size);
    rc = store_hist_iter_init(&it, data, size);
    if (rc == LR_CORRUPT)
        return 0;
    if (rc != LR_OK)
        fuzz_die("iter_init: neither a batch nor corrupt", lr_strerror(rc));
    while ((rc = store_hist_iter_next(&it, &v)) == LR_OK) {
        if (n == STORE_HIST_BATCH_ROWS)
            fuzz_die("more rows than a batch may hold", NULL);
        fuzz_check_view(&v, data, size);
        rows[n++] = v;
    }
    if (rc != LR_NOTFOUND && rc != LR_CORRUPT)
        fuzz_die("iter_next: an unexpected error", lr_strerror(rc));
    if (rc == LR_NOTFOUND &&
        (it.left != 0 ||
         n != ((uint32_t)data[4] | (uint32_t)data[5] << 8 |
               (uint32_t)data[6] << 16 | (uint32_t)data[7] << 24)))
        fuzz_die("a batch ended before its count or its bytes", NULL);
    /* the rows before a damaged one are what a reader has already used */
    for (uint32_t i = 0; i < n; i++)
        fuzz_login_trip(&rows[i]);
    fuzz_reencode(rows, n);
    return 0;
}
