/*
 * store_codec.c - the compact forms of store/: what is queued and stored.
 *
 * Callers hand the store large fixed-size structs (a profile is ~9 KiB, a
 * login ~2.5 KiB) so they never allocate. Queuing them as they are would make
 * a full queue cost hundreds of megabytes, so each is packed into one
 * allocation sized to its content before it is queued. A profile's devices,
 * countries and ASNs are stored as one small versioned blob:
 *
 *   u8 version (1)
 *   u8 n_devices, then per device: u16 len, id bytes, i64 first, i64 last
 *   u8 n_countries, then 2 bytes each
 *   u8 n_asns, then u32 each            (all integers little-endian)
 *
 * IPs are stored as 16-byte keys, IPv4 as ::ffff:a.b.c.d, so a CIDR of
 * either family is one BETWEEN range on an index.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define STORE_BLOB_VERSION 1

static const uint8_t store_v4_prefix[12] = {0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff};

int store_id_check(const char *id, size_t *len_out)
{
    size_t len;

    if (id == NULL)
        return LR_INVALID;
    len = strnlen(id, STORE_ID_MAX);
    if (len == 0 || len >= STORE_ID_MAX || !lr_utf8_valid(id, len))
        return LR_INVALID;
    if (len_out != NULL)
        *len_out = len;
    return LR_OK;
}

int store_text_check(const char *s, size_t cap)
{
    size_t len;

    if (s == NULL)
        return LR_OK;
    len = strnlen(s, cap);
    if (len >= cap || !lr_utf8_valid(s, len))
        return LR_INVALID;
    return LR_OK;
}

/* Length of a string held in a fixed array, or LR_INVALID if unterminated. */
static int store_field_len(const char *s, size_t cap, size_t *len)
{
    size_t n = strnlen(s, cap);

    if (n >= cap || !lr_utf8_valid(s, n))
        return LR_INVALID;
    *len = n;
    return LR_OK;
}

void store_ip_key(const uint8_t ip[16], uint8_t family, uint8_t key[16])
{
    if (family == 4) {
        memcpy(key, store_v4_prefix, 12);
        memcpy(key + 12, ip, 4);
    } else {
        memcpy(key, ip, 16);
    }
}

void store_ip_unkey(const uint8_t key[16], uint8_t ip[16], uint8_t *family)
{
    memset(ip, 0, 16);
    if (memcmp(key, store_v4_prefix, 12) == 0) {
        memcpy(ip, key + 12, 4);
        *family = 4;
    } else {
        memcpy(ip, key, 16);
        *family = 6;
    }
}

int store_cidr_range(const uint8_t net[16], uint8_t family, uint8_t bits,
                     uint8_t lo[16], uint8_t hi[16])
{
    unsigned total;

    if (family == 4 && bits <= 32)
        total = 96u + bits;
    else if (family == 6 && bits <= 128)
        total = bits;
    else
        return LR_INVALID;
    store_ip_key(net, family, lo);
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = total > i * 8 ? total - i * 8 : 0;
        uint8_t mask = keep >= 8 ? 0xff : (uint8_t)(0xff00u >> keep);

        lo[i] &= mask;
        hi[i] = (uint8_t)(lo[i] | (uint8_t)~mask);
    }
    return LR_OK;
}

/* ---- history rows ------------------------------------------------------ */

/* Total length of the joined reason codes; LR_INVALID for a bad code. */
static int store_reasons_len(const struct store_login *l, size_t *len)
{
    size_t total = 0, n;
    int rc;

    if (l->n_reasons > STORE_REASONS_MAX)
        return LR_INVALID;
    for (size_t i = 0; i < l->n_reasons; i++) {
        rc = store_field_len(l->reasons[i], sizeof(l->reasons[i]), &n);
        if (rc)
            return rc;
        if (n == 0 || memchr(l->reasons[i], ',', n) != NULL)
            return LR_INVALID;
        total += n + (i > 0);
    }
    *len = total;
    return LR_OK;
}

/* Copies @p len bytes of @p s to *@p pos, NUL-terminates, returns start. */
static const char *store_put(char **pos, const char *s, size_t len)
{
    char *start = *pos;

    memcpy(start, s, len);
    start[len] = '\0';
    *pos = start + len + 1;
    return start;
}

static char *store_hist_join(char *pos, const struct store_login *l)
{
    for (size_t i = 0; i < l->n_reasons; i++) {
        size_t n = strlen(l->reasons[i]);

        if (i > 0)
            *pos++ = ',';
        memcpy(pos, l->reasons[i], n);
        pos += n;
    }
    *pos = '\0';
    return pos + 1;
}

