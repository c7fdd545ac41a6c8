"""A route that blocks the event loop next to a trivial one (queue time).

/block sleeps with time.sleep inside `async def`: the whole worker stalls, and
requests for /fast wait in their sockets meanwhile. Only the time they wait
there makes /fast slow; the handler itself is trivial.
"""
import time

from fastapi import FastAPI

from common import add_common_routes

app = FastAPI(title="queue_app")
add_common_routes(app)

BLOCK_SECONDS = 0.05


@app.get("/block")
async def block() -> dict:
    time.sleep(BLOCK_SECONDS)  # deliberately blocks the loop (the bug being diagnosed)
    return {"blocked": BLOCK_SECONDS}


@app.get("/fast")
async def fast() -> dict:
    return {"ok": True}
