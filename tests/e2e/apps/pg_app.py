"""Test l: a route whose cost is a PostgreSQL round trip of pg_sleep(0.03)."""
import os

import asyncpg
from fastapi import FastAPI

from common import add_common_routes

app = FastAPI(title="pg_app")
add_common_routes(app)
PG_SLEEP_SECONDS = 0.03
_pool = None


@app.on_event("startup")
async def startup() -> None:
    global _pool
    _pool = await asyncpg.create_pool(os.environ["E2E_DATABASE_URL"], min_size=1, max_size=2)


@app.on_event("shutdown")
async def shutdown() -> None:
    await _pool.close()


@app.get("/db/sleep")
async def db_sleep() -> dict:
    await _pool.execute("SELECT pg_sleep($1)", PG_SLEEP_SECONDS)
    return {"slept": PG_SLEEP_SECONDS}
