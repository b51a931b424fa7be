"""test_serve.py - Evaluate, ReportOutcome and Health/Check end to end.

Issue 2, done-means 2: the real agent on loopback TCP and on a unix socket,
called from Python grpcio and from the C client (riskctl). The fixture
databases map documentation ranges to places (data/geo-fixtures.json):
192.0.2.0/24 London, 198.18.1.0/24 a hosting provider, 198.18.2.0/24 a VPN,
198.18.3.0/24 a Tor exit, 198.19.0.0/16 nowhere. The test config
(harness.config_yaml) gives the geo signals fixed points and switches the
others off, so each decision is known in advance.
"""

import unittest

from google.protobuf import json_format

import harness
import grpc  # after harness: it sets GRPC_ENABLE_FORK_SUPPORT
from harness import (GEO_POINTS, AgentTestCase, expected_action, now_ms,
                     riskctl_json, stubs)

LONDON = {"country": "GB", "city": "London", "latitude": 51.5074,
          "longitude": -0.1278, "accuracy_radius_km": 10, "asn": 64500,
          "as_org": "Example Broadband GB"}


def as_dict(decision):
    """A Decision as riskctl --json prints it (proto names, all fields)."""
    return json_format.MessageToDict(
        decision, preserving_proto_field_name=True,
        including_default_value_fields=True)


