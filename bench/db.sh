#!/usr/bin/env bash
# What perfd costs a database-heavy route: the e2e workload's asyncpg routes
# (tests/e2e/apps/db_app.py; default /asyncpg/n1, 1 + 20 queries per request)
# on a throwaway PostgreSQL, one uvicorn worker (uvloop), alternately without
# perfd and with perfd at its defaults. Per round: the worker's CPU per
# request (utime+stime of the pinned worker, which includes the BPF programs
# and uprobe traps run in its syscalls and calls), perfd's CPU per request,
# and PostgreSQL's (the backends serving the worker: it should not move).
#
#   sudo bench/db.sh                               # 8 pairs x 5 s, /asyncpg/n1
#   ROUTE=/asyncpg/one LOOP=asyncio ROUNDS=6 sudo bench/db.sh
#
# The worker is pinned to CPU 1, wrk, perfd and PostgreSQL to CPU 0. Order
# alternates within pairs (off,on / on,off) to cancel drift; differences are
# mean ± 95% CI over the pairs (bench/paired_stats.py). Not part of the tests.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-8}"
DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-8}"
LOOP="${LOOP:-uvloop}"
ROUTE="${ROUTE:-/asyncpg/n1}"

BENCH_NAME=db
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
require_root_and_perfd
require_tools wrk taskset

TMP="$(mktemp -d /tmp/perfd-db-bench.XXXXXX)" # root's: perfd's API socket lives here
chmod 755 "$TMP" # postgres must reach its directory; not writable by others
APP_PID=""
PERFD_PID=""
STATS_WAS="$(sysctl -n kernel.bpf_stats_enabled)"
cleanup() {
  trap - INT TERM EXIT
  sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS" || true
  stop_pid "$PERFD_PID"
  stop_pid "$APP_PID"
  stop_postgres
  if [ -n "${KEEP:-}" ]; then echo "db: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
sysctl -qw kernel.bpf_stats_enabled=1

start_postgres

PORT="$(free_port)"
PYTHONDONTWRITEBYTECODE=1 PERFD_SERVICE=bench-db \
  E2E_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres" \
  E2E_REDIS_URL="redis://127.0.0.1:1" \
  taskset -c 1 "$PY" -m uvicorn db_app:app --app-dir "$REPO/tests/e2e/apps" \
  --host 127.0.0.1 --port "$PORT" --no-access-log --loop "$LOOP" >"$TMP/app.log" 2>&1 &
APP_PID=$!
URL="http://127.0.0.1:$PORT$ROUTE"
until_ok 30 curl -fsS "$URL" || die "app did not start: $(tail -5 "$TMP/app.log")"

METRICS=""
bpf_snapshot() { # BPF run seconds (all programs), uprobe runs: context copies, PySet_Add
  [ -n "$METRICS" ] || { echo "0 0 0"; return; }
  curl -fsS "$METRICS" | awk '
    /^perfd_bpf_program_run_seconds_total/ {s += $NF}
    /^perfd_bpf_program_runs_total\{program="py_context_copied"\}/ {c = $NF}
    /^perfd_bpf_program_runs_total\{program="py_stream_queued"\}/ {q = $NF}
    END {printf "%.9f %d %d\n", s, c, q}'
}

start_perfd() {
  local port
  port="$(free_port)"
  METRICS="http://127.0.0.1:$port/metrics"
  cat >"$TMP/perfd.yaml" <<YAML
listen:
  metrics: "127.0.0.1:$port"
  grpc_socket: "$TMP/perfd.sock"
YAML
  : >"$TMP/perfd.log"
  taskset -c 0 "$PERFD" --config "$TMP/perfd.yaml" >>"$TMP/perfd.log" 2>&1 &
  PERFD_PID=$!
  local deadline=$((SECONDS + 30))
  until grep -q "request identity on" "$TMP/perfd.log"; do
    [ "$SECONDS" -lt "$deadline" ] || die "perfd not ready: $(tail -5 "$TMP/perfd.log")"
    curl -fsS "$URL" >/dev/null || true
    sleep 0.2
  done
}

RESULTS="$TMP/results.tsv"
printf 'pair\tmode\trequests\tworker_s\tperfd_s\tpg_s\tbpf_s\tctx_runs\tset_add_runs\n' >"$RESULTS"
echo "db: $ROUNDS pairs x {off,on} x ${DURATION}s of wrk -t1 -c$CONNECTIONS $ROUTE, $LOOP loop" >&2
taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d3s "$URL" >/dev/null # warm-up

for pair in $(seq "$ROUNDS"); do
  for mode in $(pair_order "$pair" off on); do
    [ "$mode" = on ] && start_perfd
    w0="$(cpu_ticks "$APP_PID")"
    p0=0
    [ "$mode" = on ] && p0="$(cpu_ticks "$PERFD_PID")"
    g0="$(pg_ticks)"
    read -r b0 c0 q0 <<<"$(bpf_snapshot)"
    taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$URL" >"$TMP/wrk.txt"
    w1="$(cpu_ticks "$APP_PID")"
    p1=0
    [ "$mode" = on ] && p1="$(cpu_ticks "$PERFD_PID")"
    g1="$(pg_ticks)"
    read -r b1 c1 q1 <<<"$(bpf_snapshot)"
    if [ "$mode" = on ]; then
      stop_pid "$PERFD_PID"
      PERFD_PID=""
      METRICS=""
    fi
    reqs="$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pair" "$mode" "$reqs" \
      "$(ticks_to_s "$w0" "$w1")" \
      "$(ticks_to_s "$p0" "$p1")" \
      "$(ticks_to_s "$g0" "$g1")" \
      "$(awk -v a="$b0" -v b="$b1" 'BEGIN {printf "%.6f", b - a}')" "$((c1 - c0))" "$((q1 - q0))" >>"$RESULTS"
    tail -n 1 "$RESULTS" | awk -F'\t' '{printf "  pair %s perfd %-3s %7d req  worker %.0f us/req  perfd %.1f us/req  postgres %.0f us/req\n", $1, $2, $3, $4 / $3 * 1e6, $5 / $3 * 1e6, $6 / $3 * 1e6}' >&2
  done
done

"$PY" "$REPO/bench/paired_stats.py" "$RESULTS" off on "perfd cost on $ROUTE ($LOOP)" \
  "worker CPU per request (us):worker_s:1e6" "perfd CPU per request (us):perfd_s:1e6" \
  "PostgreSQL CPU per request (us):pg_s:1e6" "BPF run time per request (us):bpf_s:1e6" \
  "context-copy probe runs per request:ctx_runs:1" "PySet_Add probe runs per request:set_add_runs:1"
