/*
 * lr.h - the shared base layer of loginrisk.
 *
 * Everything every module speaks: the error table (LR_ERR_MAP generates the
 * enum and its strings, so no error lacks a message), the actions, credential
 * results and outcome kinds of the gRPC contract in the project's own terms,
 * the signal table (reason code, default points, rule ID), and a few small
 * helpers (monotonic and wall clocks, secret wiping, UTF-8 checks).
 *
 * Modules depend on this header and on nothing above them, so risk/,
 * config/ and store/ agree on names without including each other.
 */
#ifndef LR_LR_H
#define LR_LR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LR_WUR __attribute__((warn_unused_result))
#define LR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define LR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* X(name, message) */
#define LR_ERR_MAP(X)                                                          \
    X(OK, "success")                                                           \
    X(NOMEM, "out of memory")                                                  \
    X(INVALID, "invalid argument")                                             \
    X(NOTFOUND, "not found")                                                   \
    X(EXISTS, "already exists")                                                \
    X(IO, "input/output error")                                                \
    X(CORRUPT, "corrupt or unsupported file")                                  \
    X(CONFIG, "configuration error")                                           \
    X(FULL, "capacity exhausted")                                              \
    X(BUSY, "resource busy")                                                   \
    X(TIMEOUT, "timed out")                                                    \
    X(DENIED, "permission denied")                                             \
    X(UNAUTH, "unauthenticated")                                               \
    X(STORE, "state store error")                                              \
    X(GRPC, "gRPC error")                                                      \
    X(CRYPTO, "cryptographic operation failed")                                \
    X(SHUTDOWN, "shutting down")                                               \
    X(INTERNAL, "internal error")

#define LR_ERR_ENUM_(name, msg) LR_##name,
enum lr_err { LR_ERR_MAP(LR_ERR_ENUM_) LR_ERR_COUNT_ };
#undef LR_ERR_ENUM_

/** Message for @p err; never NULL, static storage. */
const char *lr_strerror(int err);
/** Symbolic name ("NOMEM") for @p err; never NULL, static storage. */
const char *lr_errname(int err);
/* gRPC status codes 0..16 (OK .. UNAUTHENTICATED), as named by the spec */
#define LR_GRPC_STATUS_COUNT 17
/** "RESOURCE_EXHAUSTED" for 8; NULL for a code outside 0..16. */
const char *lr_grpc_status_name(int code);

/**
 * Formats a message into @p err (when not NULL and @p errcap > 0) and
 * returns @p rc, for "return lr_errf(err, cap, LR_IO, "%s: ...", path);".
 */
int lr_errf(char *err, size_t errcap, int rc, const char *fmt, ...)
    LR_PRINTF(4, 5);

/*
 * Actions, from weakest to strongest; the numeric values match
 * loginrisk.v1.Action so the agent can copy them straight across.
 */
enum lr_action {
    LR_ACTION_UNSPECIFIED = 0,
    LR_ACTION_ALLOW = 1,
    LR_ACTION_CAPTCHA = 2,
    LR_ACTION_CHALLENGE_2FA = 3,
    LR_ACTION_LOCK = 4,
};
#define LR_ACTION_MAX LR_ACTION_LOCK

/** "allow", "captcha", "challenge_2fa", "lock" (the config spelling). */
const char *lr_action_name(enum lr_action a);
/** Parses the config spelling; returns LR_INVALID for anything else. */
LR_WUR int lr_action_parse(const char *s, enum lr_action *out);

/* Values match loginrisk.v1.CredentialResult. */
enum lr_credential {
    LR_CRED_UNSPECIFIED = 0,
    LR_CRED_VALID = 1,
    LR_CRED_INVALID = 2,
    LR_CRED_UNKNOWN_ACCOUNT = 3,
};

/* Values match loginrisk.v1.OutcomeKind (0 is OUTCOME_UNSPECIFIED). */
enum lr_outcome {
    LR_OUTCOME_UNSPECIFIED = 0,
    LR_OUTCOME_CHALLENGE_PASSED = 1,
    LR_OUTCOME_CHALLENGE_FAILED = 2,
    LR_OUTCOME_CAPTCHA_PASSED = 3,
    LR_OUTCOME_CAPTCHA_FAILED = 4,
    LR_OUTCOME_CONFIRMED_LEGITIMATE = 5,
    LR_OUTCOME_CONFIRMED_FRAUD = 6,
};

/*
 * The signal table: X(NAME, default points, default minimum action, rule ID).
 * The reason code is the name as a string; rule IDs are documented in
 * docs/signals.md. RULE:<name> reasons come from configured rules and are not
 * in this table.
 */
