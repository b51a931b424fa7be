"""scenario.py - what test_scenarios.py and test_durability.py share: the
scenario configs, an event clock and a small client over one agent.

Two kinds of config:

  explicit_config()  every threshold, signal (points and minimum action),
                     velocity limit, travel setting, lock and spray setting
                     written out in the file, so a scenario's expected
                     action follows from numbers the test states, not from
                     defaults that may be retuned;
  default_config()   listeners, the fixture databases and the state dir and
                     nothing else: the policy users run out of the box (for
                     the anti-DoS and credential-stuffing scenarios, which
                     are promises about the defaults).

Time only moves through timestamp_ms: a scenario starts at Clock.t0, a few
days before the wall clock (inside the agent's accepted 7-day past window),
and places every event at an offset from it. Nothing sleeps for state.
"""

import os
import sqlite3
import struct
import time

import grpc

import harness
from harness import db_path, now_ms, stubs, timeout, yaml_str

MIN_MS = 60 * 1000
HOUR_MS = 60 * MIN_MS
DAY_MS = 24 * HOUR_MS

# ---- the fixture places (data/README.md) -------------------------------

LONDON = "192.0.2.{}"        # GB, AS64500, radius 10 km
NEW_YORK = "198.51.100.{}"   # US, AS64501, radius 20 km, 5,570 km away
TOKYO = "203.0.113.{}"       # JP, AS64502, radius 50 km
PARIS = "198.18.0.{}"        # FR, AS64510, radius 20 km, 344 km away
HOSTING = "198.18.1.{}"      # DE, hosting provider
TOR = "198.18.3.{}"          # DE, Tor exit
TORONTO_PROXY = "198.18.12.{}"  # CA, residential proxy (anonymous), far away


def unknown_ip(i):
    """An address in no database (198.19.0.0/16), one /24 per @i < 256."""
    return "198.19.%d.7" % i


# ---- the explicit policy -------------------------------------------------

# code: (points, min_action). The same numbers as the shipped defaults
# today, but stated here, so the expectations below follow from this table.
SIGNALS = {
    "NEW_DEVICE": (15, "none"),
    "DEVICE_DISTINCT_ACCOUNTS": (30, "none"),
    "NEW_COUNTRY": (20, "none"),
    "NEW_ASN": (5, "none"),
    "HIGH_RISK_COUNTRY": (20, "none"),
    "ANONYMOUS_IP": (15, "none"),
    "HOSTING_IP": (15, "none"),
    "TOR_EXIT": (30, "none"),
    "GEO_UNKNOWN": (5, "none"),
    "IMPOSSIBLE_TRAVEL": (45, "challenge_2fa"),
    "IP_VELOCITY": (20, "none"),
    "IP_DISTINCT_ACCOUNTS": (35, "captcha"),
    "SUBNET_VELOCITY": (25, "captcha"),
    "ASN_VELOCITY": (10, "none"),
    "ACCOUNT_FAILURES": (30, "captcha"),
    "ACCOUNT_DISTINCT_IPS": (15, "none"),
    "ATTACK_WAVE": (10, "none"),
    "PASSWORD_SPRAY": (40, "captcha"),
    "ACCOUNT_LOCKED": (100, "lock"),
    "ALLOWLISTED": (0, "none"),
    "FRAUD_IP": (40, "challenge_2fa"),
    "FRAUD_DEVICE": (50, "challenge_2fa"),
}

THRESHOLDS = {"captcha": 30, "challenge_2fa": 60, "lock": 101}

VELOCITY = {
    "windows_s": "[60, 3600, 86400]",
    "buckets": 12,
    "ip_attempts": 30,
    "ip_failures": 20,
    "ip_distinct_accounts": 10,
    "subnet_failures": 50,
    "subnet_distinct_accounts": 16,
    "asn_failures": 500,
    "account_failures": 10,
    "account_distinct_ips": 10,
    "device_distinct_accounts": 5,
    "attack_wave_factor": 5.0,
    "attack_wave_min_failures": 100,
}

TRAVEL = {
    "max_speed_kmh": 900,
    "anonymous_damping": 0.5,
    "known_device_damping": 0.5,
    "min_distance_km": 500,
}

LOCKS = {
    "default_duration_s": 0,
    "auto_scope": "unfamiliar",
    "auto_duration_s": 0,        # automatic locks last until unlocked
    "lock_on_confirmed_fraud": "true",
    "lock_on_spray_success": "true",
}

SPRAY = {
    "enabled": "true",
    "t_cost": 1,
    "m_cost_kib": 1024,
    "threads": 1,
    "queue": 64,
    "distinct_accounts": 20,     # PASSWORD_SPRAY at 20 accounts per password
    "window_s": 86400,
}

