"""test_replay.py - `riskctl replay`: recorded events through a draft policy
and a baseline, in-process.

Issue 4, done-means 4: a generated event file with a known attack wave,
replayed under the current policy (captcha at 35) and a draft with a lower
captcha threshold (20), shows exactly the expected counts: the wave's
attempts from a hosting network (HOSTING_IP, 20-30 points) move from
ALLOW to CAPTCHA, the legitimate logins stay ALLOW and the Tor attempts
stay CAPTCHA. Malformed lines are reported with their line numbers and
skipped. Without --baseline the decisions recorded in the lines (as in the
agent's decision log) are the baseline.

No agent runs here: replay needs only the config files and the fixture
geo databases they name.
"""

import json
import os
import random
import re
import shutil
import tempfile
import unittest

import harness
from harness import AgentTestCase, config_yaml

T0 = 1714521600000  # 2024-05-01T00:00:00Z
N_LEGIT, N_WAVE, N_TOR = 1000, 300, 50


class _Paths:
    """What config_yaml() needs from an agent, without an agent."""

    def __init__(self, d):
        self.tcp = "127.0.0.1:1"
        self.unix = "unix:" + os.path.join(d, "none.sock")
        self.state_dir = os.path.join(d, "state")


def events():
    """(lines, expected baseline action per good line). The legitimate
    logins are spread over the day; the wave is 300 failed passwords on 300
    accounts from a hosting /24 in ten minutes; Tor adds 50 more."""
    out = []
    for i in range(N_LEGIT):
        out.append(({"account_id": "user-%04d" % i,
                     "ip": "192.0.2.%d" % (1 + i % 250),
                     "timestamp_ms": T0 + i * 80000,
                     "credential": "CREDENTIAL_VALID",
                     "device_id": "dev-%04d" % i}, "ACTION_ALLOW"))
    for i in range(N_WAVE):
        out.append(({"account_id": "victim-%04d" % i,
                     "ip": "198.18.1.%d" % (1 + i % 40),
                     "timestamp_ms": T0 + 12 * 3600000 + i * 2000,
                     "credential": "invalid",
                     "user_agent": "python-requests/2.31"}, "ACTION_ALLOW"))
    for i in range(N_TOR):
        out.append(({"account_id": "victim-%04d" % i,
                     "ip": "198.18.3.%d" % (1 + i % 20),
                     "timestamp_ms": T0 + 12 * 3600000 + i * 3000 + 500,
                     "credential": 2}, "ACTION_CAPTCHA"))
    random.Random(4).shuffle(out)  # the file is not in time order
    return out


BAD = ["{not json",
       json.dumps({"account_id": "x", "ip": "999.1.1.1",
                   "timestamp_ms": T0}),
       json.dumps({"account_id": "x", "ip": "192.0.2.1"})]


