/*
 * config_schema.c - every key of the config file: its type, where it lands in
 * struct cfg, its range and its default, and the rules between keys.
 *
 * Shaped like an nginx command table: one row per key, grouped by section,
 * so adding a setting is one row here, one field in config.h and one line in
 * loginrisk.example.yaml. config_walk.c interprets the rows; the functions
 * at the end of this file are the checks that involve more than one key
 * (thresholds in order, windows ascending, TLS files in pairs, unique names).
 */
#include "config/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG_DEFAULT_LISTEN "127.0.0.1:50051"
#define CFG_DEFAULT_STATE_DIR "/var/lib/loginrisk"
#define CFG_MAX_COUNT 100000000.0 /* velocity limits and table caps */
#define CFG_TEN_YEARS_S 315360000.0
#define CFG_LIST_MAX 10000.0 /* items in one list of countries, CIDRs... */

/* Row makers: key, struct, member, then what the type needs. */
#define CFG_NUM(k, t, s, m, lo, hi, d)                                         \
    {                                                                          \
        .key = (k), .type = (t), .off = offsetof(s, m), .min = (lo),           \
        .max = (hi), .def = (d)                                                \
    }
#define CFG_INT(k, s, m, lo, hi, d) CFG_NUM(k, CFG_T_INT, s, m, lo, hi, d)
#define CFG_U32(k, s, m, lo, hi, d) CFG_NUM(k, CFG_T_U32, s, m, lo, hi, d)
#define CFG_U64(k, s, m, lo, hi, d) CFG_NUM(k, CFG_T_U64, s, m, lo, hi, d)
#define CFG_DBL(k, s, m, lo, hi, d) CFG_NUM(k, CFG_T_DOUBLE, s, m, lo, hi, d)
#define CFG_BOOL(k, s, m, d)                                                   \
    {                                                                          \
        .key = (k), .type = CFG_T_BOOL, .off = offsetof(s, m), .def = (d)      \
    }
#define CFG_STR(k, s, m, chk, d, fl)                                           \
    {                                                                          \
        .key = (k), .type = CFG_T_STR, .off = offsetof(s, m), .check = (chk),  \
        .def_str = (d), .flags = (fl)                                          \
    }
#define CFG_ENUM(k, s, m, tbl, d, fl)                                          \
    {                                                                          \
        .key = (k), .type = CFG_T_ENUM, .off = offsetof(s, m), .aux = &(tbl),  \
        .def = (d), .flags = (fl)                                              \
    }
#define CFG_SLIST(k, s, m, n, chk)                                             \
    {                                                                          \
        .key = (k), .type = CFG_T_STRLIST, .off = offsetof(s, m),              \
        .n_off = offsetof(s, n), .max = CFG_LIST_MAX, .check = (chk)           \
    }
#define CFG_LIST_OF(k, t, s, m, n, mx, a)                                      \
    {                                                                          \
        .key = (k), .type = (t), .off = offsetof(s, m),                        \
        .n_off = offsetof(s, n), .max = (mx), .aux = (a)                       \
    }
#define CFG_SECT(k, sec)                                                       \
    {                                                                          \
        .key = (k), .type = CFG_T_SECTION, .aux = &(sec)                       \
    }
#define CFG_SECTION_OF(rows, chk)                                              \
    {                                                                          \
        .fields = (rows), .n_fields = LR_ARRAY_LEN(rows), .check = (chk)       \
    }

_Static_assert(sizeof(enum lr_action) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_role) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_lock_scope) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_account_log) == sizeof(int), "enum size");
_Static_assert(sizeof(enum lr_log_level) == sizeof(int), "enum size");

/* ---- enumerations: the spellings a file may use ---- */

static const struct cfg_enum_item cfg_action_items[] = {
    {"none", LR_ACTION_UNSPECIFIED}, {"allow", LR_ACTION_ALLOW},
    {"captcha", LR_ACTION_CAPTCHA},  {"challenge_2fa", LR_ACTION_CHALLENGE_2FA},
    {"lock", LR_ACTION_LOCK},
};
static const struct cfg_enum cfg_actions = {cfg_action_items,
                                            LR_ARRAY_LEN(cfg_action_items)};