#define LR_SIGNAL_MAP(X)                                                       \
    X(NEW_DEVICE, 15, LR_ACTION_UNSPECIFIED, "R-DEVICE-1")                     \
    X(DEVICE_DISTINCT_ACCOUNTS, 30, LR_ACTION_UNSPECIFIED, "R-DEVICE-2")       \
    X(NEW_COUNTRY, 20, LR_ACTION_UNSPECIFIED, "R-GEO-1")                       \
    X(NEW_ASN, 5, LR_ACTION_UNSPECIFIED, "R-GEO-2")                            \
    X(HIGH_RISK_COUNTRY, 20, LR_ACTION_UNSPECIFIED, "R-GEO-3")                 \
    X(ANONYMOUS_IP, 15, LR_ACTION_UNSPECIFIED, "R-GEO-4")                      \
    X(HOSTING_IP, 15, LR_ACTION_UNSPECIFIED, "R-GEO-5")                        \
    X(TOR_EXIT, 30, LR_ACTION_UNSPECIFIED, "R-GEO-6")                          \
    X(GEO_UNKNOWN, 5, LR_ACTION_UNSPECIFIED, "R-GEO-7")                        \
    X(IMPOSSIBLE_TRAVEL, 45, LR_ACTION_CHALLENGE_2FA, "R-TRAVEL-1")            \
    X(IP_VELOCITY, 20, LR_ACTION_UNSPECIFIED, "R-VEL-1")                       \
    X(IP_DISTINCT_ACCOUNTS, 35, LR_ACTION_CAPTCHA, "R-VEL-2")                  \
    X(SUBNET_VELOCITY, 25, LR_ACTION_CAPTCHA, "R-VEL-3")                       \
    X(ASN_VELOCITY, 10, LR_ACTION_UNSPECIFIED, "R-VEL-4")                      \
    X(ACCOUNT_FAILURES, 30, LR_ACTION_CAPTCHA, "R-VEL-5")                      \
    X(ACCOUNT_DISTINCT_IPS, 15, LR_ACTION_UNSPECIFIED, "R-VEL-6")              \
    X(ATTACK_WAVE, 10, LR_ACTION_UNSPECIFIED, "R-VEL-7")                       \
    X(PASSWORD_SPRAY, 40, LR_ACTION_CAPTCHA, "R-SPRAY-1")                      \
    X(ACCOUNT_LOCKED, 100, LR_ACTION_LOCK, "R-STATE-1")                        \
    X(ALLOWLISTED, 0, LR_ACTION_UNSPECIFIED, "R-STATE-2")                      \
    X(FRAUD_IP, 40, LR_ACTION_CHALLENGE_2FA, "R-STATE-3")                      \
    X(FRAUD_DEVICE, 50, LR_ACTION_CHALLENGE_2FA, "R-STATE-4")

#define LR_SIGNAL_ENUM_(name, pts, act, id) LR_SIG_##name,
enum lr_signal { LR_SIGNAL_MAP(LR_SIGNAL_ENUM_) LR_SIG_COUNT };
#undef LR_SIGNAL_ENUM_

/** Reason code ("NEW_DEVICE"); NULL if @p s is out of range. */
const char *lr_signal_code(enum lr_signal s);
/** Rule ID ("R-DEVICE-1"); NULL if @p s is out of range. */
const char *lr_signal_rule_id(enum lr_signal s);
/** Default points from the table. */
int lr_signal_default_points(enum lr_signal s);
/** Default minimum action from the table. */
enum lr_action lr_signal_default_min_action(enum lr_signal s);
/** Looks a reason code up; LR_NOTFOUND if it names no signal. */
LR_WUR int lr_signal_parse(const char *code, enum lr_signal *out);

/** Wall clock in milliseconds since the Unix epoch. */
int64_t lr_now_ms(void);
/** Monotonic clock in nanoseconds (for latency figures, never for state). */
int64_t lr_mono_ns(void);

/** Overwrites @p len bytes at @p p with zeros in a way the compiler keeps. */
void lr_wipe(void *p, size_t len);

/** True when @p s[0..len) is well-formed UTF-8 with no NUL byte. */
bool lr_utf8_valid(const char *s, size_t len);

/**
 * Copies at most @p cap - 1 bytes of @p src into @p dst and terminates it.
 * Returns the length of @p src (so a result >= cap means it was cut).
 */
size_t lr_strlcpy(char *dst, const char *src, size_t cap);

enum lr_log_level {
    LR_LOG_ERROR = 0,
    LR_LOG_WARN = 1,
    LR_LOG_INFO = 2,
    LR_LOG_DEBUG = 3,
};

/** Sets the most verbose level written (default LR_LOG_INFO). Thread-safe. */
void lr_log_set_level(enum lr_log_level level);
/** Parses "error", "warn", "info", "debug"; LR_INVALID otherwise. */
LR_WUR int lr_log_level_parse(const char *s, enum lr_log_level *out);
/**
 * Writes one line "TIME LEVEL message" to stderr. Lines are written whole, so
 * threads do not interleave. Never pass a password or token here.
 */
void lr_log(enum lr_log_level level, const char *fmt, ...) LR_PRINTF(2, 3);

#endif
