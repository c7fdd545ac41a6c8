"""h) a real Prometheus scrapes perfd's /metrics; its query API sees exact counts."""
import time

import pytest

from e2e_helpers import one_shot, prom_samples, request, unique

SERVICE = unique("e2e-prom")
METRIC = "http_server_request_duration_seconds"


def local_count(perfd, **want) -> float:
    total = 0.0
    for name, labels, value in prom_samples(perfd.metrics_text()):
        if name == f"{METRIC}_count" and all(labels.get(k) == v for k, v in want.items()):
            total += value
    return total


@pytest.fixture(scope="module")
def app(launch, perfd):
    app = launch("latency_app:app", SERVICE)
    perfd.warm_up(app)
    return app


def test_prometheus_sees_exact_counts(perfd, app, prometheus_factory):
    prom = prometheus_factory([f"127.0.0.1:{perfd.metrics_port}"])
    n_items, n_404 = 30, 10
    conn = app.connection()
    try:
        for i in range(n_items):
            assert request(conn, "GET", f"/items/{i}")[0] == 200
    finally:
        conn.close()
    for _ in range(n_404):
        assert one_shot(app.port, "GET", "/mixed?code=404")[0] == 404

    items = {"service_name": SERVICE, "http_route": "/items/{item_id}",
             "http_request_method": "GET"}
    mixed = {"service_name": SERVICE, "http_route": "/mixed", "http_request_method": "GET",
             "http_response_status_code": "404"}
    # perfd's own endpoint first: exact, with the OTel semantic-convention labels.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (local_count(perfd, **items) < n_items
                                           or local_count(perfd, **mixed) < n_404):
        time.sleep(0.1)
    assert local_count(perfd, **items) == n_items, perfd.metrics_text()
    assert local_count(perfd, **mixed) == n_404, perfd.metrics_text()
    assert local_count(perfd, **items, http_response_status_code="200") == n_items

    def selector(labels):
        return ",".join(f'{k}="{v}"' for k, v in labels.items())
    queries = {
        f"sum({METRIC}_count{{{selector(items)}}})": n_items,
        f"sum({METRIC}_count{{{selector(mixed)}}})": n_404,
        f'sum({METRIC}_bucket{{{selector(items)},le="+Inf"}})': n_items,
    }
    results = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        results = {}
        for q in queries:
            r = prom.query(q)
            results[q] = float(r[0]["value"][1]) if r else None
        if all(results[q] == want for q, want in queries.items()):
            break
        time.sleep(0.5)
    targets = prom.api("targets")["activeTargets"]
    assert all(t["health"] == "up" for t in targets), targets
    for q, want in queries.items():
        assert results[q] == want, f"{q} = {results[q]}, want {want}"
    tracked = prom.query("perfd_tracked_workers")
    assert tracked and float(tracked[0]["value"][1]) >= 1, tracked
