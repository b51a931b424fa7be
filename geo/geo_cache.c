/*
 * geo_cache.c - the record and network caches in front of libmaxminddb.
 *
 * Why two. Decoding a record (a dozen key searches in its maps) costs far
 * more than finding it, and every address of a network shares one record:
 * the record cache, keyed by the record's offset in the data section, makes
 * a second address of a known network cost only the tree walks. The tree
 * walks themselves (one per database, up to 128 levels for IPv6) are then
 * most of a lookup; but each database says how long the network it answered
 * for is (its netmask, found or not), and the answer of the set is the same
 * for every address in the longest of them. So the network cache keeps the
 * whole answer with that network, and an address inside it costs one probe.
 *
 * Shape. Both are direct-mapped arrays with a power-of-two size fixed at
 * open, so memory is bounded and never grows. Network entries are indexed by
 * the address's /24 (IPv4) or /48 (IPv6), GEO_NET_INDEX_*: all addresses of
 * a network that long or shorter meet in one slot; a longer network shares
 * its slot with its neighbours, which then replace one another (a miss,
 * never a wrong answer, since a hit needs the address inside the entry's
 * own network). An entry is written whole under its stripe's mutex and read
 * whole under it, so readers never see half an entry.
 */
#include "geo/geo_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GEO_STRIPES 16 /* mutexes per cache */
#define GEO_NET_INDEX_V4 24
#define GEO_NET_INDEX_V6 48

/*
 * What both caches are: a power-of-two array of entries (of the cache's own
 * type) and the stripe mutexes that guard them. It is the first member of
 * each cache, so a cache's pointer is its table's.
 */
struct geo_table {
    pthread_mutex_t mu[GEO_STRIPES];
    void *e;
    uint32_t mask;
};

/* What one record gave: only the fields of its database's slot are set. */
struct geo_rentry {
    uint32_t offset;
    bool used;
    bool asn_read; /* a City record's own ASN fields are in part too */
    struct geo_info part;
};

struct geo_rcache {
    struct geo_table t; /* of struct geo_rentry */
};

/* The answer for every address of net/bits. */
struct geo_nentry {
    bool used;
    uint8_t bits;
    struct geo_ip net; /* masked to bits */
    struct geo_info info;
};

struct geo_ncache {
    struct geo_table t; /* of struct geo_nentry */
};

/*
 * Allocates a cache of @p cache_size bytes, which begins with a struct
 * geo_table, and its @p entries entries (a power of two) of @p entry_size
 * bytes, zeroed (unused). NULL when out of memory.
 */
static void *geo_table_new(size_t cache_size, uint32_t entries,
                           size_t entry_size)
{
    struct geo_table *t = calloc(1, cache_size);

    if (t == NULL)
        return NULL;
    t->e = calloc(entries, entry_size);
    if (t->e == NULL) {
        free(t);
        return NULL;
    }
    t->mask = entries - 1;
    for (int i = 0; i < GEO_STRIPES; i++)
        pthread_mutex_init(&t->mu[i], NULL);
    return t;
}

/* Frees a cache made by geo_table_new(); NULL is a no-op. */
static void geo_table_free(struct geo_table *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < GEO_STRIPES; i++)
        pthread_mutex_destroy(&t->mu[i]);
    free(t->e);
    free(t);
}

/* Fibonacci hashing of a 64-bit value down to an index under @p mask. */
static uint32_t geo_index(uint64_t v, uint32_t mask)
{
    return (uint32_t)((v * 0x9e3779b97f4a7c15ULL) >> 40) & mask;
}

/* ---- records ------------------------------------------------------------ */

int geo_rcache_new(uint32_t entries, struct geo_rcache **out)
{
    struct geo_rcache *c =
        geo_table_new(sizeof(*c), entries, sizeof(struct geo_rentry));

    if (c == NULL)
        return LR_NOMEM;
    *out = c;
    return LR_OK;
}

void geo_rcache_free(struct geo_rcache *c)
{
    geo_table_free(c ? &c->t : NULL);
}

