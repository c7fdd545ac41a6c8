"""Fixtures for perfd's end-to-end tests: real perfd, uvicorn/gunicorn, PostgreSQL
(plain and TLS), redis-server and Prometheus, all on loopback, in temp dirs,
always torn down.

Binaries come from PERFD_BIN / PERFCTL_BIN (ctest sets them), else from
$PERFD_BUILD_DIR (default <repo>/build)/{daemon/perfd,cli/perfctl}.
Logs of every process go to files under one session dir; a failing test gets
the tail of each relevant log in its report, and the dir is kept (path printed)
when anything failed.
"""
import http.client
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from e2e_helpers import (APPS_DIR, PY, REPO_ROOT, STARTED, PerfctlError, Proc, children,
                         cmdline, format_routes, free_port, http_get_text, normalize_route,
                         one_shot, perfctl_json, run_perfctl, wait_until, UnixHTTPConnection)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PROMETHEUS_BIN = "/usr/bin/prometheus"

# How long perfd may take to pick things up before a test gives up. Generous
# for a loaded 2-core CI box, short enough that a broken perfd fails in minutes.
DISCOVERY_TIMEOUT = 20.0
COUNT_TIMEOUT = 20.0
# After a count reaches its target, keep watching this long for over-counting
# (> http.response_idle_timeout_ms, so idle keep-alive responses are flushed).
SETTLE_SECONDS = 0.8
# How long app launches spend as `sh` before exec'ing the server: several
# perfd scans (scan_interval_ms 100) see the sh, see App below.
SH_STAGE_SECONDS = 0.3

_session_failed = False


# ---------------------------------------------------------------- logs on failure

def pytest_runtest_setup(item):
    item.e2e_started = time.monotonic()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    global _session_failed
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    _session_failed = True
    started = getattr(item, "e2e_started", 0.0)
    for p in STARTED:
        if p.stopped_at is None or p.stopped_at >= started:
            rc = "" if p.returncode is None else f", exited {p.returncode}"
            rep.sections.append((f"log of {p.name} (pid {p.pid}{rc}): {p.log_path}", p.tail()))


