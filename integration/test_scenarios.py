"""test_scenarios.py - the risk engine's scenarios through the real agent.

Issue 3, done-means 1: each scenario drives the real loginrisk-agent over
gRPC with the fixture databases (data/README.md) and asserts the action and
the reason codes of the decisions:

  impossible travel   London, then New York 30 minutes later: at least 2FA
                      with IMPOSSIBLE_TRAVEL (km and points in the reason);
                      the same trip over 20 hours: no travel reason; a known
                      device is damped (R-TRAVEL-2)
  new context         a new device from a new country: NEW_DEVICE and
                      NEW_COUNTRY both; each alone fires alone
  credential stuffing one IP trying 300 accounts: it and its /24 get a
                      captcha or more (IP_DISTINCT_ACCOUNTS,
                      SUBNET_VELOCITY), while a fresh residential IP logging
                      into its usual account is still allowed (defaults)
  password spray      one password over 50 accounts from 50 IPs: once the
                      spray pool has counted the fingerprints (answers do
                      not wait for them), PASSWORD_SPRAY for the sources
                      that used it; a valid password from one is locked
  anti-DoS            1,000 bad passwords against one account never lock it,
                      and the owner's known device still gets in with at
                      most 2FA (defaults)
  locks               a locked account answers ACTION_LOCK with
                      ACCOUNT_LOCKED (confirmed fraud; the admin API when it
                      is there)
  outcomes            a passed challenge makes the device and place familiar

Each test starts its own agent on a fresh state dir, so no scenario sees
another's counters. Time moves only through timestamp_ms (scenario.Clock).
The anti-DoS and credential-stuffing scenarios run on the default policy
(scenario.default_config), the others on a policy written out in full
(scenario.explicit_config), so every expected score below is a sum of
numbers in scenario.SIGNALS.
"""

import re
import unittest

import scenario
import harness
from harness import Agent, AgentTestCase, stubs
from scenario import (DAY_MS, HOSTING, HOUR_MS, LONDON, MIN_MS, NEW_YORK,
                      PARIS, TOKYO, TOR, TORONTO_PROXY, Client, Clock,
                      action_name, describe, points, reasons, unknown_ip)


class ScenarioCase(AgentTestCase):
    """A fresh agent per test (setUp does not start it: each test picks
    its config)."""

    TEST_TIMEOUT = 120

    def start(self, config=scenario.explicit_config, name="scen", **kw):
        agent = Agent(name)
        self.addCleanup(agent.finish)
        agent.start(config(agent, **kw))
        self.agent = agent
        self.c = Client(agent)
        self.clock = Clock()
        return self.c

    def at(self, ms):
        return self.clock.at(ms)

    # ---- assertions

    def action(self, d):
        return action_name(d.action)

    def assertAction(self, d, name):
        self.assertEqual(self.action(d), name, describe(d))

    def assertAtLeast(self, d, name):
        pb = stubs().risk_pb2
        self.assertGreaterEqual(d.action, pb.Action.Value(name), describe(d))

    def assertAtMost(self, d, name):
        pb = stubs().risk_pb2
        self.assertGreaterEqual(d.action, pb.ACTION_ALLOW, describe(d))
        self.assertLessEqual(d.action, pb.Action.Value(name), describe(d))

    def assertReasons(self, d, *codes):
        got = reasons(d)
        for code in codes:
            self.assertIn(code, got, describe(d))
        return got

    def assertNoReasons(self, d, *codes):
        got = reasons(d)
        for code in codes:
            self.assertNotIn(code, got, describe(d))

    def assertScored(self, d, codes, minimum="ACTION_ALLOW"):
        """Exactly the reasons @codes, each with its configured points,
        the score their sum and the action the thresholds give it."""
        got = reasons(d)
        self.assertEqual(sorted(got), sorted(codes), describe(d))
        for code in codes:
            self.assertEqual(got[code].points, points(code), describe(d))
        total = min(100, sum(points(c) for c in codes))
        self.assertEqual(d.score, total, describe(d))
        self.assertAction(d, scenario.expected_action(total, minimum))

    def establish(self, account, ip, ts, device):
        """A first, valid login: allowed and learned as the account's
        usual device and place."""
        d = self.c.evaluate(account, ip, ts, device=device)
        self.assertAction(d, "ACTION_ALLOW")
        return d


