/*
 * test_config.c - config/: the example and the defaults, every kind of
 * mistake with its exact "file:line: message", several at once, hostile
 * input (deep nesting, alias bombs, oversized files, bad bytes), command-line
 * overrides through cfg_validate, and allocation failure at every point.
 *
 * Files that must exist are real files in a temporary directory; Argon2id
 * PHC strings are made with libargon2, as riskctl token-hash makes them.
 */
#include "config/config.h"
#include "config/config_int.h"
#include "tests/test_config_alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <argon2.h>
#include <cmocka.h>

#define T_NAME "t.yaml"

static char g_dir[64];       /* temporary directory of the group */
static char g_file[128];     /* an existing empty file */
static char g_subdir[128];   /* an existing directory */
static char g_phc[256];      /* a real Argon2id PHC string */
static char g_full[8192];    /* a config using every key */
static char g_example[4096]; /* path of config/loginrisk.example.yaml */

/* ---- helpers ---- */

static char *fmt(const char *f, ...) LR_PRINTF(1, 2);

/* A formatted string; the caller frees it. */
static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, f);
    assert_true(vasprintf(&s, f, ap) >= 0);
    va_end(ap);
    return s;
}

static int load(const char *yaml, struct cfg **out, struct cfg_errors *e)
{
    return cfg_load_string(T_NAME, yaml, strlen(yaml), out, e);
}

static void dump(const struct cfg_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        print_message("  [%zu] %s\n", i, e->msgs[i]);
}

/* Loads @p yaml, which must fail with exactly the messages @p want. */
static void expect_errors(const char *yaml, const char *const *want, size_t n)
{
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    int rc = load(yaml, &c, &e);

    if (rc != LR_CONFIG || e.n != n)
        dump(&e);
    assert_int_equal(rc, LR_CONFIG);
    assert_null(c);
    assert_int_equal(e.n, n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e.msgs[i], want[i]) != 0)
            dump(&e);
        assert_string_equal(e.msgs[i], want[i]);
    }
    cfg_errors_clear(&e);
}

static void expect_error(const char *yaml, const char *want)
{
    expect_errors(yaml, &want, 1);
}

/* Loads @p yaml, which must succeed; the caller frees the config. */
static struct cfg *expect_ok(const char *yaml)
{
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    int rc = load(yaml, &c, &e);

    if (rc != LR_OK)
        dump(&e);
    assert_int_equal(rc, LR_OK);
    assert_int_equal(e.n, 0);
    assert_non_null(c);
    return c;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 65536);
    size_t n;

    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, 65535, f);
    assert_true(n > 0 && n < 65535);
    fclose(f);
    return buf;
}

static void make_full(void)
{
    const char *d = g_dir, *f = g_file, *h = g_phc;
    int n;

    n = snprintf(
        g_full, sizeof(g_full),
        "agent:\n"
        "  workers: 4\n"
        "  max_message_bytes: 131072\n"
        "  admin_max_message_bytes: 8388608\n"
        "  drain_timeout_ms: 5000\n"
        "  max_inflight: 64\n"
        "  timestamp_past_s: 3600\n"
        "  timestamp_future_s: 60\n"
        "listeners:\n"
        "  - address: \"127.0.0.1:0\"\n"
        "    services: [risk, health]\n"
        "  - address: \"unix:%s/admin.sock\"\n"
        "    services: [admin]\n"
        "    tls: {cert: %s, key: %s, client_ca: %s}\n"
        "geo:\n"
        "  city: %s\n"
        "  asn: %s\n"
        "  anonymous: %s\n"
        "  max_age_days: 7\n"
        "  high_risk_countries: [kp, IR]\n"
        "  hosting_asns: [16509, 14061]\n"
        "  anonymous_asns: [9009]\n"
        "state:\n"
        "  dir: %s/state\n"
        "  history_retention_days: 7\n"
        "  history_batch: 10\n"
        "  max_size_mb: 0\n"
        "policy:\n"
        "  version: \"v42\"\n"
        "  thresholds: {captcha: 20, challenge_2fa: 50, lock: 90}\n"
        "  signals:\n"
        "    NEW_DEVICE: {points: 25}\n"
        "    TOR_EXIT: {min_action: challenge_2fa}\n"
        "    GEO_UNKNOWN: {enabled: false}\n"
        "  velocity:\n"
        "    windows_s: [30, 600, 3600, 604800]\n"
        "    buckets: 6\n"
        "    ip_attempts: 5\n"
        "    ip_failures: 6\n"
        "    ip_distinct_accounts: 7\n"
        "    subnet_failures: 8\n"
        "    subnet_distinct_accounts: 9\n"
        "    asn_failures: 10\n"
        "    account_failures: 11\n"
        "    account_distinct_ips: 12\n"
        "    device_distinct_accounts: 13\n"
        "    attack_wave_factor: 3\n"
        "    attack_wave_min_failures: 14\n"
        "  travel: {max_speed_kmh: 1000.5, anonymous_damping: 0,\n"
        "           known_device_damping: 1, min_distance_km: 100}\n"
        "  rules:\n"
        "    - name: corp\n"
        "      match: {cidrs: [\"198.51.100.0/24\", \"2001:db8::/32\",\n"
        "                      192.0.2.7]}\n"
        "      allowlist: true\n"
        "    - name: risky-admins\n"
        "      match:\n"
        "        accounts: [root]\n"
        "        countries: [gb]\n"
        "        asns: [64496]\n"
        "        signals: [NEW_COUNTRY, NEW_DEVICE]\n"
        "      add_points: 20\n"
        "      min_action: challenge_2fa\n"
        "    - name: tag\n"
        "      match: {signals: [TOR_EXIT]}\n"
        "      add_points: 0\n"
        "  allowlist: {cidrs: [\"10.0.0.0/8\"], accounts: [monitor]}\n"
        "locks: {default_duration_s: 3600, auto_scope: all,\n"
        "        auto_duration_s: 0, lock_on_confirmed_fraud: false,\n"
        "        lock_on_spray_success: false}\n"
        "spray: {enabled: false, pepper_file: %s, t_cost: 2,\n"
        "        m_cost_kib: 2048, threads: 2, queue: 8,\n"
        "        distinct_accounts: 3, window_s: 3600}\n"
        "admin:\n"
        "  tokens:\n"
        "    - {name: oncall, role: responder, hash: \"%s\"}\n"
        "    - {name: viewer, role: analyst, hash: \"%s\"}\n"
        "  auth_cache_s: 0\n"
        "  max_failures_per_min: 3\n"
        "limits: {ip_entries: 10, subnet_entries: 11, asn_entries: 12,\n"
        "         account_entries: 13, device_entries: 14,\n"
        "         spray_entries: 15, profile_cache: 16,\n"
        "         devices_per_account: 2, places_per_account: 3,\n"
        "         recent_decisions: 17, distinct_exact: 14}\n"
        "logging: {level: debug, decision_log: %s/decisions.jsonl,\n"
        "          account: pseudonym, pseudonym_key_file: %s}\n"
        "metrics: {listen: \"127.0.0.1:9464\"}\n",
        d, f, f, f, f, f, f, d, f, h, h, d, f);
    assert_true(n > 0 && (size_t)n < sizeof(g_full));
}

static int group_setup(void **state)
{
    uint8_t salt[16] = "0123456789abcdef";
    char tmpl[] = "/tmp/test_config.XXXXXX";

    (void)state;
    if (mkdtemp(tmpl) == NULL)
        return -1;
    snprintf(g_dir, sizeof(g_dir), "%s", tmpl);
    snprintf(g_file, sizeof(g_file), "%s/file.pem", g_dir);
    snprintf(g_subdir, sizeof(g_subdir), "%s/sub.mmdb", g_dir);
    snprintf(g_example, sizeof(g_example), "%s/config/loginrisk.example.yaml",
             LR_SOURCE_DIR);
    write_file(g_file, "", 0);
    if (mkdir(g_subdir, 0700) != 0)
        return -1;
    if (argon2id_hash_encoded(1, 64, 1, "secret-token", 12, salt, sizeof(salt),
                              32, g_phc, sizeof(g_phc)) != ARGON2_OK)
        return -1;
    make_full();
    return 0;
}

static int group_teardown(void **state)
{
    char big[160];

    (void)state;
    snprintf(big, sizeof(big), "%s/big.yaml", g_dir);
    unlink(big);
    unlink(g_file);
    rmdir(g_subdir);
    rmdir(g_dir);
    return 0;
}

