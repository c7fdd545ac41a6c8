"""Issue 7, perfd attached after the app: database and cache connections opened
(and statements prepared) before perfd started are still traced.

db_app's pools connect at startup (its default), the app serves queries, and
only then does perfd start: it finds the open client connections in /proc,
picks them up mid-stream, joins their calls to requests exactly, and shows
statements prepared before it attached as unresolved rather than dropping
them (asyncpg sends their text once, at prepare time, long gone).
"""
import json
from typing import Dict

import pytest

from conftest import route_of
from e2e_helpers import deal_paths, format_routes, metric_sum, run_clients, unique

CLIENTS = 8
PLAN = {"/asyncpg/one": 80, "/redis/getset": 40}
BEFORE = {"/asyncpg/one": 40, "/redis/getset": 10}  # served before perfd starts, 2 clients


@pytest.fixture(scope="module")
def app(launch, postgres, redis):
    """Started, and its pools used, before the perfd fixture exists."""
    service = unique("e2e-db-attach")
    app = launch("db_app:app", service, env={
        "E2E_DATABASE_URL": postgres.dsn, "E2E_REDIS_URL": redis.url})
    results = run_clients(app.connection, deal_paths(BEFORE, 2))
    assert all(s == 200 for rs in results.values() for s, _ in rs), results
    return app


@pytest.fixture(scope="module")
def traffic(app, perfd) -> Dict[str, list]:
    perfd.warm_up(app)
    return run_clients(app.connection, deal_paths(PLAN, CLIENTS))


def queries(perfd, service: str) -> dict:
    result = perfd.perfctl("queries", "--service", service, "--window", "10m", "--limit", "0",
                           "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def route_calls(doc: dict, system: str, route: str, housekeeping: bool = False) -> Dict[str, int]:
    """fingerprint → calls from `route`, for one system."""
    return {q["fingerprint"]: int(q.get("routes", {}).get(route, 0))
            for q in doc.get("queries", [])
            if q.get("system") == system and bool(q.get("housekeeping")) == housekeeping
            and route in q.get("routes", {})}


def test_connections_open_before_attach_are_traced(app, perfd, traffic):
    for path, n in PLAN.items():
        assert [s for s, _ in traffic[path]] == [200] * n, path
        routes = perfd.wait_count(app.service, "GET", path, n)
        assert route_of(routes, "GET", path)["requests"] == n, format_routes(routes)
    metrics = perfd.metrics_text()
    # The asyncpg pool (2) and redis (1) connections were found in /proc.
    assert metric_sum(metrics, "perfd_client_connections_seeded_total") >= 3, metrics
    doc = queries(perfd, app.service)

    # Every /asyncpg/one query counted exactly, joined to its request; the
    # statement was prepared before perfd attached: unresolved, not dropped.
    pg = route_calls(doc, "postgresql", "GET /asyncpg/one")
    assert sum(pg.values()) == PLAN["/asyncpg/one"], (pg, doc)
    assert any(fp.startswith("(prepared before attach)") for fp in pg), pg
    r = route_of(perfd.top(app.service, window=600), "GET", "/asyncpg/one")["raw"]
    assert r.get("queriesPerRequest") == 1, r

    # Redis: a connection picked up mid-stream resumes pairing once a reply
    # shows it idle (docs/REDIS.md): its first command (a SET here: each
    # request sends SET then GET) is given up, and counted, never mispaired.
    # At most one per connection open before attach (BEFORE ran 2 clients).
    n = PLAN["/redis/getset"]
    rd = route_calls(doc, "redis", "GET /redis/getset")
    assert rd.get("GET") == n and n - 2 <= rd.get("SET", 0) <= n, (rd, doc)
    unpaired = metric_sum(metrics, "perfd_redis_decoder_total", kind="unpaired_commands")
    assert unpaired == n - rd["SET"], (unpaired, rd)
