"""admin.py - what the AdminService tests (test_admin*.py) share: tokens
hashed by the real `riskctl token-hash`, a config with a responder and an
analyst token, riskctl runs with the token in the environment, gRPC stubs
with the authorization metadata, and the audit table read back from the
agent's SQLite file.
"""

import json
import os
import random
import sqlite3

import harness
from harness import config_yaml, stubs, timeout, yaml_str

RESPONDER = "oncall"
ANALYST = "tuner"


def new_token(role):
    return "it-%s-%s" % (role, os.urandom(16).hex())


def token_hash(token):
    """The PHC string `riskctl token-hash` prints for @token (read from a
    pipe, so its first line)."""
    proc = harness.run([harness.env_path("LR_RISKCTL"), "token-hash"],
                       input_bytes=token.encode() + b"\n")
    out = proc.stdout.decode().strip()
    if proc.returncode != 0 or not out.startswith("$argon2id$v=19$"):
        raise AssertionError("riskctl token-hash failed (%d): %s %s" %
                             (proc.returncode, out, proc.stderr.decode()))
    return out


class Tokens:
    """A responder and an analyst token with their hashes."""

    def __init__(self):
        self.responder = new_token("responder")
        self.analyst = new_token("analyst")
        self.responder_hash = token_hash(self.responder)
        self.analyst_hash = token_hash(self.analyst)

    def yaml(self, cache_s=60, max_failures=10):
        return ("admin:\n"
                "  auth_cache_s: %d\n"
                "  max_failures_per_min: %d\n"
                "  tokens:\n"
                "    - name: %s\n      role: responder\n      hash: %s\n"
                "    - name: %s\n      role: analyst\n      hash: %s\n" %
                (cache_s, max_failures, RESPONDER,
                 yaml_str(self.responder_hash), ANALYST,
                 yaml_str(self.analyst_hash)))


def admin_config(agent, tokens, listeners=None, thresholds=None, **kw):
    """The harness test config with the admin tokens."""
    return config_yaml(agent, listeners=listeners, thresholds=thresholds,
                       extra=tokens.yaml(**kw))


def riskctl(agent, token, *args, target=None, input_bytes=None, secs=120):
    """riskctl with @token in RISKCTL_TOKEN (None: no token at all)."""
    env = {"RISKCTL_TOKEN": token} if token else {"RISKCTL_TOKEN": ""}
    return agent.riskctl(*args, target=target, input_bytes=input_bytes,
                         secs=secs, env=env)


def riskctl_json(agent, token, *args, **kw):
    return harness.riskctl_json(riskctl(agent, token, "--json", *args, **kw))


class AdminStub:
    """AdminService with a bearer token (or none)."""

    def __init__(self, agent, token, target=None):
        s = stubs()
        self.pb = s.risk_pb2
        self.stub = s.risk_pb2_grpc.AdminServiceStub(agent.channel(target))
        self.meta = [("authorization", "Bearer " + token)] if token else []

    def call(self, method, req, secs=30):
        return getattr(self.stub, method)(req, metadata=self.meta,
                                          timeout=timeout(secs))

    def lock(self, ids, reason="it", ticket="IT-1", **kw):
        return self.call("LockAccounts", self.pb.LockRequest(
            account_ids=ids, reason=reason, ticket=ticket, **kw))

    def unlock(self, ids, reason="it", ticket="IT-1", **kw):
        return self.call("UnlockAccounts", self.pb.UnlockRequest(
            account_ids=ids, reason=reason, ticket=ticket, **kw))

    def total_locks(self):
        return self.call("ListLocks",
                         self.pb.ListLocksRequest(page_size=1)).total


def audit_rows(agent):
    """Every audit row, oldest first, read from the agent's SQLite file
    (read-only, beside the running agent: the database is in WAL mode)."""
    path = os.path.join(agent.state_dir, "loginrisk.db")
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(
            "SELECT id, at_ms, actor, action, reason, ticket, matched, "
            "changed FROM audit ORDER BY id")]
    finally:
        con.close()


def write_ids(path, ids):
    with open(path, "w") as f:
        f.write("\n".join(ids) + "\n")
    return path


def sample(seq, n, seed=7):
    return random.Random(seed).sample(list(seq), min(n, len(seq)))


def action_of(agent, account, ip="192.0.2.10", **fields):
    """The action name Evaluate gives @account now."""
    d = agent.evaluate(account_id=account, ip=ip, **fields)
    return stubs().risk_pb2.Action.Name(d.action)


def dump(obj):
    return json.dumps(obj, indent=1)[:4000]
