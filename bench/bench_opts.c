/*
 * bench_opts.c - the command line both benchmarks share (bench_opts.h).
 *
 * Numbers are strict: decimal, no sign, nothing after them, and a hard cap
 * per option, so a typo is a usage error rather than a benchmark of some
 * other size.
 */
#include "bench/bench_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bench_opt_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-' || v > max) {
        return LR_INVALID;
    }
    *out = v;
    return LR_OK;
}

int bench_opt_u32(const char *s, uint32_t max, uint32_t *out)
{
    uint64_t v;

    if (bench_opt_u64(s, max, &v)) {
        return LR_INVALID;
    }
    *out = (uint32_t)v;
    return LR_OK;
}

int bench_opt_number(const char *s, double max, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= 0.0) || v > max) {
        return LR_INVALID;
    }
    *out = v;
    return LR_OK;
}

void bench_model_opts_default(struct bench_model_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = BENCH_DEFAULT_SEED;
    o->accounts = BENCH_DEFAULT_ACCOUNTS;
    o->passwords = true;
}

int bench_model_opt(struct bench_model_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case BENCH_OPT_SEED:
        return bench_opt_u64(arg, UINT64_MAX, &o->seed);
    case BENCH_OPT_ACCOUNTS:
        return bench_opt_u32(arg, BENCH_ACCOUNTS_MAX, &o->accounts);
    case BENCH_OPT_NO_PASSWORDS:
        o->passwords = false;
        return LR_OK;
    default:
        return LR_NOTFOUND;
    }
}

int bench_opts_parse(const struct bench_cmdline *cl, int argc, char **argv)
{
    int opt;

    while ((opt = getopt_long(argc, argv, "", cl->longopts, NULL)) != -1) {
        if (opt == 'h') {
            cl->usage(stdout);
            return 1;
        }
        if (cl->one(cl->ctx, opt, optarg)) {
            /* getopt_long has already said what '?' was */
            if (opt != '?') {
                fprintf(stderr, "%s: bad value: %s\n", cl->prog,
                        optarg ? optarg : "");
            }
            cl->usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        cl->usage(stderr);
        return 2;
    }
    return 0;
}
