#!/bin/sh
# Runs every test: unit tests (cmocka) and integration tests (the real agent
# on loopback, called by the C client, Python grpcio and Node grpc-js).
#   scripts/test.sh             plain build in ./build
#   scripts/test.sh --sanitize  AddressSanitizer + UBSan build in ./build-asan
#   scripts/test.sh --tsan      ThreadSanitizer build in ./build-tsan
# Installs missing dependencies first when run as root.
set -eu
cd "$(dirname "$0")/.."
dir=build
opts=""
label=""
case "${1:-}" in
--sanitize) dir=build-asan; opts="-DLR_SANITIZE=ON" ;;
--tsan) dir=build-tsan; opts="-DLR_TSAN=ON"; label="-L threads" ;;
"") ;;
*) echo "usage: $0 [--sanitize|--tsan]" >&2; exit 2 ;;
esac
if [ "$(id -u)" = 0 ] && ! pkg-config --exists grpc libmaxminddb cmocka 2>/dev/null; then
    sh scripts/install-deps.sh
fi
# shellcheck disable=SC2086
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo $opts >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
# shellcheck disable=SC2086
ctest --output-on-failure -j2 $label
