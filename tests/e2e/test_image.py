"""The container image (deploy/image/build.sh) under podman, run with exactly
the DaemonSet's securityContext, host PID namespace and mounts: the flags are
derived from `kubectl kustomize deploy/kubernetes/base` (tests/deploy/
daemonset_spec.py), so what passes here is what the DaemonSet asks for. perfd
in the container finds uvicorn workers on the host and counts their requests
exactly, through perfctl in the container, through perfctl on the host over
the gRPC TCP port with mTLS (the Secret perfd-grpc-tls is a directory of
certificates made here), and through /metrics; the health endpoint answers
the probes.

Runtime settings that are not the pod's: runc (crun refuses hosts with hybrid
cgroup v1), and RLIMIT_NOFILE/NPROC under this process's limits (podman would
raise them past the host's hard limit, which the container cannot do without
CAP_SYS_RESOURCE; a kubelet's containers inherit the runtime's limits).
Costs ~15 s to build the image twice (the digest check) plus ~20 s to run."""
import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import Perfd, route_of
from e2e_helpers import (REPO_ROOT, RUN_ID, deal_paths, format_routes, free_port, metric_sum,
                         run_clients, unique, wait_until)
from tls_certs import Certs

sys.path.insert(0, str(REPO_ROOT / "tests" / "deploy"))
import daemonset_spec as ds  # noqa: E402

SERVICE = unique("e2e-image")
IMAGE = f"localhost/perfd:e2e-{RUN_ID}"
REQUESTS = 240


def _run(argv, timeout=600, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    assert out.returncode == 0, f"{' '.join(argv)} exited {out.returncode}:\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def image(bins):
    for tool in ("podman", "buildah", "runc", "kubectl"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} not installed (scripts/install-deps.sh)")
    env = dict(os.environ, PERFD_BIN=bins["perfd"], PERFCTL_BIN=bins["perfctl"])
    build = str(REPO_ROOT / "deploy" / "image" / "build.sh")
    first = _run([build, IMAGE], env=env).stdout.split()
    # Reproducible: the same binaries give the same image id (config digest,
    # which covers the layer's digest).
    second = _run([build, IMAGE + "-again"], env=env).stdout.split()
    assert first[1] == second[1], f"two builds differ: {first} vs {second}"
    yield IMAGE
    subprocess.run(["podman", "rmi", "-f", IMAGE, IMAGE + "-again"], capture_output=True)


class ContainerPerfd(Perfd):
    """perfd in a podman container: perfctl runs inside it (podman exec), on
    the pod's unix socket; /metrics and the probes through published ports."""

    def __init__(self, name: str, workdir: Path, metrics_port: int, health_port: int):
        self.name = name
        self.metrics_port = metrics_port
        self.health_port = health_port
        self.socket = Path("/run/perfd/perfd.sock")  # inside the container
        wrapper = workdir / "perfctl-in-container"
        wrapper.write_text(f'#!/bin/sh\nexec podman exec {name} /usr/bin/perfctl "$@"\n')
        wrapper.chmod(0o755)
        self.perfctl_bin = str(wrapper)

    def state(self) -> dict:
        out = _run(["podman", "inspect", "--format", "{{json .State}}", self.name])
        return json.loads(out.stdout)

    def logs(self) -> str:
        out = subprocess.run(["podman", "logs", self.name], capture_output=True, text=True)
        return (out.stdout + out.stderr)[-6000:]

    def check_alive(self) -> None:
        st = self.state()
        if not st.get("Running"):
            raise AssertionError(f"perfd container exited {st.get('ExitCode')}; log tail:\n"
                                 f"{self.logs()}")

    def probe(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}",
                                        timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self) -> int:
        subprocess.run(["podman", "stop", "-t", "15", self.name], capture_output=True, timeout=60)
        return int(self.state().get("ExitCode", -1))


@pytest.fixture(scope="module")
def rendered():
    return ds.render("base")


@pytest.fixture(scope="module")
def container(image, rendered, module_dir):
    ports = {"metrics": free_port(), "health": free_port(), "grpc": free_port()}
    # The Secret as the kubelet would mount it: tls.crt, tls.key, ca.crt.
    certs = Certs(module_dir / "certs", "IP:127.0.0.1,DNS:localhost")
    secret = module_dir / "secret-perfd-grpc-tls"
    secret.mkdir(exist_ok=True)
    for name, src in (("tls.crt", certs.server[1]), ("tls.key", certs.server[0]),
                      ("ca.crt", certs.ca[1])):
        shutil.copyfile(src, secret / name)
    flags = ds.podman_run_args(rendered, module_dir / "config", ports,
                               {"perfd-grpc-tls": secret})
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    lim = lambda v: "-1" if v == resource.RLIM_INFINITY else str(v)  # noqa: E731
    # NPROC: podman's default (the host maximum) is refused by runc here; a
    # fixed value under this process's hard limit is accepted (perfd holds
    # CAP_SYS_ADMIN, which the kernel exempts from the process count anyway).
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
    runtime = ["--runtime=runc", f"--ulimit=nofile={lim(nofile[0])}:{lim(nofile[1])}",
               f"--ulimit=nproc={nproc}:{nproc}"]
    name = f"perfd-e2e-{RUN_ID}"
    subprocess.run(["podman", "rm", "-f", name], capture_output=True)
    argv = ["podman", "run", "-d", f"--name={name}", *runtime, *flags, image,
            *ds.container_args(rendered)]
    (module_dir / "podman-run.txt").write_text(" ".join(argv) + "\n")
    _run(argv, timeout=120)
    c = ContainerPerfd(name, module_dir, ports["metrics"], ports["health"])
    c.grpc_port, c.certs = ports["grpc"], certs

    def ready():
        c.check_alive()
        return c.probe("/readyz") == 200
    try:
        wait_until(ready, 60, "perfd's /readyz in the container", interval=0.2)
        yield c
        rc = c.stop()
        (module_dir / "perfd-container.log").write_text(c.logs())
        assert rc == 0, f"perfd in the container exited {rc} on SIGTERM:\n{c.logs()}"
    finally:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True, timeout=60)


