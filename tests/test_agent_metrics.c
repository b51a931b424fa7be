/*
 * test_agent_metrics.c - the Prometheus metrics: exact counter values after
 * a known sequence of events, and a page that passes a validator of the text
 * exposition format (HELP/TYPE before samples, metric and label syntax,
 * escapes, no duplicate series, histograms with ascending le, monotonic
 * buckets, le="+Inf" equal to _count, a _sum). Then the real HTTP server on
 * a free loopback port, fetched over a plain socket: 200 with the right
 * content type, 404, 405, bad and busy addresses.
 */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- a validator for the text format (version 0.0.4) --------------------- */

#define V_SERIES_MAX 4096
#define V_LINE_MAX 1024

struct v_family {
    char name[128];
    char type[16];
    bool help, typed;
};

struct v_page {
    char series[V_SERIES_MAX][V_LINE_MAX / 2]; /* name{labels} seen */
    size_t n_series;
    struct v_family fam[512];
    size_t n_fam;
    /* histogram state for the current label set */
    char h_key[V_LINE_MAX / 2];
    double h_last_le;
    double h_last_count;
    double h_inf;
    bool h_has_inf;
};

static bool v_name_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     c == '_' || c == ':';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static struct v_family *v_family(struct v_page *p, const char *name, size_t n)
{
    for (size_t i = 0; i < p->n_fam; i++) {
        if (strlen(p->fam[i].name) == n && !memcmp(p->fam[i].name, name, n))
            return &p->fam[i];
    }
    return NULL;
}

/* "# HELP name text" or "# TYPE name type". */
static void v_comment(struct v_page *p, const char *line)
{
    const char *name = line + 7;
    size_t n = strcspn(name, " ");
    struct v_family *f;

    if (strncmp(line, "# HELP ", 7) != 0 && strncmp(line, "# TYPE ", 7) != 0)
        return; /* other comments are allowed */
    assert_true(v_name_ok(name, n));
    assert_int_equal(name[n], ' ');
    f = v_family(p, name, n);
    if (f == NULL) {
        assert_true(p->n_fam < LR_ARRAY_LEN(p->fam));
        f = &p->fam[p->n_fam++];
        memcpy(f->name, name, n);
        f->name[n] = '\0';
    }
    if (line[2] == 'H') {
        assert_false(f->help);
        f->help = true;
        return;
    }
    assert_false(f->typed);
    f->typed = true;
    lr_strlcpy(f->type, name + n + 1, sizeof(f->type));
    assert_true(!strcmp(f->type, "counter") || !strcmp(f->type, "gauge") ||
                !strcmp(f->type, "histogram") || !strcmp(f->type, "summary") ||
                !strcmp(f->type, "untyped"));
}

/* Parses {a="x",b="y"}; returns the index past '}', copies le if present. */
static size_t v_labels(const char *s, char *le, size_t lecap, char *without_le,
                       size_t wcap)
{
    size_t i = 1, w = 0;

    le[0] = '\0';
    without_le[w++] = '{';
    while (s[i] != '}') {
        size_t n = strcspn(s + i, "=");
        size_t start = i, vstart;
        assert_true(v_name_ok(s + i, n));
        assert_false(n == 2 && !strncmp(s + i, "le", 2) && le[0] != '\0');
        i += n;
        assert_int_equal(s[i++], '=');
        assert_int_equal(s[i++], '"');
        vstart = i;
        while (s[i] != '"') {
            assert_int_not_equal(s[i], '\0');
            assert_int_not_equal(s[i], '\n');
            if (s[i] == '\\') {
                i++;
                assert_true(s[i] == '\\' || s[i] == '"' || s[i] == 'n');
            }
            i++;
        }
        if (n == 2 && !strncmp(s + start, "le", 2)) {
            assert_true(i - vstart < lecap);
            memcpy(le, s + vstart, i - vstart);
            le[i - vstart] = '\0';
        } else {
            assert_true(w + (i + 1 - start) + 2 < wcap);
            memcpy(without_le + w, s + start, i + 1 - start);
            w += i + 1 - start;
            without_le[w++] = ',';
        }
        i++;
        if (s[i] == ',')
            i++;
        else
            assert_int_equal(s[i], '}');
    }
    without_le[w] = '}';
    without_le[w + 1] = '\0';
    return i + 1;
}

