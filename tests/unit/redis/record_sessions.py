#!/usr/bin/python3
"""Records real Redis client sessions as fixtures for the RESP decoder tests.

Starts a throwaway redis-server on loopback, puts a recording TCP proxy
between it and the clients, and drives it with redis-py (python3-redis from
Debian) and, for RESP3 (the Debian redis-py predates protocol=3), with a raw
socket speaking HELLO 3. Every chunk the proxy receives is logged with its
connection, direction and CLOCK_MONOTONIC timestamp, one JSON object a line:

  {"conn": 1, "dir": "out"|"in", "ts": <ns>, "data": [["h", "<hex>"] | ["r", <byte>, <count>], ...]}

"out" is client → server (what the traced process writes), "in" the replies.
Runs of 64+ equal bytes are stored as ["r", byte, count] so the 1 MB value
stays small. Re-record (overwrites tests/unit/redis/fixtures/*.jsonl):

  /usr/bin/python3 tests/unit/redis/record_sessions.py
"""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import redis
import redis.asyncio

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def encode(data):
    """Hex segments, with runs of 64+ equal bytes as ["r", byte, count]."""
    segs, i, lit = [], 0, bytearray()
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i >= 64:
            if lit:
                segs.append(["h", lit.hex()])
                lit = bytearray()
            segs.append(["r", data[i], j - i])
        else:
            lit += data[i:j]
        i = j
    if lit:
        segs.append(["h", lit.hex()])
    return segs


