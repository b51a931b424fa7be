#!/bin/sh
# flood.sh - floods a running agent with distinct random IPv6 addresses
# (Evaluate calls from 2001:db8::/32, every address new) and watches two
# things: the agent's resident memory (VmRSS from /proc/PID/status, sampled
# every second, and VmHWM, the kernel's high-water mark) and the decisions
# of a few legitimate users (loadgen --method probe), before, every 30 s
# during, and after the flood. Exits 1 if a legitimate user's action changed.
#
#   bench/flood.sh --loadgen PATH --target ADDR --pid PID [--count N]
#                  [--probes N] [--inflight N] [--connections N]
set -eu

LOADGEN=""
TARGET=""
PID=""
COUNT=5000000
PROBES=8
INFLIGHT=64
CONNECTIONS=2

usage() {
    echo "usage: $0 --loadgen PATH --target ADDR --pid PID [--count N]" \
        "[--probes N] [--inflight N] [--connections N]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --loadgen) LOADGEN=$2; shift 2 ;;
    --target) TARGET=$2; shift 2 ;;
    --pid) PID=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --probes) PROBES=$2; shift 2 ;;
    --inflight) INFLIGHT=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    *) usage ;;
    esac
done
if [ -z "$LOADGEN" ] || [ -z "$TARGET" ] || [ -z "$PID" ]; then
    usage
fi
[ -r "/proc/$PID/status" ] || { echo "no process $PID" >&2; exit 2; }

tmp=$(mktemp -d /tmp/loginrisk-flood.XXXXXX)
lpid=""
cleanup() {
    if [ -n "$lpid" ]; then
        kill "$lpid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

field_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# A probe that cannot get through (three tries, 30 s deadline each) is
# recorded as UNREACHABLE, which counts as a changed decision.
probe() {
    for try in 1 2 3; do
        if "$LOADGEN" --target "$TARGET" --method probe --probes "$PROBES" \
            --timeout-ms 30000 >"$1" 2>"$1.err"; then
            return 0
        fi
        echo "  probe attempt $try failed: $(cat "$1.err")" >&2
    done
    echo "UNREACHABLE UNREACHABLE" >"$1"
}
# account and action of each probe line
actions() { awk '{ print $1, $2 }' "$1"; }

echo "# probes: teach the agent the legitimate users' devices, then record"
probe "$tmp/settle1"
probe "$tmp/settle2"
probe "$tmp/before"
cat "$tmp/before"

rss0=$(field_kib VmRSS)
echo "# agent $PID VmRSS before: $rss0 KiB ($(mib "$rss0") MiB)"
cmd="$LOADGEN --target $TARGET --method evaluate --model flood --count $COUNT"
cmd="$cmd --inflight $INFLIGHT --connections $CONNECTIONS --agent-pid $PID"
echo "\$ $cmd"
# shellcheck disable=SC2086
$cmd >"$tmp/flood.out" 2>&1 &
lpid=$!

peak=$rss0
t=0
changed=0
while kill -0 "$lpid" 2>/dev/null; do
    sleep 1
    t=$((t + 1))
    r=$(field_kib VmRSS)
    [ "$r" -gt "$peak" ] && peak=$r
    if [ $((t % 10)) -eq 0 ]; then
        echo "  t=${t}s VmRSS $r KiB ($(mib "$r") MiB)"
    fi
    if [ $((t % 30)) -eq 0 ]; then
        probe "$tmp/during"
        if [ "$(actions "$tmp/before")" != "$(actions "$tmp/during")" ]; then
            echo "  t=${t}s probe decisions CHANGED during the flood:"
            cat "$tmp/during"
            changed=1
        else
            echo "  t=${t}s probe decisions unchanged"
        fi
    fi
done
wait "$lpid" || { cat "$tmp/flood.out"; exit 1; }
lpid=""
cat "$tmp/flood.out"

rss1=$(field_kib VmRSS)
hwm=$(field_kib VmHWM)
probe "$tmp/after"
echo "# after the flood:"
cat "$tmp/after"
if [ "$(actions "$tmp/before")" != "$(actions "$tmp/after")" ]; then
    changed=1
fi
echo "# agent VmRSS before $rss0 KiB, sampled peak $peak KiB, after $rss1 KiB," \
    "VmHWM $hwm KiB (RssAnon $(field_kib RssAnon) KiB," \
    "RssFile $(field_kib RssFile) KiB)"
echo "# growth at peak: $((peak - rss0)) KiB ($(mib $((peak - rss0))) MiB)"
if [ "$changed" -ne 0 ]; then
    echo "# legitimate users' actions: CHANGED"
    exit 1
fi
echo "# legitimate users' actions: unchanged"