/* Every value of @p c is the documented default (ignoring listeners). */
static void assert_defaults(const struct cfg *c)
{
    assert_int_equal(c->workers, 0);
    assert_int_equal(c->max_message_bytes, 65536);
    assert_int_equal(c->admin_max_message_bytes, 4194304);
    assert_int_equal(c->drain_timeout_ms, 10000);
    assert_int_equal(c->max_inflight, 1024);
    assert_int_equal(c->timestamp_past_s, 604800);
    assert_int_equal(c->timestamp_future_s, 300);
    assert_null(c->geo_city);
    assert_null(c->geo_asn);
    assert_null(c->geo_anonymous);
    assert_int_equal(c->geo_max_age_days, 30);
    assert_int_equal(c->n_high_risk_countries, 0);
    assert_int_equal(c->n_hosting_asns, 0);
    assert_int_equal(c->n_anonymous_asns, 0);
    assert_string_equal(c->state_dir, "/var/lib/loginrisk");
    assert_int_equal(c->history_retention_days, 30);
    assert_int_equal(c->history_batch, 256);
    assert_int_equal(c->state_max_size_mb, 10240);
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        assert_int_equal(c->signals[s].points, lr_signal_default_points(s));
        assert_int_equal(c->signals[s].min_action,
                         lr_signal_default_min_action(s));
        assert_true(c->signals[s].enabled);
    }
    assert_int_equal(c->threshold_captcha, 30);
    assert_int_equal(c->threshold_2fa, 60);
    assert_int_equal(c->threshold_lock, 101);
    assert_int_equal(c->velocity.n_windows, 3);
    assert_int_equal(c->velocity.windows_s[0], 60);
    assert_int_equal(c->velocity.windows_s[1], 3600);
    assert_int_equal(c->velocity.windows_s[2], 86400);
    assert_int_equal(c->velocity.buckets, 12);
    assert_int_equal(c->velocity.ip_attempts, 30);
    assert_int_equal(c->velocity.ip_failures, 20);
    assert_int_equal(c->velocity.ip_distinct_accounts, 10);
    assert_int_equal(c->velocity.subnet_failures, 50);
    assert_int_equal(c->velocity.subnet_distinct_accounts, 16);
    assert_int_equal(c->velocity.asn_failures, 500);
    assert_int_equal(c->velocity.account_failures, 10);
    assert_int_equal(c->velocity.account_distinct_ips, 10);
    assert_int_equal(c->velocity.device_distinct_accounts, 5);
    assert_true(c->velocity.attack_wave_factor == 5.0);
    assert_int_equal(c->velocity.attack_wave_min_failures, 100);
    assert_true(c->travel.max_speed_kmh == 900.0);
    assert_true(c->travel.anonymous_damping == 0.5);
    assert_true(c->travel.known_device_damping == 0.5);
    assert_int_equal(c->travel.min_distance_km, 500);
    assert_int_equal(c->n_rules, 0);
    assert_int_equal(c->n_allow_cidrs, 0);
    assert_int_equal(c->n_allow_accounts, 0);
    assert_int_equal(c->locks.default_duration_s, 0);
    assert_int_equal(c->locks.auto_scope, CFG_LOCK_SCOPE_UNFAMILIAR);
    assert_int_equal(c->locks.auto_duration_s, 86400);
    assert_true(c->locks.lock_on_confirmed_fraud);
    assert_true(c->locks.lock_on_spray_success);
    assert_true(c->spray.enabled);
    assert_null(c->spray.pepper_file);
    assert_int_equal(c->spray.t_cost, 1);
    assert_int_equal(c->spray.m_cost_kib, 1024);
    assert_int_equal(c->spray.threads, 1);
    assert_int_equal(c->spray.queue, 64);
    assert_int_equal(c->spray.distinct_accounts, 10);
    assert_int_equal(c->spray.window_s, 86400);
    assert_int_equal(c->admin.n_tokens, 0);
    assert_int_equal(c->admin.auth_cache_s, 60);
    assert_int_equal(c->admin.max_failures_per_min, 10);
    assert_int_equal(c->limits.ip_entries, 100000);
    assert_int_equal(c->limits.subnet_entries, 50000);
    assert_int_equal(c->limits.asn_entries, 10000);
    assert_int_equal(c->limits.account_entries, 100000);
    assert_int_equal(c->limits.device_entries, 50000);
    assert_int_equal(c->limits.spray_entries, 50000);
    assert_int_equal(c->limits.profile_cache, 100000);
    assert_int_equal(c->limits.devices_per_account, 8);
    assert_int_equal(c->limits.places_per_account, 16);
    assert_int_equal(c->limits.recent_decisions, 100000);
    assert_int_equal(c->limits.distinct_exact, 16);
    assert_int_equal(c->logging.level, LR_LOG_INFO);
    assert_null(c->logging.decision_log);
    assert_int_equal(c->logging.account, CFG_ACCOUNT_LOG_CLEAR);
    assert_null(c->logging.pseudonym_key_file);
    assert_null(c->metrics_listen);
}

static void assert_default_listener(const struct cfg *c)
{
    assert_int_equal(c->n_listeners, 1);
    assert_string_equal(c->listeners[0].address, "127.0.0.1:50051");
    assert_int_equal(c->listeners[0].services, CFG_SVC_ALL);
    assert_null(c->listeners[0].tls_cert);
    assert_null(c->listeners[0].tls_key);
    assert_null(c->listeners[0].client_ca);
}

/* "cfg-" and 12 lower-case hex digits. */
static void assert_hash_version(const char *v)
{
    assert_non_null(v);
    assert_int_equal(strlen(v), 16);
    assert_memory_equal(v, "cfg-", 4);
    assert_int_equal(strspn(v + 4, "0123456789abcdef"), 12);
}

/* ---- the example, the defaults, the embedded default ---- */

static void test_cfg_load_file_example_loads(void **state)
{
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    int rc;

    (void)state;
    rc = cfg_load_file(g_example, &c, &e);
    if (rc)
        dump(&e);
    assert_int_equal(rc, LR_OK);
    assert_int_equal(e.n, 0);
    assert_string_equal(c->path, g_example);
    assert_defaults(c);
    assert_default_listener(c);
    assert_hash_version(c->policy_version);
    cfg_free(c);
}

/* Every key of the schema is written in the example (active or commented). */
static void assert_keys_documented(const char *text,
                                   const struct cfg_section *sec)
{
    char key[80];

    for (size_t i = 0; i < sec->n_fields; i++) {
        const struct cfg_field *f = &sec->fields[i];

        snprintf(key, sizeof(key), "%s:", f->key);
        if (strstr(text, key) == NULL)
            print_message("not documented: %s\n", f->key);
        assert_non_null(strstr(text, key));
        if (f->type == CFG_T_SECTION)
            assert_keys_documented(text, f->aux);
        if (f->type == CFG_T_LIST)
            assert_keys_documented(text,
                                   ((const struct cfg_list *)f->aux)->elem);
        if (f->type == CFG_T_SIGNALS)
            assert_keys_documented(text, &cfg_schema_signal);
    }
}

static void test_cfg_example_documents_every_key(void **state)
{
    char *text = read_text(g_example);
    char key[80];

    (void)state;
    assert_keys_documented(text, &cfg_schema_root);
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        snprintf(key, sizeof(key), "%s: {", lr_signal_code(s));
        assert_non_null(strstr(text, key));
    }
    free(text);
}

static void test_cfg_load_string_empty_is_defaults(void **state)
{
    static const char *const empties[] = {"",      "\n",  "# only a comment\n",
                                          "---\n", "~\n", "---\n...\n"};

    (void)state;
    for (size_t i = 0; i < LR_ARRAY_LEN(empties); i++) {
        struct cfg *c = expect_ok(empties[i]);

        assert_defaults(c);
        assert_default_listener(c);
        assert_string_equal(c->path, T_NAME);
        assert_hash_version(c->policy_version);
        cfg_free(c);
    }
}

/* ---- warnings: written to stderr (lr_log), so the tests catch stderr ---- */

static int g_saved_stderr = -1;

