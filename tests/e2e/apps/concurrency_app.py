"""Routes whose Python CPU per request is known by construction, for request
identity under concurrency (issue 6 e2e).

Every cost is burned as thread CPU time (time.thread_time) in the function
whose category the test checks. Requests of all routes overlap on every
worker, so only an exact per-request join can give each route its own CPU.
"""
import asyncio
import time

import anyio
from fastapi import Depends, FastAPI

from common import add_common_routes

app = FastAPI()
add_common_routes(app)


def burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


@app.get("/noop")
async def noop() -> dict:
    # The framework's own CPU per request (routing, serialization), which
    # every other route pays on top of its known cost.
    return {"ms": 0}


@app.get("/cpu5")
async def cpu5() -> dict:
    burn(0.005)
    return {"ms": 5}


@app.get("/cpu30")
async def cpu30() -> dict:
    burn(0.030)
    return {"ms": 30}


def get_current_user_sync() -> str:
    # A sync dependency: FastAPI runs it in an anyio worker thread, in a copy
    # of the request's context. The loop is inline: the leaf-most frame
    # decides the category, and a helper of the app's would count as app.
    end = time.thread_time() + 0.010
    while time.thread_time() < end:
        pass
    return "bob"


@app.get("/threadpool-warmup")
def threadpool_warmup() -> dict:
    """A plain def endpoint: anyio starts worker threads for overlapping
    calls (the tests start them before measuring: perfd samples a new
    thread from its next scan on, so CPU of a thread younger than that is
    not seen)."""
    time.sleep(0.05)
    return {"ok": True}


@app.get("/sync-dep")
async def sync_dep(user: str = Depends(get_current_user_sync)) -> dict:
    return {"user": user}


async def child(ms: float) -> float:
    await asyncio.sleep(0)  # start on the loop as a task of its own
    burn(ms / 1000)
    return ms


@app.get("/gather")
async def gather() -> dict:
    # Three child tasks, 5 ms each: 15 ms of the request's CPU outside its
    # own task.
    done = await asyncio.gather(child(5), child(5), child(5))
    return {"ms": sum(done)}


@app.get("/taskgroup")
async def taskgroup() -> dict:
    # anyio task group: two child tasks, 5 ms each.
    async with anyio.create_task_group() as tg:
        tg.start_soon(child, 5)
        tg.start_soon(child, 5)
    return {"ms": 10}


async def get_current_user() -> str:
    # Matches the default auth rule (*get_current_user*): 5 of 20 ms, inline.
    end = time.thread_time() + 0.005
    while time.thread_time() < end:
        pass
    return "alice"


@app.get("/split")
async def split(user: str = Depends(get_current_user)) -> dict:
    burn(0.015)
    return {"user": user}
