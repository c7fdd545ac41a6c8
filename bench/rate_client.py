"""A constant-rate HTTP/1.1 load generator (wrk2-style) for bench/overhead.sh.

Debian's wrk only saturates; latency at saturation is queueing, not the
service. This client sends RATE requests per second in total over CONNECTIONS
keep-alive connections on an open-loop schedule: request i of connection k is
due at t0 + (k + i * CONNECTIONS) / RATE whatever happened before, and its
latency is measured from that due time, not from when it was sent, so a stall
is charged to every request it delayed (no coordinated omission).

  rate_client.py URL RATE DURATION_S CONNECTIONS [Header: value]...

Prints one JSON object: requests (2xx/3xx answered), errors (other statuses,
broken connections), late (woke more than 1 ms after a due time it was waiting
for: the client itself could not keep up, which makes the latencies suspect), p50_us, p99_us, max_us.
"""
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


async def connection(host: str, port: int, request: bytes, due: list, lat: list,
                     counts: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for t_due in due:
            delay = t_due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                if time.monotonic() - t_due > 0.001:  # our own loop was late, not the service
                    counts["late"] += 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            lat.append(time.monotonic() - t_due)
            counts["requests" if status < 400 else "errors"] += 1
    except (ConnectionError, asyncio.IncompleteReadError):
        counts["errors"] += 1
    finally:
        writer.close()


def percentile(sorted_values: list, q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def main() -> None:
    url, rate, duration, conns, *headers = sys.argv[1:]
    rate, duration, conns = float(rate), float(duration), int(conns)
    parts = urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    extra = "".join(h + "\r\n" for h in headers)
    request = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}\r\n").encode()
    total = int(rate * duration)
    t0 = time.monotonic() + 0.2  # time to open the connections
    lat: list = []
    counts = {"requests": 0, "errors": 0, "late": 0}
    await asyncio.gather(*(
        connection(parts.hostname, parts.port or 80, request,
                   [t0 + (k + i * conns) / rate for i in range((total - k + conns - 1) // conns)],
                   lat, counts)
        for k in range(conns)))
    lat.sort()
    print(json.dumps({**counts,
                      "p50_us": round(percentile(lat, 0.50) * 1e6, 1),
                      "p99_us": round(percentile(lat, 0.99) * 1e6, 1),
                      "max_us": round(lat[-1] * 1e6, 1) if lat else float("nan")}))


if __name__ == "__main__":
    asyncio.run(main())
