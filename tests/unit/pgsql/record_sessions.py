#!/usr/bin/python3.11
"""Records real PostgreSQL client sessions as fixtures for the pgsql decoder tests.

Starts a throwaway PostgreSQL 15 on a loopback port (as tests/e2e/conftest.py's
`postgres` fixture does), puts a recording TCP proxy between a real driver
(asyncpg, psycopg 3) and the server, and writes one fixture per client
connection into fixtures/: NAME.bin (the bytes of every chunk, concatenated)
and NAME.idx (one line per chunk: e|i offset length ts_ns; e = client → server,
i = server → client; ts_ns relative to the connection's first chunk).

The proxy sees what crossed the socket in the chunks its recv() returned; the
decoder tests split and truncate those chunks every way anyway.

Re-record (as root; needs postgresql-15, python3-asyncpg, python3-psycopg, openssl):
    /usr/bin/python3.11 tests/unit/pgsql/record_sessions.py
Rows and SQL are synthetic; nothing recorded here comes from a real database.
"""
import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import asyncpg
import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OUT = Path(__file__).resolve().parent / "fixtures"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self):
        pw = pwd.getpwnam("postgres")
        self.dir = Path(tempfile.mkdtemp(prefix="perfd-pgrec-"))
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = self.dir / "data"
        self.port = free_port()
        subprocess.run([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                        "postgres", "-E", "UTF8", "--no-sync"], user="postgres",
                       group="postgres", check=True, capture_output=True, cwd=self.dir)
        # A self-signed certificate, so ssl can be switched on later by a reload.
        subprocess.run(["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj",
                        "/CN=localhost", "-keyout", str(self.data / "server.key"), "-out",
                        str(self.data / "server.crt")], check=True, capture_output=True)
        for f in ("server.key", "server.crt"):
            os.chown(self.data / f, pw.pw_uid, pw.pw_gid)
            os.chmod(self.data / f, 0o600)
        subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                        str(self.dir / "log"), "-w", "-o",
                        f"-k {self.dir} -h 127.0.0.1 -p {self.port} -c fsync=off -c ssl=off",
                        "start"], user="postgres", group="postgres", check=True,
                       capture_output=True, cwd=self.dir)

    def restart_with_ssl(self):
        subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                        str(self.dir / "log"), "-w", "-m", "fast", "-o",
                        f"-k {self.dir} -h 127.0.0.1 -p {self.port} -c fsync=off -c ssl=on",
                        "restart"], user="postgres", group="postgres", check=True,
                       capture_output=True, cwd=self.dir)

    def stop(self):
        subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
                       user="postgres", group="postgres", capture_output=True, cwd=self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


class Proxy:
    """Accepts on a loopback port; each accepted connection is recorded."""

    def __init__(self, upstream_port: int):
        self.upstream = upstream_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []  # per connection: list of (dir, ts_ns, bytes)
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.upstream))
            log = []
            with self.lock:
                self.conns.append(log)
            for src, dst, d in ((c, u, "e"), (u, c, "i")):
                threading.Thread(target=self._pump, args=(src, dst, d, log), daemon=True).start()

    def _pump(self, src, dst, d, log):
        while True:
            try:
                b = src.recv(65536)
            except OSError:
                b = b""
            if not b:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self.lock:  # log before forwarding: the order of the log is causal
                log.append((d, time.monotonic_ns(), b))
            dst.sendall(b)

    def take(self, name: str, wait_for=1):
        """Writes the connections recorded since the last take as fixtures."""
        deadline = time.monotonic() + 10
        while True:
            with self.lock:
                n = len(self.conns)
            if n >= wait_for or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.3)  # let the pumps log the final chunks (Terminate, close)
        with self.lock:
            conns, self.conns = self.conns, []
        for k, log in enumerate(conns):
            stem = name if len(conns) == 1 else f"{name}-{k}"
            t0 = log[0][1] if log else 0
            off = 0
            with open(OUT / f"{stem}.bin", "wb") as bf, open(OUT / f"{stem}.idx", "w") as xf:
                for d, ts, b in log:
                    bf.write(b)
                    xf.write(f"{d} {off} {len(b)} {ts - t0}\n")
                    off += len(b)
            print(f"{stem}: {len(log)} chunks, {off} bytes")


