/*
 * geo_ip.c - IP address text, prefixes, CIDR blocks and great-circle
 * distances.
 *
 * Addresses come from clients, so parsing is as strict as inet_pton(3): no
 * ports, zones ("%eth0"), spaces, leading zeros in IPv4 octets ("010" could
 * mean octal to one system and decimal to another), or shorthand forms such
 * as "10.1". The text is taken with an explicit length, so an embedded NUL
 * byte is an error rather than a silent cut. IPv4-mapped IPv6
 * (::ffff:a.b.c.d) is folded to IPv4 here, once, so that velocity keys,
 * prefixes and CIDR rules see one spelling of each IPv4 client.
 */
#include "geo/geo.h"

#include <arpa/inet.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>

#define GEO_EARTH_RADIUS_KM 6371.0088
#define GEO_DEG_TO_RAD (3.14159265358979323846 / 180.0)

static const uint8_t geo_mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
                                              0, 0, 0, 0, 0xff, 0xff};

/* Copies text[0..len) into buf as a C string; false if it cannot be one. */
static bool geo_ip_cstr(const char *text, size_t len, char *buf, size_t cap)
{
    if (text == NULL || len == 0 || len >= cap)
        return false;
    if (memchr(text, '\0', len) != NULL)
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    return true;
}

/*
 * True when a dotted-quad octet in @p s has a leading zero ("010"). glibc's
 * inet_pton already refuses them; the check is repeated here so the policy
 * does not depend on the C library. For IPv6 text only the embedded IPv4
 * tail after the last ':' is a dotted quad.
 */
static bool geo_ipv4_has_leading_zero(const char *s)
{
    const char *colon = strrchr(s, ':');

    if (colon != NULL)
        s = colon + 1;
    for (const char *p = s; *p != '\0'; p++) {
        bool starts = (p == s || p[-1] == '.');
        if (starts && p[0] == '0' && p[1] >= '0' && p[1] <= '9')
            return true;
    }
    return false;
}

int geo_ip_parse(const char *text, size_t len, struct geo_ip *out)
{
    char buf[GEO_IP_TEXT_MAX];
    struct geo_ip ip;

    if (!geo_ip_cstr(text, len, buf, sizeof(buf)))
        return LR_INVALID;
    memset(&ip, 0, sizeof(ip));
    if (memchr(buf, ':', len) == NULL) {
        if (geo_ipv4_has_leading_zero(buf) ||
            inet_pton(AF_INET, buf, ip.addr) != 1)
            return LR_INVALID;
        ip.family = 4;
    } else {
        if ((memchr(buf, '.', len) != NULL && geo_ipv4_has_leading_zero(buf)) ||
            inet_pton(AF_INET6, buf, ip.addr) != 1)
            return LR_INVALID;
        ip.family = 6;
        if (memcmp(ip.addr, geo_mapped_prefix, 12) == 0) {
            memmove(ip.addr, ip.addr + 12, 4);
            memset(ip.addr + 4, 0, 12);
            ip.family = 4;
        }
    }
    *out = ip;
    return LR_OK;
}

/* Dotted quad, as inet_ntop writes it, without its sprintf per call. */
static const char *geo_ip4_text(const uint8_t a[4], char tmp[GEO_IP_TEXT_MAX])
{
    char *p = tmp;

    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];

        if (i > 0)
            *p++ = '.';
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
    }
    *p = '\0';
    return tmp;
}

void geo_ip_format(const struct geo_ip *ip, char *buf, size_t cap)
{
    char tmp[GEO_IP_TEXT_MAX];
    const char *s = NULL;

    if (buf == NULL || cap == 0)
        return;
    if (ip != NULL && ip->family == 4)
        s = geo_ip4_text(ip->addr, tmp);
    else if (ip != NULL && ip->family == 6)
        s = inet_ntop(AF_INET6, ip->addr, tmp, sizeof(tmp));
    lr_strlcpy(buf, s != NULL ? s : "", cap);
}

void geo_ip_prefix(const struct geo_ip *ip, unsigned bits, struct geo_ip *out)
{
    struct geo_ip r = *ip;
    unsigned max = (r.family == 4) ? 32 : 128;
    unsigned full;

    if (bits > max)
        bits = max;
    /* whole bytes kept, one byte masked, the rest zeroed (also past an
     * IPv4 address, as before) */
    full = bits / 8;
    if (bits % 8)
        r.addr[full++] &= (uint8_t)(0xffu << (8 - bits % 8));
    memset(r.addr + full, 0, sizeof(r.addr) - full);
    *out = r;
}

/* Parses the decimal prefix length: 1 to 3 digits, no sign, no "07". */
static int geo_cidr_bits(const char *s, size_t len, unsigned *out)
{
    unsigned v = 0;

    if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
        return LR_INVALID;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return LR_INVALID;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return LR_OK;
}

int geo_cidr_parse(const char *text, size_t len, struct geo_cidr *out)
{
    const char *slash;
    size_t alen = len;
    unsigned bits = 0;
    struct geo_ip ip;
    int rc;

    if (text == NULL)
        return LR_INVALID;
    slash = memchr(text, '/', len);
    if (slash != NULL)
        alen = (size_t)(slash - text);
    rc = geo_ip_parse(text, alen, &ip);
    if (rc)
        return rc;
    if (slash == NULL) {
        bits = (ip.family == 4) ? 32 : 128;
    } else {
        rc = geo_cidr_bits(slash + 1, len - alen - 1, &bits);
        if (rc)
            return rc;
        /* "::ffff:192.0.2.0/120" was folded to IPv4: count IPv4 bits. */
        if (ip.family == 4 && memchr(text, ':', alen) != NULL) {
            if (bits < 96)
                return LR_INVALID;
            bits -= 96;
        }
        if (bits > ((ip.family == 4) ? 32u : 128u))
            return LR_INVALID;
    }
    geo_ip_prefix(&ip, bits, &out->net);
    out->bits = (uint8_t)bits;
    return LR_OK;
}

bool geo_cidr_contains(const struct geo_cidr *cidr, const struct geo_ip *ip)
{
    struct geo_ip masked;

    if (cidr->net.family != ip->family)
        return false;
    geo_ip_prefix(ip, cidr->bits, &masked);
    return memcmp(masked.addr, cidr->net.addr, sizeof(masked.addr)) == 0;
}

double geo_distance_km(double lat1, double lon1, double lat2, double lon2)
{
    double p1 = lat1 * GEO_DEG_TO_RAD;
    double p2 = lat2 * GEO_DEG_TO_RAD;
    double dp = (lat2 - lat1) * GEO_DEG_TO_RAD;
    double dl = (lon2 - lon1) * GEO_DEG_TO_RAD;
    double sp = sin(dp / 2.0);
    double sl = sin(dl / 2.0);
    double a = sp * sp + cos(p1) * cos(p2) * sl * sl;

    /* Rounding can push a a hair outside [0, 1] near the antipodes. */
    if (a < 0.0)
        a = 0.0;
    if (a > 1.0)
        a = 1.0;
    return 2.0 * GEO_EARTH_RADIUS_KM * atan2(sqrt(a), sqrt(1.0 - a));
}