# --------------------------------------------------------------------------
# impossible travel (R-TRAVEL-1, R-TRAVEL-2)


class TravelTest(ScenarioCase):

    # London -> New York is 5,570 km; minus both accuracy radii (10 + 20 km)
    # 5,540 km; in 30 minutes that is 11,080 km/h.
    DETAIL = re.compile(r"^5,5[0-9]{2} km in 30 min from London, GB "
                        r"\(1[01],[0-9]{3} km/h > 900\)$")

    def test_london_new_york_30_min_new_device(self):
        c = self.start()
        self.establish("trav-1", LONDON.format(10), self.at(0), "phone-1")
        d = c.evaluate("trav-1", NEW_YORK.format(10), self.at(30 * MIN_MS),
                       device="laptop-x")
        got = self.assertReasons(d, "IMPOSSIBLE_TRAVEL")
        travel = got["IMPOSSIBLE_TRAVEL"]
        self.assertRegex(travel.detail, self.DETAIL)
        self.assertEqual(travel.points, points("IMPOSSIBLE_TRAVEL"))
        self.assertEqual(travel.rule_id, "R-TRAVEL-1")
        self.assertAtLeast(d, "ACTION_CHALLENGE_2FA")
        # 15 + 20 + 5 + 45 = 85: 2FA by score too, not a lock (101)
        self.assertScored(d, ["IMPOSSIBLE_TRAVEL", "NEW_DEVICE",
                              "NEW_COUNTRY", "NEW_ASN"],
                          minimum="ACTION_CHALLENGE_2FA")
        self.assertEqual(d.geo.city, "New York")

    def test_london_new_york_30_min_precheck(self):
        # the same trip reported before the password is checked
        c = self.start()
        self.establish("trav-2", LONDON.format(11), self.at(0), "phone-2")
        d = c.evaluate("trav-2", NEW_YORK.format(11), self.at(30 * MIN_MS),
                       device="laptop-y", cred="precheck")
        self.assertReasons(d, "IMPOSSIBLE_TRAVEL")
        self.assertAtLeast(d, "ACTION_CHALLENGE_2FA")

    def test_london_new_york_30_min_known_device_damped(self):
        # R-TRAVEL-2: the account's own device halves the points, but a
        # known device jumping continents without a VPN may be a stolen
        # session: the 2FA minimum stays
        c = self.start()
        self.establish("trav-3", LONDON.format(12), self.at(0), "phone-3")
        d = c.evaluate("trav-3", NEW_YORK.format(12), self.at(30 * MIN_MS),
                       device="phone-3")
        travel = self.assertReasons(d, "IMPOSSIBLE_TRAVEL",
                                    "NEW_COUNTRY")["IMPOSSIBLE_TRAVEL"]
        self.assertNoReasons(d, "NEW_DEVICE")
        self.assertEqual(travel.points,
                         int(points("IMPOSSIBLE_TRAVEL") * 0.5 + 0.5))
        self.assertIn("damped x0.50 (known device)", travel.detail)
        # 20 + 5 + 23 = 48 by score, lifted to the 2FA minimum
        self.assertEqual(d.score, 48, describe(d))
        self.assertAction(d, "ACTION_CHALLENGE_2FA")

    def test_far_anonymous_exit_new_device_keeps_2fa(self):
        # damped once for the anonymous address (x0.5): still 2FA
        c = self.start()
        self.establish("trav-6", LONDON.format(16), self.at(0), "phone-6")
        d = c.evaluate("trav-6", TORONTO_PROXY.format(16),
                       self.at(30 * MIN_MS), device="laptop-6")
        travel = self.assertReasons(d, "IMPOSSIBLE_TRAVEL",
                                    "ANONYMOUS_IP")["IMPOSSIBLE_TRAVEL"]
        self.assertEqual(travel.points, 23)
        self.assertIn("anonymous/hosting IP", travel.detail)
        self.assertAtLeast(d, "ACTION_CHALLENGE_2FA")

    def test_far_anonymous_exit_known_device_damped_twice(self):
        # a known device on an anonymous exit explains the jump twice over:
        # a quarter of the points and no minimum action from travel
        c = self.start()
        self.establish("trav-7", LONDON.format(17), self.at(0), "phone-7")
        d = c.evaluate("trav-7", TORONTO_PROXY.format(17),
                       self.at(30 * MIN_MS), device="phone-7")
        travel = self.assertReasons(d, "IMPOSSIBLE_TRAVEL",
                                    "ANONYMOUS_IP")["IMPOSSIBLE_TRAVEL"]
        self.assertEqual(travel.points, 11)  # lround(45 x 0.25)
        self.assertIn("damped x0.25", travel.detail)
        # ANONYMOUS_IP 15 + NEW_COUNTRY 20 + NEW_ASN 5 + 11 = 51: captcha
        self.assertEqual(sorted(reasons(d)),
                         ["ANONYMOUS_IP", "IMPOSSIBLE_TRAVEL", "NEW_ASN",
                          "NEW_COUNTRY"], describe(d))
        self.assertEqual(d.score, 51, describe(d))
        self.assertAction(d, "ACTION_CAPTCHA")

    def test_london_new_york_20_hours_no_travel(self):
        c = self.start()
        self.establish("trav-4", LONDON.format(13), self.at(0), "phone-4")
        d = c.evaluate("trav-4", NEW_YORK.format(13), self.at(20 * HOUR_MS),
                       device="laptop-z")
        self.assertNoReasons(d, "IMPOSSIBLE_TRAVEL")
        self.assertScored(d, ["NEW_DEVICE", "NEW_COUNTRY", "NEW_ASN"])
        self.assertAction(d, "ACTION_CAPTCHA")
        # and the owner's own device over 20 h: only the new place
        d = c.evaluate("trav-4", NEW_YORK.format(14),
                       self.at(20 * HOUR_MS + MIN_MS), device="phone-4")
        self.assertNoReasons(d, "IMPOSSIBLE_TRAVEL", "NEW_DEVICE")

    def test_travel_measured_from_last_successful_login(self):
        # a failed attempt from far away does not move the account's last
        # place: the travel is measured from the last success only
        c = self.start()
        self.establish("trav-5", LONDON.format(15), self.at(0), "phone-5")
        c.evaluate("trav-5", TOKYO.format(15), self.at(10 * MIN_MS),
                   device="x", cred="invalid", password="guess")
        d = c.evaluate("trav-5", NEW_YORK.format(15), self.at(30 * MIN_MS),
                       device="laptop-5")
        self.assertRegex(reasons(d)["IMPOSSIBLE_TRAVEL"].detail,
                         self.DETAIL)


