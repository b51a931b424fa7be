/*
 * cli_admin.c - what riskctl's admin commands share: the token, the
 * authorised call, and parsing durations and points in time.
 *
 * The token never comes from the command line (ps(1) and shell history
 * would show it): $RISKCTL_TOKEN or the first line of --token-file. It is
 * held in one buffer, sent as "authorization: Bearer <token>" metadata and
 * wiped when the connection closes.
 */
#include "cli/cli_admin.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- token --------------------------------------------------------------- */

static int cli_token_check(const char *tok, size_t len, char *err,
                           size_t errcap, const char *from)
{
    if (len == 0) {
        snprintf(err, errcap, "%s: the token is empty", from);
        return LR_INVALID;
    }
    if (len > CLI_TOKEN_MAX) {
        snprintf(err, errcap, "%s: the token is longer than %d bytes", from,
                 CLI_TOKEN_MAX);
        return LR_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)tok[i];
        if (c < 0x21 || c > 0x7e) {
            snprintf(err, errcap,
                     "%s: the token must be printable ASCII without spaces",
                     from);
            return LR_INVALID;
        }
    }
    return LR_OK;
}

/* Reads the first line of @p file into @p buf; warns when others can read. */
static int cli_token_file(const char *file, char *buf, size_t cap, char *err,
                          size_t errcap)
{
    struct stat sb;
    ssize_t n;
    size_t len = 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errcap, "--token-file %s: %s", file, strerror(errno));
        return LR_IO;
    }
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        (sb.st_mode & (S_IRWXG | S_IRWXO)))
        fprintf(stderr,
                "riskctl: warning: %s can be read by other users "
                "(chmod 600 it)\n",
                file);
    while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errcap, "--token-file %s: %s", file, strerror(errno));
            close(fd);
            lr_wipe(buf, cap);
            return LR_IO;
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return LR_OK;
}

int cli_token_load(const char *file, char *buf, size_t cap, char *err,
                   size_t errcap)
{
    const char *env = getenv("RISKCTL_TOKEN");
    int rc;

    if (file != NULL) {
        rc = cli_token_file(file, buf, cap, err, errcap);
        if (rc)
            return rc;
        rc = cli_token_check(buf, strlen(buf), err, errcap, file);
    } else if (env != NULL && *env != '\0') {
        if (strlen(env) >= cap) {
            snprintf(err, errcap, "RISKCTL_TOKEN: longer than %d bytes",
                     CLI_TOKEN_MAX);
            return LR_INVALID;
        }
        lr_strlcpy(buf, env, cap);
        rc = cli_token_check(buf, strlen(buf), err, errcap, "RISKCTL_TOKEN");
    } else {
        snprintf(err, errcap,
                 "no admin token: set RISKCTL_TOKEN or use --token-file FILE");
        return LR_NOTFOUND;
    }
    if (rc)
        lr_wipe(buf, cap);
    return rc;
}

/* ---- authorised calls -----------------------------------------------------
 */

int cli_admin_open(const struct cli_globals *g, const char *cmd,
                   const char *token_file, struct cli_admin *a)
{
    char tok[CLI_TOKEN_MAX + 2];
    char err[512];
    int rc, ex;

    memset(a, 0, sizeof(*a));
    a->cmd = cmd;
    a->timeout_ms = g->timeout_ms;
    rc = cli_token_load(token_file, tok, sizeof(tok), err, sizeof(err));
    if (rc) {
        lr_wipe(tok, sizeof(tok));
        if (rc == LR_IO) {
            fprintf(stderr, "riskctl %s: %s\n", cmd, err);
            return CLI_EXIT_RPC;
        }
        return cli_usage_error(cmd, "%s", err);
    }
    snprintf(a->auth, sizeof(a->auth), "Bearer %s", tok);
    lr_wipe(tok, sizeof(tok));
    ex = cli_connect(g, &a->client);
    if (ex)
        lr_wipe(a->auth, sizeof(a->auth));
    return ex;
}

void cli_admin_close(struct cli_admin *a)
{
    cli_client_free(a->client);
    a->client = NULL;
    lr_wipe(a->auth, sizeof(a->auth));
}

int cli_admin_call(struct cli_admin *a, const char *method,
                   const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *resp_desc,
                   struct cli_status *st, ProtobufCMessage **resp)
{
    struct cli_md md = {"authorization", a->auth};

    return cli_call_unary(a->client, method, req, resp_desc, a->timeout_ms, &md,
                          1, st, resp);
}

/* ---- argument order -------------------------------------------------------
 */

/* Whether "--name" or "--name=v" takes the next argument as its value. */
static bool cli_takes_value(const struct option *opts, const char *arg)
{
    size_t n = strcspn(arg + 2, "=");

    if (arg[2 + n] == '=')
        return false;
    for (; opts->name != NULL; opts++) {
        if (strlen(opts->name) == n && strncmp(opts->name, arg + 2, n) == 0)
            return opts->has_arg == required_argument;
    }
    return false;
}

void cli_permute_args(int argc, char **argv, const struct option *sub)
{
    struct option opts[CLI_OPTIONS_MAX];
    char **pos = malloc((size_t)(argc > 0 ? argc : 1) * sizeof(*pos));
    int n_pos = 0, w = 1, i;

    if (pos == NULL)
        return; /* options after ids are then refused as ids */
    cli_options_merge(sub, opts);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (argv[i][0] != '-' || argv[i][1] == '\0') {
            pos[n_pos++] = argv[i];
            continue;
        }
        argv[w++] = argv[i];
        if (argv[i][1] == '-' && cli_takes_value(opts, argv[i]) && i + 1 < argc)
            argv[w++] = argv[++i];
    }
    /* "--" stays in front of the ids so getopt stops there */
    if (i < argc)
        argv[w++] = argv[i++];
    for (int k = 0; k < n_pos; k++)
        argv[w++] = pos[k];
    for (; i < argc; i++)
        argv[w++] = argv[i];
    free(pos);
}

