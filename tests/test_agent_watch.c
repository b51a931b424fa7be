/*
 * test_agent_watch.c - geo databases replaced under a running agent state
 * (agent_state_reload_geo, the housekeeping thread of agent_watch.c), file
 * signatures, and the health decision (agent_serving).
 *
 * Real files throughout: the fixture .mmdb databases the build makes are
 * copied into a fresh directory and replaced there by rename, as
 * geoipupdate does, with a corrupt file or another good copy. The state is
 * a real one (embedded default config, a real SQLite store).
 */
#include "agent/agent.h"

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tmpdir.h"

static char tmpdir[PATH_MAX];
static char city[PATH_MAX + 16];

static int setup_dir(void **state)
{
    (void)state;
    assert_int_equal(test_tmpdir_make(tmpdir, sizeof(tmpdir), "watch"), 0);
    snprintf(city, sizeof(city), "%s/city.mmdb", tmpdir);
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    assert_int_equal(test_tmpdir_remove(tmpdir), 0);
    return 0;
}

/* Writes @p len bytes of @p data to a temp file renamed over @p path. */
static void replace_with(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX + 32];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static void *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A fresh copy of the fixture city database at `city` (a new inode). */
static void copy_fixture_city(void)
{
    size_t len;
    void *data = read_all(LR_TEST_DATA_DIR "/loginrisk-city.mmdb", &len);

    replace_with(city, data, len);
    free(data);
}

static struct agent_state *open_state(struct agent_opts *opts)
{
    struct cfg_errors errs = {0};
    struct agent_state *st = NULL;
    int rc;

