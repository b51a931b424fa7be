#!/bin/sh
# run.sh BUILD_DIR SECONDS [TARGET...] - builds the libFuzzer targets with
# clang into BUILD_DIR (-DLR_FUZZ=ON) and fuzzes each for SECONDS, one
# after the other, one process each (-jobs is left to the caller's patience:
# CI machines have few cores). Fails when any target finds a crash, a leak,
# a sanitizer report, an input slower than 25 s or memory above 2 GiB.
#
#   tests/fuzz/run.sh build-fuzz 30                  CI: 30 s per target
#   tests/fuzz/run.sh build-fuzz 900 fuzz_geo        15 minutes of one target
#
# The corpus grows in BUILD_DIR/fuzz/corpus/<target>/ across runs, seeded
# from tests/fuzz/corpus/<target>/, tests/fuzz/regressions/<target>/ and (for
# fuzz_geo, fuzz_config) the build's fixture databases and the config files.
# Crashing inputs land in BUILD_DIR/fuzz/artifacts/<target>/; minimize one
# with `<binary> -minimize_crash=1 -runs=10000 FILE`, then add it to
# tests/fuzz/regressions/<target>/ with the fix. A summary line per target
# (seconds actually fuzzed, executions, coverage, result) is appended to BUILD_DIR/fuzz/summary.txt.
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
    exit 2
fi
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=$1
secs=$2
shift 2
targets=${*:-fuzz_request fuzz_config fuzz_geo fuzz_event fuzz_history}

# clang, not gcc: libFuzzer. Warnings are gcc's business (-Werror there);
# clang 14 has a few more opinions about code that is gcc-clean.
CC=clang cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLR_FUZZ=ON -DLR_WERROR=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzz_all geo_fixtures >/dev/null

work=$dir/fuzz
# known leaks of uninstrumented system libraries (see the file)
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/fuzz/lsan.supp}
export LSAN_OPTIONS
mkdir -p "$work"
# Shorter inputs find the same bugs faster; a .mmdb or a config needs room.
max_len() {
    case $1 in
    fuzz_geo) echo 8192 ;;
    fuzz_config) echo 16384 ;;
    *) echo 4096 ;;
    esac
}

extra_seeds() {
    case $1 in
    fuzz_geo) ls "$dir"/data/*.mmdb ;;
    fuzz_config) echo "$src/config/loginrisk.example.yaml" \
        "$dir/config/default.yaml" ;;
    esac
}

failed=""
for t in $targets; do
    corpus=$work/corpus/$t
    seeds=$work/seeds/$t
    art=$work/artifacts/$t
    mkdir -p "$corpus" "$seeds" "$art"
    for f in $(extra_seeds "$t"); do
        cp "$f" "$seeds/"
    done
    log=$work/$t.log
    echo "== $t: $secs s (log $log)"
    dirs="$corpus $seeds"
    for d in "$src/tests/fuzz/corpus/$t" "$src/tests/fuzz/regressions/$t"; do
        if [ -d "$d" ]; then
            dirs="$dirs $d"
        fi
    done
    dict=""
    if [ -f "$src/tests/fuzz/$t.dict" ]; then
        dict="-dict=$src/tests/fuzz/$t.dict"
    fi
    t0=$(date +%s)
    set +e
    # shellcheck disable=SC2086
    nice "$dir/tests/fuzz/$t" $dirs $dict \
        -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
        -max_len="$(max_len "$t")" -artifact_prefix="$art/" \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    took=$(($(date +%s) - t0))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    result=ok
    if [ "$rc" -ne 0 ]; then
        result="FAILED (exit $rc)"
        failed="$failed $t"
        grep -E "ERROR|SUMMARY|Test unit written|fuzz_[a-z]*:" "$log" |
            head -20 || true
    fi
    line="$(date -u +%FT%TZ) $t secs=$took execs=${execs:-?} ${cov:-cov: ?} $result"
    echo "$line"
    echo "$line" >>"$work/summary.txt"
done
if [ -n "$failed" ]; then
    echo "fuzz: failures in:$failed (inputs in $work/artifacts/)" >&2
    exit 1
fi