class ReplayTest(AgentTestCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="lr-replay-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        paths = _Paths(self.dir)
        self.current = self.write("current.yaml",
                                  config_yaml(paths, version="current-7"))
        self.draft = self.write("draft.yaml", config_yaml(
            paths, version="draft-8", thresholds={"captcha": 20}))
        ev = events()
        lines = [json.dumps(e) for e, _ in ev]
        self.recorded = [dict(e, action=a, score=0) for e, a in ev]
        # the malformed lines at known places (1-based line numbers)
        self.bad_at = [1, 500, len(lines) + 3]
        for n, text in zip(self.bad_at, BAD):
            lines.insert(n - 1, text)
        lines.insert(700, "")  # blank lines are skipped silently
        self.bad_at[2] += 1
        self.events = self.write("events.jsonl", "\n".join(lines) + "\n")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def replay(self, *args):
        return harness.run([harness.env_path("LR_RISKCTL"), "replay"] +
                           list(args), secs=120)

    def check_counts(self, r):
        self.assertEqual(r["events"], N_LEGIT + N_WAVE + N_TOR)
        self.assertEqual(r["baseline"]["actions"]["ALLOW"], N_LEGIT + N_WAVE)
        self.assertEqual(r["baseline"]["actions"]["CAPTCHA"], N_TOR)
        self.assertEqual(r["draft"]["actions"]["ALLOW"], N_LEGIT)
        self.assertEqual(r["draft"]["actions"]["CAPTCHA"], N_WAVE + N_TOR)
        self.assertEqual(r["changed"], N_WAVE)
        flow = {(f["from"], f["to"]): f["count"] for f in r["flow"]}
        self.assertEqual(flow, {("ALLOW", "ALLOW"): N_LEGIT,
                                ("ALLOW", "CAPTCHA"): N_WAVE,
                                ("CAPTCHA", "CAPTCHA"): N_TOR})

    def test_lower_captcha_threshold_catches_the_wave(self):
        proc = self.replay("--config", self.draft, "--baseline", self.current,
                           "--json", "--sample", "5", self.events)
        r = harness.riskctl_json(proc)
        self.check_counts(r)
        self.assertEqual(r["baseline"]["policy_version"], "current-7")
        self.assertEqual(r["draft"]["policy_version"], "draft-8")
        reasons = {x["code"]: x for x in r["reasons"]}
        self.assertEqual(reasons["HOSTING_IP"]["decisions"], N_WAVE)
        self.assertEqual(reasons["HOSTING_IP"]["escalated"], N_WAVE)
        self.assertEqual(reasons["HOSTING_IP"]["added"], 0)
        self.assertEqual(len(r["sample"]), 5)
        for s in r["sample"]:
            self.assertTrue(s["account_id"].startswith("victim-"))
            self.assertTrue(s["ip"].startswith("198.18.1."))
            self.assertEqual((s["baseline"]["action"], s["draft"]["action"]),
                             ("ALLOW", "CAPTCHA"))
            self.assertIn("HOSTING_IP", s["draft"]["reasons"])
        # malformed lines: counted, listed by number, never fatal
        self.assertEqual(r["malformed"], 3)
        self.assertEqual([b["line"] for b in r["malformed_lines"]],
                         self.bad_at)
        self.assertIn("ip", r["malformed_lines"][1]["error"])
        self.assertIn("timestamp_ms", r["malformed_lines"][2]["error"])
        # time order: the first and last events of the day
        self.assertEqual(r["first_ms"], T0)
        self.assertEqual(r["last_ms"], T0 + (N_LEGIT - 1) * 80000)

    def test_text_report_and_bad_lines_on_stderr(self):
        proc = self.replay("--config", self.draft, "--baseline", self.current,
                           self.events)
        out, err = proc.stdout.decode(), proc.stderr.decode()
        self.assertEqual(proc.returncode, 0, err)
        self.assertIsNone(harness.sanitizer_report(err), err)
        self.assertRegex(out, r"ALLOW\s+-> CAPTCHA\s+%d" % N_WAVE)
        self.assertRegex(out, r"CAPTCHA\s+%d\s+%d\s+\+%d" %
                         (N_TOR, N_WAVE + N_TOR, N_WAVE))
        self.assertRegex(out, r"HOSTING_IP\s+%d" % N_WAVE)
        self.assertIn("changed decisions: %d" % N_WAVE, out)
        for n in self.bad_at:
            self.assertIn("events.jsonl:%d: " % n, err)

    def test_recorded_decisions_are_the_default_baseline(self):
        lines = [json.dumps(e) for e in self.recorded]
        path = self.write("declog.jsonl", "\n".join(lines) + "\n")
        r = harness.riskctl_json(self.replay("--config", self.draft, "--json",
                                             path))
        self.check_counts(r)
        self.assertEqual(r["baseline"]["source"], "recorded")
        self.assertEqual(r["malformed"], 0)

    def test_stdin_and_bad_config(self):
        with open(self.events, "rb") as f:
            data = f.read()
        proc = harness.run([harness.env_path("LR_RISKCTL"), "replay",
                            "--config", self.draft, "--baseline",
                            self.current, "--json", "-"], input_bytes=data,
                           secs=120)
        self.check_counts(harness.riskctl_json(proc))
        with open(self.draft) as f:
            text = f.read()
        broken = self.write("broken.yaml", text.replace(
            "  thresholds:", "  thresholds:\n    captcha: lots"))
        proc = self.replay("--config", broken, self.events)
        self.assertEqual(proc.returncode, 1)
        self.assertTrue(re.search(r"broken\.yaml:\d+:", proc.stderr.decode()),
                        proc.stderr.decode())
        proc = self.replay(self.events)
        self.assertEqual(proc.returncode, 2)


if __name__ == "__main__":
    unittest.main()
