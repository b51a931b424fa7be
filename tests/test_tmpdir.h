/*
 * test_tmpdir.h - scratch directories for the unit tests.
 *
 * Every test binary is linked with test_tmpdir.c (tests/CMakeLists.txt).
 */
#ifndef LR_TEST_TMPDIR_H
#define LR_TEST_TMPDIR_H

#include <stddef.h>

/**
 * Makes a fresh directory "$TMPDIR/lr-<tag>-XXXXXX" (TMPDIR defaults to
 * /tmp) and writes its path to @p dir. Returns 0, or -1 when it is too long
 * for @p cap or cannot be made.
 */
int test_tmpdir_make(char *dir, size_t cap, const char *tag);

/** Removes @p dir and everything below it; 0 or -1. */
int test_tmpdir_remove(const char *dir);

#endif
