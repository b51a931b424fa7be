/*
 * config_check.c - what one config value must look like: listener addresses,
 * CIDRs, Argon2id PHC strings, names, country codes, files that must exist.
 *
 * Pure functions of the text (and of the filesystem, for files), so the load
 * pass and cfg_validate after command-line overrides give the same verdicts
 * with the same words. CIDRs are checked with inet_pton here rather than with
 * geo/, which config does not depend on.
 */
#include "config/config_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CFG_NAME_MAX 64
#define CFG_ACCOUNT_MAX 256
#define CFG_HOST_MAX 253

static bool why_set(char *why, size_t cap, const char *fmt, ...)
    LR_PRINTF(3, 4);

/* Writes the reason and returns false, so checkers end in one line. */
static bool why_set(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return false;
}

static bool check_file(const char *path, char *why, size_t cap)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return why_set(why, cap, "cannot open \"%s\": %s", path,
                       strerror(errno));
    if (!S_ISREG(st.st_mode))
        return why_set(why, cap, "\"%s\" is not a regular file", path);
    if (access(path, R_OK) != 0)
        return why_set(why, cap, "cannot read \"%s\": %s", path,
                       strerror(errno));
    return true;
}

static bool check_parent_dir(const char *path, char *why, size_t cap)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    struct stat st;

    if (slash == NULL)
        return true; /* the working directory */
    if (slash == path) {
        lr_strlcpy(dir, "/", sizeof(dir));
    } else if ((size_t)(slash - path) >= sizeof(dir)) {
        return why_set(why, cap, "path is too long");
    } else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return why_set(why, cap, "directory \"%s\" does not exist", dir);
    return true;
}

static bool check_port(const char *p, char *why, size_t cap)
{
    unsigned long v = 0;
    size_t n = 0;

    for (; p[n] != '\0'; n++) {
        if (!isdigit((unsigned char)p[n]) || n >= 5)
            return why_set(why, cap, "port must be a number 0..65535");
        v = v * 10 + (unsigned long)(p[n] - '0');
    }
    if (n == 0 || v > 65535)
        return why_set(why, cap, "port must be a number 0..65535");
    return true;
}

static bool check_host(const char *h, size_t n, char *why, size_t cap)
{
    char buf[CFG_HOST_MAX + 1];
    struct in_addr a4;
    bool numeric = true;

    if (n == 0 || n > CFG_HOST_MAX)
        return why_set(why, cap, "missing or overlong host");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];

        if (!isalnum(c) && c != '.' && c != '-')
            return why_set(why, cap, "bad character '%c' in host", c);
        if (!isdigit(c) && c != '.')
            numeric = false;
    }
    if (h[0] == '-' || h[0] == '.' || h[n - 1] == '-')
        return why_set(why, cap, "bad host name");
    memcpy(buf, h, n);
    buf[n] = '\0';
    if (numeric && inet_pton(AF_INET, buf, &a4) != 1)
        return why_set(why, cap, "bad IPv4 address \"%s\"", buf);
    return true;
}

static bool check_unix(const char *path, char *why, size_t cap)
{
    struct sockaddr_un sun;

    if (path[0] != '/' || path[1] == '/')
        return why_set(why, cap,
                       "unix socket path must be absolute, as in "
                       "unix:/run/loginrisk.sock");
    if (strlen(path) >= sizeof(sun.sun_path))
        return why_set(why, cap, "unix socket path longer than %zu bytes",
                       sizeof(sun.sun_path) - 1);
    return true;
}

static bool check_bracketed(const char *s, char *why, size_t cap)
{
    const char *end = strchr(s, ']');
    char buf[INET6_ADDRSTRLEN];
    struct in6_addr a6;
    size_t n;

    if (end == NULL)
        return why_set(why, cap, "missing ']' after IPv6 address");
    n = (size_t)(end - s - 1);
    if (n == 0 || n >= sizeof(buf))
        return why_set(why, cap, "bad IPv6 address");
    memcpy(buf, s + 1, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET6, buf, &a6) != 1)
        return why_set(why, cap, "bad IPv6 address \"%s\"", buf);
    if (end[1] != ':')
        return why_set(why, cap, "missing :port after ]");
    return check_port(end + 2, why, cap);
}

