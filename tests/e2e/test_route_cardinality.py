"""Route cardinality and personal data in route labels.

A scanner's random 404s must not take the rows real routes need, nor put
its paths into metric labels: with an OpenAPI document they all go to one
`unmatched` route (counted), real routes keep exact counts. Without a
document, path segments that could be someone's data (e-mail addresses,
names, phone numbers) never reach /metrics or perfctl output.
"""
import json
import random
import string
import threading
from typing import List

import pytest

from conftest import route_of
from e2e_helpers import format_routes, metric_sum, prom_samples, request, unique, wait_until

SERVICE = unique("e2e-card")
NOAPI_SERVICE = unique("e2e-card-noapi")
N_NOISE = 500
N_CLIENTS = 10


def label_sets(text: str):
    return [labels for _, labels, _ in prom_samples(text)]


def noise_paths(n: int) -> List[str]:
    """What a scanner tries: word-list guesses, files, addresses, ids."""
    rng = random.Random(7)

    def word(k: int) -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(k))
    shapes = [
        lambda: f"/{word(rng.randint(4, 10))}",
        lambda: f"/{word(5)}/{word(6)}",
        lambda: f"/wp-content/{word(7)}.php",
        lambda: f"/admin/{word(4)}.{word(5)}@example.com",
        lambda: f"/api/{word(3)}/{rng.randint(1, 10**9)}",
    ]
    return [shapes[i % len(shapes)]() for i in range(n)]


def hammer(app, paths: List[str], clients: int, want_status: int) -> None:
    """Sends `paths` over `clients` concurrent keep-alive connections."""
    errors: List[str] = []

    def client(part: List[str]) -> None:
        conn = app.connection()
        try:
            for p in part:
                status, _ = request(conn, "GET", p)
                if status != want_status:
                    errors.append(f"{p}: {status}")
        except Exception as exc:  # reported below, in the test's thread
            errors.append(repr(exc))
        finally:
            conn.close()
    threads = [threading.Thread(target=client, args=(paths[i::clients],))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:10]


@pytest.fixture(scope="module")
def app(launch, perfd):
    app = launch("cardinality_app:app", SERVICE)
    perfd.warm_up(app)  # /warmup/{n} reported: the OpenAPI templates are live
    return app


def test_scanner_404s_then_real_routes_with_openapi(perfd, app):
    noise = noise_paths(N_NOISE)
    assert len(set(noise)) == N_NOISE
    hammer(app, noise, N_CLIENTS, 404)
    n_items, n_orders = 40, 20
    real = [f"/items/{1000 + i}" for i in range(n_items)] + ["/orders"] * n_orders
    random.Random(3).shuffle(real)
    hammer(app, real, 4, 200)

    perfd.wait_count(SERVICE, "GET", "unmatched", N_NOISE)
    routes = perfd.wait_count(SERVICE, "GET", "/orders", n_orders)
    table = format_routes(routes)
    assert route_of(routes, "GET", "/items/{item_id}")["requests"] == n_items, table
    assert route_of(routes, "GET", "/orders")["requests"] == n_orders, table
    unmatched = route_of(routes, "GET", "unmatched")
    assert unmatched["requests"] == N_NOISE, table
    assert unmatched["status_codes"] == {"404": N_NOISE}, table
    # No row for any scanned path: every route is an app template, perfd's
    # own document fetch, a pseudo-route, or warm-up traffic from before the
    # document arrived (heuristic /warmup/{int}, /health, or "other").
    allowed = {"/health", "/warmup/{n}", "/pid", "/items/{item_id}", "/orders",
               "/users/{name}", "/u/{name}/posts", "/call/{number}", "/openapi.json",
               "/warmup/{int}", "unmatched", "other"}
    extra = {r for _, r in routes if r not in allowed and not r.startswith("(")}
    assert not extra, f"unexpected routes {extra}\n{table}"

    text = perfd.metrics_text()
    labels = {"service_name": SERVICE, "http_request_method": "GET"}
    assert metric_sum(text, "http_server_request_duration_seconds_count", http_route="unmatched",
                  **labels) == N_NOISE
    assert metric_sum(text, "http_server_request_duration_seconds_count",
                  http_route="/items/{item_id}", **labels) == n_items
    assert metric_sum(text, "perfd_route_folded_total", service_name=SERVICE,
                  reason="unmatched") == N_NOISE
    exported = {labels["http_route"] for labels in label_sets(text)
                if labels.get("service_name") == SERVICE and "http_route" in labels
                and not labels["http_route"].startswith("(")}  # CPU-only pseudo-routes
    assert exported and not exported - allowed, f"unexpected http_route labels {exported - allowed}"


# Segments that are someone's data; none may reach /metrics or perfctl.
PERSONAL = {
    "/users/john.smith@example.com": ["john.smith", "example.com"],
    "/users/Jane_Doe": ["Jane_Doe", "Jane"],
    "/users/jane.doe%40corp.io": ["jane.doe", "corp.io"],
    "/u/John.Smith/posts": ["John.Smith", "Smith"],
    "/call/+15551234567": ["5551234567"],
    "/call/555-123-4567": ["555-123-4567"],
}


def test_personal_data_never_in_labels_without_openapi(perfd, launch):
    app = launch("cardinality_app:app_noapi", NOAPI_SERVICE)
    perfd.wait_workers(NOAPI_SERVICE, app.worker_pids())
    assert app.get("/openapi.json")[0] == 404  # the heuristics it is

    # Until perfd shows the heuristic warm-up template, its requests may
    # predate tracing.
    counter = [0]

    def traced() -> bool:
        perfd.check_alive()
        counter[0] += 1
        app.get(f"/warmup/{counter[0]}")
        return ("GET", "/warmup/{int}") in perfd.top(NOAPI_SERVICE)
    wait_until(traced, 20, f"perfd to report GET /warmup/{{int}} for {NOAPI_SERVICE}",
               interval=0.1)

    repeats = 5  # past routes.heuristic_min_requests, so the templates get rows
    paths = [p for p in PERSONAL for _ in range(repeats)]
    hammer(app, paths, 3, 200)
    users = sum(repeats for p in PERSONAL if p.startswith("/users/"))
    routes = perfd.wait_count(NOAPI_SERVICE, "GET", "/users/{str}", users - 2)
    table = format_routes(routes)
    # Three paths share the template, each request after its first two counts.
    assert route_of(routes, "GET", "/users/{str}")["requests"] == users - 2, table
    assert ("GET", "/u/{str}/posts") in routes, table

    outputs = {
        "/metrics": perfd.metrics_text(),
        "perfctl top -o json": json.dumps(perfd.top_raw(NOAPI_SERVICE)),
        "perfctl top (table)": perfd.perfctl("top", "--service", NOAPI_SERVICE,
                                             "--once").stdout,
    }
    for where, text in outputs.items():
        leaked = [s for words in PERSONAL.values() for s in words if s in text]
        assert not leaked, f"{leaked} found in {where}"
