#!/bin/sh
# Installs the dependencies (Debian 12, as root), builds loginrisk and starts
# the agent on its embedded default config: gRPC on 127.0.0.1:50051, state in
# ./state, the demo geo databases the build makes. Ctrl-C stops it.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
exec ./build/agent/loginrisk-agent "$@"
