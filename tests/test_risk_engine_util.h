/*
 * test_risk_engine_util.h - a test bench around one risk engine: a config
 * from YAML text, the fixture GeoIP databases, an optional real store in a
 * temporary directory, and short helpers to evaluate attempts and look for
 * reasons.
 *
 * Time moves through timestamps only (T0 plus offsets); nothing sleeps.
 */
#ifndef LR_TEST_RISK_ENGINE_UTIL_H
#define LR_TEST_RISK_ENGINE_UTIL_H

#include "config/config.h"
#include "geo/geo.h"
#include "risk/risk.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

#define T0 INT64_C(1800000000000) /* 2027-01-15, event time of the tests */
#define SEC_MS INT64_C(1000)
#define MIN_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)

/* Fixture networks (data/README.md). */
#define IP_LONDON "192.0.2.10"
#define IP_NEWYORK "198.51.100.10"
#define IP_TOKYO "203.0.113.10"
#define IP_SYDNEY6 "2001:db8::10"
#define IP_PARIS "198.18.0.10"
#define IP_FRANKFURT "198.18.1.10" /* hosting */
#define IP_AMSTERDAM "198.18.2.10" /* VPN */
#define IP_BERLIN "198.18.3.10"    /* Tor */
#define IP_SAOPAULO "198.18.4.10"
#define IP_LAGOS "198.18.8.10"
#define IP_NOLOC "198.18.9.10" /* country only */
#define IP_MANCHESTER "198.18.10.10"
#define IP_MADRID "198.18.11.10"  /* public proxy */
#define IP_TORONTO "198.18.12.10" /* residential proxy */
#define IP_UNKNOWN "198.19.0.10"

struct tenv {
    struct cfg *cfg;
    struct geo_db *geo;
    struct store *store;
    char dir[256]; /* temporary state directory, "" when none */
    struct risk_engine *e;
    int seq;
    struct risk_decision d;
};

/**
 * Loads a config made of a fixed base plus @p geo (lines under "geo:"),
 * @p policy (lines under "policy:") and @p top (top-level sections); any
 * may be NULL. Opens the fixture databases. The engine is not started yet,
 * so the test may change cfg fields first.
 */
struct tenv *tenv_new(const char *geo, const char *policy, const char *top);

/** Opens a store in a fresh temporary directory (before tenv_start). */
void tenv_use_store(struct tenv *t);

/** Creates the engine on the current cfg. */
void tenv_start(struct tenv *t);

/** Recompiles the policy from t->cfg after a test changed its fields. */
void tenv_reload(struct tenv *t);

/** Frees everything and removes the temporary directory. */
void tenv_free(struct tenv *t);

/** Parses @p text into an address (asserts success). */
struct geo_ip tip(const char *text);

/** Evaluates one attempt (asserts LR_OK); the decision lives in t->d. */
const struct risk_decision *ev(struct tenv *t, const char *ip,
                               const char *account, const char *device,
                               int64_t ts, enum lr_credential cred);

/** The same with a password fingerprint. */
const struct risk_decision *ev_fp(struct tenv *t, const char *ip,
                                  const char *account, const char *device,
                                  int64_t ts, enum lr_credential cred,
                                  const uint8_t *fp);

/** The request id of the last evaluation. */
const char *last_id(const struct tenv *t);

/** The reason with @p code in @p d, or NULL. */
const struct risk_reason *reason(const struct risk_decision *d,
                                 const char *code);

/** Prints @p d (for a failing test's log). */
void dump(const struct risk_decision *d);

/** Replaces string list entry @p i of a cfg list with a copy of @p s. */
void cfg_replace(char **slot, const char *s);

#endif
