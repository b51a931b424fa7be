"""test_durability.py - state that must survive the agent: a clean restart
and kill -9.

Issue 3, done-means 2: locks, known devices and the last login place
survive a restart on the same state dir, after SIGTERM and after kill -9;
a lock acknowledged just before kill -9 is there after the restart.

What is promised when (DESIGN.md, "State"):

  locks             durable before the RPC that placed them answers (here:
                    ReportOutcome OUTCOME_CONFIRMED_FRAUD, an automatic
                    lock); the kill -9 test kills the agent the moment the
                    last acknowledgement arrives, with no wait at all.
  profiles          (known devices, countries and networks seen, the last
                    successful login's place and time) are queued to the
                    store's writer thread, which commits in batches (at
                    least every ~50 ms); the gRPC threads never wait on
                    disk for them. A clean stop (SIGTERM) drains the queue,
                    so the restart test does not wait. After kill -9, a
                    profile change still in the queue is lost by design, so
                    that test first polls the SQLite file (Python sqlite3,
                    read-only, the `profiles` table) until the profile is
                    committed and only then kills: it checks that what was
                    committed comes back, not that queued writes are
                    durable. Only LOCKS are promised durable at
                    acknowledgement.

The in-memory state (velocity counters, fraud marks on IPs and devices, the
recent decisions ReportOutcome joins to) is not promised to survive and is
not checked here. Time moves only through timestamp_ms.
"""

import os
import re
import unittest

import harness
import scenario
from harness import Agent, AgentTestCase
from scenario import (DAY_MS, HOUR_MS, LONDON, MIN_MS, NEW_YORK, TOKYO,
                      Client, Clock, action_name, describe, reasons,
                      unknown_ip)

BURST = 25  # locks placed back to back just before kill -9


