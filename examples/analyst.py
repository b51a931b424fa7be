#!/usr/bin/python3
"""analyst.py - two things a security analyst does with loginrisk, from
Python.

  analyst.py account ACCOUNT_ID [--target ADDR] [--tls-ca FILE]
      What the agent knows about one account (AdminService.GetAccount with
      the analyst token in $RISKCTL_TOKEN): lock state, known devices,
      recent logins with their place and decision, velocity counters.

  analyst.py replay --config DRAFT.yaml [--baseline CURRENT.yaml] LOG.jsonl
      Replays a decision log (the agent's logging.decision_log) through a
      draft policy with `riskctl replay --json`, and prints which decisions
      would change and the reasons behind them.

Needs Debian's python3-grpcio and python3-protobuf, protoc and
grpc_python_plugin (protobuf-compiler-grpc) for the stubs, which are
generated from proto/ at start into a temporary directory, and riskctl on
PATH (or --riskctl). Run with /usr/bin/python3, which sees python3-grpcio.
"""

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "proto")


def load_stubs(proto_dir):
    """risk_pb2 and risk_pb2_grpc, generated from @proto_dir."""
    out = tempfile.mkdtemp(prefix="lr-example-")
    subprocess.run(["protoc", "-I" + proto_dir, "--python_out=" + out,
                    "--grpc_out=" + out,
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                    os.path.join(proto_dir, "loginrisk/v1/risk.proto")],
                   check=True)
    sys.path.insert(0, out)
    pb2 = importlib.import_module("loginrisk.v1.risk_pb2")
    grpc_mod = importlib.import_module("loginrisk.v1.risk_pb2_grpc")
    shutil.rmtree(out, ignore_errors=True)  # modules are loaded
    return pb2, grpc_mod


def when(ms):
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%SZ")


def cmd_account(args):
    import grpc
    pb2, pb2_grpc = load_stubs(args.proto_dir)
    token = os.environ.get("RISKCTL_TOKEN", "")
    if not token:
        sys.exit("set RISKCTL_TOKEN to an analyst or responder token")
    if args.tls_ca:
        with open(args.tls_ca, "rb") as f:
            channel = grpc.secure_channel(
                args.target, grpc.ssl_channel_credentials(f.read()))
    else:
        channel = grpc.insecure_channel(args.target)
    stub = pb2_grpc.AdminServiceStub(channel)
    try:
        a = stub.GetAccount(pb2.GetAccountRequest(account_id=args.account),
                            metadata=[("authorization", "Bearer " + token)],
                            timeout=10)
    except grpc.RpcError as e:
        sys.exit("GetAccount: %s: %s" % (e.code().name, e.details()))
    finally:
        channel.close()
    if args.json:
        from google.protobuf import json_format
        print(json_format.MessageToJson(a, preserving_proto_field_name=True))
        return
    lock = a.lock
    print("account  %s" % a.account_id)
    print("lock     %s" % ("LOCKED by %s (%s, ticket %s) since %s, until %s"
                           % (lock.source, lock.reason, lock.ticket,
                              when(lock.created_ms),
                              when(lock.expires_ms) if lock.expires_ms
                              else "unlocked")
                           if lock.locked else "not locked"))
    print("last ok  %s from %s" % (when(a.last_success_ms),
                                   a.last_success_geo.city or "-"))
    print("seen in  %s" % (", ".join(a.countries_seen) or "-"))
    print("devices  %d" % len(a.devices))
    for d in a.devices:
        print("  %-32s first %s  last %s" % (d.device_id, when(d.first_seen_ms),
                                           when(d.last_seen_ms)))
    print("recent logins")
    for r in a.recent_logins:
        print("  %s  %-15s %-2s %-14s %-22s %s" % (
            when(r.timestamp_ms), r.ip, r.geo.country, r.geo.city[:14],
            pb2.Action.Name(r.action), ",".join(r.reason_codes)))
    for c in a.counters:
        print("counter  %s = %d" % (c.name, c.value))


def cmd_replay(args):
    cmd = [args.riskctl, "replay", "--config", args.config, "--json",
           "--sample", "20"]
    if args.baseline:
        cmd += ["--baseline", args.baseline]
    proc = subprocess.run(cmd + [args.log], capture_output=True)
    if proc.returncode != 0:
        sys.exit("riskctl replay failed (%d): %s" % (
            proc.returncode, proc.stderr.decode().strip()))
    r = json.loads(proc.stdout)
    if args.json:
        print(json.dumps(r, indent=1))
        return
    print("%d events, %d changed, %d malformed" % (
        r["events"], r["changed"], r["malformed"]))
    actions = sorted(set(r["baseline"]["actions"]) |
                     set(r["draft"]["actions"]))
    print("%-10s %10s %10s" % ("action", "baseline", "draft"))
    for a in actions:
        print("%-10s %10d %10d" % (a, r["baseline"]["actions"].get(a, 0),
                                   r["draft"]["actions"].get(a, 0)))
    moves = Counter()
    for f in r["flow"]:
        if f["from"] != f["to"]:
            moves["%s -> %s" % (f["from"], f["to"])] += f["count"]
    for move, n in moves.most_common():
        print("  %-22s %d" % (move, n))
    for x in sorted(r["reasons"], key=lambda x: -x.get("decisions", 0))[:10]:
        print("  reason %-26s in %d changed decisions" % (
            x["code"], x.get("decisions", 0)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--proto-dir", default=PROTO_DIR)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("account", help="what the agent knows about one "
                       "account")
    a.add_argument("account")
    a.add_argument("--target", default=os.environ.get("RISKCTL_TARGET",
                                                      "127.0.0.1:50051"))
    a.add_argument("--tls-ca")
    a.add_argument("--json", action="store_true")
    r = sub.add_parser("replay", help="a decision log through a draft policy")
    r.add_argument("--config", required=True)
    r.add_argument("--baseline")
    r.add_argument("--riskctl", default=shutil.which("riskctl") or "riskctl")
    r.add_argument("--json", action="store_true")
    r.add_argument("log")
    args = p.parse_args()
    (cmd_account if args.cmd == "account" else cmd_replay)(args)


if __name__ == "__main__":
    main()
