"""A raw ASGI app whose /openapi.json is hostile; HOSTILE_VARIANT picks how
(one variant per service, since perfd fetches one path per service):

  chunk_overflow  "Transfer-Encoding: chunked" with chunk size ffffffffffffffec,
                  written straight to the transport (uvicorn frames chunks
                  itself, so the bytes cannot come through ASGI)
  million_paths   a valid document with 1,000,000 paths (about 14 MB)
  path_x8         one template of 8 `{a:path}` segments, plus /items/{item_id}
  sixteen_mib     a 16 MiB + 1 byte document, streamed (uvicorn sends it chunked)
  silent          SILENT_LISTENERS extra TCP listeners that accept connections
                  and never answer (run the app itself on --uds, so perfd finds
                  the silent listeners first: it lists TCP before unix)

With HOSTILE_GATED=1, /openapi.json waits until GET /arm (the test times
what perfd's fetch costs from there, not from the app's start). Every variant
also answers /health and anything else with a small 200.
"""
import asyncio
import json
import os
import select
import socket
import threading

VARIANT = os.environ.get("HOSTILE_VARIANT", "")
GATED = os.environ.get("HOSTILE_GATED") == "1"
_armed = None  # asyncio.Event, made in the server's loop
SILENT_LISTENERS = int(os.environ.get("SILENT_LISTENERS", "16"))

CHUNK_OVERFLOW = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                  b"transfer-encoding: chunked\r\n\r\nffffffffffffffec\r\n" + b"{" * 4096)
SIXTEEN_MIB = 16 << 20
STREAM_PIECE = 1 << 16


def _million_paths() -> bytes:
    paths = ",".join(f'"/p{i}":{{}}' for i in range(1_000_000))
    return ('{"openapi":"3.0.2","info":{"title":"hostile","version":"1"},"paths":{'
            + paths + "}}").encode()


def _path_x8() -> bytes:
    template = "/" + "/".join(["{a:path}"] * 8)
    return json.dumps({"openapi": "3.0.2", "info": {"title": "hostile", "version": "1"},
                       "paths": {template: {}, "/items/{item_id}": {}}}).encode()


DOCUMENT = {"million_paths": _million_paths, "path_x8": _path_x8}.get(VARIANT, lambda: b"")()


def _patch_transport_writes() -> None:
    """For chunk_overflow: answer GET /openapi.json below uvicorn's framing."""
    from uvicorn.protocols.http import h11_impl, httptools_impl

    for cls in (h11_impl.H11Protocol, httptools_impl.HttpToolsProtocol):
        original = cls.data_received

        def data_received(self, data, _original=original):
            if data.startswith(b"GET /openapi.json "):
                self.transport.write(CHUNK_OVERFLOW)
                self.transport.close()
                return
            _original(self, data)
        cls.data_received = data_received


def _silent_listeners(n: int) -> None:
    """n loopback listeners; connections are accepted and held, never answered."""
    listeners = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        listeners.append(s)
    held = []

    def serve():
        while True:
            ready, _, _ = select.select(listeners, [], [])
            for s in ready:
                conn, _ = s.accept()
                held.append(conn)  # never read, never written, never closed
    threading.Thread(target=serve, daemon=True).start()


if VARIANT == "chunk_overflow":
    _patch_transport_writes()
elif VARIANT == "silent":
    _silent_listeners(SILENT_LISTENERS)


async def _send(send, status: int, body: bytes, more: bool = False) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body, "more_body": more})


async def app(scope, receive, send):
    global _armed
    if _armed is None:
        _armed = asyncio.Event()
        if not GATED:
            _armed.set()
    if scope["type"] != "http":  # lifespan: nothing to set up
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/arm":
        _armed.set()
        await _send(send, 200, b'{"armed":true}')
        return
    if path == "/openapi.json":
        await _armed.wait()
    if path == "/openapi.json" and VARIANT == "sixteen_mib":
        # No content-length: uvicorn streams it chunked, so the fetcher only
        # learns the size by reading up to its cap.
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        piece = b" " * STREAM_PIECE
        left = SIXTEEN_MIB + 1
        while left > 0:
            n = min(left, STREAM_PIECE)
            left -= n
            await send({"type": "http.response.body", "body": piece[:n], "more_body": left > 0})
        return
    if path == "/openapi.json" and DOCUMENT:
        await _send(send, 200, DOCUMENT)
        return
    if path == "/openapi.json":
        await _send(send, 404, b'{"detail":"Not Found"}')
        return
    await _send(send, 200, b'{"ok":true}')
