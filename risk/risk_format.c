/*
 * risk_format.c - the small text helpers behind reason details ("8,072 km
 * in 30 min") and policy error messages.
 *
 * Details are written into the decision's fixed buffers, never allocated: a
 * reason is part of every evaluation, so its text must cost no heap. The
 * velocity details, which fire on most attempts under attack, are built
 * with the risk_text appenders instead of snprintf, whose setup costs more
 * than the counting behind the reason.
 */
#include "risk/risk_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimal digits of @p v into @p d (at least 20 bytes), most significant
 * first; returns how many. */
static size_t fmt_digits(char *d, uint64_t v)
{
    char rev[20];
    size_t n = 0;

    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        d[i] = rev[n - 1 - i];
    return n;
}

/* @p v with a comma every three digits into @p out (at least 27 bytes),
 * NUL-terminated; returns the length. */
static size_t fmt_grouped(char *out, uint64_t v)
{
    char digits[20];
    size_t n = fmt_digits(digits, v), o = 0;

    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return o;
}

void risk_fmt_count(char *buf, size_t cap, uint64_t v)
{
    char tmp[32];

    fmt_grouped(tmp, v);
    lr_strlcpy(buf, tmp, cap);
}

void risk_text_init(struct risk_text *t, char *buf, size_t cap)
{
    t->buf = buf;
    t->cap = cap;
    t->len = 0;
    buf[0] = '\0';
}

static void text_addn(struct risk_text *t, const char *s, size_t n)
{
    size_t room = t->cap - 1 - t->len;

    if (n > room)
        n = room;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

void risk_text_add(struct risk_text *t, const char *s)
{
    text_addn(t, s, strlen(s));
}

void risk_text_uint(struct risk_text *t, uint64_t v)
{
    char d[20];

    text_addn(t, d, fmt_digits(d, v));
}

void risk_text_count(struct risk_text *t, uint64_t v)
{
    char g[32];

    text_addn(t, g, fmt_grouped(g, v));
}

void risk_fmt_span(char *buf, size_t cap, int64_t s)
{
    if (s < 0)
        s = 0;
    if (s == 0 || (s < 120 && s % 60 != 0))
        snprintf(buf, cap, "%lld s", (long long)s);
    else if (s < 2 * 3600 && s % 3600 != 0)
        snprintf(buf, cap, "%lld min", (long long)(s / 60));
    else if (s < 2 * 86400 && s % 86400 != 0)
        snprintf(buf, cap, "%lld h", (long long)(s / 3600));
    else
        snprintf(buf, cap, "%lld d", (long long)(s / 86400));
}

void risk_textf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

int risk_errs_add(struct cfg_errors *errs, const char *fmt, ...)
{
    char msg[512];
    char **v;
    char *copy;
    va_list ap;

    if (!errs)
        return LR_OK;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    copy = strdup(msg);
    if (!copy)
        return LR_NOMEM;
    v = realloc(errs->msgs, (errs->n + 1) * sizeof(*v));
    if (!v) {
        free(copy);
        return LR_NOMEM;
    }
    v[errs->n++] = copy;
    errs->msgs = v;
    return LR_OK;
}
