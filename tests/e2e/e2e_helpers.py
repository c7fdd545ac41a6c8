"""Process, HTTP and polling helpers for the e2e suite (no pytest fixtures here).

Everything runs on loopback or unix sockets in temp dirs. Every process is
started in its own session so teardown can signal its whole group, and its
stdout+stderr go to a log file that conftest prints when a test fails.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

PY = "/usr/bin/python3.11"  # Debian's: has fastapi/uvicorn/asyncpg (pyenv's python3 does not)
E2E_DIR = Path(__file__).resolve().parent
APPS_DIR = E2E_DIR / "apps"
REPO_ROOT = E2E_DIR.parent.parent

# All processes started by the suite, for log dumps on failure.
STARTED: List["Proc"] = []

# perfd traces every uvicorn on the host, including those of another run of
# this suite: service names carry this run's id so runs never see each other.
RUN_ID = os.environ.get("E2E_RUN_ID") or str(os.getpid())


def unique(name: str) -> str:
    return f"{name}-{RUN_ID}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred: Callable[[], object], timeout: float, desc: str,
               interval: float = 0.05):
    """Polls pred() until it returns a truthy value; raises with `desc` at the deadline.
    Other exceptions are retried (and reported at the deadline), except
    AssertionError, which fails at once."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except AssertionError:
            raise  # a definite failure (e.g. the process died): no point waiting
        except Exception as exc:  # noqa: BLE001 - reported at the deadline
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {desc}{detail}")
        time.sleep(interval)