# --------------------------------------------------------------------------
# a new device, a new country (R-DEVICE-1, R-GEO-1, R-GEO-2)


class NewContextTest(ScenarioCase):

    def test_new_device_new_country(self):
        c = self.start()
        self.establish("ctx-1", LONDON.format(20), self.at(0), "phone-1")
        d = c.evaluate("ctx-1", PARIS.format(20), self.at(2 * DAY_MS),
                       device="tablet-9")
        got = self.assertReasons(d, "NEW_DEVICE", "NEW_COUNTRY")
        self.assertIn("FR", got["NEW_COUNTRY"].detail)
        self.assertEqual(got["NEW_DEVICE"].rule_id, "R-DEVICE-1")
        self.assertEqual(got["NEW_COUNTRY"].rule_id, "R-GEO-1")
        # 15 + 20 + 5 = 40: a captcha
        self.assertScored(d, ["NEW_DEVICE", "NEW_COUNTRY", "NEW_ASN"])
        self.assertAction(d, "ACTION_CAPTCHA")

    def test_new_device_alone(self):
        c = self.start()
        self.establish("ctx-2", LONDON.format(21), self.at(0), "phone-2")
        d = c.evaluate("ctx-2", LONDON.format(22), self.at(DAY_MS),
                       device="tablet-2")
        self.assertScored(d, ["NEW_DEVICE"])

    def test_new_country_alone(self):
        c = self.start()
        self.establish("ctx-3", LONDON.format(23), self.at(0), "phone-3")
        d = c.evaluate("ctx-3", PARIS.format(23), self.at(DAY_MS),
                       device="phone-3")
        self.assertScored(d, ["NEW_COUNTRY", "NEW_ASN"])

    def test_no_device_id_on_established_account(self):
        c = self.start()
        self.establish("ctx-4", LONDON.format(24), self.at(0), "phone-4")
        d = c.evaluate("ctx-4", PARIS.format(24), self.at(DAY_MS))
        got = self.assertReasons(d, "NEW_DEVICE", "NEW_COUNTRY")
        self.assertIn("no device_id", got["NEW_DEVICE"].detail)

    def test_first_login_is_not_new(self):
        # with no history there is nothing to be new against
        c = self.start()
        d = c.evaluate("ctx-5", NEW_YORK.format(25), self.at(0),
                       device="phone-5")
        self.assertScored(d, [])