static double v_number(const char *s)
{
    char *end;
    double v;

    if (!strcmp(s, "+Inf"))
        return INFINITY;
    if (!strcmp(s, "-Inf"))
        return -INFINITY;
    if (!strcmp(s, "NaN"))
        return NAN;
    v = strtod(s, &end);
    assert_true(end != s && *end == '\0');
    return v;
}

/* The histogram rules for one _bucket/_count sample. */
static void v_histogram(struct v_page *p, const char *suffix, const char *key,
                        const char *le, double value)
{
    if (!strcmp(suffix, "_bucket")) {
        assert_true(le[0] != '\0');
        if (strcmp(key, p->h_key) != 0) {
            lr_strlcpy(p->h_key, key, sizeof(p->h_key));
            p->h_last_le = -INFINITY;
            p->h_last_count = 0;
            p->h_has_inf = false;
        }
        assert_false(p->h_has_inf);
        assert_true(v_number(le) > p->h_last_le);
        assert_true(value >= p->h_last_count);
        p->h_last_le = v_number(le);
        p->h_last_count = value;
        if (!strcmp(le, "+Inf")) {
            p->h_has_inf = true;
            p->h_inf = value;
        }
    } else if (!strcmp(suffix, "_count")) {
        assert_string_equal(key, p->h_key);
        assert_true(p->h_has_inf);
        assert_true(value == p->h_inf);
    } else {
        assert_string_equal(suffix, "_sum");
        assert_string_equal(key, p->h_key);
        assert_true(value >= 0);
    }
}

static void v_sample(struct v_page *p, const char *line)
{
    size_t n = strcspn(line, "{ ");
    char le[64], key[V_LINE_MAX / 2], series[V_LINE_MAX / 2];
    const char *rest = line + n;
    struct v_family *f = NULL;
    const char *suffix = "";

    assert_true(v_name_ok(line, n));
    key[0] = '\0';
    le[0] = '\0';
    if (*rest == '{')
        rest += v_labels(rest, le, sizeof(le), key, sizeof(key));
    assert_int_equal(*rest, ' ');
    /* the family: the name itself, or a histogram's name + suffix */
    f = v_family(p, line, n);
    for (size_t k = 0; f == NULL && k < 3; k++) {
        static const char *const sfx[] = {"_bucket", "_sum", "_count"};
        size_t sl = strlen(sfx[k]);
        if (n > sl && !memcmp(line + n - sl, sfx[k], sl)) {
            f = v_family(p, line, n - sl);
            suffix = sfx[k];
        }
    }
    assert_non_null(f);
    assert_true(f->typed);
    assert_true(&p->fam[p->n_fam - 1] == f); /* samples follow their TYPE */
    snprintf(series, sizeof(series), "%.*s%s%s%s", (int)n, line, key,
             le[0] ? "le=" : "", le);
    for (size_t i = 0; i < p->n_series; i++)
        assert_string_not_equal(p->series[i], series);
    assert_true(p->n_series < V_SERIES_MAX);
    lr_strlcpy(p->series[p->n_series++], series, sizeof(p->series[0]));
    if (!strcmp(f->type, "histogram")) {
        assert_true(suffix[0] != '\0');
        v_histogram(p, suffix, key, le, v_number(rest + 1));
    } else {
        assert_true(suffix[0] == '\0' || v_family(p, line, n) != NULL);
        (void)v_number(rest + 1);
    }
}

/* Fails the test unless @p text is a valid exposition. */
static void validate(const char *text, size_t len)
{
    struct v_page *p = calloc(1, sizeof(*p));
    const char *s = text;

    assert_non_null(p);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_int_equal(strlen(text), len);
    while (*s != '\0') {
        char line[V_LINE_MAX];
        size_t n = strcspn(s, "\n");
        assert_true(n < sizeof(line));
        memcpy(line, s, n);
        line[n] = '\0';
        if (line[0] == '#')
            v_comment(p, line);
        else
            v_sample(p, line);
        s += n + 1;
    }
    for (size_t i = 0; i < p->n_fam; i++)
        assert_true(p->fam[i].help && p->fam[i].typed);
    free(p);
}

