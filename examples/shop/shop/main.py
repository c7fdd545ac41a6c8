"""The shop's HTTP API: `uvicorn shop.main:app --app-dir examples/shop`."""
import json
from typing import List

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Query, status

from shop import auth, db
from shop.models import LoginRequest, Order, OrderCreate, OrderItem, Product, Token, User

app = FastAPI(title="shop", version="1.0.0")


@app.on_event("startup")
async def _startup() -> None:
    await db.init_pool()


@app.on_event("shutdown")
async def _shutdown() -> None:
    await db.close_pool()


@app.get("/health")
async def health() -> dict:
    await db.pool().fetchval("SELECT 1")
    return {"status": "ok"}


@app.post("/login", response_model=Token)
async def login(body: LoginRequest) -> Token:
    user = await auth.authenticate(body.username, body.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "bad username or password")
    return Token(access_token=auth.create_token(user), user_id=user.id)


@app.get("/products", response_model=List[Product])
async def list_products(limit: int = Query(20, ge=1, le=100),
                        offset: int = Query(0, ge=0)) -> List[Product]:
    rows = await db.pool().fetch(
        "SELECT id, name, price_cents, stock FROM products ORDER BY id LIMIT $1 OFFSET $2",
        limit, offset)
    return [Product(**dict(r)) for r in rows]


@app.get("/products/{product_id}", response_model=Product)
async def get_product(product_id: int) -> Product:
    row = await db.pool().fetchrow(
        "SELECT id, name, price_cents, stock FROM products WHERE id = $1", product_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such product")
    return Product(**dict(row))


async def _load_orders(conn: asyncpg.Connection, where: str, *args) -> List[Order]:
    rows = await conn.fetch(
        f"SELECT o.id, o.user_id, o.total_cents, o.created_at,"
        f" coalesce(json_agg(json_build_object('product_id', i.product_id,"
        f" 'quantity', i.quantity, 'price_cents', i.price_cents)) FILTER (WHERE i.order_id"
        f" IS NOT NULL), '[]')::text AS items"
        f" FROM orders o LEFT JOIN order_items i ON i.order_id = o.id"
        f" WHERE {where} GROUP BY o.id ORDER BY o.id DESC LIMIT 50", *args)
    return [Order(id=r["id"], user_id=r["user_id"], total_cents=r["total_cents"],
                  created_at=r["created_at"],
                  items=[OrderItem.parse_obj(i) for i in json.loads(r["items"])])
            for r in rows]


@app.get("/users/{user_id}/orders", response_model=List[Order])
async def user_orders(user_id: int, user: User = Depends(auth.get_current_user)) -> List[Order]:
    if user.id != user_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you can only see your own orders")
    async with db.pool().acquire() as conn:
        return await _load_orders(conn, "o.user_id = $1", user_id)


@app.get("/orders/{order_id}", response_model=Order)
async def get_order(order_id: int, user: User = Depends(auth.get_current_user)) -> Order:
    async with db.pool().acquire() as conn:
        orders = await _load_orders(conn, "o.id = $1 AND o.user_id = $2", order_id, user.id)
    if not orders:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such order")
    return orders[0]


@app.post("/orders", response_model=Order, status_code=status.HTTP_201_CREATED)
async def create_order(body: OrderCreate, user: User = Depends(auth.get_current_user)) -> Order:
    wanted = {}
    for line in body.items:
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    async with db.pool().acquire() as conn:
        async with conn.transaction():
            # Lock the rows in id order so concurrent orders cannot deadlock.
            rows = await conn.fetch(
                "SELECT id, price_cents, stock FROM products WHERE id = ANY($1::int[])"
                " ORDER BY id FOR UPDATE", sorted(wanted))
            found = {r["id"]: r for r in rows}
            missing = sorted(set(wanted) - set(found))
            if missing:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such product: {missing}")
            short = [pid for pid, qty in wanted.items() if found[pid]["stock"] < qty]
            if short:
                raise HTTPException(status.HTTP_409_CONFLICT, f"insufficient stock: {short}")
            total = sum(found[pid]["price_cents"] * qty for pid, qty in wanted.items())
            order_id = await conn.fetchval(
                "INSERT INTO orders (user_id, total_cents) VALUES ($1, $2) RETURNING id",
                user.id, total)
            await conn.executemany(
                "INSERT INTO order_items (order_id, product_id, quantity, price_cents)"
                " VALUES ($1, $2, $3, $4)",
                [(order_id, pid, qty, found[pid]["price_cents"]) for pid, qty in wanted.items()])
            await conn.executemany("UPDATE products SET stock = stock - $2 WHERE id = $1",
                                   list(wanted.items()))
            orders = await _load_orders(conn, "o.id = $1", order_id)
    return orders[0]
