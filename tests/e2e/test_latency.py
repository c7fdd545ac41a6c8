"""a) latency of a known-cost route, b) status codes, c) route templating."""
import statistics
import time

import pytest

from conftest import route_of
from e2e_helpers import format_routes, one_shot, request, unique

SERVICE = unique("e2e-latency")
APP_ROUTES = {"/health", "/warmup/{n}", "/pid", "/sleep", "/mixed", "/items/{item_id}",
              "/openapi.json"}


@pytest.fixture(scope="module")
def app(launch, perfd):
    app = launch("latency_app:app", SERVICE)
    perfd.warm_up(app)
    return app


def test_sleep_route_count_and_latency(perfd, app):
    n = 200
    conn = app.connection()  # one keep-alive connection, sequential requests
    client = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            status, _ = request(conn, "GET", "/sleep")
            client.append(time.perf_counter() - t0)
            assert status == 200
    finally:
        conn.close()
    routes = perfd.wait_count(SERVICE, "GET", "/sleep", n)
    r = route_of(routes, "GET", "/sleep")
    table = format_routes(routes)
    assert r["requests"] == n, table
    assert r["status_codes"] == {"200": n}, table
    assert r["errors"] == 0 and r["aborted"] == 0, table
    assert abs(r["p50"] - 0.050) <= 0.005, f"p50 {r['p50']:.4f}s, want 50ms ±5ms\n{table}"
    assert r["p99"] < 0.080, table
    # The server-side latency cannot exceed what the client saw (2% sketch slack).
    client_p50 = statistics.median(client)
    assert r["p50"] <= client_p50 * 1.02 + 0.0005, f"client p50 {client_p50:.4f}\n{table}"
    assert 0.049 <= r["max"] <= max(client) * 1.02 + 0.0005, table
    assert r["in_flight"] == 0, table


def test_status_codes_exact(perfd, app):
    plan = {"200": 7, "404": 5, "422": 4, "500": 3}
    paths = {"200": "/mixed?code=200", "404": "/mixed?code=404",
             "422": "/mixed?code=not-a-number", "500": "/mixed?code=500"}
    # Interleave so no status arrives as one contiguous block.
    sequence = [code for i in range(max(plan.values())) for code in plan if i < plan[code]]
    for code in sequence:
        status, _ = one_shot(app.port, "GET", paths[code])
        assert str(status) == code
    total = sum(plan.values())
    routes = perfd.wait_count(SERVICE, "GET", "/mixed", total)
    r = route_of(routes, "GET", "/mixed")
    table = format_routes(routes)
    assert r["requests"] == total, table
    assert r["status_codes"] == plan, table
    assert r["errors"] == plan["500"], table
    assert r["aborted"] == 0, table


def test_path_parameters_are_templated(perfd, app):
    n = 50
    conn = app.connection()
    try:
        for i in range(n):
            status, _ = request(conn, "GET", f"/items/{1000 + i * 7}")
            assert status == 200
    finally:
        conn.close()
    routes = perfd.wait_count(SERVICE, "GET", "/items/{item_id}", n)
    table = format_routes(routes)
    assert route_of(routes, "GET", "/items/{item_id}")["requests"] == n, table
    # Warm-up requests may predate perfd's OpenAPI fetch (heuristic templates
    # such as /warmup/{int}, or "other" while such a template has fewer than
    # routes.heuristic_min_requests requests); only the measured traffic must
    # be app templates.
    # CPU-only pseudo-routes ("(no request)", "(unattributed)") carry Python
    # CPU, never requests.
    pseudo = {route for (method, route), r in routes.items()
              if route.startswith("(") and not method and r["requests"] == 0}
    unknown = {route for _, route in routes
               if not route.startswith("/warmup/")} - APP_ROUTES - pseudo - {"other"}
    assert not unknown, f"routes that are not app templates: {unknown}\n{table}"