# Distinct counts are exact up to limits.distinct_exact members and
# HyperLogLog estimates (16 registers, ~26% standard error) beyond it; every
# distinct limit above is below this, so each signal fires at its exact
# count.
LIMITS = {"distinct_exact": 64}


def points(code):
    return SIGNALS[code][0]


def _mapping(name, values, indent):
    pad = " " * indent
    lines = [pad + name + ":"]
    lines += ["%s  %s: %s" % (pad, k, v) for k, v in values.items()]
    return lines


def _base_lines(agent):
    return ["agent:",
            "  workers: 2",
            "  drain_timeout_ms: 5000",
            "listeners:",
            "  - address: %s" % yaml_str(agent.tcp),
            "  - address: %s" % yaml_str(agent.unix),
            "geo:",
            "  city: %s" % yaml_str(db_path("city")),
            "  asn: %s" % yaml_str(db_path("asn")),
            "  anonymous: %s" % yaml_str(db_path("anonymous")),
            "state:",
            "  dir: %s" % yaml_str(agent.state_dir)]


def explicit_config(agent, version="scen-1", signals=None, velocity=None,
                    travel=None, locks=None, spray=None, limits=None,
                    extra=""):
    """The whole policy written out; each keyword overrides entries of the
    table of the same name above."""
    sig = dict(SIGNALS, **(signals or {}))
    lines = _base_lines(agent)
    lines += ["policy:", "  version: %s" % yaml_str(version)]
    lines += _mapping("thresholds", THRESHOLDS, 2)
    lines.append("  signals:")
    lines += ["    %s: {points: %d, min_action: %s, enabled: true}" %
              (code, p, m) for code, (p, m) in sig.items()]
    lines += _mapping("velocity", dict(VELOCITY, **(velocity or {})), 2)
    lines += _mapping("travel", dict(TRAVEL, **(travel or {})), 2)
    lines += _mapping("locks", dict(LOCKS, **(locks or {})), 0)
    lines += _mapping("spray", dict(SPRAY, **(spray or {})), 0)
    lines += _mapping("limits", dict(LIMITS, **(limits or {})), 0)
    return "\n".join(lines) + "\n" + extra


def default_config(agent, extra=""):
    """No policy, locks or spray section: the defaults users run."""
    return "\n".join(_base_lines(agent)) + "\n" + extra


# ---- event time ------------------------------------------------------------


class Clock:
    """Event time of one scenario: t0 is four days before now, on a minute
    boundary, so a scenario may run three days of event time forwards and
    stay inside the agent's accepted window (7 days back, 5 minutes on)."""

    def __init__(self, days_back=4):
        t = now_ms() - days_back * DAY_MS
        self.t0 = t - t % MIN_MS

    def at(self, ms):
        return self.t0 + ms


# ---- a client ------------------------------------------------------------


def action_name(value):
    return stubs().risk_pb2.Action.Name(value)


class Client:
    """Evaluate and ReportOutcome against one agent, returning protobuf
    messages; the names of enums are those of risk.proto."""

    def __init__(self, agent, target=None):
        s = stubs()
        self.pb = s.risk_pb2
        self.agent = agent
        self.stub = s.risk_pb2_grpc.RiskServiceStub(agent.channel(target))
        self._n = 0

    def evaluate(self, account, ip, ts, device="", cred="valid",
                 password=None, request_id=None):
        """One attempt at event time @ts; @cred is valid, invalid, unknown
        or precheck; @password (bytes/str) goes with invalid only."""
        creds = {"valid": self.pb.CREDENTIAL_VALID,
                 "invalid": self.pb.CREDENTIAL_INVALID,
                 "unknown": self.pb.CREDENTIAL_UNKNOWN_ACCOUNT,
                 "precheck": self.pb.CREDENTIAL_UNSPECIFIED}
        self._n += 1
        req = self.pb.LoginAttempt(
            request_id=request_id or "scen-%d-%d" % (id(self) % 10000,
                                                     self._n),
            account_id=account, ip=ip, device_id=device, timestamp_ms=ts,
            credential=creds[cred])
        if password is not None:
            req.attempted_password = (password.encode()
                                      if isinstance(password, str)
                                      else password)
        return self.stub.Evaluate(req, timeout=timeout(10))

    def outcome(self, request_id, account, kind, ts=0):
        """ReportOutcome; @kind is the OutcomeKind name without OUTCOME_
        (CHALLENGE_PASSED, CONFIRMED_FRAUD, ...)."""
        req = self.pb.Outcome(request_id=request_id, account_id=account,
                              kind=self.pb.OutcomeKind.Value("OUTCOME_" +
                                                             kind),
                              timestamp_ms=ts)
        return self.stub.ReportOutcome(req, timeout=timeout(10))


