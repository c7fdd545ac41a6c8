#!/usr/bin/env bash
# perfd's overhead on a trivial FastAPI route: rounds of wrk with perfd off and
# on, ALTERNATING in one run so machine drift hits both sides alike.
#
#   sudo bench/overhead.sh            # 5 rounds x {off, on} x 15 s
#   ROUNDS=3 DURATION=10 sudo bench/overhead.sh
#
# Reports (median over rounds): throughput ratio on/off, p99 ratio on/off,
# perfd CPU seconds per 1k requests (utime+stime from /proc/<pid>/stat during
# the measured wrk run), perfd VmRSS, and how many requests perfd counted.
# Not part of the tests. Everything on loopback; everything stopped on exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-15}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"

BENCH_NAME=overhead
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
require_root_and_perfd
[ -x "$PERFCTL" ] || die "no perfctl at $PERFCTL"
require_tools wrk

TMP="$(mktemp -d /tmp/perfd-bench.XXXXXX)"
APP_PID=""
PERFD_PID=""
cleanup() {
  trap - INT TERM EXIT
  stop_pid "$PERFD_PID"
  stop_pid "$APP_PID"
  if [ -n "${KEEP:-}" ]; then echo "overhead: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$(free_port)"
PYTHONDONTWRITEBYTECODE=1 PERFD_SERVICE=bench "$PY" -m uvicorn bench_app:app \
  --app-dir "$REPO/bench" --host 127.0.0.1 --port "$PORT" --no-access-log \
  >"$TMP/app.log" 2>&1 &
APP_PID=$!
until_ok 30 curl -fsS "http://127.0.0.1:$PORT/ping" || die "app did not start: $(tail -5 "$TMP/app.log")"
ROUTE="${ROUTE:-/ping}" # /cpu: the CPU-bound route
URL="http://127.0.0.1:$PORT$ROUTE"

start_perfd() {
  local metrics
  metrics="$(free_port)"
  cat >"$TMP/perfd.yaml" <<YAML
listen:
  metrics: "127.0.0.1:$metrics"
  grpc_socket: "$TMP/perfd.sock"
discovery:
  scan_interval_ms: 500
http:
  response_idle_timeout_ms: 200
python:
  sampling: ${PERFD_SAMPLING:-true}
YAML
  "$PERFD" --config "$TMP/perfd.yaml" >>"$TMP/perfd.log" 2>&1 &
  PERFD_PID=$!
  until_ok 30 "$PERFCTL" --endpoint "unix://$TMP/perfd.sock" services ||
    die "perfd did not start: $(tail -5 "$TMP/perfd.log")"
  # Traced = the worker is listed and a request shows up under the route.
  local deadline=$((SECONDS + 30))
  until "$PERFCTL" --endpoint "unix://$TMP/perfd.sock" top --service bench --once -o json 2>/dev/null |
    grep -q "\"$ROUTE\""; do
    [ "$SECONDS" -lt "$deadline" ] || die "perfd never reported GET $ROUTE: $(tail -5 "$TMP/perfd.log")"
    curl -fsS -H 'Connection: close' "$URL" >/dev/null || true
    sleep 0.3
  done
}

counted_requests() { # requests perfd holds for GET $ROUTE in the last 60 s
  "$PERFCTL" --endpoint "unix://$TMP/perfd.sock" top --service bench --window 60 --once -o json |
    "$PY" -c 'import json,sys
d=json.load(sys.stdin)
print(sum(int(r.get("requests",0)) for r in d.get("routes",[]) if r.get("route")==sys.argv[1]))' "$ROUTE"
}

RESULTS="$TMP/results.tsv"
printf 'round\tmode\trps\tp99_ms\trequests\tcpu_s\trss_kb\tcounted\n' >"$RESULTS"
echo "overhead: warm-up (5 s), then $ROUNDS rounds x {off,on} x ${DURATION}s of wrk -t$THREADS -c$CONNECTIONS" >&2
wrk -t"$THREADS" -c"$CONNECTIONS" -d5s "$URL" >/dev/null

for round in $(seq "$ROUNDS"); do
  for mode in off on; do
    cpu0=0 cpu1=0 rss=0 counted=""
    if [ "$mode" = on ]; then
      start_perfd
      before="$(counted_requests)"
      cpu0="$(cpu_ticks "$PERFD_PID")"
    fi
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$URL" >"$TMP/wrk.txt"
    if [ "$mode" = on ]; then
      cpu1="$(cpu_ticks "$PERFD_PID")"
      rss="$(rss_kb "$PERFD_PID")"
      sleep 1 # let idle keep-alive responses flush (response_idle_timeout_ms)
      counted=$(($(counted_requests) - before))
      stop_pid "$PERFD_PID"
      PERFD_PID=""
      [ "$STOP_RC" = 0 ] || echo "overhead: warning: perfd exited $STOP_RC on SIGTERM" >&2
    fi
    "$PY" - "$TMP/wrk.txt" "$round" "$mode" "$cpu0" "$cpu1" "$rss" "$counted" >>"$RESULTS" <<'PYEOF'
import os, re, sys
text = open(sys.argv[1]).read()
rnd, mode, cpu0, cpu1, rss, counted = sys.argv[2:8]
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
p99 = float(m.group(1)) * unit[m.group(2)]
reqs = int(re.search(r"(\d+) requests in", text).group(1))
cpu = (int(cpu1) - int(cpu0)) / os.sysconf("SC_CLK_TCK")
print(f"{rnd}\t{mode}\t{rps:.1f}\t{p99:.3f}\t{reqs}\t{cpu:.2f}\t{rss}\t{counted}")
PYEOF
    tail -n 1 "$RESULTS" | awk -F'\t' '{printf "  round %s %-3s  %8.0f req/s  p99 %7.2f ms  %s\n", $1, $2, $3, $4, ($2=="on" ? sprintf("perfd cpu %.2fs rss %d KiB counted %s/%s", $6, $7, $8, $5) : "")}' >&2
  done
done

"$PY" - "$RESULTS" <<'PYEOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["round"], {})[r["mode"]] = r
pairs = [v for v in by.values() if "off" in v and "on" in v]
med = statistics.median
tput = med(float(p["on"]["rps"]) / float(p["off"]["rps"]) for p in pairs)
p99 = med(float(p["on"]["p99_ms"]) / float(p["off"]["p99_ms"]) for p in pairs)
cpu_per_1k = med(float(p["on"]["cpu_s"]) / int(p["on"]["requests"]) * 1000 for p in pairs)
rss = med(int(p["on"]["rss_kb"]) for p in pairs) / 1024
rss_max = max(int(p["on"]["rss_kb"]) for p in pairs) / 1024
off_rps = med(float(p["off"]["rps"]) for p in pairs)
on_rps = med(float(p["on"]["rps"]) for p in pairs)
counted = sum(int(p["on"]["counted"]) for p in pairs)
sent = sum(int(p["on"]["requests"]) for p in pairs)
print()
print(f"perfd overhead, {len(pairs)} alternating rounds (median)")
print(f"{'metric':34} {'value':>14}")
print(f"{'-' * 34} {'-' * 14}")
print(f"{'throughput off / on (req/s)':34} {off_rps:>6.0f} / {on_rps:<6.0f}")
print(f"{'throughput ratio on/off':34} {tput:>14.3f}")
print(f"{'p99 latency ratio on/off':34} {p99:>14.3f}")
print(f"{'perfd CPU s per 1k requests':34} {cpu_per_1k:>14.4f}")
print(f"{'perfd VmRSS MiB (median / max)':34} {rss:>6.1f} / {rss_max:<6.1f}")
print(f"{'requests counted / completed (on)':34} {counted:>7} / {sent:<7}")
PYEOF