/* The value of the sample whose name and labels are exactly @p series. */
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *s = text; *s != '\0'; s += strcspn(s, "\n") + 1) {
        if (!strncmp(s, series, n) && s[n] == ' ')
            return strtod(s + n + 1, NULL);
    }
    fail_msg("no sample %s", series);
    return -1;
}

static bool has_sample(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *s = text; *s != '\0'; s += strcspn(s, "\n") + 1) {
        if (!strncmp(s, series, n) && s[n] == ' ')
            return true;
    }
    return false;
}

/* ---- the registry -------------------------------------------------------- */

static void pull_fixed(void *arg, struct agent_metrics_pull *out)
{
    int *calls = arg;

    (*calls)++;
    out->has_engine = true;
    out->engine.table_entries = 1234;
    out->engine.evictions = 56;
    out->engine.profile_entries = 7;
    out->engine.spray_done = 11;
    out->spray_skipped = 3;
    out->has_store = true;
    out->store_queue_depth = 9;
    out->store_dropped_writes = 2;
    out->store_trimmed_batches = 5;
    out->has_declog = true;
    out->declog.written = 40;
    out->declog.errors = 4;
    out->declog.dropped = 1;
    out->geo_build_epoch_s = 1700000000;
    out->geo_max_age_days = 30;
    out->store_writable = true;
    out->store_commits.lock.count = 3;
    out->store_commits.lock.sum_s = 0.012;
    for (size_t b = 0; b < STORE_COMMIT_BUCKETS; b++) /* 1 <= 1 ms, 2 more */
        out->store_commits.lock.le[b] = store_commit_bounds()[b] < 0.001  ? 0
                                        : store_commit_bounds()[b] < 0.01 ? 1
                                                                          : 3;
    lr_strlcpy(out->policy_version, "pol-\"7\"", sizeof(out->policy_version));
}

static void decision(struct risk_decision *d, enum lr_action a,
                     const char *const *codes, size_t n)
{
    memset(d, 0, sizeof(*d));
    d->action = a;
    for (size_t i = 0; i < n; i++)
        lr_strlcpy(d->reasons[i].code, codes[i], RISK_CODE_MAX);
    d->n_reasons = n;
}

static char *render(struct agent_metrics *m, size_t *len)
{
    char *page = NULL;

    assert_int_equal(agent_metrics_render(m, &page, len), LR_OK);
    validate(page, *len);
    return page;
}

static void known_sequence(struct agent_metrics *m)
{
    static const char *const r1[] = {"NEW_DEVICE", "NEW_COUNTRY"};
    static const char *const r2[] = {"NEW_DEVICE", "RULE:vpn-block"};
    static const char *const r3[] = {"RULE:vpn-block", "RULE:say \"hi\"\\"};
    struct risk_decision d;

    decision(&d, LR_ACTION_ALLOW, NULL, 0);
    agent_metrics_decision(m, &d);
    agent_metrics_decision(m, &d);
    decision(&d, LR_ACTION_CAPTCHA, r1, 2);
    agent_metrics_decision(m, &d);
    decision(&d, LR_ACTION_LOCK, r2, 2);
    agent_metrics_decision(m, &d);
    decision(&d, LR_ACTION_CHALLENGE_2FA, r3, 2);
    agent_metrics_decision(m, &d);
    /* 0.3 ms, 2 ms, 2 s Evaluate; one INVALID_ARGUMENT */
    agent_metrics_rpc(m, AGENT_RPC_EVALUATE, 0, 300000);
    agent_metrics_rpc(m, AGENT_RPC_EVALUATE, 0, 2000000);
    agent_metrics_rpc(m, AGENT_RPC_EVALUATE, 3, 2000000000);
    agent_metrics_rpc(m,
                      agent_metrics_method("/loginrisk.v1.AdminService/"
                                           "LockAccounts"),
                      16, 50000);
    agent_metrics_rpc(m, agent_metrics_method("/x.Y/Z"), 12, 1000);
    agent_metrics_rpc(m, AGENT_RPC_HEALTH_CHECK, 99, 20000000000LL);
    agent_metrics_admin(m, AGENT_ADMIN_LOCK, 100);
    agent_metrics_admin(m, AGENT_ADMIN_UNLOCK, 50);
    agent_metrics_admin(m, AGENT_ADMIN_LOCK, 0);
    agent_metrics_config_reload(m, true);
    agent_metrics_config_reload(m, false);
    agent_metrics_config_reload(m, false);
    agent_metrics_geo_reload_failed(m);
}

