#!/bin/sh
# replay.sh TARGET PATH... - runs every input once through the libFuzzer
# binary TARGET (no mutation) and fails on a crash, a sanitizer report, a
# leak or an input slower than 30 s. A PATH is an input file or a directory
# of them; missing or empty ones are skipped. CTest runs this as
# fuzz_replay_<target> on the seed corpus and the regressions.
set -eu
# known leaks of uninstrumented system libraries (see the file)
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(dirname "$0")/lsan.supp}
export LSAN_OPTIONS
bin=$1
shift
n=0
for p in "$@"; do
    if [ -d "$p" ]; then
        for f in "$p"/* "$p"/.[!.]*; do
            [ -f "$f" ] || continue
            set -- "$@" "$f"
            n=$((n + 1))
        done
    elif [ -f "$p" ]; then
        set -- "$@" "$p"
        n=$((n + 1))
    fi
    shift
done
if [ "$n" -eq 0 ]; then
    echo "replay: no inputs for $bin"
    exit 0
fi
echo "replay: $n inputs through $bin"
exec "$bin" -timeout=30 -rss_limit_mb=2048 "$@"
