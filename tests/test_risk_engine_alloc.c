/*
 * test_risk_engine_alloc.c - the engine under allocation failure.
 *
 * Linked with -Wl,--wrap=malloc,calloc,realloc,strdup (the fault injector of
 * tests/test_config_alloc.c), so every allocation the engine makes can be
 * made to fail. Each test fails the 1st, 2nd, ... allocation of one call
 * until the call succeeds untouched, and checks that every failure is
 * LR_NOMEM (never a crash, never a score), that nothing leaks (under
 * -DLR_SANITIZE=ON), and that the engine still works afterwards.
 */
#include "tests/test_config_alloc.h"
#include "tests/test_risk_engine_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define FAULT_MAX 10000

static void test_risk_engine_new_nomem(void **state)
{
    struct tenv *t = tenv_new(NULL,
                              "  rules:\n"
                              "    - name: net\n"
                              "      match: {cidrs: [\"10.0.0.0/8\"]}\n"
                              "      add_points: 5\n"
                              "  allowlist:\n"
                              "    cidrs: [\"192.0.2.0/24\"]\n"
                              "    accounts: [monitor]\n",
                              NULL);
    unsigned long n;
    int rc = LR_NOMEM;

    (void)state;
    for (n = 1; n < FAULT_MAX && rc == LR_NOMEM; n++) {
        struct risk_engine *e = NULL;

        fault_arm(n, false);
        rc = risk_engine_new(t->cfg, t->geo, NULL, &e, NULL);
        fault_disarm();
        if (rc == LR_NOMEM) {
            assert_true(fault_fired());
            assert_null(e);
        } else {
            assert_int_equal(rc, LR_OK);
            risk_engine_free(e);
        }
    }
    assert_true(n > 5);
    tenv_free(t);
}

static void test_risk_engine_set_policy_nomem(void **state)
{
    struct tenv *t = tenv_new(NULL, NULL, NULL);
    struct tenv *u = tenv_new(NULL,
                              "  rules:\n"
                              "    - name: net\n"
                              "      match: {cidrs: [\"10.0.0.0/8\"]}\n"
                              "      add_points: 5\n",
                              NULL);
    unsigned long n;
    int rc = LR_NOMEM;

    (void)state;
    tenv_start(t);
    for (n = 1; n < FAULT_MAX && rc == LR_NOMEM; n++) {
        fault_arm(n, false);
        rc = risk_engine_set_policy(t->e, u->cfg, t->geo, NULL);
        fault_disarm();
        if (rc == LR_NOMEM) /* the old policy stays */
            assert_null(reason(ev(t, "10.1.2.3", "u1", "", T0, 0), "RULE:net"));
    }
    assert_int_equal(rc, LR_OK);
    assert_non_null(reason(ev(t, "10.1.2.3", "u1", "", T0, 0), "RULE:net"));
    tenv_free(t); /* engine first: it uses u's config */
    tenv_free(u);
}

/* One attempt that takes every allocating path: a new account and device
 * with ids too long for the inline buffers, learned; a fingerprint. */
static int eval_long(struct tenv *t, int i, struct risk_decision *d)
{
    static const uint8_t fp[RISK_FP_LEN] = {1, 2, 3};
    char acct[200], dev[200], rid[32];
    struct risk_attempt a = {0};

    memset(acct, 'a', sizeof(acct) - 1);
    acct[sizeof(acct) - 1] = '\0';
    memset(dev, 'd', sizeof(dev) - 1);
    dev[sizeof(dev) - 1] = '\0';
    snprintf(acct, 8, "acct%03d", i);
    acct[7] = 'a';
    snprintf(rid, sizeof(rid), "nomem-%d", i);
    a.request_id = rid;
    a.account_id = acct;
    a.ip = tip(IP_LONDON);
    a.device_id = dev;
    a.timestamp_ms = T0 + i;
    a.credential = i % 2 ? LR_CRED_VALID : LR_CRED_INVALID;
    a.fingerprint = i % 2 ? NULL : fp;
    return risk_evaluate(t->e, &a, d);
}

static void test_risk_evaluate_nomem(void **state)
{
    struct tenv *t = tenv_new(NULL, NULL, NULL);
    struct risk_decision d;
    int failures = 0;

    (void)state;
    tenv_start(t);
    for (int i = 1; i < 40; i++) {
        int rc = LR_NOMEM;

        for (unsigned long n = 1; n < FAULT_MAX && rc == LR_NOMEM; n++) {
            fault_arm(n, false);
            rc = eval_long(t, i, &d);
            fault_disarm();
            if (rc == LR_NOMEM) {
                failures++;
                assert_int_equal(d.action, LR_ACTION_UNSPECIFIED);
            }
        }
        assert_int_equal(rc, LR_OK);
    }
    assert_true(failures > 0);
    /* still working, and the device learned through all that is known */
    assert_int_equal(eval_long(t, 1, &d), LR_OK);
    assert_true(d.action >= LR_ACTION_ALLOW);
    assert_null(reason(&d, "NEW_DEVICE"));
    assert_non_null(reason(&d, "IP_DISTINCT_ACCOUNTS"));
    tenv_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_risk_engine_new_nomem),
        cmocka_unit_test(test_risk_engine_set_policy_nomem),
        cmocka_unit_test(test_risk_evaluate_nomem),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
