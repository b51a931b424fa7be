"""test_faults.py - the real agent under faults.

Issue 6, "Fault tests":

- kill -9 in the middle of locking: every lock the agent acknowledged is in
  the state file afterwards, with its audit row, and is enforced after a
  restart; a batch is there whole or not at all. Two ways to lock: an
  OUTCOME_CONFIRMED_FRAUD outcome (an automatic lock, one account) and
  AdminService.LockAccounts (bulk, with a responder token).
- the state file's disk full (a small tmpfs) or read-only (a read-only bind
  mount): a lock call fails with a clear status - never a silent success -
  while Evaluate keeps answering; once space is back, locking works again
  without a restart.
- a corrupt state file: the agent refuses to start, exit code 1, with a
  message that names the file.
- overload (far more calls in flight than agent.max_inflight, with slow
  work behind them): every call ends OK, RESOURCE_EXHAUSTED or
  DEADLINE_EXCEEDED, quickly; the agent's memory stays bounded and it
  keeps serving.

The state file is read with Python's sqlite3 from a copy (tables locks and
audit, see store/store_sqlite.c), so the agent's own recovery at restart
sees the file exactly as kill -9 left it.

The mount tests need root (CI runs as root); elsewhere they skip with the
reason. Tests that drive AdminService skip while it answers UNIMPLEMENTED.
"""

import errno
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

import harness
import grpc  # after harness: it sets GRPC_ENABLE_FORK_SUPPORT
from harness import Agent, AgentTestCase, config_yaml, now_ms, stubs

LONDON = "192.0.2.%d"
DB_NAME = "loginrisk.db"
RESPONDER = "fault-responder"
LOCK_FAILED = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE,
               grpc.StatusCode.RESOURCE_EXHAUSTED,
               grpc.StatusCode.FAILED_PRECONDITION,
               grpc.StatusCode.ABORTED)
# what a status message must mention when the state could not be written
STORE_TROUBLE = r"(?i)state|store|disk|full|space|read-only|database"


# --------------------------------------------------------------------------
# helpers


def state_copy(state_dir):
    """Copies the database and its WAL into a new temp dir and opens the
    copy (the original stays as it is for the agent's restart). Returns
    (connection, temp dir)."""
    tmp = tempfile.mkdtemp(prefix="lr-dbcopy-")
    for suffix in ("", "-wal", "-shm"):
        src = os.path.join(state_dir, DB_NAME + suffix)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(tmp, DB_NAME + suffix))
    return sqlite3.connect(os.path.join(tmp, DB_NAME)), tmp


def read_state(state_dir):
    """({account_id: audit_id} of locks, {audit id: row dict})."""
    con, tmp = state_copy(state_dir)
    try:
        locks = dict(con.execute("SELECT account_id, audit_id FROM locks"))
        audit = {}
        for row in con.execute("SELECT id, at_ms, actor, action, reason, "
                               "ticket, matched, changed FROM audit"):
            audit[row[0]] = dict(zip(("id", "at_ms", "actor", "action",
                                      "reason", "ticket", "matched",
                                      "changed"), row))
        return locks, audit
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)


def make_token_hash(token):
    """An Argon2id PHC string of @token: riskctl token-hash when it has
    one, else the argon2 command (Debian package argon2)."""
    ctl = os.environ.get("LR_RISKCTL")
    if ctl:
        for args in (["token-hash"], ["token-hash", "--stdin"]):
            proc = harness.run([ctl] + args,
                               input_bytes=token.encode() + b"\n")
            out = proc.stdout.decode().strip()
            if proc.returncode == 0 and out.startswith("$argon2id$"):
                return out.splitlines()[-1]
    if shutil.which("argon2") is None:
        raise AssertionError("neither riskctl token-hash nor argon2 "
                             "(scripts/install-deps.sh) is available")
    proc = subprocess.run(["argon2", os.urandom(8).hex(), "-id", "-t", "1",
                           "-m", "10", "-p", "1", "-e"],
                          input=token.encode(), capture_output=True,
                          timeout=30, check=True)
    return proc.stdout.decode().strip()


def admin_yaml(phc):
    return ("admin:\n  tokens:\n    - name: %s\n      role: responder\n"
            "      hash: %s\n" % (RESPONDER, harness.yaml_str(phc)))


