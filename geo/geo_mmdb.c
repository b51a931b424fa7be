/*
 * geo_mmdb.c - the libmaxminddb adapter: opens the City/Country, ASN and
 * Anonymous-IP databases and answers lookups in the project's own terms.
 *
 * This is the only file that calls libmaxminddb. It is shaped by four facts:
 *
 * - Debian 12 ships libmaxminddb 1.7.1, which misses several later fixes for
 *   corrupt files. So a database is checked when it is opened: its metadata
 *   must name a database_type that fits the slot it was configured for and an
 *   ip_version of 4 or 6, and every search-tree record must point at a node,
 *   "empty", or inside the data section (1.7.1 does not check the last).
 *   Databases should still come only from trusted paths.
 * - A lookup reads a dozen fixed paths with MMDB_aget_value and static path
 *   arrays (MMDB_get_value would malloc a copy of its variadic path on every
 *   call); it never builds an entry-data list, so a lookup allocates
 *   nothing. The location map is found once and its three keys read from
 *   it, rather than walking the record from the top three times. Every
 *   value's type is checked before its union member is read. A missing key
 *   is "unknown" or false; a key of the wrong type is ignored and logged
 *   once per database.
 * - A lookup sits on every evaluation, and most addresses belong to networks
 *   seen before. So two bounded caches sit in front (geo_cache.c): decoded
 *   records by offset, per database, and whole answers by network, per
 *   database set, the network being the longest of those the databases
 *   answered for (their netmasks). Both are exact; an answer that failed
 *   (LR_CORRUPT) is never cached, so it fails every time.
 * - Errors are translated here: open failures become LR_IO (cannot read the
 *   file) or LR_CORRUPT (not a usable database) with a message that names the
 *   file and carries libmaxminddb's own text; lookup failures become
 *   LR_CORRUPT.
 *
 * A struct geo_db is immutable once opened, apart from the atomic "already
 * logged" flags and the caches, whose entries are guarded by striped mutexes
 * held only to compare and copy one entry.
 */
#include "geo/geo.h"
#include "geo/geo_cache.h"

#include <maxminddb.h>

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Database slots, in the order of struct geo_paths. */
enum geo_slot_kind {
    GEO_SLOT_CITY = 0,
    GEO_SLOT_ASN = 1,
    GEO_SLOT_ANON = 2,
    GEO_SLOT_COUNT
};

#define GEO_TYPE_TOKENS_MAX 4
#define GEO_DESC_TYPE_MAX 64

/*
 * Which database_type values a slot takes: the type is split at '-' and one
 * of its words must be listed, so "GeoIP2-City", "GeoLite2-City",
 * "GeoIP2-City-Europe", "GeoIP2-Country" and "DBIP-City-Lite" all fit the
 * city slot, while "GeoLite2-ASN" does not.
 */
struct geo_slot_def {
    const char *name;
    const char *tokens[GEO_TYPE_TOKENS_MAX];
};

static const struct geo_slot_def geo_slot_defs[GEO_SLOT_COUNT] = {
    {"city", {"City", "Country", "Enterprise", NULL}},
    {"asn", {"ASN", "ISP", NULL, NULL}},
    {"anonymous", {"Anonymous", NULL, NULL, NULL}},
};

/* Cache entries (powers of two): records per database slot, and answers
 * per database set (geo_cache.c). */
#define GEO_CACHE_CITY 1024
#define GEO_CACHE_ASN 512
#define GEO_CACHE_ANON 128
#define GEO_CACHE_NETS 2048

/* One open database. Allocated separately so the logged flag and the cache
 * can change while the geo_db that holds it is shared read-only. */
struct geo_slot {
    MMDB_s mmdb;
    char *path;
    enum geo_slot_kind kind;
    bool opened; /* MMDB_open succeeded, so MMDB_close is owed */
    atomic_bool logged;
    struct geo_rcache *cache;
};

static const uint32_t geo_cache_size[GEO_SLOT_COUNT] = {
    [GEO_SLOT_CITY] = GEO_CACHE_CITY,
    [GEO_SLOT_ASN] = GEO_CACHE_ASN,
    [GEO_SLOT_ANON] = GEO_CACHE_ANON,
};

