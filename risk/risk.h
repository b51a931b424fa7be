/*
 * risk.h - the risk engine: from one login attempt to one action with its
 * reasons.
 *
 * The engine holds the hot state (velocity tables, the profile cache, the
 * recent-decision table for ReportOutcome joins) and the compiled policy
 * (weights, thresholds, rules, allowlists). It has no gRPC in it: the agent,
 * `riskctl replay` and the benchmarks all call it in-process.
 *
 * Time comes from the attempt (timestamp_ms), never from the wall clock, so
 * tests move time by choosing timestamps and replay runs in event time.
 *
 * Passwords never enter the engine: the caller turns an attempted password
 * into a fingerprint (risk_spray_*), on the bounded spray pool, off the
 * gRPC threads. In-process callers (replay, benchmarks) pass it with the
 * attempt to risk_evaluate(); the agent answers without waiting and the pool
 * hands the fingerprint in afterwards with risk_note_fingerprint().
 *
 * Thread-safety: risk_evaluate(), risk_report_outcome() and
 * risk_engine_set_policy() may be called from any thread at once.
 */
#ifndef LR_RISK_H
#define LR_RISK_H

#include "config/config.h"
#include "geo/geo.h"
#include "lr/lr.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RISK_REQUEST_ID_MAX 65 /* 64 bytes + NUL */
#define RISK_REASONS_MAX 24
#define RISK_CODE_MAX 72 /* "RULE:" + rule name */
#define RISK_DETAIL_MAX 160
#define RISK_VERSION_MAX 65
#define RISK_FP_LEN 16     /* password fingerprint bytes */
#define RISK_SPRAY_NICE 10 /* spray workers' nice value above the process */

struct risk_engine;

/** One login attempt, already validated by the caller. Borrowed strings. */
struct risk_attempt {
    const char *request_id; /* non-empty; the caller generates one */
    const char *account_id; /* non-empty, <= 256 bytes, UTF-8 */
    struct geo_ip ip;
    const char *device_id;  /* "" = none */
    const char *user_agent; /* "" = none */
    int64_t timestamp_ms;   /* event time, already resolved (never 0) */
    enum lr_credential credential;
    /* fingerprint of attempted_password, or NULL when none was given or the
     * spray pool skipped it */
    const uint8_t *fingerprint;
};

struct risk_reason {
    char code[RISK_CODE_MAX]; /* "NEW_DEVICE", "RULE:vpn-block" */
    const char *rule_id;      /* "R-DEVICE-1"; "R-RULE" for rules */
    int points;
    char detail[RISK_DETAIL_MAX];
};

struct risk_decision {
    char request_id[RISK_REQUEST_ID_MAX];
    enum lr_action action;
    int score; /* 0..100 */
    struct risk_reason reasons[RISK_REASONS_MAX];
    size_t n_reasons;
    struct geo_info geo;
    char policy_version[RISK_VERSION_MAX];
};

/**
 * Creates an engine on @p cfg and @p geo (borrowed: the caller keeps them
 * alive until it replaces them with risk_engine_set_policy() and that call
 * has returned; @p geo NULL = no databases, every address unknown) and
 * @p store (borrowed for the engine's life; NULL = no durable state, as in
 * replay and benchmarks: profiles then live only in the bounded cache, and
 * there are no locks). Errors in the policy (a bad CIDR in a rule or an
 * allowlist, a rule name too long for its reason code, windows or caps that
 * make no table) are appended to @p errs (may be NULL) and LR_CONFIG
 * returned. Velocity windows and table caps are fixed here: a later policy
 * changes thresholds, points and rules, not the tables' shape.
 */
LR_WUR int risk_engine_new(const struct cfg *cfg, const struct geo_db *geo,
                           struct store *store, struct risk_engine **out,
                           struct cfg_errors *errs);

/** Frees the engine and its hot state. NULL is a no-op. */
void risk_engine_free(struct risk_engine *e);

/**
 * Compiles a new policy from @p cfg and @p geo and swaps it in atomically;
 * hot state is kept. On error the old policy stays and LR_CONFIG (or
 * LR_NOMEM) is returned with @p errs filled. The call waits until no
 * evaluation uses the previous policy, so after a successful return the
 * engine no longer uses the previous cfg and geo and the caller may free
 * them. Never call it from inside an evaluation.
 */
LR_WUR int risk_engine_set_policy(struct risk_engine *e, const struct cfg *cfg,
                                  const struct geo_db *geo,
                                  struct cfg_errors *errs);

/**
 * Scores @p a and fills @p out. Updates the hot state (velocity, profiles,
 * recent decisions) and queues the login to the store's history (a full
 * queue drops the row and counts it, see risk_stats.history_dropped).
 * A valid password answered ACTION_ALLOW is learned into the account's
 * profile at once; a challenged one waits for its outcome (docs/signals.md,
 * R-LEARN-1). LR_INVALID for an attempt that breaks the struct's contract.
 * A failure is an error (LR_NOMEM, LR_CORRUPT from geo, LR_STORE), never a
 * score of 0: on error out->action is LR_ACTION_UNSPECIFIED and
 * out->n_reasons 0, the rest of *out is undefined.
 */
