"""Worker churn for bench/soak.sh: restarts uvicorn workers of many services,
each life serving a slice of (method, route) pairs, and samples perfd's
memory (RSS, open fds, BPF map entries, its own entry counts) at checkpoints.

One "life": start `uvicorn soak_app:app` with PERFD_SERVICE=soak-NN, wait
until it accepts connections and perfd's discovery has had time to attach,
send its slice of requests over keep-alive connections, stop it (SIGTERM).
Lives rotate over the services; PARALLEL lives run at once. Slices rotate
over the methods x routes pairs so every pair of every service is served.

Prints one line per checkpoint to stdout (a JSON object), progress to stderr.
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"]
HASH_TYPES = {"hash", "lru_hash", "percpu_hash", "lru_percpu_hash"}
SELF_METRICS = re.compile(
    r"^(perfd_aggregator_entries|perfd_http_metrics_series|perfd_python_stacks|perfd_python_frames|"
    r"perfd_tracked_workers|perfd_tracked_connections|perfd_aggregator_overflow_total|"
    r"perfd_aggregator_evicted_total|perfd_http_metrics_overflow_total|"
    r"perfd_http_metrics_evicted_total|perfd_python_stacks_overflow_total)(\{[^}]*\})? (\S+)$"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def map_ids(pid):
    """Ids of the BPF maps perfd holds a descriptor of (fdinfo's map_id)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("map_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def bpf_maps(pid):
    """name -> (type, entries) for perfd's maps; non-hash maps report max_entries."""
    out = {}
    ids = map_ids(pid)
    shown = json.loads(subprocess.run(["bpftool", "map", "show", "-j"], capture_output=True,
                                      text=True, check=True).stdout or "[]")
    for m in shown:
        if m["id"] not in ids:
            continue
        name = m.get("name", str(m["id"]))
        if m["type"] in HASH_TYPES:
            dump = subprocess.run(["bpftool", "map", "dump", "id", str(m["id"]), "-j"],
                                  capture_output=True, text=True)
            entries = len(json.loads(dump.stdout or "[]")) if dump.returncode == 0 else -1
        else:
            entries = m.get("max_entries", 0)
        out[name] = (m["type"], entries)
    return out


def self_metrics(url):
    values = {}
    with urllib.request.urlopen(url, timeout=30) as r:
        for line in r.read().decode().splitlines():
            m = SELF_METRICS.match(line)
            if m:
                values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return values


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])


def sample(label, pid, metrics_url):
    # RSS is read before the scrape: rendering ~10,000 histogram label sets
    # is a transient of tens of MiB that the allocator keeps mapped, so the
    # RSS after it is shown apart.
    before = rss_kb(pid)
    metrics = self_metrics(metrics_url)
    return {
        "label": label,
        "time": round(time.monotonic(), 1),
        "rss_kb": before,
        "rss_after_scrape_kb": rss_kb(pid),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "bpf_maps": bpf_maps(pid),
        "self": metrics,
    }


