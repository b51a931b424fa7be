/*
 * fuzz_geo.c - libFuzzer target: opening and reading corrupt GeoIP databases.
 *
 * The input is a whole .mmdb file. It is written to a temporary file and
 * opened with geo_db_open() in each slot in turn (city, ASN, anonymous: the
 * open checks that the database type fits the slot) until one accepts it.
 * An accepted database is then described and asked about a fixed set of
 * addresses (both families, the edges of the address space, the fixture
 * networks) and two taken from the input's last bytes, so the fuzzer can
 * steer a lookup into the part of the tree it is corrupting.
 *
 * libmaxminddb trusts a file's data section more than its tree, so this is
 * where a hostile or damaged database would hurt (geo.h promises LR_CORRUPT,
 * never a crash). Besides the sanitizers the target checks what a lookup
 * promises: NUL-terminated strings, a location only when it is in range.
 */
#include "geo/geo.h"
#include "fuzz_util.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[4096];
static char fuzz_path[4200];

static const char *const fuzz_ips[] = {
    "0.0.0.0",
    "255.255.255.255",
    "192.0.2.10",
    "198.51.100.7",
    "203.0.113.99",
    "198.18.1.5",
    "198.18.3.7",
    "198.18.6.200",
    "198.19.0.1",
    "10.0.0.1",
    "::",
    "::1",
    "2001:db8::1",
    "2001:db8:1::5",
    "::ffff:192.0.2.1",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_cleanup(void)
{
    unlink(fuzz_path);
    rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");

    (void)argc;
    (void)argv;
    fuzz_util_init("fuzz_geo");
    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz-geo-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(fuzz_dir) == NULL)
        fuzz_die("mkdtemp failed", NULL);
    snprintf(fuzz_path, sizeof(fuzz_path), "%s/fuzz.mmdb", fuzz_dir);
    atexit(fuzz_cleanup);
    return 0;
}

static void fuzz_write(const uint8_t *data, size_t size)
{
    int fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t off = 0;

    if (fd < 0)
        fuzz_die("cannot write the temporary database", NULL);
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            fuzz_die("short write to the temporary database", NULL);
        off += (size_t)n;
    }
    close(fd);
}

static void fuzz_check_info(const struct geo_info *g)
{
    if (strnlen(g->country, sizeof(g->country)) == sizeof(g->country) ||
        strnlen(g->city, sizeof(g->city)) == sizeof(g->city) ||
        strnlen(g->as_org, sizeof(g->as_org)) == sizeof(g->as_org))
        fuzz_die("a string without its NUL", NULL);
    if (g->has_location &&
        (!isfinite(g->latitude) || !isfinite(g->longitude) ||
         fabs(g->latitude) > 90.0 || fabs(g->longitude) > 180.0))
        fuzz_die("a location out of range", NULL);
}

static void fuzz_lookup(const struct geo_db *db, const struct geo_ip *ip)
{
    struct geo_info g;

    memset(&g, 0, sizeof(g));
    if (geo_lookup(db, ip, &g) == LR_OK)
        fuzz_check_info(&g);
}

static void fuzz_lookups(const struct geo_db *db, const uint8_t *data,
                         size_t size)
{
    struct geo_ip ip;
    char buf[256];

    geo_db_describe(db, buf, sizeof(buf));
    (void)geo_db_build_epoch(db);
    for (size_t i = 0; i < LR_ARRAY_LEN(fuzz_ips); i++)
        if (geo_ip_parse(fuzz_ips[i], strlen(fuzz_ips[i]), &ip) == LR_OK)
            fuzz_lookup(db, &ip);
    if (size >= 16) {
        memset(&ip, 0, sizeof(ip));
        ip.family = 6;
        memcpy(ip.addr, data + size - 16, 16);
        fuzz_lookup(db, &ip);
        memset(&ip, 0, sizeof(ip));
        ip.family = 4;
        memcpy(ip.addr, data + size - 4, 4);
        fuzz_lookup(db, &ip);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct geo_db *db = NULL;
    char err[512];

    fuzz_write(data, size);
    for (int slot = 0; slot < 3 && db == NULL; slot++) {
        struct geo_paths paths = {0};
        const char **p = slot == 0   ? &paths.city
                         : slot == 1 ? &paths.asn
                                     : &paths.anonymous;
        int rc;

        *p = fuzz_path;
        err[0] = '\0';
        rc = geo_db_open(&paths, &db, err, sizeof(err));
        if (rc != LR_OK && (db != NULL || err[0] == '\0'))
            fuzz_die("a refused database without a message", NULL);
    }
    if (db != NULL) {
        fuzz_lookups(db, data, size);
        geo_db_free(db);
    }
    return 0;
}
