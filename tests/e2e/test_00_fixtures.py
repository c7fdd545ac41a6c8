"""Sanity checks of the test harness itself (no perfd needed).

If these fail, the environment is broken (missing Debian packages, postgres
refusing to start...), not perfd: scripts/install-deps.sh installs it all.
"""
import json
import subprocess

from conftest import PG_BIN, Prometheus
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


def test_redis_fixture_round_trip(redis):
    assert redis.cli("SET", "e2e:fixture", "1") == "OK"
    assert redis.cli("GET", "e2e:fixture") == "1"
    # No persistence: `save ""` (no value printed) and no append-only file.
    assert redis.cli("CONFIG", "GET", "save").split() == ["save"]
    assert redis.cli("CONFIG", "GET", "appendonly").split() == ["appendonly", "no"]


def test_postgres_tls_fixture_refuses_plaintext(postgres_tls):
    def psql_tcp(sslmode):
        return subprocess.run(
            [str(PG_BIN / "psql"), f"{postgres_tls.dsn.split('?')[0]}?sslmode={sslmode}", "-XAtc",
             "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
            capture_output=True, text=True, timeout=30)
    assert "?sslmode=require" in postgres_tls.dsn
    tls = psql_tcp("require")
    assert tls.returncode == 0 and tls.stdout.strip() == "t", tls.stderr
    plain = psql_tcp("disable")
    assert plain.returncode != 0 and "no encryption" in plain.stderr, plain


def test_db_app_routes_answer(launch_fn, postgres, postgres_tls, redis):
    app = launch_fn("db_app:app", "e2e-fixture-db", server="gunicorn", workers=2, env={
        "E2E_DATABASE_URL": postgres.dsn, "E2E_DATABASE_TLS_URL": postgres_tls.dsn,
        "E2E_REDIS_URL": redis.url})
    for path in ("/asyncpg/sleep", "/psycopg/sleep", "/asyncpg/n1", "/asyncpg/one",
                 "/asyncpg/gather", "/redis/getset", "/tls/one", "/call-sites"):
        status, body = app.get(path)
        assert status == 200, (path, body)
    # Both workers created the table at once: exactly 50 rows, no error.
    assert postgres.psql("SELECT count(*) FROM items") == "50"
    assert postgres_tls.psql("SELECT count(*) FROM items") == "50"


def test_prometheus_fixture_answers_queries(module_dir):
    # Prometheus scraping itself proves the fixture's config and readiness logic.
    prom = Prometheus(module_dir / "prometheus-selftest", targets=[])
    try:
        assert one_shot(prom.port, "GET", "/-/healthy")[0] == 200
        assert prom.query("vector(1)")[0]["value"][1] == "1"
    finally:
        prom.stop()
