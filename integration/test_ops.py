"""test_ops.py - the agent in production: metrics, decision log, geo
reloads, health.

Issue 5, done-means 1-3 and the health contract:

- MetricsTest: a known sequence of calls (evaluations with known actions
  and reasons, invalid requests, outcomes, admin locks and unlocks, a dry
  run, reloads that pass and fail, health checks, a call without a token),
  then one scrape of /metrics: every counter has exactly the value the
  sequence implies, and the whole page passes a strict parser of the
  Prometheus text format (HELP/TYPE, names, labels and their escapes,
  values, histogram buckets cumulative with le="+Inf" equal to _count).
- DecisionLogTest: the agent's own decision log, replayed with `riskctl
  replay` under the config the agent ran, gives the same action for every
  line; a removed log file is created again at SIGHUP and gets the new
  lines; a log that cannot be written (/dev/full) never fails Evaluate and
  every lost line is counted.
- GeoReloadTest: the city database replaced (by rename, as geoipupdate
  does) with a corrupt file keeps the old data serving and raises
  loginrisk_geo_reload_failures_total; replaced with a good database of
  different data (built at test time from a modified copy of
  data/geo-fixtures.json) is picked up without a signal.
- HealthTest: SERVING with a writable store; NOT_SERVING while the state
  store cannot be written (a read-only bind mount; a full tmpfs, and
  SERVING again once space is back), with Evaluate still answering.

Metrics are scraped over HTTP from --metrics-listen on a free loopback
port. Waits poll with deadlines; nothing sleeps to let time pass.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request
from collections import Counter

import admin
import harness
import grpc  # after harness: it sets GRPC_ENABLE_FORK_SUPPORT
from harness import Agent, AgentTestCase, config_yaml, now_ms, stubs, timeout

LONDON, TOKYO, HOSTING, VPN, TOR, UNKNOWN = (
    "192.0.2.%d", "203.0.113.%d", "198.18.1.%d", "198.18.2.%d",
    "198.18.3.%d", "198.19.0.%d")

# --------------------------------------------------------------------------
# a strict parser of the Prometheus text exposition format (0.0.4)

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_VALUE = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]Inf|NaN")
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class PromError(AssertionError):
    pass


def _prom_float(text, where):
    if not _VALUE.fullmatch(text):
        raise PromError("%s: bad value %r" % (where, text))
    return float(text.replace("Inf", "inf"))


def _parse_labels(line, i, where):
    """Parses {a="b",...} starting at line[i] == '{'; returns (labels, i
    after '}')."""
    labels = {}
    i += 1
    while True:
        if line[i] == "}":
            return labels, i + 1
        m = _LABEL.match(line, i)
        if not m:
            raise PromError("%s: bad label name at %d" % (where, i))
        name = m.group(0)
        i = m.end()
        if line[i:i + 2] != '="':
            raise PromError("%s: expected =\" after %s" % (where, name))
        i += 2
        value = []
        while True:
            if i >= len(line):
                raise PromError("%s: unterminated label value" % where)
            c = line[i]
            if c == "\\":
                esc = line[i + 1:i + 2]
                if esc not in ("\\", '"', "n"):
                    raise PromError("%s: bad escape \\%s" % (where, esc))
                value.append("\n" if esc == "n" else esc)
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise PromError("%s: label %s twice" % (where, name))
        labels[name] = "".join(value)
        if line[i] == ",":
            i += 1
        elif line[i] != "}":
            raise PromError("%s: expected , or } at %d" % (where, i))


def _family_of(name, families):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and families.get(base, {}).get("type") in ("histogram",
                                                            "summary"):
            if suffix == "_bucket" and families[base]["type"] != "histogram":
                continue
            return base
    return name


def _check_histogram(fam, name):
    series = {}
    for sample, labels, value in fam["samples"]:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "sum": None,
                                    "count": None})
        if sample == name + "_bucket":
            if "le" not in labels:
                raise PromError("%s: bucket without le" % name)
            s["buckets"].append((_prom_float(labels["le"], name), value))
        elif sample == name + "_sum":
            s["sum"] = value
        elif sample == name + "_count":
            s["count"] = value
        else:
            raise PromError("%s: sample %s in a histogram" % (name, sample))
    for key, s in series.items():
        b = s["buckets"]
        if not b or b[-1][0] != float("inf"):
            raise PromError("%s%s: no le=\"+Inf\" bucket last" % (name, key))
        if s["sum"] is None or s["count"] is None:
            raise PromError("%s%s: _sum or _count missing" % (name, key))
        for (le0, c0), (le1, c1) in zip(b, b[1:]):
            if not le1 > le0:
                raise PromError("%s%s: le not increasing" % (name, key))
            if c1 < c0:
                raise PromError("%s%s: buckets not cumulative" % (name, key))
        if b[-1][1] != s["count"]:
            raise PromError("%s%s: +Inf bucket %s != _count %s" %
                            (name, key, b[-1][1], s["count"]))


def parse_prometheus(text):
    """Parses @text strictly; returns {family: {"type", "help",
    "samples": [(sample name, labels, value)]}}. Raises PromError."""
    if not text.endswith("\n"):
        raise PromError("the page does not end with a newline")
    families, seen, current = {}, set(), None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d" % n
        if line == "":
            continue
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (\S+) ?(.*)", line)
            if not m:
                continue  # a plain comment
            kind, name, rest = m.groups()
            if not _NAME.fullmatch(name):
                raise PromError("%s: bad metric name %r" % (where, name))
            fam = families.setdefault(name, {"type": None, "help": None,
                                             "samples": []})
            if fam["samples"]:
                raise PromError("%s: %s after samples of %s" %
                                (where, kind, name))
            if kind == "TYPE":
                if fam["type"] is not None or rest not in _TYPES:
                    raise PromError("%s: bad or second TYPE for %s" %
                                    (where, name))
                fam["type"] = rest
            else:
                if fam["help"] is not None:
                    raise PromError("%s: second HELP for %s" % (where, name))
                if re.search(r"\\[^\\n]", rest.replace("\\\\", "")):
                    raise PromError("%s: bad escape in HELP" % where)
                fam["help"] = rest
            current = name
            continue
        m = _NAME.match(line)
        if not m:
            raise PromError("%s: bad sample name" % where)
        sample = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _parse_labels(line, i, where)
        parts = line[i:].split(" ")
        if parts[0] != "" or len(parts) not in (2, 3):
            raise PromError("%s: expected ' value [timestamp]'" % where)
        value = _prom_float(parts[1], where)
        if len(parts) == 3 and not re.fullmatch(r"-?[0-9]+", parts[2]):
            raise PromError("%s: bad timestamp" % where)
        family = _family_of(sample, families)
        if family != current or families[family]["type"] is None:
            raise PromError("%s: %s is not in the family declared just "
                            "before it (%s)" % (where, sample, current))
        key = (sample, tuple(sorted(labels.items())))
        if key in seen:
            raise PromError("%s: series %s twice" % (where, key))
        seen.add(key)
        families[family]["samples"].append((sample, labels, value))
    for name, fam in families.items():
        if fam["type"] == "histogram":
            _check_histogram(fam, name)
        if fam["type"] == "counter":
            if not name.endswith("_total"):
                raise PromError("counter %s does not end in _total" % name)
            for s in fam["samples"]:
                if s[2] < 0:
                    raise PromError("counter %s is negative" % name)
    return families


def metric(families, name, **labels):
    """The value of the sample @name with exactly @labels (0 when the
    family has no such series)."""
    fam = families.get(_family_of(name, families))
    if fam is None:
        raise AssertionError("no metric family for %s" % name)
    for sample, lab, value in fam["samples"]:
        if sample == name and lab == labels:
            return value
    return 0.0


def series(families, name):
    """{frozen labels: value} of every sample @name."""
    fam = families.get(_family_of(name, families), {"samples": []})
    return {tuple(sorted(lab.items())): v
            for s, lab, v in fam["samples"] if s == name}


# --------------------------------------------------------------------------
# helpers


def scrape(port):
    """GET /metrics; returns (content type, parsed families, text)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=timeout(10)) as r:
        text = r.read().decode("utf-8")
        return r.headers.get("Content-Type"), parse_prometheus(text), text


