"""Issue 11 part 4: gRPC across nodes, secured (mTLS), merged by perfctl.

Six single-worker uvicorn processes of one app (one service, named by a
`services` rule) and four perfd instances on this machine:
- three "nodes", each restricted by `discovery.include` to two of the workers
  (by `--port`), serving gRPC on their own loopback TCP port with mTLS
  (certificates made here with the openssl CLI);
- a reference perfd watching all six workers (unix socket only).
`perfctl top` over the three nodes must give the reference's exact counts and
its quantiles within one bucket of the sketch (see QUANTILE_TOLERANCE); a
stopped node gives a named partial result; clients without a valid
certificate are refused; a server certificate rotated on disk is served
without a restart; one name resolving to the three addresses asks each (checked
by name). Also: perfd refuses plaintext on a non-loopback address and
a missing certificate file at start (exit 2, the key named).
"""
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from conftest import App, Perfd, format_routes
from tls_certs import Certs, make_ca, make_cert
from e2e_helpers import PerfctlError, free_port, normalize_route, request, unique, wait_until

SERVICE = unique("e2e-multinode")
APP_SPEC = "latency_app:app"
APPS = 6
NODES = 3  # apps 2i and 2i+1 belong to node i
WINDOW = "300s"  # the whole test fits in it, even on a slow CI machine
# Node i serves gRPC on 127.0.0.{2+i}, all on one port, so that one name
# resolving to the three addresses (as a headless Service does) reaches them.
NODE_HOSTS = [f"127.0.0.{2 + i}" for i in range(NODES)]
SERVICE_NAME = "perfd.e2e.test"  # in the server certificate; resolved via a private /etc/hosts
SERVER_SAN = ",".join([*(f"IP:{h}" for h in NODE_HOSTS), f"DNS:{SERVICE_NAME}"])
# How far apart two perfds' probes on one syscall may read the clock (each
# BPF program runs for a few µs; generous).
PROBE_SKEW_SECONDS = 50e-6
CLIENTS_PER_APP = 2  # 12 concurrent keep-alive clients in all
# Per app: requests per path, different for each app so a wrong merge shows
# (/mixed?code=404 answers 404 on the same keep-alive connection).
ROUTES = {"/sleep": ("GET", "/sleep"), "/items/{}": ("GET", "/items/{item_id}"),
          "/mixed?code=404": ("GET", "/mixed")}


def plan_for(app_index: int) -> Dict[str, int]:
    return {"/sleep": 20 + 4 * app_index, "/items/{}": 30 + 7 * app_index,
            "/mixed?code=404": 3 + app_index}


# ---------------------------------------------------------------- the cluster

