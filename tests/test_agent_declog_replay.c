/*
 * test_agent_declog_replay.c - the decision log holds everything replay
 * needs: a traffic mix (homes, travel, stuffing from one subnet, a device
 * shared by many accounts, IPv6, unknown networks) is scored by one engine
 * and logged by the real writer; the log, read back line by line with
 * risk_event_parse(), is scored again in order by a fresh engine on the
 * same policy, and every decision comes out the same (action, score,
 * reasons). In clear and with pseudonyms, since a pseudonym is as stable a
 * key as the account id it hides.
 *
 * Distinct counts above limits.distinct_exact are HyperLogLog estimates
 * under secret random per-engine keys, so two engines may disagree by an
 * account or two near a threshold; exact replay holds while counts are
 * exact. The bench raises distinct_exact to 256 (the traffic stays below).
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

#include "test_tmpdir.h"

#define N_EVENTS 600
#define T0 INT64_C(1800000000000)

static char tmpdir[PATH_MAX];

static int setup_dir(void **state)
{
    (void)state;
    assert_int_equal(test_tmpdir_make(tmpdir, sizeof(tmpdir), "replay"), 0);
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    assert_int_equal(test_tmpdir_remove(tmpdir), 0);
    return 0;
}

struct bench {
    struct cfg *cfg;
    struct geo_db *geo;
    struct risk_engine *e;
};

static void bench_open(struct bench *b)
{
    const char *yaml = cfg_default_yaml();
    struct cfg_errors errs = {0};
    struct geo_paths paths;
    char err[256];

    memset(b, 0, sizeof(*b));
    assert_int_equal(
        cfg_load_string("<default>", yaml, strlen(yaml), &b->cfg, &errs),
        LR_OK);
    b->cfg->limits.distinct_exact = 256;
    paths.city = b->cfg->geo_city;
    paths.asn = b->cfg->geo_asn;
    paths.anonymous = b->cfg->geo_anonymous;
    assert_int_equal(geo_db_open(&paths, &b->geo, err, sizeof(err)), LR_OK);
    assert_int_equal(risk_engine_new(b->cfg, b->geo, NULL, &b->e, &errs),
                     LR_OK);
    cfg_errors_clear(&errs);
}

static void bench_close(struct bench *b)
{
    risk_engine_free(b->e);
    geo_db_free(b->geo);
    cfg_free(b->cfg);
}

/* A deterministic mix; every address is in or near the fixture networks. */
static void traffic(int i, struct risk_attempt *a, char *rid, char *acct,
                    char *dev, char *ipbuf)
{
    static const char *const homes[] = {"192.0.2.", "198.51.100.", "203.0.113.",
                                        "198.18.0."};
    static const char *const odd[] = {"198.18.1.7", "198.18.2.7", "198.18.3.7",
                                      "198.19.0.7", "2001:db8::7"};
    unsigned r = (unsigned)i * 2654435761u;
    int user = (int)(r % 40);

    memset(a, 0, sizeof(*a));
    sprintf(rid, "r%d", i);
    sprintf(acct, "user%02d@example.com", user);
    sprintf(dev, "dev-%d", user * 3 + (int)(r >> 28) % 2);
    if (i % 7 == 3) { /* stuffing: one subnet, many accounts, failures */
        sprintf(ipbuf, "198.18.4.%d", 1 + i % 20);
        sprintf(dev, "bot-%d", i % 3);
        a->credential = LR_CRED_INVALID;
    } else if (i % 11 == 5) { /* travel, VPNs, Tor, unknown, IPv6 */
        strcpy(ipbuf, odd[(r >> 8) % 5]);
        a->credential = LR_CRED_VALID;
    } else {
        sprintf(ipbuf, "%s%d", homes[user % 4], 1 + user);
        a->credential = (r >> 20) % 5 == 0 ? LR_CRED_INVALID : LR_CRED_VALID;
    }
    a->request_id = rid;
    a->account_id = acct;
    assert_int_equal(geo_ip_parse(ipbuf, strlen(ipbuf), &a->ip), LR_OK);
    a->device_id = dev;
    a->user_agent = "ua";
    a->timestamp_ms = T0 + (int64_t)i * 7000;
}

