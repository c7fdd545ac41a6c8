#!/usr/bin/env bash
# perfd's "main job" demo: a FastAPI shop on PostgreSQL under light load, traced
# by perfd, shown live by `perfctl top`. Ctrl-C stops and removes everything.
#
#   scripts/demo.sh
#
# Everything is throwaway and on loopback: a PostgreSQL cluster in a temp dir,
# the shop (uvicorn, 2 workers) on a free port, load.py, perfd with a temp
# config and its gRPC socket in the temp dir. Safe to run again at any time:
# leftovers of an earlier run that was killed hard are cleaned up first.
#
# Knobs (environment):
#   PERFD_BUILD_DIR     build dir (default: <repo>/build)
#   SHOP_WORKERS        uvicorn workers (default 2)
#   LOAD_RATE           requests/s from load.py (default 20)
#   DEMO_SKIP_INSTALL=1 do not run scripts/install-deps.sh
#   DEMO_SKIP_BUILD=1   use the existing build as is
#   DEMO_WITHOUT_PERFD=1  no build, no perfd: just the shop + load (for poking at the shop)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${PERFD_BUILD_DIR:-$REPO/build}"
PY=/usr/bin/python3.11 # Debian's python: fastapi/uvicorn/asyncpg live there
PGBIN=/usr/lib/postgresql/15/bin
SHOP_WORKERS="${SHOP_WORKERS:-2}"
LOAD_RATE="${LOAD_RATE:-20}"
TMP_PREFIX=/tmp/perfd-demo.