def wait_for(fn, what, secs=15):
    """Polls fn() until it returns something true; returns it."""
    deadline = time.monotonic() + timeout(secs)
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def read_lines(path):
    try:
        with open(path, "rb") as f:
            data = f.read().decode()
    except FileNotFoundError:
        return []
    return [json.loads(x) for x in data.splitlines() if x.strip()]


def action_name(a):
    return stubs().risk_pb2.Action.Name(a)


class OpsCase(AgentTestCase):
    TEST_TIMEOUT = 180

    def new_agent(self, name):
        agent = Agent(name)
        self.addCleanup(agent.cleanup)
        agent.metrics_port = harness.free_port()
        return agent

    def start(self, agent, config, args=(), wait=True):
        agent.start(config, args=["--metrics-listen", "127.0.0.1:%d" %
                                  agent.metrics_port] + list(args),
                    wait=wait)
        return agent

    def settled(self, agent, fn):
        """fn(scrape) once two scrapes 200 ms apart agree."""
        last = fn(self.scrape(agent))
        while True:
            time.sleep(0.2)
            now = fn(self.scrape(agent))
            if now == last:
                return now
            last = now

    def scrape(self, agent):
        ctype, fams, _ = scrape(agent.metrics_port)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        return fams

    def evaluate(self, agent, account, ip, **kw):
        return agent.evaluate(account_id=account, ip=ip, **kw)


