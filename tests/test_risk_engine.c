/*
 * test_risk_engine.c - the engine's per-attempt signals and its policy:
 * geo (R-GEO-*), device (R-DEVICE-*), travel (R-TRAVEL-*), thresholds and
 * minimum actions (R-SCORE-1), rules (R-RULE), allowlists (R-STATE-2) and
 * policy swaps, against the fixture GeoIP databases.
 *
 * Counting, spray, locks, outcomes and the anti-DoS properties are in
 * test_risk_engine_state.c.
 */
#include "tests/test_risk_engine_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define VALID LR_CRED_VALID
#define INVALID LR_CRED_INVALID
#define PRE LR_CRED_UNSPECIFIED

static void assert_reason(const struct risk_decision *d, const char *code,
                          int points, const char *rule_id)
{
    const struct risk_reason *r = reason(d, code);

    if (!r)
        dump(d);
    assert_non_null(r);
    assert_int_equal(r->points, points);
    assert_string_equal(r->rule_id, rule_id);
    assert_true(r->detail[0] != '\0');
}

static void assert_no_reason(const struct risk_decision *d, const char *code)
{
    if (reason(d, code))
        dump(d);
    assert_null(reason(d, code));
}

static void assert_detail(const struct risk_decision *d, const char *code,
                          const char *part)
{
    const struct risk_reason *r = reason(d, code);

    assert_non_null(r);
    if (!strstr(r->detail, part))
        dump(d);
    assert_non_null(strstr(r->detail, part));
}

/* A first, clean login that the engine learns. */
static void learn(struct tenv *t, const char *ip, const char *account,
                  const char *device, int64_t ts)
{
    const struct risk_decision *d = ev(t, ip, account, device, ts, VALID);

    if (d->action != LR_ACTION_ALLOW)
        dump(d);
    assert_int_equal(d->action, LR_ACTION_ALLOW);
}

static struct tenv *started(const char *geo, const char *policy,
                            const char *top)
{
    struct tenv *t = tenv_new(geo, policy, top);

    tenv_start(t);
    return t;
}

/* ---- engine life cycle --------------------------------------------------- */

static void test_risk_engine_new_bad_cidr(void **state)
{
    struct tenv *t = tenv_new(NULL,
                              "  rules:\n"
                              "    - name: corp\n"
                              "      match: {cidrs: [\"10.0.0.0/8\"]}\n"
                              "      add_points: 5\n"
                              "  allowlist:\n"
                              "    cidrs: [\"192.0.2.0/24\"]\n",
                              NULL);
    struct cfg_errors errs = {0};
    struct risk_engine *e = NULL;

    (void)state;
    cfg_replace(&t->cfg->rules[0].cidrs[0], "10.0.0.0/99");
    cfg_replace(&t->cfg->allow_cidrs[0], "not-a-network");
    assert_int_equal(risk_engine_new(t->cfg, t->geo, NULL, &e, &errs),
                     LR_CONFIG);
    assert_null(e);
    /* every mistake is reported, the rule's with its line */
    assert_int_equal(errs.n, 2);
    assert_non_null(strstr(errs.msgs[0], "not-a-network"));
    assert_non_null(strstr(errs.msgs[1], "test.yaml:"));
    assert_non_null(strstr(errs.msgs[1], "10.0.0.0/99"));
    cfg_errors_clear(&errs);
    tenv_free(t);
}

static void test_risk_engine_new_invalid_args(void **state)
{
    struct tenv *t = tenv_new(NULL, NULL, NULL);
    struct risk_engine *e = NULL;

    (void)state;
    assert_int_equal(risk_engine_new(NULL, t->geo, NULL, &e, NULL), LR_INVALID);
    assert_int_equal(risk_engine_new(t->cfg, t->geo, NULL, NULL, NULL),
                     LR_INVALID);
    /* no geo databases at all: every IP is unknown, not an error */
    assert_int_equal(risk_engine_new(t->cfg, NULL, NULL, &e, NULL), LR_OK);
    risk_engine_free(e);
    risk_engine_free(NULL);
    tenv_free(t);
}

