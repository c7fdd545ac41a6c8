"""Route cardinality: `app` serves its OpenAPI document, `app_noapi` serves none
(openapi_url=None), so perfd has to fall back to its path heuristics for it."""
from fastapi import FastAPI

from common import add_common_routes


def _routes(app: FastAPI) -> None:
    add_common_routes(app)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict:
        return {"item_id": item_id}

    @app.get("/orders")
    async def orders() -> dict:
        return {"orders": []}

    @app.get("/users/{name}")
    async def user(name: str) -> dict:
        return {"ok": True}  # never echoes the name

    @app.get("/u/{name}/posts")
    async def posts(name: str) -> dict:
        return {"posts": []}

    @app.get("/call/{number}")
    async def call(number: str) -> dict:
        return {"ok": True}


app = FastAPI(title="cardinality_app")
_routes(app)

app_noapi = FastAPI(title="cardinality_app_noapi", openapi_url=None, docs_url=None,
                    redoc_url=None)
_routes(app_noapi)