class DurabilityTest(AgentTestCase):

    TEST_TIMEOUT = 180

    def setUp(self):
        super().setUp()
        self.agent = Agent("durable")
        self.addCleanup(self.agent.finish)
        self.token = scenario.new_token()
        self.admin_extra = scenario.admin_config(self.token)
        self.agent.start(scenario.explicit_config(self.agent,
                                                  extra=self.admin_extra))
        self.clock = Clock()
        self.c = Client(self.agent)
        self.runs = 0

    def at(self, ms):
        return self.clock.at(ms)

    # ---- life cycle

    def keep_log(self):
        """Keeps the output of the run that just ended next to the new
        one (start() truncates agent.stderr)."""
        self.runs += 1
        path = self.agent.stderr_path
        if os.path.exists(path):
            os.replace(path, "%s.%d" % (path, self.runs))

    def restart(self):
        self.keep_log()
        self.agent.start()
        self.c = Client(self.agent)

    def kill9(self):
        """SIGKILL, no drain, no flush; then the output must hold no
        sanitizer report."""
        self.agent.kill()
        out = self.agent.stderr()
        self.assertIsNone(harness.sanitizer_report(out), out[-6000:])

    # ---- the state before

    def assertAction(self, d, name):
        self.assertEqual(action_name(d.action), name, describe(d))

    def learn_owner(self):
        """dur-owner's first valid login from London on dur-phone: learned
        as its known device, country, network and last place at t0."""
        d = self.c.evaluate("dur-owner", LONDON.format(50), self.at(0),
                            device="dur-phone")
        self.assertAction(d, "ACTION_ALLOW")

    def fraud_lock(self, account, ts, owner_device=None):
        """An attacker's login to @account from Tokyo, confirmed as fraud:
        an automatic lock (scope unfamiliar, until unlocked). With
        @owner_device the owner logs in from London first."""
        if owner_device:
            d = self.c.evaluate(account, LONDON.format(51), ts - HOUR_MS,
                                device=owner_device)
            self.assertAction(d, "ACTION_ALLOW")
        rid = account + "-fraud"
        self.c.evaluate(account, TOKYO.format(51), ts, device="evil",
                        request_id=rid)
        ack = self.c.outcome(rid, account, "CONFIRMED_FRAUD", ts)
        self.assertTrue(ack.applied)

    # ---- the state after

    def assertOwnerRemembered(self):
        # the last place and time: New York 30 minutes after the London
        # login is impossible travel from London (a pre-check, so nothing
        # is learned from it); the countries seen: US is new
        d = self.c.evaluate("dur-owner", NEW_YORK.format(50),
                            self.at(30 * MIN_MS), device="dur-laptop",
                            cred="precheck")
        got = reasons(d)
        self.assertIn("IMPOSSIBLE_TRAVEL", got, describe(d))
        self.assertRegex(got["IMPOSSIBLE_TRAVEL"].detail,
                         r" km in 30 min from London, GB ")
        self.assertIn("NEW_COUNTRY", got, describe(d))
        self.assertIn("NEW_DEVICE", got, describe(d))
        # the known device: the same place and device are not new
        d = self.c.evaluate("dur-owner", LONDON.format(52),
                            self.at(2 * HOUR_MS), device="dur-phone")
        self.assertEqual(list(reasons(d)), [], describe(d))
        self.assertAction(d, "ACTION_ALLOW")

    def assertLocked(self, account, ts, device="someone",
                     action="ACTION_LOCK", source="auto:CONFIRMED_FRAUD"):
        # from unknown address space, away from the owner's /24 (whose
        # counters assertOwnerRemembered must find clean)
        d = self.c.evaluate(account, unknown_ip(53), ts, device=device)
        got = reasons(d)
        self.assertIn("ACCOUNT_LOCKED", got, describe(d))
        self.assertRegex(got["ACCOUNT_LOCKED"].detail, re.escape(source))
        self.assertAction(d, action)

    # ---- tests

    def test_clean_restart(self):
        self.learn_owner()
        self.fraud_lock("dur-locked", self.at(DAY_MS), "locked-phone")
        self.assertLocked("dur-locked", self.at(DAY_MS + MIN_MS))
        self.assertEqual(self.agent.stop(), 0)
        self.restart()
        self.assertOwnerRemembered()
        self.assertLocked("dur-locked", self.at(DAY_MS + 2 * MIN_MS))
        # the lock's scope survived too: the owner's device gets 2FA
        self.assertLocked("dur-locked", self.at(DAY_MS + 3 * MIN_MS),
                          device="locked-phone",
                          action="ACTION_CHALLENGE_2FA")
        # an account that was never locked is not locked now
        d = self.c.evaluate("dur-free", LONDON.format(54),
                            self.at(DAY_MS), device="p")
        self.assertAction(d, "ACTION_ALLOW")

    def test_restart_twice(self):
        # state written by a restarted agent survives the next restart
        self.learn_owner()
        self.agent.stop()
        self.restart()
        self.fraud_lock("dur-second", self.at(DAY_MS))
        self.agent.stop()
        self.restart()
        self.assertOwnerRemembered()
        self.assertLocked("dur-second", self.at(DAY_MS + MIN_MS))

    def test_kill_9(self):
        self.learn_owner()
        self.fraud_lock("dur-locked", self.at(DAY_MS), "locked-phone")
        # known devices and the last place are queued writes: wait until
        # the writer has committed them (see the module comment)
        scenario.wait_profile(self.agent, "dur-owner", self.at(0),
                              "dur-phone")
        scenario.wait_profile(self.agent, "dur-locked", self.at(DAY_MS) -
                              HOUR_MS, "locked-phone")
        # a burst of locks, each acknowledged, then kill -9 at once
        t = self.at(2 * DAY_MS)
        ids = ["dur-burst-%02d" % i for i in range(BURST)]
        for i, account in enumerate(ids):
            self.c.evaluate(account, TOKYO.format(60), t + i * 1000,
                            device="evil", request_id=account + "-fraud")
        for i, account in enumerate(ids):
            ack = self.c.outcome(account + "-fraud", account,
                                 "CONFIRMED_FRAUD", t + i * 1000)
            self.assertTrue(ack.applied)
        self.kill9()
        self.restart()
        for i, account in enumerate(ids):
            self.assertLocked(account, t + HOUR_MS + i * 1000)
        self.assertLocked("dur-locked", self.at(DAY_MS + MIN_MS))
        self.assertLocked("dur-locked", self.at(DAY_MS + 2 * MIN_MS),
                          device="locked-phone",
                          action="ACTION_CHALLENGE_2FA")
        self.assertOwnerRemembered()

    def test_kill_9_admin_lock(self):
        # LockAccounts (operator locks, one durable transaction per batch):
        # a batch and then single locks, kill -9 the moment the last
        # answer arrives
        admin = scenario.Admin(self.agent, self.token)
        batch = ["dur-op-%03d" % i for i in range(200)]
        res = admin.lock(batch, "INC-9")
        self.assertEqual(res.changed, len(batch))
        singles = ["dur-op-single-%d" % i for i in range(10)]
        for account in singles:
            self.assertEqual(admin.lock([account], "INC-10").changed, 1)
        self.kill9()
        self.restart()
        t = self.at(DAY_MS)
        for i, account in enumerate(batch[::20] + singles):
            self.assertLocked(account, t + i * 1000, source="oncall")
        # and an unlock acknowledged before kill -9 stays unlocked
        admin = scenario.Admin(self.agent, self.token)
        self.assertEqual(admin.unlock([batch[0]], "INC-11").changed, 1)
        self.kill9()
        self.restart()
        d = self.c.evaluate(batch[0], unknown_ip(53), t + HOUR_MS,
                            device="someone")
        self.assertNotIn("ACCOUNT_LOCKED", reasons(d), describe(d))
        self.assertLocked(batch[1], t + HOUR_MS, source="oncall")

    def test_kill_9_twice(self):
        # kill -9 right after the restart that followed a kill -9: the
        # state file recovered once recovers again
        self.fraud_lock("dur-k1", self.at(DAY_MS))
        self.kill9()
        self.restart()
        self.fraud_lock("dur-k2", self.at(DAY_MS + MIN_MS))
        self.kill9()
        self.restart()
        self.assertLocked("dur-k1", self.at(DAY_MS + HOUR_MS))
        self.assertLocked("dur-k2", self.at(DAY_MS + HOUR_MS))


if __name__ == "__main__":
    unittest.main()
