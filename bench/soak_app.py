"""Raw ASGI app for bench/soak.sh: answers any method and path at once, so the
soak spends its CPU on perfd's bookkeeping, not on a framework. The status
depends on the route (200, some 404 and 500) so series multiply by status as
they do in a real service; CONNECT gets 405 (a 2xx would turn the connection
into a tunnel)."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    digits = "".join(c for c in path if c.isdigit())
    n = int(digits) if digits else 0
    if scope["method"] == "CONNECT":
        status = 405
    elif n % 25 == 0:
        status = 500
    elif n % 10 == 0:
        status = 404
    else:
        status = 200
    body = b"" if scope["method"] == "HEAD" else b"ok\n"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"3")],
        }
    )
    await send({"type": "http.response.body", "body": body})
