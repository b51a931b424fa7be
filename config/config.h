/*
 * config.h - the agent's YAML configuration: load, validate, default.
 *
 * A config is parsed whole into a struct cfg, validated, and only then handed
 * to the agent, so a bad file never replaces a running config. Every error is
 * reported as "file:line: what is wrong"; unknown keys are errors, never
 * silently ignored. Keys, types, ranges and defaults live in one table
 * (config_schema.c) and config/loginrisk.example.yaml documents every key
 * with its default.
 *
 * The struct is plain data, read-only once loaded; strings and arrays are
 * owned by the struct and freed by cfg_free().
 */
#ifndef LR_CONFIG_H
#define LR_CONFIG_H

#include "lr/lr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cfg_service_bits {
    CFG_SVC_RISK = 1u << 0,
    CFG_SVC_ADMIN = 1u << 1,
    CFG_SVC_HEALTH = 1u << 2,
    CFG_SVC_ALL = CFG_SVC_RISK | CFG_SVC_ADMIN | CFG_SVC_HEALTH,
};

struct cfg_listener {
    char *address;   /* "127.0.0.1:50051", "[::1]:50051" or "unix:/abs/path" */
    char *tls_cert;  /* PEM file; NULL = plaintext */
    char *tls_key;   /* PEM file; required with tls_cert */
    char *client_ca; /* PEM file; set = require and verify client certs */
    unsigned services; /* cfg_service_bits; default CFG_SVC_ALL */
    int line;          /* where it was defined, 0 if not from a file */
};

/* Per-signal policy: points added when it fires, minimum action it forces. */
struct cfg_signal {
    int points;                /* 0..100 */
    enum lr_action min_action; /* LR_ACTION_UNSPECIFIED = none */
    bool enabled;
};

#define CFG_WINDOWS_MAX 4

/** Config files larger than this are refused before parsing. */
#define CFG_FILE_MAX_BYTES (1024 * 1024)
/** At most this many messages are kept; the last one says how many more. */
#define CFG_ERRORS_MAX 100

/*
 * Velocity limits: a signal fires when a count in its window reaches it.
 * Windows are strictly ascending; "shortest" is windows_s[0], "middle" is
 * windows_s[1] (windows_s[0] when there is only one) and "longest" is
 * windows_s[n_windows - 1].
 */
struct cfg_velocity {
    uint32_t windows_s[CFG_WINDOWS_MAX]; /* e.g. 60, 3600, 86400 */
    int n_windows;
    uint32_t buckets;     /* sub-window buckets per window, default 12 */
    uint32_t ip_attempts; /* per IP per shortest window */
    uint32_t ip_failures; /* per IP per middle window */
    uint32_t ip_distinct_accounts;     /* per IP per middle window */
    uint32_t subnet_failures;          /* per /24 or /64 per middle window */
    uint32_t subnet_distinct_accounts; /* per /24 or /64 per middle window */
    uint32_t asn_failures;             /* per ASN per middle window */
    uint32_t account_failures;         /* per account per middle window */
    uint32_t account_distinct_ips;     /* per account per longest window */
    uint32_t device_distinct_accounts; /* per device per longest window */
    double attack_wave_factor;         /* failure rate / baseline, e.g. 5.0 */
    uint32_t attack_wave_min_failures; /* per shortest window, e.g. 100 */
};

struct cfg_travel {
    double max_speed_kmh; /* default 900 */
    /* points multiplier (0..1) when the IP is anonymous/hosting or the
     * device is known: damping so VPN users are not punished twice */
    double anonymous_damping;
    double known_device_damping;
    uint32_t min_distance_km; /* below this (after radii) never fires */
};

enum cfg_rule_effect_bits {
    CFG_RULE_ADD_POINTS = 1u << 0,
    CFG_RULE_MIN_ACTION = 1u << 1,
    CFG_RULE_ALLOWLIST = 1u << 2,
};

struct cfg_rule {
    char *name; /* reason code becomes "RULE:<name>" */
    int line;   /* where it was defined, for messages */
    /* match: every non-empty list must match (AND); within a list, OR */
    char **countries;
    size_t n_countries;
    uint32_t *asns;
    size_t n_asns;
    char **cidrs; /* text as written, parsed by the engine with geo */
    size_t n_cidrs;
    char **accounts;
    size_t n_accounts;
    enum lr_signal *signals;
    size_t n_signals;
    /* effect */
    unsigned effects; /* cfg_rule_effect_bits */
    int add_points;
    enum lr_action min_action;
};

enum cfg_lock_scope {
    CFG_LOCK_SCOPE_ALL = 0,        /* every attempt answers ACTION_LOCK */
    CFG_LOCK_SCOPE_UNFAMILIAR = 1, /* known devices get 2FA instead */
};

struct cfg_locks {
    uint64_t default_duration_s; /* 0 = until unlocked */
    enum cfg_lock_scope auto_scope;
    uint64_t auto_duration_s; /* automatic locks (fraud, spray success) */
    bool lock_on_confirmed_fraud;
    bool lock_on_spray_success;
};

struct cfg_spray {
    bool enabled;
    char *pepper_file; /* NULL = <state.dir>/spray.pepper, made on first run */
    uint32_t t_cost;   /* Argon2id iterations, default 1 */
    uint32_t m_cost_kib; /* default 1024 */
    uint32_t threads;    /* worker threads, default 1 */
    uint32_t queue;      /* pending fingerprints before skipping, default 64 */
    uint32_t distinct_accounts; /* PASSWORD_SPRAY at this many, default 10 */
    uint32_t window_s;          /* default 86400 */
};

