#!/usr/bin/env bash
# The test command (README, CI): installs what it needs, builds, and runs all
# three tiers with ctest: unit (no privileges), bpf (root: real kernel probes),
# e2e (root: real uvicorn, FastAPI, PostgreSQL, Prometheus).
# Idempotent; run as root on Debian 12. Usage: scripts/test.sh [ctest args...]
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
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 1800 "$@"
