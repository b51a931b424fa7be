#!/usr/bin/python3
"""make-seeds.py - writes the hand-made seed corpora in tests/fuzz/corpus/.

    python3 tests/fuzz/make-seeds.py        (rewrites corpus/fuzz_request,
                                             corpus/fuzz_event, corpus/fuzz_config)

The seeds are small on purpose: a few valid inputs of each shape, so the
fuzzer starts from inside the parsers rather than at their front door.
Protobuf messages are encoded by hand (field numbers of
proto/loginrisk/v1/risk.proto), so no generated code is needed.

Not written here: the .mmdb seeds of fuzz_geo are the fixture databases the
build makes (<build>/data/*.mmdb), and the config example and embedded
default (config/*.yaml*) seed fuzz_config too; run.sh and replay.sh add them
at run time so no copy of them goes stale in the repository. Nor are the
login-history batches of fuzz_history: the store's own encoder writes them
(fuzz_history_seeds.c, `<build>/tests/fuzz/fuzz_history_seeds DIR`).
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1700000000000  # FUZZ_NOW_MS in fuzz_request.c


def varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def vfield(num, value):
    return varint(num << 3) + varint(value)


def bfield(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def attempt(account, ip, request_id="", device="", ua="", ts=0, cred=0,
            password=b""):
    msg = b""
    if request_id:
        msg += bfield(1, request_id)
    msg += bfield(2, account) + bfield(3, ip)
    if device:
        msg += bfield(4, device)
    if ua:
        msg += bfield(5, ua)
    if ts:
        msg += vfield(6, ts)
    if cred:
        msg += vfield(7, cred)
    if password:
        msg += bfield(8, password)
    return msg


def outcome(request_id, account, kind, ts=0):
    msg = bfield(1, request_id) + bfield(2, account) + vfield(3, kind)
    if ts:
        msg += vfield(4, ts)
    return msg


UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"

REQUESTS = {
    "allow-london": attempt("alice", "192.0.2.10", "r-1", "dev-a", UA,
                            NOW - 60000, 1),
    "pre-check": attempt("alice", "192.0.2.10"),
    "travel-tokyo": attempt("alice", "203.0.113.5", "r-2", "dev-a", UA,
                            NOW - 30000, 1),
    "tor-failed-password": attempt("bob", "198.18.3.7", "r-3", "dev-t", UA,
                                   NOW, 2, b"hunter2"),
    "vpn-unknown-account": attempt("nobody@example.com", "198.18.2.9", "r-4",
                                   "", "", NOW - 1000, 3),
    "ipv6-sg": attempt("carol", "2001:db8:1::5", "r-5", "dev-c", UA, NOW, 1),
    "ipv4-mapped": attempt("dave", "::ffff:198.51.100.7", "r-6", "dev-d", "",
                           NOW, 2, b"Summer2024!"),
    "unknown-network": attempt("erin", "198.19.0.1", "r-7", "dev-e", UA,
                               NOW + 120000, 1),
    "utf8-account": attempt("jos\u00e9@ex\u00e4mple.org", "198.18.4.200",
                            "r-8", "d\u00e9v", "UA \u2603", NOW, 1),
    "outcome-passed": outcome("r-2", "alice", 1, NOW),
    "outcome-fraud": outcome("r-3", "bob", 6),
    "outcome-legit": outcome("r-6", "dave", 5, NOW - 5000),
}

EVENTS = {
    "event-min": {"account_id": "alice", "ip": "192.0.2.10",
                  "timestamp_ms": NOW},
    "event-full": {"request_id": "r-1", "account_id": "alice",
                   "ip": "2001:db8::1", "device_id": "dev-a",
                   "user_agent": UA, "timestamp_ms": NOW,
                   "credential": "CREDENTIAL_INVALID"},
    "event-short-cred": {"account_id": "bob", "ip": "198.18.3.7",
                         "timestamp_ms": NOW, "credential": "valid",
                         "device_id": None},
    "event-num-cred": {"account_id": "bob", "ip": "::ffff:192.0.2.1",
                       "timestamp_ms": 1, "credential": 3},
    "decision-line": {
        "timestamp_ms": NOW, "request_id": "r-9", "account_id": "carol",
        "ip": "203.0.113.5", "device_id": "dev-c", "user_agent": "",
        "credential": "CREDENTIAL_VALID", "action": "ACTION_CHALLENGE_2FA",
        "score": 65,
        "reasons": [{"code": "IMPOSSIBLE_TRAVEL", "points": 45,
                     "detail": "9560 km in 1 h", "rule_id": "R-TRAVEL-1"},
                    {"code": "NEW_COUNTRY", "points": 20, "detail": "JP",
                     "rule_id": "R-GEO-1"}],
        "geo": {"country": "JP", "city": "Tokyo", "latitude": 35.6762,
                "longitude": 139.6503, "accuracy_radius_km": 50,
                "asn": 64502, "as_org": "Example Mobile JP",
                "is_anonymous": False, "is_hosting": False, "is_tor": False},
        "policy_version": "cfg-1234abcd"},
}

CONFIGS = {
    "empty.yaml": "",
    "listeners.yaml": """\
