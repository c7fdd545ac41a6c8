"""l) an asyncpg route whose cost is a PostgreSQL pg_sleep(0.03) round trip."""
import statistics
import time

import pytest

from conftest import route_of
from e2e_helpers import format_routes, request, unique

SERVICE = unique("e2e-pg")


@pytest.fixture(scope="module")
def app(launch, perfd, postgres):
    app = launch("pg_app:app", SERVICE, env={"E2E_DATABASE_URL": postgres.dsn})
    perfd.warm_up(app)
    return app


def test_pg_sleep_route_count_and_latency(perfd, app):
    n = 100
    client = []
    conn = app.connection()
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            assert request(conn, "GET", "/db/sleep")[0] == 200
            client.append(time.perf_counter() - t0)
    finally:
        conn.close()
    routes = perfd.wait_count(SERVICE, "GET", "/db/sleep", n)
    r = route_of(routes, "GET", "/db/sleep")
    table = format_routes(routes)
    assert r["requests"] == n and r["status_codes"] == {"200": n}, table
    # 30 ms of pg_sleep plus the app's and PostgreSQL's own overhead, which the
    # client measures too: perfd's p50 must sit between the two, within 5 ms.
    client_p50 = statistics.median(client)
    assert r["p50"] >= 0.030 * 0.98, table
    assert abs(r["p50"] - client_p50) <= 0.005, f"client p50 {client_p50:.4f}s\n{table}"
    assert r["p50"] <= 0.030 + 0.005 + (client_p50 - 0.030), table
