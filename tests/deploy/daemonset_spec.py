"""The perfd DaemonSet as rendered by `kubectl kustomize`, and the podman flags
that run the image with exactly its pod's security settings, host PID
namespace and mounts. Shared by the manifest test (tests/deploy) and the image
test (tests/e2e/test_image.py), so that "the image test runs what the
DaemonSet asks for" holds by construction."""
import os
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE_DIR = REPO_ROOT / "deploy" / "kubernetes"

# What the manifests must say; the tests assert it explicitly, so a change
# to the DaemonSet's privileges is a reviewed change here too. docs/DEPLOY.md
# ("Capabilities") says why each one is needed.
EXPECTED_CAPABILITIES = ["BPF", "PERFMON", "SYS_PTRACE", "SYS_ADMIN"]
EXPECTED_MOUNTS = {  # mountPath -> (volume kind, host path or "", readOnly)
    "/etc/perfd/config": ("configMap", "", True),
    "/etc/perfd/tls": ("secret", "", True),
    "/sys/kernel/tracing": ("hostPath", "/sys/kernel/tracing", True),
    "/run/perfd": ("emptyDir", "", False),
}


def kubectl() -> str:
    return os.environ.get("KUBECTL", "kubectl")


def render(overlay: str = "base") -> List[dict]:
    """`kubectl kustomize deploy/kubernetes/<overlay>` as a list of objects."""
    out = subprocess.run([kubectl(), "kustomize", str(KUSTOMIZE_DIR / overlay)],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError(f"kubectl kustomize {overlay} failed: {out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def find(docs: List[dict], kind: str, name_prefix: str = "") -> dict:
    hits = [d for d in docs if d["kind"] == kind
            and d["metadata"]["name"].startswith(name_prefix)]
    assert len(hits) == 1, f"want one {kind} {name_prefix}*, rendered {len(hits)}"
    return hits[0]


def perfd_container(docs: List[dict]) -> Tuple[dict, dict]:
    """(pod spec, perfd container) of the DaemonSet."""
    pod = find(docs, "DaemonSet", "perfd")["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "perfd"]
    return pod, container


def mounts(docs: List[dict]) -> Dict[str, Tuple[str, str, bool]]:
    """mountPath -> (volume kind, host path or "", readOnly) of the container."""
    pod, container = perfd_container(docs)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    out = {}
    for m in container.get("volumeMounts", []):
        v = volumes[m["name"]]
        kind = next(k for k in ("configMap", "hostPath", "emptyDir", "secret") if k in v)
        host = v["hostPath"]["path"] if kind == "hostPath" else ""
        out[m["mountPath"]] = (kind, host, bool(m.get("readOnly", False)))
    return out


def podman_run_args(docs: List[dict], config_dir: Path, ports: Dict[str, int],
                    secrets: Dict[str, Path] = None) -> List[str]:
    """`podman run` flags equivalent to the DaemonSet's pod for perfd's
    container: host PID, capabilities, no privilege escalation, read-only
    root, seccomp/AppArmor, volumes (the ConfigMap's files are written into
    config_dir; a Secret volume is the directory secrets[secretName], which
    the caller fills as the cluster's Secret would be), env and the named
    ports published on 127.0.0.1 at ports[name]. Raises on a setting it does
    not know how to reproduce, so the image test cannot silently run with
    something else."""
    pod, c = perfd_container(docs)
    sc = c.get("securityContext", {})
    args: List[str] = []
    if pod.get("hostPID"):
        args.append("--pid=host")
    for unsupported in ("hostNetwork", "hostIPC"):
        assert not pod.get(unsupported), f"{unsupported}: not reproduced by the image test"
    assert not sc.get("privileged", False), "privileged pods are not allowed"
    caps = sc.get("capabilities", {})
    for cap in caps.get("drop", []):
        args.append(f"--cap-drop={cap.lower()}")
    for cap in caps.get("add", []):
        args.append(f"--cap-add=CAP_{cap}")
    if sc.get("allowPrivilegeEscalation") is False:
        args.append("--security-opt=no-new-privileges")
    if sc.get("readOnlyRootFilesystem"):
        # Kubernetes adds no tmpfs of its own; podman would on /tmp, /run.
        args += ["--read-only", "--read-only-tmpfs=false"]
    if "runAsUser" in sc:
        args.append(f"--user={sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}")
    seccomp = sc.get("seccompProfile", pod.get("securityContext", {}).get("seccompProfile"))
    seccomp_type = (seccomp or {}).get("type", "RuntimeDefault")
    if seccomp_type == "Unconfined":
        args.append("--security-opt=seccomp=unconfined")
    else:  # podman's default profile is its RuntimeDefault
        assert seccomp_type == "RuntimeDefault", f"seccompProfile {seccomp_type}: not reproduced"
    apparmor = sc.get("appArmorProfile", {}).get("type", "RuntimeDefault")
    if apparmor == "Unconfined":
        args.append("--security-opt=apparmor=unconfined")
    else:
        assert apparmor == "RuntimeDefault", f"appArmorProfile {apparmor}: not reproduced"

    pod_volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        v = pod_volumes[m["name"]]
        ro = ":ro" if m.get("readOnly") else ""
        if "configMap" in v:
            cm = find(docs, "ConfigMap", v["configMap"]["name"])
            config_dir.mkdir(parents=True, exist_ok=True)
            for key, text in cm.get("data", {}).items():
                (config_dir / key).write_text(text)
            args.append(f"--volume={config_dir}:{m['mountPath']}{ro}")
        elif "secret" in v:
            name = v["secret"]["secretName"]
            assert secrets and name in secrets, f"Secret {name}: the caller must provide it"
            args.append(f"--volume={secrets[name]}:{m['mountPath']}{ro}")
        elif "hostPath" in v:
            args.append(f"--volume={v['hostPath']['path']}:{m['mountPath']}{ro}")
        elif "emptyDir" in v:
            size = v["emptyDir"].get("sizeLimit", "")
            opts = f":size={size.replace('Mi', 'm')}" if size else ""
            args.append(f"--tmpfs={m['mountPath']}{opts}")
        else:
            raise AssertionError(f"volume {m['name']}: kind not reproduced by the image test")
    for e in c.get("env", []):
        if e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
            args.append(f"--env={e['name']}={os.uname().nodename}")
        elif "value" in e:
            args.append(f"--env={e['name']}={e['value']}")
    for p in c.get("ports", []):
        if p["name"] in ports:
            args.append(f"--publish=127.0.0.1:{ports[p['name']]}:{p['containerPort']}")
    return args


def container_args(docs: List[dict]) -> List[str]:
    return perfd_container(docs)[1].get("args", [])