async def asyncpg_basic(dsn):
    c = await asyncpg.connect(dsn, ssl="disable")
    await c.execute("CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text, "
                    "score float8)")
    await c.execute("INSERT INTO users VALUES (1, 'alice', 1.5), (2, 'bob', 2.5)")
    rows = await c.fetch("SELECT id, name FROM users WHERE id = $1 OR name = $2", 1, "bob")
    assert len(rows) == 2
    for i in range(3):  # prepared statement reuse (asyncpg's statement cache)
        await c.fetchrow("SELECT name FROM users WHERE id = $1", i)
    await c.executemany("INSERT INTO users (id, name, score) VALUES ($1, $2, $3)",
                        [(10 + i, f"u{i}", i * 1.0) for i in range(5)])
    try:
        await c.execute("INSERT INTO users (id, name) VALUES ($1, $2)", 1, "dup")
    except asyncpg.UniqueViolationError:
        pass
    try:
        await c.fetch("SELEC 1")
    except asyncpg.PostgresSyntaxError:
        pass
    async with c.transaction():
        await c.execute("UPDATE users SET score = score + 1 WHERE id = $1", 2)
        await c.fetchval("SELECT count(*) FROM users WHERE id IN ($1, $2, $3)", 1, 2, 3)
    await c.execute("DELETE FROM users WHERE id >= 10")
    await c.close()


async def asyncpg_copy(dsn):
    c = await asyncpg.connect(dsn, ssl="disable")
    await c.execute("CREATE TABLE IF NOT EXISTS items (id int, label text)")
    await c.copy_records_to_table("items", records=[(i, f"l{i}") for i in range(100)])
    out = Path(tempfile.mkdtemp()) / "items.csv"
    await c.copy_from_table("items", output=str(out), format="csv")
    await c.execute("DROP TABLE items")
    await c.close()


async def asyncpg_large(dsn):
    c = await asyncpg.connect(dsn, ssl="disable")
    rows = await c.fetch("SELECT g, 'row ' || g FROM generate_series(1, $1::int) g", 10000)
    assert len(rows) == 10000
    await c.close()


async def asyncpg_listen(dsn):
    c = await asyncpg.connect(dsn, ssl="disable")
    got = asyncio.Event()
    await c.add_listener("jobs", lambda *a: got.set())
    await c.execute("NOTIFY jobs, 'hello'")
    await asyncio.wait_for(got.wait(), 10)
    await c.remove_listener("jobs", lambda *a: None)
    await c.fetchval("SELECT 1")
    await c.close()


async def asyncpg_pool(dsn):
    pool = await asyncpg.create_pool(dsn, ssl="disable", min_size=1, max_size=1)
    async with pool.acquire() as c:
        await c.fetchval("SELECT $1::int + 1", 41)
    async with pool.acquire() as c:  # the release above ran the pool's reset query
        await c.fetchval("SELECT $1::int + 1", 1)
    await pool.close()


def psycopg_basic(dsn):
    with psycopg.connect(dsn, sslmode="disable", autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, total numeric, "
                  "note text)")
        c.execute("INSERT INTO orders VALUES (1, 9.99, 'it''s'), (2, 5, E'a\\nb')")
        c.execute("SELECT * FROM orders WHERE id IN (1, 2, 3) AND note <> $$x$$")
        for i in range(7):  # past prepare_threshold (5): a named prepared statement
            c.execute("SELECT total FROM orders WHERE id = %s", (i,)).fetchall()
        try:
            c.execute("INSERT INTO orders VALUES (%s, %s, %s)", (1, 1, "dup"))
        except psycopg.errors.UniqueViolation:
            pass
        with c.transaction():
            c.execute("UPDATE orders SET total = total + 1 WHERE id = %s", (2,))
            c.execute("SELECT count(*) FROM orders")
        c.execute("SELECT 1 -- trailing comment")


def psycopg_copy(dsn):
    with psycopg.connect(dsn, sslmode="disable", autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS lines (id int, body text)")
        with c.cursor().copy("COPY lines (id, body) FROM STDIN") as cp:
            for i in range(50):
                cp.write_row((i, f"b{i}"))
        with c.cursor().copy("COPY lines TO STDOUT") as cp:
            for _ in cp:
                pass
        c.execute("DROP TABLE lines")


def psycopg_ssl(dsn, mode):
    with psycopg.connect(dsn, sslmode=mode, autocommit=True) as c:
        c.execute("SELECT 1")


def main():
    if os.geteuid() != 0:
        sys.exit("run as root (initdb runs as user postgres)")
    OUT.mkdir(exist_ok=True)
    srv = Server()
    try:
        proxy = Proxy(srv.port)
        dsn = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
        for name, fn in (("asyncpg_basic", asyncpg_basic), ("asyncpg_copy", asyncpg_copy),
                         ("asyncpg_large", asyncpg_large), ("asyncpg_listen", asyncpg_listen),
                         ("asyncpg_pool", asyncpg_pool)):
            asyncio.run(fn(dsn))
            proxy.take(name)
        psycopg_basic(dsn)
        proxy.take("psycopg_basic")
        psycopg_copy(dsn)
        proxy.take("psycopg_copy")
        psycopg_ssl(dsn, "prefer")  # ssl=off: the server answers the SSLRequest 'N'
        proxy.take("ssl_refused")
        srv.restart_with_ssl()
        psycopg_ssl(dsn, "require")  # answered 'S', then TLS
        proxy.take("ssl_accepted")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
