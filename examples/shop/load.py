#!/usr/bin/python3.11
"""Light, bounded load for the shop demo (stdlib only).

Each thread keeps one keep-alive connection, logs in, then loops over a
weighted mix of requests at a capped rate, so perfd has a realistic spread of
routes and statuses (200, 201, 401, 403, 404, 422) to show. Stops when
--duration elapses (0 = until Ctrl-C / SIGTERM) and prints a status summary.

    /usr/bin/python3.11 examples/shop/load.py --url http://127.0.0.1:8000 --rate 20
"""
import argparse
import collections
import http.client
import json
import random
import signal
import sys
import threading
import time
import urllib.parse

USERS = [("alice", "wonderland"), ("bob", "builder"), ("carol", "christmas")]
PRODUCT_IDS = range(1, 21)


class Client:
    """One keep-alive connection; reconnects after errors or server closes."""

    def __init__(self, url: str, timeout: float):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, token=None):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.getheader("connection", "").lower() == "close":
                    self.close()
                return resp.status, payload
            except (ConnectionError, http.client.HTTPException, OSError):
                # A kept-alive socket the server closed in between: retry once.
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_key = collections.Counter()
        self.errors = 0

    def add(self, method, route, status):
        with self.lock:
            self.by_key[(method, route, status)] += 1

    def error(self):
        with self.lock:
            self.errors += 1

    def summary(self) -> str:
        with self.lock:
            items = sorted(self.by_key.items())
            total, errors = sum(self.by_key.values()), self.errors
        lines = [f"{'method':6} {'route':28} {'status':>6} {'count':>7}"]
        lines += [f"{m:6} {r:28} {s:>6} {c:>7}" for (m, r, s), c in items]
        lines.append(f"total {total} responses, {errors} connection errors")
        return "\n".join(lines)


def worker(args, stop: threading.Event, stats: Stats, seed: int):
    rnd = random.Random(seed)
    client = Client(args.url, args.timeout)
    username, password = USERS[seed % len(USERS)]
    token, user_id = None, None
    interval = args.threads / args.rate if args.rate > 0 else 0.0
    next_at = time.monotonic()

    def call(method, route, path, **kw):
        try:
            status, payload = client.request(method, path, **kw)
        except (OSError, http.client.HTTPException):
            stats.error()
            stop.wait(0.5)  # server restarting or gone: back off, do not spin
            return None, b""
        stats.add(method, route, status)
        return status, payload

    while not stop.is_set():
        if token is None:
            status, payload = call("POST", "/login", "/login",
                                   body={"username": username, "password": password})
            if status == 200:
                body = json.loads(payload)
                token, user_id = body["access_token"], body["user_id"]
            else:
                continue
        r = rnd.random()
        if r < 0.25:
            call("GET", "/products", f"/products?limit={rnd.choice((5, 10, 20))}")
        elif r < 0.50:
            call("GET", "/products/{product_id}", f"/products/{rnd.choice(PRODUCT_IDS)}")
        elif r < 0.55:
            call("GET", "/products/{product_id}", f"/products/{rnd.randint(1000, 9999)}")  # 404
        elif r < 0.67:
            call("GET", "/users/{user_id}/orders", f"/users/{user_id}/orders", token=token)
        elif r < 0.70:
            call("GET", "/users/{user_id}/orders", f"/users/{user_id}/orders")  # 401
        elif r < 0.72:
            call("GET", "/users/{user_id}/orders", f"/users/{user_id % 3 + 1}/orders",
                 token=token)  # 403 (someone else's), 200 for the 1-in-3 wrap-around
        elif r < 0.84:
            items = [{"product_id": rnd.choice(PRODUCT_IDS), "quantity": rnd.randint(1, 3)}
                     for _ in range(rnd.randint(1, 3))]
            call("POST", "/orders", "/orders", body={"items": items}, token=token)
        elif r < 0.86:
            call("POST", "/orders", "/orders", body={"items": []}, token=token)  # 422
        elif r < 0.88:
            call("POST", "/orders", "/orders",
                 body={"items": [{"product_id": 424242, "quantity": 1}]}, token=token)  # 404
        elif r < 0.90:
            call("POST", "/login", "/login", body={"username": username, "password": "wrong"})
        elif r < 0.92:
            call("GET", "/users/{user_id}/orders", f"/users/{user_id}/orders",
                 token="not.a.jwt")  # 401
        else:
            call("GET", "/health", "/health")
        if interval:
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                stop.wait(delay)
            else:
                next_at = time.monotonic()  # fell behind: do not burst to catch up
    client.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8000", help="shop base URL")
    p.add_argument("--duration", type=float, default=0.0,
                   help="seconds to run; 0 = until Ctrl-C/SIGTERM")
    p.add_argument("--rate", type=float, default=20.0,
                   help="total requests per second across threads (capped, 0 = unthrottled)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    p.add_argument("--report-every", type=float, default=10.0,
                   help="print a summary every N seconds (0 = only at the end)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if args.rate > 1000 or args.threads > 32:
        p.error("this is a light demo load: --rate <= 1000 and --threads <= 32")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stats = Stats()
    threads = [threading.Thread(target=worker, args=(args, stop, stats, args.seed + i),
                                daemon=True) for i in range(args.threads)]
    for t in threads:
        t.start()
    start = time.monotonic()
    next_report = start + args.report_every if args.report_every else float("inf")
    while not stop.is_set():
        now = time.monotonic()
        if args.duration and now - start >= args.duration:
            break
        if now >= next_report:
            print(f"--- after {now - start:.0f}s\n{stats.summary()}", flush=True)
            next_report += args.report_every
        stop.wait(0.2)
    stop.set()
    for t in threads:
        t.join(timeout=args.timeout + 1)
    print(f"--- done after {time.monotonic() - start:.1f}s\n{stats.summary()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
