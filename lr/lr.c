/*
 * lr.c - the shared base layer: error strings, action and signal tables,
 * clocks, wiping and UTF-8 validation. See lr.h.
 */
#include "lr/lr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LR_ERR_MSG_(name, msg) msg,
static const char *const lr_err_msgs[] = {LR_ERR_MAP(LR_ERR_MSG_)};
#undef LR_ERR_MSG_
#define LR_ERR_NAME_(name, msg) #name,
static const char *const lr_err_names[] = {LR_ERR_MAP(LR_ERR_NAME_)};
#undef LR_ERR_NAME_

static const char *const lr_grpc_status_names[LR_GRPC_STATUS_COUNT] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *lr_grpc_status_name(int code)
{
    if (code < 0 || code >= LR_GRPC_STATUS_COUNT)
        return NULL;
    return lr_grpc_status_names[code];
}

int lr_errf(char *err, size_t errcap, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errcap > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *lr_strerror(int err)
{
    if (err < 0 || err >= LR_ERR_COUNT_)
        return "unknown error";
    return lr_err_msgs[err];
}

const char *lr_errname(int err)
{
    if (err < 0 || err >= LR_ERR_COUNT_)
        return "UNKNOWN";
    return lr_err_names[err];
}

static const char *const lr_action_names[] = {
    [LR_ACTION_UNSPECIFIED] = "unspecified",
    [LR_ACTION_ALLOW] = "allow",
    [LR_ACTION_CAPTCHA] = "captcha",
    [LR_ACTION_CHALLENGE_2FA] = "challenge_2fa",
    [LR_ACTION_LOCK] = "lock",
};

const char *lr_action_name(enum lr_action a)
{
    if ((unsigned)a > LR_ACTION_MAX)
        return "unknown";
    return lr_action_names[a];
}

int lr_action_parse(const char *s, enum lr_action *out)
{
    for (int a = LR_ACTION_ALLOW; a <= LR_ACTION_MAX; a++) {
        if (strcmp(s, lr_action_names[a]) == 0) {
            *out = (enum lr_action)a;
            return LR_OK;
        }
    }
    return LR_INVALID;
}

struct lr_signal_row {
    const char *code;
    int points;
    enum lr_action min_action;
    const char *rule_id;
};

#define LR_SIGNAL_ROW_(name, pts, act, id) {#name, pts, act, id},
static const struct lr_signal_row lr_signals[] = {
    LR_SIGNAL_MAP(LR_SIGNAL_ROW_)};
#undef LR_SIGNAL_ROW_

const char *lr_signal_code(enum lr_signal s)
{
    if ((unsigned)s >= LR_SIG_COUNT)
        return NULL;
    return lr_signals[s].code;
}

const char *lr_signal_rule_id(enum lr_signal s)
{
    if ((unsigned)s >= LR_SIG_COUNT)
        return NULL;
    return lr_signals[s].rule_id;
}

int lr_signal_default_points(enum lr_signal s)
{
    if ((unsigned)s >= LR_SIG_COUNT)
        return 0;
    return lr_signals[s].points;
}

enum lr_action lr_signal_default_min_action(enum lr_signal s)
{
    if ((unsigned)s >= LR_SIG_COUNT)
        return LR_ACTION_UNSPECIFIED;
    return lr_signals[s].min_action;
}

int lr_signal_parse(const char *code, enum lr_signal *out)
{
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        if (strcmp(code, lr_signals[s].code) == 0) {
            *out = (enum lr_signal)s;
            return LR_OK;
        }
    }
    return LR_NOTFOUND;
}

int64_t lr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lr_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void lr_wipe(void *p, size_t len)
{
    if (p == NULL || len == 0)
        return;
    explicit_bzero(p, len);
}

/* Length of the UTF-8 sequence starting at s[0], or 0 if it is malformed. */
static size_t lr_utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;

    if (c < 0x80)
        return c == 0 ? 0 : 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool lr_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = lr_utf8_seq(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t lr_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t len = strlen(src);

    if (cap > 0) {
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}
