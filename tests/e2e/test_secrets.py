"""i) credentials in headers, cookies and query strings never leave perfd."""
import json

import pytest

from conftest import route_of
from e2e_helpers import format_routes, one_shot, request, unique

SERVICE = unique("e2e-secrets")
SECRETS = ("SECRET123", "SECRET456", "SECRET789")
HEADERS = {"Authorization": "Bearer SECRET123", "Cookie": "session=SECRET456"}
PATH = "/account?token=SECRET789"


@pytest.fixture(scope="module")
def perfd_args():
    return ["--log-level", "debug"]


@pytest.fixture(scope="module")
def app(launch, perfd):
    app = launch("secrets_app:app", SERVICE)
    perfd.warm_up(app)
    return app


def assert_no_secrets(where: str, text: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{leaked} found in {where}"


def test_secrets_do_not_leak(perfd, app):
    keepalive, fresh = 10, 5
    conn = app.connection()
    try:
        for _ in range(keepalive):
            status, body = request(conn, "GET", PATH, headers=HEADERS)
            assert status == 200 and json.loads(body) == {
                "has_token": True, "has_auth": True, "has_session": True}
    finally:
        conn.close()
    for _ in range(fresh):
        assert one_shot(app.port, "GET", PATH, headers=HEADERS)[0] == 200
    n = keepalive + fresh
    routes = perfd.wait_count(SERVICE, "GET", "/account", n)
    assert route_of(routes, "GET", "/account")["requests"] == n, format_routes(routes)

    assert_no_secrets("perfctl top -o json", json.dumps(perfd.top_raw(SERVICE)))
    assert_no_secrets("perfctl top (table)",
                      perfd.perfctl("top", "--service", SERVICE, "--once").stdout)
    assert_no_secrets("perfctl services -o json", perfd.perfctl("services", "-o", "json").stdout)
    assert_no_secrets("/metrics", perfd.metrics_text())

    # Stop perfd so every buffered debug line is flushed, then read its log.
    rc = perfd.stop()
    assert rc == 0, perfd.proc.tail(60)
    log = perfd.proc.log_text()
    assert "debug" in log.lower(), "perfd --log-level debug logged no debug lines"
    assert_no_secrets("perfd's debug log", log)
