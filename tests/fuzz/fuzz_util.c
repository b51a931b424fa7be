/*
 * fuzz_util.c - see fuzz_util.h.
 */
#include "fuzz_util.h"

#include "lr/lr.h"

#include <stdio.h>
#include <stdlib.h>

static const char *fuzz_target = "fuzz";

int fuzz_util_init(const char *target)
{
    int verbose = getenv("LR_FUZZ_VERBOSE") != NULL;

    fuzz_target = target;
    lr_log_set_level(verbose ? LR_LOG_DEBUG : LR_LOG_ERROR);
    return verbose;
}

void fuzz_die(const char *what, const char *detail)
{
    fprintf(stderr, "%s: %s%s%s\n", fuzz_target, what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}