agent:
  workers: 2
  max_inflight: 16
listeners:
  - address: "127.0.0.1:50051"
    services: [risk, health]
  - address: "[::1]:50052"
    services: [admin]
  - address: "unix:/run/loginrisk/admin.sock"
    services: [admin, health]
""",
    "policy.yaml": """\
policy:
  version: "fuzz-1"
  thresholds: {captcha: 25, challenge_2fa: 50, lock: 90}
  signals:
    NEW_DEVICE: {points: 10}
    TOR_EXIT: {points: 60, min_action: challenge_2fa}
    ATTACK_WAVE: {enabled: false}
  velocity:
    windows_s: [30, 600, 7200, 86400]
    buckets: 6
    ip_attempts: 5
    attack_wave_factor: 2.5
  travel: {max_speed_kmh: 1000.5, anonymous_damping: 0.25}
  rules:
    - name: corp-vpn
      match: {cidrs: ["198.51.100.0/24", "2001:db8::/32"]}
      allowlist: true
    - name: admins-abroad
      match:
        accounts: [root, admin]
        countries: [JP, BR]
        asns: [64502]
        signals: [NEW_COUNTRY, IMPOSSIBLE_TRAVEL]
      add_points: 20
      min_action: challenge_2fa
  allowlist:
    cidrs: ["192.0.2.0/24"]
    accounts: [monitor]
""",
    "admin.yaml": """\
admin:
  tokens:
    - name: oncall
      role: responder
      hash: "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzYWx0$a6NAfL+9N++ANHhaO462dHqBTTEnQ801T8ZYE2rIHqo"
    - name: analyst-1
      role: analyst
      hash: "$argon2id$v=19$m=8,t=1,p=1$YWJjZGVmZ2g$AAAAAAAAAAAAAAAAAAAAAA"
  auth_cache_s: 0
locks: {default_duration_s: 3600, auto_scope: all}
spray: {enabled: false, t_cost: 2, m_cost_kib: 64, queue: 8}
logging: {level: debug, account: pseudonym}
metrics: {listen: "127.0.0.1:9464"}
""",
    "anchors.yaml": """\
geo:
  high_risk_countries: &hr [KP, IR]
  hosting_asns: [64511, 64513]
state: {dir: "/tmp/lr state", history_retention_days: 7}
limits: {ip_entries: 1000, devices_per_account: 2, distinct_exact: 4}
policy:
  rules:
    - name: hr
      match: {countries: *hr}
      add_points: 5
""",
    "errors.yaml": """\
agent:
  workers: many
  unknown_key: 1
policy:
  thresholds: {captcha: 70, challenge_2fa: 60}
  velocity: {windows_s: [3600, 60]}
  rules:
    - name: "bad name!"
      match: {cidrs: ["300.1.2.3/33"]}
listeners:
  - {address: "nowhere"
""",
}


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def main():
    corpus = os.path.join(HERE, "corpus")
    for name, data in REQUESTS.items():
        write(os.path.join(corpus, "fuzz_request"), name + ".pb", data)
    for name, obj in EVENTS.items():
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        write(os.path.join(corpus, "fuzz_event"), name + ".json", line + "\n")
    write(os.path.join(corpus, "fuzz_event"), "not-an-object.json", "[1,2]")
    write(os.path.join(corpus, "fuzz_event"), "bad-ip.json",
          '{"account_id":"a","ip":"1.2.3","timestamp_ms":5}')
    for name, text in CONFIGS.items():
        write(os.path.join(corpus, "fuzz_config"), name, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
