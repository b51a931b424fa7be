"""test_admin_auth.py - who may call AdminService, and how the agent says no.

Issue 4, done-means 3: no token, a wrong token and an analyst token on a
lock are answered UNAUTHENTICATED / PERMISSION_DENIED and change nothing
(no lock, no audit row); a good token works; the hashes in the config are
the PHC strings `riskctl token-hash` printed. Also: a peer that keeps
presenting bad tokens is throttled (RESOURCE_EXHAUSTED) while a token
verified before still works; the admin service can live alone on its own
listener (a unix socket); ReloadConfig validates (dry run), refuses a
broken file with file:line errors and keeps the policy, applies a good
one, and leaves an audit row.
"""

import json
import os
import unittest

import grpc

import admin
import harness
from admin import AdminStub, Tokens
from harness import Agent, AgentTestCase, config_yaml

UNAUTH = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED


class AuthTest(AgentTestCase):
    """Tokens and roles against one agent."""

    @classmethod
    def setUpClass(cls):
        cls.tokens = Tokens()
        cls.agent = harness.start_shared_agent(
            cls, lambda a: admin.admin_config(a, cls.tokens,
                                              max_failures=1000), "auth")

    def assertNothingChanged(self, account):
        stub = AdminStub(self.agent, self.tokens.analyst)
        self.assertEqual(admin.action_of(self.agent, account), "ACTION_ALLOW")
        info = stub.call("GetAccount", stub.pb.GetAccountRequest(
            account_id=account))
        self.assertFalse(info.lock.locked)
        self.assertFalse([r for r in admin.audit_rows(self.agent)
                          if r["ticket"] == "T-" + account])

    def test_hashes_are_token_hash_output(self):
        for phc in (self.tokens.responder_hash, self.tokens.analyst_hash):
            self.assertRegex(phc, r"^\$argon2id\$v=19\$m=19456,t=2,p=1\$"
                                  r"[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$")
        # a fresh salt each time
        self.assertNotEqual(admin.token_hash(self.tokens.responder),
                            self.tokens.responder_hash)

    def test_no_token(self):
        stub = AdminStub(self.agent, None)
        for method, req in (
                ("LockAccounts", stub.pb.LockRequest(
                    account_ids=["a-none"], reason="r", ticket="T-a-none")),
                ("ListLocks", stub.pb.ListLocksRequest()),
                ("GetAccount", stub.pb.GetAccountRequest(
                    account_id="a-none")),
                ("ReloadConfig", stub.pb.ReloadConfigRequest(dry_run=True))):
            e = self.assertRpcError(UNAUTH, stub.call, method, req)
            self.assertIn("authorization", e.details())
        # riskctl refuses to run without one (usage error)
        proc = admin.riskctl(self.agent, None, "lock", "a-none", "--reason",
                             "r", "--ticket", "T-a-none")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("RISKCTL_TOKEN", proc.stderr.decode())
        self.assertNothingChanged("a-none")

    def test_wrong_or_malformed_token(self):
        wrong = AdminStub(self.agent, admin.new_token("nobody"))
        e = self.assertRpcError(UNAUTH, wrong.lock, ["a-wrong"],
                                ticket="T-a-wrong")
        self.assertNotIn(wrong.meta[0][1][7:], e.details())  # never echoed
        odd = AdminStub(self.agent, None)
        odd.meta = [("authorization", "Basic " + self.tokens.responder)]
        self.assertRpcError(UNAUTH, odd.lock, ["a-wrong"], ticket="T-a-wrong")
        proc = admin.riskctl(self.agent, "not-" + self.tokens.responder,
                             "lock", "a-wrong", "--reason", "r", "--ticket",
                             "T-a-wrong")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("UNAUTHENTICATED", proc.stderr.decode())
        self.assertNothingChanged("a-wrong")

    def test_analyst_may_read_not_lock(self):
        stub = AdminStub(self.agent, self.tokens.analyst)
        pb = stub.pb
        e = self.assertRpcError(DENIED, stub.lock, ["a-analyst"],
                                ticket="T-a-analyst")
        self.assertIn("responder", e.details())
        self.assertRpcError(DENIED, stub.unlock, ["a-analyst"])
        self.assertRpcError(DENIED, stub.call, "LockByQuery",
                            pb.LockByQueryRequest(cidrs=["192.0.2.0/24"],
                                                  reason="r", ticket="T"))
        proc = admin.riskctl(self.agent, self.tokens.analyst, "lock",
                             "a-analyst", "--reason", "r", "--ticket",
                             "T-a-analyst")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("PERMISSION_DENIED", proc.stderr.decode())
        self.assertNothingChanged("a-analyst")
        # what an analyst may do
        stub.call("GetAccount", pb.GetAccountRequest(account_id="a-analyst"))
        stub.call("ListLocks", pb.ListLocksRequest())
        stub.call("ListAudit", pb.ListAuditRequest())
        r = stub.call("ReloadConfig", pb.ReloadConfigRequest(dry_run=True))
        self.assertEqual(list(r.errors), [])

    def test_good_token_works(self):
        r = admin.riskctl_json(self.agent, self.tokens.responder, "lock",
                               "a-good", "--reason", "r", "--ticket",
                               "T-a-good")
        self.assertEqual(r["changed"], 1)
        self.assertEqual(admin.action_of(self.agent, "a-good"), "ACTION_LOCK")
        # the token from a file (mode 0600) instead of the environment
        path = os.path.join(self.agent.dir, "token")
        with open(path, "w") as f:
            f.write(self.tokens.responder + "\n")
        os.chmod(path, 0o600)
        proc = admin.riskctl(self.agent, None, "--json", "unlock", "a-good",
                             "--reason", "r", "--ticket", "T-a-good",
                             "--token-file", path)
        self.assertEqual(harness.riskctl_json(proc)["changed"], 1)
        self.assertEqual(admin.action_of(self.agent, "a-good"),
                         "ACTION_ALLOW")
        rows = [r for r in admin.audit_rows(self.agent)
                if r["ticket"] == "T-a-good"]
        self.assertEqual([(r["action"], r["actor"]) for r in rows],
                         [("lock", admin.RESPONDER),
                          ("unlock", admin.RESPONDER)])