def test_container_runs_with_the_daemonsets_settings(rendered, module_dir, container):
    """The flags the container runs with are the DaemonSet's, and those are
    the expected ones (tests/deploy asserts the manifests say so too)."""
    argv = (module_dir / "podman-run.txt").read_text().split()
    assert "--pid=host" in argv
    assert [a for a in argv if a.startswith("--cap-")] == (
        ["--cap-drop=all"] + [f"--cap-add=CAP_{c}" for c in ds.EXPECTED_CAPABILITIES])
    for flag in ("--read-only", "--read-only-tmpfs=false", "--security-opt=no-new-privileges",
                 "--volume=/sys/kernel/tracing:/sys/kernel/tracing:ro", "--tmpfs=/run/perfd:size=1m",
                 "--user=0:0"):
        assert flag in argv, flag
    assert not any("privileged" in a for a in argv)
    # The kernel agrees: exactly these capabilities, no others.
    pid = int(_run(["podman", "inspect", "--format", "{{.State.Pid}}", container.name]).stdout)
    caps = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("CapEff:", "CapPrm:", "CapBnd:", "NoNewPrivs:")):
            key, value = line.split(":")
            caps[key] = value.strip()
    bits = {"SYS_PTRACE": 19, "SYS_ADMIN": 21, "PERFMON": 38, "BPF": 39}
    want = sum(1 << bits[c] for c in ds.EXPECTED_CAPABILITIES)
    assert int(caps["CapEff"], 16) == want, caps
    assert int(caps["CapBnd"], 16) == want, caps
    assert caps["NoNewPrivs"] == "1"


def test_health_endpoint(container):
    assert container.probe("/healthz") == 200
    assert container.probe("/readyz") == 200
    assert container.probe("/nope") == 404


def test_counts_requests_of_host_workers_exactly(container, launch):
    app = launch("workers_app:app", SERVICE, workers=2)
    # Host pids: the container shares the host's PID namespace.
    container.warm_up(app)
    plan = deal_paths({"/spread": REQUESTS, "/pid": REQUESTS // 4}, clients=6)
    results = run_clients(lambda: http.client.HTTPConnection("127.0.0.1", app.port, timeout=10),
                          plan)
    assert all(s == 200 for r in results.values() for s, _ in r)
    container.wait_count(SERVICE, "GET", "/pid", REQUESTS // 4)
    routes = container.wait_count(SERVICE, "GET", "/spread", REQUESTS)
    assert route_of(routes, "GET", "/spread")["requests"] == REQUESTS, format_routes(routes)
    assert route_of(routes, "GET", "/pid")["requests"] == REQUESTS // 4, format_routes(routes)
    metrics = container.metrics_text()
    # The route templates came from the app's OpenAPI document, fetched from
    # inside the worker's network namespace (setns: CAP_SYS_ADMIN).
    assert metric_sum(metrics, "perfd_openapi_fetches_total", result="ok") >= 1, (
        [line for line in metrics.splitlines() if "openapi" in line])
    for route, n in (("/spread", REQUESTS), ("/pid", REQUESTS // 4)):
        got = metric_sum(metrics, "http_server_request_duration_seconds_count",
                         service_name=SERVICE, http_route=route)
        assert got == n, f"/metrics counts {got} for {route}, want {n}"


def test_grpc_over_tcp_needs_a_client_certificate(container, bins):
    """The DaemonSet's TCP listener (the headless Service's grpc port) serves
    perfctl from another host with a client certificate, and nobody else."""
    endpoint = f"127.0.0.1:{container.grpc_port}"

    def perfctl(*tls):
        return subprocess.run([bins["perfctl"], "--endpoint", endpoint, *tls, "services",
                               "-o", "json"], capture_output=True, text=True, timeout=30)
    ok = perfctl(*container.certs.tls_args())
    assert ok.returncode == 0, ok.stderr
    assert "services" in json.loads(ok.stdout)
    refused = perfctl(*container.certs.tls_args(client=container.certs.rogue_client))
    assert refused.returncode != 0, refused.stdout
    plaintext = perfctl()
    assert plaintext.returncode != 0, plaintext.stdout
