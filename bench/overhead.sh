#!/usr/bin/env bash
# What perfd costs the service it profiles, as CPU per request with a
# confidence interval (issue 10's bench): one uvicorn worker pinned to CPU 1,
# the load generator, perfd and PostgreSQL on CPU 0; rounds alternate without
# and with perfd (order swapped every pair, so drift cancels), and each round
# records the worker's utime+stime (which includes the BPF programs and uprobe
# traps run in its syscalls and calls), perfd's, and PostgreSQL's.
#
#   bench/overhead.sh                               # /ping at saturation, 10 pairs x 5 s
#   ROUTE=shop bench/overhead.sh                    # realistic: JWT + asyncpg, ~2-5 ms
#   ROUTE=cpu bench/overhead.sh                     # CPU-bound: ~2 ms of Python (sampling matters)
#   LOAD=rate RATE=200 bench/overhead.sh            # fixed rate: adds p50/p99 latency
#   PERFD_EXTRA=$'python:\n  sampling: false' bench/overhead.sh   # any perfd config on top
#
# The headline figure is the extra CPU per request: (worker on - worker off)
# + perfd on, as mean ± 95% CI over the pairs, and its share of the worker's
# CPU per request without perfd, with a verdict on whether the interval is
# narrow enough to tell 1% from nothing. Not part of the tests.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-10}"
DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-8}"
LOOP="${LOOP:-uvloop}"
ROUTE="${ROUTE:-ping}"
LOAD="${LOAD:-saturation}"
RATE="${RATE:-200}"
PERFD_EXTRA="${PERFD_EXTRA:-}"

BENCH_NAME=overhead
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
require_root_and_perfd
require_tools wrk taskset curl setpriv
case "$ROUTE" in ping | cpu | shop) ;; *) die "ROUTE must be ping, cpu or shop (got $ROUTE)" ;; esac
case "$LOAD" in saturation | rate) ;; *) die "LOAD must be saturation or rate (got $LOAD)" ;; esac

TMP="$(mktemp -d /tmp/perfd-overhead.XXXXXX)"
chmod 755 "$TMP" # postgres must reach its directory; not writable by others
APP_PID=""
PERFD_PID=""
cleanup() {
  trap - INT TERM EXIT
  stop_pid "$PERFD_PID"
  stop_pid "$APP_PID"
  stop_postgres
  if [ -n "${KEEP:-}" ]; then echo "overhead: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$(free_port)"
HEADERS=()
if [ "$ROUTE" = shop ]; then
  start_postgres
  PYTHONDONTWRITEBYTECODE=1 SHOP_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres" \
    taskset -c 1 "$PY" -m uvicorn shop.main:app --app-dir "$REPO/examples/shop" \
    --host 127.0.0.1 --port "$PORT" --no-access-log --loop "$LOOP" >"$TMP/app.log" 2>&1 &
  APP_PID=$!
  until_ok 60 curl -fsS "http://127.0.0.1:$PORT/health" || die "shop did not start: $(tail -5 "$TMP/app.log")"
  token="$(curl -fsS -H 'Content-Type: application/json' -d '{"username":"alice","password":"wonderland"}' \
    "http://127.0.0.1:$PORT/login" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
  HEADERS=("Authorization: Bearer $token")
  # 20 orders of 2 lines for alice (user 1): the route returns them all.
  for _ in $(seq 20); do
    curl -fsS -o /dev/null -H "${HEADERS[0]}" -H 'Content-Type: application/json' \
      -d '{"items":[{"product_id":1,"quantity":1},{"product_id":2,"quantity":2}]}' \
      "http://127.0.0.1:$PORT/orders" || die "could not create the bench's orders"
  done
  URL="http://127.0.0.1:$PORT/users/1/orders"
else
  PYTHONDONTWRITEBYTECODE=1 PERFD_SERVICE=bench taskset -c 1 "$PY" -m uvicorn bench_app:app \
    --app-dir "$REPO/bench" --host 127.0.0.1 --port "$PORT" --no-access-log --loop "$LOOP" \
    >"$TMP/app.log" 2>&1 &
  APP_PID=$!
  URL="http://127.0.0.1:$PORT/$ROUTE"
fi
CURL_H=()
WRK_H=()
for h in "${HEADERS[@]}"; do CURL_H+=(-H "$h"); WRK_H+=(-H "$h"); done
until_ok 30 curl -fsS "${CURL_H[@]}" "$URL" || die "app did not answer $URL: $(tail -5 "$TMP/app.log")"

start_perfd() {
  local port
  port="$(free_port)"
  {
    printf 'listen:\n  metrics: "127.0.0.1:%s"\n  grpc_socket: "%s/perfd.sock"\n' "$port" "$TMP"
    [ -z "$PERFD_EXTRA" ] || printf '%s\n' "$PERFD_EXTRA"
  } >"$TMP/perfd.yaml"
  : >"$TMP/perfd.log"
  taskset -c 0 "$PERFD" --config "$TMP/perfd.yaml" >>"$TMP/perfd.log" 2>&1 &
  PERFD_PID=$!
  # Ready: the worker's requests are counted (so the round is traced from its start).
  local deadline=$((SECONDS + 30))
  until curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null |
    grep -q '^http_server_request_duration_seconds_count.*http_route="/'; do
    [ "$SECONDS" -lt "$deadline" ] || die "perfd not ready: $(tail -5 "$TMP/perfd.log")"
    kill -0 "$PERFD_PID" 2>/dev/null || die "perfd exited: $(tail -5 "$TMP/perfd.log")"
    curl -fsS "${CURL_H[@]}" "$URL" >/dev/null || true
    sleep 0.2
  done
}

run_load() { # -> requests; with LOAD=rate also p50_us p99_us late
  if [ "$LOAD" = rate ]; then
    taskset -c 0 "$PY" "$REPO/bench/rate_client.py" "$URL" "$RATE" "$DURATION" "$CONNECTIONS" \
      "${HEADERS[@]}" >"$TMP/load.json"
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["requests"], d["p50_us"], d["p99_us"], d["late"], d["errors"])' \
      "$TMP/load.json"
  else
    taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "${WRK_H[@]}" "$URL" >"$TMP/wrk.txt"
    awk '/requests in/ {r = $1} /Non-2xx/ {e = $NF} END {print r, 0, 0, 0, e + 0}' "$TMP/wrk.txt"
  fi
}