static const struct cfg_enum_item cfg_role_items[] = {
    {"analyst", CFG_ROLE_ANALYST},
    {"responder", CFG_ROLE_RESPONDER},
};
static const struct cfg_enum cfg_roles = {cfg_role_items,
                                          LR_ARRAY_LEN(cfg_role_items)};

static const struct cfg_enum_item cfg_scope_items[] = {
    {"all", CFG_LOCK_SCOPE_ALL},
    {"unfamiliar", CFG_LOCK_SCOPE_UNFAMILIAR},
};
static const struct cfg_enum cfg_scopes = {cfg_scope_items,
                                           LR_ARRAY_LEN(cfg_scope_items)};

static const struct cfg_enum_item cfg_account_log_items[] = {
    {"clear", CFG_ACCOUNT_LOG_CLEAR},
    {"pseudonym", CFG_ACCOUNT_LOG_PSEUDONYM},
};
static const struct cfg_enum cfg_account_logs = {
    cfg_account_log_items, LR_ARRAY_LEN(cfg_account_log_items)};

static const struct cfg_enum_item cfg_level_items[] = {
    {"error", LR_LOG_ERROR},
    {"warn", LR_LOG_WARN},
    {"info", LR_LOG_INFO},
    {"debug", LR_LOG_DEBUG},
};
static const struct cfg_enum cfg_levels = {cfg_level_items,
                                           LR_ARRAY_LEN(cfg_level_items)};

/* ---- cross-field checks (declared here, defined at the end) ---- */

static void cfg_check_listener(struct cfg_ctx *ctx, const void *base,
                               const char *path, int line);
static void cfg_check_listeners(struct cfg_ctx *ctx, const void *arr, size_t n,
                                const char *path);
static int cfg_default_listeners(void **arr, size_t *n);
static void cfg_check_thresholds(struct cfg_ctx *ctx, const void *base,
                                 const char *path, int line);
static void cfg_check_velocity(struct cfg_ctx *ctx, const void *base,
                               const char *path, int line);
static void cfg_check_distinct(struct cfg_ctx *ctx, const void *base,
                               const char *path, int line);
static void cfg_rule_effects(void *elem, const struct cfg_node *map);
static void cfg_check_rule(struct cfg_ctx *ctx, const void *base,
                           const char *path, int line);
static void cfg_check_rules(struct cfg_ctx *ctx, const void *arr, size_t n,
                            const char *path);
static void cfg_check_tokens(struct cfg_ctx *ctx, const void *arr, size_t n,
                             const char *path);

/* ---- agent ---- */

static const struct cfg_field cfg_agent_rows[] = {
    CFG_U32("workers", struct cfg, workers, 0, 1024, 0),
    CFG_U32("max_message_bytes", struct cfg, max_message_bytes, 1024, 16777216,
            65536),
    CFG_U32("admin_max_message_bytes", struct cfg, admin_max_message_bytes,
            1024, 67108864, 4194304),
    CFG_U32("drain_timeout_ms", struct cfg, drain_timeout_ms, 0, 600000, 10000),
    CFG_U32("max_inflight", struct cfg, max_inflight, 1, 1000000, 1024),
    CFG_U64("timestamp_past_s", struct cfg, timestamp_past_s, 0, 31622400,
            604800),
    CFG_U64("timestamp_future_s", struct cfg, timestamp_future_s, 0, 86400,
            300),
};
static const struct cfg_section cfg_agent =
    CFG_SECTION_OF(cfg_agent_rows, NULL);

/* ---- listeners ---- */

static const struct cfg_field cfg_tls_rows[] = {
    CFG_STR("cert", struct cfg_listener, tls_cert, CFG_CHK_FILE, NULL, 0),
    CFG_STR("key", struct cfg_listener, tls_key, CFG_CHK_FILE, NULL, 0),
    CFG_STR("client_ca", struct cfg_listener, client_ca, CFG_CHK_FILE, NULL, 0),
};
static const struct cfg_section cfg_tls = CFG_SECTION_OF(cfg_tls_rows, NULL);

