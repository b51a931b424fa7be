/*
 * test_risk_engine_state.c - the engine's state across attempts: velocity
 * (R-VEL-*), password spray (R-SPRAY-*), locks and allowlists over a real
 * store (R-STATE-*), ReportOutcome (R-OUT-1), the anti-DoS caps (R-DOS-1,
 * R-DOS-2), bounded tables under floods, history, counters, and several
 * threads at once.
 */
#include "tests/test_risk_engine_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#define VALID LR_CRED_VALID
#define INVALID LR_CRED_INVALID
#define PRE LR_CRED_UNSPECIFIED

static struct tenv *started(const char *policy, const char *top, bool store)
{
    struct tenv *t = tenv_new(NULL, policy, top);

    if (store)
        tenv_use_store(t);
    tenv_start(t);
    return t;
}

static void assert_fires(const struct risk_decision *d, const char *code,
                         const char *part)
{
    const struct risk_reason *r = reason(d, code);

    if (!r || (part && !strstr(r->detail, part)))
        dump(d);
    assert_non_null(r);
    if (part)
        assert_non_null(strstr(r->detail, part));
}

static void assert_quiet(const struct risk_decision *d, const char *code)
{
    if (reason(d, code))
        dump(d);
    assert_null(reason(d, code));
}

static void learn(struct tenv *t, const char *ip, const char *account,
                  const char *device, int64_t ts)
{
    const struct risk_decision *d = ev(t, ip, account, device, ts, VALID);

    if (d->action != LR_ACTION_ALLOW)
        dump(d);
    assert_int_equal(d->action, LR_ACTION_ALLOW);
}

static void ipf(char *buf, size_t cap, const char *fmt, ...) LR_PRINTF(3, 4);

static void ipf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

/* ---- velocity: R-VEL-* -----------------------------------------------------
 */

static void test_risk_evaluate_ip_attempts(void **state) /* R-VEL-1 */
{
    struct tenv *t = started(NULL, NULL, false); /* 30 per minute */

    (void)state;
    for (int i = 0; i < 29; i++)
        assert_quiet(ev(t, IP_LONDON, "u1", "", T0 + i * SEC_MS, PRE),
                     "IP_VELOCITY");
    assert_fires(ev(t, IP_LONDON, "u1", "", T0 + 29 * SEC_MS, PRE),
                 "IP_VELOCITY",
                 "30 attempts from 192.0.2.10 in 1 min "
                 "(limit 30)");
    /* two minutes later the short window is empty again */
    assert_quiet(ev(t, IP_LONDON, "u1", "", T0 + 3 * MIN_MS, PRE),
                 "IP_VELOCITY");
    tenv_free(t);
}

static void test_risk_evaluate_ip_failures(void **state) /* R-VEL-1 */
{
    struct tenv *t = started(NULL, NULL, false); /* 20 failures per hour */

    (void)state;
    for (int i = 0; i < 19; i++)
        assert_quiet(ev(t, IP_LONDON, "u1", "", T0 + i * 90 * SEC_MS, INVALID),
                     "IP_VELOCITY");
    assert_fires(ev(t, IP_LONDON, "u1", "", T0 + 19 * 90 * SEC_MS, INVALID),
                 "IP_VELOCITY", "20 failed logins from 192.0.2.10 in 1 h");
    tenv_free(t);
}

static void test_risk_evaluate_ip_distinct_accounts(void **state) /* R-VEL-2 */
{
    struct tenv *t = started(NULL, NULL, false); /* 10 per hour */
    char acct[16];

    (void)state;
    for (int i = 1; i <= 9; i++) {
        snprintf(acct, sizeof(acct), "acct-%d", i);
        assert_quiet(ev(t, IP_SAOPAULO, acct, "", T0 + i * 5 * SEC_MS, INVALID),
                     "IP_DISTINCT_ACCOUNTS");
    }
    ev(t, IP_SAOPAULO, "acct-10", "", T0 + 50 * SEC_MS, INVALID);
    assert_fires(&t->d, "IP_DISTINCT_ACCOUNTS",
                 "10 distinct accounts from 198.18.4.10 in 1 h (limit 10)");
    assert_true(t->d.action >= LR_ACTION_CAPTCHA); /* its minimum action */
    /* a fresh residential IP logging into its usual account is fine */
    learn(t, IP_LONDON, "alice", "dev-a", T0 + 51 * SEC_MS);
    tenv_free(t);
}

static void test_risk_evaluate_subnet(void **state) /* R-VEL-3 */
{
    /* 25 accounts per /24; exact counting up to 32 (estimates above) */
    struct tenv *t = started(NULL, "limits:\n  distinct_exact: 32\n", false);
    char ip[64], acct[16];

    (void)state;
    t->cfg->velocity.subnet_distinct_accounts = 25;
    tenv_reload(t);
    for (int i = 1; i <= 24; i++) {
        ipf(ip, sizeof(ip), "198.18.4.%d", i);
        snprintf(acct, sizeof(acct), "acct-%d", i);
        assert_quiet(ev(t, ip, acct, "", T0 + i * SEC_MS, INVALID),
                     "SUBNET_VELOCITY");
        assert_quiet(&t->d, "IP_DISTINCT_ACCOUNTS");
    }
    assert_fires(
        ev(t, "198.18.4.200", "acct-25", "", T0 + 25 * SEC_MS, INVALID),
        "SUBNET_VELOCITY",
        "25 distinct accounts from 198.18.4.0/24 in 1 h (limit 25)");
    /* the next /24 of the same /22 network is another subnet */
    assert_quiet(ev(t, "198.18.5.1", "acct-26", "", T0 + 26 * SEC_MS, INVALID),
                 "SUBNET_VELOCITY");
    tenv_free(t);
}

static void test_risk_evaluate_subnet_failures(void **state) /* R-VEL-3 */
{
    struct tenv *t = started(NULL, NULL, false);
    char ip[64];

    (void)state;
    t->cfg->velocity.subnet_failures = 5;
    tenv_reload(t);
    for (int i = 1; i <= 4; i++) {
        ipf(ip, sizeof(ip), "203.0.113.%d", i);
        assert_quiet(ev(t, ip, "u1", "", T0 + i * SEC_MS, INVALID),
                     "SUBNET_VELOCITY");
    }
    assert_fires(ev(t, "203.0.113.99", "u1", "", T0 + 5 * SEC_MS, INVALID),
                 "SUBNET_VELOCITY", "5 failed logins from 203.0.113.0/24");
    tenv_free(t);
}