static void test_agent_metrics_render_exact_values(void **state)
{
    struct agent_metrics *m = NULL;
    int calls = 0;
    size_t len;
    char *p;

    (void)state;
    assert_int_equal(agent_metrics_new("0.1.0", pull_fixed, &calls, &m), LR_OK);
    known_sequence(m);
    p = render(m, &len);
    assert_int_equal(calls, 1);
#define V(s) value_of(p, s)
    assert_true(V("loginrisk_evaluations_total{action=\"allow\"}") == 2);
    assert_true(V("loginrisk_evaluations_total{action=\"captcha\"}") == 1);
    assert_true(V("loginrisk_evaluations_total{action=\"challenge_2fa\"}") ==
                1);
    assert_true(V("loginrisk_evaluations_total{action=\"lock\"}") == 1);
    assert_true(V("loginrisk_reasons_total{code=\"NEW_DEVICE\"}") == 2);
    assert_true(V("loginrisk_reasons_total{code=\"NEW_COUNTRY\"}") == 1);
    assert_true(V("loginrisk_reasons_total{code=\"TOR_EXIT\"}") == 0);
    assert_true(V("loginrisk_reasons_total{code=\"RULE:vpn-block\"}") == 2);
    assert_true(
        V("loginrisk_reasons_total{code=\"RULE:say \\\"hi\\\"\\\\\"}") == 1);
    assert_true(V("loginrisk_rpc_total{method=\"loginrisk.v1.RiskService/"
                  "Evaluate\",code=\"OK\"}") == 2);
    assert_true(V("loginrisk_rpc_total{method=\"loginrisk.v1.RiskService/"
                  "Evaluate\",code=\"INVALID_ARGUMENT\"}") == 1);
    assert_true(V("loginrisk_rpc_total{method=\"loginrisk.v1.AdminService/"
                  "LockAccounts\",code=\"UNAUTHENTICATED\"}") == 1);
    assert_true(V("loginrisk_rpc_total{method=\"other\",code="
                  "\"UNIMPLEMENTED\"}") == 1);
    assert_true(V("loginrisk_rpc_total{method=\"grpc.health.v1.Health/"
                  "Check\",code=\"UNKNOWN\"}") == 1);
    assert_false(has_sample(p, "loginrisk_rpc_total{method=\"loginrisk.v1."
                               "RiskService/ReportOutcome\",code=\"OK\"}"));
    assert_true(V("loginrisk_rpc_duration_seconds_bucket{method=\"loginrisk."
                  "v1.RiskService/Evaluate\",le=\"0.00025\"}") == 0);
    assert_true(V("loginrisk_rpc_duration_seconds_bucket{method=\"loginrisk."
                  "v1.RiskService/Evaluate\",le=\"0.0005\"}") == 1);
    assert_true(V("loginrisk_rpc_duration_seconds_bucket{method=\"loginrisk."
                  "v1.RiskService/Evaluate\",le=\"0.0025\"}") == 2);
    assert_true(V("loginrisk_rpc_duration_seconds_bucket{method=\"loginrisk."
                  "v1.RiskService/Evaluate\",le=\"2.5\"}") == 3);
    assert_true(V("loginrisk_rpc_duration_seconds_count{method=\"loginrisk."
                  "v1.RiskService/Evaluate\"}") == 3);
    assert_true(fabs(V("loginrisk_rpc_duration_seconds_sum{method="
                       "\"loginrisk.v1.RiskService/Evaluate\"}") -
                     2.0023) < 1e-9);
    assert_true(V("loginrisk_rpc_duration_seconds_bucket{method=\"grpc.health."
                  "v1.Health/Check\",le=\"10\"}") == 0);
    assert_true(V("loginrisk_rpc_duration_seconds_bucket{method=\"grpc.health."
                  "v1.Health/Check\",le=\"+Inf\"}") == 1);
    assert_true(V("loginrisk_admin_actions_total{kind=\"lock\"}") == 2);
    assert_true(V("loginrisk_admin_actions_total{kind=\"unlock\"}") == 1);
    assert_true(V("loginrisk_admin_actions_total{kind=\"lock_by_query\"}") ==
                0);
    assert_true(V("loginrisk_admin_accounts_changed_total{kind=\"lock\"}") ==
                100);
    assert_true(V("loginrisk_config_reloads_total{result=\"success\"}") == 1);
    assert_true(V("loginrisk_config_reloads_total{result=\"failure\"}") == 2);
    assert_true(V("loginrisk_geo_reload_failures_total") == 1);
    assert_true(V("loginrisk_table_entries") == 1234);
    assert_true(V("loginrisk_table_evictions_total") == 56);
    assert_true(V("loginrisk_spray_skipped_total") == 3);
    assert_true(V("loginrisk_spray_fingerprints_total") == 11);
    assert_true(V("loginrisk_store_queue_depth") == 9);
    assert_true(V("loginrisk_store_dropped_writes_total") == 2);
    assert_true(V("loginrisk_store_history_trimmed_batches_total") == 5);
    assert_true(V("loginrisk_geo_database_build_timestamp_seconds") ==
                1700000000);
    /* built in November 2023: more than 30 days ago by now */
    assert_true(V("loginrisk_geo_database_age_seconds") >
                (double)(lr_now_ms() / 1000 - 1700000000 - 60));
    assert_true(V("loginrisk_geo_database_stale") == 1);
    assert_true(V("loginrisk_store_writable") == 1);
    assert_true(V("loginrisk_store_commit_seconds_bucket{kind=\"lock\","
                  "le=\"0.001\"}") == 1);
    assert_true(V("loginrisk_store_commit_seconds_bucket{kind=\"lock\","
                  "le=\"0.01\"}") == 3);
    assert_true(V("loginrisk_store_commit_seconds_bucket{kind=\"lock\","
                  "le=\"+Inf\"}") == 3);
    assert_true(V("loginrisk_store_commit_seconds_count{kind=\"lock\"}") == 3);
    assert_true(V("loginrisk_store_commit_seconds_sum{kind=\"lock\"}") ==
                0.012);
    assert_true(V("loginrisk_store_commit_seconds_count{kind=\"history\"}") ==
                0);
    assert_true(V("loginrisk_decision_log_errors_total") == 4);
    assert_true(V("loginrisk_decision_log_dropped_total") == 1);
    assert_true(V("loginrisk_decision_log_lines_total") == 40);
    assert_true(V("loginrisk_info{version=\"0.1.0\",policy_version=\"pol-"
                  "\\\"7\\\"\"}") == 1);
#undef V
    free(p);
    agent_metrics_free(m);
}