static const struct cfg_field cfg_listener_rows[] = {
    CFG_STR("address", struct cfg_listener, address, CFG_CHK_LISTEN, NULL,
            CFG_F_REQUIRED),
    CFG_SECT("tls", cfg_tls),
    {.key = "services",
     .type = CFG_T_SERVICES,
     .off = offsetof(struct cfg_listener, services),
     .def = CFG_SVC_ALL},
};
static const struct cfg_section cfg_listener =
    CFG_SECTION_OF(cfg_listener_rows, cfg_check_listener);
static const struct cfg_list cfg_listeners = {
    .elem_size = sizeof(struct cfg_listener),
    .elem = &cfg_listener,
    .line_off = offsetof(struct cfg_listener, line),
    .check_all = cfg_check_listeners,
    .defaults = cfg_default_listeners,
    .min_items = 1,
};

/* ---- geo ---- */

static const struct cfg_field cfg_geo_rows[] = {
    CFG_STR("city", struct cfg, geo_city, CFG_CHK_FILE, NULL, 0),
    CFG_STR("asn", struct cfg, geo_asn, CFG_CHK_FILE, NULL, 0),
    CFG_STR("anonymous", struct cfg, geo_anonymous, CFG_CHK_FILE, NULL, 0),
    CFG_U32("max_age_days", struct cfg, geo_max_age_days, 0, 3650, 30),
    CFG_SLIST("high_risk_countries", struct cfg, high_risk_countries,
              n_high_risk_countries, CFG_CHK_COUNTRY),
    CFG_LIST_OF("hosting_asns", CFG_T_ASNLIST, struct cfg, hosting_asns,
                n_hosting_asns, CFG_LIST_MAX, NULL),
    CFG_LIST_OF("anonymous_asns", CFG_T_ASNLIST, struct cfg, anonymous_asns,
                n_anonymous_asns, CFG_LIST_MAX, NULL),
};
static const struct cfg_section cfg_geo = CFG_SECTION_OF(cfg_geo_rows, NULL);

/* ---- state ---- */

static const struct cfg_field cfg_state_rows[] = {
    CFG_STR("dir", struct cfg, state_dir, CFG_CHK_NONEMPTY,
            CFG_DEFAULT_STATE_DIR, CFG_F_NOTNULL),
    CFG_U32("history_retention_days", struct cfg, history_retention_days, 1,
            3650, 30),
    CFG_U32("history_batch", struct cfg, history_batch, 1, 100000, 256),
    CFG_U32("max_size_mb", struct cfg, state_max_size_mb, 0, 16777216, 10240),
};
static const struct cfg_section cfg_state =
    CFG_SECTION_OF(cfg_state_rows, NULL);

/* ---- policy ---- */

static const struct cfg_field cfg_threshold_rows[] = {
    CFG_INT("captcha", struct cfg, threshold_captcha, 0, 101, 30),
    CFG_INT("challenge_2fa", struct cfg, threshold_2fa, 0, 101, 60),
    CFG_INT("lock", struct cfg, threshold_lock, 0, 101, 101),
};
static const struct cfg_section cfg_thresholds =
    CFG_SECTION_OF(cfg_threshold_rows, cfg_check_thresholds);

/* Defaults of these three come from LR_SIGNAL_MAP (cfg_walk_defaults). */
static const struct cfg_field cfg_signal_rows[] = {
    CFG_INT("points", struct cfg_signal, points, 0, 100, 0),
    CFG_ENUM("min_action", struct cfg_signal, min_action, cfg_actions, 0, 0),
    CFG_BOOL("enabled", struct cfg_signal, enabled, 1),
};
const struct cfg_section cfg_schema_signal =
    CFG_SECTION_OF(cfg_signal_rows, NULL);

#define CFG_VEL(k, d) CFG_U32(#k, struct cfg, velocity.k, 1, CFG_MAX_COUNT, d)
static const struct cfg_field cfg_velocity_rows[] = {
    {.key = "windows_s",
     .type = CFG_T_WINDOWS,
     .off = offsetof(struct cfg, velocity),
     .min = 1,
     .max = 2592000},
    CFG_U32("buckets", struct cfg, velocity.buckets, 1, 3600, 12),
    CFG_VEL(ip_attempts, 30),
    CFG_VEL(ip_failures, 20),
    CFG_VEL(ip_distinct_accounts, 10),
    CFG_VEL(subnet_failures, 50),
    CFG_VEL(subnet_distinct_accounts, 16),
    CFG_VEL(asn_failures, 500),
    CFG_VEL(account_failures, 10),
    CFG_VEL(account_distinct_ips, 10),
    CFG_VEL(device_distinct_accounts, 5),
    CFG_DBL("attack_wave_factor", struct cfg, velocity.attack_wave_factor, 1,
            1000, 5.0),
    CFG_VEL(attack_wave_min_failures, 100),
};
static const struct cfg_section cfg_velocity =
    CFG_SECTION_OF(cfg_velocity_rows, cfg_check_velocity);

