/*
 * geo_cache.h - internal to geo/: the two bounded caches in front of
 * libmaxminddb (geo_cache.c), used by geo_mmdb.c.
 *
 * A record cache per database maps a record's offset to what was decoded
 * from it; a network cache per database set maps an address to the whole
 * answer, valid for the largest network over which none of the databases
 * changes its answer. Both are direct-mapped, fixed in size when the
 * databases are opened, and safe from many threads (striped mutexes held
 * only to compare and copy one entry). A miss costs what a lookup cost
 * without them.
 */
#ifndef LR_GEO_CACHE_H
#define LR_GEO_CACHE_H

#include "geo/geo.h"

#include <stdbool.h>
#include <stdint.h>

struct geo_rcache;
struct geo_ncache;

/** A record cache of @p entries (a power of two). LR_NOMEM. */
LR_WUR int geo_rcache_new(uint32_t entries, struct geo_rcache **out);
/** NULL is a no-op. */
void geo_rcache_free(struct geo_rcache *c);

/**
 * Copies what the record at @p offset gave into @p part; false on a miss,
 * or when @p want_asn asks for a City record's own ASN fields and the
 * entry was decoded without them.
 */
bool geo_rcache_get(struct geo_rcache *c, uint32_t offset, bool want_asn,
                    struct geo_info *part);
/** Remembers @p part for the record at @p offset (replacing the entry). */
void geo_rcache_put(struct geo_rcache *c, uint32_t offset, bool asn_read,
                    const struct geo_info *part);

/** A network cache of @p entries (a power of two). LR_NOMEM. */
LR_WUR int geo_ncache_new(uint32_t entries, struct geo_ncache **out);
/** NULL is a no-op. */
void geo_ncache_free(struct geo_ncache *c);

/** Copies the answer for @p ip into @p out; false on a miss. */
bool geo_ncache_get(struct geo_ncache *c, const struct geo_ip *ip,
                    struct geo_info *out);
/**
 * Remembers @p info as the answer for every address in @p ip's network of
 * @p bits bits (0..32 for IPv4, 0..128 for IPv6).
 */
void geo_ncache_put(struct geo_ncache *c, const struct geo_ip *ip,
                    unsigned bits, const struct geo_info *info);

#endif