log() { printf '\033[1mdemo:\033[0m %s\n' "$*" >&2; }
die() {
  printf '\033[1;31mdemo: %s\033[0m\n' "$*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "perfd needs root (eBPF): run as root, e.g. sudo $0"

# --- leftovers of earlier runs killed before their cleanup could run --------
# Each run records its own pid and its children's pids in its temp dir.
stop_run_dir() {
  local dir="$1" pid
  if [ -f "$dir/pg/data/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/pg/data" stop -m fast -w -t 10 >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/pids" ]; then
    while read -r pid; do
      # Only signal a pid that still belongs to this run (pids get reused).
      if [ -n "$pid" ] && grep -qa -- "$dir\|shop.main:app\|load.py" "/proc/$pid/cmdline" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
      fi
    done <"$dir/pids"
    sleep 1
    while read -r pid; do
      if [ -n "$pid" ] && grep -qa -- "$dir\|shop.main:app\|load.py" "/proc/$pid/cmdline" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$dir/pids"
  fi
  rm -rf "$dir"
}
for old in "$TMP_PREFIX"*; do
  [ -d "$old" ] || continue
  owner="$(cat "$old/demo.pid" 2>/dev/null || true)"
  if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then
    die "another demo is running (pid $owner, dir $old); stop it first"
  fi
  log "removing leftovers of an earlier run: $old"
  stop_run_dir "$old"
done

# --- cleanup of this run: on Ctrl-C, kill, error or normal exit -------------
TMP=""
cleanup() {
  local rc=$?
  # Ignore (not reset) INT/TERM: a second Ctrl-C, or timeout(1) signalling
  # both this shell and its process group, must not cut the cleanup short.
  trap '' INT TERM
  trap - EXIT
  if [ -n "$TMP" ] && [ -d "$TMP" ]; then
    log "stopping perfd, load, shop and postgres; removing $TMP"
    # Reverse order of start: perfctl, perfd (so it sees its tracees exit), load, shop.
    local pid
    for pid in ${PERFCTL_PID:-} ${PERFD_PID:-} ${LOAD_PID:-} ${SHOP_PID:-}; do
      kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in ${PERFCTL_PID:-} ${PERFD_PID:-} ${LOAD_PID:-} ${SHOP_PID:-}; do
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    done
    stop_run_dir "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for DESCRIPTION TIMEOUT_S PID COMMAND...: polls COMMAND until it succeeds;
# fails early if PID (the process being waited for) died.
wait_for() {
  local what="$1" timeout="$2" pid="$3"
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if [ "$SECONDS" -ge "$deadline" ]; then return 1; fi
    sleep 0.2
  done
  log "$what is up"
}

# --- dependencies and build --------------------------------------------------
if [ -z "${DEMO_SKIP_INSTALL:-}" ]; then
  log "checking dependencies (scripts/install-deps.sh)"
  "$REPO/scripts/install-deps.sh" || die "scripts/install-deps.sh failed"
fi
if [ -z "${DEMO_WITHOUT_PERFD:-}" ]; then
  if [ -z "${DEMO_SKIP_BUILD:-}" ]; then
    log "building perfd in $BUILD (cmake, -j2)"
    if ! { cmake -S "$REPO" -B "$BUILD" >"/tmp/perfd-demo-build.log" 2>&1 &&
      cmake --build "$BUILD" -j2 --target perfd perfctl >>"/tmp/perfd-demo-build.log" 2>&1; }; then
      tail -n 40 /tmp/perfd-demo-build.log >&2
      die "BUILD FAILED (full log: /tmp/perfd-demo-build.log); nothing was started"
    fi
  fi
  PERFD="$BUILD/daemon/perfd"
  PERFCTL="$BUILD/cli/perfctl"
  [ -x "$PERFD" ] || die "no perfd binary at $PERFD (did the build produce it?)"
  [ -x "$PERFCTL" ] || die "no perfctl binary at $PERFCTL (did the build produce it?)"
fi

TMP="$(mktemp -d "${TMP_PREFIX}XXXXXX")"
chmod 755 "$TMP"
echo $$ >"$TMP/demo.pid"
log "temp dir: $TMP"

# --- PostgreSQL (refuses to run as root: initdb and the server run as postgres)
PG_PORT="$(free_port)"
mkdir -p "$TMP/pg"
chown postgres: "$TMP/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$TMP/pg/data" -A trust -U postgres -E UTF8 --no-sync \
  >"$TMP/initdb.log" 2>&1 || {
  cat "$TMP/initdb.log" >&2
  die "initdb failed"
}
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/postgres.log" -w -t 30 \
  -o "-h 127.0.0.1 -p $PG_PORT -k $TMP/pg -c fsync=off" start >/dev/null ||
  {
    tail -n 20 "$TMP/pg/postgres.log" >&2
    die "postgres did not start"
  }
log "postgres is up on 127.0.0.1:$PG_PORT"

# --- the shop -------------------------------------------------------------------
SHOP_PORT="$(free_port)"
SHOP_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres" PYTHONDONTWRITEBYTECODE=1 \
  "$PY" -m uvicorn shop.main:app --app-dir "$REPO/examples/shop" --host 127.0.0.1 \
  --port "$SHOP_PORT" --workers "$SHOP_WORKERS" --no-access-log >"$TMP/shop.log" 2>&1 &
SHOP_PID=$!
echo "$SHOP_PID" >>"$TMP/pids"
wait_for "shop (http://127.0.0.1:$SHOP_PORT, $SHOP_WORKERS workers)" 60 "$SHOP_PID" \
  curl -fsS "http://127.0.0.1:$SHOP_PORT/health" || {
  tail -n 30 "$TMP/shop.log" >&2
  die "the shop did not start"
}

# --- load -----------------------------------------------------------------------
PYTHONDONTWRITEBYTECODE=1 "$PY" "$REPO/examples/shop/load.py" --url "http://127.0.0.1:$SHOP_PORT" \
  --rate "$LOAD_RATE" >"$TMP/load.log" 2>&1 &
LOAD_PID=$!
echo "$LOAD_PID" >>"$TMP/pids"
log "load.py running at ~$LOAD_RATE req/s (log: $TMP/load.log)"

if [ -n "${DEMO_WITHOUT_PERFD:-}" ]; then
  log "DEMO_WITHOUT_PERFD: no perfd; following load.py's summaries (Ctrl-C to stop)"
  tail -f "$TMP/load.log" &
  echo $! >>"$TMP/pids"
  wait "$LOAD_PID"
  exit 0
fi

# --- perfd --------------------------------------------------------------------
METRICS_PORT="$(free_port)"
cat >"$TMP/perfd.yaml" <<EOF
listen:
  metrics: "127.0.0.1:$METRICS_PORT"
  grpc_socket: "$TMP/perfd.sock"
discovery:
  scan_interval_ms: 500
routes:
  openapi: true
  max_per_service: 100
http:
  response_idle_timeout_ms: 1000
EOF
"$PERFD" --config "$TMP/perfd.yaml" >"$TMP/perfd.log" 2>&1 &
PERFD_PID=$!
echo "$PERFD_PID" >>"$TMP/pids"
wait_for "perfd (metrics: http://127.0.0.1:$METRICS_PORT/metrics)" 30 "$PERFD_PID" \
  "$PERFCTL" --endpoint "unix://$TMP/perfd.sock" services || {
  tail -n 30 "$TMP/perfd.log" >&2
  die "perfd did not come up (log above, config $TMP/perfd.yaml)"
}
wait_for "service 'shop' in perfd" 30 "$PERFD_PID" \
  "$PERFCTL" --endpoint "unix://$TMP/perfd.sock" top --service shop --once || {
  "$PERFCTL" --endpoint "unix://$TMP/perfd.sock" services >&2 || true
  tail -n 30 "$TMP/perfd.log" >&2
  die "perfd does not list the shop"
}

log "perfctl top --service shop (Ctrl-C stops everything)"
# In the background + `wait`, so a TERM/INT sent to this script alone (not to
# the terminal's whole process group) still runs the cleanup at once; <&0 keeps
# the terminal as perfctl's stdin (background jobs would get /dev/null).
"$PERFCTL" --endpoint "unix://$TMP/perfd.sock" top --service shop <&0 &
PERFCTL_PID=$!
echo "$PERFCTL_PID" >>"$TMP/pids"
wait "$PERFCTL_PID"
