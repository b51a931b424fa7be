#!/bin/sh
# Installs everything loginrisk needs to build, run and test on Debian 12.
# Run as root. Safe to run again: apt-get skips what is already there.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config git ca-certificates openssl \
    libgrpc-dev protobuf-c-compiler libprotobuf-c-dev \
    protobuf-compiler protobuf-compiler-grpc \
    libmaxminddb-dev mmdb-bin libmaxmind-db-writer-perl \
    libargon2-dev argon2 uthash-dev libyaml-dev libcmocka-dev \
    libsqlite3-dev sqlite3 libjansson-dev libmicrohttpd-dev \
    python3 python3-grpcio python3-protobuf \
    clang clang-format libclang-rt-14-dev \
    >/dev/null
# Node and npm for the grpc-js interop test, unless a node that brings its own npm is there
command -v npm >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