static void capture_stderr(void)
{
    char path[128];
    int fd;

    snprintf(path, sizeof(path), "%s/stderr.txt", g_dir);
    fflush(stderr);
    g_saved_stderr = dup(STDERR_FILENO);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(g_saved_stderr >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

/* Puts stderr back; returns what was written meanwhile (caller frees). */
static char *captured_stderr(void)
{
    char path[128];
    char *text = calloc(1, 8192);
    FILE *f;

    assert_non_null(text);
    fflush(stderr);
    assert_int_equal(dup2(g_saved_stderr, STDERR_FILENO), STDERR_FILENO);
    close(g_saved_stderr);
    g_saved_stderr = -1;
    snprintf(path, sizeof(path), "%s/stderr.txt", g_dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_true(fread(text, 1, 8191, f) < 8191);
    fclose(f);
    unlink(path);
    return text;
}

/* Loads @p yaml, which must load, and returns its warnings (caller frees). */
static char *load_warnings(const char *yaml)
{
    struct cfg *c;

    capture_stderr();
    c = expect_ok(yaml);
    cfg_free(c);
    return captured_stderr();
}

static size_t count_lines(const char *text)
{
    size_t n = 0;

    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/*
 * R-VEL-2, R-VEL-3, R-VEL-6, R-DEVICE-2, R-SPRAY-1: every default distinct
 * limit is at or below limits.distinct_exact, so each is met by an exact
 * count; neither the defaults, the embedded default nor the example warn.
 */
static void test_cfg_distinct_limits_default_exact(void **state)
{
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    char *w;

    (void)state;
    capture_stderr();
    assert_int_equal(cfg_load_file(g_example, &c, &e), LR_OK);
    w = captured_stderr();
    assert_string_equal(w, "");
    free(w);
    assert_true(c->velocity.ip_distinct_accounts <= c->limits.distinct_exact);
    assert_true(c->velocity.subnet_distinct_accounts <=
                c->limits.distinct_exact);
    assert_true(c->velocity.account_distinct_ips <= c->limits.distinct_exact);
    assert_true(c->velocity.device_distinct_accounts <=
                c->limits.distinct_exact);
    assert_true(c->spray.distinct_accounts <= c->limits.distinct_exact);
    cfg_free(c);
    w = load_warnings("");
    assert_string_equal(w, "");
    free(w);
    w = load_warnings(cfg_default_yaml());
    assert_string_equal(w, "");
    free(w);
}

/* A distinct limit above distinct_exact loads, with a warning at its line
 * that says the count it meets is an estimate and what to change. */
static void test_cfg_distinct_limit_above_exact_warns(void **state)
{
    char *w = load_warnings("policy:\n  velocity:\n"
                            "    subnet_distinct_accounts: 25\n");

    (void)state;
    assert_int_equal(count_lines(w), 1);
    assert_non_null(strstr(w, " warn "));
    assert_non_null(
        strstr(w, "t.yaml:3: policy.velocity: subnet_distinct_accounts (25) "
                  "is above limits.distinct_exact (16): it will be met by an "
                  "estimated count (about 26% off), not an exact one; lower "
                  "it to 16 or raise distinct_exact to 25\n"));
    free(w);
    /* raising distinct_exact to match is quiet */
    w = load_warnings("policy:\n  velocity:\n"
                      "    subnet_distinct_accounts: 25\n"
                      "limits:\n  distinct_exact: 25\n");
    assert_string_equal(w, "");
    free(w);
}

/* Lowering distinct_exact below the default limits warns once for each
 * limit it leaves above, at distinct_exact's line. */
static void test_cfg_distinct_exact_lowered_warns(void **state)
{
    char *w = load_warnings("spray:\n  distinct_accounts: 6\n"
                            "limits:\n  distinct_exact: 8\n");

    (void)state;
    assert_int_equal(count_lines(w), 3);
    assert_non_null(strstr(w, "t.yaml:4: policy.velocity: "
                              "ip_distinct_accounts (10) is above"));
    assert_non_null(strstr(w, "t.yaml:4: policy.velocity: "
                              "subnet_distinct_accounts (16) is above"));
    assert_non_null(strstr(w, "t.yaml:4: policy.velocity: "
                              "account_distinct_ips (10) is above"));
    assert_null(strstr(w, "device_distinct_accounts"));
    assert_null(strstr(w, "spray"));
    free(w);
    w = load_warnings("limits:\n  distinct_exact: 4\n");
    assert_int_equal(count_lines(w), 5);
    assert_non_null(strstr(w, "t.yaml:2: spray: distinct_accounts (10) is "
                              "above limits.distinct_exact (4)"));
    assert_non_null(strstr(w, "device_distinct_accounts (5)"));
    free(w);
}

/* cfg_validate re-checks a loaded config: it does not warn a second time. */
static void test_cfg_distinct_warning_once(void **state)
{
    struct cfg_errors e = {0};
    struct cfg *c;
    char *w;

    (void)state;
    capture_stderr();
    c = expect_ok("limits:\n  distinct_exact: 8\n");
    w = captured_stderr();
    assert_int_equal(count_lines(w), 4);
    free(w);
    capture_stderr();
    assert_int_equal(cfg_validate(c, &e), LR_OK);
    w = captured_stderr();
    assert_string_equal(w, "");
    free(w);
    assert_int_equal(e.n, 0);
    cfg_free(c);
}

static void test_cfg_load_string_empty_sections(void **state)
{
    struct cfg *c;

    (void)state;
    c = expect_ok("agent:\ngeo: {}\npolicy:\n  thresholds:\nmetrics:\n");
    assert_defaults(c);
    cfg_free(c);
}

static void test_cfg_default_yaml_embedded(void **state)
{
    const char *text = cfg_default_yaml();
    char city[512];
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    int rc;

    (void)state;
    assert_non_null(text);
    assert_true(strlen(text) < 2048); /* small and readable */
    snprintf(city, sizeof(city), "%s/loginrisk-city.mmdb", LR_TEST_DATA_DIR);
    rc = cfg_load_string("<embedded default>", text, strlen(text), &c, &e);
    if (access(city, R_OK) == 0) {
        /* the demo databases are built: the default loads as is */
        assert_int_equal(rc, LR_OK);
        assert_string_equal(c->geo_city, city);
        assert_string_equal(c->state_dir, "./state");
        assert_default_listener(c);
        cfg_free(c);
        return;
    }
    /* not built in this tree: the only complaints are the three files */
    assert_int_equal(rc, LR_CONFIG);
    assert_int_equal(e.n, 3);
    for (size_t i = 0; i < e.n; i++) {
        assert_non_null(strstr(e.msgs[i], "<embedded default>:"));
        assert_non_null(strstr(e.msgs[i], ": geo."));
        assert_non_null(strstr(e.msgs[i], LR_TEST_DATA_DIR "/loginrisk-"));
    }
    cfg_errors_clear(&e);
}

static void test_cfg_load_string_full_config(void **state)
{
    struct cfg *c = expect_ok(g_full);
    const struct cfg_rule *r;

    (void)state;
    assert_int_equal(c->workers, 4);
    assert_int_equal(c->admin_max_message_bytes, 8388608);
    assert_int_equal(c->timestamp_future_s, 60);
    assert_int_equal(c->n_listeners, 2);
    assert_int_equal(c->listeners[0].services, CFG_SVC_RISK | CFG_SVC_HEALTH);
    assert_int_equal(c->listeners[0].line, 10);
    assert_int_equal(c->listeners[1].services, CFG_SVC_ADMIN);
    assert_string_equal(c->listeners[1].tls_cert, g_file);
    assert_string_equal(c->listeners[1].client_ca, g_file);
    assert_string_equal(c->geo_city, g_file);
    assert_int_equal(c->n_high_risk_countries, 2);
    assert_string_equal(c->high_risk_countries[0], "KP"); /* upper-cased */
    assert_string_equal(c->high_risk_countries[1], "IR");
    assert_int_equal(c->n_hosting_asns, 2);
    assert_int_equal(c->hosting_asns[1], 14061);
    assert_int_equal(c->anonymous_asns[0], 9009);
    assert_int_equal(c->history_retention_days, 7);
    assert_int_equal(c->history_batch, 10);
    assert_int_equal(c->state_max_size_mb, 0);
    assert_string_equal(c->policy_version, "v42");
    assert_int_equal(c->threshold_lock, 90);
    assert_int_equal(c->signals[LR_SIG_NEW_DEVICE].points, 25);
    assert_int_equal(c->signals[LR_SIG_NEW_DEVICE].min_action,
                     LR_ACTION_UNSPECIFIED);
    assert_int_equal(c->signals[LR_SIG_TOR_EXIT].points, 30);
    assert_int_equal(c->signals[LR_SIG_TOR_EXIT].min_action,
                     LR_ACTION_CHALLENGE_2FA);
    assert_false(c->signals[LR_SIG_GEO_UNKNOWN].enabled);
    assert_int_equal(c->velocity.n_windows, 4);
    assert_int_equal(c->velocity.windows_s[3], 604800);
    assert_int_equal(c->velocity.attack_wave_min_failures, 14);
    assert_true(c->velocity.attack_wave_factor == 3.0);
    assert_true(c->travel.max_speed_kmh == 1000.5);
    assert_true(c->travel.known_device_damping == 1.0);
    assert_int_equal(c->n_rules, 3);
    r = &c->rules[0];
    assert_string_equal(r->name, "corp");
    assert_int_equal(r->line, 52);
    assert_int_equal(r->effects, CFG_RULE_ALLOWLIST);
    assert_int_equal(r->n_cidrs, 3);
    assert_string_equal(r->cidrs[2], "192.0.2.7");
    r = &c->rules[1];
    assert_int_equal(r->effects, CFG_RULE_ADD_POINTS | CFG_RULE_MIN_ACTION);
    assert_int_equal(r->add_points, 20);
    assert_int_equal(r->min_action, LR_ACTION_CHALLENGE_2FA);
    assert_string_equal(r->countries[0], "GB");
    assert_int_equal(r->asns[0], 64496);
    assert_int_equal(r->n_signals, 2);
    assert_int_equal(r->signals[1], LR_SIG_NEW_DEVICE);
    assert_string_equal(r->accounts[0], "root");
    assert_int_equal(c->rules[2].effects, CFG_RULE_ADD_POINTS);
    assert_string_equal(c->allow_cidrs[0], "10.0.0.0/8");
    assert_string_equal(c->allow_accounts[0], "monitor");
    assert_int_equal(c->locks.auto_scope, CFG_LOCK_SCOPE_ALL);
    assert_false(c->locks.lock_on_spray_success);
    assert_false(c->spray.enabled);
    assert_string_equal(c->spray.pepper_file, g_file);
    assert_int_equal(c->spray.window_s, 3600);
    assert_int_equal(c->admin.n_tokens, 2);
    assert_int_equal(c->admin.tokens[0].role, CFG_ROLE_RESPONDER);
    assert_int_equal(c->admin.tokens[1].role, CFG_ROLE_ANALYST);
    assert_string_equal(c->admin.tokens[0].hash, g_phc);
    assert_int_equal(c->admin.auth_cache_s, 0);
    assert_int_equal(c->limits.distinct_exact, 14);
    assert_int_equal(c->logging.level, LR_LOG_DEBUG);
    assert_int_equal(c->logging.account, CFG_ACCOUNT_LOG_PSEUDONYM);
    assert_string_equal(c->metrics_listen, "127.0.0.1:9464");
    cfg_free(c);
}

static void test_cfg_load_string_policy_version(void **state)
{
    struct cfg *a = expect_ok("agent: {workers: 1}\n");
    struct cfg *b = expect_ok("agent: {workers: 1}\n");
    struct cfg *c = expect_ok("agent: {workers: 2}\n");

    (void)state;
    assert_string_equal(a->policy_version, b->policy_version);
    assert_string_not_equal(a->policy_version, c->policy_version);
    /* FNV-1a 64 of the empty text is cbf29ce484222325 */
    cfg_free(a);
    a = expect_ok("");
    assert_string_equal(a->policy_version, "cfg-cbf29ce48422");
    cfg_free(a);
    cfg_free(b);
    cfg_free(c);
}

/* ---- each kind of mistake, with its line ---- */

static void test_cfg_load_string_unknown_key(void **state)
{
    (void)state;
    expect_error("agent:\n  wokers: 4\n",
                 "t.yaml:2: unknown key \"wokers\" in agent; did you mean "
                 "\"workers\"?");
    expect_error("polcy: {}\n",
                 "t.yaml:1: unknown section \"polcy\"; did you mean "
                 "\"policy\"?");
    expect_error("policy:\n  thresholds:\n    captcha: 10\n    zzzzzz: 1\n",
                 "t.yaml:4: unknown key \"zzzzzz\" in policy.thresholds");
    expect_error("policy:\n  signals:\n    new_device: {points: 1}\n",
                 "t.yaml:3: policy.signals: unknown signal \"new_device\"; "
                 "did you mean \"NEW_DEVICE\"?");
    expect_error("policy:\n  signals:\n    NEW_DEVICE: {pionts: 1}\n",
                 "t.yaml:3: unknown key \"pionts\" in "
                 "policy.signals.NEW_DEVICE; did you mean \"points\"?");
    expect_error("listeners:\n  - address: \"127.0.0.1:1\"\n"
                 "    tls: {certificate: x}\n",
                 "t.yaml:3: unknown key \"certificate\" in listeners[0].tls");
}

static void test_cfg_load_string_wrong_type(void **state)
{
    (void)state;
    expect_error("agent:\n  workers: \"4\"\n",
                 "t.yaml:2: agent.workers: expected an integer, got the "
                 "quoted string \"4\"");
    expect_error("agent:\n  workers: four\n",
                 "t.yaml:2: agent.workers: expected an integer, got "
                 "\"four\"");
    expect_error("agent:\n  workers: 1.5\n",
                 "t.yaml:2: agent.workers: expected an integer, got \"1.5\"");
    expect_error("policy:\n  thresholds:\n    captcha:\n      - 1\n",
                 "t.yaml:3: policy.thresholds.captcha: expected an integer, "
                 "got a list");
    expect_error("agent:\n  workers:\n",
                 "t.yaml:2: agent.workers: missing value; expected an "
                 "integer");
    expect_error("policy: [1, 2]\n",
                 "t.yaml:1: policy: expected a mapping, got a list");
    expect_error("geo:\n  high_risk_countries: {GB: 1}\n",
                 "t.yaml:2: geo.high_risk_countries: expected a list, got a "
                 "mapping");
    expect_error("geo:\n  high_risk_countries: GB\n",
                 "t.yaml:2: geo.high_risk_countries: expected a list, got "
                 "\"GB\"");
    expect_error("spray:\n  enabled: yes\n",
                 "t.yaml:2: spray.enabled: expected true or false, got "
                 "\"yes\"");
    expect_error("state:\n  dir: [a]\n",
                 "t.yaml:2: state.dir: expected a string, got a list");
    expect_error("listeners:\n  - \"127.0.0.1:1\"\n",
                 "t.yaml:2: listeners[0]: expected a mapping, got the quoted "
                 "string \"127.0.0.1:1\"");
    expect_error("travel: 1\n", "t.yaml:1: unknown section \"travel\"");
    expect_error("policy:\n  travel:\n    max_speed_kmh: .inf\n",
                 "t.yaml:3: policy.travel.max_speed_kmh: expected a number, "
                 "got \".inf\"");
    expect_error("- a\n", "t.yaml:1: top level: expected a mapping, got a "
                          "list");
}

static void test_cfg_load_string_out_of_range(void **state)
{
    (void)state;
    expect_error("policy:\n  signals:\n    NEW_DEVICE: {points: 101}\n",
                 "t.yaml:3: policy.signals.NEW_DEVICE.points: 101 is out of "
                 "range 0..100");
    expect_error("policy:\n  signals:\n    NEW_DEVICE:\n      points: -1\n",
                 "t.yaml:4: policy.signals.NEW_DEVICE.points: -1 is out of "
                 "range 0..100");
    expect_error("policy:\n  thresholds: {lock: 102}\n",
                 "t.yaml:2: policy.thresholds.lock: 102 is out of range "
                 "0..101");
    expect_error("agent:\n  workers: 99999999999999999999999\n",
                 "t.yaml:2: agent.workers: 99999999999999999999999 is out of "
                 "range 0..1024");
    expect_error("policy:\n  thresholds:\n    captcha: 70\n",
                 "t.yaml:3: policy.thresholds: captcha (70) must not be "
                 "above challenge_2fa (60)");
    expect_error("policy:\n  thresholds:\n    challenge_2fa: 50\n"
                 "    lock: 40\n    captcha: 10\n",
                 "t.yaml:4: policy.thresholds: challenge_2fa (50) must not "
                 "be above lock (40)");
    expect_error("policy:\n  velocity:\n    windows_s:\n      - 60\n"
                 "      - 60\n",
                 "t.yaml:5: policy.velocity: windows_s must be strictly "
                 "ascending: 60 follows 60");
    expect_error("policy:\n  velocity:\n    windows_s: [10]\n"
                 "    buckets: 12\n",
                 "t.yaml:4: policy.velocity: window of 10 s is shorter than "
                 "12 buckets of 1 s each");
    expect_error("policy:\n  velocity:\n    windows_s: [1, 2, 3, 4, 5]\n",
                 "t.yaml:3: policy.velocity.windows_s: give 1 to 4 windows, "
                 "not 5");
    expect_error("policy:\n  velocity:\n    windows_s: [0]\n",
                 "t.yaml:3: policy.velocity.windows_s[0]: 0 is out of range "
                 "1..2592000");
    expect_error("policy:\n  travel: {max_speed_kmh: 0}\n",
                 "t.yaml:2: policy.travel.max_speed_kmh: 0 is out of range: "
                 "must be above 0 and at most 100000");
    expect_error("policy:\n  travel: {anonymous_damping: 1.5}\n",
                 "t.yaml:2: policy.travel.anonymous_damping: 1.5 is out of "
                 "range 0..1");
    expect_error("geo:\n  hosting_asns: [0]\n",
                 "t.yaml:2: geo.hosting_asns[0]: AS number 0 is out of "
                 "range 1..4294967295");
    expect_error("limits:\n  ip_entries: 0\n",
                 "t.yaml:2: limits.ip_entries: 0 is out of range "
                 "1..100000000");
}

static void test_cfg_load_string_bad_enum(void **state)
{
    (void)state;
    expect_error("policy:\n  signals:\n    NEW_DEVICE:\n"
                 "      min_action: block\n",
                 "t.yaml:4: policy.signals.NEW_DEVICE.min_action: unknown "
                 "value \"block\"; expected one of none, allow, captcha, "
                 "challenge_2fa, lock");
    expect_error("locks:\n  auto_scope: some\n",
                 "t.yaml:2: locks.auto_scope: unknown value \"some\"; "
                 "expected one of all, unfamiliar");
    expect_error("logging:\n  level: verbose\n",
                 "t.yaml:2: logging.level: unknown value \"verbose\"; "
                 "expected one of error, warn, info, debug");
    expect_error("logging:\n  account: hashed\n",
                 "t.yaml:2: logging.account: unknown value \"hashed\"; "
                 "expected one of clear, pseudonym");
    expect_error("listeners:\n  - address: \"127.0.0.1:1\"\n"
                 "    services:\n      - risk\n      - metrics\n",
                 "t.yaml:5: listeners[0].services[1]: unknown value "
                 "\"metrics\"; expected one of risk, admin, health");
    expect_error("listeners:\n  - address: \"127.0.0.1:1\"\n"
                 "    services: []\n",
                 "t.yaml:3: listeners[0].services: name at least one of "
                 "risk, admin, health");
    expect_error("policy:\n  rules:\n    - name: r\n      match:\n"
                 "        signals: [TOR]\n      add_points: 1\n",
                 "t.yaml:5: policy.rules[0].match.signals[0]: unknown signal "
                 "\"TOR\"");
}

static void test_cfg_load_string_bad_role(void **state)
{
    char *y = fmt("admin:\n  tokens:\n    - name: a\n      role: boss\n"
                  "      hash: \"%s\"\n",
                  g_phc);

    (void)state;
    expect_error(y, "t.yaml:4: admin.tokens[0].role: unknown value \"boss\"; "
                    "expected one of analyst, responder");
    free(y);
}

static void test_cfg_load_string_duplicate_key(void **state)
{
    (void)state;
    expect_error("agent: {}\nstate: {}\nagent: {}\n",
                 "t.yaml:3: duplicate key \"agent\" (first at line 1)");
    expect_error("agent:\n  workers: 1\n  workers: 2\n",
                 "t.yaml:3: agent: duplicate key \"workers\" (first at line "
                 "2)");
    expect_error("policy:\n  signals:\n    NEW_ASN: {points: 1}\n"
                 "    NEW_ASN: {points: 2}\n",
                 "t.yaml:4: policy.signals: duplicate key \"NEW_ASN\" (first "
                 "at line 3)");
}

static void test_cfg_load_string_missing_required(void **state)
{
    char *y = fmt("admin:\n  tokens:\n    - name: a\n      role: analyst\n"
                  "    - name: b\n      hash: \"%s\"\n",
                  g_phc);

    (void)state;
    expect_error("listeners:\n  - services: [risk]\n",
                 "t.yaml:2: listeners[0]: missing required key \"address\"");
    expect_error("listeners:\n  - address:\n",
                 "t.yaml:2: listeners[0].address: missing value");
    expect_error("listeners: []\n",
                 "t.yaml:1: listeners: at least 1 entry is required");
    expect_error("state:\n  dir: ~\n", "t.yaml:2: state.dir: missing value");
    expect_error("policy:\n  rules:\n    - match: {accounts: [a]}\n"
                 "      add_points: 1\n",
                 "t.yaml:3: policy.rules[0]: missing required key \"name\"");
    {
        const char *want[] = {
            "t.yaml:3: admin.tokens[0]: missing required key \"hash\"",
            "t.yaml:5: admin.tokens[1]: missing required key \"role\"",
        };
        expect_errors(y, want, LR_ARRAY_LEN(want));
    }
    free(y);
}

static void test_cfg_load_string_missing_file(void **state)
{
    char *y;
    struct cfg *c;

    (void)state;
    expect_error("geo:\n  max_age_days: 1\n  city: /nonexistent/city.mmdb\n",
                 "t.yaml:3: geo.city: cannot open \"/nonexistent/city.mmdb\": "
                 "No such file or directory");
    y = fmt("geo:\n  asn: %s\n", g_subdir);
    {
        char *want =
            fmt("t.yaml:2: geo.asn: \"%s\" is not a regular file", g_subdir);
        expect_error(y, want);
        free(want);
    }
    free(y);
    y = fmt("geo: {city: %s, asn: %s, anonymous: %s}\n", g_file, g_file,
            g_file);
    c = expect_ok(y);
    assert_string_equal(c->geo_anonymous, g_file);
    cfg_free(c);
    free(y);
    expect_error("spray:\n  pepper_file: /nonexistent/pepper\n",
                 "t.yaml:2: spray.pepper_file: cannot open "
                 "\"/nonexistent/pepper\": No such file or directory");
    expect_error("logging:\n  pseudonym_key_file: /nonexistent/k\n",
                 "t.yaml:2: logging.pseudonym_key_file: cannot open "
                 "\"/nonexistent/k\": No such file or directory");
    expect_error("logging:\n  decision_log: /nonexistent/dir/d.jsonl\n",
                 "t.yaml:2: logging.decision_log: directory "
                 "\"/nonexistent/dir\" does not exist");
    /* a null path means "not configured" */
    c = expect_ok("geo:\n  city: ~\nlogging:\n  decision_log: \"\"\n");
    assert_null(c->geo_city);
    assert_null(c->logging.decision_log);
    cfg_free(c);
}

static void test_cfg_load_string_tls_pairs(void **state)
{
    char *y;

    (void)state;
    y = fmt("listeners:\n  - address: \"[::1]:443\"\n    tls:\n"
            "      key: %s\n      client_ca: %s\n",
            g_file, g_file);
    {
        const char *want[] = {
            "t.yaml:4: listeners[0]: tls.key needs tls.cert",
            "t.yaml:5: listeners[0]: tls.client_ca needs tls.cert and "
            "tls.key",
        };
        expect_errors(y, want, LR_ARRAY_LEN(want));
    }
    free(y);
    y = fmt("listeners:\n  - address: \"[::1]:443\"\n    tls:\n"
            "      cert: %s\n",
            g_file);
    expect_error(y, "t.yaml:4: listeners[0]: tls.cert needs tls.key");
    free(y);
    {
        const char *want[] = {
            "t.yaml:4: listeners[0].tls.cert: cannot open "
            "\"/nonexistent.pem\": No such file or directory",
            "t.yaml:5: listeners[0].tls.key: cannot open "
            "\"/nonexistent.key\": No such file or directory",
        };
        expect_errors("listeners:\n  - address: \"127.0.0.1:1\"\n"
                      "    tls:\n      cert: /nonexistent.pem\n"
                      "      key: /nonexistent.key\n",
                      want, LR_ARRAY_LEN(want));
    }
}

static void test_cfg_load_string_bad_address(void **state)
{
    static const char *const good[] = {
        "127.0.0.1:50051",         "[::1]:50051", "unix:/run/x.sock",
        "localhost:50051",         "0.0.0.0:0",   "[::]:65535",
        "agent-1.example.com:443",
    };
    static const struct {
        const char *addr, *why;
    } bad[] = {
        {"localhost", "missing :port"},
        {"::1:50051", "an IPv6 address needs brackets, as in [::1]:50051"},
        {"[::1]", "missing :port after ]"},
        {"[zz]:1", "bad IPv6 address \"zz\""},
        {"[::1:1", "missing ']' after IPv6 address"},
        {"1.2.3.4:70000", "port must be a number 0..65535"},
        {"1.2.3.4:", "port must be a number 0..65535"},
        {"1.2.3.4:http", "port must be a number 0..65535"},
        {"999.1.1.1:5", "bad IPv4 address \"999.1.1.1\""},
        {":50051", "missing or overlong host"},
        {"a b:1", "bad character ' ' in host"},
        {"unix:relative.sock", "unix socket path must be absolute, as in "
                               "unix:/run/loginrisk.sock"},
        {"unix://x", "unix socket path must be absolute, as in "
                     "unix:/run/loginrisk.sock"},
    };
    char *y, *want;
    struct cfg *c;

    (void)state;
    for (size_t i = 0; i < LR_ARRAY_LEN(good); i++) {
        y = fmt("listeners:\n  - address: \"%s\"\n", good[i]);
        c = expect_ok(y);
        assert_string_equal(c->listeners[0].address, good[i]);
        cfg_free(c);
        free(y);
    }
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        y = fmt("listeners:\n  - address: \"%s\"\n", bad[i].addr);
        want = fmt("t.yaml:2: listeners[0].address: bad address \"%s\": %s "
                   "(expected host:port, [v6]:port or unix:/absolute/path)",
                   bad[i].addr, bad[i].why);
        expect_error(y, want);
        free(want);
        free(y);
    }
    expect_error("listeners:\n  - address: \"127.0.0.1:1\"\n"
                 "  - address: \"127.0.0.1:1\"\n",
                 "t.yaml:3: listeners: address \"127.0.0.1:1\" is listed "
                 "twice");
    expect_error("metrics:\n  listen: \"unix:/tmp/m.sock\"\n",
                 "t.yaml:2: metrics.listen: bad address \"unix:/tmp/m.sock\": "
                 "a unix socket is not allowed here (expected host:port or "
                 "[v6]:port)");
}

static void test_cfg_load_string_bad_cidr(void **state)
{
    static const char *const good[] = {
        "10.0.0.0/8", "192.0.2.7", "0.0.0.0/0",      "2001:db8::/32",
        "::1",        "::/0",      "192.0.2.128/25",
    };
    static const struct {
        const char *cidr, *why;
    } bad[] = {
        {"10.0.0.1/8", "host bits set past /8; did you mean 10.0.0.0/8?"},
        {"2001:db8::1/32",
         "host bits set past /32; did you mean 2001:db8::/32?"},
        {"300.1.1.1", "\"300.1.1.1\" is not an IPv4 or IPv6 address"},
        {"10.0.0.0/33", "prefix length must be 0..32"},
        {"2001:db8::/129", "prefix length must be 0..128"},
        {"10.0.0.0/", "prefix length must be 0..32"},
        {"10.0.0.0/-1", "prefix length must be 0..32"},
        {"/8", "not an IP address or CIDR"},
        {"example.com/8", "\"example.com\" is not an IPv4 or IPv6 address"},
    };
    char *y, *want;
    struct cfg *c;

    (void)state;
    for (size_t i = 0; i < LR_ARRAY_LEN(good); i++) {
        y = fmt("policy:\n  allowlist:\n    cidrs: [\"%s\"]\n", good[i]);
        c = expect_ok(y);
        assert_string_equal(c->allow_cidrs[0], good[i]);
        cfg_free(c);
        free(y);
    }
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        y = fmt("policy:\n  allowlist:\n    cidrs:\n      - \"%s\"\n",
                bad[i].cidr);
        want = fmt("t.yaml:4: policy.allowlist.cidrs[0]: bad CIDR \"%s\": %s",
                   bad[i].cidr, bad[i].why);
        expect_error(y, want);
        free(want);
        free(y);
    }
}

static void test_cfg_load_string_bad_phc(void **state)
{
    static const char *const bad[] = {
        "secret",
        "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
        "$argon2id$v=16$m=65536,t=3,p=1$c29tZXNhbHRzYWx0$"
        "RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
        "$argon2id$m=65536,t=3,p=1$c29tZXNhbHRzYWx0$"
        "RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
        "$argon2id$v=19$m=0,t=3,p=1$c29tZXNhbHRzYWx0$"
        "RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
        "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzYWx0$"
        "RdescudvJCsgt3ub+b+dWRWJTmaaJObG$extra",
        "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzYWx0$"
        "RdescudvJCsgt3ub+b+dWRWJTmaaJObG=",
    };
    char *y, *want;

    (void)state;
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        y = fmt("admin:\n  tokens:\n    - name: t\n      role: analyst\n"
                "      hash: '%s'\n",
                bad[i]);
        want = fmt("t.yaml:5: admin.tokens[0].hash: not an Argon2id PHC "
                   "string ($argon2id$v=19$m=M,t=T,p=P$salt$hash); make one "
                   "with riskctl token-hash");
        expect_error(y, want);
        free(want);
        free(y);
    }
    expect_error("admin:\n  tokens:\n    - name: t\n      role: analyst\n"
                 "      hash: '$argon2i$v=19$m=65536,t=3,p=1$"
                 "c29tZXNhbHRzYWx0$RdescudvJCsgt3ub+b+dWRWJTmaaJObG'\n",
                 "t.yaml:5: admin.tokens[0].hash: must be Argon2id "
                 "($argon2id$...), not Argon2i or Argon2d");
}

static void test_cfg_load_string_bad_names(void **state)
{
    char *y = fmt("admin:\n  tokens:\n"
                  "    - {name: ops, role: analyst, hash: \"%s\"}\n"
                  "    - {name: ops, role: responder, hash: \"%s\"}\n",
                  g_phc, g_phc);

    (void)state;
    expect_error(y, "t.yaml:4: admin.tokens: token name \"ops\" is used "
                    "twice");
    free(y);
    expect_error("policy:\n  rules:\n"
                 "    - {name: r, match: {countries: [GB]}, add_points: 1}\n"
                 "    - {name: s, match: {countries: [FR]}, add_points: 1}\n"
                 "    - {name: r, match: {countries: [DE]}, add_points: 1}\n",
                 "t.yaml:5: policy.rules: rule name \"r\" is used twice");
    expect_error("policy:\n  rules:\n"
                 "    - {name: \"bad name\", match: {asns: [1]}, "
                 "allowlist: true}\n",
                 "t.yaml:3: policy.rules[0].name: \"bad name\": use only "
                 "letters, digits, '_', '-' and '.'");
    expect_error("policy:\n  version: \"has space\"\n",
                 "t.yaml:2: policy.version: use printable ASCII without "
                 "spaces");
    expect_error("geo:\n  high_risk_countries: [GBR]\n",
                 "t.yaml:2: geo.high_risk_countries[0]: \"GBR\" is not a "
                 "two-letter ISO 3166-1 country code");
}

static void test_cfg_load_string_rule_effects(void **state)
{
    struct cfg *c;

    (void)state;
    expect_error("policy:\n  rules:\n    - name: r\n"
                 "      match: {countries: [GB]}\n",
                 "t.yaml:3: policy.rules[0]: rule has no effect: set "
                 "add_points, min_action or allowlist: true");
    expect_error("policy:\n  rules:\n    - name: r\n      add_points: 5\n",
                 "t.yaml:3: policy.rules[0]: match is empty: name countries, "
                 "asns, cidrs, accounts or signals (an empty match would "
                 "hit every attempt)");
    expect_error("policy:\n  rules:\n    - name: r\n"
                 "      match: {countries: [GB]}\n      allowlist: false\n",
                 "t.yaml:3: policy.rules[0]: rule has no effect: set "
                 "add_points, min_action or allowlist: true");
    c = expect_ok("policy:\n  rules:\n    - name: r\n"
                  "      match: {countries: [GB]}\n      min_action: lock\n");
    assert_int_equal(c->rules[0].effects, CFG_RULE_MIN_ACTION);
    assert_int_equal(c->rules[0].min_action, LR_ACTION_LOCK);
    assert_int_equal(c->rules[0].add_points, 0);
    cfg_free(c);
    expect_error("policy:\n  signals:\n    ACCOUNT_LOCKED:\n"
                 "      enabled: false\n",
                 "t.yaml:4: policy.signals.ACCOUNT_LOCKED: cannot be "
                 "disabled: locks would stop working (unlock the accounts "
                 "instead)");
}

static void test_cfg_load_string_several_errors(void **state)
{
    static const char yaml[] = "agent:\n"                      /* 1 */
                               "  workers: many\n"             /* 2 */
                               "  max_message_bytes: 1\n"      /* 3 */
                               "listeners:\n"                  /* 4 */
                               "  - address: \"nowhere\"\n"    /* 5 */
                               "geo:\n"                        /* 6 */
                               "  city: /nonexistent/c.mmdb\n" /* 7 */
                               "policy:\n"                     /* 8 */
                               "  tresholds: {captcha: 1}\n"   /* 9 */
                               "  allowlist:\n"                /* 10 */
                               "    cidrs: [\"10.0.0.0/8\",\n" /* 11 */
                               "            \"10.1.0.0/8\"]\n" /* 12 */
                               "spray: {t_cost: 0}\n"          /* 13 */
                               "agent: {}\n";                  /* 14 */
    static const char *const want[] = {
        "t.yaml:2: agent.workers: expected an integer, got \"many\"",
        "t.yaml:3: agent.max_message_bytes: 1 is out of range 1024..16777216",
        "t.yaml:5: listeners[0].address: bad address \"nowhere\": missing "
        ":port (expected host:port, [v6]:port or unix:/absolute/path)",
        "t.yaml:7: geo.city: cannot open \"/nonexistent/c.mmdb\": No such "
        "file or directory",
        "t.yaml:9: unknown key \"tresholds\" in policy; did you mean "
        "\"thresholds\"?",
        "t.yaml:12: policy.allowlist.cidrs[1]: bad CIDR \"10.1.0.0/8\": host "
        "bits set past /8; did you mean 10.0.0.0/8?",
        "t.yaml:13: spray.t_cost: 0 is out of range 1..16",
        "t.yaml:14: duplicate key \"agent\" (first at line 1)",
    };

    (void)state;
    expect_errors(yaml, want, LR_ARRAY_LEN(want));
}

static void test_cfg_load_string_yaml_syntax(void **state)
{
    (void)state;
    expect_error("agent:\n  workers: [1\n",
                 "t.yaml:2: YAML syntax error: did not find expected ',' or "
                 "']' at the end of the file (while parsing a flow sequence "
                 "at line 2)");
    expect_error("agent:\n\tworkers: 1\n",
                 "t.yaml:2: YAML syntax error: found character that cannot "
                 "start any token (a tab; indent with spaces)");
    expect_error("agent:\n  workers: 1\n bad: 2\n",
                 "t.yaml:3: YAML syntax error: did not find expected key "
                 "(while parsing a block mapping at line 1)");
    expect_error("a: 'unterminated\n",
                 "t.yaml:1: YAML syntax error: found unexpected end of "
                 "stream (while scanning a quoted scalar at line 1)");
    expect_error("agent:\n  workers: [1\nstate: {}\n",
                 "t.yaml:3: YAML syntax error: did not find expected ',' or "
                 "']' (while parsing a flow sequence at line 2)");
}

/* ---- files ---- */

static void test_cfg_load_file_missing_path(void **state)
{
    struct cfg_errors e = {0};
    struct cfg *c = NULL;

    (void)state;
    assert_int_equal(cfg_load_file("/nonexistent/loginrisk.yaml", &c, &e),
                     LR_IO);
    assert_null(c);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.msgs[0], "/nonexistent/loginrisk.yaml: cannot "
                                   "open: No such file or directory");
    cfg_errors_clear(&e);
    assert_int_equal(cfg_load_file(g_subdir, &c, &e), LR_IO);
    assert_int_equal(e.n, 1);
    assert_non_null(strstr(e.msgs[0], ": not a regular file"));
    cfg_errors_clear(&e);
    assert_int_equal(cfg_load_file(NULL, &c, &e), LR_INVALID);
}

