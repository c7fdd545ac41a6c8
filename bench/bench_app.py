"""The trivial route bench/overhead.sh hammers: no I/O, tiny JSON body."""
from fastapi import FastAPI

app = FastAPI(title="bench_app")


@app.get("/ping")
async def ping() -> dict:
    return {"ok": True}