    copy_fixture_city();
    memset(opts, 0, sizeof(*opts));
    opts->state_dir = tmpdir;
    opts->geo_city = city;
    rc = agent_state_open(opts, &st, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("%s\n", errs.msgs[i]);
    cfg_errors_clear(&errs);
    assert_int_equal(rc, LR_OK);
    assert_int_equal(agent_metrics_new("t", NULL, NULL, &st->metrics), LR_OK);
    return st;
}

static void close_state(struct agent_state *st)
{
    struct agent_metrics *m = st->metrics;

    agent_state_free(st);
    agent_metrics_free(m);
}

static double geo_failures(struct agent_metrics *m)
{
    const char *key = "\nloginrisk_geo_reload_failures_total ";
    char *text = NULL, *at;
    size_t len;
    double v;

    assert_int_equal(agent_metrics_render(m, &text, &len), LR_OK);
    at = strstr(text, key);
    assert_non_null(at);
    v = strtod(at + strlen(key), NULL);
    free(text);
    return v;
}

static void lookup_city(struct agent_state *st, const char *ip, char *out,
                        size_t cap)
{
    struct agent_snapshot *snap = agent_state_get(st);
    struct geo_info g;
    struct geo_ip a;

    assert_int_equal(geo_ip_parse(ip, strlen(ip), &a), LR_OK);
    assert_int_equal(geo_lookup(snap->geo, &a, &g), LR_OK);
    lr_strlcpy(out, g.city, cap);
    agent_snapshot_put(snap);
}

/* ---- signatures ---------------------------------------------------------- */

static void test_agent_file_sig_read_changes(void **state)
{
    struct agent_file_sig a, b;
    struct timespec later[2] = {{.tv_sec = 2000000000}, {.tv_sec = 2000000000}};

    (void)state;
    copy_fixture_city();
    agent_file_sig_read(city, &a);
    agent_file_sig_read(city, &b);
    assert_true(a.exists);
    assert_true(agent_file_sig_eq(&a, &b));
    /* the same bytes renamed over it: another inode */
    copy_fixture_city();
    agent_file_sig_read(city, &b);
    assert_false(agent_file_sig_eq(&a, &b));
    /* rewritten in place: the mtime moves */
    a = b;
    assert_int_equal(utimensat(AT_FDCWD, city, later, 0), 0);
    agent_file_sig_read(city, &b);
    assert_false(agent_file_sig_eq(&a, &b));
    /* gone, or not configured */
    assert_int_equal(unlink(city), 0);
    agent_file_sig_read(city, &b);
    assert_false(b.exists);
    agent_file_sig_read(NULL, &a);
    assert_false(a.exists);
    assert_true(agent_file_sig_eq(&a, &b));
}

/* ---- reloads ---------------------------------------------------------------
 */

static void test_agent_state_reload_geo_corrupt_kept(void **state)
{
    struct agent_opts opts;
    struct agent_state *st = open_state(&opts);
    struct cfg_errors errs = {0};
    struct geo_db *before = st->cur->geo;
    struct cfg *cfg = st->cur->cfg;
    char name[64];

    (void)state;
    replace_with(city, "not a MaxMind database", 22);
    assert_int_not_equal(agent_state_reload_geo(st, &errs), LR_OK);
    assert_true(errs.n >= 1);
    assert_non_null(strstr(errs.msgs[0], "city.mmdb"));
    cfg_errors_clear(&errs);
    assert_ptr_equal(st->cur->geo, before);
    assert_ptr_equal(st->cur->cfg, cfg);
    assert_true(geo_failures(st->metrics) == 1);
    lookup_city(st, "192.0.2.1", name, sizeof(name));
    assert_string_equal(name, "London");
    close_state(st);
}

static void test_agent_state_reload_geo_good_served(void **state)
{
    struct agent_opts opts;
    struct agent_state *st = open_state(&opts);
    struct cfg_errors errs = {0};
    struct geo_db *before = st->cur->geo;
    struct cfg *cfg = st->cur->cfg;
    struct agent_file_sig now;
    char name[64];

    (void)state;
    copy_fixture_city();
    assert_int_equal(agent_state_reload_geo(st, &errs), LR_OK);
    assert_int_equal(errs.n, 0);
    assert_ptr_not_equal(st->cur->geo, before);
    assert_ptr_equal(st->cur->cfg, cfg); /* the config is shared */
    agent_file_sig_read(city, &now);
    assert_true(agent_file_sig_eq(&now, &st->cur->geo_sig[AGENT_GEO_CITY]));
    assert_true(geo_failures(st->metrics) == 0);
    lookup_city(st, "192.0.2.1", name, sizeof(name));
    assert_string_equal(name, "London");
    /* a config reload after it still works, and frees the shared config
     * once nothing holds it (ASan checks the frees) */
    assert_int_equal(agent_state_reload(st, false, &errs), LR_OK);
    cfg_errors_clear(&errs);
    assert_ptr_not_equal(st->cur->cfg, cfg);
    close_state(st);
}

static void test_agent_watch_start_reloads_changed_files(void **state)
{
    struct agent_opts opts;
    struct agent_state *st = open_state(&opts);
    struct agent_geowatch *w = NULL;
    struct geo_db *before = st->cur->geo, *now = before;
    struct timespec nap = {.tv_nsec = 10 * 1000000L};

    (void)state;
    assert_int_equal(agent_watch_start(st, 20, &w), LR_OK);
    copy_fixture_city();
    for (int i = 0; i < 1000 && now == before; i++) {
        nanosleep(&nap, NULL);
        pthread_mutex_lock(&st->mu);
        now = st->cur->geo;
        pthread_mutex_unlock(&st->mu);
    }
    assert_ptr_not_equal(now, before);
    /* a corrupt file: counted once, not retried while it stays */
    replace_with(city, "garbage", 7);
    for (int i = 0; i < 1000 && geo_failures(st->metrics) < 1; i++)
        nanosleep(&nap, NULL);
    for (int i = 0; i < 20; i++)
        nanosleep(&nap, NULL);
    assert_true(geo_failures(st->metrics) == 1);
    agent_watch_stop(w);
    agent_watch_stop(NULL);
    close_state(st);
}

static void test_agent_serving_follows_drain_and_store(void **state)
{
    struct agent_opts opts;
    struct agent_state *st = open_state(&opts);

    (void)state;
    assert_true(agent_serving(st));
    atomic_store(&st->draining, true);
    assert_false(agent_serving(st));
    atomic_store(&st->draining, false);
    assert_true(agent_serving(st));
    close_state(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_agent_file_sig_read_changes,
                                        setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_agent_state_reload_geo_corrupt_kept, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_agent_state_reload_geo_good_served,
                                        setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_agent_watch_start_reloads_changed_files, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_agent_serving_follows_drain_and_store, setup_dir,
            teardown_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
