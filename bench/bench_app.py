"""The trivial route bench/overhead.sh hammers: no I/O, tiny JSON body."""
from fastapi import FastAPI

app = FastAPI(title="bench_app")


@app.get("/ping")
async def ping() -> dict:
    return {"ok": True}


def _burn(n: int) -> int:
    x = 0
    for i in range(n):
        x += i * i
    return x


@app.get("/cpu")
async def cpu() -> dict:
    # CPU-bound route (issue 3 bench): ~2 ms of pure-Python work.
    return {"x": _burn(20000)}