static int store_hist_lens(const struct store_login *l,
                           struct store_hist_rec *r)
{
    int rc;

    rc = store_field_len(l->account_id, sizeof(l->account_id), &r->account_len);
    if (rc == 0 && r->account_len == 0)
        rc = LR_INVALID;
    if (rc == 0)
        rc =
            store_field_len(l->device_id, sizeof(l->device_id), &r->device_len);
    if (rc == 0)
        rc = store_field_len(l->request_id, sizeof(l->request_id),
                             &r->request_len);
    if (rc == 0)
        rc = store_field_len(l->city, sizeof(l->city), &r->city_len);
    if (rc == 0)
        rc = store_reasons_len(l, &r->reasons_len);
    if (rc == 0 && (l->ip_family != 4 && l->ip_family != 6))
        rc = LR_INVALID;
    if (rc == 0 && strnlen(l->country, sizeof(l->country)) >= 3)
        rc = LR_INVALID;
    return rc;
}

int store_hist_pack(const struct store_login *l, struct store_hist_rec **out)
{
    struct store_hist_rec lens = {0}, *r = NULL;
    size_t text;
    char *pos;
    int rc;

    rc = store_hist_lens(l, &lens);
    if (rc)
        goto out;
    text = lens.account_len + lens.device_len + lens.request_len +
           lens.city_len + lens.reasons_len + 5;
    r = malloc(sizeof(*r) + text);
    if (r == NULL) {
        rc = LR_NOMEM;
        goto out;
    }
    *r = lens;
    r->hdr.kind = STORE_REC_HISTORY;
    r->ts_ms = l->ts_ms;
    r->has_location = l->has_location;
    r->lat = l->lat;
    r->lon = l->lon;
    r->asn = l->asn;
    r->credential = l->credential;
    r->action = l->action;
    r->score = l->score;
    memcpy(r->country, l->country, sizeof(r->country));
    store_ip_key(l->ip, l->ip_family, r->ip);
    pos = (char *)(r + 1);
    r->account = store_put(&pos, l->account_id, r->account_len);
    r->device = store_put(&pos, l->device_id, r->device_len);
    r->request = store_put(&pos, l->request_id, r->request_len);
    r->city = store_put(&pos, l->city, r->city_len);
    r->reasons = pos;
    store_hist_join(pos, l);
    *out = r;
out:
    return rc;
}

void store_reasons_split(const char *text, size_t len, struct store_login *l)
{
    size_t start = 0;

    l->n_reasons = 0;
    for (size_t i = 0; i <= len; i++) {
        size_t n = i - start;

        if (i < len && text[i] != ',')
            continue;
        if (n > 0 && n < sizeof(l->reasons[0]) &&
            l->n_reasons < STORE_REASONS_MAX) {
            memcpy(l->reasons[l->n_reasons], text + start, n);
            l->reasons[l->n_reasons][n] = '\0';
            l->n_reasons++;
        }
        start = i + 1;
    }
}

/* ---- profiles ---------------------------------------------------------- */

static unsigned char *store_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static unsigned char *store_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

/* Blob size for @p p, or LR_INVALID for counts over caps or bad strings. */
static int store_blob_size(const struct store_profile *p, size_t *size)
{
    size_t total = 4, n;
    int rc;

    if (p->n_devices > STORE_DEVICES_MAX || p->n_countries > STORE_PLACES_MAX ||
        p->n_asns > STORE_PLACES_MAX)
        return LR_INVALID;
    for (size_t i = 0; i < p->n_devices; i++) {
        rc = store_field_len(p->devices[i].id, sizeof(p->devices[i].id), &n);
        if (rc)
            return rc;
        total += 2 + n + 16;
    }
    for (size_t i = 0; i < p->n_countries; i++) {
        if (strnlen(p->countries[i], 3) >= 3)
            return LR_INVALID;
    }
    total += 2 * p->n_countries + 4 * p->n_asns;
    *size = total;
    return LR_OK;
}

static void store_blob_encode(const struct store_profile *p, unsigned char *b)
{
    *b++ = STORE_BLOB_VERSION;
    *b++ = (unsigned char)p->n_devices;
    for (size_t i = 0; i < p->n_devices; i++) {
        size_t n = strlen(p->devices[i].id);

        *b++ = (unsigned char)(n & 0xff);
        *b++ = (unsigned char)(n >> 8);
        memcpy(b, p->devices[i].id, n);
        b += n;
        b = store_put_u64(b, (uint64_t)p->devices[i].first_ms);
        b = store_put_u64(b, (uint64_t)p->devices[i].last_ms);
    }
    *b++ = (unsigned char)p->n_countries;
    for (size_t i = 0; i < p->n_countries; i++) {
        const char *c = p->countries[i];

        *b++ = (unsigned char)c[0];
        *b++ = c[0] != '\0' ? (unsigned char)c[1] : 0;
    }
    *b++ = (unsigned char)p->n_asns;
    for (size_t i = 0; i < p->n_asns; i++)
        b = store_put_u32(b, p->asns[i]);
}