class Proc:
    """A child process in its own session, logging to a file."""

    def __init__(self, name: str, argv: List[str], log_path: Path,
                 env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None):
        self.name, self.argv, self.log_path = name, argv, Path(log_path)
        full_env = dict(os.environ)
        full_env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep the source tree clean
        full_env.update(env or {})
        self.log_file = open(self.log_path, "ab")
        self.log_file.write(f"$ {' '.join(argv)}\n".encode())
        self.log_file.flush()
        self.popen = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=full_env,
                                      cwd=str(cwd) if cwd else None, start_new_session=True)
        self.started_at = time.monotonic()
        self.stopped_at: Optional[float] = None
        self.returncode: Optional[int] = None
        self._final_log: Optional[str] = None
        STARTED.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signals the process (then its group), waits, SIGKILLs stragglers. Returns rc."""
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.popen.wait(timeout=5)
        self.returncode = self.popen.returncode
        # Children the main process left behind (workers, resource trackers...).
        self._kill_group()
        self.log_file.close()
        self._final_log = self.log_text()  # the file may be deleted with its temp dir
        self.stopped_at = time.monotonic()
        return self.returncode

    def _kill_group(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def log_text(self) -> str:
        if self._final_log is not None:
            return self._final_log
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"

    def tail(self, lines: int = 150) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


# ---------------------------------------------------------------- /proc helpers

def children(pid: int) -> List[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def pid_exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


# ---------------------------------------------------------------- HTTP helpers

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 10.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def request(conn: http.client.HTTPConnection, method: str, path: str,
            headers: Optional[Dict[str, str]] = None, body: Optional[bytes] = None
            ) -> Tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, resp.read()


def one_shot(port: int, method: str, path: str, headers: Optional[Dict[str, str]] = None,
             body: Optional[bytes] = None, uds: Optional[str] = None,
             timeout: float = 10.0) -> Tuple[int, bytes]:
    """One request on a fresh connection that is closed right after."""
    conn = (UnixHTTPConnection(uds, timeout=timeout) if uds
            else http.client.HTTPConnection("127.0.0.1", port, timeout=timeout))
    try:
        h = {"Connection": "close"}
        h.update(headers or {})
        return request(conn, method, path, h, body)
    finally:
        conn.close()


def http_get_text(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


# ---------------------------------------------------------------- perfctl

class PerfctlError(RuntimeError):
    def __init__(self, argv, result: subprocess.CompletedProcess):
        super().__init__(f"{' '.join(argv)} exited {result.returncode}\n"
                         f"stdout: {result.stdout.strip()}\nstderr: {result.stderr.strip()}")
        self.result = result


def run_perfctl(perfctl_bin: str, endpoint: str, args: Iterable[str],
                timeout: float = 15.0) -> subprocess.CompletedProcess:
    argv = [perfctl_bin, "--endpoint", endpoint, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def perfctl_json(perfctl_bin: str, endpoint: str, args: Iterable[str]) -> dict:
    argv = [*args, "-o", "json"]
    result = run_perfctl(perfctl_bin, endpoint, argv)
    if result.returncode != 0:
        raise PerfctlError([perfctl_bin, "--endpoint", endpoint, *argv], result)
    return json.loads(result.stdout)


def normalize_route(r: dict) -> dict:
    """Canonical JSON omits zero values and prints uint64 as strings: undo both."""
    return {
        "method": r.get("method", ""),
        "route": r.get("route", ""),
        "requests": int(r.get("requests", 0)),
        "errors": int(r.get("errors", 0)),
        "aborted": int(r.get("aborted", 0)),
        "requests_per_second": float(r.get("requestsPerSecond", 0.0)),
        "p50": float(r.get("p50Seconds", 0.0)),
        "p90": float(r.get("p90Seconds", 0.0)),
        "p99": float(r.get("p99Seconds", 0.0)),
        "max": float(r.get("maxSeconds", 0.0)),
        "in_flight": int(r.get("inFlight", 0)),
        "status_codes": {k: int(v) for k, v in r.get("statusCodes", {}).items()},
        "raw": r,
    }


def format_routes(routes: Dict[Tuple[str, str], dict]) -> str:
    lines = []
    for (method, route), r in sorted(routes.items()):
        lines.append(f"  {method} {route}: requests={r['requests']} errors={r['errors']} "
                     f"aborted={r['aborted']} p50={r['p50']:.4f} p99={r['p99']:.4f} "
                     f"max={r['max']:.4f} in_flight={r['in_flight']} codes={r['status_codes']}")
    return "\n".join(lines) or "  <no routes>"


def prom_samples(text: str) -> List[Tuple[str, Dict[str, str], float]]:
    """[(name, {label: value}, float)] of the sample lines of the Prometheus text
    format (comments skipped; label values keep their escapes)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)', line)
        if not m:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 if none)."""
    return sum(v for n, got, v in prom_samples(text)
               if n == name and all(got.get(k) == want for k, want in labels.items()))


# ---------------------------------------------------------------- load

def deal_paths(counts: Dict[str, int], clients: int) -> List[List[str]]:
    """Exactly counts[path] requests per path, dealt round-robin over `clients`
    lists with the paths interleaved, so every client mixes every route."""
    order: List[str] = []
    left = dict(counts)
    while any(left.values()):
        for path in counts:
            if left[path]:
                order.append(path)
                left[path] -= 1
    return [order[i::clients] for i in range(clients)]


def run_clients(connect: Callable[[], http.client.HTTPConnection],
                plan: List[List[str]], timeout: float = 120.0
                ) -> Dict[str, List[Tuple[int, float]]]:
    """One thread per list in `plan`, each sending its paths in order on one
    keep-alive connection from `connect()`; all start together (a barrier, after
    connecting). Returns {path: [(status, client seconds)]}; a client that fails
    (connection error, timeout) fails the call, after the others finish."""
    results: Dict[str, List[Tuple[int, float]]] = {}
    lock = threading.Lock()
    errors: List[BaseException] = []
    start = threading.Barrier(len(plan))

    def client(paths: List[str]) -> None:
        conn = connect()
        try:
            start.wait()
            for path in paths:
                t0 = time.perf_counter()
                status, _ = request(conn, "GET", path)
                seconds = time.perf_counter() - t0
                with lock:
                    results.setdefault(path, []).append((status, seconds))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            start.abort()
            errors.append(exc)
        finally:
            conn.close()
    threads = [threading.Thread(target=client, args=(paths,), daemon=True) for paths in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), f"load clients still running after {timeout}s"
    if errors:
        raise AssertionError(f"{len(errors)} of {len(plan)} clients failed: {errors!r}")
    return results


def connections_on_each_worker(connect: Callable[[], http.client.HTTPConnection],
                               pids: List[int], per_worker: int, timeout: float = 30.0
                               ) -> List[http.client.HTTPConnection]:
    """per_worker keep-alive connections served by each of `pids` (asked with
    GET /pid). Which worker accepts a new connection is the kernel's choice
    (8 connections all land on one worker now and then), so connections are
    opened until each worker has its share; extra ones are closed."""
    held: Dict[int, List[http.client.HTTPConnection]] = {pid: [] for pid in pids}
    deadline = time.monotonic() + timeout
    while any(len(c) < per_worker for c in held.values()):
        if time.monotonic() >= deadline:
            for conns in held.values():
                for c in conns:
                    c.close()
            raise AssertionError(f"no {per_worker} connections on each of {pids} within "
                                 f"{timeout:.0f}s: got {[len(c) for c in held.values()]}")
        conn = connect()
        status, body = request(conn, "GET", "/pid")
        pid = json.loads(body)["pid"] if status == 200 else None
        if pid in held and len(held[pid]) < per_worker:
            held[pid].append(conn)
        else:
            conn.close()
    return [c for conns in held.values() for c in conns]