# --------------------------------------------------------------------------
# done-means 1: exact counters after a known sequence


class MetricsTest(OpsCase):

    def test_prometheus_parser_refuses_bad_pages(self):
        good = ("# HELP a_total A.\n# TYPE a_total counter\n"
                "a_total{x=\"q\\\"\\\\\\n\"} 3\n")
        self.assertEqual(metric(parse_prometheus(good), "a_total",
                                x='q"\\\n'), 3)
        bad = [good[:-1],                                  # no newline
               good.replace("counter", "gauge2"),          # bad type
               good.replace('{x="', '{1x="'),              # label name
               good.replace("\\n", "\\t"),                 # escape
               good.replace(" 3\n", " three\n"),           # value
               good + "b_total 1\n",                        # no TYPE
               good + "a_total{x=\"q\\\"\\\\\\n\"} 4\n",    # twice
               "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
               "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
               "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
               "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"]
        for page in bad:
            with self.assertRaises(PromError, msg=page):
                parse_prometheus(page)

    def test_counters_after_known_sequence(self):
        tokens = admin.Tokens()
        agent = self.new_agent("metrics")
        base = admin.admin_config(agent, tokens)
        self.start(agent, base)
        # an RPC is counted as it closes, just after the client has its
        # answer: the harness's start probes, settled
        health0 = self.settled(agent, lambda m: metric(
            m, "loginrisk_rpc_total", method="grpc.health.v1.Health/Check",
            code="OK"))
        self.assertGreaterEqual(health0, 1)

        decisions = []
        # 4 from London (no reason, allow), 3 through Tor (captcha),
        # 2 from hosting, 2 from a VPN, 1 unknown address
        plan = ([LONDON % i for i in range(1, 5)] +
                [TOR % i for i in range(1, 4)] +
                [HOSTING % i for i in range(1, 3)] +
                [VPN % i for i in range(1, 3)] + [UNKNOWN % 1])
        for i, ip in enumerate(plan):
            decisions.append(self.evaluate(agent, "m-%d" % i, ip))
        # 2 invalid Evaluates, 1 outcome for an unknown request
        risk = agent.risk()
        s = stubs()
        for bad_ip in ("999.1.1.1", "not-an-ip"):
            with self.assertRaises(grpc.RpcError):
                risk.Evaluate(s.risk_pb2.LoginAttempt(
                    account_id="bad", ip=bad_ip), timeout=timeout(10))
        with self.assertRaises(grpc.RpcError):
            risk.ReportOutcome(s.risk_pb2.Outcome(
                request_id="no-such", account_id="x",
                kind=s.risk_pb2.OUTCOME_CHALLENGE_PASSED,
                timestamp_ms=now_ms()), timeout=timeout(10))
        # admin: lock 3, lock the same 3 again, unlock 1, a dry run, a
        # call without a token, ListAudit, ReloadConfig (applied)
        st = admin.AdminStub(agent, tokens.responder)
        self.assertEqual(st.lock(["m-lock-1", "m-lock-2", "m-lock-3"])
                         .changed, 3)
        self.assertEqual(st.lock(["m-lock-1", "m-lock-2", "m-lock-3"])
                         .changed, 0)
        self.assertEqual(st.unlock(["m-lock-3"]).changed, 1)
        self.assertEqual(st.lock(["m-dry"], dry_run=True).changed, 1)
        with self.assertRaises(grpc.RpcError):
            admin.AdminStub(agent, None).total_locks()
        st.call("ListAudit", s.risk_pb2.ListAuditRequest(max=5))
        resp = admin.AdminStub(agent, tokens.analyst).call(
            "ReloadConfig", s.risk_pb2.ReloadConfigRequest())
        self.assertTrue(resp.applied, resp.errors)
        # the locked account is refused
        d = self.evaluate(agent, "m-lock-1", LONDON % 9)
        self.assertEqual(action_name(d.action), "ACTION_LOCK")
        decisions.append(d)
        # SIGHUP with a good file, then with a broken one
        mark = len(agent.stderr())
        agent.signal(signal.SIGHUP)
        agent.wait_log(r"reloaded: policy", start=mark)
        agent.write_config(base + "policy_typo: 1\n")
        mark = len(agent.stderr())
        agent.signal(signal.SIGHUP)
        agent.wait_log(r"reload failed", start=mark)
        agent.write_config(base)
        # two more health checks
        for _ in range(2):
            agent.health().Check(s.health_pb2.HealthCheckRequest(),
                                 timeout=timeout(10))

        expected_rpcs = (len(decisions) + 2 + 1 + 3 + 1 + 1 + 1 + 1 +
                         health0 + 2)
        m = wait_for(lambda: (lambda f: f if sum(series(
            f, "loginrisk_rpc_total").values()) == expected_rpcs else None)(
                self.scrape(agent)), "%d RPCs counted" % expected_rpcs)
        actions = Counter(action_name(d.action) for d in decisions)
        self.assertEqual(actions["ACTION_CAPTCHA"], 3)  # Tor
        self.assertGreaterEqual(actions["ACTION_ALLOW"], 8)
        for a in ("allow", "captcha", "challenge_2fa", "lock"):
            self.assertEqual(
                metric(m, "loginrisk_evaluations_total", action=a),
                actions["ACTION_" + a.upper()], a)
        reasons = Counter(r.code for d in decisions for r in d.reasons)
        self.assertEqual(reasons["TOR_EXIT"], 3)
        self.assertEqual(reasons["HOSTING_IP"], 2)
        self.assertEqual(reasons["GEO_UNKNOWN"], 1)
        self.assertEqual(reasons["ACCOUNT_LOCKED"], 1)
        got = {dict(k)["code"]: v for k, v in
               series(m, "loginrisk_reasons_total").items()}
        for code in set(got) | set(reasons):
            self.assertEqual(got.get(code, 0), reasons[code], code)

        def rpc(method, code):
            return metric(m, "loginrisk_rpc_total", method=method, code=code)
        ev = "loginrisk.v1.RiskService/Evaluate"
        self.assertEqual(rpc(ev, "OK"), len(decisions))
        self.assertEqual(rpc(ev, "INVALID_ARGUMENT"), 2)
        self.assertEqual(rpc("loginrisk.v1.RiskService/ReportOutcome",
                             "NOT_FOUND"), 1)
        adm = "loginrisk.v1.AdminService/"
        self.assertEqual(rpc(adm + "LockAccounts", "OK"), 3)
        self.assertEqual(rpc(adm + "UnlockAccounts", "OK"), 1)
        self.assertEqual(rpc(adm + "ListLocks", "UNAUTHENTICATED"), 1)
        self.assertEqual(rpc(adm + "ListAudit", "OK"), 1)
        self.assertEqual(rpc(adm + "ReloadConfig", "OK"), 1)
        self.assertEqual(rpc("grpc.health.v1.Health/Check", "OK"),
                         health0 + 2)
        self.assertEqual(metric(m, "loginrisk_rpc_duration_seconds_count",
                                method=ev), len(decisions) + 2)
        self.assertEqual(metric(m, "loginrisk_admin_actions_total",
                                kind="lock"), 2)
        self.assertEqual(metric(m, "loginrisk_admin_actions_total",
                                kind="unlock"), 1)
        self.assertEqual(metric(m, "loginrisk_admin_actions_total",
                                kind="lock_by_query"), 0)
        self.assertEqual(metric(m, "loginrisk_admin_actions_total",
                                kind="reload_config"), 1)
        self.assertEqual(metric(m, "loginrisk_admin_accounts_changed_total",
                                kind="lock"), 3)
        self.assertEqual(metric(m, "loginrisk_admin_accounts_changed_total",
                                kind="unlock"), 1)
        self.assertEqual(metric(m, "loginrisk_config_reloads_total",
                                result="success"), 2)
        self.assertEqual(metric(m, "loginrisk_config_reloads_total",
                                result="failure"), 1)
        self.assertEqual(metric(m, "loginrisk_geo_reload_failures_total"), 0)
        self.assertEqual(metric(m, "loginrisk_store_writable"), 1)
        # commit times: the lock writes (2 locks, 1 unlock), and the writer
        # thread's transactions (profiles, history batches) once it wrote
        commits = "loginrisk_store_commit_seconds_count"
        self.assertGreaterEqual(metric(m, commits, kind="lock"), 3)
        self.assertEqual(metric(m, "loginrisk_store_commit_seconds_bucket",
                                kind="lock", le="+Inf"),
                         metric(m, commits, kind="lock"))
        wait_for(lambda: metric(self.scrape(agent), commits,
                                kind="history") >= 1,
                 "a history commit timed")
        self.assertEqual(metric(m, "loginrisk_draining"), 0)
        self.assertEqual(metric(m, "loginrisk_info", version=metric_version(
            m), policy_version="it-1"), 1)
        self.assertGreater(metric(
            m, "loginrisk_geo_database_build_timestamp_seconds"), 0)
        agent.stop()