static void record(struct risk_decision *out, int n, const char *path,
                   bool pseudo)
{
    static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
    struct agent_declog_opts o = {.path = path,
                                  .pseudonymize = pseudo,
                                  .key = key,
                                  .key_len = sizeof(key),
                                  .queue_cap = N_EVENTS};
    struct agent_declog *dl = NULL;
    struct risk_attempt a;
    struct bench b;
    char rid[16], acct[32], dev[16], ip[64], err[256];

    bench_open(&b);
    assert_int_equal(agent_declog_open(&o, &dl, err, sizeof(err)), LR_OK);
    for (int i = 0; i < n; i++) {
        traffic(i, &a, rid, acct, dev, ip);
        assert_int_equal(risk_evaluate(b.e, &a, &out[i]), LR_OK);
        agent_declog_write(dl, &a, &out[i]);
    }
    agent_declog_close(dl);
    bench_close(&b);
}

static void assert_same(const struct risk_decision *want,
                        const struct risk_decision *got,
                        const struct risk_event *ev, int line)
{
    if (want->n_reasons != got->n_reasons) {
        for (size_t k = 0; k < want->n_reasons; k++)
            print_error("want %s %d %s\n", want->reasons[k].code,
                        want->reasons[k].points, want->reasons[k].detail);
        for (size_t k = 0; k < got->n_reasons; k++)
            print_error("got  %s %d %s\n", got->reasons[k].code,
                        got->reasons[k].points, got->reasons[k].detail);
    }
    if (want->action != got->action || want->score != got->score ||
        want->n_reasons != got->n_reasons)
        fail_msg("line %d: recorded %d/%d, replayed %d/%d", line,
                 (int)want->action, want->score, (int)got->action, got->score);
    for (size_t k = 0; k < want->n_reasons; k++) {
        assert_string_equal(want->reasons[k].code, got->reasons[k].code);
        assert_int_equal(want->reasons[k].points, got->reasons[k].points);
    }
    assert_int_equal(ev->action, want->action);
    assert_int_equal(ev->score, want->score);
}

/* Reads the log back and scores it again on a fresh engine. */
static int replay(const struct risk_decision *recorded, const char *path)
{
    struct risk_decision got;
    struct risk_event ev;
    struct risk_attempt a;
    struct bench b;
    char *line = NULL, err[256];
    size_t cap = 0;
    ssize_t len;
    int n = 0;
    FILE *f = fopen(path, "r");

    assert_non_null(f);
    bench_open(&b);
    while ((len = getline(&line, &cap, f)) > 0) {
        if (risk_event_parse(line, (size_t)len, &ev, err, sizeof(err)))
            fail_msg("line %d: %s", n + 1, err);
        risk_event_to_attempt(&ev, &a);
        assert_int_equal(risk_evaluate(b.e, &a, &got), LR_OK);
        assert_same(&recorded[n], &got, &ev, n + 1);
        n++;
    }
    free(line);
    fclose(f);
    bench_close(&b);
    return n;
}

static void run(bool pseudo)
{
    struct risk_decision *rec = calloc(N_EVENTS, sizeof(*rec));
    char path[PATH_MAX + 32];
    int actions[LR_ACTION_MAX + 1] = {0};

    assert_non_null(rec);
    snprintf(path, sizeof(path), "%s/decisions-%d.jsonl", tmpdir, pseudo);
    record(rec, N_EVENTS, path, pseudo);
    for (int i = 0; i < N_EVENTS; i++)
        actions[rec[i].action]++;
    /* the mix must exercise more than one action to mean anything */
    assert_true(actions[LR_ACTION_ALLOW] > 0);
    assert_true(actions[LR_ACTION_CAPTCHA] + actions[LR_ACTION_CHALLENGE_2FA] >
                0);
    assert_int_equal(replay(rec, path), N_EVENTS);
    free(rec);
}

static void test_agent_declog_replay_same_actions_clear(void **state)
{
    (void)state;
    run(false);
}

static void test_agent_declog_replay_same_actions_pseudonyms(void **state)
{
    (void)state;
    run(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_agent_declog_replay_same_actions_clear, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_agent_declog_replay_same_actions_pseudonyms, setup_dir,
            teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