static const struct cfg_field cfg_travel_rows[] = {
    {.key = "max_speed_kmh",
     .type = CFG_T_DOUBLE,
     .off = offsetof(struct cfg, travel.max_speed_kmh),
     .min = 0,
     .max = 100000,
     .def = 900,
     .flags = CFG_F_POSITIVE},
    CFG_DBL("anonymous_damping", struct cfg, travel.anonymous_damping, 0, 1,
            0.5),
    CFG_DBL("known_device_damping", struct cfg, travel.known_device_damping, 0,
            1, 0.5),
    CFG_U32("min_distance_km", struct cfg, travel.min_distance_km, 0, 20040,
            500),
};
static const struct cfg_section cfg_travel =
    CFG_SECTION_OF(cfg_travel_rows, NULL);

static const struct cfg_field cfg_match_rows[] = {
    CFG_SLIST("countries", struct cfg_rule, countries, n_countries,
              CFG_CHK_COUNTRY),
    CFG_LIST_OF("asns", CFG_T_ASNLIST, struct cfg_rule, asns, n_asns,
                CFG_LIST_MAX, NULL),
    CFG_SLIST("cidrs", struct cfg_rule, cidrs, n_cidrs, CFG_CHK_CIDR),
    CFG_SLIST("accounts", struct cfg_rule, accounts, n_accounts,
              CFG_CHK_ACCOUNT),
    CFG_LIST_OF("signals", CFG_T_SIGLIST, struct cfg_rule, signals, n_signals,
                LR_SIG_COUNT, NULL),
};
static const struct cfg_section cfg_match =
    CFG_SECTION_OF(cfg_match_rows, NULL);

static const struct cfg_field cfg_rule_rows[] = {
    CFG_STR("name", struct cfg_rule, name, CFG_CHK_NAME, NULL, CFG_F_REQUIRED),
    CFG_SECT("match", cfg_match),
    CFG_INT("add_points", struct cfg_rule, add_points, 0, 100, 0),
    CFG_ENUM("min_action", struct cfg_rule, min_action, cfg_actions, 0, 0),
    {.key = "allowlist",
     .type = CFG_T_BIT,
     .off = offsetof(struct cfg_rule, effects),
     .aux_bit = CFG_RULE_ALLOWLIST},
};
static const struct cfg_section cfg_rule =
    CFG_SECTION_OF(cfg_rule_rows, cfg_check_rule);
static const struct cfg_list cfg_rules = {
    .elem_size = sizeof(struct cfg_rule),
    .elem = &cfg_rule,
    .line_off = offsetof(struct cfg_rule, line),
    .post_parse = cfg_rule_effects,
    .check_all = cfg_check_rules,
};

static const struct cfg_field cfg_allowlist_rows[] = {
    CFG_SLIST("cidrs", struct cfg, allow_cidrs, n_allow_cidrs, CFG_CHK_CIDR),
    CFG_SLIST("accounts", struct cfg, allow_accounts, n_allow_accounts,
              CFG_CHK_ACCOUNT),
};
static const struct cfg_section cfg_allowlist =
    CFG_SECTION_OF(cfg_allowlist_rows, NULL);

static const struct cfg_field cfg_policy_rows[] = {
    CFG_STR("version", struct cfg, policy_version, CFG_CHK_VERSION, NULL, 0),
    CFG_SECT("thresholds", cfg_thresholds),
    {.key = "signals",
     .type = CFG_T_SIGNALS,
     .off = offsetof(struct cfg, signals)},
    CFG_SECT("velocity", cfg_velocity),
    CFG_SECT("travel", cfg_travel),
    CFG_LIST_OF("rules", CFG_T_LIST, struct cfg, rules, n_rules, 1000,
                &cfg_rules),
    CFG_SECT("allowlist", cfg_allowlist),
};
static const struct cfg_section cfg_policy =
    CFG_SECTION_OF(cfg_policy_rows, NULL);