bool geo_rcache_get(struct geo_rcache *c, uint32_t offset, bool want_asn,
                    struct geo_info *part)
{
    uint32_t i = geo_index(offset, c->t.mask);
    pthread_mutex_t *mu = &c->t.mu[i % GEO_STRIPES];
    const struct geo_rentry *ent = (const struct geo_rentry *)c->t.e + i;
    bool hit;

    pthread_mutex_lock(mu);
    hit = ent->used && ent->offset == offset && (!want_asn || ent->asn_read);
    if (hit)
        *part = ent->part;
    pthread_mutex_unlock(mu);
    return hit;
}

void geo_rcache_put(struct geo_rcache *c, uint32_t offset, bool asn_read,
                    const struct geo_info *part)
{
    uint32_t i = geo_index(offset, c->t.mask);
    pthread_mutex_t *mu = &c->t.mu[i % GEO_STRIPES];
    struct geo_rentry *ent = (struct geo_rentry *)c->t.e + i;

    pthread_mutex_lock(mu);
    ent->offset = offset;
    ent->used = true;
    ent->asn_read = asn_read;
    ent->part = *part;
    pthread_mutex_unlock(mu);
}

/* ---- networks ----------------------------------------------------------- */

int geo_ncache_new(uint32_t entries, struct geo_ncache **out)
{
    struct geo_ncache *c =
        geo_table_new(sizeof(*c), entries, sizeof(struct geo_nentry));

    if (c == NULL)
        return LR_NOMEM;
    *out = c;
    return LR_OK;
}

void geo_ncache_free(struct geo_ncache *c)
{
    geo_table_free(c ? &c->t : NULL);
}

/* The slot of @p ip: its /24 or /48 with the family, folded. */
static uint32_t geo_net_slot(const struct geo_ncache *c,
                             const struct geo_ip *ip)
{
    uint64_t a, b = 0;
    struct geo_ip pfx;

    if (ip->family == 4) {
        geo_ip_prefix(ip, GEO_NET_INDEX_V4, &pfx);
        memcpy(&a, pfx.addr, sizeof(a)); /* addr[4..7] are zero */
        return geo_index(a ^ 4, c->t.mask);
    }
    geo_ip_prefix(ip, GEO_NET_INDEX_V6, &pfx);
    memcpy(&a, pfx.addr, sizeof(a));
    memcpy(&b, pfx.addr + 8, sizeof(b));
    return geo_index((a ^ (b * 0xff51afd7ed558ccdULL)) ^ 6, c->t.mask);
}

/* True when @p ip lies in the entry's network. */
static bool geo_net_holds(const struct geo_nentry *ent, const struct geo_ip *ip)
{
    struct geo_ip pfx;

    if (!ent->used || ent->net.family != ip->family)
        return false;
    geo_ip_prefix(ip, ent->bits, &pfx);
    return memcmp(pfx.addr, ent->net.addr, sizeof(pfx.addr)) == 0;
}

bool geo_ncache_get(struct geo_ncache *c, const struct geo_ip *ip,
                    struct geo_info *out)
{
    uint32_t i = geo_net_slot(c, ip);
    pthread_mutex_t *mu = &c->t.mu[i % GEO_STRIPES];
    const struct geo_nentry *ent = (const struct geo_nentry *)c->t.e + i;
    bool hit;

    pthread_mutex_lock(mu);
    hit = geo_net_holds(ent, ip);
    if (hit)
        *out = ent->info;
    pthread_mutex_unlock(mu);
    return hit;
}

void geo_ncache_put(struct geo_ncache *c, const struct geo_ip *ip,
                    unsigned bits, const struct geo_info *info)
{
    uint32_t i = geo_net_slot(c, ip);
    pthread_mutex_t *mu = &c->t.mu[i % GEO_STRIPES];
    struct geo_nentry *ent = (struct geo_nentry *)c->t.e + i;
    struct geo_ip net;

    geo_ip_prefix(ip, bits, &net);
    pthread_mutex_lock(mu);
    ent->used = true;
    ent->bits = (uint8_t)(bits > 128 ? 128 : bits);
    ent->net = net;
    ent->info = *info;
    pthread_mutex_unlock(mu);
}