static void test_cfg_load_file_errors_name_the_file(void **state)
{
    char path[160];
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    char *want;

    (void)state;
    snprintf(path, sizeof(path), "%s/big.yaml", g_dir);
    write_file(path, "agent:\n  workers: -1\n", 21);
    assert_int_equal(cfg_load_file(path, &c, &e), LR_CONFIG);
    want = fmt("%s:2: agent.workers: -1 is out of range 0..1024", path);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.msgs[0], want);
    free(want);
    cfg_errors_clear(&e);
}

static void test_cfg_load_file_oversized(void **state)
{
    size_t len = CFG_FILE_MAX_BYTES + 1;
    char *big = malloc(len);
    char path[160];
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    char *want;

    (void)state;
    assert_non_null(big);
    memset(big, '#', len);
    big[len - 1] = '\n';
    snprintf(path, sizeof(path), "%s/big.yaml", g_dir);
    write_file(path, big, len);
    assert_int_equal(cfg_load_file(path, &c, &e), LR_CONFIG);
    assert_null(c);
    want = fmt("%s: file is larger than 1048576 bytes (1 MiB)", path);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.msgs[0], want);
    free(want);
    cfg_errors_clear(&e);
    assert_int_equal(cfg_load_string("s", big, len, &c, &e), LR_CONFIG);
    assert_string_equal(e.msgs[0],
                        "s: file is larger than 1048576 bytes (1 MiB)");
    cfg_errors_clear(&e);
    /* exactly at the cap is fine (all comments) */
    assert_int_equal(cfg_load_string("s", big, len - 1, &c, &e), LR_OK);
    cfg_free(c);
    free(big);
}

