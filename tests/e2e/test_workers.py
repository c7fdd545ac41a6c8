"""e) uvicorn --workers 2, f) gunicorn + UvicornWorker, g) a worker killed -9."""
import json
import os
import signal
import threading
import time

from conftest import route_of
from e2e_helpers import children, format_routes, one_shot, unique

UVICORN_SERVICE = unique("e2e-uvicorn-workers")
GUNICORN_SERVICE = unique("e2e-gunicorn")
RESTART_SERVICE = unique("e2e-gunicorn-restart")
EXEC_SERVICE = unique("e2e-exec-launcher")


def drive_new_connections(app, path: str, total: int, threads: int = 4):
    """`total` requests, each on a new connection, from parallel threads.
    Returns {pid: count} of which worker answered."""
    served, lock, errors = {}, threading.Lock(), []
    per_thread = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]

    def run(n):
        for _ in range(n):
            try:
                status, body = one_shot(app.port, "GET", path)
                assert status == 200, status
                pid = json.loads(body)["pid"]
                with lock:
                    served[pid] = served.get(pid, 0) + 1
            except Exception as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)
    ts = [threading.Thread(target=run, args=(n,)) for n in per_thread]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    return served


def assert_only_workers_listed(perfd, app, service):
    services = perfd.services()
    assert services.get(service) == app.worker_pids(), services
    for name, pids in services.items():
        assert app.proc.pid not in pids, f"supervisor {app.proc.pid} listed under {name}"


def spread_and_count(perfd, app, service, path="/spread", batch=60, max_batches=5):
    served = {}
    for _ in range(max_batches):
        for pid, n in drive_new_connections(app, path, batch).items():
            served[pid] = served.get(pid, 0) + n
        if set(served) == set(app.worker_pids()):
            break
    assert set(served) == set(app.worker_pids()), f"requests never reached both workers: {served}"
    total = sum(served.values())
    routes = perfd.wait_count(service, "GET", path, total)
    r = route_of(routes, "GET", path)
    assert r["requests"] == total and r["status_codes"] == {"200": total}, \
        f"sent {total} ({served})\n{format_routes(routes)}"


def test_uvicorn_workers_listed_and_counted(perfd, launch):
    app = launch("workers_app:app", UVICORN_SERVICE, workers=2)
    assert len(app.worker_pids()) == 2
    perfd.warm_up(app)
    assert_only_workers_listed(perfd, app, UVICORN_SERVICE)
    spread_and_count(perfd, app, UVICORN_SERVICE)


def test_gunicorn_uvicorn_workers_listed_and_counted(perfd, launch):
    app = launch("workers_app:app", GUNICORN_SERVICE, server="gunicorn", workers=2)
    assert len(app.worker_pids()) == 2
    perfd.warm_up(app)
    assert_only_workers_listed(perfd, app, GUNICORN_SERVICE)
    spread_and_count(perfd, app, GUNICORN_SERVICE)


def test_killed_gunicorn_worker_replacement_is_tracked(perfd, launch):
    app = launch("workers_app:app", RESTART_SERVICE, server="gunicorn", workers=2)
    perfd.warm_up(app)
    old = app.worker_pids()
    victim = old[0]
    os.kill(victim, signal.SIGKILL)

    new_pid, t_proc, t_listed, listed = None, None, None, {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if new_pid is None:
            fresh = set(children(app.proc.pid)) - set(old)
            if fresh:
                t_proc = time.monotonic()
                new_pid = min(fresh)
            else:
                time.sleep(0.002)  # tight: t_proc is the reference point
                continue
        listed = perfd.services()
        if new_pid in listed.get(RESTART_SERVICE, []):
            t_listed = time.monotonic()
            break
        time.sleep(0.02)
    assert new_pid is not None, "gunicorn never replaced the killed worker"
    assert t_listed is not None, f"replacement {new_pid} never listed: {listed}"
    assert t_listed - t_proc <= 1.0, \
        f"replacement listed {t_listed - t_proc:.2f}s after it appeared in /proc (max 1 s)"
    print(f"replacement {new_pid} listed {t_listed - t_proc:.3f}s after it appeared in /proc")
    # Exactly the live workers: the killed pid is gone, the master never listed.
    survivors = sorted(set(old) - {victim})
    perfd.wait_workers(RESTART_SERVICE, sorted(survivors + [new_pid]), timeout=2.0)

    # Wait for the new worker to serve, then count exactly across both again.
    deadline = time.monotonic() + 30
    while app.proc.log_text().count("Application startup complete.") < 3:
        assert time.monotonic() < deadline, "replacement worker never started its app"
        time.sleep(0.05)
    served = {}
    for _ in range(5):
        for pid, n in drive_new_connections(app, "/after-restart", 60).items():
            served[pid] = served.get(pid, 0) + n
        if new_pid in served:
            break
    assert new_pid in served, f"replacement worker never answered: {served}"
    total = sum(served.values())
    routes = perfd.wait_count(RESTART_SERVICE, "GET", "/after-restart", total)
    r = route_of(routes, "GET", "/after-restart")
    assert r["requests"] == total, f"sent {total} ({served})\n{format_routes(routes)}"


def test_worker_execed_by_python_launcher_is_discovered(perfd, launch):
    # The launcher is seen first as a plain python3.11 process (not a worker);
    # its exec into uvicorn keeps pid, ppid and comm, so only argv tells.
    app = launch("workers_app:app", EXEC_SERVICE, exec_after=0.5)
    assert "uvicorn" in open(f"/proc/{app.proc.pid}/cmdline").read()
    perfd.warm_up(app)
    served = drive_new_connections(app, "/spread", 20, threads=2)
    assert list(served) == [app.proc.pid]
    routes = perfd.wait_count(EXEC_SERVICE, "GET", "/spread", 20)
    assert route_of(routes, "GET", "/spread")["requests"] == 20, format_routes(routes)
