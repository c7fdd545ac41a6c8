"""Multi-worker app for tests e, f, g: /pid says which worker answered."""
import asyncio
import os

from fastapi import FastAPI

from common import add_common_routes

app = FastAPI(title="workers_app")
add_common_routes(app)


@app.get("/spread")
async def spread() -> dict:
    # A short await keeps a worker busy so concurrent connections land on both.
    await asyncio.sleep(0.01)
    return {"pid": os.getpid()}


@app.get("/after-restart")
async def after_restart() -> dict:
    await asyncio.sleep(0.01)
    return {"pid": os.getpid()}
