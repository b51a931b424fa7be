/*
 * lr_log.c - one-line, thread-safe logging to stderr.
 *
 * Each line is formatted into a local buffer and written with one write(2),
 * so lines from different threads never interleave and no lock is needed.
 */
#include "lr/lr.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int lr_log_level_cur = LR_LOG_INFO;

static const char *const lr_log_names[] = {"error", "warn", "info", "debug"};

void lr_log_set_level(enum lr_log_level level)
{
    atomic_store(&lr_log_level_cur, (int)level);
}

int lr_log_level_parse(const char *s, enum lr_log_level *out)
{
    for (size_t i = 0; i < LR_ARRAY_LEN(lr_log_names); i++) {
        if (strcmp(s, lr_log_names[i]) == 0) {
            *out = (enum lr_log_level)i;
            return LR_OK;
        }
    }
    return LR_INVALID;
}

void lr_log(enum lr_log_level level, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    size_t n;
    va_list ap;
    int w;

    if ((int)level > atomic_load(&lr_log_level_cur))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    w = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ",
                 ts.tv_nsec / 1000000, lr_log_names[level]);
    if (w > 0)
        n += (size_t)w;
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (w > 0)
        n +=
            (size_t)w < sizeof(line) - n - 1 ? (size_t)w : sizeof(line) - n - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}
