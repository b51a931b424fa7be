/*
 * geo.h - IP addresses, prefixes, distances, and MaxMind database lookups.
 *
 * A struct geo_db is an immutable set of up to three databases (City or
 * Country, ASN, Anonymous-IP), each optional. It is opened whole, so a reload
 * builds a new set and the caller swaps pointers; a failed open leaves the
 * old set untouched. Lookups are thread-safe (libmaxminddb reads an mmap).
 *
 * The libmaxminddb calls live in geo_mmdb.c; the rest of the code sees only
 * this header.
 */
#ifndef LR_GEO_H
#define LR_GEO_H

#include "lr/lr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GEO_IP_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/** An IPv4 or IPv6 address; IPv4-mapped IPv6 is always folded to IPv4. */
struct geo_ip {
    uint8_t family;   /* 4 or 6 */
    uint8_t addr[16]; /* IPv4 uses addr[0..3]; the rest is zero */
};

/**
 * Parses IPv4 or IPv6 text (no port, no zone, no surrounding spaces) of
 * exactly @p len bytes. "::ffff:192.0.2.1" folds to 192.0.2.1.
 * Returns LR_INVALID on anything else; @p out is written only on success.
 */
LR_WUR int geo_ip_parse(const char *text, size_t len, struct geo_ip *out);

/** Formats @p ip into @p buf (at least GEO_IP_TEXT_MAX bytes). */
void geo_ip_format(const struct geo_ip *ip, char *buf, size_t cap);

/**
 * Keeps the first @p bits of @p ip and zeroes the rest (24 for an IPv4 /24,
 * 48 or 64 for IPv6). @p bits is clamped to 32 or 128.
 */
void geo_ip_prefix(const struct geo_ip *ip, unsigned bits, struct geo_ip *out);

/** A CIDR block such as 192.0.2.0/24 or 2001:db8::/32. */
struct geo_cidr {
    struct geo_ip net; /* already masked */
    uint8_t bits;
};

/**
 * Parses "addr/bits" (or a bare address, meaning /32 or /128) of @p len bytes.
 * Host bits that are set are cleared, not refused. LR_INVALID on bad text.
 */
LR_WUR int geo_cidr_parse(const char *text, size_t len, struct geo_cidr *out);

/** True when @p ip lies inside @p cidr (families must match). */
bool geo_cidr_contains(const struct geo_cidr *cidr, const struct geo_ip *ip);

/**
 * Great-circle distance in km between two points in degrees (haversine,
 * mean Earth radius 6371.0088 km).
 */
double geo_distance_km(double lat1, double lon1, double lat2, double lon2);

#define GEO_COUNTRY_MAX 3 /* "GB" + NUL */
#define GEO_CITY_MAX 96
#define GEO_ORG_MAX 128

/** What the databases know about one address; missing fields are zero. */
struct geo_info {
    char country[GEO_COUNTRY_MAX]; /* ISO alpha-2, "" when unknown */
    char city[GEO_CITY_MAX];       /* English name, "" when unknown */
    bool has_location;             /* latitude/longitude are meaningful */
    double latitude;
    double longitude;
    uint32_t accuracy_radius_km;
    uint32_t asn; /* 0 when unknown */
    char as_org[GEO_ORG_MAX];
    bool is_anonymous;
    bool is_hosting;
    bool is_tor;
    bool is_vpn;
    bool is_proxy; /* public or residential proxy */
};

/** Paths of the databases to open; NULL or "" means "not configured". */
struct geo_paths {
    const char *city;      /* GeoIP2/GeoLite2 City or Country */
    const char *asn;       /* GeoLite2-ASN, GeoIP2-ISP */
    const char *anonymous; /* GeoIP2-Anonymous-IP */
};

struct geo_db;

/**
 * Opens every configured database. Each file's metadata is checked: it must
 * open, have ip_version 6 or 4, and a database_type that fits its slot
 * (City/Country/Enterprise for city; ASN/ISP for asn; Anonymous-IP for
 * anonymous; a City database may also serve ASN fields if it has them),
 * and every search-tree record must point inside the file (a linear scan of
 * the tree, paid once per open). On failure returns LR_IO (missing,
 * unreadable, not a regular file), LR_CORRUPT (empty, bad file or wrong
 * type) or LR_NOMEM, and writes a message naming the file into @p err;
 * *@p out is then untouched and nothing stays open.
 * On success *@p out owns the databases; free with geo_db_free().
 */
LR_WUR int geo_db_open(const struct geo_paths *paths, struct geo_db **out,
                       char *err, size_t errcap);

/** Closes the databases. NULL is a no-op. */
void geo_db_free(struct geo_db *db);

/**
 * Looks @p ip up in every open database and fills @p out: fields no
 * database knows are zero/empty/false, so an address no database knows is
 * not an error (@p out is all zero). A NULL @p db means "no databases".
 * Country falls back to registered_country; the ASN comes from the ASN
 * database, else from top-level fields of the City database. A value of an
 * unexpected type is ignored (logged once per database). LR_CORRUPT if a
 * database answers with a data error (logged once); LR_INVALID for an
 * @p ip whose family is neither 4 nor 6. @p out is written only on success.
 */
LR_WUR int geo_lookup(const struct geo_db *db, const struct geo_ip *ip,
                      struct geo_info *out);

/**
 * Build time (Unix seconds) of the oldest open database, 0 when none is
 * open. Guards against absurd epochs (clamped to INT64_MAX / 1000).
 */
int64_t geo_db_build_epoch(const struct geo_db *db);

/** Short description for logs: "city=GeoIP2-City asn=- anonymous=-". */
void geo_db_describe(const struct geo_db *db, char *buf, size_t cap);

#endif
