"""A worker's pid reused by a new worker within one discovery scan (issue 9,
finding 6): perfd must end the old worker's life before it starts the new
one's, since the kernel side traces by pid. The new worker is traced and
counted exactly, the old one's completed requests are kept under its service.

The reuse is real: the old worker is killed and the new one forked onto the
same pid through /proc/sys/kernel/ns_last_pid. "Within one scan" is made
certain, not likely: perfd is stopped (SIGSTOP) from before the kill until the
new process has exec'd into uvicorn, so its next scan sees the pid's old
identity gone and the new one present at once, whatever the scan interval.
"""
import os
import signal
from pathlib import Path

import pytest

from conftest import route_of
from e2e_helpers import (APPS_DIR, PY, REPO_ROOT, Proc, cmdline, format_routes, free_port,
                         one_shot, unique, wait_until)

OLD_SERVICE = unique("e2e-pid-reuse-old")
NEW_SERVICE = unique("e2e-pid-reuse-new")
NS_LAST_PID = Path("/proc/sys/kernel/ns_last_pid")
OLD_REQUESTS = 25
NEW_REQUESTS = 40
# Forks on a busy host can take the pid between our write and our fork.
SPAWN_ATTEMPTS = 200


class PinnedApp:
    """latency_app under plain uvicorn, forked onto a chosen pid. Quacks like
    conftest's App where Perfd.warm_up needs it (service, worker_pids, get)."""

    def __init__(self, workdir: Path, service: str, pid: int):
        self.service, self.port = service, free_port()
        argv = [PY, "-m", "uvicorn", "latency_app:app", "--app-dir", str(APPS_DIR),
                "--host", "127.0.0.1", "--port", str(self.port)]
        env = {"PERFD_SERVICE": service}
        for attempt in range(SPAWN_ATTEMPTS):
            if os.path.exists(f"/proc/{pid}"):
                pytest.fail(f"pid {pid} was taken by another process before the new worker")
            NS_LAST_PID.write_text(str(pid - 1))
            proc = Proc(f"uvicorn[pinned {pid}]", argv,
                        workdir / f"pinned-{pid}-{attempt}.log", env=env, cwd=REPO_ROOT)
            if proc.pid == pid:
                self.proc = proc
                return
            proc.stop(signal.SIGKILL, timeout=5)
        pytest.fail(f"could not fork onto pid {pid} in {SPAWN_ATTEMPTS} attempts")

    def worker_pids(self):
        return [self.proc.pid]

    def get(self, path: str):
        return one_shot(self.port, "GET", path)

    def ready(self) -> bool:
        if not self.proc.alive():
            raise AssertionError(f"pinned uvicorn exited:\n{self.proc.tail(40)}")
        if "Application startup complete." not in self.proc.log_text():
            return False
        return self.get("/health")[0] == 200

    def stop(self) -> int:
        return self.proc.stop(signal.SIGTERM, timeout=15)


@pytest.fixture
def pinned():
    apps = []
    yield apps
    for app in apps:
        app.stop()


def drive(app, n: int) -> None:
    for i in range(n):
        status, _ = app.get(f"/items/{i}")
        assert status == 200, status


def test_pid_reused_within_one_scan(perfd, launch, module_dir, pinned):
    old = launch("latency_app:app", OLD_SERVICE)
    pid = old.proc.pid
    perfd.warm_up(old)
    drive(old, OLD_REQUESTS)
    routes = perfd.wait_count(OLD_SERVICE, "GET", "/items/{item_id}", OLD_REQUESTS)
    assert route_of(routes, "GET", "/items/{item_id}")["requests"] == OLD_REQUESTS, \
        format_routes(routes)

    perfd_pid = perfd.proc.pid
    os.kill(perfd_pid, signal.SIGSTOP)
    try:
        old.proc.stop(signal.SIGKILL, timeout=10)  # killed and reaped: the pid is free
        new = PinnedApp(module_dir, NEW_SERVICE, pid)
        pinned.append(new)
        # Past the exec: perfd's next scan must see a uvicorn worker on the pid,
        # not a copy of pytest between fork and exec.
        wait_until(lambda: "uvicorn" in cmdline(pid), 10, f"pid {pid} to exec uvicorn", 0.01)
    finally:
        os.kill(perfd_pid, signal.SIGCONT)
    print(f"pid {pid} reused: {OLD_SERVICE} -> {NEW_SERVICE} while perfd was stopped")

    wait_until(new.ready, 30, "the new worker to serve", 0.1)
    perfd.check_alive()
    # The new worker is listed AND traced (warm_up drives requests until perfd
    # reports them), then counted exactly.
    perfd.warm_up(new)
    drive(new, NEW_REQUESTS)
    routes = perfd.wait_count(NEW_SERVICE, "GET", "/items/{item_id}", NEW_REQUESTS)
    assert route_of(routes, "GET", "/items/{item_id}")["requests"] == NEW_REQUESTS, \
        format_routes(routes)

    # The old worker: no longer listed, its completed requests kept as they
    # were (none of the new worker's landed under it).
    services = perfd.services()
    assert services.get(OLD_SERVICE) == [], services
    assert services.get(NEW_SERVICE) == [pid], services
    routes = perfd.top(OLD_SERVICE, window=600)
    r = route_of(routes, "GET", "/items/{item_id}")
    assert r["requests"] == OLD_REQUESTS and r["aborted"] == 0, format_routes(routes)
    perfd.check_alive()