class Cluster:
    def __init__(self, bins, d: Path):
        self.bins, self.dir = bins, d
        self.certs = Certs(d / "certs", SERVER_SAN)
        self.apps: List[App] = []
        self.nodes: List[Perfd] = []
        self.port = free_port()
        self.node_certs: List[Tuple[Path, Path]] = []
        self.reference = None

    def start(self) -> None:
        for _ in range(APPS):
            self.apps.append(App(self.dir, APP_SPEC, None))
        # Only these six workers, by port: other uvicorn processes on the
        # machine (another test run's latency_app) must not be named SERVICE.
        all_ports = "|".join(str(a.port) for a in self.apps)
        mine = f"{APP_SPEC} .*--port ({all_ports})$"
        common = {"services": [{"match": mine, "name": SERVICE}],
                  "discovery": {"include": mine},
                  "python": {"sampling": False, "request_identity": False}}
        for i in range(NODES):
            ports = "|".join(str(a.port) for a in self.apps[2 * i:2 * i + 2])
            # Each node its own copy of the server pair, so rotating one
            # node's files touches no other node.
            node_dir = self.dir / f"node{i}-tls"
            node_dir.mkdir()
            key, crt = node_dir / "tls.key", node_dir / "tls.crt"
            key.write_bytes(self.certs.server[0].read_bytes())
            crt.write_bytes(self.certs.server[1].read_bytes())
            os.chmod(key, 0o600)
            self.node_certs.append((key, crt))
            config = dict(common, discovery={"include": f"{APP_SPEC} .*--port ({ports})$"},
                          listen={"grpc_tcp": f"{NODE_HOSTS[i]}:{self.port}",
                                  "grpc_tls_cert": str(crt),
                                  "grpc_tls_key": str(key),
                                  "grpc_tls_client_ca": str(self.certs.ca[1])})
            self.nodes.append(Perfd(self.bins, self.dir / f"node{i}", config, []))
        self.reference = Perfd(self.bins, self.dir / "reference", common, [])

    def stop(self) -> None:
        for p in [*self.nodes, self.reference]:
            if p is not None:
                p.stop()
        for a in self.apps:
            a.stop()

    def endpoints(self) -> List[str]:
        return [f"{h}:{self.port}" for h in NODE_HOSTS]

    def perfctl(self, args: List[str], endpoints: List[str] = None, tls: List[str] = None,
                timeout: float = 30.0, hosts: Path = None) -> subprocess.CompletedProcess:
        # hosts: run perfctl in a mount namespace of its own whose /etc/hosts is
        # that file (the machine's is never touched).
        argv = [] if hosts is None else [
            "unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts)]
        argv += [self.bins["perfctl"]]
        for e in endpoints or self.endpoints():
            argv += ["--endpoint", e]
        argv += self.certs.tls_args() if tls is None else tls
        return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=timeout)

    def merged(self, *extra: str, endpoints: List[str] = None, tls: List[str] = None,
               hosts: Path = None):
        """(exit code, JSON document, stderr) of `perfctl top` over the nodes."""
        r = self.perfctl(["top", "--service", SERVICE, "--window", WINDOW, "-o", "json", *extra],
                         endpoints=endpoints, tls=tls, hosts=hosts)
        doc = json.loads(r.stdout) if r.stdout.strip() else {}
        return r.returncode, doc, r.stderr


@pytest.fixture(scope="module")
def cluster(bins, module_dir):
    c = Cluster(bins, module_dir)
    try:
        c.start()
        yield c
    finally:
        c.stop()


def routes_of(doc: dict) -> Dict[Tuple[str, str], dict]:
    return {(r.get("method", ""), r.get("route", "")): normalize_route(r)
            for r in doc.get("routes", [])}


def count(perfd: Perfd, key: Tuple[str, str]) -> int:
    try:
        r = perfd.top(SERVICE).get(key)
    except PerfctlError:  # the service is not listed yet
        return 0
    return r["requests"] if r else 0