static void test_risk_evaluate_subnet_ipv6(void **state) /* R-VEL-3 */
{
    struct tenv *t = started(NULL, NULL, false);
    char ip[64], acct[16];

    (void)state;
    t->cfg->velocity.subnet_distinct_accounts = 5;
    tenv_reload(t);
    /* one /64: 5 accounts */
    for (int i = 1; i <= 5; i++) {
        ipf(ip, sizeof(ip), "2001:db8:0:1::%x", i);
        snprintf(acct, sizeof(acct), "a-%d", i);
        ev(t, ip, acct, "", T0 + i * SEC_MS, PRE);
    }
    assert_fires(&t->d, "SUBNET_VELOCITY", "from 2001:db8:0:1::/64");
    /* five /64s in one /48, one account each */
    for (int i = 1; i <= 5; i++) {
        ipf(ip, sizeof(ip), "2001:db8:5:%x::1", 0x100 + i);
        snprintf(acct, sizeof(acct), "b-%d", i);
        ev(t, ip, acct, "", T0 + i * SEC_MS, PRE);
        if (i < 5)
            assert_quiet(&t->d, "SUBNET_VELOCITY");
    }
    assert_fires(&t->d, "SUBNET_VELOCITY", "from 2001:db8:5::/48");
    tenv_free(t);
}

static void test_risk_evaluate_asn(void **state) /* R-VEL-4 */
{
    struct tenv *t = started(NULL, NULL, false);
    char ip[64], acct[16];

    (void)state;
    t->cfg->velocity.asn_failures = 5;
    tenv_reload(t);
    for (int i = 1; i <= 5; i++) {
        ipf(ip, sizeof(ip), "198.18.%d.%d", i == 5 ? 7 : 4 + (i % 3), i);
        snprintf(acct, sizeof(acct), "a-%d", i);
        ev(t, ip, acct, "", T0 + i * SEC_MS, INVALID);
        if (i < 5)
            assert_quiet(&t->d, "ASN_VELOCITY");
    }
    assert_fires(&t->d, "ASN_VELOCITY",
                 "5 failed logins from AS64514 in 1 h (limit 5)");
    tenv_free(t);
}

static void test_risk_evaluate_account_failures(void **state) /* R-VEL-5 */
{
    struct tenv *t = started(NULL, NULL, false); /* 10 per hour */

    (void)state;
    for (int i = 0; i < 9; i++)
        assert_quiet(ev(t, IP_LONDON, "alice", "", T0 + i * MIN_MS, INVALID),
                     "ACCOUNT_FAILURES");
    assert_fires(ev(t, IP_LONDON, "alice", "", T0 + 9 * MIN_MS, INVALID),
                 "ACCOUNT_FAILURES",
                 "10 failed logins for this account in 1 h (limit 10)");
    assert_true(t->d.action >= LR_ACTION_CAPTCHA);
    /* an hour and more later the failures have slid out */
    assert_quiet(ev(t, IP_LONDON, "alice", "", T0 + 75 * MIN_MS, INVALID),
                 "ACCOUNT_FAILURES");
    tenv_free(t);
}

static void test_risk_evaluate_account_distinct_ips(void **state) /* R-VEL-6 */
{
    struct tenv *t = started(NULL, NULL, false); /* 10 per day */
    char ip[64];

    (void)state;
    for (int i = 1; i <= 9; i++) {
        ipf(ip, sizeof(ip), "192.0.2.%d", i);
        assert_quiet(ev(t, ip, "alice", "", T0 + i * HOUR_MS, PRE),
                     "ACCOUNT_DISTINCT_IPS");
    }
    assert_fires(ev(t, "192.0.2.10", "alice", "", T0 + 10 * HOUR_MS, PRE),
                 "ACCOUNT_DISTINCT_IPS",
                 "10 distinct IPs for this account in 1 d (limit 10)");
    tenv_free(t);
}

static void wave_minute(struct tenv *t, int minute, int failures)
{
    char acct[16];

    for (int i = 0; i < failures; i++) {
        snprintf(acct, sizeof(acct), "w-%d", i);
        ev(t, IP_SAOPAULO, acct, "", T0 + minute * MIN_MS + i * 100, INVALID);
    }
}

static void test_risk_evaluate_attack_wave(void **state) /* R-VEL-7 */
{
    struct tenv *t = started(NULL, NULL, false);
    struct tenv *cold = started(NULL, NULL, false);

    (void)state;
    t->cfg->velocity.attack_wave_min_failures = 20;
    tenv_reload(t);
    cold->cfg->velocity.attack_wave_min_failures = 20;
    tenv_reload(cold);
    /* not before a baseline exists: 30 failures in the first minute */
    wave_minute(cold, 0, 30);
    assert_quiet(&cold->d, "ATTACK_WAVE");
    /* ten quiet minutes of 4 failures make a baseline of 4 */
    for (int m = 0; m < 10; m++)
        wave_minute(t, m, 4);
    /* the next minute: 19 failures stay below 5 x 4 = 20 */
    wave_minute(t, 10, 19);
    assert_quiet(&t->d, "ATTACK_WAVE");
    ev(t, IP_SAOPAULO, "w-x", "", T0 + 10 * MIN_MS + 30 * SEC_MS, INVALID);
    assert_fires(&t->d, "ATTACK_WAVE", "20 failed logins in 1 min");
    /* a success during the wave is told too, but it adds little */
    ev(t, IP_LONDON, "alice", "", T0 + 10 * MIN_MS + 31 * SEC_MS, VALID);
    assert_fires(&t->d, "ATTACK_WAVE", NULL);
    assert_int_equal(t->d.action, LR_ACTION_ALLOW);
    tenv_free(cold);
    tenv_free(t);
}

/* ---- password spray: R-SPRAY-1, R-SPRAY-2 ------------------------------- */

static const uint8_t fp_a[RISK_FP_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
                                          0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac,
                                          0xad, 0xae, 0xaf, 0xa0};
static const uint8_t fp_b[RISK_FP_LEN] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
                                          0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc,
                                          0xbd, 0xbe, 0xbf, 0xb0};

/* One password over 10 accounts from 10 IPs in 10 /24s (limit 10). */
static void spray(struct tenv *t)
{
    char ip[64], acct[16];

    for (int i = 1; i <= 10; i++) {
        ipf(ip, sizeof(ip), "10.0.%d.1", i);
        snprintf(acct, sizeof(acct), "s-%d", i);
        ev_fp(t, ip, acct, i == 3 ? "sprayer" : "", T0 + i * MIN_MS, INVALID,
              fp_a);
        if (i < 10)
            assert_quiet(&t->d, "PASSWORD_SPRAY");
    }
}

