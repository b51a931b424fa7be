/*
 * bench_model.h - the login traffic model shared by the load generator and
 * the engine benchmark.
 *
 * A deterministic population (from a seed) of accounts, each with a home
 * city, a home IP in it and one to four devices, and five kinds of traffic
 * drawn by weight:
 *
 *   home      the owner from home on a known device (mostly VALID, a few
 *             typos, now and then a new device);
 *   travel    the owner from another city, usually on a known device;
 *   stuffing  leaked credentials tried from a few /24 subnets over many
 *             accounts (INVALID or UNKNOWN_ACCOUNT, one password each);
 *   spray     a handful of common passwords over many accounts from
 *             scattered addresses (INVALID with attempted_password);
 *   flood     distinct random IPv6 addresses from 2001:db8::/32.
 *
 * Addresses come from the fixture GeoIP databases (data/README.md), so
 * every kind lands on a known city, ASN or anonymity flag. The fixture has
 * only about 2,800 IPv4 city addresses, so IPv4 home addresses are shared
 * by many accounts, as behind a carrier NAT, and at thousands of logins a
 * second those users trip the per-IP distinct-account limits; half the
 * population lives in Sydney, where each account has its own IPv6 /64.
 *
 * A model is caller-allocated and used by one thread; give each thread its
 * own stream number so flood addresses never repeat across threads.
 */
#ifndef LR_BENCH_MODEL_H
#define LR_BENCH_MODEL_H

#include "lr/lr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_ID_MAX 48
#define BENCH_IP_MAX 46 /* INET6_ADDRSTRLEN */
#define BENCH_PW_MAX 40
#define BENCH_FP_LEN 16 /* as RISK_FP_LEN */
/* Populations are capped so account names stay short and memory bounded. */
#define BENCH_ACCOUNTS_MAX 100000000u

enum bench_kind {
    BENCH_KIND_HOME = 0,
    BENCH_KIND_TRAVEL,
    BENCH_KIND_STUFFING,
    BENCH_KIND_SPRAY,
    BENCH_KIND_FLOOD,
    BENCH_KIND_COUNT
};

struct bench_model_opts {
    uint64_t seed;
    uint32_t accounts; /* population size, 1..BENCH_ACCOUNTS_MAX */
    /* relative weights per kind; all zero = the default mix
     * (home 80, travel 5, stuffing 8, spray 4, flood 3) */
    uint32_t weights[BENCH_KIND_COUNT];
    /* send attempted_password with INVALID logins (never with
     * UNKNOWN_ACCOUNT, which the contract refuses) */
    bool passwords;
};

/** One generated login attempt; every string is NUL-terminated. */
struct bench_attempt {
    enum bench_kind kind;
    char account_id[BENCH_ID_MAX];
    char ip[BENCH_IP_MAX];
    char device_id[BENCH_ID_MAX]; /* "" = none */
    const char *user_agent;       /* static storage */
    enum lr_credential credential;
    char password[BENCH_PW_MAX]; /* attempted password, password_len bytes */
    size_t password_len;         /* 0 = none */
    /* a stand-in fingerprint of the password (a keyed hash, not Argon2):
     * the engine treats it as opaque bytes; valid when password_len > 0 */
    uint8_t fp[BENCH_FP_LEN];
};

/** Caller-allocated generator state; set up with bench_model_init(). */
struct bench_model {
    struct bench_model_opts opts;
    uint32_t weight_total;
    uint64_t rng;
    uint64_t stream;
    uint64_t flood_seq;
};

/**
 * Sets @p m up for @p opts and stream number @p stream (one per thread).
 * LR_INVALID when the population is out of range or the weights sum to
 * more than 1,000,000.
 */
LR_WUR int bench_model_init(struct bench_model *m,
                            const struct bench_model_opts *opts,
                            uint64_t stream);

/** Draws the next attempt of the mix. */
void bench_model_next(struct bench_model *m, struct bench_attempt *out);

/** Draws the next attempt of one kind. */
void bench_model_make(struct bench_model *m, enum bench_kind kind,
                      struct bench_attempt *out);

/**
 * The owner of population account @p account logging in from home with a
 * VALID password on device number @p device (any number: devices past the
 * account's own count are new but stable). Deterministic.
 */
void bench_model_home_login(const struct bench_model *m, uint32_t account,
                            uint32_t device, struct bench_attempt *out);

/**
 * A legitimate probe user outside the population ("probe<N>@example.com"),
 * from an IPv4 home in London, New York, Tokyo or Paris on its one device,
 * VALID. Deterministic; used to check decisions under load.
 */
void bench_model_probe_login(const struct bench_model *m, uint32_t probe,
                             struct bench_attempt *out);

/** "home", "travel", "stuffing", "spray", "flood". */
const char *bench_kind_name(enum bench_kind k);

/** Parses a kind name; LR_INVALID for anything else. */
LR_WUR int bench_kind_parse(const char *s, enum bench_kind *out);

/** Next value of a splitmix64 generator. */
uint64_t bench_rand(uint64_t *state);

/** A 64-bit mix of @p x (bijective). */
uint64_t bench_mix64(uint64_t x);

#endif