def reasons(d):
    """{code: Reason} of a Decision."""
    return {r.code: r for r in d.reasons}


def describe(d):
    """A one-line account of a Decision for failure messages."""
    rs = ", ".join("%s %+d (%s)" % (r.code, r.points, r.detail)
                   for r in d.reasons)
    return "%s score %d [%s]" % (action_name(d.action), d.score, rs)


def expected_action(score, minimum="ACTION_ALLOW"):
    """The action THRESHOLDS give @score, raised to @minimum."""
    if score >= THRESHOLDS["lock"]:
        a = "ACTION_LOCK"
    elif score >= THRESHOLDS["challenge_2fa"]:
        a = "ACTION_CHALLENGE_2FA"
    elif score >= THRESHOLDS["captcha"]:
        a = "ACTION_CAPTCHA"
    else:
        a = "ACTION_ALLOW"
    pb = stubs().risk_pb2
    return action_name(max(pb.Action.Value(a), pb.Action.Value(minimum)))


# ---- AdminService

def token_hash(token):
    """The Argon2id PHC string of @token, made by `riskctl token-hash`
    (the token on stdin)."""
    ctl = harness.env_path("LR_RISKCTL")
    proc = harness.run([ctl, "token-hash"], input_bytes=token.encode() +
                       b"\n")
    for line in proc.stdout.decode().splitlines():
        if proc.returncode == 0 and line.strip().startswith("$argon2id$"):
            return line.strip()
    raise AssertionError("riskctl token-hash failed (exit %d): %s" %
                         (proc.returncode, proc.stderr.decode()))


def new_token():
    return "scenario-responder-" + os.urandom(12).hex()


def admin_config(token, name="oncall"):
    """The admin section giving @token the responder role."""
    phc = token_hash(token)
    return ("admin:\n  tokens:\n    - name: %s\n      role: responder\n"
            "      hash: %s\n" % (name, yaml_str(phc)))


class Admin:
    """LockAccounts and UnlockAccounts with a bearer token."""

    def __init__(self, agent, token, target=None):
        s = stubs()
        self.pb = s.risk_pb2
        self.stub = s.risk_pb2_grpc.AdminServiceStub(agent.channel(target))
        self.meta = [("authorization", "Bearer " + token)]

    def lock(self, ids, ticket, reason="scenario test", duration_s=0):
        req = self.pb.LockRequest(account_ids=ids, reason=reason,
                                  ticket=ticket, duration_s=duration_s)
        return self.stub.LockAccounts(req, metadata=self.meta,
                                      timeout=timeout(20))

    def unlock(self, ids, ticket, reason="scenario test"):
        req = self.pb.UnlockRequest(account_ids=ids, reason=reason,
                                    ticket=ticket)
        return self.stub.UnlockAccounts(req, metadata=self.meta,
                                        timeout=timeout(20))


# ---- the state file, read directly -----------------------------------------


def state_db(agent):
    return agent.state_dir + "/loginrisk.db"


def _decode_devices(blob):
    """Device ids in a profile's `seen` blob (store/store_codec.c:
    u8 version, u8 n, then per device u16 len, id, i64 first, i64 last)."""
    if not blob or blob[0] != 1:
        return []
    n, off, out = blob[1], 2, []
    for _ in range(n):
        (ln,) = struct.unpack_from("<H", blob, off)
        off += 2
        out.append(blob[off:off + ln].decode())
        off += ln + 16
    return out


def stored_profile(agent, account):
    """(last_success_ms, last_city, [device ids]) of @account as committed
    to the SQLite file right now, or None. A short read-only connection, so
    the agent's writer is never held up."""
    uri = "file:%s?mode=ro" % state_db(agent)
    try:
        con = sqlite3.connect(uri, uri=True, timeout=timeout(5))
    except sqlite3.OperationalError:
        return None
    try:
        row = con.execute("SELECT last_success_ms, last_city, seen FROM "
                          "profiles WHERE account_id = ?",
                          (account,)).fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()
    if row is None:
        return None
    return row[0], row[1], _decode_devices(row[2])


def wait_profile(agent, account, last_success_ms, device, secs=10):
    """Polls the SQLite file until @account's profile shows the login at
    @last_success_ms with @device known (the history/profile writer has
    committed it); returns the row or fails."""
    deadline = time.monotonic() + timeout(secs)
    row = None
    while time.monotonic() < deadline:
        row = stored_profile(agent, account)
        if row and row[0] >= last_success_ms and device in row[2]:
            return row
        time.sleep(0.01)
    raise AssertionError("profile of %r not committed within %ss (last "
                         "seen: %r)\n%s" % (account, secs, row,
                                            agent.describe()))

