#!/usr/bin/env bash
# perfd's resource footprint for the DaemonSet's requests/limits
# (docs/DEPLOY.md, "Resource footprint"): perfd with the DaemonSet's own
# perfd.yaml (deploy/kubernetes/base; listeners moved to loopback ports),
# Python sampling on, tracing a 2-worker uvicorn service under wrk load
# (a trivial route and a ~2 ms CPU-bound one, side by side).
#
#   sudo bench/footprint.sh               # 60 s of load
#   DURATION=120 sudo bench/footprint.sh
#
# Reports perfd's CPU (utime+stime over the loaded window, in cores), its
# peak VmRSS sampled every second and VmHWM, idle CPU over 20 s before the
# load, and the requests served. Not part of the tests.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-60}"
BENCH_NAME=footprint
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
require_root_and_perfd
require_tools wrk curl

TMP="$(mktemp -d /tmp/perfd-footprint.XXXXXX)"
APP_PID=""
PERFD_PID=""
cleanup() {
  trap - INT TERM EXIT
  stop_pid "$PERFD_PID"
  stop_pid "$APP_PID"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$(free_port)"
PYTHONDONTWRITEBYTECODE=1 PERFD_SERVICE=footprint "$PY" -m uvicorn bench_app:app \
  --app-dir "$REPO/bench" --host 127.0.0.1 --port "$PORT" --workers 2 --no-access-log \
  >"$TMP/app.log" 2>&1 &
APP_PID=$!
until_ok 30 curl -fsS "http://127.0.0.1:$PORT/ping" || die "app did not start: $(tail -5 "$TMP/app.log")"

sed -e "s|\"0.0.0.0:9464\"|\"127.0.0.1:$(free_port)\"|" \
  -e "s|\"0.0.0.0:50051\"|\"127.0.0.1:$(free_port)\"|" \
  -e "s|\"0.0.0.0:9465\"|\"127.0.0.1:$(free_port)\"|" \
  -e "s|/run/perfd/perfd.sock|$TMP/perfd.sock|" \
  "$REPO/deploy/kubernetes/base/perfd.yaml" >"$TMP/perfd.yaml"
"$PERFD" --config "$TMP/perfd.yaml" >"$TMP/perfd.log" 2>&1 &
PERFD_PID=$!
until_ok 30 "$PERFCTL" --endpoint "unix://$TMP/perfd.sock" services ||
  die "perfd did not start: $(tail -5 "$TMP/perfd.log")"
deadline=$((SECONDS + 30))
until "$PERFCTL" --endpoint "unix://$TMP/perfd.sock" top --service footprint --once -o json 2>/dev/null |
  grep -q '"/ping"'; do
  [ "$SECONDS" -lt "$deadline" ] || die "perfd never reported GET /ping: $(tail -5 "$TMP/perfd.log")"
  curl -fsS -H 'Connection: close' "http://127.0.0.1:$PORT/ping" >/dev/null || true
  sleep 0.3
done

hz="$(getconf CLK_TCK)"
t0="$(cpu_ticks "$PERFD_PID")"
sleep 20
idle_cores="$(awk -v a="$t0" -v b="$(cpu_ticks "$PERFD_PID")" -v hz="$hz" 'BEGIN {printf "%.3f", (b-a)/hz/20}')"
idle_rss="$(rss_kb "$PERFD_PID")"

t0="$(cpu_ticks "$PERFD_PID")"
wrk -t1 -c16 -d"${DURATION}s" "http://127.0.0.1:$PORT/ping" >"$TMP/wrk-ping.txt" &
W1=$!
wrk -t1 -c4 -d"${DURATION}s" "http://127.0.0.1:$PORT/cpu" >"$TMP/wrk-cpu.txt" &
W2=$!
peak=0
while kill -0 "$W1" 2>/dev/null; do
  r="$(rss_kb "$PERFD_PID")"
  [ "$r" -gt "$peak" ] && peak="$r"
  sleep 1
done
wait "$W1" "$W2"
t1="$(cpu_ticks "$PERFD_PID")"
hwm="$(awk '/^VmHWM:/ {print $2}' "/proc/$PERFD_PID/status")"
# What perfd counted in the window, to show it traced the load it was measured under.
counted="$("$PERFCTL" --endpoint "unix://$TMP/perfd.sock" top --service footprint \
  --window "$((DURATION + 30))" --once -o json | "$PY" -c 'import json,sys
print(sum(int(r.get("requests", 0)) for r in json.load(sys.stdin).get("routes", [])))')"
reqs() { awk '/requests in/ {print $1}' "$1"; }
echo "footprint: perfd idle (2 workers, no requests, 20 s): $idle_cores cores, VmRSS $((idle_rss / 1024)) MiB"
echo "footprint: load: $(reqs "$TMP/wrk-ping.txt") GET /ping + $(reqs "$TMP/wrk-cpu.txt") GET /cpu in ${DURATION} s; perfd counted $counted"
awk -v a="$t0" -v b="$t1" -v hz="$hz" -v d="$DURATION" \
  'BEGIN {printf "footprint: perfd under load: %.3f cores (CPU seconds %.1f over %d s)\n", (b-a)/hz/d, (b-a)/hz, d}'
echo "footprint: perfd VmRSS peak $((peak / 1024)) MiB, VmHWM $((hwm / 1024)) MiB"
