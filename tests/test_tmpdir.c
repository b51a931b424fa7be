/*
 * test_tmpdir.c - scratch directories for the unit tests: made with
 * mkdtemp(3), removed depth first with nftw(3) (no shell).
 */
#define _XOPEN_SOURCE 700
#include "test_tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int test_tmpdir_make(char *dir, size_t cap, const char *tag)
{
    const char *base = getenv("TMPDIR");
    int n;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    n = snprintf(dir, cap, "%s/lr-%s-XXXXXX", base, tag);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int test_tmpdir_unlink(const char *path, const struct stat *sb, int type,
                              struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

int test_tmpdir_remove(const char *dir)
{
    return nftw(dir, test_tmpdir_unlink, 16, FTW_DEPTH | FTW_PHYS);
}
