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


# Bodies full of lines that look like request and status lines. Each line
# starts a TCP segment of its own (TCP_NODELAY, one send per line), so many of
# them also start a read of the server's.
FAKE_LINES = [b"GET /fake/get HTTP/1.1\r\n", b"POST /fake/post HTTP/1.1\r\n", b"\r\n",
              b"HTTP/1.1 500 Internal Server Error\r\n", b"DELETE /fake/delete HTTP/1.1\r\n",
              b"\r\n"]


def send_echo(s, f, route: str, chunked: bool) -> bytes:
    body = b"".join(FAKE_LINES)
    if chunked:
        s.sendall(f"POST {route} HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n\r\n"
                  .encode())
        for line in FAKE_LINES:
            s.sendall(b"%x\r\n%s\r\n" % (len(line), line))
        s.sendall(b"0\r\n\r\n")
    else:
        s.sendall(f"POST {route} HTTP/1.1\r\nHost: e2e\r\nContent-Length: {len(body)}\r\n\r\n"
                  .encode())
        for line in FAKE_LINES:
            s.sendall(line)
    status, _, got = read_response(f)
    assert status == 200 and got == body, (status, got)
    return got


@pytest.mark.parametrize("route,chunked", [("/echo", False), ("/echo", True),
                                           ("/echo-stream", False), ("/echo-stream", True)])
def test_request_like_lines_in_bodies_are_not_requests(perfd, app, route, chunked):
    """Adversarial: request lines inside request bodies and status lines inside
    response bodies (length-delimited and chunked, both ways) never become
    requests or responses: 8 keep-alive clients, exact counts, no fake route."""
    import concurrent.futures

    clients, per_client = 8, 15

    def client(_):
        s = connect(app)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        try:
            for _ in range(per_client):
                send_echo(s, f, route, chunked)
        finally:
            s.close()

    top = perfd.top(SERVICE)
    before = top.get(("POST", route), {}).get("requests", 0)
    before_all = sum(r["requests"] for r in top.values())
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    n = before + clients * per_client
    routes = perfd.wait_count(SERVICE, "POST", route, n)
    table = format_routes(routes)
    r = route_of(routes, "POST", route)
    assert r["requests"] == n and r["status_codes"] == {"200": n}, table
    # Every request of the service in the meantime is one of ours: a line
    # taken from a body would be a request of some other row (or of none
    # known, "other"/unmatched), aborted when its connection closed.
    assert sum(r["requests"] for r in routes.values()) == before_all + clients * per_client, table
    assert not any("fake" in path for _, path in routes), table
    # A status line taken from a response body would show as a 500 somewhere.
    assert not any("500" in rr["status_codes"] for rr in routes.values()), table