static void test_risk_evaluate_invalid_attempt(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);
    char long_id[RISK_REQUEST_ID_MAX + 1];
    char long_acct[STORE_ID_MAX + 1];
    struct risk_decision d;
    struct risk_attempt a = {
        .request_id = "r1",
        .account_id = "alice",
        .ip = tip(IP_LONDON),
        .device_id = "",
        .user_agent = "",
        .timestamp_ms = T0,
        .credential = VALID,
    };
    struct risk_attempt b;

    (void)state;
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    memset(long_acct, 'a', sizeof(long_acct) - 1);
    long_acct[sizeof(long_acct) - 1] = '\0';
    assert_int_equal(risk_evaluate(t->e, &a, &d), LR_OK);
    assert_int_equal(risk_evaluate(NULL, &a, &d), LR_INVALID);
    assert_int_equal(risk_evaluate(t->e, NULL, &d), LR_INVALID);
    assert_int_equal(risk_evaluate(t->e, &a, NULL), LR_INVALID);
    b = a, b.account_id = "";
    assert_int_equal(risk_evaluate(t->e, &b, &d), LR_INVALID);
    b = a, b.account_id = long_acct;
    assert_int_equal(risk_evaluate(t->e, &b, &d), LR_INVALID);
    b = a, b.request_id = "";
    assert_int_equal(risk_evaluate(t->e, &b, &d), LR_INVALID);
    b = a, b.request_id = long_id;
    assert_int_equal(risk_evaluate(t->e, &b, &d), LR_INVALID);
    b = a, b.timestamp_ms = 0;
    assert_int_equal(risk_evaluate(t->e, &b, &d), LR_INVALID);
    b = a, b.ip.family = 5;
    assert_int_equal(risk_evaluate(t->e, &b, &d), LR_INVALID);
    b = a, b.credential = (enum lr_credential)9;
    assert_int_equal(risk_evaluate(t->e, &b, &d), LR_INVALID);
    b = a, b.device_id = NULL; /* NULL device means none */
    assert_int_equal(risk_evaluate(t->e, &b, &d), LR_OK);
    tenv_free(t);
}

static void test_risk_evaluate_clean_login(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);
    const struct risk_decision *d;

    (void)state;
    d = ev(t, IP_LONDON, "alice", "dev-a", T0, VALID);
    assert_int_equal(d->action, LR_ACTION_ALLOW);
    assert_int_equal(d->score, 0);
    assert_int_equal(d->n_reasons, 0);
    assert_string_equal(d->geo.country, "GB");
    assert_string_equal(d->geo.city, "London");
    assert_int_equal(d->geo.asn, 64500);
    assert_string_equal(d->policy_version, "test-1");
    tenv_free(t);
}

/* ---- geo: R-GEO-* -------------------------------------------------------- */

static void test_risk_evaluate_geo_unknown(void **state) /* R-GEO-7 */
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    assert_reason(ev(t, IP_UNKNOWN, "u1", "", T0, PRE), "GEO_UNKNOWN", 5,
                  "R-GEO-7");
    assert_int_equal(t->d.geo.asn, 0);
    /* country only, no location: known country, so not unknown */
    assert_no_reason(ev(t, IP_NOLOC, "u1", "", T0, PRE), "GEO_UNKNOWN");
    assert_no_reason(ev(t, IP_LONDON, "u1", "", T0, PRE), "GEO_UNKNOWN");
    tenv_free(t);
}

static void test_risk_evaluate_high_risk_country(void **state) /* R-GEO-3 */
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    assert_reason(ev(t, IP_LAGOS, "u1", "", T0, PRE), "HIGH_RISK_COUNTRY", 20,
                  "R-GEO-3");
    assert_detail(&t->d, "HIGH_RISK_COUNTRY", "NG");
    assert_no_reason(ev(t, IP_PARIS, "u1", "", T0, PRE), "HIGH_RISK_COUNTRY");
    tenv_free(t);
}

static void test_risk_evaluate_anonymous_hosting_tor(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    /* R-GEO-4: a VPN and both kinds of proxy */
    assert_reason(ev(t, IP_AMSTERDAM, "u1", "", T0, PRE), "ANONYMOUS_IP", 15,
                  "R-GEO-4");
    assert_detail(&t->d, "ANONYMOUS_IP", "VPN");
    assert_no_reason(&t->d, "HOSTING_IP");
    assert_reason(ev(t, IP_MADRID, "u1", "", T0, PRE), "ANONYMOUS_IP", 15,
                  "R-GEO-4");
    assert_detail(&t->d, "ANONYMOUS_IP", "proxy");
    assert_reason(ev(t, IP_TORONTO, "u1", "", T0, PRE), "ANONYMOUS_IP", 15,
                  "R-GEO-4");
    /* R-GEO-5: hosting scores once, not also as "anonymous" */
    assert_reason(ev(t, IP_FRANKFURT, "u1", "", T0, PRE), "HOSTING_IP", 15,
                  "R-GEO-5");
    assert_no_reason(&t->d, "ANONYMOUS_IP");
    /* R-GEO-6: Tor scores once */
    assert_reason(ev(t, IP_BERLIN, "u1", "", T0, PRE), "TOR_EXIT", 30,
                  "R-GEO-6");
    assert_no_reason(&t->d, "ANONYMOUS_IP");
    assert_int_equal(t->d.score, 30);
    assert_int_equal(t->d.action, LR_ACTION_CAPTCHA);
    /* none of them for a residential address */
    ev(t, IP_LONDON, "u1", "", T0, PRE);
    assert_no_reason(&t->d, "ANONYMOUS_IP");
    assert_no_reason(&t->d, "HOSTING_IP");
    assert_no_reason(&t->d, "TOR_EXIT");
    tenv_free(t);
}