def warm_up(cluster: Cluster) -> None:
    """Each app until both its node and the reference count its /warmup/{n}
    requests under that template: the worker is traced by both and its OpenAPI
    routes are loaded before the measured traffic."""
    key = ("GET", "/warmup/{n}")
    sent = [0]
    for i, app in enumerate(cluster.apps):
        watchers = [cluster.nodes[i // 2], cluster.reference]

        def traced():
            for p in watchers:
                p.check_alive()
            before = [count(p, key) for p in watchers]
            sent[0] += 1
            app.get(f"/warmup/{sent[0]}")
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                if all(count(p, key) > b for p, b in zip(watchers, before)):
                    return True
                time.sleep(0.1)
            return False
        wait_until(traced, 40, f"app {i} (port {app.port}) to be traced by node {i // 2} and "
                               f"the reference")


def drive(cluster: Cluster) -> Dict[Tuple[str, str], List[int]]:
    """CLIENTS_PER_APP keep-alive clients per app, all at once, each sending
    its share of plan_for(app). Returns {route: [requests per node]}."""
    errors, threads = [], []
    expected: Dict[Tuple[str, str], List[int]] = {k: [0] * NODES for k in ROUTES.values()}
    start = threading.Barrier(APPS * CLIENTS_PER_APP)

    def client(app: App, paths: List[str]) -> None:
        conn = app.connection()
        try:
            start.wait()
            for path in paths:
                status, _ = request(conn, "GET", path)
                want = 404 if path.startswith("/mixed") else 200
                assert status == want, f"{path} answered {status}"
        except BaseException as exc:  # noqa: BLE001 - reported below
            start.abort()
            errors.append(exc)
        finally:
            conn.close()
    n = 0
    for i, app in enumerate(cluster.apps):
        order = []
        for path, k in plan_for(i).items():
            expected[ROUTES[path]][i // 2] += k
            for _ in range(k):
                n += 1
                order.append(path.format(n))
        order.sort(key=lambda p: hash(p) % 97)  # interleave the routes
        for c in range(CLIENTS_PER_APP):
            threads.append(threading.Thread(target=client, args=(app, order[c::CLIENTS_PER_APP]),
                                            daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return expected


@pytest.fixture(scope="module")
def loaded(cluster):
    warm_up(cluster)
    expected = drive(cluster)
    totals = {k: sum(v) for k, v in expected.items()}
    # The reference first: it sees every request.
    for (method, route), n in totals.items():
        got = cluster.reference.wait_count(SERVICE, method, route, n)
        assert got.get((method, route), {}).get("requests") == n, (
            f"reference perfd: {method} {route} want {n}:\n{format_routes(got)}")
    return expected


def test_merged_top_equals_one_perfd_watching_all_workers(cluster, loaded):
    totals = {k: sum(v) for k, v in loaded.items()}
    seen = {}

    def settled():
        rc, doc, err = cluster.merged()
        seen.update(rc=rc, doc=doc, err=err)
        got = routes_of(doc)
        return rc == 0 and all(got.get(k, {}).get("requests") == n for k, n in totals.items())
    try:
        wait_until(settled, 30, "perfctl top over the three nodes to reach the exact counts",
                   interval=0.3)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; last: rc={seen.get('rc')} stderr={seen.get('err')}\n"
                             f"{format_routes(routes_of(seen.get('doc', {})))}") from None
    doc = seen["doc"]
    assert doc["partial"] is False and doc["failedEndpoints"] == []
    assert doc["nodes"] == cluster.endpoints()
    merged = routes_of(doc)
    reference = cluster.reference.top(SERVICE, window=int(WINDOW[:-1]))
    for key, n in totals.items():
        m, ref = merged[key], reference[key]
        assert m["requests"] == ref["requests"] == n, key
        assert m["errors"] == ref["errors"], key
        assert m["status_codes"] == ref["status_codes"], key
        assert m["raw"]["nodes"] == cluster.endpoints(), key
        # Both sketches hold the same requests, but each perfd timed them with
        # its own probes on the same syscalls: a request's two latencies differ
        # by at most the other perfds' probe run time (SKEW). If every latency
        # moves by <= SKEW, so does the k-th smallest; read back from a sketch
        # that is at most one bucket (ratio gamma = (1+a)/(1-a)) plus SKEW.
        a = m["raw"]["latency"]["relativeAccuracy"]
        assert a == ref["raw"]["latency"]["relativeAccuracy"]
        for q in ("p50", "p99"):
            tolerance = (1 + a) / (1 - a) - 1 + PROBE_SKEW_SECONDS / ref[q]
            print(f"{key} {q}: merged {m[q]:.6f}s, one perfd {ref[q]:.6f}s, "
                  f"relative difference {abs(m[q] / ref[q] - 1):.4f} (tolerance {tolerance:.4f})")
            assert abs(m[q] / ref[q] - 1) <= tolerance, (
                f"{key} {q}: merged {m[q]} vs one perfd {ref[q]} (tolerance {tolerance:.4f})")
    # 404s are answers, not errors; the status codes say what they were.
    assert merged[("GET", "/mixed")]["status_codes"] == {"404": totals[("GET", "/mixed")]}

    # --by-node: each node's own rows; its counts are its two workers' requests.
    rc, doc, err = cluster.merged("--by-node")
    assert rc == 0, err
    by_node = {entry["node"]: routes_of(entry["top"]) for entry in doc["byNode"]}
    assert sorted(by_node) == sorted(cluster.endpoints())
    for i, endpoint in enumerate(cluster.endpoints()):
        for key, per_node in loaded.items():
            assert by_node[endpoint][key]["requests"] == per_node[i], (endpoint, key)

    r = cluster.perfctl(["top", "--service", SERVICE, "--window", WINDOW, "--once", "--by-node"])
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0]
    assert f"service {SERVICE}" in header and "   workers 6   nodes 3   " in header, r.stdout
    columns = next(line for line in r.stdout.splitlines() if line.startswith("ROUTE"))
    assert "NODES" in columns, r.stdout
    # The three nodes' event loops, merged: one line over the six workers' loops.
    assert "\nloop    busy " in r.stdout and " of 6 loops " in r.stdout, r.stdout
    # GC pauses, merged: sampling is off on every node, so none of the six
    # workers is measured (unknown, not zero pauses).
    assert "\ngc      unknown: not sampled (6 workers)\n" in r.stdout, r.stdout
    for endpoint in cluster.endpoints():
        assert f"  @ {endpoint}" in r.stdout, r.stdout

    # services: the union of the nodes' workers (two each).
    r = cluster.perfctl(["services", "-o", "json"])
    assert r.returncode == 0, r.stderr
    services = {s["name"]: s for s in json.loads(r.stdout)["services"]}
    assert len(services[SERVICE]["workers"]) == APPS, r.stdout


def test_one_name_resolving_to_every_node_asks_each(cluster, loaded):
    """A name with three addresses (a headless Service's DNS answer) is three
    nodes, each dialled by address and its certificate checked by the name."""
    hosts = cluster.dir / "hosts"
    hosts.write_text("".join(f"{h} {SERVICE_NAME}\n{h} other.e2e.test\n" for h in NODE_HOSTS))
    totals = {k: sum(v) for k, v in loaded.items()}
    rc, doc, err = cluster.merged(endpoints=[f"{SERVICE_NAME}:{cluster.port}"], hosts=hosts)
    assert rc == 0, err
    assert doc["nodes"] == cluster.endpoints() and doc["partial"] is False, doc
    got = routes_of(doc)
    for key, n in totals.items():
        assert got[key]["requests"] == n, key
    # The same addresses under a name the certificate does not carry: every
    # node is refused, though each address is in the certificate too. So the
    # name, not the address dialled, is what is checked.
    rc, doc, err = cluster.merged("--timeout", "3s", endpoints=[f"other.e2e.test:{cluster.port}"],
                                  hosts=hosts)
    assert rc == 1, f"exit {rc}\n{err}"
    lines = err.splitlines()
    assert len(lines) == NODES, err
    for endpoint, line in zip(cluster.endpoints(), lines):
        assert line.startswith(f"perfctl: cannot reach perfd at {endpoint}: "), err


def test_clients_without_a_valid_certificate_are_refused(cluster, loaded):
    one = cluster.endpoints()[:1]
    args = ["services"]
    # The control: the same call with the right certificates works.
    r = cluster.perfctl(args, endpoints=one)
    assert r.returncode == 0, r.stderr
    refused = {
        "a client certificate from a CA perfd does not trust":
            cluster.certs.tls_args(client=cluster.certs.rogue_client),
        "no client certificate": ["--tls-ca", str(cluster.certs.ca[1])],
        "plaintext": [],
    }
    for what, tls in refused.items():
        r = cluster.perfctl([*args, "--timeout", "3s"], endpoints=one, tls=tls)
        assert r.returncode == 1, f"{what}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        assert r.stderr.startswith(f"perfctl: cannot reach perfd at {one[0]}: "), (what, r.stderr)
        assert r.stderr.count("\n") == 1, f"{what}: one line, got:\n{r.stderr}"
        assert r.stdout == "", (what, r.stdout)


def test_perfd_refuses_plaintext_beyond_loopback_and_missing_certificates(bins, module_dir):
    d = module_dir / "refusals"
    d.mkdir(exist_ok=True)
    plain = d / "plain.yaml"
    plain.write_text(f"listen: {{grpc_tcp: '0.0.0.0:{free_port()}'}}\n")
    r = subprocess.run([bins["perfd"], "--config", str(plain), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "listen.grpc_tcp: '0.0.0.0:" in r.stderr and "plaintext" in r.stderr, r.stderr
    insecure = d / "insecure.yaml"
    insecure.write_text(f"listen: {{grpc_tcp: '0.0.0.0:{free_port()}', grpc_tcp_insecure: true}}\n")
    r = subprocess.run([bins["perfd"], "--config", str(insecure), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr

    missing = d / "missing.yaml"
    present = make_ca(d, "solo")[1]  # a real certificate: only the key is missing
    missing.write_text(f"listen: {{grpc_tcp: '127.0.0.1:{free_port()}', "
                       f"grpc_tls_cert: '{present}', grpc_tls_key: '{d / 'nope.key'}', "
                       f"grpc_tls_client_ca: '{present}'}}\n")
    r = subprocess.run([bins["perfd"], "--config", str(missing)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"listen.grpc_tls_key: cannot open {d / 'nope.key'}: No such file" in r.stderr, r.stderr


def test_stopped_node_gives_a_named_partial_result(cluster, loaded):
    stopped = cluster.endpoints()[2]
    assert cluster.nodes[2].stop() == 0
    answered = cluster.endpoints()[:2]
    rc, doc, err = cluster.merged("--timeout", "2s")
    assert rc == 3, f"exit {rc} (want 3: partial)\n{err}"
    assert doc["partial"] is True
    assert [f["endpoint"] for f in doc["failedEndpoints"]] == [stopped]
    assert doc["nodes"] == answered
    assert err.startswith(f"perfctl: warning: no answer from {stopped} ("), err
    assert err.rstrip().endswith("the result is partial"), err
    got = routes_of(doc)
    for key, per_node in loaded.items():
        assert got[key]["requests"] == per_node[0] + per_node[1], key

    r = cluster.perfctl(["top", "--service", SERVICE, "--window", WINDOW, "--once",
                         "--timeout", "2s"])
    assert r.returncode == 3, r.stderr
    assert f"PARTIAL: no answer from {stopped} (2 of 3 nodes answered" in r.stdout, r.stdout


def test_rotated_server_certificate_is_served_without_restart(cluster, loaded):
    """Node 0's certificate is replaced on disk by one from a new CA: perfd
    serves it within its refresh interval (5 s), still running (same pid)."""
    node = cluster.nodes[0]
    pid = node.proc.pid
    d = cluster.certs.dir
    new_ca = make_ca(d, "ca2")
    new_key, new_crt = make_cert(d, "server2", new_ca, server=True, san=SERVER_SAN)
    key_path, crt_path = cluster.node_certs[0]
    # As a Secret update lands: each file replaced whole (rename).
    for src, dst in ((new_key, key_path), (new_crt, crt_path)):
        tmp = dst.with_suffix(".tmp")
        tmp.write_bytes(src.read_bytes())
        os.chmod(tmp, 0o600)
        os.replace(tmp, dst)
    one = cluster.endpoints()[:1]
    trusts_new = cluster.certs.tls_args(ca=new_ca[1])
    last = {}

    def served():
        r = cluster.perfctl(["services"], endpoints=one, tls=trusts_new)
        last["r"] = r
        return r.returncode == 0
    try:
        wait_until(served, 30, "node 0 to present the certificate signed by the new CA",
                   interval=0.5)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; last: {last['r'].stderr}") from None
    node.check_alive()
    assert node.proc.pid == pid
    # And the old one is gone: a client trusting only the old CA is refused.
    r = cluster.perfctl(["services", "--timeout", "3s"], endpoints=one)
    assert r.returncode == 1, r.stdout + r.stderr