/* ---- locks, spray ---- */

static const struct cfg_field cfg_locks_rows[] = {
    CFG_U64("default_duration_s", struct cfg, locks.default_duration_s, 0,
            CFG_TEN_YEARS_S, 0),
    CFG_ENUM("auto_scope", struct cfg, locks.auto_scope, cfg_scopes,
             CFG_LOCK_SCOPE_UNFAMILIAR, 0),
    CFG_U64("auto_duration_s", struct cfg, locks.auto_duration_s, 0,
            CFG_TEN_YEARS_S, 86400),
    CFG_BOOL("lock_on_confirmed_fraud", struct cfg,
             locks.lock_on_confirmed_fraud, 1),
    CFG_BOOL("lock_on_spray_success", struct cfg, locks.lock_on_spray_success,
             1),
};
static const struct cfg_section cfg_locks =
    CFG_SECTION_OF(cfg_locks_rows, NULL);

static const struct cfg_field cfg_spray_rows[] = {
    CFG_BOOL("enabled", struct cfg, spray.enabled, 1),
    CFG_STR("pepper_file", struct cfg, spray.pepper_file, CFG_CHK_FILE, NULL,
            0),
    CFG_U32("t_cost", struct cfg, spray.t_cost, 1, 16, 1),
    CFG_U32("m_cost_kib", struct cfg, spray.m_cost_kib, 8, 1048576, 1024),
    CFG_U32("threads", struct cfg, spray.threads, 1, 64, 1),
    CFG_U32("queue", struct cfg, spray.queue, 1, 65536, 64),
    CFG_U32("distinct_accounts", struct cfg, spray.distinct_accounts, 2,
            1000000, 10),
    CFG_U32("window_s", struct cfg, spray.window_s, 60, 2592000, 86400),
};
static const struct cfg_section cfg_spray =
    CFG_SECTION_OF(cfg_spray_rows, NULL);

/* ---- admin ---- */

static const struct cfg_field cfg_token_rows[] = {
    CFG_STR("name", struct cfg_token, name, CFG_CHK_NAME, NULL, CFG_F_REQUIRED),
    CFG_ENUM("role", struct cfg_token, role, cfg_roles, CFG_ROLE_ANALYST,
             CFG_F_REQUIRED),
    CFG_STR("hash", struct cfg_token, hash, CFG_CHK_PHC, NULL,
            CFG_F_REQUIRED | CFG_F_SECRET),
};
static const struct cfg_section cfg_token =
    CFG_SECTION_OF(cfg_token_rows, NULL);
static const struct cfg_list cfg_tokens = {
    .elem_size = sizeof(struct cfg_token),
    .elem = &cfg_token,
    .line_off = offsetof(struct cfg_token, line),
    .check_all = cfg_check_tokens,
};

static const struct cfg_field cfg_admin_rows[] = {
    CFG_LIST_OF("tokens", CFG_T_LIST, struct cfg, admin.tokens, admin.n_tokens,
                256, &cfg_tokens),
    CFG_U32("auth_cache_s", struct cfg, admin.auth_cache_s, 0, 3600, 60),
    CFG_U32("max_failures_per_min", struct cfg, admin.max_failures_per_min, 1,
            100000, 10),
};
static const struct cfg_section cfg_admin =
    CFG_SECTION_OF(cfg_admin_rows, NULL);

/* ---- limits, logging, metrics ---- */

#define CFG_LIM(k, hi, d) CFG_U32(#k, struct cfg, limits.k, 1, hi, d)
static const struct cfg_field cfg_limits_rows[] = {
    CFG_LIM(ip_entries, CFG_MAX_COUNT, 100000),
    CFG_LIM(subnet_entries, CFG_MAX_COUNT, 50000),
    CFG_LIM(asn_entries, CFG_MAX_COUNT, 10000),
    CFG_LIM(account_entries, CFG_MAX_COUNT, 100000),
    CFG_LIM(device_entries, CFG_MAX_COUNT, 50000),
    CFG_LIM(spray_entries, CFG_MAX_COUNT, 50000),
    CFG_LIM(profile_cache, CFG_MAX_COUNT, 100000),
    CFG_LIM(devices_per_account, 1024, 8),
    CFG_LIM(places_per_account, 1024, 16),
    CFG_LIM(recent_decisions, CFG_MAX_COUNT, 100000),
    CFG_LIM(distinct_exact, 4096, 16),
};
static const struct cfg_section cfg_limits =
    CFG_SECTION_OF(cfg_limits_rows, NULL);