static void test_risk_evaluate_asn_lists(void **state) /* R-GEO-4, R-GEO-5 */
{
    struct tenv *t = started("  hosting_asns: [64501]\n"
                             "  anonymous_asns: [64502]\n",
                             NULL, NULL);

    (void)state;
    assert_reason(ev(t, IP_NEWYORK, "u1", "", T0, PRE), "HOSTING_IP", 15,
                  "R-GEO-5");
    assert_reason(ev(t, IP_TOKYO, "u1", "", T0, PRE), "ANONYMOUS_IP", 15,
                  "R-GEO-4");
    assert_detail(&t->d, "ANONYMOUS_IP", "anonymous_asns");
    assert_no_reason(ev(t, IP_LONDON, "u1", "", T0, PRE), "ANONYMOUS_IP");
    tenv_free(t);
}

static void test_risk_evaluate_new_country_asn(void **state) /* R-GEO-1/2 */
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    /* a first login is not "new": there is nothing to compare with */
    ev(t, IP_NEWYORK, "bob", "dev-b", T0, VALID);
    assert_no_reason(&t->d, "NEW_COUNTRY");
    assert_no_reason(&t->d, "NEW_ASN");
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    /* same country and ASN, another city */
    ev(t, IP_MANCHESTER, "alice", "dev-a", T0 + 24 * HOUR_MS, VALID);
    assert_int_equal(t->d.n_reasons, 0);
    ev(t, IP_PARIS, "alice", "dev-a", T0 + 48 * HOUR_MS, VALID);
    assert_reason(&t->d, "NEW_COUNTRY", 20, "R-GEO-1");
    assert_detail(&t->d, "NEW_COUNTRY", "FR");
    assert_reason(&t->d, "NEW_ASN", 5, "R-GEO-2");
    assert_detail(&t->d, "NEW_ASN", "AS64510");
    assert_int_equal(t->d.action, LR_ACTION_ALLOW); /* 25 < 30: learned */
    ev(t, IP_PARIS, "alice", "dev-a", T0 + 49 * HOUR_MS, INVALID);
    assert_no_reason(&t->d, "NEW_COUNTRY");
    assert_no_reason(&t->d, "NEW_ASN");
    /* an account the caller says does not exist has no profile */
    ev(t, IP_TOKYO, "alice", "dev-a", T0 + 50 * HOUR_MS,
       LR_CRED_UNKNOWN_ACCOUNT);
    assert_no_reason(&t->d, "NEW_COUNTRY");
    tenv_free(t);
}

/* ---- device: R-DEVICE-* -------------------------------------------------- */

static void test_risk_evaluate_new_device(void **state) /* R-DEVICE-1 */
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    ev(t, IP_LONDON, "alice", "dev-a", T0, VALID);
    assert_no_reason(&t->d, "NEW_DEVICE"); /* no history yet */
    assert_no_reason(ev(t, IP_LONDON, "alice", "dev-a", T0 + MIN_MS, INVALID),
                     "NEW_DEVICE");
    assert_reason(ev(t, IP_LONDON, "alice", "dev-b", T0 + MIN_MS, INVALID),
                  "NEW_DEVICE", 15, "R-DEVICE-1");
    assert_detail(&t->d, "NEW_DEVICE", "not among the account's 1 known");
    assert_reason(ev(t, IP_LONDON, "alice", "", T0 + MIN_MS, INVALID),
                  "NEW_DEVICE", 15, "R-DEVICE-1");
    assert_detail(&t->d, "NEW_DEVICE", "no device_id sent");
    tenv_free(t);
}

/* The whole detail text of the R-GEO-1/2 and R-DEVICE-1 reasons. */
static void assert_whole_detail(const struct risk_decision *d, const char *code,
                                const char *want)
{
    const struct risk_reason *r = reason(d, code);

    assert_non_null(r);
    if (strcmp(r->detail, want) != 0)
        dump(d);
    assert_string_equal(r->detail, want);
}

static void test_risk_evaluate_new_place_and_device_details(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    ev(t, IP_NEWYORK, "alice", "dev-b", T0 + 12 * HOUR_MS, INVALID);
    assert_whole_detail(&t->d, "NEW_COUNTRY",
                        "first login from US (1 countries seen before)");
    assert_whole_detail(&t->d, "NEW_ASN",
                        "first login from AS64501 Example Cable US "
                        "(1 networks seen before)");
    assert_whole_detail(&t->d, "NEW_DEVICE",
                        "device not among the account's 1 known devices");
    ev(t, IP_LONDON, "alice", "", T0 + 13 * HOUR_MS, INVALID);
    assert_whole_detail(&t->d, "NEW_DEVICE",
                        "no device_id sent (account has 1 known devices)");
    tenv_free(t);
}

