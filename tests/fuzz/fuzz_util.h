/*
 * fuzz_util.h - what every libFuzzer target here shares: a quiet log and
 * one way to report a broken invariant (abort, so libFuzzer keeps the input).
 */
#ifndef LR_FUZZ_UTIL_H
#define LR_FUZZ_UTIL_H

/** Names the target in fuzz_die() messages and quiets the log to errors
 * (all of it with LR_FUZZ_VERBOSE set in the environment); true if verbose. */
int fuzz_util_init(const char *target);

/** Prints "<target>: what[: detail]" and aborts. */
void fuzz_die(const char *what, const char *detail) __attribute__((noreturn));

#endif