static bool check_listen(const char *s, bool allow_unix, char *why, size_t cap)
{
    const char *colon;

    if (strncmp(s, "unix:", 5) == 0) {
        if (!allow_unix)
            return why_set(why, cap, "a unix socket is not allowed here");
        return check_unix(s + 5, why, cap);
    }
    if (s[0] == '[')
        return check_bracketed(s, why, cap);
    colon = strrchr(s, ':');
    if (colon == NULL)
        return why_set(why, cap, "missing :port");
    if (memchr(s, ':', (size_t)(colon - s)) != NULL)
        return why_set(why, cap,
                       "an IPv6 address needs brackets, as in "
                       "[::1]:50051");
    if (!check_host(s, (size_t)(colon - s), why, cap))
        return false;
    return check_port(colon + 1, why, cap);
}

static bool check_prefix(const char *p, int max, int *out, char *why,
                         size_t cap)
{
    int v = 0;
    size_t n = 0;

    for (; p[n] != '\0'; n++) {
        if (!isdigit((unsigned char)p[n]) || n >= 3)
            return why_set(why, cap, "prefix length must be 0..%d", max);
        v = v * 10 + (p[n] - '0');
    }
    if (n == 0 || v > max)
        return why_set(why, cap, "prefix length must be 0..%d", max);
    *out = v;
    return true;
}

/* Clears the bits past @p prefix; true when some were set. */
static bool mask_host_bits(unsigned char *a, size_t len, int prefix)
{
    bool set = false;

    for (size_t i = 0; i < len; i++) {
        int keep = prefix - (int)i * 8;
        unsigned char mask;

        if (keep >= 8)
            continue;
        mask = keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
        if (a[i] & ~mask)
            set = true;
        a[i] &= mask;
    }
    return set;
}

static bool check_cidr(const char *s, char *why, size_t cap)
{
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    char buf[INET6_ADDRSTRLEN];
    unsigned char a[16];
    int af = AF_INET, max = 32, prefix;

    if (n == 0 || n >= sizeof(buf))
        return why_set(why, cap, "not an IP address or CIDR");
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, a) != 1) {
        af = AF_INET6;
        max = 128;
        if (inet_pton(AF_INET6, buf, a) != 1)
            return why_set(why, cap, "\"%s\" is not an IPv4 or IPv6 address",
                           buf);
    }
    prefix = max;
    if (slash && !check_prefix(slash + 1, max, &prefix, why, cap))
        return false;
    if (!mask_host_bits(a, (size_t)max / 8, prefix))
        return true;
    inet_ntop(af, a, buf, sizeof(buf));
    return why_set(why, cap, "host bits set past /%d; did you mean %s/%d?",
                   prefix, buf, prefix);
}

static size_t b64_span(const char *s)
{
    size_t n = 0;

    while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '/')
        n++;
    return n;
}

/* Reads "<tag>=<decimal>" at *@p p, advancing past it. */
static bool phc_param(const char **p, char tag)
{
    const char *s = *p;
    size_t n = 0;

    if (s[0] != tag || s[1] != '=')
        return false;
    s += 2;
    while (isdigit((unsigned char)s[n]) && n < 10)
        n++;
    if (n == 0 || s[0] == '0')
        return false;
    *p = s + n;
    return true;
}

static bool check_phc_shape(const char *s)
{
    const char *p = s;
    size_t salt, hash;

    if (strncmp(p, "$argon2id$v=19$", 15) != 0)
        return false;
    p += 15;
    if (!phc_param(&p, 'm') || *p++ != ',' || !phc_param(&p, 't') ||
        *p++ != ',' || !phc_param(&p, 'p') || *p++ != '$')
        return false;
    salt = b64_span(p);
    p += salt;
    if (*p++ != '$')
        return false;
    hash = b64_span(p);
    /* at least 8 bytes of salt and 16 of hash, unpadded base64 */
    return p[hash] == '\0' && salt >= 11 && hash >= 22 && salt % 4 != 1 &&
           hash % 4 != 1;
}

static bool check_phc(const char *s, char *why, size_t cap)
{
    if (check_phc_shape(s))
        return true;
    if (strncmp(s, "$argon2", 7) == 0 && strncmp(s, "$argon2id$", 10) != 0)
        return why_set(why, cap,
                       "must be Argon2id ($argon2id$...), not "
                       "Argon2i or Argon2d");
    return why_set(why, cap,
                   "not an Argon2id PHC string "
                   "($argon2id$v=19$m=M,t=T,p=P$salt$hash); make "
                   "one with riskctl token-hash");
}

