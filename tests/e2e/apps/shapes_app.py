"""HTTP message shapes for test d (pipelining, chunked bodies, streaming...)."""
import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from common import add_common_routes

app = FastAPI(title="shapes_app")
add_common_routes(app)

STREAM_CHUNKS = 5
STREAM_GAP_SECONDS = 0.02
BIG_BYTES = 2 * 1024 * 1024
SLOW_SECONDS = 1.0


@app.get("/pipe")
async def pipe() -> dict:
    return {"ok": True}


@app.post("/upload")
async def upload(request: Request) -> dict:
    body = await request.body()
    return {"received": len(body)}


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def chunks():
        for i in range(STREAM_CHUNKS):
            await asyncio.sleep(STREAM_GAP_SECONDS)  # before each chunk: >= 100 ms total
            yield f"chunk {i}\n".encode()
    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/big")
async def big() -> Response:
    return Response(content=b"x" * BIG_BYTES, media_type="application/octet-stream")


@app.get("/slow")
async def slow() -> dict:
    await asyncio.sleep(SLOW_SECONDS)
    return {"slept": SLOW_SECONDS}


@app.get("/uds-ping")
async def uds_ping() -> dict:
    return {"ok": True}


@app.post("/upload-chunked")
async def upload_chunked(request: Request) -> dict:
    return await upload(request)


@app.post("/echo")
async def echo(request: Request) -> Response:
    """Answers with the request's body: request- and status-like lines the
    client put there come back in a response body."""
    return Response(content=await request.body(), media_type="text/plain")


@app.post("/echo-stream")
async def echo_stream(request: Request) -> StreamingResponse:
    """The body back as a chunked response, one line per chunk."""
    lines = (await request.body()).splitlines(keepends=True)

    async def chunks():
        for line in lines:
            yield line
    return StreamingResponse(chunks(), media_type="text/plain")