static void test_agent_metrics_render_without_pull(void **state)
{
    struct agent_metrics *m = NULL;
    size_t len;
    char *p;

    (void)state;
    assert_int_equal(agent_metrics_new(NULL, NULL, NULL, &m), LR_OK);
    p = render(m, &len);
    assert_true(value_of(p, "loginrisk_evaluations_total{action=\"allow\"}") ==
                0);
    assert_true(has_sample(p, "loginrisk_info{version=\"\",policy_version="
                              "\"\"}"));
    /* pulled families are left out when their source is absent */
    assert_false(has_sample(p, "loginrisk_store_queue_depth"));
    assert_false(has_sample(p, "loginrisk_store_writable"));
    assert_false(has_sample(p, "loginrisk_store_commit_seconds_count{kind="
                               "\"lock\"}"));
    assert_true(value_of(p, "loginrisk_geo_database_age_seconds") == 0);
    assert_true(value_of(p, "loginrisk_geo_database_stale") == 0);
    assert_false(has_sample(p, "loginrisk_decision_log_errors_total"));
    assert_false(has_sample(p, "loginrisk_table_entries"));
    free(p);
    agent_metrics_free(m);
}

static void test_agent_metrics_decision_rule_table_bounded(void **state)
{
    struct agent_metrics *m = NULL;
    struct risk_decision d;
    char code[RISK_CODE_MAX];
    const char *codes[1] = {code};
    size_t len;
    char *p;

    (void)state;
    assert_int_equal(agent_metrics_new("v", NULL, NULL, &m), LR_OK);
    for (int i = 0; i < AGENT_METRICS_RULES_MAX + 10; i++) {
        snprintf(code, sizeof(code), "RULE:r%d", i);
        decision(&d, LR_ACTION_ALLOW, codes, 1);
        agent_metrics_decision(m, &d);
        agent_metrics_decision(m, &d);
    }
    p = render(m, &len);
    assert_true(value_of(p, "loginrisk_reasons_total{code=\"RULE:r0\"}") == 2);
    assert_true(value_of(p, "loginrisk_reasons_total{code=\"RULE:r63\"}") == 2);
    assert_false(has_sample(p, "loginrisk_reasons_total{code=\"RULE:r64\"}"));
    assert_true(value_of(p, "loginrisk_reasons_total{code=\"RULE:_other\"}") ==
                20);
    free(p);
    agent_metrics_free(m);
}

