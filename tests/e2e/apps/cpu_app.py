"""Routes whose Python CPU split is known by construction (issue 3 e2e).

Each cost is burned as thread CPU time (time.thread_time), inside the body of
the function whose category the test asserts, so the leaf-most Python frame
of every sample is that function.
"""
import time
from typing import List

from fastapi import Depends, FastAPI
from pydantic import BaseModel

from common import add_common_routes

app = FastAPI()
add_common_routes(app)

AUTH_CPU = 0.010  # seconds of CPU per request in the auth dependency
APP_CPU = 0.030  # seconds of CPU per request in the handler


async def get_current_user() -> str:
    # Name matches the default auth rule (*get_current_user*).
    end = time.thread_time() + AUTH_CPU
    while time.thread_time() < end:
        pass
    return "alice"


@app.get("/split")
async def split(user: str = Depends(get_current_user)) -> dict:
    end = time.thread_time() + APP_CPU
    while time.thread_time() < end:
        pass
    return {"user": user}


def get_current_user_sync() -> str:
    # A sync dependency: FastAPI runs it in an anyio worker thread.
    end = time.thread_time() + 0.020
    while time.thread_time() < end:
        pass
    return "bob"


@app.get("/sync-auth")
async def sync_auth(user: str = Depends(get_current_user_sync)) -> dict:
    return {"user": user}


class Leaf(BaseModel):
    id: int
    name: str
    price: float
    tags: List[str]


class Node(BaseModel):
    title: str
    leaves: List[Leaf]


class Order(BaseModel):
    customer: str
    nodes: List[Node]


@app.post("/orders")
async def create_order(order: Order) -> dict:
    return {"nodes": len(order.nodes)}
