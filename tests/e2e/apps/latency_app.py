"""Costs and statuses known by construction (tests a, b, c)."""
import asyncio

from fastapi import FastAPI, HTTPException

from common import add_common_routes

app = FastAPI(title="latency_app")
add_common_routes(app)

SLEEP_SECONDS = 0.05


@app.get("/sleep")
async def sleep() -> dict:
    await asyncio.sleep(SLEEP_SECONDS)
    return {"slept": SLEEP_SECONDS}


@app.get("/mixed")
async def mixed(code: int) -> dict:
    # A non-integer `code` never reaches here: FastAPI answers 422.
    if code == 404:
        raise HTTPException(status_code=404, detail="not found")
    if code == 500:
        raise RuntimeError("boom (deliberate, e2e test)")  # unhandled: Starlette answers 500
    return {"code": code}


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict:
    return {"item_id": item_id}
