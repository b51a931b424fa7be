/*
 * test_agent_metrics_state.c - the metrics' pull callback on a real agent
 * state (embedded default config, the fixture GeoIP databases, a real
 * SQLite store in a fresh directory): after a few evaluations written to a
 * real decision log, a render shows the engine's tables, the store's queue,
 * the decision log's lines, the geo build time and the policy version.
 */
#include "agent/agent.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define N_EVAL 20

static char tmpdir[PATH_MAX];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/lr-mstate-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[PATH_MAX + 16];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

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

static void evaluate_some(struct agent_state *st, struct agent_declog *dl)
{
    struct risk_attempt a;
    struct risk_decision d;
    char rid[32], acct[32];

    for (int i = 0; i < N_EVAL; i++) {
        memset(&a, 0, sizeof(a));
        snprintf(rid, sizeof(rid), "req-%d", i);
        snprintf(acct, sizeof(acct), "user%d", i % 5);
        a.request_id = rid;
        a.account_id = acct;
        assert_int_equal(geo_ip_parse("203.0.113.9", 11, &a.ip), LR_OK);
        a.device_id = "";
        a.user_agent = "";
        a.timestamp_ms = lr_now_ms();
        a.credential = LR_CRED_INVALID;
        assert_int_equal(risk_evaluate(st->engine, &a, &d), LR_OK);
        agent_declog_write(dl, &a, &d);
    }
}

static void test_agent_metrics_pull_state_real_agent(void **state)
{
    struct agent_opts opts = {.state_dir = tmpdir};
    struct agent_metrics_sources src = {0};
    struct agent_declog_opts dopts = {0};
    struct cfg_errors errs = {0};
    struct agent_metrics *m = NULL;
    struct agent_declog *dl = NULL;
    struct agent_state *st = NULL;
    struct agent_snapshot *snap;
    char path[PATH_MAX + 32], series[256], err[256];
    char *page = NULL;
    size_t len = 0;
    int rc;

    (void)state;
    rc = agent_state_open(&opts, &st, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("%s\n", errs.msgs[i]);
    assert_int_equal(rc, LR_OK);
    snprintf(path, sizeof(path), "%s/decisions.jsonl", tmpdir);
    dopts.path = path;
    assert_int_equal(agent_declog_open(&dopts, &dl, err, sizeof(err)), LR_OK);
    evaluate_some(st, dl);
    assert_int_equal(agent_declog_flush(dl, 10000), LR_OK);
    assert_int_equal(store_flush(st->store), LR_OK); /* history committed */
    src.st = st;
    src.declog = dl;
    assert_int_equal(
        agent_metrics_new("9.9.9", agent_metrics_pull_state, &src, &m), LR_OK);
    assert_int_equal(agent_metrics_render(m, &page, &len), LR_OK);
    assert_true(value_of(page, "loginrisk_table_entries") > 0);
    assert_true(value_of(page, "loginrisk_decision_log_lines_total") == N_EVAL);
    assert_true(value_of(page, "loginrisk_decision_log_errors_total") == 0);
    assert_true(value_of(page, "loginrisk_store_queue_depth") >= 0);
    assert_true(value_of(page, "loginrisk_store_dropped_writes_total") == 0);
    assert_true(value_of(page, "loginrisk_store_commit_seconds_count{kind="
                               "\"history\"}") >= 1);
    assert_true(value_of(page, "loginrisk_store_commit_seconds_bucket{kind="
                               "\"history\",le=\"+Inf\"}") >= 1);
    assert_true(
        value_of(page, "loginrisk_geo_database_build_timestamp_seconds") > 0);
    assert_true(value_of(page, "loginrisk_draining") == 0);
    snap = agent_state_get(st);
    snprintf(series, sizeof(series),
             "loginrisk_info{version=\"9.9.9\",policy_version=\"%s\"}",
             snap->cfg->policy_version);
    agent_snapshot_put(snap);
    assert_true(value_of(page, series) == 1);
    free(page);
    atomic_store(&st->draining, true);
    assert_int_equal(agent_metrics_render(m, &page, &len), LR_OK);
    assert_true(value_of(page, "loginrisk_draining") == 1);
    free(page);
    agent_metrics_free(m);
    agent_declog_close(dl);
    agent_state_free(st);
    cfg_errors_clear(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_agent_metrics_pull_state_real_agent, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