/* ---- hostile input ---- */

static void test_cfg_load_string_deep_nesting(void **state)
{
    size_t depth = 100000;
    char *y = malloc(2 * depth + 8);

    (void)state;
    assert_non_null(y);
    memcpy(y, "a: ", 3);
    memset(y + 3, '[', depth);
    memset(y + 3 + depth, ']', depth);
    y[3 + 2 * depth] = '\0';
    expect_error(y, "t.yaml:1: nested deeper than 32 levels");
    free(y);
}

static void test_cfg_load_string_alias_bomb(void **state)
{
    (void)state;
    expect_error("a: &a [\"lol\", \"lol\", \"lol\"]\n"
                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
                 "t.yaml:2: YAML aliases (*a) are not supported; write the "
                 "value out");
    expect_error("agent: &x {workers: 1}\nstate: *x\n",
                 "t.yaml:2: YAML aliases (*x) are not supported; write the "
                 "value out");
}

static void test_cfg_load_string_too_many_nodes(void **state)
{
    size_t n = 150000;
    char *y = malloc(3 * n + 16);
    size_t at = 0;

    (void)state;
    assert_non_null(y);
    at += (size_t)sprintf(y, "a: [");
    for (size_t i = 0; i < n; i++)
        at += (size_t)sprintf(y + at, "1,");
    sprintf(y + at, "1]\n");
    expect_error(y, "t.yaml:1: more than 100000 values in one file");
    free(y);
}

