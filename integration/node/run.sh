#!/bin/sh
# run.sh - the Node interop test, as CTest runs it: installs the pinned npm
# packages (package-lock.json) when they are missing or stale, then runs
# node's test runner. .ci/run installs them up front with `npm ci` too.
set -eu
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] ||
    [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test interop.test.js