def metric_version(fams):
    (labels,) = series(fams, "loginrisk_info").keys()
    return dict(labels)["version"]


# --------------------------------------------------------------------------
# done-means 2 and 3: the decision log


def mixed_traffic(t0):
    """(account, ip, device, credential, timestamp) of a day's mix that
    fires most signals: regular users, travel to Tokyo, new devices,
    credential stuffing from a hosting network, Tor, unknown and IPv6
    addresses, repeated failures on one account."""
    s = stubs().risk_pb2
    out, t = [], t0
    for i in range(25):
        t += 7000
        out.append(("u-%d" % i, LONDON % (10 + i % 5), "dev-%d" % i,
                     s.CREDENTIAL_VALID, t))
    for i in range(0, 25, 3):  # half an hour later, from Tokyo
        t += 120000
        out.append(("u-%d" % i, TOKYO % (1 + i), "dev-%d" % i,
                     s.CREDENTIAL_VALID, t))
    for i in range(60):  # stuffing: one /24 of a hosting provider
        t += 900
        out.append(("victim-%d" % i, HOSTING % (1 + i % 4), "",
                     s.CREDENTIAL_INVALID, t))
    for i in range(12):
        t += 1500
        out.append(("u-1", TOR % (1 + i % 3), "tor-dev",
                     s.CREDENTIAL_INVALID, t))
    for i in range(8):
        t += 2000
        out.append(("u-%d" % (2 * i), UNKNOWN % (1 + i), "dev-x-%d" % i,
                     s.CREDENTIAL_UNSPECIFIED, t))
    for i in range(8):
        t += 2000
        out.append(("u-%d" % (3 * i), "2001:db8:1::%x" % (i + 1), "dev-6",
                     s.CREDENTIAL_VALID, t))
    for i in range(10):
        t += 3000
        out.append(("u-4", VPN % (1 + i), "dev-4", s.CREDENTIAL_INVALID, t))
    return out