static bool check_name(const char *s, char *why, size_t cap)
{
    size_t n = strlen(s);

    if (n == 0 || n > CFG_NAME_MAX)
        return why_set(why, cap, "must be 1..%d characters", CFG_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!isalnum(c) && c != '_' && c != '-' && c != '.')
            return why_set(why, cap,
                           "\"%s\": use only letters, digits, "
                           "'_', '-' and '.'",
                           s);
    }
    return true;
}

static bool check_version(const char *s, char *why, size_t cap)
{
    size_t n = strlen(s);

    if (n == 0 || n > CFG_NAME_MAX)
        return why_set(why, cap, "must be 1..%d characters", CFG_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e)
            return why_set(why, cap, "use printable ASCII without spaces");
    }
    return true;
}

static bool check_country(const char *s, char *why, size_t cap)
{
    if (strlen(s) != 2 || !isupper((unsigned char)s[0]) ||
        !isupper((unsigned char)s[1]))
        return why_set(why, cap,
                       "\"%s\" is not a two-letter ISO 3166-1 "
                       "country code",
                       s);
    return true;
}

static bool check_account(const char *s, char *why, size_t cap)
{
    size_t n = strlen(s);

    if (n == 0 || n > CFG_ACCOUNT_MAX)
        return why_set(why, cap, "account id must be 1..%d bytes",
                       CFG_ACCOUNT_MAX);
    if (!lr_utf8_valid(s, n))
        return why_set(why, cap, "account id is not valid UTF-8");
    return true;
}

/* Rewrites the reason in @p why as '<what> "<value>": <reason><tail>'. */
static bool why_wrap(char *why, size_t cap, const char *what, const char *value,
                     const char *tail)
{
    char reason[CFG_WHY_MAX];

    lr_strlcpy(reason, why, sizeof(reason));
    return why_set(why, cap, "%s \"%.64s\": %s%s", what, value, reason, tail);
}

bool cfg_check_value(enum cfg_check chk, const char *s, char *why,
                     size_t why_cap)
{
    switch (chk) {
    case CFG_CHK_NONE:
        return true;
    case CFG_CHK_FILE:
        return check_file(s, why, why_cap);
    case CFG_CHK_PARENT_DIR:
        return check_parent_dir(s, why, why_cap);
    case CFG_CHK_LISTEN:
        if (check_listen(s, true, why, why_cap))
            return true;
        return why_wrap(why, why_cap, "bad address", s,
                        " (expected host:port, [v6]:port or "
                        "unix:/absolute/path)");
    case CFG_CHK_HOSTPORT:
        if (check_listen(s, false, why, why_cap))
            return true;
        return why_wrap(why, why_cap, "bad address", s,
                        " (expected host:port or [v6]:port)");
    case CFG_CHK_CIDR:
        if (check_cidr(s, why, why_cap))
            return true;
        return why_wrap(why, why_cap, "bad CIDR", s, "");
    case CFG_CHK_COUNTRY:
        return check_country(s, why, why_cap);
    case CFG_CHK_ACCOUNT:
        return check_account(s, why, why_cap);
    case CFG_CHK_NAME:
        return check_name(s, why, why_cap);
    case CFG_CHK_PHC:
        return check_phc(s, why, why_cap);
    case CFG_CHK_VERSION:
        return check_version(s, why, why_cap);
    case CFG_CHK_NONEMPTY:
        if (s[0] != '\0')
            return true;
        return why_set(why, why_cap, "must not be empty");
    }
    return why_set(why, why_cap, "unknown check");
}

size_t cfg_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t row[CFG_NAME_MAX + 1];
    size_t la = strlen(a), lb = strlen(b);

    if (la > CFG_NAME_MAX || lb > CFG_NAME_MAX)
        return cap + 1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) !=
                          tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb] > cap ? cap + 1 : row[lb];
}

const char *cfg_suggest(const char *s, const char *const *names, size_t n)
{
    size_t len = strlen(s);
    size_t cap = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = cap + 1;

    for (size_t i = 0; i < n; i++) {
        size_t d = cfg_edit_distance(s, names[i], cap);

        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}

uint64_t cfg_fnv1a64(const void *p, size_t len)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