class ServeTest(AgentTestCase):

    @classmethod
    def setUpClass(cls):
        cls.agent = harness.start_shared_agent(cls, harness.config_yaml,
                                               "serve")

    # ---- helpers

    def assertLondon(self, geo):
        for key, want in LONDON.items():
            if isinstance(want, float):
                self.assertAlmostEqual(geo[key], want, places=4, msg=key)
            else:
                self.assertEqual(geo[key], want, key)

    def assertScored(self, d, code):
        """@code is among the reasons with its configured points; the score
        is the capped sum of the reasons; the action follows the
        thresholds."""
        reasons = {r["code"]: r["points"] for r in d["reasons"]}
        self.assertIn(code, reasons, "reasons: %r" % d["reasons"])
        self.assertEqual(reasons[code], GEO_POINTS[code])
        self.assertEqual(d["score"], min(100, sum(reasons.values())))
        self.assertEqual(d["action"], expected_action(d["score"]))

    def evaluate(self, ip, target=None, **fields):
        fields.setdefault("account_id", "alice")
        return as_dict(self.agent.evaluate(target=target, ip=ip, **fields))

    def riskctl_evaluate(self, ip, target=None, *extra):
        proc = self.agent.riskctl("evaluate", "--account", "alice", "--ip",
                                  ip, "--timestamp-ms", str(now_ms()),
                                  "--json", *extra, target=target)
        return riskctl_json(proc)

    # ---- Health/Check

    def check_health_python(self, target):
        s = stubs()
        r = self.agent.health(target).Check(s.health_pb2.HealthCheckRequest(),
                                            timeout=harness.timeout(5))
        self.assertEqual(r.status, s.health_pb2.HealthCheckResponse.SERVING)

    def test_health_python_tcp(self):
        self.check_health_python(self.agent.tcp)

    def test_health_python_unix(self):
        self.check_health_python(self.agent.unix)

    def test_health_named_service(self):
        s = stubs()
        r = self.agent.health().Check(
            s.health_pb2.HealthCheckRequest(service="loginrisk.v1.RiskService"),
            timeout=harness.timeout(5))
        self.assertEqual(r.status, s.health_pb2.HealthCheckResponse.SERVING)

    def test_health_unknown_service(self):
        s = stubs()
        self.assertRpcError(
            grpc.StatusCode.NOT_FOUND, self.agent.health().Check,
            s.health_pb2.HealthCheckRequest(service="no.such.Service"),
            timeout=harness.timeout(5))

    def test_health_riskctl_tcp(self):
        proc = self.agent.riskctl("health")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.decode().strip(), "SERVING")

    def test_health_riskctl_unix_json(self):
        proc = self.agent.riskctl("health", "--json", target=self.agent.unix)
        self.assertEqual(riskctl_json(proc), {"status": "SERVING"})

    # ---- Evaluate: geo

    def test_evaluate_london_python_tcp(self):
        d = self.evaluate("192.0.2.10")
        self.assertLondon(d["geo"])
        self.assertEqual(d["action"], "ACTION_ALLOW")
        self.assertEqual(d["policy_version"], "it-1")

    def test_evaluate_london_python_unix(self):
        d = self.evaluate("192.0.2.10", target=self.agent.unix)
        self.assertLondon(d["geo"])

    def test_evaluate_london_riskctl_tcp(self):
        d = self.riskctl_evaluate("192.0.2.10")
        self.assertLondon(d["geo"])
        self.assertEqual(d["action"], "ACTION_ALLOW")
        self.assertEqual(d["policy_version"], "it-1")

    def test_evaluate_london_riskctl_unix(self):
        d = self.riskctl_evaluate("192.0.2.10", self.agent.unix)
        self.assertLondon(d["geo"])

    def test_evaluate_riskctl_matches_python(self):
        py = self.evaluate("198.18.3.10", request_id="same-1")
        c = self.riskctl_evaluate("198.18.3.10", None, "--request-id",
                                  "same-1")
        self.assertEqual(c, py)

    def test_evaluate_riskctl_readable(self):
        proc = self.agent.riskctl("evaluate", "--account", "alice", "--ip",
                                  "198.18.3.10")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = proc.stdout.decode()
        self.assertRegex(out, r"action:\s+CAPTCHA")
        self.assertRegex(out, r"\+40\s+TOR_EXIT")
        self.assertIn("Berlin", out)
        self.assertIn("AS64513", out)

    def test_evaluate_ipv4_mapped_folds(self):
        self.assertLondon(self.evaluate("::ffff:192.0.2.10")["geo"])

    def test_evaluate_ipv6_most_specific(self):
        self.assertEqual(self.evaluate("2001:db8:1::1")["geo"]["city"],
                         "Singapore")
        self.assertEqual(self.evaluate("2001:db8::1")["geo"]["city"],
                         "Sydney")

    def test_evaluate_hosting(self):
        d = self.evaluate("198.18.1.10")
        self.assertScored(d, "HOSTING_IP")
        self.assertTrue(d["geo"]["is_hosting"])

    def test_evaluate_vpn(self):
        d = self.evaluate("198.18.2.10")
        self.assertScored(d, "ANONYMOUS_IP")
        self.assertTrue(d["geo"]["is_anonymous"])

    def test_evaluate_tor(self):
        d = self.evaluate("198.18.3.10")
        self.assertScored(d, "TOR_EXIT")
        self.assertTrue(d["geo"]["is_tor"])
        self.assertEqual(d["action"], "ACTION_CAPTCHA")

    def test_evaluate_tor_riskctl(self):
        d = self.riskctl_evaluate("198.18.3.10")
        self.assertScored(d, "TOR_EXIT")
        self.assertEqual(d["action"], "ACTION_CAPTCHA")

    def test_evaluate_unknown_ip(self):
        d = self.evaluate("198.19.0.1")
        self.assertScored(d, "GEO_UNKNOWN")
        self.assertEqual(d["geo"]["country"], "")
        self.assertEqual(d["geo"]["asn"], 0)

    def test_evaluate_non_ascii_city(self):
        # São Paulo: UTF-8 passes through the agent, jansson and riskctl
        self.assertEqual(self.evaluate("198.18.4.10")["geo"]["city"],
                         "S\u00e3o Paulo")
        self.assertEqual(self.riskctl_evaluate("198.18.4.10")["geo"]["city"],
                         "S\u00e3o Paulo")
        proc = self.agent.riskctl("evaluate", "--account", "alice", "--ip",
                                  "198.18.4.10")
        self.assertIn("S\u00e3o Paulo", proc.stdout.decode())

    def test_evaluate_reasons_have_detail(self):
        for r in self.evaluate("198.18.3.10")["reasons"]:
            self.assertTrue(r["detail"], "reason without detail: %r" % r)

    # ---- Evaluate: request ids

    def test_request_id_echoed(self):
        self.assertEqual(self.evaluate("192.0.2.10",
                                       request_id="it-req-1")["request_id"],
                         "it-req-1")

    def test_request_id_generated(self):
        a = self.evaluate("192.0.2.10")["request_id"]
        b = self.evaluate("192.0.2.10")["request_id"]
        self.assertTrue(a)
        self.assertNotEqual(a, b)

    # ---- passwords through riskctl (read from stdin only)

    def test_riskctl_password_stdin_invalid(self):
        proc = self.agent.riskctl(
            "evaluate", "--account", "alice", "--ip", "192.0.2.10",
            "--credential", "invalid", "--password-stdin", "--json",
            input_bytes=b"hunter2\n")
        d = riskctl_json(proc)
        self.assertNotIn(b"hunter2", proc.stdout)
        self.assertIn(d["action"], ("ACTION_ALLOW", "ACTION_CAPTCHA"))

    def test_riskctl_password_with_valid_refused(self):
        proc = self.agent.riskctl(
            "evaluate", "--account", "alice", "--ip", "192.0.2.10",
            "--credential", "valid", "--password-stdin",
            input_bytes=b"hunter2\n")
        self.assertEqual(proc.returncode, 1)
        err = proc.stderr.decode()
        self.assertIn("INVALID_ARGUMENT", err)
        self.assertIn("attempted_password", err)
        self.assertNotIn("hunter2", err)

    # ---- ReportOutcome

    def test_outcome_unknown_request_id_python(self):
        s = stubs()
        self.assertRpcError(
            grpc.StatusCode.NOT_FOUND, self.agent.risk().ReportOutcome,
            s.risk_pb2.Outcome(request_id="never-seen", account_id="alice",
                               kind=s.risk_pb2.OUTCOME_CHALLENGE_PASSED,
                               timestamp_ms=now_ms()),
            timeout=harness.timeout(5))

    def test_outcome_unknown_request_id_riskctl(self):
        proc = self.agent.riskctl("outcome", "--request-id", "never-seen",
                                  "--account", "alice", "--kind",
                                  "captcha_passed")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("NOT_FOUND", proc.stderr.decode())

    def test_outcome_known_request_id(self):
        self.evaluate("198.18.3.10", request_id="it-outcome-1")
        proc = self.agent.riskctl("outcome", "--request-id", "it-outcome-1",
                                  "--account", "alice", "--kind",
                                  "captcha_passed", "--json")
        self.assertEqual(riskctl_json(proc)["request_id"], "it-outcome-1")

    # ---- riskctl itself

    def test_riskctl_target_from_env(self):
        proc = harness.run([harness.env_path("LR_RISKCTL"), "health"],
                           env={"RISKCTL_TARGET": self.agent.unix})
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_riskctl_unreachable(self):
        proc = harness.run([harness.env_path("LR_RISKCTL"), "--target",
                            "127.0.0.1:%d" % harness.free_port(),
                            "--timeout-ms", "2000", "health"])
        self.assertEqual(proc.returncode, 1)
        self.assertIn("UNAVAILABLE", proc.stderr.decode())

    def test_riskctl_usage_errors(self):
        ctl = harness.env_path("LR_RISKCTL")
        for args in (["nope"], ["evaluate", "--bogus"], [],
                     ["evaluate", "--credential", "maybe"],
                     ["outcome", "--kind", "x"], ["health", "extra"],
                     ["--timeout-ms", "soon", "health"]):
            proc = harness.run([ctl] + args)
            self.assertEqual(proc.returncode, 2, "%r: %r" % (args,
                                                             proc.stderr))

    def test_riskctl_help(self):
        ctl = harness.env_path("LR_RISKCTL")
        for args in (["--help"], ["evaluate", "--help"],
                     ["outcome", "--help"], ["health", "-h"]):
            proc = harness.run([ctl] + args)
            self.assertEqual(proc.returncode, 0, args)
            self.assertIn("Usage: riskctl", proc.stdout.decode())


if __name__ == "__main__":
    unittest.main()