ALL_SIGNALS = {"NEW_DEVICE": 15, "DEVICE_DISTINCT_ACCOUNTS": 30,
               "NEW_COUNTRY": 20, "NEW_ASN": 5, "IMPOSSIBLE_TRAVEL": 50,
               "IP_VELOCITY": 20, "IP_DISTINCT_ACCOUNTS": 30,
               "SUBNET_VELOCITY": 20, "ASN_VELOCITY": 10,
               "ACCOUNT_FAILURES": 25, "ACCOUNT_DISTINCT_IPS": 20,
               "ATTACK_WAVE": 30}


class DecisionLogTest(OpsCase):

    def config(self, agent, log):
        # above limits.distinct_exact the distinct counts are estimates
        # keyed per engine at random, so replay could differ there
        return config_yaml(agent, points=ALL_SIGNALS, extra=(
            "limits:\n  distinct_exact: 256\n"
            "logging:\n  decision_log: %s\n" % harness.yaml_str(log)))

    def test_replay_of_own_log_gives_same_actions(self):
        agent = self.new_agent("declog")
        log = os.path.join(agent.dir, "decisions.jsonl")
        self.start(agent, self.config(agent, log))
        answered = {}
        for account, ip, dev, cred, ts in mixed_traffic(now_ms() - 3600000):
            d = self.evaluate(agent, account, ip, device_id=dev,
                              credential=cred, timestamp_ms=ts,
                              user_agent="it/1")
            answered[d.request_id] = action_name(d.action)
        n = len(answered)
        lines = wait_for(lambda: len(read_lines(log)) == n and
                         read_lines(log), "%d log lines" % n)
        self.assertEqual({x["request_id"]: x["action"] for x in lines},
                         answered)
        self.assertGreaterEqual(len(set(answered.values())), 3,
                                Counter(answered.values()))
        for x in lines:
            self.assertNotIn("password", json.dumps(x))
        agent.stop()
        proc = harness.run([harness.env_path("LR_RISKCTL"), "replay",
                            "--config", agent.config_path, "--json", log],
                           secs=120)
        r = harness.riskctl_json(proc)
        self.assertEqual(r["malformed"], 0)
        self.assertEqual(r["events"], n)
        self.assertEqual(r["baseline"]["source"], "recorded")
        self.assertEqual(r["changed"], 0, json.dumps(r.get("sample"))[:3000])
        self.assertEqual(r["baseline"]["actions"], r["draft"]["actions"])

    def test_removed_log_recreated_on_sighup(self):
        agent = self.new_agent("declog-rot")
        log = os.path.join(agent.dir, "decisions.jsonl")
        self.start(agent, self.config(agent, log))
        for i in range(3):
            self.evaluate(agent, "r-%d" % i, LONDON % 1)
        wait_for(lambda: len(read_lines(log)) == 3, "3 lines")
        rotated = log + ".1"
        os.rename(log, rotated)  # what logrotate does
        self.evaluate(agent, "r-3", LONDON % 1)  # into the moved file
        wait_for(lambda: len(read_lines(rotated)) == 4, "4 lines in .1")
        os.unlink(rotated)
        mark = len(agent.stderr())
        agent.signal(signal.SIGHUP)
        agent.wait_log(r"reloaded: policy", start=mark)
        wait_for(lambda: os.path.exists(log), "a new log file")
        ids = [self.evaluate(agent, "r-new-%d" % i, LONDON % 2).request_id
               for i in range(2)]
        lines = wait_for(lambda: len(read_lines(log)) == 2 and
                         read_lines(log), "2 new lines")
        self.assertEqual([x["request_id"] for x in lines], ids)
        m = self.scrape(agent)
        self.assertEqual(metric(m, "loginrisk_decision_log_lines_total"), 6)
        self.assertEqual(metric(m, "loginrisk_decision_log_errors_total"), 0)
        agent.stop()

    def test_unwritable_log_never_fails_evaluate(self):
        agent = self.new_agent("declog-full")
        self.start(agent, config_yaml(agent),
                   args=["--decision-log", "/dev/full"])
        for i in range(20):
            d = self.evaluate(agent, "f-%d" % i, LONDON % 3)
            self.assertEqual(d.geo.city, "London")
        wait_for(lambda: metric(self.scrape(agent),
                                "loginrisk_decision_log_errors_total") == 20,
                 "20 lost lines counted")
        m = self.scrape(agent)
        self.assertEqual(metric(m, "loginrisk_decision_log_lines_total"), 0)
        self.assertEqual(metric(m, "loginrisk_evaluations_total",
                                action="allow"), 20)
        agent.wait_log(r"decision log /dev/full: write: No space left")
        agent.stop()


