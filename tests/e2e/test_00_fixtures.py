"""Sanity checks of the test harness itself (no perfd needed).

If these fail, the environment is broken (missing Debian packages, postgres
refusing to start...), not perfd: scripts/install-deps.sh installs it all.
"""
import json

from conftest import Prometheus
from e2e_helpers import one_shot, request


def test_uvicorn_single_worker_serves_and_reports_own_pid(launch_fn):
    app = launch_fn("latency_app:app", "e2e-fixture-single")
    status, body = app.get("/pid")
    assert status == 200
    assert json.loads(body)["pid"] == app.worker_pids()[0] == app.proc.pid


def test_uvicorn_two_workers_are_spawned_children(launch_fn):
    app = launch_fn("workers_app:app", "e2e-fixture-multi", workers=2)
    pids = app.worker_pids()
    assert len(pids) == 2 and app.proc.pid not in pids


def test_gunicorn_two_workers_are_forked_children(launch_fn):
    app = launch_fn("workers_app:app", "e2e-fixture-gunicorn", server="gunicorn", workers=2)
    pids = app.worker_pids()
    assert len(pids) == 2 and app.proc.pid not in pids
    assert app.get("/health")[0] == 200


def test_uvicorn_on_unix_socket(launch_fn):
    app = launch_fn("shapes_app:app", "e2e-fixture-uds", uds=True)
    conn = app.connection()
    try:
        assert request(conn, "GET", "/uds-ping")[0] == 200
        assert request(conn, "GET", "/uds-ping")[0] == 200  # keep-alive reuse
    finally:
        conn.close()


def test_postgres_app_round_trip(launch_fn, postgres):
    app = launch_fn("pg_app:app", "e2e-fixture-pg", env={"E2E_DATABASE_URL": postgres.dsn})
    status, body = app.get("/db/sleep")
    assert status == 200, body


def test_prometheus_fixture_answers_queries(module_dir):
    # Prometheus scraping itself proves the fixture's config and readiness logic.
    prom = Prometheus(module_dir / "prometheus-selftest", targets=[])
    try:
        assert one_shot(prom.port, "GET", "/-/healthy")[0] == 200
        assert prom.query("vector(1)")[0]["value"][1] == "1"
    finally:
        prom.stop()