class ThrottleTest(AgentTestCase):
    """Repeated bad tokens from one peer are throttled."""

    def test_bad_tokens_throttled_cached_token_still_works(self):
        tokens = Tokens()
        agent = Agent("throttle")
        self.addCleanup(agent.finish)
        agent.start(admin.admin_config(agent, tokens, max_failures=3))
        good = AdminStub(agent, tokens.responder)
        self.assertEqual(good.total_locks(), 0)  # verified and cached now
        bad = AdminStub(agent, admin.new_token("guess"))
        for _ in range(3):
            self.assertRpcError(UNAUTH, bad.total_locks)
        e = self.assertRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                bad.total_locks)
        self.assertIn("throttled", e.details())
        # a token not verified yet waits for the window too ...
        self.assertRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                            AdminStub(agent, tokens.analyst).total_locks)
        # ... but the one verified before goes on working
        self.assertEqual(good.lock(["t-1"]).changed, 1)
        self.assertIn("token not accepted", agent.stderr())


class AdminListenerTest(AgentTestCase):
    """The admin service alone on a unix socket."""

    def test_admin_only_on_its_own_listener(self):
        tokens = Tokens()
        agent = Agent("split")
        self.addCleanup(agent.finish)
        listeners = ["address: %s\nservices: [risk, health]" %
                     harness.yaml_str(agent.tcp),
                     "address: %s\nservices: [admin]" %
                     harness.yaml_str(agent.unix)]
        agent.start(admin.admin_config(agent, tokens, listeners=listeners))
        tcp = AdminStub(agent, tokens.responder)
        self.assertRpcError(grpc.StatusCode.UNIMPLEMENTED, tcp.lock, ["s-1"])
        r = admin.riskctl_json(agent, tokens.responder, "lock", "s-1",
                               "--reason", "r", "--ticket", "T",
                               target=agent.unix)
        self.assertEqual(r["changed"], 1)
        self.assertEqual(admin.action_of(agent, "s-1"), "ACTION_LOCK")


class ReloadTest(AgentTestCase):
    """AdminService/ReloadConfig through riskctl reload."""

    def test_dry_run_refused_applied_and_audited(self):
        tokens = Tokens()
        agent = Agent("reload")
        self.addCleanup(agent.finish)
        good_v1 = admin.admin_config(agent, tokens)
        agent.start(good_v1)
        r = admin.riskctl_json(agent, tokens.analyst, "reload", "--dry-run")
        self.assertTrue(r["ok"] and not r["applied"])
        self.assertEqual(r["policy_version"], "it-1")

        broken = good_v1.replace("  workers: 2", "  workers: many")
        agent.write_config(broken)
        proc = admin.riskctl(agent, tokens.analyst, "--json", "reload")
        self.assertEqual(proc.returncode, 1)
        out = json.loads(proc.stdout)
        self.assertFalse(out["applied"])
        line = broken.splitlines().index("  workers: many") + 1
        self.assertTrue(any("%s:%d:" % (agent.config_path, line) in e
                            for e in out["errors"]), out["errors"])
        self.assertEqual(out["policy_version"], "it-1")

        agent.write_config(config_yaml(agent, version="it-2",
                                       extra=tokens.yaml()))
        proc = admin.riskctl(agent, tokens.analyst, "reload")
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        self.assertIn("policy it-2", proc.stdout.decode())
        d = agent.evaluate(account_id="r-1", ip="192.0.2.10")
        self.assertEqual(d.policy_version, "it-2")
        rows = [r for r in admin.audit_rows(agent) if r["action"] == "reload"]
        self.assertEqual([(r["actor"], r["changed"]) for r in rows],
                         [(admin.ANALYST, 0), (admin.ANALYST, 1)])
        self.assertIn("refused", rows[0]["reason"])
        self.assertIn("it-2", rows[1]["reason"])


if __name__ == "__main__":
    unittest.main()