static void test_agent_metrics_method_names(void **state)
{
    (void)state;
    assert_int_equal(
        agent_metrics_method("/loginrisk.v1.RiskService/ReportOutcome"),
        AGENT_RPC_REPORT_OUTCOME);
    assert_int_equal(agent_metrics_method("grpc.health.v1.Health/Check"),
                     AGENT_RPC_HEALTH_CHECK);
    assert_int_equal(
        agent_metrics_method("/loginrisk.v1.AdminService/ReloadConfig"),
        AGENT_RPC_RELOAD_CONFIG);
    assert_int_equal(
        agent_metrics_method("/loginrisk.v1.AdminService/ListAudit"),
        AGENT_RPC_LIST_AUDIT);
    assert_int_equal(agent_metrics_method("/grpc.health.v1.Health/Watch"),
                     AGENT_RPC_OTHER);
    assert_int_equal(agent_metrics_method(NULL), AGENT_RPC_OTHER);
    /* out-of-range arguments are clamped, never an out-of-bounds write */
    agent_metrics_rpc(NULL, AGENT_RPC_EVALUATE, 0, 1);
    agent_metrics_decision(NULL, NULL);
    agent_metrics_admin(NULL, AGENT_ADMIN_LOCK, 1);
    agent_metrics_config_reload(NULL, true);
    agent_metrics_geo_reload_failed(NULL);
    agent_metrics_free(NULL);
}

/* Counters bumped from several threads while another renders. */
struct bump_arg {
    struct agent_metrics *m;
    int n;
};

static void *bump_main(void *arg)
{
    static const char *const codes[] = {"NEW_DEVICE", "RULE:x"};
    struct bump_arg *b = arg;
    struct risk_decision d;

    decision(&d, LR_ACTION_CAPTCHA, codes, 2);
    for (int i = 0; i < b->n; i++) {
        agent_metrics_decision(b->m, &d);
        agent_metrics_rpc(b->m, AGENT_RPC_EVALUATE, 0, i * 1000);
    }
    return NULL;
}

static void test_agent_metrics_concurrent_counts_exact(void **state)
{
    struct agent_metrics *m = NULL;
    struct bump_arg arg;
    pthread_t th[4];
    size_t len;
    char *p;

    (void)state;
    assert_int_equal(agent_metrics_new("v", NULL, NULL, &m), LR_OK);
    arg.m = m;
    arg.n = 20000;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, bump_main, &arg), 0);
    for (int i = 0; i < 5; i++) {
        p = render(m, &len); /* valid while the writers race it */
        free(p);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    p = render(m, &len);
    assert_true(
        value_of(p, "loginrisk_evaluations_total{action=\"captcha\"}") ==
        80000);
    assert_true(value_of(p, "loginrisk_reasons_total{code=\"RULE:x\"}") ==
                80000);
    assert_true(value_of(p, "loginrisk_rpc_duration_seconds_count{method="
                            "\"loginrisk.v1.RiskService/Evaluate\"}") == 80000);
    free(p);
    agent_metrics_free(m);
}