static void test_cfg_load_string_bad_bytes(void **state)
{
    static const char nul[] = "agent:\n  workers: 1\0\n";
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    char *y;

    (void)state;
    assert_int_equal(cfg_load_string(T_NAME, nul, sizeof(nul) - 1, &c, &e),
                     LR_CONFIG);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.msgs[0], "t.yaml:2: YAML syntax error: control "
                                   "characters are not allowed");
    cfg_errors_clear(&e);
    expect_error("state:\n  dir: \xff\xfe\n",
                 "t.yaml:2: YAML syntax error: invalid leading UTF-8 octet");
    expect_error("state:\n  dir: \"a\\0b\"\n",
                 "t.yaml:2: state.dir: value is not valid UTF-8 or holds a "
                 "NUL");
    y = calloc(1, CFG_SCALAR_MAX + 64);
    assert_non_null(y);
    strcpy(y, "state:\n  dir: ");
    memset(y + strlen(y), 'x', CFG_SCALAR_MAX + 1);
    expect_error(y, "t.yaml:2: state.dir: value is longer than 4096 bytes");
    free(y);
}

static void test_cfg_load_string_unsupported_yaml(void **state)
{
    (void)state;
    expect_error("agent: {}\n---\nagent: {}\n",
                 "t.yaml:2: a second YAML document; a config file holds one");
    expect_error("agent: !!map {}\n",
                 "t.yaml:1: YAML tags (tag:yaml.org,2002:map) are not "
                 "supported");
    expect_error("? [a]\n: b\n", "t.yaml:1: keys must be plain names");
}