struct geo_db {
    struct geo_slot *slot[GEO_SLOT_COUNT];
    struct geo_ncache *nets; /* a pointer: it changes while db is shared */
};

/* The value kinds the adapter reads; wider than one MMDB type each. */
enum geo_kind {
    GEO_KIND_TEXT,
    GEO_KIND_REAL,
    GEO_KIND_UINT,
    GEO_KIND_BOOL,
};

/* Copies metadata text for logs: printable ASCII only, bounded. */
static void geo_safe_copy(char *dst, size_t cap, const char *src)
{
    size_t i = 0;

    if (src == NULL)
        src = "-";
    for (; src[i] != '\0' && i + 1 < cap; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    dst[i] = '\0';
}

static bool geo_type_fits(enum geo_slot_kind kind, const char *type)
{
    const char *const *tok = geo_slot_defs[kind].tokens;
    const char *p = type;

    while (p != NULL && *p != '\0') {
        const char *dash = strchr(p, '-');
        size_t n = dash != NULL ? (size_t)(dash - p) : strlen(p);
        for (size_t i = 0; i < GEO_TYPE_TOKENS_MAX && tok[i] != NULL; i++) {
            if (strlen(tok[i]) == n && memcmp(tok[i], p, n) == 0)
                return true;
        }
        p = dash != NULL ? dash + 1 : NULL;
    }
    return false;
}

static int geo_mmdb_open_rc(int status)
{
    switch (status) {
    case MMDB_FILE_OPEN_ERROR:
    case MMDB_IO_ERROR:
        return LR_IO;
    case MMDB_OUT_OF_MEMORY_ERROR:
        return LR_NOMEM;
    default:
        return LR_CORRUPT;
    }
}

/* A record is a node, "empty" (== node_count), or a data-section offset. */
static bool geo_record_ok(uint64_t rec, uint64_t nodes, uint64_t data_end)
{
    return rec <= nodes || (rec >= nodes + 16 && rec < data_end);
}

/*
 * Walks every search-tree node once. O(node_count): a few tens of
 * milliseconds for a full commercial City database, paid at open and reload
 * only, and it pages the tree in before the first lookup needs it.
 */
static int geo_check_tree(const MMDB_s *mmdb)
{
    uint64_t nodes = mmdb->metadata.node_count;
    uint64_t data_end = nodes + 16 + mmdb->data_section_size;
    MMDB_search_node_s node;

    for (uint32_t i = 0; i < mmdb->metadata.node_count; i++) {
        if (MMDB_read_node(mmdb, i, &node) != MMDB_SUCCESS)
            return LR_CORRUPT;
        if (!geo_record_ok(node.left_record, nodes, data_end) ||
            !geo_record_ok(node.right_record, nodes, data_end))
            return LR_CORRUPT;
    }
    return LR_OK;
}

static int geo_check_metadata(const struct geo_slot *s, char *err,
                              size_t errcap)
{
    const MMDB_metadata_s *md = &s->mmdb.metadata;
    const char *name = geo_slot_defs[s->kind].name;
    char type[GEO_DESC_TYPE_MAX];

    geo_safe_copy(type, sizeof(type), md->database_type);
    if (md->ip_version != 4 && md->ip_version != 6) {
        return lr_errf(err, errcap, LR_CORRUPT,
                       "geo: %s database %s: unsupported ip_version %u", name,
                       s->path, (unsigned)md->ip_version);
    }
    if (md->database_type == NULL || !geo_type_fits(s->kind, type)) {
        return lr_errf(err, errcap, LR_CORRUPT,
                       "geo: %s database %s: database_type \"%s\" does not fit "
                       "the %s slot",
                       name, s->path, type, name);
    }
    if (geo_check_tree(&s->mmdb)) {
        return lr_errf(
            err, errcap, LR_CORRUPT,
            "geo: %s database %s: corrupt search tree (a record points "
            "outside the file)",
            name, s->path);
    }
    return LR_OK;
}

static void geo_slot_free(struct geo_slot *s)
{
    if (s == NULL)
        return;
    if (s->opened)
        MMDB_close(&s->mmdb);
    geo_rcache_free(s->cache);
    free(s->path);
    free(s);
}

/* Opens the raw file: LR_IO when it is missing or not a regular file. */
static int geo_slot_load(struct geo_slot *s, char *err, size_t errcap)
{
    const char *name = geo_slot_defs[s->kind].name;
    struct stat st;
    int status;

    if (stat(s->path, &st) != 0) {
        return lr_errf(err, errcap, LR_IO,
                       "geo: %s database %s: cannot open: %s", name, s->path,
                       strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return lr_errf(err, errcap, LR_IO,
                       "geo: %s database %s: not a regular file", name,
                       s->path);
    }
    if (st.st_size == 0) {
        return lr_errf(err, errcap, LR_CORRUPT,
                       "geo: %s database %s: file is empty", name, s->path);
    }
    status = MMDB_open(s->path, MMDB_MODE_MMAP, &s->mmdb);
    if (status != MMDB_SUCCESS) {
        int saved = errno; /* MMDB_open keeps the errno of its failure */
        return lr_errf(err, errcap, geo_mmdb_open_rc(status),
                       "geo: %s database %s: cannot load: %s%s%s", name,
                       s->path, MMDB_strerror(status),
                       status == MMDB_IO_ERROR ? ": " : "",
                       status == MMDB_IO_ERROR ? strerror(saved) : "");
    }
    s->opened = true;
    return LR_OK;
}

static int geo_slot_open(enum geo_slot_kind kind, const char *path,
                         struct geo_slot **out, char *err, size_t errcap)
{
    struct geo_slot *s = NULL;
    int rc;

    s = calloc(1, sizeof(*s));
    if (s != NULL)
        s->path = strdup(path);
    if (s == NULL || s->path == NULL ||
        geo_rcache_new(geo_cache_size[kind], &s->cache)) {
        rc =
            lr_errf(err, errcap, LR_NOMEM, "geo: %s database %s: out of memory",
                    geo_slot_defs[kind].name, path);
        goto out;
    }
    s->kind = kind;
    atomic_init(&s->logged, false);
    rc = geo_slot_load(s, err, errcap);
    if (rc)
        goto out;
    rc = geo_check_metadata(s, err, errcap);
    if (rc)
        goto out;
    *out = s;
    s = NULL;
out:
    geo_slot_free(s);
    return rc;
}

int geo_db_open(const struct geo_paths *paths, struct geo_db **out, char *err,
                size_t errcap)
{
    const char *p[GEO_SLOT_COUNT] = {NULL, NULL, NULL};
    struct geo_db *db = NULL;
    int rc = LR_OK;

    if (paths != NULL) {
        p[GEO_SLOT_CITY] = paths->city;
        p[GEO_SLOT_ASN] = paths->asn;
        p[GEO_SLOT_ANON] = paths->anonymous;
    }
    db = calloc(1, sizeof(*db));
    if (db == NULL || geo_ncache_new(GEO_CACHE_NETS, &db->nets)) {
        rc = lr_errf(err, errcap, LR_NOMEM, "geo: out of memory");
        goto out;
    }
    for (int k = 0; k < GEO_SLOT_COUNT; k++) {
        if (p[k] == NULL || p[k][0] == '\0')
            continue;
        rc = geo_slot_open((enum geo_slot_kind)k, p[k], &db->slot[k], err,
                           errcap);
        if (rc)
            goto out;
    }
    *out = db;
    db = NULL;
out:
    geo_db_free(db);
    return rc;
}

void geo_db_free(struct geo_db *db)
{
    if (db == NULL)
        return;
    geo_ncache_free(db->nets);
    for (int k = 0; k < GEO_SLOT_COUNT; k++)
        geo_slot_free(db->slot[k]);
    free(db);
}

/* Logs the first data problem of a database; later ones stay quiet. */
static void geo_log_once(struct geo_slot *s, const char *what, const char *why)
{
    if (atomic_exchange(&s->logged, true))
        return;
    lr_log(LR_LOG_WARN,
           "geo: %s database %s: %s: %s (further problems in this file are "
           "not logged)",
           geo_slot_defs[s->kind].name, s->path, what, why);
}

static bool geo_kind_matches(uint32_t type, enum geo_kind kind)
{
    switch (kind) {
    case GEO_KIND_TEXT:
        return type == MMDB_DATA_TYPE_UTF8_STRING;
    case GEO_KIND_REAL:
        return type == MMDB_DATA_TYPE_DOUBLE || type == MMDB_DATA_TYPE_FLOAT;
    case GEO_KIND_UINT:
        return type == MMDB_DATA_TYPE_UINT16 || type == MMDB_DATA_TYPE_UINT32 ||
               type == MMDB_DATA_TYPE_UINT64;
    case GEO_KIND_BOOL:
        return type == MMDB_DATA_TYPE_BOOLEAN;
    }
    return false;
}

/*
 * Judges the result of one MMDB_aget_value call. *have is true only when the
 * key exists with a value of @p kind. A missing key (or a path that runs
 * into a non-map) is normal; a value of another type is ignored and logged
 * once; a decoding error is LR_CORRUPT.
 */
static int geo_check_value(struct geo_slot *s, int status,
                           const MMDB_entry_data_s *d, enum geo_kind kind,
                           const char *what, bool *have)
{
    *have = false;
    /* libmaxminddb answers a missing key, and a path through a value that
     * is not a map, with the same code: both mean "not there". */
    if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
        return LR_OK;
    if (status != MMDB_SUCCESS) {
        geo_log_once(s, what, MMDB_strerror(status));
        return LR_CORRUPT;
    }
    if (!d->has_data)
        return LR_OK;
    if (!geo_kind_matches(d->type, kind)) {
        geo_log_once(s, what, "unexpected value type; ignored");
        return LR_OK;
    }
    *have = true;
    return LR_OK;
}

static double geo_real(const MMDB_entry_data_s *d)
{
    if (d->type == MMDB_DATA_TYPE_FLOAT)
        return (double)d->float_value;
    return d->double_value;
}

/* Reads an unsigned value; false when it does not fit in 32 bits. */
static bool geo_uint32(const MMDB_entry_data_s *d, uint32_t *out)
{
    if (d->type == MMDB_DATA_TYPE_UINT16) {
        *out = d->uint16;
        return true;
    }
    if (d->type == MMDB_DATA_TYPE_UINT32) {
        *out = d->uint32;
        return true;
    }
    if (d->uint64 > UINT32_MAX)
        return false;
    *out = (uint32_t)d->uint64;
    return true;
}

/*
 * Copies a string value into dst: it must lie inside the data section and
 * be valid UTF-8 without NUL; a value too long is cut at a character
 * boundary. False when the value is unusable.
 */
static bool geo_text(const struct geo_slot *s, const MMDB_entry_data_s *d,
                     char *dst, size_t cap)
{
    const uint8_t *lo = s->mmdb.data_section;
    const uint8_t *p = (const uint8_t *)d->utf8_string;
    size_t n = d->data_size;

    if (p < lo || n > s->mmdb.data_section_size ||
        (size_t)(p - lo) > s->mmdb.data_section_size - n)
        return false;
    if (!lr_utf8_valid(d->utf8_string, n))
        return false;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && (p[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
    return true;
}

/* Reads one string at a path; an unusable value is logged and skipped. */
static int geo_get_text(struct geo_slot *s, int status,
                        const MMDB_entry_data_s *d, const char *what, char *dst,
                        size_t cap)
{
    bool have;
    int rc = geo_check_value(s, status, d, GEO_KIND_TEXT, what, &have);

    if (rc || !have)
        return rc;
    if (!geo_text(s, d, dst, cap)) {
        geo_log_once(s, what, "string is not valid UTF-8; ignored");
        dst[0] = '\0';
    }
    return LR_OK;
}

/* Paths read from a record: static, so MMDB_aget_value copies nothing. */
static const char *const geo_p_country[] = {"country", "iso_code", NULL};
static const char *const geo_p_reg_country[] = {"registered_country",
                                                "iso_code", NULL};
static const char *const geo_p_city[] = {"city", "names", "en", NULL};
static const char *const geo_p_location[] = {"location", NULL};
static const char *const geo_p_lat[] = {"latitude", NULL};
static const char *const geo_p_lon[] = {"longitude", NULL};
static const char *const geo_p_radius[] = {"accuracy_radius", NULL};
static const char *const geo_p_asn[] = {"autonomous_system_number", NULL};
static const char *const geo_p_as_org[] = {"autonomous_system_organization",
                                           NULL};

/* country/iso_code, else registered_country/iso_code: two letters A-Z. */
static int geo_read_country(struct geo_slot *s, MMDB_entry_s *e,
                            struct geo_info *info)
{
    char iso[8] = "";
    MMDB_entry_data_s d;
    int rc;

    rc = geo_get_text(s, MMDB_aget_value(e, &d, geo_p_country), &d,
                      "country/iso_code", iso, sizeof(iso));
    if (rc == LR_OK && iso[0] == '\0')
        rc = geo_get_text(s, MMDB_aget_value(e, &d, geo_p_reg_country), &d,
                          "registered_country/iso_code", iso, sizeof(iso));
    if (rc)
        return rc;
    if (strlen(iso) == 2 && iso[0] >= 'A' && iso[0] <= 'Z' && iso[1] >= 'A' &&
        iso[1] <= 'Z')
        memcpy(info->country, iso, 3);
    else if (iso[0] != '\0')
        geo_log_once(s, "country/iso_code", "not an ISO alpha-2 code");
    return LR_OK;
}

static int geo_get_real(struct geo_slot *s, int status,
                        const MMDB_entry_data_s *d, const char *what,
                        double *out, bool *have)
{
    int rc = geo_check_value(s, status, d, GEO_KIND_REAL, what, have);

    if (rc == LR_OK && *have)
        *out = geo_real(d);
    return rc;
}

static int geo_get_uint(struct geo_slot *s, int status,
                        const MMDB_entry_data_s *d, const char *what,
                        uint32_t *out)
{
    bool have;
    int rc = geo_check_value(s, status, d, GEO_KIND_UINT, what, &have);

    if (rc || !have)
        return rc;
    if (!geo_uint32(d, out))
        geo_log_once(s, what, "value does not fit in 32 bits; ignored");
    return LR_OK;
}

/*
 * The value at "location", as an entry the three coordinate paths start
 * from. Reading them from here gives what the full paths would (a scalar
 * answers "not there", a map or array is searched the same way), without
 * walking the record's top-level keys three times. *found false when the
 * record has no location.
 */
static int geo_location_entry(struct geo_slot *s, MMDB_entry_s *e,
                              MMDB_entry_s *loc, bool *found)
{
    MMDB_entry_data_s d;
    int status = MMDB_aget_value(e, &d, geo_p_location);

    *found = false;
    if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
        return LR_OK;
    if (status != MMDB_SUCCESS) {
        geo_log_once(s, "location", MMDB_strerror(status));
        return LR_CORRUPT;
    }
    if (!d.has_data)
        return LR_OK;
    loc->mmdb = e->mmdb;
    loc->offset = d.offset;
    *found = true;
    return LR_OK;
}

/* location/{latitude,longitude,accuracy_radius}; both coordinates or none. */
static int geo_read_location(struct geo_slot *s, MMDB_entry_s *e,
                             struct geo_info *info)
{
    MMDB_entry_data_s d;
    MMDB_entry_s loc;
    double lat = 0, lon = 0;
    bool have_loc = false, have_lat = false, have_lon = false;
    uint32_t radius = 0;
    int rc;

    rc = geo_location_entry(s, e, &loc, &have_loc);
    if (rc || !have_loc)
        return rc;
    rc = geo_get_real(s, MMDB_aget_value(&loc, &d, geo_p_lat), &d,
                      "location/latitude", &lat, &have_lat);
    if (rc == LR_OK)
        rc = geo_get_real(s, MMDB_aget_value(&loc, &d, geo_p_lon), &d,
                          "location/longitude", &lon, &have_lon);
    if (rc == LR_OK)
        rc = geo_get_uint(s, MMDB_aget_value(&loc, &d, geo_p_radius), &d,
                          "location/accuracy_radius", &radius);
    if (rc || !have_lat || !have_lon)
        return rc;
    if (!isfinite(lat) || !isfinite(lon) || fabs(lat) > 90.0 ||
        fabs(lon) > 180.0) {
        geo_log_once(s, "location", "coordinates out of range; ignored");
        return LR_OK;
    }
    info->has_location = true;
    info->latitude = lat;
    info->longitude = lon;
    info->accuracy_radius_km = radius;
    return LR_OK;
}

static int geo_read_city(struct geo_slot *s, MMDB_entry_s *e,
                         struct geo_info *info)
{
    MMDB_entry_data_s d;
    int rc;

    rc = geo_read_country(s, e, info);
    if (rc == LR_OK)
        rc = geo_get_text(s, MMDB_aget_value(e, &d, geo_p_city), &d,
                          "city/names/en", info->city, sizeof(info->city));
    if (rc == LR_OK)
        rc = geo_read_location(s, e, info);
    return rc;
}

/* Top-level autonomous_system_{number,organization}; the org only with a
 * number, so the two always come from the same database. */
static int geo_read_asn(struct geo_slot *s, MMDB_entry_s *e,
                        struct geo_info *info)
{
    MMDB_entry_data_s d;
    uint32_t asn = 0;
    int rc;

    rc = geo_get_uint(s, MMDB_aget_value(e, &d, geo_p_asn), &d,
                      "autonomous_system_number", &asn);
    if (rc || asn == 0)
        return rc;
    info->asn = asn;
    return geo_get_text(s, MMDB_aget_value(e, &d, geo_p_as_org), &d,
                        "autonomous_system_organization", info->as_org,
                        sizeof(info->as_org));
}

/* The Anonymous-IP flags, each a one-key path of its own. */
enum geo_flag {
    GEO_F_ANONYMOUS,
    GEO_F_VPN,
    GEO_F_HOSTING,
    GEO_F_PUBLIC_PROXY,
    GEO_F_RESIDENTIAL_PROXY,
    GEO_F_TOR,
    GEO_F_COUNT
};

static const char *const geo_p_flag[GEO_F_COUNT][2] = {
    [GEO_F_ANONYMOUS] = {"is_anonymous", NULL},
    [GEO_F_VPN] = {"is_anonymous_vpn", NULL},
    [GEO_F_HOSTING] = {"is_hosting_provider", NULL},
    [GEO_F_PUBLIC_PROXY] = {"is_public_proxy", NULL},
    [GEO_F_RESIDENTIAL_PROXY] = {"is_residential_proxy", NULL},
    [GEO_F_TOR] = {"is_tor_exit_node", NULL},
};

static int geo_get_flag(struct geo_slot *s, MMDB_entry_s *e, enum geo_flag f,
                        bool *flag)
{
    MMDB_entry_data_s d;
    bool have;
    int rc;

    rc = geo_check_value(s, MMDB_aget_value(e, &d, geo_p_flag[f]), &d,
                         GEO_KIND_BOOL, geo_p_flag[f][0], &have);
    if (rc == LR_OK && have && d.boolean)
        *flag = true;
    return rc;
}

static int geo_read_anonymous(struct geo_slot *s, MMDB_entry_s *e,
                              struct geo_info *info)
{
    int rc;

    rc = geo_get_flag(s, e, GEO_F_ANONYMOUS, &info->is_anonymous);
    if (rc == LR_OK)
        rc = geo_get_flag(s, e, GEO_F_VPN, &info->is_vpn);
    if (rc == LR_OK)
        rc = geo_get_flag(s, e, GEO_F_HOSTING, &info->is_hosting);
    if (rc == LR_OK)
        rc = geo_get_flag(s, e, GEO_F_PUBLIC_PROXY, &info->is_proxy);
    if (rc == LR_OK)
        rc = geo_get_flag(s, e, GEO_F_RESIDENTIAL_PROXY, &info->is_proxy);
    if (rc == LR_OK)
        rc = geo_get_flag(s, e, GEO_F_TOR, &info->is_tor);
    return rc;
}

union geo_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

/*
 * IPv4 goes in as AF_INET even for an IPv6 tree: libmaxminddb then starts
 * at the tree's IPv4 subtree (::/96), where MaxMind and our fixtures store
 * IPv4 data. An IPv6 address against an IPv4-only tree is "not found".
 * *@p bits is the length of the network the answer (found or not) holds
 * for, counted in the address's own family: libmaxminddb counts an IPv4
 * address in an IPv6 tree from the tree's root, 96 bits above it.
 */
static int geo_find(struct geo_slot *s, const union geo_sockaddr *sa,
                    MMDB_entry_s *entry, bool *found, unsigned *bits)
{
    MMDB_lookup_result_s res;
    int status = MMDB_SUCCESS;

    res = MMDB_lookup_sockaddr(&s->mmdb, &sa->sa, &status);
    *found = false;
    *bits = 0;
    if (status == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
        return LR_OK;
    if (status != MMDB_SUCCESS) {
        geo_log_once(s, "lookup", MMDB_strerror(status));
        return LR_CORRUPT;
    }
    *bits = res.netmask;
    if (sa->sa.sa_family == AF_INET && s->mmdb.metadata.ip_version == 6)
        *bits = res.netmask > 96 ? res.netmask - 96u : 0;
    if (!res.found_entry)
        return LR_OK;
    *entry = res.entry;
    *found = true;
    return LR_OK;
}

static int geo_sockaddr_of(const struct geo_ip *ip, union geo_sockaddr *sa)
{
    memset(sa, 0, sizeof(*sa));
    if (ip->family == 4) {
        sa->v4.sin_family = AF_INET;
        memcpy(&sa->v4.sin_addr, ip->addr, 4);
        return LR_OK;
    }
    if (ip->family == 6) {
        sa->v6.sin6_family = AF_INET6;
        memcpy(&sa->v6.sin6_addr, ip->addr, 16);
        return LR_OK;
    }
    return LR_INVALID;
}

/* The entry for the address in one slot; *found false when the slot is
 * not open or does not know the address. */
static int geo_find_in(struct geo_slot *s, const union geo_sockaddr *sa,
                       MMDB_entry_s *entry, bool *found, unsigned *bits)
{
    *found = false;
    *bits = 0;
    if (s == NULL)
        return LR_OK;
    return geo_find(s, sa, entry, found, bits);
}

/*
 * Decodes what slot @p s's record @p e says into @p part (zeroed first): the
 * city slot's place (and with @p want_asn its own ASN fields), the ASN
 * slot's ASN, the anonymous slot's flags. From the cache when it holds the
 * record.
 */
static int geo_read_slot(struct geo_slot *s, MMDB_entry_s *e, bool want_asn,
                         struct geo_info *part)
{
    int rc;

    if (geo_rcache_get(s->cache, e->offset, want_asn, part))
        return LR_OK;
    memset(part, 0, sizeof(*part));
    switch (s->kind) {
    case GEO_SLOT_CITY:
        rc = geo_read_city(s, e, part);
        if (rc == LR_OK && want_asn)
            rc = geo_read_asn(s, e, part);
        break;
    case GEO_SLOT_ASN:
        rc = geo_read_asn(s, e, part);
        break;
    default:
        rc = geo_read_anonymous(s, e, part);
        break;
    }
    if (rc == LR_OK)
        geo_rcache_put(s->cache, e->offset, want_asn, part);
    return rc;
}

static void geo_merge_place(struct geo_info *info, const struct geo_info *p)
{
    memcpy(info->country, p->country, sizeof(info->country));
    memcpy(info->city, p->city, sizeof(info->city));
    info->has_location = p->has_location;
    info->latitude = p->latitude;
    info->longitude = p->longitude;
    info->accuracy_radius_km = p->accuracy_radius_km;
}

static void geo_merge_asn(struct geo_info *info, const struct geo_info *p)
{
    info->asn = p->asn;
    memcpy(info->as_org, p->as_org, sizeof(info->as_org));
}

static void geo_merge_flags(struct geo_info *info, const struct geo_info *p)
{
    info->is_anonymous = p->is_anonymous;
    info->is_hosting = p->is_hosting;
    info->is_tor = p->is_tor;
    info->is_vpn = p->is_vpn;
    info->is_proxy = p->is_proxy;
}

/* Reads the records found, in slot order, into @p info (zeroed). */
static int geo_read_found(struct geo_slot *const slot[GEO_SLOT_COUNT],
                          MMDB_entry_s ent[GEO_SLOT_COUNT],
                          const bool found[GEO_SLOT_COUNT],
                          struct geo_info *info)
{
    struct geo_info part;
    int rc = LR_OK;

    if (found[GEO_SLOT_CITY]) {
        rc = geo_read_slot(slot[GEO_SLOT_CITY], &ent[GEO_SLOT_CITY], false,
                           &part);
        if (rc == LR_OK)
            geo_merge_place(info, &part);
    }
    if (rc == LR_OK && found[GEO_SLOT_ASN]) {
        rc =
            geo_read_slot(slot[GEO_SLOT_ASN], &ent[GEO_SLOT_ASN], false, &part);
        if (rc == LR_OK)
            geo_merge_asn(info, &part);
    }
    /* No ASN database answer: a City database may carry the ASN itself. */
    if (rc == LR_OK && found[GEO_SLOT_CITY] && info->asn == 0) {
        rc = geo_read_slot(slot[GEO_SLOT_CITY], &ent[GEO_SLOT_CITY], true,
                           &part);
        if (rc == LR_OK)
            geo_merge_asn(info, &part);
    }
    if (rc == LR_OK && found[GEO_SLOT_ANON]) {
        rc = geo_read_slot(slot[GEO_SLOT_ANON], &ent[GEO_SLOT_ANON], false,
                           &part);
        if (rc == LR_OK)
            geo_merge_flags(info, &part);
    }
    return rc;
}

/*
 * The full lookup: every database's tree, then the records found (from the
 * record caches when they hold them). *@p bits is the network the answer
 * holds for: the longest of the databases' networks, inside all of them.
 */
static int geo_lookup_trees(struct geo_slot *const slot[GEO_SLOT_COUNT],
                            const struct geo_ip *ip, struct geo_info *info,
                            unsigned *bits)
{
    MMDB_entry_s ent[GEO_SLOT_COUNT];
    bool found[GEO_SLOT_COUNT];
    union geo_sockaddr sa;
    unsigned b;
    int rc;

    memset(info, 0, sizeof(*info));
    *bits = 0;
    rc = geo_sockaddr_of(ip, &sa);
    for (int k = 0; k < GEO_SLOT_COUNT && rc == LR_OK; k++) {
        rc = geo_find_in(slot[k], &sa, &ent[k], &found[k], &b);
        *bits = b > *bits ? b : *bits;
    }
    if (rc == LR_OK)
        rc = geo_read_found(slot, ent, found, info);
    return rc;
}

int geo_lookup(const struct geo_db *db, const struct geo_ip *ip,
               struct geo_info *out)
{
    struct geo_slot *none[GEO_SLOT_COUNT] = {NULL, NULL, NULL};
    struct geo_info info;
    unsigned bits;
    int rc;

    if (ip->family != 4 && ip->family != 6)
        return LR_INVALID;
    if (db != NULL && geo_ncache_get(db->nets, ip, out))
        return LR_OK;
    rc = geo_lookup_trees(db != NULL ? db->slot : none, ip, &info, &bits);
    if (rc)
        return rc;
    if (db != NULL)
        geo_ncache_put(db->nets, ip, bits, &info);
    *out = info;
    return LR_OK;
}

int64_t geo_db_build_epoch(const struct geo_db *db)
{
    const int64_t cap = INT64_MAX / 1000;
    uint64_t oldest = UINT64_MAX;
    bool any = false;

    if (db == NULL)
        return 0;
    for (int k = 0; k < GEO_SLOT_COUNT; k++) {
        const struct geo_slot *s = db->slot[k];
        if (s == NULL)
            continue;
        any = true;
        if (s->mmdb.metadata.build_epoch < oldest)
            oldest = s->mmdb.metadata.build_epoch;
    }
    if (!any)
        return 0;
    return oldest > (uint64_t)cap ? cap : (int64_t)oldest;
}

void geo_db_describe(const struct geo_db *db, char *buf, size_t cap)
{
    char type[GEO_SLOT_COUNT][GEO_DESC_TYPE_MAX];

    if (buf == NULL || cap == 0)
        return;
    for (int k = 0; k < GEO_SLOT_COUNT; k++) {
        const struct geo_slot *s = db != NULL ? db->slot[k] : NULL;
        geo_safe_copy(type[k], sizeof(type[k]),
                      s != NULL ? s->mmdb.metadata.database_type : NULL);
    }
    snprintf(buf, cap, "city=%s asn=%s anonymous=%s", type[GEO_SLOT_CITY],
             type[GEO_SLOT_ASN], type[GEO_SLOT_ANON]);
}
