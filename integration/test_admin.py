"""test_admin.py - bulk locks, lock-by-query and resumable runs through the
real agent and the real riskctl.

Issue 4, done-means 1 and 2:

  * 100,000 accounts locked from a file (`riskctl lock --file`); a random
    200 of them then get ACTION_LOCK from Evaluate and ListLocks counts
    100,000; a rerun is idempotent (changed 0, no audit row); --dry-run
    changes nothing; half are unlocked; the audit log (read from the SQLite
    file, and through `riskctl audit`) holds both actions with the token's
    name, the reason, the ticket and the counts.
  * lock-by-query: accounts with successful logins from a /24 inside a
    time window are locked; accounts that only failed from there, logged in
    elsewhere, or logged in from there outside the window are not.
  * --resume: a rerun skips the batches the state file confirms and sends
    only the missing ones; a state file of another list is refused.

The agent keeps the default agent.max_message_bytes (64 KiB), so riskctl's
10,000-id batches do not fit one message: riskctl halves them until they
do, which these tests therefore cover too.
"""

import os
import re
import unittest

import grpc

import admin
import harness
from admin import AdminStub, Tokens
from harness import Agent, AgentTestCase, now_ms

HOUR_MS = 3600 * 1000
N_BULK = 100000


class BulkLockTest(AgentTestCase):
    """Done-means 1: a 100,000-account lock and unlock through riskctl."""

    TEST_TIMEOUT = 240

    @classmethod
    def setUpClass(cls):
        cls.tokens = Tokens()
        cls.agent = harness.start_shared_agent(
            cls, lambda a: admin.admin_config(a, cls.tokens), "bulk")

    def lock_cmd(self, *args):
        return admin.riskctl_json(self.agent, self.tokens.responder, *args)

    def test_lock_100k_verify_rerun_dry_run_unlock_half(self):
        ids = ["bulk-%06d@example.com" % i for i in range(N_BULK)]
        path = admin.write_ids(os.path.join(self.agent.dir, "ids.txt"), ids)
        half = admin.write_ids(os.path.join(self.agent.dir, "half.txt"),
                               ids[:N_BULK // 2])
        stub = AdminStub(self.agent, self.tokens.analyst)

        # lock them all
        r = self.lock_cmd("lock", "--file", path, "--reason", "stuffing wave",
                          "--ticket", "INC-100")
        self.assertEqual((r["matched"], r["changed"], r["unchanged"]),
                         (N_BULK, N_BULK, 0), admin.dump(r))
        self.assertEqual((r["batches"], r["batches_ok"], r["batches_failed"]),
                         (10, 10, 0))
        self.assertTrue(r["audit_ids"] and r["audit_id"], admin.dump(r))
        lock_audit = set(int(a) for a in r["audit_ids"])

        # every one is locked: a random 200 by Evaluate, all by ListLocks
        for acct in admin.sample(ids, 200):
            self.assertEqual(admin.action_of(self.agent, acct),
                             "ACTION_LOCK", acct)
        self.assertEqual(admin.action_of(self.agent, "bulk-not-listed"),
                         "ACTION_ALLOW")
        self.assertEqual(stub.total_locks(), N_BULK)
        cnt = admin.riskctl_json(self.agent, self.tokens.analyst, "locks",
                                 "--count")
        self.assertEqual(cnt["total"], N_BULK)

        # a rerun changes nothing and writes no audit row
        rows_before = len(admin.audit_rows(self.agent))
        r = self.lock_cmd("lock", "--file", path, "--reason", "stuffing wave",
                          "--ticket", "INC-100")
        self.assertEqual((r["matched"], r["changed"], r["unchanged"]),
                         (N_BULK, 0, N_BULK))
        self.assertEqual(r["audit_ids"], [])
        self.assertEqual(len(admin.audit_rows(self.agent)), rows_before)

        # --dry-run reports and changes nothing
        r = self.lock_cmd("unlock", "--file", path, "--reason", "check",
                          "--ticket", "INC-100", "--dry-run")
        self.assertTrue(r["dry_run"])
        self.assertEqual((r["matched"], r["changed"]), (N_BULK, N_BULK))
        self.assertEqual(r["audit_ids"], [])
        r = self.lock_cmd("lock", "dry-1", "dry-2", "--reason", "check",
                          "--ticket", "INC-100", "--dry-run")
        self.assertEqual(r["changed"], 2)
        self.assertEqual(stub.total_locks(), N_BULK)
        self.assertEqual(len(admin.audit_rows(self.agent)), rows_before)
        self.assertEqual(admin.action_of(self.agent, "dry-1"), "ACTION_ALLOW")

        # unlock half
        r = self.lock_cmd("unlock", "--file", half, "--reason", "false "
                          "positives", "--ticket", "INC-101")
        self.assertEqual((r["matched"], r["changed"]),
                         (N_BULK // 2, N_BULK // 2), admin.dump(r))
        unlock_audit = set(int(a) for a in r["audit_ids"])
        self.assertEqual(stub.total_locks(), N_BULK // 2)
        for acct in admin.sample(ids[:N_BULK // 2], 50, seed=1):
            self.assertNotEqual(admin.action_of(self.agent, acct),
                                "ACTION_LOCK", acct)
        for acct in admin.sample(ids[N_BULK // 2:], 50, seed=2):
            self.assertEqual(admin.action_of(self.agent, acct),
                             "ACTION_LOCK", acct)

        # the audit log holds both, with who, why, ticket and counts
        rows = {r["id"]: r for r in admin.audit_rows(self.agent)}
        locks = [rows[i] for i in sorted(lock_audit)]
        unlocks = [rows[i] for i in sorted(unlock_audit)]
        self.assertEqual(sum(r["changed"] for r in locks), N_BULK)
        self.assertEqual(sum(r["matched"] for r in locks), N_BULK)
        self.assertEqual(sum(r["changed"] for r in unlocks), N_BULK // 2)
        for r in locks:
            self.assertEqual((r["actor"], r["action"], r["reason"],
                              r["ticket"]),
                             (admin.RESPONDER, "lock", "stuffing wave",
                              "INC-100"))
        for r in unlocks:
            self.assertEqual((r["actor"], r["action"], r["reason"],
                              r["ticket"]),
                             (admin.RESPONDER, "unlock", "false positives",
                              "INC-101"))
        # the same rows through AdminService/ListAudit
        listed = admin.riskctl_json(self.agent, self.tokens.analyst, "audit",
                                    "--max", "1000")["entries"]
        by_id = {e["id"]: e for e in listed}
        for i in lock_audit | unlock_audit:
            self.assertEqual(by_id[i]["changed"], rows[i]["changed"])
            self.assertEqual(by_id[i]["actor"], admin.RESPONDER)

    def test_ids_as_arguments_and_stdin(self):
        r = self.lock_cmd("lock", "arg-1", "arg-2", "--reason", "r",
                          "--ticket", "T-2", "--duration", "12h")
        self.assertEqual(r["changed"], 2)
        acct = admin.riskctl_json(self.agent, self.tokens.analyst, "account",
                                  "arg-1")
        self.assertTrue(acct["lock"]["locked"])
        self.assertGreater(acct["lock"]["expires_ms"], now_ms())
        self.assertEqual(acct["lock"]["source"], admin.RESPONDER)
        proc = admin.riskctl(self.agent, self.tokens.responder, "--json",
                             "unlock", "--file", "-", "--reason", "r",
                             "--ticket", "T-2",
                             input_bytes=b"arg-1\r\n\narg-2\n")
        r = harness.riskctl_json(proc)
        self.assertEqual((r["matched"], r["changed"]), (2, 2))

    def test_bad_id_file_stops_before_sending(self):
        path = os.path.join(self.agent.dir, "bad.txt")
        with open(path, "wb") as f:
            f.write(b"bad-ok-1\nbad-ok-2\n" + b"x" * 300 + b"\n")
        proc = admin.riskctl(self.agent, self.tokens.responder, "lock",
                             "--file", path, "--reason", "r", "--ticket", "T")
        self.assertEqual(proc.returncode, 2, proc.stderr.decode())
        self.assertIn("bad.txt:3:", proc.stderr.decode())
        self.assertEqual(admin.action_of(self.agent, "bad-ok-1"),
                         "ACTION_ALLOW")

    def test_reason_and_ticket_required(self):
        proc = admin.riskctl(self.agent, self.tokens.responder, "lock",
                             "x-1", "--ticket", "T")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--reason", proc.stderr.decode())
        stub = AdminStub(self.agent, self.tokens.responder)
        e = self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT,
                                stub.lock, ["x-1"], reason="")
        self.assertIn("reason", e.details())
        e = self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT,
                                stub.lock, ["x-1"], ticket="")
        self.assertIn("ticket", e.details())
        e = self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT,
                                stub.lock, ["x-1", "x-2", "y" * 257])
        self.assertIn("account_ids[2]", e.details())
        e = self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT,
                                stub.lock, ["x-1", ""])
        self.assertIn("account_ids[1]", e.details())
        self.assertEqual(admin.action_of(self.agent, "x-1"), "ACTION_ALLOW")


class ResumeTest(AgentTestCase):
    """--resume records confirmed batches and skips them on a rerun."""

    TEST_TIMEOUT = 120

    @classmethod
    def setUpClass(cls):
        cls.tokens = Tokens()
        cls.agent = harness.start_shared_agent(
            cls, lambda a: admin.admin_config(a, cls.tokens), "resume")

    def run_lock(self, path, state, *extra):
        return admin.riskctl_json(self.agent, self.tokens.responder, "lock",
                                  "--file", path, "--batch", "1000",
                                  "--resume", state, "--reason", "resume",
                                  "--ticket", "T-9", *extra)

    def test_rerun_skips_confirmed_batches(self):
        ids = ["resume-%05d" % i for i in range(5000)]
        path = admin.write_ids(os.path.join(self.agent.dir, "r.txt"), ids)
        state = os.path.join(self.agent.dir, "r.state")
        r = self.run_lock(path, state)
        self.assertEqual((r["batches_ok"], r["batches_skipped"], r["changed"]),
                         (5, 0, 5000))
        with open(state) as f:
            lines = f.read().splitlines()
        self.assertEqual(len([l for l in lines if l.startswith("batch ")]), 5)

        # the run "stopped" before batch 2 was confirmed: drop its line, and
        # unlock its accounts so resending it shows
        admin.riskctl_json(self.agent, self.tokens.responder, "unlock",
                           "--file", "-", "--reason", "r", "--ticket", "T",
                           input_bytes="\n".join(ids[2000:3000]).encode())
        with open(state, "w") as f:
            f.write("\n".join(l for l in lines if not l.startswith("batch 2 "))
                    + "\n")
        r = self.run_lock(path, state)
        self.assertEqual((r["batches_ok"], r["batches_skipped"]), (1, 4),
                         admin.dump(r))
        self.assertEqual((r["matched"], r["changed"]), (1000, 1000))
        self.assertEqual(r["resumed"]["batches"], 4)

        # everything confirmed: a third run sends nothing
        r = self.run_lock(path, state)
        self.assertEqual((r["batches_ok"], r["batches_skipped"],
                          r["matched"]), (0, 5, 0))

    def test_state_of_another_list_refused(self):
        a = admin.write_ids(os.path.join(self.agent.dir, "a.txt"),
                            ["other-a-1", "other-a-2"])
        b = admin.write_ids(os.path.join(self.agent.dir, "b.txt"),
                            ["other-b-1"])
        state = os.path.join(self.agent.dir, "ab.state")
        self.run_lock(a, state)
        proc = admin.riskctl(self.agent, self.tokens.responder, "lock",
                             "--file", b, "--batch", "1000", "--resume",
                             state, "--reason", "r", "--ticket", "T")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("another run", proc.stderr.decode())
        self.assertEqual(admin.action_of(self.agent, "other-b-1"),
                         "ACTION_ALLOW")


class LockByQueryTest(AgentTestCase):
    """Done-means 2: lock the accounts that logged in successfully from a
    /24 in a time window, and no others."""

    TEST_TIMEOUT = 120
    CIDR = "203.0.113.0/24"  # Tokyo in the fixture databases

    @classmethod
    def setUpClass(cls):
        cls.tokens = Tokens()
        cls.agent = harness.start_shared_agent(
            cls, lambda a: admin.admin_config(a, cls.tokens), "query")

    def login(self, account, ip, ts, valid=True):
        pb = harness.stubs().risk_pb2
        cred = pb.CREDENTIAL_VALID if valid else pb.CREDENTIAL_INVALID
        d = self.agent.evaluate(account_id=account, ip=ip, timestamp_ms=ts,
                                credential=cred)
        return pb.Action.Name(d.action)

    def test_successful_logins_from_range_in_window(self):
        t0 = now_ms() - 6 * HOUR_MS
        t1 = t0 + 2 * HOUR_MS
        hit = ["q-hit-%d" % i for i in range(6)]
        failed = ["q-failed-%d" % i for i in range(3)]
        elsewhere = ["q-else-%d" % i for i in range(3)]
        early = ["q-early-%d" % i for i in range(2)]
        for i, acct in enumerate(hit):
            # some also failed first, some also logged in elsewhere
            if i % 2:
                self.login(acct, "203.0.113.%d" % (50 + i), t0 + i * 1000,
                           valid=False)
            self.assertEqual(self.login(acct, "203.0.113.%d" % (10 + i),
                                        t0 + 60000 + i * 1000),
                             "ACTION_ALLOW")
            self.login(acct, "198.51.100.7", t1 + HOUR_MS)
        for i, acct in enumerate(failed):
            for k in range(3):
                self.login(acct, "203.0.113.%d" % (100 + i), t0 + k * 5000,
                           valid=False)
        for i, acct in enumerate(elsewhere):
            self.login(acct, "198.51.100.%d" % (20 + i), t0 + 30000)
            self.login(acct, "203.0.114.%d" % (20 + i), t0 + 40000)
        for acct in early:
            self.login(acct, "203.0.113.77", t0 - HOUR_MS)

        query = ["--cidr", self.CIDR, "--since", str(t0), "--until", str(t1),
                 "--successful-only", "--reason", "session theft",
                 "--ticket", "INC-7"]
        r = admin.riskctl_json(self.agent, self.tokens.responder,
                               "lock-by-query", "--dry-run", *query)
        self.assertEqual((r["matched"], r["changed"]), (6, 6), admin.dump(r))
        self.assertEqual(r["audit_id"], "")
        self.assertEqual(admin.action_of(self.agent, hit[0]), "ACTION_ALLOW")

        r = admin.riskctl_json(self.agent, self.tokens.responder,
                               "lock-by-query", *query)
        self.assertEqual((r["matched"], r["changed"]), (6, 6), admin.dump(r))
        for acct in hit:
            self.assertEqual(admin.action_of(self.agent, acct),
                             "ACTION_LOCK", acct)
        for acct in failed + elsewhere + early:
            self.assertNotEqual(admin.action_of(self.agent, acct),
                                "ACTION_LOCK", acct)
        rows = admin.audit_rows(self.agent)
        self.assertEqual(rows[-1]["id"], int(r["audit_id"]))
        self.assertEqual((rows[-1]["action"], rows[-1]["changed"],
                          rows[-1]["ticket"], rows[-1]["actor"]),
                         ("lock_by_query", 6, "INC-7", admin.RESPONDER))

        # idempotent; without --successful-only the failures match too
        r = admin.riskctl_json(self.agent, self.tokens.responder,
                               "lock-by-query", *query)
        self.assertEqual((r["matched"], r["changed"]), (6, 0))
        r = admin.riskctl_json(self.agent, self.tokens.responder,
                               "lock-by-query", "--dry-run", "--cidr",
                               self.CIDR, "--since", str(t0), "--until",
                               str(t1), "--reason", "r", "--ticket", "T")
        self.assertEqual((r["matched"], r["changed"]), (9, 3))

        # the account view shows the lock and the logins with their geo
        acct = admin.riskctl_json(self.agent, self.tokens.analyst, "account",
                                  hit[1])
        self.assertTrue(acct["lock"]["locked"])
        self.assertEqual(acct["lock"]["ticket"], "INC-7")
        ips = [l["ip"] for l in acct["recent_logins"]]
        self.assertIn("203.0.113.11", ips)
        tokyo = [l for l in acct["recent_logins"] if l["ip"] == "203.0.113.11"]
        self.assertEqual(tokyo[0]["geo"]["country"], "JP")
        self.assertEqual(tokyo[0]["action"], "ACTION_ALLOW")

    def test_empty_or_bad_query_refused(self):
        proc = admin.riskctl(self.agent, self.tokens.responder,
                             "lock-by-query", "--reason", "r", "--ticket", "T")
        self.assertEqual(proc.returncode, 2)
        stub = AdminStub(self.agent, self.tokens.responder)
        pb = stub.pb
        e = self.assertRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, stub.call,
            "LockByQuery", pb.LockByQueryRequest(reason="r", ticket="T"))
        self.assertIn("query", e.details())
        e = self.assertRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, stub.call,
            "LockByQuery", pb.LockByQueryRequest(
                cidrs=["192.0.2.0/24", "300.1.1.0/24"], reason="r",
                ticket="T"))
        self.assertIn("cidrs[1]", e.details())
        e = self.assertRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, stub.call,
            "LockByQuery", pb.LockByQueryRequest(
                countries=["GB", "Britain"], reason="r", ticket="T"))
        self.assertIn("countries[1]", e.details())
        proc = admin.riskctl(self.agent, self.tokens.responder,
                             "lock-by-query", "--cidr", "192.0.2.0/24",
                             "--since", "last tuesday", "--reason", "r",
                             "--ticket", "T")
        self.assertEqual(proc.returncode, 2)
        self.assertTrue(re.search("--since", proc.stderr.decode()))


if __name__ == "__main__":
    unittest.main()
