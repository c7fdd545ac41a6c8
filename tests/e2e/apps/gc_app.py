"""GC pauses known by construction (test_gc_pauses.py).

The app records every collection of its own process through gc.callbacks
(which wrap CPython's gc__start/gc__done probes perfd uses): count and summed
duration per generation, served at /gcstats. /gc/full builds cyclic garbage
and forces a full (generation 2) collection; /gc/young forces a generation-0
one; /ping does neither.
"""
import gc
import threading
import time

from fastapi import FastAPI

from common import add_common_routes

app = FastAPI(title="gc_app")
add_common_routes(app)

_lock = threading.Lock()
_counts = [0, 0, 0]
_spent_ns = [0, 0, 0]
_started = {}


def _on_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _started["t"] = time.perf_counter_ns()
    elif "t" in _started:
        g = info["generation"]
        with _lock:
            _counts[g] += 1
            _spent_ns[g] += time.perf_counter_ns() - _started.pop("t")


gc.callbacks.append(_on_gc)


class Node:
    def __init__(self) -> None:
        self.other = None


def _garbage(n: int) -> None:
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a


@app.get("/gc/full")
async def gc_full() -> dict:
    _garbage(20000)
    return {"collected": gc.collect(2)}


@app.get("/gc/young")
async def gc_young() -> dict:
    return {"collected": gc.collect(0)}


@app.get("/ping")
async def ping() -> dict:
    return {"ok": True}


@app.get("/gcstats")
async def gcstats() -> dict:
    with _lock:
        return {"counts": list(_counts), "spent_ns": list(_spent_ns)}
