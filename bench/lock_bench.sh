#!/bin/sh
# lock_bench.sh - bulk locks through the real riskctl (issue 4, done-means
# 5): starts an agent on a temporary state dir, writes N account ids to a
# file, runs `riskctl lock --file` in batches, and prints accounts per
# second. Then the same for `riskctl unlock`, and a durability check: the
# agent is killed with SIGKILL right after the lock run and restarted, and
# every lock must still be there (each batch is one SQLite transaction
# committed with synchronous=FULL before LockAccounts answers).
#
#   bench/lock_bench.sh [--build DIR] [--count N] [--batch N]
#                       [--max-message BYTES] [--keep]
#
# --build is the build directory holding agent/loginrisk-agent,
# cli/riskctl and data/*.mmdb (default: build). --max-message sets the
# agent's agent.max_message_bytes (default 4194304, so a 10,000-id batch is
# one message; with the agent's default of 65536 riskctl halves each batch
# until it fits, which costs a few extra calls). Target: >= 20,000 accounts
# per second on a 2-core machine.
set -eu

BUILD=build
COUNT=1000000
BATCH=10000
MAXMSG=4194304
KEEP=0

usage() {
    echo "usage: $0 [--build DIR] [--count N] [--batch N]" \
        "[--max-message BYTES] [--keep]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --max-message) MAXMSG=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) usage ;;
    esac
done

BUILD=$(cd "$BUILD" && pwd)
AGENT=$BUILD/agent/loginrisk-agent
RISKCTL=$BUILD/cli/riskctl
for f in "$AGENT" "$RISKCTL" "$BUILD/data/loginrisk-city.mmdb"; do
    [ -e "$f" ] || { echo "missing $f (build the agent, riskctl and" \
        "geo_fixtures first)" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/loginrisk-lockbench.XXXXXX)
apid=""
cleanup() {
    if [ -n "$apid" ]; then
        kill "$apid" 2>/dev/null || true
        wait "$apid" 2>/dev/null || true
    fi
    if [ "$KEEP" = 1 ]; then
        echo "# kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TARGET=127.0.0.1:$port
export RISKCTL_TARGET=$TARGET

# a responder token and its hash, made by riskctl itself
TOKEN=$("$RISKCTL" token-hash --generate --json | python3 -c \
    'import json,sys; d=json.load(sys.stdin); print(d["token"]); print(d["hash"], file=open(sys.argv[1], "w"))' \
    "$tmp/hash")
export RISKCTL_TOKEN=$TOKEN

cat >"$tmp/agent.yaml" <<EOF
agent:
  workers: 2
  max_message_bytes: $MAXMSG
listeners:
  - address: "$TARGET"
geo:
  city: "$BUILD/data/loginrisk-city.mmdb"
  asn: "$BUILD/data/loginrisk-asn.mmdb"
  anonymous: "$BUILD/data/loginrisk-anonymous.mmdb"
state:
  dir: "$tmp/state"
policy:
  version: "lock-bench"
admin:
  tokens:
    - name: bench
      role: responder
      hash: "$(cat "$tmp/hash")"
EOF

start_agent() {
    "$AGENT" --config "$tmp/agent.yaml" >>"$tmp/agent.log" 2>&1 &
    apid=$!
    i=0
    until "$RISKCTL" health >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$apid" 2>/dev/null; then
            echo "agent did not start:" >&2
            cat "$tmp/agent.log" >&2
            exit 1
        fi
        sleep 0.1
    done
}

# "N ids/s elapsed_s changed" from riskctl's --json result
summary() {
    python3 -c 'import json,sys; d=json.load(sys.stdin)
print("%.0f %.2f %d %d %d" % (d["ids_per_s"], d["elapsed_s"], d["changed"],
      d["batches_ok"], d["batches_failed"]))' <"$1"
}

run_bulk() { # op
    start=$(date +%s.%N)
    "$RISKCTL" --json "$1" --file "$tmp/ids.txt" --batch "$BATCH" \
        --reason "lock bench" --ticket BENCH-1 >"$tmp/$1.json"
    end=$(date +%s.%N)
    set -- "$1" $(summary "$tmp/$1.json")
    wall=$(python3 -c "print('%.2f' % ($end - $start))")
    rate=$(python3 -c "print('%.0f' % ($COUNT / ($end - $start)))")
    echo "$1: $COUNT accounts, batches of $BATCH: $2 accounts/s over" \
        "the calls ($3 s), $rate accounts/s wall ($wall s incl. reading" \
        "the file); changed $4, batches ok $5, failed $6"
}

echo "# $(nproc) CPUs, $(uname -r); agent.max_message_bytes $MAXMSG"
seq -f "bench-%08.0f@example.com" 1 "$COUNT" >"$tmp/ids.txt"
echo "# $COUNT ids, $(wc -c <"$tmp/ids.txt") bytes"
start_agent
run_bulk lock

# durable: SIGKILL at once, restart, count
kill -9 "$apid"
wait "$apid" 2>/dev/null || true
apid=""
start_agent
locked=$("$RISKCTL" --json locks --count | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["total"])')
echo "after kill -9 and restart: $locked locks (want $COUNT)"
[ "$locked" = "$COUNT" ] || { echo "LOCKS LOST" >&2; exit 1; }

run_bulk unlock
locked=$("$RISKCTL" --json locks --count | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["total"])')
echo "after unlock: $locked locks"
echo "# state: $(du -sh "$tmp/state" | cut -f1)"
