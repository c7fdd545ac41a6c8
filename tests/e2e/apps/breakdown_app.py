"""A route whose time parts are known by construction (test_breakdown.py).

POST /orders, per request, in this order:
  - the body is validated by pydantic; a field validator burns 5 ms of CPU
    (the test's config classifies `*check_order_lines*` as validation);
  - an async auth dependency burns 10 ms of CPU (get_current_user: auth by
    the default rules);
  - an awaited asyncpg query sleeps 20 ms in PostgreSQL (db_wait);
  - `await asyncio.sleep(0.01)` (a timer: `other`).
CPU is burned as thread CPU time (time.thread_time), so a CPU-starved host
stretches the wall time, not the CPU. The wall time of the timer await (the
timer plus the wait for the loop after it fired: what perfd cannot see and
leaves in `other`) is measured here and kept per worker in
$E2E_STATS_DIR/<pid>: "requests timer_wall_ns". GET /block/sleep blocks the loop with
time.sleep(0.05) (a blocking event; others' loop_wait), GET /gc/full forces a
full collection of cyclic garbage (gc), GET /ping is trivial.
"""
import asyncio
import gc
import os
import time
from typing import List

import asyncpg
from fastapi import Depends, FastAPI
from pydantic import BaseModel, validator

from common import add_common_routes

app = FastAPI(title="breakdown_app")
add_common_routes(app)

AUTH_CPU = 0.010
VALIDATION_CPU = 0.005
PG_SLEEP = 0.020
TIMER = 0.010
_pool = None
_stats_fd = -1
_requests = 0
_timer_wall_ns = 0


@app.on_event("startup")
async def startup() -> None:
    global _pool, _stats_fd
    _pool = await asyncpg.create_pool(os.environ["E2E_DATABASE_URL"], min_size=1, max_size=4)
    path = os.path.join(os.environ["E2E_STATS_DIR"], str(os.getpid()))
    _stats_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


@app.on_event("shutdown")
async def shutdown() -> None:
    await _pool.close()


class Order(BaseModel):
    customer: str
    lines: List[int]

    @validator("lines")
    def check_order_lines(cls, v: List[int]) -> List[int]:  # noqa: N805 - pydantic 1
        # Burned here, not in a helper: the leaf-most frame of every sample
        # must be the function whose category the test asserts.
        end = time.thread_time() + VALIDATION_CPU
        while time.thread_time() < end:
            pass
        return v


async def get_current_user() -> str:
    end = time.thread_time() + AUTH_CPU
    while time.thread_time() < end:
        pass
    return "alice"


@app.post("/orders")
async def create_order(order: Order, user: str = Depends(get_current_user)) -> dict:
    global _requests, _timer_wall_ns
    await _pool.execute("SELECT pg_sleep($1)", PG_SLEEP)
    t0 = time.perf_counter_ns()
    await asyncio.sleep(TIMER)
    _timer_wall_ns += time.perf_counter_ns() - t0
    _requests += 1
    line = f"{_requests} {_timer_wall_ns}\n".encode()
    os.pwrite(_stats_fd, line.ljust(48), 0)
    return {"customer": order.customer, "lines": len(order.lines), "user": user}


@app.get("/ping")
async def ping() -> dict:
    return {"ok": True}


@app.get("/block/sleep")
async def block_sleep() -> dict:
    time.sleep(0.05)
    return {"slept": 0.05}


class Cycle:
    def __init__(self) -> None:
        self.me = self
        self.payload = [object() for _ in range(20)]


@app.get("/gc/full")
async def gc_full() -> dict:
    for _ in range(20000):
        Cycle()
    return {"collected": gc.collect(2)}
