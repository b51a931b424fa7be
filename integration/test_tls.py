"""test_tls.py - TLS listeners and client-certificate authentication.

Certificates are made with openssl at test time, in the agent's temp dir:
a self-signed server certificate for the name agent.test (trusted directly
by the clients), a client CA with a client certificate it signed, and a
stranger CA with a client certificate the agent must refuse. The agent gets
three listeners: TLS, TLS requiring a client certificate, and a plaintext
unix socket (used only to wait for it to come up).
"""

import os
import subprocess
import unittest


import harness
import grpc  # after harness: it sets GRPC_ENABLE_FORK_SUPPORT
from harness import Agent, AgentTestCase, config_yaml, riskctl_json, yaml_str

NAME = "agent.test"
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_certs(d):
    """Writes server.{crt,key}, clientca.{crt,key}, client.{crt,key},
    stranger.{crt,key} (a CA) and intruder.{crt,key} into @d."""
    openssl("req", "-x509", *EC, "-keyout", "server.key", "-out",
            "server.crt", "-days", "2", "-subj", "/CN=" + NAME, "-addext",
            "subjectAltName=DNS:%s" % NAME, cwd=d)
    for ca in ("clientca", "stranger"):
        openssl("req", "-x509", *EC, "-keyout", ca + ".key", "-out",
                ca + ".crt", "-days", "2", "-subj", "/CN=" + ca, cwd=d)
    for leaf, ca in (("client", "clientca"), ("intruder", "stranger")):
        openssl("req", *EC, "-keyout", leaf + ".key", "-out", leaf + ".csr",
                "-subj", "/CN=" + leaf, cwd=d)
        openssl("x509", "-req", "-in", leaf + ".csr", "-CA", ca + ".crt",
                "-CAkey", ca + ".key", "-CAcreateserial", "-out",
                leaf + ".crt", "-days", "2", cwd=d)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class TlsTest(AgentTestCase):

    @classmethod
    def setUpClass(cls):
        def config(agent):
            d = agent.dir
            make_certs(d)
            cls.tls_target = "127.0.0.1:%d" % harness.free_port()
            cls.mtls_target = "127.0.0.1:%d" % harness.free_port()
            tls = ("tls:\n  cert: %s\n  key: %s" %
                   (yaml_str(os.path.join(d, "server.crt")),
                    yaml_str(os.path.join(d, "server.key"))))
            mtls = tls + "\n  client_ca: %s" % yaml_str(
                os.path.join(d, "clientca.crt"))
            return config_yaml(agent, listeners=[
                "address: %s\n%s" % (yaml_str(cls.tls_target), tls),
                "address: %s\n%s" % (yaml_str(cls.mtls_target), mtls),
                "address: %s" % yaml_str(agent.unix)])

        cls.agent = Agent("tls")
        cls.addClassCleanup(cls.agent.finish)
        cls.agent.start(config(cls.agent), target=cls.agent.unix)
        cls.dir = cls.agent.dir

    def path(self, name):
        return os.path.join(self.dir, name)

    def creds(self, client=None, ca="server.crt"):
        key = chain = None
        if client:
            key = read(self.path(client + ".key"))
            chain = read(self.path(client + ".crt"))
        return grpc.ssl_channel_credentials(
            root_certificates=read(self.path(ca)), private_key=key,
            certificate_chain=chain)

    def evaluate_tls(self, target, creds, name=NAME):
        """One Evaluate over TLS with @creds, checking the name @name."""
        s = harness.stubs()
        stub = self.agent.risk(target, creds,
                               [("grpc.ssl_target_name_override", name)])
        return stub.Evaluate(s.risk_pb2.LoginAttempt(
            account_id="tls", ip="192.0.2.10",
            timestamp_ms=harness.now_ms()), timeout=harness.timeout(10))

    def riskctl(self, target, *args):
        return self.agent.riskctl(*args, target=target)

    def tls_args(self, client=None, ca="server.crt", name=NAME):
        args = ["--tls-ca", self.path(ca), "--tls-server-name", name]
        if client:
            args += ["--tls-cert", self.path(client + ".crt"), "--tls-key",
                     self.path(client + ".key")]
        return args

    # ---- server authentication

    def test_python_tls(self):
        d = self.evaluate_tls(self.tls_target, self.creds(), NAME)
        self.assertEqual(d.geo.city, "London")

    def test_riskctl_tls_health(self):
        proc = self.riskctl(self.tls_target, *self.tls_args(), "health")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.decode().strip(), "SERVING")

    def test_riskctl_tls_evaluate(self):
        proc = self.riskctl(self.tls_target, *self.tls_args(), "evaluate",
                            "--account", "tls", "--ip", "192.0.2.10",
                            "--json")
        self.assertEqual(riskctl_json(proc)["geo"]["city"], "London")

    def test_plaintext_client_on_tls_port(self):
        s = harness.stubs()
        self.assertRpcError(
            grpc.StatusCode.UNAVAILABLE, self.agent.risk(self.tls_target)
            .Evaluate, s.risk_pb2.LoginAttempt(account_id="x", ip="192.0.2.1"),
            timeout=harness.timeout(5))
        proc = self.riskctl(self.tls_target, "--timeout-ms", "5000",
                            "health")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("UNAVAILABLE", proc.stderr.decode())

    def test_wrong_server_name(self):
        self.assertRpcError(grpc.StatusCode.UNAVAILABLE, self.evaluate_tls,
                            self.tls_target, self.creds(), "other.test")
        proc = self.riskctl(self.tls_target,
                            *self.tls_args(name="other.test"), "health")
        self.assertEqual(proc.returncode, 1)

    def test_untrusted_server(self):
        self.assertRpcError(grpc.StatusCode.UNAVAILABLE, self.evaluate_tls,
                            self.tls_target, self.creds(ca="stranger.crt"),
                            NAME)
        proc = self.riskctl(self.tls_target,
                            *self.tls_args(ca="stranger.crt"), "health")
        self.assertEqual(proc.returncode, 1)

    def test_riskctl_missing_ca_file(self):
        proc = self.riskctl(self.tls_target, "--tls-ca",
                            self.path("nope.crt"), "health")
        self.assertEqual(proc.returncode, 2)

    # ---- client certificates

    def test_mtls_without_client_cert_fails(self):
        self.assertRpcError(grpc.StatusCode.UNAVAILABLE, self.evaluate_tls,
                            self.mtls_target, self.creds(), NAME)
        proc = self.riskctl(self.mtls_target, *self.tls_args(), "health")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("UNAVAILABLE", proc.stderr.decode())

    def test_mtls_with_client_cert(self):
        d = self.evaluate_tls(self.mtls_target, self.creds("client"), NAME)
        self.assertEqual(d.geo.country, "GB")
        proc = self.riskctl(self.mtls_target, *self.tls_args("client"),
                            "evaluate", "--account", "tls", "--ip",
                            "192.0.2.10", "--json")
        self.assertEqual(riskctl_json(proc)["geo"]["country"], "GB")

    def test_mtls_client_cert_from_other_ca_fails(self):
        self.assertRpcError(grpc.StatusCode.UNAVAILABLE, self.evaluate_tls,
                            self.mtls_target, self.creds("intruder"), NAME)
        proc = self.riskctl(self.mtls_target, *self.tls_args("intruder"),
                            "health")
        self.assertEqual(proc.returncode, 1)

    def test_client_cert_on_plain_tls_listener(self):
        # a listener without client_ca does not care about a client cert
        d = self.evaluate_tls(self.tls_target, self.creds("client"), NAME)
        self.assertEqual(d.geo.city, "London")


if __name__ == "__main__":
    unittest.main()