# --------------------------------------------------------------------------
# ReportOutcome: a passed challenge teaches the profile (R-OUT-1)


class OutcomeTest(ScenarioCase):

    def test_challenge_passed_makes_device_and_place_familiar(self):
        c = self.start()
        self.establish("out-1", LONDON.format(30), self.at(0), "phone-1")
        t = self.at(3 * DAY_MS)
        d = c.evaluate("out-1", NEW_YORK.format(30), t, device="laptop-1",
                       request_id="out-1-challenged")
        self.assertScored(d, ["NEW_DEVICE", "NEW_COUNTRY", "NEW_ASN"])
        ack = c.outcome("out-1-challenged", "out-1", "CHALLENGE_PASSED",
                        t + MIN_MS)
        self.assertTrue(ack.applied)
        self.assertFalse(c.outcome("out-1-challenged", "out-1",
                                   "CHALLENGE_PASSED", t + MIN_MS).applied)
        d = c.evaluate("out-1", NEW_YORK.format(31), t + HOUR_MS,
                       device="laptop-1")
        self.assertScored(d, [])
        self.assertAction(d, "ACTION_ALLOW")

    def test_challenge_failed_teaches_nothing(self):
        c = self.start()
        self.establish("out-2", LONDON.format(32), self.at(0), "phone-2")
        t = self.at(3 * DAY_MS)
        c.evaluate("out-2", NEW_YORK.format(32), t, device="laptop-2",
                   request_id="out-2-challenged")
        self.assertTrue(c.outcome("out-2-challenged", "out-2",
                                  "CHALLENGE_FAILED", t + MIN_MS).applied)
        d = c.evaluate("out-2", NEW_YORK.format(33), t + HOUR_MS,
                       device="laptop-2")
        self.assertReasons(d, "NEW_DEVICE", "NEW_COUNTRY")

    def test_challenged_login_not_learned_without_outcome(self):
        # R-LEARN-1: a valid password that was challenged is not learned by
        # itself
        c = self.start()
        self.establish("out-3", LONDON.format(34), self.at(0), "phone-3")
        t = self.at(3 * DAY_MS)
        c.evaluate("out-3", NEW_YORK.format(34), t, device="laptop-3")
        d = c.evaluate("out-3", NEW_YORK.format(35), t + HOUR_MS,
                       device="laptop-3")
        self.assertReasons(d, "NEW_DEVICE", "NEW_COUNTRY")


# --------------------------------------------------------------------------
# locks (R-STATE-1)