static const struct cfg_field cfg_logging_rows[] = {
    CFG_ENUM("level", struct cfg, logging.level, cfg_levels, LR_LOG_INFO, 0),
    CFG_STR("decision_log", struct cfg, logging.decision_log,
            CFG_CHK_PARENT_DIR, NULL, 0),
    CFG_ENUM("account", struct cfg, logging.account, cfg_account_logs,
             CFG_ACCOUNT_LOG_CLEAR, 0),
    CFG_STR("pseudonym_key_file", struct cfg, logging.pseudonym_key_file,
            CFG_CHK_FILE, NULL, 0),
};
static const struct cfg_section cfg_logging =
    CFG_SECTION_OF(cfg_logging_rows, NULL);

static const struct cfg_field cfg_metrics_rows[] = {
    CFG_STR("listen", struct cfg, metrics_listen, CFG_CHK_HOSTPORT, NULL, 0),
};
static const struct cfg_section cfg_metrics =
    CFG_SECTION_OF(cfg_metrics_rows, NULL);

/* ---- the file ---- */

static const struct cfg_field cfg_root_rows[] = {
    CFG_SECT("agent", cfg_agent),
    CFG_LIST_OF("listeners", CFG_T_LIST, struct cfg, listeners, n_listeners, 16,
                &cfg_listeners),
    CFG_SECT("geo", cfg_geo),
    CFG_SECT("state", cfg_state),
    CFG_SECT("policy", cfg_policy),
    CFG_SECT("locks", cfg_locks),
    CFG_SECT("spray", cfg_spray),
    CFG_SECT("admin", cfg_admin),
    CFG_SECT("limits", cfg_limits),
    CFG_SECT("logging", cfg_logging),
    CFG_SECT("metrics", cfg_metrics),
};
const struct cfg_section cfg_schema_root =
    CFG_SECTION_OF(cfg_root_rows, cfg_check_distinct);

/* ---- listeners: defaults, --listen, checks ---- */

static void cfg_listeners_free(struct cfg_listener *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++) {
        free(arr[i].address);
        free(arr[i].tls_cert);
        free(arr[i].tls_key);
        free(arr[i].client_ca);
    }
    free(arr);
}

/* Plaintext listeners on @p addrs serving everything. */
static int cfg_listeners_make(const char *const *addrs, size_t n,
                              struct cfg_listener **out)
{
    struct cfg_listener *arr = calloc(n, sizeof(*arr));
    size_t i;

    if (arr == NULL)
        return LR_NOMEM;
    for (i = 0; i < n; i++) {
        arr[i].services = CFG_SVC_ALL;
        arr[i].address = strdup(addrs[i]);
        if (arr[i].address == NULL) {
            cfg_listeners_free(arr, i);
            return LR_NOMEM;
        }
    }
    *out = arr;
    return LR_OK;
}

static int cfg_default_listeners(void **arr, size_t *n)
{
    static const char *const addr[] = {CFG_DEFAULT_LISTEN};
    struct cfg_listener *l;
    int rc;

    rc = cfg_listeners_make(addr, 1, &l);
    if (rc)
        return rc;
    *arr = l;
    *n = 1;
    return LR_OK;
}

int cfg_set_listeners(struct cfg *cfg, const char *const *addresses, size_t n)
{
    struct cfg_listener *arr;
    int rc;

    if (cfg == NULL || addresses == NULL || n == 0)
        return LR_INVALID;
    rc = cfg_listeners_make(addresses, n, &arr);
    if (rc)
        return rc;
    cfg_listeners_free(cfg->listeners, cfg->n_listeners);
    cfg->listeners = arr;
    cfg->n_listeners = n;
    return LR_OK;
}