static void test_risk_evaluate_known_devices_lru(void **state)
{
    struct tenv *t = started(NULL, NULL, "limits:\n  devices_per_account: 2\n");

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    learn(t, IP_LONDON, "alice", "dev-b", T0 + HOUR_MS);
    learn(t, IP_LONDON, "alice", "dev-c", T0 + 2 * HOUR_MS);
    /* dev-a was the least recently used of three: forgotten */
    assert_reason(ev(t, IP_LONDON, "alice", "dev-a", T0 + 3 * HOUR_MS, INVALID),
                  "NEW_DEVICE", 15, "R-DEVICE-1");
    assert_detail(&t->d, "NEW_DEVICE", "2 known devices");
    assert_no_reason(
        ev(t, IP_LONDON, "alice", "dev-b", T0 + 3 * HOUR_MS, INVALID),
        "NEW_DEVICE");
    assert_no_reason(
        ev(t, IP_LONDON, "alice", "dev-c", T0 + 3 * HOUR_MS, INVALID),
        "NEW_DEVICE");
    tenv_free(t);
}

static void test_risk_evaluate_device_distinct_accounts(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL); /* limit 5 per day */
    char acct[16];

    (void)state;
    for (int i = 1; i <= 4; i++) {
        snprintf(acct, sizeof(acct), "acct-%d", i);
        ev(t, IP_LONDON, acct, "shared", T0 + i * SEC_MS, PRE);
        assert_no_reason(&t->d, "DEVICE_DISTINCT_ACCOUNTS");
    }
    /* R-DEVICE-2 at the limit */
    ev(t, IP_LONDON, "acct-5", "shared", T0 + 5 * SEC_MS, PRE);
    assert_reason(&t->d, "DEVICE_DISTINCT_ACCOUNTS", 30, "R-DEVICE-2");
    assert_detail(&t->d, "DEVICE_DISTINCT_ACCOUNTS",
                  "5 distinct accounts from this device in 1 d (limit 5)");
    /* the same accounts again do not count twice */
    ev(t, IP_LONDON, "acct-1", "other", T0 + 6 * SEC_MS, PRE);
    assert_no_reason(&t->d, "DEVICE_DISTINCT_ACCOUNTS");
    /* a day later the window has moved on */
    ev(t, IP_LONDON, "acct-6", "shared", T0 + 25 * HOUR_MS, PRE);
    assert_no_reason(&t->d, "DEVICE_DISTINCT_ACCOUNTS");
    tenv_free(t);
}

/* ---- travel: R-TRAVEL-1, R-TRAVEL-2 ------------------------------------- */

static void test_risk_evaluate_travel_30_minutes(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);
    const struct risk_reason *r;

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    ev(t, IP_NEWYORK, "alice", "dev-x", T0 + 30 * MIN_MS, VALID);
    assert_reason(&t->d, "IMPOSSIBLE_TRAVEL", 45, "R-TRAVEL-1");
    r = reason(&t->d, "IMPOSSIBLE_TRAVEL");
    /* 5,570 km minus both radii (10 + 20) */
    assert_non_null(strstr(r->detail, "5,54"));
    assert_non_null(strstr(r->detail, " km in 30 min from London, GB ("));
    assert_non_null(strstr(r->detail, "km/h > 900)"));
    assert_true(t->d.action >= LR_ACTION_CHALLENGE_2FA);
    assert_reason(&t->d, "NEW_DEVICE", 15, "R-DEVICE-1");
    assert_reason(&t->d, "NEW_COUNTRY", 20, "R-GEO-1");
    tenv_free(t);
}

static void test_risk_evaluate_travel_20_hours(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    ev(t, IP_NEWYORK, "alice", "dev-a", T0 + 20 * HOUR_MS, VALID);
    assert_no_reason(&t->d, "IMPOSSIBLE_TRAVEL");
    assert_int_equal(t->d.action, LR_ACTION_ALLOW);
    tenv_free(t);
}

/* The speed limit itself: just above fires, just below does not. */
static void test_risk_evaluate_travel_speed_edge(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);
    double km = geo_distance_km(51.5074, -0.1278, 40.7128, -74.0060) - 30.0;
    int64_t at = (int64_t)(km / 900.0 * 3.6e6); /* exactly 900 km/h */

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    assert_no_reason(
        ev(t, IP_NEWYORK, "alice", "dev-a", T0 + at + SEC_MS, INVALID),
        "IMPOSSIBLE_TRAVEL");
    assert_non_null(
        reason(ev(t, IP_NEWYORK, "alice", "dev-a", T0 + at - SEC_MS, INVALID),
               "IMPOSSIBLE_TRAVEL"));
    tenv_free(t);
}

