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
command -v wrk >/dev/null || die "wrk missing (scripts/install-deps.sh installs it)"
command -v taskset >/dev/null || die "taskset missing (util-linux)"

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

tck="$(getconf CLK_TCK)"
for pair in $(seq "$ROUNDS"); do
  order="false true"
  [ $((pair % 2)) -eq 0 ] && order="true false"
  for mode in $order; do
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
      "$(awk -v a="$w0" -v b="$w1" -v t="$tck" 'BEGIN {printf "%.3f", (b - a) / t}')" \
      "$(awk -v a="$p0" -v b="$p1" -v t="$tck" 'BEGIN {printf "%.3f", (b - a) / t}')" \
      "$(awk -v a="$bpf0" -v b="$bpf1" 'BEGIN {printf "%.6f", b - a}')" \
      "$((ctx1 - ctx0))" >>"$RESULTS"
    tail -n 1 "$RESULTS" | awk -F'\t' '{printf "  pair %s identity %-5s %7d req  worker %.0f us/req  perfd %.2f ms/1k  bpf %.2f us/req  ctx probe %.2f/req\n", $1, $2, $3, $4 / $3 * 1e6, $5 / $3 * 1e6, $6 / $3 * 1e6, $7 / $3}' >&2
  done
done

"$PY" - "$RESULTS" <<'PYEOF'
import csv, math, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["pair"], {})[r["mode"]] = r
pairs = [v for v in by.values() if "false" in v and "true" in v]
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26,
       10: 2.23, 12: 2.18, 15: 2.13, 20: 2.09, 30: 2.04}

def t95(df):
    return T95.get(df) or T95[max(k for k in T95 if k <= df)] if df >= 1 else float("nan")

def per(r, key, scale):
    return float(r[key]) / int(r["requests"]) * scale

metrics = [("worker CPU per request (us)", "worker_s", 1e6),
           ("perfd CPU per 1k requests (ms)", "perfd_s", 1e6),
           ("BPF run time per request (us)", "bpf_s", 1e6),
           ("context probe runs per request", "ctx_runs", 1)]
print(f"\nrequest identity cost, {len(pairs)} pairs, mean (95% CI of on-off)")
print(f"{'metric':34} {'off':>9} {'on':>9} {'on-off':>20}")
for name, key, scale in metrics:
    off = [per(p["false"], key, scale) for p in pairs]
    on = [per(p["true"], key, scale) for p in pairs]
    d = [b - a for a, b in zip(off, on)]
    mean = statistics.mean(d)
    ci = t95(len(d) - 1) * statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
    verdict = "" if abs(mean) > ci else "  (interval spans 0: not resolved)"
    print(f"{name:34} {statistics.mean(off):9.2f} {statistics.mean(on):9.2f} "
          f"{mean:+9.2f} ± {ci:<7.2f}{verdict}")
base = statistics.mean(per(p["false"], "worker_s", 1e6) for p in pairs)
d = statistics.mean(per(p["true"], "worker_s", 1e6) - per(p["false"], "worker_s", 1e6) for p in pairs)
print(f"{'worker CPU added by identity':34} {d / base:+.1%} of {base:.0f} us/req")
PYEOF
