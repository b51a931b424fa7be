/*
 * test_geo.c - the geo module: address parsing and formatting, prefixes,
 * CIDR blocks, distances, and lookups in real .mmdb files.
 *
 * Lookups run against the fixture databases the build makes from
 * data/geo-fixtures.json (LR_TEST_DATA_DIR). Hostile databases are made by
 * the test itself at run time in a temporary directory: damaged copies of
 * the fixtures (truncated, a poisoned search-tree record, a poisoned data
 * byte), random bytes, an empty file, a bare metadata marker, and small
 * databases encoded by hand (mm_* below) whose metadata or values are wrong
 * in one precise way.
 */
#include "geo/geo.h"
#include "geo/geo_cache.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define FIXTURE(name) LR_TEST_DATA_DIR "/" name
#define CITY_DB FIXTURE("loginrisk-city.mmdb")
#define ASN_DB FIXTURE("loginrisk-asn.mmdb")
#define ANON_DB FIXTURE("loginrisk-anonymous.mmdb")
#define CITY4_DB FIXTURE("loginrisk-city-ipv4.mmdb")

static char tmp_dir[256];

/* ---------------------------------------------------------------- helpers */

static struct geo_ip ip_of(const char *text)
{
    struct geo_ip ip;

    assert_int_equal(geo_ip_parse(text, strlen(text), &ip), LR_OK);
    return ip;
}

static int parse(const char *text, struct geo_ip *out)
{
    return geo_ip_parse(text, strlen(text), out);
}

