/*
 * cli_progress.c - progress of long bulk work on stderr.
 *
 * On a terminal, one bar redrawn in place at most ten times a second; in a
 * pipe or a log file, a plain line at most once a second, so a CI log or
 * `2>run.log` stays readable. stdout is never touched: it carries the
 * result (and --json) alone.
 */
#include "cli/cli_admin.h"

#include <stdio.h>
#include <unistd.h>

#define CLI_BAR_WIDTH 30
#define CLI_TTY_EVERY_NS 100000000LL    /* 0.1 s */
#define CLI_PLAIN_EVERY_NS 1000000000LL /* 1 s */

void cli_progress_init(struct cli_progress *p, const char *what, uint64_t total,
                       bool enabled)
{
    p->what = what;
    p->total = total;
    p->enabled = enabled;
    p->tty = enabled && isatty(STDERR_FILENO);
    p->start_ns = lr_mono_ns();
    p->last_ns = 0;
}

static double cli_rate(const struct cli_progress *p, uint64_t done, int64_t now)
{
    double secs = (double)(now - p->start_ns) / 1e9;

    return secs > 0 ? (double)done / secs : 0.0;
}

static void cli_progress_bar(struct cli_progress *p, uint64_t done,
                             uint64_t failed, int64_t now)
{
    char bar[CLI_BAR_WIDTH + 1];
    double frac = p->total ? (double)done / (double)p->total : 1.0;
    double rate = cli_rate(p, done, now);
    int fill = (int)(frac * CLI_BAR_WIDTH);
    long eta = rate > 0 ? (long)((double)(p->total - done) / rate) : -1;

    for (int i = 0; i < CLI_BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[CLI_BAR_WIDTH] = '\0';
    fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu %.0f/s", p->what, bar,
            (int)(frac * 100), (unsigned long long)done,
            (unsigned long long)p->total, rate);
    if (failed > 0)
        fprintf(stderr, " %llu failed", (unsigned long long)failed);
    if (eta >= 0 && done < p->total)
        fprintf(stderr, " eta %lds", eta);
    fputs("\033[K", stderr);
    fflush(stderr);
}

static void cli_progress_line(struct cli_progress *p, uint64_t done,
                              uint64_t failed, int64_t now)
{
    fprintf(stderr, "riskctl %s: %llu/%llu (%d%%), %.0f/s", p->what,
            (unsigned long long)done, (unsigned long long)p->total,
            p->total ? (int)((double)done * 100 / (double)p->total) : 100,
            cli_rate(p, done, now));
    if (failed > 0)
        fprintf(stderr, ", %llu failed", (unsigned long long)failed);
    fputc('\n', stderr);
}

void cli_progress_update(struct cli_progress *p, uint64_t done, uint64_t failed)
{
    int64_t now = lr_mono_ns();
    int64_t every = p->tty ? CLI_TTY_EVERY_NS : CLI_PLAIN_EVERY_NS;

    if (!p->enabled || (p->last_ns != 0 && now - p->last_ns < every))
        return;
    if (p->last_ns == 0 && !p->tty && now - p->start_ns < every)
        return; /* short runs print only the final line */
    p->last_ns = now;
    if (p->tty)
        cli_progress_bar(p, done, failed, now);
    else
        cli_progress_line(p, done, failed, now);
}

void cli_progress_finish(struct cli_progress *p, uint64_t done, uint64_t failed)
{
    int64_t now = lr_mono_ns();

    if (!p->enabled)
        return;
    if (p->tty) {
        cli_progress_bar(p, done, failed, now);
        fputc('\n', stderr);
    } else {
        cli_progress_line(p, done, failed, now);
    }
}