static void test_risk_evaluate_travel_same_place_zero_time(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    /* same place, no time: distance 0 is never travel */
    assert_no_reason(ev(t, IP_LONDON, "alice", "dev-a", T0, VALID),
                     "IMPOSSIBLE_TRAVEL");
    /* far away, no time: infinite speed */
    ev(t, IP_NEWYORK, "alice", "dev-a", T0, INVALID);
    assert_non_null(reason(&t->d, "IMPOSSIBLE_TRAVEL"));
    assert_detail(&t->d, "IMPOSSIBLE_TRAVEL", "in no time");
    /* an event older than the last login: negative time, also infinite */
    ev(t, IP_NEWYORK, "alice", "dev-a", T0 - HOUR_MS, INVALID);
    assert_detail(&t->d, "IMPOSSIBLE_TRAVEL", "in no time");
    tenv_free(t);
}

static void test_risk_evaluate_travel_min_distance(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    /* London to Paris, 344 km less 30 km of radii, in one minute: below
     * the 500 km floor */
    assert_no_reason(ev(t, IP_PARIS, "alice", "dev-a", T0 + MIN_MS, INVALID),
                     "IMPOSSIBLE_TRAVEL");
    t->cfg->travel.min_distance_km = 100;
    tenv_reload(t);
    assert_non_null(
        reason(ev(t, IP_PARIS, "alice", "dev-a", T0 + MIN_MS, INVALID),
               "IMPOSSIBLE_TRAVEL"));
    tenv_free(t);
}

static void test_risk_evaluate_travel_missing_coordinates(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    /* no coordinates now */
    assert_no_reason(ev(t, IP_NOLOC, "alice", "dev-a", T0 + MIN_MS, VALID),
                     "IMPOSSIBLE_TRAVEL");
    assert_int_equal(t->d.action, LR_ACTION_ALLOW); /* learned: no place */
    /* no coordinates at the last login */
    assert_no_reason(
        ev(t, IP_TOKYO, "alice", "dev-a", T0 + 2 * MIN_MS, INVALID),
        "IMPOSSIBLE_TRAVEL");
    tenv_free(t);
}

/* R-TRAVEL-2: a known device halves the points; without a VPN the jump
 * still asks for 2FA. */
static void test_risk_evaluate_travel_known_device_damping(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    ev(t, IP_NEWYORK, "alice", "dev-a", T0 + 30 * MIN_MS, VALID);
    assert_reason(&t->d, "IMPOSSIBLE_TRAVEL", 23, "R-TRAVEL-1");
    assert_detail(&t->d, "IMPOSSIBLE_TRAVEL", "damped x0.50 (known device)");
    /* 23 + NEW_COUNTRY 20 + NEW_ASN 5 = 48: a captcha by score, 2FA by
     * the travel minimum */
    assert_int_equal(t->d.score, 48);
    assert_int_equal(t->d.action, LR_ACTION_CHALLENGE_2FA);
    tenv_free(t);
}

/* R-TRAVEL-2: a VPN exit far away is damped (2FA stays on a new device); a
 * known device on a VPN gets a quarter of the points and no minimum
 * action: a captcha here. */
static void test_risk_evaluate_travel_vpn_damping(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    learn(t, IP_TOKYO, "alice", "dev-a", T0);
    ev(t, IP_AMSTERDAM, "alice", "dev-x", T0 + 30 * MIN_MS, INVALID);
    assert_reason(&t->d, "IMPOSSIBLE_TRAVEL", 23, "R-TRAVEL-1");
    assert_detail(&t->d, "IMPOSSIBLE_TRAVEL", "anonymous/hosting IP");
    assert_int_equal(t->d.action, LR_ACTION_CHALLENGE_2FA);
    ev(t, IP_AMSTERDAM, "alice", "dev-a", T0 + 30 * MIN_MS, VALID);
    assert_reason(&t->d, "IMPOSSIBLE_TRAVEL", 11, "R-TRAVEL-1");
    assert_detail(&t->d, "IMPOSSIBLE_TRAVEL",
                  "damped x0.25 (anonymous/hosting IP, known device)");
    /* 11 + ANONYMOUS_IP 15 + NEW_COUNTRY 20 + NEW_ASN 5 = 51 */
    assert_int_equal(t->d.score, 51);
    assert_int_equal(t->d.action, LR_ACTION_CAPTCHA);
    /* Tor and hosting exits are damped too */
    ev(t, IP_BERLIN, "alice", "dev-x", T0 + 30 * MIN_MS, INVALID);
    assert_reason(&t->d, "IMPOSSIBLE_TRAVEL", 23, "R-TRAVEL-1");
    /* damped to nothing: no reason at all */
    t->cfg->travel.anonymous_damping = 0.0;
    tenv_reload(t);
    assert_no_reason(
        ev(t, IP_AMSTERDAM, "alice", "dev-x", T0 + 30 * MIN_MS, INVALID),
        "IMPOSSIBLE_TRAVEL");
    tenv_free(t);
}