# --------------------------------------------------------------------------
# the analysts' Python example (examples/analyst.py)


class ExampleTest(OpsCase):

    def example(self, *args, env=None):
        path = os.path.join(harness.env_path("LR_SOURCE_DIR"), "examples",
                            "analyst.py")
        return harness.run(["/usr/bin/python3", path] + list(args), secs=120,
                           env=env)

    def test_account_and_replay(self):
        tokens = admin.Tokens()
        agent = self.new_agent("example")
        log = os.path.join(agent.dir, "decisions.jsonl")
        self.start(agent, admin.admin_config(agent, tokens) +
                   "logging:\n  decision_log: %s\n" % harness.yaml_str(log))
        for i in range(3):
            self.evaluate(agent, "ex-alice", LONDON % 1, device_id="d1",
                          credential=stubs().risk_pb2.CREDENTIAL_VALID)
        self.evaluate(agent, "ex-bob", TOR % 1)
        admin.AdminStub(agent, tokens.responder).lock(["ex-alice"])
        proc = self.example("account", "ex-alice", "--target", agent.tcp,
                            env={"RISKCTL_TOKEN": tokens.analyst})
        out = proc.stdout.decode()
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        self.assertIn("LOCKED by %s" % admin.RESPONDER, out)
        self.assertIn("d1", out)
        self.assertEqual(out.count("192.0.2.1 "), 3, out)
        wait_for(lambda: len(read_lines(log)) == 4, "4 log lines")
        draft = os.path.join(agent.dir, "draft.yaml")
        with open(draft, "w") as f:
            f.write(config_yaml(agent, thresholds={"challenge_2fa": 38}))
        proc = self.example("replay", "--config", draft, "--riskctl",
                            harness.env_path("LR_RISKCTL"), log)
        out = proc.stdout.decode()
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        self.assertIn("4 events, 1 changed, 0 malformed", out)
        self.assertRegex(out, r"CAPTCHA -> 2FA +1\n")  # Tor, at 40 points or more
        self.assertRegex(out, r"reason TOR_EXIT +in 1 changed")
        agent.stop()


# --------------------------------------------------------------------------
# done-means 3: geo databases replaced under the running agent


def build_variant_city(out_dir, city="Manchester"):
    """A city database whose 192.0.2.0/24 is @city (from a modified copy of
    data/geo-fixtures.json, through data/make-fixture-mmdb.pl)."""
    src = os.path.join(harness.env_path("LR_SOURCE_DIR"), "data")
    with open(os.path.join(src, "geo-fixtures.json")) as f:
        data = json.load(f)
    for row in data["networks"]:
        if row["network"] == "192.0.2.0/24":
            row["city"] = city
    work = tempfile.mkdtemp(prefix="lr-mmdb-", dir=out_dir)
    path = os.path.join(work, "fixtures.json")
    with open(path, "w") as f:
        json.dump(data, f)
    subprocess.run(["perl", os.path.join(src, "make-fixture-mmdb.pl"), path,
                    work], check=True, capture_output=True, timeout=120)
    return os.path.join(work, "loginrisk-city.mmdb")