@pytest.fixture(scope="session")
def session_dir():
    d = Path(tempfile.mkdtemp(prefix="perfd-e2e-"))
    yield d
    for p in list(STARTED):
        if p.stopped_at is None:
            p.stop(timeout=5)
    if _session_failed or os.environ.get("E2E_KEEP"):
        print(f"\ne2e: logs and temp files kept in {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def module_dir(session_dir, request):
    d = session_dir / request.module.__name__
    d.mkdir(exist_ok=True)
    return d


# ---------------------------------------------------------------- binaries

def _binary(env_name: str, rel: str) -> Tuple[str, bool]:
    explicit = os.environ.get(env_name)
    if explicit:
        return explicit, True
    build = Path(os.environ.get("PERFD_BUILD_DIR", str(REPO_ROOT / "build")))
    return str(build / rel), False


@pytest.fixture(scope="session")
def bins() -> Dict[str, str]:
    if os.geteuid() != 0:
        pytest.skip("perfd e2e tests need root (eBPF)")
    out = {}
    for key, env_name, rel in (("perfd", "PERFD_BIN", "daemon/perfd"),
                               ("perfctl", "PERFCTL_BIN", "cli/perfctl")):
        path, explicit = _binary(env_name, rel)
        if not os.access(path, os.X_OK):
            msg = f"{key} binary not found at {path}"
            if explicit:
                pytest.fail(msg)
            pytest.skip(msg + f" (set {env_name} or PERFD_BUILD_DIR)")
        out[key] = path
    return out


# ---------------------------------------------------------------- perfd

def to_yaml(value, indent: int = 0) -> str:
    """Tiny YAML emitter for the config shapes we write (dicts, lists, scalars).
    Strings are double-quoted JSON strings, which YAML reads identically."""
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:\n{to_yaml(v, indent + 1)}")
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for v in value:
            if isinstance(v, dict) and v:
                body = to_yaml(v, indent + 1).lstrip()
                lines.append(f"{pad}- {body}")
            else:
                lines.append(f"{pad}- {_scalar(v)}")
        return "\n".join(lines)
    return pad + _scalar(value)


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return json.dumps(str(v))


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


class Perfd:
    def __init__(self, bins: Dict[str, str], workdir: Path, extra_config: dict,
                 args: List[str], wrapper: Optional[List[str]] = None):
        self.perfctl_bin = bins["perfctl"]
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.socket = workdir / "perfd.sock"
        self.metrics_port = free_port()
        self.config = deep_merge({
            "listen": {"metrics": f"127.0.0.1:{self.metrics_port}",
                       "grpc_socket": str(self.socket)},
            "discovery": {"scan_interval_ms": 100},
            "routes": {"openapi": True, "max_per_service": 100},
            "http": {"response_idle_timeout_ms": 200},
        }, extra_config)
        self.config_path = workdir / "perfd.yaml"
        self.config_path.write_text(to_yaml(self.config) + "\n")
        # wrapper: a command that execs perfd (e.g. prlimit), so proc.pid is perfd's.
        self.proc = Proc("perfd", [*(wrapper or []), bins["perfd"], "--config",
                                   str(self.config_path), *args],
                         workdir / "perfd.log")
        try:
            wait_until(self._ready, DISCOVERY_TIMEOUT, "perfd's gRPC socket and /metrics",
                       interval=0.1)
        except Exception:
            self.stop()
            raise

    def _ready(self) -> bool:
        if not self.proc.alive():
            raise AssertionError(f"perfd exited with {self.proc.popen.returncode} during startup:"
                               f"\n{self.proc.tail(40)}")
        if not self.socket.exists():
            return False
        if run_perfctl(self.perfctl_bin, self.endpoint, ["services", "-o", "json"]).returncode:
            return False
        return "perfd_" in self.metrics_text()

    def check_alive(self) -> None:
        """Fails fast (instead of at a poll deadline) when perfd has died."""
        if not self.proc.alive():
            raise AssertionError(f"perfd died (exit {self.proc.popen.returncode}); log tail:\n"
                                 f"{self.proc.tail(60)}")

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def metrics_text(self) -> str:
        return http_get_text(self.metrics_url)

    def perfctl(self, *args: str, timeout: float = 15.0) -> subprocess.CompletedProcess:
        return run_perfctl(self.perfctl_bin, self.endpoint, args, timeout=timeout)

    def services(self) -> Dict[str, List[int]]:
        doc = perfctl_json(self.perfctl_bin, self.endpoint, ["services"])
        return {s.get("name", ""): sorted(int(w.get("pid", 0)) for w in s.get("workers", []))
                for s in doc.get("services", [])}

    def top_raw(self, service: str, window: int = 60) -> dict:
        return perfctl_json(self.perfctl_bin, self.endpoint,
                            ["top", "--service", service, "--window", str(window), "--once"])

    def top(self, service: str, window: int = 60) -> Dict[Tuple[str, str], dict]:
        doc = self.top_raw(service, window)
        routes = {}
        for r in doc.get("routes", []):
            n = normalize_route(r)
            key = (n["method"], n["route"])
            assert key not in routes, f"route {key} listed twice: {doc}"
            routes[key] = n
        return routes

    def wait_workers(self, service: str, pids: List[int],
                     timeout: float = DISCOVERY_TIMEOUT) -> None:
        want = sorted(pids)
        seen = {}

        def ok():
            self.check_alive()
            seen.update(services=self.services())
            return seen["services"].get(service) == want
        try:
            wait_until(ok, timeout, f"perfd to list service {service!r} with pids {want}",
                       interval=0.1)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; perfd lists {seen.get('services')}") from None

    def warm_up(self, app: "App", timeout: float = DISCOVERY_TIMEOUT) -> None:
        """Drives /warmup/{n} until perfd reports it under that template."""
        self.wait_workers(app.service, app.worker_pids())
        counter = [0]

        def traced():
            self.check_alive()
            counter[0] += 1
            app.get(f"/warmup/{counter[0]}")
            for _ in range(5):
                try:
                    r = self.top(app.service).get(("GET", "/warmup/{n}"))
                except PerfctlError:
                    r = None
                if r and r["requests"] >= 1:
                    return True
                time.sleep(0.1)
            return False
        try:
            wait_until(traced, timeout, f"perfd to report GET /warmup/{{n}} for {app.service}")
        except TimeoutError as exc:
            try:
                table = format_routes(self.top(app.service))
            except PerfctlError as e:
                table = str(e)
            raise AssertionError(f"{exc}; perfd top shows:\n{table}") from None

    def wait_count(self, service: str, method: str, route: str, expected: int,
                   timeout: float = COUNT_TIMEOUT) -> Dict[Tuple[str, str], dict]:
        """Polls until (method, route) has >= expected requests and stays put for
        SETTLE_SECONDS (so over-counting is caught), or until the deadline.
        Returns the whole route table for the caller's exact assertions."""
        deadline = time.monotonic() + timeout
        reached = None
        routes: Dict[Tuple[str, str], dict] = {}
        while True:
            self.check_alive()
            try:
                routes = self.top(service)
            except PerfctlError:
                routes = {}
            r = routes.get((method, route))
            n = r["requests"] if r else 0
            now = time.monotonic()
            if n >= expected:
                reached = reached or now
                if now - reached >= SETTLE_SECONDS:
                    return routes
            if now >= deadline:
                return routes
            time.sleep(0.1)

    def stop(self) -> int:
        return self.proc.stop(signal.SIGTERM, timeout=10)


def route_of(routes: Dict[Tuple[str, str], dict], method: str, route: str) -> dict:
    r = routes.get((method, route))
    assert r is not None, f"{method} {route} not reported; perfd top shows:\n{format_routes(routes)}"
    return r


@pytest.fixture(scope="module")
def perfd_config() -> dict:
    """Extra config merged over the defaults; a test module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def perfd_args() -> List[str]:
    return []


@pytest.fixture(scope="module")
def perfd_wrapper() -> List[str]:
    """argv prefix that execs perfd (e.g. ["prlimit", "--nofile=1024:1024"]); a module
    overrides this fixture."""
    return []


@pytest.fixture(scope="module")
def perfd(bins, module_dir, perfd_config, perfd_args, perfd_wrapper):
    d = Perfd(bins, module_dir / "perfd", perfd_config, perfd_args, perfd_wrapper)
    yield d
    rc = d.stop()
    assert rc == 0, f"perfd exited {rc} on SIGTERM (want 0); log tail:\n{d.proc.tail(60)}"


# ---------------------------------------------------------------- apps

class App:
    """A FastAPI app from tests/e2e/apps under uvicorn (1 or N workers) or gunicorn."""

    def __init__(self, workdir: Path, spec: str, service: Optional[str], server: str = "uvicorn",
                 workers: int = 0, uds: bool = False, env: Optional[Dict[str, str]] = None,
                 extra_args: Optional[List[str]] = None, exec_after: Optional[float] = None,
                 python: str = PY):
        self.spec, self.server, self.workers = spec, server, workers
        self.service = service
        self.uds = str(workdir / f"{spec.split(':')[0]}-{free_port()}.sock") if uds else None
        self.port = None if uds else free_port()
        env = dict(env or {})
        if service:
            env["PERFD_SERVICE"] = service
        if server == "uvicorn":
            argv = [python, "-m", "uvicorn", spec, "--app-dir", str(APPS_DIR)]
            argv += ["--uds", self.uds] if uds else ["--host", "127.0.0.1", "--port", str(self.port)]
            if workers:
                argv += ["--workers", str(workers)]
        elif server == "gunicorn":
            assert not uds and workers
            argv = [PY, "-m", "gunicorn", "-k", "uvicorn.workers.UvicornWorker",
                    "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--chdir", str(APPS_DIR),
                    "--graceful-timeout", "5", spec]
        else:
            raise ValueError(server)
        argv += extra_args or []
        if exec_after is not None:  # a Python launcher that execs the server later
            argv = [PY, str(APPS_DIR / "exec_after.py"), str(exec_after), *argv]
        else:
            # Through a short-lived sh, so the pid's comm changes at the exec
            # into python3.11 ("sh" -> "python3.11") and perfd re-reads it
            # even when a scan landed between fork and exec, when the child is
            # a copy of pytest with pytest's comm. That perfd blind spot is
            # pinned down on its own by
            # test_workers.py::test_worker_execed_by_python_launcher_is_discovered.
            argv = ["/bin/sh", "-c", f'sleep {SH_STAGE_SECONDS}; exec "$@"', "sh", *argv]
        name = f"{server}[{spec}]"
        self.proc = Proc(name, argv, workdir / f"{server}-{spec.split(':')[0]}-{free_port()}.log",
                         env=env, cwd=REPO_ROOT)
        try:
            wait_until(self._ready, 30, f"{name} to start {max(workers, 1)} worker(s)", 0.1)
        except Exception:
            self.stop()
            raise

    def _ready(self) -> bool:
        if not self.proc.alive():
            raise AssertionError(f"{self.proc.name} exited {self.proc.popen.returncode}:\n"
                               f"{self.proc.tail(40)}")
        started = self.proc.log_text().count("Application startup complete.")
        if started < max(self.workers, 1) or len(self.worker_pids()) != max(self.workers, 1):
            return False
        return self.get("/health")[0] == 200

    def worker_pids(self) -> List[int]:
        """The processes that serve requests (never the supervisor/master)."""
        if not self.workers:
            return [self.proc.pid]
        kids = children(self.proc.pid)
        if self.server == "uvicorn":  # multiprocessing spawn; skip its resource tracker
            kids = [k for k in kids if "spawn_main" in cmdline(k)]
        return sorted(kids)

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        """A keep-alive connection (caller closes it)."""
        if self.uds:
            return UnixHTTPConnection(self.uds, timeout=timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path: str, headers: Optional[Dict[str, str]] = None) -> Tuple[int, bytes]:
        return one_shot(self.port, "GET", path, headers=headers, uds=self.uds)

    def stop(self) -> int:
        return self.proc.stop(signal.SIGTERM, timeout=15)


class AppLauncher:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.apps: List[App] = []

    def __call__(self, spec: str, service: Optional[str], **kw) -> App:
        app = App(self.workdir, spec, service, **kw)
        self.apps.append(app)
        return app

    def stop_all(self) -> None:
        for app in reversed(self.apps):
            app.stop()


@pytest.fixture(scope="module")
def launch(module_dir):
    """Module-scoped app launcher: launch("latency_app:app", "svc-name", workers=2, ...)."""
    launcher = AppLauncher(module_dir)
    yield launcher
    launcher.stop_all()


@pytest.fixture
def launch_fn(module_dir):
    """Function-scoped app launcher (apps stop at the end of the test)."""
    launcher = AppLauncher(module_dir)
    yield launcher
    launcher.stop_all()


# ---------------------------------------------------------------- PostgreSQL

class Postgres:
    """A throwaway cluster: initdb as user postgres, loopback TCP + socket in its dir.

    ssl=True: a self-signed certificate made here, `ssl=on`, and pg_hba refusing
    TCP without TLS, so a client of `.dsn` (sslmode=require) is encrypted for sure
    and a plaintext client fails loudly instead of being measured by mistake."""

    def __init__(self, ssl: bool = False):
        self.ssl = ssl
        pw = pwd.getpwnam("postgres")
        self.dir = Path(tempfile.mkdtemp(prefix="perfd-e2e-pg-"))
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = self.dir / "data"
        self.port = free_port()
        init = subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--no-sync"],
            user="postgres", group="postgres", capture_output=True, text=True, cwd=self.dir)
        if init.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {init.stdout}\n{init.stderr}")
        options = []
        if ssl:
            self._make_certificate(pw)
            options += ["-c", "ssl=on"]
        self.proc = Proc("postgres-tls" if ssl else "postgres", [
            "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups",
            str(PG_BIN / "postgres"), "-D", str(self.data), "-k", str(self.dir),
            "-h", "127.0.0.1", "-p", str(self.port), "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off", *options,
        ], self.dir / "postgres.log", cwd=self.dir)
        try:
            wait_until(self._ready, 30, "postgres to accept connections", 0.1)
        except Exception:
            self.stop()
            raise

    def _make_certificate(self, pw: pwd.struct_passwd) -> None:
        """server.crt/server.key in the data dir (PostgreSQL's default names); the
        server refuses a key readable by others or not owned by its user."""
        key, crt = self.data / "server.key", self.data / "server.crt"
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", str(key),
                            "-out", str(crt)], capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"openssl req failed: {r.stderr}")
        for f in (key, crt):
            os.chown(f, pw.pw_uid, pw.pw_gid)
        os.chmod(key, 0o600)
        # Unix socket (psql by hand, pg_isready) stays open; TCP only over TLS.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 trust\n"
            "hostnossl all all 127.0.0.1/32 reject\n")

    def _ready(self) -> bool:
        if not self.proc.alive():
            raise AssertionError(f"postgres exited:\n{self.proc.tail(40)}")
        if "ready to accept connections" not in self.proc.log_text():
            return False
        r = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", "postgres", "-d", "postgres"],
                           capture_output=True)
        return r.returncode == 0

    @property
    def dsn(self) -> str:
        base = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return base + "?sslmode=require" if self.ssl else base

    def psql(self, sql: str) -> str:
        """One statement through psql over the unix socket (unaligned, no headers)."""
        r = subprocess.run([str(PG_BIN / "psql"), "-h", str(self.dir), "-p", str(self.port),
                            "-U", "postgres", "-d", "postgres", "-XAtq", "-v", "ON_ERROR_STOP=1",
                            "-c", sql], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"psql {sql!r} failed: {r.stderr}"
        return r.stdout.strip()

    def stop(self) -> None:
        self.proc.stop(signal.SIGINT, timeout=15)  # SIGINT = fast shutdown
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    pg = Postgres()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def postgres_tls():
    """A second cluster that speaks TCP only over TLS (self-signed certificate)."""
    pg = Postgres(ssl=True)
    yield pg
    pg.stop()


# ---------------------------------------------------------------- Redis

class Redis:
    """A throwaway redis-server on loopback: no persistence, its own dir."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="perfd-e2e-redis-"))
        self.port = free_port()
        self.proc = Proc("redis-server", [
            "redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.dir), "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--logfile", "",
        ], self.dir / "redis.log", cwd=self.dir)
        try:
            wait_until(self._ready, 30, "redis-server to answer PING", 0.1)
        except Exception:
            self.stop()
            raise

    def _ready(self) -> bool:
        if not self.proc.alive():
            raise AssertionError(f"redis-server exited:\n{self.proc.tail(40)}")
        if "Ready to accept connections" not in self.proc.log_text():
            return False
        return self.cli("PING") == "PONG"

    def cli(self, *args: str) -> str:
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *args],
                           capture_output=True, text=True, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else ""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.stop(signal.SIGTERM, timeout=15)  # --save "": nothing written on exit
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis():
    r = Redis()
    yield r
    r.stop()


# ---------------------------------------------------------------- Prometheus

class Prometheus:
    def __init__(self, workdir: Path, targets: List[str]):
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        cfg = workdir / "prometheus.yml"
        cfg.write_text(to_yaml({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "perfd",
                                "static_configs": [{"targets": targets}]}],
        }) + "\n")
        self.proc = Proc("prometheus", [
            PROMETHEUS_BIN, f"--config.file={cfg}", f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ], workdir / "prometheus.log")
        try:
            wait_until(self._ready, 30, "prometheus /-/ready", 0.2)
        except Exception:
            self.stop()
            raise

    def _ready(self) -> bool:
        if not self.proc.alive():
            raise AssertionError(f"prometheus exited:\n{self.proc.tail(40)}")
        return "Ready" in http_get_text(f"{self.url}/-/ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **params) -> dict:
        q = urllib.parse.urlencode(params)
        doc = json.loads(http_get_text(f"{self.url}/api/v1/{path}?{q}"))
        assert doc.get("status") == "success", doc
        return doc["data"]

    def query(self, expr: str) -> list:
        return self.api("query", query=expr)["result"]

    def stop(self) -> int:
        return self.proc.stop(signal.SIGTERM, timeout=15)


@pytest.fixture(scope="module")
def prometheus_factory(module_dir):
    started: List[Prometheus] = []

    def make(targets: List[str]) -> Prometheus:
        p = Prometheus(module_dir / f"prometheus-{len(started)}", targets)
        started.append(p)
        return p
    yield make
    for p in started:
        p.stop()