static void assert_ip_text(const char *text, const char *want)
{
    char buf[GEO_IP_TEXT_MAX];
    struct geo_ip ip = ip_of(text);

    geo_ip_format(&ip, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static struct geo_db *open_db(const char *city, const char *asn,
                              const char *anon)
{
    struct geo_paths p = {city, asn, anon};
    struct geo_db *db = NULL;
    char err[512] = "";
    int rc = geo_db_open(&p, &db, err, sizeof(err));

    if (rc)
        print_error("geo_db_open: %s\n", err);
    assert_int_equal(rc, LR_OK);
    assert_non_null(db);
    return db;
}

static struct geo_db *open_all(void)
{
    return open_db(CITY_DB, ASN_DB, ANON_DB);
}

static struct geo_info look(const struct geo_db *db, const char *text)
{
    struct geo_info info;
    struct geo_ip ip = ip_of(text);

    assert_int_equal(geo_lookup(db, &ip, &info), LR_OK);
    return info;
}

/* Opens one bad database in the city slot (or another) and checks the
 * error code, that the message names the file, and that *out is untouched. */
static void expect_open_fails(const char *city, const char *asn,
                              const char *anon, int want, const char *path,
                              const char *needle)
{
    struct geo_paths p = {city, asn, anon};
    struct geo_db *sentinel = (struct geo_db *)(uintptr_t)0x1;
    struct geo_db *db = sentinel;
    char err[512] = "";

    assert_int_equal(geo_db_open(&p, &db, err, sizeof(err)), want);
    assert_ptr_equal(db, sentinel);
    assert_non_null(strstr(err, path));
    if (needle != NULL)
        assert_non_null(strstr(err, needle));
}

static void tmp_path(const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", tmp_dir, name);

    assert_true(n > 0 && (size_t)n < cap);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    if (len > 0)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Reads a whole fixture into a malloc'd buffer. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0 && n < (1 << 20));
    rewind(f);
    data = malloc((size_t)n);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static uint8_t *find_bytes(uint8_t *hay, size_t hlen, const void *needle,
                           size_t nlen)
{
    for (size_t i = 0; i + nlen <= hlen; i++) {
        if (memcmp(hay + i, needle, nlen) == 0)
            return hay + i;
    }
    return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    const char *base = getenv("TMPDIR");

    (void)state;
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/test_geo.XXXXXX", base);
    return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------ hand-encoded databases */

/*
 * A tiny MaxMind DB encoder, enough to write one-node IPv4 trees whose
 * metadata and data are wrong in exactly the way a test wants.
 */
struct mm {
    uint8_t b[4096];
    size_t n;
};

static void mm_raw(struct mm *m, const void *p, size_t len)
{
    assert_true(m->n + len <= sizeof(m->b));
    memcpy(m->b + m->n, p, len);
    m->n += len;
}

static void mm_byte(struct mm *m, uint8_t v)
{
    mm_raw(m, &v, 1);
}

/* Control byte(s) for type @p type (1-15) and size/count @p size. */
static void mm_ctrl(struct mm *m, unsigned type, size_t size)
{
    uint8_t first = (uint8_t)((type <= 7 ? type : 0) << 5);

    assert_true(size < 29 + 256);
    first |= (uint8_t)(size < 29 ? size : 29);
    mm_byte(m, first);
    if (type > 7)
        mm_byte(m, (uint8_t)(type - 7));
    if (size >= 29)
        mm_byte(m, (uint8_t)(size - 29));
}

static void mm_str(struct mm *m, const char *s)
{
    mm_ctrl(m, 2, strlen(s));
    mm_raw(m, s, strlen(s));
}

static void mm_double(struct mm *m, double v)
{
    uint64_t bits;

    memcpy(&bits, &v, 8);
    mm_ctrl(m, 3, 8);
    for (int i = 7; i >= 0; i--)
        mm_byte(m, (uint8_t)(bits >> (i * 8)));
}

static void mm_uint(struct mm *m, unsigned type, uint64_t v)
{
    size_t len = 0;

    for (uint64_t t = v; t != 0; t >>= 8)
        len++;
    mm_ctrl(m, type, len);
    for (size_t i = len; i > 0; i--)
        mm_byte(m, (uint8_t)(v >> ((i - 1) * 8)));
}

static void mm_bool(struct mm *m, bool v)
{
    mm_ctrl(m, 14, v ? 1 : 0);
}

static void mm_map(struct mm *m, size_t pairs)
{
    mm_ctrl(m, 7, pairs);
}

struct mm_meta {
    const char *type;
    unsigned ip_version;
    uint64_t epoch;
};

/* Metadata for a tree of @p nodes search-tree nodes. */
static void mm_metadata_nodes(struct mm *m, const struct mm_meta *meta,
                              uint32_t nodes)
{
    mm_raw(m, "\xab\xcd\xefMaxMind.com", 14);
    mm_map(m, 9);
    mm_str(m, "binary_format_major_version");
    mm_uint(m, 5, 2);
    mm_str(m, "binary_format_minor_version");
    mm_uint(m, 5, 0);
    mm_str(m, "build_epoch");
    mm_uint(m, 9, meta->epoch);
    mm_str(m, "database_type");
    mm_str(m, meta->type);
    mm_str(m, "description");
    mm_map(m, 1);
    mm_str(m, "en");
    mm_str(m, "hand-made test database");
    mm_str(m, "ip_version");
    mm_uint(m, 5, meta->ip_version);
    mm_str(m, "languages");
    mm_ctrl(m, 11, 1);
    mm_str(m, "en");
    mm_str(m, "node_count");
    mm_uint(m, 6, nodes);
    mm_str(m, "record_size");
    mm_uint(m, 5, 24);
}

static void mm_metadata(struct mm *m, const struct mm_meta *meta)
{
    mm_metadata_nodes(m, meta, 1);
}

/*
 * Writes a one-node IPv4 tree: 0.0.0.0/1 -> the data record @p data (or the
 * raw record value @p left when non-zero), 128.0.0.0/1 -> empty.
 */
static void mm_write(const char *name, const struct mm *data, uint32_t left,
                     const struct mm_meta *meta, char *path, size_t cap)
{
    static struct mm file;
    uint32_t rec = left != 0 ? left : 1 + 16; /* node_count + 16 + 0 */
    uint8_t node[6] = {
        (uint8_t)(rec >> 16), (uint8_t)(rec >> 8), (uint8_t)rec, 0, 0, 1};
    uint8_t sep[16] = {0};

    memset(&file, 0, sizeof(file));
    mm_raw(&file, node, sizeof(node));
    mm_raw(&file, sep, sizeof(sep));
    mm_raw(&file, data->b, data->n);
    mm_metadata(&file, meta);
    tmp_path(name, path, cap);
    write_file(path, file.b, file.n);
}

/* A well-formed city record. */
static void mm_good_city(struct mm *m)
{
    mm_map(m, 3);
    mm_str(m, "city");
    mm_map(m, 1);
    mm_str(m, "names");
    mm_map(m, 1);
    mm_str(m, "en");
    mm_str(m, "Testville");
    mm_str(m, "country");
    mm_map(m, 1);
    mm_str(m, "iso_code");
    mm_str(m, "IS");
    mm_str(m, "location");
    mm_map(m, 3);
    mm_str(m, "accuracy_radius");
    mm_uint(m, 5, 5);
    mm_str(m, "latitude");
    mm_double(m, 64.1);
    mm_str(m, "longitude");
    mm_double(m, -21.9);
}

/* ------------------------------------------------------------ geo_ip_parse */

static void test_geo_ip_parse_ipv4(void **state)
{
    struct geo_ip ip;
    const uint8_t want[16] = {192, 0, 2, 1};

    (void)state;
    assert_int_equal(parse("192.0.2.1", &ip), LR_OK);
    assert_int_equal(ip.family, 4);
    assert_memory_equal(ip.addr, want, 16);
    assert_int_equal(parse("0.0.0.0", &ip), LR_OK);
    assert_int_equal(parse("255.255.255.255", &ip), LR_OK);
    assert_int_equal(ip.addr[3], 255);
}

static void test_geo_ip_parse_ipv6(void **state)
{
    struct geo_ip ip;
    const uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

    (void)state;
    assert_int_equal(parse("2001:db8::1", &ip), LR_OK);
    assert_int_equal(ip.family, 6);
    assert_memory_equal(ip.addr, want, 16);
    assert_int_equal(parse("2001:DB8:0:0:0:0:0:1", &ip), LR_OK);
    assert_memory_equal(ip.addr, want, 16);
    assert_int_equal(parse("::", &ip), LR_OK);
    assert_int_equal(ip.family, 6);
    assert_int_equal(parse("::1", &ip), LR_OK);
    assert_int_equal(ip.family, 6);
    /* Hex groups may have leading zeros; only IPv4 octets may not. */
    assert_int_equal(parse("2001:0db8:0000:0000:0000:0000:0000:0001", &ip),
                     LR_OK);
    assert_memory_equal(ip.addr, want, 16);
}

static void test_geo_ip_parse_mapped_folds_to_ipv4(void **state)
{
    struct geo_ip ip;
    const uint8_t want[16] = {192, 0, 2, 1};

    (void)state;
    assert_int_equal(parse("::ffff:192.0.2.1", &ip), LR_OK);
    assert_int_equal(ip.family, 4);
    assert_memory_equal(ip.addr, want, 16);
    assert_int_equal(parse("::FFFF:c000:0201", &ip), LR_OK);
    assert_int_equal(ip.family, 4);
    assert_memory_equal(ip.addr, want, 16);
    assert_int_equal(parse("0:0:0:0:0:ffff:192.0.2.1", &ip), LR_OK);
    assert_int_equal(ip.family, 4);
    /* IPv4-compatible and NAT64 forms are other addresses: not folded. */
    assert_int_equal(parse("::192.0.2.1", &ip), LR_OK);
    assert_int_equal(ip.family, 6);
    assert_int_equal(parse("64:ff9b::192.0.2.1", &ip), LR_OK);
    assert_int_equal(ip.family, 6);
    assert_int_equal(parse("::fffe:192.0.2.1", &ip), LR_OK);
    assert_int_equal(ip.family, 6);
}

static void test_geo_ip_parse_garbage(void **state)
{
    static const char *const bad[] = {
        "",
        "abc",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "1.2.3.-1",
        "1.2.3.4 ",
        " 1.2.3.4",
        "1.2.3.4\n",
        "1.2.3.4:80",
        "1.2.3.4/32",
        "0x7f.0.0.1",
        "127.1",
        "1..2.3",
        "[2001:db8::1]",
        "[2001:db8::1]:443",
        "2001:db8::1/64",
        "2001:db8:::1",
        "1:2:3:4:5:6:7:8:9",
        "12345::",
        "2001:db8::g",
        "::ffff:256.1.1.1",
        "::ffff:1.2.3",
        ":",
        "1.2.3.4.",
        "localhost",
    };
    struct geo_ip ip;

    (void)state;
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        if (parse(bad[i], &ip) != LR_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(geo_ip_parse(NULL, 0, &ip), LR_INVALID);
    assert_int_equal(geo_ip_parse("1.2.3.4", 0, &ip), LR_INVALID);
}

static void test_geo_ip_parse_zone_id(void **state)
{
    struct geo_ip ip;

    (void)state;
    assert_int_equal(parse("fe80::1%eth0", &ip), LR_INVALID);
    assert_int_equal(parse("fe80::1%1", &ip), LR_INVALID);
    assert_int_equal(parse("fe80::1%", &ip), LR_INVALID);
    assert_int_equal(parse("fe80::1", &ip), LR_OK);
}

static void test_geo_ip_parse_leading_zeros(void **state)
{
    struct geo_ip ip;

    (void)state;
    /* "010" is octal 8 to inet_aton and decimal 10 to humans: refuse. */
    assert_int_equal(parse("010.0.0.1", &ip), LR_INVALID);
    assert_int_equal(parse("192.168.010.1", &ip), LR_INVALID);
    assert_int_equal(parse("1.2.3.04", &ip), LR_INVALID);
    assert_int_equal(parse("00.0.0.0", &ip), LR_INVALID);
    assert_int_equal(parse("::ffff:01.2.3.4", &ip), LR_INVALID);
    assert_int_equal(parse("10.0.0.1", &ip), LR_OK);
    assert_int_equal(parse("0.0.0.0", &ip), LR_OK);
    assert_int_equal(parse("64:ff9b::0102:1.2.3.4", &ip), LR_OK);
}

static void test_geo_ip_parse_overlong(void **state)
{
    /* 45 bytes, the longest valid text (INET6_ADDRSTRLEN - 1). */
    const char *longest = "0000:0000:0000:0000:0000:ffff:192.168.100.200";
    char big[1024];
    struct geo_ip ip;

    (void)state;
    assert_int_equal(strlen(longest), GEO_IP_TEXT_MAX - 1);
    assert_int_equal(parse(longest, &ip), LR_OK);
    assert_int_equal(ip.family, 4);
    assert_int_equal(
        parse("00000:0000:0000:0000:0000:ffff:192.168.100.200", &ip),
        LR_INVALID);
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(parse(big, &ip), LR_INVALID);
    assert_int_equal(geo_ip_parse("192.0.2.1", 100000, &ip), LR_INVALID);
}

static void test_geo_ip_parse_embedded_nul(void **state)
{
    const char text[] = "192.0.2.1\0.5";
    struct geo_ip ip;

    (void)state;
    assert_int_equal(geo_ip_parse(text, sizeof(text) - 1, &ip), LR_INVALID);
    assert_int_equal(geo_ip_parse(text, 10, &ip), LR_INVALID);
    /* The length decides: the first 9 bytes are a valid address. */
    assert_int_equal(geo_ip_parse(text, 9, &ip), LR_OK);
    assert_int_equal(geo_ip_parse("192.0.2.19", 9, &ip), LR_OK);
    assert_int_equal(ip.addr[3], 1);
}

static void test_geo_ip_parse_out_untouched_on_error(void **state)
{
    struct geo_ip ip;

    (void)state;
    memset(&ip, 0xa5, sizeof(ip));
    assert_int_equal(parse("nope", &ip), LR_INVALID);
    assert_int_equal(ip.family, 0xa5);
    assert_int_equal(ip.addr[15], 0xa5);
}

/* ----------------------------------------------------------- geo_ip_format */

static void test_geo_ip_format_round_trip(void **state)
{
    (void)state;
    assert_ip_text("192.0.2.1", "192.0.2.1");
    assert_ip_text("::ffff:192.0.2.1", "192.0.2.1");
    assert_ip_text("2001:DB8:0:0:0:0:0:1", "2001:db8::1");
    assert_ip_text("::", "::");
    assert_ip_text("0000:0000:0000:0000:0000:ffff:192.168.100.200",
                   "192.168.100.200");
}

/* The hand-written IPv4 text is inet_ntop's, octet by octet. */
static void test_geo_ip_format_ipv4_as_inet_ntop(void **state)
{
    char want[GEO_IP_TEXT_MAX], got[GEO_IP_TEXT_MAX];
    struct geo_ip ip = {.family = 4};

    (void)state;
    for (unsigned v = 0; v < 256; v++) {
        ip.addr[0] = (uint8_t)v;
        ip.addr[1] = (uint8_t)(255 - v);
        ip.addr[2] = (uint8_t)(v * 7);
        ip.addr[3] = (uint8_t)(v / 3);
        assert_non_null(inet_ntop(AF_INET, ip.addr, want, sizeof(want)));
        geo_ip_format(&ip, got, sizeof(got));
        assert_string_equal(got, want);
    }
    geo_ip_format(&ip, got, 4); /* cut, still terminated */
    assert_int_equal(strlen(got), 3);
}

static void test_geo_ip_format_small_or_bad(void **state)
{
    struct geo_ip ip = ip_of("192.0.2.1");
    char buf[GEO_IP_TEXT_MAX];

    (void)state;
    geo_ip_format(&ip, buf, 4);
    assert_string_equal(buf, "192");
    ip.family = 5;
    memset(buf, 'x', sizeof(buf));
    geo_ip_format(&ip, buf, sizeof(buf));
    assert_string_equal(buf, "");
    geo_ip_format(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "");
    geo_ip_format(&ip, buf, 0); /* must not write */
}

/* ----------------------------------------------------------- geo_ip_prefix */

static void assert_prefix(const char *text, unsigned bits, const char *want)
{
    char buf[GEO_IP_TEXT_MAX];
    struct geo_ip ip = ip_of(text);
    struct geo_ip out;

    geo_ip_prefix(&ip, bits, &out);
    assert_int_equal(out.family, ip.family);
    geo_ip_format(&out, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_geo_ip_prefix_lengths(void **state)
{
    (void)state;
    assert_prefix("192.0.2.201", 24, "192.0.2.0");
    assert_prefix("198.18.7.255", 22, "198.18.4.0");
    assert_prefix("192.0.2.201", 32, "192.0.2.201");
    assert_prefix("192.0.2.201", 0, "0.0.0.0");
    assert_prefix("192.0.2.201", 99, "192.0.2.201");
    assert_prefix("2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::");
    assert_prefix("2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::");
    assert_prefix("2001:db8:1:2ff:3:4:5:6", 63, "2001:db8:1:2fe::");
    assert_prefix("2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6");
    assert_prefix("2001:db8:1:2:3:4:5:6", 500, "2001:db8:1:2:3:4:5:6");
    assert_prefix("::ffff:192.0.2.201", 24, "192.0.2.0");
}

/* Every prefix length against a bit-by-bit reference, both families. */
static void test_geo_ip_prefix_every_length(void **state)
{
    struct geo_ip ip, got;

    (void)state;
    for (unsigned fam = 4; fam <= 6; fam += 2) {
        unsigned max = fam == 4 ? 32 : 128;

        memset(&ip, 0, sizeof(ip));
        ip.family = (uint8_t)fam;
        for (unsigned i = 0; i < max / 8; i++)
            ip.addr[i] = (uint8_t)(0xa5 ^ (i * 37));
        for (unsigned bits = 0; bits <= max + 3; bits++) {
            geo_ip_prefix(&ip, bits, &got);
            assert_int_equal(got.family, fam);
            for (unsigned b = 0; b < 128; b++) {
                unsigned want = b < bits && b < max
                                    ? (ip.addr[b / 8] >> (7 - b % 8)) & 1
                                    : 0;
                assert_int_equal((got.addr[b / 8] >> (7 - b % 8)) & 1, want);
            }
        }
    }
}

static void test_geo_ip_prefix_in_place(void **state)
{
    struct geo_ip ip = ip_of("2001:db8:1:2:3:4:5:6");
    struct geo_ip want = ip_of("2001:db8:1::");

    (void)state;
    geo_ip_prefix(&ip, 48, &ip);
    assert_memory_equal(&ip, &want, sizeof(ip));
}

/* ---------------------------------------------------------- geo_cidr_parse */

static struct geo_cidr cidr_of(const char *text)
{
    struct geo_cidr c;

    assert_int_equal(geo_cidr_parse(text, strlen(text), &c), LR_OK);
    return c;
}

static void test_geo_cidr_parse_valid(void **state)
{
    struct geo_cidr c;
    char buf[GEO_IP_TEXT_MAX];

    (void)state;
    c = cidr_of("192.0.2.0/24");
    assert_int_equal(c.net.family, 4);
    assert_int_equal(c.bits, 24);
    c = cidr_of("192.0.2.77/24"); /* host bits are cleared */
    geo_ip_format(&c.net, buf, sizeof(buf));
    assert_string_equal(buf, "192.0.2.0");
    c = cidr_of("192.0.2.77");
    assert_int_equal(c.bits, 32);
    c = cidr_of("2001:db8::/32");
    assert_int_equal(c.net.family, 6);
    assert_int_equal(c.bits, 32);
    c = cidr_of("2001:db8::1");
    assert_int_equal(c.bits, 128);
    c = cidr_of("0.0.0.0/0");
    assert_int_equal(c.bits, 0);
    c = cidr_of("::/0");
    assert_int_equal(c.net.family, 6);
    /* Mapped CIDR folds to IPv4 with IPv4 bits. */
    c = cidr_of("::ffff:192.0.2.0/120");
    assert_int_equal(c.net.family, 4);
    assert_int_equal(c.bits, 24);
    c = cidr_of("::ffff:0.0.0.0/96");
    assert_int_equal(c.net.family, 4);
    assert_int_equal(c.bits, 0);
}

static void test_geo_cidr_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "/24",
        "192.0.2.0/",
        "192.0.2.0/33",
        "192.0.2.0/024",
        "192.0.2.0/-1",
        "192.0.2.0/+8",
        "192.0.2.0/2 4",
        "192.0.2.0/24/1",
        "192.0.2.0/1000",
        "192.0.2/24",
        "2001:db8::/129",
        "2001:db8::/",
        "::ffff:0:0/95",
        "fe80::%eth0/64",
        "192.0.2.0 /24",
    };
    struct geo_cidr c;

    (void)state;
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        if (geo_cidr_parse(bad[i], strlen(bad[i]), &c) != LR_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(geo_cidr_parse(NULL, 0, &c), LR_INVALID);
    assert_int_equal(geo_cidr_parse("10.0.0.0/8\0", 11, &c), LR_INVALID);
}

static void test_geo_cidr_contains_cases(void **state)
{
    struct geo_cidr v4 = cidr_of("198.18.4.0/22");
    struct geo_cidr v6 = cidr_of("2001:db8:1::/48");
    struct geo_cidr all4 = cidr_of("0.0.0.0/0");
    struct geo_cidr host = cidr_of("192.0.2.1");
    struct geo_ip a;

    (void)state;
    a = ip_of("198.18.4.0");
    assert_true(geo_cidr_contains(&v4, &a));
    a = ip_of("198.18.7.255");
    assert_true(geo_cidr_contains(&v4, &a));
    a = ip_of("198.18.8.0");
    assert_false(geo_cidr_contains(&v4, &a));
    a = ip_of("::ffff:198.18.5.5");
    assert_true(geo_cidr_contains(&v4, &a));
    a = ip_of("2001:db8:1:ffff::1");
    assert_true(geo_cidr_contains(&v6, &a));
    a = ip_of("2001:db8:2::1");
    assert_false(geo_cidr_contains(&v6, &a));
    a = ip_of("198.18.5.5");
    assert_false(geo_cidr_contains(&v6, &a)); /* family mismatch */
    assert_true(geo_cidr_contains(&all4, &a));
    a = ip_of("::1");
    assert_false(geo_cidr_contains(&all4, &a));
    a = ip_of("192.0.2.1");
    assert_true(geo_cidr_contains(&host, &a));
    a = ip_of("192.0.2.2");
    assert_false(geo_cidr_contains(&host, &a));
}

/* --------------------------------------------------------- geo_distance_km */

static void test_geo_distance_km_known_pairs(void **state)
{
    (void)state;
    /* London - Tokyo, the fixture coordinates. */
    assert_true(fabs(geo_distance_km(51.5074, -0.1278, 35.6762, 139.6503) -
                     9558.6) < 1.0);
    /* London - New York. */
    assert_true(fabs(geo_distance_km(51.5074, -0.1278, 40.7128, -74.0060) -
                     5570.2) < 1.0);
    /* Symmetric. */
    assert_true(fabs(geo_distance_km(35.6762, 139.6503, 51.5074, -0.1278) -
                     geo_distance_km(51.5074, -0.1278, 35.6762, 139.6503)) <
                1e-9);
}

static void test_geo_distance_km_same_point(void **state)
{
    (void)state;
    assert_true(geo_distance_km(51.5074, -0.1278, 51.5074, -0.1278) == 0.0);
    assert_true(geo_distance_km(0, 0, 0, 0) == 0.0);
    /* The date line: 179.9 E and 179.9 W are 0.2 degrees apart. */
    assert_true(geo_distance_km(0, 179.9, 0, -179.9) < 23.0);
}

static void test_geo_distance_km_antipodes_and_poles(void **state)
{
    const double half = 3.14159265358979323846 * 6371.0088; /* 20015.1 */

    (void)state;
    assert_true(fabs(geo_distance_km(0, 0, 0, 180) - half) < 1e-6);
    assert_true(fabs(geo_distance_km(51.5074, -0.1278, -51.5074, 179.8722) -
                     half) < 1e-6);
    assert_true(fabs(geo_distance_km(90, 0, -90, 0) - half) < 1e-6);
    assert_true(fabs(geo_distance_km(90, 0, 0, 0) - half / 2) < 1e-6);
    /* At a pole every longitude is the same point. */
    assert_true(geo_distance_km(90, 0, 90, 123) < 1e-6);
    assert_true(geo_distance_km(-90, -45, -90, 45) < 1e-6);
}

/* ------------------------------------------------- lookups in the fixtures */

static void test_geo_lookup_london(void **state)
{
    struct geo_db *db = open_all();
    struct geo_info g = look(db, "192.0.2.1");

    (void)state;
    assert_string_equal(g.country, "GB");
    assert_string_equal(g.city, "London");
    assert_true(g.has_location);
    assert_true(fabs(g.latitude - 51.5074) < 1e-9);
    assert_true(fabs(g.longitude - -0.1278) < 1e-9);
    assert_int_equal(g.accuracy_radius_km, 10);
    assert_int_equal(g.asn, 64500);
    assert_string_equal(g.as_org, "Example Broadband GB");
    assert_false(g.is_anonymous || g.is_hosting || g.is_tor || g.is_vpn ||
                 g.is_proxy);
    geo_db_free(db);
}

static void test_geo_lookup_mapped_ipv6_is_london(void **state)
{
    struct geo_db *db = open_all();
    struct geo_info a = look(db, "::ffff:192.0.2.1");
    struct geo_info b = look(db, "192.0.2.1");

    (void)state;
    assert_memory_equal(&a, &b, sizeof(a));
    geo_db_free(db);
}

static void test_geo_lookup_table_rows(void **state)
{
    struct geo_db *db = open_all();
    struct geo_info g;

    (void)state;
    g = look(db, "198.51.100.7");
    assert_string_equal(g.city, "New York");
    assert_string_equal(g.country, "US");
    assert_int_equal(g.accuracy_radius_km, 20);
    assert_int_equal(g.asn, 64501);
    g = look(db, "203.0.113.200");
    assert_string_equal(g.city, "Tokyo");
    assert_int_equal(g.asn, 64502);
    assert_string_equal(g.as_org, "Example Mobile JP");
    g = look(db, "198.18.0.1");
    assert_string_equal(g.city, "Paris");
    assert_string_equal(g.country, "FR");
    g = look(db, "198.18.7.255"); /* last address of the /22 */
    assert_string_equal(g.city, "S\xc3\xa3o Paulo");
    assert_string_equal(g.country, "BR");
    assert_true(fabs(g.latitude - -23.5505) < 1e-9);
    assert_int_equal(g.accuracy_radius_km, 100);
    g = look(db, "198.18.8.9");
    assert_string_equal(g.country, "NG");
    assert_string_equal(g.city, "Lagos");
    g = look(db, "198.18.10.1");
    assert_string_equal(g.city, "Manchester");
    assert_int_equal(g.asn, 64500);
    geo_db_free(db);
}

static void test_geo_lookup_country_only(void **state)
{
    struct geo_db *db = open_all();
    struct geo_info g = look(db, "198.18.9.1");

    (void)state;
    assert_string_equal(g.country, "US");
    assert_string_equal(g.city, "");
    assert_false(g.has_location);
    assert_int_equal(g.accuracy_radius_km, 0);
    assert_int_equal(g.asn, 64516);
    assert_string_equal(g.as_org, "Example Anycast");
    geo_db_free(db);
}

static void test_geo_lookup_anonymous_flags(void **state)
{
    struct geo_db *db = open_all();
    struct geo_info g;

    (void)state;
    g = look(db, "198.18.1.7"); /* Frankfurt, hosting */
    assert_true(g.is_anonymous && g.is_hosting);
    assert_false(g.is_tor || g.is_vpn || g.is_proxy);
    assert_string_equal(g.city, "Frankfurt");
    assert_int_equal(g.asn, 64511);
    g = look(db, "198.18.2.7"); /* Amsterdam, VPN */
    assert_true(g.is_anonymous && g.is_vpn);
    assert_false(g.is_tor || g.is_hosting || g.is_proxy);
    g = look(db, "198.18.3.7"); /* Berlin, Tor */
    assert_true(g.is_anonymous && g.is_tor);
    assert_false(g.is_vpn || g.is_hosting || g.is_proxy);
    g = look(db, "198.18.11.7"); /* public proxy */
    assert_true(g.is_anonymous && g.is_proxy);
    g = look(db, "198.18.12.7"); /* residential proxy, explicit false */
    assert_true(g.is_anonymous && g.is_proxy);
    assert_false(g.is_tor || g.is_vpn || g.is_hosting);
    geo_db_free(db);
}

static void test_geo_lookup_unknown_range_is_empty(void **state)
{
    static const struct geo_info zero;
    struct geo_db *db = open_all();
    struct geo_info g;

    (void)state;
    g = look(db, "198.19.0.1");
    assert_memory_equal(&g, &zero, sizeof(g));
    g = look(db, "198.19.255.255");
    assert_memory_equal(&g, &zero, sizeof(g));
    g = look(db, "10.0.0.1");
    assert_memory_equal(&g, &zero, sizeof(g));
    g = look(db, "2001:db9::1");
    assert_memory_equal(&g, &zero, sizeof(g));
    geo_db_free(db);
}

static void test_geo_lookup_ipv6(void **state)
{
    struct geo_db *db = open_all();
    struct geo_info g;

    (void)state;
    g = look(db, "2001:db8::1");
    assert_string_equal(g.city, "Sydney");
    assert_string_equal(g.country, "AU");
    assert_true(fabs(g.latitude - -33.8688) < 1e-9);
    assert_int_equal(g.accuracy_radius_km, 100);
    assert_int_equal(g.asn, 64503);
    g = look(db, "2001:db8:ffff::1");
    assert_string_equal(g.city, "Sydney");
    g = look(db, "2001:db8:1::1"); /* the more specific /48 */
    assert_string_equal(g.city, "Singapore");
    assert_string_equal(g.country, "SG");
    assert_int_equal(g.asn, 64504);
    assert_string_equal(g.as_org, "Example Net SG");
    geo_db_free(db);
}

static void test_geo_lookup_asn_from_city_db(void **state)
{
    struct geo_db *db = open_all();
    struct geo_info g = look(db, "198.18.13.1");

    (void)state;
    /* The ASN database does not know this range; the City database carries
     * the ASN top-level. */
    assert_string_equal(g.city, "Dublin");
    assert_int_equal(g.asn, 64519);
    assert_string_equal(g.as_org, "Example Transit IE");
    geo_db_free(db);
}

static void test_geo_lookup_registered_country_fallback(void **state)
{
    struct geo_db *db = open_all();
    struct geo_info g = look(db, "198.18.14.1");

    (void)state;
    assert_string_equal(g.country, "SE");
    assert_false(g.has_location);
    assert_int_equal(g.asn, 64520);
    geo_db_free(db);
}

static void test_geo_lookup_each_db_alone(void **state)
{
    struct geo_db *db;
    struct geo_info g;

    (void)state;
    db = open_db(CITY_DB, NULL, "");
    g = look(db, "192.0.2.1");
    assert_string_equal(g.city, "London");
    assert_int_equal(g.asn, 0); /* the City fixture has no ASN here */
    assert_string_equal(g.as_org, "");
    g = look(db, "198.18.13.1");
    assert_int_equal(g.asn, 64519);
    geo_db_free(db);

    db = open_db(NULL, ASN_DB, NULL);
    g = look(db, "192.0.2.1");
    assert_string_equal(g.country, "");
    assert_false(g.has_location);
    assert_int_equal(g.asn, 64500);
    assert_string_equal(g.as_org, "Example Broadband GB");
    geo_db_free(db);

    db = open_db(NULL, NULL, ANON_DB);
    g = look(db, "198.18.3.9");
    assert_true(g.is_tor);
    assert_int_equal(g.asn, 0);
    g = look(db, "192.0.2.1");
    assert_false(g.is_anonymous);
    geo_db_free(db);
}

static void test_geo_lookup_no_databases(void **state)
{
    static const struct geo_info zero;
    struct geo_db *db = open_db(NULL, NULL, NULL);
    struct geo_info g;
    struct geo_ip ip = ip_of("192.0.2.1");
    char desc[128];

    (void)state;
    g = look(db, "192.0.2.1");
    assert_memory_equal(&g, &zero, sizeof(g));
    assert_int_equal(geo_db_build_epoch(db), 0);
    geo_db_describe(db, desc, sizeof(desc));
    assert_string_equal(desc, "city=- asn=- anonymous=-");
    geo_db_free(db);
    assert_int_equal(geo_lookup(NULL, &ip, &g), LR_OK);
    assert_memory_equal(&g, &zero, sizeof(g));
    assert_int_equal(geo_db_open(NULL, &db, NULL, 0), LR_OK);
    geo_db_free(db);
    geo_db_free(NULL);
}

static void test_geo_lookup_bad_family(void **state)
{
    struct geo_db *db = open_all();
    struct geo_ip ip = ip_of("192.0.2.1");
    struct geo_info g;

    (void)state;
    ip.family = 5;
    memset(&g, 0x5a, sizeof(g));
    assert_int_equal(geo_lookup(db, &ip, &g), LR_INVALID);
    assert_int_equal(g.asn, 0x5a5a5a5a); /* untouched */
    geo_db_free(db);
}

static void test_geo_lookup_ipv6_in_ipv4_tree(void **state)
{
    static const struct geo_info zero;
    struct geo_db *db = open_db(CITY4_DB, NULL, NULL);
    struct geo_info g;

    (void)state;
    g = look(db, "2001:db8::1");
    assert_memory_equal(&g, &zero, sizeof(g));
    g = look(db, "192.0.2.1");
    assert_string_equal(g.city, "London");
    g = look(db, "::ffff:198.51.100.1");
    assert_string_equal(g.city, "New York");
    geo_db_free(db);
}

static void test_geo_db_describe_and_epoch(void **state)
{
    struct geo_db *db = open_all();
    char desc[128];
    char small[8];
    int64_t epoch;

    (void)state;
    geo_db_describe(db, desc, sizeof(desc));
    assert_string_equal(desc, "city=GeoIP2-City asn=GeoLite2-ASN "
                              "anonymous=GeoIP2-Anonymous-IP");
    geo_db_describe(db, small, sizeof(small));
    assert_string_equal(small, "city=Ge");
    epoch = geo_db_build_epoch(db);
    assert_true(epoch > 1600000000);
    assert_true(epoch <= (int64_t)time(NULL) + 60);
    geo_db_free(db);
}

struct lookup_worker {
    const struct geo_db *db;
    int failures;
};

static void *lookup_thread(void *arg)
{
    struct lookup_worker *w = arg;
    static const char *const ips[] = {"192.0.2.1", "2001:db8:1::1",
                                      "198.18.3.3", "198.19.1.1"};
    struct geo_info g;
    struct geo_ip ip;

    for (int i = 0; i < 2000; i++) {
        const char *t = ips[i % 4];
        if (geo_ip_parse(t, strlen(t), &ip) || geo_lookup(w->db, &ip, &g))
            w->failures++;
        else if (i % 4 == 0 && strcmp(g.city, "London") != 0)
            w->failures++;
    }
    return NULL;
}

static void test_geo_lookup_concurrent(void **state)
{
    struct geo_db *db = open_all();
    struct lookup_worker w[4];
    pthread_t t[4];

    (void)state;
    for (int i = 0; i < 4; i++) {
        w[i].db = db;
        w[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, lookup_thread, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    geo_db_free(db);
}

/* ------------------------------------------------------------ record cache */

static void assert_info_equal(const struct geo_info *a,
                              const struct geo_info *b)
{
    assert_string_equal(a->country, b->country);
    assert_string_equal(a->city, b->city);
    assert_int_equal(a->has_location, b->has_location);
    assert_true(a->latitude == b->latitude && a->longitude == b->longitude);
    assert_int_equal(a->accuracy_radius_km, b->accuracy_radius_km);
    assert_int_equal(a->asn, b->asn);
    assert_string_equal(a->as_org, b->as_org);
    assert_int_equal(a->is_anonymous, b->is_anonymous);
    assert_int_equal(a->is_hosting, b->is_hosting);
    assert_int_equal(a->is_tor, b->is_tor);
    assert_int_equal(a->is_vpn, b->is_vpn);
    assert_int_equal(a->is_proxy, b->is_proxy);
}

/* Every fixture row, aliases, and addresses no database knows. */
static const char *const cache_ips[] = {
    "192.0.2.1",   "192.0.2.200",      "198.51.100.7", "203.0.113.9",
    "2001:db8::1", "2001:db8:1::1",    "198.18.0.1",   "198.18.1.1",
    "198.18.2.1",  "198.18.3.1",       "198.18.4.1",   "198.18.7.255",
    "198.18.8.1",  "198.18.9.1",       "198.18.10.1",  "198.18.11.1",
    "198.18.12.1", "198.18.13.1",      "198.18.14.1",  "198.19.0.1",
    "10.0.0.1",    "::ffff:192.0.2.1", "2001:db9::1",  "2001:db8:2::7",
};

/* A well-formed record naming only a city. */
static void mm_city_named(struct mm *m, const char *city)
{
    mm_map(m, 1);
    mm_str(m, "city");
    mm_map(m, 1);
    mm_str(m, "names");
    mm_map(m, 1);
    mm_str(m, "en");
    mm_str(m, city);
}

/*
 * Writes an IPv4 tree of 25 nodes down the path of 192.0.2.0/24, whose
 * halves are two networks: 192.0.2.0/25 -> record @p a, 192.0.2.128/25 ->
 * record @p b; every other address is empty.
 */
static void mm_write_halves(const char *name, const struct mm *a,
                            const struct mm *b, char *path, size_t cap)
{
    static struct mm file;
    const uint32_t nodes = 25, empty = nodes;
    const uint32_t net = 0xc0000200u; /* 192.0.2.0 */
    struct mm_meta meta = {"GeoIP2-City", 4, 1700000000};
    uint8_t sep[16] = {0};

    memset(&file, 0, sizeof(file));
    for (uint32_t d = 0; d < nodes; d++) {
        uint32_t next = d + 1, rec[2];

        if (d + 1 == nodes) {
            rec[0] = nodes + 16;
            rec[1] = nodes + 16 + (uint32_t)a->n;
        } else {
            unsigned bit = (net >> (31 - d)) & 1;
            rec[bit] = next;
            rec[!bit] = empty;
        }
        for (int k = 0; k < 2; k++) {
            uint8_t r[3] = {(uint8_t)(rec[k] >> 16), (uint8_t)(rec[k] >> 8),
                            (uint8_t)rec[k]};
            mm_raw(&file, r, sizeof(r));
        }
    }
    mm_raw(&file, sep, sizeof(sep));
    mm_raw(&file, a->b, a->n);
    mm_raw(&file, b->b, b->n);
    mm_metadata_nodes(&file, &meta, nodes);
    tmp_path(name, path, cap);
    write_file(path, file.b, file.n);
}

/* Two networks smaller than the cache's /24 index share a slot: each
 * address still gets its own network's answer, in any order. */
static void test_geo_lookup_cached_networks_in_one_slot(void **state)
{
    struct mm a = {.n = 0}, b = {.n = 0};
    char path[512];
    struct geo_db *db;

    (void)state;
    mm_city_named(&a, "Lowhalf");
    mm_city_named(&b, "Highhalf");
    mm_write_halves("halves.mmdb", &a, &b, path, sizeof(path));
    db = open_db(path, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(look(db, "192.0.2.1").city, "Lowhalf");
        assert_string_equal(look(db, "192.0.2.127").city, "Lowhalf");
        assert_string_equal(look(db, "192.0.2.200").city, "Highhalf");
        assert_string_equal(look(db, "192.0.2.128").city, "Highhalf");
        assert_string_equal(look(db, "192.0.3.1").city, "");
        assert_string_equal(look(db, "192.0.1.255").city, "");
    }
    geo_db_free(db);
}

/* The record cache on its own: a hit gives back what was put, ASN fields
 * only when they were read, and the array never holds more than its size. */
static void test_geo_rcache_put_get(void **state)
{
    struct geo_rcache *c = NULL;
    struct geo_info part = {.country = "AU", .asn = 64500};
    struct geo_info got;
    unsigned hits = 0;

    (void)state;
    geo_rcache_free(NULL);
    assert_int_equal(geo_rcache_new(8, &c), LR_OK);
    assert_false(geo_rcache_get(c, 100, false, &got));
    geo_rcache_put(c, 100, false, &part);
    memset(&got, 0, sizeof(got));
    assert_true(geo_rcache_get(c, 100, false, &got));
    assert_info_equal(&got, &part);
    assert_false(geo_rcache_get(c, 100, true, &got));
    geo_rcache_put(c, 100, true, &part);
    assert_true(geo_rcache_get(c, 100, true, &got));
    for (uint32_t off = 1000; off < 1064; off++) {
        part.asn = off;
        geo_rcache_put(c, off, false, &part);
        assert_true(geo_rcache_get(c, off, false, &got));
        assert_int_equal(got.asn, off);
    }
    for (uint32_t off = 1000; off < 1064; off++) {
        if (geo_rcache_get(c, off, false, &got)) {
            assert_int_equal(got.asn, off);
            hits++;
        }
    }
    assert_in_range(hits, 1, 8);
    geo_rcache_free(c);
}

/* The network cache on its own: an entry answers for every address of its
 * network that meets it in its slot, and for no other. */
static void test_geo_ncache_put_get(void **state)
{
    struct geo_ncache *c = NULL;
    struct geo_info info = {.country = "NZ", .city = "Auckland"};
    struct geo_info got;
    struct geo_ip ip;

    (void)state;
    geo_ncache_free(NULL);
    assert_int_equal(geo_ncache_new(64, &c), LR_OK);
    ip = ip_of("192.0.2.5");
    assert_false(geo_ncache_get(c, &ip, &got));
    geo_ncache_put(c, &ip, 24, &info);
    ip = ip_of("192.0.2.77");
    assert_true(geo_ncache_get(c, &ip, &got));
    assert_info_equal(&got, &info);
    ip = ip_of("192.0.3.77");
    assert_false(geo_ncache_get(c, &ip, &got));
    /* a /25 shares the /24's slot but answers only for its own half */
    ip = ip_of("192.0.2.200");
    geo_ncache_put(c, &ip, 25, &info);
    assert_true(geo_ncache_get(c, &ip, &got));
    ip = ip_of("192.0.2.77");
    assert_false(geo_ncache_get(c, &ip, &got));
    /* IPv6 by its /48; bits past 128 mean the one address */
    ip = ip_of("2001:db8::1");
    assert_false(geo_ncache_get(c, &ip, &got));
    geo_ncache_put(c, &ip, 32, &info);
    ip = ip_of("2001:db8:0:1::9");
    assert_true(geo_ncache_get(c, &ip, &got));
    geo_ncache_put(c, &ip, 200, &info);
    assert_true(geo_ncache_get(c, &ip, &got));
    ip = ip_of("2001:db8:0:1::8");
    assert_false(geo_ncache_get(c, &ip, &got));
    geo_ncache_free(c);
}

/* Answers from a warm cache, in any order, are those of a cold one. */
static void cache_same_answers(const char *city, const char *asn,
                               const char *anon)
{
    size_t n = sizeof(cache_ips) / sizeof(cache_ips[0]);
    struct geo_db *warm = open_db(city, asn, anon);

    for (int round = 0; round < 3; round++) {
        for (size_t k = 0; k < n; k++) {
            size_t i = round == 1 ? n - 1 - k : (k * 7 + (size_t)round) % n;
            struct geo_db *cold = open_db(city, asn, anon);
            struct geo_info want = look(cold, cache_ips[i]);
            struct geo_info got = look(warm, cache_ips[i]);

            assert_info_equal(&got, &want);
            geo_db_free(cold);
        }
    }
    geo_db_free(warm);
}

static void test_geo_lookup_cached_same_answers(void **state)
{
    (void)state;
    cache_same_answers(CITY_DB, ASN_DB, ANON_DB);
    cache_same_answers(CITY_DB, NULL, NULL);
    cache_same_answers(CITY4_DB, NULL, ANON_DB);
    cache_same_answers(NULL, ASN_DB, ANON_DB);
}

/*
 * One City record read first without its own ASN (the ASN database
 * answered) and then with it (the ASN database does not know the address):
 * the cached entry learns the ASN fields, and the first address keeps the
 * ASN database's answer.
 */
static void test_geo_lookup_cached_city_asn_later(void **state)
{
    struct mm data = {.n = 0};
    struct mm_meta meta = {"GeoIP2-City", 6, 1700000000};
    char path[512];
    struct geo_db *db;
    struct geo_info g;

    (void)state;
    /* one node: ::/1, where IPv4 lives too, is this record */
    mm_map(&data, 3);
    mm_str(&data, "autonomous_system_number");
    mm_uint(&data, 6, 65000);
    mm_str(&data, "autonomous_system_organization");
    mm_str(&data, "Example City ASN");
    mm_str(&data, "country");
    mm_map(&data, 1);
    mm_str(&data, "iso_code");
    mm_str(&data, "IS");
    mm_write("city-asn.mmdb", &data, 0, &meta, path, sizeof(path));
    db = open_db(path, ASN_DB, NULL);
    for (int i = 0; i < 2; i++) {
        g = look(db, "192.0.2.1");
        assert_string_equal(g.country, "IS");
        assert_int_equal(g.asn, 64500);
        assert_string_equal(g.as_org, "Example Broadband GB");
        g = look(db, "198.19.0.1");
        assert_string_equal(g.country, "IS");
        assert_int_equal(g.asn, 65000);
        assert_string_equal(g.as_org, "Example City ASN");
    }
    geo_db_free(db);
}

/* ------------------------------------------------------ bad database files */

static void test_geo_db_open_missing_file(void **state)
{
    char path[512];

    (void)state;
    tmp_path("does-not-exist.mmdb", path, sizeof(path));
    expect_open_fails(path, NULL, NULL, LR_IO, path, "No such file");
    expect_open_fails(CITY_DB, ASN_DB, path, LR_IO, path, "anonymous");
}

static void test_geo_db_open_directory(void **state)
{
    (void)state;
    expect_open_fails(tmp_dir, NULL, NULL, LR_IO, tmp_dir, "regular file");
}

static void test_geo_db_open_truncated(void **state)
{
    char path[512];
    size_t len;
    uint8_t *data = read_file(CITY_DB, &len);

    (void)state;
    tmp_path("truncated.mmdb", path, sizeof(path));
    write_file(path, data, len / 2);
    expect_open_fails(path, NULL, NULL, LR_CORRUPT, path, NULL);
    /* Cut just inside the metadata: marker present, map broken. */
    write_file(path, data, len - 20);
    expect_open_fails(path, NULL, NULL, LR_CORRUPT, path, NULL);
    free(data);
}

static void test_geo_db_open_random_bytes(void **state)
{
    uint8_t data[8192];
    char path[512];
    uint32_t x = 0x12345678;

    (void)state;
    for (size_t i = 0; i < sizeof(data); i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    tmp_path("random.mmdb", path, sizeof(path));
    write_file(path, data, sizeof(data));
    expect_open_fails(NULL, path, NULL, LR_CORRUPT, path, "asn database");
}

static void test_geo_db_open_empty_file(void **state)
{
    char path[512];

    (void)state;
    tmp_path("empty.mmdb", path, sizeof(path));
    write_file(path, "", 0);
    expect_open_fails(path, NULL, NULL, LR_CORRUPT, path, "empty");
}

static void test_geo_db_open_metadata_marker_only(void **state)
{
    char path[512];

    (void)state;
    tmp_path("marker.mmdb", path, sizeof(path));
    write_file(path, "\xab\xcd\xefMaxMind.com", 14);
    expect_open_fails(path, NULL, NULL, LR_CORRUPT, path, NULL);
}

static void test_geo_db_open_wrong_type(void **state)
{
    (void)state;
    expect_open_fails(ASN_DB, NULL, NULL, LR_CORRUPT, ASN_DB,
                      "\"GeoLite2-ASN\" does not fit the city slot");
    expect_open_fails(NULL, CITY_DB, NULL, LR_CORRUPT, CITY_DB,
                      "does not fit the asn slot");
    expect_open_fails(NULL, NULL, CITY_DB, LR_CORRUPT, CITY_DB,
                      "does not fit the anonymous slot");
    expect_open_fails(ANON_DB, NULL, NULL, LR_CORRUPT, ANON_DB,
                      "GeoIP2-Anonymous-IP");
    /* A good city database first, then a bad one: nothing leaks. */
    expect_open_fails(CITY_DB, ANON_DB, NULL, LR_CORRUPT, ANON_DB, NULL);
}

static void test_geo_db_open_corrupt_search_tree(void **state)
{
    char path[512];
    size_t len;
    uint8_t *data = read_file(CITY_DB, &len);

    (void)state;
    /* Node 0's left record -> 0xffffff, far past the data section. */
    memset(data, 0xff, 3);
    tmp_path("bad-tree.mmdb", path, sizeof(path));
    write_file(path, data, len);
    expect_open_fails(path, NULL, NULL, LR_CORRUPT, path, "search tree");
    free(data);
}

static void test_geo_db_open_record_into_separator(void **state)
{
    struct mm data = {.n = 0};
    struct mm_meta meta = {"GeoIP2-City", 4, 1700000000};
    char path[512];

    (void)state;
    mm_good_city(&data);
    /* node_count 1: record 5 points into the 16-byte separator, which
     * libmaxminddb 1.7.1 would accept and read before the data section. */
    mm_write("separator.mmdb", &data, 5, &meta, path, sizeof(path));
    expect_open_fails(path, NULL, NULL, LR_CORRUPT, path, "search tree");
}

static void test_geo_db_open_bad_ip_version(void **state)
{
    struct mm data = {.n = 0};
    struct mm_meta meta = {"GeoIP2-City", 5, 1700000000};
    char path[512];

    (void)state;
    mm_good_city(&data);
    mm_write("ipv5.mmdb", &data, 0, &meta, path, sizeof(path));
    expect_open_fails(path, NULL, NULL, LR_CORRUPT, path, NULL);
}

static void test_geo_db_open_control_chars_in_type(void **state)
{
    struct mm data = {.n = 0};
    struct mm_meta meta = {"GeoIP2-City\x1b[31m", 4, 1700000000};
    char path[512];

    (void)state;
    mm_good_city(&data);
    mm_write("ctrl.mmdb", &data, 0, &meta, path, sizeof(path));
    expect_open_fails(path, NULL, NULL, LR_CORRUPT, path, "City?[31m");
}

/* -------------------------------------- hand-made databases: lookup data */

static void test_geo_lookup_hand_made_city(void **state)
{
    struct mm data = {.n = 0};
    struct mm_meta meta = {"GeoLite2-City", 4, 1700000000};
    char path[512];
    struct geo_db *db;
    struct geo_info g;

    (void)state;
    mm_good_city(&data);
    mm_write("good.mmdb", &data, 0, &meta, path, sizeof(path));
    db = open_db(path, NULL, NULL);
    g = look(db, "1.2.3.4");
    assert_string_equal(g.city, "Testville");
    assert_string_equal(g.country, "IS");
    assert_true(g.has_location);
    assert_true(fabs(g.latitude - 64.1) < 1e-12);
    assert_int_equal(g.accuracy_radius_km, 5);
    g = look(db, "200.1.1.1"); /* right half of the tree is empty */
    assert_string_equal(g.city, "");
    assert_int_equal(geo_db_build_epoch(db), 1700000000);
    geo_db_free(db);
}

static void test_geo_db_build_epoch_huge(void **state)
{
    struct mm data = {.n = 0};
    struct mm_meta meta = {"GeoIP2-City", 4, UINT64_MAX};
    char path[512];
    struct geo_db *db;

    (void)state;
    mm_good_city(&data);
    mm_write("epoch.mmdb", &data, 0, &meta, path, sizeof(path));
    db = open_db(path, NULL, NULL);
    assert_int_equal(geo_db_build_epoch(db), INT64_MAX / 1000);
    geo_db_free(db);
    /* The oldest database wins. */
    db = open_db(path, ASN_DB, NULL);
    assert_true(geo_db_build_epoch(db) < 4000000000);
    geo_db_free(db);
}

/* Every value present but of the wrong type: each is ignored, no error. */
static void test_geo_lookup_wrong_value_types_ignored(void **state)
{
    struct mm data = {.n = 0};
    struct mm_meta meta = {"GeoIP2-City", 4, 1700000000};
    char path[512];
    struct geo_db *db;
    struct geo_info g;

    (void)state;
    mm_map(&data, 6);
    mm_str(&data, "autonomous_system_number");
    mm_str(&data, "64500");
    mm_str(&data, "city");
    mm_str(&data, "London"); /* a string where a map belongs */
    mm_str(&data, "country");
    mm_map(&data, 1);
    mm_str(&data, "iso_code");
    mm_uint(&data, 5, 44);
    mm_str(&data, "is_anonymous");
    mm_uint(&data, 5, 1);
    mm_str(&data, "location");
    mm_map(&data, 3);
    mm_str(&data, "accuracy_radius");
    mm_double(&data, 10.0);
    mm_str(&data, "latitude");
    mm_str(&data, "51.5");
    mm_str(&data, "longitude");
    mm_double(&data, -0.12);
    mm_str(&data, "registered_country");
    mm_map(&data, 1);
    mm_str(&data, "iso_code");
    mm_str(&data, "GBR"); /* not alpha-2 */
    mm_write("types.mmdb", &data, 0, &meta, path, sizeof(path));
    db = open_db(path, NULL, NULL);
    g = look(db, "1.2.3.4");
    assert_string_equal(g.city, "");
    assert_string_equal(g.country, "");
    assert_false(g.has_location);
    assert_int_equal(g.accuracy_radius_km, 0);
    assert_int_equal(g.asn, 0);
    geo_db_free(db);
}

static void test_geo_lookup_odd_values(void **state)
{
    struct mm data = {.n = 0};
    struct mm_meta meta = {"GeoIP2-City", 4, 1700000000};
    char name[GEO_CITY_MAX + 40];
    char path[512];
    struct geo_db *db;
    struct geo_info g;
    size_t n = 0;

    (void)state;
    /* "é" (2 bytes) repeated past the cap: the cut keeps whole characters. */
    while (n + 2 < sizeof(name) - 1) {
        name[n++] = (char)0xc3;
        name[n++] = (char)0xa9;
    }
    name[n] = '\0';
    mm_map(&data, 3);
    mm_str(&data, "city");
    mm_map(&data, 1);
    mm_str(&data, "names");
    mm_map(&data, 1);
    mm_str(&data, "en");
    mm_str(&data, name);
    mm_str(&data, "country");
    mm_map(&data, 1);
    mm_str(&data, "iso_code");
    mm_str(&data, "\xff\xfe"); /* not UTF-8 */
    mm_str(&data, "location");
    mm_map(&data, 2);
    mm_str(&data, "latitude");
    mm_double(&data, 95.0); /* out of range */
    mm_str(&data, "longitude");
    mm_double(&data, 10.0);
    mm_write("odd.mmdb", &data, 0, &meta, path, sizeof(path));
    db = open_db(path, NULL, NULL);
    g = look(db, "1.2.3.4");
    assert_int_equal(strlen(g.city), GEO_CITY_MAX - 2); /* 94: 47 x "é" */
    assert_memory_equal(g.city, name, GEO_CITY_MAX - 2);
    assert_true(lr_utf8_valid(g.city, strlen(g.city)));
    assert_string_equal(g.country, "");
    assert_false(g.has_location);
    geo_db_free(db);
}

static void test_geo_lookup_hand_made_anonymous(void **state)
{
    struct mm data = {.n = 0};
    struct mm_meta meta = {"GeoIP-Anonymous-Plus", 4, 1700000000};
    char path[512];
    struct geo_db *db;
    struct geo_info g;

    (void)state;
    mm_map(&data, 4);
    mm_str(&data, "is_anonymous");
    mm_bool(&data, true);
    mm_str(&data, "is_hosting_provider");
    mm_bool(&data, false);
    mm_str(&data, "is_tor_exit_node");
    mm_uint(&data, 5, 1); /* wrong type: stays false */
    mm_str(&data, "provider_name");
    mm_str(&data, "ignored");
    mm_write("anon-plus.mmdb", &data, 0, &meta, path, sizeof(path));
    db = open_db(NULL, NULL, path);
    g = look(db, "1.2.3.4");
    assert_true(g.is_anonymous);
    assert_false(g.is_hosting || g.is_tor || g.is_vpn || g.is_proxy);
    geo_db_free(db);
}

/* A poisoned byte in the data section: the lookup reports LR_CORRUPT. */
static void test_geo_lookup_corrupt_data_section(void **state)
{
    char path[512];
    size_t len;
    uint8_t *data = read_file(CITY_DB, &len);
    uint8_t *key = find_bytes(data, len, "\x48latitude", 9);
    struct geo_ip ip = ip_of("192.0.2.1");
    struct geo_info g;
    struct geo_db *db;

    (void)state;
    assert_non_null(key);
    key[0] = 0x00; /* extended type 7 + 'l' (0x6c): no such type */
    tmp_path("bad-data.mmdb", path, sizeof(path));
    write_file(path, data, len);
    free(data);
    db = open_db(path, NULL, NULL);
    memset(&g, 0x5a, sizeof(g));
    assert_int_equal(geo_lookup(db, &ip, &g), LR_CORRUPT);
    assert_int_equal(g.asn, 0x5a5a5a5a);                   /* untouched */
    assert_int_equal(geo_lookup(db, &ip, &g), LR_CORRUPT); /* logged once */
    geo_db_free(db);
}

/* A value whose type byte was changed: ignored, the rest still read. */
static void test_geo_lookup_retyped_value_in_fixture(void **state)
{
    /* 0x68 = double of 8 bytes, then 51.5074 big-endian: London. */
    const uint8_t lat[9] = {0x68, 0x40, 0x49, 0xc0, 0xf2,
                            0x7b, 0xb2, 0xfe, 0xc5};
    char path[512];
    size_t len;
    uint8_t *data = read_file(CITY_DB, &len);
    uint8_t *at = find_bytes(data, len, lat, sizeof(lat));
    struct geo_db *db;
    struct geo_info g;

    (void)state;
    assert_non_null(at);
    at[0] = 0x48; /* now an 8-byte string */
    tmp_path("retyped.mmdb", path, sizeof(path));
    write_file(path, data, len);
    free(data);
    db = open_db(path, NULL, NULL);
    g = look(db, "192.0.2.1");
    assert_string_equal(g.city, "London");
    assert_string_equal(g.country, "GB");
    assert_false(g.has_location);
    geo_db_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geo_ip_parse_ipv4),
        cmocka_unit_test(test_geo_ip_parse_ipv6),
        cmocka_unit_test(test_geo_ip_parse_mapped_folds_to_ipv4),
        cmocka_unit_test(test_geo_ip_parse_garbage),
        cmocka_unit_test(test_geo_ip_parse_zone_id),
        cmocka_unit_test(test_geo_ip_parse_leading_zeros),
        cmocka_unit_test(test_geo_ip_parse_overlong),
        cmocka_unit_test(test_geo_ip_parse_embedded_nul),
        cmocka_unit_test(test_geo_ip_parse_out_untouched_on_error),
        cmocka_unit_test(test_geo_ip_format_round_trip),
        cmocka_unit_test(test_geo_ip_format_ipv4_as_inet_ntop),
        cmocka_unit_test(test_geo_ip_format_small_or_bad),
        cmocka_unit_test(test_geo_ip_prefix_lengths),
        cmocka_unit_test(test_geo_ip_prefix_in_place),
        cmocka_unit_test(test_geo_ip_prefix_every_length),
        cmocka_unit_test(test_geo_cidr_parse_valid),
        cmocka_unit_test(test_geo_cidr_parse_invalid),
        cmocka_unit_test(test_geo_cidr_contains_cases),
        cmocka_unit_test(test_geo_distance_km_known_pairs),
        cmocka_unit_test(test_geo_distance_km_same_point),
        cmocka_unit_test(test_geo_distance_km_antipodes_and_poles),
        cmocka_unit_test(test_geo_lookup_london),
        cmocka_unit_test(test_geo_lookup_mapped_ipv6_is_london),
        cmocka_unit_test(test_geo_lookup_table_rows),
        cmocka_unit_test(test_geo_lookup_country_only),
        cmocka_unit_test(test_geo_lookup_anonymous_flags),
        cmocka_unit_test(test_geo_lookup_unknown_range_is_empty),
        cmocka_unit_test(test_geo_lookup_ipv6),
        cmocka_unit_test(test_geo_lookup_asn_from_city_db),
        cmocka_unit_test(test_geo_lookup_registered_country_fallback),
        cmocka_unit_test(test_geo_lookup_each_db_alone),
        cmocka_unit_test(test_geo_lookup_no_databases),
        cmocka_unit_test(test_geo_lookup_bad_family),
        cmocka_unit_test(test_geo_lookup_ipv6_in_ipv4_tree),
        cmocka_unit_test(test_geo_db_describe_and_epoch),
        cmocka_unit_test(test_geo_lookup_concurrent),
        cmocka_unit_test(test_geo_lookup_cached_same_answers),
        cmocka_unit_test(test_geo_lookup_cached_city_asn_later),
        cmocka_unit_test(test_geo_lookup_cached_networks_in_one_slot),
        cmocka_unit_test(test_geo_rcache_put_get),
        cmocka_unit_test(test_geo_ncache_put_get),
        cmocka_unit_test(test_geo_db_open_missing_file),
        cmocka_unit_test(test_geo_db_open_directory),
        cmocka_unit_test(test_geo_db_open_truncated),
        cmocka_unit_test(test_geo_db_open_random_bytes),
        cmocka_unit_test(test_geo_db_open_empty_file),
        cmocka_unit_test(test_geo_db_open_metadata_marker_only),
        cmocka_unit_test(test_geo_db_open_wrong_type),
        cmocka_unit_test(test_geo_db_open_corrupt_search_tree),
        cmocka_unit_test(test_geo_db_open_record_into_separator),
        cmocka_unit_test(test_geo_db_open_bad_ip_version),
        cmocka_unit_test(test_geo_db_open_control_chars_in_type),
        cmocka_unit_test(test_geo_lookup_hand_made_city),
        cmocka_unit_test(test_geo_db_build_epoch_huge),
        cmocka_unit_test(test_geo_lookup_wrong_value_types_ignored),
        cmocka_unit_test(test_geo_lookup_odd_values),
        cmocka_unit_test(test_geo_lookup_hand_made_anonymous),
        cmocka_unit_test(test_geo_lookup_corrupt_data_section),
        cmocka_unit_test(test_geo_lookup_retyped_value_in_fixture),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
