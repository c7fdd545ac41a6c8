#!/usr/bin/env bash
# Soak: days of worker churn compressed into minutes, with perfd's memory
# sampled before and after. Not a test (long, load-dependent): a bench.
#
#   sudo bench/soak.sh                       # 1,000 restarts, 50 services, 9 x 100 routes
#   RESTARTS=200 SERVICES=20 sudo bench/soak.sh   # a reduced run
#
# Starts perfd (default caps; window_max_seconds and idle_seconds at 60 so
# idle eviction happens within the run), then bench/soak_driver.py restarts
# uvicorn workers of SERVICES services RESTARTS times in all, each life
# serving a slice of METHODS x ROUTES (method, route) pairs (every pair of
# every service twice over the run), PARALLEL lives at once. perfd's VmRSS,
# open fds, BPF map entries (bpftool; arrays show their fixed size) and its
# own entry/overflow/eviction self-metrics are sampled at start, after 1/4,
# 1/2 and 3/4 of the lives, at the end, and twice IDLE_WAIT s apart after it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESTARTS="${RESTARTS:-1000}"
SERVICES="${SERVICES:-50}"
METHODS="${METHODS:-9}"
ROUTES="${ROUTES:-100}"
PARALLEL="${PARALLEL:-4}"
IDLE_WAIT="${IDLE_WAIT:-75}"
# perfd traces every uvicorn worker on the host; on a shared machine, other
# people's apps (a 16 MiB OpenAPI document...) would land in the numbers.
# The soak app has no OpenAPI document anyway (routes come from heuristics).
OPENAPI="${OPENAPI:-false}"

BENCH_NAME=soak
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
require_root_and_perfd
[ -x "$PERFCTL" ] || die "no perfctl at $PERFCTL"
require_tools bpftool

TMP="$(mktemp -d /tmp/perfd-soak.XXXXXX)"
PERFD_PID=""
cleanup() {
  trap - INT TERM EXIT
  stop_pid "$PERFD_PID"
  if [ -n "${KEEP:-}" ]; then echo "soak: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

METRICS_PORT="$(free_port)"
cat >"$TMP/perfd.yaml" <<YAML
listen:
  metrics: "127.0.0.1:$METRICS_PORT"
  grpc_socket: "$TMP/perfd.sock"
routes:
  openapi: $OPENAPI
aggregation:
  window_max_seconds: 60
  idle_seconds: 60
log:
  level: warn
YAML
"$PERFD" --config "$TMP/perfd.yaml" >>"$TMP/perfd.log" 2>&1 &
PERFD_PID=$!
until_ok 60 "$PERFCTL" --endpoint "unix://$TMP/perfd.sock" services ||
  die "perfd did not start: $(tail -5 "$TMP/perfd.log")"
sleep 2 # its first self-metrics tick

"$PY" -B "$REPO/bench/soak_driver.py" --perfd-pid "$PERFD_PID" \
  --metrics-url "http://127.0.0.1:$METRICS_PORT/metrics" --app-dir "$REPO/bench" \
  --services "$SERVICES" --restarts "$RESTARTS" --methods "$METHODS" --routes "$ROUTES" \
  --parallel "$PARALLEL" --idle-wait "$IDLE_WAIT" >"$TMP/samples.jsonl"
kill -0 "$PERFD_PID" 2>/dev/null || die "perfd died: $(tail -5 "$TMP/perfd.log")"
echo "perfd soak: $RESTARTS worker restarts, $SERVICES services, $METHODS methods x $ROUTES routes"
"$PY" -B "$REPO/bench/soak_driver.py" report "$TMP/samples.jsonl"
