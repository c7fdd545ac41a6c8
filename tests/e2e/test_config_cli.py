"""j) perfd --check-config, k) perfctl errors, and service naming precedence."""
import subprocess

import pytest

from conftest import DISCOVERY_TIMEOUT, to_yaml
from e2e_helpers import RUN_ID, run_perfctl, unique, wait_until

VALID = {
    "listen": {"metrics": "127.0.0.1:9464", "grpc_socket": "/tmp/perfd-e2e-check.sock"},
    "discovery": {"scan_interval_ms": 500},
    "services": [{"match": "shop\\.main:app", "name": "shop"}],
    "routes": {"openapi": True, "max_per_service": 50,
               "rules": [{"service": "shop", "pattern": "/users/{user_id}"}]},
    "http": {"response_idle_timeout_ms": 200},
}


def check_config(bins, tmp_path, doc: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "perfd.yaml"
    path.write_text(to_yaml(doc) + "\n")
    return subprocess.run([bins["perfd"], "--config", str(path), "--check-config"],
                          capture_output=True, text=True, timeout=20)


def test_check_config_accepts_valid_file(bins, tmp_path):
    r = check_config(bins, tmp_path, VALID)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("mutate,key", [
    (lambda d: d.update(bogus_section={"x": 1}), "bogus_section"),
    (lambda d: d["listen"].update(bogus_listen_key="x"), "bogus_listen_key"),
    (lambda d: d["discovery"].update(scan_interval_ms="fast"), "scan_interval_ms"),
])
def test_check_config_rejects_bad_key_naming_it(bins, tmp_path, mutate, key):
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in VALID.items()}
    mutate(doc)
    r = check_config(bins, tmp_path, doc)
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}{r.stderr}"
    assert key in r.stdout + r.stderr, r.stdout + r.stderr


# ---- a running perfd with services named by each source

CONFIG_NAMED = unique("e2e-named-by-config")
BY_ENV, BY_OTEL = unique("e2e-named-by-env"), unique("e2e-named-by-otel")
OTEL_LOSES, ENV_LOSES = unique("e2e-otel-loses"), unique("e2e-env-loses-to-config")
DERIVED = "workers_app"  # from the app spec "workers_app:app"
# A harmless default response header marks this run's app in its cmdline, so
# the config rule cannot match another run's apps.
MARKER = ["--header", f"x-e2e-run:{RUN_ID}"]


@pytest.fixture(scope="module")
def perfd_config():
    return {"services": [{"match": f"shapes_app:app.*x-e2e-run:{RUN_ID}", "name": CONFIG_NAMED}]}


@pytest.fixture(scope="module")
def named(launch, perfd):
    apps = {
        # PERFD_SERVICE beats OTEL_SERVICE_NAME
        BY_ENV: launch("latency_app:app", BY_ENV, env={"OTEL_SERVICE_NAME": OTEL_LOSES}),
        BY_OTEL: launch("secrets_app:app", None, env={"OTEL_SERVICE_NAME": BY_OTEL}),
        # neither: derived from the app spec
        DERIVED: launch("workers_app:app", None),
        # a config rule beats the environment
        CONFIG_NAMED: launch("shapes_app:app", ENV_LOSES, extra_args=MARKER),
    }
    for name, app in apps.items():
        app.service = name
        wait_until(lambda: set(app.worker_pids()) <= set(perfd.services().get(name, [])),
                   DISCOVERY_TIMEOUT, f"perfd to list {app.worker_pids()} under {name!r}")
    return apps


def test_service_names_follow_precedence(perfd, named):
    services = perfd.services()
    for name, app in named.items():
        if name == DERIVED:  # another run's workers_app may share this name
            assert set(app.worker_pids()) <= set(services.get(name, [])), services
        else:
            assert services.get(name) == app.worker_pids(), services
    assert OTEL_LOSES not in services and ENV_LOSES not in services, services


def test_perfctl_unknown_service_lists_known_ones(perfd, named):
    r = perfd.perfctl("top", "--service", "no-such-service", "--once", "-o", "json")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    for name in named:
        assert name in out, f"{name} missing from: {out}"


def test_perfctl_unreachable_daemon_is_one_line_exit_1(bins, tmp_path):
    endpoint = f"unix://{tmp_path}/no-perfd-here.sock"
    r = run_perfctl(bins["perfctl"], endpoint, ["services", "-o", "json"], timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