static void test_cfg_load_string_error_cap(void **state)
{
    size_t n = 500;
    char *y = malloc(n * 16);
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    size_t at = 0;

    (void)state;
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        at += (size_t)sprintf(y + at, "k%zu: 1\n", i);
    assert_int_equal(load(y, &c, &e), LR_CONFIG);
    assert_int_equal(e.n, CFG_ERRORS_MAX + 1);
    assert_string_equal(e.msgs[0], "t.yaml:1: unknown section \"k0\"");
    assert_string_equal(e.msgs[CFG_ERRORS_MAX],
                        "t.yaml: ... and 400 more errors");
    cfg_errors_clear(&e);
    free(y);
}

/*
 * Found by tests/fuzz/fuzz_config (regressions/fuzz_config/): a quoted
 * scalar with line breaks folds into a value with '\n' in it, which a
 * message quoted verbatim, so one problem became several log lines.
 */
static void test_cfg_load_string_message_escapes_controls(void **state)
{
    (void)state;
    expect_error("listeners:\n  - address: \"unix:run/x\r\r\r.sock\"\n",
                 "t.yaml:2: listeners[0].address: bad address "
                 "\"unix:run/x\\n\\n.sock\": unix socket path must be "
                 "absolute, as in unix:/run/loginrisk.sock (expected "
                 "host:port, [v6]:port or unix:/absolute/path)");
    expect_error("listeners:\n  - address: \"a\\tb\\x01:1\"\n",
                 "t.yaml:2: listeners[0].address: bad address "
                 "\"a\\tb\\x01:1\": bad character '\\t' in host (expected "
                 "host:port, [v6]:port or unix:/absolute/path)");
}

/* A value cut at 64 bytes inside a UTF-8 sequence leaves no stray byte. */
static void test_cfg_load_string_message_cut_utf8(void **state)
{
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    char *y;

    (void)state;
    /* 63 ASCII bytes, then a 2-byte character across the %.64s cut */
    y = fmt("listeners:\n  - address: \"%063d\u00e9:1\"\n", 0);
    assert_int_equal(load(y, &c, &e), LR_CONFIG);
    assert_int_equal(e.n, 1);
    assert_true(lr_utf8_valid(e.msgs[0], strlen(e.msgs[0])));
    assert_non_null(strstr(e.msgs[0], "0000?\""));
    cfg_errors_clear(&e);
    free(y);
}

/* A file name longer than the message buffer used to write past it. */
static void test_cfg_load_string_long_name(void **state)
{
    static char name[4096];
    struct cfg_errors e = {0};
    struct cfg *c = NULL;
    const char *yaml = "agent: {workers: many}\n";

    (void)state;
    memset(name, 'n', sizeof(name) - 1);
    assert_int_equal(cfg_load_string(name, yaml, strlen(yaml), &c, &e),
                     LR_CONFIG);
    assert_null(c);
    assert_int_equal(e.n, 1);
    assert_memory_equal(e.msgs[0], name, 64);
    assert_true(strlen(e.msgs[0]) < sizeof(name));
    cfg_errors_clear(&e);
}

static void test_cfg_load_string_bad_args(void **state)
{
    struct cfg_errors e = {0};
    struct cfg *c = NULL;

    (void)state;
    assert_int_equal(cfg_load_string("s", NULL, 1, &c, &e), LR_INVALID);
    assert_int_equal(cfg_load_string("s", "", 0, NULL, &e), LR_INVALID);
    assert_int_equal(cfg_load_string("s", "", 0, &c, NULL), LR_INVALID);
    assert_int_equal(cfg_load_string(NULL, NULL, 0, &c, &e), LR_OK);
    assert_string_equal(c->path, "<string>");
    cfg_free(c);
    cfg_free(NULL);
    cfg_errors_clear(NULL);
    cfg_errors_clear(&e);
}

