#!/usr/bin/env bash
# What request identity (python.request_identity) costs the traced worker:
# perfd runs in every round, alternately with identity off and on, and each
# round measures the worker's CPU per request (utime+stime of the worker,
# which includes the BPF programs and uprobe traps in its syscalls and
# calls), perfd's own CPU per 1k requests, and the BPF programs' run time per
# request from perfd's program stats (kernel.bpf_stats_enabled=1).
#
#   sudo bench/identity.sh                       # 10 round pairs x 5 s, uvloop, /ping
#   LOOP=asyncio ROUTE=/cpu ROUNDS=6 sudo bench/identity.sh
#
# The worker is pinned to CPU 1, wrk and perfd to CPU 0, so the worker's CPU
# per request is not diluted by the load generator. Order alternates within
# pairs (off,on / on,off) to cancel drift. Differences on−off are reported
# as mean ± 95% confidence interval over the pairs; an interval that spans 0
# says the cost is below what this run can resolve. Not part of the tests.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-10}"
DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-16}"
LOOP="${LOOP:-uvloop}"
ROUTE="${ROUTE:-/ping}"

BENCH_NAME=identity
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
require_root_and_perfd
require_tools wrk taskset

TMP="$(mktemp -d /tmp/perfd-identity.XXXXXX)"
APP_PID=""
PERFD_PID=""
STATS_WAS="$(sysctl -n kernel.bpf_stats_enabled)"
cleanup() {
  trap - INT TERM EXIT
  stop_pid "$PERFD_PID"
  stop_pid "$APP_PID"
  sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS" || true
  if [ -n "${KEEP:-}" ]; then echo "identity: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
sysctl -qw kernel.bpf_stats_enabled=1

PORT="$(free_port)"
PYTHONDONTWRITEBYTECODE=1 PERFD_SERVICE=bench taskset -c 1 "$PY" -m uvicorn bench_app:app \
  --app-dir "$REPO/bench" --host 127.0.0.1 --port "$PORT" --no-access-log --loop "$LOOP" \
  >"$TMP/app.log" 2>&1 &
APP_PID=$!
URL="http://127.0.0.1:$PORT$ROUTE"
until_ok 30 curl -fsS "$URL" || die "app did not start: $(tail -5 "$TMP/app.log")"

METRICS=""
start_perfd() { # identity: true|false
  local port
  port="$(free_port)"
  METRICS="http://127.0.0.1:$port/metrics"
  cat >"$TMP/perfd.yaml" <<YAML
listen:
  metrics: "127.0.0.1:$port"
  grpc_socket: "$TMP/perfd.sock"
python:
  request_identity: $1
YAML
  : >"$TMP/perfd.log"
  taskset -c 0 "$PERFD" --config "$TMP/perfd.yaml" >>"$TMP/perfd.log" 2>&1 &
  PERFD_PID=$!
  local deadline=$((SECONDS + 30))
  # Ready: sampling the worker, and (on) identity switched on for it.
  local want="sampling Python"
  [ "$1" = true ] && want="request identity on"
  until grep -q "$want" "$TMP/perfd.log"; do
    [ "$SECONDS" -lt "$deadline" ] || die "perfd not ready: $(tail -5 "$TMP/perfd.log")"
    curl -fsS "$URL" >/dev/null || true
    sleep 0.2
  done
}

bpf_snapshot() { # sum of run seconds and the context probe's runs, from perfd's metrics
  curl -fsS "$METRICS" | awk '
    /^perfd_bpf_program_run_seconds_total/ {s += $NF}
    /^perfd_bpf_program_runs_total\{program="py_context_copied"\}/ {c = $NF}
    END {printf "%.9f %d\n", s, c}'
}

RESULTS="$TMP/results.tsv"
printf 'pair\tmode\trequests\tworker_s\tperfd_s\tbpf_s\tctx_runs\n' >"$RESULTS"
echo "identity: $ROUNDS pairs x {off,on} x ${DURATION}s of wrk -t1 -c$CONNECTIONS $ROUTE, $LOOP loop" >&2
taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d3s "$URL" >/dev/null # warm-up

for pair in $(seq "$ROUNDS"); do
  for mode in $(pair_order "$pair" false true); do
    start_perfd "$mode"
    read -r bpf0 ctx0 <<<"$(bpf_snapshot)"
    w0="$(cpu_ticks "$APP_PID")"
    p0="$(cpu_ticks "$PERFD_PID")"
    taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$URL" >"$TMP/wrk.txt"
    w1="$(cpu_ticks "$APP_PID")"
    p1="$(cpu_ticks "$PERFD_PID")"
    read -r bpf1 ctx1 <<<"$(bpf_snapshot)"
    stop_pid "$PERFD_PID"
    PERFD_PID=""
    reqs="$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pair" "$mode" "$reqs" \
      "$(ticks_to_s "$w0" "$w1")" \
      "$(ticks_to_s "$p0" "$p1")" \
      "$(awk -v a="$bpf0" -v b="$bpf1" 'BEGIN {printf "%.6f", b - a}')" \
      "$((ctx1 - ctx0))" >>"$RESULTS"
    tail -n 1 "$RESULTS" | awk -F'\t' '{printf "  pair %s identity %-5s %7d req  worker %.0f us/req  perfd %.2f ms/1k  bpf %.2f us/req  ctx probe %.2f/req\n", $1, $2, $3, $4 / $3 * 1e6, $5 / $3 * 1e6, $6 / $3 * 1e6, $7 / $3}' >&2
  done
done

"$PY" "$REPO/bench/paired_stats.py" "$RESULTS" false true "request identity cost" \
  "worker CPU per request (us):worker_s:1e6" "perfd CPU per 1k requests (ms):perfd_s:1e6" \
  "BPF run time per request (us):bpf_s:1e6" "context probe runs per request:ctx_runs:1"