class RecordingProxy:
    """Forwards loopback TCP to the server, logging every chunk in order."""

    def __init__(self, server_port):
        self.server_port = server_port
        self.lock = threading.Lock()
        self.log = []
        self.next_conn = 1
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.server_port))
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                conn = self.next_conn
                self.next_conn += 1
            threading.Thread(target=self._pump, args=(conn, "out", client, upstream),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(conn, "in", upstream, client),
                             daemon=True).start()

    def _pump(self, conn, direction, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self.lock:
                # Logged before forwarding: a reply is always logged after its command.
                self.log.append({"conn": conn, "dir": direction, "ts": time.monotonic_ns(),
                                 "data": encode(data)})
            dst.sendall(data)

    def take(self):
        with self.lock:
            log, self.log = self.log, []
            self.next_conn = 1
            return log


def wait_quiet(proxy, n_before=None):
    """Waits until no chunk arrived for a while (the last replies are logged)."""
    last = -1
    while True:
        with proxy.lock:
            n = len(proxy.log)
        if n == last:
            return
        last = n
        time.sleep(0.3)


# --- scenarios ---------------------------------------------------------------

def sync_basic(port):
    r = redis.Redis(port=port)
    r.set("user:1", "alice")
    r.get("user:1")
    r.get("missing")
    r.incr("counter")
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.hgetall("h")
    r.delete("user:1", "counter", "h")
    r.close()


def pipeline50(port):
    r = redis.Redis(port=port)
    pipe = r.pipeline(transaction=False)
    for i in range(50):
        [pipe.set, pipe.get, pipe.incr][i % 3](*((f"p{i}", i) if i % 3 == 0 else (f"p{i}",)))
    pipe.execute()
    r.close()


def transaction(port):
    r = redis.Redis(port=port)
    pipe = r.pipeline(transaction=True)
    pipe.set("t", 1)
    pipe.incr("t")
    pipe.get("t")
    pipe.execute()
    r.close()


def wrongtype(port):
    r = redis.Redis(port=port)
    r.set("s", "v")
    for call in (lambda: r.lpush("s", "x"), lambda: r.execute_command("NOSUCHCMD", "a")):
        try:
            call()
        except redis.ResponseError:
            pass
    r.get("s")
    r.close()


def big_value(port):
    r = redis.Redis(port=port)
    r.set("big", b"x" * (1 << 20))
    r.get("big")
    r.close()


def pubsub(port):
    sub_client = redis.Redis(port=port)
    p = sub_client.pubsub()
    p.subscribe("news", "alerts")
    got = 0
    while got < 2:  # the confirmations
        if p.get_message(timeout=5):
            got += 1
    pub = redis.Redis(port=port)
    for i in range(3):
        pub.publish("news", f"hello {i}")
    got = 0
    while got < 3:
        m = p.get_message(timeout=5)
        if m and m["type"] == "message":
            got += 1
    p.unsubscribe("news", "alerts")
    got = 0
    while got < 2:
        if p.get_message(timeout=5):
            got += 1
    p.close()
    pub.close()
    sub_client.close()


def asyncio_concurrent(port):
    async def main():
        r = redis.asyncio.Redis(port=port)
        await asyncio.gather(*(r.set(f"a{i}", i) for i in range(8)))
        await asyncio.gather(*(r.get(f"a{i}") for i in range(8)))
        await r.close()
        await r.connection_pool.disconnect()

    asyncio.run(main())


class RawResp:
    """A raw socket speaking RESP, for what the Debian redis-py cannot send."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        """One RESP2/RESP3 value (attributes included)."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in b"$!=":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t in b"*~>":
            n = int(rest)
            return [self.read() for _ in range(max(n, 0))]
        if t in b"%|":
            kv = [self.read() for _ in range(2 * int(rest))]
            return self.read() if t == b"|" else kv
        return line

    def call(self, *args):
        self.send(*args)
        return self.read()

    def close(self):
        self.s.close()


def resp3_raw(port):
    a = RawResp(port)
    a.call("HELLO", "3")
    a.call("SET", "k", "v1")
    a.call("GET", "k")
    a.call("GET", "nope")  # RESP3 null
    a.call("HSET", "h3", "f1", "1", "f2", "2")
    a.call("HGETALL", "h3")  # map
    a.call("SADD", "s3", "m1", "m2")
    a.call("SMEMBERS", "s3")  # set
    a.call("ZADD", "z3", "1.5", "m")
    a.call("ZSCORE", "z3", "m")  # double
    a.call("EVAL", "return {big_number='123456789012345678901234567890'}", "0")
    a.call("EVAL", "return {double=3.25}", "0")
    a.call("EVAL", "redis.setresp(3); return true", "0")  # boolean
    a.call("CLIENT", "INFO")  # verbatim string
    a.call("CLIENT", "TRACKING", "on")
    a.call("GET", "k")
    b = RawResp(port)
    b.call("SET", "k", "v2")
    assert a.read()[0] == b"invalidate"  # the push, no command waits for it
    a.call("PING")
    a.call("SUBSCRIBE", "c3")  # confirmation as a push
    b.call("PUBLISH", "c3", "hi")
    a.read()  # the message push
    a.call("UNSUBSCRIBE", "c3")
    # CLIENT REPLY: SKIP silences itself and the next command, OFF all until ON.
    a.send("CLIENT", "REPLY", "SKIP")
    a.send("SET", "k", "v3")
    a.send("CLIENT", "REPLY", "OFF")
    a.send("INCR", "n")
    a.call("CLIENT", "REPLY", "ON")
    a.call("GET", "k")
    a.close()
    b.close()


SCENARIOS = [sync_basic, pipeline50, transaction, wrongtype, big_value, pubsub,
             asyncio_concurrent, resp3_raw]


def main():
    server_port = free_port()
    tmp = tempfile.mkdtemp(prefix="perfd-redis-rec-")
    server = subprocess.Popen(
        ["/usr/bin/redis-server", "--port", str(server_port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL)
    try:
        while True:
            try:
                redis.Redis(port=server_port).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        proxy = RecordingProxy(server_port)
        os.makedirs(OUT_DIR, exist_ok=True)
        for scenario in SCENARIOS:
            redis.Redis(port=server_port).flushall()
            proxy.take()
            scenario(proxy.port)
            wait_quiet(proxy)
            log = proxy.take()
            path = os.path.join(OUT_DIR, scenario.__name__ + ".jsonl")
            with open(path, "w") as f:
                for rec in log:
                    f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            print(f"{scenario.__name__}: {len(log)} chunks → {path}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
