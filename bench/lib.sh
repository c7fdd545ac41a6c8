# Shell helpers shared by the bench scripts (sourced, not run; the script
# sets REPO and BENCH_NAME first).

# The binaries under test and the interpreter the workloads run on.
BUILD="${PERFD_BUILD_DIR:-$REPO/build}"
PERFD="${PERFD_BIN:-$BUILD/daemon/perfd}"
PERFCTL="${PERFCTL_BIN:-$BUILD/cli/perfctl}"
PY=/usr/bin/python3.11

die() {
  echo "${BENCH_NAME:-bench}: $*" >&2
  exit 1
}

require_root_and_perfd() { # every bench loads eBPF through perfd
  [ "$(id -u)" -eq 0 ] || die "needs root (perfd uses eBPF)"
  [ -x "$PERFD" ] || die "no perfd at $PERFD (build first, or set PERFD_BUILD_DIR / PERFD_BIN)"
}

require_tools() { # tool...: each on PATH (scripts/install-deps.sh installs them; taskset is util-linux)
  local t
  for t in "$@"; do command -v "$t" >/dev/null || die "$t missing (scripts/install-deps.sh installs it)"; done
}

STOP_RC=0
stop_pid() { # pid: TERM, wait up to 10 s, then KILL; exit code in STOP_RC
  local pid="$1"
  STOP_RC=0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || STOP_RC=$?
}

free_port() { /usr/bin/python3.11 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

until_ok() { # timeout_s command...
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, clock ticks
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# A throwaway PostgreSQL cluster in $TMP/pg on CPU 0 (fsync off): sets
# PG_PID and PG_PORT; the caller's cleanup runs stop_postgres. $TMP must be
# reachable by the postgres user (chmod 755).
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
PG_PID=""
PG_PORT=""
start_postgres() {
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL missing (scripts/install-deps.sh installs it)"
  mkdir "$TMP/pg"
  chown postgres: "$TMP/pg"
  PG_PORT="$(free_port)"
  setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/initdb" -D "$TMP/pg/data" \
    -A trust -U postgres -E UTF8 --no-sync >"$TMP/initdb.log" 2>&1 || die "initdb: $(tail -3 "$TMP/initdb.log")"
  taskset -c 0 setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/postgres" \
    -D "$TMP/pg/data" -k "$TMP/pg" -h 127.0.0.1 -p "$PG_PORT" -c fsync=off -c synchronous_commit=off \
    >"$TMP/postgres.log" 2>&1 &
  PG_PID=$!
  until_ok 30 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres ||
    die "postgres did not start: $(tail -5 "$TMP/postgres.log")"
}
stop_postgres() { # fast shutdown (SIGINT), waited for
  [ -n "$PG_PID" ] && kill -INT "$PG_PID" 2>/dev/null && wait "$PG_PID" 2>/dev/null || true
  PG_PID=""
}
pg_ticks() { # CPU of the cluster: live backends, plus the postmaster's own and its reaped children's
  [ -n "$PG_PID" ] || { echo 0; return; }
  local t p
  t="$(awk '{print $14 + $15 + $16 + $17}' "/proc/$PG_PID/stat")"
  for p in $(pgrep -P "$PG_PID"); do t=$((t + $(cpu_ticks "$p" 2>/dev/null || echo 0))); done
  echo "$t"
}
ticks_to_s() { awk -v a="$1" -v b="$2" -v t="$(getconf CLK_TCK)" 'BEGIN {printf "%.3f", (b - a) / t}'; }

pair_order() { # pair a b: "a b" in odd pairs, "b a" in even ones, so drift cancels
  if [ $(($1 % 2)) -eq 0 ]; then echo "$3 $2"; else echo "$2 $3"; fi
}
