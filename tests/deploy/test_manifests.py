"""deploy/kubernetes: renders with `kubectl kustomize`, every object validates
against the Kubernetes API schemas (validate.js; no cluster), and the
DaemonSet asks for exactly the privileges, host PID namespace and mounts the
image test (tests/e2e/test_image.py) runs perfd with."""
import copy
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

import daemonset_spec as ds

HERE = Path(__file__).resolve().parent
OVERLAYS = ["base", "overlays/example"]


def validate(docs):
    if not (HERE / "node_modules").is_dir():
        pytest.fail("tests/deploy/node_modules missing: run scripts/install-deps.sh (npm ci)")
    text = yaml.safe_dump_all(docs)
    return subprocess.run(["node", str(HERE / "validate.js")], input=text, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request):
    return request.param, ds.render(request.param)


def test_every_object_validates(rendered):
    name, docs = rendered
    out = validate(docs)
    assert out.returncode == 0, f"{name}:\n{out.stderr}"
    kinds = sorted(line.split()[2] for line in out.stdout.splitlines())
    want = ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "Namespace",
            "Service", "ServiceAccount"]
    if name != "base":  # the example overlay adds a PodMonitor and the dashboards' ConfigMap
        want += ["PodMonitor", "ConfigMap"]
    assert kinds == sorted(want), out.stdout


def test_validation_rejects_unknown_fields_and_wrong_types():
    """The check above can fail: a typo'd key and a mistyped value are caught."""
    daemonset = ds.find(ds.render("base"), "DaemonSet", "perfd")
    mutations = (
        (lambda c, p: c["securityContext"].update(readOnlyRootFilesytem=True),
         "readOnlyRootFilesytem"),
        (lambda c, p: p.update(hostPIDD=True), "hostPIDD"),
        (lambda c, p: c["ports"][0].update(containerPort="9464"), "containerPort"))
    bad = []
    for i, (mutate, _) in enumerate(mutations):  # one broken copy each, one node run
        d = copy.deepcopy(daemonset)
        pod, container = ds.perfd_container([d])
        mutate(container, pod)
        d["metadata"]["name"] = f"broken-{i}"
        bad.append(d)
    out = validate(bad)
    assert out.returncode != 0, out.stdout
    for i, (_, needle) in enumerate(mutations):
        lines = [l for l in out.stderr.splitlines() if f"broken-{i}" in l]
        assert any(needle in l for l in lines), (needle, out.stderr)


def test_daemonset_privileges_and_mounts(rendered):
    _, docs = rendered
    pod, c = ds.perfd_container(docs)
    sc = c["securityContext"]
    assert pod["hostPID"] is True
    assert not pod.get("hostNetwork") and not pod.get("hostIPC")
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ds.EXPECTED_CAPABILITIES}
    assert sc["privileged"] is False
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert ds.mounts(docs) == ds.EXPECTED_MOUNTS
    assert pod["tolerations"] == [{"operator": "Exists"}]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": 9464, "grpc": 50051, "health": 9465}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}


def test_podman_flags_are_the_daemonsets(tmp_path):
    """The image test's podman flags, derived from the rendered DaemonSet."""
    args = ds.podman_run_args(ds.render("base"), tmp_path / "cfg", {"health": 1},
                              {"perfd-grpc-tls": tmp_path / "tls"})
    assert "--pid=host" in args
    assert [a for a in args if a.startswith("--cap-")] == [
        "--cap-drop=all"] + [f"--cap-add=CAP_{c}" for c in ds.EXPECTED_CAPABILITIES]
    for flag in ("--read-only", "--read-only-tmpfs=false", "--security-opt=no-new-privileges",
                 "--security-opt=apparmor=unconfined", "--user=0:0",
                 "--volume=/sys/kernel/tracing:/sys/kernel/tracing:ro",
                 f"--volume={tmp_path / 'cfg'}:/etc/perfd/config:ro",
                 f"--volume={tmp_path / 'tls'}:/etc/perfd/tls:ro", "--tmpfs=/run/perfd:size=1m",
                 "--publish=127.0.0.1:1:9465"):
        assert flag in args, (flag, args)
    assert (tmp_path / "cfg" / "perfd.yaml").is_file()
    assert not any("seccomp" in a for a in args)  # RuntimeDefault: podman's default profile


def test_config_is_valid_for_this_perfd(rendered, tmp_path):
    """perfd --check-config accepts the ConfigMap, whose listeners are the
    container's ports."""
    _, docs = rendered
    cm = ds.find(docs, "ConfigMap", "perfd-config")
    perfd = os.environ.get("PERFD_BIN") or str(ds.REPO_ROOT / "build" / "daemon" / "perfd")
    if not os.access(perfd, os.X_OK):
        pytest.fail(f"perfd binary not found at {perfd} (set PERFD_BIN)")
    path = tmp_path / "perfd.yaml"
    path.write_text(cm["data"]["perfd.yaml"])
    out = subprocess.run([perfd, "--check-config", "-c", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    listen = yaml.safe_load(cm["data"]["perfd.yaml"])["listen"]
    _, c = ds.perfd_container(docs)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert listen["metrics"] == f"0.0.0.0:{ports['metrics']}"
    assert listen["grpc_tcp"] == f"0.0.0.0:{ports['grpc']}"
    assert listen["health"] == f"0.0.0.0:{ports['health']}"
    assert listen["grpc_socket"].startswith("/run/perfd/")  # the emptyDir
    assert ds.container_args(docs) == ["--config", "/etc/perfd/config/perfd.yaml"]
    # The TLS files are where the Secret is mounted.
    tls_mount = next(m for m, (kind, _, _) in ds.mounts(docs).items() if kind == "secret")
    for key, name in (("grpc_tls_cert", "tls.crt"), ("grpc_tls_key", "tls.key"),
                      ("grpc_tls_client_ca", "ca.crt")):
        assert listen[key] == f"{tls_mount}/{name}", key


def test_service_rbac_and_scraping_select_perfd(rendered):
    name, docs = rendered
    pod_labels = ds.find(docs, "DaemonSet", "perfd")["spec"]["template"]["metadata"]["labels"]
    _, c = ds.perfd_container(docs)
    port_names = {p["name"] for p in c["ports"]}
    svc = ds.find(docs, "Service", "perfd")["spec"]
    assert svc["clusterIP"] == "None"
    assert svc["selector"].items() <= pod_labels.items()
    assert {p["targetPort"] for p in svc["ports"]} == {"grpc", "metrics"}
    role = ds.find(docs, "ClusterRole", "perfd")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "verbs": ["get", "list", "watch"]}]
    binding = ds.find(docs, "ClusterRoleBinding", "perfd")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "perfd",
                                    "namespace": "perfd"}]
    for d in docs:  # everything namespaced lands in perfd's namespace
        if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"].get("namespace") == "perfd", d["metadata"]
    if name != "base":
        pm = ds.find(docs, "PodMonitor", "perfd")["spec"]
        assert pm["selector"]["matchLabels"].items() <= pod_labels.items()
        assert {e["port"] for e in pm["podMetricsEndpoints"]} <= port_names
        assert ds.perfd_container(docs)[1]["image"] == "registry.example.com/perfd:0.1.0"
    ann = ds.find(docs, "DaemonSet", "perfd")["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/port"] == "9464"
    json.dumps(docs)  # plain data only
