#!/bin/sh
# run-all.sh - builds the benchmarks and the agent, starts the agent on its
# embedded default config (state in a temporary directory, listening on
# 127.0.0.1:PORT) and runs every benchmark, printing each figure under the
# command that produced it:
#
#   1. Health/Check and Evaluate back to back at 1, 8 and 64 in flight;
#   2. Evaluate at half the maximum throughput (open loop, --rate) for p99;
#   3. the engine in-process (throughput, allocations, bytes per key and per
#      profile, and an in-process flood under the default caps);
#   4. 5,000,000 distinct random IPv6 addresses against the agent, watching
#      its resident memory and a few legitimate users' decisions;
#   5. 1,000,000 accounts locked through riskctl lock (bench/lock.sh, its
#      own agent), then kill -9 and a check that every lock survived.
#
#   bench/run-all.sh [--build DIR] [--port N] [--duration S] [--flood N]
#                    [--connections C] [--skip-engine] [--skip-flood]
#                    [--skip-lock]
#
# Run from anywhere; paths are relative to the repository root.
set -eu
cd "$(dirname "$0")/.."

BUILD=build-bench
PORT=50151
DURATION=10
FLOOD=5000000
CONNECTIONS=2
SKIP_ENGINE=0
SKIP_FLOOD=0
SKIP_LOCK=0

usage() {
    echo "usage: $0 [--build DIR] [--port N] [--duration S] [--flood N]" \
        "[--connections C] [--skip-engine] [--skip-flood] [--skip-lock]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --flood) FLOOD=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --skip-engine) SKIP_ENGINE=1; shift ;;
    --skip-flood) SKIP_FLOOD=1; shift ;;
    --skip-lock) SKIP_LOCK=1; shift ;;
    *) usage ;;
    esac
done

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target loginrisk-loadgen \
    loginrisk-agent >/dev/null
LOADGEN=$BUILD/bench/loginrisk-loadgen
AGENT=$BUILD/agent/loginrisk-agent
ENGINE=$BUILD/bench/loginrisk-bench-engine
TARGET=127.0.0.1:$PORT

tmp=$(mktemp -d /tmp/loginrisk-bench.XXXXXX)
. ./bench/agent.sh
trap bench_cleanup EXIT INT TERM

# Every figure under its command, with the machine's load when it started:
# other work on a 2-core box moves every number.
run() {
    printf '\n$ %s\n' "$*"
    echo "# load average $(cut -d' ' -f1-3 /proc/loadavg)"
    "$@"
}

# The agent writes one history row per Evaluate (six indexes), and its cost
# grows with the database: say how big it is after each run.
state_size() {
    echo "# state: $(du -sh "$tmp/state" | cut -f1) on disk after this run"
}

start_agent() {
    mkdir -p "$tmp/state"
    agent_start --listen "$TARGET" --state-dir "$tmp/state"
    echo "# agent pid $AGENT_PID on $TARGET, embedded default config," \
        "state in $tmp/state"
}

echo "# machine: $(nproc) CPUs, $(uname -sr); $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
start_agent

echo
echo "## 1. Health/Check (the gRPC floor) and Evaluate, same agent, same run"
for n in 1 8 64; do
    c=$CONNECTIONS
    [ "$n" -lt "$c" ] && c=$n
    run "$LOADGEN" --target "$TARGET" --method both --duration "$DURATION" \
        --warmup 2 --rounds 5 --inflight "$n" --connections "$c" \
        --agent-pid "$AGENT_PID"
    state_size
done

echo
echo "## 1b. The same at 64 in flight without attempted_password (no Argon2)"
run "$LOADGEN" --target "$TARGET" --method both --duration "$DURATION" \
    --warmup 2 --rounds 5 --inflight 64 --connections "$CONNECTIONS" \
    --no-passwords --agent-pid "$AGENT_PID"
state_size

# p99 at half the maximum: measure the maximum, then run open loop at half
half_rate() {
    max=$("$LOADGEN" --target "$TARGET" --method evaluate \
        --duration "$DURATION" --warmup 2 --inflight 64 \
        --connections "$CONNECTIONS" --json "$@" |
        sed -n 's/.*"qps":\([0-9]*\).*/\1/p')
    echo "# maximum Evaluate throughput at 64 in flight $*: $max qps"
    run "$LOADGEN" --target "$TARGET" --method evaluate \
        --duration "$DURATION" --warmup 2 --inflight 64 \
        --connections "$CONNECTIONS" --rate $((max / 2)) \
        --agent-pid "$AGENT_PID" "$@"
    state_size
}

echo
echo "## 2. Evaluate p99 at half the maximum throughput"
half_rate
echo
echo "## 2b. The same without attempted_password (no Argon2)"
half_rate --no-passwords

if [ "$SKIP_ENGINE" -eq 0 ]; then
    echo
    echo "## 3. The engine in-process, one thread"
    if cmake --build "$BUILD" --target loginrisk-bench-engine >/dev/null \
        2>&1; then
        run "$ENGINE" --flood "$FLOOD"
    else
        echo "# loginrisk-bench-engine does not build yet (engine missing)"
    fi
fi

if [ "$SKIP_FLOOD" -eq 0 ]; then
    echo
    echo "## 4. $FLOOD distinct random IPv6 addresses against the agent"
    # a fresh agent and state: the mix above shares the probe users' /24s,
    # and its counters ageing out of their windows would change the probes'
    # decisions whatever the flood did
    agent_stop
    rm -rf "$tmp/state"
    start_agent
    run sh bench/flood.sh --loadgen "$LOADGEN" --target "$TARGET" \
        --pid "$AGENT_PID" --count "$FLOOD"
    state_size
fi

echo
agent_stop

if [ "$SKIP_LOCK" -eq 0 ]; then
    echo
    echo "## 5. 1,000,000 accounts locked through riskctl, then kill -9"
    run sh bench/lock.sh --build "$BUILD" --port $((PORT + 10)) \
        --count 1000000
fi