/* ---- score and minimum actions: R-SCORE-1 ------------------------------- */

static enum lr_action unknown_with(struct tenv *t, int points)
{
    t->cfg->signals[LR_SIG_GEO_UNKNOWN].points = points;
    tenv_reload(t);
    return ev(t, IP_UNKNOWN, "u1", "", T0, PRE)->action;
}

static void test_risk_evaluate_thresholds(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL); /* 30 / 60 / 101 */

    (void)state;
    assert_int_equal(unknown_with(t, 29), LR_ACTION_ALLOW);
    assert_int_equal(unknown_with(t, 30), LR_ACTION_CAPTCHA);
    assert_int_equal(unknown_with(t, 59), LR_ACTION_CAPTCHA);
    assert_int_equal(unknown_with(t, 60), LR_ACTION_CHALLENGE_2FA);
    assert_int_equal(unknown_with(t, 100), LR_ACTION_CHALLENGE_2FA);
    t->cfg->threshold_lock = 90;
    assert_int_equal(unknown_with(t, 89), LR_ACTION_CHALLENGE_2FA);
    assert_int_equal(unknown_with(t, 90), LR_ACTION_LOCK);
    assert_int_equal(t->d.score, 90);
    tenv_free(t);
}

static void test_risk_evaluate_score_capped(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    t->cfg->signals[LR_SIG_TOR_EXIT].points = 100;
    t->cfg->signals[LR_SIG_HIGH_RISK_COUNTRY].points = 100;
    tenv_reload(t);
    ev(t, IP_BERLIN, "u1", "", T0, PRE);
    assert_int_equal(t->d.score, 100);
    tenv_free(t);
}

static void test_risk_evaluate_min_action(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);

    (void)state;
    t->cfg->signals[LR_SIG_GEO_UNKNOWN].min_action = LR_ACTION_CHALLENGE_2FA;
    tenv_reload(t);
    ev(t, IP_UNKNOWN, "u1", "", T0, PRE);
    assert_int_equal(t->d.score, 5);
    assert_int_equal(t->d.action, LR_ACTION_CHALLENGE_2FA);
    /* a 0-point signal is listed when its minimum action matters */
    t->cfg->signals[LR_SIG_GEO_UNKNOWN].points = 0;
    tenv_reload(t);
    assert_reason(ev(t, IP_UNKNOWN, "u1", "", T0, PRE), "GEO_UNKNOWN", 0,
                  "R-GEO-7");
    assert_int_equal(t->d.action, LR_ACTION_CHALLENGE_2FA);
    /* and not listed when nothing matters */
    t->cfg->signals[LR_SIG_GEO_UNKNOWN].min_action = LR_ACTION_UNSPECIFIED;
    tenv_reload(t);
    assert_no_reason(ev(t, IP_UNKNOWN, "u1", "", T0, PRE), "GEO_UNKNOWN");
    /* a disabled signal does not fire */
    t->cfg->signals[LR_SIG_TOR_EXIT].enabled = false;
    tenv_reload(t);
    assert_no_reason(ev(t, IP_BERLIN, "u1", "", T0, PRE), "TOR_EXIT");
    assert_int_equal(t->d.action, LR_ACTION_ALLOW);
    tenv_free(t);
}

/* ---- rules: R-RULE --------------------------------------------------------
 */

static const char rules_yaml[] =
    "  rules:\n"
    "    - name: jp-new-device\n"
    "      match: {countries: [JP], signals: [NEW_DEVICE, NEW_ASN]}\n"
    "      add_points: 20\n"
    "    - name: lagos-or-sydney\n"
    "      match: {countries: [NG, AU]}\n"
    "      min_action: challenge_2fa\n"
    "    - name: carol-from-paris\n"
    "      match: {accounts: [carol], cidrs: [\"198.18.0.0/24\"], asns: "
    "[64510]}\n"
    "      add_points: 7\n";

