"""test_package.py - the Debian package, installed and run.

Issue 5, done-means 5: `cpack` (the build's CPackConfig.cmake, DEB
generator) builds a .deb; the test unpacks it into a temporary root with
`dpkg -x`, reads the packaged systemd unit, and starts the packaged agent
with the unit's own ExecStartPre and ExecStart command lines, every
absolute path in them moved into the temporary root. The config is the
packaged example with its listener moved to a free port and the fixture
geo databases filled in, as an operator would. The packaged riskctl then
asks for health and an evaluation.

The package's file list, control fields and the unit's hardening settings
are checked too. Nothing is installed on the machine itself.
"""

import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import AgentTestCase, timeout

HARDENING = {
    "User": "loginrisk", "Group": "loginrisk", "NoNewPrivileges": "yes",
    "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "StateDirectory": "loginrisk",
    "RuntimeDirectory": "loginrisk", "LogsDirectory": "loginrisk",
    "CapabilityBoundingSet": "", "MemoryDenyWriteExecute": "yes",
    "ExecReload": "/bin/kill -HUP $MAINPID", "Restart": "on-failure",
}


def unit_service(path):
    """{key: [values]} of the [Service] section of a unit file (line
    continuations joined)."""
    section, out, pending = None, {}, ""
    with open(path) as f:
        for raw in f:
            line = pending + raw.rstrip("\n")
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if section == "Service" and "=" in line:
                key, value = line.split("=", 1)
                out.setdefault(key.strip(), []).append(value.strip())
    return out


def in_root(root, argv):
    """@argv (a unit's command line) with its special prefix dropped and
    every absolute path moved under @root."""
    argv = list(argv)
    argv[0] = argv[0].lstrip("@-:+!")
    return [os.path.join(root, a.lstrip("/")) if a.startswith("/") else a
            for a in argv]


