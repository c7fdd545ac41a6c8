"""d) HTTP/1.1 shapes over raw sockets against a real uvicorn app."""
import socket
import time

import pytest

from conftest import route_of
from e2e_helpers import format_routes, request, unique

SERVICE = unique("e2e-shapes")
UDS_SERVICE = unique("e2e-shapes-uds")


def read_response(f):
    """Reads one HTTP/1.1 response (Content-Length or chunked) from a binary file."""
    status_line = f.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = f.readline()
        assert line, "connection closed inside headers"
        if line in (b"\r\n", b"\n"):
            break
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                f.readline()  # CRLF after the last chunk (no trailers)
                break
            body += f.read(size)
            f.readline()
        return status, headers, bytes(body)
    return status, headers, f.read(int(headers.get("content-length", "0")))


@pytest.fixture(scope="module")
def app(launch, perfd):
    app = launch("shapes_app:app", SERVICE)
    perfd.warm_up(app)
    return app


def connect(app) -> socket.socket:
    return socket.create_connection(("127.0.0.1", app.port), timeout=10)


def test_pipelined_requests_in_one_send(perfd, app):
    s = connect(app)
    try:
        s.sendall(b"GET /pipe HTTP/1.1\r\nHost: e2e\r\n\r\n" * 3)
        f = s.makefile("rb")
        for _ in range(3):
            assert read_response(f)[0] == 200
    finally:
        s.close()
    routes = perfd.wait_count(SERVICE, "GET", "/pipe", 3)
    r = route_of(routes, "GET", "/pipe")
    assert r["requests"] == 3 and r["status_codes"] == {"200": 3}, format_routes(routes)


@pytest.mark.parametrize("route,chunked", [("/upload", False), ("/upload-chunked", True)])
def test_request_body_in_three_pieces_with_pauses(perfd, app, route, chunked):
    pause, piece = 0.15, b"a" * 1000
    if chunked:  # Transfer-Encoding: chunked, one chunk per send
        head = (f"POST {route} HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        pieces = [b"3e8\r\n" + piece + b"\r\n"] * 2 + [b"3e8\r\n" + piece + b"\r\n0\r\n\r\n"]
    else:
        head = (f"POST {route} HTTP/1.1\r\nHost: e2e\r\nContent-Length: {3 * len(piece)}\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        pieces = [piece] * 3
    s = connect(app)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        t0 = time.perf_counter()
        s.sendall(head + pieces[0])
        for p in pieces[1:]:
            time.sleep(pause)
            s.sendall(p)
        status, _, body = read_response(s.makefile("rb"))
        elapsed = time.perf_counter() - t0
        assert status == 200 and b'"received":3000' in body, body
    finally:
        s.close()
    routes = perfd.wait_count(SERVICE, "POST", route, 1)
    r = route_of(routes, "POST", route)
    table = format_routes(routes)
    assert r["requests"] == 1 and r["status_codes"] == {"200": 1}, table
    # The request lasted from its first byte to its response: both pauses included.
    assert r["max"] >= 2 * pause * 0.98, table
    assert r["max"] <= elapsed * 1.02 + 0.001, f"client saw {elapsed:.4f}s\n{table}"


def test_streamed_response_latency_covers_all_chunks(perfd, app):
    s = connect(app)
    try:
        t0 = time.perf_counter()
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: e2e\r\n\r\n")
        status, headers, body = read_response(s.makefile("rb"))
        elapsed = time.perf_counter() - t0
    finally:
        s.close()
    assert status == 200 and body.count(b"chunk") == 5, (headers, body)
    routes = perfd.wait_count(SERVICE, "GET", "/stream", 1)
    r = route_of(routes, "GET", "/stream")
    table = format_routes(routes)
    assert r["requests"] == 1 and r["status_codes"] == {"200": 1}, table
    assert r["max"] >= 0.100 * 0.98, table  # 5 chunks, 20 ms before each
    assert r["max"] <= elapsed * 1.02 + 0.001, f"client saw {elapsed:.4f}s\n{table}"


def test_large_response_is_one_request(perfd, app):
    s = connect(app)
    try:
        s.sendall(b"GET /big HTTP/1.1\r\nHost: e2e\r\n\r\n")
        status, _, body = read_response(s.makefile("rb"))
    finally:
        s.close()
    assert status == 200 and len(body) == 2 * 1024 * 1024
    routes = perfd.wait_count(SERVICE, "GET", "/big", 1)
    r = route_of(routes, "GET", "/big")
    assert r["requests"] == 1 and r["status_codes"] == {"200": 1}, format_routes(routes)


def test_client_abort_is_reported_as_aborted(perfd, app):
    s = connect(app)
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: e2e\r\n\r\n")
    sent = time.monotonic()
    time.sleep(0.2)
    s.close()  # the handler is still sleeping (1 s): its response has nowhere to go
    routes = perfd.wait_count(SERVICE, "GET", "/slow", 1)
    # Wait out the handler, so a late "success" would show up too.
    time.sleep(max(0.0, sent + 1.5 - time.monotonic()))
    routes = perfd.top(SERVICE)
    r = route_of(routes, "GET", "/slow")
    table = format_routes(routes)
    assert r["requests"] == 1, table
    assert r["aborted"] == 1 or r["status_codes"].get("aborted") == 1, table
    assert "200" not in r["status_codes"], table
    assert r["errors"] == 1, table


def test_unix_socket_server_is_traced(perfd, launch):
    uds_app = launch("shapes_app:app", UDS_SERVICE, uds=True)
    perfd.warm_up(uds_app)
    n = 20
    conn = uds_app.connection()
    try:
        for _ in range(n):
            assert request(conn, "GET", "/uds-ping")[0] == 200
    finally:
        conn.close()
    routes = perfd.wait_count(UDS_SERVICE, "GET", "/uds-ping", n)
    r = route_of(routes, "GET", "/uds-ping")
    assert r["requests"] == n and r["status_codes"] == {"200": n}, format_routes(routes)