static void test_risk_evaluate_rules_match(void **state)
{
    struct tenv *t = started(NULL, rules_yaml, NULL);
    const struct risk_reason *r;

    (void)state;
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    /* countries AND signals: JP with NEW_DEVICE */
    ev(t, IP_TOKYO, "alice", "dev-x", T0 + 48 * HOUR_MS, INVALID);
    r = reason(&t->d, "RULE:jp-new-device");
    assert_non_null(r);
    assert_int_equal(r->points, 20);
    assert_string_equal(r->rule_id, "R-RULE");
    /* JP, known device but new ASN (OR within the signal list) */
    assert_non_null(
        reason(ev(t, IP_TOKYO, "alice", "dev-a", T0 + 48 * HOUR_MS, INVALID),
               "RULE:jp-new-device"));
    /* JP without either signal: bob has no history */
    assert_null(reason(ev(t, IP_TOKYO, "bob", "dev-x", T0, INVALID),
                       "RULE:jp-new-device"));
    /* minimum action, OR within countries */
    ev(t, IP_SYDNEY6, "bob", "", T0, PRE);
    assert_non_null(reason(&t->d, "RULE:lagos-or-sydney"));
    assert_int_equal(t->d.action, LR_ACTION_CHALLENGE_2FA);
    assert_non_null(
        reason(ev(t, IP_LAGOS, "bob", "", T0, PRE), "RULE:lagos-or-sydney"));
    assert_null(
        reason(ev(t, IP_LONDON, "bob", "", T0, PRE), "RULE:lagos-or-sydney"));
    /* accounts AND cidrs AND asns */
    assert_non_null(
        reason(ev(t, IP_PARIS, "carol", "", T0, PRE), "RULE:carol-from-paris"));
    assert_int_equal(t->d.score, 7);
    assert_null(
        reason(ev(t, IP_PARIS, "dave", "", T0, PRE), "RULE:carol-from-paris"));
    assert_null(reason(ev(t, IP_LONDON, "carol", "", T0, PRE),
                       "RULE:carol-from-paris"));
    tenv_free(t);
}

static void test_risk_engine_stats_rules(void **state)
{
    struct tenv *t = started(NULL, rules_yaml, NULL);
    struct risk_stats s;

    (void)state;
    ev(t, IP_LAGOS, "bob", "", T0, PRE);
    ev(t, IP_LONDON, "bob", "", T0, PRE);
    risk_engine_stats(t->e, &s);
    assert_int_equal(s.evaluations, 2);
    assert_int_equal(s.rule_hits, 1);
    assert_int_equal(s.by_signal[LR_SIG_HIGH_RISK_COUNTRY], 1);
    assert_int_equal(s.by_action[LR_ACTION_CHALLENGE_2FA], 1);
    assert_int_equal(s.by_action[LR_ACTION_ALLOW], 1);
    tenv_free(t);
}

/* ---- allowlists: R-STATE-2 ---------------------------------------------- */

static void test_risk_evaluate_allowlist(void **state)
{
    struct tenv *t = started(NULL,
                             "  allowlist:\n"
                             "    cidrs: [\"198.18.3.0/24\"]\n"
                             "    accounts: [monitor]\n"
                             "  rules:\n"
                             "    - name: office\n"
                             "      match: {cidrs: [\"198.18.8.0/24\"]}\n"
                             "      allowlist: true\n",
                             NULL);

    (void)state;
    ev(t, IP_BERLIN, "u1", "", T0, PRE);
    assert_int_equal(t->d.action, LR_ACTION_ALLOW);
    assert_reason(&t->d, "ALLOWLISTED", 0, "R-STATE-2");
    assert_detail(&t->d, "ALLOWLISTED", "allow_cidrs 198.18.3.0/24");
    /* the reasons that would have counted are still shown */
    assert_non_null(reason(&t->d, "TOR_EXIT"));
    ev(t, IP_UNKNOWN, "monitor", "", T0, PRE);
    assert_int_equal(t->d.action, LR_ACTION_ALLOW);
    assert_detail(&t->d, "ALLOWLISTED", "allow_accounts");
    ev(t, IP_LAGOS, "u1", "", T0, PRE);
    assert_int_equal(t->d.action, LR_ACTION_ALLOW);
    assert_non_null(reason(&t->d, "RULE:office"));
    assert_detail(&t->d, "ALLOWLISTED", "rule 'office'");
    assert_no_reason(ev(t, IP_LONDON, "u1", "", T0, PRE), "ALLOWLISTED");
    tenv_free(t);
}

/* ---- policy swap ----------------------------------------------------------
 */

