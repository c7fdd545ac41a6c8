#!/usr/bin/env bash
# The test command (README, CI): installs what it needs, builds, and runs all
# three tiers with ctest: unit (no privileges), bpf (root: real kernel probes),
# e2e (root: real uvicorn, FastAPI, PostgreSQL, Prometheus). Then the fuzz
# targets (fuzz/README.md), a few seconds each, from a second build dir
# compiled by clang with ASan+UBSan: PERFD_FUZZ_BUILD_DIR (build-fuzz).
# Idempotent; run as root on Debian 12. Usage: scripts/test.sh [ctest args...]
# (the ctest args apply to both build dirs).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test.sh: run as root (BPF and end-to-end tiers load kernel probes)" >&2
  exit 1
fi
scripts/install-deps.sh
BUILD_DIR=${PERFD_BUILD_DIR:-build}
# Release: no debug info, which on 2 cores roughly halves the build.
cmake -S . -B "$BUILD_DIR" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
# The fuzz build: only the parser libraries and their fuzz targets (GCC has
# no libFuzzer, hence clang and a build dir of its own).
FUZZ_BUILD_DIR=${PERFD_FUZZ_BUILD_DIR:-build-fuzz}
CC=clang CXX=clang++ cmake -S . -B "$FUZZ_BUILD_DIR" -G "Unix Makefiles" \
  -DCMAKE_BUILD_TYPE=Release -DPERFD_FUZZ=ON >/dev/null
cmake --build "$FUZZ_BUILD_DIR" -j"$(nproc)"

status=0
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 1800 "$@") || status=$?
# Each target is single-threaded: run them side by side.
(cd "$FUZZ_BUILD_DIR" && ctest --output-on-failure --timeout 300 -j"$(nproc)" "$@") || status=$?
exit "$status"