class Churn:
    def __init__(self, args):
        self.args = args
        self.pairs = [(m, f"/items/r{r}") for m in METHODS[: args.methods] for r in range(args.routes)]
        per_life = args.per_life or -(-2 * len(self.pairs) * args.services // args.restarts)
        self.per_life = min(per_life, len(self.pairs))
        self.lock = threading.Lock()
        self.next_life = 0
        self.done = 0
        self.requests = 0
        self.failures = 0

    def life(self, i):
        a = self.args
        service = i % a.services
        nth = i // a.services
        start = (nth * self.per_life) % len(self.pairs)
        pairs = [self.pairs[(start + k) % len(self.pairs)] for k in range(self.per_life)]
        port = free_port()
        env = dict(os.environ, PERFD_SERVICE=f"soak-{service:02d}", PYTHONDONTWRITEBYTECODE="1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "soak_app:app", "--app-dir", a.app_dir,
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--http", "h11",
             "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sent = failed = 0
        try:
            if not wait_listening(port, proc):
                return 0, 1
            time.sleep(a.attach_wait)  # discovery scans every 250 ms
            conn = None
            for method, path in pairs:
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    # CONNECT on a connection of its own, closed after.
                    conn.request(method, path, headers={"Connection": "close"} if method == "CONNECT" else {})
                    conn.getresponse().read()
                    sent += 1
                    if method == "CONNECT":
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException):
                    failed += 1
                    if conn is not None:
                        conn.close()
                    conn = None
            if conn is not None:
                conn.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return sent, failed

    def worker(self, upto):
        while True:
            with self.lock:
                if self.next_life >= upto:
                    return
                i = self.next_life
                self.next_life += 1
            sent, failed = self.life(i)
            with self.lock:
                self.done += 1
                self.requests += sent
                self.failures += failed
                if self.done % 50 == 0:
                    print(f"soak: {self.done}/{self.args.restarts} lives, {self.requests} requests, "
                          f"{self.failures} failed", file=sys.stderr, flush=True)

    def run_until(self, upto):
        threads = [threading.Thread(target=self.worker, args=(upto,)) for _ in range(self.args.parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def report(path):
    """Prints the checkpoints of a run side by side."""
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.startswith("{")]
    if not rows:
        sys.exit("soak: no samples")
    labels = [r["label"] for r in rows]
    width = max(44, *(len(k) + 2 for r in rows for k in list(r["self"]) + list(r["bpf_maps"])))
    print(f"{'':{width}}" + "".join(f"{l:>12}" for l in labels))

    def line(name, values):
        print(f"{name:{width}}" + "".join(f"{v:>12}" for v in values))

    line("perfd VmRSS (KiB)", [r["rss_kb"] for r in rows])
    line("perfd VmRSS after the scrape (KiB)", [r.get("rss_after_scrape_kb", "-") for r in rows])
    line("perfd open fds", [r["fds"] for r in rows])
    for key in sorted({k for r in rows for k in r["self"]}):
        line(key, [f"{r['self'].get(key, 0):.0f}" for r in rows])
    for name in sorted({k for r in rows for k in r["bpf_maps"]}):
        kind = next(r["bpf_maps"][name][0] for r in rows if name in r["bpf_maps"])
        suffix = "entries" if kind in HASH_TYPES else f"{kind}, size"
        line(f"bpf {name} ({suffix})", [r["bpf_maps"].get(name, ["", "-"])[1] for r in rows])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "report":
        report(sys.argv[2])
        return
    p = argparse.ArgumentParser()
    p.add_argument("--perfd-pid", type=int, required=True)
    p.add_argument("--metrics-url", required=True)
    p.add_argument("--app-dir", required=True)
    p.add_argument("--services", type=int, default=50)
    p.add_argument("--restarts", type=int, default=1000)
    p.add_argument("--methods", type=int, default=9)
    p.add_argument("--routes", type=int, default=100)
    p.add_argument("--per-life", type=int, default=0, help="requests per life (0: every pair twice)")
    p.add_argument("--parallel", type=int, default=4)
    p.add_argument("--attach-wait", type=float, default=0.6)
    p.add_argument("--checkpoints", default="0.25,0.5,0.75",
                   help="fractions of the lives after which to sample (and at the end)")
    p.add_argument("--idle-wait", type=float, default=0, help="seconds to wait idle before the last sample")
    a = p.parse_args()

    churn = Churn(a)
    print(f"soak: {a.restarts} lives over {a.services} services, {len(churn.pairs)} (method, route) "
          f"pairs per service, {churn.per_life} requests per life, {a.parallel} at once",
          file=sys.stderr, flush=True)
    print(json.dumps(sample("start", a.perfd_pid, a.metrics_url)), flush=True)
    t0 = time.monotonic()
    for fraction in [float(f) for f in a.checkpoints.split(",") if f]:
        upto = max(1, int(a.restarts * fraction))
        churn.run_until(upto)
        time.sleep(2)  # one self-metrics tick
        print(json.dumps(sample(f"{upto} lives", a.perfd_pid, a.metrics_url)), flush=True)
    churn.run_until(a.restarts)
    time.sleep(2)
    print(json.dumps(sample("end", a.perfd_pid, a.metrics_url)), flush=True)
    print(f"soak: churn took {time.monotonic() - t0:.0f} s, {churn.requests} requests, "
          f"{churn.failures} failed", file=sys.stderr, flush=True)
    if a.idle_wait > 0:
        time.sleep(a.idle_wait)
        print(json.dumps(sample("idle", a.perfd_pid, a.metrics_url)), flush=True)
        time.sleep(a.idle_wait)
        print(json.dumps(sample("idle x2", a.perfd_pid, a.metrics_url)), flush=True)


if __name__ == "__main__":
    main()
