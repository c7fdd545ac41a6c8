"""Routes every e2e test app carries.

/health answers readiness probes; /warmup/{n} is the route the suite drives
until perfd reports it under its template, which proves the worker is traced
AND the app's OpenAPI routes are loaded before the measured traffic starts.
"""
import os

from fastapi import FastAPI


def add_common_routes(app: FastAPI) -> None:
    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/warmup/{n}")
    async def warmup(n: int) -> dict:
        return {"n": n}

    @app.get("/pid")
    async def pid() -> dict:
        return {"pid": os.getpid()}