class LockTest(ScenarioCase):

    def fraud_lock(self, account, owner_ip, owner_device):
        """The owner logs in; an attacker's login from Tokyo is later
        confirmed as fraud, which locks the account. Returns the time of
        the confirmation."""
        c = self.c
        self.establish(account, owner_ip, self.at(0), owner_device)
        t = self.at(DAY_MS)
        d = c.evaluate(account, TOKYO.format(40), t, device="evil-1",
                       request_id=account + "-fraud")
        self.assertNotEqual(self.action(d), "ACTION_LOCK", describe(d))
        ack = c.outcome(account + "-fraud", account, "CONFIRMED_FRAUD",
                        t + MIN_MS)
        self.assertTrue(ack.applied)
        return t + MIN_MS

    def assertLocked(self, d, action="ACTION_LOCK"):
        got = self.assertReasons(d, "ACCOUNT_LOCKED")
        self.assertEqual(got["ACCOUNT_LOCKED"].rule_id, "R-STATE-1")
        self.assertAction(d, action)
        return got["ACCOUNT_LOCKED"]

    def test_confirmed_fraud_locks_unfamiliar_scope(self):
        c = self.start()
        t = self.fraud_lock("lock-1", LONDON.format(41), "phone-1")
        # the attacker again: locked (and its IP and device are marked)
        d = c.evaluate("lock-1", TOKYO.format(40), t + MIN_MS,
                       device="evil-1")
        lock = self.assertLocked(d)
        self.assertIn("auto:CONFIRMED_FRAUD", lock.detail)
        self.assertReasons(d, "FRAUD_IP", "FRAUD_DEVICE")
        # anyone else, even from the owner's usual place: locked
        for dev, cred in (("other", "valid"), ("", "precheck"),
                          ("other", "invalid")):
            d = c.evaluate("lock-1", LONDON.format(41), t + 2 * MIN_MS,
                           device=dev, cred=cred)
            self.assertLocked(d)
        # locks.auto_scope unfamiliar: the owner's known device gets 2FA
        d = c.evaluate("lock-1", LONDON.format(41), t + 3 * MIN_MS,
                       device="phone-1")
        lock = self.assertLocked(d, "ACTION_CHALLENGE_2FA")
        self.assertIn("known device gets 2FA", lock.detail)

    def test_confirmed_fraud_locks_all_scope(self):
        c = self.start(locks={"auto_scope": "all"})
        t = self.fraud_lock("lock-2", LONDON.format(42), "phone-2")
        for dev in ("phone-2", "other", ""):
            d = c.evaluate("lock-2", LONDON.format(42), t + MIN_MS,
                           device=dev)
            self.assertLocked(d)
        # a lock is a lock even when the attempt looks perfect
        self.assertEqual(d.score, 100, describe(d))

    def test_confirmed_fraud_with_locking_off(self):
        c = self.start(locks={"lock_on_confirmed_fraud": "false"})
        t = self.fraud_lock("lock-3", LONDON.format(43), "phone-3")
        d = c.evaluate("lock-3", LONDON.format(43), t + MIN_MS,
                       device="phone-3")
        self.assertNoReasons(d, "ACCOUNT_LOCKED")
        self.assertAction(d, "ACTION_ALLOW")

    def test_admin_lock_accounts(self):
        """LockAccounts with a responder token."""
        token = scenario.new_token()
        extra = scenario.admin_config(token)
        c = self.start(extra=extra)
        admin = scenario.Admin(self.agent, token)
        res = admin.lock(["adm-1", "adm-2"], "INC-1")
        self.assertEqual((res.matched, res.changed), (2, 2))
        d = c.evaluate("adm-1", LONDON.format(44), self.at(0),
                       device="phone")
        lock = self.assertLocked(d)
        self.assertIn("oncall", lock.detail)
        self.assertIn("scenario test", lock.detail)
        # an operator lock covers known devices too (scope all)
        self.establish("adm-3", LONDON.format(45), self.at(0), "phone-3")
        admin.lock(["adm-3"], "INC-2")
        self.assertLocked(c.evaluate("adm-3", LONDON.format(45),
                                     self.at(MIN_MS), device="phone-3"))
        # unlocked, the owner is back
        admin.unlock(["adm-3"], "INC-2")
        d = c.evaluate("adm-3", LONDON.format(45), self.at(2 * MIN_MS),
                       device="phone-3")
        self.assertNoReasons(d, "ACCOUNT_LOCKED")
        self.assertAction(d, "ACTION_ALLOW")


# --------------------------------------------------------------------------
# password spray (R-SPRAY-1, R-SPRAY-2)


