"""test_config.py - config files, --check-config and SIGHUP reloads.

Issue 2, done-means 4: the example config loads; each kind of mistake
(unknown key, wrong type, out-of-range weight, missing database file, ...)
gives "file:line:" errors and a non-zero exit; SIGHUP with a broken file
keeps the old policy (observable: the same policy_version and action in a
decision) and SIGHUP with a good changed file switches to it.

Reloads are synchronised without sleeping on the clock: a refused reload is
seen by waiting for the agent to log the file's error ("path:line:"), an
accepted one by polling Evaluate until the new policy_version answers.
"""

import os
import re
import signal
import time
import unittest

import harness
from harness import Agent, AgentTestCase, config_yaml

TOR = "198.18.3.10"
LONDON = "192.0.2.10"


def line_of(text, needle):
    """1-based number of the first line of @text containing @needle."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in config:\n%s" % (needle, text))


def insert_after(text, needle, new_line):
    """@text with @new_line inserted after the line containing @needle;
    returns (text, line number of the new line)."""
    lines = text.splitlines()
    n = line_of(text, needle)
    lines.insert(n, new_line)
    return "\n".join(lines) + "\n", n + 1


def replace_line(text, needle, new_line):
    """@text with the line containing @needle replaced; returns (text, n)."""
    lines = text.splitlines()
    n = line_of(text, needle)
    lines[n - 1] = new_line
    return "\n".join(lines) + "\n", n


class CheckConfigTest(AgentTestCase):
    """--check-config on files with one kind of mistake each."""

    def setUp(self):
        super().setUp()
        self.agent = Agent("check")
        self.addCleanup(self.agent.cleanup)
        self.good = config_yaml(self.agent)

    def check(self, text, *extra):
        path = self.agent.write_config(text)
        return harness.run([harness.env_path("LR_AGENT"), "--check-config",
                            "--config", path] + list(extra))

    def assertRefused(self, text, line, word=None):
        """--check-config exits non-zero and names path:line (and @word)."""
        proc = self.check(text)
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        self.assertNotEqual(proc.returncode, 0, out)
        self.assertIsNone(harness.sanitizer_report(out), out)
        self.assertIn("%s:%d:" % (self.agent.config_path, line), out)
        if word:
            self.assertIn(word, out)
        return out

    def test_good_config_passes(self):
        proc = self.check(self.good)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())

    def test_example_config_loads(self):
        example = os.path.join(harness.env_path("LR_SOURCE_DIR"),
                               "config/loginrisk.example.yaml")
        proc = harness.run([harness.env_path("LR_AGENT"), "--check-config",
                            "--config", example,
                            "--state-dir", self.agent.state_dir,
                            "--geo-city", harness.db_path("city"),
                            "--geo-asn", harness.db_path("asn"),
                            "--geo-anonymous", harness.db_path("anonymous")])
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())

    def test_embedded_default_checks(self):
        proc = harness.run([harness.env_path("LR_AGENT"), "--check-config",
                            "--state-dir", self.agent.state_dir])
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())

    def test_unknown_key(self):
        text, n = insert_after(self.good, "workers:", "  frobnicate: 3")
        self.assertRefused(text, n, "frobnicate")

    def test_unknown_section(self):
        text = self.good + "polcy:\n  version: x\n"
        self.assertRefused(text, line_of(text, "polcy:"), "polcy")

    def test_unknown_signal(self):
        text, n = insert_after(self.good, "signals:",
                               "    TOR_EXITS: {points: 5}")
        self.assertRefused(text, n, "TOR_EXITS")

    def test_wrong_type(self):
        text, n = replace_line(self.good, "workers:", "  workers: many")
        self.assertRefused(text, n, "workers")

    def test_wrong_type_list_for_scalar(self):
        text, n = replace_line(self.good, "captcha:", "    captcha: [1, 2]")
        self.assertRefused(text, n, "captcha")

    def test_weight_out_of_range(self):
        text, n = replace_line(self.good, "TOR_EXIT:",
                               "    TOR_EXIT: {points: 250}")
        self.assertRefused(text, n, "points")

    def test_negative_weight(self):
        text, n = replace_line(self.good, "HOSTING_IP:",
                               "    HOSTING_IP: {points: -5}")
        self.assertRefused(text, n, "points")

    def test_threshold_out_of_range(self):
        text, n = replace_line(self.good, "challenge_2fa:",
                               "    challenge_2fa: 500")
        self.assertRefused(text, n, "challenge_2fa")

    def test_missing_database_file(self):
        missing = os.path.join(self.agent.dir, "no-such-city.mmdb")
        text, n = replace_line(self.good, "  city:",
                               "  city: %s" % harness.yaml_str(missing))
        self.assertRefused(text, n, "no-such-city.mmdb")

    def test_corrupt_database_file(self):
        bad = os.path.join(self.agent.dir, "corrupt.mmdb")
        with open(bad, "wb") as f:
            f.write(b"this is not a MaxMind database" * 100)
        text, _ = replace_line(self.good, "  city:",
                               "  city: %s" % harness.yaml_str(bad))
        proc = self.check(text)
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        self.assertNotEqual(proc.returncode, 0, out)
        self.assertIn("corrupt.mmdb", out)

    def test_yaml_syntax_error(self):
        text = self.good + "policy: [unclosed\n"
        self.assertRefused(text, line_of(text, "[unclosed"))

    def test_every_mistake_reported(self):
        text, n1 = insert_after(self.good, "workers:", "  frobnicate: 3")
        text, n2 = replace_line(text, "TOR_EXIT:",
                                "    TOR_EXIT: {points: 250}")
        out = self.assertRefused(text, n1, "frobnicate")
        self.assertIn("%s:%d:" % (self.agent.config_path, n2), out)

    def test_start_refuses_broken_config(self):
        text, n = insert_after(self.good, "workers:", "  frobnicate: 3")
        self.agent.start(text, wait=False)
        code = self.agent.proc.wait(timeout=harness.timeout(30))
        self.assertNotEqual(code, 0)
        self.assertIn("%s:%d:" % (self.agent.config_path, n),
                      self.agent.stderr())


class ReloadTest(AgentTestCase):
    """SIGHUP: a broken file keeps the old policy, a good one switches."""

    TEST_TIMEOUT = 90

    def setUp(self):
        super().setUp()
        self.agent = Agent("reload")
        self.addCleanup(self.agent.cleanup)
        self.agent.start(config_yaml(self.agent, version="policy-A"))
        self.assertPolicy("policy-A", "ACTION_CAPTCHA")

    def tearDown(self):
        self.agent.stop()
        super().tearDown()

    def decide(self, ip=TOR):
        return self.agent.evaluate(account_id="reload", ip=ip)

    def assertPolicy(self, version, tor_action):
        s = harness.stubs()
        d = self.decide()
        self.assertEqual(d.policy_version, version)
        self.assertEqual(s.risk_pb2.Action.Name(d.action), tor_action)

    def hup_refused(self, text, pattern):
        """Writes @text, sends SIGHUP, waits for the refusal in the log."""
        mark = len(self.agent.stderr())
        if text is not None:
            self.agent.write_config(text)
        self.agent.signal(signal.SIGHUP)
        self.agent.wait_log(pattern, start=mark)

    def hup_switch(self, text, version, secs=15):
        """Writes @text, sends SIGHUP, polls until @version answers."""
        self.agent.write_config(text)
        self.agent.signal(signal.SIGHUP)
        deadline = time.monotonic() + harness.timeout(secs)
        while self.decide().policy_version != version:
            self.assertLess(time.monotonic(), deadline,
                            "reload to %s never applied\n%s" %
                            (version, self.agent.describe()))
            time.sleep(0.02)

    def changed(self, version="policy-B"):
        # captcha 20 / 2FA 40: a Tor exit (40, or 50 with ANONYMOUS_IP) now
        # gets a 2FA challenge instead of a captcha
        return config_yaml(self.agent, version=version,
                           thresholds={"captcha": 20, "challenge_2fa": 40})

    def test_reload_good_file_switches(self):
        self.hup_switch(self.changed(), "policy-B")
        self.assertPolicy("policy-B", "ACTION_CHALLENGE_2FA")
        self.assertEqual(self.decide(LONDON).action,
                         harness.stubs().risk_pb2.ACTION_ALLOW)

    def test_reload_broken_file_keeps_policy(self):
        text, n = insert_after(self.changed(), "workers:", "  frobnicate: 3")
        self.hup_refused(text, re.escape("%s:%d:" % (self.agent.config_path,
                                                     n)))
        self.assertPolicy("policy-A", "ACTION_CAPTCHA")
        # and a good file after the broken one still switches
        self.hup_switch(self.changed("policy-C"), "policy-C")
        self.assertPolicy("policy-C", "ACTION_CHALLENGE_2FA")

    def test_reload_out_of_range_keeps_policy(self):
        text, n = replace_line(self.changed(), "TOR_EXIT:",
                               "    TOR_EXIT: {points: 250}")
        self.hup_refused(text, re.escape("%s:%d:" % (self.agent.config_path,
                                                     n)))
        self.assertPolicy("policy-A", "ACTION_CAPTCHA")

    def test_reload_missing_file_keeps_policy(self):
        os.unlink(self.agent.config_path)
        self.hup_refused(None, re.escape(self.agent.config_path))
        self.assertPolicy("policy-A", "ACTION_CAPTCHA")

    def test_reload_corrupt_database_keeps_policy(self):
        bad = os.path.join(self.agent.dir, "corrupt.mmdb")
        with open(bad, "wb") as f:
            f.write(b"\x00garbage" * 1000)
        text, _ = replace_line(self.changed(), "  city:",
                               "  city: %s" % harness.yaml_str(bad))
        self.hup_refused(text, re.escape("corrupt.mmdb"))
        self.assertPolicy("policy-A", "ACTION_CAPTCHA")
        self.assertEqual(self.decide(LONDON).geo.city, "London")

    def test_reload_storm(self):
        # many SIGHUPs in a row while serving: no crash, last file wins
        for i in range(10):
            self.agent.write_config(self.changed("storm-%d" % i))
            self.agent.signal(signal.SIGHUP)
            self.decide()
        self.hup_switch(self.changed("storm-final"), "storm-final")


class OverrideTest(AgentTestCase):
    """Command-line flags override the file."""

    def test_listen_flag(self):
        agent = Agent("override")
        self.addCleanup(agent.cleanup)
        port = harness.free_port()
        target = "127.0.0.1:%d" % port
        agent.start(config_yaml(agent), args=["--listen", target],
                    target=target)
        d = agent.evaluate(target=target, account_id="o", ip=LONDON)
        self.assertEqual(d.geo.city, "London")
        agent.stop()


if __name__ == "__main__":
    unittest.main()
