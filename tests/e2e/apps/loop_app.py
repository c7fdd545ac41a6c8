"""Event-loop blocking known by construction (test_event_loop.py).

/block/sleep: time.sleep(0.05) inside async def: the loop thread is blocked
  (off CPU, in clock_nanosleep) for 50 ms.
/block/cpu: 30 ms of the thread's own CPU time (time.thread_time) in a
  pure-Python loop inside async def: the loop is busy on CPU.
/ok: await asyncio.sleep(0.01): the healthy way to wait.
/ping: nothing.
"""
import asyncio
import time

from fastapi import FastAPI

from common import add_common_routes

app = FastAPI(title="loop_app")
add_common_routes(app)

SLEEP_S = 0.05
CPU_S = 0.03


@app.get("/block/sleep")
async def block_sleep() -> dict:
    time.sleep(SLEEP_S)
    return {"slept": SLEEP_S}


def burn_cpu(seconds: float) -> int:
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:
        for i in range(1000):
            n += i * i
    return n


@app.get("/block/cpu")
async def block_cpu() -> dict:
    return {"n": burn_cpu(CPU_S)}


@app.get("/ok")
async def ok() -> dict:
    await asyncio.sleep(0.01)
    return {"ok": True}


@app.get("/ping")
async def ping() -> dict:
    return {"ok": True}