class SprayTest(ScenarioCase):
    """The agent answers a failed password at once and fingerprints it
    afterwards on the spray pool (one thread here, so in order): an
    attempt's own fingerprint counts for later attempts only. The tests
    wait for the fingerprints on /metrics, never on time."""

    PASSWORD = b"Winter2024!"
    LIMIT = scenario.SPRAY["distinct_accounts"]  # 20

    def start(self, config=scenario.explicit_config, name="spray", **kw):
        agent = Agent(name)
        self.addCleanup(agent.finish)
        agent.start(config(agent, **kw), args=agent.metrics_args())
        self.agent = agent
        self.c = Client(agent)
        self.clock = Clock()
        return self.c

    def spray(self, n=50):
        """One password over @n accounts, each from its own IP (and its own
        /24, so no velocity signal fires): returns the decisions, once the
        pool has counted every fingerprint."""
        out = []
        for i in range(n):
            out.append(self.c.evaluate(
                "spray-victim-%02d" % i, unknown_ip(i),
                self.at(i * 20 * 1000), cred="invalid",
                password=self.PASSWORD))
        self.agent.wait_fingerprints(n)
        return out

    def test_one_password_50_accounts_50_ips(self):
        c = self.start()
        decisions = self.spray()
        # every answer came before its own fingerprint was counted, each
        # from a source not yet marked: nothing but the unknown place
        for d in decisions:
            self.assertScored(d, ["GEO_UNKNOWN"])
        self.assertEqual(self.agent.metric("loginrisk_spray_skipped_total"),
                         0)
        t = self.at(HOUR_MS)
        # the same password from a fresh IP on a fresh account: answered
        # before its fingerprint counts, then its IP is marked
        d = c.evaluate("spray-late", unknown_ip(200), t, cred="invalid",
                       password=self.PASSWORD)
        self.assertScored(d, ["GEO_UNKNOWN"])
        self.agent.wait_fingerprints(51)
        # later attempts from the sources, without any password: the IP
        # that crossed the limit, one after it, the one just before it
        # (marked retroactively), another IP in a source's /24, and the
        # late one
        for ip in (unknown_ip(self.LIMIT - 1), unknown_ip(45),
                   unknown_ip(self.LIMIT - 2), "198.19.45.99",
                   unknown_ip(200)):
            d = c.evaluate("someone-%s" % ip, ip, t + MIN_MS,
                           cred="precheck")
            got = self.assertReasons(d, "PASSWORD_SPRAY")
            self.assertEqual(got["PASSWORD_SPRAY"].rule_id, "R-SPRAY-1")
            self.assertIn("sprayed password", got["PASSWORD_SPRAY"].detail)
            # 40 + 5: a captcha, the signal's minimum
            self.assertScored(d, ["PASSWORD_SPRAY", "GEO_UNKNOWN"],
                              minimum="ACTION_CAPTCHA")
        # the first sources, before the slot's memory of 16, stay unmarked
        d = c.evaluate("someone-early", unknown_ip(0), t + MIN_MS,
                       cred="precheck")
        self.assertScored(d, ["GEO_UNKNOWN"])
        # another password from a fresh IP is not a spray
        d = c.evaluate("spray-other", unknown_ip(201), t + 2 * MIN_MS,
                       cred="invalid", password=b"correct horse battery")
        self.assertScored(d, ["GEO_UNKNOWN"])
        self.agent.wait_fingerprints(52)
        d = c.evaluate("someone-other", unknown_ip(201), t + 3 * MIN_MS,
                       cred="precheck")
        self.assertScored(d, ["GEO_UNKNOWN"])

    def test_valid_login_from_spray_source_locks(self):
        # R-SPRAY-2: the spray found a password: the account is flagged and
        # (locks.lock_on_spray_success) locked for unfamiliar contexts
        c = self.start()
        self.spray(self.LIMIT + 5)
        d = c.evaluate("spray-victim-22", unknown_ip(22), self.at(HOUR_MS),
                       device="bot")
        got = self.assertReasons(d, "PASSWORD_SPRAY", "ACCOUNT_LOCKED")
        self.assertIn("auto:PASSWORD_SPRAY", got["ACCOUNT_LOCKED"].detail)
        self.assertAction(d, "ACTION_LOCK")

    def test_answer_does_not_wait_for_fingerprint(self):
        # Argon2id made slow (16 passes over 16 MiB, one thread): four
        # failed passwords are all answered while the pool is still on
        # them, and their fingerprints land afterwards
        c = self.start(spray={"t_cost": 16, "m_cost_kib": 16384})
        for i in range(4):
            d = c.evaluate("slow-%d" % i, unknown_ip(i), self.at(i * 1000),
                           cred="invalid", password=self.PASSWORD)
            self.assertScored(d, ["GEO_UNKNOWN"])
        self.assertLess(
            self.agent.metric_needed(harness.SPRAY_FINGERPRINTS), 4)
        self.agent.wait_fingerprints(4, secs=60)
        self.assertEqual(self.agent.metric("loginrisk_spray_skipped_total"),
                         0)


# --------------------------------------------------------------------------
# credential stuffing and anti-DoS, on the default policy


