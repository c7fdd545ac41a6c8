"""Kubernetes pod metadata, end to end, without a cluster.

Real perfd and a real uvicorn worker; the two things a cluster would provide
are stood in for: the kubelet's cgroup (a cgroup v2 directory shaped like the
systemd driver's, the worker's pid written to its cgroup.procs) and the API
server (a Python HTTPS server answering the pod list and streaming a chunked
watch exactly as the API formats them, and refusing any request without the
ServiceAccount token). Asserted: the service is named from the pod label,
`perfctl services` shows namespace/pod/container, /metrics carries the k8s_*
labels with kubernetes.metric_labels on and not with it off, a relabel and a
delete sent through the watch are reflected, a 410 Gone makes perfd list
again with the rotated token, and the token is never logged.
"""
import json
import os
import queue
import ssl
import subprocess
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import DISCOVERY_TIMEOUT, SH_STAGE_SECONDS, Perfd
from e2e_helpers import APPS_DIR, PY, REPO_ROOT, Proc, free_port, one_shot, unique, wait_until

NODE = "node-e2e"
NAMESPACE = "prod-e2e"
CONTAINER = "api"


def cgroup2_root():
    """The cgroup2 mount (/sys/fs/cgroup on a unified host, .../unified on a
    hybrid one), or None."""
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == "cgroup2":
                return Path(fields[1])
    return None


class PodCgroup:
    """A kubelet-shaped cgroup (systemd driver, burstable QoS) for one container."""

    def __init__(self, root: Path, pod_uid: str, container_id: str):
        self.levels = [
            root / "kubepods.slice",
            root / "kubepods.slice" / "kubepods-burstable.slice",
            root / "kubepods.slice" / "kubepods-burstable.slice" /
            f"kubepods-burstable-pod{pod_uid.replace('-', '_')}.slice",
        ]
        self.levels.append(self.levels[-1] / f"cri-containerd-{container_id}.scope")
        for d in self.levels:
            d.mkdir(exist_ok=True)
        self.procs = self.levels[-1] / "cgroup.procs"

    def remove(self):
        # A cgroup can be removed once no process is left in it; the parents
        # may be shared with another run of this suite (then rmdir fails).
        try:
            wait_until(lambda: self.procs.read_text().strip() == "", 10, "the pod cgroup to empty")
        except Exception:  # noqa: BLE001 - best effort: reported by rmdir below
            pass
        for d in reversed(self.levels):
            try:
                d.rmdir()
            except OSError:
                pass


def make_pod(uid, name, rv, labels, container_id):
    """A Pod as the API serves it (trimmed, same shape)."""
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": uid, "resourceVersion": rv,
                     "creationTimestamp": "2026-12-01T00:00:00Z", "labels": labels,
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": name.rsplit("-", 1)[0], "uid": str(uuid.uuid4()),
                                          "controller": True}]},
        "spec": {"nodeName": NODE, "containers": [{"name": CONTAINER, "image": "shop:1"}]},
        "status": {"phase": "Running", "podIP": "10.0.0.7",
                   "containerStatuses": [{"name": CONTAINER, "ready": True, "restartCount": 0,
                                          "image": "shop:1",
                                          "containerID": f"containerd://{container_id}"}]},
    }


class FakeApiServer:
    """HTTPS, Bearer token checked, list + chunked watch of /api/v1/pods."""

    def __init__(self, workdir: Path, token: str):
        self.token = token
        self.lock = threading.Lock()
        self.pods = {}  # uid -> pod
        self.rv = 100
        self.lists = 0
        self.watches = 0
        self.unauthorized = 0
        self.bad_selector = 0
        self.watch_queues = []  # one queue per open watch stream
        key, self.cert = workdir / "api.key", workdir / "api.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-keyout", str(key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's name
                server.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert), str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        with self.lock:
            for q in self.watch_queues:
                q.put(None)
        self.httpd.shutdown()
        self.httpd.server_close()

    def _send_json(self, h, code, doc):
        body = json.dumps(doc).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        query = urllib.parse.parse_qs(url.query)
        with self.lock:
            authorized = h.headers.get("Authorization") == f"Bearer {self.token}"
            if not authorized:
                self.unauthorized += 1
        if not authorized:
            return self._send_json(h, 401, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                            "status": "Failure", "message": "Unauthorized",
                                            "reason": "Unauthorized", "code": 401})
        if url.path != "/api/v1/pods" or query.get("fieldSelector") != [f"spec.nodeName={NODE}"]:
            with self.lock:
                self.bad_selector += 1
            return self._send_json(h, 400, {"kind": "Status", "code": 400})
        if query.get("watch") != ["1"] and query.get("watch") != ["true"]:
            with self.lock:
                self.lists += 1
                doc = {"kind": "PodList", "apiVersion": "v1",
                       "metadata": {"resourceVersion": str(self.rv)},
                       "items": list(self.pods.values())}
            return self._send_json(h, 200, doc)
        # A watch: chunked, one JSON event per line, open until told otherwise.
        q = queue.Queue()
        with self.lock:
            self.watches += 1
            self.watch_queues.append(q)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            while True:
                try:
                    event = q.get(timeout=1)
                except queue.Empty:
                    continue
                if event is None:
                    break
                data = (json.dumps(event) + "\n").encode()
                h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                h.wfile.flush()
                if event["type"] == "ERROR":
                    break
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except OSError:
            pass
        finally:
            with self.lock:
                self.watch_queues.remove(q)

    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def put_pod(self, pod, event_type):
        with self.lock:
            pod["metadata"]["resourceVersion"] = self._next_rv()
            self.pods[pod["metadata"]["uid"]] = pod
            for q in self.watch_queues:
                q.put({"type": event_type, "object": pod})

    def delete_pod(self, uid):
        with self.lock:
            pod = self.pods.pop(uid)
            pod["metadata"]["resourceVersion"] = self._next_rv()
            for q in self.watch_queues:
                q.put({"type": "DELETED", "object": pod})

    def expire_watches(self):
        """What the API sends when a watch's resourceVersion was compacted."""
        with self.lock:
            for q in self.watch_queues:
                q.put({"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "too old resource version: 1 (2)", "reason": "Expired",
                    "code": 410}})

    def open_watches(self):
        with self.lock:
            return len(self.watch_queues)