int store_prof_pack(const struct store_profile *p, int64_t now_ms,
                    struct store_prof_rec **out)
{
    struct store_prof_rec lens = {0}, *r = NULL;
    unsigned char *blob;
    char *pos;
    int rc;

    rc = store_field_len(p->account_id, sizeof(p->account_id),
                         &lens.account_len);
    if (rc == 0 && lens.account_len == 0)
        rc = LR_INVALID;
    if (rc == 0)
        rc =
            store_field_len(p->last_city, sizeof(p->last_city), &lens.city_len);
    if (rc == 0 && strnlen(p->last_country, 3) >= 3)
        rc = LR_INVALID;
    if (rc == 0)
        rc = store_blob_size(p, &lens.blob_len);
    if (rc)
        goto out;
    r = malloc(sizeof(*r) + lens.account_len + lens.city_len + 2 +
               lens.blob_len);
    if (r == NULL) {
        rc = LR_NOMEM;
        goto out;
    }
    *r = lens;
    r->hdr.kind = STORE_REC_PROFILE;
    r->updated_ms = now_ms;
    r->last_success_ms = p->last_success_ms;
    r->has_location = p->last_has_location;
    r->lat = p->last_lat;
    r->lon = p->last_lon;
    r->radius_km = p->last_radius_km;
    r->flagged_spray = p->flagged_spray;
    memcpy(r->country, p->last_country, sizeof(r->country));
    pos = (char *)(r + 1);
    r->account = store_put(&pos, p->account_id, r->account_len);
    r->city = store_put(&pos, p->last_city, r->city_len);
    blob = (unsigned char *)pos;
    store_blob_encode(p, blob);
    r->blob = blob;
    *out = r;
out:
    return rc;
}

/* A bounded reader over a blob: every take checks the remaining length. */
struct store_reader {
    const unsigned char *p;
    size_t left;
};

static bool store_take(struct store_reader *r, void *dst, size_t n)
{
    if (r->left < n)
        return false;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return true;
}

static bool store_take_u64(struct store_reader *r, int64_t *v)
{
    unsigned char b[8];
    uint64_t x = 0;

    if (!store_take(r, b, 8))
        return false;
    for (int i = 7; i >= 0; i--)
        x = (x << 8) | b[i];
    *v = (int64_t)x;
    return true;
}

static bool store_take_device(struct store_reader *r, struct store_device *d)
{
    unsigned char lb[2];
    size_t n;

    if (!store_take(r, lb, 2))
        return false;
    n = (size_t)lb[0] | ((size_t)lb[1] << 8);
    if (n == 0 || n >= sizeof(d->id) || !store_take(r, d->id, n))
        return false;
    d->id[n] = '\0';
    if (strlen(d->id) != n)
        return false;
    return store_take_u64(r, &d->first_ms) && store_take_u64(r, &d->last_ms);
}

static bool store_take_places(struct store_reader *r, struct store_profile *p)
{
    unsigned char n, b[4];

    if (!store_take(r, &n, 1) || n > STORE_PLACES_MAX)
        return false;
    p->n_countries = n;
    for (size_t i = 0; i < n; i++) {
        if (!store_take(r, p->countries[i], 2))
            return false;
        p->countries[i][2] = '\0';
    }
    if (!store_take(r, &n, 1) || n > STORE_PLACES_MAX)
        return false;
    p->n_asns = n;
    for (size_t i = 0; i < n; i++) {
        if (!store_take(r, b, 4))
            return false;
        p->asns[i] = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
                     (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    }
    return true;
}

int store_prof_blob_decode(const void *blob, size_t len,
                           struct store_profile *p)
{
    struct store_reader r = {blob, len};
    unsigned char version, n;

    if (blob == NULL || !store_take(&r, &version, 1) ||
        version != STORE_BLOB_VERSION)
        return LR_CORRUPT;
    if (!store_take(&r, &n, 1) || n > STORE_DEVICES_MAX)
        return LR_CORRUPT;
    p->n_devices = n;
    for (size_t i = 0; i < n; i++) {
        if (!store_take_device(&r, &p->devices[i]))
            return LR_CORRUPT;
    }
    if (!store_take_places(&r, p) || r.left != 0)
        return LR_CORRUPT;
    return LR_OK;
}
