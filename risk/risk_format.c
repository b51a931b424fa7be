/*
 * risk_format.c - the small text helpers behind reason details ("8,072 km
 * in 30 min") and policy error messages.
 *
 * Details are written with snprintf into the decision's fixed buffers, never
 * allocated: a reason is part of every evaluation, so its text must cost no
 * heap.
 */
#include "risk/risk_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void risk_fmt_count(char *buf, size_t cap, uint64_t v)
{
    char digits[24];
    char tmp[32];
    size_t n, o = 0;

    n = (size_t)snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            tmp[o++] = ',';
        tmp[o++] = digits[i];
    }
    tmp[o] = '\0';
    lr_strlcpy(buf, tmp, cap);
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