static int cfg_line_or(struct cfg_ctx *ctx, const void *addr, int fallback)
{
    int line = cfg_where_line(ctx, addr);

    return line > 0 ? line : fallback;
}

static void cfg_check_listener(struct cfg_ctx *ctx, const void *base,
                               const char *path, int line)
{
    const struct cfg_listener *l = base;

    if (l->tls_cert && !l->tls_key)
        cfg_err(ctx, cfg_line_or(ctx, &l->tls_cert, line), path,
                "tls.cert needs tls.key");
    if (l->tls_key && !l->tls_cert)
        cfg_err(ctx, cfg_line_or(ctx, &l->tls_key, line), path,
                "tls.key needs tls.cert");
    if (l->client_ca && !l->tls_cert)
        cfg_err(ctx, cfg_line_or(ctx, &l->client_ca, line), path,
                "tls.client_ca needs tls.cert and tls.key");
}

static void cfg_check_listeners(struct cfg_ctx *ctx, const void *arr, size_t n,
                                const char *path)
{
    const struct cfg_listener *l = arr;

    for (size_t i = 1; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (!l[i].address || !l[j].address ||
                strcmp(l[i].address, l[j].address) != 0)
                continue;
            cfg_err(ctx, cfg_line_or(ctx, &l[i].address, 0), path,
                    "address \"%s\" is listed twice", l[i].address);
            break;
        }
    }
}

/* ---- policy checks ---- */

static int cfg_max_line(struct cfg_ctx *ctx, const void *a, const void *b,
                        int fallback)
{
    int la = cfg_where_line(ctx, a), lb = cfg_where_line(ctx, b);
    int line = la > lb ? la : lb;

    return line > 0 ? line : fallback;
}

static void cfg_check_thresholds(struct cfg_ctx *ctx, const void *base,
                                 const char *path, int line)
{
    const struct cfg *c = base;

    if (c->threshold_captcha > c->threshold_2fa)
        cfg_err(
            ctx,
            cfg_max_line(ctx, &c->threshold_captcha, &c->threshold_2fa, line),
            path, "captcha (%d) must not be above challenge_2fa (%d)",
            c->threshold_captcha, c->threshold_2fa);
    if (c->threshold_2fa > c->threshold_lock)
        cfg_err(ctx,
                cfg_max_line(ctx, &c->threshold_2fa, &c->threshold_lock, line),
                path, "challenge_2fa (%d) must not be above lock (%d)",
                c->threshold_2fa, c->threshold_lock);
}

static void cfg_check_velocity(struct cfg_ctx *ctx, const void *base,
                               const char *path, int line)
{
    const struct cfg_velocity *v = &((const struct cfg *)base)->velocity;

    for (int i = 0; i < v->n_windows; i++) {
        int at = cfg_line_or(ctx, &v->windows_s[i], line);

        if (i > 0 && v->windows_s[i] <= v->windows_s[i - 1])
            cfg_err(ctx, at, path,
                    "windows_s must be strictly ascending: %u follows %u",
                    (unsigned)v->windows_s[i], (unsigned)v->windows_s[i - 1]);
        if (v->windows_s[i] < v->buckets)
            cfg_err(ctx, cfg_max_line(ctx, &v->windows_s[i], &v->buckets, line),
                    path,
                    "window of %u s is shorter than %u buckets of 1 s each",
                    (unsigned)v->windows_s[i], (unsigned)v->buckets);
    }
}

/*
 * Distinct counts (accounts per IP, subnet and device, IPs per account,
 * accounts per sprayed password) are exact up to limits.distinct_exact
 * members of a key, then HyperLogLog estimates (risk/risk_velocity.c). A
 * limit above distinct_exact is only ever met by an estimate, about 26%
 * off either way, and its reason would print that estimate as a count: the
 * config loads, with a warning that says so. The defaults stay at or below
 * distinct_exact's default.
 */
