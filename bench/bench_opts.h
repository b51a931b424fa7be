/*
 * bench_opts.h - the command line both benchmarks share: strict numbers
 * with a hard cap, the traffic model's options and their defaults, and the
 * getopt_long loop with its --help and usage errors.
 *
 * The load generator and the engine benchmark parse the same model
 * (--seed, --accounts, --no-passwords) from the same words, so a figure
 * from one can be set beside a figure from the other; keeping the parsing
 * here keeps the two from drifting apart.
 */
#ifndef LR_BENCH_OPTS_H
#define LR_BENCH_OPTS_H

#include "bench/bench_model.h"
#include "lr/lr.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

/* getopt_long codes of the model's options; a table lists those it offers */
#define BENCH_OPT_SEED 's'
#define BENCH_OPT_ACCOUNTS 'a'
#define BENCH_OPT_NO_PASSWORDS 'P'

/* the model's defaults in both benchmarks */
#define BENCH_DEFAULT_SEED 1u
#define BENCH_DEFAULT_ACCOUNTS 100000u

/**
 * Parses @p s as a decimal integer from 0 to @p max (no sign, nothing
 * after it). LR_INVALID otherwise; @p out is written only on success.
 */
LR_WUR int bench_opt_u64(const char *s, uint64_t max, uint64_t *out);

/** As bench_opt_u64() for a 32-bit value. */
LR_WUR int bench_opt_u32(const char *s, uint32_t max, uint32_t *out);

/**
 * Parses @p s as a decimal number from 0 to @p max (a fraction allowed;
 * no NaN). LR_INVALID otherwise; @p out is written only on success.
 */
LR_WUR int bench_opt_number(const char *s, double max, double *out);

/**
 * The default model: seed BENCH_DEFAULT_SEED, BENCH_DEFAULT_ACCOUNTS
 * accounts, the default mix, attempted passwords on.
 */
void bench_model_opts_default(struct bench_model_opts *o);

/**
 * Applies model option @p opt (a BENCH_OPT_* code) with argument @p arg.
 * LR_INVALID for a bad value, LR_NOTFOUND when @p opt is not a model
 * option (the caller's own, then).
 */
LR_WUR int bench_model_opt(struct bench_model_opts *o, int opt,
                           const char *arg);

/** A program's options: one is called for each option but --help. */
struct bench_cmdline {
    const char *prog; /* for error messages */
    const struct option *longopts;
    void (*usage)(FILE *f);
    /* LR_OK, or an error for a bad value or an unknown option */
    int (*one)(void *ctx, int opt, const char *arg);
    void *ctx;
};

/**
 * Runs getopt_long over @p argv with @p cl's table (long options only).
 * Returns 0 to run, 1 after --help (usage on stdout), 2 on a usage error
 * (what was wrong and the usage on stderr): an unknown option, a bad value
 * or a word that is not an option.
 */
int bench_opts_parse(const struct bench_cmdline *cl, int argc, char **argv);

#endif