enum cfg_role {
    CFG_ROLE_ANALYST = 0,
    CFG_ROLE_RESPONDER = 1,
};

struct cfg_token {
    char *name;
    enum cfg_role role;
    char *hash; /* Argon2id PHC string */
    int line;   /* where it was defined, 0 if not from a file */
};

struct cfg_admin {
    struct cfg_token *tokens;
    size_t n_tokens;
    uint32_t auth_cache_s;         /* verified tokens cached, default 60 */
    uint32_t max_failures_per_min; /* per peer before throttling, default 10 */
};

/* Hard caps on every table client input can grow. */
struct cfg_limits {
    uint32_t ip_entries; /* per velocity table keyed by IP */
    uint32_t subnet_entries;
    uint32_t asn_entries;
    uint32_t account_entries;
    uint32_t device_entries;
    uint32_t spray_entries;
    uint32_t profile_cache;       /* account profiles held in memory */
    uint32_t devices_per_account; /* known devices kept, LRU, default 8 */
    uint32_t places_per_account;  /* countries/ASNs kept, default 16 */
    uint32_t recent_decisions;    /* for ReportOutcome joins */
    uint32_t distinct_exact;      /* exact distinct counting up to this */
};

enum cfg_account_log {
    CFG_ACCOUNT_LOG_CLEAR = 0,
    CFG_ACCOUNT_LOG_PSEUDONYM = 1, /* keyed hash */
};

struct cfg_logging {
    enum lr_log_level level;
    char *decision_log; /* JSON lines; NULL = off */
    enum cfg_account_log account;
    char *pseudonym_key_file; /* NULL = <state.dir>/pseudonym.key */
};

struct cfg {
    char *path;           /* file it came from, or "<embedded default>" */
    char *policy_version; /* policy.version, or a hash of the file */

    /* agent */
    uint32_t workers;                 /* 0 = number of CPUs */
    uint32_t max_message_bytes;       /* RiskService and health requests */
    uint32_t admin_max_message_bytes; /* AdminService requests (bulk) */
    uint32_t drain_timeout_ms;
    uint32_t max_inflight; /* per worker before RESOURCE_EXHAUSTED */
    uint64_t timestamp_past_s;
    uint64_t timestamp_future_s;

    struct cfg_listener *listeners;
    size_t n_listeners;

    /* geo */
    char *geo_city;
    char *geo_asn;
    char *geo_anonymous;
    uint32_t geo_max_age_days;
    char **high_risk_countries;
    size_t n_high_risk_countries;
    uint32_t *hosting_asns; /* extra ASNs treated as hosting */
    size_t n_hosting_asns;
    uint32_t *anonymous_asns;
    size_t n_anonymous_asns;

    /* state */
    char *state_dir;
    uint32_t history_retention_days;
    uint32_t history_batch;
    uint32_t state_max_size_mb; /* database size cap, MiB; 0 = none */

    /* policy */
    struct cfg_signal signals[LR_SIG_COUNT];
    int threshold_captcha; /* score >= this => at least captcha */
    int threshold_2fa;     /* score >= this => at least 2FA */
    int threshold_lock;    /* score >= this => lock; 101 = never */
    struct cfg_velocity velocity;
    struct cfg_travel travel;
    struct cfg_rule *rules;
    size_t n_rules;
    char **allow_cidrs;
    size_t n_allow_cidrs;
    char **allow_accounts;
    size_t n_allow_accounts;
    struct cfg_locks locks;
    struct cfg_spray spray;
    struct cfg_admin admin;
    struct cfg_limits limits;
    struct cfg_logging logging;
    char *metrics_listen; /* "127.0.0.1:9464"; NULL = off */
};

/** One "file:line: what is wrong" message per entry. */
struct cfg_errors {
    char **msgs;
    size_t n;
};

/** Frees the messages; the struct itself may live on the stack. */
void cfg_errors_clear(struct cfg_errors *errs);

/**
 * Loads and validates the YAML file at @p path. On success *@p out is a new
 * config (free with cfg_free). On failure returns LR_CONFIG (or LR_IO when
 * the file cannot be read, LR_NOMEM) and appends every problem found to
 * @p errs as "path:line: message"; *@p out is untouched.
 * Paths inside the file (geo databases, TLS files) are checked to exist.
 */
LR_WUR int cfg_load_file(const char *path, struct cfg **out,
                         struct cfg_errors *errs);

/**
 * The same for YAML text already in memory; @p name is used in messages in
 * place of a path.
 */
LR_WUR int cfg_load_string(const char *name, const char *text, size_t len,
                           struct cfg **out, struct cfg_errors *errs);

/** The embedded default config (YAML text, static storage). */
const char *cfg_default_yaml(void);

/** Frees @p cfg and everything it owns. NULL is a no-op. */
void cfg_free(struct cfg *cfg);

/**
 * Re-runs the checks that depend on values changed after loading (command
 * line overrides): listener addresses, files that must exist, ranges.
 * Same error contract as cfg_load_file, with "<command line>" as the file.
 */
LR_WUR int cfg_validate(const struct cfg *cfg, struct cfg_errors *errs);

/** Replaces *@p slot with a copy of @p value (NULL clears). LR_NOMEM. */
LR_WUR int cfg_set_string(char **slot, const char *value);

/**
 * Replaces every listener of @p cfg with @p n plaintext listeners serving all
 * services on @p addresses (copied), as the agent's --listen flags do. Run
 * cfg_validate afterwards to check the addresses. LR_INVALID when @p n is 0,
 * LR_NOMEM (then @p cfg is unchanged).
 */
LR_WUR int cfg_set_listeners(struct cfg *cfg, const char *const *addresses,
                             size_t n);

#endif