LR_WUR int risk_evaluate(struct risk_engine *e, const struct risk_attempt *a,
                         struct risk_decision *out);

/**
 * Applies an outcome to the decision @p request_id made for @p account_id
 * (docs/signals.md, R-OUT-1), at @p timestamp_ms (0 = the decision's own
 * time). LR_NOTFOUND when the request is unknown (too old, or never seen);
 * LR_INVALID when the account does not match or @p kind is not one of the
 * six outcomes. *@p applied is false when this kind was already applied to
 * this request (a resend changes nothing). LR_STORE when a lock could not be
 * written; the outcome may then be sent again.
 */
LR_WUR int risk_report_outcome(struct risk_engine *e, const char *request_id,
                               const char *account_id, enum lr_outcome kind,
                               int64_t timestamp_ms, bool *applied);

/** Counters for metrics and GetAccount, read without stopping evaluation. */
struct risk_stats {
    uint64_t evaluations;
    uint64_t by_action[LR_ACTION_MAX + 1];
    uint64_t by_signal[LR_SIG_COUNT];
    uint64_t rule_hits;
    uint64_t evictions;       /* all velocity tables */
    uint64_t table_entries;   /* all velocity tables */
    uint64_t spray_skipped;   /* fingerprints skipped because the pool was full
                                 (the engine never sees these: 0 here, the
                                 agent adds its pool's count) */
    uint64_t spray_done;      /* fingerprints counted: an evaluation's own
                                 or one noted afterwards */
    uint64_t history_dropped; /* history rows the store queue refused */
    uint64_t profile_dropped; /* profile saves the store queue refused */
    uint64_t profile_entries; /* account profiles held in memory */
    uint64_t recent_entries;  /* decisions kept for ReportOutcome joins */
    uint64_t auto_locks;      /* automatic locks placed (fraud, spray) */
};

/**
 * Counts the fingerprint @p fp of the failed password of an attempt that was
 * already evaluated without it (docs/signals.md, R-SPRAY-1): the distinct
 * accounts per fingerprint grow and, when the fingerprint is or becomes
 * sprayed, the attempt's sources (IP, /24 or /64, device) are marked, exactly
 * as risk_evaluate() does with @p a->fingerprint set. Makes no decision and
 * touches nothing else (no profile, recent decision, history or lock); the
 * attempt's own answer is not changed, later attempts from its sources see
 * the marks. @p a->fingerprint is ignored. Nothing is counted while
 * spray.enabled is false. LR_INVALID for an attempt that breaks the
 * struct's contract; LR_NOMEM. Safe from any thread, during evaluations.
 */
LR_WUR int risk_note_fingerprint(struct risk_engine *e,
                                 const struct risk_attempt *a,
                                 const uint8_t fp[RISK_FP_LEN]);

/** Fills @p out (zeros for a NULL engine); safe while evaluations run. */
void risk_engine_stats(struct risk_engine *e, struct risk_stats *out);

/** One named counter ("account.failures.3600s") and its current value. */
struct risk_counter {
    char name[48];
    uint64_t value;
};

/**
 * Current velocity counters of one account at @p now_ms (for GetAccount):
 * "account.attempts.<W>s", "account.failures.<W>s" and
 * "account.distinct_ips.<W>s" for each velocity window W, in window order.
 * Writes up to @p cap counters; *@p n_out how many (zeros for an account
 * the tables do not hold).
 */
void risk_account_counters(struct risk_engine *e, const char *account_id,
                           int64_t now_ms, struct risk_counter *out, size_t cap,
                           size_t *n_out);

/* ---- password-spray fingerprints --------------------------------------- */

struct risk_spray_pool;

/**
 * Runs on a pool thread once the fingerprint is ready (or failed: fp NULL).
 * @p a is the pool's own copy of the attempt given to risk_spray_submit()
 * (NULL when none was given); it and @p fp live until the callback returns.
 */
typedef void (*risk_spray_done_fn)(const uint8_t *fp,
                                   const struct risk_attempt *a, void *arg);

/**
 * Starts @p cfg->spray.threads workers with a queue of @p cfg->spray.queue
 * and the pepper (secret salt) read from @p pepper; @p pepper_len >= 16.
 * The pepper is copied and wiped on free. On Linux the workers run at a
 * nice value RISK_SPRAY_NICE above the process's, so Argon2 never takes
 * the CPU from the threads that answer.
 */
LR_WUR int risk_spray_pool_new(const struct cfg_spray *cfg,
                               const uint8_t *pepper, size_t pepper_len,
                               struct risk_spray_pool **out);

/** Stops the workers after the queued jobs finish. NULL is a no-op. */
void risk_spray_pool_free(struct risk_spray_pool *p);

