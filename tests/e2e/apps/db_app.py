"""Issue 7's end-to-end workload: routes whose database and cache cost is known
by construction, so perfd's per-query and per-request numbers can be checked
exactly (test_db.py).

Config by env: E2E_DATABASE_URL (PostgreSQL, plain), E2E_REDIS_URL, and
optionally E2E_DATABASE_TLS_URL (a server that only speaks TLS; /tls/one then
exists), E2E_DB_CONNECT (when the pools connect: startup or first-use, see
CONNECT). The table is made at startup on a connection closed right after.

Queries per request, by route (driver housekeeping not counted: asyncpg's pool
sends one reset query, `SELECT pg_advisory_unlock_all(); CLOSE ALL; ...`, as a
simple Query each time a connection goes back to the pool; psycopg runs in
autocommit, so it sends no BEGIN/COMMIT):
  /asyncpg/sleep   1  SELECT pg_sleep(0.02)                  (asyncpg, extended protocol)
  /psycopg/sleep   1  SELECT pg_sleep($1), 0.02 bound        (psycopg 3; named statement
                                                              after its prepare threshold)
  /asyncpg/n1     21  1 x SELECT id ... LIMIT 20, then 20 x ITEM_NAME_SQL one after the
                      other on one connection: the N+1 pattern, call site N1_CALL_SITE
  /asyncpg/one     1  ITEM_NAME_SQL
  /asyncpg/gather  3  ITEM_NAME_SQL x 3 at once on 3 pool connections: fan-out, not N+1
  /redis/getset    2  SET then GET (redis.asyncio)
  /tls/one         1  ITEM_NAME_SQL over TLS (encrypted: perfd must not decode it)
  /call-sites      0  where this file's repeated query sits, as this interpreter sees it
"""
import asyncio
import inspect
import os
import random

import asyncpg
import redis.asyncio as aioredis
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from common import add_common_routes

app = FastAPI(title="db_app")
add_common_routes(app)

PG_SLEEP_SECONDS = 0.02
ITEMS = 50
N1_IDS = 20
ITEM_NAME_SQL = "SELECT name FROM items WHERE id = $1"
N1_MARKER = "# perfd-e2e: N+1 call site"

_pg = None        # asyncpg pool, plain server
_pg_tls = None    # asyncpg pool, TLS server (optional)
_psycopg = None   # psycopg 3 pool, plain server
_redis = None
_open_lock = asyncio.Lock()
# When the pools connect: "startup" (default, as real apps do: a tracer started
# or attached later meets them already open) or "first-use" (on the first
# request that needs them, so a tracer that was attached by then sees every
# connection from its first byte).
CONNECT = os.environ.get("E2E_DB_CONNECT", "startup")


async def fetch_item_name(conn: asyncpg.Connection, item_id: int) -> str:
    """The repeated query of /asyncpg/n1, alone on its line so its call site is one line."""
    return await conn.fetchval(ITEM_NAME_SQL, item_id)  # perfd-e2e: N+1 call site


def _call_site_of(func, marker: str) -> dict:
    """function, file and line of the line in `func` that carries `marker`."""
    lines, first = inspect.getsourcelines(func)
    hits = [first + i for i, line in enumerate(lines) if marker in line]
    assert len(hits) == 1, f"{marker!r} must mark exactly one line of {func.__name__}"
    return {"function": func.__name__, "file": inspect.getsourcefile(func), "line": hits[0]}


N1_CALL_SITE = _call_site_of(fetch_item_name, N1_MARKER)