@pytest.fixture(scope="module")
def cgroup_root():
    root = cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 hierarchy mounted: cannot place a worker in a pod-shaped cgroup")
    probe = root / f"perfd-e2e-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        pytest.skip(f"cgroup2 at {root} is not writable ({exc}): cannot make a pod cgroup")
    return root


@pytest.fixture(scope="module")
def pod(module_dir, cgroup_root):
    """A uvicorn worker in a pod-shaped cgroup, and its fake API pod."""
    uid = str(uuid.uuid4())
    container_id = uuid.uuid4().hex + uuid.uuid4().hex
    cg = PodCgroup(cgroup_root, uid, container_id)
    port = free_port()
    argv = [PY, "-m", "uvicorn", "latency_app:app", "--app-dir", str(APPS_DIR),
            "--host", "127.0.0.1", "--port", str(port)]
    # Into the cgroup before exec, like a container's init: the worker never
    # runs outside it.
    sh = f'echo $$ > {cg.procs}; sleep {SH_STAGE_SECONDS}; exec "$@"'
    proc = Proc("uvicorn[k8s]", ["/bin/sh", "-c", sh, "sh", *argv],
                module_dir / f"uvicorn-k8s-{port}.log",
                env={"PERFD_SERVICE": unique("k8s-env")}, cwd=REPO_ROOT)

    def ready():
        if not proc.alive():
            raise AssertionError(f"uvicorn exited:\n{proc.tail(40)}")
        return one_shot(port, "GET", "/health")[0] == 200
    try:
        wait_until(ready, 30, "uvicorn in the pod cgroup to answer")
        yield {"uid": uid, "container_id": container_id, "port": port, "pid": proc.pid,
               "name": f"shop-{uid[:5]}"}
    finally:
        proc.stop()
        cg.remove()


def start_perfd(bins, workdir, api, token_path, metric_labels):
    old = os.environ.get("NODE_NAME")
    os.environ["NODE_NAME"] = NODE  # the downward API's spec.nodeName
    try:
        return Perfd(bins, workdir, {
            "log": {"level": "debug"},  # the most there is to leak a token into
            "kubernetes": {"enabled": True, "api_server": api.url, "token_path": str(token_path),
                           "ca_path": str(api.cert), "metric_labels": metric_labels},
        }, [])
    finally:
        if old is None:
            del os.environ["NODE_NAME"]
        else:
            os.environ["NODE_NAME"] = old


def worker_entry(perfd, pid):
    doc = json.loads(perfd.perfctl("services", "-o", "json").stdout)
    for s in doc.get("services", []):
        for w in s.get("workers", []):
            if int(w.get("pid", 0)) == pid:
                return s.get("name"), w
    return None, None


def field(w, snake):
    """perfctl's JSON uses protobuf's camelCase names."""
    parts = snake.split("_")
    camel = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    return w.get(camel, w.get(snake, ""))


def wait_service(perfd, pid, service, timeout=DISCOVERY_TIMEOUT):
    def ok():
        perfd.check_alive()
        name, w = worker_entry(perfd, pid)
        return (name, w) if name == service else None
    return wait_until(ok, timeout, f"pid {pid} listed under service {service!r}", interval=0.1)


def request_series(perfd, service):
    """The label sets of http_server_request_duration_seconds_count for service."""
    out = []
    for line in perfd.metrics_text().splitlines():
        if line.startswith("http_server_request_duration_seconds_count{") and \
                f'service_name="{service}"' in line:
            out.append(line)
    return out


def drive_until_series(perfd, pod, service):
    def ok():
        perfd.check_alive()
        one_shot(pod["port"], "GET", "/items/7")
        return request_series(perfd, service)
    return wait_until(ok, DISCOVERY_TIMEOUT, f"request series of {service}", interval=0.2)