class GeoReloadTest(OpsCase):

    def replace(self, path, src=None, data=None):
        """Renames a new file over @path, as geoipupdate does."""
        tmp = path + ".tmp"
        if src:
            shutil.copyfile(src, tmp)
        else:
            with open(tmp, "wb") as f:
                f.write(data)
        os.replace(tmp, path)

    def test_corrupt_kept_good_served(self):
        agent = self.new_agent("georeload")
        city = os.path.join(agent.dir, "city.mmdb")
        shutil.copyfile(harness.db_path("city"), city)
        text = config_yaml(agent).replace(
            harness.yaml_str(harness.db_path("city")), harness.yaml_str(city))
        self.assertIn(city, text)
        self.start(agent, text)
        self.assertEqual(self.evaluate(agent, "g-0", LONDON % 1).geo.city,
                         "London")
        variant = build_variant_city(agent.dir)

        # a corrupt file: the old database keeps serving, counted once
        with open(harness.db_path("city"), "rb") as f:
            good = f.read()
        self.replace(city, data=b"\x00garbage" * 4096 + good[:1000])
        wait_for(lambda: metric(self.scrape(agent),
                                "loginrisk_geo_reload_failures_total") == 1,
                 "the failed geo reload counted")
        agent.wait_log(r"geo reload refused")
        for i in range(5):
            d = self.evaluate(agent, "g-c-%d" % i, LONDON % (i + 1))
            self.assertEqual((d.geo.city, d.geo.country), ("London", "GB"))
        # not retried while the file stays as it is
        time.sleep(harness.timeout(2.5))
        m = self.scrape(agent)
        self.assertEqual(metric(m, "loginrisk_geo_reload_failures_total"), 1)

        # a good file with other data: picked up without a signal
        self.replace(city, src=variant)
        wait_for(lambda: self.evaluate(agent, "g-n", LONDON % 1).geo.city ==
                 "Manchester", "the new database served")
        d = self.evaluate(agent, "g-tokyo", TOKYO % 1)
        self.assertEqual(d.geo.city, "Tokyo")
        m = self.scrape(agent)
        self.assertEqual(metric(m, "loginrisk_geo_reload_failures_total"), 1)
        self.assertEqual(metric(m, "loginrisk_config_reloads_total",
                                result="success"), 0)
        self.assertIn("geo databases reloaded", agent.stderr())

        # a corrupt file, then SIGHUP: refused too, the new data stays
        self.replace(city, data=b"not a database")
        mark = len(agent.stderr())
        agent.signal(signal.SIGHUP)
        agent.wait_log(r"reload failed", start=mark)
        self.assertEqual(self.evaluate(agent, "g-h", LONDON % 1).geo.city,
                         "Manchester")
        wait_for(lambda: metric(self.scrape(agent),
                                "loginrisk_geo_reload_failures_total") >= 2,
                 "SIGHUP geo failure counted")
        agent.stop()

    def test_old_database_warns(self):
        agent = self.new_agent("geoage")
        city = os.path.join(agent.dir, "old-city.mmdb")
        days = 100
        built = age_database(harness.db_path("city"), city, days)
        text = config_yaml(agent).replace(
            harness.yaml_str(harness.db_path("city")), harness.yaml_str(city))
        self.start(agent, text)
        agent.wait_log(r"oldest was built %d days ago, more than "
                       r"geo.max_age_days \(30\) at start" % days)
        m = self.scrape(agent)
        self.assertEqual(
            metric(m, "loginrisk_geo_database_build_timestamp_seconds"),
            built)
        age = metric(m, "loginrisk_geo_database_age_seconds")
        self.assertLess(abs(time.time() - built - age), 120)
        self.assertEqual(metric(m, "loginrisk_geo_database_stale"), 1)
        agent.stop()