class PackageTest(AgentTestCase):

    TEST_TIMEOUT = 300

    @classmethod
    def setUpClass(cls):
        build = harness.env_path("LR_BUILD_DIR")
        if not shutil.which("dpkg") or not shutil.which("cpack"):
            raise unittest.SkipTest("dpkg and cpack are needed")
        cls.dir = tempfile.mkdtemp(prefix="lr-pkg-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        out = os.path.join(cls.dir, "out")
        proc = subprocess.run(
            ["cpack", "-G", "DEB", "-B", out, "--config",
             os.path.join(build, "CPackConfig.cmake")],
            capture_output=True, timeout=timeout(300))
        if proc.returncode != 0:
            raise AssertionError("cpack failed:\n%s%s" % (
                proc.stdout.decode(), proc.stderr.decode()))
        debs = glob.glob(os.path.join(out, "*.deb"))
        if len(debs) != 1:
            raise AssertionError("cpack made %r" % debs)
        cls.deb = debs[0]
        cls.root = os.path.join(cls.dir, "root")
        subprocess.run(["dpkg", "-x", cls.deb, cls.root], check=True,
                       timeout=60)
        units = glob.glob(os.path.join(cls.root, "**/systemd/system/"
                                       "loginrisk.service"), recursive=True)
        if len(units) != 1:
            raise AssertionError("packaged units: %r" % units)
        cls.unit = units[0]

    def dpkg_field(self, field):
        return subprocess.run(["dpkg-deb", "-f", self.deb, field],
                              capture_output=True, check=True,
                              timeout=60).stdout.decode().strip()

    def test_package_contents(self):
        self.assertEqual(self.dpkg_field("Package"), "loginrisk")
        self.assertRegex(self.deb, r"loginrisk_[0-9.]+_[a-z0-9]+\.deb$")
        depends = self.dpkg_field("Depends")
        for lib in ("libgrpc", "libmaxminddb0", "libsqlite3-0",
                    "libmicrohttpd12", "libjansson4", "libargon2-1"):
            self.assertIn(lib, depends)
        files = subprocess.run(["dpkg-deb", "-c", self.deb],
                               capture_output=True, check=True,
                               timeout=60).stdout.decode()
        for path in ("bin/loginrisk-agent", "bin/riskctl",
                     "loginrisk/loginrisk.yaml.example",
                     "systemd/system/loginrisk.service",
                     "sysusers.d/loginrisk.conf", "logrotate.d/loginrisk",
                     "doc/loginrisk/operations.md"):
            self.assertIn(path, files)
        self.assertNotIn("test_", files)
        ctl = subprocess.run(["dpkg-deb", "-I", self.deb], capture_output=True,
                             check=True, timeout=60).stdout.decode()
        for script in ("postinst", "prerm", "postrm", "conffiles"):
            self.assertIn(script, ctl)

    def test_unit_hardening(self):
        svc = unit_service(self.unit)
        for key, value in HARDENING.items():
            self.assertIn(value, svc.get(key, []), key)
        self.assertIn("@system-service", svc["SystemCallFilter"])

    def packaged(self, name):
        (path,) = glob.glob(os.path.join(self.root, "**/bin", name),
                            recursive=True)
        return path

    def write_config(self, exec_start, port):
        """The packaged example, edited the way an operator would, written
        where the unit's --config points (inside the root)."""
        config = exec_start[exec_start.index("--config") + 1]
        with open(config + ".example") as f:
            text = f.read()
        text = text.replace('"127.0.0.1:50051"', '"127.0.0.1:%d"' % port)
        for kind in ("city", "asn", "anonymous"):
            text, n = re.subn(r"(?m)^  # %s: \S+" % kind, "  %s: %s" % (
                kind, harness.yaml_str(harness.db_path(kind))), text)
            self.assertEqual(n, 1, kind)
        with open(config, "w") as f:
            f.write(text)

    def test_start_with_unit_command_line(self):
        svc = unit_service(self.unit)
        (start,) = svc["ExecStart"]
        (check,) = svc["ExecStartPre"]
        exec_start = in_root(self.root, shlex.split(start))
        self.assertEqual(os.path.basename(exec_start[0]), "loginrisk-agent")
        self.assertTrue(os.access(exec_start[0], os.X_OK), exec_start[0])
        port = harness.free_port()
        self.write_config(exec_start, port)
        # what systemd's StateDirectory= would have made
        state = exec_start[exec_start.index("--state-dir") + 1]
        os.makedirs(state, mode=0o700, exist_ok=True)

        proc = harness.run(in_root(self.root, shlex.split(check)), secs=60)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        proc = harness.run([exec_start[0], "--version"])
        self.assertRegex(proc.stdout.decode(), r"^loginrisk-agent \d+\.\d+")

        log = open(os.path.join(self.dir, "agent.log"), "wb")
        self.addCleanup(log.close)
        agent = subprocess.Popen(harness.DIE_WITH_PARENT + exec_start,
                                 stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=log, env=harness.child_env(),
                                 cwd=self.dir)
        self.addCleanup(lambda: agent.poll() is None and agent.kill())
        riskctl = [self.packaged("riskctl"), "--target",
                   "127.0.0.1:%d" % port]
        deadline = time.monotonic() + timeout(30)
        while True:
            proc = harness.run(riskctl + ["health"], secs=30)
            if proc.returncode == 0:
                break
            if agent.poll() is not None or time.monotonic() > deadline:
                self.fail("packaged agent not serving: %s\n%s" % (
                    proc.stderr.decode(), self.agent_log()))
            time.sleep(0.1)
        self.assertEqual(proc.stdout.decode().strip(), "SERVING")
        proc = harness.run(riskctl + ["evaluate", "--account", "pkg-user",
                                      "--ip", "192.0.2.10", "--json"])
        d = harness.riskctl_json(proc)
        self.assertEqual(d["geo"]["city"], "London")
        self.assertEqual(d["action"], "ACTION_ALLOW")
        self.assertTrue(os.path.exists(os.path.join(state, "loginrisk.db")))
        agent.send_signal(signal.SIGTERM)
        self.assertEqual(agent.wait(timeout=timeout(30)), 0, self.agent_log())
        self.assertIsNone(harness.sanitizer_report(self.agent_log()))

    def agent_log(self):
        with open(os.path.join(self.dir, "agent.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-6000:]


if __name__ == "__main__":
    unittest.main()