class StuffingTest(ScenarioCase):

    TEST_TIMEOUT = 300

    def test_one_ip_300_accounts(self):
        c = self.start(scenario.default_config, "stuffing")
        # a Paris user with an established profile: their usual device, a
        # day before the attack, from another address of their ISP
        self.establish("paris-user", PARIS.format(5), self.at(0),
                       "paris-laptop")
        attacker = TOKYO.format(66)
        t = self.at(DAY_MS)
        first = None
        for i in range(300):
            d = c.evaluate("victim-%03d" % i, attacker, t + i * 1000,
                           cred="invalid", password="pw-%d" % i)
            self.assertNotEqual(self.action(d), "ACTION_LOCK", describe(d))
            first = first or d
        self.assertAction(first, "ACTION_ALLOW")
        # the last of them was already escalated
        self.assertReasons(d, "IP_DISTINCT_ACCOUNTS", "SUBNET_VELOCITY")
        self.assertAtLeast(d, "ACTION_CAPTCHA")
        t += 300 * 1000
        # later attempts from the attacker's IP, whatever the credential
        for i, cred in enumerate(("invalid", "precheck", "valid",
                                  "unknown")):
            d = c.evaluate("victim-late-%d" % i, attacker, t + i * 1000,
                           cred=cred)
            self.assertReasons(d, "IP_DISTINCT_ACCOUNTS", "SUBNET_VELOCITY")
            self.assertAtLeast(d, "ACTION_CAPTCHA")
            self.assertNotEqual(self.action(d), "ACTION_LOCK", describe(d))
        # another address in the attacker's /24, never seen before
        for i, cred in enumerate(("precheck", "invalid", "valid")):
            d = c.evaluate("neighbour-%d" % i, TOKYO.format(77),
                           t + (10 + i) * 1000, cred=cred)
            got = self.assertReasons(d, "SUBNET_VELOCITY")
            self.assertIn("203.0.113.0/24", got["SUBNET_VELOCITY"].detail)
            self.assertAtLeast(d, "ACTION_CAPTCHA")
        # meanwhile a fresh residential IP logs into its usual account
        d = c.evaluate("paris-user", PARIS.format(23), t + 20 * 1000,
                       device="paris-laptop")
        self.assertAction(d, "ACTION_ALLOW")
        self.assertNoReasons(d, "IP_DISTINCT_ACCOUNTS", "SUBNET_VELOCITY",
                             "IP_VELOCITY", "NEW_DEVICE", "NEW_COUNTRY")

    def test_1000_bad_passwords_never_lock(self):
        c = self.start(scenario.default_config, "dos")
        self.establish("owner", LONDON.format(44), self.at(0), "owner-phone")
        # the attacker rotates through Tor, a hosting provider, Tokyo, an
        # address next to the owner's (same /24 and ISP), unknown space,
        # with no device, random devices and even the owner's device id
        sources = [TOR.format(5), HOSTING.format(6), TOKYO.format(7),
                   LONDON.format(200), unknown_ip(9)]
        devices = ["", "bot-%d", "owner-phone"]
        t = self.at(HOUR_MS)
        seen = set()
        for i in range(1000):
            dev = devices[i % 3]
            d = c.evaluate("owner", sources[i % len(sources)],
                           t + i * 2000,
                           device=dev % i if "%" in dev else dev,
                           cred="invalid", password="guess-%d" % i)
            self.assertNotEqual(self.action(d), "ACTION_LOCK",
                                "attempt %d: %s" % (i, describe(d)))
            self.assertNoReasons(d, "ACCOUNT_LOCKED")
            seen.update(reasons(d))
        # the flood was seen for what it is
        self.assertIn("ACCOUNT_FAILURES", seen)
        t += 1000 * 2000
        # the owner, from home, on their own device, with their password
        d = c.evaluate("owner", LONDON.format(44), t + 1000,
                       device="owner-phone")
        self.assertNoReasons(d, "ACCOUNT_LOCKED")
        self.assertAtMost(d, "ACTION_CHALLENGE_2FA")
        # a pre-check before the password too
        d = c.evaluate("owner", LONDON.format(44), t + 2000,
                       device="owner-phone", cred="precheck")
        self.assertAtMost(d, "ACTION_CHALLENGE_2FA")


if __name__ == "__main__":
    unittest.main()