/* ---- the HTTP server ----------------------------------------------------- */

/*
 * Sends @p request to 127.0.0.1:@p port; returns the whole answer. With
 * @p strict the server must close cleanly (no reset).
 */
static char *http_exchange(uint16_t port, const char *request, bool strict,
                           size_t *len_out)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {.tv_sec = 10};
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t r;

    assert_non_null(buf);
    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
                     0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, request, strlen(request)),
                     (ssize_t)strlen(request));
    while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    if (strict)
        assert_int_equal(r, 0);
    close(fd);
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

static char *http_fetch(uint16_t port, const char *request, size_t *len_out)
{
    return http_exchange(port, request, true, len_out);
}

static struct agent_metrics_server *serve(struct agent_metrics *m,
                                          const char *addr)
{
    struct agent_metrics_server *s = NULL;
    char err[256] = "";

    if (agent_metrics_serve(m, addr, &s, err, sizeof(err)))
        fail_msg("serve %s: %s", addr, err);
    assert_true(agent_metrics_server_port(s) != 0);
    return s;
}

static void test_agent_metrics_serve_scrape(void **state)
{
    struct agent_metrics_server *s;
    struct agent_metrics *m = NULL;
    char *resp, *body;
    int calls = 0;
    size_t len;

    (void)state;
    assert_int_equal(agent_metrics_new("0.1.0", pull_fixed, &calls, &m), LR_OK);
    known_sequence(m);
    s = serve(m, "127.0.0.1:0");
    resp = http_fetch(agent_metrics_server_port(s),
                      "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n",
                      &len);
    assert_memory_equal(resp, "HTTP/1.1 200", 12);
    assert_non_null(
        strstr(resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    validate(body, strlen(body));
    assert_true(
        value_of(body, "loginrisk_evaluations_total{action=\"allow\"}") == 2);
    assert_true(value_of(body, "loginrisk_config_reloads_total{result="
                               "\"failure\"}") == 2);
    assert_int_equal(calls, 1);
    free(resp);
    /* HEAD: headers only */
    resp = http_fetch(agent_metrics_server_port(s),
                      "HEAD /metrics HTTP/1.0\r\n\r\n", &len);
    assert_memory_equal(resp, "HTTP/1.", 7);
    assert_non_null(strstr(resp, " 200 "));
    assert_null(strstr(resp, "loginrisk_info"));
    free(resp);
    agent_metrics_server_stop(s);
    agent_metrics_free(m);
}

static void test_agent_metrics_serve_other_paths(void **state)
{
    struct agent_metrics_server *s;
    struct agent_metrics *m = NULL;
    size_t len;
    char *resp;

    (void)state;
    assert_int_equal(agent_metrics_new("v", NULL, NULL, &m), LR_OK);
    s = serve(m, "localhost:0");
    resp = http_fetch(agent_metrics_server_port(s), "GET / HTTP/1.0\r\n\r\n",
                      &len);
    assert_non_null(strstr(resp, " 404 "));
    free(resp);
    resp = http_fetch(agent_metrics_server_port(s),
                      "GET /metrics/../etc HTTP/1.0\r\n\r\n", &len);
    assert_non_null(strstr(resp, " 404 "));
    free(resp);
    resp = http_fetch(agent_metrics_server_port(s),
                      "POST /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\n"
                      "hello",
                      &len);
    assert_non_null(strstr(resp, " 405 "));
    assert_non_null(strstr(resp, "Allow: GET, HEAD"));
    free(resp);
    /* garbage is answered (400) or dropped, and the server keeps serving */
    resp = http_exchange(agent_metrics_server_port(s),
                         "\x01\x02garbage\r\n\r\n", false, &len);
    free(resp);
    resp = http_fetch(agent_metrics_server_port(s),
                      "GET /metrics HTTP/1.0\r\n\r\n", &len);
    assert_non_null(strstr(resp, " 200 "));
    free(resp);
    agent_metrics_server_stop(s);
    agent_metrics_free(m);
}

static void test_agent_metrics_serve_ipv6(void **state)
{
    struct agent_metrics_server *s = NULL;
    struct agent_metrics *m = NULL;
    char err[256] = "";
    int rc;

    (void)state;
    assert_int_equal(agent_metrics_new("v", NULL, NULL, &m), LR_OK);
    rc = agent_metrics_serve(m, "[::1]:0", &s, err, sizeof(err));
    if (rc == LR_IO) {
        /* no IPv6 loopback on this machine */
        agent_metrics_free(m);
        skip();
    }
    assert_int_equal(rc, LR_OK);
    assert_true(agent_metrics_server_port(s) != 0);
    agent_metrics_server_stop(s);
    agent_metrics_free(m);
}

static void test_agent_metrics_serve_bad_addresses(void **state)
{
    static const char *const bad[] = {
        "",          "9464",       ":9464",        "127.0.0.1:",
        "127.0.0.1", "[::1]9464",  "[::1",         "127.0.0.1:99999",
        "::1:9464",  "1.2.3.4:x1", "127.0.0.1:-1",
    };
    struct agent_metrics_server *s = NULL;
    struct agent_metrics *m = NULL;
    char err[256];

    (void)state;
    assert_int_equal(agent_metrics_new("v", NULL, NULL, &m), LR_OK);
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        assert_int_equal(agent_metrics_serve(m, bad[i], &s, err, sizeof(err)),
                         LR_INVALID);
        assert_non_null(strstr(err, "metrics listen"));
        assert_null(s);
    }
    assert_int_equal(agent_metrics_serve(m, "no-such-host.invalid:9464", &s,
                                         err, sizeof(err)),
                     LR_INVALID);
    /* an address this machine does not have */
    assert_int_equal(
        agent_metrics_serve(m, "192.0.2.1:9464", &s, err, sizeof(err)), LR_IO);
    assert_non_null(strstr(err, "192.0.2.1:9464"));
    assert_int_equal(
        agent_metrics_serve(NULL, "127.0.0.1:0", &s, err, sizeof(err)),
        LR_INVALID);
    assert_null(s);
    agent_metrics_server_stop(NULL);
    agent_metrics_free(m);
}

static void test_agent_metrics_serve_port_in_use(void **state)
{
    struct agent_metrics_server *a, *b = NULL;
    struct agent_metrics *m = NULL;
    char addr[64], err[256] = "";

    (void)state;
    assert_int_equal(agent_metrics_new("v", NULL, NULL, &m), LR_OK);
    a = serve(m, "127.0.0.1:0");
    snprintf(addr, sizeof(addr), "127.0.0.1:%u",
             (unsigned)agent_metrics_server_port(a));
    assert_int_equal(agent_metrics_serve(m, addr, &b, err, sizeof(err)), LR_IO);
    assert_non_null(strstr(err, "in use"));
    assert_null(b);
    /* once stopped, the port is free again (the socket was closed) */
    agent_metrics_server_stop(a);
    b = serve(m, addr);
    agent_metrics_server_stop(b);
    agent_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_metrics_render_exact_values),
        cmocka_unit_test(test_agent_metrics_render_without_pull),
        cmocka_unit_test(test_agent_metrics_decision_rule_table_bounded),
        cmocka_unit_test(test_agent_metrics_method_names),
        cmocka_unit_test(test_agent_metrics_concurrent_counts_exact),
        cmocka_unit_test(test_agent_metrics_serve_scrape),
        cmocka_unit_test(test_agent_metrics_serve_other_paths),
        cmocka_unit_test(test_agent_metrics_serve_ipv6),
        cmocka_unit_test(test_agent_metrics_serve_bad_addresses),
        cmocka_unit_test(test_agent_metrics_serve_port_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