/* ---- command-line overrides ---- */

static void test_cfg_validate_overrides(void **state)
{
    static const char *const addrs[] = {"[::1]:7000", "unix:/run/a.sock"};
    static const char *const bad[] = {"127.0.0.1:1", "nowhere"};
    struct cfg_errors e = {0};
    struct cfg *c = expect_ok("");

    (void)state;
    assert_int_equal(cfg_validate(c, &e), LR_OK);
    assert_int_equal(cfg_set_string(&c->geo_city, g_file), LR_OK);
    assert_int_equal(cfg_set_listeners(c, addrs, 2), LR_OK);
    assert_int_equal(cfg_validate(c, &e), LR_OK);
    assert_int_equal(e.n, 0);
    assert_string_equal(c->listeners[1].address, "unix:/run/a.sock");
    assert_int_equal(c->listeners[1].services, CFG_SVC_ALL);

    assert_int_equal(cfg_set_string(&c->geo_asn, "/nonexistent/asn.mmdb"),
                     LR_OK);
    assert_int_equal(cfg_set_listeners(c, bad, 2), LR_OK);
    assert_int_equal(cfg_set_string(&c->state_dir, NULL), LR_OK);
    c->threshold_captcha = 99;
    assert_int_equal(cfg_validate(c, &e), LR_CONFIG);
    {
        static const char *const want[] = {
            "<command line>: listeners[1].address: bad address \"nowhere\": "
            "missing :port (expected host:port, [v6]:port or "
            "unix:/absolute/path)",
            "<command line>: geo.asn: cannot open \"/nonexistent/asn.mmdb\": "
            "No such file or directory",
            "<command line>: state.dir: missing value",
            "<command line>: policy.thresholds: captcha (99) must not be "
            "above challenge_2fa (60)",
        };
        if (e.n != LR_ARRAY_LEN(want))
            dump(&e);
        assert_int_equal(e.n, LR_ARRAY_LEN(want));
        for (size_t i = 0; i < e.n; i++)
            assert_string_equal(e.msgs[i], want[i]);
    }
    cfg_errors_clear(&e);
    assert_int_equal(cfg_set_listeners(c, addrs, 0), LR_INVALID);
    assert_int_equal(cfg_set_string(NULL, "x"), LR_INVALID);
    assert_int_equal(cfg_validate(NULL, &e), LR_INVALID);
    cfg_free(c);
}

static void test_cfg_validate_loaded_lists(void **state)
{
    struct cfg_errors e = {0};
    struct cfg *c = expect_ok(g_full);

    (void)state;
    /* everything a file can hold passes again without its lines */
    assert_int_equal(cfg_validate(c, &e), LR_OK);
    free(c->admin.tokens[1].name);
    c->admin.tokens[1].name = strdup("oncall");
    assert_int_equal(cfg_validate(c, &e), LR_CONFIG);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.msgs[0], "<command line>: admin.tokens: token "
                                   "name \"oncall\" is used twice");
    cfg_errors_clear(&e);
    cfg_free(c);
}

/* ---- allocation failure ---- */

/*
 * Fails the first, second, ... allocation of a load of @p yaml until one
 * load runs without hitting the failure; each failing load must return
 * LR_NOMEM (ASan checks that nothing leaks). Once-only and sticky failures.
 */
static void check_alloc_failures(const char *yaml, int final_rc)
{
    for (int sticky = 0; sticky < 2; sticky++) {
        for (unsigned long nth = 1;; nth++) {
            struct cfg_errors e = {0};
            struct cfg *c = NULL;
            int rc;

            fault_arm(nth, sticky);
            rc = load(yaml, &c, &e);
            fault_disarm();
            if (fault_fired() && rc != LR_NOMEM) {
                print_message("allocation %lu (sticky %d): rc %d\n", nth,
                              sticky, rc);
                dump(&e);
            }
            cfg_errors_clear(&e);
            if (!fault_fired()) {
                assert_int_equal(rc, final_rc);
                cfg_free(c);
                break;
            }
            assert_int_equal(rc, LR_NOMEM);
            assert_null(c);
        }
    }
}

static void test_cfg_load_string_alloc_failure(void **state)
{
    (void)state;
    check_alloc_failures(g_full, LR_OK);
    check_alloc_failures("", LR_OK);
    check_alloc_failures("agent:\n  workers: x\n  wokers: 1\n"
                         "listeners: [{address: nowhere}]\n"
                         "policy: {rules: [{name: a}, {name: a}]}\n",
                         LR_CONFIG);
}

static void test_cfg_validate_alloc_failure(void **state)
{
    struct cfg *c = expect_ok("");

    (void)state;
    assert_int_equal(cfg_set_string(&c->geo_city, "/nonexistent"), LR_OK);
    for (unsigned long nth = 1;; nth++) {
        struct cfg_errors e = {0};
        int rc;

        fault_arm(nth, false);
        rc = cfg_validate(c, &e);
        fault_disarm();
        cfg_errors_clear(&e);
        if (!fault_fired()) {
            assert_int_equal(rc, LR_CONFIG);
            break;
        }
        assert_int_equal(rc, LR_NOMEM);
    }
    fault_arm(1, false);
    assert_int_equal(cfg_set_string(&c->geo_city, "x"), LR_NOMEM);
    fault_arm(1, false);
    assert_int_equal(cfg_set_listeners(c, (const char *const[]){"a:1"}, 1),
                     LR_NOMEM);
    fault_arm(2, false);
    assert_int_equal(cfg_set_listeners(c, (const char *const[]){"a:1"}, 1),
                     LR_NOMEM);
    fault_disarm();
    assert_string_equal(c->geo_city, "/nonexistent"); /* unchanged */
    assert_string_equal(c->listeners[0].address, "127.0.0.1:50051");
    cfg_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_load_file_example_loads),
        cmocka_unit_test(test_cfg_example_documents_every_key),
        cmocka_unit_test(test_cfg_load_string_empty_is_defaults),
        cmocka_unit_test(test_cfg_distinct_limits_default_exact),
        cmocka_unit_test(test_cfg_distinct_limit_above_exact_warns),
        cmocka_unit_test(test_cfg_distinct_exact_lowered_warns),
        cmocka_unit_test(test_cfg_distinct_warning_once),
        cmocka_unit_test(test_cfg_load_string_empty_sections),
        cmocka_unit_test(test_cfg_default_yaml_embedded),
        cmocka_unit_test(test_cfg_load_string_full_config),
        cmocka_unit_test(test_cfg_load_string_policy_version),
        cmocka_unit_test(test_cfg_load_string_unknown_key),
        cmocka_unit_test(test_cfg_load_string_wrong_type),
        cmocka_unit_test(test_cfg_load_string_out_of_range),
        cmocka_unit_test(test_cfg_load_string_bad_enum),
        cmocka_unit_test(test_cfg_load_string_bad_role),
        cmocka_unit_test(test_cfg_load_string_duplicate_key),
        cmocka_unit_test(test_cfg_load_string_missing_required),
        cmocka_unit_test(test_cfg_load_string_missing_file),
        cmocka_unit_test(test_cfg_load_string_tls_pairs),
        cmocka_unit_test(test_cfg_load_string_bad_address),
        cmocka_unit_test(test_cfg_load_string_bad_cidr),
        cmocka_unit_test(test_cfg_load_string_bad_phc),
        cmocka_unit_test(test_cfg_load_string_bad_names),
        cmocka_unit_test(test_cfg_load_string_rule_effects),
        cmocka_unit_test(test_cfg_load_string_several_errors),
        cmocka_unit_test(test_cfg_load_string_yaml_syntax),
        cmocka_unit_test(test_cfg_load_file_missing_path),
        cmocka_unit_test(test_cfg_load_file_errors_name_the_file),
        cmocka_unit_test(test_cfg_load_file_oversized),
        cmocka_unit_test(test_cfg_load_string_deep_nesting),
        cmocka_unit_test(test_cfg_load_string_alias_bomb),
        cmocka_unit_test(test_cfg_load_string_too_many_nodes),
        cmocka_unit_test(test_cfg_load_string_bad_bytes),
        cmocka_unit_test(test_cfg_load_string_unsupported_yaml),
        cmocka_unit_test(test_cfg_load_string_error_cap),
        cmocka_unit_test(test_cfg_load_string_message_escapes_controls),
        cmocka_unit_test(test_cfg_load_string_message_cut_utf8),
        cmocka_unit_test(test_cfg_load_string_long_name),
        cmocka_unit_test(test_cfg_load_string_bad_args),
        cmocka_unit_test(test_cfg_validate_overrides),
        cmocka_unit_test(test_cfg_validate_loaded_lists),
        cmocka_unit_test(test_cfg_load_string_alloc_failure),
        cmocka_unit_test(test_cfg_validate_alloc_failure),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