async def _create_items(dsn: str) -> None:
    """items(id, name) with ITEMS rows, on a connection of its own, closed after.
    Both workers start at once and concurrent CREATE TABLE IF NOT EXISTS can
    still collide in the catalog, hence the lock."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7007)")
            await conn.execute("CREATE TABLE IF NOT EXISTS items(id int PRIMARY KEY, name text)")
            await conn.execute("INSERT INTO items SELECT g, 'item-' || g "
                               "FROM generate_series(1, $1::int) g ON CONFLICT DO NOTHING", ITEMS)
    finally:
        await conn.close()


async def _open_pools() -> None:
    global _pg, _pg_tls, _psycopg, _redis
    pg = await asyncpg.create_pool(os.environ["E2E_DATABASE_URL"], min_size=2, max_size=4)
    tls_url = os.environ.get("E2E_DATABASE_TLS_URL")
    pg_tls = await asyncpg.create_pool(tls_url, min_size=1, max_size=2) if tls_url else None
    # autocommit: one statement is one query on the wire (no BEGIN/COMMIT around it).
    psy = AsyncConnectionPool(os.environ["E2E_DATABASE_URL"], min_size=2, max_size=4,
                              kwargs={"autocommit": True}, open=False)
    await psy.open(wait=True)
    _pg_tls, _psycopg, _redis = pg_tls, psy, aioredis.Redis.from_url(os.environ["E2E_REDIS_URL"])
    _pg = pg  # last: routes wait for _pg, so all pools are open once it is set


async def pools() -> None:
    """Opens the pools on first use (E2E_DB_CONNECT=first-use); no-op once open.
    Opening them adds connection handshakes to that request, no query."""
    if _pg is None:
        async with _open_lock:
            if _pg is None:
                await _open_pools()


@app.on_event("startup")
async def startup() -> None:
    await _create_items(os.environ["E2E_DATABASE_URL"])
    if os.environ.get("E2E_DATABASE_TLS_URL"):
        await _create_items(os.environ["E2E_DATABASE_TLS_URL"])
    if CONNECT == "startup":
        await _open_pools()
    elif CONNECT != "first-use":
        raise ValueError(f"E2E_DB_CONNECT={CONNECT!r}: want startup or first-use")


@app.on_event("shutdown")
async def shutdown() -> None:
    if _pg is None:
        return
    await _pg.close()
    if _pg_tls is not None:
        await _pg_tls.close()
    await _psycopg.close()
    await _redis.close()


@app.get("/asyncpg/sleep")
async def asyncpg_sleep() -> dict:
    await pools()
    await _pg.fetchval("SELECT pg_sleep(0.02)")
    return {"slept": PG_SLEEP_SECONDS}


@app.get("/psycopg/sleep")
async def psycopg_sleep() -> dict:
    await pools()
    async with _psycopg.connection() as conn:
        await conn.execute("SELECT pg_sleep(%s)", (PG_SLEEP_SECONDS,))
    return {"slept": PG_SLEEP_SECONDS}


@app.get("/asyncpg/n1")
async def asyncpg_n1() -> dict:
    await pools()
    async with _pg.acquire() as conn:
        rows = await conn.fetch("SELECT id FROM items ORDER BY id LIMIT 20")
        names = []
        for row in rows:
            names.append(await fetch_item_name(conn, row["id"]))
    assert len(names) == N1_IDS, names
    return {"names": len(names)}


@app.get("/asyncpg/one")
async def asyncpg_one() -> dict:
    await pools()
    return {"name": await _pg.fetchval(ITEM_NAME_SQL, random.randint(1, ITEMS))}


@app.get("/asyncpg/gather")
async def asyncpg_gather() -> dict:
    await pools()
    # Three pool.fetchval calls at once: each holds its own connection while it runs.
    ids = random.sample(range(1, ITEMS + 1), 3)
    names = await asyncio.gather(*(_pg.fetchval(ITEM_NAME_SQL, i) for i in ids))
    return {"names": len(names)}


@app.get("/redis/getset")
async def redis_getset() -> dict:
    await pools()
    key = f"e2e:getset:{os.getpid()}"
    value = str(random.randint(0, 1 << 30))
    await _redis.set(key, value)
    got = await _redis.get(key)
    # Another request of this worker may have SET in between: only the type is sure.
    return {"key": key, "got": got is not None}


if os.environ.get("E2E_DATABASE_TLS_URL"):
    @app.get("/tls/one")
    async def tls_one() -> dict:
        await pools()
        return {"name": await _pg_tls.fetchval(ITEM_NAME_SQL, random.randint(1, ITEMS))}


@app.get("/call-sites")
async def call_sites() -> dict:
    return {"n1": N1_CALL_SITE}
