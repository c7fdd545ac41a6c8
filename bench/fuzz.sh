#!/usr/bin/env bash
# Runs every fuzz target (fuzz/README.md) for RUNS executions with ASan+UBSan
# and prints executions, exec/s and crashes per target. Builds the fuzz build
# dir first if needed (clang, libclang-rt-14-dev).
#
#   bench/fuzz.sh                       # 10,000,000 executions per target
#   RUNS=1000000 bench/fuzz.sh          # fewer
#   MAX_SECONDS=600 bench/fuzz.sh       # also stop each target after 10 min
#   bench/fuzz.sh route_table config    # only these targets
#   JOBS=2 MERGE=1 bench/fuzz.sh        # 2 at a time; fold new coverage into fuzz/corpus
#
# New inputs go to OUT (default /tmp/perfd-fuzz), never to the committed
# corpus unless MERGE=1 (libFuzzer -merge=1: only inputs that reach new
# edges; the seeds stay).
# libFuzzer stops a target at its first crash, so "crashes" is 0 or 1; the
# input is saved as OUT/<target>-crash-<sha1> (or -timeout-, -oom-, -leak-).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
BENCH_NAME=fuzz
source bench/lib.sh

RUNS=${RUNS:-10000000}
MAX_SECONDS=${MAX_SECONDS:-0}
JOBS=${JOBS:-$(nproc)}
OUT=${OUT:-/tmp/perfd-fuzz}
BUILD=${PERFD_FUZZ_BUILD_DIR:-build-fuzz}
ALL=(line_parser http_tracker http_framing http_response openapi route_template route_table linetable
  code_reader config)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

require_tools clang++
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPERFD_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
mkdir -p "$OUT"

run_one() { # target: runs it, leaves its log in OUT/<target>.log
  local t="$1" bin="$BUILD/fuzz/$1_fuzz"
  [ -x "$bin" ] || die "no fuzz target $t"
  mkdir -p "$OUT/corpus/$t"
  rm -f "$OUT/$t"-crash-* "$OUT/$t"-timeout-* "$OUT/$t"-oom-* "$OUT/$t"-leak-*
  local rc=0
  "$bin" -runs="$RUNS" -max_total_time="$MAX_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$OUT/$t-" "$OUT/corpus/$t" "fuzz/corpus/$t" \
    >"$OUT/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$OUT/$t.rc"
  if [ "${MERGE:-0}" = 1 ] && [ "$rc" = 0 ]; then
    # Rebuilt from scratch, keeping inputs that reach new edges (hit counts
    # ignored: -use_counters=0), so the committed corpus stays small. The
    # seeds are kept as they are.
    local merged="$OUT/merged/$t"
    rm -rf "$merged" && mkdir -p "$merged"
    "$bin" -merge=1 -use_counters=0 "$merged" "fuzz/corpus/$t" "$OUT/corpus/$t" \
      >"$OUT/$t.merge.log" 2>&1
    find "fuzz/corpus/$t" -type f ! -name 'seed-*' -delete
    cp "$merged"/* "fuzz/corpus/$t/" 2>/dev/null || true
  fi
}

running=0
for t in "${TARGETS[@]}"; do
  echo "fuzz: $t (log $OUT/$t.log)" >&2
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

crashed=0
printf '%-16s %12s %9s %8s %8s\n' target executions exec/s seconds crashes
for t in "${TARGETS[@]}"; do
  log="$OUT/$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  crashes=$(find "$OUT" -maxdepth 1 -name "$t-*-*" -type f | wc -l)
  [ "$(cat "$OUT/$t.rc")" = 0 ] || [ "$crashes" -gt 0 ] || crashes=1
  [ "$crashes" = 0 ] || crashed=1
  printf '%-16s %12s %9s %8s %8s\n' "$t" "${execs:-?}" "${speed:-?}" "${secs:-?}" "$crashes"
done
exit "$crashed"