def age_database(src, dst, days):
    """Copies the .mmdb @src to @dst with its metadata's build_epoch moved
    @days into the past (a 4-byte uint64 in the MaxMind DB format: control
    bytes 0x04 0x02, then big-endian). Returns the new epoch."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    at = data.rindex(b"build_epoch") + len(b"build_epoch")
    ctrl, ext = data[at], data[at + 1]
    if ctrl >> 5 != 0 or ext != 2 or ctrl & 0x1F != 4:
        raise unittest.SkipTest("build_epoch is not a 4-byte uint64 here")
    epoch = int.from_bytes(data[at + 2:at + 6], "big") - days * 86400
    data[at + 2:at + 6] = epoch.to_bytes(4, "big")
    with open(dst, "wb") as f:
        f.write(data)
    return epoch


# --------------------------------------------------------------------------
# request size limits per service


class MessageSizeTest(OpsCase):
    """agent.max_message_bytes (64 KiB) holds Evaluate; AdminService takes
    batches up to agent.admin_max_message_bytes (4 MiB) on the same port."""

    def test_admin_batches_big_evaluate_small(self):
        tokens = admin.Tokens()
        agent = self.new_agent("msgsize")
        self.start(agent, admin.admin_config(agent, tokens))
        ids = ["size-test-account-%06d-%s" % (i, "x" * 40)
               for i in range(10000)]
        st = admin.AdminStub(agent, tokens.responder)
        res = st.lock(ids)  # about 700 KB
        self.assertEqual((res.matched, res.changed), (10000, 10000))
        e = self.assertRpcError(
            grpc.StatusCode.RESOURCE_EXHAUSTED, self.evaluate, agent,
            "size", LONDON % 1, user_agent="u" * 100000)
        self.assertIn("agent.max_message_bytes", e.details())
        self.assertEqual(self.evaluate(agent, "size", LONDON % 1).geo.city,
                         "London")
        e = self.assertRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, st.lock,
                                ["y" * 200] * 25000)  # about 5.2 MB
        agent.stop()


# --------------------------------------------------------------------------
# health follows the store


def mount(*args):
    if os.geteuid() != 0:
        raise unittest.SkipTest("mounting needs root")
    proc = subprocess.run(["mount"] + list(args), capture_output=True,
                          timeout=30)
    if proc.returncode != 0:
        raise unittest.SkipTest("mount %s: %s" % (
            " ".join(args), proc.stderr.decode().strip()))


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


class HealthTest(OpsCase):

    def status(self, agent, service=""):
        s = stubs()
        r = agent.health().Check(s.health_pb2.HealthCheckRequest(
            service=service), timeout=timeout(10))
        return s.health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)

    def test_serving_with_writable_store(self):
        agent = self.new_agent("health")
        self.start(agent, config_yaml(agent))
        for svc in ("", "loginrisk.v1.RiskService",
                    "loginrisk.v1.AdminService"):
            self.assertEqual(self.status(agent, svc), "SERVING")
        self.assertEqual(metric(self.scrape(agent),
                                "loginrisk_store_writable"), 1)
        agent.stop()

    def test_not_serving_on_read_only_store(self):
        agent = self.new_agent("health-ro")
        self.start(agent, config_yaml(agent))
        agent.stop()
        mount("--bind", agent.state_dir, agent.state_dir)
        self.addCleanup(umount, agent.state_dir)
        self.addCleanup(agent.kill)
        mount("-o", "remount,ro,bind", agent.state_dir)
        self.start(agent, None, wait="answering")
        for svc in ("", "loginrisk.v1.RiskService"):
            self.assertEqual(self.status(agent, svc), "NOT_SERVING")
        d = self.evaluate(agent, "h-ro", LONDON % 1)  # still answers
        self.assertEqual(d.geo.city, "London")
        self.assertEqual(metric(self.scrape(agent),
                                "loginrisk_store_writable"), 0)
        agent.stop()

    def test_not_serving_while_disk_full(self):
        agent = self.new_agent("health-full")
        os.makedirs(agent.state_dir)
        mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", agent.state_dir)
        self.addCleanup(umount, agent.state_dir)
        self.addCleanup(agent.kill)
        tokens = admin.Tokens()
        self.start(agent, admin.admin_config(agent, tokens))
        st = admin.AdminStub(agent, tokens.responder)
        st.lock(["hf-before"])
        filler = os.path.join(agent.state_dir, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\xa5" * 65536)
                    f.flush()
            except OSError:
                pass
        failed = False
        for k in range(50):  # until a lock transaction no longer fits
            try:
                st.lock(["hf-%d-%d" % (k, j) for j in range(2000)])
            except grpc.RpcError:
                failed = True
                break
        self.assertTrue(failed, "the disk never filled")
        self.assertEqual(self.status(agent), "NOT_SERVING")
        self.assertEqual(self.evaluate(agent, "h-f", LONDON % 1).geo.city,
                         "London")
        os.unlink(filler)
        # the housekeeping probe notices, no traffic needed
        wait_for(lambda: self.status(agent) == "SERVING", "SERVING again")
        st.lock(["hf-after"])
        agent.stop()


if __name__ == "__main__":
    unittest.main()