static void test_risk_engine_set_policy_keeps_state(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);
    struct cfg_errors errs = {0};
    struct cfg *old = t->cfg;
    struct tenv *u = tenv_new(NULL,
                              "  thresholds: {captcha: 10, challenge_2fa: 20, "
                              "lock: 101}\n",
                              NULL);

    (void)state;
    cfg_replace(&u->cfg->policy_version, "test-2");
    learn(t, IP_LONDON, "alice", "dev-a", T0);
    for (int i = 0; i < 5; i++)
        ev(t, IP_LONDON, "alice", "dev-a", T0 + i * SEC_MS, INVALID);
    /* swap to u's config, then free the old one: nothing may point at it */
    assert_int_equal(risk_engine_set_policy(t->e, u->cfg, t->geo, &errs),
                     LR_OK);
    t->cfg = u->cfg;
    u->cfg = NULL;
    cfg_free(old);
    ev(t, IP_LONDON, "alice", "dev-b", T0 + 30 * MIN_MS, INVALID);
    assert_string_equal(t->d.policy_version, "test-2");
    /* the profile survived: dev-b is new, NEW_DEVICE 15 >= captcha 10 */
    assert_reason(&t->d, "NEW_DEVICE", 15, "R-DEVICE-1");
    assert_int_equal(t->d.action, LR_ACTION_CAPTCHA);
    /* the counts survived: 5 + 1 + 4 = 10 failures reach the limit */
    for (int i = 0; i < 3; i++) {
        ev(t, IP_LONDON, "alice", "dev-a", T0 + 31 * MIN_MS + i * SEC_MS,
           INVALID);
        assert_no_reason(&t->d, "ACCOUNT_FAILURES");
    }
    ev(t, IP_LONDON, "alice", "dev-a", T0 + 32 * MIN_MS, INVALID);
    assert_non_null(reason(&t->d, "ACCOUNT_FAILURES"));
    tenv_free(u);
    tenv_free(t);
}

static void test_risk_engine_set_policy_refused(void **state)
{
    struct tenv *t = started(NULL, NULL, NULL);
    struct cfg_errors errs = {0};
    struct tenv *u = tenv_new(NULL,
                              "  rules:\n"
                              "    - name: net\n"
                              "      match: {cidrs: [\"10.0.0.0/8\"]}\n"
                              "      add_points: 5\n",
                              NULL);

    (void)state;
    cfg_replace(&u->cfg->rules[0].cidrs[0], "10.0.0.0/40");
    assert_int_equal(risk_engine_set_policy(t->e, u->cfg, t->geo, &errs),
                     LR_CONFIG);
    assert_int_equal(errs.n, 1);
    cfg_errors_clear(&errs);
    assert_int_equal(risk_engine_set_policy(NULL, u->cfg, t->geo, &errs),
                     LR_INVALID);
    assert_int_equal(risk_engine_set_policy(t->e, NULL, t->geo, &errs),
                     LR_INVALID);
    tenv_free(u); /* the refused config is gone; the engine never held it */
    assert_string_equal(ev(t, IP_LONDON, "u1", "", T0, PRE)->policy_version,
                        "test-1");
    tenv_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_risk_engine_new_bad_cidr),
        cmocka_unit_test(test_risk_engine_new_invalid_args),
        cmocka_unit_test(test_risk_evaluate_invalid_attempt),
        cmocka_unit_test(test_risk_evaluate_clean_login),
        cmocka_unit_test(test_risk_evaluate_geo_unknown),
        cmocka_unit_test(test_risk_evaluate_high_risk_country),
        cmocka_unit_test(test_risk_evaluate_anonymous_hosting_tor),
        cmocka_unit_test(test_risk_evaluate_asn_lists),
        cmocka_unit_test(test_risk_evaluate_new_country_asn),
        cmocka_unit_test(test_risk_evaluate_new_device),
        cmocka_unit_test(test_risk_evaluate_new_place_and_device_details),
        cmocka_unit_test(test_risk_evaluate_known_devices_lru),
        cmocka_unit_test(test_risk_evaluate_device_distinct_accounts),
        cmocka_unit_test(test_risk_evaluate_travel_30_minutes),
        cmocka_unit_test(test_risk_evaluate_travel_20_hours),
        cmocka_unit_test(test_risk_evaluate_travel_speed_edge),
        cmocka_unit_test(test_risk_evaluate_travel_same_place_zero_time),
        cmocka_unit_test(test_risk_evaluate_travel_min_distance),
        cmocka_unit_test(test_risk_evaluate_travel_missing_coordinates),
        cmocka_unit_test(test_risk_evaluate_travel_known_device_damping),
        cmocka_unit_test(test_risk_evaluate_travel_vpn_damping),
        cmocka_unit_test(test_risk_evaluate_thresholds),
        cmocka_unit_test(test_risk_evaluate_score_capped),
        cmocka_unit_test(test_risk_evaluate_min_action),
        cmocka_unit_test(test_risk_evaluate_rules_match),
        cmocka_unit_test(test_risk_engine_stats_rules),
        cmocka_unit_test(test_risk_evaluate_allowlist),
        cmocka_unit_test(test_risk_engine_set_policy_keeps_state),
        cmocka_unit_test(test_risk_engine_set_policy_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