@pytest.fixture(scope="module")
def api(module_dir):
    token = "tok-" + uuid.uuid4().hex
    server = FakeApiServer(module_dir, token)
    yield server
    server.stop()


def test_pod_metadata_labels_watch_and_token(bins, module_dir, api, pod):
    token_path = module_dir / "token"
    token_path.write_text(api.token + "\n")
    label = unique("shop")
    api.put_pod(make_pod(pod["uid"], pod["name"], "1", {"app.kubernetes.io/name": label,
                                                        "team": "checkout"},
                         pod["container_id"]), "ADDED")
    perfd = start_perfd(bins, module_dir / "perfd-on", api, token_path, metric_labels=True)
    try:
        # Named from the pod label (before PERFD_SERVICE), pod shown.
        _, w = wait_service(perfd, pod["pid"], label)
        assert field(w, "k8s_namespace") == NAMESPACE
        assert field(w, "k8s_pod") == pod["name"]
        assert field(w, "k8s_container") == CONTAINER
        assert field(w, "pod_uid") == pod["uid"]
        assert field(w, "container_id") == pod["container_id"]
        table = perfd.perfctl("services").stdout
        assert f"{NAMESPACE}/{pod['name']}" in table and " POD " in table, table

        # Metrics carry the OpenTelemetry k8s resource labels.
        series = drive_until_series(perfd, pod, label)
        assert all(f'k8s_namespace_name="{NAMESPACE}"' in s and
                   f'k8s_pod_name="{pod["name"]}"' in s and
                   f'k8s_node_name="{NODE}"' in s for s in series), series

        # Relabel through the watch: the service follows.
        wait_until(lambda: api.open_watches() > 0, 10, "perfd's watch to be open")
        relabelled = unique("cart")
        api.put_pod(make_pod(pod["uid"], pod["name"], "", {"app.kubernetes.io/name": relabelled},
                             pod["container_id"]), "MODIFIED")
        wait_service(perfd, pod["pid"], relabelled)

        # 410 Gone: perfd lists again, with the token as the file says now
        # (projected tokens rotate).
        lists, watches = api.lists, api.watches
        with api.lock:
            api.token = "tok-rotated-" + uuid.uuid4().hex
        token_path.write_text(api.token + "\n")
        api.expire_watches()
        # A new watch (registered before it answers) after a new list: events
        # put from now on reach perfd.
        wait_until(lambda: api.lists > lists and api.watches > watches, 20,
                   "perfd to list and watch again after 410 Gone")

        # Deleted through the watch: back to the environment's name; the
        # cgroup still gives the pod UID.
        api.delete_pod(pod["uid"])
        _, w = wait_service(perfd, pod["pid"], unique("k8s-env"))
        assert field(w, "pod_uid") == pod["uid"]
        assert field(w, "k8s_pod") == ""

        assert api.unauthorized == 0, "perfd sent a request without the right token"
        assert api.bad_selector == 0, "perfd asked for pods beyond spec.nodeName"
        metrics = perfd.metrics_text()
        assert 'perfd_kubernetes_api_failures_total{kind="gone"}' in metrics
    finally:
        rc = perfd.stop()
    log = perfd.proc.log_text()
    assert "kubernetes: watching the pods of node" in log
    assert api.token not in log and "tok-" not in log, "a ServiceAccount token reached the log"
    assert rc == 0, perfd.proc.tail(40)


def test_api_without_node_name_is_a_config_error(bins, module_dir):
    """perfd would otherwise watch every pod of the cluster: exit 2, key named."""
    cfg = module_dir / "no-node.yaml"
    cfg.write_text('kubernetes: {enabled: true, api_server: "https://127.0.0.1:1"}\n')
    env = {k: v for k, v in os.environ.items() if k != "NODE_NAME"}
    r = subprocess.run([bins["perfd"], "--config", str(cfg), "--check-config"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert "kubernetes.enabled" in r.stderr and "NODE_NAME" in r.stderr, r.stderr
    env["NODE_NAME"] = NODE
    r = subprocess.run([bins["perfd"], "--config", str(cfg), "--check-config"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r


def test_metric_labels_off(bins, module_dir, api, pod):
    token_path = module_dir / "token-off"
    token_path.write_text(api.token)
    label = unique("shop-off")
    api.put_pod(make_pod(pod["uid"], pod["name"], "", {"app.kubernetes.io/name": label},
                         pod["container_id"]), "ADDED")
    perfd = start_perfd(bins, module_dir / "perfd-off", api, token_path, metric_labels=False)
    try:
        _, w = wait_service(perfd, pod["pid"], label)
        assert field(w, "k8s_pod") == pod["name"]
        series = drive_until_series(perfd, pod, label)
        assert not any("k8s_" in s for s in series), series
    finally:
        rc = perfd.stop()
    assert rc == 0, perfd.proc.tail(40)
