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