RESULTS="$TMP/results.tsv"
printf 'pair\tmode\trequests\tworker_s\tperfd_s\tcost_s\tpg_s\tp50_us\tp99_us\n' >"$RESULTS"
load_desc="wrk -t1 -c$CONNECTIONS"
[ "$LOAD" = rate ] && load_desc="$RATE req/s over $CONNECTIONS connections"
echo "overhead: $ROUNDS pairs x {off,on} x ${DURATION}s, $URL, $load_desc, $LOOP loop" >&2
taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d3s "${WRK_H[@]}" "$URL" >/dev/null # warm-up

for pair in $(seq "$ROUNDS"); do
  for mode in $(pair_order "$pair" off on); do
    [ "$mode" = on ] && start_perfd
    w0="$(cpu_ticks "$APP_PID")"
    p0=0
    [ "$mode" = on ] && p0="$(cpu_ticks "$PERFD_PID")"
    g0="$(pg_ticks)"
    read -r reqs p50 p99 late errors <<<"$(run_load)"
    w1="$(cpu_ticks "$APP_PID")"
    p1=0
    [ "$mode" = on ] && p1="$(cpu_ticks "$PERFD_PID")"
    g1="$(pg_ticks)"
    if [ "$mode" = on ]; then
      stop_pid "$PERFD_PID"
      PERFD_PID=""
      [ "$STOP_RC" -eq 0 ] || echo "overhead: warning: perfd exited $STOP_RC: $(tail -3 "$TMP/perfd.log")" >&2
    fi
    [ "${errors:-0}" -eq 0 ] || echo "overhead: warning: $errors failed requests in pair $pair ($mode)" >&2
    [ "${late:-0}" -eq 0 ] || echo "overhead: warning: the rate client woke late $late times (pair $pair): latencies suspect" >&2
    ws="$(ticks_to_s "$w0" "$w1")"
    ps="$(ticks_to_s "$p0" "$p1")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pair" "$mode" "$reqs" "$ws" "$ps" \
      "$(awk -v a="$ws" -v b="$ps" 'BEGIN {printf "%.3f", a + b}')" "$(ticks_to_s "$g0" "$g1")" \
      "$p50" "$p99" >>"$RESULTS"
    tail -n 1 "$RESULTS" | awk -F'\t' '{printf "  pair %s perfd %-3s %7d req  worker %.1f us/req  perfd %.2f us/req  postgres %.1f us/req  p50 %s us  p99 %s us\n", $1, $2, $3, $4 / $3 * 1e6, $5 / $3 * 1e6, $7 / $3 * 1e6, $8, $9}' >&2
  done
done
[ -z "${KEEP:-}" ] || cp "$RESULTS" "$TMP/results.kept.tsv"

metrics=("extra CPU per request (us):cost_s:1e6" "worker CPU per request (us):worker_s:1e6"
  "perfd CPU per request (us):perfd_s:1e6")
[ "$ROUTE" = shop ] && metrics+=("PostgreSQL CPU per request (us):pg_s:1e6")
[ "$LOAD" = rate ] && metrics+=("p50 latency (us):p50_us:abs" "p99 latency (us):p99_us:abs")
"$PY" "$REPO/bench/paired_stats.py" "$RESULTS" off on "perfd overhead on $URL ($LOOP, $load_desc)" \
  "${metrics[@]}"