/**
 * Copies @p password (wiped as soon as it is hashed) and, when @p a is not
 * NULL, the attempt (its request, account and device ids, address, time and
 * credential; not the user agent, not the fingerprint) into a preallocated
 * job slot, and queues it: the caller's memory is not used after the call
 * returns. LR_BUSY when the queue is full: nothing is queued and the caller
 * continues without a fingerprint (and counts it). LR_INVALID for a password
 * over 1024 bytes or ids longer than struct risk_attempt allows.
 * @p done runs exactly once on success, with @p arg, which must outlive the
 * pool or the job.
 */
LR_WUR int risk_spray_submit(struct risk_spray_pool *p, const uint8_t *password,
                             size_t len, const struct risk_attempt *a,
                             risk_spray_done_fn done, void *arg);

/** Computes a fingerprint synchronously (tests, replay). */
LR_WUR int risk_spray_fingerprint(struct risk_spray_pool *p,
                                  const uint8_t *password, size_t len,
                                  uint8_t fp[RISK_FP_LEN]);

/**
 * Reads the pepper from @p path, or creates it there (32 random bytes, mode
 * 0600) when it does not exist. *@p out is malloc'd; wipe and free it.
 */
LR_WUR int risk_spray_load_pepper(const char *path, uint8_t **out,
                                  size_t *len_out);

/* ---- decision records ---------------------------------------------------- */

/*
 * One decision as one line of JSON: the agent's decision log writes it and
 * `riskctl replay` reads it back (or a plain event line with only the
 * LoginAttempt fields). risk_event.c, on jansson.
 */

#define RISK_EVENT_ID_MAX 257     /* account_id, device_id: 256 bytes + NUL */
#define RISK_EVENT_UA_MAX 1025    /* user_agent: 1024 bytes + NUL */
#define RISK_EVENT_LINE_MAX 65536 /* longest line risk_event_parse() reads */
#define RISK_DECISION_JSON_MAX 65536 /* a buffer this big always fits one */

/**
 * Writes @p a and @p d as one line of compact JSON (no newline) into @p buf,
 * NUL-terminated, and its length (without the NUL) into *@p len_out. Keys:
 * timestamp_ms, request_id, account_id (@p account_text: the clear id or a
 * pseudonym), ip, device_id, user_agent, credential ("CREDENTIAL_VALID"),
 * action ("ACTION_ALLOW"), score, reasons [{code, points, detail, rule_id}],
 * geo {country, city, latitude, longitude (null without a location),
 * accuracy_radius_km, asn, as_org, is_anonymous, is_hosting, is_tor},
 * policy_version. Never a password (the attempt holds none). Bytes that are
 * not UTF-8 become '?'. LR_FULL when @p cap is too small (nothing useful in
 * @p buf), LR_NOMEM, LR_INVALID for NULL arguments.
 */
LR_WUR int risk_decision_to_json(const struct risk_attempt *a,
                                 const struct risk_decision *d,
                                 const char *account_text, char *buf,
                                 size_t cap, size_t *len_out);

/** A login event read back from a line; owns its strings. */
struct risk_event {
    char request_id[RISK_REQUEST_ID_MAX]; /* "" when the line had none */
    char account_id[RISK_EVENT_ID_MAX];
    struct geo_ip ip;
    char device_id[RISK_EVENT_ID_MAX];  /* "" = none */
    char user_agent[RISK_EVENT_UA_MAX]; /* "" = none */
    int64_t timestamp_ms;               /* > 0 */
    enum lr_credential credential;      /* UNSPECIFIED when absent */
    /* what a decision-log line recorded; UNSPECIFIED, -1 and "" otherwise */
    enum lr_action action;
    int score;
    char policy_version[RISK_VERSION_MAX];
};

/**
 * Parses one JSON object of @p len bytes (no NUL needed; a trailing newline
 * is allowed) into @p out: request_id (<= 64 bytes), account_id (required,
 * <= 256 bytes), ip (required, IPv4 or IPv6; IPv4-mapped folded),
 * device_id (<= 256), user_agent (<= 1024), timestamp_ms (required, a
 * positive integer), credential (a name such as "CREDENTIAL_INVALID", its
 * short form "invalid", or a number 0..3), and from decision-log lines action
 * and score. Other keys are ignored; null counts as absent. On failure
 * returns LR_INVALID with "field: what is wrong" in @p err (for instance
 * "ip: not an IPv4 or IPv6 address", "timestamp_ms: missing", "json: ...
 * at column 7"); LR_NOMEM (with a message) when memory is short. @p out is
 * written only on success.
 */
LR_WUR int risk_event_parse(const char *line, size_t len,
                            struct risk_event *out, char *err, size_t errcap);

/**
 * Points @p out at @p ev's fields (borrowed: @p ev must outlive @p out), with
 * no fingerprint. An event without a request_id gets "" here: the caller
 * must set one before risk_evaluate().
 */
void risk_event_to_attempt(const struct risk_event *ev,
                           struct risk_attempt *out);

/** "ACTION_ALLOW" ... for @p a; "ACTION_UNSPECIFIED" when out of range. */
const char *risk_action_wire_name(enum lr_action a);

/** "CREDENTIAL_VALID" ...; "CREDENTIAL_UNSPECIFIED" when out of range. */
const char *risk_credential_wire_name(enum lr_credential c);

#endif
