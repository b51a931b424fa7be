#!/bin/sh
# lock.sh - the lock benchmark of issue 4: lock N accounts (default
# 1,000,000) through `riskctl lock` against a fresh agent and print accounts
# per second; then kill -9 the agent, start it again on the same state and
# check that every acknowledged lock is there (the number of rows in the
# state database's locks table, and a few Evaluate calls answering LOCK).
#
#   bench/lock.sh [--build DIR] [--port N] [--count N] [--batch N]
#
# The agent gets a config of its own: a listener, a temporary state
# directory, the fixture GeoIP databases, and one responder token made by
# `riskctl token-hash --generate`.
set -eu
cd "$(dirname "$0")/.."

BUILD=build-bench
PORT=50161
COUNT=1000000
BATCH=""

usage() {
    echo "usage: $0 [--build DIR] [--port N] [--count N] [--batch N]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    *) usage ;;
    esac
done

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target loginrisk-agent riskctl \
    loginrisk-loadgen geo_fixtures >/dev/null
AGENT=$BUILD/agent/loginrisk-agent
RISKCTL=$BUILD/cli/riskctl
LOADGEN=$BUILD/bench/loginrisk-loadgen
DATA=$(cd "$BUILD/data" && pwd)
TARGET=127.0.0.1:$PORT

tmp=$(mktemp -d /tmp/loginrisk-lock.XXXXXX)
. ./bench/agent.sh
trap bench_cleanup EXIT INT TERM

# --generate prints the new token and its PHC hash; take both apart
"$RISKCTL" token-hash --generate >"$tmp/token.out" 2>/dev/null
token=$(awk '$1 == "token:" { print $2 }' "$tmp/token.out")
hash=$(awk '$1 == "hash:" { print $2 }' "$tmp/token.out")
if [ -z "$token" ] || [ -z "$hash" ]; then
    echo "cannot read riskctl token-hash --generate output:" >&2
    cat "$tmp/token.out" >&2
    exit 1
fi
printf '%s\n' "$token" >"$tmp/token"
chmod 600 "$tmp/token"

cat >"$tmp/lock.yaml" <<YAML
listeners:
  - address: "$TARGET"
state:
  dir: "$tmp/state"
geo:
  city: "$DATA/loginrisk-city.mmdb"
  asn: "$DATA/loginrisk-asn.mmdb"
  anonymous: "$DATA/loginrisk-anonymous.mmdb"
admin:
  tokens:
    - name: bench
      role: responder
      hash: "$hash"
YAML

start_agent() {
    agent_start --config "$tmp/lock.yaml"
}

echo "# machine: $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
start_agent
echo "# agent pid $AGENT_PID on $TARGET, state in $tmp/state"
awk -v n="$COUNT" 'BEGIN { for (i = 0; i < n; i++)
    printf "lock%07d@example.com\n", i }' >"$tmp/ids"

set -- --target "$TARGET" lock --file "$tmp/ids" --reason "lock benchmark" \
    --ticket BENCH-1 --token-file "$tmp/token" --json --quiet
if [ -n "$BATCH" ]; then
    set -- "$@" --batch "$BATCH"
fi
echo "\$ $RISKCTL $*"
t0=$(date +%s.%N)
rc=0
"$RISKCTL" "$@" >"$tmp/result.json" || rc=$?
t1=$(date +%s.%N)
head -c 600 "$tmp/result.json"
echo
if [ "$rc" -ne 0 ]; then
    echo "# riskctl lock exited $rc" >&2
    exit 1
fi
awk -v n="$COUNT" -v a="$t0" -v b="$t1" 'BEGIN {
    printf "# locked %d accounts in %.2f s = %.0f accounts/s\n", n, b - a,
        n / (b - a) }'

echo "# kill -9 the agent, start it again on the same state"
agent_kill
start_agent
rows=$(sqlite3 "file:$tmp/state/loginrisk.db?mode=ro" \
    "SELECT count(*) FROM locks WHERE account_id LIKE 'lock%@example.com'")
echo "# locks in the state database after kill -9 and restart: $rows of $COUNT"
bad=0
for i in 0 $((COUNT / 2)) $((COUNT - 1)); do
    id=$(printf 'lock%07d@example.com' "$i")
    out=$("$RISKCTL" --target "$TARGET" evaluate --account "$id" \
        --ip 192.0.2.10 --credential valid 2>&1 || true)
    if echo "$out" | grep -qi "lock"; then
        echo "# $id: LOCK"
    else
        echo "# $id: not locked: $out"
        bad=1
    fi
done
if [ "$rows" -ne "$COUNT" ] || [ "$bad" -ne 0 ]; then
    echo "# durability: FAILED"
    exit 1
fi
echo "# durability: every lock survived kill -9"