def mount(*args):
    """Runs mount; skips the test when this process may not mount."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("mounting needs root")
    proc = subprocess.run(["mount"] + list(args), capture_output=True,
                          timeout=30)
    if proc.returncode != 0:
        raise unittest.SkipTest("mount %s: %s" % (" ".join(args),
                                proc.stderr.decode().strip()))


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def fill_disk(directory):
    """Writes a filler file until the file system is full; returns its
    path."""
    path = os.path.join(directory, "filler")
    chunk = b"\xa5" * 65536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                os.write(fd, chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    break
                chunk = chunk[:len(chunk) // 2]
    finally:
        os.close(fd)
    return path


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class FaultCase(AgentTestCase):
    """An agent per test, with helpers for locks and decisions."""

    TEST_TIMEOUT = 120

    def new_agent(self, name):
        agent = Agent(name)
        self.addCleanup(agent.cleanup)
        return agent

    def evaluate(self, agent, account, ip=LONDON % 10, device="dev-1",
                 request_id="", secs=10):
        return agent.evaluate(account_id=account, ip=ip, device_id=device,
                              request_id=request_id,
                              credential=stubs().risk_pb2.CREDENTIAL_VALID,
                              secs=secs)

    def fraud_lock(self, agent, account, stub=None):
        """Evaluate, then confirm it as fraud: the engine locks the
        account (locks.lock_on_confirmed_fraud). Returns the OutcomeAck
        or raises the RpcError."""
        s = stubs()
        rid = "fraud-" + account
        self.evaluate(agent, account, ip=LONDON % 66, device="evil",
                      request_id=rid)
        stub = stub or agent.risk()
        return stub.ReportOutcome(
            s.risk_pb2.Outcome(request_id=rid, account_id=account,
                               kind=s.risk_pb2.OUTCOME_CONFIRMED_FRAUD,
                               timestamp_ms=now_ms()),
            timeout=harness.timeout(10))

    def is_locked(self, agent, account):
        d = self.evaluate(agent, account, device="check-device")
        codes = [r.code for r in d.reasons]
        return d.action == stubs().risk_pb2.ACTION_LOCK and \
            "ACCOUNT_LOCKED" in codes

    def admin(self, agent, token):
        s = stubs()
        stub = s.risk_pb2_grpc.AdminServiceStub(agent.channel())
        meta = [("authorization", "Bearer " + token)]
        return stub, meta

    def lock_accounts(self, agent, token, ids, ticket, secs=30):
        s = stubs()
        stub, meta = self.admin(agent, token)
        return stub.LockAccounts(
            s.risk_pb2.LockRequest(account_ids=ids, reason="fault test",
                                   ticket=ticket),
            metadata=meta, timeout=harness.timeout(secs))

    def require_admin(self, agent, token):
        """Fails unless LockAccounts answers a dry run."""
        s = stubs()
        stub, meta = self.admin(agent, token)
        try:
            stub.LockAccounts(
                s.risk_pb2.LockRequest(account_ids=["probe"],
                                       reason="probe", ticket="probe",
                                       dry_run=True),
                metadata=meta, timeout=harness.timeout(20))
        except grpc.RpcError as e:
            self.fail("AdminService.LockAccounts dry run: %s" % e.code())

    def assertLockFailed(self, err):
        """A lock call that could not be made durable: a failure status
        (never OK) whose message says the state could not be written."""
        self.assertIn(err.code(), LOCK_FAILED, err.details())
        self.assertRegex(err.details() or "", STORE_TROUBLE)


# --------------------------------------------------------------------------
# kill -9


class KillNineTest(FaultCase):
    """SIGKILL while locks are being written, then read the file and
    restart."""

    def run_until_killed(self, agent, work, threads, acked_min):
        """Runs work(i, stop) in @threads threads until @acked_min results
        were acknowledged, then SIGKILLs the agent while they continue;
        returns after the threads saw the agent go."""
        stop = threading.Event()
        acked = []
        lock = threading.Lock()
        errors = []

        def loop(i):
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    result = work(i, n)
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.UNAVAILABLE:
                        with lock:
                            errors.append("%s %s" % (e.code(), e.details()))
                    if agent.proc.poll() is not None:
                        return
                    continue
                except Exception as e:  # an assertion in work()
                    with lock:
                        errors.append(repr(e))
                    return
                with lock:
                    acked.append(result)

        ts = harness.load_threads(loop, threads)
        deadline = time.monotonic() + harness.timeout(60)
        while len(acked) < acked_min and time.monotonic() < deadline:
            if agent.proc.poll() is not None:
                self.fail("agent died on its own\n" + agent.describe())
            time.sleep(0.01)
        self.assertGreaterEqual(len(acked), acked_min, agent.describe())
        agent.proc.kill()
        agent.proc.wait()
        stop.set()
        for t in ts:
            t.join(harness.timeout(30))
        self.assertEqual(errors, [], "lock calls failed before the kill")
        with lock:
            return list(acked)

    def restart(self, agent):
        first = agent.stderr()
        agent.kill()
        agent.start()
        self.addCleanup(lambda: None if agent.proc.poll() is not None
                        else agent.stop())
        return first

    def test_kill_during_fraud_locks(self):
        agent = self.new_agent("k9-fraud")
        agent.start(config_yaml(agent))

        def work(i, n):
            account = "k9f-%d-%d" % (i, n)
            ack = self.fraud_lock(agent, account)
            self.assertTrue(ack.applied)
            return account

        acked = self.run_until_killed(agent, work, threads=3, acked_min=40)
        locks, audit = read_state(agent.state_dir)
        for account in acked:
            self.assertIn(account, locks, "acknowledged lock lost")
            row = audit.get(locks[account])
            self.assertIsNotNone(row, "lock of %s without its audit row" %
                                 account)
            self.assertEqual((row["actor"], row["action"]),
                             ("auto:CONFIRMED_FRAUD", "lock"))
            self.assertEqual((row["matched"], row["changed"]), (1, 1))
        for account, audit_id in locks.items():
            self.assertIn(audit_id, audit, "lock without audit: " + account)
        self.restart(agent)
        for account in acked:
            self.assertTrue(self.is_locked(agent, account),
                            "%s not locked after restart" % account)

    def test_kill_during_bulk_lock(self):
        token = "fault-token-" + os.urandom(12).hex()
        agent = self.new_agent("k9-bulk")
        agent.start(config_yaml(agent, extra=admin_yaml(
            make_token_hash(token))))
        self.require_admin(agent, token)
        batch = 500

        def ids_of(ticket):
            return ["%s-%d" % (ticket, k) for k in range(batch)]

        def work(i, n):
            ticket = "INC-%d-%d" % (i, n)
            res = self.lock_accounts(agent, token, ids_of(ticket), ticket)
            self.assertEqual((res.matched, res.changed), (batch, batch))
            return ticket, int(res.audit_id)

        acked = self.run_until_killed(agent, work, threads=2, acked_min=8)
        locks, audit = read_state(agent.state_dir)
        for ticket, audit_id in acked:
            row = audit.get(audit_id)
            self.assertIsNotNone(row, "acknowledged audit row %d lost" %
                                 audit_id)
            self.assertEqual(
                (row["actor"], row["action"], row["reason"], row["ticket"],
                 row["matched"], row["changed"]),
                (RESPONDER, "lock", "fault test", ticket, batch, batch))
        # every batch in the file is whole: acknowledged or caught by the
        # kill after its commit, never half
        for row in audit.values():
            if row["actor"] != RESPONDER or row["action"] != "lock":
                continue
            held = [a for a in ids_of(row["ticket"])
                    if locks.get(a) == row["id"]]
            self.assertEqual(len(held), batch,
                             "batch %s is in the file in part" %
                             row["ticket"])
        tickets = {row["ticket"] for row in audit.values()}
        for account in locks:
            self.assertIn(account.rsplit("-", 1)[0], tickets)
        self.restart(agent)
        for ticket, _ in (acked[0], acked[-1]):
            for account in (ids_of(ticket)[0], ids_of(ticket)[-1]):
                self.assertTrue(self.is_locked(agent, account),
                                "%s not locked after restart" % account)


# --------------------------------------------------------------------------
# corrupt state file


class CorruptStateTest(FaultCase):
    """A state file the agent cannot trust: it must not start."""

    TEST_TIMEOUT = 90

    def assertRefused(self, agent):
        agent.start(wait=False)
        code = agent.proc.wait(timeout=harness.timeout(30))
        out = agent.stderr()
        self.assertEqual(code, 1, out)
        self.assertIn(os.path.join(agent.state_dir, DB_NAME), out)
        self.assertIsNone(harness.sanitizer_report(out), out)

    def test_garbage_file(self):
        agent = self.new_agent("corrupt-garbage")
        agent.write_config(config_yaml(agent))
        os.makedirs(agent.state_dir)
        with open(os.path.join(agent.state_dir, DB_NAME), "wb") as f:
            f.write(os.urandom(16384))
        self.assertRefused(agent)

    def test_damaged_pages(self):
        agent = self.new_agent("corrupt-pages")
        agent.start(config_yaml(agent))
        for i in range(20):
            self.fraud_lock(agent, "cp-%d" % i)
        agent.stop()
        path = os.path.join(agent.state_dir, DB_NAME)
        for suffix in ("-wal", "-shm"):
            self.assertFalse(os.path.exists(path + suffix),
                             "a clean stop left " + DB_NAME + suffix)
        size = os.path.getsize(path)
        self.assertGreater(size, 4096)
        with open(path, "r+b") as f:
            # keep the header page, wreck every page after it
            f.seek(4096)
            f.write(b"\x5a" * (size - 4096))
        self.assertRefused(agent)

    def test_not_a_loginrisk_database(self):
        agent = self.new_agent("corrupt-foreign")
        agent.write_config(config_yaml(agent))
        os.makedirs(agent.state_dir)
        con = sqlite3.connect(os.path.join(agent.state_dir, DB_NAME))
        con.execute("CREATE TABLE accounts (id TEXT, password TEXT)")
        con.execute("INSERT INTO accounts VALUES ('alice', 'x')")
        con.commit()
        con.close()
        self.assertRefused(agent)


# --------------------------------------------------------------------------
# disk full, read-only


class DiskFullTest(FaultCase):
    """The state directory on a small tmpfs that then fills up."""

    SIZE = "8m"

    def setUp(self):
        super().setUp()
        self.agent = self.new_agent("diskfull")
        os.makedirs(self.agent.state_dir)
        mount("-t", "tmpfs", "-o", "size=" + self.SIZE, "tmpfs",
              self.agent.state_dir)
        # kill the agent before unmounting; cleanups run last-in first-out
        self.addCleanup(umount, self.agent.state_dir)
        self.addCleanup(self.agent.kill)

    def evaluations_answer(self, n, tag):
        for i in range(n):
            d = self.evaluate(self.agent, "%s-%d" % (tag, i))
            self.assertEqual(d.geo.city, "London")

    def test_fraud_lock_when_full(self):
        agent = self.agent
        agent.start(config_yaml(agent))
        self.assertTrue(self.fraud_lock(agent, "before-full").applied)
        filler = fill_disk(agent.state_dir)
        failed, acked = None, []
        for i in range(200):
            account = "full-%d" % i
            try:
                ack = self.fraud_lock(agent, account)
            except grpc.RpcError as e:
                self.assertLockFailed(e)
                failed = account
                break
            self.assertTrue(ack.applied)
            acked.append(account)
            self.evaluations_answer(5, "busy-%d" % i)
        self.assertIsNotNone(failed, "200 locks on a full disk all "
                             "succeeded: the disk was not full")
        self.evaluations_answer(50, "during-full")
        self.assertFalse(self.is_locked(agent, failed),
                         "a lock reported as failed is in force")
        self.assertTrue(self.is_locked(agent, "before-full"))
        # space is back: locking works again, no restart needed
        os.unlink(filler)
        self.assertTrue(self.fraud_lock(agent, "after-full").applied)
        self.assertTrue(self.is_locked(agent, "after-full"))
        # what was acknowledged is durable (read after the agent is gone)
        agent.stop()
        locks, _ = read_state(agent.state_dir)
        for account in ["before-full", "after-full"] + acked:
            self.assertIn(account, locks)
        self.assertNotIn(failed, locks)

    def test_bulk_lock_when_full(self):
        token = "fault-token-" + os.urandom(12).hex()
        agent = self.agent
        agent.start(config_yaml(agent, extra=admin_yaml(
            make_token_hash(token))))
        self.require_admin(agent, token)
        n = 3000  # well inside agent.max_message_bytes (64 KiB)
        ids = ["bf-%d" % k for k in range(n)]
        res = self.lock_accounts(agent, token, ids[:10], "INC-before")
        self.assertEqual(res.changed, 10)
        filler = fill_disk(agent.state_dir)
        try:
            res = self.lock_accounts(agent, token, ids, "INC-full")
            self.fail("%d locks on a full disk acknowledged (changed "
                      "%d)" % (n, res.changed))
        except grpc.RpcError as e:
            self.assertLockFailed(e)
        self.evaluations_answer(50, "during-full")
        self.assertFalse(self.is_locked(agent, ids[-1]))
        self.assertTrue(self.is_locked(agent, ids[0]))
        os.unlink(filler)
        res = self.lock_accounts(agent, token, ids, "INC-after")
        self.assertEqual((res.matched, res.changed), (n, n - 10))
        self.assertTrue(self.is_locked(agent, ids[-1]))
        agent.stop()


class SizeCapTest(FaultCase):
    """state.max_size_mb: a flood of logins costs the oldest history, never
    the room new locks need, and the file stays under the cap."""

    CAP_MB = 1

    def test_flood_stays_under_the_cap(self):
        token = "fault-token-" + os.urandom(12).hex()
        agent = self.new_agent("sizecap")
        agent.start(config_yaml(agent, state={"max_size_mb": self.CAP_MB},
                                extra=admin_yaml(make_token_hash(token))))
        self.require_admin(agent, token)
        s = stubs()
        pad = "x" * 200  # long ids: ~500 bytes of history per login
        n = 3000         # ~1.5 MB of history against a 1 MiB cap
        for i in range(n):
            agent.evaluate(account_id="cap-%05d-%s" % (i, pad),
                           ip=LONDON % 10, device_id="dev-" + pad,
                           credential=s.risk_pb2.CREDENTIAL_INVALID)
            if i % 300 == 299:  # locks keep their room during the flood
                res = self.lock_accounts(agent, token, [
                    "cap-during-%d-%d" % (i, k) for k in range(10)],
                    "INC-cap-%d" % i)
                self.assertEqual(res.changed, 10)
        newest = "cap-%05d-%s" % (n - 1, pad)
        # the newest login is kept (GetAccount flushes the writer first)
        stub, meta = self.admin(agent, token)
        info = stub.GetAccount(s.risk_pb2.GetAccountRequest(
            account_id=newest, max_logins=5), metadata=meta,
            timeout=harness.timeout(20))
        self.assertEqual(len(info.recent_logins), 1)
        # locks still have room
        res = self.lock_accounts(agent, token, ["cap-lock-%d" % k
                                                for k in range(100)],
                                 "INC-cap")
        self.assertEqual(res.changed, 100)
        self.assertTrue(self.is_locked(agent, "cap-lock-99"))
        agent.stop()
        db = os.path.join(agent.state_dir, DB_NAME)
        self.assertLessEqual(os.path.getsize(db), self.CAP_MB << 20)
        con, tmp = state_copy(agent.state_dir)
        try:
            rows = sum(r[0] for r in con.execute(
                "SELECT n FROM history_batch"))
        finally:
            con.close()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertGreater(rows, 0)
        self.assertLess(rows, n, "no history was deleted: the cap did "
                        "not bind")


class ReadOnlyTest(FaultCase):
    """A state directory that can be read but not written (a read-only
    bind mount): the agent starts, enforces the locks it finds, answers
    Evaluate, and refuses new locks with a clear status."""

    def test_read_only_state(self):
        token = "fault-token-" + os.urandom(12).hex()
        agent = self.new_agent("readonly")
        config = config_yaml(agent, extra=admin_yaml(make_token_hash(token)))
        agent.start(config)
        self.assertTrue(self.fraud_lock(agent, "ro-locked").applied)
        agent.stop()
        mount("--bind", agent.state_dir, agent.state_dir)
        self.addCleanup(umount, agent.state_dir)
        self.addCleanup(agent.kill)
        mount("-o", "remount,ro,bind", agent.state_dir)
        # health says NOT_SERVING while the state cannot be written
        agent.start(wait="answering")
        self.assertTrue(self.is_locked(agent, "ro-locked"))
        for i in range(20):
            d = self.evaluate(agent, "ro-user-%d" % i)
            self.assertEqual(d.geo.city, "London")
        with self.assertRaises(grpc.RpcError) as cm:
            self.fraud_lock(agent, "ro-new")
        self.assertLockFailed(cm.exception)
        self.assertFalse(self.is_locked(agent, "ro-new"))
        try:
            self.lock_accounts(agent, token, ["ro-bulk-1", "ro-bulk-2"],
                               "INC-ro")
            self.fail("LockAccounts on a read-only state acknowledged")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                self.assertLockFailed(e)
        self.assertFalse(self.is_locked(agent, "ro-bulk-1"))
        agent.stop()


# --------------------------------------------------------------------------
# overload


class OverloadTest(FaultCase):
    """Far more calls than one worker may hold (agent.max_inflight) sent at
    once, each with a failed password for a slow spray pool (Argon2id on
    one thread, queue 8). Answers do not wait for the fingerprints (R-SPRAY-1):
    the pool's queue fills and the rest are skipped, never queued."""

    TEST_TIMEOUT = 180
    CALLS = 300
    ALLOWED = (grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED,
               grpc.StatusCode.DEADLINE_EXCEEDED)

    def flood(self, agent, stubs_, round_no):
        s = stubs()
        futures = []
        t0 = time.monotonic()
        for i in range(self.CALLS):
            req = s.risk_pb2.LoginAttempt(
                account_id="ov-%d-%d" % (round_no, i), ip=LONDON % (i % 200),
                credential=s.risk_pb2.CREDENTIAL_INVALID,
                attempted_password=b"pw-%d" % (i % 7),
                timestamp_ms=now_ms())
            stub = stubs_[i % len(stubs_)]
            futures.append((time.monotonic(), stub.Evaluate.future(
                req, timeout=harness.timeout(3))))
        codes = {}
        for _, f in futures:
            try:
                f.result()
                code = grpc.StatusCode.OK
            except grpc.RpcError as e:
                code = e.code()
                self.assertIn(code, self.ALLOWED, e.details())
                if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    self.assertIn("overloaded", e.details())
            codes[code] = codes.get(code, 0) + 1
        return codes, time.monotonic() - t0

    def test_overload(self):
        agent = self.new_agent("overload")
        text = config_yaml(agent, extra=(
            "spray:\n  t_cost: 16\n  m_cost_kib: 16384\n  threads: 1\n"
            "  queue: 8\n"))
        text = text.replace("  workers: 2\n",
                            "  workers: 1\n  max_inflight: 4\n", 1)
        agent.start(text)
        stubs_ = [agent.risk() for _ in range(4)]
        self.evaluate(agent, "warm")
        rss0 = rss_kb(agent.proc.pid)
        totals = {}
        for r in range(3):
            codes, secs = self.flood(agent, stubs_, r)
            for k, v in codes.items():
                totals[k] = totals.get(k, 0) + v
            # nothing queued without bound: a round is over in seconds
            self.assertLess(secs, harness.timeout(20), codes)
        rss1 = rss_kb(agent.proc.pid)
        self.assertGreater(totals.get(grpc.StatusCode.RESOURCE_EXHAUSTED, 0),
                           0, "never overloaded: %s" % totals)
        self.assertGreater(totals.get(grpc.StatusCode.OK, 0), 0, totals)
        # 900 refused or slow calls cost no memory that stays
        self.assertLess(rss1 - rss0, 128 * 1024 * harness.SLOW,
                        "RSS %d kB -> %d kB (%s)" % (rss0, rss1, totals))
        # and the agent is fine afterwards
        d = self.evaluate(agent, "after-overload")
        self.assertEqual(d.geo.city, "London")
        agent.wait_serving(agent.tcp)
        agent.stop()


if __name__ == "__main__":
    unittest.main()