static void cfg_check_distinct(struct cfg_ctx *ctx, const void *base,
                               const char *path, int line)
{
    const struct cfg *c = base;
    const struct {
        const char *path;
        const char *key;
        const uint32_t *limit;
    } lims[] = {
        {"policy.velocity", "ip_distinct_accounts",
         &c->velocity.ip_distinct_accounts},
        {"policy.velocity", "subnet_distinct_accounts",
         &c->velocity.subnet_distinct_accounts},
        {"policy.velocity", "account_distinct_ips",
         &c->velocity.account_distinct_ips},
        {"policy.velocity", "device_distinct_accounts",
         &c->velocity.device_distinct_accounts},
        {"spray", "distinct_accounts", &c->spray.distinct_accounts},
    };
    uint32_t exact = c->limits.distinct_exact;
    /* the limit's own line, else distinct_exact's when that was lowered */
    int exact_line = cfg_line_or(ctx, &c->limits.distinct_exact, line);

    (void)path;
    for (size_t i = 0; i < LR_ARRAY_LEN(lims); i++) {
        uint32_t v = *lims[i].limit;

        if (v <= exact)
            continue;
        cfg_warn(ctx, cfg_line_or(ctx, lims[i].limit, exact_line), lims[i].path,
                 "%s (%u) is above limits.distinct_exact (%u): it will be "
                 "met by an estimated count (about 26%% off), not an exact "
                 "one; lower it to %u or raise distinct_exact to %u",
                 lims[i].key, (unsigned)v, (unsigned)exact, (unsigned)exact,
                 (unsigned)v);
    }
}

static void cfg_rule_effects(void *elem, const struct cfg_node *map)
{
    struct cfg_rule *r = elem;

    if (cfg_node_get(map, "add_points"))
        r->effects |= CFG_RULE_ADD_POINTS;
    if (r->min_action != LR_ACTION_UNSPECIFIED)
        r->effects |= CFG_RULE_MIN_ACTION;
}

static void cfg_check_rule(struct cfg_ctx *ctx, const void *base,
                           const char *path, int line)
{
    const struct cfg_rule *r = base;
    /* a match list with a bad item was reported already: not empty */
    bool bad = cfg_where_line(ctx, &r->countries) < 0 ||
               cfg_where_line(ctx, &r->asns) < 0 ||
               cfg_where_line(ctx, &r->cidrs) < 0 ||
               cfg_where_line(ctx, &r->accounts) < 0 ||
               cfg_where_line(ctx, &r->signals) < 0;

    if (!bad && r->n_countries + r->n_asns + r->n_cidrs + r->n_accounts +
                        r->n_signals ==
                    0)
        cfg_err(ctx, line, path,
                "match is empty: name countries, asns, cidrs, accounts or "
                "signals (an empty match would hit every attempt)");
    if (r->effects == 0)
        cfg_err(ctx, line, path,
                "rule has no effect: set add_points, min_action or "
                "allowlist: true");
}

/*
 * Reports every element of @p arr (@p n structs of @p size bytes, with the
 * name and line at the given offsets) whose name repeats an earlier one.
 * Lists are short (1000 rules, 256 tokens), so the square is fine.
 */
static void cfg_check_names(struct cfg_ctx *ctx, const void *arr, size_t n,
                            size_t size, size_t name_off, size_t line_off,
                            const char *path, const char *what)
{
    const char *base = arr;

    for (size_t i = 1; i < n; i++) {
        const char *const *name = (const void *)(base + i * size + name_off);
        const int *line = (const void *)(base + i * size + line_off);

        for (size_t j = 0; j < i; j++) {
            const char *const *other =
                (const void *)(base + j * size + name_off);

            if (!*name || !*other || strcmp(*name, *other) != 0)
                continue;
            cfg_err(ctx, cfg_line_or(ctx, name, ctx->have_lines ? *line : 0),
                    path, "%s name \"%s\" is used twice", what, *name);
            break;
        }
    }
}

static void cfg_check_rules(struct cfg_ctx *ctx, const void *arr, size_t n,
                            const char *path)
{
    cfg_check_names(ctx, arr, n, sizeof(struct cfg_rule),
                    offsetof(struct cfg_rule, name),
                    offsetof(struct cfg_rule, line), path, "rule");
}

static void cfg_check_tokens(struct cfg_ctx *ctx, const void *arr, size_t n,
                             const char *path)
{
    cfg_check_names(ctx, arr, n, sizeof(struct cfg_token),
                    offsetof(struct cfg_token, name),
                    offsetof(struct cfg_token, line), path, "token");
}