static void test_risk_evaluate_spray_fingerprint(void **state) /* R-SPRAY-1 */
{
    struct tenv *t = started(NULL, NULL, false);
    struct risk_stats s;

    (void)state;
    spray(t);
    assert_fires(&t->d, "PASSWORD_SPRAY",
                 "this password was tried on 10 accounts in 1 d (limit 10)");
    assert_true(t->d.action >= LR_ACTION_CAPTCHA);
    /* every source that used it is marked, the first ones too */
    assert_fires(ev_fp(t, "10.0.1.1", "x", "", T0 + HOUR_MS, INVALID, fp_b),
                 "PASSWORD_SPRAY", "IP 10.0.1.1 used a sprayed password");
    assert_fires(ev(t, "10.0.2.77", "x", "", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY", "network 10.0.2.0/24 used a sprayed");
    assert_fires(ev(t, "10.9.9.9", "x", "sprayer", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY", "device used a sprayed password");
    assert_quiet(ev(t, "10.0.50.1", "x", "", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY");
    /* the marks expire with the window */
    assert_quiet(ev(t, "10.0.1.1", "x", "", T0 + 26 * HOUR_MS, PRE),
                 "PASSWORD_SPRAY");
    risk_engine_stats(t->e, &s);
    assert_int_equal(s.spray_done, 11);
    tenv_free(t);
}

static void
test_risk_evaluate_spray_repeated_account(void **state) /* R-SPRAY-1 */
{
    struct tenv *t = started(NULL, NULL, false);

    (void)state;
    /* one account typing the same wrong password many times is no spray */
    for (int i = 0; i < 30; i++)
        assert_quiet(
            ev_fp(t, IP_LONDON, "alice", "", T0 + i * MIN_MS, INVALID, fp_a),
            "PASSWORD_SPRAY");
    /* spray detection off: nothing is counted */
    t->cfg->spray.enabled = false;
    tenv_reload(t);
    spray(t);
    assert_quiet(&t->d, "PASSWORD_SPRAY");
    tenv_free(t);
}

static void test_risk_evaluate_spray_success_locks(void **state) /* R-SPRAY-2 */
{
    struct tenv *t = started(NULL, NULL, true);
    struct store_profile sp;
    struct store_lock l;
    struct risk_stats s;

    (void)state;
    learn(t, IP_LONDON, "victim", "dev-v", T0 - HOUR_MS);
    spray(t);
    ev(t, "10.0.4.1", "victim", "", T0 + HOUR_MS, VALID);
    assert_fires(&t->d, "PASSWORD_SPRAY", NULL);
    assert_fires(&t->d, "ACCOUNT_LOCKED", "auto:PASSWORD_SPRAY");
    assert_int_equal(t->d.action, LR_ACTION_LOCK);
    assert_int_equal(store_lock_get(t->store, "victim", T0 + HOUR_MS, &l),
                     LR_OK);
    assert_int_equal(l.scope, STORE_SCOPE_UNFAMILIAR);
    assert_string_equal(l.source, "auto:PASSWORD_SPRAY");
    /* the owner's known device still gets a 2FA challenge */
    ev(t, IP_LONDON, "victim", "dev-v", T0 + 2 * HOUR_MS, VALID);
    assert_int_equal(t->d.action, LR_ACTION_CHALLENGE_2FA);
    assert_fires(&t->d, "ACCOUNT_LOCKED", "known device gets 2FA");
    assert_int_equal(store_flush(t->store), LR_OK);
    assert_int_equal(store_profile_load(t->store, "victim", &sp), LR_OK);
    assert_true(sp.flagged_spray);
    risk_engine_stats(t->e, &s);
    assert_int_equal(s.auto_locks, 1);
    tenv_free(t);
}

static void
test_risk_evaluate_spray_success_no_lock(void **state) /* R-SPRAY-2 */
{
    struct tenv *t =
        started(NULL, "locks:\n  lock_on_spray_success: false\n", true);
    struct store_profile sp;
    struct store_lock l;

    (void)state;
    spray(t);
    ev(t, "10.0.4.1", "victim", "", T0 + HOUR_MS, VALID);
    assert_fires(&t->d, "PASSWORD_SPRAY", NULL);
    assert_quiet(&t->d, "ACCOUNT_LOCKED");
    assert_int_equal(store_lock_get(t->store, "victim", T0 + HOUR_MS, &l),
                     LR_NOTFOUND);
    assert_int_equal(store_flush(t->store), LR_OK);
    assert_int_equal(store_profile_load(t->store, "victim", &sp), LR_OK);
    assert_true(sp.flagged_spray);
    tenv_free(t);
}

/*
 * The agent's path: the attempt is evaluated without its fingerprint, which
 * the spray pool hands in afterwards with risk_note_fingerprint().
 */
static int note_fp(struct tenv *t, const char *ip, const char *account,
                   const char *device, int64_t ts, const uint8_t *fp)
{
    struct risk_attempt a = {0};

    ev(t, ip, account, device, ts, INVALID);
    a.request_id = last_id(t);
    a.account_id = account;
    a.ip = tip(ip);
    a.device_id = device;
    a.timestamp_ms = ts;
    a.credential = INVALID;
    return risk_note_fingerprint(t->e, &a, fp);
}

/* spray() through note_fp(): the answers never see their own fingerprint. */
static void spray_late(struct tenv *t, int from, int to)
{
    char ip[64], acct[16];

    for (int i = from; i <= to; i++) {
        ipf(ip, sizeof(ip), "10.0.%d.1", i);
        snprintf(acct, sizeof(acct), "s-%d", i);
        assert_int_equal(note_fp(t, ip, acct, i == 3 ? "sprayer" : "",
                                 T0 + i * MIN_MS, fp_a),
                         LR_OK);
        assert_quiet(&t->d, "PASSWORD_SPRAY");
    }
}

static void
test_risk_note_fingerprint_marks_sources(void **state) /* R-SPRAY-1 */
{
    struct tenv *t = started(NULL, NULL, false);
    struct risk_stats s;

    (void)state;
    spray_late(t, 1, 10);
    risk_engine_stats(t->e, &s);
    assert_int_equal(s.spray_done, 10);
    assert_int_equal(s.evaluations, 10);
    /* the 10th made it sprayed: every source that used it is marked */
    assert_fires(ev(t, "10.0.1.1", "x", "", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY", "IP 10.0.1.1 used a sprayed password");
    assert_fires(ev(t, "10.0.10.1", "x", "", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY", "IP 10.0.10.1 used a sprayed password");
    assert_fires(ev(t, "10.0.2.77", "x", "", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY", "network 10.0.2.0/24 used a sprayed");
    assert_quiet(ev(t, "10.0.50.1", "x", "", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY");
    assert_fires(ev(t, "10.9.9.10", "x", "sprayer", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY", "device used a sprayed password");
    /* a source that uses it once it is sprayed is marked when noted */
    assert_int_equal(note_fp(t, "10.0.60.1", "late", "", T0 + HOUR_MS, fp_a),
                     LR_OK);
    assert_quiet(&t->d, "PASSWORD_SPRAY");
    assert_fires(ev(t, "10.0.60.1", "x", "", T0 + HOUR_MS + 1, PRE),
                 "PASSWORD_SPRAY", "IP 10.0.60.1 used a sprayed password");
    /* another password from a fresh source is no spray */
    assert_int_equal(note_fp(t, "10.0.70.1", "other", "", T0 + HOUR_MS, fp_b),
                     LR_OK);
    assert_quiet(ev(t, "10.0.70.1", "x", "", T0 + HOUR_MS + 1, PRE),
                 "PASSWORD_SPRAY");
    risk_engine_stats(t->e, &s);
    assert_int_equal(s.spray_done, 12);
    /* the marks expire with the window */
    assert_quiet(ev(t, "10.0.1.1", "x", "", T0 + 26 * HOUR_MS, PRE),
                 "PASSWORD_SPRAY");
    tenv_free(t);
}

/* Counted the same whether a fingerprint came with its evaluation or later. */
static void test_risk_note_fingerprint_mixes_with_evaluate(void **state)
{
    struct tenv *t = started(NULL, NULL, false);
    char ip[64], acct[16];

    (void)state;
    spray_late(t, 1, 5);
    for (int i = 6; i <= 10; i++) {
        ipf(ip, sizeof(ip), "10.0.%d.1", i);
        snprintf(acct, sizeof(acct), "s-%d", i);
        ev_fp(t, ip, acct, "", T0 + i * MIN_MS, INVALID, fp_a);
    }
    /* the in-process path still fires on the attempt's own fingerprint */
    assert_fires(&t->d, "PASSWORD_SPRAY",
                 "this password was tried on 10 accounts in 1 d (limit 10)");
    assert_fires(ev(t, "10.0.1.1", "x", "", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY", "IP 10.0.1.1 used a sprayed password");
    /* one account noting the same password again and again is no spray */
    for (int i = 0; i < 30; i++)
        assert_int_equal(
            note_fp(t, IP_LONDON, "alice", "", T0 + i * MIN_MS, fp_b), LR_OK);
    assert_quiet(ev(t, IP_LONDON, "bob", "", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY");
    tenv_free(t);
}

static void
test_risk_note_fingerprint_spray_success_locks(void **state) /* R-SPRAY-2 */
{
    struct tenv *t = started(NULL, NULL, true);
    struct store_lock l;

    (void)state;
    spray_late(t, 1, 10);
    ev(t, "10.0.4.1", "victim", "", T0 + HOUR_MS, VALID);
    assert_fires(&t->d, "PASSWORD_SPRAY", NULL);
    assert_fires(&t->d, "ACCOUNT_LOCKED", "auto:PASSWORD_SPRAY");
    assert_int_equal(t->d.action, LR_ACTION_LOCK);
    assert_int_equal(store_lock_get(t->store, "victim", T0 + HOUR_MS, &l),
                     LR_OK);
    tenv_free(t);
}

static void test_risk_note_fingerprint_off_and_bad_args(void **state)
{
    struct tenv *t = started(NULL, NULL, false);
    struct risk_attempt a = {0};
    struct risk_stats s;

    (void)state;
    a.request_id = "r-1";
    a.account_id = "alice";
    a.ip = tip(IP_LONDON);
    a.timestamp_ms = T0;
    a.credential = INVALID;
    assert_int_equal(risk_note_fingerprint(NULL, &a, fp_a), LR_INVALID);
    assert_int_equal(risk_note_fingerprint(t->e, NULL, fp_a), LR_INVALID);
    assert_int_equal(risk_note_fingerprint(t->e, &a, NULL), LR_INVALID);
    a.account_id = "";
    assert_int_equal(risk_note_fingerprint(t->e, &a, fp_a), LR_INVALID);
    a.account_id = "alice";
    a.timestamp_ms = 0;
    assert_int_equal(risk_note_fingerprint(t->e, &a, fp_a), LR_INVALID);
    a.timestamp_ms = T0;
    a.ip.family = 0;
    assert_int_equal(risk_note_fingerprint(t->e, &a, fp_a), LR_INVALID);
    risk_engine_stats(t->e, &s);
    assert_int_equal(s.spray_done, 0);
    /* spray detection off: noted fingerprints count nothing */
    t->cfg->spray.enabled = false;
    tenv_reload(t);
    spray_late(t, 1, 10);
    risk_engine_stats(t->e, &s);
    assert_int_equal(s.spray_done, 0);
    t->cfg->spray.enabled = true;
    tenv_reload(t);
    assert_quiet(ev(t, "10.0.1.1", "x", "", T0 + HOUR_MS, PRE),
                 "PASSWORD_SPRAY");
    tenv_free(t);
}

/* ---- locks: R-STATE-1, R-STATE-2 ---------------------------------------- */

static void lock(struct tenv *t, const char *account,
                 enum store_lock_scope scope)
{
    struct store_actor who = {.actor = "oncall",
                              .reason = "stolen credentials",
                              .ticket = "INC-1",
                              .now_ms = T0};
    struct store_bulk_result res;

    assert_int_equal(
        store_lock_accounts(t->store, &account, 1, 0, scope, &who, false, &res),
        LR_OK);
    assert_int_equal(res.changed, 1);
}

static void test_risk_evaluate_lock_scope_all(void **state) /* R-STATE-1 */
{
    struct tenv *t =
        started("  allowlist:\n    accounts: [alice]\n", NULL, true);
    struct store_actor who = {
        .actor = "oncall", .reason = "ok", .ticket = "INC-2", .now_ms = T0};
    struct store_bulk_result res;
    const char *acct = "alice";

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0 - HOUR_MS);
    lock(t, "alice", STORE_SCOPE_ALL);
    ev(t, IP_LONDON, "alice", "dev-a", T0 + MIN_MS, VALID);
    assert_int_equal(t->d.action, LR_ACTION_LOCK);
    assert_fires(&t->d, "ACCOUNT_LOCKED",
                 "locked by oncall: stolen credentials");
    assert_int_equal(reason(&t->d, "ACCOUNT_LOCKED")->points, 100);
    /* allowlisted, but a locked account stays locked */
    assert_fires(&t->d, "ALLOWLISTED", "the lock still applies");
    assert_int_equal(
        store_unlock_accounts(t->store, &acct, 1, &who, false, &res), LR_OK);
    ev(t, IP_LONDON, "alice", "dev-a", T0 + 2 * MIN_MS, VALID);
    assert_int_equal(t->d.action, LR_ACTION_ALLOW);
    assert_quiet(&t->d, "ACCOUNT_LOCKED");
    tenv_free(t);
}

static void
test_risk_evaluate_lock_scope_unfamiliar(void **state) /* R-STATE-1 */
{
    struct tenv *t = started(NULL, NULL, true);

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0 - HOUR_MS);
    lock(t, "alice", STORE_SCOPE_UNFAMILIAR);
    ev(t, IP_LONDON, "alice", "dev-a", T0 + MIN_MS, VALID);
    assert_int_equal(t->d.action, LR_ACTION_CHALLENGE_2FA);
    assert_int_equal(reason(&t->d, "ACCOUNT_LOCKED")->points, 0);
    ev(t, IP_LONDON, "alice", "dev-b", T0 + MIN_MS, VALID);
    assert_int_equal(t->d.action, LR_ACTION_LOCK);
    assert_fires(&t->d, "ACCOUNT_LOCKED", "(unfamiliar contexts)");
    ev(t, IP_LONDON, "alice", "", T0 + MIN_MS, VALID);
    assert_int_equal(t->d.action, LR_ACTION_LOCK);
    tenv_free(t);
}

static void test_risk_evaluate_profile_survives_restart(void **state)
{
    struct tenv *t = started(NULL, NULL, true);

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    assert_int_equal(store_flush(t->store), LR_OK);
    risk_engine_free(t->e);
    t->e = NULL;
    tenv_start(t);
    /* known device and last place came back from the store */
    ev(t, IP_LONDON, "alice", "dev-a", T0 + HOUR_MS, VALID);
    assert_int_equal(t->d.n_reasons, 0);
    ev(t, IP_NEWYORK, "alice", "dev-a", T0 + HOUR_MS, INVALID);
    assert_fires(&t->d, "IMPOSSIBLE_TRAVEL", "from London, GB");
    tenv_free(t);
}

/* A profile learned after the start, pushed out of a small cache, comes back
 * from the store: the existence filter learned of it when it was saved. */
static void test_risk_evaluate_profile_evicted_then_reloaded(void **state)
{
    struct tenv *t = started(NULL, "limits:\n  profile_cache: 4\n", true);
    char acct[32];

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    assert_int_equal(store_flush(t->store), LR_OK);
    for (int i = 0; i < 20; i++) {
        snprintf(acct, sizeof(acct), "other-%d", i);
        ev(t, IP_PARIS, acct, "", T0 + SEC_MS, INVALID);
    }
    ev(t, IP_TOKYO, "alice", "dev-a", T0 + HOUR_MS, INVALID);
    assert_fires(&t->d, "IMPOSSIBLE_TRAVEL", "from London, GB");
    tenv_free(t);
}

/* ---- outcomes: R-OUT-1 -----------------------------------------------------
 */

static int outcome(struct tenv *t, const char *id, const char *account,
                   enum lr_outcome kind, bool *applied)
{
    /* 0: at the decision's own time */
    return risk_report_outcome(t->e, id, account, kind, 0, applied);
}

static void test_risk_report_outcome_errors(void **state)
{
    struct tenv *t = started(NULL, NULL, false);
    char id[RISK_REQUEST_ID_MAX];
    bool applied = true;

    (void)state;
    ev(t, IP_LONDON, "alice", "dev-a", T0, VALID);
    lr_strlcpy(id, last_id(t), sizeof(id));
    assert_int_equal(
        outcome(t, "nope", "alice", LR_OUTCOME_CHALLENGE_PASSED, &applied),
        LR_NOTFOUND);
    assert_int_equal(
        outcome(t, id, "mallory", LR_OUTCOME_CHALLENGE_PASSED, &applied),
        LR_INVALID);
    assert_int_equal(outcome(t, id, "alice", LR_OUTCOME_UNSPECIFIED, &applied),
                     LR_INVALID);
    assert_int_equal(outcome(t, id, "alice", (enum lr_outcome)7, &applied),
                     LR_INVALID);
    assert_int_equal(outcome(t, id, "alice", LR_OUTCOME_CHALLENGE_PASSED, NULL),
                     LR_INVALID);
    assert_int_equal(risk_report_outcome(NULL, id, "alice",
                                         LR_OUTCOME_CHALLENGE_PASSED, 0,
                                         &applied),
                     LR_INVALID);
    assert_true(applied); /* untouched on error */
    tenv_free(t);
}

static void test_risk_report_outcome_challenge_passed(void **state)
{
    struct tenv *t = started(NULL, NULL, false);
    char id[RISK_REQUEST_ID_MAX];
    bool applied = false;

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    for (int i = 0; i < 9; i++)
        ev(t, IP_LONDON, "alice", "dev-a", T0 + HOUR_MS + i * SEC_MS, INVALID);
    /* new device, new country: challenged, so not learned yet */
    ev(t, IP_NEWYORK, "alice", "dev-b", T0 + 48 * HOUR_MS, VALID);
    assert_int_equal(t->d.action, LR_ACTION_CAPTCHA);
    lr_strlcpy(id, last_id(t), sizeof(id));
    assert_fires(
        ev(t, IP_NEWYORK, "alice", "dev-b", T0 + 48 * HOUR_MS, INVALID),
        "NEW_DEVICE", NULL);
    assert_int_equal(
        outcome(t, id, "alice", LR_OUTCOME_CHALLENGE_PASSED, &applied), LR_OK);
    assert_true(applied);
    /* a resend changes nothing */
    assert_int_equal(
        outcome(t, id, "alice", LR_OUTCOME_CHALLENGE_PASSED, &applied), LR_OK);
    assert_false(applied);
    ev(t, IP_NEWYORK, "alice", "dev-b", T0 + 49 * HOUR_MS, VALID);
    assert_quiet(&t->d, "NEW_DEVICE");
    assert_quiet(&t->d, "NEW_COUNTRY");
    assert_int_equal(t->d.action, LR_ACTION_ALLOW);
    tenv_free(t);
}

static void test_risk_report_outcome_clears_failures(void **state)
{
    struct tenv *t = started(NULL, NULL, false);
    char id[RISK_REQUEST_ID_MAX];
    bool applied;

    (void)state;
    for (int i = 0; i < 10; i++)
        ev(t, IP_LONDON, "alice", "", T0 + i * SEC_MS, INVALID);
    assert_fires(&t->d, "ACCOUNT_FAILURES", NULL);
    ev(t, IP_LONDON, "alice", "dev-a", T0 + MIN_MS, VALID);
    lr_strlcpy(id, last_id(t), sizeof(id));
    assert_int_equal(
        outcome(t, id, "alice", LR_OUTCOME_CONFIRMED_LEGITIMATE, &applied),
        LR_OK);
    assert_quiet(ev(t, IP_LONDON, "alice", "dev-a", T0 + 2 * MIN_MS, INVALID),
                 "ACCOUNT_FAILURES");
    tenv_free(t);
}

static uint64_t counter(struct tenv *t, const char *account, const char *name,
                        int64_t now)
{
    struct risk_counter c[16];
    size_t n = 0;

    risk_account_counters(t->e, account, now, c, 16, &n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(c[i].name, name) == 0)
            return c[i].value;
    }
    fail_msg("no counter %s", name);
    return 0;
}

static void test_risk_report_outcome_failed_counts(void **state)
{
    struct tenv *t = started(NULL, NULL, false);
    char id[RISK_REQUEST_ID_MAX];
    bool applied;

    (void)state;
    ev(t, IP_LONDON, "alice", "dev-a", T0, VALID);
    lr_strlcpy(id, last_id(t), sizeof(id));
    assert_int_equal(counter(t, "alice", "account.failures.3600s", T0), 0);
    assert_int_equal(
        outcome(t, id, "alice", LR_OUTCOME_CHALLENGE_FAILED, &applied), LR_OK);
    assert_int_equal(
        outcome(t, id, "alice", LR_OUTCOME_CAPTCHA_FAILED, &applied), LR_OK);
    assert_int_equal(counter(t, "alice", "account.failures.3600s", T0), 2);
    tenv_free(t);
}

static void test_risk_report_outcome_captcha_passed(void **state)
{
    struct tenv *t = started(NULL, NULL, false);
    char bad[RISK_REQUEST_ID_MAX], good[RISK_REQUEST_ID_MAX];
    bool applied;

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    ev(t, IP_LONDON, "alice", "dev-b", T0 + HOUR_MS, INVALID);
    lr_strlcpy(bad, last_id(t), sizeof(bad));
    t->cfg->signals[LR_SIG_NEW_DEVICE].min_action = LR_ACTION_CAPTCHA;
    tenv_reload(t);
    ev(t, IP_LONDON, "alice", "dev-c", T0 + HOUR_MS, VALID);
    assert_int_equal(t->d.action, LR_ACTION_CAPTCHA);
    lr_strlcpy(good, last_id(t), sizeof(good));
    /* a captcha on a wrong password teaches nothing */
    assert_int_equal(
        outcome(t, bad, "alice", LR_OUTCOME_CAPTCHA_PASSED, &applied), LR_OK);
    assert_fires(ev(t, IP_LONDON, "alice", "dev-b", T0 + 2 * HOUR_MS, INVALID),
                 "NEW_DEVICE", NULL);
    /* on a valid one the device becomes familiar */
    assert_int_equal(
        outcome(t, good, "alice", LR_OUTCOME_CAPTCHA_PASSED, &applied), LR_OK);
    assert_quiet(ev(t, IP_LONDON, "alice", "dev-c", T0 + 2 * HOUR_MS, INVALID),
                 "NEW_DEVICE");
    tenv_free(t);
}

static void test_risk_report_outcome_fraud(void **state)
{
    struct tenv *t = started(NULL, NULL, true);
    char id[RISK_REQUEST_ID_MAX];
    struct store_lock l;
    bool applied;

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-f", T0);
    ev(t, IP_LAGOS, "alice", "dev-f", T0 + 30 * HOUR_MS, VALID);
    lr_strlcpy(id, last_id(t), sizeof(id));
    assert_int_equal(
        outcome(t, id, "alice", LR_OUTCOME_CONFIRMED_FRAUD, &applied), LR_OK);
    assert_true(applied);
    assert_int_equal(store_lock_get(t->store, "alice", T0 + 31 * HOUR_MS, &l),
                     LR_OK);
    assert_string_equal(l.source, "auto:CONFIRMED_FRAUD");
    assert_string_equal(l.reason, "confirmed fraud");
    assert_int_equal(l.scope, STORE_SCOPE_UNFAMILIAR);
    /* the IP and the device are marked (R-STATE-3, R-STATE-4) */
    ev(t, IP_LAGOS, "bob", "", T0 + 31 * HOUR_MS, PRE);
    assert_fires(&t->d, "FRAUD_IP", "198.18.8.10 was used in confirmed fraud");
    assert_true(t->d.action >= LR_ACTION_CHALLENGE_2FA);
    ev(t, IP_LONDON, "carol", "dev-f", T0 + 31 * HOUR_MS, PRE);
    assert_fires(&t->d, "FRAUD_DEVICE", NULL);
    assert_quiet(&t->d, "FRAUD_IP");
    /* the device is no longer alice's known device: the scoped lock holds */
    ev(t, IP_LONDON, "alice", "dev-f", T0 + 31 * HOUR_MS, VALID);
    assert_int_equal(t->d.action, LR_ACTION_LOCK);
    tenv_free(t);
}

static void test_risk_report_outcome_evicted(void **state)
{
    struct tenv *t = started(NULL, "limits:\n  recent_decisions: 2\n", false);
    char first[RISK_REQUEST_ID_MAX];
    bool applied;

    (void)state;
    ev(t, IP_LONDON, "alice", "", T0, VALID);
    lr_strlcpy(first, last_id(t), sizeof(first));
    ev(t, IP_LONDON, "alice", "", T0, VALID);
    ev(t, IP_LONDON, "alice", "", T0, VALID);
    assert_int_equal(
        outcome(t, first, "alice", LR_OUTCOME_CAPTCHA_PASSED, &applied),
        LR_NOTFOUND);
    assert_int_equal(
        outcome(t, last_id(t), "alice", LR_OUTCOME_CAPTCHA_PASSED, &applied),
        LR_OK);
    tenv_free(t);
}

/* ---- anti-DoS: R-DOS-1, R-DOS-2 --------------------------------------------
 */

/*
 * 1,000 bad passwords against one account, from 1,000 IPs in four /24s and
 * from one IP, with a lock threshold low enough that the summed score would
 * reach it: never ACTION_LOCK, and the owner's known device still gets in
 * with at most a captcha (at most 2FA from a new device).
 */
static void test_risk_evaluate_dos_failures_never_lock(void **state)
{
    struct tenv *t = started(NULL, NULL, false);
    char ip[64];
    int max = 0;

    (void)state;
    t->cfg->threshold_lock = 50;
    tenv_reload(t);
    learn(t, IP_LONDON, "alice", "dev-a", T0 - HOUR_MS);
    for (int i = 0; i < 1000; i++) {
        ipf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250 + 1);
        ev(t, i % 2 ? ip : "10.2.0.1", "alice", "attacker", T0 + i * 100,
           INVALID);
        assert_int_not_equal(t->d.action, LR_ACTION_LOCK);
        if (t->d.score > max)
            max = t->d.score;
    }
    assert_true(max >= 50); /* the sum did cross the lock threshold */
    assert_fires(&t->d, "ACCOUNT_FAILURES", NULL);
    /* the owner, on the known device */
    ev(t, IP_LONDON, "alice", "dev-a", T0 + 101 * SEC_MS, VALID);
    assert_fires(&t->d, "ACCOUNT_FAILURES", "known device: captcha at most");
    assert_fires(&t->d, "ACCOUNT_DISTINCT_IPS", NULL);
    assert_true(t->d.action <= LR_ACTION_CAPTCHA);
    /* the owner on a new device: at most 2FA */
    ev(t, IP_LONDON, "alice", "dev-new", T0 + 102 * SEC_MS, VALID);
    assert_true(t->d.action <= LR_ACTION_CHALLENGE_2FA);
    tenv_free(t);
}

static void test_risk_evaluate_dos_rules_and_min_actions_capped(void **state)
{
    struct tenv *t = started("  rules:\n"
                             "    - name: failures-lock\n"
                             "      match: {signals: [ACCOUNT_FAILURES]}\n"
                             "      min_action: lock\n",
                             NULL, false);

    (void)state;
    t->cfg->signals[LR_SIG_IP_VELOCITY].min_action = LR_ACTION_LOCK;
    tenv_reload(t);
    learn(t, IP_LONDON, "alice", "dev-a", T0 - HOUR_MS);
    for (int i = 0; i < 40; i++)
        ev(t, IP_SAOPAULO, "alice", "x", T0 + i * SEC_MS, INVALID);
    assert_fires(&t->d, "RULE:failures-lock", NULL);
    assert_fires(&t->d, "IP_VELOCITY", NULL);
    assert_int_equal(t->d.action, LR_ACTION_CHALLENGE_2FA);
    ev(t, IP_LONDON, "alice", "dev-a", T0 + MIN_MS, VALID);
    assert_fires(&t->d, "RULE:failures-lock", NULL);
    assert_int_equal(t->d.action, LR_ACTION_CAPTCHA);
    tenv_free(t);
}

/* ---- bounded tables -------------------------------------------------------
 */

static void test_risk_evaluate_tables_bounded_under_flood(void **state)
{
    struct tenv *t = started(NULL,
                             "limits:\n"
                             "  ip_entries: 64\n"
                             "  subnet_entries: 64\n"
                             "  asn_entries: 16\n"
                             "  account_entries: 64\n"
                             "  device_entries: 64\n"
                             "  spray_entries: 64\n"
                             "  profile_cache: 32\n"
                             "  recent_decisions: 50\n",
                             false);
    char ip[64], acct[32], dev[32];
    uint8_t fp[RISK_FP_LEN] = {0};
    struct risk_stats s;
    bool applied;

    (void)state;
    for (int i = 0; i < 5000; i++) {
        ipf(ip, sizeof(ip), "2001:db9:%x::%x", i, i + 1);
        snprintf(acct, sizeof(acct), "flood-%d", i);
        snprintf(dev, sizeof(dev), "dev-%d", i);
        memcpy(fp, &i, sizeof(i));
        ev_fp(t, ip, acct, dev, T0 + i, i % 2 ? VALID : INVALID, fp);
    }
    risk_engine_stats(t->e, &s);
    /* ip, net (/64 and /48), asn, account, device, global, spray, spray
     * sources, fraud marks */
    assert_true(s.table_entries <= 64 + 64 + 16 + 64 + 64 + 1 + 64 + 64 + 64);
    assert_true(s.evictions > 4 * 4000);
    assert_true(s.profile_entries <= 32);
    assert_int_equal(s.recent_entries, 50);
    assert_int_equal(s.evaluations, 5000);
    assert_int_equal(risk_report_outcome(t->e, "req-1", "flood-0",
                                         LR_OUTCOME_CAPTCHA_FAILED, T0,
                                         &applied),
                     LR_NOTFOUND);
    assert_int_equal(risk_report_outcome(t->e, "req-5000", "flood-4999",
                                         LR_OUTCOME_CAPTCHA_PASSED, T0,
                                         &applied),
                     LR_OK);
    tenv_free(t);
}

static void test_risk_evaluate_long_ids(void **state)
{
    struct tenv *t = started(NULL, NULL, true);
    char acct[STORE_ID_MAX], dev[STORE_ID_MAX];
    bool applied;

    (void)state;
    memset(acct, 'a', sizeof(acct) - 1);
    acct[sizeof(acct) - 1] = '\0';
    memset(dev, 'd', sizeof(dev) - 1);
    dev[sizeof(dev) - 1] = '\0';
    learn(t, IP_LONDON, acct, dev, T0);
    assert_int_equal(t->d.n_reasons, 0);
    ev(t, IP_LONDON, acct, dev, T0 + MIN_MS, VALID);
    assert_quiet(&t->d, "NEW_DEVICE");
    assert_int_equal(risk_report_outcome(t->e, last_id(t), acct,
                                         LR_OUTCOME_CONFIRMED_LEGITIMATE, 0,
                                         &applied),
                     LR_OK);
    acct[100] = 'b';
    assert_int_equal(risk_report_outcome(t->e, last_id(t), acct,
                                         LR_OUTCOME_CHALLENGE_PASSED, 0,
                                         &applied),
                     LR_INVALID);
    tenv_free(t);
}

/* ---- history and counters --------------------------------------------------
 */

struct hist {
    int n;
    struct store_login last;
};

static void on_login(const struct store_login *l, void *arg)
{
    struct hist *h = arg;

    if (h->n++ == 0)
        h->last = *l;
}

static void test_risk_evaluate_history(void **state)
{
    struct tenv *t = started(NULL, NULL, true);
    struct hist h = {0};

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    ev(t, IP_BERLIN, "alice", "dev-a", T0 + 48 * HOUR_MS, INVALID);
    assert_int_equal(store_flush(t->store), LR_OK);
    assert_int_equal(store_history_recent(t->store, "alice", 10, on_login, &h),
                     LR_OK);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.last.country, "DE");
    assert_int_equal(h.last.asn, 64513);
    assert_int_equal(h.last.action, LR_ACTION_CAPTCHA);
    assert_int_equal(h.last.credential, LR_CRED_INVALID);
    assert_string_equal(h.last.device_id, "dev-a");
    assert_true(h.last.n_reasons >= 1);
    assert_string_equal(h.last.reasons[0], "NEW_COUNTRY");
    tenv_free(t);
}

static void test_risk_account_counters_values(void **state)
{
    struct tenv *t = started(NULL, NULL, false);
    struct risk_counter c[2];
    size_t n = 99;

    (void)state;
    for (int i = 0; i < 3; i++)
        ev(t, IP_LONDON, "alice", "", T0 + i * SEC_MS, INVALID);
    ev(t, IP_PARIS, "alice", "", T0 + 3 * SEC_MS, VALID);
    assert_int_equal(counter(t, "alice", "account.attempts.60s", T0 + 5000), 4);
    assert_int_equal(counter(t, "alice", "account.failures.3600s", T0 + 5000),
                     3);
    assert_int_equal(
        counter(t, "alice", "account.distinct_ips.86400s", T0 + 5000), 2);
    assert_int_equal(counter(t, "nobody", "account.attempts.60s", T0), 0);
    risk_account_counters(t->e, "alice", T0, c, 2, &n);
    assert_int_equal(n, 2);
    tenv_free(t);
}

/* ---- threads
 * ------------------------------------------------------------------ */

struct worker {
    struct tenv *t;
    int id;
    int errors;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct risk_decision d;
    char rid[32], acct[32], ipt[64];
    bool applied;

    for (int i = 0; i < 2000; i++) {
        struct risk_attempt a = {0};

        snprintf(rid, sizeof(rid), "w%d-%d", w->id, i);
        snprintf(acct, sizeof(acct), "acct-%d", i % 50);
        ipf(ipt, sizeof(ipt), "192.0.2.%d", i % 200 + 1);
        a.request_id = rid;
        a.account_id = acct;
        a.ip = tip(ipt);
        a.device_id = w->id % 2 ? "dev" : "";
        a.timestamp_ms = T0 + i * 10;
        a.credential = (enum lr_credential)(i % 4);
        if (risk_evaluate(w->t->e, &a, &d) != LR_OK)
            w->errors++;
        if (i % 10 == 0 && risk_report_outcome(w->t->e, rid, acct,
                                               (enum lr_outcome)(i % 6 + 1), 0,
                                               &applied) != LR_OK)
            w->errors++;
    }
    return NULL;
}

static void test_risk_evaluate_threads_and_swaps(void **state)
{
    struct tenv *t = started(NULL, NULL, true);
    struct tenv *u = tenv_new(NULL, NULL, NULL);
    struct worker w[4];
    pthread_t th[4];
    struct risk_stats s;

    (void)state;
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.t = t, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 50; i++)
        assert_int_equal(
            risk_engine_set_policy(t->e, i % 2 ? t->cfg : u->cfg, t->geo, NULL),
            LR_OK);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
    risk_engine_stats(t->e, &s);
    assert_int_equal(s.evaluations, 8000);
    tenv_free(t);
    tenv_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_risk_evaluate_ip_attempts),
        cmocka_unit_test(test_risk_evaluate_ip_failures),
        cmocka_unit_test(test_risk_evaluate_ip_distinct_accounts),
        cmocka_unit_test(test_risk_evaluate_subnet),
        cmocka_unit_test(test_risk_evaluate_subnet_failures),
        cmocka_unit_test(test_risk_evaluate_subnet_ipv6),
        cmocka_unit_test(test_risk_evaluate_asn),
        cmocka_unit_test(test_risk_evaluate_account_failures),
        cmocka_unit_test(test_risk_evaluate_account_distinct_ips),
        cmocka_unit_test(test_risk_evaluate_attack_wave),
        cmocka_unit_test(test_risk_evaluate_spray_fingerprint),
        cmocka_unit_test(test_risk_evaluate_spray_repeated_account),
        cmocka_unit_test(test_risk_evaluate_spray_success_locks),
        cmocka_unit_test(test_risk_evaluate_spray_success_no_lock),
        cmocka_unit_test(test_risk_note_fingerprint_marks_sources),
        cmocka_unit_test(test_risk_note_fingerprint_mixes_with_evaluate),
        cmocka_unit_test(test_risk_note_fingerprint_spray_success_locks),
        cmocka_unit_test(test_risk_note_fingerprint_off_and_bad_args),
        cmocka_unit_test(test_risk_evaluate_lock_scope_all),
        cmocka_unit_test(test_risk_evaluate_lock_scope_unfamiliar),
        cmocka_unit_test(test_risk_evaluate_profile_survives_restart),
        cmocka_unit_test(test_risk_evaluate_profile_evicted_then_reloaded),
        cmocka_unit_test(test_risk_report_outcome_errors),
        cmocka_unit_test(test_risk_report_outcome_challenge_passed),
        cmocka_unit_test(test_risk_report_outcome_clears_failures),
        cmocka_unit_test(test_risk_report_outcome_failed_counts),
        cmocka_unit_test(test_risk_report_outcome_captcha_passed),
        cmocka_unit_test(test_risk_report_outcome_fraud),
        cmocka_unit_test(test_risk_report_outcome_evicted),
        cmocka_unit_test(test_risk_evaluate_dos_failures_never_lock),
        cmocka_unit_test(test_risk_evaluate_dos_rules_and_min_actions_capped),
        cmocka_unit_test(test_risk_evaluate_tables_bounded_under_flood),
        cmocka_unit_test(test_risk_evaluate_long_ids),
        cmocka_unit_test(test_risk_evaluate_history),
        cmocka_unit_test(test_risk_account_counters_values),
        cmocka_unit_test(test_risk_evaluate_threads_and_swaps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
