"""asyncpg pool, schema and seed data.

Schema creation runs in every worker at startup; an advisory lock serialises
it so `--workers N` does not race on CREATE TABLE IF NOT EXISTS.
"""
import hashlib
import os
from typing import Optional

import asyncpg

from shop import config

_pool: Optional[asyncpg.Pool] = None

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id            serial PRIMARY KEY,
    username      text UNIQUE NOT NULL,
    password_salt bytea NOT NULL,
    password_hash bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS products (
    id          serial PRIMARY KEY,
    name        text UNIQUE NOT NULL,
    price_cents integer NOT NULL CHECK (price_cents >= 0),
    stock       integer NOT NULL CHECK (stock >= 0)
);
CREATE TABLE IF NOT EXISTS orders (
    id          serial PRIMARY KEY,
    user_id     integer NOT NULL REFERENCES users(id),
    total_cents integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS order_items (
    order_id    integer NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    product_id  integer NOT NULL REFERENCES products(id),
    quantity    integer NOT NULL,
    price_cents integer NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX IF NOT EXISTS orders_user_id ON orders(user_id);
"""

SEED_USERS = [("alice", "wonderland"), ("bob", "builder"), ("carol", "christmas")]
SEED_PRODUCTS = [
    ("Espresso beans 1kg", 2490), ("Pour-over kettle", 5900), ("Burr grinder", 12900),
    ("Paper filters x100", 690), ("Ceramic dripper", 2400), ("Milk jug", 1500),
    ("Digital scale", 3200), ("Travel mug", 1990), ("Cold brew jar", 2700),
    ("Tamper", 2900), ("Knock box", 2200), ("Decaf beans 500g", 1490),
    ("Green tea 100g", 890), ("Chai mix", 790), ("Oat milk 1l", 290),
    ("Espresso cups x2", 1800), ("Cleaning tablets", 990), ("Descaler", 1190),
    ("Barista apron", 2500), ("Moka pot", 3400),
]
# Large enough that the demo's load generator never runs a product dry.
SEED_STOCK = 1_000_000


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 10_000)


async def init_pool() -> asyncpg.Pool:
    global _pool
    _pool = await asyncpg.create_pool(config.DATABASE_URL, min_size=config.POOL_MIN,
                                      max_size=config.POOL_MAX)
    async with _pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(715517)")
            await conn.execute(SCHEMA)
            await _seed(conn)
    return _pool


async def _seed(conn: asyncpg.Connection) -> None:
    for username, password in SEED_USERS:
        salt = os.urandom(16)
        await conn.execute(
            "INSERT INTO users (username, password_salt, password_hash) VALUES ($1, $2, $3)"
            " ON CONFLICT (username) DO NOTHING", username, salt, hash_password(password, salt))
    await conn.executemany(
        "INSERT INTO products (name, price_cents, stock) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO NOTHING",
        [(name, price, SEED_STOCK) for name, price in SEED_PRODUCTS])


async def close_pool() -> None:
    global _pool
    if _pool is not None:
        await _pool.close()
        _pool = None


def pool() -> asyncpg.Pool:
    if _pool is None:
        raise RuntimeError("database pool not initialised (startup did not run)")
    return _pool