/* ---- durations ------------------------------------------------------------
 */

/* Digits of @p s into *@p v; the first non-digit in *@p end. */
static int cli_parse_u64(const char *s, uint64_t *v, const char **end)
{
    uint64_t x = 0;
    const char *p = s;

    if (!isdigit((unsigned char)*p))
        return LR_INVALID;
    for (; isdigit((unsigned char)*p); p++) {
        if (x > (UINT64_MAX - 9) / 10)
            return LR_INVALID;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *v = x;
    *end = p;
    return LR_OK;
}

static uint64_t cli_unit_s(const char *u)
{
    if (u[0] == '\0' || strcmp(u, "s") == 0)
        return 1;
    if (strcmp(u, "m") == 0)
        return 60;
    if (strcmp(u, "h") == 0)
        return 3600;
    if (strcmp(u, "d") == 0)
        return 86400;
    if (strcmp(u, "w") == 0)
        return 7 * 86400;
    return 0;
}

int cli_parse_duration(const char *s, uint64_t *out_s)
{
    const char *end;
    uint64_t v, unit;

    if (s == NULL || cli_parse_u64(s, &v, &end))
        return LR_INVALID;
    unit = cli_unit_s(end);
    if (unit == 0 || v > CLI_DURATION_MAX_S / unit)
        return LR_INVALID;
    *out_s = v * unit;
    return LR_OK;
}

/* ---- points in time -------------------------------------------------------
 */

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d. */
static int64_t cli_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Exactly @p n digits at *@p p into *@p v. */
static bool cli_digits(const char **p, int n, unsigned *v)
{
    unsigned x = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        x = x * 10 + (unsigned)((*p)[i] - '0');
    }
    *p += n;
    *v = x;
    return true;
}

static bool cli_date_valid(unsigned y, unsigned mo, unsigned d)
{
    static const unsigned days[] = {31, 29, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (mo < 1 || mo > 12 || d < 1 || d > days[mo - 1])
        return false;
    return !(mo == 2 && d == 29 && !leap);
}

/* "HH:MM:SS[.frac]" into ms of the day. */
static bool cli_parse_clock(const char **p, int64_t *ms)
{
    unsigned h, mi, sec, frac = 0, scale = 1000;

    if (!cli_digits(p, 2, &h) || *(*p)++ != ':' || !cli_digits(p, 2, &mi) ||
        *(*p)++ != ':' || !cli_digits(p, 2, &sec) || h > 23 || mi > 59 ||
        sec > 60)
        return false;
    if (**p == '.') {
        (*p)++;
        if (!isdigit((unsigned char)**p))
            return false;
        for (; isdigit((unsigned char)**p); (*p)++) {
            if (scale > 1) {
                scale /= 10;
                frac += (unsigned)(**p - '0') * scale;
            }
        }
    }
    *ms = ((int64_t)h * 3600 + mi * 60 + (sec == 60 ? 59 : sec)) * 1000 + frac;
    return true;
}

/* "Z", "z", "+HH:MM" or "-HH:MM" into an offset in ms. */
static bool cli_parse_offset(const char *p, int64_t *off)
{
    unsigned h, m;
    int sign;

    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        *off = 0;
        return true;
    }
    if (p[0] != '+' && p[0] != '-')
        return false;
    sign = p[0] == '-' ? -1 : 1;
    p++;
    if (!cli_digits(&p, 2, &h) || *p++ != ':' || !cli_digits(&p, 2, &m) ||
        *p != '\0' || h > 23 || m > 59)
        return false;
    *off = sign * ((int64_t)h * 3600 + m * 60) * 1000;
    return true;
}

static int cli_parse_rfc3339(const char *s, int64_t *out_ms)
{
    const char *p = s;
    unsigned y, mo, d;
    int64_t day_ms = 0, off = 0;

    if (!cli_digits(&p, 4, &y) || *p++ != '-' || !cli_digits(&p, 2, &mo) ||
        *p++ != '-' || !cli_digits(&p, 2, &d) || !cli_date_valid(y, mo, d))
        return LR_INVALID;
    if (*p != '\0') {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return LR_INVALID;
        p++;
        if (!cli_parse_clock(&p, &day_ms) || !cli_parse_offset(p, &off))
            return LR_INVALID;
    }
    *out_ms = cli_days_from_civil(y, mo, d) * 86400000 + day_ms - off;
    return LR_OK;
}

int cli_parse_time(const char *s, int64_t now_ms, int64_t *out_ms)
{
    const char *end;
    uint64_t v, unit;

    if (s == NULL || *s == '\0')
        return LR_INVALID;
    if (strcmp(s, "now") == 0) {
        *out_ms = now_ms;
        return LR_OK;
    }
    if (s[0] == '-' || s[0] == '+') {
        if (cli_parse_u64(s + 1, &v, &end) || *end == '\0')
            return LR_INVALID;
        unit = cli_unit_s(end);
        if (unit == 0 || v > CLI_DURATION_MAX_S / unit)
            return LR_INVALID;
        *out_ms = now_ms + (s[0] == '-' ? -1 : 1) * (int64_t)(v * unit) * 1000;
        return LR_OK;
    }
    if (cli_parse_u64(s, &v, &end) == LR_OK && *end == '\0') {
        if (v > (uint64_t)INT64_MAX)
            return LR_INVALID;
        *out_ms = (int64_t)v;
        return LR_OK;
    }
    return cli_parse_rfc3339(s, out_ms);
}

void cli_format_time(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (ms < 0 || gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, cap, "%lld", (long long)ms);
        return;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ms % 1000));
}
